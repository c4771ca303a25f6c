/*
 * gc_outcomes — what a course leads to (migrations/0003_outcomes.sql holds
 * the rules; each route is one call of one SQL function):
 *
 *   POST /api/v1/group_course/enrolments/{id}/certificate   A C F  -> 201
 *   GET  /api/v1/group_course/cohorts/{id}/certificates     A C F
 *   POST /api/v1/group_course/cohorts/{id}/graduation       A C    -> 201
 *   GET  /api/v1/group_course/cohorts/{id}/graduation       A C F
 *   POST /api/v1/group_course/cohorts/{id}/graduation/households  A C -> 201
 *   POST /api/v1/group_course/enrolments/{id}/onward        A C F  -> 201
 *   GET  /api/v1/group_course/enrolments/{id}/onward        A C F
 *
 * (F: a facilitator running the programme, the person on their caseload.)
 * The handlers check the shape of the input and run one statement; scope,
 * refusals, changes and audit are the statement's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc_outcomes.h"

/* --- running one statement ------------------------------------------------ */

struct out_call {
	struct gc_state *st;
	struct wm_req *req;
	int status;
};

static void out_done(void *arg, const struct wm_db_result *res)
{
	struct out_call *c = arg;
	const struct wm_core *core = c->st->core;
	const char *text = NULL;
	if (core->db_error(res) != WM_DB_OK) {
		core->reply_db_error(c->req, res);
		free(c);
		return;
	}
	if (core->db_ntuples(res) > 0)
		text = core->db_value(res, 0, 0);
	json_t *body = text ? json_loads(text, 0, NULL) : NULL;
	if (!text)
		core->reply_error(c->req, 404, "core.not_found", NULL, "Not found.");
	else if (!body)
		core->reply_error(c->req, 500, "core.internal", NULL,
		                  "The reply could not be read.");
	else
		core->reply_json(c->req, c->status, body);
	free(c);
}

void gc_out_exec(struct gc_state *st, struct wm_req *req, const char *name, int n,
                 const char *const *params, int status)
{
	const struct wm_core *core = st->core;
	const struct wm_caller *who = core->req_caller(req);
	char staff[24];
	const char *p[8];
	struct out_call *c = calloc(1, sizeof *c);
	if (!c || n > 5) {
		free(c);
		core->reply_error(req, 500, "core.internal", NULL, "Out of memory.");
		return;
	}
	snprintf(staff, sizeof staff, "%lld", who ? (long long)who->staff_id : 0LL);
	p[0] = staff;
	p[1] = core->req_remote_addr(req);
	p[2] = core->req_id(req);
	for (int i = 0; i < n; i++)
		p[3 + i] = params[i];
	c->st = st;
	c->req = req;
	c->status = status;
	if (core->db_exec_prepared(st->host, name, 3 + n, p, out_done, c) != WM_OK) {
		free(c);
		core->reply_error(req, 500, "core.internal", NULL,
		                  "The query could not be queued.");
	}
}

/* --- shape checks ---------------------------------------------------------- */

long long gc_out_id(const char *s)
{
	if (!s || !*s || strlen(s) > 16 || strspn(s, "0123456789") != strlen(s))
		return 0;
	long long v = strtoll(s, NULL, 10);
	return v >= 1 && v <= GC_OUT_MAX_ID ? v : 0;
}

static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int day_ok(int y, int m, int d)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return y >= 1900 && y <= 2200 && m >= 1 && m <= 12 && d >= 1 &&
	       d <= mdays[m - 1] + (m == 2 && leap);
}

int gc_out_date_ok(const char *s)
{
	return s && strlen(s) == 10 && s[4] == '-' && s[7] == '-' &&
	       day_ok(digits(s, 4), digits(s + 5, 2), digits(s + 8, 2));
}

int gc_out_instant_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0, i = 16;
	if (n < 16 || n > 40 ||
	    !gc_out_date_ok(
	        (char[11]){s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], 0}))
		return 0;
	int h = digits(s + 11, 2), mi = digits(s + 14, 2);
	if ((s[10] != 'T' && s[10] != 't') || s[13] != ':' || h < 0 || h > 23 || mi < 0 || mi > 59)
		return 0;
	if (i < n && s[i] == ':') {
		int sec = i + 3 <= n ? digits(s + i + 1, 2) : -1;
		if (sec < 0 || sec > 59)
			return 0;
		i += 3;
	}
	if (i == n)
		return 1;
	if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n)
		return 1;
	if ((s[i] == '+' || s[i] == '-') && i + 6 == n && s[i + 3] == ':') {
		int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
		return oh >= 0 && oh <= 23 && om >= 0 && om <= 59;
	}
	return 0;
}

/* The {id} of the path as text, or 0 after replying 404 (an id that
 * cannot exist names nothing). */
static long long path_id(struct gc_state *st, struct wm_req *req, char buf[24])
{
	long long id = gc_out_id(st->core->req_param(req, "id"));
	if (!id)
		st->core->reply_error(req, 404, "core.not_found", NULL, "Not found.");
	else
		snprintf(buf, 24, "%lld", id);
	return id;
}

/* An optional id member of the body: 1..2^53, else 400 naming it. */
static wm_status body_id(struct gc_state *st, struct wm_req *req, const json_t *b,
                         const char *field, int required, char buf[24], const char **out)
{
	long long v = 0;
	*out = NULL;
	if (st->core->json_int(req, b, field, 1, GC_OUT_MAX_ID, required, &v) != WM_OK)
		return WM_ERR;
	if (v) {
		snprintf(buf, 24, "%lld", v);
		*out = buf;
	}
	return WM_OK;
}

/* --- certificates ------------------------------------------------------------ */

static void cert_issue(struct wm_req *req, void *state)
{
	struct gc_state *st = state;
	char id[24];
	if (!path_id(st, req, id))
		return;
	const char *p[] = {id};
	gc_out_exec(st, req, "out_cert_issue", 1, p, 201);
}

static void cert_list(struct wm_req *req, void *state)
{
	struct gc_state *st = state;
	char id[24];
	if (!path_id(st, req, id))
		return;
	const char *p[] = {id};
	gc_out_exec(st, req, "out_cert_list", 1, p, 200);
}

/* --- graduation -------------------------------------------------------------- */

static void grad_create(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"start", "duration_minutes", "venue_id", "room_id",
	                                      "title", "capacity",         NULL};
	struct gc_state *st = state;
	const struct wm_core *core = st->core;
	json_t *b;
	const char *start = NULL, *title = NULL, *venue, *room;
	long long minutes = 0, capacity = 0;
	char id[24], vbuf[24], rbuf[24];
	if (core->req_json(req, &b) != WM_OK || core->json_only(req, b, allowed) != WM_OK ||
	    core->json_string(req, b, "start", 40, 1, &start) != WM_OK ||
	    core->json_int(req, b, "duration_minutes", 15, 720, 1, &minutes) != WM_OK ||
	    body_id(st, req, b, "venue_id", 0, vbuf, &venue) != WM_OK ||
	    body_id(st, req, b, "room_id", 0, rbuf, &room) != WM_OK ||
	    core->json_string(req, b, "title", 200, 0, &title) != WM_OK ||
	    core->json_int(req, b, "capacity", 1, 10000, 0, &capacity) != WM_OK)
		return;
	if (!gc_out_instant_ok(start)) {
		core->reply_error(req, 400, "core.bad_time", "start",
		                  "start must be a date-time: 2027-03-28T14:00 (local, in the "
		                  "programme's time zone) or RFC 3339 with Z or an offset.");
		return;
	}
	if (!path_id(st, req, id))
		return;
	char *text = json_dumps(b, JSON_COMPACT);
	if (!text) {
		core->reply_error(req, 500, "core.internal", NULL, "Out of memory.");
		return;
	}
	const char *p[] = {id, text};
	gc_out_exec(st, req, "out_grad_create", 2, p, 201);
	free(text);
}

static void grad_get(struct wm_req *req, void *state)
{
	struct gc_state *st = state;
	char id[24];
	if (!path_id(st, req, id))
		return;
	const char *p[] = {id};
	gc_out_exec(st, req, "out_grad_get", 1, p, 200);
}

static void grad_households(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"enrolment_id", "household_id", NULL};
	struct gc_state *st = state;
	const struct wm_core *core = st->core;
	json_t *b;
	const char *enrolment, *household;
	char id[24], ebuf[24], hbuf[24];
	if (core->req_json(req, &b) != WM_OK || core->json_only(req, b, allowed) != WM_OK ||
	    body_id(st, req, b, "enrolment_id", 1, ebuf, &enrolment) != WM_OK ||
	    body_id(st, req, b, "household_id", 1, hbuf, &household) != WM_OK ||
	    !path_id(st, req, id))
		return;
	const char *p[] = {id, enrolment, household};
	gc_out_exec(st, req, "out_grad_households", 3, p, 201);
}

/* --- onward referrals -------------------------------------------------------- */

/* The seven pathways out of reoffending, and mentoring (group_course.pathway). */
static const char *const pathways[] = {
    "accommodation",
    "education_training_employment",
    "health",
    "drugs_alcohol",
    "finance_benefit_debt",
    "children_families",
    "attitudes_thinking_behaviour",
    "mentoring",
    NULL,
};

static void onward_create(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"pathway", "organisation_id", "note", NULL};
	struct gc_state *st = state;
	const struct wm_core *core = st->core;
	json_t *b;
	const char *pathway = NULL, *org, *note = NULL;
	char id[24], obuf[24];
	if (core->req_json(req, &b) != WM_OK || core->json_only(req, b, allowed) != WM_OK ||
	    core->json_string(req, b, "pathway", 40, 1, &pathway) != WM_OK ||
	    body_id(st, req, b, "organisation_id", 0, obuf, &org) != WM_OK ||
	    core->json_string(req, b, "note", 2000, 0, &note) != WM_OK)
		return;
	size_t i = 0;
	while (pathways[i] && strcmp(pathways[i], pathway))
		i++;
	if (!pathways[i]) {
		core->reply_error(req, 400, "core.bad_enum", "pathway",
		                  "pathway must be one of: accommodation, "
		                  "education_training_employment, health, drugs_alcohol, "
		                  "finance_benefit_debt, children_families, "
		                  "attitudes_thinking_behaviour, mentoring.");
		return;
	}
	if (!path_id(st, req, id))
		return;
	const char *p[] = {id, pathway, org, note};
	gc_out_exec(st, req, "out_onward_create", 4, p, 201);
}

static void onward_list(struct wm_req *req, void *state)
{
	struct gc_state *st = state;
	char id[24];
	if (!path_id(st, req, id))
		return;
	const char *p[] = {id};
	gc_out_exec(st, req, "out_onward_list", 1, p, 200);
}

/* --- statements and routes ---------------------------------------------------- */

#define CTX "$1::bigint, $2::inet, $3::text"

static const struct {
	const char *name, *sql;
	int nparams;
} statements[] = {
    {"out_cert_issue", "SELECT group_course.certificate_issue(" CTX ", $4::bigint)", 4},
    {"out_cert_list", "SELECT group_course.certificate_list(" CTX ", $4::bigint)", 4},
    {"out_grad_create", "SELECT group_course.graduation_create(" CTX ", $4::bigint, $5::jsonb)", 5},
    {"out_grad_get", "SELECT group_course.graduation_get(" CTX ", $4::bigint)", 4},
    {"out_grad_households",
     "SELECT group_course.graduation_household_add(" CTX ", $4::bigint, $5::bigint, $6::bigint)",
     6},
    {"out_onward_create",
     "SELECT group_course.onward_create(" CTX ", $4::bigint, $5::text, $6::bigint, $7::text)", 7},
    {"out_onward_list", "SELECT group_course.onward_list(" CTX ", $4::bigint)", 4},
};

wm_status gc_outcome_prepare(struct gc_state *st)
{
	for (size_t i = 0; i < sizeof statements / sizeof statements[0]; i++)
		if (st->core->db_prepare(st->host, statements[i].name, statements[i].sql,
		                         statements[i].nparams) != WM_OK)
			return WM_ERR;
	return gc_report_prepare(st);
}

/* JSON Schemas (OpenAPI 3.1) of the bodies, with the bounds checked above. */
#define ID_SCHEMA "{\"type\":\"integer\",\"minimum\":1,\"maximum\":9007199254740992}"

static const char certificate_schema[] =
    "{\"type\":\"object\",\"required\":[\"id\",\"number\",\"enrolment_id\",\"cohort_id\","
    "\"rule_version\",\"issued_at\"],\"properties\":{\"id\":{\"type\":\"integer\"},"
    "\"number\":{\"type\":\"string\"},\"enrolment_id\":{\"type\":\"integer\"},"
    "\"cohort_id\":{\"type\":\"integer\"},\"programme_id\":{\"type\":\"integer\"},"
    "\"person_id\":{\"type\":\"integer\"},\"person\":{\"type\":[\"object\",\"null\"]},"
    "\"rule_version\":{\"type\":\"string\"},\"qualification\":{\"type\":[\"object\",\"null\"],"
    "\"properties\":{\"name\":{\"type\":\"string\"},\"level\":{\"type\":[\"integer\",\"null\"]},"
    "\"credits\":{\"type\":[\"integer\",\"null\"]}}},\"issued_at\":{\"type\":\"string\","
    "\"format\":\"date-time\"},\"issued_by\":{\"type\":[\"integer\",\"null\"]}}}";

static const char certificate_list_schema[] =
    "{\"type\":\"object\",\"required\":[\"cohort_id\",\"items\"],\"properties\":{"
    "\"cohort_id\":{\"type\":\"integer\"},\"items\":{\"type\":\"array\",\"items\":"
    "{\"type\":\"object\"}}}}";

static const char graduation_request[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"start\","
    "\"duration_minutes\"],\"properties\":{"
    "\"start\":{\"type\":\"string\",\"maxLength\":40,\"description\":\"Local date-time in the "
    "programme's time zone (2027-03-28T14:00) or RFC 3339 with Z or an offset.\"},"
    "\"duration_minutes\":{\"type\":\"integer\",\"minimum\":15,\"maximum\":720},"
    "\"venue_id\":" ID_SCHEMA ",\"room_id\":" ID_SCHEMA ","
    "\"title\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200},"
    "\"capacity\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10000}}}";

static const char graduation_schema[] =
    "{\"type\":\"object\",\"required\":[\"cohort_id\",\"session\",\"households\"],"
    "\"properties\":{\"cohort_id\":{\"type\":\"integer\"},\"session\":{\"type\":\"object\","
    "\"properties\":{\"id\":{\"type\":\"integer\"},\"title\":{\"type\":\"string\"},"
    "\"module\":{\"type\":\"string\"},\"booking_mode\":{\"type\":\"string\"},"
    "\"starts_at\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "\"ends_at\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "\"local\":{\"type\":\"object\"},\"capacity\":{\"type\":[\"integer\",\"null\"]},"
    "\"booked\":{\"type\":\"integer\"}}},\"households\":{\"type\":\"array\",\"items\":"
    "{\"type\":\"object\"}},\"bookings\":{\"type\":\"object\"}}}";

static const char households_request[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"enrolment_id\","
    "\"household_id\"],\"properties\":{\"enrolment_id\":" ID_SCHEMA ",\"household_id\":" ID_SCHEMA
    "}}";

static const char households_schema[] =
    "{\"type\":\"object\",\"required\":[\"cohort_id\",\"session_id\",\"members\"],"
    "\"properties\":{\"cohort_id\":{\"type\":\"integer\"},\"session_id\":{\"type\":\"integer\"},"
    "\"enrolment_id\":{\"type\":\"integer\"},\"household_id\":{\"type\":\"integer\"},"
    "\"members\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"person_id\","
    "\"outcome\"],\"properties\":{\"person_id\":{\"type\":\"integer\"},\"relationship\":"
    "{\"type\":\"string\"},\"outcome\":{\"enum\":[\"booked\",\"waitlisted\",\"already_booked\","
    "\"refused\"]},\"booking_id\":{\"type\":[\"integer\",\"null\"]},\"code\":{\"type\":"
    "[\"string\",\"null\"]}}}}}}";

#define PATHWAY_ENUM                                                                               \
	"[\"accommodation\",\"education_training_employment\",\"health\",\"drugs_alcohol\","       \
	"\"finance_benefit_debt\",\"children_families\",\"attitudes_thinking_behaviour\","         \
	"\"mentoring\"]"

static const char onward_request[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"pathway\"],"
    "\"properties\":{\"pathway\":{\"enum\":" PATHWAY_ENUM "},\"organisation_id\":" ID_SCHEMA
    ",\"note\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":2000}}}";

static const char onward_schema[] =
    "{\"type\":\"object\",\"required\":[\"id\",\"enrolment_id\",\"pathway\",\"referral_id\"],"
    "\"properties\":{\"id\":{\"type\":\"integer\"},\"enrolment_id\":{\"type\":\"integer\"},"
    "\"pathway\":{\"enum\":" PATHWAY_ENUM "},\"organisation_id\":{\"type\":\"integer\"},"
    "\"referral_id\":{\"type\":\"integer\"},\"referral_status\":{\"type\":[\"string\","
    "\"null\"]},\"previous_referral_id\":{\"type\":[\"integer\",\"null\"]},\"note\":{\"type\":"
    "[\"string\",\"null\"]},\"completion_result\":{\"type\":[\"string\",\"null\"]},"
    "\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"}}}";

static const char onward_list_schema[] =
    "{\"type\":\"object\",\"required\":[\"enrolment_id\",\"items\"],\"properties\":{"
    "\"enrolment_id\":{\"type\":\"integer\"},\"items\":{\"type\":\"array\",\"items\":"
    "{\"type\":\"object\"}}}}";

#define ACC  (WM_ROLE_ADMIN | WM_ROLE_COORDINATOR)
#define ACCF (WM_ROLE_ADMIN | WM_ROLE_COORDINATOR | WM_ROLE_FACILITATOR)
#define BASE "/api/v1/group_course"

wm_status gc_outcome_routes(struct gc_state *st)
{
	static const struct wm_route_doc d_cert = {
	    "Issue the certificate of a completed enrolment (number LCP-<cohort>-<n>, the "
	    "qualification in the course's settings); 409 group_course.not_completed otherwise",
	    NULL, certificate_schema, 201};
	static const struct wm_route_doc d_certs = {"A cohort's certificates, in number order",
	                                            NULL, certificate_list_schema, 200};
	static const struct wm_route_doc d_grad = {
	    "Schedule the cohort's graduation: a booked session of the course (module "
	    "'graduation', outside the cohort) that graduates' households are booked onto",
	    graduation_request, graduation_schema, 201};
	static const struct wm_route_doc d_grad_get = {
	    "The cohort's graduation: its session, the households invited and booking counts", NULL,
	    graduation_schema, 200};
	static const struct wm_route_doc d_hh = {
	    "Book a completing participant's household (every member) onto the graduation "
	    "through the core's bookings, so it shows in their family calendar",
	    households_request, households_schema, 201};
	static const struct wm_route_doc d_onward = {
	    "Refer a participant on to a pathway (the seven pathways out of reoffending, or "
	    "mentoring): a core referral, in another organisation only with live consent",
	    onward_request, onward_schema, 201};
	static const struct wm_route_doc d_onwards = {"An enrolment's onward referrals", NULL,
	                                              onward_list_schema, 200};
	const struct wm_core *core = st->core;
	if (core->route_add_access(st->host, WM_POST, BASE "/enrolments/{id}/certificate",
	                           cert_issue, &d_cert, ACCF) != WM_OK ||
	    core->route_add_access(st->host, WM_GET, BASE "/cohorts/{id}/certificates", cert_list,
	                           &d_certs, ACCF) != WM_OK ||
	    core->route_add_access(st->host, WM_POST, BASE "/cohorts/{id}/graduation", grad_create,
	                           &d_grad, ACC) != WM_OK ||
	    core->route_add_access(st->host, WM_GET, BASE "/cohorts/{id}/graduation", grad_get,
	                           &d_grad_get, ACCF) != WM_OK ||
	    core->route_add_access(st->host, WM_POST, BASE "/cohorts/{id}/graduation/households",
	                           grad_households, &d_hh, ACC) != WM_OK ||
	    core->route_add_access(st->host, WM_POST, BASE "/enrolments/{id}/onward", onward_create,
	                           &d_onward, ACCF) != WM_OK ||
	    core->route_add_access(st->host, WM_GET, BASE "/enrolments/{id}/onward", onward_list,
	                           &d_onwards, ACCF) != WM_OK)
		return WM_ERR;
	return gc_report_routes(st);
}
