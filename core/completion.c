/*
 * completion — the hooks' side of taking a register: the core's default
 * completion rule and the loop that asks the programme's plugin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "completion.h"
#include "db.h"
#include "hooks.h"
#include "log.h"
#include "req.h"
#include "server.h"

struct counts {
	int expected, attended, absent, excused, unrecorded, not_expected;
};

static void count(const json_t *facts, struct counts *c)
{
	size_t i;
	json_t *s;
	memset(c, 0, sizeof *c);
	json_array_foreach(json_object_get(facts, "sessions"), i, s)
	{
		json_t *att = json_object_get(s, "attendance");
		const char *rc = json_string_value(json_object_get(att, "reason_class"));
		if (!json_is_true(json_object_get(s, "expected"))) {
			c->not_expected++;
			continue;
		}
		c->expected++;
		if (!json_is_object(att))
			c->unrecorded++;
		else if (json_is_true(json_object_get(att, "attended")))
			c->attended++;
		else if (rc && !strcmp(rc, "service_cancelled"))
			c->excused++;
		else
			c->absent++;
	}
}

json_t *completion_default(const json_t *facts)
{
	struct counts c;
	const json_t *e = json_object_get(facts, "enrolment");
	const char *status = json_string_value(json_object_get(e, "status"));
	const char *left = json_string_value(json_object_get(e, "left_reason"));
	const char *result;
	char reason[200];
	count(facts, &c);
	if (status && !strcmp(status, "left") && !(left && !strcmp(left, "completed"))) {
		result = "withdrawn";
		snprintf(reason, sizeof reason, "Left the programme (%s).", left ? left : "other");
	} else if (status && !strcmp(status, "on_hold")) {
		/* A hold freezes the enrolment: the sessions it covers are not
		 * expected, so judging now would judge an unfinished programme. */
		result = "in_progress";
		snprintf(reason, sizeof reason,
		         "On hold: decided once resumed (%d of %d attended).", c.attended,
		         c.expected);
	} else if (c.unrecorded > 0 || c.attended + c.absent == 0) {
		result = "in_progress";
		snprintf(reason, sizeof reason,
		         "%d of %d expected sessions still to come or record.", c.unrecorded,
		         c.expected);
	} else if (c.absent == 0) {
		result = "completed";
		snprintf(reason, sizeof reason, "Attended every expected session (%d).",
		         c.attended);
	} else {
		result = "not_completed";
		snprintf(reason, sizeof reason, "Missed %d of %d expected sessions.", c.absent,
		         c.attended + c.absent);
	}
	return json_pack("{s:s, s:s, s:s}", "result", result, "rule_version", COMPLETION_CORE_RULE,
	                 "reason", reason);
}

/* One enrolment's answer: the hooks' alerts and completion, and counts at
 * the time of the decision (kept in completion.detail). */
static json_t *decide_one(struct server *srv, const char *type, const json_t *item)
{
	const json_t *facts = json_object_get(item, "facts");
	struct counts c;
	json_t *alerts = hooks_attendance_rules(srv, type, facts);
	json_t *done = hooks_completion(srv, type, facts);
	int by_plugin = done != NULL;
	if (!done)
		done = completion_default(facts);
	count(facts, &c);
	json_t *out = json_pack(
	    "{s:O, s:O, s:o, s:o, s:{s:s, s:i, s:i, s:i, s:i, s:i, s:i}}", "enrolment_id",
	    json_object_get(item, "enrolment_id"), "basis", json_object_get(item, "basis"),
	    "alerts", alerts ? alerts : json_array(), "completion", done ? done : json_null(),
	    "detail", "decided_by", by_plugin ? type : "core", "expected", c.expected, "attended",
	    c.attended, "absent", c.absent, "service_cancelled", c.excused, "unrecorded",
	    c.unrecorded, "not_expected", c.not_expected);
	return out;
}

json_t *completion_decide(struct server *srv, const char *type, const json_t *evaluate)
{
	json_t *out = json_array(), *item;
	size_t i;
	json_array_foreach(evaluate, i, item)
	{
		json_t *one = out ? decide_one(srv, type, item) : NULL;
		if (!one || json_array_append_new(out, one)) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* --- Re-evaluating one enrolment after a route changed its facts --------- */

struct refresh {
	struct wm_req *req;
	json_t *reply; /* what the route answers, with "completion" added */
	int status;
	char enrolment[24];
};

static void refresh_finish(struct refresh *r, json_t *completion)
{
	json_object_set(r->reply, "completion", completion ? completion : json_null());
	req_reply_json(r->req, r->status, r->reply);
	free(r);
}

static json_t *first_json(const struct wm_db_result *res)
{
	const char *text = db_result_ntuples(res) > 0 && db_result_nfields(res) > 0
	                       ? db_result_value(res, 0, 0)
	                       : NULL;
	return text ? json_loads(text, 0, NULL) : NULL;
}

static void refresh_stored(void *arg, const struct wm_db_result *res)
{
	struct refresh *r = arg;
	json_t *got = db_result_error(res) == WM_DB_OK ? first_json(res) : NULL;
	if (!got)
		log_msg(WM_LOG_WARN, "completion",
		        "rid=%s: enrolment %s changed, its evaluation "
		        "was not stored",
		        r->req->id, r->enrolment);
	json_t *list = json_object_get(got, "completions");
	refresh_finish(r, json_array_get(list, 0));
	json_decref(got);
}

static void refresh_facts(void *arg, const struct wm_db_result *res)
{
	struct refresh *r = arg;
	json_t *got = db_result_error(res) == WM_DB_OK ? first_json(res) : NULL;
	json_t *results = NULL;
	char *text = NULL;
	const char *type = json_string_value(json_object_get(got, "type"));
	if (!got || !type ||
	    !(results = completion_decide(r->req->srv, type, json_object_get(got, "evaluate"))) ||
	    !(text = json_dumps(results, JSON_COMPACT)))
		goto fail;
	struct api_ctx ctx;
	api_ctx(r->req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, NULL, text};
	if (db_exec_prepared(r->req->srv->pool, "core.register_outcomes", 5, p, refresh_stored,
	                     r) != WM_OK)
		goto fail;
	free(text);
	json_decref(results);
	json_decref(got);
	return;
fail:
	log_msg(WM_LOG_WARN, "completion", "rid=%s: enrolment %s changed, its evaluation failed",
	        r->req->id, r->enrolment);
	free(text);
	json_decref(results);
	json_decref(got);
	refresh_finish(r, NULL);
}

void completion_refresh(struct wm_req *req, long long enrolment, json_t *reply, int status)
{
	struct refresh *r = calloc(1, sizeof *r);
	if (!r) {
		json_decref(reply);
		req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
		return;
	}
	r->req = req;
	r->reply = reply;
	r->status = status;
	snprintf(r->enrolment, sizeof r->enrolment, "%lld", enrolment);
	const char *p[] = {r->enrolment};
	if (db_exec_prepared(req->srv->pool, "core.completion_facts_one", 1, p, refresh_facts, r) !=
	    WM_OK)
		refresh_finish(r, NULL);
}

/* --- The completion-pending job --------------------------------------------
 *
 * The job's hooks are the loaded plugins', which live in the server; jobs.c
 * is started with the loop and the pool only, so the server is remembered
 * here when the register routes prepare their statements (before the
 * jobs start, on the loop thread). */
static struct server *job_srv;

struct cjob {
	struct db_pool *pool;
	completion_job_fn done;
	void *arg;
	int claimed;
};

static void cjob_finish(struct cjob *c, int claimed, int changed)
{
	c->done(c->arg, claimed, changed);
	free(c);
}

static void cjob_stored(void *arg, const struct wm_db_result *res)
{
	struct cjob *c = arg;
	if (db_result_error(res) != WM_DB_OK) {
		log_msg(WM_LOG_WARN, "completion",
		        "completion job: storing %d decisions failed (SQLSTATE %s): %s", c->claimed,
		        db_result_sqlstate(res), db_result_message(res));
		cjob_finish(c, -1, 0);
		return;
	}
	const char *n = db_result_ntuples(res) > 0 ? db_result_value(res, 0, 0) : NULL;
	cjob_finish(c, c->claimed, n ? atoi(n) : 0);
}

/* Every group's answers in one array: register_outcomes takes any mix of
 * programme types (it reads only enrolment ids and decisions). */
static json_t *decide_groups(const json_t *groups, int *claimed)
{
	json_t *all = json_array(), *g;
	size_t i;
	*claimed = 0;
	json_array_foreach(groups, i, g)
	{
		const json_t *ev = json_object_get(g, "evaluate");
		json_t *one =
		    completion_decide(job_srv, json_string_value(json_object_get(g, "type")), ev);
		*claimed += (int)json_array_size(ev);
		if (!all || !one || json_array_extend(all, one)) {
			json_decref(one);
			json_decref(all);
			return NULL;
		}
		json_decref(one);
	}
	return all;
}

static void cjob_claimed(void *arg, const struct wm_db_result *res)
{
	struct cjob *c = arg;
	json_t *groups = NULL, *results = NULL;
	char *text = NULL;
	if (db_result_error(res) != WM_DB_OK) {
		log_msg(WM_LOG_WARN, "completion",
		        "completion job: claiming failed (SQLSTATE %s): %s",
		        db_result_sqlstate(res), db_result_message(res));
		goto fail;
	}
	if (!(groups = first_json(res)) || !json_is_array(json_object_get(groups, "groups")) ||
	    !json_is_string(json_object_get(groups, "read_at")))
		goto fail;
	if (json_array_size(json_object_get(groups, "groups")) == 0) {
		json_decref(groups);
		cjob_finish(c, 0, 0);
		return;
	}
	if (!(results = decide_groups(json_object_get(groups, "groups"), &c->claimed)) ||
	    !(text = json_dumps(results, JSON_COMPACT)))
		goto fail;
	const char *p[] = {text, json_string_value(json_object_get(groups, "read_at"))};
	if (db_exec(c->pool, "SELECT core.completion_store($1::jsonb, $2::timestamptz)", 2, p,
	            cjob_stored, c) != WM_OK)
		goto fail;
	free(text);
	json_decref(results);
	json_decref(groups);
	return;
fail:
	/* The claims run out by themselves (five minutes): nothing is lost. */
	log_msg(WM_LOG_WARN, "completion", "completion job: the batch was not decided");
	free(text);
	json_decref(results);
	json_decref(groups);
	cjob_finish(c, -1, 0);
}

wm_status completion_job_run(struct db_pool *pool, completion_job_fn done, void *arg)
{
	if (!job_srv)
		return WM_ERR;
	struct cjob *c = calloc(1, sizeof *c);
	if (!c)
		return WM_ERR;
	c->pool = pool;
	c->done = done;
	c->arg = arg;
	char limit[16];
	snprintf(limit, sizeof limit, "%d", COMPLETION_JOB_BATCH);
	const char *p[] = {limit};
	if (db_exec(pool, "SELECT core.completion_pending($1::integer)", 1, p, cjob_claimed, c) !=
	    WM_OK) {
		free(c);
		return WM_ERR;
	}
	return WM_OK;
}

wm_status completion_prepare(struct server *srv)
{
	job_srv = srv;
	return api_prepare(
	    srv, "completion_facts_one",
	    "SELECT jsonb_build_object('type', pr.type, 'evaluate', jsonb_build_array("
	    "jsonb_build_object('enrolment_id', e.id, 'facts', core.enrolment_facts(e.id),"
	    " 'basis', core.enrolment_facts_basis(e.id))))"
	    " FROM core.enrolment e JOIN core.cohort c ON c.id = e.cohort_id"
	    " JOIN core.programme pr ON pr.id = c.programme_id WHERE e.id = $1::bigint",
	    1);
}
