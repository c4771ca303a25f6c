/*
 * hooks — the core's side of the plugin hooks of ABI 1.2 (plugin.h,
 * hooks.md): find the plugin that runs a programme type, call its hook if
 * it has one, and check what comes back before anything is stored. A
 * plugin's answer is data from another module: a malformed one is logged
 * and ignored (the core's default applies), never trusted.
 */
#ifndef WM_HOOKS_H
#define WM_HOOKS_H

#include <jansson.h>
#include <waymark/plugin.h>

struct server;
struct wm_req;

/* The loaded plugin named `type`, or NULL: a programme's type must be one. */
struct wm_host *hooks_plugin(struct server *srv, const char *type);

/* WM_OK when the plugin accepts (or has no such hook); WM_ERR with `err`
 * filled (status 400 or 422, code namespaced) when it refuses. A refusal
 * whose code is not namespaced by the plugin is sent as
 * "<plugin>.refused". */
wm_status hooks_programme_validate(struct server *srv, const char *type, const json_t *settings,
                                   struct wm_hook_error *err) WM_MUST_CHECK;
wm_status hooks_booking_check(struct server *srv, const char *type, const json_t *request,
                              struct wm_hook_error *err) WM_MUST_CHECK;

/* A new array of checked alerts ({kind, message, severity}, kind under the
 * plugin's namespace), or NULL when there are none or no hook. */
json_t *hooks_attendance_rules(struct server *srv, const char *type, const json_t *facts);

/* A new, checked {result, rule_version, reason} object, or NULL (keep the
 * core's default) when there is no hook or its answer is malformed. */
json_t *hooks_completion(struct server *srv, const char *type, const json_t *facts);

/* Asks the plugin running `type` to title one calendar event. `event` is
 * already redacted for the feed's audience. Returns 1 with `out` filled
 * (summary non-empty, both printable UTF-8 — anything else is emptied) or
 * 0 when there is no plugin, no hook, or the hook declined; the caller then
 * uses its default text. */
int hooks_calendar_render(struct server *srv, const char *type, const json_t *event,
                          struct wm_calendar_text *out);

/* Sends a hook's refusal in the one error shape. */
void hooks_reply_error(struct wm_req *req, const struct wm_hook_error *err);

#endif
