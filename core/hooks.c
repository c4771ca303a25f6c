/*
 * hooks — calling programme plugins' hooks and checking their answers.
 * Everything here runs on the loop thread; hooks are synchronous and get no
 * database, so a call is a plain function call.
 */
#include <stdio.h>
#include <string.h>

#include "hooks.h"
#include "jsonv.h"
#include "log.h"
#include "plugin_loader.h"
#include "req.h"
#include "server.h"

struct wm_host *hooks_plugin(struct server *srv, const char *type)
{
	for (size_t i = 0; type && i < srv->n_plugins; i++)
		if (!strcmp(srv->plugins[i]->name, type))
			return srv->plugins[i];
	return NULL;
}

/* "<plugin>.<word>" with word [a-z][a-z0-9_]*: the shape the alert table
 * and error codes require, so a plugin cannot break what stores them. */
static int own_code(const struct wm_host *h, const char *code)
{
	size_t n = strlen(h->name);
	if (strncmp(code, h->name, n) != 0 || code[n] != '.' ||
	    !(code[n + 1] >= 'a' && code[n + 1] <= 'z'))
		return 0;
	return strspn(code + n + 1, "abcdefghijklmnopqrstuvwxyz0123456789_") ==
	       strlen(code + n + 1);
}

/* Printable UTF-8 without control characters, or emptied. */
static void printable(char *s)
{
	size_t n = strlen(s);
	int ok = utf8_valid((const unsigned char *)s, n) &&
	         !utf8_has_bidi_controls((const unsigned char *)s, n);
	for (size_t i = 0; ok && i < n; i++)
		ok = (unsigned char)s[i] >= 0x20 && s[i] != 0x7f;
	if (!ok)
		s[0] = '\0';
}

/* A refusal must be the plugin's own: "<name>." prefix, printable, sized. */
static void tidy_error(const struct wm_host *h, struct wm_hook_error *err)
{
	err->code[sizeof err->code - 1] = '\0';
	err->field[sizeof err->field - 1] = '\0';
	err->message[sizeof err->message - 1] = '\0';
	printable(err->field);
	printable(err->message);
	if (!own_code(h, err->code))
		snprintf(err->code, sizeof err->code, "%s.refused", h->name);
	if (!err->message[0])
		snprintf(err->message, sizeof err->message, "The %s programme refused this.",
		         h->name);
	if (err->status != 400 && err->status != 422)
		err->status = 422;
}

static wm_status check_hook(struct wm_host *h,
                            wm_status (*fn)(void *, const json_t *, struct wm_hook_error *),
                            const json_t *in, struct wm_hook_error *err)
{
	memset(err, 0, sizeof *err);
	if (!h || !fn || fn(h->state, in, err) == WM_OK)
		return WM_OK;
	tidy_error(h, err);
	return WM_ERR;
}

wm_status hooks_programme_validate(struct server *srv, const char *type, const json_t *settings,
                                   struct wm_hook_error *err)
{
	struct wm_host *h = hooks_plugin(srv, type);
	return check_hook(h, h ? h->desc->programme_validate : NULL, settings, err);
}

wm_status hooks_booking_check(struct server *srv, const char *type, const json_t *request,
                              struct wm_hook_error *err)
{
	struct wm_host *h = hooks_plugin(srv, type);
	return check_hook(h, h ? h->desc->booking_check : NULL, request, err);
}

static int text_ok(const json_t *v, size_t max)
{
	const char *s = json_string_value(v);
	size_t n = s ? strlen(s) : 0;
	if (!s || n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return utf8_valid((const unsigned char *)s, n);
}

json_t *hooks_attendance_rules(struct server *srv, const char *type, const json_t *facts)
{
	struct wm_host *h = hooks_plugin(srv, type);
	if (!h || !h->desc->attendance_rules)
		return NULL;
	json_t *got = h->desc->attendance_rules(h->state, facts);
	json_t *out = json_array();
	size_t i;
	json_t *a;
	if (got && !json_is_array(got))
		log_msg(WM_LOG_WARN, h->name, "attendance_rules returned a non-array; ignored");
	json_array_foreach(json_is_array(got) ? got : NULL, i, a)
	{
		const char *kind = json_string_value(json_object_get(a, "kind"));
		const char *sev = json_string_value(json_object_get(a, "severity"));
		if (i >= 20 || !text_ok(json_object_get(a, "kind"), 60) || !own_code(h, kind) ||
		    !text_ok(json_object_get(a, "message"), 500) ||
		    (sev && strcmp(sev, "warning") && strcmp(sev, "urgent"))) {
			log_msg(WM_LOG_WARN, h->name,
			        "attendance_rules: alert %zu malformed; ignored", i);
			continue;
		}
		json_array_append_new(out, json_pack("{s:s, s:O, s:s}", "kind", kind, "message",
		                                     json_object_get(a, "message"), "severity",
		                                     sev ? sev : "warning"));
	}
	json_decref(got);
	if (json_array_size(out) == 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

json_t *hooks_completion(struct server *srv, const char *type, const json_t *facts)
{
	static const char *const results[] = {"in_progress", "completed", "not_completed",
	                                      "withdrawn", NULL};
	struct wm_host *h = hooks_plugin(srv, type);
	if (!h || !h->desc->completion_evaluate)
		return NULL;
	json_t *got = h->desc->completion_evaluate(h->state, facts);
	if (!got)
		return NULL;
	const char *r = json_string_value(json_object_get(got, "result"));
	int known = 0;
	for (size_t i = 0; r && results[i]; i++)
		known |= !strcmp(r, results[i]);
	json_t *reason = json_object_get(got, "reason");
	if (!known || !text_ok(json_object_get(got, "rule_version"), 100) ||
	    (reason && !json_is_null(reason) && !text_ok(reason, 500))) {
		log_msg(WM_LOG_WARN, h->name, "completion_evaluate answer malformed; ignored");
		json_decref(got);
		return NULL;
	}
	json_t *out = json_pack("{s:s, s:O, s:O}", "result", r, "rule_version",
	                        json_object_get(got, "rule_version"), "reason",
	                        reason ? reason : json_null());
	json_decref(got);
	return out;
}

int hooks_calendar_render(struct server *srv, const char *type, const json_t *event,
                          struct wm_calendar_text *out)
{
	struct wm_host *h = hooks_plugin(srv, type);
	memset(out, 0, sizeof *out);
	if (!h || !h->desc->calendar_render ||
	    h->desc->calendar_render(h->state, event, out) != WM_OK)
		return 0;
	out->summary[sizeof out->summary - 1] = '\0';
	out->description[sizeof out->description - 1] = '\0';
	printable(out->summary);
	/* A description may hold line breaks; the feed writer escapes them. */
	for (char *p = out->description; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	printable(out->description);
	return out->summary[0] != '\0';
}

void hooks_reply_error(struct wm_req *req, const struct wm_hook_error *err)
{
	req_reply_error(req, err->status, err->code, err->field[0] ? err->field : NULL, "%s",
	                err->message);
}
