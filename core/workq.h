/*
 * workq — a few worker threads for CPU-bound work that must not run on the
 * event loop: password hashing (argon2id takes tens of milliseconds and
 * 64 MiB by design). A job's `work` runs on a worker; its `done` runs later
 * on the loop thread, always exactly once. The queue is bounded so a flood
 * of logins costs memory once, not without limit.
 *
 * Workers touch only the job's own argument: never libevent, the pool or a
 * request. That is the whole threading model of waymarkd.
 */
#ifndef WM_WORKQ_H
#define WM_WORKQ_H

#include <waymark/types.h>

struct event_base;
struct workq;

/* `cancelled` is 1 when the job never ran (the queue is being freed). */
typedef void (*workq_work_fn)(void *arg);
typedef void (*workq_done_fn)(void *arg, int cancelled);

struct workq *workq_new(struct event_base *base, int threads, int queue_max);
/* Queues a job. WM_ERR when the queue is full (the caller answers 503). */
wm_status workq_submit(struct workq *q, workq_work_fn work, workq_done_fn done,
                       void *arg) WM_MUST_CHECK;
/* Stops the workers after the job each is running, then calls `done` on
 * the calling thread for every job not yet delivered (cancelled when it
 * never ran), and frees. */
void workq_free(struct workq *q);

#endif
