/*
 * cmd — what the waymarkd subcommands share (main.c holds the table of
 * them): option parsing, loading the configuration, and opening and
 * migrating the database the way `migrate` does. Commands that change data
 * from the shell (token create, staff create) use blocking libpq in the
 * CLI process and call the same SQL functions as the API
 * (migrations/0003_identity.sql), so the same rules and limits apply;
 * nothing here runs on an event loop.
 *
 * Exit status everywhere: 0 done, 1 failed while running, 2 bad usage or
 * configuration.
 */
#ifndef WM_CMD_H
#define WM_CMD_H

#include <stdio.h>

struct server;

/* One option of a subcommand: "--name VALUE" when `value` is set, a flag
 * (set to 1) when `flag` is. A table ends with a row whose name is NULL. */
struct cmd_opt {
	const char *name;
	const char **value;
	int *flag;
};

/* Parses argv[0..argc) against `opts`; "--config FILE" (into *config) and
 * "--help" are always accepted, as are "--name=VALUE" spellings. Returns 0,
 * 1 when --help was given, or 2 after saying on stderr what is wrong. */
int cmd_parse(int argc, char **argv, const struct cmd_opt *opts, const char **config);

/* Loads the configuration file (may be NULL) and the environment; 2 after
 * saying what is wrong. */
int cmd_load_config(struct server *srv, const char *path);

/* Loads the configured plugins (for their migrations), opens the database
 * (DATABASE_URL, db.url or the embedded cluster) and applies pending
 * migrations. Prints "migrations: N applied ..." to `report` unless NULL.
 * Returns an exit status. */
int cmd_prepare_database(struct server *srv, FILE *report);

/* 1 when `s` is 1..max characters of UTF-8 with no control characters. */
int cmd_plain_text(const char *s, size_t max);
/* Email addresses: identity_email_ok (login_throttle.h), the API's rule. */

struct pg_result;
/* When `res` failed with a refusal our SQL raised (SQLSTATE WM4xx, message
 * "code|field|text"): copies the code into `code` and returns the text
 * (borrowed from res). NULL for any other result. */
const char *cmd_refusal(const struct pg_result *res, char *code, size_t codelen);

/* `waymarkd token create --user EMAIL --name NAME [--expires-days N]`
 * (N: 1..365, default 90) */
int cmd_token(int argc, char **argv);
/* `waymarkd staff create --email E --name N [--org ORG --role R] [--server-admin]` */
int cmd_staff(int argc, char **argv);

#endif
