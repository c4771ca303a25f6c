/*
 * server — owns everything one waymarkd process runs: configuration, event
 * base, HTTP front end, database pool, router, loaded plugins and (when no
 * database URL is given) the embedded cluster. It wires the start-up order
 * of DESIGN.md §2 and the reverse order on shutdown.
 */
#ifndef WM_SERVER_H
#define WM_SERVER_H

#include <waymark/core.h>

#include "config.h"
#include "migrate.h"
#include "pgctl.h"

struct event_base;
struct router;
struct db_pool;
struct feed_cache;
struct http;
struct wm_host;

struct server {
	struct config cfg;
	struct event_base *base;
	struct router *router;
	struct db_pool *pool;
	struct jobs *jobs;             /* background jobs (jobs.c) */
	struct feed_cache *feed_cache; /* unchanged calendar feeds (feed_cache.c) */
	struct http *http;
	struct workq *pwq; /* password hashing off the loop (auth.pwhash_threads) */
	struct pgctl pg;
	int have_pg;
	char *conninfo;
	struct wm_core core; /* the table handed to plugins */
	struct wm_host **plugins;
	size_t n_plugins;
	struct migration_set *sets; /* core + each plugin, for /readyz */
	char *migration_sums;       /* their checksums, 65 bytes each, in order */
	size_t n_sets;
	int stopping;
};

/* The table of services plugins receive (core_table.c). */
void core_table_init(struct wm_core *core);

/* Loads configured plugins, checks them and collects their migration sets,
 * without running any plugin code beyond the entry functions. */
wm_status server_load_plugins(struct server *srv, char *err, size_t errlen) WM_MUST_CHECK;
/* Resolves the database: DATABASE_URL / db.url, or the embedded cluster. */
wm_status server_open_database(struct server *srv, char *err, size_t errlen) WM_MUST_CHECK;

/* `waymarkd serve`: runs until SIGTERM/SIGINT. Returns the exit code. */
int server_run(struct server *srv);
void server_free(struct server *srv);

/* Core routes: health, readiness, metrics, OpenAPI (api_*.c). */
wm_status api_health_register(struct server *srv) WM_MUST_CHECK;
wm_status api_openapi_register(struct server *srv) WM_MUST_CHECK;
/* The OpenAPI 3.1 document for the router (new reference). */
json_t *openapi_document(const struct router *r);

#endif
