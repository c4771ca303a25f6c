/*
 * main — the waymarkd command line: one binary, subcommands.
 *
 *   waymarkd serve   [--config FILE]   run the server (default)
 *   waymarkd migrate [--config FILE]   apply migrations and exit
 *   waymarkd demo    [--config FILE]   migrate, load demo data, print links
 *   waymarkd config  --help            the configuration table
 *   waymarkd version
 *
 * Exit status: 0 done, 1 failed while running, 2 bad usage or configuration.
 */
#include <event2/event.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "migrate.h"
#include "plugin_loader.h"
#include "server.h"

static void usage(FILE *out)
{
	fputs("usage: waymarkd <command> [--config FILE]\n"
	      "\n"
	      "commands:\n"
	      "  serve     run the server (the default command)\n"
	      "  migrate   apply pending migrations of the core and loaded plugins, then exit\n"
	      "  demo      migrate an empty database, load demo data, print what to try\n"
	      "  config    --help prints every configuration key, its type and default\n"
	      "  version   print versions and exit\n"
	      "\n"
	      "environment: DATABASE_URL (overrides db.url), WAYMARK_LISTEN (http.listen).\n"
	      "Without a database URL the server runs its own PostgreSQL under "
	      "server.data_dir.\n",
	      out);
}

static int load_config(struct server *srv, const char *path)
{
	char err[1024];
	if (config_load(&srv->cfg, path, err, sizeof err) != WM_OK) {
		fprintf(stderr, "waymarkd: %s\n", err);
		return 2;
	}
	enum wm_log_level lvl;
	if (log_level_parse(srv->cfg.log_level, &lvl) == WM_OK)
		log_set_level(lvl);
	return 0;
}

/* Shared by migrate and demo: plugins (for their migrations), database,
 * migrations. The embedded cluster, if started, is stopped by server_free. */
static int prepare_database(struct server *srv)
{
	char err[1024];
	int applied = 0;
	if (server_load_plugins(srv, err, sizeof err) != WM_OK) {
		fprintf(stderr, "waymarkd: %s\n", err);
		return 2;
	}
	if (server_open_database(srv, err, sizeof err) != WM_OK ||
	    migrate_apply(srv->conninfo, srv->sets, srv->n_sets, &applied, err, sizeof err) !=
	        WM_OK) {
		fprintf(stderr, "waymarkd: %s\n", err);
		return 1;
	}
	printf("migrations: %d applied, database current\n", applied);
	return 0;
}

static int cmd_demo(struct server *srv)
{
	int rc = prepare_database(srv);
	if (rc)
		return rc;
	const char *base = srv->cfg.public_url && *srv->cfg.public_url ? srv->cfg.public_url : NULL;
	char url[300];
	if (base)
		snprintf(url, sizeof url, "%s", base);
	else
		snprintf(url, sizeof url, "http://%s", srv->cfg.listen);
	/* Staff, roles and feeds arrive with the people and scheduling schemas;
	 * until then the demo is the plugins' own routes. */
	printf("url %s\n", url);
	for (size_t i = 0; i < srv->n_plugins; i++)
		printf("plugin %s %s/api/v1/%s/\n", srv->plugins[i]->name, url,
		       srv->plugins[i]->name);
	return 0;
}

static int cmd_version(void)
{
	printf("waymarkd %s\nplugin ABI %d.%d\nlibevent %s\nlibpq %d\njansson %s\n",
	       WAYMARK_VERSION, WM_ABI_MAJOR, WM_ABI_MINOR, event_get_version(), PQlibVersion(),
	       JANSSON_VERSION);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = "serve", *config = NULL;
	int help = 0, i = 1;
	if (argc > 1 && argv[1][0] != '-')
		cmd = argv[i++];
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			config = argv[++i];
		} else if (!strncmp(argv[i], "--config=", 9)) {
			config = argv[i] + 9;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			help = 1;
		} else {
			fprintf(stderr, "waymarkd: unknown argument \"%s\"\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (!strcmp(cmd, "version"))
		return cmd_version();
	if (!strcmp(cmd, "config")) {
		config_print_help(stdout);
		return 0;
	}
	if (!strcmp(cmd, "help") || help) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "serve") && strcmp(cmd, "migrate") && strcmp(cmd, "demo")) {
		fprintf(stderr, "waymarkd: unknown command \"%s\"\n", cmd);
		usage(stderr);
		return 2;
	}
	struct server srv = {0};
	int rc = load_config(&srv, config);
	if (rc == 0) {
		if (!strcmp(cmd, "serve"))
			rc = server_run(&srv);
		else if (!strcmp(cmd, "migrate"))
			rc = prepare_database(&srv);
		else
			rc = cmd_demo(&srv);
	}
	server_free(&srv);
	return rc;
}
