/*
 * ts_server — the real waymarkd as a child process of the test: a free
 * loopback port, a config file and a log file in a fresh temporary
 * directory, the environment overrides an operator would use
 * (WAYMARK_LISTEN, DATABASE_URL), and a wait for /healthz. The child gets
 * SIGTERM if the test process dies, so a failed assertion never leaves a
 * server (and its database sessions) behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ts.h"

#define START_TIMEOUT_S 60.0
#define STOP_TIMEOUT_S  30.0

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* The temporary directories this process made, removed when it exits
 * normally. A failed assertion ends a test with _exit, which skips this, so
 * the logs of failed tests stay behind for reading. Forked children inherit
 * the list but not the right to delete: only the maker does. */
static struct {
	pid_t maker;
	char dir[32];
} made[64];
static size_t n_made;

static void remove_made(void)
{
	for (size_t i = 0; i < n_made; i++)
		if (made[i].maker == getpid())
			nftw(made[i].dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void remember(const char *dir)
{
	static pid_t registered;
	if (registered != getpid()) {
		registered = getpid();
		atexit(remove_made);
	}
	if (n_made < sizeof made / sizeof made[0]) {
		made[n_made].maker = getpid();
		snprintf(made[n_made].dir, sizeof made[n_made].dir, "%s", dir);
		n_made++;
	}
}

/* Binds 127.0.0.1:0 to learn a port nobody uses, then frees it for the
 * server. Another process could take it in between; on a test box that
 * race is rare enough, and the start then fails loudly. */
static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof sa;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* The config file: the caller's text with server.data_dir filled in when
 * the caller did not set it, so no test writes into the working directory.
 * Text that is not a JSON object is written as given: some tests hand the
 * server a broken file on purpose. */
static int write_config(const char *path, const char *text, const char *data_dir)
{
	json_t *doc = json_loads(text ? text : "{}", 0, NULL);
	char *out = NULL;
	int rc = -1;
	if (json_is_object(doc)) {
		json_t *server = json_object_get(doc, "server");
		if (!server) {
			server = json_object();
			json_object_set_new(doc, "server", server);
		}
		if (json_is_object(server) && !json_object_get(server, "data_dir"))
			json_object_set_new(server, "data_dir", json_string(data_dir));
		out = json_dumps(doc, JSON_INDENT(2));
	} else {
		out = strdup(text ? text : "{}");
	}
	FILE *f = out ? fopen(path, "w") : NULL;
	if (f) {
		int ok = fputs(out, f) >= 0;
		rc = fclose(f) == 0 && ok ? 0 : -1;
	}
	free(out);
	json_decref(doc);
	return rc;
}

static void exec_child(const struct ts_server *s, const struct ts_server_opts *opts)
{
	char listen[64];
	int log = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int devnull = open("/dev/null", O_RDONLY);
	if (log < 0 || devnull < 0 || dup2(devnull, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
		_exit(127);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	snprintf(listen, sizeof listen, "127.0.0.1:%d", s->port);
	setenv("WAYMARK_LISTEN", listen, 1);
	if (opts && opts->database_url)
		setenv("DATABASE_URL", opts->database_url, 1);
	else
		unsetenv("DATABASE_URL");
	const char *cmd = opts && opts->subcommand ? opts->subcommand : "serve";
	execl(WAYMARK_BIN, WAYMARK_BIN, cmd, "--config", s->config_path, (char *)NULL);
	fprintf(stderr, "ts_server: cannot run %s: %s\n", WAYMARK_BIN, strerror(errno));
	_exit(127);
}

static void print_log(const struct ts_server *s, const char *why)
{
	char *log = ts_server_log(s);
	fprintf(stderr, "ts_server: %s; its log (%s):\n%s\n", why, s->log_path,
	        log ? log : "(unreadable)");
	free(log);
}

int ts_server_start(struct ts_server *s, const struct ts_server_opts *opts)
{
	char dir[] = "/tmp/wm-ts-XXXXXX", data_dir[64];
	memset(s, 0, sizeof *s);
	s->port = free_port();
	if (s->port < 0 || !mkdtemp(dir))
		return -1;
	/* When root runs the tests, the embedded PostgreSQL runs as postgres
	 * and must be able to reach its data directory. */
	chmod(dir, 0755);
	remember(dir);
	snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", s->port);
	snprintf(s->log_path, sizeof s->log_path, "%s/server.log", dir);
	snprintf(s->config_path, sizeof s->config_path, "%s/config.json", dir);
	snprintf(data_dir, sizeof data_dir, "%s/var", dir);
	if (!(opts && opts->data_dir) && mkdir(data_dir, 0755) != 0)
		return -1;
	if (write_config(s->config_path, opts ? opts->config_json : NULL,
	                 opts && opts->data_dir ? opts->data_dir : data_dir) != 0)
		return -1;
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0)
		exec_child(s, opts);

	double deadline = ts_now() + START_TIMEOUT_S;
	while (ts_now() < deadline) {
		int status;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			print_log(s, "waymarkd exited before answering /healthz");
			return -1;
		}
		struct ts_response r;
		if (ts_http(s, "GET", "/healthz", NULL, NULL, 0, 1000, &r) == 0) {
			int ok = r.status == 200;
			ts_response_free(&r);
			if (ok)
				return 0;
		}
		usleep(50 * 1000);
	}
	print_log(s, "waymarkd did not answer /healthz within 60 s");
	ts_server_stop(s);
	return -1;
}

int ts_server_stop(struct ts_server *s)
{
	int status = 0, rc = -1;
	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	double deadline = ts_now() + STOP_TIMEOUT_S;
	pid_t got = 0;
	while ((got = waitpid(s->pid, &status, WNOHANG)) == 0 && ts_now() < deadline)
		usleep(20 * 1000);
	if (got == s->pid) {
		/* A crash (ASan abort, segfault) reads as 128 + signal. */
		rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	} else {
		fprintf(stderr, "ts_server: waymarkd (pid %d) ignored SIGTERM for 30 s; killed\n",
		        (int)s->pid);
		kill(s->pid, SIGKILL);
		waitpid(s->pid, &status, 0);
	}
	s->pid = 0;
	/* The data directory ts_server_start made (not one the caller gave):
	 * it may hold a whole cluster, so it goes; the log stays for the test. */
	char data_dir[300];
	snprintf(data_dir, sizeof data_dir, "%.*s/var",
	         (int)(strrchr(s->config_path, '/') - s->config_path), s->config_path);
	if (rc >= 0 && access(data_dir, F_OK) == 0)
		nftw(data_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}

char *ts_server_log(const struct ts_server *s)
{
	FILE *f = fopen(s->log_path, "r");
	char *text = NULL;
	size_t len = 0;
	if (!f)
		return NULL;
	FILE *mem = open_memstream(&text, &len);
	char chunk[4096];
	size_t n;
	while (mem && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, n, mem);
	if (mem)
		fclose(mem);
	fclose(f);
	return text;
}
