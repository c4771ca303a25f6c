/*
 * The data of the authorisation matrix (tests/integration/test_authz_matrix.c,
 * its only includer): one rule per route of the router, the callers, what
 * each organisation holds, and the requests that mix objects of both.
 * A new route needs a rule here, or the matrix fails naming it.
 */
#ifndef WM_AUTHZ_TABLES_H
#define WM_AUTHZ_TABLES_H

/* The role bits of enum wm_role and the access bits (waymark/types.h). */
#define R_ADM 1u
#define R_CO  2u
#define R_FAC 4u
#define R_MEN 8u
#define R_COM 16u
#define R_ALL 31u
#define R_SA  (1u << 29)
#define R_PUB (1u << 30)

#define V1 "/api/v1"

/* What a path parameter (or the organisation_id of a body) names. The
 * *_NEW kinds are made fresh for every call. */
enum kind {
	K_NONE,
	K_ORG,
	K_PERSON, /* P1 (on the caseload), P2 (not), a child in a household */
	K_STAFF,  /* an unassigned facilitator of the organisation */
	K_TOKEN,  /* a token of the organisation's admin */
	K_NOTE,   /* an example note written by the organisation's admin */
	K_HOUSEHOLD,
	K_NONASSOC,
	K_REFERRAL,
	K_AUDIT,
	K_BK_SESSION, /* a future session taken by booking (capacity 1000) */
	K_BOOKING,    /* P1's booking on it */
	K_PROGRAMME,  /* a programme of the organisation, with no staff */
	K_VENUE,      /* a venue of the organisation */
	K_CLOSURE,    /* a closure (flag) of the organisation in 2041 */
	K_COHORT,     /* a cohort of the programme, P1 enrolled */
	K_ENROLMENT,  /* P1's enrolment in it */
	K_ALERT,      /* an open alert of the organisation */
	K_SESSION,    /* a session of the programme in 2041, no staff */
	K_SERIES,     /* a series of the programme with one session */
	K_REGISTER,   /* a past session, P1 seated, staffed by P1's facilitator and mentor */
	K_OUTCOME,    /* an outcome code of the organisation's own */
	/* feeds */
	K_FEED,       /* a household feed (A/C) and the mentor's own feed, of the organisation */
	K_FEED_TOKEN, /* the household feed's secret link (a path of its own) */
	K_FEED_EVENT, /* that link and P1's booked session in it */
	/* end feeds */
	/* group_course G1: real courses, so their routes' success paths run */
	K_GC_COURSE,    /* a group course (modules m1..m3, m2 with guests), no staff */
	K_GC_COHORT,    /* a weekly cohort of it laid out in 2041, P1 enrolled */
	K_GC_ENROLMENT, /* P1's enrolment in that cohort */
	K_GC_SESSION,   /* a one-off session of the course's guest module m2 in 2041 */
	K_PERSON_NEW,
	K_TOKEN_NEW,
	K_MEMBER_NEW,
	K_ASSIGN_NEW,
	K_HHMEMBER_NEW,
	K_FLAG_NEW,
	K_NONASSOC_NEW,
	K_CONSENT_NEW,
	K_REFERRAL_NEW,
	K_BOOKING_NEW,    /* P1 booked on a fresh session */
	K_OFFER_NEW,      /* P1 offered a place on a fresh session */
	K_PSTAFF_NEW,     /* a fresh facilitator on the programme's staff (guest) */
	K_ROOM_NEW,       /* a fresh room in the venue */
	K_CLOSURE_NEW,    /* a fresh closure of the organisation */
	K_ENROL_NEW,      /* a fresh person enrolled in the cohort */
	K_ENROL_HELD_NEW, /* a fresh person enrolled and on hold */
	K_ALERT_NEW,      /* a fresh open alert of the organisation */
	K_MILESTONE_NEW,  /* a fresh person with a release date; id: the programme */
	K_SESSION_NEW,    /* a fresh session of the programme */
	K_SERIES_NEW,     /* a fresh series of the programme with one session */
	K_OUTCOME_NEW,    /* a fresh outcome code of the organisation's own */
	K_FEED_NEW,       /* feeds: a fresh household feed of the organisation */
	K_GC_ENROL_NEW,   /* group_course G1: a fresh person enrolled in the course cohort */
};

/* Who may touch an object: a caller holding one of `roles` in the object's
 * organisation, a server admin (sa), a mentor or facilitator with the person
 * on their caseload (caseload), or the object's owner (self). */
struct scope {
	unsigned roles;
	int sa, caseload, self;
};

#define F_LOGIN  1u /* public sign-in: called anonymously, wrong password */
#define F_LOGOUT 2u /* signs out: called with a throw-away token */
#define F_ME     4u /* replies the caller: the id must be theirs */
#define F_NOTES  8u /* the example plugin's list shape */

struct rule {
	const char *method, *path;
	unsigned access; /* as the OpenAPI document must list it */
	int status;      /* success status */
	enum kind kind;
	struct scope scope;
	const char *body;     /* template ({{org}}, {{u}}, {{p1}}, {{fperson}}, {{fstaff}}) */
	const char *query;    /* appended to the path (template) */
	const char *list_sql; /* a list: the ids the caller may see ({{staff}}) */
	const char *fp_sql;   /* what a refused call must not change ({{id}}, {{org}}) */
	unsigned flags;
	const char *not_found; /* a plugin's own code; NULL: core.not_found */
	/* Filled from the document. */
	int present;
};

#define SC(r, s, cl, own)                                                                          \
	{                                                                                          \
		.roles = (r), .sa = (s), .caseload = (cl), .self = (own)                           \
	}
#define RULE(m, p, acc, st, k, sc, ...)                                                            \
	{                                                                                          \
		.method = (m), .path = (p), .access = (acc), .status = (st), .kind = (k),          \
		.scope = sc, __VA_ARGS__                                                           \
	}

/* The people visible to {{staff}}: admin/coordinator of an organisation
 * holding them, or a live assignment. */
#define PEOPLE_SQL                                                                                 \
	"SELECT po.person_id FROM core.person_org po JOIN core.membership m"                       \
	" ON m.org_id = po.org_id AND m.staff_id = {{staff}} AND m.role IN ('admin', "             \
	"'coordinator')"                                                                           \
	" UNION SELECT a.person_id FROM core.assignment a JOIN core.membership m"                  \
	" ON m.org_id = a.org_id AND m.staff_id = a.staff_id AND m.role = a.kind"                  \
	" WHERE a.staff_id = {{staff}} AND a.ended_at IS NULL"
#define ORG_AC_SQL(table)                                                                          \
	"SELECT t.id FROM core." table " t JOIN core.membership m ON m.org_id = t.org_id"          \
	" AND m.staff_id = {{staff}} AND m.role IN ('admin', 'coordinator')"

/* Rows of `table` in the organisations where {{staff}} is admin,
 * coordinator, facilitator or mentor. */
#define ORG_MEMBER_SQL(table)                                                                      \
	"SELECT t.id FROM core." table " t JOIN core.membership m ON m.org_id = t.org_id"          \
	" AND m.staff_id = {{staff}} AND m.role IN ('admin', 'coordinator', 'facilitator', "       \
	"'mentor')"
/* The programmes {{staff}} may see: admin, coordinator or commissioner of
 * the organisation; a facilitator or mentor on its staff or staffing one of
 * its sessions. */
#define PROGRAMMES_SQL                                                                             \
	"SELECT pr.id FROM core.programme pr JOIN core.membership m ON m.org_id = pr.org_id"       \
	" AND m.staff_id = {{staff}} WHERE pr.archived_at IS NULL AND (m.role IN ('admin',"        \
	" 'coordinator', 'commissioner') OR (m.role IN ('facilitator', 'mentor') AND (EXISTS"      \
	" (SELECT 1 FROM core.programme_staff ps WHERE ps.programme_id = pr.id AND ps.staff_id"    \
	" = {{staff}}) OR EXISTS (SELECT 1 FROM core.session_staff ss JOIN core.session s"         \
	" ON s.id = ss.session_id WHERE s.programme_id = pr.id AND ss.staff_id = {{staff}}))))"

/* The sessions {{staff}} may see: admin or coordinator of the organisation;
 * a facilitator or mentor staffing it or on its programme's staff. */
#define SESSIONS_SQL                                                                               \
	"SELECT s.id FROM core.session s JOIN core.programme pr ON pr.id = s.programme_id"         \
	" AND pr.archived_at IS NULL JOIN core.membership m ON m.org_id = s.org_id"                \
	" AND m.staff_id = {{staff}} WHERE m.role IN ('admin', 'coordinator') OR (m.role IN"       \
	" ('facilitator', 'mentor') AND (EXISTS (SELECT 1 FROM core.session_staff ss"              \
	" WHERE ss.session_id = s.id AND ss.staff_id = {{staff}}) OR EXISTS (SELECT 1 FROM"        \
	" core.programme_staff ps WHERE ps.programme_id = s.programme_id"                          \
	" AND ps.staff_id = {{staff}})))"

static struct rule rules[] = {
    /* Core, public. */
    RULE("GET", "/healthz", R_PUB, 200, K_NONE, SC(0, 0, 0, 0)),
    RULE("GET", "/readyz", R_PUB, 200, K_NONE, SC(0, 0, 0, 0)),
    RULE("GET", "/metrics", R_PUB, 200, K_NONE, SC(0, 0, 0, 0)),
    RULE("GET", V1 "/openapi.json", R_PUB, 200, K_NONE, SC(0, 0, 0, 0)),
    /* Identity. */
    RULE("POST", V1 "/organisations", R_SA, 201, K_NONE, SC(0, 0, 0, 0),
         .body = "{\"name\":\"Matrix new org {{u}}\",\"kind\":\"other\"}"),
    RULE("GET", V1 "/organisations", R_ALL | R_SA, 200, K_ORG, SC(R_ALL, 1, 0, 0),
         .list_sql = "SELECT o.id FROM core.organisation o WHERE EXISTS (SELECT 1 FROM"
                     " core.membership m WHERE m.org_id = o.id AND m.staff_id = {{staff}})"
                     " OR (SELECT server_admin FROM core.staff WHERE id = {{staff}})"),
    RULE("GET", V1 "/organisations/{id}", R_ALL | R_SA, 200, K_ORG, SC(R_ALL, 1, 0, 0)),
    RULE("PATCH", V1 "/organisations/{id}", R_ADM | R_SA, 200, K_ORG, SC(R_ADM, 1, 0, 0),
         .body = "{\"name\":\"Matrix renamed {{u}}\"}",
         .fp_sql = "SELECT name || kind || coalesce(archived_at::text, '') FROM core.organisation"
                   " WHERE id = {{id}}"),
    RULE("GET", V1 "/organisations/{id}/members", R_ADM | R_CO | R_SA, 200, K_ORG,
         SC(R_ADM | R_CO, 1, 0, 0)),
    RULE("POST", V1 "/organisations/{id}/members", R_ADM | R_SA, 201, K_ORG, SC(R_ADM, 1, 0, 0),
         .body = "{\"staff_id\":{{fstaff}},\"role\":\"mentor\"}",
         .fp_sql = "SELECT count(*) FROM core.membership WHERE org_id = {{id}}"),
    RULE("DELETE", V1 "/organisations/{id}/members/{staff_id}/{role}", R_ADM | R_SA, 204,
         K_MEMBER_NEW, SC(R_ADM, 1, 0, 0),
         .fp_sql = "SELECT count(*) FROM core.membership WHERE staff_id = {{id}}"),
    RULE("POST", V1 "/staff", R_ADM | R_SA, 201, K_ORG, SC(R_ADM, 1, 0, 0),
         .body = "{\"email\":\"matrix{{u}}@example.org\",\"display_name\":\"Matrix {{u}}\","
                 "\"organisation_id\":{{org}},\"role\":\"mentor\"}",
         .fp_sql = "SELECT count(*) FROM core.membership WHERE org_id = {{org}}"),
    RULE("GET", V1 "/staff", R_ADM | R_CO, 200, K_STAFF, SC(R_ADM | R_CO, 1, 0, 1),
         .list_sql = "SELECT m2.staff_id FROM core.membership m1 JOIN core.membership m2"
                     " ON m2.org_id = m1.org_id WHERE m1.staff_id = {{staff}}"
                     " AND m1.role IN ('admin', 'coordinator') UNION SELECT {{staff}}"),
    RULE("GET", V1 "/staff/{id}", R_ALL | R_SA, 200, K_STAFF, SC(R_ADM | R_CO, 1, 0, 1)),
    RULE("PATCH", V1 "/staff/{id}", R_ALL | R_SA, 200, K_STAFF, SC(R_ADM, 1, 0, 1),
         .body = "{\"display_name\":\"Matrix renamed {{u}}\"}",
         .fp_sql = "SELECT display_name || coalesce(disabled_at::text, '') FROM core.staff"
                   " WHERE id = {{id}}"),
    RULE("GET", V1 "/tokens", R_ALL | R_SA, 200, K_TOKEN, SC(0, 0, 0, 1),
         .list_sql = "SELECT id FROM core.api_token WHERE staff_id = {{staff}}"),
    RULE("POST", V1 "/tokens", R_ALL | R_SA, 201, K_NONE, SC(0, 0, 0, 0),
         .body = "{\"name\":\"matrix {{u}}\"}"),
    RULE("DELETE", V1 "/tokens/{id}", R_ALL | R_SA, 204, K_TOKEN_NEW, SC(0, 0, 0, 1),
         .fp_sql =
             "SELECT coalesce(revoked_at::text, 'live') FROM core.api_token WHERE id = {{id}}"),
    RULE("POST", V1 "/auth/login", R_PUB, 200, K_NONE, SC(0, 0, 0, 0),
         .body = "{\"email\":\"nobody{{u}}@matrix.test\",\"password\":\"not the password\"}",
         .flags = F_LOGIN),
    RULE("POST", V1 "/auth/logout", R_ALL | R_SA, 204, K_NONE, SC(0, 0, 0, 0), .flags = F_LOGOUT),
    RULE("GET", V1 "/auth/me", R_ALL | R_SA, 200, K_NONE, SC(0, 0, 0, 0), .flags = F_ME),
    /* People. */
    RULE("POST", V1 "/people", R_ADM | R_CO, 201, K_ORG, SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"organisation_id\":{{org}},\"given_name\":\"Matrix\","
                 "\"family_name\":\"Person {{u}}\"}",
         .fp_sql = "SELECT count(*) FROM core.person_org WHERE org_id = {{org}}"),
    RULE("GET", V1 "/people", R_ADM | R_CO | R_FAC | R_MEN, 200, K_PERSON,
         SC(R_ADM | R_CO, 0, 1, 0), .list_sql = PEOPLE_SQL),
    RULE("GET", V1 "/people/{id}", R_ADM | R_CO | R_FAC | R_MEN, 200, K_PERSON,
         SC(R_ADM | R_CO, 0, 1, 0)),
    RULE("PATCH", V1 "/people/{id}", R_ADM | R_CO, 200, K_PERSON, SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"area\":\"Matrix area {{u}}\"}",
         .fp_sql = "SELECT coalesce(area, '') || version FROM core.person WHERE id = {{id}}"),
    RULE("GET", V1 "/people/{id}/assignments", R_ADM | R_CO, 200, K_PERSON,
         SC(R_ADM | R_CO, 0, 0, 0)),
    RULE("POST", V1 "/people/{id}/assignments", R_ADM | R_CO, 201, K_PERSON,
         SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"organisation_id\":{{org}},\"staff_id\":{{fstaff}},\"kind\":\"facilitator\"}",
         .fp_sql = "SELECT count(*) FROM core.assignment WHERE person_id = {{id}}"),
    RULE("DELETE", V1 "/assignments/{id}", R_ADM | R_CO, 204, K_ASSIGN_NEW,
         SC(R_ADM | R_CO, 0, 0, 0),
         .fp_sql =
             "SELECT coalesce(ended_at::text, 'live') FROM core.assignment WHERE id = {{id}}"),
    /* Households, flags, non-associations. */
    RULE("POST", V1 "/households", R_ADM | R_CO, 201, K_ORG, SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"organisation_id\":{{org}},\"name\":\"Matrix household {{u}}\"}",
         .fp_sql = "SELECT count(*) FROM core.household WHERE org_id = {{org}}"),
    RULE("GET", V1 "/households", R_ADM | R_CO, 200, K_HOUSEHOLD, SC(R_ADM | R_CO, 0, 0, 0),
         .list_sql = ORG_AC_SQL("household")),
    RULE("GET", V1 "/households/{id}", R_ADM | R_CO, 200, K_HOUSEHOLD, SC(R_ADM | R_CO, 0, 0, 0)),
    RULE("PATCH", V1 "/households/{id}", R_ADM | R_CO, 200, K_HOUSEHOLD, SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"name\":\"{{L}}-SECRET house {{u}}\"}",
         .fp_sql = "SELECT name FROM core.household WHERE id = {{id}}"),
    RULE("POST", V1 "/households/{id}/members", R_ADM | R_CO, 201, K_HOUSEHOLD,
         SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"person_id\":{{fperson}},\"relationship\":\"other\"}",
         .fp_sql = "SELECT count(*) FROM core.household_member WHERE household_id = {{id}}"),
    RULE("DELETE", V1 "/households/{id}/members/{person_id}", R_ADM | R_CO, 204, K_HHMEMBER_NEW,
         SC(R_ADM | R_CO, 0, 0, 0),
         .fp_sql = "SELECT count(*) FROM core.household_member WHERE person_id = {{id}}"),
    RULE("GET", V1 "/people/{id}/flags", R_ADM | R_CO, 200, K_PERSON, SC(R_ADM | R_CO, 0, 0, 0)),
    RULE("POST", V1 "/people/{id}/flags", R_ADM | R_CO, 201, K_PERSON, SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"organisation_id\":{{org}},\"kind\":\"other\",\"severity\":\"low\"}",
         .fp_sql = "SELECT count(*) FROM core.person_flag WHERE person_id = {{id}}"),
    RULE("DELETE", V1 "/flags/{id}", R_ADM | R_CO, 204, K_FLAG_NEW, SC(R_ADM | R_CO, 0, 0, 0),
         .fp_sql = "SELECT coalesce(removed_at::text, 'live') FROM core.person_flag"
                   " WHERE id = {{id}}"),
    RULE("GET", V1 "/non-associations", R_ADM | R_CO, 200, K_NONASSOC, SC(R_ADM | R_CO, 0, 0, 0),
         .list_sql = ORG_AC_SQL("non_association")),
    RULE("POST", V1 "/non-associations", R_ADM | R_CO, 201, K_ORG, SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"organisation_id\":{{org}},\"person_a\":{{p1}},\"person_b\":{{fperson}}}",
         .fp_sql = "SELECT count(*) FROM core.non_association WHERE org_id = {{org}}"),
    RULE("DELETE", V1 "/non-associations/{id}", R_ADM | R_CO, 204, K_NONASSOC_NEW,
         SC(R_ADM | R_CO, 0, 0, 0),
         .fp_sql = "SELECT coalesce(ended_at::text, 'live') FROM core.non_association"
                   " WHERE id = {{id}}"),
    /* Referrals and consent. */
    RULE("POST", V1 "/people/{id}/consents", R_ADM | R_CO, 201, K_PERSON, SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"organisation_id\":{{org}},\"purpose\":\"programme_participation\","
                 "\"given_on\":\"2026-01-15\"}",
         .fp_sql = "SELECT count(*) FROM core.consent WHERE person_id = {{id}}"),
    RULE("GET", V1 "/people/{id}/consents", R_ADM | R_CO, 200, K_PERSON, SC(R_ADM | R_CO, 0, 0, 0)),
    RULE("POST", V1 "/consents/{id}/withdraw", R_ADM | R_CO, 200, K_CONSENT_NEW,
         SC(R_ADM | R_CO, 0, 0, 0), .body = "{\"withdrawn_on\":\"2026-02-01\"}",
         .fp_sql =
             "SELECT coalesce(withdrawn_on::text, 'live') FROM core.consent WHERE id = {{id}}"),
    RULE("POST", V1 "/referrals", R_ADM | R_CO, 201, K_ORG, SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"organisation_id\":{{org}},\"person_id\":{{p1}},\"source\":\"probation\","
                 "\"referred_on\":\"2026-01-10\"}",
         .fp_sql = "SELECT count(*) FROM core.referral WHERE org_id = {{org}}"),
    RULE("GET", V1 "/referrals", R_ADM | R_CO, 200, K_REFERRAL, SC(R_ADM | R_CO, 0, 0, 0),
         .list_sql = ORG_AC_SQL("referral")),
    RULE("GET", V1 "/referrals/{id}", R_ADM | R_CO, 200, K_REFERRAL, SC(R_ADM | R_CO, 0, 0, 0)),
    RULE("PATCH", V1 "/referrals/{id}", R_ADM | R_CO, 200, K_REFERRAL, SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"referrer_name\":\"{{L}}-SECRET referrer {{u}}\"}",
         .fp_sql = "SELECT coalesce(referrer_name, '') || version FROM core.referral"
                   " WHERE id = {{id}}"),
    RULE("POST", V1 "/referrals/{id}/status", R_ADM | R_CO, 200, K_REFERRAL_NEW,
         SC(R_ADM | R_CO, 0, 0, 0), .body = "{\"status\":\"contacted\"}",
         .fp_sql = "SELECT status::text || version FROM core.referral WHERE id = {{id}}"),
    /* Audit, subject access, erasure, reports. */
    RULE("GET", V1 "/audit", R_ADM, 200, K_AUDIT, SC(R_ADM, 0, 0, 0),
         .list_sql = "SELECT a.id FROM core.audit a JOIN core.membership m ON m.org_id = a.org_id"
                     " AND m.staff_id = {{staff}} AND m.role = 'admin'"),
    RULE("GET", V1 "/people/{id}/export", R_ADM, 200, K_PERSON, SC(R_ADM, 0, 0, 0)),
    RULE("POST", V1 "/people/{id}/erase", R_ADM, 200, K_PERSON_NEW, SC(R_ADM, 0, 0, 0),
         .body = "{\"organisation_id\":{{org}},\"confirm\":true}",
         .fp_sql = "SELECT p.given_name || coalesce(p.erased_at::text, '') || count(po.org_id)"
                   " FROM core.person p LEFT JOIN core.person_org po ON po.person_id = p.id"
                   " WHERE p.id = {{id}} GROUP BY p.id"),
    RULE("GET", V1 "/reports/summary", R_ADM | R_COM, 200, K_ORG, SC(R_ADM | R_COM, 0, 0, 0),
         .query = "?organisation_id={{org}}"),
    /* Sessions and series: laid out and changed by admins and coordinators
     * of the programme's organisation; read too by facilitators and mentors
     * who staff the session or are on the programme's staff (none here). */
    RULE("POST", V1 "/programmes/{id}/series", R_ADM | R_CO, 201, K_PROGRAMME,
         SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"title\":\"Matrix series {{u}}\",\"rrule\":\"FREQ=WEEKLY;COUNT=2\","
                 "\"start\":\"2041-05-07T10:00\",\"duration_minutes\":60,"
                 "\"location_kind\":\"home\"}",
         .fp_sql = "SELECT count(*) FROM core.series WHERE programme_id = {{id}}"),
    RULE("POST", V1 "/programmes/{id}/sessions", R_ADM | R_CO, 201, K_PROGRAMME,
         SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"title\":\"Matrix session {{u}}\",\"start\":\"2041-05-08T10:00\","
                 "\"duration_minutes\":60,\"location_kind\":\"home\"}",
         .fp_sql = "SELECT count(*) FROM core.session WHERE programme_id = {{id}}"),
    RULE("GET", V1 "/sessions", R_ADM | R_CO | R_FAC | R_MEN, 200, K_SESSION,
         SC(R_ADM | R_CO, 0, 0, 0), .list_sql = SESSIONS_SQL),
    RULE("GET", V1 "/sessions/{id}", R_ADM | R_CO | R_FAC | R_MEN, 200, K_SESSION,
         SC(R_ADM | R_CO, 0, 0, 0)),
    RULE("PATCH", V1 "/sessions/{id}", R_ADM | R_CO, 200, K_SESSION, SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"title\":\"Matrix session {{u}}\"}",
         .fp_sql = "SELECT title || version FROM core.session WHERE id = {{id}}"),
    RULE("POST", V1 "/sessions/{id}/cancel", R_ADM | R_CO, 200, K_SESSION_NEW,
         SC(R_ADM | R_CO, 0, 0, 0), .body = "{\"reason\":\"Matrix\"}",
         .fp_sql = "SELECT status::text || version FROM core.session WHERE id = {{id}}"),
    RULE("PUT", V1 "/sessions/{id}/staff", R_ADM | R_CO, 200, K_SESSION, SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"staff\":[{\"staff_id\":{{fstaff}}}]}",
         .fp_sql = "SELECT s.version || '/' || count(ss.staff_id) FROM core.session s LEFT JOIN"
                   " core.session_staff ss ON ss.session_id = s.id WHERE s.id = {{id}}"
                   " GROUP BY s.id"),
    RULE("GET", V1 "/series/{id}", R_ADM | R_CO | R_FAC | R_MEN, 200, K_SERIES,
         SC(R_ADM | R_CO, 0, 0, 0)),
    RULE("POST", V1 "/series/{id}/cancel", R_ADM | R_CO, 200, K_SERIES_NEW,
         SC(R_ADM | R_CO, 0, 0, 0), .body = "{\"from\":\"2041-01-01\",\"reason\":\"Matrix\"}",
         .fp_sql = "SELECT coalesce(cancelled_at::text, 'live') || sequence FROM core.series"
                   " WHERE id = {{id}}"),
    /* The example plugin: every note is its author's alone. */
    RULE("GET", V1 "/example/notes", R_ALL, 200, K_NOTE, SC(0, 0, 0, 1),
         .list_sql = "SELECT id FROM example.notes WHERE author_staff_id = {{staff}}",
         .flags = F_NOTES),
    RULE("POST", V1 "/example/notes", R_ALL, 201, K_NONE, SC(0, 0, 0, 0),
         .body = "{\"body\":\"note {{u}}\"}"),
    RULE("GET", V1 "/example/notes/{id}", R_ALL, 200, K_NOTE, SC(0, 0, 0, 1),
         .not_found = "example.not_found"),
    /* Bookings: admins and coordinators of the session's organisation;
     * facilitators and mentors for the people on their caseload. The list's
     * path names a session, its items are bookings: no witness. */
    RULE("POST", V1 "/sessions/{id}/bookings", R_ADM | R_CO | R_FAC | R_MEN, 201, K_BK_SESSION,
         SC(R_ADM | R_CO, 0, 0, 0), .body = "{\"person_id\":{{fperson}}}",
         .fp_sql = "SELECT count(*) || '/' || max(s.booked) FROM core.booking b"
                   " JOIN core.session s ON s.id = b.session_id WHERE s.id = {{id}}"),
    RULE("GET", V1 "/sessions/{id}/bookings", R_ADM | R_CO | R_FAC | R_MEN, 200, K_BK_SESSION,
         SC(0, 0, 0, 0),
         .list_sql = "SELECT b.id FROM core.booking b JOIN core.session s ON s.id = b.session_id"
                     " JOIN core.membership m ON m.org_id = s.org_id AND m.staff_id = {{staff}}"
                     " WHERE m.role IN ('admin', 'coordinator') OR (m.role IN ('facilitator',"
                     " 'mentor') AND core.person_access({{staff}}, b.person_id) = 'caseload')"),
    RULE("GET", V1 "/bookings/{id}", R_ADM | R_CO | R_FAC | R_MEN, 200, K_BOOKING,
         SC(R_ADM | R_CO, 0, 1, 0)),
    RULE("POST", V1 "/bookings/{id}/cancel", R_ADM | R_CO | R_FAC | R_MEN, 200, K_BOOKING_NEW,
         SC(R_ADM | R_CO, 0, 1, 0), .body = "{}",
         .fp_sql = "SELECT status::text || version FROM core.booking WHERE id = {{id}}"),
    RULE("POST", V1 "/bookings/{id}/accept", R_ADM | R_CO | R_FAC | R_MEN, 200, K_OFFER_NEW,
         SC(R_ADM | R_CO, 0, 1, 0),
         .fp_sql = "SELECT status::text || version FROM core.booking WHERE id = {{id}}"),
    RULE("POST", V1 "/bookings/{id}/decline", R_ADM | R_CO | R_FAC | R_MEN, 200, K_OFFER_NEW,
         SC(R_ADM | R_CO, 0, 1, 0),
         .fp_sql = "SELECT status::text || version FROM core.booking WHERE id = {{id}}"),
    /* Programmes: managed by admins and coordinators; read by the staff
     * who run them (none here) and by commissioners. */
    RULE("POST", V1 "/programmes", R_ADM | R_CO, 201, K_ORG, SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"organisation_id\":{{org}},\"type\":\"example\","
                 "\"name\":\"Matrix programme {{u}}\"}",
         .fp_sql = "SELECT count(*) FROM core.programme WHERE org_id = {{org}}"),
    RULE("GET", V1 "/programmes", R_ALL, 200, K_PROGRAMME, SC(R_ADM | R_CO | R_COM, 0, 0, 0),
         .list_sql = PROGRAMMES_SQL),
    RULE("GET", V1 "/programmes/{id}", R_ALL, 200, K_PROGRAMME, SC(R_ADM | R_CO | R_COM, 0, 0, 0)),
    RULE("PATCH", V1 "/programmes/{id}", R_ADM | R_CO, 200, K_PROGRAMME, SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"name\":\"Matrix programme {{u}}\"}",
         .fp_sql = "SELECT name || version FROM core.programme WHERE id = {{id}}"),
    RULE("GET", V1 "/programmes/{id}/staff", R_ADM | R_CO | R_FAC | R_MEN, 200, K_PROGRAMME,
         SC(R_ADM | R_CO, 0, 0, 0)),
    RULE("POST", V1 "/programmes/{id}/staff", R_ADM | R_CO, 201, K_PROGRAMME,
         SC(R_ADM | R_CO, 0, 0, 0), .body = "{\"staff_id\":{{fstaff}},\"role\":\"guest\"}",
         .fp_sql = "SELECT count(*) FROM core.programme_staff WHERE programme_id = {{id}}"),
    RULE("DELETE", V1 "/programmes/{id}/staff/{staff_id}/{role}", R_ADM | R_CO, 204, K_PSTAFF_NEW,
         SC(R_ADM | R_CO, 0, 0, 0),
         .fp_sql = "SELECT count(*) FROM core.programme_staff WHERE staff_id = {{id}}"),
    /* Venues, rooms, closures: managed by admins and coordinators, read by
     * the organisation's facilitators and mentors, never commissioners. */
    RULE("POST", V1 "/venues", R_ADM | R_CO, 201, K_ORG, SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"organisation_id\":{{org}},\"name\":\"Matrix venue {{u}}\","
                 "\"location_kind\":\"home\"}",
         .fp_sql = "SELECT count(*) FROM core.venue WHERE org_id = {{org}}"),
    RULE("GET", V1 "/venues", R_ADM | R_CO | R_FAC | R_MEN, 200, K_VENUE,
         SC(R_ADM | R_CO | R_FAC | R_MEN, 0, 0, 0), .list_sql = ORG_MEMBER_SQL("venue")),
    RULE("GET", V1 "/venues/{id}", R_ADM | R_CO | R_FAC | R_MEN, 200, K_VENUE,
         SC(R_ADM | R_CO | R_FAC | R_MEN, 0, 0, 0)),
    RULE("PATCH", V1 "/venues/{id}", R_ADM | R_CO, 200, K_VENUE, SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"name\":\"Matrix venue {{u}}\"}",
         .fp_sql = "SELECT name FROM core.venue WHERE id = {{id}}"),
    RULE("POST", V1 "/venues/{id}/rooms", R_ADM | R_CO, 201, K_VENUE, SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"name\":\"Matrix room {{u}}\"}",
         .fp_sql = "SELECT count(*) FROM core.room WHERE venue_id = {{id}}"),
    RULE("DELETE", V1 "/rooms/{id}", R_ADM | R_CO, 204, K_ROOM_NEW, SC(R_ADM | R_CO, 0, 0, 0),
         .fp_sql = "SELECT coalesce(archived_at::text, 'live') FROM core.room WHERE id = {{id}}"),
    RULE("POST", V1 "/closures", R_ADM | R_CO, 201, K_ORG, SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"organisation_id\":{{org}},\"starts_on\":\"2041-02-01\","
                 "\"ends_on\":\"2041-02-01\",\"reason\":\"Matrix closure {{u}}\","
                 "\"effect\":\"flag\"}",
         .fp_sql = "SELECT count(*) FROM core.closure WHERE org_id = {{org}}"),
    RULE("GET", V1 "/closures", R_ADM | R_CO | R_FAC | R_MEN, 200, K_CLOSURE,
         SC(R_ADM | R_CO | R_FAC | R_MEN, 0, 0, 0), .list_sql = ORG_MEMBER_SQL("closure")),
    RULE("DELETE", V1 "/closures/{id}", R_ADM | R_CO, 204, K_CLOSURE_NEW, SC(R_ADM | R_CO, 0, 0, 0),
         .fp_sql = "SELECT count(*) FROM core.closure WHERE id = {{id}}"),
    /* Cohorts and enrolments: managed by admins and coordinators of the
     * programme's organisation, read too by the staff who run the programme
     * (none here). Alerts: admins and coordinators of their organisation. */
    RULE("POST", V1 "/programmes/{id}/cohorts", R_ADM | R_CO, 201, K_PROGRAMME,
         SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"name\":\"Matrix cohort {{u}}\",\"starts_on\":\"2041-01-07\"}",
         .fp_sql = "SELECT count(*) FROM core.cohort WHERE programme_id = {{id}}"),
    RULE("GET", V1 "/cohorts", R_ADM | R_CO | R_FAC | R_MEN, 200, K_COHORT,
         SC(R_ADM | R_CO, 0, 0, 0),
         .list_sql = "SELECT c.id FROM core.cohort c WHERE c.programme_id IN (" PROGRAMMES_SQL ")"),
    RULE("GET", V1 "/cohorts/{id}", R_ADM | R_CO | R_FAC | R_MEN, 200, K_COHORT,
         SC(R_ADM | R_CO, 0, 0, 0)),
    RULE("PATCH", V1 "/cohorts/{id}", R_ADM | R_CO, 200, K_COHORT, SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"name\":\"Matrix cohort {{u}}\"}",
         .fp_sql = "SELECT name || version FROM core.cohort WHERE id = {{id}}"),
    RULE("POST", V1 "/cohorts/{id}/enrolments", R_ADM | R_CO, 201, K_COHORT,
         SC(R_ADM | R_CO, 0, 0, 0), .body = "{\"person_id\":{{fperson}}}",
         .fp_sql = "SELECT count(*) FROM core.enrolment WHERE cohort_id = {{id}}"),
    RULE("GET", V1 "/cohorts/{id}/enrolments", R_ADM | R_CO | R_FAC | R_MEN, 200, K_COHORT,
         SC(R_ADM | R_CO, 0, 0, 0)),
    RULE("GET", V1 "/enrolments/{id}", R_ADM | R_CO | R_FAC | R_MEN, 200, K_ENROLMENT,
         SC(R_ADM | R_CO, 0, 0, 0)),
    RULE("POST", V1 "/enrolments/{id}/hold", R_ADM | R_CO, 200, K_ENROL_NEW,
         SC(R_ADM | R_CO, 0, 0, 0), .body = "{\"reason\":\"other\"}",
         .fp_sql = "SELECT status::text || version FROM core.enrolment WHERE id = {{id}}"),
    RULE("POST", V1 "/enrolments/{id}/resume", R_ADM | R_CO, 200, K_ENROL_HELD_NEW,
         SC(R_ADM | R_CO, 0, 0, 0), .body = "{}",
         .fp_sql = "SELECT status::text || version FROM core.enrolment WHERE id = {{id}}"),
    RULE("POST", V1 "/enrolments/{id}/leave", R_ADM | R_CO, 200, K_ENROL_NEW,
         SC(R_ADM | R_CO, 0, 0, 0), .body = "{\"left_on\":\"2041-01-01\",\"reason\":\"other\"}",
         .fp_sql = "SELECT status::text || version FROM core.enrolment WHERE id = {{id}}"),
    RULE("GET", V1 "/alerts", R_ADM | R_CO, 200, K_ALERT, SC(R_ADM | R_CO, 0, 0, 0),
         .list_sql = ORG_AC_SQL("alert")),
    RULE("POST", V1 "/alerts/{id}/resolve", R_ADM | R_CO, 200, K_ALERT_NEW,
         SC(R_ADM | R_CO, 0, 0, 0),
         .fp_sql = "SELECT coalesce(resolved_at::text, 'open') FROM core.alert WHERE id = {{id}}"),
    RULE("POST", V1 "/people/{id}/milestones", R_ADM | R_CO, 201, K_MILESTONE_NEW,
         SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"programme_id\":{{id}},\"title\":\"Matrix milestone\",\"offset_days\":-7,"
                 "\"local_time\":\"10:00\",\"duration_minutes\":60,\"location_kind\":\"prison\"}",
         .fp_sql = "SELECT count(*) FROM core.session WHERE programme_id = {{id}}"
                   " AND anchor_person_id IS NOT NULL"),
    /* Attendance registers: admins and coordinators of the session's
     * organisation; facilitators (and, to read, mentors) staffing the
     * session — the fixture's are the ones P1 is assigned to. Outcome codes:
     * built-in plus the caller's organisations' own; admins change them. */
    RULE("GET", V1 "/sessions/{id}/register", R_ADM | R_CO | R_FAC | R_MEN, 200, K_REGISTER,
         SC(R_ADM | R_CO, 0, 1, 0)),
    RULE("PUT", V1 "/sessions/{id}/register", R_ADM | R_CO | R_FAC, 200, K_REGISTER,
         SC(R_ADM | R_CO, 0, 1, 0),
         .body = "{\"entries\":[{\"person_id\":{{p1}},\"outcome\":\"attended\"}]}",
         .fp_sql = "SELECT count(*) || '/' || coalesce(sum(version), 0) FROM core.attendance"
                   " WHERE session_id = {{id}}"),
    RULE("GET", V1 "/sessions/{id}/register/history", R_ADM | R_CO, 200, K_REGISTER,
         SC(R_ADM | R_CO, 0, 0, 0)),
    RULE("GET", V1 "/enrolments/{id}/completion", R_ADM | R_CO | R_FAC | R_MEN, 200, K_ENROLMENT,
         SC(R_ADM | R_CO, 0, 0, 0)),
    RULE("GET", V1 "/outcome-codes", R_ADM | R_CO | R_FAC | R_MEN, 200, K_OUTCOME,
         SC(R_ADM | R_CO | R_FAC | R_MEN, 0, 0, 0),
         .list_sql = "SELECT oc.id FROM core.outcome_code oc WHERE oc.archived_at IS NULL AND"
                     " (oc.org_id IS NULL OR oc.org_id IN (SELECT m.org_id FROM core.membership m"
                     " WHERE m.staff_id = {{staff}} AND m.role IN ('admin', 'coordinator',"
                     " 'facilitator', 'mentor')))"),
    RULE("POST", V1 "/outcome-codes", R_ADM, 201, K_ORG, SC(R_ADM, 0, 0, 0),
         .body = "{\"organisation_id\":{{org}},\"code\":\"matrix_{{u}}\",\"label\":\"Matrix\","
                 "\"attended\":true,\"compliant\":true}",
         .fp_sql = "SELECT count(*) FROM core.outcome_code WHERE org_id = {{org}}"),
    RULE("DELETE", V1 "/outcome-codes/{id}", R_ADM, 204, K_OUTCOME_NEW, SC(R_ADM, 0, 0, 0),
         .fp_sql = "SELECT coalesce(archived_at::text, 'live') FROM core.outcome_code"
                   " WHERE id = {{id}}"),
    /* group_course G2 */
    /* Eligibility rules, admissions and the waiting list: admins and
     * coordinators of the course's organisation, on G1's matrix course and
     * cohort. The rule PUT here (consent_required) changes nothing the other
     * rows rely on, and PUT again is the same version. POST admissions
     * names no referral of anyone (the matrix has no fresh assessed
     * referral), so everyone allowed gets 404 — from the cohort's scope or
     * the referral's; its success paths are in
     * tests/integration/test_gc_admission.c. */
    RULE("PUT", V1 "/group_course/courses/{id}/eligibility", R_ADM | R_CO, 200, K_GC_COURSE,
         SC(R_ADM | R_CO, 0, 0, 0), .body = "{\"rules\":{\"consent_required\":true}}",
         .fp_sql = "SELECT settings::text || version FROM core.programme WHERE id = {{id}}"),
    RULE("GET", V1 "/group_course/courses/{id}/eligibility", R_ADM | R_CO, 200, K_GC_COURSE,
         SC(R_ADM | R_CO, 0, 0, 0)),
    RULE("GET", V1 "/group_course/courses/{id}/waitlist", R_ADM | R_CO, 200, K_GC_COURSE,
         SC(R_ADM | R_CO, 0, 0, 0)),
    RULE("POST", V1 "/group_course/cohorts/{id}/admissions", R_ADM | R_CO, 201, K_GC_COHORT,
         SC(0, 0, 0, 0), .body = "{\"referral_id\":9007199254740991}",
         .fp_sql = "SELECT count(*) FROM group_course.admission WHERE cohort_id = {{id}}"),
    RULE("GET", V1 "/group_course/cohorts/{id}/admissions", R_ADM | R_CO, 200, K_GC_COHORT,
         SC(R_ADM | R_CO, 0, 0, 0)),
    RULE("POST", V1 "/group_course/cohorts/{id}/admit-waitlist", R_ADM | R_CO, 200, K_GC_COHORT,
         SC(R_ADM | R_CO, 0, 0, 0), .body = "{}",
         .fp_sql = "SELECT count(*) FROM core.enrolment WHERE cohort_id = {{id}}"),
    /* end group_course G2 */
    /* group_course G1 */
    /* Courses, cohort timetables, re-lays, catch-ups, guest approvals:
     * managed by admins and coordinators of the course's organisation, read
     * (and catch-ups arranged) by the facilitators who run the course (none
     * of the matrix's callers: nobody is on the course's staff). Another
     * programme type is not found (tests/integration/test_gc_timetable.c). */
    RULE("GET", V1 "/group_course/courses/{id}", R_ADM | R_CO | R_FAC, 200, K_GC_COURSE,
         SC(R_ADM | R_CO, 0, 0, 0)),
    RULE("POST", V1 "/group_course/cohorts", R_ADM | R_CO, 201, K_GC_COURSE,
         SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"programme_id\":{{id}},\"name\":\"Matrix course cohort {{u}}\","
                 "\"starts_on\":\"2041-06-03\",\"pattern\":\"weekly\",\"location_kind\":\"home\"}",
         .fp_sql = "SELECT count(*) FROM core.cohort WHERE programme_id = {{id}}"),
    RULE("GET", V1 "/group_course/cohorts/{id}/timetable", R_ADM | R_CO | R_FAC, 200, K_GC_COHORT,
         SC(R_ADM | R_CO, 0, 0, 0)),
    RULE("POST", V1 "/group_course/cohorts/{id}/relay", R_ADM | R_CO, 200, K_GC_COHORT,
         SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"from_module\":\"m1\",\"from_date\":\"2041-01-07\","
                 "\"reason\":\"Matrix relay {{u}}\"}",
         .fp_sql = "SELECT count(*) || '/' || sum(sequence) FROM core.session"
                   " WHERE cohort_id = {{id}}"),
    RULE("POST", V1 "/group_course/enrolments/{id}/catch-ups", R_ADM | R_CO | R_FAC, 201,
         K_GC_ENROL_NEW, SC(R_ADM | R_CO, 0, 0, 0),
         .body = "{\"module\":\"m1\",\"start\":\"2041-05-01T10:00\"}",
         .fp_sql = "SELECT count(*) FROM group_course.catch_up WHERE enrolment_id = {{id}}"),
    RULE("POST", V1 "/group_course/sessions/{id}/guest-approval", R_ADM | R_CO, 200, K_GC_SESSION,
         SC(R_ADM | R_CO, 0, 0, 0), .body = "{}",
         .fp_sql = "SELECT count(*) FROM group_course.guest_approval WHERE session_id = {{id}}"),
    RULE("GET", V1 "/group_course/checks", R_ADM | R_CO | R_FAC, 200, K_NONE, SC(0, 0, 0, 0)),
    /* end group_course G1 */
    /* group_course G3 */
    /* Certificates, graduation, onward referrals: admins and coordinators of
     * the course's organisation, and (certificates, onward referrals, reads)
     * the facilitators who run the course — none of the matrix's callers.
     * A programme of another type is not found: on the matrix's 'example'
     * cohort and enrolment nobody is in scope (SC 0) and nothing changes;
     * on the course's, reads and onward referrals succeed. Certificates
     * (completed enrolments only), graduations and their households:
     * tests/integration/test_gc_course_run.c. */
    RULE("POST", V1 "/group_course/enrolments/{id}/certificate", R_ADM | R_CO | R_FAC, 201,
         K_ENROLMENT, SC(0, 0, 0, 0), .fp_sql = "SELECT count(*) FROM group_course.certificate"),
    RULE("GET", V1 "/group_course/cohorts/{id}/certificates", R_ADM | R_CO | R_FAC, 200,
         K_GC_COHORT, SC(R_ADM | R_CO, 0, 0, 0)),
    RULE("POST", V1 "/group_course/cohorts/{id}/graduation", R_ADM | R_CO, 201, K_COHORT,
         SC(0, 0, 0, 0), .body = "{\"start\":\"2041-06-03T14:00\",\"duration_minutes\":120}",
         .fp_sql = "SELECT count(*) FROM core.session WHERE programme_id = (SELECT programme_id"
                   " FROM core.cohort WHERE id = {{id}})"),
    RULE("GET", V1 "/group_course/cohorts/{id}/graduation", R_ADM | R_CO | R_FAC, 200, K_COHORT,
         SC(0, 0, 0, 0)),
    RULE("POST", V1 "/group_course/cohorts/{id}/graduation/households", R_ADM | R_CO, 201, K_COHORT,
         SC(0, 0, 0, 0), .body = "{\"enrolment_id\":1,\"household_id\":1}",
         .fp_sql = "SELECT count(*) FROM group_course.graduation_household"),
    RULE("POST", V1 "/group_course/enrolments/{id}/onward", R_ADM | R_CO | R_FAC, 201,
         K_GC_ENROL_NEW, SC(R_ADM | R_CO, 0, 0, 0), .body = "{\"pathway\":\"health\"}",
         .fp_sql = "SELECT count(*) FROM group_course.onward_referral WHERE enrolment_id ="
                   " {{id}}"),
    RULE("GET", V1 "/group_course/enrolments/{id}/onward", R_ADM | R_CO | R_FAC, 200,
         K_GC_ENROLMENT, SC(R_ADM | R_CO, 0, 0, 0)),
    RULE("GET", V1 "/group_course/reports/cohorts", R_ADM | R_CO | R_COM, 200, K_ORG,
         SC(R_ADM | R_CO | R_COM, 0, 0, 0), .query = "?organisation_id={{org}}"),
    /* end group_course G3 */
    /* feeds */
    /* Calendar feed links: managed by admins and coordinators of the feed's
     * organisation, and by a mentor or facilitator for their own; household
     * feeds made by admins and coordinators only. The links themselves are
     * public (the secret is the credential); the one-event downloads follow
     * GET /sessions/{id} and GET /bookings/{id}. */
    RULE("POST", V1 "/feeds", R_ADM | R_CO | R_FAC | R_MEN, 201, K_HOUSEHOLD,
         SC(R_ADM | R_CO, 0, 0, 0), .body = "{\"kind\":\"household\",\"household_id\":{{id}}}",
         .fp_sql = "SELECT count(*) FROM core.calendar_feed WHERE household_id = {{id}}"),
    RULE("GET", V1 "/feeds", R_ADM | R_CO | R_FAC | R_MEN, 200, K_FEED, SC(R_ADM | R_CO, 0, 0, 1),
         .list_sql = "SELECT f.id FROM core.calendar_feed f WHERE EXISTS (SELECT 1 FROM"
                     " core.membership m WHERE m.org_id = f.org_id AND m.staff_id = {{staff}}"
                     " AND m.role IN ('admin', 'coordinator')) OR (f.kind IN ('mentor',"
                     " 'facilitator') AND f.staff_id = {{staff}})"),
    RULE("GET", V1 "/feeds/{id}", R_ADM | R_CO | R_FAC | R_MEN, 200, K_FEED,
         SC(R_ADM | R_CO, 0, 0, 1)),
    RULE("POST", V1 "/feeds/{id}/revoke", R_ADM | R_CO | R_FAC | R_MEN, 200, K_FEED_NEW,
         SC(R_ADM | R_CO, 0, 0, 0),
         .fp_sql = "SELECT coalesce(revoked_at::text, 'live') FROM core.calendar_feed"
                   " WHERE id = {{id}}"),
    RULE("POST", V1 "/feeds/{id}/regenerate", R_ADM | R_CO | R_FAC | R_MEN, 200, K_FEED_NEW,
         SC(R_ADM | R_CO, 0, 0, 0),
         .fp_sql = "SELECT token_selector FROM core.calendar_feed WHERE id = {{id}}"),
    RULE("GET", V1 "/sessions/{id}/ics", R_ADM | R_CO | R_FAC | R_MEN, 200, K_SESSION,
         SC(R_ADM | R_CO, 0, 0, 0)),
    RULE("GET", V1 "/bookings/{id}/ics", R_ADM | R_CO | R_FAC | R_MEN, 200, K_BOOKING,
         SC(R_ADM | R_CO, 0, 1, 0)),
    RULE("GET", "/feeds/{token}", R_PUB, 200, K_FEED_TOKEN, SC(0, 0, 0, 0)),
    RULE("GET", "/feeds/{token}/sessions/{file}", R_PUB, 200, K_FEED_EVENT, SC(0, 0, 0, 0)),
    /* end feeds */
};
#define NRULES (sizeof rules / sizeof rules[0])

/* --- callers and fixtures ------------------------------------------------ */

struct caller {
	const char *name, *role_name;
	int org; /* 0 = A, 1 = B, -1 = none */
	unsigned role;
	int sa, assigned; /* assigned: P1 of their organisation is on their caseload */
	char email[64];
	char *token;
	long long staff;
};

#define CALLER(n, rn, o, r, s, a)                                                                  \
	{                                                                                          \
		.name = (n), .role_name = (rn), .org = (o), .role = (r), .sa = (s),                \
		.assigned = (a)                                                                    \
	}

static struct caller callers[] = {
    CALLER("anonymous", NULL, -1, 0, 0, 0),
    CALLER("A-admin", "admin", 0, R_ADM, 0, 0),
    CALLER("A-coordinator", "coordinator", 0, R_CO, 0, 0),
    CALLER("A-facilitator", "facilitator", 0, R_FAC, 0, 1),
    CALLER("A-mentor", "mentor", 0, R_MEN, 0, 1),
    CALLER("A-commissioner", "commissioner", 0, R_COM, 0, 0),
    CALLER("A-facilitator-unassigned", "facilitator", 0, R_FAC, 0, 0),
    CALLER("A-mentor-unassigned", "mentor", 0, R_MEN, 0, 0),
    CALLER("A-mentor-ended", "mentor", 0, R_MEN, 0, 0),
    CALLER("A-facilitator-wrong-kind", "facilitator", 0, R_FAC, 0, 0),
    CALLER("B-admin", "admin", 1, R_ADM, 0, 0),
    CALLER("B-coordinator", "coordinator", 1, R_CO, 0, 0),
    CALLER("B-facilitator", "facilitator", 1, R_FAC, 0, 1),
    CALLER("B-mentor", "mentor", 1, R_MEN, 0, 1),
    CALLER("B-commissioner", "commissioner", 1, R_COM, 0, 0),
    CALLER("B-facilitator-unassigned", "facilitator", 1, R_FAC, 0, 0),
    CALLER("B-mentor-unassigned", "mentor", 1, R_MEN, 0, 0),
    CALLER("server-admin", NULL, -1, 0, 1, 0),
};
#define NCALLERS (sizeof callers / sizeof callers[0])

static const char *const org_names[2] = {"Matrix org A", "Matrix org B"};

/* What each organisation holds. */
struct fixture {
	long long org, p1, p2, child, hh, flag, na, consent, referral, assign, token, note, audit;
	long long admin, facilitator, mentor, facilitator_other;
	/* The person both organisations hold, and what each recorded about them. */
	long long ps, ps_flag, ps_hh, ps_na, ps_consent, ps_referral, ps_assign;
	/* Bookings: a programme, a future session taken by booking, P1 booked. */
	long long prog, bk_session, booking;
	/* Programmes, venues, closures: one of each. */
	long long programme, venue, closure;
	/* Cohorts: one in the programme with P1 enrolled; an open alert. */
	long long cohort, enrolment, alert;
	/* Sessions: one of the programme, and a series with one instance. */
	long long session, series;
	/* Registers: a past session staffed by the facilitator and mentor, P1
	 * seated; an outcome code of the organisation's own. */
	long long reg_session, outcome;
	/* group_course G1: a course, its cohort (P1 enrolled), a guest session. */
	long long gc_course, gc_cohort, gc_enrolment, gc_session;
	/* feeds: a household feed with a known link, the mentor's own feed. */
	long long feed, feed_mentor;
	char feed_token[80];
};
static struct fixture fx[2];

/* --- mixed objects ------------------------------------------------------ */

/* Requests that pair the caller's own object with another organisation's
 * (in the path, the body or a filter), and the person both organisations
 * hold. Template keys {{a.x}} / {{b.x}} name fixtures of org A / B. */
#define X_LIST (-1) /* 200 with nothing the caller may not see, or 404 */
#define X_2XX  (-2)
#define X_TWIN (-3) /* refused exactly as the same body naming no object at all */
struct cross {
	const char *caller, *method, *path, *body;
	int expect;
	const char *fp_sql;
	const char *twin; /* X_TWIN: the body with the foreign id replaced by an unused one */
	const char *must; /* text the reply must hold: the caller's own record */
};

#define XC(c, m, p, b, e, fp)                                                                      \
	{                                                                                          \
		.caller = (c), .method = (m), .path = (p), .body = (b), .expect = (e),             \
		.fp_sql = (fp)                                                                     \
	}
#define XT(c, m, p, b, e, fp, t)                                                                   \
	{                                                                                          \
		.caller = (c), .method = (m), .path = (p), .body = (b), .expect = (e),             \
		.fp_sql = (fp), .twin = (t)                                                        \
	}
#define XM(c, m, p, b, e, must_hold)                                                               \
	{                                                                                          \
		.caller = (c), .method = (m), .path = (p), .body = (b), .expect = (e),             \
		.must = (must_hold)                                                                \
	}

static const struct cross crosses[] = {
    /* Writes that name a foreign object next to an own one: 404, no change. */
    XC("A-coordinator", "POST", V1 "/people/{{a.p1}}/flags",
       "{\"organisation_id\":{{b.org}},\"kind\":\"other\"}", 404,
       "SELECT count(*) FROM core.person_flag WHERE person_id = {{a.p1}}"),
    XC("A-coordinator", "POST", V1 "/people/{{b.p1}}/flags",
       "{\"organisation_id\":{{a.org}},\"kind\":\"other\"}", 404,
       "SELECT count(*) FROM core.person_flag WHERE person_id = {{b.p1}}"),
    XC("A-coordinator", "POST", V1 "/people/{{a.p1}}/consents",
       "{\"organisation_id\":{{b.org}},\"purpose\":\"programme_participation\","
       "\"given_on\":\"2026-01-15\"}",
       404, "SELECT count(*) FROM core.consent WHERE person_id = {{a.p1}}"),
    XC("A-coordinator", "POST", V1 "/referrals",
       "{\"organisation_id\":{{a.org}},\"person_id\":{{b.p1}},\"source\":\"probation\","
       "\"referred_on\":\"2026-01-10\"}",
       404, "SELECT count(*) FROM core.referral WHERE person_id = {{b.p1}}"),
    XC("A-coordinator", "POST", V1 "/referrals",
       "{\"organisation_id\":{{a.org}},\"person_id\":{{a.p1}},\"source\":\"probation\","
       "\"referred_on\":\"2026-01-10\",\"previous_referral_id\":{{b.referral}}}",
       404, "SELECT count(*) FROM core.referral WHERE previous_referral_id = {{b.referral}}"),
    XC("A-coordinator", "POST", V1 "/non-associations",
       "{\"organisation_id\":{{a.org}},\"person_a\":{{a.p1}},\"person_b\":{{b.p1}}}", 404,
       "SELECT count(*) FROM core.non_association WHERE {{b.p1}} IN (person_a, person_b)"),
    XC("A-coordinator", "POST", V1 "/households/{{a.hh}}/members",
       "{\"person_id\":{{b.p2}},\"relationship\":\"other\"}", 404,
       "SELECT count(*) FROM core.household_member WHERE person_id = {{b.p2}}"),
    XC("A-coordinator", "POST", V1 "/households/{{b.hh}}/members",
       "{\"person_id\":{{a.p2}},\"relationship\":\"other\"}", 404,
       "SELECT count(*) FROM core.household_member WHERE person_id = {{a.p2}}"),
    /* A staff member of another organisation is refused just as one who does
     * not exist: the reply tells nothing about them. */
    XT("A-coordinator", "POST", V1 "/people/{{a.p2}}/assignments",
       "{\"organisation_id\":{{a.org}},\"staff_id\":{{b.facilitator_other}},"
       "\"kind\":\"facilitator\"}",
       X_TWIN, "SELECT count(*) FROM core.assignment WHERE staff_id = {{b.facilitator_other}}",
       "{\"organisation_id\":{{a.org}},\"staff_id\":987654321,\"kind\":\"facilitator\"}"),
    XC("A-coordinator", "POST", V1 "/people/{{a.p2}}/assignments",
       "{\"organisation_id\":{{b.org}},\"staff_id\":{{b.facilitator_other}},"
       "\"kind\":\"facilitator\"}",
       404, "SELECT count(*) FROM core.assignment WHERE staff_id = {{b.facilitator_other}}"),
    XC("A-admin", "POST", V1 "/people/{{a.p2}}/erase",
       "{\"organisation_id\":{{b.org}},\"confirm\":true}", 404,
       "SELECT given_name || count(po.org_id) FROM core.person p JOIN core.person_org po"
       " ON po.person_id = p.id WHERE p.id = {{a.p2}} GROUP BY p.id"),
    XC("A-admin", "DELETE", V1 "/organisations/{{a.org}}/members/{{b.admin}}/admin", NULL, 404,
       "SELECT count(*) FROM core.membership WHERE staff_id = {{b.admin}}"),
    /* Pulling another organisation's staff member into one's own: refused
     * as for a staff id that does not exist (else ids can be probed). */
    XT("A-admin", "POST", V1 "/organisations/{{a.org}}/members",
       "{\"staff_id\":{{b.facilitator_other}},\"role\":\"mentor\"}", X_TWIN,
       "SELECT count(*) FROM core.membership WHERE staff_id = {{b.facilitator_other}}",
       "{\"staff_id\":987654321,\"role\":\"mentor\"}"),
    XC("A-commissioner", "GET", V1 "/reports/summary?organisation_id={{b.org}}", NULL, 404, NULL),
    /* Filters naming a foreign object never widen a list. */
    XC("A-coordinator", "GET", V1 "/people?organisation_id={{b.org}}", NULL, X_LIST, NULL),
    XC("A-mentor", "GET", V1 "/people?organisation_id={{b.org}}", NULL, X_LIST, NULL),
    XC("A-mentor", "GET", V1 "/people?q=Pat", NULL, X_LIST, NULL),
    XC("A-coordinator", "GET", V1 "/households?person_id={{b.p1}}", NULL, X_LIST, NULL),
    XC("A-coordinator", "GET", V1 "/non-associations?person_id={{b.p1}}", NULL, X_LIST, NULL),
    XC("A-coordinator", "GET", V1 "/referrals?person_id={{b.p1}}", NULL, X_LIST, NULL),
    XC("A-coordinator", "GET", V1 "/referrals?organisation_id={{b.org}}", NULL, X_LIST, NULL),
    XC("A-coordinator", "GET", V1 "/staff?organisation_id={{b.org}}", NULL, X_LIST, NULL),
    XC("A-admin", "GET", V1 "/audit?person_id={{b.p1}}", NULL, X_LIST, NULL),
    XC("A-admin", "GET", V1 "/audit?actor_id={{b.admin}}", NULL, X_LIST, NULL),
    /* The person both hold: each organisation sees only what it recorded. */
    XC("A-coordinator", "GET", V1 "/people/{{a.ps}}", NULL, 200, NULL),
    XC("B-coordinator", "GET", V1 "/people/{{a.ps}}", NULL, 200, NULL),
    XM("A-coordinator", "GET", V1 "/people/{{a.ps}}/flags", NULL, 200, "A-SECRET flag"),
    XM("B-coordinator", "GET", V1 "/people/{{a.ps}}/flags", NULL, 200, "B-SECRET flag"),
    XM("A-coordinator", "GET", V1 "/people/{{a.ps}}/consents", NULL, 200, "A-SECRET consent"),
    XM("B-coordinator", "GET", V1 "/people/{{a.ps}}/consents", NULL, 200, "B-SECRET consent"),
    XC("A-coordinator", "GET", V1 "/people/{{a.ps}}/assignments", NULL, 200, NULL),
    XC("B-coordinator", "GET", V1 "/people/{{a.ps}}/assignments", NULL, 200, NULL),
    XM("A-admin", "GET", V1 "/people/{{a.ps}}/export", NULL, 200, "A-SECRET flag"),
    XM("B-admin", "GET", V1 "/people/{{a.ps}}/export", NULL, 200, "B-SECRET flag"),
    XM("A-coordinator", "GET", V1 "/households?person_id={{a.ps}}", NULL, X_LIST,
       "A-SECRET shared house"),
    XM("B-coordinator", "GET", V1 "/households?person_id={{a.ps}}", NULL, X_LIST,
       "B-SECRET shared house"),
    XC("A-coordinator", "GET", V1 "/non-associations?person_id={{a.ps}}", NULL, X_LIST, NULL),
    XC("B-coordinator", "GET", V1 "/non-associations?person_id={{a.ps}}", NULL, X_LIST, NULL),
    XC("A-coordinator", "GET", V1 "/referrals?person_id={{a.ps}}", NULL, X_LIST, NULL),
    XC("B-coordinator", "GET", V1 "/referrals?person_id={{a.ps}}", NULL, X_LIST, NULL),
    XC("A-admin", "GET", V1 "/audit?person_id={{a.ps}}", NULL, X_LIST, NULL),
    XC("B-admin", "GET", V1 "/audit?person_id={{a.ps}}", NULL, X_LIST, NULL),
    XC("B-coordinator", "GET", V1 "/households/{{a.ps_hh}}", NULL, 404, NULL),
    XC("B-coordinator", "DELETE", V1 "/flags/{{a.ps_flag}}", NULL, 404,
       "SELECT coalesce(removed_at::text, 'live') FROM core.person_flag WHERE id = {{a.ps_flag}}"),
    XC("B-coordinator", "POST", V1 "/consents/{{a.ps_consent}}/withdraw",
       "{\"withdrawn_on\":\"2026-02-01\"}", 404,
       "SELECT coalesce(withdrawn_on::text, 'live') FROM core.consent WHERE id = {{a.ps_consent}}"),
    XC("B-coordinator", "DELETE", V1 "/assignments/{{a.ps_assign}}", NULL, 404,
       "SELECT coalesce(ended_at::text, 'live') FROM core.assignment WHERE id = {{a.ps_assign}}"),
    XC("B-coordinator", "DELETE", V1 "/households/{{a.ps_hh}}/members/{{a.ps}}", NULL, 404,
       "SELECT count(*) FROM core.household_member WHERE household_id = {{a.ps_hh}}"),
    /* Erasure by one organisation leaves the other's records (checked after). */
    XC("B-admin", "POST", V1 "/people/{{a.ps}}/erase",
       "{\"organisation_id\":{{b.org}},\"confirm\":true}", X_2XX, NULL),
    XM("A-admin", "GET", V1 "/people/{{a.ps}}/export", NULL, 200, "A-SECRET flag"),
};

#endif
