/*
 * ical: the feed writer. Every calendar it writes must come back
 * byte-identical from a libical 3.0.16 parse + re-serialise (the fold points
 * and escapes are libical's), whatever the text: long titles, multibyte
 * characters across the 75-octet boundary, , ; \ and newlines, invalid
 * UTF-8, controls, bidi overrides. Also: the exact shape of a feed (ICAL.md
 * §6), compact VTIMEZONEs that agree with libical's own zones, feed RRULEs,
 * refusals, the size cap, and (printed, not asserted) the cost of 10 000
 * events.
 */
#include <check.h>
#include <libical/ical.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ical.h"
#include "ts.h"

/* --- checks on bytes ---------------------------------------------------- */

/* Independent of the writer: CRLF on every line, <= 75 octets, valid UTF-8,
 * no control bytes, BEGIN/END balanced. Returns NULL or what is wrong. */
static const char *bytes_problem(const char *d, size_t n)
{
	static char why[128];
	const unsigned char *s = (const unsigned char *)d;
	size_t line_start = 0, depth = 0;
	char stack[16][32];
	if (n == 0 || n < 2 || s[n - 2] != '\r' || s[n - 1] != '\n')
		return "no final CRLF";
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		if (c == '\r') {
			if (i + 1 >= n || s[i + 1] != '\n')
				return "bare CR";
			if (i - line_start > 75) {
				snprintf(why, sizeof why, "line of %zu octets at %zu",
				         i - line_start, line_start);
				return why;
			}
			if (s[line_start] != ' ' &&
			    s[line_start] != '\t') { /* a new logical line */
				const char *l = d + line_start;
				size_t len = i - line_start;
				if (len > 6 && !memcmp(l, "BEGIN:", 6)) {
					if (depth == 16 || len - 6 >= 32)
						return "BEGIN too deep";
					memcpy(stack[depth], l + 6, len - 6);
					stack[depth++][len - 6] = '\0';
				} else if (len > 4 && !memcmp(l, "END:", 4)) {
					if (!depth || strlen(stack[depth - 1]) != len - 4 ||
					    memcmp(stack[depth - 1], l + 4, len - 4))
						return "END does not match BEGIN";
					depth--;
				}
			}
			i += 2;
			line_start = i;
			continue;
		}
		if (c == '\n')
			return "bare LF";
		if (c < 0x20 || c == 0x7F)
			return "control byte";
		size_t k = c < 0x80                 ? 0
		           : c >= 0xC2 && c <= 0xDF ? 1
		           : c >= 0xE0 && c <= 0xEF ? 2
		           : c >= 0xF0 && c <= 0xF4 ? 3
		                                    : 9;
		if (k == 9 || i + k >= n)
			return "invalid UTF-8 lead";
		for (size_t j = 1; j <= k; j++)
			if ((s[i + j] & 0xC0) != 0x80)
				return "invalid UTF-8 continuation";
		if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F) ||
		    (c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] > 0x8F))
			return "overlong, surrogate or > U+10FFFF";
		if (c == 0xC2 && s[i + 1] < 0xA0)
			return "C1 control";
		i += k + 1;
	}
	return depth ? "BEGIN not closed" : NULL;
}

/* libical: parse, no X-LIC-ERROR, re-serialise, byte-identical. */
static void assert_roundtrip(const char *d, size_t n)
{
	char *copy = malloc(n + 1);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, d, n);
	copy[n] = '\0';
	icalcomponent *c = icalparser_parse_string(copy);
	ck_assert_msg(c != NULL, "libical did not parse the feed");
	char *again = icalcomponent_as_ical_string_r(c);
	ck_assert_ptr_nonnull(again);
	ck_assert_msg(!strstr(again, "\r\nX-LIC-ERROR"), "libical error: %.300s",
	              strstr(again, "X-LIC-ERROR"));
	if (strlen(again) != n || memcmp(again, copy, n) != 0) {
		size_t i = 0;
		while (i < n && again[i] == copy[i])
			i++;
		size_t from = i > 120 ? i - 120 : 0;
		ck_abort_msg("round trip differs at %zu:\nours:   %.200s\nlibical:%.200s", i,
		             copy + from, again + from);
	}
	icalmemory_free_buffer(again);
	icalcomponent_free(c);
	free(copy);
}

static void assert_good(struct ical_writer *w)
{
	size_t n;
	const char *d = ical_writer_data(w, &n);
	const char *why = bytes_problem(d, n);
	ck_assert_msg(why == NULL, "%s", why);
	assert_roundtrip(d, n);
}

static const struct ical_calendar london_cal = {
    .prodid = "-//Waymark//Calendar Feeds 0.1//EN",
    .name = "Amira's sessions",
    .tzid = "Europe/London",
    .refresh_minutes = 60,
};

static struct ical_event ev(const char *uid)
{
	return (struct ical_event){.uid = uid,
	                           .dtstamp_utc = "20250110T093000Z",
	                           .last_modified_utc = "20250110T093000Z",
	                           .tzid = "Europe/London",
	                           .dtstart_local = "20250322T100000",
	                           .dtend_local = "20250322T110000",
	                           .summary = "Maths club"};
}

/* --- the shape of a feed ----------------------------------------------- */

START_TEST(template_feed)
{
	/* ICAL.md §6, with RRULE parts in libical's order and the override
	 * without LAST-MODIFIED. */
	static const char want[] =
	    "BEGIN:VCALENDAR\r\nPRODID:-//Waymark//Calendar Feeds 0.1//EN\r\nVERSION:2.0\r\n"
	    "CALSCALE:GREGORIAN\r\nNAME:Amira's sessions\r\nX-WR-CALNAME:Amira's sessions\r\n"
	    "X-WR-TIMEZONE:Europe/London\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n"
	    "X-PUBLISHED-TTL:PT1H\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/London\r\n"
	    "X-LIC-LOCATION:Europe/London\r\nBEGIN:DAYLIGHT\r\nTZNAME:BST\r\n"
	    "TZOFFSETFROM:+0000\r\nTZOFFSETTO:+0100\r\nDTSTART:19700329T010000\r\n"
	    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\n"
	    "TZNAME:GMT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0000\r\nDTSTART:19701025T020000\r\n"
	    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
	    "BEGIN:VEVENT\r\nUID:session-0@feeds.example.org\r\nDTSTAMP:20250110T093000Z\r\n"
	    "LAST-MODIFIED:20250110T093000Z\r\nSEQUENCE:0\r\n"
	    "DTSTART;TZID=Europe/London:20250322T100000\r\n"
	    "DTEND;TZID=Europe/London:20250322T110000\r\n"
	    "RRULE:FREQ=WEEKLY;UNTIL=20250712T225959Z;BYDAY=SA\r\n"
	    "EXDATE;TZID=Europe/London:20250405T100000\r\n"
	    "SUMMARY:Maths club\\, Year 5\\; fractions — bring a calculator\r\n"
	    "LOCATION:Room 3\\, Big School\\, Oxford\r\nSTATUS:CONFIRMED\r\nEND:VEVENT\r\n"
	    "BEGIN:VEVENT\r\nUID:session-0@feeds.example.org\r\nDTSTAMP:20250110T093000Z\r\n"
	    "SEQUENCE:1\r\nRECURRENCE-ID;TZID=Europe/London:20250412T100000\r\n"
	    "DTSTART;TZID=Europe/London:20250413T140000\r\n"
	    "DTEND;TZID=Europe/London:20250413T150000\r\n"
	    "SUMMARY:Maths club (moved to Sunday)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
	struct ical_writer *w = ical_writer_new(1 << 20);
	char rule[ICAL_RRULE_MAX + 1];
	ck_assert_int_eq(ical_begin(w, &london_cal), WM_OK);
	ck_assert_int_eq(ical_rrule_for_feed("FREQ=WEEKLY;BYDAY=SA;COUNT=17", "20250712T225959Z",
	                                     rule, sizeof rule),
	                 WM_OK);
	const char *ex[] = {"20250405T100000"};
	struct ical_event e = ev("session-0@feeds.example.org");
	e.rrule = rule;
	e.exdates_local = ex;
	e.n_exdates = 1;
	e.summary = "Maths club, Year 5; fractions — bring a calculator";
	e.location = "Room 3, Big School, Oxford";
	e.status = "CONFIRMED";
	ck_assert_int_eq(ical_event_write(w, &e), WM_OK);
	struct ical_event o = ev("session-0@feeds.example.org");
	o.last_modified_utc = NULL;
	o.sequence = 1;
	o.recurrence_id_local = "20250412T100000";
	o.dtstart_local = "20250413T140000";
	o.dtend_local = "20250413T150000";
	o.summary = "Maths club (moved to Sunday)";
	ck_assert_int_eq(ical_event_write(w, &o), WM_OK);
	ck_assert_int_eq(ical_end(w), WM_OK);
	size_t n;
	const char *d = ical_writer_data(w, &n);
	ck_assert_uint_eq(n, strlen(want));
	ck_assert_msg(!memcmp(d, want, n), "got:\n%.*s", (int)n, d);
	assert_good(w);

	/* An empty feed is still a valid calendar (it carries the VTIMEZONE). */
	ical_writer_reset(w);
	ck_assert_int_eq(ical_begin(w, &london_cal), WM_OK);
	ck_assert_int_eq(ical_end(w), WM_OK);
	assert_good(w);
	ical_writer_free(w);
}
END_TEST

START_TEST(calendar_properties)
{
	static const struct {
		int minutes;
		const char *want;
	} durations[] = {{60, "PT1H"},     {30, "PT30M"},  {90, "PT1H30M"}, {1440, "P1D"},
	                 {1500, "P1DT1H"}, {10080, "P7D"}, {1, "PT1M"}};
	for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
		struct ical_writer *w = ical_writer_new(1 << 20);
		struct ical_calendar c = london_cal;
		char line[96];
		c.refresh_minutes = durations[i].minutes;
		c.name = "Smith, Jones; \\ and\nco";
		c.description = "A, b; c\\ d\ne";
		ck_assert_int_eq(ical_begin(w, &c), WM_OK);
		ck_assert_int_eq(ical_end(w), WM_OK);
		assert_good(w);
		const char *d = ical_writer_data(w, NULL);
		snprintf(line, sizeof line, "\r\nREFRESH-INTERVAL;VALUE=DURATION:%s\r\n",
		         durations[i].want);
		ck_assert_msg(strstr(d, line), "%s", line);
		snprintf(line, sizeof line, "\r\nX-PUBLISHED-TTL:%s\r\n", durations[i].want);
		ck_assert_msg(strstr(d, line), "%s", line);
		/* NAME escapes; the X- copies lose what libical would not escape. */
		ck_assert_ptr_nonnull(strstr(d, "\r\nNAME:Smith\\, Jones\\; \\\\ and co\r\n"));
		ck_assert_ptr_nonnull(strstr(d, "\r\nX-WR-CALNAME:Smith Jones  and co\r\n"));
		ck_assert_ptr_nonnull(strstr(d, "\r\nX-WR-CALDESC:A b c d e\r\n"));
		ck_assert_ptr_nonnull(strstr(d, "\r\nX-WR-TIMEZONE:Europe/London\r\n"));
		ck_assert_ptr_null(strstr(d, "METHOD"));
		ical_writer_free(w);
	}
	/* No refresh interval asked: neither property. */
	struct ical_writer *w = ical_writer_new(1 << 20);
	struct ical_calendar c = london_cal;
	c.refresh_minutes = 0;
	ck_assert_int_eq(ical_begin(w, &c), WM_OK);
	ck_assert_int_eq(ical_end(w), WM_OK);
	ck_assert_ptr_null(strstr(ical_writer_data(w, NULL), "REFRESH"));
	ck_assert_ptr_null(strstr(ical_writer_data(w, NULL), "X-PUBLISHED-TTL"));
	ical_writer_free(w);
}
END_TEST

START_TEST(busy_and_cancelled)
{
	struct ical_writer *w = ical_writer_new(1 << 20);
	ck_assert_int_eq(ical_begin(w, &london_cal), WM_OK);
	struct ical_event e = ev("session-7@x");
	e.busy_only = 1;
	e.summary = "Zqxmarker's visit";
	e.description = "Zqxmarker secret";
	e.location = "Zqxmarker house";
	e.status = "CANCELLED";
	e.sequence = 3;
	ck_assert_int_eq(ical_event_write(w, &e), WM_OK);
	ck_assert_int_eq(ical_end(w), WM_OK);
	assert_good(w);
	const char *d = ical_writer_data(w, NULL);
	ck_assert_ptr_null(strstr(d, "Zqxmarker"));
	ck_assert_ptr_nonnull(strstr(d, "\r\nSUMMARY:Busy\r\nCLASS:PRIVATE\r\nTRANSP:OPAQUE\r\n"
	                                "STATUS:CANCELLED\r\n"));
	ck_assert_ptr_nonnull(strstr(d, "\r\nSEQUENCE:3\r\n"));
	ck_assert_ptr_null(strstr(d, "ATTENDEE"));
	ck_assert_ptr_null(strstr(d, "VALARM"));
	ical_writer_free(w);
}
END_TEST

/* --- refusals and the cap ----------------------------------------------- */

START_TEST(refusals_are_sticky)
{
	static const char *bad_dt[] = {"2025032T100000",
	                               "20251322T100000",
	                               "20250230T100000",
	                               "20250322T250000",
	                               "20250322 100000",
	                               "20250322T100000Z",
	                               "",
	                               "20250322T10000x"};
	for (size_t i = 0; i < sizeof bad_dt / sizeof bad_dt[0]; i++) {
		struct ical_writer *w = ical_writer_new(1 << 20);
		ck_assert_int_eq(ical_begin(w, &london_cal), WM_OK);
		struct ical_event e = ev("u@x");
		e.dtstart_local = bad_dt[i];
		ck_assert_int_eq(ical_event_write(w, &e), WM_ERR);
		e = ev("u@x"); /* a good event no longer helps: the error is sticky */
		ck_assert_int_eq(ical_event_write(w, &e), WM_ERR);
		ck_assert_int_eq(ical_end(w), WM_ERR);
		ical_writer_free(w);
	}
	struct ical_event cases[8];
	for (int i = 0; i < 8; i++)
		cases[i] = ev("u@x");
	cases[0].tzid = "Europe/Paris"; /* not given to ical_begin */
	cases[1].dtstamp_utc = "20250110T093000";
	cases[2].status = "MAYBE";
	cases[3].sequence = -1;
	cases[4].rrule = "FREQ=WEEKLY\r\nX:1";
	cases[5].uid = "\x01\x02"; /* nothing left after cleaning */
	cases[6].tzid = "Europe/Lon don";
	cases[7].last_modified_utc = "x";
	for (int i = 0; i < 8; i++) {
		struct ical_writer *w = ical_writer_new(1 << 20);
		ck_assert_int_eq(ical_begin(w, &london_cal), WM_OK);
		ck_assert_msg(ical_event_write(w, &cases[i]) == WM_ERR, "case %d accepted", i);
		ical_writer_free(w);
	}
	struct ical_writer *w = ical_writer_new(1 << 20);
	struct ical_calendar c = london_cal;
	c.tzid = "Mars/Olympus_Mons";
	ck_assert_int_eq(ical_begin(w, &c), WM_ERR);
	ical_writer_reset(w);
	const char *extra[] = {"Europe/Rome", "Nowhere/Else"};
	c = london_cal;
	c.extra_tzids = extra;
	c.n_extra_tzids = 2;
	ck_assert_int_eq(ical_begin(w, &c), WM_ERR);
	ical_writer_reset(w);
	ck_assert_int_eq(ical_event_write(w, &cases[0]), WM_ERR); /* before ical_begin */
	ical_writer_free(w);
}
END_TEST

START_TEST(max_bytes_cap)
{
	for (size_t cap = 0; cap < 4000; cap += 97) {
		struct ical_writer *w = ical_writer_new(cap);
		wm_status st = ical_begin(w, &london_cal);
		for (int i = 0; i < 20 && st == WM_OK; i++) {
			struct ical_event e = ev("session-1@x");
			st = ical_event_write(w, &e);
		}
		if (st == WM_OK)
			st = ical_end(w);
		size_t n;
		(void)ical_writer_data(w, &n);
		ck_assert_uint_le(n, cap);
		ck_assert_int_eq(st, WM_ERR); /* 20 events never fit in 4000 bytes */
		ical_writer_free(w);
	}
}
END_TEST

/* --- text --------------------------------------------------------------- */

START_TEST(text_clean)
{
	char out[64];
	static const struct {
		const char *in;
		size_t len;
		int nl;
		size_t max;
		const char *want;
	} cases[] = {
	    {"plain", 5, 0, 100, "plain"},
	    {"a\x01"
	     "b\x7f"
	     "c",
	     5, 0, 100, "abc"},
	    {"tab\there", 8, 0, 100, "tab here"},
	    {"l1\r\nl2\rl3\nl4", 13, 1, 100, "l1\nl2\nl3\nl4"},
	    {"l1\r\nl2\nl3", 9, 0, 100, "l1 l2 l3"},
	    {"nul\0byte", 8, 0, 100, "nulbyte"},
	    {"\xff"
	     "a",
	     2, 0, 100,
	     "\xEF\xBF\xBD"
	     "a"},
	    {"\xc3", 1, 0, 100, "\xEF\xBF\xBD"}, /* truncated sequence */
	    {"\xe2\x82"
	     "x",
	     3, 0, 100,
	     "\xEF\xBF\xBD"
	     "x"},                                               /* one U+FFFD for the part */
	    {"\xc0\xaf", 2, 0, 100, "\xEF\xBF\xBD\xEF\xBF\xBD"}, /* overlong */
	    {"\xed\xa0\x80", 3, 0, 100, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* surrogate */
	    {"\xf4\x90\x80\x80", 4, 0, 100,
	     "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* > U+10FFFF */
	    {"c1\xc2\x85x", 5, 0, 100, "c1x"},                    /* NEL, a C1 control */
	    {"\xe2\x80\xae"
	     "evil\xe2\x80\xac",
	     10, 0, 100, "evil"}, /* RLO ... PDF */
	    {"\xe2\x81\xa6"
	     "iso\xe2\x81\xa9",
	     9, 0, 100, "iso"}, /* LRI ... PDI */
	    {"\xe2\x80\x8f"
	     "rlm",
	     6, 0, 100,
	     "\xe2\x80\x8f"
	     "rlm"},                          /* a mark is harmless */
	    {"caf\xc3\xa9s", 6, 0, 4, "caf"}, /* never half a character */
	    {"caf\xc3\xa9s", 6, 0, 5, "caf\xc3\xa9"},
	    {"\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 8, 0, 7, "\xf0\x9f\x98\x80"},
	    {"\xffzz", 3, 0, 2, ""}, /* U+FFFD does not fit */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = ical_text_clean(cases[i].in, cases[i].len, cases[i].nl, cases[i].max,
		                           out, sizeof out);
		ck_assert_msg(n == strlen(cases[i].want) && !strcmp(out, cases[i].want),
		              "case %zu: got \"%s\"", i, out);
	}
	/* out_len bounds it too, and the result is always terminated. */
	ck_assert_uint_eq(ical_text_clean("abcdef", 6, 0, 100, out, 4), 3);
	ck_assert_str_eq(out, "abc");
	ck_assert_uint_eq(ical_text_clean(NULL, 5, 0, 100, out, sizeof out), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

/* Deterministic pseudo-random numbers (xorshift64*). */
static unsigned long long rng_state = 88172645463325252ULL;
static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (unsigned)((rng_state * 2685821657736338717ULL) >> 33) % n;
}

/* Hostile text from pieces, or plain random bytes. */
static size_t hostile(char *buf, size_t cap)
{
	static const char *pieces[] = {"a",
	                               "b",
	                               " ",
	                               "  ",
	                               ",",
	                               ";",
	                               ":",
	                               "\\",
	                               "\n",
	                               "\r",
	                               "\"",
	                               "=",
	                               "\t",
	                               "\x01",
	                               "\x7f",
	                               "\xc3\xa9",
	                               "\xe2\x80\x94",
	                               "\xf0\x9f\x98\x80",
	                               "\xe4\xb8\xad\xe6\x96\x87",
	                               "\xff",
	                               "\xc3",
	                               "\xe2\x80\xae",
	                               "xxxxxxxxxx",
	                               "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy",
	                               "\\n",
	                               "\\,",
	                               "http://x.example/a?b=c;d,e"};
	size_t n = 0, want = rnd(4) == 0 ? rnd(2000) : rnd(220);
	if (rnd(5) == 0) { /* raw random bytes */
		for (; n < want && n + 1 < cap; n++)
			buf[n] = (char)rnd(256);
		buf[n] = '\0';
		return n;
	}
	unsigned npieces = 3 + rnd(sizeof pieces / sizeof pieces[0] - 3);
	while (n < want) {
		const char *p = pieces[rnd(npieces)];
		size_t l = strlen(p);
		if (n + l + 1 >= cap)
			break;
		memcpy(buf + n, p, l);
		n += l;
	}
	buf[n] = '\0';
	return n;
}

START_TEST(hostile_text_round_trips)
{
	static char s1[4096], s2[4096], s3[4096], name[1024], uid[300];
	for (int round = 0; round < 60; round++) {
		struct ical_writer *w = ical_writer_new(64u << 20);
		struct ical_calendar c = london_cal;
		hostile(name, sizeof name);
		c.name = name;
		c.description = round % 2 ? name : NULL;
		ck_assert_int_eq(ical_begin(w, &c), WM_OK);
		for (int i = 0; i < 150; i++) {
			struct ical_event e = ev(uid);
			snprintf(uid, sizeof uid, "session-%d@waymark.invalid", round * 1000 + i);
			hostile(s1, sizeof s1);
			hostile(s2, sizeof s2);
			hostile(s3, sizeof s3);
			e.summary = s1;
			e.description = s2;
			e.location = s3;
			ck_assert_int_eq(ical_event_write(w, &e), WM_OK);
		}
		ck_assert_int_eq(ical_end(w), WM_OK);
		assert_good(w);
		ical_writer_free(w);
	}
}
END_TEST

/* Every prefix length with every width of character at the fold, with and
 * without break characters; also lengths that make libical split the CRLF
 * (the writer must drop one character rather than write a bare CR). */
START_TEST(fold_boundaries)
{
	static const char *chars[] = {
	    "a", "\xc3\xa9", "\xe2\x80\x94", "\xf0\x9f\x98\x80", " ", ";", ",", "\\", "\n"};
	char text[2048];
	struct ical_writer *w = ical_writer_new(64u << 20);
	ck_assert_int_eq(ical_begin(w, &london_cal), WM_OK);
	for (size_t ci = 0; ci < sizeof chars / sizeof chars[0]; ci++)
		for (size_t lead = 0; lead < 400; lead++) {
			size_t n = 0;
			for (size_t k = 0; k < lead; k++)
				text[n++] = "abcdefgh"[k % 8];
			for (int rep = 0; rep < 4; rep++) {
				memcpy(text + n, chars[ci], strlen(chars[ci]));
				n += strlen(chars[ci]);
				text[n++] = 'z';
			}
			text[n] = '\0';
			struct ical_event e = ev("session-1@x");
			e.summary = text;
			e.description = text;
			e.location = text + lead / 2;
			ck_assert_int_eq(ical_event_write(w, &e), WM_OK);
		}
	ck_assert_int_eq(ical_end(w), WM_OK);
	assert_good(w);
	ical_writer_free(w);

	/* "DESCRIPTION:" + 147 letters: the last piece would be 73 octets and
	 * CRLF with no break character, and libical would write a bare CR; the
	 * writer drops the last letter instead. */
	memset(text, 'q', 147);
	text[147] = '\0';
	w = ical_writer_new(1 << 20);
	ck_assert_int_eq(ical_begin(w, &london_cal), WM_OK);
	struct ical_event e = ev("session-1@x");
	e.description = text;
	ck_assert_int_eq(ical_event_write(w, &e), WM_OK);
	ck_assert_int_eq(ical_end(w), WM_OK);
	assert_good(w);
	char want[300];
	snprintf(want, sizeof want, "\r\nDESCRIPTION:\r\n %.74s\r\n %.72s\r\n", text, text);
	ck_assert_msg(strstr(ical_writer_data(w, NULL), want), "%s", ical_writer_data(w, NULL));
	ical_writer_free(w);
}
END_TEST

/* --- RRULE -------------------------------------------------------------- */

START_TEST(rrule_for_feed)
{
	char out[ICAL_RRULE_MAX + 1];
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"FREQ=WEEKLY;BYDAY=SA;COUNT=10", "FREQ=WEEKLY;UNTIL=20270712T225959Z;BYDAY=SA"},
	    {"RRULE:FREQ=WEEKLY;UNTIL=20260101T000000Z;BYDAY=TU,TH",
	     "FREQ=WEEKLY;UNTIL=20270712T225959Z;BYDAY=TU,TH"},
	    {"FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;UNTIL=20260101",
	     "FREQ=WEEKLY;UNTIL=20270712T225959Z;INTERVAL=2;BYDAY=MO"},
	    {"FREQ=MONTHLY;BYMONTHDAY=1,15", "FREQ=MONTHLY;UNTIL=20270712T225959Z;BYMONTHDAY=1,15"},
	    {"FREQ=MONTHLY;BYDAY=-1FR", "FREQ=MONTHLY;UNTIL=20270712T225959Z;BYDAY=-1FR"},
	    {"FREQ=DAILY", "FREQ=DAILY;UNTIL=20270712T225959Z"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ck_assert_int_eq(
		    ical_rrule_for_feed(cases[i].in, "20270712T225959Z", out, sizeof out), WM_OK);
		ck_assert_str_eq(out, cases[i].want);
	}
	ck_assert_int_eq(
	    ical_rrule_for_feed("FREQ=FORTNIGHTLY", "20270712T225959Z", out, sizeof out), WM_ERR);
	ck_assert_int_eq(ical_rrule_for_feed("", "20270712T225959Z", out, sizeof out), WM_ERR);
	ck_assert_int_eq(ical_rrule_for_feed("FREQ=DAILY", "20270712T225959", out, sizeof out),
	                 WM_ERR);
	ck_assert_int_eq(ical_rrule_for_feed("FREQ=DAILY", "2027-07-12", out, sizeof out), WM_ERR);
	ck_assert_int_eq(ical_rrule_for_feed("FREQ=DAILY", "20270712T225959Z", out, 10), WM_ERR);

	/* Each goes through a feed and back unchanged. */
	struct ical_writer *w = ical_writer_new(1 << 20);
	ck_assert_int_eq(ical_begin(w, &london_cal), WM_OK);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ck_assert_int_eq(
		    ical_rrule_for_feed(cases[i].in, "20270712T225959Z", out, sizeof out), WM_OK);
		struct ical_event e = ev("series-1@x");
		e.rrule = out;
		ck_assert_int_eq(ical_event_write(w, &e), WM_OK);
	}
	ck_assert_int_eq(ical_end(w), WM_OK);
	assert_good(w);
	ical_writer_free(w);
}
END_TEST

/* --- zones -------------------------------------------------------------- */

/* Our compact block and libical's full zone agree on the UTC offset of
 * every local hour of 2025 and 2026 (except the hours a change skips or
 * repeats, where "local time" has no single answer). */
static int zone_agrees(const char *tzid, const char *block, char *why, size_t why_len)
{
	char *copy = strdup(block);
	icalcomponent *vtz = icalparser_parse_string(copy);
	free(copy);
	if (!vtz || icalcomponent_isa(vtz) != ICAL_VTIMEZONE_COMPONENT) {
		snprintf(why, why_len, "%s: block does not parse", tzid);
		return 0;
	}
	icaltimezone *mine = icaltimezone_new();
	icaltimezone *theirs = icaltimezone_get_builtin_timezone(tzid);
	icaltimezone_set_component(mine, vtz);
	int ok = 1;
	struct icaltimetype t = icaltime_from_string("20250101T003000");
	for (int h = 0; h < 2 * 366 * 24 && ok; h += 1) {
		int d1 = 0, d2 = 0;
		int a = icaltimezone_get_utc_offset(mine, &t, &d1);
		int b = icaltimezone_get_utc_offset(theirs, &t, &d2);
		struct icaltimetype before = t, after = t;
		icaltime_adjust(&before, 0, -3, 0, 0);
		icaltime_adjust(&after, 0, 3, 0, 0);
		int near_change = icaltimezone_get_utc_offset(theirs, &before, &d2) !=
		                  icaltimezone_get_utc_offset(theirs, &after, &d2);
		if (a != b && !near_change) {
			snprintf(why, why_len, "%s at %s: ours %d, libical %d", tzid,
			         icaltime_as_ical_string(t), a, b);
			ok = 0;
		}
		icaltime_adjust(&t, 0, 1, 0, 0);
	}
	icaltimezone_free(mine, 1);
	return ok;
}

START_TEST(zone_blocks)
{
	ck_assert_int_eq(ical_zones_warm(), WM_OK);
	const char *london = ical_zone_block("Europe/London");
	ck_assert_ptr_nonnull(london);
	ck_assert_ptr_eq(london, ical_zone_block("Europe/London"));
	ck_assert_ptr_null(ical_zone_block("Europe/Londo"));
	ck_assert_ptr_null(ical_zone_block("../../etc/passwd"));
	ck_assert_ptr_null(ical_zone_block(""));
	ck_assert_ptr_null(ical_zone_block(NULL));
	char why[200];
	ck_assert_msg(zone_agrees("Europe/London", london, why, sizeof why), "%s", why);

	const char *rome = ical_zone_block("Europe/Rome");
	ck_assert_ptr_nonnull(rome);
	ck_assert_str_eq(rome,
	                 "BEGIN:VTIMEZONE\r\nTZID:Europe/Rome\r\nX-LIC-LOCATION:Europe/Rome\r\n"
	                 "BEGIN:DAYLIGHT\r\nTZNAME:CEST\r\nTZOFFSETFROM:+0100\r\n"
	                 "TZOFFSETTO:+0200\r\nDTSTART:19700329T020000\r\n"
	                 "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\n"
	                 "BEGIN:STANDARD\r\nTZNAME:CET\r\nTZOFFSETFROM:+0200\r\n"
	                 "TZOFFSETTO:+0100\r\nDTSTART:19701025T030000\r\n"
	                 "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\n"
	                 "END:VTIMEZONE\r\n");

	/* Every zone libical knows: a compact block with the plain name, which
	 * round-trips and agrees with libical's zone. */
	icalarray *all = icaltimezone_get_builtin_timezones();
	size_t n_zones = 0, n_bad = 0, n_long = 0;
	for (size_t i = 0; i < all->num_elements; i++) {
		icaltimezone *z = icalarray_element_at(all, i);
		/* A copy: loading a zone replaces libical's own location string. */
		char loc[64];
		snprintf(loc, sizeof loc, "%s", icaltimezone_get_location(z));
		const char *block = ical_zone_block(loc);
		ck_assert_msg(block != NULL, "%s", loc);
		n_zones++;
		char tzline[100];
		snprintf(tzline, sizeof tzline, "\r\nTZID:%s\r\n", loc);
		ck_assert_ptr_nonnull(strstr(block, tzline));
		ck_assert_ptr_null(strstr(block, "freeassociation"));
		size_t lines = 0;
		for (const char *p = block; (p = strstr(p, "\r\n")); p += 2)
			lines++;
		ck_assert_uint_le(lines, 80);
		if (lines > 20) { /* changes with no yearly rule: libical's observances */
			fprintf(stderr, "zone %s: %zu lines\n", loc, lines);
			n_long++;
		}
		struct ical_writer *w = ical_writer_new(1 << 20);
		struct ical_calendar c = london_cal;
		c.tzid = loc;
		ck_assert_int_eq(ical_begin(w, &c), WM_OK);
		struct ical_event e = ev("session-1@x");
		e.tzid = loc;
		ck_assert_int_eq(ical_event_write(w, &e), WM_OK);
		ck_assert_int_eq(ical_end(w), WM_OK);
		assert_good(w);
		ical_writer_free(w);
		if (!zone_agrees(loc, block, why, sizeof why)) {
			fprintf(stderr, "zone disagrees: %s\n", why);
			n_bad++;
		}
	}
	ck_assert_uint_ge(n_zones, 400);
	ck_assert_uint_le(n_long, 8);
	ck_assert_msg(n_bad == 0, "%zu zones disagree with libical", n_bad);
}
END_TEST

/* libical 3.0.16 writes a calendar's VTIMEZONEs in the reverse of the
 * order it read them, so a feed with two or more zones can never come back
 * byte-identical (each round trip reverses them again). Everything else
 * does: the same bytes with the blocks reversed. */
START_TEST(several_zones)
{
	const char *extra[] = {"Europe/Amsterdam", "Europe/London", "America/New_York",
	                       "Europe/Amsterdam"};
	const char *order[] = {"Europe/London", "Europe/Amsterdam", "America/New_York"};
	struct ical_writer *w = ical_writer_new(1 << 20);
	struct ical_calendar c = london_cal;
	c.extra_tzids = extra;
	c.n_extra_tzids = 4;
	ck_assert_int_eq(ical_begin(w, &c), WM_OK);
	for (size_t i = 0; i < 3; i++) {
		struct ical_event e = ev("session-1@x");
		e.tzid = extra[i];
		ck_assert_int_eq(ical_event_write(w, &e), WM_OK);
	}
	ck_assert_int_eq(ical_end(w), WM_OK);
	size_t n;
	const char *d = ical_writer_data(w, &n);
	ck_assert_ptr_null(bytes_problem(d, n));
	size_t blocks = 0;
	for (const char *p = d; (p = strstr(p, "BEGIN:VTIMEZONE")); p++)
		blocks++;
	ck_assert_uint_eq(blocks, 3); /* each zone once, in the order given */
	ck_assert_ptr_nonnull(strstr(d, "\r\nDTSTART;TZID=America/New_York:20250322T100000\r\n"));

	char *want = malloc(n + 1), *copy = strndup(d, n);
	const char *first = strstr(d, "BEGIN:VTIMEZONE");
	size_t head = (size_t)(first - d), o = head;
	memcpy(want, d, head);
	for (int i = 2; i >= 0; i--) {
		const char *b = ical_zone_block(order[i]);
		ck_assert_ptr_nonnull(strstr(d, b));
		memcpy(want + o, b, strlen(b));
		o += strlen(b);
	}
	memcpy(want + o, d + o, n - o);
	want[n] = '\0';
	icalcomponent *cal = icalparser_parse_string(copy);
	ck_assert_ptr_nonnull(cal);
	char *again = icalcomponent_as_ical_string_r(cal);
	ck_assert_str_eq(again, want);
	icalmemory_free_buffer(again);
	icalcomponent_free(cal);
	free(copy);
	free(want);
	ical_writer_free(w);
}
END_TEST

/* --- threads and speed -------------------------------------------------- */

/* Writes n one-off events like ICAL.md §5's benchmark (inputs made before
 * the clock starts); returns a malloc'd copy of the bytes. */
static char *write_feed(size_t n_events, size_t *len, double *ms)
{
	struct input {
		char uid[48], start[16], end[16], title[80];
	} *in = malloc(n_events * sizeof *in);
	for (size_t i = 0; i < n_events; i++) {
		int day = (int)(i % 28) + 1, month = (int)(i / 28 % 12) + 1;
		snprintf(in[i].uid, sizeof in[i].uid, "session-%zu@waymark.invalid", i + 1);
		snprintf(in[i].start, sizeof in[i].start, "2026%02d%02dT%02d0000", month, day,
		         (int)(9 + i % 8));
		snprintf(in[i].end, sizeof in[i].end, "2026%02d%02dT%02d0000", month, day,
		         (int)(10 + i % 8));
		snprintf(in[i].title, sizeof in[i].title,
		         "Maths club, Year %zu; fractions — session %zu", i % 7, i);
	}
	struct ical_writer *w = ical_writer_new(64u << 20);
	struct timespec t0, t1;
	char *copy = NULL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (ical_begin(w, &london_cal) != WM_OK)
		goto out;
	for (size_t i = 0; i < n_events; i++) {
		struct ical_event e = ev(in[i].uid);
		e.dtstart_local = in[i].start;
		e.dtend_local = in[i].end;
		e.summary = in[i].title;
		e.location = "Room 3, Big School, Oxford";
		e.status = "CONFIRMED";
		e.sequence = (int)(i % 3);
		if (ical_event_write(w, &e) != WM_OK)
			goto out;
	}
	if (ical_end(w) != WM_OK)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (ms)
		*ms =
		    (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	const char *d = ical_writer_data(w, len);
	copy = malloc(*len);
	memcpy(copy, d, *len);
out:
	ical_writer_free(w);
	free(in);
	return copy;
}

static void *thread_main(void *arg)
{
	size_t len;
	(void)arg;
	return write_feed(2000, &len, NULL);
}

START_TEST(threads_agree)
{
	pthread_t t[4];
	size_t len;
	char *want = write_feed(2000, &len, NULL);
	ck_assert_ptr_nonnull(want);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, thread_main, NULL), 0);
	for (int i = 0; i < 4; i++) {
		void *got;
		ck_assert_int_eq(pthread_join(t[i], &got), 0);
		ck_assert_ptr_nonnull(got);
		ck_assert(!memcmp(got, want, len));
		free(got);
	}
	free(want);
}
END_TEST

START_TEST(ten_thousand_events)
{
	size_t len;
	double best = 1e9, ms;
	char *d = NULL;
	for (int run = 0; run < 5; run++) {
		free(d);
		d = write_feed(10000, &len, &ms);
		ck_assert_ptr_nonnull(d);
		if (ms < best)
			best = ms;
	}
	printf("ical: 10000 events, %zu bytes, best of 5: %.2f ms\n", len, best);
	ck_assert_msg(bytes_problem(d, len) == NULL, "%s", bytes_problem(d, len));
	assert_roundtrip(d, len);
	free(d);
}
END_TEST

int main(void)
{
	icalerror_set_errors_are_fatal(0);
	Suite *s = suite_create("ical");
	TCase *tc = tcase_create("ical");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, template_feed);
	tcase_add_test(tc, calendar_properties);
	tcase_add_test(tc, busy_and_cancelled);
	tcase_add_test(tc, refusals_are_sticky);
	tcase_add_test(tc, max_bytes_cap);
	tcase_add_test(tc, text_clean);
	tcase_add_test(tc, hostile_text_round_trips);
	tcase_add_test(tc, fold_boundaries);
	tcase_add_test(tc, rrule_for_feed);
	tcase_add_test(tc, zone_blocks);
	tcase_add_test(tc, several_zones);
	tcase_add_test(tc, threads_agree);
	tcase_add_test(tc, ten_thousand_events);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
