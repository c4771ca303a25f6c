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
#include "recur_check.h"

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

wm_status recur_refuse(struct recur_error *err, int status, const char *code, const char *field,
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
		return recur_refuse(
		    err, 400, "core.bad_rrule", "rrule",
		    "rrule must be an RFC 5545 rule of at most %d characters without "
		    "spaces, e.g. FREQ=WEEKLY;BYDAY=TU.",
		    RECUR_RULE_MAX);
	icalerror_clear_errno();
	*r = icalrecurrencetype_from_string(text);
	if (icalerrno != ICAL_NO_ERROR || r->freq == ICAL_NO_RECURRENCE) {
		icalerror_clear_errno();
		return recur_refuse(
		    err, 400, "core.bad_rrule", "rrule",
		    "rrule is not a recurrence rule libical accepts (RFC 5545), e.g. "
		    "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=10.");
	}
	if (r->freq == ICAL_SECONDLY_RECURRENCE || r->freq == ICAL_MINUTELY_RECURRENCE ||
	    r->freq == ICAL_HOURLY_RECURRENCE)
		return recur_refuse(err, 400, "core.bad_rrule", "rrule",
		                    "FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY.");
	int has_until = !icaltime_is_null_time(r->until);
	if (r->count > 0 && has_until)
		return recur_refuse(err, 400, "core.bad_rrule", "rrule",
		                    "rrule may have COUNT or UNTIL, not both.");
	if (spec->until_date && (r->count > 0 || has_until))
		return recur_refuse(err, 400, "core.bad_rrule", "until",
		                    "Give until, or COUNT/UNTIL in rrule, not both.");
	*until = 0;
	if (spec->until_date) {
		struct icaltimetype d;
		char buf[20];
		snprintf(buf, sizeof buf, "%.10sT00:00:00", spec->until_date);
		if (strlen(spec->until_date) != 10 || !parse_local(buf, &d))
			return recur_refuse(
			    err, 400, "core.bad_date", "until",
			    "until must be a date that exists, written YYYY-MM-DD.");
		d.is_date = 1;
		r->until = d;
		has_until = 1;
	}
	if (has_until) {
		if (!until_utc(z, r->until, until))
			return recur_refuse(err, 422, "core.nonexistent_time", "rrule",
			                    "UNTIL is a local time that does not exist in %s.",
			                    spec->tzid);
		/* Stored and emitted in UTC; the iteration applies it itself. */
		r->until =
		    icaltime_from_timet_with_zone(*until, 0, icaltimezone_get_utc_timezone());
	}
	return WM_OK;
}

static wm_status misplaced(struct recur_error *err, int how, struct icaltimetype t,
                           const char *tzid, int first)
{
	char when[20];
	format_local(t, when);
	when[10] = ' ';
	when[16] = '\0';
	const char *field = first ? "start" : "rrule";
	if (how == 1)
		return recur_refuse(
		    err, 422, "core.nonexistent_time", field,
		    "%s does not exist in %s: the clocks go forward then. Choose another "
		    "time or rule.",
		    when, tzid);
	return recur_refuse(
	    err, 422, "core.ambiguous_time", field,
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
		return recur_refuse(err, 400, "core.bad_time_zone", "time_zone",
		                    "The programme's time zone is not one libical knows.");
	if (!parse_local(spec->dtstart_local, &start))
		return recur_refuse(err, 400, "core.bad_time", "start",
		                    "start must be a local date-time, YYYY-MM-DDTHH:MM[:SS].");
	if (spec->duration_s <= 0 || spec->duration_s > 86400)
		return recur_refuse(err, 400, "core.out_of_range", "duration_minutes",
		                    "duration_minutes must be from 1 to 1440.");
	if (parse_rule(spec, z, &r, &until, err) != WM_OK)
		return WM_ERR;
	res->bounded = r.count > 0 || until != 0;

	char *canon = icalrecurrencetype_as_string_r(&r);
	if (!canon || strlen(canon) > RECUR_RULE_MAX) {
		free(canon);
		return recur_refuse(err, 400, "core.bad_rrule", "rrule", "rrule is too long.");
	}
	memcpy(res->rule, canon, strlen(canon) + 1);
	free(canon);

	struct pattern pat;
	if (recur_pattern_make(&r, start, &pat, err) != WM_OK)
		return WM_ERR;
	int how = place(z, start, &first);
	if (how != 0)
		return misplaced(err, how, start, spec->tzid, 1);
	res->expanded_until = first + (time_t)horizon;
	if (until > res->expanded_until)
		return recur_refuse(
		    err, 422, "core.too_many_sessions", spec->until_date ? "until" : "rrule",
		    "A series may run for at most two years from its start; end it sooner.");

	/* The dates the rule matches within the horizon (a day of slack: the
	 * UTC checks below are exact), and how many of them UNTIL keeps. */
	long tod = start.hour * 3600L + start.minute * 60L + start.second;
	long last_day = pat.start + (long)(horizon / 86400) + 1, first_day = -1;
	long until_local = until ? (long)local_of(z, until) : 0;
	size_t matches = 0, calls = 0;
	for (long day = pat.start; day <= last_day; day++) {
		if (!recur_pattern_matches(&pat, day))
			continue;
		if (first_day < 0)
			first_day = day;
		matches++;
		if (!until || day * 86400 + tod <= until_local + 86400)
			calls++;
	}
	if (matches == 0)
		return recur_refuse(err, 400, "core.bad_rrule", "rrule",
		                    "rrule: the rule has no occurrence in the next two years.");
	if (first_day != pat.start)
		return recur_refuse(
		    err, 422, "core.bad_rrule", "start",
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
		return recur_refuse(err, 400, "core.bad_rrule", "rrule",
		                    "rrule is not a recurrence rule libical accepts (RFC 5545).");
	}
	long expect = pat.start - 1;
	for (size_t k = 0; k < calls; k++) {
		struct icaltimetype t = icalrecur_iterator_next(it);
		time_t u;
		while (++expect <= last_day && !recur_pattern_matches(&pat, expect))
			;
		if (icaltime_is_null_time(t) ||
		    recur_days_from_civil(t.year, t.month, t.day) != expect ||
		    t.hour * 3600L + t.minute * 60L + t.second != tod) {
			recur_refuse(err, 400, "core.bad_rrule", "rrule",
			             "rrule: this combination of parts is not supported.");
			goto done;
		}
		if (res->n == 0 && icaltime_compare(t, start) != 0) {
			recur_refuse(
			    err, 422, "core.bad_rrule", "start",
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
			recur_refuse(
			    err, 422, "core.too_many_sessions", "rrule",
			    "A series may run for at most two years from its start; end it "
			    "sooner (COUNT or UNTIL).");
			goto done;
		}
		if (res->n == max) {
			recur_refuse(err, 422, "core.too_many_sessions", "rrule",
			             "A series may have at most %zu sessions within two years.",
			             max);
			goto done;
		}
		out[res->n].start = u;
		out[res->n].end = u + spec->duration_s;
		format_local(t, out[res->n].local_start);
		res->n++;
	}
	/* COUNT goes on past the horizon (the check stopped there). */
	if (r.count > 0 && res->n < (size_t)r.count) {
		recur_refuse(err, 422, "core.too_many_sessions", "rrule",
		             "A series may run for at most two years from its start; end it sooner "
		             "(COUNT or UNTIL).");
		goto done;
	}
	if (res->n == 0) {
		recur_refuse(err, 422, "core.bad_rrule", "rrule", "The rule yields no sessions.");
		goto done;
	}
	st = WM_OK;
done:
	icalrecur_iterator_free(it);
	icalerror_clear_errno();
	return st;
}
