/*
 * db — the pool: connection parameters, the bounded wait queue, the public
 * query and transaction API, and the result accessors. The connection state
 * machine itself is in db_conn.c.
 *
 * Callbacks are never called from inside the function that took the work:
 * failures known at once (queue full, database down) are delivered on the
 * next loop iteration, so callers never see re-entrancy they did not expect.
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "db_internal.h"
#include "log.h"

uint64_t pool_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void item_free(struct db_item *item)
{
	if (!item)
		return;
	for (int i = 0; i < item->nparams; i++)
		free(item->params[i]);
	free(item->params);
	free(item->sql);
	free(item);
}

static struct db_item *item_new(enum item_kind kind, const char *sql, int nparams,
                                const char *const *params)
{
	struct db_item *item = calloc(1, sizeof *item);
	if (!item)
		return NULL;
	item->kind = kind;
	if (sql && !(item->sql = strdup(sql)))
		goto fail;
	if (nparams > 0) {
		item->params = calloc((size_t)nparams, sizeof *item->params);
		if (!item->params)
			goto fail;
		item->nparams = nparams;
		for (int i = 0; i < nparams; i++) {
			if (params[i] && !(item->params[i] = strdup(params[i])))
				goto fail;
		}
	}
	return item;
fail:
	item_free(item);
	return NULL;
}

void pool_deliver(struct db_pool *pool, struct db_item *item, struct wm_db_result *res)
{
	if (res->error != WM_DB_OK)
		pool->errors++;
	if (item->kind == ITEM_TX_BEGIN) {
		if (res->error != WM_DB_OK) {
			free(item->tx);
			item->txcb(item->arg, NULL, res);
		} else {
			item->txcb(item->arg, item->tx, NULL);
		}
	} else if (item->kind == ITEM_TX_END) {
		/* The transaction is gone before its end callback runs. */
		free(item->tx);
		if (item->cb)
			item->cb(item->arg, res);
	} else if (item->cb) {
		item->cb(item->arg, res);
	}
	item_free(item);
}

static void on_failed(evutil_socket_t fd, short what, void *arg)
{
	struct db_pool *pool = arg;
	struct db_item_list batch = TAILQ_HEAD_INITIALIZER(batch);
	TAILQ_CONCAT(&batch, &pool->failed, link);
	struct db_item *item;
	while ((item = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, item, link);
		struct wm_db_result r = {item->fail, NULL,
		                         item->fail == WM_DB_BUSY ? "the database is busy"
		                                                  : "the database is unavailable"};
		struct wm_db_tx *tx = item->kind == ITEM_TX_EXEC ? item->tx : NULL;
		if (tx)
			tx->busy = 0;
		pool_deliver(pool, item, &r);
		if (tx)
			pool_tx_after_exec(tx);
	}
}

void pool_fail_later(struct db_pool *pool, struct db_item *item, enum wm_db_error why)
{
	item->fail = why;
	TAILQ_INSERT_TAIL(&pool->failed, item, link);
	event_active(pool->failed_ev, EV_TIMEOUT, 0);
}

static void queue_arm(struct db_pool *pool)
{
	struct db_item *head = TAILQ_FIRST(&pool->queue);
	if (!head) {
		evtimer_del(pool->queue_timer);
		return;
	}
	uint64_t now = pool_now_ms();
	uint64_t wait = head->deadline_ms > now ? head->deadline_ms - now : 0;
	struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)((wait % 1000) * 1000)};
	evtimer_add(pool->queue_timer, &tv);
}

static void queue_fail_all(struct db_pool *pool, enum wm_db_error why)
{
	struct db_item *item;
	while ((item = TAILQ_FIRST(&pool->queue)) != NULL) {
		TAILQ_REMOVE(&pool->queue, item, link);
		pool->queue_len--;
		pool_fail_later(pool, item, why);
	}
	queue_arm(pool);
}

/* The head of the FIFO is the oldest, so expiry only ever looks there. */
static void on_queue_timer(evutil_socket_t fd, short what, void *arg)
{
	struct db_pool *pool = arg;
	uint64_t now = pool_now_ms();
	struct db_item *item;
	while ((item = TAILQ_FIRST(&pool->queue)) != NULL && item->deadline_ms <= now) {
		TAILQ_REMOVE(&pool->queue, item, link);
		pool->queue_len--;
		pool_fail_later(pool, item, pool->down ? WM_DB_UNAVAILABLE : WM_DB_BUSY);
	}
	queue_arm(pool);
}

void pool_conn_ready(struct db_conn *c)
{
	struct db_pool *pool = c->pool;
	pool->down = 0;
	if (c->state != C_IDLE || pool->closing)
		return;
	struct db_item *item = TAILQ_FIRST(&pool->queue);
	if (!item)
		return;
	TAILQ_REMOVE(&pool->queue, item, link);
	pool->queue_len--;
	queue_arm(pool);
	conn_run(c, item);
}

void pool_conn_lost(struct db_conn *c)
{
	struct db_pool *pool = c->pool;
	if (pool->up > 0 || pool->closing)
		return;
	/* No connection is left: waiting would only turn an outage into a
	 * timeout, so fail everything now and until one comes back. */
	pool->down = 1;
	queue_fail_all(pool, WM_DB_UNAVAILABLE);
}

static void submit(struct db_pool *pool, struct db_item *item)
{
	if (pool->closing || pool->down) {
		pool_fail_later(pool, item, WM_DB_UNAVAILABLE);
		return;
	}
	for (int i = 0; i < pool->nconns; i++) {
		if (pool->conns[i].state == C_IDLE) {
			conn_run(&pool->conns[i], item);
			return;
		}
	}
	if (pool->queue_len >= pool->cfg.queue_max) {
		pool_fail_later(pool, item, WM_DB_BUSY);
		return;
	}
	item->deadline_ms = pool_now_ms() + (uint64_t)pool->cfg.queue_wait_ms;
	TAILQ_INSERT_TAIL(&pool->queue, item, link);
	if (pool->queue_len++ == 0)
		queue_arm(pool);
}

/* Host names are resolved here, once, at start-up (the only time this file
 * may wait), and handed to libpq as hostaddr, so that no connect or
 * reconnect on the loop ever calls the blocking resolver. */
static char *resolve_hostaddr(const char *conninfo)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
	char *out = NULL;
	if (!opts) {
		PQfreemem(err);
		return NULL;
	}
	const char *host = NULL, *hostaddr = NULL;
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!strcmp(o->keyword, "host"))
			host = o->val;
		else if (!strcmp(o->keyword, "hostaddr"))
			hostaddr = o->val;
	}
	if (host && *host && host[0] != '/' && host[0] != '@' && !(hostaddr && *hostaddr) &&
	    !strchr(host, ',')) {
		struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
		struct addrinfo *ai = NULL;
		if (getaddrinfo(host, NULL, &hints, &ai) == 0 && ai) {
			char buf[INET6_ADDRSTRLEN];
			void *addr = ai->ai_family == AF_INET
			                 ? (void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
			                 : (void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
			if (inet_ntop(ai->ai_family, addr, buf, sizeof buf))
				out = strdup(buf);
			freeaddrinfo(ai);
		} else {
			log_msg(WM_LOG_WARN, "db", "could not resolve the database host name");
		}
	}
	PQconninfoFree(opts);
	return out;
}

char *db_conninfo_with_timeouts(const char *conninfo, const struct db_pool_config *cfg)
{
	(void)conninfo;
	char *s = NULL;
	if (asprintf(&s,
	             "-c statement_timeout=%d -c lock_timeout=%d "
	             "-c idle_in_transaction_session_timeout=%d -c TimeZone=UTC",
	             cfg->statement_timeout_ms, cfg->lock_timeout_ms, cfg->idle_tx_timeout_ms) < 0)
		return NULL;
	return s;
}

struct db_pool *db_pool_new(struct event_base *base, const struct db_pool_config *cfg)
{
	struct db_pool *pool = calloc(1, sizeof *pool);
	if (!pool)
		return NULL;
	pool->base = base;
	pool->cfg = *cfg;
	TAILQ_INIT(&pool->queue);
	TAILQ_INIT(&pool->failed);
	pool->dsn = strdup(cfg->conninfo ? cfg->conninfo : "");
	pool->cfg.conninfo = pool->dsn;
	pool->options = db_conninfo_with_timeouts(cfg->conninfo, cfg);
	pool->hostaddr = resolve_hostaddr(pool->dsn);
	pool->keys = calloc(5, sizeof *pool->keys);
	pool->vals = calloc(5, sizeof *pool->vals);
	pool->nconns = cfg->size > 0 ? cfg->size : 1;
	pool->conns = calloc((size_t)pool->nconns, sizeof *pool->conns);
	pool->failed_ev = event_new(base, -1, 0, on_failed, pool);
	pool->queue_timer = evtimer_new(base, on_queue_timer, pool);
	if (!pool->dsn || !pool->options || !pool->keys || !pool->vals || !pool->conns ||
	    !pool->failed_ev || !pool->queue_timer)
		goto fail;
	/* dbname first with expand_dbname: the user's conninfo or URL is
	 * expanded, and the keys after it override what it says. */
	int k = 0;
	pool->keys[k] = "dbname";
	pool->vals[k++] = pool->dsn;
	pool->keys[k] = "options";
	pool->vals[k++] = pool->options;
	pool->keys[k] = "application_name";
	pool->vals[k++] = "waymarkd";
	if (pool->hostaddr) {
		pool->keys[k] = "hostaddr";
		pool->vals[k++] = pool->hostaddr;
	}
	for (int i = 0; i < pool->nconns; i++)
		if (conn_init(pool, &pool->conns[i], i) != WM_OK)
			goto fail;
	return pool;
fail:
	db_pool_free(pool);
	return NULL;
}

wm_status db_pool_prepare(struct db_pool *pool, const char *name, const char *sql, int nparams)
{
	if (pool->started || !name || !sql || nparams < 0)
		return WM_ERR;
	for (int i = 0; i < pool->nstmts; i++)
		if (!strcmp(pool->stmts[i].name, name))
			return WM_ERR;
	struct db_stmt *s = realloc(pool->stmts, (size_t)(pool->nstmts + 1) * sizeof *s);
	if (!s)
		return WM_ERR;
	pool->stmts = s;
	s = &pool->stmts[pool->nstmts];
	s->name = strdup(name);
	s->sql = strdup(sql);
	s->nparams = nparams;
	if (!s->name || !s->sql) {
		free(s->name);
		free(s->sql);
		return WM_ERR;
	}
	pool->nstmts++;
	return WM_OK;
}

wm_status db_pool_start(struct db_pool *pool)
{
	if (pool->started)
		return WM_ERR;
	pool->started = 1;
	for (int i = 0; i < pool->nconns; i++)
		conn_connect(&pool->conns[i]);
	return WM_OK;
}

void db_pool_free(struct db_pool *pool)
{
	if (!pool)
		return;
	pool->closing = 1;
	if (pool->conns) {
		for (int i = 0; i < pool->nconns; i++) {
			struct db_conn *c = &pool->conns[i];
			if (c->cur) {
				pool_fail_later(pool, c->cur, WM_DB_UNAVAILABLE);
				c->cur = NULL;
			}
			if (c->tx)
				c->tx->conn = NULL;
			if (c->pool)
				conn_close(c);
		}
	}
	queue_fail_all(pool, WM_DB_UNAVAILABLE);
	if (pool->failed_ev) {
		/* Whoever waits still gets exactly one callback; delivering one
		 * (a failed statement) may queue another (its waiting COMMIT). */
		while (!TAILQ_EMPTY(&pool->failed))
			on_failed(-1, 0, pool);
		event_free(pool->failed_ev);
	}
	if (pool->queue_timer)
		event_free(pool->queue_timer);
	for (int i = 0; i < pool->nstmts; i++) {
		free(pool->stmts[i].name);
		free(pool->stmts[i].sql);
	}
	free(pool->stmts);
	free(pool->conns);
	free(pool->keys);
	free(pool->vals);
	free(pool->options);
	free(pool->hostaddr);
	free(pool->dsn);
	free(pool);
}

void db_pool_get_stats(const struct db_pool *pool, struct db_pool_stats *out)
{
	memset(out, 0, sizeof *out);
	out->size = pool->nconns;
	for (int i = 0; i < pool->nconns; i++) {
		enum conn_state s = pool->conns[i].state;
		if (s >= C_PREPARING && s <= C_PINNED)
			out->connected++;
		if (s == C_BUSY || s == C_PINNED)
			out->in_use++;
	}
	out->waiting = pool->queue_len;
	out->errors = pool->errors;
	out->reconnects = pool->reconnects;
}

static int has_stmt(const struct db_pool *pool, const char *name)
{
	for (int i = 0; i < pool->nstmts; i++)
		if (!strcmp(pool->stmts[i].name, name))
			return 1;
	return 0;
}

static wm_status submit_new(struct db_pool *pool, enum item_kind kind, const char *sql, int nparams,
                            const char *const *params, wm_db_fn cb, void *arg)
{
	if (!pool || !sql || nparams < 0 || (nparams > 0 && !params) || !cb)
		return WM_ERR;
	if (kind == ITEM_PREPARED && !has_stmt(pool, sql))
		return WM_ERR;
	struct db_item *item = item_new(kind, sql, nparams, params);
	if (!item)
		return WM_ERR;
	item->cb = cb;
	item->arg = arg;
	submit(pool, item);
	return WM_OK;
}

wm_status db_exec(struct db_pool *pool, const char *sql, int nparams, const char *const *params,
                  wm_db_fn cb, void *arg)
{
	return submit_new(pool, ITEM_EXEC, sql, nparams, params, cb, arg);
}

wm_status db_exec_prepared(struct db_pool *pool, const char *name, int nparams,
                           const char *const *params, wm_db_fn cb, void *arg)
{
	return submit_new(pool, ITEM_PREPARED, name, nparams, params, cb, arg);
}

wm_status db_tx_begin(struct db_pool *pool, wm_db_tx_fn cb, void *arg)
{
	if (!pool || !cb)
		return WM_ERR;
	struct db_item *item = item_new(ITEM_TX_BEGIN, NULL, 0, NULL);
	struct wm_db_tx *tx = calloc(1, sizeof *tx);
	if (!item || !tx) {
		item_free(item);
		free(tx);
		return WM_ERR;
	}
	tx->pool = pool;
	item->tx = tx;
	item->txcb = cb;
	item->arg = arg;
	submit(pool, item);
	return WM_OK;
}

wm_status db_tx_exec(struct wm_db_tx *tx, const char *sql, int nparams, const char *const *params,
                     wm_db_fn cb, void *arg)
{
	if (!tx || tx->busy || tx->ending || !sql || nparams < 0 || (nparams > 0 && !params) || !cb)
		return WM_ERR;
	struct db_item *item = item_new(ITEM_TX_EXEC, sql, nparams, params);
	if (!item)
		return WM_ERR;
	item->cb = cb;
	item->arg = arg;
	item->tx = tx;
	tx->busy = 1;
	if (tx->conn == NULL) /* the connection broke under the transaction */
		pool_fail_later(tx->pool, item, WM_DB_UNAVAILABLE);
	else
		conn_run(tx->conn, item);
	return WM_OK;
}

void db_tx_end(struct wm_db_tx *tx, int commit, wm_db_fn cb, void *arg)
{
	if (!tx || tx->ending)
		return;
	struct db_item *item = item_new(ITEM_TX_END, commit ? "COMMIT" : "ROLLBACK", 0, NULL);
	if (!item) {
		/* Out of memory: drop the connection's transaction the hard
		 * way: the server rolls it back when the connection closes. */
		if (tx->conn)
			tx->conn->tx = NULL;
		free(tx);
		return;
	}
	tx->ending = 1;
	item->cb = cb;
	item->arg = arg;
	item->tx = tx;
	if (tx->busy)
		tx->pending_end = item; /* runs when the statement's result is in */
	else if (tx->conn == NULL)
		pool_fail_later(tx->pool, item, WM_DB_UNAVAILABLE);
	else
		conn_run(tx->conn, item);
}

void pool_tx_after_exec(struct wm_db_tx *tx)
{
	struct db_item *item = tx->pending_end;
	if (!item || tx->busy)
		return;
	tx->pending_end = NULL;
	if (tx->conn == NULL)
		pool_fail_later(tx->pool, item, WM_DB_UNAVAILABLE);
	else
		conn_run(tx->conn, item);
}

enum wm_db_error db_result_error(const struct wm_db_result *res)
{
	return res->error;
}

const char *db_result_sqlstate(const struct wm_db_result *res)
{
	const char *s = res->res ? PQresultErrorField(res->res, PG_DIAG_SQLSTATE) : NULL;
	return s ? s : "";
}

const char *db_result_column(const struct wm_db_result *res)
{
	const char *s = res->res ? PQresultErrorField(res->res, PG_DIAG_COLUMN_NAME) : NULL;
	return s ? s : "";
}

const char *db_result_message(const struct wm_db_result *res)
{
	return res->message ? res->message : "";
}

int db_result_ntuples(const struct wm_db_result *res)
{
	return res->res && res->error == WM_DB_OK ? PQntuples(res->res) : 0;
}

int db_result_nfields(const struct wm_db_result *res)
{
	return res->res && res->error == WM_DB_OK ? PQnfields(res->res) : 0;
}

const char *db_result_value(const struct wm_db_result *res, int row, int col)
{
	if (!res->res || res->error != WM_DB_OK || row < 0 || col < 0 ||
	    row >= PQntuples(res->res) || col >= PQnfields(res->res) ||
	    PQgetisnull(res->res, row, col))
		return NULL;
	return PQgetvalue(res->res, row, col);
}
