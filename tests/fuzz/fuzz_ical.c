/*
 * Fuzz target for the calendar feed writer (core/ical.h). The input is
 * split at NUL bytes into raw text fields: summary, description, location,
 * calendar name, calendar description, UID; the first byte chooses options
 * (busy variant, refresh interval, a small size cap, repeated events). The
 * feed written from them must keep every invariant, whatever the bytes:
 * lines of at most 75 octets, CRLF everywhere, strict UTF-8, no control
 * bytes, BEGIN/END balanced, every logical line "NAME...:", the size cap
 * respected, and a libical parse + re-serialise byte-identical. Any
 * violation aborts.
 */
#include <libical/ical.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ical.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_FIELDS 6

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_ical: %s\n", what);
		abort();
	}
}

/* Strict UTF-8 with no C0, DEL or C1 controls; '\n' allowed if nl. */
static void check_text(const unsigned char *s, size_t n, int nl)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		if (c < 0x80) {
			check((c >= 0x20 && c != 0x7F) || (nl && c == '\n'), "control in text");
			i++;
			continue;
		}
		size_t k = c >= 0xC2 && c <= 0xDF   ? 1
		           : c >= 0xE0 && c <= 0xEF ? 2
		           : c >= 0xF0 && c <= 0xF4 ? 3
		                                    : 0;
		check(k != 0, "bad UTF-8 lead");
		check(i + k < n, "truncated UTF-8");
		for (size_t j = 1; j <= k; j++)
			check((s[i + j] & 0xC0) == 0x80, "bad UTF-8 continuation");
		check(!(c == 0xE0 && s[i + 1] < 0xA0) && !(c == 0xED && s[i + 1] > 0x9F) &&
		          !(c == 0xF0 && s[i + 1] < 0x90) && !(c == 0xF4 && s[i + 1] > 0x8F),
		      "overlong, surrogate or beyond U+10FFFF");
		check(!(c == 0xC2 && s[i + 1] < 0xA0), "C1 control");
		check(!(c == 0xE2 && s[i + 1] == 0x80 && s[i + 2] >= 0xAA && s[i + 2] <= 0xAE) &&
		          !(c == 0xE2 && s[i + 1] == 0x81 && s[i + 2] >= 0xA6 && s[i + 2] <= 0xA9),
		      "bidi override");
		i += k + 1;
	}
}

static void check_feed(const char *d, size_t n)
{
	const unsigned char *s = (const unsigned char *)d;
	size_t start = 0;
	int depth = 0;
	check(n >= 2 && d[n - 2] == '\r' && d[n - 1] == '\n', "no final CRLF");
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			check(i > 0 && s[i - 1] == '\r', "bare LF");
		if (s[i] != '\r')
			continue;
		check(i + 1 < n && s[i + 1] == '\n', "bare CR");
		size_t len = i - start;
		check(len <= 75, "line longer than 75 octets");
		check_text(s + start, len, 0);
		if (s[start] != ' ') { /* a logical line: NAME, then ';' or ':' */
			size_t k = start;
			while (k < i && ((s[k] >= 'A' && s[k] <= 'Z') || s[k] == '-'))
				k++;
			check(k > start && k < i && (s[k] == ':' || s[k] == ';'),
			      "no NAME: prefix");
			if (len > 6 && !memcmp(d + start, "BEGIN:", 6))
				depth++;
			else if (len > 4 && !memcmp(d + start, "END:", 4))
				check(--depth >= 0, "END without BEGIN");
		}
		start = i + 2;
		i++;
	}
	check(depth == 0, "BEGIN without END");
	check(!memcmp(d, "BEGIN:VCALENDAR\r\n", 17), "does not start with BEGIN:VCALENDAR");

	char *copy = malloc(n + 1);
	check(copy != NULL, "out of memory");
	memcpy(copy, d, n);
	copy[n] = '\0';
	icalcomponent *c = icalparser_parse_string(copy);
	check(c != NULL, "libical does not parse it");
	char *again = icalcomponent_as_ical_string_r(c);
	check(again && !strstr(again, "\r\nX-LIC-ERROR"), "libical reports an error");
	check(strlen(again) == n && !memcmp(again, copy, n), "libical round trip differs");
	icalmemory_free_buffer(again);
	icalcomponent_free(c);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	if (!init) {
		icalerror_set_errors_are_fatal(0);
		if (ical_zones_warm() != WM_OK)
			abort();
		init = 1;
	}
	if (size == 0)
		return 0;
	unsigned flags = data[0];
	char *buf = malloc(size + 1), *field[N_FIELDS] = {0};
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	size_t nf = 0;
	for (char *p = buf, *end = buf + size - 1; nf < N_FIELDS && p <= end; nf++) {
		field[nf] = p;
		p += strlen(p) + 1;
	}

	/* The sanitiser alone, with a tight limit. */
	char clean[512];
	for (int nl = 0; nl < 2; nl++) {
		size_t lim = (flags * 7u) % 300;
		size_t n = ical_text_clean(buf, size - 1, nl, lim, clean, sizeof clean);
		check(n <= lim && n < sizeof clean && clean[n] == '\0', "clean length");
		check_text((const unsigned char *)clean, n, nl);
	}

	size_t cap = (flags & 0x80) ? 2000 + (flags & 0x3F) * 97 : 16u << 20;
	struct ical_writer *w = ical_writer_new(cap);
	if (!w) {
		free(buf);
		return 0;
	}
	struct ical_calendar cal = {.prodid = "-//Waymark//Calendar Feeds 0.1//EN",
	                            .name = field[3],
	                            .description = field[4],
	                            .tzid = "Europe/London",
	                            .refresh_minutes = (int)(flags & 0x0F) * 37};
	wm_status st = ical_begin(w, &cal);
	const char *exd[] = {"20250405T100000", "20250412T100000"};
	for (unsigned i = 0; i < 1 + ((flags >> 5) & 3) && st == WM_OK; i++) {
		struct ical_event e = {
		    .uid = field[5] && *field[5] ? field[5] : "session-1@x",
		    .dtstamp_utc = "20250110T093000Z",
		    .last_modified_utc = (flags & 2) ? "20250110T093000Z" : NULL,
		    .sequence = (int)i,
		    .tzid = "Europe/London",
		    .dtstart_local = "20250322T100000",
		    .dtend_local = "20250322T110000",
		    .rrule = i == 1 ? "FREQ=WEEKLY;UNTIL=20250712T225959Z;BYDAY=SA" : NULL,
		    .exdates_local = exd,
		    .n_exdates = i == 1 ? 2 : 0,
		    .summary = field[0],
		    .description = field[1],
		    .location = field[2],
		    .status = (flags & 4) ? "CANCELLED" : NULL,
		    .busy_only = (flags & 0x10) != 0};
		st = ical_event_write(w, &e);
	}
	if (st == WM_OK)
		st = ical_end(w);
	size_t n;
	const char *d = ical_writer_data(w, &n);
	check(n <= cap, "size cap exceeded");
	if (st == WM_OK)
		check_feed(d, n);
	else
		/* Only the cap or an unusable UID may refuse a feed. */
		check((flags & 0x80) || (field[5] && *field[5]), "refused without a reason");
	ical_writer_free(w);
	free(buf);
	return 0;
}
