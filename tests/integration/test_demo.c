/*
 * The demo data: on an empty database `waymarkd demo` (and demo_load, which
 * it calls) loads the fictional organisations, staff, participants,
 * households, consents, flags, referrals and caseloads the README points at,
 * with their scheduling (programmes, series, cohorts, a term of attendance,
 * bookings with waitlists, anchored meetings), and prints a token per role
 * that works against the server — the coordinator's sees the sessions and a
 * past register through the API; a second run
 * loads nothing and prints fresh tokens; a failure half-way leaves nothing.
 */
#include <check.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo.h"
#include "ts.h"

/* The five roles and the server admin, then the course provider's
 * coordinator and commissioner (the group courses are theirs). */
static const char *const roles[] = {
    "admin",        "coordinator",  "facilitator",         "mentor",
    "commissioner", "server_admin", "courses_coordinator", "courses_commissioner"};
#define N_ROLES (sizeof roles / sizeof roles[0])

/* Everything the demo writes, counted: equal before and after a second run. */
static const char fingerprint_sql[] =
    "SELECT concat_ws(',', (SELECT count(*) FROM core.organisation),"
    " (SELECT count(*) FROM core.staff), (SELECT count(*) FROM core.membership),"
    " (SELECT count(*) FROM core.person), (SELECT count(*) FROM core.person_org),"
    " (SELECT count(*) FROM core.household), (SELECT count(*) FROM core.household_member),"
    " (SELECT count(*) FROM core.person_flag), (SELECT count(*) FROM core.non_association),"
    " (SELECT count(*) FROM core.consent), (SELECT count(*) FROM core.referral),"
    " (SELECT count(*) FROM core.referral_history), (SELECT count(*) FROM core.assignment),"
    " (SELECT count(*) FROM core.audit WHERE action = 'demo.load'),"
    " (SELECT count(*) FROM core.programme), (SELECT count(*) FROM core.programme_staff),"
    " (SELECT count(*) FROM core.venue), (SELECT count(*) FROM core.room),"
    " (SELECT count(*) FROM core.closure), (SELECT count(*) FROM core.cohort),"
    " (SELECT count(*) FROM core.series), (SELECT count(*) FROM core.session),"
    " (SELECT count(*) FROM core.session_staff), (SELECT count(*) FROM core.enrolment),"
    " (SELECT count(*) FROM core.enrolment_hold), (SELECT count(*) FROM core.seat),"
    " (SELECT count(*) FROM core.booking), (SELECT count(*) FROM core.attendance),"
    " (SELECT count(*) FROM core.attendance_history), (SELECT count(*) FROM core.completion),"
    " (SELECT count(*) FROM core.alert))";

/* While assert_demo_data runs: one connection for its many counts (a new
 * connection per count would take most of the test's time). */
static PGconn *counting;

static long long count_of(const char *db, const char *sql)
{
	if (counting) {
		PGresult *res = PQexec(counting, sql);
		ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1,
		              "%s: %s", sql, PQresultErrorMessage(res));
		long long n = atoll(PQgetvalue(res, 0, 0));
		PQclear(res);
		return n;
	}
	char *v = ts_db_value(db, sql);
	ck_assert_msg(v != NULL, "no value from: %s", sql);
	long long n = atoll(v);
	free(v);
	return n;
}

#define ASSERT_COUNT(db, cmp, n, sql)                                                              \
	do {                                                                                       \
		long long got_ = count_of(db, sql);                                                \
		ck_assert_msg(got_ cmp(n), "%lld, expected " #cmp " %d: %s", got_, (int)(n), sql); \
	} while (0)

/* The rest of the line after `prefix` in `out` (malloc'd), or NULL. */
static char *line_after(const char *out, const char *prefix)
{
	size_t plen = strlen(prefix);
	for (const char *p = out; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n >= plen && !strncmp(p, prefix, plen))
			return strndup(p + plen, n - plen);
		p = nl ? nl + 1 : p + n;
	}
	return NULL;
}

/* The token printed for each role: "wm_" and 59 base64url characters. */
static void tokens_of(const char *out, char *tok[N_ROLES])
{
	for (size_t i = 0; i < N_ROLES; i++) {
		char prefix[64];
		snprintf(prefix, sizeof prefix, "token %s ", roles[i]);
		tok[i] = line_after(out, prefix);
		ck_assert_msg(tok[i] != NULL, "no token line for %s in:\n%s", roles[i], out);
		ck_assert_msg(strlen(tok[i]) == 62 && !strncmp(tok[i], "wm_", 3) &&
		                  strspn(tok[i] + 3,
		                         "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		                         "0123456789-_") == 59,
		              "token for %s is malformed: \"%s\"", roles[i], tok[i]);
	}
}

static void free_tokens(char *tok[N_ROLES])
{
	for (size_t i = 0; i < N_ROLES; i++)
		free(tok[i]);
}

static int get_status(const struct ts_server *srv, const char *path, const char *token)
{
	char hdr[128];
	snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", token);
	struct ts_response r;
	ck_assert_int_eq(ts_http(srv, "GET", path, hdr, NULL, 0, 5000, &r), 0);
	int status = r.status;
	ts_response_free(&r);
	return status;
}

/* Every token authenticates: /auth/me answers 200. Until that route exists
 * (a made-up token then gets 404, not 401), a route every role may call
 * stands in: 200, or 403 for the server admin, who holds no role. */
static void assert_tokens_work(const struct ts_server *srv, char *tok[N_ROLES])
{
	const char *bogus = "wm_AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
	const char *path = "/api/v1/auth/me";
	int me = get_status(srv, path, bogus) == 401;
	if (!me)
		path = "/api/v1/example/notes";
	ck_assert_int_eq(get_status(srv, path, bogus), 401);
	for (size_t i = 0; i < N_ROLES; i++) {
		int st = get_status(srv, path, tok[i]);
		ck_assert_msg(st == 200 || (!me && st == 403 && !strcmp(roles[i], "server_admin")),
		              "GET %s with the %s token: %d", path, roles[i], st);
	}
}

/* The coordinator's login line names a demo staff member whose stored
 * hash is of the demo password. */
static void assert_login_line(const char *db, const char *out)
{
	ck_assert_int_ge(sodium_init(), 0);
	char *login = line_after(out, "login ");
	ck_assert_msg(login != NULL, "no login line in:\n%s", out);
	char *sp = strchr(login, ' ');
	ck_assert_msg(sp && !strcmp(sp + 1, "waymark-demo-password"), "login line: %s", login);
	*sp = '\0';
	char sql[512];
	snprintf(sql, sizeof sql,
	         "SELECT s.password_hash FROM core.staff s JOIN core.membership m"
	         " ON m.staff_id = s.id AND m.role = 'coordinator' WHERE s.email = '%s'",
	         login);
	char *hash = ts_db_value(db, sql);
	ck_assert_msg(hash != NULL, "%s is not a coordinator", login);
	ck_assert_int_eq(crypto_pwhash_str_verify(hash, "waymark-demo-password", 21), 0);
	free(hash);
	free(login);
}

/* The moment the demo was loaded (its transaction's now()), as SQL. */
#define LOADED "(SELECT created_at FROM core.audit WHERE action = 'demo.load')"

/* Scheduling: every loaded programme type (only "example" today) has
 * programmes, with venues, closures, weekly series laid out as sessions,
 * cohorts with enrolments and seats, a term of attendance, bookings with
 * waitlists, release-anchored sessions and alerts — all as the API would
 * have written them. */
static void assert_schedule(const char *db)
{
	ASSERT_COUNT(db, ==, 4,
	             "SELECT count(*) FROM core.programme WHERE type = 'example'"
	             " AND time_zone = 'Europe/London' AND name IN ('Life Change Programme',"
	             " 'Family days', 'Through-the-gate mentoring sessions', 'Football sessions')");
	ASSERT_COUNT(db, ==, 0,
	             "SELECT count(*) FROM core.programme pr WHERE NOT EXISTS (SELECT 1"
	             " FROM core.programme_staff ps JOIN core.membership m ON m.staff_id ="
	             " ps.staff_id AND m.org_id = pr.org_id AND m.role IN ('facilitator', 'mentor')"
	             " WHERE ps.programme_id = pr.id)");
	ASSERT_COUNT(db, ==, 0,
	             "SELECT count(*) FROM core.programme_staff ps JOIN core.programme pr"
	             " ON pr.id = ps.programme_id WHERE NOT EXISTS (SELECT 1 FROM"
	             " core.membership m WHERE m.staff_id = ps.staff_id AND m.org_id = pr.org_id)");
	/* Venues of every kind the brief names, rooms, closures. */
	ASSERT_COUNT(db, >=, 1,
	             "SELECT count(*) FROM core.venue WHERE location_kind = 'prison'"
	             " AND public_name IS NOT NULL AND establishment LIKE 'HMP %'");
	ASSERT_COUNT(db, >=, 1,
	             "SELECT count(*) FROM core.venue WHERE location_kind = 'community_venue'");
	ASSERT_COUNT(db, >=, 1,
	             "SELECT count(*) FROM core.room r JOIN core.venue v ON v.id = r.venue_id"
	             " WHERE v.location_kind = 'probation_office'");
	ASSERT_COUNT(db, >=, 1,
	             "SELECT count(*) FROM core.closure WHERE effect = 'skip'"
	             " AND reason LIKE 'Bank holiday: %' AND starts_on > current_date");
	ASSERT_COUNT(
	    db, >=, 1,
	    "SELECT count(*) FROM core.session s JOIN core.closure c ON c.id = s.closure_id"
	    " WHERE c.effect = 'flag' AND s.status = 'scheduled'");
	/* No scheduled session (other than release-anchored ones) on a day its
	 * organisation skips. */
	ASSERT_COUNT(
	    db, ==, 0,
	    "SELECT count(*) FROM core.session s JOIN core.closure c ON c.org_id = s.org_id"
	    " AND c.effect = 'skip' AND (c.venue_id IS NULL OR c.venue_id = s.venue_id)"
	    " AND (s.starts_at AT TIME ZONE 'Europe/London')::date"
	    " BETWEEN c.starts_on AND c.ends_on"
	    " WHERE s.status = 'scheduled' AND s.anchor_person_id IS NULL");

	/* Weekly series of eight, laid out as session rows at the same local
	 * time each week (recurrence_id = start, across clock changes), about
	 * half of them past; one of them booked rather than enrolled. */
	ASSERT_COUNT(db, ==, 4,
	             "SELECT count(*) FROM core.series sr WHERE sr.rrule = 'FREQ=WEEKLY;COUNT=8'"
	             " AND (SELECT count(*) FROM core.session s WHERE s.series_id = sr.id) = 8");
	ASSERT_COUNT(
	    db, ==, 0,
	    "SELECT count(*) FROM core.session s JOIN core.series sr ON sr.id = s.series_id"
	    " WHERE s.recurrence_id IS DISTINCT FROM s.starts_at OR s.ends_at - s.starts_at"
	    " <> sr.duration OR NOT EXISTS (SELECT 1 FROM generate_series(0, 7) n WHERE"
	    " s.starts_at = (sr.dtstart_local + n * interval '7 days') AT TIME ZONE"
	    " sr.time_zone)");
	ASSERT_COUNT(db, ==, 3,
	             "SELECT count(*) FROM core.series sr WHERE sr.cohort_id IS NOT NULL"
	             " AND (SELECT count(*) FROM core.session s WHERE s.series_id = sr.id"
	             "  AND s.starts_at < " LOADED ") >= 3"
	             " AND (SELECT count(*) FROM core.session s WHERE s.series_id = sr.id"
	             "  AND s.starts_at > " LOADED ") >= 3");
	ASSERT_COUNT(db, ==, 1, "SELECT count(*) FROM core.series WHERE booking_mode = 'booked'");
	ASSERT_COUNT(
	    db, ==, 0,
	    "SELECT count(*) FROM core.session s WHERE s.status = 'scheduled' AND NOT EXISTS"
	    " (SELECT 1 FROM core.session_staff ss WHERE ss.session_id = s.id AND ss.active)");

	/* Cohorts of 10-12 held by the organisation; someone on hold (with
	 * the hold), a late joiner, someone who left with a reason. */
	ASSERT_COUNT(
	    db, ==, 3,
	    "SELECT count(*) FROM core.cohort c JOIN core.programme pr ON pr.id = c.programme_id"
	    " WHERE pr.type = 'example' AND (SELECT count(*) FROM core.enrolment e"
	    " WHERE e.cohort_id = c.id) BETWEEN 10 AND 12");
	ASSERT_COUNT(
	    db, ==, 0,
	    "SELECT count(*) FROM core.enrolment e JOIN core.cohort c ON c.id = e.cohort_id"
	    " JOIN core.programme pr ON pr.id = c.programme_id WHERE NOT EXISTS (SELECT 1"
	    " FROM core.person_org po WHERE po.person_id = e.person_id"
	    " AND po.org_id = pr.org_id)");
	ASSERT_COUNT(db, >=, 1,
	             "SELECT count(*) FROM core.enrolment e JOIN core.enrolment_hold h"
	             " ON h.enrolment_id = e.id AND h.ends_at IS NULL WHERE e.status = 'on_hold'");
	ASSERT_COUNT(
	    db, >=, 1,
	    "SELECT count(*) FROM core.enrolment e JOIN core.cohort c ON c.id = e.cohort_id"
	    " WHERE e.status = 'enrolled' AND e.joined_on > c.starts_on");
	ASSERT_COUNT(db, >=, 1,
	             "SELECT count(*) FROM core.enrolment WHERE status = 'left'"
	             " AND left_reason IS NOT NULL");
	/* Seats exactly where an enrolment expects its person (none before
	 * joining, inside a hold or after leaving). */
	ASSERT_COUNT(
	    db, ==, 0,
	    "SELECT count(*) FROM core.enrolment e JOIN core.session s"
	    " ON s.cohort_id = e.cohort_id AND s.status = 'scheduled' AND NOT s.catch_up"
	    " LEFT JOIN core.seat st ON st.session_id = s.id AND st.person_id = e.person_id"
	    " AND st.active AND st.source = 'enrolment'"
	    " WHERE (st.session_id IS NOT NULL) <> core.enrolment_expects(e.id, s.starts_at)");
	ASSERT_COUNT(db, >=, 200,
	             "SELECT count(*) FROM core.seat WHERE source = 'enrolment' AND active");

	/* A term of attendance: every seat of every session over when the demo
	 * was loaded has a register entry, nothing later does; mostly attended,
	 * some late with minutes and reason, absences of both kinds; some
	 * corrected, with the first record kept. */
	ASSERT_COUNT(
	    db, ==, 0,
	    "SELECT count(*) FROM core.seat st JOIN core.session s ON s.id = st.session_id"
	    " WHERE st.active AND s.ends_at <= " LOADED " AND NOT EXISTS (SELECT 1 FROM"
	    " core.attendance a WHERE a.session_id = s.id AND a.person_id = st.person_id)");
	ASSERT_COUNT(
	    db, ==, 0,
	    "SELECT count(*) FROM core.attendance a JOIN core.session s ON s.id = a.session_id"
	    " WHERE s.ends_at > " LOADED " OR NOT EXISTS (SELECT 1 FROM core.seat st"
	    " WHERE st.session_id = s.id AND st.person_id = a.person_id AND st.active)");
	ASSERT_COUNT(db, >=, 50,
	             "SELECT count(*) FROM core.attendance a JOIN core.outcome_code oc"
	             " ON oc.id = a.outcome_code_id WHERE oc.code = 'attended'");
	ASSERT_COUNT(db, ==, 0,
	             "SELECT count(*) FILTER (WHERE oc.attended) < 0.75 * count(*)"
	             " OR bool_or(oc.org_id IS NOT NULL) FROM core.attendance a"
	             " JOIN core.outcome_code oc ON oc.id = a.outcome_code_id");
	ASSERT_COUNT(db, >=, 1,
	             "SELECT count(*) FROM core.attendance a JOIN core.outcome_code oc"
	             " ON oc.id = a.outcome_code_id WHERE oc.code = 'late'"
	             " AND a.late_minutes > 0 AND a.late_reason IS NOT NULL");
	ASSERT_COUNT(db, ==, 2,
	             "SELECT count(DISTINCT oc.reason_class) FROM core.attendance a"
	             " JOIN core.outcome_code oc ON oc.id = a.outcome_code_id"
	             " WHERE oc.reason_class IN ('acceptable', 'unacceptable')");
	ASSERT_COUNT(db, >=, 1, "SELECT count(*) FROM core.attendance_history");
	ASSERT_COUNT(
	    db, ==, 0,
	    "SELECT count(*) FROM core.attendance_history h JOIN core.attendance a"
	    " USING (session_id, person_id) WHERE h.version >= a.version"
	    " OR h.superseded_at > a.recorded_at OR h.outcome_code_id = a.outcome_code_id");
	/* Completion under the core's default rule for every enrolment of the
	 * core's example programmes (group courses are decided by their plugin,
	 * through the completion job, once the server runs: test_gc_course_run). */
	ASSERT_COUNT(
	    db, ==, 0,
	    "SELECT count(*) FROM core.enrolment e JOIN core.cohort co"
	    " ON co.id = e.cohort_id JOIN core.programme pr ON pr.id = co.programme_id"
	    " LEFT JOIN core.completion c ON c.enrolment_id = e.id WHERE pr.type = 'example'"
	    " AND (c.rule_version IS DISTINCT FROM 'core-1'"
	    " OR (e.status = 'left') <> (c.result = 'withdrawn'))");
	ASSERT_COUNT(db, >=, 20,
	             "SELECT count(*) FROM core.completion WHERE result = 'in_progress'");

	/* Bookable sessions in the future, capacity 8-15; session.booked counts
	 * booked and offered bookings; a full one with a waitlist in arrival
	 * order; an open offer; a seat for each booked person. */
	ASSERT_COUNT(db, >=, 6,
	             "SELECT count(*) FROM core.session WHERE booking_mode = 'booked'"
	             " AND anchor_person_id IS NULL AND capacity BETWEEN 8 AND 15"
	             " AND starts_at > " LOADED);
	ASSERT_COUNT(db, ==, 0,
	             "SELECT count(*) FROM core.session s WHERE s.booked <> (SELECT count(*)"
	             " FROM core.booking b WHERE b.session_id = s.id"
	             " AND b.status IN ('booked', 'offered'))");
	ASSERT_COUNT(db, >=, 2,
	             "SELECT count(*) FROM core.session s WHERE s.booked = s.capacity AND"
	             " (SELECT count(*) FROM core.booking b WHERE b.session_id = s.id"
	             "  AND b.status = 'waitlisted') >= 2");
	ASSERT_COUNT(
	    db, ==, 0,
	    "SELECT count(*) FROM core.booking b JOIN core.session s ON s.id = b.session_id"
	    " WHERE s.booking_mode <> 'booked' OR (b.status IN ('waitlisted', 'offered'))"
	    " <> (b.waitlisted_at IS NOT NULL)");
	ASSERT_COUNT(db, ==, 1,
	             "SELECT count(*) FROM core.booking WHERE status = 'offered'"
	             " AND offer_expires_at > now() AND offered_at < now()");
	ASSERT_COUNT(db, ==, 0,
	             "SELECT count(*) FROM core.booking b WHERE (b.status = 'booked') <> EXISTS ("
	             " SELECT 1 FROM core.seat st WHERE st.session_id = b.session_id"
	             " AND st.person_id = b.person_id AND st.active AND st.source = 'booking')");
	ASSERT_COUNT(
	    db, ==, 0,
	    "SELECT count(*) FROM core.booking b JOIN core.session s ON s.id = b.session_id"
	    " WHERE NOT EXISTS (SELECT 1 FROM core.person_org po"
	    " WHERE po.person_id = b.person_id AND po.org_id = s.org_id)");

	/* Release-date anchored meetings: twelve weeks before, and on the day. */
	ASSERT_COUNT(db, ==, 2,
	             "SELECT count(*) FROM core.session s JOIN core.person p"
	             " ON p.id = s.anchor_person_id WHERE s.anchor_offset_days IN (-84, 0)"
	             " AND (s.starts_at AT TIME ZONE 'Europe/London')::date"
	             " = p.expected_release_date + s.anchor_offset_days"
	             " AND EXISTS (SELECT 1 FROM core.booking b WHERE b.session_id = s.id"
	             " AND b.person_id = p.id AND b.status = 'booked')");
	/* Alerts: a keep-apart refusal, a release date missing. */
	ASSERT_COUNT(db, >=, 1,
	             "SELECT count(*) FROM core.alert a JOIN core.non_association n"
	             " ON n.org_id = a.org_id AND a.person_id IN (n.person_a, n.person_b)"
	             " WHERE a.kind = 'core.non_association' AND a.resolved_at IS NULL");
	ASSERT_COUNT(db, ==, 1,
	             "SELECT count(*) FROM core.alert a JOIN core.person p ON p.id = a.person_id"
	             " WHERE a.kind = 'core.release_date_missing'"
	             " AND p.expected_release_date IS NULL");
}

/* GET as `token`; the parsed body (new reference) of a 200 answer. */
static json_t *get_json(const struct ts_server *srv, const char *path, const char *token)
{
	char hdr[128];
	snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", token);
	struct ts_response r;
	ck_assert_int_eq(ts_http(srv, "GET", path, hdr, NULL, 0, 5000, &r), 0);
	ck_assert_msg(r.status == 200, "GET %s: %d %s", path, r.status, r.body ? r.body : "");
	json_t *j = ts_json(&r);
	ck_assert_ptr_nonnull(j);
	ts_response_free(&r);
	return j;
}

/* Through the real server: the demo coordinator (Second Chance Mentoring)
 * lists the sessions of the last five weeks and the next two months — all
 * of the organisation's, local times in Europe/London — and reads the
 * register of a past group session, everyone on it recorded; the mentor
 * who runs the group reads it too. */
static void assert_schedule_api(const struct ts_server *srv, const char *db, char *tok[N_ROLES])
{
	const char *coordinator = tok[1], *mentor = tok[3];
	ck_assert_str_eq(roles[1], "coordinator");
	ck_assert_str_eq(roles[3], "mentor");
	char *range = ts_db_value(db, "SELECT 'from=' || to_char(current_date - 35, 'YYYY-MM-DD')"
	                              " || '&to=' || to_char(current_date + 60, 'YYYY-MM-DD')");
	char path[256];
	snprintf(path, sizeof path, "/api/v1/sessions?%s&limit=100", range);
	json_t *list = get_json(srv, path, coordinator);
	json_t *items = json_object_get(list, "items");
	long long want = count_of(db, "SELECT count(*) FROM core.session s JOIN core.organisation o"
	                              " ON o.id = s.org_id WHERE o.name = 'Second Chance Mentoring'"
	                              " AND (s.starts_at AT TIME ZONE 'Europe/London')::date"
	                              " BETWEEN current_date - 35 AND current_date + 60");
	ck_assert_int_ge(want, 8);
	ck_assert_int_eq((long long)json_array_size(items), want);
	ck_assert(json_is_null(json_object_get(list, "next_cursor")));
	size_t i;
	json_t *it;
	int in_series = 0;
	json_array_foreach(items, i, it)
	{
		json_t *local = json_object_get(it, "local");
		ck_assert_str_eq(json_string_value(json_object_get(local, "time_zone")),
		                 "Europe/London");
		if (!json_is_null(json_object_get(it, "series_id"))) {
			in_series++;
			ck_assert_str_eq(json_string_value(json_object_get(it, "recurrence_id")),
			                 json_string_value(json_object_get(it, "starts_at")));
			ck_assert_str_eq(json_string_value(json_object_get(local, "start")),
			                 "14:00");
		}
	}
	ck_assert_int_eq(in_series, 8);
	json_decref(list);

	char *sid = ts_db_value(db, "SELECT s.id FROM core.session s JOIN core.organisation o"
	                            " ON o.id = s.org_id WHERE o.name = 'Second Chance Mentoring'"
	                            " AND s.cohort_id IS NOT NULL AND s.ends_at < now()"
	                            " ORDER BY s.starts_at LIMIT 1");
	ck_assert_ptr_nonnull(sid);
	char sql[256];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM core.seat WHERE session_id = %s AND active",
	         sid);
	long long seated = count_of(db, sql);
	ck_assert_int_ge(seated, 8);
	snprintf(path, sizeof path, "/api/v1/sessions/%s/register", sid);
	for (int who = 0; who < 2; who++) {
		json_t *reg = get_json(srv, path, who ? mentor : coordinator);
		json_t *entries = json_object_get(reg, "entries");
		ck_assert_int_eq((long long)json_array_size(entries), seated);
		ck_assert(
		    json_is_true(json_object_get(json_object_get(reg, "session"), "started")));
		json_array_foreach(entries, i, it)
		{
			ck_assert(json_is_true(json_object_get(it, "expected")));
			ck_assert(json_is_object(json_object_get(it, "name")));
			json_t *att = json_object_get(it, "attendance");
			ck_assert_msg(json_is_object(att), "no attendance for an entry of %s",
			              path);
			ck_assert_ptr_nonnull(json_string_value(json_object_get(att, "outcome")));
		}
		json_decref(reg);
	}
	free(sid);
	free(range);
}

static void assert_demo_data(const char *db)
{
	counting = PQconnectdb(db);
	ck_assert_msg(PQstatus(counting) == CONNECTION_OK, "%s", PQerrorMessage(counting));
	/* Organisations, and staff in every role in every one of them. */
	ASSERT_COUNT(db, ==, 4,
	             "SELECT count(*) FROM core.organisation WHERE (name, kind::text) IN ("
	             "('Northgate Family Service', 'prison_family_service'),"
	             "('Second Chance Mentoring', 'mentoring_charity'),"
	             "('Life Change Courses', 'course_provider'),"
	             "('Kickstart Sports Trust', 'sports_charity'))");
	ASSERT_COUNT(db, ==, 0,
	             "SELECT count(*) FROM core.organisation o WHERE"
	             " (SELECT count(DISTINCT m.role) FILTER (WHERE m.role IN"
	             "  ('admin', 'coordinator', 'commissioner')) FROM core.membership m"
	             "  WHERE m.org_id = o.id) <> 3"
	             " OR (SELECT count(*) FROM core.membership m"
	             "  WHERE m.org_id = o.id AND m.role = 'facilitator') < 2");
	ASSERT_COUNT(db, >=, 6,
	             "SELECT count(*) FROM core.membership m JOIN core.organisation o"
	             " ON o.id = m.org_id WHERE o.name = 'Second Chance Mentoring'"
	             " AND m.role = 'mentor'");
	ASSERT_COUNT(db, <=, 10,
	             "SELECT count(*) FROM core.membership m JOIN core.organisation o"
	             " ON o.id = m.org_id WHERE o.name = 'Second Chance Mentoring'"
	             " AND m.role = 'mentor'");
	ASSERT_COUNT(db, ==, 5, "SELECT count(DISTINCT role) FROM core.membership");
	ASSERT_COUNT(db, >=, 1,
	             "SELECT count(*) FROM (SELECT staff_id FROM core.membership GROUP BY 1"
	             " HAVING count(DISTINCT org_id) > 1 AND count(DISTINCT role) > 1) x");
	ASSERT_COUNT(db, >=, 1, "SELECT count(*) FROM core.staff WHERE server_admin");
	ASSERT_COUNT(db, ==, 0,
	             "SELECT count(*) FROM core.staff WHERE email !~ "
	             "'@([a-z0-9-]+\\.)*(example|example\\.org)$'");
	ASSERT_COUNT(db, ==, 1,
	             "SELECT count(DISTINCT password_hash) FROM core.staff"
	             " WHERE password_hash LIKE '$argon2id$%'");
	ASSERT_COUNT(db, ==, 0, "SELECT count(*) FROM core.staff WHERE password_hash IS NULL");

	/* Participants: varied, adults 18-65, some held by two organisations
	 * with a consent to share between them. */
	ASSERT_COUNT(db, >=, 90, "SELECT count(*) FROM core.person WHERE is_participant");
	ASSERT_COUNT(db, ==, 0,
	             "SELECT count(*) FROM core.person WHERE is_participant AND ("
	             " date_of_birth > current_date - interval '18 years'"
	             " OR date_of_birth <= current_date - interval '66 years')");
	ASSERT_COUNT(db, >=, 5,
	             "SELECT count(DISTINCT custody_status) FROM core.person WHERE is_participant");
	ASSERT_COUNT(db, >=, 4, "SELECT count(DISTINCT sex) FROM core.person WHERE is_participant");
	ASSERT_COUNT(db, >=, 1,
	             "SELECT count(*) FROM core.person WHERE is_participant"
	             " AND sex = 'not_recorded'");
	ASSERT_COUNT(db, >=, 3,
	             "SELECT count(DISTINCT establishment) FROM core.person"
	             " WHERE establishment LIKE 'HMP %'");
	ASSERT_COUNT(db, >=, 10,
	             "SELECT count(*) FROM core.person WHERE is_participant AND"
	             " expected_release_date BETWEEN current_date AND current_date + 366");
	ASSERT_COUNT(db, >=, 1,
	             "SELECT count(*) FROM core.person WHERE is_participant AND"
	             " expected_release_date < current_date");
	ASSERT_COUNT(db, >=, 1,
	             "SELECT count(*) FROM core.person WHERE is_participant AND"
	             " custody_status = 'in_custody' AND expected_release_date IS NULL");
	ASSERT_COUNT(db, >=, 3, "SELECT count(DISTINCT risk_level) FROM core.person");
	ASSERT_COUNT(db, >=, 1,
	             "SELECT count(*) FROM core.person p WHERE p.is_participant"
	             " AND (SELECT count(*) FROM core.person_org po WHERE po.person_id = p.id) > 1"
	             " AND EXISTS (SELECT 1 FROM core.consent c JOIN core.person_org po"
	             "  ON po.person_id = p.id AND po.org_id = c.recipient_org_id"
	             "  WHERE c.person_id = p.id AND c.purpose = 'share_with_organisation')");

	/* Households with children aged 2-17, held by the household's org. */
	ASSERT_COUNT(db, >=, 10,
	             "SELECT count(DISTINCT household_id) FROM core.household_member"
	             " WHERE relationship = 'child'");
	ASSERT_COUNT(db, ==, 0,
	             "SELECT count(*) FROM core.household_member hm JOIN core.person p"
	             " ON p.id = hm.person_id WHERE hm.relationship = 'child' AND ("
	             " p.is_participant OR p.date_of_birth > current_date - interval '2 years'"
	             " OR p.date_of_birth <= current_date - interval '18 years')");
	ASSERT_COUNT(db, ==, 0,
	             "SELECT count(*) FROM core.household_member hm JOIN core.household h"
	             " ON h.id = hm.household_id WHERE NOT EXISTS (SELECT 1 FROM"
	             " core.person_org po WHERE po.person_id = hm.person_id"
	             " AND po.org_id = h.org_id)");
	ASSERT_COUNT(db, >=, 1,
	             "SELECT count(*) FROM core.household_member"
	             " WHERE relationship = 'grandparent_carer'");
	ASSERT_COUNT(db, >=, 1,
	             "SELECT count(*) FROM core.household_member WHERE relationship = 'partner'");

	/* Flags, non-associations, consents of several purposes (some withdrawn). */
	ASSERT_COUNT(db, >=, 3, "SELECT count(*) FROM core.person_flag WHERE removed_at IS NULL");
	ASSERT_COUNT(db, >=, 2, "SELECT count(*) FROM core.non_association");
	ASSERT_COUNT(db, >=, 4, "SELECT count(DISTINCT purpose) FROM core.consent");
	ASSERT_COUNT(db, >=, 1, "SELECT count(*) FROM core.consent WHERE withdrawn_on IS NOT NULL");

	/* Referrals in every status from every source, each history a legal walk
	 * from 'received' to the referral's status, and chains across orgs. */
	ASSERT_COUNT(db, ==, 7, "SELECT count(DISTINCT status) FROM core.referral");
	ASSERT_COUNT(db, ==, 8, "SELECT count(DISTINCT source) FROM core.referral");
	ASSERT_COUNT(db, ==, 0,
	             "SELECT count(*) FROM core.referral_history h WHERE h.from_status IS NOT NULL"
	             " AND NOT EXISTS (SELECT 1 FROM core.referral_transition t"
	             "  WHERE t.from_status = h.from_status AND t.to_status = h.to_status)");
	ASSERT_COUNT(db, ==, 0,
	             "SELECT count(*) FROM (SELECT h.from_status, h.to_status,"
	             " lag(h.to_status) OVER w AS prev, row_number() OVER w AS n"
	             " FROM core.referral_history h"
	             " WINDOW w AS (PARTITION BY h.referral_id ORDER BY h.id)) x"
	             " WHERE (n = 1 AND (from_status IS NOT NULL OR to_status <> 'received'))"
	             " OR (n > 1 AND from_status IS DISTINCT FROM prev)");
	ASSERT_COUNT(db, ==, 0,
	             "SELECT count(*) FROM core.referral r WHERE (SELECT h.to_status"
	             " FROM core.referral_history h WHERE h.referral_id = r.id"
	             " ORDER BY h.id DESC LIMIT 1) IS DISTINCT FROM r.status");
	ASSERT_COUNT(db, >=, 2,
	             "SELECT count(*) FROM core.referral a JOIN core.referral b"
	             " ON b.id = a.onward_referral_id WHERE a.status = 'referred_on'"
	             " AND b.previous_referral_id = a.id AND b.consent_id IS NOT NULL"
	             " AND b.org_id = a.onward_org_id AND b.org_id <> a.org_id"
	             " AND EXISTS (SELECT 1 FROM core.person_org po"
	             "  WHERE po.person_id = b.person_id AND po.org_id = b.org_id)");
	ASSERT_COUNT(db, >=, 2,
	             "SELECT count(DISTINCT eligibility) FROM core.referral"
	             " WHERE eligibility <> 'not_assessed'");

	/* Caseloads: each mentor of the mentoring charity has 2-4 of its
	 * participants; the course provider's facilitators have some. */
	ASSERT_COUNT(db, ==, 0,
	             "SELECT count(*) FROM core.membership m JOIN core.organisation o"
	             " ON o.id = m.org_id AND o.name = 'Second Chance Mentoring'"
	             " WHERE m.role = 'mentor' AND (SELECT count(*) FROM core.assignment a"
	             "  JOIN core.person_org po ON po.person_id = a.person_id"
	             "  AND po.org_id = a.org_id JOIN core.person p ON p.id = a.person_id"
	             "  WHERE a.staff_id = m.staff_id AND a.org_id = m.org_id AND a.kind = 'mentor'"
	             "  AND a.ended_at IS NULL AND p.is_participant) NOT BETWEEN 2 AND 4");
	ASSERT_COUNT(db, ==, 0,
	             "SELECT count(*) FROM core.membership m JOIN core.organisation o"
	             " ON o.id = m.org_id AND o.name = 'Life Change Courses'"
	             " WHERE m.role = 'facilitator' AND NOT EXISTS (SELECT 1 FROM core.assignment a"
	             "  WHERE a.staff_id = m.staff_id AND a.org_id = m.org_id"
	             "  AND a.kind = 'facilitator')");
	ASSERT_COUNT(db, ==, 1, "SELECT count(*) FROM core.audit WHERE action = 'demo.load'");
	assert_schedule(db);
	PQfinish(counting);
	counting = NULL;
}

/* demo_load into a buffer; returns what it printed (malloc'd). */
static char *load(const char *db, wm_status expect, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	wm_status st = demo_load(db, f, err, errlen);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_msg(st == expect, "demo_load: %d, expected %d (%s)", st, expect, err);
	return buf;
}

static void assert_fresh(char *first[N_ROLES], char *second[N_ROLES])
{
	for (size_t i = 0; i < N_ROLES; i++)
		ck_assert_msg(strcmp(first[i], second[i]) != 0, "the %s token was not fresh",
		              roles[i]);
}

START_TEST(loader_fills_an_empty_database_once)
{
	char *db = ts_db_create("demo");
	struct ts_server srv;
	struct ts_server_opts o = {.database_url = db};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0); /* migrates */
	char err[512] = "";

	double t0 = ts_now();
	char *out = load(db, WM_OK, err, sizeof err);
	double took = ts_now() - t0;
	/* Generous: the load itself takes well under a second. */
	ck_assert_msg(took < 10.0, "the demo took %.1f s", took);
	ck_assert_msg(!strncmp(out, "demo data loaded", 16), "first line: %s", out);
	assert_demo_data(db);
	char *first[N_ROLES];
	tokens_of(out, first);
	assert_tokens_work(&srv, first);
	assert_schedule_api(&srv, db, first);
	assert_login_line(db, out);
	ASSERT_COUNT(db, ==, (int)N_ROLES,
	             "SELECT count(*) FROM core.audit WHERE action = 'token.create'");
	/* Demo tokens stop working after 30 days, and go to demo staff only. */
	ASSERT_COUNT(db, ==, (int)N_ROLES,
	             "SELECT count(*) FROM core.api_token t JOIN core.staff s ON s.id = t.staff_id"
	             " WHERE t.expires_at BETWEEN now() + interval '29 days 23 hours'"
	             " AND now() + interval '30 days' AND s.email LIKE '%.example'");
	char *before = ts_db_value(db, fingerprint_sql);

	/* Again: nothing new, fresh tokens that work too. */
	char *again = load(db, WM_OK, err, sizeof err);
	ck_assert_msg(strstr(again, "demo data already present\n") == again, "%s", again);
	char *after = ts_db_value(db, fingerprint_sql);
	ck_assert_str_eq(after, before);
	char *second[N_ROLES];
	tokens_of(again, second);
	assert_fresh(first, second);
	assert_tokens_work(&srv, second);
	assert_tokens_work(&srv, first);
	ASSERT_COUNT(db, ==, 2 * (int)N_ROLES,
	             "SELECT count(*) FROM core.api_token WHERE name LIKE 'demo %'");

	free_tokens(first);
	free_tokens(second);
	free(before);
	free(after);
	free(out);
	free(again);
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
}
END_TEST

/* A failure half-way (a staff email already taken) rolls everything back,
 * tokens included; an unmigrated database is a clear error. */
START_TEST(a_failure_leaves_nothing)
{
	char *db = ts_db_create("demo_fail");
	char err[512] = "";
	free(load(db, WM_ERR, err, sizeof err));
	ck_assert_msg(strstr(err, "migrated"), "error: %s", err);

	struct ts_server srv;
	struct ts_server_opts o = {.database_url = db};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ck_assert_int_eq(ts_db_exec(db, "INSERT INTO core.staff (email, display_name)"
	                                " VALUES ('ops@waymark.example', 'Already here')"),
	                 0);
	err[0] = '\0';
	char *out = load(db, WM_ERR, err, sizeof err);
	ck_assert_msg(strstr(err, "loading the demo data") && strstr(err, "duplicate"), "error: %s",
	              err);
	ck_assert_msg(!strstr(out, "token"), "printed tokens after a failure: %s", out);
	free(out);
	ASSERT_COUNT(db, ==, 0, "SELECT count(*) FROM core.organisation");
	ASSERT_COUNT(db, ==, 0, "SELECT count(*) FROM core.person");
	ASSERT_COUNT(db, ==, 0, "SELECT count(*) FROM core.api_token");
	ASSERT_COUNT(
	    db, ==, 0,
	    "SELECT count(*) FROM core.audit WHERE action IN ('demo.load', 'token.create')");
	ASSERT_COUNT(db, ==, 1, "SELECT count(*) FROM core.staff");
	ts_db_drop(db);
	free(db);
}
END_TEST

/* A database with organisations but not the demo's (no 'demo.load' row):
 * `waymarkd demo` loads nothing and hands out no token to its real staff. */
START_TEST(no_tokens_on_a_real_database)
{
	char *db = ts_db_create("demo_real");
	struct ts_server srv;
	struct ts_server_opts o = {.database_url = db};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	char *tok = ts_staff_token(db, "A real charity", "boss@charity.example", "admin", 1);
	free(ts_staff_token(db, "A real charity", "coord@charity.example", "coordinator", 0));
	free(ts_staff_token(db, "A real charity", "mentor@charity.example", "mentor", 0));
	const char *fp = "SELECT (SELECT count(*) FROM core.api_token) || ',' ||"
	                 " (SELECT count(*) FROM core.audit) || ',' ||"
	                 " (SELECT count(*) FROM core.organisation)";
	char *before = ts_db_value(db, fp);
	char err[512] = "";
	char *out = load(db, WM_OK, err, sizeof err);
	ck_assert_str_eq(out,
	                 "demo tokens not created: this database does not hold the demo data\n");
	char *after = ts_db_value(db, fp);
	ck_assert_str_eq(after, before);
	free(out);
	free(after);
	free(before);
	free(tok);
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
}
END_TEST

static char *run_demo(const char *db, const char *config)
{
	char *env_url = NULL, *out = NULL, *err = NULL;
	ck_assert_int_ge(asprintf(&env_url, "DATABASE_URL=%s", db), 0);
	const char *argv[] = {"demo", "--config", config, NULL};
	const char *env[] = {env_url, NULL};
	int rc = ts_run(argv, env, &out, &err);
	ck_assert_msg(rc == 0, "waymarkd demo: %d\n%s%s", rc, out, err);
	free(err);
	free(env_url);
	return out;
}

/* The command an operator runs: `waymarkd demo` migrates, loads and prints
 * tokens that work against `waymarkd serve` on the same database. */
START_TEST(waymarkd_demo_prints_working_tokens)
{
	char *db = ts_db_create("demo_cli");
	char dir[] = "/tmp/wm-demo-XXXXXX", *config = NULL;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_ge(asprintf(&config, "%s/waymark.json", dir), 0);
	FILE *f = fopen(config, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{}", f);
	ck_assert_int_eq(fclose(f), 0);

	char *out = run_demo(db, config);
	ck_assert_msg(strstr(out, "demo data loaded"), "%s", out);
	char *first[N_ROLES];
	tokens_of(out, first);
	assert_login_line(db, out);
	assert_demo_data(db);
	char *before = ts_db_value(db, fingerprint_sql);

	struct ts_server srv;
	struct ts_server_opts o = {.database_url = db};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	assert_tokens_work(&srv, first);

	char *again = run_demo(db, config);
	ck_assert_msg(strstr(again, "demo data already present"), "%s", again);
	char *after = ts_db_value(db, fingerprint_sql);
	ck_assert_str_eq(after, before);
	char *second[N_ROLES];
	tokens_of(again, second);
	assert_fresh(first, second);
	assert_tokens_work(&srv, second);
	ck_assert_int_eq(ts_server_stop(&srv), 0);

	free_tokens(first);
	free_tokens(second);
	free(before);
	free(after);
	free(out);
	free(again);
	unlink(config);
	rmdir(dir);
	free(config);
	ts_db_drop(db);
	free(db);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("demo");
	TCase *tc = tcase_create("loader");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, loader_fills_an_empty_database_once);
	tcase_add_test(tc, a_failure_leaves_nothing);
	tcase_add_test(tc, no_tokens_on_a_real_database);
	suite_add_tcase(s, tc);
	tc = tcase_create("cli");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, waymarkd_demo_prints_working_tokens);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
