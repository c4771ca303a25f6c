/*
 * gc_rules.c — the attendance_rules and completion_evaluate hooks: pure
 * functions over the facts the core gathers (include/waymark/hooks.md).
 *
 * Completion (rule version = settings.rule_version, default
 * "group_course-1"). Over the enrolment's sessions:
 *   - A *regular* session is one with catch_up false. Only expected regular
 *     sessions count towards the share; sessions not expected (before a late
 *     join, inside a hold, after leaving, cancelled) never count at all.
 *   - Each expected regular session is attended, excused (not attended with
 *     reason_class service_cancelled or logistics: the service or the prison
 *     regime stopped it — dropped from the share, though its module is
 *     still not done), absent (any other absence, acceptable or not), or
 *     pending (no attendance yet: future, or a register not taken).
 *   - share = (attended + credited) / (attended + absent + pending), where
 *     "pending" includes every future expected session: the share is judged
 *     over the whole programme, not the sessions held so far. An attended
 *     catch-up of module M credits one absent session of M.
 *   - A required module (settings.modules[].required, default true) is done
 *     when an expected regular session of it, or any catch-up session of it,
 *     was attended. A required module whose scheduled regular sessions are
 *     all not expected of this person (before their join date or inside a
 *     hold) is not asked of them: late joining and holds are never
 *     penalised. One the cohort has no scheduled session of at all (never
 *     laid out, or cancelled) is still asked: it needs a catch-up.
 * Result:
 *   withdrawn       the person left (left_reason other than "completed");
 *   in_progress     on hold (decided once resumed); nothing expected yet
 *                   while the cohort runs (once it is over with nothing ever
 *                   counted: not_completed);
 *                   sessions still to come or to record; a required module
 *                   missing while it can still be done (a pending session
 *                   of it, a catch-up scheduled, or the cohort not over);
 *   not_completed   decided early as soon as the share can no longer be
 *                   reached even if every pending session and every
 *                   scheduled catch-up is attended (catch-ups not yet
 *                   scheduled are not assumed); or a required module is
 *                   missing with no session of it to come and the cohort
 *                   over (it had scheduled sessions, none is still to start
 *                   and, when the cohort has ends_on, that date is past — or
 *                   the person left with reason "completed");
 *   completed       nothing pending, every required module done and the
 *                   share at least min_share.
 * A later change of the facts (a catch-up scheduled, a correction) is a new
 * evaluation: not_completed can become in_progress again.
 *
 * Early warning (settings.absence_alert_after, N, default 2): walking the
 * expected regular sessions with attendance recorded, in start order, an
 * unacceptable absence (reason_class "unacceptable") extends the run, an
 * attended session ends it, and anything else (acceptable, service
 * cancelled, logistics absences) neither counts nor breaks it: only
 * attending shows the person is back. Sessions not expected and catch-ups
 * are not looked at. When the run that ends at the latest recorded session
 * is N or longer, one alert "group_course.absences" is returned (severity
 * "urgent" from 2N); the core stores it once per enrolment and triggering
 * register, so each further unacceptable absence while the run lasts
 * raises one more. Nothing while on hold or after leaving.
 */
#include <stdio.h>
#include <string.h>

#include "gc.h"
#include "gc_rules.h"

#define MAX_MODULES 40

struct module {
	const char *key, *title;
	int required;
	int scheduled;   /* regular sessions of it scheduled (expected or not) */
	int expected;    /* some regular session of it is expected */
	int done;        /* attended, directly or by catch-up */
	int direct;      /* an expected regular session of it attended */
	int opportunity; /* a pending regular session or a scheduled catch-up */
	int absent;      /* expected regular sessions of it missed (not excused) */
	int caught_up;   /* catch-ups of it attended */
	int catch_ups;   /* catch-ups of it still to come */
};

struct tally {
	struct module m[MAX_MODULES];
	size_t n;
	int attended, absent, excused, pending, not_expected, by_catch_up;
	int credit, potential;
	int over;
};

static struct module *find(struct tally *t, const char *key)
{
	for (size_t i = 0; key && i < t->n; i++)
		if (!strcmp(t->m[i].key, key))
			return &t->m[i];
	return NULL;
}

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void tally(const json_t *facts, const json_t *settings, struct tally *t)
{
	size_t i;
	json_t *x;
	memset(t, 0, sizeof *t);
	json_array_foreach(json_object_get(settings, "modules"), i, x)
	{
		if (t->n == MAX_MODULES || !str(x, "key"))
			break;
		json_t *req = json_object_get(x, "required");
		t->m[t->n++] =
		    (struct module){.key = str(x, "key"),
		                    .title = str(x, "title") ? str(x, "title") : str(x, "key"),
		                    .required = !json_is_false(req)};
	}
	const char *now = str(facts, "now");
	int later_sessions = 0, any_scheduled = 0;
	json_array_foreach(json_object_get(facts, "sessions"), i, x)
	{
		const json_t *att = json_object_get(x, "attendance");
		const char *start = str(x, "starts_at");
		int scheduled = !strcmp(str(x, "status") ? str(x, "status") : "", "scheduled");
		int future = start && now && strcmp(start, now) > 0;
		int expected = json_is_true(json_object_get(x, "expected"));
		struct module *m = find(t, str(x, "module"));
		int attended =
		    json_is_object(att) && json_is_true(json_object_get(att, "attended"));
		const char *rc = json_is_object(att) ? str(att, "reason_class") : NULL;
		if (scheduled && future)
			later_sessions = 1;
		if (scheduled)
			any_scheduled = 1;
		if (json_is_true(json_object_get(x, "catch_up"))) {
			/* Attendance in the facts is this person's own, so an
			 * attended catch-up is theirs whoever else it was for. */
			if (m && attended)
				m->caught_up++, m->done = 1;
			else if (m && expected && scheduled && future && !json_is_object(att))
				m->catch_ups++, m->opportunity = 1;
			continue;
		}
		if (m && scheduled)
			m->scheduled++;
		if (!expected) {
			if (scheduled)
				t->not_expected++;
			continue;
		}
		if (m)
			m->expected = 1;
		if (!json_is_object(att)) {
			t->pending++;
			if (m)
				m->opportunity = 1;
		} else if (attended) {
			t->attended++;
			if (m)
				m->done = m->direct = 1;
		} else if (rc && (!strcmp(rc, "service_cancelled") || !strcmp(rc, "logistics"))) {
			t->excused++;
		} else {
			t->absent++;
			if (m)
				m->absent++;
		}
	}
	for (i = 0; i < t->n; i++) {
		struct module *m = &t->m[i];
		int c = m->caught_up < m->absent ? m->caught_up : m->absent;
		int left = m->absent - c;
		t->credit += c;
		t->potential += m->catch_ups < left ? m->catch_ups : left;
	}
	const char *ends = str(json_object_get(facts, "cohort"), "ends_on");
	/* ends_on is a local date; the UTC date of `now` is near enough. */
	/* Over: something was scheduled, nothing scheduled is still to start,
	 * and the cohort's end date (if any) has passed. */
	t->over = any_scheduled && !later_sessions && (!ends || !now || strncmp(now, ends, 10) > 0);
}

static json_t *decision(const char *result, const char *version, const char *reason)
{
	return json_pack("{s:s, s:s, s:s}", "result", result, "rule_version", version, "reason",
	                 reason);
}

static double pct(int a, int b)
{
	return b > 0 ? 100.0 * a / b : 0;
}

/* Appends "'a', 'b'" (titles of the required modules missing, with no
 * opportunity when `hopeless`) to buf; returns how many. */
static int missing(const struct tally *t, int hopeless, char *buf, size_t len)
{
	int n = 0;
	buf[0] = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct module *m = &t->m[i];
		/* Asked of this person unless every session of it was before
		 * they joined or inside a hold; a module the cohort never had
		 * (not laid out, or cancelled) is still asked: a catch-up. */
		int asked = m->required && (m->expected || m->scheduled == 0);
		if (!asked || m->done || (hopeless && m->opportunity))
			continue;
		size_t used = strlen(buf);
		if (used + 8 < len)
			snprintf(buf + used, len - used, "%s\"%.60s\"", n ? ", " : "", m->title);
		n++;
	}
	return n;
}

json_t *gc_completion_decide(const json_t *facts)
{
	const json_t *settings = json_object_get(json_object_get(facts, "programme"), "settings");
	const json_t *e = json_object_get(facts, "enrolment");
	const char *version = str(settings, "rule_version");
	const json_t *ms = json_object_get(settings, "min_share");
	double min_share = json_is_number(ms) ? json_number_value(ms) : GC_DEFAULT_MIN_SHARE;
	const char *status = str(e, "status") ? str(e, "status") : "enrolled";
	const char *left = str(e, "left_reason");
	char reason[480], names[300], tail[120] = "";
	struct tally t;
	if (!version || !*version)
		version = GC_DEFAULT_RULE_VERSION;

	if (!strcmp(status, "left") && !(left && !strcmp(left, "completed"))) {
		snprintf(reason, sizeof reason, "Left the course (%s).", left ? left : "other");
		return decision("withdrawn", version, reason);
	}
	tally(facts, settings, &t);
	if (!strcmp(status, "left"))
		t.over = 1; /* left having finished: nothing more will come */
	int den = t.attended + t.absent + t.pending;
	int got = t.attended + t.credit;
	int best = got + t.pending + t.potential;
	double need = min_share * den - 1e-9;
	if (t.not_expected > 0)
		snprintf(tail, sizeof tail,
		         " %d session(s) not expected (before joining, on hold or after leaving) "
		         "are not counted.",
		         t.not_expected);

	if (!strcmp(status, "on_hold")) {
		snprintf(reason, sizeof reason,
		         "On hold: decided once resumed (%d of %d expected sessions attended so "
		         "far).",
		         got, den);
		return decision("in_progress", version, reason);
	}
	if (den == 0 && !t.over) {
		snprintf(reason, sizeof reason, "No sessions expected of this person yet.%s", tail);
		return decision("in_progress", version, reason);
	}
	if (den == 0) {
		/* Nothing ever counted (joined after the last session, or every
		 * session cancelled): a course not taken is not completed. */
		snprintf(reason, sizeof reason,
		         "No session of the course counted for this person, and the cohort is "
		         "over.%s",
		         tail);
		return decision("not_completed", version, reason);
	}
	if (best < need) {
		snprintf(
		    reason, sizeof reason,
		    "The course needs %.0f%% of expected sessions; at most %d of %d (%.0f%%) can "
		    "now be attended.%s",
		    100 * min_share, best, den, pct(best, den), tail);
		return decision("not_completed", version, reason);
	}
	if (t.over && missing(&t, 1, names, sizeof names) > 0) {
		snprintf(reason, sizeof reason,
		         "Required module(s) %s missed, with no catch-up scheduled and the cohort "
		         "over.",
		         names);
		return decision("not_completed", version, reason);
	}
	int todo = missing(&t, 0, names, sizeof names);
	if (t.pending > 0 || todo > 0 || got < need) {
		int n = snprintf(reason, sizeof reason,
		                 "%d of %d expected sessions attended (%.0f%%; %.0f%% needed), %d "
		                 "still to come or record.",
		                 got, den, pct(got, den), 100 * min_share, t.pending);
		if (todo > 0 && n > 0 && (size_t)n < sizeof reason)
			n += snprintf(reason + n, sizeof reason - (size_t)n,
			              " Required module(s) still to do%s: %s.",
			              t.over ? "" : " (a catch-up can be scheduled)", names);
		if (n > 0 && (size_t)n < sizeof reason)
			snprintf(reason + n, sizeof reason - (size_t)n, "%s", tail);
		return decision("in_progress", version, reason);
	}
	int by_catch_up = 0;
	for (size_t i = 0; i < t.n; i++)
		by_catch_up += t.m[i].required && t.m[i].caught_up > 0 && !t.m[i].direct;
	snprintf(reason, sizeof reason,
	         "Every required module attended (%d by catch-up) and %d of %d expected sessions "
	         "(%.0f%%; %.0f%% needed).%s",
	         by_catch_up, got, den, pct(got, den), 100 * min_share, tail);
	return decision("completed", version, reason);
}

json_t *gc_absence_alerts(const json_t *facts)
{
	const json_t *settings = json_object_get(json_object_get(facts, "programme"), "settings");
	const char *status = str(json_object_get(facts, "enrolment"), "status");
	const json_t *after = json_object_get(settings, "absence_alert_after");
	json_int_t n = json_is_integer(after) ? json_integer_value(after) : GC_DEFAULT_ALERT_AFTER;
	json_t *out = json_array();
	int run = 0;
	size_t i;
	json_t *x;
	if (!status || strcmp(status, "enrolled") || n < 1)
		return out;
	json_array_foreach(json_object_get(facts, "sessions"), i, x)
	{
		const json_t *att = json_object_get(x, "attendance");
		if (json_is_true(json_object_get(x, "catch_up")) ||
		    !json_is_true(json_object_get(x, "expected")) || !json_is_object(att))
			continue;
		const char *rc = str(att, "reason_class");
		if (json_is_true(json_object_get(att, "attended")))
			run = 0;
		else if (rc && !strcmp(rc, "unacceptable"))
			run++;
	}
	if (run >= n) {
		char msg[200];
		snprintf(msg, sizeof msg,
		         "%d unacceptable absences in a row from the course (no attendance in "
		         "between).",
		         run);
		json_array_append_new(
		    out, json_pack("{s:s, s:s, s:s}", "kind", "group_course.absences", "message",
		                   msg, "severity", run >= 2 * n ? "urgent" : "warning"));
	}
	return out;
}

json_t *gc_attendance_rules(void *state, const json_t *facts)
{
	(void)state;
	json_t *a = gc_absence_alerts(facts);
	if (a && json_array_size(a) == 0) {
		json_decref(a);
		return NULL;
	}
	return a;
}

json_t *gc_completion_evaluate(void *state, const json_t *facts)
{
	(void)state;
	return gc_completion_decide(facts);
}
