/*
 * Calendar feeds (issue 6) end to end, over HTTP against the real server
 * and database. Every feed the test fetches goes through the independent
 * checkers (tests/tools/ical_check_all.sh: byte checker, ical.js, libical
 * round trip, and — with a window — ical.js, python3-vobject and libical
 * expanding it to the same instants), and:
 *
 * - HTTP: 200 then 304 on the ETag; If-None-Match beats If-Modified-Since;
 *   HEAD carries the headers and no body; text/calendar, no-cache, no
 *   Content-Disposition; revoked and regenerated links 404 with the body an
 *   unknown link gets; the secret never in the server's log or the audit;
 * - redaction per audience, with marker strings planted in the data
 *   (participant and other-family names, establishment, flag note, staff
 *   names, internal venue and room, cohort) that must be absent from every
 *   byte of the feeds that may not show them;
 * - a weekly series across the 2027 clock changes with a moved and a
 *   cancelled instance: one RRULE with EXDATE and RECURRENCE-ID, and the
 *   three expansions equal the database's scheduled starts;
 * - Last-Modified moves when a booking is cancelled; hostile text (control
 *   bytes, long multibyte names, commas and semicolons in the calendar
 *   name) never breaks a feed; feeds stay well under 1 MB.
 *
 * Fixtures are written in SQL (other files own their routes) except where
 * the route's own behaviour matters (series layout, moves, bookings).
 */
#include <check.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ts.h"

#define FEEDS_TEST_DB "feeds"
#include "feeds_support.h"

/* --- HTTP, tokens, audit -------------------------------------------------- */

START_TEST(http_and_links)
{
	long long prog = programme("Open days", 1);
	long long unlisted = programme("Closed days", 0);
	for (int d = 1; d <= 5; d++)
		session_at(prog, "Open day", d * 7, NULL, NULL);
	char body[256], path[256];
	struct feed f;
	snprintf(body, sizeof body, "{\"kind\":\"programme\",\"programme_id\":%lld}", prog);
	make_feed(NULL, body, &f);
	snprintf(body, sizeof body, "{\"kind\":\"programme\",\"programme_id\":%lld}", unlisted);
	expect_error(NULL, "POST", "/api/v1/feeds", body, 422, "core.not_public");
	snprintf(body, sizeof body,
	         "{\"kind\":\"programme\",\"programme_id\":%lld,\"household_id\":1}", prog);
	expect_error(NULL, "POST", "/api/v1/feeds", body, 422, "core.invalid");
	expect_error(NULL, "POST", "/api/v1/feeds", "{\"kind\":\"household\"}", 400,
	             "core.missing_field");

	/* 200: the headers a calendar client needs. */
	struct ts_response r, r2;
	call("", "GET", f.path, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	char *ct = ts_header(&r, "Content-Type"), *etag = ts_header(&r, "ETag"),
	     *lm = ts_header(&r, "Last-Modified"), *cc = ts_header(&r, "Cache-Control"),
	     *cd = ts_header(&r, "Content-Disposition");
	ck_assert_str_eq(ct, "text/calendar; charset=utf-8");
	ck_assert_str_eq(cc, "no-cache");
	ck_assert_ptr_null(cd);
	ck_assert_ptr_nonnull(etag);
	ck_assert_msg(etag[0] == '"' && strlen(etag) == 34, "etag %s", etag);
	ck_assert_ptr_nonnull(lm);
	ck_assert_msg(strlen(lm) == 29 && !strcmp(lm + 25, " GMT"), "Last-Modified %s", lm);
	ck_assert(!strncmp(r.body, "BEGIN:VCALENDAR\r\n", 17));
	ck_assert_ptr_nonnull(strstr(r.body, "X-WR-CALNAME:Open days\r\n"));
	free(check_ical(r.body, r.body_len, NULL, NULL));
	/* The same bytes again: the same ETag (nothing depends on "now"). */
	call("", "GET", f.path, NULL, NULL, &r2);
	ck_assert_int_eq(r2.status, 200);
	ck_assert_uint_eq(r.body_len, r2.body_len);
	ck_assert(!memcmp(r.body, r2.body, r.body_len));
	ts_response_free(&r2);
	/* The ".ics" suffix is optional. */
	snprintf(path, sizeof path, "/feeds/%s", f.token);
	call("", "GET", path, NULL, NULL, &r2);
	ck_assert_int_eq(r2.status, 200);
	ts_response_free(&r2);

	/* 304 on the ETag, with the validators and no body. */
	char h[512];
	snprintf(h, sizeof h, "If-None-Match: %s\r\n", etag);
	call("", "GET", f.path, h, NULL, &r2);
	ck_assert_int_eq(r2.status, 304);
	ck_assert_uint_eq(r2.body_len, 0);
	char *etag2 = ts_header(&r2, "ETag");
	ck_assert_str_eq(etag2, etag);
	free(etag2);
	ts_response_free(&r2);
	snprintf(h, sizeof h, "If-None-Match: \"nope\", W/%s\r\n", etag);
	call("", "GET", f.path, h, NULL, &r2);
	ck_assert_int_eq(r2.status, 304);
	ts_response_free(&r2);
	/* If-None-Match wins over If-Modified-Since, both ways. */
	snprintf(h, sizeof h, "If-None-Match: \"other\"\r\nIf-Modified-Since: %s\r\n", lm);
	call("", "GET", f.path, h, NULL, &r2);
	ck_assert_int_eq(r2.status, 200);
	ts_response_free(&r2);
	snprintf(h, sizeof h,
	         "If-None-Match: %s\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n", etag);
	call("", "GET", f.path, h, NULL, &r2);
	ck_assert_int_eq(r2.status, 304);
	ts_response_free(&r2);
	/* If-Modified-Since alone; a second later, so a Last-Modified that
	 * followed the clock would show. */
	sleep(1);
	snprintf(h, sizeof h, "If-Modified-Since: %s\r\n", lm);
	call("", "GET", f.path, h, NULL, &r2);
	ck_assert_int_eq(r2.status, 304);
	ts_response_free(&r2);
	call("", "GET", f.path, "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n", NULL, &r2);
	ck_assert_int_eq(r2.status, 200);
	ts_response_free(&r2);

	/* HEAD: the GET's headers, no body. */
	call("", "HEAD", f.path, NULL, NULL, &r2);
	ck_assert_int_eq(r2.status, 200);
	ck_assert_uint_eq(r2.body_len, 0);
	char *len = ts_header(&r2, "Content-Length"), *etag3 = ts_header(&r2, "ETag"),
	     *ct3 = ts_header(&r2, "Content-Type");
	ck_assert_int_eq(atoll(len), (long long)r.body_len);
	ck_assert_str_eq(etag3, etag);
	ck_assert_str_eq(ct3, "text/calendar; charset=utf-8");
	free(len);
	free(etag3);
	free(ct3);
	ts_response_free(&r2);

	/* One event of the feed, as a download. */
	long long one = sqln("SELECT min(id) FROM core.session WHERE programme_id = %lld", prog);
	snprintf(path, sizeof path, "/feeds/%s/sessions/%lld.ics", f.token, one);
	call("", "GET", path, NULL, NULL, &r2);
	ck_assert_int_eq(r2.status, 200);
	char *cd2 = ts_header(&r2, "Content-Disposition");
	char want[96];
	snprintf(want, sizeof want, "attachment; filename=\"session-%lld.ics\"", one);
	ck_assert_str_eq(cd2, want);
	free(cd2);
	free(check_ical(r2.body, r2.body_len, NULL, NULL));
	ck_assert_ptr_null(strstr(strstr(r2.body, "BEGIN:VEVENT") + 5, "BEGIN:VEVENT"));
	ts_response_free(&r2);
	long long other = session_at(unlisted, "Closed day", 3, NULL, NULL);
	snprintf(path, sizeof path, "/feeds/%s/sessions/%lld.ics", f.token, other);
	call("", "GET", path, NULL, NULL, &r2);
	ck_assert_int_eq(r2.status, 404);
	ts_response_free(&r2);

	/* last_used_at recorded; the management view shows no secret. */
	snprintf(path, sizeof path, "/api/v1/feeds/%lld", f.id);
	json_t *j = ok_json(NULL, "GET", path, NULL, 200);
	ck_assert(json_is_string(json_object_get(j, "last_used_at")));
	ck_assert_ptr_null(json_object_get(j, "token"));
	json_decref(j);
	j = ok_json(NULL, "GET", "/api/v1/feeds?kind=programme", NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(j, "items")), 1);
	json_decref(j);

	/* Unknown, malformed: 404, the same body as a revoked link. */
	struct ts_response nf;
	char bad[160];
	snprintf(bad, sizeof bad, "/feeds/%.*sAAAA.ics", (int)strlen(f.token) - 4, f.token);
	call("", "GET", bad, NULL, NULL, &nf);
	ck_assert_int_eq(nf.status, 404);
	call("", "GET", "/feeds/wmf_short.ics", NULL, NULL, &r2);
	ck_assert_int_eq(r2.status, 404);
	ck_assert_str_eq(r2.body, nf.body);
	ts_response_free(&r2);

	/* Regenerate: a new link; the old one 404 at once. */
	snprintf(path, sizeof path, "/api/v1/feeds/%lld/regenerate", f.id);
	j = ok_json(NULL, "POST", path, NULL, 200);
	const char *t2j = json_string_value(json_object_get(j, "token"));
	ck_assert_ptr_nonnull(t2j);
	ck_assert_str_ne(t2j, f.token);
	char newpath[160], t2[96];
	snprintf(t2, sizeof t2, "%s", t2j);
	snprintf(newpath, sizeof newpath, "/feeds/%s.ics", t2);
	char old_token[96];
	snprintf(old_token, sizeof old_token, "%s", f.token);
	json_decref(j);
	call("", "GET", f.path, NULL, NULL, &r2);
	ck_assert_int_eq(r2.status, 404);
	ck_assert_str_eq(r2.body, nf.body);
	ts_response_free(&r2);
	call("", "GET", newpath, NULL, NULL, &r2);
	ck_assert_int_eq(r2.status, 200);
	ts_response_free(&r2);

	/* Revoke: 404 with the same body; regenerating it is refused. */
	snprintf(path, sizeof path, "/api/v1/feeds/%lld/revoke", f.id);
	j = ok_json(NULL, "POST", path, NULL, 200);
	ck_assert(json_is_string(json_object_get(j, "revoked_at")));
	json_decref(j);
	call("", "GET", newpath, NULL, NULL, &r2);
	ck_assert_int_eq(r2.status, 404);
	ck_assert_str_eq(r2.body, nf.body);
	ts_response_free(&r2);
	snprintf(path, sizeof path, "/api/v1/feeds/%lld/regenerate", f.id);
	expect_error(NULL, "POST", path, NULL, 409, "core.revoked");

	/* Unlisting a programme takes its public feed down. */
	struct feed f2;
	snprintf(body, sizeof body, "{\"kind\":\"programme\",\"programme_id\":%lld}", prog);
	make_feed(NULL, body, &f2);
	free(ts_db_value(db, "UPDATE core.programme SET public_listing = false"));
	call("", "GET", f2.path, NULL, NULL, &r2);
	ck_assert_int_eq(r2.status, 404);
	ts_response_free(&r2);

	/* Audited, never with the secret; the secret never in the log. */
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE object_type = 'calendar_feed'"
	                      " AND action IN ('feed.create', 'feed.regenerate', 'feed.revoke')"),
	                 4);
	ck_assert_int_eq(sqln("SELECT count(*) FROM core.audit WHERE detail::text LIKE '%%wmf_%%'"
	                      " OR detail::text LIKE '%%%.16s%%'",
	                      old_token + 4),
	                 0);
	char *log = ts_server_log(&srv);
	ck_assert_ptr_nonnull(log);
	ck_assert_ptr_nonnull(strstr(log, "/feeds/{token}"));
	ck_assert_msg(!strstr(log, "wmf_") && !strstr(log, old_token + 4) && !strstr(log, t2 + 4) &&
	                  !strstr(log, f2.token + 4),
	              "a feed secret is in the server log");
	free(log);

	ts_response_free(&nf);
	ts_response_free(&r);
	free(ct);
	free(etag);
	free(lm);
	free(cc);
}
END_TEST

/* --- redaction per audience ----------------------------------------------- */

/* Everything that names or describes a person, the prison, staff or the
 * internal place: no family, public or busy feed may show any of it. */
static const char *const people[] = {"Zqxmarker",     "Smithson",   "Otherfam",    "Qwxfamily",
                                     "Kidzqx",        "Zqxprison",  "Zqxflagnote", "Zqxhouse",
                                     "Zqxmentorname", "Zqxfacname", "ATTENDEE",    NULL};
static const char *const inside[] = {"Zqxinternal", "Zqxroom", "Zqxcohort", "Expected", NULL};

static char *lm_of(const char *path)
{
	struct ts_response r;
	call("", "GET", path, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	char *lm = ts_header(&r, "Last-Modified");
	ts_response_free(&r);
	ck_assert_ptr_nonnull(lm);
	return lm;
}

static time_t http_time(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	ck_assert_ptr_nonnull(strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm));
	return timegm(&tm);
}

START_TEST(redaction)
{
	char *mentor = ts_staff_token(db, "Test organisation", "mentor@feeds.test", "mentor", 0);
	char *fac = ts_staff_token(db, "Test organisation", "fac@feeds.test", "facilitator", 0);
	long long mentor_id = ts_staff_id(db, "mentor@feeds.test");
	long long fac_id = ts_staff_id(db, "fac@feeds.test");
	free(sqls("UPDATE core.staff SET display_name = CASE WHEN id = %lld"
	          " THEN 'Zqxmentorname Mentor' ELSE 'Zqxfacname Facil' END"
	          " WHERE id IN (%lld, %lld)",
	          mentor_id, mentor_id, fac_id));
	long long p1 = sqln("WITH p AS (INSERT INTO core.person (given_name, family_name,"
	                    " establishment, is_participant) VALUES ('Zqxmarker', 'Smithson',"
	                    " 'HMP Zqxprison', true) RETURNING id),"
	                    " l AS (INSERT INTO core.person_org SELECT id, %lld FROM p)"
	                    " SELECT id FROM p",
	                    org);
	long long child = sqln("WITH p AS (INSERT INTO core.person (given_name, family_name,"
	                       " date_of_birth) VALUES ('Kidzqx', 'Smithson', '2018-01-01')"
	                       " RETURNING id), l AS (INSERT INTO core.person_org SELECT id, %lld"
	                       " FROM p) SELECT id FROM p",
	                       org);
	long long p2 = sqln("WITH p AS (INSERT INTO core.person (given_name, family_name)"
	                    " VALUES ('Otherfam', 'Qwxfamily') RETURNING id),"
	                    " l AS (INSERT INTO core.person_org SELECT id, %lld FROM p)"
	                    " SELECT id FROM p",
	                    org);
	free(sqls("INSERT INTO core.person_flag (person_id, org_id, kind, severity, note)"
	          " VALUES (%lld, %lld, 'risk_to_others', 'high', 'Zqxflagnote')",
	          p1, org));
	long long h1 = sqln("INSERT INTO core.household (org_id, name) VALUES (%lld,"
	                    " 'Zqxhouse Smithson') RETURNING id",
	                    org);
	long long h2 = sqln("INSERT INTO core.household (org_id, name) VALUES (%lld,"
	                    " 'Qwxfamily') RETURNING id",
	                    org);
	free(sqls("INSERT INTO core.household_member (household_id, person_id, relationship)"
	          " VALUES (%lld, %lld, 'participant'), (%lld, %lld, 'child'),"
	          " (%lld, %lld, 'partner')",
	          h1, p1, h1, child, h2, p2));
	long long prog = programme("Family Days Programme", 1);
	long long venue = sqln("INSERT INTO core.venue (org_id, name, location_kind, establishment,"
	                       " public_name) VALUES (%lld, 'Zqxinternal Wing', 'prison',"
	                       " 'HMP Zqxprison', 'Visitors Centre') RETURNING id",
	                       org);
	long long room =
	    sqln("INSERT INTO core.room (venue_id, name) VALUES (%lld, 'Zqxroom 4') RETURNING id",
	         venue);
	long long cohort = sqln("INSERT INTO core.cohort (programme_id, name, starts_on)"
	                        " VALUES (%lld, 'Zqxcohort Spring', '2027-01-01') RETURNING id",
	                        prog);
	char vals[256];
	snprintf(vals, sizeof vals, ", %lld, %lld, %lld, 10, 'booked', 'HMP Zqxprison'", venue,
	         room, cohort);
	long long sa = session_at(prog, "Family day", 30,
	                          ", venue_id, room_id, cohort_id, capacity, booking_mode,"
	                          " establishment",
	                          vals);
	free(sqls("INSERT INTO core.session_staff (session_id, staff_id, role, during)"
	          " SELECT s.id, x.st, x.r::core.programme_role, s.during FROM core.session s,"
	          " (VALUES (%lld, 'mentor'), (%lld, 'facilitator')) x(st, r) WHERE s.id = %lld",
	          mentor_id, fac_id, sa));
	/* A group course session too: its plugin titles it (calendar_render),
	 * from the redacted event only. Seats written directly. */
	long long gc = sqln("INSERT INTO core.programme (org_id, type, name, public_listing)"
	                    " VALUES (%lld, 'group_course', 'Life Course', true) RETURNING id",
	                    org);
	long long gcoh = sqln("INSERT INTO core.cohort (programme_id, name, starts_on)"
	                      " VALUES (%lld, 'Zqxcohort Two', '2027-01-01') RETURNING id",
	                      gc);
	snprintf(vals, sizeof vals, ", %lld, %lld, %lld, 'm1'", venue, room, gcoh);
	long long sg =
	    session_at(gc, "Course day", 31, ", venue_id, room_id, cohort_id, module", vals);
	free(sqls("INSERT INTO core.seat (session_id, person_id, source, during)"
	          " SELECT s.id, p.id, 'booking', s.during FROM core.session s,"
	          " (VALUES (%lld), (%lld)) p(id) WHERE s.id = %lld",
	          p1, p2, sg));
	free(sqls("INSERT INTO core.session_staff (session_id, staff_id, role, during)"
	          " SELECT s.id, x.st, x.r::core.programme_role, s.during FROM core.session s,"
	          " (VALUES (%lld, 'mentor'), (%lld, 'facilitator')) x(st, r) WHERE s.id = %lld",
	          mentor_id, fac_id, sg));
	char path[160], body[256];
	/* The family day: the participant's child and the other family. */
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/bookings", sa);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", child);
	json_t *j = ok_json(NULL, "POST", path, body, 201);
	long long b1 = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	snprintf(body, sizeof body, "{\"person_id\":%lld}", p2);
	json_decref(ok_json(NULL, "POST", path, body, 201));

	struct feed fam, busy, fam2, men, fa, pub, men_by_admin;
	snprintf(body, sizeof body, "{\"kind\":\"household\",\"household_id\":%lld}", h1);
	make_feed(NULL, body, &fam);
	snprintf(body, sizeof body,
	         "{\"kind\":\"household\",\"household_id\":%lld,\"variant\":\"busy\"}", h1);
	make_feed(NULL, body, &busy);
	snprintf(body, sizeof body, "{\"kind\":\"household\",\"household_id\":%lld}", h2);
	make_feed(NULL, body, &fam2);
	make_feed(mentor, "{\"kind\":\"mentor\"}", &men);
	make_feed(fac, "{\"kind\":\"facilitator\"}", &fa);
	snprintf(body, sizeof body, "{\"kind\":\"programme\",\"programme_id\":%lld}", prog);
	make_feed(NULL, body, &pub);
	snprintf(body, sizeof body, "{\"kind\":\"mentor\",\"staff_id\":%lld}", mentor_id);
	make_feed(NULL, body, &men_by_admin);
	/* Scope: a mentor makes no household feed and no facilitator feed. */
	snprintf(body, sizeof body, "{\"kind\":\"household\",\"household_id\":%lld}", h1);
	expect_error(mentor, "POST", "/api/v1/feeds", body, 404, "core.not_found");
	expect_error(mentor, "POST", "/api/v1/feeds", "{\"kind\":\"facilitator\"}", 422,
	             "core.not_role");
	snprintf(path, sizeof path, "/api/v1/feeds/%lld", fam.id);
	expect_error(mentor, "GET", path, NULL, 404, "core.not_found");
	snprintf(path, sizeof path, "/api/v1/feeds/%lld", men_by_admin.id);
	json_decref(ok_json(mentor, "GET", path, NULL, 200));
	j = ok_json(mentor, "GET", "/api/v1/feeds", NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(j, "items")), 2);
	json_decref(j);

	char *b = get_feed(fam.path, NULL, NULL, NULL);
	static const char *const fam_has[] = {"SUMMARY:Family day", "LOCATION:Visitors Centre",
	                                      NULL};
	present(b, "family", fam_has);
	absent(b, "family", people);
	absent(b, "family", inside);
	/* The course only the participant attends is not the family's. */
	ck_assert_ptr_null(strstr(b, "Course day"));
	ck_assert_ptr_null(strstr(b, "Life Course"));
	free(b);
	/* The other family's member attends it: titled by the plugin. */
	b = get_feed(fam2.path, NULL, NULL, NULL);
	static const char *const fam2_has[] = {"SUMMARY:Life Course", "DESCRIPTION:Course day",
	                                       "SUMMARY:Family day", NULL};
	present(b, "family", fam2_has);
	absent(b, "family", people);
	absent(b, "family", inside);
	free(b);
	b = get_feed(busy.path, NULL, NULL, NULL);
	static const char *const busy_has[] = {"SUMMARY:Busy", "CLASS:PRIVATE", NULL};
	static const char *const busy_not[] = {"Family day", "Visitors Centre", "\nLOCATION",
	                                       "\nDESCRIPTION", NULL};
	present(b, "busy", busy_has);
	absent(b, "busy", people);
	absent(b, "busy", inside);
	absent(b, "busy", busy_not);
	free(b);
	b = get_feed(pub.path, NULL, NULL, NULL);
	static const char *const pub_has[] = {"SUMMARY:Family day", "LOCATION:Visitors Centre",
	                                      NULL};
	present(b, "public", pub_has);
	absent(b, "public", people);
	absent(b, "public", inside);
	free(b);
	static const char *const men_has[] = {"Family day — O.Q. K.S.",
	                                      "Zqxinternal Wing\\, Zqxroom 4",
	                                      "DESCRIPTION:Family Days Programme",
	                                      "SUMMARY:Life Course: Course day",
	                                      "DESCRIPTION:Participants: O.Q.\\, Z.S.",
	                                      NULL};
	static const char *const men_not[] = {
	    "Zqxmarker",   "Smithson", "Otherfam",      "Qwxfamily",  "Kidzqx",    "Zqxprison",
	    "Zqxflagnote", "Zqxhouse", "Zqxmentorname", "Zqxfacname", "Zqxcohort", NULL};
	for (int k = 0; k < 2; k++) {
		b = get_feed(k ? men_by_admin.path : men.path, NULL, NULL, NULL);
		present(b, "mentor", men_has);
		absent(b, "mentor", men_not);
		free(b);
	}
	b = get_feed(fa.path, NULL, NULL, NULL);
	static const char *const fa_has[] = {"SUMMARY:Zqxcohort Spring: Family day", "Expected: 2",
	                                     "Zqxroom 4", "SUMMARY:Zqxcohort Two: Course day",
	                                     NULL};
	static const char *const fa_not[] = {
	    "Zqxmarker",   "Smithson", "Otherfam",      "Qwxfamily",  "Kidzqx", "Zqxprison",
	    "Zqxflagnote", "Zqxhouse", "Zqxmentorname", "Zqxfacname", "O.Q.",   NULL};
	present(b, "facilitator", fa_has);
	absent(b, "facilitator", fa_not);
	free(b);
	/* The staff downloads: the session (facilitator view), the booking
	 * (the family's view). */
	struct ts_response r;
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/ics", sa);
	call(fac, "GET", path, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	free(check_ical(r.body, r.body_len, NULL, NULL));
	absent(r.body, "session download", fa_not);
	ts_response_free(&r);
	snprintf(path, sizeof path, "/api/v1/bookings/%lld/ics", b1);
	call(NULL, "GET", path, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	free(check_ical(r.body, r.body_len, NULL, NULL));
	absent(r.body, "booking download", people);
	absent(r.body, "booking download", inside);
	char *cd = ts_header(&r, "Content-Disposition");
	ck_assert_ptr_nonnull(cd);
	free(cd);
	ts_response_free(&r);
	/* Someone who cannot see the booking cannot download it. */
	char *other = ts_staff_token(db, "Test organisation", "m2@feeds.test", "mentor", 0);
	expect_error(other, "GET", path, NULL, 404, "core.not_found");
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/ics", sa);
	expect_error(other, "GET", path, NULL, 404, "core.not_found");
	free(other);

	/* A cancelled booking leaves the family's feed and moves its
	 * Last-Modified; the other family still has the session. */
	char *lm1 = lm_of(fam.path), *lm_men1 = lm_of(men.path);
	sleep(2);
	snprintf(path, sizeof path, "/api/v1/bookings/%lld/cancel", b1);
	json_decref(ok_json(NULL, "POST", path, "{}", 200));
	char *lm2 = lm_of(fam.path), *lm_men2 = lm_of(men.path);
	ck_assert_msg(http_time(lm2) > http_time(lm1), "Last-Modified %s -> %s", lm1, lm2);
	ck_assert_msg(http_time(lm_men2) > http_time(lm_men1), "mentor Last-Modified %s -> %s",
	              lm_men1, lm_men2);
	b = get_feed(fam.path, NULL, NULL, NULL);
	ck_assert_ptr_null(strstr(b, "Family day"));
	ck_assert_ptr_null(strstr(b, "Course day"));
	free(b);
	b = get_feed(men.path, NULL, NULL, NULL);
	ck_assert_ptr_nonnull(strstr(b, "Family day — O.Q.\r\n"));
	free(b);
	/* The session cancelled: kept for the other family as CANCELLED. */
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/cancel", sa);
	json_decref(ok_json(NULL, "POST", path, "{\"reason\":\"Zqxflagnote\"}", 200));
	b = get_feed(fam2.path, NULL, NULL, NULL);
	ck_assert_ptr_nonnull(strstr(b, "STATUS:CANCELLED"));
	ck_assert_ptr_nonnull(strstr(b, "SEQUENCE:1"));
	absent(b, "family", people);
	free(b);
	/* After the grace period it is gone. */
	free(sqls("UPDATE core.session SET updated_at = updated_at - interval '15 days'"
	          " WHERE id = %lld",
	          sa));
	b = get_feed(fam2.path, NULL, NULL, NULL);
	ck_assert_ptr_null(strstr(b, "Family day"));
	ck_assert_ptr_null(strstr(b, "CANCELLED"));
	free(b);
	free(lm1);
	free(lm2);
	free(lm_men1);
	free(lm_men2);
	free(mentor);
	free(fac);
}
END_TEST

/* --- a series across both 2027 clock changes -------------------------------- */

/* The feed's window as the checkers' FROM/TO. */
static void window(char from[20], char to[20])
{
	char *f = sqls("SELECT to_char((core.clock() - interval '56 days') AT TIME ZONE 'UTC',"
	               " 'YYYYMMDD\"T\"HH24MISS\"Z\"')");
	char *t = sqls("SELECT to_char((core.clock() + interval '366 days') AT TIME ZONE 'UTC',"
	               " 'YYYYMMDD\"T\"HH24MISS\"Z\"')");
	snprintf(from, 20, "%s", f);
	snprintf(to, 20, "%s", t);
	free(f);
	free(t);
}

/* "UID instant" lines, sorted bytewise, of the scheduled sessions `where`
 * in the window, under UID prefix `uid_sql` (an SQL expression). */
static char *db_instants(const char *uid_sql, const char *where)
{
	char *v =
	    sqls("SELECT coalesce(string_agg(x, E'\\n' ORDER BY x COLLATE \"C\") || E'\\n', '')"
	         " FROM (SELECT %s || '@waymark.invalid ' || to_char(s.starts_at AT TIME ZONE"
	         " 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"') AS x FROM core.session s"
	         " WHERE s.status = 'scheduled' AND s.starts_at >= core.clock() - interval"
	         " '56 days' AND s.starts_at < core.clock() + interval '366 days' AND %s) q",
	         uid_sql, where);
	return v ? v : strdup("");
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

START_TEST(series_across_clock_changes)
{
	char *mentor = ts_staff_token(db, "Test organisation", "mentor@feeds.test", "mentor", 0);
	long long mentor_id = ts_staff_id(db, "mentor@feeds.test");
	long long prog = programme("Sunday club", 1);
	char path[160], body[512];
	snprintf(path, sizeof path, "/api/v1/programmes/%lld/series", prog);
	snprintf(body, sizeof body,
	         "{\"title\":\"Sunday club\",\"rrule\":\"FREQ=WEEKLY;BYDAY=SU;COUNT=45\","
	         "\"start\":\"2027-02-07T10:00\",\"duration_minutes\":90,"
	         "\"location_kind\":\"community_venue\",\"staff\":[{\"staff_id\":%lld,"
	         "\"role\":\"mentor\"}]}",
	         mentor_id);
	json_decref(ok_json(NULL, "POST", path, body, 201));
	long long sid = sqln("SELECT id FROM core.series WHERE programme_id = %lld", prog);
	long long moved = sqln("SELECT id FROM core.session WHERE series_id = %lld AND"
	                       " starts_at = '2027-04-04T09:00:00Z'",
	                       sid);
	long long gone = sqln("SELECT id FROM core.session WHERE series_id = %lld AND"
	                      " starts_at = '2027-10-31T10:00:00Z'",
	                      sid);
	long long renamed = sqln("SELECT id FROM core.session WHERE series_id = %lld AND"
	                         " starts_at = '2027-06-06T09:00:00Z'",
	                         sid);
	ck_assert(moved && gone && renamed);
	snprintf(path, sizeof path, "/api/v1/sessions/%lld", moved);
	json_decref(
	    ok_json(NULL, "PATCH", path, "{\"start\":\"2027-04-05T14:00\",\"version\":1}", 200));
	snprintf(path, sizeof path, "/api/v1/sessions/%lld", renamed);
	json_decref(ok_json(NULL, "PATCH", path, "{\"title\":\"Sports day\",\"version\":1}", 200));
	snprintf(path, sizeof path, "/api/v1/sessions/%lld/cancel", gone);
	json_decref(ok_json(NULL, "POST", path, "{\"reason\":\"Clocks\"}", 200));

	char from[20], to[20], where[128], uid[64];
	window(from, to);
	snprintf(where, sizeof where, "s.series_id = %lld", sid);
	snprintf(uid, sizeof uid, "'series-%lld'", sid);
	char *want = db_instants(uid, where);
	ck_assert_int_eq(count_of(want, "\n"), 44);
	ck_assert_ptr_nonnull(strstr(want, "20270328T090000Z")); /* BST from 28 March */
	ck_assert_ptr_nonnull(strstr(want, "20270321T100000Z"));
	ck_assert_ptr_nonnull(strstr(want, "20271107T100000Z")); /* GMT again */
	ck_assert_ptr_nonnull(strstr(want, "20270405T130000Z")); /* moved */

	struct feed pub, men, fam;
	snprintf(body, sizeof body, "{\"kind\":\"programme\",\"programme_id\":%lld}", prog);
	make_feed(NULL, body, &pub);
	make_feed(mentor, "{\"kind\":\"mentor\"}", &men);
	for (int k = 0; k < 2; k++) {
		char *exp = NULL;
		char *b = get_feed(k ? men.path : pub.path, from, to, &exp);
		ck_assert_int_eq(count_of(b, "\nRRULE:FREQ=WEEKLY"), 1);
		ck_assert_int_eq(count_of(b, "BEGIN:VEVENT"), 3); /* the rule + two overrides */
		ck_assert_ptr_nonnull(
		    strstr(b, "RRULE:FREQ=WEEKLY;UNTIL=20271212T235959Z;BYDAY=SU"));
		ck_assert_ptr_nonnull(strstr(b, "EXDATE;TZID=Europe/London:20271031T100000\r\n"));
		ck_assert_ptr_nonnull(
		    strstr(b, "RECURRENCE-ID;TZID=Europe/London:20270404T100000"));
		ck_assert_ptr_nonnull(strstr(b, "DTSTART;TZID=Europe/London:20270405T140000"));
		ck_assert_ptr_nonnull(
		    strstr(b, "RECURRENCE-ID;TZID=Europe/London:20270606T100000"));
		ck_assert_ptr_nonnull(strstr(b, "BEGIN:VTIMEZONE\r\nTZID:Europe/London\r\n"));
		ck_assert_msg(!strcmp(exp, want), "expansion:\n%s\ndatabase:\n%s", exp, want);
		free(exp);
		free(b);
	}

	/* A family with three of the instances: one-offs, each its own UID. */
	long long p = sqln("WITH p AS (INSERT INTO core.person (given_name, family_name)"
	                   " VALUES ('Sam', 'Sunday') RETURNING id),"
	                   " l AS (INSERT INTO core.person_org SELECT id, %lld FROM p)"
	                   " SELECT id FROM p",
	                   org);
	long long h = sqln("INSERT INTO core.household (org_id, name) VALUES (%lld, 'S')"
	                   " RETURNING id",
	                   org);
	free(sqls("INSERT INTO core.household_member (household_id, person_id, relationship)"
	          " VALUES (%lld, %lld, 'participant')",
	          h, p));
	free(sqls(
	    "INSERT INTO core.seat (session_id, person_id, source, during)"
	    " SELECT id, %lld, 'booking', during FROM core.session WHERE series_id = %lld"
	    " AND starts_at IN ('2027-03-21T10:00Z', '2027-03-28T09:00Z', '2027-04-05T13:00Z')",
	    p, sid));
	snprintf(body, sizeof body, "{\"kind\":\"household\",\"household_id\":%lld}", h);
	make_feed(NULL, body, &fam);
	char *exp = NULL;
	char *b = get_feed(fam.path, from, to, &exp);
	ck_assert_int_eq(count_of(b, "\nRRULE:FREQ=WEEKLY"), 0);
	ck_assert_int_eq(count_of(b, "BEGIN:VEVENT"), 3);
	snprintf(where, sizeof where,
	         "s.id IN (SELECT session_id FROM core.seat WHERE person_id = %lld)", p);
	free(want);
	want = db_instants("'session-' || s.id", where);
	ck_assert_msg(!strcmp(exp, want), "expansion:\n%s\ndatabase:\n%s", exp, want);
	free(exp);
	free(want);
	free(b);
	free(mentor);
}
END_TEST

/* --- hostile text ------------------------------------------------------------ */

START_TEST(hostile_text)
{
	long long prog = programme("Comma, semi; back\\\\slash \"quoted\"", 1);
	long long venue = sqln("INSERT INTO core.venue (org_id, name, location_kind, public_name)"
	                       " VALUES (%lld, E'Hall\\x01\\x02', 'community_venue',"
	                       " repeat('é,;', 66)) RETURNING id",
	                       org);
	char vals[96];
	snprintf(vals, sizeof vals, ", %lld", venue);
	session_at(prog, "x", 3, ", venue_id", vals);
	long long s2 = session_at(prog, "y", 4, ", venue_id", vals);
	free(
	    sqls("UPDATE core.session SET title = E'Bad\\x01\\x1b[31m\\x7f\\u202e title\\ttab\\r\\n"
	         "line ' || repeat('😀', 60) WHERE programme_id = %lld",
	         prog));
	free(sqls("UPDATE core.session SET title = repeat('ü;,\\', 50) WHERE id = %lld", s2));
	struct feed pub, named;
	char body[512];
	snprintf(body, sizeof body, "{\"kind\":\"programme\",\"programme_id\":%lld}", prog);
	make_feed(NULL, body, &pub);
	snprintf(body, sizeof body,
	         "{\"kind\":\"programme\",\"programme_id\":%lld,\"variant\":\"full\","
	         "\"name\":\"Smith, Jones; the \\\\ family\\nfeed \\u00e9\"}",
	         prog);
	make_feed(NULL, body, &named);
	for (int k = 0; k < 2; k++) {
		char *b = get_feed(k ? named.path : pub.path, NULL, NULL, NULL);
		const char *cal = strstr(b, "X-WR-CALNAME:");
		ck_assert_ptr_nonnull(cal);
		const char *eol = strstr(cal, "\r\n");
		for (const char *c = cal; c < eol; c++)
			ck_assert_msg(*c != ',' && *c != ';' && *c != '\\', "X-WR-CALNAME: %.*s",
			              (int)(eol - cal), cal);
		ck_assert_ptr_null(strchr(b, '\x01'));
		ck_assert_ptr_null(strchr(b, '\x1b'));
		ck_assert_ptr_null(strchr(b, '\x7f'));
		ck_assert_ptr_null(strstr(b, "\xe2\x80\xae")); /* U+202E */
		free(b);
	}
	/* 01:30 on 31 October 2027 happens twice in London: a session at the
	 * second one (01:30 GMT) cannot be written with TZID=Europe/London (a
	 * client takes the first), so it is written in UTC, without a second
	 * VTIMEZONE (libical's round trip would reorder two). */
	free(sqls("INSERT INTO core.session (programme_id, org_id, title, starts_at, ends_at,"
	          " location_kind) VALUES (%lld, %lld, 'Night', '2027-10-31T01:30:00Z',"
	          " '2027-10-31T02:30:00Z', 'home')",
	          prog, org));
	struct ts_response r;
	call("", "GET", pub.path, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "DTSTART:20271031T013000Z\r\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "DTEND:20271031T023000Z\r\n"));
	ck_assert_ptr_null(strstr(r.body, "Etc/UTC"));
	char *exp = check_ical(r.body, r.body_len, "20271030T000000Z", "20271101T000000Z");
	ck_assert_msg(strstr(exp, " 20271031T013000Z\n") != NULL, "expansion: %s", exp);
	free(exp);
	ts_response_free(&r);
}
END_TEST

/* --- the per-process cache: every input of the bytes invalidates it ------- */

/* The feed's current ETag and bytes (malloc'd) after a 200. */
struct seen {
	char *etag, *body;
};

static void seen_get(const char *path, struct seen *v)
{
	struct ts_response r;
	call("", "GET", path, NULL, NULL, &r);
	ck_assert_msg(r.status == 200, "GET %s: %d", path, r.status);
	v->etag = ts_header(&r, "ETag");
	ck_assert_ptr_nonnull(v->etag);
	v->body = strdup(r.body);
	ts_response_free(&r);
}

/* The client revalidates with what it has: unchanged, 304 (and again). */
static void still(const char *path, const struct seen *v, const char *what)
{
	char h[128];
	snprintf(h, sizeof h, "If-None-Match: %s\r\n", v->etag);
	for (int i = 0; i < 2; i++) {
		struct ts_response r;
		call("", "GET", path, h, NULL, &r);
		ck_assert_msg(r.status == 304, "%s: %d, not 304", what, r.status);
		ts_response_free(&r);
	}
}

/* After a change of `what`: the old ETag gets 200 with new bytes that hold
 * `text` (or, when text starts with '!', lack it), a new ETag, checked by
 * the independent checkers; the new ETag then gets 304. */
static void changed(const char *path, struct seen *v, const char *what, const char *text)
{
	char h[128];
	snprintf(h, sizeof h, "If-None-Match: %s\r\n", v->etag);
	struct ts_response r;
	call("", "GET", path, h, NULL, &r);
	ck_assert_msg(r.status == 200, "%s changed, yet the old ETag got %d", what, r.status);
	ck_assert_msg(strcmp(r.body, v->body) != 0, "%s changed, yet the same bytes", what);
	int want = text[0] != '!';
	ck_assert_msg(!strstr(r.body, want ? text : text + 1) == !want, "%s: %s %s:\n%s", what,
	              want ? "no" : "still", want ? text : text + 1, r.body);
	char *etag = ts_header(&r, "ETag");
	ck_assert_ptr_nonnull(etag);
	ck_assert_msg(strcmp(etag, v->etag) != 0, "%s: new bytes, old ETag", what);
	free(check_ical(r.body, r.body_len, NULL, NULL));
	free(v->etag);
	free(v->body);
	v->etag = etag;
	v->body = strdup(r.body);
	ts_response_free(&r);
	still(path, v, what);
}

static void seen_free(struct seen *v)
{
	free(v->etag);
	free(v->body);
}

START_TEST(cache_follows_every_input)
{
	char *mentor = ts_staff_token(db, "Test organisation", "cm@feeds.test", "mentor", 0);
	char *fac = ts_staff_token(db, "Test organisation", "cf@feeds.test", "facilitator", 0);
	long long mentor_id = ts_staff_id(db, "cm@feeds.test");
	long long fac_id = ts_staff_id(db, "cf@feeds.test");
	long long pa = sqln("WITH p AS (INSERT INTO core.person (given_name, family_name)"
	                    " VALUES ('Alice', 'Brown') RETURNING id),"
	                    " l AS (INSERT INTO core.person_org SELECT id, %lld FROM p)"
	                    " SELECT id FROM p",
	                    org);
	long long pb = sqln("WITH p AS (INSERT INTO core.person (given_name, family_name)"
	                    " VALUES ('Carl', 'Dunn') RETURNING id),"
	                    " l AS (INSERT INTO core.person_org SELECT id, %lld FROM p)"
	                    " SELECT id FROM p",
	                    org);
	long long prog = programme("Cache Programme", 1);
	long long venue = sqln("INSERT INTO core.venue (org_id, name, location_kind, public_name)"
	                       " VALUES (%lld, 'Hall inside', 'community_venue', 'Public hall')"
	                       " RETURNING id",
	                       org);
	long long room = sqln(
	    "INSERT INTO core.room (venue_id, name) VALUES (%lld, 'Room one') RETURNING id", venue);
	long long cohort = sqln("INSERT INTO core.cohort (programme_id, name, starts_on)"
	                        " VALUES (%lld, 'Cohort one', '2027-01-01') RETURNING id",
	                        prog);
	char vals[128];
	snprintf(vals, sizeof vals, ", %lld, %lld, %lld", venue, room, cohort);
	long long s1 = session_at(prog, "Cached day", 30, ", venue_id, room_id, cohort_id", vals);
	session_at(prog, "Early day", 3, NULL, NULL);
	/* Cancelled yesterday: within its grace period (see below). */
	long long s3 = session_at(prog, "Graceful day", 10, NULL, NULL);
	free(sqls("UPDATE core.session SET status = 'cancelled',"
	          " updated_at = now() - interval '1 day' WHERE id = %lld",
	          s3));
	free(sqls("INSERT INTO core.session_staff (session_id, staff_id, role, during)"
	          " SELECT s.id, x.st, x.r::core.programme_role, s.during FROM core.session s,"
	          " (VALUES (%lld, 'mentor'), (%lld, 'facilitator')) x(st, r) WHERE s.id = %lld",
	          mentor_id, fac_id, s1));
	free(sqls("INSERT INTO core.seat (session_id, person_id, source, during)"
	          " SELECT id, %lld, 'booking', during FROM core.session WHERE id = %lld",
	          pa, s1));
	struct feed pub, men, fa;
	char body[128];
	snprintf(body, sizeof body, "{\"kind\":\"programme\",\"programme_id\":%lld}", prog);
	make_feed(NULL, body, &pub);
	make_feed(mentor, "{\"kind\":\"mentor\"}", &men);
	make_feed(fac, "{\"kind\":\"facilitator\"}", &fa);
	struct seen vp, vm, vf;
	seen_get(pub.path, &vp);
	seen_get(men.path, &vm);
	seen_get(fa.path, &vf);
	ck_assert_ptr_nonnull(strstr(vp.body, "Graceful day"));
	ck_assert_ptr_nonnull(strstr(vm.body, "SUMMARY:Cached day — A.B.\r\n"));
	ck_assert_ptr_nonnull(strstr(vf.body, "Expected: 1"));
	still(pub.path, &vp, "nothing");
	still(men.path, &vm, "nothing");
	still(fa.path, &vf, "nothing");

	/* A session's text, written without touching updated_at. */
	free(sqls("UPDATE core.session SET title = 'Renamed day' WHERE id = %lld", s1));
	changed(pub.path, &vp, "session title", "SUMMARY:Renamed day");
	changed(men.path, &vm, "session title", "SUMMARY:Renamed day");
	/* The facilitator's summary is "<cohort>: <title>"; its module next. */
	changed(fa.path, &vf, "session title", "Cohort one: Renamed day");
	free(sqls("UPDATE core.session SET module = 'Module two' WHERE id = %lld", s1));
	changed(fa.path, &vf, "session module", "Module: Module two");
	still(pub.path, &vp, "module (not in the public feed)");
	free(sqls("UPDATE core.venue SET public_name = 'Other hall' WHERE id = %lld", venue));
	changed(pub.path, &vp, "venue public name", "LOCATION:Other hall");
	free(sqls("UPDATE core.venue SET name = 'Hall two' WHERE id = %lld", venue));
	changed(men.path, &vm, "venue name", "LOCATION:Hall two\\, Room one");
	free(sqls("UPDATE core.room SET name = 'Room nine' WHERE id = %lld", room));
	changed(fa.path, &vf, "room name", "LOCATION:Hall two\\, Room nine");
	free(sqls("UPDATE core.cohort SET name = 'Cohort nine' WHERE id = %lld", cohort));
	changed(fa.path, &vf, "cohort name", "Cohort nine: Module two");
	free(sqls("UPDATE core.programme SET name = 'Cache Course' WHERE id = %lld", prog));
	changed(men.path, &vm, "programme name", "DESCRIPTION:Cache Course");
	/* Who comes: a person's name (mentor: initials), a seat (facilitator:
	 * the count; mentor: initials). */
	free(sqls("UPDATE core.person SET family_name = 'Zeller' WHERE id = %lld", pa));
	changed(men.path, &vm, "participant's name", "— A.Z.\r\n");
	free(sqls("INSERT INTO core.seat (session_id, person_id, source, during)"
	          " SELECT id, %lld, 'booking', during FROM core.session WHERE id = %lld",
	          pb, s1));
	changed(men.path, &vm, "a seat", "— C.D. A.Z.\r\n");
	changed(fa.path, &vf, "a seat", "Expected: 2");
	/* The feed itself: its name, its variant. */
	free(sqls("UPDATE core.calendar_feed SET name = 'Renamed feed' WHERE id = %lld", pub.id));
	changed(pub.path, &vp, "feed name", "X-WR-CALNAME:Renamed feed");
	free(sqls("UPDATE core.calendar_feed SET variant = 'busy' WHERE id = %lld", men.id));
	changed(men.path, &vm, "feed variant", "SUMMARY:Busy");
	/* Time alone: cancelled 14 days less 5 seconds ago, the session
	 * leaves the feed when its grace period ends, no row changing ... */
	free(sqls("UPDATE core.session SET updated_at = now() - interval '14 days'"
	          " + interval '5 seconds' WHERE id = %lld",
	          s3));
	changed(pub.path, &vp, "cancellation time", "Graceful day");
	sleep(6);
	changed(pub.path, &vp, "grace period", "!Graceful day");
	/* ... and the window moves on (Early day, 3 days ahead, is 57 days
	 * behind a clock 60 days on). */
	free(sqls("UPDATE core.test_clock SET offset_by = offset_by + interval '60 days'"));
	changed(pub.path, &vp, "window", "!Early day");
	seen_free(&vp);
	seen_free(&vm);
	seen_free(&vf);
	free(mentor);
	free(fac);
}
END_TEST

/* The revision log is pruned by the background job; Last-Modified of a
 * live feed never goes back (the latest entry of every scope is kept). */
START_TEST(revision_prune_keeps_last_modified)
{
	char *mentor = ts_staff_token(db, "Test organisation", "pm@feeds.test", "mentor", 0);
	long long mentor_id = ts_staff_id(db, "pm@feeds.test");
	long long pa = sqln("WITH p AS (INSERT INTO core.person (given_name, family_name)"
	                    " VALUES ('Pat', 'Prune') RETURNING id),"
	                    " l AS (INSERT INTO core.person_org SELECT id, %lld FROM p)"
	                    " SELECT id FROM p",
	                    org);
	long long prog = programme("Prune Programme", 1);
	long long s1 = session_at(prog, "Pruned day", 20, NULL, NULL);
	free(sqls("INSERT INTO core.session_staff (session_id, staff_id, role, during)"
	          " SELECT id, %lld, 'mentor', during FROM core.session WHERE id = %lld",
	          mentor_id, s1));
	free(sqls("INSERT INTO core.seat (session_id, person_id, source, during)"
	          " SELECT id, %lld, 'booking', during FROM core.session WHERE id = %lld",
	          pa, s1));
	struct feed men;
	make_feed(mentor, "{\"kind\":\"mentor\"}", &men);
	/* Every scope the feed reads gets a history: old entries and, the
	 * newest of each, one older than the hour the prune spares. */
	free(sqls("UPDATE core.calendar_feed SET revision_at = now() - interval '1 day'"));
	free(sqls("UPDATE core.session SET updated_at = now() - interval '1 day'"));
	free(sqls("DELETE FROM core.calendar_revision"));
	free(sqls("INSERT INTO core.calendar_revision (scope, scope_id, revised_at)"
	          " SELECT sc, id, now() - h * interval '1 hour'"
	          " FROM (VALUES ('staff', %lld), ('session', %lld), ('person', %lld),"
	          "              ('programme', %lld)) x(sc, id),"
	          " generate_series(2, 6) h",
	          mentor_id, s1, pa, prog));
	struct ts_response r;
	call("", "GET", men.path, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	char *lm = ts_header(&r, "Last-Modified");
	ck_assert_ptr_nonnull(lm);
	ts_response_free(&r);
	/* Restart with a fast job tick; wait until it has pruned. */
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	struct ts_server_opts o = {.database_url = db,
	                           .config_json = "{\"jobs\": {\"interval_ms\": 100}}"};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	long long left = 0;
	for (int i = 0; i < 100 && (left = sqln("SELECT count(*) FROM core.calendar_revision")) > 4;
	     i++)
		usleep(100000);
	ck_assert_int_eq(left, 4); /* the newest of each of the 4 scopes */
	char h[128];
	call("", "GET", men.path, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	char *lm2 = ts_header(&r, "Last-Modified");
	ck_assert_ptr_nonnull(lm2);
	ck_assert_str_eq(lm2, lm);
	ts_response_free(&r);
	snprintf(h, sizeof h, "If-Modified-Since: %s\r\n", lm);
	call("", "GET", men.path, h, NULL, &r);
	ck_assert_int_eq(r.status, 304);
	ts_response_free(&r);
	free(lm);
	free(lm2);
	free(mentor);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("feeds");
	TCase *tc = tcase_create("feeds");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, http_and_links);
	tcase_add_test(tc, redaction);
	tcase_add_test(tc, series_across_clock_changes);
	tcase_add_test(tc, hostile_text);
	tcase_add_test(tc, cache_follows_every_input);
	tcase_add_test(tc, revision_prune_keeps_last_modified);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
