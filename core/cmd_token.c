/*
 * cmd_token — `waymarkd token create --user EMAIL --name NAME`: a new API
 * token for a staff member, for scripts. It calls the function POST /tokens
 * calls (identity_token_create: the same expiry, limits and audit), which
 * stores only the selector and the verifier's SHA-256; the secret goes to
 * stdout, once, on one line, and nowhere else.
 */
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "login_throttle.h"
#include "secret.h"
#include "server.h"

/* The function POST /tokens calls, for the staff member with this email
 * (not disabled): no row when there is none. */
static const char create_sql[] =
    "SELECT core.identity_token_create(NULL, NULL, NULL, $2::text, $3::text, $4::text,"
    " $5::int, s.id, 'cli')"
    " FROM core.staff s WHERE lower(s.email) = lower($1::text) AND s.disabled_at IS NULL";

static void usage(FILE *out)
{
	fputs("usage: waymarkd token create --user EMAIL --name NAME [--expires-days N]"
	      " [--config FILE]\n"
	      "  Creates an API token for the staff member with this email and prints it on\n"
	      "  one line. It is shown only this once; the server keeps only its hash.\n"
	      "  NAME: 1 to 100 characters, unique among the member's live tokens.\n"
	      "  --expires-days: 1 to 365 (default 90): the token stops working then.\n",
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
	char code[64];
	const char *why = cmd_refusal(r, code, sizeof code);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		if (why && !strcmp(code, "core.duplicate_name"))
			fprintf(
			    stderr,
			    "waymarkd: %s already has a live token named \"%s\"; choose another "
			    "name\n",
			    user, name);
		else if (why)
			fprintf(stderr, "waymarkd: cannot create the token: %s\n", why);
		else
			fprintf(stderr, "waymarkd: cannot create the token: %s",
			        PQresultErrorMessage(r));
	} else if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
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
	} else if (rc == 0 && !identity_email_ok(user)) {
		fprintf(stderr, "waymarkd: --user must be an email address\n");
		rc = 2;
	} else if (rc == 0 && !cmd_plain_text(name, 100)) {
		fprintf(stderr, "waymarkd: --name must be 1 to 100 characters without control "
		                "characters\n");
		rc = 2;
	} else if (rc == 0 && days &&
	           (strspn(days, "0123456789") != strlen(days) || !*days || strlen(days) > 3 ||
	            atoi(days) < 1 || atoi(days) > 365)) {
		fprintf(stderr, "waymarkd: --expires-days must be a whole number from 1 to 365\n");
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
