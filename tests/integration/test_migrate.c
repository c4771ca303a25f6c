/*
 * Migrations against the real PostgreSQL: a fresh database is brought up to
 * date, a second run changes nothing, an edited or unknown migration stops
 * everything before anything is applied, a failing migration leaves no
 * trace, and two processes migrating at once apply each migration once.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "migrate.h"
#include "ts.h"

static const struct wm_migration plug_v1[] = {
    {1, "notes", "CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);\n"},
    {2, "tags", "CREATE TABLE tags (id int PRIMARY KEY);\nINSERT INTO tags VALUES (1), (2);\n"},
};

/* plug_v1 with version 2 edited after release, and a new version 3. */
static const struct wm_migration plug_edited[] = {
    {1, "notes", "CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);\n"},
    {2, "tags", "CREATE TABLE tags (id bigint PRIMARY KEY);\nINSERT INTO tags VALUES (1);\n"},
    {3, "more", "CREATE TABLE more (id int);\n"},
};

/* Version 2 creates a table, then fails. */
static const struct wm_migration plug_broken[] = {
    {1, "notes", "CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);\n"},
    {2, "broken", "CREATE TABLE half (id int);\nSELECT no_such_function();\n"},
};

/* Slow enough that a second migrator arrives while the first holds the lock. */
static const struct wm_migration plug_slow[] = {
    {1, "slow", "SELECT pg_sleep(0.3);\nCREATE TABLE counted (n int);\n"},
    {2, "fill", "INSERT INTO counted VALUES (1);\n"},
};

static char *dsn;

static void setup(void)
{
	dsn = ts_db_create("migrate");
}

static void teardown(void)
{
	ts_db_drop(dsn);
	free(dsn);
}

static int total(const struct migration_set *sets, size_t n)
{
	int t = 0;
	for (size_t i = 0; i < n; i++)
		t += (int)sets[i].n;
	return t;
}

/* Runs SQL returning one value and compares it. */
static void expect(const char *sql, const char *want)
{
	char *got = ts_db_value(dsn, sql);
	if (!want)
		ck_assert_msg(got == NULL, "%s: expected NULL, got %s", sql, got);
	else
		ck_assert_msg(got && !strcmp(got, want), "%s: expected %s, got %s", sql, want,
		              got ? got : "NULL");
	free(got);
}

static void apply_ok(const struct migration_set *sets, size_t n, int want_applied)
{
	char err[512] = "";
	int applied = -1;
	ck_assert_msg(migrate_apply(dsn, sets, n, &applied, err, sizeof err) == WM_OK, "%s", err);
	ck_assert_int_eq(applied, want_applied);
}

static void apply_refused(const struct migration_set *sets, size_t n, const char *want)
{
	char err[512] = "";
	int applied = -1;
	ck_assert_int_eq(migrate_apply(dsn, sets, n, &applied, err, sizeof err), WM_ERR);
	ck_assert_msg(strstr(err, want), "expected \"%s\" in \"%s\"", want, err);
	ck_assert_int_eq(applied, 0);
}

START_TEST(fresh_database_is_brought_up_to_date)
{
	struct migration_set sets[] = {{"core", core_migrations, core_migrations_n},
	                               {"t_plug", plug_v1, 2}};
	char err[512] = "", n[16];

	ck_assert_int_eq(migrate_status(dsn, sets, 2, err, sizeof err), 0);
	apply_ok(sets, 2, total(sets, 2));
	ck_assert_msg(migrate_status(dsn, sets, 2, err, sizeof err) == 1, "%s", err);

	snprintf(n, sizeof n, "%d", total(sets, 2));
	expect("SELECT count(*) FROM core.schema_ledger", n);
	expect("SELECT count(*) FROM core.schema_ledger WHERE applied_at IS NULL "
	       "OR applied_at > now() OR checksum !~ '^[0-9a-f]{64}$'",
	       "0");
	char sum[65], sql[256];
	migrate_checksum(plug_v1[1].sql, sum);
	snprintf(sql, sizeof sql,
	         "SELECT checksum FROM core.schema_ledger WHERE owner = 't_plug' AND version = 2");
	expect(sql, sum);
	expect("SELECT name FROM core.schema_ledger WHERE owner = 't_plug' AND version = 1",
	       "notes");
	expect("SELECT name FROM core.schema_ledger WHERE owner = 'core' AND version = 1",
	       "foundation");

	/* Each owner's tables are in its own schema. */
	expect("SELECT to_regclass('t_plug.notes') IS NOT NULL", "t");
	expect("SELECT to_regclass('public.notes') IS NULL", "t");
	expect("SELECT count(*) FROM t_plug.tags", "2");
	expect("SELECT count(*) FROM core.instance", "1");
	ck_assert_int_eq(ts_db_exec(dsn, "INSERT INTO core.instance DEFAULT VALUES"), -1);
}
END_TEST

START_TEST(second_run_changes_nothing)
{
	struct migration_set sets[] = {{"core", core_migrations, core_migrations_n},
	                               {"t_plug", plug_v1, 2}};
	const char *ledger = "SELECT string_agg(owner || version || checksum || applied_at, ',' "
	                     "ORDER BY owner, version) FROM core.schema_ledger";

	apply_ok(sets, 2, total(sets, 2));
	char *before = ts_db_value(dsn, ledger);
	apply_ok(sets, 2, 0);
	expect(ledger, before);
	expect("SELECT count(*) FROM t_plug.tags", "2");
	free(before);
}
END_TEST

START_TEST(edited_migration_is_refused_before_anything_runs)
{
	struct migration_set first[] = {{"t_plug", plug_v1, 2}};
	struct migration_set sets[] = {{"core", core_migrations, core_migrations_n},
	                               {"t_plug", plug_edited, 3}};
	char err[512] = "";

	apply_ok(first, 1, 2);
	apply_refused(sets, 2,
	              "migration t_plug/0002_tags was edited after it was applied (checksum "
	              "differs); add a new migration instead");
	/* Neither the core (earlier in order) nor t_plug's new version ran. */
	expect("SELECT to_regclass('core.instance') IS NULL", "t");
	expect("SELECT to_regclass('t_plug.more') IS NULL", "t");
	expect("SELECT count(*) FROM core.schema_ledger", "2");
	ck_assert_int_eq(migrate_status(dsn, sets, 2, err, sizeof err), WM_ERR);
	ck_assert_ptr_nonnull(strstr(err, "was edited"));
}
END_TEST

START_TEST(database_ahead_of_binary_is_refused)
{
	struct migration_set sets[] = {{"core", core_migrations, core_migrations_n},
	                               {"t_plug", plug_v1, 2}};
	char err[512] = "";

	apply_ok(sets, 2, total(sets, 2));
	ck_assert_int_eq(ts_db_exec(dsn,
	                            "INSERT INTO core.schema_ledger (owner, version, name, "
	                            "checksum) VALUES ('t_plug', 3, 'future', repeat('0', 64))"),
	                 0);
	apply_refused(sets, 2,
	              "database is ahead of this binary: t_plug migration 3 (future) is applied "
	              "but this waymarkd only knows 1..2");
	ck_assert_int_eq(migrate_status(dsn, sets, 2, err, sizeof err), WM_ERR);
	ck_assert_ptr_nonnull(strstr(err, "ahead"));
}
END_TEST

START_TEST(failing_migration_leaves_no_trace)
{
	struct migration_set sets[] = {{"core", core_migrations, core_migrations_n},
	                               {"t_plug", plug_broken, 2}};
	char err[512] = "";
	int applied = -1;

	ck_assert_int_eq(migrate_apply(dsn, sets, 2, &applied, err, sizeof err), WM_ERR);
	ck_assert_msg(strstr(err, "migration t_plug/0002_broken failed: ") &&
	                  strstr(err, "no_such_function") && strstr(err, "(line 2)"),
	              "%s", err);
	ck_assert_int_eq(applied, (int)core_migrations_n + 1);
	expect("SELECT string_agg(version::text, ',') FROM core.schema_ledger "
	       "WHERE owner = 't_plug'",
	       "1");
	expect("SELECT to_regclass('t_plug.notes') IS NOT NULL", "t");
	expect("SELECT to_regclass('t_plug.half') IS NULL", "t");
	ck_assert_int_eq(migrate_status(dsn, sets, 2, err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(err, "t_plug/0002_broken"));
}
END_TEST

START_TEST(unreachable_database_is_named_without_secrets)
{
	struct migration_set sets[] = {{"t_plug", plug_v1, 2}};
	char err[512] = "";
	const char *bad = "host=/nonexistent-wm port=1 user=nobody password=hunter2 dbname=x";
	ck_assert_int_eq(migrate_apply(bad, sets, 1, NULL, err, sizeof err), WM_ERR);
	ck_assert_msg(strstr(err, "cannot connect to PostgreSQL"), "%s", err);
	ck_assert_msg(!strstr(err, "hunter2"), "%s", err);
	ck_assert_int_eq(migrate_status(bad, sets, 1, err, sizeof err), WM_ERR);
}
END_TEST

START_TEST(concurrent_migrators_apply_each_migration_once)
{
	struct migration_set sets[] = {{"core", core_migrations, core_migrations_n},
	                               {"t_plug", plug_slow, 2}};
	char err[512] = "";
	int mine = -1;

	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int applied = -1;
		char cerr[512];
		_exit(migrate_apply(dsn, sets, 2, &applied, cerr, sizeof cerr) == WM_OK ? applied
		                                                                        : 255);
	}
	wm_status rc = migrate_apply(dsn, sets, 2, &mine, err, sizeof err);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(rc == WM_OK, "%s", err);
	ck_assert(WIFEXITED(st));
	ck_assert_int_ne(WEXITSTATUS(st), 255);
	ck_assert_int_eq(mine + WEXITSTATUS(st), total(sets, 2));
	expect("SELECT count(*) FROM t_plug.counted", "1");
	char n[16];
	snprintf(n, sizeof n, "%d", total(sets, 2));
	expect("SELECT count(*) FROM core.schema_ledger", n);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("migrate");
	TCase *tc = tcase_create("postgres");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fresh_database_is_brought_up_to_date);
	tcase_add_test(tc, second_run_changes_nothing);
	tcase_add_test(tc, edited_migration_is_refused_before_anything_runs);
	tcase_add_test(tc, database_ahead_of_binary_is_refused);
	tcase_add_test(tc, failing_migration_leaves_no_trace);
	tcase_add_test(tc, unreachable_database_is_named_without_secrets);
	tcase_add_test(tc, concurrent_migrators_apply_each_migration_once);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
