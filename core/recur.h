/*
 * recur — expands a recurring series (RFC 5545 RRULE from a local start in
 * an IANA zone) into UTC instants with libical. Pure C and CPU-bound on a
 * bounded input (at most `max` instances within `horizon_s` of the start),
 * so it may run on the event loop.
 *
 * The rule is expanded in local ("floating") time and each local start is
 * then placed in the zone, as RFC 5545 §3.3.10 describes. A local start the
 * zone skips (clocks go forward) or repeats (clocks go back) is refused
 * rather than guessed: libical 3.0 and python-dateutil place such times
 * differently (and libical's zoned iterator keeps the shifted time for the
 * instances after it), so the server and calendar clients would disagree.
 *
 * libical keeps global state (its error number, the zone table): call
 * recur_init() once on the loop thread before the first expansion (it is
 * also called lazily), and only ever expand on that thread.
 */
#ifndef WM_RECUR_H
#define WM_RECUR_H

#include <stddef.h>
#include <time.h>
#include <waymark/core.h>

#define RECUR_MAX_INSTANCES 500
#define RECUR_HORIZON_S     (731LL * 86400) /* two years from the first start */
#define RECUR_RULE_MAX      500             /* series.rrule's length */

struct recur_spec {
	const char *rrule;         /* "FREQ=WEEKLY;BYDAY=TU" (an "RRULE:" prefix is allowed) */
	const char *dtstart_local; /* "YYYY-MM-DDTHH:MM:SS" (or without seconds) */
	const char *tzid;          /* "Europe/London" */
	int duration_s;            /* > 0 */
	const char *until_date;    /* optional "YYYY-MM-DD": last local day, or NULL */
	long long horizon_s;       /* 0: RECUR_HORIZON_S */
	size_t max;                /* 0: RECUR_MAX_INSTANCES */
};

struct recur_instance {
	time_t start, end;    /* UTC */
	char local_start[20]; /* "YYYY-MM-DDTHH:MM:SS" in the zone */
};

struct recur_result {
	size_t n;
	int bounded;                   /* the rule has COUNT or UNTIL */
	time_t expanded_until;         /* first start + horizon (UTC) */
	char rule[RECUR_RULE_MAX + 1]; /* canonical rule, UNTIL in UTC */
};

/* Why an expansion was refused, in the API's error shape. */
struct recur_error {
	int status;        /* 400 or 422 */
	const char *code;  /* "core.bad_rrule", "core.too_many_sessions", ... */
	const char *field; /* "rrule", "start", "until" */
	char message[256];
};

/* Warms libical's zone table up (global state). Idempotent. */
void recur_init(void);

/* Expands `spec` into out[0..max) (out must hold spec->max, or
 * RECUR_MAX_INSTANCES, entries). WM_ERR with `err` filled when the rule or
 * zone is refused: unparsable or not accepted by libical, FREQ finer than
 * DAILY, COUNT with UNTIL, both until_date and COUNT/UNTIL, a part other
 * than INTERVAL, WKST, BYMONTH, BYMONTHDAY and BYDAY (BYYEARDAY, BYWEEKNO,
 * BYSETPOS, BYHOUR ...), a BYMONTHDAY no BYMONTH month holds (30 February),
 * a rule with no occurrence within the horizon, a start that is not the
 * rule's first occurrence, an instance at a local time that does not exist
 * or happens twice, more than `max` instances within the horizon, or (for
 * a rule with COUNT/UNTIL) any instance beyond it. A rule without COUNT or
 * UNTIL is expanded up to the horizon.
 *
 * The work is bounded whatever the rule: the dates it matches within the
 * horizon are found first by a day-by-day check (at most ~732 days), and
 * libical's iterator (which otherwise searches up to the year 2582 for an
 * occurrence that never comes) is asked for no more occurrences than that,
 * each of which must be on a date the check found. */
wm_status recur_expand(const struct recur_spec *spec, struct recur_instance *out,
                       struct recur_result *res, struct recur_error *err) WM_MUST_CHECK;

/* The UTC instant of a local time in `tzid`: 0 when it exists once, 1 when
 * the zone skips it, 2 when it happens twice, -1 for an unknown zone or a
 * malformed local time. */
int recur_local_to_utc(const char *tzid, const char *local, time_t *out);

#endif
