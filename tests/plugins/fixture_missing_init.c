/*
 * fixture_missing_init — a descriptor without the required init callback.
 * The loader must refuse it, naming init, rather than crash at start-up.
 */
#include <waymark/plugin.h>

static wm_status fx_routes(void *state)
{
	return WM_OK;
}

static const struct wm_plugin desc = {
    .abi = WM_PLUGIN_ABI,
    .name = "fixture_missing_init",
    .register_routes = fx_routes,
};

WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void);
WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void)
{
	return &desc;
}
