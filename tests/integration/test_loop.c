/*
 * The event loop never blocks: while one request waits two seconds inside
 * PostgreSQL (the fixture_sleep plugin runs pg_sleep on the pool), another
 * connection's /healthz is answered in under 100 ms, and the slow request
 * still completes. And the pool's wait queue is bounded: with one
 * connection and room for one waiter, a third concurrent request is turned
 * away at once with 503 core.busy and Retry-After: 1.
 */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ts.h"

#define SLEEP_PLUGIN WAYMARK_TEST_PLUGIN_DIR "/waymark_fixture_sleep.so"

/* A request running in a child process, so the test can do other things
 * while it is in flight; the child reports what it got through a pipe. */
struct bg {
	pid_t pid;
	int fd;
};

struct bg_result {
	int ok; /* 1 if a response arrived */
	int status;
	double seconds;
	char code[64];
	char retry_after[16];
};

static void bg_start(struct bg *b, const struct ts_server *s, const char *path)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	b->pid = fork();
	ck_assert_int_ge(b->pid, 0);
	if (b->pid == 0) {
		struct bg_result res = {0};
		struct ts_response r;
		close(p[0]);
		if (ts_http(s, "GET", path, NULL, NULL, 0, 20000, &r) == 0) {
			char *code = ts_error_code(&r), *ra = ts_header(&r, "retry-after");
			res = (struct bg_result){.ok = 1, .status = r.status, .seconds = r.seconds};
			snprintf(res.code, sizeof res.code, "%s", code ? code : "");
			snprintf(res.retry_after, sizeof res.retry_after, "%s", ra ? ra : "");
			free(code);
			free(ra);
			ts_response_free(&r);
		}
		_exit(write(p[1], &res, sizeof res) == sizeof res ? 0 : 1);
	}
	close(p[1]);
	b->fd = p[0];
}

/* Has the child's answer arrived (within timeout_ms)? */
static int bg_ready(const struct bg *b, int timeout_ms)
{
	struct pollfd pfd = {.fd = b->fd, .events = POLLIN};
	return poll(&pfd, 1, timeout_ms) == 1;
}

static struct bg_result bg_finish(struct bg *b)
{
	struct bg_result res = {0};
	ck_assert_msg(bg_ready(b, 30000), "the background request never finished");
	ck_assert_int_eq(read(b->fd, &res, sizeof res), (ssize_t)sizeof res);
	close(b->fd);
	waitpid(b->pid, NULL, 0);
	ck_assert_msg(res.ok, "the background request got no response");
	return res;
}

/* Waits until `n` pg_sleep calls run in the test's database: then the
 * requests are surely in flight inside the server. */
static void wait_sleeping(const char *db, int n)
{
	char want[16];
	snprintf(want, sizeof want, "%d", n);
	for (double end = ts_now() + 10; ts_now() < end; usleep(10 * 1000)) {
		char *v =
		    ts_db_value(db, "SELECT count(*) FROM pg_stat_activity "
		                    "WHERE datname = current_database() AND state = 'active' "
		                    "AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()");
		int done = v && !strcmp(v, want);
		free(v);
		if (done)
			return;
	}
	ck_abort_msg("%d pg_sleep queries never showed up in pg_stat_activity", n);
}

static void start_with(struct ts_server *s, char **db, const char *prefix, const char *config)
{
	*db = ts_db_create(prefix);
	struct ts_server_opts o = {.database_url = *db, .config_json = config};
	ck_assert_int_eq(ts_server_start(s, &o), 0);
	ts_server_grant(s, *db);
}

static void stop(struct ts_server *s, char *db)
{
	ck_assert_int_eq(ts_server_stop(s), 0);
	ts_db_drop(db);
	free(db);
}

START_TEST(slow_query_does_not_block_the_loop)
{
	struct ts_server s;
	char *db;
	start_with(&s, &db, "loop", "{\"plugins\":{\"load\":[\"" SLEEP_PLUGIN "\"]}}");
	struct ts_response r;
	/* The fixture is loaded and answers when it does not sleep. */
	ck_assert_int_eq(
	    ts_http(&s, "GET", "/api/v1/fixture_sleep/sleep?ms=0", NULL, NULL, 0, 5000, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ts_response_free(&r);

	struct bg slow;
	bg_start(&slow, &s, "/api/v1/fixture_sleep/sleep?ms=2000");
	wait_sleeping(db, 1);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ts_http(&s, "GET", "/healthz", NULL, NULL, 0, 2000, &r), 0);
		ck_assert_int_eq(r.status, 200);
		ck_assert_msg(r.seconds < 0.100, "/healthz took %.1f ms while a query slept",
		              r.seconds * 1000);
		ts_response_free(&r);
	}
	/* The health checks overlapped the slow request, not followed it. */
	ck_assert_msg(!bg_ready(&slow, 0), "the 2 s request finished before /healthz was asked");
	struct bg_result res = bg_finish(&slow);
	ck_assert_int_eq(res.status, 200);
	ck_assert_msg(res.seconds >= 1.99, "the 2 s sleep answered after %.3f s", res.seconds);
	stop(&s, db);
}
END_TEST

/* waymark_db_pool_waiting from /metrics, or -1. */
static int pool_waiting(const struct ts_server *s)
{
	struct ts_response r;
	int n = -1;
	if (ts_http(s, "GET", "/metrics", NULL, NULL, 0, 2000, &r) != 0)
		return -1;
	const char *line = r.body ? strstr(r.body, "\nwaymark_db_pool_waiting ") : NULL;
	if (line)
		n = atoi(line + strlen("\nwaymark_db_pool_waiting "));
	ts_response_free(&r);
	return n;
}

START_TEST(full_queue_is_503_busy_with_retry_after)
{
	struct ts_server s;
	char *db;
	start_with(&s, &db, "loop_busy",
	           "{\"db\":{\"pool_size\":1,\"queue_max\":1},"
	           "\"plugins\":{\"load\":[\"" SLEEP_PLUGIN "\"]}}");
	/* One request holds the only connection, one waits in the queue... */
	struct bg first, second;
	bg_start(&first, &s, "/api/v1/fixture_sleep/sleep?ms=1500");
	wait_sleeping(db, 1);
	bg_start(&second, &s, "/api/v1/fixture_sleep/sleep?ms=10");
	int waiting = -1;
	for (double end = ts_now() + 1; waiting != 1 && ts_now() < end; usleep(5 * 1000))
		waiting = pool_waiting(&s);
	ck_assert_msg(waiting == 1, "waymark_db_pool_waiting is %d, expected 1", waiting);

	/* ...so the third finds the queue full and is refused at once. */
	struct ts_response r;
	ck_assert_int_eq(
	    ts_http(&s, "GET", "/api/v1/fixture_sleep/sleep?ms=10", NULL, NULL, 0, 5000, &r), 0);
	ck_assert_int_eq(r.status, 503);
	char *code = ts_error_code(&r), *ra = ts_header(&r, "retry-after");
	ck_assert_str_eq(code ? code : "(none)", "core.busy");
	ck_assert_str_eq(ra ? ra : "(none)", "1");
	ck_assert_msg(r.seconds < 1.0, "the refusal took %.3f s: it should not wait", r.seconds);
	free(code);
	free(ra);
	ts_response_free(&r);

	/* The two that were admitted both complete. */
	struct bg_result a = bg_finish(&first), b = bg_finish(&second);
	ck_assert_int_eq(a.status, 200);
	ck_assert_msg(b.status == 200, "the queued request got %d %s", b.status, b.code);
	stop(&s, db);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("loop");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, slow_query_does_not_block_the_loop);
	tcase_add_test(tc, full_queue_is_503_busy_with_retry_after);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
