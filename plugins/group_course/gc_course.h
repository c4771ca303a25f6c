/*
 * gc_course.h — what the curriculum and timetable files (gc_course.c,
 * gc_cohorts.c, gc_timetable.c) share: running one statement whose single JSON column is the reply,
 * and reading path ids and request context. Private to those files.
 */
#ifndef GC_COURSE_H
#define GC_COURSE_H

#include "gc.h"

/* Ids are bigint, but no id above 2^53 is ever handed out (JavaScript
 * clients), so none is valid. */
#define GC_MAX_ID (1LL << 53)

/* The context every statement of those files takes first: $1 staff id, $2 peer
 * address (NULL when unknown), $3 request id. */
struct gc_ctx {
	char staff[24];
	const char *addr;
	const char *rid;
};
void gc_ctx_of(struct gc_state *st, struct wm_req *req, struct gc_ctx *ctx);

/* The path parameter "id" as a positive id, or NULL after replying 404
 * `code` (a malformed id is answered as a missing one). */
const char *gc_path_id(struct gc_state *st, struct wm_req *req, const char *code, const char *what);

/* Runs prepared statement `stmt` and replies with its one JSON column as
 * `status`; no row or SQL NULL is 404 `nf_code` ("No such <what>."); a
 * database error or a refusal the SQL raised is core->reply_db_error's. */
void gc_reply_stmt(struct gc_state *st, struct wm_req *req, const char *stmt, int nparams,
                   const char *const *params, int status, const char *nf_code, const char *what);

/* Their route groups. */
wm_status gc_cohort_routes(struct gc_state *st) WM_MUST_CHECK;
wm_status gc_timetable_routes(struct gc_state *st) WM_MUST_CHECK;
wm_status gc_cohort_prepare(struct gc_state *st) WM_MUST_CHECK;
wm_status gc_timetable_prepare(struct gc_state *st) WM_MUST_CHECK;

/* JSON Schema pieces shared by their route documents. */
#define GC_DATE_SCHEMA "{\"type\": \"string\", \"pattern\": \"^[0-9]{4}-[0-9]{2}-[0-9]{2}$\"}"
#define GC_HHMM_SCHEMA "{\"type\": \"string\", \"pattern\": \"^([01][0-9]|2[0-3]):[0-5][0-9]$\"}"
#define GC_ID_SCHEMA   "{\"type\": \"integer\", \"minimum\": 1}"
#define GC_STAFF_SCHEMA                                                                            \
	"{\"type\": \"array\", \"maxItems\": 20, \"items\": {\"type\": \"object\", "               \
	"\"additionalProperties\": false, \"required\": [\"staff_id\"], \"properties\": "          \
	"{\"staff_id\": " GC_ID_SCHEMA ", \"role\": {\"enum\": [\"lead\", \"facilitator\", "       \
	"\"co_facilitator\", \"peer_mentor\", \"guest\", \"escort\", \"coach\", \"mentor\", "      \
	"\"coordinator\"]}}}}"
#define GC_LOCATION_KINDS                                                                          \
	"[\"prison\", \"approved_premises\", \"probation_office\", \"community_venue\", "          \
	"\"home\", \"school\"]"
#define GC_DELIVERY_MODES "[\"face_to_face\", \"online\", \"phone\", \"in_cell_pack\"]"

/* Validators for their request bodies: each replies 400 naming the field on WM_ERR. */
wm_status gc_json_enum(struct gc_state *st, struct wm_req *req, const json_t *obj,
                       const char *field, const char *const *values, int required) WM_MUST_CHECK;
wm_status gc_json_id(struct gc_state *st, struct wm_req *req, const json_t *obj, const char *field,
                     int required) WM_MUST_CHECK;
wm_status gc_json_staff(struct gc_state *st, struct wm_req *req, const json_t *obj) WM_MUST_CHECK;
extern const char *const gc_location_kinds[];
extern const char *const gc_delivery_modes[];

#endif
