/*
 * api_reports — GET /reports/summary: one organisation's figures for its
 * admins and commissioners. Counts only, never a name or a person's id;
 * every count from 1 to 4 is suppressed ({"value": null, "suppressed":
 * true}) so a figure never singles anyone out, and commissioners get whole
 * calendar quarters only, so two periods cannot be subtracted to find one
 * referral. The counting is one SQL function (core.report_summary,
 * migration 0007).
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "req.h"
#include "server.h"

#define REPORT_MAX_YEARS 5

/* Days from 1970-01-01 to a civil date, and back (proleptic Gregorian). */
static long long days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(long long z, int *y, int *m, int *d)
{
	z += 719468;
	long long era = (z >= 0 ? z : z - 146096) / 146097;
	long long doe = z - era * 146097;
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long long mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return mdays[m - 1] + (m == 2 && leap(y));
}

/* An optional "YYYY-MM-DD" query parameter as a day number; 400 naming it
 * when malformed. *present says whether it was given. */
static wm_status query_day(struct wm_req *req, const char *name, int *present, long long *day)
{
	const char *s = req_query(req, name);
	int y, m, d, n = 0;
	*present = s != NULL;
	if (!s)
		return WM_OK;
	if (strlen(s) == 10 && strspn(s, "0123456789-") == 10 && s[4] == '-' && s[7] == '-' &&
	    sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) == 3 && n == 10 && y >= 1900 && y <= 2200 &&
	    m >= 1 && m <= 12 && d >= 1 && d <= month_days(y, m)) {
		*day = days_from_civil(y, m, d);
		return WM_OK;
	}
	req_reply_error(req, 400, "core.bad_query", name,
	                "%s must be a date that exists, written YYYY-MM-DD.", name);
	return WM_ERR;
}

static void day_text(long long day, char out[16])
{
	int y, m, d;
	civil_from_days(day, &y, &m, &d);
	snprintf(out, 16, "%04d-%02d-%02d", y, m, d);
}

static const char summary_sql[] =
    "WITH ctx AS (SELECT $1::bigint AS staff, $2::inet AS addr, $3::text AS rid)"
    " SELECT core.report_summary(ctx.staff, $4::bigint, $5::date, $6::date) FROM ctx";

static void report_summary(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"organisation_id", "from", "to", NULL};
	const char *org;
	int has_from, has_to;
	long long from = 0, to = 0;
	if (api_query_only(req, allowed) != WM_OK ||
	    api_query_id(req, "organisation_id", &org) != WM_OK)
		return;
	if (!org) {
		req_reply_error(req, 400, "core.bad_query", "organisation_id",
		                "organisation_id is required: the id of an organisation where you "
		                "are admin or commissioner.");
		return;
	}
	if (query_day(req, "from", &has_from, &from) != WM_OK ||
	    query_day(req, "to", &has_to, &to) != WM_OK)
		return;
	/* Both or neither: neither is the last complete quarter (SQL). */
	if (has_from != has_to) {
		const char *missing = has_from ? "to" : "from";
		req_reply_error(req, 400, "core.bad_query", missing,
		                "from and to go together; without both the report covers the "
		                "last complete calendar quarter.");
		return;
	}
	const char *from_p = NULL, *to_p = NULL;
	char from_text[16], to_text[16];
	if (has_from) {
		if (to < from) {
			req_reply_error(req, 422, "core.bad_range", "to",
			                "to must not be before from.");
			return;
		}
		/* from + 5 years, 29 February becoming 28 February. */
		int y, m, d;
		civil_from_days(from, &y, &m, &d);
		y += REPORT_MAX_YEARS;
		if (d > month_days(y, m))
			d = month_days(y, m);
		if (to > days_from_civil(y, m, d)) {
			req_reply_error(req, 422, "core.bad_range", "from",
			                "A report may span at most %d years.", REPORT_MAX_YEARS);
			return;
		}
		day_text(from, from_text);
		day_text(to, to_text);
		from_p = from_text;
		to_p = to_text;
	}
	/* Whether the period is allowed depends on the caller's role in that
	 * organisation (commissioners: one calendar quarter), so SQL decides. */
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *params[] = {ctx.staff, ctx.addr, ctx.rid, org, from_p, to_p};
	if (api_exec(req, "core.reports_summary", 6, params, 200, "core.not_found") != WM_OK)
		return;
}

/* A figure is a count or a suppressed small count. */
#define FIGURE                                                                                     \
	"{\"type\":\"object\",\"required\":[\"value\"],\"properties\":{"                           \
	"\"value\":{\"type\":[\"integer\",\"null\"],\"minimum\":0},"                               \
	"\"suppressed\":{\"const\":true}}}"
#define FIGURES "{\"type\":\"object\",\"additionalProperties\":" FIGURE "}"
#define GROUP(extra)                                                                               \
	"{\"type\":\"object\",\"required\":[\"unit\",\"total\"],\"properties\":{"                  \
	"\"unit\":{\"type\":\"string\"},\"total\":" FIGURE extra "}}"

static const char summary_response[] =
    "{\"type\":\"object\",\"required\":[\"organisation_id\",\"from\",\"to\",\"referrals\","
    "\"people\",\"households\",\"children_in_households\"],\"properties\":{"
    "\"organisation_id\":{\"type\":\"integer\"},"
    "\"from\":{\"type\":\"string\",\"format\":\"date\"},"
    "\"to\":{\"type\":\"string\",\"format\":\"date\"},"
    "\"generated_at\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "\"suppression\":{\"type\":\"object\"},"
    "\"referrals\":" GROUP(
        ",\"by_source\":" FIGURES
        ",\"by_status\":" FIGURES) ","
                                   "\"people\":" GROUP(
                                       ",\"by_custody_status\":" FIGURES ",\"by_sex\":" FIGURES
                                       ",\"by_age_band\":" FIGURES) ","
                                                                    "\"households\":" GROUP(
                                                                        "") ","
                                                                            "\"children_in_"
                                                                            "households\":" GROUP(
                                                                                "") "}}";

wm_status api_reports_register(struct server *srv)
{
	static const struct wm_route_doc doc = {
	    "Aggregate figures of one organisation (?organisation_id, ?from and ?to together as "
	    "YYYY-MM-DD; default the last complete calendar quarter): referrals received in the "
	    "period by source and status, people held (erased ones included, so an erasure "
	    "changes no figure) by custody status, sex and age band, households, children. "
	    "Commissioners (not admins) of the organisation may only ask for one calendar "
	    "quarter (from its first day to its last; else 422 core.bad_period naming from), so "
	    "overlapping periods cannot be differenced; admins may ask for any period of at most "
	    "5 years. Counts from 1 to 4 are suppressed, with enough other cells of a breakdown "
	    "to protect them.",
	    NULL, summary_response, 200};
	if (api_prepare(srv, "reports_summary", summary_sql, 6) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/reports/summary", report_summary, &doc,
	              WM_ROLE_ADMIN | WM_ROLE_COMMISSIONER) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
