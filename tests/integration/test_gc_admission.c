/*
 * The group_course plugin's rules end to end, against the real
 * server and database with the plugin loaded through the real ABI (it is a
 * standard plugin: waymark_group_course.so, not linked into this test):
 *
 *   - course settings validated by the plugin (programme_validate);
 *   - registers taken with the core's PUT /api/v1/sessions/{id}/register,
 *     completion decided by the plugin's rule (GET /enrolments/{id}/completion):
 *     all attended, a required module missed then caught up, a late joiner,
 *     a hold, a required module missed with no catch-up, below the minimum
 *     share (decided early), the rule version recorded;
 *   - the early-warning alert after two unacceptable absences in a row
 *     (GET /api/v1/alerts), not after acceptable ones;
 *   - eligibility rules as versions: admissions enrolled, waitlisted and
 *     refused with their rule version and reasons, a rule change that never
 *     rewrites earlier admissions, the waiting list admitted into the next
 *     cohort under the new rule, the mirror in programme.settings and the
 *     booking_check hook refusing a direct enrolment.
 *
 * Cohorts, sessions, enrolments and referrals are made in SQL (their routes
 * are other files' business); everything the plugin decides goes through
 * HTTP.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts.h"

#define TS_PRINTF(f, a) __attribute__((format(printf, f, a)))

static struct ts_server srv;
static char *db;
static char *coord, *fac, *coord_b;
static long long org;

static void setup(void)
{
	db = ts_db_create("gc_admission");
	struct ts_server_opts o = {
	    .database_url = db,
	    .config_json = "{\"plugins\": {\"load\": [\"example\", \"group_course\"]}}"};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	coord = ts_staff_token(db, "Org A", "coord-a@example.org", "coordinator", 0);
	fac = ts_staff_token(db, "Org A", "fac-a@example.org", "facilitator", 0);
	coord_b = ts_staff_token(db, "Org B", "coord-b@example.org", "coordinator", 0);
	org = ts_org_id(db, "Org A");
}

static void teardown(void)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
	free(coord);
	free(fac);
	free(coord_b);
}

/* --- helpers ---------------------------------------------------------------- */

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

struct res {
	int status;
	json_t *json;
	char code[64], field[64], message[256];
};

static struct res call(const char *token, const char *method, const char *path, const char *body)
{
	char headers[256];
	struct ts_response r;
	struct res out = {0};
	snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\n%s", token,
	         body ? "Content-Type: application/json\r\n" : "");
	ck_assert_int_eq(
	    ts_http(&srv, method, path, headers, body, body ? strlen(body) : 0, 10000, &r), 0);
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
	static char body[16384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof body, fmt, ap);
	va_end(ap);
	return call(token, method, path, body);
}

/* Checks the status (and code/field when given); returns the JSON (caller
 * frees). */
static json_t *expect(struct res r, int status, const char *code, const char *field)
{
	ck_assert_msg(r.status == status, "expected %d %s, got %d %s %s: %s", status,
	              code ? code : "", r.status, r.code, r.field, r.message);
	if (code)
		ck_assert_str_eq(r.code, code);
	if (field)
		ck_assert_str_eq(r.field, field);
	return r.json;
}

static void expect_free(struct res r, int status, const char *code, const char *field)
{
	json_decref(expect(r, status, code, field));
}

/* `fmt` is always one of this file's literals with one %lld. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static char *path(const char *fmt, long long id)
{
	static char buf[16][200];
	static int k;
	k = (k + 1) % 16;
	snprintf(buf[k], sizeof buf[k], fmt, id);
	return buf[k];
}
#pragma GCC diagnostic pop

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* A course through the API (the plugin validates its settings). */
static long long course(const char *name, const char *settings)
{
	json_t *j = expect(callf(coord, "POST", "/api/v1/programmes",
	                         "{\"organisation_id\":%lld,\"type\":\"group_course\","
	                         "\"name\":\"%s\",\"settings\":%s}",
	                         org, name, settings),
	                   201, NULL, NULL);
	long long id = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	return id;
}

static long long person(const char *given, const char *extra_cols, const char *extra_vals)
{
	return sqln("WITH p AS (INSERT INTO core.person (given_name, family_name, is_participant%s)"
	            " VALUES ('%s', 'Course', true%s) RETURNING id),"
	            " l AS (INSERT INTO core.person_org (person_id, org_id) SELECT id, %lld FROM p)"
	            " SELECT id FROM p",
	            extra_cols, given, extra_vals, org);
}

/* A session of the cohort `days` from now (UTC midday + an hour offset). */
static long long session(long long prog, long long coh, int days, const char *module, int catch_up)
{
	return sqln(
	    "INSERT INTO core.session (programme_id, org_id, cohort_id, title, starts_at,"
	    " ends_at, location_kind, module, catch_up) SELECT pr.id, pr.org_id, %lld,"
	    " 'Module %s', date_trunc('day', now()) + make_interval(days => %d, hours => 10),"
	    " date_trunc('day', now()) + make_interval(days => %d, hours => 12),"
	    " 'community_venue', '%s', %s FROM core.programme pr WHERE pr.id = %lld"
	    " RETURNING id",
	    coh, module, days, days, module, catch_up ? "true" : "false", prog);
}

/* Takes the register of `sess`: "person:outcome" pairs. */
static void reg(long long sess, int n, const long long *people, const char *const *outcomes)
{
	char body[4096];
	size_t len = (size_t)snprintf(body, sizeof body, "{\"entries\":[");
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(body + len, sizeof body - len,
		                        "%s{\"person_id\":%lld,\"outcome\":\"%s\"}", i ? "," : "",
		                        people[i], outcomes[i]);
	snprintf(body + len, sizeof body - len, "]}");
	expect_free(call(coord, "PUT", path("/api/v1/sessions/%lld/register", sess), body), 200,
	            NULL, NULL);
}

/* The stored completion of enrolment `e` (result; rule version in *rv). */
static const char *completion(long long e, char rv[64])
{
	static char result[32];
	json_t *j = expect(call(coord, "GET", path("/api/v1/enrolments/%lld/completion", e), NULL),
	                   200, NULL, NULL);
	snprintf(result, sizeof result, "%s", str(j, "result"));
	if (rv)
		snprintf(rv, 64, "%s", str(j, "rule_version"));
	json_decref(j);
	return result;
}

static long long alerts_for(long long p)
{
	json_t *j =
	    expect(call(coord, "GET",
	                path("/api/v1/alerts?kind=group_course.absences&person_id=%lld", p), NULL),
	           200, NULL, NULL);
	long long n = (long long)json_array_size(json_object_get(j, "items"));
	json_decref(j);
	return n;
}

#define MODULES                                                                                    \
	"[{\"key\":\"m1\",\"title\":\"Introduction to the model\",\"required\":true},"             \
	"{\"key\":\"m2\",\"title\":\"Communication\",\"required\":true},"                          \
	"{\"key\":\"m3\",\"title\":\"Values and beliefs\",\"required\":true},"                     \
	"{\"key\":\"m4\",\"title\":\"Market place\",\"required\":false,\"guests\":true}]"

/* --- settings ------------------------------------------------------------------ */

START_TEST(settings_validated_by_plugin)
{
	expect_free(callf(coord, "POST", "/api/v1/programmes",
	                  "{\"organisation_id\":%lld,\"type\":\"group_course\",\"name\":\"X\","
	                  "\"settings\":{\"modules\":" MODULES ",\"colour\":\"red\"}}",
	                  org),
	            400, "group_course.unknown_setting", "settings.colour");
	expect_free(callf(coord, "POST", "/api/v1/programmes",
	                  "{\"organisation_id\":%lld,\"type\":\"group_course\",\"name\":\"X\","
	                  "\"settings\":{\"modules\":[{\"key\":\"graduation\",\"title\":\"G\"}]}}",
	                  org),
	            400, "group_course.invalid_settings", "settings.modules[0].key");
	expect_free(callf(coord, "POST", "/api/v1/programmes",
	                  "{\"organisation_id\":%lld,\"type\":\"group_course\",\"name\":\"X\"}",
	                  org),
	            400, "group_course.invalid_settings", "settings.modules");
	long long c = course("LCP", "{\"rule_version\":\"lcp-e2e.1\",\"modules\":" MODULES "}");
	ck_assert_int_gt(c, 0);
	expect_free(callf(coord, "PATCH", path("/api/v1/programmes/%lld", c),
	                  "{\"settings\":{\"modules\":" MODULES ",\"min_share\":2}}"),
	            400, "group_course.invalid_settings", "settings.min_share");
}
END_TEST

/* --- completion and early warning end to end -------------------------------------- */

START_TEST(completion_end_to_end)
{
	long long prog = course("Life Change Programme",
	                        "{\"rule_version\":\"lcp-e2e.1\",\"modules\":" MODULES ","
	                        "\"min_share\":0.75,\"absence_alert_after\":2}");
	/* A cohort that is over (ends yesterday), four weekly sessions. */
	long long coh =
	    sqln("INSERT INTO core.cohort (programme_id, name, starts_on, ends_on, status)"
	         " VALUES (%lld, 'Spring', current_date - 40, current_date - 1,"
	         " 'running') RETURNING id",
	         prog);
	long long s1 = session(prog, coh, -35, "m1", 0), s2 = session(prog, coh, -28, "m2", 0),
	          s3 = session(prog, coh, -21, "m3", 0), s4 = session(prog, coh, -14, "m4", 0);
	const char *names[] = {"All", "Catchup", "Late", "Held", "Missed", "Warn", "Okay", "Low"};
	long long p[8], e[8];
	for (int i = 0; i < 8; i++) {
		p[i] = person(names[i], "", "");
		e[i] = sqln("INSERT INTO core.enrolment (cohort_id, person_id, joined_on)"
		            " VALUES (%lld, %lld, current_date - 40) RETURNING id",
		            coh, p[i]);
	}
	/* Warn has a probation practitioner recorded: the alert is marked for
	 * them too. */
	free(sqlv("UPDATE core.person SET probation_practitioner = 'PP' WHERE id = %lld", p[5]));
	/* Late joins after module 1. */
	free(sqlv("UPDATE core.enrolment SET joined_on = current_date - 30 WHERE id = %lld", e[2]));
	/* Held over module 3 (a prison transfer), then resumed. */
	free(sqlv("INSERT INTO core.enrolment_hold (enrolment_id, starts_at, ends_at, reason)"
	          " SELECT %lld, starts_at - interval '1 day', starts_at + interval '1 day',"
	          " 'prison_transfer' FROM core.session WHERE id = %lld",
	          e[3], s3));
	free(sqlv("SELECT core.seat_sync_cohort(%lld)", coh));

	/* Module 1: Late not expected (no seat), Warn unacceptable, Okay acceptable. */
	long long w1[] = {p[0], p[1], p[3], p[4], p[5], p[6], p[7]};
	const char *o1[] = {
	    "attended",          "attended", "attended", "attended", "absent_unacceptable",
	    "absent_acceptable", "attended"};
	reg(s1, 7, w1, o1);
	ck_assert_int_eq(alerts_for(p[5]), 0);
	/* Module 2: Catchup misses it; Warn acceptable (neither counts nor
	 * breaks the run); Okay acceptable again; Low acceptable. */
	long long w2[] = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]};
	const char *o2[] = {
	    "attended", "absent_unacceptable", "attended",          "attended",
	    "attended", "absent_acceptable",   "absent_acceptable", "absent_acceptable"};
	reg(s2, 8, w2, o2);
	ck_assert_int_eq(alerts_for(p[5]), 0);
	ck_assert_int_eq(alerts_for(p[1]), 0);
	/* Module 3: Held not expected; Missed misses it (acceptable); Warn
	 * unacceptable again — two in a row: the alert; Okay unacceptable
	 * once; Low acceptable: 1 of 4 at best 2 — decided early. */
	long long w3[] = {p[0], p[1], p[2], p[4], p[5], p[6], p[7]};
	const char *o3[] = {"attended",
	                    "attended",
	                    "attended",
	                    "absent_acceptable",
	                    "absent_unacceptable",
	                    "absent_unacceptable",
	                    "absent_acceptable"};
	reg(s3, 7, w3, o3);
	ck_assert_int_eq(alerts_for(p[5]), 1);
	ck_assert_int_eq(alerts_for(p[6]), 0);
	char rv[64];
	ck_assert_str_eq(completion(e[7], rv), "not_completed");
	ck_assert_str_eq(rv, "lcp-e2e.1");
	ck_assert_str_eq(completion(e[0], NULL), "in_progress"); /* module 4 to record */
	/* Module 4 (optional). */
	long long w4[] = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]};
	const char *o4[] = {"attended", "attended", "attended", "attended",
	                    "attended", "attended", "attended", "attended"};
	reg(s4, 8, w4, o4);
	/* The alert is stored for coordinators, once, and marked for the
	 * probation practitioner. */
	ck_assert_int_eq(alerts_for(p[5]), 1);
	char *al = sqlv("SELECT (detail->>'for_probation_practitioner') || '/' ||"
	                " (detail->>'severity') || '/' || session_id FROM core.alert"
	                " WHERE kind = 'group_course.absences' AND person_id = %lld",
	                p[5]);
	char want_al[64];
	snprintf(want_al, sizeof want_al, "true/warning/%lld", s3);
	ck_assert_str_eq(al, want_al);
	free(al);

	ck_assert_str_eq(completion(e[0], rv), "completed"); /* all attended */
	ck_assert_str_eq(rv, "lcp-e2e.1");
	ck_assert_str_eq(completion(e[2], NULL), "completed");     /* late joiner */
	ck_assert_str_eq(completion(e[3], NULL), "completed");     /* on hold over m3 */
	ck_assert_str_eq(completion(e[4], NULL), "not_completed"); /* m3, cohort over */
	ck_assert_str_eq(completion(e[7], NULL), "not_completed"); /* below the share */
	/* Missed m2, no catch-up yet, cohort over: not completed ... */
	ck_assert_str_eq(completion(e[1], NULL), "not_completed");
	/* ... then a catch-up of m2 for that person alone, attended. */
	long long cu = session(prog, coh, -3, "m2", 1);
	free(sqlv("INSERT INTO core.seat (session_id, person_id, source, during)"
	          " SELECT id, %lld, 'booking', during FROM core.session WHERE id = %lld",
	          p[1], cu));
	long long wc[] = {p[1]};
	const char *oc[] = {"attended"};
	reg(cu, 1, wc, oc);
	json_t *j =
	    expect(call(coord, "GET", path("/api/v1/enrolments/%lld/completion", e[1]), NULL), 200,
	           NULL, NULL);
	ck_assert_str_eq(str(j, "result"), "completed");
	ck_assert_str_eq(str(j, "rule_version"), "lcp-e2e.1");
	ck_assert_ptr_nonnull(strstr(str(j, "reason"), "1 by catch-up"));
	/* The earlier decision is kept in history. */
	json_t *hist = json_object_get(j, "history");
	json_t *h = json_array_get(hist, json_array_size(hist) - 1);
	ck_assert_str_eq(str(h, "result"), "not_completed");
	json_decref(j);
	/* Others are untouched by someone else's catch-up. */
	ck_assert_str_eq(completion(e[0], NULL), "completed");
}
END_TEST

/* --- eligibility and admissions --------------------------------------------------------- */

#define RULES_V1                                                                                   \
	"{\"release_within_months\":6,\"areas\":[\"Liverpool\"],\"min_age\":18,"                   \
	"\"consent_required\":true}"
#define RULES_V2                                                                                   \
	"{\"release_within_months\":36,\"areas\":[\"Liverpool\"],\"min_age\":18,"                  \
	"\"consent_required\":true}"

/* A participant in custody, released `months` months from now, with
 * consent to take part when `consent`. */
static long long candidate(const char *name, int months, int consent)
{
	char cols[] = ", custody_status, expected_release_date, area, date_of_birth";
	char vals[200];
	snprintf(vals, sizeof vals,
	         ", 'in_custody', current_date + interval '%d months', 'Liverpool', '1990-05-01'",
	         months);
	long long id = person(name, cols, vals);
	if (consent)
		free(sqlv("INSERT INTO core.consent (org_id, person_id, purpose, given_on)"
		          " VALUES (%lld, %lld, 'programme_participation', current_date - 10)",
		          org, id));
	return id;
}

static long long referral(long long p)
{
	return sqln("INSERT INTO core.referral (org_id, person_id, source, referred_on, status)"
	            " VALUES (%lld, %lld, 'probation', current_date - 20, 'assessed') RETURNING id",
	            org, p);
}

static json_t *admit(long long coh, long long ref)
{
	return expect(callf(coord, "POST",
	                    path("/api/v1/group_course/cohorts/%lld/admissions", coh),
	                    "{\"referral_id\":%lld}", ref),
	              201, NULL, NULL);
}

/* A course may require another course completed first. Whether someone
 * completed a course of ANOTHER organisation is that organisation's record:
 * an admission must not reveal it (a coordinator could list any programme
 * id as a prerequisite and read the answer off the eligibility result)
 * unless the person consented to that organisation sharing with this one. */
START_TEST(prerequisite_of_another_organisation)
{
	long long org_b = ts_org_id(db, "Org B");
	/* Org B's foundation course, with one required module held yesterday. */
	long long found = sqln("INSERT INTO core.programme (org_id, type, name, settings)"
	                       " VALUES (%lld, 'group_course', 'Foundation (Org B)',"
	                       " '{\"modules\":[{\"key\":\"m1\",\"title\":\"One\"}]}')"
	                       " RETURNING id",
	                       org_b);
	long long coh_b = sqln("INSERT INTO core.cohort (programme_id, name, starts_on)"
	                       " VALUES (%lld, 'B1', current_date - 30) RETURNING id",
	                       found);
	long long sess_b = session(found, coh_b, -1, "m1", 0);
	/* Ada completed it; Ben did not take it. Both are known to Org A (and
	 * Ada to Org B), with consent to take part in Org A's courses. */
	long long a = candidate("Ada", 4, 1), b = candidate("Ben", 4, 1);
	free(sqlv("INSERT INTO core.person_org (person_id, org_id) VALUES (%lld, %lld)", a, org_b));
	long long e_b = sqln("INSERT INTO core.enrolment (cohort_id, person_id, joined_on)"
	                     " VALUES (%lld, %lld, current_date - 30) RETURNING id",
	                     coh_b, a);
	free(sqlv("INSERT INTO core.attendance (session_id, person_id, outcome_code_id)"
	          " SELECT %lld, %lld, id FROM core.outcome_code"
	          " WHERE org_id IS NULL AND code = 'attended'",
	          sess_b, a));
	free(sqlv("INSERT INTO core.completion (enrolment_id, result, rule_version)"
	          " VALUES (%lld, 'completed', 'b-1')",
	          e_b));
	char settings[1024];
	snprintf(settings, sizeof settings,
	         "{\"modules\":" MODULES ",\"prerequisites\":[{\"programme_id\":%lld,"
	         "\"mode\":\"required\"}]}",
	         found);
	long long prog = course("Relationships (Org A)", settings);
	long long coh = sqln("INSERT INTO core.cohort (programme_id, name, starts_on, capacity)"
	                     " VALUES (%lld, 'R1', current_date + 7, 10) RETURNING id",
	                     prog);
	/* Without consent, Org A learns nothing: both answers are the same. */
	json_t *ja = admit(coh, referral(a)), *jb = admit(coh, referral(b));
	ck_assert_str_eq(str(ja, "result"), str(jb, "result"));
	ck_assert_str_eq(str(ja, "result"), "ineligible");
	ck_assert_str_eq(str(json_array_get(json_object_get(ja, "reasons"), 0), "code"),
	                 "prerequisite_missing");
	json_decref(ja);
	json_decref(jb);
	/* With Ada's consent for Org B to share with Org A, it counts. */
	long long coh2 = sqln("INSERT INTO core.cohort (programme_id, name, starts_on, capacity)"
	                      " VALUES (%lld, 'R2', current_date + 14, 10) RETURNING id",
	                      prog);
	free(sqlv("INSERT INTO core.consent (org_id, person_id, purpose, recipient_org_id,"
	          " given_on) VALUES (%lld, %lld, 'share_with_organisation', %lld,"
	          " current_date - 1)",
	          org_b, a, org));
	ja = admit(coh2, referral(a));
	ck_assert_str_eq(str(ja, "result"), "eligible");
	json_decref(ja);
}
END_TEST

START_TEST(eligibility_versions_and_admissions)
{
	long long prog =
	    course("LCP community", "{\"rule_version\":\"lcp-e2e.1\",\"modules\":" MODULES
	                            ",\"eligibility\":{\"min_age\":99}}");
	/* The mirror is the plugin's: no rule yet, whatever was sent. */
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.programme WHERE id = %lld"
	                      " AND settings->'eligibility' = 'null'::jsonb",
	                      prog),
	                 1);
	/* Rules are checked; out of scope and other roles refused. */
	expect_free(call(coord, "PUT", path("/api/v1/group_course/courses/%lld/eligibility", prog),
	                 "{\"rules\":{\"min_age\":500}}"),
	            400, "group_course.invalid_rules", "rules.min_age");
	expect_free(call(coord, "PUT", path("/api/v1/group_course/courses/%lld/eligibility", prog),
	                 "{\"rules\":{\"shoe_size\":9}}"),
	            400, "group_course.unknown_rule", "rules.shoe_size");
	expect_free(
	    call(coord_b, "GET", path("/api/v1/group_course/courses/%lld/eligibility", prog), NULL),
	    404, "core.not_found", NULL);
	expect_free(
	    call(fac, "GET", path("/api/v1/group_course/courses/%lld/eligibility", prog), NULL),
	    403, NULL, NULL);
	/* Version 1. */
	json_t *j =
	    expect(call(coord, "PUT", path("/api/v1/group_course/courses/%lld/eligibility", prog),
	                "{\"rules\":" RULES_V1 ",\"version\":0,\"note\":\"Six months\"}"),
	           200, NULL, NULL);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "version")), 1);
	json_decref(j);
	ck_assert_int_eq(
	    sqln("SELECT (settings->'eligibility'->>'version')::int FROM core.programme"
	         " WHERE id = %lld",
	         prog),
	    1);
	/* The same rules again: still version 1 (PUT is idempotent). */
	j = expect(call(coord, "PUT", path("/api/v1/group_course/courses/%lld/eligibility", prog),
	                "{\"rules\":" RULES_V1 "}"),
	           200, NULL, NULL);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "version")), 1);
	json_decref(j);

	long long coh = sqln("INSERT INTO core.cohort (programme_id, name, starts_on, capacity)"
	                     " VALUES (%lld, 'One place', current_date + 7, 1) RETURNING id",
	                     prog);
	long long a = candidate("Ada", 4, 1), b = candidate("Ben", 5, 1),
	          c = candidate("Cal", 24, 1), d = candidate("Dee", 3, 0);
	long long ra = referral(a), rb = referral(b), rc = referral(c), rd = referral(d);

	/* Eligible, room: enrolled, with a gate-happy warning-free record. */
	j = admit(coh, ra);
	ck_assert_str_eq(str(j, "result"), "eligible");
	ck_assert_str_eq(str(j, "outcome"), "enrolled");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "rule_version")), 1);
	ck_assert_int_gt(json_integer_value(json_object_get(j, "enrolment_id")), 0);
	json_decref(j);
	char *s = sqlv("SELECT status || '/' || eligibility || '/' || eligibility_rule_version"
	               " FROM core.referral WHERE id = %lld",
	               ra);
	char want[128];
	snprintf(want, sizeof want, "accepted/eligible/group_course:%lld:v1", prog);
	ck_assert_str_eq(s, want);
	free(s);
	/* Release two years away: refused under version 1. */
	j = admit(coh, rc);
	ck_assert_str_eq(str(j, "result"), "ineligible");
	ck_assert_str_eq(str(j, "outcome"), "refused");
	ck_assert_str_eq(str(json_array_get(json_object_get(j, "reasons"), 0), "code"),
	                 "release_too_far");
	long long c_admission = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	/* No consent: refused. */
	j = admit(coh, rd);
	ck_assert_str_eq(str(json_array_get(json_object_get(j, "reasons"), 0), "code"),
	                 "no_consent");
	json_decref(j);
	/* Eligible but the cohort is full: waitlisted for the course. */
	j = admit(coh, rb);
	ck_assert_str_eq(str(j, "outcome"), "waitlisted");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "waitlist_position")), 1);
	json_decref(j);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.referral WHERE id = %lld"
	                      " AND status = 'waiting_list'",
	                      rb),
	                 1);
	j = expect(
	    call(coord, "GET", path("/api/v1/group_course/courses/%lld/waitlist", prog), NULL), 200,
	    NULL, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(j, "items")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(
	                     json_array_get(json_object_get(j, "items"), 0), "referral_id")),
	                 rb);
	json_decref(j);
	/* Already enrolled: 409. */
	expect_free(callf(coord, "POST", path("/api/v1/group_course/cohorts/%lld/admissions", coh),
	                  "{\"referral_id\":%lld}", ra),
	            409, NULL, "referral_id");

	/* The rule changes: version 2 (a stale version refused). */
	expect_free(call(coord, "PUT", path("/api/v1/group_course/courses/%lld/eligibility", prog),
	                 "{\"rules\":" RULES_V2 ",\"version\":0}"),
	            409, "group_course.stale", "version");
	expect_free(call(coord, "PUT", path("/api/v1/group_course/courses/%lld/eligibility", prog),
	                 "{\"rules\":" RULES_V2 ",\"version\":1}"),
	            200, NULL, NULL);
	j = expect(
	    call(coord, "GET", path("/api/v1/group_course/courses/%lld/eligibility", prog), NULL),
	    200, NULL, NULL);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(json_object_get(j, "current"), "version")), 2);
	ck_assert_int_eq(json_array_size(json_object_get(j, "versions")), 2);
	json_decref(j);
	/* Earlier decisions are not rewritten: Cal's refusal still says
	 * version 1, ineligible, and so does the referral. */
	s = sqlv(
	    "SELECT rule_version || '/' || result || '/' || outcome FROM group_course.admission"
	    " WHERE id = %lld",
	    c_admission);
	ck_assert_str_eq(s, "1/ineligible/refused");
	free(s);
	s = sqlv("SELECT eligibility || '/' || eligibility_rule_version FROM core.referral"
	         " WHERE id = %lld",
	         rc);
	snprintf(want, sizeof want, "ineligible/group_course:%lld:v1", prog);
	ck_assert_str_eq(s, want);
	free(s);
	/* Rows are append-only. */
	ck_assert_int_eq(ts_db_exec(db, "UPDATE group_course.admission SET result = 'eligible'"),
	                 -1);
	ck_assert_int_eq(ts_db_exec(db, "DELETE FROM group_course.eligibility_rule"), -1);
	/* The mirror follows, and a PATCH cannot change it. */
	expect_free(callf(coord, "PATCH", path("/api/v1/programmes/%lld", prog),
	                  "{\"settings\":{\"rule_version\":\"lcp-e2e.1\",\"modules\":" MODULES
	                  ",\"eligibility\":{\"version\":7,\"min_age\":1}}}"),
	            200, NULL, NULL);
	ck_assert_int_eq(sqln("SELECT (settings->'eligibility'->>'version')::int * 1000 +"
	                      " (settings->'eligibility'->>'release_within_months')::int"
	                      " FROM core.programme WHERE id = %lld",
	                      prog),
	                 2036);

	/* The next cohort takes the waiting list, under version 2. */
	long long coh2 = sqln("INSERT INTO core.cohort (programme_id, name, starts_on, capacity)"
	                      " VALUES (%lld, 'Next', current_date + 60, 10) RETURNING id",
	                      prog);
	j = expect(call(coord, "POST",
	                path("/api/v1/group_course/cohorts/%lld/admit-waitlist", coh2), "{}"),
	           200, NULL, NULL);
	json_t *first = json_array_get(json_object_get(j, "admissions"), 0);
	ck_assert_int_eq(json_array_size(json_object_get(j, "admissions")), 1);
	ck_assert_str_eq(str(first, "outcome"), "enrolled");
	ck_assert_str_eq(str(first, "via"), "waitlist");
	ck_assert_int_eq(json_integer_value(json_object_get(first, "rule_version")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "still_waiting")), 0);
	json_decref(j);
	/* Cal, admitted again now: eligible under version 2; the first
	 * decision stays as it was. */
	j = admit(coh2, rc);
	ck_assert_str_eq(str(j, "outcome"), "enrolled");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "rule_version")), 2);
	json_decref(j);
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM group_course.admission WHERE referral_id = %lld", rc), 2);
	j = expect(
	    call(coord, "GET", path("/api/v1/group_course/cohorts/%lld/admissions", coh), NULL),
	    200, NULL, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(j, "items")), 4);
	json_decref(j);
	/* Audited. */
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM core.audit WHERE action = 'group_course.admission'"
	         " AND request_id IS NOT NULL AND remote_addr IS NOT NULL"),
	    6);
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM core.audit WHERE action = 'group_course.eligibility_rule'"),
	    2);

	/* A direct enrolment through the core is checked by the booking_check
	 * hook against the mirrored rule: four years to release is too far. */
	long long far = candidate("Eve", 48, 1);
	expect_free(callf(coord, "POST", path("/api/v1/cohorts/%lld/enrolments", coh2),
	                  "{\"person_id\":%lld}", far),
	            422, "group_course.not_eligible", "person_id");
	/* The rule asks for consent, which the hook cannot see: a direct
	 * enrolment would skip it (someone who never agreed to take part could
	 * be enrolled), so it is refused — with or without consent — and the
	 * admission route, which checks it and stores the decision, is named.
	 * Nothing is written. */
	long long near = candidate("Fay", 2, 1), unwilling = candidate("Hal", 2, 0);
	expect_free(callf(coord, "POST", path("/api/v1/cohorts/%lld/enrolments", coh2),
	                  "{\"person_id\":%lld}", unwilling),
	            422, "group_course.admission_required", "person_id");
	expect_free(callf(coord, "POST", path("/api/v1/cohorts/%lld/enrolments", coh2),
	                  "{\"person_id\":%lld}", near),
	            422, "group_course.admission_required", "person_id");
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.enrolment WHERE person_id IN (%lld, %lld)",
	                      near, unwilling),
	                 0);
	/* Waiting for the full cohort, then admitted straight into the next
	 * one: off the waiting list. */
	long long g = candidate("Gus", 5, 1), rg = referral(g);
	j = admit(coh, rg);
	ck_assert_str_eq(str(j, "outcome"), "waitlisted");
	json_decref(j);
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM group_course.waitlist WHERE status = 'waiting'"), 1);
	/* Nobody jumps the queue: with one place left and Gus waiting, a new
	 * admission goes on the list behind him; Gus then takes the place. */
	long long coh3 = sqln("INSERT INTO core.cohort (programme_id, name, starts_on, capacity)"
	                      " VALUES (%lld, 'Small', current_date + 90, 1) RETURNING id",
	                      prog);
	long long ivy = candidate("Ivy", 5, 1), ri = referral(ivy);
	j = admit(coh3, ri);
	ck_assert_str_eq(str(j, "outcome"), "waitlisted");
	json_decref(j);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.enrolment WHERE person_id = %lld", ivy),
	                 0);
	j = admit(coh3, rg);
	ck_assert_str_eq(str(j, "outcome"), "enrolled");
	json_decref(j);
	j = expect(
	    call(coord, "GET", path("/api/v1/group_course/courses/%lld/waitlist", prog), NULL), 200,
	    NULL, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(j, "items")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(
	                     json_array_get(json_object_get(j, "items"), 0), "person_id")),
	                 ivy);
	json_decref(j);
	/* Scope: another organisation's coordinator sees nothing. */
	expect_free(callf(coord_b, "POST",
	                  path("/api/v1/group_course/cohorts/%lld/admissions", coh2),
	                  "{\"referral_id\":%lld}", rd),
	            404, "core.not_found", NULL);
	expect_free(
	    call(coord_b, "GET", path("/api/v1/group_course/courses/%lld/waitlist", prog), NULL),
	    404, "core.not_found", NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gc_admission");
	TCase *t = tcase_create("gc");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, settings_validated_by_plugin);
	tcase_add_test(t, completion_end_to_end);
	tcase_add_test(t, eligibility_versions_and_admissions);
	tcase_add_test(t, prerequisite_of_another_organisation);
	suite_add_tcase(s, t);
	return ts_main(s);
}
