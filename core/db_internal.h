/*
 * db_internal — what db.c (the pool: queue, API, results) and db_conn.c (one
 * connection's state machine and socket I/O) share. Nothing outside those
 * two files includes this.
 */
#ifndef WM_DB_INTERNAL_H
#define WM_DB_INTERNAL_H

#include <libpq-fe.h>
#include <stdint.h>
#include <sys/queue.h>

#include "db.h"

struct event;

enum item_kind { ITEM_EXEC, ITEM_PREPARED, ITEM_TX_BEGIN, ITEM_TX_EXEC, ITEM_TX_END };

/* One unit of work: a statement and the callback that gets its result. */
struct db_item {
	TAILQ_ENTRY(db_item) link;
	enum item_kind kind;
	char *sql; /* statement text, or the prepared statement's name */
	int nparams;
	char **params; /* copies; NULL entries are SQL NULL */
	wm_db_fn cb;
	wm_db_tx_fn txcb;
	void *arg;
	struct wm_db_tx *tx;   /* ITEM_TX_*: the transaction */
	uint64_t deadline_ms;  /* when waiting in the queue must give up */
	enum wm_db_error fail; /* for deferred failures */
};
TAILQ_HEAD(db_item_list, db_item);

struct wm_db_result {
	enum wm_db_error error;
	PGresult *res; /* NULL for BUSY/UNAVAILABLE */
	const char *message;
};

/* The connection states; every change goes through conn_set_state, which
 * checks the transition (memcached's conn_set_state habit). */
enum conn_state {
	C_DOWN,       /* not connected, nothing scheduled */
	C_BACKOFF,    /* waiting before the next connect attempt */
	C_CONNECTING, /* PQconnectPoll in progress */
	C_PREPARING,  /* connected, preparing declared statements */
	C_IDLE,       /* ready for work */
	C_BUSY,       /* running one item */
	C_PINNED,     /* reserved by a transaction, between statements */
	C_CLOSED,     /* pool shutting down; terminal */
};

struct db_conn {
	struct db_pool *pool;
	int id;
	PGconn *pg;
	enum conn_state state;
	int fd;
	struct event *io;    /* socket readiness; rebuilt when fd changes */
	struct event *timer; /* backoff wait and connect timeout */
	short want;          /* EV_READ / EV_WRITE currently waited for */
	int attempts;        /* failed connects in a row, for backoff */
	int prep_next;       /* next statement to prepare */
	struct db_item *cur; /* running item (C_BUSY, C_PREPARING: NULL) */
	PGresult *first_error;
	PGresult *last;
	struct wm_db_tx *tx; /* when pinned */
};

struct wm_db_tx {
	struct db_pool *pool;
	struct db_conn *conn;        /* NULL once the connection broke */
	int busy;                    /* a statement is running */
	int ending;                  /* COMMIT/ROLLBACK asked for */
	struct db_item *pending_end; /* asked while a statement ran */
};

struct db_stmt {
	char *name;
	char *sql;
	int nparams;
};

struct db_pool {
	struct event_base *base;
	struct db_pool_config cfg;
	const char **keys; /* connection parameters, NULL-terminated */
	const char **vals;
	char *options; /* the -c settings string, owned */
	char *hostaddr;
	char *dsn; /* copy of cfg.conninfo, owned */
	struct db_conn *conns;
	int nconns;
	struct db_stmt *stmts;
	int nstmts;
	struct db_item_list queue;
	int queue_len;
	struct db_item_list failed; /* failures to deliver on the next tick */
	struct event *failed_ev;
	struct event *queue_timer;
	int up;   /* connections in PREPARING..PINNED */
	int down; /* 1 after a failure while no connection is up */
	int started;
	int closing;
	unsigned long long errors;
	unsigned long long reconnects;
};

/* db_conn.c */
wm_status conn_init(struct db_pool *pool, struct db_conn *c, int id) WM_MUST_CHECK;
void conn_connect(struct db_conn *c);
/* Starts `item` on an idle (or, for tx items, pinned) connection. */
void conn_run(struct db_conn *c, struct db_item *item);
void conn_close(struct db_conn *c);

/* db.c, called by db_conn.c */
/* The connection became usable or free: hand it queued work. */
void pool_conn_ready(struct db_conn *c);
/* The connection broke or a connect failed. */
void pool_conn_lost(struct db_conn *c);
/* Delivers an item's result and frees the item. */
void pool_deliver(struct db_pool *pool, struct db_item *item, struct wm_db_result *res);
void pool_fail_later(struct db_pool *pool, struct db_item *item, enum wm_db_error why);
void item_free(struct db_item *item);
/* Runs a COMMIT/ROLLBACK that waited for the statement before it. */
void pool_tx_after_exec(struct wm_db_tx *tx);
uint64_t pool_now_ms(void);

#endif
