/*
 * api_bookings — bookings for sessions taken by booking (drop-ins, events):
 * book (with an optional Idempotency-Key), list, read, cancel, accept or
 * decline an offer. The rules live in SQL (migrations/0012_bookings.sql):
 * one function call per request (RUNTIME.md R7) that checks scope, replays
 * a known Idempotency-Key (only to a caller still in scope), decides
 * capacity with one conditional UPDATE (R10), keeps apart, waitlists,
 * seats and audits. Every path locks the session row before its bookings.
 *
 * The programme's plugin may veto a booking (booking_check hook). Hooks
 * run here, on the loop, and see no database; so when — and only when — the
 * programme's plugin has that hook, the function first answers with the
 * hook's request ({"check": ...}) having changed nothing, the hook is
 * called, and the function is called again to make the booking. Programmes
 * without the hook take one round trip.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "hooks.h"
#include "plugin_loader.h"
#include "req.h"
#include "server.h"

#define ANY_STAFF  (WM_ROLE_ADMIN | WM_ROLE_COORDINATOR | WM_ROLE_FACILITATOR | WM_ROLE_MENTOR)
#define MAX_PARAMS 8

static const char *const no_query[] = {NULL};

/* A call that may need the hook: its statement and parameters (copied, the
 * second call outlives the handler's stack). The last two parameters are
 * the plugin types that have a booking_check hook and "checked". */
struct call {
	struct wm_req *req;
	const char *stmt;
	int n;
	char *p[MAX_PARAMS];
};

static void call_free(struct call *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->p[i]);
	free(c);
}

/* "{name,...}": the loaded plugins with a booking_check hook (names are
 * [a-z0-9_], so no quoting is needed). */
static char *hook_types(struct server *srv)
{
	size_t len = 3;
	for (size_t i = 0; i < srv->n_plugins; i++)
		len += strlen(srv->plugins[i]->name) + 1;
	char *out = malloc(len);
	if (!out)
		return NULL;
	strcpy(out, "{");
	for (size_t i = 0, k = 0; i < srv->n_plugins; i++) {
		if (!srv->plugins[i]->desc->booking_check)
			continue;
		if (k++)
			strcat(out, ",");
		strcat(out, srv->plugins[i]->name);
	}
	strcat(out, "}");
	return out;
}

static void call_done(void *arg, const struct wm_db_result *res);

static void call_run(struct call *c)
{
	if (db_exec_prepared(c->req->srv->pool, c->stmt, c->n, (const char *const *)c->p, call_done,
	                     c) != WM_OK) {
		req_reply_error(c->req, 500, "core.internal", NULL, "Cannot run the query.");
		call_free(c);
	}
}

/* Starts a hooked call: `params` are the statement's own (ctx first);
 * the hook types and "f" (not yet checked) are appended. */
static void call_start(struct wm_req *req, const char *stmt, int n, const char *const *params)
{
	struct call *c = calloc(1, sizeof *c);
	if (!c)
		goto fail;
	c->req = req;
	c->stmt = stmt;
	for (int i = 0; i < n; i++) {
		c->p[c->n] = params[i] ? strdup(params[i]) : NULL; /* NULL: SQL NULL */
		if (params[i] && !c->p[c->n])
			goto fail;
		c->n++;
	}
	if (!(c->p[c->n++] = hook_types(req->srv)) || !(c->p[c->n++] = strdup("f")))
		goto fail;
	call_run(c);
	return;
fail:
	if (c)
		call_free(c);
	req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
}

static void call_done(void *arg, const struct wm_db_result *res)
{
	struct call *c = arg;
	struct wm_req *req = c->req;
	json_t *doc = NULL;
	if (db_result_error(res) != WM_DB_OK) {
		api_reply_db_error(req, res);
		goto done;
	}
	const char *text = db_result_ntuples(res) > 0 ? db_result_value(res, 0, 0) : NULL;
	if (!text) {
		req_reply_error(req, 404, "core.not_found", NULL, "No such resource.");
		goto done;
	}
	doc = json_loads(text, JSON_DECODE_ANY, NULL);
	json_t *check = json_object_get(doc, "check");
	json_t *body = json_object_get(doc, "body");
	int status = (int)json_integer_value(json_object_get(doc, "status"));
	if (check) {
		const char *type =
		    json_string_value(json_object_get(json_object_get(check, "programme"), "type"));
		struct wm_hook_error err;
		if (hooks_booking_check(req->srv, type, check, &err) != WM_OK) {
			hooks_reply_error(req, &err);
			goto done;
		}
		/* Allowed: the same call again, now making the change. */
		free(c->p[c->n - 1]);
		if (!(c->p[c->n - 1] = strdup("t"))) {
			req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
			goto done;
		}
		json_decref(doc);
		call_run(c);
		return;
	}
	if (!body || status < 200 || status > 499) {
		req_reply_error(req, 500, "core.internal", NULL, "Malformed result.");
		goto done;
	}
	/* A replayed answer is the stored one, byte for byte; the header only
	 * tells the client it is a replay. */
	if (json_is_true(json_object_get(doc, "replayed")))
		req_add_header(req, "Idempotent-Replayed", "true");
	req_reply_json(req, status, json_incref(body));
done:
	json_decref(doc);
	call_free(c);
}

/* Optional Idempotency-Key: 1..200 printable ASCII characters. */
static wm_status idempotency_key(struct wm_req *req, const char **out)
{
	const char *k = req_header(req, "Idempotency-Key");
	*out = k;
	if (!k)
		return WM_OK;
	size_t n = strlen(k);
	for (size_t i = 0; i < n; i++)
		if (k[i] < 0x20 || k[i] > 0x7e)
			n = 0;
	if (n >= 1 && n <= 200)
		return WM_OK;
	req_reply_error(req, 400, "core.bad_header", "Idempotency-Key",
	                "Idempotency-Key must be 1 to 200 printable ASCII characters.");
	return WM_ERR;
}

static void booking_create(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"person_id", NULL};
	long long id;
	char idbuf[24], pbuf[24];
	const char *person = NULL, *key = NULL;
	json_t *body;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    idempotency_key(req, &key) != WM_OK || req_json(req, &body) != WM_OK ||
	    req_json_only(req, body, allowed) != WM_OK ||
	    api_id_field(req, body, "person_id", 1, pbuf, &person) != WM_OK)
		return;
	snprintf(idbuf, sizeof idbuf, "%lld", id);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, idbuf, person, key};
	call_start(req, "core.bookings_create", 6, p);
}

static void booking_list(struct wm_req *req, void *state)
{
	static const char *const accepted[] = {"status", "limit", "cursor", NULL};
	static const char *const statuses[] = {"booked",   "waitlisted", "offered", "cancelled",
	                                       "declined", "expired",    NULL};
	long long id;
	char idbuf[24], limit[8], cursor[24];
	const char *status = NULL;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, accepted) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    api_page(req, limit, cursor) != WM_OK ||
	    api_query_enum(req, "status", statuses, &status) != WM_OK)
		return;
	snprintf(idbuf, sizeof idbuf, "%lld", id);
	api_ctx(req, &ctx);
	const char *p[] = {
	    ctx.staff, ctx.addr, ctx.rid, idbuf, status, limit, cursor[0] ? cursor : NULL};
	if (api_exec(req, "core.bookings_list", 7, p, 200, "core.not_found") != WM_OK)
		return;
}

static void booking_get(struct wm_req *req, void *state)
{
	(void)state;
	api_exec_by_id(req, no_query, "core.bookings_get", 200);
}

static void booking_cancel(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"reason", "late", NULL};
	long long id;
	char idbuf[24];
	const char *reason = NULL;
	int late = 0;
	json_t *body;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &body) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
	    api_text(req, body, "reason", 500, 0, &reason) != WM_OK ||
	    req_json_bool(req, body, "late", 0, &late) != WM_OK)
		return;
	snprintf(idbuf, sizeof idbuf, "%lld", id);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, idbuf, reason, late ? "t" : "f"};
	if (api_exec(req, "core.bookings_cancel", 6, p, 200, "core.not_found") != WM_OK)
		return;
}

/* Accept and decline take no body; an empty JSON object is allowed too. */
static wm_status empty_body(struct wm_req *req)
{
	static const char *const none[] = {NULL};
	json_t *body;
	if (evbuffer_get_length(evhttp_request_get_input_buffer(req->ev)) == 0)
		return WM_OK;
	if (req_json(req, &body) != WM_OK || req_json_only(req, body, none) != WM_OK)
		return WM_ERR;
	return WM_OK;
}

static void booking_accept(struct wm_req *req, void *state)
{
	long long id;
	char idbuf[24];
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    empty_body(req) != WM_OK)
		return;
	snprintf(idbuf, sizeof idbuf, "%lld", id);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, idbuf};
	call_start(req, "core.bookings_accept", 4, p);
}

static void booking_decline(struct wm_req *req, void *state)
{
	long long id;
	char idbuf[24];
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    empty_body(req) != WM_OK)
		return;
	snprintf(idbuf, sizeof idbuf, "%lld", id);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, idbuf};
	if (api_exec(req, "core.bookings_decline", 4, p, 200, "core.not_found") != WM_OK)
		return;
}

#define TS_OR_NULL "{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"}"
#define BOOKING_SCHEMA                                                                             \
	"{\"type\":\"object\",\"properties\":{"                                                    \
	"\"id\":{\"type\":\"integer\"},\"session_id\":{\"type\":\"integer\"},"                     \
	"\"person_id\":{\"type\":\"integer\"},"                                                    \
	"\"status\":{\"enum\":[\"booked\",\"waitlisted\",\"offered\",\"cancelled\",\"declined\","  \
	"\"expired\"]},"                                                                           \
	"\"booked_by\":{\"type\":[\"integer\",\"null\"]},"                                         \
	"\"waitlisted_at\":" TS_OR_NULL ",\"offered_at\":" TS_OR_NULL                              \
	",\"offer_expires_at\":" TS_OR_NULL ",\"cancelled_at\":" TS_OR_NULL                        \
	",\"cancel_reason\":{\"type\":[\"string\",\"null\"]},"                                     \
	"\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"},"                           \
	"\"updated_at\":{\"type\":\"string\",\"format\":\"date-time\"},"                           \
	"\"version\":{\"type\":\"integer\"},"                                                      \
	"\"waitlist_position\":{\"type\":[\"integer\",\"null\"]}}}"

static const struct wm_route_doc create_doc = {
    "Book a person onto a session taken by booking. Full: the person is waitlisted (201, status "
    "waitlisted). Optional header Idempotency-Key (1-200 printable ASCII): a retry with the same "
    "key and body replays the first answer (header Idempotent-Replayed: true); the same key "
    "with another body is 422 core.idempotency_mismatch. Keys are kept 24 hours. Refusals: "
    "409 core.not_bookable, core.already_booked, core.keep_apart (someone booked, offered, "
    "waiting or seated there is to be kept apart; names nobody; a coordinator is alerted), "
    "core.person_clash (the other session is named only to its organisation's admins and "
    "coordinators); the programme's plugin may veto (its own code). Facilitators and mentors "
    "book people on their caseload onto sessions they can see (they staff the session or its "
    "programme).",
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"person_id\"],"
    "\"properties\":{\"person_id\":{\"type\":\"integer\",\"minimum\":1}}}",
    BOOKING_SCHEMA, 201};

static const struct wm_route_doc list_doc = {
    "Bookings of a session, by id. Admins and coordinators see all; facilitators and mentors "
    "who can see the session (they staff it or its programme; else 404) only those of people "
    "on their caseload. ?status= filters.",
    NULL,
    "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\",\"items\":" BOOKING_SCHEMA
    "},\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}",
    200};

static const struct wm_route_doc get_doc = {"A booking, with its place on the waitlist.", NULL,
                                            BOOKING_SCHEMA, 200};

static const struct wm_route_doc cancel_doc = {
    "Cancel a booking, waitlist entry or offer. A booked place cannot be cancelled after the "
    "programme's cut-off (settings.cancel_cutoff_hours, default 24, before the start: 422 "
    "core.past_cutoff) unless an admin or coordinator sends \"late\": true. The freed place is "
    "offered to the first person waiting (settings.offer_hours, default 24) who is not to be "
    "kept apart from anyone booked or offered there (those passed over stay waiting; a "
    "coordinator is alerted).",
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"reason\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":500},"
    "\"late\":{\"type\":\"boolean\"}}}",
    BOOKING_SCHEMA, 200};

static const struct wm_route_doc accept_doc = {
    "Accept an offered place: the booking becomes booked. After the offer's expiry: 409 "
    "core.offer_expired (the place goes to the next person waiting); once the session has "
    "started or was cancelled: 409 core.not_bookable; when the person is now to be kept apart "
    "from someone booked or offered there: 409 core.keep_apart (names nobody; a coordinator "
    "is alerted).",
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{}}", BOOKING_SCHEMA, 200};

static const struct wm_route_doc decline_doc = {
    "Decline an offered place; it is offered to the next person waiting.",
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{}}", BOOKING_SCHEMA, 200};

static const struct {
	const char *name, *sql;
	int nparams;
} stmts[] = {
    {"bookings_create",
     "SELECT core.booking_create($1::bigint, $2::inet, $3::text, $4::bigint, $5::bigint, "
     "$6::text, $7::text[], $8::boolean)",
     8},
    {"bookings_list",
     "SELECT core.booking_list($1::bigint, $2::inet, $3::text, $4::bigint, $5::text, "
     "$6::integer, $7::bigint)",
     7},
    {"bookings_get", "SELECT core.booking_get($1::bigint, $2::inet, $3::text, $4::bigint)", 4},
    {"bookings_cancel",
     "SELECT core.booking_cancel($1::bigint, $2::inet, $3::text, $4::bigint, $5::text, "
     "$6::boolean)",
     6},
    {"bookings_accept",
     "SELECT core.booking_accept($1::bigint, $2::inet, $3::text, $4::bigint, $5::text[], "
     "$6::boolean)",
     6},
    {"bookings_decline", "SELECT core.booking_decline($1::bigint, $2::inet, $3::text, $4::bigint)",
     4},
};

wm_status api_bookings_register(struct server *srv)
{
	for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++)
		if (api_prepare(srv, stmts[i].name, stmts[i].sql, stmts[i].nparams) != WM_OK)
			return WM_ERR;
	if (api_route(srv, WM_POST, "/api/v1/sessions/{id}/bookings", booking_create, &create_doc,
	              ANY_STAFF) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/sessions/{id}/bookings", booking_list, &list_doc,
	              ANY_STAFF) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/bookings/{id}", booking_get, &get_doc, ANY_STAFF) !=
	        WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/bookings/{id}/cancel", booking_cancel, &cancel_doc,
	              ANY_STAFF) != WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/bookings/{id}/accept", booking_accept, &accept_doc,
	              ANY_STAFF) != WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/bookings/{id}/decline", booking_decline, &decline_doc,
	              ANY_STAFF) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
