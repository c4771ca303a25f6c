/*
 * api_sessions — sessions once laid out (api_series.c lays them out).
 *
 *   GET  /api/v1/sessions               ?programme_id ?cohort_id ?staff_id ?series_id
 *                                       ?from ?to (at most 400 days; one alone is
 *                                       bounded 400 days the other way) ?limit ?cursor
 *   GET  /api/v1/sessions/{id}          with staff and counts (no participants)
 *   PATCH /api/v1/sessions/{id}         move, retitle, re-place ... (closures re-applied)
 *   POST /api/v1/sessions/{id}/cancel   status cancelled, staff and seats freed; not once
 *                                       attendance is recorded, started only with force
 *   PUT  /api/v1/sessions/{id}/staff    replaces who runs it
 *
 * Admins and coordinators of the session's organisation see and change its
 * sessions; facilitators and mentors see the sessions they staff and those
 * of programmes whose staff list they are on. The clash rules are the
 * database's exclusion constraints; migrations/0010_sessions.sql turns a
 * violation into 409 naming the other session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "req.h"
#include "server.h"

#define MANAGERS  (WM_ROLE_ADMIN | WM_ROLE_COORDINATOR)
#define READERS   (MANAGERS | WM_ROLE_FACILITATOR | WM_ROLE_MENTOR)
#define RANGE_MAX (400LL * 86400)

static const char *const delivery_modes[] = {"face_to_face", "online", "phone", "in_cell_pack",
                                             NULL};
static const char *const location_kinds[] = {
    "prison", "approved_premises", "probation_office", "community_venue", "home", "school", NULL};
static const char *const no_query[] = {NULL};

/* --- statements ------------------------------------------------------- */

/* Keyset page on (starts_at, id); the cursor is "<epoch microseconds>_<id>"
 * of the last row shown. Dates (from/to as YYYY-MM-DD) are local dates in
 * each session's programme zone, `to` included; instants are UTC, `to`
 * excluded. */
static const char sql_list[] =
    "WITH ctx AS (SELECT $2::inet, $3::text), " /* reads are not audited */
    "page AS (SELECT s.id, s.starts_at FROM core.session s "
    "  JOIN core.programme pr ON pr.id = s.programme_id AND pr.archived_at IS NULL "
    "  WHERE (s.org_id IN (SELECT core.staff_orgs($1::bigint, "
    "                      ARRAY['admin', 'coordinator']::core.staff_role[])) "
    "         OR (s.org_id IN (SELECT core.staff_orgs($1::bigint, "
    "                          ARRAY['facilitator', 'mentor']::core.staff_role[])) "
    "             AND (EXISTS (SELECT 1 FROM core.session_staff ss "
    "                          WHERE ss.session_id = s.id AND ss.staff_id = $1::bigint) "
    "                  OR EXISTS (SELECT 1 FROM core.programme_staff ps "
    "                             WHERE ps.programme_id = s.programme_id "
    "                               AND ps.staff_id = $1::bigint)))) "
    "    AND ($4::bigint IS NULL OR s.programme_id = $4::bigint) "
    "    AND ($5::bigint IS NULL OR s.cohort_id = $5::bigint) "
    "    AND ($6::bigint IS NULL OR EXISTS (SELECT 1 FROM core.session_staff ss "
    "         WHERE ss.session_id = s.id AND ss.staff_id = $6::bigint)) "
    "    AND ($7::bigint IS NULL OR s.series_id = $7::bigint) "
    "    AND ($8::timestamptz IS NULL OR s.starts_at >= $8::timestamptz) "
    "    AND ($9::timestamptz IS NULL OR s.starts_at < $9::timestamptz) "
    "    AND ($10::date IS NULL OR (s.starts_at AT TIME ZONE pr.time_zone)::date >= $10::date) "
    "    AND ($11::date IS NULL OR (s.starts_at AT TIME ZONE pr.time_zone)::date <= $11::date) "
    "    AND ($12::bigint IS NULL OR (s.starts_at, s.id) > "
    "         ('epoch'::timestamptz + $12::bigint * interval '1 microsecond', $13::bigint)) "
    "  ORDER BY s.starts_at, s.id LIMIT $14::int + 1), "
    "shown AS (SELECT * FROM page ORDER BY starts_at, id LIMIT $14::int) "
    "SELECT json_build_object("
    "  'items', COALESCE((SELECT json_agg(core.session_json(s, pr.time_zone) "
    "                                     ORDER BY s.starts_at, s.id) "
    "                     FROM shown JOIN core.session s ON s.id = shown.id "
    "                     JOIN core.programme pr ON pr.id = s.programme_id), '[]'::json), "
    "  'next_cursor', CASE WHEN (SELECT count(*) FROM page) > $14::int THEN "
    "     (SELECT (extract(epoch FROM starts_at - 'epoch'::timestamptz) * 1000000)::bigint "
    "             || '_' || id FROM shown ORDER BY starts_at DESC, id DESC LIMIT 1) END)";

static const char sql_get[] = "SELECT core.session_detail($4::bigint) "
                              "FROM (SELECT $2::inet, $3::text) ctx "
                              "WHERE core.session_visible($1::bigint, $4::bigint)";
static const char sql_update[] = "SELECT core.session_update($1::bigint, $2::inet, $3::text, "
                                 "$4::bigint, $5::jsonb, $6::integer)";
static const char sql_cancel[] = "SELECT core.session_cancel($1::bigint, $2::inet, $3::text, "
                                 "$4::bigint, $5::text, $6::boolean)";
static const char sql_staff[] = "SELECT core.session_set_staff($1::bigint, $2::inet, $3::text, "
                                "$4::bigint, $5::jsonb)";

/* --- docs ------------------------------------------------------------- */

#define ID       "{\"type\": \"integer\", \"minimum\": 1}"
#define NID      "{\"type\": [\"integer\", \"null\"], \"minimum\": 1}"
#define NTEXT(n) "{\"type\": [\"string\", \"null\"], \"minLength\": 1, \"maxLength\": " #n "}"
#define INSTANT  "{\"type\": \"string\", \"format\": \"date-time\"}"
#define NINSTANT "{\"type\": [\"string\", \"null\"], \"format\": \"date-time\"}"
#define ROLE_ENUM                                                                                  \
	"[\"lead\", \"facilitator\", \"co_facilitator\", \"peer_mentor\", \"guest\", \"escort\", " \
	"\"coach\", \"mentor\", \"coordinator\"]"
#define LOCAL                                                                                      \
	"{\"type\": \"object\", \"properties\": {\"date\": {\"type\": \"string\", \"format\": "    \
	"\"date\"}, \"start\": {\"type\": \"string\"}, \"end\": {\"type\": \"string\"}, "          \
	"\"time_zone\": {\"type\": \"string\"}}}"
#define SESSION_PROPS                                                                              \
	"\"id\": " ID ", \"programme_id\": " ID ", \"organisation_id\": " ID                       \
	", \"series_id\": " NID ", \"recurrence_id\": " NINSTANT ", \"cohort_id\": " NID           \
	", \"title\": {\"type\": \"string\"}, \"starts_at\": " INSTANT ", \"ends_at\": " INSTANT   \
	", \"local\": " LOCAL ", \"status\": {\"enum\": [\"scheduled\", \"cancelled\"]}, "         \
	"\"moved\": {\"type\": \"boolean\"}, \"closure_id\": " NID ", \"cancel_reason\": " NTEXT(  \
	    500) ", \"venue_id\": " NID ", \"room_id\": " NID ", \"capacity\": {\"type\": "        \
	         "[\"integer\", \"null\"]}, \"booked\": {\"type\": \"integer\"}, \"sequence\": "   \
	         "{\"type\": \"integer\"}, \"version\": " ID
#define STAFF_LIST                                                                                 \
	"{\"type\": \"array\", \"maxItems\": 20, \"items\": {\"type\": \"object\", "               \
	"\"additionalProperties\": false, \"required\": [\"staff_id\"], \"properties\": "          \
	"{\"staff_id\": " ID ", \"role\": {\"enum\": " ROLE_ENUM "}}}}"

static const char list_schema[] =
    "{\"type\": \"object\", \"properties\": {\"items\": {\"type\": \"array\", \"items\": "
    "{\"type\": \"object\", \"properties\": {" SESSION_PROPS "}}}, \"next_cursor\": "
    "{\"type\": [\"string\", \"null\"]}}}";
static const char detail_schema[] =
    "{\"type\": \"object\", \"properties\": {" SESSION_PROPS
    ", \"staff\": {\"type\": \"array\", \"items\": {\"type\": \"object\", \"properties\": "
    "{\"staff_id\": " ID
    ", \"display_name\": {\"type\": \"string\"}, \"role\": {\"enum\": " ROLE_ENUM
    "}}}}, \"counts\": {\"type\": \"object\", \"properties\": {\"expected\": "
    "{\"type\": \"integer\"}, \"booked\": {\"type\": \"integer\"}, \"waitlisted\": "
    "{\"type\": \"integer\"}}}}}";
static const char update_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false, \"minProperties\": 1, "
    "\"properties\": {\"start\": {\"type\": \"string\", \"minLength\": 16, \"maxLength\": 40}, "
    "\"duration_minutes\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1440}, "
    "\"title\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 200}, \"venue_id\": " NID
    ", \"room_id\": " NID ", \"capacity\": {\"type\": [\"integer\", \"null\"], \"minimum\": 1, "
    "\"maximum\": 10000}, \"module\": " NTEXT(
        100) ", \"catch_up\": {\"type\": \"boolean\"}, "
             "\"delivery_mode\": {\"enum\": [\"face_to_face\", \"online\", \"phone\", "
             "\"in_cell_pack\"]}, \"location_kind\": {\"enum\": [\"prison\", "
             "\"approved_premises\", "
             "\"probation_office\", \"community_venue\", \"home\", \"school\"]}, \"version\": " NID
             "}}";
static const char cancel_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"reason\"], "
    "\"properties\": {\"reason\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": "
    "500}, \"force\": {\"type\": \"boolean\"}}}";
static const char staff_schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"staff\"], "
    "\"properties\": {\"staff\": " STAFF_LIST "}}";

/* --- input helpers ---------------------------------------------------- */

static int given(const json_t *obj, const char *field)
{
	json_t *v = json_object_get(obj, field);
	return v && !json_is_null(v);
}

static void oom(struct wm_req *req)
{
	req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
}

/* from/to: a date "YYYY-MM-DD" (a local date) or an RFC 3339 instant with
 * Z or an offset. *epoch is its UTC midnight or instant, for the range
 * check; *is_date says which. 0 if malformed. */
static int parse_when(const char *s, int *is_date, time_t *epoch)
{
	struct tm tm = {0};
	int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, n = 0;
	size_t len = strlen(s);
	char sign = '+';
	if (len == 10 && sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3 && n == 10)
		*is_date = 1;
	else if (len >= 20 && len <= 25 &&
	         sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) == 6 &&
	         n == 19 &&
	         ((len == 20 && (s[19] == 'Z' || s[19] == 'z')) ||
	          (len == 25 && (s[19] == '+' || s[19] == '-') &&
	           sscanf(s + 20, "%2d:%2d%n", &oh, &om, &n) == 2 && n == 5))) {
		*is_date = 0;
		sign = s[19];
	} else
		return 0;
	if (strspn(s, "0123456789-") < 10 || s[4] != '-' || s[7] != '-' || y < 1900 || y > 2200 ||
	    mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59 || oh > 23 ||
	    om > 59 || h < 0 || mi < 0 || sec < 0 || oh < 0 || om < 0)
		return 0;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*epoch = timegm(&tm);
	if (tm.tm_mday != d) /* 31 April rolled over */
		return 0;
	*epoch -= (sign == '-' ? -1 : 1) * (oh * 3600 + om * 60);
	return 1;
}

/* `t` as a date (YYYY-MM-DD, UTC) or an instant (RFC 3339, Z). */
static void bound(time_t t, int as_date, char out[24])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 24, as_date ? "%Y-%m-%d" : "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ?limit (1..API_PAGE_MAX) and ?cursor ("<microseconds>_<id>"). */
static wm_status page(struct wm_req *req, char limit[8], char us[24], char id[24])
{
	const char *l = req_query(req, "limit"), *c = req_query(req, "cursor");
	long long n = API_PAGE_DEFAULT;
	us[0] = id[0] = '\0';
	if (l && (!*l || strlen(l) > 4 || strspn(l, "0123456789") != strlen(l) ||
	          (n = atoll(l)) < 1 || n > API_PAGE_MAX)) {
		req_reply_error(req, 400, "core.bad_query", "limit",
		                "limit must be a whole number from 1 to %d.", API_PAGE_MAX);
		return WM_ERR;
	}
	snprintf(limit, 8, "%lld", n);
	if (c) {
		const char *digits = c[0] == '-' ? c + 1 : c, *bar = strchr(digits, '_');
		size_t a = bar ? (size_t)(bar - digits) : 0, b = bar ? strlen(bar + 1) : 0;
		if (!bar || a < 1 || a > 18 || b < 1 || b > 18 ||
		    strspn(digits, "0123456789") != a || strspn(bar + 1, "0123456789") != b ||
		    bar[1] == '0') {
			req_reply_error(req, 400, "core.bad_query", "cursor",
			                "cursor must be a next_cursor value from a previous page.");
			return WM_ERR;
		}
		snprintf(us, 24, "%.*s", (int)(bar - c), c);
		snprintf(id, 24, "%s", bar + 1);
	}
	return WM_OK;
}

/* --- handlers --------------------------------------------------------- */

static void list_sessions(struct wm_req *req, void *state)
{
	(void)state;
	static const char *const accepted[] = {"programme_id", "cohort_id", "staff_id",
	                                       "series_id",    "from",      "to",
	                                       "limit",        "cursor",    NULL};
	char limit[8], us[24], cid[24];
	const char *programme = NULL, *cohort = NULL, *staff = NULL, *series = NULL;
	const char *from = req_query(req, "from"), *to = req_query(req, "to");
	int from_date = 0, to_date = 0;
	time_t from_t = 0, to_t = 0;
	if (api_query_only(req, accepted) != WM_OK || page(req, limit, us, cid) != WM_OK ||
	    api_query_id(req, "programme_id", &programme) != WM_OK ||
	    api_query_id(req, "cohort_id", &cohort) != WM_OK ||
	    api_query_id(req, "staff_id", &staff) != WM_OK ||
	    api_query_id(req, "series_id", &series) != WM_OK)
		return;
	if ((from && !parse_when(from, &from_date, &from_t)) ||
	    (to && !parse_when(to, &to_date, &to_t))) {
		const char *which = from && !parse_when(from, &from_date, &from_t) ? "from" : "to";
		req_reply_error(req, 400, "core.bad_query", which,
		                "%s must be a date (YYYY-MM-DD) or an instant with Z or an offset.",
		                which);
		return;
	}
	if (from && to && (to_t < from_t || (long long)(to_t - from_t) > RANGE_MAX)) {
		req_reply_error(req, 400, "core.bad_range", "to",
		                "to must be after from, and at most 400 days after it.");
		return;
	}
	/* One bound alone: the other is 400 days away, so no request reads
	 * more than the range allows (a date stays a date, an instant an
	 * instant). */
	char other[24];
	if (from && !to) {
		bound(from_t + (time_t)RANGE_MAX, from_date, other);
		to = other;
		to_date = from_date;
	} else if (to && !from) {
		bound(to_t - (time_t)RANGE_MAX, to_date, other);
		from = other;
		from_date = to_date;
	}
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff,
	                   ctx.addr,
	                   ctx.rid,
	                   programme,
	                   cohort,
	                   staff,
	                   series,
	                   from && !from_date ? from : NULL,
	                   to && !to_date ? to : NULL,
	                   from && from_date ? from : NULL,
	                   to && to_date ? to : NULL,
	                   us[0] ? us : NULL,
	                   cid[0] ? cid : NULL,
	                   limit};
	if (api_exec(req, "core.sessions_list", 14, p, 200, "core.not_found") != WM_OK)
		return;
}

static void get_session(struct wm_req *req, void *state)
{
	(void)state;
	api_exec_by_id(req, no_query, "core.sessions_get", 200);
}

/* Copies `field` into patch when sent; JSON null clears it where
 * `nullable`. Checks: kind 's' text (max), 'i' id, 'n' int 1..max, 'b'
 * bool, 'e' enum (allowed), 't' instant. On WM_ERR the reply is sent. */
static wm_status patch_field(struct wm_req *req, const json_t *obj, json_t *patch,
                             const char *field, char kind, long long max, int nullable,
                             const char *const *allowed)
{
	json_t *v = json_object_get(obj, field), *out = NULL;
	const char *s = NULL;
	char buf[24];
	long long n = 0;
	int bv = 0;
	if (!v)
		return WM_OK;
	if (json_is_null(v)) {
		if (!nullable) {
			req_reply_error(req, 400, "core.wrong_type", field, "%s cannot be null.",
			                field);
			return WM_ERR;
		}
		out = json_null();
	} else if ((kind == 's' && api_text(req, obj, field, (size_t)max, 1, &s) != WM_OK) ||
	           (kind == 'i' && api_id_field(req, obj, field, 1, buf, &s) != WM_OK) ||
	           (kind == 'n' && req_json_int(req, obj, field, 1, max, 1, &n) != WM_OK) ||
	           (kind == 'b' && req_json_bool(req, obj, field, 1, &bv) != WM_OK) ||
	           (kind == 'e' && api_enum(req, obj, field, allowed, 1, &s) != WM_OK) ||
	           (kind == 't' && api_instant(req, obj, field, 1, &s) != WM_OK))
		return WM_ERR;
	else if (kind == 'i')
		out = json_integer(strtoll(s, NULL, 10));
	else if (kind == 'n')
		out = json_integer(n);
	else if (kind == 'b')
		out = json_boolean(bv);
	else
		out = json_string(s);
	if (!out || json_object_set_new(patch, field, out)) {
		oom(req);
		return WM_ERR;
	}
	return WM_OK;
}

static void update_session(struct wm_req *req, void *state)
{
	(void)state;
	static const char *const allowed[] = {
	    "start",  "duration_minutes", "title",         "venue_id",      "room_id", "capacity",
	    "module", "catch_up",         "delivery_mode", "location_kind", "version", NULL};
	long long id, version = 0;
	json_t *obj, *patch;
	char ids[24], vbuf[24], *text = NULL;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &obj) != WM_OK || req_json_only(req, obj, allowed) != WM_OK ||
	    (given(obj, "version") &&
	     req_json_int(req, obj, "version", 1, 2147483647LL, 1, &version) != WM_OK))
		return;
	if (!(patch = json_object())) {
		oom(req);
		return;
	}
	if (patch_field(req, obj, patch, "start", 't', 0, 0, NULL) != WM_OK ||
	    patch_field(req, obj, patch, "duration_minutes", 'n', 1440, 0, NULL) != WM_OK ||
	    patch_field(req, obj, patch, "title", 's', 200, 0, NULL) != WM_OK ||
	    patch_field(req, obj, patch, "venue_id", 'i', 0, 1, NULL) != WM_OK ||
	    patch_field(req, obj, patch, "room_id", 'i', 0, 1, NULL) != WM_OK ||
	    patch_field(req, obj, patch, "capacity", 'n', 10000, 1, NULL) != WM_OK ||
	    patch_field(req, obj, patch, "module", 's', 100, 1, NULL) != WM_OK ||
	    patch_field(req, obj, patch, "catch_up", 'b', 0, 0, NULL) != WM_OK ||
	    patch_field(req, obj, patch, "delivery_mode", 'e', 0, 0, delivery_modes) != WM_OK ||
	    patch_field(req, obj, patch, "location_kind", 'e', 0, 0, location_kinds) != WM_OK)
		goto done; /* replied */
	if (json_object_size(patch) == 0) {
		req_reply_error(req, 400, "core.missing_field", NULL,
		                "Give at least one field to change.");
		goto done;
	}
	if (!(text = json_dumps(patch, JSON_COMPACT))) {
		oom(req);
		goto done;
	}
	snprintf(ids, sizeof ids, "%lld", id);
	snprintf(vbuf, sizeof vbuf, "%lld", version);
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, ids, text, version ? vbuf : NULL};
	wm_status st = api_exec(req, "core.sessions_update", 6, p, 200, "core.not_found");
	(void)st; /* replied on failure */
done:
	free(text);
	json_decref(patch);
}

static void cancel_session(struct wm_req *req, void *state)
{
	(void)state;
	static const char *const allowed[] = {"reason", "force", NULL};
	long long id;
	json_t *obj;
	char ids[24];
	const char *reason = NULL;
	int force = 0;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &obj) != WM_OK || req_json_only(req, obj, allowed) != WM_OK ||
	    api_text(req, obj, "reason", 500, 1, &reason) != WM_OK ||
	    req_json_bool(req, obj, "force", 0, &force) != WM_OK)
		return;
	snprintf(ids, sizeof ids, "%lld", id);
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, ids, reason, force ? "true" : "false"};
	if (api_exec(req, "core.sessions_cancel", 6, p, 200, "core.not_found") != WM_OK)
		return;
}

/* {staff: [{staff_id, role?}]}, each staff member once, at most STAFF_MAX. */
static void set_staff(struct wm_req *req, void *state)
{
	(void)state;
	static const char *const allowed[] = {"staff", NULL};
	long long id;
	json_t *obj, *list, *out = NULL;
	char ids[24], *text = NULL;
	if (api_query_only(req, no_query) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json(req, &obj) != WM_OK || req_json_only(req, obj, allowed) != WM_OK)
		return;
	list = json_object_get(obj, "staff");
	if (api_staff_list(req, list, &out) != WM_OK)
		return;
	if (!(text = json_dumps(out, JSON_COMPACT))) {
		oom(req);
		goto done;
	}
	snprintf(ids, sizeof ids, "%lld", id);
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, ids, text};
	wm_status st = api_exec(req, "core.sessions_set_staff", 5, p, 200, "core.not_found");
	(void)st; /* replied on failure */
done:
	free(text);
	json_decref(out);
}

/* --- registration ----------------------------------------------------- */

wm_status api_sessions_register(struct server *srv)
{
	static const struct wm_route_doc list_doc = {
	    "Sessions the caller may see, by start: ?programme_id ?cohort_id ?staff_id ?series_id "
	    "?from ?to (dates are local, to included; instants UTC, to excluded; at most 400 "
	    "days apart; from alone reads up to from + 400 days, to alone from to - 400 days) "
	    "?limit ?cursor",
	    NULL, list_schema, 200};
	static const struct wm_route_doc get_doc = {
	    "One session with who runs it and how many are expected, booked and waitlisted", NULL,
	    detail_schema, 200};
	static const struct wm_route_doc update_doc = {
	    "Move or change one session (a series instance keeps its recurrence_id); optional "
	    "version; clashes are refused (409); moved onto a skip closure refused (422 "
	    "core.closed_day), onto a flag closure flagged (closure_id)",
	    update_schema, detail_schema, 200};
	static const struct wm_route_doc cancel_doc = {
	    "Cancel one session: staff and seats freed, bookings handled by the booking rules. "
	    "Not once attendance is recorded (409 core.has_attendance); a session that has "
	    "started only with \"force\": true (else 422 core.already_started), audited",
	    cancel_schema, detail_schema, 200};
	static const struct wm_route_doc staff_doc = {
	    "Replace who runs a session (organisation members; clashes refused, 409)", staff_schema,
	    detail_schema, 200};

	if (api_prepare(srv, "sessions_list", sql_list, 14) != WM_OK ||
	    api_prepare(srv, "sessions_get", sql_get, 4) != WM_OK ||
	    api_prepare(srv, "sessions_update", sql_update, 6) != WM_OK ||
	    api_prepare(srv, "sessions_cancel", sql_cancel, 6) != WM_OK ||
	    api_prepare(srv, "sessions_set_staff", sql_staff, 5) != WM_OK)
		return WM_ERR;
	if (api_route(srv, WM_GET, "/api/v1/sessions", list_sessions, &list_doc, READERS) !=
	        WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/sessions/{id}", get_session, &get_doc, READERS) !=
	        WM_OK ||
	    api_route(srv, WM_PATCH, "/api/v1/sessions/{id}", update_session, &update_doc,
	              MANAGERS) != WM_OK ||
	    api_route(srv, WM_POST, "/api/v1/sessions/{id}/cancel", cancel_session, &cancel_doc,
	              MANAGERS) != WM_OK ||
	    api_route(srv, WM_PUT, "/api/v1/sessions/{id}/staff", set_staff, &staff_doc,
	              MANAGERS) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
