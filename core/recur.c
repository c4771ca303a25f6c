/*
 * recur — RRULE expansion with libical (see recur.h for the rules).
 */
#include <ctype.h>
#include <libical/ical.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "recur.h"

static int recur_ready;

void recur_init(void)
{
	if (recur_ready)
		return;
	/* A libical build may abort on errors; a server must not. */
	icalerror_set_errors_are_fatal(0);
	(void)icaltimezone_get_builtin_timezone("Europe/London");
	(void)icaltimezone_get_utc_timezone();
	recur_ready = 1;
}

static wm_status refuse(struct recur_error *err, int status, const char *code, const char *field,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static wm_status refuse(struct recur_error *err, int status, const char *code, const char *field,
                        const char *fmt, ...)
{
	va_list ap;
	err->status = status;
	err->code = code;
	err->field = field;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	return WM_ERR;
}

/* "YYYY-MM-DDTHH:MM[:SS]" into a floating icaltimetype; 0 if malformed. */
static int parse_local(const char *s, struct icaltimetype *t)
{
	int y, mo, d, h, mi, sec = 0, n = 0;
	size_t len = s ? strlen(s) : 0;
	if (len == 16) {
		if (sscanf(s, "%4d-%2d-%2dT%2d:%2d%n", &y, &mo, &d, &h, &mi, &n) != 5 || n != 16)
			return 0;
	} else if (len == 19) {
		if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
		    n != 19)
			return 0;
	} else
		return 0;
	if (y < 1900 || y > 2200 || mo < 1 || mo > 12 || d < 1 ||
	    d > icaltime_days_in_month(mo, y) || h > 23 || mi > 59 || sec > 59 || h < 0 || mi < 0 ||
	    sec < 0)
		return 0;
	*t = icaltime_null_time();
	t->year = y;
	t->month = mo;
	t->day = d;
	t->hour = h;
	t->minute = mi;
	t->second = sec;
	return 1;
}

/* Seconds since the epoch of a floating time's fields read as UTC. */
static time_t fields_as_utc(struct icaltimetype t)
{
	struct tm tm = {.tm_year = t.year - 1900,
	                .tm_mon = t.month - 1,
	                .tm_mday = t.day,
	                .tm_hour = t.hour,
	                .tm_min = t.minute,
	                .tm_sec = t.second};
	return timegm(&tm);
}

/* The local wall-clock time of UTC instant `u` in `z`, as seconds since the
 * epoch of its fields read as UTC. */
static time_t local_of(icaltimezone *z, time_t u)
{
	return fields_as_utc(icaltime_from_timet_with_zone(u, 0, z));
}

static int offset_at(icaltimezone *z, time_t u)
{
	struct icaltimetype t =
	    icaltime_from_timet_with_zone(u, 0, icaltimezone_get_utc_timezone());
	int dst = 0;
	return icaltimezone_get_utc_offset_of_utc_time(z, &t, &dst);
}

/* A local time's UTC instant: 0 once, 1 skipped, 2 twice. A day either side
 * holds the offsets in force around any one clock change. */
static int place(icaltimezone *z, struct icaltimetype local, time_t *out)
{
	time_t naive = fields_as_utc(local), found[2];
	int offs[2] = {offset_at(z, naive - 86400), offset_at(z, naive + 86400)}, n = 0;
	for (int i = 0; i < 2; i++) {
		time_t u = naive - offs[i];
		if (local_of(z, u) == naive && (n == 0 || found[0] != u))
			found[n++] = u;
	}
	if (n == 0)
		return 1;
	*out = found[0];
	return n == 1 ? 0 : 2;
}

int recur_local_to_utc(const char *tzid, const char *local, time_t *out)
{
	struct icaltimetype t;
	recur_init();
	icaltimezone *z = tzid ? icaltimezone_get_builtin_timezone(tzid) : NULL;
	if (!z || !parse_local(local, &t))
		return -1;
	return place(z, t, out);
}

static void format_local(struct icaltimetype t, char out[20])
{
	snprintf(out, 20, "%04u-%02u-%02uT%02u:%02u:%02u", (unsigned)t.year % 10000u,
	         (unsigned)t.month % 100u, (unsigned)t.day % 100u, (unsigned)t.hour % 100u,
	         (unsigned)t.minute % 100u, (unsigned)t.second % 100u);
}

/* The rule text as libical wants it: no "RRULE:" prefix, upper case. */
static int normalise(const char *in, char *out, size_t len)
{
	if (!strncasecmp(in, "RRULE:", 6))
		in += 6;
	size_t n = strlen(in);
	if (n == 0 || n >= len)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c <= ' ' || c >= 0x7f)
			return 0;
		out[i] = (char)toupper(c);
	}
	out[n] = '\0';
	return 1;
}

/* UNTIL in UTC, as RFC 5545 requires with a zoned DTSTART: a date becomes
 * the end of that local day, a floating time that time in the zone. */
static int until_utc(icaltimezone *z, struct icaltimetype until, time_t *out)
{
	struct icaltimetype local = until;
	if (icaltime_is_utc(until)) {
		*out = icaltime_as_timet_with_zone(until, icaltimezone_get_utc_timezone());
		return 1;
	}
	if (until.is_date) {
		local.is_date = 0;
		local.hour = 23;
		local.minute = 59;
		local.second = 59;
	}
	local.zone = NULL;
	if (place(z, local, out) == 1)
		return 0;
	return 1;
}

static wm_status parse_rule(const struct recur_spec *spec, icaltimezone *z,
                            struct icalrecurrencetype *r, time_t *until, struct recur_error *err)
{
	char text[RECUR_RULE_MAX + 1];
	if (!spec->rrule || !normalise(spec->rrule, text, sizeof text))
		return refuse(err, 400, "core.bad_rrule", "rrule",
		              "rrule must be an RFC 5545 rule of at most %d characters without "
		              "spaces, e.g. FREQ=WEEKLY;BYDAY=TU.",
		              RECUR_RULE_MAX);
	icalerror_clear_errno();
	*r = icalrecurrencetype_from_string(text);
	if (icalerrno != ICAL_NO_ERROR || r->freq == ICAL_NO_RECURRENCE) {
		icalerror_clear_errno();
		return refuse(err, 400, "core.bad_rrule", "rrule",
		              "rrule is not a recurrence rule libical accepts (RFC 5545), e.g. "
		              "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=10.");
	}
	if (r->freq == ICAL_SECONDLY_RECURRENCE || r->freq == ICAL_MINUTELY_RECURRENCE ||
	    r->freq == ICAL_HOURLY_RECURRENCE)
		return refuse(err, 400, "core.bad_rrule", "rrule",
		              "FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY.");
	int has_until = !icaltime_is_null_time(r->until);
	if (r->count > 0 && has_until)
		return refuse(err, 400, "core.bad_rrule", "rrule",
		              "rrule may have COUNT or UNTIL, not both.");
	if (spec->until_date && (r->count > 0 || has_until))
		return refuse(err, 400, "core.bad_rrule", "until",
		              "Give until, or COUNT/UNTIL in rrule, not both.");
	*until = 0;
	if (spec->until_date) {
		struct icaltimetype d;
		char buf[20];
		snprintf(buf, sizeof buf, "%.10sT00:00:00", spec->until_date);
		if (strlen(spec->until_date) != 10 || !parse_local(buf, &d))
			return refuse(err, 400, "core.bad_date", "until",
			              "until must be a date that exists, written YYYY-MM-DD.");
		d.is_date = 1;
		r->until = d;
		has_until = 1;
	}
	if (has_until) {
		if (!until_utc(z, r->until, until))
			return refuse(err, 422, "core.nonexistent_time", "rrule",
			              "UNTIL is a local time that does not exist in %s.",
			              spec->tzid);
		/* Stored and emitted in UTC; the iteration applies it itself. */
		r->until =
		    icaltime_from_timet_with_zone(*until, 0, icaltimezone_get_utc_timezone());
	}
	return WM_OK;
}

/* --- A cheap check before libical ----------------------------------------
 *
 * libical 3.0's iterator looks for the next occurrence day by day (or year
 * by year) up to the year 2582, so a rule that never (or only rarely)
 * matches keeps the loop busy for a second or more. Before it runs, the
 * rule is matched here against every local date within the horizon (at
 * most ~732 days): no match refuses the rule, and libical is then asked for
 * exactly as many occurrences as matched, each of which must fall on the
 * date the check found — so no call to icalrecur_iterator_next() ever
 * looks further than the horizon. Only what this check models is accepted:
 * FREQ, INTERVAL, WKST, BYMONTH, BYMONTHDAY and BYDAY (ordinals for
 * MONTHLY and YEARLY); the other BY parts are refused. */

#define LIST_END(a) ((a)[0] == ICAL_RECURRENCE_ARRAY_MAX)

/* Days since 1970-01-01 of a civil date, and back (H. Hinnant's). */
static long days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	long yoe = y - era * 400;
	long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static void civil_from_days(long z, int *y, int *m, int *d)
{
	z += 719468;
	long era = (z >= 0 ? z : z - 146096) / 146097;
	long doe = z - era * 146097;
	long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* 0 Sunday .. 6 Saturday (1970-01-01 was a Thursday). */
static int weekday(long day)
{
	return (int)(((day + 4) % 7 + 7) % 7);
}

struct pattern {
	struct icalrecurrencetype r; /* with RFC 5545's defaults from DTSTART filled in */
	long start, start_week;      /* DTSTART's date and the first day of its week */
	int sy, sm, wkst;            /* wkst: 0 Sunday .. 6 Saturday */
};

static long week_of(const struct pattern *p, long day)
{
	return day - (weekday(day) - p->wkst + 7) % 7;
}

/* An ordinal weekday (2TU, -1FR) counted in a span of `len` days, `pos`
 * the date's place in it from 1. */
static int nth_matches(int n, int pos, int len)
{
	if (n > 0)
		return (pos - 1) / 7 + 1 == n;
	return (len - pos) / 7 + 1 == -n;
}

static int day_matches(const struct pattern *p, long day)
{
	const struct icalrecurrencetype *r = &p->r;
	int y, m, d, i, ok;
	long k;
	if (day < p->start)
		return 0;
	civil_from_days(day, &y, &m, &d);
	switch (r->freq) {
	case ICAL_DAILY_RECURRENCE:
		k = day - p->start;
		break;
	case ICAL_WEEKLY_RECURRENCE:
		k = (week_of(p, day) - p->start_week) / 7;
		break;
	case ICAL_MONTHLY_RECURRENCE:
		k = (long)(y - p->sy) * 12 + m - p->sm;
		break;
	default:
		k = y - p->sy;
	}
	if (k % r->interval != 0)
		return 0;
	if (!LIST_END(r->by_month)) {
		for (i = 0, ok = 0; r->by_month[i] != ICAL_RECURRENCE_ARRAY_MAX; i++)
			ok |= icalrecurrencetype_month_month(r->by_month[i]) == m;
		if (!ok)
			return 0;
	}
	int dim = icaltime_days_in_month(m, y);
	if (!LIST_END(r->by_month_day)) {
		for (i = 0, ok = 0; r->by_month_day[i] != ICAL_RECURRENCE_ARRAY_MAX; i++) {
			int v = r->by_month_day[i];
			ok |= v > 0 ? d == v : d == dim + v + 1;
		}
		if (!ok)
			return 0;
	}
	if (!LIST_END(r->by_day)) {
		int in_year = r->freq == ICAL_YEARLY_RECURRENCE && LIST_END(r->by_month);
		int yd = (int)(day - days_from_civil(y, 1, 1)) + 1;
		for (i = 0, ok = 0; r->by_day[i] != ICAL_RECURRENCE_ARRAY_MAX; i++) {
			int n = icalrecurrencetype_day_position(r->by_day[i]);
			if ((int)icalrecurrencetype_day_day_of_week(r->by_day[i]) - 1 !=
			    weekday(day))
				continue;
			ok |= n == 0 || (in_year ? nth_matches(n, yd, icaltime_days_in_year(y))
			                         : nth_matches(n, d, dim));
		}
		if (!ok)
			return 0;
	}
	return 1;
}

static const char *unsupported_part(const struct icalrecurrencetype *r)
{
	if (!LIST_END(r->by_year_day))
		return "BYYEARDAY";
	if (!LIST_END(r->by_week_no))
		return "BYWEEKNO";
	if (!LIST_END(r->by_set_pos))
		return "BYSETPOS";
	if (!LIST_END(r->by_hour))
		return "BYHOUR";
	if (!LIST_END(r->by_minute))
		return "BYMINUTE";
	if (!LIST_END(r->by_second))
		return "BYSECOND";
	if (r->rscale)
		return "RSCALE";
	if (r->freq == ICAL_WEEKLY_RECURRENCE && !LIST_END(r->by_month_day))
		return "BYMONTHDAY with FREQ=WEEKLY";
	/* libical takes DTSTART's month, RFC 5545 readers (dateutil) every month. */
	if (r->freq == ICAL_YEARLY_RECURRENCE && !LIST_END(r->by_month_day) &&
	    LIST_END(r->by_month))
		return "BYMONTHDAY without BYMONTH in a YEARLY rule";
	for (int i = 0; r->by_month[i] != ICAL_RECURRENCE_ARRAY_MAX; i++)
		if (icalrecurrencetype_month_is_leap(r->by_month[i]))
			return "a leap month";
	if (r->freq == ICAL_DAILY_RECURRENCE || r->freq == ICAL_WEEKLY_RECURRENCE)
		for (int i = 0; r->by_day[i] != ICAL_RECURRENCE_ARRAY_MAX; i++)
			if (icalrecurrencetype_day_position(r->by_day[i]) != 0)
				return "BYDAY with an ordinal (2TU) in a DAILY or WEEKLY rule";
	return NULL;
}

/* A BYMONTHDAY no BYMONTH month can hold (30 or 31 in February, 31 in a
 * 30-day month). February counts 29 days: leap years have them. */
static int impossible_month_day(const struct icalrecurrencetype *r, int *day, int *month)
{
	static const int longest[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (LIST_END(r->by_month))
		return 0;
	for (int i = 0; r->by_month_day[i] != ICAL_RECURRENCE_ARRAY_MAX; i++) {
		int v = abs(r->by_month_day[i]), fits = 0, j;
		for (j = 0; r->by_month[j] != ICAL_RECURRENCE_ARRAY_MAX; j++) {
			int m = icalrecurrencetype_month_month(r->by_month[j]);
			fits |= m >= 1 && m <= 12 && v <= longest[m];
		}
		if (!fits) {
			*day = r->by_month_day[i];
			*month = icalrecurrencetype_month_month(r->by_month[0]);
			return 1;
		}
	}
	return 0;
}

/* The rule with what RFC 5545 takes from DTSTART when a part is missing:
 * WEEKLY its weekday, MONTHLY its day of the month, YEARLY its month and
 * day (a BYMONTH alone: its day). */
static wm_status make_pattern(const struct icalrecurrencetype *r, struct icaltimetype start,
                              struct pattern *p, struct recur_error *err)
{
	const char *part = unsupported_part(r);
	int day, month;
	if (part)
		return refuse(err, 400, "core.bad_rrule", "rrule",
		              "rrule: %s is not supported (FREQ, INTERVAL, COUNT, UNTIL, WKST, "
		              "BYMONTH, BYMONTHDAY and BYDAY are).",
		              part);
	if (impossible_month_day(r, &day, &month))
		return refuse(
		    err, 400, "core.bad_rrule", "rrule",
		    "rrule: BYMONTHDAY=%d never falls in the months of BYMONTH (e.g. %d), so "
		    "the rule has no occurrence.",
		    day, month);
	p->r = *r;
	p->r.interval = r->interval > 0 ? r->interval : 1;
	p->sy = start.year;
	p->sm = start.month;
	p->start = days_from_civil(start.year, start.month, start.day);
	p->wkst = r->week_start >= ICAL_SUNDAY_WEEKDAY && r->week_start <= ICAL_SATURDAY_WEEKDAY
	              ? (int)r->week_start - 1
	              : 1;
	p->start_week = week_of(p, p->start);
	int no_day = LIST_END(r->by_day), no_mday = LIST_END(r->by_month_day);
	if (r->freq == ICAL_WEEKLY_RECURRENCE && no_day) {
		p->r.by_day[0] = (short)(weekday(p->start) + 1);
		p->r.by_day[1] = ICAL_RECURRENCE_ARRAY_MAX;
	}
	if ((r->freq == ICAL_MONTHLY_RECURRENCE || r->freq == ICAL_YEARLY_RECURRENCE) && no_day &&
	    no_mday) {
		p->r.by_month_day[0] = (short)start.day;
		p->r.by_month_day[1] = ICAL_RECURRENCE_ARRAY_MAX;
		if (r->freq == ICAL_YEARLY_RECURRENCE && LIST_END(r->by_month)) {
			p->r.by_month[0] = (short)start.month;
			p->r.by_month[1] = ICAL_RECURRENCE_ARRAY_MAX;
		}
	}
	return WM_OK;
}

/* Why a local start cannot be placed, with the instance's local time. */
static wm_status misplaced(struct recur_error *err, int how, struct icaltimetype t,
                           const char *tzid, int first)
{
	char when[20];
	format_local(t, when);
	when[10] = ' ';
	when[16] = '\0';
	const char *field = first ? "start" : "rrule";
	if (how == 1)
		return refuse(err, 422, "core.nonexistent_time", field,
		              "%s does not exist in %s: the clocks go forward then. Choose another "
		              "time or rule.",
		              when, tzid);
	return refuse(err, 422, "core.ambiguous_time", field,
	              "%s happens twice in %s: the clocks go back then. Choose another time or "
	              "rule.",
	              when, tzid);
}

wm_status recur_expand(const struct recur_spec *spec, struct recur_instance *out,
                       struct recur_result *res, struct recur_error *err)
{
	struct icalrecurrencetype r;
	struct icaltimetype start;
	icalrecur_iterator *it = NULL;
	time_t until = 0, first = 0;
	size_t max = spec->max ? spec->max : RECUR_MAX_INSTANCES;
	long long horizon = spec->horizon_s > 0 ? spec->horizon_s : RECUR_HORIZON_S;
	wm_status st = WM_ERR;

	recur_init();
	memset(res, 0, sizeof *res);
	icaltimezone *z = spec->tzid ? icaltimezone_get_builtin_timezone(spec->tzid) : NULL;
	if (!z)
		return refuse(err, 400, "core.bad_time_zone", "time_zone",
		              "The programme's time zone is not one libical knows.");
	if (!parse_local(spec->dtstart_local, &start))
		return refuse(err, 400, "core.bad_time", "start",
		              "start must be a local date-time, YYYY-MM-DDTHH:MM[:SS].");
	if (spec->duration_s <= 0 || spec->duration_s > 86400)
		return refuse(err, 400, "core.out_of_range", "duration_minutes",
		              "duration_minutes must be from 1 to 1440.");
	if (parse_rule(spec, z, &r, &until, err) != WM_OK)
		return WM_ERR;
	res->bounded = r.count > 0 || until != 0;

	char *canon = icalrecurrencetype_as_string_r(&r);
	if (!canon || strlen(canon) > RECUR_RULE_MAX) {
		free(canon);
		return refuse(err, 400, "core.bad_rrule", "rrule", "rrule is too long.");
	}
	memcpy(res->rule, canon, strlen(canon) + 1);
	free(canon);

	struct pattern pat;
	if (make_pattern(&r, start, &pat, err) != WM_OK)
		return WM_ERR;
	int how = place(z, start, &first);
	if (how != 0)
		return misplaced(err, how, start, spec->tzid, 1);
	res->expanded_until = first + (time_t)horizon;
	if (until > res->expanded_until)
		return refuse(
		    err, 422, "core.too_many_sessions", spec->until_date ? "until" : "rrule",
		    "A series may run for at most two years from its start; end it sooner.");

	/* The dates the rule matches within the horizon (a day of slack: the
	 * UTC checks below are exact), and how many of them UNTIL keeps. */
	long tod = start.hour * 3600L + start.minute * 60L + start.second;
	long last_day = pat.start + (long)(horizon / 86400) + 1, first_day = -1;
	long until_local = until ? (long)local_of(z, until) : 0;
	size_t matches = 0, calls = 0;
	for (long day = pat.start; day <= last_day; day++) {
		if (!day_matches(&pat, day))
			continue;
		if (first_day < 0)
			first_day = day;
		matches++;
		if (!until || day * 86400 + tod <= until_local + 86400)
			calls++;
	}
	if (matches == 0)
		return refuse(err, 400, "core.bad_rrule", "rrule",
		              "rrule: the rule has no occurrence in the next two years.");
	if (first_day != pat.start)
		return refuse(err, 422, "core.bad_rrule", "start",
		              "start must be the rule's first occurrence (RFC 5545: DTSTART is "
		              "synchronised with the rule); e.g. a Tuesday for BYDAY=TU.");
	if (r.count > 0 && (size_t)r.count < calls)
		calls = (size_t)r.count;
	if (calls > max + 1)
		calls = max + 1;

	/* Expanded in local time, without UNTIL (applied here in UTC), asking
	 * libical for no more occurrences than the check found. */
	struct icalrecurrencetype walk = r;
	walk.until = icaltime_null_time();
	icalerror_clear_errno();
	if (!(it = icalrecur_iterator_new(walk, start))) {
		icalerror_clear_errno();
		return refuse(err, 400, "core.bad_rrule", "rrule",
		              "rrule is not a recurrence rule libical accepts (RFC 5545).");
	}
	long expect = pat.start - 1;
	for (size_t k = 0; k < calls; k++) {
		struct icaltimetype t = icalrecur_iterator_next(it);
		time_t u;
		while (++expect <= last_day && !day_matches(&pat, expect))
			;
		if (icaltime_is_null_time(t) || days_from_civil(t.year, t.month, t.day) != expect ||
		    t.hour * 3600L + t.minute * 60L + t.second != tod) {
			refuse(err, 400, "core.bad_rrule", "rrule",
			       "rrule: this combination of parts is not supported.");
			goto done;
		}
		if (res->n == 0 && icaltime_compare(t, start) != 0) {
			refuse(err, 422, "core.bad_rrule", "start",
			       "start must be the rule's first occurrence (RFC 5545: DTSTART is "
			       "synchronised with the rule); e.g. a Tuesday for BYDAY=TU.");
			goto done;
		}
		if ((how = place(z, t, &u)) != 0) {
			misplaced(err, how, t, spec->tzid, res->n == 0);
			goto done;
		}
		if (until && u > until)
			break;
		if (u >= res->expanded_until) {
			if (!res->bounded)
				break;
			refuse(err, 422, "core.too_many_sessions", "rrule",
			       "A series may run for at most two years from its start; end it "
			       "sooner (COUNT or UNTIL).");
			goto done;
		}
		if (res->n == max) {
			refuse(err, 422, "core.too_many_sessions", "rrule",
			       "A series may have at most %zu sessions within two years.", max);
			goto done;
		}
		out[res->n].start = u;
		out[res->n].end = u + spec->duration_s;
		format_local(t, out[res->n].local_start);
		res->n++;
	}
	/* COUNT goes on past the horizon (the check stopped there). */
	if (r.count > 0 && res->n < (size_t)r.count) {
		refuse(err, 422, "core.too_many_sessions", "rrule",
		       "A series may run for at most two years from its start; end it sooner "
		       "(COUNT or UNTIL).");
		goto done;
	}
	if (res->n == 0) {
		refuse(err, 422, "core.bad_rrule", "rrule", "The rule yields no sessions.");
		goto done;
	}
	st = WM_OK;
done:
	icalrecur_iterator_free(it);
	icalerror_clear_errno();
	return st;
}
