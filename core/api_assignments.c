/*
 * api_assignments — a mentor's or facilitator's caseload:
 *   GET    /api/v1/people/{id}/assignments  admin, coordinator ('full' access)
 *   POST   /api/v1/people/{id}/assignments  admin, coordinator of organisation_id
 *   DELETE /api/v1/assignments/{id}         admin, coordinator of its organisation
 *
 * An assignment is what gives a mentor or facilitator 'caseload' access to
 * a person (core.person_access). Only an admin or coordinator of an
 * organisation that holds the person can make one, and only for staff who
 * hold that role in the same organisation; ending one keeps the row (ended_at,
 * ended_by) so the history stays. Every change is audited.
 */
#include <stdio.h>

#include "api.h"
#include "req.h"
#include "server.h"

static const char *const kinds[] = {"mentor", "facilitator", NULL};

/* Live assignments of the person in organisations where the caller is admin
 * or coordinator; NULL (404) unless the caller has 'full' access. */
static const char list_sql[] =
    "WITH ctx AS (SELECT $1::bigint AS staff, $2::inet AS addr, $3::text AS rid),"
    " ok AS (SELECT 1 WHERE core.person_access($1::bigint, $4::bigint) = 'full'),"
    " page AS ("
    "  SELECT a, a.id FROM core.assignment a"
    "  WHERE a.person_id = $4::bigint AND a.ended_at IS NULL AND EXISTS (SELECT 1 FROM ok)"
    "    AND a.org_id IN (SELECT core.staff_orgs($1::bigint,"
    "                     ARRAY['admin','coordinator']::core.staff_role[]))"
    "    AND ($6::bigint IS NULL OR a.id > $6::bigint)"
    "  ORDER BY a.id LIMIT $5::int + 1),"
    " items AS (SELECT * FROM page ORDER BY id LIMIT $5::int)"
    " SELECT jsonb_build_object("
    "  'items', coalesce((SELECT jsonb_agg(core.assignment_json(i.a) ORDER BY i.id)"
    "                     FROM items i), '[]'::jsonb),"
    "  'next_cursor', CASE WHEN (SELECT count(*) FROM page) > $5::int"
    "                 THEN (SELECT max(id) FROM items)::text END)"
    " WHERE EXISTS (SELECT 1 FROM ok)";

static const char create_sql[] = "SELECT core.assignment_create($1::bigint, $2::inet, $3::text, "
                                 "$4::bigint, $5::bigint, $6::bigint, $7::core.staff_role)";

/* Ends a live assignment of an organisation where the caller is admin or
 * coordinator; anything else (ended, unknown, another organisation's) is no
 * row: 404. */
static const char end_sql[] =
    "WITH e AS ("
    "  UPDATE core.assignment a SET ended_at = now(), ended_by = $1::bigint"
    "  WHERE a.id = $4::bigint AND a.ended_at IS NULL"
    "    AND core.has_role($1::bigint, a.org_id, ARRAY['admin','coordinator']::core.staff_role[])"
    "  RETURNING a.*),"
    " aud AS (INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,"
    "           person_id, remote_addr, request_id, detail)"
    "  SELECT $1::bigint, e.org_id, 'assignment.end', 'assignment', e.id, e.person_id,"
    "         $2::inet, $3::text, jsonb_build_object('kind', e.kind, 'staff_id', e.staff_id)"
    "  FROM e)"
    " SELECT '{}'::jsonb FROM e";

/* Routes that read no query parameter refuse a stray one. */
static const char *const no_query[] = {NULL};

static void list_assignments(struct wm_req *req, void *state)
{
	static const char *const accepted[] = {"limit", "cursor", NULL};
	long long id;
	char id_buf[24], limit[8], cursor[24];
	struct api_ctx ctx;
	if (api_query_only(req, accepted) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    api_page(req, limit, cursor) != WM_OK)
		return;
	api_ctx(req, &ctx);
	snprintf(id_buf, sizeof id_buf, "%lld", id);
	const char *params[] = {ctx.staff, ctx.addr, ctx.rid,
	                        id_buf,    limit,    cursor[0] ? cursor : NULL};
	if (api_exec(req, "core.assignments_list", 6, params, 200, "core.not_found") != WM_OK)
		return;
}

static void create_assignment(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"organisation_id", "staff_id", "kind", NULL};
	long long id;
	json_t *body;
	char id_buf[24], org_buf[24], staff_buf[24];
	const char *org = NULL, *staff = NULL, *kind = NULL;
	struct api_ctx ctx;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &body) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
	    api_id_field(req, body, "organisation_id", 1, org_buf, &org) != WM_OK ||
	    api_id_field(req, body, "staff_id", 1, staff_buf, &staff) != WM_OK ||
	    api_enum(req, body, "kind", kinds, 1, &kind) != WM_OK)
		return;
	api_ctx(req, &ctx);
	snprintf(id_buf, sizeof id_buf, "%lld", id);
	const char *params[] = {ctx.staff, ctx.addr, ctx.rid, id_buf, org, staff, kind};
	if (api_exec(req, "core.assignments_create", 7, params, 201, "core.not_found") != WM_OK)
		return;
}

static void end_assignment(struct wm_req *req, void *state)
{
	long long id;
	char id_buf[24];
	struct api_ctx ctx;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK)
		return;
	api_ctx(req, &ctx);
	snprintf(id_buf, sizeof id_buf, "%lld", id);
	const char *params[] = {ctx.staff, ctx.addr, ctx.rid, id_buf};
	if (api_exec(req, "core.assignments_end", 4, params, 204, "core.not_found") != WM_OK)
		return;
}

#define ASSIGNMENT_SCHEMA                                                                          \
	"{\"type\":\"object\",\"required\":[\"id\",\"organisation_id\",\"staff_id\",\"person_"     \
	"id\","                                                                                    \
	"\"kind\"],\"properties\":{\"id\":{\"type\":\"integer\"},"                                 \
	"\"organisation_id\":{\"type\":\"integer\"},\"staff_id\":{\"type\":\"integer\"},"          \
	"\"staff_display_name\":{\"type\":\"string\"},\"person_id\":{\"type\":\"integer\"},"       \
	"\"kind\":{\"enum\":[\"mentor\",\"facilitator\"]},"                                        \
	"\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"},"                           \
	"\"created_by\":{\"type\":[\"integer\",\"null\"]},"                                        \
	"\"ended_at\":{\"type\":[\"string\",\"null\"]},\"ended_by\":{\"type\":[\"integer\","       \
	"\"null\"]}}}"

static const struct wm_route_doc list_doc = {
    "Live mentor and facilitator assignments of a person in the caller's organisations", NULL,
    "{\"type\":\"object\",\"required\":[\"items\",\"next_cursor\"],\"properties\":{"
    "\"items\":{\"type\":\"array\",\"items\":" ASSIGNMENT_SCHEMA "},"
    "\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}",
    200};

static const struct wm_route_doc create_doc = {
    "Assign a mentor or facilitator of the organisation to a person it holds",
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"organisation_id\",\"staff_id\",\"kind\"],\"properties\":{"
    "\"organisation_id\":{\"type\":\"integer\",\"minimum\":1},"
    "\"staff_id\":{\"type\":\"integer\",\"minimum\":1},"
    "\"kind\":{\"enum\":[\"mentor\",\"facilitator\"]}}}",
    ASSIGNMENT_SCHEMA, 201};

static const struct wm_route_doc end_doc = {"End an assignment (the record is kept)", NULL, NULL,
                                            204};

wm_status api_assignments_register(struct server *srv)
{
	const unsigned staff = WM_ROLE_ADMIN | WM_ROLE_COORDINATOR;
	if (api_prepare(srv, "assignments_list", list_sql, 6) != WM_OK ||
	    api_prepare(srv, "assignments_create", create_sql, 7) != WM_OK ||
	    api_prepare(srv, "assignments_end", end_sql, 4) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/people/{id}/assignments", list_assignments, &list_doc,
	              staff) != WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/people/{id}/assignments", create_assignment,
	              &create_doc, staff) != WM_OK ||
	    api_route(srv, WM_DELETE, "/api/v1/assignments/{id}", end_assignment, &end_doc,
	              staff) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
