/*
 * Unit tests of the group_course plugin's pure functions, over facts JSON
 * of the shapes the core builds (include/waymark/hooks.md;
 * core.enrolment_facts in migrations/0013_attendance.sql; the booking_check
 * request of 0011/0012): course settings, eligibility rules, the completion
 * rule, the early-warning rule and calendar text. No server, no database.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc.h"
#include "gc_rules.h"

/* --- facts builders ---------------------------------------------------------- */

/* Eight modules m1..m8 in order; m1..m4 required. */
static json_t *settings(double min_share, int alert_after)
{
	json_t *mods = json_array();
	for (int i = 1; i <= 8; i++) {
		char key[8], title[32];
		snprintf(key, sizeof key, "m%d", i);
		snprintf(title, sizeof title, "Module %d", i);
		json_array_append_new(mods, json_pack("{s:s, s:s, s:b}", "key", key, "title", title,
		                                      "required", i <= 4));
	}
	return json_pack("{s:s, s:o, s:f, s:i}", "rule_version", "lcp-test.1", "modules", mods,
	                 "min_share", min_share, "absence_alert_after", alert_after);
}

/* One session on day `day` of January 2027. `code`: "A" attended, "U"
 * unacceptable absence, "K" acceptable absence, "S" cancelled by the
 * service, "L" regime logistics, NULL no attendance recorded. */
static json_t *sess(int day, const char *module, int catch_up, int expected, const char *code)
{
	char at[32];
	snprintf(at, sizeof at, "2027-01-%02dT10:00:00Z", day);
	json_t *att = json_null();
	if (code) {
		int attended = code[0] == 'A';
		const char *rc = code[0] == 'U'   ? "unacceptable"
		                 : code[0] == 'K' ? "acceptable"
		                 : code[0] == 'S' ? "service_cancelled"
		                 : code[0] == 'L' ? "logistics"
		                                  : NULL;
		att = json_pack("{s:s, s:b, s:b, s:s?, s:n}", "code",
		                attended ? "attended" : "absent", "attended", attended, "compliant",
		                attended || code[0] != 'U', "reason_class", rc, "late_minutes");
	}
	return json_pack("{s:i, s:s, s:s, s:s?, s:b, s:b, s:o}", "id", 100 + day, "starts_at", at,
	                 "status", "scheduled", "module", module, "catch_up", catch_up, "expected",
	                 expected, "attendance", att);
}

/* Weekly sessions m1..m8 on days 1, 4, 7 ... with `codes[i]` (a string of
 * codes, '-' for none recorded, '.' for not expected). */
static json_t *weekly(const char *codes)
{
	json_t *a = json_array();
	for (int i = 0; i < 8 && codes[i]; i++) {
		char mod[8], c[2] = {codes[i], 0};
		snprintf(mod, sizeof mod, "m%d", i + 1);
		json_array_append_new(a, sess(1 + 3 * i, mod, 0, codes[i] != '.',
		                              codes[i] == '-' || codes[i] == '.' ? NULL : c));
	}
	return a;
}

static json_t *facts_full(const char *status, const char *left_reason, json_t *sessions,
                          json_t *set, const char *now, const char *ends_on)
{
	return json_pack("{s:{s:i, s:i, s:i, s:s, s:s, s:s?, s:s?}, s:{s:i, s:s, s:o},"
	                 " s:{s:i, s:s, s:s?}, s:o, s:s}",
	                 "enrolment", "id", 5, "cohort_id", 3, "person_id", 12, "joined_on",
	                 "2027-01-01", "status", status, "left_on",
	                 left_reason ? "2027-02-01" : NULL, "left_reason", left_reason, "programme",
	                 "id", 7, "type", "group_course", "settings", set, "cohort", "id", 3,
	                 "starts_on", "2027-01-01", "ends_on", ends_on, "sessions", sessions, "now",
	                 now);
}

static json_t *facts(const char *status, json_t *sessions)
{
	return facts_full(status, NULL, sessions, settings(0.75, 2), "2027-03-01T00:00:00Z",
	                  "2027-01-25");
}

/* Decides and checks result and rule version; returns the reason (static). */
static const char *decide(json_t *f, const char *want)
{
	static char reason[512];
	json_t *d = gc_completion_decide(f);
	ck_assert_ptr_nonnull(d);
	ck_assert_msg(!strcmp(json_string_value(json_object_get(d, "result")), want),
	              "wanted %s, got %s: %s", want,
	              json_string_value(json_object_get(d, "result")),
	              json_string_value(json_object_get(d, "reason")));
	snprintf(reason, sizeof reason, "%s", json_string_value(json_object_get(d, "reason")));
	ck_assert_uint_le(strlen(reason), 500);
	json_decref(d);
	json_decref(f);
	return reason;
}

/* --- completion ------------------------------------------------------------------ */

START_TEST(all_attended)
{
	json_t *f = facts("enrolled", weekly("AAAAAAAA"));
	json_t *d = gc_completion_decide(f);
	ck_assert_str_eq(json_string_value(json_object_get(d, "result")), "completed");
	ck_assert_str_eq(json_string_value(json_object_get(d, "rule_version")), "lcp-test.1");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(d, "reason")), "8 of 8"));
	json_decref(d);
	json_decref(f);
	/* The hook gives the same answer. */
	f = facts("enrolled", weekly("AAAAAAAA"));
	d = gc_completion_evaluate(NULL, f);
	ck_assert_str_eq(json_string_value(json_object_get(d, "result")), "completed");
	json_decref(d);
	json_decref(f);
}
END_TEST

START_TEST(rule_version_recorded)
{
	json_t *s = settings(0.75, 2);
	json_object_set_new(s, "rule_version", json_string("lcp-2027.2"));
	json_t *f =
	    facts_full("enrolled", NULL, weekly("AAAAAAAA"), s, "2027-03-01T00:00:00Z", NULL);
	json_t *d = gc_completion_decide(f);
	ck_assert_str_eq(json_string_value(json_object_get(d, "rule_version")), "lcp-2027.2");
	json_decref(d);
	json_decref(f);
	/* Without one, the plugin's default names the rule. */
	s = settings(0.75, 2);
	json_object_del(s, "rule_version");
	f = facts_full("enrolled", NULL, weekly("AAAAAAAA"), s, "2027-03-01T00:00:00Z", NULL);
	d = gc_completion_decide(f);
	ck_assert_str_eq(json_string_value(json_object_get(d, "rule_version")),
	                 GC_DEFAULT_RULE_VERSION);
	json_decref(d);
	json_decref(f);
}
END_TEST

START_TEST(missed_required_then_caught_up)
{
	/* m2 missed (unacceptable); everything else attended. */
	json_t *s = weekly("AUAAAAAA");
	/* Before any catch-up, with the cohort over: not completed. */
	decide(facts("enrolled", json_deep_copy(s)), "not_completed");
	/* A catch-up of m2 still to come: in progress. */
	json_t *with_future = json_deep_copy(s);
	json_array_append_new(with_future, sess(28, "m2", 1, 1, NULL));
	decide(facts_full("enrolled", NULL, with_future, settings(0.75, 2), "2027-01-26T00:00:00Z",
	                  "2027-01-31"),
	       "in_progress");
	/* The catch-up attended: it counts for the module — completed. */
	json_array_append_new(s, sess(28, "m2", 1, 1, "A"));
	const char *why = decide(facts("enrolled", s), "completed");
	ck_assert_ptr_nonnull(strstr(why, "1 by catch-up"));
	/* ... and for the share: 7 sessions + the catch-up = 8 of 8. */
	ck_assert_ptr_nonnull(strstr(why, "8 of 8"));
}
END_TEST

START_TEST(catch_up_of_others_never_counts)
{
	/* Someone else's catch-up in the cohort, in the past, with no
	 * attendance of this person: not an absence, not an opportunity. */
	json_t *s = weekly("AAAAAAAA");
	json_array_append_new(s, sess(20, "m3", 1, 1, NULL));
	decide(facts("enrolled", s), "completed");
}
END_TEST

START_TEST(late_joiner)
{
	/* Joined in week 3: m1 and m2 (required) were before the join date. */
	const char *why = decide(facts("enrolled", weekly("..AAAAAA")), "completed");
	ck_assert_ptr_nonnull(strstr(why, "6 of 6"));
	ck_assert_ptr_nonnull(strstr(why, "not counted"));
	/* A late joiner missing one more session is still judged over the
	 * sessions expected of them: 5 of 6 = 83% >= 75%. */
	decide(facts("enrolled", weekly("..AAAKAA")), "completed");
	/* ... but 4 of 6 is below. */
	decide(facts("enrolled", weekly("..AKAKAA")), "not_completed");
}
END_TEST

START_TEST(on_hold)
{
	/* On hold after week 4: decided once resumed. */
	const char *why = decide(facts("on_hold", weekly("AAAA....")), "in_progress");
	ck_assert_ptr_nonnull(strstr(why, "On hold"));
	/* Resumed for the last two weeks: the two weeks on hold never count,
	 * m5 and m6 are optional — completed. */
	decide(facts("enrolled", weekly("AAAA..AA")), "completed");
	/* A hold over a required module waives it too (never penalised). */
	decide(facts("enrolled", weekly("A..AAAAA")), "completed");
}
END_TEST

START_TEST(missed_required_no_catch_up)
{
	/* m3 (required) missed for an acceptable reason; share 7/8 fine. */
	json_t *s = weekly("AAKAAAAA");
	/* While the cohort runs (a session still to come), in progress. */
	json_t *mid = weekly("AAKAAAA-");
	const char *why = decide(facts_full("enrolled", NULL, mid, settings(0.75, 2),
	                                    "2027-01-20T00:00:00Z", "2027-01-25"),
	                         "in_progress");
	ck_assert_ptr_nonnull(strstr(why, "Module 3"));
	/* All sessions held but ends_on not yet past: a catch-up can still be
	 * scheduled. */
	decide(facts_full("enrolled", NULL, json_deep_copy(s), settings(0.75, 2),
	                  "2027-01-24T12:00:00Z", "2027-01-25"),
	       "in_progress");
	/* Once the cohort is over with no catch-up: not completed. */
	why = decide(facts("enrolled", s), "not_completed");
	ck_assert_ptr_nonnull(strstr(why, "Module 3"));
	/* An optional module missed is fine. */
	decide(facts("enrolled", weekly("AAAAKAAA")), "completed");
}
END_TEST

START_TEST(below_min_share)
{
	/* Optional modules m5..m7 missed: 5 of 8 = 62.5% < 75%. */
	const char *why = decide(facts("enrolled", weekly("AAAAKUKA")), "not_completed");
	ck_assert_ptr_nonnull(strstr(why, "75%"));
	/* Decided early: half way through, three of four missed — even all
	 * four sessions to come give 5 of 8. */
	decide(facts_full("enrolled", NULL, weekly("AKKK----"), settings(0.75, 2),
	                  "2027-01-11T00:00:00Z", "2027-01-25"),
	       "not_completed");
	/* Two of four missed: 6 of 8 still reachable — in progress. */
	decide(facts_full("enrolled", NULL, weekly("AAKK----"), settings(0.75, 2),
	                  "2027-01-11T00:00:00Z", "2027-01-25"),
	       "in_progress");
	/* Future sessions count in the share (whole programme): attending the
	 * first four alone is not completion. */
	decide(facts_full("enrolled", NULL, weekly("AAAA----"), settings(0.75, 2),
	                  "2027-01-11T00:00:00Z", "2027-01-25"),
	       "in_progress");
	/* A register not taken is pending, not absent. */
	decide(facts("enrolled", weekly("AAAAAAA-")), "in_progress");
}
END_TEST

START_TEST(module_never_delivered)
{
	/* m3's only session was cancelled by the service (not expected of
	 * anyone): the module is still required — a catch-up while the cohort
	 * runs, not completed once it is over without one. */
	json_t *s = weekly("AA.AAAAA");
	json_object_set_new(json_array_get(s, 2), "status", json_string("cancelled"));
	json_t *mid = json_deep_copy(s);
	decide(facts_full("enrolled", NULL, mid, settings(0.75, 2), "2027-01-24T12:00:00Z",
	                  "2027-01-25"),
	       "in_progress");
	json_t *with_cu = json_deep_copy(s);
	json_array_append_new(with_cu, sess(27, "m3", 1, 1, "A"));
	decide(facts("enrolled", with_cu), "completed");
	decide(facts("enrolled", s), "not_completed");
}
END_TEST

START_TEST(excused_absences)
{
	/* The service cancelled m5 and the prison regime stopped m6: neither
	 * counts against the share (6 of 6 attended). */
	decide(facts("enrolled", weekly("AAAASLAA")), "completed");
	/* But a required module stopped by the regime still needs doing. */
	decide(facts("enrolled", weekly("AALAAAAA")), "not_completed");
}
END_TEST

START_TEST(withdrawn_and_left)
{
	decide(facts_full("left", "transfer", weekly("AAAA...."), settings(0.75, 2),
	                  "2027-03-01T00:00:00Z", NULL),
	       "withdrawn");
	/* Left because they completed: judged on what was expected. */
	decide(facts_full("left", "completed", weekly("AAAAAA.."), settings(0.75, 2),
	                  "2027-01-20T00:00:00Z", NULL),
	       "completed");
	decide(facts("enrolled", json_array()), "in_progress");
	/* Joined after the last session: nothing counted, cohort over. */
	decide(facts("enrolled", weekly("........")), "not_completed");
}
END_TEST

/* --- early warning -------------------------------------------------------------- */

static int alerts(const char *status, const char *codes, int after, const char **severity)
{
	json_t *f = facts_full(status, NULL, weekly(codes), settings(0.75, after),
	                       "2027-03-01T00:00:00Z", NULL);
	json_t *a = gc_absence_alerts(f);
	int n = (int)json_array_size(a);
	if (n) {
		json_t *x = json_array_get(a, 0);
		ck_assert_str_eq(json_string_value(json_object_get(x, "kind")),
		                 "group_course.absences");
		static char sev[16];
		snprintf(sev, sizeof sev, "%s", json_string_value(json_object_get(x, "severity")));
		if (severity)
			*severity = sev;
	}
	json_decref(a);
	json_decref(f);
	return n;
}

START_TEST(early_warning)
{
	const char *sev = NULL;
	ck_assert_int_eq(alerts("enrolled", "AUU-----", 2, &sev), 1);
	ck_assert_str_eq(sev, "warning");
	/* Acceptable absences neither count nor break the run. */
	ck_assert_int_eq(alerts("enrolled", "AKK-----", 2, NULL), 0);
	ck_assert_int_eq(alerts("enrolled", "AUK-----", 2, NULL), 0);
	ck_assert_int_eq(alerts("enrolled", "AUKU----", 2, NULL), 1);
	/* Attending breaks it. */
	ck_assert_int_eq(alerts("enrolled", "UAU-----", 2, NULL), 0);
	ck_assert_int_eq(alerts("enrolled", "UUA-----", 2, NULL), 0);
	/* Sessions not expected (hold) are skipped. */
	ck_assert_int_eq(alerts("enrolled", "AU..U---", 2, NULL), 1);
	/* N from the settings. */
	ck_assert_int_eq(alerts("enrolled", "AUU-----", 3, NULL), 0);
	ck_assert_int_eq(alerts("enrolled", "AUUU----", 3, NULL), 1);
	/* Urgent from 2N. */
	ck_assert_int_eq(alerts("enrolled", "UUUU----", 2, &sev), 1);
	ck_assert_str_eq(sev, "urgent");
	/* Nothing while on hold or after leaving. */
	ck_assert_int_eq(alerts("on_hold", "AUU.....", 2, NULL), 0);
	/* The hook returns NULL for none. */
	json_t *f = facts("enrolled", weekly("AAAA----"));
	ck_assert_ptr_null(gc_attendance_rules(NULL, f));
	json_decref(f);
}
END_TEST

/* --- settings ----------------------------------------------------------------------- */

static const char *validate(const char *json, const char **code)
{
	static struct wm_hook_error err;
	json_error_t je;
	json_t *s = json_loads(json, 0, &je);
	ck_assert_msg(s != NULL, "bad test JSON: %s", je.text);
	memset(&err, 0, sizeof err);
	wm_status st = gc_programme_validate(NULL, s, &err);
	json_decref(s);
	if (code)
		*code = err.code;
	return st == WM_OK ? NULL : err.field;
}

START_TEST(settings_shape)
{
	const char *code;
	ck_assert_ptr_null(validate(
	    "{\"rule_version\":\"lcp-2027.1\",\"modules\":[{\"key\":\"intro\",\"title\":"
	    "\"Introduction to the model\",\"theme\":\"The model\",\"required\":true,\"guests\":"
	    "false},{\"key\":\"market_place\",\"title\":\"The market place\",\"guests\":true}],"
	    "\"min_share\":0.8,\"absence_alert_after\":2,\"qualification\":{\"name\":\"OCN Level 2 "
	    "Award\",\"level\":2,\"credits\":3},\"prerequisites\":[{\"programme_id\":5,\"mode\":"
	    "\"recommended\"}],\"eligibility\":{\"version\":3,\"release_within_months\":6,"
	    "\"areas\":[\"Liverpool\"],\"min_age\":18,\"custody_statuses\":null,"
	    "\"consent_required\":true}}",
	    NULL));
	ck_assert_ptr_null(validate("{\"modules\":[{\"key\":\"a\",\"title\":\"A\"}],"
	                            "\"qualification\":null,\"eligibility\":null}",
	                            NULL));
	ck_assert_str_eq(
	    validate("{\"modules\":[{\"key\":\"a\",\"title\":\"A\"}],\"colour\":1}", &code),
	    "settings.colour");
	ck_assert_str_eq(code, "group_course.unknown_setting");
	ck_assert_str_eq(validate("{}", &code), "settings.modules");
	ck_assert_str_eq(code, "group_course.invalid_settings");
	ck_assert_str_eq(validate("{\"modules\":[{\"key\":\"graduation\",\"title\":\"G\"}]}", NULL),
	                 "settings.modules[0].key");
	ck_assert_str_eq(validate("{\"modules\":[{\"key\":\"a\",\"title\":\"A\"},"
	                          "{\"key\":\"a\",\"title\":\"B\"}]}",
	                          NULL),
	                 "settings.modules[1].key");
	ck_assert_str_eq(validate("{\"modules\":[{\"key\":\"A\",\"title\":\"A\"}]}", NULL),
	                 "settings.modules[0].key");
	ck_assert_str_eq(validate("{\"modules\":[{\"key\":\"a\",\"title\":\"\"}]}", NULL),
	                 "settings.modules[0].title");
	ck_assert_str_eq(validate("{\"modules\":[{\"key\":\"a\",\"title\":\"A\",\"x\":1}]}", NULL),
	                 "settings.modules[0].x");
	ck_assert_str_eq(
	    validate("{\"modules\":[{\"key\":\"a\",\"title\":\"A\"}],\"min_share\":1.5}", NULL),
	    "settings.min_share");
	ck_assert_str_eq(
	    validate("{\"modules\":[{\"key\":\"a\",\"title\":\"A\"}],\"absence_alert_after\":0}",
	             NULL),
	    "settings.absence_alert_after");
	ck_assert_str_eq(validate("{\"modules\":[{\"key\":\"a\",\"title\":\"A\"}],"
	                          "\"prerequisites\":[{\"programme_id\":5,\"mode\":\"maybe\"}]}",
	                          NULL),
	                 "settings.prerequisites[0].mode");
	ck_assert_str_eq(validate("{\"modules\":[{\"key\":\"a\",\"title\":\"A\"}],"
	                          "\"qualification\":{\"name\":\"X\",\"level\":9}}",
	                          NULL),
	                 "settings.qualification.level");
	ck_assert_str_eq(validate("{\"modules\":[{\"key\":\"a\",\"title\":\"A\"}],"
	                          "\"eligibility\":{\"min_age\":18,\"eye_colour\":\"blue\"}}",
	                          &code),
	                 "settings.eligibility.eye_colour");
	ck_assert_str_eq(validate("{\"modules\":[{\"key\":\"a\",\"title\":\"A\"}],"
	                          "\"eligibility\":{\"custody_statuses\":[\"free\"]}}",
	                          NULL),
	                 "settings.eligibility.custody_statuses");
	/* Forty modules at most. */
	json_t *many = json_array();
	for (int i = 0; i < 41; i++) {
		char k[8];
		snprintf(k, sizeof k, "k%d", i);
		json_array_append_new(many, json_pack("{s:s, s:s}", "key", k, "title", "T"));
	}
	json_t *forty_one = json_pack("{s:o}", "modules", many);
	char *text = json_dumps(forty_one, JSON_COMPACT);
	json_decref(forty_one);
	ck_assert_str_eq(validate(text, NULL), "settings.modules");
	free(text);
}
END_TEST

/* --- eligibility -------------------------------------------------------------------- */

static json_t *person(int age, const char *custody, const char *release, const char *area)
{
	return json_pack("{s:i, s:o, s:s, s:b, s:s, s:s?, s:n, s:s?}", "id", 12, "age",
	                 age >= 0 ? json_integer(age) : json_null(), "sex", "male",
	                 "is_participant", 1, "custody_status", custody, "expected_release_date",
	                 release, "days_to_release", "area", area);
}

/* Evaluates and returns the result; *first the first reason's code. */
static const char *evaluate(const char *rules, const char *prereq, json_t *facts, char first[64],
                            int *nwarn, char warn[64])
{
	static char result[32];
	json_t *r = rules ? json_loads(rules, 0, NULL) : NULL;
	json_t *p = prereq ? json_loads(prereq, 0, NULL) : NULL;
	json_t *e = gc_eligibility_evaluate(r, p, facts);
	snprintf(result, sizeof result, "%s", json_string_value(json_object_get(e, "result")));
	const char *c = json_string_value(
	    json_object_get(json_array_get(json_object_get(e, "reasons"), 0), "code"));
	snprintf(first, 64, "%s", c ? c : "");
	json_t *w = json_object_get(e, "warnings");
	if (nwarn)
		*nwarn = (int)json_array_size(w);
	if (warn) {
		c = json_string_value(json_object_get(json_array_get(w, 0), "code"));
		snprintf(warn, 64, "%s", c ? c : "");
	}
	json_decref(e);
	json_decref(r);
	json_decref(p);
	json_decref(facts);
	return result;
}

#define LCP_RULES                                                                                  \
	"{\"release_within_months\":6,\"areas\":[\"Liverpool\",\"Sefton\"],\"min_age\":18,"        \
	"\"consent_required\":true}"

static json_t *fx(json_t *p, const char *consent, const char *done)
{
	json_t *f = json_pack("{s:s, s:o}", "on", "2027-01-04", "person", p);
	if (consent)
		json_object_set_new(f, "consent", json_loads(consent, JSON_DECODE_ANY, NULL));
	if (done)
		json_object_set_new(f, "completed_programmes", json_loads(done, 0, NULL));
	return f;
}

START_TEST(eligibility_rules)
{
	char first[64], warn[64];
	int nw;
	ck_assert_str_eq(
	    evaluate(LCP_RULES, NULL,
	             fx(person(30, "in_custody", "2027-06-01", "liverpool"), "true", NULL), first,
	             &nw, NULL),
	    "eligible");
	ck_assert_int_eq(nw, 0);
	/* Exactly six months is within; a day more is not. */
	ck_assert_str_eq(
	    evaluate(LCP_RULES, NULL,
	             fx(person(30, "in_custody", "2027-07-04", "Liverpool"), "true", NULL), first,
	             NULL, NULL),
	    "eligible");
	ck_assert_str_eq(
	    evaluate(LCP_RULES, NULL,
	             fx(person(30, "in_custody", "2027-07-05", "Liverpool"), "true", NULL), first,
	             NULL, NULL),
	    "ineligible");
	ck_assert_str_eq(first, "release_too_far");
	/* No release date: fails in custody, passes once in the community. */
	evaluate(LCP_RULES, NULL, fx(person(30, "in_custody", NULL, "Liverpool"), "true", NULL),
	         first, NULL, NULL);
	ck_assert_str_eq(first, "release_date_unknown");
	ck_assert_str_eq(evaluate(LCP_RULES, NULL,
	                          fx(person(30, "on_licence", NULL, "Liverpool"), "true", NULL),
	                          first, NULL, NULL),
	                 "eligible");
	evaluate(LCP_RULES, NULL, fx(person(30, "in_custody", "2027-05-01", "Leeds"), "true", NULL),
	         first, NULL, NULL);
	ck_assert_str_eq(first, "area_outside");
	evaluate(LCP_RULES, NULL, fx(person(30, "in_custody", "2027-05-01", NULL), "true", NULL),
	         first, NULL, NULL);
	ck_assert_str_eq(first, "area_unknown");
	evaluate(LCP_RULES, NULL,
	         fx(person(17, "in_custody", "2027-05-01", "Sefton"), "true", NULL), first, NULL,
	         NULL);
	ck_assert_str_eq(first, "too_young");
	evaluate(LCP_RULES, NULL,
	         fx(person(-1, "in_custody", "2027-05-01", "Sefton"), "true", NULL), first, NULL,
	         NULL);
	ck_assert_str_eq(first, "age_unknown");
	evaluate(LCP_RULES, NULL,
	         fx(person(30, "in_custody", "2027-05-01", "Sefton"), "false", NULL), first, NULL,
	         NULL);
	ck_assert_str_eq(first, "no_consent");
	/* Consent not known (a booking_check request): not checked. */
	ck_assert_str_eq(evaluate(LCP_RULES, NULL,
	                          fx(person(30, "in_custody", "2027-05-01", "Sefton"), NULL, NULL),
	                          first, NULL, NULL),
	                 "eligible");
	/* Custody statuses. */
	evaluate("{\"custody_statuses\":[\"on_licence\",\"community_sentence\"]}", NULL,
	         fx(person(30, "in_custody", NULL, NULL), NULL, NULL), first, NULL, NULL);
	ck_assert_str_eq(first, "custody_status");
	/* Release within three months: a warning, still eligible. */
	ck_assert_str_eq(
	    evaluate(LCP_RULES, NULL,
	             fx(person(30, "in_custody", "2027-03-01", "Sefton"), "true", NULL), first, &nw,
	             warn),
	    "eligible");
	ck_assert_int_eq(nw, 1);
	ck_assert_str_eq(warn, "release_soon");
	/* Prerequisites: required blocks, recommended warns; unknown is not
	 * checked. */
	const char *pre = "[{\"programme_id\":5,\"mode\":\"required\"},"
	                  "{\"programme_id\":6,\"mode\":\"recommended\"}]";
	evaluate(NULL, pre, fx(person(30, "on_licence", NULL, NULL), NULL, "[6]"), first, NULL,
	         NULL);
	ck_assert_str_eq(first, "prerequisite_missing");
	ck_assert_str_eq(evaluate(NULL, pre, fx(person(30, "on_licence", NULL, NULL), NULL, "[5]"),
	                          first, &nw, warn),
	                 "eligible");
	ck_assert_str_eq(warn, "recommended_not_done");
	ck_assert_str_eq(evaluate(NULL, pre, fx(person(30, "on_licence", NULL, NULL), NULL, NULL),
	                          first, &nw, NULL),
	                 "eligible");
	ck_assert_int_eq(nw, 0);
	/* No rule: everyone. */
	ck_assert_str_eq(evaluate(NULL, NULL, fx(person(-1, "unknown", NULL, NULL), NULL, NULL),
	                          first, NULL, NULL),
	                 "eligible");
}
END_TEST

START_TEST(eligibility_rule_shape)
{
	struct wm_hook_error err;
	json_t *r = json_loads(LCP_RULES, 0, NULL);
	ck_assert_int_eq(gc_eligibility_check(r, "rules", 0, &err), WM_OK);
	json_object_set_new(r, "version", json_integer(2));
	ck_assert_int_eq(gc_eligibility_check(r, "rules", 0, &err), WM_ERR);
	ck_assert_str_eq(err.field, "rules.version");
	ck_assert_int_eq(gc_eligibility_check(r, "settings.eligibility", 1, &err), WM_OK);
	json_object_set_new(r, "min_age", json_integer(200));
	ck_assert_int_eq(gc_eligibility_check(r, "rules", 1, &err), WM_ERR);
	ck_assert_str_eq(err.field, "rules.min_age");
	json_object_set_new(r, "min_age", json_null());
	json_object_set_new(r, "areas", json_array());
	ck_assert_int_eq(gc_eligibility_check(r, "rules", 1, &err), WM_ERR);
	ck_assert_str_eq(err.field, "rules.areas");
	json_decref(r);
}
END_TEST

START_TEST(booking_check_hook)
{
	struct wm_hook_error err;
	json_t *rules = json_loads(LCP_RULES, 0, NULL);
	json_object_set_new(rules, "version", json_integer(4));
	json_t *req =
	    json_pack("{s:s, s:{s:i, s:s, s:s, s:{s:o}}, s:{s:i, s:s, s:i}, s:n, s:o, s:s}", "kind",
	              "enrolment", "programme", "id", 7, "type", "group_course", "time_zone",
	              "Europe/London", "settings", "eligibility", rules, "cohort", "id", 3,
	              "starts_on", "2027-01-11", "capacity", 12, "session", "person",
	              person(30, "in_custody", "2028-01-01", "Sefton"), "on", "2027-01-04");
	memset(&err, 0, sizeof err);
	ck_assert_int_eq(gc_booking_check(NULL, req, &err), WM_ERR);
	ck_assert_int_eq(err.status, 422);
	ck_assert_str_eq(err.code, "group_course.not_eligible");
	ck_assert_str_eq(err.field, "person_id");
	ck_assert_ptr_nonnull(strstr(err.message, "version 4"));
	/* Within six months, but the rule asks for consent, which a direct
	 * enrolment's request never carries: the admission route must decide. */
	json_object_set_new(req, "person", person(30, "in_custody", "2027-05-01", "Sefton"));
	memset(&err, 0, sizeof err);
	ck_assert_int_eq(gc_booking_check(NULL, req, &err), WM_ERR);
	ck_assert_int_eq(err.status, 422);
	ck_assert_str_eq(err.code, "group_course.admission_required");
	ck_assert_str_eq(err.field, "person_id");
	/* Without the consent criterion: allowed. */
	json_t *settings = json_object_get(json_object_get(req, "programme"), "settings");
	json_object_set_new(json_object_get(settings, "eligibility"), "consent_required",
	                    json_false());
	ck_assert_int_eq(gc_booking_check(NULL, req, &err), WM_OK);
	/* A required prerequisite cannot be seen either; a recommended one
	 * only warns, so it does not stop a direct enrolment. */
	json_object_set_new(settings, "prerequisites",
	                    json_pack("[{s:i, s:s}]", "programme_id", 5, "mode", "recommended"));
	ck_assert_int_eq(gc_booking_check(NULL, req, &err), WM_OK);
	json_object_set_new(settings, "prerequisites",
	                    json_pack("[{s:i, s:s}]", "programme_id", 5, "mode", "required"));
	ck_assert_int_eq(gc_booking_check(NULL, req, &err), WM_ERR);
	ck_assert_str_eq(err.code, "group_course.admission_required");
	json_object_del(settings, "prerequisites");
	/* A booking (the graduation: families) is never checked. */
	json_object_set_new(req, "kind", json_string("booking"));
	json_object_set_new(req, "person", person(8, "not_applicable", NULL, NULL));
	ck_assert_int_eq(gc_booking_check(NULL, req, &err), WM_OK);
	json_decref(req);
}
END_TEST

/* --- calendar text -------------------------------------------------------------------- */

static json_t *event(const char *audience)
{
	return json_pack(
	    "{s:s, s:{s:i, s:s, s:s}, s:{s:i, s:s, s:s, s:b, s:s}, s:o, s:o}", "audience", audience,
	    "programme", "id", 7, "type", "group_course", "name", "Life Change Programme",
	    "session", "id", 91, "title", "Values and beliefs", "module", "values", "catch_up", 0,
	    "status", "scheduled", "cohort",
	    !strcmp(audience, "facilitator")
	        ? json_pack("{s:i, s:s}", "id", 3, "name", "Spring 2027")
	        : json_null(),
	    "participants",
	    !strcmp(audience, "mentor") ? json_pack("[s, s]", "J.S.", "A.B.") : json_null());
}

START_TEST(calendar_text)
{
	struct wm_calendar_text out;
	json_t *e = event("family");
	ck_assert_int_eq(gc_calendar_render(NULL, e, &out), WM_OK);
	ck_assert_str_eq(out.summary, "Life Change Programme");
	ck_assert_str_eq(out.description, "Values and beliefs");
	json_decref(e);
	e = event("facilitator");
	ck_assert_int_eq(gc_calendar_render(NULL, e, &out), WM_OK);
	ck_assert_str_eq(out.summary, "Spring 2027: Values and beliefs");
	ck_assert_str_eq(out.description, "Life Change Programme, module values");
	json_decref(e);
	e = event("mentor");
	ck_assert_int_eq(gc_calendar_render(NULL, e, &out), WM_OK);
	ck_assert_str_eq(out.summary, "Life Change Programme: Values and beliefs");
	ck_assert_str_eq(out.description, "Participants: J.S., A.B.");
	json_decref(e);
	/* A family never gets the cohort even if it were there: they are
	 * given only what the core left in. */
	e = event("family");
	json_object_set_new(json_object_get(e, "session"), "module", json_string("graduation"));
	ck_assert_int_eq(gc_calendar_render(NULL, e, &out), WM_OK);
	ck_assert_str_eq(out.summary, "Life Change Programme: graduation");
	json_decref(e);
	e = event("busy");
	ck_assert_int_eq(gc_calendar_render(NULL, e, &out), WM_ERR);
	json_decref(e);
	/* Long titles are cut at a character boundary. */
	char title[400] = "";
	for (int i = 0; i < 120; i++)
		strcat(title, "é");
	e = event("facilitator");
	json_object_set_new(json_object_get(e, "session"), "title", json_string(title));
	ck_assert_int_eq(gc_calendar_render(NULL, e, &out), WM_OK);
	ck_assert_uint_lt(strlen(out.summary), sizeof out.summary);
	json_t *valid = json_string(out.summary); /* NULL unless valid UTF-8 */
	ck_assert_ptr_nonnull(valid);
	json_decref(valid);
	json_decref(e);
	/* An odd prefix ("Spring 2027: " + "x") puts the cut inside a two-byte
	 * character: the partial character is dropped, not left dangling. */
	e = event("facilitator");
	json_object_set_new(json_object_get(e, "session"), "title", json_string(title));
	json_object_set_new(json_object_get(e, "cohort"), "name", json_string("Spring 2027x"));
	ck_assert_int_eq(gc_calendar_render(NULL, e, &out), WM_OK);
	ck_assert_uint_eq(strlen(out.summary), sizeof out.summary - 2);
	valid = json_string(out.summary);
	ck_assert_ptr_nonnull(valid);
	json_decref(valid);
	json_decref(e);
}
END_TEST

/* The plugin titles its catch-up sessions "<module title> (catch-up)"
 * (group_course.catch_up): the feed must not say it twice. */
START_TEST(calendar_catch_up_once)
{
	static const char *const audiences[] = {"family", "facilitator", "mentor"};
	struct wm_calendar_text out;
	for (size_t i = 0; i < 3; i++) {
		json_t *e = event(audiences[i]);
		json_t *s = json_object_get(e, "session");
		json_object_set_new(s, "catch_up", json_true());
		json_object_set_new(s, "title", json_string("Values and beliefs (catch-up)"));
		ck_assert_int_eq(gc_calendar_render(NULL, e, &out), WM_OK);
		const char *text = i == 0 ? out.description : out.summary;
		ck_assert_msg(strstr(text, "Values and beliefs (catch-up)") != NULL, "%s: %s",
		              audiences[i], text);
		ck_assert_msg(strstr(text, "(catch-up) (catch-up)") == NULL, "%s: %s", audiences[i],
		              text);
		/* A catch-up titled by hand without the marker still gets it. */
		json_object_set_new(s, "title", json_string("Values and beliefs"));
		ck_assert_int_eq(gc_calendar_render(NULL, e, &out), WM_OK);
		text = i == 0 ? out.description : out.summary;
		ck_assert_msg(strstr(text, "Values and beliefs (catch-up)") != NULL, "%s: %s",
		              audiences[i], text);
		json_decref(e);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gc_rules");
	TCase *c = tcase_create("completion");
	tcase_add_test(c, all_attended);
	tcase_add_test(c, rule_version_recorded);
	tcase_add_test(c, missed_required_then_caught_up);
	tcase_add_test(c, catch_up_of_others_never_counts);
	tcase_add_test(c, late_joiner);
	tcase_add_test(c, on_hold);
	tcase_add_test(c, missed_required_no_catch_up);
	tcase_add_test(c, below_min_share);
	tcase_add_test(c, module_never_delivered);
	tcase_add_test(c, excused_absences);
	tcase_add_test(c, withdrawn_and_left);
	suite_add_tcase(s, c);
	c = tcase_create("early_warning");
	tcase_add_test(c, early_warning);
	suite_add_tcase(s, c);
	c = tcase_create("settings");
	tcase_add_test(c, settings_shape);
	suite_add_tcase(s, c);
	c = tcase_create("eligibility");
	tcase_add_test(c, eligibility_rules);
	tcase_add_test(c, eligibility_rule_shape);
	tcase_add_test(c, booking_check_hook);
	suite_add_tcase(s, c);
	c = tcase_create("calendar");
	tcase_add_test(c, calendar_text);
	tcase_add_test(c, calendar_catch_up_once);
	suite_add_tcase(s, c);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
