/*
 * metrics — request counters and latency histograms per route template, and
 * the database pool's gauges, as Prometheus text. Labels are route templates
 * and method names from the router, never raw paths, so the series count is
 * bounded by the number of routes and nothing personal reaches a scraper.
 */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "metrics.h"
#include "router.h"

static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                0.1,   0.25,   0.5,   1.0,  2.5,   5.0};
#define NBOUNDS (sizeof bounds / sizeof bounds[0])

struct counter {
	size_t route; /* route index or (size_t)-1 */
	unsigned method;
	int status;
	unsigned long long n;
};

struct histogram {
	unsigned long long buckets[NBOUNDS + 1]; /* last: +Inf */
	unsigned long long count;
	double sum;
};

static struct counter *counters;
static size_t ncounters, capcounters;
/* Index 0 is "no route matched"; route i is at i + 1. */
static struct histogram *hists;
static size_t nhists;

void metrics_reset(void)
{
	free(counters);
	free(hists);
	counters = NULL;
	hists = NULL;
	ncounters = capcounters = nhists = 0;
}

static struct histogram *hist_for(size_t route)
{
	size_t i = route == (size_t)-1 ? 0 : route + 1;
	if (i >= nhists) {
		size_t n = i + 16;
		struct histogram *h = realloc(hists, n * sizeof *h);
		if (!h)
			return NULL;
		memset(h + nhists, 0, (n - nhists) * sizeof *h);
		hists = h;
		nhists = n;
	}
	return &hists[i];
}

void metrics_request(size_t route, unsigned method, int status, double seconds)
{
	struct counter *c = NULL;
	for (size_t i = 0; i < ncounters; i++) {
		if (counters[i].route == route && counters[i].method == method &&
		    counters[i].status == status) {
			c = &counters[i];
			break;
		}
	}
	if (!c) {
		if (ncounters == capcounters) {
			size_t n = capcounters ? capcounters * 2 : 64;
			struct counter *nc = realloc(counters, n * sizeof *nc);
			if (!nc)
				return;
			counters = nc;
			capcounters = n;
		}
		c = &counters[ncounters++];
		*c = (struct counter){route, method, status, 0};
	}
	c->n++;
	struct histogram *h = hist_for(route);
	if (!h)
		return;
	size_t b = 0;
	while (b < NBOUNDS && seconds > bounds[b])
		b++;
	h->buckets[b]++;
	h->count++;
	h->sum += seconds;
}

/* Route templates are ours, but escape anyway: the exposition format
 * requires \\, \" and \n escaped in label values. */
static void put_label(struct evbuffer *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			evbuffer_add_printf(out, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, s, 1);
	}
}

static const char *route_label(const struct router *r, size_t route)
{
	if (route == (size_t)-1 || route >= router_count(r))
		return "unmatched";
	return router_get(r, route)->pattern;
}

wm_status metrics_render(struct evbuffer *out, const struct router *r, const struct db_pool *pool)
{
	evbuffer_add_printf(out, "# HELP waymark_http_requests_total HTTP requests answered.\n"
	                         "# TYPE waymark_http_requests_total counter\n");
	for (size_t i = 0; i < ncounters; i++) {
		const struct counter *c = &counters[i];
		const char *m = c->method ? router_method_name(c->method) : "OTHER";
		evbuffer_add_printf(out, "waymark_http_requests_total{route=\"");
		put_label(out, route_label(r, c->route));
		evbuffer_add_printf(out, "\",method=\"%s\",status=\"%d\"} %llu\n", m, c->status,
		                    c->n);
	}
	evbuffer_add_printf(out,
	                    "# HELP waymark_http_request_duration_seconds Time to answer a "
	                    "request.\n# TYPE waymark_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i < nhists; i++) {
		const struct histogram *h = &hists[i];
		if (h->count == 0)
			continue;
		const char *label = route_label(r, i == 0 ? (size_t)-1 : i - 1);
		unsigned long long cum = 0;
		for (size_t b = 0; b <= NBOUNDS; b++) {
			cum += h->buckets[b];
			evbuffer_add_printf(
			    out, "waymark_http_request_duration_seconds_bucket{route=\"");
			put_label(out, label);
			if (b < NBOUNDS)
				evbuffer_add_printf(out, "\",le=\"%g\"} %llu\n", bounds[b], cum);
			else
				evbuffer_add_printf(out, "\",le=\"+Inf\"} %llu\n", cum);
		}
		evbuffer_add_printf(out, "waymark_http_request_duration_seconds_sum{route=\"");
		put_label(out, label);
		evbuffer_add_printf(out, "\"} %.6f\n", h->sum);
		evbuffer_add_printf(out, "waymark_http_request_duration_seconds_count{route=\"");
		put_label(out, label);
		evbuffer_add_printf(out, "\"} %llu\n", h->count);
	}
	struct db_pool_stats st = {0};
	if (pool)
		db_pool_get_stats(pool, &st);
	evbuffer_add_printf(out,
	                    "# HELP waymark_db_pool_size Configured database connections.\n"
	                    "# TYPE waymark_db_pool_size gauge\nwaymark_db_pool_size %d\n"
	                    "# HELP waymark_db_pool_connections Database connections up.\n"
	                    "# TYPE waymark_db_pool_connections gauge\n"
	                    "waymark_db_pool_connections %d\n"
	                    "# HELP waymark_db_pool_in_use Connections running a query or pinned.\n"
	                    "# TYPE waymark_db_pool_in_use gauge\nwaymark_db_pool_in_use %d\n"
	                    "# HELP waymark_db_pool_waiting Work waiting for a connection.\n"
	                    "# TYPE waymark_db_pool_waiting gauge\nwaymark_db_pool_waiting %d\n"
	                    "# HELP waymark_db_errors_total Failed database results of any kind.\n"
	                    "# TYPE waymark_db_errors_total counter\nwaymark_db_errors_total %llu\n"
	                    "# HELP waymark_db_reconnects_total Successful reconnections.\n"
	                    "# TYPE waymark_db_reconnects_total counter\n"
	                    "waymark_db_reconnects_total %llu\n",
	                    st.size, st.connected, st.in_use, st.waiting, st.errors, st.reconnects);
	return WM_OK;
}
