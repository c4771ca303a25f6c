/*
 * api_referrals — referrals an organisation receives, and their status.
 *
 *   POST  /api/v1/referrals              record one (status received)
 *   GET   /api/v1/referrals              those of orgs the caller manages
 *   GET   /api/v1/referrals/{id}         one, with status history and chain links
 *   PATCH /api/v1/referrals/{id}         eligibility, risk summary, referrer
 *   POST  /api/v1/referrals/{id}/status  move it through the state machine
 *
 * Admins and coordinators of the receiving organisation only; any other
 * referral is not found. The state machine lives in the database
 * (core.referral_transition, one setter core.referral_set_status in
 * migrations/0006_referrals.sql), so a refused move changes nothing and no
 * other code path can set a status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "req.h"
#include "server.h"

#define MANAGERS (WM_ROLE_ADMIN | WM_ROLE_COORDINATOR)

static const char *const sources[] = {
    "probation", "prison", "court", "school", "childrens_services", "self", "partner_organisation",
    "unknown",   NULL};
static const char *const statuses[] = {"received", "contacted",    "assessed",    "accepted",
                                       "declined", "waiting_list", "referred_on", NULL};
static const char *const eligibilities[] = {"not_assessed", "eligible", "ineligible", NULL};

/* --- statements ------------------------------------------------------- */

static const char sql_create[] =
    "SELECT core.referral_create($1::bigint, $2::inet, $3::text, $4::bigint, $5::bigint, "
    "$6::text::core.referral_source, $7::text, $8::text, $9::date, $10::text, $11::bigint)";

/* Reading a child's referral is audited in the same statement. */
static const char sql_get[] =
    "WITH r AS (SELECT id, org_id, person_id FROM core.referral "
    "           WHERE id = $4::bigint AND core.referral_manager($1::bigint, org_id)), "
    "a AS (INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, "
    "                              person_id, remote_addr, request_id) "
    "      SELECT $1::bigint, r.org_id, 'referral.read_child', 'referral', r.id, r.person_id, "
    "             $2::inet, $3::text FROM r WHERE core.is_child(r.person_id)) "
    "SELECT core.referral_json(r.id, true, $1::bigint) FROM r";

/* Keyset page: one row more than asked says whether there is a next page. */
static const char sql_list[] =
    "WITH page AS (SELECT r.id, r.org_id, r.person_id FROM core.referral r "
    "   WHERE r.org_id IN (SELECT core.staff_orgs($1::bigint, "
    "                      ARRAY['admin', 'coordinator']::core.staff_role[])) "
    "     AND ($4::text IS NULL OR r.status = $4::text::core.referral_status) "
    "     AND ($5::text IS NULL OR r.source = $5::text::core.referral_source) "
    "     AND ($6::bigint IS NULL OR r.person_id = $6::bigint) "
    "     AND ($7::bigint IS NULL OR r.org_id = $7::bigint) "
    "     AND r.id > COALESCE($8::bigint, 0) "
    "   ORDER BY r.id LIMIT $9::int + 1), "
    "shown AS (SELECT * FROM page ORDER BY id LIMIT $9::int), "
    "a AS (INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, "
    "                              person_id, remote_addr, request_id) "
    "      SELECT $1::bigint, s.org_id, 'referral.read_child', 'referral', s.id, s.person_id, "
    "             $2::inet, $3::text FROM shown s WHERE core.is_child(s.person_id)) "
    "SELECT json_build_object("
    "  'items', COALESCE((SELECT json_agg(core.referral_json(s.id, false, $1::bigint) "
    "                                   ORDER BY s.id) "
    "                     FROM shown s), '[]'::json), "
    "  'next_cursor', CASE WHEN (SELECT count(*) FROM page) > $9::int "
    "                      THEN (SELECT max(id) FROM shown)::text END)";

static const char sql_update[] = "SELECT core.referral_update($1::bigint, $2::inet, $3::text, "
                                 "$4::bigint, $5::jsonb, $6::integer)";

static const char sql_status[] =
    "SELECT core.referral_set_status($1::bigint, $2::inet, $3::text, $4::bigint, "
    "$5::text::core.referral_status, $6::text, $7::bigint, $8::integer, $9::text)";

/* --- docs ------------------------------------------------------------- */

#define TEXT_OR_NULL "{\"type\": [\"string\", \"null\"], \"minLength\": 1, \"maxLength\": "
#define TEXT100      TEXT_OR_NULL "100}"
#define TEXT200      TEXT_OR_NULL "200}"
#define TEXT1000     TEXT_OR_NULL "1000}"
#define TEXT2000     TEXT_OR_NULL "2000}"
#define ID_SCHEMA    "{\"type\": \"integer\", \"minimum\": 1}"
#define NULLABLE_ID  "{\"type\": [\"integer\", \"null\"], \"minimum\": 1}"
#define DATE_SCHEMA  "{\"type\": \"string\", \"format\": \"date\"}"
#define INSTANT      "{\"type\": \"string\", \"format\": \"date-time\"}"
#define SOURCE_ENUM                                                                                \
	"[\"probation\", \"prison\", \"court\", \"school\", \"childrens_services\", \"self\", "    \
	"\"partner_organisation\", \"unknown\"]"
#define STATUS_ENUM                                                                                \
	"[\"received\", \"contacted\", \"assessed\", \"accepted\", \"declined\", "                 \
	"\"waiting_list\", \"referred_on\"]"
#define ELIGIBILITY_ENUM "[\"not_assessed\", \"eligible\", \"ineligible\"]"

#define REFERRAL_PROPS                                                                             \
	"\"id\": " ID_SCHEMA ", \"organisation_id\": " ID_SCHEMA ", \"person_id\": " ID_SCHEMA     \
	", \"source\": {\"enum\": " SOURCE_ENUM "}, \"referrer_name\": " TEXT200                   \
	", \"referrer_organisation\": " TEXT200 ", \"referred_on\": " DATE_SCHEMA                  \
	", \"status\": {\"enum\": " STATUS_ENUM "}, \"eligibility\": {\"enum\": " ELIGIBILITY_ENUM \
	"}, \"eligibility_rule_version\": " TEXT100 ", \"eligibility_note\": " TEXT1000            \
	", \"decision_reason\": " TEXT1000 ", \"risk_summary\": " TEXT2000                         \
	", \"previous_referral_id\": " NULLABLE_ID ", \"onward_organisation_id\": " NULLABLE_ID    \
	", \"onward_referral_id\": " NULLABLE_ID ", \"consent_id\": " NULLABLE_ID                  \
	", \"created_at\": " INSTANT ", \"created_by\": " NULLABLE_ID ", \"updated_at\": " INSTANT \
	", \"version\": " ID_SCHEMA

#define HISTORY_SCHEMA                                                                             \
	"{\"type\": \"array\", \"items\": {\"type\": \"object\", \"properties\": {"                \
	"\"from_status\": {\"enum\": [\"received\", \"contacted\", \"assessed\", \"accepted\", "   \
	"\"declined\", \"waiting_list\", \"referred_on\", null]}, \"to_status\": "                 \
	"{\"enum\": " STATUS_ENUM "}, \"at\": {\"type\": \"string\", \"format\": \"date-time\"}, " \
	"\"by_staff_id\": " NULLABLE_ID ", \"reason\": " TEXT1000 "}}}"

static const char referral_schema[] =
    "{\"type\": \"object\", \"properties\": {" REFERRAL_PROPS ", \"history\": " HISTORY_SCHEMA "}}";

static const char list_schema[] =
    "{\"type\": \"object\", \"properties\": {\"items\": {\"type\": \"array\", \"items\": "
    "{\"type\": \"object\", \"properties\": {" REFERRAL_PROPS "}}}, \"next_cursor\": "
    "{\"type\": [\"string\", \"null\"]}}}";

static const char create_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false, "
    "\"required\": [\"organisation_id\", \"person_id\", \"source\", \"referred_on\"], "
    "\"properties\": {\"organisation_id\": " ID_SCHEMA ", \"person_id\": " ID_SCHEMA
    ", \"source\": {\"enum\": " SOURCE_ENUM "}, \"referrer_name\": " TEXT200
    ", \"referrer_organisation\": " TEXT200 ", \"referred_on\": " DATE_SCHEMA
    ", \"risk_summary\": " TEXT2000 ", \"previous_referral_id\": " NULLABLE_ID "}}";

static const char update_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false, \"minProperties\": 1, "
    "\"properties\": {\"eligibility\": {\"enum\": " ELIGIBILITY_ENUM
    "}, \"eligibility_rule_version\": " TEXT100 ", \"eligibility_note\": " TEXT1000
    ", \"risk_summary\": " TEXT2000 ", \"referrer_name\": " TEXT200
    ", \"referrer_organisation\": " TEXT200 ", \"version\": " NULLABLE_ID "}}";

static const char status_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"status\"], "
    "\"properties\": {\"status\": {\"enum\": " STATUS_ENUM "}, \"reason\": " TEXT1000
    ", \"onward_organisation_id\": " NULLABLE_ID ", \"shared_risk_summary\": " TEXT2000
    ", \"version\": " NULLABLE_ID "}}";

/* --- input helpers ---------------------------------------------------- */

/* Present and not JSON null: optional members may be sent as null. */
static int given(const json_t *obj, const char *field)
{
	json_t *v = json_object_get(obj, field);
	return v && !json_is_null(v);
}

static wm_status opt_name(struct wm_req *req, const json_t *obj, const char *field, size_t max,
                          const char **out)
{
	*out = NULL;
	return given(obj, field) ? req_json_string(req, obj, field, max, 0, out) : WM_OK;
}

static wm_status opt_id(struct wm_req *req, const json_t *obj, const char *field, char buf[24],
                        const char **out)
{
	*out = NULL;
	return given(obj, field) ? api_id_field(req, obj, field, 0, buf, out) : WM_OK;
}

/* "version" for optimistic concurrency, as text, or NULL when absent. */
static wm_status opt_version(struct wm_req *req, const json_t *obj, char buf[24], const char **out)
{
	long long v = 0;
	*out = NULL;
	if (!given(obj, "version"))
		return WM_OK;
	if (req_json_int(req, obj, "version", 1, 2147483647LL, 0, &v) != WM_OK)
		return WM_ERR;
	snprintf(buf, 24, "%lld", v);
	*out = buf;
	return WM_OK;
}

/* --- handlers --------------------------------------------------------- */

/* No route here reads a query parameter but the list: a stray one is refused. */
static const char *const no_query[] = {NULL};

static void create_referral(struct wm_req *req, void *state)
{
	(void)state;
	static const char *const allowed[] = {"organisation_id",
	                                      "person_id",
	                                      "source",
	                                      "referrer_name",
	                                      "referrer_organisation",
	                                      "referred_on",
	                                      "risk_summary",
	                                      "previous_referral_id",
	                                      NULL};
	json_t *obj;
	char org_buf[24], person_buf[24], prev_buf[24];
	const char *org = NULL, *person = NULL, *source = NULL, *name = NULL, *rorg = NULL,
	           *on = NULL, *risk = NULL, *prev = NULL;
	if (api_query_only(req, no_query) != WM_OK || req_json(req, &obj) != WM_OK ||
	    req_json_only(req, obj, allowed) != WM_OK ||
	    api_id_field(req, obj, "organisation_id", 1, org_buf, &org) != WM_OK ||
	    api_id_field(req, obj, "person_id", 1, person_buf, &person) != WM_OK ||
	    api_enum(req, obj, "source", sources, 1, &source) != WM_OK ||
	    opt_name(req, obj, "referrer_name", 200, &name) != WM_OK ||
	    opt_name(req, obj, "referrer_organisation", 200, &rorg) != WM_OK ||
	    api_date(req, obj, "referred_on", 1, 1, &on) != WM_OK ||
	    api_text(req, obj, "risk_summary", 2000, 0, &risk) != WM_OK ||
	    opt_id(req, obj, "previous_referral_id", prev_buf, &prev) != WM_OK)
		return;
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, org,  person, source,
	                   name,      rorg,     on,      risk, prev};
	if (api_exec(req, "core.referrals_create", 11, p, 201, "core.not_found") != WM_OK)
		return; /* replied already */
}

static void list_referrals(struct wm_req *req, void *state)
{
	(void)state;
	static const char *const accepted[] = {"status", "source", "person_id", "organisation_id",
	                                       "limit",  "cursor", NULL};
	char limit[8], cursor[24];
	const char *status = NULL, *source = NULL, *person = NULL, *org = NULL;
	if (api_query_only(req, accepted) != WM_OK || api_page(req, limit, cursor) != WM_OK ||
	    api_query_enum(req, "status", statuses, &status) != WM_OK ||
	    api_query_enum(req, "source", sources, &source) != WM_OK ||
	    api_query_id(req, "person_id", &person) != WM_OK ||
	    api_query_id(req, "organisation_id", &org) != WM_OK)
		return;
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, status,
	                   source,    person,   org,     cursor[0] ? cursor : NULL,
	                   limit};
	if (api_exec(req, "core.referrals_list", 9, p, 200, "core.not_found") != WM_OK)
		return; /* replied already */
}

static void get_referral(struct wm_req *req, void *state)
{
	(void)state;
	api_exec_by_id(req, no_query, "core.referrals_get", 200);
}

/* Adds `field` to `patch` when the body has it: JSON null clears it. On
 * WM_ERR the reply (400, or 500 when out of memory) has been sent and the
 * request is gone. */
static wm_status patch_text(struct wm_req *req, const json_t *obj, const char *field, size_t max,
                            int prose, json_t *patch)
{
	const char *s = NULL;
	json_t *v = json_object_get(obj, field);
	if (!v)
		return WM_OK;
	if (!json_is_null(v) && (prose ? api_text(req, obj, field, max, 1, &s)
	                               : req_json_string(req, obj, field, max, 1, &s)) != WM_OK)
		return WM_ERR;
	if (json_object_set_new(patch, field, s ? json_string(s) : json_null())) {
		req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
		return WM_ERR;
	}
	return WM_OK;
}

static void update_referral(struct wm_req *req, void *state)
{
	(void)state;
	static const char *const allowed[] = {
	    "eligibility",   "eligibility_rule_version", "eligibility_note", "risk_summary",
	    "referrer_name", "referrer_organisation",    "version",          NULL};
	long long id;
	json_t *obj, *patch = NULL;
	char ids[24], ver_buf[24];
	const char *elig = NULL, *ver = NULL;
	char *text = NULL;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &obj) != WM_OK || req_json_only(req, obj, allowed) != WM_OK ||
	    api_enum(req, obj, "eligibility", eligibilities, 0, &elig) != WM_OK ||
	    opt_version(req, obj, ver_buf, &ver) != WM_OK)
		return;
	if (!(patch = json_object()))
		goto oom;
	if (elig && json_object_set_new(patch, "eligibility", json_string(elig)))
		goto oom;
	/* A failed check has replied, which frees the request and its body:
	 * only our own allocations are left to free. */
	if (patch_text(req, obj, "eligibility_rule_version", 100, 0, patch) != WM_OK ||
	    patch_text(req, obj, "eligibility_note", 1000, 1, patch) != WM_OK ||
	    patch_text(req, obj, "risk_summary", 2000, 1, patch) != WM_OK ||
	    patch_text(req, obj, "referrer_name", 200, 0, patch) != WM_OK ||
	    patch_text(req, obj, "referrer_organisation", 200, 0, patch) != WM_OK)
		goto done;
	if (json_object_size(patch) == 0) {
		req_reply_error(req, 400, "core.missing_field", NULL,
		                "Give at least one field to change.");
		goto done;
	}
	if (!(text = json_dumps(patch, JSON_COMPACT)))
		goto oom;
	snprintf(ids, sizeof ids, "%lld", id);
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, ids, text, ver};
	/* Parameters are copied before api_exec returns, and on failure it
	 * has replied: either way only the cleanup is left. */
	wm_status st = api_exec(req, "core.referrals_update", 6, p, 200, "core.not_found");
	(void)st;
	goto done;
oom:
	req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
done:
	free(text);
	json_decref(patch);
}

static void set_status(struct wm_req *req, void *state)
{
	(void)state;
	static const char *const allowed[] = {
	    "status", "reason", "onward_organisation_id", "shared_risk_summary", "version", NULL};
	long long id;
	json_t *obj;
	char ids[24], onward_buf[24], ver_buf[24];
	const char *status = NULL, *reason = NULL, *onward = NULL, *shared = NULL, *ver = NULL;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &obj) != WM_OK || req_json_only(req, obj, allowed) != WM_OK ||
	    api_enum(req, obj, "status", statuses, 1, &status) != WM_OK ||
	    api_text(req, obj, "reason", 1000, 0, &reason) != WM_OK ||
	    opt_id(req, obj, "onward_organisation_id", onward_buf, &onward) != WM_OK ||
	    api_text(req, obj, "shared_risk_summary", 2000, 0, &shared) != WM_OK ||
	    opt_version(req, obj, ver_buf, &ver) != WM_OK)
		return;
	/* Naming an onward organisation, or a risk summary to pass on, for
	 * any other move is a mistake the caller should hear about, not a
	 * value silently dropped. */
	if (strcmp(status, "referred_on") != 0 && (onward || shared)) {
		const char *field = onward ? "onward_organisation_id" : "shared_risk_summary";
		req_reply_error(req, 400, "core.unexpected_field", field,
		                "%s is only for status referred_on.", field);
		return;
	}
	snprintf(ids, sizeof ids, "%lld", id);
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	/* The sender's own risk_summary is never copied: the onward referral
	 * carries only shared_risk_summary, what the sender agrees to share. */
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, ids, status, reason, onward, ver, shared};
	if (api_exec(req, "core.referrals_set_status", 9, p, 200, "core.not_found") != WM_OK)
		return; /* replied already */
}

/* --- registration ----------------------------------------------------- */

wm_status api_referrals_register(struct server *srv)
{
	static const struct wm_route_doc create_doc = {
	    "Record a referral received by an organisation (status received)", create_schema,
	    referral_schema, 201};
	static const struct wm_route_doc list_doc = {
	    "Referrals received by organisations the caller administers or coordinates; "
	    "?status ?source ?person_id ?organisation_id ?limit ?cursor",
	    NULL, list_schema, 200};
	static const struct wm_route_doc get_doc = {
	    "One referral with its status history and chain links", NULL, referral_schema, 200};
	static const struct wm_route_doc update_doc = {
	    "Change a referral's eligibility, risk summary or referrer (optional version)",
	    update_schema, referral_schema, 200};
	static const struct wm_route_doc status_doc = {
	    "Move a referral to another status; referred_on needs consent and creates the "
	    "onward referral, carrying only shared_risk_summary (the sender's risk_summary "
	    "is not copied)",
	    status_schema, referral_schema, 200};

	if (api_prepare(srv, "referrals_create", sql_create, 11) != WM_OK ||
	    api_prepare(srv, "referrals_list", sql_list, 9) != WM_OK ||
	    api_prepare(srv, "referrals_get", sql_get, 4) != WM_OK ||
	    api_prepare(srv, "referrals_update", sql_update, 6) != WM_OK ||
	    api_prepare(srv, "referrals_set_status", sql_status, 9) != WM_OK)
		return WM_ERR;
	if (api_route(srv, WM_POST, "/api/v1/referrals", create_referral, &create_doc, MANAGERS) !=
	        WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/referrals", list_referrals, &list_doc, MANAGERS) !=
	        WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/referrals/{id}", get_referral, &get_doc, MANAGERS) !=
	        WM_OK ||
	    api_route(srv, WM_PATCH, "/api/v1/referrals/{id}", update_referral, &update_doc,
	              MANAGERS) != WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/referrals/{id}/status", set_status, &status_doc,
	              MANAGERS) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
