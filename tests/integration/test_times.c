/*
 * Local times at the clock changes: core.instant_in refuses a local time the
 * zone skips (spring forward) or repeats (fall back), naming the field, and
 * reads every other local time, or an explicit offset, as the instant a
 * calendar client would.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts.h"

static struct ts_server srv;
static char *db;

static void setup(void)
{
	db = ts_db_create("times");
	struct ts_server_opts o = {.database_url = db};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
}

static void teardown(void)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
}

static void expect_instant(const char *text, const char *tz, const char *utc)
{
	char sql[256];
	snprintf(sql, sizeof sql,
	         "SELECT to_char(core.instant_in('%s', '%s', 'starts_at') AT TIME ZONE 'UTC',"
	         " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
	         text, tz);
	char *got = ts_db_value(db, sql);
	ck_assert_msg(got && !strcmp(got, utc), "%s in %s: %s, expected %s", text, tz,
	              got ? got : "(null)", utc);
	free(got);
}

static void expect_refused(const char *text, const char *tz)
{
	char sql[256];
	snprintf(sql, sizeof sql, "SELECT core.instant_in('%s', '%s', 'starts_at')", text, tz);
	ck_assert_msg(ts_db_exec(db, sql) == -1, "%s in %s was accepted", text, tz);
}

START_TEST(clock_changes_are_refused_or_read_exactly)
{
	/* 2027: clocks go forward 28 March 01:00 GMT, back 31 October 02:00 BST. */
	expect_instant("2027-03-28T00:59", "Europe/London", "2027-03-28T00:59:00Z");
	expect_refused("2027-03-28T01:00", "Europe/London");
	expect_refused("2027-03-28T01:30", "Europe/London");
	expect_instant("2027-03-28T02:00", "Europe/London", "2027-03-28T01:00:00Z");
	expect_instant("2027-10-31T00:59", "Europe/London", "2027-10-30T23:59:00Z");
	expect_refused("2027-10-31T01:00", "Europe/London");
	expect_refused("2027-10-31T01:59", "Europe/London");
	expect_instant("2027-10-31T02:00", "Europe/London", "2027-10-31T02:00:00Z");
	/* With an offset, the repeated hour is unambiguous. */
	expect_instant("2027-10-31T01:30+01:00", "Europe/London", "2027-10-31T00:30:00Z");
	expect_instant("2027-10-31T01:30+00:00", "Europe/London", "2027-10-31T01:30:00Z");
	expect_instant("2027-10-31T01:30:00Z", "Europe/London", "2027-10-31T01:30:00Z");
	/* Summer and winter local times; another zone's own change. */
	expect_instant("2027-06-01T10:00", "Europe/London", "2027-06-01T09:00:00Z");
	expect_instant("2027-12-01T10:00", "Europe/London", "2027-12-01T10:00:00Z");
	expect_refused("2027-03-28T02:30", "Europe/Rome");
	expect_instant("2027-03-28T03:30", "Europe/Rome", "2027-03-28T01:30:00Z");
	/* The refusal names the field and says why. */
	ck_assert_int_eq(ts_db_exec(db, "DO $$ BEGIN PERFORM core.instant_in('2027-03-28T01:30', "
	                                "'Europe/London', 'starts_at'); EXCEPTION WHEN "
	                                "SQLSTATE 'WM422' THEN IF SQLERRM NOT LIKE "
	                                "'core.nonexistent_time|starts_at|%' THEN RAISE "
	                                "'wrong message: %', SQLERRM; END IF; END $$"),
	                 0);
	ck_assert_int_eq(ts_db_exec(db, "DO $$ BEGIN PERFORM core.instant_in('2027-10-31T01:30', "
	                                "'Europe/London', 'starts_at'); EXCEPTION WHEN "
	                                "SQLSTATE 'WM422' THEN IF SQLERRM NOT LIKE "
	                                "'core.ambiguous_time|starts_at|%' THEN RAISE "
	                                "'wrong message: %', SQLERRM; END IF; END $$"),
	                 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("times");
	TCase *tc = tcase_create("times");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, clock_changes_are_refused_or_read_exactly);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
