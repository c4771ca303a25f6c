/*
 * fixture_ok — the smallest plugin the loader accepts: a correct ABI block,
 * a valid name and init/register_routes that do nothing. test_abi loads it
 * to prove a good plugin is not refused along with the bad ones.
 */
#include <waymark/plugin.h>

static wm_status ok_init(const struct wm_core *core, struct wm_host *host, const json_t *config,
                         void **state)
{
	*state = NULL;
	return WM_OK;
}

static wm_status ok_routes(void *state)
{
	return WM_OK;
}

static const struct wm_plugin desc = {
    .abi = WM_PLUGIN_ABI,
    .name = "fixture_ok",
    .version = "1",
    .description = "test fixture: a valid plugin with no routes",
    .init = ok_init,
    .register_routes = ok_routes,
};

WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void);
WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void)
{
	return &desc;
}
