/*
 * Cohorts, enrolments, holds, non-associations, alerts and release-date
 * anchored sessions, over HTTP against the real server and database.
 *
 * Programmes and sessions are written in SQL (their routes belong to other
 * files), so what is tested here is this area's behaviour: seats follow
 * enrolments (none before the join date, inside a hold or after leaving, so
 * no absence can ever be produced for those sessions), every illegal move
 * of an enrolment is refused with nothing changed, capacity holds under
 * concurrent enrolments, a keep-apart arrangement refuses without naming
 * anyone and leaves an alert for coordinators, a plugin's booking_check can
 * veto, and sessions anchored to a release date move with it.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ts.h"

static struct ts_server srv;
static char *db;
static long long org_a, org_b;
static char *tok_fac, *tok_men, *tok_b, *tok_fac_other;
static long long fac_id;

/* --- helpers --------------------------------------------------------------- */

/* SQL with printf arguments: the first value (malloc'd) or NULL. */
static char *sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sql(const char *fmt, ...)
{
	char q[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(q, sizeof q, fmt, ap);
	va_end(ap);
	ck_assert(n > 0 && (size_t)n < sizeof q);
	return ts_db_value(db, q);
}

static long long sql_id(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long sql_id(const char *fmt, ...)
{
	char q[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q, sizeof q, fmt, ap);
	va_end(ap);
	char *v = ts_db_value(db, q);
	ck_assert_msg(v != NULL, "no value from %s", q);
	long long id = atoll(v);
	free(v);
	return id;
}

/* Asserts the SQL's first value is `want`. */
#define SQL_EQ(want, ...)                                                                          \
	do {                                                                                       \
		char *got_ = sql(__VA_ARGS__);                                                     \
		ck_assert_msg(got_ && !strcmp(got_, want), "SQL gave %s, expected %s",             \
		              got_ ? got_ : "(null)", want);                                       \
		free(got_);                                                                        \
	} while (0)

struct reply {
	int status;
	char *code, *field, *body;
	json_t *json;
};

static void reply_free(struct reply *r)
{
	free(r->code);
	free(r->field);
	free(r->body);
	json_decref(r->json);
}

/* One request as `token` (NULL: the default admin/coordinator of org A). */
static struct reply call(const char *token, const char *method, const char *path, const char *body)
{
	char headers[256] = "";
	struct ts_response r;
	struct reply out = {0};
	if (token)
		snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\n", token);
	if (body)
		strncat(headers, "Content-Type: application/json\r\n",
		        sizeof headers - strlen(headers) - 1);
	ck_assert_int_eq(ts_http(&srv, method, path, headers[0] ? headers : NULL, body,
	                         body ? strlen(body) : 0, 10000, &r),
	                 0);
	out.status = r.status;
	out.code = ts_error_code(&r);
	out.json = ts_json(&r);
	json_t *f = json_object_get(json_object_get(out.json, "error"), "field");
	out.field = json_is_string(f) ? strdup(json_string_value(f)) : NULL;
	out.body = r.body ? strdup(r.body) : strdup("");
	ts_response_free(&r);
	return out;
}

/* A call that must answer `status` (and, for errors, `code`). */
static struct reply expect(const char *token, const char *method, const char *path,
                           const char *body, int status, const char *code)
{
	struct reply r = call(token, method, path, body);
	ck_assert_msg(r.status == status, "%s %s: %d, expected %d: %s", method, path, r.status,
	              status, r.body);
	if (code)
		ck_assert_msg(r.code && !strcmp(r.code, code), "%s %s: code %s, expected %s: %s",
		              method, path, r.code ? r.code : "(none)", code, r.body);
	return r;
}

static long long json_id(const struct reply *r, const char *key)
{
	json_t *v = json_object_get(r->json, key);
	ck_assert_msg(json_is_integer(v), "no integer %s in %s", key, r->body);
	return (long long)json_integer_value(v);
}

static const char *json_str(const struct reply *r, const char *key)
{
	const char *s = json_string_value(json_object_get(r->json, key));
	ck_assert_msg(s != NULL, "no string %s in %s", key, r->body);
	return s;
}

static long long person(long long org, const char *given, const char *extra_cols,
                        const char *extra_vals)
{
	return sql_id(
	    "WITH p AS (INSERT INTO core.person (given_name, family_name%s)"
	    " VALUES ('%s', 'Cohortson'%s) RETURNING id),"
	    " l AS (INSERT INTO core.person_org (person_id, org_id) SELECT id, %lld FROM p)"
	    " SELECT id FROM p",
	    extra_cols, given, extra_vals, org);
}

static long long programme(long long org, const char *type)
{
	return sql_id("INSERT INTO core.programme (org_id, type, name) VALUES (%lld, '%s', "
	              "'Programme %s') RETURNING id",
	              org, type, type);
}

static long long cohort(long long prog, const char *extra)
{
	char body[256], path[64];
	snprintf(body, sizeof body, "{\"name\":\"Group\",\"starts_on\":\"2030-01-07\"%s}", extra);
	snprintf(path, sizeof path, "/api/v1/programmes/%lld/cohorts", prog);
	struct reply r = expect(NULL, "POST", path, body, 201, NULL);
	long long id = json_id(&r, "id");
	reply_free(&r);
	return id;
}

/* A session of the cohort on `day` (local Europe/London) from 10:00 to 12:00. */
static long long session(long long prog, long long coh, const char *day)
{
	return sql_id("INSERT INTO core.session (programme_id, org_id, cohort_id, title, starts_at,"
	              " ends_at, location_kind) SELECT pr.id, pr.org_id, %lld, 'Week', "
	              " ('%s 10:00'::timestamp AT TIME ZONE 'Europe/London'),"
	              " ('%s 12:00'::timestamp AT TIME ZONE 'Europe/London'), 'community_venue'"
	              " FROM core.programme pr WHERE pr.id = %lld RETURNING id",
	              coh, day, day, prog);
}

static long long enrol(long long coh, long long who, const char *joined)
{
	char body[128], path[64];
	snprintf(body, sizeof body, "{\"person_id\":%lld%s%s%s}", who,
	         joined ? ",\"joined_on\":\"" : "", joined ? joined : "", joined ? "\"" : "");
	snprintf(path, sizeof path, "/api/v1/cohorts/%lld/enrolments", coh);
	struct reply r = expect(NULL, "POST", path, body, 201, NULL);
	long long id = json_id(&r, "id");
	reply_free(&r);
	return id;
}

/* The active seats of `who` in cohort `coh`, as "day,day,...". */
static char *seat_days(long long coh, long long who)
{
	return sql("SELECT coalesce(string_agg(to_char(s.starts_at AT TIME ZONE 'Europe/London',"
	           " 'MM-DD'), ',' ORDER BY s.starts_at), '') FROM core.seat st"
	           " JOIN core.session s ON s.id = st.session_id"
	           " WHERE s.cohort_id = %lld AND st.person_id = %lld AND st.active",
	           coh, who);
}

#define SEATS_EQ(coh, who, want)                                                                   \
	do {                                                                                       \
		char *d_ = seat_days(coh, who);                                                    \
		ck_assert_msg(!strcmp(d_, want), "seats %s, expected %s", d_, want);               \
		free(d_);                                                                          \
	} while (0)

/* Every active seat is a session the enrolment expects, and every expected
 * scheduled session has one: no absence can come from an unexpected one. */
static void seats_match_expectation(long long enrolment)
{
	SQL_EQ("0",
	       "SELECT count(*) FROM core.enrolment e JOIN core.session s ON s.cohort_id ="
	       " e.cohort_id AND s.status = 'scheduled' LEFT JOIN core.seat st ON st.session_id ="
	       " s.id AND st.person_id = e.person_id AND st.active WHERE e.id = %lld AND"
	       " core.enrolment_expects(e.id, s.starts_at) <> (st.session_id IS NOT NULL)",
	       enrolment);
}

/* --- fixture ------------------------------------------------------------------ */

static void setup(void)
{
	char config[512];
	db = ts_db_create("cohorts");
	snprintf(config, sizeof config,
	         "{\"plugins\":{\"load\":[\"example\",\"%s/waymark_fixture_hooks.so\"]}}",
	         WAYMARK_TEST_PLUGIN_DIR);
	struct ts_server_opts o = {.database_url = db, .config_json = config};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	ts_server_grant(&srv, db);
	org_a = ts_org_id(db, "Test organisation");
	tok_fac = ts_staff_token(db, "Test organisation", "fac@example.org", "facilitator", 0);
	tok_fac_other =
	    ts_staff_token(db, "Test organisation", "fac2@example.org", "facilitator", 0);
	tok_men = ts_staff_token(db, "Test organisation", "men@example.org", "mentor", 0);
	tok_b = ts_staff_token(db, "Other organisation", "b@example.org", "coordinator", 0);
	org_b = ts_org_id(db, "Other organisation");
	fac_id = ts_staff_id(db, "fac@example.org");
}

static void teardown(void)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
	free(tok_fac);
	free(tok_fac_other);
	free(tok_men);
	free(tok_b);
}

/* --- cohorts ------------------------------------------------------------------- */

START_TEST(cohort_create_read_update)
{
	long long prog = programme(org_a, "example");
	char path[96];
	snprintf(path, sizeof path, "/api/v1/programmes/%lld/cohorts", prog);

	/* Bad input names the field; nothing is created. */
	struct reply r =
	    expect(NULL, "POST", path, "{\"starts_on\":\"2030-01-07\"}", 400, "core.missing_field");
	ck_assert_str_eq(r.field, "name");
	reply_free(&r);
	r = expect(NULL, "POST", path,
	           "{\"name\":\"G\",\"starts_on\":\"2030-02-07\",\"ends_on\":\"2030-01-07\"}", 422,
	           "core.bad_range");
	ck_assert_str_eq(r.field, "ends_on");
	reply_free(&r);
	r = expect(NULL, "POST", path, "{\"name\":\"G\",\"starts_on\":\"2030-02-30\"}", 400,
	           "core.bad_date");
	reply_free(&r);
	r = expect(NULL, "POST", path,
	           "{\"name\":\"G\",\"starts_on\":\"2030-02-03\",\"capacity\":0}", 400, NULL);
	ck_assert_str_eq(r.field, "capacity");
	reply_free(&r);
	r = expect(NULL, "POST", path, "{\"name\":\"G\",\"starts_on\":\"2030-02-03\",\"x\":1}", 400,
	           NULL);
	reply_free(&r);
	SQL_EQ("0", "SELECT count(*) FROM core.cohort WHERE programme_id = %lld", prog);
	/* A stray query parameter is refused. */
	char stray[128];
	snprintf(stray, sizeof stray, "%s?debug=1", path);
	r = expect(NULL, "POST", stray, "{\"name\":\"G\",\"starts_on\":\"2030-02-03\"}", 400,
	           "core.bad_query");
	reply_free(&r);
	/* Facilitators, mentors may not write; another organisation: 404. */
	const char *good = "{\"name\":\"Spring group\",\"starts_on\":\"2030-01-07\","
	                   "\"ends_on\":\"2030-03-01\",\"capacity\":2}";
	r = expect(tok_fac, "POST", path, good, 403, "core.forbidden");
	reply_free(&r);
	r = expect(tok_men, "POST", path, good, 403, "core.forbidden");
	reply_free(&r);
	r = expect(tok_b, "POST", path, good, 404, "core.not_found");
	reply_free(&r);
	SQL_EQ("0", "SELECT count(*) FROM core.cohort WHERE programme_id = %lld", prog);

	r = expect(NULL, "POST", path, good, 201, NULL);
	long long id = json_id(&r, "id");
	ck_assert_str_eq(json_str(&r, "name"), "Spring group");
	ck_assert_str_eq(json_str(&r, "ends_on"), "2030-03-01");
	ck_assert_int_eq(json_id(&r, "capacity"), 2);
	ck_assert_int_eq(json_id(&r, "organisation_id"), org_a);
	reply_free(&r);
	SQL_EQ(
	    "1",
	    "SELECT count(*) FROM core.audit WHERE action = 'cohort.create' AND object_id = %lld",
	    id);

	char one[64], list[128];
	snprintf(one, sizeof one, "/api/v1/cohorts/%lld", id);
	r = expect(NULL, "GET", one, NULL, 200, NULL);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(json_object_get(r.json, "counts"), "places_left")),
	    2);
	reply_free(&r);
	snprintf(list, sizeof list, "%s?x=1", one);
	r = expect(NULL, "GET", list, NULL, 400, "core.bad_query");
	reply_free(&r);
	r = expect(tok_b, "GET", one, NULL, 404, "core.not_found");
	reply_free(&r);
	/* A facilitator sees the cohorts of programmes they run, only. */
	r = expect(tok_fac, "GET", one, NULL, 404, "core.not_found");
	reply_free(&r);
	free(sql("INSERT INTO core.programme_staff (programme_id, staff_id, role)"
	         " VALUES (%lld, %lld, 'facilitator')",
	         prog, fac_id));
	r = expect(tok_fac, "GET", one, NULL, 200, NULL);
	reply_free(&r);
	snprintf(list, sizeof list, "/api/v1/cohorts?programme_id=%lld", prog);
	r = expect(tok_fac, "GET", list, NULL, 200, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 1);
	reply_free(&r);
	r = expect(tok_b, "GET", list, NULL, 200, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 0);
	reply_free(&r);
	r = expect(NULL, "GET", "/api/v1/cohorts?programme_id=abc", NULL, 400, "core.bad_query");
	reply_free(&r);

	/* Updates: version guards, capacity never below the enrolled. */
	r = expect(tok_fac, "PATCH", one, "{\"name\":\"X\"}", 403, "core.forbidden");
	reply_free(&r);
	r = expect(tok_b, "PATCH", one, "{\"name\":\"X\"}", 404, "core.not_found");
	reply_free(&r);
	r = expect(NULL, "PATCH", one, "{\"name\":null}", 400, NULL);
	ck_assert_str_eq(r.field, "name");
	reply_free(&r);
	r = expect(NULL, "PATCH", one, "{\"status\":\"closed\"}", 400, "core.bad_enum");
	reply_free(&r);
	r = expect(NULL, "PATCH", one, "{\"name\":\"Renamed\",\"version\":7}", 409, "core.stale");
	reply_free(&r);
	SQL_EQ("Spring group1", "SELECT name || version FROM core.cohort WHERE id = %lld", id);
	long long p1 = person(org_a, "Ann", "", "");
	long long p2 = person(org_a, "Bea", "", "");
	enrol(id, p1, NULL);
	enrol(id, p2, NULL);
	r = expect(NULL, "PATCH", one, "{\"capacity\":1}", 409, "core.below_enrolled");
	ck_assert_str_eq(r.field, "capacity");
	reply_free(&r);
	r = expect(NULL, "PATCH", one,
	           "{\"name\":\"Renamed\",\"capacity\":null,\"status\":\"running\",\"version\":1}",
	           200, NULL);
	ck_assert_str_eq(json_str(&r, "name"), "Renamed");
	ck_assert(json_is_null(json_object_get(r.json, "capacity")));
	ck_assert_int_eq(json_id(&r, "version"), 2);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(json_object_get(r.json, "counts"), "enrolled")), 2);
	reply_free(&r);
}
END_TEST

/* --- enrolment, holds, leaving ------------------------------------------------- */

/* What a refused move must leave alone. */
static char *fingerprint(long long enrolment)
{
	return sql(
	    "SELECT e.status || '/' || e.version || '/' || coalesce(e.left_on::text, '-')"
	    " || '/' || (SELECT count(*) FROM core.enrolment_hold h WHERE h.enrolment_id ="
	    " e.id) || '/' || (SELECT count(*) FROM core.enrolment_hold h WHERE"
	    " h.enrolment_id = e.id AND h.ends_at IS NULL) || '/' || (SELECT count(*) FROM"
	    " core.seat st JOIN core.session s ON s.id = st.session_id WHERE s.cohort_id ="
	    " e.cohort_id AND st.person_id = e.person_id AND st.active) FROM core.enrolment e"
	    " WHERE e.id = %lld",
	    enrolment);
}

static void refused_unchanged(long long enrolment, const char *move, const char *body, int status,
                              const char *code)
{
	char path[96];
	char *before = fingerprint(enrolment);
	snprintf(path, sizeof path, "/api/v1/enrolments/%lld/%s", enrolment, move);
	struct reply r = expect(NULL, "POST", path, body, status, code);
	reply_free(&r);
	char *after = fingerprint(enrolment);
	ck_assert_msg(!strcmp(before, after), "%s changed the enrolment: %s -> %s", move, before,
	              after);
	free(before);
	free(after);
}

START_TEST(enrolment_holds_and_seats)
{
	long long prog = programme(org_a, "example");
	long long coh = cohort(prog, "");
	const char *days[] = {"2030-01-07", "2030-01-14", "2030-01-21", "2030-01-28", "2030-02-04"};
	for (int i = 0; i < 5; i++)
		session(prog, coh, days[i]);
	long long who = person(org_a, "Cal", "", "");
	char path[96];

	/* Late join: nothing before the join date. */
	long long e = enrol(coh, who, "2030-01-14");
	SEATS_EQ(coh, who, "01-14,01-21,01-28,02-04");
	seats_match_expectation(e);
	SQL_EQ("1",
	       "SELECT count(*) FROM core.audit WHERE action = 'enrolment.create' AND object_id = "
	       "%lld",
	       e);

	/* Illegal moves from enrolled: resume. Bad input: nothing changed. */
	refused_unchanged(e, "resume", NULL, 409, "core.illegal_transition");
	refused_unchanged(e, "hold", "{\"reason\":\"holiday\"}", 400, "core.bad_enum");
	refused_unchanged(e, "hold", "{\"starts_at\":\"2030-01-20T00:00:00Z\"}", 400,
	                  "core.missing_field");
	refused_unchanged(e, "hold", "{\"reason\":\"recall\",\"starts_at\":\"yesterday\"}", 400,
	                  "core.bad_time");
	refused_unchanged(e, "leave", "{\"left_on\":\"2030-01-01\",\"reason\":\"withdrew\"}", 422,
	                  "core.bad_date");
	refused_unchanged(e, "leave", "{\"left_on\":\"2030-02-01\"}", 400, "core.missing_field");

	/* Facilitators and mentors may not move; another organisation: 404. */
	snprintf(path, sizeof path, "/api/v1/enrolments/%lld/hold", e);
	struct reply r = expect(tok_fac, "POST", path, "{\"reason\":\"recall\"}", 403, NULL);
	reply_free(&r);
	r = expect(tok_men, "POST", path, "{\"reason\":\"recall\"}", 403, NULL);
	reply_free(&r);
	r = expect(tok_b, "POST", path, "{\"reason\":\"recall\"}", 404, "core.not_found");
	reply_free(&r);

	/* On hold from 20 January: the sessions inside the hold are not expected. */
	r = expect(NULL, "POST", path,
	           "{\"reason\":\"prison_transfer\",\"starts_at\":\"2030-01-20T00:00\","
	           "\"note\":\"Moved to another prison\"}",
	           200, NULL);
	ck_assert_str_eq(json_str(&r, "status"), "on_hold");
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "holds")), 1);
	reply_free(&r);
	SEATS_EQ(coh, who, "01-14");
	seats_match_expectation(e);
	refused_unchanged(e, "hold", "{\"reason\":\"recall\"}", 409, "core.illegal_transition");
	refused_unchanged(e, "resume", "{\"at\":\"2030-01-10T00:00:00Z\"}", 422, "core.bad_range");
	refused_unchanged(e, "resume", "{\"at\":\"2030-01-31\",\"x\":1}", 400, NULL);

	/* Resumed on 30 January: the last session is expected again. */
	snprintf(path, sizeof path, "/api/v1/enrolments/%lld/resume", e);
	r = expect(NULL, "POST", path, "{\"at\":\"2030-01-30T00:00:00Z\"}", 200, NULL);
	ck_assert_str_eq(json_str(&r, "status"), "enrolled");
	json_t *h = json_array_get(json_object_get(r.json, "holds"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(h, "ends_at")), "2030-01-30T00:00:00Z");
	reply_free(&r);
	SEATS_EQ(coh, who, "01-14,02-04");
	seats_match_expectation(e);

	/* Leaving on 4 February: nothing from that day on. */
	snprintf(path, sizeof path, "/api/v1/enrolments/%lld/leave", e);
	r = expect(NULL, "POST", path, "{\"left_on\":\"2030-02-04\",\"reason\":\"transfer\"}", 200,
	           NULL);
	ck_assert_str_eq(json_str(&r, "status"), "left");
	ck_assert_str_eq(json_str(&r, "left_reason"), "transfer");
	reply_free(&r);
	SEATS_EQ(coh, who, "01-14");
	seats_match_expectation(e);

	/* Every move out of left is refused, with nothing changed. */
	refused_unchanged(e, "hold", "{\"reason\":\"recall\"}", 409, "core.illegal_transition");
	refused_unchanged(e, "resume", NULL, 409, "core.illegal_transition");
	refused_unchanged(e, "leave", "{\"left_on\":\"2030-02-05\",\"reason\":\"other\"}", 409,
	                  "core.illegal_transition");
	/* And the trigger refuses any status write outside the table. */
	ck_assert_int_eq(ts_db_exec(db,
	                            "UPDATE core.enrolment SET status = 'enrolled', left_on = NULL,"
	                            " left_reason = NULL WHERE status = 'left'"),
	                 -1);

	/* Leaving while on hold ends the open hold. */
	long long who2 = person(org_a, "Dee", "", "");
	long long e2 = enrol(coh, who2, "2030-01-07");
	snprintf(path, sizeof path, "/api/v1/enrolments/%lld/hold", e2);
	r = expect(NULL, "POST", path,
	           "{\"reason\":\"recall\",\"starts_at\":\"2030-01-15T09:00Z\"}", 200, NULL);
	reply_free(&r);
	SEATS_EQ(coh, who2, "01-07,01-14");
	snprintf(path, sizeof path, "/api/v1/enrolments/%lld/leave", e2);
	r = expect(NULL, "POST", path, "{\"left_on\":\"2030-01-25\",\"reason\":\"recalled\"}", 200,
	           NULL);
	h = json_array_get(json_object_get(r.json, "holds"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(h, "ends_at")), "2030-01-25T00:00:00Z");
	reply_free(&r);
	SEATS_EQ(coh, who2, "01-07,01-14");
	seats_match_expectation(e2);

	/* Reads: the enrolment with its holds; facilitators running the programme. */
	snprintf(path, sizeof path, "/api/v1/enrolments/%lld", e2);
	r = expect(NULL, "GET", path, NULL, 200, NULL);
	ck_assert_str_eq(json_str(&r, "status"), "left");
	/* Leaving decided the completion again: the core's rule (the example
	 * plugin has none) says withdrawn. */
	ck_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(r.json, "completion"), "result")),
	    "withdrawn");
	reply_free(&r);
	r = expect(tok_fac_other, "GET", path, NULL, 404, "core.not_found");
	reply_free(&r);
	r = expect(tok_b, "GET", path, NULL, 404, "core.not_found");
	reply_free(&r);
	snprintf(path, sizeof path, "/api/v1/enrolments/%lld?x=1", e2);
	r = expect(NULL, "GET", path, NULL, 400, "core.bad_query");
	reply_free(&r);
	snprintf(path, sizeof path, "/api/v1/cohorts/%lld/enrolments?status=left&limit=1", coh);
	r = expect(NULL, "GET", path, NULL, 200, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 1);
	ck_assert(json_is_string(json_object_get(r.json, "next_cursor")));
	reply_free(&r);
	snprintf(path, sizeof path, "/api/v1/cohorts/%lld/enrolments?status=gone", coh);
	r = expect(NULL, "GET", path, NULL, 400, "core.bad_query");
	reply_free(&r);
	/* A facilitator on the programme's staff sees the participants' names. */
	long long who3 = person(org_a, "Eve", "", "");
	enrol(coh, who3, NULL);
	free(sql("INSERT INTO core.programme_staff (programme_id, staff_id, role)"
	         " VALUES (%lld, %lld, 'facilitator')",
	         prog, fac_id));
	snprintf(path, sizeof path, "/api/v1/cohorts/%lld/enrolments", coh);
	r = expect(tok_fac, "GET", path, NULL, 200, NULL);
	ck_assert_msg(strstr(r.body, "\"Eve\"") != NULL, "facilitator does not see names: %s",
	              r.body);
	reply_free(&r);
	r = expect(tok_fac_other, "GET", path, NULL, 404, "core.not_found");
	reply_free(&r);
	r = expect(tok_fac, "POST", path, "{\"person_id\":1}", 403, "core.forbidden");
	reply_free(&r);
}
END_TEST

START_TEST(enrolment_refusals_and_capacity)
{
	long long prog = programme(org_a, "example");
	long long coh = cohort(prog, ",\"capacity\":2");
	char path[96], body[96];
	snprintf(path, sizeof path, "/api/v1/cohorts/%lld/enrolments", coh);
	long long a = person(org_a, "Fay", "", ""), b = person(org_a, "Gus", "", "");
	long long c = person(org_a, "Hal", "", ""), foreign = person(org_b, "Ivo", "", "");

	/* Bad input names the field; a person the organisation does not hold is not found. */
	struct reply r = expect(NULL, "POST", path, "{}", 400, "core.missing_field");
	ck_assert_str_eq(r.field, "person_id");
	reply_free(&r);
	snprintf(body, sizeof body, "{\"person_id\":%lld,\"joined_on\":\"2030-13-01\"}", a);
	r = expect(NULL, "POST", path, body, 400, "core.bad_date");
	ck_assert_str_eq(r.field, "joined_on");
	reply_free(&r);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", foreign);
	r = expect(NULL, "POST", path, body, 404, "core.not_found");
	ck_assert_str_eq(r.field, "person_id");
	reply_free(&r);
	snprintf(body, sizeof body, "{\"person_id\":%lld,\"referral_id\":99999}", a);
	r = expect(NULL, "POST", path, body, 404, "core.not_found");
	ck_assert_str_eq(r.field, "referral_id");
	reply_free(&r);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", a);
	r = expect(tok_b, "POST", path, body, 404, "core.not_found");
	reply_free(&r);
	SQL_EQ("0", "SELECT count(*) FROM core.enrolment WHERE cohort_id = %lld", coh);

	enrol(coh, a, NULL);
	r = expect(NULL, "POST", path, body, 409, "core.conflict");
	reply_free(&r);
	enrol(coh, b, NULL);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", c);
	r = expect(NULL, "POST", path, body, 409, "core.cohort_full");
	reply_free(&r);
	SQL_EQ("2", "SELECT count(*) FROM core.enrolment WHERE cohort_id = %lld", coh);

	/* Concurrent enrolments never exceed the capacity. */
	long long coh2 = cohort(prog, ",\"capacity\":3");
	enum { N = 12 };
	long long people[N];
	for (int i = 0; i < N; i++)
		people[i] = person(org_a, "Racer", "", "");
	snprintf(path, sizeof path, "/api/v1/cohorts/%lld/enrolments", coh2);
	pid_t kids[N];
	for (int i = 0; i < N; i++) {
		kids[i] = fork();
		ck_assert(kids[i] >= 0);
		if (kids[i] == 0) {
			char b2[64], hdr[256];
			struct ts_response resp;
			snprintf(b2, sizeof b2, "{\"person_id\":%lld}", people[i]);
			snprintf(hdr, sizeof hdr,
			         "Authorization: Bearer %s\r\nContent-Type: application/json\r\n",
			         srv.token);
			if (ts_http(&srv, "POST", path, hdr, b2, strlen(b2), 20000, &resp) != 0)
				_exit(3);
			char *code = ts_error_code(&resp);
			int rc = resp.status == 201 ? 0
			         : resp.status == 409 && code && !strcmp(code, "core.cohort_full")
			             ? 1
			             : 2;
			_exit(rc);
		}
	}
	int ok = 0, full = 0, other = 0;
	for (int i = 0; i < N; i++) {
		int st;
		waitpid(kids[i], &st, 0);
		int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 9;
		ok += rc == 0;
		full += rc == 1;
		other += rc > 1;
	}
	ck_assert_msg(ok == 3 && full == N - 3 && other == 0, "ok %d full %d other %d", ok, full,
	              other);
	SQL_EQ("3", "SELECT count(*) FROM core.enrolment WHERE cohort_id = %lld", coh2);

	/* A closed cohort takes nobody. */
	long long coh3 = cohort(prog, "");
	free(sql("UPDATE core.cohort SET status = 'running' WHERE id = %lld", coh3));
	free(sql("UPDATE core.cohort SET status = 'finished' WHERE id = %lld", coh3));
	snprintf(path, sizeof path, "/api/v1/cohorts/%lld/enrolments", coh3);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", c);
	r = expect(NULL, "POST", path, body, 409, "core.cohort_closed");
	reply_free(&r);
}
END_TEST

/* A seat that would overlap another of the person's sessions: 409, nothing changed. */
START_TEST(enrolment_person_clash)
{
	long long prog = programme(org_a, "example");
	long long x = cohort(prog, ""), y = cohort(prog, "");
	long long sx = session(prog, x, "2030-03-04");
	long long sy =
	    sql_id("INSERT INTO core.session (programme_id, org_id, cohort_id, title,"
	           " starts_at, ends_at, location_kind) SELECT programme_id, org_id, %lld,"
	           " 'Other', starts_at + interval '1 hour', ends_at + interval '1 hour',"
	           " 'prison' FROM core.session WHERE id = %lld RETURNING id",
	           y, sx);
	long long who = person(org_a, "Jo", "", "");
	enrol(x, who, NULL);
	char path[96], body[64], want[64];
	snprintf(path, sizeof path, "/api/v1/cohorts/%lld/enrolments", y);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", who);
	struct reply r = expect(NULL, "POST", path, body, 409, "core.person_clash");
	ck_assert_str_eq(r.field, "person_id");
	snprintf(want, sizeof want, "session %lld", sx);
	ck_assert_msg(strstr(r.body, want) != NULL, "the clash is not named: %s", r.body);
	reply_free(&r);
	SQL_EQ("0", "SELECT count(*) FROM core.enrolment WHERE cohort_id = %lld", y);
	SQL_EQ("0", "SELECT count(*) FROM core.seat WHERE session_id = %lld", sy);

	/* Resuming would bring back a seat that now overlaps another: refused. */
	long long z = cohort(prog, ""), w = cohort(prog, "");
	session(prog, z, "2030-05-06");
	long long sz = session(prog, z, "2030-05-13");
	long long sw =
	    sql_id("INSERT INTO core.session (programme_id, org_id, cohort_id, title,"
	           " starts_at, ends_at, location_kind) SELECT programme_id, org_id, %lld,"
	           " 'Other', starts_at + interval '1 hour', ends_at + interval '1 hour',"
	           " 'prison' FROM core.session WHERE id = %lld RETURNING id",
	           w, sz);
	long long ez = enrol(z, who, NULL);
	snprintf(path, sizeof path, "/api/v1/enrolments/%lld/hold", ez);
	r = expect(NULL, "POST", path,
	           "{\"reason\":\"health\",\"starts_at\":\"2030-05-01T00:00Z\"}", 200, NULL);
	reply_free(&r);
	enrol(w, who, NULL);
	SQL_EQ("t", "SELECT active FROM core.seat WHERE session_id = %lld AND person_id = %lld", sw,
	       who);
	refused_unchanged(ez, "resume", "{\"at\":\"2030-05-10T00:00Z\"}", 409, "core.person_clash");
	SQL_EQ("f", "SELECT active FROM core.seat WHERE session_id = %lld AND person_id = %lld", sz,
	       who);
}
END_TEST

/* --- non-associations and alerts ------------------------------------------------ */

START_TEST(keep_apart_and_alerts)
{
	long long prog = programme(org_a, "example");
	long long coh = cohort(prog, "");
	long long a = person(org_a, "Kim", "", ""), b = person(org_a, "Lou", "", "");
	long long c = person(org_a, "Max", "", "");
	free(
	    sql("INSERT INTO core.non_association (org_id, person_a, person_b) VALUES (%lld, %lld, "
	        "%lld)",
	        org_a, a < b ? a : b, a < b ? b : a));
	/* Another organisation's arrangement does not apply to this one's cohort. */
	free(sql("INSERT INTO core.person_org (person_id, org_id) VALUES (%lld, %lld)", a, org_b));
	free(sql("INSERT INTO core.person_org (person_id, org_id) VALUES (%lld, %lld)", c, org_b));
	free(
	    sql("INSERT INTO core.non_association (org_id, person_a, person_b) VALUES (%lld, %lld, "
	        "%lld)",
	        org_b, a < c ? a : c, a < c ? c : a));
	long long ea = enrol(coh, a, NULL);
	enrol(coh, c, NULL);

	char path[96], body[64], idtext[32];
	snprintf(path, sizeof path, "/api/v1/cohorts/%lld/enrolments", coh);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", b);
	struct reply r = expect(NULL, "POST", path, body, 409, "core.keep_apart");
	ck_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(r.json, "error"), "message")),
	    "This person cannot join this cohort: a keep-apart arrangement applies. A "
	    "coordinator has been alerted.");
	snprintf(idtext, sizeof idtext, "%lld", a);
	ck_assert_msg(!strstr(r.body, "Kim") && !strstr(r.body, idtext), "names someone: %s",
	              r.body);
	reply_free(&r);
	SQL_EQ("0", "SELECT count(*) FROM core.enrolment WHERE person_id = %lld", b);
	/* The alert is kept (the refusal did not roll it back), naming both in detail. */
	char want[64];
	snprintf(want, sizeof want, "[%lld, %lld]", b, a);
	SQL_EQ(want,
	       "SELECT detail->>'person_ids' FROM core.alert WHERE kind = 'core.non_association'"
	       " AND person_id = %lld AND cohort_id = %lld AND org_id = %lld",
	       b, coh, org_a);
	/* A retry does not pile up alerts. */
	r = expect(NULL, "POST", path, body, 409, "core.keep_apart");
	reply_free(&r);
	SQL_EQ("1", "SELECT count(*) FROM core.alert WHERE person_id = %lld", b);

	/* Listing: coordinators of the organisation only. */
	r = expect(NULL, "GET", "/api/v1/alerts?kind=core.non_association", NULL, 200, NULL);
	json_t *items = json_object_get(r.json, "items");
	ck_assert_int_eq(json_array_size(items), 1);
	long long alert = json_integer_value(json_object_get(json_array_get(items, 0), "id"));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "status")),
	                 "open");
	ck_assert_msg(!strstr(r.body, "Kim") && !strstr(r.body, "Lou"), "names someone: %s",
	              r.body);
	reply_free(&r);
	r = expect(tok_b, "GET", "/api/v1/alerts", NULL, 200, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 0);
	reply_free(&r);
	r = expect(tok_fac, "GET", "/api/v1/alerts", NULL, 403, "core.forbidden");
	reply_free(&r);
	r = expect(NULL, "GET", "/api/v1/alerts?kind=Bad", NULL, 400, "core.bad_query");
	reply_free(&r);
	r = expect(NULL, "GET", "/api/v1/alerts?status=all", NULL, 400, "core.bad_query");
	reply_free(&r);
	r = expect(NULL, "GET", "/api/v1/alerts?colour=red", NULL, 400, "core.bad_query");
	reply_free(&r);
	snprintf(path, sizeof path, "/api/v1/alerts?person_id=%lld", a);
	r = expect(NULL, "GET", path, NULL, 200, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 0);
	reply_free(&r);

	/* Resolving. */
	snprintf(path, sizeof path, "/api/v1/alerts/%lld/resolve", alert);
	r = expect(tok_b, "POST", path, NULL, 404, "core.not_found");
	reply_free(&r);
	r = expect(tok_men, "POST", path, NULL, 403, "core.forbidden");
	reply_free(&r);
	SQL_EQ("open",
	       "SELECT CASE WHEN resolved_at IS NULL THEN 'open' END FROM core.alert"
	       " WHERE id = %lld",
	       alert);
	r = expect(NULL, "POST", path, NULL, 200, NULL);
	ck_assert_str_eq(json_str(&r, "status"), "resolved");
	reply_free(&r);
	r = expect(NULL, "POST", path, "{}", 409, "core.already_resolved");
	reply_free(&r);
	r = expect(NULL, "GET", "/api/v1/alerts", NULL, 200, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 0);
	reply_free(&r);
	r = expect(NULL, "GET", "/api/v1/alerts?status=resolved", NULL, 200, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 1);
	reply_free(&r);

	/* Once the other person has left, the arrangement no longer blocks. */
	snprintf(path, sizeof path, "/api/v1/enrolments/%lld/leave", ea);
	r = expect(NULL, "POST", path, "{\"left_on\":\"2030-01-07\",\"reason\":\"withdrew\"}", 200,
	           NULL);
	reply_free(&r);
	enrol(coh, b, NULL);
}
END_TEST

/* The programme's plugin vetoes through booking_check, changing nothing. */
START_TEST(plugin_booking_check)
{
	long long prog = programme(org_a, "fixture_hooks");
	long long coh = cohort(prog, "");
	long long remand = person(org_a, "Ned", ", custody_status", ", 'remand'");
	long long free_person = person(org_a, "Ola", ", custody_status", ", 'on_licence'");
	char path[96], body[64];
	snprintf(path, sizeof path, "/api/v1/cohorts/%lld/enrolments", coh);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", remand);
	struct reply r = expect(NULL, "POST", path, body, 422, "fixture_hooks.not_eligible");
	ck_assert_str_eq(r.field, "person_id");
	reply_free(&r);
	SQL_EQ("0", "SELECT count(*) FROM core.enrolment WHERE cohort_id = %lld", coh);
	enrol(coh, free_person, NULL);
}
END_TEST

/* --- release-date anchoring ---------------------------------------------------- */

START_TEST(release_date_anchoring)
{
	long long prog = programme(org_a, "example");
	long long who = person(org_a, "Pip", ", expected_release_date", ", '2030-06-10'");
	long long none = person(org_a, "Quin", "", "");
	char path[96], body[512];
	snprintf(path, sizeof path, "/api/v1/people/%lld/milestones", who);

	/* Bad input names the field; nothing is scheduled. */
	snprintf(body, sizeof body,
	         "{\"programme_id\":%lld,\"title\":\"12 weeks out\",\"offset_days\":-84,"
	         "\"local_time\":\"25:00\",\"duration_minutes\":60,\"location_kind\":\"prison\"}",
	         prog);
	struct reply r = expect(NULL, "POST", path, body, 400, "core.bad_time");
	ck_assert_str_eq(r.field, "local_time");
	reply_free(&r);
	snprintf(body, sizeof body,
	         "{\"programme_id\":%lld,\"title\":\"Far\",\"offset_days\":5000,"
	         "\"local_time\":\"10:00\",\"duration_minutes\":60,\"location_kind\":\"prison\"}",
	         prog);
	r = expect(NULL, "POST", path, body, 400, NULL);
	ck_assert_str_eq(r.field, "offset_days");
	reply_free(&r);
	SQL_EQ("0", "SELECT count(*) FROM core.session WHERE anchor_person_id = %lld", who);

	snprintf(body, sizeof body,
	         "{\"programme_id\":%lld,\"title\":\"12 weeks out\",\"offset_days\":-84,"
	         "\"local_time\":\"10:00\",\"duration_minutes\":60,\"location_kind\":\"prison\","
	         "\"staff\":[{\"staff_id\":%lld,\"role\":\"mentor\"}]}",
	         prog, fac_id);
	r = expect(tok_fac, "POST", path, body, 403, "core.forbidden");
	reply_free(&r);
	r = expect(tok_b, "POST", path, body, 404, "core.not_found");
	reply_free(&r);
	r = expect(NULL, "POST", path, body, 201, NULL);
	long long early = json_id(&r, "id");
	/* 18 March 2030, 10:00 in London (GMT). */
	ck_assert_str_eq(json_str(&r, "starts_at"), "2030-03-18T10:00:00Z");
	ck_assert_int_eq(json_id(&r, "sequence"), 0);
	reply_free(&r);
	snprintf(body, sizeof body,
	         "{\"programme_id\":%lld,\"title\":\"Release day\",\"offset_days\":0,"
	         "\"local_time\":\"09:30\",\"duration_minutes\":90,\"location_kind\":\"prison\"}",
	         prog);
	r = expect(NULL, "POST", path, body, 201, NULL);
	long long day = json_id(&r, "id");
	/* 10 June 2030, 09:30 in London (BST). */
	ck_assert_str_eq(json_str(&r, "starts_at"), "2030-06-10T08:30:00Z");
	reply_free(&r);
	SQL_EQ("2",
	       "SELECT count(*) FROM core.seat WHERE person_id = %lld AND active"
	       " AND source = 'booking'",
	       who);
	/* A second one at the same time overlaps the first: refused, nothing kept. */
	snprintf(body, sizeof body,
	         "{\"programme_id\":%lld,\"title\":\"Twice\",\"offset_days\":-84,"
	         "\"local_time\":\"10:30\",\"duration_minutes\":30,\"location_kind\":\"prison\"}",
	         prog);
	r = expect(NULL, "POST", path, body, 409, "core.person_clash");
	reply_free(&r);
	long long b_staff = ts_staff_id(db, "b@example.org");
	snprintf(body, sizeof body,
	         "{\"programme_id\":%lld,\"title\":\"Led\",\"offset_days\":-30,"
	         "\"local_time\":\"10:30\",\"duration_minutes\":30,\"location_kind\":\"prison\","
	         "\"staff\":[{\"staff_id\":%lld}]}",
	         prog, b_staff);
	r = expect(NULL, "POST", path, body, 422, "core.not_member");
	reply_free(&r);
	SQL_EQ("2", "SELECT count(*) FROM core.session WHERE anchor_person_id = %lld", who);
	SQL_EQ("2", "SELECT count(*) FROM core.booking WHERE person_id = %lld", who);

	/* The release date moves (through the people API): so do the sessions. */
	char ppath[64];
	snprintf(ppath, sizeof ppath, "/api/v1/people/%lld", who);
	r = expect(NULL, "PATCH", ppath, "{\"expected_release_date\":\"2030-07-01\"}", 200, NULL);
	reply_free(&r);
	/* 8 April 2030 is after the clocks went forward: 10:00 BST. */
	SQL_EQ(
	    "2030-04-08T09:00:00Z/1",
	    "SELECT core.utc_text(starts_at) || '/' || sequence FROM core.session WHERE id = %lld",
	    early);
	SQL_EQ("2030-07-01T08:30:00Z/2030-07-01T10:00:00Z/1",
	       "SELECT core.utc_text(starts_at) || '/' || core.utc_text(ends_at) || '/' || sequence"
	       " FROM core.session WHERE id = %lld",
	       day);
	/* Seats and staff follow. */
	SQL_EQ("1",
	       "SELECT count(*) FROM core.seat st JOIN core.session s ON s.id = st.session_id"
	       " WHERE s.id = %lld AND st.during = s.during AND st.active",
	       early);
	SQL_EQ("1",
	       "SELECT count(*) FROM core.session_staff ss JOIN core.session s ON s.id ="
	       " ss.session_id WHERE s.id = %lld AND ss.during = s.during",
	       early);

	/* A move that would overlap another of the person's sessions fails: nothing moves. */
	long long other = programme(org_a, "example");
	long long coh = cohort(other, "");
	session(other, coh, "2030-04-29"); /* 10:00-12:00 London */
	enrol(coh, who, NULL);
	r = expect(NULL, "PATCH", ppath, "{\"expected_release_date\":\"2030-07-22\"}", 409,
	           "core.person_clash");
	reply_free(&r);
	SQL_EQ("2030-07-01/2030-04-08T09:00:00Z/1",
	       "SELECT p.expected_release_date || '/' || core.utc_text(s.starts_at) || '/' ||"
	       " s.sequence FROM core.person p, core.session s WHERE p.id = %lld AND s.id = %lld",
	       who, early);

	/* Cleared: sessions stay, coordinators are alerted. */
	r = expect(NULL, "PATCH", ppath, "{\"expected_release_date\":null}", 200, NULL);
	reply_free(&r);
	SQL_EQ(
	    "2030-04-08T09:00:00Z/1",
	    "SELECT core.utc_text(starts_at) || '/' || sequence FROM core.session WHERE id = %lld",
	    early);
	SQL_EQ("1",
	       "SELECT count(*) FROM core.alert WHERE kind = 'core.release_date_missing'"
	       " AND person_id = %lld AND org_id = %lld AND resolved_at IS NULL",
	       who, org_a);
	/* Set again by SQL: the trigger moves them, whoever writes. */
	free(sql("UPDATE core.person SET expected_release_date = '2030-06-10' WHERE id = %lld",
	         who));
	SQL_EQ(
	    "2030-03-18T10:00:00Z/2",
	    "SELECT core.utc_text(starts_at) || '/' || sequence FROM core.session WHERE id = %lld",
	    early);

	/* Without a release date: refused, and the alert stays. */
	snprintf(path, sizeof path, "/api/v1/people/%lld/milestones", none);
	snprintf(body, sizeof body,
	         "{\"programme_id\":%lld,\"title\":\"Gate\",\"offset_days\":0,"
	         "\"local_time\":\"08:00\",\"duration_minutes\":60,\"location_kind\":\"prison\"}",
	         prog);
	r = expect(NULL, "POST", path, body, 422, "core.release_date_missing");
	reply_free(&r);
	SQL_EQ("0", "SELECT count(*) FROM core.session WHERE anchor_person_id = %lld", none);
	SQL_EQ("1",
	       "SELECT count(*) FROM core.alert WHERE kind = 'core.release_date_missing'"
	       " AND person_id = %lld",
	       none);
	snprintf(path, sizeof path, "/api/v1/alerts?kind=core.release_date_missing&person_id=%lld",
	         none);
	r = expect(NULL, "GET", path, NULL, 200, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 1);
	reply_free(&r);
}
END_TEST

/* --- review fixes --------------------------------------------------------------- */

/* A hold cannot erase what was recorded: not before the join date, not over a
 * session with attendance recorded, not inside another hold. A late (past)
 * hold with nothing recorded since is fine, and audited as backdated without
 * its reason; its note is for admins and coordinators only. */
START_TEST(holds_cannot_erase_attendance)
{
	long long prog = programme(org_a, "example");
	long long coh = cohort(prog, "");
	const char *days[] = {"2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26"};
	long long s[4];
	for (int i = 0; i < 4; i++)
		s[i] = session(prog, coh, days[i]);
	long long who = person(org_a, "Rae", "", "");
	long long e = enrol(coh, who, "2026-01-05");
	SEATS_EQ(coh, who, "01-05,01-12,01-19,01-26");
	/* An absence recorded on 12 January. */
	free(sql("INSERT INTO core.attendance (session_id, person_id, outcome_code_id)"
	         " SELECT %lld, %lld, id FROM core.outcome_code WHERE org_id IS NULL"
	         " AND code = 'absent_unacceptable'",
	         s[1], who));

	char path[96], want[64];
	snprintf(path, sizeof path, "/api/v1/enrolments/%lld/hold", e);
	/* Before the join date. */
	refused_unchanged(e, "hold", "{\"reason\":\"health\",\"starts_at\":\"2026-01-04T12:00\"}",
	                  422, "core.bad_date");
	struct reply r =
	    expect(NULL, "POST", path, "{\"reason\":\"health\",\"starts_at\":\"2026-01-04T12:00\"}",
	           422, "core.bad_date");
	ck_assert_str_eq(r.field, "starts_at");
	reply_free(&r);
	/* Before (or at) the session whose absence is recorded. */
	refused_unchanged(e, "hold", "{\"reason\":\"health\",\"starts_at\":\"2026-01-10T00:00\"}",
	                  422, "core.attendance_recorded");
	refused_unchanged(e, "hold", "{\"reason\":\"health\",\"starts_at\":\"2026-01-12T10:00\"}",
	                  422, "core.attendance_recorded");
	r = expect(NULL, "POST", path,
	           "{\"reason\":\"health\",\"starts_at\":\"2026-01-06T00:00Z\"}", 422,
	           "core.attendance_recorded");
	ck_assert_str_eq(r.field, "starts_at");
	snprintf(want, sizeof want, "session %lld", s[1]);
	ck_assert_msg(strstr(r.body, want) != NULL, "the session is not named: %s", r.body);
	reply_free(&r);
	SQL_EQ("1",
	       "SELECT count(*) FROM core.seat WHERE session_id = %lld AND person_id = %lld"
	       " AND active",
	       s[1], who);

	/* After it, though in the past (a transfer recorded late): accepted. */
	r = expect(NULL, "POST", path,
	           "{\"reason\":\"health\",\"starts_at\":\"2026-01-15T00:00\","
	           "\"note\":\"Hospital: cardiac ward\"}",
	           200, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(
	                     json_array_get(json_object_get(r.json, "holds"), 0), "note")),
	                 "Hospital: cardiac ward");
	reply_free(&r);
	SEATS_EQ(coh, who, "01-05,01-12");
	seats_match_expectation(e);
	/* Audited as backdated, naming the fields and not their values. */
	SQL_EQ("true/[\"note\", \"reason\", \"starts_at\"]/false/false",
	       "SELECT (detail->>'backdated') || '/' || (detail->>'fields') || '/' ||"
	       " (detail ? 'reason') || '/' || (detail::text LIKE '%%health%%') FROM core.audit"
	       " WHERE action = 'enrolment.hold' AND object_id = %lld",
	       e);

	/* The note: admins and coordinators only; facilitators running the
	 * programme see the coded reason. */
	free(sql("INSERT INTO core.programme_staff (programme_id, staff_id, role)"
	         " VALUES (%lld, %lld, 'facilitator')",
	         prog, fac_id));
	snprintf(path, sizeof path, "/api/v1/enrolments/%lld", e);
	r = expect(tok_fac, "GET", path, NULL, 200, NULL);
	json_t *h = json_array_get(json_object_get(r.json, "holds"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(h, "reason")), "health");
	ck_assert_msg(json_object_get(h, "note") == NULL && !strstr(r.body, "cardiac"),
	              "a facilitator sees the note: %s", r.body);
	reply_free(&r);

	/* Resumed on 22 January; a new hold inside the first one: 409. */
	snprintf(path, sizeof path, "/api/v1/enrolments/%lld/resume", e);
	r = expect(NULL, "POST", path, "{\"at\":\"2026-01-22T00:00\"}", 200, NULL);
	reply_free(&r);
	SEATS_EQ(coh, who, "01-05,01-12,01-26");
	refused_unchanged(e, "hold", "{\"reason\":\"recall\",\"starts_at\":\"2026-01-20T00:00\"}",
	                  409, "core.conflict");
	snprintf(path, sizeof path, "/api/v1/enrolments/%lld/hold", e);
	r = expect(NULL, "POST", path, "{\"reason\":\"recall\",\"starts_at\":\"2026-01-16T00:00\"}",
	           409, "core.conflict");
	ck_assert_str_eq(r.field, "starts_at");
	reply_free(&r);
	/* The database refuses overlapping holds from any writer. */
	ck_assert_int_eq(ts_db_exec(db,
	                            "INSERT INTO core.enrolment_hold (enrolment_id, starts_at,"
	                            " ends_at, reason) SELECT enrolment_id, starts_at + interval"
	                            " '1 hour', NULL, 'other' FROM core.enrolment_hold"),
	                 -1);
	/* From the day it ended: fine. */
	r = expect(NULL, "POST", path, "{\"reason\":\"recall\",\"starts_at\":\"2026-01-22T00:00\"}",
	           200, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "holds")), 2);
	reply_free(&r);
	SEATS_EQ(coh, who, "01-05,01-12");
	SQL_EQ("[\"note\", \"reason\", \"starts_at\"]|[\"reason\", \"starts_at\"]",
	       "SELECT string_agg(detail->>'fields', '|' ORDER BY id) FROM core.audit"
	       " WHERE action = 'enrolment.hold' AND object_id = %lld",
	       e);
}
END_TEST

/* Moving the release date keeps anchored sessions at their local time, or
 * fails when that time does not exist (or happens twice) on the new date. */
START_TEST(release_date_move_across_clock_change)
{
	long long prog = programme(org_a, "example");
	long long who = person(org_a, "Sol", ", expected_release_date", ", '2027-03-21'");
	char path[96], body[512], want[64];
	snprintf(path, sizeof path, "/api/v1/people/%lld/milestones", who);
	snprintf(body, sizeof body,
	         "{\"programme_id\":%lld,\"title\":\"Gate pick-up\",\"offset_days\":0,"
	         "\"local_time\":\"01:30\",\"duration_minutes\":60,\"location_kind\":\"prison\"}",
	         prog);
	struct reply r = expect(NULL, "POST", path, body, 201, NULL);
	long long ms = json_id(&r, "id");
	ck_assert_str_eq(json_str(&r, "starts_at"), "2027-03-21T01:30:00Z");
	reply_free(&r);

	char ppath[64];
	snprintf(ppath, sizeof ppath, "/api/v1/people/%lld", who);
	snprintf(want, sizeof want, "session %lld", ms);
	/* 01:30 on 28 March 2027 does not exist in London. */
	r = expect(NULL, "PATCH", ppath, "{\"expected_release_date\":\"2027-03-28\"}", 422,
	           "core.nonexistent_time");
	ck_assert_str_eq(r.field, "expected_release_date");
	ck_assert_msg(strstr(r.body, want) != NULL, "the session is not named: %s", r.body);
	reply_free(&r);
	/* 01:30 on 31 October 2027 happens twice. */
	r = expect(NULL, "PATCH", ppath, "{\"expected_release_date\":\"2027-10-31\"}", 422,
	           "core.ambiguous_time");
	ck_assert_str_eq(r.field, "expected_release_date");
	ck_assert_msg(strstr(r.body, want) != NULL, "the session is not named: %s", r.body);
	reply_free(&r);
	SQL_EQ("2027-03-21/2027-03-21T01:30:00Z/0",
	       "SELECT p.expected_release_date || '/' || core.utc_text(s.starts_at) || '/' ||"
	       " s.sequence FROM core.person p, core.session s WHERE p.id = %lld AND s.id = %lld",
	       who, ms);
	/* A week later it exists again: 01:30 BST. */
	r = expect(NULL, "PATCH", ppath, "{\"expected_release_date\":\"2027-04-04\"}", 200, NULL);
	reply_free(&r);
	SQL_EQ("2027-04-04T00:30:00Z/2027-04-04T01:30:00Z/1",
	       "SELECT core.utc_text(starts_at) || '/' || core.utc_text(ends_at) || '/' || sequence"
	       " FROM core.session WHERE id = %lld",
	       ms);
}
END_TEST

/* Milestone staff: the roles that may staff a session, not commissioners;
 * the release-date alert raised on refusal is audited. */
START_TEST(milestone_staff_and_alert_audit)
{
	long long prog = programme(org_a, "example");
	long long who = person(org_a, "Tam", ", expected_release_date", ", '2030-09-02'");
	long long none = person(org_a, "Uma", "", "");
	char *tok_k = ts_staff_token(db, "Test organisation", "k@example.org", "commissioner", 0);
	free(tok_k);
	long long k_id = ts_staff_id(db, "k@example.org");
	char path[96], body[512];
	snprintf(path, sizeof path, "/api/v1/people/%lld/milestones", who);
	snprintf(body, sizeof body,
	         "{\"programme_id\":%lld,\"title\":\"Plan\",\"offset_days\":-14,"
	         "\"local_time\":\"10:00\",\"duration_minutes\":60,\"location_kind\":\"prison\","
	         "\"staff\":[{\"staff_id\":%lld},{\"staff_id\":%lld}]}",
	         prog, fac_id, k_id);
	struct reply r = expect(NULL, "POST", path, body, 422, "core.not_member");
	ck_assert_str_eq(r.field, "staff");
	reply_free(&r);
	SQL_EQ("0", "SELECT count(*) FROM core.session WHERE anchor_person_id = %lld", who);
	snprintf(body, sizeof body,
	         "{\"programme_id\":%lld,\"title\":\"Plan\",\"offset_days\":-14,"
	         "\"local_time\":\"10:00\",\"duration_minutes\":60,\"location_kind\":\"prison\","
	         "\"staff\":[{\"staff_id\":%lld}]}",
	         prog, fac_id);
	r = expect(NULL, "POST", path, body, 201, NULL);
	reply_free(&r);

	snprintf(path, sizeof path, "/api/v1/people/%lld/milestones", none);
	snprintf(body, sizeof body,
	         "{\"programme_id\":%lld,\"title\":\"Gate\",\"offset_days\":0,"
	         "\"local_time\":\"08:00\",\"duration_minutes\":60,\"location_kind\":\"prison\"}",
	         prog);
	r = expect(NULL, "POST", path, body, 422, "core.release_date_missing");
	reply_free(&r);
	SQL_EQ("1",
	       "SELECT count(*) FROM core.audit au JOIN core.alert a ON a.id = au.object_id"
	       " WHERE au.action = 'alert.raise' AND au.object_type = 'alert'"
	       " AND au.person_id = %lld AND a.kind = 'core.release_date_missing'"
	       " AND au.detail->>'kind' = 'core.release_date_missing' AND au.org_id = %lld",
	       none, org_a);
}
END_TEST

/* Cohort status: planned -> running -> finished, or cancelled before it
 * finishes; a cancelled cohort takes nobody. */
START_TEST(cohort_status_transitions)
{
	long long prog = programme(org_a, "example");
	long long coh = cohort(prog, "");
	char path[64], epath[96], body[64];
	snprintf(path, sizeof path, "/api/v1/cohorts/%lld", coh);
	struct reply r = expect(NULL, "PATCH", path, "{\"status\":\"finished\"}", 409,
	                        "core.illegal_transition");
	ck_assert_str_eq(r.field, "status");
	reply_free(&r);
	SQL_EQ("planned1", "SELECT status::text || version FROM core.cohort WHERE id = %lld", coh);
	r = expect(NULL, "PATCH", path, "{\"status\":\"running\"}", 200, NULL);
	reply_free(&r);
	r = expect(NULL, "PATCH", path, "{\"status\":\"planned\"}", 409, "core.illegal_transition");
	reply_free(&r);
	r = expect(NULL, "PATCH", path, "{\"status\":\"cancelled\"}", 200, NULL);
	reply_free(&r);
	r = expect(NULL, "PATCH", path, "{\"status\":\"running\"}", 409, "core.illegal_transition");
	reply_free(&r);
	r = expect(NULL, "PATCH", path, "{\"status\":\"finished\"}", 409,
	           "core.illegal_transition");
	reply_free(&r);
	SQL_EQ("cancelled3", "SELECT status::text || version FROM core.cohort WHERE id = %lld",
	       coh);
	ck_assert_int_eq(
	    ts_db_exec(db, "UPDATE core.cohort SET status = 'planned' WHERE status = 'cancelled'"),
	    -1);
	long long who = person(org_a, "Vic", "", "");
	snprintf(epath, sizeof epath, "/api/v1/cohorts/%lld/enrolments", coh);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", who);
	r = expect(NULL, "POST", epath, body, 409, "core.cohort_closed");
	reply_free(&r);
	SQL_EQ("0", "SELECT count(*) FROM core.enrolment WHERE cohort_id = %lld", coh);

	/* Finished cannot be cancelled afterwards. */
	long long done = cohort(prog, "");
	snprintf(path, sizeof path, "/api/v1/cohorts/%lld", done);
	r = expect(NULL, "PATCH", path, "{\"status\":\"running\"}", 200, NULL);
	reply_free(&r);
	r = expect(NULL, "PATCH", path, "{\"status\":\"finished\"}", 200, NULL);
	reply_free(&r);
	r = expect(NULL, "PATCH", path, "{\"status\":\"cancelled\"}", 409,
	           "core.illegal_transition");
	reply_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cohorts");
	TCase *tc = tcase_create("cohorts");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, cohort_create_read_update);
	tcase_add_test(tc, enrolment_holds_and_seats);
	tcase_add_test(tc, enrolment_refusals_and_capacity);
	tcase_add_test(tc, enrolment_person_clash);
	tcase_add_test(tc, keep_apart_and_alerts);
	tcase_add_test(tc, plugin_booking_check);
	tcase_add_test(tc, release_date_anchoring);
	tcase_add_test(tc, holds_cannot_erase_attendance);
	tcase_add_test(tc, release_date_move_across_clock_change);
	tcase_add_test(tc, milestone_staff_and_alert_audit);
	tcase_add_test(tc, cohort_status_transitions);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
