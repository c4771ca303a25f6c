/*
 * api_health — the operator's routes: /healthz (the process answers),
 * /readyz (the database answers and its migrations are exactly the ones this
 * binary carries), /metrics (Prometheus text). Load balancers and systemd
 * watchers call these often, so each is one cheap query at most.
 */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "metrics.h"
#include "req.h"
#include "server.h"

static void healthz(struct wm_req *req, void *state)
{
	req_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static const char ledger_sql[] = "SELECT owner, version, checksum FROM core.schema_ledger";

/* Every embedded migration must be in the ledger with its checksum, and
 * nothing newer: the same rule start-up enforces, checked again because the
 * database may have been restored or migrated by another binary since. */
static int ledger_current(struct server *srv, const struct wm_db_result *res, char *why, size_t len)
{
	int rows = db_result_ntuples(res);
	const char *sum = srv->migration_sums; /* 65 bytes each, in set order */
	for (size_t s = 0; s < srv->n_sets; s++) {
		const struct migration_set *set = &srv->sets[s];
		for (size_t i = 0; i < set->n; i++, sum += 65) {
			int found = 0;
			for (int r = 0; r < rows && !found; r++) {
				found = !strcmp(db_result_value(res, r, 0), set->owner) &&
				        atoi(db_result_value(res, r, 1)) ==
				            set->migrations[i].version &&
				        !strcmp(db_result_value(res, r, 2), sum);
			}
			if (!found) {
				snprintf(why, len, "migration %s/%04d_%s is not applied",
				         set->owner, set->migrations[i].version,
				         set->migrations[i].name);
				return 0;
			}
		}
		for (int r = 0; r < rows; r++) {
			if (!strcmp(db_result_value(res, r, 0), set->owner) &&
			    atoi(db_result_value(res, r, 1)) > (int)set->n) {
				snprintf(why, len,
				         "the database has %s migrations this binary lacks",
				         set->owner);
				return 0;
			}
		}
	}
	return 1;
}

static void readyz_done(void *arg, const struct wm_db_result *res)
{
	struct wm_req *req = arg;
	char why[256];
	if (db_result_error(res) != WM_DB_OK) {
		req_reply_error(req, 503, "core.not_ready", NULL, "The database is unreachable.");
		return;
	}
	if (!ledger_current(req->srv, res, why, sizeof why)) {
		/* The detail is for the operator's log; the probe is public. */
		log_msg(WM_LOG_WARN, "server", "not ready: %s", why);
		req_reply_error(req, 503, "core.not_ready", NULL,
		                "Not ready: the database migrations are not current.");
		return;
	}
	req_reply_json(req, 200, json_pack("{s:s}", "status", "ready"));
}

static void readyz(struct wm_req *req, void *state)
{
	if (req->srv->stopping) {
		req_reply_error(req, 503, "core.not_ready", NULL, "The server is stopping.");
		return;
	}
	if (db_exec(req->srv->pool, ledger_sql, 0, NULL, readyz_done, req) != WM_OK)
		req_reply_error(req, 500, "core.internal", NULL, "Cannot query the database.");
}

static void metrics(struct wm_req *req, void *state)
{
	struct evbuffer *buf = evbuffer_new();
	if (!buf || metrics_render(buf, req->srv->router, req->srv->pool) != WM_OK) {
		if (buf)
			evbuffer_free(buf);
		req_reply_error(req, 500, "core.internal", NULL, "Cannot render metrics.");
		return;
	}
	req_reply_buffer(req, 200, "text/plain; version=0.0.4; charset=utf-8", buf);
}

static const char status_schema[] = "{\"type\":\"object\",\"required\":[\"status\"],"
                                    "\"properties\":{\"status\":{\"type\":\"string\"}}}";

wm_status api_health_register(struct server *srv)
{
	static const struct {
		const char *path;
		wm_handler_fn fn;
		struct wm_route_doc doc;
	} routes[] = {
	    {"/healthz",
	     healthz,
	     {"The process is alive and its event loop answers.", NULL, status_schema, 200}},
	    {"/readyz",
	     readyz,
	     {"The database answers and its migrations are current.", NULL, status_schema, 200}},
	    {"/metrics", metrics, {"Prometheus metrics of this process.", NULL, NULL, 200}},
	};
	char err[256];
	/* Checksums of the embedded migrations, once: /readyz is polled often
	 * and hashing every migration on each probe is loop time wasted. */
	size_t total = 0;
	for (size_t s = 0; s < srv->n_sets; s++)
		total += srv->sets[s].n;
	free(srv->migration_sums);
	srv->migration_sums = calloc(total ? total : 1, 65);
	if (!srv->migration_sums)
		return WM_ERR;
	char *sum = srv->migration_sums;
	for (size_t s = 0; s < srv->n_sets; s++)
		for (size_t i = 0; i < srv->sets[s].n; i++, sum += 65)
			migrate_checksum(srv->sets[s].migrations[i].sql, sum);
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		if (router_add_access(srv->router, WM_GET, routes[i].path, routes[i].fn, srv, NULL,
		                      &routes[i].doc, WM_ACCESS_PUBLIC, err, sizeof err) != WM_OK) {
			log_msg(WM_LOG_ERROR, "server", "cannot add route: %s", err);
			return WM_ERR;
		}
	}
	return WM_OK;
}
