/*
 * api_nonassoc — non-associations ("keep apart"): two people held by one
 * organisation who must not be placed together (same cohort, same
 * session). Seen by that organisation's admins and coordinators only;
 * mentors, facilitators and commissioners are refused by the role mask.
 *
 * Each handler checks the shape of the input and calls one SQL function
 * (migrations/0005_households.sql) that checks scope, stores the pair
 * once (smaller id first), audits it for both people and builds the reply.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "req.h"
#include "server.h"

#define MANAGERS (WM_ROLE_ADMIN | WM_ROLE_COORDINATOR)

/* Routes that read no query parameter refuse a stray one. */
static const char *const no_query[] = {NULL};

static void nonassoc_list(struct wm_req *req, void *state)
{
	static const char *const accepted[] = {"person_id", "limit", "cursor", NULL};
	char limit[8], cursor[24];
	const char *person = NULL;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, accepted) != WM_OK || api_page(req, limit, cursor) != WM_OK ||
	    api_query_id(req, "person_id", &person) != WM_OK)
		return;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, person, limit, cursor[0] ? cursor : NULL};
	if (api_exec(req, "core.nonassoc_list", 6, p, 200, "core.not_found") != WM_OK)
		return;
}

static void nonassoc_create(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"organisation_id", "person_a", "person_b", "reason",
	                                      NULL};
	const char *org = NULL, *a = NULL, *b = NULL, *reason = NULL;
	char orgbuf[24], abuf[24], bbuf[24];
	json_t *body;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || req_json(req, &body) != WM_OK ||
	    req_json_only(req, body, allowed) != WM_OK ||
	    api_id_field(req, body, "organisation_id", 1, orgbuf, &org) != WM_OK ||
	    api_id_field(req, body, "person_a", 1, abuf, &a) != WM_OK ||
	    api_id_field(req, body, "person_b", 1, bbuf, &b) != WM_OK ||
	    api_text(req, body, "reason", 1000, 0, &reason) != WM_OK)
		return;
	/* Refused before any lookup: it is wrong whoever the person is. The
	 * SQL function refuses it too. */
	if (!strcmp(a, b)) {
		req_reply_error(req, 422, "core.same_person", "person_b",
		                "A person cannot be kept apart from themselves.");
		return;
	}
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, org, a, b, reason};
	if (api_exec(req, "core.nonassoc_create", 7, p, 201, "core.not_found") != WM_OK)
		return;
}

static void nonassoc_end(struct wm_req *req, void *state)
{
	(void)state;
	api_exec_by_id(req, no_query, "core.nonassoc_end", 204);
}

#define NONASSOC_SCHEMA                                                                            \
	"{\"type\":\"object\",\"properties\":{"                                                    \
	"\"id\":{\"type\":\"integer\"},\"organisation_id\":{\"type\":\"integer\"},"                \
	"\"person_a\":{\"type\":\"integer\"},\"person_b\":{\"type\":\"integer\"},"                 \
	"\"person_a_name\":{\"type\":\"string\"},\"person_b_name\":{\"type\":\"string\"},"         \
	"\"reason\":{\"type\":[\"string\",\"null\"]},"                                             \
	"\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"},"                           \
	"\"created_by\":{\"type\":[\"integer\",\"null\"]}}}"

static const struct wm_route_doc list_doc = {
    "Live non-associations recorded by organisations the caller is admin or coordinator of; "
    "?person_id= only those naming the person. Each child named is an audited read.",
    NULL,
    "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\",\"items\":" NONASSOC_SCHEMA
    "},\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}",
    200};

static const struct wm_route_doc create_doc = {
    "Record that two people held by the organisation are to be kept apart (stored with the "
    "smaller id as person_a).",
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"organisation_id\",\"person_a\",\"person_b\"],\"properties\":{"
    "\"organisation_id\":{\"type\":\"integer\",\"minimum\":1},"
    "\"person_a\":{\"type\":\"integer\",\"minimum\":1},"
    "\"person_b\":{\"type\":\"integer\",\"minimum\":1},"
    "\"reason\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1000}}}",
    NONASSOC_SCHEMA, 201};

static const struct wm_route_doc end_doc = {"End a non-association (kept, no longer listed).", NULL,
                                            NULL, 204};

static const struct {
	const char *name, *sql;
	int nparams;
} stmts[] = {
    {"nonassoc_list",
     "SELECT core.non_association_list($1::bigint, $2::inet, $3::text, $4::bigint, "
     "$5::integer, $6::bigint)",
     6},
    {"nonassoc_create",
     "SELECT core.non_association_create($1::bigint, $2::inet, $3::text, $4::bigint, "
     "$5::bigint, $6::bigint, $7::text)",
     7},
    {"nonassoc_end", "SELECT core.non_association_end($1::bigint, $2::inet, $3::text, $4::bigint)",
     4},
};

wm_status api_nonassoc_register(struct server *srv)
{
	for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++)
		if (api_prepare(srv, stmts[i].name, stmts[i].sql, stmts[i].nparams) != WM_OK)
			return WM_ERR;
	if (api_route(srv, WM_GET, "/api/v1/non-associations", nonassoc_list, &list_doc,
	              MANAGERS) != WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/non-associations", nonassoc_create, &create_doc,
	              MANAGERS) != WM_OK ||
	    api_route(srv, WM_DELETE, "/api/v1/non-associations/{id}", nonassoc_end, &end_doc,
	              MANAGERS) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
