/*
 * jobs — background work each waymarkd process runs on its event loop
 * every jobs.interval_ms: expiring waitlist offers (and offering the places
 * on), forgetting Idempotency-Keys older than 24 hours, pruning calendar
 * feeds' revision log (core.calendar_revision_prune), and deciding
 * pending completions (enrolments whose facts changed outside the register:
 * completion.h). Each job is SQL function calls through the pool (db_exec),
 * so the loop never waits; the functions claim rows with FOR UPDATE SKIP
 * LOCKED, so any number of processes may run them at once. A tick that
 * finds the previous one still running is skipped.
 */
#ifndef WM_JOBS_H
#define WM_JOBS_H

#include <waymark/core.h>

struct event_base;
struct db_pool;
struct jobs;

/* Starts the timer (the first run is one interval after start). NULL on
 * failure (logged). `pool` must outlive jobs_stop. */
struct jobs *jobs_start(struct event_base *base, struct db_pool *pool, long long interval_ms);
/* Stops the timer. A job still in flight finishes (its callback frees
 * what is left), so call this before db_pool_free. NULL is fine. */
void jobs_stop(struct jobs *j);

#endif
