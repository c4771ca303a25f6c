/*
 * jsonv — the gate every JSON request body passes, and the field validators
 * handlers call. The checks run cheapest first (header, size, bytes, then the
 * parser) so a hostile body costs as little as possible. Messages never quote
 * the client's value: bodies carry personal data and replies may be logged.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "jsonv.h"

void jsonv_fail(struct jsonv_error *err, int status, const char *code, const char *field,
                const char *fmt, ...)
{
	va_list ap;
	err->status = status;
	snprintf(err->code, sizeof err->code, "%s", code ? code : "");
	snprintf(err->field, sizeof err->field, "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
}

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 token characters. */
static int is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* application/json with optional parameters; a charset, if given, must be
 * UTF-8, the only encoding RFC 8259 allows between systems. */
static int content_type_ok(const char *p)
{
	if (!p)
		return 0;
	while (is_ows(*p))
		p++;
	if (strncasecmp(p, "application/json", 16) != 0)
		return 0;
	p += 16;
	for (;;) {
		while (is_ows(*p))
			p++;
		if (!*p)
			return 1;
		if (*p++ != ';')
			return 0;
		while (is_ows(*p))
			p++;
		if (!*p || *p == ';')
			continue;
		const char *name = p;
		while (is_tchar(*p))
			p++;
		size_t name_len = (size_t)(p - name);
		if (!name_len || *p++ != '=')
			return 0;
		const char *val = p;
		size_t val_len;
		int escaped = 0;
		if (*p == '"') {
			val = ++p;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1]) {
					escaped = 1;
					p++;
				}
				p++;
			}
			if (*p != '"')
				return 0;
			val_len = (size_t)(p - val);
			p++;
		} else {
			while (is_tchar(*p))
				p++;
			val_len = (size_t)(p - val);
			if (!val_len)
				return 0;
		}
		if (name_len == 7 && !strncasecmp(name, "charset", 7) &&
		    (escaped || val_len != 5 || strncasecmp(val, "utf-8", 5) != 0))
			return 0;
	}
}

/* Nesting depth from the raw text, stopping once past `limit`: it needs no
 * recursion, so a body of a million '[' costs one pass and no stack. */
static size_t raw_depth(const unsigned char *s, size_t n, size_t limit)
{
	size_t depth = 0, max = 0;
	int in_string = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = 0;
			continue;
		}
		if (c == '"') {
			in_string = 1;
		} else if (c == '{' || c == '[') {
			if (++depth > max) {
				max = depth;
				if (max > limit)
					return max;
			}
		} else if ((c == '}' || c == ']') && depth > 0) {
			depth--;
		}
	}
	return max;
}

/* Jansson ends most messages with "near '<token>'", a piece of the body:
 * drop it (the line and column locate the problem without echoing data). */
static void strip_near(char *text)
{
	char *near = strstr(text, " near '");
	if (near)
		*near = '\0';
}

wm_status jsonv_parse_body(const char *content_type, const unsigned char *body, size_t len,
                           size_t max_len, json_t **out, struct jsonv_error *err)
{
	json_error_t jerr;
	json_t *doc = NULL;
	*out = NULL;
	if (!content_type_ok(content_type)) {
		jsonv_fail(err, 415, "core.unsupported_media_type", NULL,
		           "The request body must be sent as Content-Type: application/json.");
		goto fail;
	}
	if (len > max_len) {
		jsonv_fail(err, 413, "core.body_too_large", NULL,
		           "The request body is larger than the %zu bytes this route accepts.",
		           max_len);
		goto fail;
	}
	if (!body)
		body = (const unsigned char *)"";
	if (!utf8_valid(body, len)) {
		jsonv_fail(err, 400, "core.bad_utf8", NULL, "The request body is not valid UTF-8.");
		goto fail;
	}
	if (raw_depth(body, len, JSONV_MAX_DEPTH) > JSONV_MAX_DEPTH) {
		jsonv_fail(err, 400, "core.too_deep", NULL,
		           "The request body is nested more than %d levels deep.", JSONV_MAX_DEPTH);
		goto fail;
	}
	/* Without JSON_ALLOW_NUL jansson refuses "\u0000", so no string with an
	 * embedded NUL reaches C code that would silently truncate it.
	 * JSON_DECODE_ANY only so that `"x"` or `1` gets the clearer not_object. */
	doc = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!doc) {
		strip_near(jerr.text);
		jsonv_fail(err, 400, "core.bad_json", NULL, "line %d, column %d: %s", jerr.line,
		           jerr.column, jerr.text);
		goto fail;
	}
	if (!json_is_object(doc)) {
		jsonv_fail(err, 400, "core.not_object", NULL,
		           "The request body must be a JSON object.");
		goto fail;
	}
	*out = doc;
	return WM_OK;
fail:
	json_decref(doc);
	return WM_ERR;
}

static int not_object(const json_t *obj, struct jsonv_error *err)
{
	if (json_is_object(obj))
		return 0;
	jsonv_fail(err, 400, "core.not_object", NULL, "The request body must be a JSON object.");
	return 1;
}

wm_status jsonv_only(const json_t *obj, const char *const *allowed, struct jsonv_error *err)
{
	const char *key;
	json_t *val;
	if (not_object(obj, err))
		return WM_ERR;
	json_object_foreach((json_t *)obj, key, val)
	{
		int known = 0;
		for (size_t i = 0; allowed && allowed[i] && !known; i++)
			known = !strcmp(allowed[i], key);
		if (!known) {
			jsonv_fail(err, 400, "core.unknown_field", key,
			           "This field is not accepted here.");
			return WM_ERR;
		}
	}
	return WM_OK;
}

/* Looks `field` up; 1 = present, 0 = absent and fine, -1 = error set. */
static int member(const json_t *obj, const char *field, int required, json_t **val,
                  struct jsonv_error *err)
{
	if (not_object(obj, err))
		return -1;
	*val = json_object_get(obj, field);
	if (*val)
		return 1;
	if (!required)
		return 0;
	jsonv_fail(err, 400, "core.missing_field", field, "This field is required.");
	return -1;
}

wm_status jsonv_string(const json_t *obj, const char *field, size_t max_len, int required,
                       const char **out, struct jsonv_error *err)
{
	json_t *val = NULL;
	int m = member(obj, field, required, &val, err);
	*out = NULL;
	if (m <= 0)
		return m < 0 ? WM_ERR : WM_OK;
	if (!json_is_string(val)) {
		jsonv_fail(err, 400, "core.wrong_type", field, "Wrong type: expected a string.");
		return WM_ERR;
	}
	const unsigned char *s = (const unsigned char *)json_string_value(val);
	size_t n = json_string_length(val), chars = 0;
	int control = 0;
	if (n == 0) {
		jsonv_fail(err, 400, "core.empty", field, "This field must not be empty.");
		return WM_ERR;
	}
	for (size_t i = 0; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			chars++;
		/* C0 and DEL; C1 is U+0080..U+009F, encoded C2 80..C2 9F. */
		if (s[i] < 0x20 || s[i] == 0x7F ||
		    (s[i] == 0xC2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F))
			control = 1;
	}
	if (chars > max_len) {
		jsonv_fail(err, 400, "core.too_long", field,
		           "This field must be at most %zu characters long.", max_len);
		return WM_ERR;
	}
	if (control) {
		jsonv_fail(err, 400, "core.bad_text", field,
		           "This field must not contain control characters such as tabs or line "
		           "breaks.");
		return WM_ERR;
	}
	if (utf8_has_bidi_controls(s, n)) {
		jsonv_fail(err, 400, "core.bad_text", field,
		           "This field must not contain bidirectional formatting characters.");
		return WM_ERR;
	}
	*out = (const char *)s;
	return WM_OK;
}

wm_status jsonv_int(const json_t *obj, const char *field, long long min, long long max,
                    int required, long long *out, struct jsonv_error *err)
{
	json_t *val = NULL;
	int m = member(obj, field, required, &val, err);
	if (m <= 0)
		return m < 0 ? WM_ERR : WM_OK;
	if (!json_is_integer(val)) {
		jsonv_fail(err, 400, "core.wrong_type", field, "Wrong type: expected an integer.");
		return WM_ERR;
	}
	long long v = (long long)json_integer_value(val);
	if (v < min || v > max) {
		jsonv_fail(err, 400, "core.out_of_range", field,
		           "This field must be between %lld and %lld.", min, max);
		return WM_ERR;
	}
	*out = v;
	return WM_OK;
}

wm_status jsonv_bool(const json_t *obj, const char *field, int required, int *out,
                     struct jsonv_error *err)
{
	json_t *val = NULL;
	int m = member(obj, field, required, &val, err);
	if (m <= 0)
		return m < 0 ? WM_ERR : WM_OK;
	if (!json_is_boolean(val)) {
		jsonv_fail(err, 400, "core.wrong_type", field,
		           "Wrong type: expected true or false.");
		return WM_ERR;
	}
	*out = json_is_true(val);
	return WM_OK;
}
