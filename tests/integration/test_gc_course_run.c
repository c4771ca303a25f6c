/*
 * The group_course plugin end to end, loaded through the real ABI (the
 * server dlopens waymark_group_course.so), over HTTP against the real
 * database: a coordinator and a facilitator run a whole cohort from
 * referral to graduation — a course with its curriculum and rule, a cohort
 * laid out by the plugin, admissions from assessed referrals, the registers
 * week by week (the core's, with the clock moved on), a hold, a leaver, a
 * catch-up, completion by the course's rule, certificates, the graduation
 * with a graduate's household booked through the core's bookings, onward
 * referrals (another organisation only with consent) — and the per-cohort
 * report gives the right figures, suppressed for the commissioner.
 *
 * Then the completion-pending job: attendance written by SQL (outside the
 * register) and a rule change are decided by the plugin's real hook through
 * the job; and the demo `waymarkd demo` loads is decided the same way.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ts.h"

static struct ts_server srv;
static char *db;

static void start(const char *config)
{
	db = ts_db_create("gc_run");
	struct ts_server_opts o = {.database_url = db, .config_json = config};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	ts_server_grant(&srv, db);
}

static void stop(void)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
}

/* --- helpers ----------------------------------------------------------------- */

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, f);
	ck_assert_int_ge(vasprintf(&s, f, ap), 0);
	va_end(ap);
	return s;
}

/* One SQL value as a number / as text (malloc'd). */
static long long sql_ll(const char *f, ...) __attribute__((format(printf, 1, 2)));
static long long sql_ll(const char *f, ...)
{
	va_list ap;
	char *q = NULL;
	va_start(ap, f);
	ck_assert_int_ge(vasprintf(&q, f, ap), 0);
	va_end(ap);
	char *v = ts_db_value(db, q);
	ck_assert_msg(v != NULL, "no value: %s", q);
	long long n = strtoll(v, NULL, 10);
	free(v);
	free(q);
	return n;
}

static char *sql_text(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *sql_text(const char *f, ...)
{
	va_list ap;
	char *q = NULL;
	va_start(ap, f);
	ck_assert_int_ge(vasprintf(&q, f, ap), 0);
	va_end(ap);
	char *v = ts_db_value(db, q);
	free(q);
	return v;
}

/* A request as `tok` (NULL: the server's default token, an admin and
 * coordinator of "Test organisation"); asserts the status (and error code
 * when given) and returns the JSON body (NULL for none). Frees `path` and
 * `body` when `own` is set. */
static json_t *call(const char *tok, const char *method, const char *path, const char *body,
                    int want, const char *code)
{
	char hdr[256];
	snprintf(hdr, sizeof hdr, "%s%s%s%s", tok ? "Authorization: Bearer " : "", tok ? tok : "",
	         tok ? "\r\n" : "", body ? "Content-Type: application/json\r\n" : "");
	struct ts_response r;
	ck_assert_int_eq(ts_http(&srv, method, path, hdr[0] ? hdr : NULL, body,
	                         body ? strlen(body) : 0, 15000, &r),
	                 0);
	char *got = ts_error_code(&r);
	ck_assert_msg(r.status == want && (!code || (got && !strcmp(got, code))),
	              "%s %s: %d %s, expected %d %s\n%s", method, path, r.status, got ? got : "",
	              want, code ? code : "", r.body ? r.body : "");
	free(got);
	json_t *j = ts_json(&r);
	ts_response_free(&r);
	return j;
}

/* call() with formatted path and body, both freed. */
static json_t *callf(const char *tok, const char *method, int want, const char *code, char *path,
                     char *body)
{
	json_t *j = call(tok, method, path, body, want, code);
	free(path);
	free(body);
	return j;
}

static long long jint(const json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);
	ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
	return (long long)json_integer_value(v);
}

static const char *jstr(const json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));
	ck_assert_msg(s != NULL, "%s is not a string", key);
	return s;
}

/* Moves core.clock() to an hour after session `s` starts. */
static void clock_after(long long s)
{
	char *q = fmt("UPDATE core.test_clock SET offset_by = (SELECT starts_at FROM core.session"
	              " WHERE id = %lld) - now() + interval '1 hour'",
	              s);
	ck_assert_int_eq(ts_db_exec(db, q), 0);
	free(q);
}

static long long new_person(const char *given, const char *family, int participant, long long org)
{
	json_t *p =
	    callf(NULL, "POST", 201, NULL, fmt("/api/v1/people"),
	          fmt("{\"organisation_id\":%lld,\"given_name\":\"%s\",\"family_name\":\"%s\","
	              "\"date_of_birth\":\"%s\",\"is_participant\":%s%s}",
	              org, given, family, participant ? "1988-04-12" : "1990-09-30",
	              participant ? "true" : "false",
	              participant ? ",\"custody_status\":\"on_licence\"" : ""));
	long long id = jint(p, "id");
	json_decref(p);
	return id;
}

/* An assessed referral of the person, admitted into the cohort through
 * the plugin's admissions route: the enrolment's id. */
static long long admit(long long org, long long person, long long cohort, long long *referral)
{
	json_t *r =
	    callf(NULL, "POST", 201, NULL, fmt("/api/v1/referrals"),
	          fmt("{\"organisation_id\":%lld,\"person_id\":%lld,\"source\":\"probation\","
	              "\"referred_on\":\"%s\"}",
	              org, person, "2026-01-05"));
	long long id = jint(r, "id");
	json_decref(r);
	json_decref(callf(NULL, "POST", 200, NULL, fmt("/api/v1/referrals/%lld/status", id),
	                  fmt("{\"status\":\"contacted\"}")));
	json_decref(callf(NULL, "POST", 200, NULL, fmt("/api/v1/referrals/%lld/status", id),
	                  fmt("{\"status\":\"assessed\"}")));
	json_t *a = callf(NULL, "POST", 201, NULL,
	                  fmt("/api/v1/group_course/cohorts/%lld/admissions", cohort),
	                  fmt("{\"referral_id\":%lld}", id));
	ck_assert_str_eq(jstr(a, "outcome"), "enrolled");
	long long e = jint(a, "enrolment_id");
	json_decref(a);
	if (referral)
		*referral = id;
	return e;
}

/* PUT register of session `s` as `tok`: entries "person:outcome,...". */
static void reg(const char *tok, long long s, const long long *people, const char *const *codes,
                int n)
{
	char body[2048] = "{\"entries\":[";
	for (int i = 0; i < n; i++) {
		char one[128];
		snprintf(one, sizeof one, "%s{\"person_id\":%lld,\"outcome\":\"%s\"}", i ? "," : "",
		         people[i], codes[i]);
		strncat(body, one, sizeof body - strlen(body) - 1);
	}
	strncat(body, "]}", sizeof body - strlen(body) - 1);
	json_decref(
	    callf(tok, "PUT", 200, NULL, fmt("/api/v1/sessions/%lld/register", s), strdup(body)));
}

static void assert_completion(long long enrolment, const char *result)
{
	json_t *c = callf(NULL, "GET", 200, NULL,
	                  fmt("/api/v1/enrolments/%lld/completion", enrolment), NULL);
	ck_assert_msg(!strcmp(jstr(c, "result"), result), "enrolment %lld: %s (%s), expected %s",
	              enrolment, jstr(c, "result"), json_string_value(json_object_get(c, "reason")),
	              result);
	if (strcmp(result, "in_progress"))
		ck_assert_str_eq(jstr(c, "rule_version"), "lcp-test.1");
	json_decref(c);
}

/* A figure of the report: its value (-1 for null), or -2 when suppressed. */
static double figure(const json_t *item, const char *a, const char *b)
{
	const json_t *f = json_object_get(item, a);
	if (b)
		f = json_object_get(f, b);
	ck_assert_msg(json_is_object(f), "no figure %s.%s", a, b ? b : "");
	if (json_is_true(json_object_get(f, "suppressed"))) {
		ck_assert(json_is_null(json_object_get(f, "value")));
		return -2;
	}
	const json_t *v = json_object_get(f, "value");
	return json_is_null(v) ? -1 : json_number_value(v);
}

static const char course_settings[] =
    "{\"rule_version\":\"lcp-test.1\",\"min_share\":0.75,\"absence_alert_after\":2,"
    "\"qualification\":{\"name\":\"OCN Level 2 Award in Personal Development\",\"level\":2,"
    "\"credits\":3},\"modules\":["
    "{\"key\":\"intro\",\"title\":\"Introduction to the model\",\"required\":true},"
    "{\"key\":\"values\",\"title\":\"Values and beliefs\",\"required\":true},"
    "{\"key\":\"cv\",\"title\":\"CV and interview technique\",\"required\":true},"
    "{\"key\":\"market_place\",\"title\":\"The market place\",\"required\":false}]}";

static long long new_course(long long org)
{
	json_t *p = callf(NULL, "POST", 201, NULL, fmt("/api/v1/programmes"),
	                  fmt("{\"organisation_id\":%lld,\"type\":\"group_course\",\"name\":\"Life "
	                      "Change Programme\",\"time_zone\":\"Europe/London\",\"settings\":%s}",
	                      org, course_settings));
	long long id = jint(p, "id");
	json_decref(p);
	return id;
}

/* --- the whole cohort, referral to graduation --------------------------------- */

START_TEST(a_cohort_from_referral_to_graduation)
{
	start(NULL);
	long long org = ts_org_id(db, "Test organisation");
	char *fac = ts_staff_token(db, "Test organisation", "lead@example.org", "facilitator", 0);
	char *comm =
	    ts_staff_token(db, "Test organisation", "funder@example.org", "commissioner", 0);
	char *other = ts_staff_token(db, "Harbour Housing", "hh@example.org", "coordinator", 0);
	long long fac_id = ts_staff_id(db, "lead@example.org");
	long long harbour = ts_org_id(db, "Harbour Housing");

	/* The course, its lead facilitator, its venue. */
	long long prog = new_course(org);
	json_decref(callf(NULL, "POST", 201, NULL, fmt("/api/v1/programmes/%lld/staff", prog),
	                  fmt("{\"staff_id\":%lld,\"role\":\"lead\"}", fac_id)));
	json_t *v = callf(NULL, "POST", 201, NULL, fmt("/api/v1/venues"),
	                  fmt("{\"organisation_id\":%lld,\"name\":\"Life Change Centre\","
	                      "\"location_kind\":\"community_venue\"}",
	                      org));
	long long venue = jint(v, "id");
	json_decref(v);

	/* The cohort: weekly from a week today, laid out by the plugin. */
	char *starts = sql_text("SELECT to_char(current_date + 7, 'YYYY-MM-DD')");
	json_t *c = callf(NULL, "POST", 201, NULL, fmt("/api/v1/group_course/cohorts"),
	                  fmt("{\"programme_id\":%lld,\"name\":\"Spring\",\"starts_on\":\"%s\","
	                      "\"pattern\":\"weekly\",\"start_time\":\"10:00\",\"session_minutes\":"
	                      "180,\"venue_id\":%lld,\"capacity\":12,\"staff\":[{\"staff_id\":%lld,"
	                      "\"role\":\"lead\"}]}",
	                      prog, starts, venue, fac_id));
	free(starts);
	long long cohort = sql_ll("SELECT id FROM core.cohort WHERE programme_id = %lld", prog);
	json_decref(c);
	long long s[4];
	for (int i = 0; i < 4; i++)
		s[i] = sql_ll("SELECT id FROM core.session WHERE cohort_id = %lld AND NOT catch_up"
		              " ORDER BY starts_at OFFSET %d LIMIT 1",
		              cohort, i);

	/* Six people referred, assessed and admitted. */
	static const char *const names[] = {"Aaron", "Bex", "Callum", "Dean", "Elliot", "Fern"};
	long long p[6], e[6], ref[6];
	for (int i = 0; i < 6; i++) {
		p[i] = new_person(names[i], "Testperson", 1, org);
		e[i] = admit(org, p[i], cohort, &ref[i]);
	}

	/* Week 1: everyone there. Fern leaves. */
	clock_after(s[0]);
	{
		const char *codes[] = {"attended", "attended", "attended",
		                       "attended", "attended", "late"};
		reg(fac, s[0], p, codes, 6);
	}
	char *day = sql_text("SELECT to_char((SELECT starts_at FROM core.session WHERE id = %lld)"
	                     " AT TIME ZONE 'Europe/London' + interval '1 day', 'YYYY-MM-DD')",
	                     s[0]);
	json_decref(callf(NULL, "POST", 200, NULL, fmt("/api/v1/enrolments/%lld/leave", e[5]),
	                  fmt("{\"left_on\":\"%s\",\"reason\":\"withdrew\"}", day)));
	free(day);

	/* Week 2: Bex has a medical appointment; Elliot is transferred after. */
	clock_after(s[1]);
	{
		const char *codes[] = {"attended", "absent_acceptable", "attended", "attended",
		                       "attended"};
		reg(fac, s[1], p, codes, 5);
	}
	json_decref(callf(NULL, "POST", 200, NULL, fmt("/api/v1/enrolments/%lld/hold", e[4]),
	                  fmt("{\"reason\":\"prison_transfer\"}")));
	/* Bex catches "values" up on the next open weekday; the facilitator
	 * arranges it and takes its register. */
	char *cday = sql_text(
	    "SELECT to_char(min(d), 'YYYY-MM-DD') FROM generate_series("
	    "((SELECT starts_at FROM core.session WHERE id = %lld) AT TIME ZONE "
	    "'Europe/London')::date"
	    " + 1, ((SELECT starts_at FROM core.session WHERE id = %lld) AT TIME ZONE"
	    " 'Europe/London')::date + 6, interval '1 day') d WHERE extract(isodow FROM d) < 6"
	    " AND group_course.day_blocked(%lld, NULL, 'england_wales', d::date) IS NULL",
	    s[1], s[1], org);
	json_t *cu = callf(fac, "POST", 201, NULL,
	                   fmt("/api/v1/group_course/enrolments/%lld/catch-ups", e[1]),
	                   fmt("{\"module\":\"values\",\"start\":\"%sT15:00\",\"duration_minutes\":"
	                       "90,\"staff\":[{\"staff_id\":%lld,\"role\":\"lead\"}]}",
	                       cday, fac_id));
	free(cday);
	long long catch_up = jint(cu, "id");
	json_decref(cu);
	clock_after(catch_up);
	{
		const char *codes[] = {"attended"};
		reg(fac, catch_up, &p[1], codes, 1);
	}

	/* Weeks 3 and 4: Callum stops coming; Dean misses the market place. */
	clock_after(s[2]);
	{
		const char *codes[] = {"attended", "attended", "absent_unacceptable", "attended"};
		reg(fac, s[2], p, codes, 4);
	}
	clock_after(s[3]);
	{
		const char *codes[] = {"attended", "attended", "absent_unacceptable",
		                       "absent_acceptable"};
		reg(fac, s[3], p, codes, 4);
	}

	/* Completion, as the course's rule decided it at each register. */
	assert_completion(e[0], "completed");
	assert_completion(e[1], "completed"); /* by the catch-up */
	assert_completion(e[2], "not_completed");
	assert_completion(e[3], "completed");   /* 3 of 4: the 75% the course asks */
	assert_completion(e[4], "in_progress"); /* on hold */
	assert_completion(e[5], "withdrawn");
	/* Two unacceptable absences in a row: the early warning. */
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.alert WHERE kind ="
	                        " 'group_course.absences' AND enrolment_id = %lld",
	                        e[2]),
	                 1);

	/* Certificates: on completion only, once each, numbered per cohort. */
	json_t *cert = callf(fac, "POST", 201, NULL,
	                     fmt("/api/v1/group_course/enrolments/%lld/certificate", e[0]), NULL);
	char want[64];
	snprintf(want, sizeof want, "LCP-%lld-1", cohort);
	ck_assert_str_eq(jstr(cert, "number"), want);
	ck_assert_str_eq(jstr(cert, "rule_version"), "lcp-test.1");
	ck_assert_str_eq(jstr(json_object_get(cert, "qualification"), "name"),
	                 "OCN Level 2 Award in Personal Development");
	ck_assert_int_eq(jint(json_object_get(cert, "qualification"), "credits"), 3);
	json_decref(cert);
	json_decref(callf(fac, "POST", 409, "group_course.already_issued",
	                  fmt("/api/v1/group_course/enrolments/%lld/certificate", e[0]), NULL));
	json_decref(callf(fac, "POST", 409, "group_course.not_completed",
	                  fmt("/api/v1/group_course/enrolments/%lld/certificate", e[2]), NULL));
	json_decref(callf(comm, "POST", 403, "core.forbidden",
	                  fmt("/api/v1/group_course/enrolments/%lld/certificate", e[1]), NULL));
	json_decref(callf(other, "POST", 404, "core.not_found",
	                  fmt("/api/v1/group_course/enrolments/%lld/certificate", e[1]), NULL));
	json_decref(callf(NULL, "POST", 201, NULL,
	                  fmt("/api/v1/group_course/enrolments/%lld/certificate", e[1]), NULL));
	json_t *certs = callf(fac, "GET", 200, NULL,
	                      fmt("/api/v1/group_course/cohorts/%lld/certificates", cohort), NULL);
	ck_assert_int_eq(json_array_size(json_object_get(certs, "items")), 2);
	json_decref(certs);
	json_decref(callf(other, "GET", 404, "core.not_found",
	                  fmt("/api/v1/group_course/cohorts/%lld/certificates", cohort), NULL));

	/* The graduation: a family event of its own, after the last week. */
	char *gday = sql_text("SELECT to_char((SELECT starts_at FROM core.session WHERE id = %lld)"
	                      " AT TIME ZONE 'Europe/London' + interval '3 days', 'YYYY-MM-DD')",
	                      s[3]);
	json_decref(callf(fac, "POST", 403, "core.forbidden",
	                  fmt("/api/v1/group_course/cohorts/%lld/graduation", cohort),
	                  fmt("{\"start\":\"%sT14:00\",\"duration_minutes\":120}", gday)));
	json_decref(callf(NULL, "POST", 400, "core.bad_time",
	                  fmt("/api/v1/group_course/cohorts/%lld/graduation", cohort),
	                  fmt("{\"start\":\"%s 14:00\",\"duration_minutes\":120}", gday)));
	json_t *g = callf(
	    NULL, "POST", 201, NULL, fmt("/api/v1/group_course/cohorts/%lld/graduation", cohort),
	    fmt("{\"start\":\"%sT14:00\",\"duration_minutes\":120,\"capacity\":40}", gday));
	json_t *gs = json_object_get(g, "session");
	long long grad = jint(gs, "id");
	ck_assert_str_eq(jstr(gs, "module"), "graduation");
	ck_assert_str_eq(jstr(gs, "booking_mode"), "booked");
	ck_assert_str_eq(jstr(json_object_get(gs, "local"), "start"), "14:00");
	ck_assert_int_eq(jint(gs, "venue_id"), venue); /* the cohort's venue */
	json_decref(g);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.session WHERE id = %lld AND cohort_id"
	                        " IS NULL",
	                        grad),
	                 1);
	json_decref(callf(NULL, "POST", 409, "group_course.graduation_exists",
	                  fmt("/api/v1/group_course/cohorts/%lld/graduation", cohort),
	                  fmt("{\"start\":\"%sT16:00\",\"duration_minutes\":60}", gday)));
	free(gday);

	/* Aaron's household — partner and son — booked onto it. */
	long long partner = new_person("Leanne", "Testperson", 0, org);
	long long son = new_person("Mason", "Testperson", 0, org);
	json_t *h = callf(NULL, "POST", 201, NULL, fmt("/api/v1/households"),
	                  fmt("{\"organisation_id\":%lld,\"name\":\"Testperson household\"}", org));
	long long hh = jint(h, "id");
	json_decref(h);
	const long long members[] = {p[0], partner, son};
	const char *rels[] = {"participant", "partner", "child"};
	for (int i = 0; i < 3; i++)
		json_decref(callf(
		    NULL, "POST", 201, NULL, fmt("/api/v1/households/%lld/members", hh),
		    fmt("{\"person_id\":%lld,\"relationship\":\"%s\"}", members[i], rels[i])));
	json_decref(callf(NULL, "POST", 409, "group_course.not_completed",
	                  fmt("/api/v1/group_course/cohorts/%lld/graduation/households", cohort),
	                  fmt("{\"enrolment_id\":%lld,\"household_id\":%lld}", e[2], hh)));
	json_decref(callf(NULL, "POST", 422, "group_course.not_in_household",
	                  fmt("/api/v1/group_course/cohorts/%lld/graduation/households", cohort),
	                  fmt("{\"enrolment_id\":%lld,\"household_id\":%lld}", e[1], hh)));
	json_t *hb = callf(NULL, "POST", 201, NULL,
	                   fmt("/api/v1/group_course/cohorts/%lld/graduation/households", cohort),
	                   fmt("{\"enrolment_id\":%lld,\"household_id\":%lld}", e[0], hh));
	json_t *m;
	size_t i;
	ck_assert_int_eq(json_array_size(json_object_get(hb, "members")), 3);
	json_array_foreach(json_object_get(hb, "members"), i, m)
	    ck_assert_str_eq(jstr(m, "outcome"), "booked");
	json_decref(hb);
	/* Core bookings (what the family calendar feed shows), each audited. */
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.booking b JOIN core.seat st ON"
	                        " st.session_id = b.session_id AND st.person_id = b.person_id AND"
	                        " st.active WHERE b.session_id = %lld AND b.status = 'booked' AND"
	                        " b.person_id IN (%lld, %lld, %lld)",
	                        grad, p[0], partner, son),
	                 3);
	ck_assert_int_eq(sql_ll("SELECT booked FROM core.session WHERE id = %lld", grad), 3);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.audit WHERE action = 'booking.create'"
	                        " AND object_id IN (SELECT id FROM core.booking WHERE session_id ="
	                        " %lld)",
	                        grad),
	                 3);
	hb = callf(NULL, "POST", 201, NULL,
	           fmt("/api/v1/group_course/cohorts/%lld/graduation/households", cohort),
	           fmt("{\"enrolment_id\":%lld,\"household_id\":%lld}", e[0], hh));
	json_array_foreach(json_object_get(hb, "members"), i, m)
	    ck_assert_str_eq(jstr(m, "outcome"), "already_booked");
	json_decref(hb);
	/* ...so the graduation is in the family's calendar feed (issue 6). */
	json_t *feed = callf(NULL, "POST", 201, NULL, fmt("/api/v1/feeds"),
	                     fmt("{\"kind\":\"household\",\"household_id\":%lld}", hh));
	char *ics_path = fmt("/feeds/%s.ics", jstr(feed, "token"));
	json_decref(feed);
	struct ts_response ics;
	ck_assert_int_eq(ts_http(&srv, "GET", ics_path, NULL, NULL, 0, 15000, &ics), 0);
	ck_assert_int_eq(ics.status, 200);
	ck_assert_msg(strstr(ics.body, "SUMMARY:Life Change Programme: graduation"), "%s",
	              ics.body);
	ts_response_free(&ics);
	free(ics_path);
	g = callf(fac, "GET", 200, NULL,
	          fmt("/api/v1/group_course/cohorts/%lld/graduation", cohort), NULL);
	ck_assert_int_eq(jint(json_object_get(g, "bookings"), "booked"), 3);
	ck_assert_int_eq(json_array_size(json_object_get(g, "households")), 1);
	json_decref(g);

	/* Onward referrals: core referral records following the course's. */
	json_t *o =
	    callf(fac, "POST", 201, NULL, fmt("/api/v1/group_course/enrolments/%lld/onward", e[0]),
	          fmt("{\"pathway\":\"accommodation\",\"note\":\"Needs an address.\"}"));
	long long onward_ref = jint(o, "referral_id");
	ck_assert_str_eq(jstr(o, "referral_status"), "received");
	json_decref(o);
	json_t *rr = callf(NULL, "GET", 200, NULL, fmt("/api/v1/referrals/%lld", onward_ref), NULL);
	ck_assert_int_eq(jint(rr, "previous_referral_id"), ref[0]);
	ck_assert_int_eq(jint(rr, "organisation_id"), org);
	json_decref(rr);
	json_decref(callf(fac, "POST", 409, "group_course.already_referred",
	                  fmt("/api/v1/group_course/enrolments/%lld/onward", e[0]),
	                  fmt("{\"pathway\":\"accommodation\"}")));
	json_decref(callf(fac, "POST", 400, "core.bad_enum",
	                  fmt("/api/v1/group_course/enrolments/%lld/onward", e[0]),
	                  fmt("{\"pathway\":\"housing\"}")));
	/* Another organisation: only with the person's live consent. */
	json_decref(callf(fac, "POST", 422, "group_course.consent_required",
	                  fmt("/api/v1/group_course/enrolments/%lld/onward", e[1]),
	                  fmt("{\"pathway\":\"mentoring\",\"organisation_id\":%lld}", harbour)));
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.referral WHERE org_id = %lld", harbour),
	                 0);
	json_decref(callf(NULL, "POST", 201, NULL, fmt("/api/v1/people/%lld/consents", p[1]),
	                  fmt("{\"organisation_id\":%lld,\"purpose\":\"referral\","
	                      "\"recipient_organisation_id\":%lld,\"given_on\":\"2026-01-05\"}",
	                      org, harbour)));
	o = callf(fac, "POST", 201, NULL, fmt("/api/v1/group_course/enrolments/%lld/onward", e[1]),
	          fmt("{\"pathway\":\"mentoring\",\"organisation_id\":%lld}", harbour));
	long long there = jint(o, "referral_id");
	ck_assert(json_is_null(json_object_get(o, "referral_status"))); /* theirs now */
	json_decref(o);
	rr = callf(other, "GET", 200, NULL, fmt("/api/v1/referrals/%lld", there), NULL);
	ck_assert_int_eq(jint(rr, "previous_referral_id"), ref[1]);
	ck_assert_str_eq(jstr(rr, "status"), "received");
	json_decref(rr);
	json_decref(callf(other, "GET", 404, "core.not_found",
	                  fmt("/api/v1/group_course/enrolments/%lld/onward", e[1]), NULL));
	o = callf(fac, "GET", 200, NULL, fmt("/api/v1/group_course/enrolments/%lld/onward", e[0]),
	          NULL);
	ck_assert_int_eq(json_array_size(json_object_get(o, "items")), 1);
	json_decref(o);

	/* The report: right figures per cohort for the coordinator... */
	json_t *rep =
	    callf(NULL, "GET", 200, NULL,
	          fmt("/api/v1/group_course/reports/cohorts?organisation_id=%lld", org), NULL);
	ck_assert(json_is_false(json_object_get(rep, "suppressed")));
	ck_assert_int_eq(json_array_size(json_object_get(rep, "items")), 1);
	json_t *it = json_array_get(json_object_get(rep, "items"), 0);
	ck_assert_int_eq(jint(it, "cohort_id"), cohort);
	ck_assert(figure(it, "referred", NULL) == 6);
	ck_assert(figure(it, "started", NULL) == 6);
	ck_assert(figure(it, "completed", NULL) == 3);
	ck_assert(figure(it, "completion_rate", NULL) == 0.5);
	/* 15 attendances of 19 expected places (nobody after leaving or in a
	 * hold; the catch-up is extra). */
	ck_assert_msg(figure(it, "attendance_rate", NULL) == 0.789, "attendance %f",
	              figure(it, "attendance_rate", NULL));
	json_t *on = json_object_get(it, "onward_referrals");
	ck_assert(figure(on, "total", NULL) == 2);
	ck_assert(figure(on, "by_pathway", "accommodation") == 1);
	ck_assert(figure(on, "by_pathway", "mentoring") == 1);
	ck_assert(figure(on, "by_pathway", "health") == 0);
	json_decref(rep);
	/* ...and for the commissioner, small counts suppressed (and what
	 * would give them away). */
	rep = callf(comm, "GET", 200, NULL,
	            fmt("/api/v1/group_course/reports/cohorts?organisation_id=%lld&from=2020-01-01"
	                "&to=2040-12-31",
	                org),
	            NULL);
	ck_assert(json_is_true(json_object_get(rep, "suppressed")));
	it = json_array_get(json_object_get(rep, "items"), 0);
	ck_assert(figure(it, "referred", NULL) == 6);
	ck_assert(figure(it, "started", NULL) == 6);
	ck_assert(figure(it, "completed", NULL) == -2);
	ck_assert(figure(it, "completion_rate", NULL) == -2);
	ck_assert(figure(it, "attendance_rate", NULL) == 0.789);
	on = json_object_get(it, "onward_referrals");
	ck_assert(figure(on, "total", NULL) == -2);
	ck_assert(figure(on, "by_pathway", "accommodation") == -2);
	ck_assert(figure(on, "by_pathway", "health") == 0);
	char *text = json_dumps(rep, JSON_COMPACT);
	ck_assert_msg(!strstr(text, "Testperson") && !strstr(text, "person_id"), "%s", text);
	free(text);
	json_decref(rep);
	json_decref(callf(comm, "GET", 200, NULL,
	                  fmt("/api/v1/group_course/reports/cohorts?organisation_id=%lld"
	                      "&from=2040-01-01&to=2040-12-31",
	                      org),
	                  NULL));
	json_decref(callf(fac, "GET", 403, "core.forbidden",
	                  fmt("/api/v1/group_course/reports/cohorts?organisation_id=%lld", org),
	                  NULL));
	json_decref(callf(other, "GET", 404, "core.not_found",
	                  fmt("/api/v1/group_course/reports/cohorts?organisation_id=%lld", org),
	                  NULL));
	json_decref(callf(comm, "GET", 400, "core.bad_query",
	                  fmt("/api/v1/group_course/reports/cohorts?organisation_id=%lld&from="
	                      "2026-01-01",
	                      org),
	                  NULL));

	/* Every change audited with who, where from and which request. */
	ck_assert_int_eq(
	    sql_ll("SELECT count(*) FROM core.audit WHERE action IN"
	           " ('group_course.certificate_issue', 'group_course.graduation_create',"
	           " 'group_course.graduation_household', 'group_course.onward_create')"),
	    2 + 1 + 2 + 2);
	ck_assert_int_eq(
	    sql_ll("SELECT count(*) FROM core.audit WHERE action LIKE 'group_course.%%'"
	           " AND action <> 'group_course.demo_load' AND (actor_staff_id IS NULL"
	           " OR remote_addr IS NULL OR request_id IS NULL)"),
	    0);
	ck_assert_int_eq(ts_db_exec(db, "UPDATE core.test_clock SET offset_by = '0'"), 0);
	free(fac);
	free(comm);
	free(other);
	stop();
}
END_TEST

/* --- the completion-pending job ---------------------------------------------- */

/* Waits (up to 10 s) until `sql` gives `want`. */
static void await(const char *want, const char *sql)
{
	char *got = NULL;
	for (double t0 = ts_now(); ts_now() - t0 < 10.0; usleep(50000)) {
		free(got);
		got = ts_db_value(db, sql);
		if (got && !strcmp(got, want))
			break;
	}
	ck_assert_msg(got && !strcmp(got, want), "%s: got %s, expected %s", sql, got ? got : "NULL",
	              want);
	free(got);
}

START_TEST(the_job_decides_what_the_register_never_saw)
{
	start("{\"jobs\": {\"interval_ms\": 100}}");
	long long org = ts_org_id(db, "Test organisation");
	long long prog = new_course(org);
	/* A cohort that began five weeks ago: its four weeks are over. */
	char *starts = sql_text("SELECT to_char(current_date - 35, 'YYYY-MM-DD')");
	json_decref(callf(NULL, "POST", 201, NULL, fmt("/api/v1/group_course/cohorts"),
	                  fmt("{\"programme_id\":%lld,\"name\":\"Past\",\"starts_on\":\"%s\","
	                      "\"pattern\":\"weekly\",\"location_kind\":\"community_venue\"}",
	                      prog, starts)));
	long long cohort = sql_ll("SELECT id FROM core.cohort WHERE programme_id = %lld", prog);
	long long p[2], e[2];
	for (int i = 0; i < 2; i++) {
		p[i] = new_person(i ? "Bex" : "Aaron", "Jobtest", 1, org);
		json_t *en =
		    callf(NULL, "POST", 201, NULL, fmt("/api/v1/cohorts/%lld/enrolments", cohort),
		          fmt("{\"person_id\":%lld,\"joined_on\":\"%s\"}", p[i], starts));
		e[i] = jint(en, "id");
		json_decref(en);
	}
	free(starts);
	/* The weeks' attendance written straight into the table (an import, a
	 * fix by SQL): Bex missed the (optional) market place. */
	char *q = fmt("INSERT INTO core.attendance (session_id, person_id, outcome_code_id)"
	              " SELECT s.id, st.person_id, oc.id FROM core.session s JOIN core.seat st"
	              " ON st.session_id = s.id AND st.active JOIN core.outcome_code oc ON"
	              " oc.org_id IS NULL AND oc.code = CASE WHEN st.person_id = %lld AND"
	              " s.module = 'market_place' THEN 'absent_acceptable' ELSE 'attended' END"
	              " WHERE s.cohort_id = %lld",
	              p[1], cohort);
	ck_assert_int_eq(ts_db_exec(db, q), 0);
	free(q);
	char *sql =
	    fmt("SELECT string_agg(cp.result::text || '/' || cp.rule_version || '/' ||"
	        " (cp.detail->>'decided_by'), ',' ORDER BY e.id) FROM core.enrolment e"
	        " JOIN core.completion cp ON cp.enrolment_id = e.id WHERE e.cohort_id = %lld",
	        cohort);
	/* Decided by the course's rule (3 of 4 is the 75% it asks). */
	await("completed/lcp-test.1/group_course,completed/lcp-test.1/group_course", sql);
	/* The rule changes (80%): the job decides again; Bex's decision is
	 * history. */
	json_t *pr = callf(NULL, "GET", 200, NULL, fmt("/api/v1/programmes/%lld", prog), NULL);
	json_t *settings = json_deep_copy(json_object_get(pr, "settings"));
	json_object_set_new(settings, "min_share", json_real(0.8));
	char *stext = json_dumps(settings, JSON_COMPACT);
	json_decref(callf(NULL, "PATCH", 200, NULL, fmt("/api/v1/programmes/%lld", prog),
	                  fmt("{\"settings\":%s}", stext)));
	free(stext);
	json_decref(settings);
	json_decref(pr);
	await("completed/lcp-test.1/group_course,not_completed/lcp-test.1/group_course", sql);
	free(sql);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.completion_history WHERE enrolment_id ="
	                        " %lld AND result = 'completed'",
	                        e[1]),
	                 1);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.audit WHERE action = 'completion.decide'"
	                        " AND object_id = %lld AND actor_staff_id IS NULL AND"
	                        " detail->>'result' IN ('completed', 'not_completed')",
	                        e[1]),
	                 2);
	/* Nothing is left pending, claimed or decided twice. */
	usleep(400000);
	char *left = sql_text("SELECT (core.completion_pending(100)->'groups')::text");
	ck_assert_str_eq(left, "[]");
	free(left);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.completion_check WHERE claimed_until IS"
	                        " NOT NULL"),
	                 0);
	/* Two processes at once never take the same enrolment: what one
	 * claims, the other skips until it is stored (or the claim runs out). */
	char *mark = fmt("UPDATE core.completion_check SET checked_at = NULL WHERE enrolment_id IN"
	                 " (%lld, %lld)",
	                 e[0], e[1]);
	ck_assert_int_eq(ts_db_exec(db, mark), 0);
	char *one = sql_text("SELECT coalesce(jsonb_agg(x->'enrolment_id'), '[]')::text FROM"
	                     " jsonb_array_elements(core.completion_pending(100)->'groups') g,"
	                     " jsonb_array_elements(g->'evaluate') x");
	char *two = sql_text("SELECT coalesce(jsonb_agg(x->'enrolment_id'), '[]')::text FROM"
	                     " jsonb_array_elements(core.completion_pending(100)->'groups') g,"
	                     " jsonb_array_elements(g->'evaluate') x");
	ck_assert_str_eq(two, "[]");
	free(one);
	free(two);
	ck_assert_int_eq(ts_db_exec(db, "UPDATE core.completion_check SET claimed_until = NULL"),
	                 0);
	/* Released, the server's job decides them again (nothing changes). */
	char *sql2 = fmt("SELECT count(*) FROM core.completion_check WHERE enrolment_id IN (%lld,"
	                 " %lld) AND checked_at IS NOT NULL",
	                 e[0], e[1]);
	await("2", sql2);
	free(sql2);
	free(mark);
	/* Aaron's decision (perhaps in_progress first, before the attendance
	 * was written) became completed once, and the rule change left it. */
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.audit WHERE action = 'completion.decide'"
	                        " AND object_id = %lld AND detail->>'result' = 'completed'",
	                        e[0]),
	                 1);
	stop();
}
END_TEST

/* Two unacceptable absences written outside the register (an import):
 * the job raises the early warning. When the register of the second
 * session is then saved through the API (a correction of its note, or the
 * job having run between the register's two statements), the same run of
 * absences must not alert the coordinator and the probation practitioner a
 * second time: the job's alert names the session that triggered it, as the
 * register's does, so the two are recognised as one. */
START_TEST(the_job_and_the_register_raise_one_early_warning)
{
	start("{\"jobs\": {\"interval_ms\": 100}}");
	long long org = ts_org_id(db, "Test organisation");
	long long prog = new_course(org);
	char *starts = sql_text("SELECT to_char(current_date - 21, 'YYYY-MM-DD')");
	json_decref(callf(NULL, "POST", 201, NULL, fmt("/api/v1/group_course/cohorts"),
	                  fmt("{\"programme_id\":%lld,\"name\":\"Warned\",\"starts_on\":\"%s\","
	                      "\"pattern\":\"weekly\",\"location_kind\":\"community_venue\"}",
	                      prog, starts)));
	long long cohort = sql_ll("SELECT id FROM core.cohort WHERE programme_id = %lld", prog);
	long long p = new_person("Cara", "Alerttest", 1, org);
	json_t *en = callf(NULL, "POST", 201, NULL, fmt("/api/v1/cohorts/%lld/enrolments", cohort),
	                   fmt("{\"person_id\":%lld,\"joined_on\":\"%s\"}", p, starts));
	long long e = jint(en, "id");
	json_decref(en);
	free(starts);
	long long s1 = sql_ll("SELECT id FROM core.session WHERE cohort_id = %lld AND NOT catch_up"
	                      " ORDER BY starts_at LIMIT 1",
	                      cohort);
	long long s2 = sql_ll("SELECT id FROM core.session WHERE cohort_id = %lld AND NOT catch_up"
	                      " ORDER BY starts_at OFFSET 1 LIMIT 1",
	                      cohort);
	char *q = fmt("INSERT INTO core.attendance (session_id, person_id, outcome_code_id)"
	              " SELECT s.id, %lld, oc.id FROM core.session s, core.outcome_code oc"
	              " WHERE s.id IN (%lld, %lld) AND oc.org_id IS NULL"
	              " AND oc.code = 'absent_unacceptable'",
	              p, s1, s2);
	ck_assert_int_eq(ts_db_exec(db, q), 0);
	free(q);
	char *count = fmt("SELECT count(*) FROM core.alert WHERE kind = 'group_course.absences'"
	                  " AND enrolment_id = %lld",
	                  e);
	await("1", count);
	/* The job's alert names the register that triggered it. */
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.alert WHERE kind ="
	                        " 'group_course.absences' AND enrolment_id = %lld AND session_id ="
	                        " %lld",
	                        e, s2),
	                 1);
	json_decref(callf(NULL, "PUT", 200, NULL, fmt("/api/v1/sessions/%lld/register", s2),
	                  fmt("{\"entries\":[{\"person_id\":%lld,\"outcome\":"
	                      "\"absent_unacceptable\",\"note\":\"Phoned: no answer.\"}]}",
	                      p)));
	usleep(300000);
	ck_assert_int_eq(sql_ll("%s", count), 1);
	free(count);
	stop();
}
END_TEST

/* --- the demo ------------------------------------------------------------------- */

START_TEST(the_demo_is_decided_by_the_course_rule)
{
	db = ts_db_create("gc_demo");
	char dir[] = "/tmp/wm-gcdemo-XXXXXX", *config = NULL, *env_url = NULL, *out = NULL,
	     *err = NULL;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_ge(asprintf(&config, "%s/waymark.json", dir), 0);
	FILE *f = fopen(config, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{}", f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_ge(asprintf(&env_url, "DATABASE_URL=%s", db), 0);
	const char *argv[] = {"demo", "--config", config, NULL};
	const char *env[] = {env_url, NULL};
	int rc = ts_run(argv, env, &out, &err);
	ck_assert_msg(rc == 0, "waymarkd demo: %d\n%s%s", rc, out, err);
	ck_assert_msg(strstr(out, "group courses: 2 Life Change Programme courses"), "%s", out);
	/* Nothing decided by hand. */
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.completion cp JOIN core.enrolment e ON"
	                        " e.id = cp.enrolment_id JOIN core.cohort c ON c.id = e.cohort_id"
	                        " JOIN core.programme pr ON pr.id = c.programme_id WHERE pr.type ="
	                        " 'group_course'"),
	                 0);

	struct ts_server_opts o = {.database_url = db,
	                           .config_json = "{\"jobs\": {\"interval_ms\": 100}}"};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	/* The custody cohort (over): eight graduates, two who did not complete
	 * (a required module missed; too few sessions), the transfer on hold,
	 * the early release; the community one under way. */
	await("completed:8,in_progress:1,not_completed:2,withdrawn:1",
	      "SELECT string_agg(r || ':' || n, ',' ORDER BY r) FROM (SELECT cp.result::text AS r,"
	      " count(*) AS n FROM core.completion cp JOIN core.enrolment e ON e.id ="
	      " cp.enrolment_id JOIN core.cohort c ON c.id = e.cohort_id JOIN core.programme pr"
	      " ON pr.id = c.programme_id WHERE pr.name = 'Life Change Programme (custody)'"
	      " GROUP BY 1) x");
	await("in_progress:9,not_completed:1,on_hold:1,withdrawn:1",
	      "SELECT string_agg(r || ':' || n, ',' ORDER BY r) FROM (SELECT CASE WHEN e.status ="
	      " 'on_hold' THEN 'on_hold' ELSE cp.result::text END AS r, count(*) AS n FROM"
	      " core.completion cp JOIN core.enrolment e ON e.id = cp.enrolment_id JOIN"
	      " core.cohort c ON c.id = e.cohort_id JOIN core.programme pr ON pr.id ="
	      " c.programme_id WHERE pr.name = 'Life Change Programme (community)' GROUP BY 1) x");
	/* The early warnings the registers would have raised, raised once. */
	await("2", "SELECT count(*) FROM core.alert WHERE kind = 'group_course.absences'");
	/* Every graduate family booked is a graduate's. */
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM group_course.graduation_household gh JOIN"
	                        " core.completion cp ON cp.enrolment_id = gh.enrolment_id WHERE"
	                        " cp.result <> 'completed'"),
	                 0);
	ck_assert_int_gt(sql_ll("SELECT count(*) FROM core.booking b JOIN group_course.graduation"
	                        " g ON g.session_id = b.session_id WHERE b.status = 'booked'"),
	                 10);
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	free(out);
	free(err);
	free(env_url);
	unlink(config);
	rmdir(dir);
	free(config);
	ts_db_drop(db);
	free(db);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gc_course_run");
	TCase *tc = tcase_create("run");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, a_cohort_from_referral_to_graduation);
	tcase_add_test(tc, the_job_decides_what_the_register_never_saw);
	tcase_add_test(tc, the_job_and_the_register_raise_one_early_warning);
	tcase_add_test(tc, the_demo_is_decided_by_the_course_rule);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
