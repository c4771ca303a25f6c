/*
 * group_course — cohort courses such as the Life Change Programme: a
 * curriculum of ordered modules, a cohort timetable laid out from a delivery
 * pattern, eligibility, the register (the core's), completion by the
 * plugin's rule, certificates, graduation and onward pathways.
 *
 * The plugin's one exported symbol is wm_plugin_entry(); everything else is
 * hidden (-fvisibility=hidden) and reaches the core only through the
 * struct wm_core it is lent in init.
 */
#include <stdlib.h>

#include "gc.h"

extern const struct wm_migration group_course_migrations[];
extern const size_t group_course_migrations_n;

static wm_status gc_init(const struct wm_core *core, struct wm_host *host, const json_t *config,
                         void **state)
{
	struct gc_state *st = calloc(1, sizeof *st);
	if (!st) {
		core->log(host, WM_LOG_ERROR, "out of memory");
		return WM_ERR;
	}
	st->core = core;
	st->host = host;
	*state = st;
	return WM_OK;
}

static wm_status gc_register_routes(void *state)
{
	struct gc_state *st = state;
	return gc_course_routes(st);
}

static void gc_shutdown(void *state)
{
	free(state);
}

/* Not const: group_course_migrations_n lives in another translation unit,
 * so wm_plugin_entry copies it in (as the example plugin does). */
static struct wm_plugin desc = {
    .abi = WM_PLUGIN_ABI,
    .name = "group_course",
    .version = "0.1.0",
    .description = "Group courses: curriculum, cohort timetable, completion, graduation",
    .migrations = group_course_migrations,
    .init = gc_init,
    .register_routes = gc_register_routes,
    .shutdown = gc_shutdown,
};

WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void);
WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void)
{
	desc.n_migrations = group_course_migrations_n;
	return &desc;
}
