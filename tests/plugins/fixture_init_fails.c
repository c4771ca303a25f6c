/*
 * fixture_init_fails — a valid plugin whose init logs why and returns
 * WM_ERR, as a real plugin does when it cannot work. The server tests use it
 * to check that start-up stops with that reason and nothing is served.
 */
#include <waymark/plugin.h>

static wm_status fx_init(const struct wm_core *core, struct wm_host *host, const json_t *config,
                         void **state)
{
	core->log(host, WM_LOG_ERROR, "fixture_init_fails: init refuses on purpose");
	*state = NULL;
	return WM_ERR;
}

static wm_status fx_routes(void *state)
{
	return WM_OK;
}

static const struct wm_plugin desc = {
    .abi = WM_PLUGIN_ABI,
    .name = "fixture_init_fails",
    .version = "1",
    .description = "test fixture: init always fails",
    .init = fx_init,
    .register_routes = fx_routes,
};

WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void);
WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void)
{
	return &desc;
}
