/*
 * api_cohorts — the groups a programme runs, each with its own dates and
 * places.
 *
 *   POST  /api/v1/programmes/{id}/cohorts  admin, coordinator of its organisation
 *   GET   /api/v1/cohorts                  + facilitators, mentors running the programme
 *   GET   /api/v1/cohorts/{id}             with counts (enrolled, on hold, left, places left)
 *   PATCH /api/v1/cohorts/{id}             admin, coordinator
 *
 * Scope is the programme's (core.programme_access, migrations/0008): 'manage'
 * writes and reads, 'run' reads; anything else is not found. The SQL lives
 * in migrations/0011_cohorts.sql.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "api.h"
#include "req.h"
#include "server.h"

#define MANAGERS (WM_ROLE_ADMIN | WM_ROLE_COORDINATOR)
#define READERS  (MANAGERS | WM_ROLE_FACILITATOR | WM_ROLE_MENTOR)

static const char *const no_query[] = {NULL};
static const char *const cohort_statuses[] = {"planned", "running", "finished", "cancelled", NULL};

/* A member sent as JSON null. */
static int is_null(const json_t *body, const char *field)
{
	const json_t *v = json_object_get(body, field);
	return v && json_is_null(v);
}

static wm_status refuse_null(struct wm_req *req, const json_t *body, const char *field)
{
	if (!is_null(body, field))
		return WM_OK;
	req_reply_error(req, 400, "core.wrong_type", field,
	                "%s cannot be cleared; send a value instead.", field);
	return WM_ERR;
}

/* The cohort fields; on create name and starts_on are required. */
static wm_status check_cohort(struct wm_req *req, const json_t *body, int create)
{
	const char *s = NULL;
	long long n = 0;
	if (!create && (refuse_null(req, body, "name") != WM_OK ||
	                refuse_null(req, body, "starts_on") != WM_OK ||
	                refuse_null(req, body, "status") != WM_OK))
		return WM_ERR;
	/* ends_on and capacity: null means none (no end, no limit). */
	if (api_text(req, body, "name", 200, create, &s) != WM_OK ||
	    api_date(req, body, "starts_on", create, 0, &s) != WM_OK ||
	    (!is_null(body, "ends_on") && api_date(req, body, "ends_on", 0, 0, &s) != WM_OK) ||
	    (!is_null(body, "capacity") &&
	     req_json_int(req, body, "capacity", 1, 1000, 0, &n) != WM_OK))
		return WM_ERR;
	if (!create && (api_enum(req, body, "status", cohort_statuses, 0, &s) != WM_OK ||
	                req_json_int(req, body, "version", 1, INT_MAX, 0, &n) != WM_OK))
		return WM_ERR;
	return WM_OK;
}

/* Runs `stmt` with the context, the id and the checked body as JSON text. */
static void run_with_body(struct wm_req *req, const char *stmt, long long id, json_t *body,
                          int status)
{
	struct api_ctx ctx;
	char idbuf[24];
	api_ctx(req, &ctx);
	snprintf(idbuf, sizeof idbuf, "%lld", id);
	char *text = json_dumps(body, JSON_COMPACT);
	if (!text) {
		req_reply_error(req, 500, "core.internal", NULL, "Cannot encode the request.");
		return;
	}
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, idbuf, text};
	wm_status st = api_exec(req, stmt, 5, p, status, "core.not_found");
	(void)st; /* on failure api_exec has replied */
	free(text);
}

static void cohort_create(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"name", "starts_on", "ends_on", "capacity", NULL};
	json_t *body;
	long long id;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &body) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
	    check_cohort(req, body, 1) != WM_OK)
		return;
	run_with_body(req, "core.cohorts_create", id, body, 201);
}

static void cohort_update(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"name",   "starts_on", "ends_on", "capacity",
	                                      "status", "version",   NULL};
	json_t *body;
	long long id;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &body) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
	    check_cohort(req, body, 0) != WM_OK)
		return;
	run_with_body(req, "core.cohorts_update", id, body, 200);
}

static void cohort_get(struct wm_req *req, void *state)
{
	(void)state;
	api_exec_by_id(req, no_query, "core.cohorts_get", 200);
}

static void cohort_list(struct wm_req *req, void *state)
{
	static const char *const accepted[] = {"programme_id", "limit", "cursor", NULL};
	char limit[8], cursor[24];
	const char *programme = NULL;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, accepted) != WM_OK || api_page(req, limit, cursor) != WM_OK ||
	    api_query_id(req, "programme_id", &programme) != WM_OK)
		return;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid,
	                   programme, limit,    cursor[0] ? cursor : NULL};
	if (api_exec(req, "core.cohorts_list", 6, p, 200, "core.not_found") != WM_OK)
		return; /* api_exec replied */
}

#define COHORT_SCHEMA                                                                              \
	"{\"type\":\"object\",\"required\":[\"id\",\"programme_id\",\"name\",\"starts_on\","       \
	"\"status\",\"counts\",\"version\"],\"properties\":{"                                      \
	"\"id\":{\"type\":\"integer\"},\"programme_id\":{\"type\":\"integer\"},"                   \
	"\"organisation_id\":{\"type\":\"integer\"},\"name\":{\"type\":\"string\"},"               \
	"\"starts_on\":{\"type\":\"string\",\"format\":\"date\"},"                                 \
	"\"ends_on\":{\"type\":[\"string\",\"null\"],\"format\":\"date\"},"                        \
	"\"capacity\":{\"type\":[\"integer\",\"null\"]},"                                          \
	"\"status\":{\"enum\":[\"planned\",\"running\",\"finished\",\"cancelled\"]},"              \
	"\"counts\":{\"type\":\"object\",\"properties\":{\"enrolled\":{\"type\":\"integer\"},"     \
	"\"on_hold\":{\"type\":\"integer\"},\"left\":{\"type\":\"integer\"},"                      \
	"\"places_left\":{\"type\":[\"integer\",\"null\"]}}},"                                     \
	"\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"},"                           \
	"\"updated_at\":{\"type\":\"string\",\"format\":\"date-time\"},"                           \
	"\"version\":{\"type\":\"integer\"}}}"

static const struct wm_route_doc create_doc = {
    "Add a cohort to a programme (admins and coordinators of its organisation).",
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"name\",\"starts_on\"],"
    "\"properties\":{\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200},"
    "\"starts_on\":{\"type\":\"string\",\"format\":\"date\"},"
    "\"ends_on\":{\"type\":[\"string\",\"null\"],\"format\":\"date\"},"
    "\"capacity\":{\"type\":[\"integer\",\"null\"],\"minimum\":1,\"maximum\":1000}}}",
    COHORT_SCHEMA, 201};

static const struct wm_route_doc list_doc = {
    "Cohorts of the programmes the caller manages or runs; ?programme_id= narrows.", NULL,
    "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\",\"items\":" COHORT_SCHEMA
    "},\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}",
    200};

static const struct wm_route_doc get_doc = {"One cohort with its counts.", NULL, COHORT_SCHEMA,
                                            200};

static const struct wm_route_doc update_doc = {
    "Change a cohort: name, dates, capacity (never below the people enrolled; null for no "
    "limit), status (planned -> running -> finished, or planned/running -> cancelled; "
    "else 409 core.illegal_transition); version guards against lost updates.",
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200},"
    "\"starts_on\":{\"type\":\"string\",\"format\":\"date\"},"
    "\"ends_on\":{\"type\":[\"string\",\"null\"],\"format\":\"date\"},"
    "\"capacity\":{\"type\":[\"integer\",\"null\"],\"minimum\":1,\"maximum\":1000},"
    "\"status\":{\"enum\":[\"planned\",\"running\",\"finished\",\"cancelled\"]},"
    "\"version\":{\"type\":\"integer\",\"minimum\":1}}}",
    COHORT_SCHEMA, 200};

static const struct {
	const char *name, *sql;
	int nparams;
} stmts[] = {
    {"cohorts_create",
     "SELECT core.cohort_create($1::bigint, $2::inet, $3::text, $4::bigint, $5::jsonb)", 5},
    {"cohorts_update",
     "SELECT core.cohort_update($1::bigint, $2::inet, $3::text, $4::bigint, $5::jsonb)", 5},
    {"cohorts_get",
     "SELECT core.cohort_json(c) FROM core.cohort c, (SELECT $2::inet, $3::text) ctx "
     "WHERE c.id = $4::bigint AND core.cohort_access($1::bigint, c.id) IS NOT NULL",
     4},
    {"cohorts_list",
     "SELECT core.cohort_list($1::bigint, $4::bigint, $5::integer, $6::bigint) "
     "FROM (SELECT $2::inet, $3::text) ctx",
     6},
};

wm_status api_cohorts_register(struct server *srv)
{
	for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++)
		if (api_prepare(srv, stmts[i].name, stmts[i].sql, stmts[i].nparams) != WM_OK)
			return WM_ERR;
	if (api_route(srv, WM_POST, "/api/v1/programmes/{id}/cohorts", cohort_create, &create_doc,
	              MANAGERS) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/cohorts", cohort_list, &list_doc, READERS) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/cohorts/{id}", cohort_get, &get_doc, READERS) !=
	        WM_OK ||
	    api_route(srv, WM_PATCH, "/api/v1/cohorts/{id}", cohort_update, &update_doc,
	              MANAGERS) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
