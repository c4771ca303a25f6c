/*
 * gc_rules.h — the pure functions behind the group_course hooks (settings, eligibility, completion,
 * early warning, calendar text). None of them touches the core or a database, so the unit tests
 * (plugins/group_course/test/test_gc_rules.c) compile these files directly and call them over facts
 * JSON.
 */
#ifndef GC_RULES_H
#define GC_RULES_H

#include <waymark/plugin.h>

/* Defaults for settings a course may leave out. */
#define GC_DEFAULT_RULE_VERSION "group_course-1"
#define GC_DEFAULT_MIN_SHARE    0.8
#define GC_DEFAULT_ALERT_AFTER  2
/* Warn ("gate happy") when release is this close, unless the rule says. */
#define GC_DEFAULT_WARN_MONTHS 3

/* Fills `err` (400, `code`, `field`, printf message) and returns WM_ERR. */
wm_status gc_refuse(struct wm_hook_error *err, int status, const char *code, const char *field,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* --- gc_settings.c ---------------------------------------------------- */

/* The whole programme.settings object of a course (README.md, "Course
 * settings"). */
wm_status gc_settings_check(const json_t *settings, struct wm_hook_error *err);

/* --- gc_eligibility.c ------------------------------------------------- */

/* An eligibility rule object: {"release_within_months", "areas", "min_age",
 * "custody_statuses", "consent_required", "release_warning_months"}, every
 * member optional (null = no criterion). `prefix` names the fields in a
 * refusal ("settings.eligibility" or "rules"); with `allow_version` the
 * mirror's "version" (integer >= 1) is accepted too. */
wm_status gc_eligibility_check(const json_t *rules, const char *prefix, int allow_version,
                               struct wm_hook_error *err);

/* Evaluates `rules` (may be NULL/null: no rule) and the course's
 * `prerequisites` (settings.prerequisites, may be NULL) over `facts`:
 *   {"on": "YYYY-MM-DD",
 *    "person": {"age", "custody_status", "expected_release_date", "area", ...},
 *    "consent": true | false | null,              null/absent: not known
 *    "completed_programmes": [ids] | null}        null/absent: not known
 * Criteria whose facts are not known (consent, prerequisites in a
 * booking_check request) are not checked; a criterion whose person fact is
 * missing (no date of birth, no release date, no area) fails.
 * Returns a new {"result": "eligible" | "ineligible",
 *                "reasons": [{"code", "message"}], "warnings": [{"code", "message"}]}. */
json_t *gc_eligibility_evaluate(const json_t *rules, const json_t *prerequisites,
                                const json_t *facts);

/* --- gc_rules.c ------------------------------------------------------- */

/* completion_evaluate over the core's facts (hooks.md): a new
 * {"result", "rule_version", "reason"}. */
json_t *gc_completion_decide(const json_t *facts);
/* attendance_rules over the core's facts: a new array of alerts (maybe
 * empty). */
json_t *gc_absence_alerts(const json_t *facts);

/* --- gc_render.c ------------------------------------------------------ */

wm_status gc_render_text(const json_t *event, struct wm_calendar_text *out);

#endif
