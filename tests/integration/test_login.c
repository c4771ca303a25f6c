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
#include <libpq-fe.h>
#include <pthread.h>
#include <regex.h>
#include <sodium.h>
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
	start("{\"auth\":{\"login_max_failures\":3},\"db\":{\"lock_timeout_ms\":20000}}");
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
	char sql[512], cookie[128], csrf[80], headers[512];
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
	/* Loopback behind a TLS proxy on this host: Secure. */
	{
		char body[256];
		make_staff("proxied@example.org");
		login_body(body, sizeof body, "proxied@example.org", PASSWORD);
		request("POST", "/api/v1/auth/login", "X-Forwarded-Proto: https\r\n", body, 200,
		        NULL, &r);
		char *tls = ts_header(&r, "Set-Cookie");
		ck_assert_msg(tls && strstr(tls, "; Secure") &&
		                  !strncmp(tls, "waymark_session=", 16),
		              "Set-Cookie behind https: %s", tls ? tls : "(none)");
		free(tls);
		ts_response_free(&r);
		request("POST", "/api/v1/auth/login", "X-Forwarded-Proto: http\r\n", body, 200,
		        NULL, &r);
		tls = ts_header(&r, "Set-Cookie");
		ck_assert_msg(tls && !strstr(tls, "Secure"), "Set-Cookie behind http: %s",
		              tls ? tls : "(none)");
		free(tls);
		ts_response_free(&r);
	}
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
	/* ... and revokes every API token of the member, audited. */
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FILTER (WHERE revoked_at IS NULL) * 100 + count(*)"
	         " FROM core.api_token WHERE staff_id = %lld",
	         id);
	ck_assert_int_eq(count(sql), 1);
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.audit WHERE action = 'staff.credentials_revoked'"
	         " AND object_id = %lld AND detail->>'reason' = 'password'"
	         " AND detail->>'tokens' = '1' AND detail->>'sessions' = '1'",
	         id);
	ck_assert_int_eq(count(sql), 1);
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
	char *right = strdup(r.body);
	ts_response_free(&r);
	/* A wrong password now gets exactly the same answer. */
	login_body(body, sizeof body, "lee@example.org", "yet another guess");
	request("POST", "/api/v1/auth/login", NULL, body, 429, "core.slow_down", &r);
	ck_assert_str_eq(r.body, right);
	ts_response_free(&r);
	free(right);
	/* The count lives in core.login_throttle, keyed by a keyed hash of the
	 * email, never the email. */
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.login_throttle WHERE failures = 3 AND locked_until >"
	         " now() AND key = core.identity_throttle_key('LEE@example.org')");
	ck_assert_int_eq(count(sql), 1);
	ck_assert_int_eq(count("SELECT count(*) FROM core.login_throttle t"
	                       " WHERE position('lee' in t::text) > 0"),
	                 0);

	/* After the wait, the right password works and clears the count. */
	login_body(body, sizeof body, "lee@example.org", PASSWORD);
	usleep((useconds_t)wait * 1000000u + 200000u);
	request("POST", "/api/v1/auth/login", NULL, body, 200, NULL, &r);
	ts_response_free(&r);
	ck_assert_int_eq(count("SELECT count(*) FROM core.login_throttle WHERE failures = 0"
	                       " AND locked_until IS NULL"
	                       " AND key = core.identity_throttle_key('lee@example.org')"),
	                 1);
	/* Each failure is audited once without an organisation and once for
	 * the account's organisation, so its admins see it; the refusals
	 * while locked too. */
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.audit WHERE action = 'auth.login_failed'"
	         " AND object_id = %lld AND org_id IS NULL",
	         id);
	ck_assert_int_eq(count(sql), 3);
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.audit WHERE action = 'auth.login_failed'"
	         " AND object_id = %lld AND org_id = %lld",
	         id, ts_org_id(db, "Login org"));
	ck_assert_int_eq(count(sql), 3);
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.audit WHERE action = 'auth.login_locked'"
	         " AND object_id = %lld AND org_id = %lld",
	         id, ts_org_id(db, "Login org"));
	ck_assert_int_eq(count(sql), 2);
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
	/* "auto" with an https public address: Secure, even on loopback. */
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
	free(sa);
	start("{\"server\":{\"public_url\":\"https://waymark.example.org\"}}");
	make_staff("tls@example.org");
	set = login("tls@example.org", cookie, csrf);
	ck_assert_msg(strstr(set, "; Secure") && !strncmp(set, "waymark_session=", 16),
	              "Set-Cookie: %s", set);
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
	                       " AND detail->>'via' = 'cli' AND detail->>'expires_in_days' = '90'"),
	                 1);
	/* Like POST /tokens: 90 days unless asked, 365 at most. */
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.api_token WHERE staff_id = %lld AND name = 'script'"
	         " AND expires_at BETWEEN now() + interval '89 days 23 hours'"
	         " AND now() + interval '90 days'",
	         id);
	ck_assert_int_eq(count(sql), 1);
	const char *long_tk[] = {"token",           "create", "--user",
	                         "cli@example.org", "--name", "forever",
	                         "--expires-days",  "366",    NULL};
	ck_assert_int_eq(ts_run(long_tk, env, NULL, &err), 2);
	ck_assert_ptr_nonnull(strstr(err, "365"));
	free(err);
	const char *dup_tk[] = {"token",  "create", "--user", "cli@example.org",
	                        "--name", "script", NULL};
	ck_assert_int_eq(ts_run(dup_tk, env, NULL, &err), 1);
	ck_assert_msg(strstr(err, "already has a live token"), "stderr: %s", err);
	free(err);

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

/* --- Concurrent attempts ------------------------------------------------ */

struct shot {
	char body[256];
	const char *headers;
	pthread_barrier_t *start;
	struct ts_response r;
	int rc;
};

static void *fire(void *arg)
{
	struct shot *s = arg;
	pthread_barrier_wait(s->start);
	s->rc = ts_http(&srv, "POST", "/api/v1/auth/login",
	                s->headers ? s->headers : "Content-Type: application/json\r\n", s->body,
	                strlen(s->body), 30000, &s->r);
	return NULL;
}

/* Sends the n sign-ins at once (threads released together). */
static void volley(struct shot *shots, int n)
{
	pthread_t t[16];
	pthread_barrier_t start;
	ck_assert_int_le(n, 16);
	ck_assert_int_eq(pthread_barrier_init(&start, NULL, (unsigned)n), 0);
	for (int i = 0; i < n; i++) {
		shots[i].start = &start;
		ck_assert_int_eq(pthread_create(&t[i], NULL, fire, &shots[i]), 0);
	}
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < n; i++)
		ck_assert_msg(shots[i].rc == 0, "request %d failed", i);
}

static void volley_free(struct shot *shots, int n)
{
	for (int i = 0; i < n; i++)
		ts_response_free(&shots[i].r);
}

/* The Retry-After of a response as a number, 0 when absent. */
static int retry_after(const struct ts_response *r)
{
	char *v = ts_header(r, "Retry-After");
	int n = v ? atoi(v) : 0;
	free(v);
	return n;
}

static long long sessions_of(long long id)
{
	char sql[160];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM core.web_session WHERE staff_id = %lld",
	         id);
	return count(sql);
}

/* Seven wrong passwords and the right one at once, one failure short of the
 * lock-out: no wrong password may be answered 401 once the account is
 * locked, so whenever the right one is refused it is refused exactly like
 * the wrong ones — nothing says which password was right. Then, locked,
 * eight at once again: eight identical 429s and no session. */
START_TEST(concurrent_guesses_learn_nothing)
{
	long long id = make_staff("max@example.org");
	char body[256];
	struct ts_response r;
	login_body(body, sizeof body, "max@example.org", "wrong guess");
	for (int i = 0; i < 2; i++) {
		request("POST", "/api/v1/auth/login", NULL, body, 401, "core.bad_credentials", &r);
		ts_response_free(&r);
	}
	struct shot shots[8];
	memset(shots, 0, sizeof shots);
	for (int i = 0; i < 8; i++)
		login_body(shots[i].body, sizeof shots[i].body, "max@example.org",
		           i == 5 ? PASSWORD : "wrong guess");
	volley(shots, 8);
	int n401 = 0;
	for (int i = 0; i < 8; i++) {
		int st = shots[i].r.status;
		ck_assert_msg(st == 401 || st == 429 || (i == 5 && st == 200), "request %d: %d %s",
		              i, st, shots[i].r.body);
		n401 += st == 401;
		if (st == 429)
			ck_assert_int_ge(retry_after(&shots[i].r), 1);
	}
	if (shots[5].r.status != 200) {
		/* Only the third failure could be answered 401: it locked. */
		ck_assert_msg(n401 <= 1, "%d answers of 401 after the lock-out", n401);
		ck_assert_int_eq(sessions_of(id), 0);
		ck_assert_ptr_null(ts_header(&shots[5].r, "Set-Cookie"));
	}
	/* Every 429 reads the same, whatever the password. */
	const char *first429 = NULL;
	for (int i = 0; i < 8; i++)
		if (shots[i].r.status == 429) {
			if (!first429)
				first429 = shots[i].r.body;
			ck_assert_str_eq(shots[i].r.body, first429);
		}
	volley_free(shots, 8);

	/* Make sure it is locked (three failures), then all at once again. */
	ck_assert_int_eq(
	    ts_db_exec(db, "UPDATE core.login_throttle SET failures = 3, locked_until = now() +"
	                   " interval '60 seconds' WHERE key = core.identity_throttle_key("
	                   "'max@example.org')"),
	    0);
	long long before = sessions_of(id);
	memset(shots, 0, sizeof shots);
	for (int i = 0; i < 8; i++)
		login_body(shots[i].body, sizeof shots[i].body, "max@example.org",
		           i == 2 ? PASSWORD : "wrong guess");
	volley(shots, 8);
	for (int i = 0; i < 8; i++) {
		ck_assert_msg(shots[i].r.status == 429, "locked, request %d: %d %s", i,
		              shots[i].r.status, shots[i].r.body);
		ck_assert_str_eq(shots[i].r.body, shots[0].r.body);
		ck_assert_ptr_null(ts_header(&shots[i].r, "Set-Cookie"));
	}
	volley_free(shots, 8);
	ck_assert_int_eq(sessions_of(id), before);
}
END_TEST

/* The password check of an attempt that passed the first look finishes
 * after another locked the email: the lock is read again under FOR UPDATE
 * before answering, so the right password gets 429 and no session, and a
 * wrong one gets the same 429, not 401. The test holds the email's
 * throttle row while the attempt hashes, locks it, then lets go. */
struct held {
	const char *email, *password;
	struct ts_response r;
	int rc;
};

static void *login_thread(void *arg)
{
	struct held *h = arg;
	char body[256];
	login_body(body, sizeof body, h->email, h->password);
	h->rc = ts_http(&srv, "POST", "/api/v1/auth/login", "Content-Type: application/json\r\n",
	                body, strlen(body), 30000, &h->r);
	return NULL;
}

static void locked_meanwhile(const char *email, const char *password)
{
	PGconn *c = PQconnectdb(db);
	ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
	char sql[512];
	snprintf(sql, sizeof sql,
	         "BEGIN; INSERT INTO core.login_throttle (key) VALUES"
	         " (core.identity_throttle_key('%s')) ON CONFLICT DO NOTHING;"
	         " SELECT 1 FROM core.login_throttle WHERE key = core.identity_throttle_key('%s')"
	         " FOR UPDATE",
	         email, email);
	PGresult *res = PQexec(c, sql);
	ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	struct held h = {.email = email, .password = password};
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, login_thread, &h), 0);
	/* Wait until the attempt is blocked on the row (after hashing). */
	int waiting = 0;
	for (int i = 0; i < 1000 && !waiting; i++) {
		char *v = ts_db_value(db, "SELECT count(*) FROM pg_stat_activity WHERE datname ="
		                          " current_database() AND wait_event_type = 'Lock'");
		waiting = v && atoi(v) > 0;
		free(v);
		if (!waiting)
			usleep(10000);
	}
	ck_assert_msg(waiting, "the sign-in never waited for the throttle row");
	snprintf(sql, sizeof sql,
	         "UPDATE core.login_throttle SET failures = 9, locked_until = now() + interval"
	         " '60 seconds' WHERE key = core.identity_throttle_key('%s'); COMMIT",
	         email);
	res = PQexec(c, sql);
	ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	PQfinish(c);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(h.rc, 0);
	ck_assert_msg(h.r.status == 429, "%s with %s: %d %s", email, password, h.r.status,
	              h.r.body);
	char *code = ts_error_code(&h.r);
	ck_assert_str_eq(code, "core.slow_down");
	free(code);
	ck_assert_int_ge(retry_after(&h.r), 1);
	ck_assert_ptr_null(ts_header(&h.r, "Set-Cookie"));
	ts_response_free(&h.r);
}

START_TEST(a_lock_during_the_check_is_honoured)
{
	long long right = make_staff("ria@example.org");
	make_staff("wes@example.org");
	locked_meanwhile("ria@example.org", PASSWORD);
	ck_assert_int_eq(sessions_of(right), 0);
	locked_meanwhile("wes@example.org", "not the password");
	/* Neither was counted as a failure or a success. */
	ck_assert_int_eq(count("SELECT count(*) FROM core.login_throttle WHERE failures = 9"), 2);
	ck_assert_int_eq(count("SELECT count(*) FROM core.audit WHERE action = 'auth.login_locked'"
	                       " AND org_id IS NULL"),
	                 2);
}
END_TEST

/* Several sign-ins from one address at once: at most four are checked at
 * a time, the rest are told to come back in a second. */
START_TEST(one_address_gets_four_checks_at_a_time)
{
	struct shot shots[10];
	memset(shots, 0, sizeof shots);
	for (int i = 0; i < 10; i++)
		snprintf(shots[i].body, sizeof shots[i].body,
		         "{\"email\":\"crowd%d@example.org\",\"password\":\"guess\"}", i);
	volley(shots, 10);
	int refused = 0;
	for (int i = 0; i < 10; i++) {
		ck_assert_msg(shots[i].r.status == 401 || shots[i].r.status == 429, "%d: %d", i,
		              shots[i].r.status);
		if (shots[i].r.status == 429) {
			refused++;
			ck_assert_int_eq(retry_after(&shots[i].r), 1);
		}
	}
	ck_assert_msg(refused >= 1, "ten sign-ins at once from one address all went through");
	volley_free(shots, 10);
	/* Nothing stays held: one at a time, they all get their answer. */
	char body[256];
	struct ts_response r;
	for (int i = 0; i < 5; i++) {
		login_body(body, sizeof body, "crowd@example.org", "guess");
		ck_assert_int_eq(ts_http(&srv, "POST", "/api/v1/auth/login",
		                         "Content-Type: application/json\r\n", body, strlen(body),
		                         10000, &r),
		                 0);
		ck_assert_int_ne(r.status, 503);
		ts_response_free(&r);
		if (i == 2)
			ck_assert_int_eq(ts_db_exec(db, "DELETE FROM core.login_throttle"), 0);
	}
}
END_TEST

/* An email nobody has is throttled exactly like one of an account: the
 * same answers in the same order, so the lock-out says nothing about which
 * emails exist. The key is an HMAC of the lower-cased email under the
 * instance's own random key. */
START_TEST(unknown_emails_lock_like_known_ones)
{
	make_staff("kim@example.org");
	const char *emails[] = {"kim@example.org", "ghost@example.org"};
	char *bodies[2][5];
	int status[2][5];
	for (int e = 0; e < 2; e++) {
		char body[256];
		login_body(body, sizeof body, emails[e], "wrong guess");
		for (int i = 0; i < 5; i++) {
			struct ts_response r;
			ck_assert_int_eq(ts_http(&srv, "POST", "/api/v1/auth/login",
			                         "Content-Type: application/json\r\n", body,
			                         strlen(body), 10000, &r),
			                 0);
			status[e][i] = r.status;
			bodies[e][i] = strdup(r.body);
			ts_response_free(&r);
		}
	}
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(status[0][i], i < 3 ? 401 : 429);
		ck_assert_int_eq(status[1][i], status[0][i]);
		ck_assert_str_eq(bodies[1][i], bodies[0][i]);
		free(bodies[0][i]);
		free(bodies[1][i]);
	}
	/* Both were locked (the first lock may have run out by now on a slow
	 * machine: it lasts a second). */
	ck_assert_int_eq(count("SELECT count(*) FROM core.login_throttle WHERE failures = 3"
	                       " AND locked_until IS NOT NULL"),
	                 2);

	/* The key: HMAC-SHA-256(instance key, lower(email)). */
	char *khex = ts_db_value(db, "SELECT encode(login_key, 'hex') FROM core.instance");
	ck_assert_ptr_nonnull(khex);
	ck_assert_int_ge(strlen(khex), 64);
	unsigned char key[64], mac[crypto_auth_hmacsha256_BYTES];
	size_t klen = 0;
	ck_assert_int_eq(sodium_init() >= 0, 1);
	ck_assert_int_eq(sodium_hex2bin(key, sizeof key, khex, strlen(khex), NULL, &klen, NULL), 0);
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, klen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)"ghost@example.org", 17);
	crypto_auth_hmacsha256_final(&st, mac);
	char want[2 * sizeof mac + 1];
	sodium_bin2hex(want, sizeof want, mac, sizeof mac);
	char *got = ts_db_value(db, "SELECT core.identity_throttle_key('Ghost@Example.org')");
	ck_assert_str_eq(got, want);
	free(got);
	free(khex);
	ck_assert_int_eq(count("SELECT count(*) FROM core.login_throttle WHERE failures = 3"
	                       " AND key = core.identity_throttle_key('ghost@example.org')"),
	                 1);
}
END_TEST

/* Guessing one's current password in PATCH /staff/{id} counts on the same
 * throttle as sign-in: audited, then refused with 429 even for the right
 * one, and sign-in to that email is locked too. */
START_TEST(current_password_guessing_is_throttled)
{
	long long id = make_staff("pat@example.org");
	char cookie[128], csrf[80], headers[512], path[64], sql[256];
	struct ts_response r;
	free(login("pat@example.org", cookie, csrf));
	snprintf(headers, sizeof headers, "Cookie: %s\r\nX-CSRF-Token: %s\r\n", cookie, csrf);
	snprintf(path, sizeof path, "/api/v1/staff/%lld", id);
	snprintf(sql, sizeof sql, "SELECT password_hash FROM core.staff WHERE id = %lld", id);
	char *hash_before = ts_db_value(db, sql);
	for (int i = 0; i < 3; i++) {
		request("PATCH", path, headers,
		        "{\"password\":\"a brand new passphrase\",\"current_password\":\"guess\"}",
		        422, "core.bad_password", &r);
		ts_response_free(&r);
	}
	request("PATCH", path, headers,
	        "{\"password\":\"a brand new passphrase\",\"current_password\":\"" PASSWORD "\"}",
	        429, "core.slow_down", &r);
	ck_assert_int_ge(retry_after(&r), 1);
	ts_response_free(&r);
	char *hash_after = ts_db_value(db, sql);
	ck_assert_str_eq(hash_after, hash_before);
	free(hash_before);
	free(hash_after);
	char body[256];
	login_body(body, sizeof body, "pat@example.org", PASSWORD);
	request("POST", "/api/v1/auth/login", NULL, body, 429, "core.slow_down", &r);
	ts_response_free(&r);
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.audit WHERE action = 'staff.password_failed'"
	         " AND object_id = %lld AND actor_staff_id = %lld AND org_id = %lld",
	         id, id, ts_org_id(db, "Login org"));
	ck_assert_int_eq(count(sql), 3);
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.audit WHERE action = 'staff.password_locked'"
	         " AND object_id = %lld",
	         id);
	ck_assert_int_ge(count(sql), 1);
	/* A stray query parameter is refused, naming it. */
	snprintf(path, sizeof path, "/api/v1/staff/%lld?x=1", id);
	request("PATCH", path, headers, "{\"display_name\":\"Pat\"}", 400, "core.bad_query", &r);
	ts_response_free(&r);
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
	tcase_add_test(tc, concurrent_guesses_learn_nothing);
	tcase_add_test(tc, a_lock_during_the_check_is_honoured);
	tcase_add_test(tc, one_address_gets_four_checks_at_a_time);
	tcase_add_test(tc, unknown_emails_lock_like_known_ones);
	tcase_add_test(tc, current_password_guessing_is_throttled);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
