/*
 * jsonv — the checks every JSON body passes before a handler sees it, and the
 * field validators handlers call. Independent of HTTP so that unit tests and
 * the fuzz target drive it directly; req.c turns a jsonv_error into a reply.
 *
 * Errors carry the HTTP status, a namespaced code and the field they concern:
 *   415 core.unsupported_media_type  content type is not application/json
 *   413 core.body_too_large          more than the route's limit
 *   400 core.bad_utf8                body is not valid UTF-8
 *   400 core.bad_json                syntax error (message gives line:column)
 *   400 core.not_object              top level is not an object
 *   400 core.too_deep                nesting deeper than JSONV_MAX_DEPTH
 *   400 core.unknown_field / core.missing_field / core.wrong_type /
 *       core.too_long / core.empty / core.out_of_range / core.bad_text
 */
#ifndef WM_JSONV_H
#define WM_JSONV_H

#include <jansson.h>
#include <stddef.h>
#include <waymark/types.h>

#define JSONV_MAX_DEPTH 32

struct jsonv_error {
	int status;
	char code[48];
	char field[128];
	char message[256];
};

/* 1 if s[0..n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int utf8_valid(const unsigned char *s, size_t n);
/* 1 if valid UTF-8 s[0..n) holds a bidirectional formatting character. */
int utf8_has_bidi_controls(const unsigned char *s, size_t n);

/* Checks content type (application/json, optional charset=utf-8, case
 * insensitive), size, UTF-8, syntax, object at top, nesting depth.
 * `content_type` may be NULL (→ 415). On success *out is a new reference. */
wm_status jsonv_parse_body(const char *content_type, const unsigned char *body, size_t len,
                           size_t max_len, json_t **out, struct jsonv_error *err) WM_MUST_CHECK;

wm_status jsonv_only(const json_t *obj, const char *const *allowed,
                     struct jsonv_error *err) WM_MUST_CHECK;
/* Strings: 1..max_len Unicode characters, no C0/C1 controls except none
 * (tab, CR, LF are refused too: these are names and codes, not prose). */
wm_status jsonv_string(const json_t *obj, const char *field, size_t max_len, int required,
                       const char **out, struct jsonv_error *err) WM_MUST_CHECK;
wm_status jsonv_int(const json_t *obj, const char *field, long long min, long long max,
                    int required, long long *out, struct jsonv_error *err) WM_MUST_CHECK;
wm_status jsonv_bool(const json_t *obj, const char *field, int required, int *out,
                     struct jsonv_error *err) WM_MUST_CHECK;

/* Fills err; used by the validators and by callers with their own checks. */
void jsonv_fail(struct jsonv_error *err, int status, const char *code, const char *field,
                const char *fmt, ...) WM_PRINTF(5, 6);

#endif
