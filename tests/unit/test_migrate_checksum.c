/*
 * What the migration ledger relies on without a database: the checksum is
 * SHA-256 of the SQL exactly as embedded, any edit changes it, a set of
 * migrations must be numbered 1..n, and the core's own embedded set is.
 */
#include <check.h>
#include <string.h>

#include "migrate.h"
#include "ts.h"

START_TEST(checksum_known_vectors)
{
	char out[65];
	migrate_checksum("", out);
	ck_assert_str_eq(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	migrate_checksum("abc", out);
	ck_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	migrate_checksum("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", out);
	ck_assert_str_eq(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(checksum_sees_one_byte)
{
	char a[65], b[65], c[65];
	migrate_checksum("CREATE TABLE t (id int);\n", a);
	migrate_checksum("CREATE TABLE t (id int); \n", b);
	migrate_checksum("create TABLE t (id int);\n", c);
	ck_assert_str_ne(a, b);
	ck_assert_str_ne(a, c);
	ck_assert_uint_eq(strlen(a), 64);
	ck_assert_uint_eq(strspn(a, "0123456789abcdef"), 64);
}
END_TEST

static wm_status check(const struct wm_migration *m, size_t n, char *err, size_t len)
{
	struct migration_set set = {"t_plug", m, n};
	err[0] = '\0';
	return migrate_check_set(&set, err, len);
}

START_TEST(check_set_accepts_one_to_n)
{
	static const struct wm_migration ok[] = {
	    {1, "a", "SELECT 1"}, {2, "b", "SELECT 2"}, {3, "c", ""}};
	char err[256];
	ck_assert_int_eq(check(ok, 3, err, sizeof err), WM_OK);
	ck_assert_int_eq(check(ok, 0, err, sizeof err), WM_OK);
}
END_TEST

START_TEST(check_set_refuses_bad_numbering)
{
	static const struct wm_migration gap[] = {{1, "a", "x"}, {3, "c", "x"}};
	static const struct wm_migration dup[] = {{1, "a", "x"}, {1, "b", "x"}};
	static const struct wm_migration disorder[] = {{2, "b", "x"}, {1, "a", "x"}};
	static const struct wm_migration zero[] = {{0, "a", "x"}};
	char err[256];

	ck_assert_int_eq(check(gap, 2, err, sizeof err), WM_ERR);
	ck_assert_ptr_nonnull(strstr(err, "t_plug"));
	ck_assert_ptr_nonnull(strstr(err, "version 3"));
	ck_assert_int_eq(check(dup, 2, err, sizeof err), WM_ERR);
	ck_assert_ptr_nonnull(strstr(err, "version 1, expected 2"));
	ck_assert_int_eq(check(disorder, 2, err, sizeof err), WM_ERR);
	ck_assert_ptr_nonnull(strstr(err, "version 2, expected 1"));
	ck_assert_int_eq(check(zero, 1, err, sizeof err), WM_ERR);
	ck_assert_ptr_nonnull(strstr(err, "version 0"));
}
END_TEST

START_TEST(check_set_refuses_missing_name_or_owner)
{
	static const struct wm_migration empty[] = {{1, "a", "x"}, {2, "", "x"}};
	static const struct wm_migration null_name[] = {{1, NULL, "x"}};
	static const struct wm_migration no_sql[] = {{1, "a", NULL}};
	char err[256];

	ck_assert_int_eq(check(empty, 2, err, sizeof err), WM_ERR);
	ck_assert_ptr_nonnull(strstr(err, "version 2 has no name"));
	ck_assert_int_eq(check(null_name, 1, err, sizeof err), WM_ERR);
	ck_assert_int_eq(check(no_sql, 1, err, sizeof err), WM_ERR);
	ck_assert_ptr_nonnull(strstr(err, "t_plug/0001_a"));

	struct migration_set anon = {"", null_name, 0};
	ck_assert_int_eq(migrate_check_set(&anon, err, sizeof err), WM_ERR);
}
END_TEST

START_TEST(core_migrations_are_numbered)
{
	struct migration_set core = {"core", core_migrations, core_migrations_n};
	char err[256] = "";
	ck_assert_uint_ge(core_migrations_n, 1);
	ck_assert_msg(migrate_check_set(&core, err, sizeof err) == WM_OK, "%s", err);
	for (size_t i = 0; i < core_migrations_n; i++) {
		ck_assert_int_eq(core_migrations[i].version, (int)i + 1);
		ck_assert_ptr_nonnull(core_migrations[i].sql);
		ck_assert_uint_gt(strlen(core_migrations[i].sql), 0);
	}
	ck_assert_str_eq(core_migrations[0].name, "foundation");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("migrate_checksum");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, checksum_known_vectors);
	tcase_add_test(tc, checksum_sees_one_byte);
	tcase_add_test(tc, check_set_accepts_one_to_n);
	tcase_add_test(tc, check_set_refuses_bad_numbering);
	tcase_add_test(tc, check_set_refuses_missing_name_or_owner);
	tcase_add_test(tc, core_migrations_are_numbered);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
