/*
 * gc_outcomes.h — shared by gc_outcomes.c (certificates, graduation, onward
 * referrals) and gc_report.c (the per-cohort report): the one way their
 * routes run a statement and reply, and the shape checks of their inputs.
 * Private to those two files; the descriptor sees only
 * gc_outcome_prepare / gc_outcome_routes (gc.h).
 */
#ifndef GC_OUTCOMES_H
#define GC_OUTCOMES_H

#include "gc.h"

/* Ids are bigint but clients may be JavaScript: nothing above 2^53. */
#define GC_OUT_MAX_ID (1LL << 53)

/* Runs prepared statement `name` with the request context first ($1 the
 * caller's staff id, $2 the peer address, $3 the request id) and then the
 * `n` values of `params` ($4 ...). The statement returns one row with one
 * JSON column: sent with `status`; no row or NULL is 404 core.not_found; a
 * refusal the SQL raised ('code|field|message', WM4xx) is sent as such. */
void gc_out_exec(struct gc_state *st, struct wm_req *req, const char *name, int n,
                 const char *const *params, int status);

/* A path or query id: 1..2^53 written in digits only. 0 when it is not. */
long long gc_out_id(const char *s);

/* "YYYY-MM-DD" naming a day that exists (1900..2200). */
int gc_out_date_ok(const char *s);

/* A date-time as core.instant_in reads it: local "2027-03-28T09:30[:00]"
 * or RFC 3339 with Z or an offset. */
int gc_out_instant_ok(const char *s);

/* The report's statements and route (gc_report.c). */
wm_status gc_report_prepare(struct gc_state *st) WM_MUST_CHECK;
wm_status gc_report_routes(struct gc_state *st) WM_MUST_CHECK;

#endif
