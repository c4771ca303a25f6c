/*
 * auth — the step between the router and the handler. See auth.h for the
 * rules; this file is the mechanics: header parsing, the lookup query, the
 * constant-time check, CSRF, the role check, and a throttled "last used"
 * update that never delays the request.
 */
#include <event2/http.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "db.h"
#include "log.h"
#include "req.h"
#include "secret.h"
#include "server.h"

static const char *const role_names[] = {"admin", "coordinator", "facilitator", "mentor",
                                         "commissioner"};

const char *auth_role_name(unsigned role)
{
	for (unsigned i = 0; i < sizeof role_names / sizeof role_names[0]; i++)
		if (role == 1u << i)
			return role_names[i];
	return NULL;
}

unsigned auth_role_parse(const char *name)
{
	for (unsigned i = 0; name && i < sizeof role_names / sizeof role_names[0]; i++)
		if (!strcmp(name, role_names[i]))
			return 1u << i;
	return 0;
}

json_t *auth_access_json(unsigned access)
{
	json_t *a = json_array();
	if (access == WM_ACCESS_PUBLIC) {
		json_array_append_new(a, json_string("public"));
		return a;
	}
	for (unsigned i = 0; i < sizeof role_names / sizeof role_names[0]; i++)
		if (access & (1u << i))
			json_array_append_new(a, json_string(role_names[i]));
	if (access & WM_ACCESS_SERVER_ADMIN)
		json_array_append_new(a, json_string("server_admin"));
	return a;
}

/* Both lookups return: credential id, verifier hash, staff id, server
 * admin, role bits, and whether "last used" is stale enough to update. */
static const char token_sql[] =
    "SELECT t.id, t.verifier_hash, s.id, s.server_admin,"
    " COALESCE((SELECT bit_or(core.role_bit(m.role)) FROM core.membership m"
    "  JOIN core.organisation o ON o.id = m.org_id AND o.archived_at IS NULL"
    "  WHERE m.staff_id = s.id), 0),"
    " t.last_used_at IS NULL OR t.last_used_at < now() - interval '60 seconds'"
    " FROM core.api_token t JOIN core.staff s ON s.id = t.staff_id"
    " WHERE t.selector = $1 AND t.revoked_at IS NULL"
    " AND (t.expires_at IS NULL OR t.expires_at > now()) AND s.disabled_at IS NULL";

static const char session_sql[] =
    "SELECT w.id, w.verifier_hash, s.id, s.server_admin,"
    " COALESCE((SELECT bit_or(core.role_bit(m.role)) FROM core.membership m"
    "  JOIN core.organisation o ON o.id = m.org_id AND o.archived_at IS NULL"
    "  WHERE m.staff_id = s.id), 0),"
    " w.last_seen_at < now() - interval '60 seconds'"
    " FROM core.web_session w JOIN core.staff s ON s.id = w.staff_id"
    " WHERE w.selector = $1 AND w.revoked_at IS NULL AND w.expires_at > now()"
    " AND w.last_seen_at > now() - make_interval(secs => $2::int)"
    " AND s.disabled_at IS NULL";

static const char touch_token_sql[] =
    "UPDATE core.api_token SET last_used_at = now() WHERE id = $1";
static const char touch_session_sql[] =
    "UPDATE core.web_session SET last_seen_at = now() WHERE id = $1";

wm_status auth_prepare(struct db_pool *pool)
{
	if (db_pool_prepare(pool, "core.auth_token", token_sql, 1) != WM_OK ||
	    db_pool_prepare(pool, "core.auth_session", session_sql, 2) != WM_OK ||
	    db_pool_prepare(pool, "core.auth_touch_token", touch_token_sql, 1) != WM_OK ||
	    db_pool_prepare(pool, "core.auth_touch_session", touch_session_sql, 1) != WM_OK)
		return WM_ERR;
	return WM_OK;
}

static void unauthenticated(struct wm_req *req, const char *code, const char *msg)
{
	req_add_header(req, "WWW-Authenticate", "Bearer realm=\"waymark\"");
	req_reply_error(req, 401, code, NULL, "%s", msg);
}

static void run_handler(struct wm_req *req)
{
	const struct route *rt = req->route;
	if (rt->access != WM_ACCESS_PUBLIC) {
		const struct wm_caller *c = &req->caller;
		int ok = (rt->access & WM_ROLES_ALL & c->roles) ||
		         ((rt->access & WM_ACCESS_SERVER_ADMIN) && c->server_admin);
		if (!ok) {
			req_reply_error(req, 403, "core.forbidden", NULL,
			                "Your roles do not allow this.");
			return;
		}
	}
	rt->handler(req, rt->state);
}

static void touched(void *arg, const struct wm_db_result *res)
{
	if (db_result_error(res) != WM_DB_OK)
		log_msg(WM_LOG_DEBUG, "auth", "last-used update failed; retried next request");
}

static int safe_method(enum wm_method m)
{
	return m == WM_GET || m == WM_HEAD || m == WM_OPTIONS;
}

static void on_lookup(void *arg, const struct wm_db_result *res)
{
	struct wm_req *req = arg;
	struct secret *s = &req->auth_secret;
	if (db_result_error(res) != WM_DB_OK) {
		sodium_memzero(s, sizeof *s);
		req_reply_db_error(req, res);
		return;
	}
	/* Every column is NOT NULL by the query's construction; a row that
	 * still lacks one is treated as no credential rather than trusted. */
	int found = db_result_ntuples(res) == 1 && db_result_value(res, 0, 0) &&
	            db_result_value(res, 0, 2) && db_result_value(res, 0, 3) &&
	            db_result_value(res, 0, 4) && db_result_value(res, 0, 5) &&
	            secret_verify(s, db_result_value(res, 0, 1));
	if (!found) {
		sodium_memzero(s, sizeof *s);
		unauthenticated(req, "core.bad_credentials",
		                "The token or session is not valid (unknown, expired or revoked).");
		return;
	}
	if (req->caller.via_session && !safe_method(req->method)) {
		char want[65];
		const char *got =
		    evhttp_find_header(evhttp_request_get_input_headers(req->ev), AUTH_CSRF_HEADER);
		secret_derive(s, AUTH_CSRF_PURPOSE, want);
		int ok = got && strlen(got) == 64 && sodium_memcmp(got, want, 64) == 0;
		sodium_memzero(want, sizeof want);
		if (!ok) {
			sodium_memzero(s, sizeof *s);
			req_reply_error(req, 403, "core.csrf", AUTH_CSRF_HEADER,
			                "A signed-in browser must send the " AUTH_CSRF_HEADER
			                " header it was given at sign-in.");
			return;
		}
	}
	if (req->caller.via_session)
		memcpy(req->session_selector, s->selector, sizeof req->session_selector);
	sodium_memzero(s, sizeof *s);
	req->caller.staff_id = strtoll(db_result_value(res, 0, 2), NULL, 10);
	req->caller.server_admin = !strcmp(db_result_value(res, 0, 3), "t");
	req->caller.roles = (unsigned)strtoul(db_result_value(res, 0, 4), NULL, 10) & WM_ROLES_ALL;
	req->have_caller = 1;
	if (!strcmp(db_result_value(res, 0, 5), "t")) {
		const char *id[] = {db_result_value(res, 0, 0)};
		const char *stmt =
		    req->caller.via_session ? "core.auth_touch_session" : "core.auth_touch_token";
		if (db_exec_prepared(req->srv->pool, stmt, 1, id, touched, NULL) != WM_OK)
			log_msg(WM_LOG_DEBUG, "auth", "cannot queue last-used update");
	}
	run_handler(req);
}

/* The value of cookie `name` in a Cookie header, or NULL; *len set. */
static const char *cookie_value(const char *header, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	for (const char *p = header; p && *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n > nl && !strncmp(p, name, nl) && p[nl] == '=') {
			*len = n - nl - 1;
			return p + nl + 1;
		}
		p = end;
	}
	return NULL;
}

void auth_dispatch(struct wm_req *req)
{
	const struct route *rt = req->route;
	if (rt->access == WM_ACCESS_PUBLIC) {
		rt->handler(req, rt->state);
		return;
	}
	struct evkeyvalq *h = evhttp_request_get_input_headers(req->ev);
	const char *authz = evhttp_find_header(h, "Authorization");
	const char *cookie = evhttp_find_header(h, "Cookie");
	struct secret *s = &req->auth_secret;
	size_t clen = 0;
	const char *cval = cookie ? cookie_value(cookie, AUTH_COOKIE_NAME, &clen) : NULL;
	if (authz) {
		if (strncasecmp(authz, "Bearer ", 7) != 0 ||
		    secret_parse(authz + 7, strlen(authz + 7), SECRET_TOKEN_PREFIX, s) != WM_OK) {
			unauthenticated(req, "core.bad_credentials",
			                "The Authorization header must be \"Bearer wm_...\" with a "
			                "token this server issued.");
			return;
		}
		req->caller.via_session = 0;
	} else if (cval) {
		if (secret_parse(cval, clen, NULL, s) != WM_OK) {
			unauthenticated(req, "core.bad_credentials",
			                "The session cookie is not valid; sign in again.");
			return;
		}
		req->caller.via_session = 1;
	} else {
		unauthenticated(req, "core.unauthenticated",
		                "Sign in, or send Authorization: Bearer <token>.");
		return;
	}
	char idle[24];
	snprintf(idle, sizeof idle, "%lld", req->srv->cfg.auth_session_idle_s);
	const char *params[] = {s->selector, idle};
	const char *stmt = req->caller.via_session ? "core.auth_session" : "core.auth_token";
	if (db_exec_prepared(req->srv->pool, stmt, req->caller.via_session ? 2 : 1, params,
	                     on_lookup, req) != WM_OK) {
		sodium_memzero(s, sizeof *s);
		req_reply_error(req, 500, "core.internal", NULL, "Cannot check credentials.");
	}
}
