/*
 * recur_check — a model of the RRULE parts Waymark accepts (FREQ,
 * INTERVAL, WKST, BYMONTH, BYMONTHDAY, BYDAY), matched day by day, so
 * recur.c can refuse rules that never match before libical's iterator
 * searches for them, and check each occurrence libical gives against it.
 * Internal to recur.c and recur_check.c.
 */
#ifndef WM_RECUR_CHECK_H
#define WM_RECUR_CHECK_H

#include <libical/ical.h>
#include <waymark/types.h>

#include "recur.h"

struct pattern {
	struct icalrecurrencetype r; /* with RFC 5545's defaults from DTSTART filled in */
	long start, start_week;      /* DTSTART's date and the first day of its week */
	int sy, sm, wkst;            /* wkst: 0 Sunday .. 6 Saturday */
};

/* Days since 1970-01-01 of a civil date. */
long recur_days_from_civil(int y, int m, int d);

/* Builds the model from a parsed rule and its DTSTART; refuses (filling
 * err) parts it does not model and impossible BYMONTH/BYMONTHDAY pairs. */
wm_status recur_pattern_make(const struct icalrecurrencetype *r, struct icaltimetype start,
                             struct pattern *p, struct recur_error *err) WM_MUST_CHECK;

/* 1 when the rule has an occurrence on `day` (days since 1970-01-01). */
int recur_pattern_matches(const struct pattern *p, long day);

/* Fills err and returns WM_ERR: the one way recur refuses. */
wm_status recur_refuse(struct recur_error *err, int status, const char *code, const char *field,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
