/*
 * gc_render.c — the calendar_render hook: how a course session is titled
 * in a calendar feed. The core redacts `event` for the feed's audience
 * before the call, so this only arranges what it is given — never more:
 *   family, public  summary "<programme name>" ("<programme name>:
 *                   graduation" for the graduation event); description the
 *                   session's title (the module's), "(catch-up)" when it is
 *                   one and the title does not already say so;
 *   facilitator     summary "<cohort name>: <session title>" (+ " (catch-up)");
 *                   description "<programme name>, module <module key>";
 *   mentor          summary "<programme name>: <session title>"; description
 *                   "Participants: <initials>" when given.
 * Anything missing falls back to what there is; an unknown audience or no
 * programme name gives WM_ERR (the core's default text).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gc.h"
#include "gc_rules.h"

/* Copies printf output into `dst`, cutting at a UTF-8 character boundary. */
static void put(char *dst, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(dst, len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		dst[0] = 0;
		return;
	}
	if ((size_t)n < len)
		return;
	/* vsnprintf kept len - 1 bytes: find where the last character begins
	 * and drop it unless all of its bytes were kept. */
	size_t end = len - 1, lead = end;
	while (lead > 0 && ((unsigned char)dst[lead - 1] & 0xc0) == 0x80)
		lead--;
	if (lead == 0)
		return;
	unsigned char c = (unsigned char)dst[lead - 1];
	size_t want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	if (end - (lead - 1) < want)
		dst[lead - 1] = 0;
}

/* The catch-up marker, unless the title already ends with it (the plugin
 * titles its catch-up sessions "<module title> (catch-up)"). */
static const char *catch_up_mark(int catch_up, const char *title)
{
	static const char mark[] = " (catch-up)";
	size_t n = title ? strlen(title) : 0, m = sizeof mark - 2; /* without the space */
	if (!catch_up)
		return "";
	if (n >= m && !strcasecmp(title + n - m, mark + 1))
		return "";
	return mark;
}

static const char *get(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s && *s ? s : NULL;
}

wm_status gc_render_text(const json_t *event, struct wm_calendar_text *out)
{
	const char *audience = get(event, "audience");
	const json_t *pr = json_object_get(event, "programme");
	const json_t *s = json_object_get(event, "session");
	const char *name = get(pr, "name"), *title = get(s, "title"), *module = get(s, "module");
	const char *cohort = get(json_object_get(event, "cohort"), "name");
	int catch_up = json_is_true(json_object_get(s, "catch_up"));
	int graduation = module && !strcmp(module, "graduation");
	const char *cu = catch_up_mark(catch_up, title);
	if (!audience || !name)
		return WM_ERR;
	memset(out, 0, sizeof *out);
	if (!strcmp(audience, "family") || !strcmp(audience, "public")) {
		put(out->summary, sizeof out->summary, "%s%s", name,
		    graduation ? ": graduation" : "");
		if (title && !graduation)
			put(out->description, sizeof out->description, "%s%s", title, cu);
	} else if (!strcmp(audience, "facilitator")) {
		if (cohort && title)
			put(out->summary, sizeof out->summary, "%s: %s%s", cohort, title, cu);
		else
			put(out->summary, sizeof out->summary, "%s%s%s%s", name, title ? ": " : "",
			    title ? title : "", cu);
		if (module)
			put(out->description, sizeof out->description, "%s, module %s", name,
			    module);
		else
			put(out->description, sizeof out->description, "%s", name);
	} else if (!strcmp(audience, "mentor")) {
		put(out->summary, sizeof out->summary, "%s%s%s%s", name, title ? ": " : "",
		    title ? title : "", cu);
		const json_t *who = json_object_get(event, "participants");
		size_t i, used = 0;
		json_t *p;
		char list[sizeof out->description] = "";
		json_array_foreach(who, i, p)
		{
			const char *ini = json_string_value(p);
			if (!ini || used + strlen(ini) + 3 >= sizeof list)
				continue;
			used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
			                         used ? ", " : "", ini);
		}
		if (used)
			put(out->description, sizeof out->description, "Participants: %s", list);
	} else {
		return WM_ERR;
	}
	return WM_OK;
}

wm_status gc_calendar_render(void *state, const json_t *event, struct wm_calendar_text *out)
{
	(void)state;
	return gc_render_text(event, out);
}
