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
	json_decref(call(cat_t, "GET", "/api/v1/auth/me", NULL, 200, NULL, NULL));
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
	/* The name is free again once the token is revoked. */
	json_decref(call(me, "POST", "/api/v1/tokens", "{\"name\":\"laptop\"}", 201, NULL, NULL));

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
	json_decref(call(me, "POST", "/api/v1/tokens", "{\"name\":\"n\",\"expires_in_days\":3651}",
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
	suite_add_tcase(s, tc);
	return ts_main(s);
}
