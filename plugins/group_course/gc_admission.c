/*
 * gc_admission.c — eligibility rules, admissions and the waiting list
 * (SQL in migrations/0002_admission.sql):
 *
 *   PUT  /api/v1/group_course/courses/{id}/eligibility   (A C) → 200 new version
 *   GET  /api/v1/group_course/courses/{id}/eligibility   (A C) → 200 current + versions
 *   POST /api/v1/group_course/cohorts/{id}/admissions    (A C) → 201 admission
 *   GET  /api/v1/group_course/cohorts/{id}/admissions    (A C) → 200 list
 *   GET  /api/v1/group_course/courses/{id}/waitlist      (A C) → 200 FIFO list
 *   POST /api/v1/group_course/cohorts/{id}/admit-waitlist (A C) → 200 admissions
 *
 * An admission is two statements around one C call: the facts (the
 * current rule, the course's prerequisites, the person's facts, consent
 * and completed courses) are read, gc_eligibility_evaluate decides — the
 * same pure function as the booking_check hook — and the second statement
 * stores the decision with its rule version and acts on it (enrol through
 * the core, waitlist, or refuse). The second statement refuses (409
 * group_course.stale) if the rule changed in between. Out of scope (not a
 * course, another organisation, a role without 'manage'): 404
 * core.not_found.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc.h"
#include "gc_rules.h"

#define MAX_ID        (1LL << 53)
#define WAITLIST_MAX  200
#define LIST_DEFAULT  100
#define LIST_MAX      200
#define RULE_NOTE_MAX 500

/* Changes: $1 staff, $2 peer address, $3 request id (for the audit rows),
 * then the route's own parameters; reads: $1 staff, then the route's own.
 * Scope is decided inside each function. */
static const char sql_elig_put[] = "SELECT group_course.eligibility_put($1::bigint, $2::inet, $3,"
                                   " $4::bigint, $5::jsonb, $6::integer, $7)::text";
static const char sql_elig_get[] =
    "SELECT group_course.eligibility_get($1::bigint, $2::bigint)::text";
static const char sql_adm_facts[] =
    "SELECT group_course.admission_facts($1::bigint, $2::bigint, $3::bigint)::text";
static const char sql_adm_record[] = "SELECT group_course.admission_record($1::bigint, $2::inet,"
                                     " $3, $4::bigint, $5::bigint, $6::bigint, $7::jsonb)::text";
static const char sql_adm_list[] =
    "SELECT group_course.admission_list($1::bigint, $2::bigint, $3::integer, $4::bigint)::text";
static const char sql_wait_get[] = "SELECT group_course.waitlist_get($1::bigint, $2::bigint)::text";
static const char sql_wait_facts[] =
    "SELECT group_course.waitlist_facts($1::bigint, $2::bigint, $3::integer)::text";
static const char sql_wait_admit[] = "SELECT group_course.waitlist_admit($1::bigint, $2::inet,"
                                     " $3, $4::bigint, $5::bigint, $6::jsonb)::text";

wm_status gc_admission_prepare(struct gc_state *st)
{
	const struct wm_core *c = st->core;
	struct wm_host *h = st->host;
	if (c->db_prepare(h, "adm_elig_put", sql_elig_put, 7) != WM_OK ||
	    c->db_prepare(h, "adm_elig_get", sql_elig_get, 2) != WM_OK ||
	    c->db_prepare(h, "adm_facts", sql_adm_facts, 3) != WM_OK ||
	    c->db_prepare(h, "adm_record", sql_adm_record, 7) != WM_OK ||
	    c->db_prepare(h, "adm_list", sql_adm_list, 4) != WM_OK ||
	    c->db_prepare(h, "adm_wait_get", sql_wait_get, 2) != WM_OK ||
	    c->db_prepare(h, "adm_wait_facts", sql_wait_facts, 3) != WM_OK ||
	    c->db_prepare(h, "adm_wait_admit", sql_wait_admit, 6) != WM_OK)
		return WM_ERR;
	return WM_OK;
}

/* --- request plumbing ---------------------------------------------------------- */

/* What a request keeps while its statements run; freed by the last callback. */
struct call {
	struct gc_state *st;
	struct wm_req *req;
	int status; /* success status */
	char staff[24], id[24], arg[24];
};

static int parse_id(const char *s, long long max, long long *out)
{
	if (!s || !*s || strlen(s) > 16 || strspn(s, "0123456789") != strlen(s))
		return -1;
	long long v = strtoll(s, NULL, 10);
	if (v < 1 || v > max)
		return -1;
	*out = v;
	return 0;
}

static void not_found(struct gc_state *st, struct wm_req *req, const char *what)
{
	st->core->reply_error(req, 404, "core.not_found", NULL, "No such %s.", what);
}

/* A new call for `req` with the path id checked (404 otherwise, and NULL). */
static struct call *call_new(struct gc_state *st, struct wm_req *req, const char *what, int status)
{
	long long id;
	if (parse_id(st->core->req_param(req, "id"), MAX_ID, &id) != 0) {
		not_found(st, req, what);
		return NULL;
	}
	struct call *c = calloc(1, sizeof *c);
	if (!c) {
		st->core->reply_error(req, 500, "group_course.internal", NULL, "Out of memory.");
		return NULL;
	}
	const struct wm_caller *who = st->core->req_caller(req);
	c->st = st;
	c->req = req;
	c->status = status;
	snprintf(c->staff, sizeof c->staff, "%lld", who ? (long long)who->staff_id : 0LL);
	snprintf(c->id, sizeof c->id, "%lld", id);
	return c;
}

/* Runs statement `name` with ($1 staff, [$2 addr, $3 request id when
 * `change`], extra...). */
static void run(struct call *c, const char *name, int change, int nextra, const char *const *extra,
                wm_db_fn cb)
{
	const struct wm_core *core = c->st->core;
	const char *p[8] = {c->staff};
	int n = 1;
	if (change) {
		p[n++] = core->req_remote_addr(c->req);
		p[n++] = core->req_id(c->req);
	}
	for (int i = 0; i < nextra && n < 8; i++)
		p[n++] = extra[i];
	if (core->db_exec_prepared(c->st->host, name, n, p, cb, c) != WM_OK) {
		core->reply_error(c->req, 500, "group_course.internal", NULL,
		                  "The query could not be started.");
		free(c);
	}
}

/* The one JSON value a statement returned, or NULL (error replied, or 404
 * replied for SQL NULL). */
static json_t *result_json(struct call *c, const struct wm_db_result *res, const char *what)
{
	const struct wm_core *core = c->st->core;
	if (core->db_error(res) != WM_DB_OK) {
		core->reply_db_error(c->req, res);
		return NULL;
	}
	const char *text = core->db_ntuples(res) > 0 ? core->db_value(res, 0, 0) : NULL;
	if (!text) {
		not_found(c->st, c->req, what);
		return NULL;
	}
	json_t *j = json_loads(text, 0, NULL);
	if (!j)
		core->reply_error(c->req, 500, "group_course.internal", NULL,
		                  "The database answer could not be read.");
	return j;
}

/* Replies the statement's JSON with the call's success status. */
static void reply_done(void *arg, const struct wm_db_result *res, const char *what)
{
	struct call *c = arg;
	json_t *j = result_json(c, res, what);
	if (j)
		c->st->core->reply_json(c->req, c->status, j);
	free(c);
}

static void replied_course(void *arg, const struct wm_db_result *res)
{
	reply_done(arg, res, "course");
}

static void replied_cohort(void *arg, const struct wm_db_result *res)
{
	reply_done(arg, res, "cohort");
}

static int no_query(struct gc_state *st, struct wm_req *req)
{
	static const char *const none[] = {NULL};
	return st->core->req_query_only(req, none) == WM_OK;
}

/* --- eligibility rules ------------------------------------------------------------ */

static void elig_put(struct wm_req *req, void *state)
{
	struct gc_state *st = state;
	const struct wm_core *core = st->core;
	static const char *const allowed[] = {"rules", "version", "note", NULL};
	json_t *body;
	const char *note = NULL;
	long long version = -1;
	struct wm_hook_error err = {0};
	if (!no_query(st, req) || core->req_json(req, &body) != WM_OK ||
	    core->json_only(req, body, allowed) != WM_OK ||
	    core->json_int(req, body, "version", 0, 1000000, 0, &version) != WM_OK ||
	    core->json_string(req, body, "note", RULE_NOTE_MAX, 0, &note) != WM_OK)
		return;
	json_t *rules = json_object_get(body, "rules");
	if (!rules) {
		core->reply_error(req, 400, "core.missing_field", "rules", "rules is required.");
		return;
	}
	if (gc_eligibility_check(rules, "rules", 0, &err) != WM_OK) {
		core->reply_error(req, err.status, err.code, err.field, "%s", err.message);
		return;
	}
	struct call *c = call_new(st, req, "course", 200);
	if (!c)
		return;
	char *text = json_dumps(rules, JSON_COMPACT);
	char vbuf[24];
	snprintf(vbuf, sizeof vbuf, "%lld", version);
	const char *p[] = {c->id, text, version >= 0 ? vbuf : NULL, note};
	if (!text) {
		core->reply_error(req, 500, "group_course.internal", NULL, "Out of memory.");
		free(c);
		return;
	}
	run(c, "adm_elig_put", 1, 4, p, replied_course);
	free(text);
}

static void elig_get(struct wm_req *req, void *state)
{
	struct gc_state *st = state;
	if (!no_query(st, req))
		return;
	struct call *c = call_new(st, req, "course", 200);
	if (c) {
		const char *p[] = {c->id};
		run(c, "adm_elig_get", 0, 1, p, replied_course);
	}
}

/* --- admissions ------------------------------------------------------------------- */

/* Evaluates one person's facts under the rule and prerequisites of
 * `basis` (an admission_facts / waitlist_facts answer). */
static json_t *evaluate(const json_t *basis, const json_t *facts)
{
	const json_t *rule = json_object_get(basis, "rule");
	return gc_eligibility_evaluate(json_object_get(rule, "rules"),
	                               json_object_get(basis, "prerequisites"), facts);
}

/* The rule id of `basis` as a statement parameter (NULL: no rule). */
static const char *rule_id(const json_t *basis, char buf[24])
{
	const json_t *id = json_object_get(json_object_get(basis, "rule"), "id");
	if (!json_is_integer(id))
		return NULL;
	snprintf(buf, 24, "%lld", (long long)json_integer_value(id));
	return buf;
}

static void admitted(void *arg, const struct wm_db_result *res)
{
	reply_done(arg, res, "cohort");
}

static void admission_facts(void *arg, const struct wm_db_result *res)
{
	struct call *c = arg;
	json_t *basis = result_json(c, res, "cohort");
	if (!basis) {
		free(c);
		return;
	}
	json_t *eval = evaluate(basis, json_object_get(basis, "facts"));
	char *text = eval ? json_dumps(eval, JSON_COMPACT) : NULL;
	char rbuf[24];
	const char *p[] = {c->id, c->arg, rule_id(basis, rbuf), text};
	if (!text) {
		c->st->core->reply_error(c->req, 500, "group_course.internal", NULL,
		                         "Out of memory.");
		free(c);
	} else {
		run(c, "adm_record", 1, 4, p, admitted);
	}
	free(text);
	json_decref(eval);
	json_decref(basis);
}

static void admission_create(struct wm_req *req, void *state)
{
	struct gc_state *st = state;
	const struct wm_core *core = st->core;
	static const char *const allowed[] = {"referral_id", NULL};
	json_t *body;
	long long referral;
	if (!no_query(st, req) || core->req_json(req, &body) != WM_OK ||
	    core->json_only(req, body, allowed) != WM_OK ||
	    core->json_int(req, body, "referral_id", 1, MAX_ID, 1, &referral) != WM_OK)
		return;
	struct call *c = call_new(st, req, "cohort", 201);
	if (!c)
		return;
	snprintf(c->arg, sizeof c->arg, "%lld", referral);
	const char *p[] = {c->id, c->arg};
	run(c, "adm_facts", 0, 2, p, admission_facts);
}

static void admission_list(struct wm_req *req, void *state)
{
	struct gc_state *st = state;
	const struct wm_core *core = st->core;
	static const char *const known[] = {"limit", "cursor", NULL};
	if (core->req_query_only(req, known) != WM_OK)
		return;
	const char *limit = core->req_query(req, "limit"), *cursor = core->req_query(req, "cursor");
	long long l = LIST_DEFAULT, cur = 0;
	if (limit && parse_id(limit, LIST_MAX, &l) != 0) {
		core->reply_error(req, 400, "core.bad_query", "limit",
		                  "limit must be an integer from 1 to %d.", LIST_MAX);
		return;
	}
	if (cursor && parse_id(cursor, MAX_ID, &cur) != 0) {
		core->reply_error(req, 400, "core.bad_query", "cursor",
		                  "cursor must be a next_cursor value from a previous page.");
		return;
	}
	struct call *c = call_new(st, req, "cohort", 200);
	if (!c)
		return;
	char lbuf[24], cbuf[24];
	snprintf(lbuf, sizeof lbuf, "%lld", l);
	snprintf(cbuf, sizeof cbuf, "%lld", cur);
	const char *p[] = {c->id, lbuf, cursor ? cbuf : NULL};
	run(c, "adm_list", 0, 3, p, replied_cohort);
}

/* --- the waiting list ---------------------------------------------------------------- */

static void waitlist_get(struct wm_req *req, void *state)
{
	struct gc_state *st = state;
	if (!no_query(st, req))
		return;
	struct call *c = call_new(st, req, "course", 200);
	if (c) {
		const char *p[] = {c->id};
		run(c, "adm_wait_get", 0, 1, p, replied_course);
	}
}

static void waitlist_facts(void *arg, const struct wm_db_result *res)
{
	struct call *c = arg;
	json_t *basis = result_json(c, res, "cohort");
	if (!basis) {
		free(c);
		return;
	}
	json_t *items = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(basis, "entries"), i, e)
	{
		json_t *eval = evaluate(basis, json_object_get(e, "facts"));
		json_array_append_new(items, json_pack("{s:O, s:o}", "waitlist_id",
		                                       json_object_get(e, "waitlist_id"),
		                                       "evaluation", eval ? eval : json_null()));
	}
	char *text = json_dumps(items, JSON_COMPACT);
	char rbuf[24];
	const char *p[] = {c->id, rule_id(basis, rbuf), text};
	if (!text) {
		c->st->core->reply_error(c->req, 500, "group_course.internal", NULL,
		                         "Out of memory.");
		free(c);
	} else {
		run(c, "adm_wait_admit", 1, 3, p, replied_cohort);
	}
	free(text);
	json_decref(items);
	json_decref(basis);
}

static void waitlist_admit(struct wm_req *req, void *state)
{
	struct gc_state *st = state;
	const struct wm_core *core = st->core;
	static const char *const allowed[] = {"limit", NULL};
	json_t *body;
	long long limit = WAITLIST_MAX;
	if (!no_query(st, req) || core->req_json(req, &body) != WM_OK ||
	    core->json_only(req, body, allowed) != WM_OK ||
	    core->json_int(req, body, "limit", 1, WAITLIST_MAX, 0, &limit) != WM_OK)
		return;
	struct call *c = call_new(st, req, "cohort", 200);
	if (!c)
		return;
	snprintf(c->arg, sizeof c->arg, "%lld", limit);
	const char *p[] = {c->id, c->arg};
	run(c, "adm_wait_facts", 0, 2, p, waitlist_facts);
}

/* --- routes --------------------------------------------------------------------------- */

#define RULES_SCHEMA                                                                               \
	"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"                     \
	"\"release_within_months\":{\"type\":[\"integer\",\"null\"],\"minimum\":1,"                \
	"\"maximum\":120},"                                                                        \
	"\"release_warning_months\":{\"type\":[\"integer\",\"null\"],\"minimum\":0,"               \
	"\"maximum\":24},"                                                                         \
	"\"areas\":{\"type\":[\"array\",\"null\"],\"minItems\":1,\"maxItems\":50,"                 \
	"\"items\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":100}},"                      \
	"\"min_age\":{\"type\":[\"integer\",\"null\"],\"minimum\":0,\"maximum\":120},"             \
	"\"custody_statuses\":{\"type\":[\"array\",\"null\"],\"minItems\":1,\"items\":{\"enum\":"  \
	"[\"in_custody\",\"remand\",\"on_licence\",\"community_sentence\",\"released\","           \
	"\"not_applicable\",\"unknown\"]}},"                                                       \
	"\"consent_required\":{\"type\":[\"boolean\",\"null\"]}}}"

#define RULE_SCHEMA                                                                                \
	"{\"type\":\"object\",\"required\":[\"id\",\"programme_id\",\"version\",\"rules\","        \
	"\"created_at\",\"label\"],\"properties\":{\"id\":{\"type\":\"integer\"},"                 \
	"\"programme_id\":{\"type\":\"integer\"},\"version\":{\"type\":\"integer\",\"minimum\":1}" \
	","                                                                                        \
	"\"rules\":" RULES_SCHEMA ",\"note\":{\"type\":[\"string\",\"null\"]},"                    \
	"\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"},"                           \
	"\"created_by\":{\"type\":[\"integer\",\"null\"]},\"label\":{\"type\":\"string\"}}}"

#define MESSAGES_SCHEMA                                                                            \
	"{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"code\",\"message\"],"  \
	"\"properties\":{\"code\":{\"type\":\"string\"},\"message\":{\"type\":\"string\"}}}}"

#define ADMISSION_SCHEMA                                                                           \
	"{\"type\":\"object\",\"required\":[\"id\",\"referral_id\",\"cohort_id\",\"person_id\","   \
	"\"result\",\"reasons\",\"warnings\",\"outcome\",\"decided_at\"],\"properties\":{"         \
	"\"id\":{\"type\":\"integer\"},\"referral_id\":{\"type\":\"integer\"},"                    \
	"\"cohort_id\":{\"type\":\"integer\"},\"programme_id\":{\"type\":\"integer\"},"            \
	"\"person_id\":{\"type\":\"integer\"},\"rule_version\":{\"type\":[\"integer\",\"null\"]}," \
	"\"rule_label\":{\"type\":\"string\"},"                                                    \
	"\"result\":{\"enum\":[\"eligible\",\"ineligible\"]},"                                     \
	"\"reasons\":" MESSAGES_SCHEMA ",\"warnings\":" MESSAGES_SCHEMA ","                        \
	"\"outcome\":{\"enum\":[\"enrolled\",\"waitlisted\",\"refused\"]},"                        \
	"\"enrolment_id\":{\"type\":[\"integer\",\"null\"]},"                                      \
	"\"via\":{\"enum\":[\"referral\",\"waitlist\"]},"                                          \
	"\"decided_at\":{\"type\":\"string\",\"format\":\"date-time\"},"                           \
	"\"decided_by\":{\"type\":[\"integer\",\"null\"]},"                                        \
	"\"waitlist_position\":{\"type\":[\"integer\",\"null\"]}}}"

wm_status gc_admission_routes(struct gc_state *st)
{
	const struct wm_core *core = st->core;
	const unsigned ac = WM_ROLE_ADMIN | WM_ROLE_COORDINATOR;
	static const struct wm_route_doc put_doc = {
	    .summary = "Sets a course's eligibility rule: a new version (earlier admissions keep "
	               "theirs); mirrored into settings.eligibility; optional version = the "
	               "current version (0: none) or 409 group_course.stale",
	    .request_schema =
	        "{\"type\":\"object\",\"required\":[\"rules\"],"
	        "\"additionalProperties\":false,\"properties\":{\"rules\":" RULES_SCHEMA
	        ",\"version\":{\"type\":\"integer\",\"minimum\":0},"
	        "\"note\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":500}}}",
	    .response_schema = RULE_SCHEMA,
	    .success_status = 200,
	};
	static const struct wm_route_doc get_doc = {
	    .summary = "A course's current eligibility rule and every version, newest first",
	    .response_schema =
	        "{\"type\":\"object\",\"required\":[\"programme_id\",\"current\","
	        "\"versions\"],\"properties\":{\"programme_id\":{\"type\":"
	        "\"integer\"},\"current\":{\"oneOf\":[{\"type\":\"null\"}," RULE_SCHEMA
	        "]},\"versions\":{\"type\":\"array\",\"items\":" RULE_SCHEMA "}}}",
	    .success_status = 200,
	};
	static const struct wm_route_doc admit_doc = {
	    .summary = "Admits an assessed referral into the cohort: checks the current "
	               "eligibility rule (release, area, age, custody, consent, prerequisites) "
	               "and stores the result, reasons, warnings and rule version; enrols when "
	               "eligible and there is room, else waitlists for the course; refused when "
	               "not eligible (still 201: the decision is recorded)",
	    .request_schema = "{\"type\":\"object\",\"required\":[\"referral_id\"],"
	                      "\"additionalProperties\":false,\"properties\":{\"referral_id\":"
	                      "{\"type\":\"integer\",\"minimum\":1}}}",
	    .response_schema = ADMISSION_SCHEMA,
	    .success_status = 201,
	};
	static const struct wm_route_doc list_doc = {
	    .summary = "The cohort's admission decisions, newest first: ?limit (1-200, default "
	               "100) &cursor=<next_cursor>",
	    .response_schema = "{\"type\":\"object\",\"required\":[\"items\",\"next_cursor\"],"
	                       "\"properties\":{\"items\":{\"type\":\"array\",\"items\":"
	                       "" ADMISSION_SCHEMA "},\"next_cursor\":{\"type\":[\"string\","
	                       "\"null\"]}}}",
	    .success_status = 200,
	};
	static const struct wm_route_doc wait_doc = {
	    .summary = "The course's waiting list, in the order places will be offered",
	    .response_schema =
	        "{\"type\":\"object\",\"required\":[\"programme_id\",\"items\"],\"properties\":{"
	        "\"programme_id\":{\"type\":\"integer\"},\"items\":{\"type\":\"array\",\"items\":"
	        "{\"type\":\"object\",\"required\":[\"position\",\"id\",\"referral_id\","
	        "\"person_id\",\"added_at\"],\"properties\":{\"position\":{\"type\":\"integer\"},"
	        "\"id\":{\"type\":\"integer\"},\"referral_id\":{\"type\":\"integer\"},"
	        "\"person_id\":{\"type\":\"integer\"},\"admission_id\":{\"type\":\"integer\"},"
	        "\"added_at\":{\"type\":\"string\",\"format\":\"date-time\"}}}}}}",
	    .success_status = 200,
	};
	static const struct wm_route_doc admit_wait_doc = {
	    .summary = "Admits the course's waiting list into this cohort, first come first "
	               "served, each re-checked under the current rule (a new admission): "
	               "enrolled while there is room, taken off the list when no longer eligible",
	    .request_schema = "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":"
	                      "{\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":200}}}",
	    .response_schema = "{\"type\":\"object\",\"required\":[\"cohort_id\",\"admissions\","
	                       "\"still_waiting\"],\"properties\":{\"cohort_id\":{\"type\":"
	                       "\"integer\"},\"admissions\":{\"type\":\"array\",\"items\":"
	                       "" ADMISSION_SCHEMA "},\"still_waiting\":{\"type\":\"integer\"}}}",
	    .success_status = 200,
	};
	struct {
		unsigned method;
		const char *path;
		wm_handler_fn fn;
		const struct wm_route_doc *doc;
	} routes[] = {
	    {WM_PUT, "/api/v1/group_course/courses/{id}/eligibility", elig_put, &put_doc},
	    {WM_GET, "/api/v1/group_course/courses/{id}/eligibility", elig_get, &get_doc},
	    {WM_POST, "/api/v1/group_course/cohorts/{id}/admissions", admission_create, &admit_doc},
	    {WM_GET, "/api/v1/group_course/cohorts/{id}/admissions", admission_list, &list_doc},
	    {WM_GET, "/api/v1/group_course/courses/{id}/waitlist", waitlist_get, &wait_doc},
	    {WM_POST, "/api/v1/group_course/cohorts/{id}/admit-waitlist", waitlist_admit,
	     &admit_wait_doc},
	};
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
		if (core->route_add_access(st->host, routes[i].method, routes[i].path, routes[i].fn,
		                           routes[i].doc, ac) != WM_OK)
			return WM_ERR;
	return WM_OK;
}
