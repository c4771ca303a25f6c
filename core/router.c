/*
 * router — a scored linear scan over a few hundred routes at most. Each
 * route keeps its pattern split into segments and a specificity score (one
 * bit per literal segment, leftmost highest), so "literal beats parameter at
 * the same depth" is a comparison of two integers and the result never
 * depends on the order routes were added. A request path is split and
 * percent-decoded once, into a stack buffer; only the winning route's
 * parameter values are copied out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"
#include "router.h"

#define ALL_METHODS (WM_GET | WM_HEAD | WM_POST | WM_PUT | WM_PATCH | WM_DELETE | WM_OPTIONS)

struct entry {
	struct route pub;
	size_t nseg;
	unsigned score;                 /* bit (nseg-1-i) set when segment i is literal */
	char *seg[ROUTER_MAX_SEGMENTS]; /* literal text, or the parameter name */
};

struct router {
	struct entry **e;
	size_t n, cap;
	int frozen;
};

static const struct {
	enum wm_method m;
	const char *name;
} method_names[] = {
    {WM_GET, "GET"},     {WM_HEAD, "HEAD"},     {WM_POST, "POST"},       {WM_PUT, "PUT"},
    {WM_PATCH, "PATCH"}, {WM_DELETE, "DELETE"}, {WM_OPTIONS, "OPTIONS"},
};

#define N_METHODS (sizeof method_names / sizeof method_names[0])

struct router *router_new(void)
{
	return calloc(1, sizeof(struct router));
}

static void entry_free(struct entry *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nseg; i++)
		free(e->seg[i]);
	free(e->pub.pattern);
	free(e->pub.summary);
	free(e->pub.request_schema);
	free(e->pub.response_schema);
	free(e);
}

void router_free(struct router *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		entry_free(r->e[i]);
	free(r->e);
	free(r);
}

void router_freeze(struct router *r)
{
	r->frozen = 1;
}

int router_frozen(const struct router *r)
{
	return r->frozen;
}

size_t router_count(const struct router *r)
{
	return r->n;
}

const struct route *router_get(const struct router *r, size_t i)
{
	return i < r->n ? &r->e[i]->pub : NULL;
}

void router_methods_str(unsigned methods, char *buf, size_t len)
{
	size_t off = 0;
	if (!len)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < N_METHODS; i++) {
		if (!(methods & method_names[i].m))
			continue;
		int k =
		    snprintf(buf + off, len - off, "%s%s", off ? ", " : "", method_names[i].name);
		if (k < 0 || (size_t)k >= len - off)
			return;
		off += (size_t)k;
	}
}

enum wm_method router_method_parse(const char *s)
{
	for (size_t i = 0; s && i < N_METHODS; i++)
		if (!strcmp(s, method_names[i].name))
			return method_names[i].m;
	return (enum wm_method)0;
}

const char *router_method_name(enum wm_method m)
{
	for (size_t i = 0; i < N_METHODS; i++)
		if (m == method_names[i].m)
			return method_names[i].name;
	return "UNKNOWN";
}

static int is_literal_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '~' || c == '-';
}

static int is_param_name(const char *s, size_t n)
{
	if (!n || !(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/* Splits and checks `pattern` into e->seg/nseg/score; reason in err. */
static wm_status parse_pattern(struct entry *e, const char *pattern, char *err, size_t errlen)
{
	if (pattern[0] != '/') {
		snprintf(err, errlen, "route pattern \"%s\" must start with '/'", pattern);
		return WM_ERR;
	}
	if (!strcmp(pattern, "/"))
		return WM_OK;
	const char *p = pattern + 1;
	for (;;) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n == 0) {
			snprintf(err, errlen, "route pattern \"%s\" has an empty segment%s",
			         pattern, end ? "" : " (trailing slash)");
			return WM_ERR;
		}
		if (e->nseg == ROUTER_MAX_SEGMENTS) {
			snprintf(err, errlen, "route pattern \"%s\" has more than %d segments",
			         pattern, ROUTER_MAX_SEGMENTS);
			return WM_ERR;
		}
		int param = p[0] == '{';
		if (param) {
			if (n < 3 || p[n - 1] != '}' || !is_param_name(p + 1, n - 2)) {
				snprintf(err, errlen,
				         "route pattern \"%s\": \"%.*s\" is not a parameter like "
				         "{name} with name [a-z][a-z0-9_]*",
				         pattern, (int)n, p);
				return WM_ERR;
			}
		} else {
			for (size_t i = 0; i < n; i++) {
				if (!is_literal_char(p[i])) {
					snprintf(err, errlen,
					         "route pattern \"%s\": segment \"%.*s\" may only "
					         "contain A-Z a-z 0-9 . _ ~ -",
					         pattern, (int)n, p);
					return WM_ERR;
				}
			}
		}
		char *s = param ? strndup(p + 1, n - 2) : strndup(p, n);
		if (!s) {
			snprintf(err, errlen, "out of memory");
			return WM_ERR;
		}
		e->seg[e->nseg++] = s;
		e->score = (e->score << 1) | (param ? 0u : 1u);
		if (!end)
			break;
		p = end + 1;
	}
	size_t nparams = 0;
	for (size_t i = 0; i < e->nseg; i++) {
		if (e->score & (1u << (e->nseg - 1 - i)))
			continue;
		if (++nparams > ROUTER_MAX_PARAMS) {
			snprintf(err, errlen, "route pattern \"%s\" has more than %d parameters",
			         pattern, ROUTER_MAX_PARAMS);
			return WM_ERR;
		}
		for (size_t j = 0; j < i; j++) {
			if (!(e->score & (1u << (e->nseg - 1 - j))) &&
			    !strcmp(e->seg[i], e->seg[j])) {
				snprintf(err, errlen, "route pattern \"%s\" names {%s} twice",
				         pattern, e->seg[i]);
				return WM_ERR;
			}
		}
	}
	return WM_OK;
}

/* Same literals in the same places and parameters in the same places:
 * every path matching one matches the other. */
static int same_shape(const struct entry *a, const struct entry *b)
{
	if (a->nseg != b->nseg || a->score != b->score)
		return 0;
	for (size_t i = 0; i < a->nseg; i++)
		if ((a->score & (1u << (a->nseg - 1 - i))) && strcmp(a->seg[i], b->seg[i]))
			return 0;
	return 1;
}

/* Methods as the author wrote them: the implied HEAD is noise in messages. */
static unsigned shown(unsigned m)
{
	return m & WM_GET ? m & ~(unsigned)WM_HEAD : m;
}

static char *dup_or_null(const char *s, int *oom)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*oom = 1;
	return d;
}

wm_status router_add(struct router *r, unsigned methods, const char *pattern, wm_handler_fn handler,
                     void *state, struct wm_host *host, const struct wm_route_doc *doc, char *err,
                     size_t errlen)
{
	return router_add_access(r, methods, pattern, handler, state, host, doc, WM_ROLES_ALL, err,
	                         errlen);
}

wm_status router_add_access(struct router *r, unsigned methods, const char *pattern,
                            wm_handler_fn handler, void *state, struct wm_host *host,
                            const struct wm_route_doc *doc, unsigned access, char *err,
                            size_t errlen)
{
	struct entry *e = NULL;
	char ms[64], other[64];
	if (!pattern)
		pattern = "(null)";
	if (r->frozen) {
		snprintf(err, errlen, "route %s: routes can no longer be added (router frozen)",
		         pattern);
		goto fail;
	}
	if (!methods || (methods & ~(unsigned)ALL_METHODS)) {
		snprintf(err, errlen,
		         "route %s: methods must be a non-empty set of GET, HEAD, "
		         "POST, PUT, PATCH, DELETE, OPTIONS",
		         pattern);
		goto fail;
	}
	if (methods & WM_GET)
		methods |= WM_HEAD;
	router_methods_str(shown(methods), ms, sizeof ms);
	if (!handler) {
		snprintf(err, errlen, "route %s %s: no handler", ms, pattern);
		goto fail;
	}
	if (!(access & (WM_ACCESS_PUBLIC | WM_ACCESS_SERVER_ADMIN | WM_ROLES_ALL)) ||
	    (access & ~(WM_ACCESS_PUBLIC | WM_ACCESS_SERVER_ADMIN | WM_ROLES_ALL)) ||
	    ((access & WM_ACCESS_PUBLIC) && access != WM_ACCESS_PUBLIC)) {
		snprintf(err, errlen,
		         "route %s %s: access must be WM_ACCESS_PUBLIC alone, or a non-empty mask "
		         "of roles (and WM_ACCESS_SERVER_ADMIN)",
		         ms, pattern);
		goto fail;
	}
	if (!doc || !doc->summary || !doc->summary[0]) {
		snprintf(err, errlen, "route %s %s: a summary is required", ms, pattern);
		goto fail;
	}
	if (strlen(pattern) > ROUTER_MAX_PATH) {
		snprintf(err, errlen, "route %s: pattern longer than %d bytes", ms,
		         ROUTER_MAX_PATH);
		goto fail;
	}
	e = calloc(1, sizeof *e);
	if (!e) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (parse_pattern(e, pattern, err, errlen) != WM_OK)
		goto fail;
	for (size_t i = 0; i < r->n; i++) {
		const struct entry *o = r->e[i];
		if ((o->pub.methods & methods) && same_shape(o, e)) {
			router_methods_str(shown(o->pub.methods), other, sizeof other);
			snprintf(err, errlen, "route %s %s clashes with %s %s", ms, pattern, other,
			         o->pub.pattern);
			goto fail;
		}
	}
	int oom = 0;
	e->pub.methods = methods;
	e->pub.handler = handler;
	e->pub.access = access;
	e->pub.state = state;
	e->pub.host = host;
	e->pub.success_status = doc->success_status ? doc->success_status : 200;
	e->pub.pattern = dup_or_null(pattern, &oom);
	e->pub.summary = dup_or_null(doc->summary, &oom);
	e->pub.request_schema = dup_or_null(doc->request_schema, &oom);
	e->pub.response_schema = dup_or_null(doc->response_schema, &oom);
	if (!oom && r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 32;
		struct entry **ne = realloc(r->e, cap * sizeof *ne);
		if (ne) {
			r->e = ne;
			r->cap = cap;
		}
	}
	if (oom || r->n == r->cap) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	e->pub.index = r->n;
	r->e[r->n++] = e;
	return WM_OK;
fail:
	entry_free(e);
	return WM_ERR;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Splits `path` into NUL-terminated, percent-decoded segments in buf.
 * Returns the count, or -1 for a path no route can match: not absolute, too
 * many segments, a bad or %00 escape, an encoded '/', or a segment that is
 * not UTF-8 once decoded. */
static int split_path(const char *path, char *buf, char **seg)
{
	if (path[0] != '/')
		return -1;
	if (!path[1])
		return 0;
	int n = 0;
	char *o = buf;
	const char *p = path + 1;
	seg[n++] = o;
	for (; *p; p++) {
		if (*p == '/') {
			if (n == ROUTER_MAX_SEGMENTS)
				return -1;
			*o++ = '\0';
			seg[n++] = o;
			continue;
		}
		if (*p != '%') {
			*o++ = *p;
			continue;
		}
		int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
		if (lo < 0)
			return -1;
		char c = (char)(hi << 4 | lo);
		if (c == '\0' || c == '/')
			return -1;
		*o++ = c;
		p += 2;
	}
	*o = '\0';
	for (int i = 0; i < n; i++)
		if (!utf8_valid((const unsigned char *)seg[i], strlen(seg[i])))
			return -1;
	return n;
}

static int entry_matches(const struct entry *e, char *const *seg, size_t n)
{
	if (e->nseg != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int literal = (e->score >> (n - 1 - i)) & 1u;
		if (literal ? strcmp(e->seg[i], seg[i]) != 0 : seg[i][0] == '\0')
			return 0;
	}
	return 1;
}

enum router_result router_match(const struct router *r, enum wm_method method, const char *path,
                                const struct route **route, struct router_params *params,
                                unsigned *allowed)
{
	char buf[ROUTER_MAX_PATH + 1];
	char *seg[ROUTER_MAX_SEGMENTS];
	params->n = 0;
	*allowed = 0;
	*route = NULL;
	if (!path || strlen(path) > ROUTER_MAX_PATH)
		return ROUTER_NOT_FOUND;
	int n = split_path(path, buf, seg);
	if (n < 0)
		return ROUTER_NOT_FOUND;
	const struct entry *best = NULL;
	for (size_t i = 0; i < r->n; i++) {
		const struct entry *e = r->e[i];
		if (!entry_matches(e, seg, (size_t)n))
			continue;
		*allowed |= e->pub.methods;
		if ((e->pub.methods & (unsigned)method) && (!best || e->score > best->score))
			best = e;
	}
	if (!best)
		return *allowed ? ROUTER_METHOD_NOT_ALLOWED : ROUTER_NOT_FOUND;
	for (size_t i = 0; i < best->nseg; i++) {
		if ((best->score >> (best->nseg - 1 - i)) & 1u)
			continue;
		params->p[params->n].name = best->seg[i];
		params->p[params->n].value = strdup(seg[i]);
		if (!params->p[params->n++].value) {
			router_params_clear(params);
			return ROUTER_NOT_FOUND;
		}
	}
	*route = &best->pub;
	return ROUTER_FOUND;
}

void router_params_clear(struct router_params *params)
{
	for (size_t i = 0; i < params->n; i++) {
		free(params->p[i].value);
		params->p[i].value = NULL;
	}
	params->n = 0;
}

const char *router_param(const struct router_params *params, const char *name)
{
	for (size_t i = 0; i < params->n; i++)
		if (!strcmp(params->p[i].name, name))
			return params->p[i].value;
	return NULL;
}
