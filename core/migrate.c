/*
 * migrate — applies the embedded migrations of the core and the plugins and
 * keeps core.schema_ledger, with blocking libpq on a connection of its own
 * (start-up and `waymarkd migrate` only, never on the event loop).
 *
 * Every owner is checked before anything is applied, so a refusal (database
 * ahead of the binary, an edited migration) changes nothing. Each migration
 * runs in its own transaction together with its ledger row, so a failure
 * leaves no half-applied migration behind.
 */
#include <inttypes.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "log.h"
#include "migrate.h"

/* "WAMKMIGR": one cluster-wide key, so every waymarkd that migrates the same
 * database queues behind the first one instead of racing it. */
#define MIGRATE_LOCK_KEY "6287391540600457042" /* 0x57414d4b4d494752 */

static const char bootstrap_sql[] = "CREATE SCHEMA IF NOT EXISTS core;"
                                    "CREATE TABLE IF NOT EXISTS core.schema_ledger ("
                                    " owner text NOT NULL,"
                                    " version int NOT NULL CHECK (version > 0),"
                                    " name text NOT NULL,"
                                    " checksum text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),"
                                    " applied_at timestamptz NOT NULL DEFAULT now(),"
                                    " PRIMARY KEY (owner, version))";

/* libpq messages end in a newline and may span lines; the operator gets one. */
static void one_line(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

/* The primary message of a failed result (or of the connection). */
static void pg_message(PGconn *conn, const PGresult *res, char *out, size_t len)
{
	const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	snprintf(out, len, "%s", m ? m : PQerrorMessage(conn));
	one_line(out);
}

void migrate_checksum(const char *sql, char out[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)sql, strlen(sql));
	sodium_bin2hex(out, 65, h, sizeof h);
}

wm_status migrate_check_set(const struct migration_set *set, char *err, size_t errlen)
{
	if (!set->owner || !*set->owner) {
		errbuf_set(err, errlen, "a migration set has no owner name");
		return WM_ERR;
	}
	if (set->n && !set->migrations) {
		errbuf_set(err, errlen, "migrations of %s: %zu declared but none given", set->owner,
		           set->n);
		return WM_ERR;
	}
	for (size_t i = 0; i < set->n; i++) {
		const struct wm_migration *m = &set->migrations[i];
		if (m->version != (int)(i + 1)) {
			errbuf_set(err, errlen,
			           "migrations of %s: entry %zu has version %d, expected %zu "
			           "(versions must be 1..n in order, without gaps or repeats)",
			           set->owner, i + 1, m->version, i + 1);
			return WM_ERR;
		}
		if (!m->name || !*m->name) {
			errbuf_set(err, errlen, "migrations of %s: version %d has no name",
			           set->owner, m->version);
			return WM_ERR;
		}
		if (!m->sql) {
			errbuf_set(err, errlen, "migration %s/%04d_%s has no SQL", set->owner,
			           m->version, m->name);
			return WM_ERR;
		}
	}
	return WM_OK;
}

static wm_status check_sets(const struct migration_set *sets, size_t nsets, char *err,
                            size_t errlen)
{
	for (size_t s = 0; s < nsets; s++)
		if (migrate_check_set(&sets[s], err, errlen) != WM_OK)
			return WM_ERR;
	return WM_OK;
}

/* Warnings raised by migration SQL reach the operator through the log. */
static void notice_to_log(void *arg, const char *message)
{
	char line[512];
	snprintf(line, sizeof line, "%s", message);
	one_line(line);
	log_msg(WM_LOG_WARN, "migrate", "%s", line);
}

static PGconn *connect_db(const char *conninfo, char *err, size_t errlen)
{
	char msg[512];
	PGconn *conn = PQconnectdb(conninfo);
	if (!conn) {
		errbuf_set(err, errlen, "cannot connect to PostgreSQL: out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		/* libpq's message names host and user, never the password; the
		 * conninfo itself is not repeated because it may hold one. */
		pg_message(conn, NULL, msg, sizeof msg);
		errbuf_set(err, errlen, "cannot connect to PostgreSQL: %s", msg);
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, notice_to_log, NULL);
	return conn;
}

/* Runs SQL that returns no rows; on failure err is "<what>: <message>". */
static wm_status run(PGconn *conn, const char *sql, const char *what, char *err, size_t errlen)
{
	char msg[512];
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
		PQclear(res);
		return WM_OK;
	}
	pg_message(conn, res, msg, sizeof msg);
	errbuf_set(err, errlen, "%s: %s", what, msg);
	PQclear(res);
	return WM_ERR;
}

/*
 * Reads the owner's ledger rows and refuses versions the binary lacks and
 * checksums that differ. Sets have[v-1] for each applied version and
 * *missing to the number not yet applied.
 */
static wm_status read_ledger(PGconn *conn, const struct migration_set *set, unsigned char *have,
                             size_t *missing, char *err, size_t errlen)
{
	wm_status rc = WM_ERR;
	const char *params[1] = {set->owner};
	char msg[512];
	PGresult *res = PQexecParams(conn,
	                             "SELECT version, name, checksum FROM core.schema_ledger "
	                             "WHERE owner = $1 ORDER BY version",
	                             1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_message(conn, res, msg, sizeof msg);
		errbuf_set(err, errlen, "cannot read core.schema_ledger: %s", msg);
		goto fail;
	}
	memset(have, 0, set->n);
	*missing = set->n;
	for (int r = 0; r < PQntuples(res); r++) {
		long v = strtol(PQgetvalue(res, r, 0), NULL, 10);
		const char *name = PQgetvalue(res, r, 1);
		if (v < 1 || (size_t)v > set->n) {
			if (set->n)
				errbuf_set(
				    err, errlen,
				    "database is ahead of this binary: %s migration %ld (%s) is "
				    "applied but this waymarkd only knows 1..%zu",
				    set->owner, v, name, set->n);
			else
				errbuf_set(
				    err, errlen,
				    "database is ahead of this binary: %s migration %ld (%s) is "
				    "applied but this waymarkd knows no %s migrations",
				    set->owner, v, name, set->owner);
			goto fail;
		}
		const struct wm_migration *m = &set->migrations[v - 1];
		char sum[65];
		migrate_checksum(m->sql, sum);
		if (strcmp(sum, PQgetvalue(res, r, 2)) != 0) {
			errbuf_set(err, errlen,
			           "migration %s/%04d_%s was edited after it was applied (checksum "
			           "differs); add a new migration instead",
			           set->owner, m->version, m->name);
			goto fail;
		}
		have[v - 1] = 1;
		(*missing)--;
	}
	rc = WM_OK;
fail:
	PQclear(res);
	return rc;
}

/* Where PostgreSQL's error position (characters, 1-based) falls in the SQL. */
static int error_line(const PGresult *res, const char *sql)
{
	const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
	long chars = pos ? strtol(pos, NULL, 10) : 0;
	int line = 1;
	for (const unsigned char *p = (const unsigned char *)sql; *p && chars > 1; p++) {
		if ((*p & 0xC0) != 0x80)
			chars--;
		if (*p == '\n')
			line++;
	}
	return pos ? line : 0;
}

/* One migration and its ledger row in one transaction. */
static wm_status apply_one(PGconn *conn, const char *owner, const struct wm_migration *m, char *err,
                           size_t errlen)
{
	wm_status rc = WM_ERR;
	int in_tx = 0;
	char what[256], msg[512], sum[65], ver[16];
	char *schema_sql = NULL;
	char *ident = PQescapeIdentifier(conn, owner, strlen(owner));
	PGresult *res = NULL;

	snprintf(what, sizeof what, "migration %s/%04d_%s failed", owner, m->version, m->name);
	if (!ident) {
		pg_message(conn, NULL, msg, sizeof msg);
		errbuf_set(err, errlen, "%s: %s", what, msg);
		goto fail;
	}
	size_t len = 2 * strlen(ident) + 128;
	schema_sql = malloc(len);
	if (!schema_sql) {
		errbuf_set(err, errlen, "%s: out of memory", what);
		goto fail;
	}
	snprintf(schema_sql, len,
	         "CREATE SCHEMA IF NOT EXISTS %s; SET LOCAL search_path = %s, public", ident,
	         ident);
	if (run(conn, "BEGIN", what, err, errlen) != WM_OK)
		goto fail;
	in_tx = 1;
	if (run(conn, schema_sql, what, err, errlen) != WM_OK)
		goto fail;

	res = PQexec(conn, m->sql);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
		pg_message(conn, res, msg, sizeof msg);
		int line = error_line(res, m->sql);
		if (line)
			errbuf_set(err, errlen, "%s: %s (line %d)", what, msg, line);
		else
			errbuf_set(err, errlen, "%s: %s", what, msg);
		goto fail;
	}
	PQclear(res);
	res = NULL;

	migrate_checksum(m->sql, sum);
	snprintf(ver, sizeof ver, "%d", m->version);
	const char *params[4] = {owner, ver, m->name, sum};
	res = PQexecParams(conn,
	                   "INSERT INTO core.schema_ledger (owner, version, name, checksum) "
	                   "VALUES ($1, $2, $3, $4)",
	                   4, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pg_message(conn, res, msg, sizeof msg);
		errbuf_set(err, errlen, "%s: recording it in core.schema_ledger: %s", what, msg);
		goto fail;
	}
	in_tx = 0; /* COMMIT ends the transaction even when it fails */
	if (run(conn, "COMMIT", what, err, errlen) != WM_OK)
		goto fail;
	log_msg(WM_LOG_INFO, "migrate", "applied %s/%04d_%s", owner, m->version, m->name);
	rc = WM_OK;
fail:
	/* Best effort: the error already in err is the one the operator needs. */
	if (in_tx)
		PQclear(PQexec(conn, "ROLLBACK"));
	PQclear(res);
	free(schema_sql);
	PQfreemem(ident);
	return rc;
}

/* Applies the set's missing migrations; the ledger was checked under the
 * same lock, so re-reading it here sees the same rows. */
static wm_status apply_set(PGconn *conn, const struct migration_set *set, int *applied, char *err,
                           size_t errlen)
{
	wm_status rc = WM_ERR;
	size_t missing;
	unsigned char *have = calloc(set->n ? set->n : 1, 1);
	if (!have) {
		errbuf_set(err, errlen, "out of memory");
		return WM_ERR;
	}
	if (read_ledger(conn, set, have, &missing, err, errlen) != WM_OK)
		goto fail;
	for (size_t i = 0; i < set->n && missing; i++) {
		if (have[i])
			continue;
		if (apply_one(conn, set->owner, &set->migrations[i], err, errlen) != WM_OK)
			goto fail;
		(*applied)++;
		missing--;
	}
	rc = WM_OK;
fail:
	free(have);
	return rc;
}

/* Refuses before anything is applied if any owner's ledger is ahead or edited. */
static wm_status check_ledgers(PGconn *conn, const struct migration_set *sets, size_t nsets,
                               const struct migration_set **behind, char *err, size_t errlen)
{
	wm_status rc = WM_OK;
	*behind = NULL;
	for (size_t s = 0; s < nsets && rc == WM_OK; s++) {
		size_t missing = 0;
		unsigned char *have = calloc(sets[s].n ? sets[s].n : 1, 1);
		if (!have) {
			errbuf_set(err, errlen, "out of memory");
			return WM_ERR;
		}
		rc = read_ledger(conn, &sets[s], have, &missing, err, errlen);
		if (rc == WM_OK && missing && !*behind) {
			*behind = &sets[s];
			for (size_t i = 0; i < sets[s].n; i++) {
				if (!have[i]) {
					const struct wm_migration *m = &sets[s].migrations[i];
					errbuf_set(err, errlen,
					           "migration %s/%04d_%s is not applied",
					           sets[s].owner, m->version, m->name);
					break;
				}
			}
		}
		free(have);
	}
	return rc;
}

wm_status migrate_apply(const char *conninfo, const struct migration_set *sets, size_t nsets,
                        int *applied, char *err, size_t errlen)
{
	wm_status rc = WM_ERR;
	int count = 0, locked = 0;
	const struct migration_set *behind;
	PGconn *conn = NULL;

	if (applied)
		*applied = 0;
	if (check_sets(sets, nsets, err, errlen) != WM_OK)
		goto fail;
	conn = connect_db(conninfo, err, errlen);
	if (!conn)
		goto fail;
	if (run(conn, "SET client_min_messages = warning", "cannot configure the session", err,
	        errlen) != WM_OK)
		goto fail;
	if (run(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")",
	        "cannot take the migration lock", err, errlen) != WM_OK)
		goto fail;
	locked = 1;
	if (run(conn, bootstrap_sql, "cannot create core.schema_ledger", err, errlen) != WM_OK)
		goto fail;
	if (check_ledgers(conn, sets, nsets, &behind, err, errlen) != WM_OK)
		goto fail;
	for (size_t s = 0; s < nsets; s++)
		if (apply_set(conn, &sets[s], &count, err, errlen) != WM_OK)
			goto fail;
	rc = WM_OK;
	if (err && errlen)
		err[0] = '\0';
fail:
	if (locked)
		PQclear(PQexec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
	PQfinish(conn);
	if (applied)
		*applied = count;
	return rc;
}

int migrate_status(const char *conninfo, const struct migration_set *sets, size_t nsets, char *err,
                   size_t errlen)
{
	int rc = WM_ERR;
	const struct migration_set *behind;
	PGresult *res = NULL;
	PGconn *conn = NULL;
	char msg[512];

	if (check_sets(sets, nsets, err, errlen) != WM_OK)
		goto fail;
	conn = connect_db(conninfo, err, errlen);
	if (!conn)
		goto fail;
	res = PQexec(conn, "SELECT to_regclass('core.schema_ledger') IS NULL");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		pg_message(conn, res, msg, sizeof msg);
		errbuf_set(err, errlen, "cannot look for core.schema_ledger: %s", msg);
		goto fail;
	}
	if (!strcmp(PQgetvalue(res, 0, 0), "t")) {
		errbuf_set(
		    err, errlen,
		    "the database has never been migrated (core.schema_ledger does not exist)");
		rc = 0;
		goto fail;
	}
	if (check_ledgers(conn, sets, nsets, &behind, err, errlen) != WM_OK)
		goto fail;
	rc = behind ? 0 : 1;
	if (rc == 1 && err && errlen)
		err[0] = '\0';
fail:
	PQclear(res);
	PQfinish(conn);
	return rc;
}
