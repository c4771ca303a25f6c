/*
 * config — reads the settings described by config_table.c: defaults, then
 * the JSON file, then the environment, each value checked against the
 * table before it is stored. The same checks serve plugin sections through
 * config_apply_table, so a plugin author's table behaves like the core's.
 *
 * Every message names where the bad value came from (file and key, or the
 * environment variable) because the operator reading it is usually looking
 * at a unit file or a config file, not at this code.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "jsonv.h"

#ifndef WAYMARK_STANDARD_PLUGINS
#define WAYMARK_STANDARD_PLUGINS ""
#endif

#define CONFIG_FILE_MAX (1024 * 1024)

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* Type and bounds of one value against its key; 0, or -1 with why. */
static int check_type(const struct wm_config_key *k, const json_t *v, char *why, size_t whylen)
{
	switch (k->type) {
	case WM_CFG_STRING:
		if (!json_is_string(v)) {
			snprintf(why, whylen, "expected a string");
			return -1;
		}
		if (k->max > 0) {
			long long n = (long long)utf8_chars(json_string_value(v));
			if (n < k->min || n > k->max) {
				snprintf(why, whylen, "must be %lld to %lld characters long",
				         k->min, k->max);
				return -1;
			}
		}
		return 0;
	case WM_CFG_INT:
		if (!json_is_integer(v)) {
			snprintf(why, whylen, "expected an integer");
			return -1;
		}
		if (json_integer_value(v) < k->min || json_integer_value(v) > k->max) {
			snprintf(why, whylen, "must be between %lld and %lld", k->min, k->max);
			return -1;
		}
		return 0;
	case WM_CFG_BOOL:
		if (!json_is_boolean(v)) {
			snprintf(why, whylen, "expected true or false");
			return -1;
		}
		return 0;
	case WM_CFG_STRING_LIST: {
		size_t i;
		json_t *item;
		int ok = json_is_array(v);
		json_array_foreach(v, i, item) ok = ok && json_is_string(item);
		if (!ok) {
			snprintf(why, whylen, "expected a list of strings");
			return -1;
		}
		long long n = (long long)json_array_size(v);
		if (k->max > 0 && (n < k->min || n > k->max)) {
			snprintf(why, whylen, "must list %lld to %lld entries", k->min, k->max);
			return -1;
		}
		return 0;
	}
	}
	snprintf(why, whylen, "has an unknown type in its table");
	return -1;
}

static const struct config_entry *find_entry(const char *name)
{
	for (const struct config_entry *e = config_table; e->key.name; e++)
		if (!strcmp(e->key.name, name))
			return e;
	return NULL;
}

/* The full check of a core value; `who` says where it came from. */
static wm_status check_entry(const struct config_entry *e, const json_t *v, const char *who,
                             char *err, size_t errlen)
{
	char why[300];
	if (check_type(&e->key, v, why, sizeof why) == 0 &&
	    (!e->check || e->check(v, why, sizeof why) == 0))
		return WM_OK;
	snprintf(err, errlen, "%s: %s", who, why);
	return WM_ERR;
}

static json_t *default_plugins(void)
{
	json_t *list = json_array();
	const char *p = WAYMARK_STANDARD_PLUGINS;
	while (list && *p) {
		size_t n = strcspn(p, ",");
		size_t b = 0;
		while (b < n && p[b] == ' ')
			b++;
		size_t e = n;
		while (e > b && p[e - 1] == ' ')
			e--;
		if (e > b && json_array_append_new(list, json_stringn(p + b, e - b)) != 0) {
			json_decref(list);
			return NULL;
		}
		p += n + (p[n] == ',');
	}
	return list;
}

static json_t *entry_default(const struct config_entry *e)
{
	if (!e->key.def)
		return e->key.type == WM_CFG_STRING_LIST ? default_plugins() : NULL;
	return json_loads(e->key.def, JSON_DECODE_ANY, NULL);
}

static int is_comment(const char *key)
{
	return key[0] == '#';
}

static int is_plugin_name(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 31 || !(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static int known_section(const char *sec)
{
	size_t n = strlen(sec);
	for (const struct config_entry *e = config_table; e->key.name; e++)
		if (!strncmp(e->key.name, sec, n) && e->key.name[n] == '.')
			return 1;
	return 0;
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	if (!f) {
		snprintf(err, errlen, "cannot open config file %s: %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (!buf) {
		snprintf(err, errlen, "out of memory reading %s", path);
		goto fail;
	}
	*len = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
		goto fail;
	}
	if (*len > CONFIG_FILE_MAX) {
		snprintf(err, errlen, "%s: a config file may be at most 1 MiB", path);
		goto fail;
	}
	fclose(f);
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

/* Checks one section of the file into flat (dotted name -> value). */
static wm_status read_section(const char *path, const char *sec, json_t *obj, json_t *flat,
                              json_t *plugin_sections, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	char name[256], who[300];
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "%s: config key \"%s\": expected an object", path, sec);
		return WM_ERR;
	}
	json_object_foreach(obj, key, v)
	{
		if (is_comment(key))
			continue;
		snprintf(name, sizeof name, "%s.%s", sec, key);
		const struct config_entry *e = find_entry(name);
		/* "dir" and "load" stay keys even when mistyped as objects. */
		if (!e && !strcmp(sec, "plugins") && json_is_object(v) && is_plugin_name(key)) {
			if (json_object_set_new(plugin_sections, key, json_deep_copy(v)) != 0) {
				snprintf(err, errlen, "out of memory");
				return WM_ERR;
			}
			continue;
		}
		if (!e) {
			snprintf(err, errlen, "%s: unknown config key \"%s\"", path, name);
			return WM_ERR;
		}
		snprintf(who, sizeof who, "%s: config key \"%s\"", path, name);
		if (check_entry(e, v, who, err, errlen) != WM_OK)
			return WM_ERR;
		if (json_object_set(flat, name, v) != 0) {
			snprintf(err, errlen, "out of memory");
			return WM_ERR;
		}
	}
	return WM_OK;
}

static wm_status read_config_file(const char *path, json_t *flat, json_t *plugin_sections,
                                  char *err, size_t errlen)
{
	size_t len = 0;
	json_error_t jerr;
	json_t *doc = NULL;
	wm_status rc = WM_ERR;
	char *text = read_file(path, &len, err, errlen);
	if (!text)
		return WM_ERR;
	if (!utf8_valid((const unsigned char *)text, len)) {
		snprintf(err, errlen, "%s: not valid UTF-8", path);
		goto fail;
	}
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		snprintf(err, errlen, "%s: line %d, column %d: %s", path, jerr.line, jerr.column,
		         jerr.text);
		goto fail;
	}
	if (!json_is_object(doc)) {
		snprintf(err, errlen, "%s: the config file must hold a JSON object", path);
		goto fail;
	}
	const char *sec;
	json_t *v;
	json_object_foreach(doc, sec, v)
	{
		if (is_comment(sec))
			continue;
		if (!known_section(sec)) {
			snprintf(err, errlen, "%s: unknown config key \"%s\"", path, sec);
			goto fail;
		}
		if (read_section(path, sec, v, flat, plugin_sections, err, errlen) != WM_OK)
			goto fail;
	}
	rc = WM_OK;
fail:
	json_decref(doc);
	free(text);
	return rc;
}

/* A variable set to "" counts as unset, as `VAR= waymarkd` intends. */
static wm_status read_env(const char *var, const char *key, json_t *flat, char *err, size_t errlen)
{
	const char *s = getenv(var);
	char who[128];
	if (!s || !*s)
		return WM_OK;
	snprintf(who, sizeof who, "environment variable %s (config key \"%s\")", var, key);
	if (!utf8_valid((const unsigned char *)s, strlen(s))) {
		snprintf(err, errlen, "%s: not valid UTF-8", who);
		return WM_ERR;
	}
	json_t *v = json_string(s);
	const struct config_entry *e = find_entry(key);
	if (!v || !e) {
		snprintf(err, errlen, "%s: cannot be read", who);
		json_decref(v);
		return WM_ERR;
	}
	if (check_entry(e, v, who, err, errlen) != WM_OK) {
		json_decref(v);
		return WM_ERR;
	}
	/* json_object_set_new takes v even when it fails. */
	if (json_object_set_new(flat, key, v) != 0) {
		snprintf(err, errlen, "out of memory");
		return WM_ERR;
	}
	return WM_OK;
}

static wm_status store(struct config *cfg, const struct config_entry *e, const json_t *v)
{
	char *base = (char *)cfg;
	switch (e->key.type) {
	case WM_CFG_STRING: {
		char **slot = (char **)(base + e->offset);
		*slot = strdup(json_string_value(v));
		return *slot ? WM_OK : WM_ERR;
	}
	case WM_CFG_INT:
		*(long long *)(base + e->offset) = (long long)json_integer_value(v);
		return WM_OK;
	case WM_CFG_BOOL:
		*(int *)(base + e->offset) = json_is_true(v);
		return WM_OK;
	case WM_CFG_STRING_LIST: {
		char ***slot = (char ***)(base + e->offset);
		size_t *count = (size_t *)(base + e->count_offset);
		size_t n = json_array_size(v);
		*slot = calloc(n + 1, sizeof **slot);
		if (!*slot)
			return WM_ERR;
		for (*count = 0; *count < n; (*count)++) {
			(*slot)[*count] = strdup(json_string_value(json_array_get(v, *count)));
			if (!(*slot)[*count])
				return WM_ERR;
		}
		return WM_OK;
	}
	}
	return WM_ERR;
}

static long long default_pool_size(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long long n = 2 * (long long)(cpus > 0 ? cpus : 1) + 1;
	return n > 16 ? 16 : n;
}

wm_status config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	json_t *flat = json_object();
	char who[128];
	memset(cfg, 0, sizeof *cfg);
	cfg->plugin_sections = json_object();
	if (!flat || !cfg->plugin_sections) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (path && read_config_file(path, flat, cfg->plugin_sections, err, errlen) != WM_OK)
		goto fail;
	if (read_env("DATABASE_URL", "db.url", flat, err, errlen) != WM_OK ||
	    read_env("WAYMARK_LISTEN", "http.listen", flat, err, errlen) != WM_OK)
		goto fail;
	for (const struct config_entry *e = config_table; e->key.name; e++) {
		json_t *v = json_object_get(flat, e->key.name);
		json_t *def = v ? NULL : entry_default(e);
		snprintf(who, sizeof who, "default of config key \"%s\"", e->key.name);
		wm_status ok = v || def ? WM_OK : WM_ERR;
		if (ok != WM_OK)
			snprintf(err, errlen, "%s: not valid JSON", who);
		if (ok == WM_OK && def)
			ok = check_entry(e, def, who, err, errlen);
		if (ok == WM_OK && store(cfg, e, v ? v : def) != WM_OK) {
			snprintf(err, errlen, "out of memory");
			ok = WM_ERR;
		}
		json_decref(def);
		if (ok != WM_OK)
			goto fail;
	}
	if (cfg->db_pool_size == 0)
		cfg->db_pool_size = default_pool_size();
	json_decref(flat);
	return WM_OK;
fail:
	json_decref(flat);
	config_free(cfg);
	return WM_ERR;
}

void config_free(struct config *cfg)
{
	char *base = (char *)cfg;
	for (const struct config_entry *e = config_table; e->key.name; e++) {
		if (e->key.type == WM_CFG_STRING) {
			free(*(char **)(base + e->offset));
		} else if (e->key.type == WM_CFG_STRING_LIST) {
			char **list = *(char ***)(base + e->offset);
			for (size_t i = 0; list && list[i]; i++)
				free(list[i]);
			free(list);
		}
	}
	json_decref(cfg->plugin_sections);
	memset(cfg, 0, sizeof *cfg);
}

wm_status config_apply_table(const struct wm_config_key *keys, const char *prefix,
                             const json_t *section, json_t **filled, char *err, size_t errlen)
{
	json_t *out = json_object();
	const char *key;
	json_t *v;
	char why[300];
	*filled = NULL;
	if (!out) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (section && !json_is_object(section)) {
		snprintf(err, errlen, "config key \"%s\": expected an object", prefix);
		goto fail;
	}
	json_object_foreach((json_t *)section, key, v)
	{
		const struct wm_config_key *k = keys;
		if (is_comment(key))
			continue;
		while (k->name && strcmp(k->name, key))
			k++;
		if (!k->name) {
			snprintf(err, errlen, "unknown config key \"%s.%s\"", prefix, key);
			goto fail;
		}
		if (check_type(k, v, why, sizeof why) != 0) {
			snprintf(err, errlen, "config key \"%s.%s\": %s", prefix, key, why);
			goto fail;
		}
	}
	for (const struct wm_config_key *k = keys; k->name; k++) {
		json_t *given = json_object_get(section, k->name);
		json_t *val = given    ? json_incref(given)
		              : k->def ? json_loads(k->def, JSON_DECODE_ANY, NULL)
		                       : NULL;
		if (!val) {
			snprintf(err, errlen,
			         "config key \"%s.%s\": the plugin's default is not "
			         "valid JSON",
			         prefix, k->name);
			goto fail;
		}
		if (!given && check_type(k, val, why, sizeof why) != 0) {
			snprintf(err, errlen, "config key \"%s.%s\": the plugin's default %s",
			         prefix, k->name, why);
			json_decref(val);
			goto fail;
		}
		if (json_object_set_new(out, k->name, val) != 0) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	*filled = out;
	return WM_OK;
fail:
	json_decref(out);
	return WM_ERR;
}

static const char *type_name(enum wm_config_type t)
{
	switch (t) {
	case WM_CFG_STRING:
		return "string";
	case WM_CFG_INT:
		return "integer";
	case WM_CFG_BOOL:
		return "boolean";
	case WM_CFG_STRING_LIST:
		return "list";
	}
	return "?";
}

void config_print_help(FILE *out)
{
	int wname = (int)strlen("plugins.<name>.<key>"), wdef = (int)strlen("DEFAULT");
	char *defs[64] = {0};
	size_t i = 0;
	for (const struct config_entry *e = config_table; e->key.name && i < 64; e++, i++) {
		json_t *d = entry_default(e);
		defs[i] = d ? json_dumps(d, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
		json_decref(d);
		if ((int)strlen(e->key.name) > wname)
			wname = (int)strlen(e->key.name);
		if (defs[i] && (int)strlen(defs[i]) > wdef)
			wdef = (int)strlen(defs[i]);
	}
	fprintf(out, "%-*s  %-7s  %-*s  %s\n", wname, "KEY", "TYPE", wdef, "DEFAULT",
	        "DESCRIPTION");
	i = 0;
	for (const struct config_entry *e = config_table; e->key.name && i < 64; e++, i++) {
		fprintf(out, "%-*s  %-7s  %-*s  %s", wname, e->key.name, type_name(e->key.type),
		        wdef, defs[i] ? defs[i] : "", e->key.help);
		if (e->key.type == WM_CFG_INT)
			fprintf(out, " [%lld..%lld]", e->key.min, e->key.max);
		fputc('\n', out);
		free(defs[i]);
	}
	fprintf(out, "%-*s  %-7s  %-*s  %s\n", wname, "plugins.<name>.<key>", "any", wdef, "",
	        "a loaded plugin's own settings, in \"plugins\": {\"<name>\": {...}}");
	fputs("\nThe file is JSON: {\"http\": {\"listen\": \"...\"}, \"db\": {...}, ...}. "
	      "Keys starting with # are comments.\n"
	      "Environment: DATABASE_URL overrides db.url, WAYMARK_LISTEN overrides "
	      "http.listen.\n",
	      out);
}
