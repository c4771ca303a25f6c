/*
 * cmd_token — `waymarkd token create --user EMAIL --name NAME`: a new API
 * token for a staff member, for scripts and the demo. Like POST /tokens it
 * stores only the selector and the verifier's SHA-256 and audits the
 * creation; the secret goes to stdout, once, on one line, and nowhere else.
 */
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "secret.h"
#include "server.h"

static const char create_sql[] =
    "WITH s AS (SELECT id FROM core.staff"
    "  WHERE lower(email) = lower($1::text) AND disabled_at IS NULL),"
    " t AS (INSERT INTO core.api_token (staff_id, name, selector, verifier_hash, expires_at)"
    "  SELECT s.id, $2::text, $3::text, $4::text, now() + make_interval(days => $5::int)"
    "  FROM s RETURNING id, staff_id),"
    " a AS (INSERT INTO core.audit (actor_staff_id, action, object_type, object_id, detail)"
    "  SELECT NULL, 'token.create', 'token', t.id,"
    "   jsonb_build_object('via', 'cli', 'staff_id', t.staff_id, 'expires', $5::int IS NOT NULL)"
    "  FROM t)"
    " SELECT id FROM t";

static void usage(FILE *out)
{
	fputs("usage: waymarkd token create --user EMAIL --name NAME [--expires-days N]"
	      " [--config FILE]\n"
	      "  Creates an API token for the staff member with this email and prints it on\n"
	      "  one line. It is shown only this once; the server keeps only its hash.\n"
	      "  NAME: 1 to 100 characters, unique among the member's live tokens.\n"
	      "  --expires-days: 1 to 3650 (default: no expiry).\n",
	      out);
}

static int create(const char *conninfo, const char *user, const char *name, const char *days)
{
	int rc = 1;
	struct secret s;
	char text[80];
	PGconn *c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "waymarkd: cannot connect to the database: %s", PQerrorMessage(c));
		PQfinish(c);
		return 1;
	}
	secret_new(&s);
	const char *p[] = {user, name, s.selector, s.hash_hex, days};
	PGresult *r = PQexecParams(c, create_sql, 5, NULL, p, NULL, NULL, 0);
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		if (state && !strcmp(state, "23505"))
			fprintf(
			    stderr,
			    "waymarkd: %s already has a live token named \"%s\"; choose another "
			    "name\n",
			    user, name);
		else
			fprintf(stderr, "waymarkd: cannot create the token: %s",
			        PQresultErrorMessage(r));
	} else if (PQntuples(r) != 1) {
		fprintf(stderr,
		        "waymarkd: no staff member with email \"%s\" (or the account is "
		        "disabled)\n",
		        user);
	} else {
		secret_format(&s, SECRET_TOKEN_PREFIX, text, sizeof text);
		printf("%s\n", text);
		fflush(stdout);
		sodium_memzero(text, sizeof text);
		rc = 0;
	}
	sodium_memzero(&s, sizeof s);
	PQclear(r);
	PQfinish(c);
	return rc;
}

int cmd_token(int argc, char **argv)
{
	const char *config = NULL, *user = NULL, *name = NULL, *days = NULL;
	const struct cmd_opt opts[] = {
	    {"--user", &user, NULL},
	    {"--name", &name, NULL},
	    {"--expires-days", &days, NULL},
	    {NULL, NULL, NULL},
	};
	if (argc < 1 || strcmp(argv[0], "create")) {
		if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
			usage(stdout);
			return 0;
		}
		fprintf(stderr, "waymarkd: token needs a subcommand: create\n");
		usage(stderr);
		return 2;
	}
	int rc = cmd_parse(argc - 1, argv + 1, opts, &config);
	if (rc == 1) {
		usage(stdout);
		return 0;
	}
	if (rc == 0 && (!user || !name)) {
		fprintf(stderr, "waymarkd: token create needs --user and --name\n");
		rc = 2;
	} else if (rc == 0 && !cmd_email(user)) {
		fprintf(stderr, "waymarkd: --user must be an email address\n");
		rc = 2;
	} else if (rc == 0 && !cmd_plain_text(name, 100)) {
		fprintf(stderr, "waymarkd: --name must be 1 to 100 characters without control "
		                "characters\n");
		rc = 2;
	} else if (rc == 0 && days &&
	           (strspn(days, "0123456789") != strlen(days) || !*days || strlen(days) > 4 ||
	            atoi(days) < 1 || atoi(days) > 3650)) {
		fprintf(stderr, "waymarkd: --expires-days must be a whole number from 1 to 3650\n");
		rc = 2;
	}
	if (rc) {
		usage(stderr);
		return rc;
	}
	struct server srv = {0};
	rc = cmd_load_config(&srv, config);
	if (rc == 0)
		rc = cmd_prepare_database(&srv, NULL);
	if (rc == 0)
		rc = create(srv.conninfo, user, name, days);
	server_free(&srv);
	return rc;
}
