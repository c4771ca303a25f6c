/*
 * ical — writes the iCalendar text Waymark publishes in calendar feeds and
 * one-event .ics downloads (RFC 5545; /work/shared/docs/ICAL.md D1–D14):
 * one VCALENDAR, CRLF line endings, lines folded at 75 octets exactly where
 * libical 3.0.16 folds them when it re-serialises, TEXT escaped as libical
 * escapes it, and every text field sanitised to clean UTF-8 first. So a
 * libical parse + re-serialise of our output is byte-identical, which is
 * what the feed checkers assert. (core/ical_internal.h lists what libical
 * does; tests/unit/test_ical.c proves the round trip on hostile text.)
 *
 * What a caller should know:
 * - Text values lose leading/trailing spaces (libical's parser drops them);
 *   an empty SUMMARY/DESCRIPTION/LOCATION/NAME is left out (libical refuses
 *   empty values). In the rare case where libical would split a line's CRLF
 *   (a last folded piece of exactly 73 octets with no ' ' ';' ':'), the
 *   value loses its last character instead.
 * - X- values (X-WR-CALNAME, X-WR-CALDESC) also lose , ; and \ (libical
 *   neither escapes nor unescapes them).
 * - libical writes a calendar's VTIMEZONEs in the reverse of the order it
 *   read them: a feed with two or more zones is valid, but its libical
 *   round trip swaps the blocks. Only one-zone feeds are byte-identical.
 * - No METHOD, ATTENDEE, ORGANIZER or VALARM is ever written.
 *
 * The writer keeps no global state and never reads the clock (DTSTAMP and
 * LAST-MODIFIED come from the rows, so the bytes — and the ETag — only move
 * when the data does): it is safe on any thread. The only shared state is
 * the VTIMEZONE cache behind ical_zone_block(), guarded by a mutex; the
 * first use of a zone other than Europe/London builds its block from
 * libical's data (a few ms, once per zone per process).
 *
 * ical_rrule_for_feed() goes through libical's recurrence parser, whose
 * error state is global: call it on the event loop thread only (like
 * core/recur.h). ical_zones_warm() is called once at start-up, on the main
 * thread, before any worker thread writes a feed.
 */
#ifndef WM_ICAL_H
#define WM_ICAL_H

#include <stddef.h>
#include <waymark/types.h>

/* Octet caps applied (at a character boundary) after sanitising. */
#define ICAL_NAME_MAX        200  /* calendar NAME / X-WR-CALNAME */
#define ICAL_SUMMARY_MAX     1000 /* SUMMARY */
#define ICAL_LOCATION_MAX    1000 /* LOCATION */
#define ICAL_DESCRIPTION_MAX 8000 /* DESCRIPTION and X-WR-CALDESC */
#define ICAL_RRULE_MAX       600  /* a buffer large enough for ical_rrule_for_feed() */

struct ical_writer;
struct ical_writer *ical_writer_new(size_t max_bytes); /* NULL on OOM */
void ical_writer_free(struct ical_writer *w);
/* Empties the writer for another calendar, keeping its buffer (and max_bytes). */
void ical_writer_reset(struct ical_writer *w);

/* Every write below returns WM_ERR once max_bytes would be exceeded or
 * memory runs out; the error is sticky (later calls fail too). */
struct ical_calendar {
	const char *prodid;      /* "-//Waymark//Calendar Feeds 0.1//EN" */
	const char *name;        /* NAME and X-WR-CALNAME (X- value sanitised: no , ; \) */
	const char *description; /* X-WR-CALDESC or NULL */
	const char *tzid;        /* "Europe/London": X-WR-TIMEZONE and its VTIMEZONE */
	const char *const *extra_tzids;
	size_t n_extra_tzids; /* more VTIMEZONEs, may be 0 */
	int refresh_minutes;  /* REFRESH-INTERVAL;VALUE=DURATION and X-PUBLISHED-TTL, in
	                         libical's form: 60 → PT1H, 90 → PT1H30M, 1440 → P1D;
	                         <= 0: neither property */
};
/* BEGIN:VCALENDAR and the calendar properties and VTIMEZONEs. WM_ERR also
 * when a tzid is unknown (see ical_zone_block). */
wm_status ical_begin(struct ical_writer *w, const struct ical_calendar *c) WM_MUST_CHECK;

struct ical_event {
	const char *uid;               /* "session-91@waymark.example" */
	const char *dtstamp_utc;       /* "20250110T093000Z" — from the row, never now */
	const char *last_modified_utc; /* same form, or NULL */
	int sequence;
	/* One given to ical_begin; or NULL for an event in UTC, whose start and
	 * end are then "20271031T013000Z" (a local time the clocks repeat is
	 * written so: a zoned one would be read as its first occurrence). */
	const char *tzid;
	const char *dtstart_local;       /* "20250322T100000" */
	const char *dtend_local;         /* may be NULL (then no DTEND) */
	const char *recurrence_id_local; /* NULL unless an override of a series */
	const char *rrule;               /* NULL, or from ical_rrule_for_feed() */
	const char *const *exdates_local;
	size_t n_exdates;        /* with TZID like DTSTART */
	const char *summary;     /* raw text; the writer sanitises + escapes */
	const char *description; /* raw, may be NULL; newlines kept as \n */
	const char *location;    /* raw, may be NULL */
	const char *status;      /* "CONFIRMED" | "CANCELLED" | "TENTATIVE" | NULL */
	int busy_only;           /* 1: CLASS:PRIVATE, TRANSP:OPAQUE, SUMMARY "Busy", no
	                            DESCRIPTION/LOCATION */
};
/* One VEVENT. Identifiers and date-times are checked for shape (WM_ERR if
 * one is malformed, so a bad row never yields a broken feed). */
wm_status ical_event_write(struct ical_writer *w, const struct ical_event *e) WM_MUST_CHECK;
/* END:VCALENDAR. */
wm_status ical_end(struct ical_writer *w) WM_MUST_CHECK;
/* The bytes written so far, NUL-terminated (the NUL is not counted in *len);
 * borrowed, valid until the next write/reset/free. */
const char *ical_writer_data(const struct ical_writer *w, size_t *len);

/* A series rule as the feed emits it: the stored rule (already validated by libical)
 * with COUNT/UNTIL replaced by UNTIL = until_utc ("20270712T225959Z"), normalised
 * through libical so a round trip is byte-identical. WM_ERR if it does not parse,
 * does not fit out_len, or its RRULE line is one libical would fold with a bare CR
 * (the caller then writes the instances one by one). Event loop thread only
 * (libical's global error state). */
wm_status ical_rrule_for_feed(const char *rrule, const char *until_utc, char *out,
                              size_t out_len) WM_MUST_CHECK;

/* Sanitises text for a feed into out (always NUL-terminated): invalid UTF-8 → U+FFFD
 * (one per maximal invalid subpart), C0/DEL/C1 controls dropped except: tab → space,
 * line breaks (\r\n, \r, \n) → '\n' with keep_newlines, else → space;
 * bidi overrides (U+202A–U+202E, U+2066–U+2069) dropped, truncated at a character
 * boundary to max_octets (and to out_len - 1). Returns bytes written. */
size_t ical_text_clean(const char *in, size_t in_len, int keep_newlines, size_t max_octets,
                       char *out, size_t out_len);

/* The compact VTIMEZONE (ICAL.md D7, §6 template for Europe/London; other zones cut down
 * from libical's built-in data with a plain IANA TZID) as CRLF text, or NULL when the zone
 * is unknown. Cached; thread-safe; ical_zones_warm() is called once at start-up. */
const char *ical_zone_block(const char *tzid);
wm_status ical_zones_warm(void) WM_MUST_CHECK;

#endif
