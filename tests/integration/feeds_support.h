/*
 * feeds_support.h — what the calendar-feed integration tests (test_feeds.c,
 * test_feeds_review.c) share: a server on a fresh database with the test
 * clock at 2027-01-15, requests as a given caller, SQL fixtures, feed
 * creation, and the independent checkers (tests/tools/ical_check_all.sh) run
 * on every feed fetched. Included by exactly those files, each one
 * executable; define FEEDS_TEST_DB (the database name prefix) first.
 */
#ifndef FEEDS_SUPPORT_H
#define FEEDS_SUPPORT_H

#include <check.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts.h"

/* Each file uses a subset. */
#define FEEDS_HELPER static __attribute__((unused))

static struct ts_server srv;
static char *db;
static long long org;

FEEDS_HELPER void setup(void)
{
	db = ts_db_create(FEEDS_TEST_DB);
	struct ts_server_opts o = {.database_url = db};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	ts_server_grant(&srv, db);
	org = ts_org_id(db, "Test organisation");
	/* A fixed "now" for the window and grace periods: 2027-01-15. */
	free(ts_db_value(db, "UPDATE core.test_clock SET offset_by ="
	                     " '2027-01-15T12:00:00Z'::timestamptz - now()"));
}

FEEDS_HELPER void teardown(void)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
}

FEEDS_HELPER long long sqln(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
FEEDS_HELPER long long sqln(const char *fmt, ...)
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

FEEDS_HELPER char *sqls(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
FEEDS_HELPER char *sqls(const char *fmt, ...)
{
	char q[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q, sizeof q, fmt, ap);
	va_end(ap);
	return ts_db_value(db, q);
}

/* A request as `token` (NULL: the server's admin/coordinator token, "" for
 * none); `hdrs` extra header lines. */
FEEDS_HELPER void call(const char *token, const char *method, const char *path, const char *hdrs,
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

FEEDS_HELPER json_t *ok_json(const char *token, const char *method, const char *path,
                             const char *body, int status)
{
	struct ts_response r;
	call(token, method, path, NULL, body, &r);
	ck_assert_msg(r.status == status, "%s %s: %d %s", method, path, r.status, r.body);
	json_t *j = ts_json(&r);
	ts_response_free(&r);
	ck_assert_ptr_nonnull(j);
	return j;
}

FEEDS_HELPER void expect_error(const char *token, const char *method, const char *path,
                               const char *body, int status, const char *code)
{
	struct ts_response r;
	call(token, method, path, NULL, body, &r);
	char *c = ts_error_code(&r);
	ck_assert_msg(r.status == status && c && !strcmp(c, code), "%s %s: %d %s (want %d %s)",
	              method, path, r.status, r.body, status, code);
	free(c);
	ts_response_free(&r);
}

struct feed {
	long long id;
	char token[96], path[160];
};

/* A feed's id and path from a create or regenerate reply. */
FEEDS_HELPER void feed_from(json_t *j, struct feed *f)
{
	const char *t = json_string_value(json_object_get(j, "token"));
	const char *url = json_string_value(json_object_get(j, "url"));
	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_nonnull(url);
	ck_assert(!strncmp(url, srv.url, strlen(srv.url)));
	f->id = json_integer_value(json_object_get(j, "id"));
	snprintf(f->token, sizeof f->token, "%s", t);
	snprintf(f->path, sizeof f->path, "%s", url + strlen(srv.url));
}

/* POST /api/v1/feeds with `body` as `token`; the feed's id and its path. */
FEEDS_HELPER void make_feed(const char *token, const char *body, struct feed *f)
{
	json_t *j = ok_json(token, "POST", "/api/v1/feeds", body, 201);
	const char *t = json_string_value(json_object_get(j, "token"));
	const char *webcal = json_string_value(json_object_get(j, "webcal_url"));
	ck_assert_ptr_nonnull(t);
	ck_assert_msg(!strncmp(t, "wmf_", 4) && strlen(t) == 4 + 16 + 43, "token %s", t);
	ck_assert_ptr_nonnull(webcal);
	ck_assert(!strncmp(webcal, "webcal://", 9) && strstr(webcal, t));
	feed_from(j, f);
	json_decref(j);
}

/* Runs the independent checkers on `body`; with from/to, the expansion
 * (libical's, which the others must equal) is returned (malloc'd). */
FEEDS_HELPER char *check_ical(const char *body, size_t len, const char *from, const char *to)
{
	char dir[] = "/tmp/wm-feeds-XXXXXX", file[96], cmd[2048], bin[512];
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

/* GET a feed (checked, < 1 MB); the body (malloc'd). */
FEEDS_HELPER char *get_feed(const char *path, const char *from, const char *to, char **expansion)
{
	struct ts_response r;
	call("", "GET", path, NULL, NULL, &r);
	ck_assert_msg(r.status == 200, "GET %s: %d %s", path, r.status, r.body);
	ck_assert_uint_lt(r.body_len, 1000000);
	char *exp = check_ical(r.body, r.body_len, from, to);
	if (expansion)
		*expansion = exp;
	else
		free(exp);
	char *body = strdup(r.body);
	ts_response_free(&r);
	return body;
}

FEEDS_HELPER void absent(const char *body, const char *what, const char *const *markers)
{
	for (size_t i = 0; markers[i]; i++)
		ck_assert_msg(!strstr(body, markers[i]), "%s feed shows \"%s\":\n%s", what,
		              markers[i], body);
}

FEEDS_HELPER void present(const char *body, const char *what, const char *const *texts)
{
	for (size_t i = 0; texts[i]; i++)
		ck_assert_msg(strstr(body, texts[i]) != NULL, "%s feed lacks \"%s\":\n%s", what,
		              texts[i], body);
}

/* A programme of `in_org` (zone `tz`, NULL: Europe/London). */
FEEDS_HELPER long long programme_in(long long in_org, const char *name, int listed, const char *tz)
{
	return sqln("INSERT INTO core.programme (org_id, type, name, public_listing, time_zone)"
	            " VALUES (%lld, 'example', '%s', %s, '%s') RETURNING id",
	            in_org, name, listed ? "true" : "false", tz ? tz : "Europe/London");
}

/* A one-off session `days` after the test clock's now, 10:00-12:00 London. */
FEEDS_HELPER long long session_in(long long in_org, long long prog, const char *title, int days,
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

FEEDS_HELPER void staff_on(long long session, long long staff, const char *role)
{
	free(sqls("INSERT INTO core.session_staff (session_id, staff_id, role, during)"
	          " SELECT id, %lld, '%s', during FROM core.session WHERE id = %lld",
	          staff, role, session));
}

FEEDS_HELPER long long programme(const char *name, int listed)
{
	return programme_in(org, name, listed, NULL);
}

FEEDS_HELPER long long session_at(long long prog, const char *title, int days,
                                  const char *extra_cols, const char *extra_vals)
{
	return session_in(org, prog, title, days, extra_cols, extra_vals);
}

#endif
