/*
 * metrics — counters kept in process memory and rendered as Prometheus text
 * at GET /metrics: requests by route template and status, a latency
 * histogram, database pool gauges and database errors. Per process: with
 * SO_REUSEPORT each process is scraped as its own target.
 */
#ifndef WM_METRICS_H
#define WM_METRICS_H

#include <stddef.h>
#include <waymark/types.h>

struct evbuffer;
struct router;
struct db_pool;

/* `route_index` is route->index, or (size_t)-1 when no route matched;
 * `method` one enum wm_method value (0 if unknown). */
void metrics_request(size_t route_index, unsigned method, int status, double seconds);
wm_status metrics_render(struct evbuffer *out, const struct router *r,
                         const struct db_pool *pool) WM_MUST_CHECK;
void metrics_reset(void);

#endif
