/*
 * gc_timetable.c — reading a cohort's timetable and what needs doing before
 * its days:
 *
 *   GET  /api/v1/group_course/cohorts/{id}/timetable     (A C F)
 *   POST /api/v1/group_course/sessions/{id}/guest-approval (A C)
 *   GET  /api/v1/group_course/checks?days=N              (A C F)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc_course.h"

static const char sql_timetable[] =
    "SELECT group_course.timetable_get($1::bigint, $2::inet, $3, $4::bigint)::text";
static const char sql_guest_approve[] =
    "SELECT group_course.guest_approve($1::bigint, $2::inet, $3, $4::bigint, $5::jsonb)::text";
static const char sql_checks[] =
    "SELECT group_course.checks($1::bigint, $2::inet, $3, $4::integer)::text";

/* --- GET /api/v1/group_course/cohorts/{id}/timetable ------------------------ */

static void timetable_get(struct wm_req *req, void *state)
{
	struct gc_state *st = state;
	static const char *const none[] = {NULL};
	if (st->core->req_query_only(req, none) != WM_OK)
		return;
	const char *id = gc_path_id(st, req, "core.not_found", "cohort");
	if (!id)
		return;
	struct gc_ctx ctx;
	gc_ctx_of(st, req, &ctx);
	const char *params[] = {ctx.staff, ctx.addr, ctx.rid, id};
	gc_reply_stmt(st, req, "timetable_get", 4, params, 200, "core.not_found", "cohort");
}

/* --- POST /api/v1/group_course/sessions/{id}/guest-approval ------------------ */

static void guest_approve(struct wm_req *req, void *state)
{
	struct gc_state *st = state;
	static const char *const allowed[] = {"note", NULL};
	const char *id = gc_path_id(st, req, "core.not_found", "session");
	json_t *obj;
	const char *s;
	if (!id || st->core->req_json(req, &obj) != WM_OK ||
	    st->core->json_only(req, obj, allowed) != WM_OK ||
	    st->core->json_string(req, obj, "note", 1000, 0, &s) != WM_OK)
		return;
	char *b = json_dumps(obj, JSON_COMPACT);
	if (!b) {
		st->core->reply_error(req, 500, "group_course.internal", NULL, "Out of memory.");
		return;
	}
	struct gc_ctx ctx;
	gc_ctx_of(st, req, &ctx);
	const char *params[] = {ctx.staff, ctx.addr, ctx.rid, id, b};
	gc_reply_stmt(st, req, "guest_approve", 5, params, 200, "core.not_found", "session");
	free(b);
}

/* --- GET /api/v1/group_course/checks?days=N ---------------------------------- */

static void checks(struct wm_req *req, void *state)
{
	struct gc_state *st = state;
	static const char *const known[] = {"days", NULL};
	if (st->core->req_query_only(req, known) != WM_OK)
		return;
	const char *d = st->core->req_query(req, "days");
	char days[16];
	if (d) {
		size_t n = strlen(d);
		long v = n >= 1 && n <= 2 && strspn(d, "0123456789") == n ? strtol(d, NULL, 10) : 0;
		if (v < 1 || v > 90) {
			st->core->reply_error(req, 400, "core.bad_query", "days",
			                      "days must be an integer from 1 to 90.");
			return;
		}
		snprintf(days, sizeof days, "%ld", v);
	} else {
		snprintf(days, sizeof days, "%d", st->checks_days);
	}
	struct gc_ctx ctx;
	gc_ctx_of(st, req, &ctx);
	const char *params[] = {ctx.staff, ctx.addr, ctx.rid, days};
	gc_reply_stmt(st, req, "checks", 4, params, 200, "core.not_found", "check");
}

/* --- documentation ------------------------------------------------------------ */

static const struct wm_route_doc timetable_doc = {
    .summary = "A cohort's timetable: plan, modules with their sessions, every session (local "
               "date and time in the programme's zone, guests, guest_approval_missing, "
               "attendance_taken, catch-ups) and the re-lays. Admins, coordinators, the "
               "facilitators who run the course; 404 core.not_found otherwise.",
    .response_schema =
        "{\"type\": \"object\", \"required\": [\"cohort\", \"plan\", \"modules\", \"sessions\", "
        "\"relays\"], \"properties\": {\"cohort\": {\"type\": \"object\"}, \"programme\": "
        "{\"type\": \"object\"}, \"plan\": {\"type\": [\"object\", \"null\"]}, \"modules\": "
        "{\"type\": \"array\", \"items\": {\"type\": \"object\"}}, \"sessions\": {\"type\": "
        "\"array\", \"items\": {\"type\": \"object\", \"properties\": {\"id\": {\"type\": "
        "\"integer\"}, \"guest_approval_missing\": {\"type\": \"boolean\"}, "
        "\"attendance_taken\": {\"type\": \"boolean\"}}}}, \"relays\": {\"type\": \"array\"}}}",
    .success_status = 200,
};

static const struct wm_route_doc approve_doc = {
    .summary = "Records the guest approval of a session whose module has outside guests (a "
               "second call returns the first approval, created false) and resolves its "
               "group_course.guest_approval_missing alert. Admins and coordinators; 422 "
               "group_course.no_guests for a module without guests.",
    .request_schema = "{\"type\": \"object\", \"additionalProperties\": false, \"properties\": "
                      "{\"note\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": "
                      "1000}}}",
    .response_schema =
        "{\"type\": \"object\", \"required\": [\"session_id\", \"approved_by\", \"approved_at\", "
        "\"created\"], \"properties\": {\"session_id\": {\"type\": \"integer\"}, \"module\": "
        "{\"type\": \"string\"}, \"approved_by\": {\"type\": \"integer\"}, \"approved_at\": "
        "{\"type\": \"string\"}, \"note\": {\"type\": [\"string\", \"null\"]}, \"created\": "
        "{\"type\": \"boolean\"}}}",
    .success_status = 200,
};

static const struct wm_route_doc checks_doc = {
    .summary = "What needs doing before upcoming course sessions: scheduled sessions of the "
               "next ?days=N days (1..90, default from config checks_days) of the courses the "
               "caller manages or runs whose module has outside guests and no guest approval",
    .response_schema =
        "{\"type\": \"object\", \"required\": [\"days\", \"from\", \"to\", \"items\"], "
        "\"properties\": {\"days\": {\"type\": \"integer\"}, \"from\": {\"type\": \"string\"}, "
        "\"to\": {\"type\": \"string\"}, \"items\": {\"type\": \"array\", \"items\": {\"type\": "
        "\"object\", \"properties\": {\"check\": {\"const\": \"guest_approval_missing\"}, "
        "\"session_id\": {\"type\": \"integer\"}, \"cohort_id\": {\"type\": [\"integer\", "
        "\"null\"]}, \"module\": {\"type\": \"string\"}, \"starts_at\": {\"type\": "
        "\"string\"}}}}}}",
    .success_status = 200,
};

wm_status gc_timetable_prepare(struct gc_state *st)
{
	if (st->core->db_prepare(st->host, "timetable_get", sql_timetable, 4) != WM_OK ||
	    st->core->db_prepare(st->host, "guest_approve", sql_guest_approve, 5) != WM_OK ||
	    st->core->db_prepare(st->host, "checks", sql_checks, 4) != WM_OK)
		return WM_ERR;
	return WM_OK;
}

wm_status gc_timetable_routes(struct gc_state *st)
{
	const unsigned acf = WM_ROLE_ADMIN | WM_ROLE_COORDINATOR | WM_ROLE_FACILITATOR;
	if (st->core->route_add_access(st->host, WM_GET,
	                               "/api/v1/group_course/cohorts/{id}/timetable", timetable_get,
	                               &timetable_doc, acf) != WM_OK ||
	    st->core->route_add_access(
	        st->host, WM_POST, "/api/v1/group_course/sessions/{id}/guest-approval",
	        guest_approve, &approve_doc, WM_ROLE_ADMIN | WM_ROLE_COORDINATOR) != WM_OK ||
	    st->core->route_add_access(st->host, WM_GET, "/api/v1/group_course/checks", checks,
	                               &checks_doc, acf) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
