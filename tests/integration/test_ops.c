/*
 * What an operator relies on: /healthz and /readyz (which notices a missing
 * migration), /metrics counting requests by route template with pool
 * gauges, an OpenAPI document that agrees with the router method by method,
 * configuration refusals that name the key, `config --help`, `version`,
 * `migrate` (applies once, then changes nothing), SIGTERM and SIGINT that
 * let in-flight requests finish and exit 0 (within the drain bound), and an
 * access log that names route templates, never raw paths.
 */
#include <check.h>
#include <ctype.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ts.h"

#define SLEEP_PLUGIN WAYMARK_TEST_PLUGIN_DIR "/waymark_fixture_sleep.so"
#define WITH_SLEEP   "{\"plugins\":{\"load\":[\"example\",\"" SLEEP_PLUGIN "\"]}"

static struct ts_server srv;
static char *db;

static void start_config(const char *config)
{
	db = ts_db_create("ops");
	struct ts_server_opts o = {.database_url = db, .config_json = config};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	ts_server_grant(&srv, db);
}

static void stop_and_drop(void)
{
	if (srv.pid > 0)
		ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
}

/* One request; the caller frees r. */
static void request(const char *method, const char *path, const char *body, struct ts_response *r)
{
	const char *h = body ? "Content-Type: application/json\r\n" : NULL;
	ck_assert_msg(ts_http(&srv, method, path, h, body, body ? strlen(body) : 0, 10000, r) == 0,
	              "%s %s: no answer", method, path);
}

static void assert_code(const struct ts_response *r, int status, const char *code)
{
	ck_assert_msg(r->status == status, "status %d, expected %d: %s", r->status, status,
	              r->body);
	char *c = ts_error_code(r);
	ck_assert_str_eq(c ? c : "(none)", code);
	free(c);
}

START_TEST(healthz_and_readyz)
{
	start_config(NULL);
	struct ts_response r;
	request("GET", "/healthz", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"status\":\"ok\"}");
	ts_response_free(&r);
	request("GET", "/readyz", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"status\":\"ready\"}");
	ts_response_free(&r);
	/* HEAD: the GET's status, no body. */
	request("HEAD", "/healthz", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.body_len, 0);
	ts_response_free(&r);

	/* A migration this binary carries goes missing from the ledger. */
	ck_assert_int_eq(ts_db_exec(db, "DELETE FROM core.schema_ledger WHERE owner = 'example'"),
	                 0);
	request("GET", "/readyz", NULL, &r);
	assert_code(&r, 503, "core.not_ready");
	/* The probe is public: the reply says what, the operator's log says
	 * which migration. */
	ck_assert_msg(!strstr(r.body, "example"), "the public reply names a migration: %s", r.body);
	ts_response_free(&r);
	char *log = ts_server_log(&srv);
	ck_assert_msg(log && strstr(log, "migration example/0001_notes is not applied"),
	              "the log does not say which migration is missing");
	free(log);
	request("GET", "/healthz", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ts_response_free(&r);
	stop_and_drop();
}
END_TEST

/* The value of the first sample line starting with `prefix` followed by a
 * space, or -1 if there is none. */
static double sample(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *l = text; l && *l;) {
		if (!strncmp(l, prefix, n) && l[n] == ' ')
			return strtod(l + n + 1, NULL);
		l = strchr(l, '\n');
		l = l ? l + 1 : NULL;
	}
	return -1;
}

START_TEST(metrics_count_by_route_template)
{
	start_config(NULL);
	struct ts_response r;
	request("GET", "/api/v1/example/notes/12345", NULL, &r);
	ck_assert_int_eq(r.status, 404);
	ts_response_free(&r);
	request("GET", "/api/v1/secret-path-777", NULL, &r);
	ck_assert_int_eq(r.status, 404);
	ts_response_free(&r);
	request("POST", "/api/v1/example/notes", "{\"body\":\"counted\"}", &r);
	ck_assert_int_eq(r.status, 201);
	json_t *note = ts_json(&r);
	long id = (long)json_integer_value(json_object_get(note, "id"));
	json_decref(note);
	ts_response_free(&r);
	char path[64], raw[64];
	snprintf(path, sizeof path, "/api/v1/example/notes/%ld", id);
	request("GET", path, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ts_response_free(&r);

	request("GET", "/metrics", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	char *ct = ts_header(&r, "content-type");
	ck_assert_msg(ct && !strncmp(ct, "text/plain; version=0.0.4", 25), "content-type %s", ct);
	free(ct);
	const char *m = r.body;
	ck_assert_double_eq(sample(m, "waymark_http_requests_total{route=\"/api/v1/example/notes/"
	                              "{id}\",method=\"GET\",status=\"200\"}"),
	                    1);
	ck_assert_double_eq(sample(m, "waymark_http_requests_total{route=\"/api/v1/example/notes/"
	                              "{id}\",method=\"GET\",status=\"404\"}"),
	                    1);
	ck_assert_double_eq(sample(m, "waymark_http_requests_total{route=\"/api/v1/example/notes\","
	                              "method=\"POST\",status=\"201\"}"),
	                    1);
	/* Labels carry templates only: no id, no unmatched path. */
	snprintf(raw, sizeof raw, "notes/%ld\"", id);
	ck_assert_msg(!strstr(m, "12345") && !strstr(m, "secret-path-777") && !strstr(m, raw),
	              "a raw path leaked into /metrics");
	ck_assert_ptr_nonnull(strstr(m, "# TYPE waymark_http_request_duration_seconds histogram"));
	ck_assert_ptr_nonnull(strstr(m, "waymark_http_request_duration_seconds_bucket{"));
	ck_assert_ptr_nonnull(strstr(m, "le=\"+Inf\"}"));
	ck_assert_double_ge(sample(m, "waymark_http_request_duration_seconds_count{route=\"/api/v1/"
	                              "example/notes/{id}\"}"),
	                    2);
	ck_assert_double_ge(sample(m, "waymark_db_pool_connections"), 1);
	ck_assert_double_ge(sample(m, "waymark_db_pool_in_use"), 0);
	ck_assert_double_eq(sample(m, "waymark_db_pool_waiting"), 0);
	ck_assert_double_ge(sample(m, "waymark_db_errors_total"), 0);
	ts_response_free(&r);
	stop_and_drop();
}
END_TEST

/* --- OpenAPI against the router ----------------------------------------- */

static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};

/* "/a/{id}/b" -> "/a/1/b" */
static void concrete(const char *tmpl, char *out, size_t len)
{
	size_t o = 0;
	for (const char *p = tmpl; *p && o + 2 < len; p++) {
		/* An id no object has, so DELETE routes touch nothing. */
		if (*p == '{' && o + 10 < len) {
			memcpy(out + o, "987654321", 9);
			o += 9;
			while (*p && *p != '}')
				p++;
			if (!*p)
				break;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

/* Allow must be exactly `want` (a set of method names). */
static void assert_allow_set(const struct ts_response *r, const char *path, unsigned want_mask,
                             const char *const *names)
{
	char *allow = ts_header(r, "allow");
	ck_assert_msg(allow != NULL, "%s: no Allow header", path);
	unsigned got = 0;
	for (char *save = NULL, *t = strtok_r(allow, ", ", &save); t;
	     t = strtok_r(NULL, ", ", &save)) {
		int known = 0;
		for (unsigned i = 0; names[i]; i++)
			if (!strcmp(names[i], t)) {
				got |= 1u << i;
				known = 1;
			}
		ck_assert_msg(known, "%s: Allow lists unknown method %s", path, t);
	}
	ck_assert_msg(got == want_mask, "%s: Allow does not match the document", path);
	free(allow);
}

START_TEST(openapi_agrees_with_the_router)
{
	/* Index in `all` is the bit in the masks below. */
	static const char *const all[] = {"GET",    "POST", "PUT",     "PATCH",
	                                  "DELETE", "HEAD", "OPTIONS", NULL};
	start_config(NULL);
	struct ts_response r;
	request("GET", "/api/v1/openapi.json", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	json_t *doc = ts_json(&r);
	ts_response_free(&r);
	ck_assert_msg(doc != NULL, "the document is not JSON");
	ck_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
	json_t *paths = json_object_get(doc, "paths");
	ck_assert(json_is_object(paths));
	static const char *const expected[] = {"/healthz",
	                                       "/readyz",
	                                       "/metrics",
	                                       "/api/v1/openapi.json",
	                                       "/api/v1/example/notes",
	                                       "/api/v1/example/notes/{id}",
	                                       NULL};
	for (int i = 0; expected[i]; i++)
		ck_assert_msg(json_object_get(paths, expected[i]), "%s is not documented",
		              expected[i]);

	const char *tmpl;
	json_t *item;
	json_object_foreach(paths, tmpl, item)
	{
		char path[256];
		unsigned documented = 0;
		concrete(tmpl, path, sizeof path);
		for (int i = 0; methods[i]; i++) {
			char lower[8] = "";
			for (size_t j = 0; methods[i][j] && j + 1 < sizeof lower; j++)
				lower[j] = (char)tolower((unsigned char)methods[i][j]);
			json_t *op = json_object_get(item, lower);
			if (!op)
				continue;
			documented |= 1u << i;
			const char *summary = json_string_value(json_object_get(op, "summary"));
			ck_assert_msg(summary && *summary, "%s %s has no summary", methods[i],
			              tmpl);
			json_t *responses = json_object_get(op, "responses");
			ck_assert_msg(json_is_object(responses) && json_object_size(responses) > 0,
			              "%s %s has no responses", methods[i], tmpl);
			int with_body = i == 1 || i == 2 || i == 3;
			request(methods[i], path, with_body ? "{}" : NULL, &r);
			char *code = ts_error_code(&r);
			ck_assert_msg(
			    !(r.status == 404 && code && !strcmp(code, "core.no_route")) &&
			        r.status != 405,
			    "documented %s %s is not routed: %d %s", methods[i], path, r.status,
			    code ? code : "");
			free(code);
			ts_response_free(&r);
		}
		ck_assert_msg(documented, "%s has no operations", tmpl);
		/* What the router allows: the documented methods, HEAD with GET, and
		 * OPTIONS, which every path answers. */
		unsigned want = documented | (documented & 1u ? 1u << 5 : 0) | 1u << 6;
		for (int i = 0; methods[i]; i++) {
			if (documented & (1u << i))
				continue;
			request(methods[i], path, i >= 1 && i <= 3 ? "{}" : NULL, &r);
			assert_code(&r, 405, "core.method_not_allowed");
			assert_allow_set(&r, path, want, all);
			ts_response_free(&r);
		}
		request("OPTIONS", path, NULL, &r);
		ck_assert_int_eq(r.status, 204);
		assert_allow_set(&r, path, want, all);
		ts_response_free(&r);
	}
	json_decref(doc);
	stop_and_drop();
}
END_TEST

/* --- the command line ---------------------------------------------------- */

/* A config file in a temporary directory; returns its path (malloc'd). */
static char *config_file(const char *text)
{
	char dir[] = "/tmp/wm-ops-XXXXXX", *path = NULL;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_ge(asprintf(&path, "%s/waymark.json", dir), 0);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

static void drop_file(char *path)
{
	unlink(path);
	*strrchr(path, '/') = '\0';
	rmdir(path);
	free(path);
}

/* `waymarkd serve` with this config must refuse to start, naming `what`. */
static void assert_refused(const char *text, const char *what)
{
	char *path = config_file(text), *out = NULL, *err = NULL;
	const char *argv[] = {"serve", "--config", path, NULL};
	/* If the file were wrongly accepted, start-up would still stop at this
	 * unreachable database instead of running (or creating a cluster). */
	const char *env[] = {"DATABASE_URL=host=/nonexistent-waymark port=1 user=x dbname=x",
	                     "WAYMARK_LISTEN=127.0.0.1:1", NULL};
	int rc = ts_run(argv, env, &out, &err);
	ck_assert_msg(rc != 0, "a config with %s was accepted", what);
	ck_assert_msg(strstr(err, what), "the refusal does not name %s: %s", what, err);
	free(out);
	free(err);
	drop_file(path);
}

START_TEST(config_refusals_name_the_key)
{
	assert_refused("{\"http\":{\"listen\":\"127.0.0.1:8080\",\"bogus_key\":1}}",
	               "http.bogus_key");
	assert_refused("{\"nonsense\":{}}", "nonsense");
	assert_refused("{\"db\":{\"pool_size\":\"five\"}}", "db.pool_size");
	assert_refused("{\"http\":{\"max_body\":true}}", "http.max_body");
	assert_refused("{\"plugins\":{\"load\":[\"example\"],\"example\":{\"max_lisst\":3}}}",
	               "max_lisst");
	/* A file that is not JSON is refused naming the file. */
	char *path = config_file("{\"http\": {");
	const char *argv[] = {"serve", "--config", path, NULL};
	char *err = NULL;
	ck_assert_int_ne(ts_run(argv, NULL, NULL, &err), 0);
	ck_assert_msg(strstr(err, path), "the refusal does not name the file: %s", err);
	free(err);
	drop_file(path);
}
END_TEST

START_TEST(config_help_and_version)
{
	const char *help[] = {"config", "--help", NULL}, *version[] = {"version", NULL};
	char *out = NULL;
	ck_assert_int_eq(ts_run(help, NULL, &out, NULL), 0);
	ck_assert_msg(strstr(out, "http.listen") && strstr(out, "db.pool_size"),
	              "config --help lacks keys: %s", out);
	free(out);
	ck_assert_int_eq(ts_run(version, NULL, &out, NULL), 0);
	regex_t re;
	ck_assert_int_eq(regcomp(&re, "^waymarkd [0-9]+\\.[0-9]+\\.[0-9]+", REG_EXTENDED), 0);
	ck_assert_msg(regexec(&re, out, 0, NULL, 0) == 0, "version printed: %s", out);
	regfree(&re);
	free(out);
}
END_TEST

START_TEST(migrate_applies_once)
{
	static const char ledger[] = "SELECT string_agg(owner || ':' || version || ':' || "
	                             "applied_at, ',' ORDER BY owner, version) "
	                             "FROM core.schema_ledger";
	char *mdb = ts_db_create("ops_migrate"), *env_url = NULL;
	ck_assert_int_ge(asprintf(&env_url, "DATABASE_URL=%s", mdb), 0);
	char *path = config_file("{}");
	const char *argv[] = {"migrate", "--config", path, NULL};
	const char *env[] = {env_url, NULL};
	char *out = NULL, *err = NULL;
	int rc = ts_run(argv, env, &out, &err);
	ck_assert_msg(rc == 0, "migrate failed (%d): %s%s", rc, out, err);
	free(out);
	free(err);
	char *n =
	    ts_db_value(mdb, "SELECT count(*) FROM core.schema_ledger WHERE owner = 'example'");
	ck_assert_str_eq(n, "2");
	free(n);
	n = ts_db_value(mdb, "SELECT count(*) FROM example.notes");
	ck_assert_str_eq(n, "0");
	free(n);
	char *first = ts_db_value(mdb, ledger);
	ck_assert_int_eq(ts_run(argv, env, NULL, NULL), 0);
	char *second = ts_db_value(mdb, ledger);
	ck_assert_str_eq(second, first);
	free(first);
	free(second);

	/* No database to reach: a clear failure, not a hang or a zero. */
	const char *bad[] = {"DATABASE_URL=host=/nonexistent-waymark port=1 user=x dbname=x", NULL};
	ck_assert_int_ne(ts_run(argv, bad, NULL, &err), 0);
	ck_assert_msg(err && *err, "migrate failed silently");
	free(err);
	drop_file(path);
	free(env_url);
	ts_db_drop(mdb);
	free(mdb);
}
END_TEST

/* deploy/waymark.sample.json is a file operators copy: it must stay a
 * config the server accepts, with every key it documents spelt right. */
START_TEST(sample_config_is_accepted)
{
	char *mdb = ts_db_create("ops_sample"), *env_url = NULL, *err = NULL;
	ck_assert_int_ge(asprintf(&env_url, "DATABASE_URL=%s", mdb), 0);
	const char *argv[] = {"migrate", "--config",
	                      WAYMARK_SOURCE_DIR "/deploy/waymark.sample.json", NULL};
	const char *env[] = {env_url, NULL};
	int rc = ts_run(argv, env, NULL, &err);
	ck_assert_msg(rc == 0, "the sample config is refused (%d): %s", rc, err);
	free(err);
	free(env_url);
	ts_db_drop(mdb);
	free(mdb);
}
END_TEST

/* --- signals ----------------------------------------------------------- */

struct bg {
	pid_t pid;
	int fd;
};

/* GET path in a child; the child writes the status (0: no answer). */
static void bg_get(struct bg *b, const char *path)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	b->pid = fork();
	ck_assert_int_ge(b->pid, 0);
	if (b->pid == 0) {
		struct ts_response r;
		int status = 0;
		close(p[0]);
		if (ts_http(&srv, "GET", path, NULL, NULL, 0, 30000, &r) == 0) {
			status = r.status;
			ts_response_free(&r);
		}
		_exit(write(p[1], &status, sizeof status) == sizeof status ? 0 : 1);
	}
	close(p[1]);
	b->fd = p[0];
}

static int bg_status(struct bg *b)
{
	int status = -1;
	struct pollfd pfd = {.fd = b->fd, .events = POLLIN};
	if (poll(&pfd, 1, 30000) != 1 || read(b->fd, &status, sizeof status) != sizeof status)
		status = -1;
	close(b->fd);
	waitpid(b->pid, NULL, 0);
	return status;
}

static void wait_sleeping(void)
{
	for (double end = ts_now() + 10; ts_now() < end; usleep(10 * 1000)) {
		char *v =
		    ts_db_value(db, "SELECT count(*) FROM pg_stat_activity "
		                    "WHERE datname = current_database() AND state = 'active' "
		                    "AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()");
		int done = v && !strcmp(v, "1");
		free(v);
		if (done)
			return;
	}
	ck_abort_msg("the sleep request never reached the database");
}

START_TEST(sigterm_finishes_in_flight_requests)
{
	start_config(WITH_SLEEP "}");
	struct bg b;
	bg_get(&b, "/api/v1/fixture_sleep/sleep?ms=1000");
	wait_sleeping();
	struct ts_server copy = srv;
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ck_assert_int_eq(bg_status(&b), 200);
	/* Gone: nothing answers on its port any more. */
	struct ts_response r;
	ck_assert_int_ne(ts_http(&copy, "GET", "/healthz", NULL, NULL, 0, 1000, &r), 0);
	stop_and_drop();
}
END_TEST

START_TEST(drain_is_bounded_by_shutdown_drain_ms)
{
	start_config(WITH_SLEEP ",\"server\":{\"shutdown_drain_ms\":500}}");
	struct bg b;
	bg_get(&b, "/api/v1/fixture_sleep/sleep?ms=5000");
	wait_sleeping();
	double t0 = ts_now();
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	double took = ts_now() - t0;
	ck_assert_msg(took < 4.0, "stopping took %.1f s despite a 0.5 s drain bound", took);
	bg_status(&b); /* cut off: whatever it got, it must not hang */
	stop_and_drop();
}
END_TEST

START_TEST(sigint_exits_zero)
{
	start_config(NULL);
	ck_assert_int_eq(kill(srv.pid, SIGINT), 0);
	int status = 0;
	pid_t got = 0;
	for (double end = ts_now() + 30;
	     (got = waitpid(srv.pid, &status, WNOHANG)) == 0 && ts_now() < end;)
		usleep(20 * 1000);
	ck_assert_int_eq(got, srv.pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "SIGINT: wait status %d",
	              status);
	srv.pid = 0;
	stop_and_drop();
}
END_TEST

/* --- access log -------------------------------------------------------- */

START_TEST(access_log_names_route_templates)
{
	start_config(NULL);
	struct ts_response r;
	request("GET", "/api/v1/example/notes/12345", NULL, &r);
	ck_assert_int_eq(r.status, 404);
	char *rid = ts_header(&r, "x-request-id");
	ck_assert_ptr_nonnull(rid);
	ts_response_free(&r);
	request("GET", "/api/v1/example/notes?cursor=777777", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ts_response_free(&r);

	char *log = NULL, *line = NULL;
	for (double end = ts_now() + 3; !line && ts_now() < end;) {
		free(log);
		log = ts_server_log(&srv);
		line = log ? strstr(log, rid) : NULL;
		if (!line)
			usleep(20 * 1000);
	}
	ck_assert_msg(line != NULL, "no log line carries request id %s", rid);
	while (line > log && line[-1] != '\n')
		line--;
	char *eol = strchr(line, '\n');
	if (eol)
		*eol = '\0';
	ck_assert_msg(strstr(line, "GET") && strstr(line, "/api/v1/example/notes/{id}") &&
	                  strstr(line, "404"),
	              "access log line lacks method, template or status: %s", line);
	if (eol)
		*eol = '\n';
	ck_assert_msg(!strstr(log, "/api/v1/example/notes/12345"), "a raw path is in the log");
	ck_assert_msg(!strstr(log, "777777"), "a query string is in the log");
	free(log);
	free(rid);
	stop_and_drop();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ops");
	TCase *tc = tcase_create("ops");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, healthz_and_readyz);
	tcase_add_test(tc, metrics_count_by_route_template);
	tcase_add_test(tc, openapi_agrees_with_the_router);
	tcase_add_test(tc, config_refusals_name_the_key);
	tcase_add_test(tc, config_help_and_version);
	tcase_add_test(tc, migrate_applies_once);
	tcase_add_test(tc, sample_config_is_accepted);
	tcase_add_test(tc, sigterm_finishes_in_flight_requests);
	tcase_add_test(tc, drain_is_bounded_by_shutdown_drain_ms);
	tcase_add_test(tc, sigint_exits_zero);
	tcase_add_test(tc, access_log_names_route_templates);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
