/*
 * The asynchronous pool against the real PostgreSQL: results, errors,
 * prepared statements, transactions that commit and roll back, the bounded
 * queue (busy), an unreachable database (unavailable, fast), and the promise
 * that callbacks never run inside the call that queued them.
 */
#include <check.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "ts.h"

static char *dsn;
static struct event_base *base;

static void setup(void)
{
	dsn = ts_db_create("pool");
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
}

static void teardown(void)
{
	event_base_free(base);
	ts_db_drop(dsn);
	free(dsn);
}

static struct db_pool *pool_with(const char *conninfo, int size, int queue_max, int wait_ms)
{
	struct db_pool_config cfg = {.conninfo = conninfo,
	                             .size = size,
	                             .queue_max = queue_max,
	                             .queue_wait_ms = wait_ms,
	                             .statement_timeout_ms = 5000,
	                             .lock_timeout_ms = 2000,
	                             .idle_tx_timeout_ms = 10000,
	                             .connect_timeout_ms = 3000};
	struct db_pool *p = db_pool_new(base, &cfg);
	ck_assert_ptr_nonnull(p);
	return p;
}

/* What a callback saw, copied out while the result was valid. */
struct seen {
	int calls;
	enum wm_db_error error;
	char sqlstate[6];
	char value[64];
	int ntuples;
	int *inside; /* set while the submitting call runs */
	int was_inside;
};

static void record(void *arg, const struct wm_db_result *res)
{
	struct seen *s = arg;
	s->calls++;
	s->error = db_result_error(res);
	snprintf(s->sqlstate, sizeof s->sqlstate, "%s", db_result_sqlstate(res));
	const char *v = db_result_value(res, 0, 0);
	snprintf(s->value, sizeof s->value, "%s", v ? v : "(null)");
	s->ntuples = db_result_ntuples(res);
	if (s->inside && *s->inside)
		s->was_inside = 1;
}

/* Runs the loop until `*calls` reaches `want` or 10 s pass. */
static void run_until(const int *calls, int want)
{
	double end = ts_now() + 10;
	while (*calls < want && ts_now() < end)
		event_base_loop(base, EVLOOP_ONCE);
	ck_assert_int_ge(*calls, want);
}

START_TEST(query_params_and_null)
{
	struct db_pool *p = pool_with(dsn, 2, 16, 2000);
	ck_assert_int_eq(db_pool_start(p), WM_OK);
	struct seen a = {0}, b = {0};
	const char *params[] = {"41", NULL};
	ck_assert_int_eq(db_exec(p, "SELECT $1::int + 1", 1, params, record, &a), WM_OK);
	ck_assert_int_eq(db_exec(p, "SELECT $1::text", 1, params + 1, record, &b), WM_OK);
	run_until(&b.calls, 1);
	run_until(&a.calls, 1);
	ck_assert_int_eq(a.error, WM_DB_OK);
	ck_assert_str_eq(a.value, "42");
	ck_assert_int_eq(b.error, WM_DB_OK);
	ck_assert_str_eq(b.value, "(null)");
	db_pool_free(p);
}
END_TEST

START_TEST(sql_error_has_sqlstate)
{
	struct db_pool *p = pool_with(dsn, 1, 16, 2000);
	ck_assert_int_eq(db_pool_start(p), WM_OK);
	struct seen a = {0}, b = {0};
	ck_assert_int_eq(db_exec(p, "SELECT * FROM no_such_table", 0, NULL, record, &a), WM_OK);
	ck_assert_int_eq(db_exec(p, "SELECT 'after'", 0, NULL, record, &b), WM_OK);
	run_until(&b.calls, 1);
	ck_assert_int_eq(a.error, WM_DB_QUERY);
	ck_assert_str_eq(a.sqlstate, "42P01");
	ck_assert_int_eq(a.ntuples, 0);
	/* The connection is still good after a refused statement. */
	ck_assert_int_eq(b.error, WM_DB_OK);
	ck_assert_str_eq(b.value, "after");
	db_pool_free(p);
}
END_TEST

START_TEST(prepared_statements)
{
	struct db_pool *p = pool_with(dsn, 2, 16, 2000);
	ck_assert_int_eq(db_pool_prepare(p, "t.double", "SELECT $1::int * 2", 1), WM_OK);
	ck_assert_int_eq(db_pool_prepare(p, "t.double", "SELECT 1", 0), WM_ERR);
	ck_assert_int_eq(db_pool_start(p), WM_OK);
	ck_assert_int_eq(db_pool_prepare(p, "t.late", "SELECT 1", 0), WM_ERR);
	struct seen s[6] = {{0}};
	char nums[6][4];
	for (int i = 0; i < 6; i++) {
		snprintf(nums[i], sizeof nums[i], "%d", i);
		const char *params[] = {nums[i]};
		ck_assert_int_eq(db_exec_prepared(p, "t.double", 1, params, record, &s[i]), WM_OK);
	}
	ck_assert_int_eq(db_exec_prepared(p, "t.unknown", 0, NULL, record, &s[0]), WM_ERR);
	run_until(&s[5].calls, 1);
	for (int i = 0; i < 6; i++) {
		run_until(&s[i].calls, 1);
		char want[8];
		snprintf(want, sizeof want, "%d", i * 2);
		ck_assert_str_eq(s[i].value, want);
	}
	db_pool_free(p);
}
END_TEST

struct txrun {
	struct wm_db_tx *tx;
	int began, done, commit;
	enum wm_db_error end_error;
	struct seen stmt;
};

static void tx_ended(void *arg, const struct wm_db_result *res)
{
	struct txrun *t = arg;
	t->end_error = db_result_error(res);
	t->done = 1;
}

static void tx_inserted(void *arg, const struct wm_db_result *res)
{
	struct txrun *t = arg;
	record(&t->stmt, res);
	db_tx_end(t->tx, t->commit, tx_ended, t);
}

static void tx_began(void *arg, struct wm_db_tx *tx, const struct wm_db_result *res)
{
	struct txrun *t = arg;
	ck_assert_ptr_nonnull(tx);
	t->tx = tx;
	t->began = 1;
	const char *params[] = {t->commit ? "kept" : "dropped"};
	ck_assert_int_eq(db_tx_exec(tx, "INSERT INTO t(v) VALUES ($1)", 1, params, tx_inserted, t),
	                 WM_OK);
	/* One statement at a time on a transaction. */
	ck_assert_int_eq(db_tx_exec(tx, "SELECT 1", 0, NULL, tx_inserted, t), WM_ERR);
}

START_TEST(transactions_commit_and_rollback)
{
	ck_assert_int_eq(ts_db_exec(dsn, "CREATE TABLE t (v text)"), 0);
	struct db_pool *p = pool_with(dsn, 2, 16, 2000);
	ck_assert_int_eq(db_pool_start(p), WM_OK);
	struct txrun keep = {.commit = 1}, drop = {.commit = 0};
	ck_assert_int_eq(db_tx_begin(p, tx_began, &keep), WM_OK);
	ck_assert_int_eq(db_tx_begin(p, tx_began, &drop), WM_OK);
	run_until(&keep.done, 1);
	run_until(&drop.done, 1);
	ck_assert_int_eq(keep.stmt.error, WM_DB_OK);
	ck_assert_int_eq(keep.end_error, WM_DB_OK);
	ck_assert_int_eq(drop.end_error, WM_DB_OK);
	char *v = ts_db_value(dsn, "SELECT string_agg(v, ',') FROM t");
	ck_assert_str_eq(v, "kept");
	free(v);
	/* Both connections were released: a plain query still runs. */
	struct seen after = {0};
	ck_assert_int_eq(db_exec(p, "SELECT count(*) FROM t", 0, NULL, record, &after), WM_OK);
	run_until(&after.calls, 1);
	ck_assert_str_eq(after.value, "1");
	db_pool_free(p);
}
END_TEST

START_TEST(queue_overflow_is_busy)
{
	struct db_pool *p = pool_with(dsn, 1, 1, 5000);
	ck_assert_int_eq(db_pool_start(p), WM_OK);
	struct seen warm = {0};
	ck_assert_int_eq(db_exec(p, "SELECT 1", 0, NULL, record, &warm), WM_OK);
	run_until(&warm.calls, 1);
	struct seen slow = {0}, queued = {0}, over = {0};
	ck_assert_int_eq(db_exec(p, "SELECT pg_sleep(0.5)", 0, NULL, record, &slow), WM_OK);
	ck_assert_int_eq(db_exec(p, "SELECT 'queued'", 0, NULL, record, &queued), WM_OK);
	ck_assert_int_eq(db_exec(p, "SELECT 'over'", 0, NULL, record, &over), WM_OK);
	run_until(&over.calls, 1);
	ck_assert_int_eq(over.error, WM_DB_BUSY);
	run_until(&queued.calls, 1);
	ck_assert_int_eq(slow.error, WM_DB_OK);
	ck_assert_int_eq(queued.error, WM_DB_OK);
	ck_assert_str_eq(queued.value, "queued");
	struct db_pool_stats st;
	db_pool_get_stats(p, &st);
	ck_assert_int_eq(st.waiting, 0);
	ck_assert_uint_ge(st.errors, 1);
	db_pool_free(p);
}
END_TEST

START_TEST(queue_wait_times_out_busy)
{
	struct db_pool *p = pool_with(dsn, 1, 8, 200);
	ck_assert_int_eq(db_pool_start(p), WM_OK);
	struct seen warm = {0};
	ck_assert_int_eq(db_exec(p, "SELECT 1", 0, NULL, record, &warm), WM_OK);
	run_until(&warm.calls, 1);
	struct seen slow = {0}, waits = {0};
	ck_assert_int_eq(db_exec(p, "SELECT pg_sleep(1)", 0, NULL, record, &slow), WM_OK);
	ck_assert_int_eq(db_exec(p, "SELECT 2", 0, NULL, record, &waits), WM_OK);
	run_until(&waits.calls, 1);
	ck_assert_int_eq(waits.error, WM_DB_BUSY);
	ck_assert_int_eq(slow.calls, 0); /* gave up well before the sleep ended */
	run_until(&slow.calls, 1);
	ck_assert_int_eq(slow.error, WM_DB_OK);
	db_pool_free(p);
}
END_TEST

START_TEST(unreachable_database_is_unavailable)
{
	/* A socket directory with no server: every connect fails at once. */
	struct db_pool *p = pool_with("host=/nonexistent-waymark port=1 dbname=x", 2, 16, 2000);
	ck_assert_int_eq(db_pool_start(p), WM_OK);
	struct seen a = {0};
	ck_assert_int_eq(db_exec(p, "SELECT 1", 0, NULL, record, &a), WM_OK);
	double t0 = ts_now();
	run_until(&a.calls, 1);
	ck_assert_int_eq(a.error, WM_DB_UNAVAILABLE);
	/* Once the pool knows the database is down, new work fails on the next
	 * loop turn instead of waiting out the queue. */
	struct seen b = {0};
	ck_assert_int_eq(db_exec(p, "SELECT 1", 0, NULL, record, &b), WM_OK);
	run_until(&b.calls, 1);
	ck_assert_int_eq(b.error, WM_DB_UNAVAILABLE);
	ck_assert(ts_now() - t0 < 1.5);
	db_pool_free(p);
}
END_TEST

START_TEST(callbacks_never_reentrant)
{
	struct db_pool *p = pool_with("host=/nonexistent-waymark port=1 dbname=x", 1, 0, 2000);
	int inside = 0;
	struct seen a = {.inside = &inside};
	ck_assert_int_eq(db_pool_start(p), WM_OK);
	inside = 1;
	ck_assert_int_eq(db_exec(p, "SELECT 1", 0, NULL, record, &a), WM_OK);
	inside = 0;
	ck_assert_int_eq(a.calls, 0);
	run_until(&a.calls, 1);
	ck_assert_int_eq(a.was_inside, 0);
	db_pool_free(p);
}
END_TEST

START_TEST(free_fails_waiting_work_once)
{
	struct db_pool *p = pool_with(dsn, 1, 8, 5000);
	ck_assert_int_eq(db_pool_start(p), WM_OK);
	struct seen a = {0}, b = {0};
	ck_assert_int_eq(db_exec(p, "SELECT pg_sleep(5)", 0, NULL, record, &a), WM_OK);
	ck_assert_int_eq(db_exec(p, "SELECT 1", 0, NULL, record, &b), WM_OK);
	db_pool_free(p);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(b.calls, 1);
	ck_assert_int_eq(a.error, WM_DB_UNAVAILABLE);
	ck_assert_int_eq(b.error, WM_DB_UNAVAILABLE);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("db_pool");
	TCase *tc = tcase_create("pool");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, query_params_and_null);
	tcase_add_test(tc, sql_error_has_sqlstate);
	tcase_add_test(tc, prepared_statements);
	tcase_add_test(tc, transactions_commit_and_rollback);
	tcase_add_test(tc, queue_overflow_is_busy);
	tcase_add_test(tc, queue_wait_times_out_busy);
	tcase_add_test(tc, unreachable_database_is_unavailable);
	tcase_add_test(tc, callbacks_never_reentrant);
	tcase_add_test(tc, free_fails_waiting_work_once);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ts_main(suite());
}
