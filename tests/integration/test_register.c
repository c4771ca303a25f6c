/*
 * Attendance registers, outcome codes and completion over HTTP against the
 * real server and database: a whole register in one request, corrections
 * that keep history (and stale versions refused), every refusal changing
 * nothing, on-hold and late-joining people never counted absent (in the
 * facts the hooks get and in the completion decided), the core's default
 * completion rule ("core-1") for a programme whose plugin has none, the
 * fixture plugin's attendance rule raising one alert after two unacceptable
 * absences in a row and its completion rule ("fixture-1") stored, who may
 * reach which register, and organisations' own outcome codes.
 *
 * Programmes, cohorts, sessions, enrolments, holds and staffing are made
 * directly in SQL (their routes belong to other files); seats come from
 * core.seat_sync_cohort, as the enrolment routes make them.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts.h"

#define TS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define HOOKS_PLUGIN    WAYMARK_TEST_PLUGIN_DIR "/waymark_fixture_hooks.so"

static struct ts_server srv;
static char *db;
static char *admin_a, *coord_a, *fac_a, *fac_other, *mentor_a, *comm_a, *coord_b, *admin_b;
static long long org_a, org_b, fac_id, mentor_id;

static void setup(void)
{
	db = ts_db_create("register");
	struct ts_server_opts o = {
	    .database_url = db,
	    .config_json = "{\"plugins\": {\"load\": [\"example\", \"" HOOKS_PLUGIN "\"]}}"};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	admin_a = ts_staff_token(db, "Org A", "admin-a@example.org", "admin", 0);
	coord_a = ts_staff_token(db, "Org A", "coord-a@example.org", "coordinator", 0);
	fac_a = ts_staff_token(db, "Org A", "fac-a@example.org", "facilitator", 0);
	fac_other = ts_staff_token(db, "Org A", "fac-other@example.org", "facilitator", 0);
	mentor_a = ts_staff_token(db, "Org A", "mentor-a@example.org", "mentor", 0);
	comm_a = ts_staff_token(db, "Org A", "comm-a@example.org", "commissioner", 0);
	coord_b = ts_staff_token(db, "Org B", "coord-b@example.org", "coordinator", 0);
	admin_b = ts_staff_token(db, "Org B", "admin-b@example.org", "admin", 0);
	org_a = ts_org_id(db, "Org A");
	org_b = ts_org_id(db, "Org B");
	fac_id = ts_staff_id(db, "fac-a@example.org");
	mentor_id = ts_staff_id(db, "mentor-a@example.org");
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
	free(admin_b);
}

/* --- helpers ------------------------------------------------------------ */

static char *sqlv(const char *fmt, ...) TS_PRINTF(1, 2);
static char *sqlv(const char *fmt, ...)
{
	char sql[4096];
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
	char sql[4096];
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
	static char body[65536];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof body, fmt, ap);
	va_end(ap);
	return call(token, method, path, body);
}

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

/* "/api/v1/<what>/<id><rest>", in one of a few rotating buffers. */
static char *path(const char *what, long long id, const char *rest)
{
	static char buf[16][160];
	static int k;
	k = (k + 1) % 16;
	snprintf(buf[k], sizeof buf[k], "/api/v1/%s/%lld%s", what, id, rest);
	return buf[k];
}

/* `tpl` with {a} and {b} replaced by the ids. */
static char *subst(const char *tpl, long long a, long long b)
{
	static char out[2048];
	size_t len = 0;
	for (const char *p = tpl; *p && len < sizeof out - 24;) {
		if (p[0] == '{' && (p[1] == 'a' || p[1] == 'b') && p[2] == '}') {
			len += (size_t)snprintf(out + len, sizeof out - len, "%lld",
			                        p[1] == 'a' ? a : b);
			p += 3;
		} else {
			out[len++] = *p++;
		}
	}
	out[len] = '\0';
	return out;
}

/* A person held by `org`. */
static long long person(long long org, const char *given)
{
	return sqln("WITH p AS (INSERT INTO core.person (given_name, family_name)"
	            " VALUES ('%s', 'Register') RETURNING id),"
	            " l AS (INSERT INTO core.person_org (person_id, org_id) SELECT id, %lld FROM p)"
	            " SELECT id FROM p",
	            given, org);
}

static long long programme(long long org, const char *type)
{
	return sqln("INSERT INTO core.programme (org_id, type, name) VALUES (%lld, '%s', "
	            "'Programme %s') RETURNING id",
	            org, type, type);
}

static long long cohort(long long prog)
{
	return sqln("INSERT INTO core.cohort (programme_id, name, starts_on, status)"
	            " VALUES (%lld, 'Cohort', current_date - 100, 'running') RETURNING id",
	            prog);
}

/* A session `days` from now (negative: in the past), two hours long, at
 * an hour of that day (UTC) that depends on the programme, so the staff
 * and people of different tests' programmes never clash. */
static long long session(long long prog, long long coh, int days)
{
	return sqln(
	    "INSERT INTO core.session (programme_id, org_id, cohort_id, title, starts_at,"
	    " ends_at, location_kind) SELECT pr.id, pr.org_id, %lld, 'Session',"
	    " date_trunc('day', now()) + make_interval(days => %d, hours => 3 * pr.id::int %% 22),"
	    " date_trunc('day', now()) + make_interval(days => %d, hours => 3 * pr.id::int %% 22 + "
	    "2),"
	    " 'community_venue' FROM core.programme pr WHERE pr.id = %lld RETURNING id",
	    coh, days, days, prog);
}

static void staff(long long sess, long long staff_id)
{
	free(sqlv("INSERT INTO core.session_staff (session_id, staff_id, role, during)"
	          " SELECT id, %lld, 'facilitator', during FROM core.session WHERE id = %lld",
	          staff_id, sess));
}

/* Enrols `p` in `coh` from the local date of session `from` (0: the
 * cohort's start). */
static long long enrol(long long coh, long long p, long long from)
{
	if (!from)
		return sqln(
		    "INSERT INTO core.enrolment (cohort_id, person_id, joined_on)"
		    " SELECT id, %lld, starts_on FROM core.cohort WHERE id = %lld RETURNING id",
		    p, coh);
	return sqln("INSERT INTO core.enrolment (cohort_id, person_id, joined_on)"
	            " SELECT %lld, %lld, (starts_at AT TIME ZONE 'Europe/London')::date"
	            " FROM core.session WHERE id = %lld RETURNING id",
	            coh, p, from);
}

static void sync_seats(long long coh)
{
	free(sqlv("SELECT core.seat_sync_cohort(%lld)", coh));
}

/* Everything a refusal must leave alone, as one string. */
static char *state_of(long long sess)
{
	return sqlv(
	    "SELECT (SELECT count(*) FROM core.attendance WHERE session_id = %lld) || '/' ||"
	    " (SELECT coalesce(sum(version), 0) FROM core.attendance WHERE session_id = %lld)"
	    " || '/' || (SELECT count(*) FROM core.attendance_history) || '/' ||"
	    " (SELECT count(*) FROM core.audit WHERE action LIKE 'attendance.%%') || '/' ||"
	    " (SELECT count(*) FROM core.completion) || '/' ||"
	    " (SELECT count(*) FROM core.alert)",
	    sess, sess);
}

/* The entry of `p` in a register reply. */
static json_t *entry_of(json_t *reg, long long p)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(reg, "entries"), i, e)
	{
		if (json_integer_value(json_object_get(e, "person_id")) == p)
			return e;
	}
	return NULL;
}

/* The completion of enrolment `e` in a PUT reply. */
static json_t *completion_of(json_t *reply, long long e)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(reply, "completions"), i, c)
	{
		if (json_integer_value(json_object_get(c, "enrolment_id")) == e)
			return c;
	}
	return NULL;
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

/* --- tests -------------------------------------------------------------- */

/* A cohort of the example programme (no hooks: the core's rule), two past
 * sessions and one to come; the facilitator staffs them all. */
struct world {
	long long prog, coh, s1, s2, future, p1, p2, p3, e1, e2, e3;
};

static void make_world(struct world *w)
{
	w->prog = programme(org_a, "example");
	w->coh = cohort(w->prog);
	w->s1 = session(w->prog, w->coh, -14);
	w->s2 = session(w->prog, w->coh, -7);
	w->future = session(w->prog, w->coh, 7);
	w->p1 = person(org_a, "Ann");
	w->p2 = person(org_a, "Bob");
	w->p3 = person(org_a, "Cat");
	w->e1 = enrol(w->coh, w->p1, 0);
	w->e2 = enrol(w->coh, w->p2, 0);
	w->e3 = enrol(w->coh, w->p3, w->s2); /* joins late: not expected at s1 */
	sync_seats(w->coh);
	staff(w->s1, fac_id);
	staff(w->s2, fac_id);
	staff(w->future, fac_id);
	staff(w->s1, mentor_id);
}

START_TEST(bulk_register_and_corrections_keep_history)
{
	struct world w;
	make_world(&w);
	char *reg = path("sessions", w.s1, "/register");

	/* The register lists the people expected, none recorded yet. */
	struct res r = call(coord_a, "GET", reg, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "entries")), 2);
	ck_assert_ptr_nonnull(entry_of(r.json, w.p1));
	ck_assert_ptr_null(entry_of(r.json, w.p3)); /* joined later */
	ck_assert(json_is_null(json_object_get(entry_of(r.json, w.p1), "attendance")));
	ck_assert_str_eq(str(json_object_get(entry_of(r.json, w.p1), "name"), "given_name"), "Ann");
	json_decref(r.json);

	/* One request records both. */
	r = callf(fac_a, "PUT", reg,
	          "{\"entries\": [{\"person_id\": %lld, \"outcome\": \"attended\"},"
	          " {\"person_id\": %lld, \"outcome\": \"absent_unacceptable\","
	          " \"note\": \"No answer at the door\"}]}",
	          w.p1, w.p2);
	ck_assert_msg(r.status == 200, "PUT: %d %s %s", r.status, r.code, r.message);
	json_t *a1 = json_object_get(entry_of(r.json, w.p1), "attendance");
	json_t *a2 = json_object_get(entry_of(r.json, w.p2), "attendance");
	ck_assert_str_eq(str(a1, "outcome"), "attended");
	ck_assert_int_eq(num(a1, "version"), 1);
	ck_assert_int_eq(num(a1, "recorded_by"), fac_id);
	ck_assert_str_eq(str(a2, "outcome"), "absent_unacceptable");
	ck_assert_str_eq(str(a2, "reason_class"), "unacceptable");
	ck_assert_str_eq(str(a2, "note"), "No answer at the door");
	/* A session remains: in progress, by the core's rule. */
	json_t *c1 = completion_of(r.json, w.e1);
	ck_assert_ptr_nonnull(c1);
	ck_assert_str_eq(str(c1, "result"), "in_progress");
	ck_assert_str_eq(str(c1, "rule_version"), "core-1");
	ck_assert_ptr_nonnull(completion_of(r.json, w.e2));
	ck_assert_ptr_null(completion_of(r.json, w.e3)); /* not in the request */
	json_decref(r.json);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = 'attendance.record'"
	                      " AND object_id = %lld AND actor_staff_id = %lld",
	                      w.s1, fac_id),
	                 2);
	/* The audit names fields, never the note. */
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE detail::text LIKE '%%door%%'"),
	                 0);

	/* A correction: the previous row goes to history, the version moves. */
	r = callf(coord_a, "PUT", reg,
	          "{\"entries\": [{\"person_id\": %lld, \"outcome\": \"late\","
	          " \"late_minutes\": 20, \"late_reason\": \"Bus late\", \"version\": 1}]}",
	          w.p1);
	ck_assert_int_eq(r.status, 200);
	a1 = json_object_get(entry_of(r.json, w.p1), "attendance");
	ck_assert_str_eq(str(a1, "outcome"), "late");
	ck_assert_int_eq(num(a1, "late_minutes"), 20);
	ck_assert_str_eq(str(a1, "late_reason"), "Bus late");
	ck_assert_int_eq(num(a1, "version"), 2);
	ck_assert_int_eq(num(a1, "recorded_by"), ts_staff_id(db, "coord-a@example.org"));
	json_decref(r.json);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.attendance_history h JOIN"
	                      " core.outcome_code oc ON oc.id = h.outcome_code_id"
	                      " WHERE h.session_id = %lld AND h.person_id = %lld AND"
	                      " oc.code = 'attended' AND h.version = 1 AND h.recorded_by = %lld",
	                      w.s1, w.p1, fac_id),
	                 1);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = 'attendance.correct'"
	                      " AND person_id = %lld",
	                      w.p1),
	                 1);

	/* A stale version is refused and changes nothing. */
	char *before = state_of(w.s1);
	expect(callf(coord_a, "PUT", reg,
	             "{\"entries\": [{\"person_id\": %lld, \"outcome\": \"attended\"},"
	             " {\"person_id\": %lld, \"outcome\": \"attended\", \"version\": 1}]}",
	             w.p2, w.p1),
	       409, "core.stale", "entries[1].version");
	char *after = state_of(w.s1);
	ck_assert_str_eq(before, after);
	free(after);

	/* Sending what is stored again changes nothing either. */
	expect(callf(coord_a, "PUT", reg,
	             "{\"entries\": [{\"person_id\": %lld, \"outcome\": \"late\","
	             " \"late_minutes\": 20, \"late_reason\": \"Bus late\"}]}",
	             w.p1),
	       200, NULL, NULL);
	after = state_of(w.s1);
	ck_assert_str_eq(before, after);
	free(after);
	free(before);

	/* History, for admins and coordinators. */
	char *hist = path("sessions", w.s1, "/register/history");
	r = call(coord_a, "GET", hist, NULL);
	ck_assert_int_eq(r.status, 200);
	json_t *items = json_object_get(r.json, "items");
	ck_assert_int_eq(json_array_size(items), 1);
	ck_assert_str_eq(str(json_array_get(items, 0), "outcome"), "attended");
	ck_assert_int_eq(num(json_array_get(items, 0), "person_id"), w.p1);
	json_decref(r.json);
	char q[200];
	snprintf(q, sizeof q, "%s?person_id=%lld", hist, w.p2);
	r = call(coord_a, "GET", q, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 0);
	json_decref(r.json);
	expect(call(fac_a, "GET", hist, NULL), 403, "core.forbidden", NULL);
}
END_TEST

START_TEST(refusals_change_nothing)
{
	struct world w;
	make_world(&w);
	char *reg = path("sessions", w.s1, "/register");
	char *before = state_of(w.s1), *after;
	struct {
		const char *body;
		int status;
		const char *code, *field;
	} cases[] = {
	    /* The valid first entry is not stored either: all or nothing. */
	    {"{\"entries\": [{\"person_id\": {a}, \"outcome\": \"attended\"},"
	     " {\"person_id\": {b}, \"outcome\": \"attended\"}]}",
	     422, "core.not_expected", "entries[1].person_id"},
	    {"{\"entries\": [{\"person_id\": {a}, \"outcome\": \"no_such_code\"}]}", 400,
	     "core.bad_enum", "entries[0].outcome"},
	    {"{\"entries\": [{\"person_id\": {a}, \"outcome\": \"Attended!\"}]}", 400,
	     "core.bad_enum", "entries[0].outcome"},
	    {"{\"entries\": [{\"person_id\": {a}, \"outcome\": \"late\", \"late_minutes\": 0}]}",
	     400, "core.out_of_range", "entries[0].late_minutes"},
	    {"{\"entries\": [{\"person_id\": {a}, \"outcome\": \"late\","
	     " \"late_minutes\": 1441}]}",
	     400, "core.out_of_range", "entries[0].late_minutes"},
	    {"{\"entries\": [{\"person_id\": {a}, \"outcome\": \"late\","
	     " \"late_reason\": \"Traffic\"}]}",
	     422, "core.late_reason_without_minutes", "entries[0].late_reason"},
	    {"{\"entries\": [{\"person_id\": {a}, \"outcome\": \"absent_acceptable\","
	     " \"late_minutes\": 5}]}",
	     422, "core.late_not_attended", "entries[0].late_minutes"},
	    {"{\"entries\": [{\"person_id\": {a}, \"outcome\": \"attended\"},"
	     " {\"person_id\": {a}, \"outcome\": \"refused\"}]}",
	     422, "core.duplicate", NULL},
	    {"{\"entries\": [{\"person_id\": {a}, \"outcome\": \"attended\", \"bogus\": 1}]}", 400,
	     "core.unknown_field", "entries[0].bogus"},
	    {"{\"entries\": [{\"outcome\": \"attended\"}]}", 400, "core.missing_field",
	     "entries[0].person_id"},
	    {"{\"entries\": [{\"person_id\": {a}, \"outcome\": \"attended\","
	     " \"note\": \"\"}]}",
	     400, "core.empty", "entries[0].note"},
	    {"{\"entries\": [{\"person_id\": {a}, \"outcome\": \"attended\","
	     " \"version\": 1}]}",
	     409, "core.stale", "entries[0].version"},
	    {"{\"entries\": []}", 400, "core.out_of_range", "entries"},
	    {"{\"entries\": {}}", 400, "core.wrong_type", "entries"},
	    {"{}", 400, "core.missing_field", "entries"},
	    {"{\"entries\": [{\"person_id\": {a}, \"outcome\": \"attended\"}], \"x\": 1}", 400,
	     "core.unknown_field", "x"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct res r = call(coord_a, "PUT", reg, subst(cases[i].body, w.p1, w.p3));
		ck_assert_msg(r.status == cases[i].status && !strcmp(r.code, cases[i].code) &&
		                  (!cases[i].field || !strcmp(r.field, cases[i].field)),
		              "case %zu: got %d %s %s (%s)", i, r.status, r.code, r.field,
		              r.message);
		json_decref(r.json);
		after = state_of(w.s1);
		ck_assert_msg(!strcmp(before, after), "case %zu changed %s -> %s", i, before,
		              after);
		free(after);
	}

	/* More than 200 entries. */
	static char big[20000];
	size_t len = (size_t)snprintf(big, sizeof big, "{\"entries\": [");
	for (int i = 0; i < 201; i++)
		len += (size_t)snprintf(big + len, sizeof big - len,
		                        "%s{\"person_id\": %d, \"outcome\": \"attended\"}",
		                        i ? "," : "", i + 1);
	snprintf(big + len, sizeof big - len, "]}");
	expect(call(coord_a, "PUT", reg, big), 400, "core.out_of_range", "entries");

	/* A session that has not started, and one that was cancelled. */
	free(before);
	before = state_of(w.future);
	expect(callf(coord_a, "PUT", path("sessions", w.future, "/register"),
	             "{\"entries\": [{\"person_id\": %lld, \"outcome\": \"attended\"}]}", w.p1),
	       422, "core.not_started", NULL);
	after = state_of(w.future);
	ck_assert_str_eq(before, after);
	free(after);
	free(before);
	free(sqlv("UPDATE core.session SET status = 'cancelled', cancel_reason = 'Snow'"
	          " WHERE id = %lld",
	          w.s2));
	expect(callf(coord_a, "PUT", path("sessions", w.s2, "/register"),
	             "{\"entries\": [{\"person_id\": %lld, \"outcome\": \"attended\"}]}", w.p1),
	       409, "core.session_cancelled", NULL);

	/* Stray query parameters. */
	char q[200];
	snprintf(q, sizeof q, "%s?dry_run=1", reg);
	expect(callf(coord_a, "PUT", q,
	             "{\"entries\": [{\"person_id\": %lld, \"outcome\": "
	             "\"attended\"}]}",
	             w.p1),
	       400, "core.bad_query", "dry_run");
	expect(call(coord_a, "GET", q, NULL), 400, "core.bad_query", "dry_run");
	snprintf(q, sizeof q, "/api/v1/enrolments/%lld/completion?x=1", w.e1);
	expect(call(coord_a, "GET", q, NULL), 400, "core.bad_query", "x");
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.attendance WHERE session_id IN"
	                      " (%lld, %lld, %lld)",
	                      w.s1, w.s2, w.future),
	                 0);
}
END_TEST

START_TEST(scope_of_registers)
{
	struct world w;
	make_world(&w);
	char *reg = path("sessions", w.s1, "/register");
	char *reg2 = path("sessions", w.s2, "/register");
	char body[200];
	snprintf(body, sizeof body,
	         "{\"entries\": [{\"person_id\": %lld, \"outcome\": "
	         "\"attended\"}]}",
	         w.p1);
	char *before = state_of(w.s1), *after;

	/* Another organisation, a facilitator not staffing it, a mentor
	 * writing, a commissioner: refused, nothing changed. */
	expect(call(coord_b, "GET", reg, NULL), 404, "core.not_found", NULL);
	expect(call(coord_b, "PUT", reg, body), 404, "core.not_found", NULL);
	expect(call(admin_b, "GET", path("sessions", w.s1, "/register/history"), NULL), 404,
	       "core.not_found", NULL);
	expect(call(fac_other, "GET", reg, NULL), 404, "core.not_found", NULL);
	expect(call(fac_other, "PUT", reg, body), 404, "core.not_found", NULL);
	expect(call(mentor_a, "PUT", reg, body), 403, "core.forbidden", NULL);
	expect(call(comm_a, "GET", reg, NULL), 403, "core.forbidden", NULL);
	expect(call(comm_a, "PUT", reg, body), 403, "core.forbidden", NULL);
	expect(call(coord_a, "GET", "/api/v1/sessions/99999999/register", NULL), 404,
	       "core.not_found", NULL);
	after = state_of(w.s1);
	ck_assert_str_eq(before, after);
	free(after);
	free(before);

	/* The mentor staffs s1 only: reads it, not s2. */
	expect(call(mentor_a, "GET", reg, NULL), 200, NULL, NULL);
	expect(call(mentor_a, "GET", reg2, NULL), 404, "core.not_found", NULL);
	/* Staff taken off the session lose it. */
	expect(call(fac_a, "PUT", reg, body), 200, NULL, NULL);
	free(sqlv("UPDATE core.session_staff SET active = false WHERE session_id = %lld"
	          " AND staff_id = %lld",
	          w.s1, fac_id));
	expect(call(fac_a, "GET", reg, NULL), 404, "core.not_found", NULL);

	/* Completion: managers, and staff running the programme who see the
	 * person; not another organisation, not a commissioner. */
	char *comp = path("enrolments", w.e1, "/completion");
	expect(call(coord_a, "GET", comp, NULL), 200, NULL, NULL);
	expect(call(fac_a, "GET", comp, NULL), 200, NULL, NULL); /* still staffs s2 */
	expect(call(coord_b, "GET", comp, NULL), 404, "core.not_found", NULL);
	expect(call(fac_other, "GET", comp, NULL), 404, "core.not_found", NULL);
	expect(call(comm_a, "GET", comp, NULL), 403, "core.forbidden", NULL);
}
END_TEST

/* A cohort with four past sessions: Ann throughout, Bob joining at the
 * third, Cat on hold over the second. Everyone seated attends everything:
 * nobody is absent, all three complete. */
START_TEST(holds_and_late_joins_are_never_absences)
{
	long long prog = programme(org_a, "example"), coh = cohort(prog), s[4];
	for (int i = 0; i < 4; i++) {
		s[i] = session(prog, coh, -28 + 7 * i);
		staff(s[i], fac_id);
	}
	long long ann = person(org_a, "Ann"), bob = person(org_a, "Bob"),
	          cat = person(org_a, "Cat");
	long long e_ann = enrol(coh, ann, 0), e_bob = enrol(coh, bob, s[2]),
	          e_cat = enrol(coh, cat, 0);
	free(sqlv("INSERT INTO core.enrolment_hold (enrolment_id, starts_at, ends_at, reason)"
	          " SELECT %lld, starts_at - interval '1 hour', starts_at + interval '1 day',"
	          " 'prison_transfer' FROM core.session WHERE id = %lld",
	          e_cat, s[1]));
	sync_seats(coh);

	/* The facts the hooks get say so. */
	ck_assert_int_eq(sqln("SELECT count(*) FROM jsonb_array_elements("
	                      "core.enrolment_facts(%lld)->'sessions') x"
	                      " WHERE NOT (x->>'expected')::boolean",
	                      e_bob),
	                 2);
	ck_assert_int_eq(sqln("SELECT count(*) FROM jsonb_array_elements("
	                      "core.enrolment_facts(%lld)->'sessions') x"
	                      " WHERE NOT (x->>'expected')::boolean AND (x->>'id')::bigint = %lld",
	                      e_cat, s[1]),
	                 1);

	/* Nobody can be marked at a session they were not expected at. */
	expect(callf(fac_a, "PUT", path("sessions", s[1], "/register"),
	             "{\"entries\": [{\"person_id\": %lld, \"outcome\": \"absent_unacceptable\"}]}",
	             cat),
	       422, "core.not_expected", "entries[0].person_id");
	expect(callf(fac_a, "PUT", path("sessions", s[0], "/register"),
	             "{\"entries\": [{\"person_id\": %lld, \"outcome\": \"absent_unacceptable\"}]}",
	             bob),
	       422, "core.not_expected", "entries[0].person_id");

	struct res r = {0};
	for (int i = 0; i < 4; i++) {
		char body[600];
		size_t len = (size_t)snprintf(body, sizeof body, "{\"entries\": [");
		long long who[3] = {ann, bob, cat};
		int n = 0;
		for (int k = 0; k < 3; k++) {
			if (!sqln("SELECT count(*) FROM core.seat WHERE session_id = %lld AND"
			          " person_id = %lld AND active",
			          s[i], who[k]))
				continue;
			len +=
			    (size_t)snprintf(body + len, sizeof body - len,
			                     "%s{\"person_id\": %lld, \"outcome\": \"attended\"}",
			                     n++ ? "," : "", who[k]);
		}
		snprintf(body + len, sizeof body - len, "]}");
		json_decref(r.json);
		r = call(fac_a, "PUT", path("sessions", s[i], "/register"), body);
		ck_assert_msg(r.status == 200, "session %d: %d %s", i, r.status, r.message);
	}
	/* After the last register: everyone completed. */
	ck_assert_str_eq(str(completion_of(r.json, e_ann), "result"), "completed");
	ck_assert_str_eq(str(completion_of(r.json, e_bob), "result"), "completed");
	ck_assert_str_eq(str(completion_of(r.json, e_cat), "result"), "completed");
	json_decref(r.json);

	r = call(coord_a, "GET", path("enrolments", e_bob, "/completion"), NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(str(r.json, "result"), "completed");
	ck_assert_str_eq(str(r.json, "rule_version"), "core-1");
	json_t *att = json_object_get(r.json, "attendance");
	ck_assert_int_eq(num(att, "sessions"), 4);
	ck_assert_int_eq(num(att, "expected"), 2);
	ck_assert_int_eq(num(att, "not_expected"), 2);
	ck_assert_int_eq(num(att, "absent"), 0);
	ck_assert_int_eq(num(att, "attended"), 2);
	json_decref(r.json);
	r = call(coord_a, "GET", path("enrolments", e_cat, "/completion"), NULL);
	att = json_object_get(r.json, "attendance");
	ck_assert_int_eq(num(att, "expected"), 3);
	ck_assert_int_eq(num(att, "not_expected"), 1);
	ck_assert_int_eq(num(att, "absent"), 0);
	ck_assert_str_eq(str(r.json, "result"), "completed");
	json_decref(r.json);

	/* A correction to an absence changes the decision; the previous one
	 * stays in history; correcting back restores it. */
	char *reg = path("sessions", s[3], "/register");
	expect(callf(coord_a, "PUT", reg,
	             "{\"entries\": [{\"person_id\": %lld, \"outcome\": \"refused\"}]}", ann),
	       200, NULL, NULL);
	r = call(coord_a, "GET", path("enrolments", e_ann, "/completion"), NULL);
	ck_assert_str_eq(str(r.json, "result"), "not_completed");
	ck_assert_int_eq(num(json_object_get(r.json, "attendance"), "absent"), 1);
	json_t *hist = json_object_get(r.json, "history");
	ck_assert_int_eq(json_array_size(hist), 2); /* in_progress, then completed */
	ck_assert_str_eq(str(json_array_get(hist, 0), "result"), "in_progress");
	ck_assert_str_eq(str(json_array_get(hist, 1), "result"), "completed");
	json_decref(r.json);
	expect(callf(coord_a, "PUT", reg,
	             "{\"entries\": [{\"person_id\": %lld, \"outcome\": \"attended\"}]}", ann),
	       200, NULL, NULL);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.completion_history WHERE"
	                      " enrolment_id = %lld",
	                      e_ann),
	                 3);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.completion WHERE enrolment_id = %lld AND"
	                      " result = 'completed'",
	                      e_ann),
	                 1);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = 'completion.decide'"
	                      " AND object_id = %lld",
	                      e_ann),
	                 4);
	/* The example programme has no attendance rules: no alerts. */
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.alert WHERE cohort_id = %lld", coh), 0);

	/* Leaving changes the facts too: the completion is decided again and
	 * comes back with the reply (the core's rule: withdrawn). */
	char *today = sqlv("SELECT current_date::text");
	r = callf(coord_a, "POST", path("enrolments", e_ann, "/leave"),
	          "{\"left_on\": \"%s\", \"reason\": \"moved_away\"}", today);
	ck_assert_msg(r.status == 200, "leave: %d %s", r.status, r.message);
	ck_assert_str_eq(str(json_object_get(r.json, "completion"), "result"), "withdrawn");
	json_decref(r.json);
	r = call(coord_a, "GET", path("enrolments", e_ann, "/completion"), NULL);
	ck_assert_str_eq(str(r.json, "result"), "withdrawn");
	ck_assert_str_eq(str(r.json, "rule_version"), "core-1");
	json_decref(r.json);
	free(today);
}
END_TEST

/* The fixture plugin's rules: an alert after two unacceptable absences in
 * a row (once per kind, enrolment and session), its own completion rule. */
START_TEST(plugin_rules_raise_alerts_and_decide)
{
	long long prog = programme(org_a, "fixture_hooks"), coh = cohort(prog), s[3];
	for (int i = 0; i < 3; i++) {
		s[i] = session(prog, coh, -21 + 7 * i);
		staff(s[i], fac_id);
	}
	long long dan = person(org_a, "Dan"), eve = person(org_a, "Eve");
	long long e_dan = enrol(coh, dan, 0), e_eve = enrol(coh, eve, 0);
	sync_seats(coh);
	char body[300];
	snprintf(body, sizeof body,
	         "{\"entries\": [{\"person_id\": %lld, \"outcome\": \"absent_unacceptable\"},"
	         " {\"person_id\": %lld, \"outcome\": \"attended\"}]}",
	         dan, eve);
	struct res r = call(fac_a, "PUT", path("sessions", s[0], "/register"), body);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(str(completion_of(r.json, e_dan), "rule_version"), "fixture-1");
	ck_assert_str_eq(str(completion_of(r.json, e_dan), "result"), "in_progress");
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "alerts")), 0);
	json_decref(r.json);

	/* The second in a row: one alert, for Dan only. */
	r = call(fac_a, "PUT", path("sessions", s[1], "/register"), body);
	ck_assert_int_eq(r.status, 200);
	json_t *alerts = json_object_get(r.json, "alerts");
	ck_assert_int_eq(json_array_size(alerts), 1);
	ck_assert_str_eq(str(json_array_get(alerts, 0), "kind"), "fixture_hooks.absences");
	ck_assert_int_eq(num(json_array_get(alerts, 0), "enrolment_id"), e_dan);
	json_decref(r.json);
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM core.alert WHERE kind = 'fixture_hooks.absences'"
	         " AND enrolment_id = %lld AND session_id = %lld AND person_id = %lld"
	         " AND org_id = %lld AND cohort_id = %lld AND resolved_at IS NULL"
	         " AND detail->>'severity' = 'warning'",
	         e_dan, s[1], dan, org_a, coh),
	    1);

	/* Taking the same register again (a correction of a note) does not
	 * raise it twice. */
	snprintf(body, sizeof body,
	         "{\"entries\": [{\"person_id\": %lld, \"outcome\": \"absent_unacceptable\","
	         " \"note\": \"Phoned twice\"}]}",
	         dan);
	r = call(fac_a, "PUT", path("sessions", s[1], "/register"), body);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "alerts")), 0);
	json_decref(r.json);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.alert WHERE cohort_id = %lld", coh), 1);

	/* The last session: Dan missed two, not completed; Eve completed —
	 * by the plugin's rule, stored with its version. */
	snprintf(body, sizeof body,
	         "{\"entries\": [{\"person_id\": %lld, \"outcome\": \"attended\"},"
	         " {\"person_id\": %lld, \"outcome\": \"attended\"}]}",
	         dan, eve);
	r = call(fac_a, "PUT", path("sessions", s[2], "/register"), body);
	ck_assert_int_eq(r.status, 200);
	json_decref(r.json);
	r = call(coord_a, "GET", path("enrolments", e_dan, "/completion"), NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(str(r.json, "result"), "not_completed");
	ck_assert_str_eq(str(r.json, "rule_version"), "fixture-1");
	ck_assert_str_eq(str(r.json, "reason"), "3 expected, 0 awaiting attendance, 2 missed.");
	ck_assert_str_eq(str(json_object_get(r.json, "detail"), "decided_by"), "fixture_hooks");
	json_decref(r.json);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.completion WHERE enrolment_id = %lld AND"
	                      " result = 'completed' AND rule_version = 'fixture-1'",
	                      e_eve),
	                 1);
	/* No new alert: the last two with attendance are not both absences. */
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.alert WHERE cohort_id = %lld", coh), 1);
}
END_TEST

START_TEST(outcome_codes)
{
	struct world w;
	make_world(&w);
	/* Built-in codes for everyone who takes registers. */
	struct res r = call(fac_a, "GET", "/api/v1/outcome-codes", NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 8);
	json_decref(r.json);
	expect(call(comm_a, "GET", "/api/v1/outcome-codes", NULL), 403, "core.forbidden", NULL);

	/* An admin adds their organisation's own. */
	r = callf(admin_a, "POST", "/api/v1/outcome-codes",
	          "{\"organisation_id\": %lld, \"code\": \"phone_contact\", \"label\": \"Phone "
	          "contact instead\", \"attended\": true, \"compliant\": true}",
	          org_a);
	ck_assert_int_eq(r.status, 201);
	long long own = num(r.json, "id");
	ck_assert(json_is_false(json_object_get(r.json, "built_in")));
	json_decref(r.json);
	r = callf(admin_b, "POST", "/api/v1/outcome-codes",
	          "{\"organisation_id\": %lld, \"code\": \"b_only\", \"label\": \"B only\","
	          " \"attended\": false, \"compliant\": true, \"reason_class\": \"acceptable\"}",
	          org_b);
	ck_assert_int_eq(r.status, 201);
	long long b_code = num(r.json, "id");
	json_decref(r.json);

	/* Refusals. */
	long long codes = sqln("SELECT count(*) FROM core.outcome_code");
	expect(callf(coord_a, "POST", "/api/v1/outcome-codes",
	             "{\"organisation_id\": %lld, \"code\": \"x\", \"label\": \"X\","
	             " \"attended\": true, \"compliant\": true}",
	             org_a),
	       403, "core.forbidden", NULL);
	expect(callf(admin_a, "POST", "/api/v1/outcome-codes",
	             "{\"organisation_id\": %lld, \"code\": \"x\", \"label\": \"X\","
	             " \"attended\": true, \"compliant\": true}",
	             org_b),
	       404, "core.not_found", NULL);
	expect(callf(admin_a, "POST", "/api/v1/outcome-codes",
	             "{\"organisation_id\": %lld, \"code\": \"attended\", \"label\": \"X\","
	             " \"attended\": true, \"compliant\": true}",
	             org_a),
	       409, "core.conflict", "code");
	expect(callf(admin_a, "POST", "/api/v1/outcome-codes",
	             "{\"organisation_id\": %lld, \"code\": \"phone_contact\", \"label\": \"X\","
	             " \"attended\": true, \"compliant\": true}",
	             org_a),
	       409, "core.conflict", "code");
	expect(callf(admin_a, "POST", "/api/v1/outcome-codes",
	             "{\"organisation_id\": %lld, \"code\": \"gone\", \"label\": \"X\","
	             " \"attended\": false, \"compliant\": false}",
	             org_a),
	       422, "core.reason_class_required", "reason_class");
	expect(callf(admin_a, "POST", "/api/v1/outcome-codes",
	             "{\"organisation_id\": %lld, \"code\": \"Bad Code\", \"label\": \"X\","
	             " \"attended\": true, \"compliant\": true}",
	             org_a),
	       400, "core.bad_code", "code");
	expect(callf(admin_a, "POST", "/api/v1/outcome-codes",
	             "{\"organisation_id\": %lld, \"code\": \"z\", \"label\": \"X\","
	             " \"attended\": true, \"compliant\": true, \"reason_class\": \"whim\"}",
	             org_a),
	       400, "core.bad_enum", "reason_class");
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.outcome_code"), codes);

	/* Each organisation lists its own, never the other's. */
	r = call(mentor_a, "GET", "/api/v1/outcome-codes", NULL);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 9);
	char *text = json_dumps(r.json, 0);
	ck_assert_ptr_null(strstr(text, "b_only"));
	free(text);
	json_decref(r.json);
	r = call(coord_b, "GET", "/api/v1/outcome-codes?limit=5", NULL);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 5);
	ck_assert(json_is_string(json_object_get(r.json, "next_cursor")));
	json_decref(r.json);

	/* The own code works in a register; the other organisation's does not. */
	char *reg = path("sessions", w.s1, "/register");
	r = callf(fac_a, "PUT", reg,
	          "{\"entries\": [{\"person_id\": %lld, \"outcome\": \"phone_contact\"}]}", w.p1);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(str(json_object_get(entry_of(r.json, w.p1), "attendance"), "label"),
	                 "Phone contact instead");
	json_decref(r.json);
	expect(callf(fac_a, "PUT", reg,
	             "{\"entries\": [{\"person_id\": %lld, \"outcome\": \"b_only\"}]}", w.p2),
	       400, "core.bad_enum", "entries[0].outcome");

	/* Archiving: built-ins never, the other organisation's not found, own
	 * ones once; an archived code takes no new entries. */
	long long builtin = sqln("SELECT id FROM core.outcome_code WHERE code = 'attended'");
	expect(call(admin_a, "DELETE", path("outcome-codes", builtin, ""), NULL), 409,
	       "core.built_in", NULL);
	expect(call(admin_a, "DELETE", path("outcome-codes", b_code, ""), NULL), 404,
	       "core.not_found", NULL);
	expect(call(coord_a, "DELETE", path("outcome-codes", own, ""), NULL), 403, "core.forbidden",
	       NULL);
	expect(call(admin_a, "DELETE", path("outcome-codes", own, ""), NULL), 204, NULL, NULL);
	expect(call(admin_a, "DELETE", path("outcome-codes", own, ""), NULL), 404, "core.not_found",
	       NULL);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action LIKE 'outcome_code.%%'"
	                      " AND object_id = %lld",
	                      own),
	                 2);
	expect(callf(fac_a, "PUT", reg,
	             "{\"entries\": [{\"person_id\": %lld, \"outcome\": \"phone_contact\"}]}",
	             w.p2),
	       400, "core.bad_enum", "entries[0].outcome");
	/* What was recorded with it stays. */
	r = call(coord_a, "GET", reg, NULL);
	ck_assert_str_eq(str(json_object_get(entry_of(r.json, w.p1), "attendance"), "outcome"),
	                 "phone_contact");
	json_decref(r.json);
	expect(call(coord_a, "GET", "/api/v1/outcome-codes?cursor=abc", NULL), 400,
	       "core.bad_query", "cursor");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("register");
	TCase *tc = tcase_create("register");
	/* One server for every test: each makes its own programme, cohort and
	 * people, and counts only what it made. */
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, bulk_register_and_corrections_keep_history);
	tcase_add_test(tc, refusals_change_nothing);
	tcase_add_test(tc, scope_of_registers);
	tcase_add_test(tc, holds_and_late_joins_are_never_absences);
	tcase_add_test(tc, plugin_rules_raise_alerts_and_decide);
	tcase_add_test(tc, outcome_codes);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
