/*
 * The database goes away and comes back while waymarkd runs: /readyz says
 * 503, requests that need the database get 503 core.db_unavailable promptly
 * (no hang, no crash, /healthz still answers), and once PostgreSQL is back
 * the same process serves again within 15 s. The test owns a private
 * cluster for this, so stopping it disturbs no other test.
 *
 * Also the embedded default: with no database URL the server creates and
 * starts its own cluster under server.data_dir, serves from it, and stops
 * it again when it exits.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgctl.h"
#include "ts.h"

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void remove_tree(const char *dir)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A directory PostgreSQL (as user postgres, when we are root) can use. */
static char *make_dir(void)
{
	char tmpl[] = "/tmp/wm-outage-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	ck_assert_int_eq(chmod(tmpl, 0755), 0);
	return strdup(tmpl);
}

/* A failed assertion ends this process with _exit, skipping any cleanup.
 * So a guardian child waits for us to end, however we end, and then stops
 * the private cluster and removes its directory (both harmless if done). */
static void guard_cluster(const struct pgctl *pg, const char *dir)
{
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char c, err[256];
		close(p[1]);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		if (access(dir, F_OK) == 0) {
			(void)!pgctl_ctl(pg, "stop", err, sizeof err);
			remove_tree(dir);
		}
		_exit(0);
	}
	close(p[0]); /* p[1] stays open until this process ends */
}

static int get_status(const struct ts_server *s, const char *path, char **code)
{
	struct ts_response r;
	ck_assert_msg(ts_http(s, "GET", path, NULL, NULL, 0, 10000, &r) == 0,
	              "GET %s got no answer within 10 s", path);
	int status = r.status;
	if (code)
		*code = ts_error_code(&r);
	ts_response_free(&r);
	return status;
}

/* POSTs a note; returns the status and, on 201, the new id. */
static int post_note(const struct ts_server *s, const char *text, long *id, char **code)
{
	char body[256];
	snprintf(body, sizeof body, "{\"body\":\"%s\"}", text);
	struct ts_response r;
	ck_assert_msg(ts_http(s, "POST", "/api/v1/example/notes",
	                      "Content-Type: application/json\r\n", body, strlen(body), 10000,
	                      &r) == 0,
	              "POST got no answer within 10 s");
	int status = r.status;
	if (status == 201 && id) {
		json_t *doc = ts_json(&r);
		*id = (long)json_integer_value(json_object_get(doc, "id"));
		json_decref(doc);
	}
	if (code)
		*code = ts_error_code(&r);
	ts_response_free(&r);
	return status;
}

START_TEST(server_survives_a_database_outage)
{
	char err[512], *dir = make_dir(), *code = NULL;
	struct pgctl pg = {0};
	ck_assert_msg(
	    pgctl_start(&pg, dir, "", geteuid() == 0 ? "postgres" : NULL, err, sizeof err) == WM_OK,
	    "cannot start a private cluster: %s", err);
	guard_cluster(&pg, dir);
	char *url = pgctl_conninfo(&pg);
	ck_assert_ptr_nonnull(url);

	struct ts_server s;
	struct ts_server_opts o = {.database_url = url};
	ck_assert_int_eq(ts_server_start(&s, &o), 0);
	ts_server_grant(&s, url);
	pid_t pid = s.pid;
	long before = 0;
	ck_assert_int_eq(post_note(&s, "before the outage", &before, NULL), 201);
	ck_assert_int_eq(get_status(&s, "/readyz", NULL), 200);

	ck_assert_msg(pgctl_ctl(&pg, "stop", err, sizeof err) == WM_OK, "stop: %s", err);
	ck_assert_int_eq(get_status(&s, "/readyz", &code), 503);
	ck_assert_str_eq(code ? code : "(none)", "core.not_ready");
	free(code);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(post_note(&s, "during the outage", NULL, &code), 503);
		ck_assert_str_eq(code ? code : "(none)", "core.db_unavailable");
		free(code);
	}
	ck_assert_int_eq(get_status(&s, "/api/v1/example/notes/1", &code), 503);
	ck_assert_str_eq(code ? code : "(none)", "core.db_unavailable");
	free(code);
	ck_assert_int_eq(get_status(&s, "/healthz", NULL), 200);

	ck_assert_msg(pgctl_ctl(&pg, "start", err, sizeof err) == WM_OK, "start: %s", err);
	int ready = 0;
	for (double end = ts_now() + 15; !ready && ts_now() < end;) {
		ready = get_status(&s, "/readyz", NULL) == 200;
		if (!ready)
			usleep(100 * 1000);
	}
	ck_assert_msg(ready, "/readyz did not recover within 15 s of the database returning");
	long after = 0;
	ck_assert_int_eq(post_note(&s, "after the outage", &after, NULL), 201);
	ck_assert_int_gt(after, before);
	char path[64];
	snprintf(path, sizeof path, "/api/v1/example/notes/%ld", before);
	ck_assert_int_eq(get_status(&s, path, NULL), 200);
	/* Nothing written while the database was away, and no restart. */
	char *n = ts_db_value(url, "SELECT count(*) FROM example.notes");
	ck_assert_str_eq(n, "2");
	free(n);
	ck_assert_int_eq(s.pid, pid);
	ck_assert_int_eq(kill(pid, 0), 0);

	ck_assert_int_eq(ts_server_stop(&s), 0);
	ck_assert(pgctl_stop(&pg) == WM_OK);
	pgctl_free(&pg);
	free(url);
	remove_tree(dir);
	free(dir);
}
END_TEST

START_TEST(embedded_cluster_is_started_and_stopped)
{
	char *dir = make_dir(), pidfile[300];
	struct ts_server s;
	struct ts_server_opts o = {.data_dir = dir};
	ck_assert_int_eq(ts_server_start(&s, &o), 0);
	char conninfo[400];
	snprintf(conninfo, sizeof conninfo, "host=%s/pg port=5432 user=waymark dbname=waymark",
	         dir);
	ts_server_grant(&s, conninfo);
	snprintf(pidfile, sizeof pidfile, "%s/pg/postmaster.pid", dir);
	ck_assert_msg(access(pidfile, F_OK) == 0, "no cluster running under %s/pg", dir);
	ck_assert_int_eq(get_status(&s, "/readyz", NULL), 200);

	long id = 0;
	ck_assert_int_eq(post_note(&s, "kept in the embedded cluster", &id, NULL), 201);
	char path[64];
	snprintf(path, sizeof path, "/api/v1/example/notes/%ld", id);
	struct ts_response r;
	ck_assert_int_eq(ts_http(&s, "GET", path, NULL, NULL, 0, 5000, &r), 0);
	ck_assert_int_eq(r.status, 200);
	json_t *doc = ts_json(&r);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "body")),
	                 "kept in the embedded cluster");
	json_decref(doc);
	ts_response_free(&r);

	ck_assert_int_eq(ts_server_stop(&s), 0);
	ck_assert_msg(access(pidfile, F_OK) != 0 && errno == ENOENT,
	              "%s still exists: the server left its cluster running", pidfile);
	remove_tree(dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("db_outage");
	TCase *tc = tcase_create("outage");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, server_survives_a_database_outage);
	tcase_add_test(tc, embedded_cluster_is_started_and_stopped);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
