/*
 * gc_course.c — courses: GET /api/v1/group_course/courses/{id}, and the
 * helpers the curriculum and timetable route files share (gc_course.h): one statement per
 * request whose one JSON column is the reply, path ids, body validators.
 *
 * Every statement is a call of one SQL function of migrations/0001_course.sql
 * taking the request context first ($1 staff id, $2 peer address, $3
 * request id): it scopes the object (NULL → 404), makes the change, writes
 * the audit rows and builds the reply in one round trip. Refusals come back
 * as 'code|field|message' WM4xx errors, which core->reply_db_error sends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc_course.h"

const char *const gc_location_kinds[] = {
    "prison", "approved_premises", "probation_office", "community_venue", "home", "school", NULL};
const char *const gc_delivery_modes[] = {"face_to_face", "online", "phone", "in_cell_pack", NULL};
static const char *const programme_roles[] = {
    "lead",   "facilitator", "co_facilitator", "peer_mentor", "guest",
    "escort", "coach",       "mentor",         "coordinator", NULL};

/* --- shared helpers --------------------------------------------------- */

void gc_ctx_of(struct gc_state *st, struct wm_req *req, struct gc_ctx *ctx)
{
	const struct wm_caller *c = st->core->req_caller(req);
	snprintf(ctx->staff, sizeof ctx->staff, "%lld", c ? (long long)c->staff_id : 0LL);
	ctx->addr = st->core->req_remote_addr(req);
	ctx->rid = st->core->req_id(req);
}

const char *gc_path_id(struct gc_state *st, struct wm_req *req, const char *code, const char *what)
{
	const char *id = st->core->req_param(req, "id");
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > 16 || strspn(id, "0123456789") != n || id[0] == '0' ||
	    strtoll(id, NULL, 10) > GC_MAX_ID) {
		st->core->reply_error(req, 404, code, NULL, "No such %s.", what);
		return NULL;
	}
	return id;
}

struct gc_call {
	struct gc_state *st;
	struct wm_req *req;
	int status;
	const char *nf_code; /* static strings */
	const char *what;
};

static void replied(void *arg, const struct wm_db_result *res)
{
	struct gc_call *c = arg;
	const struct wm_core *core = c->st->core;
	const char *v;
	if (core->db_error(res) != WM_DB_OK) {
		core->reply_db_error(c->req, res);
	} else if (core->db_ntuples(res) == 0 || !(v = core->db_value(res, 0, 0))) {
		core->reply_error(c->req, 404, c->nf_code, NULL, "No such %s.", c->what);
	} else {
		json_error_t err;
		json_t *body = json_loads(v, 0, &err);
		if (!body) {
			core->log(c->st->host, WM_LOG_ERROR, "reply is not JSON: %s", err.text);
			core->reply_error(c->req, 500, "group_course.internal", NULL,
			                  "The reply could not be built.");
		} else {
			core->reply_json(c->req, c->status, body);
		}
	}
	free(c);
}

void gc_reply_stmt(struct gc_state *st, struct wm_req *req, const char *stmt, int nparams,
                   const char *const *params, int status, const char *nf_code, const char *what)
{
	struct gc_call *c = malloc(sizeof *c);
	if (!c) {
		st->core->reply_error(req, 500, "group_course.internal", NULL, "Out of memory.");
		return;
	}
	*c = (struct gc_call){st, req, status, nf_code, what};
	if (st->core->db_exec_prepared(st->host, stmt, nparams, params, replied, c) != WM_OK) {
		free(c);
		st->core->reply_error(req, 500, "group_course.internal", NULL,
		                      "The query could not be started.");
	}
}

wm_status gc_json_enum(struct gc_state *st, struct wm_req *req, const json_t *obj,
                       const char *field, const char *const *values, int required)
{
	const char *v = NULL;
	if (st->core->json_string(req, obj, field, 64, required, &v) != WM_OK)
		return WM_ERR;
	if (!v)
		return WM_OK;
	for (size_t i = 0; values[i]; i++)
		if (!strcmp(v, values[i]))
			return WM_OK;
	char list[400];
	size_t len = 0;
	list[0] = '\0';
	for (size_t i = 0; values[i] && len < sizeof list - 80; i++)
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
		                        values[i]);
	st->core->reply_error(req, 400, "core.bad_enum", field, "%s must be one of: %s.", field,
	                      list);
	return WM_ERR;
}

wm_status gc_json_id(struct gc_state *st, struct wm_req *req, const json_t *obj, const char *field,
                     int required)
{
	long long v;
	return st->core->json_int(req, obj, field, 1, GC_MAX_ID, required, &v);
}

wm_status gc_json_staff(struct gc_state *st, struct wm_req *req, const json_t *obj)
{
	static const char *const allowed[] = {"staff_id", "role", NULL};
	json_t *list = json_object_get(obj, "staff"), *e;
	size_t i, j;
	if (!list || json_is_null(list))
		return WM_OK;
	if (!json_is_array(list) || json_array_size(list) > 20) {
		st->core->reply_error(req, 400, "core.wrong_type", "staff",
		                      "staff must be a list of at most 20 {staff_id, role}.");
		return WM_ERR;
	}
	json_array_foreach(list, i, e)
	{
		if (!json_is_object(e)) {
			st->core->reply_error(req, 400, "core.wrong_type", "staff",
			                      "staff[%zu] must be an object {staff_id, role}.", i);
			return WM_ERR;
		}
		if (st->core->json_only(req, e, allowed) != WM_OK ||
		    gc_json_id(st, req, e, "staff_id", 1) != WM_OK ||
		    gc_json_enum(st, req, e, "role", programme_roles, 0) != WM_OK)
			return WM_ERR;
		for (j = 0; j < i; j++)
			if (json_integer_value(
			        json_object_get(json_array_get(list, j), "staff_id")) ==
			    json_integer_value(json_object_get(e, "staff_id"))) {
				st->core->reply_error(
				    req, 400, "core.duplicate", "staff",
				    "staff[%zu] names the same staff member as staff[%zu].", i, j);
				return WM_ERR;
			}
	}
	return WM_OK;
}

/* --- GET /api/v1/group_course/courses/{id} ------------------------------ */

static const char sql_course_get[] =
    "SELECT group_course.course_get($1::bigint, $2::inet, $3, $4::bigint)::text";

static void course_get(struct wm_req *req, void *state)
{
	struct gc_state *st = state;
	static const char *const none[] = {NULL};
	if (st->core->req_query_only(req, none) != WM_OK)
		return;
	const char *id = gc_path_id(st, req, "core.not_found", "course");
	if (!id)
		return;
	struct gc_ctx ctx;
	gc_ctx_of(st, req, &ctx);
	const char *params[] = {ctx.staff, ctx.addr, ctx.rid, id};
	gc_reply_stmt(st, req, "course_get", 4, params, 200, "core.not_found", "course");
}

#define MODULE_SCHEMA                                                                              \
	"{\"type\": \"object\", \"properties\": {\"position\": {\"type\": \"integer\"}, "          \
	"\"key\": {\"type\": \"string\"}, \"title\": {\"type\": \"string\"}, \"theme\": "          \
	"{\"type\": [\"string\", \"null\"]}, \"required\": {\"type\": \"boolean\"}, \"guests\": "  \
	"{\"type\": \"boolean\"}}}"

static const struct wm_route_doc course_doc = {
    .summary = "A group course: its curriculum (modules in order, required, with guests), "
               "completion settings and cohorts (admins, coordinators, the facilitators who "
               "run it; 404 core.not_found otherwise or for another programme type)",
    .response_schema =
        "{\"type\": \"object\", \"required\": [\"id\", \"modules\", \"cohorts\"], \"properties\": "
        "{\"id\": {\"type\": \"integer\"}, \"organisation_id\": {\"type\": \"integer\"}, "
        "\"name\": {\"type\": \"string\"}, \"time_zone\": {\"type\": \"string\"}, "
        "\"rule_version\": {}, \"min_share\": {}, \"qualification\": {}, "
        "\"prerequisites\": {\"type\": \"array\"}, \"modules\": {\"type\": \"array\", "
        "\"items\": " MODULE_SCHEMA "}, \"counts\": {\"type\": \"object\"}, \"cohorts\": "
        "{\"type\": \"array\", \"items\": {\"type\": \"object\"}}, \"access\": {\"enum\": "
        "[\"manage\", \"run\"]}}}",
    .success_status = 200,
};

/* --- registration --------------------------------------------------------- */

wm_status gc_course_prepare(struct gc_state *st)
{
	if (st->core->db_prepare(st->host, "course_get", sql_course_get, 4) != WM_OK)
		return WM_ERR;
	if (gc_cohort_prepare(st) != WM_OK || gc_timetable_prepare(st) != WM_OK)
		return WM_ERR;
	return WM_OK;
}

wm_status gc_course_routes(struct gc_state *st)
{
	if (st->core->route_add_access(
	        st->host, WM_GET, "/api/v1/group_course/courses/{id}", course_get, &course_doc,
	        WM_ROLE_ADMIN | WM_ROLE_COORDINATOR | WM_ROLE_FACILITATOR) != WM_OK)
		return WM_ERR;
	if (gc_cohort_routes(st) != WM_OK || gc_timetable_routes(st) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
