/*
 * api_tokens — a staff member's own API tokens.
 *
 * A token is a secret (secret.h) with the "wm_" prefix. The server keeps
 * only its selector and the SHA-256 of its verifier, so the text appears
 * once, in the 201 reply that creates it, and never again: not in the list,
 * not in the log. Every token expires (90 days unless asked, 365 at most);
 * a new password or a disabled account revokes all of a member's tokens. Revoking sets revoked_at,
 * which the core's credential lookup (auth.c) refuses from the next request on.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "api.h"
#include "db.h"
#include "req.h"
#include "secret.h"
#include "server.h"

#define TOKEN_NAME_MAX 100
/* Every token expires: by default after 90 days (identity_token_create),
 * at most after a year, so a forgotten one does not work for ever. */
#define TOKEN_DAYS_MAX 365

#define TIME_OR_NULL "{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"}"
#define TOKEN_PROPS                                                                                \
	"\"id\":{\"type\":\"integer\"},\"name\":{\"type\":\"string\"},"                            \
	"\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"},"                           \
	"\"last_used_at\":" TIME_OR_NULL ",\"expires_at\":" TIME_OR_NULL                           \
	",\"revoked_at\":" TIME_OR_NULL
#define TOKEN_SCHEMA                                                                               \
	"{\"type\":\"object\",\"required\":[\"id\",\"name\",\"created_at\"],\"properties\":"       \
	"{" TOKEN_PROPS "}}"

static const char create_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"name\"],"
    "\"properties\":{\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":100},"
    "\"expires_in_days\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":365,\"default\":90}}}";
static const char created_schema[] =
    "{\"type\":\"object\",\"required\":[\"id\",\"name\",\"token\"],\"properties\":{" TOKEN_PROPS
    ",\"token\":{\"type\":\"string\",\"description\":\"the secret, shown only here\"}}}";
static const char list_schema[] =
    "{\"type\":\"object\",\"required\":[\"items\",\"next_cursor\"],\"properties\":{"
    "\"items\":{\"type\":\"array\",\"items\":" TOKEN_SCHEMA "},"
    "\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}";

static const char create_sql[] =
    "SELECT core.identity_token_create($1::bigint, $2::inet, $3::text, $4::text, $5::text,"
    " $6::text, $7::int)";
/* The caller's tokens that are not revoked. */
static const char list_sql[] =
    "SELECT jsonb_build_object("
    " 'items', coalesce(jsonb_agg(x.j ORDER BY x.id) FILTER (WHERE x.n <= $4::int), '[]'),"
    " 'next_cursor', CASE WHEN count(*) > $4::int"
    "  THEN (max(x.id) FILTER (WHERE x.n <= $4::int))::text END)"
    " FROM (SELECT t.id, row_number() OVER (ORDER BY t.id) AS n, core.identity_token_json(t) AS j"
    "       FROM core.api_token t, (SELECT $2::inet, $3::text) ctx"
    "       WHERE t.staff_id = $1::bigint AND t.revoked_at IS NULL AND t.id > $5::bigint"
    "       ORDER BY t.id LIMIT $4::int + 1) x";
static const char revoke_sql[] =
    "WITH t AS (UPDATE core.api_token SET revoked_at = now()"
    "  WHERE id = $4::bigint AND staff_id = $1::bigint AND revoked_at IS NULL RETURNING id),"
    " a AS (INSERT INTO core.audit (actor_staff_id, action, object_type, object_id,"
    "  remote_addr, request_id) SELECT $1::bigint, 'token.revoke', 'token', t.id, $2::inet,"
    "  $3::text FROM t)"
    " SELECT '{}'::json FROM t";

/* One POST /tokens in flight: the secret to show, wiped when done. */
struct token_create {
	struct wm_req *req;
	char text[80];
};

static void token_create_free(struct token_create *tc)
{
	sodium_memzero(tc, sizeof *tc);
	free(tc);
}

static void token_created(void *arg, const struct wm_db_result *res)
{
	struct token_create *tc = arg;
	struct wm_req *req = tc->req;
	const char *text = db_result_value(res, 0, 0);
	json_t *body = text ? json_loads(text, 0, NULL) : NULL;
	if (db_result_error(res) != WM_DB_OK)
		api_reply_db_error(req, res);
	else if (!body)
		req_reply_error(req, 500, "core.internal", NULL, "Malformed result.");
	else {
		json_object_set_new(body, "token", json_string(tc->text));
		req_reply_json(req, 201, body);
		body = NULL;
	}
	json_decref(body);
	token_create_free(tc);
}

static void token_create(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"name", "expires_in_days", NULL};
	static const char *const none[] = {NULL};
	json_t *body;
	const char *name = NULL;
	long long days = 0;
	char days_text[16];
	struct api_ctx ctx;
	struct secret s;
	if (api_query_only(req, none) != WM_OK || req_json(req, &body) != WM_OK ||
	    req_json_only(req, body, allowed) != WM_OK ||
	    req_json_string(req, body, "name", TOKEN_NAME_MAX, 1, &name) != WM_OK ||
	    req_json_int(req, body, "expires_in_days", 1, TOKEN_DAYS_MAX, 0, &days) != WM_OK)
		return;
	struct token_create *tc = calloc(1, sizeof *tc);
	if (!tc) {
		req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
		return;
	}
	tc->req = req;
	secret_new(&s);
	secret_format(&s, SECRET_TOKEN_PREFIX, tc->text, sizeof tc->text);
	snprintf(days_text, sizeof days_text, "%lld", days);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff,
	                   ctx.addr,
	                   ctx.rid,
	                   name,
	                   s.selector,
	                   s.hash_hex,
	                   json_object_get(body, "expires_in_days") ? days_text : NULL};
	wm_status st =
	    db_exec_prepared(req->srv->pool, "core.tokens_create", 7, p, token_created, tc);
	sodium_memzero(&s, sizeof s);
	if (st != WM_OK) {
		token_create_free(tc);
		req_reply_error(req, 500, "core.internal", NULL, "Cannot run the query.");
	}
}

static void token_list(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"limit", "cursor", NULL};
	char limit[8], cursor[24];
	struct api_ctx ctx;
	if (api_query_only(req, allowed) != WM_OK || api_page(req, limit, cursor) != WM_OK)
		return;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, limit, cursor[0] ? cursor : "0"};
	if (api_exec(req, "core.tokens_list", 5, p, 200, NULL) != WM_OK)
		return;
}

static void token_revoke(struct wm_req *req, void *state)
{
	static const char *const none[] = {NULL};
	long long id;
	char ids[24];
	struct api_ctx ctx;
	if (api_query_only(req, none) != WM_OK || api_id(req, "id", &id) != WM_OK)
		return;
	snprintf(ids, sizeof ids, "%lld", id);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, ids};
	if (api_exec(req, "core.tokens_revoke", 4, p, 204, NULL) != WM_OK)
		return;
}

wm_status api_tokens_register(struct server *srv)
{
	static const struct wm_route_doc list_doc = {"The caller's own live tokens (no secrets).",
	                                             NULL, list_schema, 200};
	static const struct wm_route_doc create_doc = {
	    "Create a token for the caller; its secret is in this reply only. It expires after "
	    "expires_in_days (default 90, at most 365).",
	    create_schema, created_schema, 201};
	static const struct wm_route_doc revoke_doc = {
	    "Revoke one of the caller's tokens; it is refused from now on.", NULL, NULL, 204};
	const unsigned all = WM_ROLES_ALL | WM_ACCESS_SERVER_ADMIN;
	if (api_prepare(srv, "tokens_create", create_sql, 7) != WM_OK ||
	    api_prepare(srv, "tokens_list", list_sql, 5) != WM_OK ||
	    api_prepare(srv, "tokens_revoke", revoke_sql, 4) != WM_OK)
		return WM_ERR;
	if (api_route(srv, WM_GET, "/api/v1/tokens", token_list, &list_doc, all) != WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/tokens", token_create, &create_doc, all) != WM_OK ||
	    api_route(srv, WM_DELETE, "/api/v1/tokens/{id}", token_revoke, &revoke_doc, all) !=
	        WM_OK)
		return WM_ERR;
	return WM_OK;
}
