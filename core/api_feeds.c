/*
 * api_feeds — managing calendar feed links (issue 6) and the staff's
 * one-event downloads:
 *
 *   POST /api/v1/feeds                    create: the secret link, shown once
 *   GET  /api/v1/feeds, /feeds/{id}       the feeds the caller may manage
 *   POST /api/v1/feeds/{id}/revoke        the link gets 404 from now on
 *   POST /api/v1/feeds/{id}/regenerate    a new link; the old one gets 404
 *   GET  /api/v1/sessions/{id}/ics        a session the caller can see
 *   GET  /api/v1/bookings/{id}/ics        the booked session, family view
 *
 * A link is a secret like an API token (core/secret.h) with its own prefix
 * "wmf_": made here from libsodium's CSPRNG, its selector and SHA-256 hash
 * stored by SQL (migrations/0014_feeds.sql, which checks scope and audits
 * without the token), the token itself only in the reply. The public side
 * is feed_serve.c.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "feed.h"
#include "ical.h"
#include "recur.h"
#include "req.h"
#include "secret.h"
#include "server.h"

#define ANY_STAFF (WM_ROLE_ADMIN | WM_ROLE_COORDINATOR | WM_ROLE_FACILITATOR | WM_ROLE_MENTOR)

static const char *const no_query[] = {NULL};

/* A create or regenerate in flight: the new secret lives here until the
 * reply has been built, then is wiped. */
struct issue {
	struct wm_req *req;
	struct secret s;
	int status;
};

static void issue_done(void *arg, const struct wm_db_result *res)
{
	struct issue *is = arg;
	struct wm_req *req = is->req;
	const char *text = NULL;
	json_t *body = NULL;
	if (db_result_error(res) != WM_DB_OK) {
		api_reply_db_error(req, res);
		goto done;
	}
	text = db_result_ntuples(res) > 0 ? db_result_value(res, 0, 0) : NULL;
	if (!text) {
		req_reply_error(req, 404, "core.not_found", NULL, "No such resource.");
		goto done;
	}
	body = json_loads(text, 0, NULL);
	if (!json_is_object(body)) {
		req_reply_error(req, 500, "core.internal", NULL, "Malformed result.");
		goto done;
	}
	char token[80], base[2100], url[2300], webcal[2320];
	secret_format(&is->s, FEED_TOKEN_PREFIX, token, sizeof token);
	feed_base_url(req->srv, base, sizeof base);
	snprintf(url, sizeof url, "%s/feeds/%s.ics", base, token);
	const char *rest = strstr(url, "://");
	snprintf(webcal, sizeof webcal, "webcal://%s", rest ? rest + 3 : url);
	json_object_set_new(body, "token", json_string(token));
	json_object_set_new(body, "url", json_string(url));
	json_object_set_new(body, "webcal_url", json_string(webcal));
	sodium_memzero(token, sizeof token);
	sodium_memzero(url, sizeof url);
	sodium_memzero(webcal, sizeof webcal);
	req_reply_json(req, is->status, body);
	body = NULL;
done:
	json_decref(body);
	sodium_memzero(&is->s, sizeof is->s);
	free(is);
}

static void issue_run(struct wm_req *req, struct issue *is, const char *stmt, int n,
                      const char *const *p)
{
	if (db_exec_prepared(req->srv->pool, stmt, n, p, issue_done, is) != WM_OK) {
		sodium_memzero(&is->s, sizeof is->s);
		free(is);
		req_reply_error(req, 500, "core.internal", NULL, "Cannot run the query.");
	}
}

/* 422 for an id the kind does not take. */
static wm_status refuse_field(struct wm_req *req, const json_t *body, const char *field,
                              const char *kind)
{
	if (!json_object_get(body, field))
		return WM_OK;
	req_reply_error(req, 422, "core.invalid", field, "A %s feed does not take %s.", kind,
	                field);
	return WM_ERR;
}

static void feed_create(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"kind",    "household_id", "staff_id", "programme_id",
	                                      "variant", "name",         NULL};
	static const char *const kinds[] = {"household", "mentor", "facilitator", "programme",
	                                    NULL};
	static const char *const variants[] = {"full", "busy", NULL};
	const char *kind = NULL, *variant = NULL, *name = NULL, *hh = NULL, *st = NULL, *pr = NULL;
	char hbuf[24], sbuf[24], pbuf[24];
	json_t *body;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || req_json(req, &body) != WM_OK ||
	    req_json_only(req, body, allowed) != WM_OK ||
	    api_enum(req, body, "kind", kinds, 1, &kind) != WM_OK ||
	    api_enum(req, body, "variant", variants, 0, &variant) != WM_OK ||
	    api_text(req, body, "name", 100, 0, &name) != WM_OK)
		return;
	int household = !strcmp(kind, "household"), programme = !strcmp(kind, "programme");
	int self = !household && !programme;
	if (api_id_field(req, body, "household_id", household, hbuf, &hh) != WM_OK ||
	    api_id_field(req, body, "staff_id", 0, sbuf, &st) != WM_OK ||
	    api_id_field(req, body, "programme_id", programme, pbuf, &pr) != WM_OK ||
	    (!household && refuse_field(req, body, "household_id", kind) != WM_OK) ||
	    (!self && refuse_field(req, body, "staff_id", kind) != WM_OK) ||
	    (!programme && refuse_field(req, body, "programme_id", kind) != WM_OK))
		return;
	struct issue *is = calloc(1, sizeof *is);
	if (!is) {
		req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
		return;
	}
	is->req = req;
	is->status = 201;
	secret_new(&is->s);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid,        kind,          hh, st, pr,
	                   variant,   name,     is->s.selector, is->s.hash_hex};
	issue_run(req, is, "core.feeds_create", 11, p);
}

static void feed_regenerate(struct wm_req *req, void *state)
{
	long long id;
	char ids[24];
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK)
		return;
	struct issue *is = calloc(1, sizeof *is);
	if (!is) {
		req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
		return;
	}
	is->req = req;
	is->status = 200;
	secret_new(&is->s);
	snprintf(ids, sizeof ids, "%lld", id);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, ids, is->s.selector, is->s.hash_hex};
	issue_run(req, is, "core.feeds_regenerate", 6, p);
}

static void feed_list(struct wm_req *req, void *state)
{
	static const char *const accepted[] = {"kind", "household_id", "limit", "cursor", NULL};
	static const char *const kinds[] = {"household", "mentor", "facilitator", "programme",
	                                    NULL};
	const char *kind = NULL, *hh = NULL;
	char limit[8], cursor[24];
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, accepted) != WM_OK ||
	    api_query_enum(req, "kind", kinds, &kind) != WM_OK ||
	    api_query_id(req, "household_id", &hh) != WM_OK ||
	    api_page(req, limit, cursor) != WM_OK)
		return;
	api_ctx(req, &ctx);
	const char *p[] = {
	    ctx.staff, ctx.addr, ctx.rid, kind, hh, limit, cursor[0] ? cursor : NULL};
	if (api_exec(req, "core.feeds_list", 7, p, 200, "core.not_found") != WM_OK)
		return;
}

static void feed_get(struct wm_req *req, void *state)
{
	(void)state;
	api_exec_by_id(req, no_query, "core.feeds_get", 200);
}

/* No body, or an empty JSON object. */
static void feed_revoke(struct wm_req *req, void *state)
{
	static const char *const none[] = {NULL};
	json_t *body;
	(void)state;
	if (evbuffer_get_length(evhttp_request_get_input_buffer(req->ev)) > 0 &&
	    (req_json(req, &body) != WM_OK || req_json_only(req, body, none) != WM_OK))
		return;
	api_exec_by_id(req, no_query, "core.feeds_revoke", 200);
}

/* --- one-event downloads for staff ----------------------------------------- */

struct download {
	struct wm_req *req;
	char file[48];
};

static void download_done(void *arg, const struct wm_db_result *res)
{
	struct download *d = arg;
	feed_reply(d->req, res, NULL, d->file, "no-store");
	free(d);
}

static void download(struct wm_req *req, const char *stmt, const char *what)
{
	long long id;
	char ids[24];
	struct api_ctx ctx;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK)
		return;
	struct download *d = calloc(1, sizeof *d);
	char *hooks = feed_hook_types(req->srv);
	if (!d || !hooks) {
		free(d);
		free(hooks);
		req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
		return;
	}
	d->req = req;
	snprintf(ids, sizeof ids, "%lld", id);
	snprintf(d->file, sizeof d->file, "%s-%lld.ics", what, id);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, ids, hooks};
	if (db_exec_prepared(req->srv->pool, stmt, 5, p, download_done, d) != WM_OK) {
		free(d);
		req_reply_error(req, 500, "core.internal", NULL, "Cannot run the query.");
	}
	free(hooks);
}

static void session_ics(struct wm_req *req, void *state)
{
	(void)state;
	download(req, "core.feeds_session_ics", "session");
}

static void booking_ics(struct wm_req *req, void *state)
{
	(void)state;
	download(req, "core.feeds_booking_ics", "booking");
}

static const char create_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"kind\"],"
    "\"properties\":{"
    "\"kind\":{\"enum\":[\"household\",\"mentor\",\"facilitator\",\"programme\"]},"
    "\"household_id\":{\"type\":\"integer\",\"minimum\":1},"
    "\"staff_id\":{\"type\":\"integer\",\"minimum\":1},"
    "\"programme_id\":{\"type\":\"integer\",\"minimum\":1},"
    "\"variant\":{\"enum\":[\"full\",\"busy\"]},"
    "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":100}}}";

static const char empty_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{}}";

wm_status api_feeds_register(struct server *srv)
{
	static const struct wm_route_doc create_doc = {
	    "Create a calendar feed link (household, mentor, facilitator or public programme); "
	    "the token and URLs are shown only in this reply.",
	    create_schema, NULL, 201};
	static const struct wm_route_doc list_doc = {"Calendar feeds the caller may manage.", NULL,
	                                             NULL, 200};
	static const struct wm_route_doc get_doc = {"One calendar feed (no secret).", NULL, NULL,
	                                            200};
	static const struct wm_route_doc revoke_doc = {
	    "Revoke a calendar feed link: it answers 404 from now on.", empty_schema, NULL, 200};
	static const struct wm_route_doc regen_doc = {
	    "A new secret link for a calendar feed; the old link answers 404 at once.", NULL, NULL,
	    200};
	static const struct wm_route_doc session_doc = {
	    "A session as a one-event .ics download (staff view).", NULL, NULL, 200};
	static const struct wm_route_doc booking_doc = {
	    "A booked session as a one-event .ics download (the family's view).", NULL, NULL, 200};
	static const struct {
		const char *name, *sql;
		int n;
	} stmts[] = {
	    {"feeds_create",
	     "SELECT core.feed_create($1::bigint, $2::inet, $3, $4, $5::bigint, $6::bigint,"
	     " $7::bigint, $8, $9, $10, $11)",
	     11},
	    {"feeds_list",
	     "SELECT core.feed_list($1::bigint, $2::inet, $3, $4, $5::bigint, $6::int, $7::bigint)",
	     7},
	    {"feeds_get", "SELECT core.feed_get($1::bigint, $2::inet, $3, $4::bigint)", 4},
	    {"feeds_revoke", "SELECT core.feed_revoke($1::bigint, $2::inet, $3, $4::bigint)", 4},
	    {"feeds_regenerate",
	     "SELECT core.feed_regenerate($1::bigint, $2::inet, $3, $4::bigint, $5, $6)", 6},
	    {"feeds_session_ics",
	     "SELECT * FROM core.feed_session_ics($1::bigint, $2::inet, $3, $4::bigint, "
	     "$5::text[])",
	     5},
	    {"feeds_booking_ics",
	     "SELECT * FROM core.feed_booking_ics($1::bigint, $2::inet, $3, $4::bigint, "
	     "$5::text[])",
	     5},
	};
	/* libical's zone table and error state are global: warm them up here,
	 * on the start-up thread, before the loop serves a feed. */
	recur_init();
	if (ical_zones_warm() != WM_OK)
		return WM_ERR;
	for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++)
		if (api_prepare(srv, stmts[i].name, stmts[i].sql, stmts[i].n) != WM_OK)
			return WM_ERR;
	if (api_route(srv, WM_POST, "/api/v1/feeds", feed_create, &create_doc, ANY_STAFF) !=
	        WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/feeds", feed_list, &list_doc, ANY_STAFF) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/feeds/{id}", feed_get, &get_doc, ANY_STAFF) != WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/feeds/{id}/revoke", feed_revoke, &revoke_doc,
	              ANY_STAFF) != WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/feeds/{id}/regenerate", feed_regenerate, &regen_doc,
	              ANY_STAFF) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/sessions/{id}/ics", session_ics, &session_doc,
	              ANY_STAFF) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/bookings/{id}/ics", booking_ics, &booking_doc,
	              ANY_STAFF) != WM_OK)
		return WM_ERR;
	return feed_serve_register(srv);
}
