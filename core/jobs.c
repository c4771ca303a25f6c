/*
 * jobs — see jobs.h. Runs the statements of `job_sql` one after another on
 * each tick, then the completion-pending job (completion.c: SQL, the
 * plugins' hooks on the loop, SQL again) in batches; errors are logged and
 * the next tick tries again.
 */
#include <event2/event.h>
#include <stdlib.h>

#include "completion.h"
#include "db.h"
#include "jobs.h"
#include "log.h"

static const char *const job_sql[] = {
    "SELECT core.booking_expire_offers()",
    "SELECT core.idempotency_expire()",
    /* Calendar feeds' revision log: only the latest entry of each scope
     * (and the last hour's) is ever read for Last-Modified. */
    "SELECT core.calendar_revision_prune()",
};
#define NJOBS (sizeof job_sql / sizeof job_sql[0])
/* A tick decides at most this many full batches of pending completions
 * (COMPLETION_JOB_BATCH each); the rest wait for the next tick, so one
 * rule change over thousands of enrolments never monopolises the pool. */
#define COMPLETION_BATCHES_PER_TICK 10

struct jobs {
	struct event *timer;
	struct db_pool *pool;
	size_t next;  /* the job running, while busy (NJOBS: completions) */
	int batches;  /* completion batches run in this tick */
	int busy;     /* a statement is in flight */
	int stopping; /* jobs_stop was called while busy: the callback frees */
};

static void job_done(void *arg, const struct wm_db_result *res);
static void completions_done(void *arg, int claimed, int changed);

static void run_next(struct jobs *j)
{
	for (; j->next < NJOBS; j->next++) {
		if (db_exec(j->pool, job_sql[j->next], 0, NULL, job_done, j) == WM_OK)
			return;
		log_msg(WM_LOG_WARN, "jobs", "cannot queue job %zu", j->next);
	}
	if (j->next == NJOBS && j->batches < COMPLETION_BATCHES_PER_TICK) {
		j->batches++;
		if (completion_job_run(j->pool, completions_done, j) == WM_OK)
			return;
	}
	j->busy = 0;
}

/* A full batch means more may be waiting: run another at once (bounded). */
static void completions_done(void *arg, int claimed, int changed)
{
	struct jobs *j = arg;
	if (j->stopping) {
		free(j);
		return;
	}
	if (changed > 0)
		log_msg(WM_LOG_INFO, "jobs", "completions: %d decided, %d changed", claimed,
		        changed);
	if (claimed < COMPLETION_JOB_BATCH)
		j->next++;
	run_next(j);
}

static void job_done(void *arg, const struct wm_db_result *res)
{
	struct jobs *j = arg;
	if (j->stopping) {
		free(j);
		return;
	}
	if (db_result_error(res) != WM_DB_OK)
		log_msg(WM_LOG_WARN, "jobs", "%s failed (SQLSTATE %s): %s", job_sql[j->next],
		        db_result_sqlstate(res), db_result_message(res));
	else if (db_result_ntuples(res) > 0 && db_result_value(res, 0, 0) &&
	         atoi(db_result_value(res, 0, 0)) > 0)
		log_msg(WM_LOG_INFO, "jobs", "%s: %s rows", job_sql[j->next],
		        db_result_value(res, 0, 0));
	j->next++;
	run_next(j);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	struct jobs *j = arg;
	(void)fd;
	(void)what;
	if (j->busy)
		return;
	j->busy = 1;
	j->next = 0;
	j->batches = 0;
	run_next(j);
}

struct jobs *jobs_start(struct event_base *base, struct db_pool *pool, long long interval_ms)
{
	struct jobs *j = calloc(1, sizeof *j);
	if (!j)
		goto fail;
	j->pool = pool;
	j->timer = event_new(base, -1, EV_PERSIST, tick, j);
	struct timeval tv = {(time_t)(interval_ms / 1000),
	                     (suseconds_t)(interval_ms % 1000) * 1000};
	if (!j->timer || event_add(j->timer, &tv) != 0)
		goto fail;
	return j;
fail:
	log_msg(WM_LOG_ERROR, "jobs", "cannot start the background jobs timer");
	if (j && j->timer)
		event_free(j->timer);
	free(j);
	return NULL;
}

void jobs_stop(struct jobs *j)
{
	if (!j)
		return;
	event_free(j->timer);
	j->timer = NULL;
	if (j->busy)
		j->stopping = 1; /* job_done frees it */
	else
		free(j);
}
