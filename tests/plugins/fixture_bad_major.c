/*
 * fixture_bad_major — a plugin built for the next ABI major. The loader must refuse it
 * naming both versions before calling anything but wm_plugin_entry: its
 * init and register_routes abort(), so a test that survives loading it
 * proves the check comes first.
 */
#include <stdlib.h>
#include <waymark/plugin.h>

static wm_status bad_init(const struct wm_core *core, struct wm_host *host, const json_t *config,
                          void **state)
{
	abort();
}

static wm_status bad_routes(void *state)
{
	abort();
}

/* Overriding one member of WM_PLUGIN_ABI is the point of this fixture. */
#pragma GCC diagnostic ignored "-Woverride-init"
static const struct wm_plugin desc = {
    .abi = WM_PLUGIN_ABI,
    .abi.major = 2,
    .name = "fixture_bad_major",
    .init = bad_init,
    .register_routes = bad_routes,
};

WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void);
WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void)
{
	return &desc;
}
