/*
 * api_outcomes — attendance outcome codes: the built-in ones every
 * organisation shares, and each organisation's own.
 *
 *   GET    /api/v1/outcome-codes       built-in + the caller's organisations' own
 *   POST   /api/v1/outcome-codes       an admin adds one to their organisation
 *   DELETE /api/v1/outcome-codes/{id}  an admin archives their organisation's own
 *
 * Admins, coordinators, facilitators and mentors read the list (they take
 * registers with it); only admins change it. Another organisation's codes
 * are never listed and are not found. Built-in codes cannot be archived
 * (409), nor shadowed by an organisation's code of the same name (409).
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "req.h"
#include "server.h"

#define READERS (WM_ROLE_ADMIN | WM_ROLE_COORDINATOR | WM_ROLE_FACILITATOR | WM_ROLE_MENTOR)

static const char *const reason_classes[] = {"acceptable", "unacceptable", "service_cancelled",
                                             "logistics", NULL};

/* --- statements ------------------------------------------------------- */

/* Keyset page: one row more than asked says whether there is a next page.
 * Reads are not audited: ctx only types the unused $2 and $3. */
static const char sql_list[] =
    "WITH ctx AS (SELECT $2::inet AS addr, $3::text AS rid), "
    "page AS (SELECT oc.* FROM core.outcome_code oc "
    "   WHERE oc.archived_at IS NULL "
    "     AND (oc.org_id IS NULL OR oc.org_id IN (SELECT core.staff_orgs($1::bigint, "
    "          ARRAY['admin', 'coordinator', 'facilitator', 'mentor']::core.staff_role[]))) "
    "     AND ($4::bigint IS NULL OR oc.org_id IS NULL OR oc.org_id = $4::bigint) "
    "     AND oc.id > COALESCE($5::bigint, 0) "
    "   ORDER BY oc.id LIMIT $6::int + 1), "
    "shown AS (SELECT * FROM page ORDER BY id LIMIT $6::int) "
    "SELECT json_build_object("
    "  'items', COALESCE((SELECT json_agg(core.outcome_code_json(s) ORDER BY s.id) "
    "                     FROM shown s), '[]'::json), "
    "  'next_cursor', CASE WHEN (SELECT count(*) FROM page) > $6::int "
    "                      THEN (SELECT max(id) FROM shown)::text END)";

static const char sql_create[] =
    "SELECT core.outcome_code_create($1::bigint, $2::inet, $3::text, $4::bigint, $5::text, "
    "$6::text, $7::boolean, $8::boolean, $9::text)";

static const char sql_archive[] =
    "SELECT core.outcome_code_archive($1::bigint, $2::inet, $3::text, $4::bigint)";

/* --- docs ------------------------------------------------------------- */

#define REASON_ENUM "[\"acceptable\", \"unacceptable\", \"service_cancelled\", \"logistics\"]"
#define CODE_PROPS                                                                                 \
	"\"id\": {\"type\": \"integer\", \"minimum\": 1}, \"organisation_id\": {\"type\": "        \
	"[\"integer\", \"null\"], \"minimum\": 1}, \"code\": {\"type\": \"string\", \"pattern\": " \
	"\"^[a-z][a-z0-9_]{0,39}$\"}, \"label\": {\"type\": \"string\", \"minLength\": 1, "        \
	"\"maxLength\": 100}, \"attended\": {\"type\": \"boolean\"}, \"compliant\": {\"type\": "   \
	"\"boolean\"}, \"reason_class\": {\"enum\": [\"acceptable\", \"unacceptable\", "           \
	"\"service_cancelled\", \"logistics\", null]}, \"built_in\": {\"type\": \"boolean\"}, "    \
	"\"archived_at\": {\"type\": [\"string\", \"null\"], \"format\": \"date-time\"}"

static const char code_schema[] = "{\"type\": \"object\", \"properties\": {" CODE_PROPS "}}";

static const char list_schema[] =
    "{\"type\": \"object\", \"properties\": {\"items\": {\"type\": \"array\", \"items\": "
    "{\"type\": \"object\", \"properties\": {" CODE_PROPS "}}}, \"next_cursor\": "
    "{\"type\": [\"string\", \"null\"]}}}";

static const char create_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false, "
    "\"required\": [\"organisation_id\", \"code\", \"label\", \"attended\", \"compliant\"], "
    "\"properties\": {\"organisation_id\": {\"type\": \"integer\", \"minimum\": 1}, "
    "\"code\": {\"type\": \"string\", \"pattern\": \"^[a-z][a-z0-9_]{0,39}$\"}, "
    "\"label\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 100}, "
    "\"attended\": {\"type\": \"boolean\"}, \"compliant\": {\"type\": \"boolean\"}, "
    "\"reason_class\": {\"enum\": [\"acceptable\", \"unacceptable\", \"service_cancelled\", "
    "\"logistics\", null]}}}";

/* --- handlers --------------------------------------------------------- */

static const char *const no_query[] = {NULL};

/* [a-z][a-z0-9_]{0,39}: what a register entry's "outcome" may be. */
static int code_ok(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= 40 && s[0] >= 'a' && s[0] <= 'z' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static void list_codes(struct wm_req *req, void *state)
{
	(void)state;
	static const char *const accepted[] = {"organisation_id", "limit", "cursor", NULL};
	char limit[8], cursor[24];
	const char *org = NULL;
	if (api_query_only(req, accepted) != WM_OK || api_page(req, limit, cursor) != WM_OK ||
	    api_query_id(req, "organisation_id", &org) != WM_OK)
		return;
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, org, cursor[0] ? cursor : NULL, limit};
	if (api_exec(req, "core.outcomes_list", 6, p, 200, "core.not_found") != WM_OK)
		return; /* replied already */
}

static void create_code(struct wm_req *req, void *state)
{
	(void)state;
	static const char *const allowed[] = {
	    "organisation_id", "code", "label", "attended", "compliant", "reason_class", NULL};
	json_t *obj;
	char org_buf[24];
	const char *org = NULL, *code = NULL, *label = NULL, *reason = NULL;
	int attended = 0, compliant = 0;
	if (api_query_only(req, no_query) != WM_OK || req_json(req, &obj) != WM_OK ||
	    req_json_only(req, obj, allowed) != WM_OK ||
	    api_id_field(req, obj, "organisation_id", 1, org_buf, &org) != WM_OK ||
	    req_json_string(req, obj, "code", 40, 1, &code) != WM_OK)
		return;
	if (!code_ok(code)) {
		req_reply_error(req, 400, "core.bad_code", "code",
		                "code must be 1 to 40 lower-case letters, digits or _, starting "
		                "with a letter.");
		return;
	}
	if (api_text(req, obj, "label", 100, 1, &label) != WM_OK ||
	    req_json_bool(req, obj, "attended", 1, &attended) != WM_OK ||
	    req_json_bool(req, obj, "compliant", 1, &compliant) != WM_OK ||
	    api_enum(req, obj, "reason_class", reason_classes, 0, &reason) != WM_OK)
		return;
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff,
	                   ctx.addr,
	                   ctx.rid,
	                   org,
	                   code,
	                   label,
	                   attended ? "true" : "false",
	                   compliant ? "true" : "false",
	                   reason};
	if (api_exec(req, "core.outcomes_create", 9, p, 201, "core.not_found") != WM_OK)
		return; /* replied already */
}

static void archive_code(struct wm_req *req, void *state)
{
	(void)state;
	api_exec_by_id(req, no_query, "core.outcomes_archive", 204);
}

/* --- registration ----------------------------------------------------- */

wm_status api_outcomes_register(struct server *srv)
{
	static const struct wm_route_doc list_doc = {
	    "Attendance outcome codes: the built-in ones and those of the caller's "
	    "organisations; ?organisation_id ?limit ?cursor",
	    NULL, list_schema, 200};
	static const struct wm_route_doc create_doc = {
	    "Add an outcome code to an organisation (admins); a code that is not attended "
	    "needs a reason_class",
	    create_schema, code_schema, 201};
	static const struct wm_route_doc archive_doc = {
	    "Archive an organisation's own outcome code (built-in codes cannot be archived: 409)",
	    NULL, NULL, 204};

	if (api_prepare(srv, "outcomes_list", sql_list, 6) != WM_OK ||
	    api_prepare(srv, "outcomes_create", sql_create, 9) != WM_OK ||
	    api_prepare(srv, "outcomes_archive", sql_archive, 4) != WM_OK)
		return WM_ERR;
	if (api_route(srv, WM_GET, "/api/v1/outcome-codes", list_codes, &list_doc, READERS) !=
	        WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/outcome-codes", create_code, &create_doc,
	              WM_ROLE_ADMIN) != WM_OK ||
	    api_route(srv, WM_DELETE, "/api/v1/outcome-codes/{id}", archive_code, &archive_doc,
	              WM_ROLE_ADMIN) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
