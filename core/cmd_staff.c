/*
 * cmd_staff — `waymarkd staff create`: the first accounts of a new server
 * (a server admin, an organisation's first admin) before anyone can sign in
 * to create the rest through the API. The organisation is created when it
 * does not exist. A password, if any, comes from WAYMARK_PASSWORD (never
 * the command line, where other users could read it): it is taken out of
 * the environment first thing, so the embedded PostgreSQL this command may
 * start never inherits it, wiped once hashed, and stored only as its
 * argon2id hash. The same SQL as POST /staff applies its rules. Prints the
 * new staff id.
 */
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "cmd.h"
#include "login_throttle.h"
#include "server.h"

#define PASSWORD_MIN_CHARS 12
#define PASSWORD_MAX_CHARS 1024

/* The function behind POST /staff's rules (identity_staff_insert: one
 * email per person, the audit row), with the organisation found by name or
 * created: all or nothing. */
static const char create_sql[] =
    "SELECT core.identity_staff_create_cli($1::text, $2::text, $3::text, $4::text,"
    " $5::core.staff_role, $6::boolean)";

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

/* Hashes `password` (may be NULL), wiping it, then creates the member. */
static int create(const char *conninfo, const char *email, const char *name, const char *org,
                  const char *role, int server_admin, char *password)
{
	char hash[crypto_pwhash_STRBYTES];
	int rc = 1;
	if (password) {
		int hashed = crypto_pwhash_str(hash, password, strlen(password),
		                               crypto_pwhash_OPSLIMIT_INTERACTIVE,
		                               crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0;
		sodium_memzero(password, strlen(password));
		if (!hashed) {
			fprintf(stderr, "waymarkd: cannot hash the password (out of memory?)\n");
			return 1;
		}
	}
	PGconn *c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "waymarkd: cannot connect to the database: %s", PQerrorMessage(c));
		PQfinish(c);
		sodium_memzero(hash, sizeof hash);
		return 1;
	}
	const char *p[] = {email, name, password ? hash : NULL,
	                   org,   role, server_admin ? "true" : "false"};
	PGresult *r = PQexecParams(c, create_sql, 6, NULL, p, NULL, NULL, 0);
	char code[64];
	const char *why = cmd_refusal(r, code, sizeof code);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
		if (why && !strcmp(code, "core.duplicate_email"))
			fprintf(stderr,
			        "waymarkd: a staff member with email \"%s\" already exists\n",
			        email);
		else if (why)
			fprintf(stderr, "waymarkd: cannot create the staff member: %s\n", why);
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

/* Takes WAYMARK_PASSWORD out of the environment before anything else runs
 * (the embedded PostgreSQL, started later, inherits the environment):
 * returns a copy (NULL when unset or empty) and wipes the original text. */
static char *take_password(void)
{
	char *v = getenv("WAYMARK_PASSWORD");
	char *copy = v && *v ? strdup(v) : NULL;
	if (v)
		sodium_memzero(v, strlen(v));
	unsetenv("WAYMARK_PASSWORD");
	return copy;
}

static void free_password(char *pw)
{
	if (pw) {
		sodium_memzero(pw, strlen(pw));
		free(pw);
	}
}

int cmd_staff(int argc, char **argv)
{
	const char *config = NULL, *email = NULL, *name = NULL, *org = NULL, *role = NULL;
	int server_admin = 0;
	char *password = take_password();
	const struct cmd_opt opts[] = {
	    {"--email", &email, NULL},
	    {"--name", &name, NULL},
	    {"--org", &org, NULL},
	    {"--role", &role, NULL},
	    {"--server-admin", NULL, &server_admin},
	    {NULL, NULL, NULL},
	};
	if (argc < 1 || strcmp(argv[0], "create")) {
		free_password(password);
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
		free_password(password);
		usage(stdout);
		return 0;
	}
	if (rc == 0 && (!email || !name)) {
		fprintf(stderr, "waymarkd: staff create needs --email and --name\n");
		rc = 2;
	} else if (rc == 0 && !identity_email_ok(email)) {
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
		free_password(password);
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
	free_password(password);
	return rc;
}
