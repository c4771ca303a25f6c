/*
 * waymark/types.h — the small vocabulary shared by the core and every plugin:
 * the status type, the compiler annotations, and the opaque handles a plugin
 * is given but never looks inside.
 *
 * A plugin includes <waymark/plugin.h>, which includes this file and
 * <waymark/core.h>; it never needs anything from core/.
 */
#ifndef WAYMARK_TYPES_H
#define WAYMARK_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* Every function that can fail returns a wm_status and is marked so the
 * compiler refuses to let a caller ignore it. */
typedef enum wm_status { WM_OK = 0, WM_ERR = -1 } wm_status;

#define WM_MUST_CHECK        __attribute__((warn_unused_result))
#define WM_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/* HTTP methods a route can answer. A route may register several (bit OR). */
enum wm_method {
	WM_GET = 1 << 0,
	WM_POST = 1 << 1,
	WM_PUT = 1 << 2,
	WM_PATCH = 1 << 3,
	WM_DELETE = 1 << 4,
	WM_HEAD = 1 << 5,
	WM_OPTIONS = 1 << 6,
};

enum wm_log_level { WM_LOG_DEBUG, WM_LOG_INFO, WM_LOG_WARN, WM_LOG_ERROR };

/* Opaque handles. The core owns all of them.
 *   wm_host      — one per loaded plugin; identifies the plugin to the core
 *                  (log prefix, route namespace, statement names).
 *   wm_req       — one HTTP request, alive from the handler call until the
 *                  handler (or one of its callbacks) sends a reply.
 *   wm_db_result — one query result, valid only during the callback that
 *                  receives it.
 *   wm_db_tx     — a pooled connection pinned for a transaction, alive from
 *                  the begin callback until the end callback. */
struct wm_host;
struct wm_req;
struct wm_db_result;
struct wm_db_tx;

#endif
