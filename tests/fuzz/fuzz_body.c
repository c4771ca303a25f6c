/*
 * Fuzz target for the JSON body gate: the first line of the input is the
 * Content-Type header, the rest is the body. Whatever parses is then run
 * through every field validator, nested objects included, so the validators
 * see the same hostile strings and numbers the parser let through. Must
 * never crash, hang or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void validate(const json_t *obj, int depth)
{
	static const char *const allowed[] = {"name", "id", "a", "", NULL};
	struct jsonv_error err;
	const char *key, *s;
	json_t *val;
	long long n;
	int b;
	if (depth > JSONV_MAX_DEPTH)
		return;
	(void)!jsonv_only(obj, allowed, &err);
	json_object_foreach((json_t *)obj, key, val)
	{
		(void)!jsonv_string(obj, key, 8, 1, &s, &err);
		(void)!jsonv_string(obj, key, 1000, 0, &s, &err);
		(void)!jsonv_int(obj, key, -5, 5, 1, &n, &err);
		(void)!jsonv_int(obj, key, INT64_MIN, INT64_MAX, 0, &n, &err);
		(void)!jsonv_bool(obj, key, 1, &b, &err);
		if (json_is_object(val))
			validate(val, depth + 1);
	}
	(void)!jsonv_string(obj, "absent", 8, 1, &s, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t ct_len = nl ? (size_t)(nl - data) : size;
	const uint8_t *body = nl ? nl + 1 : data + size;
	size_t body_len = size - (size_t)(body - data);
	char *ct = malloc(ct_len + 1);
	if (!ct)
		return 0;
	memcpy(ct, data, ct_len);
	ct[ct_len] = '\0';
	if (ct_len && ct[ct_len - 1] == '\r')
		ct[ct_len - 1] = '\0';
	json_t *obj = NULL;
	struct jsonv_error err;
	(void)utf8_valid(data, size);
	if (jsonv_parse_body(ct, body, body_len, 65536, &obj, &err) == WM_OK) {
		validate(obj, 1);
		json_decref(obj);
	}
	/* The same body with no content type and with a tiny limit. */
	if (jsonv_parse_body(NULL, body, body_len, 65536, &obj, &err) == WM_OK)
		abort(); /* a missing content type must always be refused */
	if (jsonv_parse_body("application/json", body, body_len, 16, &obj, &err) == WM_OK) {
		if (body_len > 16)
			abort();
		json_decref(obj);
	}
	free(ct);
	return 0;
}
