/*
 * cmd_common — option parsing and database preparation for the
 * subcommands (cmd.h).
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "jsonv.h"
#include "log.h"
#include "migrate.h"
#include "server.h"

/* Returns the option's value from "--x VALUE" or "--x=VALUE", advancing *i;
 * NULL when `arg` is not this option. *missing is set when the value is. */
static const char *option_value(const char *name, int argc, char **argv, int *i, int *missing)
{
	size_t n = strlen(name);
	const char *arg = argv[*i];
	if (!strncmp(arg, name, n) && arg[n] == '=')
		return arg + n + 1;
	if (strcmp(arg, name))
		return NULL;
	if (*i + 1 >= argc) {
		*missing = 1;
		return NULL;
	}
	return argv[++*i];
}

int cmd_parse(int argc, char **argv, const struct cmd_opt *opts, const char **config)
{
	int help = 0;
	for (int i = 0; i < argc; i++) {
		int missing = 0, known = 0;
		const char *v;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			help = 1;
			continue;
		}
		if ((v = option_value("--config", argc, argv, &i, &missing))) {
			*config = v;
			continue;
		}
		for (size_t k = 0; !missing && !known && opts && opts[k].name; k++) {
			if (opts[k].flag && !strcmp(argv[i], opts[k].name)) {
				*opts[k].flag = 1;
				known = 1;
			} else if (opts[k].value &&
			           (v = option_value(opts[k].name, argc, argv, &i, &missing))) {
				*opts[k].value = v;
				known = 1;
			}
		}
		if (missing) {
			fprintf(stderr, "waymarkd: %s needs a value\n", argv[i]);
			return 2;
		}
		if (!known) {
			fprintf(stderr, "waymarkd: unknown argument \"%s\"\n", argv[i]);
			return 2;
		}
	}
	return help;
}

int cmd_load_config(struct server *srv, const char *path)
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

int cmd_prepare_database(struct server *srv, FILE *report)
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
	if (report)
		fprintf(report, "migrations: %d applied, database current\n", applied);
	return 0;
}

int cmd_plain_text(const char *s, size_t max)
{
	size_t chars = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			return 0;
		chars += (*p & 0xc0) != 0x80;
	}
	return chars >= 1 && chars <= max && utf8_valid((const unsigned char *)s, strlen(s));
}

const char *cmd_refusal(const PGresult *res, char *code, size_t codelen)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *bar1 = msg ? strchr(msg, '|') : NULL;
	const char *bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;
	if (!state || strncmp(state, "WM4", 3) || !bar2)
		return NULL;
	snprintf(code, codelen, "%.*s", (int)(bar1 - msg), msg);
	return bar2 + 1;
}
