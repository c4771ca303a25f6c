/*
 * api_programmes — programmes and who runs them. A programme belongs to an
 * organisation and its type is a loaded plugin, which validates its
 * settings (programme_validate hook) whenever they are set. Admins and
 * coordinators of the organisation manage it; the facilitators and mentors
 * on its staff read it; its commissioners see that it exists (aggregates
 * come with reports).
 *
 * Each handler checks the input's shape in C, asks the plugin where one is
 * concerned, and calls one SQL function (migrations/0009_programmes.sql)
 * that checks scope, changes, audits and builds the reply. A PATCH that
 * changes settings needs the programme's type first: one statement reads
 * it (checking scope), the plugin judges, a second statement writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "hooks.h"
#include "plugin_loader.h"
#include "req.h"
#include "server.h"

#define MANAGERS (WM_ROLE_ADMIN | WM_ROLE_COORDINATOR)
#define RUNNERS  (MANAGERS | WM_ROLE_FACILITATOR | WM_ROLE_MENTOR)
#define ALL      (RUNNERS | WM_ROLE_COMMISSIONER)

/* Serialised settings bigger than this are refused: they are configuration,
 * not data. */
#define SETTINGS_MAX 16384

static const char *const no_query[] = {NULL};
static const char *const booleans[] = {"true", "false", NULL};
static const char *const programme_roles[] = {
    "lead",   "facilitator", "co_facilitator", "peer_mentor", "guest",
    "escort", "coach",       "mentor",         "coordinator", NULL};

static int given(const json_t *obj, const char *field)
{
	json_t *v = json_object_get(obj, field);
	return v && !json_is_null(v);
}

/* The type must name a loaded plugin: 422 core.unknown_type listing them. */
static wm_status check_type(struct wm_req *req, const char *type)
{
	struct server *srv = req->srv;
	char known[512] = "";
	size_t len = 0;
	if (hooks_plugin(srv, type))
		return WM_OK;
	for (size_t i = 0; i < srv->n_plugins && len < sizeof known; i++)
		len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "",
		                        srv->plugins[i]->name);
	req_reply_error(req, 422, "core.unknown_type", "type",
	                "type must be a programme type this server runs (%s).",
	                known[0] ? known : "none are loaded");
	return WM_ERR;
}

/* `settings` when given: an object of bounded size; *text is its compact
 * JSON (malloc'd) or NULL when absent. */
static wm_status check_settings(struct wm_req *req, const json_t *body, char **text)
{
	json_t *v = json_object_get(body, "settings");
	*text = NULL;
	if (!v)
		return WM_OK;
	if (!json_is_object(v)) {
		req_reply_error(req, 400, "core.wrong_type", "settings",
		                "settings must be an object.");
		return WM_ERR;
	}
	if (!(*text = json_dumps(v, JSON_COMPACT))) {
		req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
		return WM_ERR;
	}
	if (strlen(*text) > SETTINGS_MAX) {
		free(*text);
		*text = NULL;
		req_reply_error(req, 400, "core.too_long", "settings",
		                "settings is longer than %d bytes.", SETTINGS_MAX);
		return WM_ERR;
	}
	return WM_OK;
}

/* The plugin's verdict on settings (an empty object when none were sent). */
static wm_status validate_settings(struct wm_req *req, const char *type, const json_t *settings)
{
	struct wm_hook_error err;
	json_t *empty = settings ? NULL : json_object();
	wm_status st = hooks_programme_validate(req->srv, type, settings ? settings : empty, &err);
	json_decref(empty);
	if (st != WM_OK)
		hooks_reply_error(req, &err);
	return st;
}

static void programmes_create(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"organisation_id", "type",      "name",
	                                      "description",     "time_zone", "settings",
	                                      "public_listing",  NULL};
	const char *org = NULL, *type = NULL, *name = NULL, *desc = NULL, *tz = NULL;
	char orgbuf[24], *settings = NULL;
	int pub = 0;
	json_t *body;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || req_json(req, &body) != WM_OK ||
	    req_json_only(req, body, allowed) != WM_OK ||
	    api_id_field(req, body, "organisation_id", 1, orgbuf, &org) != WM_OK ||
	    req_json_string(req, body, "type", 31, 1, &type) != WM_OK ||
	    req_json_string(req, body, "name", 200, 1, &name) != WM_OK ||
	    api_text(req, body, "description", 2000, 0, &desc) != WM_OK ||
	    req_json_string(req, body, "time_zone", 64, 0, &tz) != WM_OK ||
	    req_json_bool(req, body, "public_listing", 0, &pub) != WM_OK ||
	    check_settings(req, body, &settings) != WM_OK || check_type(req, type) != WM_OK ||
	    validate_settings(req, type, json_object_get(body, "settings")) != WM_OK)
		goto done;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, org,      type,
	                   name,      desc,     tz,      settings, pub ? "true" : "false"};
	if (api_exec(req, "core.programmes_create", 10, p, 201, "core.not_found") != WM_OK)
		goto done; /* replied */
done:
	free(settings);
}

static void programmes_list(struct wm_req *req, void *state)
{
	static const char *const accepted[] = {"organisation_id", "type",   "archived",
	                                       "limit",           "cursor", NULL};
	char limit[8], cursor[24];
	const char *org = NULL, *type = NULL, *archived = NULL;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, accepted) != WM_OK || api_page(req, limit, cursor) != WM_OK ||
	    api_query_id(req, "organisation_id", &org) != WM_OK ||
	    api_query_enum(req, "archived", booleans, &archived) != WM_OK)
		return;
	type = req_query(req, "type");
	if (type && (!*type || strlen(type) > 31)) {
		req_reply_error(req, 400, "core.bad_query", "type",
		                "type must be a programme type name.");
		return;
	}
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, org,
	                   type,      archived, limit,   cursor[0] ? cursor : NULL};
	if (api_exec(req, "core.programmes_list", 8, p, 200, "core.not_found") != WM_OK)
		return;
}

/* GET-by-id shaped routes: no query, {id} in the path. */
static void by_id(struct wm_req *req, const char *stmt)
{
	long long id;
	char idbuf[24];
	struct api_ctx ctx;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK)
		return;
	snprintf(idbuf, sizeof idbuf, "%lld", id);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, idbuf};
	if (api_exec(req, stmt, 4, p, 200, "core.not_found") != WM_OK)
		return;
}

static void programmes_get(struct wm_req *req, void *state)
{
	(void)state;
	by_id(req, "core.programmes_get");
}

static void programmes_staff_list(struct wm_req *req, void *state)
{
	(void)state;
	by_id(req, "core.programmes_staff_list");
}

/* A PATCH that changes settings, between reading the type and writing. */
struct patch_call {
	struct wm_req *req;
	char id[24], version[24];
	int has_version;
	char *patch;
};

static void patch_call_free(struct patch_call *c)
{
	free(c->patch);
	free(c);
}

static void patch_write(struct patch_call *c)
{
	struct api_ctx ctx;
	api_ctx(c->req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid,
	                   c->id,     c->patch, c->has_version ? c->version : NULL};
	if (api_exec(c->req, "core.programmes_update", 6, p, 200, "core.not_found") != WM_OK)
		return; /* replied */
}

static void patch_got_type(void *arg, const struct wm_db_result *res)
{
	struct patch_call *c = arg;
	struct wm_req *req = c->req;
	const char *type = NULL;
	if (db_result_error(res) != WM_DB_OK) {
		api_reply_db_error(req, res);
		goto done;
	}
	if (db_result_ntuples(res) > 0)
		type = db_result_value(res, 0, 0);
	if (!type) {
		req_reply_error(req, 404, "core.not_found", NULL, "No such resource.");
		goto done;
	}
	/* The body is the request's and lives until the reply. */
	if (validate_settings(req, type, json_object_get(req->body, "settings")) != WM_OK)
		goto done;
	patch_write(c);
done:
	patch_call_free(c);
}

/* Adds `field` (a string up to `max`, prose or a name) to `patch` when the
 * body has it; JSON null is kept (clears) only when `nullable`. */
static wm_status patch_string(struct wm_req *req, const json_t *body, const char *field, size_t max,
                              int prose, int nullable, json_t *patch)
{
	const char *s = NULL;
	json_t *v = json_object_get(body, field);
	if (!v)
		return WM_OK;
	if (json_is_null(v) && nullable)
		return json_object_set_new(patch, field, json_null()) ? WM_ERR : WM_OK;
	if ((prose ? api_text(req, body, field, max, 1, &s)
	           : req_json_string(req, body, field, max, 1, &s)) != WM_OK)
		return WM_ERR;
	json_object_set_new(patch, field, json_string(s));
	return WM_OK;
}

static wm_status patch_bool(struct wm_req *req, const json_t *body, const char *field,
                            json_t *patch)
{
	int b = 0;
	if (!json_object_get(body, field))
		return WM_OK;
	if (req_json_bool(req, body, field, 1, &b) != WM_OK)
		return WM_ERR;
	json_object_set_new(patch, field, json_boolean(b));
	return WM_OK;
}

static void programmes_patch(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {
	    "name",           "description", "time_zone", "settings",
	    "public_listing", "archived",    "version",   NULL};
	long long id, ver = 0;
	json_t *body, *patch = NULL;
	char *settings = NULL;
	struct patch_call *c = NULL;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &body) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
	    (given(body, "version") &&
	     req_json_int(req, body, "version", 1, 2147483647LL, 1, &ver) != WM_OK) ||
	    check_settings(req, body, &settings) != WM_OK)
		goto done;
	if (!(patch = json_object()) || !(c = calloc(1, sizeof *c)))
		goto oom;
	if (patch_string(req, body, "name", 200, 0, 0, patch) != WM_OK ||
	    patch_string(req, body, "description", 2000, 1, 1, patch) != WM_OK ||
	    patch_string(req, body, "time_zone", 64, 0, 0, patch) != WM_OK ||
	    patch_bool(req, body, "public_listing", patch) != WM_OK ||
	    patch_bool(req, body, "archived", patch) != WM_OK)
		goto done;
	if (settings)
		json_object_set(patch, "settings", json_object_get(body, "settings"));
	if (json_object_size(patch) == 0) {
		req_reply_error(req, 400, "core.missing_field", NULL,
		                "Give at least one field to change.");
		goto done;
	}
	if (!(c->patch = json_dumps(patch, JSON_COMPACT)))
		goto oom;
	c->req = req;
	snprintf(c->id, sizeof c->id, "%lld", id);
	c->has_version = given(body, "version");
	snprintf(c->version, sizeof c->version, "%lld", ver);
	if (!settings) {
		patch_write(c);
		goto done;
	}
	/* Settings change: the plugin judges them before anything is written. */
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, c->id};
	if (db_exec_prepared(req->srv->pool, "core.programmes_type", 4, p, patch_got_type, c) !=
	    WM_OK) {
		req_reply_error(req, 500, "core.internal", NULL, "Cannot run the query.");
		goto done;
	}
	c = NULL; /* the callback frees it */
	goto done;
oom:
	req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
done:
	if (c)
		patch_call_free(c);
	json_decref(patch);
	free(settings);
}

static void programmes_staff_add(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"staff_id", "role", NULL};
	long long id;
	char idbuf[24], staffbuf[24];
	const char *staff = NULL, *role = NULL;
	json_t *body;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &body) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
	    api_id_field(req, body, "staff_id", 1, staffbuf, &staff) != WM_OK ||
	    api_enum(req, body, "role", programme_roles, 1, &role) != WM_OK)
		return;
	snprintf(idbuf, sizeof idbuf, "%lld", id);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, idbuf, staff, role};
	if (api_exec(req, "core.programmes_staff_add", 6, p, 201, "core.not_found") != WM_OK)
		return;
}

static void programmes_staff_remove(struct wm_req *req, void *state)
{
	long long id, staff;
	char idbuf[24], staffbuf[24];
	const char *role = req_param(req, "role");
	struct api_ctx ctx;
	int known = 0;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    api_id(req, "staff_id", &staff) != WM_OK)
		return;
	for (size_t i = 0; role && programme_roles[i]; i++)
		known |= !strcmp(role, programme_roles[i]);
	if (!known) {
		req_reply_error(req, 404, "core.not_found", NULL, "No such resource.");
		return;
	}
	snprintf(idbuf, sizeof idbuf, "%lld", id);
	snprintf(staffbuf, sizeof staffbuf, "%lld", staff);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, idbuf, staffbuf, role};
	if (api_exec(req, "core.programmes_staff_remove", 6, p, 204, "core.not_found") != WM_OK)
		return;
}

/* --- documents ------------------------------------------------------------ */

#define TS        "{\"type\":\"string\",\"format\":\"date-time\"}"
#define TS_OR_NUL "{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"}"
#define ROLE_ENUM                                                                                  \
	"[\"lead\",\"facilitator\",\"co_facilitator\",\"peer_mentor\",\"guest\",\"escort\","       \
	"\"coach\",\"mentor\",\"coordinator\"]"

#define PROGRAMME_SCHEMA                                                                           \
	"{\"type\":\"object\",\"properties\":{"                                                    \
	"\"id\":{\"type\":\"integer\"},\"organisation_id\":{\"type\":\"integer\"},"                \
	"\"type\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"},"                           \
	"\"description\":{\"type\":[\"string\",\"null\"]},\"time_zone\":{\"type\":\"string\"},"    \
	"\"settings\":{\"type\":\"object\"},\"public_listing\":{\"type\":\"boolean\"},"            \
	"\"archived\":{\"type\":\"boolean\"},\"archived_at\":" TS_OR_NUL ","                       \
	"\"created_at\":" TS ",\"updated_at\":" TS ",\"version\":{\"type\":\"integer\"},"          \
	"\"access\":{\"type\":\"string\",\"enum\":[\"manage\",\"run\",\"report\"]}}}"

#define STAFF_SCHEMA                                                                               \
	"{\"type\":\"object\",\"properties\":{"                                                    \
	"\"programme_id\":{\"type\":\"integer\"},\"staff_id\":{\"type\":\"integer\"},"             \
	"\"display_name\":{\"type\":\"string\"},\"role\":{\"type\":\"string\",\"enum\":" ROLE_ENUM \
	"},\"added_at\":" TS "}}"

#define PROGRAMME_FIELDS                                                                           \
	"\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200},"                        \
	"\"description\":{\"type\":[\"string\",\"null\"],\"minLength\":1,\"maxLength\":2000},"     \
	"\"time_zone\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64},"                    \
	"\"settings\":{\"type\":\"object\"},\"public_listing\":{\"type\":\"boolean\"}"

static const struct wm_route_doc create_doc = {
    "Create a programme of a loaded type in an organisation the caller is admin or coordinator "
    "of; the plugin validates its settings (unknown type: 422 core.unknown_type; unknown time "
    "zone: 400 core.bad_time_zone).",
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"organisation_id\",\"type\",\"name\"],\"properties\":{"
    "\"organisation_id\":{\"type\":\"integer\",\"minimum\":1},"
    "\"type\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":31}," PROGRAMME_FIELDS "}}",
    PROGRAMME_SCHEMA, 201};

static const struct wm_route_doc list_doc = {
    "Programmes the caller may see: managers, the staff who run them, commissioners of the "
    "organisation; ?organisation_id ?type ?archived=true (archived ones, for managers).",
    NULL,
    "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\",\"items\":"
    "" PROGRAMME_SCHEMA "},\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}",
    200};

static const struct wm_route_doc get_doc = {"A programme, with the caller's access to it.", NULL,
                                            PROGRAMME_SCHEMA, 200};

static const struct wm_route_doc patch_doc = {
    "Change a programme (optional version for optimistic concurrency); new settings are "
    "validated by the plugin; archived archives or restores it.",
    "{\"type\":\"object\",\"additionalProperties\":false,\"minProperties\":1,\"properties\":{"
    "" PROGRAMME_FIELDS ",\"archived\":{\"type\":\"boolean\"},"
    "\"version\":{\"type\":\"integer\",\"minimum\":1}}}",
    PROGRAMME_SCHEMA, 200};

static const struct wm_route_doc staff_list_doc = {
    "Who runs a programme (seen by its managers and the staff who run it).", NULL,
    "{\"type\":\"object\",\"properties\":{\"programme_id\":{\"type\":\"integer\"},"
    "\"items\":{\"type\":\"array\",\"items\":" STAFF_SCHEMA "},"
    "\"next_cursor\":{\"type\":\"null\"}}}",
    200};

static const struct wm_route_doc staff_add_doc = {
    "Add a member of the programme's organisation to its staff in a role (else 422 "
    "core.not_member).",
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"staff_id\",\"role\"],"
    "\"properties\":{\"staff_id\":{\"type\":\"integer\",\"minimum\":1},"
    "\"role\":{\"type\":\"string\",\"enum\":" ROLE_ENUM "}}}",
    STAFF_SCHEMA, 201};

static const struct wm_route_doc staff_remove_doc = {"Remove a staff member's role in a programme.",
                                                     NULL, NULL, 204};

static const struct {
	const char *name, *sql;
	int nparams;
} stmts[] = {
    {"programmes_create",
     "SELECT core.programme_create($1::bigint, $2::inet, $3::text, $4::bigint, $5::text, "
     "$6::text, $7::text, $8::text, $9::jsonb, $10::boolean)",
     10},
    {"programmes_list",
     "SELECT core.programme_list($1::bigint, $2::inet, $3::text, $4::bigint, $5::text, "
     "$6::boolean, $7::integer, $8::bigint)",
     8},
    {"programmes_get", "SELECT core.programme_get($1::bigint, $2::inet, $3::text, $4::bigint)", 4},
    {"programmes_type",
     "SELECT core.programme_type_for_update($1::bigint, $2::inet, $3::text, $4::bigint)", 4},
    {"programmes_update",
     "SELECT core.programme_update($1::bigint, $2::inet, $3::text, $4::bigint, $5::jsonb, "
     "$6::integer)",
     6},
    {"programmes_staff_list",
     "SELECT core.programme_staff_list($1::bigint, $2::inet, $3::text, $4::bigint)", 4},
    {"programmes_staff_add",
     "SELECT core.programme_staff_add($1::bigint, $2::inet, $3::text, $4::bigint, $5::bigint, "
     "$6::text)",
     6},
    {"programmes_staff_remove",
     "SELECT core.programme_staff_remove($1::bigint, $2::inet, $3::text, $4::bigint, "
     "$5::bigint, $6::text)",
     6},
};

wm_status api_programmes_register(struct server *srv)
{
	for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++)
		if (api_prepare(srv, stmts[i].name, stmts[i].sql, stmts[i].nparams) != WM_OK)
			return WM_ERR;
	if (api_route(srv, WM_POST, "/api/v1/programmes", programmes_create, &create_doc,
	              MANAGERS) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/programmes", programmes_list, &list_doc, ALL) !=
	        WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/programmes/{id}", programmes_get, &get_doc, ALL) !=
	        WM_OK ||
	    api_route(srv, WM_PATCH, "/api/v1/programmes/{id}", programmes_patch, &patch_doc,
	              MANAGERS) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/programmes/{id}/staff", programmes_staff_list,
	              &staff_list_doc, RUNNERS) != WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/programmes/{id}/staff", programmes_staff_add,
	              &staff_add_doc, MANAGERS) != WM_OK ||
	    api_route(srv, WM_DELETE, "/api/v1/programmes/{id}/staff/{staff_id}/{role}",
	              programmes_staff_remove, &staff_remove_doc, MANAGERS) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
