/*
 * ts_db — the database half of the test support: one throw-away database
 * per test on the real cluster named by WAYMARK_TEST_PG, and blocking
 * one-statement helpers for asserting on what the server wrote.
 */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ts.h"

const char *ts_pg_base(void)
{
	const char *base = getenv("WAYMARK_TEST_PG");
	if (!base || !*base)
		ck_abort_msg("WAYMARK_TEST_PG is not set: point it at a PostgreSQL superuser, "
		             "e.g. \"host=/tmp/wm-pg port=5499 user=postgres dbname=postgres\"");
	return base;
}

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static PGconn *connect_or_abort(const char *conninfo)
{
	PGconn *conn = PQconnectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK) {
		char msg[512];
		snprintf(msg, sizeof msg, "%s", PQerrorMessage(conn));
		PQfinish(conn);
		ck_abort_msg("cannot connect to the test PostgreSQL: %s", msg);
	}
	PQsetNoticeProcessor(conn, quiet, NULL);
	return conn;
}

/* conninfo with dbname replaced; works for key=value strings and URIs. */
static char *with_dbname(const char *conninfo, const char *dbname)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
	if (!opts)
		ck_abort_msg("bad conninfo in WAYMARK_TEST_PG: %s", err ? err : "out of memory");
	size_t cap = 256, len = 0;
	char *out = malloc(cap);
	ck_assert_ptr_nonnull(out);
	out[0] = '\0';
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		const char *v = strcmp(o->keyword, "dbname") ? o->val : dbname;
		if (!v)
			continue;
		size_t need = len + strlen(o->keyword) + 2 * strlen(v) + 8;
		if (need > cap) {
			cap = need * 2;
			out = realloc(out, cap);
			ck_assert_ptr_nonnull(out);
		}
		len += (size_t)sprintf(out + len, "%s%s='", len ? " " : "", o->keyword);
		for (; *v; v++) {
			if (*v == '\'' || *v == '\\')
				out[len++] = '\\';
			out[len++] = *v;
		}
		out[len++] = '\'';
		out[len] = '\0';
	}
	PQconninfoFree(opts);
	return out;
}

static char *dbname_of(const char *conninfo)
{
	char *err = NULL, *name = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
	if (!opts)
		ck_abort_msg("bad conninfo: %s", err ? err : "out of memory");
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (!strcmp(o->keyword, "dbname") && o->val)
			name = strdup(o->val);
	PQconninfoFree(opts);
	ck_assert_ptr_nonnull(name);
	return name;
}

/* DROP or CREATE DATABASE on the base connection; aborts on failure. */
static void admin(PGconn *conn, const char *verb, const char *name, const char *suffix)
{
	char *ident = PQescapeIdentifier(conn, name, strlen(name));
	ck_assert_ptr_nonnull(ident);
	char sql[512];
	snprintf(sql, sizeof sql, "%s %s%s", verb, ident, suffix);
	PQfreemem(ident);
	PGresult *res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		char msg[512];
		snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(res));
		PQclear(res);
		PQfinish(conn);
		ck_abort_msg("%s: %s", sql, msg);
	}
	PQclear(res);
}

char *ts_db_create(const char *prefix)
{
	static int n;
	char name[64];
	snprintf(name, sizeof name, "%s_%ld_%d", prefix, (long)getpid(), ++n);
	PGconn *conn = connect_or_abort(ts_pg_base());
	/* A pid reused from an earlier run may have left its database behind. */
	admin(conn, "DROP DATABASE IF EXISTS", name, " WITH (FORCE)");
	admin(conn, "CREATE DATABASE", name, "");
	PQfinish(conn);
	return with_dbname(ts_pg_base(), name);
}

void ts_db_drop(const char *conninfo)
{
	if (!conninfo)
		return;
	char *name = dbname_of(conninfo);
	PGconn *conn = connect_or_abort(ts_pg_base());
	admin(conn, "DROP DATABASE IF EXISTS", name, " WITH (FORCE)");
	PQfinish(conn);
	free(name);
}

char *ts_db_value(const char *conninfo, const char *sql)
{
	PGconn *conn = connect_or_abort(conninfo);
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		char msg[512];
		snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(res));
		PQclear(res);
		PQfinish(conn);
		ck_abort_msg("%s: %s", sql, msg);
	}
	char *value = NULL;
	if (st == PGRES_TUPLES_OK && PQntuples(res) > 0 && PQnfields(res) > 0 &&
	    !PQgetisnull(res, 0, 0)) {
		value = strdup(PQgetvalue(res, 0, 0));
		ck_assert_ptr_nonnull(value);
	}
	PQclear(res);
	PQfinish(conn);
	return value;
}

int ts_db_exec(const char *conninfo, const char *sql)
{
	PGconn *conn = PQconnectdb(conninfo);
	int rc = -1;
	if (PQstatus(conn) == CONNECTION_OK) {
		PQsetNoticeProcessor(conn, quiet, NULL);
		PGresult *res = PQexec(conn, sql);
		ExecStatusType st = PQresultStatus(res);
		rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
		PQclear(res);
	}
	PQfinish(conn);
	return rc;
}
