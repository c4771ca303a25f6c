/*
 * fixture_no_entry — a shared object with a well-formed descriptor but no
 * wm_plugin_entry: it exports the entry under a misspelt name instead. The
 * loader must refuse it with `no wm_plugin_entry symbol`, not crash.
 */
#include <waymark/plugin.h>

static wm_status fx_init(const struct wm_core *core, struct wm_host *host, const json_t *config,
                         void **state)
{
	*state = NULL;
	return WM_OK;
}

static wm_status fx_routes(void *state)
{
	return WM_OK;
}

static const struct wm_plugin desc = {
    .abi = WM_PLUGIN_ABI,
    .name = "fixture_no_entry",
    .init = fx_init,
    .register_routes = fx_routes,
};

WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry_v1(void);
WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry_v1(void)
{
	return &desc;
}
