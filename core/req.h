/*
 * req — one HTTP request as handlers see it: matched route, path and query
 * parameters, the parsed JSON body, and the reply functions. Every request
 * gets exactly one reply; the reply writes the access-log line and the
 * metrics, then frees the request.
 */
#ifndef WM_REQ_H
#define WM_REQ_H

#include <jansson.h>
#include <stdint.h>
#include <waymark/core.h>

#include "jsonv.h"
#include "router.h"
#include "secret.h"

struct evhttp_request;
struct evkeyvalq;
struct evbuffer;
struct server;

struct wm_req {
	struct evhttp_request *ev;
	struct server *srv;
	enum wm_method method;
	const struct route *route; /* NULL when nothing matched */
	struct router_params params;
	struct evkeyvalq *query; /* parsed lazily, owned */
	int query_bad;           /* the query string did not parse */
	json_t *body;            /* parsed body, owned */
	uint64_t start_ns;
	char id[17]; /* request id: 16 hex chars, also X-Request-Id */
	int replied;
	struct wm_caller caller; /* valid when have_caller */
	int have_caller;
	struct secret auth_secret; /* only while auth looks the credential up; then wiped */
	/* The selector of the session the caller signed in with ("" for a
	 * bearer token): what logout and password changes end. Not secret. */
	char session_selector[SECRET_SELECTOR_LEN + 1];
	char remote[48];           /* peer address, filled lazily */
	int api_status;            /* api_exec: status of a success */
	const char *api_not_found; /* api_exec: code when no row came back */
};

/* Allocates the request for an evhttp request (does not dispatch). */
struct wm_req *req_new(struct server *srv, struct evhttp_request *ev);

const char *req_param(struct wm_req *req, const char *name);
const char *req_query(struct wm_req *req, const char *name);
enum wm_method req_method(struct wm_req *req);
/* All query parameters, parsed once; NULL when the query string does not
 * parse (then req_query finds nothing). */
const struct evkeyvalq *req_query_all(struct wm_req *req);
/* The authenticated caller, or NULL on a public route. */
const struct wm_caller *req_caller(struct wm_req *req);
/* The peer's address as text ("127.0.0.1"), for the audit log; "" if unknown. */
const char *req_remote_addr(struct wm_req *req);
/* A request header, or NULL. */
const char *req_header(struct wm_req *req, const char *name);
wm_status req_json(struct wm_req *req, json_t **out) WM_MUST_CHECK;

void req_reply_json(struct wm_req *req, int status, json_t *body);
void req_reply_error(struct wm_req *req, int status, const char *code, const char *field,
                     const char *fmt, ...) WM_PRINTF(5, 6);
void req_reply_jsonv(struct wm_req *req, const struct jsonv_error *err);
void req_reply_db_error(struct wm_req *req, const struct wm_db_result *res);
/* Sends `body` (stolen) with a content type; for text replies (metrics). */
void req_reply_buffer(struct wm_req *req, int status, const char *content_type,
                      struct evbuffer *body);
/* Adds a response header before the reply. */
void req_add_header(struct wm_req *req, const char *name, const char *value);

/* Validation wrappers for the core table: reply on failure. */
wm_status req_json_only(struct wm_req *req, const json_t *obj,
                        const char *const *allowed) WM_MUST_CHECK;
wm_status req_json_string(struct wm_req *req, const json_t *obj, const char *field, size_t max_len,
                          int required, const char **out) WM_MUST_CHECK;
wm_status req_json_int(struct wm_req *req, const json_t *obj, const char *field, long long min,
                       long long max, int required, long long *out) WM_MUST_CHECK;
wm_status req_json_bool(struct wm_req *req, const json_t *obj, const char *field, int required,
                        int *out) WM_MUST_CHECK;

#endif
