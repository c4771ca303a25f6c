/*
 * router — maps (method, path) to a handler.
 *
 * Patterns are absolute paths whose segments are literals or `{name}`
 * parameters: "/api/v1/sessions/{id}". A literal segment beats a parameter
 * at the same depth ("/sessions/today" wins over "/sessions/{id}"). Routes
 * are added at start-up, then the router is frozen and only read, so
 * matching needs no locks and no allocation beyond the decoded parameters.
 */
#ifndef WM_ROUTER_H
#define WM_ROUTER_H

#include <stddef.h>
#include <waymark/core.h>

#define ROUTER_MAX_PARAMS   8
#define ROUTER_MAX_SEGMENTS 16
#define ROUTER_MAX_PATH     1024

struct route {
	unsigned methods; /* mask of enum wm_method; GET implies HEAD */
	char *pattern;    /* as given: "/api/v1/sessions/{id}" */
	wm_handler_fn handler;
	unsigned access;       /* WM_ACCESS_PUBLIC, or roles (| WM_ACCESS_SERVER_ADMIN) */
	void *state;           /* passed to handler */
	struct wm_host *host;  /* owning plugin, NULL for core routes */
	char *summary;         /* copied from wm_route_doc */
	char *request_schema;  /* copied JSON text or NULL */
	char *response_schema; /* copied JSON text or NULL */
	int success_status;
	size_t index; /* position in the router, stable: used by metrics */
};

struct router_params {
	size_t n;
	struct {
		const char *name; /* borrowed from the route */
		char *value;      /* percent-decoded, owned */
	} p[ROUTER_MAX_PARAMS];
};

enum router_result { ROUTER_FOUND, ROUTER_NOT_FOUND, ROUTER_METHOD_NOT_ALLOWED };

struct router *router_new(void);
void router_free(struct router *r);

/* Adds a route; `doc` is copied. Refuses (with a reason in err) a malformed
 * pattern, a duplicate (same shape, overlapping methods), a missing summary,
 * or a frozen router. */
wm_status router_add(struct router *r, unsigned methods, const char *pattern, wm_handler_fn handler,
                     void *state, struct wm_host *host, const struct wm_route_doc *doc, char *err,
                     size_t errlen) WM_MUST_CHECK;
/* The same with who may call it (see enum wm_role); router_add means any
 * staff role, so a route is never public by accident. */
wm_status router_add_access(struct router *r, unsigned methods, const char *pattern,
                            wm_handler_fn handler, void *state, struct wm_host *host,
                            const struct wm_route_doc *doc, unsigned access, char *err,
                            size_t errlen) WM_MUST_CHECK;
void router_freeze(struct router *r);
int router_frozen(const struct router *r);

/* Matches a path (no query string). On FOUND, *route and *params are set
 * (free params with router_params_clear). On METHOD_NOT_ALLOWED, *allowed is
 * the mask of methods the path does accept. */
enum router_result router_match(const struct router *r, enum wm_method method, const char *path,
                                const struct route **route, struct router_params *params,
                                unsigned *allowed);
void router_params_clear(struct router_params *params);
const char *router_param(const struct router_params *params, const char *name);

size_t router_count(const struct router *r);
const struct route *router_get(const struct router *r, size_t i);

/* "GET, HEAD, POST" for a mask, into buf. */
void router_methods_str(unsigned methods, char *buf, size_t len);
/* "GET" -> WM_GET ...; 0 if unknown. */
enum wm_method router_method_parse(const char *s);
const char *router_method_name(enum wm_method m);

#endif
