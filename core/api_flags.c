/*
 * api_flags — risk and safeguarding flags on a person. A flag is held by
 * the organisation that recorded it and read only by that organisation's
 * admins and coordinators, and only when they see the person in full.
 * Every read is audited ('flag.read'), an empty one too.
 *
 * Each handler checks the shape of the input and calls one SQL function
 * (migrations/0005_households.sql) that checks scope, changes, audits and
 * builds the reply.
 */
#include <stdio.h>

#include "api.h"
#include "req.h"
#include "server.h"

#define MANAGERS (WM_ROLE_ADMIN | WM_ROLE_COORDINATOR)

static const char *const kinds[] = {"risk_to_others",
                                    "risk_to_self",
                                    "risk_to_children",
                                    "safeguarding_child",
                                    "safeguarding_adult",
                                    "domestic_abuse",
                                    "do_not_contact",
                                    "other",
                                    NULL};
static const char *const severities[] = {"low", "medium", "high", "very_high", "unknown", NULL};

/* Routes that read no query parameter refuse a stray one. */
static const char *const no_query[] = {NULL};

static void flags_list(struct wm_req *req, void *state)
{
	static const char *const accepted[] = {"limit", "cursor", NULL};
	long long person;
	char personbuf[24], limit[8], cursor[24];
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, accepted) != WM_OK || api_id(req, "id", &person) != WM_OK ||
	    api_page(req, limit, cursor) != WM_OK)
		return;
	snprintf(personbuf, sizeof personbuf, "%lld", person);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid,
	                   personbuf, limit,    cursor[0] ? cursor : NULL};
	if (api_exec(req, "core.flags_list", 6, p, 200, "core.not_found") != WM_OK)
		return;
}

static void flags_create(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"organisation_id", "kind", "severity", "note", NULL};
	const char *org = NULL, *kind = NULL, *severity = NULL, *note = NULL;
	long long person;
	char personbuf[24], orgbuf[24];
	json_t *body;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &person) != WM_OK ||
	    req_json(req, &body) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
	    api_id_field(req, body, "organisation_id", 1, orgbuf, &org) != WM_OK ||
	    api_enum(req, body, "kind", kinds, 1, &kind) != WM_OK ||
	    api_enum(req, body, "severity", severities, 0, &severity) != WM_OK ||
	    api_text(req, body, "note", 2000, 0, &note) != WM_OK)
		return;
	snprintf(personbuf, sizeof personbuf, "%lld", person);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, personbuf, org, kind, severity, note};
	if (api_exec(req, "core.flags_create", 8, p, 201, "core.not_found") != WM_OK)
		return;
}

static void flags_remove(struct wm_req *req, void *state)
{
	(void)state;
	api_exec_by_id(req, no_query, "core.flags_remove", 204);
}

#define KIND_ENUM                                                                                  \
	"[\"risk_to_others\",\"risk_to_self\",\"risk_to_children\",\"safeguarding_child\","        \
	"\"safeguarding_adult\",\"domestic_abuse\",\"do_not_contact\",\"other\"]"
#define SEVERITY_ENUM "[\"low\",\"medium\",\"high\",\"very_high\",\"unknown\"]"

#define FLAG_SCHEMA                                                                                \
	"{\"type\":\"object\",\"properties\":{"                                                    \
	"\"id\":{\"type\":\"integer\"},\"person_id\":{\"type\":\"integer\"},"                      \
	"\"organisation_id\":{\"type\":\"integer\"},"                                              \
	"\"kind\":{\"type\":\"string\",\"enum\":" KIND_ENUM "},"                                   \
	"\"severity\":{\"type\":\"string\",\"enum\":" SEVERITY_ENUM "},"                           \
	"\"note\":{\"type\":[\"string\",\"null\"]},"                                               \
	"\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"},"                           \
	"\"created_by\":{\"type\":[\"integer\",\"null\"]}}}"

static const struct wm_route_doc list_doc = {
    "Live flags on a person recorded by organisations the caller is admin or coordinator of; "
    "every read is audited.",
    NULL,
    "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\",\"items\":" FLAG_SCHEMA
    "},\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}",
    200};

static const struct wm_route_doc create_doc = {
    "Record a risk or safeguarding flag on a person held by the organisation.",
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"organisation_id\",\"kind\"],\"properties\":{"
    "\"organisation_id\":{\"type\":\"integer\",\"minimum\":1},"
    "\"kind\":{\"type\":\"string\",\"enum\":" KIND_ENUM "},"
    "\"severity\":{\"type\":\"string\",\"enum\":" SEVERITY_ENUM "},"
    "\"note\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":2000}}}",
    FLAG_SCHEMA, 201};

static const struct wm_route_doc remove_doc = {
    "Remove a flag (kept, marked removed, no longer listed).", NULL, NULL, 204};

static const struct {
	const char *name, *sql;
	int nparams;
} stmts[] = {
    {"flags_list",
     "SELECT core.flag_list($1::bigint, $2::inet, $3::text, $4::bigint, $5::integer, "
     "$6::bigint)",
     6},
    {"flags_create",
     "SELECT core.flag_create($1::bigint, $2::inet, $3::text, $4::bigint, $5::bigint, $6::text, "
     "$7::text, $8::text)",
     8},
    {"flags_remove", "SELECT core.flag_remove($1::bigint, $2::inet, $3::text, $4::bigint)", 4},
};

wm_status api_flags_register(struct server *srv)
{
	for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++)
		if (api_prepare(srv, stmts[i].name, stmts[i].sql, stmts[i].nparams) != WM_OK)
			return WM_ERR;
	if (api_route(srv, WM_GET, "/api/v1/people/{id}/flags", flags_list, &list_doc, MANAGERS) !=
	        WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/people/{id}/flags", flags_create, &create_doc,
	              MANAGERS) != WM_OK ||
	    api_route(srv, WM_DELETE, "/api/v1/flags/{id}", flags_remove, &remove_doc, MANAGERS) !=
	        WM_OK)
		return WM_ERR;
	return WM_OK;
}
