/*
 * api_audit — GET /audit: the audit log of the organisations where the
 * caller is admin, newest first, filtered by person, actor, action, object
 * type and a bounded time window. There is deliberately no route that
 * changes or deletes audit rows (the table's triggers refuse it as well).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "req.h"
#include "server.h"

/* The widest window a query may ask for, so one request cannot scan years. */
#define AUDIT_MAX_DAYS 400

/* A time bound as the caller wrote it: an instant or a whole day. */
struct bound {
	long long epoch; /* seconds; a day is its midnight UTC */
	int whole_day;   /* a date, not an instant */
	char text[48];   /* what PostgreSQL is given, RFC 3339 */
};

/* Days from 1970-01-01 to a civil date (proleptic Gregorian). */
static long long days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int valid_date(int y, int m, int d)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return y >= 1900 && y <= 2200 && m >= 1 && m <= 12 && d >= 1 &&
	       d <= mdays[m - 1] + (m == 2 && leap);
}

/* Reads `n` decimal digits at s; -1 if any is not a digit. */
static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)". A whole
 * day as an upper bound means up to its last microsecond. A space where
 * the offset's '+' belongs is taken as '+': an unencoded '+' in a query
 * string arrives as a space. */
static int parse_bound(const char *s, int upper, struct bound *b)
{
	size_t len = strlen(s);
	if (len < 10 || len > 40 || s[4] != '-' || s[7] != '-')
		return 0;
	int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
	if (y < 0 || m < 0 || d < 0 || !valid_date(y, m, d))
		return 0;
	long long day = days_from_civil(y, m, d);
	if (len == 10) {
		b->epoch = day * 86400;
		b->whole_day = 1;
		snprintf(b->text, sizeof b->text, "%.10sT%s", s,
		         upper ? "23:59:59.999999Z" : "00:00:00Z");
		return 1;
	}
	if ((s[10] != 'T' && s[10] != 't') || len < 20 || s[13] != ':' || s[16] != ':')
		return 0;
	int hh = digits(s + 11, 2), mi = digits(s + 14, 2), ss = digits(s + 17, 2);
	if (hh < 0 || hh > 23 || mi < 0 || mi > 59 || ss < 0 || ss > 59)
		return 0;
	size_t i = 19;
	if (s[i] == '.') {
		size_t start = ++i;
		while (s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start || i - start > 9)
			return 0;
	}
	long long offset = 0;
	char zone[8];
	if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
		snprintf(zone, sizeof zone, "Z");
	} else if ((s[i] == '+' || s[i] == '-' || s[i] == ' ') && i + 6 == len && s[i + 3] == ':') {
		int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return 0;
		offset = (oh * 3600LL + om * 60LL) * (s[i] == '-' ? -1 : 1);
		snprintf(zone, sizeof zone, "%c%.5s", s[i] == '-' ? '-' : '+', s + i + 1);
	} else {
		return 0;
	}
	b->epoch = day * 86400 + hh * 3600LL + mi * 60LL + ss - offset;
	b->whole_day = 0;
	snprintf(b->text, sizeof b->text, "%.10sT%.*s%s", s, (int)(i - 11), s + 11, zone);
	return 1;
}

/* An optional word query parameter: 1..max characters from `chars`. */
static wm_status query_word(struct wm_req *req, const char *name, size_t max, const char *chars,
                            const char **out)
{
	const char *s = req_query(req, name);
	*out = NULL;
	if (!s)
		return WM_OK;
	size_t n = strlen(s);
	if (n == 0 || n > max || strspn(s, chars) != n) {
		req_reply_error(req, 400, "core.bad_query", name,
		                "%s must be 1 to %zu characters of [%s].", name, max, chars);
		return WM_ERR;
	}
	*out = s;
	return WM_OK;
}

static wm_status query_bound(struct wm_req *req, const char *name, int upper, struct bound *b,
                             const char **out)
{
	const char *s = req_query(req, name);
	*out = NULL;
	if (!s)
		return WM_OK;
	if (!parse_bound(s, upper, b)) {
		req_reply_error(req, 400, "core.bad_query", name,
		                "%s must be a date (YYYY-MM-DD) or an RFC 3339 instant "
		                "(YYYY-MM-DDTHH:MM:SSZ).",
		                name);
		return WM_ERR;
	}
	*out = b->text;
	return WM_OK;
}

static const char list_sql[] =
    "WITH ctx AS (SELECT $1::bigint AS staff, $2::inet AS addr, $3::text AS rid),"
    " page AS ("
    "  SELECT a.id, core.subject_audit_json(a) AS j FROM core.audit a, ctx"
    "  WHERE a.org_id IN (SELECT core.staff_orgs(ctx.staff, ARRAY['admin']::core.staff_role[]))"
    "    AND ($4::bigint IS NULL OR a.person_id = $4::bigint)"
    "    AND ($5::bigint IS NULL OR a.actor_staff_id = $5::bigint)"
    "    AND ($6::text IS NULL OR a.action = $6::text)"
    "    AND ($7::text IS NULL OR a.object_type = $7::text)"
    "    AND ($8::timestamptz IS NULL OR a.at >= $8::timestamptz)"
    "    AND ($9::timestamptz IS NULL OR a.at <= $9::timestamptz)"
    "    AND ($11::bigint IS NULL OR a.id < $11::bigint)"
    "  ORDER BY a.id DESC LIMIT $10::integer + 1),"
    " shown AS (SELECT id, j FROM page ORDER BY id DESC LIMIT $10::integer)"
    " SELECT json_build_object("
    "  'items', coalesce((SELECT json_agg(j ORDER BY id DESC) FROM shown), '[]'::json),"
    "  'next_cursor', CASE WHEN (SELECT count(*) FROM page) > $10::integer"
    "                      THEN (SELECT min(id)::text FROM shown) END)";

static void audit_list(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"person_id",   "actor_id", "action",
	                                      "object_type", "since",    "until",
	                                      "limit",       "cursor",   NULL};
	char limit[8], cursor[24];
	const char *p_person, *p_actor, *action, *object_type, *since, *until;
	struct bound b_since, b_until;
	if (api_query_only(req, allowed) != WM_OK || api_page(req, limit, cursor) != WM_OK ||
	    api_query_id(req, "person_id", &p_person) != WM_OK ||
	    api_query_id(req, "actor_id", &p_actor) != WM_OK ||
	    query_word(req, "action", 64, "abcdefghijklmnopqrstuvwxyz_.", &action) != WM_OK ||
	    query_word(req, "object_type", 40,
	               "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
	               &object_type) != WM_OK ||
	    query_bound(req, "since", 0, &b_since, &since) != WM_OK ||
	    query_bound(req, "until", 1, &b_until, &until) != WM_OK)
		return;
	if (since && until) {
		/* until=<date> reaches to the end of that day. */
		long long until_end = b_until.epoch + (b_until.whole_day ? 86399 : 0);
		if (until_end < b_since.epoch) {
			req_reply_error(req, 400, "core.bad_range", "until",
			                "until must not be before since.");
			return;
		}
		if (b_until.epoch - b_since.epoch > AUDIT_MAX_DAYS * 86400LL) {
			req_reply_error(req, 400, "core.bad_range", "until",
			                "since and until may be at most %d days apart.",
			                AUDIT_MAX_DAYS);
			return;
		}
	}
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *params[] = {ctx.staff,
	                        ctx.addr,
	                        ctx.rid,
	                        p_person,
	                        p_actor,
	                        action,
	                        object_type,
	                        since,
	                        until,
	                        limit,
	                        cursor[0] ? cursor : NULL};
	if (api_exec(req, "core.audit_list", 11, params, 200, "core.not_found") != WM_OK)
		return;
}

static const char list_response[] =
    "{\"type\":\"object\",\"required\":[\"items\",\"next_cursor\"],\"properties\":{"
    "\"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
    "\"id\":{\"type\":\"integer\"},\"at\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "\"actor_staff_id\":{\"type\":[\"integer\",\"null\"]},"
    "\"organisation_id\":{\"type\":[\"integer\",\"null\"]},"
    "\"action\":{\"type\":\"string\"},\"object_type\":{\"type\":\"string\"},"
    "\"object_id\":{\"type\":[\"integer\",\"null\"]},"
    "\"person_id\":{\"type\":[\"integer\",\"null\"]},"
    "\"remote_addr\":{\"type\":[\"string\",\"null\"]},"
    "\"request_id\":{\"type\":[\"string\",\"null\"]},"
    "\"detail\":{\"type\":\"object\"}}}},"
    "\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}";

wm_status api_audit_register(struct server *srv)
{
	static const struct wm_route_doc doc = {
	    "The audit log of organisations where the caller is admin, newest first. Query: "
	    "person_id, actor_id, action, object_type, since, until (YYYY-MM-DD or RFC 3339; "
	    "at most 400 days apart), limit, cursor.",
	    NULL, list_response, 200};
	if (api_prepare(srv, "audit_list", list_sql, 11) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/audit", audit_list, &doc, WM_ROLE_ADMIN) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
