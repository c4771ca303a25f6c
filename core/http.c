/*
 * http — the evhttp front end and the limits libevent 2.1.12 leaves to us.
 *
 * Connections: evhttp 2.1 tells nobody when it accepts or closes one. We see
 * a connection at its first request and register a close callback then, so
 * http.max_connections counts connections that have sent a request; when it
 * is reached the listener pauses until one closes. A connection that never
 * completes a request is closed by http.timeout_ms and, in the worst case,
 * bounded by the descriptor limit, where the accept back-off below takes
 * over instead of letting evhttp spin (RUNTIME.md R3).
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "http.h"
#include "log.h"
#include "req.h"
#include "router.h"
#include "server.h"

struct http {
	struct server *srv;
	struct evhttp *eh;
	struct evconnlistener *lev;
	struct evhttp_bound_socket *bound;
	struct event *resume; /* ends an accept back-off */
	unsigned in_flight;   /* handed to a handler, not yet answered */
	unsigned writing;     /* answered, reply not yet written out */
	unsigned open;
	int backoff; /* paused after EMFILE/ENFILE */
	int full;    /* paused at max_connections */
	/* Connections already counted: an open-addressed set of pointers. */
	void **set;
	size_t set_cap;
};

static size_t slot_of(const struct http *h, const void *p)
{
	uintptr_t x = (uintptr_t)p;
	x ^= x >> 17;
	x *= 0xed5ad4bbU;
	x ^= x >> 11;
	return (size_t)x & (h->set_cap - 1);
}

static int set_has(const struct http *h, const void *p)
{
	if (h->set_cap == 0)
		return 0;
	for (size_t i = slot_of(h, p);; i = (i + 1) & (h->set_cap - 1)) {
		if (h->set[i] == p)
			return 1;
		if (h->set[i] == NULL)
			return 0;
	}
}

static void set_put_raw(struct http *h, void *p)
{
	size_t i = slot_of(h, p);
	while (h->set[i])
		i = (i + 1) & (h->set_cap - 1);
	h->set[i] = p;
}

static wm_status set_put(struct http *h, void *p)
{
	if ((h->open + 1) * 2 > h->set_cap) {
		size_t old_cap = h->set_cap;
		void **old = h->set;
		h->set_cap = old_cap ? old_cap * 2 : 64;
		h->set = calloc(h->set_cap, sizeof *h->set);
		if (!h->set) {
			h->set = old;
			h->set_cap = old_cap;
			return WM_ERR;
		}
		for (size_t i = 0; i < old_cap; i++)
			if (old[i])
				set_put_raw(h, old[i]);
		free(old);
	}
	set_put_raw(h, p);
	return WM_OK;
}

/* Linear-probing delete: re-insert the rest of the cluster. */
static void set_del(struct http *h, const void *p)
{
	size_t i = slot_of(h, p);
	while (h->set[i] != p) {
		if (h->set[i] == NULL)
			return;
		i = (i + 1) & (h->set_cap - 1);
	}
	h->set[i] = NULL;
	for (size_t j = (i + 1) & (h->set_cap - 1); h->set[j]; j = (j + 1) & (h->set_cap - 1)) {
		void *q = h->set[j];
		h->set[j] = NULL;
		set_put_raw(h, q);
	}
}

static void listener_update(struct http *h)
{
	if (!h->lev)
		return;
	if (h->backoff || h->full)
		evconnlistener_disable(h->lev);
	else
		evconnlistener_enable(h->lev);
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	struct http *h = arg;
	if (!set_has(h, evcon))
		return;
	set_del(h, evcon);
	h->open--;
	if (h->full && h->open < (unsigned)h->srv->cfg.http_max_connections) {
		h->full = 0;
		listener_update(h);
	}
}

static void track_connection(struct http *h, struct evhttp_request *ev)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
	if (!evcon || set_has(h, evcon))
		return;
	if (set_put(h, evcon) != WM_OK)
		return;
	h->open++;
	evhttp_connection_set_closecb(evcon, on_conn_close, h);
	if (h->open >= (unsigned)h->srv->cfg.http_max_connections && !h->full) {
		log_msg(WM_LOG_WARN, "http", "%u connections open: pausing accept", h->open);
		h->full = 1;
		listener_update(h);
	}
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	h->backoff = 0;
	listener_update(h);
}

static void on_accept_error(struct evconnlistener *lev, void *arg)
{
	struct http *h = arg;
	int e = EVUTIL_SOCKET_ERROR();
	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		if (!h->backoff)
			log_msg(WM_LOG_WARN, "http", "accept: %s; pausing accept for 100 ms",
			        strerror(e));
		h->backoff = 1;
		listener_update(h);
		struct timeval tv = {0, 100000};
		evtimer_add(h->resume, &tv);
		return;
	}
	log_msg(WM_LOG_WARN, "http", "accept: %s", strerror(e));
}

static void dispatch(struct evhttp_request *ev, void *arg)
{
	struct http *h = arg;
	struct server *srv = h->srv;
	track_connection(h, ev);
	struct wm_req *req = req_new(srv, ev);
	if (!req) {
		evhttp_send_error(ev, 500, NULL);
		return;
	}
	h->in_flight++;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	if (!path || !*path)
		path = "/";
	if (req->method == 0) {
		req_reply_error(req, 405, "core.method_not_allowed", NULL,
		                "This method is not supported.");
		return;
	}
	const struct route *route = NULL;
	unsigned allowed = 0;
	/* No route registers OPTIONS, so it always lands in METHOD_NOT_ALLOWED
	 * with the full Allow set, which is exactly its answer. */
	enum router_result rr =
	    router_match(srv->router, req->method, path, &route, &req->params, &allowed);
	if (rr == ROUTER_NOT_FOUND) {
		/* Not core.not_found: that is a route's answer for an object that
		 * does not exist or is out of scope. Routes themselves are public
		 * (the OpenAPI document lists them), so telling the two apart
		 * reveals nothing. */
		req_reply_error(req, 404, "core.no_route", NULL, "No route matches this path.");
		return;
	}
	if (rr == ROUTER_METHOD_NOT_ALLOWED) {
		char allow[96];
		router_methods_str(allowed | WM_OPTIONS, allow, sizeof allow);
		req_add_header(req, "Allow", allow);
		if (req->method == WM_OPTIONS) {
			req_reply_json(req, 204, NULL);
			return;
		}
		req_reply_error(req, 405, "core.method_not_allowed", NULL,
		                "This resource does not accept %s.",
		                router_method_name(req->method));
		return;
	}
	req->route = route;
	auth_dispatch(req);
}

struct http *http_new(struct server *srv, char *err, size_t errlen)
{
	struct http *h = calloc(1, sizeof *h);
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->srv = srv;
	h->eh = evhttp_new(srv->base);
	h->resume = evtimer_new(srv->base, on_resume, h);
	if (!h->eh || !h->resume) {
		snprintf(err, errlen, "cannot create the HTTP server");
		http_free(h);
		return NULL;
	}
	const struct config *c = &srv->cfg;
	evhttp_set_max_body_size(h->eh, (ev_ssize_t)c->http_max_body);
	evhttp_set_max_headers_size(h->eh, (ev_ssize_t)c->http_max_headers);
	struct timeval tv = {(time_t)(c->http_timeout_ms / 1000),
	                     (suseconds_t)((c->http_timeout_ms % 1000) * 1000)};
	evhttp_set_timeout_tv(h->eh, &tv);
	evhttp_set_flags(h->eh, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_allowed_methods(h->eh, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
	                                      EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
	                                      EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
	evhttp_set_default_content_type(h->eh, "application/json; charset=utf-8");
	evhttp_set_gencb(h->eh, dispatch, h);
	return h;
}

wm_status http_listen(struct http *h, char *err, size_t errlen)
{
	const char *listen = h->srv->cfg.listen;
	char addr[300];
	struct sockaddr_storage ss;
	int sslen = sizeof ss;
	/* "localhost" would need the resolver; it always means loopback. */
	if (!strncmp(listen, "localhost:", 10))
		snprintf(addr, sizeof addr, "127.0.0.1:%s", listen + 10);
	else
		snprintf(addr, sizeof addr, "%s", listen);
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sslen) != 0) {
		snprintf(err, errlen, "http.listen \"%s\" is not host:port", listen);
		return WM_ERR;
	}
	unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
	if (h->srv->cfg.http_reuseport)
		flags |= LEV_OPT_REUSEABLE_PORT;
	h->lev = evconnlistener_new_bind(h->srv->base, NULL, NULL, flags, 1024,
	                                 (struct sockaddr *)&ss, sslen);
	if (!h->lev) {
		snprintf(err, errlen, "cannot listen on %s: %s", listen, strerror(errno));
		return WM_ERR;
	}
	h->bound = evhttp_bind_listener(h->eh, h->lev);
	if (!h->bound) {
		evconnlistener_free(h->lev);
		h->lev = NULL;
		snprintf(err, errlen, "cannot serve HTTP on %s", listen);
		return WM_ERR;
	}
	evconnlistener_set_error_cb(h->lev, on_accept_error);
	return WM_OK;
}

void http_stop_accepting(struct http *h)
{
	if (h->bound) {
		/* Frees the listener too (LEV_OPT_CLOSE_ON_FREE). */
		evhttp_del_accept_socket(h->eh, h->bound);
		h->bound = NULL;
		h->lev = NULL;
	}
	evtimer_del(h->resume);
}

unsigned http_in_flight(const struct http *h)
{
	return h->in_flight + h->writing;
}

unsigned http_open_connections(const struct http *h)
{
	return h->open;
}

static void on_reply_written(struct evhttp_request *ev, void *arg)
{
	struct http *h = arg;
	if (h->writing)
		h->writing--;
}

void http_request_sending(struct http *h, struct evhttp_request *ev)
{
	/* A request whose client already left has no connection: evhttp
	 * frees it without writing, and would never call back. */
	if (!evhttp_request_get_connection(ev))
		return;
	h->writing++;
	evhttp_request_set_on_complete_cb(ev, on_reply_written, h);
}

void http_request_done(struct http *h)
{
	if (h->in_flight)
		h->in_flight--;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	http_stop_accepting(h);
	if (h->eh) {
		/* evhttp_free closes every connection; their close callbacks
		 * would write into a dying struct, so drop the set first. */
		free(h->set);
		h->set = NULL;
		h->set_cap = 0;
		h->open = 0;
		struct evhttp *eh = h->eh;
		h->eh = NULL;
		evhttp_free(eh);
	}
	if (h->resume)
		event_free(h->resume);
	free(h->set);
	free(h);
}
