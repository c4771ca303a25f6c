/*
 * Configuration as an operator meets it: the defaults, a JSON file that
 * overrides them, the two environment variables that override the file, and
 * the start-up error that names the file, key or variable at fault. Also the
 * plugin-side table check (config_apply_table) and `waymarkd config --help`.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#include "ts.h"

static char path[64];
static char err[1024];

static void clean_env(void)
{
	unsetenv("DATABASE_URL");
	unsetenv("WAYMARK_LISTEN");
}

/* Writes `text` to a fresh temporary file named by `path`. */
static void write_file(const char *text, size_t len)
{
	snprintf(path, sizeof path, "/tmp/wm-config-test-XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* Loads `text` as the config file; returns the status. */
static wm_status load(struct config *c, const char *text)
{
	write_file(text, strlen(text));
	err[0] = '\0';
	wm_status rc = config_load(c, path, err, sizeof err);
	unlink(path);
	if (rc != WM_OK) {
		/* A refused load leaves nothing to free. */
		ck_assert_ptr_null(c->listen);
		ck_assert_ptr_null(c->plugins);
		ck_assert_ptr_null(c->plugin_sections);
	}
	return rc;
}

/* The load must fail with a message containing each of the fragments. */
static void refuse(const char *text, const char *frag1, const char *frag2)
{
	struct config c;
	ck_assert_msg(load(&c, text) == WM_ERR, "config accepted: %s", text);
	ck_assert_msg(strstr(err, frag1) != NULL, "\"%s\" not in: %s", frag1, err);
	if (frag2)
		ck_assert_msg(strstr(err, frag2) != NULL, "\"%s\" not in: %s", frag2, err);
}

static long long expected_pool(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	long long p = 2 * (long long)(n > 0 ? n : 1) + 1;
	return p > 16 ? 16 : p;
}

START_TEST(defaults)
{
	clean_env();
	struct config c;
	ck_assert_int_eq(config_load(&c, NULL, err, sizeof err), WM_OK);
	ck_assert_str_eq(c.listen, "127.0.0.1:8080");
	ck_assert_int_eq(c.http_max_body, 1048576);
	ck_assert_int_eq(c.http_max_json_body, 65536);
	ck_assert_int_eq(c.http_max_headers, 8192);
	ck_assert_int_eq(c.http_timeout_ms, 15000);
	ck_assert_int_eq(c.http_max_connections, 10000);
	ck_assert_int_eq(c.http_reuseport, 1);
	ck_assert_str_eq(c.db_url, "");
	ck_assert_int_eq(c.db_pool_size, expected_pool());
	ck_assert_int_eq(c.db_queue_max, 256);
	ck_assert_int_eq(c.db_queue_wait_ms, 2000);
	ck_assert_int_eq(c.db_statement_timeout_ms, 5000);
	ck_assert_int_eq(c.db_lock_timeout_ms, 2000);
	ck_assert_int_eq(c.db_idle_tx_timeout_ms, 10000);
	ck_assert_int_eq(c.db_connect_timeout_ms, 5000);
	ck_assert_str_eq(c.data_dir, "./var");
	ck_assert_str_eq(c.pg_bindir, "");
	ck_assert_str_eq(c.pg_user, "postgres");
	ck_assert_int_eq(c.shutdown_drain_ms, 10000);
	ck_assert_str_eq(c.log_level, "info");
	ck_assert_str_eq(c.public_url, "");
	ck_assert_str_eq(c.plugin_dir, "");
	ck_assert_uint_eq(json_object_size(c.plugin_sections), 0);
	/* The standard plugins, as the build names them. */
	char joined[256] = "";
	for (size_t i = 0; i < c.n_plugins; i++) {
		if (i)
			strcat(joined, ",");
		strcat(joined, c.plugins[i]);
	}
	ck_assert_str_eq(joined, WAYMARK_STANDARD_PLUGINS);
	ck_assert_ptr_null(c.plugins[c.n_plugins]);
	config_free(&c);
	ck_assert_ptr_null(c.listen);
	config_free(&c); /* twice is harmless */
}
END_TEST

START_TEST(file_overrides)
{
	clean_env();
	struct config c;
	ck_assert_int_eq(load(&c,
	                      "{\"http\": {\"listen\": \"[::1]:9000\", \"max_body\": 2048,"
	                      " \"max_json_body\": 1024, \"reuseport\": false},"
	                      " \"db\": {\"url\": \"host=/tmp port=5\", \"pool_size\": 3,"
	                      " \"statement_timeout_ms\": 0},"
	                      " \"server\": {\"log_level\": \"debug\", \"data_dir\": \"/srv/w\","
	                      " \"public_url\": \"https://waymark.example\"},"
	                      " \"plugins\": {\"load\": [], \"dir\": \"/opt/p\"}}"),
	                 WM_OK);
	ck_assert_str_eq(c.listen, "[::1]:9000");
	ck_assert_int_eq(c.http_max_body, 2048);
	ck_assert_int_eq(c.http_max_json_body, 1024);
	ck_assert_int_eq(c.http_reuseport, 0);
	ck_assert_str_eq(c.db_url, "host=/tmp port=5");
	ck_assert_int_eq(c.db_pool_size, 3);
	ck_assert_int_eq(c.db_statement_timeout_ms, 0);
	ck_assert_str_eq(c.log_level, "debug");
	ck_assert_str_eq(c.data_dir, "/srv/w");
	ck_assert_str_eq(c.public_url, "https://waymark.example");
	ck_assert_uint_eq(c.n_plugins, 0);
	ck_assert_str_eq(c.plugin_dir, "/opt/p");
	/* Untouched keys keep their defaults. */
	ck_assert_int_eq(c.http_timeout_ms, 15000);
	ck_assert_str_eq(c.pg_user, "postgres");
	config_free(&c);
}
END_TEST

START_TEST(unknown_keys_are_named)
{
	clean_env();
	refuse("{\"http\": {\"lisen\": \"127.0.0.1:1\"}}", "unknown config key \"http.lisen\"",
	       "/tmp/wm-config-test-");
	refuse("{\"htp\": {}}", "unknown config key \"htp\"", NULL);
	refuse("{\"db\": {\"pool\": 1}}", "unknown config key \"db.pool\"", NULL);
	refuse("{\"plugins\": {\"extra\": 1}}", "unknown config key \"plugins.extra\"", NULL);
	refuse("{\"plugins\": {\"Bad-Name\": {}}}", "unknown config key \"plugins.Bad-Name\"",
	       NULL);
	refuse("{\"http.listen\": \"127.0.0.1:1\"}", "unknown config key \"http.listen\"", NULL);
}
END_TEST

START_TEST(wrong_types_are_named)
{
	clean_env();
	refuse("{\"db\": {\"pool_size\": \"4\"}}",
	       "config key \"db.pool_size\": expected an integer", NULL);
	refuse("{\"db\": {\"pool_size\": 4.0}}", "config key \"db.pool_size\": expected an integer",
	       NULL);
	refuse("{\"http\": {\"reuseport\": 1}}", "config key \"http.reuseport\": expected true",
	       NULL);
	refuse("{\"http\": {\"listen\": 8080}}", "config key \"http.listen\": expected a string",
	       NULL);
	refuse("{\"http\": \"127.0.0.1:80\"}", "config key \"http\": expected an object", NULL);
	refuse("{\"plugins\": {\"load\": \"example\"}}",
	       "config key \"plugins.load\": expected a list of strings", NULL);
	refuse("{\"plugins\": {\"load\": [\"a\", 1]}}", "config key \"plugins.load\"", NULL);
	refuse("{\"db\": {\"url\": null}}", "config key \"db.url\": expected a string", NULL);
	refuse("{\"plugins\": {\"dir\": {}}}", "config key \"plugins.dir\": expected a string",
	       NULL);
}
END_TEST

START_TEST(bounds_are_named)
{
	clean_env();
	refuse("{\"db\": {\"pool_size\": 17}}", "config key \"db.pool_size\"", "between 0 and 16");
	refuse("{\"db\": {\"pool_size\": -1}}", "config key \"db.pool_size\"", "between 0 and 16");
	refuse("{\"http\": {\"max_body\": 1023}}", "\"http.max_body\"",
	       "between 1024 and 67108864");
	refuse("{\"http\": {\"max_json_body\": 1048577}}", "\"http.max_json_body\"",
	       "between 256 and 1048576");
	refuse("{\"server\": {\"log_level\": \"verbose\"}}", "\"server.log_level\"",
	       "debug, info, warn, error");
	refuse("{\"server\": {\"data_dir\": \"\"}}", "\"server.data_dir\"", "characters");
	refuse("{\"server\": {\"public_url\": \"waymark.example\"}}", "\"server.public_url\"",
	       "http");
	refuse("{\"plugins\": {\"load\": [\"Sport\"]}}", "\"plugins.load\"", "Sport");
	refuse("{\"plugins\": {\"load\": [\"/opt/libsport.so\"]}}", "\"plugins.load\"",
	       "waymark_<name>.so");
	/* Edges that are inside the bounds. */
	struct config c;
	ck_assert_int_eq(load(&c, "{\"db\": {\"pool_size\": 16, \"queue_max\": 0},"
	                          " \"http\": {\"max_body\": 67108864}}"),
	                 WM_OK);
	ck_assert_int_eq(c.db_pool_size, 16);
	ck_assert_int_eq(c.db_queue_max, 0);
	ck_assert_int_eq(c.http_max_body, 67108864);
	config_free(&c);
}
END_TEST

/* Calendar feeds: defaults as feed.h documents them, bounds, the domain. */
START_TEST(feeds_keys)
{
	clean_env();
	struct config c;
	ck_assert_int_eq(load(&c, "{}"), WM_OK);
	ck_assert_int_eq(c.feeds_past_days, 56);
	ck_assert_int_eq(c.feeds_future_days, 366);
	ck_assert_int_eq(c.feeds_cancelled_grace_days, 14);
	ck_assert_int_eq(c.feeds_max_events, 20000);
	ck_assert_int_eq(c.feeds_max_bytes, 4194304);
	ck_assert_str_eq(c.feeds_uid_domain, "waymark.invalid");
	ck_assert_int_eq(c.feeds_cache_bytes, 67108864);
	config_free(&c);
	ck_assert_int_eq(load(&c, "{\"feeds\": {\"uid_domain\": \"cal.Example-1.org\","
	                          " \"cache_bytes\": 0, \"past_days\": 0}}"),
	                 WM_OK);
	ck_assert_str_eq(c.feeds_uid_domain, "cal.Example-1.org");
	ck_assert_int_eq(c.feeds_cache_bytes, 0);
	ck_assert_int_eq(c.feeds_past_days, 0);
	config_free(&c);
	const char *bad[] = {"a b.org", "x@y.org", ".org", "a..org", "a.org.", "a/b", "a;b"};
	char text[256];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "{\"feeds\": {\"uid_domain\": \"%s\"}}", bad[i]);
		refuse(text, "config key \"feeds.uid_domain\"", "domain name");
	}
	refuse("{\"feeds\": {\"future_days\": 0}}", "\"feeds.future_days\"", "between 1 and 3660");
	refuse("{\"feeds\": {\"max_events\": 0}}", "\"feeds.max_events\"", NULL);
	refuse("{\"feeds\": {\"max_bytes\": 1000}}", "\"feeds.max_bytes\"", NULL);
	refuse("{\"feeds\": {\"cache\": 1}}", "feeds.cache", NULL);
}
END_TEST

START_TEST(listen_forms)
{
	clean_env();
	const char *good[] = {"127.0.0.1:1", "0.0.0.0:65535", "[::1]:8080", "[::]:80",
	                      "localhost:8080"};
	const char *bad[] = {"example.com:80",
	                     "127.0.0.1",
	                     "127.0.0.1:0",
	                     "127.0.0.1:65536",
	                     "[::1]8080",
	                     "::1:8080",
	                     "127.0.0.1:8o",
	                     "127.0.0.1:+80",
	                     "",
	                     ":80",
	                     "256.0.0.1:80",
	                     "localhost:"};
	char text[256];
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		struct config c;
		snprintf(text, sizeof text, "{\"http\": {\"listen\": \"%s\"}}", good[i]);
		ck_assert_msg(load(&c, text) == WM_OK, "%s refused: %s", good[i], err);
		ck_assert_str_eq(c.listen, good[i]);
		config_free(&c);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "{\"http\": {\"listen\": \"%s\"}}", bad[i]);
		refuse(text, "config key \"http.listen\"", NULL);
	}
}
END_TEST

START_TEST(comments_ignored)
{
	clean_env();
	struct config c;
	ck_assert_int_eq(load(&c, "{\"#\": \"Waymark sample configuration\","
	                          " \"http\": {\"#listen\": \"where to serve\","
	                          " \"listen\": \"127.0.0.1:9001\"},"
	                          " \"#db\": {\"anything\": [1, 2]},"
	                          " \"plugins\": {\"#load\": \"names or paths\","
	                          " \"#example\": {\"x\": 1}}}"),
	                 WM_OK);
	ck_assert_str_eq(c.listen, "127.0.0.1:9001");
	ck_assert_uint_eq(json_object_size(c.plugin_sections), 0);
	config_free(&c);
}
END_TEST

START_TEST(environment_wins_and_is_checked)
{
	clean_env();
	struct config c;
	setenv("WAYMARK_LISTEN", "127.0.0.1:9999", 1);
	setenv("DATABASE_URL", "postgresql://u@db.example/w", 1);
	ck_assert_int_eq(load(&c, "{\"http\": {\"listen\": \"127.0.0.1:9000\"},"
	                          " \"db\": {\"url\": \"host=/tmp\"}}"),
	                 WM_OK);
	ck_assert_str_eq(c.listen, "127.0.0.1:9999");
	ck_assert_str_eq(c.db_url, "postgresql://u@db.example/w");
	config_free(&c);
	/* Without a file too. */
	ck_assert_int_eq(config_load(&c, NULL, err, sizeof err), WM_OK);
	ck_assert_str_eq(c.listen, "127.0.0.1:9999");
	config_free(&c);
	/* Empty counts as unset. */
	setenv("WAYMARK_LISTEN", "", 1);
	ck_assert_int_eq(load(&c, "{\"http\": {\"listen\": \"127.0.0.1:9000\"}}"), WM_OK);
	ck_assert_str_eq(c.listen, "127.0.0.1:9000");
	config_free(&c);
	/* A bad value names the variable, even when the file is fine. */
	setenv("WAYMARK_LISTEN", "example.com:80", 1);
	refuse("{}", "WAYMARK_LISTEN", "http.listen");
	setenv("WAYMARK_LISTEN", "127.0.0.1:\xff", 1);
	refuse("{}", "WAYMARK_LISTEN", NULL);
	clean_env();
}
END_TEST

START_TEST(plugin_sections_collected)
{
	clean_env();
	struct config c;
	ck_assert_int_eq(load(&c, "{\"plugins\": {\"load\": [\"example\","
	                          " \"/opt/w/waymark_sport.so\"],"
	                          " \"example\": {\"greeting\": \"hi\", \"#c\": 1},"
	                          " \"sport\": {}}}"),
	                 WM_OK);
	ck_assert_uint_eq(c.n_plugins, 2);
	ck_assert_str_eq(c.plugins[0], "example");
	ck_assert_str_eq(c.plugins[1], "/opt/w/waymark_sport.so");
	ck_assert_uint_eq(json_object_size(c.plugin_sections), 2);
	json_t *ex = json_object_get(c.plugin_sections, "example");
	ck_assert(json_is_object(ex));
	ck_assert_str_eq(json_string_value(json_object_get(ex, "greeting")), "hi");
	ck_assert(json_is_object(json_object_get(c.plugin_sections, "sport")));
	config_free(&c);
}
END_TEST

static const struct wm_config_key keys[] = {
    {"greeting", WM_CFG_STRING, "\"hello\"", 1, 20, "what to say"},
    {"count", WM_CFG_INT, "3", 1, 10, "how many"},
    {"loud", WM_CFG_BOOL, "false", 0, 0, "shout"},
    {"tags", WM_CFG_STRING_LIST, "[\"a\"]", 0, 0, "labels"},
    {"free", WM_CFG_STRING, "\"\"", 0, 0, "unbounded"},
    {NULL, 0, NULL, 0, 0, NULL},
};

static wm_status apply(const char *section, json_t **filled)
{
	json_t *s = section ? json_loads(section, 0, NULL) : NULL;
	ck_assert(!section || s);
	err[0] = '\0';
	wm_status rc = config_apply_table(keys, "plugins.example", s, filled, err, sizeof err);
	json_decref(s);
	if (rc != WM_OK)
		ck_assert_ptr_null(*filled);
	return rc;
}

START_TEST(apply_table)
{
	json_t *f = NULL;
	ck_assert_int_eq(apply("{\"greeting\": \"hey\", \"#why\": \"x\", \"tags\": []}", &f),
	                 WM_OK);
	ck_assert_uint_eq(json_object_size(f), 5);
	ck_assert_str_eq(json_string_value(json_object_get(f, "greeting")), "hey");
	ck_assert_int_eq(json_integer_value(json_object_get(f, "count")), 3);
	ck_assert(json_is_false(json_object_get(f, "loud")));
	ck_assert_uint_eq(json_array_size(json_object_get(f, "tags")), 0);
	ck_assert_str_eq(json_string_value(json_object_get(f, "free")), "");
	ck_assert_ptr_null(json_object_get(f, "#why"));
	json_decref(f);
	/* No section at all: every default. */
	ck_assert_int_eq(apply(NULL, &f), WM_OK);
	ck_assert_str_eq(json_string_value(json_object_get(f, "greeting")), "hello");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(f, "tags"), 0)), "a");
	json_decref(f);

	ck_assert_int_eq(apply("{\"gretting\": \"x\"}", &f), WM_ERR);
	ck_assert_str_eq(err, "unknown config key \"plugins.example.gretting\"");
	ck_assert_int_eq(apply("{\"count\": \"3\"}", &f), WM_ERR);
	ck_assert_str_eq(err, "config key \"plugins.example.count\": expected an integer");
	ck_assert_int_eq(apply("{\"count\": 11}", &f), WM_ERR);
	ck_assert_str_eq(err, "config key \"plugins.example.count\": must be between 1 and 10");
	ck_assert_int_eq(apply("{\"greeting\": \"\"}", &f), WM_ERR);
	ck_assert_ptr_nonnull(strstr(err, "\"plugins.example.greeting\""));
	ck_assert_int_eq(apply("{\"loud\": \"yes\"}", &f), WM_ERR);
	ck_assert_ptr_nonnull(strstr(err, "\"plugins.example.loud\": expected true or false"));
	ck_assert_int_eq(apply("{\"tags\": [1]}", &f), WM_ERR);
	ck_assert_ptr_nonnull(strstr(err, "\"plugins.example.tags\": expected a list"));
	ck_assert_int_eq(apply("[1]", &f), WM_ERR);
	ck_assert_ptr_nonnull(strstr(err, "\"plugins.example\": expected an object"));

	/* A plugin whose own default is broken is named, not crashed on. */
	static const struct wm_config_key broken[] = {
	    {"n", WM_CFG_INT, "three", 1, 10, "bad default"},
	    {NULL, 0, NULL, 0, 0, NULL},
	};
	ck_assert_int_eq(config_apply_table(broken, "plugins.bad", NULL, &f, err, sizeof err),
	                 WM_ERR);
	ck_assert_ptr_nonnull(strstr(err, "plugins.bad.n"));
	static const struct wm_config_key out_of_bounds[] = {
	    {"n", WM_CFG_INT, "30", 1, 10, "default out of bounds"},
	    {NULL, 0, NULL, 0, 0, NULL},
	};
	ck_assert_int_eq(
	    config_apply_table(out_of_bounds, "plugins.bad", NULL, &f, err, sizeof err), WM_ERR);
	ck_assert_ptr_nonnull(strstr(err, "plugins.bad.n"));
}
END_TEST

START_TEST(pool_size_resolved)
{
	clean_env();
	struct config c;
	ck_assert_int_eq(load(&c, "{\"db\": {\"pool_size\": 0}}"), WM_OK);
	ck_assert_int_eq(c.db_pool_size, expected_pool());
	ck_assert_int_ge(c.db_pool_size, 3);
	ck_assert_int_le(c.db_pool_size, 16);
	config_free(&c);
	ck_assert_int_eq(load(&c, "{\"db\": {\"pool_size\": 1}}"), WM_OK);
	ck_assert_int_eq(c.db_pool_size, 1);
	config_free(&c);
}
END_TEST

START_TEST(bad_files_are_named)
{
	clean_env();
	refuse("{\n  \"http\": {\n    \"listen\": \n  }\n}\n", "line 4", "/tmp/wm-config-test-");
	refuse("{\"db\": {}, \"db\": {}}", "duplicate", NULL);
	refuse("[]", "JSON object", NULL);
	refuse("", "line 1", NULL);
	refuse("{\"server\": {\"data_dir\": \"\xc3\x28\"}}", "UTF-8", NULL);
	refuse("{\"db\": {\"url\": \"a\\u0000b\"}}", "line 1", NULL);
	/* Too big: more than 1 MiB, even if it would parse. */
	size_t big = 1024 * 1024 + 2;
	char *text = malloc(big + 1);
	memset(text, ' ', big);
	text[0] = '{';
	text[big - 1] = '}';
	text[big] = '\0';
	refuse(text, "1 MiB", NULL);
	free(text);
	/* A missing file names its path. */
	struct config c;
	ck_assert_int_eq(config_load(&c, "/nonexistent/waymark.json", err, sizeof err), WM_ERR);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/waymark.json"));
}
END_TEST

START_TEST(help_lists_every_key)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	config_print_help(f);
	fclose(f);
	const char *names[] = {
	    "http.listen",
	    "http.max_body",
	    "http.max_json_body",
	    "http.max_headers",
	    "http.timeout_ms",
	    "http.max_connections",
	    "http.reuseport",
	    "db.url",
	    "db.pool_size",
	    "db.queue_max",
	    "db.queue_wait_ms",
	    "db.statement_timeout_ms",
	    "db.lock_timeout_ms",
	    "db.idle_tx_timeout_ms",
	    "db.connect_timeout_ms",
	    "server.data_dir",
	    "server.pg_bindir",
	    "server.pg_user",
	    "server.shutdown_drain_ms",
	    "server.log_level",
	    "server.public_url",
	    "plugins.load",
	    "plugins.dir",
	    "plugins.<name>.<key>",
	};
	size_t col = 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char needle[64];
		snprintf(needle, sizeof needle, "\n%s ", names[i]);
		char *line = strstr(buf, needle);
		ck_assert_msg(line != NULL, "%s not listed", names[i]);
		line++;
		/* Aligned: the type column starts at the same offset on every line. */
		size_t n = strlen(names[i]);
		while (line[n] == ' ')
			n++;
		if (i == 0)
			col = n;
		ck_assert_uint_eq(n, col);
	}
	ck_assert_ptr_nonnull(strstr(buf, "\"127.0.0.1:8080\""));
	ck_assert_ptr_nonnull(strstr(buf, "[1024..67108864]"));
	ck_assert_ptr_nonnull(strstr(buf, "DATABASE_URL"));
	free(buf);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, file_overrides);
	tcase_add_test(tc, unknown_keys_are_named);
	tcase_add_test(tc, wrong_types_are_named);
	tcase_add_test(tc, bounds_are_named);
	tcase_add_test(tc, feeds_keys);
	tcase_add_test(tc, listen_forms);
	tcase_add_test(tc, comments_ignored);
	tcase_add_test(tc, environment_wins_and_is_checked);
	tcase_add_test(tc, plugin_sections_collected);
	tcase_add_test(tc, apply_table);
	tcase_add_test(tc, pool_size_resolved);
	tcase_add_test(tc, bad_files_are_named);
	tcase_add_test(tc, help_lists_every_key);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ts_main(config_suite());
}
