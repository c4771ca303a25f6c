/*
 * People and assignments over HTTP against the real server and database:
 * a coordinator records, reads and corrects a person; bad input is refused
 * naming the field and writes nothing; another organisation's coordinator
 * cannot tell the person exists; a mentor sees only the people assigned to
 * them, and only the caseload fields; a commissioner never reaches a person;
 * reading a child's record is audited; pages cover every visible person once.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ts.h"

static struct ts_server srv;
static char *db;
static char *coord_a, *coord_b, *mentor_a, *facil_a, *comm_a;
static long long org_a, org_b;

static void setup(void)
{
	db = ts_db_create("people");
	struct ts_server_opts o = {.database_url = db};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	coord_a = ts_staff_token(db, "Org A", "coord.a@example.org", "coordinator", 0);
	coord_b = ts_staff_token(db, "Org B", "coord.b@example.org", "coordinator", 0);
	mentor_a = ts_staff_token(db, "Org A", "mentor.a@example.org", "mentor", 0);
	facil_a = ts_staff_token(db, "Org A", "facil.a@example.org", "facilitator", 0);
	comm_a = ts_staff_token(db, "Org A", "comm.a@example.org", "commissioner", 0);
	org_a = ts_org_id(db, "Org A");
	org_b = ts_org_id(db, "Org B");
	snprintf(srv.token, sizeof srv.token, "%s", coord_a);
}

static void teardown(void)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
	free(coord_a);
	free(coord_b);
	free(mentor_a);
	free(facil_a);
	free(comm_a);
}

/* One request as the holder of `token`; `body` may be NULL. Checks the
 * status and returns the parsed body (NULL for an empty one). */
static json_t *call(const char *token, const char *method, const char *path, const char *body,
                    int status)
{
	char headers[256];
	snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\n%s", token,
	         body ? "Content-Type: application/json\r\n" : "");
	struct ts_response r;
	ck_assert_int_eq(
	    ts_http(&srv, method, path, headers, body, body ? strlen(body) : 0, 10000, &r), 0);
	ck_assert_msg(r.status == status, "%s %s: %d, expected %d: %s", method, path, r.status,
	              status, r.body ? r.body : "");
	json_t *doc = r.body_len ? ts_json(&r) : NULL;
	ts_response_free(&r);
	return doc;
}

/* Like call() for a refusal: checks status, error code and field. */
static void refused(const char *token, const char *method, const char *path, const char *body,
                    int status, const char *code, const char *field)
{
	json_t *doc = call(token, method, path, body, status);
	ck_assert_msg(doc != NULL, "%s %s: no error body", method, path);
	json_t *err = json_object_get(doc, "error");
	ck_assert_str_eq(json_string_value(json_object_get(err, "code")), code);
	if (field)
		ck_assert_str_eq(json_string_value(json_object_get(err, "field")) ?: "(none)",
		                 field);
	json_decref(doc);
}

static long long db_count(const char *sql)
{
	char *v = ts_db_value(db, sql);
	long long n = v ? atoll(v) : -1;
	free(v);
	return n;
}

static long long id_of(const json_t *doc)
{
	json_t *id = json_object_get(doc, "id");
	ck_assert_msg(json_is_integer(id), "no integer id");
	return (long long)json_integer_value(id);
}

static const char *str(const json_t *doc, const char *key)
{
	return json_string_value(json_object_get(doc, key));
}

/* A date `days` from today (UTC), YYYY-MM-DD. */
static void date_from_today(long days, char out[11])
{
	time_t t = time(NULL) + days * 86400;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/* POSTs a person to org_a as coord_a; returns its id. */
static long long make_person(const char *token, long long org, const char *given,
                             const char *family, const char *dob)
{
	char body[512];
	if (dob)
		snprintf(body, sizeof body,
		         "{\"organisation_id\":%lld,\"given_name\":\"%s\",\"family_name\":\"%s\","
		         "\"date_of_birth\":\"%s\"}",
		         org, given, family, dob);
	else
		snprintf(body, sizeof body,
		         "{\"organisation_id\":%lld,\"given_name\":\"%s\",\"family_name\":\"%s\"}",
		         org, given, family);
	json_t *doc = call(token, "POST", "/api/v1/people", body, 201);
	long long id = id_of(doc);
	json_decref(doc);
	return id;
}

START_TEST(create_read_update)
{
	char body[1024], path[64];
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"given_name\":\"Amira\",\"family_name\":\"Okafor\","
	         "\"known_as\":\"Amy\",\"date_of_birth\":\"1988-04-02\",\"sex\":\"female\","
	         "\"is_participant\":true,\"custody_status\":\"in_custody\","
	         "\"establishment\":\"HMP Example\",\"expected_release_date\":\"2031-02-28\","
	         "\"probation_office\":\"North\",\"probation_practitioner\":\"J. Smith\","
	         "\"area\":\"Ward 7\",\"risk_level\":\"medium\"}",
	         org_a);
	json_t *made = call(coord_a, "POST", "/api/v1/people", body, 201);
	long long id = id_of(made);
	ck_assert_str_eq(str(made, "given_name"), "Amira");
	ck_assert_str_eq(str(made, "date_of_birth"), "1988-04-02");
	ck_assert_str_eq(str(made, "expected_release_date"), "2031-02-28");
	ck_assert_str_eq(str(made, "custody_status"), "in_custody");
	ck_assert_str_eq(str(made, "risk_level"), "medium");
	ck_assert_str_eq(str(made, "access"), "full");
	ck_assert(json_is_true(json_object_get(made, "is_participant")));
	ck_assert_int_eq(json_integer_value(json_object_get(made, "version")), 1);
	json_t *orgs = json_object_get(made, "organisations");
	ck_assert_int_eq(json_array_size(orgs), 1);
	ck_assert_int_eq(json_integer_value(json_array_get(orgs, 0)), org_a);

	/* The organisation holds the person; the audit row names fields only. */
	char sql[256];
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.person_org WHERE person_id = %lld AND org_id = %lld",
	         id, org_a);
	ck_assert_int_eq(db_count(sql), 1);
	snprintf(sql, sizeof sql,
	         "SELECT detail::text FROM core.audit WHERE action = 'person.create' "
	         "AND person_id = %lld AND org_id = %lld",
	         id, org_a);
	char *detail = ts_db_value(db, sql);
	ck_assert_ptr_nonnull(detail);
	ck_assert_ptr_nonnull(strstr(detail, "\"given_name\""));
	ck_assert_ptr_nonnull(strstr(detail, "\"date_of_birth\""));
	ck_assert_ptr_null(strstr(detail, "Amira"));
	ck_assert_ptr_null(strstr(detail, "1988"));
	free(detail);

	snprintf(path, sizeof path, "/api/v1/people/%lld", id);
	json_t *got = call(coord_a, "GET", path, NULL, 200);
	ck_assert_msg(json_equal(made, got), "GET differs from POST");
	json_decref(got);
	json_decref(made);

	/* A correction: one field set, one cleared; version moves on. */
	got = call(coord_a, "PATCH", path,
	           "{\"version\":1,\"known_as\":\"Mira\",\"establishment\":null}", 200);
	ck_assert_str_eq(str(got, "known_as"), "Mira");
	ck_assert(json_is_null(json_object_get(got, "establishment")));
	ck_assert_str_eq(str(got, "given_name"), "Amira");
	ck_assert_int_eq(json_integer_value(json_object_get(got, "version")), 2);
	json_decref(got);
	snprintf(sql, sizeof sql,
	         "SELECT detail->>'fields' FROM core.audit WHERE action = 'person.update' "
	         "AND person_id = %lld",
	         id);
	detail = ts_db_value(db, sql);
	ck_assert_str_eq(detail ? detail : "(none)", "[\"establishment\", \"known_as\"]");
	free(detail);

	/* A stale version is refused and changes nothing. */
	refused(coord_a, "PATCH", path, "{\"version\":1,\"area\":\"Elsewhere\"}", 409, "core.stale",
	        "version");
	snprintf(sql, sizeof sql, "SELECT area || '/' || version FROM core.person WHERE id = %lld",
	         id);
	detail = ts_db_value(db, sql);
	ck_assert_str_eq(detail, "Ward 7/2");
	free(detail);

	/* PATCH refuses what it does not accept, naming the field. */
	refused(coord_a, "PATCH", path, "{\"organisation_id\":1}", 400, "core.unknown_field",
	        "organisation_id");
	refused(coord_a, "PATCH", path, "{\"given_name\":null}", 400, "core.wrong_type",
	        "given_name");
	refused(coord_a, "PATCH", path, "{\"risk_level\":null}", 400, "core.wrong_type",
	        "risk_level");
	refused(coord_a, "PATCH", path, "{\"sex\":\"f\"}", 400, "core.bad_enum", "sex");
	refused(coord_a, "PATCH", "/api/v1/people/999999", "{\"area\":\"X\"}", 404,
	        "core.not_found", NULL);
	snprintf(sql, sizeof sql, "SELECT version FROM core.person WHERE id = %lld", id);
	ck_assert_int_eq(db_count(sql), 2);
	ck_assert_int_eq(db_count("SELECT count(*) FROM core.audit WHERE action = 'person.update'"),
	                 1);
}
END_TEST

/* Every refusal names the field and leaves the person count unchanged. */
START_TEST(bad_input_changes_nothing)
{
	char body[1024], future[11], long_name[160];
	long long first = make_person(coord_a, org_a, "Dana", "Reyes", "1990-01-15");
	long long people = db_count("SELECT count(*) FROM core.person");
	long long audits = db_count("SELECT count(*) FROM core.audit");
	ck_assert_int_eq(people, 1);

	/* Same identity, any letter case: 409, naming the existing record. */
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"given_name\":\"DANA\",\"family_name\":\"reyes\","
	         "\"date_of_birth\":\"1990-01-15\"}",
	         org_a);
	json_t *doc = call(coord_a, "POST", "/api/v1/people", body, 409);
	json_t *err = json_object_get(doc, "error");
	ck_assert_str_eq(str(err, "code"), "core.duplicate_person");
	char want[32];
	snprintf(want, sizeof want, "person %lld", first);
	ck_assert_msg(strstr(str(err, "message"), want), "message does not name the record: %s",
	              str(err, "message"));
	json_decref(doc);

	date_from_today(2, future);
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"given_name\":\"Kit\",\"family_name\":\"Low\","
	         "\"date_of_birth\":\"%s\"}",
	         org_a, future);
	refused(coord_a, "POST", "/api/v1/people", body, 422, "core.date_in_future",
	        "date_of_birth");
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"given_name\":\"Kit\",\"family_name\":\"Low\","
	         "\"date_of_birth\":\"1899-12-31\"}",
	         org_a);
	refused(coord_a, "POST", "/api/v1/people", body, 400, "core.bad_date", "date_of_birth");
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"given_name\":\"Kit\",\"family_name\":\"Low\","
	         "\"custody_status\":\"escaped\"}",
	         org_a);
	refused(coord_a, "POST", "/api/v1/people", body, 400, "core.bad_enum", "custody_status");
	memset(long_name, 'a', 101);
	long_name[101] = '\0';
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"given_name\":\"Kit\",\"family_name\":\"%s\"}", org_a,
	         long_name);
	refused(coord_a, "POST", "/api/v1/people", body, 400, "core.too_long", "family_name");
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"given_name\":\"Kit\\u0007\",\"family_name\":\"Low\"}",
	         org_a);
	refused(coord_a, "POST", "/api/v1/people", body, 400, "core.bad_text", "given_name");
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"given_name\":\"Kit\",\"family_name\":\"Low\","
	         "\"nickname\":\"K\"}",
	         org_a);
	refused(coord_a, "POST", "/api/v1/people", body, 400, "core.unknown_field", "nickname");
	snprintf(body, sizeof body, "{\"organisation_id\":%lld,\"family_name\":\"Low\"}", org_a);
	refused(coord_a, "POST", "/api/v1/people", body, 400, "core.missing_field", "given_name");
	/* Another organisation's id is not found, whoever runs it. */
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"given_name\":\"Kit\",\"family_name\":\"Low\"}",
	         org_b);
	refused(coord_a, "POST", "/api/v1/people", body, 404, "core.not_found", "organisation_id");

	ck_assert_int_eq(db_count("SELECT count(*) FROM core.person"), people);
	ck_assert_int_eq(db_count("SELECT count(*) FROM core.person_org"), people);
	ck_assert_int_eq(db_count("SELECT count(*) FROM core.audit"), audits);

	/* Org B cannot see A's Dana, so recording its own is no duplicate and
	 * reveals nothing; a different date of birth is a different person. */
	ck_assert_int_ne(make_person(coord_b, org_b, "Dana", "Reyes", "1990-01-15"), first);
	ck_assert_int_ne(make_person(coord_a, org_a, "Dana", "Reyes", "1991-01-15"), first);
	/* A PATCH into an existing identity is a duplicate too. */
	long long other = make_person(coord_a, org_a, "Dan", "Reyes", "1990-01-15");
	char path[64];
	snprintf(path, sizeof path, "/api/v1/people/%lld", other);
	refused(coord_a, "PATCH", path, "{\"given_name\":\"dana\"}", 409, "core.duplicate_person",
	        NULL);
	ck_assert_int_eq(db_count("SELECT count(*) FROM core.person WHERE given_name = 'Dan'"), 1);
}
END_TEST

START_TEST(scope_by_organisation_and_caseload)
{
	char body[256], path[96], apath[96];
	long long id = make_person(coord_a, org_a, "Sam", "Hale", "1985-06-01");
	long long other = make_person(coord_a, org_a, "Jo", "Hale", "1986-06-01");
	long long mentor = ts_staff_id(db, "mentor.a@example.org");
	long long facil = ts_staff_id(db, "facil.a@example.org");
	snprintf(path, sizeof path, "/api/v1/people/%lld", id);
	snprintf(apath, sizeof apath, "/api/v1/people/%lld/assignments", id);

	/* Org B's coordinator: not found, everywhere, and not listed. */
	refused(coord_b, "GET", path, NULL, 404, "core.not_found", NULL);
	refused(coord_b, "PATCH", path, "{\"area\":\"B\"}", 404, "core.not_found", NULL);
	refused(coord_b, "GET", apath, NULL, 404, "core.not_found", NULL);
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"staff_id\":%lld,\"kind\":\"mentor\"}", org_a, mentor);
	refused(coord_b, "POST", apath, body, 404, "core.not_found", NULL);
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"staff_id\":%lld,\"kind\":\"mentor\"}", org_b, mentor);
	refused(coord_b, "POST", apath, body, 404, "core.not_found", NULL);
	json_t *list = call(coord_b, "GET", "/api/v1/people", NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 0);
	json_decref(list);
	snprintf(body, sizeof body, "/api/v1/people?organisation_id=%lld", org_a);
	list = call(coord_b, "GET", body, NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 0);
	json_decref(list);
	ck_assert_int_eq(db_count("SELECT count(*) FROM core.assignment"), 0);

	/* The mentor sees nobody until assigned, and never records people. */
	refused(mentor_a, "GET", path, NULL, 404, "core.not_found", NULL);
	list = call(mentor_a, "GET", "/api/v1/people", NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 0);
	json_decref(list);
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"given_name\":\"New\",\"family_name\":\"One\"}",
	         org_a);
	json_decref(call(mentor_a, "POST", "/api/v1/people", body, 403));
	json_decref(call(mentor_a, "PATCH", path, "{\"area\":\"M\"}", 403));
	json_decref(call(mentor_a, "GET", apath, NULL, 403));

	/* Assign: only staff holding that role in the organisation. */
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"staff_id\":%lld,\"kind\":\"mentor\"}", org_a, facil);
	refused(coord_a, "POST", apath, body, 422, "core.not_member", "staff_id");
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"staff_id\":%lld,\"kind\":\"boss\"}", org_a, mentor);
	refused(coord_a, "POST", apath, body, 400, "core.bad_enum", "kind");
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"staff_id\":%lld,\"kind\":\"mentor\"}", org_a, mentor);
	json_t *asg = call(coord_a, "POST", apath, body, 201);
	long long asg_id = id_of(asg);
	ck_assert_str_eq(str(asg, "kind"), "mentor");
	ck_assert_int_eq(json_integer_value(json_object_get(asg, "staff_id")), mentor);
	json_decref(asg);
	refused(coord_a, "POST", apath, body, 409, "core.conflict", NULL);
	ck_assert_int_eq(db_count("SELECT count(*) FROM core.assignment"), 1);
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"staff_id\":%lld,\"kind\":\"facilitator\"}", org_a,
	         facil);
	json_decref(call(coord_a, "POST", apath, body, 201));
	list = call(coord_a, "GET", apath, NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 2);
	ck_assert(json_is_null(json_object_get(list, "next_cursor")));
	json_decref(list);

	/* The mentor now sees Sam, with the caseload fields only; not Jo. */
	json_t *seen = call(mentor_a, "GET", path, NULL, 200);
	ck_assert_str_eq(str(seen, "access"), "caseload");
	ck_assert_str_eq(str(seen, "given_name"), "Sam");
	ck_assert_str_eq(str(seen, "date_of_birth"), "1985-06-01");
	ck_assert_ptr_nonnull(json_object_get(seen, "risk_level"));
	ck_assert_ptr_nonnull(json_object_get(seen, "expected_release_date"));
	ck_assert_ptr_null(json_object_get(seen, "organisations"));
	ck_assert_ptr_null(json_object_get(seen, "version"));
	ck_assert_ptr_null(json_object_get(seen, "created_by"));
	json_decref(seen);
	list = call(mentor_a, "GET", "/api/v1/people", NULL, 200);
	json_t *items = json_object_get(list, "items");
	ck_assert_int_eq(json_array_size(items), 1);
	ck_assert_int_eq(id_of(json_array_get(items, 0)), id);
	ck_assert_str_eq(str(json_array_get(items, 0), "access"), "caseload");
	ck_assert_ptr_null(json_object_get(json_array_get(items, 0), "organisations"));
	json_decref(list);
	snprintf(body, sizeof body, "/api/v1/people/%lld", other);
	refused(mentor_a, "GET", body, NULL, 404, "core.not_found", NULL);
	seen = call(facil_a, "GET", path, NULL, 200);
	ck_assert_str_eq(str(seen, "access"), "caseload");
	json_decref(seen);

	/* Ending: another organisation cannot; then the mentor loses sight. */
	snprintf(body, sizeof body, "/api/v1/assignments/%lld", asg_id);
	refused(coord_b, "DELETE", body, NULL, 404, "core.not_found", NULL);
	json_decref(call(mentor_a, "DELETE", body, NULL, 403));
	json_t *none = call(coord_a, "DELETE", body, NULL, 204);
	ck_assert_ptr_null(none);
	refused(coord_a, "DELETE", body, NULL, 404, "core.not_found", NULL);
	refused(mentor_a, "GET", path, NULL, 404, "core.not_found", NULL);
	ck_assert_int_eq(
	    db_count(
	        "SELECT count(*) FROM core.assignment WHERE ended_at IS NOT NULL AND ended_by IS "
	        "NOT NULL"),
	    1);
	ck_assert_int_eq(db_count("SELECT count(*) FROM core.audit WHERE action IN "
	                          "('assignment.create', 'assignment.end')"),
	                 3);

	/* A commissioner reaches no people route at all. */
	const char *routes[][2] = {{"GET", "/api/v1/people"},
	                           {"POST", "/api/v1/people"},
	                           {"GET", path},
	                           {"PATCH", path},
	                           {"GET", apath},
	                           {"POST", apath},
	                           {"DELETE", body}};
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		int has_body = !strcmp(routes[i][0], "POST") || !strcmp(routes[i][0], "PATCH");
		refused(comm_a, routes[i][0], routes[i][1], has_body ? "{}" : NULL, 403,
		        "core.forbidden", NULL);
	}
}
END_TEST

START_TEST(child_reads_are_audited)
{
	char dob[11], path[64], sql[256];
	date_from_today(-10 * 366, dob);
	long long child = make_person(coord_a, org_a, "Lily", "Hale", dob);
	long long adult = make_person(coord_a, org_a, "Tom", "Hale", "1980-03-03");
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.audit WHERE action = 'person.read_child' "
	         "AND person_id = %lld AND object_id = %lld AND org_id = %lld",
	         child, child, org_a);
	ck_assert_int_eq(db_count(sql), 0);

	snprintf(path, sizeof path, "/api/v1/people/%lld", child);
	json_decref(call(coord_a, "GET", path, NULL, 200));
	ck_assert_int_eq(db_count(sql), 1);
	snprintf(path, sizeof path, "/api/v1/people/%lld", adult);
	json_decref(call(coord_a, "GET", path, NULL, 200));
	ck_assert_int_eq(
	    db_count("SELECT count(*) FROM core.audit WHERE action = 'person.read_child'"), 1);

	/* A list with the child: one row for the child, none for the adult. */
	json_t *list = call(coord_a, "GET", "/api/v1/people", NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 2);
	json_decref(list);
	ck_assert_int_eq(db_count(sql), 2);
	ck_assert_int_eq(
	    db_count("SELECT count(*) FROM core.audit WHERE action = 'person.read_child'"), 2);
	/* A page without the child writes nothing. */
	list = call(coord_a, "GET", "/api/v1/people?q=tom", NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 1);
	json_decref(list);
	ck_assert_int_eq(db_count(sql), 2);
	/* Another organisation's refused read of the child writes nothing. */
	snprintf(path, sizeof path, "/api/v1/people/%lld", child);
	refused(coord_b, "GET", path, NULL, 404, "core.not_found", NULL);
	ck_assert_int_eq(
	    db_count("SELECT count(*) FROM core.audit WHERE action = 'person.read_child'"), 2);
}
END_TEST

/* Walks /people?<filter>&limit=N as coord_a; returns how many people it saw,
 * checking ids rise and each page's next_cursor is its last id. */
static int walk(const char *filter, int limit, long long *ids, int max)
{
	char cursor[32] = "";
	int seen = 0;
	for (int page = 0; page < 100; page++) {
		char path[256];
		snprintf(path, sizeof path, "/api/v1/people?limit=%d%s%s%s%s", limit,
		         cursor[0] ? "&cursor=" : "", cursor, filter[0] ? "&" : "", filter);
		json_t *doc = call(coord_a, "GET", path, NULL, 200);
		json_t *items = json_object_get(doc, "items"),
		       *next = json_object_get(doc, "next_cursor");
		ck_assert_int_le(json_array_size(items), (size_t)limit);
		size_t i;
		json_t *p;
		json_array_foreach(items, i, p)
		{
			long long id = id_of(p);
			ck_assert_msg(seen == 0 || id > ids[seen - 1], "ids not increasing");
			ck_assert_int_lt(seen, max);
			ids[seen++] = id;
		}
		if (json_is_null(next)) {
			json_decref(doc);
			return seen;
		}
		ck_assert_msg(json_is_string(next), "next_cursor neither a string nor null");
		ck_assert_int_eq((size_t)limit, json_array_size(items));
		ck_assert_int_eq(atoll(json_string_value(next)), ids[seen - 1]);
		snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
		json_decref(doc);
	}
	ck_abort_msg("the list never ended");
	return -1;
}

START_TEST(pages_and_filters)
{
	long long mine[8], ids[32];
	char body[512];
	/* Org B's people are interleaved with A's and must never appear. */
	for (int i = 0; i < 8; i++) {
		char given[16];
		snprintf(given, sizeof given, "Person%c", 'A' + i);
		mine[i] = make_person(coord_a, org_a, given, i < 3 ? "Walker" : "Stone", NULL);
		make_person(coord_b, org_b, given, "Other", NULL);
	}
	snprintf(body, sizeof body, "/api/v1/people/%lld", mine[1]);
	json_decref(call(coord_a, "PATCH", body,
	                 "{\"is_participant\":true,\"custody_status\":\"on_licence\"}", 200));

	for (int limit = 1; limit <= 9; limit++) {
		ck_assert_int_eq(walk("", limit, ids, 32), 8);
		for (int i = 0; i < 8; i++)
			ck_assert_int_eq(ids[i], mine[i]);
	}
	ck_assert_int_eq(walk("q=walk", 2, ids, 32), 3);
	ck_assert_int_eq(walk("q=WALKER", 2, ids, 32), 3);
	ck_assert_int_eq(walk("q=personc", 2, ids, 32), 1);
	ck_assert_int_eq(ids[0], mine[2]);
	ck_assert_int_eq(walk("q=%25", 2, ids, 32), 0); /* a LIKE wildcard is just a character */
	ck_assert_int_eq(walk("participant=true", 2, ids, 32), 1);
	ck_assert_int_eq(ids[0], mine[1]);
	ck_assert_int_eq(walk("participant=false", 3, ids, 32), 7);
	ck_assert_int_eq(walk("custody_status=on_licence", 3, ids, 32), 1);
	snprintf(body, sizeof body, "organisation_id=%lld", org_a);
	ck_assert_int_eq(walk(body, 3, ids, 32), 8);
	snprintf(body, sizeof body, "organisation_id=%lld", org_b);
	ck_assert_int_eq(walk(body, 3, ids, 32), 0);

	refused(coord_a, "GET", "/api/v1/people?participant=yes", NULL, 400, "core.bad_query",
	        "participant");
	refused(coord_a, "GET", "/api/v1/people?custody_status=free", NULL, 400, "core.bad_query",
	        "custody_status");
	refused(coord_a, "GET", "/api/v1/people?organisation_id=x", NULL, 400, "core.bad_query",
	        "organisation_id");
	refused(coord_a, "GET", "/api/v1/people?q=", NULL, 400, "core.bad_query", "q");
	refused(coord_a, "GET", "/api/v1/people?q=%01", NULL, 400, "core.bad_query", "q");
	refused(coord_a, "GET", "/api/v1/people?limit=201", NULL, 400, "core.bad_query", "limit");
	refused(coord_a, "GET", "/api/v1/people?cursor=abc", NULL, 400, "core.bad_query", "cursor");
}
END_TEST

/* A person held by two organisations: a change by one is audited for each
 * (so both organisations' audit logs and exports show it), and the other
 * organisation is not told which of the first one's staff created the
 * record. */
START_TEST(shared_person_update_and_staff_ids)
{
	char path[64], sql[256];
	long long id = make_person(coord_a, org_a, "Shared", "Holder", "1979-09-09");
	long long coord_a_id = ts_staff_id(db, "coord.a@example.org");
	snprintf(sql, sizeof sql,
	         "INSERT INTO core.person_org (person_id, org_id) VALUES (%lld, %lld)", id, org_b);
	ck_assert_int_eq(ts_db_exec(db, sql), 0);
	snprintf(path, sizeof path, "/api/v1/people/%lld", id);

	json_t *got = call(coord_a, "GET", path, NULL, 200);
	ck_assert_int_eq(json_integer_value(json_object_get(got, "created_by")), coord_a_id);
	json_decref(got);
	got = call(coord_b, "GET", path, NULL, 200);
	ck_assert_ptr_nonnull(json_object_get(got, "created_by"));
	ck_assert(json_is_null(json_object_get(got, "created_by")));
	json_decref(got);
	got = call(coord_b, "GET", "/api/v1/people", NULL, 200);
	json_t *items = json_object_get(got, "items");
	ck_assert_int_eq(json_array_size(items), 1);
	ck_assert(json_is_null(json_object_get(json_array_get(items, 0), "created_by")));
	json_decref(got);

	got = call(coord_b, "PATCH", path, "{\"area\":\"East\"}", 200);
	ck_assert(json_is_null(json_object_get(got, "created_by")));
	json_decref(got);
	snprintf(
	    sql, sizeof sql,
	    "SELECT string_agg(org_id::text || ':' || (detail->>'fields'), ',' ORDER BY org_id)"
	    " FROM core.audit WHERE action = 'person.update' AND person_id = %lld",
	    id);
	char *v = ts_db_value(db, sql);
	char want[128];
	snprintf(want, sizeof want, "%lld:[\"area\"],%lld:[\"area\"]", org_a, org_b);
	ck_assert_str_eq(v ? v : "(none)", want);
	free(v);
	snprintf(sql, sizeof sql,
	         "SELECT count(DISTINCT actor_staff_id) FROM core.audit WHERE action = "
	         "'person.update' AND person_id = %lld AND actor_staff_id = %lld",
	         id, ts_staff_id(db, "coord.b@example.org"));
	ck_assert_int_eq(db_count(sql), 1);
}
END_TEST

/* An erased person is linked to no organisation again, whatever writes. */
START_TEST(erased_person_is_never_linked_again)
{
	char sql[256], path[64];
	long long id = make_person(coord_a, org_a, "Gone", "Soon", NULL);
	snprintf(sql, sizeof sql,
	         "DELETE FROM core.person_org WHERE person_id = %lld;"
	         " UPDATE core.person SET erased_at = now() WHERE id = %lld",
	         id, id);
	ck_assert_int_eq(ts_db_exec(db, sql), 0);
	snprintf(sql, sizeof sql,
	         "INSERT INTO core.person_org (person_id, org_id) VALUES (%lld, %lld)", id, org_b);
	ck_assert_int_ne(ts_db_exec(db, sql), 0);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM core.person_org WHERE person_id = %lld",
	         id);
	ck_assert_int_eq(db_count(sql), 0);
	snprintf(path, sizeof path, "/api/v1/people/%lld", id);
	refused(coord_a, "GET", path, NULL, 404, "core.not_found", NULL);
	/* A person not erased links as before. */
	long long kept = make_person(coord_a, org_a, "Still", "Here", NULL);
	snprintf(sql, sizeof sql,
	         "INSERT INTO core.person_org (person_id, org_id) VALUES (%lld, %lld)", kept,
	         org_b);
	ck_assert_int_eq(ts_db_exec(db, sql), 0);
}
END_TEST

/* Routes refuse query parameters they do not take, naming them. */
START_TEST(stray_query_parameters_are_refused)
{
	char path[96];
	long long id = make_person(coord_a, org_a, "Query", "Person", NULL);
	long long audits = db_count("SELECT count(*) FROM core.audit");
	snprintf(path, sizeof path, "/api/v1/people/%lld?fields=all", id);
	refused(coord_a, "GET", path, NULL, 400, "core.bad_query", "fields");
	refused(coord_a, "PATCH", path, "{\"area\":\"X\"}", 400, "core.bad_query", "fields");
	refused(coord_a, "POST", "/api/v1/people?dry_run=1",
	        "{\"organisation_id\":1,\"given_name\":\"A\",\"family_name\":\"B\"}", 400,
	        "core.bad_query", "dry_run");
	refused(coord_a, "GET", "/api/v1/people?organisation=1", NULL, 400, "core.bad_query",
	        "organisation");
	refused(coord_a, "GET", "/api/v1/people?q=a&q=b", NULL, 400, "core.bad_query", "q");
	refused(coord_a, "GET", "/api/v1/people?organisation_id=0", NULL, 400, "core.bad_query",
	        "organisation_id");
	snprintf(path, sizeof path, "/api/v1/people/%lld/assignments?all=1", id);
	refused(coord_a, "GET", path, NULL, 400, "core.bad_query", "all");
	refused(coord_a, "POST", path, "{\"organisation_id\":1,\"staff_id\":1,\"kind\":\"mentor\"}",
	        400, "core.bad_query", "all");
	refused(coord_a, "DELETE", "/api/v1/assignments/1?now=1", NULL, 400, "core.bad_query",
	        "now");
	ck_assert_int_eq(db_count("SELECT count(*) FROM core.audit"), audits);
	snprintf(path, sizeof path, "SELECT coalesce(area, '-') FROM core.person WHERE id = %lld",
	         id);
	char *area = ts_db_value(db, path);
	ck_assert_str_eq(area, "-");
	free(area);
	snprintf(path, sizeof path, "/api/v1/people/%lld/assignments?limit=2", id);
	json_decref(call(coord_a, "GET", path, NULL, 200));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("people");
	TCase *tc = tcase_create("people");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, create_read_update);
	tcase_add_test(tc, bad_input_changes_nothing);
	tcase_add_test(tc, scope_by_organisation_and_caseload);
	tcase_add_test(tc, child_reads_are_audited);
	tcase_add_test(tc, pages_and_filters);
	tcase_add_test(tc, shared_person_update_and_staff_ids);
	tcase_add_test(tc, erased_person_is_never_linked_again);
	tcase_add_test(tc, stray_query_parameters_are_refused);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
