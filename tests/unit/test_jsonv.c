/*
 * jsonv: every error a client can get for a JSON body or field — status,
 * code and field exactly as the reply carries them — and that messages never
 * echo the client's value.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"

#include "ts.h"

#define CT "application/json"

static struct jsonv_error err;

/* Parses a NUL-terminated body; returns the object or NULL (err set). */
static json_t *parse_ct(const char *ct, const char *body)
{
	json_t *out = (json_t *)1;
	memset(&err, 0, sizeof err);
	wm_status rc =
	    jsonv_parse_body(ct, (const unsigned char *)body, strlen(body), 1 << 20, &out, &err);
	if (rc != WM_OK) {
		ck_assert_ptr_null(out);
		ck_assert_int_ne(err.status, 0);
		ck_assert_str_ne(err.code, "");
		ck_assert_str_ne(err.message, "");
		return NULL;
	}
	ck_assert_ptr_nonnull(out);
	ck_assert(json_is_object(out));
	return out;
}

static json_t *parse(const char *body)
{
	return parse_ct(CT, body);
}

static void expect(int status, const char *code, const char *field)
{
	ck_assert_int_eq(err.status, status);
	ck_assert_str_eq(err.code, code);
	ck_assert_str_eq(err.field, field);
}

static void refused(const char *ct, const char *body, int status, const char *code)
{
	json_t *o = parse_ct(ct, body);
	ck_assert_msg(o == NULL, "body %s with %s should be refused", body, ct ? ct : "(null)");
	expect(status, code, "");
}

START_TEST(valid_bodies_pass)
{
	const char *ok[] = {
	    "{}",
	    " \r\n\t{ } \n",
	    "{\"name\":\"Ann\",\"n\":3,\"b\":true,\"x\":null,\"l\":[1,2,{\"a\":[]}]}",
	    "{\"s\":\"\\u00e9\\ud83d\\ude00 \xc3\xa9\xf0\x9f\x98\x80\"}",
	    "{\"big\":9223372036854775807,\"neg\":-9223372036854775808,\"r\":1e300}",
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		json_t *o = parse(ok[i]);
		ck_assert_msg(o != NULL, "body %s refused: %s %s", ok[i], err.code, err.message);
		json_decref(o);
	}
}
END_TEST

START_TEST(content_types)
{
	const char *good[] = {
	    "application/json",
	    "Application/JSON",
	    "application/json; charset=utf-8",
	    "application/json;charset=UTF-8",
	    "application/json; charset=\"utf-8\"",
	    "application/json ; charset=utf-8 ; foo=bar",
	    "application/json;",
	    "  application/json  ",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		json_t *o = parse_ct(good[i], "{}");
		ck_assert_msg(o != NULL, "content type \"%s\" refused", good[i]);
		json_decref(o);
	}
	const char *bad[] = {
	    NULL,
	    "",
	    "text/plain",
	    "application/jsonx",
	    "application/json-patch+json",
	    "application/x-www-form-urlencoded",
	    "application/json; charset=latin1",
	    "application/json; charset=utf-16",
	    "application/json; charset=utf8",
	    "application/json; charset=",
	    "application/json; charset=\"utf-8",
	    "application/json; charset",
	    "application/json, text/plain",
	    "text/json",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		refused(bad[i], "{}", 415, "core.unsupported_media_type");
}
END_TEST

START_TEST(size_limit)
{
	json_t *out = NULL;
	const unsigned char body[] = "{\"a\":\"0123456789\"}"; /* 18 bytes */
	ck_assert_int_eq(jsonv_parse_body(CT, body, 18, 18, &out, &err), WM_OK);
	json_decref(out);
	ck_assert_int_eq(jsonv_parse_body(CT, body, 18, 17, &out, &err), WM_ERR);
	expect(413, "core.body_too_large", "");
	ck_assert_ptr_nonnull(strstr(err.message, "17"));
	/* The content type is checked first: a huge text/plain body is a 415. */
	ck_assert_int_eq(jsonv_parse_body("text/plain", body, 18, 17, &out, &err), WM_ERR);
	expect(415, "core.unsupported_media_type", "");
}
END_TEST

START_TEST(bad_utf8)
{
	const char *bad[] = {
	    "{\"a\":\"\xc0\xaf\"}",         /* overlong '/' */
	    "{\"a\":\"\xe0\x80\xaf\"}",     /* overlong, 3 bytes */
	    "{\"a\":\"\xed\xa0\x80\"}",     /* surrogate D800 */
	    "{\"a\":\"\xed\xbf\xbf\"}",     /* surrogate DFFF */
	    "{\"a\":\"\xf4\x90\x80\x80\"}", /* above U+10FFFF */
	    "{\"a\":\"\xe2\x82\"}",         /* truncated */
	    "{\"a\":\"\x80\"}",             /* stray continuation */
	    "{\"a\":\"\xff\"}",
	    "{\"a\":1}\xc3",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		refused(CT, bad[i], 400, "core.bad_utf8");
	/* Boundaries that are valid. */
	ck_assert(utf8_valid((const unsigned char *)"\xed\x9f\xbf", 3));     /* U+D7FF */
	ck_assert(utf8_valid((const unsigned char *)"\xee\x80\x80", 3));     /* U+E000 */
	ck_assert(utf8_valid((const unsigned char *)"\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
	ck_assert(utf8_valid((const unsigned char *)"\xc2\x80", 2));
	ck_assert(utf8_valid((const unsigned char *)"a\0b", 3));
	ck_assert(!utf8_valid((const unsigned char *)"\xc1\xbf", 2));
	ck_assert(!utf8_valid((const unsigned char *)"\xf0\x8f\xbf\xbf", 4));
	ck_assert(!utf8_valid((const unsigned char *)"\xf8\x88\x80\x80\x80", 5));
	ck_assert(!utf8_valid((const unsigned char *)"\xe2\x28\xa1", 3));
}
END_TEST

START_TEST(bad_json_names_line_and_column)
{
	refused(CT, "{\"a\":1,\n  \"b\": tru}", 400, "core.bad_json");
	ck_assert_msg(strncmp(err.message, "line 2, column ", 15) == 0, "message: %s", err.message);
	/* Jansson would quote the token; the client's value is not echoed. */
	refused(CT, "{\"a\": secretvalue}", 400, "core.bad_json");
	ck_assert_ptr_null(strstr(err.message, "secretvalue"));
	refused(CT, "", 400, "core.bad_json");
	refused(CT, "{\"a\":1} {}", 400, "core.bad_json");
	refused(CT, "{\"a\":1,}", 400, "core.bad_json");
	refused(CT, "{'a':1}", 400, "core.bad_json");
	refused(CT, "{\"a\":123456789012345678901234567890}", 400, "core.bad_json");
	refused(CT, "{\"a\":NaN}", 400, "core.bad_json");
}
END_TEST

START_TEST(duplicate_keys_refused)
{
	refused(CT, "{\"a\":1,\"b\":2,\"a\":3}", 400, "core.bad_json");
	ck_assert_ptr_nonnull(strstr(err.message, "duplicate"));
	refused(CT, "{\"o\":{\"k\":1,\"k\":1}}", 400, "core.bad_json");
}
END_TEST

START_TEST(nul_never_gets_through)
{
	refused(CT, "{\"a\":\"x\\u0000y\"}", 400, "core.bad_json");
	refused(CT, "{\"a\\u0000b\":1}", 400, "core.bad_json");
	refused(CT, "{\"l\":[\"\\u0000\"]}", 400, "core.bad_json");
	/* A raw NUL byte is valid UTF-8 but not JSON. */
	json_t *out = NULL;
	const unsigned char raw[] = {'{', '"', 'a', '"', ':', '"', 'x', 0, 'y', '"', '}'};
	ck_assert_int_eq(jsonv_parse_body(CT, raw, sizeof raw, 100, &out, &err), WM_ERR);
	expect(400, "core.bad_json", "");
	const unsigned char raw2[] = {'{', '}', 0};
	ck_assert_int_eq(jsonv_parse_body(CT, raw2, sizeof raw2, 100, &out, &err), WM_ERR);
	expect(400, "core.bad_json", "");
}
END_TEST

START_TEST(top_level_must_be_object)
{
	const char *bad[] = {"[]", "[{}]", "\"s\"", "1", "null", "true"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		refused(CT, bad[i], 400, "core.not_object");
}
END_TEST

static char *nested(int depth, int arrays)
{
	char *s = malloc((size_t)depth * 8 + 16);
	char *o = s;
	for (int i = 0; i < depth; i++) {
		if (i == 0 || !arrays) {
			memcpy(o, "{\"a\":", 5);
			o += 5;
		} else {
			*o++ = '[';
		}
	}
	*o++ = '1';
	for (int i = depth - 1; i >= 0; i--)
		*o++ = (i == 0 || !arrays) ? '}' : ']';
	*o = '\0';
	return s;
}

START_TEST(depth_limit)
{
	for (int arrays = 0; arrays < 2; arrays++) {
		char *ok = nested(JSONV_MAX_DEPTH, arrays);
		json_t *o = parse(ok);
		ck_assert_msg(o != NULL, "depth 32 refused: %s", err.code);
		json_decref(o);
		free(ok);
		char *deep = nested(JSONV_MAX_DEPTH + 1, arrays);
		refused(CT, deep, 400, "core.too_deep");
		free(deep);
	}
	/* Far deeper than jansson's own limit: still too_deep, no recursion. */
	char *huge = nested(100000, 1);
	refused(CT, huge, 400, "core.too_deep");
	free(huge);
	/* Brackets inside strings do not count. */
	char text[200] = "{\"a\":\"";
	for (int i = 0; i < 40; i++)
		strcat(text, "[{");
	strcat(text, "\\\"\"}");
	json_t *o = parse(text);
	ck_assert_ptr_nonnull(o);
	json_decref(o);
}
END_TEST

START_TEST(only_names_first_unknown)
{
	json_t *o = parse("{\"name\":\"a\",\"zzz\":1,\"other\":2}");
	const char *allowed[] = {"name", "age", NULL};
	ck_assert_int_eq(jsonv_only(o, allowed, &err), WM_ERR);
	expect(400, "core.unknown_field", "zzz");
	json_object_del(o, "zzz");
	json_object_del(o, "other");
	ck_assert_int_eq(jsonv_only(o, allowed, &err), WM_OK);
	const char *none[] = {NULL};
	ck_assert_int_eq(jsonv_only(o, none, &err), WM_ERR);
	expect(400, "core.unknown_field", "name");
	json_decref(o);
}
END_TEST

START_TEST(strings)
{
	json_t *o = parse("{\"name\":\"Ann\",\"n\":1,\"e\":\"\",\"nul\":null,"
	                  "\"zh\":\"\xe5\x90\x8d\xe5\xad\x97\xe5\x90\x8d\xe5\xad\x97\","
	                  "\"emoji\":\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"}");
	const char *s = (const char *)1;
	ck_assert_int_eq(jsonv_string(o, "name", 3, 1, &s, &err), WM_OK);
	ck_assert_str_eq(s, "Ann");
	ck_assert_int_eq(jsonv_string(o, "name", 2, 1, &s, &err), WM_ERR);
	expect(400, "core.too_long", "name");
	ck_assert_ptr_nonnull(strstr(err.message, "at most 2 characters"));
	ck_assert_ptr_null(strstr(err.message, "Ann"));
	/* Absent: required or not. */
	s = (const char *)1;
	ck_assert_int_eq(jsonv_string(o, "absent", 10, 0, &s, &err), WM_OK);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(jsonv_string(o, "absent", 10, 1, &s, &err), WM_ERR);
	expect(400, "core.missing_field", "absent");
	/* Wrong types, null included. */
	ck_assert_int_eq(jsonv_string(o, "n", 10, 1, &s, &err), WM_ERR);
	expect(400, "core.wrong_type", "n");
	ck_assert_ptr_nonnull(strstr(err.message, "expected a string"));
	ck_assert_int_eq(jsonv_string(o, "nul", 10, 0, &s, &err), WM_ERR);
	expect(400, "core.wrong_type", "nul");
	ck_assert_int_eq(jsonv_string(o, "e", 10, 0, &s, &err), WM_ERR);
	expect(400, "core.empty", "e");
	/* Code points, not bytes: 4 CJK characters are 12 bytes. */
	ck_assert_int_eq(jsonv_string(o, "zh", 4, 1, &s, &err), WM_OK);
	ck_assert_int_eq(jsonv_string(o, "zh", 3, 1, &s, &err), WM_ERR);
	expect(400, "core.too_long", "zh");
	ck_assert_int_eq(jsonv_string(o, "emoji", 2, 1, &s, &err), WM_OK);
	ck_assert_int_eq(jsonv_string(o, "emoji", 1, 1, &s, &err), WM_ERR);
	json_decref(o);
}
END_TEST

START_TEST(control_characters_refused)
{
	const char *bad[] = {
	    "{\"s\":\"a\\tb\"}",
	    "{\"s\":\"a\\nb\"}",
	    "{\"s\":\"a\\rb\"}",
	    "{\"s\":\"\\u0001\"}",
	    "{\"s\":\"\\u001f\"}",
	    "{\"s\":\"\\u007f\"}",
	    "{\"s\":\"\\u0080\"}",
	    "{\"s\":\"x\\u009fy\"}",
	    "{\"s\":\"\xc2\x85\"}",
	    /* Bidirectional formatting: marks, embeddings/overrides, isolates. */
	    "{\"s\":\"a\\u202eb\"}",
	    "{\"s\":\"\\u202a\"}",
	    "{\"s\":\"x\\u2066y\"}",
	    "{\"s\":\"\\u2069\"}",
	    "{\"s\":\"\\u200f\"}",
	    "{\"s\":\"\\u061c\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *o = parse(bad[i]);
		ck_assert_ptr_nonnull(o);
		const char *s;
		ck_assert_msg(jsonv_string(o, "s", 100, 1, &s, &err) == WM_ERR, "%s accepted",
		              bad[i]);
		expect(400, "core.bad_text", "s");
		json_decref(o);
	}
	/* Just outside the ranges: space, U+00A0, U+00FF, U+2028, U+202F,
	 * U+2065, U+206A are text. */
	json_t *o = parse("{\"s\":\" \\u00a0\\u00ff~\\u2028\\u202f\\u2065\\u206a\"}");
	const char *s;
	ck_assert_int_eq(jsonv_string(o, "s", 100, 1, &s, &err), WM_OK);
	json_decref(o);
	/* Built in C rather than parsed: an embedded NUL is still refused. */
	o = json_object();
	json_object_set_new(o, "s", json_stringn("a\0b", 3));
	ck_assert_int_eq(jsonv_string(o, "s", 100, 1, &s, &err), WM_ERR);
	expect(400, "core.bad_text", "s");
	json_decref(o);
}
END_TEST

START_TEST(integers)
{
	json_t *o = parse("{\"n\":5,\"neg\":-3,\"r\":5.0,\"s\":\"5\",\"b\":true,"
	                  "\"max\":9223372036854775807}");
	long long v = 99;
	ck_assert_int_eq(jsonv_int(o, "n", 1, 10, 1, &v, &err), WM_OK);
	ck_assert_int_eq(v, 5);
	ck_assert_int_eq(jsonv_int(o, "n", 5, 5, 1, &v, &err), WM_OK);
	ck_assert_int_eq(jsonv_int(o, "n", 6, 10, 1, &v, &err), WM_ERR);
	expect(400, "core.out_of_range", "n");
	ck_assert_ptr_nonnull(strstr(err.message, "between 6 and 10"));
	ck_assert_int_eq(jsonv_int(o, "neg", 0, 10, 1, &v, &err), WM_ERR);
	expect(400, "core.out_of_range", "neg");
	ck_assert_int_eq(jsonv_int(o, "n", 1, 4, 1, &v, &err), WM_ERR);
	ck_assert_int_eq(jsonv_int(o, "max", 0, 9223372036854775807LL, 1, &v, &err), WM_OK);
	ck_assert_int_eq(v, 9223372036854775807LL);
	const char *wrong[] = {"r", "s", "b"};
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(jsonv_int(o, wrong[i], 0, 10, 1, &v, &err), WM_ERR);
		expect(400, "core.wrong_type", wrong[i]);
	}
	v = 42;
	ck_assert_int_eq(jsonv_int(o, "absent", 0, 10, 0, &v, &err), WM_OK);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(jsonv_int(o, "absent", 0, 10, 1, &v, &err), WM_ERR);
	expect(400, "core.missing_field", "absent");
	json_decref(o);
}
END_TEST

START_TEST(booleans)
{
	json_t *o = parse("{\"t\":true,\"f\":false,\"one\":1,\"s\":\"true\"}");
	int b = 7;
	ck_assert_int_eq(jsonv_bool(o, "t", 1, &b, &err), WM_OK);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(jsonv_bool(o, "f", 1, &b, &err), WM_OK);
	ck_assert_int_eq(b, 0);
	ck_assert_int_eq(jsonv_bool(o, "one", 1, &b, &err), WM_ERR);
	expect(400, "core.wrong_type", "one");
	ck_assert_int_eq(jsonv_bool(o, "s", 0, &b, &err), WM_ERR);
	expect(400, "core.wrong_type", "s");
	b = 7;
	ck_assert_int_eq(jsonv_bool(o, "absent", 0, &b, &err), WM_OK);
	ck_assert_int_eq(b, 7);
	ck_assert_int_eq(jsonv_bool(o, "absent", 1, &b, &err), WM_ERR);
	expect(400, "core.missing_field", "absent");
	json_decref(o);
}
END_TEST

START_TEST(fail_formats)
{
	jsonv_fail(&err, 422, "x.rule", "when", "Starts at %d.", 9);
	expect(422, "x.rule", "when");
	ck_assert_str_eq(err.message, "Starts at 9.");
	jsonv_fail(&err, 400, "x.y", NULL, "m");
	expect(400, "x.y", "");
	/* An over-long field name is cut, never overrun. */
	char longname[400];
	memset(longname, 'f', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	jsonv_fail(&err, 400, "x.y", longname, "m");
	ck_assert_uint_eq(strlen(err.field), sizeof err.field - 1);
}
END_TEST

static Suite *jsonv_suite(void)
{
	Suite *s = suite_create("jsonv");
	TCase *tc = tcase_create("jsonv");
	tcase_add_test(tc, valid_bodies_pass);
	tcase_add_test(tc, content_types);
	tcase_add_test(tc, size_limit);
	tcase_add_test(tc, bad_utf8);
	tcase_add_test(tc, bad_json_names_line_and_column);
	tcase_add_test(tc, duplicate_keys_refused);
	tcase_add_test(tc, nul_never_gets_through);
	tcase_add_test(tc, top_level_must_be_object);
	tcase_add_test(tc, depth_limit);
	tcase_add_test(tc, only_names_first_unknown);
	tcase_add_test(tc, strings);
	tcase_add_test(tc, control_characters_refused);
	tcase_add_test(tc, integers);
	tcase_add_test(tc, booleans);
	tcase_add_test(tc, fail_formats);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ts_main(jsonv_suite());
}
