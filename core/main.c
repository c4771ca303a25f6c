/*
 * main — the waymarkd command line: one binary, a table of subcommands.
 *
 *   waymarkd serve   [--config FILE]   run the server (default)
 *   waymarkd migrate [--config FILE]   apply migrations and exit
 *   waymarkd demo    [--config FILE]   migrate, load demo data, print links
 *   waymarkd token create --user EMAIL --name NAME     print a new API token
 *   waymarkd staff create --email E --name N [...]     create a staff member
 *   waymarkd config  --help            the configuration table
 *   waymarkd version
 *
 * Exit status: 0 done, 1 failed while running, 2 bad usage or configuration.
 */
#include <event2/event.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "demo.h"
#include "plugin_loader.h"
#include "server.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv); /* the words after the command */
	const char *help;
};

static void usage(FILE *out);

/* serve, migrate and demo take only --config. */
static int simple_args(int argc, char **argv, const char **config)
{
	int rc = cmd_parse(argc, argv, NULL, config);
	if (rc == 1)
		usage(stdout);
	else if (rc == 2)
		usage(stderr);
	return rc;
}

static int cmd_serve(int argc, char **argv)
{
	const char *config = NULL;
	int rc = simple_args(argc, argv, &config);
	if (rc)
		return rc == 1 ? 0 : rc;
	struct server srv = {0};
	rc = cmd_load_config(&srv, config);
	if (rc == 0)
		rc = server_run(&srv);
	server_free(&srv);
	return rc;
}

static int cmd_migrate(int argc, char **argv)
{
	const char *config = NULL;
	int rc = simple_args(argc, argv, &config);
	if (rc)
		return rc == 1 ? 0 : rc;
	struct server srv = {0};
	rc = cmd_load_config(&srv, config);
	if (rc == 0)
		rc = cmd_prepare_database(&srv, stdout);
	server_free(&srv);
	return rc;
}

static int cmd_demo(int argc, char **argv)
{
	const char *config = NULL;
	char err[1024];
	int rc = simple_args(argc, argv, &config);
	if (rc)
		return rc == 1 ? 0 : rc;
	struct server srv = {0};
	rc = cmd_load_config(&srv, config);
	if (rc == 0)
		rc = cmd_prepare_database(&srv, stdout);
	if (rc == 0 && demo_load(srv.conninfo, stdout, err, sizeof err) != WM_OK) {
		fprintf(stderr, "waymarkd: cannot load the demo data: %s\n", err);
		rc = 1;
	}
	if (rc == 0) {
		const char *base =
		    srv.cfg.public_url && *srv.cfg.public_url ? srv.cfg.public_url : NULL;
		char url[300];
		if (base)
			snprintf(url, sizeof url, "%s", base);
		else
			snprintf(url, sizeof url, "http://%s", srv.cfg.listen);
		printf("url %s\n", url);
		for (size_t i = 0; i < srv.n_plugins; i++)
			printf("plugin %s %s/api/v1/%s/\n", srv.plugins[i]->name, url,
			       srv.plugins[i]->name);
	}
	server_free(&srv);
	return rc;
}

static int cmd_config(int argc, char **argv)
{
	const char *config = NULL;
	if (cmd_parse(argc, argv, NULL, &config) == 2) {
		usage(stderr);
		return 2;
	}
	config_print_help(stdout);
	return 0;
}

static int cmd_version(int argc, char **argv)
{
	const char *config = NULL;
	if (cmd_parse(argc, argv, NULL, &config) == 2) {
		usage(stderr);
		return 2;
	}
	printf("waymarkd %s\nplugin ABI %d.%d\nlibevent %s\nlibpq %d\njansson %s\n",
	       WAYMARK_VERSION, WM_ABI_MAJOR, WM_ABI_MINOR, event_get_version(), PQlibVersion(),
	       JANSSON_VERSION);
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	usage(stdout);
	return 0;
}

static const struct command commands[] = {
    {"serve", cmd_serve, "run the server (the default command)"},
    {"migrate", cmd_migrate, "apply pending migrations of the core and loaded plugins, then exit"},
    {"demo", cmd_demo, "migrate, load demo data, print tokens and what to try"},
    {"token", cmd_token, "create --user EMAIL --name NAME: print a new API token"},
    {"staff", cmd_staff,
     "create --email E --name N [--org ORG --role ROLE] [--server-admin]: print the new id"},
    {"config", cmd_config, "--help prints every configuration key, its type and default"},
    {"version", cmd_version, "print versions and exit"},
    {"help", cmd_help, "this text"},
};

static void usage(FILE *out)
{
	fputs("usage: waymarkd <command> [options] [--config FILE]\n\ncommands:\n", out);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].help);
	fputs("\n"
	      "environment: DATABASE_URL (overrides db.url), WAYMARK_LISTEN (http.listen),\n"
	      "WAYMARK_PASSWORD (staff create). Without a database URL the server runs its own\n"
	      "PostgreSQL under server.data_dir.\n",
	      out);
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0) {
		fputs("waymarkd: cannot initialise libsodium\n", stderr);
		return 1;
	}
	/* No command word: serve, with whatever options follow. */
	if (argc < 2 || argv[1][0] == '-')
		return cmd_serve(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 2, argv + 2);
	fprintf(stderr, "waymarkd: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
