/*
 * http — the evhttp front end: listener, limits, dispatch to the router.
 *
 * libevent 2.1.12 has no connection limit, no error callback and no accept
 * back-off (RUNTIME.md R1–R3), so this file adds them: our own evconnlistener
 * (SO_REUSEPORT, error callback that pauses accepting for 100 ms on EMFILE/
 * ENFILE), a count of open connections that pauses the listener at
 * http.max_connections, and per-request bounds on body and headers. Stopping
 * closes the listener, answers in-flight requests with Connection: close and
 * lets the loop exit once they are done or the drain time runs out.
 */
#ifndef WM_HTTP_H
#define WM_HTTP_H

#include <waymark/types.h>

struct server;
struct http;

struct http *http_new(struct server *srv, char *err, size_t errlen);
/* Binds http.listen; fails with a message naming the address. */
wm_status http_listen(struct http *h, char *err, size_t errlen) WM_MUST_CHECK;
/* Stops accepting; in-flight requests finish. */
void http_stop_accepting(struct http *h);
/* Requests handed to a handler and not yet answered, plus answers not yet
 * written to their sockets: the drain waits for both. */
unsigned http_in_flight(const struct http *h);
unsigned http_open_connections(const struct http *h);
void http_free(struct http *h);

struct evhttp_request;
/* Called by req.c just before it sends a reply, then just after. */
void http_request_sending(struct http *h, struct evhttp_request *ev);
void http_request_done(struct http *h);

#endif
