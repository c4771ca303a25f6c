/*
 * api_households — households: the people a participant lives with or is
 * supported by (partner, children, grandparent carer ...), held by one
 * organisation and seen only by its admins and coordinators.
 *
 * Each handler checks the shape of the input and calls one SQL function
 * (migrations/0005_households.sql) that checks scope, changes, audits and
 * builds the reply. Reading a household with a child in it is audited.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "req.h"
#include "server.h"

#define MANAGERS (WM_ROLE_ADMIN | WM_ROLE_COORDINATOR)

static const char *const relationships[] = {
    "participant",  "partner",   "child", "parent", "grandparent_carer", "sibling", "kinship_carer",
    "foster_carer", "supporter", "other", NULL};

/* Routes that read no query parameter refuse a stray one. */
static const char *const no_query[] = {NULL};

static void households_create(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"organisation_id", "name", NULL};
	const char *org = NULL, *name = NULL;
	char orgbuf[24];
	json_t *body;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || req_json(req, &body) != WM_OK ||
	    req_json_only(req, body, allowed) != WM_OK ||
	    api_id_field(req, body, "organisation_id", 1, orgbuf, &org) != WM_OK ||
	    req_json_string(req, body, "name", 200, 1, &name) != WM_OK)
		return;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, org, name};
	if (api_exec(req, "core.households_create", 5, p, 201, "core.not_found") != WM_OK)
		return;
}

static void households_list(struct wm_req *req, void *state)
{
	static const char *const accepted[] = {"person_id", "limit", "cursor", NULL};
	char limit[8], cursor[24];
	const char *person = NULL;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, accepted) != WM_OK || api_page(req, limit, cursor) != WM_OK ||
	    api_query_id(req, "person_id", &person) != WM_OK)
		return;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, person, limit, cursor[0] ? cursor : NULL};
	if (api_exec(req, "core.households_list", 6, p, 200, "core.not_found") != WM_OK)
		return;
}

static void households_get(struct wm_req *req, void *state)
{
	(void)state;
	api_exec_by_id(req, no_query, "core.households_get", 200);
}

static void households_patch(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"name", NULL};
	const char *name = NULL;
	long long id;
	char idbuf[24];
	json_t *body;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &body) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
	    req_json_string(req, body, "name", 200, 1, &name) != WM_OK)
		return;
	snprintf(idbuf, sizeof idbuf, "%lld", id);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, idbuf, name};
	if (api_exec(req, "core.households_rename", 5, p, 200, "core.not_found") != WM_OK)
		return;
}

static void households_member_add(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"person_id", "relationship", "primary_contact", NULL};
	const char *person = NULL, *rel = NULL;
	long long id;
	int primary = 0;
	char idbuf[24], personbuf[24];
	json_t *body;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &body) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
	    api_id_field(req, body, "person_id", 1, personbuf, &person) != WM_OK ||
	    api_enum(req, body, "relationship", relationships, 1, &rel) != WM_OK ||
	    req_json_bool(req, body, "primary_contact", 0, &primary) != WM_OK)
		return;
	snprintf(idbuf, sizeof idbuf, "%lld", id);
	api_ctx(req, &ctx);
	const char *p[] = {
	    ctx.staff, ctx.addr, ctx.rid, idbuf, person, rel, primary ? "true" : "false"};
	if (api_exec(req, "core.households_member_add", 7, p, 201, "core.not_found") != WM_OK)
		return;
}

static void households_member_remove(struct wm_req *req, void *state)
{
	long long id, person;
	char idbuf[24], personbuf[24];
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    api_id(req, "person_id", &person) != WM_OK)
		return;
	snprintf(idbuf, sizeof idbuf, "%lld", id);
	snprintf(personbuf, sizeof personbuf, "%lld", person);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, idbuf, personbuf};
	if (api_exec(req, "core.households_member_remove", 5, p, 204, "core.not_found") != WM_OK)
		return;
}

#define HOUSEHOLD_SCHEMA                                                                           \
	"{\"type\":\"object\",\"properties\":{"                                                    \
	"\"id\":{\"type\":\"integer\"},\"organisation_id\":{\"type\":\"integer\"},"                \
	"\"name\":{\"type\":\"string\"},\"member_count\":{\"type\":\"integer\"},"                  \
	"\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"},"                           \
	"\"updated_at\":{\"type\":\"string\",\"format\":\"date-time\"}"

#define RELATIONSHIP_ENUM                                                                          \
	"[\"participant\",\"partner\",\"child\",\"parent\",\"grandparent_carer\",\"sibling\","     \
	"\"kinship_carer\",\"foster_carer\",\"supporter\",\"other\"]"

#define MEMBER_SCHEMA                                                                              \
	"{\"type\":\"object\",\"properties\":{"                                                    \
	"\"household_id\":{\"type\":\"integer\"},\"person_id\":{\"type\":\"integer\"},"            \
	"\"given_name\":{\"type\":\"string\"},\"family_name\":{\"type\":\"string\"},"              \
	"\"relationship\":{\"type\":\"string\",\"enum\":" RELATIONSHIP_ENUM "},"                   \
	"\"primary_contact\":{\"type\":\"boolean\"},\"child\":{\"type\":\"boolean\"},"             \
	"\"added_at\":{\"type\":\"string\",\"format\":\"date-time\"}}}"

static const struct wm_route_doc create_doc = {
    "Create a household in an organisation the caller is admin or coordinator of.",
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"organisation_id\",\"name\"],\"properties\":{"
    "\"organisation_id\":{\"type\":\"integer\",\"minimum\":1},"
    "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200}}}",
    HOUSEHOLD_SCHEMA "}}", 201};

static const struct wm_route_doc list_doc = {
    "Households of organisations the caller is admin or coordinator of; ?person_id= only "
    "those the person belongs to.",
    NULL,
    "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\",\"items\":" HOUSEHOLD_SCHEMA
    "}}},\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}",
    200};

static const struct wm_route_doc get_doc = {
    "A household with its members; reading one with a child in it is audited.", NULL,
    HOUSEHOLD_SCHEMA ",\"members\":{\"type\":\"array\",\"items\":" MEMBER_SCHEMA "}}}", 200};

static const struct wm_route_doc patch_doc = {
    "Rename a household.",
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"name\"],"
    "\"properties\":{\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200}}}",
    HOUSEHOLD_SCHEMA "}}", 200};

static const struct wm_route_doc member_add_doc = {
    "Add a person held by the household's organisation to the household; a new primary "
    "contact replaces the old one.",
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"person_id\",\"relationship\"],\"properties\":{"
    "\"person_id\":{\"type\":\"integer\",\"minimum\":1},"
    "\"relationship\":{\"type\":\"string\",\"enum\":" RELATIONSHIP_ENUM "},"
    "\"primary_contact\":{\"type\":\"boolean\"}}}",
    MEMBER_SCHEMA, 201};

static const struct wm_route_doc member_remove_doc = {"Remove a person from a household.", NULL,
                                                      NULL, 204};

/* The statements: one SQL function call each ($1..$3 the request context). */
static const struct {
	const char *name, *sql;
	int nparams;
} stmts[] = {
    {"households_create",
     "SELECT core.household_create($1::bigint, $2::inet, $3::text, $4::bigint, $5::text)", 5},
    {"households_list",
     "SELECT core.household_list($1::bigint, $2::inet, $3::text, $4::bigint, $5::integer, "
     "$6::bigint)",
     6},
    {"households_get", "SELECT core.household_get($1::bigint, $2::inet, $3::text, $4::bigint)", 4},
    {"households_rename",
     "SELECT core.household_rename($1::bigint, $2::inet, $3::text, $4::bigint, $5::text)", 5},
    {"households_member_add",
     "SELECT core.household_member_add($1::bigint, $2::inet, $3::text, $4::bigint, $5::bigint, "
     "$6::text, $7::boolean)",
     7},
    {"households_member_remove",
     "SELECT core.household_member_remove($1::bigint, $2::inet, $3::text, $4::bigint, "
     "$5::bigint)",
     5},
};

wm_status api_households_register(struct server *srv)
{
	for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++)
		if (api_prepare(srv, stmts[i].name, stmts[i].sql, stmts[i].nparams) != WM_OK)
			return WM_ERR;
	if (api_route(srv, WM_POST, "/api/v1/households", households_create, &create_doc,
	              MANAGERS) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/households", households_list, &list_doc, MANAGERS) !=
	        WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/households/{id}", households_get, &get_doc, MANAGERS) !=
	        WM_OK ||
	    api_route(srv, WM_PATCH, "/api/v1/households/{id}", households_patch, &patch_doc,
	              MANAGERS) != WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/households/{id}/members", households_member_add,
	              &member_add_doc, MANAGERS) != WM_OK ||
	    api_route(srv, WM_DELETE, "/api/v1/households/{id}/members/{person_id}",
	              households_member_remove, &member_remove_doc, MANAGERS) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
