/*
 * The fixtures of the authorisation matrix (tests/integration/test_authz_matrix.c,
 * its only includer): one server, one database, two organisations with
 * people, households, flags, consents, referrals and a person both hold,
 * written straight in SQL so the matrix depends on no route's body; the
 * objects each rule acts on, fresh ones for calls that destroy them; and
 * who may touch which object.
 */
#ifndef WM_AUTHZ_FIXTURES_H
#define WM_AUTHZ_FIXTURES_H

#include <check.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tables.h"
#include "ts.h"

static struct ts_server srv;
static char *db;
static PGconn *pg;
static int uniq;

/* --- database ------------------------------------------------------------ */

static void pg_open(void)
{
	pg = PQconnectdb(db);
	ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "connect: %s", PQerrorMessage(pg));
}

static void pg_close(void)
{
	PQfinish(pg);
	pg = NULL;
}

/* Runs SQL; returns the first value of the first row (malloc'd) or NULL. */
static char *sql_value(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sql_value(const char *fmt, ...)
{
	char q[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(q, sizeof q, fmt, ap);
	va_end(ap);
	ck_assert_msg(n > 0 && (size_t)n < sizeof q, "SQL too long");
	PGresult *res = PQexec(pg, q);
	ExecStatusType st = PQresultStatus(res);
	ck_assert_msg(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "SQL failed: %s\n%s",
	              PQresultErrorMessage(res), q);
	char *v = NULL;
	if (st == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		v = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static long long sql_id(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long sql_id(const char *fmt, ...)
{
	char q[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q, sizeof q, fmt, ap);
	va_end(ap);
	char *v = sql_value("%s", q);
	ck_assert_msg(v != NULL, "no id from: %s", q);
	long long id = atoll(v);
	free(v);
	return id;
}

/* A person held by organisation `org` (index). */
static long long new_person(int org, const char *given, const char *dob)
{
	char d[32] = "NULL";
	if (dob)
		snprintf(d, sizeof d, "'%s'", dob);
	return sql_id(
	    "WITH p AS (INSERT INTO core.person (given_name, family_name, date_of_birth)"
	    " VALUES ('%s', 'Matrix %d', %s) RETURNING id),"
	    " l AS (INSERT INTO core.person_org (person_id, org_id) SELECT id, %lld FROM p)"
	    " SELECT id FROM p",
	    given, ++uniq, d, fx[org].org);
}

/* A staff member holding `role` in organisation `org`. */
static long long new_staff(int org, const char *role)
{
	int n = ++uniq;
	return sql_id("WITH s AS (INSERT INTO core.staff (email, display_name)"
	              " VALUES ('fresh%d@matrix.test', 'Fresh %d') RETURNING id),"
	              " m AS (INSERT INTO core.membership (staff_id, org_id, role)"
	              " SELECT id, %lld, '%s' FROM s) SELECT id FROM s",
	              n, n, fx[org].org, role);
}

static long long new_referral(int org)
{
	return sql_id(
	    "WITH r AS (INSERT INTO core.referral (org_id, person_id, source, referred_on)"
	    " VALUES (%lld, %lld, 'probation', '2026-01-10') RETURNING id),"
	    " h AS (INSERT INTO core.referral_history (referral_id, to_status)"
	    " SELECT id, 'received' FROM r) SELECT id FROM r",
	    fx[org].org, fx[org].p1);
}

/* A record organisation `o` keeps about `person`, with that organisation's
 * secret marker in its free text ("A-SECRET ..."): no other organisation's
 * caller, and no mentor, facilitator or commissioner, may ever be shown it. */
static long long record(int o, long long person, const char *what)
{
	long long org = fx[o].org;
	char c = (char)('A' + o);
	if (!strcmp(what, "flag"))
		return sql_id(
		    "INSERT INTO core.person_flag (person_id, org_id, kind, severity, note)"
		    " VALUES (%lld, %lld, 'risk_to_others', 'high', '%c-SECRET flag')"
		    " RETURNING id",
		    person, org, c);
	if (!strcmp(what, "na"))
		return sql_id(
		    "INSERT INTO core.non_association (org_id, person_a, person_b, reason)"
		    " VALUES (%lld, %lld, %lld, '%c-SECRET reason') RETURNING id",
		    org, fx[o].p2 < person ? fx[o].p2 : person,
		    fx[o].p2 < person ? person : fx[o].p2, c);
	if (!strcmp(what, "consent"))
		return sql_id(
		    "INSERT INTO core.consent (org_id, person_id, purpose, given_on, scope,"
		    " note) VALUES (%lld, %lld, 'programme_participation', '2026-01-15',"
		    " '%c-SECRET scope', '%c-SECRET consent') RETURNING id",
		    org, person, c, c);
	return sql_id(
	    "WITH r AS (INSERT INTO core.referral (org_id, person_id, source, referred_on,"
	    " referrer_name, risk_summary) VALUES (%lld, %lld, 'probation', '2026-01-10',"
	    " '%c-SECRET referrer', '%c-SECRET risk') RETURNING id),"
	    " h AS (INSERT INTO core.referral_history (referral_id, to_status)"
	    " SELECT id, 'received' FROM r) SELECT id FROM r",
	    org, person, c, c);
}

/* One person held by both organisations; each records its own about them. */
static void make_shared(void)
{
	long long ps = sql_id("WITH p AS (INSERT INTO core.person (given_name, family_name)"
	                      " VALUES ('Shared', 'Person') RETURNING id),"
	                      " l AS (INSERT INTO core.person_org (person_id, org_id)"
	                      " SELECT id, unnest(ARRAY[%lld, %lld]) FROM p) SELECT id FROM p",
	                      fx[0].org, fx[1].org);
	for (int o = 0; o < 2; o++) {
		struct fixture *f = &fx[o];
		f->ps = ps;
		f->ps_flag = record(o, ps, "flag");
		f->ps_na = record(o, ps, "na");
		f->ps_consent = record(o, ps, "consent");
		f->ps_referral = record(o, ps, "referral");
		f->ps_hh =
		    sql_id("WITH h AS (INSERT INTO core.household (org_id, name)"
		           " VALUES (%lld, '%c-SECRET shared house') RETURNING id),"
		           " m AS (INSERT INTO core.household_member (household_id, person_id,"
		           " relationship) SELECT id, %lld, 'participant' FROM h)"
		           " SELECT id FROM h",
		           f->org, 'A' + o, ps);
		f->ps_assign =
		    sql_id("INSERT INTO core.assignment (org_id, staff_id, person_id, kind)"
		           " VALUES (%lld, %lld, %lld, 'facilitator') RETURNING id",
		           f->org, new_staff(o, "facilitator"), ps);
	}
}

/* A programme (no staff), a venue and a closure far in the future. */
static void make_programmes(int o)
{
	struct fixture *f = &fx[o];
	f->programme = sql_id("INSERT INTO core.programme (org_id, type, name)"
	                      " VALUES (%lld, 'example', 'Matrix programme %c') RETURNING id",
	                      f->org, 'A' + o);
	f->venue = sql_id("INSERT INTO core.venue (org_id, name, location_kind)"
	                  " VALUES (%lld, 'Matrix venue %c', 'community_venue') RETURNING id",
	                  f->org, 'A' + o);
	f->closure = sql_id("INSERT INTO core.closure (org_id, starts_on, ends_on, reason, effect)"
	                    " VALUES (%lld, '2041-01-01', '2041-01-01', 'Matrix closure', 'flag')"
	                    " RETURNING id",
	                    f->org);
}

/* A cohort of the programme with P1 enrolled, and an open alert. */
static void make_cohorts(int o)
{
	struct fixture *f = &fx[o];
	f->cohort = sql_id("INSERT INTO core.cohort (programme_id, name, starts_on)"
	                   " VALUES (%lld, 'Matrix cohort %c', '2041-01-07') RETURNING id",
	                   f->programme, 'A' + o);
	f->enrolment = sql_id("INSERT INTO core.enrolment (cohort_id, person_id, joined_on)"
	                      " VALUES (%lld, %lld, '2026-01-01') RETURNING id",
	                      f->cohort, f->p1);
	f->alert = sql_id("INSERT INTO core.alert (org_id, kind, person_id, message)"
	                  " VALUES (%lld, 'core.non_association', %lld, 'Matrix alert')"
	                  " RETURNING id",
	                  f->org, f->p1);
}

/* A session of the programme in 2041 (no staff, a day of its own), and a
 * series with one instance. */
static long long new_session(int o)
{
	int n = ++uniq;
	return sql_id("INSERT INTO core.session (programme_id, org_id, title, starts_at, ends_at,"
	              " location_kind) VALUES (%lld, %lld, 'Matrix session %d',"
	              " '2041-04-01T10:00Z'::timestamptz + %d * interval '1 day',"
	              " '2041-04-01T11:00Z'::timestamptz + %d * interval '1 day', 'home')"
	              " RETURNING id",
	              fx[o].programme, fx[o].org, n, n, n);
}

static long long new_series(int o)
{
	const struct fixture *f = &fx[o];
	long long id = sql_id("INSERT INTO core.series (programme_id, title, rrule, dtstart_local,"
	                      " time_zone, duration, location_kind, expanded_until) VALUES (%lld,"
	                      " 'Matrix series', 'FREQ=DAILY;COUNT=1', '2041-04-01T11:00',"
	                      " 'Europe/London', '1 hour', 'home', '2043-04-01') RETURNING id",
	                      f->programme);
	free(sql_value("INSERT INTO core.session (programme_id, org_id, series_id, recurrence_id,"
	               " title, starts_at, ends_at, location_kind) VALUES (%lld, %lld, %lld,"
	               " '2041-04-01T10:00Z', 'Matrix series', '2041-04-01T10:00Z',"
	               " '2041-04-01T11:00Z', 'home')",
	               f->programme, f->org, id));
	return id;
}

static void make_sessions(int o)
{
	fx[o].session = new_session(o);
	fx[o].series = new_series(o);
}

/* A past session of its own programme (so the facilitator and mentor who
 * staff it run no other fixture's programme) with P1 seated, staffed by
 * the facilitator and mentor P1 is assigned to; an own outcome code. */
static void make_register(int o)
{
	struct fixture *f = &fx[o];
	f->reg_session = sql_id(
	    "WITH pr AS (INSERT INTO core.programme (org_id, type, name) VALUES (%lld, 'example',"
	    " 'Matrix register %c') RETURNING id, org_id)"
	    " INSERT INTO core.session (programme_id, org_id, title, starts_at, ends_at,"
	    " location_kind, booking_mode) SELECT id, org_id, 'Matrix register',"
	    " now() - interval '3 days', now() - interval '3 days' + interval '1 hour',"
	    " 'community_venue', 'booked' FROM pr RETURNING id",
	    f->org, 'A' + o);
	free(sql_value("INSERT INTO core.seat (session_id, person_id, source, during)"
	               " SELECT id, %lld, 'booking', during FROM core.session WHERE id = %lld",
	               f->p1, f->reg_session));
	free(sql_value("INSERT INTO core.session_staff (session_id, staff_id, role, during)"
	               " SELECT s.id, x.staff, 'facilitator', s.during FROM core.session s,"
	               " (VALUES (%lld), (%lld)) x(staff) WHERE s.id = %lld",
	               f->facilitator, f->mentor, f->reg_session));
	f->outcome = sql_id("INSERT INTO core.outcome_code (org_id, code, label, attended,"
	                    " compliant) VALUES (%lld, 'matrix_own', 'Matrix own', true, true)"
	                    " RETURNING id",
	                    f->org);
}

/* group_course G1: a group course of the organisation (no staff), a weekly
 * cohort of it laid out in 2041 by the plugin's own layout function (P1
 * enrolled and seated), and a one-off session of its guest module. */
static void make_gc(int o)
{
	struct fixture *f = &fx[o];
	f->gc_course = sql_id(
	    "INSERT INTO core.programme (org_id, type, name, settings) VALUES (%lld, "
	    "'group_course',"
	    " 'Matrix course %c', '{\"rule_version\": \"matrix-1\", \"modules\": ["
	    "{\"key\": \"m1\", \"title\": \"Introduction\", \"required\": true, \"guests\": false},"
	    " {\"key\": \"m2\", \"title\": \"Market place\", \"required\": true, \"guests\": true},"
	    " {\"key\": \"m3\", \"title\": \"Next steps\", \"required\": false, \"guests\": "
	    "false}],"
	    " \"min_share\": 0.8, \"absence_alert_after\": 2, \"qualification\": null,"
	    " \"prerequisites\": [], \"eligibility\": null}') RETURNING id",
	    f->org, 'A' + o);
	f->gc_cohort =
	    sql_id("INSERT INTO core.cohort (programme_id, name, starts_on)"
	           " VALUES (%lld, 'Matrix course cohort %c', '2041-01-07') RETURNING id",
	           f->gc_course, 'A' + o);
	free(sql_value("INSERT INTO group_course.cohort_plan (cohort_id, pattern, session_minutes,"
	               " location_kind) VALUES (%lld, 'weekly', 120, 'home')",
	               f->gc_cohort));
	f->gc_enrolment = sql_id("INSERT INTO core.enrolment (cohort_id, person_id, joined_on)"
	                         " VALUES (%lld, %lld, '2041-01-01') RETURNING id",
	                         f->gc_cohort, f->p1);
	free(sql_value("SELECT group_course.cohort_layout(%lld, %lld)", f->admin, f->gc_cohort));
	f->gc_session =
	    sql_id("INSERT INTO core.session (programme_id, org_id, title, starts_at, ends_at,"
	           " location_kind, module) VALUES (%lld, %lld, 'Matrix market place',"
	           " '2041-08-01T10:00Z', '2041-08-01T12:00Z', 'home', 'm2') RETURNING id",
	           f->gc_course, f->org);
}

/* feeds: a household feed of organisation `o` (household hh: P1 booked on
 * bk_session) whose link is known, with verifier `v` (43 characters). */
static long long new_feed(int o, const char *selector, const char *v)
{
	return sql_id("INSERT INTO core.calendar_feed (org_id, kind, household_id, name,"
	              " token_selector, token_hash) VALUES (%lld, 'household', %lld, 'Matrix feed',"
	              " '%s', encode(sha256(convert_to('%s', 'UTF8')), 'hex')) RETURNING id",
	              fx[o].org, fx[o].hh, selector, v);
}

/* feeds: the standing household feed with its link, and the mentor's own. */
static void make_feeds(int o)
{
	struct fixture *f = &fx[o];
	char sel[17], ver[44];
	snprintf(sel, sizeof sel, "matrixfeed%c00000", 'A' + o);
	snprintf(ver, sizeof ver, "%c%042d", 'A' + o, 7);
	f->feed = new_feed(o, sel, ver);
	snprintf(f->feed_token, sizeof f->feed_token, "wmf_%s%s", sel, ver);
	f->feed_mentor = sql_id("INSERT INTO core.calendar_feed (org_id, kind, staff_id, name,"
	                        " token_selector, token_hash) VALUES (%lld, 'mentor', %lld,"
	                        " 'Matrix mentor feed', 'matrixmentor%c000', repeat('b', 64))"
	                        " RETURNING id",
	                        f->org, f->mentor, 'A' + o);
}

/* A future session of organisation `org` taken by booking; each at its own
 * time, so P1's seats on fresh ones never overlap. */
static long long new_bk_session(int org)
{
	int n = ++uniq;
	return sql_id(
	    "INSERT INTO core.session (programme_id, org_id, title, starts_at, ends_at,"
	    " location_kind, capacity, booking_mode) VALUES (%lld, %lld, 'Matrix drop-in',"
	    " now() + interval '30 days' + %d * interval '3 hours',"
	    " now() + interval '30 days' + %d * interval '3 hours' + interval '2 hours',"
	    " 'community_venue', 1000, 'booked') RETURNING id",
	    fx[org].prog, fx[org].org, n, n);
}

/* P1's booking in `status` ('booked' or 'offered') on session `s`. */
static long long new_booking(int org, long long s, const char *status)
{
	free(sql_value("UPDATE core.session SET booked = booked + 1 WHERE id = %lld", s));
	return sql_id("INSERT INTO core.booking (session_id, person_id, status, offered_at,"
	              " offer_expires_at) VALUES (%lld, %lld, '%s',"
	              " CASE WHEN '%s' = 'offered' THEN now() END,"
	              " CASE WHEN '%s' = 'offered' THEN now() + interval '1 day' END) RETURNING id",
	              s, fx[org].p1, status, status, status);
}

static void make_org(int o)
{
	struct fixture *f = &fx[o];
	f->org = ts_org_id(db, org_names[o]);
	for (size_t i = 0; i < NCALLERS; i++) {
		const char *role = callers[i].org == o ? strchr(callers[i].name, '-') : NULL;
		if (!role)
			continue;
		if (!strcmp(role, "-admin"))
			f->admin = callers[i].staff;
		else if (!strcmp(role, "-facilitator"))
			f->facilitator = callers[i].staff;
		else if (!strcmp(role, "-mentor"))
			f->mentor = callers[i].staff;
		else if (!strcmp(role, "-facilitator-unassigned"))
			f->facilitator_other = callers[i].staff;
	}
	f->p1 = new_person(o, "Pat", "1985-03-01");
	f->p2 = new_person(o, "Sam", "1990-07-12");
	f->child = new_person(o, "Kit", "2018-05-05");
	f->hh = sql_id("INSERT INTO core.household (org_id, name) VALUES (%lld, '%c-SECRET house')"
	               " RETURNING id",
	               f->org, 'A' + o);
	free(sql_value("INSERT INTO core.household_member (household_id, person_id, relationship)"
	               " VALUES (%lld, %lld, 'participant'), (%lld, %lld, 'child')",
	               f->hh, f->p1, f->hh, f->child));
	f->flag = record(o, f->p1, "flag");
	f->na = record(o, f->p1, "na");
	f->consent = record(o, f->p1, "consent");
	f->referral = record(o, f->p1, "referral");
	free(sql_value("INSERT INTO core.assignment (org_id, staff_id, person_id, kind)"
	               " VALUES (%lld, %lld, %lld, 'facilitator')",
	               f->org, f->facilitator, f->p1));
	f->assign = sql_id("INSERT INTO core.assignment (org_id, staff_id, person_id, kind)"
	                   " VALUES (%lld, %lld, %lld, 'mentor') RETURNING id",
	                   f->org, f->mentor, f->p1);
	/* Not a caseload either: an assignment that has ended, and one whose
	 * kind is a role the staff member does not hold. */
	for (size_t i = 0; i < NCALLERS; i++) {
		const char *role = callers[i].org == o ? strchr(callers[i].name, '-') : NULL;
		if (role && !strcmp(role, "-mentor-ended"))
			free(sql_value(
			    "INSERT INTO core.assignment (org_id, staff_id, person_id, kind,"
			    " ended_at) VALUES (%lld, %lld, %lld, 'mentor', now())",
			    f->org, callers[i].staff, f->p1));
		else if (role && !strcmp(role, "-facilitator-wrong-kind"))
			free(sql_value(
			    "INSERT INTO core.assignment (org_id, staff_id, person_id, kind)"
			    " VALUES (%lld, %lld, %lld, 'mentor')",
			    f->org, callers[i].staff, f->p1));
	}
	f->token = sql_id("SELECT min(id) FROM core.api_token WHERE staff_id = %lld", f->admin);
	f->note = sql_id("INSERT INTO example.notes (body, author_staff_id)"
	                 " VALUES ('matrix fixture', %lld) RETURNING id",
	                 f->admin);
	f->audit = sql_id("INSERT INTO core.audit (org_id, action, object_type)"
	                  " VALUES (%lld, 'matrix.fixture', 'fixture') RETURNING id",
	                  f->org);
	make_programmes(o);
	make_cohorts(o);
	make_sessions(o);
	make_register(o);
	make_gc(o); /* group_course G1 */
	f->prog = sql_id("INSERT INTO core.programme (org_id, type, name)"
	                 " VALUES (%lld, 'example', 'Matrix events') RETURNING id",
	                 f->org);
	/* Every facilitator and mentor of the organisation is on the events
	 * programme's staff, so each may see its sessions; which bookings they
	 * reach then depends on their caseload alone. (Seeing the session at all
	 * is test_bookings' business.) */
	for (size_t i = 0; i < NCALLERS; i++)
		if (callers[i].org == o && (callers[i].role & (R_FAC | R_MEN)))
			free(sql_value(
			    "INSERT INTO core.programme_staff (programme_id, staff_id, role)"
			    " VALUES (%lld, %lld, 'facilitator')",
			    f->prog, callers[i].staff));
	f->bk_session = new_bk_session(o);
	f->booking = new_booking(o, f->bk_session, "booked");
	make_feeds(o); /* feeds */
}

static void setup(void)
{
	db = ts_db_create("authz");
	struct ts_server_opts o = {.database_url = db};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	srv.token[0] = '\0';
	for (size_t i = 0; i < NCALLERS; i++) {
		struct caller *c = &callers[i];
		if (c->org < 0 && !c->sa)
			continue;
		snprintf(c->email, sizeof c->email, "%s@matrix.test", c->name);
		c->token = ts_staff_token(db, org_names[c->org < 0 ? 0 : c->org], c->email,
		                          c->role_name, c->sa);
		c->staff = ts_staff_id(db, c->email);
	}
	pg_open();
	make_org(0);
	make_org(1);
	make_shared();
	pg_close();
}

static void teardown(void)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
}

/* --- objects ---------------------------------------------------------- */

struct obj {
	char label[48];
	int org;       /* whose object: 0 = A, 1 = B, -1 none */
	long long id;  /* the object, for fingerprints and replies */
	char p[3][80]; /* path parameter values, in order (a feed link is 63 characters) */
	long long person, owner;
};

static void set_id(struct obj *o, long long id)
{
	o->id = id;
	snprintf(o->p[0], sizeof o->p[0], "%lld", id);
}

/* The standing objects of kind `k` in organisation `org`; returns how many
 * (`which` picks one). */
static int fixture_obj(enum kind k, int org, int which, struct obj *o)
{
	const struct fixture *f = &fx[org];
	char c = (char)('A' + org);
	memset(o, 0, sizeof *o);
	o->org = org;
	switch (k) {
	case K_ORG:
		set_id(o, f->org);
		snprintf(o->label, sizeof o->label, "org %c", c);
		return 1;
	case K_PERSON: {
		static const char *const names[] = {"1 (on the caseload)", "2 (no caseload)",
		                                    " child (in a household)"};
		long long ids[] = {f->p1, f->p2, f->child};
		set_id(o, ids[which]);
		o->person = o->id;
		snprintf(o->label, sizeof o->label, "P%c%s", c, names[which]);
		return 3;
	}
	case K_STAFF:
		set_id(o, f->facilitator_other);
		o->owner = o->id;
		snprintf(o->label, sizeof o->label, "staff %c-facilitator-unassigned", c);
		return 1;
	case K_TOKEN:
		set_id(o, f->token);
		o->owner = f->admin;
		snprintf(o->label, sizeof o->label, "token of %c-admin", c);
		return 1;
	case K_NOTE:
		set_id(o, f->note);
		o->owner = f->admin;
		snprintf(o->label, sizeof o->label, "note of %c-admin", c);
		return 1;
	case K_HOUSEHOLD:
		set_id(o, f->hh);
		snprintf(o->label, sizeof o->label, "household %c", c);
		return 1;
	case K_NONASSOC:
		set_id(o, f->na);
		snprintf(o->label, sizeof o->label, "non-association %c", c);
		return 1;
	case K_REFERRAL:
		set_id(o, f->referral);
		snprintf(o->label, sizeof o->label, "referral %c", c);
		return 1;
	case K_AUDIT:
		set_id(o, f->audit);
		snprintf(o->label, sizeof o->label, "audit row %c", c);
		return 1;
	case K_BK_SESSION:
		set_id(o, f->bk_session);
		snprintf(o->label, sizeof o->label, "booked session %c", c);
		return 1;
	case K_BOOKING:
		set_id(o, f->booking);
		o->person = f->p1;
		snprintf(o->label, sizeof o->label, "booking of P%c1", c);
		return 1;
	case K_PROGRAMME:
		set_id(o, f->programme);
		snprintf(o->label, sizeof o->label, "programme %c", c);
		return 1;
	case K_VENUE:
		set_id(o, f->venue);
		snprintf(o->label, sizeof o->label, "venue %c", c);
		return 1;
	case K_CLOSURE:
		set_id(o, f->closure);
		snprintf(o->label, sizeof o->label, "closure %c", c);
		return 1;
	case K_COHORT:
		set_id(o, f->cohort);
		snprintf(o->label, sizeof o->label, "cohort %c", c);
		return 1;
	case K_ENROLMENT:
		set_id(o, f->enrolment);
		o->person = f->p1;
		snprintf(o->label, sizeof o->label, "enrolment of P%c1", c);
		return 1;
	case K_ALERT:
		set_id(o, f->alert);
		snprintf(o->label, sizeof o->label, "alert %c", c);
		return 1;
	case K_SESSION:
		set_id(o, f->session);
		snprintf(o->label, sizeof o->label, "session %c", c);
		return 1;
	case K_SERIES:
		set_id(o, f->series);
		snprintf(o->label, sizeof o->label, "series %c", c);
		return 1;
	case K_REGISTER:
		set_id(o, f->reg_session);
		o->person = f->p1;
		snprintf(o->label, sizeof o->label, "past session %c (P%c1 seated)", c, c);
		return 1;
	case K_OUTCOME:
		set_id(o, f->outcome);
		snprintf(o->label, sizeof o->label, "outcome code of org %c", c);
		return 1;
	/* group_course G1 */
	case K_GC_COURSE:
		set_id(o, f->gc_course);
		snprintf(o->label, sizeof o->label, "group course %c", c);
		return 1;
	case K_GC_COHORT:
		set_id(o, f->gc_cohort);
		snprintf(o->label, sizeof o->label, "course cohort %c", c);
		return 1;
	case K_GC_ENROLMENT:
		set_id(o, f->gc_enrolment);
		o->person = f->p1;
		snprintf(o->label, sizeof o->label, "course enrolment of P%c1", c);
		return 1;
	case K_GC_SESSION:
		set_id(o, f->gc_session);
		snprintf(o->label, sizeof o->label, "course guest session %c", c);
		return 1;
	/* feeds */
	case K_FEED:
		set_id(o, which ? f->feed_mentor : f->feed);
		o->owner = which ? f->mentor : 0;
		snprintf(o->label, sizeof o->label, "%s feed of org %c",
		         which ? "the mentor's" : "household", c);
		return 2;
	case K_FEED_TOKEN:
	case K_FEED_EVENT:
		o->id = f->feed;
		snprintf(o->p[0], sizeof o->p[0], "%.70s.ics", f->feed_token);
		if (k == K_FEED_EVENT) {
			snprintf(o->p[0], sizeof o->p[0], "%.70s", f->feed_token);
			snprintf(o->p[1], sizeof o->p[1], "%lld.ics", f->bk_session);
		}
		snprintf(o->label, sizeof o->label, "household feed link of org %c", c);
		return 1;
	/* end feeds */
	default:
		/* Made fresh per call (fresh_obj). */
		snprintf(o->label, sizeof o->label, "new object of org %c", c);
		return 1;
	}
}

/* Makes the throw-away object a destructive call acts on. */
static void fresh_obj(enum kind k, struct obj *o)
{
	int org = o->org;
	const struct fixture *f = &fx[org];
	char c = (char)('A' + org);
	long long id;
	switch (k) {
	case K_PERSON_NEW:
		set_id(o, new_person(org, "Erin", "1979-11-02"));
		o->person = o->id;
		snprintf(o->label, sizeof o->label, "new person %lld of org %c", o->id, c);
		break;
	case K_TOKEN_NEW:
		id = ++uniq;
		set_id(o,
		       sql_id("INSERT INTO core.api_token (staff_id, name, selector, verifier_hash)"
		              " VALUES (%lld, 'fresh %lld', 'fresh%011lld', repeat('a', 64))"
		              " RETURNING id",
		              f->admin, id, id));
		o->owner = f->admin;
		snprintf(o->label, sizeof o->label, "new token of %c-admin", c);
		break;
	case K_MEMBER_NEW:
		id = new_staff(org, "mentor");
		set_id(o, f->org);
		o->id = id;
		snprintf(o->p[1], sizeof o->p[1], "%lld", id);
		snprintf(o->p[2], sizeof o->p[2], "mentor");
		snprintf(o->label, sizeof o->label, "new mentor membership in org %c", c);
		break;
	case K_ASSIGN_NEW:
		id = new_staff(org, "facilitator");
		set_id(o, sql_id("INSERT INTO core.assignment (org_id, staff_id, person_id, kind)"
		                 " VALUES (%lld, %lld, %lld, 'facilitator') RETURNING id",
		                 f->org, id, f->p2));
		snprintf(o->label, sizeof o->label, "new assignment in org %c", c);
		break;
	case K_HHMEMBER_NEW:
		id = new_person(org, "Lee", "1992-01-01");
		free(sql_value("INSERT INTO core.household_member (household_id, person_id,"
		               " relationship) VALUES (%lld, %lld, 'other')",
		               f->hh, id));
		set_id(o, f->hh);
		o->id = id;
		snprintf(o->p[1], sizeof o->p[1], "%lld", id);
		snprintf(o->label, sizeof o->label, "new member of household %c", c);
		break;
	case K_FLAG_NEW:
		set_id(o, sql_id("INSERT INTO core.person_flag (person_id, org_id, kind)"
		                 " VALUES (%lld, %lld, 'other') RETURNING id",
		                 f->p1, f->org));
		snprintf(o->label, sizeof o->label, "new flag of org %c", c);
		break;
	case K_NONASSOC_NEW:
		id = new_person(org, "Ash", NULL);
		set_id(o, sql_id("INSERT INTO core.non_association (org_id, person_a, person_b)"
		                 " VALUES (%lld, %lld, %lld) RETURNING id",
		                 f->org, f->p1, id));
		snprintf(o->label, sizeof o->label, "new non-association of org %c", c);
		break;
	case K_CONSENT_NEW:
		set_id(o, sql_id("INSERT INTO core.consent (org_id, person_id, purpose, given_on)"
		                 " VALUES (%lld, %lld, 'programme_participation', '2026-01-15')"
		                 " RETURNING id",
		                 f->org, f->p1));
		snprintf(o->label, sizeof o->label, "new consent of org %c", c);
		break;
	case K_REFERRAL_NEW:
		set_id(o, new_referral(org));
		snprintf(o->label, sizeof o->label, "new referral of org %c", c);
		break;
	case K_BOOKING_NEW:
	case K_OFFER_NEW:
		set_id(o, new_booking(org, new_bk_session(org),
		                      k == K_OFFER_NEW ? "offered" : "booked"));
		o->person = f->p1;
		snprintf(o->label, sizeof o->label, "new %s of P%c1",
		         k == K_OFFER_NEW ? "offer" : "booking", c);
		break;
	case K_PSTAFF_NEW:
		id = new_staff(org, "facilitator");
		free(sql_value("INSERT INTO core.programme_staff (programme_id, staff_id, role)"
		               " VALUES (%lld, %lld, 'guest')",
		               f->programme, id));
		set_id(o, f->programme);
		o->id = id;
		snprintf(o->p[1], sizeof o->p[1], "%lld", id);
		snprintf(o->p[2], sizeof o->p[2], "guest");
		snprintf(o->label, sizeof o->label, "new guest on programme %c", c);
		break;
	case K_ROOM_NEW:
		id = ++uniq;
		set_id(o, sql_id("INSERT INTO core.room (venue_id, name) VALUES (%lld, 'Room %lld')"
		                 " RETURNING id",
		                 f->venue, id));
		snprintf(o->label, sizeof o->label, "new room of venue %c", c);
		break;
	case K_CLOSURE_NEW:
		set_id(o, sql_id("INSERT INTO core.closure (org_id, starts_on, ends_on, reason)"
		                 " VALUES (%lld, '2041-03-01', '2041-03-01', 'Fresh') RETURNING id",
		                 f->org));
		snprintf(o->label, sizeof o->label, "new closure of org %c", c);
		break;
	case K_ENROL_NEW:
	case K_ENROL_HELD_NEW:
		id = new_person(org, "Enid", NULL);
		set_id(o,
		       sql_id("INSERT INTO core.enrolment (cohort_id, person_id, joined_on, status)"
		              " VALUES (%lld, %lld, '2026-01-01', '%s') RETURNING id",
		              f->cohort, id, k == K_ENROL_NEW ? "enrolled" : "on_hold"));
		if (k == K_ENROL_HELD_NEW)
			free(sql_value(
			    "INSERT INTO core.enrolment_hold (enrolment_id, starts_at, reason)"
			    " VALUES (%lld, now() - interval '1 day', 'other')",
			    o->id));
		o->person = id;
		snprintf(o->label, sizeof o->label, "new enrolment in cohort %c", c);
		break;
	case K_ALERT_NEW:
		set_id(o,
		       sql_id("INSERT INTO core.alert (org_id, kind, message)"
		              " VALUES (%lld, 'core.non_association', 'Fresh alert') RETURNING id",
		              f->org));
		snprintf(o->label, sizeof o->label, "new alert of org %c", c);
		break;
	case K_SESSION_NEW:
		set_id(o, new_session(org));
		snprintf(o->label, sizeof o->label, "new session of org %c", c);
		break;
	case K_SERIES_NEW:
		set_id(o, new_series(org));
		snprintf(o->label, sizeof o->label, "new series of org %c", c);
		break;
	case K_OUTCOME_NEW:
		set_id(o, sql_id("INSERT INTO core.outcome_code (org_id, code, label, attended,"
		                 " compliant) VALUES (%lld, 'fresh_%d', 'Fresh', true, true)"
		                 " RETURNING id",
		                 f->org, ++uniq));
		snprintf(o->label, sizeof o->label, "new outcome code of org %c", c);
		break;
	case K_GC_ENROL_NEW: /* group_course G1 */
		id = new_person(org, "Gail", NULL);
		set_id(o, sql_id("INSERT INTO core.enrolment (cohort_id, person_id, joined_on)"
		                 " VALUES (%lld, %lld, '2041-01-01') RETURNING id",
		                 f->gc_cohort, id));
		o->person = id;
		snprintf(o->label, sizeof o->label, "new enrolment in course cohort %c", c);
		break;
	case K_FEED_NEW: /* feeds */
		id = ++uniq;
		{
			char sel[32];
			snprintf(sel, sizeof sel, "freshfeed%07lld", id % 10000000);
			static const char ver[] = "0123456789012345678901234567890123456789012";
			set_id(o, new_feed(org, sel, ver));
		}
		snprintf(o->label, sizeof o->label, "new household feed of org %c", c);
		break;
	case K_MILESTONE_NEW:
		id = new_person(org, "Rory", NULL);
		free(sql_value("UPDATE core.person SET expected_release_date = '2041-06-01'"
		               " WHERE id = %lld",
		               id));
		/* The path names the person; {{id}} in the body, the programme. */
		set_id(o, id);
		o->id = f->programme;
		o->person = id;
		snprintf(o->label, sizeof o->label, "new person with a release date of org %c", c);
		break;
	default:
		break;
	}
}

static int in_scope(const struct rule *r, const struct caller *c, const struct obj *o)
{
	if (r->kind == K_NONE)
		return 1;
	const struct scope *s = &r->scope;
	if (c->org >= 0 && c->org == o->org && (c->role & s->roles))
		return 1;
	if (s->sa && c->sa)
		return 1;
	if (s->caseload && c->assigned && c->org == o->org && o->person == fx[o->org].p1)
		return 1;
	if (s->self && o->owner && c->staff == o->owner)
		return 1;
	return 0;
}

#endif
