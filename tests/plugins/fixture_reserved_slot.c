/*
 * fixture_reserved_slot — a descriptor with reserved[3] set, as a plugin
 * built against a newer header would have. This core does not know what the
 * slot means, so the loader must refuse it rather than ignore it.
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

static const char hook[] = "a hook this core does not know";

static const struct wm_plugin desc = {
    .abi = WM_PLUGIN_ABI,
    .name = "fixture_reserved_slot",
    .init = fx_init,
    .register_routes = fx_routes,
    .reserved = {[2] = (void *)hook},
};

WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void);
WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void)
{
	return &desc;
}
