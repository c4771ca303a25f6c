/*
 * ical_rrule — a series rule as a feed emits it: the stored rule with
 * COUNT/UNTIL replaced by UNTIL in UTC (ICAL.md D6), written back by libical
 * itself so that a libical round trip of the feed leaves it unchanged
 * (libical orders the parts its own way: FREQ, UNTIL, INTERVAL, BYDAY ...).
 * libical's error number is global state: event loop thread only.
 */
#include <libical/ical.h>
#include <string.h>

#include "ical.h"
#include "ical_internal.h"

/* Whether libical, re-serialising "RRULE:<rule>", would split the line's
 * CRLF (ical_internal.h): such a rule can never survive a round trip, so it
 * is refused and the feed writes the series' instances one by one. */
static int splits_crlf(const char *rule, size_t n)
{
	char line[8 + ICAL_RRULE_MAX];
	struct ical_buf b = {.max = 2 * sizeof line};
	if (n > ICAL_RRULE_MAX)
		return 1;
	memcpy(line, "RRULE:", 6);
	memcpy(line + 6, rule, n);
	int r = ical_fold_append(&b, line, n + 6);
	ical_buf_free(&b);
	return r != 0;
}

wm_status ical_rrule_for_feed(const char *rrule, const char *until_utc, char *out, size_t out_len)
{
	if (!rrule || !until_utc || !out || out_len == 0)
		return WM_ERR;
	out[0] = '\0';
	if (!strncmp(rrule, "RRULE:", 6))
		rrule += 6;
	size_t ul = strlen(until_utc);
	for (size_t i = 0; i < ul; i++)
		if (!(i == 8    ? until_utc[i] == 'T'
		      : i == 15 ? until_utc[i] == 'Z'
		                : until_utc[i] >= '0' && until_utc[i] <= '9'))
			return WM_ERR;
	if (ul != 16)
		return WM_ERR;
	struct icaltimetype until = icaltime_from_string(until_utc);
	if (icaltime_is_null_time(until) || !icaltime_is_valid_time(until) ||
	    !icaltime_is_utc(until))
		return WM_ERR;
	icalerror_clear_errno();
	struct icalrecurrencetype r = icalrecurrencetype_from_string(rrule);
	if (r.freq == ICAL_NO_RECURRENCE || icalerrno != ICAL_NO_ERROR) {
		icalerror_clear_errno();
		return WM_ERR;
	}
	r.count = 0;
	r.until = until;
	char *s = icalrecurrencetype_as_string_r(&r);
	icalerror_clear_errno();
	if (!s)
		return WM_ERR;
	size_t n = strlen(s);
	wm_status st = n < out_len && n <= ICAL_RRULE_MAX && !splits_crlf(s, n) ? WM_OK : WM_ERR;
	if (st == WM_OK)
		memcpy(out, s, n + 1);
	icalmemory_free_buffer(s);
	return st;
}
