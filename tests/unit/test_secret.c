/*
 * The bearer-secret format every credential uses: what parses, what is
 * refused, and that only the verifier's hash is needed to check it.
 */
#include <check.h>
#include <string.h>

#include "secret.h"
#include "ts.h"

START_TEST(round_trip_through_text)
{
	struct secret a, b;
	char text[80];
	secret_new(&a);
	secret_format(&a, SECRET_TOKEN_PREFIX, text, sizeof text);
	ck_assert_uint_eq(strlen(text), strlen(SECRET_TOKEN_PREFIX) + SECRET_LEN);
	ck_assert(secret_parse(text, strlen(text), SECRET_TOKEN_PREFIX, &b) == WM_OK);
	ck_assert_str_eq(a.selector, b.selector);
	ck_assert_str_eq(a.hash_hex, b.hash_hex);
	ck_assert(secret_verify(&b, a.hash_hex));
	/* The stored hash is not the verifier, nor does it contain it. */
	ck_assert_ptr_null(strstr(a.hash_hex, a.verifier));
	ck_assert_uint_eq(strlen(a.hash_hex), 64);
}
END_TEST

START_TEST(two_secrets_differ)
{
	struct secret a, b;
	secret_new(&a);
	secret_new(&b);
	ck_assert_str_ne(a.selector, b.selector);
	ck_assert_str_ne(a.verifier, b.verifier);
	ck_assert(!secret_verify(&a, b.hash_hex));
}
END_TEST

START_TEST(malformed_text_is_refused)
{
	struct secret a, b;
	char text[80], bad[80];
	secret_new(&a);
	secret_format(&a, SECRET_TOKEN_PREFIX, text, sizeof text);
	size_t n = strlen(text);
	ck_assert(secret_parse(text, n - 1, SECRET_TOKEN_PREFIX, &b) == WM_ERR);
	ck_assert(secret_parse(text + 3, n - 3, SECRET_TOKEN_PREFIX, &b) == WM_ERR);
	ck_assert(secret_parse(text, n, "xx_", &b) == WM_ERR);
	memcpy(bad, text, n + 1);
	bad[10] = '%';
	ck_assert(secret_parse(bad, n, SECRET_TOKEN_PREFIX, &b) == WM_ERR);
	bad[10] = '\0';
	ck_assert(secret_parse(bad, n, SECRET_TOKEN_PREFIX, &b) == WM_ERR);
	ck_assert(secret_parse(NULL, 0, NULL, &b) == WM_ERR);
}
END_TEST

START_TEST(a_changed_verifier_does_not_verify)
{
	struct secret a, b;
	char text[80];
	secret_new(&a);
	secret_format(&a, NULL, text, sizeof text);
	text[SECRET_LEN - 1] = text[SECRET_LEN - 1] == 'A' ? 'B' : 'A';
	ck_assert(secret_parse(text, strlen(text), NULL, &b) == WM_OK);
	ck_assert_str_eq(a.selector, b.selector);
	ck_assert(!secret_verify(&b, a.hash_hex));
	ck_assert(!secret_verify(&b, "not hex"));
	ck_assert(!secret_verify(&b, NULL));
}
END_TEST

START_TEST(derived_values_are_stable_and_purpose_bound)
{
	struct secret a, b;
	char x[65], y[65], z[65], text[80];
	secret_new(&a);
	secret_format(&a, NULL, text, sizeof text);
	ck_assert(secret_parse(text, strlen(text), NULL, &b) == WM_OK);
	secret_derive(&a, "csrf", x);
	secret_derive(&b, "csrf", y);
	secret_derive(&a, "other", z);
	ck_assert_str_eq(x, y);
	ck_assert_str_ne(x, z);
	ck_assert_ptr_null(strstr(x, a.verifier));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("secret");
	TCase *tc = tcase_create("secret");
	tcase_add_test(tc, round_trip_through_text);
	tcase_add_test(tc, two_secrets_differ);
	tcase_add_test(tc, malformed_text_is_refused);
	tcase_add_test(tc, a_changed_verifier_does_not_verify);
	tcase_add_test(tc, derived_values_are_stable_and_purpose_bound);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
