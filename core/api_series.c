/*
 * api_series — laying sessions out: recurring series and one-off sessions.
 *
 *   POST /api/v1/programmes/{id}/series    a series: RRULE expanded with libical
 *   POST /api/v1/programmes/{id}/sessions  one session
 *   GET  /api/v1/series/{id}               the rule, cancelled and changed instances
 *   POST /api/v1/series/{id}/cancel        cancels the instances from a date on (none
 *                                          with attendance; started ones only with force)
 *
 * Admins and coordinators of the programme's organisation lay sessions out;
 * facilitators and mentors who run the programme (or staff one of the
 * series' sessions) may read a series. A series takes two statements: the
 * first checks scope and reads the start in the programme's zone, then the
 * rule is expanded here, on the loop (bounded: recur.h), and the second
 * writes the series and all its sessions in one transaction
 * (core.series_create in migrations/0010_sessions.sql).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "recur.h"
#include "req.h"
#include "server.h"

#define MANAGERS  (WM_ROLE_ADMIN | WM_ROLE_COORDINATOR)
#define READERS   (MANAGERS | WM_ROLE_FACILITATOR | WM_ROLE_MENTOR)
#define STAFF_MAX 20

static const char *const delivery_modes[] = {"face_to_face", "online", "phone", "in_cell_pack",
                                             NULL};
static const char *const location_kinds[] = {
    "prison", "approved_premises", "probation_office", "community_venue", "home", "school", NULL};
static const char *const booking_modes[] = {"enrolled", "booked", NULL};
static const char *const programme_roles[] = {
    "lead",   "facilitator", "co_facilitator", "peer_mentor", "guest",
    "escort", "coach",       "mentor",         "coordinator", NULL};
static const char *const no_query[] = {NULL};

/* --- statements ------------------------------------------------------- */

static const char sql_plan[] = "SELECT core.series_plan($1::bigint, $4::bigint, $5::text) "
                               "FROM (SELECT $2::inet, $3::text) ctx";
static const char sql_create_series[] =
    "SELECT core.series_create($1::bigint, $2::inet, $3::text, $4::bigint, $5::text, "
    "$6::jsonb, $7::jsonb)";
static const char sql_create_session[] =
    "SELECT core.session_create($1::bigint, $2::inet, $3::text, $4::bigint, $5::jsonb)";
static const char sql_get[] = "SELECT core.series_json($4::bigint) "
                              "FROM (SELECT $2::inet, $3::text) ctx "
                              "WHERE core.series_visible($1::bigint, $4::bigint)";
static const char sql_cancel[] = "SELECT core.series_cancel($1::bigint, $2::inet, $3::text, "
                                 "$4::bigint, $5::date, $6::text, $7::boolean)";

/* --- docs ------------------------------------------------------------- */

#define ID        "{\"type\": \"integer\", \"minimum\": 1}"
#define NID       "{\"type\": [\"integer\", \"null\"], \"minimum\": 1}"
#define NTEXT(n)  "{\"type\": [\"string\", \"null\"], \"minLength\": 1, \"maxLength\": " #n "}"
#define INSTANT   "{\"type\": \"string\", \"format\": \"date-time\"}"
#define NINSTANT  "{\"type\": [\"string\", \"null\"], \"format\": \"date-time\"}"
#define DATE      "{\"type\": \"string\", \"format\": \"date\"}"
#define START     "{\"type\": \"string\", \"minLength\": 16, \"maxLength\": 40}"
#define MODE_ENUM "[\"face_to_face\", \"online\", \"phone\", \"in_cell_pack\"]"
#define KIND_ENUM                                                                                  \
	"[\"prison\", \"approved_premises\", \"probation_office\", \"community_venue\", "          \
	"\"home\", \"school\"]"
#define ROLE_ENUM                                                                                  \
	"[\"lead\", \"facilitator\", \"co_facilitator\", \"peer_mentor\", \"guest\", \"escort\", " \
	"\"coach\", \"mentor\", \"coordinator\"]"
#define STAFF_LIST                                                                                 \
	"{\"type\": \"array\", \"maxItems\": 20, \"items\": {\"type\": \"object\", "               \
	"\"additionalProperties\": false, \"required\": [\"staff_id\"], \"properties\": "          \
	"{\"staff_id\": " ID ", \"role\": {\"enum\": " ROLE_ENUM "}}}}"
#define SPEC_PROPS                                                                                 \
	"\"title\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 200}, "                \
	"\"start\": " START                                                                        \
	", \"duration_minutes\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": "            \
	"1440}, \"delivery_mode\": {\"enum\": " MODE_ENUM                                          \
	"}, \"location_kind\": {\"enum\": " KIND_ENUM "}, \"venue_id\": " NID                      \
	", \"room_id\": " NID ", \"capacity\": {\"type\": "                                        \
	"[\"integer\", \"null\"], \"minimum\": 1, \"maximum\": 10000}, \"booking_mode\": "         \
	"{\"enum\": [\"enrolled\", \"booked\"]}, \"cohort_id\": " NID ", \"module\": " NTEXT(      \
	    100) ", \"catch_up\": {\"type\": \"boolean\"}, \"staff\": " STAFF_LIST
#define LOCAL                                                                                      \
	"{\"type\": \"object\", \"properties\": {\"date\": " DATE ", \"start\": {\"type\": "       \
	"\"string\"}, \"end\": {\"type\": \"string\"}, \"time_zone\": {\"type\": \"string\"}}}"
#define SESSION                                                                                    \
	"{\"type\": \"object\", \"properties\": {\"id\": " ID ", \"programme_id\": " ID            \
	", \"series_id\": " NID ", \"recurrence_id\": " NINSTANT ", \"cohort_id\": " NID           \
	", \"title\": {\"type\": \"string\"}, \"starts_at\": " INSTANT ", \"ends_at\": " INSTANT   \
	", \"local\": " LOCAL ", \"status\": {\"enum\": [\"scheduled\", \"cancelled\"]}, "         \
	"\"moved\": {\"type\": \"boolean\"}, \"closure_id\": " NID ", \"cancel_reason\": " NTEXT(  \
	    500) ", \"sequence\": {\"type\": \"integer\"}, \"version\": " ID "}}"
#define SERIES                                                                                     \
	"{\"type\": \"object\", \"properties\": {\"id\": " ID ", \"programme_id\": " ID            \
	", \"title\": {\"type\": \"string\"}, \"rrule\": {\"type\": \"string\"}, "                 \
	"\"dtstart_local\": {\"type\": \"string\"}, \"time_zone\": {\"type\": \"string\"}, "       \
	"\"duration_minutes\": " ID ", \"expanded_until\": " INSTANT                               \
	", \"sequence\": {\"type\": \"integer\"}, \"cancelled_at\": " NINSTANT                     \
	", \"exdates\": {\"type\": \"array\"}, \"overrides\": {\"type\": \"array\", "              \
	"\"items\": " SESSION "}}}"

static const char series_req_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"title\", "
    "\"rrule\", \"start\", \"duration_minutes\", \"location_kind\"], \"properties\": {" SPEC_PROPS
    ", \"rrule\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 500}, \"until\": " DATE
    "}}";
static const char series_created_schema[] =
    "{\"type\": \"object\", \"properties\": {\"series\": " SERIES ", \"sessions\": "
    "{\"type\": \"array\", \"items\": " SESSION "}}}";
static const char session_req_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"title\", "
    "\"start\", \"duration_minutes\", \"location_kind\"], \"properties\": {" SPEC_PROPS "}}";
static const char session_schema[] = SESSION;
static const char series_schema[] = SERIES;
static const char cancel_req_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"from\", "
    "\"reason\"], \"properties\": {\"from\": " DATE ", \"reason\": {\"type\": \"string\", "
    "\"minLength\": 1, \"maxLength\": 500}, \"force\": {\"type\": \"boolean\"}}}";
static const char cancelled_schema[] =
    "{\"type\": \"object\", \"properties\": {\"series\": " SERIES ", \"cancelled\": "
    "{\"type\": \"integer\", \"minimum\": 0}}}";

/* --- input ------------------------------------------------------------ */

/* Present and not JSON null. */
static int given(const json_t *obj, const char *field)
{
	json_t *v = json_object_get(obj, field);
	return v && !json_is_null(v);
}

static wm_status oom(struct wm_req *req)
{
	req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
	return WM_ERR;
}

wm_status api_staff_list(struct wm_req *req, const json_t *list, json_t **out)
{
	static const char *const allowed[] = {"staff_id", "role", NULL};
	json_t *e;
	size_t i, j;
	*out = NULL;
	if (!json_is_array(list) || json_array_size(list) > STAFF_MAX) {
		req_reply_error(req, 400, list ? "core.wrong_type" : "core.missing_field", "staff",
		                "staff must be a list of at most %d {staff_id, role}.", STAFF_MAX);
		return WM_ERR;
	}
	if (!(*out = json_array()))
		return oom(req);
	json_array_foreach(list, i, e)
	{
		char buf[24];
		const char *id = NULL, *role = "facilitator";
		if (!json_is_object(e)) {
			req_reply_error(req, 400, "core.wrong_type", "staff",
			                "staff[%zu] must be an object {staff_id, role}.", i);
			goto fail;
		}
		if (req_json_only(req, e, allowed) != WM_OK ||
		    api_id_field(req, e, "staff_id", 1, buf, &id) != WM_OK ||
		    api_enum(req, e, "role", programme_roles, 0, &role) != WM_OK)
			goto fail;
		for (j = 0; j < i; j++)
			if (json_integer_value(
			        json_object_get(json_array_get(list, j), "staff_id")) ==
			    json_integer_value(json_object_get(e, "staff_id"))) {
				req_reply_error(
				    req, 400, "core.duplicate", "staff",
				    "staff[%zu] names the same staff member as staff[%zu].", i, j);
				goto fail;
			}
		if (json_array_append_new(*out, json_pack("{sIss}", "staff_id",
		                                          (json_int_t)strtoll(id, NULL, 10), "role",
		                                          role))) {
			oom(req);
			goto fail;
		}
	}
	return WM_OK;
fail:
	json_decref(*out);
	*out = NULL;
	return WM_ERR;
}

/* staff: [{staff_id, role?}], optional, into `b`. */
static wm_status parse_staff(struct wm_req *req, const json_t *obj, json_t *b)
{
	json_t *list = json_object_get(obj, "staff"), *out;
	if (!list || json_is_null(list))
		return WM_OK;
	if (api_staff_list(req, list, &out) != WM_OK)
		return WM_ERR;
	if (json_object_set_new(b, "staff", out))
		return oom(req);
	return WM_OK;
}

/* Sets b[field] = v (stolen; NULL v: nothing). Replies 500 on failure. */
static wm_status put(struct wm_req *req, json_t *b, const char *field, json_t *v)
{
	if (v && json_object_set_new(b, field, v))
		return oom(req);
	return WM_OK;
}

static json_t *opt_str(const char *v)
{
	return v ? json_string(v) : NULL;
}

static json_t *opt_int(const char *v)
{
	return v ? json_integer(strtoll(v, NULL, 10)) : NULL;
}

/* The fields of a session to lay out (and, for a series, rrule and until)
 * into a new object *out. On WM_ERR the reply has been sent (and the
 * request freed). */
static wm_status parse_spec(struct wm_req *req, const json_t *obj, int series, json_t **out,
                            int *duration_s)
{
	const char *title = NULL, *start = NULL, *mode = NULL, *kind = NULL, *booking = NULL,
	           *module = NULL, *venue = NULL, *room = NULL, *cohort = NULL, *rrule = NULL,
	           *until = NULL;
	char vbuf[24], rbuf[24], cbuf[24];
	long long minutes = 0, capacity = 0;
	int catch_up = 0, has_catch_up = given(obj, "catch_up");
	json_t *b = NULL;
	*out = NULL;
	if (api_text(req, obj, "title", 200, 1, &title) != WM_OK ||
	    api_instant(req, obj, "start", 1, &start) != WM_OK ||
	    req_json_int(req, obj, "duration_minutes", 1, 1440, 1, &minutes) != WM_OK ||
	    api_enum(req, obj, "delivery_mode", delivery_modes, 0, &mode) != WM_OK ||
	    api_enum(req, obj, "location_kind", location_kinds, 1, &kind) != WM_OK ||
	    api_enum(req, obj, "booking_mode", booking_modes, 0, &booking) != WM_OK ||
	    api_text(req, obj, "module", 100, 0, &module) != WM_OK ||
	    (given(obj, "venue_id") &&
	     api_id_field(req, obj, "venue_id", 0, vbuf, &venue) != WM_OK) ||
	    (given(obj, "room_id") && api_id_field(req, obj, "room_id", 0, rbuf, &room) != WM_OK) ||
	    (given(obj, "cohort_id") &&
	     api_id_field(req, obj, "cohort_id", 0, cbuf, &cohort) != WM_OK) ||
	    (given(obj, "capacity") &&
	     req_json_int(req, obj, "capacity", 1, 10000, 0, &capacity) != WM_OK) ||
	    (has_catch_up && req_json_bool(req, obj, "catch_up", 0, &catch_up) != WM_OK) ||
	    (series && (req_json_string(req, obj, "rrule", RECUR_RULE_MAX, 1, &rrule) != WM_OK ||
	                api_date(req, obj, "until", 0, 0, &until) != WM_OK)))
		return WM_ERR;
	if (!(b = json_object()))
		return oom(req);
	if (put(req, b, "title", opt_str(title)) != WM_OK ||
	    put(req, b, "start", opt_str(start)) != WM_OK ||
	    put(req, b, "duration_minutes", json_integer(minutes)) != WM_OK ||
	    put(req, b, "delivery_mode", opt_str(mode)) != WM_OK ||
	    put(req, b, "location_kind", opt_str(kind)) != WM_OK ||
	    put(req, b, "booking_mode", opt_str(booking)) != WM_OK ||
	    put(req, b, "module", opt_str(module)) != WM_OK ||
	    put(req, b, "venue_id", opt_int(venue)) != WM_OK ||
	    put(req, b, "room_id", opt_int(room)) != WM_OK ||
	    put(req, b, "cohort_id", opt_int(cohort)) != WM_OK ||
	    put(req, b, "capacity", capacity ? json_integer(capacity) : NULL) != WM_OK ||
	    put(req, b, "catch_up", has_catch_up ? json_boolean(catch_up) : NULL) != WM_OK ||
	    put(req, b, "rrule", opt_str(rrule)) != WM_OK ||
	    put(req, b, "until", opt_str(until)) != WM_OK || parse_staff(req, obj, b) != WM_OK) {
		json_decref(b); /* replied already */
		return WM_ERR;
	}
	*duration_s = (int)minutes * 60;
	*out = b;
	return WM_OK;
}

/* --- series ------------------------------------------------------------ */

struct plan {
	struct wm_req *req;
	char programme[24];
	json_t *b; /* the checked body, then the expansion */
	int duration_s;
	struct recur_instance *inst;
};

static void plan_free(struct plan *p)
{
	json_decref(p->b);
	free(p->inst);
	free(p);
}

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Statement 1 answered: expand the rule in the programme's zone, then
 * write everything with statement 2. */
static void planned(void *arg, const struct wm_db_result *res)
{
	struct plan *p = arg;
	struct wm_req *req = p->req;
	json_t *plan = NULL, *inst = NULL;
	char *b_text = NULL, *inst_text = NULL;
	struct recur_result rr;
	struct recur_error err;
	const char *text = db_result_error(res) == WM_DB_OK && db_result_ntuples(res) > 0
	                       ? db_result_value(res, 0, 0)
	                       : NULL;
	if (!text) {
		api_reply_result(req, res, 201, "core.not_found"); /* the error, or 404 */
		goto done;
	}
	if (!(plan = json_loads(text, 0, NULL)) || !str(plan, "time_zone") ||
	    !str(plan, "dtstart_local")) {
		req_reply_error(req, 500, "core.internal", NULL, "Malformed result.");
		goto done;
	}
	struct recur_spec spec = {.rrule = str(p->b, "rrule"),
	                          .dtstart_local = str(plan, "dtstart_local"),
	                          .tzid = str(plan, "time_zone"),
	                          .duration_s = p->duration_s,
	                          .until_date = str(p->b, "until")};
	if (recur_expand(&spec, p->inst, &rr, &err) != WM_OK) {
		req_reply_error(req, err.status, err.code, err.field, "%s", err.message);
		goto done;
	}
	if (!(inst = json_array()))
		goto oom;
	for (size_t i = 0; i < rr.n; i++) {
		char s[24], e[24];
		struct tm tm;
		gmtime_r(&p->inst[i].start, &tm);
		strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%SZ", &tm);
		gmtime_r(&p->inst[i].end, &tm);
		strftime(e, sizeof e, "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (json_array_append_new(inst, json_pack("{ssss}", "s", s, "e", e)))
			goto oom;
	}
	char until[24];
	struct tm tm;
	gmtime_r(&rr.expanded_until, &tm);
	strftime(until, sizeof until, "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_del(p->b, "start");
	json_object_del(p->b, "until");
	if (json_object_set_new(p->b, "rrule", json_string(rr.rule)) ||
	    json_object_set_new(p->b, "dtstart_local", json_string(spec.dtstart_local)) ||
	    json_object_set_new(p->b, "expanded_until", json_string(until)) ||
	    !(b_text = json_dumps(p->b, JSON_COMPACT)) ||
	    !(inst_text = json_dumps(inst, JSON_COMPACT)))
		goto oom;
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *params[] = {ctx.staff, ctx.addr, ctx.rid,  p->programme,
	                        spec.tzid, b_text,   inst_text};
	/* Parameters are copied before api_exec returns; on failure it replied. */
	wm_status st = api_exec(req, "core.series_create", 7, params, 201, "core.not_found");
	(void)st;
	goto done;
oom:
	oom(req);
done:
	free(b_text);
	free(inst_text);
	json_decref(inst);
	json_decref(plan);
	plan_free(p);
}

static void create_series(struct wm_req *req, void *state)
{
	(void)state;
	static const char *const allowed[] = {
	    "title",         "rrule",         "start",     "duration_minutes",
	    "delivery_mode", "location_kind", "venue_id",  "room_id",
	    "capacity",      "booking_mode",  "cohort_id", "module",
	    "catch_up",      "staff",         "until",     NULL};
	long long id;
	json_t *obj;
	struct plan *p;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &obj) != WM_OK || req_json_only(req, obj, allowed) != WM_OK)
		return;
	if (!(p = calloc(1, sizeof *p)) ||
	    !(p->inst = calloc(RECUR_MAX_INSTANCES, sizeof *p->inst))) {
		free(p);
		oom(req);
		return;
	}
	p->req = req;
	snprintf(p->programme, sizeof p->programme, "%lld", id);
	if (parse_spec(req, obj, 1, &p->b, &p->duration_s) != WM_OK) {
		plan_free(p);
		return;
	}
	recur_init(); /* libical's zone table: warmed on the loop thread */
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *params[] = {ctx.staff, ctx.addr, ctx.rid, p->programme, str(p->b, "start")};
	if (db_exec_prepared(req->srv->pool, "core.series_plan", 5, params, planned, p) != WM_OK) {
		req_reply_error(req, 500, "core.internal", NULL, "Cannot run the query.");
		plan_free(p);
	}
}

/* --- one-off sessions, reading and cancelling series --------------------- */

static void create_session(struct wm_req *req, void *state)
{
	(void)state;
	static const char *const allowed[] = {
	    "title",   "start",    "duration_minutes", "delivery_mode", "location_kind", "venue_id",
	    "room_id", "capacity", "booking_mode",     "cohort_id",     "module",        "catch_up",
	    "staff",   NULL};
	long long id;
	json_t *obj, *b = NULL;
	char ids[24], *text = NULL;
	int duration_s;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &obj) != WM_OK || req_json_only(req, obj, allowed) != WM_OK ||
	    parse_spec(req, obj, 0, &b, &duration_s) != WM_OK)
		return;
	if (!(text = json_dumps(b, JSON_COMPACT))) {
		oom(req);
	} else {
		snprintf(ids, sizeof ids, "%lld", id);
		struct api_ctx ctx;
		api_ctx(req, &ctx);
		const char *p[] = {ctx.staff, ctx.addr, ctx.rid, ids, text};
		wm_status st =
		    api_exec(req, "core.series_session_create", 5, p, 201, "core.not_found");
		(void)st; /* replied on failure */
	}
	free(text);
	json_decref(b);
}

static void get_series(struct wm_req *req, void *state)
{
	(void)state;
	api_exec_by_id(req, no_query, "core.series_get", 200);
}

static void cancel_series(struct wm_req *req, void *state)
{
	(void)state;
	static const char *const allowed[] = {"from", "reason", "force", NULL};
	long long id;
	json_t *obj;
	char ids[24];
	const char *from = NULL, *reason = NULL;
	int force = 0;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &obj) != WM_OK || req_json_only(req, obj, allowed) != WM_OK ||
	    api_date(req, obj, "from", 1, 0, &from) != WM_OK ||
	    api_text(req, obj, "reason", 500, 1, &reason) != WM_OK ||
	    req_json_bool(req, obj, "force", 0, &force) != WM_OK)
		return;
	snprintf(ids, sizeof ids, "%lld", id);
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *p[] = {
	    ctx.staff, ctx.addr, ctx.rid, ids, from, reason, force ? "true" : "false"};
	if (api_exec(req, "core.series_cancel", 7, p, 200, "core.not_found") != WM_OK)
		return;
}

/* --- registration ----------------------------------------------------- */

wm_status api_series_register(struct server *srv)
{
	static const struct wm_route_doc series_doc = {
	    "Lay out a recurring series: rrule (RFC 5545, FREQ DAILY or coarser) from a local "
	    "start in the programme's zone, at most 500 sessions within two years; closures "
	    "skip or flag instances; staff and room clashes are refused (409)",
	    series_req_schema, series_created_schema, 201};
	static const struct wm_route_doc session_doc = {
	    "Add one session to a programme (start local in the programme's zone, or RFC 3339)",
	    session_req_schema, session_schema, 201};
	static const struct wm_route_doc get_doc = {
	    "A series: its rule, cancelled instances (exdates) and changed ones (overrides)", NULL,
	    series_schema, 200};
	static const struct wm_route_doc cancel_doc = {
	    "Cancel a series' scheduled sessions on and after a local date; refused if any has "
	    "attendance recorded (409 core.has_attendance) or has started without \"force\": true "
	    "(422 core.already_started, field from)",
	    cancel_req_schema, cancelled_schema, 200};

	if (api_prepare(srv, "series_plan", sql_plan, 5) != WM_OK ||
	    api_prepare(srv, "series_create", sql_create_series, 7) != WM_OK ||
	    api_prepare(srv, "series_session_create", sql_create_session, 5) != WM_OK ||
	    api_prepare(srv, "series_get", sql_get, 4) != WM_OK ||
	    api_prepare(srv, "series_cancel", sql_cancel, 7) != WM_OK)
		return WM_ERR;
	if (api_route(srv, WM_POST, "/api/v1/programmes/{id}/series", create_series, &series_doc,
	              MANAGERS) != WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/programmes/{id}/sessions", create_session,
	              &session_doc, MANAGERS) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/series/{id}", get_series, &get_doc, READERS) != WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/series/{id}/cancel", cancel_series, &cancel_doc,
	              MANAGERS) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
