/*
 * The core's authentication step, end to end over HTTP against the real
 * database, using the example plugin's routes (any staff role) and the
 * public health routes: what a caller without, with a bad, a revoked, an
 * expired or a valid credential sees; role refusal; browser sessions and
 * their CSRF header; and that no secret reaches the log.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "ts.h"

static struct ts_server srv;
static char *db;

static void setup(void)
{
	db = ts_db_create("auth");
	struct ts_server_opts o = {.database_url = db};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
}

static void teardown(void)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
}

/* GET or POST a note route with these headers; returns the status and,
 * if code != NULL, the error code (malloc'd or NULL). */
static int call(const char *method, const char *headers, char **code)
{
	struct ts_response r;
	const char *body = !strcmp(method, "POST") ? "{\"body\":\"hello\"}" : NULL;
	char all[512];
	snprintf(all, sizeof all, "%s%s", body ? "Content-Type: application/json\r\n" : "",
	         headers ? headers : "");
	ck_assert_int_eq(ts_http(&srv, method, "/api/v1/example/notes", all, body,
	                         body ? strlen(body) : 0, 5000, &r),
	                 0);
	int status = r.status;
	if (code)
		*code = ts_error_code(&r);
	ts_response_free(&r);
	return status;
}

static void expect(const char *method, const char *headers, int status, const char *code)
{
	char *got = NULL;
	int s = call(method, headers, &got);
	ck_assert_msg(s == status, "%s with [%s]: %d, expected %d (%s)", method,
	              headers ? headers : "", s, status, got ? got : "-");
	if (code)
		ck_assert_str_eq(got ? got : "(none)", code);
	free(got);
}

static void bearer(char *buf, size_t len, const char *token)
{
	snprintf(buf, len, "Authorization: Bearer %s\r\n", token);
}

START_TEST(no_or_malformed_credentials_are_401)
{
	struct ts_response r;
	ck_assert_int_eq(ts_http(&srv, "GET", "/api/v1/example/notes", NULL, NULL, 0, 5000, &r), 0);
	ck_assert_int_eq(r.status, 401);
	char *www = ts_header(&r, "WWW-Authenticate");
	ck_assert_ptr_nonnull(www);
	ck_assert_ptr_nonnull(strstr(www, "Bearer"));
	free(www);
	ts_response_free(&r);
	expect("GET", NULL, 401, "core.unauthenticated");
	expect("GET", "Authorization: Basic dXNlcjpwYXNz\r\n", 401, "core.bad_credentials");
	expect("GET", "Authorization: Bearer\r\n", 401, "core.bad_credentials");
	expect("GET", "Authorization: Bearer wm_short\r\n", 401, "core.bad_credentials");
	expect("GET", "Cookie: waymark_session=nonsense\r\n", 401, "core.bad_credentials");
	/* A well-formed token this server never issued. */
	struct secret s;
	char text[80], h[128];
	secret_new(&s);
	secret_format(&s, SECRET_TOKEN_PREFIX, text, sizeof text);
	bearer(h, sizeof h, text);
	expect("GET", h, 401, "core.bad_credentials");
	/* Public routes need nothing, and ignore a bad credential. */
	ck_assert_int_eq(ts_http(&srv, "GET", "/healthz", h, NULL, 0, 5000, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ts_response_free(&r);
	ck_assert_int_eq(ts_http(&srv, "GET", "/api/v1/openapi.json", NULL, NULL, 0, 5000, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ts_response_free(&r);
}
END_TEST

START_TEST(a_valid_token_works_until_revoked_expired_or_disabled)
{
	char h[128];
	char *t = ts_staff_token(db, "Org A", "mentor@example.org", "mentor", 0);
	bearer(h, sizeof h, t);
	expect("GET", h, 200, NULL);
	expect("POST", h, 201, NULL);
	char *used = ts_db_value(db, "SELECT count(*) FROM core.api_token "
	                             "WHERE last_used_at IS NOT NULL");
	ck_assert_str_eq(used, "1");
	free(used);

	/* Right selector, wrong verifier: refused. */
	char forged[128];
	snprintf(forged, sizeof forged, "%s", t);
	size_t n = strlen(forged);
	forged[n - 1] = forged[n - 1] == 'A' ? 'B' : 'A';
	char hf[160];
	bearer(hf, sizeof hf, forged);
	expect("GET", hf, 401, "core.bad_credentials");

	ck_assert_int_eq(ts_db_exec(db, "UPDATE core.api_token SET expires_at = now() - "
	                                "interval '1 second'"),
	                 0);
	expect("GET", h, 401, "core.bad_credentials");
	ck_assert_int_eq(ts_db_exec(db, "UPDATE core.api_token SET expires_at = NULL"), 0);
	expect("GET", h, 200, NULL);
	ck_assert_int_eq(ts_db_exec(db, "UPDATE core.staff SET disabled_at = now()"), 0);
	expect("GET", h, 401, "core.bad_credentials");
	ck_assert_int_eq(ts_db_exec(db, "UPDATE core.staff SET disabled_at = NULL"), 0);
	expect("GET", h, 200, NULL);
	ck_assert_int_eq(ts_db_exec(db, "UPDATE core.api_token SET revoked_at = now()"), 0);
	expect("GET", h, 401, "core.bad_credentials");

	/* The secret never reaches the log; the caller's staff id does. */
	char *log = ts_server_log(&srv);
	ck_assert_ptr_null(strstr(log, t));
	ck_assert_ptr_null(strstr(log, t + 3 + SECRET_SELECTOR_LEN));
	ck_assert_ptr_nonnull(strstr(log, "staff="));
	free(log);
	free(t);
}
END_TEST

START_TEST(no_role_is_403_and_archived_organisations_grant_none)
{
	char h[128];
	char *t = ts_staff_token(db, "Org A", "nobody@example.org", NULL, 0);
	bearer(h, sizeof h, t);
	expect("GET", h, 403, "core.forbidden");
	free(t);
	t = ts_staff_token(db, "Org Gone", "gone@example.org", "coordinator", 0);
	bearer(h, sizeof h, t);
	expect("GET", h, 200, NULL);
	ck_assert_int_eq(ts_db_exec(db, "UPDATE core.organisation SET archived_at = now() "
	                                "WHERE name = 'Org Gone'"),
	                 0);
	expect("GET", h, 403, "core.forbidden");
	free(t);
}
END_TEST

/* A session row made the way sign-in makes it; returns the cookie text. */
static void make_session(const char *interval, struct secret *s, char cookie[128])
{
	char *t = ts_staff_token(db, "Org A", "browser@example.org", "coordinator", 0);
	free(t);
	long long staff = ts_staff_id(db, "browser@example.org");
	secret_new(s);
	char sql[512];
	snprintf(sql, sizeof sql,
	         "INSERT INTO core.web_session (staff_id, selector, verifier_hash, expires_at)"
	         " VALUES (%lld, '%s', '%s', now() + interval '%s')",
	         staff, s->selector, s->hash_hex, interval);
	ck_assert_int_eq(ts_db_exec(db, sql), 0);
	char text[80];
	secret_format(s, NULL, text, sizeof text);
	snprintf(cookie, 128, "Cookie: theme=dark; waymark_session=%s\r\n", text);
}

START_TEST(sessions_need_the_csrf_header_for_changes)
{
	struct secret s;
	char cookie[128], with[320], csrf[65];
	make_session("1 hour", &s, cookie);
	expect("GET", cookie, 200, NULL);
	expect("POST", cookie, 403, "core.csrf");
	snprintf(with, sizeof with, "%sX-CSRF-Token: %064d\r\n", cookie, 0);
	expect("POST", with, 403, "core.csrf");
	secret_derive(&s, "waymark csrf v1", csrf);
	snprintf(with, sizeof with, "%sX-CSRF-Token: %s\r\n", cookie, csrf);
	expect("POST", with, 201, NULL);
	char *n = ts_db_value(db, "SELECT count(*) FROM example.notes");
	ck_assert_str_eq(n, "1");
	free(n);
	/* Revoked or expired sessions are refused like tokens. */
	ck_assert_int_eq(ts_db_exec(db, "UPDATE core.web_session SET revoked_at = now()"), 0);
	expect("GET", cookie, 401, "core.bad_credentials");
	ck_assert_int_eq(
	    ts_db_exec(db, "UPDATE core.web_session SET revoked_at = NULL, expires_at = now()"), 0);
	expect("GET", cookie, 401, "core.bad_credentials");
	/* Idle for longer than auth.session_idle_s (default 2 h). */
	ck_assert_int_eq(ts_db_exec(db,
	                            "UPDATE core.web_session SET expires_at = now() + "
	                            "interval '1 day', last_seen_at = now() - interval '3 hours'"),
	                 0);
	expect("GET", cookie, 401, "core.bad_credentials");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, no_or_malformed_credentials_are_401);
	tcase_add_test(tc, a_valid_token_works_until_revoked_expired_or_disabled);
	tcase_add_test(tc, no_role_is_403_and_archived_organisations_grant_none);
	tcase_add_test(tc, sessions_need_the_csrf_header_for_changes);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
