/*
 * ical_zone — compact VTIMEZONE blocks (ICAL.md D7) and feed RRULEs.
 *
 * Europe/London is the fixed 1970-based text of ICAL.md §6. Any other zone
 * is cut down from libical's built-in data: the observances whose RRULE is
 * open-ended (the rules in force now) restated from their first occurrence
 * in 1970, or, for a zone without daylight saving, one STANDARD observance
 * with its current offset. The TZID is the plain IANA name, never libical's
 * /freeassociation.sourceforge.net/ prefix. RRULEs are written in the order
 * libical writes them back (BYDAY before BYMONTH), so a round trip is
 * byte-identical. Blocks are built once per zone and kept for the life of
 * the process in a small cache behind a mutex; the strings handed out are
 * never freed or changed.
 */
#include <libical/ical.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "ical.h"
#include "ical_internal.h"

#define ZONE_CACHE_MAX 512 /* more than libical knows */
#define ZONE_NAME_MAX  63

static const char london[] = "BEGIN:VTIMEZONE\r\n"
                             "TZID:Europe/London\r\n"
                             "X-LIC-LOCATION:Europe/London\r\n"
                             "BEGIN:DAYLIGHT\r\n"
                             "TZNAME:BST\r\n"
                             "TZOFFSETFROM:+0000\r\n"
                             "TZOFFSETTO:+0100\r\n"
                             "DTSTART:19700329T010000\r\n"
                             "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\n"
                             "END:DAYLIGHT\r\n"
                             "BEGIN:STANDARD\r\n"
                             "TZNAME:GMT\r\n"
                             "TZOFFSETFROM:+0100\r\n"
                             "TZOFFSETTO:+0000\r\n"
                             "DTSTART:19701025T020000\r\n"
                             "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\n"
                             "END:STANDARD\r\n"
                             "END:VTIMEZONE\r\n";

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char tzid[ZONE_NAME_MAX + 1];
	char *block;
} cache[ZONE_CACHE_MAX];
static size_t cache_n;

static int name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > ZONE_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '/' || c == '_' || c == '+' || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

/* 0 = Sunday (Sakamoto's method). */
static int weekday(int y, int m, int d)
{
	static const int t[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
	if (m < 3)
		y--;
	return (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7;
}

static int array_len(const short *a, int max)
{
	int n = 0;
	while (n < max && a[n] != ICAL_RECURRENCE_ARRAY_MAX)
		n++;
	return n;
}

/* The first day in 1970 a yearly "nth weekday of a month" rule (optionally
 * limited to some days of the month) selects; 0 if the rule is of another
 * kind, and the observance then keeps its own DTSTART. */
static int first_day_1970(const struct icalrecurrencetype *r, int *month)
{
	if (r->freq != ICAL_YEARLY_RECURRENCE || r->interval != 1 ||
	    array_len(r->by_month, ICAL_BY_MONTH_SIZE) != 1 ||
	    array_len(r->by_day, ICAL_BY_DAY_SIZE) != 1 ||
	    array_len(r->by_second, ICAL_BY_SECOND_SIZE) ||
	    array_len(r->by_minute, ICAL_BY_MINUTE_SIZE) ||
	    array_len(r->by_hour, ICAL_BY_HOUR_SIZE) ||
	    array_len(r->by_year_day, ICAL_BY_YEARDAY_SIZE) ||
	    array_len(r->by_week_no, ICAL_BY_WEEKNO_SIZE) ||
	    array_len(r->by_set_pos, ICAL_BY_SETPOS_SIZE))
		return 0;
	int m = r->by_month[0], dow = (int)icalrecurrencetype_day_day_of_week(r->by_day[0]) - 1;
	int pos = icalrecurrencetype_day_position(r->by_day[0]);
	int n_md = array_len(r->by_month_day, ICAL_BY_MONTHDAY_SIZE);
	if (m < 1 || m > 12 || dow < 0 || dow > 6)
		return 0;
	int last = icaltime_days_in_month(m, 1970);
	for (int d = 1; d <= last; d++) {
		if (weekday(1970, m, d) != dow)
			continue;
		if (pos > 0 && (d - 1) / 7 + 1 != pos)
			continue;
		if (pos < 0 && (last - d) / 7 + 1 != -pos)
			continue;
		int md_ok = n_md == 0;
		for (int k = 0; k < n_md; k++)
			md_ok |= r->by_month_day[k] == d || r->by_month_day[k] == d - last - 1;
		if (!md_ok)
			continue;
		*month = m;
		return d;
	}
	return 0;
}

static void offset_text(char *buf, size_t n, int secs)
{
	char sign = secs < 0 ? '-' : '+';
	int a = secs < 0 ? -secs : secs;
	if (a % 60)
		snprintf(buf, n, "%c%02d%02d%02d", sign, a / 3600, a / 60 % 60, a % 60);
	else
		snprintf(buf, n, "%c%02d%02d", sign, a / 3600, a / 60 % 60);
}

struct obs {
	icalcomponent *c;
	struct icaltimetype start;
	int daylight;
	int has_rule, open; /* an RRULE; one without UNTIL or COUNT */
	struct icalrecurrencetype rule;
	long long last; /* key() of its last change: DTSTART, RDATEs, UNTIL */
};

/* Orders local and UTC times alike by their fields (good enough to tell
 * which observance changed last). */
static long long key(struct icaltimetype t)
{
	return ((((long long)t.year * 100 + t.month) * 100 + t.day) * 100 + t.hour) * 10000 +
	       t.minute * 100 + t.second;
}

static wm_status put_obs(struct ical_buf *b, struct ical_buf *scratch, const struct obs *o,
                         int fixed)
{
	char line[96], from[16], to[16];
	icalproperty *p;
	int written, off_from = 0, off_to = 0,
	             daylight = !fixed && icalcomponent_isa(o->c) == ICAL_XDAYLIGHT_COMPONENT;
	if ((p = icalcomponent_get_first_property(o->c, ICAL_TZOFFSETFROM_PROPERTY)))
		off_from = icalproperty_get_tzoffsetfrom(p);
	if ((p = icalcomponent_get_first_property(o->c, ICAL_TZOFFSETTO_PROPERTY)))
		off_to = icalproperty_get_tzoffsetto(p);
	offset_text(to, sizeof to, off_to);
	offset_text(from, sizeof from, fixed ? off_to : off_from);
	if (ical_line(b, daylight ? "BEGIN:DAYLIGHT" : "BEGIN:STANDARD") != WM_OK)
		return WM_ERR;
	if ((p = icalcomponent_get_first_property(o->c, ICAL_TZNAME_PROPERTY))) {
		const char *name = icalproperty_get_tzname(p);
		if (name && ical_put_value(b, scratch, "TZNAME", name, strlen(name), WM_ICAL_TEXT,
		                           &written) != WM_OK)
			return WM_ERR;
	}
	struct icaltimetype t = o->start;
	int month = 0, day = fixed ? 0 : (o->open ? first_day_1970(&o->rule, &month) : 0);
	if (fixed) {
		t.year = 1970;
		t.month = 1;
		t.day = 1;
		t.hour = t.minute = t.second = 0;
	} else if (day) {
		t.year = 1970;
		t.month = month;
		t.day = day;
	}
	snprintf(line, sizeof line, "TZOFFSETFROM:%s", from);
	if (ical_line(b, line) != WM_OK)
		return WM_ERR;
	snprintf(line, sizeof line, "TZOFFSETTO:%s", to);
	if (ical_line(b, line) != WM_OK)
		return WM_ERR;
	snprintf(line, sizeof line, "DTSTART:%04d%02d%02dT%02d%02d%02d", t.year, t.month, t.day,
	         t.hour, t.minute, t.second);
	if (ical_line(b, line) != WM_OK)
		return WM_ERR;
	if (!fixed) {
		char *rule = icalrecurrencetype_as_string_r((struct icalrecurrencetype *)&o->rule);
		if (!rule)
			return WM_ERR;
		snprintf(line, sizeof line, "RRULE:%s", rule);
		int r =
		    strlen(rule) < sizeof line - 7 ? ical_fold_append(b, line, strlen(line)) : -1;
		icalmemory_free_buffer(rule);
		if (r != 0)
			return WM_ERR;
	}
	return ical_line(b, daylight ? "END:DAYLIGHT" : "END:STANDARD");
}

/* libical's data for a zone read from the system's TZif files ends with
 * stand-ins from 2037/2038 (the end of 32-bit time), sometimes with wrong
 * offsets or times of day; the rules in force today run until then. */
#define ARTEFACT_YEAR 2037
#define VALID_FROM    "20240101" /* blocks must be right from here on */

/* Whether a block gives the same UTC offset as libical's zone at noon on
 * every day from 2024 to 2036: feeds reach 8 weeks back, and fixed years
 * keep the bytes independent of the clock. */
static int agrees(icaltimezone *theirs, const char *block)
{
	icalcomponent *c = icalparser_parse_string(block);
	icaltimezone *mine = icaltimezone_new();
	int ok = c && mine && icalcomponent_isa(c) == ICAL_VTIMEZONE_COMPONENT &&
	         icaltimezone_set_component(mine, c);
	if (ok)
		c = NULL; /* the zone owns it now */
	struct icaltimetype t = icaltime_from_string(VALID_FROM "T120000");
	while (ok && t.year < ARTEFACT_YEAR) {
		ok = icaltimezone_get_utc_offset(mine, &t, NULL) ==
		     icaltimezone_get_utc_offset(theirs, &t, NULL);
		icaltime_adjust(&t, 1, 0, 0, 0);
	}
	if (mine)
		icaltimezone_free(mine, 1);
	if (c)
		icalcomponent_free(c);
	icalerror_clear_errno();
	return ok;
}

/* For the few zones whose changes follow no yearly rule (Morocco's
 * Ramadan, Palestine) or whose rules changed since: libical's own
 * observances from 2024 on, cut down
 * with icaltimezone_truncate_vtimezone() and renamed to the plain TZID. */
static char *fallback(const icalcomponent *full, const char *tzid)
{
	icalcomponent *vtz = icalcomponent_new_clone((icalcomponent *)full);
	if (!vtz)
		return NULL;
	icaltimezone_truncate_vtimezone(vtz, icaltime_from_string(VALID_FROM "T000000"),
	                                icaltime_from_string("20380101T000000"), 1);
	icalproperty *p = icalcomponent_get_first_property(vtz, ICAL_TZID_PROPERTY);
	if (p)
		icalproperty_set_tzid(p, tzid);
	char *text = icalcomponent_as_ical_string_r(vtz), *out = text ? strdup(text) : NULL;
	icalmemory_free_buffer(text);
	icalcomponent_free(vtz);
	icalerror_clear_errno();
	return out;
}

/* Builds the compact block for a zone libical knows; NULL otherwise.
 * PostgreSQL (which validates programme.time_zone) also accepts "UTC" and
 * "GMT", which libical knows only as Etc/UTC and Etc/GMT: a bare name
 * libical lacks is looked up under Etc/, and the block keeps the name the
 * feed uses as its TZID. */
static char *build(const char *tzid)
{
	char etc[ZONE_NAME_MAX + 8];
	const char *name = tzid;
	icaltimezone *z = icaltimezone_get_builtin_timezone(tzid);
	icalcomponent *full = z ? icaltimezone_get_component(z) : NULL;
	/* libical answers "UTC" with its UTC zone, which has no component. */
	if (!full && !strchr(tzid, '/')) {
		snprintf(etc, sizeof etc, "Etc/%s", tzid);
		name = etc;
		z = icaltimezone_get_builtin_timezone(name);
		full = z ? icaltimezone_get_component(z) : NULL;
	}
	icalerror_clear_errno();
	const char *loc = z ? icaltimezone_get_location(z) : NULL;
	if (!full || !loc || strcmp(loc, name) != 0)
		return NULL;
	/* A private copy: walking a component moves its internal iterator. */
	icalcomponent *vtz = icalcomponent_new_clone(full);
	struct obs rules[2] = {{0}}, latest = {0}; /* rules[daylight] */
	struct ical_buf b = {.max = 16384}, scratch = {.max = 1024};
	char *out = NULL;
	if (!vtz)
		return NULL;
	for (icalcomponent *c = icalcomponent_get_first_component(vtz, ICAL_ANY_COMPONENT); c;
	     c = icalcomponent_get_next_component(vtz, ICAL_ANY_COMPONENT)) {
		icalcomponent_kind k = icalcomponent_isa(c);
		if (k != ICAL_XDAYLIGHT_COMPONENT && k != ICAL_XSTANDARD_COMPONENT)
			continue;
		icalproperty *ds = icalcomponent_get_first_property(c, ICAL_DTSTART_PROPERTY);
		icalproperty *rr = icalcomponent_get_first_property(c, ICAL_RRULE_PROPERTY);
		if (!ds)
			continue;
		struct obs o = {.c = c,
		                .start = icalproperty_get_dtstart(ds),
		                .daylight = k == ICAL_XDAYLIGHT_COMPONENT};
		o.last = key(o.start);
		if (rr) {
			o.rule = icalproperty_get_rrule(rr);
			o.has_rule = 1;
			o.open = icaltime_is_null_time(o.rule.until) && o.rule.count == 0;
			if (!icaltime_is_null_time(o.rule.until) && key(o.rule.until) > o.last)
				o.last = key(o.rule.until);
		}
		for (icalproperty *rd = icalcomponent_get_first_property(c, ICAL_RDATE_PROPERTY);
		     rd; rd = icalcomponent_get_next_property(c, ICAL_RDATE_PROPERTY)) {
			struct icaldatetimeperiodtype v = icalproperty_get_rdate(rd);
			if (!icaltime_is_null_time(v.time) && key(v.time) > o.last)
				o.last = key(v.time);
		}
		if (o.start.year >= ARTEFACT_YEAR)
			continue;
		/* A rule in force today: it runs until the stand-ins take over. */
		if (o.has_rule && (o.open || o.rule.until.year >= ARTEFACT_YEAR - 1) &&
		    (!rules[o.daylight].c || key(o.start) > key(rules[o.daylight].start)))
			rules[o.daylight] = o;
		if (!latest.c || o.last > latest.last)
			latest = o;
	}
	if (!latest.c)
		goto done;
	int ok = ical_line(&b, "BEGIN:VTIMEZONE") == WM_OK;
	char line[96];
	snprintf(line, sizeof line, "TZID:%s", tzid);
	ok = ok && ical_line(&b, line) == WM_OK;
	snprintf(line, sizeof line, "X-LIC-LOCATION:%s", tzid);
	ok = ok && ical_line(&b, line) == WM_OK;
	if (rules[0].c && rules[1].c) {       /* DAYLIGHT first, as in ICAL.md §6 */
		for (int i = 0; i < 2; i++) { /* restated from 1970, open-ended */
			rules[i].open = 1;
			rules[i].rule.until = icaltime_null_time();
			rules[i].rule.count = 0;
		}
		ok = ok && put_obs(&b, &scratch, &rules[1], 0) == WM_OK &&
		     put_obs(&b, &scratch, &rules[0], 0) == WM_OK;
	} else { /* no daylight saving any more: the offset in force since the last change */
		ok = ok && put_obs(&b, &scratch, &latest, 1) == WM_OK;
	}
	ok = ok && ical_line(&b, "END:VTIMEZONE") == WM_OK && ical_buf_append(&b, "", 1) == WM_OK;
	if (ok) {
		out = b.p;
		b.p = NULL;
		/* Checked against a private zone made from a copy of libical's data, so
		 * no shared libical zone is expanded here (this may run on any thread). */
		icaltimezone *theirs = icaltimezone_new();
		icalcomponent *copy = icalcomponent_new_clone(full);
		if (!theirs || !copy || !icaltimezone_set_component(theirs, copy)) {
			if (copy)
				icalcomponent_free(copy);
			free(out);
			out = NULL;
		} else if (!agrees(theirs, out)) {
			free(out);
			out = fallback(full, tzid);
		}
		if (theirs)
			icaltimezone_free(theirs, 1);
	}
done:
	ical_buf_free(&b);
	ical_buf_free(&scratch);
	icalcomponent_free(vtz);
	return out;
}

const char *ical_zone_block(const char *tzid)
{
	if (!name_ok(tzid))
		return NULL;
	if (!strcmp(tzid, "Europe/London"))
		return london;
	const char *res = NULL;
	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < cache_n; i++)
		if (!strcmp(cache[i].tzid, tzid)) {
			res = cache[i].block;
			goto out;
		}
	char *block = build(tzid);
	if (block && cache_n < ZONE_CACHE_MAX) { /* unknown names are not kept */
		memcpy(cache[cache_n].tzid, tzid, strlen(tzid) + 1);
		cache[cache_n++].block = block;
		res = block;
	} else {
		free(block); /* a full cache: the caller cannot own it, so refuse */
	}
out:
	pthread_mutex_unlock(&cache_lock);
	return res;
}

wm_status ical_zones_warm(void)
{
	/* libical's zone table (and its error state) is global: touch it once
	 * here, on the start-up thread, as core/recur.c does. */
	icalerror_set_errors_are_fatal(0);
	if (!icaltimezone_get_builtin_timezone("Europe/London") || !icaltimezone_get_utc_timezone())
		return WM_ERR;
	return ical_zone_block("Europe/London") ? WM_OK : WM_ERR;
}
