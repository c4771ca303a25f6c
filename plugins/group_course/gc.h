/*
 * gc.h — the group_course plugin's own header (never seen by the core):
 * its state, shared by the plugin's files, and the entry points each file
 * gives the descriptor in group_course.c.
 *
 * Who defines what (see /work/session-notes/GC.md):
 *   gc_course.c, gc_cohorts.c, gc_timetable*.c (G1)  gc_course_routes
 *   gc_admission.c (G2)                             gc_admission_routes
 *   gc_settings.c (G2)                              gc_programme_validate
 *   gc_eligibility.c (G2)                           gc_booking_check
 *   gc_rules.c (G2)                                 gc_attendance_rules,
 *                                                   gc_completion_evaluate
 *   gc_render.c (G2)                                gc_calendar_render
 *   gc_outcomes.c / gc_report.c (G3)                gc_outcome_routes
 * Until a file lands, gc_pending.c holds a placeholder for its entry points;
 * whoever defines one deletes its placeholder there.
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

/* --- route registration, one per file group that owns routes ----------- */
wm_status gc_course_routes(struct gc_state *st) WM_MUST_CHECK;    /* G1 */
wm_status gc_admission_routes(struct gc_state *st) WM_MUST_CHECK; /* G2 */
wm_status gc_outcome_routes(struct gc_state *st) WM_MUST_CHECK;   /* G3 */

/* --- hooks (struct wm_plugin members; `state` is the struct gc_state *) -- */
wm_status gc_programme_validate(void *state, const json_t *settings, struct wm_hook_error *err);
wm_status gc_booking_check(void *state, const json_t *request, struct wm_hook_error *err);
json_t *gc_attendance_rules(void *state, const json_t *facts);
json_t *gc_completion_evaluate(void *state, const json_t *facts);
wm_status gc_calendar_render(void *state, const json_t *event, struct wm_calendar_text *out);

#endif
