/*
 * api_login — browser sign-in, sign-out and "who am I".
 *
 * POST /auth/login takes several steps, each a callback, with one state
 * struct per request that every path frees and one reply:
 *   1. look the account up (not disabled); locked → 429 core.slow_down;
 *   2. verify the password on a hashing thread (workq.h) — against a fixed
 *      dummy hash when the email is unknown, so the time taken does not say
 *      which emails exist;
 *   3. success: reset the failure count and open a web_session (secret.h),
 *      reply with the session cookie and the CSRF token derived from it;
 *      failure: count it (and lock the account for a while once there have
 *      been auth.login_max_failures), reply 401 core.bad_credentials — the
 *      same answer for an unknown email and a wrong password.
 * Every attempt is audited; neither password nor hash is ever logged.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "auth.h"
#include "db.h"
#include "req.h"
#include "secret.h"
#include "server.h"
#include "workq.h"

#define EMAIL_MAX          254
#define PASSWORD_MAX_CHARS 1024

/* crypto_pwhash_str of a random password nobody knows, with the same
 * parameters as real hashes (argon2id, interactive limits). */
static const char dummy_hash[] = "$argon2id$v=19$m=65536,t=2,p=1$vCprWgOFc6Y76kOlPpA0qw$"
                                 "J+8A7m1RZTMTVP6RnJKvI2CkTyrrYMs03dhyaQ3MaNw";

#define ME_PROPS                                                                                   \
	"\"id\":{\"type\":\"integer\"},\"email\":{\"type\":\"string\"},"                           \
	"\"display_name\":{\"type\":\"string\"},\"server_admin\":{\"type\":\"boolean\"},"          \
	"\"memberships\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"      \
	"\"organisation_id\":{\"type\":\"integer\"},\"organisation\":{\"type\":\"string\"},"       \
	"\"role\":{\"type\":\"string\"}}}}"

static const char login_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"email\",\"password\"],"
    "\"properties\":{\"email\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":254},"
    "\"password\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1024}}}";
static const char session_schema[] =
    "{\"type\":\"object\",\"required\":[\"staff\",\"csrf_token\",\"expires_at\"],"
    "\"properties\":{\"staff\":{\"type\":\"object\",\"properties\":{" ME_PROPS "}},"
    "\"csrf_token\":{\"type\":\"string\",\"description\":\"send as X-CSRF-Token on unsafe "
    "methods\"},\"expires_at\":{\"type\":\"string\",\"format\":\"date-time\"}}}";
static const char me_schema[] =
    "{\"type\":\"object\",\"required\":[\"id\",\"email\",\"memberships\",\"via\"],"
    "\"properties\":{" ME_PROPS ",\"via\":{\"enum\":[\"session\",\"token\"]}}}";

/* id, stored hash (NULL when none), seconds still locked (NULL when not). */
static const char lookup_sql[] =
    "SELECT s.id, s.password_hash,"
    " CASE WHEN s.locked_until > now()"
    "  THEN greatest(1, ceil(extract(epoch FROM s.locked_until - now())))::int END"
    " FROM core.staff s, (SELECT $1::bigint, $2::inet, $3::text) ctx"
    " WHERE lower(s.email) = lower($4::text) AND s.disabled_at IS NULL";
static const char succeed_sql[] =
    "SELECT core.identity_login_succeed($1::bigint, $2::inet, $3::text, $4::bigint, $5::text,"
    " $6::text, $7::int)";
static const char fail_sql[] = "SELECT core.identity_login_fail($1::bigint, $2::inet, $3::text,"
                               " $4::bigint, $5::int, $6::int)";
static const char logout_sql[] =
    "WITH w AS (UPDATE core.web_session SET revoked_at = now()"
    "  WHERE selector = $4::text AND staff_id = $1::bigint AND revoked_at IS NULL RETURNING id),"
    " a AS (INSERT INTO core.audit (actor_staff_id, action, object_type, object_id,"
    "  remote_addr, request_id) SELECT $1::bigint, 'auth.logout', 'staff', $1::bigint,"
    "  $2::inet, $3::text FROM w)"
    " SELECT '{}'::json";
static const char me_sql[] = "SELECT core.identity_me_json($1::bigint)"
                             " || jsonb_build_object('via', $4::text)"
                             " FROM (SELECT $2::inet, $3::text) ctx";

struct login {
	struct wm_req *req;
	char *password; /* wiped as soon as it is checked */
	size_t password_len;
	char hash[crypto_pwhash_STRBYTES];
	char staff_id[24]; /* "" when no account has this email */
	int ok;
	struct secret session;
};

static void login_free(struct login *l)
{
	if (l->password) {
		sodium_memzero(l->password, l->password_len);
		free(l->password);
	}
	sodium_memzero(l, sizeof *l);
	free(l);
}

static void busy(struct wm_req *req)
{
	req_add_header(req, "Retry-After", "1");
	req_reply_error(req, 503, "core.busy", NULL, "The server is busy; try again.");
}

static void slow_down(struct wm_req *req, const char *seconds)
{
	req_add_header(req, "Retry-After", seconds);
	req_reply_error(req, 429, "core.slow_down", NULL,
	                "Too many failed sign-ins; wait %s seconds before trying again.", seconds);
}

static void bad_credentials(struct wm_req *req)
{
	req_reply_error(req, 401, "core.bad_credentials", NULL,
	                "The email or the password is not right.");
}

static int cookie_secure(const struct config *cfg)
{
	const char *mode = cfg->auth_cookie_secure ? cfg->auth_cookie_secure : "auto";
	if (!strcmp(mode, "always"))
		return 1;
	return !strcmp(mode, "auto") && cfg->public_url &&
	       !strncasecmp(cfg->public_url, "https://", 8);
}

static void set_cookie(struct wm_req *req, const char *value, long long max_age)
{
	char c[256];
	snprintf(c, sizeof c, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s",
	         AUTH_COOKIE_NAME, value, max_age, cookie_secure(&req->srv->cfg) ? "; Secure" : "");
	req_add_header(req, "Set-Cookie", c);
	sodium_memzero(c, sizeof c);
}

static void succeeded(void *arg, const struct wm_db_result *res)
{
	struct login *l = arg;
	struct wm_req *req = l->req;
	const char *text = db_result_value(res, 0, 0);
	json_t *body = text ? json_loads(text, 0, NULL) : NULL;
	json_t *retry = json_object_get(body, "retry_after");
	if (db_result_error(res) != WM_DB_OK) {
		api_reply_db_error(req, res);
	} else if (!text) {
		bad_credentials(req); /* disabled meanwhile */
	} else if (!body) {
		req_reply_error(req, 500, "core.internal", NULL, "Malformed result.");
	} else if (json_is_integer(retry)) {
		char secs[24];
		snprintf(secs, sizeof secs, "%lld", (long long)json_integer_value(retry));
		slow_down(req, secs);
	} else {
		char cookie[SECRET_LEN + 1], csrf[65];
		secret_format(&l->session, NULL, cookie, sizeof cookie);
		secret_derive(&l->session, AUTH_CSRF_PURPOSE, csrf);
		set_cookie(req, cookie, req->srv->cfg.auth_session_ttl_s);
		json_object_set_new(body, "csrf_token", json_string(csrf));
		sodium_memzero(cookie, sizeof cookie);
		sodium_memzero(csrf, sizeof csrf);
		req_reply_json(req, 200, body);
		body = NULL;
	}
	json_decref(body);
	login_free(l);
}

static void failed(void *arg, const struct wm_db_result *res)
{
	struct login *l = arg;
	if (db_result_error(res) != WM_DB_OK)
		api_reply_db_error(l->req, res);
	else
		bad_credentials(l->req);
	login_free(l);
}

/* On a hashing thread: touches only the job. */
static void verify(void *arg)
{
	struct login *l = arg;
	l->ok = crypto_pwhash_str_verify(l->hash, l->password, l->password_len) == 0;
	sodium_memzero(l->password, l->password_len);
}

static void verified(void *arg, int cancelled)
{
	struct login *l = arg;
	struct wm_req *req = l->req;
	struct api_ctx ctx;
	char a[24], b[24];
	wm_status st;
	if (cancelled) {
		busy(req);
		login_free(l);
		return;
	}
	api_ctx(req, &ctx);
	if (l->ok && l->staff_id[0]) {
		secret_new(&l->session);
		snprintf(a, sizeof a, "%lld", req->srv->cfg.auth_session_ttl_s);
		const char *p[] = {
		    ctx.staff,           ctx.addr, ctx.rid, l->staff_id, l->session.selector,
		    l->session.hash_hex, a};
		st = db_exec_prepared(req->srv->pool, "core.login_succeed", 7, p, succeeded, l);
	} else {
		snprintf(a, sizeof a, "%lld", req->srv->cfg.auth_login_max_failures);
		snprintf(b, sizeof b, "%lld", req->srv->cfg.auth_login_lockout_max_s);
		const char *p[] = {
		    ctx.staff, ctx.addr, ctx.rid, l->staff_id[0] ? l->staff_id : NULL, a, b};
		st = db_exec_prepared(req->srv->pool, "core.login_fail", 6, p, failed, l);
	}
	if (st != WM_OK) {
		req_reply_error(req, 500, "core.internal", NULL, "Cannot run the query.");
		login_free(l);
	}
}

static void looked_up(void *arg, const struct wm_db_result *res)
{
	struct login *l = arg;
	const char *hash = dummy_hash;
	if (db_result_error(res) != WM_DB_OK) {
		api_reply_db_error(l->req, res);
		login_free(l);
		return;
	}
	if (db_result_ntuples(res) == 1) {
		const char *locked = db_result_value(res, 0, 2);
		if (locked) {
			slow_down(l->req, locked);
			login_free(l);
			return;
		}
		snprintf(l->staff_id, sizeof l->staff_id, "%s", db_result_value(res, 0, 0));
		const char *stored = db_result_value(res, 0, 1);
		if (stored && strlen(stored) < sizeof l->hash)
			hash = stored;
	}
	memcpy(l->hash, hash, strlen(hash) + 1);
	if (workq_submit(l->req->srv->pwq, verify, verified, l) != WM_OK) {
		busy(l->req);
		login_free(l);
	}
}

static void login(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"email", "password", NULL};
	json_t *body, *pw;
	const char *email = NULL;
	struct api_ctx ctx;
	if (req_json(req, &body) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
	    req_json_string(req, body, "email", EMAIL_MAX, 1, &email) != WM_OK)
		return;
	pw = json_object_get(body, "password");
	if (!pw || json_is_null(pw)) {
		req_reply_error(req, 400, "core.missing_field", "password",
		                "password is required.");
		return;
	}
	size_t chars = 0;
	for (size_t i = 0; json_is_string(pw) && i < json_string_length(pw); i++)
		chars += ((unsigned char)json_string_value(pw)[i] & 0xc0) != 0x80;
	if (!json_is_string(pw) || chars == 0 || chars > PASSWORD_MAX_CHARS) {
		req_reply_error(req, 400, "core.bad_password", "password",
		                "password must be text of 1 to %d characters.", PASSWORD_MAX_CHARS);
		return;
	}
	struct login *l = calloc(1, sizeof *l);
	size_t len = json_string_length(pw);
	if (l && !(l->password = malloc(len + 1))) {
		free(l);
		l = NULL;
	}
	if (!l) {
		req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
		return;
	}
	l->req = req;
	memcpy(l->password, json_string_value(pw), len + 1);
	l->password_len = len;
	/* The copy is the only one left: the body's text is wiped now. */
	sodium_memzero((char *)json_string_value(pw), len);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, email};
	if (db_exec_prepared(req->srv->pool, "core.login_lookup", 4, p, looked_up, l) != WM_OK) {
		req_reply_error(req, 500, "core.internal", NULL, "Cannot run the query.");
		login_free(l);
	}
}

static void logout(struct wm_req *req, void *state)
{
	const char *sel = req->session_selector;
	struct api_ctx ctx;
	/* With a bearer token there is no session to end. */
	if (!req->caller.via_session || !sel[0]) {
		req_reply_json(req, 204, NULL);
		return;
	}
	set_cookie(req, "", 0);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, sel};
	if (api_exec(req, "core.login_logout", 4, p, 204, NULL) != WM_OK)
		return;
}

static void me(struct wm_req *req, void *state)
{
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid,
	                   req->caller.via_session ? "session" : "token"};
	if (api_exec(req, "core.login_me", 4, p, 200, NULL) != WM_OK)
		return;
}

wm_status api_login_register(struct server *srv)
{
	static const struct wm_route_doc login_doc = {
	    "Sign in with email and password: sets the waymark_session cookie and returns the "
	    "CSRF token to send on unsafe requests. 401 core.bad_credentials; 429 core.slow_down "
	    "after repeated failures.",
	    login_schema, session_schema, 200};
	static const struct wm_route_doc logout_doc = {
	    "End the browser session the request came with (nothing for a bearer token).", NULL,
	    NULL, 204};
	static const struct wm_route_doc me_doc = {
	    "Who the caller is, their memberships, and whether a session or a token says so.", NULL,
	    me_schema, 200};
	const unsigned all = WM_ROLES_ALL | WM_ACCESS_SERVER_ADMIN;
	if (api_prepare(srv, "login_lookup", lookup_sql, 4) != WM_OK ||
	    api_prepare(srv, "login_succeed", succeed_sql, 7) != WM_OK ||
	    api_prepare(srv, "login_fail", fail_sql, 6) != WM_OK ||
	    api_prepare(srv, "login_logout", logout_sql, 4) != WM_OK ||
	    api_prepare(srv, "login_me", me_sql, 4) != WM_OK)
		return WM_ERR;
	if (api_route(srv, WM_POST, "/api/v1/auth/login", login, &login_doc, WM_ACCESS_PUBLIC) !=
	        WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/auth/logout", logout, &logout_doc, all) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/auth/me", me, &me_doc, all) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
