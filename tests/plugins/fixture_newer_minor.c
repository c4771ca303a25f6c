/*
 * fixture_newer_minor — a plugin built against a newer minor of the ABI than
 * the core's. It may call core members this core lacks, so the loader must
 * refuse it with `ABI 1.1, core 1.0 (plugin needs a newer core)`.
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

/* Overriding one member of WM_PLUGIN_ABI is the point of this fixture. */
#pragma GCC diagnostic ignored "-Woverride-init"
static const struct wm_plugin desc = {
    .abi = WM_PLUGIN_ABI,
    .abi.minor = WM_ABI_MINOR + 1,
    .name = "fixture_newer_minor",
    .init = fx_init,
    .register_routes = fx_routes,
};

WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void);
WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void)
{
	return &desc;
}
