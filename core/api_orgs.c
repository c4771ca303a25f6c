/*
 * api_orgs — organisations and who belongs to them.
 *
 * A server admin creates organisations; each organisation's admins run it
 * (name, kind, archiving, memberships). Members see their own
 * organisations; admins and coordinators see who else works there. An
 * organisation always keeps one enabled admin. Taking a caseload role away
 * ends the member's assignments of that kind in the organisation. Scope and audit live in
 * migrations/0003_identity.sql (identity_org_*, identity_member_*).
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "req.h"
#include "server.h"

static const char *const org_kinds[] = {"prison_family_service",
                                        "mentoring_charity",
                                        "course_provider",
                                        "sports_charity",
                                        "housing",
                                        "benefits",
                                        "probation",
                                        "other",
                                        NULL};
static const char *const roles[] = {"admin",  "coordinator",  "facilitator",
                                    "mentor", "commissioner", NULL};

#define ORG_NAME_MAX 200

#define KINDS_JSON                                                                                 \
	"[\"prison_family_service\",\"mentoring_charity\",\"course_provider\","                    \
	"\"sports_charity\",\"housing\",\"benefits\",\"probation\",\"other\"]"
#define ROLES_JSON   "[\"admin\",\"coordinator\",\"facilitator\",\"mentor\",\"commissioner\"]"
#define TIME_OR_NULL "{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"}"

#define ORG_SCHEMA                                                                                 \
	"{\"type\":\"object\",\"required\":[\"id\",\"name\",\"kind\",\"archived\",\"roles\"],"     \
	"\"properties\":{\"id\":{\"type\":\"integer\"},\"name\":{\"type\":\"string\"},"            \
	"\"kind\":{\"enum\":" KINDS_JSON "},\"archived\":{\"type\":\"boolean\"},"                  \
	"\"archived_at\":" TIME_OR_NULL ",\"created_at\":{\"type\":\"string\"},"                   \
	"\"roles\":{\"type\":\"array\",\"items\":{\"enum\":" ROLES_JSON "}}}}"

#define PAGE_OF(item)                                                                              \
	"{\"type\":\"object\",\"required\":[\"items\",\"next_cursor\"],\"properties\":{"           \
	"\"items\":{\"type\":\"array\",\"items\":" item "},"                                       \
	"\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}"

#define MEMBER_SCHEMA                                                                              \
	"{\"type\":\"object\",\"required\":[\"staff_id\",\"email\",\"display_name\",\"roles\"],"   \
	"\"properties\":{\"staff_id\":{\"type\":\"integer\"},\"email\":{\"type\":\"string\"},"     \
	"\"display_name\":{\"type\":\"string\"},\"disabled\":{\"type\":\"boolean\"},"              \
	"\"roles\":{\"type\":\"array\",\"items\":{\"enum\":" ROLES_JSON "}}}}"

static const char create_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"name\"],"
    "\"properties\":{\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200},"
    "\"kind\":{\"enum\":" KINDS_JSON "}}}";
static const char patch_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"properties\":{\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200},"
    "\"kind\":{\"enum\":" KINDS_JSON "},\"archived\":{\"type\":\"boolean\"}}}";
static const char member_add_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"staff_id\",\"role\"],"
    "\"properties\":{\"staff_id\":{\"type\":\"integer\",\"minimum\":1},"
    "\"role\":{\"enum\":" ROLES_JSON "}}}";
static const char membership_schema[] =
    "{\"type\":\"object\",\"required\":[\"organisation_id\",\"staff_id\",\"role\"],"
    "\"properties\":{\"organisation_id\":{\"type\":\"integer\"},"
    "\"staff_id\":{\"type\":\"integer\"},\"role\":{\"enum\":" ROLES_JSON "},"
    "\"created_at\":{\"type\":\"string\"}}}";

/* $1..$3 are the request context (api.h); a CTE gives the unused ones a type. */
static const char create_sql[] =
    "SELECT core.identity_org_create($1::bigint, $2::inet, $3::text, $4::text,"
    " $5::core.org_kind)";
static const char list_sql[] =
    "SELECT jsonb_build_object("
    " 'items', coalesce(jsonb_agg(x.j ORDER BY x.id) FILTER (WHERE x.n <= $4::int), '[]'),"
    " 'next_cursor', CASE WHEN count(*) > $4::int"
    "  THEN (max(x.id) FILTER (WHERE x.n <= $4::int))::text END)"
    " FROM (SELECT o.id, row_number() OVER (ORDER BY o.id) AS n,"
    "        core.identity_org_json(o, $1::bigint) AS j"
    "       FROM core.organisation o, (SELECT $2::inet, $3::text) ctx"
    "       WHERE o.id > $5::bigint AND (core.identity_is_sa($1::bigint) OR o.id IN"
    "        (SELECT core.staff_orgs($1::bigint, enum_range(NULL::core.staff_role))))"
    "       ORDER BY o.id LIMIT $4::int + 1) x";
static const char get_sql[] =
    "SELECT core.identity_org_json(o, $1::bigint)"
    " FROM core.organisation o, (SELECT $2::inet, $3::text) ctx"
    " WHERE o.id = $4::bigint AND (core.identity_is_sa($1::bigint) OR o.id IN"
    "  (SELECT core.staff_orgs($1::bigint, enum_range(NULL::core.staff_role))))";
static const char update_sql[] =
    "SELECT core.identity_org_update($1::bigint, $2::inet, $3::text, $4::bigint, $5::text,"
    " $6::core.org_kind, $7::boolean)";
static const char members_sql[] =
    "SELECT core.identity_org_members($1::bigint, $4::bigint, $5::int, $6::bigint)"
    " FROM (SELECT $2::inet, $3::text) ctx";
static const char member_add_sql[] =
    "SELECT core.identity_member_add($1::bigint, $2::inet, $3::text, $4::bigint, $5::bigint,"
    " $6::core.staff_role)";
static const char member_remove_sql[] =
    "SELECT core.identity_member_remove($1::bigint, $2::inet, $3::text, $4::bigint, $5::bigint,"
    " $6::core.staff_role)";

static void org_create(struct wm_req *req, void *state)
{
	static const char *const none[] = {NULL};
	static const char *const allowed[] = {"name", "kind", NULL};
	json_t *body;
	const char *name = NULL, *kind = "other";
	struct api_ctx ctx;
	if (api_query_only(req, none) != WM_OK || req_json(req, &body) != WM_OK ||
	    req_json_only(req, body, allowed) != WM_OK ||
	    req_json_string(req, body, "name", ORG_NAME_MAX, 1, &name) != WM_OK ||
	    api_enum(req, body, "kind", org_kinds, 0, &kind) != WM_OK)
		return;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, name, kind};
	if (api_exec(req, "core.orgs_create", 5, p, 201, NULL) != WM_OK)
		return;
}

static void org_list(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"limit", "cursor", NULL};
	char limit[8], cursor[24];
	struct api_ctx ctx;
	if (api_query_only(req, allowed) != WM_OK || api_page(req, limit, cursor) != WM_OK)
		return;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, limit, cursor[0] ? cursor : "0"};
	if (api_exec(req, "core.orgs_list", 5, p, 200, NULL) != WM_OK)
		return;
}

static void org_get(struct wm_req *req, void *state)
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
	if (api_exec(req, "core.orgs_get", 4, p, 200, NULL) != WM_OK)
		return;
}

static void org_patch(struct wm_req *req, void *state)
{
	static const char *const none[] = {NULL};
	static const char *const allowed[] = {"name", "kind", "archived", NULL};
	json_t *body;
	long long id;
	int archived = 0;
	char ids[24];
	const char *name = NULL, *kind = NULL;
	struct api_ctx ctx;
	if (api_query_only(req, none) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &body) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
	    req_json_string(req, body, "name", ORG_NAME_MAX, 0, &name) != WM_OK ||
	    api_enum(req, body, "kind", org_kinds, 0, &kind) != WM_OK ||
	    req_json_bool(req, body, "archived", 0, &archived) != WM_OK)
		return;
	json_t *a = json_object_get(body, "archived");
	snprintf(ids, sizeof ids, "%lld", id);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff,
	                   ctx.addr,
	                   ctx.rid,
	                   ids,
	                   name,
	                   kind,
	                   a && !json_is_null(a) ? (archived ? "true" : "false") : NULL};
	if (api_exec(req, "core.orgs_update", 7, p, 200, NULL) != WM_OK)
		return;
}

static void members_list(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"limit", "cursor", NULL};
	long long id;
	char ids[24], limit[8], cursor[24];
	struct api_ctx ctx;
	if (api_query_only(req, allowed) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    api_page(req, limit, cursor) != WM_OK)
		return;
	snprintf(ids, sizeof ids, "%lld", id);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, ids, limit, cursor[0] ? cursor : "0"};
	if (api_exec(req, "core.orgs_members", 6, p, 200, NULL) != WM_OK)
		return;
}

static void member_add(struct wm_req *req, void *state)
{
	static const char *const none[] = {NULL};
	static const char *const allowed[] = {"staff_id", "role", NULL};
	json_t *body;
	long long id;
	char ids[24], staff_buf[24];
	const char *staff = NULL, *role = NULL;
	struct api_ctx ctx;
	if (api_query_only(req, none) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &body) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
	    api_id_field(req, body, "staff_id", 1, staff_buf, &staff) != WM_OK ||
	    api_enum(req, body, "role", roles, 1, &role) != WM_OK)
		return;
	snprintf(ids, sizeof ids, "%lld", id);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, ids, staff, role};
	if (api_exec(req, "core.orgs_member_add", 6, p, 201, NULL) != WM_OK)
		return;
}

static void member_remove(struct wm_req *req, void *state)
{
	static const char *const none[] = {NULL};
	long long id, staff;
	char ids[24], staff_ids[24];
	const char *role = req_param(req, "role");
	struct api_ctx ctx;
	if (api_query_only(req, none) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    api_id(req, "staff_id", &staff) != WM_OK)
		return;
	/* Role names are public vocabulary: a wrong one is bad input, not a
	 * missing object. */
	int known = 0;
	for (size_t i = 0; role && roles[i]; i++)
		known |= !strcmp(role, roles[i]);
	if (!known) {
		req_reply_error(req, 400, "core.bad_enum", "role",
		                "role must be one of: admin, coordinator, facilitator, mentor, "
		                "commissioner.");
		return;
	}
	snprintf(ids, sizeof ids, "%lld", id);
	snprintf(staff_ids, sizeof staff_ids, "%lld", staff);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, ids, staff_ids, role};
	if (api_exec(req, "core.orgs_member_remove", 6, p, 204, NULL) != WM_OK)
		return;
}

wm_status api_orgs_register(struct server *srv)
{
	static const struct wm_route_doc create_doc = {"Create an organisation (server admin).",
	                                               create_schema, ORG_SCHEMA, 201};
	static const struct wm_route_doc list_doc = {
	    "Organisations the caller belongs to (a server admin: all).", NULL, PAGE_OF(ORG_SCHEMA),
	    200};
	static const struct wm_route_doc get_doc = {"One organisation the caller belongs to.", NULL,
	                                            ORG_SCHEMA, 200};
	static const struct wm_route_doc patch_doc = {
	    "Rename, re-classify, archive or restore an organisation (its admin).", patch_schema,
	    ORG_SCHEMA, 200};
	static const struct wm_route_doc members_doc = {
	    "Staff of an organisation and their roles there.", NULL, PAGE_OF(MEMBER_SCHEMA), 200};
	static const struct wm_route_doc add_doc = {
	    "Give a staff member the caller already manages a role in the organisation.",
	    member_add_schema, membership_schema, 201};
	static const struct wm_route_doc remove_doc = {
	    "Take a role away; the last admin cannot be removed (409 core.last_admin). Taking "
	    "away mentor or facilitator ends the member's assignments of that kind here.",
	    NULL, NULL, 204};
	const unsigned all = WM_ROLES_ALL | WM_ACCESS_SERVER_ADMIN;
	const unsigned admin = WM_ROLE_ADMIN | WM_ACCESS_SERVER_ADMIN;
	if (api_prepare(srv, "orgs_create", create_sql, 5) != WM_OK ||
	    api_prepare(srv, "orgs_list", list_sql, 5) != WM_OK ||
	    api_prepare(srv, "orgs_get", get_sql, 4) != WM_OK ||
	    api_prepare(srv, "orgs_update", update_sql, 7) != WM_OK ||
	    api_prepare(srv, "orgs_members", members_sql, 6) != WM_OK ||
	    api_prepare(srv, "orgs_member_add", member_add_sql, 6) != WM_OK ||
	    api_prepare(srv, "orgs_member_remove", member_remove_sql, 6) != WM_OK)
		return WM_ERR;
	if (api_route(srv, WM_POST, "/api/v1/organisations", org_create, &create_doc,
	              WM_ACCESS_SERVER_ADMIN) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/organisations", org_list, &list_doc, all) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/organisations/{id}", org_get, &get_doc, all) != WM_OK ||
	    api_route(srv, WM_PATCH, "/api/v1/organisations/{id}", org_patch, &patch_doc, admin) !=
	        WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/organisations/{id}/members", members_list, &members_doc,
	              WM_ROLE_ADMIN | WM_ROLE_COORDINATOR | WM_ACCESS_SERVER_ADMIN) != WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/organisations/{id}/members", member_add, &add_doc,
	              admin) != WM_OK ||
	    api_route(srv, WM_DELETE, "/api/v1/organisations/{id}/members/{staff_id}/{role}",
	              member_remove, &remove_doc, admin) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
