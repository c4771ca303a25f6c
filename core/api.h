/*
 * api — what every core resource handler (api_<resource>.c) shares.
 *
 * The pattern, one round trip per request: the handler checks the shape of
 * the input in C (naming the field on error), then calls one SQL statement
 * that checks scope, makes the change, writes the audit row and builds the
 * JSON reply with json_build_object, all in one transaction. Rules that need
 * the database refuse with RAISE ... USING ERRCODE = 'WM4xx' and a message
 * "<code>|<field>|<text>" (field may be empty); api_reply_result turns that
 * into the one error shape. An object the caller may not see is simply not
 * found: the statement returns no row and the handler answers 404.
 *
 * Statements take the request context as their first three parameters:
 * $1 the caller's staff id, $2 the peer address, $3 the request id
 * (struct api_ctx), so the audit log says who, from where, in which request.
 */
#ifndef WM_API_H
#define WM_API_H

#include <jansson.h>
#include <waymark/core.h>

struct wm_req;
struct wm_db_result;
struct server;

#define API_PAGE_DEFAULT 50
#define API_PAGE_MAX     200

struct api_ctx {
	char staff[24];
	const char *addr; /* NULL when unknown: SQL NULL */
	const char *rid;
};

/* Fills ctx from the request (caller, peer address, request id). */
void api_ctx(struct wm_req *req, struct api_ctx *ctx);

/* A positive integer path parameter. A malformed id is 404 like any other
 * id the caller cannot see (replied here). */
wm_status api_id(struct wm_req *req, const char *param, long long *out) WM_MUST_CHECK;

/* Refuses (400 core.bad_query naming it) any query parameter not in the
 * NULL-terminated `allowed`, a parameter given twice, and a query string
 * that does not parse. Every route that reads the query string calls this
 * first, so a typo or a stray parameter never silently drops a filter. */
wm_status api_query_only(struct wm_req *req, const char *const *allowed) WM_MUST_CHECK;

/* An optional positive id in the query string: *out = NULL when absent,
 * else the text (borrowed). 400 core.bad_query naming it when malformed. */
wm_status api_query_id(struct wm_req *req, const char *name, const char **out) WM_MUST_CHECK;

/* ?limit= (1..API_PAGE_MAX, default API_PAGE_DEFAULT) and ?cursor= (an
 * opaque token a previous page returned as next_cursor; "" when absent).
 * Replies 400 naming the parameter on a bad value. */
wm_status api_page(struct wm_req *req, char limit[8], char cursor[24]) WM_MUST_CHECK;

/* A string member that must be one of `allowed` (NULL-terminated); 400
 * core.bad_enum listing them. *out untouched when absent and not required. */
wm_status api_enum(struct wm_req *req, const json_t *obj, const char *field,
                   const char *const *allowed, int required, const char **out) WM_MUST_CHECK;
/* The same for a query parameter (NULL when absent). */
wm_status api_query_enum(struct wm_req *req, const char *name, const char *const *allowed,
                         const char **out) WM_MUST_CHECK;

/* A calendar date "YYYY-MM-DD" that exists. With not_future, a date after
 * today (UTC) is refused: 422 core.date_in_future. */
wm_status api_date(struct wm_req *req, const json_t *obj, const char *field, int required,
                   int not_future, const char **out) WM_MUST_CHECK;

/* A date-time member: RFC 3339 with Z or an offset ("2027-03-28T09:00:00Z",
 * "...+01:00"), or a local date-time without one ("2027-03-28T09:00", read
 * later in the programme's zone by SQL core.instant_in, which refuses local
 * times that do not exist or happen twice). Checks the shape and that the
 * date and time exist; 400 core.bad_time naming the field otherwise. */
wm_status api_instant(struct wm_req *req, const json_t *obj, const char *field, int required,
                      const char **out) WM_MUST_CHECK;

/* Prose: 1..max_len characters; tab and newlines allowed, other control
 * characters refused (core.bad_text). */
wm_status api_text(struct wm_req *req, const json_t *obj, const char *field, size_t max_len,
                   int required, const char **out) WM_MUST_CHECK;

/* An id member (positive integer) as decimal text in buf[24]; *out = buf,
 * or NULL when absent and not required. */
wm_status api_id_field(struct wm_req *req, const json_t *obj, const char *field, int required,
                       char buf[24], const char **out) WM_MUST_CHECK;

/* For statements that return one row with one JSON column:
 *   error        -> api_reply_db_error
 *   no row, or a NULL value -> 404 `not_found_code`
 *   else         -> `status` with the JSON. */
void api_reply_result(struct wm_req *req, const struct wm_db_result *res, int status,
                      const char *not_found_code);

/* A failed result: WM4xx raised by our SQL ("code|field|message") becomes
 * that status; unique and exclusion violations 409 core.conflict; check
 * and foreign-key violations 422 core.invalid; anything else as
 * req_reply_db_error. */
void api_reply_db_error(struct wm_req *req, const struct wm_db_result *res);

/* Runs a prepared core statement with `params`, replying through
 * api_reply_result(status, not_found_code) when it completes. */
wm_status api_exec(struct wm_req *req, const char *stmt, int nparams, const char *const *params,
                   int status, const char *not_found_code) WM_MUST_CHECK;

/* The whole of a route that names one object by {id} and reads no query
 * parameter beyond `allowed`: checks both, then runs `stmt` with the
 * request context and the id ($1..$4), replying as api_exec does. */
void api_exec_by_id(struct wm_req *req, const char *const *allowed, const char *stmt, int status);

/* Registers each core resource's routes and statements (api_register.c). */
wm_status api_register_all(struct server *srv) WM_MUST_CHECK;

/* One per resource file; each adds its routes and prepares its statements. */
wm_status api_orgs_register(struct server *srv) WM_MUST_CHECK;         /* api_orgs.c */
wm_status api_staff_register(struct server *srv) WM_MUST_CHECK;        /* api_staff.c */
wm_status api_tokens_register(struct server *srv) WM_MUST_CHECK;       /* api_tokens.c */
wm_status api_login_register(struct server *srv) WM_MUST_CHECK;        /* api_login.c */
wm_status api_people_register(struct server *srv) WM_MUST_CHECK;       /* api_people.c */
wm_status api_assignments_register(struct server *srv) WM_MUST_CHECK;  /* api_assignments.c */
wm_status api_flags_register(struct server *srv) WM_MUST_CHECK;        /* api_flags.c */
wm_status api_households_register(struct server *srv) WM_MUST_CHECK;   /* api_households.c */
wm_status api_nonassoc_register(struct server *srv) WM_MUST_CHECK;     /* api_nonassoc.c */
wm_status api_consents_register(struct server *srv) WM_MUST_CHECK;     /* api_consents.c */
wm_status api_referrals_register(struct server *srv) WM_MUST_CHECK;    /* api_referrals.c */
wm_status api_audit_register(struct server *srv) WM_MUST_CHECK;        /* api_audit.c */
wm_status api_subject_register(struct server *srv) WM_MUST_CHECK;      /* api_subject.c */
wm_status api_reports_register(struct server *srv) WM_MUST_CHECK;      /* api_reports.c */
wm_status api_programmes_register(struct server *srv) WM_MUST_CHECK;   /* api_programmes.c */
wm_status api_venues_register(struct server *srv) WM_MUST_CHECK;       /* api_venues.c */
wm_status api_closures_register(struct server *srv) WM_MUST_CHECK;     /* api_closures.c */
wm_status api_bookings_register(struct server *srv) WM_MUST_CHECK;     /* api_bookings.c */
wm_status api_outcomes_register(struct server *srv) WM_MUST_CHECK;     /* api_outcomes.c */
wm_status api_register_att_register(struct server *srv) WM_MUST_CHECK; /* api_register_att.c */
wm_status api_cohorts_register(struct server *srv) WM_MUST_CHECK;      /* api_cohorts.c */
wm_status api_enrolments_register(struct server *srv) WM_MUST_CHECK;   /* api_enrolments.c */
wm_status api_alerts_register(struct server *srv) WM_MUST_CHECK;       /* api_alerts.c */
wm_status api_milestones_register(struct server *srv) WM_MUST_CHECK;   /* api_milestones.c */
wm_status api_sessions_register(struct server *srv) WM_MUST_CHECK;     /* api_sessions.c */
wm_status api_series_register(struct server *srv) WM_MUST_CHECK;       /* api_series.c */
wm_status api_feeds_register(struct server *srv) WM_MUST_CHECK;        /* api_feeds.c */

/* A session's staff list [{staff_id, role?}] (role one of the programme
 * roles, default facilitator; each staff member once; at most 20) as a new
 * array in *out. On WM_ERR the 400 naming "staff" has been sent. Shared by
 * series and one-off sessions (api_series.c). */
wm_status api_staff_list(struct wm_req *req, const json_t *list, json_t **out) WM_MUST_CHECK;

/* Adds a core route with its access mask and declares nothing else; logs
 * and fails on a clash or bad pattern. */
wm_status api_route(struct server *srv, unsigned methods, const char *pattern,
                    wm_handler_fn handler, const struct wm_route_doc *doc,
                    unsigned access) WM_MUST_CHECK;
/* Declares a prepared statement "core.<name>" on the pool. */
wm_status api_prepare(struct server *srv, const char *name, const char *sql,
                      int nparams) WM_MUST_CHECK;

#endif
