/*
 * cmd_staff — `waymarkd staff create`: the first accounts of a new server
 * (a server admin, an organisation's first admin) before anyone can sign in
 * to create the rest through the API. The organisation is created when it
 * does not exist. A password, if any, comes from WAYMARK_PASSWORD (never
 * the command line, where other users could read it) and is stored only as
 * its argon2id hash. Prints the new staff id.
 */
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "cmd.h"
#include "server.h"

#define PASSWORD_MIN_CHARS 12
#define PASSWORD_MAX_CHARS 1024

/* One statement: the organisation (found or created), the staff member,
 * the membership and the audit rows, all or nothing. */
static const char create_sql[] =
    "WITH o AS (INSERT INTO core.organisation (name) SELECT $4::text WHERE $4::text IS NOT NULL"
    "  ON CONFLICT (lower(name)) DO UPDATE SET name = core.organisation.name"
    "  RETURNING id, xmax = 0 AS created),"
    " s AS (INSERT INTO core.staff (email, display_name, password_hash, server_admin)"
    "  VALUES ($1::text, $2::text, $3::text, $6::boolean) RETURNING id),"
    " m AS (INSERT INTO core.membership (staff_id, org_id, role)"
    "  SELECT s.id, o.id, $5::core.staff_role FROM s, o RETURNING org_id),"
    " ao AS (INSERT INTO core.audit (org_id, action, object_type, object_id, detail)"
    "  SELECT o.id, 'organisation.create', 'organisation', o.id,"
    "   jsonb_build_object('via', 'cli') FROM o WHERE o.created),"
    " a AS (INSERT INTO core.audit (org_id, action, object_type, object_id, detail)"
    "  SELECT (SELECT org_id FROM m), 'staff.create', 'staff', s.id,"
    "   jsonb_build_object('via', 'cli', 'role', $5::text, 'server_admin', $6::boolean,"
    "    'password', $3::text IS NOT NULL) FROM s)"
    " SELECT id FROM s";

static void usage(FILE *out)
{
	fputs("usage: waymarkd staff create --email EMAIL --name NAME [--org ORG --role ROLE]\n"
	      "                             [--server-admin] [--config FILE]\n"
	      "  Creates a staff member and prints their id. With --org and --role they get\n"
	      "  that role in organisation ORG (created if missing). ROLE: admin, coordinator,\n"
	      "  facilitator, mentor or commissioner. --server-admin lets them create\n"
	      "  organisations. The password, if any, is read from WAYMARK_PASSWORD\n"
	      "  (12 to 1024 characters); without it they sign in with tokens only.\n",
	      out);
}

static int password_ok(const char *pw)
{
	size_t chars = 0;
	for (const unsigned char *p = (const unsigned char *)pw; *p; p++)
		chars += (*p & 0xc0) != 0x80;
	return chars >= PASSWORD_MIN_CHARS && chars <= PASSWORD_MAX_CHARS;
}

static int create(const char *conninfo, const char *email, const char *name, const char *org,
                  const char *role, int server_admin, const char *password)
{
	char hash[crypto_pwhash_STRBYTES];
	int rc = 1;
	if (password &&
	    crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		fprintf(stderr, "waymarkd: cannot hash the password (out of memory?)\n");
		return 1;
	}
	PGconn *c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "waymarkd: cannot connect to the database: %s", PQerrorMessage(c));
		PQfinish(c);
		return 1;
	}
	const char *p[] = {email, name, password ? hash : NULL,
	                   org,   role, server_admin ? "true" : "false"};
	PGresult *r = PQexecParams(c, create_sql, 6, NULL, p, NULL, NULL, 0);
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		if (state && !strcmp(state, "23505"))
			fprintf(stderr,
			        "waymarkd: a staff member with email \"%s\" already exists\n",
			        email);
		else
			fprintf(stderr, "waymarkd: cannot create the staff member: %s",
			        PQresultErrorMessage(r));
	} else {
		printf("%s\n", PQgetvalue(r, 0, 0));
		rc = 0;
	}
	sodium_memzero(hash, sizeof hash);
	PQclear(r);
	PQfinish(c);
	return rc;
}

int cmd_staff(int argc, char **argv)
{
	const char *config = NULL, *email = NULL, *name = NULL, *org = NULL, *role = NULL;
	int server_admin = 0;
	const struct cmd_opt opts[] = {
	    {"--email", &email, NULL},
	    {"--name", &name, NULL},
	    {"--org", &org, NULL},
	    {"--role", &role, NULL},
	    {"--server-admin", NULL, &server_admin},
	    {NULL, NULL, NULL},
	};
	if (argc < 1 || strcmp(argv[0], "create")) {
		if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
			usage(stdout);
			return 0;
		}
		fprintf(stderr, "waymarkd: staff needs a subcommand: create\n");
		usage(stderr);
		return 2;
	}
	int rc = cmd_parse(argc - 1, argv + 1, opts, &config);
	if (rc == 1) {
		usage(stdout);
		return 0;
	}
	const char *password = getenv("WAYMARK_PASSWORD");
	if (password && !*password)
		password = NULL;
	if (rc == 0 && (!email || !name)) {
		fprintf(stderr, "waymarkd: staff create needs --email and --name\n");
		rc = 2;
	} else if (rc == 0 && !cmd_email(email)) {
		fprintf(stderr, "waymarkd: --email must be an email address\n");
		rc = 2;
	} else if (rc == 0 && !cmd_plain_text(name, 100)) {
		fprintf(stderr, "waymarkd: --name must be 1 to 100 characters without control "
		                "characters\n");
		rc = 2;
	} else if (rc == 0 && !org != !role) {
		fprintf(stderr, "waymarkd: --org and --role go together\n");
		rc = 2;
	} else if (rc == 0 && org && !cmd_plain_text(org, 200)) {
		fprintf(stderr, "waymarkd: --org must be 1 to 200 characters without control "
		                "characters\n");
		rc = 2;
	} else if (rc == 0 && role && !auth_role_parse(role)) {
		fprintf(stderr, "waymarkd: unknown role \"%s\"\n", role);
		rc = 2;
	} else if (rc == 0 && password && !password_ok(password)) {
		fprintf(stderr, "waymarkd: WAYMARK_PASSWORD must be %d to %d characters\n",
		        PASSWORD_MIN_CHARS, PASSWORD_MAX_CHARS);
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
		rc = create(srv.conninfo, email, name, org, role, server_admin, password);
	server_free(&srv);
	return rc;
}
