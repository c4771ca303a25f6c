/*
 * api_venues — an organisation's venues (where sessions happen: a prison
 * with its establishment, an approved premises, an office, a community
 * venue ...) and their rooms. Admins and coordinators manage them; the
 * organisation's facilitators and mentors read them; commissioners are
 * refused (403). Rooms are archived, never deleted: past sessions name them.
 *
 * Each handler checks the input's shape and calls one SQL function
 * (migrations/0009_programmes.sql) that checks scope, changes, audits and
 * builds the reply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "req.h"
#include "server.h"

#define MANAGERS (WM_ROLE_ADMIN | WM_ROLE_COORDINATOR)
#define READERS  (MANAGERS | WM_ROLE_FACILITATOR | WM_ROLE_MENTOR)

static const char *const no_query[] = {NULL};
static const char *const booleans[] = {"true", "false", NULL};
static const char *const location_kinds[] = {
    "prison", "approved_premises", "probation_office", "community_venue", "home", "school", NULL};

static void venues_create(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {
	    "organisation_id", "name", "location_kind", "establishment", "public_name",
	    "address",         NULL};
	const char *org = NULL, *name = NULL, *kind = NULL, *est = NULL, *pub = NULL, *addr = NULL;
	char orgbuf[24];
	json_t *body;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || req_json(req, &body) != WM_OK ||
	    req_json_only(req, body, allowed) != WM_OK ||
	    api_id_field(req, body, "organisation_id", 1, orgbuf, &org) != WM_OK ||
	    req_json_string(req, body, "name", 200, 1, &name) != WM_OK ||
	    api_enum(req, body, "location_kind", location_kinds, 1, &kind) != WM_OK ||
	    req_json_string(req, body, "establishment", 200, 0, &est) != WM_OK ||
	    req_json_string(req, body, "public_name", 200, 0, &pub) != WM_OK ||
	    api_text(req, body, "address", 500, 0, &addr) != WM_OK)
		return;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, org, name, kind, est, pub, addr};
	if (api_exec(req, "core.venues_create", 9, p, 201, "core.not_found") != WM_OK)
		return;
}

static void venues_list(struct wm_req *req, void *state)
{
	static const char *const accepted[] = {"organisation_id", "archived", "limit", "cursor",
	                                       NULL};
	char limit[8], cursor[24];
	const char *org = NULL, *archived = NULL;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, accepted) != WM_OK || api_page(req, limit, cursor) != WM_OK ||
	    api_query_id(req, "organisation_id", &org) != WM_OK ||
	    api_query_enum(req, "archived", booleans, &archived) != WM_OK)
		return;
	api_ctx(req, &ctx);
	const char *p[] = {
	    ctx.staff, ctx.addr, ctx.rid, org, archived, limit, cursor[0] ? cursor : NULL};
	if (api_exec(req, "core.venues_list", 7, p, 200, "core.not_found") != WM_OK)
		return;
}

/* Routes with {id} and no body or query: one statement of 4 parameters. */
static void by_id(struct wm_req *req, const char *stmt, int status)
{
	long long id;
	char idbuf[24];
	struct api_ctx ctx;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK)
		return;
	snprintf(idbuf, sizeof idbuf, "%lld", id);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, idbuf};
	if (api_exec(req, stmt, 4, p, status, "core.not_found") != WM_OK)
		return;
}

static void venues_get(struct wm_req *req, void *state)
{
	(void)state;
	by_id(req, "core.venues_get", 200);
}

static void rooms_archive(struct wm_req *req, void *state)
{
	(void)state;
	by_id(req, "core.rooms_archive", 204);
}

/* Adds `field` to `patch` when the body has it; JSON null is kept (clears)
 * only when `nullable`. On WM_ERR the reply has been sent. */
static wm_status patch_string(struct wm_req *req, const json_t *body, const char *field, size_t max,
                              int prose, int nullable, json_t *patch)
{
	const char *s = NULL;
	json_t *v = json_object_get(body, field);
	if (!v)
		return WM_OK;
	if (json_is_null(v) && nullable) {
		json_object_set_new(patch, field, json_null());
		return WM_OK;
	}
	if ((prose ? api_text(req, body, field, max, 1, &s)
	           : req_json_string(req, body, field, max, 1, &s)) != WM_OK)
		return WM_ERR;
	json_object_set_new(patch, field, json_string(s));
	return WM_OK;
}

static void venues_patch(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {
	    "name", "location_kind", "establishment", "public_name", "address", "archived", NULL};
	long long id;
	int archived = 0;
	const char *kind = NULL;
	char idbuf[24], *text = NULL;
	json_t *body, *patch = NULL;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &body) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
	    api_enum(req, body, "location_kind", location_kinds, 0, &kind) != WM_OK ||
	    req_json_bool(req, body, "archived", 0, &archived) != WM_OK)
		return;
	if (!(patch = json_object()))
		goto oom;
	if (patch_string(req, body, "name", 200, 0, 0, patch) != WM_OK ||
	    patch_string(req, body, "establishment", 200, 0, 1, patch) != WM_OK ||
	    patch_string(req, body, "public_name", 200, 0, 1, patch) != WM_OK ||
	    patch_string(req, body, "address", 500, 1, 1, patch) != WM_OK)
		goto done;
	if (kind)
		json_object_set_new(patch, "location_kind", json_string(kind));
	if (json_object_get(body, "archived"))
		json_object_set_new(patch, "archived", json_boolean(archived));
	if (json_object_size(patch) == 0) {
		req_reply_error(req, 400, "core.missing_field", NULL,
		                "Give at least one field to change.");
		goto done;
	}
	if (!(text = json_dumps(patch, JSON_COMPACT)))
		goto oom;
	snprintf(idbuf, sizeof idbuf, "%lld", id);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, idbuf, text};
	if (api_exec(req, "core.venues_update", 5, p, 200, "core.not_found") != WM_OK)
		goto done; /* replied */
	goto done;
oom:
	req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
done:
	free(text);
	json_decref(patch);
}

static void rooms_create(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"name", "capacity", NULL};
	long long id, capacity = 0;
	const char *name = NULL;
	char idbuf[24], capbuf[24];
	json_t *body;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &body) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
	    req_json_string(req, body, "name", 200, 1, &name) != WM_OK ||
	    req_json_int(req, body, "capacity", 1, 10000, 0, &capacity) != WM_OK)
		return;
	snprintf(idbuf, sizeof idbuf, "%lld", id);
	snprintf(capbuf, sizeof capbuf, "%lld", capacity);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, idbuf, name, capacity ? capbuf : NULL};
	if (api_exec(req, "core.rooms_create", 6, p, 201, "core.not_found") != WM_OK)
		return;
}

/* --- documents ------------------------------------------------------------ */

#define KIND_ENUM                                                                                  \
	"[\"prison\",\"approved_premises\",\"probation_office\",\"community_venue\",\"home\","     \
	"\"school\"]"
#define NULLABLE_TEXT(n) "{\"type\":[\"string\",\"null\"],\"minLength\":1,\"maxLength\":" #n "}"

#define ROOM_SCHEMA                                                                                \
	"{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},"                      \
	"\"venue_id\":{\"type\":\"integer\"},\"name\":{\"type\":\"string\"},"                      \
	"\"capacity\":{\"type\":[\"integer\",\"null\"]},\"archived\":{\"type\":\"boolean\"}}}"

#define VENUE_SCHEMA                                                                               \
	"{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},"                      \
	"\"organisation_id\":{\"type\":\"integer\"},\"name\":{\"type\":\"string\"},"               \
	"\"location_kind\":{\"type\":\"string\",\"enum\":" KIND_ENUM "},"                          \
	"\"establishment\":{\"type\":[\"string\",\"null\"]},"                                      \
	"\"public_name\":{\"type\":[\"string\",\"null\"]},"                                        \
	"\"address\":{\"type\":[\"string\",\"null\"]},\"archived\":{\"type\":\"boolean\"},"        \
	"\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"},"                           \
	"\"rooms\":{\"type\":\"array\",\"items\":" ROOM_SCHEMA "}}}"

static const struct wm_route_doc create_doc = {
    "Create a venue in an organisation the caller is admin or coordinator of (a prison names "
    "its establishment).",
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"organisation_id\",\"name\",\"location_kind\"],\"properties\":{"
    "\"organisation_id\":{\"type\":\"integer\",\"minimum\":1},"
    "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200},"
    "\"location_kind\":{\"type\":\"string\",\"enum\":" KIND_ENUM "},"
    "\"establishment\":" NULLABLE_TEXT(200) ",\"public_name\":" NULLABLE_TEXT(
        200) ",\"address\":" NULLABLE_TEXT(500) "}}",
    VENUE_SCHEMA, 201};

static const struct wm_route_doc list_doc = {
    "Venues of the caller's organisations (not for commissioners), with their rooms; "
    "?organisation_id ?archived=true.",
    NULL,
    "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\",\"items\":" VENUE_SCHEMA
    "},\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}",
    200};

static const struct wm_route_doc get_doc = {"A venue with its rooms.", NULL, VENUE_SCHEMA, 200};

static const struct wm_route_doc patch_doc = {
    "Change a venue; null clears establishment, public_name or address; archived archives "
    "or restores it (not while sessions to come use it: 409 core.in_use).",
    "{\"type\":\"object\",\"additionalProperties\":false,\"minProperties\":1,\"properties\":{"
    "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200},"
    "\"location_kind\":{\"type\":\"string\",\"enum\":" KIND_ENUM "},"
    "\"establishment\":" NULLABLE_TEXT(200) ",\"public_name\":" NULLABLE_TEXT(
        200) ",\"address\":" NULLABLE_TEXT(500) ",\"archived\":{\"type\":\"boolean\"}}}",
    VENUE_SCHEMA, 200};

static const struct wm_route_doc room_create_doc = {
    "Add a room to a venue (names are unique within the venue).",
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"name\"],"
    "\"properties\":{\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200},"
    "\"capacity\":{\"type\":[\"integer\",\"null\"],\"minimum\":1,\"maximum\":10000}}}",
    ROOM_SCHEMA, 201};

static const struct wm_route_doc room_archive_doc = {
    "Archive a room (not while sessions to come use it: 409 core.in_use).", NULL, NULL, 204};

static const struct {
	const char *name, *sql;
	int nparams;
} stmts[] = {
    {"venues_create",
     "SELECT core.venue_create($1::bigint, $2::inet, $3::text, $4::bigint, $5::text, $6::text, "
     "$7::text, $8::text, $9::text)",
     9},
    {"venues_list",
     "SELECT core.venue_list($1::bigint, $2::inet, $3::text, $4::bigint, $5::boolean, "
     "$6::integer, $7::bigint)",
     7},
    {"venues_get", "SELECT core.venue_get($1::bigint, $2::inet, $3::text, $4::bigint)", 4},
    {"venues_update",
     "SELECT core.venue_update($1::bigint, $2::inet, $3::text, $4::bigint, $5::jsonb)", 5},
    {"rooms_create",
     "SELECT core.room_create($1::bigint, $2::inet, $3::text, $4::bigint, $5::text, "
     "$6::integer)",
     6},
    {"rooms_archive", "SELECT core.room_archive($1::bigint, $2::inet, $3::text, $4::bigint)", 4},
};

wm_status api_venues_register(struct server *srv)
{
	for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++)
		if (api_prepare(srv, stmts[i].name, stmts[i].sql, stmts[i].nparams) != WM_OK)
			return WM_ERR;
	if (api_route(srv, WM_POST, "/api/v1/venues", venues_create, &create_doc, MANAGERS) !=
	        WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/venues", venues_list, &list_doc, READERS) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/venues/{id}", venues_get, &get_doc, READERS) != WM_OK ||
	    api_route(srv, WM_PATCH, "/api/v1/venues/{id}", venues_patch, &patch_doc, MANAGERS) !=
	        WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/venues/{id}/rooms", rooms_create, &room_create_doc,
	              MANAGERS) != WM_OK ||
	    api_route(srv, WM_DELETE, "/api/v1/rooms/{id}", rooms_archive, &room_archive_doc,
	              MANAGERS) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
