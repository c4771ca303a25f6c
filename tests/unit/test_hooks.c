/*
 * What the core accepts from a plugin's hooks: alerts and refusals must be
 * the plugin's own (its namespace, the shape the alert table requires,
 * printable text), completions one of the known results; anything else is
 * dropped or replaced, never stored as given.
 */
#include <check.h>
#include <string.h>
#include <waymark/plugin.h>

#include "hooks.h"
#include "plugin_loader.h"
#include "server.h"
#include "ts.h"

static json_t *alerts_out;
static json_t *completion_out;
static struct wm_hook_error refusal;

static json_t *rules(void *state, const json_t *facts)
{
	return json_incref(alerts_out);
}

static json_t *complete(void *state, const json_t *facts)
{
	return json_incref(completion_out);
}

static wm_status check(void *state, const json_t *request, struct wm_hook_error *err)
{
	*err = refusal;
	return WM_ERR;
}

static struct wm_plugin desc = {
    .abi = WM_PLUGIN_ABI,
    .name = "fx",
    .booking_check = check,
    .attendance_rules = rules,
    .completion_evaluate = complete,
};
static struct wm_host host = {.desc = &desc, .name = "fx"};
static struct wm_host *hosts[] = {&host};
static struct server srv = {.plugins = hosts, .n_plugins = 1};

START_TEST(alerts_must_be_the_plugins_own_and_well_formed)
{
	alerts_out = json_pack(
	    "[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s}]", "kind",
	    "fx.absences", "message", "Two in a row.", "kind", "other.absences", "message", "x",
	    "kind", "fx.Two absences", "message", "x", "kind", "fx.ok", "message", "bad\x01text",
	    "kind", "fx.sev", "message", "x", "severity", "panic", "kind", "fx.", "message", "x");
	json_t *got = hooks_attendance_rules(&srv, "fx", NULL);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(json_array_size(got), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(got, 0), "kind")),
	                 "fx.absences");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(got, 0), "severity")),
	                 "warning");
	json_decref(got);
	json_decref(alerts_out);
	/* A non-array, or nothing acceptable, is no alert at all. */
	alerts_out = json_pack("{s:s}", "kind", "fx.absences");
	ck_assert_ptr_null(hooks_attendance_rules(&srv, "fx", NULL));
	json_decref(alerts_out);
	alerts_out = NULL;
	ck_assert_ptr_null(hooks_attendance_rules(&srv, "unknown_type", NULL));
}
END_TEST

START_TEST(completions_must_be_known_results)
{
	completion_out = json_pack("{s:s, s:s, s:s}", "result", "completed", "rule_version", "fx-1",
	                           "reason", "ok");
	json_t *got = hooks_completion(&srv, "fx", NULL);
	ck_assert_str_eq(json_string_value(json_object_get(got, "result")), "completed");
	json_decref(got);
	json_decref(completion_out);
	completion_out = json_pack("{s:s, s:s}", "result", "passed", "rule_version", "fx-1");
	ck_assert_ptr_null(hooks_completion(&srv, "fx", NULL));
	json_decref(completion_out);
	completion_out = json_pack("{s:s, s:s}", "result", "completed", "rule_version", "");
	ck_assert_ptr_null(hooks_completion(&srv, "fx", NULL));
	json_decref(completion_out);
	completion_out = NULL;
}
END_TEST

START_TEST(refusals_are_namespaced_and_printable)
{
	struct wm_hook_error err;
	memset(&refusal, 0, sizeof refusal);
	refusal.status = 500;
	snprintf(refusal.code, sizeof refusal.code, "core.forbidden");
	snprintf(refusal.message, sizeof refusal.message, "bad\x1b[31m");
	ck_assert(hooks_booking_check(&srv, "fx", NULL, &err) == WM_ERR);
	ck_assert_str_eq(err.code, "fx.refused");
	ck_assert_int_eq(err.status, 422);
	ck_assert_ptr_null(strchr(err.message, 0x1b));
	ck_assert(err.message[0] != '\0');
	snprintf(refusal.code, sizeof refusal.code, "fx.not_eligible");
	snprintf(refusal.message, sizeof refusal.message, "Not eligible.");
	refusal.status = 400;
	ck_assert(hooks_booking_check(&srv, "fx", NULL, &err) == WM_ERR);
	ck_assert_str_eq(err.code, "fx.not_eligible");
	ck_assert_str_eq(err.message, "Not eligible.");
	ck_assert_int_eq(err.status, 400);
	/* No plugin of that type, or no hook: nothing to refuse. */
	ck_assert(hooks_booking_check(&srv, "nobody", NULL, &err) == WM_OK);
	ck_assert(hooks_programme_validate(&srv, "fx", NULL, &err) == WM_OK);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hooks");
	TCase *tc = tcase_create("hooks");
	tcase_add_test(tc, alerts_must_be_the_plugins_own_and_well_formed);
	tcase_add_test(tc, completions_must_be_known_results);
	tcase_add_test(tc, refusals_are_namespaced_and_printable);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
