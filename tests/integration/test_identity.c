/*
 * Organisations, staff, memberships and API tokens over HTTP against the
 * real server and database: a server admin creates organisations, their
 * admins create staff and give roles, an admin of one organisation sees
 * nothing of another (404, never 403), the last admin stays, tokens are
 * shown once and stored only as selector + hash, revoked tokens are refused,
 * bad input is refused naming the field with nothing written, and every
 * change leaves an audit row.
 */
#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts.h"

static struct ts_server srv;
static char *db;

static void setup(void)
{
	db = ts_db_create("identity");
	struct ts_server_opts o = {.database_url = db};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
}

static void teardown(void)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
}

/* One request as `token`; asserts the status and, when `code` is set, the
 * error code and field (field "" = none). Returns the JSON body (caller
 * decrefs) or NULL when there is none. */
static json_t *call(const char *token, const char *method, const char *path, const char *body,
                    int status, const char *code, const char *field)
{
	char headers[256];
	struct ts_response r;
	snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\n%s", token,
	         body ? "Content-Type: application/json\r\n" : "");
	ck_assert_int_eq(
	    ts_http(&srv, method, path, headers, body, body ? strlen(body) : 0, 10000, &r), 0);
	ck_assert_msg(r.status == status, "%s %s %s: %d, expected %d: %s", method, path,
	              body ? body : "", r.status, status, r.body);
	json_t *doc = ts_json(&r);
	if (code) {
		json_t *err = json_object_get(doc, "error");
		const char *c = json_string_value(json_object_get(err, "code"));
		const char *f = json_string_value(json_object_get(err, "field"));
		ck_assert_msg(c && !strcmp(c, code), "%s %s: code %s, expected %s", method, path,
		              c ? c : "(none)", code);
		ck_assert_msg(!strcmp(f ? f : "", field ? field : ""),
		              "%s %s: field %s, expected %s", method, path, f ? f : "(none)",
		              field ? field : "");
	}
	ts_response_free(&r);
	return doc;
}

static long long id_of(json_t *doc)
{
	json_t *id = json_object_get(doc, "id");
	ck_assert_msg(json_is_integer(id), "no integer id");
	long long v = json_integer_value(id);
	json_decref(doc);
	return v;
}

static long long count(const char *sql)
{
	char *v = ts_db_value(db, sql);
	ck_assert_ptr_nonnull(v);
	long long n = atoll(v);
	free(v);
	return n;
}

static int list_has_id(json_t *page, const char *key, long long id)
{
	size_t i;
	json_t *item;
	json_array_foreach(json_object_get(page, "items"), i, item)
	{
		if (json_integer_value(json_object_get(item, key)) == id)
			return 1;
	}
	return 0;
}

START_TEST(organisations_and_their_admins_are_scoped)
{
	char *sa = ts_staff_token(db, "Server operators", "root@example.org", "admin", 1);
	char path[160], body[400];

	long long a = id_of(call(sa, "POST", "/api/v1/organisations",
	                         "{\"name\":\"Family Links\",\"kind\":\"prison_family_service\"}",
	                         201, NULL, NULL));
	long long b = id_of(call(sa, "POST", "/api/v1/organisations",
	                         "{\"name\":\"Second Chance Mentoring\"}", 201, NULL, NULL));
	json_decref(call(sa, "POST", "/api/v1/organisations", "{\"name\":\"family links\"}", 409,
	                 "core.duplicate_name", "name"));

	/* Each organisation's first admin, created by the server admin. */
	snprintf(body, sizeof body,
	         "{\"email\":\"ann@links.example\",\"display_name\":\"Ann Admin\","
	         "\"organisation_id\":%lld,\"role\":\"admin\"}",
	         a);
	long long ann = id_of(call(sa, "POST", "/api/v1/staff", body, 201, NULL, NULL));
	snprintf(body, sizeof body,
	         "{\"email\":\"ben@second.example\",\"display_name\":\"Ben Admin\","
	         "\"organisation_id\":%lld,\"role\":\"admin\"}",
	         b);
	long long ben = id_of(call(sa, "POST", "/api/v1/staff", body, 201, NULL, NULL));
	char *ann_t = ts_staff_token(db, "Family Links", "ann@links.example", NULL, 0);
	char *ben_t = ts_staff_token(db, "Second Chance Mentoring", "ben@second.example", NULL, 0);

	/* Only a server admin creates organisations. */
	json_decref(call(ann_t, "POST", "/api/v1/organisations", "{\"name\":\"Mine\"}", 403,
	                 "core.forbidden", NULL));

	/* Ann sees her organisation and nothing of Ben's. */
	json_t *page = call(ann_t, "GET", "/api/v1/organisations", NULL, 200, NULL, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(page, "items")), 1);
	ck_assert(list_has_id(page, "id", a));
	json_decref(page);
	page = call(sa, "GET", "/api/v1/organisations", NULL, 200, NULL, NULL);
	ck_assert(list_has_id(page, "id", a) && list_has_id(page, "id", b));
	json_decref(page);
	snprintf(path, sizeof path, "/api/v1/organisations/%lld", b);
	json_decref(call(ann_t, "GET", path, NULL, 404, "core.not_found", NULL));
	json_decref(
	    call(ann_t, "PATCH", path, "{\"name\":\"Taken over\"}", 404, "core.not_found", NULL));
	snprintf(path, sizeof path, "/api/v1/organisations/%lld/members", b);
	json_decref(call(ann_t, "GET", path, NULL, 404, "core.not_found", NULL));
	snprintf(body, sizeof body, "{\"staff_id\":%lld,\"role\":\"mentor\"}", ann);
	json_decref(call(ann_t, "POST", path, body, 404, "core.not_found", NULL));
	snprintf(path, sizeof path, "/api/v1/organisations/%lld/members/%lld/admin", b, ben);
	json_decref(call(ann_t, "DELETE", path, NULL, 404, "core.not_found", NULL));
	snprintf(path, sizeof path, "/api/v1/staff/%lld", ben);
	json_decref(call(ann_t, "GET", path, NULL, 404, "core.not_found", NULL));
	json_decref(call(ann_t, "PATCH", path, "{\"display_name\":\"Renamed\"}", 404,
	                 "core.not_found", NULL));
	json_decref(call(ann_t, "PATCH", path, "{\"disabled\":true}", 404, "core.not_found", NULL));
	snprintf(body, sizeof body,
	         "{\"email\":\"spy@links.example\",\"display_name\":\"Spy\","
	         "\"organisation_id\":%lld,\"role\":\"mentor\"}",
	         b);
	json_decref(
	    call(ann_t, "POST", "/api/v1/staff", body, 404, "core.not_found", "organisation_id"));
	/* Nor can she pull Ben into her own organisation. */
	snprintf(path, sizeof path, "/api/v1/organisations/%lld/members", a);
	snprintf(body, sizeof body, "{\"staff_id\":%lld,\"role\":\"mentor\"}", ben);
	json_decref(call(ann_t, "POST", path, body, 404, "core.not_found", "staff_id"));
	page = call(ann_t, "GET", "/api/v1/staff", NULL, 200, NULL, NULL);
	ck_assert(list_has_id(page, "id", ann) && !list_has_id(page, "id", ben));
	json_decref(page);
	snprintf(body, sizeof body,
	         "SELECT display_name || ':' || (disabled_at IS NULL)::text"
	         " FROM core.staff WHERE id = %lld",
	         ben);
	char *v = ts_db_value(db, body);
	ck_assert_str_eq(v, "Ben Admin:true");
	free(v);
	snprintf(body, sizeof body, "SELECT count(*) FROM core.membership WHERE staff_id = %lld",
	         ben);
	ck_assert_int_eq(count(body), 1);
	ck_assert_int_eq(count("SELECT count(*) FROM core.staff WHERE email LIKE 'spy@%'"), 0);

	/* Ann builds her team: a coordinator, then a second role. */
	snprintf(body, sizeof body,
	         "{\"email\":\"cat@links.example\",\"display_name\":\"Cat Coordinator\","
	         "\"organisation_id\":%lld,\"role\":\"coordinator\"}",
	         a);
	long long cat = id_of(call(ann_t, "POST", "/api/v1/staff", body, 201, NULL, NULL));
	json_decref(
	    call(ann_t, "POST", "/api/v1/staff", body, 409, "core.duplicate_email", "email"));
	snprintf(body, sizeof body, "{\"staff_id\":%lld,\"role\":\"mentor\"}", cat);
	json_t *m = call(ann_t, "POST", path, body, 201, NULL, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(m, "role")), "mentor");
	json_decref(m);
	json_decref(call(ann_t, "POST", path, body, 409, "core.duplicate_membership", "role"));
	page = call(ann_t, "GET", path, NULL, 200, NULL, NULL);
	ck_assert(list_has_id(page, "staff_id", cat) && list_has_id(page, "staff_id", ann));
	ck_assert(!list_has_id(page, "staff_id", ben));
	json_decref(page);

	/* A coordinator sees the members but cannot run the organisation. */
	char *cat_t = ts_staff_token(db, "Family Links", "cat@links.example", NULL, 0);
	json_decref(call(cat_t, "GET", path, NULL, 200, NULL, NULL));
	json_decref(call(cat_t, "POST", path, body, 403, "core.forbidden", NULL));
	snprintf(path, sizeof path, "/api/v1/organisations/%lld", a);
	json_decref(call(cat_t, "PATCH", path, "{\"name\":\"Coup\"}", 403, "core.forbidden", NULL));
	snprintf(path, sizeof path, "/api/v1/staff/%lld", ann);
	json_decref(call(cat_t, "GET", path, NULL, 200, NULL, NULL));
	json_decref(call(cat_t, "PATCH", path, "{\"display_name\":\"Annie\"}", 404,
	                 "core.not_found", NULL));

	/* Roles come off; the last admin stays. */
	snprintf(path, sizeof path, "/api/v1/organisations/%lld/members/%lld/mentor", a, cat);
	json_decref(call(ann_t, "DELETE", path, NULL, 204, NULL, NULL));
	json_decref(call(ann_t, "DELETE", path, NULL, 404, "core.not_found", NULL));
	snprintf(path, sizeof path, "/api/v1/organisations/%lld/members/%lld/wizard", a, cat);
	json_decref(call(ann_t, "DELETE", path, NULL, 400, "core.bad_enum", "role"));
	snprintf(path, sizeof path, "/api/v1/organisations/%lld/members/%lld/admin", a, ann);
	json_decref(call(ann_t, "DELETE", path, NULL, 409, "core.last_admin", "role"));
	json_decref(call(sa, "DELETE", path, NULL, 409, "core.last_admin", "role"));
	snprintf(body, sizeof body,
	         "SELECT count(*) FROM core.membership WHERE staff_id = %lld AND role = 'admin'",
	         ann);
	ck_assert_int_eq(count(body), 1);

	/* Admin changes: rename, disable a member (their token stops working). */
	snprintf(path, sizeof path, "/api/v1/organisations/%lld", a);
	json_t *o =
	    call(ann_t, "PATCH", path, "{\"name\":\"Family Links North\"}", 200, NULL, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(o, "name")), "Family Links North");
	json_decref(o);
	snprintf(path, sizeof path, "/api/v1/staff/%lld", cat);
	json_decref(call(ann_t, "PATCH", path, "{\"disabled\":true}", 200, NULL, NULL));
	json_decref(call(cat_t, "GET", "/api/v1/auth/me", NULL, 401, "core.bad_credentials", NULL));
	json_decref(call(ann_t, "PATCH", path, "{\"disabled\":false}", 200, NULL, NULL));
	/* Disabling revoked her tokens for good: enabling her again does not
	 * bring them back. */
	json_decref(call(cat_t, "GET", "/api/v1/auth/me", NULL, 401, "core.bad_credentials", NULL));
	snprintf(body, sizeof body,
	         "SELECT count(*) FROM core.audit WHERE action = 'staff.credentials_revoked'"
	         " AND object_id = %lld AND org_id = %lld AND detail->>'reason' = 'disabled'"
	         " AND detail->>'tokens' = '1'",
	         cat, a);
	ck_assert_int_eq(count(body), 1);
	/* Nobody disables themselves. */
	snprintf(path, sizeof path, "/api/v1/staff/%lld", ann);
	json_decref(
	    call(ann_t, "PATCH", path, "{\"disabled\":true}", 422, "core.invalid", "disabled"));
	o = call(ann_t, "PATCH", path, "{\"display_name\":\"Ann A.\"}", 200, NULL, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(o, "display_name")), "Ann A.");
	json_decref(o);

	/* Every change is in the audit log, with who made it. */
	ck_assert_int_eq(
	    count("SELECT count(*) FROM core.audit WHERE action = 'organisation.create'"), 2);
	snprintf(
	    body, sizeof body,
	    "SELECT count(*) FROM core.audit WHERE action = 'staff.create' AND object_id = %lld"
	    " AND actor_staff_id = %lld AND org_id = %lld AND request_id IS NOT NULL",
	    cat, ann, a);
	ck_assert_int_eq(count(body), 1);
	snprintf(body, sizeof body,
	         "SELECT count(*) FROM core.audit WHERE object_id = %lld AND action IN"
	         " ('membership.create', 'membership.delete')",
	         cat);
	ck_assert_int_eq(count(body), 2);
	ck_assert_int_eq(
	    count("SELECT count(*) FROM core.audit WHERE action = 'organisation.update'"), 1);
	snprintf(
	    body, sizeof body,
	    "SELECT count(*) FROM core.audit WHERE action = 'staff.update' AND object_id = %lld"
	    " AND detail->'fields' ? 'disabled'",
	    cat);
	ck_assert_int_eq(count(body), 2);
	free(sa);
	free(ann_t);
	free(ben_t);
	free(cat_t);
}
END_TEST

START_TEST(tokens_are_shown_once_and_revocable)
{
	char *me = ts_staff_token(db, "Token org", "tess@example.org", "mentor", 0);
	char *other = ts_staff_token(db, "Token org", "otto@example.org", "mentor", 0);
	char sql[512], path[64], headers[160];

	json_t *made = call(me, "POST", "/api/v1/tokens",
	                    "{\"name\":\"laptop\",\"expires_in_days\":30}", 201, NULL, NULL);
	const char *token = json_string_value(json_object_get(made, "token"));
	ck_assert_ptr_nonnull(token);
	char secret[80];
	snprintf(secret, sizeof secret, "%s", token);
	long long id = json_integer_value(json_object_get(made, "id"));
	ck_assert(json_is_string(json_object_get(made, "expires_at")));
	json_decref(made);
	regex_t re;
	ck_assert_int_eq(regcomp(&re, "^wm_[A-Za-z0-9_-]{59}$", REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_msg(regexec(&re, secret, 0, NULL, 0) == 0, "token %s", secret);
	regfree(&re);

	/* Stored: the selector and a 64-hex hash; the secret nowhere. */
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.api_token t WHERE position('%s' in t::text) > 0"
	         " OR position('%s' in t::text) > 0",
	         secret, secret + 3 + 16);
	ck_assert_int_eq(count(sql), 0);
	snprintf(
	    sql, sizeof sql,
	    "SELECT count(*) FROM core.api_token WHERE id = %lld AND selector = '%.16s'"
	    " AND verifier_hash ~ '^[0-9a-f]{64}$' AND expires_at > now() + interval '29 days'",
	    id, secret + 3);
	ck_assert_int_eq(count(sql), 1);
	ck_assert_int_eq(
	    count("SELECT count(*) FROM core.audit WHERE position('wm_' in detail::text)"
	          " > 0"),
	    0);

	json_decref(call(me, "POST", "/api/v1/tokens", "{\"name\":\"laptop\"}", 409,
	                 "core.duplicate_name", "name"));

	/* The list shows the token, never its secret. */
	struct ts_response r;
	snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\n", me);
	ck_assert_int_eq(ts_http(&srv, "GET", "/api/v1/tokens", headers, NULL, 0, 5000, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_null(strstr(r.body, secret + 3));
	ck_assert_ptr_null(strstr(r.body, "\"token\""));
	ck_assert_ptr_nonnull(strstr(r.body, "\"laptop\""));
	ts_response_free(&r);

	/* It works; someone else cannot revoke it; its owner can, and then it
	 * is refused. */
	json_t *who = call(secret, "GET", "/api/v1/auth/me", NULL, 200, NULL, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(who, "email")), "tess@example.org");
	ck_assert_str_eq(json_string_value(json_object_get(who, "via")), "token");
	json_decref(who);
	snprintf(path, sizeof path, "/api/v1/tokens/%lld", id);
	json_decref(call(other, "DELETE", path, NULL, 404, "core.not_found", NULL));
	json_decref(call(secret, "GET", "/api/v1/auth/me", NULL, 200, NULL, NULL));
	json_decref(call(me, "DELETE", path, NULL, 204, NULL, NULL));
	json_decref(
	    call(secret, "GET", "/api/v1/auth/me", NULL, 401, "core.bad_credentials", NULL));
	json_decref(call(me, "DELETE", path, NULL, 404, "core.not_found", NULL));
	json_decref(call(me, "DELETE", "/api/v1/tokens/abc", NULL, 404, "core.not_found", NULL));
	/* The name is free again once the token is revoked. Without
	 * expires_in_days a token lasts 90 days; 365 is the most. */
	made = call(me, "POST", "/api/v1/tokens", "{\"name\":\"laptop\"}", 201, NULL, NULL);
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.api_token WHERE id = %lld AND expires_at BETWEEN"
	         " now() + interval '89 days 23 hours' AND now() + interval '90 days'",
	         (long long)json_integer_value(json_object_get(made, "id")));
	ck_assert_int_eq(count(sql), 1);
	json_decref(made);
	made = call(me, "POST", "/api/v1/tokens", "{\"name\":\"year\",\"expires_in_days\":365}",
	            201, NULL, NULL);
	json_decref(made);
	ck_assert_int_eq(count("SELECT count(*) FROM core.api_token WHERE name = 'year' AND"
	                       " expires_at > now() + interval '364 days'"),
	                 1);
	json_decref(call(me, "GET", "/api/v1/tokens?limit=5&secret=1", NULL, 400, "core.bad_query",
	                 "secret"));
	json_decref(
	    call(me, "DELETE", "/api/v1/tokens/1?force=1", NULL, 400, "core.bad_query", "force"));

	/* Bad input: nothing written. */
	long long before = count("SELECT count(*) FROM core.api_token");
	char longname[160];
	memset(longname, 'x', 101);
	longname[101] = '\0';
	char body[256];
	snprintf(body, sizeof body, "{\"name\":\"%s\"}", longname);
	json_decref(call(me, "POST", "/api/v1/tokens", body, 400, "core.too_long", "name"));
	json_decref(
	    call(me, "POST", "/api/v1/tokens", "{\"name\":\"\"}", 400, "core.empty", "name"));
	json_decref(call(me, "POST", "/api/v1/tokens", "{\"name\":\"a\\u0001b\"}", 400,
	                 "core.bad_text", "name"));
	json_decref(call(me, "POST", "/api/v1/tokens", "{\"name\":\"n\",\"expires_in_days\":0}",
	                 400, "core.out_of_range", "expires_in_days"));
	json_decref(call(me, "POST", "/api/v1/tokens", "{\"name\":\"n\",\"expires_in_days\":366}",
	                 400, "core.out_of_range", "expires_in_days"));
	json_decref(call(me, "POST", "/api/v1/tokens", "{\"name\":\"n\",\"expires_in_days\":3650}",
	                 400, "core.out_of_range", "expires_in_days"));
	json_decref(call(me, "POST", "/api/v1/tokens", "{\"name\":\"n\",\"secret\":\"x\"}", 400,
	                 "core.unknown_field", "secret"));
	ck_assert_int_eq(count("SELECT count(*) FROM core.api_token"), before);

	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.audit WHERE object_type = 'token' AND object_id = %lld"
	         " AND action IN ('token.create', 'token.revoke')",
	         id);
	ck_assert_int_eq(count(sql), 2);
	free(me);
	free(other);
}
END_TEST

START_TEST(bad_staff_and_organisation_input_is_refused)
{
	char *sa = ts_staff_token(db, "Refusals org", "root@example.org", "admin", 1);
	long long org = ts_org_id(db, "Refusals org");
	char body[2048], path[64], name101[128];
	memset(name101, 'n', 101);
	name101[101] = '\0';
	const char *before_sql = "SELECT (SELECT count(*) FROM core.staff) * 1000000"
	                         " + (SELECT count(*) FROM core.organisation) * 1000"
	                         " + (SELECT count(*) FROM core.audit)";
	long long before = count(before_sql);
	/* Each body is {"organisation_id": <org>, <fields>}. */
	static const struct {
		const char *fields, *code, *field;
	} cases[] = {
	    {"\"email\":\"a@b.example\",\"display_name\":\"A\",\"role\":\"wizard\"",
	     "core.bad_enum", "role"},
	    {"\"email\":\"not-an-email\",\"display_name\":\"A\",\"role\":\"mentor\"",
	     "core.bad_email", "email"},
	    {"\"email\":\"a b@b.example\",\"display_name\":\"A\",\"role\":\"mentor\"",
	     "core.bad_email", "email"},
	    {"\"email\":\"a@b.example\",\"display_name\":\"A\\u0007\",\"role\":\"mentor\"",
	     "core.bad_text", "display_name"},
	    {"\"email\":\"a@b.example\",\"display_name\":\"A\",\"role\":\"mentor\","
	     "\"password\":\"short\"",
	     "core.bad_password", "password"},
	    {"\"email\":\"a@b.example\",\"display_name\":\"A\"", "core.missing_field", "role"},
	    {"\"email\":\"a@b.example\",\"display_name\":\"A\",\"role\":\"mentor\","
	     "\"server_admin\":true",
	     "core.unknown_field", "server_admin"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(body, sizeof body, "{\"organisation_id\":%lld,%s}", org, cases[i].fields);
		json_decref(
		    call(sa, "POST", "/api/v1/staff", body, 400, cases[i].code, cases[i].field));
	}
	snprintf(body, sizeof body,
	         "{\"email\":\"a@b.example\",\"display_name\":\"%s\",\"organisation_id\":%lld,"
	         "\"role\":\"mentor\"}",
	         name101, org);
	json_decref(call(sa, "POST", "/api/v1/staff", body, 400, "core.too_long", "display_name"));
	char org201[256];
	memset(org201, 'o', 201);
	org201[201] = '\0';
	snprintf(body, sizeof body, "{\"name\":\"%s\"}", org201);
	json_decref(call(sa, "POST", "/api/v1/organisations", body, 400, "core.too_long", "name"));
	json_decref(call(sa, "POST", "/api/v1/organisations",
	                 "{\"name\":\"X\",\"kind\":\"castle\"}", 400, "core.bad_enum", "kind"));
	json_decref(call(sa, "POST", "/api/v1/organisations", "{\"name\":\"Tab\\there\"}", 400,
	                 "core.bad_text", "name"));
	snprintf(path, sizeof path, "/api/v1/organisations/%lld", org);
	json_decref(
	    call(sa, "PATCH", path, "{\"archived\":\"yes\"}", 400, "core.wrong_type", "archived"));
	snprintf(path, sizeof path, "/api/v1/organisations/%lld/members", org);
	json_decref(call(sa, "POST", path, "{\"staff_id\":1,\"role\":\"boss\"}", 400,
	                 "core.bad_enum", "role"));
	json_decref(call(sa, "POST", path, "{\"staff_id\":-3,\"role\":\"mentor\"}", 400,
	                 "core.out_of_range", "staff_id"));
	json_decref(call(sa, "GET", "/api/v1/staff?organisation_id=x", NULL, 400, "core.bad_query",
	                 "organisation_id"));
	json_decref(
	    call(sa, "GET", "/api/v1/organisations?limit=0", NULL, 400, "core.bad_query", "limit"));
	ck_assert_int_eq(count(before_sql), before);
	free(sa);
}
END_TEST

START_TEST(lists_page_with_a_cursor)
{
	char *sa = ts_staff_token(db, "Paging org", "root@example.org", "admin", 1);
	long long org = ts_org_id(db, "Paging org");
	char body[256], path[128];
	for (int i = 0; i < 5; i++) {
		snprintf(body, sizeof body,
		         "{\"email\":\"p%d@example.org\",\"display_name\":\"P %d\","
		         "\"organisation_id\":%lld,\"role\":\"mentor\"}",
		         i, i, org);
		json_decref(call(sa, "POST", "/api/v1/staff", body, 201, NULL, NULL));
	}
	/* Six members (root and five), two at a time. */
	int seen = 0;
	char cursor[32] = "";
	for (int page = 0; page < 10; page++) {
		snprintf(path, sizeof path, "/api/v1/organisations/%lld/members?limit=2%s%s", org,
		         cursor[0] ? "&cursor=" : "", cursor);
		json_t *doc = call(sa, "GET", path, NULL, 200, NULL, NULL);
		seen += (int)json_array_size(json_object_get(doc, "items"));
		json_t *next = json_object_get(doc, "next_cursor");
		if (json_is_null(next)) {
			json_decref(doc);
			break;
		}
		snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
		json_decref(doc);
	}
	ck_assert_int_eq(seen, 6);
	json_t *doc = call(sa, "GET", "/api/v1/staff?limit=5", NULL, 200, NULL, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 5);
	ck_assert(json_is_string(json_object_get(doc, "next_cursor")));
	json_decref(doc);
	free(sa);
}
END_TEST

/* Changing someone else (name, disabled) needs a server admin, or an admin
 * of EVERY organisation (not archived) they belong to; a server admin is
 * changed only by server admins. Anything less is 404, as for a staff
 * member one cannot see. Disabling an organisation's last enabled admin is
 * 409 core.last_admin, like removing the role. */
START_TEST(admins_change_only_staff_wholly_theirs)
{
	char *sa = ts_staff_token(db, "Operators", "root@example.org", NULL, 1);
	char *ann_t = ts_staff_token(db, "Org A", "ann@a.example", "admin", 0);
	char *ben_t = ts_staff_token(db, "Org B", "ben@b.example", "admin", 0);
	/* Dee works in both; Cy is the only admin of C and a mentor in B; Ops is
	 * a server admin who coordinates in B; Eve runs both A and B. */
	free(ts_staff_token(db, "Org A", "dee@ab.example", "mentor", 0));
	free(ts_staff_token(db, "Org B", "dee@ab.example", "mentor", 0));
	free(ts_staff_token(db, "Org C", "cy@c.example", "admin", 0));
	free(ts_staff_token(db, "Org B", "cy@c.example", "mentor", 0));
	free(ts_staff_token(db, "Org B", "ops@example.org", "coordinator", 1));
	char *eve_t = ts_staff_token(db, "Org A", "eve@ab.example", "admin", 0);
	free(ts_staff_token(db, "Org B", "eve@ab.example", "admin", 0));
	long long dee = ts_staff_id(db, "dee@ab.example"), cy = ts_staff_id(db, "cy@c.example");
	long long ops = ts_staff_id(db, "ops@example.org"), ann = ts_staff_id(db, "ann@a.example");
	long long a = ts_org_id(db, "Org A"), b = ts_org_id(db, "Org B");
	char path[128], sql[512];
	const char *fp = "SELECT string_agg(display_name || coalesce(disabled_at::text, ''), ','"
	                 " ORDER BY id) FROM core.staff";
	char *before = ts_db_value(db, fp);
	long long tokens = count("SELECT count(*) FROM core.api_token WHERE revoked_at IS NULL");

	/* Ben (admin of B) sees Dee, Cy and Ops but changes none of them. */
	long long targets[] = {dee, cy, ops};
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "/api/v1/staff/%lld", targets[i]);
		json_decref(call(ben_t, "GET", path, NULL, 200, NULL, NULL));
		json_decref(call(ben_t, "PATCH", path, "{\"display_name\":\"Renamed\"}", 404,
		                 "core.not_found", NULL));
		json_decref(
		    call(ben_t, "PATCH", path, "{\"disabled\":true}", 404, "core.not_found", NULL));
	}
	/* Ann (admin of A only) cannot change Dee either. */
	snprintf(path, sizeof path, "/api/v1/staff/%lld", dee);
	json_decref(call(ann_t, "PATCH", path, "{\"disabled\":true}", 404, "core.not_found", NULL));
	char *after = ts_db_value(db, fp);
	ck_assert_str_eq(after, before);
	free(after);
	ck_assert_int_eq(count("SELECT count(*) FROM core.api_token WHERE revoked_at IS NULL"),
	                 tokens);
	ck_assert_int_eq(count("SELECT count(*) FROM core.audit WHERE action = 'staff.update'"), 0);

	/* Eve runs both of Dee's organisations: she may. Audited in each. */
	json_t *o = call(eve_t, "PATCH", path, "{\"display_name\":\"Dee D.\"}", 200, NULL, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(o, "display_name")), "Dee D.");
	json_decref(o);
	snprintf(sql, sizeof sql,
	         "SELECT string_agg(org_id::text, ',' ORDER BY org_id) FROM core.audit"
	         " WHERE action = 'staff.update' AND object_id = %lld",
	         dee);
	char *orgs = ts_db_value(db, sql);
	char want[64];
	snprintf(want, sizeof want, "%lld,%lld", a < b ? a : b, a < b ? b : a);
	ck_assert_str_eq(orgs, want);
	free(orgs);
	/* But not the server admin who also works in B. */
	snprintf(path, sizeof path, "/api/v1/staff/%lld", ops);
	json_decref(call(eve_t, "PATCH", path, "{\"disabled\":true}", 404, "core.not_found", NULL));
	/* Once C is archived, Cy's membership there no longer counts: Ben runs
	 * every organisation Cy is still active in. */
	snprintf(sql, sizeof sql,
	         "UPDATE core.organisation SET archived_at = now() WHERE id = %lld",
	         ts_org_id(db, "Org C"));
	ck_assert_int_eq(ts_db_exec(db, sql), 0);
	snprintf(path, sizeof path, "/api/v1/staff/%lld", cy);
	json_decref(call(ben_t, "PATCH", path, "{\"display_name\":\"Cy C.\"}", 200, NULL, NULL));
	snprintf(sql, sizeof sql, "UPDATE core.organisation SET archived_at = NULL WHERE id = %lld",
	         ts_org_id(db, "Org C"));
	ck_assert_int_eq(ts_db_exec(db, sql), 0);

	/* Self-service changes are audited for each organisation too. */
	snprintf(path, sizeof path, "/api/v1/staff/%lld", ts_staff_id(db, "eve@ab.example"));
	json_decref(call(eve_t, "PATCH", path, "{\"display_name\":\"Eve E.\"}", 200, NULL, NULL));
	snprintf(sql, sizeof sql,
	         "SELECT count(DISTINCT org_id) FROM core.audit WHERE action = 'staff.update'"
	         " AND object_id = %lld AND org_id IN (%lld, %lld)",
	         ts_staff_id(db, "eve@ab.example"), a, b);
	ck_assert_int_eq(count(sql), 2);

	/* The last enabled admin: Ann is A's only admin besides Eve. */
	snprintf(path, sizeof path, "/api/v1/staff/%lld", ts_staff_id(db, "eve@ab.example"));
	json_decref(call(sa, "PATCH", path, "{\"disabled\":true}", 200, NULL, NULL));
	snprintf(path, sizeof path, "/api/v1/staff/%lld", ann);
	json_decref(
	    call(sa, "PATCH", path, "{\"disabled\":true}", 409, "core.last_admin", "disabled"));
	/* Cy is the last admin of C (archived or not). */
	snprintf(path, sizeof path, "/api/v1/staff/%lld", cy);
	json_decref(
	    call(sa, "PATCH", path, "{\"disabled\":true}", 409, "core.last_admin", "disabled"));
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.staff WHERE id IN (%lld, %lld) AND disabled_at IS NULL",
	         ann, cy);
	ck_assert_int_eq(count(sql), 2);
	json_decref(call(ann_t, "GET", "/api/v1/auth/me", NULL, 200, NULL, NULL));
	/* With Eve enabled again, Ann may go. */
	snprintf(path, sizeof path, "/api/v1/staff/%lld", ts_staff_id(db, "eve@ab.example"));
	json_decref(call(sa, "PATCH", path, "{\"disabled\":false}", 200, NULL, NULL));
	snprintf(path, sizeof path, "/api/v1/staff/%lld", ann);
	json_decref(call(sa, "PATCH", path, "{\"disabled\":true}", 200, NULL, NULL));
	json_decref(call(ann_t, "GET", "/api/v1/auth/me", NULL, 401, "core.bad_credentials", NULL));
	/* A stray query parameter is refused, naming it. */
	json_decref(call(sa, "GET", "/api/v1/organisations?limit=2&sort=name", NULL, 400,
	                 "core.bad_query", "sort"));
	snprintf(path, sizeof path, "/api/v1/staff/%lld?expand=1", ann);
	json_decref(call(sa, "GET", path, NULL, 400, "core.bad_query", "expand"));
	json_decref(call(ben_t, "GET", "/api/v1/staff?organisation_id=0", NULL, 400,
	                 "core.bad_query", "organisation_id"));
	free(before);
	free(sa);
	free(ann_t);
	free(ben_t);
	free(eve_t);
}
END_TEST

/* Taking the mentor (or facilitator) role away ends that member's live
 * assignments of that kind in that organisation, audited; other kinds and
 * other organisations are untouched. */
START_TEST(removing_a_role_ends_its_assignments)
{
	char *adm = ts_staff_token(db, "Org A", "ann@a.example", "admin", 0);
	free(ts_staff_token(db, "Org A", "mo@a.example", "mentor", 0));
	free(ts_staff_token(db, "Org A", "mo@a.example", "facilitator", 0));
	long long a = ts_org_id(db, "Org A"), mo = ts_staff_id(db, "mo@a.example");
	char sql[768], path[128];
	snprintf(sql, sizeof sql,
	         "WITH p AS (INSERT INTO core.person (given_name, family_name) VALUES"
	         " ('Pat', 'Person') RETURNING id),"
	         " l AS (INSERT INTO core.person_org (person_id, org_id) SELECT id, %lld FROM p),"
	         " x AS (INSERT INTO core.assignment (org_id, staff_id, person_id, kind)"
	         "  SELECT %lld, %lld, id, k::core.staff_role FROM p,"
	         "  unnest(ARRAY['mentor', 'facilitator']) k)"
	         " SELECT id FROM p",
	         a, a, mo);
	char *person = ts_db_value(db, sql);
	snprintf(path, sizeof path, "/api/v1/organisations/%lld/members/%lld/mentor", a, mo);
	json_decref(call(adm, "DELETE", path, NULL, 204, NULL, NULL));
	snprintf(sql, sizeof sql,
	         "SELECT string_agg(kind || ':' || (ended_at IS NOT NULL) || ':' ||"
	         " coalesce(ended_by::text, '-'), ',' ORDER BY kind) FROM core.assignment"
	         " WHERE staff_id = %lld",
	         mo);
	char *v = ts_db_value(db, sql);
	char want[128];
	snprintf(want, sizeof want, "facilitator:false:-,mentor:true:%lld",
	         ts_staff_id(db, "ann@a.example"));
	ck_assert_str_eq(v, want);
	free(v);
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.audit WHERE action = 'assignment.end' AND org_id = %lld"
	         " AND person_id = %s AND object_type = 'assignment'",
	         a, person);
	ck_assert_int_eq(count(sql), 1);
	free(person);
	free(adm);
}
END_TEST

/* A stored hash that cannot be checked (here: too long for libsodium) is
 * not "no password": the change is refused and nothing is written. */
START_TEST(an_unreadable_stored_hash_fails_closed)
{
	char *me = ts_staff_token(db, "Org A", "odd@a.example", "mentor", 0);
	long long id = ts_staff_id(db, "odd@a.example");
	char sql[256], path[64];
	snprintf(sql, sizeof sql,
	         "UPDATE core.staff SET password_hash = '$argon2id$' || repeat('x', 200)"
	         " WHERE id = %lld",
	         id);
	ck_assert_int_eq(ts_db_exec(db, sql), 0);
	snprintf(path, sizeof path, "/api/v1/staff/%lld", id);
	json_decref(call(me, "PATCH", path, "{\"password\":\"a brand new passphrase\"}", 500,
	                 "core.internal", NULL));
	json_decref(call(me, "PATCH", path,
	                 "{\"password\":\"a brand new passphrase\",\"current_password\":\"x\"}",
	                 500, "core.internal", NULL));
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM core.staff WHERE id = %lld AND length(password_hash) = 210",
	         id);
	ck_assert_int_eq(count(sql), 1);
	/* Still a working account for everything else. */
	json_decref(call(me, "GET", "/api/v1/auth/me", NULL, 200, NULL, NULL));
	free(me);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("identity");
	TCase *tc = tcase_create("identity");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, organisations_and_their_admins_are_scoped);
	tcase_add_test(tc, tokens_are_shown_once_and_revocable);
	tcase_add_test(tc, bad_staff_and_organisation_input_is_refused);
	tcase_add_test(tc, lists_page_with_a_cursor);
	tcase_add_test(tc, admins_change_only_staff_wholly_theirs);
	tcase_add_test(tc, removing_a_role_ends_its_assignments);
	tcase_add_test(tc, an_unreadable_stored_hash_fails_closed);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
