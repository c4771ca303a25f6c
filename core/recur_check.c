/*
 * recur_check — the cheap model of an RRULE that runs before libical.
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
#include <libical/ical.h>
#include <string.h>
#include <strings.h>

#include "recur_check.h"

#define LIST_END(a) ((a)[0] == ICAL_RECURRENCE_ARRAY_MAX)

/* Days since 1970-01-01 of a civil date, and back (H. Hinnant's). */
long recur_days_from_civil(int y, int m, int d)
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

int recur_pattern_matches(const struct pattern *p, long day)
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
		int yd = (int)(day - recur_days_from_civil(y, 1, 1)) + 1;
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
wm_status recur_pattern_make(const struct icalrecurrencetype *r, struct icaltimetype start,
                             struct pattern *p, struct recur_error *err)
{
	const char *part = unsupported_part(r);
	int day, month;
	if (part)
		return recur_refuse(
		    err, 400, "core.bad_rrule", "rrule",
		    "rrule: %s is not supported (FREQ, INTERVAL, COUNT, UNTIL, WKST, "
		    "BYMONTH, BYMONTHDAY and BYDAY are).",
		    part);
	if (impossible_month_day(r, &day, &month))
		return recur_refuse(
		    err, 400, "core.bad_rrule", "rrule",
		    "rrule: BYMONTHDAY=%d never falls in the months of BYMONTH (e.g. %d), so "
		    "the rule has no occurrence.",
		    day, month);
	p->r = *r;
	p->r.interval = r->interval > 0 ? r->interval : 1;
	p->sy = start.year;
	p->sm = start.month;
	p->start = recur_days_from_civil(start.year, start.month, start.day);
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
