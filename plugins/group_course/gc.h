/*
 * gc.h — the group_course plugin's own header (never seen by the core):
 * its state, shared by the plugin's files, and the entry points each file
 * gives the descriptor in group_course.c.
 *
 * Who defines what (README.md beside this file):
 *   gc_course.c, gc_cohorts.c, gc_timetable.c       gc_course_prepare,
 *                                                   gc_course_routes
 *   gc_admission.c                                  gc_admission_prepare,
 *                                                   gc_admission_routes
 *   gc_settings.c                                   gc_programme_validate
 *   gc_eligibility.c                                gc_booking_check
 *   gc_rules.c                                      gc_attendance_rules,
 *                                                   gc_completion_evaluate
 *   gc_render.c                                     gc_calendar_render
 *   gc_outcomes.c / gc_report.c                     gc_outcome_prepare,
 *                                                   gc_outcome_routes
 */
#ifndef GC_H
#define GC_H

#include <waymark/plugin.h>

/* Configuration ("plugins.group_course" section), copied in init. */
#define GC_REGION_MAX 32

/* Everything the plugin keeps between calls; made in init, freed at
 * shutdown. The core and host pointers stay valid until then. */
struct gc_state {
	const struct wm_core *core;
	struct wm_host *host;
	/* group_course.bank_holiday region whose days a timetable skips
	 * (config "bank_holiday_region", default "england_wales"). */
	char bank_holiday_region[GC_REGION_MAX];
	/* Default look-ahead of GET /checks in days (config "checks_days",
	 * default 14, 1..90). */
	int checks_days;
};

/* --- statements: core->db_prepare works only inside init, so each file
 * group that owns routes declares its prepared statements in its own
 * function; gc_init calls all three before register_routes. Names are
 * unique across the plugin (a duplicate stops the server starting). ----- */
wm_status gc_course_prepare(struct gc_state *st) WM_MUST_CHECK;
wm_status gc_admission_prepare(struct gc_state *st) WM_MUST_CHECK;
wm_status gc_outcome_prepare(struct gc_state *st) WM_MUST_CHECK;

/* --- route registration, one per file group that owns routes ----------- */
wm_status gc_course_routes(struct gc_state *st) WM_MUST_CHECK;
wm_status gc_admission_routes(struct gc_state *st) WM_MUST_CHECK;
wm_status gc_outcome_routes(struct gc_state *st) WM_MUST_CHECK;

/* --- hooks (struct wm_plugin members; `state` is the struct gc_state *) -- */
wm_status gc_programme_validate(void *state, const json_t *settings, struct wm_hook_error *err);
wm_status gc_booking_check(void *state, const json_t *request, struct wm_hook_error *err);
json_t *gc_attendance_rules(void *state, const json_t *facts);
json_t *gc_completion_evaluate(void *state, const json_t *facts);
wm_status gc_calendar_render(void *state, const json_t *event, struct wm_calendar_text *out);

#endif
