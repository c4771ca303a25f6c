/*
 * api_enrolments — people in cohorts: enrol, hold, resume, leave.
 *
 *   POST /api/v1/cohorts/{id}/enrolments  admin, coordinator: enrol a person
 *   GET  /api/v1/cohorts/{id}/enrolments  + facilitators, mentors running the programme
 *   GET  /api/v1/enrolments/{id}          with holds and completion
 *   POST /api/v1/enrolments/{id}/hold     enrolled -> on_hold
 *   POST /api/v1/enrolments/{id}/resume   on_hold -> enrolled
 *   POST /api/v1/enrolments/{id}/leave    enrolled | on_hold -> left
 *
 * Enrolling takes two statements around the programme plugin's
 * booking_check hook (hooks.md): core.enrolment_prepare checks scope, the
 * person, capacity and non-associations and gathers the facts the hook is
 * given; core.enrolment_create then locks the cohort row, checks again (so
 * concurrent enrolments never exceed capacity) and enrols, placing seats.
 * A non-association refuses in the first statement, which also commits the
 * coordinators' alert: the refusal changes nothing else. Holds, resumes and
 * leaving are one statement each (migrations/0011_cohorts.sql), through the
 * enrolment transition table.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "completion.h"
#include "db.h"
#include "hooks.h"
#include "req.h"
#include "server.h"

#define MANAGERS (WM_ROLE_ADMIN | WM_ROLE_COORDINATOR)
#define READERS  (MANAGERS | WM_ROLE_FACILITATOR | WM_ROLE_MENTOR)

static const char *const no_query[] = {NULL};
static const char *const hold_reasons[] = {"prison_transfer", "recall", "health", "release",
                                           "regime_change",   "other",  NULL};
static const char *const left_reasons[] = {"completed",
                                           "expectations_not_met",
                                           "referral_unsuitable",
                                           "transfer",
                                           "released",
                                           "recalled",
                                           "health",
                                           "moved_away",
                                           "withdrew",
                                           "other",
                                           NULL};
static const char *const statuses[] = {"enrolled", "on_hold", "left", NULL};

/* --- enrolling ------------------------------------------------------------ */

struct enrol {
	struct wm_req *req;
	char cohort[24], person[24], referral[24], joined[11];
	int have_referral, have_joined;
};

static void enrol_params(struct enrol *e, struct api_ctx *ctx, const char *p[7])
{
	api_ctx(e->req, ctx);
	p[0] = ctx->staff;
	p[1] = ctx->addr;
	p[2] = ctx->rid;
	p[3] = e->cohort;
	p[4] = e->person;
	p[5] = e->have_joined ? e->joined : NULL;
	p[6] = e->have_referral ? e->referral : NULL;
}

/* Statement 1 answered: refuse, or ask the plugin, then enrol. */
static void prepared(void *arg, const struct wm_db_result *res)
{
	struct enrol *e = arg;
	struct wm_req *req = e->req;
	struct wm_hook_error herr;
	struct api_ctx ctx;
	const char *p[7];
	json_t *doc = NULL;
	if (db_result_error(res) != WM_DB_OK) {
		api_reply_db_error(req, res);
		goto done;
	}
	const char *text = db_result_ntuples(res) > 0 ? db_result_value(res, 0, 0) : NULL;
	if (!text) {
		req_reply_error(req, 404, "core.not_found", NULL, "No such resource.");
		goto done;
	}
	doc = json_loads(text, 0, NULL);
	const char *refused = json_string_value(json_object_get(doc, "refused"));
	const char *type = json_string_value(json_object_get(doc, "type"));
	if (refused) {
		/* The message names nobody: the other person is not the
		 * caller's business here, the alert tells coordinators. */
		req_reply_error(req, 409, refused, "person_id", "%s",
		                json_string_value(json_object_get(doc, "message")));
		goto done;
	}
	if (!type) {
		req_reply_error(req, 500, "core.internal", NULL, "Malformed result.");
		goto done;
	}
	if (hooks_booking_check(req->srv, type, json_object_get(doc, "request"), &herr) != WM_OK) {
		hooks_reply_error(req, &herr);
		goto done;
	}
	enrol_params(e, &ctx, p);
	if (api_exec(req, "core.enrolments_create", 7, p, 201, "core.not_found") != WM_OK)
		goto done; /* api_exec replied */
done:
	json_decref(doc);
	free(e);
}

static void enrolment_create(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"person_id", "joined_on", "referral_id", NULL};
	json_t *body;
	long long cohort;
	const char *person = NULL, *joined = NULL, *referral = NULL;
	char pbuf[24], rbuf[24];
	struct api_ctx ctx;
	const char *p[7];
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &cohort) != WM_OK ||
	    req_json(req, &body) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
	    api_id_field(req, body, "person_id", 1, pbuf, &person) != WM_OK ||
	    api_date(req, body, "joined_on", 0, 0, &joined) != WM_OK ||
	    api_id_field(req, body, "referral_id", 0, rbuf, &referral) != WM_OK)
		return;
	struct enrol *e = calloc(1, sizeof *e);
	if (!e) {
		req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
		return;
	}
	e->req = req;
	snprintf(e->cohort, sizeof e->cohort, "%lld", cohort);
	snprintf(e->person, sizeof e->person, "%s", person);
	if ((e->have_joined = joined != NULL))
		snprintf(e->joined, sizeof e->joined, "%s", joined);
	if ((e->have_referral = referral != NULL))
		snprintf(e->referral, sizeof e->referral, "%s", referral);
	enrol_params(e, &ctx, p);
	if (db_exec_prepared(req->srv->pool, "core.enrolments_prepare", 7, p, prepared, e) !=
	    WM_OK) {
		req_reply_error(req, 500, "core.internal", NULL, "Cannot run the query.");
		free(e);
	}
}

/* --- reading ------------------------------------------------------------- */

static void enrolment_list(struct wm_req *req, void *state)
{
	static const char *const accepted[] = {"status", "limit", "cursor", NULL};
	char limit[8], cursor[24], idbuf[24];
	const char *status = NULL;
	long long cohort;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, accepted) != WM_OK || api_id(req, "id", &cohort) != WM_OK ||
	    api_page(req, limit, cursor) != WM_OK ||
	    api_query_enum(req, "status", statuses, &status) != WM_OK)
		return;
	snprintf(idbuf, sizeof idbuf, "%lld", cohort);
	api_ctx(req, &ctx);
	const char *p[] = {
	    ctx.staff, ctx.addr, ctx.rid, idbuf, status, limit, cursor[0] ? cursor : NULL};
	if (api_exec(req, "core.enrolments_list", 7, p, 200, "core.not_found") != WM_OK)
		return; /* api_exec replied */
}

static void enrolment_get(struct wm_req *req, void *state)
{
	(void)state;
	api_exec_by_id(req, no_query, "core.enrolments_get", 200);
}

/* --- moves ------------------------------------------------------------------ */

/* The body of a POST whose members are all optional: none at all (no
 * bytes) is an empty object. */
static wm_status optional_body(struct wm_req *req, json_t **out)
{
	if (evbuffer_get_length(evhttp_request_get_input_buffer(req->ev)) == 0) {
		*out = NULL;
		return WM_OK;
	}
	return req_json(req, out);
}

/* A move changes which sessions count for the enrolment, so its
 * completion is decided again (hooks.md) before the reply goes out. */
static void moved(void *arg, const struct wm_db_result *res)
{
	struct wm_req *req = arg;
	const char *text = db_result_error(res) == WM_DB_OK && db_result_ntuples(res) > 0
	                       ? db_result_value(res, 0, 0)
	                       : NULL;
	json_t *body = text ? json_loads(text, 0, NULL) : NULL;
	long long id = 0;
	if (!text || !body) {
		api_reply_result(req, res, 200, "core.not_found");
		return;
	}
	if (api_id(req, "id", &id) != WM_OK) {
		json_decref(body);
		return;
	}
	completion_refresh(req, id, body, 200);
}

/* Runs a move: `n` parameters after the context and the id. */
static void run_move(struct wm_req *req, const char *stmt, long long id, const char *a,
                     const char *b, const char *c, int n)
{
	char idbuf[24];
	struct api_ctx ctx;
	snprintf(idbuf, sizeof idbuf, "%lld", id);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, idbuf, a, b, c};
	if (db_exec_prepared(req->srv->pool, stmt, 4 + n, p, moved, req) != WM_OK)
		req_reply_error(req, 500, "core.internal", NULL, "Cannot run the query.");
}

static void enrolment_hold(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"reason", "starts_at", "note", NULL};
	json_t *body;
	long long id;
	const char *reason = NULL, *at = NULL, *note = NULL;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &body) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
	    api_enum(req, body, "reason", hold_reasons, 1, &reason) != WM_OK ||
	    api_instant(req, body, "starts_at", 0, &at) != WM_OK ||
	    api_text(req, body, "note", 1000, 0, &note) != WM_OK)
		return;
	run_move(req, "core.enrolments_hold", id, reason, at, note, 3);
}

static void enrolment_resume(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"at", NULL};
	json_t *body;
	long long id;
	const char *at = NULL;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    optional_body(req, &body) != WM_OK)
		return;
	if (body && (req_json_only(req, body, allowed) != WM_OK ||
	             api_instant(req, body, "at", 0, &at) != WM_OK))
		return;
	run_move(req, "core.enrolments_resume", id, at, NULL, NULL, 1);
}

static void enrolment_leave(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"left_on", "reason", NULL};
	json_t *body;
	long long id;
	const char *left_on = NULL, *reason = NULL;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &body) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
	    api_date(req, body, "left_on", 1, 0, &left_on) != WM_OK ||
	    api_enum(req, body, "reason", left_reasons, 1, &reason) != WM_OK)
		return;
	run_move(req, "core.enrolments_leave", id, left_on, reason, NULL, 2);
}

/* --- documents ---------------------------------------------------------------- */

#define ENROLMENT_PROPS                                                                            \
	"\"id\":{\"type\":\"integer\"},\"cohort_id\":{\"type\":\"integer\"},"                      \
	"\"programme_id\":{\"type\":\"integer\"},\"person_id\":{\"type\":\"integer\"},"            \
	"\"person\":{\"type\":[\"object\",\"null\"]},"                                             \
	"\"joined_on\":{\"type\":\"string\",\"format\":\"date\"},"                                 \
	"\"status\":{\"enum\":[\"enrolled\",\"on_hold\",\"left\"]},"                               \
	"\"left_on\":{\"type\":[\"string\",\"null\"],\"format\":\"date\"},"                        \
	"\"left_reason\":{\"type\":[\"string\",\"null\"]},"                                        \
	"\"referral_id\":{\"type\":[\"integer\",\"null\"]},"                                       \
	"\"version\":{\"type\":\"integer\"}"

#define ENROLMENT_SCHEMA                                                                           \
	"{\"type\":\"object\",\"required\":[\"id\",\"cohort_id\",\"person_id\",\"status\"],"       \
	"\"properties\":{" ENROLMENT_PROPS "}}"

#define ENROLMENT_DETAIL_SCHEMA                                                                    \
	"{\"type\":\"object\",\"required\":[\"id\",\"cohort_id\",\"person_id\",\"status\","        \
	"\"holds\"],\"properties\":{" ENROLMENT_PROPS ","                                          \
	"\"holds\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"            \
	"\"id\":{\"type\":\"integer\"},\"starts_at\":{\"type\":\"string\",\"format\":"             \
	"\"date-time\"},\"ends_at\":{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"},"    \
	"\"reason\":{\"type\":\"string\"},\"note\":{\"type\":[\"string\",\"null\"]}}}},"           \
	"\"completion\":{\"type\":[\"object\",\"null\"]}}}"

static const struct wm_route_doc create_doc = {
    "Enrol a person held by the programme's organisation (from joined_on, default today in "
    "the programme's zone). Refused when the cohort is full (409 core.cohort_full), the person "
    "is in it already (409 core.conflict), a keep-apart arrangement applies with someone in "
    "it (409 core.keep_apart, naming nobody; coordinators are alerted), the programme's plugin "
    "vetoes, or a seat would overlap another of the person's sessions (409 core.person_clash).",
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"person_id\"],"
    "\"properties\":{\"person_id\":{\"type\":\"integer\",\"minimum\":1},"
    "\"joined_on\":{\"type\":\"string\",\"format\":\"date\"},"
    "\"referral_id\":{\"type\":\"integer\",\"minimum\":1}}}",
    ENROLMENT_DETAIL_SCHEMA, 201};

static const struct wm_route_doc list_doc = {
    "The enrolments of a cohort (?status= narrows). Names are shown to those who may see the "
    "person; each child named is an audited read.",
    NULL,
    "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\",\"items\":" ENROLMENT_SCHEMA
    "},\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}",
    200};

static const struct wm_route_doc get_doc = {
    "One enrolment with its holds and completion (a hold's note only for admins and "
    "coordinators of the organisation).",
    NULL, ENROLMENT_DETAIL_SCHEMA, 200};

static const struct wm_route_doc hold_doc = {
    "Put an enrolment on hold from starts_at (default now): sessions inside the hold are not "
    "expected and can never count as absences. starts_at may be in the past (a transfer "
    "recorded late; audited as backdated) but not before the join date (422 core.bad_date), "
    "not at or before a session of the cohort whose attendance is recorded for the person "
    "(422 core.attendance_recorded) and not inside another hold (409 core.conflict). Hold "
    "notes are shown to admins and coordinators of the organisation only.",
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"reason\"],"
    "\"properties\":{\"reason\":{\"enum\":[\"prison_transfer\",\"recall\",\"health\","
    "\"release\",\"regime_change\",\"other\"]},\"starts_at\":{\"type\":\"string\"},"
    "\"note\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1000}}}",
    ENROLMENT_DETAIL_SCHEMA, 200};

static const struct wm_route_doc resume_doc = {
    "Resume an enrolment on hold at `at` (default now); the body may be omitted.",
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"properties\":{\"at\":{\"type\":\"string\"}}}",
    ENROLMENT_DETAIL_SCHEMA, 200};

static const struct wm_route_doc leave_doc = {
    "End an enrolment on left_on with a coded reason: no session from that date is expected.",
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"left_on\",\"reason\"],"
    "\"properties\":{\"left_on\":{\"type\":\"string\",\"format\":\"date\"},"
    "\"reason\":{\"enum\":[\"completed\",\"expectations_not_met\",\"referral_unsuitable\","
    "\"transfer\",\"released\",\"recalled\",\"health\",\"moved_away\",\"withdrew\","
    "\"other\"]}}}",
    ENROLMENT_DETAIL_SCHEMA, 200};

static const struct {
	const char *name, *sql;
	int nparams;
} stmts[] = {
    {"enrolments_prepare",
     "SELECT core.enrolment_prepare($1::bigint, $2::inet, $3::text, $4::bigint, $5::bigint, "
     "$6::date, $7::bigint)",
     7},
    {"enrolments_create",
     "SELECT core.enrolment_create($1::bigint, $2::inet, $3::text, $4::bigint, $5::bigint, "
     "$6::date, $7::bigint)",
     7},
    {"enrolments_list",
     "SELECT core.enrolment_list($1::bigint, $2::inet, $3::text, $4::bigint, $5::text, "
     "$6::integer, $7::bigint)",
     7},
    {"enrolments_get", "SELECT core.enrolment_get($1::bigint, $2::inet, $3::text, $4::bigint)", 4},
    {"enrolments_hold",
     "SELECT core.enrolment_hold($1::bigint, $2::inet, $3::text, $4::bigint, $5::text, "
     "$6::text, $7::text)",
     7},
    {"enrolments_resume",
     "SELECT core.enrolment_resume($1::bigint, $2::inet, $3::text, $4::bigint, $5::text)", 5},
    {"enrolments_leave",
     "SELECT core.enrolment_leave($1::bigint, $2::inet, $3::text, $4::bigint, $5::date, "
     "$6::text)",
     6},
};

wm_status api_enrolments_register(struct server *srv)
{
	for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++)
		if (api_prepare(srv, stmts[i].name, stmts[i].sql, stmts[i].nparams) != WM_OK)
			return WM_ERR;
	if (api_route(srv, WM_POST, "/api/v1/cohorts/{id}/enrolments", enrolment_create,
	              &create_doc, MANAGERS) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/cohorts/{id}/enrolments", enrolment_list, &list_doc,
	              READERS) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/enrolments/{id}", enrolment_get, &get_doc, READERS) !=
	        WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/enrolments/{id}/hold", enrolment_hold, &hold_doc,
	              MANAGERS) != WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/enrolments/{id}/resume", enrolment_resume, &resume_doc,
	              MANAGERS) != WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/enrolments/{id}/leave", enrolment_leave, &leave_doc,
	              MANAGERS) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
