/*
 * ical_write — the VCALENDAR and VEVENT writer behind core/ical.h. One
 * growing buffer per writer, no allocation per field (two scratch buffers
 * are reused), no global state. Every identifier and date-time is checked
 * for shape before it is written, so a bad row fails the feed loudly instead
 * of producing text a client rejects; every text field is sanitised.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ical.h"
#include "ical_internal.h"

#define MAX_ZONES    16
#define TZID_MAX     63
#define UID_MAX      255
#define PRODID_MAX   200
#define TEXT_MAX_ALL ICAL_DESCRIPTION_MAX

struct ical_writer {
	struct ical_buf out, scratch, clean;
	enum { W_FRESH, W_OPEN, W_ENDED } state;
	size_t n_zones;
	char zones[MAX_ZONES][TZID_MAX + 1];
};

struct ical_writer *ical_writer_new(size_t max_bytes)
{
	struct ical_writer *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->out.max = max_bytes;
	/* The scratch buffers hold one field each, however large the feed. */
	w->scratch.max = 2 * TEXT_MAX_ALL + 1024;
	w->clean.max = TEXT_MAX_ALL + 1;
	return w;
}

void ical_writer_free(struct ical_writer *w)
{
	if (!w)
		return;
	ical_buf_free(&w->out);
	ical_buf_free(&w->scratch);
	ical_buf_free(&w->clean);
	free(w);
}

void ical_writer_reset(struct ical_writer *w)
{
	w->out.len = 0;
	if (w->out.p)
		w->out.p[0] = '\0';
	w->out.failed = 0;
	w->scratch.failed = 0;
	w->clean.failed = 0;
	w->state = W_FRESH;
	w->n_zones = 0;
}

const char *ical_writer_data(const struct ical_writer *w, size_t *len)
{
	if (len)
		*len = w->out.len;
	return w->out.p ? w->out.p : "";
}

/* --- shapes ------------------------------------------------------------- */

static int num(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* "YYYYMMDDTHHMMSS" (utc: with a trailing 'Z'), a real date and time. */
static int datetime_ok(const char *s, int utc)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (!s)
		return 0;
	for (int i = 0; i < 15; i++) /* stops at a NUL: it is not a digit */
		if (i == 8 ? s[i] != 'T' : (s[i] < '0' || s[i] > '9'))
			return 0;
	if (utc ? (s[15] != 'Z' || s[16] != '\0') : s[15] != '\0')
		return 0;
	int y = num(s, 4), mo = num(s + 4, 2), d = num(s + 6, 2);
	if (y < 1900 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || num(s + 9, 2) > 23 ||
	    num(s + 11, 2) > 59 || num(s + 13, 2) > 59)
		return 0;
	if (mo == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400)))
		return 0;
	return 1;
}

/* An IANA zone name: letters, digits and / _ + - . only. */
static int tzid_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > TZID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '/' || c == '_' || c == '+' || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

/* A rule as ical_rrule_for_feed() writes it. */
static int rrule_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 6 || n > ICAL_RRULE_MAX || strncmp(s, "FREQ=", 5) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '=' || c == ';' ||
		      c == ',' || c == '+' || c == '-'))
			return 0;
	}
	return 1;
}

static int zone_given(const struct ical_writer *w, const char *tzid)
{
	for (size_t i = 0; i < w->n_zones; i++)
		if (!strcmp(w->zones[i], tzid))
			return 1;
	return 0;
}

/* --- lines -------------------------------------------------------------- */

static wm_status fail(struct ical_writer *w)
{
	w->out.failed = 1;
	return WM_ERR;
}

/* A line assembled from parts (no user text), folded like any other. Large
 * enough for "RRULE:" and the longest rule ical_rrule_for_feed() makes. */
static wm_status line3(struct ical_writer *w, const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0, lc = c ? strlen(c) : 0;
	char buf[64 + ICAL_RRULE_MAX];
	if (la + lb + lc > sizeof buf)
		return fail(w);
	memcpy(buf, a, la);
	if (lb)
		memcpy(buf + la, b, lb);
	if (lc)
		memcpy(buf + la + lb, c, lc);
	/* None of these lines can end in a bare CR: they are short, end in digits
	 * after a ':' (a break character within the last 74 octets), or are an
	 * RRULE that ical_rrule_for_feed() has checked for it. */
	return ical_fold_append(&w->out, buf, la + lb + lc) == 0 ? WM_OK : fail(w);
}

static wm_status zoned(struct ical_writer *w, const char *name, const char *tzid, const char *dt)
{
	char line[32 + TZID_MAX + 24];
	size_t ln = strlen(name), lt = strlen(tzid);
	if (!datetime_ok(dt, 0) || ln > 31)
		return fail(w);
	memcpy(line, name, ln);
	memcpy(line + ln, ";TZID=", 6);
	memcpy(line + ln + 6, tzid, lt);
	line[ln + 6 + lt] = ':';
	memcpy(line + ln + 7 + lt, dt, 15);
	/* Never a bare CR: the line ends in digits after a ':' within reach. */
	return ical_fold_append(&w->out, line, ln + lt + 22) == 0 ? WM_OK : fail(w);
}

/* A text property from raw input: sanitised, trimmed, escaped, folded.
 * Writes nothing when the cleaned text is empty (libical refuses empty
 * values); *written tells the caller. */
static wm_status text(struct ical_writer *w, const char *name, const char *raw, size_t max,
                      int keep_newlines, enum wm_ical_kind kind, int *written)
{
	int dummy;
	if (!written)
		written = &dummy;
	*written = 0;
	if (!raw)
		return w->out.failed ? WM_ERR : WM_OK;
	if (ical_buf_reserve(&w->clean, max + 1) != WM_OK)
		return fail(w);
	size_t n = ical_text_clean(raw, strlen(raw), keep_newlines, max, w->clean.p, w->clean.cap);
	if (kind == WM_ICAL_XPROP) { /* libical does not escape X- values: drop , ; \ first */
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (!strchr(",;\\\n", w->clean.p[i]))
				w->clean.p[k++] = w->clean.p[i];
		n = k;
	}
	if (ical_put_value(&w->out, &w->scratch, name, w->clean.p, n, kind, written) != WM_OK)
		return fail(w);
	return WM_OK;
}

static void put_uint(char *buf, unsigned v)
{
	char tmp[16];
	int n = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	for (int i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
}

/* RFC 5545 duration for n minutes, in the form libical writes back: P1D,
 * PT1H, PT1H30M. */
static void duration(char *buf, int minutes)
{
	int d = minutes / 1440, h = minutes % 1440 / 60, m = minutes % 60;
	char *p = buf;
	*p++ = 'P';
	if (d) {
		put_uint(p, (unsigned)d);
		p += strlen(p);
		*p++ = 'D';
	}
	if (h || m) {
		*p++ = 'T';
		if (h) {
			put_uint(p, (unsigned)h);
			p += strlen(p);
			*p++ = 'H';
		}
		if (m) {
			put_uint(p, (unsigned)m);
			p += strlen(p);
			*p++ = 'M';
		}
	}
	*p = '\0';
}

/* --- calendar ----------------------------------------------------------- */

static wm_status add_zone(struct ical_writer *w, const char *tzid)
{
	if (!tzid_ok(tzid))
		return fail(w);
	if (zone_given(w, tzid))
		return WM_OK;
	const char *block = ical_zone_block(tzid);
	if (!block || w->n_zones == MAX_ZONES)
		return fail(w);
	memcpy(w->zones[w->n_zones++], tzid, strlen(tzid) + 1);
	return ical_buf_append(&w->out, block, strlen(block)) == WM_OK ? WM_OK : fail(w);
}

wm_status ical_begin(struct ical_writer *w, const struct ical_calendar *c)
{
	int written;
	if (w->out.failed || w->state != W_FRESH || !c || !tzid_ok(c->tzid))
		return fail(w);
	w->state = W_OPEN;
	if (ical_line(&w->out, "BEGIN:VCALENDAR") != WM_OK)
		return fail(w);
	if (text(w, "PRODID", c->prodid ? c->prodid : "-//Waymark//Calendar Feeds//EN", PRODID_MAX,
	         0, WM_ICAL_TEXT, &written) != WM_OK ||
	    !written)
		return fail(w);
	if (ical_line(&w->out, "VERSION:2.0") != WM_OK ||
	    ical_line(&w->out, "CALSCALE:GREGORIAN") != WM_OK ||
	    text(w, "NAME", c->name, ICAL_NAME_MAX, 0, WM_ICAL_TEXT, NULL) != WM_OK ||
	    text(w, "X-WR-CALNAME", c->name, ICAL_NAME_MAX, 0, WM_ICAL_XPROP, NULL) != WM_OK ||
	    text(w, "X-WR-CALDESC", c->description, ICAL_DESCRIPTION_MAX, 0, WM_ICAL_XPROP, NULL) !=
	        WM_OK ||
	    line3(w, "X-WR-TIMEZONE:", c->tzid, NULL) != WM_OK)
		return fail(w);
	if (c->refresh_minutes > 0) {
		char d[32];
		duration(d, c->refresh_minutes);
		if (line3(w, "REFRESH-INTERVAL;VALUE=DURATION:", d, NULL) != WM_OK ||
		    line3(w, "X-PUBLISHED-TTL:", d, NULL) != WM_OK)
			return fail(w);
	}
	if (add_zone(w, c->tzid) != WM_OK)
		return WM_ERR;
	for (size_t i = 0; i < c->n_extra_tzids; i++)
		if (add_zone(w, c->extra_tzids[i]) != WM_OK)
			return WM_ERR;
	return WM_OK;
}

wm_status ical_end(struct ical_writer *w)
{
	if (w->out.failed || w->state != W_OPEN)
		return fail(w);
	w->state = W_ENDED;
	return ical_line(&w->out, "END:VCALENDAR") == WM_OK ? WM_OK : fail(w);
}

/* --- events ------------------------------------------------------------- */

wm_status ical_event_write(struct ical_writer *w, const struct ical_event *e)
{
	int written;
	/* No tzid: a UTC event (DTSTART/DTEND "...Z", no TZID), which cannot
	 * carry a rule, exceptions or a RECURRENCE-ID. */
	int utc = e && !e->tzid;
	if (w->out.failed || w->state != W_OPEN || !e ||
	    (utc ? (e->rrule || e->n_exdates || e->recurrence_id_local ||
	            !datetime_ok(e->dtstart_local, 1) ||
	            (e->dtend_local && !datetime_ok(e->dtend_local, 1)))
	         : (!tzid_ok(e->tzid) || !zone_given(w, e->tzid))) ||
	    !datetime_ok(e->dtstamp_utc, 1) ||
	    (e->last_modified_utc && !datetime_ok(e->last_modified_utc, 1)) || e->sequence < 0 ||
	    (e->rrule && !rrule_ok(e->rrule)) ||
	    (e->status && strcmp(e->status, "CONFIRMED") && strcmp(e->status, "CANCELLED") &&
	     strcmp(e->status, "TENTATIVE")))
		return fail(w);
	char seq[16];
	put_uint(seq, (unsigned)e->sequence);
	if (ical_line(&w->out, "BEGIN:VEVENT") != WM_OK ||
	    text(w, "UID", e->uid, UID_MAX, 0, WM_ICAL_TEXT, &written) != WM_OK || !written ||
	    line3(w, "DTSTAMP:", e->dtstamp_utc, NULL) != WM_OK ||
	    (e->last_modified_utc &&
	     line3(w, "LAST-MODIFIED:", e->last_modified_utc, NULL) != WM_OK) ||
	    line3(w, "SEQUENCE:", seq, NULL) != WM_OK ||
	    (e->recurrence_id_local &&
	     zoned(w, "RECURRENCE-ID", e->tzid, e->recurrence_id_local) != WM_OK) ||
	    (utc ? line3(w, "DTSTART:", e->dtstart_local, NULL)
	         : zoned(w, "DTSTART", e->tzid, e->dtstart_local)) != WM_OK ||
	    (e->dtend_local && (utc ? line3(w, "DTEND:", e->dtend_local, NULL)
	                            : zoned(w, "DTEND", e->tzid, e->dtend_local)) != WM_OK) ||
	    (e->rrule && line3(w, "RRULE:", e->rrule, NULL) != WM_OK))
		return fail(w);
	for (size_t i = 0; i < e->n_exdates; i++)
		if (zoned(w, "EXDATE", e->tzid, e->exdates_local[i]) != WM_OK)
			return WM_ERR;
	if (e->busy_only) {
		if (ical_line(&w->out, "SUMMARY:Busy") != WM_OK ||
		    ical_line(&w->out, "CLASS:PRIVATE") != WM_OK ||
		    ical_line(&w->out, "TRANSP:OPAQUE") != WM_OK)
			return fail(w);
	} else if (text(w, "SUMMARY", e->summary, ICAL_SUMMARY_MAX, 0, WM_ICAL_TEXT, NULL) !=
	               WM_OK ||
	           text(w, "DESCRIPTION", e->description, ICAL_DESCRIPTION_MAX, 1, WM_ICAL_TEXT,
	                NULL) != WM_OK ||
	           text(w, "LOCATION", e->location, ICAL_LOCATION_MAX, 0, WM_ICAL_TEXT, NULL) !=
	               WM_OK)
		return WM_ERR;
	if (e->status && line3(w, "STATUS:", e->status, NULL) != WM_OK)
		return WM_ERR;
	return ical_line(&w->out, "END:VEVENT") == WM_OK ? WM_OK : fail(w);
}
