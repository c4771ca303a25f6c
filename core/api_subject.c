/*
 * api_subject — a person's rights over what an organisation holds:
 *   GET  /people/{id}/export  subject access: everything the caller's admin
 *                             organisations hold, one JSON document, audited;
 *   POST /people/{id}/erase   one organisation forgets the person; when none
 *                             holds them any more the identity is
 *                             pseudonymised. Counts (referrals by status and
 *                             source, people) do not change: the link is
 *                             kept as a count-only record. The
 *                             organisation's live consents are withdrawn,
 *                             so it cannot pass the person on.
 * Both are admin only and work in one SQL function each (migration 0007),
 * so an export is one snapshot and an erasure is all or nothing.
 */
#include <stdio.h>

#include "api.h"
#include "req.h"
#include "server.h"

static const char export_sql[] = "SELECT core.subject_export($1::bigint, $2::inet, $3, $4::bigint)";

static const char erase_sql[] =
    "SELECT core.subject_erase($1::bigint, $2::inet, $3, $4::bigint, $5::bigint)";

/* Neither route reads the query string: a stray parameter is refused. */
static const char *const no_query[] = {NULL};

static void subject_export(struct wm_req *req, void *state)
{
	long long id;
	char idbuf[24];
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK)
		return;
	snprintf(idbuf, sizeof idbuf, "%lld", id);
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *params[] = {ctx.staff, ctx.addr, ctx.rid, idbuf};
	if (api_exec(req, "core.subject_export", 4, params, 200, "core.not_found") != WM_OK)
		return;
}

static void subject_erase(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"organisation_id", "confirm", NULL};
	long long id;
	char idbuf[24], orgbuf[24];
	const char *org = NULL;
	json_t *body;
	int confirm = 0;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &body) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
	    api_id_field(req, body, "organisation_id", 1, orgbuf, &org) != WM_OK ||
	    req_json_bool(req, body, "confirm", 1, &confirm) != WM_OK)
		return;
	/* Erasure cannot be undone: the caller must say so explicitly. */
	if (!confirm) {
		req_reply_error(req, 400, "core.confirm_required", "confirm",
		                "Erasure cannot be undone: send \"confirm\": true.");
		return;
	}
	snprintf(idbuf, sizeof idbuf, "%lld", id);
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *params[] = {ctx.staff, ctx.addr, ctx.rid, idbuf, org};
	if (api_exec(req, "core.subject_erase", 5, params, 200, "core.not_found") != WM_OK)
		return;
}

static const char export_response[] =
    "{\"type\":\"object\",\"required\":[\"exported_at\",\"organisation_ids\",\"person\","
    "\"organisations\",\"flags\",\"households\",\"non_associations\",\"consents\","
    "\"referrals\",\"assignments\",\"audit\"],\"properties\":{"
    "\"exported_at\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "\"organisation_ids\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}},"
    "\"person\":{\"type\":\"object\"},"
    "\"organisations\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
    "\"flags\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
    "\"households\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
    "\"non_associations\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
    "\"consents\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
    "\"referrals\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
    "\"assignments\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
    "\"audit\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}}}}";

static const char erase_request[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"organisation_id\",\"confirm\"],\"properties\":{"
    "\"organisation_id\":{\"type\":\"integer\",\"minimum\":1},"
    "\"confirm\":{\"const\":true}}}";

static const char erase_response[] =
    "{\"type\":\"object\",\"required\":[\"erased\",\"pseudonymised\"],\"properties\":{"
    "\"erased\":{\"const\":true},\"pseudonymised\":{\"type\":\"boolean\"}}}";

wm_status api_subject_register(struct server *srv)
{
	static const struct wm_route_doc export_doc = {
	    "Subject access: everything the caller's admin organisations hold about a person, "
	    "as one document for the data subject (audited). Audit rows show when, what and "
	    "which organisation, never staff ids, addresses or request ids.",
	    NULL, export_response, 200};
	static const struct wm_route_doc erase_doc = {
	    "Erase what one organisation holds about a person: its records and free text go, "
	    "its live consents are withdrawn today, it no longer holds the person (reports "
	    "still count them, so no figure changes); pseudonymise the identity (birth year "
	    "kept) when no organisation holds them any more (audited, cannot be undone).",
	    erase_request, erase_response, 200};
	if (api_prepare(srv, "subject_export", export_sql, 4) != WM_OK ||
	    api_prepare(srv, "subject_erase", erase_sql, 5) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/people/{id}/export", subject_export, &export_doc,
	              WM_ROLE_ADMIN) != WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/people/{id}/erase", subject_erase, &erase_doc,
	              WM_ROLE_ADMIN) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
