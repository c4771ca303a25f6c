/*
 * ts_auth — credentials for tests, written straight into the database the
 * way `waymarkd token create` does: the token's selector and the SHA-256 of
 * its verifier (core/secret.c), never the secret itself.
 */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "ts.h"

static char *one_value(PGconn *c, const char *sql, int n, const char *const *params)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
		char msg[512];
		snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
		PQclear(r);
		ck_abort_msg("ts_auth: %s", msg);
	}
	char *v = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? strdup(PQgetvalue(r, 0, 0)) : NULL;
	PQclear(r);
	return v;
}

char *ts_staff_token(const char *conninfo, const char *org, const char *email, const char *role,
                     int server_admin)
{
	PGconn *c = PQconnectdb(conninfo);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "ts_auth: %s", PQerrorMessage(c));
	const char *p_org[] = {org};
	char *org_id = one_value(c,
	                         "INSERT INTO core.organisation (name) VALUES ($1)"
	                         " ON CONFLICT (lower(name)) DO UPDATE SET name = EXCLUDED.name"
	                         " RETURNING id",
	                         1, p_org);
	const char *p_staff[] = {email, server_admin ? "t" : "f"};
	char *staff_id = one_value(c,
	                           "INSERT INTO core.staff (email, display_name, server_admin)"
	                           " VALUES ($1, $1, $2)"
	                           " ON CONFLICT (lower(email)) DO UPDATE"
	                           " SET server_admin = core.staff.server_admin OR $2"
	                           " RETURNING id",
	                           2, p_staff);
	if (role) {
		const char *p_m[] = {staff_id, org_id, role};
		free(one_value(c,
		               "INSERT INTO core.membership (staff_id, org_id, role)"
		               " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
		               3, p_m));
	}
	struct secret s;
	char name[64], text[80];
	secret_new(&s);
	snprintf(name, sizeof name, "test %s", s.selector);
	const char *p_t[] = {staff_id, name, s.selector, s.hash_hex};
	free(one_value(c,
	               "INSERT INTO core.api_token (staff_id, name, selector, verifier_hash)"
	               " VALUES ($1, $2, $3, $4)",
	               4, p_t));
	secret_format(&s, SECRET_TOKEN_PREFIX, text, sizeof text);
	free(org_id);
	free(staff_id);
	PQfinish(c);
	return strdup(text);
}

static long long id_of(const char *conninfo, const char *sql, const char *key)
{
	PGconn *c = PQconnectdb(conninfo);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "ts_auth: %s", PQerrorMessage(c));
	const char *p[] = {key};
	char *v = one_value(c, sql, 1, p);
	PQfinish(c);
	ck_assert_msg(v != NULL, "ts_auth: no row for %s", key);
	long long id = atoll(v);
	free(v);
	return id;
}

long long ts_staff_id(const char *conninfo, const char *email)
{
	return id_of(conninfo, "SELECT id FROM core.staff WHERE lower(email) = lower($1)", email);
}

long long ts_org_id(const char *conninfo, const char *org)
{
	return id_of(conninfo, "SELECT id FROM core.organisation WHERE lower(name) = lower($1)",
	             org);
}

void ts_server_grant(struct ts_server *s, const char *conninfo)
{
	char *t = ts_staff_token(conninfo, "Test organisation", "tester@example.org", "admin", 1);
	free(ts_staff_token(conninfo, "Test organisation", "tester@example.org", "coordinator", 1));
	snprintf(s->token, sizeof s->token, "%s", t);
	free(t);
}
