/*
 * fixture_hooks — a programme type ("fixture_hooks") with all four
 * scheduling hooks of ABI 1.2, each simple and deterministic, so tests can
 * see the core call them and act on the answer:
 *
 *   programme_validate  refuses settings {"refuse": true}
 *                       (422 fixture_hooks.bad_settings, field settings.refuse);
 *   booking_check       refuses a person whose custody_status is "remand"
 *                       (422 fixture_hooks.not_eligible, field person_id);
 *   attendance_rules    one alert {kind fixture_hooks.absences, severity
 *                       warning} when the last two expected sessions with
 *                       attendance were both unacceptable absences;
 *   completion_evaluate "in_progress" while an expected session has no
 *                       attendance yet, else "completed" when every expected
 *                       session was attended, else "not_completed";
 *                       rule_version "fixture-1".
 *
 * It has no routes, migrations or configuration.
 */
#include <stdio.h>
#include <string.h>
#include <waymark/plugin.h>

static void fail(struct wm_hook_error *err, const char *code, const char *field,
                 const char *message)
{
	err->status = 422;
	snprintf(err->code, sizeof err->code, "%s", code);
	snprintf(err->field, sizeof err->field, "%s", field);
	snprintf(err->message, sizeof err->message, "%s", message);
}

static wm_status fx_validate(void *state, const json_t *settings, struct wm_hook_error *err)
{
	(void)state;
	if (json_is_true(json_object_get(settings, "refuse"))) {
		fail(err, "fixture_hooks.bad_settings", "settings.refuse",
		     "These settings are refused by the fixture.");
		return WM_ERR;
	}
	return WM_OK;
}

static wm_status fx_booking_check(void *state, const json_t *request, struct wm_hook_error *err)
{
	(void)state;
	const char *custody = json_string_value(
	    json_object_get(json_object_get(request, "person"), "custody_status"));
	if (custody && !strcmp(custody, "remand")) {
		fail(err, "fixture_hooks.not_eligible", "person_id",
		     "People on remand cannot join this programme.");
		return WM_ERR;
	}
	return WM_OK;
}

static int expected(const json_t *s)
{
	return json_is_true(json_object_get(s, "expected"));
}

static const json_t *attendance(const json_t *s)
{
	const json_t *a = json_object_get(s, "attendance");
	return json_is_object(a) ? a : NULL;
}

static int unacceptable(const json_t *a)
{
	const char *rc = json_string_value(json_object_get(a, "reason_class"));
	return rc && !strcmp(rc, "unacceptable");
}

static json_t *fx_attendance_rules(void *state, const json_t *facts)
{
	(void)state;
	const json_t *sessions = json_object_get(facts, "sessions");
	const json_t *last = NULL, *before = NULL;
	size_t i;
	json_t *s;
	json_array_foreach(sessions, i, s)
	{
		if (!expected(s) || !attendance(s))
			continue;
		before = last;
		last = s;
	}
	if (!last || !before || !unacceptable(attendance(last)) ||
	    !unacceptable(attendance(before)))
		return NULL;
	return json_pack("[{s:s, s:s, s:s}]", "kind", "fixture_hooks.absences", "message",
	                 "Two unacceptable absences in a row.", "severity", "warning");
}

static json_t *fx_completion(void *state, const json_t *facts)
{
	(void)state;
	const json_t *sessions = json_object_get(facts, "sessions");
	int pending = 0, missed = 0, n = 0;
	size_t i;
	json_t *s;
	json_array_foreach(sessions, i, s)
	{
		if (!expected(s))
			continue;
		n++;
		const json_t *a = attendance(s);
		if (!a)
			pending++;
		else if (!json_is_true(json_object_get(a, "attended")))
			missed++;
	}
	const char *result = pending ? "in_progress" : missed ? "not_completed" : "completed";
	char reason[128];
	snprintf(reason, sizeof reason, "%d expected, %d awaiting attendance, %d missed.", n,
	         pending, missed);
	return json_pack("{s:s, s:s, s:s}", "result", result, "rule_version", "fixture-1", "reason",
	                 reason);
}

static wm_status fx_init(const struct wm_core *core, struct wm_host *host, const json_t *config,
                         void **state)
{
	(void)core;
	(void)host;
	(void)config;
	*state = NULL;
	return WM_OK;
}

static wm_status fx_routes(void *state)
{
	(void)state;
	return WM_OK;
}

static const struct wm_plugin desc = {
    .abi = WM_PLUGIN_ABI,
    .name = "fixture_hooks",
    .version = "1",
    .description = "test fixture: a programme type with every scheduling hook",
    .init = fx_init,
    .register_routes = fx_routes,
    .programme_validate = fx_validate,
    .booking_check = fx_booking_check,
    .attendance_rules = fx_attendance_rules,
    .completion_evaluate = fx_completion,
};

WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void);
WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void)
{
	return &desc;
}
