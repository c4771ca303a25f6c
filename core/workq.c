/*
 * workq — a mutex-protected FIFO, N pthreads, and an eventfd that wakes the
 * loop when jobs finish. Finished jobs go onto a second list the loop drains,
 * so `done` never runs on a worker.
 */
#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "workq.h"

struct job {
	workq_work_fn work;
	workq_done_fn done;
	void *arg;
	int ran;
	struct job *next;
};

struct list {
	struct job *head, *tail;
	int n;
};

struct workq {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct list todo, finished;
	int queue_max, stop;
	int nthreads;
	pthread_t *threads;
	int efd;
	struct event *ev;
};

static void push(struct list *l, struct job *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->n++;
}

static struct job *pop(struct list *l)
{
	struct job *j = l->head;
	if (j) {
		l->head = j->next;
		if (!l->head)
			l->tail = NULL;
		l->n--;
	}
	return j;
}

static void *worker(void *p)
{
	struct workq *q = p;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->stop && !q->todo.head)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->stop)
			break;
		struct job *j = pop(&q->todo);
		pthread_mutex_unlock(&q->mu);
		j->work(j->arg);
		j->ran = 1;
		pthread_mutex_lock(&q->mu);
		push(&q->finished, j);
		uint64_t one = 1;
		/* The counter cannot overflow in practice, and a failed write
		 * only delays delivery to the next wake-up; nothing to log
		 * while holding the lock. */
		ssize_t w = write(q->efd, &one, sizeof one);
		(void)w;
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

static void deliver(struct workq *q)
{
	pthread_mutex_lock(&q->mu);
	struct list done = q->finished;
	q->finished.head = q->finished.tail = NULL;
	q->finished.n = 0;
	pthread_mutex_unlock(&q->mu);
	for (struct job *j = done.head, *next; j; j = next) {
		next = j->next;
		j->done(j->arg, !j->ran);
		free(j);
	}
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;
	if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
		log_msg(WM_LOG_WARN, "workq", "eventfd read failed: errno %d", errno);
	deliver(arg);
}

struct workq *workq_new(struct event_base *base, int threads, int queue_max)
{
	sigset_t all, old;
	struct workq *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	q->queue_max = queue_max;
	q->efd = -1;
	/* Initialised before anything can fail, so workq_free can always run. */
	if (pthread_mutex_init(&q->mu, NULL) != 0) {
		free(q);
		return NULL;
	}
	if (pthread_cond_init(&q->cv, NULL) != 0) {
		pthread_mutex_destroy(&q->mu);
		free(q);
		return NULL;
	}
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	q->threads = calloc((size_t)threads, sizeof *q->threads);
	q->ev = q->efd >= 0 ? event_new(base, q->efd, EV_READ | EV_PERSIST, on_ready, q) : NULL;
	if (!q->threads || !q->ev || event_add(q->ev, NULL) != 0)
		goto fail;
	/* Signals belong to the loop thread (libevent's signal events):
	 * workers start with every signal blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; q->nthreads < threads; q->nthreads++)
		if (pthread_create(&q->threads[q->nthreads], NULL, worker, q) != 0)
			break;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (q->nthreads < threads)
		goto fail;
	return q;
fail:
	workq_free(q);
	return NULL;
}

wm_status workq_submit(struct workq *q, workq_work_fn work, workq_done_fn done, void *arg)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		return WM_ERR;
	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&q->mu);
	if (q->stop || q->todo.n >= q->queue_max) {
		pthread_mutex_unlock(&q->mu);
		free(j);
		return WM_ERR;
	}
	push(&q->todo, j);
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return WM_OK;
}

void workq_free(struct workq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (int i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	/* Unstarted jobs join the finished ones, marked as never run. */
	for (struct job *j; (j = pop(&q->todo));)
		push(&q->finished, j);
	deliver(q);
	if (q->ev)
		event_free(q->ev);
	if (q->efd >= 0)
		close(q->efd);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q->threads);
	free(q);
}
