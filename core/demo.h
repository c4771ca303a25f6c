/*
 * demo — the demo data `waymarkd demo` loads into an empty database: several
 * organisations, staff in every role, about a hundred participants with
 * households, referrals in every state, consents, flags and caseloads; and
 * their scheduling: venues, closures, programmes, cohorts meeting weekly with
 * a term of attendance, bookable sessions with waitlists, release-anchored
 * meetings and alerts. It is
 * fictional and deterministic (the same names each run), so the README and
 * the tests can point at it.
 *
 * Runs in the `demo` subcommand with blocking libpq, never on the event loop.
 */
#ifndef WM_DEMO_H
#define WM_DEMO_H

#include <stdio.h>
#include <waymark/types.h>

/* Loads the demo data into the migrated database at `conninfo` in one
 * transaction, unless it already holds organisations (then it loads nothing
 * and says so). When this run loaded the demo data, or the database already
 * holds it, it creates a fresh API token (expiring after 30 days) for one
 * demo staff member of each role and prints "token <role> <secret>" lines to
 * `out`; on any other database it creates none.
 * On failure `err` says why and nothing is left half-loaded. */
wm_status demo_load(const char *conninfo, FILE *out, char *err, size_t errlen) WM_MUST_CHECK;

#endif
