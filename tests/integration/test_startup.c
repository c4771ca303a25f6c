/*
 * What an operator sees when a plugin stops the server from starting: the
 * real waymarkd, a config file naming the plugin, and the exit status and
 * message it prints. Each refusal names the plugin and the exact problem,
 * and none leaves a half-started server behind.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <waymark/plugin.h>

#include "ts.h"

/* Runs `waymarkd serve --config <file with `json`>` with DATABASE_URL set
 * to `db` (may be NULL) and returns its exit status; *err gets stderr. */
static int serve_with(const char *json, const char *db, char **err)
{
	char path[] = "/tmp/waymark-startup-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, json, strlen(json)), (ssize_t)strlen(json));
	close(fd);
	char dburl[512];
	snprintf(dburl, sizeof dburl, "DATABASE_URL=%s", db ? db : "host=/nonexistent port=1");
	const char *argv[] = {"serve", "--config", path, NULL};
	const char *env[] = {dburl, "WAYMARK_LISTEN=127.0.0.1:1", NULL};
	char *out = NULL;
	int st = ts_run(argv, env, &out, err);
	free(out);
	unlink(path);
	return st;
}

static void expect_refusal(const char *json, const char *db, const char *const *needles)
{
	char *err = NULL;
	int st = serve_with(json, db, &err);
	ck_assert_msg(st != 0, "waymarkd started; stderr: %s", err ? err : "");
	for (const char *const *n = needles; *n; n++)
		ck_assert_msg(err && strstr(err, *n), "stderr lacks \"%s\": %s", *n,
		              err ? err : "");
	free(err);
}

START_TEST(unknown_plugin_is_named)
{
	const char *n[] = {"nosuch", NULL};
	expect_refusal("{\"plugins\": {\"load\": [\"nosuch\"]}}", NULL, n);
}
END_TEST

START_TEST(abi_mismatch_is_named)
{
	char json[1024];
	snprintf(json, sizeof json,
	         "{\"plugins\": {\"load\": [\"%s/waymark_fixture_bad_major.so\"]}}",
	         WAYMARK_TEST_PLUGIN_DIR);
	char want[96];
	snprintf(want, sizeof want, "plugin \"fixture_bad_major\": ABI %d.%d, core %d.%d",
	         WM_ABI_MAJOR + 1, WM_ABI_MINOR, WM_ABI_MAJOR, WM_ABI_MINOR);
	const char *n[] = {want, NULL};
	expect_refusal(json, NULL, n);
}
END_TEST

START_TEST(duplicate_plugin_is_refused)
{
	const char *n[] = {"two plugins are named \"example\"", NULL};
	expect_refusal("{\"plugins\": {\"load\": [\"example\", \"example\"]}}", NULL, n);
}
END_TEST

START_TEST(unknown_plugin_config_key_is_named)
{
	const char *n[] = {"plugins.example.bogus", NULL};
	expect_refusal("{\"plugins\": {\"example\": {\"bogus\": 1}}}", NULL, n);
}
END_TEST

START_TEST(wrong_type_in_plugin_config_is_named)
{
	const char *n[] = {"plugins.example.max_list", NULL};
	expect_refusal("{\"plugins\": {\"example\": {\"max_list\": \"many\"}}}", NULL, n);
}
END_TEST

START_TEST(section_for_a_plugin_not_loaded_is_refused)
{
	const char *n[] = {"plugins.sport", "not loaded", NULL};
	expect_refusal("{\"plugins\": {\"sport\": {}}}", NULL, n);
}
END_TEST

START_TEST(failing_init_stops_start_up)
{
	char *db = ts_db_create("startup");
	char json[1024];
	snprintf(json, sizeof json,
	         "{\"plugins\": {\"load\": [\"example\", \"%s/waymark_fixture_init_fails.so\"]}}",
	         WAYMARK_TEST_PLUGIN_DIR);
	const char *n[] = {"plugin \"fixture_init_fails\": init failed", NULL};
	expect_refusal(json, db, n);
	ts_db_drop(db);
	free(db);
}
END_TEST

START_TEST(port_in_use_is_named)
{
	char *db = ts_db_create("startup");
	struct ts_server s;
	struct ts_server_opts o = {.database_url = db};
	ck_assert_int_eq(ts_server_start(&s, &o), 0);
	char listen[64], dburl[512], *err = NULL, *out = NULL;
	/* A second server on the same address without SO_REUSEPORT. */
	snprintf(listen, sizeof listen, "WAYMARK_LISTEN=127.0.0.1:%d", s.port);
	snprintf(dburl, sizeof dburl, "DATABASE_URL=%s", db);
	char path[] = "/tmp/waymark-startup-XXXXXX";
	int fd = mkstemp(path);
	const char json[] = "{\"http\": {\"reuseport\": false}}";
	ck_assert_int_eq(write(fd, json, sizeof json - 1), (ssize_t)(sizeof json - 1));
	close(fd);
	const char *argv[] = {"serve", "--config", path, NULL};
	const char *env[] = {dburl, listen, NULL};
	int st = ts_run(argv, env, &out, &err);
	unlink(path);
	ck_assert_int_ne(st, 0);
	ck_assert_msg(err && strstr(err, "cannot listen on 127.0.0.1:"), "stderr: %s", err);
	free(out);
	free(err);
	ck_assert_int_eq(ts_server_stop(&s), 0);
	ts_db_drop(db);
	free(db);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("startup");
	TCase *tc = tcase_create("refusals");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, unknown_plugin_is_named);
	tcase_add_test(tc, abi_mismatch_is_named);
	tcase_add_test(tc, duplicate_plugin_is_refused);
	tcase_add_test(tc, unknown_plugin_config_key_is_named);
	tcase_add_test(tc, wrong_type_in_plugin_config_is_named);
	tcase_add_test(tc, section_for_a_plugin_not_loaded_is_refused);
	tcase_add_test(tc, failing_init_stops_start_up);
	tcase_add_test(tc, port_in_use_is_named);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
