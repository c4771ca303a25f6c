/*
 * Households, flags and non-associations over HTTP against the real server
 * and database, as the staff of two organisations see them: a coordinator
 * of organisation A records and reads them; a coordinator of organisation
 * B gets 404 for every one of A's objects (ids reveal nothing); mentors,
 * facilitators and commissioners are refused every route (403); flag reads
 * and reads of a household with a child leave audit rows; bad input is
 * refused with the field named and changes nothing; the audit log cannot
 * be altered. People are made directly in SQL: this suite tests only its
 * own routes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts.h"

static struct ts_server srv;
static char *db;
static char *coord_a, *admin_a, *coord_b, *mentor_a, *facilitator_a, *commissioner_a;
static long long org_a, org_b;

static void setup(void)
{
	db = ts_db_create("households");
	struct ts_server_opts o = {.database_url = db};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	coord_a = ts_staff_token(db, "Org A", "coord.a@example.org", "coordinator", 0);
	admin_a = ts_staff_token(db, "Org A", "admin.a@example.org", "admin", 0);
	coord_b = ts_staff_token(db, "Org B", "coord.b@example.org", "coordinator", 0);
	mentor_a = ts_staff_token(db, "Org A", "mentor.a@example.org", "mentor", 0);
	facilitator_a = ts_staff_token(db, "Org A", "facil.a@example.org", "facilitator", 0);
	commissioner_a = ts_staff_token(db, "Org A", "comm.a@example.org", "commissioner", 0);
	org_a = ts_org_id(db, "Org A");
	org_b = ts_org_id(db, "Org B");
}

static void teardown(void)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
	free(coord_a);
	free(admin_a);
	free(coord_b);
	free(mentor_a);
	free(facilitator_a);
	free(commissioner_a);
}

/* A person held by organisation `org`, made in SQL; dob may be NULL. */
static long long make_person(const char *given, const char *family, const char *dob, long long org)
{
	char sql[512];
	snprintf(sql, sizeof sql,
	         "INSERT INTO core.person (given_name, family_name, date_of_birth) "
	         "VALUES ('%s', '%s', %s%s%s) RETURNING id",
	         given, family, dob ? "'" : "", dob ? dob : "NULL", dob ? "'" : "");
	char *v = ts_db_value(db, sql);
	ck_assert_ptr_nonnull(v);
	long long id = atoll(v);
	free(v);
	snprintf(sql, sizeof sql,
	         "INSERT INTO core.person_org (person_id, org_id) VALUES (%lld, %lld)", id, org);
	ck_assert_int_eq(ts_db_exec(db, sql), 0);
	return id;
}

/* The number a COUNT(*) query returns. */
static long long count(const char *sql)
{
	char *v = ts_db_value(db, sql);
	ck_assert_ptr_nonnull(v);
	long long n = atoll(v);
	free(v);
	return n;
}

static long long audit_count(const char *action)
{
	char sql[256];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM core.audit WHERE action = '%s'", action);
	return count(sql);
}

/* Sends a request as the holder of `token`; checks the status and returns
 * the JSON body (NULL when there is none; caller decrefs). */
static json_t *call(const char *token, const char *method, const char *path, const char *body,
                    int status)
{
	char headers[256];
	struct ts_response r;
	snprintf(headers, sizeof headers,
	         "Authorization: Bearer %s\r\nContent-Type: application/json\r\n", token);
	ck_assert_int_eq(
	    ts_http(&srv, method, path, headers, body, body ? strlen(body) : 0, 5000, &r), 0);
	ck_assert_msg(r.status == status, "%s %s: %d, expected %d: %s", method, path, r.status,
	              status, r.body);
	json_t *doc = r.body_len ? ts_json(&r) : NULL;
	ts_response_free(&r);
	return doc;
}

/* Expects an error with this status, code and field (NULL: no field). */
static void refused(const char *token, const char *method, const char *path, const char *body,
                    int status, const char *code, const char *field)
{
	json_t *doc = call(token, method, path, body, status);
	ck_assert_msg(doc != NULL, "%s %s: no error body", method, path);
	json_t *err = json_object_get(doc, "error");
	ck_assert_str_eq(json_string_value(json_object_get(err, "code")), code);
	const char *f = json_string_value(json_object_get(err, "field"));
	if (field)
		ck_assert_msg(f && !strcmp(f, field), "%s %s: field %s, expected %s", method, path,
		              f ? f : "(none)", field);
	else
		ck_assert_msg(!f, "%s %s: unexpected field %s", method, path, f);
	json_decref(doc);
}

static long long id_of(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
	return (long long)json_integer_value(v);
}

static long long make_household(const char *token, long long org, const char *name)
{
	char body[256];
	snprintf(body, sizeof body, "{\"organisation_id\":%lld,\"name\":\"%s\"}", org, name);
	json_t *h = call(token, "POST", "/api/v1/households", body, 201);
	long long id = id_of(h, "id");
	ck_assert_str_eq(json_string_value(json_object_get(h, "name")), name);
	ck_assert_int_eq(id_of(h, "organisation_id"), org);
	json_decref(h);
	return id;
}

static void add_member(const char *token, long long household, long long person,
                       const char *relationship, int primary, int status)
{
	char path[96], body[160];
	snprintf(path, sizeof path, "/api/v1/households/%lld/members", household);
	snprintf(body, sizeof body,
	         "{\"person_id\":%lld,\"relationship\":\"%s\",\"primary_contact\":%s}", person,
	         relationship, primary ? "true" : "false");
	json_t *m = call(token, "POST", path, body, status);
	if (status == 201) {
		ck_assert_int_eq(id_of(m, "person_id"), person);
		ck_assert_str_eq(json_string_value(json_object_get(m, "relationship")),
		                 relationship);
		ck_assert(json_is_true(json_object_get(m, "primary_contact")) == !!primary);
	}
	json_decref(m);
}

/* The member with this person id in a household reply. */
static json_t *member(json_t *household, long long person)
{
	json_t *members = json_object_get(household, "members");
	for (size_t i = 0; i < json_array_size(members); i++) {
		json_t *m = json_array_get(members, i);
		if (id_of(m, "person_id") == person)
			return m;
	}
	ck_abort_msg("person %lld is not a member", person);
	return NULL;
}

START_TEST(households_round_trip)
{
	long long dad = make_person("Dan", "Holloway", "1985-03-02", org_a);
	long long mum = make_person("Mia", "Holloway", "1987-07-19", org_a);
	long long kid = make_person("Kit", "Holloway", "2016-05-01", org_a);
	long long elsewhere = make_person("Ned", "Other", NULL, org_b);

	long long h = make_household(coord_a, org_a, "Holloway family");
	char path[96], body[160];
	snprintf(path, sizeof path, "/api/v1/households/%lld", h);

	add_member(coord_a, h, dad, "participant", 1, 201);
	add_member(coord_a, h, kid, "child", 0, 201);
	/* A new primary contact replaces the old one. */
	add_member(admin_a, h, mum, "partner", 1, 201);
	ck_assert_int_eq(count("SELECT count(*) FROM core.household_member WHERE primary_contact"),
	                 1);
	/* Only people the household's organisation holds; no one twice. */
	snprintf(body, sizeof body, "{\"person_id\":%lld,\"relationship\":\"sibling\"}", elsewhere);
	snprintf(path, sizeof path, "/api/v1/households/%lld/members", h);
	refused(coord_a, "POST", path, body, 404, "core.not_found", "person_id");
	snprintf(body, sizeof body, "{\"person_id\":%lld,\"relationship\":\"parent\"}", kid);
	refused(coord_a, "POST", path, body, 409, "core.conflict", "person_id");

	/* Reading a household with a child in it is audited, once per child. */
	ck_assert_int_eq(audit_count("household.read_child"), 0);
	snprintf(path, sizeof path, "/api/v1/households/%lld", h);
	json_t *got = call(coord_a, "GET", path, NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(got, "members")), 3);
	ck_assert(json_is_true(json_object_get(member(got, kid), "child")));
	ck_assert(json_is_false(json_object_get(member(got, dad), "child")));
	ck_assert(json_is_true(json_object_get(member(got, mum), "primary_contact")));
	ck_assert(json_is_false(json_object_get(member(got, dad), "primary_contact")));
	ck_assert_str_eq(json_string_value(json_object_get(member(got, kid), "given_name")), "Kit");
	ck_assert_str_eq(json_string_value(json_object_get(member(got, kid), "family_name")),
	                 "Holloway");
	json_decref(got);
	ck_assert_int_eq(audit_count("household.read_child"), 1);
	char sql[256];
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.audit WHERE action = 'household.read_child' "
	         "AND object_id = %lld AND person_id = %lld AND actor_staff_id = %lld",
	         h, kid, ts_staff_id(db, "coord.a@example.org"));
	ck_assert_int_eq(count(sql), 1);
	json_decref(call(coord_a, "GET", path, NULL, 200));
	ck_assert_int_eq(audit_count("household.read_child"), 2);

	/* A household of adults only: its read is not a child read. */
	long long h2 = make_household(coord_a, org_a, "Adults only");
	add_member(coord_a, h2, dad, "participant", 0, 201);
	snprintf(path, sizeof path, "/api/v1/households/%lld", h2);
	json_decref(call(coord_a, "GET", path, NULL, 200));
	ck_assert_int_eq(audit_count("household.read_child"), 2);

	/* Rename. */
	snprintf(path, sizeof path, "/api/v1/households/%lld", h);
	got = call(coord_a, "PATCH", path, "{\"name\":\"The Holloways\"}", 200);
	ck_assert_str_eq(json_string_value(json_object_get(got, "name")), "The Holloways");
	json_decref(got);

	/* Lists: all of the caller's organisations, or a person's households. */
	got = call(coord_a, "GET", "/api/v1/households", NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(got, "items")), 2);
	ck_assert(json_is_null(json_object_get(got, "next_cursor")));
	json_decref(got);
	got = call(coord_a, "GET", "/api/v1/households?limit=1", NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(got, "items")), 1);
	const char *next = json_string_value(json_object_get(got, "next_cursor"));
	ck_assert_ptr_nonnull(next);
	snprintf(path, sizeof path, "/api/v1/households?limit=1&cursor=%s", next);
	json_decref(got);
	got = call(coord_a, "GET", path, NULL, 200);
	ck_assert_int_eq(id_of(json_array_get(json_object_get(got, "items"), 0), "id"), h2);
	ck_assert(json_is_null(json_object_get(got, "next_cursor")));
	json_decref(got);
	snprintf(path, sizeof path, "/api/v1/households?person_id=%lld", kid);
	got = call(coord_a, "GET", path, NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(got, "items")), 1);
	ck_assert_int_eq(id_of(json_array_get(json_object_get(got, "items"), 0), "id"), h);
	ck_assert_str_eq(json_string_value(json_object_get(
	                     json_array_get(json_object_get(got, "items"), 0), "name")),
	                 "The Holloways");
	json_decref(got);
	refused(coord_a, "GET", "/api/v1/households?person_id=abc", NULL, 400, "core.bad_query",
	        "person_id");

	/* Remove a member; twice is 404. */
	snprintf(path, sizeof path, "/api/v1/households/%lld/members/%lld", h, kid);
	ck_assert_ptr_null(call(coord_a, "DELETE", path, NULL, 204));
	refused(coord_a, "DELETE", path, NULL, 404, "core.not_found", NULL);
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.household_member WHERE household_id = %lld", h);
	ck_assert_int_eq(count(sql), 2);

	/* Every change was audited. */
	ck_assert_int_eq(audit_count("household.create"), 2);
	ck_assert_int_eq(audit_count("household.update"), 1);
	ck_assert_int_eq(audit_count("household.add_member"), 4);
	ck_assert_int_eq(audit_count("household.remove_member"), 1);
	/* The audit names fields, never the values. */
	ck_assert_int_eq(
	    count("SELECT count(*) FROM core.audit WHERE detail::text LIKE '%Holloway%'"), 0);
}
END_TEST

START_TEST(flags_round_trip)
{
	long long p = make_person("Ray", "Flint", "1979-11-11", org_a);
	long long q = make_person("Sue", "Clear", NULL, org_a);
	char path[96], body[256];
	snprintf(path, sizeof path, "/api/v1/people/%lld/flags", p);

	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"kind\":\"risk_to_children\",\"severity\":\"high\","
	         "\"note\":\"Line one.\\nLine two.\"}",
	         org_a);
	json_t *f = call(coord_a, "POST", path, body, 201);
	long long flag = id_of(f, "id");
	ck_assert_str_eq(json_string_value(json_object_get(f, "kind")), "risk_to_children");
	ck_assert_str_eq(json_string_value(json_object_get(f, "severity")), "high");
	ck_assert_str_eq(json_string_value(json_object_get(f, "note")), "Line one.\nLine two.");
	ck_assert_int_eq(id_of(f, "person_id"), p);
	json_decref(f);
	snprintf(body, sizeof body, "{\"organisation_id\":%lld,\"kind\":\"do_not_contact\"}",
	         org_a);
	f = call(admin_a, "POST", path, body, 201);
	ck_assert_str_eq(json_string_value(json_object_get(f, "severity")), "unknown");
	ck_assert(json_is_null(json_object_get(f, "note")));
	json_decref(f);
	ck_assert_int_eq(audit_count("flag.create"), 2);
	/* An organisation the caller does not work in. */
	snprintf(body, sizeof body, "{\"organisation_id\":%lld,\"kind\":\"other\"}", org_b);
	refused(coord_a, "POST", path, body, 404, "core.not_found", "organisation_id");

	/* Every read is audited, in the same statement. */
	ck_assert_int_eq(audit_count("flag.read"), 0);
	json_t *list = call(coord_a, "GET", path, NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 2);
	ck_assert_int_eq(id_of(json_array_get(json_object_get(list, "items"), 0), "id"), flag);
	ck_assert(json_is_null(json_object_get(list, "next_cursor")));
	json_decref(list);
	ck_assert_int_eq(audit_count("flag.read"), 1);
	char sql[256];
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.audit WHERE action = 'flag.read' AND object_type = "
	         "'person' AND object_id = %lld AND person_id = %lld AND org_id = %lld",
	         p, p, org_a);
	ck_assert_int_eq(count(sql), 1);
	/* A page of one still names the next. */
	snprintf(path, sizeof path, "/api/v1/people/%lld/flags?limit=1", p);
	list = call(coord_a, "GET", path, NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 1);
	ck_assert_ptr_nonnull(json_string_value(json_object_get(list, "next_cursor")));
	json_decref(list);
	ck_assert_int_eq(audit_count("flag.read"), 2);
	/* An empty read is a read too. */
	snprintf(path, sizeof path, "/api/v1/people/%lld/flags", q);
	list = call(coord_a, "GET", path, NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 0);
	json_decref(list);
	ck_assert_int_eq(audit_count("flag.read"), 3);

	/* Remove: gone from the list, kept in the table; twice is 404. */
	snprintf(path, sizeof path, "/api/v1/flags/%lld", flag);
	ck_assert_ptr_null(call(coord_a, "DELETE", path, NULL, 204));
	refused(coord_a, "DELETE", path, NULL, 404, "core.not_found", NULL);
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.person_flag WHERE id = %lld AND removed_at IS NOT NULL "
	         "AND removed_by = %lld",
	         flag, ts_staff_id(db, "coord.a@example.org"));
	ck_assert_int_eq(count(sql), 1);
	ck_assert_int_eq(audit_count("flag.remove"), 1);
	snprintf(path, sizeof path, "/api/v1/people/%lld/flags", p);
	list = call(coord_a, "GET", path, NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 1);
	json_decref(list);
	ck_assert_int_eq(audit_count("flag.read"), 4);
	/* No note text in the audit log. */
	ck_assert_int_eq(count("SELECT count(*) FROM core.audit WHERE detail::text LIKE '%Line%'"),
	                 0);
}
END_TEST

START_TEST(non_associations_round_trip)
{
	long long a = make_person("Al", "Apart", NULL, org_a);
	long long b = make_person("Bo", "Apart", NULL, org_a);
	long long c = make_person("Cy", "Else", NULL, org_a);
	long long other = make_person("Di", "Other", NULL, org_b);
	char body[256];

	/* Given larger id first: stored smaller first. */
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"person_a\":%lld,\"person_b\":%lld,"
	         "\"reason\":\"Co-defendants.\"}",
	         org_a, b, a);
	json_t *n = call(coord_a, "POST", "/api/v1/non-associations", body, 201);
	long long id = id_of(n, "id");
	ck_assert_int_eq(id_of(n, "person_a"), a);
	ck_assert_int_eq(id_of(n, "person_b"), b);
	ck_assert_str_eq(json_string_value(json_object_get(n, "reason")), "Co-defendants.");
	json_decref(n);
	char sql[256];
	snprintf(
	    sql, sizeof sql,
	    "SELECT count(*) FROM core.non_association WHERE person_a = %lld AND person_b = %lld",
	    a, b);
	ck_assert_int_eq(count(sql), 1);
	/* Each person's audit trail has it. */
	ck_assert_int_eq(audit_count("non_association.create"), 2);

	/* The same pair, either way round, is a conflict. */
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"person_a\":%lld,\"person_b\":%lld}", org_a, a, b);
	refused(coord_a, "POST", "/api/v1/non-associations", body, 409, "core.conflict", NULL);
	/* Both must be held by the organisation; the field is named. */
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"person_a\":%lld,\"person_b\":%lld}", org_a, a, other);
	refused(coord_a, "POST", "/api/v1/non-associations", body, 404, "core.not_found",
	        "person_b");
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"person_a\":%lld,\"person_b\":%lld}", org_a, other, a);
	refused(coord_a, "POST", "/api/v1/non-associations", body, 404, "core.not_found",
	        "person_a");
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"person_a\":%lld,\"person_b\":%lld}", org_a, a, c);
	json_decref(call(admin_a, "POST", "/api/v1/non-associations", body, 201));

	/* Lists: all, or those naming one person. */
	json_t *list = call(coord_a, "GET", "/api/v1/non-associations", NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 2);
	json_decref(list);
	char path[96];
	snprintf(path, sizeof path, "/api/v1/non-associations?person_id=%lld", b);
	list = call(coord_a, "GET", path, NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 1);
	ck_assert_int_eq(id_of(json_array_get(json_object_get(list, "items"), 0), "id"), id);
	ck_assert_str_eq(json_string_value(json_object_get(
	                     json_array_get(json_object_get(list, "items"), 0), "person_b_name")),
	                 "Bo Apart");
	json_decref(list);

	/* End it: gone from the list; twice is 404; may then be recorded again. */
	snprintf(path, sizeof path, "/api/v1/non-associations/%lld", id);
	ck_assert_ptr_null(call(coord_a, "DELETE", path, NULL, 204));
	refused(coord_a, "DELETE", path, NULL, 404, "core.not_found", NULL);
	ck_assert_int_eq(audit_count("non_association.end"), 2);
	snprintf(path, sizeof path, "/api/v1/non-associations?person_id=%lld", b);
	list = call(coord_a, "GET", path, NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 0);
	json_decref(list);
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"person_a\":%lld,\"person_b\":%lld}", org_a, a, b);
	json_decref(call(coord_a, "POST", "/api/v1/non-associations", body, 201));
}
END_TEST

/* Organisation B's coordinator meets 404 on every one of A's objects, and
 * nothing is changed or read (no audit row either). */
START_TEST(other_organisation_sees_nothing)
{
	long long p = make_person("Pat", "Private", NULL, org_a);
	long long q = make_person("Quin", "Private", "2015-01-01", org_a);
	long long b_person = make_person("Bea", "Bside", NULL, org_b);
	long long h = make_household(coord_a, org_a, "Private family");
	add_member(coord_a, h, q, "child", 0, 201);
	char path[96], body[256];
	snprintf(path, sizeof path, "/api/v1/people/%lld/flags", p);
	snprintf(body, sizeof body, "{\"organisation_id\":%lld,\"kind\":\"safeguarding_adult\"}",
	         org_a);
	json_t *f = call(coord_a, "POST", path, body, 201);
	long long flag = id_of(f, "id");
	json_decref(f);
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"person_a\":%lld,\"person_b\":%lld}", org_a, p, q);
	json_t *n = call(coord_a, "POST", "/api/v1/non-associations", body, 201);
	long long na = id_of(n, "id");
	json_decref(n);
	long long audits = count("SELECT count(*) FROM core.audit");

	/* The household. */
	snprintf(path, sizeof path, "/api/v1/households/%lld", h);
	refused(coord_b, "GET", path, NULL, 404, "core.not_found", NULL);
	refused(coord_b, "PATCH", path, "{\"name\":\"Mine now\"}", 404, "core.not_found", NULL);
	snprintf(path, sizeof path, "/api/v1/households/%lld/members", h);
	snprintf(body, sizeof body, "{\"person_id\":%lld,\"relationship\":\"other\"}", b_person);
	refused(coord_b, "POST", path, body, 404, "core.not_found", NULL);
	snprintf(path, sizeof path, "/api/v1/households/%lld/members/%lld", h, q);
	refused(coord_b, "DELETE", path, NULL, 404, "core.not_found", NULL);
	snprintf(body, sizeof body, "{\"organisation_id\":%lld,\"name\":\"Planted\"}", org_a);
	refused(coord_b, "POST", "/api/v1/households", body, 404, "core.not_found",
	        "organisation_id");
	json_t *list = call(coord_b, "GET", "/api/v1/households", NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 0);
	json_decref(list);
	snprintf(path, sizeof path, "/api/v1/households?person_id=%lld", q);
	list = call(coord_b, "GET", path, NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 0);
	json_decref(list);

	/* The person's flags, and the flag. */
	snprintf(path, sizeof path, "/api/v1/people/%lld/flags", p);
	refused(coord_b, "GET", path, NULL, 404, "core.not_found", NULL);
	snprintf(body, sizeof body, "{\"organisation_id\":%lld,\"kind\":\"other\"}", org_b);
	refused(coord_b, "POST", path, body, 404, "core.not_found", NULL);
	snprintf(body, sizeof body, "{\"organisation_id\":%lld,\"kind\":\"other\"}", org_a);
	refused(coord_b, "POST", path, body, 404, "core.not_found", NULL);
	snprintf(path, sizeof path, "/api/v1/flags/%lld", flag);
	refused(coord_b, "DELETE", path, NULL, 404, "core.not_found", NULL);
	/* A's person in B's organisation's name: not held there. */
	snprintf(path, sizeof path, "/api/v1/people/%lld/flags", b_person);
	snprintf(body, sizeof body, "{\"organisation_id\":%lld,\"kind\":\"other\"}", org_a);
	refused(coord_a, "POST", path, body, 404, "core.not_found", NULL);

	/* The non-association. */
	snprintf(path, sizeof path, "/api/v1/non-associations/%lld", na);
	refused(coord_b, "DELETE", path, NULL, 404, "core.not_found", NULL);
	list = call(coord_b, "GET", "/api/v1/non-associations", NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 0);
	json_decref(list);
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"person_a\":%lld,\"person_b\":%lld}", org_b, p,
	         b_person);
	refused(coord_b, "POST", "/api/v1/non-associations", body, 404, "core.not_found",
	        "person_a");
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"person_a\":%lld,\"person_b\":%lld}", org_a, p, q);
	refused(coord_b, "POST", "/api/v1/non-associations", body, 404, "core.not_found",
	        "organisation_id");

	/* Nothing changed, nothing was read. */
	ck_assert_int_eq(count("SELECT count(*) FROM core.audit"), audits);
	snprintf(path, sizeof path, "SELECT name FROM core.household WHERE id = %lld", h);
	char *name = ts_db_value(db, path);
	ck_assert_str_eq(name, "Private family");
	free(name);
	ck_assert_int_eq(count("SELECT count(*) FROM core.household"), 1);
	ck_assert_int_eq(count("SELECT count(*) FROM core.household_member"), 1);
	ck_assert_int_eq(count("SELECT count(*) FROM core.person_flag WHERE removed_at IS NULL"),
	                 1);
	ck_assert_int_eq(count("SELECT count(*) FROM core.non_association WHERE ended_at IS NULL"),
	                 1);
}
END_TEST

/* Mentors, facilitators and commissioners never reach these routes. */
START_TEST(other_roles_are_refused)
{
	long long p = make_person("Max", "Mentee", NULL, org_a);
	long long h = make_household(coord_a, org_a, "Mentee family");
	char hid[24], pid[24];
	snprintf(hid, sizeof hid, "%lld", h);
	snprintf(pid, sizeof pid, "%lld", p);
	/* method, path before the id, the id ("" for none), path after it, body */
	const char *routes[][5] = {
	    {"POST", "/api/v1/households", "", "", "{\"organisation_id\":1,\"name\":\"x\"}"},
	    {"GET", "/api/v1/households", "", "", NULL},
	    {"GET", "/api/v1/households/", hid, "", NULL},
	    {"PATCH", "/api/v1/households/", hid, "", "{\"name\":\"x\"}"},
	    {"POST", "/api/v1/households/", hid, "/members",
	     "{\"person_id\":1,\"relationship\":\"other\"}"},
	    {"DELETE", "/api/v1/households/", hid, "/members/1", NULL},
	    {"GET", "/api/v1/people/", pid, "/flags", NULL},
	    {"POST", "/api/v1/people/", pid, "/flags",
	     "{\"organisation_id\":1,\"kind\":\"other\"}"},
	    {"DELETE", "/api/v1/flags/1", "", "", NULL},
	    {"GET", "/api/v1/non-associations", "", "", NULL},
	    {"POST", "/api/v1/non-associations", "", "",
	     "{\"organisation_id\":1,\"person_a\":1,\"person_b\":2}"},
	    {"DELETE", "/api/v1/non-associations/1", "", "", NULL},
	};
	const char *tokens[] = {mentor_a, facilitator_a, commissioner_a};
	long long audits = count("SELECT count(*) FROM core.audit");
	for (size_t t = 0; t < 3; t++) {
		for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
			char path[96];
			snprintf(path, sizeof path, "%s%s%s", routes[i][1], routes[i][2],
			         routes[i][3]);
			refused(tokens[t], routes[i][0], path, routes[i][4], 403, "core.forbidden",
			        NULL);
		}
	}
	ck_assert_int_eq(count("SELECT count(*) FROM core.audit"), audits);
}
END_TEST

static void counts(long long out[5])
{
	const char *tables[] = {"core.household", "core.household_member", "core.person_flag",
	                        "core.non_association", "core.audit"};
	for (int i = 0; i < 5; i++) {
		char sql[96];
		snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i]);
		out[i] = count(sql);
	}
}

START_TEST(bad_input_changes_nothing)
{
	long long p = make_person("Val", "Valid", NULL, org_a);
	long long h = make_household(coord_a, org_a, "Valid family");
	long long before[5], after[5];
	char path[96], body[512], longname[256];
	counts(before);

	/* Unknown enum values, named. */
	snprintf(path, sizeof path, "/api/v1/households/%lld/members", h);
	snprintf(body, sizeof body, "{\"person_id\":%lld,\"relationship\":\"cousin\"}", p);
	refused(coord_a, "POST", path, body, 400, "core.bad_enum", "relationship");
	snprintf(body, sizeof body, "{\"person_id\":%lld}", p);
	refused(coord_a, "POST", path, body, 400, "core.missing_field", "relationship");
	snprintf(body, sizeof body,
	         "{\"person_id\":%lld,\"relationship\":\"child\",\"primary_contact\":\"yes\"}", p);
	refused(coord_a, "POST", path, body, 400, "core.wrong_type", "primary_contact");
	snprintf(path, sizeof path, "/api/v1/people/%lld/flags", p);
	snprintf(body, sizeof body, "{\"organisation_id\":%lld,\"kind\":\"dangerous\"}", org_a);
	refused(coord_a, "POST", path, body, 400, "core.bad_enum", "kind");
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"kind\":\"other\",\"severity\":\"extreme\"}", org_a);
	refused(coord_a, "POST", path, body, 400, "core.bad_enum", "severity");

	/* Control characters in prose (a newline is fine, a BEL is not). */
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"kind\":\"other\",\"note\":\"ring\\u0007\"}", org_a);
	refused(coord_a, "POST", path, body, 400, "core.bad_text", "note");
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"kind\":\"other\",\"note\":\"\\u001b[31m\"}", org_a);
	refused(coord_a, "POST", path, body, 400, "core.bad_text", "note");
	snprintf(
	    body, sizeof body,
	    "{\"organisation_id\":%lld,\"person_a\":1,\"person_b\":2,\"reason\":\"a\\u0000b\"}",
	    org_a);
	json_decref(call(coord_a, "POST", "/api/v1/non-associations", body, 400));
	snprintf(
	    body, sizeof body,
	    "{\"organisation_id\":%lld,\"person_a\":1,\"person_b\":2,\"reason\":\"a\\u0001b\"}",
	    org_a);
	refused(coord_a, "POST", "/api/v1/non-associations", body, 400, "core.bad_text", "reason");
	/* A note of 2001 characters. */
	{
		size_t n = 2001 + 128;
		char *big = malloc(n);
		ck_assert_ptr_nonnull(big);
		int off = snprintf(
		    big, n, "{\"organisation_id\":%lld,\"kind\":\"other\",\"note\":\"", org_a);
		memset(big + off, 'x', 2001);
		strcpy(big + off + 2001, "\"}");
		refused(coord_a, "POST", path, big, 400, "core.too_long", "note");
		free(big);
	}

	/* Over-long and empty names, unknown fields. */
	memset(longname, 'n', 201);
	longname[201] = '\0';
	snprintf(body, sizeof body, "{\"organisation_id\":%lld,\"name\":\"%s\"}", org_a, longname);
	refused(coord_a, "POST", "/api/v1/households", body, 400, "core.too_long", "name");
	snprintf(path, sizeof path, "/api/v1/households/%lld", h);
	snprintf(body, sizeof body, "{\"name\":\"%s\"}", longname);
	refused(coord_a, "PATCH", path, body, 400, "core.too_long", "name");
	refused(coord_a, "PATCH", path, "{\"name\":\"\"}", 400, "core.empty", "name");
	refused(coord_a, "PATCH", path, "{\"name\":\"ok\",\"org_id\":2}", 400, "core.unknown_field",
	        "org_id");
	snprintf(body, sizeof body, "{\"organisation_id\":%lld,\"name\":\"tab\\there\"}", org_a);
	refused(coord_a, "POST", "/api/v1/households", body, 400, "core.bad_text", "name");

	/* The same person twice. */
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"person_a\":%lld,\"person_b\":%lld}", org_a, p, p);
	refused(coord_a, "POST", "/api/v1/non-associations", body, 422, "core.same_person",
	        "person_b");
	snprintf(body, sizeof body, "{\"organisation_id\":%lld,\"person_a\":0,\"person_b\":%lld}",
	         org_a, p);
	refused(coord_a, "POST", "/api/v1/non-associations", body, 400, "core.out_of_range",
	        "person_a");
	/* Bad query parameters and ids. */
	refused(coord_a, "GET", "/api/v1/non-associations?person_id=-1", NULL, 400,
	        "core.bad_query", "person_id");
	refused(coord_a, "GET", "/api/v1/non-associations?limit=0", NULL, 400, "core.bad_query",
	        "limit");
	refused(coord_a, "GET", "/api/v1/households/abc", NULL, 404, "core.not_found", NULL);
	refused(coord_a, "DELETE", "/api/v1/flags/0", NULL, 404, "core.not_found", NULL);

	counts(after);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(after[i], before[i]);
}
END_TEST

/* The "child" flag of a household member is that household's own view (its
 * relationship, or the person's age): another organisation recording the
 * person as a child in its household does not show through. The read is
 * still audited as a child's (core.is_child sees every household). */
START_TEST(child_flag_is_the_households_own)
{
	long long shared = make_person("Rae", "Shared", NULL, org_a);
	long long young = make_person("Ivy", "Young", "2016-02-03", org_a);
	char sql[256], path[96];
	snprintf(sql, sizeof sql,
	         "INSERT INTO core.person_org (person_id, org_id) VALUES (%lld, %lld)", shared,
	         org_b);
	ck_assert_int_eq(ts_db_exec(db, sql), 0);
	long long hb = make_household(coord_b, org_b, "B's view");
	add_member(coord_b, hb, shared, "child", 0, 201);
	long long ha = make_household(coord_a, org_a, "A's view");
	add_member(coord_a, ha, shared, "partner", 0, 201);
	add_member(coord_a, ha, young, "other", 0, 201);

	snprintf(path, sizeof path, "/api/v1/households/%lld", ha);
	json_t *got = call(coord_a, "GET", path, NULL, 200);
	ck_assert(json_is_false(json_object_get(member(got, shared), "child")));
	ck_assert(json_is_true(json_object_get(member(got, young), "child")));
	json_decref(got);
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.audit WHERE action = 'household.read_child' "
	         "AND object_id = %lld AND person_id = %lld",
	         ha, shared);
	ck_assert_int_eq(count(sql), 1);

	/* B's own household says child. */
	snprintf(path, sizeof path, "/api/v1/households/%lld", hb);
	got = call(coord_b, "GET", path, NULL, 200);
	ck_assert(json_is_true(json_object_get(member(got, shared), "child")));
	json_decref(got);
}
END_TEST

/* Listing non-associations shows both people's names and the reason: each
 * child shown is an audited read, in the same request; adults are not. */
START_TEST(non_association_list_audits_children)
{
	long long adult = make_person("Ada", "Grown", "1980-01-01", org_a);
	long long kid = make_person("Kai", "Small", "2015-06-07", org_a);
	long long other = make_person("Oli", "Grown", NULL, org_a);
	char body[256], sql[256], path[96];
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"person_a\":%lld,\"person_b\":%lld,"
	         "\"reason\":\"Bullying.\"}",
	         org_a, adult, kid);
	json_t *n = call(coord_a, "POST", "/api/v1/non-associations", body, 201);
	long long with_child = id_of(n, "id");
	json_decref(n);
	snprintf(body, sizeof body,
	         "{\"organisation_id\":%lld,\"person_a\":%lld,\"person_b\":%lld}", org_a, adult,
	         other);
	json_decref(call(coord_a, "POST", "/api/v1/non-associations", body, 201));
	ck_assert_int_eq(audit_count("non_association.read_child"), 0);

	json_t *list = call(coord_a, "GET", "/api/v1/non-associations", NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 2);
	json_decref(list);
	ck_assert_int_eq(audit_count("non_association.read_child"), 1);
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.audit WHERE action = 'non_association.read_child' "
	         "AND object_id = %lld AND person_id = %lld AND org_id = %lld "
	         "AND actor_staff_id = %lld",
	         with_child, kid, org_a, ts_staff_id(db, "coord.a@example.org"));
	ck_assert_int_eq(count(sql), 1);

	/* A page without the child writes nothing; one with it, one more row. */
	snprintf(path, sizeof path, "/api/v1/non-associations?person_id=%lld", other);
	list = call(coord_a, "GET", path, NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 1);
	json_decref(list);
	ck_assert_int_eq(audit_count("non_association.read_child"), 1);
	list = call(admin_a, "GET", "/api/v1/non-associations?limit=1", NULL, 200);
	ck_assert_int_eq(id_of(json_array_get(json_object_get(list, "items"), 0), "id"),
	                 with_child);
	json_decref(list);
	ck_assert_int_eq(audit_count("non_association.read_child"), 2);
	/* B's coordinator sees none of them and reads no child. */
	list = call(coord_b, "GET", "/api/v1/non-associations", NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 0);
	json_decref(list);
	ck_assert_int_eq(audit_count("non_association.read_child"), 2);
}
END_TEST

/* Every route refuses a query parameter it does not take (400 naming it). */
START_TEST(stray_query_parameters_are_refused)
{
	long long p = make_person("Qui", "Query", NULL, org_a);
	long long h = make_household(coord_a, org_a, "Query house");
	char path[128];
	long long audits = count("SELECT count(*) FROM core.audit");
	snprintf(path, sizeof path, "/api/v1/households/%lld?verbose=1", h);
	refused(coord_a, "GET", path, NULL, 400, "core.bad_query", "verbose");
	refused(coord_a, "PATCH", path, "{\"name\":\"Renamed\"}", 400, "core.bad_query", "verbose");
	snprintf(path, sizeof path, "/api/v1/households/%lld/members?x=1", h);
	refused(coord_a, "POST", path, "{\"person_id\":1,\"relationship\":\"other\"}", 400,
	        "core.bad_query", "x");
	snprintf(path, sizeof path, "/api/v1/people/%lld/flags?org=1", p);
	refused(coord_a, "GET", path, NULL, 400, "core.bad_query", "org");
	refused(coord_a, "GET", "/api/v1/households?person=1", NULL, 400, "core.bad_query",
	        "person");
	refused(coord_a, "GET", "/api/v1/households?person_id=1&person_id=2", NULL, 400,
	        "core.bad_query", "person_id");
	refused(coord_a, "GET", "/api/v1/non-associations?personid=1", NULL, 400, "core.bad_query",
	        "personid");
	refused(coord_a, "GET", "/api/v1/non-associations?person_id=0", NULL, 400, "core.bad_query",
	        "person_id");
	refused(coord_a, "DELETE", "/api/v1/flags/1?force=true", NULL, 400, "core.bad_query",
	        "force");
	refused(coord_a, "DELETE", "/api/v1/non-associations/1?force=true", NULL, 400,
	        "core.bad_query", "force");
	ck_assert_int_eq(count("SELECT count(*) FROM core.audit"), audits);
	ck_assert_int_eq(count("SELECT count(*) FROM core.household WHERE name = 'Renamed'"), 0);
	snprintf(path, sizeof path, "/api/v1/households/%lld?limit=5", h);
	refused(coord_a, "GET", path, NULL, 400, "core.bad_query", "limit");
	/* The same routes without them answer. */
	snprintf(path, sizeof path, "/api/v1/households/%lld", h);
	json_decref(call(coord_a, "GET", path, NULL, 200));
	snprintf(path, sizeof path, "/api/v1/people/%lld/flags?limit=5", p);
	json_decref(call(coord_a, "GET", path, NULL, 200));
}
END_TEST

START_TEST(audit_is_append_only)
{
	long long p = make_person("Aud", "It", NULL, org_a);
	char path[96];
	snprintf(path, sizeof path, "/api/v1/people/%lld/flags", p);
	json_decref(call(coord_a, "GET", path, NULL, 200));
	ck_assert_int_eq(audit_count("flag.read"), 1);
	ck_assert_int_eq(ts_db_exec(db, "UPDATE core.audit SET action = 'flag.nothing'"), -1);
	ck_assert_int_eq(ts_db_exec(db, "DELETE FROM core.audit"), -1);
	ck_assert_int_eq(ts_db_exec(db, "TRUNCATE core.audit"), -1);
	ck_assert_int_eq(audit_count("flag.read"), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("households");
	TCase *tc = tcase_create("trust");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, households_round_trip);
	tcase_add_test(tc, flags_round_trip);
	tcase_add_test(tc, non_associations_round_trip);
	tcase_add_test(tc, other_organisation_sees_nothing);
	tcase_add_test(tc, other_roles_are_refused);
	tcase_add_test(tc, bad_input_changes_nothing);
	tcase_add_test(tc, audit_is_append_only);
	tcase_add_test(tc, child_flag_is_the_households_own);
	tcase_add_test(tc, non_association_list_audits_children);
	tcase_add_test(tc, stray_query_parameters_are_refused);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
