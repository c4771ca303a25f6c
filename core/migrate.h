/*
 * migrate — applies the embedded SQL migrations of the core and of each
 * plugin, and keeps the ledger (core.schema_ledger: owner, version, name,
 * checksum, applied_at).
 *
 * Runs only at start-up and from `waymarkd migrate`, before the event loop
 * serves anything, on its own blocking connection: it is the one place in
 * the server that uses blocking libpq, and it never runs on the loop.
 *
 * Under a session advisory lock, for each owner in order: refuse if the
 * ledger holds a version the binary does not have ("database is ahead") or a
 * recorded checksum differs from the embedded SQL; then apply each missing
 * migration in its own transaction together with its ledger row. The
 * owner's schema (the owner's name) is created first and is the search_path
 * while its migrations run.
 */
#ifndef WM_MIGRATE_H
#define WM_MIGRATE_H

#include <stddef.h>
#include <waymark/plugin.h>

struct migration_set {
	const char *owner; /* "core" or the plugin's name = its schema */
	const struct wm_migration *migrations;
	size_t n;
};

/* The core's own migrations (generated from migrations/ at build time). */
extern const struct wm_migration core_migrations[];
extern const size_t core_migrations_n;

/* SHA-256 of the SQL text, lower-case hex. */
void migrate_checksum(const char *sql, char out[65]);

/* Checks that versions are 1..n strictly increasing, names non-empty. */
wm_status migrate_check_set(const struct migration_set *set, char *err,
                            size_t errlen) WM_MUST_CHECK;

/* Applies what is missing. *applied (may be NULL) counts migrations run. */
wm_status migrate_apply(const char *conninfo, const struct migration_set *sets, size_t nsets,
                        int *applied, char *err, size_t errlen) WM_MUST_CHECK;

/* Checks without changing anything: 1 = current, 0 = behind (err says
 * what is missing), WM_ERR = refused (ahead / checksum / no connection). */
int migrate_status(const char *conninfo, const struct migration_set *sets, size_t nsets, char *err,
                   size_t errlen);

#endif
