/*
 * api_register_att — attendance registers and completion.
 *
 *   GET /api/v1/sessions/{id}/register          who is expected or booked, with attendance
 *   PUT /api/v1/sessions/{id}/register          record or correct a whole register at once
 *   GET /api/v1/sessions/{id}/register/history  the rows corrections replaced
 *   GET /api/v1/enrolments/{id}/completion      the decision, its history, live counts
 *
 * Admins and coordinators of the session's organisation reach every
 * register; facilitators (and, to read, mentors) only those of sessions
 * they staff; anyone else is told the session does not exist.
 *
 * PUT is two statements with the plugin's hooks between them, because hooks
 * run in C and never touch the database: core.register_put writes every
 * entry (all or nothing, corrections into history, audited) and returns the
 * facts of each affected enrolment; completion_decide asks the programme's
 * plugin (or applies the core's rule); core.register_outcomes stores the
 * alerts and completions. The attendance stands even if the second
 * statement fails: the reply then says so (completions null) and the next
 * register or correction re-evaluates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "completion.h"
#include "db.h"
#include "log.h"
#include "req.h"
#include "server.h"

#define MANAGERS (WM_ROLE_ADMIN | WM_ROLE_COORDINATOR)
#define RUNNERS  (MANAGERS | WM_ROLE_FACILITATOR | WM_ROLE_MENTOR)

#define MAX_ENTRIES 200

/* --- statements ------------------------------------------------------- */

static const char sql_get[] =
    "SELECT core.register_get($1::bigint, $2::inet, $3::text, $4::bigint)";
static const char sql_put[] =
    "SELECT core.register_put($1::bigint, $2::inet, $3::text, $4::bigint, $5::jsonb)";
static const char sql_outcomes[] =
    "SELECT core.register_outcomes($1::bigint, $2::inet, $3::text, $4::bigint, $5::jsonb)";
static const char sql_history[] =
    "SELECT core.register_history($1::bigint, $2::inet, $3::text, $4::bigint, $5::bigint, "
    "$6::bigint, $7::integer)";
static const char sql_completion[] =
    "SELECT core.completion_get($1::bigint, $2::inet, $3::text, $4::bigint)";

/* --- docs ------------------------------------------------------------- */

#define ID       "{\"type\": \"integer\", \"minimum\": 1}"
#define NULL_ID  "{\"type\": [\"integer\", \"null\"], \"minimum\": 1}"
#define INSTANT  "{\"type\": \"string\", \"format\": \"date-time\"}"
#define NINSTANT "{\"type\": [\"string\", \"null\"], \"format\": \"date-time\"}"
#define NTEXT(n) "{\"type\": [\"string\", \"null\"], \"minLength\": 1, \"maxLength\": " #n "}"
#define CODE     "{\"type\": \"string\", \"pattern\": \"^[a-z][a-z0-9_]{0,39}$\"}"
#define REASON_CLASS                                                                               \
	"{\"enum\": [\"acceptable\", \"unacceptable\", \"service_cancelled\", \"logistics\", "     \
	"null]}"
#define RESULT_ENUM "[\"in_progress\", \"completed\", \"not_completed\", \"withdrawn\"]"
#define LATE        "{\"type\": [\"integer\", \"null\"], \"minimum\": 1, \"maximum\": 1440}"

#define ATTENDANCE                                                                                 \
	"{\"type\": [\"object\", \"null\"], \"properties\": {\"outcome\": " CODE                   \
	", \"label\": {\"type\": \"string\"}, \"attended\": {\"type\": \"boolean\"}, "             \
	"\"compliant\": {\"type\": \"boolean\"}, \"reason_class\": " REASON_CLASS                  \
	", \"late_minutes\": " LATE                                                                \
	", \"late_reason\": " NTEXT(500) ", \"note\": " NTEXT(1000) ", \"recorded_by\": " NULL_ID  \
	                                                            ", \"recorded_at\": " INSTANT  \
	                                                            ", \"version\": " ID "}}"

#define REGISTER_PROPS                                                                             \
	"\"session_id\": " ID ", \"session\": {\"type\": \"object\", \"properties\": {\"id\": " ID \
	", \"programme_id\": " ID ", \"cohort_id\": " NULL_ID ", \"title\": {\"type\": "           \
	"\"string\"}, \"starts_at\": " INSTANT ", \"ends_at\": " INSTANT ", \"status\": "          \
	"{\"enum\": [\"scheduled\", \"cancelled\"]}, \"started\": {\"type\": \"boolean\"}}}, "     \
	"\"entries\": {\"type\": \"array\", \"items\": {\"type\": \"object\", \"properties\": {"   \
	"\"person_id\": " ID ", \"name\": {\"type\": [\"object\", \"null\"]}, \"expected\": "      \
	"{\"type\": \"boolean\"}, \"source\": {\"enum\": [\"enrolment\", \"booking\", null]}, "    \
	"\"enrolment_id\": " NULL_ID ", \"attendance\": " ATTENDANCE "}}}"

static const char register_schema[] =
    "{\"type\": \"object\", \"properties\": {" REGISTER_PROPS "}}";

#define DECISION_PROPS                                                                             \
	"\"result\": {\"enum\": " RESULT_ENUM "}, \"rule_version\": " NTEXT(                       \
	    100) ", \"reason\": " NTEXT(500) ", \"decided_at\": " NINSTANT

static const char put_reply_schema[] =
    "{\"type\": \"object\", \"properties\": {" REGISTER_PROPS
    ", \"completions\": {\"type\": [\"array\", \"null\"], \"items\": {\"type\": \"object\", "
    "\"properties\": {\"enrolment_id\": " ID ", \"person_id\": " ID ", " DECISION_PROPS
    ", \"changed\": {\"type\": \"boolean\"}}}}, \"alerts\": {\"type\": [\"array\", \"null\"], "
    "\"items\": {\"type\": \"object\", \"properties\": {\"id\": " ID ", \"kind\": {\"type\": "
    "\"string\"}, \"enrolment_id\": " ID ", \"person_id\": " ID "}}}}}";

static const char put_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"entries\"], "
    "\"properties\": {\"entries\": {\"type\": \"array\", \"minItems\": 1, \"maxItems\": 200, "
    "\"items\": {\"type\": \"object\", \"additionalProperties\": false, "
    "\"required\": [\"person_id\", \"outcome\"], \"properties\": {\"person_id\": " ID
    ", \"outcome\": " CODE ", \"late_minutes\": " LATE
    ", \"late_reason\": " NTEXT(500) ", \"note\": " NTEXT(1000) ", \"version\": " NULL_ID "}}}}}";

static const char history_schema[] =
    "{\"type\": \"object\", \"properties\": {\"session_id\": " ID
    ", \"items\": {\"type\": \"array\", \"items\": {\"type\": \"object\", \"properties\": {"
    "\"id\": " ID ", \"person_id\": " ID ", \"outcome\": " CODE ", \"late_minutes\": " LATE
    ", \"late_reason\": " NTEXT(500) ", \"note\": " NTEXT(
        1000) ", \"recorded_by\": " NULL_ID ", \"recorded_at\": " INSTANT ", \"version\": " ID
              ", \"superseded_at\": " INSTANT ", \"superseded_by\": " NULL_ID
              "}}}, \"next_cursor\": {\"type\": [\"string\", "
              "\"null\"]}}}";

static const char completion_schema[] =
    "{\"type\": \"object\", \"properties\": {\"enrolment_id\": " ID ", \"person_id\": " ID
    ", \"cohort_id\": " ID ", \"programme_id\": " ID ", \"type\": {\"type\": \"string\"}, "
    "\"status\": {\"enum\": [\"enrolled\", \"on_hold\", \"left\"]}, " DECISION_PROPS
    ", \"detail\": {\"type\": \"object\"}, \"attendance\": {\"type\": \"object\", "
    "\"properties\": {\"sessions\": {\"type\": \"integer\"}, \"expected\": {\"type\": "
    "\"integer\"}, \"attended\": {\"type\": \"integer\"}, \"absent\": {\"type\": "
    "\"integer\"}, \"unrecorded\": {\"type\": \"integer\"}, \"not_expected\": {\"type\": "
    "\"integer\"}}}, \"history\": {\"type\": \"array\", \"items\": {\"type\": \"object\", "
    "\"properties\": {" DECISION_PROPS "}}}}}";

/* --- input ------------------------------------------------------------ */

static const char *const no_query[] = {NULL};

static int code_ok(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= 40 && s[0] >= 'a' && s[0] <= 'z' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static int given(const json_t *obj, const char *field)
{
	json_t *v = json_object_get(obj, field);
	return v && !json_is_null(v);
}

/* A one-member object {"entries[i].<name>": value}, so the shared checks
 * name the field as the client wrote it. */
static json_t *member(const json_t *ent, size_t i, const char *name, char key[64])
{
	json_t *o = json_object(), *v = json_object_get(ent, name);
	snprintf(key, 64, "entries[%zu].%s", i, name);
	if (o && v && json_object_set(o, key, v)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Checks entry i's shape (the database checks the rest: seats, codes,
 * versions). On WM_ERR the reply has been sent. */
static wm_status check_entry(struct wm_req *req, const json_t *ent, size_t i, long long *person)
{
	static const char *const allowed[] = {
	    "person_id", "outcome", "late_minutes", "late_reason", "note", "version", NULL};
	char key[96];
	const char *name, *s = NULL;
	json_t *v, *o = NULL;
	long long n = 0;
	wm_status st = WM_ERR;
	if (!json_is_object(ent)) {
		req_reply_error(req, 400, "core.wrong_type", NULL,
		                "entries[%zu] must be an object.", i);
		return WM_ERR;
	}
	json_object_foreach((json_t *)ent, name, v)
	{
		size_t k = 0;
		while (allowed[k] && strcmp(allowed[k], name))
			k++;
		if (!allowed[k]) {
			snprintf(key, sizeof key, "entries[%zu].%.40s", i, name);
			req_reply_error(req, 400, "core.unknown_field", key,
			                "%s is not a field of a register entry.", key);
			return WM_ERR;
		}
	}
	if (!(o = member(ent, i, "person_id", key)) ||
	    req_json_int(req, o, key, 1, 999999999999999999LL, 1, person) != WM_OK)
		goto done;
	json_decref(o);
	if (!(o = member(ent, i, "outcome", key)) ||
	    req_json_string(req, o, key, 40, 1, &s) != WM_OK)
		goto done;
	if (!code_ok(s)) {
		req_reply_error(req, 400, "core.bad_enum", key,
		                "%s must be an outcome code (GET /api/v1/outcome-codes).", key);
		goto done;
	}
	json_decref(o);
	if (!(o = member(ent, i, "late_minutes", key)) ||
	    (given(ent, "late_minutes") && req_json_int(req, o, key, 1, 1440, 1, &n) != WM_OK))
		goto done;
	json_decref(o);
	if (!(o = member(ent, i, "late_reason", key)) || api_text(req, o, key, 500, 0, &s) != WM_OK)
		goto done;
	if (given(ent, "late_reason") && !given(ent, "late_minutes")) {
		req_reply_error(req, 422, "core.late_reason_without_minutes", key,
		                "%s needs late_minutes in the same entry.", key);
		goto done;
	}
	json_decref(o);
	if (!(o = member(ent, i, "note", key)) || api_text(req, o, key, 1000, 0, &s) != WM_OK)
		goto done;
	json_decref(o);
	if (!(o = member(ent, i, "version", key)) ||
	    (given(ent, "version") && req_json_int(req, o, key, 1, 2147483647LL, 1, &n) != WM_OK))
		goto done;
	st = WM_OK;
done:
	if (!o)
		req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
	json_decref(o);
	return st;
}

/* The body's entries, checked: 1..200 well-formed entries, each person
 * once. NULL after a reply. */
static json_t *checked_entries(struct wm_req *req)
{
	static const char *const allowed[] = {"entries", NULL};
	long long people[MAX_ENTRIES];
	json_t *obj, *entries, *ent;
	size_t i;
	if (req_json(req, &obj) != WM_OK || req_json_only(req, obj, allowed) != WM_OK)
		return NULL;
	entries = json_object_get(obj, "entries");
	if (!entries || json_is_null(entries)) {
		req_reply_error(req, 400, "core.missing_field", "entries", "entries is required.");
		return NULL;
	}
	if (!json_is_array(entries)) {
		req_reply_error(req, 400, "core.wrong_type", "entries",
		                "entries must be an array.");
		return NULL;
	}
	if (json_array_size(entries) == 0 || json_array_size(entries) > MAX_ENTRIES) {
		req_reply_error(
		    req, 400, "core.out_of_range", "entries",
		    "entries must hold 1 to %d entries (send a larger register in parts).",
		    MAX_ENTRIES);
		return NULL;
	}
	json_array_foreach(entries, i, ent)
	{
		if (check_entry(req, ent, i, &people[i]) != WM_OK)
			return NULL;
		for (size_t j = 0; j < i; j++) {
			if (people[j] == people[i]) {
				req_reply_error(
				    req, 422, "core.duplicate", NULL,
				    "entries[%zu].person_id repeats entries[%zu]: one entry "
				    "per person.",
				    i, j);
				return NULL;
			}
		}
	}
	return entries;
}

/* --- PUT: record, decide, store ---------------------------------------- */

struct put {
	struct wm_req *req;
	json_t *reg; /* the register as stored by statement 1 */
	char session[24];
};

static void put_free(struct put *pt)
{
	json_decref(pt->reg);
	free(pt);
}

/* Replies the register with what was decided (NULLs: not stored). */
static void put_reply(struct put *pt, json_t *completions, json_t *alerts)
{
	json_t *body = pt->reg;
	pt->reg = NULL;
	json_object_set(body, "completions", completions ? completions : json_null());
	json_object_set(body, "alerts", alerts ? alerts : json_null());
	req_reply_json(pt->req, 200, body);
}

static json_t *result_json(const struct wm_db_result *res)
{
	const char *text = db_result_ntuples(res) > 0 && db_result_nfields(res) > 0
	                       ? db_result_value(res, 0, 0)
	                       : NULL;
	return text ? json_loads(text, 0, NULL) : NULL;
}

static void decided(void *arg, const struct wm_db_result *res)
{
	struct put *pt = arg;
	json_t *got = NULL;
	if (db_result_error(res) != WM_DB_OK || !(got = result_json(res))) {
		log_msg(WM_LOG_WARN, "register",
		        "rid=%s: attendance for session %s stored, its evaluation was not: %s",
		        pt->req->id, pt->session,
		        db_result_error(res) != WM_DB_OK ? db_result_message(res) : "no result");
		put_reply(pt, NULL, NULL);
	} else {
		put_reply(pt, json_object_get(got, "completions"), json_object_get(got, "alerts"));
	}
	json_decref(got);
	put_free(pt);
}

static void recorded(void *arg, const struct wm_db_result *res)
{
	struct put *pt = arg;
	struct wm_req *req = pt->req;
	json_t *got = NULL, *results = NULL;
	char *text = NULL;
	if (db_result_error(res) != WM_DB_OK) {
		api_reply_db_error(req, res);
		goto done;
	}
	if (!(got = result_json(res))) {
		req_reply_error(req, 404, "core.not_found", NULL, "No such resource.");
		goto done;
	}
	pt->reg = json_incref(json_object_get(got, "register"));
	const char *type = json_string_value(json_object_get(got, "type"));
	const json_t *evaluate = json_object_get(got, "evaluate");
	if (!json_is_object(pt->reg)) {
		req_reply_error(req, 500, "core.internal", NULL, "Malformed result.");
		goto done;
	}
	if (json_array_size(evaluate) == 0) {
		json_t *none = json_array();
		put_reply(pt, none, none);
		json_decref(none);
		goto done;
	}
	if (!(results = completion_decide(req->srv, type, evaluate)) ||
	    !(text = json_dumps(results, JSON_COMPACT))) {
		put_reply(pt, NULL, NULL);
		goto done;
	}
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, pt->session, text};
	if (db_exec_prepared(req->srv->pool, "core.register_outcomes", 5, p, decided, pt) ==
	    WM_OK) {
		pt = NULL; /* decided() owns it now */
	} else {
		put_reply(pt, NULL, NULL);
	}
done:
	free(text);
	json_decref(results);
	json_decref(got);
	if (pt)
		put_free(pt);
}

static void put_register(struct wm_req *req, void *state)
{
	(void)state;
	long long id;
	json_t *entries;
	char *text;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    !(entries = checked_entries(req)))
		return;
	struct put *pt = calloc(1, sizeof *pt);
	if (!pt || !(text = json_dumps(entries, JSON_COMPACT))) {
		free(pt);
		req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
		return;
	}
	pt->req = req;
	snprintf(pt->session, sizeof pt->session, "%lld", id);
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, pt->session, text};
	if (db_exec_prepared(req->srv->pool, "core.register_put", 5, p, recorded, pt) != WM_OK) {
		req_reply_error(req, 500, "core.internal", NULL, "Cannot run the query.");
		put_free(pt);
	}
	free(text);
}

/* --- reads ------------------------------------------------------------- */

static void get_register(struct wm_req *req, void *state)
{
	(void)state;
	api_exec_by_id(req, no_query, "core.register_get", 200);
}

static void get_history(struct wm_req *req, void *state)
{
	(void)state;
	static const char *const accepted[] = {"person_id", "limit", "cursor", NULL};
	long long id;
	char ids[24], limit[8], cursor[24];
	const char *person = NULL;
	if (api_query_only(req, accepted) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    api_page(req, limit, cursor) != WM_OK ||
	    api_query_id(req, "person_id", &person) != WM_OK)
		return;
	snprintf(ids, sizeof ids, "%lld", id);
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, ids, person, cursor[0] ? cursor : NULL,
	                   limit};
	if (api_exec(req, "core.register_history", 7, p, 200, "core.not_found") != WM_OK)
		return; /* replied already */
}

static void get_completion(struct wm_req *req, void *state)
{
	(void)state;
	api_exec_by_id(req, no_query, "core.completion_get", 200);
}

/* --- registration ----------------------------------------------------- */

wm_status api_register_att_register(struct server *srv)
{
	static const struct wm_route_doc get_doc = {
	    "A session's register: everyone expected or booked, with their attendance (admins "
	    "and coordinators; facilitators and mentors staffing the session)",
	    NULL, register_schema, 200};
	static const struct wm_route_doc put_doc = {
	    "Record or correct a session's register in one go (1 to 200 entries, all or "
	    "nothing; corrections keep history); then the programme's rules raise alerts and "
	    "decide completion for each enrolment concerned",
	    put_schema, put_reply_schema, 200};
	static const struct wm_route_doc history_doc = {
	    "Attendance rows that corrections replaced; ?person_id ?limit ?cursor", NULL,
	    history_schema, 200};
	static const struct wm_route_doc completion_doc = {
	    "An enrolment's completion: the decision and the rule version that made it, its "
	    "history, and counts of expected, attended and missed sessions",
	    NULL, completion_schema, 200};

	if (api_prepare(srv, "register_get", sql_get, 4) != WM_OK ||
	    api_prepare(srv, "register_put", sql_put, 5) != WM_OK ||
	    api_prepare(srv, "register_outcomes", sql_outcomes, 5) != WM_OK ||
	    api_prepare(srv, "register_history", sql_history, 7) != WM_OK ||
	    api_prepare(srv, "completion_get", sql_completion, 4) != WM_OK ||
	    completion_prepare(srv) != WM_OK)
		return WM_ERR;
	if (api_route(srv, WM_GET, "/api/v1/sessions/{id}/register", get_register, &get_doc,
	              RUNNERS) != WM_OK ||
	    api_route(srv, WM_PUT, "/api/v1/sessions/{id}/register", put_register, &put_doc,
	              MANAGERS | WM_ROLE_FACILITATOR) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/sessions/{id}/register/history", get_history,
	              &history_doc, MANAGERS) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/enrolments/{id}/completion", get_completion,
	              &completion_doc, RUNNERS) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
