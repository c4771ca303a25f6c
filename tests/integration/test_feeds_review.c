/*
 * Calendar feeds: the review's findings (reviewer R1), each a test that
 * fails on the defect it names. Helpers copied from test_feeds.c.
 *
 * - staff_feed_stays_in_its_organisation: a coordinator of one
 *   organisation who makes (or regenerates) a facilitator's feed must not
 *   read that facilitator's sessions in another organisation.
 * - public_feed_hides_person_anchored_sessions: a release-anchored session
 *   exists for one person and moves with their release date; the public
 *   listing must not show it.
 * - utc_programme_feed: a programme in "UTC" (or "GMT"), zones PostgreSQL
 *   accepts, must not make every feed that includes it fail with 500.
 * - etc_utc_series_feed: a series in a programme whose zone is Etc/UTC
 *   (the zone SQL also uses as its "write in UTC" marker) must not fail
 *   the feed.
 * - long_rrule_writes: a stored rule up to the 500 characters series.rrule
 *   allows must not make the writer (and so the whole feed) fail, and
 *   every fold must stay valid.
 * - last_modified_moves_when_a_session_leaves_the_window: a public feed
 *   whose newest event is rescheduled out of the window must not answer
 *   304 to If-Modified-Since.
 * - series_master_sequence_moves_on_cancel: cancelling one instance of a
 *   series shown whole adds an EXDATE to the master; its SEQUENCE and
 *   DTSTAMP must move (ICAL.md D4/D5).
 */
#include <check.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ical.h"
#include "ts.h"

static struct ts_server srv;
static char *db;
static long long org;

static void setup(void)
{
	db = ts_db_create("feedsrev");
	struct ts_server_opts o = {.database_url = db};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	ts_server_grant(&srv, db);
	org = ts_org_id(db, "Test organisation");
	free(ts_db_value(db, "UPDATE core.test_clock SET offset_by ="
	                     " '2027-01-15T12:00:00Z'::timestamptz - now()"));
}

static void teardown(void)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
}

/* --- helpers (from test_feeds.c) ------------------------------------------- */

static long long sqln(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long sqln(const char *fmt, ...)
{
	char q[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q, sizeof q, fmt, ap);
	va_end(ap);
	char *v = ts_db_value(db, q);
	long long x = v ? atoll(v) : 0;
	free(v);
	return x;
}

static char *sqls(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sqls(const char *fmt, ...)
{
	char q[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q, sizeof q, fmt, ap);
	va_end(ap);
	return ts_db_value(db, q);
}

static void call(const char *token, const char *method, const char *path, const char *hdrs,
                 const char *body, struct ts_response *r)
{
	char h[1024] = "";
	if (token && *token)
		snprintf(h, sizeof h, "Authorization: Bearer %s\r\n", token);
	else if (!token)
		snprintf(h, sizeof h, "Authorization: Bearer %s\r\n", srv.token);
	if (body)
		strncat(h, "Content-Type: application/json\r\n", sizeof h - strlen(h) - 1);
	if (hdrs)
		strncat(h, hdrs, sizeof h - strlen(h) - 1);
	ck_assert_int_eq(ts_http(&srv, method, path, h, body, body ? strlen(body) : 0, 20000, r),
	                 0);
}

static json_t *ok_json(const char *token, const char *method, const char *path, const char *body,
                       int status)
{
	struct ts_response r;
	call(token, method, path, NULL, body, &r);
	ck_assert_msg(r.status == status, "%s %s: %d %s", method, path, r.status, r.body);
	json_t *j = ts_json(&r);
	ts_response_free(&r);
	ck_assert_ptr_nonnull(j);
	return j;
}

struct feed {
	long long id;
	char token[96], path[160];
};

static void feed_from(json_t *j, struct feed *f)
{
	const char *t = json_string_value(json_object_get(j, "token"));
	const char *url = json_string_value(json_object_get(j, "url"));
	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_nonnull(url);
	f->id = json_integer_value(json_object_get(j, "id"));
	snprintf(f->token, sizeof f->token, "%s", t);
	snprintf(f->path, sizeof f->path, "%s", url + strlen(srv.url));
}

static void make_feed(const char *token, const char *body, struct feed *f)
{
	json_t *j = ok_json(token, "POST", "/api/v1/feeds", body, 201);
	feed_from(j, f);
	json_decref(j);
}

static char *check_ical(const char *body, size_t len, const char *from, const char *to)
{
	char dir[] = "/tmp/wm-feedsrev-XXXXXX", file[96], cmd[2048], bin[512];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(file, sizeof file, "%s/feed.ics", dir);
	FILE *fp = fopen(file, "wb");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(body, 1, len, fp), len);
	fclose(fp);
	snprintf(bin, sizeof bin, "%s", WAYMARK_BIN);
	snprintf(cmd, sizeof cmd,
	         "ICAL_LIBICAL=%s/ical_libical ICAL_CHECK_KEEP=%s %s/tests/tools/ical_check_all.sh"
	         " %s %s %s > %s/out.txt 2>&1",
	         dirname(bin), dir, WAYMARK_SOURCE_DIR, file, from ? from : "", to ? to : "", dir);
	int rc = system(cmd);
	char out[8192] = "", path[128];
	snprintf(path, sizeof path, "%s/out.txt", dir);
	fp = fopen(path, "r");
	if (fp) {
		out[fread(out, 1, sizeof out - 1, fp)] = '\0';
		fclose(fp);
	}
	ck_assert_msg(rc == 0, "ical_check_all failed:\n%s\n--- feed ---\n%.3000s", out, body);
	char *exp = NULL;
	if (from) {
		snprintf(path, sizeof path, "%s/expand-libical.out", dir);
		fp = fopen(path, "r");
		ck_assert_ptr_nonnull(fp);
		exp = calloc(1, 1 << 20);
		size_t n = fread(exp, 1, (1 << 20) - 1, fp);
		exp[n] = '\0';
		fclose(fp);
	}
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	return exp;
}

static char *get_feed(const char *path)
{
	struct ts_response r;
	call("", "GET", path, NULL, NULL, &r);
	ck_assert_msg(r.status == 200, "GET %s: %d %s", path, r.status, r.body);
	free(check_ical(r.body, r.body_len, NULL, NULL));
	char *body = strdup(r.body);
	ts_response_free(&r);
	return body;
}

static long long programme_in(long long in_org, const char *name, int listed, const char *tz)
{
	return sqln("INSERT INTO core.programme (org_id, type, name, public_listing, time_zone)"
	            " VALUES (%lld, 'example', '%s', %s, '%s') RETURNING id",
	            in_org, name, listed ? "true" : "false", tz ? tz : "Europe/London");
}

/* A one-off session `days` after the test clock's now, 10:00-12:00 London. */
static long long session_in(long long in_org, long long prog, const char *title, int days,
                            const char *extra_cols, const char *extra_vals)
{
	return sqln("INSERT INTO core.session (programme_id, org_id, title, starts_at, ends_at,"
	            " location_kind%s) SELECT %lld, %lld, '%s',"
	            " ((core.clock() AT TIME ZONE 'Europe/London')::date + %d + time '10:00')"
	            "   AT TIME ZONE 'Europe/London',"
	            " ((core.clock() AT TIME ZONE 'Europe/London')::date + %d + time '12:00')"
	            "   AT TIME ZONE 'Europe/London', 'community_venue'%s RETURNING id",
	            extra_cols ? extra_cols : "", prog, in_org, title, days, days,
	            extra_vals ? extra_vals : "");
}

static void staff_on(long long session, long long staff, const char *role)
{
	free(sqls("INSERT INTO core.session_staff (session_id, staff_id, role, during)"
	          " SELECT id, %lld, '%s', during FROM core.session WHERE id = %lld",
	          staff, role, session));
}

/* --- findings -------------------------------------------------------------- */

START_TEST(staff_feed_stays_in_its_organisation)
{
	/* One facilitator working for two organisations. The caller (the
	 * server's token) coordinates "Test organisation" only. */
	char *fac = ts_staff_token(db, "Test organisation", "twoorgs@r1.test", "facilitator", 0);
	free(ts_staff_token(db, "Zqxother Trust", "twoorgs@r1.test", "facilitator", 0));
	long long fac_id = ts_staff_id(db, "twoorgs@r1.test");
	long long orgb = ts_org_id(db, "Zqxother Trust");
	long long pa = programme_in(org, "Ours", 0, NULL);
	long long pb = programme_in(orgb, "Zqxtheirs programme", 0, NULL);
	long long sa = session_in(org, pa, "Our session", 10, NULL, NULL);
	long long sb = session_in(orgb, pb, "Zqxtheir session", 12, NULL, NULL);
	staff_on(sa, fac_id, "facilitator");
	staff_on(sb, fac_id, "facilitator");

	/* The coordinator makes a feed for the facilitator: the link comes
	 * back to the coordinator, so it may show only their organisation. */
	char body[256], path[160];
	struct feed f;
	snprintf(body, sizeof body, "{\"kind\":\"facilitator\",\"staff_id\":%lld}", fac_id);
	make_feed(NULL, body, &f);
	char *b = get_feed(f.path);
	ck_assert_msg(strstr(b, "Our session") != NULL, "own organisation's session missing");
	ck_assert_msg(!strstr(b, "Zqxtheir"),
	              "a coordinator of one organisation reads another's sessions:\n%s", b);
	free(b);

	/* The facilitator's own feed, regenerated by the coordinator (who may
	 * manage it): the new link is the coordinator's to read. */
	struct feed own;
	make_feed(fac, "{\"kind\":\"facilitator\"}", &own);
	snprintf(path, sizeof path, "/api/v1/feeds/%lld/regenerate", own.id);
	struct ts_response r;
	call(NULL, "POST", path, NULL, NULL, &r);
	/* Either refused (404), or the new link shows this organisation only. */
	ck_assert_msg(r.status == 200 || r.status == 404, "regenerate: %d %s", r.status, r.body);
	if (r.status == 200) {
		json_t *j = ts_json(&r);
		struct feed regen;
		feed_from(j, &regen);
		json_decref(j);
		b = get_feed(regen.path);
		ck_assert_msg(!strstr(b, "Zqxtheir"),
		              "a regenerated link hands another organisation's sessions to a"
		              " coordinator:\n%s",
		              b);
		free(b);
	}
	ts_response_free(&r);
	/* The facilitator's own link still shows both organisations. */
	snprintf(path, sizeof path, "/api/v1/feeds/%lld/regenerate", own.id);
	json_t *j = ok_json(fac, "POST", path, NULL, 200);
	struct feed mine;
	feed_from(j, &mine);
	json_decref(j);
	b = get_feed(mine.path);
	ck_assert_ptr_nonnull(strstr(b, "Zqxtheir session"));
	free(b);
	free(fac);
}
END_TEST

START_TEST(public_feed_hides_person_anchored_sessions)
{
	long long p = sqln("WITH p AS (INSERT INTO core.person (given_name, family_name,"
	                   " expected_release_date, is_participant) VALUES ('Ann', 'Example',"
	                   " '2027-03-01', true) RETURNING id),"
	                   " l AS (INSERT INTO core.person_org SELECT id, %lld FROM p)"
	                   " SELECT id FROM p",
	                   org);
	long long prog = programme_in(org, "Resettlement", 1, NULL);
	session_in(org, prog, "Open session", 5, NULL, NULL);
	char vals[128];
	snprintf(vals, sizeof vals, ", %lld, -14", p);
	/* What the release-anchored route writes: one person's session, at
	 * their release date + offset, moving when the date moves. */
	session_in(org, prog, "Zqxanchored meeting", 30, ", anchor_person_id, anchor_offset_days",
	           vals);
	char body[128];
	struct feed f;
	snprintf(body, sizeof body, "{\"kind\":\"programme\",\"programme_id\":%lld}", prog);
	make_feed(NULL, body, &f);
	char *b = get_feed(f.path);
	ck_assert_ptr_nonnull(strstr(b, "Open session"));
	ck_assert_msg(!strstr(b, "Zqxanchored"),
	              "the public listing shows a session anchored to one person's release"
	              " date:\n%s",
	              b);
	free(b);
}
END_TEST

START_TEST(utc_programme_feed)
{
	const char *zones[] = {"UTC", "GMT"};
	for (int i = 0; i < 2; i++) {
		char name[32], body[128];
		snprintf(name, sizeof name, "In %s", zones[i]);
		long long prog = programme_in(org, name, 1, zones[i]);
		session_in(org, prog, "Zoned session", 7, NULL, NULL);
		struct feed f;
		snprintf(body, sizeof body, "{\"kind\":\"programme\",\"programme_id\":%lld}", prog);
		make_feed(NULL, body, &f);
		char *b = get_feed(f.path); /* 500 "Cannot build the calendar" before */
		ck_assert_ptr_nonnull(strstr(b, "SUMMARY:Zoned session"));
		free(b);
	}
}
END_TEST

START_TEST(long_rrule_writes)
{
	/* series.rrule allows 500 characters; the writer must take whatever
	 * ical_rrule_for_feed() makes of them, and fold every length validly
	 * (one event per list length, so some land on libical's bare-CR case). */
	struct ical_writer *w = ical_writer_new(4u << 20);
	ck_assert_ptr_nonnull(w);
	struct ical_calendar c = {.prodid = "-//Waymark//Review//EN",
	                          .name = "Long rules",
	                          .tzid = "Europe/London",
	                          .refresh_minutes = 60};
	ck_assert_int_eq(ical_begin(w, &c), WM_OK);
	int written = 0, refused = 0;
	for (int n = 10; n <= 140; n++) {
		char stored[1024] = "FREQ=YEARLY;BYYEARDAY=", rule[ICAL_RRULE_MAX], uid[64];
		for (int d = 1; d <= n; d++) {
			char x[8];
			snprintf(x, sizeof x, d > 1 ? ",%d" : "%d", d);
			strcat(stored, x);
		}
		if (strlen(stored) > 500)
			break;
		/* Refused only for a rule libical itself would write with a bare CR
		 * (the series is then written as one-offs). */
		if (ical_rrule_for_feed(stored, "20271231T235959Z", rule, sizeof rule) != WM_OK) {
			refused++;
			continue;
		}
		snprintf(uid, sizeof uid, "series-%d@waymark.invalid", n);
		struct ical_event e = {.uid = uid,
		                       .dtstamp_utc = "20270101T000000Z",
		                       .tzid = "Europe/London",
		                       .dtstart_local = "20270101T100000",
		                       .dtend_local = "20270101T110000",
		                       .rrule = rule,
		                       .summary = "Daily-ish",
		                       .status = "CONFIRMED"};
		ck_assert_msg(ical_event_write(w, &e) == WM_OK,
		              "a %zu-character RRULE fails the whole feed", strlen(rule));
		written++;
	}
	ck_assert_int_gt(written, 60);
	ck_assert_msg(refused * 10 < written, "%d of %d rules refused", refused, written + refused);
	ck_assert_int_eq(ical_end(w), WM_OK);
	size_t len;
	const char *data = ical_writer_data(w, &len);
	free(check_ical(data, len, NULL, NULL));
	ical_writer_free(w);
}
END_TEST

START_TEST(series_master_sequence_moves_on_cancel)
{
	long long prog = programme_in(org, "Weekly club", 1, NULL);
	char path[160], body[512];
	snprintf(path, sizeof path, "/api/v1/programmes/%lld/series", prog);
	snprintf(body, sizeof body,
	         "{\"title\":\"Weekly club\",\"rrule\":\"FREQ=WEEKLY;BYDAY=TU;COUNT=6\","
	         "\"start\":\"2027-02-02T10:00\",\"duration_minutes\":60,"
	         "\"location_kind\":\"community_venue\"}");
	json_decref(ok_json(NULL, "POST", path, body, 201));
	struct feed f;
	snprintf(body, sizeof body, "{\"kind\":\"programme\",\"programme_id\":%lld}", prog);
	make_feed(NULL, body, &f);
	char *b1 = get_feed(f.path);
	ck_assert_msg(strstr(b1, "RRULE:") && !strstr(b1, "EXDATE"), "%s", b1);
	char *m1 = strstr(b1, "UID:series-");
	ck_assert_ptr_nonnull(m1);
	char seq1[32] = "", stamp1[40] = "";
	sscanf(strstr(m1, "SEQUENCE:"), "SEQUENCE:%31[0-9]", seq1);
	sscanf(strstr(m1, "DTSTAMP:"), "DTSTAMP:%39[0-9TZ]", stamp1);
	sleep(1);
	long long third = sqln("SELECT id FROM core.session WHERE programme_id = %lld"
	                       " ORDER BY starts_at OFFSET 2 LIMIT 1",
	                       prog);
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/cancel", third);
	json_decref(ok_json(NULL, "POST", path, "{\"reason\":\"Closed\"}", 200));
	char *b2 = get_feed(f.path);
	char *m2 = strstr(b2, "UID:series-");
	ck_assert_ptr_nonnull(m2);
	ck_assert_msg(strstr(m2, "EXDATE") != NULL, "the cancelled instance is not an EXDATE:\n%s",
	              b2);
	char seq2[32] = "", stamp2[40] = "";
	sscanf(strstr(m2, "SEQUENCE:"), "SEQUENCE:%31[0-9]", seq2);
	sscanf(strstr(m2, "DTSTAMP:"), "DTSTAMP:%39[0-9TZ]", stamp2);
	ck_assert_msg(atoi(seq2) > atoi(seq1),
	              "the master gained an EXDATE but kept SEQUENCE:%s (D4: a cancellation bumps"
	              " it)",
	              seq2);
	ck_assert_msg(strcmp(stamp2, stamp1) > 0, "the master changed but kept DTSTAMP %s", stamp2);
	free(b1);
	free(b2);
}
END_TEST

/* The newest session of a public feed is rescheduled beyond the window:
 * the feed changes (ETag), so Last-Modified must move too, or a client
 * revalidating with If-Modified-Since alone keeps the stale event. */
START_TEST(last_modified_moves_when_a_session_leaves_the_window)
{
	long long prog = programme_in(org, "Drop-ins", 1, NULL);
	session_in(org, prog, "Staying", 20, NULL, NULL);
	free(sqls("UPDATE core.session SET updated_at = now() - interval '1 hour'"));
	long long moving = session_in(org, prog, "Zqxmoving", 21, NULL, NULL);
	char body[128];
	struct feed f;
	snprintf(body, sizeof body, "{\"kind\":\"programme\",\"programme_id\":%lld}", prog);
	make_feed(NULL, body, &f);
	struct ts_response r;
	call("", "GET", f.path, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "Zqxmoving"));
	char *lm1 = ts_header(&r, "Last-Modified");
	ck_assert_ptr_nonnull(lm1);
	ts_response_free(&r);
	sleep(2);
	/* What a reschedule writes (session update: times, sequence, updated_at). */
	free(sqls("UPDATE core.session SET starts_at = starts_at + interval '400 days',"
	          " ends_at = ends_at + interval '400 days', sequence = sequence + 1,"
	          " updated_at = now() WHERE id = %lld",
	          moving));
	char h[128];
	snprintf(h, sizeof h, "If-Modified-Since: %s\r\n", lm1);
	call("", "GET", f.path, h, NULL, &r);
	ck_assert_msg(r.status == 200,
	              "the feed lost an event but answered %d to If-Modified-Since: %s", r.status,
	              lm1);
	ck_assert_ptr_null(strstr(r.body, "Zqxmoving"));
	ts_response_free(&r);
	free(lm1);
}
END_TEST

/* feed_build takes the zone "Etc/UTC" as SQL's marker for "write this
 * event in UTC" (a local time the clocks repeat). A programme whose zone
 * really is Etc/UTC then has its series master written in UTC with an
 * RRULE, which the writer refuses: the whole feed fails. */
START_TEST(etc_utc_series_feed)
{
	long long prog = programme_in(org, "Zulu club", 1, "Etc/UTC");
	char path[160], body[512];
	snprintf(path, sizeof path, "/api/v1/programmes/%lld/series", prog);
	snprintf(body, sizeof body,
	         "{\"title\":\"Zulu club\",\"rrule\":\"FREQ=WEEKLY;BYDAY=WE;COUNT=4\","
	         "\"start\":\"2027-02-03T10:00\",\"duration_minutes\":60,"
	         "\"location_kind\":\"community_venue\"}");
	json_decref(ok_json(NULL, "POST", path, body, 201));
	struct feed f;
	snprintf(body, sizeof body, "{\"kind\":\"programme\",\"programme_id\":%lld}", prog);
	make_feed(NULL, body, &f);
	char *b = get_feed(f.path); /* 500 "Cannot build the calendar" */
	ck_assert_ptr_nonnull(strstr(b, "SUMMARY:Zulu club"));
	free(b);
}
END_TEST

/* --- reviewer R3: the per-process cache and Last-Modified ------------------ */

/* A GET with `hdrs`; returns the status, the body in *body (malloc'd) and
 * the ETag / Last-Modified in etag / lm when given. */
static int get_with(const char *path, const char *hdrs, char **body, char etag[64], char lm[64])
{
	struct ts_response r;
	call("", "GET", path, hdrs, NULL, &r);
	int st = r.status;
	char *e = ts_header(&r, "ETag"), *l = ts_header(&r, "Last-Modified");
	if (etag)
		snprintf(etag, 64, "%s", e ? e : "");
	if (lm)
		snprintf(lm, 64, "%s", l ? l : "");
	free(e);
	free(l);
	if (body)
		*body = strdup(r.body ? r.body : "");
	ts_response_free(&r);
	return st;
}

/* A household member becomes a participant (or the other way round): the
 * family feed stops showing their sessions (family members only). The
 * bytes change, so an If-Modified-Since client must get them: Last-Modified
 * must move. Nothing else moves it: no session, booking or member row
 * changed. With If-None-Match (the cache's digest) it is right. */
START_TEST(last_modified_moves_when_a_member_becomes_a_participant)
{
	long long p = sqln("WITH p AS (INSERT INTO core.person (given_name, family_name)"
	                   " VALUES ('Fay', 'Family') RETURNING id),"
	                   " l AS (INSERT INTO core.person_org SELECT id, %lld FROM p)"
	                   " SELECT id FROM p",
	                   org);
	long long h =
	    sqln("INSERT INTO core.household (org_id, name) VALUES (%lld, 'F') RETURNING id", org);
	free(sqls("INSERT INTO core.household_member (household_id, person_id, relationship)"
	          " VALUES (%lld, %lld, 'partner')",
	          h, p));
	long long prog = programme_in(org, "Family days", 0, NULL);
	long long s = session_in(org, prog, "Zqxfamily day", 9, NULL, NULL);
	free(sqls("INSERT INTO core.seat (session_id, person_id, source, during)"
	          " SELECT id, %lld, 'booking', during FROM core.session WHERE id = %lld",
	          p, s));
	char body[128], etag[64], lm[64], h1[160], h2[160];
	struct feed f;
	snprintf(body, sizeof body, "{\"kind\":\"household\",\"household_id\":%lld}", h);
	make_feed(NULL, body, &f);
	char *b = NULL;
	ck_assert_int_eq(get_with(f.path, NULL, &b, etag, lm), 200);
	ck_assert_msg(strstr(b, "Zqxfamily day") != NULL, "%s", b);
	free(b);
	sleep(2);
	free(sqls("UPDATE core.person SET is_participant = true WHERE id = %lld", p));
	snprintf(h1, sizeof h1, "If-None-Match: %s\r\n", etag);
	ck_assert_int_eq(get_with(f.path, h1, &b, NULL, NULL), 200);
	ck_assert_msg(!strstr(b, "Zqxfamily day"), "the cache kept a participant's session:\n%s",
	              b);
	free(b);
	snprintf(h2, sizeof h2, "If-Modified-Since: %s\r\n", lm);
	int st = get_with(f.path, h2, &b, NULL, NULL);
	ck_assert_msg(st == 200,
	              "the feed lost an event (member now a participant) but answered %d to"
	              " If-Modified-Since: %s",
	              st, lm);
	ck_assert_ptr_null(strstr(b, "Zqxfamily day"));
	free(b);
}
END_TEST

/* A facilitator loses the role in an organisation (membership row
 * deleted): their feed no longer shows that organisation's sessions, so
 * Last-Modified must move. */
START_TEST(last_modified_moves_when_a_role_ends)
{
	char *fac = ts_staff_token(db, "Test organisation", "roleends@r3.test", "facilitator", 0);
	long long fac_id = ts_staff_id(db, "roleends@r3.test");
	free(ts_staff_token(db, "Test organisation", "roleends@r3.test", "mentor", 0));
	long long prog = programme_in(org, "Courses", 0, NULL);
	long long s = session_in(org, prog, "Zqxcourse day", 9, NULL, NULL);
	staff_on(s, fac_id, "facilitator");
	struct feed f;
	make_feed(fac, "{\"kind\":\"facilitator\"}", &f);
	char etag[64], lm[64], h1[160], h2[160], *b = NULL;
	ck_assert_int_eq(get_with(f.path, NULL, &b, etag, lm), 200);
	ck_assert_msg(strstr(b, "Zqxcourse day") != NULL, "%s", b);
	free(b);
	sleep(2);
	free(sqls("DELETE FROM core.membership WHERE staff_id = %lld AND role = 'facilitator'",
	          fac_id));
	snprintf(h1, sizeof h1, "If-None-Match: %s\r\n", etag);
	ck_assert_int_eq(get_with(f.path, h1, &b, NULL, NULL), 200);
	ck_assert_ptr_null(strstr(b, "Zqxcourse day"));
	free(b);
	snprintf(h2, sizeof h2, "If-Modified-Since: %s\r\n", lm);
	int st = get_with(f.path, h2, &b, NULL, NULL);
	ck_assert_msg(
	    st == 200,
	    "the feed lost an event (role ended) but answered %d to If-Modified-Since: %s", st, lm);
	free(b);
	free(fac);
}
END_TEST

/* Cache: every revalidation path answers what a fresh build would. A 304
 * carries ETag and Last-Modified; HEAD from the cache has the GET's
 * length; revoke and regenerate are 404 at once however warm the cache. */
START_TEST(cache_answers_as_a_fresh_build)
{
	long long prog = programme_in(org, "Cached", 1, NULL);
	long long s = session_in(org, prog, "Zqxfirst title", 9, NULL, NULL);
	char body[128], etag[64], lm[64], etag2[64], lm2[64], h1[200], *b = NULL, *b2 = NULL;
	struct feed f;
	snprintf(body, sizeof body, "{\"kind\":\"programme\",\"programme_id\":%lld}", prog);
	make_feed(NULL, body, &f);
	ck_assert_int_eq(get_with(f.path, NULL, &b, etag, lm), 200);
	/* From the cache: the same bytes and validators. */
	ck_assert_int_eq(get_with(f.path, NULL, &b2, etag2, lm2), 200);
	ck_assert_str_eq(b, b2);
	ck_assert_str_eq(etag, etag2);
	ck_assert_str_eq(lm, lm2);
	free(b2);
	snprintf(h1, sizeof h1, "If-None-Match: %s\r\n", etag);
	ck_assert_int_eq(get_with(f.path, h1, NULL, etag2, lm2), 304);
	ck_assert_str_eq(etag, etag2);
	ck_assert_str_eq(lm, lm2);
	struct ts_response r;
	call("", "HEAD", f.path, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	char *cl = ts_header(&r, "Content-Length");
	ck_assert_ptr_nonnull(cl);
	ck_assert_int_eq(atoll(cl), (long long)strlen(b));
	free(cl);
	ts_response_free(&r);
	free(b);
	/* A change: new bytes, new ETag. */
	free(sqls("UPDATE core.session SET title = 'Zqxsecond title', updated_at = now()"
	          " WHERE id = %lld",
	          s));
	ck_assert_int_eq(get_with(f.path, h1, &b, etag2, NULL), 200);
	ck_assert_ptr_nonnull(strstr(b, "Zqxsecond title"));
	ck_assert_str_ne(etag, etag2);
	free(b);
	/* Unlisted: 404, then listed again: the bytes. */
	free(sqls("UPDATE core.programme SET public_listing = false WHERE id = %lld", prog));
	ck_assert_int_eq(get_with(f.path, NULL, NULL, NULL, NULL), 404);
	free(sqls("UPDATE core.programme SET public_listing = true WHERE id = %lld", prog));
	ck_assert_int_eq(get_with(f.path, NULL, NULL, NULL, NULL), 200);
	/* Regenerate: the old link 404 at once, the new one the same bytes. */
	char path[160];
	snprintf(path, sizeof path, "/api/v1/feeds/%lld/regenerate", f.id);
	json_t *j = ok_json(NULL, "POST", path, NULL, 200);
	struct feed g;
	feed_from(j, &g);
	json_decref(j);
	ck_assert_int_eq(get_with(f.path, NULL, NULL, NULL, NULL), 404);
	snprintf(h1, sizeof h1, "If-None-Match: %s\r\n", etag2);
	ck_assert_int_eq(get_with(g.path, h1, NULL, NULL, NULL), 304);
	snprintf(path, sizeof path, "/api/v1/feeds/%lld/revoke", f.id);
	json_decref(ok_json(NULL, "POST", path, NULL, 200));
	ck_assert_int_eq(get_with(g.path, h1, NULL, NULL, NULL), 404);
	ck_assert_int_eq(get_with(g.path, NULL, NULL, NULL, NULL), 404);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("feeds_review");
	TCase *tc = tcase_create("findings");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, staff_feed_stays_in_its_organisation);
	tcase_add_test(tc, public_feed_hides_person_anchored_sessions);
	tcase_add_test(tc, utc_programme_feed);
	tcase_add_test(tc, long_rrule_writes);
	tcase_add_test(tc, series_master_sequence_moves_on_cancel);
	tcase_add_test(tc, last_modified_moves_when_a_session_leaves_the_window);
	tcase_add_test(tc, etc_utc_series_feed);
	tcase_add_test(tc, last_modified_moves_when_a_member_becomes_a_participant);
	tcase_add_test(tc, last_modified_moves_when_a_role_ends);
	tcase_add_test(tc, cache_answers_as_a_fresh_build);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
