/*
 * pgctl — runs the embedded PostgreSQL cluster under <data_dir>/pg with the
 * distribution's initdb and pg_ctl, as child processes started from argv
 * arrays (never a shell of ours), before the event loop starts and after it
 * ends, so waiting for them blocks nothing.
 *
 * The cluster listens on no TCP port: only on a Unix socket inside its own
 * 0700 data directory. That is why initdb may use `trust` authentication:
 * the only way in is a socket that only the cluster's owner (and root) can
 * reach.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errbuf.h"
#include "log.h"
#include "pgctl.h"

#define PGCTL_PORT 5432
#define PGCTL_USER "waymark"
#define PGCTL_DB   "waymark"
#define SOCKET_MAX 107  /* sizeof(sun_path) - 1 */
#define WAIT_S     "60" /* pg_ctl -t: start and stop */

/* Who the PostgreSQL children run as: resolved before fork, because the
 * child of a fork may only call async-signal-safe functions. */
struct identity {
	int drop; /* 0: stay who we are (not root) */
	uid_t uid;
	gid_t gid;
	gid_t groups[64];
	int ngroups;
};

static char *join(const char *a, const char *b)
{
	char *s = NULL;
	return asprintf(&s, "%s%s", a, b) < 0 ? NULL : s;
}

static int has_tools(const char *dir)
{
	char path[PATH_MAX];
	static const char *const tools[] = {"initdb", "pg_ctl"};
	for (size_t i = 0; i < 2; i++) {
		if (snprintf(path, sizeof path, "%s/%s", dir, tools[i]) >= (int)sizeof path ||
		    access(path, X_OK) != 0)
			return 0;
	}
	return 1;
}

char *pgctl_find_bindir(const char *hint)
{
	if (hint && *hint)
		return has_tools(hint) ? strdup(hint) : NULL;
	DIR *d = opendir("/usr/lib/postgresql");
	if (!d)
		return NULL;
	long best = -1;
	char dir[PATH_MAX];
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long n = strtol(e->d_name, &end, 10);
		if (end == e->d_name || *end || n <= best)
			continue;
		snprintf(dir, sizeof dir, "/usr/lib/postgresql/%ld/bin", n);
		if (has_tools(dir))
			best = n;
	}
	closedir(d);
	if (best < 0)
		return NULL;
	snprintf(dir, sizeof dir, "/usr/lib/postgresql/%ld/bin", best);
	return strdup(dir);
}

static wm_status identity_of(const char *user, struct identity *id, char *err, size_t errlen)
{
	memset(id, 0, sizeof *id);
	if (!user)
		return WM_OK;
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		errbuf_set(err, errlen,
		           "PostgreSQL refuses to run as root and the user \"%s\" it should run as "
		           "does not exist: create it or set server.pg_user",
		           user);
		return WM_ERR;
	}
	id->drop = 1;
	id->uid = pw->pw_uid;
	id->gid = pw->pw_gid;
	id->ngroups = (int)(sizeof id->groups / sizeof id->groups[0]);
	if (getgrouplist(user, pw->pw_gid, id->groups, &id->ngroups) < 0) {
		/* More than 64 groups: PostgreSQL needs only the primary one. */
		id->groups[0] = pw->pw_gid;
		id->ngroups = 1;
	}
	return WM_OK;
}

/* In the child only: async-signal-safe calls, then exec or _exit. */
static void child_become(const struct identity *id, int out_fd)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	int null_fd = open("/dev/null", O_RDWR);
	if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_fd >= 0 ? out_fd : null_fd, 1) < 0 ||
	    dup2(1, 2) < 0)
		_exit(126);
	if (close_range(3, ~0U, 0) != 0)
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
	if (id->drop && (setgroups((size_t)id->ngroups, id->groups) != 0 || setgid(id->gid) != 0 ||
	                 setuid(id->uid) != 0))
		_exit(126);
	if (chdir("/") != 0)
		_exit(126);
}

/* The child's exit code (128 + signal if killed), or -1. */
static int wait_child(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Runs argv[0] with its output appended to out_fd (-1: discarded) and
 * returns its exit code, or -1 if it could not be run at all. */
static int spawn_wait(const struct identity *id, char *const argv[], int out_fd)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		child_become(id, out_fd);
		execv(argv[0], argv);
		_exit(127);
	}
	return wait_child(pid);
}

/* Whether the PostgreSQL user can use datadir and write the log; checked in
 * a child that becomes that user, since only the kernel knows for sure. */
static int can_reach(const struct identity *id, const char *datadir, const char *logpath)
{
	pid_t pid = fork();
	if (pid < 0)
		return 0;
	if (pid == 0) {
		child_become(id, -1);
		_exit(access(datadir, R_OK | W_OK | X_OK) == 0 && access(logpath, W_OK) == 0 ? 0
		                                                                             : 1);
	}
	return wait_child(pid) == 0;
}

/* The last few lines of the log, joined into one, for an error message. */
static void log_tail(const char *path, char *out, size_t len)
{
	char buf[600], *line[4] = {0}, *save = NULL;
	size_t k = 0, o = 0;
	out[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	off_t end = lseek(fd, 0, SEEK_END);
	off_t from = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
	ssize_t n = pread(fd, buf, sizeof buf - 1, from);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	/* Reading from the middle of the file cuts the first line: drop it. */
	char *p = from > 0 && strchr(buf, '\n') ? strchr(buf, '\n') + 1 : buf;
	for (char *l = strtok_r(p, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		line[k++ % 4] = l;
	for (size_t i = k > 4 ? k - 4 : 0; i < k && o + 1 < len; i++) {
		int w = snprintf(out + o, len - o, "%s%s", o ? " | " : "", line[i % 4]);
		o = w < 0 ? len : o + (size_t)w;
	}
}

/* <data_dir>/<name>: the cluster's directory is always <data_dir>/pg. */
static char *data_file(const struct pgctl *pg, const char *name)
{
	char *s = NULL;
	size_t n = strlen(pg->datadir) - strlen("/pg");
	return asprintf(&s, "%.*s/%s", (int)n, pg->datadir, name) < 0 ? NULL : s;
}

/* pg_ctl hands -D, -l and -o to /bin/sh, and -k is a comma-separated list:
 * refuse what would be reinterpreted rather than try to quote for both. */
static int path_is_safe(const char *p)
{
	for (; *p; p++)
		if (strchr("\"'$`\\,", *p) || (unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static int pg_ctl(const struct pgctl *pg, const char *action, const char *logpath, int log_fd)
{
	struct identity id;
	char tool[PATH_MAX], opts[PATH_MAX + 128];
	snprintf(tool, sizeof tool, "%s/pg_ctl", pg->bindir);
	if (identity_of(pg->run_as, &id, NULL, 0) != WM_OK)
		return -1;
	snprintf(opts, sizeof opts,
	         "-c listen_addresses='' -k '%s' -p %d -c unix_socket_permissions=0700",
	         pg->datadir, pg->port);
	/* clang-format off */
	char *start[] = {tool, "start", "-D", pg->datadir, "-w", "-t", WAIT_S,
	                 "-l", (char *)logpath, "-o", opts, NULL};
	char *stop[] = {tool, "stop", "-D", pg->datadir, "-m", "fast", "-w", "-t",
	                WAIT_S, NULL};
	char *status[] = {tool, "status", "-D", pg->datadir, NULL};
	/* clang-format on */
	if (!strcmp(action, "start"))
		return spawn_wait(&id, start, log_fd);
	if (!strcmp(action, "stop"))
		return spawn_wait(&id, stop, log_fd);
	return spawn_wait(&id, status, -1);
}

static int open_log(const char *logpath)
{
	return open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

/* A libpq conninfo value: quoted when it has spaces, quotes or backslashes. */
static void conninfo_value(char *out, size_t len, const char *v)
{
	size_t o = 0;
	int quote = !*v || strpbrk(v, " \t\n'\\") != NULL;
	if (quote && o + 1 < len)
		out[o++] = '\'';
	for (; *v && o + 3 < len; v++) {
		if (quote && (*v == '\'' || *v == '\\'))
			out[o++] = '\\';
		out[o++] = *v;
	}
	if (quote && o + 1 < len)
		out[o++] = '\'';
	out[o] = '\0';
}

static char *conninfo_for(const struct pgctl *pg, const char *dbname)
{
	char host[2 * PATH_MAX + 3];
	char *s = NULL;
	conninfo_value(host, sizeof host, pg->datadir);
	if (asprintf(&s, "host=%s port=%d user=%s dbname=%s", host, pg->port, PGCTL_USER, dbname) <
	    0)
		return NULL;
	return s;
}

char *pgctl_conninfo(const struct pgctl *pg)
{
	return conninfo_for(pg, PGCTL_DB);
}

/* libpq messages end in a newline; an error message is one line. */
static void trimmed(char *out, size_t len, const char *msg)
{
	snprintf(out, len, "%s", msg);
	for (char *p = out; *p; p++)
		if (*p == '\n')
			*p = ' ';
	size_t n = strlen(out);
	while (n && out[n - 1] == ' ')
		out[--n] = '\0';
}

static wm_status ensure_database(const struct pgctl *pg, char *err, size_t errlen)
{
	wm_status rc = WM_ERR;
	PGresult *res = NULL;
	char msg[512];
	char *ci = conninfo_for(pg, "postgres");
	PGconn *conn = ci ? PQconnectdb(ci) : NULL;
	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		trimmed(msg, sizeof msg, conn ? PQerrorMessage(conn) : "out of memory");
		errbuf_set(err, errlen, "cannot connect to the embedded PostgreSQL in %s: %s",
		           pg->datadir, msg);
		goto fail;
	}
	res = PQexec(conn, "SELECT 1 FROM pg_database WHERE datname = '" PGCTL_DB "'");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0) {
		PQclear(res);
		res = PQexec(conn, "CREATE DATABASE " PGCTL_DB);
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		/* 42P04: another waymarkd created it first, which is as good. */
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			log_msg(WM_LOG_INFO, "pgctl", "created database \"" PGCTL_DB "\" in %s",
			        pg->datadir);
		else if (state && !strcmp(state, "42P04"))
			rc = WM_OK;
	}
	if (rc != WM_OK && PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_COMMAND_OK) {
		trimmed(msg, sizeof msg, PQresultErrorMessage(res));
		errbuf_set(err, errlen, "cannot create database \"" PGCTL_DB "\" in %s: %s",
		           pg->datadir, msg);
		goto fail;
	}
	rc = WM_OK;
fail:
	PQclear(res);
	PQfinish(conn);
	free(ci);
	return rc;
}

/* Creates data_dir (0750) and <data_dir>/pg (0700) and fills in datadir. */
static wm_status make_dirs(struct pgctl *pg, const char *data_dir, const struct identity *id,
                           char *err, size_t errlen)
{
	wm_status rc = WM_ERR;
	char *abs = NULL;
	int created = mkdir(data_dir, 0750) == 0;
	if (!created && errno != EEXIST) {
		errbuf_set(err, errlen, "cannot create server.data_dir %s: %s", data_dir,
		           strerror(errno));
		goto fail;
	}
	abs = realpath(data_dir, NULL);
	if (!abs) {
		errbuf_set(err, errlen, "server.data_dir %s: %s", data_dir, strerror(errno));
		goto fail;
	}
	/* A directory we create for root stays root's, but PostgreSQL's group
	 * may pass through it to reach <data_dir>/pg. */
	if (created && id->drop && chown(abs, (uid_t)-1, id->gid) != 0) {
		errbuf_set(err, errlen, "cannot give %s to group %u: %s", abs, (unsigned)id->gid,
		           strerror(errno));
		goto fail;
	}
	pg->datadir = join(abs, "/pg");
	if (!pg->datadir) {
		errbuf_set(err, errlen, "out of memory");
		goto fail;
	}
	if (!path_is_safe(pg->datadir)) {
		errbuf_set(err, errlen,
		           "server.data_dir %s contains a quote, $, backquote, backslash, comma or "
		           "control character, which pg_ctl cannot pass to PostgreSQL: choose "
		           "another directory",
		           abs);
		goto fail;
	}
	size_t sock = strlen(pg->datadir) + strlen("/.s.PGSQL.5432");
	if (sock > SOCKET_MAX) {
		errbuf_set(err, errlen,
		           "the PostgreSQL socket path %s/.s.PGSQL.%d would be %zu bytes, over the "
		           "%d a Unix socket path may have: choose a shorter server.data_dir",
		           pg->datadir, pg->port, sock, SOCKET_MAX);
		goto fail;
	}
	if (mkdir(pg->datadir, 0700) == 0) {
		if (id->drop && chown(pg->datadir, id->uid, id->gid) != 0) {
			errbuf_set(err, errlen, "cannot give %s to the PostgreSQL user: %s",
			           pg->datadir, strerror(errno));
			goto fail;
		}
	} else if (errno != EEXIST) {
		errbuf_set(err, errlen, "cannot create %s: %s", pg->datadir, strerror(errno));
		goto fail;
	}
	rc = WM_OK;
fail:
	free(abs);
	return rc;
}

static wm_status initdb(const struct pgctl *pg, const struct identity *id, const char *logpath,
                        int log_fd, char *err, size_t errlen)
{
	char tool[PATH_MAX], tail[600];
	snprintf(tool, sizeof tool, "%s/initdb", pg->bindir);
	/* Trust is confined to the owner: see the comment at the top. */
	/* clang-format off */
	char *argv[] = {tool, "-D", pg->datadir, "-A", "trust", "-U", PGCTL_USER, "-E", "UTF8",
	                "--locale=C.UTF-8", "--no-instructions", NULL};
	/* clang-format on */
	log_msg(WM_LOG_INFO, "pgctl", "creating a PostgreSQL cluster in %s", pg->datadir);
	int code = spawn_wait(id, argv, log_fd);
	if (code == 0)
		return WM_OK;
	log_tail(logpath, tail, sizeof tail);
	errbuf_set(err, errlen, "initdb failed (exit %d) for %s; the end of %s: %s", code,
	           pg->datadir, logpath, tail);
	return WM_ERR;
}

wm_status pgctl_start(struct pgctl *pg, const char *data_dir, const char *bindir_hint,
                      const char *run_as, char *err, size_t errlen)
{
	wm_status rc = WM_ERR;
	struct identity id = {0};
	char *logpath = NULL, *lockpath = NULL, *version = NULL;
	int log_fd = -1, lock_fd = -1;
	char tail[600];

	memset(pg, 0, sizeof *pg);
	pg->port = PGCTL_PORT;
	if (!data_dir || !*data_dir) {
		errbuf_set(err, errlen, "server.data_dir is empty");
		goto fail;
	}
	pg->bindir = pgctl_find_bindir(bindir_hint);
	if (!pg->bindir) {
		if (bindir_hint && *bindir_hint)
			errbuf_set(err, errlen,
			           "server.pg_bindir %s does not hold initdb and pg_ctl",
			           bindir_hint);
		else
			errbuf_set(err, errlen,
			           "no PostgreSQL server binaries in /usr/lib/postgresql/<N>/bin: "
			           "install postgresql or set server.pg_bindir or db.url");
		goto fail;
	}
	if (geteuid() == 0) {
		pg->run_as = strdup(run_as && *run_as ? run_as : "postgres");
		if (!pg->run_as || identity_of(pg->run_as, &id, err, errlen) != WM_OK)
			goto fail;
	}
	if (make_dirs(pg, data_dir, &id, err, errlen) != WM_OK)
		goto fail;
	logpath = data_file(pg, "pg.log");
	lockpath = data_file(pg, "pg.lock");
	version = join(pg->datadir, "/PG_VERSION");
	if (!logpath || !lockpath || !version) {
		errbuf_set(err, errlen, "out of memory");
		goto fail;
	}
	/* Several waymarkd processes may start together: one initdb and one
	 * pg_ctl start at a time, the others then find the cluster running. */
	lock_fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX) != 0) {
		errbuf_set(err, errlen, "cannot lock %s: %s", lockpath, strerror(errno));
		goto fail;
	}
	log_fd = open_log(logpath);
	if (log_fd < 0 || (id.drop && fchown(log_fd, id.uid, id.gid) != 0)) {
		errbuf_set(err, errlen, "cannot open %s: %s", logpath, strerror(errno));
		goto fail;
	}
	if (id.drop && !can_reach(&id, pg->datadir, logpath)) {
		errbuf_set(err, errlen,
		           "PostgreSQL runs as \"%s\", which cannot reach %s: move server.data_dir "
		           "under a directory it can traverse",
		           pg->run_as, pg->datadir);
		goto fail;
	}
	if (access(version, F_OK) != 0 && initdb(pg, &id, logpath, log_fd, err, errlen) != WM_OK)
		goto fail;
	if (pg_ctl(pg, "status", logpath, log_fd) != 0) {
		int code = pg_ctl(pg, "start", logpath, log_fd);
		if (code != 0) {
			log_tail(logpath, tail, sizeof tail);
			errbuf_set(err, errlen,
			           "pg_ctl start failed (exit %d) for %s; the end of %s: %s", code,
			           pg->datadir, logpath, tail);
			goto fail;
		}
		pg->started = 1;
		log_msg(WM_LOG_INFO, "pgctl", "started PostgreSQL in %s", pg->datadir);
	}
	if (ensure_database(pg, err, errlen) != WM_OK)
		goto fail;
	rc = WM_OK;
fail:
	if (rc != WM_OK) {
		if (pgctl_stop(pg) != WM_OK)
			log_msg(WM_LOG_WARN, "pgctl", "could not stop PostgreSQL in %s",
			        pg->datadir);
		pgctl_free(pg);
	}
	if (log_fd >= 0)
		close(log_fd);
	if (lock_fd >= 0)
		close(lock_fd);
	free(version);
	free(lockpath);
	free(logpath);
	return rc;
}

wm_status pgctl_ctl(const struct pgctl *pg, const char *action, char *err, size_t errlen)
{
	wm_status rc = WM_ERR;
	char tail[600];
	char *logpath = NULL;
	int log_fd = -1;
	if (!pg->datadir || !pg->bindir) {
		errbuf_set(err, errlen, "the embedded PostgreSQL was never set up");
		goto fail;
	}
	if (strcmp(action, "start") != 0 && strcmp(action, "stop") != 0) {
		errbuf_set(err, errlen, "unknown pg_ctl action \"%s\" (start or stop)", action);
		goto fail;
	}
	logpath = data_file(pg, "pg.log");
	log_fd = logpath ? open_log(logpath) : -1;
	if (log_fd < 0) {
		errbuf_set(err, errlen, "cannot open %s: %s", logpath ? logpath : "pg.log",
		           strerror(errno));
		goto fail;
	}
	int code = pg_ctl(pg, action, logpath, log_fd);
	if (code != 0) {
		log_tail(logpath, tail, sizeof tail);
		errbuf_set(err, errlen, "pg_ctl %s failed (exit %d) for %s; the end of %s: %s",
		           action, code, pg->datadir, logpath, tail);
		goto fail;
	}
	rc = WM_OK;
fail:
	if (log_fd >= 0)
		close(log_fd);
	free(logpath);
	return rc;
}

wm_status pgctl_stop(struct pgctl *pg)
{
	char err[1024];
	if (!pg->started)
		return WM_OK;
	pg->started = 0;
	if (pgctl_ctl(pg, "stop", err, sizeof err) != WM_OK) {
		log_msg(WM_LOG_WARN, "pgctl", "%s", err);
		return WM_ERR;
	}
	log_msg(WM_LOG_INFO, "pgctl", "stopped PostgreSQL in %s", pg->datadir);
	return WM_OK;
}

void pgctl_free(struct pgctl *pg)
{
	free(pg->datadir);
	free(pg->bindir);
	free(pg->run_as);
	memset(pg, 0, sizeof *pg);
}
