/*
 * fixture_bad_magic — a descriptor whose magic is wrong, as when a stray
 * symbol of the same name returns something that is not a Waymark plugin.
 * The loader must refuse it, showing the magic it found.
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
    .abi.magic = 0xdeadbeefu,
    .name = "fixture_bad_magic",
    .init = fx_init,
    .register_routes = fx_routes,
};

WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void);
WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void)
{
	return &desc;
}
