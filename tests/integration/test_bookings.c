/*
 * Bookings end to end, over HTTP against the real server and database:
 * the race for the last places (200 clients at once, real sockets), the
 * Idempotency-Key (replayed byte for byte, also under concurrency), the
 * waitlist (offer, expiry with the test clock, next offer, accept,
 * decline), the cancellation cut-off, every illegal transition refused with
 * nothing changed, non-associations (refused without naming anyone, alert
 * kept), seat clashes, and who may see and do what.
 *
 * Programmes, sessions and people are written in SQL: their routes belong
 * to other files and this test depends only on the booking routes.
 */
#include <check.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ts.h"

static struct ts_server srv;
static char *db;
static long long org;

static void setup(void)
{
	char config[512];
	db = ts_db_create("bookings");
	snprintf(config, sizeof config,
	         "{\"plugins\":{\"load\":[\"example\",\"%s/waymark_fixture_hooks.so\"]}}",
	         WAYMARK_TEST_PLUGIN_DIR);
	struct ts_server_opts o = {.database_url = db, .config_json = config};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	ts_server_grant(&srv, db);
	org = ts_org_id(db, "Test organisation");
}

static void teardown(void)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
}

/* --- SQL ----------------------------------------------------------------- */

static char *sqlv(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sqlv(const char *fmt, ...)
{
	char q[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(q, sizeof q, fmt, ap);
	va_end(ap);
	ck_assert(n > 0 && (size_t)n < sizeof q);
	return ts_db_value(db, q);
}

/* The value of a query as a number (0 for NULL). */
static long long sqln(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long sqln(const char *fmt, ...)
{
	char q[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q, sizeof q, fmt, ap);
	va_end(ap);
	char *v = ts_db_value(db, q);
	long long x = v ? atoll(v) : 0;
	free(v);
	return x;
}

static void sql_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sql_ok(const char *fmt, ...)
{
	char q[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q, sizeof q, fmt, ap);
	va_end(ap);
	free(ts_db_value(db, q));
}

static long long programme_of(const char *type, long long o, const char *settings)
{
	return sqln("INSERT INTO core.programme (org_id, type, name, settings)"
	            " VALUES (%lld, '%s', 'Drop-in', '%s') RETURNING id",
	            o, type, settings ? settings : "{}");
}

static long long programme(long long o, const char *settings)
{
	return programme_of("example", o, settings);
}

/* A session of programme `p` starting `hours` from now (the real clock),
 * two hours long. capacity 0 means none. */
static long long session(long long p, double hours, int capacity, const char *mode)
{
	char cap[16] = "NULL";
	if (capacity)
		snprintf(cap, sizeof cap, "%d", capacity);
	return sqln("INSERT INTO core.session (programme_id, org_id, title, starts_at, ends_at,"
	            " location_kind, capacity, booking_mode)"
	            " SELECT %lld, org_id, 'Open morning', now() + make_interval(secs => %f),"
	            " now() + make_interval(secs => %f), 'community_venue', %s, '%s'"
	            " FROM core.programme WHERE id = %lld RETURNING id",
	            p, hours * 3600, hours * 3600 + 7200, cap, mode, p);
}

static long long person_in(long long o, const char *given)
{
	return sqln("WITH p AS (INSERT INTO core.person (given_name, family_name)"
	            " VALUES ('%s', 'Booker') RETURNING id),"
	            " l AS (INSERT INTO core.person_org (person_id, org_id) SELECT id, %lld FROM p)"
	            " SELECT id FROM p",
	            given, o);
}

/* Puts staff member `email` on the staff of programme `p` (role `role`). */
static void programme_staff(long long p, const char *email, const char *role)
{
	sql_ok("INSERT INTO core.programme_staff (programme_id, staff_id, role)"
	       " VALUES (%lld, %lld, '%s')",
	       p, ts_staff_id(db, email), role);
}

static void keep_apart(long long a, long long b)
{
	sql_ok("INSERT INTO core.non_association (org_id, person_a, person_b)"
	       " VALUES (%lld, %lld, %lld)",
	       org, a < b ? a : b, a < b ? b : a);
}

static char *auth_of(const char *token)
{
	char *h = malloc(256);
	snprintf(h, 256, "Authorization: Bearer %s\r\n", token);
	return h;
}

/* --- HTTP ---------------------------------------------------------------- */

/* One request; `auth` a header line or NULL for the default token. */
static struct ts_response call(const char *method, const char *path, const char *auth,
                               const char *extra, const char *body)
{
	char headers[1024];
	snprintf(headers, sizeof headers, "%s%s%s", auth ? auth : "",
	         body ? "Content-Type: application/json\r\n" : "", extra ? extra : "");
	struct ts_response r;
	ck_assert_int_eq(ts_http(&srv, method, path, headers[0] ? headers : NULL, body,
	                         body ? strlen(body) : 0, 20000, &r),
	                 0);
	return r;
}

/* Expects `status` (and `code` when an error); returns the body as JSON. */
static json_t *expect(const char *method, const char *path, const char *auth, const char *body,
                      int status, const char *code)
{
	struct ts_response r = call(method, path, auth, NULL, body);
	ck_assert_msg(r.status == status, "%s %s %s: %d, expected %d: %s", method, path,
	              body ? body : "", r.status, status, r.body);
	if (code) {
		char *got = ts_error_code(&r);
		ck_assert_msg(got && !strcmp(got, code), "%s %s: code %s, expected %s", method,
		              path, got ? got : "(none)", code);
		free(got);
	}
	json_t *doc = r.body_len ? ts_json(&r) : NULL;
	ts_response_free(&r);
	return doc;
}

static long long book(long long sess, long long person, const char *auth, int status,
                      const char *want_status)
{
	char path[64], body[64];
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings", sess);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", person);
	json_t *b = expect("POST", path, auth, body, status, NULL);
	long long id = 0;
	if (want_status) {
		ck_assert_str_eq(json_string_value(json_object_get(b, "status")), want_status);
		id = json_integer_value(json_object_get(b, "id"));
	}
	json_decref(b);
	return id;
}

static json_t *act(long long booking, const char *what, const char *auth, const char *body,
                   int status, const char *code)
{
	char path[64];
	snprintf(path, sizeof path, "/api/v1/bookings/%lld/%s", booking, what);
	return expect("POST", path, auth, body, status, code);
}

static char *status_of(long long booking)
{
	return sqlv("SELECT status || ' v' || version FROM core.booking WHERE id = %lld", booking);
}

static void assert_status(long long booking, const char *want)
{
	char *s = sqlv("SELECT status FROM core.booking WHERE id = %lld", booking);
	ck_assert_msg(s && !strcmp(s, want), "booking %lld is %s, expected %s", booking,
	              s ? s : "(none)", want);
	free(s);
}

/* --- the race ------------------------------------------------------------ */

/* `n` children, each its own connection, released together by closing a
 * pipe; child i POSTs bodies[i] with extra headers `extra`. Exit code:
 * 0 for 201 booked, 1 for 201 waitlisted, 2 anything else. Fills out[]. */
static void race(const char *path, int n, char **bodies, const char *extra, int *out,
                 char **replies)
{
	int go[2], res[2];
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(res), 0);
	pid_t *pids = calloc((size_t)n, sizeof *pids);
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			close(go[1]);
			close(res[0]);
			char c;
			if (read(go[0], &c, 1) < 0)
				_exit(3);
			char headers[512];
			snprintf(headers, sizeof headers, "Content-Type: application/json\r\n%s",
			         extra ? extra : "");
			struct ts_response r;
			int rc = 2;
			if (ts_http(&srv, "POST", path, headers, bodies[i], strlen(bodies[i]),
			            60000, &r) == 0) {
				if (r.status == 201 && strstr(r.body, "\"status\":\"booked\""))
					rc = 0;
				else if (r.status == 201 &&
				         strstr(r.body, "\"status\":\"waitlisted\""))
					rc = 1;
				if (replies) {
					/* index, length, body: one write, < PIPE_BUF */
					char line[512];
					int len =
					    snprintf(line, sizeof line, "%d %.400s\n", i, r.body);
					if (write(res[1], line, (size_t)len) < 0)
						rc = 2;
				}
			}
			_exit(rc);
		}
	}
	close(go[0]);
	close(res[1]);
	usleep(200000); /* every child is waiting on the pipe */
	close(go[1]);   /* go */
	for (int i = 0; i < n; i++) {
		int st;
		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
		out[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 9;
	}
	if (replies) {
		FILE *f = fdopen(res[0], "r");
		char line[512];
		while (fgets(line, sizeof line, f)) {
			int i = atoi(line);
			if (i >= 0 && i < n)
				replies[i] = strdup(strchr(line, ' ') + 1);
		}
		fclose(f);
	} else {
		close(res[0]);
	}
	free(pids);
}

START_TEST(race_for_the_last_ten_places)
{
	long long p = programme(org, NULL);
	long long s = session(p, 240, 15, "booked");
	for (int i = 0; i < 5; i++)
		book(s, person_in(org, "Early"), NULL, 201, "booked");
	/* 200 people, ids in order. */
	long long first = sqln("WITH p AS (INSERT INTO core.person (given_name, family_name)"
	                       " SELECT 'Racer', 'N' || g FROM generate_series(1, 200) g"
	                       " RETURNING id),"
	                       " l AS (INSERT INTO core.person_org (person_id, org_id)"
	                       " SELECT id, %lld FROM p) SELECT min(id) FROM p",
	                       org);
	char *bodies[200];
	for (int i = 0; i < 200; i++) {
		bodies[i] = malloc(64);
		snprintf(bodies[i], 64, "{\"person_id\":%lld}", first + i);
	}
	char path[64], auth[256];
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings", s);
	snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", srv.token);
	int out[200], booked = 0, waiting = 0, other = 0;
	double t0 = ts_now();
	race(path, 200, bodies, auth, out, NULL);
	for (int i = 0; i < 200; i++) {
		booked += out[i] == 0;
		waiting += out[i] == 1;
		other += out[i] > 1;
		free(bodies[i]);
	}
	fprintf(stderr, "race: 200 clients in %.2f s: %d booked, %d waitlisted, %d other\n",
	        ts_now() - t0, booked, waiting, other);
	ck_assert_int_eq(other, 0);
	ck_assert_int_eq(booked, 10);
	ck_assert_int_eq(waiting, 190);
	ck_assert_int_eq(sqln("SELECT booked FROM core.session WHERE id = %lld", s), 15);
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM core.booking WHERE session_id = %lld AND status = 'booked'",
	         s),
	    15);
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM core.seat WHERE session_id = %lld AND active", s), 15);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.booking WHERE session_id = %lld"
	                      " AND status = 'waitlisted' AND waitlisted_at IS NOT NULL",
	                      s),
	                 190);
	/* The waitlist is the database's arrival order: positions 1..190 by
	 * (waitlisted_at, id), each arrival stamped after its transaction
	 * began, and no booking arrived after a waitlisted one was refused a
	 * place (the places were gone). */
	char lpath[96];
	snprintf(lpath, sizeof lpath, "/api/v1/sessions/%lld/bookings?status=waitlisted&limit=200",
	         s);
	json_t *list = expect("GET", lpath, NULL, NULL, 200, NULL);
	json_t *items = json_object_get(list, "items");
	ck_assert_int_eq(json_array_size(items), 190);
	char seen[191] = {0};
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it)
	{
		long long pos = json_integer_value(json_object_get(it, "waitlist_position"));
		ck_assert(pos >= 1 && pos <= 190 && !seen[pos]);
		seen[pos] = 1;
	}
	json_decref(list);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.booking WHERE session_id = %lld"
	                      " AND status = 'waitlisted' AND waitlisted_at < created_at",
	                      s),
	                 0);
	/* The first place freed goes to position 1. */
	long long head = sqln("SELECT id FROM core.booking WHERE session_id = %lld"
	                      " AND status = 'waitlisted' ORDER BY waitlisted_at, id LIMIT 1",
	                      s);
	long long victim = sqln("SELECT min(id) FROM core.booking WHERE session_id = %lld"
	                        " AND status = 'booked'",
	                        s);
	json_decref(act(victim, "cancel", NULL, "{}", 200, NULL));
	assert_status(head, "offered");
	ck_assert_int_eq(sqln("SELECT booked FROM core.session WHERE id = %lld", s), 15);
}
END_TEST

/* --- idempotency ----------------------------------------------------------- */

START_TEST(idempotent_retries_book_once)
{
	long long p = programme(org, NULL);
	long long s = session(p, 240, 5, "booked");
	long long a = person_in(org, "Ida"), b = person_in(org, "Bo");
	char path[64], body[64], body_b[64];
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings", s);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", a);
	snprintf(body_b, sizeof body_b, "{\"person_id\":%lld}", b);

	struct ts_response r1 = call("POST", path, NULL, "Idempotency-Key: k-1\r\n", body);
	ck_assert_int_eq(r1.status, 201);
	char *replayed = ts_header(&r1, "Idempotent-Replayed");
	ck_assert_ptr_null(replayed);
	struct ts_response r2 = call("POST", path, NULL, "Idempotency-Key: k-1\r\n", body);
	ck_assert_int_eq(r2.status, 201);
	ck_assert_uint_eq(r1.body_len, r2.body_len);
	ck_assert_mem_eq(r1.body, r2.body, r1.body_len);
	replayed = ts_header(&r2, "Idempotent-Replayed");
	ck_assert_str_eq(replayed ? replayed : "", "true");
	free(replayed);
	ts_response_free(&r1);
	ts_response_free(&r2);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.booking WHERE session_id = %lld", s), 1);
	ck_assert_int_eq(sqln("SELECT booked FROM core.session WHERE id = %lld", s), 1);

	/* The same key for another request. */
	r1 = call("POST", path, NULL, "Idempotency-Key: k-1\r\n", body_b);
	ck_assert_int_eq(r1.status, 422);
	char *code = ts_error_code(&r1);
	ck_assert_str_eq(code, "core.idempotency_mismatch");
	free(code);
	ts_response_free(&r1);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.booking WHERE session_id = %lld", s), 1);

	/* Without a key, a second booking of the same person is refused. */
	json_decref(expect("POST", path, NULL, body, 409, "core.already_booked"));
	/* Bad keys. */
	char longkey[300] = "Idempotency-Key: ";
	memset(longkey + strlen(longkey), 'x', 201);
	strcat(longkey, "\r\n");
	r1 = call("POST", path, NULL, longkey, body_b);
	ck_assert_int_eq(r1.status, 400);
	code = ts_error_code(&r1);
	ck_assert_str_eq(code, "core.bad_header");
	free(code);
	ts_response_free(&r1);

	/* Twenty identical retries at once: one booking, one answer. */
	char *bodies[20], *replies[20] = {0};
	for (int i = 0; i < 20; i++)
		bodies[i] = body_b;
	char extra[256];
	snprintf(extra, sizeof extra, "Authorization: Bearer %s\r\nIdempotency-Key: same\r\n",
	         srv.token);
	int out[20];
	race(path, 20, bodies, extra, out, replies);
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(out[i], 0);
		ck_assert_ptr_nonnull(replies[i]);
		ck_assert_str_eq(replies[i], replies[0]);
	}
	for (int i = 0; i < 20; i++)
		free(replies[i]);
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM core.booking WHERE session_id = %lld AND person_id = %lld",
	         s, b),
	    1);
	ck_assert_int_eq(sqln("SELECT booked FROM core.session WHERE id = %lld", s), 2);

	/* Keys are forgotten after 24 hours (the job), and another staff
	 * member's key of the same text is theirs. */
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.idempotency"), 2);
	sql_ok("UPDATE core.test_clock SET offset_by = '25 hours'");
	ck_assert_int_eq(sqln("SELECT core.idempotency_expire()"), 2);
	sql_ok("UPDATE core.test_clock SET offset_by = '0'");
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.idempotency"), 0);
}
END_TEST

/* --- the waitlist ---------------------------------------------------------- */

START_TEST(waitlist_offer_expiry_and_promotion)
{
	long long p = programme(org, "{\"offer_hours\": 2}");
	long long s = session(p, 240, 1, "booked");
	long long pa = person_in(org, "Ann"), pb = person_in(org, "Ben"), pc = person_in(org, "Cy"),
	          pd = person_in(org, "Di"), pe = person_in(org, "Ed");
	long long a = book(s, pa, NULL, 201, "booked");
	long long b = book(s, pb, NULL, 201, "waitlisted");
	long long c = book(s, pc, NULL, 201, "waitlisted");
	long long d = book(s, pd, NULL, 201, "waitlisted");
	long long e = book(s, pe, NULL, 201, "waitlisted");
	char path[64];
	snprintf(path, sizeof path, "/api/v1/bookings/%lld", c);
	json_t *got = expect("GET", path, NULL, NULL, 200, NULL);
	ck_assert_int_eq(json_integer_value(json_object_get(got, "waitlist_position")), 2);
	json_decref(got);

	/* A cancels: B is offered the place for offer_hours (2). */
	got = act(a, "cancel", NULL, "{\"reason\":\"Unwell\"}", 200, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(got, "status")), "cancelled");
	json_decref(got);
	assert_status(b, "offered");
	ck_assert_int_eq(sqln("SELECT extract(epoch FROM offer_expires_at - offered_at)::int"
	                      " FROM core.booking WHERE id = %lld",
	                      b),
	                 7200);
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM core.seat WHERE session_id = %lld AND active", s), 0);
	ck_assert_int_eq(sqln("SELECT booked FROM core.session WHERE id = %lld", s), 1);

	/* Nothing expires before its time; then the job expires B and offers C. */
	ck_assert_int_eq(sqln("SELECT core.booking_expire_offers()"), 0);
	sql_ok("UPDATE core.test_clock SET offset_by = '3 hours'");
	ck_assert_int_eq(sqln("SELECT core.booking_expire_offers()"), 1);
	assert_status(b, "expired");
	assert_status(c, "offered");
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = 'booking.expire'"
	                      " AND object_id = %lld",
	                      b),
	                 1);
	/* B's offer is gone: accepting it now is an illegal transition. */
	char *before = status_of(b);
	json_decref(act(b, "accept", NULL, NULL, 409, "core.illegal_transition"));
	char *after = status_of(b);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);

	/* C declines: D is offered. */
	got = act(c, "decline", NULL, NULL, 200, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(got, "status")), "declined");
	json_decref(got);
	assert_status(d, "offered");

	/* D lets the offer run out and accepts late: 409 core.offer_expired,
	 * and the expiry sticks (E is offered) although the request failed. */
	sql_ok("UPDATE core.test_clock SET offset_by = '6 hours'");
	json_decref(act(d, "accept", NULL, "{}", 409, "core.offer_expired"));
	assert_status(d, "expired");
	assert_status(e, "offered");

	/* E accepts: booked, seated, the place it held still counted once. */
	got = act(e, "accept", NULL, NULL, 200, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(got, "status")), "booked");
	json_decref(got);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.seat WHERE session_id = %lld"
	                      " AND person_id = %lld AND active AND source = 'booking'",
	                      s, pe),
	                 1);
	ck_assert_int_eq(sqln("SELECT booked FROM core.session WHERE id = %lld", s), 1);

	/* More places: the next person waiting is offered at once. */
	long long f = book(s, person_in(org, "Flo"), NULL, 201, "waitlisted");
	sql_ok("UPDATE core.session SET capacity = 3 WHERE id = %lld", s);
	assert_status(f, "offered");
	ck_assert_int_eq(sqln("SELECT booked FROM core.session WHERE id = %lld", s), 2);

	/* The session is cancelled (the sessions route calls this). */
	sql_ok("UPDATE core.session SET status = 'cancelled' WHERE id = %lld", s);
	ck_assert_int_eq(sqln("SELECT core.booking_session_cancelled(%lld)", s), 2);
	assert_status(e, "cancelled");
	assert_status(f, "cancelled");
	ck_assert_int_eq(sqln("SELECT booked FROM core.session WHERE id = %lld", s), 0);
	book(s, person_in(org, "Gus"), NULL, 409, NULL);
	sql_ok("UPDATE core.test_clock SET offset_by = '0'");
}
END_TEST

/* --- cut-off and illegal transitions ---------------------------------------- */

START_TEST(cutoff_and_illegal_transitions)
{
	long long p = programme(org, "{\"cancel_cutoff_hours\": 48}");
	long long s = session(p, 30, 2, "booked"); /* inside the 48 h cut-off */
	long long x = person_in(org, "Xan"), y = person_in(org, "Yu"), z = person_in(org, "Zoe");
	char *mentor = ts_staff_token(db, "Test organisation", "mentor@bookings.test", "mentor", 0);
	char *mauth = auth_of(mentor);
	programme_staff(p, "mentor@bookings.test", "mentor");
	sql_ok("INSERT INTO core.assignment (org_id, staff_id, person_id, kind)"
	       " VALUES (%lld, %lld, %lld, 'mentor')",
	       org, ts_staff_id(db, "mentor@bookings.test"), x);
	long long bx = book(s, x, mauth, 201, "booked");
	long long by = book(s, y, NULL, 201, "booked");
	long long bz = book(s, z, NULL, 201, "waitlisted");

	char *before = status_of(bx);
	json_decref(act(bx, "cancel", mauth, "{}", 422, "core.past_cutoff"));
	json_decref(act(bx, "cancel", mauth, "{\"late\":true}", 422, "core.past_cutoff"));
	json_decref(act(bx, "cancel", NULL, "{\"reason\":\"Too late\"}", 422, "core.past_cutoff"));
	char *after = status_of(bx);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	json_decref(act(bx, "cancel", NULL, "{\"late\":true,\"reason\":\"Hospital\"}", 200, NULL));
	assert_status(bx, "cancelled");
	assert_status(bz, "offered");
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = 'booking.cancel'"
	                      " AND object_id = %lld AND detail->>'late' = 'true'",
	                      bx),
	                 1);

	/* Every illegal move: refused with 409, nothing changed. */
	struct {
		long long id;
		const char *what;
	} bad[] = {
	    {bx, "cancel"}, {bx, "accept"}, {bx, "decline"}, {by, "accept"}, {by, "decline"}};
	long long booked = sqln("SELECT booked FROM core.session WHERE id = %lld", s);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		before = status_of(bad[i].id);
		json_decref(act(bad[i].id, bad[i].what, NULL,
		                !strcmp(bad[i].what, "cancel") ? "{\"late\":true}" : NULL, 409,
		                "core.illegal_transition"));
		after = status_of(bad[i].id);
		ck_assert_str_eq(before, after);
		free(before);
		free(after);
	}
	/* A waitlisted booking cannot be accepted or declined either. */
	long long w = book(s, person_in(org, "Wes"), NULL, 201, "waitlisted");
	json_decref(act(w, "accept", NULL, NULL, 409, "core.illegal_transition"));
	json_decref(act(w, "decline", NULL, NULL, 409, "core.illegal_transition"));
	/* ... but it may leave the waitlist after the cut-off. */
	json_decref(act(w, "cancel", mauth, "{}", 404, "core.not_found"));
	json_decref(act(w, "cancel", NULL, "{}", 200, NULL));
	ck_assert_int_eq(sqln("SELECT booked FROM core.session WHERE id = %lld", s), booked);
	free(mauth);
	free(mentor);
}
END_TEST

/* --- rules of booking ------------------------------------------------------ */

START_TEST(keep_apart_clash_and_bookable)
{
	long long p = programme(org, NULL);
	long long s = session(p, 100, 10, "booked");
	long long q = person_in(org, "Quentin"), r = person_in(org, "Rita");
	sql_ok("INSERT INTO core.non_association (org_id, person_a, person_b)"
	       " VALUES (%lld, %lld, %lld)",
	       org, q < r ? q : r, q < r ? r : q);
	book(s, q, NULL, 201, "booked");
	char path[64], body[64];
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings", s);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", r);
	struct ts_response resp = call("POST", path, NULL, "Idempotency-Key: apart\r\n", body);
	ck_assert_int_eq(resp.status, 409);
	char *code = ts_error_code(&resp);
	ck_assert_str_eq(code, "core.keep_apart");
	free(code);
	char qid[24];
	snprintf(qid, sizeof qid, "%lld", q);
	ck_assert_ptr_null(strstr(resp.body, "Quentin"));
	ck_assert_ptr_null(strstr(resp.body, qid));
	ts_response_free(&resp);
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM core.booking WHERE session_id = %lld AND person_id = %lld",
	         s, r),
	    0);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.alert WHERE kind = 'core.non_association'"
	                      " AND org_id = %lld AND session_id = %lld AND person_id = %lld"
	                      " AND (detail->>'other_person_id')::bigint = %lld",
	                      org, s, r, q),
	                 1);
	ck_assert_int_eq(sqln("SELECT booked FROM core.session WHERE id = %lld", s), 1);

	/* A person already seated elsewhere at that time: 409 naming the
	 * session, nothing taken. */
	long long other = session(p, 101, 10, "booked");
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings", other);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", q);
	resp = call("POST", path, NULL, NULL, body);
	ck_assert_int_eq(resp.status, 409);
	code = ts_error_code(&resp);
	ck_assert_str_eq(code, "core.person_clash");
	free(code);
	ck_assert_ptr_nonnull(strstr(resp.body, "Open morning"));
	ts_response_free(&resp);
	ck_assert_int_eq(sqln("SELECT booked FROM core.session WHERE id = %lld", other), 0);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.booking WHERE session_id = %lld", other),
	                 0);

	/* Not bookable: a cohort session, a cancelled one, one that started. */
	long long enrolled = session(p, 300, 10, "enrolled");
	long long gone = session(p, 310, 10, "booked");
	sql_ok("UPDATE core.session SET status = 'cancelled' WHERE id = %lld", gone);
	long long started = session(p, -0.5, 10, "booked");
	long long t = person_in(org, "Tam");
	book(enrolled, t, NULL, 409, NULL);
	book(gone, t, NULL, 409, NULL);
	book(started, t, NULL, 409, NULL);
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings", started);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", t);
	json_decref(expect("POST", path, NULL, body, 409, "core.not_bookable"));
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.booking WHERE person_id = %lld", t), 0);

	/* No capacity: everyone is booked. */
	long long open = session(p, 400, 0, "booked");
	book(open, t, NULL, 201, "booked");
}
END_TEST

/* --- scope and input ------------------------------------------------------- */

START_TEST(scope_and_input)
{
	long long p = programme(org, NULL);
	long long s = session(p, 100, 10, "booked");
	long long mine = person_in(org, "Mo"), notmine = person_in(org, "Nell");
	char *ment = ts_staff_token(db, "Test organisation", "m@bookings.test", "mentor", 0);
	char *fac = ts_staff_token(db, "Test organisation", "f@bookings.test", "facilitator", 0);
	char *com = ts_staff_token(db, "Test organisation", "k@bookings.test", "commissioner", 0);
	char *bco = ts_staff_token(db, "Other organisation", "b@bookings.test", "coordinator", 0);
	char *ma = auth_of(ment), *fa = auth_of(fac), *ka = auth_of(com), *ba = auth_of(bco);
	sql_ok("INSERT INTO core.assignment (org_id, staff_id, person_id, kind)"
	       " VALUES (%lld, %lld, %lld, 'mentor')",
	       org, ts_staff_id(db, "m@bookings.test"), mine);
	long long other_org = ts_org_id(db, "Other organisation");
	long long theirs = person_in(other_org, "Oz");

	/* Not on the programme's staff, the mentor and the facilitator cannot
	 * see the session (GET /sessions/{id} says 404): nor its bookings, nor
	 * book onto it. */
	char path[96], body[64];
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings", s);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", mine);
	json_decref(expect("POST", path, ma, body, 404, "core.not_found"));
	json_decref(expect("GET", path, ma, NULL, 404, "core.not_found"));
	json_decref(expect("GET", path, fa, NULL, 404, "core.not_found"));
	snprintf(path, sizeof path, "/api/v1/sessions/%lld", s);
	json_decref(expect("GET", path, ma, NULL, 404, "core.not_found"));
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.booking WHERE session_id = %lld", s), 0);
	programme_staff(p, "m@bookings.test", "mentor");
	programme_staff(p, "f@bookings.test", "facilitator");

	/* The mentor books their own mentee, not anyone else. */
	long long bm = book(s, mine, ma, 201, "booked");
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings", s);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", notmine);
	json_t *e = expect("POST", path, ma, body, 404, "core.not_found");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(e, "error"), "field")),
	                 "person_id");
	json_decref(e);
	json_decref(expect("POST", path, fa, body, 404, "core.not_found"));
	long long bn = book(s, notmine, NULL, 201, "booked");
	/* Another organisation's person, even for the coordinator. */
	snprintf(body, sizeof body, "{\"person_id\":%lld}", theirs);
	json_decref(expect("POST", path, NULL, body, 404, "core.not_found"));
	/* Org B sees nothing of org A's session or bookings. */
	json_decref(expect("POST", path, ba, body, 404, "core.not_found"));
	json_decref(expect("GET", path, ba, NULL, 404, "core.not_found"));
	snprintf(path, sizeof path, "/api/v1/bookings/%lld", bm);
	json_decref(expect("GET", path, ba, NULL, 404, "core.not_found"));
	json_decref(act(bm, "cancel", ba, "{}", 404, "core.not_found"));
	assert_status(bm, "booked");
	/* Commissioners: 403 everywhere here. */
	json_decref(expect("GET", path, ka, NULL, 403, "core.forbidden"));
	json_decref(act(bm, "cancel", ka, "{}", 403, "core.forbidden"));
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings", s);
	json_decref(expect("GET", path, ka, NULL, 403, "core.forbidden"));

	/* Lists: the coordinator sees both, the mentor their mentee only, the
	 * unassigned facilitator none. */
	json_t *l = expect("GET", path, NULL, NULL, 200, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 2);
	json_decref(l);
	l = expect("GET", path, ma, NULL, 200, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 1);
	ck_assert_int_eq(json_integer_value(
	                     json_object_get(json_array_get(json_object_get(l, "items"), 0), "id")),
	                 bm);
	json_decref(l);
	l = expect("GET", path, fa, NULL, 200, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 0);
	json_decref(l);
	/* Paging. */
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings?limit=1", s);
	l = expect("GET", path, NULL, NULL, 200, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 1);
	char cur[32];
	snprintf(cur, sizeof cur, "%s", json_string_value(json_object_get(l, "next_cursor")));
	json_decref(l);
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings?limit=1&cursor=%s", s, cur);
	l = expect("GET", path, NULL, NULL, 200, NULL);
	ck_assert_int_eq(json_integer_value(
	                     json_object_get(json_array_get(json_object_get(l, "items"), 0), "id")),
	                 bn);
	ck_assert(json_is_null(json_object_get(l, "next_cursor")));
	json_decref(l);
	snprintf(path, sizeof path, "/api/v1/bookings/%lld", bn);
	json_decref(expect("GET", path, ma, NULL, 404, "core.not_found"));
	json_decref(act(bn, "cancel", ma, "{}", 404, "core.not_found"));
	snprintf(path, sizeof path, "/api/v1/bookings/%lld", bm);
	json_decref(expect("GET", path, ma, NULL, 200, NULL));

	/* Stray query parameters and bad input. */
	snprintf(path, sizeof path, "/api/v1/bookings/%lld?verbose=1", bm);
	json_decref(expect("GET", path, NULL, NULL, 400, "core.bad_query"));
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings?sort=id", s);
	json_decref(expect("GET", path, NULL, NULL, 400, "core.bad_query"));
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings?status=maybe", s);
	json_decref(expect("GET", path, NULL, NULL, 400, "core.bad_query"));
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings?x=1", s);
	json_decref(expect("POST", path, NULL, "{\"person_id\":1}", 400, "core.bad_query"));
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings", s);
	struct ts_response r = call("POST", path, NULL, NULL, "{}");
	ck_assert_int_ge(r.status, 400);
	ck_assert_int_le(r.status, 422);
	ts_response_free(&r);
	r = call("POST", path, NULL, NULL, "{\"person_id\":\"12\"}");
	ck_assert_int_ge(r.status, 400);
	ck_assert_int_le(r.status, 422);
	ts_response_free(&r);
	r = call("POST", path, NULL, NULL, "{\"person_id\":1,\"extra\":true}");
	ck_assert_int_ge(r.status, 400);
	ck_assert_int_le(r.status, 422);
	ts_response_free(&r);
	json_decref(act(bm, "cancel", NULL, "{\"late\":\"yes\"}", 400, NULL));
	char huge[700];
	strcpy(huge, "{\"reason\":\"");
	memset(huge + strlen(huge), 'r', 501);
	strcpy(huge + strlen(huge) - 0, "\"}");
	r = call("POST", "/api/v1/bookings/1/cancel", NULL, NULL, huge);
	ck_assert_int_ge(r.status, 400);
	ts_response_free(&r);
	json_decref(act(bm, "accept", NULL, "{\"x\":1}", 400, NULL));
	json_decref(expect("GET", "/api/v1/bookings/abc", NULL, NULL, 404, "core.not_found"));
	json_decref(expect("POST", "/api/v1/sessions/999999/bookings", NULL, "{\"person_id\":1}",
	                   404, "core.not_found"));
	assert_status(bm, "booked");

	/* A retry with an Idempotency-Key after the mentor lost sight of the
	 * session is 404, not the stored answer; so are the booking and the
	 * list. */
	long long lou = person_in(org, "Lou");
	sql_ok("INSERT INTO core.assignment (org_id, staff_id, person_id, kind)"
	       " VALUES (%lld, %lld, %lld, 'mentor')",
	       org, ts_staff_id(db, "m@bookings.test"), lou);
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings", s);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", lou);
	struct ts_response k = call("POST", path, ma, "Idempotency-Key: m-1\r\n", body);
	ck_assert_int_eq(k.status, 201);
	ts_response_free(&k);
	k = call("POST", path, ma, "Idempotency-Key: m-1\r\n", body);
	ck_assert_int_eq(k.status, 201);
	ts_response_free(&k);
	sql_ok("DELETE FROM core.programme_staff WHERE programme_id = %lld", p);
	k = call("POST", path, ma, "Idempotency-Key: m-1\r\n", body);
	ck_assert_msg(k.status == 404, "replay after losing scope: %d %s", k.status, k.body);
	ck_assert_ptr_null(ts_header(&k, "Idempotent-Replayed"));
	ts_response_free(&k);
	json_decref(expect("GET", path, ma, NULL, 404, "core.not_found"));
	snprintf(path, sizeof path, "/api/v1/bookings/%lld", bm);
	json_decref(expect("GET", path, ma, NULL, 404, "core.not_found"));
	json_decref(act(bm, "cancel", ma, "{}", 404, "core.not_found"));
	assert_status(bm, "booked");
	free(ma);
	free(fa);
	free(ka);
	free(ba);
	free(ment);
	free(fac);
	free(com);
	free(bco);
}
END_TEST

/* The programme's plugin (tests/plugins/fixture_hooks.c refuses people on
 * remand) vetoes a booking and the acceptance of an offer; nothing changes. */
START_TEST(plugin_booking_check)
{
	long long p = programme_of("fixture_hooks", org, NULL);
	long long s = session(p, 100, 1, "booked");
	long long ok = person_in(org, "Free"), held = person_in(org, "Held");
	sql_ok("UPDATE core.person SET custody_status = 'remand' WHERE id = %lld", held);
	char path[64], body[64];
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings", s);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", held);
	json_t *e = expect("POST", path, NULL, body, 422, "fixture_hooks.not_eligible");
	json_decref(e);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.booking WHERE session_id = %lld", s), 0);
	ck_assert_int_eq(sqln("SELECT booked FROM core.session WHERE id = %lld", s), 0);
	long long a = book(s, ok, NULL, 201, "booked");
	/* An offer to a person now on remand cannot be accepted. */
	long long w = book(s, person_in(org, "Later"), NULL, 201, "waitlisted");
	sql_ok("UPDATE core.booking SET status = 'offered', offer_expires_at = now() + interval "
	       "'1 day' WHERE id = %lld",
	       w);
	sql_ok("UPDATE core.person p SET custody_status = 'remand' FROM core.booking b"
	       " WHERE b.id = %lld AND p.id = b.person_id",
	       w);
	json_decref(act(w, "accept", NULL, NULL, 422, "fixture_hooks.not_eligible"));
	assert_status(w, "offered");
	json_decref(act(a, "cancel", NULL, "{}", 200, NULL));
}
END_TEST

/* The job on its timer (jobs.interval_ms = 100): an expired offer passes to
 * the next person waiting without anyone calling anything. */
START_TEST(offers_expire_on_the_timer)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	struct ts_server_opts o = {.database_url = db,
	                           .config_json = "{\"jobs\": {\"interval_ms\": 100}}"};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	ts_server_grant(&srv, db);
	long long p = programme(org, "{\"offer_hours\": 1}");
	long long s = session(p, 240, 1, "booked");
	long long a = book(s, person_in(org, "Al"), NULL, 201, "booked");
	long long b = book(s, person_in(org, "Bea"), NULL, 201, "waitlisted");
	long long c = book(s, person_in(org, "Cal"), NULL, 201, "waitlisted");
	json_decref(act(a, "cancel", NULL, "{}", 200, NULL));
	assert_status(b, "offered");
	sql_ok("UPDATE core.test_clock SET offset_by = '2 hours'");
	double t0 = ts_now();
	char *st = NULL;
	while (ts_now() - t0 < 10) {
		free(st);
		st = sqlv("SELECT status FROM core.booking WHERE id = %lld", c);
		if (st && !strcmp(st, "offered"))
			break;
		usleep(50000);
	}
	ck_assert_str_eq(st ? st : "(none)", "offered");
	free(st);
	assert_status(b, "expired");
	sql_ok("UPDATE core.test_clock SET offset_by = '0'");
}
END_TEST

/* --- review fixes ---------------------------------------------------------- */

/* A seat clash names the other session only to an admin or coordinator of
 * the organisation that runs it. A person held by two organisations is
 * booked by the other one: this organisation's coordinator is told only
 * that there is another session at an overlapping time; so is a
 * facilitator, even about a session of their own organisation. */
START_TEST(clash_names_only_to_managers)
{
	char *bco = ts_staff_token(db, "Other organisation", "b2@bookings.test", "coordinator", 0);
	char *fac = ts_staff_token(db, "Test organisation", "f2@bookings.test", "facilitator", 0);
	char *ba = auth_of(bco), *fa = auth_of(fac);
	long long other_org = ts_org_id(db, "Other organisation");
	long long both = person_in(org, "Pat");
	sql_ok("INSERT INTO core.person_org (person_id, org_id) VALUES (%lld, %lld)", both,
	       other_org);
	long long theirs = session(programme(other_org, NULL), 100, 5, "booked");
	sql_ok("UPDATE core.session SET title = 'Org1 parenting assessment' WHERE id = %lld",
	       theirs);
	book(theirs, both, ba, 201, "booked");
	long long p = programme(org, NULL);
	long long mine = session(p, 100.5, 5, "booked");
	char path[64], body[64];
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings", mine);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", both);
	struct ts_response r = call("POST", path, NULL, NULL, body);
	ck_assert_int_eq(r.status, 409);
	char *code = ts_error_code(&r);
	ck_assert_str_eq(code, "core.person_clash");
	free(code);
	ck_assert_msg(!strstr(r.body, "Org1") && !strstr(r.body, "parenting") &&
	                  strstr(r.body, "another session at an overlapping time"),
	              "%s", r.body);
	ts_response_free(&r);
	ck_assert_int_eq(sqln("SELECT booked FROM core.session WHERE id = %lld", mine), 0);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.booking WHERE session_id = %lld", mine),
	                 0);

	/* Same organisation: the coordinator is told which session, the
	 * facilitator is not. */
	programme_staff(p, "f2@bookings.test", "facilitator");
	long long fay = person_in(org, "Fay");
	sql_ok("INSERT INTO core.assignment (org_id, staff_id, person_id, kind)"
	       " VALUES (%lld, %lld, %lld, 'facilitator')",
	       org, ts_staff_id(db, "f2@bookings.test"), fay);
	long long first = session(p, 200, 5, "booked"), second = session(p, 200.5, 5, "booked");
	sql_ok("UPDATE core.session SET title = 'Fay first session' WHERE id = %lld", first);
	book(first, fay, NULL, 201, "booked");
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings", second);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", fay);
	r = call("POST", path, fa, NULL, body);
	ck_assert_int_eq(r.status, 409);
	code = ts_error_code(&r);
	ck_assert_str_eq(code, "core.person_clash");
	free(code);
	ck_assert_msg(!strstr(r.body, "Fay first") &&
	                  strstr(r.body, "another session at an overlapping time"),
	              "%s", r.body);
	ts_response_free(&r);
	r = call("POST", path, NULL, NULL, body);
	ck_assert_int_eq(r.status, 409);
	ck_assert_msg(strstr(r.body, "Fay first session") != NULL, "%s", r.body);
	ts_response_free(&r);
	ck_assert_int_eq(sqln("SELECT booked FROM core.session WHERE id = %lld", second), 0);
	free(ba);
	free(fa);
	free(bco);
	free(fac);
}
END_TEST

static long long alerts_for(long long sess, long long person)
{
	return sqln("SELECT count(*) FROM core.alert WHERE kind = 'core.non_association'"
	            " AND org_id = %lld AND session_id = %lld AND person_id = %lld",
	            org, sess, person);
}

/* Keep-apart covers the waitlist: a booking is refused when someone
 * waitlisted is to be kept apart; an offer passes over a waitlisted person
 * kept apart from someone booked or offered (alerted once, left waiting);
 * accepting an offer checks again. */
START_TEST(keep_apart_through_the_waitlist)
{
	long long p = programme(org, NULL);
	/* Capacity 2: A and B booked, C waitlisted; D, kept apart from C. */
	long long s = session(p, 100, 2, "booked");
	long long pc = person_in(org, "Cara"), pd = person_in(org, "Dan");
	book(s, person_in(org, "Ada"), NULL, 201, "booked");
	book(s, person_in(org, "Bob"), NULL, 201, "booked");
	book(s, pc, NULL, 201, "waitlisted");
	keep_apart(pc, pd);
	char path[64], body[64], cid[32];
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings", s);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", pd);
	snprintf(cid, sizeof cid, ":%lld", pc);
	struct ts_response r = call("POST", path, NULL, NULL, body);
	ck_assert_msg(r.status == 409, "D booked despite C waitlisted: %d %s", r.status, r.body);
	char *code = ts_error_code(&r);
	ck_assert_str_eq(code, "core.keep_apart");
	free(code);
	ck_assert_ptr_null(strstr(r.body, "Cara"));
	ck_assert_ptr_null(strstr(r.body, cid));
	ts_response_free(&r);
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM core.booking WHERE session_id = %lld AND person_id = %lld",
	         s, pd),
	    0);
	ck_assert_int_eq(alerts_for(s, pd), 1);

	/* Offers: G (waitlisted first) is kept apart from F (booked) after
	 * joining the list; E's place goes to H, G stays waiting, alerted once. */
	long long s2 = session(p, 110, 2, "booked");
	long long pf = person_in(org, "Fin"), pg = person_in(org, "Gil");
	long long e = book(s2, person_in(org, "Eve"), NULL, 201, "booked");
	long long f = book(s2, pf, NULL, 201, "booked");
	long long g = book(s2, pg, NULL, 201, "waitlisted");
	long long h = book(s2, person_in(org, "Hal"), NULL, 201, "waitlisted");
	keep_apart(pf, pg);
	json_decref(act(e, "cancel", NULL, "{}", 200, NULL));
	assert_status(g, "waitlisted");
	assert_status(h, "offered");
	ck_assert_int_eq(alerts_for(s2, pg), 1);
	ck_assert_int_eq(sqln("SELECT booked FROM core.session WHERE id = %lld", s2), 2);
	/* H declines: G is passed over again (no second alert), the place is
	 * given back. */
	json_decref(act(h, "decline", NULL, NULL, 200, NULL));
	assert_status(g, "waitlisted");
	ck_assert_int_eq(alerts_for(s2, pg), 1);
	ck_assert_int_eq(sqln("SELECT booked FROM core.session WHERE id = %lld", s2), 1);
	/* F leaves: G may be offered now. */
	json_decref(act(f, "cancel", NULL, "{}", 200, NULL));
	assert_status(g, "offered");
	ck_assert_int_eq(sqln("SELECT booked FROM core.session WHERE id = %lld", s2), 1);

	/* More capacity: the same rule. */
	long long s3 = session(p, 120, 1, "booked");
	long long pi = person_in(org, "Ira"), pj = person_in(org, "Jo");
	book(s3, pi, NULL, 201, "booked");
	long long j = book(s3, pj, NULL, 201, "waitlisted");
	long long k = book(s3, person_in(org, "Kit"), NULL, 201, "waitlisted");
	keep_apart(pi, pj);
	sql_ok("UPDATE core.session SET capacity = 2 WHERE id = %lld", s3);
	assert_status(j, "waitlisted");
	assert_status(k, "offered");
	ck_assert_int_eq(alerts_for(s3, pj), 1);

	/* Accepting: N's offer, then N is to be kept apart from M (booked). */
	long long s4 = session(p, 130, 2, "booked");
	long long pm = person_in(org, "Mia"), pn = person_in(org, "Ned");
	book(s4, pm, NULL, 201, "booked");
	long long x = book(s4, person_in(org, "Xi"), NULL, 201, "booked");
	long long n = book(s4, pn, NULL, 201, "waitlisted");
	json_decref(act(x, "cancel", NULL, "{}", 200, NULL));
	assert_status(n, "offered");
	keep_apart(pm, pn);
	char *before = status_of(n);
	char path2[64], mid[32];
	snprintf(path2, sizeof path2, "/api/v1/bookings/%lld/accept", n);
	snprintf(mid, sizeof mid, ":%lld", pm);
	r = call("POST", path2, NULL, NULL, NULL);
	ck_assert_msg(r.status == 409, "accept: %d %s", r.status, r.body);
	code = ts_error_code(&r);
	ck_assert_str_eq(code, "core.keep_apart");
	free(code);
	ck_assert_ptr_null(strstr(r.body, "Mia"));
	ck_assert_ptr_null(strstr(r.body, mid));
	ts_response_free(&r);
	char *after = status_of(n);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	ck_assert_int_eq(alerts_for(s4, pn), 1);
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM core.seat WHERE session_id = %lld AND person_id = %lld"
	         " AND active",
	         s4, pn),
	    0);
}
END_TEST

/* Twenty kept-apart pairs book the same session at once: one of each pair
 * gets in. */
START_TEST(keep_apart_race)
{
	enum { PAIRS = 20 };
	long long p = programme(org, NULL);
	long long s = session(p, 100, 0, "booked");
	long long ids[2 * PAIRS];
	char *bodies[2 * PAIRS];
	for (int i = 0; i < 2 * PAIRS; i++) {
		ids[i] = person_in(org, "Pair");
		bodies[i] = malloc(64);
		snprintf(bodies[i], 64, "{\"person_id\":%lld}", ids[i]);
	}
	for (int i = 0; i < PAIRS; i++)
		keep_apart(ids[2 * i], ids[2 * i + 1]);
	char path[64], auth[256];
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings", s);
	snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", srv.token);
	int out[2 * PAIRS], booked = 0;
	race(path, 2 * PAIRS, bodies, auth, out, NULL);
	for (int i = 0; i < 2 * PAIRS; i++) {
		booked += out[i] == 0;
		free(bodies[i]);
	}
	for (int i = 0; i < PAIRS; i++)
		ck_assert_int_eq(sqln("SELECT count(*) FROM core.booking WHERE session_id = %lld"
		                      " AND person_id IN (%lld, %lld)",
		                      s, ids[2 * i], ids[2 * i + 1]),
		                 1);
	ck_assert_int_eq(booked, PAIRS);
	ck_assert_int_eq(sqln("SELECT booked FROM core.session WHERE id = %lld", s), PAIRS);
}
END_TEST

static PGconn *pg_open(void)
{
	PGconn *c = PQconnectdb(db);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	return c;
}

static void pg_ok(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pg_ok(PGconn *c, const char *fmt, ...)
{
	char q[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q, sizeof q, fmt, ap);
	va_end(ap);
	PGresult *r = PQexec(c, q);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
	              "%s: %s", q, PQerrorMessage(c));
	PQclear(r);
}

/* While another transaction holds session `sess` as a session cancel does,
 * POST /bookings/{booking}/{what} waits for it holding no lock on the
 * booking (session first, then bookings: no deadlock), then succeeds. */
static void waits_for_session_first(long long sess, long long booking, const char *what)
{
	PGconn *h = pg_open();
	pg_ok(h, "BEGIN");
	pg_ok(h, "SELECT 1 FROM core.session WHERE id = %lld FOR UPDATE", sess);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char path[64];
		snprintf(path, sizeof path, "/api/v1/bookings/%lld/%s", booking, what);
		struct ts_response r;
		int rc = ts_http(&srv, "POST", path, "Content-Type: application/json\r\n", "{}", 2,
		                 30000, &r);
		_exit(rc == 0 && r.status == 200 ? 0 : 1);
	}
	double t0 = ts_now();
	long long waiting = 0;
	while (
	    ts_now() - t0 < 10 &&
	    !(waiting = sqln("SELECT count(*) FROM pg_stat_activity"
	                     " WHERE datname = current_database() AND wait_event_type = 'Lock'")))
		usleep(20000);
	char q[128];
	snprintf(q, sizeof q, "SELECT 1 FROM core.booking WHERE id = %lld FOR UPDATE NOWAIT",
	         booking);
	int free_booking = ts_db_exec(db, q);
	pg_ok(h, "ROLLBACK");
	PQfinish(h);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(waiting >= 1, "%s never waited for the session", what);
	ck_assert_msg(free_booking == 0, "%s held booking %lld while waiting for the session", what,
	              booking);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s failed", what);
}

START_TEST(session_locked_before_bookings)
{
	long long p = programme(org, NULL);
	long long s = session(p, 100, 1, "booked");
	long long a = book(s, person_in(org, "Al"), NULL, 201, "booked");
	long long b = book(s, person_in(org, "Bo"), NULL, 201, "waitlisted");
	long long c = book(s, person_in(org, "Cy"), NULL, 201, "waitlisted");
	waits_for_session_first(s, a, "cancel");
	assert_status(a, "cancelled");
	assert_status(b, "offered");
	waits_for_session_first(s, b, "decline");
	assert_status(b, "declined");
	assert_status(c, "offered");
	waits_for_session_first(s, c, "accept");
	assert_status(c, "booked");

	/* The job passes by a session it cannot lock, holding nothing. */
	long long s2 = session(p, 100, 1, "booked");
	long long d = book(s2, person_in(org, "Di"), NULL, 201, "booked");
	long long e = book(s2, person_in(org, "Ed"), NULL, 201, "waitlisted");
	json_decref(act(d, "cancel", NULL, "{}", 200, NULL));
	assert_status(e, "offered");
	sql_ok("UPDATE core.test_clock SET offset_by = '25 hours'");
	PGconn *h = pg_open(), *j = pg_open();
	pg_ok(h, "BEGIN");
	pg_ok(h, "SELECT 1 FROM core.session WHERE id = %lld FOR UPDATE", s2);
	pg_ok(j, "SET lock_timeout = '3s'");
	PGresult *r = PQexec(j, "SELECT core.booking_expire_offers()");
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "job: %s", PQerrorMessage(j));
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "0");
	PQclear(r);
	assert_status(e, "offered");
	pg_ok(h, "ROLLBACK");
	pg_ok(j, "SELECT core.booking_expire_offers()");
	PQfinish(h);
	PQfinish(j);
	assert_status(e, "expired");
	sql_ok("UPDATE core.test_clock SET offset_by = '0'");
}
END_TEST

/* An offer cannot be accepted once the session has started (it was moved
 * earlier after the offer). */
START_TEST(accept_after_start)
{
	long long p = programme(org, NULL);
	long long s = session(p, 100, 1, "booked");
	long long a = book(s, person_in(org, "Al"), NULL, 201, "booked");
	long long b = book(s, person_in(org, "Bo"), NULL, 201, "waitlisted");
	json_decref(act(a, "cancel", NULL, "{}", 200, NULL));
	assert_status(b, "offered");
	sql_ok("UPDATE core.session SET starts_at = now() - interval '10 minutes',"
	       " ends_at = now() + interval '1 hour' WHERE id = %lld",
	       s);
	char *before = status_of(b);
	json_decref(act(b, "accept", NULL, NULL, 409, "core.not_bookable"));
	char *after = status_of(b);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	ck_assert_int_eq(
	    sqln("SELECT count(*) FROM core.seat WHERE session_id = %lld AND active", s), 0);
}
END_TEST

/* Idempotency-Keys are aged by the server's clock, as they expire. */
START_TEST(keys_aged_by_the_server_clock)
{
	long long p = programme(org, NULL);
	sql_ok("UPDATE core.test_clock SET offset_by = '25 hours'");
	long long s2 = session(p, 240, 5, "booked");
	char path[64], body[64];
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings", s2);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", person_in(org, "Cy"));
	struct ts_response r1 = call("POST", path, NULL, "Idempotency-Key: clock-1\r\n", body);
	ck_assert_int_eq(r1.status, 201);
	struct ts_response r2 = call("POST", path, NULL, "Idempotency-Key: clock-1\r\n", body);
	ck_assert_msg(r2.status == 201, "retry: %d %s", r2.status, r2.body);
	char *replayed = ts_header(&r2, "Idempotent-Replayed");
	ck_assert_str_eq(replayed ? replayed : "", "true");
	free(replayed);
	ck_assert_uint_eq(r1.body_len, r2.body_len);
	ck_assert_mem_eq(r1.body, r2.body, r1.body_len);
	ts_response_free(&r1);
	ts_response_free(&r2);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.booking WHERE session_id = %lld", s2), 1);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.idempotency WHERE key = 'clock-1'"
	                      " AND created_at > now() + interval '24 hours'"),
	                 1);
	sql_ok("UPDATE core.test_clock SET offset_by = '0'");
}
END_TEST

/* Bookings cancelled with their session and offers made by more capacity
 * are audited with the actor when known, and say why. */
START_TEST(audit_of_session_changes)
{
	long long p = programme(org, NULL);
	long long s = session(p, 100, 1, "booked");
	long long a = book(s, person_in(org, "Al"), NULL, 201, "booked");
	long long b = book(s, person_in(org, "Bo"), NULL, 201, "waitlisted");
	long long me = sqln("SELECT booked_by FROM core.booking WHERE id = %lld", a);
	ck_assert_int_gt(me, 0);
	sql_ok("UPDATE core.session SET status = 'cancelled' WHERE id = %lld", s);
	ck_assert_int_eq(sqln("SELECT core.booking_session_cancelled(%lld, %lld, '127.0.0.1',"
	                      " 'rid-fxb')",
	                      s, me),
	                 2);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = 'booking.cancel'"
	                      " AND object_id IN (%lld, %lld) AND actor_staff_id = %lld"
	                      " AND request_id = 'rid-fxb' AND detail->>'via' = 'session_cancel'",
	                      a, b, me),
	                 2);

	/* Through the sessions route (which passes the session only). */
	long long s2 = session(p, 110, 1, "booked");
	long long c = book(s2, person_in(org, "Cy"), NULL, 201, "booked");
	char path[64];
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/cancel", s2);
	json_decref(expect("POST", path, NULL, "{\"reason\":\"Snow\"}", 200, NULL));
	assert_status(c, "cancelled");
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = 'booking.cancel'"
	                      " AND object_id = %lld AND detail->>'via' = 'session_cancel'",
	                      c),
	                 1);

	/* More capacity (a trigger: no actor). */
	long long s3 = session(p, 120, 1, "booked");
	book(s3, person_in(org, "Di"), NULL, 201, "booked");
	long long e = book(s3, person_in(org, "Ed"), NULL, 201, "waitlisted");
	sql_ok("UPDATE core.session SET capacity = 2 WHERE id = %lld", s3);
	assert_status(e, "offered");
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE action = 'booking.offer'"
	                      " AND object_id = %lld AND detail->>'via' = 'capacity'",
	                      e),
	                 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bookings");
	TCase *tc = tcase_create("bookings");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, race_for_the_last_ten_places);
	tcase_add_test(tc, idempotent_retries_book_once);
	tcase_add_test(tc, waitlist_offer_expiry_and_promotion);
	tcase_add_test(tc, cutoff_and_illegal_transitions);
	tcase_add_test(tc, keep_apart_clash_and_bookable);
	tcase_add_test(tc, scope_and_input);
	tcase_add_test(tc, plugin_booking_check);
	tcase_add_test(tc, offers_expire_on_the_timer);
	tcase_add_test(tc, clash_names_only_to_managers);
	tcase_add_test(tc, keep_apart_through_the_waitlist);
	tcase_add_test(tc, keep_apart_race);
	tcase_add_test(tc, session_locked_before_bookings);
	tcase_add_test(tc, accept_after_start);
	tcase_add_test(tc, keys_aged_by_the_server_clock);
	tcase_add_test(tc, audit_of_session_changes);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
