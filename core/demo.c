/*
 * demo — loads the demo data (demo_data.c, then demo_schedule.c, which uses
 * the first script's temporary tables, then — when the group_course plugin
 * is loaded — its group_course.demo_load, whose completions the
 * completion-pending job decides once the server runs) and hands out one
 * API token per role (expiring after 30 days), with blocking libpq on a
 * connection of its own (the `demo` subcommand, never the event loop). Tokens are made only
 * when this run loaded the data or the database already holds it (its
 * 'demo.load' audit row), and only for demo staff: pointed at a real
 * database by mistake, `waymarkd demo` hands out nothing.
 *
 * Everything happens in one transaction: the data, the tokens and their
 * audit rows. Lines are printed only after COMMIT, so a failure leaves
 * nothing half-loaded and never shows a token that does not work. The
 * organisation table is locked for the transaction, so two `waymarkd demo`
 * runs at once cannot both find it empty and load twice.
 */
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "demo.h"
#include "errbuf.h"
#include "secret.h"

/* The password of every demo staff member: the README names it, so it is
 * no secret; it only opens the demo data. */
#define DEMO_PASSWORD "waymark-demo-password"
/* Demo tokens stop working after a month, like any token left about. */
#define DEMO_TOKEN_DAYS "30"

extern const char demo_sql[];          /* demo_data.c */
extern const char demo_schedule_sql[]; /* demo_schedule.c: uses demo_sql's temp tables */

/* Whose token each role gets: preferably a member of the named
 * organisation (the demo's mentoring charity, and its course provider for
 * facilitators), else the lowest id holding the role anywhere. */
static const struct {
	const char *label; /* printed: "token <label> wm_..." */
	const char *role;
	const char *org;
} token_for[] = {
    {"admin", "admin", "Second Chance Mentoring"},
    {"coordinator", "coordinator", "Second Chance Mentoring"},
    {"facilitator", "facilitator", "Life Change Courses"},
    {"mentor", "mentor", "Second Chance Mentoring"},
    {"commissioner", "commissioner", "Second Chance Mentoring"},
    {"server_admin", "server_admin", NULL},
    /* The course provider runs the group courses: its coordinator and
     * commissioner see them (the mentoring charity's cannot). */
    {"courses_coordinator", "coordinator", "Life Change Courses"},
    {"courses_commissioner", "commissioner", "Life Change Courses"},
};
#define N_TOKENS (sizeof token_for / sizeof token_for[0])

/* Picks the staff member — only demo staff: the demo's addresses are all
 * under the reserved .example domain — and creates the token through the
 * function POST /tokens uses (identity_token_create: selector and verifier
 * hash only, audited), expiring after DEMO_TOKEN_DAYS; returns their email
 * and password hash, or no row when nobody holds the role. */
static const char token_sql[] =
    "WITH who AS ("
    " SELECT s.id FROM core.staff s"
    " WHERE s.disabled_at IS NULL AND s.email ~ '\\.example$'"
    " AND CASE WHEN $1::text = 'server_admin' THEN s.server_admin"
    "  ELSE EXISTS (SELECT 1 FROM core.membership m"
    "   JOIN core.organisation o ON o.id = m.org_id AND o.archived_at IS NULL"
    "   WHERE m.staff_id = s.id AND m.role::text = $1::text) END"
    " ORDER BY EXISTS (SELECT 1 FROM core.membership m"
    "   JOIN core.organisation o ON o.id = m.org_id AND o.archived_at IS NULL"
    "   WHERE m.staff_id = s.id AND m.role::text = $1::text"
    "   AND lower(o.name) = lower($2::text)) DESC, s.id"
    " LIMIT 1),"
    "tok AS ("
    " SELECT who.id, core.identity_token_create(NULL, NULL, NULL,"
    "  'demo ' || $1::text || ' ' || to_char(clock_timestamp() AT TIME ZONE 'UTC',"
    "  'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), $3::text, $4::text, $5::int, who.id, 'demo') AS t"
    " FROM who) "
    "SELECT s.email, s.password_hash FROM tok JOIN core.staff s ON s.id = tok.id"
    " WHERE tok.t IS NOT NULL";

/* The demo.load audit row the script writes: the one sign that this
 * database holds the demo data, not real people. */
static const char marker_sql[] =
    "SELECT EXISTS (SELECT 1 FROM core.audit WHERE action = 'demo.load')";

/* Calendar feed links (issue 6) for the demo: the household with the most
 * sessions in the feed window, and the mentor and facilitator who staff
 * the most. Made like POST /api/v1/feeds does (selector and hash only,
 * audited), fresh on every run; printed as "feed <audience> <path>" lines
 * (the path under the "url" line's base). */
static const char *const feed_for[] = {"family", "mentor", "facilitator"};
#define N_FEEDS (sizeof feed_for / sizeof feed_for[0])

#define FEED_WINDOW                                                                                \
	" s.starts_at >= core.clock() - interval '56 days'"                                        \
	" AND s.starts_at < core.clock() + interval '366 days'"
#define FEED_AUDIT                                                                                 \
	" INSERT INTO core.audit (org_id, action, object_type, object_id, detail)"                 \
	" SELECT org_id, 'feed.create', 'calendar_feed', id, jsonb_build_object('kind', kind,"     \
	" 'variant', variant, 'via', 'demo') FROM f RETURNING object_id"

static const char feed_family_sql[] =
    "WITH pick AS (SELECT h.id, h.org_id FROM core.household h"
    " JOIN core.household_member hm ON hm.household_id = h.id"
    " JOIN (SELECT person_id, session_id FROM core.seat WHERE active UNION"
    "  SELECT person_id, session_id FROM core.booking WHERE status IN ('booked', 'offered')) x"
    "  ON x.person_id = hm.person_id"
    " JOIN core.session s ON s.id = x.session_id AND s.org_id = h.org_id AND" FEED_WINDOW
    " GROUP BY h.id ORDER BY count(DISTINCT s.id) DESC, h.id LIMIT 1),"
    " f AS (INSERT INTO core.calendar_feed (org_id, kind, household_id, name, token_selector,"
    "  token_hash) SELECT org_id, 'household', id, 'Family sessions', $1, $2 FROM pick"
    "  RETURNING id, org_id, kind, variant)" FEED_AUDIT;

static const char feed_staff_sql[] =
    "WITH pick AS (SELECT ss.staff_id, min(m.org_id) AS org_id FROM core.session_staff ss"
    " JOIN core.session s ON s.id = ss.session_id"
    " JOIN core.membership m ON m.staff_id = ss.staff_id AND m.org_id = s.org_id"
    "  AND m.role::text = $3::text"
    " JOIN core.staff st ON st.id = ss.staff_id AND st.disabled_at IS NULL"
    "  AND st.email ~ '\\.example$'"
    " WHERE" FEED_WINDOW " GROUP BY ss.staff_id ORDER BY count(*) DESC, ss.staff_id LIMIT 1),"
    " f AS (INSERT INTO core.calendar_feed (org_id, kind, staff_id, name, token_selector,"
    "  token_hash) SELECT org_id, $3::text, staff_id, CASE $3::text WHEN 'mentor'"
    "  THEN 'Mentoring sessions' ELSE 'Facilitated sessions' END, $1, $2 FROM pick"
    "  RETURNING id, org_id, kind, variant)" FEED_AUDIT;

struct demo_token {
	char text[80]; /* "wm_..." or "" when nobody holds the role */
	char email[256];
	int demo_password; /* the staff member's password is DEMO_PASSWORD */
};

static void ignore_notice(void *arg, const char *message)
{
}

/* The primary message of a failed result (or of the connection), one line. */
static void pg_fail(PGconn *conn, const PGresult *res, const char *what, char *err, size_t errlen)
{
	const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char msg[512];
	snprintf(msg, sizeof msg, "%s", m ? m : PQerrorMessage(conn));
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	size_t n = strlen(msg);
	while (n && msg[n - 1] == ' ')
		msg[--n] = '\0';
	errbuf_set(err, errlen, "%s: %s", what, msg);
}

/* Runs a statement that returns no rows, or a script. */
static wm_status run(PGconn *conn, const char *sql, const char *what, char *err,
                     size_t errlen) WM_MUST_CHECK;
static wm_status run(PGconn *conn, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		pg_fail(conn, res, what, err, errlen);
		PQclear(res);
		return WM_ERR;
	}
	PQclear(res);
	return WM_OK;
}

/* Runs one script of the demo, whose last statement returns one line: put
 * in `line`. */
static wm_status script(PGconn *conn, const char *sql, const char *what, char *line,
                        size_t line_len, char *err, size_t errlen) WM_MUST_CHECK;
static wm_status script(PGconn *conn, const char *sql, const char *what, char *line,
                        size_t line_len, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		pg_fail(conn, res, what, err, errlen);
		PQclear(res);
		return WM_ERR;
	}
	snprintf(line, line_len, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return WM_OK;
}

/* The group_course plugin's demo (its group_course.demo_load: two Life
 * Change Programme courses with cohorts, attendance and a graduation), when
 * the plugin is loaded — its schema migrated — and only then; it runs in
 * the same transaction, after the scheduling script, whose temporary
 * tables name the course provider, its coordinator and facilitator. `line`
 * receives its summary, or stays empty without the plugin. */
static wm_status load_courses(PGconn *conn, char *line, size_t line_len, char *err,
                              size_t errlen) WM_MUST_CHECK;
static wm_status load_courses(PGconn *conn, char *line, size_t line_len, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, "SELECT to_regproc('group_course.demo_load') IS NOT NULL");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		pg_fail(conn, res, "looking for the group_course plugin", err, errlen);
		PQclear(res);
		return WM_ERR;
	}
	int present = !strcmp(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	if (!present)
		return WM_OK;
	return script(conn,
	              "SELECT group_course.demo_load(jsonb_build_object("
	              " 'organisation_id', c.org_id, 'coordinator_id', c.staff_id,"
	              " 'lead_id', (SELECT id FROM d_staff WHERE k = 'lc_fac1'),"
	              " 'mentoring_org_id', (SELECT id FROM d_org WHERE k = 'sc')))"
	              " FROM d_coord c WHERE c.org = 'lc'",
	              "loading the group course demo", line, line_len, err, errlen);
}

/* Hashes the demo password once (argon2id, interactive limits: the same
 * as a real password) and hands it to the script for every staff member,
 * then runs the scripts (people, then scheduling); `summary` receives
 * their last lines, joined. */
static wm_status load(PGconn *conn, char *summary, size_t summary_len, char *err,
                      size_t errlen) WM_MUST_CHECK;
static wm_status load(PGconn *conn, char *summary, size_t summary_len, char *err, size_t errlen)
{
	char hash[crypto_pwhash_STRBYTES];
	if (crypto_pwhash_str(hash, DEMO_PASSWORD, strlen(DEMO_PASSWORD),
	                      crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		errbuf_set(err, errlen, "cannot hash the demo password (out of memory)");
		return WM_ERR;
	}
	const char *p[] = {hash};
	PGresult *res =
	    PQexecParams(conn, "SELECT set_config('waymark.demo_password_hash', $1, true)", 1, NULL,
	                 p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_fail(conn, res, "setting the password hash", err, errlen);
		PQclear(res);
		return WM_ERR;
	}
	PQclear(res);
	char people[256], schedule[256], courses[512] = "";
	if (script(conn, demo_sql, "loading the demo data", people, sizeof people, err, errlen) !=
	        WM_OK ||
	    script(conn, demo_schedule_sql, "loading the demo schedule", schedule, sizeof schedule,
	           err, errlen) != WM_OK ||
	    load_courses(conn, courses, sizeof courses, err, errlen) != WM_OK)
		return WM_ERR;
	snprintf(summary, summary_len, "%s\n%s%s%s", people, schedule, courses[0] ? "\n" : "",
	         courses);
	return WM_OK;
}

/* One demo feed link into `text` ("" when nobody fits). */
static wm_status make_feed(PGconn *conn, unsigned i, char *text, size_t len, char *err,
                           size_t errlen) WM_MUST_CHECK;
static wm_status make_feed(PGconn *conn, unsigned i, char *text, size_t len, char *err,
                           size_t errlen)
{
	struct secret s;
	secret_new(&s);
	const char *p[] = {s.selector, s.hash_hex, feed_for[i]};
	PGresult *res = i == 0 ? PQexecParams(conn, feed_family_sql, 2, NULL, p, NULL, NULL, 0)
	                       : PQexecParams(conn, feed_staff_sql, 3, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_fail(conn, res, "creating a calendar feed", err, errlen);
		PQclear(res);
		sodium_memzero(&s, sizeof s);
		return WM_ERR;
	}
	text[0] = '\0';
	if (PQntuples(res) == 1) {
		char token[80];
		secret_format(&s, "wmf_", token, sizeof token);
		snprintf(text, len, "/feeds/%s.ics", token);
		sodium_memzero(token, sizeof token);
	}
	PQclear(res);
	sodium_memzero(&s, sizeof s);
	return WM_OK;
}

static wm_status make_token(PGconn *conn, unsigned i, struct demo_token *t, char *err,
                            size_t errlen) WM_MUST_CHECK;
static wm_status make_token(PGconn *conn, unsigned i, struct demo_token *t, char *err,
                            size_t errlen)
{
	struct secret s;
	secret_new(&s);
	const char *p[] = {token_for[i].role, token_for[i].org, s.selector, s.hash_hex,
	                   DEMO_TOKEN_DAYS};
	PGresult *res = PQexecParams(conn, token_sql, 5, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_fail(conn, res, "creating a token", err, errlen);
		PQclear(res);
		sodium_memzero(&s, sizeof s);
		return WM_ERR;
	}
	if (PQntuples(res) == 1) {
		secret_format(&s, SECRET_TOKEN_PREFIX, t->text, sizeof t->text);
		snprintf(t->email, sizeof t->email, "%s", PQgetvalue(res, 0, 0));
		const char *hash = PQgetvalue(res, 0, 1);
		t->demo_password =
		    !PQgetisnull(res, 0, 1) &&
		    crypto_pwhash_str_verify(hash, DEMO_PASSWORD, strlen(DEMO_PASSWORD)) == 0;
	}
	PQclear(res);
	sodium_memzero(&s, sizeof s);
	return WM_OK;
}

wm_status demo_load(const char *conninfo, FILE *out, char *err, size_t errlen)
{
	struct demo_token tokens[N_TOKENS];
	char feeds[N_FEEDS][96];
	char summary[1280] = "";
	int in_tx = 0, loaded = 0, present = 0, demo = 1;
	PGresult *res = NULL;
	memset(tokens, 0, sizeof tokens);
	memset(feeds, 0, sizeof feeds);
	PGconn *conn = PQconnectdb(conninfo);
	if (sodium_init() < 0) {
		errbuf_set(err, errlen, "libsodium cannot start");
		goto fail;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		pg_fail(conn, NULL, "cannot connect to the database", err, errlen);
		goto fail;
	}
	PQsetNoticeProcessor(conn, ignore_notice, NULL);
	if (run(conn, "BEGIN", "starting the transaction", err, errlen) != WM_OK)
		goto fail;
	in_tx = 1;
	if (run(conn, "LOCK TABLE core.organisation IN SHARE ROW EXCLUSIVE MODE",
	        "locking the organisations (is the database migrated?)", err, errlen) != WM_OK)
		goto fail;
	res = PQexec(conn, "SELECT EXISTS (SELECT 1 FROM core.organisation)");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		pg_fail(conn, res, "reading the organisations", err, errlen);
		goto fail;
	}
	present = !strcmp(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	res = NULL;
	if (!present) {
		if (load(conn, summary, sizeof summary, err, errlen) != WM_OK)
			goto fail;
		loaded = 1;
	} else {
		/* Organisations, but are they the demo's? Never hand out tokens
		 * for real staff on a real database. */
		res = PQexec(conn, marker_sql);
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
			pg_fail(conn, res, "looking for the demo data", err, errlen);
			goto fail;
		}
		demo = !strcmp(PQgetvalue(res, 0, 0), "t");
		PQclear(res);
		res = NULL;
	}
	for (unsigned i = 0; demo && i < N_TOKENS; i++)
		if (make_token(conn, i, &tokens[i], err, errlen) != WM_OK)
			goto fail;
	for (unsigned i = 0; demo && i < N_FEEDS; i++)
		if (make_feed(conn, i, feeds[i], sizeof feeds[i], err, errlen) != WM_OK)
			goto fail;
	if (run(conn, "COMMIT", "committing", err, errlen) != WM_OK)
		goto fail;
	in_tx = 0;
	PQfinish(conn);

	if (!demo) {
		fprintf(out,
		        "demo tokens not created: this database does not hold the demo data\n");
		fflush(out);
		return WM_OK;
	}
	fprintf(out, "%s\n", loaded ? summary : "demo data already present");
	for (unsigned i = 0; i < N_TOKENS; i++) {
		if (tokens[i].text[0])
			fprintf(out, "token %s %s\n", token_for[i].label, tokens[i].text);
		else
			fprintf(out, "no staff member is %s: no token\n", token_for[i].label);
	}
	for (unsigned i = 0; i < N_TOKENS; i++)
		if (!strcmp(token_for[i].role, "coordinator") && tokens[i].demo_password)
			fprintf(out, "login %s %s\n", tokens[i].email, DEMO_PASSWORD);
	for (unsigned i = 0; i < N_FEEDS; i++)
		if (feeds[i][0])
			fprintf(out, "feed %s %s\n", feed_for[i], feeds[i]);
	fflush(out);
	sodium_memzero(tokens, sizeof tokens);
	sodium_memzero(feeds, sizeof feeds);
	return WM_OK;

fail:
	PQclear(res);
	if (in_tx)
		PQclear(PQexec(conn, "ROLLBACK"));
	PQfinish(conn);
	sodium_memzero(tokens, sizeof tokens);
	sodium_memzero(feeds, sizeof feeds);
	return WM_ERR;
}
