/*
 * Audit log queries, subject access export, erasure and aggregate reports,
 * over HTTP against the real server and database. The data (people held by
 * one or two organisations, a child in a household, flags, keep-apart pairs,
 * consents, referrals with history, assignments, audit rows) is written
 * straight into the database, so these tests depend on no other route.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts.h"

static struct ts_server srv;
static char *db;
static char *tok_admin_a, *tok_admin_b, *tok_coord_a, *tok_comm_a, *tok_admin_c, *tok_comm_c;
static long long org_a, org_b, org_c, admin_a, admin_b, mentor_a;
/* shared: held by A and B; only_a: held by A only; child: a child in A's
 * household; only_b: held by B only. */
static long long shared, only_a, child, only_b, household_a;

/* Runs formatted SQL; returns the first value as a number (0 if none). */
static long long sqln(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long sqln(const char *fmt, ...)
{
	char sql[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	char *v = ts_db_value(db, sql);
	long long n = v ? atoll(v) : 0;
	free(v);
	return n;
}

/* Runs formatted SQL; returns the first value as text ("" if none). */
static char *sqls(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sqls(const char *fmt, ...)
{
	char sql[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	char *v = ts_db_value(db, sql);
	return v ? v : strdup("");
}

static long long person(const char *given, const char *family, const char *dob, long long org1,
                        long long org2)
{
	long long id = sqln("INSERT INTO core.person (given_name, family_name, date_of_birth,"
	                    " establishment, area) VALUES ('%s', '%s', %s, 'HMP Example', 'North')"
	                    " RETURNING id",
	                    given, family, dob);
	sqln("INSERT INTO core.person_org (person_id, org_id) VALUES (%lld, %lld)", id, org1);
	if (org2)
		sqln("INSERT INTO core.person_org (person_id, org_id) VALUES (%lld, %lld)", id,
		     org2);
	return id;
}

static void build_data(void)
{
	tok_admin_a = ts_staff_token(db, "Org A", "admin-a@example.org", "admin", 0);
	tok_admin_b = ts_staff_token(db, "Org B", "admin-b@example.org", "admin", 0);
	tok_coord_a = ts_staff_token(db, "Org A", "coord-a@example.org", "coordinator", 0);
	tok_comm_a = ts_staff_token(db, "Org A", "comm-a@example.org", "commissioner", 0);
	tok_admin_c = ts_staff_token(db, "Org C", "admin-c@example.org", "admin", 0);
	tok_comm_c = ts_staff_token(db, "Org C", "comm-c@example.org", "commissioner", 0);
	free(ts_staff_token(db, "Org A", "mentor-a@example.org", "mentor", 0));
	org_a = ts_org_id(db, "Org A");
	org_b = ts_org_id(db, "Org B");
	org_c = ts_org_id(db, "Org C");
	admin_a = ts_staff_id(db, "admin-a@example.org");
	admin_b = ts_staff_id(db, "admin-b@example.org");
	mentor_a = ts_staff_id(db, "mentor-a@example.org");

	shared = person("Zebedee", "Sharedperson", "'1990-05-01'", org_a, org_b);
	only_a = person("Xylophonia", "Onlyaperson", "'1985-02-03'", org_a, 0);
	child = person("Tiny", "Onlyaperson", "current_date - 3650", org_a, 0);
	only_b = person("Bartholomew", "Onlybperson", "NULL", org_b, 0);

	sqln("INSERT INTO core.person_flag (person_id, org_id, kind, severity, note) VALUES"
	     " (%lld, %lld, 'risk_to_others', 'high', 'A flag note'),"
	     " (%lld, %lld, 'safeguarding_adult', 'medium', 'B secret flag'),"
	     " (%lld, %lld, 'domestic_abuse', 'high', 'Only A flag')",
	     shared, org_a, shared, org_b, only_a, org_a);
	household_a = sqln("INSERT INTO core.household (org_id, name) VALUES (%lld, 'Onlyaperson"
	                   " family') RETURNING id",
	                   org_a);
	long long household_b =
	    sqln("INSERT INTO core.household (org_id, name) VALUES (%lld, 'B house') RETURNING id",
	         org_b);
	sqln("INSERT INTO core.household_member (household_id, person_id, relationship) VALUES"
	     " (%lld, %lld, 'participant'), (%lld, %lld, 'child'), (%lld, %lld, 'participant')",
	     household_a, only_a, household_a, child, household_b, shared);
	sqln("INSERT INTO core.non_association (org_id, person_a, person_b, reason)"
	     " VALUES (%lld, %lld, %lld, 'Keep apart on the wing')",
	     org_a, shared < only_a ? shared : only_a, shared < only_a ? only_a : shared);
	sqln("INSERT INTO core.consent (org_id, person_id, purpose, recipient_org_id, scope,"
	     " given_on, note) VALUES (%lld, %lld, 'referral', %lld, 'Housing only',"
	     " current_date - 20, 'Consent note text')",
	     org_a, only_a, org_b);
	/* Consents the erasure tests follow: one of org A's already withdrawn,
	 * and each organisation's live consent about the shared person. */
	sqln("INSERT INTO core.consent (org_id, person_id, purpose, recipient_org_id, given_on,"
	     " withdrawn_on) VALUES (%lld, %lld, 'share_with_organisation', %lld,"
	     " current_date - 40, current_date - 15),"
	     " (%lld, %lld, 'referral', %lld, current_date - 30, NULL),"
	     " (%lld, %lld, 'referral', %lld, current_date - 30, NULL)",
	     org_a, only_a, org_c, org_a, shared, org_c, org_b, shared, org_c);
	long long ref = sqln("INSERT INTO core.referral (org_id, person_id, source, referrer_name,"
	                     " referrer_organisation, referred_on, status, eligibility,"
	                     " eligibility_note, decision_reason, risk_summary) VALUES"
	                     " (%lld, %lld, 'probation', 'Rita Referrer', 'Probation North',"
	                     " current_date - 10, 'accepted', 'eligible', 'Meets criteria',"
	                     " 'Good fit', 'Risk summary text') RETURNING id",
	                     org_a, only_a);
	sqln("INSERT INTO core.referral_history (referral_id, from_status, to_status, reason)"
	     " VALUES (%lld, NULL, 'received', NULL), (%lld, 'received', 'contacted', 'Phoned"
	     " her'), (%lld, 'contacted', 'assessed', 'Assessed at home'),"
	     " (%lld, 'assessed', 'accepted', 'Accepted by panel')",
	     ref, ref, ref, ref);
	sqln("INSERT INTO core.referral (org_id, person_id, source, referred_on, risk_summary)"
	     " VALUES (%lld, %lld, 'prison', current_date - 5, 'A shared risk'),"
	     " (%lld, %lld, 'court', current_date - 5, 'B shared risk')",
	     org_a, shared, org_b, shared);
	sqln("INSERT INTO core.assignment (org_id, staff_id, person_id, kind)"
	     " VALUES (%lld, %lld, %lld, 'mentor')",
	     org_a, mentor_a, only_a);
	sqln("INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,"
	     " person_id) VALUES (%lld, %lld, 'person.create', 'person', %lld, %lld),"
	     " (%lld, %lld, 'person.create', 'person', %lld, %lld),"
	     " (%lld, %lld, 'person.create', 'person', %lld, %lld)",
	     admin_a, org_a, only_a, only_a, admin_a, org_a, shared, shared, admin_b, org_b, shared,
	     shared);
}

static void setup(void)
{
	db = ts_db_create("subject");
	struct ts_server_opts o = {.database_url = db};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	build_data();
}

static void teardown(void)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
	free(tok_admin_a);
	free(tok_admin_b);
	free(tok_coord_a);
	free(tok_comm_a);
	free(tok_admin_c);
	free(tok_comm_c);
}

/* One request as `token`; asserts the status and returns the response
 * (caller frees). */
static struct ts_response call(const char *token, const char *method, const char *path,
                               const char *body, int status)
{
	char headers[256];
	snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\n%s", token,
	         body ? "Content-Type: application/json\r\n" : "");
	struct ts_response r;
	ck_assert_int_eq(
	    ts_http(&srv, method, path, headers, body, body ? strlen(body) : 0, 10000, &r), 0);
	ck_assert_msg(r.status == status, "%s %s: %d, expected %d: %s", method, path, r.status,
	              status, r.body);
	return r;
}

/* A request whose reply only matters for its status. */
static void expect_status(const char *token, const char *method, const char *path, const char *body,
                          int status)
{
	struct ts_response r = call(token, method, path, body, status);
	ts_response_free(&r);
}

static json_t *call_json(const char *token, const char *method, const char *path, const char *body,
                         int status)
{
	struct ts_response r = call(token, method, path, body, status);
	json_t *doc = ts_json(&r);
	ck_assert_msg(doc != NULL, "%s %s: not JSON: %s", method, path, r.body);
	ts_response_free(&r);
	return doc;
}

/* Asserts an error reply's code and field (field NULL: none). */
static void expect_error(const char *token, const char *method, const char *path, const char *body,
                         int status, const char *code, const char *field)
{
	json_t *doc = call_json(token, method, path, body, status);
	json_t *err = json_object_get(doc, "error");
	ck_assert_str_eq(json_string_value(json_object_get(err, "code")), code);
	if (field)
		ck_assert_str_eq(json_string_value(json_object_get(err, "field")), field);
	json_decref(doc);
}

static void path_of(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void path_of(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* --- export ------------------------------------------------------------ */

START_TEST(export_holds_the_callers_organisations_data_only)
{
	char path[128];
	/* A staff member's read of the person, with where and in which request. */
	sqln("INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,"
	     " person_id, remote_addr, request_id) VALUES (%lld, %lld, 'flag.read',"
	     " 'person_flag', 1, %lld, '203.0.113.77', 'rid-staff-secret')",
	     mentor_a, org_a, shared);
	path_of(path, sizeof path, "/api/v1/people/%lld/export?x=1", shared);
	expect_error(tok_admin_a, "GET", path, NULL, 400, "core.bad_query", "x");
	path_of(path, sizeof path, "/api/v1/people/%lld/export", shared);
	struct ts_response r = call(tok_admin_a, "GET", path, NULL, 200);
	json_t *doc = ts_json(&r);
	ck_assert_ptr_nonnull(doc);
	static const char *const sections[] = {
	    "exported_at", "organisation_ids", "person",   "organisations", "flags",
	    "households",  "non_associations", "consents", "referrals",     "assignments",
	    "audit"};
	for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
		ck_assert_msg(json_object_get(doc, sections[i]) != NULL, "no section %s",
		              sections[i]);
	json_t *orgs = json_object_get(doc, "organisation_ids");
	ck_assert_int_eq(json_array_size(orgs), 1);
	ck_assert_int_eq(json_integer_value(json_array_get(orgs, 0)), org_a);
	json_t *p = json_object_get(doc, "person");
	ck_assert_str_eq(json_string_value(json_object_get(p, "given_name")), "Zebedee");
	ck_assert_str_eq(json_string_value(json_object_get(p, "date_of_birth")), "1990-05-01");
	/* Org A's flag, never org B's. */
	json_t *flags = json_object_get(doc, "flags");
	ck_assert_int_eq(json_array_size(flags), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(flags, 0), "note")),
	                 "A flag note");
	ck_assert_ptr_null(strstr(r.body, "B secret flag"));
	ck_assert_ptr_null(strstr(r.body, "B shared risk"));
	ck_assert_ptr_null(strstr(r.body, "B house"));
	ck_assert_int_eq(json_array_size(json_object_get(doc, "organisations")), 1);
	ck_assert_int_eq(json_array_size(json_object_get(doc, "households")), 0);
	json_t *refs = json_object_get(doc, "referrals");
	ck_assert_int_eq(json_array_size(refs), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(refs, 0), "source")),
	                 "prison");
	/* The other person of a keep-apart pair by id, never by name. */
	json_t *na = json_object_get(doc, "non_associations");
	ck_assert_int_eq(json_array_size(na), 1);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(json_array_get(na, 0), "other_person_id")), only_a);
	ck_assert_ptr_null(strstr(r.body, "Xylophonia"));
	/* Audit rows about the person in org A only: what, when, which
	 * organisation; never the staff, their address or the request. */
	json_t *audit = json_object_get(doc, "audit");
	ck_assert_int_eq(json_array_size(audit), 2);
	size_t k;
	json_t *row;
	json_array_foreach(audit, k, row)
	{
		ck_assert_int_eq(json_integer_value(json_object_get(row, "organisation_id")),
		                 org_a);
		ck_assert_int_eq(json_object_size(row), 4);
		ck_assert(json_is_string(json_object_get(row, "at")));
		ck_assert(json_is_string(json_object_get(row, "action")));
		ck_assert(json_is_string(json_object_get(row, "object_type")));
	}
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(audit, 1), "action")),
	                 "flag.read");
	ck_assert_ptr_null(strstr(r.body, "203.0.113.77"));
	ck_assert_ptr_null(strstr(r.body, "rid-staff-secret"));
	ck_assert_ptr_null(strstr(r.body, "actor_staff_id"));
	ck_assert_ptr_null(strstr(r.body, "request_id"));
	ck_assert_ptr_null(strstr(r.body, "remote_addr"));
	json_decref(doc);
	ts_response_free(&r);

	/* The export itself is audited. */
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = 'person.export'"
	                      " AND person_id = %lld AND org_id = %lld AND actor_staff_id = %lld",
	                      shared, org_a, admin_a),
	                 1);

	/* Org B's admin sees org B's flag and referral, not org A's. */
	r = call(tok_admin_b, "GET", path, NULL, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "B secret flag"));
	ck_assert_ptr_nonnull(strstr(r.body, "B house"));
	ck_assert_ptr_null(strstr(r.body, "A flag note"));
	ck_assert_ptr_null(strstr(r.body, "Keep apart"));
	ts_response_free(&r);
}
END_TEST

START_TEST(export_of_a_person_with_household_consent_referral_history)
{
	char path[128];
	path_of(path, sizeof path, "/api/v1/people/%lld/export", only_a);
	json_t *doc = call_json(tok_admin_a, "GET", path, NULL, 200);
	json_t *hh = json_array_get(json_object_get(doc, "households"), 0);
	ck_assert_ptr_nonnull(hh);
	ck_assert_str_eq(json_string_value(json_object_get(hh, "relationship")), "participant");
	ck_assert_int_eq(json_integer_value(json_object_get(hh, "members_count")), 2);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(json_object_get(hh, "household"), "id")),
	    household_a);
	json_t *c = json_array_get(json_object_get(doc, "consents"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(c, "note")), "Consent note text");
	json_t *ref = json_array_get(json_object_get(doc, "referrals"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(ref, "status")), "accepted");
	ck_assert_int_eq(json_array_size(json_object_get(ref, "history")), 4);
	json_t *a = json_array_get(json_object_get(doc, "assignments"), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(a, "staff_id")), mentor_a);
	ck_assert_int_eq(json_array_size(json_object_get(doc, "flags")), 1);
	json_decref(doc);
}
END_TEST

START_TEST(export_refuses_outsiders_and_other_roles)
{
	char path[128];
	/* Org B's admin, a person only org A holds: not found, like a missing id. */
	path_of(path, sizeof path, "/api/v1/people/%lld/export", only_a);
	expect_error(tok_admin_b, "GET", path, NULL, 404, "core.not_found", NULL);
	expect_error(tok_admin_c, "GET", path, NULL, 404, "core.not_found", NULL);
	path_of(path, sizeof path, "/api/v1/people/%lld/export", only_a + 1000);
	expect_error(tok_admin_a, "GET", path, NULL, 404, "core.not_found", NULL);
	/* A coordinator or commissioner may not export at all. */
	path_of(path, sizeof path, "/api/v1/people/%lld/export", only_a);
	expect_status(tok_coord_a, "GET", path, NULL, 403);
	expect_status(tok_comm_a, "GET", path, NULL, 403);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = 'person.export'"), 0);
}
END_TEST

/* --- erasure ----------------------------------------------------------- */

static char *referral_counts(void)
{
	return sqls(
	    "SELECT (SELECT count(*) FROM core.referral) || ' / ' ||"
	    " (SELECT string_agg(status || '=' || n, ',' ORDER BY status) FROM"
	    "  (SELECT status, count(*) n FROM core.referral GROUP BY status) s) || ' / ' ||"
	    " (SELECT string_agg(source || '=' || n, ',' ORDER BY source) FROM"
	    "  (SELECT source, count(*) n FROM core.referral GROUP BY source) s)");
}

START_TEST(erase_round_trip)
{
	char path[128], body[128];
	char *before = referral_counts();
	long long people_before = sqln("SELECT count(*) FROM core.person");

	/* Org A erases the person only it holds: pseudonymised. */
	path_of(path, sizeof path, "/api/v1/people/%lld/erase", only_a);
	snprintf(body, sizeof body, "{\"organisation_id\":%lld,\"confirm\":true}", org_a);
	json_t *doc = call_json(tok_admin_a, "POST", path, body, 200);
	ck_assert(json_is_true(json_object_get(doc, "erased")));
	ck_assert(json_is_true(json_object_get(doc, "pseudonymised")));
	json_decref(doc);

	char *after = referral_counts();
	ck_assert_str_eq(after, before);
	free(after);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.person"), people_before);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.person WHERE given_name = 'Xylophonia'"
	                      " OR family_name = 'Onlyaperson' AND id = %lld"
	                      " OR date_of_birth = '1985-02-03'",
	                      only_a),
	                 0);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.person WHERE id = %lld AND erased_at IS"
	                      " NOT NULL AND given_name = 'Erased' AND establishment IS NULL"
	                      " AND area IS NULL",
	                      only_a),
	                 1);
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM core.person_flag WHERE person_id = %lld", only_a), 0);
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM core.household_member WHERE person_id = %lld", only_a), 0);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.non_association WHERE %lld IN"
	                      " (person_a, person_b)",
	                      only_a),
	                 0);
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM core.assignment WHERE person_id = %lld", only_a), 0);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.consent WHERE person_id = %lld AND note"
	                      " IS NULL AND scope IS NULL",
	                      only_a),
	                 2);
	/* Org A's live consent is withdrawn today, by the admin who erased; the
	 * one withdrawn before keeps its date. Org A can no longer refer on. */
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.consent WHERE person_id = %lld AND"
	                      " purpose = 'referral' AND withdrawn_on = core.referral_today()"
	                      " AND withdrawn_recorded_by = %lld",
	                      only_a, admin_a),
	                 1);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.consent WHERE person_id = %lld AND"
	                      " purpose = 'share_with_organisation' AND withdrawn_on ="
	                      " current_date - 15 AND withdrawn_recorded_by IS NULL",
	                      only_a),
	                 1);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.consent WHERE person_id = %lld AND"
	                      " (withdrawn_on IS NULL OR withdrawn_on > core.referral_today())",
	                      only_a),
	                 0);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.consent_allows(%lld, %lld, %lld,"
	                      " 'referral', core.referral_today()) c WHERE c IS NOT NULL",
	                      only_a, org_a, org_b),
	                 0);
	/* The link is kept for counting only: org A no longer holds the person. */
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM core.person_org WHERE person_id = %lld", only_a), 0);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.person_org_erased WHERE person_id = %lld"
	                      " AND org_id = %lld AND erased_by = %lld AND in_household AND"
	                      " NOT was_child_in_household",
	                      only_a, org_a, admin_a),
	                 1);
	ck_assert_int_eq(
	    sqln("SELECT birth_year FROM core.person WHERE id = %lld AND date_of_birth IS NULL",
	         only_a),
	    1985);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.referral WHERE person_id = %lld AND"
	                      " referrer_name IS NULL AND risk_summary IS NULL AND"
	                      " eligibility_note IS NULL AND decision_reason IS NULL AND"
	                      " status = 'accepted' AND eligibility = 'eligible'",
	                      only_a),
	                 1);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.referral_history rh JOIN core.referral r"
	                      " ON r.id = rh.referral_id WHERE r.person_id = %lld AND rh.reason IS"
	                      " NOT NULL",
	                      only_a),
	                 0);
	/* The child stays in the household, which keeps its name. */
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.household_member WHERE household_id ="
	                      " %lld",
	                      household_a),
	                 1);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = 'person.erase' AND"
	                      " person_id = %lld AND org_id = %lld AND"
	                      " detail->>'pseudonymised' = 'true'",
	                      only_a, org_a),
	                 1);
	/* Nothing the audit log says names the person. */
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE detail::text LIKE"
	                      " '%%Xylophonia%%'"),
	                 0);

	/* Gone for org A: export and a second erase are 404. */
	path_of(path, sizeof path, "/api/v1/people/%lld/export", only_a);
	expect_error(tok_admin_a, "GET", path, NULL, 404, "core.not_found", NULL);
	path_of(path, sizeof path, "/api/v1/people/%lld/erase", only_a);
	expect_error(tok_admin_a, "POST", path, body, 404, "core.not_found", NULL);

	/* The shared person: org A forgets them, org B keeps everything. */
	path_of(path, sizeof path, "/api/v1/people/%lld/export", shared);
	struct ts_response r = call(tok_admin_b, "GET", path, NULL, 200);
	json_t *b_before = ts_json(&r);
	ts_response_free(&r);
	path_of(path, sizeof path, "/api/v1/people/%lld/erase", shared);
	doc = call_json(tok_admin_a, "POST", path, body, 200);
	ck_assert(json_is_true(json_object_get(doc, "erased")));
	ck_assert(json_is_false(json_object_get(doc, "pseudonymised")));
	json_decref(doc);
	after = referral_counts();
	ck_assert_str_eq(after, before);
	free(after);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.person WHERE given_name = 'Zebedee' AND"
	                      " erased_at IS NULL"),
	                 1);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.person_flag WHERE person_id = %lld AND"
	                      " org_id = %lld",
	                      shared, org_a),
	                 0);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.referral WHERE person_id = %lld AND"
	                      " org_id = %lld AND risk_summary = 'B shared risk'",
	                      shared, org_b),
	                 1);
	/* Org A's consent about the shared person is withdrawn, org B's is not;
	 * the person keeps their date of birth (org B holds them). */
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.consent WHERE person_id = %lld AND"
	                      " org_id = %lld AND withdrawn_on = core.referral_today() AND"
	                      " withdrawn_recorded_by = %lld",
	                      shared, org_a, admin_a),
	                 1);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.consent WHERE person_id = %lld AND"
	                      " org_id = %lld AND withdrawn_on IS NULL",
	                      shared, org_b),
	                 1);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.person WHERE id = %lld AND"
	                      " date_of_birth = '1990-05-01' AND birth_year IS NULL",
	                      shared),
	                 1);
	path_of(path, sizeof path, "/api/v1/people/%lld/export", shared);
	json_t *b_after = call_json(tok_admin_b, "GET", path, NULL, 200);
	/* Everything but the export time and org B's own audit trail is identical. */
	json_object_del(b_before, "exported_at");
	json_object_del(b_after, "exported_at");
	json_object_del(b_before, "audit");
	json_object_del(b_after, "audit");
	ck_assert_msg(json_equal(b_before, b_after), "org B's view changed");
	json_decref(b_before);
	json_decref(b_after);
	expect_error(tok_admin_a, "GET", path, NULL, 404, "core.not_found", NULL);
	free(before);
}
END_TEST

START_TEST(erase_refusals_change_nothing)
{
	char path[128], body[128];
	path_of(path, sizeof path, "/api/v1/people/%lld/erase", only_a);
	snprintf(body, sizeof body, "{\"organisation_id\":%lld,\"confirm\":false}", org_a);
	expect_error(tok_admin_a, "POST", path, body, 400, "core.confirm_required", "confirm");
	snprintf(body, sizeof body, "{\"organisation_id\":%lld}", org_a);
	expect_error(tok_admin_a, "POST", path, body, 400, "core.missing_field", "confirm");
	expect_error(tok_admin_a, "POST", path, "{\"confirm\":true}", 400, "core.missing_field",
	             "organisation_id");
	snprintf(body, sizeof body, "{\"organisation_id\":%lld,\"confirm\":true}", org_a);
	char stray[160];
	snprintf(stray, sizeof stray, "%s?organisation_id=%lld", path, org_a);
	expect_error(tok_admin_a, "POST", stray, body, 400, "core.bad_query", "organisation_id");
	snprintf(body, sizeof body, "{\"organisation_id\":%lld,\"confirm\":true,\"x\":1}", org_a);
	expect_status(tok_admin_a, "POST", path, body, 400);
	/* Org B's admin: not admin of org A, and org B does not hold the person. */
	snprintf(body, sizeof body, "{\"organisation_id\":%lld,\"confirm\":true}", org_a);
	expect_error(tok_admin_b, "POST", path, body, 404, "core.not_found", NULL);
	snprintf(body, sizeof body, "{\"organisation_id\":%lld,\"confirm\":true}", org_b);
	expect_error(tok_admin_b, "POST", path, body, 404, "core.not_found", NULL);
	/* Coordinators and commissioners may not erase at all. */
	snprintf(body, sizeof body, "{\"organisation_id\":%lld,\"confirm\":true}", org_a);
	expect_status(tok_coord_a, "POST", path, body, 403);
	expect_status(tok_comm_a, "POST", path, body, 403);
	expect_status(tok_coord_a, "GET", "/api/v1/audit", NULL, 403);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.person WHERE given_name = 'Xylophonia'"),
	                 1);
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM core.person_org WHERE person_id = %lld", only_a), 1);
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM core.person_flag WHERE person_id = %lld", only_a), 1);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = 'person.erase'"), 0);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.consent WHERE withdrawn_recorded_by IS"
	                      " NOT NULL"),
	                 0);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.consent WHERE person_id = %lld AND"
	                      " note = 'Consent note text' AND withdrawn_on IS NULL",
	                      only_a),
	                 1);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.person_org_erased"), 0);
}
END_TEST

/* --- reports ----------------------------------------------------------- */

/* SQL for the first and last day of the last complete calendar quarter. */
#define THIS_QUARTER "date_trunc('quarter', core.referral_today()::timestamp)::date"
#define LASTQ_FROM   "(" THIS_QUARTER " - interval '3 months')::date"
#define LASTQ_TO     "(" THIS_QUARTER " - 1)"

static int figure(json_t *doc, const char *group, const char *by, const char *key)
{
	json_t *g = json_object_get(doc, group);
	json_t *f = by ? json_object_get(json_object_get(g, by), key) : json_object_get(g, key);
	ck_assert_msg(f != NULL, "no figure %s.%s.%s", group, by ? by : "", key);
	json_t *v = json_object_get(f, "value");
	if (json_is_null(v)) {
		ck_assert(json_is_true(json_object_get(f, "suppressed")));
		return -1;
	}
	ck_assert_msg(json_is_integer(v), "figure %s.%s is not a count", group, key);
	ck_assert_ptr_null(json_object_get(f, "suppressed"));
	return (int)json_integer_value(v);
}

/* The suppression rule itself: small cells hidden, then more (smallest
 * first) until two or more are hidden and they add up to at least 5. */
START_TEST(report_cells_hide_enough_to_protect_small_counts)
{
	static const struct {
		const char *counts, *want;
	} cases[] = {
	    {"3,5,9", "{\"a\" : {\"value\" : null, \"suppressed\" : true}, "
	              "\"b\" : {\"value\" : null, \"suppressed\" : true}, "
	              "\"c\" : {\"value\" : 9}}"},
	    {"0,6,9", "{\"a\" : {\"value\" : 0}, \"b\" : {\"value\" : 6}, "
	              "\"c\" : {\"value\" : 9}}"},
	    {"2,0,9", "{\"a\" : {\"value\" : null, \"suppressed\" : true}, "
	              "\"b\" : {\"value\" : 0}, "
	              "\"c\" : {\"value\" : null, \"suppressed\" : true}}"},
	    {"1,1,7,8", "{\"a\" : {\"value\" : null, \"suppressed\" : true}, "
	                "\"b\" : {\"value\" : null, \"suppressed\" : true}, "
	                "\"c\" : {\"value\" : null, \"suppressed\" : true}, "
	                "\"d\" : {\"value\" : 8}}"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char sql[256];
		snprintf(sql, sizeof sql,
		         "SELECT core.report_cells((ARRAY['a','b','c','d'])[1:%d], "
		         "ARRAY[%s]::bigint[])::text",
		         (int)(strlen(cases[i].counts) + 1) / 2, cases[i].counts);
		char *got = sqls("%s", sql);
		json_t *g = json_loads(got, 0, NULL), *w = json_loads(cases[i].want, 0, NULL);
		ck_assert_ptr_nonnull(w);
		ck_assert_msg(g && json_equal(g, w), "counts %s: %s", cases[i].counts, got);
		json_decref(g);
		json_decref(w);
		free(got);
	}
}
END_TEST

START_TEST(report_suppresses_small_counts)
{
	/* Org C: 3 women aged 30, 5 men without a date of birth, all in custody. */
	for (int i = 0; i < 8; i++) {
		long long id = sqln("INSERT INTO core.person (given_name, family_name, sex,"
		                    " custody_status, date_of_birth) VALUES ('Reportname%d',"
		                    " 'Counted', '%s', 'in_custody', %s) RETURNING id",
		                    i, i < 3 ? "female" : "male",
		                    i < 3 ? "current_date - interval '30 years 2 days'" : "NULL");
		sqln("INSERT INTO core.person_org (person_id, org_id) VALUES (%lld, %lld)", id,
		     org_c);
		sqln("INSERT INTO core.referral (org_id, person_id, source, referred_on, status)"
		     " VALUES (%lld, %lld, '%s', " LASTQ_TO " - %d, '%s')",
		     org_c, id,
		     i < 5   ? "probation"
		     : i < 7 ? "court"
		             : "school",
		     i < 7 ? 10 : 800, i < 5 ? "received" : "accepted");
	}
	sqln("INSERT INTO core.household (org_id, name) VALUES (%lld, 'C house')", org_c);

	char path[160];
	path_of(path, sizeof path, "/api/v1/reports/summary?organisation_id=%lld", org_c);
	struct ts_response r = call(tok_comm_c, "GET", path, NULL, 200);
	json_t *doc = ts_json(&r);
	ck_assert_ptr_nonnull(doc);
	ck_assert_ptr_null(strstr(r.body, "Reportname"));
	ck_assert_ptr_null(strstr(r.body, "person_id"));
	ts_response_free(&r);
	ck_assert_int_eq(figure(doc, "people", "by_sex", "female"), -1);
	/* Secondary suppression: 8 people in all, so showing the 5 men would
	 * reveal the 3 women. */
	ck_assert_int_eq(figure(doc, "people", "by_sex", "male"), -1);
	ck_assert_int_eq(figure(doc, "people", "by_sex", "not_recorded"), 0);
	ck_assert_int_eq(figure(doc, "people", "by_sex", "unknown"), 0);
	ck_assert_int_eq(figure(doc, "people", "by_sex", "other"), 0);
	ck_assert_int_eq(figure(doc, "people", NULL, "total"), 8);
	ck_assert_int_eq(figure(doc, "people", "by_custody_status", "in_custody"), 8);
	ck_assert_int_eq(figure(doc, "people", "by_custody_status", "remand"), 0);
	ck_assert_int_eq(figure(doc, "people", "by_age_band", "25_34"), -1);
	ck_assert_int_eq(figure(doc, "people", "by_age_band", "unknown"), -1);
	ck_assert_int_eq(figure(doc, "people", "by_age_band", "under_18"), 0);
	ck_assert_int_eq(
	    json_object_size(json_object_get(json_object_get(doc, "people"), "by_age_band")), 6);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "people"), "unit")),
	                 "people");
	/* Referrals in the default period (the last complete quarter): the school
	 * one is older. */
	char *q_from = sqls("SELECT " LASTQ_FROM "::text"),
	     *q_to = sqls("SELECT " LASTQ_TO "::text");
	ck_assert_str_eq(json_string_value(json_object_get(doc, "from")), q_from);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "to")), q_to);
	free(q_from);
	free(q_to);
	ck_assert_int_eq(figure(doc, "referrals", "by_source", "probation"), -1);
	ck_assert_int_eq(figure(doc, "referrals", "by_source", "court"), -1);
	ck_assert_int_eq(figure(doc, "referrals", "by_source", "school"), 0);
	ck_assert_int_eq(figure(doc, "referrals", "by_status", "received"), -1);
	ck_assert_int_eq(figure(doc, "referrals", "by_status", "accepted"), -1);
	ck_assert_int_eq(figure(doc, "referrals", NULL, "total"), 7);
	ck_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(doc, "referrals"), "unit")),
	    "referrals received in period");
	ck_assert_int_eq(figure(doc, "households", NULL, "total"), -1);
	ck_assert_int_eq(figure(doc, "children_in_households", NULL, "total"), 0);
	json_decref(doc);

	/* A wider period (an admin's) takes the older referral in. */
	char *from = sqls("SELECT (current_date - 1000)::text");
	char *to = sqls("SELECT core.referral_today()::text");
	char wide[200];
	snprintf(wide, sizeof wide, "%s&from=%s&to=%s", path, from, to);
	doc = call_json(tok_admin_c, "GET", wide, NULL, 200);
	ck_assert_int_eq(figure(doc, "referrals", "by_source", "school"), -1);
	ck_assert_int_eq(figure(doc, "referrals", NULL, "total"), 8);
	json_decref(doc);
	free(from);
	free(to);

	/* Org A's report counts org A: a child in a household (suppressed). */
	path_of(path, sizeof path, "/api/v1/reports/summary?organisation_id=%lld", org_a);
	doc = call_json(tok_comm_a, "GET", path, NULL, 200);
	ck_assert_int_eq(figure(doc, "children_in_households", NULL, "total"), -1);
	ck_assert_int_eq(figure(doc, "people", "by_age_band", "under_18"), -1);
	json_decref(doc);
}
END_TEST

START_TEST(report_checks_scope_and_parameters)
{
	char path[200];
	/* Not a member of that organisation: 404, not 403. */
	path_of(path, sizeof path, "/api/v1/reports/summary?organisation_id=%lld", org_a);
	expect_error(tok_comm_c, "GET", path, NULL, 404, "core.not_found", NULL);
	expect_error(tok_admin_b, "GET", path, NULL, 404, "core.not_found", NULL);
	expect_status(tok_coord_a, "GET", path, NULL, 403);
	expect_error(tok_comm_a, "GET", "/api/v1/reports/summary", NULL, 400, "core.bad_query",
	             "organisation_id");
	expect_error(tok_comm_a, "GET", "/api/v1/reports/summary?organisation_id=x", NULL, 400,
	             "core.bad_query", "organisation_id");
	snprintf(path, sizeof path, "/api/v1/reports/summary?organisation_id=%lld&from=2024-02-30",
	         org_a);
	expect_error(tok_comm_a, "GET", path, NULL, 400, "core.bad_query", "from");
	snprintf(path, sizeof path, "/api/v1/reports/summary?organisation_id=%lld&to=yesterday",
	         org_a);
	expect_error(tok_comm_a, "GET", path, NULL, 400, "core.bad_query", "to");
	snprintf(path, sizeof path,
	         "/api/v1/reports/summary?organisation_id=%lld&from=2024-03-01&to=2024-02-01",
	         org_a);
	expect_error(tok_comm_a, "GET", path, NULL, 422, "core.bad_range", "to");
	snprintf(path, sizeof path,
	         "/api/v1/reports/summary?organisation_id=%lld&from=2018-01-01&to=2023-01-02",
	         org_a);
	expect_error(tok_comm_a, "GET", path, NULL, 422, "core.bad_range", "from");
	snprintf(path, sizeof path,
	         "/api/v1/reports/summary?organisation_id=%lld&from=2018-01-01&to=2023-01-01",
	         org_a);
	json_t *doc = call_json(tok_admin_a, "GET", path, NULL, 200);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "from")), "2018-01-01");
	ck_assert_str_eq(json_string_value(json_object_get(doc, "to")), "2023-01-01");
	json_decref(doc);
	/* from and to go together. */
	snprintf(path, sizeof path, "/api/v1/reports/summary?organisation_id=%lld&from=2024-01-01",
	         org_a);
	expect_error(tok_admin_a, "GET", path, NULL, 400, "core.bad_query", "to");
	snprintf(path, sizeof path, "/api/v1/reports/summary?organisation_id=%lld&to=2024-03-31",
	         org_a);
	expect_error(tok_comm_a, "GET", path, NULL, 400, "core.bad_query", "from");
	/* Unknown and repeated parameters are refused, not ignored. */
	snprintf(path, sizeof path, "/api/v1/reports/summary?organisation_id=%lld&since=2024-01-01",
	         org_a);
	expect_error(tok_comm_a, "GET", path, NULL, 400, "core.bad_query", "since");
	snprintf(path, sizeof path,
	         "/api/v1/reports/summary?organisation_id=%lld&organisation_id=%lld", org_a, org_c);
	expect_error(tok_comm_a, "GET", path, NULL, 400, "core.bad_query", "organisation_id");
}
END_TEST

/* Commissioners get whole calendar quarters: two overlapping periods a day
 * apart would otherwise show, by difference, one referral's source and
 * status. Admins of the organisation may ask for any period. */
START_TEST(report_commissioners_get_whole_quarters)
{
	/* Six referrals on 2024-02-10, one more on 2024-02-11. */
	for (int i = 0; i < 7; i++) {
		long long id = sqln("INSERT INTO core.person (given_name, family_name) VALUES"
		                    " ('Quarter', 'Person') RETURNING id");
		sqln("INSERT INTO core.person_org (person_id, org_id) VALUES (%lld, %lld)", id,
		     org_c);
		sqln("INSERT INTO core.referral (org_id, person_id, source, referred_on)"
		     " VALUES (%lld, %lld, '%s', '%s')",
		     org_c, id, i < 6 ? "probation" : "school",
		     i < 6 ? "2024-02-10" : "2024-02-11");
	}
	static const struct {
		const char *from, *to;
	} refused[] = {
	    {"2024-02-01", "2024-02-10"}, {"2024-02-01", "2024-02-11"},
	    {"2024-01-01", "2024-03-30"}, {"2024-01-02", "2024-04-01"},
	    {"2024-02-01", "2024-04-30"}, {"2024-01-01", "2024-06-30"},
	    {"2024-03-01", "2024-03-31"}, {"2024-01-01", "2024-01-01"},
	};
	char path[200];
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		snprintf(path, sizeof path,
		         "/api/v1/reports/summary?organisation_id=%lld&from=%s&to=%s", org_c,
		         refused[i].from, refused[i].to);
		expect_error(tok_comm_c, "GET", path, NULL, 422, "core.bad_period", "from");
	}
	static const struct {
		const char *from, *to;
	} quarters[] = {{"2024-01-01", "2024-03-31"},
	                {"2024-04-01", "2024-06-30"},
	                {"2024-07-01", "2024-09-30"},
	                {"2023-10-01", "2023-12-31"}};
	for (size_t i = 0; i < sizeof quarters / sizeof quarters[0]; i++) {
		snprintf(path, sizeof path,
		         "/api/v1/reports/summary?organisation_id=%lld&from=%s&to=%s", org_c,
		         quarters[i].from, quarters[i].to);
		json_t *doc = call_json(tok_comm_c, "GET", path, NULL, 200);
		ck_assert_str_eq(json_string_value(json_object_get(doc, "from")), quarters[i].from);
		ck_assert_str_eq(json_string_value(json_object_get(doc, "to")), quarters[i].to);
		ck_assert_int_eq(figure(doc, "referrals", NULL, "total"), i == 0 ? 7 : 0);
		json_decref(doc);
	}
	/* An admin of the organisation may ask for any period (they can read
	 * the referrals themselves). */
	snprintf(path, sizeof path,
	         "/api/v1/reports/summary?organisation_id=%lld&from=2024-02-01&to=2024-02-10",
	         org_c);
	json_t *doc = call_json(tok_admin_c, "GET", path, NULL, 200);
	ck_assert_int_eq(figure(doc, "referrals", NULL, "total"), 6);
	ck_assert_int_eq(figure(doc, "referrals", "by_source", "probation"), 6);
	json_decref(doc);
	/* Not a member: 404 before any period rule, as for any organisation. */
	snprintf(path, sizeof path,
	         "/api/v1/reports/summary?organisation_id=%lld&from=2024-02-01&to=2024-02-10",
	         org_a);
	expect_error(tok_comm_c, "GET", path, NULL, 404, "core.not_found", NULL);
}
END_TEST

/* The age an erased person is counted at: from the year of birth only,
 * birthday taken as 1 July. */
START_TEST(report_age_from_birth_year)
{
	static const struct {
		const char *args, *band;
	} cases[] = {
	    {"NULL, 1990::smallint, '2025-06-30'", "25_34"},
	    {"NULL, 1990::smallint, '2025-07-01'", "35_49"},
	    {"'1990-12-31', 1990::smallint, '2025-07-01'", "25_34"},
	    {"NULL, 2008::smallint, '2025-12-31'", "under_18"},
	    {"NULL, 2008::smallint, '2026-06-30'", "under_18"},
	    {"NULL, 2008::smallint, '2026-07-01'", "18_24"},
	    {"NULL, NULL, '2025-06-30'", "unknown"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *got = sqls("SELECT core.report_age_band(%s)", cases[i].args);
		ck_assert_msg(!strcmp(got, cases[i].band), "%s: %s", cases[i].args, got);
		free(got);
	}
}
END_TEST

/* People held by org C, each figure of the erased people's cells 5 or more,
 * so that one person fewer shows. */
static long long c_person(const char *sex, const char *custody, const char *dob, int with_b)
{
	long long id = sqln("INSERT INTO core.person (given_name, family_name, sex, custody_status,"
	                    " date_of_birth) VALUES ('Countme', 'Figure', '%s', '%s', %s)"
	                    " RETURNING id",
	                    sex, custody, dob);
	sqln("INSERT INTO core.person_org (person_id, org_id) VALUES (%lld, %lld)", id, org_c);
	if (with_b)
		sqln("INSERT INTO core.person_org (person_id, org_id) VALUES (%lld, %lld)", id,
		     org_b);
	return id;
}

static json_t *c_report(void)
{
	char path[128];
	path_of(path, sizeof path, "/api/v1/reports/summary?organisation_id=%lld", org_c);
	json_t *doc = call_json(tok_admin_c, "GET", path, NULL, 200);
	json_object_del(doc, "generated_at");
	return doc;
}

static void c_erase(long long id, int pseudonymised)
{
	char path[128], body[128];
	path_of(path, sizeof path, "/api/v1/people/%lld/erase", id);
	snprintf(body, sizeof body, "{\"organisation_id\":%lld,\"confirm\":true}", org_c);
	json_t *doc = call_json(tok_admin_c, "POST", path, body, 200);
	ck_assert(json_is_boolean(json_object_get(doc, "pseudonymised")));
	ck_assert_int_eq(json_is_true(json_object_get(doc, "pseudonymised")), pseudonymised);
	json_decref(doc);
}

START_TEST(erase_keeps_report_figures)
{
	long long hh = sqln("INSERT INTO core.household (org_id, name) VALUES (%lld, 'C family')"
	                    " RETURNING id",
	                    org_c);
	long long women[6], men[6], kids[6];
	for (int i = 0; i < 6; i++) {
		women[i] = c_person("female", "in_custody",
		                    "current_date - interval '40 years 100 days'", i == 0);
		men[i] = c_person("male", "remand", "current_date - interval '60 years'", 0);
		/* Children by relationship, and (siblings) by age. */
		kids[i] = c_person("not_recorded", "not_applicable",
		                   "current_date - interval '10 years 100 days'", i == 1);
		sqln("INSERT INTO core.household_member (household_id, person_id, relationship)"
		     " VALUES (%lld, %lld, '%s')",
		     hh, kids[i], i == 1 || i == 2 ? "sibling" : "child");
	}
	/* A child of the household by relationship only: an adult. */
	long long grown = c_person("not_recorded", "not_applicable",
	                           "current_date - interval '20 years 100 days'", 0);
	sqln("INSERT INTO core.household_member (household_id, person_id, relationship)"
	     " VALUES (%lld, %lld, 'child')",
	     hh, grown);
	json_t *before = c_report();
	ck_assert_int_eq(figure(before, "people", NULL, "total"), 19);
	ck_assert_int_eq(figure(before, "people", "by_sex", "female"), 6);
	ck_assert_int_eq(figure(before, "people", "by_sex", "not_recorded"), 7);
	ck_assert_int_eq(figure(before, "people", "by_custody_status", "remand"), 6);
	ck_assert_int_eq(figure(before, "people", "by_age_band", "50_plus"), 6);
	ck_assert_int_eq(figure(before, "people", "by_age_band", "unknown"), 0);
	ck_assert_int_eq(figure(before, "children_in_households", NULL, "total"), 7);

	/* Held by org C only: pseudonymised. A child by relationship, a child by
	 * age alone, and a man. */
	c_erase(kids[0], 1);
	c_erase(kids[2], 1);
	c_erase(men[0], 1);
	c_erase(grown, 1);
	/* Also held by org B: not pseudonymised. */
	c_erase(kids[1], 0);
	c_erase(women[0], 0);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.person WHERE id IN (%lld, %lld, %lld,"
	                      " %lld) AND erased_at IS NOT NULL AND date_of_birth IS NULL AND"
	                      " birth_year IS NOT NULL",
	                      kids[0], kids[2], men[0], grown),
	                 4);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.person_org WHERE org_id = %lld", org_c),
	                 13);
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM core.household_member WHERE household_id = %lld", hh), 3);
	json_t *after = c_report();
	char *b = json_dumps(before, JSON_SORT_KEYS), *a = json_dumps(after, JSON_SORT_KEYS);
	ck_assert_msg(json_equal(before, after), "report changed:\n%s\n%s", b, a);
	free(b);
	free(a);
	json_decref(after);

	/* Held again (a new referral) and erased again: still counted once. */
	sqln("INSERT INTO core.person_org (person_id, org_id) VALUES (%lld, %lld)", women[0],
	     org_c);
	after = c_report();
	ck_assert(json_equal(before, after));
	json_decref(after);
	c_erase(women[0], 0);
	after = c_report();
	ck_assert(json_equal(before, after));
	json_decref(after);
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM core.person_org_erased WHERE org_id = %lld", org_c), 6);
	json_decref(before);
}
END_TEST

/* --- audit ------------------------------------------------------------- */

START_TEST(audit_query_filters_and_pages)
{
	/* Known rows at known times, in org A and org B. */
	sqln("INSERT INTO core.audit (at, actor_staff_id, org_id, action, object_type, object_id,"
	     " person_id) VALUES"
	     " ('2024-03-01T12:00:00Z', %lld, %lld, 'flag.read', 'person_flag', 1, %lld),"
	     " ('2024-03-05T09:30:00Z', %lld, %lld, 'flag.read', 'person_flag', 2, %lld),"
	     " ('2024-03-10T00:00:00Z', %lld, %lld, 'household.update', 'household', 3, NULL),"
	     " ('2024-03-02T00:00:00Z', %lld, %lld, 'flag.read', 'person_flag', 4, %lld)",
	     admin_a, org_a, only_a, admin_a, org_a, shared, admin_a, org_a, admin_b, org_b,
	     only_b);
	long long mine = sqln("SELECT count(*) FROM core.audit WHERE org_id = %lld", org_a);
	ck_assert_int_eq(mine, 5);

	json_t *doc = call_json(tok_admin_a, "GET", "/api/v1/audit", NULL, 200);
	json_t *items = json_object_get(doc, "items");
	ck_assert_int_eq(json_array_size(items), mine);
	ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
	size_t i;
	json_t *it;
	long long prev = 0;
	json_array_foreach(items, i, it)
	{
		ck_assert_int_eq(json_integer_value(json_object_get(it, "organisation_id")), org_a);
		long long id = json_integer_value(json_object_get(it, "id"));
		ck_assert(prev == 0 || id < prev);
		prev = id;
	}
	json_decref(doc);

	/* Pages of two, newest first, until next_cursor is null. */
	char path[256] = "/api/v1/audit?limit=2";
	int seen = 0, pages = 0;
	prev = 0;
	for (;;) {
		doc = call_json(tok_admin_a, "GET", path, NULL, 200);
		items = json_object_get(doc, "items");
		json_array_foreach(items, i, it)
		{
			long long id = json_integer_value(json_object_get(it, "id"));
			ck_assert(prev == 0 || id < prev);
			prev = id;
			seen++;
		}
		pages++;
		json_t *next = json_object_get(doc, "next_cursor");
		if (json_is_null(next)) {
			json_decref(doc);
			break;
		}
		ck_assert_int_eq(json_array_size(items), 2);
		ck_assert_int_eq(atoll(json_string_value(next)), prev);
		snprintf(path, sizeof path, "/api/v1/audit?limit=2&cursor=%s",
		         json_string_value(next));
		json_decref(doc);
		ck_assert_int_lt(pages, 10);
	}
	ck_assert_int_eq(seen, mine);
	ck_assert_int_eq(pages, 3);

	static const struct {
		const char *query;
		int count;
	} filters[] = {
	    {"action=flag.read", 2},
	    {"action=household.update", 1},
	    {"object_type=household", 1},
	    {"action=person.create", 2},
	    {"since=2024-03-01&until=2024-03-04", 1},
	    {"since=2024-03-01&until=2024-03-10", 3},
	    {"since=2024-03-05T09:30:00Z&until=2024-03-05T09:30:00Z", 1},
	    {"since=2024-03-05T10:00:00%2B01:00&until=2024-03-05", 1},
	    {"since=2024-03-05T10:00:00.5%2B01:00", 4},
	    {"until=2024-03-05T09:29:59Z", 1},
	    {"action=flag.read&since=2024-03-02", 1},
	};
	for (size_t k = 0; k < sizeof filters / sizeof filters[0]; k++) {
		snprintf(path, sizeof path, "/api/v1/audit?%s", filters[k].query);
		doc = call_json(tok_admin_a, "GET", path, NULL, 200);
		ck_assert_msg((int)json_array_size(json_object_get(doc, "items")) ==
		                  filters[k].count,
		              "%s: %zu rows, expected %d", filters[k].query,
		              json_array_size(json_object_get(doc, "items")), filters[k].count);
		json_decref(doc);
	}
	snprintf(path, sizeof path, "/api/v1/audit?person_id=%lld", shared);
	doc = call_json(tok_admin_a, "GET", path, NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 2);
	json_decref(doc);
	snprintf(path, sizeof path, "/api/v1/audit?actor_id=%lld", admin_b);
	doc = call_json(tok_admin_a, "GET", path, NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 0);
	json_decref(doc);
	doc = call_json(tok_admin_b, "GET", path, NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 2);
	json_decref(doc);

	static const struct {
		const char *query, *field;
	} bad[] = {
	    {"since=2024-13-01", "since"},
	    {"since=2024-02-30", "since"},
	    {"until=2024-03-01T25:00:00Z", "until"},
	    {"until=2024-03-01T10:00:00", "until"},
	    {"since=yesterday", "since"},
	    {"person_id=abc", "person_id"},
	    {"actor_id=0", "actor_id"},
	    {"action=Flag.Read", "action"},
	    {"action=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "action"},
	    {"limit=0", "limit"},
	    {"cursor=x", "cursor"},
	    {"person=1", "person"},
	    {"action=flag.read&action=person.create", "action"},
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		snprintf(path, sizeof path, "/api/v1/audit?%s", bad[k].query);
		expect_error(tok_admin_a, "GET", path, NULL, 400, "core.bad_query", bad[k].field);
	}
	expect_error(tok_admin_a, "GET", "/api/v1/audit?since=2024-03-02&until=2024-03-01", NULL,
	             400, "core.bad_range", "until");
	expect_error(tok_admin_a, "GET", "/api/v1/audit?since=2023-01-01&until=2024-02-06", NULL,
	             400, "core.bad_range", "until");
	doc = call_json(tok_admin_a, "GET", "/api/v1/audit?since=2023-01-01&until=2024-02-05", NULL,
	                200);
	json_decref(doc);
	expect_status(tok_coord_a, "GET", "/api/v1/audit", NULL, 403);
	expect_status(tok_comm_a, "GET", "/api/v1/audit", NULL, 403);
	/* An admin of an organisation with no rows sees nothing of the others. */
	doc = call_json(tok_admin_c, "GET", "/api/v1/audit", NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 0);
	json_decref(doc);
}
END_TEST

START_TEST(audit_cannot_be_altered)
{
	long long n = sqln("SELECT count(*) FROM core.audit");
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(ts_db_exec(db, "UPDATE core.audit SET action = 'x.y'"), -1);
	ck_assert_int_eq(ts_db_exec(db, "UPDATE core.audit SET detail = '{}' WHERE id = (SELECT"
	                                " min(id) FROM core.audit)"),
	                 -1);
	ck_assert_int_eq(ts_db_exec(db, "DELETE FROM core.audit"), -1);
	ck_assert_int_eq(ts_db_exec(db, "TRUNCATE core.audit"), -1);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit"), n);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = 'x.y'"), 0);
	/* No route writes the audit log either. */
	expect_status(tok_admin_a, "DELETE", "/api/v1/audit", NULL, 405);
	expect_status(tok_admin_a, "POST", "/api/v1/audit", "{}", 405);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit"), n);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("subject");
	TCase *tc = tcase_create("subject");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, export_holds_the_callers_organisations_data_only);
	tcase_add_test(tc, export_of_a_person_with_household_consent_referral_history);
	tcase_add_test(tc, export_refuses_outsiders_and_other_roles);
	tcase_add_test(tc, erase_round_trip);
	tcase_add_test(tc, erase_refusals_change_nothing);
	tcase_add_test(tc, report_cells_hide_enough_to_protect_small_counts);
	tcase_add_test(tc, report_suppresses_small_counts);
	tcase_add_test(tc, report_checks_scope_and_parameters);
	tcase_add_test(tc, report_commissioners_get_whole_quarters);
	tcase_add_test(tc, report_age_from_birth_year);
	tcase_add_test(tc, erase_keeps_report_figures);
	tcase_add_test(tc, audit_query_filters_and_pages);
	tcase_add_test(tc, audit_cannot_be_altered);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
