/*
 * db — the asynchronous PostgreSQL pool every request uses.
 *
 * N libpq connections in non-blocking mode, each driven by libevent events
 * on its socket: PQconnectStartParams/PQconnectPoll to connect (re-reading
 * PQsocket after every poll), PQsendQueryParams / PQsendQueryPrepared to
 * send, PQflush until done (waiting for writability), PQconsumeInput /
 * PQisBusy / PQgetResult on readability. Nothing here ever waits.
 *
 * Work that finds no idle connection waits in a bounded FIFO queue
 * (queue_max entries, queue_wait_ms each); overflow or a long wait fails with
 * WM_DB_BUSY. A connection that breaks fails its query with
 * WM_DB_UNAVAILABLE and reconnects with exponential backoff (50 ms doubling
 * to 1 s, ±20 % jitter); while no connection is up, new work fails at once
 * with WM_DB_UNAVAILABLE rather than waiting. Timeouts are enforced by the
 * server (statement_timeout, lock_timeout, idle_in_transaction_session_
 * timeout in the connection options), because libpq 15 has no
 * non-blocking cancel.
 */
#ifndef WM_DB_H
#define WM_DB_H

#include <waymark/core.h>

struct event_base;

struct db_pool_config {
	const char *conninfo;
	int size;
	int queue_max;
	int queue_wait_ms;
	int statement_timeout_ms;
	int lock_timeout_ms;
	int idle_tx_timeout_ms;
	int connect_timeout_ms;
};

struct db_pool_stats {
	int size;                  /* configured connections */
	int connected;             /* up and usable */
	int in_use;                /* running a query or pinned by a transaction */
	int waiting;               /* queued work items */
	unsigned long long errors; /* failed results of any kind */
	unsigned long long reconnects;
};

struct db_pool;

struct db_pool *db_pool_new(struct event_base *base, const struct db_pool_config *cfg);
/* Declares a statement every connection prepares after connecting. Only
 * before db_pool_start. `name` is the full (namespaced) name. */
wm_status db_pool_prepare(struct db_pool *pool, const char *name, const char *sql,
                          int nparams) WM_MUST_CHECK;
/* Starts connecting all connections (returns at once). */
wm_status db_pool_start(struct db_pool *pool) WM_MUST_CHECK;
/* Fails queued work with WM_DB_UNAVAILABLE, closes connections and frees. */
void db_pool_free(struct db_pool *pool);
void db_pool_get_stats(const struct db_pool *pool, struct db_pool_stats *out);

/* The callbacks are always called exactly once, later (never from inside
 * these functions), even on failure. WM_ERR only on bad arguments. */
wm_status db_exec(struct db_pool *pool, const char *sql, int nparams, const char *const *params,
                  wm_db_fn cb, void *arg) WM_MUST_CHECK;
wm_status db_exec_prepared(struct db_pool *pool, const char *name, int nparams,
                           const char *const *params, wm_db_fn cb, void *arg) WM_MUST_CHECK;
wm_status db_tx_begin(struct db_pool *pool, wm_db_tx_fn cb, void *arg) WM_MUST_CHECK;
wm_status db_tx_exec(struct wm_db_tx *tx, const char *sql, int nparams, const char *const *params,
                     wm_db_fn cb, void *arg) WM_MUST_CHECK;
void db_tx_end(struct wm_db_tx *tx, int commit, wm_db_fn cb, void *arg);

/* Result accessors (the same functions the core table hands to plugins). */
enum wm_db_error db_result_error(const struct wm_db_result *res);
const char *db_result_sqlstate(const struct wm_db_result *res);
const char *db_result_message(const struct wm_db_result *res);
/* The column a constraint violation concerns (PostgreSQL reports it for
 * NOT NULL and some others), or "". */
const char *db_result_column(const struct wm_db_result *res);
int db_result_ntuples(const struct wm_db_result *res);
int db_result_nfields(const struct wm_db_result *res);
const char *db_result_value(const struct wm_db_result *res, int row, int col);

/* Appends the statement-timeout options to a conninfo (malloc'd). */
char *db_conninfo_with_timeouts(const char *conninfo, const struct db_pool_config *cfg);

#endif
