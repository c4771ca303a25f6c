/*
 * Referrals and consent over HTTP against the real server and database:
 * every one of the 7 x 7 status pairs is tried (legal ones move and leave a
 * history row; illegal ones are 409 and change nothing), referring on needs
 * live consent to that organisation and then creates the onward referral
 * there and shows the person to it, other organisations' referrals and
 * consents are 404 and the wrong roles 403, bad input names its field and
 * writes nothing, and a stale version is refused.
 *
 * People are made directly in SQL (the people routes are another file's
 * business); everything else goes through the API.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ts.h"

#define TS_PRINTF(f, a) __attribute__((format(printf, f, a)))

static struct ts_server srv;
static char *db;
static char *coord_a, *coord_b, *admin_a, *mentor_a, *comm_a;
static long long org_a, org_b, org_c;

static void setup(void)
{
	db = ts_db_create("referrals");
	struct ts_server_opts o = {.database_url = db};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	ts_server_grant(&srv, db);
	coord_a = ts_staff_token(db, "Org A", "coord-a@example.org", "coordinator", 0);
	admin_a = ts_staff_token(db, "Org A", "admin-a@example.org", "admin", 0);
	mentor_a = ts_staff_token(db, "Org A", "mentor-a@example.org", "mentor", 0);
	comm_a = ts_staff_token(db, "Org A", "comm-a@example.org", "commissioner", 0);
	coord_b = ts_staff_token(db, "Org B", "coord-b@example.org", "coordinator", 0);
	free(ts_staff_token(db, "Org C", "coord-c@example.org", "coordinator", 0));
	org_a = ts_org_id(db, "Org A");
	org_b = ts_org_id(db, "Org B");
	org_c = ts_org_id(db, "Org C");
}

static void teardown(void)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
	free(coord_a);
	free(coord_b);
	free(admin_a);
	free(mentor_a);
	free(comm_a);
}

/* --- helpers ------------------------------------------------------------ */

/* A value from SQL built with printf (malloc'd, "" for NULL/no row). */
static char *sqlv(const char *fmt, ...) TS_PRINTF(1, 2);
static char *sqlv(const char *fmt, ...)
{
	char sql[2048];
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
	char sql[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	char *v = ts_db_value(db, sql);
	long long n = v ? atoll(v) : -1;
	free(v);
	return n;
}

/* A date `days` from today (UTC), as the API counts days. */
static void day(int days, char out[11])
{
	time_t t = time(NULL) + (time_t)days * 86400;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

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
	char body[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof body, fmt, ap);
	va_end(ap);
	return call(token, method, path, body);
}

static void res_free(struct res *r)
{
	json_decref(r->json);
	r->json = NULL;
}

/* Asserts the status (and, for errors, code and field: "" for none). */
#define expect(r, st, cd, fld)                                                                     \
	do {                                                                                       \
		ck_assert_msg((r).status == (st), "line %d: status %d, expected %d (%s)",          \
		              __LINE__, (r).status, (st), (r).code);                               \
		if (cd) {                                                                          \
			ck_assert_str_eq((r).code, (cd));                                          \
			ck_assert_str_eq((r).field, (fld));                                        \
		}                                                                                  \
	} while (0)

static long long jint(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	ck_assert_msg(json_is_integer(v), "%s is not an integer", k);
	return (long long)json_integer_value(v);
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "(null)";
}

static long long new_person(long long org, const char *given, const char *dob)
{
	char *id = sqlv("INSERT INTO core.person (given_name, family_name, date_of_birth) "
	                "VALUES ('%s', 'Tester', %s) RETURNING id",
	                given, dob ? dob : "NULL");
	long long n = atoll(id);
	free(id);
	free(sqlv("INSERT INTO core.person_org (person_id, org_id) VALUES (%lld, %lld)", n, org));
	return n;
}

static long long new_referral(const char *token, long long org, long long person)
{
	char today[11];
	day(0, today);
	struct res r = callf(token, "POST", "/api/v1/referrals",
	                     "{\"organisation_id\": %lld, \"person_id\": %lld, \"source\": "
	                     "\"probation\", \"referrer_name\": \"P. Officer\", \"referred_on\": "
	                     "\"%s\", \"risk_summary\": \"Agreed summary\"}",
	                     org, person, today);
	expect(r, 201, NULL, "");
	ck_assert_str_eq(jstr(r.json, "status"), "received");
	long long id = jint(r.json, "id");
	res_free(&r);
	return id;
}

static long long new_consent(const char *token, long long person, long long org,
                             const char *purpose, long long recipient, const char *given_on)
{
	char path[64];
	snprintf(path, sizeof path, "/api/v1/people/%lld/consents", person);
	struct res r = callf(token, "POST", path,
	                     "{\"organisation_id\": %lld, \"purpose\": \"%s\", "
	                     "\"recipient_organisation_id\": %lld, \"given_on\": \"%s\"}",
	                     org, purpose, recipient, given_on);
	expect(r, 201, NULL, "");
	long long id = jint(r.json, "id");
	res_free(&r);
	return id;
}

/* Moves referral `id` to `to` (onward org for referred_on); returns the reply. */
static struct res move(const char *token, long long id, const char *to, long long onward)
{
	char path[64], body[256];
	snprintf(path, sizeof path, "/api/v1/referrals/%lld/status", id);
	if (onward)
		snprintf(
		    body, sizeof body,
		    "{\"status\": \"%s\", \"reason\": \"test\", \"onward_organisation_id\": %lld}",
		    to, onward);
	else
		snprintf(body, sizeof body, "{\"status\": \"%s\", \"reason\": \"test\"}", to);
	return call(token, "POST", path, body);
}

static const char *const statuses[] = {"received", "contacted",    "assessed",   "accepted",
                                       "declined", "waiting_list", "referred_on"};
#define NSTATUS 7

/* The legal moves, written out from the issue rather than read from the
 * database, so a wrong row in core.referral_transition fails the test. */
static int legal(const char *from, const char *to)
{
	static const char *const pairs[][2] = {
	    {"received", "contacted"},       {"received", "declined"},
	    {"contacted", "assessed"},       {"contacted", "declined"},
	    {"assessed", "accepted"},        {"assessed", "declined"},
	    {"assessed", "waiting_list"},    {"assessed", "referred_on"},
	    {"waiting_list", "accepted"},    {"waiting_list", "declined"},
	    {"waiting_list", "referred_on"},
	};
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
		if (!strcmp(pairs[i][0], from) && !strcmp(pairs[i][1], to))
			return 1;
	return 0;
}

/* The legal path from received to each status. */
static const char *const *path_to(const char *status)
{
	static const char *const received[] = {NULL};
	static const char *const contacted[] = {"contacted", NULL};
	static const char *const assessed[] = {"contacted", "assessed", NULL};
	static const char *const accepted[] = {"contacted", "assessed", "accepted", NULL};
	static const char *const declined[] = {"declined", NULL};
	static const char *const waiting[] = {"contacted", "assessed", "waiting_list", NULL};
	static const char *const referred[] = {"contacted", "assessed", "referred_on", NULL};
	static const struct {
		const char *s;
		const char *const *p;
	} all[] = {{"received", received},   {"contacted", contacted}, {"assessed", assessed},
	           {"accepted", accepted},   {"declined", declined},   {"waiting_list", waiting},
	           {"referred_on", referred}};
	for (size_t i = 0; i < NSTATUS; i++)
		if (!strcmp(all[i].s, status))
			return all[i].p;
	ck_abort_msg("no path to %s", status);
	return NULL;
}

/* Everything a refused request must leave as it was, as one string. */
static char *snapshot(long long id)
{
	return sqlv(
	    "SELECT r.status || '/' || r.version || '/' || r.updated_at || '/' || "
	    "r.decision_reason IS NULL || '/' || coalesce(r.onward_referral_id, 0) || '/' || "
	    "(SELECT count(*) FROM core.referral_history h WHERE h.referral_id = r.id) || "
	    "'/' || (SELECT count(*) FROM core.referral) || '/' || "
	    "(SELECT count(*) FROM core.audit) || '/' || (SELECT count(*) FROM "
	    "core.person_org) FROM core.referral r WHERE r.id = %lld",
	    id);
}

/* --- the state machine ------------------------------------------------- */

START_TEST(every_status_pair)
{
	char today[11];
	day(0, today);
	long long person = new_person(org_a, "Matrix", NULL);
	/* Referring on is legal from two states; it needs this consent. */
	new_consent(coord_a, person, org_a, "referral", org_b, today);
	int legal_seen = 0, illegal_seen = 0;
	for (int f = 0; f < NSTATUS; f++) {
		for (int t = 0; t < NSTATUS; t++) {
			const char *from = statuses[f], *to = statuses[t];
			long long id = new_referral(coord_a, org_a, person);
			for (const char *const *p = path_to(from); *p; p++) {
				struct res m =
				    move(coord_a, id, *p, !strcmp(*p, "referred_on") ? org_b : 0);
				ck_assert_msg(m.status == 200, "driving %lld to %s: %d %s", id, *p,
				              m.status, m.code);
				res_free(&m);
			}
			char *status = sqlv("SELECT status FROM core.referral WHERE id = %lld", id);
			ck_assert_str_eq(status, from);
			free(status);
			long long version =
			    sqln("SELECT version FROM core.referral WHERE id = %lld", id);
			long long hist = sqln("SELECT count(*) FROM core.referral_history "
			                      "WHERE referral_id = %lld",
			                      id);
			char *before = snapshot(id);
			struct res m =
			    move(coord_a, id, to, !strcmp(to, "referred_on") ? org_b : 0);
			if (legal(from, to)) {
				legal_seen++;
				ck_assert_msg(m.status == 200, "%s -> %s: %d %s", from, to,
				              m.status, m.code);
				ck_assert_str_eq(jstr(m.json, "status"), to);
				ck_assert_int_eq(jint(m.json, "version"), version + 1);
				json_t *h = json_object_get(m.json, "history");
				ck_assert_int_eq(json_array_size(h), (size_t)hist + 1);
				json_t *last = json_array_get(h, json_array_size(h) - 1);
				ck_assert_str_eq(jstr(last, "from_status"), from);
				ck_assert_str_eq(jstr(last, "to_status"), to);
				ck_assert_str_eq(jstr(last, "reason"), "test");
				ck_assert_int_eq(
				    sqln("SELECT count(*) FROM core.referral_history WHERE "
				         "referral_id = %lld AND from_status = '%s' AND "
				         "to_status = '%s'",
				         id, from, to),
				    1);
				ck_assert_int_eq(
				    sqln("SELECT count(*) FROM core.audit WHERE action = "
				         "'referral.status' AND object_id = %lld AND "
				         "detail->>'from' = '%s' AND detail->>'to' = '%s'",
				         id, from, to),
				    1);
			} else {
				illegal_seen++;
				ck_assert_msg(m.status == 409, "%s -> %s: %d, expected 409", from,
				              to, m.status);
				ck_assert_str_eq(m.code, "core.illegal_transition");
				ck_assert_str_eq(m.field, "status");
				char *after = snapshot(id);
				ck_assert_msg(!strcmp(before, after), "%s -> %s changed %s into %s",
				              from, to, before, after);
				free(after);
			}
			free(before);
			res_free(&m);
		}
	}
	ck_assert_int_eq(legal_seen, 11);
	ck_assert_int_eq(illegal_seen, 49 - 11);
}
END_TEST

/* --- referring on needs consent -------------------------------------- */

static long long assessed_referral(long long person)
{
	long long id = new_referral(coord_a, org_a, person);
	static const char *const steps[] = {"contacted", "assessed"};
	for (int i = 0; i < 2; i++) {
		struct res m = move(coord_a, id, steps[i], 0);
		expect(m, 200, NULL, "");
		res_free(&m);
	}
	return id;
}

START_TEST(referred_on_needs_consent)
{
	char today[11], last_year[11], path[96];
	day(0, today);
	day(-365, last_year);
	long long person = new_person(org_a, "Onward", NULL);
	long long id = assessed_referral(person);

	snprintf(path, sizeof path, "/api/v1/people/%lld", person);
	struct res r = call(coord_b, "GET", path, NULL);
	expect(r, 404, "core.not_found", "");
	res_free(&r);

	/* No consent; consent for another purpose; consent to another org. */
	char *before = snapshot(id);
	r = move(coord_a, id, "referred_on", org_b);
	expect(r, 422, "core.consent_required", "onward_organisation_id");
	char no_consent[256];
	snprintf(no_consent, sizeof no_consent, "%s", r.message);
	ck_assert_str_ne(no_consent, "");
	res_free(&r);
	new_consent(coord_a, person, org_a, "case_meeting", org_b, last_year);
	new_consent(coord_a, person, org_a, "referral", org_c, last_year);
	free(before);
	before = snapshot(id);
	r = move(coord_a, id, "referred_on", org_b);
	expect(r, 422, "core.consent_required", "onward_organisation_id");
	res_free(&r);
	/* No onward organisation, the same one, one that does not exist: the
	 * last answers as one that exists without consent (ids tell nothing). */
	r = move(coord_a, id, "referred_on", 0);
	expect(r, 400, "core.missing_field", "onward_organisation_id");
	res_free(&r);
	r = move(coord_a, id, "referred_on", org_a);
	expect(r, 422, "core.invalid", "onward_organisation_id");
	res_free(&r);
	r = move(coord_a, id, "referred_on", 987654);
	expect(r, 422, "core.consent_required", "onward_organisation_id");
	ck_assert_str_eq(r.message, no_consent);
	res_free(&r);
	char *after = snapshot(id);
	ck_assert_str_eq(before, after);
	free(after);
	free(before);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.referral WHERE org_id = %lld", org_b), 0);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.person_org WHERE person_id = %lld AND "
	                      "org_id = %lld",
	                      person, org_b),
	                 0);

	/* With consent to refer to B it goes. */
	long long consent = new_consent(coord_a, person, org_a, "referral", org_b, today);
	r = move(coord_a, id, "referred_on", org_b);
	expect(r, 200, NULL, "");
	ck_assert_str_eq(jstr(r.json, "status"), "referred_on");
	ck_assert_int_eq(jint(r.json, "onward_organisation_id"), org_b);
	ck_assert_int_eq(jint(r.json, "consent_id"), consent);
	ck_assert_str_eq(jstr(r.json, "decision_reason"), "test");
	long long onward = jint(r.json, "onward_referral_id");
	res_free(&r);

	/* B now holds the person and sees the new referral. */
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.person_org WHERE person_id = %lld AND "
	                      "org_id = %lld",
	                      person, org_b),
	                 1);
	r = call(coord_b, "GET", path, NULL);
	expect(r, 200, NULL, "");
	res_free(&r);
	snprintf(path, sizeof path, "/api/v1/referrals/%lld", onward);
	r = call(coord_b, "GET", path, NULL);
	expect(r, 200, NULL, "");
	ck_assert_int_eq(jint(r.json, "organisation_id"), org_b);
	ck_assert_int_eq(jint(r.json, "person_id"), person);
	ck_assert_int_eq(jint(r.json, "previous_referral_id"), id);
	ck_assert_int_eq(jint(r.json, "consent_id"), consent);
	ck_assert_str_eq(jstr(r.json, "status"), "received");
	ck_assert_str_eq(jstr(r.json, "source"), "partner_organisation");
	ck_assert_str_eq(jstr(r.json, "referrer_organisation"), "Org A");
	ck_assert_str_eq(jstr(r.json, "referred_on"), today);
	/* A's own risk summary stays with A: nothing was chosen to share. */
	ck_assert_ptr_nonnull(json_object_get(r.json, "risk_summary"));
	ck_assert(json_is_null(json_object_get(r.json, "risk_summary")));
	/* A's staff ids are not B's to know. */
	ck_assert_ptr_nonnull(json_object_get(r.json, "created_by"));
	ck_assert(json_is_null(json_object_get(r.json, "created_by")));
	json_t *h = json_object_get(r.json, "history");
	ck_assert_int_eq(json_array_size(h), 1);
	ck_assert(json_is_null(json_object_get(json_array_get(h, 0), "from_status")));
	ck_assert_ptr_nonnull(json_object_get(json_array_get(h, 0), "by_staff_id"));
	ck_assert(json_is_null(json_object_get(json_array_get(h, 0), "by_staff_id")));
	ck_assert_str_eq(jstr(json_array_get(h, 0), "to_status"), "received");
	res_free(&r);
	snprintf(path, sizeof path, "/api/v1/referrals?person_id=%lld", person);
	r = call(coord_b, "GET", path, NULL);
	expect(r, 200, NULL, "");
	json_t *items = json_object_get(r.json, "items");
	ck_assert_int_eq(json_array_size(items), 1);
	ck_assert_int_eq(jint(json_array_get(items, 0), "id"), onward);
	res_free(&r);
	/* Each side sees its own referral only; the links are ids. */
	snprintf(path, sizeof path, "/api/v1/referrals/%lld", id);
	r = call(coord_b, "GET", path, NULL);
	expect(r, 404, "core.not_found", "");
	res_free(&r);
	r = call(coord_a, "GET", path, NULL);
	expect(r, 200, NULL, "");
	ck_assert_int_eq(jint(r.json, "onward_referral_id"), onward);
	ck_assert_int_eq(jint(r.json, "onward_organisation_id"), org_b);
	ck_assert_int_eq(jint(r.json, "created_by"), ts_staff_id(db, "coord-a@example.org"));
	ck_assert_int_eq(jint(json_array_get(json_object_get(r.json, "history"), 0), "by_staff_id"),
	                 ts_staff_id(db, "coord-a@example.org"));
	res_free(&r);
	snprintf(path, sizeof path, "/api/v1/referrals/%lld", onward);
	r = call(coord_a, "GET", path, NULL);
	expect(r, 404, "core.not_found", "");
	res_free(&r);
	/* Audited: the move, the onward referral, the sharing. */
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = 'referral.status' "
	                      "AND object_id = %lld AND detail->>'to' = 'referred_on' AND "
	                      "org_id = %lld",
	                      id, org_a),
	                 1);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = 'referral.create' "
	                      "AND object_id = %lld AND org_id = %lld AND "
	                      "detail->>'risk_summary_shared' = 'false'",
	                      onward, org_b),
	                 1);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = 'person.share' "
	                      "AND person_id = %lld AND (detail->>'to_organisation_id')::bigint "
	                      "= %lld",
	                      person, org_b),
	                 1);
}
END_TEST

START_TEST(withdrawn_consent_no_longer_allows)
{
	char today[11], last_year[11], tomorrow[11], long_ago[11], path[96];
	day(0, today);
	day(1, tomorrow);
	day(-365, last_year);
	day(-400, long_ago);
	long long person = new_person(org_a, "Withdrawn", NULL);
	long long id = assessed_referral(person);
	long long consent =
	    new_consent(coord_a, person, org_a, "share_with_organisation", org_b, last_year);
	snprintf(path, sizeof path, "/api/v1/consents/%lld/withdraw", consent);

	/* Bad withdrawals change nothing. */
	struct res r = callf(coord_a, "POST", path, "{\"withdrawn_on\": \"%s\"}", tomorrow);
	expect(r, 422, "core.date_in_future", "withdrawn_on");
	res_free(&r);
	r = callf(coord_a, "POST", path, "{\"withdrawn_on\": \"%s\"}", long_ago);
	expect(r, 422, "core.invalid", "withdrawn_on");
	res_free(&r);
	r = callf(coord_b, "POST", path, "{\"withdrawn_on\": \"%s\"}", today);
	expect(r, 404, "core.not_found", "");
	res_free(&r);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.consent WHERE withdrawn_on IS NOT NULL"),
	                 0);

	r = callf(coord_a, "POST", path, "{\"withdrawn_on\": \"%s\"}", today);
	expect(r, 200, NULL, "");
	ck_assert_str_eq(jstr(r.json, "withdrawn_on"), today);
	ck_assert(json_is_false(json_object_get(r.json, "live")));
	res_free(&r);
	r = callf(coord_a, "POST", path, "{\"withdrawn_on\": \"%s\"}", today);
	expect(r, 409, "core.already_withdrawn", "");
	res_free(&r);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = 'consent.withdraw' "
	                      "AND object_id = %lld",
	                      consent),
	                 1);

	char *before = snapshot(id);
	r = move(coord_a, id, "referred_on", org_b);
	expect(r, 422, "core.consent_required", "onward_organisation_id");
	res_free(&r);
	char *after = snapshot(id);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);

	/* The list shows the consent, withdrawn, to A's coordinator only. */
	snprintf(path, sizeof path, "/api/v1/people/%lld/consents", person);
	r = call(coord_a, "GET", path, NULL);
	expect(r, 200, NULL, "");
	json_t *items = json_object_get(r.json, "items");
	ck_assert_int_eq(json_array_size(items), 1);
	ck_assert_int_eq(jint(json_array_get(items, 0), "id"), consent);
	ck_assert_str_eq(jstr(json_array_get(items, 0), "purpose"), "share_with_organisation");
	ck_assert_str_eq(jstr(json_array_get(items, 0), "withdrawn_on"), today);
	ck_assert(json_is_null(json_object_get(r.json, "next_cursor")));
	res_free(&r);
	r = call(coord_b, "GET", path, NULL);
	expect(r, 404, "core.not_found", "");
	res_free(&r);
}
END_TEST

/* --- scope and roles -------------------------------------------------- */

START_TEST(other_orgs_and_roles_are_refused)
{
	char today[11], path[96];
	day(0, today);
	long long person = new_person(org_a, "Scoped", NULL);
	long long person_b = new_person(org_b, "Bside", NULL);
	long long id = new_referral(coord_a, org_a, person);
	long long consent = new_consent(coord_a, person, org_a, "referral", org_b, today);
	char *before = snapshot(id);
	long long consents = sqln("SELECT count(*) FROM core.consent");

	/* Org B's coordinator: not found, whatever the route. */
	snprintf(path, sizeof path, "/api/v1/referrals/%lld", id);
	struct res r = call(coord_b, "GET", path, NULL);
	expect(r, 404, "core.not_found", "");
	res_free(&r);
	r = call(coord_b, "PATCH", path, "{\"eligibility\": \"eligible\"}");
	expect(r, 404, "core.not_found", "");
	res_free(&r);
	r = move(coord_b, id, "contacted", 0);
	expect(r, 404, "core.not_found", "");
	res_free(&r);
	snprintf(path, sizeof path, "/api/v1/people/%lld/consents", person);
	r = call(coord_b, "GET", path, NULL);
	expect(r, 404, "core.not_found", "");
	res_free(&r);
	r = callf(coord_b, "POST", path,
	          "{\"organisation_id\": %lld, \"purpose\": \"photography\", \"given_on\": \"%s\"}",
	          org_a, today);
	expect(r, 404, "core.not_found", "organisation_id");
	res_free(&r);
	r = callf(coord_b, "POST", path,
	          "{\"organisation_id\": %lld, \"purpose\": \"photography\", \"given_on\": \"%s\"}",
	          org_b, today);
	expect(r, 404, "core.not_found", "");
	res_free(&r);
	snprintf(path, sizeof path, "/api/v1/consents/%lld/withdraw", consent);
	r = callf(coord_b, "POST", path, "{\"withdrawn_on\": \"%s\"}", today);
	expect(r, 404, "core.not_found", "");
	res_free(&r);
	r = callf(coord_b, "POST", "/api/v1/referrals",
	          "{\"organisation_id\": %lld, \"person_id\": %lld, \"source\": \"self\", "
	          "\"referred_on\": \"%s\"}",
	          org_a, person, today);
	expect(r, 404, "core.not_found", "organisation_id");
	res_free(&r);
	r = callf(coord_b, "POST", "/api/v1/referrals",
	          "{\"organisation_id\": %lld, \"person_id\": %lld, \"source\": \"self\", "
	          "\"referred_on\": \"%s\"}",
	          org_b, person, today);
	expect(r, 404, "core.not_found", "person_id");
	res_free(&r);
	r = callf(coord_b, "POST", "/api/v1/referrals",
	          "{\"organisation_id\": %lld, \"person_id\": %lld, \"source\": \"self\", "
	          "\"referred_on\": \"%s\", \"previous_referral_id\": %lld}",
	          org_b, person_b, today, id);
	expect(r, 404, "core.not_found", "previous_referral_id");
	res_free(&r);
	r = call(coord_b, "GET", "/api/v1/referrals", NULL);
	expect(r, 200, NULL, "");
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 0);
	res_free(&r);
	snprintf(path, sizeof path, "/api/v1/referrals?organisation_id=%lld", org_a);
	r = call(coord_b, "GET", path, NULL);
	expect(r, 200, NULL, "");
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 0);
	res_free(&r);

	/* Mentors and commissioners may not use these routes at all. */
	const char *const tokens[] = {mentor_a, comm_a};
	for (int i = 0; i < 2; i++) {
		const char *tk = tokens[i];
		r = call(tk, "GET", "/api/v1/referrals", NULL);
		expect(r, 403, NULL, "");
		res_free(&r);
		snprintf(path, sizeof path, "/api/v1/referrals/%lld", id);
		r = call(tk, "GET", path, NULL);
		expect(r, 403, NULL, "");
		res_free(&r);
		r = call(tk, "PATCH", path, "{\"eligibility\": \"eligible\"}");
		expect(r, 403, NULL, "");
		res_free(&r);
		r = move(tk, id, "contacted", 0);
		expect(r, 403, NULL, "");
		res_free(&r);
		r = callf(tk, "POST", "/api/v1/referrals",
		          "{\"organisation_id\": %lld, \"person_id\": %lld, \"source\": \"self\", "
		          "\"referred_on\": \"%s\"}",
		          org_a, person, today);
		expect(r, 403, NULL, "");
		res_free(&r);
		snprintf(path, sizeof path, "/api/v1/people/%lld/consents", person);
		r = call(tk, "GET", path, NULL);
		expect(r, 403, NULL, "");
		res_free(&r);
		r = callf(tk, "POST", path,
		          "{\"organisation_id\": %lld, \"purpose\": \"photography\", "
		          "\"given_on\": \"%s\"}",
		          org_a, today);
		expect(r, 403, NULL, "");
		res_free(&r);
		snprintf(path, sizeof path, "/api/v1/consents/%lld/withdraw", consent);
		r = callf(tk, "POST", path, "{\"withdrawn_on\": \"%s\"}", today);
		expect(r, 403, NULL, "");
		res_free(&r);
	}
	char *after = snapshot(id);
	ck_assert_str_eq(before, after);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.consent"), consents);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.consent WHERE withdrawn_on IS NOT NULL"),
	                 0);
	free(before);
	free(after);

	/* Org A's admin manages A's referrals like its coordinator. */
	r = move(admin_a, id, "contacted", 0);
	expect(r, 200, NULL, "");
	res_free(&r);
}
END_TEST

/* --- bad input -------------------------------------------------------- */

START_TEST(bad_input_names_the_field_and_writes_nothing)
{
	char today[11], tomorrow[11], path[96], long_name[256];
	day(0, today);
	day(1, tomorrow);
	memset(long_name, 'x', 201);
	long_name[201] = '\0';
	long long person = new_person(org_a, "Input", NULL);
	long long referrals = sqln("SELECT count(*) FROM core.referral");
	long long audits = sqln("SELECT count(*) FROM core.audit");
	char long_member[300];
	snprintf(long_member, sizeof long_member, ", \"referrer_name\": \"%s\"", long_name);
	/* date: NULL omits referred_on; "+1" is tomorrow; "0" today. */
	const struct {
		const char *source, *date, *extra;
		int status;
		const char *code, *field;
	} cases[] = {
	    {"police", "0", "", 400, "core.bad_enum", "source"},
	    {"self", "+1", "", 422, "core.date_in_future", "referred_on"},
	    {"self", "0", long_member, 400, "core.too_long", "referrer_name"},
	    {"self", "2023-02-30", "", 400, "core.bad_date", "referred_on"},
	    {"self", NULL, "", 400, "core.missing_field", "referred_on"},
	    {"self", "0", ", \"referrer_name\": \"a\\u0007b\"", 400, "core.bad_text",
	     "referrer_name"},
	    {"self", "0", ", \"status\": \"accepted\"", 400, "core.unknown_field", "status"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char date[64] = "", body[1024];
		const char *d = cases[i].date;
		if (d)
			snprintf(date, sizeof date, ", \"referred_on\": \"%s\"",
			         !strcmp(d, "0")    ? today
			         : !strcmp(d, "+1") ? tomorrow
			                            : d);
		snprintf(body, sizeof body,
		         "{\"organisation_id\": %lld, \"person_id\": %lld, \"source\": \"%s\"%s%s}",
		         org_a, person, cases[i].source, date, cases[i].extra);
		struct res r = call(coord_a, "POST", "/api/v1/referrals", body);
		ck_assert_msg(r.status == cases[i].status, "case %zu (%s): %d %s", i, body,
		              r.status, r.code);
		ck_assert_str_eq(r.code, cases[i].code);
		ck_assert_str_eq(r.field, cases[i].field);
		res_free(&r);
	}
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.referral"), referrals);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit"), audits);

	/* Consent input. */
	long long consents = sqln("SELECT count(*) FROM core.consent");
	snprintf(path, sizeof path, "/api/v1/people/%lld/consents", person);
	struct res r = callf(coord_a, "POST", path,
	                     "{\"organisation_id\": %lld, \"purpose\": \"referral\", "
	                     "\"given_on\": \"%s\"}",
	                     org_a, today);
	expect(r, 400, "core.missing_field", "recipient_organisation_id");
	res_free(&r);
	r = callf(coord_a, "POST", path,
	          "{\"organisation_id\": %lld, \"purpose\": \"gossip\", \"given_on\": \"%s\"}",
	          org_a, today);
	expect(r, 400, "core.bad_enum", "purpose");
	res_free(&r);
	r = callf(coord_a, "POST", path,
	          "{\"organisation_id\": %lld, \"purpose\": \"photography\", \"given_on\": \"%s\"}",
	          org_a, tomorrow);
	expect(r, 422, "core.date_in_future", "given_on");
	res_free(&r);
	r = callf(coord_a, "POST", path,
	          "{\"organisation_id\": %lld, \"purpose\": \"photography\", \"given_on\": \"%s\", "
	          "\"given_by\": \"neighbour\"}",
	          org_a, today);
	expect(r, 400, "core.bad_enum", "given_by");
	res_free(&r);
	r = callf(coord_a, "POST", path,
	          "{\"organisation_id\": %lld, \"purpose\": \"referral\", \"given_on\": \"%s\", "
	          "\"recipient_organisation_id\": %lld}",
	          org_a, today, org_a);
	expect(r, 422, "core.invalid", "recipient_organisation_id");
	char own_org[256];
	snprintf(own_org, sizeof own_org, "%s", r.message);
	res_free(&r);
	/* An unknown recipient gets the very same answer: nothing about ids. */
	r = callf(coord_a, "POST", path,
	          "{\"organisation_id\": %lld, \"purpose\": \"referral\", \"given_on\": \"%s\", "
	          "\"recipient_organisation_id\": 987654}",
	          org_a, today);
	expect(r, 422, "core.invalid", "recipient_organisation_id");
	ck_assert_str_eq(r.message, own_org);
	res_free(&r);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.consent"), consents);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit"), audits);

	/* A good one, by a parent, is recorded and audited. */
	r = callf(
	    coord_a, "POST", path,
	    "{\"organisation_id\": %lld, \"purpose\": \"photography\", \"given_on\": \"%s\", "
	    "\"given_by\": \"parent\", \"scope\": \"Group photos only\", \"note\": \"Signed\"}",
	    org_a, today);
	expect(r, 201, NULL, "");
	ck_assert_str_eq(jstr(r.json, "given_by"), "parent");
	ck_assert(json_is_null(json_object_get(r.json, "recipient_organisation_id")));
	ck_assert(json_is_true(json_object_get(r.json, "live")));
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = 'consent.create' AND "
	                      "object_id = %lld AND NOT detail ? 'note'",
	                      jint(r.json, "id")),
	                 1);
	res_free(&r);

	/* Status input. */
	long long id = new_referral(coord_a, org_a, person);
	char *before = snapshot(id);
	r = move(coord_a, id, "lost", 0);
	expect(r, 400, "core.bad_enum", "status");
	res_free(&r);
	r = move(coord_a, id, "contacted", org_b);
	expect(r, 400, "core.unexpected_field", "onward_organisation_id");
	res_free(&r);
	snprintf(path, sizeof path, "/api/v1/referrals/%lld", id);
	r = call(coord_a, "PATCH", path, "{\"eligibility\": \"maybe\"}");
	expect(r, 400, "core.bad_enum", "eligibility");
	res_free(&r);
	r = call(coord_a, "PATCH", path, "{}");
	expect(r, 400, "core.missing_field", "");
	res_free(&r);
	r = call(coord_a, "PATCH", path, "{\"version\": 1}");
	expect(r, 400, "core.missing_field", "");
	res_free(&r);
	char *after = snapshot(id);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	r = call(coord_a, "GET", "/api/v1/referrals?status=lost", NULL);
	expect(r, 400, "core.bad_query", "status");
	res_free(&r);
	r = call(coord_a, "GET", "/api/v1/referrals?person_id=x1", NULL);
	expect(r, 400, "core.bad_query", "person_id");
	res_free(&r);
}
END_TEST

/* --- versions, updates, lists, chains -------------------------------- */

START_TEST(versions_updates_lists_and_chains)
{
	char path[96], today[11];
	day(0, today);
	long long person = new_person(org_a, "Versioned", NULL);
	long long id = new_referral(coord_a, org_a, person);
	snprintf(path, sizeof path, "/api/v1/referrals/%lld", id);

	struct res r = call(coord_a, "PATCH", path,
	                    "{\"eligibility\": \"eligible\", \"eligibility_rule_version\": "
	                    "\"2024-1\", \"referrer_name\": null, \"version\": 1}");
	expect(r, 200, NULL, "");
	ck_assert_int_eq(jint(r.json, "version"), 2);
	ck_assert_str_eq(jstr(r.json, "eligibility"), "eligible");
	ck_assert_str_eq(jstr(r.json, "eligibility_rule_version"), "2024-1");
	ck_assert(json_is_null(json_object_get(r.json, "referrer_name")));
	ck_assert_str_eq(jstr(r.json, "risk_summary"), "Agreed summary");
	res_free(&r);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = 'referral.update' "
	                      "AND object_id = %lld AND detail->'fields' = '[\"eligibility\", "
	                      "\"eligibility_rule_version\", \"referrer_name\"]'::jsonb",
	                      id),
	                 1);

	/* Stale: someone else's change got in first. Nothing changes. */
	char *before = snapshot(id);
	r = call(coord_a, "PATCH", path, "{\"eligibility\": \"ineligible\", \"version\": 1}");
	expect(r, 409, "core.stale", "version");
	res_free(&r);
	snprintf(path, sizeof path, "/api/v1/referrals/%lld/status", id);
	r = call(coord_a, "POST", path, "{\"status\": \"contacted\", \"version\": 1}");
	expect(r, 409, "core.stale", "version");
	res_free(&r);
	char *after = snapshot(id);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	r = call(coord_a, "POST", path, "{\"status\": \"contacted\", \"version\": 2}");
	expect(r, 200, NULL, "");
	ck_assert_int_eq(jint(r.json, "version"), 3);
	res_free(&r);

	/* A chain: a new referral naming the earlier one, same person only. */
	r = callf(coord_a, "POST", "/api/v1/referrals",
	          "{\"organisation_id\": %lld, \"person_id\": %lld, \"source\": \"court\", "
	          "\"referred_on\": \"%s\", \"previous_referral_id\": %lld}",
	          org_a, person, today, id);
	expect(r, 201, NULL, "");
	long long second = jint(r.json, "id");
	ck_assert_int_eq(jint(r.json, "previous_referral_id"), id);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "history")), 1);
	res_free(&r);
	long long other = new_person(org_a, "Other", NULL);
	r = callf(coord_a, "POST", "/api/v1/referrals",
	          "{\"organisation_id\": %lld, \"person_id\": %lld, \"source\": \"court\", "
	          "\"referred_on\": \"%s\", \"previous_referral_id\": %lld}",
	          org_a, other, today, id);
	expect(r, 422, "core.invalid", "previous_referral_id");
	res_free(&r);

	/* Lists page by id and filter. */
	long long third = new_referral(coord_a, org_a, other);
	long long want[] = {id, second, third};
	char cursor[24] = "";
	int seen = 0;
	for (int page = 0; page < 10; page++) {
		snprintf(path, sizeof path, "/api/v1/referrals?limit=1%s%s",
		         cursor[0] ? "&cursor=" : "", cursor);
		r = call(coord_a, "GET", path, NULL);
		expect(r, 200, NULL, "");
		json_t *items = json_object_get(r.json, "items");
		ck_assert_int_le(json_array_size(items), 1);
		if (json_array_size(items) == 1) {
			ck_assert_int_lt(seen, 3);
			ck_assert_int_eq(jint(json_array_get(items, 0), "id"), want[seen]);
			seen++;
		}
		json_t *next = json_object_get(r.json, "next_cursor");
		if (json_is_null(next)) {
			res_free(&r);
			break;
		}
		snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
		res_free(&r);
	}
	ck_assert_int_eq(seen, 3);
	r = call(coord_a, "GET", "/api/v1/referrals?status=contacted", NULL);
	expect(r, 200, NULL, "");
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 1);
	ck_assert_int_eq(jint(json_array_get(json_object_get(r.json, "items"), 0), "id"), id);
	res_free(&r);
	r = call(coord_a, "GET", "/api/v1/referrals?source=court", NULL);
	expect(r, 200, NULL, "");
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 1);
	res_free(&r);
	snprintf(path, sizeof path, "/api/v1/referrals?person_id=%lld", other);
	r = call(coord_a, "GET", path, NULL);
	expect(r, 200, NULL, "");
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 1);
	res_free(&r);

	/* Reading a child's referral is audited. */
	long long child = new_person(org_a, "Child", "current_date - 3000");
	long long cref = new_referral(coord_a, org_a, child);
	snprintf(path, sizeof path, "/api/v1/referrals/%lld", cref);
	r = call(coord_a, "GET", path, NULL);
	expect(r, 200, NULL, "");
	res_free(&r);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = "
	                      "'referral.read_child' AND object_id = %lld",
	                      cref),
	                 1);
	snprintf(path, sizeof path, "/api/v1/referrals/%lld", id);
	r = call(coord_a, "GET", path, NULL);
	expect(r, 200, NULL, "");
	res_free(&r);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = "
	                      "'referral.read_child' AND object_id = %lld",
	                      id),
	                 0);
	/* Unknown and malformed ids are the same 404. */
	r = call(coord_a, "GET", "/api/v1/referrals/999999", NULL);
	expect(r, 404, "core.not_found", "");
	res_free(&r);
	r = call(coord_a, "GET", "/api/v1/referrals/abc", NULL);
	expect(r, 404, "core.not_found", "");
	res_free(&r);
}
END_TEST

/* --- erasure ends an organisation's hold ------------------------------ */

/* After organisation A erases a person (its person_org link is gone; the
 * erasure itself is tested with the subject routes, so here the link is
 * removed in SQL, leaving A's consent live to prove the link is what
 * counts), A can no longer change, move or refer on its referrals about
 * them, nor record or withdraw consents: all 404, nothing written. */
START_TEST(erased_hold_closes_referrals_and_consents)
{
	char today[11], path[96];
	day(0, today);
	long long person = new_person(org_a, "Erased", NULL);
	long long id = assessed_referral(person);
	long long consent = new_consent(coord_a, person, org_a, "referral", org_b, today);
	ck_assert_int_eq(sqln("SELECT core.consent_allows(%lld, %lld, %lld, 'referral', "
	                      "core.referral_today())",
	                      person, org_a, org_b),
	                 consent);
	/* Another organisation still holds the person: they are not erased. */
	free(sqlv("INSERT INTO core.person_org (person_id, org_id) VALUES (%lld, %lld)", person,
	          org_c));
	free(sqlv("DELETE FROM core.person_org WHERE person_id = %lld AND org_id = %lld", person,
	          org_a));
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM core.person_org WHERE person_id = %lld", person), 1);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.person WHERE id = %lld AND "
	                      "core.consent_allows(id, %lld, %lld, 'referral', "
	                      "core.referral_today()) IS NULL",
	                      person, org_a, org_b),
	                 1);

	char *before = snapshot(id);
	long long consents = sqln("SELECT count(*) FROM core.consent");
	snprintf(path, sizeof path, "/api/v1/referrals/%lld", id);
	struct res r = call(coord_a, "PATCH", path, "{\"risk_summary\": \"More\"}");
	expect(r, 404, "core.not_found", "");
	res_free(&r);
	r = move(coord_a, id, "referred_on", org_b);
	expect(r, 404, "core.not_found", "");
	res_free(&r);
	r = move(admin_a, id, "accepted", 0);
	expect(r, 404, "core.not_found", "");
	res_free(&r);
	snprintf(path, sizeof path, "/api/v1/consents/%lld/withdraw", consent);
	r = callf(coord_a, "POST", path, "{\"withdrawn_on\": \"%s\"}", today);
	expect(r, 404, "core.not_found", "");
	res_free(&r);
	snprintf(path, sizeof path, "/api/v1/people/%lld/consents", person);
	r = callf(coord_a, "POST", path,
	          "{\"organisation_id\": %lld, \"purpose\": \"referral\", "
	          "\"recipient_organisation_id\": %lld, \"given_on\": \"%s\"}",
	          org_a, org_b, today);
	expect(r, 404, "core.not_found", "");
	res_free(&r);
	r = callf(coord_a, "POST", "/api/v1/referrals",
	          "{\"organisation_id\": %lld, \"person_id\": %lld, \"source\": \"self\", "
	          "\"referred_on\": \"%s\"}",
	          org_a, person, today);
	expect(r, 404, "core.not_found", "person_id");
	res_free(&r);
	char *after = snapshot(id);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.consent"), consents);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.person_org WHERE person_id = %lld AND "
	                      "org_id = %lld",
	                      person, org_b),
	                 0);

	/* Erased outright (no holder, erased_at set): no consent allows
	 * anything, even one whose organisation still has a link. */
	long long gone = new_person(org_a, "Pseudonymised", NULL);
	long long gone_ref = assessed_referral(gone);
	new_consent(coord_a, gone, org_a, "referral", org_b, today);
	free(sqlv("UPDATE core.person SET erased_at = now() WHERE id = %lld", gone));
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.person WHERE id = %lld AND "
	                      "core.consent_allows(id, %lld, %lld, 'referral', "
	                      "core.referral_today()) IS NULL",
	                      gone, org_a, org_b),
	                 1);
	r = move(coord_a, gone_ref, "referred_on", org_b);
	expect(r, 422, "core.consent_required", "onward_organisation_id");
	res_free(&r);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.person_org WHERE person_id = %lld AND "
	                      "org_id = %lld",
	                      gone, org_b),
	                 0);
	snprintf(path, sizeof path, "/api/v1/people/%lld/consents", gone);
	r = callf(coord_a, "POST", path,
	          "{\"organisation_id\": %lld, \"purpose\": \"photography\", \"given_on\": \"%s\"}",
	          org_a, today);
	expect(r, 404, "core.not_found", "");
	res_free(&r);
	r = callf(coord_a, "POST", "/api/v1/referrals",
	          "{\"organisation_id\": %lld, \"person_id\": %lld, \"source\": \"self\", "
	          "\"referred_on\": \"%s\"}",
	          org_a, gone, today);
	expect(r, 404, "core.not_found", "person_id");
	res_free(&r);
}
END_TEST

/* --- final is final ----------------------------------------------------- */

START_TEST(final_referrals_are_closed)
{
	char today[11], path[96];
	day(0, today);
	long long person = new_person(org_a, "Final", NULL);
	new_consent(coord_a, person, org_a, "referral", org_b, today);
	long long declined = new_referral(coord_a, org_a, person);
	struct res r = move(coord_a, declined, "declined", 0);
	expect(r, 200, NULL, "");
	res_free(&r);
	long long onward = assessed_referral(person);
	r = move(coord_a, onward, "referred_on", org_b);
	expect(r, 200, NULL, "");
	res_free(&r);
	long long ids[] = {declined, onward};
	for (int i = 0; i < 2; i++) {
		char *before = snapshot(ids[i]);
		snprintf(path, sizeof path, "/api/v1/referrals/%lld", ids[i]);
		r = call(coord_a, "PATCH", path, "{\"eligibility_note\": \"Later thoughts\"}");
		expect(r, 409, "core.closed", "");
		res_free(&r);
		r = call(admin_a, "PATCH", path, "{\"referrer_name\": null, \"version\": 99}");
		expect(r, 409, "core.closed", "");
		res_free(&r);
		char *after = snapshot(ids[i]);
		ck_assert_str_eq(before, after);
		free(before);
		free(after);
	}
	/* Accepted is not final for edits (the issue names declined and
	 * referred_on only). */
	long long accepted = assessed_referral(person);
	r = move(coord_a, accepted, "accepted", 0);
	expect(r, 200, NULL, "");
	res_free(&r);
	snprintf(path, sizeof path, "/api/v1/referrals/%lld", accepted);
	r = call(coord_a, "PATCH", path, "{\"eligibility_note\": \"Settled in\"}");
	expect(r, 200, NULL, "");
	res_free(&r);

	/* The database itself refuses a status move off the state machine,
	 * whatever code writes it; a legal one still goes through. */
	long long fresh = new_referral(coord_a, org_a, person);
	char sql[160];
	snprintf(sql, sizeof sql, "UPDATE core.referral SET status = 'accepted' WHERE id = %lld",
	         fresh);
	ck_assert_int_ne(ts_db_exec(db, sql), 0);
	snprintf(sql, sizeof sql, "UPDATE core.referral SET status = 'received' WHERE id = %lld",
	         declined);
	ck_assert_int_ne(ts_db_exec(db, sql), 0);
	char *st = sqlv("SELECT string_agg(status::text, ',' ORDER BY id) FROM core.referral "
	                "WHERE id IN (%lld, %lld)",
	                fresh, declined);
	ck_assert_str_eq(st, "declined,received");
	free(st);
	snprintf(sql, sizeof sql, "UPDATE core.referral SET status = 'contacted' WHERE id = %lld",
	         fresh);
	ck_assert_int_eq(ts_db_exec(db, sql), 0);
	/* Other columns are written freely. */
	snprintf(sql, sizeof sql,
	         "UPDATE core.referral SET referrer_name = 'Scrubbed' WHERE id = %lld", declined);
	ck_assert_int_eq(ts_db_exec(db, sql), 0);
}
END_TEST

/* --- what the sender chooses to share ---------------------------------- */

START_TEST(shared_risk_summary_is_what_goes_onward)
{
	char today[11], path[96], long_text[2100];
	day(0, today);
	memset(long_text, 'r', 2001);
	long_text[2001] = '\0';
	long long person = new_person(org_a, "Sharing", NULL);
	new_consent(coord_a, person, org_a, "share_with_organisation", org_b, today);
	long long id = assessed_referral(person);
	snprintf(path, sizeof path, "/api/v1/referrals/%lld/status", id);

	char *before = snapshot(id);
	struct res r = call(coord_a, "POST", path,
	                    "{\"status\": \"accepted\", \"shared_risk_summary\": \"Calm\"}");
	expect(r, 400, "core.unexpected_field", "shared_risk_summary");
	res_free(&r);
	r = callf(coord_a, "POST", path,
	          "{\"status\": \"referred_on\", \"onward_organisation_id\": %lld, "
	          "\"shared_risk_summary\": \"%s\"}",
	          org_b, long_text);
	expect(r, 400, "core.too_long", "shared_risk_summary");
	res_free(&r);
	r = callf(coord_a, "POST", path,
	          "{\"status\": \"referred_on\", \"onward_organisation_id\": %lld, "
	          "\"shared_risk_summary\": \"a\\u0001b\"}",
	          org_b);
	expect(r, 400, "core.bad_text", "shared_risk_summary");
	res_free(&r);
	r = callf(coord_a, "POST", path,
	          "{\"status\": \"referred_on\", \"onward_organisation_id\": %lld, "
	          "\"shared_risk_summary\": 7}",
	          org_b);
	expect(r, 400, "core.wrong_type", "shared_risk_summary");
	res_free(&r);
	char *after = snapshot(id);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);

	r = callf(coord_a, "POST", path,
	          "{\"status\": \"referred_on\", \"onward_organisation_id\": %lld, "
	          "\"shared_risk_summary\": \"Low risk; agreed with the person.\"}",
	          org_b);
	expect(r, 200, NULL, "");
	/* The sender's record keeps its own summary. */
	ck_assert_str_eq(jstr(r.json, "risk_summary"), "Agreed summary");
	long long onward = jint(r.json, "onward_referral_id");
	res_free(&r);
	snprintf(path, sizeof path, "/api/v1/referrals/%lld", onward);
	r = call(coord_b, "GET", path, NULL);
	expect(r, 200, NULL, "");
	ck_assert_str_eq(jstr(r.json, "risk_summary"), "Low risk; agreed with the person.");
	res_free(&r);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = 'referral.create' "
	                      "AND object_id = %lld AND detail->>'risk_summary_shared' = 'true' "
	                      "AND detail::text NOT LIKE '%%Low risk%%'",
	                      onward),
	                 1);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.referral WHERE risk_summary LIKE "
	                      "'Agreed summary' AND org_id = %lld",
	                      org_b),
	                 0);
}
END_TEST

/* --- query strings ------------------------------------------------------ */

START_TEST(stray_query_parameters_are_refused)
{
	char today[11], path[128];
	day(0, today);
	long long person = new_person(org_a, "Query", NULL);
	long long id = new_referral(coord_a, org_a, person);
	long long consent = new_consent(coord_a, person, org_a, "photography", org_b, today);
	char *before = snapshot(id);
	long long consents = sqln("SELECT count(*) FROM core.consent WHERE withdrawn_on IS NULL");
	snprintf(path, sizeof path, "/api/v1/referrals/%lld?history=false", id);
	struct res r = call(coord_a, "GET", path, NULL);
	expect(r, 400, "core.bad_query", "history");
	res_free(&r);
	r = call(coord_a, "PATCH", path, "{\"eligibility\": \"eligible\"}");
	expect(r, 400, "core.bad_query", "history");
	res_free(&r);
	snprintf(path, sizeof path, "/api/v1/referrals/%lld/status?force=1", id);
	r = call(coord_a, "POST", path, "{\"status\": \"contacted\"}");
	expect(r, 400, "core.bad_query", "force");
	res_free(&r);
	r = callf(coord_a, "POST", "/api/v1/referrals?x=1",
	          "{\"organisation_id\": %lld, \"person_id\": %lld, \"source\": \"self\", "
	          "\"referred_on\": \"%s\"}",
	          org_a, person, today);
	expect(r, 400, "core.bad_query", "x");
	res_free(&r);
	r = call(coord_a, "GET", "/api/v1/referrals?state=received", NULL);
	expect(r, 400, "core.bad_query", "state");
	res_free(&r);
	r = call(coord_a, "GET", "/api/v1/referrals?status=received&status=declined", NULL);
	expect(r, 400, "core.bad_query", "status");
	res_free(&r);
	r = call(coord_a, "GET", "/api/v1/referrals?organisation_id=", NULL);
	expect(r, 400, "core.bad_query", "organisation_id");
	res_free(&r);
	snprintf(path, sizeof path, "/api/v1/people/%lld/consents?live=true", person);
	r = call(coord_a, "GET", path, NULL);
	expect(r, 400, "core.bad_query", "live");
	res_free(&r);
	r = callf(coord_a, "POST", path,
	          "{\"organisation_id\": %lld, \"purpose\": \"photography\", \"given_on\": \"%s\"}",
	          org_a, today);
	expect(r, 400, "core.bad_query", "live");
	res_free(&r);
	snprintf(path, sizeof path, "/api/v1/consents/%lld/withdraw?now=1", consent);
	r = callf(coord_a, "POST", path, "{\"withdrawn_on\": \"%s\"}", today);
	expect(r, 400, "core.bad_query", "now");
	res_free(&r);
	char *after = snapshot(id);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.consent WHERE withdrawn_on IS NULL"),
	                 consents);
	/* The parameters a route takes still work. */
	snprintf(path, sizeof path, "/api/v1/people/%lld/consents?limit=1", person);
	r = call(coord_a, "GET", path, NULL);
	expect(r, 200, NULL, "");
	res_free(&r);
	snprintf(path, sizeof path,
	         "/api/v1/referrals?status=received&source=probation&person_id=%lld&"
	         "organisation_id=%lld&limit=5",
	         person, org_a);
	r = call(coord_a, "GET", path, NULL);
	expect(r, 200, NULL, "");
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 1);
	res_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("referrals");
	TCase *tc = tcase_create("referrals");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, every_status_pair);
	tcase_add_test(tc, referred_on_needs_consent);
	tcase_add_test(tc, withdrawn_consent_no_longer_allows);
	tcase_add_test(tc, other_orgs_and_roles_are_refused);
	tcase_add_test(tc, bad_input_names_the_field_and_writes_nothing);
	tcase_add_test(tc, versions_updates_lists_and_chains);
	tcase_add_test(tc, erased_hold_closes_referrals_and_consents);
	tcase_add_test(tc, final_referrals_are_closed);
	tcase_add_test(tc, shared_risk_summary_is_what_goes_onward);
	tcase_add_test(tc, stray_query_parameters_are_refused);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
