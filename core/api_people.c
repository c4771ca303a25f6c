/*
 * api_people — people, as each caller may see them:
 *   GET   /api/v1/people       admin, coordinator, facilitator, mentor
 *   GET   /api/v1/people/{id}  admin, coordinator, facilitator, mentor
 *   POST  /api/v1/people       admin, coordinator of organisation_id
 *   PATCH /api/v1/people/{id}  admin, coordinator with 'full' access
 *
 * What a caller sees of a person is decided by core.person_access: 'full'
 * (admin or coordinator of an organisation holding the person), 'caseload'
 * (a mentor or facilitator assigned to them: identity, custody, release,
 * probation, area, risk level) or nothing (404, and absent from lists).
 * core.person_json builds both shapes, so the list and the single read can
 * never disagree. Reading a child's record writes an audit row in the same
 * statement, one per child, in lists too.
 *
 * Writes check every field's shape here (type, length, control characters,
 * enum, date) and name the field on refusal; the body, so checked, goes to
 * one SQL function (migrations/0004_people.sql) that checks scope and
 * duplicates and writes the person, the organisation's link and the audit
 * row in one transaction.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "jsonv.h"
#include "req.h"
#include "server.h"

static const char *const sexes[] = {"female", "male", "other", "unknown", "not_recorded", NULL};
static const char *const custody[] = {
    "in_custody", "remand",         "on_licence", "community_sentence",
    "released",   "not_applicable", "unknown",    NULL};
static const char *const risks[] = {"low", "medium", "high", "very_high", "unknown", NULL};

enum field_kind { F_TEXT, F_PAST_DATE, F_DATE, F_ENUM, F_BOOL };

/* The person fields a body may carry. `clearable`: PATCH may send null to
 * empty it (the others always hold a value). */
static const struct person_field {
	const char *name;
	enum field_kind kind;
	size_t max_len;
	const char *const *allowed;
	int clearable;
} fields[] = {
    {"given_name", F_TEXT, 100, NULL, 0},
    {"family_name", F_TEXT, 100, NULL, 0},
    {"known_as", F_TEXT, 100, NULL, 1},
    {"date_of_birth", F_PAST_DATE, 0, NULL, 1},
    {"sex", F_ENUM, 0, sexes, 0},
    {"is_participant", F_BOOL, 0, NULL, 0},
    {"custody_status", F_ENUM, 0, custody, 0},
    {"establishment", F_TEXT, 200, NULL, 1},
    {"expected_release_date", F_DATE, 0, NULL, 1},
    {"probation_office", F_TEXT, 200, NULL, 1},
    {"probation_practitioner", F_TEXT, 200, NULL, 1},
    {"area", F_TEXT, 100, NULL, 1},
    {"risk_level", F_ENUM, 0, risks, 0},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static const char *const create_allowed[] = {"organisation_id",
                                             "given_name",
                                             "family_name",
                                             "known_as",
                                             "date_of_birth",
                                             "sex",
                                             "is_participant",
                                             "custody_status",
                                             "establishment",
                                             "expected_release_date",
                                             "probation_office",
                                             "probation_practitioner",
                                             "area",
                                             "risk_level",
                                             NULL};
static const char *const patch_allowed[] = {"version",
                                            "given_name",
                                            "family_name",
                                            "known_as",
                                            "date_of_birth",
                                            "sex",
                                            "is_participant",
                                            "custody_status",
                                            "establishment",
                                            "expected_release_date",
                                            "probation_office",
                                            "probation_practitioner",
                                            "area",
                                            "risk_level",
                                            NULL};

/* Checks one field. On create, null is the same as absent (the column's
 * default); on PATCH, null clears a clearable field and is refused for the
 * others. Names are required on create. */
static wm_status check_field(struct wm_req *req, const json_t *body, const struct person_field *f,
                             int create)
{
	const json_t *v = json_object_get(body, f->name);
	int required = create && f->kind == F_TEXT && !f->clearable;
	const char *s = NULL;
	int b = 0;
	if (v && json_is_null(v) && !required) {
		if (create || f->clearable)
			return WM_OK;
		req_reply_error(req, 400, "core.wrong_type", f->name,
		                "%s cannot be cleared; send one of its values instead.", f->name);
		return WM_ERR;
	}
	switch (f->kind) {
	case F_TEXT:
		return req_json_string(req, body, f->name, f->max_len, required, &s);
	case F_PAST_DATE:
		return api_date(req, body, f->name, 0, 1, &s);
	case F_DATE:
		return api_date(req, body, f->name, 0, 0, &s);
	case F_ENUM:
		return api_enum(req, body, f->name, f->allowed, 0, &s);
	case F_BOOL:
		return req_json_bool(req, body, f->name, 0, &b);
	}
	return WM_ERR;
}

static wm_status check_person(struct wm_req *req, const json_t *body, int create)
{
	for (size_t i = 0; i < NFIELDS; i++)
		if (check_field(req, body, &fields[i], create) != WM_OK)
			return WM_ERR;
	return WM_OK;
}

/* Runs `stmt` with the context and, after it, `id` (may be NULL) and the
 * checked body as JSON text. */
static void run_with_body(struct wm_req *req, const char *stmt, const char *id, json_t *body,
                          int status)
{
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	char *text = json_dumps(body, JSON_COMPACT);
	if (!text) {
		req_reply_error(req, 500, "core.internal", NULL, "Cannot encode the request.");
		return;
	}
	const char *with_id[] = {ctx.staff, ctx.addr, ctx.rid, id, text};
	const char *without_id[] = {ctx.staff, ctx.addr, ctx.rid, text};
	wm_status st = id ? api_exec(req, stmt, 5, with_id, status, "core.not_found")
	                  : api_exec(req, stmt, 4, without_id, status, "core.not_found");
	(void)st; /* on failure api_exec has replied */
	free(text);
}

/* Routes that read no query parameter refuse a stray one. */
static const char *const no_query[] = {NULL};

static void create_person(struct wm_req *req, void *state)
{
	json_t *body;
	char org_buf[24];
	const char *org = NULL;
	if (api_query_only(req, no_query) != WM_OK || req_json(req, &body) != WM_OK ||
	    req_json_only(req, body, create_allowed) != WM_OK ||
	    api_id_field(req, body, "organisation_id", 1, org_buf, &org) != WM_OK ||
	    check_person(req, body, 1) != WM_OK)
		return;
	run_with_body(req, "core.people_create", NULL, body, 201);
}

static void update_person(struct wm_req *req, void *state)
{
	json_t *body;
	long long id = 0, version = 0;
	char id_buf[24];
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &body) != WM_OK || req_json_only(req, body, patch_allowed) != WM_OK ||
	    req_json_int(req, body, "version", 1, INT_MAX, 0, &version) != WM_OK ||
	    check_person(req, body, 0) != WM_OK)
		return;
	snprintf(id_buf, sizeof id_buf, "%lld", id);
	run_with_body(req, "core.people_update", id_buf, body, 200);
}

/* The person fields as JSON Schema properties, shared by both requests. */
#define PERSON_PROPS                                                                               \
	"\"given_name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":100},"                  \
	"\"family_name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":100},"                 \
	"\"known_as\":{\"type\":[\"string\",\"null\"],\"minLength\":1,\"maxLength\":100},"         \
	"\"date_of_birth\":{\"type\":[\"string\",\"null\"],\"format\":\"date\"},"                  \
	"\"sex\":{\"enum\":[\"female\",\"male\",\"other\",\"unknown\",\"not_recorded\"]},"         \
	"\"is_participant\":{\"type\":\"boolean\"},"                                               \
	"\"custody_status\":{\"enum\":[\"in_custody\",\"remand\",\"on_licence\","                  \
	"\"community_sentence\",\"released\",\"not_applicable\",\"unknown\"]},"                    \
	"\"establishment\":{\"type\":[\"string\",\"null\"],\"minLength\":1,\"maxLength\":200},"    \
	"\"expected_release_date\":{\"type\":[\"string\",\"null\"],\"format\":\"date\"},"          \
	"\"probation_office\":{\"type\":[\"string\",\"null\"],\"minLength\":1,\"maxLength\":200}," \
	"\"probation_practitioner\":{\"type\":[\"string\",\"null\"],\"minLength\":1,"              \
	"\"maxLength\":200},"                                                                      \
	"\"area\":{\"type\":[\"string\",\"null\"],\"minLength\":1,\"maxLength\":100},"             \
	"\"risk_level\":{\"enum\":[\"low\",\"medium\",\"high\",\"very_high\",\"unknown\"]}"

/* A person as a writer gets it back: always the 'full' shape. */
#define PERSON_FULL_SCHEMA                                                                         \
	"{\"type\":\"object\",\"required\":[\"id\",\"given_name\",\"family_name\",\"access\"],"    \
	"\"properties\":{\"id\":{\"type\":\"integer\"},\"version\":{\"type\":\"integer\"},"        \
	"\"organisations\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}},"                 \
	"\"access\":{\"enum\":[\"full\"]}}}"

static const struct wm_route_doc create_doc = {
    "Record a person, held by one of the caller's organisations",
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"organisation_id\",\"given_name\",\"family_name\"],\"properties\":{"
    "\"organisation_id\":{\"type\":\"integer\",\"minimum\":1}," PERSON_PROPS "}}",
    PERSON_FULL_SCHEMA, 201};

static const struct wm_route_doc update_doc = {
    "Correct a person's record (optionally only at a known version)",
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"version\":{\"type\":\"integer\",\"minimum\":1}," PERSON_PROPS "}}",
    PERSON_FULL_SCHEMA, 200};

/* The reading of one person, with the audit row of a child's read. */
static const char get_sql[] =
    "WITH v AS ("
    "  SELECT p, core.person_access($1::bigint, p.id) AS access"
    "  FROM core.person p WHERE p.id = $4::bigint),"
    " s AS (SELECT * FROM v WHERE access IS NOT NULL),"
    " aud AS (INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,"
    "           person_id, remote_addr, request_id, detail)"
    "  SELECT $1::bigint, core.person_access_org($1::bigint, (s.p).id), 'person.read_child',"
    "         'person', (s.p).id, (s.p).id, $2::inet, $3::text,"
    "         jsonb_build_object('access', s.access)"
    "  FROM s WHERE core.is_child((s.p).id))"
    " SELECT core.person_json(s.p, s.access, $1::bigint) FROM s";

/* People the caller can see: candidates are those held by an organisation
 * where they are admin or coordinator, or assigned to them; person_access
 * then decides (it also checks the assignment's role is still held). One
 * row more than the page tells whether there is a next page. */
static const char list_sql[] =
    "WITH cand AS ("
    "  SELECT po.person_id AS id FROM core.person_org po"
    "  WHERE po.org_id IN (SELECT core.staff_orgs($1::bigint,"
    "                      ARRAY['admin','coordinator']::core.staff_role[]))"
    "  UNION"
    "  SELECT a.person_id FROM core.assignment a"
    "  WHERE a.staff_id = $1::bigint AND a.ended_at IS NULL),"
    " page AS ("
    "  SELECT * FROM ("
    "    SELECT p, p.id, core.person_access($1::bigint, p.id) AS access"
    "    FROM core.person p JOIN cand ON cand.id = p.id"
    "    WHERE ($5::bigint IS NULL OR p.id > $5::bigint)"
    "      AND ($6::text IS NULL OR starts_with(lower(p.given_name), lower($6::text))"
    "           OR starts_with(lower(p.family_name), lower($6::text))"
    "           OR starts_with(lower(p.known_as), lower($6::text)))"
    "      AND ($7::bigint IS NULL OR EXISTS ("
    "           SELECT 1 FROM core.person_org po JOIN core.membership m"
    "             ON m.org_id = po.org_id AND m.staff_id = $1::bigint"
    "           WHERE po.person_id = p.id AND po.org_id = $7::bigint))"
    "      AND ($8::boolean IS NULL OR p.is_participant = $8::boolean)"
    "      AND ($9::core.custody_status IS NULL OR p.custody_status = $9::core.custody_status)"
    "  ) x WHERE access IS NOT NULL ORDER BY id LIMIT $4::int + 1),"
    " items AS (SELECT * FROM page ORDER BY id LIMIT $4::int),"
    " aud AS (INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,"
    "           person_id, remote_addr, request_id, detail)"
    "  SELECT $1::bigint, core.person_access_org($1::bigint, i.id), 'person.read_child',"
    "         'person', i.id, i.id, $2::inet, $3::text,"
    "         jsonb_build_object('access', i.access, 'list', true)"
    "  FROM items i WHERE core.is_child(i.id))"
    " SELECT jsonb_build_object("
    "  'items', coalesce((SELECT jsonb_agg(core.person_json(i.p, i.access, $1::bigint)"
    "                     ORDER BY i.id) FROM items i), '[]'::jsonb),"
    "  'next_cursor', CASE WHEN (SELECT count(*) FROM page) > $4::int"
    "                 THEN (SELECT max(id) FROM items)::text END)";

static void get_person(struct wm_req *req, void *state)
{
	long long id;
	char id_buf[24];
	struct api_ctx ctx;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK)
		return;
	api_ctx(req, &ctx);
	snprintf(id_buf, sizeof id_buf, "%lld", id);
	const char *params[] = {ctx.staff, ctx.addr, ctx.rid, id_buf};
	if (api_exec(req, "core.people_get", 4, params, 200, "core.not_found") != WM_OK)
		return;
}

static void bad_query(struct wm_req *req, const char *name, const char *what)
{
	req_reply_error(req, 400, "core.bad_query", name, "%s must be %s.", name, what);
}

/* ?q=: a name prefix, 1..100 characters of valid UTF-8, no control
 * characters (it is compared with names, which have none). */
static wm_status query_name_prefix(struct wm_req *req, const char **out)
{
	const unsigned char *q = (const unsigned char *)req_query(req, "q");
	*out = NULL;
	if (!q)
		return WM_OK;
	size_t n = strlen((const char *)q), chars = 0;
	int ok = n > 0 && utf8_valid(q, n);
	for (size_t i = 0; ok && i < n; i++) {
		if ((q[i] & 0xC0) != 0x80)
			chars++;
		if (q[i] < 0x20 || q[i] == 0x7F ||
		    (q[i] == 0xC2 && i + 1 < n && q[i + 1] >= 0x80 && q[i + 1] <= 0x9F))
			ok = 0;
	}
	if (!ok || chars > 100) {
		bad_query(req, "q", "1 to 100 characters of text without control characters");
		return WM_ERR;
	}
	*out = (const char *)q;
	return WM_OK;
}

static void list_people(struct wm_req *req, void *state)
{
	static const char *const accepted[] = {
	    "q", "organisation_id", "participant", "custody_status", "limit", "cursor", NULL};
	char limit[8], cursor[24];
	const char *q = NULL, *org = NULL, *part = req_query(req, "participant"), *cust = NULL;
	struct api_ctx ctx;
	if (api_query_only(req, accepted) != WM_OK || api_page(req, limit, cursor) != WM_OK ||
	    query_name_prefix(req, &q) != WM_OK ||
	    api_query_enum(req, "custody_status", custody, &cust) != WM_OK ||
	    api_query_id(req, "organisation_id", &org) != WM_OK)
		return;
	if (part && strcmp(part, "true") && strcmp(part, "false")) {
		bad_query(req, "participant", "true or false");
		return;
	}
	api_ctx(req, &ctx);
	const char *params[] = {ctx.staff, ctx.addr, ctx.rid, limit, cursor[0] ? cursor : NULL,
	                        q,         org,      part,    cust};
	if (api_exec(req, "core.people_list", 9, params, 200, "core.not_found") != WM_OK)
		return;
}

#define PERSON_ITEM_SCHEMA                                                                         \
	"{\"type\":\"object\",\"required\":[\"id\",\"given_name\",\"family_name\",\"access\"],"    \
	"\"properties\":{\"id\":{\"type\":\"integer\"},\"given_name\":{\"type\":\"string\"},"      \
	"\"family_name\":{\"type\":\"string\"},\"date_of_birth\":{\"type\":[\"string\",\"null\"]}" \
	","                                                                                        \
	"\"organisations\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}},"                 \
	"\"access\":{\"enum\":[\"full\",\"caseload\"]}}}"

static const struct wm_route_doc get_doc = {
    "A person, as much as the caller's access allows ('full' or 'caseload')", NULL,
    PERSON_ITEM_SCHEMA, 200};

static const struct wm_route_doc list_doc = {
    "People the caller may see; ?q= name prefix, ?organisation_id, ?participant, "
    "?custody_status, ?limit, ?cursor",
    NULL,
    "{\"type\":\"object\",\"required\":[\"items\",\"next_cursor\"],\"properties\":{"
    "\"items\":{\"type\":\"array\",\"items\":" PERSON_ITEM_SCHEMA "},"
    "\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}",
    200};

wm_status api_people_register(struct server *srv)
{
	const unsigned readers =
	    WM_ROLE_ADMIN | WM_ROLE_COORDINATOR | WM_ROLE_FACILITATOR | WM_ROLE_MENTOR;
	const unsigned writers = WM_ROLE_ADMIN | WM_ROLE_COORDINATOR;
	if (api_prepare(srv, "people_get", get_sql, 4) != WM_OK ||
	    api_prepare(srv, "people_list", list_sql, 9) != WM_OK ||
	    api_prepare(srv, "people_create",
	                "SELECT core.person_create($1::bigint, $2::inet, $3::text, $4::jsonb)",
	                4) != WM_OK ||
	    api_prepare(srv, "people_update",
	                "SELECT core.person_update($1::bigint, $2::inet, $3::text, $4::bigint, "
	                "$5::jsonb)",
	                5) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/people", list_people, &list_doc, readers) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/people/{id}", get_person, &get_doc, readers) != WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/people", create_person, &create_doc, writers) !=
	        WM_OK ||
	    api_route(srv, WM_PATCH, "/api/v1/people/{id}", update_person, &update_doc, writers) !=
	        WM_OK)
		return WM_ERR;
	return WM_OK;
}
