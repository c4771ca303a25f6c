/*
 * Browser sign-in end to end, and the identity subcommands of the CLI:
 * the session cookie's attributes (Secure only when configured), the
 * password stored only as an argon2id hash, the cookie working for reads
 * and, with the CSRF token it came with, for writes; wrong passwords and
 * unknown emails answered alike; the slow-down after repeated failures;
 * sign-out ending the session; and `waymarkd staff create` / `waymarkd token
 * create` printing an id and a token that work.
 */
#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ts.h"

#define PASSWORD "correct horse battery staple"

static struct ts_server srv;
static char *db;
static char *sa;

static void start(const char *config)
{
	db = ts_db_create("login");
	struct ts_server_opts o = {.database_url = db, .config_json = config};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	sa = ts_staff_token(db, "Login org", "root@example.org", "admin", 1);
}

static void setup(void)
{
	start("{\"auth\":{\"login_max_failures\":3}}");
}

static void teardown(void)
{
	free(sa);
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
}

/* A request with raw extra headers; asserts the status (and error code). */
static void request(const char *method, const char *path, const char *headers, const char *body,
                    int status, const char *code, struct ts_response *r)
{
	char all[1024];
	snprintf(all, sizeof all, "%s%s", body ? "Content-Type: application/json\r\n" : "",
	         headers ? headers : "");
	ck_assert_int_eq(ts_http(&srv, method, path, all, body, body ? strlen(body) : 0, 10000, r),
	                 0);
	ck_assert_msg(r->status == status, "%s %s: %d, expected %d: %s", method, path, r->status,
	              status, r->body);
	if (code) {
		char *got = ts_error_code(r);
		ck_assert_str_eq(got ? got : "(none)", code);
		free(got);
	}
}

/* Creates a staff member with PASSWORD through the API; returns the id. */
static long long make_staff(const char *email)
{
	char body[512], auth[128];
	struct ts_response r;
	snprintf(body, sizeof body,
	         "{\"email\":\"%s\",\"display_name\":\"Sam\",\"password\":\"" PASSWORD "\","
	         "\"organisation_id\":%lld,\"role\":\"coordinator\"}",
	         email, ts_org_id(db, "Login org"));
	snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", sa);
	request("POST", "/api/v1/staff", auth, body, 201, NULL, &r);
	json_t *doc = ts_json(&r);
	long long id = json_integer_value(json_object_get(doc, "id"));
	ck_assert_int_gt(id, 0);
	json_decref(doc);
	ts_response_free(&r);
	return id;
}

static void login_body(char *buf, size_t len, const char *email, const char *password)
{
	snprintf(buf, len, "{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
}

/* Signs in; fills the cookie ("waymark_session=...") and CSRF token and
 * returns the Set-Cookie header (malloc'd). */
static char *login(const char *email, char cookie[128], char csrf[80])
{
	char body[256];
	struct ts_response r;
	login_body(body, sizeof body, email, PASSWORD);
	request("POST", "/api/v1/auth/login", NULL, body, 200, NULL, &r);
	char *set = ts_header(&r, "Set-Cookie");
	ck_assert_ptr_nonnull(set);
	size_t n = strcspn(set, ";");
	ck_assert_int_lt(n, 128);
	memcpy(cookie, set, n);
	cookie[n] = '\0';
	json_t *doc = ts_json(&r);
	const char *t = json_string_value(json_object_get(doc, "csrf_token"));
	ck_assert_ptr_nonnull(t);
	snprintf(csrf, 80, "%s", t);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "staff"), "email")),
	                 email);
	ck_assert(json_is_string(json_object_get(doc, "expires_at")));
	json_decref(doc);
	ts_response_free(&r);
	return set;
}

static long long count(const char *sql)
{
	char *v = ts_db_value(db, sql);
	ck_assert_ptr_nonnull(v);
	long long n = atoll(v);
	free(v);
	return n;
}

START_TEST(session_cookie_csrf_and_logout)
{
	long long id = make_staff("sam@example.org");
	char sql[256], cookie[128], csrf[80], headers[512];
	struct ts_response r;

	/* Only an argon2id hash is stored. */
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.staff WHERE id = %lld AND password_hash LIKE "
	         "'$argon2id$%%' AND position('" PASSWORD "' in password_hash) = 0",
	         id);
	ck_assert_int_eq(count(sql), 1);

	char *set = login("sam@example.org", cookie, csrf);
	ck_assert_msg(!strncmp(cookie, "waymark_session=", 16) && strlen(cookie) == 16 + 59,
	              "cookie %s", cookie);
	ck_assert_msg(strstr(set, "; HttpOnly") && strstr(set, "; SameSite=Strict") &&
	                  strstr(set, "; Path=/") && strstr(set, "; Max-Age=43200"),
	              "Set-Cookie: %s", set);
	ck_assert_msg(!strstr(set, "Secure"), "Secure without TLS: %s", set);
	free(set);
	regex_t re;
	ck_assert_int_eq(regcomp(&re, "^[0-9a-f]{64}$", REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_msg(regexec(&re, csrf, 0, NULL, 0) == 0, "csrf %s", csrf);
	regfree(&re);
	snprintf(
	    sql, sizeof sql,
	    "SELECT count(*) FROM core.web_session WHERE staff_id = %lld AND revoked_at IS NULL"
	    " AND selector = '%.16s' AND remote_addr IS NOT NULL"
	    " AND position('%s' in verifier_hash) = 0",
	    id, cookie + 16, cookie + 16 + 16);
	ck_assert_int_eq(count(sql), 1);

	/* The cookie reads. */
	snprintf(headers, sizeof headers, "Cookie: %s\r\n", cookie);
	request("GET", "/api/v1/auth/me", headers, NULL, 200, NULL, &r);
	json_t *me = ts_json(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(me, "id")), id);
	ck_assert_str_eq(json_string_value(json_object_get(me, "via")), "session");
	ck_assert_str_eq(json_string_value(json_object_get(
	                     json_array_get(json_object_get(me, "memberships"), 0), "role")),
	                 "coordinator");
	json_decref(me);
	ts_response_free(&r);

	/* A write needs the CSRF token too. */
	const char *tok = "{\"name\":\"from the browser\"}";
	request("POST", "/api/v1/tokens", headers, tok, 403, "core.csrf", &r);
	ts_response_free(&r);
	snprintf(headers, sizeof headers, "Cookie: %s\r\nX-CSRF-Token: %064d\r\n", cookie, 0);
	request("POST", "/api/v1/tokens", headers, tok, 403, "core.csrf", &r);
	ts_response_free(&r);
	ck_assert_int_eq(
	    count("SELECT count(*) FROM core.api_token WHERE name = 'from the browser'"), 0);
	snprintf(headers, sizeof headers, "Cookie: %s\r\nX-CSRF-Token: %s\r\n", cookie, csrf);
	request("POST", "/api/v1/tokens", headers, tok, 201, NULL, &r);
	ts_response_free(&r);

	/* Sign-out ends the session and clears the cookie. */
	request("POST", "/api/v1/auth/logout", headers, NULL, 204, NULL, &r);
	char *cleared = ts_header(&r, "Set-Cookie");
	ck_assert_msg(cleared && !strncmp(cleared, "waymark_session=;", 17) &&
	                  strstr(cleared, "Max-Age=0"),
	              "logout Set-Cookie: %s", cleared ? cleared : "(none)");
	free(cleared);
	ts_response_free(&r);
	snprintf(headers, sizeof headers, "Cookie: %s\r\n", cookie);
	request("GET", "/api/v1/auth/me", headers, NULL, 401, "core.bad_credentials", &r);
	ts_response_free(&r);
	snprintf(
	    sql, sizeof sql,
	    "SELECT count(*) FROM core.web_session WHERE staff_id = %lld AND revoked_at IS NULL",
	    id);
	ck_assert_int_eq(count(sql), 0);

	/* Sign-out with a bearer token ends nothing. */
	char *other_cookie = login("sam@example.org", cookie, csrf);
	free(other_cookie);
	snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\n", sa);
	request("POST", "/api/v1/auth/logout", headers, NULL, 204, NULL, &r);
	ts_response_free(&r);
	ck_assert_int_eq(count(sql), 1);

	/* Changing one's password needs the current one and ends other sessions. */
	snprintf(headers, sizeof headers, "Cookie: %s\r\nX-CSRF-Token: %s\r\n", cookie, csrf);
	char path[64];
	snprintf(path, sizeof path, "/api/v1/staff/%lld", id);
	request("PATCH", path, headers, "{\"password\":\"a brand new passphrase\"}", 400,
	        "core.missing_field", &r);
	ts_response_free(&r);
	request("PATCH", path, headers,
	        "{\"password\":\"a brand new passphrase\",\"current_password\":\"nope\"}", 422,
	        "core.bad_password", &r);
	ts_response_free(&r);
	char other[128], other_csrf[80];
	free(login("sam@example.org", other, other_csrf));
	request("PATCH", path, headers,
	        "{\"password\":\"a brand new passphrase\",\"current_password\":\"" PASSWORD "\"}",
	        200, NULL, &r);
	ts_response_free(&r);
	snprintf(headers, sizeof headers, "Cookie: %s\r\n", other);
	request("GET", "/api/v1/auth/me", headers, NULL, 401, "core.bad_credentials", &r);
	ts_response_free(&r);
	snprintf(headers, sizeof headers, "Cookie: %s\r\n", cookie);
	request("GET", "/api/v1/auth/me", headers, NULL, 200, NULL, &r);
	ts_response_free(&r);
	char body[256];
	login_body(body, sizeof body, "sam@example.org", "a brand new passphrase");
	request("POST", "/api/v1/auth/login", NULL, body, 200, NULL, &r);
	ts_response_free(&r);

	snprintf(sql, sizeof sql,
	         "SELECT count(DISTINCT action) FROM core.audit WHERE object_id = %lld"
	         " AND action IN ('auth.login', 'auth.logout', 'staff.update')",
	         id);
	ck_assert_int_eq(count(sql), 3);
	/* Nothing secret reached the log. */
	char *log = ts_server_log(&srv);
	ck_assert_ptr_null(strstr(log, PASSWORD));
	ck_assert_ptr_null(strstr(log, cookie + 16 + 16));
	ck_assert_ptr_null(strstr(log, "$argon2id$"));
	free(log);
}
END_TEST

START_TEST(failures_are_alike_and_slow_down)
{
	long long id = make_staff("lee@example.org");
	char body[256], sql[256];
	struct ts_response r;

	/* A wrong password and an unknown email get the same answer. */
	login_body(body, sizeof body, "lee@example.org", "not the password");
	request("POST", "/api/v1/auth/login", NULL, body, 401, "core.bad_credentials", &r);
	char *wrong = strdup(r.body);
	ts_response_free(&r);
	login_body(body, sizeof body, "nobody@example.org", "not the password");
	request("POST", "/api/v1/auth/login", NULL, body, 401, "core.bad_credentials", &r);
	ck_assert_str_eq(r.body, wrong);
	ts_response_free(&r);
	free(wrong);
	login_body(body, sizeof body, "lee@example.org", "");
	request("POST", "/api/v1/auth/login", NULL, body, 400, "core.bad_password", &r);
	ts_response_free(&r);
	request("POST", "/api/v1/auth/login", NULL, "{\"email\":\"lee@example.org\"}", 400,
	        "core.missing_field", &r);
	ts_response_free(&r);

	/* Two more failures make three (auth.login_max_failures): the next try
	 * must wait, even with the right password. */
	login_body(body, sizeof body, "lee@example.org", "still not it");
	for (int i = 0; i < 2; i++) {
		request("POST", "/api/v1/auth/login", NULL, body, 401, "core.bad_credentials", &r);
		ts_response_free(&r);
	}
	login_body(body, sizeof body, "lee@example.org", PASSWORD);
	request("POST", "/api/v1/auth/login", NULL, body, 429, "core.slow_down", &r);
	char *after = ts_header(&r, "Retry-After");
	ck_assert_ptr_nonnull(after);
	int wait = atoi(after);
	ck_assert_msg(wait >= 1 && wait <= 2, "Retry-After: %s", after);
	free(after);
	ck_assert_ptr_null(ts_header(&r, "Set-Cookie"));
	ts_response_free(&r);
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.staff WHERE id = %lld AND failed_logins = 3"
	         " AND locked_until > now()",
	         id);
	ck_assert_int_eq(count(sql), 1);

	/* After the wait, the right password works and clears the count. */
	usleep((useconds_t)wait * 1000000u + 200000u);
	request("POST", "/api/v1/auth/login", NULL, body, 200, NULL, &r);
	ts_response_free(&r);
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.staff WHERE id = %lld AND failed_logins = 0"
	         " AND locked_until IS NULL",
	         id);
	ck_assert_int_eq(count(sql), 1);
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.audit WHERE action = 'auth.login_failed'"
	         " AND object_id = %lld",
	         id);
	ck_assert_int_eq(count(sql), 3);
	ck_assert_int_eq(count("SELECT count(*) FROM core.audit WHERE action = 'auth.login_failed'"
	                       " AND object_id IS NULL"),
	                 1);
	/* The typed email is not kept for unknown accounts. */
	ck_assert_int_eq(
	    count("SELECT count(*) FROM core.audit WHERE position('nobody' in detail::text) > 0"),
	    0);
}
END_TEST

START_TEST(secure_cookie_when_configured)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
	free(sa);
	start("{\"auth\":{\"cookie_secure\":\"always\"}}");
	make_staff("tls@example.org");
	char cookie[128], csrf[80];
	char *set = login("tls@example.org", cookie, csrf);
	ck_assert_msg(strstr(set, "; Secure") && strstr(set, "; HttpOnly"), "Set-Cookie: %s", set);
	free(set);
}
END_TEST

START_TEST(cli_creates_staff_and_tokens)
{
	char *env_url = NULL, *out = NULL, *err = NULL;
	ck_assert_int_ge(asprintf(&env_url, "DATABASE_URL=%s", db), 0);
	const char *env[] = {env_url, "WAYMARK_PASSWORD=" PASSWORD, NULL};
	const char *env_nopw[] = {env_url, "WAYMARK_PASSWORD", NULL};

	const char *mk[] = {"staff", "create",  "--email", "cli@example.org", "--name", "Cli User",
	                    "--org", "CLI Org", "--role",  "facilitator",     NULL};
	int rc = ts_run(mk, env, &out, &err);
	ck_assert_msg(rc == 0, "staff create: %d %s", rc, err);
	long long id = atoll(out);
	ck_assert_int_eq(id, ts_staff_id(db, "cli@example.org"));
	ck_assert_msg(strspn(out, "0123456789") == strlen(out) - 1 && out[strlen(out) - 1] == '\n',
	              "staff create printed: %s", out);
	free(out);
	free(err);
	char sql[256];
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.membership m JOIN core.staff s ON s.id = m.staff_id"
	         " WHERE s.id = %lld AND m.role = 'facilitator' AND m.org_id = %lld"
	         " AND s.password_hash LIKE '$argon2id$%%' AND NOT s.server_admin",
	         id, ts_org_id(db, "CLI Org"));
	ck_assert_int_eq(count(sql), 1);
	/* The same email again is refused. */
	ck_assert_int_eq(ts_run(mk, env, NULL, &err), 1);
	ck_assert_ptr_nonnull(strstr(err, "cli@example.org"));
	free(err);
	/* A server admin without an organisation or a password. */
	const char *mk2[] = {"staff",  "create", "--email",        "ops@example.org",
	                     "--name", "Ops",    "--server-admin", NULL};
	ck_assert_int_eq(ts_run(mk2, env_nopw, &out, NULL), 0);
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.staff WHERE id = %lld AND server_admin"
	         " AND password_hash IS NULL",
	         atoll(out));
	ck_assert_int_eq(count(sql), 1);
	free(out);
	const char *bad[] = {"staff",  "create", "--email", "x@example.org", "--name", "X",
	                     "--role", "mentor", NULL};
	ck_assert_int_eq(ts_run(bad, env, NULL, NULL), 2);

	/* A token for the new member: one line, and it works. */
	const char *tk[] = {"token",  "create", "--user", "cli@example.org",
	                    "--name", "script", NULL};
	rc = ts_run(tk, env, &out, &err);
	ck_assert_msg(rc == 0, "token create: %d %s", rc, err);
	free(err);
	regex_t re;
	ck_assert_int_eq(regcomp(&re, "^wm_[A-Za-z0-9_-]{59}\n$", REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_msg(regexec(&re, out, 0, NULL, 0) == 0, "token create printed: %s", out);
	regfree(&re);
	out[strlen(out) - 1] = '\0';
	char headers[160];
	struct ts_response r;
	snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\n", out);
	request("GET", "/api/v1/auth/me", headers, NULL, 200, NULL, &r);
	json_t *me = ts_json(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(me, "id")), id);
	json_decref(me);
	ts_response_free(&r);
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.api_token t WHERE position('%s' in t::text) > 0",
	         out + 3 + 16);
	ck_assert_int_eq(count(sql), 0);
	free(out);
	ck_assert_int_eq(count("SELECT count(*) FROM core.audit WHERE action = 'token.create'"
	                       " AND detail->>'via' = 'cli'"),
	                 1);

	/* The password from WAYMARK_PASSWORD signs in. */
	char body[256];
	login_body(body, sizeof body, "cli@example.org", PASSWORD);
	request("POST", "/api/v1/auth/login", NULL, body, 200, NULL, &r);
	ts_response_free(&r);

	/* Unknown user: 1, naming them; bad arguments: 2 with the usage. */
	const char *ghost[] = {"token",  "create", "--user", "ghost@example.org",
	                       "--name", "x",      NULL};
	ck_assert_int_eq(ts_run(ghost, env, &out, &err), 1);
	ck_assert_msg(strstr(err, "ghost@example.org") != NULL, "stderr: %s", err);
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
	const char *noname[] = {"token", "create", "--user", "cli@example.org", NULL};
	ck_assert_int_eq(ts_run(noname, env, NULL, &err), 2);
	ck_assert_ptr_nonnull(strstr(err, "usage"));
	free(err);
	const char *what[] = {"token", "mint", NULL};
	ck_assert_int_eq(ts_run(what, env, NULL, NULL), 2);
	free(env_url);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("login");
	TCase *tc = tcase_create("login");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, session_cookie_csrf_and_logout);
	tcase_add_test(tc, failures_are_alike_and_slow_down);
	tcase_add_test(tc, secure_cookie_when_configured);
	tcase_add_test(tc, cli_creates_staff_and_tokens);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
