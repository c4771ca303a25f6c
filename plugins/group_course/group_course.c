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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc.h"

extern const struct wm_migration group_course_migrations[];
extern const size_t group_course_migrations_n;

static const struct wm_config_key config_keys[] = {
    {"bank_holiday_region", WM_CFG_STRING, "\"england_wales\"", 1, GC_REGION_MAX - 1,
     "group_course.bank_holiday region whose days cohort timetables skip"},
    {"checks_days", WM_CFG_INT, "14", 1, 90,
     "default look-ahead in days of GET /api/v1/group_course/checks"},
    {NULL},
};

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
	const char *region = json_string_value(json_object_get(config, "bank_holiday_region"));
	snprintf(st->bank_holiday_region, sizeof st->bank_holiday_region, "%s",
	         region ? region : "england_wales");
	st->checks_days = (int)json_integer_value(json_object_get(config, "checks_days"));
	if (st->checks_days < 1)
		st->checks_days = 14;

	if (gc_course_prepare(st) != WM_OK || gc_admission_prepare(st) != WM_OK ||
	    gc_outcome_prepare(st) != WM_OK) {
		free(st);
		return WM_ERR; /* the core logged which statement */
	}
	*state = st;
	return WM_OK;
}

static wm_status gc_register_routes(void *state)
{
	struct gc_state *st = state;
	if (gc_course_routes(st) != WM_OK || gc_admission_routes(st) != WM_OK ||
	    gc_outcome_routes(st) != WM_OK)
		return WM_ERR;
	return WM_OK;
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
    .config_keys = config_keys,
    .init = gc_init,
    .register_routes = gc_register_routes,
    .shutdown = gc_shutdown,
    .programme_validate = gc_programme_validate,
    .booking_check = gc_booking_check,
    .attendance_rules = gc_attendance_rules,
    .completion_evaluate = gc_completion_evaluate,
    .calendar_render = gc_calendar_render,
};

WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void);
WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void)
{
	desc.n_migrations = group_course_migrations_n;
	return &desc;
}
