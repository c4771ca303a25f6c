/*
 * Sessions and series over HTTP against the real server and database:
 * series laid out by libical agree, instant for instant, with an independent
 * expansion (python-dateutil, tests/tools/expand_dateutil.py) across the
 * March and October 2027 clock changes, also after an instance is moved or
 * cancelled; two requests at once cannot put one staff member (or room) in
 * two overlapping sessions; local starts the zone skips or repeats, bad
 * rules and oversized series are refused with nothing written; closures
 * skip or flag instances; and each role sees only its own sessions. A
 * clash with another organisation's session says nothing about it; a
 * session that has started is cancelled only when forced, and never once
 * attendance is recorded; one-sided ranges are bounded; moves re-apply
 * closures.
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
static long long org, prog, venue, room, fac, fac2;
static char tok_fac[96], tok_fac2[96], tok_mentor[96], tok_comm[96], tok_b[96];

/* --- helpers ---------------------------------------------------------------- */

static char *sqlv(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sqlv(const char *fmt, ...)
{
	char q[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q, sizeof q, fmt, ap);
	va_end(ap);
	return ts_db_value(db, q);
}

static long long sql_ll(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long sql_ll(const char *fmt, ...)
{
	char q[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q, sizeof q, fmt, ap);
	va_end(ap);
	char *v = ts_db_value(db, q);
	ck_assert_msg(v != NULL, "no value: %s", q);
	long long n = atoll(v);
	free(v);
	return n;
}

static void token(char out[96], const char *org_name, const char *email, const char *role)
{
	char *t = ts_staff_token(db, org_name, email, role, 0);
	snprintf(out, 96, "%s", t);
	free(t);
}

/* One request as `tok` (NULL: the coordinator). Returns the status; *out
 * gets the body as JSON when asked (caller decrefs). */
static int call(const char *tok, const char *method, const char *path, const char *body,
                json_t **out)
{
	char headers[256];
	struct ts_response r;
	snprintf(headers, sizeof headers, "%s%s%s%s",
	         body ? "Content-Type: application/json\r\n" : "",
	         tok ? "Authorization: Bearer " : "", tok ? tok : "", tok ? "\r\n" : "");
	ck_assert_int_eq(
	    ts_http(&srv, method, path, headers, body, body ? strlen(body) : 0, 20000, &r), 0);
	int status = r.status;
	if (out) {
		*out = ts_json(&r);
		ck_assert_msg(*out || status == 204, "%s %s: %d, body not JSON: %s", method, path,
		              status, r.body);
	}
	ts_response_free(&r);
	return status;
}

/* Expects an error reply: status, code and (if given) field. */
static json_t *expect_error(const char *tok, const char *method, const char *path, const char *body,
                            int status, const char *code, const char *field)
{
	json_t *j = NULL;
	int st = call(tok, method, path, body, &j);
	json_t *e = json_object_get(j, "error");
	const char *c = json_string_value(json_object_get(e, "code"));
	const char *f = json_string_value(json_object_get(e, "field"));
	char *dump = json_dumps(j, JSON_COMPACT);
	ck_assert_msg(st == status && c && !strcmp(c, code), "%s %s: %d %s, expected %d %s", method,
	              path, st, dump, status, code);
	ck_assert_msg(!field || (f && !strcmp(f, field)), "%s %s: field %s, expected %s", method,
	              path, f ? f : "(none)", field);
	free(dump);
	return j;
}

static json_t *expect_ok(const char *tok, const char *method, const char *path, const char *body,
                         int status)
{
	json_t *j = NULL;
	int st = call(tok, method, path, body, &j);
	char *dump = json_dumps(j, JSON_COMPACT);
	ck_assert_msg(st == status, "%s %s: %d %.600s, expected %d", method, path, st, dump,
	              status);
	free(dump);
	return j;
}

static long long id_of(const json_t *j)
{
	return (long long)json_integer_value(json_object_get(j, "id"));
}

static const char *s_of(const json_t *j, const char *k)
{
	return json_string_value(json_object_get(j, k));
}

static json_t *make_series(const char *rule, const char *start, const char *extra)
{
	char body[1024], path[64];
	snprintf(body, sizeof body,
	         "{\"title\":\"Group work\",\"rrule\":\"%s\",\"start\":\"%s\","
	         "\"duration_minutes\":90,\"location_kind\":\"community_venue\"%s}",
	         rule, start, extra ? extra : "");
	snprintf(path, sizeof path, "/api/v1/programmes/%lld/series", prog);
	return expect_ok(NULL, "POST", path, body, 201);
}

static long long make_session(const char *start, const char *extra)
{
	char body[1024], path[64];
	snprintf(body, sizeof body,
	         "{\"title\":\"One-off\",\"start\":\"%s\",\"duration_minutes\":60,"
	         "\"location_kind\":\"community_venue\"%s}",
	         start, extra ? extra : "");
	snprintf(path, sizeof path, "/api/v1/programmes/%lld/sessions", prog);
	json_t *j = expect_ok(NULL, "POST", path, body, 201);
	long long id = id_of(j);
	json_decref(j);
	return id;
}

/* Every session of a series (following next_cursor): "starts_at" of the
 * scheduled ones into `starts`, "recurrence_id" of all into `rids`. */
#define MAXN 600
struct listed {
	char starts[MAXN][24], rids[MAXN][24], cancelled[MAXN][24];
	int n_starts, n_rids, n_cancelled;
};

static void list_series(long long series, struct listed *l)
{
	char path[256], cursor[64] = "";
	memset(l, 0, sizeof *l);
	for (int pages = 0; pages < 20; pages++) {
		snprintf(path, sizeof path, "/api/v1/sessions?series_id=%lld&limit=37%s%s", series,
		         cursor[0] ? "&cursor=" : "", cursor);
		json_t *j = expect_ok(NULL, "GET", path, NULL, 200), *it;
		size_t i;
		json_array_foreach(json_object_get(j, "items"), i, it)
		{
			ck_assert_int_lt(l->n_rids, MAXN);
			snprintf(l->rids[l->n_rids++], 24, "%s", s_of(it, "recurrence_id"));
			if (!strcmp(s_of(it, "status"), "scheduled"))
				snprintf(l->starts[l->n_starts++], 24, "%s", s_of(it, "starts_at"));
			else
				snprintf(l->cancelled[l->n_cancelled++], 24, "%s",
				         s_of(it, "recurrence_id"));
		}
		const char *next = s_of(j, "next_cursor");
		snprintf(cursor, sizeof cursor, "%s", next ? next : "");
		json_decref(j);
		if (!next)
			return;
	}
	ck_abort_msg("too many pages");
}

/* dateutil's instants for the rule (one per line, UTC). */
static int dateutil(const char *rule, const char *start_local, const char *before, char out[][24],
                    int max)
{
	char cmd[1024], line[64];
	snprintf(cmd, sizeof cmd,
	         "/usr/bin/python3 %s/tests/tools/expand_dateutil.py '%s' '%s' Europe/London %s",
	         WAYMARK_SOURCE_DIR, rule, start_local, before ? before : "");
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	int n = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		ck_assert_int_lt(n, max);
		snprintf(out[n++], 24, "%.23s", line);
	}
	ck_assert_int_eq(pclose(f), 0);
	return n;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The same set of instants (order aside). */
static void same_set(char a[][24], int na, char b[][24], int nb, const char *what)
{
	qsort(a, (size_t)na, 24, cmp);
	qsort(b, (size_t)nb, 24, cmp);
	ck_assert_msg(na == nb, "%s: %d instants, dateutil %d", what, na, nb);
	for (int i = 0; i < na; i++)
		ck_assert_msg(!strcmp(a[i], b[i]), "%s: %s vs dateutil %s", what, a[i], b[i]);
}

static void setup(void)
{
	db = ts_db_create("sessions");
	struct ts_server_opts o = {.database_url = db};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	ts_server_grant(&srv, db);
	org = ts_org_id(db, "Test organisation");
	token(tok_fac, "Test organisation", "fac@example.org", "facilitator");
	token(tok_fac2, "Test organisation", "fac2@example.org", "facilitator");
	token(tok_mentor, "Test organisation", "mentor@example.org", "mentor");
	token(tok_comm, "Test organisation", "comm@example.org", "commissioner");
	token(tok_b, "Organisation B", "b-admin@example.org", "admin");
	fac = ts_staff_id(db, "fac@example.org");
	fac2 = ts_staff_id(db, "fac2@example.org");
	prog = sql_ll("INSERT INTO core.programme (org_id, type, name) VALUES (%lld, 'example',"
	              " 'Programme A') RETURNING id",
	              org);
	venue = sql_ll("INSERT INTO core.venue (org_id, name, location_kind, establishment)"
	               " VALUES (%lld, 'Hall', 'community_venue', 'Town hall') RETURNING id",
	               org);
	room = sql_ll("INSERT INTO core.room (venue_id, name) VALUES (%lld, 'Room 1') RETURNING id",
	              venue);
}

static void teardown(void)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
}

/* --- agreement with dateutil -------------------------------------------------- */

static char lib[MAXN][24], ref[MAXN][24];

START_TEST(series_agree_with_dateutil_across_clock_changes)
{
	static const struct {
		const char *rule, *start;
	} cases[] = {
	    {"FREQ=WEEKLY;BYDAY=TU;COUNT=40", "2027-02-02T10:00:00"},
	    {"FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;UNTIL=20271130T235959Z", "2027-03-04T18:30:00"},
	    {"FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20271110T000000Z", "2027-03-01T09:15:00"},
	    {"FREQ=MONTHLY;BYMONTHDAY=28;COUNT=12", "2027-01-28T13:00:00"},
	    {"FREQ=DAILY;INTERVAL=3;COUNT=100", "2027-03-01T08:00:00"},
	    {"FREQ=WEEKLY;BYDAY=FR", "2027-03-05T16:00:00"}, /* open: two years */
	};
	struct listed *l = malloc(sizeof *l);
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		json_t *made = make_series(cases[c].rule, cases[c].start, NULL);
		json_t *series = json_object_get(made, "series");
		long long sid = id_of(series);
		const char *until = s_of(series, "expanded_until");
		int open =
		    strstr(cases[c].rule, "COUNT") == NULL && !strstr(cases[c].rule, "UNTIL");
		ck_assert_str_eq(s_of(series, "dtstart_local"), cases[c].start);
		list_series(sid, l);
		memcpy(lib, l->starts, sizeof lib);
		int nref = dateutil(cases[c].rule, cases[c].start, open ? until : NULL, ref, MAXN);
		ck_assert_int_gt(nref, 8);
		same_set(lib, l->n_starts, ref, nref, cases[c].rule);
		/* The local time never moves; the UTC hour does. */
		json_t *it;
		size_t i;
		int summer = 0, winter = 0;
		json_array_foreach(json_object_get(made, "sessions"), i, it)
		{
			json_t *local = json_object_get(it, "local");
			ck_assert_str_eq(s_of(local, "time_zone"), "Europe/London");
			ck_assert_int_eq(strncmp(s_of(local, "start"), cases[c].start + 11, 5), 0);
			if (strncmp(s_of(it, "starts_at") + 11, cases[c].start + 11, 2))
				summer++;
			else
				winter++;
		}
		ck_assert_msg(summer > 0 && winter > 0, "%s: summer %d winter %d", cases[c].rule,
		              summer, winter);
		json_decref(made);
	}

	/* Move one instance and cancel another: recurrence ids stay the rule's,
	 * starts follow the move, the cancelled one is kept as cancelled. */
	const char *rule = "FREQ=WEEKLY;BYDAY=TU;COUNT=40", *start = "2027-02-02T10:00:00";
	long long sid = sql_ll("SELECT min(id) FROM core.series");
	long long moved = sql_ll("SELECT id FROM core.session WHERE series_id = %lld"
	                         " AND starts_at = '2027-03-30T09:00:00Z'",
	                         sid);
	long long gone = sql_ll("SELECT id FROM core.session WHERE series_id = %lld"
	                        " AND starts_at = '2027-10-26T09:00:00Z'",
	                        sid);
	char path[128];
	snprintf(path, sizeof path, "/api/v1/sessions/%lld", moved);
	json_t *j =
	    expect_ok(NULL, "PATCH", path, "{\"start\":\"2027-03-31T14:00\",\"version\":1}", 200);
	ck_assert_str_eq(s_of(j, "starts_at"), "2027-03-31T13:00:00Z");
	ck_assert_str_eq(s_of(j, "recurrence_id"), "2027-03-30T09:00:00Z");
	ck_assert(json_is_true(json_object_get(j, "moved")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "sequence")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "version")), 2);
	json_decref(j);
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/cancel", gone);
	j = expect_ok(NULL, "POST", path, "{\"reason\":\"Half term\"}", 200);
	ck_assert_str_eq(s_of(j, "status"), "cancelled");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "sequence")), 1);
	json_decref(j);

	list_series(sid, l);
	int nref = dateutil(rule, start, NULL, ref, MAXN);
	memcpy(lib, l->rids, sizeof lib);
	same_set(lib, l->n_rids, ref, nref, "recurrence ids after a move and a cancellation");
	/* Scheduled starts: dateutil's, minus the cancelled one, with the
	 * moved one at its new time. */
	int k = 0;
	for (int i = 0; i < nref; i++) {
		if (!strcmp(ref[i], "2027-10-26T09:00:00Z"))
			continue;
		snprintf(lib[k++], 24, "%.23s",
		         strcmp(ref[i], "2027-03-30T09:00:00Z") ? ref[i] : "2027-03-31T13:00:00Z");
	}
	same_set(l->starts, l->n_starts, lib, k, "scheduled starts after a move");
	ck_assert_int_eq(l->n_cancelled, 1);
	ck_assert_str_eq(l->cancelled[0], "2027-10-26T09:00:00Z");

	/* What calendar feeds get: one EXDATE, one override. */
	snprintf(path, sizeof path, "/api/v1/series/%lld", sid);
	j = expect_ok(NULL, "GET", path, NULL, 200);
	ck_assert_str_eq(s_of(j, "rrule"), "FREQ=WEEKLY;COUNT=40;BYDAY=TU");
	json_t *ex = json_object_get(j, "exdates"), *ov = json_object_get(j, "overrides");
	ck_assert_int_eq(json_array_size(ex), 1);
	ck_assert_str_eq(s_of(json_array_get(ex, 0), "recurrence_local"), "2027-10-26T10:00:00");
	ck_assert_int_eq(json_array_size(ov), 1);
	ck_assert_str_eq(s_of(json_array_get(ov, 0), "recurrence_local"), "2027-03-30T10:00:00");
	ck_assert_str_eq(s_of(json_object_get(json_array_get(ov, 0), "local"), "start"), "14:00");
	json_decref(j);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.audit WHERE action = 'series.create'"),
	                 6);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.audit WHERE action IN"
	                        " ('session.update', 'session.cancel')"),
	                 2);
	free(l);
}
END_TEST

/* --- races ------------------------------------------------------------------ */

/* Two requests at once (forked children, real sockets, released together
 * by closing a pipe). statuses[i], codes[i] and messages come back. */
static void race(const char *method, const char *paths[2], const char *bodies[2], int statuses[2],
                 char codes[2][64], char msgs[2][512])
{
	int gate[2], res[2][2];
	ck_assert_int_eq(pipe(gate), 0);
	pid_t pid[2];
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(pipe(res[i]), 0);
		pid[i] = fork();
		ck_assert_int_ge(pid[i], 0);
		if (pid[i] == 0) {
			char c, line[700] = "";
			close(gate[1]);
			if (read(gate[0], &c, 1) < 0)
				_exit(2);
			struct ts_response r;
			char headers[] = "Content-Type: application/json\r\n";
			int st = ts_http(&srv, method, paths[i], headers, bodies[i],
			                 strlen(bodies[i]), 20000, &r) == 0
			             ? r.status
			             : -1;
			json_t *j = st > 0 ? ts_json(&r) : NULL;
			json_t *e = json_object_get(j, "error");
			snprintf(line, sizeof line, "%d %s %.500s", st,
			         e ? json_string_value(json_object_get(e, "code")) : "-",
			         e ? json_string_value(json_object_get(e, "message")) : "-");
			if (write(res[i][1], line, strlen(line)) < 0)
				_exit(3);
			_exit(0);
		}
		close(res[i][1]);
	}
	close(gate[0]);
	close(gate[1]); /* both go */
	for (int i = 0; i < 2; i++) {
		char line[700];
		ssize_t n = read(res[i][0], line, sizeof line - 1);
		ck_assert_int_gt(n, 0);
		line[n] = '\0';
		int off = 0;
		ck_assert_int_eq(sscanf(line, "%d %63s %n", &statuses[i], codes[i], &off), 2);
		snprintf(msgs[i], 512, "%s", line + off);
		close(res[i][0]);
		int wst;
		waitpid(pid[i], &wst, 0);
	}
}

START_TEST(double_booking_races_end_in_one_success_and_one_clash)
{
	char path[64], b0[512], b1[512], codes[2][64], msgs[2][512];
	int st[2];
	snprintf(path, sizeof path, "/api/v1/programmes/%lld/sessions", prog);
	for (int round = 0; round < 4; round++) {
		/* Staff: two different sessions, same time, one facilitator. */
		snprintf(
		    b0, sizeof b0,
		    "{\"title\":\"Race A\",\"start\":\"2027-05-%02dT10:00\",\"duration_minutes\":"
		    "60,\"location_kind\":\"home\",\"staff\":[{\"staff_id\":%lld}]}",
		    3 + round, fac);
		snprintf(
		    b1, sizeof b1,
		    "{\"title\":\"Race B\",\"start\":\"2027-05-%02dT10:30\",\"duration_minutes\":"
		    "60,\"location_kind\":\"home\",\"staff\":[{\"staff_id\":%lld,"
		    "\"role\":\"lead\"}]}",
		    3 + round, fac);
		const char *paths[2] = {path, path}, *bodies[2] = {b0, b1};
		race("POST", paths, bodies, st, codes, msgs);
		ck_assert_msg((st[0] == 201) + (st[1] == 201) == 1 &&
		                  (st[0] == 409) + (st[1] == 409) == 1,
		              "staff race: %d %s %s / %d %s %s", st[0], codes[0], msgs[0], st[1],
		              codes[1], msgs[1]);
		int lost = st[0] == 409 ? 0 : 1;
		ck_assert_str_eq(codes[lost], "core.staff_clash");
		ck_assert_msg(strstr(msgs[lost], lost ? "Race A" : "Race B"), "%s", msgs[lost]);
		/* Room: the same. */
		snprintf(
		    b0, sizeof b0,
		    "{\"title\":\"Room A\",\"start\":\"2027-06-%02dT10:00\",\"duration_minutes\":"
		    "60,\"location_kind\":\"community_venue\",\"room_id\":%lld}",
		    3 + round, room);
		snprintf(
		    b1, sizeof b1,
		    "{\"title\":\"Room B\",\"start\":\"2027-06-%02dT10:59\",\"duration_minutes\":"
		    "60,\"location_kind\":\"community_venue\",\"venue_id\":%lld,\"room_id\":%lld}",
		    3 + round, venue, room);
		race("POST", paths, bodies, st, codes, msgs);
		ck_assert_msg((st[0] == 201) + (st[1] == 201) == 1 &&
		                  (st[0] == 409) + (st[1] == 409) == 1,
		              "room race: %d %s %s / %d %s %s", st[0], codes[0], msgs[0], st[1],
		              codes[1], msgs[1]);
		ck_assert_str_eq(codes[st[0] == 409 ? 0 : 1], "core.room_clash");
	}
	ck_assert_int_eq(
	    sql_ll("SELECT count(*) FROM core.session_staff WHERE staff_id = %lld", fac), 4);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.session WHERE room_id = %lld", room), 4);

	/* Restaffing two existing sessions at once: the same. */
	long long s1 = make_session("2027-07-01T10:00", NULL);
	long long s2 = make_session("2027-07-01T10:15", NULL);
	char p1[64], p2[64];
	snprintf(p1, sizeof p1, "/api/v1/sessions/%lld/staff", s1);
	snprintf(p2, sizeof p2, "/api/v1/sessions/%lld/staff", s2);
	snprintf(b0, sizeof b0, "{\"staff\":[{\"staff_id\":%lld,\"role\":\"facilitator\"}]}", fac2);
	const char *paths[2] = {p1, p2}, *bodies[2] = {b0, b0};
	race("PUT", paths, bodies, st, codes, msgs);
	ck_assert_msg((st[0] == 200) + (st[1] == 200) == 1 && (st[0] == 409) + (st[1] == 409) == 1,
	              "restaff race: %d %s / %d %s", st[0], codes[0], st[1], codes[1]);
	ck_assert_str_eq(codes[st[0] == 409 ? 0 : 1], "core.staff_clash");
	ck_assert_int_eq(
	    sql_ll("SELECT count(*) FROM core.session_staff WHERE staff_id = %lld", fac2), 1);

	/* A series over a taken slot is refused whole, naming the session
	 * (09:30-11:00 overlaps whichever of Race A and Race B won). */
	char extra[128];
	snprintf(extra, sizeof extra, ",\"staff\":[{\"staff_id\":%lld}]", fac);
	long long before = sql_ll("SELECT count(*) FROM core.session");
	snprintf(path, sizeof path, "/api/v1/programmes/%lld/series", prog);
	snprintf(b0, sizeof b0,
	         "{\"title\":\"Clashing\",\"rrule\":\"FREQ=DAILY;COUNT=5\",\"start\":"
	         "\"2027-05-01T09:30\",\"duration_minutes\":90,\"location_kind\":\"home\"%s}",
	         extra);
	json_t *j = expect_error(NULL, "POST", path, b0, 409, "core.staff_clash", "staff");
	ck_assert_ptr_nonnull(strstr(s_of(json_object_get(j, "error"), "message"), "Race"));
	json_decref(j);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.session"), before);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.series"), 0);

	/* Cancelling frees the staff member; moving into a clash is refused. */
	long long taken = sql_ll("SELECT session_id FROM core.session_staff WHERE staff_id = %lld"
	                         " ORDER BY session_id LIMIT 1",
	                         fac);
	long long other = make_session("2027-08-02T10:00", extra);
	snprintf(p1, sizeof p1, "/api/v1/sessions/%lld", other);
	char *at =
	    sqlv("SELECT to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
	         " FROM core.session WHERE id = %lld",
	         taken);
	snprintf(b0, sizeof b0, "{\"start\":\"%s\"}", at);
	json_decref(expect_error(NULL, "PATCH", p1, b0, 409, "core.staff_clash", "staff"));
	ck_assert_int_eq(sql_ll("SELECT version FROM core.session WHERE id = %lld", other), 1);
	snprintf(p2, sizeof p2, "/api/v1/sessions/%lld/cancel", taken);
	json_decref(expect_ok(NULL, "POST", p2, "{\"reason\":\"Staff sick\"}", 200));
	json_decref(expect_ok(NULL, "PATCH", p1, b0, 200));
	free(at);
}
END_TEST

/* --- refusals ------------------------------------------------------------------ */

START_TEST(refusals_change_nothing)
{
	char path[64], body[512];
	snprintf(path, sizeof path, "/api/v1/programmes/%lld/series", prog);
	static const struct {
		const char *rule, *start;
		int status;
		const char *code, *field;
	} bad[] = {
	    {"FREQ=WEEKLY;BYDAY=TU;COUNT=3", "2027-03-28T01:30", 422, "core.nonexistent_time",
	     "start"},
	    {"FREQ=WEEKLY;COUNT=3", "2027-10-31T01:30", 422, "core.ambiguous_time", "start"},
	    {"FREQ=DAILY;COUNT=5", "2027-03-26T01:30", 422, "core.nonexistent_time", "rrule"},
	    {"FREQ=DAILY;COUNT=5", "2027-10-29T01:15", 422, "core.ambiguous_time", "rrule"},
	    {"FREQ=DAILY;COUNT=501", "2027-01-01T10:00", 422, "core.too_many_sessions", "rrule"},
	    {"FREQ=DAILY", "2027-01-01T10:00", 422, "core.too_many_sessions", "rrule"},
	    {"FREQ=MONTHLY;COUNT=30", "2027-01-01T10:00", 422, "core.too_many_sessions", "rrule"},
	    {"FREQ=WEEKLY;BYDAY=XX", "2027-01-01T10:00", 400, "core.bad_rrule", "rrule"},
	    {"FREQ=HOURLY;COUNT=2", "2027-01-01T10:00", 400, "core.bad_rrule", "rrule"},
	    {"FREQ=DAILY;COUNT=2;UNTIL=20270301T000000Z", "2027-01-01T10:00", 400, "core.bad_rrule",
	     "rrule"},
	    {"FREQ=WEEKLY;BYDAY=TU;COUNT=2", "2027-03-01T10:00", 422, "core.bad_rrule", "start"},
	    {"FREQ=WEEKLY;COUNT=2", "2027-02-30T10:00", 400, "core.bad_time", "start"},
	    /* Never matches: refused before libical searches to the year 2582. */
	    {"FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "2027-01-01T10:00", 400, "core.bad_rrule",
	     "rrule"},
	    {"FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=4", "2027-01-01T10:00", 400, "core.bad_rrule",
	     "rrule"},
	    {"FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1", "2027-01-04T10:00", 400, "core.bad_rrule",
	     "rrule"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(
		    body, sizeof body,
		    "{\"title\":\"Bad\",\"rrule\":\"%s\",\"start\":\"%s\",\"duration_minutes\":60,"
		    "\"location_kind\":\"home\"}",
		    bad[i].rule, bad[i].start);
		json_decref(expect_error(NULL, "POST", path, body, bad[i].status, bad[i].code,
		                         bad[i].field));
	}
	/* A one-off session at a time that does not exist or happens twice. */
	snprintf(path, sizeof path, "/api/v1/programmes/%lld/sessions", prog);
	json_decref(
	    expect_error(NULL, "POST", path,
	                 "{\"title\":\"x\",\"start\":\"2027-03-28T01:00\",\"duration_minutes\":"
	                 "60,\"location_kind\":\"home\"}",
	                 422, "core.nonexistent_time", "start"));
	json_decref(
	    expect_error(NULL, "POST", path,
	                 "{\"title\":\"x\",\"start\":\"2027-10-31T01:00\",\"duration_minutes\":"
	                 "60,\"location_kind\":\"home\"}",
	                 422, "core.ambiguous_time", "start"));
	json_decref(
	    expect_error(NULL, "POST", path,
	                 "{\"title\":\"x\",\"start\":\"2027-10-31T01:00\",\"duration_minutes\":"
	                 "60,\"location_kind\":\"home\",\"colour\":\"red\"}",
	                 400, "core.unknown_field", "colour"));
	json_decref(
	    expect_error(NULL, "POST", path,
	                 "{\"title\":\"x\",\"start\":\"2027-10-30T01:00\",\"duration_minutes\":"
	                 "1441,\"location_kind\":\"home\"}",
	                 400, "core.out_of_range", "duration_minutes"));
	json_decref(
	    expect_error(NULL, "POST", path,
	                 "{\"title\":\"x\",\"start\":\"2027-10-30T01:00\",\"duration_minutes\":"
	                 "60,\"location_kind\":\"home\",\"room_id\":987654}",
	                 404, "core.not_found", "room_id"));
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.session"), 0);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.series"), 0);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.audit WHERE object_type IN"
	                        " ('series', 'session')"),
	                 0);
	/* With an explicit offset, the repeated hour is fine. */
	long long ok = make_session("2027-10-31T01:30+01:00", NULL);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.session WHERE id = %lld AND"
	                        " starts_at = '2027-10-31T00:30:00Z'",
	                        ok),
	                 1);

	/* Lists: bounded ranges, known parameters only. */
	json_decref(expect_error(NULL, "GET", "/api/v1/sessions?from=2027-01-01&to=2028-03-01",
	                         NULL, 400, "core.bad_range", "to"));
	json_decref(expect_error(NULL, "GET", "/api/v1/sessions?from=2027-03-01&to=2027-02-01",
	                         NULL, 400, "core.bad_range", "to"));
	json_decref(expect_error(NULL, "GET", "/api/v1/sessions?from=yesterday", NULL, 400,
	                         "core.bad_query", "from"));
	json_decref(expect_error(NULL, "GET", "/api/v1/sessions?colour=red", NULL, 400,
	                         "core.bad_query", "colour"));
	json_decref(expect_error(NULL, "GET", "/api/v1/sessions?cursor=12", NULL, 400,
	                         "core.bad_query", "cursor"));
	snprintf(path, sizeof path, "/api/v1/sessions/%lld?x=1", ok);
	json_decref(expect_error(NULL, "GET", path, NULL, 400, "core.bad_query", "x"));
	json_t *j =
	    expect_ok(NULL, "GET", "/api/v1/sessions?from=2027-10-31&to=2027-10-31", NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(j, "items")), 1);
	json_decref(j);
	j = expect_ok(NULL, "GET",
	              "/api/v1/sessions?from=2027-10-31T00:31:00Z&to=2027-11-01T00:00:00%2B01:00",
	              NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(j, "items")), 0);
	json_decref(j);

	/* Illegal session transitions: nothing changes. */
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/cancel", ok);
	json_decref(expect_ok(NULL, "POST", path, "{\"reason\":\"Closed\"}", 200));
	char *fp = sqlv("SELECT row(s.*)::text FROM core.session s WHERE id = %lld", ok);
	json_decref(expect_error(NULL, "POST", path, "{\"reason\":\"Again\"}", 409,
	                         "core.illegal_transition", "status"));
	snprintf(path, sizeof path, "/api/v1/sessions/%lld", ok);
	json_decref(expect_error(NULL, "PATCH", path, "{\"title\":\"New\"}", 409,
	                         "core.illegal_transition", "status"));
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/staff", ok);
	json_decref(expect_error(NULL, "PUT", path, "{\"staff\":[]}", 409,
	                         "core.illegal_transition", "status"));
	char *fp2 = sqlv("SELECT row(s.*)::text FROM core.session s WHERE id = %lld", ok);
	ck_assert_str_eq(fp, fp2);
	free(fp);
	free(fp2);
	/* A stale version. */
	long long fresh = make_session("2027-09-01T10:00", NULL);
	snprintf(path, sizeof path, "/api/v1/sessions/%lld", fresh);
	json_decref(expect_ok(NULL, "PATCH", path, "{\"capacity\":12,\"version\":1}", 200));
	json_decref(expect_error(NULL, "PATCH", path, "{\"capacity\":14,\"version\":1}", 409,
	                         "core.stale", "version"));
	ck_assert_int_eq(sql_ll("SELECT capacity FROM core.session WHERE id = %lld", fresh), 12);
	/* Staff must be of the organisation (B's admin is not). */
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/staff", fresh);
	char body2[128];
	snprintf(body2, sizeof body2, "{\"staff\":[{\"staff_id\":%lld}]}",
	         ts_staff_id(db, "b-admin@example.org"));
	json_decref(expect_error(NULL, "PUT", path, body2, 422, "core.not_member", "staff"));
	snprintf(body2, sizeof body2, "{\"staff\":[{\"staff_id\":%lld},{\"staff_id\":%lld}]}", fac,
	         fac);
	json_decref(expect_error(NULL, "PUT", path, body2, 400, "core.duplicate", "staff"));
}
END_TEST

/* --- closures, cohorts and series cancellation ------------------------------------ */

START_TEST(closures_cohorts_and_series_cancel)
{
	/* Tuesday 6 April 2027 skipped (org-wide), 13 April flagged (the venue's). */
	long long skip =
	    sql_ll("INSERT INTO core.closure (org_id, starts_on, ends_on, reason, effect)"
	           " VALUES (%lld, '2027-04-05', '2027-04-06', 'Easter', 'skip')"
	           " RETURNING id",
	           org);
	long long flag = sql_ll("INSERT INTO core.closure (org_id, venue_id, starts_on, ends_on,"
	                        " reason, effect) VALUES (%lld, %lld, '2027-04-13', '2027-04-13',"
	                        " 'Hall repairs', 'flag') RETURNING id",
	                        org, venue);
	(void)skip;
	/* A cohort with one person enrolled: their seats follow the series. */
	long long person = sql_ll("WITH p AS (INSERT INTO core.person (given_name, family_name)"
	                          " VALUES ('Pat', 'Doe') RETURNING id), l AS (INSERT INTO"
	                          " core.person_org (person_id, org_id) SELECT id, %lld FROM p)"
	                          " SELECT id FROM p",
	                          org);
	long long cohort = sql_ll("INSERT INTO core.cohort (programme_id, name, starts_on) VALUES"
	                          " (%lld, 'Spring', '2027-03-01') RETURNING id",
	                          prog);
	free(sqlv("INSERT INTO core.enrolment (cohort_id, person_id, joined_on) VALUES"
	          " (%lld, %lld, '2027-03-20')",
	          cohort, person));
	char extra[256];
	snprintf(extra, sizeof extra,
	         ",\"venue_id\":%lld,\"cohort_id\":%lld,\"until\":\"2027-04-27\"", venue, cohort);
	json_t *made = make_series("FREQ=WEEKLY;BYDAY=TU", "2027-03-16T10:00", extra);
	json_t *series = json_object_get(made, "series"), *it;
	long long sid = id_of(series);
	ck_assert_str_eq(s_of(series, "rrule"), "FREQ=WEEKLY;UNTIL=20270427T225959Z;BYDAY=TU");
	size_t i;
	int n = 0;
	json_array_foreach(json_object_get(made, "sessions"), i, it)
	{
		const char *date = s_of(json_object_get(it, "local"), "date");
		n++;
		if (!strcmp(date, "2027-04-06")) {
			ck_assert_str_eq(s_of(it, "status"), "cancelled");
			ck_assert_str_eq(s_of(it, "cancel_reason"), "Easter");
		} else {
			ck_assert_str_eq(s_of(it, "status"), "scheduled");
		}
		ck_assert_int_eq(json_integer_value(json_object_get(it, "closure_id")),
		                 strcmp(date, "2027-04-13") ? 0 : flag);
		ck_assert_str_eq(s_of(it, "establishment"), "Town hall");
	}
	ck_assert_int_eq(n, 7); /* 16, 23, 30 March; 6, 13, 20, 27 April */
	/* Seats: joined 20 March, so not the 16th; none on the skipped day. */
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.seat st JOIN core.session s ON"
	                        " s.id = st.session_id WHERE s.series_id = %lld AND st.active",
	                        sid),
	                 5);
	char path[128];
	long long s23 = sql_ll("SELECT id FROM core.session WHERE series_id = %lld AND"
	                       " starts_at = '2027-03-23T10:00:00Z'",
	                       sid);
	snprintf(path, sizeof path, "/api/v1/sessions/%lld", s23);
	json_t *j = expect_ok(NULL, "GET", path, NULL, 200);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(json_object_get(j, "counts"), "expected")), 1);
	json_decref(j);
	snprintf(path, sizeof path, "/api/v1/series/%lld", sid);
	j = expect_ok(NULL, "GET", path, NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(j, "exdates")), 1);
	json_decref(j);

	/* The same person in another cohort at an overlapping time: refused. */
	long long cohort2 = sql_ll("INSERT INTO core.cohort (programme_id, name, starts_on) VALUES"
	                           " (%lld, 'Other', '2027-03-01') RETURNING id",
	                           prog);
	free(sqlv("INSERT INTO core.enrolment (cohort_id, person_id, joined_on) VALUES"
	          " (%lld, %lld, '2027-03-01')",
	          cohort2, person));
	char body[512], ppath[64];
	snprintf(ppath, sizeof ppath, "/api/v1/programmes/%lld/series", prog);
	snprintf(body, sizeof body,
	         "{\"title\":\"Other\",\"rrule\":\"FREQ=WEEKLY;COUNT=3\",\"start\":"
	         "\"2027-03-30T11:00\",\"duration_minutes\":60,\"location_kind\":\"home\","
	         "\"cohort_id\":%lld}",
	         cohort2);
	j = expect_error(NULL, "POST", ppath, body, 409, "core.person_clash", "person_id");
	json_decref(j);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.series"), 1);

	/* Cancel the rest of the series from 20 April. */
	snprintf(path, sizeof path, "/api/v1/series/%lld/cancel", sid);
	j = expect_ok(NULL, "POST", path, "{\"from\":\"2027-04-20\",\"reason\":\"Funding ended\"}",
	              200);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "cancelled")), 2);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(json_object_get(j, "series"), "sequence")), 1);
	json_decref(j);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.seat st JOIN core.session s ON"
	                        " s.id = st.session_id WHERE s.series_id = %lld AND st.active",
	                        sid),
	                 3);
	json_decref(made);
}
END_TEST

/* --- scope --------------------------------------------------------------------- */

START_TEST(each_role_sees_its_own)
{
	char extra[128], path[128], body[256];
	snprintf(extra, sizeof extra, ",\"staff\":[{\"staff_id\":%lld}]", fac);
	long long mine = make_session("2027-05-10T10:00", extra);
	long long theirs = make_session("2027-05-10T12:00", NULL);
	json_t *made = make_series("FREQ=WEEKLY;COUNT=2", "2027-05-11T10:00", NULL);
	long long sid = id_of(json_object_get(made, "series"));
	json_decref(made);

	/* The facilitator sees only the session they run. */
	json_t *j = expect_ok(tok_fac, "GET", "/api/v1/sessions", NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(j, "items")), 1);
	ck_assert_int_eq(id_of(json_array_get(json_object_get(j, "items"), 0)), mine);
	json_decref(j);
	snprintf(path, sizeof path, "/api/v1/sessions/%lld", mine);
	j = expect_ok(tok_fac, "GET", path, NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(j, "staff")), 1);
	json_decref(j);
	json_decref(expect_error(tok_fac, "PATCH", path, "{\"title\":\"Mine\"}", 403,
	                         "core.forbidden", NULL));
	snprintf(path, sizeof path, "/api/v1/sessions/%lld", theirs);
	json_decref(expect_error(tok_fac, "GET", path, NULL, 404, "core.not_found", NULL));
	snprintf(path, sizeof path, "/api/v1/series/%lld", sid);
	json_decref(expect_error(tok_fac, "GET", path, NULL, 404, "core.not_found", NULL));
	/* On the programme's staff list: all of it. */
	free(sqlv("INSERT INTO core.programme_staff (programme_id, staff_id, role) VALUES"
	          " (%lld, %lld, 'mentor')",
	          prog, ts_staff_id(db, "mentor@example.org")));
	j = expect_ok(tok_mentor, "GET", "/api/v1/sessions", NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(j, "items")), 4);
	json_decref(j);
	json_decref(expect_ok(tok_mentor, "GET", path, NULL, 200));
	j = expect_ok(tok_fac2, "GET", "/api/v1/sessions", NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(j, "items")), 0);
	json_decref(j);

	/* Commissioners: not here at all. */
	json_decref(
	    expect_error(tok_comm, "GET", "/api/v1/sessions", NULL, 403, "core.forbidden", NULL));
	json_decref(expect_error(tok_comm, "GET", path, NULL, 403, "core.forbidden", NULL));

	/* Another organisation: nothing exists. */
	j = expect_ok(tok_b, "GET", "/api/v1/sessions", NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(j, "items")), 0);
	json_decref(j);
	json_decref(expect_error(tok_b, "GET", path, NULL, 404, "core.not_found", NULL));
	snprintf(path, sizeof path, "/api/v1/sessions/%lld", mine);
	json_decref(expect_error(tok_b, "GET", path, NULL, 404, "core.not_found", NULL));
	json_decref(
	    expect_error(tok_b, "PATCH", path, "{\"title\":\"B\"}", 404, "core.not_found", NULL));
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/cancel", mine);
	json_decref(
	    expect_error(tok_b, "POST", path, "{\"reason\":\"B\"}", 404, "core.not_found", NULL));
	snprintf(path, sizeof path, "/api/v1/series/%lld/cancel", sid);
	json_decref(expect_error(tok_b, "POST", path, "{\"from\":\"2027-01-01\",\"reason\":\"B\"}",
	                         404, "core.not_found", NULL));
	snprintf(path, sizeof path, "/api/v1/programmes/%lld/series", prog);
	snprintf(
	    body, sizeof body,
	    "{\"title\":\"B\",\"rrule\":\"FREQ=WEEKLY;COUNT=2\",\"start\":\"2027-05-11T10:00\","
	    "\"duration_minutes\":60,\"location_kind\":\"home\"}");
	json_decref(expect_error(tok_b, "POST", path, body, 404, "core.not_found", NULL));
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.series"), 1);
	char *status = sqlv("SELECT status::text FROM core.session WHERE id = %lld", mine);
	ck_assert_str_eq(status, "scheduled");
	free(status);
}
END_TEST

/* --- clashes across organisations ------------------------------------------- */

/* The message of a 409 reply (caller frees). */
static char *message_of(json_t *j)
{
	const char *m = s_of(json_object_get(j, "error"), "message");
	ck_assert_ptr_nonnull(m);
	char *copy = strdup(m);
	json_decref(j);
	return copy;
}

START_TEST(clashes_say_nothing_about_other_organisations)
{
	/* A facilitator working for both organisations, and a participant both
	 * hold; Organisation B runs a session with each at 10:00 on 6 Sept. */
	char tok_shared[96], tok_both[96], path[96], body[512];
	token(tok_shared, "Test organisation", "shared@example.org", "facilitator");
	token(tok_shared, "Organisation B", "shared@example.org", "facilitator");
	token(tok_both, "Test organisation", "both@example.org", "coordinator");
	token(tok_both, "Organisation B", "both@example.org", "coordinator");
	long long shared = ts_staff_id(db, "shared@example.org");
	long long org_b = ts_org_id(db, "Organisation B");
	long long prog_b = sql_ll("INSERT INTO core.programme (org_id, type, name) VALUES (%lld,"
	                          " 'example', 'Programme B') RETURNING id",
	                          org_b);
	long long person = sql_ll("WITH p AS (INSERT INTO core.person (given_name, family_name)"
	                          " VALUES ('Sam', 'Roe') RETURNING id), l AS (INSERT INTO"
	                          " core.person_org (person_id, org_id) SELECT id, o FROM p,"
	                          " unnest(ARRAY[%lld, %lld]) o) SELECT id FROM p",
	                          org, org_b);
	long long cohort_b = sql_ll("INSERT INTO core.cohort (programme_id, name, starts_on) VALUES"
	                            " (%lld, 'B cohort', '2027-01-01') RETURNING id",
	                            prog_b);
	long long cohort_a = sql_ll("INSERT INTO core.cohort (programme_id, name, starts_on) VALUES"
	                            " (%lld, 'A cohort', '2027-01-01') RETURNING id",
	                            prog);
	free(sqlv("INSERT INTO core.enrolment (cohort_id, person_id, joined_on) VALUES"
	          " (%lld, %lld, '2027-01-01'), (%lld, %lld, '2027-01-01')",
	          cohort_b, person, cohort_a, person));
	snprintf(path, sizeof path, "/api/v1/programmes/%lld/sessions", prog_b);
	snprintf(
	    body, sizeof body,
	    "{\"title\":\"Org B substance misuse group\",\"start\":\"2027-09-06T10:00\","
	    "\"duration_minutes\":60,\"location_kind\":\"home\",\"staff\":[{\"staff_id\":%lld}]}",
	    shared);
	json_t *j = expect_ok(tok_b, "POST", path, body, 201);
	long long secret = id_of(j);
	json_decref(j);
	snprintf(body, sizeof body,
	         "{\"title\":\"Org B family group\",\"start\":\"2027-09-07T10:00\","
	         "\"duration_minutes\":60,\"location_kind\":\"home\",\"cohort_id\":%lld}",
	         cohort_b);
	json_decref(expect_ok(tok_b, "POST", path, body, 201));
	ck_assert_int_eq(
	    sql_ll("SELECT count(*) FROM core.seat WHERE person_id = %lld AND active", person), 1);
	char secret_id[32];
	snprintf(secret_id, sizeof secret_id, "session %lld", secret);

	/* Test organisation's coordinator: a clash, but not what with. */
	snprintf(path, sizeof path, "/api/v1/programmes/%lld/sessions", prog);
	char staff_body[512], seat_body[512];
	snprintf(staff_body, sizeof staff_body,
	         "{\"title\":\"A group\",\"start\":\"2027-09-06T10:30\",\"duration_minutes\":60,"
	         "\"location_kind\":\"home\",\"staff\":[{\"staff_id\":%lld}]}",
	         shared);
	snprintf(seat_body, sizeof seat_body,
	         "{\"title\":\"A group\",\"start\":\"2027-09-07T10:30\",\"duration_minutes\":60,"
	         "\"location_kind\":\"home\",\"cohort_id\":%lld}",
	         cohort_a);
	char *m = message_of(
	    expect_error(NULL, "POST", path, staff_body, 409, "core.staff_clash", "staff"));
	ck_assert_msg(!strstr(m, "Org B") && !strstr(m, secret_id) && !strstr(m, "10:00"), "%s", m);
	ck_assert_msg(strstr(m, "another session at an overlapping time"), "%s", m);
	free(m);
	m = message_of(
	    expect_error(NULL, "POST", path, seat_body, 409, "core.person_clash", "person_id"));
	ck_assert_msg(!strstr(m, "Org B") && !strstr(m, "10:00"), "%s", m);
	ck_assert_msg(strstr(m, "another session at an overlapping time"), "%s", m);
	free(m);
	/* A one-off in the Test organisation, moved or restaffed into the
	 * clash: the same. */
	long long mine = make_session("2027-09-06T14:00", NULL);
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/staff", mine);
	snprintf(body, sizeof body, "{\"staff\":[{\"staff_id\":%lld}]}", shared);
	json_decref(expect_ok(NULL, "PUT", path, body, 200));
	snprintf(path, sizeof path, "/api/v1/sessions/%lld", mine);
	m = message_of(expect_error(NULL, "PATCH", path, "{\"start\":\"2027-09-06T10:15\"}", 409,
	                            "core.staff_clash", "staff"));
	ck_assert_msg(!strstr(m, "Org B") && strstr(m, "another session at an overlapping time"),
	              "%s", m);
	free(m);

	/* A coordinator of both organisations is told which session it is. */
	snprintf(path, sizeof path, "/api/v1/programmes/%lld/sessions", prog);
	m = message_of(
	    expect_error(tok_both, "POST", path, staff_body, 409, "core.staff_clash", "staff"));
	ck_assert_msg(strstr(m, "Org B substance misuse group") && strstr(m, secret_id), "%s", m);
	free(m);
	m = message_of(
	    expect_error(tok_both, "POST", path, seat_body, 409, "core.person_clash", "person_id"));
	ck_assert_msg(strstr(m, "Org B family group"), "%s", m);
	free(m);
	/* Within one organisation the other session is still named. */
	snprintf(body, sizeof body, ",\"staff\":[{\"staff_id\":%lld}]", fac);
	make_session("2027-09-08T10:00", body);
	snprintf(body, sizeof body,
	         "{\"title\":\"Clash\",\"start\":\"2027-09-08T10:30\",\"duration_minutes\":60,"
	         "\"location_kind\":\"home\",\"staff\":[{\"staff_id\":%lld}]}",
	         fac);
	m = message_of(expect_error(NULL, "POST", path, body, 409, "core.staff_clash", "staff"));
	ck_assert_msg(strstr(m, "\"One-off\""), "%s", m);
	free(m);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.session WHERE org_id = %lld", org), 2);
}
END_TEST

/* --- cancelling what has started ------------------------------------------------- */

static void clock_at(const char *instant)
{
	free(sqlv("UPDATE core.test_clock SET offset_by = '%s'::timestamptz - now()", instant));
}

static void attended(long long session, long long person)
{
	free(sqlv("INSERT INTO core.seat (session_id, person_id, source, during, active)"
	          " SELECT id, %lld, 'enrolment', during, true FROM core.session WHERE id = %lld",
	          person, session));
	free(sqlv(
	    "INSERT INTO core.attendance (session_id, person_id, outcome_code_id) SELECT"
	    " %lld, %lld, id FROM core.outcome_code WHERE org_id IS NULL AND code = 'attended'",
	    session, person));
}

START_TEST(started_sessions_are_cancelled_only_when_forced)
{
	char path[96], body[256];
	long long person = sql_ll("WITH p AS (INSERT INTO core.person (given_name, family_name)"
	                          " VALUES ('Lee', 'Poe') RETURNING id), l AS (INSERT INTO"
	                          " core.person_org (person_id, org_id) SELECT id, %lld FROM p)"
	                          " SELECT id FROM p",
	                          org);
	long long held = make_session("2027-01-11T10:00", NULL);
	long long recorded = make_session("2027-01-12T10:00", NULL);
	long long later = make_session("2027-01-20T10:00", NULL);
	json_t *made = make_series("FREQ=WEEKLY;COUNT=4", "2027-01-05T12:00", NULL); /* 5..26 Jan */
	long long sid = id_of(json_object_get(made, "series"));
	json_decref(made);
	made = make_series("FREQ=WEEKLY;COUNT=2", "2027-01-06T12:00", NULL); /* 6, 13 Jan */
	long long sid2 = id_of(json_object_get(made, "series"));
	json_decref(made);
	clock_at("2027-01-13T11:00:00Z");
	attended(recorded, person);
	const char *fp_sql =
	    "SELECT string_agg(status::text || version || sequence, ',' ORDER BY id)"
	    " FROM core.session";
	char *before = sqlv("%s", fp_sql);

	/* One session: started → refused unless forced; attendance → never. */
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/cancel", held);
	json_decref(expect_error(NULL, "POST", path, "{\"reason\":\"Oops\"}", 422,
	                         "core.already_started", NULL));
	json_decref(expect_error(NULL, "POST", path, "{\"reason\":\"Oops\",\"force\":false}", 422,
	                         "core.already_started", NULL));
	json_decref(expect_error(NULL, "POST", path, "{\"reason\":\"Oops\",\"force\":\"yes\"}", 400,
	                         "core.wrong_type", "force"));
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/cancel", recorded);
	json_decref(expect_error(NULL, "POST", path, "{\"reason\":\"Oops\"}", 409,
	                         "core.has_attendance", NULL));
	json_decref(expect_error(NULL, "POST", path, "{\"reason\":\"Oops\",\"force\":true}", 409,
	                         "core.has_attendance", NULL));
	/* A series from a date whose sessions have started: the same, naming from. */
	snprintf(path, sizeof path, "/api/v1/series/%lld/cancel", sid);
	json_decref(expect_error(NULL, "POST", path,
	                         "{\"from\":\"2027-01-10\",\"reason\":\"Oops\"}", 422,
	                         "core.already_started", "from"));
	long long inst = sql_ll("SELECT id FROM core.session WHERE series_id = %lld AND"
	                        " starts_at = '2027-01-12T12:00:00Z'",
	                        sid);
	attended(inst, person);
	json_decref(expect_error(NULL, "POST", path,
	                         "{\"from\":\"2027-01-01\",\"reason\":\"Oops\",\"force\":true}",
	                         409, "core.has_attendance", "from"));
	char *after = sqlv("%s", fp_sql);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.audit WHERE action LIKE '%%.cancel'"),
	                 0);

	/* What has not started goes as before; forcing is recorded. */
	json_t *j =
	    expect_ok(NULL, "POST", path, "{\"from\":\"2027-01-13\",\"reason\":\"Ended\"}", 200);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "cancelled")), 2);
	json_decref(j);
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/cancel", later);
	json_decref(expect_ok(NULL, "POST", path, "{\"reason\":\"Room flooded\"}", 200));
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/cancel", held);
	j = expect_ok(NULL, "POST", path, "{\"reason\":\"Never took place\",\"force\":true}", 200);
	ck_assert_str_eq(s_of(j, "status"), "cancelled");
	json_decref(j);
	snprintf(path, sizeof path, "/api/v1/series/%lld/cancel", sid2);
	snprintf(body, sizeof body,
	         "{\"from\":\"2027-01-06\",\"reason\":\"Wrong\",\"force\":true}");
	j = expect_ok(NULL, "POST", path, body, 200);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "cancelled")), 2);
	json_decref(j);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.audit WHERE action = 'session.cancel'"
	                        " AND object_id = %lld AND (detail->>'forced')::boolean",
	                        held),
	                 1);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.audit WHERE action = 'session.cancel'"
	                        " AND object_id = %lld AND NOT (detail->>'forced')::boolean",
	                        later),
	                 1);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.audit WHERE action = 'series.cancel'"
	                        " AND object_id = %lld AND (detail->>'forced')::boolean",
	                        sid2),
	                 1);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.audit WHERE action = 'series.cancel'"
	                        " AND object_id = %lld AND NOT (detail->>'forced')::boolean",
	                        sid),
	                 1);
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.session WHERE status = 'scheduled'"), 3);
}
END_TEST

/* --- one-sided ranges, moves onto closures, restaffing audit ------------------------ */

static int listed(const char *query)
{
	char path[160];
	snprintf(path, sizeof path, "/api/v1/sessions?%s&limit=100", query);
	json_t *j = expect_ok(NULL, "GET", path, NULL, 200);
	int n = (int)json_array_size(json_object_get(j, "items"));
	json_decref(j);
	return n;
}

START_TEST(ranges_moves_and_restaffing)
{
	char path[96], body[256];
	make_session("2026-12-15T10:00", NULL);
	long long june = make_session("2027-06-01T10:00", NULL);
	make_session("2028-03-01T10:00", NULL);
	/* from alone: up to from + 400 days (5 Feb 2028); to alone: from to - 400 days. */
	ck_assert_int_eq(listed("from=2027-01-01"), 1);
	ck_assert_int_eq(listed("from=2026-12-01"), 2);
	ck_assert_int_eq(listed("from=2027-01-01T00:00:00Z"), 1);
	ck_assert_int_eq(listed("to=2028-03-02"), 2);
	ck_assert_int_eq(listed("to=2028-01-20"), 1);
	ck_assert_int_eq(listed("to=2028-03-02T00:00:00Z"), 2);
	ck_assert_int_eq(listed("from=2026-12-01&to=2027-12-31"), 2);
	snprintf(body, sizeof body, "programme_id=%lld", prog);
	ck_assert_int_eq(listed(body), 3); /* no range at all: paged, not bounded */

	/* Moves re-apply closures: a skip day is refused, a flag day flags. */
	long long skip =
	    sql_ll("INSERT INTO core.closure (org_id, starts_on, ends_on, reason, effect)"
	           " VALUES (%lld, '2027-07-05', '2027-07-06', 'Summer fair', 'skip')"
	           " RETURNING id",
	           org);
	long long flag = sql_ll("INSERT INTO core.closure (org_id, venue_id, starts_on, ends_on,"
	                        " reason, effect) VALUES (%lld, %lld, '2027-07-08', '2027-07-08',"
	                        " 'Hall repairs', 'flag') RETURNING id",
	                        org, venue);
	(void)skip;
	snprintf(path, sizeof path, "/api/v1/sessions/%lld", june);
	json_decref(expect_error(NULL, "PATCH", path, "{\"start\":\"2027-07-05T23:30\"}", 422,
	                         "core.closed_day", "start"));
	ck_assert_int_eq(sql_ll("SELECT version FROM core.session WHERE id = %lld", june), 1);
	/* The flag closure is the hall's: elsewhere the day is not flagged. */
	json_t *j = expect_ok(NULL, "PATCH", path, "{\"start\":\"2027-07-08T10:00\"}", 200);
	ck_assert(json_is_null(json_object_get(j, "closure_id")));
	json_decref(j);
	snprintf(body, sizeof body, "{\"venue_id\":%lld}", venue);
	j = expect_ok(NULL, "PATCH", path, body, 200);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "closure_id")), flag);
	json_decref(j);
	j = expect_ok(NULL, "PATCH", path, "{\"start\":\"2027-07-09T10:00\"}", 200);
	ck_assert(json_is_null(json_object_get(j, "closure_id")));
	json_decref(j);
	j = expect_ok(NULL, "PATCH", path, "{\"start\":\"2027-07-08T09:00\",\"title\":\"Back\"}",
	              200);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "closure_id")), flag);
	json_decref(j);
	json_decref(expect_error(NULL, "PATCH", path, "{\"start\":\"2027-07-06T09:00\"}", 422,
	                         "core.closed_day", "start"));
	ck_assert_int_eq(sql_ll("SELECT count(*) FROM core.session WHERE id = %lld AND"
	                        " starts_at = '2027-07-08T08:00:00Z' AND closure_id = %lld",
	                        june, flag),
	                 1);

	/* Restaffing is audited with who was added and who removed. */
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/staff", june);
	snprintf(body, sizeof body, "{\"staff\":[{\"staff_id\":%lld}]}", fac);
	json_decref(expect_ok(NULL, "PUT", path, body, 200));
	snprintf(body, sizeof body, "{\"staff\":[{\"staff_id\":%lld},{\"staff_id\":%lld}]}", fac2,
	         fac);
	json_decref(expect_ok(NULL, "PUT", path, body, 200));
	snprintf(body, sizeof body, "{\"staff\":[{\"staff_id\":%lld}]}", fac2);
	json_decref(expect_ok(NULL, "PUT", path, body, 200));
	char *details = sqlv("SELECT string_agg((detail->'added')::text || '/' ||"
	                     " (detail->'removed')::text, ' ' ORDER BY id) FROM core.audit"
	                     " WHERE action = 'session.staff' AND object_id = %lld",
	                     june);
	char want[128];
	snprintf(want, sizeof want, "[%lld]/[] [%lld]/[] []/[%lld]", fac, fac2, fac);
	ck_assert_str_eq(details, want);
	free(details);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sessions");
	TCase *tc = tcase_create("sessions");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, series_agree_with_dateutil_across_clock_changes);
	tcase_add_test(tc, double_booking_races_end_in_one_success_and_one_clash);
	tcase_add_test(tc, refusals_change_nothing);
	tcase_add_test(tc, closures_cohorts_and_series_cancel);
	tcase_add_test(tc, each_role_sees_its_own);
	tcase_add_test(tc, clashes_say_nothing_about_other_organisations);
	tcase_add_test(tc, started_sessions_are_cancelled_only_when_forced);
	tcase_add_test(tc, ranges_moves_and_restaffing);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
