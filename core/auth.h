/*
 * auth — who is calling, and may they call this route at all.
 *
 * Every route has an access mask (router.h, enum wm_role). For a public
 * route the handler runs at once. Otherwise the caller presents either
 *   Authorization: Bearer wm_<selector><verifier>   (scripts, the API), or
 *   Cookie: waymark_session=<selector><verifier>    (the web page),
 * and one prepared query finds the credential by its selector, the staff
 * member and the union of their roles; the verifier's SHA-256 is compared in
 * constant time in C. A missing, unknown, expired or revoked credential is
 * 401 (the same answer for each, so a probe learns nothing). A browser
 * session must also send X-CSRF-Token on anything but GET and HEAD. A caller
 * with none of the route's roles gets 403: the route itself is no secret,
 * whereas objects out of scope are the handler's 404.
 *
 * Credentials are never logged; the access log carries the staff id.
 */
#ifndef WM_AUTH_H
#define WM_AUTH_H

#include <jansson.h>
#include <waymark/types.h>

struct wm_req;
struct db_pool;

#define AUTH_COOKIE_NAME  "waymark_session"
#define AUTH_CSRF_HEADER  "X-CSRF-Token"
#define AUTH_CSRF_PURPOSE "waymark csrf v1"

/* Declares the lookup statements on the pool (before it starts). */
wm_status auth_prepare(struct db_pool *pool) WM_MUST_CHECK;

/* Authenticates and authorises req for req->route, then calls the route's
 * handler, or replies 401/403. Called once the route is matched. */
void auth_dispatch(struct wm_req *req);

/* "admin" for WM_ROLE_ADMIN ...; NULL for anything but one role bit. */
const char *auth_role_name(unsigned role);
/* The role bit for a name, or 0. */
unsigned auth_role_parse(const char *name);
/* ["admin","coordinator"] or ["public"], plus "server_admin": for OpenAPI. */
json_t *auth_access_json(unsigned access);

#endif
