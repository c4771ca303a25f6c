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

/* The roles a staff member holds, each within one organisation (a person may
 * be a coordinator in one and a mentor in another). A route names, as a mask,
 * the roles that may call it; the core refuses anyone else before the handler
 * runs. Which objects a role may then see is decided per object, in SQL, by
 * the handler (out of scope is 404, never 403, so ids reveal nothing). */
enum wm_role {
	WM_ROLE_ADMIN = 1 << 0,        /* runs an organisation: staff, audit, erasure */
	WM_ROLE_COORDINATOR = 1 << 1,  /* people, referrals, consent, matching */
	WM_ROLE_FACILITATOR = 1 << 2,  /* their cohorts' participants and registers */
	WM_ROLE_MENTOR = 1 << 3,       /* the people they mentor */
	WM_ROLE_COMMISSIONER = 1 << 4, /* aggregates only, never a person */
};
#define WM_ROLES_ALL 0x1fu /* any staff role */

/* Route access bits beyond the roles. */
#define WM_ACCESS_PUBLIC       (1u << 30) /* no caller needed (health, login, feeds) */
#define WM_ACCESS_SERVER_ADMIN (1u << 29) /* the server's operator (creates organisations) */

/* Who is calling: filled by the core from a bearer token or a login session
 * before a non-public handler runs. Borrowed from the request. */
struct wm_caller {
	int64_t staff_id;
	unsigned roles;   /* union of enum wm_role over all memberships */
	int server_admin; /* may create organisations */
	int via_session;  /* a browser session (1) or a bearer token (0) */
};

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
