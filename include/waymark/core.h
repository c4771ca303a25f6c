/*
 * waymark/core.h — the services the core lends to a plugin.
 *
 * A plugin never links against core symbols. It receives one `struct wm_core`
 * in its init hook and calls everything through it: logging, routes, request
 * and reply helpers, JSON validation, and the asynchronous database pool.
 *
 * The table begins with its own size. Members are only ever appended (a minor
 * ABI bump), so a plugin built against a newer header can test whether the
 * core it runs in has a member with WM_CORE_HAS(core, member).
 *
 * Threading: everything runs on the one event-loop thread. No member blocks,
 * and a plugin must not block either: no sleep, no blocking I/O, no libpq of
 * its own. Work that waits is a database call with a callback.
 *
 * Ownership, one rule for all members: what the core passes in is borrowed
 * for the duration of the call; what a plugin hands to the core (a json_t *,
 * a string it allocated) belongs to the core from then on.
 */
#ifndef WAYMARK_CORE_H
#define WAYMARK_CORE_H

#include <jansson.h>
#include <waymark/types.h>

/* A request handler. Called on the loop thread once the request body is read.
 * `state` is the pointer the plugin's init stored. The handler must arrange
 * for exactly one reply (now, or later from a database callback); the
 * request stays valid until that reply is sent. */
typedef void (*wm_handler_fn)(struct wm_req *req, void *state);

/* Documentation for one route, copied by the core into the OpenAPI document.
 * All strings are borrowed during route_add and copied. `request_schema` and
 * `response_schema`, if not NULL, are JSON Schema texts (OpenAPI 3.1 dialect). */
struct wm_route_doc {
	const char *summary;         /* required: one line */
	const char *request_schema;  /* JSON body the route accepts, or NULL */
	const char *response_schema; /* JSON body of a success, or NULL */
	int success_status;          /* 200, 201, 204 ...; 0 means 200 */
};

/* Called with the result of a query. `res` is valid only during the call.
 * A result is either ok (rows, possibly none) or an error; read it with the
 * db_* accessors below. `arg` is what the caller passed. */
typedef void (*wm_db_fn)(void *arg, const struct wm_db_result *res);

/* Called when a transaction's pinned connection is ready (tx != NULL), or
 * could not be had (tx == NULL, `res` tells why: busy or unavailable). */
typedef void (*wm_db_tx_fn)(void *arg, struct wm_db_tx *tx, const struct wm_db_result *res);

/* Kinds of database failure a caller may want to tell apart. */
enum wm_db_error {
	WM_DB_OK = 0,
	WM_DB_BUSY,        /* the wait queue was full or the wait too long */
	WM_DB_UNAVAILABLE, /* no connection to PostgreSQL could be had */
	WM_DB_QUERY,       /* PostgreSQL refused the statement: see db_sqlstate */
};

struct wm_core {
	size_t size; /* sizeof(struct wm_core) as the core was built */
	unsigned abi_major, abi_minor;

	/* --- logging: any time ------------------------------------------- */

	/* Writes one line to the server log, prefixed with the plugin's name.
	 * Never pass a secret, token or personal detail. */
	void (*log)(struct wm_host *host, enum wm_log_level level, const char *fmt, ...)
	    WM_PRINTF(3, 4);

	/* --- routes: only inside the register_routes hook ----------------- */

	/* Adds a route. `pattern` is a path such as
	 * "/api/v1/example/notes/{id}" and must lie under "/api/v1/<plugin>/".
	 * `methods` is a mask of enum wm_method. `doc` is required and copied.
	 * Fails (and logs why) on a bad pattern, a clash with an existing
	 * route, a missing summary, or after the router is frozen. */
	wm_status (*route_add)(struct wm_host *host, unsigned methods, const char *pattern,
	                       wm_handler_fn handler, const struct wm_route_doc *doc) WM_MUST_CHECK;

	/* --- request: only while the request is alive ------------------------ */

	/* A path parameter by name ("id" for "{id}"), or NULL. Borrowed. */
	const char *(*req_param)(struct wm_req *req, const char *name);
	/* A query-string parameter by name, or NULL. Borrowed. */
	const char *(*req_query)(struct wm_req *req, const char *name);
	/* The request's method, one enum wm_method value. */
	enum wm_method (*req_method)(struct wm_req *req);

	/* Parses the body as a JSON object. Checks the content type, size,
	 * UTF-8 and syntax. On success *out is a borrowed object freed with the
	 * request. On failure the error reply has been sent; return at once. */
	wm_status (*req_json)(struct wm_req *req, json_t **out) WM_MUST_CHECK;

	/* --- JSON validation: on failure the 400 naming the field is sent ---- */

	/* Refuses any member of `obj` not in the NULL-terminated `allowed`. */
	wm_status (*json_only)(struct wm_req *req, const json_t *obj,
	                       const char *const *allowed) WM_MUST_CHECK;
	/* A string member of 1..max_len characters without control bytes.
	 * *out is borrowed from obj; NULL when absent and not required. */
	wm_status (*json_string)(struct wm_req *req, const json_t *obj, const char *field,
	                         size_t max_len, int required, const char **out) WM_MUST_CHECK;
	/* An integer member within [min, max]. Untouched when absent and not
	 * required. */
	wm_status (*json_int)(struct wm_req *req, const json_t *obj, const char *field,
	                      long long min, long long max, int required,
	                      long long *out) WM_MUST_CHECK;
	/* A boolean member. Untouched when absent and not required. */
	wm_status (*json_bool)(struct wm_req *req, const json_t *obj, const char *field,
	                       int required, int *out) WM_MUST_CHECK;

	/* --- replies: exactly one per request ------------------------------- */

	/* Sends `body` (stolen, may be NULL for no body) as JSON. */
	void (*reply_json)(struct wm_req *req, int status, json_t *body);
	/* Sends the one error shape:
	 * {"error":{"code":code,"message":...,"field":field}}.
	 * `code` is namespaced ("example.not_found"); `field` may be NULL. */
	void (*reply_error)(struct wm_req *req, int status, const char *code, const char *field,
	                    const char *fmt, ...) WM_PRINTF(5, 6);
	/* Sends the right error for a failed database result: 503
	 * core.busy (with Retry-After) / core.db_unavailable, or 500
	 * core.db_error for a refused statement. Since ABI 1.3 a refusal the
	 * plugin's own SQL raised as
	 *   RAISE EXCEPTION 'code|field|message' USING ERRCODE = 'WM409'
	 * is sent as that status (400-499), code, field and message; unique
	 * and exclusion violations as 409 core.conflict, other integrity
	 * violations as 422 core.invalid. */
	void (*reply_db_error)(struct wm_req *req, const struct wm_db_result *res);

	/* --- database: asynchronous, parameterised only -------------------- */

	/* Declares a prepared statement. Only in init. `name` is local to the
	 * plugin (the core namespaces it). Every pooled connection prepares it
	 * after it connects, so db_exec_prepared never pays a parse. */
	wm_status (*db_prepare)(struct wm_host *host, const char *name, const char *sql,
	                        int nparams) WM_MUST_CHECK;
	/* Runs a prepared statement on any free connection. `params` are text
	 * values (NULL = SQL NULL), copied before return. `cb` is always called
	 * exactly once, later, on the loop thread, even on failure. */
	wm_status (*db_exec_prepared)(struct wm_host *host, const char *name, int nparams,
	                              const char *const *params, wm_db_fn cb,
	                              void *arg) WM_MUST_CHECK;
	/* Runs a one-off parameterised statement the same way. */
	wm_status (*db_exec)(struct wm_host *host, const char *sql, int nparams,
	                     const char *const *params, wm_db_fn cb, void *arg) WM_MUST_CHECK;

	/* Pins one connection and runs BEGIN on it; `cb` receives the tx. */
	wm_status (*db_tx_begin)(struct wm_host *host, wm_db_tx_fn cb, void *arg) WM_MUST_CHECK;
	/* Runs a statement inside the transaction (one at a time). */
	wm_status (*db_tx_exec)(struct wm_db_tx *tx, const char *sql, int nparams,
	                        const char *const *params, wm_db_fn cb, void *arg) WM_MUST_CHECK;
	/* COMMIT (commit != 0) or ROLLBACK, then releases the connection; the
	 * tx is gone when `cb` runs. `cb` may be NULL. */
	void (*db_tx_end)(struct wm_db_tx *tx, int commit, wm_db_fn cb, void *arg);

	/* Result accessors: valid only inside the callback. */
	enum wm_db_error (*db_error)(const struct wm_db_result *res);
	const char *(*db_sqlstate)(const struct wm_db_result *res); /* "" if none */
	int (*db_ntuples)(const struct wm_db_result *res);
	/* Text value of row/col, or NULL for SQL NULL. Borrowed. */
	const char *(*db_value)(const struct wm_db_result *res, int row, int col);

	/* --- ABI 1.1: access control ----------------------------------------- */

	/* route_add with the roles that may call the route: a mask of enum
	 * wm_role, or WM_ACCESS_PUBLIC. Routes added with route_add (1.0) are
	 * open to any staff role (WM_ROLES_ALL), never public. The core
	 * authenticates the caller and checks the mask before the handler
	 * runs; the handler still scopes every object it touches. */
	wm_status (*route_add_access)(struct wm_host *host, unsigned methods, const char *pattern,
	                              wm_handler_fn handler, const struct wm_route_doc *doc,
	                              unsigned access) WM_MUST_CHECK;
	/* The authenticated caller, or NULL on a public route. Borrowed. */
	const struct wm_caller *(*req_caller)(struct wm_req *req);
	/* Refuses, with 400 core.bad_query naming it, a query parameter not in
	 * the NULL-terminated `allowed`, one given twice, or a query string
	 * that does not parse. Call it before reading the query, so a typo
	 * never silently drops a filter. On WM_ERR the reply is sent. */
	wm_status (*req_query_only)(struct wm_req *req, const char *const *allowed) WM_MUST_CHECK;

	/* --- ABI 1.3: request context for the audit log ---------------------- */

	/* The peer's address as text ("127.0.0.1", "::1"), or NULL when
	 * unknown. Borrowed; for audit rows, never for access decisions. */
	const char *(*req_remote_addr)(struct wm_req *req);
	/* The request id also sent as X-Request-Id and written in the access
	 * log, so an audit row can be matched to its request. Borrowed. */
	const char *(*req_id)(struct wm_req *req);
};

/* True when the core's table has `member` (for plugins built against a newer
 * header than the running core). */
#define WM_CORE_HAS(core, member)                                                                  \
	((core)->size >= offsetof(struct wm_core, member) + sizeof((core)->member))

#endif
