/*
 * gc_cohorts.c — cohorts of a course:
 *
 *   POST /api/v1/group_course/cohorts                   (A C)    → 201 timetable
 *   POST /api/v1/group_course/cohorts/{id}/relay        (A C)    → 200
 *   POST /api/v1/group_course/enrolments/{id}/catch-ups (A C F)  → 201 session
 *
 * The timetable itself is laid out in SQL (group_course.cohort_layout, one
 * implementation for the routes and the demo); here the bodies are checked
 * (shape and bounds) and handed over as JSON in one statement each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc_course.h"

static const char *const patterns[] = {"weekly", "alternating_days", NULL};

static const char sql_cohort_create[] =
    "SELECT group_course.cohort_create($1::bigint, $2::inet, $3, $4::jsonb, $5)::text";
static const char sql_cohort_relay[] =
    "SELECT group_course.cohort_relay($1::bigint, $2::inet, $3, $4::bigint, $5::jsonb)::text";
static const char sql_catch_up[] =
    "SELECT group_course.catch_up_create($1::bigint, $2::inet, $3, $4::bigint, $5::jsonb)::text";

/* "2027-03-28T09:30", "...:00", "...Z", "...+01:00": the shapes core.instant_in
 * reads (local in the programme's zone, or RFC 3339). The calendar itself is
 * PostgreSQL's to check. */
static int start_shape(const char *s)
{
	static const char local[] = "dddd-dd-ddTdd:dd";
	size_t n = strlen(s), i;
	if (n < 16)
		return 0;
	for (i = 0; i < 16; i++)
		if (local[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != local[i])
			return 0;
	s += 16;
	if (s[0] == ':' && s[1] >= '0' && s[1] <= '5' && s[2] >= '0' && s[2] <= '9')
		s += 3;
	if (!*s || !strcmp(s, "Z"))
		return 1;
	return (s[0] == '+' || s[0] == '-') && strlen(s) == 6 && s[1] >= '0' && s[1] <= '9' &&
	       s[2] >= '0' && s[2] <= '9' && s[3] == ':' && s[4] >= '0' && s[4] <= '5' &&
	       s[5] >= '0' && s[5] <= '9';
}

/* The body as JSON text for the statement (malloc'd), or NULL after
 * replying 500. */
static char *body_text(struct gc_state *st, struct wm_req *req, const json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);
	if (!s)
		st->core->reply_error(req, 500, "group_course.internal", NULL, "Out of memory.");
	return s;
}

/* --- POST /api/v1/group_course/cohorts ------------------------------------ */

static void cohort_create(struct wm_req *req, void *state)
{
	struct gc_state *st = state;
	static const char *const allowed[] = {"programme_id",
	                                      "name",
	                                      "starts_on",
	                                      "ends_on",
	                                      "capacity",
	                                      "pattern",
	                                      "start_time",
	                                      "morning_start",
	                                      "afternoon_start",
	                                      "session_minutes",
	                                      "second_day_offset",
	                                      "venue_id",
	                                      "room_id",
	                                      "location_kind",
	                                      "delivery_mode",
	                                      "staff",
	                                      NULL};
	json_t *obj;
	const char *s;
	long long n;
	if (st->core->req_json(req, &obj) != WM_OK ||
	    st->core->json_only(req, obj, allowed) != WM_OK ||
	    gc_json_id(st, req, obj, "programme_id", 1) != WM_OK ||
	    st->core->json_string(req, obj, "name", 200, 1, &s) != WM_OK ||
	    st->core->json_string(req, obj, "starts_on", 10, 1, &s) != WM_OK ||
	    st->core->json_string(req, obj, "ends_on", 10, 0, &s) != WM_OK ||
	    st->core->json_int(req, obj, "capacity", 1, 1000, 0, &n) != WM_OK ||
	    gc_json_enum(st, req, obj, "pattern", patterns, 1) != WM_OK ||
	    st->core->json_string(req, obj, "start_time", 5, 0, &s) != WM_OK ||
	    st->core->json_string(req, obj, "morning_start", 5, 0, &s) != WM_OK ||
	    st->core->json_string(req, obj, "afternoon_start", 5, 0, &s) != WM_OK ||
	    st->core->json_int(req, obj, "session_minutes", 15, 600, 0, &n) != WM_OK ||
	    st->core->json_int(req, obj, "second_day_offset", 1, 6, 0, &n) != WM_OK ||
	    gc_json_id(st, req, obj, "venue_id", 0) != WM_OK ||
	    gc_json_id(st, req, obj, "room_id", 0) != WM_OK ||
	    gc_json_enum(st, req, obj, "location_kind", gc_location_kinds, 0) != WM_OK ||
	    gc_json_enum(st, req, obj, "delivery_mode", gc_delivery_modes, 0) != WM_OK ||
	    gc_json_staff(st, req, obj) != WM_OK)
		return;
	char *b = body_text(st, req, obj);
	if (!b)
		return;
	struct gc_ctx ctx;
	gc_ctx_of(st, req, &ctx);
	const char *params[] = {ctx.staff, ctx.addr, ctx.rid, b, st->bank_holiday_region};
	gc_reply_stmt(st, req, "cohort_create", 5, params, 201, "core.not_found", "course");
	free(b);
}

/* --- POST /api/v1/group_course/cohorts/{id}/relay --------------------------- */

static void cohort_relay(struct wm_req *req, void *state)
{
	struct gc_state *st = state;
	static const char *const allowed[] = {"from_module", "from_date", "reason", NULL};
	const char *id = gc_path_id(st, req, "core.not_found", "cohort");
	json_t *obj;
	const char *s;
	if (!id || st->core->req_json(req, &obj) != WM_OK ||
	    st->core->json_only(req, obj, allowed) != WM_OK ||
	    st->core->json_string(req, obj, "from_module", 40, 1, &s) != WM_OK ||
	    st->core->json_string(req, obj, "from_date", 10, 1, &s) != WM_OK ||
	    st->core->json_string(req, obj, "reason", 500, 1, &s) != WM_OK)
		return;
	char *b = body_text(st, req, obj);
	if (!b)
		return;
	struct gc_ctx ctx;
	gc_ctx_of(st, req, &ctx);
	const char *params[] = {ctx.staff, ctx.addr, ctx.rid, id, b};
	gc_reply_stmt(st, req, "cohort_relay", 5, params, 200, "core.not_found", "cohort");
	free(b);
}

/* --- POST /api/v1/group_course/enrolments/{id}/catch-ups -------------------- */

static void catch_up_create(struct wm_req *req, void *state)
{
	struct gc_state *st = state;
	static const char *const allowed[] = {"module",        "start",   "duration_minutes",
	                                      "venue_id",      "room_id", "location_kind",
	                                      "delivery_mode", "staff",   NULL};
	const char *id = gc_path_id(st, req, "core.not_found", "enrolment");
	json_t *obj;
	const char *s, *start = NULL;
	long long n;
	if (!id || st->core->req_json(req, &obj) != WM_OK ||
	    st->core->json_only(req, obj, allowed) != WM_OK ||
	    st->core->json_string(req, obj, "module", 40, 1, &s) != WM_OK ||
	    st->core->json_string(req, obj, "start", 40, 1, &start) != WM_OK ||
	    st->core->json_int(req, obj, "duration_minutes", 15, 600, 0, &n) != WM_OK ||
	    gc_json_id(st, req, obj, "venue_id", 0) != WM_OK ||
	    gc_json_id(st, req, obj, "room_id", 0) != WM_OK ||
	    gc_json_enum(st, req, obj, "location_kind", gc_location_kinds, 0) != WM_OK ||
	    gc_json_enum(st, req, obj, "delivery_mode", gc_delivery_modes, 0) != WM_OK ||
	    gc_json_staff(st, req, obj) != WM_OK)
		return;
	if (!start_shape(start)) {
		st->core->reply_error(req, 400, "core.bad_time", "start",
		                      "start must be a date-time: 2027-03-28T09:30 (local, in the "
		                      "programme's time zone) or RFC 3339 with Z or an offset.");
		return;
	}
	char *b = body_text(st, req, obj);
	if (!b)
		return;
	struct gc_ctx ctx;
	gc_ctx_of(st, req, &ctx);
	const char *params[] = {ctx.staff, ctx.addr, ctx.rid, id, b};
	gc_reply_stmt(st, req, "catch_up_create", 5, params, 201, "core.not_found", "enrolment");
	free(b);
}

/* --- documentation ------------------------------------------------------------ */

#define TIMETABLE_SCHEMA                                                                           \
	"{\"type\": \"object\", \"required\": [\"cohort\", \"plan\", \"modules\", \"sessions\"], " \
	"\"properties\": {\"cohort\": {\"type\": \"object\"}, \"programme\": {\"type\": "          \
	"\"object\"}, \"plan\": {\"type\": \"object\"}, \"modules\": {\"type\": \"array\", "       \
	"\"items\": {\"type\": \"object\"}}, \"sessions\": {\"type\": \"array\", \"items\": "      \
	"{\"type\": \"object\", \"properties\": {\"id\": {\"type\": \"integer\"}, \"module\": "    \
	"{\"type\": [\"string\", \"null\"]}, \"starts_at\": {\"type\": \"string\"}, "              \
	"\"local\": {\"type\": \"object\"}, \"status\": {\"enum\": [\"scheduled\", "               \
	"\"cancelled\"]}, \"guests\": {\"type\": \"boolean\"}, \"guest_approval_missing\": "       \
	"{\"type\": \"boolean\"}, \"attendance_taken\": {\"type\": \"boolean\"}}}}, "              \
	"\"relays\": {\"type\": \"array\"}}}"

static const struct wm_route_doc create_doc = {
    .summary = "Creates a cohort of a course and lays out its timetable from the delivery "
               "pattern (weekly: one module a week; alternating_days: two modules a day, two "
               "days one week and one the next), skipping bank holidays and skip closures; "
               "ends_on defaults to the last session's date. Admins and coordinators of the "
               "course's organisation.",
    .request_schema =
        "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"programme_id\", "
        "\"name\", \"starts_on\", \"pattern\"], \"properties\": {\"programme_id\": " GC_ID_SCHEMA
        ", \"name\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 200}, "
        "\"starts_on\": " GC_DATE_SCHEMA ", \"ends_on\": " GC_DATE_SCHEMA ", \"capacity\": "
        "{\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1000}, \"pattern\": {\"enum\": "
        "[\"weekly\", \"alternating_days\"]}, \"start_time\": " GC_HHMM_SCHEMA
        ", \"morning_start\": " GC_HHMM_SCHEMA ", \"afternoon_start\": " GC_HHMM_SCHEMA
        ", \"session_minutes\": {\"type\": \"integer\", \"minimum\": 15, \"maximum\": 600}, "
        "\"second_day_offset\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 6}, "
        "\"venue_id\": " GC_ID_SCHEMA ", \"room_id\": " GC_ID_SCHEMA ", \"location_kind\": "
        "{\"enum\": " GC_LOCATION_KINDS "}, \"delivery_mode\": {\"enum\": " GC_DELIVERY_MODES
        "}, \"staff\": " GC_STAFF_SCHEMA "}}",
    .response_schema = TIMETABLE_SCHEMA,
    .success_status = 201,
};

static const struct wm_route_doc relay_doc = {
    .summary = "Re-lays a cohort's timetable from a module after a lost day: every scheduled "
               "session of that module and later ones without attendance is cancelled (reason "
               "recorded, SEQUENCE bumped), sessions with attendance are kept, and the modules "
               "left without a session are laid out again from from_date (day one of the "
               "same pattern). Admins and coordinators.",
    .request_schema =
        "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"from_module\", "
        "\"from_date\", \"reason\"], \"properties\": {\"from_module\": {\"type\": \"string\", "
        "\"minLength\": 1, \"maxLength\": 40}, \"from_date\": " GC_DATE_SCHEMA
        ", \"reason\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 500}}}",
    .response_schema =
        "{\"type\": \"object\", \"required\": [\"relay_id\", \"cancelled\", \"kept\", \"laid\", "
        "\"timetable\"], \"properties\": {\"relay_id\": {\"type\": \"integer\"}, \"cancelled\": "
        "{\"type\": \"array\", \"items\": {\"type\": \"integer\"}}, \"kept\": {\"type\": "
        "\"array\", \"items\": {\"type\": \"integer\"}}, \"laid\": {\"type\": \"array\", "
        "\"items\": {\"type\": \"integer\"}}, \"timetable\": " TIMETABLE_SCHEMA "}}",
    .success_status = 200,
};

static const struct wm_route_doc catch_up_doc = {
    .summary = "Arranges a catch-up session of a module for one enrolment: a session of the "
               "cohort (catch_up true) on which only that enrolment's person is seated and "
               "expected; it counts for the module. Admins, coordinators, and the facilitators "
               "who run the course.",
    .request_schema =
        "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"module\", "
        "\"start\"], \"properties\": {\"module\": {\"type\": \"string\", \"minLength\": 1, "
        "\"maxLength\": 40}, \"start\": {\"type\": \"string\", \"description\": "
        "\"2027-03-28T09:30 (local, the programme's zone) or RFC 3339\"}, "
        "\"duration_minutes\": {\"type\": \"integer\", \"minimum\": 15, \"maximum\": 600}, "
        "\"venue_id\": " GC_ID_SCHEMA ", \"room_id\": " GC_ID_SCHEMA ", \"location_kind\": "
        "{\"enum\": " GC_LOCATION_KINDS "}, \"delivery_mode\": {\"enum\": " GC_DELIVERY_MODES
        "}, \"staff\": " GC_STAFF_SCHEMA "}}",
    .response_schema =
        "{\"type\": \"object\", \"required\": [\"id\", \"module\", \"catch_up\", "
        "\"enrolment_id\", \"person_id\"], \"properties\": {\"id\": {\"type\": \"integer\"}, "
        "\"module\": {\"type\": \"string\"}, \"catch_up\": {\"const\": true}, \"enrolment_id\": "
        "{\"type\": \"integer\"}, \"person_id\": {\"type\": \"integer\"}, \"starts_at\": "
        "{\"type\": \"string\"}, \"local\": {\"type\": \"object\"}}}",
    .success_status = 201,
};

wm_status gc_cohort_prepare(struct gc_state *st)
{
	if (st->core->db_prepare(st->host, "cohort_create", sql_cohort_create, 5) != WM_OK ||
	    st->core->db_prepare(st->host, "cohort_relay", sql_cohort_relay, 5) != WM_OK ||
	    st->core->db_prepare(st->host, "catch_up_create", sql_catch_up, 5) != WM_OK)
		return WM_ERR;
	return WM_OK;
}

wm_status gc_cohort_routes(struct gc_state *st)
{
	const unsigned ac = WM_ROLE_ADMIN | WM_ROLE_COORDINATOR;
	if (st->core->route_add_access(st->host, WM_POST, "/api/v1/group_course/cohorts",
	                               cohort_create, &create_doc, ac) != WM_OK ||
	    st->core->route_add_access(st->host, WM_POST, "/api/v1/group_course/cohorts/{id}/relay",
	                               cohort_relay, &relay_doc, ac) != WM_OK ||
	    st->core->route_add_access(
	        st->host, WM_POST, "/api/v1/group_course/enrolments/{id}/catch-ups",
	        catch_up_create, &catch_up_doc, ac | WM_ROLE_FACILITATOR) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
