/*
 * gc_settings.c — the programme_validate hook: a course's settings (the
 * shape README.md documents) are checked whole, on create and on every
 * change.
 *
 *   rule_version         string 1..100 (default "group_course-1")
 *   modules              1..40 {key, title, theme?, required? (true),
 *                        guests? (false)}; key ^[a-z][a-z0-9_]{0,39}$, unique,
 *                        not "graduation" (graduation is its own event)
 *   min_share            number 0..1 (default 0.8)
 *   absence_alert_after  integer 1..10 (default 2)
 *   qualification        null | {name 1..200, level? 1..8 | null,
 *                        credits? 1..999 | null}
 *   prerequisites        <= 10 {programme_id >= 1 (unique), mode "required" |
 *                        "recommended"}
 *   eligibility          null | the current eligibility rule with its
 *                        "version" (maintained by the plugin: see
 *                        migrations/0002_admission.sql)
 *
 * Any other key, here or inside a module, qualification or prerequisite,
 * is refused: 400 group_course.unknown_setting naming "settings.<key>".
 * A value of the wrong shape: 400 group_course.invalid_settings naming it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gc.h"
#include "gc_rules.h"

wm_status gc_refuse(struct wm_hook_error *err, int status, const char *code, const char *field,
                    const char *fmt, ...)
{
	va_list ap;
	err->status = status;
	snprintf(err->code, sizeof err->code, "%s", code);
	snprintf(err->field, sizeof err->field, "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	return WM_ERR;
}

/* Characters (UTF-8 code points) of a string without control bytes, or -1. */
static long text_chars(const char *s)
{
	long n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return -1;
		if ((*p & 0xc0) != 0x80)
			n++;
	}
	return n;
}

static int text_ok(const json_t *v, long min, long max)
{
	long n = json_is_string(v) ? text_chars(json_string_value(v)) : -1;
	return n >= min && n <= max;
}

static int key_ok(const char *k)
{
	size_t n = strlen(k);
	if (n < 1 || n > 40 || k[0] < 'a' || k[0] > 'z')
		return 0;
	return strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* Refuses a member of `obj` not in `allowed`, naming "<prefix>.<key>". */
static wm_status only(const json_t *obj, const char *prefix, const char *const *allowed,
                      struct wm_hook_error *err)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v)
	{
		int known = 0;
		for (const char *const *a = allowed; *a; a++)
			known |= !strcmp(*a, k);
		if (!known) {
			char f[128];
			snprintf(f, sizeof f, "%s.%s", prefix, k);
			return gc_refuse(err, 400, "group_course.unknown_setting", f,
			                 "%s is not a setting of a group course.", f);
		}
	}
	return WM_OK;
}

static wm_status bad(struct wm_hook_error *err, const char *field, const char *what)
{
	return gc_refuse(err, 400, "group_course.invalid_settings", field, "%s must be %s.", field,
	                 what);
}

static wm_status check_module(const json_t *m, size_t i, const json_t *modules,
                              struct wm_hook_error *err)
{
	static const char *const allowed[] = {"key", "title", "theme", "required", "guests", NULL};
	char p[64], f[96];
	snprintf(p, sizeof p, "settings.modules[%zu]", i);
	if (!json_is_object(m))
		return bad(err, p, "an object {key, title, theme?, required?, guests?}");
	if (only(m, p, allowed, err) != WM_OK)
		return WM_ERR;
	const char *key = json_string_value(json_object_get(m, "key"));
	snprintf(f, sizeof f, "%s.key", p);
	if (!key || !key_ok(key))
		return bad(err, f, "1 to 40 of a-z, 0-9 and _, starting with a letter");
	if (!strcmp(key, "graduation"))
		return gc_refuse(err, 400, "group_course.invalid_settings", f,
		                 "The module key \"graduation\" is reserved: graduation is its own "
		                 "event.");
	for (size_t j = 0; j < i; j++) {
		const char *other =
		    json_string_value(json_object_get(json_array_get(modules, j), "key"));
		if (other && !strcmp(other, key))
			return gc_refuse(err, 400, "group_course.invalid_settings", f,
			                 "Module key \"%s\" is used twice.", key);
	}
	snprintf(f, sizeof f, "%s.title", p);
	if (!text_ok(json_object_get(m, "title"), 1, 200))
		return bad(err, f, "a text of 1 to 200 characters");
	json_t *v = json_object_get(m, "theme");
	snprintf(f, sizeof f, "%s.theme", p);
	if (v && !json_is_null(v) && !text_ok(v, 1, 200))
		return bad(err, f, "null or a text of 1 to 200 characters");
	v = json_object_get(m, "required");
	snprintf(f, sizeof f, "%s.required", p);
	if (v && !json_is_boolean(v))
		return bad(err, f, "true or false");
	v = json_object_get(m, "guests");
	snprintf(f, sizeof f, "%s.guests", p);
	if (v && !json_is_boolean(v))
		return bad(err, f, "true or false");
	return WM_OK;
}

static wm_status check_qualification(const json_t *q, struct wm_hook_error *err)
{
	static const char *const allowed[] = {"name", "level", "credits", NULL};
	if (json_is_null(q))
		return WM_OK;
	if (!json_is_object(q))
		return bad(err, "settings.qualification", "null or {name, level?, credits?}");
	if (only(q, "settings.qualification", allowed, err) != WM_OK)
		return WM_ERR;
	if (!text_ok(json_object_get(q, "name"), 1, 200))
		return bad(err, "settings.qualification.name", "a text of 1 to 200 characters");
	json_t *v = json_object_get(q, "level");
	if (v && !json_is_null(v) &&
	    (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 8))
		return bad(err, "settings.qualification.level", "null or an integer from 1 to 8");
	v = json_object_get(q, "credits");
	if (v && !json_is_null(v) &&
	    (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 999))
		return bad(err, "settings.qualification.credits",
		           "null or an integer from 1 to 999");
	return WM_OK;
}

static wm_status check_prerequisites(const json_t *a, struct wm_hook_error *err)
{
	static const char *const allowed[] = {"programme_id", "mode", NULL};
	if (!json_is_array(a) || json_array_size(a) > 10)
		return bad(err, "settings.prerequisites", "an array of at most 10 prerequisites");
	size_t i;
	json_t *p;
	json_array_foreach(a, i, p)
	{
		char pre[64], f[96];
		snprintf(pre, sizeof pre, "settings.prerequisites[%zu]", i);
		if (!json_is_object(p))
			return bad(err, pre, "an object {programme_id, mode}");
		if (only(p, pre, allowed, err) != WM_OK)
			return WM_ERR;
		json_t *id = json_object_get(p, "programme_id");
		snprintf(f, sizeof f, "%s.programme_id", pre);
		if (!json_is_integer(id) || json_integer_value(id) < 1 ||
		    json_integer_value(id) > (1LL << 53))
			return bad(err, f, "a programme id");
		for (size_t j = 0; j < i; j++)
			if (json_integer_value(json_object_get(
			        json_array_get(a, j), "programme_id")) == json_integer_value(id))
				return gc_refuse(err, 400, "group_course.invalid_settings", f,
				                 "Programme %lld is listed twice.",
				                 (long long)json_integer_value(id));
		const char *mode = json_string_value(json_object_get(p, "mode"));
		snprintf(f, sizeof f, "%s.mode", pre);
		if (!mode || (strcmp(mode, "required") && strcmp(mode, "recommended")))
			return bad(err, f, "\"required\" or \"recommended\"");
	}
	return WM_OK;
}

wm_status gc_settings_check(const json_t *s, struct wm_hook_error *err)
{
	static const char *const allowed[] = {
	    "rule_version",  "modules",       "min_share",   "absence_alert_after",
	    "qualification", "prerequisites", "eligibility", NULL};
	if (!json_is_object(s))
		return bad(err, "settings", "an object");
	if (only(s, "settings", allowed, err) != WM_OK)
		return WM_ERR;
	json_t *v = json_object_get(s, "rule_version");
	if (v && !text_ok(v, 1, 100))
		return bad(err, "settings.rule_version", "a text of 1 to 100 characters");
	json_t *modules = json_object_get(s, "modules");
	if (!json_is_array(modules) || json_array_size(modules) < 1 ||
	    json_array_size(modules) > 40)
		return bad(err, "settings.modules",
		           "an array of 1 to 40 modules, in curriculum order");
	size_t i;
	json_t *m;
	json_array_foreach(modules, i,
	                   m) if (check_module(m, i, modules, err) != WM_OK) return WM_ERR;
	v = json_object_get(s, "min_share");
	if (v && (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1))
		return bad(err, "settings.min_share", "a number from 0 to 1");
	v = json_object_get(s, "absence_alert_after");
	if (v && (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 10))
		return bad(err, "settings.absence_alert_after", "an integer from 1 to 10");
	v = json_object_get(s, "qualification");
	if (v && check_qualification(v, err) != WM_OK)
		return WM_ERR;
	v = json_object_get(s, "prerequisites");
	if (v && check_prerequisites(v, err) != WM_OK)
		return WM_ERR;
	v = json_object_get(s, "eligibility");
	if (v && !json_is_null(v) &&
	    gc_eligibility_check(v, "settings.eligibility", 1, err) != WM_OK)
		return WM_ERR;
	return WM_OK;
}

wm_status gc_programme_validate(void *state, const json_t *settings, struct wm_hook_error *err)
{
	(void)state;
	return gc_settings_check(settings, err);
}
