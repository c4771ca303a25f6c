/*
 * fixture_short_struct — a descriptor that claims to be smaller than this
 * major's struct wm_plugin (as if built before the reserved slots existed).
 * The loader must refuse it before reading any member past the ABI block.
 */
#include <stddef.h>
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
    .abi.struct_size = offsetof(struct wm_plugin, reserved),
    .name = "fixture_short_struct",
    .init = fx_init,
    .register_routes = fx_routes,
};

WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void);
WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void)
{
	return &desc;
}
