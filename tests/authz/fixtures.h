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
	char p[3][24]; /* path parameter values, in order */
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
