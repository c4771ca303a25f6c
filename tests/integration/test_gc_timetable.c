/*
 * The group_course plugin's timetable (issue 5) over HTTP against the
 * real server, which loads waymark_group_course.so through the real plugin
 * ABI (it is a standard plugin: ts_server_start starts waymarkd with no
 * plugin list, so the standard ones are loaded; nothing of the plugin is
 * linked into this binary), and the real database:
 *
 *  - the weekly pattern (eight modules) across Easter Monday, the Early May
 *    bank holiday, a skip closure and the March 2027 clock change: exact
 *    local dates and times and UTC instants;
 *  - the alternating_days pattern (twelve modules, six full days, morning
 *    and afternoon) across Easter Monday and the March clock change, and
 *    six days over four weeks across the October clock change;
 *  - re-laying after a lost day: attendance taken through the core's PUT
 *    /api/v1/sessions/{id}/register is kept, the rest cancelled (SEQUENCE
 *    bumped) and laid again from the date given;
 *  - a catch-up session is expected only of its person;
 *  - guest approvals: flagged in the timetable, an alert per session, the
 *    checks list, and approval clearing all three;
 *  - who may call what, and refusals that change nothing.
 *
 * Courses (programmes of type group_course) are written in SQL, so this
 * file does not depend on the settings validator (gc_settings.c); cohorts, relays,
 * catch-ups and approvals go through the plugin's routes, registers and
 * session cancellation through the core's.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts.h"

#define TS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define GC              "/api/v1/group_course"

static struct ts_server srv;
static char *db;
static char *admin_a, *coord_a, *fac_a, *fac_other, *mentor_a, *comm_a, *coord_b;
static long long org_a, org_b, fac_id, coord_id;

static void setup(void)
{
	db = ts_db_create("gc_timetable");
	struct ts_server_opts o = {.database_url = db};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	admin_a = ts_staff_token(db, "Org A", "admin-a@example.org", "admin", 0);
	coord_a = ts_staff_token(db, "Org A", "coord-a@example.org", "coordinator", 0);
	fac_a = ts_staff_token(db, "Org A", "fac-a@example.org", "facilitator", 0);
	fac_other = ts_staff_token(db, "Org A", "fac-other@example.org", "facilitator", 0);
	mentor_a = ts_staff_token(db, "Org A", "mentor-a@example.org", "mentor", 0);
	comm_a = ts_staff_token(db, "Org A", "comm-a@example.org", "commissioner", 0);
	coord_b = ts_staff_token(db, "Org B", "coord-b@example.org", "coordinator", 0);
	org_a = ts_org_id(db, "Org A");
	org_b = ts_org_id(db, "Org B");
	fac_id = ts_staff_id(db, "fac-a@example.org");
	coord_id = ts_staff_id(db, "coord-a@example.org");
}

static void teardown(void)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
	free(admin_a);
	free(coord_a);
	free(fac_a);
	free(fac_other);
	free(mentor_a);
	free(comm_a);
	free(coord_b);
}

/* --- helpers ------------------------------------------------------------ */

static char *sqlv(const char *fmt, ...) TS_PRINTF(1, 2);
static char *sqlv(const char *fmt, ...)
{
	char sql[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	char *v = ts_db_value(db, sql);
	return v ? v : strdup("");
}

static long long sqln(const char *fmt, ...) TS_PRINTF(1, 2);
static long long sqln(const char *fmt, ...)
{
	char sql[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	char *v = ts_db_value(db, sql);
	long long n = v ? atoll(v) : -1;
	free(v);
	return n;
}

/* Asserts that a SQL value is `want`. */
#define SQL_EQ(want, ...)                                                                          \
	do {                                                                                       \
		char *got_ = sqlv(__VA_ARGS__);                                                    \
		ck_assert_msg(!strcmp(got_, want), "SQL gave \"%s\", want \"%s\"", got_, want);    \
		free(got_);                                                                        \
	} while (0)

struct res {
	int status;
	json_t *json;
	char code[64];
	char field[64];
	char message[256];
};

static struct res call(const char *token, const char *method, const char *path, const char *body)
{
	char headers[256];
	struct ts_response r;
	struct res out = {0};
	snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\n%s", token,
	         body ? "Content-Type: application/json\r\n" : "");
	ck_assert_int_eq(
	    ts_http(&srv, method, path, headers, body, body ? strlen(body) : 0, 20000, &r), 0);
	out.status = r.status;
	out.json = ts_json(&r);
	json_t *err = json_object_get(out.json, "error");
	if (err) {
		const char *c = json_string_value(json_object_get(err, "code"));
		const char *f = json_string_value(json_object_get(err, "field"));
		const char *m = json_string_value(json_object_get(err, "message"));
		snprintf(out.code, sizeof out.code, "%s", c ? c : "");
		snprintf(out.field, sizeof out.field, "%s", f ? f : "");
		snprintf(out.message, sizeof out.message, "%s", m ? m : "");
	}
	ts_response_free(&r);
	return out;
}

static struct res callf(const char *token, const char *method, const char *path, const char *fmt,
                        ...) TS_PRINTF(4, 5);
static struct res callf(const char *token, const char *method, const char *path, const char *fmt,
                        ...)
{
	static char body[65536];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof body, fmt, ap);
	va_end(ap);
	return call(token, method, path, body);
}

/* Asserts the status (and code and field when given); frees the reply. */
static void expect(struct res r, int status, const char *code, const char *field)
{
	ck_assert_msg(r.status == status, "expected %d %s, got %d %s %s: %s", status,
	              code ? code : "", r.status, r.code, r.field, r.message);
	if (code)
		ck_assert_str_eq(r.code, code);
	if (field)
		ck_assert_str_eq(r.field, field);
	json_decref(r.json);
}

/* Asserts the status and keeps the reply. */
static json_t *ok(struct res r, int status)
{
	ck_assert_msg(r.status == status, "expected %d, got %d %s %s: %s", status, r.status, r.code,
	              r.field, r.message);
	ck_assert_ptr_nonnull(r.json);
	return r.json;
}

static char *path(const char *fmt, ...) TS_PRINTF(1, 2);
static char *path(const char *fmt, ...)
{
	static char buf[16][200];
	static int k;
	va_list ap;
	k = (k + 1) % 16;
	va_start(ap, fmt);
	vsnprintf(buf[k], sizeof buf[k], fmt, ap);
	va_end(ap);
	return buf[k];
}

static const char *str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "(null)";
}

static long long num(json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(obj, key));
}

static int flag(json_t *obj, const char *key)
{
	return json_is_true(json_object_get(obj, key));
}

/* A person held by `org`. */
static long long person(long long org, const char *given)
{
	return sqln("WITH p AS (INSERT INTO core.person (given_name, family_name)"
	            " VALUES ('%s', 'Course') RETURNING id),"
	            " l AS (INSERT INTO core.person_org (person_id, org_id) SELECT id, %lld FROM p)"
	            " SELECT id FROM p",
	            given, org);
}

/* A course of `org` with `n` modules m1..mn ("Module i"); module `guest`
 * (1-based, 0: none) has outside guests; module 2 is optional. */
static long long course(long long org, int n, int guest)
{
	char mods[4096];
	size_t len = 0;
	for (int i = 1; i <= n; i++)
		len += (size_t)snprintf(mods + len, sizeof mods - len,
		                        "%s{\"key\": \"m%d\", \"title\": \"Module %d\", \"theme\": "
		                        "\"Theme %d\", \"required\": %s, \"guests\": %s}",
		                        i > 1 ? ", " : "", i, i, (i + 1) / 2,
		                        i == 2 ? "false" : "true", i == guest ? "true" : "false");
	return sqln("INSERT INTO core.programme (org_id, type, name, settings) VALUES (%lld,"
	            " 'group_course', 'Life Change Programme', '{\"rule_version\": \"lcp-2027.1\","
	            " \"modules\": [%s], \"min_share\": 0.8, \"absence_alert_after\": 2,"
	            " \"qualification\": null, \"prerequisites\": [], \"eligibility\": null}')"
	            " RETURNING id",
	            org, mods);
}

static void closure(long long org, const char *day, const char *reason)
{
	free(sqlv("INSERT INTO core.closure (org_id, starts_on, ends_on, reason, effect)"
	          " VALUES (%lld, '%s', '%s', '%s', 'skip') RETURNING id",
	          org, day, day, reason));
}

/* Moves the server's clock (core.clock()) to instant `at`. */
static void clock_at(const char *at)
{
	free(sqlv("UPDATE core.test_clock SET offset_by = '%s'::timestamptz - now()"
	          " RETURNING offset_by",
	          at));
}

static void clock_reset(void)
{
	free(sqlv("UPDATE core.test_clock SET offset_by = '0' RETURNING offset_by"));
}

/* Enrols `p` in `coh` from its start, with seats, as the core's enrolment
 * route leaves them. */
static long long enrol(long long coh, long long p)
{
	long long e =
	    sqln("INSERT INTO core.enrolment (cohort_id, person_id, joined_on)"
	         " SELECT id, %lld, starts_on FROM core.cohort WHERE id = %lld RETURNING id",
	         p, coh);
	free(sqlv("SELECT core.seat_sync_cohort(%lld)", coh));
	return e;
}

/* The timetable's sessions, as "m1 2027-03-08 09:30-13:30 2027-03-08T09:30:00Z|..."
 * (scheduled ones only, in start order). */
static char *sessions_text(json_t *tt)
{
	static char out[8192];
	size_t len = 0, i;
	json_t *s;
	out[0] = '\0';
	json_array_foreach(json_object_get(tt, "sessions"), i, s)
	{
		if (strcmp(str(s, "status"), "scheduled") != 0 || flag(s, "catch_up"))
			continue;
		json_t *l = json_object_get(s, "local");
		len += (size_t)snprintf(out + len, sizeof out - len, "%s%s %s %s-%s %s",
		                        len ? "|" : "", str(s, "module"), str(l, "date"),
		                        str(l, "start"), str(l, "end"), str(s, "starts_at"));
	}
	return out;
}

/* The scheduled, non-catch-up session of module `key` in a timetable. */
static json_t *session_of(json_t *tt, const char *key)
{
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(tt, "sessions"), i, s)
	{
		if (!strcmp(str(s, "module"), key) && !strcmp(str(s, "status"), "scheduled") &&
		    !flag(s, "catch_up"))
			return s;
	}
	ck_abort_msg("no scheduled session of %s", key);
	return NULL;
}

static json_t *new_cohort(const char *token, long long prog, const char *extra)
{
	return ok(callf(token, "POST", GC "/cohorts",
	                "{\"programme_id\": %lld, \"name\": \"Spring 2027\", %s}", prog, extra),
	          201);
}

#define WEEKLY                                                                                     \
	"\"starts_on\": \"2027-03-08\", \"pattern\": \"weekly\", \"start_time\": \"09:30\", "      \
	"\"session_minutes\": 240, \"location_kind\": \"community_venue\""

/* Eight weekly modules from Monday 8 March 2027: Easter Monday (29 March),
 * the closure (19 April) and the Early May bank holiday (3 May) are skipped;
 * the clocks go forward on 28 March, so 09:30 local is 09:30Z before and
 * 08:30Z after. */
static const char weekly_dates[] = "m1 2027-03-08 09:30-13:30 2027-03-08T09:30:00Z|"
                                   "m2 2027-03-15 09:30-13:30 2027-03-15T09:30:00Z|"
                                   "m3 2027-03-22 09:30-13:30 2027-03-22T09:30:00Z|"
                                   "m4 2027-04-05 09:30-13:30 2027-04-05T08:30:00Z|"
                                   "m5 2027-04-12 09:30-13:30 2027-04-12T08:30:00Z|"
                                   "m6 2027-04-26 09:30-13:30 2027-04-26T08:30:00Z|"
                                   "m7 2027-05-10 09:30-13:30 2027-05-10T08:30:00Z|"
                                   "m8 2027-05-17 09:30-13:30 2027-05-17T08:30:00Z";

/* --- tests -------------------------------------------------------------- */

START_TEST(weekly_across_bank_holidays_closure_and_clock_change)
{
	long long prog = course(org_a, 8, 6);
	closure(org_a, "2027-04-19", "Regime change");
	json_t *tt = new_cohort(coord_a, prog, WEEKLY);
	ck_assert_str_eq(sessions_text(tt), weekly_dates);
	long long coh = num(json_object_get(tt, "cohort"), "id");

	/* The cohort ends with its last session; the plan is what was asked. */
	ck_assert_str_eq(str(json_object_get(tt, "cohort"), "ends_on"), "2027-05-17");
	json_t *plan = json_object_get(tt, "plan");
	ck_assert_str_eq(str(plan, "pattern"), "weekly");
	ck_assert_str_eq(str(plan, "start_time"), "09:30");
	ck_assert_int_eq(num(plan, "session_minutes"), 240);

	/* Exactly eight sessions, nothing laid on a closed day, each an
	 * ordinary core session of the cohort: module key, module title,
	 * taken by enrolment. */
	SQL_EQ("8", "SELECT count(*) FROM core.session WHERE cohort_id = %lld", coh);
	SQL_EQ("0",
	       "SELECT count(*) FROM core.session s WHERE s.cohort_id = %lld AND"
	       " (s.starts_at AT TIME ZONE 'Europe/London')::date IN ('2027-03-29', '2027-04-19',"
	       " '2027-05-03')",
	       coh);
	SQL_EQ("8",
	       "SELECT count(*) FROM core.session WHERE cohort_id = %lld AND booking_mode ="
	       " 'enrolled' AND title = 'Module ' || substr(module, 2) AND NOT catch_up"
	       " AND status = 'scheduled' AND ends_at - starts_at = '4 hours'",
	       coh);
	json_t *m6 = session_of(tt, "m6");
	ck_assert(flag(m6, "guests"));
	ck_assert(flag(m6, "guest_approval_missing"));
	ck_assert(!flag(session_of(tt, "m5"), "guest_approval_missing"));

	/* The timetable reads back the same (not for a facilitator who does
	 * not run the course); audited. */
	expect(call(fac_a, "GET", path(GC "/cohorts/%lld/timetable", coh), NULL), 404,
	       "core.not_found", NULL);
	json_decref(tt);
	tt = ok(call(coord_a, "GET", path(GC "/cohorts/%lld/timetable", coh), NULL), 200);
	ck_assert_str_eq(sessions_text(tt), weekly_dates);
	json_decref(tt);
	SQL_EQ("1",
	       "SELECT count(*) FROM core.audit WHERE action = 'group_course.cohort_create' AND"
	       " object_id = %lld AND actor_staff_id = %lld AND request_id IS NOT NULL AND"
	       " remote_addr IS NOT NULL",
	       coh, coord_id);
	SQL_EQ(
	    "1",
	    "SELECT count(*) FROM core.audit WHERE action = 'cohort.create' AND object_id = %lld",
	    coh);
}
END_TEST

START_TEST(alternating_days_morning_and_afternoon)
{
	long long prog = course(org_a, 12, 0);
	/* Mondays and Wednesdays from 15 March 2027: two days, one day, two
	 * days ...; Easter Monday is skipped, so that fortnight's Wednesday
	 * follows; the clocks go forward on 28 March. */
	json_t *tt = new_cohort(coord_a, prog,
	                        "\"starts_on\": \"2027-03-15\", \"pattern\": \"alternating_days\", "
	                        "\"morning_start\": \"09:30\", \"afternoon_start\": \"13:00\", "
	                        "\"session_minutes\": 150, \"location_kind\": \"prison\"");
	ck_assert_str_eq(sessions_text(tt), "m1 2027-03-15 09:30-12:00 2027-03-15T09:30:00Z|"
	                                    "m2 2027-03-15 13:00-15:30 2027-03-15T13:00:00Z|"
	                                    "m3 2027-03-17 09:30-12:00 2027-03-17T09:30:00Z|"
	                                    "m4 2027-03-17 13:00-15:30 2027-03-17T13:00:00Z|"
	                                    "m5 2027-03-22 09:30-12:00 2027-03-22T09:30:00Z|"
	                                    "m6 2027-03-22 13:00-15:30 2027-03-22T13:00:00Z|"
	                                    "m7 2027-03-31 09:30-12:00 2027-03-31T08:30:00Z|"
	                                    "m8 2027-03-31 13:00-15:30 2027-03-31T12:00:00Z|"
	                                    "m9 2027-04-05 09:30-12:00 2027-04-05T08:30:00Z|"
	                                    "m10 2027-04-05 13:00-15:30 2027-04-05T12:00:00Z|"
	                                    "m11 2027-04-12 09:30-12:00 2027-04-12T08:30:00Z|"
	                                    "m12 2027-04-12 13:00-15:30 2027-04-12T12:00:00Z");
	ck_assert_str_eq(str(json_object_get(tt, "plan"), "morning_start"), "09:30");
	ck_assert_int_eq(num(json_object_get(tt, "plan"), "second_day_offset"), 2);
	json_decref(tt);

	/* Six full days over four weeks (Tuesdays and Thursdays from 12
	 * October 2027), across the October clock change (31 October): 09:30
	 * is 08:30Z in summer time and 09:30Z after. */
	tt = new_cohort(coord_a, prog,
	                "\"starts_on\": \"2027-10-12\", \"pattern\": \"alternating_days\", "
	                "\"location_kind\": \"prison\"");
	ck_assert_str_eq(sessions_text(tt), "m1 2027-10-12 09:30-12:00 2027-10-12T08:30:00Z|"
	                                    "m2 2027-10-12 13:00-15:30 2027-10-12T12:00:00Z|"
	                                    "m3 2027-10-14 09:30-12:00 2027-10-14T08:30:00Z|"
	                                    "m4 2027-10-14 13:00-15:30 2027-10-14T12:00:00Z|"
	                                    "m5 2027-10-19 09:30-12:00 2027-10-19T08:30:00Z|"
	                                    "m6 2027-10-19 13:00-15:30 2027-10-19T12:00:00Z|"
	                                    "m7 2027-10-26 09:30-12:00 2027-10-26T08:30:00Z|"
	                                    "m8 2027-10-26 13:00-15:30 2027-10-26T12:00:00Z|"
	                                    "m9 2027-10-28 09:30-12:00 2027-10-28T08:30:00Z|"
	                                    "m10 2027-10-28 13:00-15:30 2027-10-28T12:00:00Z|"
	                                    "m11 2027-11-02 09:30-12:00 2027-11-02T09:30:00Z|"
	                                    "m12 2027-11-02 13:00-15:30 2027-11-02T13:00:00Z");
	ck_assert_str_eq(str(json_object_get(tt, "cohort"), "ends_on"), "2027-11-02");
	json_decref(tt);

	/* Christmas 2027 to New Year 2028, weekly on Mondays from 20
	 * December: both substitute days (27 December, 3 January) skipped. */
	long long prog3 = course(org_a, 3, 0);
	tt = new_cohort(coord_a, prog3,
	                "\"starts_on\": \"2027-12-20\", \"pattern\": \"weekly\", "
	                "\"start_time\": \"18:00\", \"session_minutes\": 90, "
	                "\"location_kind\": \"community_venue\"");
	ck_assert_str_eq(sessions_text(tt), "m1 2027-12-20 18:00-19:30 2027-12-20T18:00:00Z|"
	                                    "m2 2028-01-10 18:00-19:30 2028-01-10T18:00:00Z|"
	                                    "m3 2028-01-17 18:00-19:30 2028-01-17T18:00:00Z");
	json_decref(tt);
}
END_TEST

START_TEST(relay_after_a_lost_day_keeps_attendance)
{
	long long prog = course(org_a, 8, 6);
	closure(org_a, "2027-04-19", "Regime change");
	json_t *tt = new_cohort(coord_a, prog, WEEKLY);
	long long coh = num(json_object_get(tt, "cohort"), "id");
	long long s1 = num(session_of(tt, "m1"), "id"), s2 = num(session_of(tt, "m2"), "id");
	long long s3 = num(session_of(tt, "m3"), "id"), s4 = num(session_of(tt, "m4"), "id");
	long long s6 = num(session_of(tt, "m6"), "id");
	json_decref(tt);
	long long ann = person(org_a, "Ann"), bob = person(org_a, "Bob");
	enrol(coh, ann);
	enrol(coh, bob);

	/* The first two weeks happen: registers taken with the core's route. */
	clock_at("2027-03-16T12:00:00Z");
	expect(callf(coord_a, "PUT", path("/api/v1/sessions/%lld/register", s1),
	             "{\"entries\": [{\"person_id\": %lld, \"outcome\": \"attended\"},"
	             " {\"person_id\": %lld, \"outcome\": \"absent_acceptable\"}]}",
	             ann, bob),
	       200, NULL, NULL);
	expect(callf(coord_a, "PUT", path("/api/v1/sessions/%lld/register", s2),
	             "{\"entries\": [{\"person_id\": %lld, \"outcome\": \"attended\"}]}", ann),
	       200, NULL, NULL);
	/* Week three is lost (a lockdown): the core cancels it. */
	expect(callf(coord_a, "POST", path("/api/v1/sessions/%lld/cancel", s3),
	             "{\"reason\": \"Lockdown\"}"),
	       200, NULL, NULL);
	char *before = sqlv("SELECT string_agg(session_id || ':' || person_id || ':' ||"
	                    " outcome_code_id || ':' || version || ':' || recorded_at, ',' ORDER BY"
	                    " session_id, person_id) FROM core.attendance");
	char *kept_rows = sqlv("SELECT string_agg(id || ':' || status || ':' || sequence || ':' ||"
	                       " starts_at || ':' || version, ',' ORDER BY id) FROM core.session"
	                       " WHERE id IN (%lld, %lld)",
	                       s1, s2);

	/* Refusals change nothing: a date already gone, an unknown module,
	 * someone who may not, a cohort out of scope. */
	char *state = sqlv("SELECT count(*) || '/' || sum(sequence) || '/' || count(*) FILTER"
	                   " (WHERE status = 'cancelled') FROM core.session WHERE cohort_id = %lld",
	                   coh);
	char *relay = path(GC "/cohorts/%lld/relay", coh);
	expect(call(coord_a, "POST", relay,
	            "{\"from_module\": \"m2\", \"from_date\": \"2027-03-15\", \"reason\": \"x\"}"),
	       422, "group_course.past_date", "from_date");
	expect(call(coord_a, "POST", relay,
	            "{\"from_module\": \"m99\", \"from_date\": \"2027-04-05\", \"reason\": \"x\"}"),
	       422, "group_course.unknown_module", "from_module");
	expect(call(coord_a, "POST", relay,
	            "{\"from_module\": \"m2\", \"from_date\": \"2027-02-30\", \"reason\": \"x\"}"),
	       400, "group_course.bad_date", "from_date");
	expect(call(coord_a, "POST", relay,
	            "{\"from_module\": \"m2\", \"from_date\": \"2027-04-05\"}"),
	       400, "core.missing_field", "reason");
	expect(call(fac_a, "POST", relay,
	            "{\"from_module\": \"m2\", \"from_date\": \"2027-04-05\", \"reason\": \"x\"}"),
	       403, NULL, NULL);
	expect(call(coord_b, "POST", relay,
	            "{\"from_module\": \"m2\", \"from_date\": \"2027-04-05\", \"reason\": \"x\"}"),
	       404, "core.not_found", NULL);
	SQL_EQ(state,
	       "SELECT count(*) || '/' || sum(sequence) || '/' || count(*) FILTER"
	       " (WHERE status = 'cancelled') FROM core.session WHERE cohort_id = %lld",
	       coh);
	free(state);

	/* Re-lay from module 2 on Monday 5 April: m2 has attendance and is
	 * kept; m3 (lost) and m4..m8 are laid again from 5 April, skipping the
	 * closure, the Early May and the Spring bank holidays. */
	json_t *r = ok(call(coord_a, "POST", relay,
	                    "{\"from_module\": \"m2\", \"from_date\": \"2027-04-05\","
	                    " \"reason\": \"Lockdown: week 3 lost\"}"),
	               200);
	ck_assert_int_eq(json_array_size(json_object_get(r, "kept")), 1);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(r, "kept"), 0)), s2);
	ck_assert_int_eq(json_array_size(json_object_get(r, "cancelled")), 5);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(r, "cancelled"), 0)),
	                 s4);
	ck_assert_int_eq(json_array_size(json_object_get(r, "laid")), 6);
	tt = json_object_get(r, "timetable");
	ck_assert_str_eq(sessions_text(tt), "m1 2027-03-08 09:30-13:30 2027-03-08T09:30:00Z|"
	                                    "m2 2027-03-15 09:30-13:30 2027-03-15T09:30:00Z|"
	                                    "m3 2027-04-05 09:30-13:30 2027-04-05T08:30:00Z|"
	                                    "m4 2027-04-12 09:30-13:30 2027-04-12T08:30:00Z|"
	                                    "m5 2027-04-26 09:30-13:30 2027-04-26T08:30:00Z|"
	                                    "m6 2027-05-10 09:30-13:30 2027-05-10T08:30:00Z|"
	                                    "m7 2027-05-17 09:30-13:30 2027-05-17T08:30:00Z|"
	                                    "m8 2027-05-24 09:30-13:30 2027-05-24T08:30:00Z");
	ck_assert_str_eq(str(json_object_get(tt, "cohort"), "ends_on"), "2027-05-24");
	ck_assert_int_eq(json_array_size(json_object_get(tt, "relays")), 1);
	long long new_m3 = num(session_of(tt, "m3"), "id");
	long long new_m6 = num(session_of(tt, "m6"), "id");
	json_decref(r);

	/* Attendance and the attended sessions untouched. */
	SQL_EQ(
	    before,
	    "SELECT string_agg(session_id || ':' || person_id || ':' || outcome_code_id || ':' ||"
	    " version || ':' || recorded_at, ',' ORDER BY session_id, person_id)"
	    " FROM core.attendance");
	SQL_EQ(kept_rows,
	       "SELECT string_agg(id || ':' || status || ':' || sequence || ':' || starts_at || ':'"
	       " || version, ',' ORDER BY id) FROM core.session WHERE id IN (%lld, %lld)",
	       s1, s2);
	free(before);
	free(kept_rows);
	/* The sessions replaced were cancelled as the core cancels: reason,
	 * SEQUENCE + 1, seats freed; each audited. */
	SQL_EQ("5",
	       "SELECT count(*) FROM core.session WHERE cohort_id = %lld AND status = 'cancelled'"
	       " AND cancel_reason = 'Lockdown: week 3 lost' AND sequence = 1 AND NOT EXISTS"
	       " (SELECT 1 FROM core.seat st WHERE st.session_id = session.id AND st.active)",
	       coh);
	SQL_EQ("5",
	       "SELECT count(*) FROM core.audit a JOIN core.session s ON s.id = a.object_id WHERE"
	       " a.action = 'session.cancel' AND s.cohort_id = %lld AND a.detail ? 'relay_id'",
	       coh);
	SQL_EQ("1",
	       "SELECT count(*) FROM core.audit WHERE action = 'group_course.cohort_relay' AND"
	       " object_id = %lld AND request_id IS NOT NULL",
	       coh);
	/* The people are expected at the new sessions (the core's register). */
	json_t *reg =
	    ok(call(coord_a, "GET", path("/api/v1/sessions/%lld/register", new_m3), NULL), 200);
	ck_assert_int_eq(json_array_size(json_object_get(reg, "entries")), 2);
	json_decref(reg);
	/* The new guest session is flagged (one alert for it), the cancelled
	 * one no longer shows as missing. */
	SQL_EQ("1",
	       "SELECT count(*) FROM core.alert WHERE kind = 'group_course.guest_approval_missing'"
	       " AND session_id = %lld AND resolved_at IS NULL",
	       new_m6);
	tt = ok(call(coord_a, "GET", path(GC "/cohorts/%lld/timetable", coh), NULL), 200);
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(tt, "sessions"), i, s)
	{
		if (num(s, "id") == s6)
			ck_assert(!flag(s, "guest_approval_missing"));
	}
	json_decref(tt);
	clock_reset();
}
END_TEST

START_TEST(catch_up_is_expected_only_of_its_person)
{
	long long prog = course(org_a, 8, 0);
	json_t *tt = new_cohort(coord_a, prog, WEEKLY);
	long long coh = num(json_object_get(tt, "cohort"), "id");
	json_decref(tt);
	long long ann = person(org_a, "Ann"), bob = person(org_a, "Bob");
	long long e_ann = enrol(coh, ann), e_bob = enrol(coh, bob);
	free(sqlv("INSERT INTO core.programme_staff (programme_id, staff_id, role)"
	          " VALUES (%lld, %lld, 'facilitator') RETURNING 1",
	          prog, fac_id));
	char *cu = path(GC "/enrolments/%lld/catch-ups", e_ann);

	/* Refusals: no such module, a bank holiday, a malformed start, callers
	 * who may not. */
	expect(call(coord_a, "POST", cu, "{\"module\": \"m99\", \"start\": \"2027-03-24T14:00\"}"),
	       422, "group_course.unknown_module", "module");
	expect(call(coord_a, "POST", cu, "{\"module\": \"m3\", \"start\": \"2027-03-29T14:00\"}"),
	       422, "group_course.closed_day", "start");
	expect(call(coord_a, "POST", cu, "{\"module\": \"m3\", \"start\": \"24/03/2027\"}"), 400,
	       "core.bad_time", "start");
	expect(call(coord_a, "POST", cu, "{\"module\": \"m3\", \"start\": \"2027-03-01T10:00\"}"),
	       422, "group_course.not_expected", "start"); /* before she joined */
	expect(call(coord_a, "POST", cu,
	            "{\"module\": \"m3\", \"start\": \"2027-03-24T14:00\", \"colour\": 1}"),
	       400, NULL, "colour");
	expect(call(mentor_a, "POST", cu, "{\"module\": \"m3\", \"start\": \"2027-03-24T14:00\"}"),
	       403, NULL, NULL);
	expect(call(fac_other, "POST", cu, "{\"module\": \"m3\", \"start\": \"2027-03-24T14:00\"}"),
	       404, "core.not_found", NULL);
	expect(call(coord_b, "POST", cu, "{\"module\": \"m3\", \"start\": \"2027-03-24T14:00\"}"),
	       404, "core.not_found", NULL);
	SQL_EQ("8", "SELECT count(*) FROM core.session WHERE cohort_id = %lld", coh);

	/* The facilitator who runs the course arranges Ann's catch-up of m3:
	 * 14:00 local on 24 March (still GMT). */
	json_t *c = ok(call(fac_a, "POST", cu,
	                    "{\"module\": \"m3\", \"start\": \"2027-03-24T14:00\","
	                    " \"duration_minutes\": 120}"),
	               201);
	long long sid = num(c, "id");
	ck_assert(flag(c, "catch_up"));
	ck_assert_str_eq(str(c, "module"), "m3");
	ck_assert_str_eq(str(c, "starts_at"), "2027-03-24T14:00:00Z");
	ck_assert_str_eq(str(c, "ends_at"), "2027-03-24T16:00:00Z");
	ck_assert_int_eq(num(c, "cohort_id"), coh);
	ck_assert_int_eq(num(c, "person_id"), ann);
	ck_assert_int_eq(num(c, "catch_up_enrolment_id"), e_ann);
	json_decref(c);

	/* Only Ann has a seat: the register lists her alone. */
	json_t *reg =
	    ok(call(coord_a, "GET", path("/api/v1/sessions/%lld/register", sid), NULL), 200);
	ck_assert_int_eq(json_array_size(json_object_get(reg, "entries")), 1);
	ck_assert_int_eq(num(json_array_get(json_object_get(reg, "entries"), 0), "person_id"), ann);
	json_decref(reg);
	SQL_EQ("invited",
	       "SELECT string_agg(source, ',') FROM core.seat WHERE session_id = %lld"
	       " AND active",
	       sid);
	SQL_EQ("1",
	       "SELECT count(*) FROM core.audit WHERE action = 'group_course.catch_up_create' AND"
	       " object_id = %lld AND person_id = %lld",
	       sid, ann);

	/* Ann's attendance at it is recorded by the core's register. */
	clock_at("2027-03-24T15:00:00Z");
	expect(callf(fac_a, "PUT", path("/api/v1/sessions/%lld/register", sid),
	             "{\"entries\": [{\"person_id\": %lld, \"outcome\": \"attended\"}]}", ann),
	       404, "core.not_found", NULL); /* not staffing it */
	expect(callf(coord_a, "PUT", path("/api/v1/sessions/%lld/register", sid),
	             "{\"entries\": [{\"person_id\": %lld, \"outcome\": \"attended\"}]}", bob),
	       422, "core.not_expected", "entries[0].person_id");
	expect(callf(coord_a, "PUT", path("/api/v1/sessions/%lld/register", sid),
	             "{\"entries\": [{\"person_id\": %lld, \"outcome\": \"attended\"}]}", ann),
	       200, NULL, NULL);
	clock_reset();

	/* The timetable lists it under its module. */
	tt = ok(call(coord_a, "GET", path(GC "/cohorts/%lld/timetable", coh), NULL), 200);
	json_t *mods = json_object_get(tt, "modules");
	json_t *m3 = json_array_get(mods, 2);
	ck_assert_str_eq(str(m3, "key"), "m3");
	ck_assert_int_eq(json_array_size(json_object_get(m3, "catch_up_session_ids")), 1);
	ck_assert_int_eq(
	    json_integer_value(json_array_get(json_object_get(m3, "catch_up_session_ids"), 0)),
	    sid);
	json_decref(tt);

	/* In the facts the completion rule gets, the catch-up is expected of
	 * Ann and of nobody else (so Bob can never be absent from it). */
	SQL_EQ("true",
	       "SELECT x->>'expected' FROM jsonb_array_elements(core.enrolment_facts(%lld)->"
	       "'sessions') x WHERE (x->>'id')::bigint = %lld",
	       e_ann, sid);
	SQL_EQ("false",
	       "SELECT coalesce((SELECT x->>'expected' FROM jsonb_array_elements("
	       "core.enrolment_facts(%lld)->'sessions') x WHERE (x->>'id')::bigint = %lld),"
	       " 'false')",
	       e_bob, sid);
	/* ... and stays so when the cohort's seats are synced again (a new
	 * enrolment, a hold, a closure all do that). */
	enrol(coh, person(org_a, "Cat"));
	SQL_EQ("invited",
	       "SELECT string_agg(source, ',') FROM core.seat WHERE session_id = %lld"
	       " AND active",
	       sid);
}
END_TEST

START_TEST(guest_approvals_flag_alert_and_check)
{
	long long prog = course(org_a, 8, 6);
	closure(org_a, "2027-04-19", "Regime change");
	json_t *tt = new_cohort(coord_a, prog, WEEKLY);
	long long coh = num(json_object_get(tt, "cohort"), "id");
	long long m6 = num(session_of(tt, "m6"), "id"), m5 = num(session_of(tt, "m5"), "id");
	json_decref(tt);
	free(sqlv("INSERT INTO core.programme_staff (programme_id, staff_id, role)"
	          " VALUES (%lld, %lld, 'facilitator') RETURNING 1",
	          prog, fac_id));

	/* One alert, for the coordinators (the core's alert list). */
	json_t *al = ok(
	    call(coord_a, "GET", "/api/v1/alerts?kind=group_course.guest_approval_missing", NULL),
	    200);
	ck_assert_int_eq(json_array_size(json_object_get(al, "items")), 1);
	ck_assert_int_eq(num(json_array_get(json_object_get(al, "items"), 0), "session_id"), m6);
	json_decref(al);

	/* The checks: m6 (26 April) is within 14 days of 20 April, not of 1
	 * April; organisation B and the facilitator who does not run the
	 * course see nothing. */
	clock_at("2027-04-20T12:00:00Z");
	json_t *ck = ok(call(fac_a, "GET", GC "/checks?days=14", NULL), 200);
	ck_assert_int_eq(json_array_size(json_object_get(ck, "items")), 1);
	json_t *item = json_array_get(json_object_get(ck, "items"), 0);
	ck_assert_int_eq(num(item, "session_id"), m6);
	ck_assert_str_eq(str(item, "check"), "guest_approval_missing");
	ck_assert_str_eq(str(item, "starts_at"), "2027-04-26T08:30:00Z");
	ck_assert_str_eq(str(json_object_get(item, "local"), "start"), "09:30");
	json_decref(ck);
	ck = ok(call(coord_a, "GET", GC "/checks", NULL), 200); /* default: 14 days */
	ck_assert_int_eq(num(ck, "days"), 14);
	ck_assert_int_eq(json_array_size(json_object_get(ck, "items")), 1);
	json_decref(ck);
	ck = ok(call(coord_a, "GET", GC "/checks?days=5", NULL), 200);
	ck_assert_int_eq(json_array_size(json_object_get(ck, "items")), 0);
	json_decref(ck);
	ck = ok(call(coord_b, "GET", GC "/checks", NULL), 200);
	ck_assert_int_eq(json_array_size(json_object_get(ck, "items")), 0);
	json_decref(ck);
	ck = ok(call(fac_other, "GET", GC "/checks", NULL), 200);
	ck_assert_int_eq(json_array_size(json_object_get(ck, "items")), 0);
	json_decref(ck);
	expect(call(coord_a, "GET", GC "/checks?days=0", NULL), 400, "core.bad_query", "days");
	expect(call(coord_a, "GET", GC "/checks?days=91", NULL), 400, "core.bad_query", "days");
	expect(call(coord_a, "GET", GC "/checks?dayz=3", NULL), 400, "core.bad_query", NULL);
	expect(call(mentor_a, "GET", GC "/checks", NULL), 403, NULL, NULL);
	expect(call(comm_a, "GET", GC "/checks", NULL), 403, NULL, NULL);

	/* Approving: not for a module without guests, not by a facilitator or
	 * another organisation; then once, and a second time answers the
	 * first. */
	char *ap = path(GC "/sessions/%lld/guest-approval", m6);
	expect(call(coord_a, "POST", path(GC "/sessions/%lld/guest-approval", m5), "{}"), 422,
	       "group_course.no_guests", NULL);
	expect(call(fac_a, "POST", ap, "{}"), 403, NULL, NULL);
	expect(call(coord_b, "POST", ap, "{}"), 404, "core.not_found", NULL);
	expect(call(coord_a, "POST", ap, "{\"note\": 7}"), 400, NULL, "note");
	SQL_EQ("0", "SELECT count(*) FROM group_course.guest_approval");
	json_t *a =
	    ok(call(coord_a, "POST", ap, "{\"note\": \"Employers cleared by security\"}"), 200);
	ck_assert(flag(a, "created"));
	ck_assert_int_eq(num(a, "approved_by"), coord_id);
	json_decref(a);
	a = ok(call(admin_a, "POST", ap, "{}"), 200);
	ck_assert(!flag(a, "created"));
	ck_assert_int_eq(num(a, "approved_by"), coord_id);
	ck_assert_str_eq(str(a, "note"), "Employers cleared by security");
	json_decref(a);
	SQL_EQ("1",
	       "SELECT count(*) FROM core.audit WHERE action = 'group_course.guest_approve' AND"
	       " object_id = %lld",
	       m6);

	/* Cleared everywhere: the timetable, the checks, the alert. */
	tt = ok(call(fac_a, "GET", path(GC "/cohorts/%lld/timetable", coh), NULL), 200);
	ck_assert(!flag(session_of(tt, "m6"), "guest_approval_missing"));
	ck_assert_str_eq(str(json_object_get(session_of(tt, "m6"), "guest_approval"), "note"),
	                 "Employers cleared by security");
	json_decref(tt);
	ck = ok(call(coord_a, "GET", GC "/checks?days=14", NULL), 200);
	ck_assert_int_eq(json_array_size(json_object_get(ck, "items")), 0);
	json_decref(ck);
	SQL_EQ("0",
	       "SELECT count(*) FROM core.alert WHERE kind = 'group_course.guest_approval_missing'"
	       " AND resolved_at IS NULL");
	clock_reset();
}
END_TEST

START_TEST(courses_scope_and_refusals)
{
	long long prog = course(org_a, 8, 6);
	long long other = sqln("INSERT INTO core.programme (org_id, type, name) VALUES (%lld,"
	                       " 'example', 'Not a course') RETURNING id",
	                       org_a);
	long long empty = sqln("INSERT INTO core.programme (org_id, type, name) VALUES (%lld,"
	                       " 'group_course', 'No modules yet') RETURNING id",
	                       org_a);
	long long prog_b = course(org_b, 4, 0);

	/* Body checks, each naming its field, and nothing made. */
	char *before = sqlv("SELECT count(*) FROM core.cohort");
	expect(callf(coord_a, "POST", GC "/cohorts", "{\"programme_id\": %lld, \"name\": \"X\"}",
	             prog),
	       400, "core.missing_field", "starts_on");
	expect(callf(coord_a, "POST", GC "/cohorts",
	             "{\"programme_id\": %lld, \"name\": \"X\", \"starts_on\": \"2027-03-08\","
	             " \"pattern\": \"fortnightly\"}",
	             prog),
	       400, "core.bad_enum", "pattern");
	expect(callf(coord_a, "POST", GC "/cohorts",
	             "{\"programme_id\": %lld, \"name\": \"X\", " WEEKLY ", \"when\": 1}", prog),
	       400, NULL, "when");
	expect(callf(coord_a, "POST", GC "/cohorts",
	             "{\"programme_id\": %lld, \"name\": \"X\", " WEEKLY
	             ", \"morning_start\": \"09:00\"}",
	             prog),
	       400, "group_course.not_for_pattern", "morning_start");
	expect(callf(coord_a, "POST", GC "/cohorts",
	             "{\"programme_id\": %lld, \"name\": \"X\", \"starts_on\": \"2027-02-30\","
	             " \"pattern\": \"weekly\", \"location_kind\": \"prison\"}",
	             prog),
	       400, "group_course.bad_date", "starts_on");
	expect(callf(coord_a, "POST", GC "/cohorts",
	             "{\"programme_id\": %lld, \"name\": \"X\", \"starts_on\": \"2027-03-08\","
	             " \"pattern\": \"weekly\", \"start_time\": \"25:00\","
	             " \"location_kind\": \"prison\"}",
	             prog),
	       400, "group_course.bad_time", "start_time");
	expect(callf(coord_a, "POST", GC "/cohorts",
	             "{\"programme_id\": %lld, \"name\": \"X\", \"starts_on\": \"2027-03-08\","
	             " \"pattern\": \"weekly\"}",
	             prog),
	       422, "group_course.location_required", "location_kind");
	expect(callf(coord_a, "POST", GC "/cohorts",
	             "{\"programme_id\": %lld, \"name\": \"X\", \"starts_on\": \"2027-03-08\","
	             " \"pattern\": \"alternating_days\", \"morning_start\": \"09:30\","
	             " \"afternoon_start\": \"11:00\", \"location_kind\": \"prison\"}",
	             prog),
	       422, "group_course.sessions_overlap", "afternoon_start");
	expect(callf(coord_a, "POST", GC "/cohorts",
	             "{\"programme_id\": %lld, \"name\": \"X\", " WEEKLY
	             ", \"ends_on\": \"2027-04-01\"}",
	             prog),
	       422, "group_course.ends_too_early", "ends_on");
	expect(callf(coord_a, "POST", GC "/cohorts",
	             "{\"programme_id\": %lld, \"name\": \"X\", " WEEKLY "}", other),
	       422, "group_course.not_a_course", "programme_id");
	expect(callf(coord_a, "POST", GC "/cohorts",
	             "{\"programme_id\": %lld, \"name\": \"X\", " WEEKLY "}", empty),
	       422, "group_course.no_modules", "programme_id");
	expect(callf(coord_a, "POST", GC "/cohorts",
	             "{\"programme_id\": %lld, \"name\": \"X\", " WEEKLY "}", prog_b),
	       404, "core.not_found", "programme_id");
	expect(callf(fac_a, "POST", GC "/cohorts",
	             "{\"programme_id\": %lld, \"name\": \"X\", " WEEKLY "}", prog),
	       403, NULL, NULL);
	expect(callf(comm_a, "POST", GC "/cohorts",
	             "{\"programme_id\": %lld, \"name\": \"X\", " WEEKLY "}", prog),
	       403, NULL, NULL);
	SQL_EQ(before, "SELECT count(*) FROM core.cohort");
	free(before);

	/* A cohort, then who sees the course and the timetable: the
	 * organisation's admins and coordinators, the facilitator on the
	 * course's staff; not another facilitator, not organisation B; mentors
	 * and commissioners are refused by role. */
	json_t *tt = new_cohort(admin_a, prog, WEEKLY ", \"capacity\": 12");
	long long coh = num(json_object_get(tt, "cohort"), "id");
	ck_assert_int_eq(num(json_object_get(tt, "cohort"), "capacity"), 12);
	json_decref(tt);
	free(sqlv("INSERT INTO core.programme_staff (programme_id, staff_id, role)"
	          " VALUES (%lld, %lld, 'facilitator') RETURNING 1",
	          prog, fac_id));
	char *tpath = path(GC "/cohorts/%lld/timetable", coh);
	char *cpath = path(GC "/courses/%lld", prog);
	json_decref(ok(call(fac_a, "GET", tpath, NULL), 200));
	expect(call(fac_other, "GET", tpath, NULL), 404, "core.not_found", NULL);
	expect(call(coord_b, "GET", tpath, NULL), 404, "core.not_found", NULL);
	expect(call(mentor_a, "GET", tpath, NULL), 403, NULL, NULL);
	expect(call(coord_a, "GET", path(GC "/cohorts/%lld/timetable", 99999999LL), NULL), 404,
	       "core.not_found", NULL);
	expect(call(coord_a, "GET", GC "/cohorts/x1/timetable", NULL), 404, "core.not_found", NULL);
	expect(call(coord_a, "GET", GC "/cohorts/00012/timetable", NULL), 404, "core.not_found",
	       NULL);

	json_t *c = ok(call(fac_a, "GET", cpath, NULL), 200);
	ck_assert_str_eq(str(c, "access"), "run");
	ck_assert_int_eq(json_array_size(json_object_get(c, "modules")), 8);
	ck_assert_str_eq(str(json_array_get(json_object_get(c, "modules"), 0), "title"),
	                 "Module 1");
	ck_assert(!flag(json_array_get(json_object_get(c, "modules"), 1), "required"));
	ck_assert(flag(json_array_get(json_object_get(c, "modules"), 5), "guests"));
	ck_assert_int_eq(num(json_object_get(c, "counts"), "required"), 7);
	ck_assert_int_eq(json_array_size(json_object_get(c, "cohorts")), 1);
	ck_assert_str_eq(str(json_array_get(json_object_get(c, "cohorts"), 0), "pattern"),
	                 "weekly");
	ck_assert_str_eq(str(c, "rule_version"), "lcp-2027.1");
	json_decref(c);
	c = ok(call(coord_a, "GET", cpath, NULL), 200);
	ck_assert_str_eq(str(c, "access"), "manage");
	json_decref(c);
	expect(call(fac_other, "GET", cpath, NULL), 404, "core.not_found", NULL);
	expect(call(coord_b, "GET", cpath, NULL), 404, "core.not_found", NULL);
	expect(call(comm_a, "GET", cpath, NULL), 403, NULL, NULL);
	expect(call(coord_a, "GET", path(GC "/courses/%lld", other), NULL), 404, "core.not_found",
	       NULL);
	expect(call(coord_a, "GET", path(GC "/courses/%lld?x=1", prog), NULL), 400,
	       "core.bad_query", NULL);

	/* The server loaded the plugin's .so through the loader (this binary
	 * links nothing of it): its migration is in the ledger under its name,
	 * and its routes are in the OpenAPI document, documented. */
	SQL_EQ("1", "SELECT count(*) FROM core.schema_ledger WHERE owner = 'group_course'"
	            " AND version = 1 AND name = 'course'");
	json_t *doc = ok(call(coord_a, "GET", "/api/v1/openapi.json", NULL), 200);
	json_t *paths = json_object_get(doc, "paths");
	ck_assert_ptr_nonnull(json_object_get(paths, GC "/cohorts"));
	ck_assert_ptr_nonnull(json_object_get(paths, GC "/cohorts/{id}/timetable"));
	ck_assert_ptr_nonnull(json_object_get(paths, GC "/cohorts/{id}/relay"));
	ck_assert_ptr_nonnull(json_object_get(paths, GC "/enrolments/{id}/catch-ups"));
	ck_assert_ptr_nonnull(json_object_get(paths, GC "/sessions/{id}/guest-approval"));
	ck_assert_ptr_nonnull(json_object_get(paths, GC "/checks"));
	ck_assert_ptr_nonnull(json_object_get(paths, GC "/courses/{id}"));
	json_decref(doc);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gc_timetable");
	TCase *tc = tcase_create("gc_timetable");
	/* A fresh database and server for each test: they count rows. */
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, weekly_across_bank_holidays_closure_and_clock_change);
	tcase_add_test(tc, alternating_days_morning_and_afternoon);
	tcase_add_test(tc, relay_after_a_lost_day_keeps_attendance);
	tcase_add_test(tc, catch_up_is_expected_only_of_its_person);
	tcase_add_test(tc, guest_approvals_flag_alert_and_check);
	tcase_add_test(tc, courses_scope_and_refusals);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
