/*
 * completion — deciding what an enrolment's attendance means, on the loop
 * thread, between the statement that gathers the facts and the one that
 * stores the answer (include/waymark/hooks.md has the facts' shape). The
 * programme's plugin decides through its hooks; when it has no
 * completion_evaluate hook, or its answer is malformed, the core's own rule
 * applies (rule_version "core-1").
 */
#ifndef WM_COMPLETION_H
#define WM_COMPLETION_H

#include <jansson.h>
#include <waymark/types.h>

struct server;

#define COMPLETION_CORE_RULE "core-1"

/* The core's rule over `facts`: withdrawn once the person has left (unless
 * they left because they completed); in_progress while on hold (a hold
 * freezes the enrolment) or while an expected session
 * has no attendance recorded (or nothing expected has happened yet);
 * completed when every expected session was attended, not_completed
 * otherwise. Sessions not expected (before joining, on hold, after leaving,
 * cancelled) and absences the service caused never count. A new
 * {result, rule_version, reason} object, or NULL when out of memory. */
json_t *completion_default(const json_t *facts);

/* For each {enrolment_id, facts, basis} of `evaluate` (SQL:
 * core.enrolment_facts(id), core.enrolment_facts_basis(id)), calls the
 * programme type's attendance_rules and completion_evaluate hooks (the
 * core's rule when there is none) and returns a new array of {enrolment_id,
 * basis, alerts, completion, detail} — what core.register_outcomes(staff,
 * addr, rid, session or NULL, results) stores — or NULL when out of memory.
 * Any route that changes what the facts say (a hold, a resume, leaving) can
 * run the same three steps. */
json_t *completion_decide(struct server *srv, const char *type, const json_t *evaluate);

struct wm_req;

/* After a route changed what an enrolment's facts say (hold, resume,
 * leave): gathers the facts, decides through the plugin's hooks, stores the
 * alerts and completion, then replies `status` with `reply` (stolen) plus
 * its "completion" (null when the evaluation could not be stored — the
 * route's own change stands either way, and a warning is logged). */
void completion_refresh(struct wm_req *req, long long enrolment, json_t *reply, int status);
/* Declares completion_refresh's statement, and remembers `srv` for the
 * completion-pending job (whose hooks are the loaded plugins'). */
wm_status completion_prepare(struct server *srv) WM_MUST_CHECK;

/* --- The completion-pending job (jobs.c) ---------------------------------
 *
 * One batch: claims up to COMPLETION_JOB_BATCH enrolments whose completion
 * is missing or older than their facts (core.completion_pending: attendance,
 * holds, sessions or settings changed since, whoever wrote them), decides
 * them through the programme type's real hooks (completion_decide) and
 * stores the answers (core.completion_store → core.register_outcomes).
 * `done` is called exactly once, later, with how many were claimed and how
 * many decisions changed, or claimed = -1 when the batch failed (logged).
 * WM_ERR (nothing queued, `done` not called) before completion_prepare ran
 * or when the pool refuses the statement. */
#define COMPLETION_JOB_BATCH 100
struct db_pool;
typedef void (*completion_job_fn)(void *arg, int claimed, int changed);
wm_status completion_job_run(struct db_pool *pool, completion_job_fn done, void *arg) WM_MUST_CHECK;

#endif
