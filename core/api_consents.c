/*
 * api_consents — what a person agreed to, to whom, when, and its withdrawal.
 *
 *   POST /api/v1/people/{id}/consents   record one for an organisation
 *   GET  /api/v1/people/{id}/consents   those recorded by orgs the caller manages
 *   POST /api/v1/consents/{id}/withdraw record the withdrawal
 *
 * A consent belongs to the organisation that recorded it: only its admins
 * and coordinators see or change it. Consent to share with or refer to
 * another organisation names that organisation (recipient_organisation_id),
 * and is what core.referral_set_status asks before referring anyone on.
 * Consents are never deleted: withdrawal is a date, so what was allowed on
 * any past day stays answerable.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "req.h"
#include "server.h"

#define MANAGERS (WM_ROLE_ADMIN | WM_ROLE_COORDINATOR)

static const char *const purposes[] = {"share_with_organisation",
                                       "referral",
                                       "programme_participation",
                                       "contact_family",
                                       "photography",
                                       "case_meeting",
                                       NULL};
static const char *const givers[] = {"self", "parent", "guardian", "advocate", NULL};

/* --- statements ------------------------------------------------------- */

static const char sql_create[] =
    "SELECT core.consent_create($1::bigint, $2::inet, $3::text, $4::bigint, $5::bigint, "
    "$6::text::core.consent_purpose, $7::bigint, $8::text, $9::date, "
    "$10::text::core.consent_giver, $11::text)";

/* No row (404) when the caller cannot see the person at all; otherwise the
 * consents of the organisations the caller manages. A child's consents
 * being read is audited in the same statement. */
static const char sql_list[] =
    "WITH p AS (SELECT $4::bigint AS id WHERE core.person_access($1::bigint, $4::bigint) = "
    "           'full'), "
    "page AS (SELECT c.* FROM core.consent c JOIN p ON c.person_id = p.id "
    "   WHERE core.referral_manager($1::bigint, c.org_id) "
    "     AND c.id > COALESCE($5::bigint, 0) ORDER BY c.id LIMIT $6::int + 1), "
    "shown AS (SELECT * FROM page ORDER BY id LIMIT $6::int), "
    "a AS (INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, "
    "                              person_id, remote_addr, request_id) "
    "      SELECT $1::bigint, s.org_id, 'consent.read_child', 'consent', s.id, s.person_id, "
    "             $2::inet, $3::text FROM shown s WHERE core.is_child(s.person_id)) "
    "SELECT json_build_object("
    "  'items', COALESCE((SELECT json_agg(core.consent_json(s::core.consent) ORDER BY s.id) "
    "                     FROM shown s), '[]'::json), "
    "  'next_cursor', CASE WHEN (SELECT count(*) FROM page) > $6::int "
    "                      THEN (SELECT max(id) FROM shown)::text END) FROM p";

static const char sql_withdraw[] = "SELECT core.consent_withdraw($1::bigint, $2::inet, $3::text, "
                                   "$4::bigint, $5::date)";

/* --- docs ------------------------------------------------------------- */

#define PURPOSE_ENUM                                                                               \
	"[\"share_with_organisation\", \"referral\", \"programme_participation\", "                \
	"\"contact_family\", \"photography\", \"case_meeting\"]"
#define GIVER_ENUM    "[\"self\", \"parent\", \"guardian\", \"advocate\"]"
#define ID_SCHEMA     "{\"type\": \"integer\", \"minimum\": 1}"
#define NULLABLE_ID   "{\"type\": [\"integer\", \"null\"], \"minimum\": 1}"
#define DATE_SCHEMA   "{\"type\": \"string\", \"format\": \"date\"}"
#define NULLABLE_DATE "{\"type\": [\"string\", \"null\"], \"format\": \"date\"}"

#define CONSENT_PROPS                                                                              \
	"\"id\": " ID_SCHEMA ", \"organisation_id\": " ID_SCHEMA ", \"person_id\": " ID_SCHEMA     \
	", \"purpose\": {\"enum\": " PURPOSE_ENUM "}, \"recipient_organisation_id\": " NULLABLE_ID \
	", \"scope\": {\"type\": [\"string\", \"null\"], \"maxLength\": 500}, "                    \
	"\"given_on\": " DATE_SCHEMA ", \"given_by\": {\"enum\": " GIVER_ENUM                      \
	"}, \"note\": {\"type\": "                                                                 \
	"[\"string\", \"null\"], \"maxLength\": 1000}, \"recorded_at\": {\"type\": \"string\", "   \
	"\"format\": \"date-time\"}, \"recorded_by\": " NULLABLE_ID                                \
	", \"withdrawn_on\": " NULLABLE_DATE ", \"withdrawn_recorded_by\": " NULLABLE_ID           \
	", \"live\": {\"type\": "                                                                  \
	"\"boolean\"}"

static const char consent_schema[] = "{\"type\": \"object\", \"properties\": {" CONSENT_PROPS "}}";

static const char list_schema[] =
    "{\"type\": \"object\", \"properties\": {\"items\": {\"type\": \"array\", \"items\": "
    "{\"type\": \"object\", \"properties\": {" CONSENT_PROPS "}}}, \"next_cursor\": "
    "{\"type\": [\"string\", \"null\"]}}}";

static const char create_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false, "
    "\"required\": [\"organisation_id\", \"purpose\", \"given_on\"], "
    "\"properties\": {\"organisation_id\": " ID_SCHEMA ", \"purpose\": {\"enum\": " PURPOSE_ENUM
    "}, \"recipient_organisation_id\": " NULLABLE_ID ", \"scope\": {\"type\": [\"string\", "
    "\"null\"], \"minLength\": 1, \"maxLength\": 500}, \"given_on\": " DATE_SCHEMA
    ", \"given_by\": {\"enum\": " GIVER_ENUM "}, \"note\": {\"type\": [\"string\", \"null\"], "
    "\"minLength\": 1, \"maxLength\": 1000}}}";

static const char withdraw_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"withdrawn_on\"], "
    "\"properties\": {\"withdrawn_on\": " DATE_SCHEMA "}}";

/* --- handlers --------------------------------------------------------- */

/* Only the list reads the query string; elsewhere a parameter is refused. */
static const char *const no_query[] = {NULL};

static void create_consent(struct wm_req *req, void *state)
{
	(void)state;
	static const char *const allowed[] = {"organisation_id",
	                                      "purpose",
	                                      "recipient_organisation_id",
	                                      "scope",
	                                      "given_on",
	                                      "given_by",
	                                      "note",
	                                      NULL};
	long long person;
	json_t *obj, *v;
	char person_buf[24], org_buf[24], rec_buf[24];
	const char *org = NULL, *purpose = NULL, *rec = NULL, *scope = NULL, *given_on = NULL,
	           *given_by = NULL, *note = NULL;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &person) != WM_OK ||
	    req_json(req, &obj) != WM_OK || req_json_only(req, obj, allowed) != WM_OK ||
	    api_id_field(req, obj, "organisation_id", 1, org_buf, &org) != WM_OK ||
	    api_enum(req, obj, "purpose", purposes, 1, &purpose) != WM_OK)
		return;
	/* Consent to share or refer is always to one named organisation. */
	int needs_recipient =
	    !strcmp(purpose, "share_with_organisation") || !strcmp(purpose, "referral");
	v = json_object_get(obj, "recipient_organisation_id");
	if ((v && !json_is_null(v) &&
	     api_id_field(req, obj, "recipient_organisation_id", 0, rec_buf, &rec) != WM_OK) ||
	    api_text(req, obj, "scope", 500, 0, &scope) != WM_OK ||
	    api_date(req, obj, "given_on", 1, 1, &given_on) != WM_OK)
		return;
	v = json_object_get(obj, "given_by");
	if ((v && !json_is_null(v) &&
	     api_enum(req, obj, "given_by", givers, 0, &given_by) != WM_OK) ||
	    api_text(req, obj, "note", 1000, 0, &note) != WM_OK)
		return;
	if (needs_recipient && !rec) {
		req_reply_error(req, 400, "core.missing_field", "recipient_organisation_id",
		                "recipient_organisation_id is required when the purpose is %s.",
		                purpose);
		return;
	}
	snprintf(person_buf, sizeof person_buf, "%lld", person);
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid,  person_buf, org, purpose,
	                   rec,       scope,    given_on, given_by,   note};
	if (api_exec(req, "core.consents_create", 11, p, 201, "core.not_found") != WM_OK)
		return; /* replied already */
}

static void list_consents(struct wm_req *req, void *state)
{
	(void)state;
	static const char *const accepted[] = {"limit", "cursor", NULL};
	long long person;
	char person_buf[24], limit[8], cursor[24];
	if (api_query_only(req, accepted) != WM_OK || api_id(req, "id", &person) != WM_OK ||
	    api_page(req, limit, cursor) != WM_OK)
		return;
	snprintf(person_buf, sizeof person_buf, "%lld", person);
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, person_buf, cursor[0] ? cursor : NULL,
	                   limit};
	if (api_exec(req, "core.consents_list", 6, p, 200, "core.not_found") != WM_OK)
		return; /* replied already */
}

static void withdraw_consent(struct wm_req *req, void *state)
{
	(void)state;
	static const char *const allowed[] = {"withdrawn_on", NULL};
	long long id;
	json_t *obj;
	char ids[24];
	const char *on = NULL;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &obj) != WM_OK || req_json_only(req, obj, allowed) != WM_OK ||
	    api_date(req, obj, "withdrawn_on", 1, 1, &on) != WM_OK)
		return;
	snprintf(ids, sizeof ids, "%lld", id);
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, ids, on};
	if (api_exec(req, "core.consents_withdraw", 5, p, 200, "core.not_found") != WM_OK)
		return; /* replied already */
}

/* --- registration ----------------------------------------------------- */

wm_status api_consents_register(struct server *srv)
{
	static const struct wm_route_doc create_doc = {
	    "Record a person's consent for an organisation the caller administers or coordinates",
	    create_schema, consent_schema, 201};
	static const struct wm_route_doc list_doc = {
	    "A person's consents recorded by organisations the caller administers or coordinates",
	    NULL, list_schema, 200};
	static const struct wm_route_doc withdraw_doc = {"Record that a consent was withdrawn",
	                                                 withdraw_schema, consent_schema, 200};

	if (api_prepare(srv, "consents_create", sql_create, 11) != WM_OK ||
	    api_prepare(srv, "consents_list", sql_list, 6) != WM_OK ||
	    api_prepare(srv, "consents_withdraw", sql_withdraw, 5) != WM_OK)
		return WM_ERR;
	if (api_route(srv, WM_POST, "/api/v1/people/{id}/consents", create_consent, &create_doc,
	              MANAGERS) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/people/{id}/consents", list_consents, &list_doc,
	              MANAGERS) != WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/consents/{id}/withdraw", withdraw_consent,
	              &withdraw_doc, MANAGERS) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
