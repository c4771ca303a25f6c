/*
 * fixture_sleep — a valid plugin with one slow route,
 * GET /api/v1/fixture_sleep/sleep?ms=N, which runs pg_sleep for N ms through
 * the pool and then replies {"slept_ms": N}. Integration tests use it to
 * prove a slow query does not hold up the event loop for other requests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <waymark/plugin.h>

#define MAX_MS 10000

/* One plugin instance per process, so the services can live in statics. */
static const struct wm_core *fx_core;
static struct wm_host *fx_host;

struct sleep_call {
	struct wm_req *req;
	long ms;
};

/* Digits only, 0..MAX_MS: strtol would also take "+5", " 5" and "5x". */
static int parse_ms(const char *s, long *out)
{
	long v = 0;
	if (!s || !*s)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || p - s >= 5)
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (v > MAX_MS)
		return -1;
	*out = v;
	return 0;
}

static void slept(void *arg, const struct wm_db_result *res)
{
	struct sleep_call *call = arg;
	if (fx_core->db_error(res) != WM_DB_OK) {
		fx_core->reply_db_error(call->req, res);
	} else {
		fx_core->reply_json(call->req, 200,
		                    json_pack("{s:I}", "slept_ms", (json_int_t)call->ms));
	}
	free(call);
}

static void sleep_handler(struct wm_req *req, void *state)
{
	long ms;
	if (parse_ms(fx_core->req_query(req, "ms"), &ms) != 0) {
		fx_core->reply_error(req, 400, "fixture_sleep.bad_ms", "ms",
		                     "ms must be an integer from 0 to %d.", MAX_MS);
		return;
	}
	struct sleep_call *call = malloc(sizeof *call);
	if (!call) {
		fx_core->reply_error(req, 500, "fixture_sleep.internal", NULL, "Out of memory.");
		return;
	}
	*call = (struct sleep_call){req, ms};
	char buf[16];
	snprintf(buf, sizeof buf, "%ld", ms);
	const char *params[] = {buf};
	if (fx_core->db_exec(fx_host, "SELECT pg_sleep($1::float8 / 1000)", 1, params, slept,
	                     call) != WM_OK) {
		free(call);
		fx_core->reply_error(req, 500, "fixture_sleep.internal", NULL,
		                     "The query could not be started.");
	}
}

static wm_status fx_init(const struct wm_core *core, struct wm_host *host, const json_t *config,
                         void **state)
{
	fx_core = core;
	fx_host = host;
	*state = NULL;
	return WM_OK;
}

static wm_status fx_routes(void *state)
{
	static const struct wm_route_doc doc = {
	    .summary = "Sleeps in PostgreSQL for ms milliseconds (test fixture)",
	    .response_schema = "{\"type\":\"object\",\"required\":[\"slept_ms\"],"
	                       "\"properties\":{\"slept_ms\":{\"type\":\"integer\"}}}",
	    .success_status = 200,
	};
	return fx_core->route_add(fx_host, WM_GET, "/api/v1/fixture_sleep/sleep", sleep_handler,
	                          &doc);
}

static const struct wm_plugin desc = {
    .abi = WM_PLUGIN_ABI,
    .name = "fixture_sleep",
    .version = "1",
    .description = "test fixture: a route that waits in PostgreSQL",
    .init = fx_init,
    .register_routes = fx_routes,
};

WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void);
WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void)
{
	return &desc;
}
