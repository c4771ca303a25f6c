/*
 * api_closures — days an organisation (or one of its venues) is closed:
 * bank holidays, lockdowns. Recording a closure applies it at once to the
 * scheduled sessions not yet started on those local dates: 'skip' cancels
 * them (calendars see the change), 'flag' marks them for a coordinator to
 * decide. Series laid out later apply closures themselves (0010 reads
 * core.closure through core.closure_match). Deleting a closure unflags what
 * it flagged; what it skipped stays cancelled until reinstated.
 *
 * Admins and coordinators manage closures; the organisation's facilitators
 * and mentors read them; commissioners are refused (403).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "req.h"
#include "server.h"

#define MANAGERS (WM_ROLE_ADMIN | WM_ROLE_COORDINATOR)
#define READERS  (MANAGERS | WM_ROLE_FACILITATOR | WM_ROLE_MENTOR)

/* A ?from / ?to range may span at most this many days (SCHED.md). */
#define RANGE_DAYS_MAX 400

static const char *const no_query[] = {NULL};
static const char *const effects[] = {"skip", "flag", NULL};

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static long days_from_civil(long y, long m, long d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	long yoe = y - era * 400;
	long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DD" naming a day that exists; *days as above. */
static int parse_date(const char *s, long *days)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	long y, m, d;
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	y = strtol(s, NULL, 10);
	m = strtol(s + 5, NULL, 10);
	d = strtol(s + 8, NULL, 10);
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return -1;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -1;
	*days = days_from_civil(y, m, d);
	return 0;
}

/* An optional date query parameter: NULL when absent; 400 core.bad_query
 * naming it when malformed. */
static wm_status query_date(struct wm_req *req, const char *name, const char **out, long *days)
{
	*out = req_query(req, name);
	if (!*out || parse_date(*out, days) == 0)
		return WM_OK;
	req_reply_error(req, 400, "core.bad_query", name, "%s must be a date (YYYY-MM-DD).", name);
	return WM_ERR;
}

static void closures_create(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"organisation_id", "venue_id", "starts_on", "ends_on",
	                                      "reason",          "effect",   NULL};
	const char *org = NULL, *venue = NULL, *starts = NULL, *ends = NULL, *reason = NULL,
	           *effect = "skip";
	char orgbuf[24], venuebuf[24];
	json_t *body;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, no_query) != WM_OK || req_json(req, &body) != WM_OK ||
	    req_json_only(req, body, allowed) != WM_OK ||
	    api_id_field(req, body, "organisation_id", 1, orgbuf, &org) != WM_OK ||
	    api_id_field(req, body, "venue_id", 0, venuebuf, &venue) != WM_OK ||
	    api_date(req, body, "starts_on", 1, 0, &starts) != WM_OK ||
	    api_date(req, body, "ends_on", 1, 0, &ends) != WM_OK ||
	    req_json_string(req, body, "reason", 200, 1, &reason) != WM_OK ||
	    api_enum(req, body, "effect", effects, 0, &effect) != WM_OK)
		return;
	/* Both are YYYY-MM-DD, so text order is date order. */
	if (strcmp(ends, starts) < 0) {
		req_reply_error(req, 422, "core.bad_range", "ends_on",
		                "ends_on must not be before starts_on.");
		return;
	}
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, org, venue, starts, ends, reason, effect};
	if (api_exec(req, "core.closures_create", 9, p, 201, "core.not_found") != WM_OK)
		return;
}

static void closures_list(struct wm_req *req, void *state)
{
	static const char *const accepted[] = {"organisation_id", "from",   "to",
	                                       "limit",           "cursor", NULL};
	char limit[8], cursor[24];
	const char *org = NULL, *from = NULL, *to = NULL;
	long dfrom = 0, dto = 0;
	struct api_ctx ctx;
	(void)state;
	if (api_query_only(req, accepted) != WM_OK || api_page(req, limit, cursor) != WM_OK ||
	    api_query_id(req, "organisation_id", &org) != WM_OK ||
	    query_date(req, "from", &from, &dfrom) != WM_OK ||
	    query_date(req, "to", &to, &dto) != WM_OK)
		return;
	if (from && to && (dto < dfrom || dto - dfrom > RANGE_DAYS_MAX)) {
		req_reply_error(req, 400, "core.bad_range", "to",
		                "to must be on or after from, and at most %d days later.",
		                RANGE_DAYS_MAX);
		return;
	}
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, org,
	                   from,      to,       limit,   cursor[0] ? cursor : NULL};
	if (api_exec(req, "core.closures_list", 8, p, 200, "core.not_found") != WM_OK)
		return;
}

static void closures_delete(struct wm_req *req, void *state)
{
	(void)state;
	api_exec_by_id(req, no_query, "core.closures_delete", 204);
}

/* --- documents ------------------------------------------------------------ */

#define DATE "{\"type\":\"string\",\"format\":\"date\"}"

#define CLOSURE_PROPS                                                                              \
	"\"id\":{\"type\":\"integer\"},\"organisation_id\":{\"type\":\"integer\"},"                \
	"\"venue_id\":{\"type\":[\"integer\",\"null\"]},\"starts_on\":" DATE ","                   \
	"\"ends_on\":" DATE ",\"reason\":{\"type\":\"string\"},"                                   \
	"\"effect\":{\"type\":\"string\",\"enum\":[\"skip\",\"flag\"]},"                           \
	"\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"},"                           \
	"\"created_by\":{\"type\":[\"integer\",\"null\"]}"

static const struct wm_route_doc create_doc = {
    "Record a closure of an organisation (or one venue) and apply it to the scheduled sessions "
    "not yet started on those local dates: skip cancels them, flag marks them; the reply says "
    "how many.",
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"organisation_id\",\"starts_on\",\"ends_on\",\"reason\"],\"properties\":{"
    "\"organisation_id\":{\"type\":\"integer\",\"minimum\":1},"
    "\"venue_id\":{\"type\":[\"integer\",\"null\"],\"minimum\":1},"
    "\"starts_on\":" DATE ",\"ends_on\":" DATE ","
    "\"reason\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200},"
    "\"effect\":{\"type\":\"string\",\"enum\":[\"skip\",\"flag\"]}}}",
    "{\"type\":\"object\",\"properties\":{" CLOSURE_PROPS ",\"skipped\":{\"type\":\"integer\"},"
    "\"flagged\":{\"type\":\"integer\"}}}",
    201};

static const struct wm_route_doc list_doc = {
    "Closures of the caller's organisations; ?organisation_id, ?from ?to (dates, at most 400 "
    "days apart) keep those overlapping the range.",
    NULL,
    "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\",\"items\":"
    "{\"type\":\"object\",\"properties\":{" CLOSURE_PROPS "}}},"
    "\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}",
    200};

static const struct wm_route_doc delete_doc = {
    "Remove a closure: the sessions it flagged are unflagged; the ones it skipped stay "
    "cancelled.",
    NULL, NULL, 204};

static const struct {
	const char *name, *sql;
	int nparams;
} stmts[] = {
    {"closures_create",
     "SELECT core.closure_create($1::bigint, $2::inet, $3::text, $4::bigint, $5::bigint, "
     "$6::date, $7::date, $8::text, $9::text)",
     9},
    {"closures_list",
     "SELECT core.closure_list($1::bigint, $2::inet, $3::text, $4::bigint, $5::date, $6::date, "
     "$7::integer, $8::bigint)",
     8},
    {"closures_delete", "SELECT core.closure_delete($1::bigint, $2::inet, $3::text, $4::bigint)",
     4},
};

wm_status api_closures_register(struct server *srv)
{
	for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++)
		if (api_prepare(srv, stmts[i].name, stmts[i].sql, stmts[i].nparams) != WM_OK)
			return WM_ERR;
	if (api_route(srv, WM_POST, "/api/v1/closures", closures_create, &create_doc, MANAGERS) !=
	        WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/closures", closures_list, &list_doc, READERS) !=
	        WM_OK ||
	    api_route(srv, WM_DELETE, "/api/v1/closures/{id}", closures_delete, &delete_doc,
	              MANAGERS) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
