/*
 * test_abi — the plugin loader's promises to an operator: a plugin built for
 * another ABI, with another word size or jansson, or with a broken
 * descriptor is refused before any of its code runs, with one line naming
 * the plugin and the exact mismatch; a good plugin loads; the example and
 * group_course plugins load and export nothing but wm_plugin_entry.
 *
 * Refusals of real .so files use the fixtures in tests/plugins; the checks
 * no compiler would let a fixture get wrong (word sizes, jansson, migration
 * lists) use descriptors built in memory.
 */
#include <check.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_loader.h"

#include "ts.h"

static char err[512];

static char *fixture_path(const char *name)
{
	return plugin_path(WAYMARK_TEST_PLUGIN_DIR, name);
}

static int host_is_zero(const struct wm_host *h)
{
	static const struct wm_host zero;
	return memcmp(h, &zero, sizeof zero) == 0;
}

/* Opens fixture `name` (configured under that name), expects a refusal and
 * a host left untouched, and returns the message. */
static const char *refusal(const char *name)
{
	struct wm_host host = {0};
	char *path = fixture_path(name);
	ck_assert_ptr_nonnull(path);
	err[0] = '\0';
	ck_assert_int_eq(plugin_open(path, name, &host, err, sizeof err), WM_ERR);
	ck_assert_msg(host_is_zero(&host), "a refused plugin left the host filled in");
	free(path);
	return err;
}

static void expect_refusal(const char *name, const char *fmt, ...) WM_PRINTF(2, 3);
static void expect_refusal(const char *name, const char *fmt, ...)
{
	char want[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(want, sizeof want, fmt, ap);
	va_end(ap);
	ck_assert_str_eq(refusal(name), want);
}

/* ---- real shared objects ------------------------------------------------ */

START_TEST(fixture_ok_loads)
{
	struct wm_host host = {0};
	char *path = fixture_path("fixture_ok");
	ck_assert_int_eq(plugin_open(path, "fixture_ok", &host, err, sizeof err), WM_OK);
	ck_assert_str_eq(host.name, "fixture_ok");
	ck_assert_ptr_eq(host.desc->name, host.name);
	ck_assert_ptr_nonnull(host.dl);
	/* RTLD_LOCAL: the entry is not in the global namespace, so the next
	 * plugin's symbols cannot bind to this one's. */
	ck_assert_ptr_null(dlsym(RTLD_DEFAULT, WM_PLUGIN_ENTRY_SYMBOL));
	plugin_close(&host);
	ck_assert_ptr_null(host.dl);
	free(path);
}
END_TEST

/* Loading without a configured name (a path in the config) also works. */
START_TEST(fixture_ok_loads_without_expected_name)
{
	struct wm_host host = {0};
	char *path = fixture_path("fixture_ok");
	ck_assert_int_eq(plugin_open(path, NULL, &host, err, sizeof err), WM_OK);
	ck_assert_str_eq(host.name, "fixture_ok");
	plugin_close(&host);
	free(path);
}
END_TEST

START_TEST(example_loads)
{
	struct wm_host host = {0};
	char *path = plugin_path(WAYMARK_PLUGIN_DIR, "example");
	ck_assert_msg(plugin_open(path, "example", &host, err, sizeof err) == WM_OK, "%s", err);
	const struct wm_plugin *d = host.desc;
	ck_assert_str_eq(host.name, "example");
	ck_assert_ptr_nonnull(d->shutdown);
	/* The migrations embedded by the build are there, numbered and named. */
	ck_assert_uint_eq(d->n_migrations, 2);
	ck_assert_int_eq(d->migrations[0].version, 1);
	ck_assert_str_eq(d->migrations[0].name, "notes");
	ck_assert_ptr_nonnull(strstr(d->migrations[0].sql, "CREATE TABLE notes"));
	ck_assert_int_eq(d->migrations[1].version, 2);
	ck_assert_str_eq(d->migrations[1].name, "author");
	/* The config table has max_list and ends with {NULL}. */
	ck_assert_ptr_nonnull(d->config_keys);
	ck_assert_str_eq(d->config_keys[0].name, "max_list");
	ck_assert_int_eq(d->config_keys[0].type, WM_CFG_INT);
	ck_assert_ptr_null(d->config_keys[1].name);
	plugin_close(&host);
	free(path);
}
END_TEST

/* Its init and register_routes abort(): surviving the load (Check runs each
 * test in a child, so an abort would fail it) shows the loader checked the
 * ABI before calling any of them. */
START_TEST(bad_major_refused_before_its_code_runs)
{
	expect_refusal("fixture_bad_major", "plugin \"fixture_bad_major\": ABI 2.%d, core %d.%d",
	               WM_ABI_MINOR, WM_ABI_MAJOR, WM_ABI_MINOR);
}
END_TEST

START_TEST(newer_minor_refused)
{
	expect_refusal(
	    "fixture_newer_minor",
	    "plugin \"fixture_newer_minor\": ABI %d.%d, core %d.%d (plugin needs a newer "
	    "core)",
	    WM_ABI_MAJOR, WM_ABI_MINOR + 1, WM_ABI_MAJOR, WM_ABI_MINOR);
}
END_TEST

START_TEST(short_struct_refused)
{
	expect_refusal(
	    "fixture_short_struct",
	    "plugin \"fixture_short_struct\": descriptor is %zu bytes, core %d.%d expects "
	    "at least %zu",
	    offsetof(struct wm_plugin, reserved), WM_ABI_MAJOR, WM_ABI_MINOR,
	    sizeof(struct wm_plugin));
}
END_TEST

/* ABI 1.2 gave four reserved slots meanings: the descriptor keeps its size
 * and every earlier member its offset, so 1.0 and 1.1 plugins (whose slots
 * are NULL) load unchanged and simply have no hooks. */
START_TEST(hooks_took_reserved_slots)
{
	ck_assert_uint_eq(offsetof(struct wm_plugin, programme_validate) + 8 * sizeof(void *),
	                  sizeof(struct wm_plugin));
	ck_assert_uint_eq(offsetof(struct wm_plugin, calendar_render),
	                  offsetof(struct wm_plugin, programme_validate) + 4 * sizeof(void *));
	/* ABI 1.3 took a fifth for calendar_render. */
	ck_assert_uint_eq(offsetof(struct wm_plugin, reserved),
	                  offsetof(struct wm_plugin, programme_validate) + 5 * sizeof(void *));
	ck_assert_uint_eq(offsetof(struct wm_plugin, programme_validate),
	                  offsetof(struct wm_plugin, shutdown) + sizeof(void *));
}
END_TEST

START_TEST(bad_magic_refused)
{
	expect_refusal("fixture_bad_magic",
	               "plugin \"fixture_bad_magic\": not a Waymark plugin (bad magic 0xdeadbeef)");
}
END_TEST

START_TEST(missing_init_refused)
{
	expect_refusal("fixture_missing_init",
	               "plugin \"fixture_missing_init\": required callback init is NULL");
}
END_TEST

START_TEST(bad_name_refused)
{
	expect_refusal("fixture_bad_name", "plugin \"fixture_bad_name\": name \"Bad-Name\" does "
	                                   "not match [a-z][a-z0-9_]{0,30}");
}
END_TEST

START_TEST(reserved_slot_refused)
{
	expect_refusal("fixture_reserved_slot", "plugin \"fixture_reserved_slot\": reserved slot 2 "
	                                        "is not NULL (built against a newer header?)");
}
END_TEST

START_TEST(configured_name_mismatch_refused)
{
	expect_refusal("fixture_dup_name", "plugin \"fixture_dup_name\": descriptor says "
	                                   "\"fixture_ok\", configured as \"fixture_dup_name\"");
}
END_TEST

START_TEST(no_entry_refused)
{
	char *path = fixture_path("fixture_no_entry");
	char want[512];
	snprintf(want, sizeof want, "plugin \"fixture_no_entry\": no wm_plugin_entry symbol in %s",
	         path);
	ck_assert_str_eq(refusal("fixture_no_entry"), want);
	free(path);
}
END_TEST

START_TEST(missing_file_refused_with_dlerror)
{
	struct wm_host host = {0};
	char *path = fixture_path("no_such_plugin");
	ck_assert_int_eq(plugin_open(path, "no_such_plugin", &host, err, sizeof err), WM_ERR);
	const char *want = "plugin \"no_such_plugin\": cannot load: ";
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
	ck_assert_msg(strstr(err, "No such file or directory") != NULL, "%s", err);
	ck_assert(host_is_zero(&host));
	free(path);
}
END_TEST

/* RTLD_NOW: a missing symbol is a refusal at start-up, naming the symbol,
 * not a crash when the plugin first calls it. */
START_TEST(undefined_symbol_refused_at_load)
{
	const char *e = refusal("fixture_undefined_symbol");
	const char *want = "plugin \"fixture_undefined_symbol\": cannot load: ";
	ck_assert_msg(strncmp(e, want, strlen(want)) == 0, "%s", e);
	ck_assert_msg(strstr(e, "wm_fixture_no_such_function") != NULL, "%s", e);
}
END_TEST

/* Valid plugins whose trouble (if any) is for the server to find later. */
START_TEST(init_fails_and_sleep_fixtures_load)
{
	const char *names[] = {"fixture_init_fails", "fixture_sleep"};
	for (size_t i = 0; i < 2; i++) {
		struct wm_host host = {0};
		char *path = fixture_path(names[i]);
		ck_assert_msg(plugin_open(path, names[i], &host, err, sizeof err) == WM_OK, "%s",
		              err);
		ck_assert_str_eq(host.name, names[i]);
		plugin_close(&host);
		free(path);
	}
}
END_TEST

/* Two files whose descriptors carry the same name: each passes alone, the
 * pair is refused. */
START_TEST(duplicate_names_refused)
{
	struct wm_host a = {0}, b = {0};
	char *pa = fixture_path("fixture_ok"), *pb = fixture_path("fixture_dup_name");
	ck_assert_int_eq(plugin_open(pa, NULL, &a, err, sizeof err), WM_OK);
	ck_assert_int_eq(plugin_open(pb, NULL, &b, err, sizeof err), WM_OK);
	struct wm_host *hosts[] = {&a, &b};
	ck_assert_int_eq(plugin_check_unique(hosts, 1, err, sizeof err), WM_OK);
	ck_assert_int_eq(plugin_check_unique(hosts, 2, err, sizeof err), WM_ERR);
	ck_assert_str_eq(err, "two plugins are named \"fixture_ok\"");
	plugin_close(&a);
	plugin_close(&b);
	free(pa);
	free(pb);
}
END_TEST

START_TEST(duplicate_names_refused_in_memory)
{
	struct wm_host a = {.name = "example"}, b = {.name = "sport"}, c = {.name = "example"};
	struct wm_host *hosts[] = {&a, &b, &c};
	ck_assert_int_eq(plugin_check_unique(hosts, 2, err, sizeof err), WM_OK);
	ck_assert_int_eq(plugin_check_unique(hosts, 3, err, sizeof err), WM_ERR);
	ck_assert_str_eq(err, "two plugins are named \"example\"");
}
END_TEST

/* `nm -D --defined-only` lists the dynamic symbols the object defines: the
 * only way in must be wm_plugin_entry, or plugins could bind to each other's
 * helpers. */
static void exports_only_the_entry(const char *so)
{
	char cmd[1024], line[512];
	snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s/%s' 2>&1", WAYMARK_PLUGIN_DIR, so);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	int n = 0, entry = 0;
	char others[1024] = "";
	while (fgets(line, sizeof line, p)) {
		char addr[64], type[8], name[256];
		if (sscanf(line, "%63s %7s %255s", addr, type, name) != 3) {
			strncat(others, line, sizeof others - strlen(others) - 1);
			continue;
		}
		n++;
		if (!strcmp(name, "wm_plugin_entry") && !strcmp(type, "T"))
			entry++;
		else if (strlen(others) + strlen(name) + 2 < sizeof others)
			strcat(strcat(others, name), " ");
	}
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_msg(n == 1 && entry == 1, "%s: expected only wm_plugin_entry, also found: %s", so,
	              others);
}

START_TEST(example_exports_only_the_entry)
{
	exports_only_the_entry("waymark_example.so");
}
END_TEST

/* The first real programme plugin, opened as the server opens it: the ABI
 * block passes, every hook it implements is in place (and no reserved slot
 * is taken), its migrations are embedded in order, and its configuration
 * table is the documented one. */
START_TEST(group_course_loads)
{
	static const char *const names[] = {"course", "admission", "outcomes"};
	struct wm_host host = {0};
	char *path = plugin_path(WAYMARK_PLUGIN_DIR, "group_course");
	ck_assert_msg(plugin_open(path, "group_course", &host, err, sizeof err) == WM_OK, "%s",
	              err);
	const struct wm_plugin *d = host.desc;
	ck_assert_str_eq(host.name, "group_course");
	ck_assert_uint_eq(d->abi.major, WM_ABI_MAJOR);
	ck_assert_uint_le(d->abi.minor, WM_ABI_MINOR);
	ck_assert_ptr_nonnull(d->init);
	ck_assert_ptr_nonnull(d->register_routes);
	ck_assert_ptr_nonnull(d->shutdown);
	ck_assert_ptr_nonnull(d->programme_validate);
	ck_assert_ptr_nonnull(d->booking_check);
	ck_assert_ptr_nonnull(d->attendance_rules);
	ck_assert_ptr_nonnull(d->completion_evaluate);
	ck_assert_ptr_nonnull(d->calendar_render);
	for (size_t i = 0; i < WM_PLUGIN_RESERVED; i++)
		ck_assert_ptr_null(d->reserved[i]);
	ck_assert_uint_ge(d->n_migrations, 3);
	for (size_t i = 0; i < d->n_migrations; i++) {
		ck_assert_int_eq(d->migrations[i].version, (int)i + 1);
		ck_assert_ptr_nonnull(d->migrations[i].sql);
		if (i < 3)
			ck_assert_str_eq(d->migrations[i].name, names[i]);
	}
	ck_assert_ptr_nonnull(strstr(d->migrations[0].sql, "cohort_layout"));
	ck_assert_ptr_nonnull(d->config_keys);
	ck_assert_str_eq(d->config_keys[0].name, "bank_holiday_region");
	ck_assert_int_eq(d->config_keys[0].type, WM_CFG_STRING);
	ck_assert_str_eq(d->config_keys[1].name, "checks_days");
	ck_assert_int_eq(d->config_keys[1].type, WM_CFG_INT);
	ck_assert_ptr_null(d->config_keys[2].name);
	/* RTLD_LOCAL, as for every plugin. */
	ck_assert_ptr_null(dlsym(RTLD_DEFAULT, WM_PLUGIN_ENTRY_SYMBOL));
	plugin_close(&host);
	ck_assert_ptr_null(host.dl);
	free(path);
}
END_TEST

START_TEST(group_course_exports_only_the_entry)
{
	exports_only_the_entry("waymark_group_course.so");
}
END_TEST

/* ---- descriptors in memory ---------------------------------------------- */

static wm_status mem_init(const struct wm_core *core, struct wm_host *host, const json_t *config,
                          void **state)
{
	return WM_OK;
}

static wm_status mem_routes(void *state)
{
	return WM_OK;
}

static const struct wm_migration two_migrations[] = {
    {1, "first", "SELECT 1"},
    {2, "second", "SELECT 2"},
};

static struct wm_plugin valid(void)
{
	return (struct wm_plugin){
	    .abi = WM_PLUGIN_ABI,
	    .name = "mem",
	    .init = mem_init,
	    .register_routes = mem_routes,
	    .migrations = two_migrations,
	    .n_migrations = 2,
	};
}

static void expect_check(const struct wm_plugin *d, const char *want)
{
	err[0] = '\0';
	if (!want) {
		ck_assert_msg(plugin_check(d, "mem", "mem", err, sizeof err) == WM_OK, "%s", err);
		return;
	}
	ck_assert_int_eq(plugin_check(d, "mem", "mem", err, sizeof err), WM_ERR);
	ck_assert_str_eq(err, want);
}

START_TEST(valid_descriptor_passes)
{
	struct wm_plugin d = valid();
	expect_check(&d, NULL);
	/* A longer descriptor (a later header with appended members, same
	 * major) is fine: only too short is dangerous. */
	d.abi.struct_size += 64;
	expect_check(&d, NULL);
	/* Without a configured name, the label alone names the plugin. */
	ck_assert_int_eq(plugin_check(&d, "mem", NULL, err, sizeof err), WM_OK);
}
END_TEST

START_TEST(null_descriptor_refused)
{
	expect_check(NULL, "plugin \"mem\": wm_plugin_entry returned NULL");
}
END_TEST

START_TEST(word_sizes_refused)
{
	char want[256];
	struct wm_plugin d = valid();
	d.abi.sizeof_ptr = 4;
	snprintf(want, sizeof want, "plugin \"mem\": built with sizeof(void *) = 4, core has %zu",
	         sizeof(void *));
	expect_check(&d, want);
	d = valid();
	d.abi.sizeof_long = 4;
	snprintf(want, sizeof want, "plugin \"mem\": built with sizeof(long) = 4, core has %zu",
	         sizeof(long));
	expect_check(&d, want);
	d = valid();
	d.abi.sizeof_time_t = 4;
	snprintf(want, sizeof want, "plugin \"mem\": built with sizeof(time_t) = 4, core has %zu",
	         sizeof(time_t));
	expect_check(&d, want);
}
END_TEST

START_TEST(jansson_major_refused_minor_accepted)
{
	char want[256];
	unsigned c = JANSSON_VERSION_HEX;
	struct wm_plugin d = valid();
	d.abi.jansson_version = 0x030102;
	snprintf(want, sizeof want,
	         "plugin \"mem\": built with jansson 3.1.2, core uses jansson %u.%u.%u (major "
	         "versions differ)",
	         c >> 16, (c >> 8) & 0xff, c & 0xff);
	expect_check(&d, want);
	d.abi.jansson_version = (c & 0xff0000) | 0x0d00; /* same major, minor 13 */
	expect_check(&d, NULL);
}
END_TEST

START_TEST(names_checked)
{
	struct wm_plugin d = valid();
	d.name = NULL;
	expect_check(&d, "plugin \"mem\": descriptor has no name");
	const char *bad[] = {
	    "", "9lives", "_x", "a-b", "aB", "a b", "abcdefghijklmnopqrstuvwxyz012345"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		d.name = bad[i];
		ck_assert_int_eq(plugin_check(&d, "mem", NULL, err, sizeof err), WM_ERR);
		ck_assert_msg(strstr(err, "does not match [a-z][a-z0-9_]{0,30}"), "%s: %s", bad[i],
		              err);
	}
	/* 31 characters is the longest allowed. */
	const char *good[] = {"a", "z9_", "abcdefghijklmnopqrstuvwxyz01234"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		d.name = good[i];
		ck_assert_msg(plugin_check(&d, "mem", NULL, err, sizeof err) == WM_OK, "%s: %s",
		              good[i], err);
	}
	/* Unprintable bytes in a name are not copied into the log line. */
	d.name = "a\nb";
	ck_assert_int_eq(plugin_check(&d, "mem", NULL, err, sizeof err), WM_ERR);
	ck_assert_str_eq(err, "plugin \"mem\": name \"a?b\" does not match [a-z][a-z0-9_]{0,30}");
}
END_TEST

START_TEST(callbacks_required)
{
	struct wm_plugin d = valid();
	d.register_routes = NULL;
	expect_check(&d, "plugin \"mem\": required callback register_routes is NULL");
	d = valid();
	d.init = NULL;
	expect_check(&d, "plugin \"mem\": required callback init is NULL");
}
END_TEST

START_TEST(every_reserved_slot_checked)
{
	for (int i = 0; i < WM_PLUGIN_RESERVED; i++) {
		char want[256];
		struct wm_plugin d = valid();
		d.reserved[i] = &d;
		snprintf(want, sizeof want,
		         "plugin \"mem\": reserved slot %d is not NULL (built against a newer "
		         "header?)",
		         i);
		expect_check(&d, want);
	}
}
END_TEST

START_TEST(migrations_checked)
{
	struct wm_plugin d = valid();
	d.migrations = NULL;
	expect_check(&d, "plugin \"mem\": n_migrations is 2 but migrations is NULL");
	/* None at all is fine. */
	d.n_migrations = 0;
	expect_check(&d, NULL);

	struct wm_migration m[3] = {{1, "a", "S"}, {3, "b", "S"}, {2, "c", "S"}};
	d = valid();
	d.migrations = m;
	d.n_migrations = 3;
	expect_check(&d,
	             "plugin \"mem\": migration 2 has version 3 (versions must be 1..3 in order)");
	m[1].version = 2;
	m[2].version = 2;
	expect_check(&d,
	             "plugin \"mem\": migration 3 has version 2 (versions must be 1..3 in order)");
	m[0].version = 0;
	expect_check(&d,
	             "plugin \"mem\": migration 1 has version 0 (versions must be 1..3 in order)");
	m[0].version = 1;
	m[2].version = 3;
	expect_check(&d, NULL);
	m[1].name = NULL;
	expect_check(&d, "plugin \"mem\": migration 2 has no name");
	m[1].name = "b";
	m[2].sql = NULL;
	expect_check(&d, "plugin \"mem\": migration 3 has no SQL");
}
END_TEST

/* The first mismatch found is the one reported, in the documented order:
 * the ABI block before anything read from past it. */
START_TEST(checks_run_in_order)
{
	struct wm_plugin d = valid();
	d.abi.magic = 1;
	d.abi.major = 9;
	d.name = NULL;
	expect_check(&d, "plugin \"mem\": not a Waymark plugin (bad magic 0x00000001)");
	d.abi.magic = WM_ABI_MAGIC;
	d.abi.struct_size = 8;
	char want[128];
	snprintf(want, sizeof want, "plugin \"mem\": ABI 9.%d, core %d.%d", WM_ABI_MINOR,
	         WM_ABI_MAJOR, WM_ABI_MINOR);
	expect_check(&d, want);
	d.abi.major = WM_ABI_MAJOR;
	snprintf(want, sizeof want,
	         "plugin \"mem\": descriptor is 8 bytes, core %d.%d expects at least %zu",
	         WM_ABI_MAJOR, WM_ABI_MINOR, sizeof(struct wm_plugin));
	expect_check(&d, want);
}
END_TEST

START_TEST(path_is_dir_and_waymark_name_so)
{
	char *p = plugin_path("/usr/lib/waymark", "sport");
	ck_assert_str_eq(p, "/usr/lib/waymark/waymark_sport.so");
	free(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("abi");
	TCase *so = tcase_create("shared objects");
	tcase_add_test(so, fixture_ok_loads);
	tcase_add_test(so, fixture_ok_loads_without_expected_name);
	tcase_add_test(so, example_loads);
	tcase_add_test(so, bad_major_refused_before_its_code_runs);
	tcase_add_test(so, newer_minor_refused);
	tcase_add_test(so, short_struct_refused);
	tcase_add_test(so, bad_magic_refused);
	tcase_add_test(so, missing_init_refused);
	tcase_add_test(so, bad_name_refused);
	tcase_add_test(so, reserved_slot_refused);
	tcase_add_test(so, hooks_took_reserved_slots);
	tcase_add_test(so, configured_name_mismatch_refused);
	tcase_add_test(so, no_entry_refused);
	tcase_add_test(so, missing_file_refused_with_dlerror);
	tcase_add_test(so, undefined_symbol_refused_at_load);
	tcase_add_test(so, init_fails_and_sleep_fixtures_load);
	tcase_add_test(so, duplicate_names_refused);
	tcase_add_test(so, duplicate_names_refused_in_memory);
	tcase_add_test(so, example_exports_only_the_entry);
	tcase_add_test(so, group_course_loads);
	tcase_add_test(so, group_course_exports_only_the_entry);
	suite_add_tcase(s, so);

	TCase *mem = tcase_create("descriptors");
	tcase_add_test(mem, valid_descriptor_passes);
	tcase_add_test(mem, null_descriptor_refused);
	tcase_add_test(mem, word_sizes_refused);
	tcase_add_test(mem, jansson_major_refused_minor_accepted);
	tcase_add_test(mem, names_checked);
	tcase_add_test(mem, callbacks_required);
	tcase_add_test(mem, every_reserved_slot_checked);
	tcase_add_test(mem, migrations_checked);
	tcase_add_test(mem, checks_run_in_order);
	tcase_add_test(mem, path_is_dir_and_waymark_name_so);
	suite_add_tcase(s, mem);

	return ts_main(s);
}
