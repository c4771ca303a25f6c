/*
 * config — the server's settings, declared once in a table (config_table.c:
 * name, type, default, bounds, help) and read from an optional JSON file plus
 * two environment overrides (DATABASE_URL, WAYMARK_LISTEN).
 *
 * The file is nested by section ({"http": {"listen": "..."}}) and each key is
 * known by its dotted name ("http.listen"). An unknown key, a value of the
 * wrong type or out of bounds stops start-up with a message naming the key.
 * Plugin sections ("plugins.<name>") are checked later against each plugin's
 * own table with config_apply_table, once the plugin is loaded.
 */
#ifndef WM_CONFIG_H
#define WM_CONFIG_H

#include <jansson.h>
#include <stdio.h>
#include <waymark/plugin.h>

struct config {
	/* http */
	char *listen; /* "host:port" */
	long long http_max_body;
	long long http_max_json_body; /* JSON bodies routes accept; http_max_body still caps */
	long long http_max_headers;
	long long http_timeout_ms;
	long long http_max_connections;
	int http_reuseport;
	/* db */
	char *db_url; /* "" = embedded cluster under data_dir */
	long long db_pool_size;
	long long db_queue_max;
	long long db_queue_wait_ms;
	long long db_statement_timeout_ms;
	long long db_lock_timeout_ms;
	long long db_idle_tx_timeout_ms;
	long long db_connect_timeout_ms;
	/* embedded PostgreSQL */
	char *data_dir;  /* root of the server's own files: <data_dir>/pg */
	char *pg_bindir; /* "" = first of /usr/lib/postgresql/<N>/bin found */
	char *pg_user;   /* when run as root: the user PostgreSQL runs as */
	/* plugins */
	char **plugins; /* names to load, in order */
	size_t n_plugins;
	char *plugin_dir;        /* "" = the directory built beside the binary */
	json_t *plugin_sections; /* object: name -> raw section (owned) */
	/* auth */
	long long auth_session_ttl_s;
	long long auth_session_idle_s;
	char *auth_cookie_secure; /* "auto" | "always" | "never" */
	long long auth_login_max_failures;
	long long auth_login_lockout_max_s;
	long long auth_pwhash_threads;
	long long auth_pwhash_queue;
	/* jobs */
	long long jobs_interval_ms;
	/* feeds (calendar feeds: feed.h) */
	long long feeds_past_days;
	long long feeds_future_days;
	long long feeds_cancelled_grace_days;
	long long feeds_max_events;
	long long feeds_max_bytes;
	char *feeds_uid_domain;
	long long feeds_cache_bytes;
	/* server */
	long long shutdown_drain_ms;
	char *log_level;
	char *public_url; /* base URL printed in links, "" = http://<listen> */
};

/* One row of the core's own table (config_table.c): the same description a
 * plugin gives for its keys, plus where the value lives in struct config.
 * `check`, if set, refines the type check (it sees a value of the right
 * type) and writes why it refuses into why. The table ends with a row
 * whose key.name is NULL. */
struct config_entry {
	struct wm_config_key key;
	size_t offset;       /* of the char *, long long, int or char ** member */
	size_t count_offset; /* WM_CFG_STRING_LIST: of the size_t count */
	int (*check)(const json_t *value, char *why, size_t whylen);
};

extern const struct config_entry config_table[];

/* Loads defaults, then `path` (may be NULL), then the environment.
 * On failure `err` names the key and the problem; *cfg is left freed. */
wm_status config_load(struct config *cfg, const char *path, char *err, size_t errlen) WM_MUST_CHECK;
void config_free(struct config *cfg);

/* Prints the table: name, type, default, help — for `waymarkd config --help`. */
void config_print_help(FILE *out);

/* Checks `section` (may be NULL) against a {NULL}-terminated table: unknown
 * keys, wrong types and bounds are errors naming "<prefix>.<key>". On
 * success *filled is a new object with every key, defaults filled in. */
wm_status config_apply_table(const struct wm_config_key *keys, const char *prefix,
                             const json_t *section, json_t **filled, char *err,
                             size_t errlen) WM_MUST_CHECK;

#endif
