/*
 * The worker queue that keeps password hashing off the event loop: every
 * job's `done` runs exactly once, on the thread that runs the loop, after
 * its `work` ran on another thread; a full queue refuses; freeing the queue
 * delivers the jobs that never ran as cancelled.
 */
#include <check.h>
#include <event2/event.h>
#include <pthread.h>
#include <unistd.h>

#include "ts.h"
#include "workq.h"

#define N 40

struct job {
	pthread_t worked_on;
	int worked, done, cancelled;
	pthread_t done_on;
};

static struct event_base *base;
static int delivered;

static void work(void *arg)
{
	struct job *j = arg;
	j->worked_on = pthread_self();
	j->worked++;
	usleep(1000);
}

static void done(void *arg, int cancelled)
{
	struct job *j = arg;
	j->done++;
	j->cancelled = cancelled;
	j->done_on = pthread_self();
	if (++delivered == N)
		event_base_loopbreak(base);
}

START_TEST(every_job_done_once_on_the_loop_thread)
{
	static struct job jobs[N];
	base = event_base_new();
	delivered = 0;
	struct workq *q = workq_new(base, 2, N);
	ck_assert_ptr_nonnull(q);
	for (int i = 0; i < N; i++)
		ck_assert(workq_submit(q, work, done, &jobs[i]) == WM_OK);
	struct timeval limit = {10, 0};
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	ck_assert_int_eq(delivered, N);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(jobs[i].worked, 1);
		ck_assert_int_eq(jobs[i].done, 1);
		ck_assert_int_eq(jobs[i].cancelled, 0);
		ck_assert(pthread_equal(jobs[i].done_on, pthread_self()));
		ck_assert(!pthread_equal(jobs[i].worked_on, pthread_self()));
	}
	workq_free(q);
	event_base_free(base);
}
END_TEST

static void slow(void *arg)
{
	struct job *j = arg;
	j->worked++;
	usleep(200 * 1000);
}

START_TEST(full_queue_refuses_and_free_cancels_the_rest)
{
	static struct job jobs[6];
	base = event_base_new();
	delivered = 0;
	struct workq *q = workq_new(base, 1, 3);
	ck_assert_ptr_nonnull(q);
	int accepted = 0;
	for (int i = 0; i < 6; i++)
		accepted += workq_submit(q, slow, done, &jobs[i]) == WM_OK;
	/* One running (perhaps) and three queued: at most four accepted, at
	 * least three. */
	ck_assert_int_ge(accepted, 3);
	ck_assert_int_le(accepted, 4);
	workq_free(q);
	int cancelled = 0, ran = 0;
	for (int i = 0; i < 6; i++) {
		if (i < accepted) {
			ck_assert_int_eq(jobs[i].done, 1);
			cancelled += jobs[i].cancelled;
			ran += jobs[i].worked;
			ck_assert_int_eq(jobs[i].cancelled, !jobs[i].worked);
		} else {
			ck_assert_int_eq(jobs[i].done, 0);
		}
	}
	ck_assert_int_eq(cancelled + ran, accepted);
	ck_assert_int_ge(cancelled, 1);
	event_base_free(base);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("workq");
	TCase *tc = tcase_create("workq");
	tcase_add_test(tc, every_job_done_once_on_the_loop_thread);
	tcase_add_test(tc, full_queue_refuses_and_free_cancels_the_rest);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
