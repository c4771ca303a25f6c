/*
 * api_milestones — sessions anchored to a person's expected release date
 * ("12 weeks before release", "release day", "first week out").
 *
 *   POST /api/v1/people/{id}/milestones  admin, coordinator holding the person
 *
 * The session sits offset_days from the release date at local_time in the
 * programme's zone, with a booking and a seat for the person. When the
 * release date changes later, a trigger (migrations/0011_cohorts.sql) moves
 * the anchored sessions still to come (same local time, checked by
 * core.instant_in: a time the clocks skip or repeat on the new date fails the
 * change with 422) and bumps their SEQUENCE; when it is cleared they stay
 * and coordinators are alerted. Without a release date
 * nothing is scheduled: 422 core.release_date_missing, and the alert (which
 * the statement commits, with its audit row) tells coordinators.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "req.h"
#include "server.h"

#define MANAGERS  (WM_ROLE_ADMIN | WM_ROLE_COORDINATOR)
#define MAX_STAFF 20

static const char *const no_query[] = {NULL};
static const char *const delivery_modes[] = {"face_to_face", "online", "phone", "in_cell_pack",
                                             NULL};
static const char *const location_kinds[] = {
    "prison", "approved_premises", "probation_office", "community_venue", "home", "school", NULL};
static const char *const programme_roles[] = {
    "lead",   "facilitator", "co_facilitator", "peer_mentor", "guest",
    "escort", "coach",       "mentor",         "coordinator", NULL};

/* "HH:MM", 00:00 to 23:59. */
static wm_status local_time(struct wm_req *req, const json_t *body)
{
	const char *s = NULL;
	if (req_json_string(req, body, "local_time", 5, 1, &s) != WM_OK)
		return WM_ERR;
	if (strlen(s) == 5 && s[2] == ':' && strspn(s, "0123456789:") == 5 &&
	    strchr(s + 3, ':') == NULL && (s[0] - '0') * 10 + (s[1] - '0') <= 23 && s[3] <= '5')
		return WM_OK;
	req_reply_error(req, 400, "core.bad_time", "local_time",
	                "local_time must be a time of day written HH:MM (00:00 to 23:59).");
	return WM_ERR;
}

/* staff: [{staff_id, role?}], at most MAX_STAFF, no one twice. */
static wm_status check_staff(struct wm_req *req, const json_t *body)
{
	static const char *const allowed[] = {"staff_id", "role", NULL};
	const json_t *list = json_object_get(body, "staff");
	long long ids[MAX_STAFF];
	size_t i;
	json_t *m;
	if (!list || json_is_null(list))
		return WM_OK;
	if (!json_is_array(list) || json_array_size(list) > MAX_STAFF) {
		req_reply_error(req, 400, "core.wrong_type", "staff",
		                "staff must be a list of at most %d {staff_id, role}.", MAX_STAFF);
		return WM_ERR;
	}
	json_array_foreach(list, i, m)
	{
		char buf[24];
		const char *id = NULL, *role = NULL;
		if (!json_is_object(m)) {
			req_reply_error(req, 400, "core.wrong_type", "staff",
			                "staff[%zu] must be an object {staff_id, role}.", i);
			return WM_ERR;
		}
		if (req_json_only(req, m, allowed) != WM_OK ||
		    api_id_field(req, m, "staff_id", 1, buf, &id) != WM_OK ||
		    api_enum(req, m, "role", programme_roles, 0, &role) != WM_OK)
			return WM_ERR;
		ids[i] = atoll(id);
		for (size_t k = 0; k < i; k++)
			if (ids[k] == ids[i]) {
				req_reply_error(req, 400, "core.duplicate", "staff",
				                "staff lists staff member %lld twice.", ids[i]);
				return WM_ERR;
			}
	}
	return WM_OK;
}

static void created(void *arg, const struct wm_db_result *res)
{
	struct wm_req *req = arg;
	const char *text = NULL;
	json_t *doc;
	if (db_result_error(res) != WM_DB_OK) {
		api_reply_db_error(req, res);
		return;
	}
	if (db_result_ntuples(res) > 0)
		text = db_result_value(res, 0, 0);
	if (!text) {
		req_reply_error(req, 404, "core.not_found", NULL, "No such resource.");
		return;
	}
	doc = json_loads(text, 0, NULL);
	const char *refused = json_string_value(json_object_get(doc, "refused"));
	if (!doc) {
		req_reply_error(req, 500, "core.internal", NULL, "Malformed result.");
	} else if (refused) {
		req_reply_error(req, 422, refused, NULL, "%s",
		                json_string_value(json_object_get(doc, "message")));
		json_decref(doc);
	} else {
		req_reply_json(req, 201, doc);
	}
}

static void milestone_create(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {
	    "programme_id",  "title",    "offset_days",   "local_time", "duration_minutes",
	    "location_kind", "venue_id", "delivery_mode", "staff",      NULL};
	json_t *body;
	long long person, n;
	char pbuf[24], vbuf[24], idbuf[24];
	const char *s = NULL;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &person) != WM_OK ||
	    req_json(req, &body) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
	    api_id_field(req, body, "programme_id", 1, pbuf, &s) != WM_OK ||
	    api_text(req, body, "title", 200, 1, &s) != WM_OK ||
	    req_json_int(req, body, "offset_days", -3650, 3650, 1, &n) != WM_OK ||
	    local_time(req, body) != WM_OK ||
	    req_json_int(req, body, "duration_minutes", 1, 1440, 1, &n) != WM_OK ||
	    api_enum(req, body, "location_kind", location_kinds, 1, &s) != WM_OK ||
	    api_id_field(req, body, "venue_id", 0, vbuf, &s) != WM_OK ||
	    api_enum(req, body, "delivery_mode", delivery_modes, 0, &s) != WM_OK ||
	    check_staff(req, body) != WM_OK)
		return;
	char *text = json_dumps(body, JSON_COMPACT);
	if (!text) {
		req_reply_error(req, 500, "core.internal", NULL, "Cannot encode the request.");
		return;
	}
	snprintf(idbuf, sizeof idbuf, "%lld", person);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, idbuf, text};
	if (db_exec_prepared(req->srv->pool, "core.milestones_create", 5, p, created, req) != WM_OK)
		req_reply_error(req, 500, "core.internal", NULL, "Cannot run the query.");
	free(text);
}

static const struct wm_route_doc create_doc = {
    "Schedule a session for a person relative to their expected release date (offset_days, "
    "local_time in the programme's zone), with a booking for them. It moves when the release "
    "date moves. Staff must be admins, coordinators, facilitators or mentors of the "
    "programme's organisation (422 core.not_member). Without a release date: 422 "
    "core.release_date_missing and coordinators are alerted.",
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"programme_id\","
    "\"title\",\"offset_days\",\"local_time\",\"duration_minutes\",\"location_kind\"],"
    "\"properties\":{\"programme_id\":{\"type\":\"integer\",\"minimum\":1},"
    "\"title\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200},"
    "\"offset_days\":{\"type\":\"integer\",\"minimum\":-3650,\"maximum\":3650},"
    "\"local_time\":{\"type\":\"string\",\"pattern\":\"^([01][0-9]|2[0-3]):[0-5][0-9]$\"},"
    "\"duration_minutes\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1440},"
    "\"location_kind\":{\"enum\":[\"prison\",\"approved_premises\",\"probation_office\","
    "\"community_venue\",\"home\",\"school\"]},"
    "\"venue_id\":{\"type\":\"integer\",\"minimum\":1},"
    "\"delivery_mode\":{\"enum\":[\"face_to_face\",\"online\",\"phone\",\"in_cell_pack\"]},"
    "\"staff\":{\"type\":\"array\",\"maxItems\":20,\"items\":{\"type\":\"object\","
    "\"additionalProperties\":false,\"required\":[\"staff_id\"],\"properties\":{"
    "\"staff_id\":{\"type\":\"integer\",\"minimum\":1},\"role\":{\"enum\":[\"lead\","
    "\"facilitator\",\"co_facilitator\",\"peer_mentor\",\"guest\",\"escort\",\"coach\","
    "\"mentor\",\"coordinator\"]}}}}}}",
    "{\"type\":\"object\",\"required\":[\"id\",\"starts_at\",\"ends_at\",\"local\","
    "\"anchor_person_id\",\"anchor_offset_days\",\"sequence\"],\"properties\":{"
    "\"id\":{\"type\":\"integer\"},\"programme_id\":{\"type\":\"integer\"},"
    "\"title\":{\"type\":\"string\"},"
    "\"starts_at\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "\"ends_at\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "\"local\":{\"type\":\"object\",\"properties\":{\"date\":{\"type\":\"string\"},"
    "\"start\":{\"type\":\"string\"},\"end\":{\"type\":\"string\"},"
    "\"time_zone\":{\"type\":\"string\"}}},"
    "\"anchor_person_id\":{\"type\":\"integer\"},\"anchor_offset_days\":{\"type\":\"integer\"},"
    "\"sequence\":{\"type\":\"integer\"},\"staff\":{\"type\":\"array\"}}}",
    201};

wm_status api_milestones_register(struct server *srv)
{
	if (api_prepare(srv, "milestones_create",
	                "SELECT core.milestone_create($1::bigint, $2::inet, $3::text, $4::bigint, "
	                "$5::jsonb)",
	                5) != WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/people/{id}/milestones", milestone_create, &create_doc,
	              MANAGERS) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
