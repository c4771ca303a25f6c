/*
 * api_login — browser sign-in, sign-out and "who am I".
 *
 * POST /auth/login takes several steps, each a callback, with one state
 * struct per request that every path frees and one reply:
 *   0. the gate (login_throttle.h): one check per account and a few per
 *      peer address in flight, else 429 core.slow_down at once;
 *   1. look the account up (not disabled) and the email's throttle row —
 *      counted for unknown emails too, so a lock-out says nothing about
 *      which emails exist; locked → 429 core.slow_down;
 *   2. verify the password on a hashing thread (workq.h) — against a fixed
 *      dummy hash when the email is unknown, so the time taken does not say
 *      which emails exist;
 *   3. both outcomes lock the throttle row and read it again: locked
 *      meanwhile → 429, the same answer for the right and a wrong password
 *      (and no session); else success resets the count, opens a
 *      web_session (secret.h) and replies with the session cookie and the
 *      CSRF token derived from it; failure counts (locking the email for a
 *      while once there have been auth.login_max_failures) and replies 401
 *      core.bad_credentials — the same for an unknown email and a wrong
 *      password.
 * Every attempt is audited; neither password nor hash is ever logged, and
 * the raw body is wiped as soon as it is parsed.
 */
#include <arpa/inet.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "auth.h"
#include "db.h"
#include "login_throttle.h"
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

/* {"staff_id", "hash"} or {"retry_after"} (identity_login_lookup). */
static const char lookup_sql[] =
    "SELECT core.identity_login_lookup($1::bigint, $2::inet, $3::text, $4::text)";
static const char succeed_sql[] =
    "SELECT core.identity_login_succeed($1::bigint, $2::inet, $3::text, $4::bigint, $5::text,"
    " $6::text, $7::text, $8::int)";
static const char fail_sql[] = "SELECT core.identity_login_fail($1::bigint, $2::inet, $3::text,"
                               " $4::bigint, $5::text, $6::int, $7::int)";
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
	char *email; /* as typed: names the throttle row */
	char hash[crypto_pwhash_STRBYTES];
	char staff_id[24]; /* "" when no account has this email */
	int ok;
	int slot; /* the gate's, released with the reply */
	struct secret session;
};

static void login_free(struct login *l)
{
	if (l->password) {
		sodium_memzero(l->password, l->password_len);
		free(l->password);
	}
	free(l->email);
	login_gate_leave(&l->slot);
	sodium_memzero(l, sizeof *l);
	free(l);
}

static void bad_credentials(struct wm_req *req)
{
	req_reply_error(req, 401, "core.bad_credentials", NULL,
	                "The email or the password is not right.");
}

/* The reply of a statement returning one JSON object: parsed, or NULL
 * after replying (error, no row). */
static json_t *result_json(struct wm_req *req, const struct wm_db_result *res)
{
	const char *text = db_result_value(res, 0, 0);
	json_t *body = text ? json_loads(text, 0, NULL) : NULL;
	if (db_result_error(res) != WM_DB_OK)
		api_reply_db_error(req, res);
	else if (text && !body)
		req_reply_error(req, 500, "core.internal", NULL, "Malformed result.");
	else if (!text)
		bad_credentials(req); /* disabled meanwhile */
	return body;
}

/* 127.0.0.0/8, ::1 or localhost: the host part of http.listen. */
static int loopback_listen(const char *listen)
{
	char host[64];
	const char *colon = listen ? strrchr(listen, ':') : NULL;
	unsigned char a[16];
	if (!colon || (size_t)(colon - listen) >= sizeof host)
		return 0;
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	if (!strcmp(host, "localhost") || !strcmp(host, "[::1]"))
		return 1;
	return inet_pton(AF_INET, host, a) == 1 && a[0] == 127;
}

/* X-Forwarded-Proto names https (a proxy on this host ended TLS). */
static int forwarded_https(struct wm_req *req)
{
	const char *v = req_header(req, "X-Forwarded-Proto");
	while (v && *v) {
		v += strspn(v, " \t,");
		size_t n = strcspn(v, " \t,");
		if (n == 5 && !strncasecmp(v, "https", 5))
			return 1;
		v += n;
	}
	return 0;
}

/* "auto": Secure unless the server listens on loopback only and neither
 * the request (through a proxy) nor server.public_url says https — i.e.
 * only on a developer's own machine over plain HTTP. */
static int cookie_secure(struct wm_req *req)
{
	const struct config *cfg = &req->srv->cfg;
	const char *mode = cfg->auth_cookie_secure ? cfg->auth_cookie_secure : "auto";
	if (!strcmp(mode, "always"))
		return 1;
	if (!strcmp(mode, "never"))
		return 0;
	return !loopback_listen(cfg->listen) || forwarded_https(req) ||
	       (cfg->public_url && !strncasecmp(cfg->public_url, "https://", 8));
}

static void set_cookie(struct wm_req *req, const char *value, long long max_age)
{
	char c[256];
	snprintf(c, sizeof c, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s",
	         AUTH_COOKIE_NAME, value, max_age, cookie_secure(req) ? "; Secure" : "");
	req_add_header(req, "Set-Cookie", c);
	sodium_memzero(c, sizeof c);
}

static void succeeded(void *arg, const struct wm_db_result *res)
{
	struct login *l = arg;
	struct wm_req *req = l->req;
	json_t *body = result_json(req, res);
	if (body && !login_reply_if_locked(req, body)) {
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
	json_t *body = result_json(l->req, res);
	if (body && !login_reply_if_locked(l->req, body))
		bad_credentials(l->req);
	json_decref(body);
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
		login_reply_busy(req);
		login_free(l);
		return;
	}
	api_ctx(req, &ctx);
	if (l->ok && l->staff_id[0]) {
		secret_new(&l->session);
		snprintf(a, sizeof a, "%lld", req->srv->cfg.auth_session_ttl_s);
		const char *p[] = {ctx.staff,           ctx.addr, ctx.rid,
		                   l->staff_id,         l->email, l->session.selector,
		                   l->session.hash_hex, a};
		st = db_exec_prepared(req->srv->pool, "core.login_succeed", 8, p, succeeded, l);
	} else {
		snprintf(a, sizeof a, "%lld", req->srv->cfg.auth_login_max_failures);
		snprintf(b, sizeof b, "%lld", req->srv->cfg.auth_login_lockout_max_s);
		const char *p[] = {
		    ctx.staff, ctx.addr, ctx.rid, l->staff_id[0] ? l->staff_id : NULL,
		    l->email,  a,        b};
		st = db_exec_prepared(req->srv->pool, "core.login_fail", 7, p, failed, l);
	}
	if (st != WM_OK) {
		req_reply_error(req, 500, "core.internal", NULL, "Cannot run the query.");
		login_free(l);
	}
}

static void looked_up(void *arg, const struct wm_db_result *res)
{
	struct login *l = arg;
	json_t *body = result_json(l->req, res);
	const char *hash = dummy_hash;
	if (!body || login_reply_if_locked(l->req, body)) {
		json_decref(body);
		login_free(l);
		return;
	}
	json_t *id = json_object_get(body, "staff_id");
	const char *stored = json_string_value(json_object_get(body, "hash"));
	if (json_is_integer(id)) {
		snprintf(l->staff_id, sizeof l->staff_id, "%lld",
		         (long long)json_integer_value(id));
		/* A hash that does not fit cannot match: the dummy then fails. */
		if (stored && strlen(stored) < sizeof l->hash)
			hash = stored;
	}
	memcpy(l->hash, hash, strlen(hash) + 1);
	json_decref(body);
	if (workq_submit(l->req->srv->pwq, verify, verified, l) != WM_OK) {
		login_reply_busy(l->req);
		login_free(l);
	}
}

/* After the body is parsed and its raw bytes wiped: validates, copies the
 * password, passes the gate and looks the account up. */
static void login_start(struct wm_req *req, json_t *body)
{
	static const char *const allowed[] = {"email", "password", NULL};
	static const char *const none[] = {NULL};
	json_t *pw;
	const char *email = NULL;
	struct api_ctx ctx;
	if (api_query_only(req, none) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
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
	if (l && (!(l->password = malloc(len + 1)) || !(l->email = strdup(email)))) {
		free(l->password);
		free(l);
		l = NULL;
	}
	if (!l) {
		req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
		return;
	}
	l->req = req;
	l->slot = -1;
	memcpy(l->password, json_string_value(pw), len + 1);
	l->password_len = len;
	if ((l->slot = login_gate_enter(req, LOGIN_GATE_SIGN_IN, email)) < 0) {
		login_free(l);
		return;
	}
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, email};
	if (db_exec_prepared(req->srv->pool, "core.login_lookup", 4, p, looked_up, l) != WM_OK) {
		req_reply_error(req, 500, "core.internal", NULL, "Cannot run the query.");
		login_free(l);
	}
}

static void login(struct wm_req *req, void *state)
{
	json_t *body;
	if (login_secret_json(req, &body) != WM_OK)
		return;
	/* Held past the reply (which frees req), so the password's text in the
	 * parsed body is wiped on every path. */
	json_incref(body);
	login_start(req, body);
	login_wipe_string(body, "password");
	json_decref(body);
}

static void logout(struct wm_req *req, void *state)
{
	static const char *const none[] = {NULL};
	const char *sel = req->session_selector;
	struct api_ctx ctx;
	if (api_query_only(req, none) != WM_OK)
		return;
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
	static const char *const none[] = {NULL};
	struct api_ctx ctx;
	if (api_query_only(req, none) != WM_OK)
		return;
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
	    "with Retry-After after repeated failures for the email (known or not), whatever the "
	    "password, or while another sign-in to it is being checked.",
	    login_schema, session_schema, 200};
	static const struct wm_route_doc logout_doc = {
	    "End the browser session the request came with (nothing for a bearer token).", NULL,
	    NULL, 204};
	static const struct wm_route_doc me_doc = {
	    "Who the caller is, their memberships, and whether a session or a token says so.", NULL,
	    me_schema, 200};
	const unsigned all = WM_ROLES_ALL | WM_ACCESS_SERVER_ADMIN;
	if (api_prepare(srv, "login_lookup", lookup_sql, 4) != WM_OK ||
	    api_prepare(srv, "login_succeed", succeed_sql, 8) != WM_OK ||
	    api_prepare(srv, "login_fail", fail_sql, 7) != WM_OK ||
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
