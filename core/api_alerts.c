/*
 * api_alerts — what the core and plugins flag for coordinators: a refused
 * enrolment or booking because of a keep-apart arrangement
 * ('core.non_association'), a missing release date
 * ('core.release_date_missing'), plugins' own kinds ('<plugin>.<what>').
 *
 *   GET  /api/v1/alerts               admin, coordinator: their organisations' alerts
 *   POST /api/v1/alerts/{id}/resolve  admin, coordinator of the alert's organisation
 *
 * Alerts are kept whatever delivers them later. Their messages name no
 * person; ids are in `person_id` and `detail` for those who may look the
 * people up. SQL in migrations/0011_cohorts.sql.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "req.h"
#include "server.h"

#define MANAGERS (WM_ROLE_ADMIN | WM_ROLE_COORDINATOR)

static const char *const no_query[] = {NULL};
static const char *const alert_statuses[] = {"open", "resolved", NULL};

/* "<namespace>.<name>": lower-case letters, digits and underscores. */
static int kind_ok(const char *s)
{
	size_t n = strlen(s), dot = strcspn(s, ".");
	if (n == 0 || n > 64 || dot == n || dot == 0 || dot + 1 == n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int first = i == 0 || i == dot + 1;
		if (i == dot)
			continue;
		if (!((c >= 'a' && c <= 'z') || (!first && ((c >= '0' && c <= '9') || c == '_'))))
			return 0;
	}
	return 1;
}

static void alert_list(struct wm_req *req, void *state)
{
	static const char *const accepted[] = {"kind",  "person_id", "status",
	                                       "limit", "cursor",    NULL};
	char limit[8], cursor[24];
	const char *person = NULL, *status = NULL, *kind = req_query(req, "kind");
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, accepted) != WM_OK || api_page(req, limit, cursor) != WM_OK ||
	    api_query_id(req, "person_id", &person) != WM_OK ||
	    api_query_enum(req, "status", alert_statuses, &status) != WM_OK)
		return;
	if (kind && !kind_ok(kind)) {
		req_reply_error(req, 400, "core.bad_query", "kind",
		                "kind must be namespace.name (e.g. core.non_association).");
		return;
	}
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, kind,
	                   person,    status,   limit,   cursor[0] ? cursor : NULL};
	if (api_exec(req, "core.alerts_list", 8, p, 200, "core.not_found") != WM_OK)
		return; /* api_exec replied */
}

static void alert_resolve(struct wm_req *req, void *state)
{
	static const char *const none[] = {NULL};
	long long id;
	char idbuf[24];
	json_t *body;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK)
		return;
	/* No body, or an empty object. */
	if (evbuffer_get_length(evhttp_request_get_input_buffer(req->ev)) > 0 &&
	    (req_json(req, &body) != WM_OK || req_json_only(req, body, none) != WM_OK))
		return;
	snprintf(idbuf, sizeof idbuf, "%lld", id);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, idbuf};
	if (api_exec(req, "core.alerts_resolve", 4, p, 200, "core.not_found") != WM_OK)
		return; /* api_exec replied */
}

#define ALERT_SCHEMA                                                                               \
	"{\"type\":\"object\",\"required\":[\"id\",\"organisation_id\",\"kind\",\"message\","      \
	"\"status\"],\"properties\":{\"id\":{\"type\":\"integer\"},"                               \
	"\"organisation_id\":{\"type\":\"integer\"},\"kind\":{\"type\":\"string\"},"               \
	"\"person_id\":{\"type\":[\"integer\",\"null\"]},"                                         \
	"\"session_id\":{\"type\":[\"integer\",\"null\"]},"                                        \
	"\"enrolment_id\":{\"type\":[\"integer\",\"null\"]},"                                      \
	"\"cohort_id\":{\"type\":[\"integer\",\"null\"]},\"message\":{\"type\":\"string\"},"       \
	"\"detail\":{\"type\":\"object\"},\"status\":{\"enum\":[\"open\",\"resolved\"]},"          \
	"\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"},"                           \
	"\"resolved_at\":{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"},"               \
	"\"resolved_by\":{\"type\":[\"integer\",\"null\"]}}}"

static const struct wm_route_doc list_doc = {
    "Alerts of the organisations the caller is admin or coordinator of: open ones unless "
    "?status=resolved; ?kind= and ?person_id= narrow.",
    NULL,
    "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\",\"items\":" ALERT_SCHEMA
    "},\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}",
    200};

static const struct wm_route_doc resolve_doc = {
    "Mark an alert resolved (409 core.already_resolved if it is).", NULL, ALERT_SCHEMA, 200};

wm_status api_alerts_register(struct server *srv)
{
	if (api_prepare(srv, "alerts_list",
	                "SELECT core.alert_list($1::bigint, $4::text, $5::bigint, $6::text, "
	                "$7::integer, $8::bigint) FROM (SELECT $2::inet, $3::text) ctx",
	                8) != WM_OK ||
	    api_prepare(srv, "alerts_resolve",
	                "SELECT core.alert_resolve($1::bigint, $2::inet, $3::text, $4::bigint)",
	                4) != WM_OK)
		return WM_ERR;
	if (api_route(srv, WM_GET, "/api/v1/alerts", alert_list, &list_doc, MANAGERS) != WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/alerts/{id}/resolve", alert_resolve, &resolve_doc,
	              MANAGERS) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
