/*
 * fixture_bad_name — a descriptor named "Bad-Name", which could not be a
 * schema, URL segment or config key unquoted. The loader must refuse it.
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
    .name = "Bad-Name",
    .init = fx_init,
    .register_routes = fx_routes,
};

WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void);
WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void)
{
	return &desc;
}
