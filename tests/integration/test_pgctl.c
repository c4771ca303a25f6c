/*
 * The embedded PostgreSQL: found, created, started, reused by a second
 * waymarkd, stopped and started again by the test, and the operator's
 * mistakes (socket path too long, a run-as user that does not exist, a data
 * directory that user cannot reach) refused with a message that says so.
 *
 * The temporary directory's name has a space in it on purpose: the path
 * travels through pg_ctl's shell and through a libpq conninfo.
 */
#include <check.h>
#include <ftw.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgctl.h"
#include "ts.h"

static char tmp[] = "/tmp/wm pgctl.XXXXXX";

static void make_tmp(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	/* So that user postgres may pass through it when the tests run as root. */
	ck_assert_int_eq(chmod(tmp, 0755), 0);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Runs in the Check parent after every test, so a failed test still leaves
 * no cluster running and no directory behind. */
static void remove_tmp(void)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/var/pg/postmaster.pid", tmp);
	if (access(path, F_OK) == 0) {
		struct pgctl pg = {0};
		snprintf(path, sizeof path, "%s/var/pg", tmp);
		pg.datadir = path;
		pg.bindir = pgctl_find_bindir("");
		pg.run_as = geteuid() == 0 ? "postgres" : NULL;
		pg.port = 5432;
		char err[1024];
		if (pg.bindir && pgctl_ctl(&pg, "stop", err, sizeof err) != WM_OK)
			fprintf(stderr, "cleanup: %s\n", err);
		free(pg.bindir);
	}
	nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *sub(const char *name)
{
	char *s = NULL;
	ck_assert_int_gt(asprintf(&s, "%s/%s", tmp, name), 0);
	return s;
}

/* 1 if the cluster answers SELECT 1 in database "waymark". */
static int answers(const struct pgctl *pg)
{
	char *ci = pgctl_conninfo(pg);
	ck_assert_ptr_nonnull(ci);
	PGconn *conn = PQconnectdb(ci);
	int ok = 0;
	if (PQstatus(conn) == CONNECTION_OK) {
		PGresult *res = PQexec(conn, "SELECT current_database(), 1, "
		                             "current_setting('listen_addresses')");
		ok = PQresultStatus(res) == PGRES_TUPLES_OK &&
		     !strcmp(PQgetvalue(res, 0, 0), "waymark") &&
		     !strcmp(PQgetvalue(res, 0, 1), "1");
		/* Only the socket: no TCP listener. */
		ck_assert_str_eq(PQgetvalue(res, 0, 2), "");
		PQclear(res);
	}
	PQfinish(conn);
	free(ci);
	return ok;
}

START_TEST(finds_the_server_binaries)
{
	char *dir = pgctl_find_bindir("");
	ck_assert_ptr_nonnull(dir);
	ck_assert_ptr_nonnull(strstr(dir, "/usr/lib/postgresql/"));
	char *again = pgctl_find_bindir(dir);
	ck_assert_ptr_nonnull(again);
	ck_assert_str_eq(again, dir);
	ck_assert_ptr_null(pgctl_find_bindir(tmp));
	ck_assert_ptr_null(pgctl_find_bindir("/nonexistent-wm-bindir"));
	free(again);
	free(dir);
}
END_TEST

START_TEST(creates_starts_reuses_and_stops)
{
	char *data_dir = sub("var");
	char err[1024] = "";
	struct pgctl pg, other;

	ck_assert_msg(pgctl_start(&pg, data_dir, "", "postgres", err, sizeof err) == WM_OK, "%s",
	              err);
	ck_assert_int_eq(pg.started, 1);
	ck_assert_int_eq(pg.port, 5432);
	if (geteuid() == 0)
		ck_assert_str_eq(pg.run_as, "postgres");
	else
		ck_assert_ptr_null(pg.run_as);
	char *version = sub("var/pg/PG_VERSION");
	ck_assert_int_eq(access(version, F_OK), 0);
	ck_assert(answers(&pg));

	/* A second waymarkd on the same directory uses the running cluster
	 * and, not having started it, leaves it running when it stops. */
	ck_assert_msg(pgctl_start(&other, data_dir, "", "postgres", err, sizeof err) == WM_OK, "%s",
	              err);
	ck_assert_int_eq(other.started, 0);
	ck_assert_str_eq(other.datadir, pg.datadir);
	ck_assert_int_eq(pgctl_stop(&other), WM_OK);
	pgctl_free(&other);
	ck_assert(answers(&pg));

	ck_assert_msg(pgctl_ctl(&pg, "stop", err, sizeof err) == WM_OK, "%s", err);
	ck_assert(!answers(&pg));
	ck_assert_msg(pgctl_ctl(&pg, "start", err, sizeof err) == WM_OK, "%s", err);
	ck_assert(answers(&pg));
	ck_assert_int_eq(pgctl_ctl(&pg, "restart", err, sizeof err), WM_ERR);
	ck_assert_ptr_nonnull(strstr(err, "\"restart\""));

	ck_assert_int_eq(pgctl_stop(&pg), WM_OK);
	ck_assert_int_eq(pg.started, 0);
	ck_assert(!answers(&pg));
	pgctl_free(&pg);
	free(version);
	free(data_dir);
}
END_TEST

START_TEST(socket_path_too_long_is_refused)
{
	char name[101];
	memset(name, 'a', 100);
	name[100] = '\0';
	char *data_dir = sub(name);
	char err[1024] = "";
	struct pgctl pg;
	ck_assert_int_eq(pgctl_start(&pg, data_dir, "", "postgres", err, sizeof err), WM_ERR);
	ck_assert_msg(strstr(err, "/.s.PGSQL.5432") && strstr(err, "107") &&
	                  strstr(err, "server.data_dir"),
	              "%s", err);
	ck_assert_ptr_null(pg.datadir);
	pgctl_free(&pg);
	free(data_dir);
}
END_TEST

START_TEST(bad_bindir_is_refused)
{
	char *data_dir = sub("bindir");
	char err[1024] = "";
	struct pgctl pg;
	ck_assert_int_eq(
	    pgctl_start(&pg, data_dir, "/nonexistent-wm-bindir", "postgres", err, sizeof err),
	    WM_ERR);
	ck_assert_msg(strstr(err, "server.pg_bindir /nonexistent-wm-bindir"), "%s", err);
	free(data_dir);
}
END_TEST

START_TEST(missing_run_as_user_is_named)
{
	if (geteuid() != 0)
		return; /* run_as only applies to root */
	char *data_dir = sub("user");
	char err[1024] = "";
	struct pgctl pg;
	ck_assert_int_eq(pgctl_start(&pg, data_dir, "", "no_such_wm_user", err, sizeof err),
	                 WM_ERR);
	ck_assert_msg(strstr(err, "\"no_such_wm_user\"") && strstr(err, "does not exist"), "%s",
	              err);
	free(data_dir);
}
END_TEST

START_TEST(unreachable_data_dir_is_refused)
{
	if (geteuid() != 0)
		return; /* only root's directories can be out of postgres's reach */
	char *locked = sub("locked");
	char *data_dir = sub("locked/var");
	char err[1024] = "";
	struct pgctl pg;
	ck_assert_int_eq(mkdir(locked, 0700), 0);
	ck_assert_int_eq(pgctl_start(&pg, data_dir, "", "postgres", err, sizeof err), WM_ERR);
	ck_assert_msg(strstr(err, "PostgreSQL runs as \"postgres\", which cannot reach ") &&
	                  strstr(err, "/locked/var/pg: move server.data_dir"),
	              "%s", err);
	free(data_dir);
	free(locked);
}
END_TEST

START_TEST(initdb_failure_shows_the_log)
{
	char *data_dir = sub("junk");
	char *pgdir = sub("junk/pg");
	char *stray = sub("junk/pg/stray");
	char err[1024] = "";
	struct pgctl pg;
	ck_assert_int_eq(mkdir(data_dir, 0755), 0);
	ck_assert_int_eq(mkdir(pgdir, 0700), 0);
	FILE *f = fopen(stray, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("postgres");
		ck_assert_ptr_nonnull(pw);
		ck_assert_int_eq(chown(pgdir, pw->pw_uid, pw->pw_gid), 0);
	}
	/* A directory that is not empty and not a cluster: initdb refuses. */
	ck_assert_int_eq(pgctl_start(&pg, data_dir, "", "postgres", err, sizeof err), WM_ERR);
	ck_assert_msg(strstr(err, "initdb failed (exit 1)") && strstr(err, "pg.log") &&
	                  strstr(err, "is not empty"),
	              "%s", err);
	free(stray);
	free(pgdir);
	free(data_dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pgctl");
	TCase *tc = tcase_create("cluster");
	tcase_add_unchecked_fixture(tc, make_tmp, remove_tmp);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, finds_the_server_binaries);
	tcase_add_test(tc, creates_starts_reuses_and_stops);
	tcase_add_test(tc, socket_path_too_long_is_refused);
	tcase_add_test(tc, bad_bindir_is_refused);
	tcase_add_test(tc, missing_run_as_user_is_named);
	tcase_add_test(tc, unreachable_data_dir_is_refused);
	tcase_add_test(tc, initdb_failure_shows_the_log);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
