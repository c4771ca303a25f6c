/*
 * gc_eligibility.c — eligibility rules as data, evaluated by one pure
 * function that both the booking_check hook (direct enrolments through the
 * core's POST /cohorts/{id}/enrolments) and the admission route
 * (gc_admission.c, over facts gathered in SQL) call.
 *
 * A rule (group_course.eligibility_rule.rules, mirrored with its "version"
 * into programme.settings.eligibility):
 *   release_within_months   1..120 | null  expected release no later than
 *                                           `on` + N calendar months; a person
 *                                           without a release date passes
 *                                           only when already in the
 *                                           community (on_licence,
 *                                           community_sentence, released,
 *                                           not_applicable)
 *   release_warning_months  0..24 | null   warn ("gate happy") when release
 *                                           is within N months (default 3,
 *                                           0: never)
 *   areas                   [1..50 texts] | null   person.area one of them
 *                                           (ASCII case-insensitive)
 *   min_age                 0..120 | null  age on `on`
 *   custody_statuses        [statuses] | null      person.custody_status one
 *   consent_required        bool | null    live programme_participation
 *                                           consent recorded by the course's
 *                                           organisation
 * Prerequisites come from settings.prerequisites: "required" ones not
 * completed make the person ineligible, "recommended" ones give a warning
 * (staff may go ahead).
 *
 * What the facts do not say is not checked by the evaluation: a
 * booking_check request has no consent and no completed courses. So the
 * booking_check hook checks a direct enrolment on age, custody, release and
 * area, and refuses it (422 group_course.admission_required) when the rule
 * requires consent or the course a completed prerequisite: those need the
 * admission route, which gathers every fact and stores the decision. A person fact the rule needs
 * but the record lacks (no date of birth, no area) fails the criterion: unknown is not eligible.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gc.h"
#include "gc_rules.h"

static const char *const custody_statuses[] = {
    "in_custody", "remand",         "on_licence", "community_sentence",
    "released",   "not_applicable", "unknown",    NULL};

static int in_list(const char *const *list, const char *s)
{
	for (; s && *list; list++)
		if (!strcmp(*list, s))
			return 1;
	return 0;
}

static wm_status bad(struct wm_hook_error *err, const char *prefix, const char *name,
                     const char *what)
{
	char f[96];
	snprintf(f, sizeof f, "%s.%s", prefix, name);
	return gc_refuse(err, 400, "group_course.invalid_rules", f, "%s must be %s.", f, what);
}

static int int_in(const json_t *v, long long lo, long long hi)
{
	return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

static int plain_text(const char *s, size_t max)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 0;
		n += (*p & 0xc0) != 0x80;
	}
	return n >= 1 && n <= max;
}

wm_status gc_eligibility_check(const json_t *rules, const char *prefix, int allow_version,
                               struct wm_hook_error *err)
{
	static const char *const known[] = {
	    "release_within_months", "release_warning_months", "areas", "min_age",
	    "custody_statuses",      "consent_required",       NULL};
	if (!json_is_object(rules))
		return gc_refuse(err, 400, "group_course.invalid_rules", prefix,
		                 "%s must be an object of eligibility criteria.", prefix);
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)rules, k, v)
	{
		if (!in_list(known, k) && !(allow_version && !strcmp(k, "version"))) {
			char f[96];
			snprintf(f, sizeof f, "%s.%s", prefix, k);
			return gc_refuse(err, 400, "group_course.unknown_rule", f,
			                 "%s is not an eligibility criterion.", f);
		}
		if (json_is_null(v) && strcmp(k, "version"))
			continue; /* null: no criterion */
		if (!strcmp(k, "version") && !int_in(v, 1, 1000000))
			return bad(err, prefix, k, "the rule's version, an integer from 1");
		if (!strcmp(k, "release_within_months") && !int_in(v, 1, 120))
			return bad(err, prefix, k, "null or an integer from 1 to 120");
		if (!strcmp(k, "release_warning_months") && !int_in(v, 0, 24))
			return bad(err, prefix, k, "null or an integer from 0 to 24");
		if (!strcmp(k, "min_age") && !int_in(v, 0, 120))
			return bad(err, prefix, k, "null or an integer from 0 to 120");
		if (!strcmp(k, "consent_required") && !json_is_boolean(v))
			return bad(err, prefix, k, "null, true or false");
		if (!strcmp(k, "areas") || !strcmp(k, "custody_statuses")) {
			int areas = !strcmp(k, "areas");
			size_t i, max = areas ? 50 : 7;
			json_t *x;
			if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > max)
				return bad(err, prefix, k,
				           areas ? "null or an array of 1 to 50 areas"
				                 : "null or an array of custody statuses");
			json_array_foreach(v, i, x)
			{
				const char *s = json_string_value(x);
				if (areas ? !s || !plain_text(s, 100)
				          : !in_list(custody_statuses, s))
					return bad(err, prefix, k,
					           areas ? "null or an array of texts of 1 to 100 "
					                   "characters"
					                 : "null or an array of custody statuses "
					                   "(in_custody, remand, on_licence, "
					                   "community_sentence, released, "
					                   "not_applicable, unknown)");
			}
		}
	}
	return WM_OK;
}

/* --- evaluation ------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static long days_from_civil(long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long)doe - 719468;
}

static int parse_date(const char *s, long *y, unsigned *m, unsigned *d)
{
	int yy, mm, dd, n = 0;
	if (!s || sscanf(s, "%4d-%2d-%2d%n", &yy, &mm, &dd, &n) != 3 || n != 10 || s[10] ||
	    mm < 1 || mm > 12 || dd < 1 || dd > 31)
		return -1;
	*y = yy;
	*m = (unsigned)mm;
	*d = (unsigned)dd;
	return 0;
}

static int leap(long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* `on` plus `months` calendar months (the day clamped to the month's end),
 * as a day number; -1 when `on` is not a date. */
static long plus_months(const char *on, long months)
{
	static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	long y;
	unsigned m, d;
	if (parse_date(on, &y, &m, &d))
		return -1;
	long idx = y * 12 + (long)(m - 1) + months;
	y = idx / 12;
	m = (unsigned)(idx % 12) + 1;
	unsigned last = mdays[m - 1] + (m == 2 && leap(y));
	return days_from_civil(y, m, d > last ? last : d);
}

static long day_number(const char *s)
{
	long y;
	unsigned m, d;
	return parse_date(s, &y, &m, &d) ? -1 : days_from_civil(y, m, d);
}

static void add(json_t *list, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add(json_t *list, const char *code, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	json_array_append_new(list, json_pack("{s:s, s:s}", "code", code, "message", msg));
}

static const json_t *criterion(const json_t *rules, const char *name)
{
	const json_t *v = json_object_get(rules, name);
	return v && !json_is_null(v) ? v : NULL;
}

json_t *gc_eligibility_evaluate(const json_t *rules, const json_t *prerequisites,
                                const json_t *facts)
{
	json_t *reasons = json_array(), *warnings = json_array();
	const json_t *person = json_object_get(facts, "person");
	const char *on = json_string_value(json_object_get(facts, "on"));
	const char *status = json_string_value(json_object_get(person, "custody_status"));
	const char *release = json_string_value(json_object_get(person, "expected_release_date"));
	long rel = day_number(release), today = day_number(on);
	const json_t *v;
	if (!json_is_object(rules))
		rules = NULL;

	if ((v = criterion(rules, "release_within_months"))) {
		long months = (long)json_integer_value(v);
		static const char *const outside[] = {"on_licence", "community_sentence",
		                                      "released", "not_applicable", NULL};
		if (rel < 0 && !in_list(outside, status))
			add(reasons, "release_date_unknown",
			    "No expected release date is recorded; the course takes people within "
			    "%ld "
			    "months of release.",
			    months);
		else if (rel >= 0 && today >= 0 && rel > plus_months(on, months))
			add(reasons, "release_too_far",
			    "Expected release is more than %ld months away; the course takes "
			    "people "
			    "within %ld months of release.",
			    months, months);
	}
	v = criterion(rules, "release_warning_months");
	long warn = v ? (long)json_integer_value(v) : GC_DEFAULT_WARN_MONTHS;
	if (warn > 0 && rel >= 0 && today >= 0 && rel >= today && rel <= plus_months(on, warn))
		add(warnings, "release_soon",
		    "Release is within %ld months: a start this close to release often does not "
		    "finish.",
		    warn);

	if ((v = criterion(rules, "areas"))) {
		const char *area = json_string_value(json_object_get(person, "area"));
		int found = 0;
		size_t i;
		json_t *a;
		json_array_foreach(v, i, a) found |=
		    area && json_string_value(a) && !strcasecmp(area, json_string_value(a));
		if (!area)
			add(reasons, "area_unknown", "No area is recorded for this person.");
		else if (!found)
			add(reasons, "area_outside",
			    "The person's area is not one the course serves.");
	}
	if ((v = criterion(rules, "min_age"))) {
		const json_t *age = json_object_get(person, "age");
		if (!json_is_integer(age))
			add(reasons, "age_unknown",
			    "No date of birth is recorded; the course is for people aged %lld or "
			    "over.",
			    (long long)json_integer_value(v));
		else if (json_integer_value(age) < json_integer_value(v))
			add(reasons, "too_young", "The course is for people aged %lld or over.",
			    (long long)json_integer_value(v));
	}
	if ((v = criterion(rules, "custody_statuses"))) {
		int found = 0;
		size_t i;
		json_t *s;
		json_array_foreach(v, i, s) found |=
		    status && json_string_value(s) && !strcmp(status, json_string_value(s));
		if (!found)
			add(reasons, "custody_status",
			    "The course does not take people with this custody status.");
	}
	if ((v = criterion(rules, "consent_required")) && json_is_true(v) &&
	    json_is_false(json_object_get(facts, "consent")))
		add(reasons, "no_consent",
		    "No live consent to take part is recorded by the organisation: participation "
		    "is voluntary.");

	const json_t *done = json_object_get(facts, "completed_programmes");
	if (json_is_array(prerequisites) && json_is_array(done)) {
		size_t i, j;
		json_t *p, *d;
		json_array_foreach(prerequisites, i, p)
		{
			json_int_t id = json_integer_value(json_object_get(p, "programme_id"));
			int found = 0;
			json_array_foreach(done, j, d) found |= json_integer_value(d) == id;
			if (found)
				continue;
			const char *mode = json_string_value(json_object_get(p, "mode"));
			if (mode && !strcmp(mode, "required"))
				add(reasons, "prerequisite_missing",
				    "Course %lld must be completed before this one.",
				    (long long)id);
			else
				add(warnings, "recommended_not_done",
				    "Course %lld is recommended before this one and has not been "
				    "completed.",
				    (long long)id);
		}
	}
	return json_pack("{s:s, s:o, s:o}", "result",
	                 json_array_size(reasons) ? "ineligible" : "eligible", "reasons", reasons,
	                 "warnings", warnings);
}

/* --- booking_check ----------------------------------------------------------- */

/* True when the course's rule asks for what a booking_check request never
 * carries — a live consent, or a required course completed first — so a
 * direct enrolment cannot be judged and must go through an admission
 * (which gathers those facts and stores the decision with its version).
 * Waving it through instead would enrol someone who never agreed to take
 * part. Recommended prerequisites only warn, so they do not count. */
static int needs_admission(const json_t *rules, const json_t *prerequisites)
{
	const json_t *consent = criterion(json_is_object(rules) ? rules : NULL, "consent_required");
	if (consent && json_is_true(consent))
		return 1;
	size_t i;
	json_t *p;
	json_array_foreach(prerequisites, i, p)
	{
		const char *mode = json_string_value(json_object_get(p, "mode"));
		if (mode && !strcmp(mode, "required"))
			return 1;
	}
	return 0;
}

wm_status gc_booking_check(void *state, const json_t *request, struct wm_hook_error *err)
{
	(void)state;
	const char *kind = json_string_value(json_object_get(request, "kind"));
	/* Bookings onto a course's sessions are its graduation (a family
	 * event: partners and children are booked, eligibility is for
	 * participants) — the course's own sessions are 'enrolled' and the
	 * core refuses bookings on them. */
	if (!kind || strcmp(kind, "enrolment"))
		return WM_OK;
	const json_t *settings = json_object_get(json_object_get(request, "programme"), "settings");
	const json_t *rules = json_object_get(settings, "eligibility");
	json_t *facts = json_pack("{s:O?, s:O?}", "on", json_object_get(request, "on"), "person",
	                          json_object_get(request, "person"));
	json_t *got =
	    gc_eligibility_evaluate(rules, json_object_get(settings, "prerequisites"), facts);
	wm_status st = WM_OK;
	const char *result = json_string_value(json_object_get(got, "result"));
	if (!got || !result) {
		st = gc_refuse(err, 422, "group_course.not_eligible", "person_id",
		               "Eligibility could not be checked.");
	} else if (!strcmp(result, "ineligible")) {
		json_t *first = json_array_get(json_object_get(got, "reasons"), 0);
		json_int_t version = json_integer_value(json_object_get(rules, "version"));
		st = gc_refuse(err, 422, "group_course.not_eligible", "person_id",
		               "Not eligible (rule version %lld): %s", (long long)version,
		               json_string_value(json_object_get(first, "message")));
	} else if (needs_admission(rules, json_object_get(settings, "prerequisites"))) {
		st = gc_refuse(err, 422, "group_course.admission_required", "person_id",
		               "This course checks consent or completed courses, which a direct "
		               "enrolment cannot: admit the person's referral through POST "
		               "/api/v1/group_course/cohorts/{id}/admissions.");
	}
	json_decref(got);
	json_decref(facts);
	return st;
}
