/*
 * gc_report — the commissioner-level figures per cohort:
 *
 *   GET /api/v1/group_course/reports/cohorts?organisation_id=&from=&to=   A C K
 *
 * For each group course cohort of the organisation starting in the period
 * (every cohort without one): referred, started, completed, completion
 * rate, attendance rate and onward referrals by pathway, each with its unit.
 * A commissioner sees counts of 1..4 suppressed, as the core's reports do,
 * and what would give them away by difference (group_course.report_cohorts
 * in migrations/0003_outcomes.sql). Counts only: never a name or a person.
 */
#include <string.h>

#include "gc_outcomes.h"

static void report_cohorts(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"organisation_id", "from", "to", NULL};
	struct gc_state *st = state;
	const struct wm_core *core = st->core;
	if (core->req_query_only(req, allowed) != WM_OK)
		return;
	const char *org = core->req_query(req, "organisation_id");
	const char *from = core->req_query(req, "from"), *to = core->req_query(req, "to");
	if (!gc_out_id(org)) {
		core->reply_error(req, 400, "core.bad_query", "organisation_id",
		                  "organisation_id is required: a positive id.");
		return;
	}
	if (!from != !to) {
		core->reply_error(req, 400, "core.bad_query", from ? "to" : "from",
		                  "from and to go together; without both the report covers every "
		                  "cohort.");
		return;
	}
	if (from && (!gc_out_date_ok(from) || !gc_out_date_ok(to))) {
		core->reply_error(req, 400, "core.bad_date", gc_out_date_ok(from) ? "to" : "from",
		                  "from and to must be dates that exist, written YYYY-MM-DD.");
		return;
	}
	if (from && strcmp(from, to) > 0) {
		core->reply_error(req, 400, "core.bad_range", "to", "to cannot be before from.");
		return;
	}
	const char *p[] = {org, from, to};
	gc_out_exec(st, req, "out_report_cohorts", 3, p, 200);
}

wm_status gc_report_prepare(struct gc_state *st)
{
	return st->core->db_prepare(st->host, "out_report_cohorts",
	                            "SELECT group_course.report_cohorts($1::bigint, $2::inet,"
	                            " $3::text, $4::bigint, $5::date, $6::date)",
	                            6);
}

#define FIGURE                                                                                     \
	"{\"type\":\"object\",\"required\":[\"value\"],\"properties\":{\"value\":{\"type\":"       \
	"[\"number\",\"null\"]},\"suppressed\":{\"type\":\"boolean\"}}}"

static const char report_schema[] =
    "{\"type\":\"object\",\"required\":[\"organisation_id\",\"items\",\"suppressed\",\"units\"],"
    "\"properties\":{\"organisation_id\":{\"type\":\"integer\"},"
    "\"from\":{\"type\":[\"string\",\"null\"],\"format\":\"date\"},"
    "\"to\":{\"type\":[\"string\",\"null\"],\"format\":\"date\"},"
    "\"generated_at\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "\"suppressed\":{\"type\":\"boolean\",\"description\":\"Counts of 1 to 4 (and what would "
    "reveal them) are hidden: the caller is a commissioner.\"},"
    "\"suppression\":{\"type\":[\"object\",\"null\"]},\"units\":{\"type\":\"object\"},"
    "\"truncated\":{\"type\":\"boolean\"},"
    "\"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"cohort_id\","
    "\"referred\",\"started\",\"completed\",\"completion_rate\",\"attendance_rate\","
    "\"onward_referrals\"],\"properties\":{\"cohort_id\":{\"type\":\"integer\"},"
    "\"cohort_name\":{\"type\":\"string\"},\"programme_id\":{\"type\":\"integer\"},"
    "\"programme_name\":{\"type\":\"string\"},\"starts_on\":{\"type\":\"string\","
    "\"format\":\"date\"},\"ends_on\":{\"type\":[\"string\",\"null\"]},\"status\":{\"type\":"
    "\"string\"},\"referred\":" FIGURE ",\"started\":" FIGURE ",\"completed\":" FIGURE
    ",\"completion_rate\":" FIGURE ",\"attendance_rate\":" FIGURE
    ",\"onward_referrals\":{\"type\":\"object\",\"properties\":{\"total\":" FIGURE
    ",\"by_pathway\":{\"type\":\"object\",\"additionalProperties\":" FIGURE "}}}}}}}}";

wm_status gc_report_routes(struct gc_state *st)
{
	static const struct wm_route_doc doc = {
	    "Per cohort of the organisation's group courses (starting from..to): referred, "
	    "started, completed, completion and attendance rates, onward referrals by pathway; "
	    "small counts suppressed for commissioners",
	    NULL, report_schema, 200};
	return st->core->route_add_access(
	    st->host, WM_GET, "/api/v1/group_course/reports/cohorts", report_cohorts, &doc,
	    WM_ROLE_ADMIN | WM_ROLE_COORDINATOR | WM_ROLE_COMMISSIONER);
}
