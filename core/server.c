/*
 * server — start-up and shutdown of one waymarkd process, in the order
 * DESIGN.md §2 fixes: configuration, plugins opened and checked, database
 * resolved (embedded cluster if no URL), migrations, each plugin's init and
 * routes, core routes, router frozen, pool and listener started, loop.
 *
 * Shutdown (SIGTERM/SIGINT): stop accepting, let in-flight requests finish
 * for up to server.shutdown_drain_ms, then leave the loop; a second signal
 * leaves at once. Afterwards the pool closes first (so any callback still
 * owed runs while plugins are alive), then plugins shut down in reverse
 * order, then HTTP, and last the embedded cluster if this process started it.
 */
#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api.h"
#include "auth.h"
#include "db.h"
#include "feed.h"
#include "http.h"
#include "jobs.h"
#include "log.h"
#include "plugin_loader.h"
#include "router.h"
#include "sdnotify.h"
#include "server.h"
#include "workq.h"

/* Plugins built with the binary live in <dir of waymarkd>/plugins. */
static char *default_plugin_dir(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return strdup("plugins");
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	char *dir = NULL;
	if (asprintf(&dir, "%s/plugins", exe) < 0)
		return NULL;
	return dir;
}

/* "…/waymark_<name>.so" -> "<name>", or NULL if the file is not so named. */
static char *name_from_path(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (strncmp(base, "waymark_", 8) != 0 || n <= 11 || strcmp(base + n - 3, ".so") != 0)
		return NULL;
	return strndup(base + 8, n - 11);
}

static const struct wm_config_key no_keys[] = {{0}};

static wm_status load_one(struct server *srv, const char *dir, const char *entry,
                          struct wm_host *host, char *err, size_t errlen)
{
	wm_status rc = WM_ERR;
	char *path = NULL, *name = NULL, prefix[64];
	if (strchr(entry, '/')) {
		path = strdup(entry);
		name = name_from_path(entry);
		if (!name) {
			snprintf(err, errlen, "plugins.load: \"%s\" is not named waymark_<name>.so",
			         entry);
			goto fail;
		}
	} else {
		path = plugin_path(dir, entry);
		name = strdup(entry);
	}
	if (!path || !name) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (plugin_open(path, name, host, err, errlen) != WM_OK)
		goto fail;
	host->srv = srv;
	snprintf(prefix, sizeof prefix, "plugins.%s", host->name);
	const json_t *section = json_object_get(srv->cfg.plugin_sections, host->name);
	const struct wm_config_key *keys =
	    host->desc->config_keys ? host->desc->config_keys : no_keys;
	if (config_apply_table(keys, prefix, section, &host->config, err, errlen) != WM_OK)
		goto fail;
	rc = WM_OK;
fail:
	free(path);
	free(name);
	return rc;
}

wm_status server_load_plugins(struct server *srv, char *err, size_t errlen)
{
	char *dir = srv->cfg.plugin_dir && *srv->cfg.plugin_dir ? strdup(srv->cfg.plugin_dir)
	                                                        : default_plugin_dir();
	wm_status rc = WM_ERR;
	if (!dir)
		goto fail;
	srv->plugins = calloc(srv->cfg.n_plugins + 1, sizeof *srv->plugins);
	srv->sets = calloc(srv->cfg.n_plugins + 1, sizeof *srv->sets);
	if (!srv->plugins || !srv->sets) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	srv->sets[srv->n_sets++] =
	    (struct migration_set){"core", core_migrations, core_migrations_n};
	for (size_t i = 0; i < srv->cfg.n_plugins; i++) {
		struct wm_host *host = calloc(1, sizeof *host);
		if (!host) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		srv->plugins[srv->n_plugins++] = host;
		if (load_one(srv, dir, srv->cfg.plugins[i], host, err, errlen) != WM_OK)
			goto fail;
		if (plugin_check_unique(srv->plugins, srv->n_plugins, err, errlen) != WM_OK)
			goto fail;
		srv->sets[srv->n_sets++] = (struct migration_set){
		    host->name, host->desc->migrations, host->desc->n_migrations};
	}
	/* A section for a plugin that is not loaded is a typo or a leftover:
	 * either way its settings would silently do nothing. */
	const char *key;
	json_t *val;
	json_object_foreach(srv->cfg.plugin_sections, key, val)
	{
		int found = 0;
		for (size_t i = 0; i < srv->n_plugins; i++)
			found |= !strcmp(srv->plugins[i]->name, key);
		if (!found) {
			snprintf(err, errlen,
			         "config section \"plugins.%s\" names a plugin that is not loaded",
			         key);
			goto fail;
		}
	}
	rc = WM_OK;
fail:
	free(dir);
	return rc;
}

wm_status server_open_database(struct server *srv, char *err, size_t errlen)
{
	if (srv->cfg.db_url && *srv->cfg.db_url) {
		srv->conninfo = strdup(srv->cfg.db_url);
		return srv->conninfo ? WM_OK : WM_ERR;
	}
	if (pgctl_start(&srv->pg, srv->cfg.data_dir, srv->cfg.pg_bindir, srv->cfg.pg_user, err,
	                errlen) != WM_OK)
		return WM_ERR;
	srv->have_pg = 1;
	srv->conninfo = pgctl_conninfo(&srv->pg);
	if (!srv->conninfo) {
		snprintf(err, errlen, "out of memory");
		return WM_ERR;
	}
	log_msg(WM_LOG_INFO, "server", "using the embedded PostgreSQL in %s%s", srv->pg.datadir,
	        srv->pg.started ? " (started)" : " (already running)");
	return WM_OK;
}

/* evhttp and the pool need a descriptor per connection (RUNTIME.md R2). */
static void raise_nofile(struct server *srv)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rlim_t want = rl.rlim_max == RLIM_INFINITY ? 65536 : rl.rlim_max;
	if (want > 1048576)
		want = 1048576;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	long long room = (long long)rl.rlim_cur - 64 - srv->cfg.db_pool_size;
	if (room < 1)
		room = 1;
	if (srv->cfg.http_max_connections > room) {
		log_msg(WM_LOG_WARN, "server",
		        "http.max_connections %lld exceeds the descriptor limit; using %lld",
		        srv->cfg.http_max_connections, room);
		srv->cfg.http_max_connections = room;
	}
}

static struct event *drain_timer;
static unsigned long long drain_deadline_ms;

static unsigned long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000u + (unsigned long long)ts.tv_nsec / 1000000u;
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	unsigned left = http_in_flight(srv->http);
	if (left == 0) {
		event_base_loopexit(srv->base, NULL);
		return;
	}
	if (mono_ms() >= drain_deadline_ms) {
		log_msg(WM_LOG_WARN, "server", "drain time is up with %u requests in flight", left);
		event_base_loopexit(srv->base, NULL);
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	if (srv->stopping) {
		log_msg(WM_LOG_WARN, "server", "second signal: stopping now");
		event_base_loopbreak(srv->base);
		return;
	}
	srv->stopping = 1;
	sdnotify("STOPPING=1");
	log_msg(WM_LOG_INFO, "server", "signal %d: no new connections; draining %u requests",
	        (int)sig, http_in_flight(srv->http));
	http_stop_accepting(srv->http);
	drain_deadline_ms = mono_ms() + (unsigned long long)srv->cfg.shutdown_drain_ms;
	struct timeval tv = {0, 20000};
	drain_timer = event_new(srv->base, -1, EV_PERSIST, on_drain_tick, srv);
	if (drain_timer)
		event_add(drain_timer, &tv);
	else
		event_base_loopexit(srv->base, NULL);
}

static wm_status start_plugins(struct server *srv, char *err, size_t errlen)
{
	for (size_t i = 0; i < srv->n_plugins; i++) {
		struct wm_host *h = srv->plugins[i];
		if (h->desc->init(&srv->core, h, h->config, &h->state) != WM_OK) {
			snprintf(err, errlen, "plugin \"%s\": init failed (see its log lines)",
			         h->name);
			return WM_ERR;
		}
		h->initialised = 1;
		if (h->desc->register_routes(h->state) != WM_OK) {
			snprintf(err, errlen, "plugin \"%s\": registering routes failed", h->name);
			return WM_ERR;
		}
	}
	if (auth_prepare(srv->pool) != WM_OK || api_register_all(srv) != WM_OK ||
	    api_health_register(srv) != WM_OK || api_openapi_register(srv) != WM_OK) {
		snprintf(err, errlen, "cannot register the core routes");
		return WM_ERR;
	}
	router_freeze(srv->router);
	return WM_OK;
}

int server_run(struct server *srv)
{
	char err[1024];
	int applied = 0, code = 1;
	struct event *sigterm = NULL, *sigint = NULL;

	signal(SIGPIPE, SIG_IGN);
	raise_nofile(srv);
	if (server_load_plugins(srv, err, sizeof err) != WM_OK ||
	    server_open_database(srv, err, sizeof err) != WM_OK ||
	    migrate_apply(srv->conninfo, srv->sets, srv->n_sets, &applied, err, sizeof err) !=
	        WM_OK)
		goto fail;
	srv->base = event_base_new();
	srv->router = router_new();
	struct db_pool_config pc = {
	    .conninfo = srv->conninfo,
	    .size = (int)srv->cfg.db_pool_size,
	    .queue_max = (int)srv->cfg.db_queue_max,
	    .queue_wait_ms = (int)srv->cfg.db_queue_wait_ms,
	    .statement_timeout_ms = (int)srv->cfg.db_statement_timeout_ms,
	    .lock_timeout_ms = (int)srv->cfg.db_lock_timeout_ms,
	    .idle_tx_timeout_ms = (int)srv->cfg.db_idle_tx_timeout_ms,
	    .connect_timeout_ms = (int)srv->cfg.db_connect_timeout_ms,
	};
	srv->pool = srv->base ? db_pool_new(srv->base, &pc) : NULL;
	if (!srv->base || !srv->router || !srv->pool) {
		snprintf(err, sizeof err, "out of memory");
		goto fail;
	}
	srv->pwq = workq_new(srv->base, (int)srv->cfg.auth_pwhash_threads,
	                     (int)srv->cfg.auth_pwhash_queue);
	if (!srv->pwq) {
		snprintf(err, sizeof err, "cannot start the password-hashing threads");
		goto fail;
	}
	core_table_init(&srv->core);
	if (start_plugins(srv, err, sizeof err) != WM_OK)
		goto fail;
	srv->http = http_new(srv, err, sizeof err);
	if (!srv->http || http_listen(srv->http, err, sizeof err) != WM_OK)
		goto fail;
	if (db_pool_start(srv->pool) != WM_OK) {
		snprintf(err, sizeof err, "cannot start the database pool");
		goto fail;
	}
	/* NULL (out of memory) only means every feed request builds. */
	srv->feed_cache = feed_cache_new((size_t)srv->cfg.feeds_cache_bytes);
	srv->jobs = jobs_start(srv->base, srv->pool, srv->cfg.jobs_interval_ms);
	if (!srv->jobs) {
		snprintf(err, sizeof err, "cannot start the background jobs");
		goto fail;
	}
	sigterm = evsignal_new(srv->base, SIGTERM, on_signal, srv);
	sigint = evsignal_new(srv->base, SIGINT, on_signal, srv);
	if (!sigterm || !sigint || event_add(sigterm, NULL) || event_add(sigint, NULL)) {
		snprintf(err, sizeof err, "cannot install signal handlers");
		goto fail;
	}
	log_msg(WM_LOG_INFO, "server", "listening on http://%s (%zu plugins, %zu routes)",
	        srv->cfg.listen, srv->n_plugins, router_count(srv->router));
	sdnotify("READY=1");
	if (event_base_dispatch(srv->base) < 0) {
		snprintf(err, sizeof err, "event loop failed");
		goto fail;
	}
	log_msg(WM_LOG_INFO, "server", "stopped");
	code = 0;
	goto out;
fail:
	log_msg(WM_LOG_ERROR, "server", "%s", err);
out:
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (drain_timer) {
		event_free(drain_timer);
		drain_timer = NULL;
	}
	return code;
}

void server_free(struct server *srv)
{
	/* Hashing jobs first: their completions may still queue database work,
	 * which the pool then fails cleanly. */
	workq_free(srv->pwq);
	srv->pwq = NULL;
	/* Jobs before the pool: one still in flight is failed by db_pool_free,
	 * and its callback frees what jobs_stop left. */
	jobs_stop(srv->jobs);
	srv->jobs = NULL;
	/* The pool first: callbacks still owed run while plugins live. */
	if (srv->pool)
		db_pool_free(srv->pool);
	srv->pool = NULL;
	feed_cache_free(srv->feed_cache); /* replies still sending hold their bytes */
	srv->feed_cache = NULL;
	for (size_t i = srv->n_plugins; i-- > 0;) {
		struct wm_host *h = srv->plugins[i];
		if (h->initialised && h->desc->shutdown)
			h->desc->shutdown(h->state);
		json_decref(h->config);
		plugin_close(h);
		free(h);
	}
	free(srv->plugins);
	free(srv->sets);
	free(srv->migration_sums);
	if (srv->http)
		http_free(srv->http);
	if (srv->router)
		router_free(srv->router);
	if (srv->base)
		event_base_free(srv->base);
	if (srv->have_pg) {
		if (pgctl_stop(&srv->pg) != WM_OK)
			log_msg(WM_LOG_WARN, "server",
			        "the embedded PostgreSQL did not stop cleanly");
		pgctl_free(&srv->pg);
	}
	free(srv->conninfo);
	config_free(&srv->cfg);
	memset(srv, 0, sizeof *srv);
}
