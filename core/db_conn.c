/*
 * db_conn — one pooled PostgreSQL connection, driven entirely by libevent.
 *
 * The connection is a state machine (enum conn_state). Every change goes
 * through conn_set_state, which refuses transitions that cannot happen and
 * logs them at debug level, so a wrong turn shows up at once in tests.
 *
 * Nothing here waits: connecting is PQconnectStartParams + PQconnectPoll on
 * socket readiness (re-reading PQsocket after every poll, since libpq may
 * open a new socket per address); sending is PQsend* + PQflush, waiting for
 * writability while output is pending; receiving is PQconsumeInput +
 * PQisBusy + PQgetResult on readability.
 */
#include <event2/event.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "log.h"

static const char *const state_names[] = {"down", "backoff", "connecting", "preparing",
                                          "idle", "busy",    "pinned",     "closed"};

static int transition_ok(enum conn_state from, enum conn_state to)
{
	if (to == C_CLOSED)
		return 1;
	switch (from) {
	case C_DOWN:
		return to == C_CONNECTING || to == C_BACKOFF;
	case C_BACKOFF:
		return to == C_CONNECTING;
	case C_CONNECTING:
		return to == C_PREPARING || to == C_BACKOFF;
	case C_PREPARING:
		return to == C_IDLE || to == C_BACKOFF;
	case C_IDLE:
		return to == C_BUSY || to == C_BACKOFF;
	case C_BUSY:
		return to == C_IDLE || to == C_PINNED || to == C_BACKOFF;
	case C_PINNED:
		return to == C_BUSY || to == C_BACKOFF;
	case C_CLOSED:
		return 0;
	}
	return 0;
}

static void conn_set_state(struct db_conn *c, enum conn_state to)
{
	if (!transition_ok(c->state, to)) {
		log_msg(WM_LOG_ERROR, "db", "connection %d: illegal transition %s -> %s", c->id,
		        state_names[c->state], state_names[to]);
		abort();
	}
	log_msg(WM_LOG_DEBUG, "db", "connection %d: %s -> %s", c->id, state_names[c->state],
	        state_names[to]);
	int was_up = c->state >= C_PREPARING && c->state <= C_PINNED;
	int is_up = to >= C_PREPARING && to <= C_PINNED;
	c->pool->up += is_up - was_up;
	c->state = to;
}

static void on_io(evutil_socket_t fd, short what, void *arg);
static void on_timer(evutil_socket_t fd, short what, void *arg);

static void conn_lost(struct db_conn *c, const char *why);

/* Waits for `what` on the connection's current socket, rebuilding the event
 * if libpq switched sockets. Every caller returns right after calling this,
 * because it may drop the connection. */
static void conn_wait(struct db_conn *c, short what)
{
	int fd = PQsocket(c->pg);
	if (fd < 0) {
		conn_lost(c, "libpq has no socket");
		return;
	}
	if (fd != c->fd || c->io == NULL) {
		if (c->io)
			event_free(c->io);
		c->fd = fd;
		c->want = 0;
		c->io = event_new(c->pool->base, fd, what | EV_PERSIST, on_io, c);
		if (!c->io) {
			conn_lost(c, "out of memory");
			return;
		}
	} else if (what != c->want) {
		event_del(c->io);
		event_assign(c->io, c->pool->base, fd, what | EV_PERSIST, on_io, c);
	} else {
		return;
	}
	c->want = what;
	event_add(c->io, NULL);
}

static void conn_unwatch(struct db_conn *c)
{
	if (c->io) {
		event_free(c->io);
		c->io = NULL;
	}
	c->fd = -1;
	c->want = 0;
}

static void clear_results(struct db_conn *c)
{
	if (c->first_error)
		PQclear(c->first_error);
	if (c->last)
		PQclear(c->last);
	c->first_error = c->last = NULL;
}

/* 50 ms doubling per failed attempt up to 1 s, ±20 % so that many processes
 * do not reconnect in step. */
static int backoff_ms(int attempts)
{
	int ms = 50;
	for (int i = 1; i < attempts && ms < 1000; i++)
		ms *= 2;
	if (ms > 1000)
		ms = 1000;
	int jitter = (int)randombytes_uniform((uint32_t)(ms * 2 / 5 + 1)) - ms / 5;
	return ms + jitter;
}

/* Drops the connection, fails what it was doing, schedules a reconnect. */
static void conn_lost(struct db_conn *c, const char *why)
{
	if (c->state == C_CLOSED)
		return;
	log_msg(c->attempts ? WM_LOG_DEBUG : WM_LOG_WARN, "db", "connection %d lost: %s", c->id,
	        why);
	conn_unwatch(c);
	clear_results(c);
	if (c->pg) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	struct db_item *item = c->cur;
	c->cur = NULL;
	if (c->tx) {
		c->tx->conn = NULL;
		c->tx->busy = 0;
		c->tx = NULL;
	}
	c->attempts++;
	conn_set_state(c, C_BACKOFF);
	int ms = backoff_ms(c->attempts);
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(c->timer, &tv);
	if (item)
		pool_fail_later(c->pool, item, WM_DB_UNAVAILABLE);
	pool_conn_lost(c);
}

wm_status conn_init(struct db_pool *pool, struct db_conn *c, int id)
{
	memset(c, 0, sizeof *c);
	c->pool = pool;
	c->id = id;
	c->fd = -1;
	c->state = C_DOWN;
	c->timer = evtimer_new(pool->base, on_timer, c);
	return c->timer ? WM_OK : WM_ERR;
}

void conn_connect(struct db_conn *c)
{
	c->pg = PQconnectStartParams(c->pool->keys, c->pool->vals, 1);
	conn_set_state(c, C_CONNECTING);
	if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD) {
		conn_lost(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
		return;
	}
	struct timeval tv = {c->pool->cfg.connect_timeout_ms / 1000,
	                     (c->pool->cfg.connect_timeout_ms % 1000) * 1000};
	evtimer_add(c->timer, &tv);
	/* libpq's documented start: behave as if the last poll said WRITING. */
	conn_wait(c, EV_WRITE);
}

static void prepare_next(struct db_conn *c)
{
	struct db_pool *pool = c->pool;
	if (c->prep_next >= pool->nstmts) {
		conn_set_state(c, C_IDLE);
		conn_wait(c, EV_READ); /* notice the server closing on us */
		pool_conn_ready(c);
		return;
	}
	struct db_stmt *s = &pool->stmts[c->prep_next++];
	if (!PQsendPrepare(c->pg, s->name, s->sql, s->nparams, NULL)) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	conn_wait(c, PQflush(c->pg) ? EV_READ | EV_WRITE : EV_READ);
}

static void connect_poll(struct db_conn *c)
{
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_READING:
		conn_wait(c, EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		conn_wait(c, EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		evtimer_del(c->timer);
		if (PQsetnonblocking(c->pg, 1) != 0) {
			conn_lost(c, PQerrorMessage(c->pg));
			return;
		}
		if (c->attempts)
			c->pool->reconnects++;
		c->attempts = 0;
		c->prep_next = 0;
		conn_set_state(c, C_PREPARING);
		prepare_next(c);
		return;
	default:
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
}

void conn_run(struct db_conn *c, struct db_item *item)
{
	int ok;
	conn_set_state(c, C_BUSY);
	c->cur = item;
	const char *const *params = (const char *const *)item->params;
	switch (item->kind) {
	case ITEM_PREPARED:
		ok = PQsendQueryPrepared(c->pg, item->sql, item->nparams, params, NULL, NULL, 0);
		break;
	case ITEM_TX_BEGIN:
		ok = PQsendQueryParams(c->pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);
		break;
	default:
		ok =
		    PQsendQueryParams(c->pg, item->sql, item->nparams, NULL, params, NULL, NULL, 0);
		break;
	}
	if (!ok) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	int f = PQflush(c->pg);
	if (f < 0) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	conn_wait(c, f ? EV_READ | EV_WRITE : EV_READ);
}

/* The running item finished: decide the connection's next state, then hand
 * the result over. The state is settled first so that a callback submitting
 * new work finds the connection where it really is. */
static void item_done(struct db_conn *c)
{
	struct db_item *item = c->cur;
	struct wm_db_result r = {WM_DB_OK, NULL, ""};
	c->cur = NULL;
	if (c->first_error) {
		r.error = WM_DB_QUERY;
		r.res = c->first_error;
		/* The primary message alone: our own SQL refusals carry
		 * "code|field|text" there, without "ERROR:" or CONTEXT lines
		 * that would leak function names into a reply. */
		r.message = PQresultErrorField(c->first_error, PG_DIAG_MESSAGE_PRIMARY);
		if (!r.message)
			r.message = PQresultErrorMessage(c->first_error);
	} else {
		r.res = c->last;
	}
	int failed = r.error != WM_DB_OK;
	switch (item->kind) {
	case ITEM_TX_BEGIN:
		if (failed) {
			conn_set_state(c, C_IDLE);
		} else {
			conn_set_state(c, C_PINNED);
			c->tx = item->tx;
			item->tx->conn = c;
		}
		break;
	case ITEM_TX_EXEC:
		conn_set_state(c, C_PINNED);
		item->tx->busy = 0;
		break;
	case ITEM_TX_END:
		c->tx = NULL;
		conn_set_state(c, C_IDLE);
		break;
	default:
		conn_set_state(c, C_IDLE);
		break;
	}
	struct wm_db_tx *tx = item->kind == ITEM_TX_EXEC ? item->tx : NULL;
	pool_deliver(c->pool, item, &r);
	clear_results(c);
	if (tx)
		pool_tx_after_exec(tx);
	if (c->state == C_IDLE)
		pool_conn_ready(c);
}

static void read_results(struct db_conn *c)
{
	if (!PQconsumeInput(c->pg)) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	if (c->state == C_IDLE || c->state == C_PINNED) {
		/* Nothing was asked: only a notice or the server going away. */
		if (PQstatus(c->pg) == CONNECTION_BAD)
			conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	while (!PQisBusy(c->pg)) {
		PGresult *res = PQgetResult(c->pg);
		if (res == NULL) {
			if (c->state == C_PREPARING) {
				int bad = c->first_error != NULL;
				if (bad)
					log_msg(WM_LOG_ERROR, "db", "preparing %s failed: %s",
					        c->pool->stmts[c->prep_next - 1].name,
					        PQresultErrorMessage(c->first_error));
				clear_results(c);
				if (bad) {
					conn_lost(c, "a declared statement did not prepare");
					return;
				}
				prepare_next(c);
			} else {
				item_done(c);
			}
			return;
		}
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) {
			if (c->first_error == NULL) {
				c->first_error = res;
				continue;
			}
		} else {
			if (c->last)
				PQclear(c->last);
			c->last = res;
			continue;
		}
		PQclear(res);
	}
	if (PQstatus(c->pg) == CONNECTION_BAD)
		conn_lost(c, PQerrorMessage(c->pg));
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn *c = arg;
	if (c->state == C_CONNECTING) {
		connect_poll(c);
		return;
	}
	if (what & EV_WRITE) {
		int f = PQflush(c->pg);
		if (f < 0) {
			conn_lost(c, PQerrorMessage(c->pg));
			return;
		}
		if (f == 0)
			conn_wait(c, EV_READ);
		if (c->pg == NULL) /* conn_wait dropped it */
			return;
	}
	if (what & EV_READ)
		read_results(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn *c = arg;
	if (c->state == C_BACKOFF) {
		conn_connect(c);
	} else if (c->state == C_CONNECTING) {
		conn_lost(c, "connect timed out");
	}
}

void conn_close(struct db_conn *c)
{
	conn_unwatch(c);
	if (c->timer) {
		event_free(c->timer);
		c->timer = NULL;
	}
	clear_results(c);
	if (c->pg) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	if (c->state != C_CLOSED)
		conn_set_state(c, C_CLOSED);
}
