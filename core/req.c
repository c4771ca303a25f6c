/*
 * req — the request object handlers work with, and the one way out: every
 * reply goes through reply_finish, which adds the common headers, sends,
 * writes the access-log line and the metrics, and frees the request. So a
 * request can never be answered twice or forgotten by the log.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "db.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "req.h"
#include "server.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static enum wm_method method_of(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:
		return WM_GET;
	case EVHTTP_REQ_POST:
		return WM_POST;
	case EVHTTP_REQ_PUT:
		return WM_PUT;
	case EVHTTP_REQ_PATCH:
		return WM_PATCH;
	case EVHTTP_REQ_DELETE:
		return WM_DELETE;
	case EVHTTP_REQ_HEAD:
		return WM_HEAD;
	case EVHTTP_REQ_OPTIONS:
		return WM_OPTIONS;
	default:
		return 0;
	}
}

struct wm_req *req_new(struct server *srv, struct evhttp_request *ev)
{
	struct wm_req *req = calloc(1, sizeof *req);
	if (!req)
		return NULL;
	req->ev = ev;
	req->srv = srv;
	req->method = method_of(evhttp_request_get_command(ev));
	req->start_ns = now_ns();
	unsigned char raw[8];
	randombytes_buf(raw, sizeof raw);
	sodium_bin2hex(req->id, sizeof req->id, raw, sizeof raw);
	return req;
}

static void req_free(struct wm_req *req)
{
	router_params_clear(&req->params);
	if (req->query) {
		evhttp_clear_headers(req->query);
		free(req->query);
	}
	json_decref(req->body);
	free(req);
}

const char *req_param(struct wm_req *req, const char *name)
{
	return router_param(&req->params, name);
}

const struct evkeyvalq *req_query_all(struct wm_req *req)
{
	if (!req->query) {
		req->query = calloc(1, sizeof *req->query);
		if (!req->query)
			return NULL;
		TAILQ_INIT(req->query);
		const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req->ev);
		const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
		if (q && evhttp_parse_query_str(q, req->query) != 0) {
			evhttp_clear_headers(req->query);
			req->query_bad = 1;
		}
	}
	return req->query_bad ? NULL : req->query;
}

const char *req_query(struct wm_req *req, const char *name)
{
	const struct evkeyvalq *q = req_query_all(req);
	return q ? evhttp_find_header(q, name) : NULL;
}

enum wm_method req_method(struct wm_req *req)
{
	return req->method;
}

const struct wm_caller *req_caller(struct wm_req *req)
{
	return req->have_caller ? &req->caller : NULL;
}

const char *req_remote_addr(struct wm_req *req)
{
	if (!req->remote[0]) {
		struct evhttp_connection *c = evhttp_request_get_connection(req->ev);
		char *addr = NULL;
		ev_uint16_t port = 0;
		if (c)
			evhttp_connection_get_peer(c, &addr, &port);
		if (addr && strlen(addr) < sizeof req->remote)
			memcpy(req->remote, addr, strlen(addr) + 1);
	}
	return req->remote;
}

const char *req_header(struct wm_req *req, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(req->ev), name);
}

void req_add_header(struct wm_req *req, const char *name, const char *value)
{
	if (!req->replied)
		evhttp_add_header(evhttp_request_get_output_headers(req->ev), name, value);
}

static void reply_finish(struct wm_req *req, int status, const char *content_type,
                         struct evbuffer *body)
{
	if (req->replied) {
		log_msg(WM_LOG_ERROR, "http", "second reply to request %s ignored", req->id);
		if (body)
			evbuffer_free(body);
		return;
	}
	struct evkeyvalq *h = evhttp_request_get_output_headers(req->ev);
	if (content_type && body)
		evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, "X-Request-Id", req->id);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if (!evhttp_find_header(h, "Cache-Control"))
		evhttp_add_header(h, "Cache-Control", "no-store");
	if (req->srv->stopping)
		evhttp_add_header(h, "Connection", "close");
	req->replied = 1;
	/* A HEAD reply carries the GET's headers but no bytes of body. */
	if (req->method == WM_HEAD && body) {
		char len[32];
		snprintf(len, sizeof len, "%zu", evbuffer_get_length(body));
		evhttp_add_header(h, "Content-Length", len);
		evbuffer_free(body);
		body = NULL;
	}
	http_request_sending(req->srv->http, req->ev);
	evhttp_send_reply(req->ev, status, NULL, body);
	if (body)
		evbuffer_free(body);

	double secs = (double)(now_ns() - req->start_ns) / 1e9;
	const struct route *rt = req->route;
	metrics_request(rt ? rt->index : (size_t)-1, req->method, status, secs);
	/* The route template, never the raw path: paths can carry secrets. */
	log_msg(WM_LOG_INFO, "http", "%s %s %d %.1fms rid=%s staff=%lld",
	        router_method_name(req->method), rt ? rt->pattern : "-", status, secs * 1000.0,
	        req->id, req->have_caller ? (long long)req->caller.staff_id : 0LL);
	http_request_done(req->srv->http);
	req_free(req);
}

void req_reply_buffer(struct wm_req *req, int status, const char *content_type,
                      struct evbuffer *body)
{
	reply_finish(req, status, content_type, body);
}

void req_reply_json(struct wm_req *req, int status, json_t *body)
{
	struct evbuffer *buf = NULL;
	if (body) {
		char *text = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		buf = evbuffer_new();
		if (!text || !buf) {
			free(text);
			if (buf)
				evbuffer_free(buf);
			reply_finish(req, 500, NULL, NULL);
			return;
		}
		evbuffer_add(buf, text, strlen(text));
		free(text);
	}
	reply_finish(req, status, "application/json; charset=utf-8", buf);
}

static void reply_error_v(struct wm_req *req, int status, const char *code, const char *field,
                          const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	json_t *err = json_pack("{s:s, s:s}", "code", code, "message", msg);
	if (err && field && *field)
		json_object_set_new(err, "field", json_string(field));
	req_reply_json(req, status, err ? json_pack("{s:o}", "error", err) : NULL);
}

void req_reply_error(struct wm_req *req, int status, const char *code, const char *field,
                     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	reply_error_v(req, status, code, field, fmt, ap);
	va_end(ap);
}

void req_reply_jsonv(struct wm_req *req, const struct jsonv_error *err)
{
	req_reply_error(req, err->status, err->code, err->field, "%s", err->message);
}

void req_reply_db_error(struct wm_req *req, const struct wm_db_result *res)
{
	const char *state = db_result_sqlstate(res);
	switch (db_result_error(res)) {
	case WM_DB_BUSY:
		req_add_header(req, "Retry-After", "1");
		req_reply_error(req, 503, "core.busy", NULL, "The server is busy; try again.");
		return;
	case WM_DB_UNAVAILABLE:
		req_add_header(req, "Retry-After", "1");
		req_reply_error(req, 503, "core.db_unavailable", NULL,
		                "The database is unavailable; try again shortly.");
		return;
	default:
		break;
	}
	/* Lock waits, timeouts, serialisation failures and deadlocks are
	 * transient: the client may retry. Anything else is our bug. */
	if (!strcmp(state, "57014") || !strcmp(state, "55P03") || !strcmp(state, "40001") ||
	    !strcmp(state, "40P01")) {
		req_add_header(req, "Retry-After", "1");
		req_reply_error(req, 503, "core.busy", NULL,
		                "The request timed out or conflicted; try again.");
		return;
	}
	log_msg(WM_LOG_ERROR, "db", "query failed (SQLSTATE %s) rid=%s: %s", state, req->id,
	        db_result_message(res));
	req_reply_error(req, 500, "core.db_error", NULL, "A database error occurred.");
}

wm_status req_json(struct wm_req *req, json_t **out)
{
	struct jsonv_error err;
	struct evbuffer *in = evhttp_request_get_input_buffer(req->ev);
	size_t len = evbuffer_get_length(in);
	const unsigned char *data = len ? evbuffer_pullup(in, -1) : (const unsigned char *)"";
	const char *ct =
	    evhttp_find_header(evhttp_request_get_input_headers(req->ev), "Content-Type");
	json_t *body = NULL;
	if (jsonv_parse_body(ct, data, len, (size_t)req->srv->cfg.http_max_json_body, &body,
	                     &err) != WM_OK) {
		req_reply_jsonv(req, &err);
		return WM_ERR;
	}
	json_decref(req->body);
	req->body = body;
	*out = body;
	return WM_OK;
}

wm_status req_json_only(struct wm_req *req, const json_t *obj, const char *const *allowed)
{
	struct jsonv_error err;
	if (jsonv_only(obj, allowed, &err) == WM_OK)
		return WM_OK;
	req_reply_jsonv(req, &err);
	return WM_ERR;
}

wm_status req_json_string(struct wm_req *req, const json_t *obj, const char *field, size_t max_len,
                          int required, const char **out)
{
	struct jsonv_error err;
	if (jsonv_string(obj, field, max_len, required, out, &err) == WM_OK)
		return WM_OK;
	req_reply_jsonv(req, &err);
	return WM_ERR;
}

wm_status req_json_int(struct wm_req *req, const json_t *obj, const char *field, long long min,
                       long long max, int required, long long *out)
{
	struct jsonv_error err;
	if (jsonv_int(obj, field, min, max, required, out, &err) == WM_OK)
		return WM_OK;
	req_reply_jsonv(req, &err);
	return WM_ERR;
}

wm_status req_json_bool(struct wm_req *req, const json_t *obj, const char *field, int required,
                        int *out)
{
	struct jsonv_error err;
	if (jsonv_bool(obj, field, required, out, &err) == WM_OK)
		return WM_OK;
	req_reply_jsonv(req, &err);
	return WM_ERR;
}
