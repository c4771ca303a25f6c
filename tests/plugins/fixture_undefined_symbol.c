/*
 * fixture_undefined_symbol — a plugin whose init calls a function nothing
 * defines, as when it was linked against a library the host lacks. Opened
 * with RTLD_NOW, it must be refused at load, naming the symbol, not crash on
 * first use.
 */
#include <waymark/plugin.h>

void wm_fixture_no_such_function(void);

static wm_status fx_init(const struct wm_core *core, struct wm_host *host, const json_t *config,
                         void **state)
{
	wm_fixture_no_such_function();
	*state = NULL;
	return WM_OK;
}

static wm_status fx_routes(void *state)
{
	return WM_OK;
}

static const struct wm_plugin desc = {
    .abi = WM_PLUGIN_ABI,
    .name = "fixture_undefined_symbol",
    .init = fx_init,
    .register_routes = fx_routes,
};

WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void);
WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void)
{
	return &desc;
}
