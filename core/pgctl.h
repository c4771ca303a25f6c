/*
 * pgctl — the server's embedded default database: a private PostgreSQL
 * cluster under <data_dir>/pg, reached only through a Unix socket in that
 * directory, created with initdb on first use and started with pg_ctl.
 *
 * Used when no DATABASE_URL / db.url is given. Start and stop run before the
 * event loop starts and after it ends (they wait for child processes).
 * PostgreSQL refuses to run as root, so when waymarkd runs as root the
 * cluster's processes run as `run_as` (default "postgres") and the data
 * directory is owned by that user.
 */
#ifndef WM_PGCTL_H
#define WM_PGCTL_H

#include <stddef.h>
#include <waymark/types.h>

struct pgctl {
	char *datadir; /* absolute: <data_dir>/pg */
	char *bindir;  /* directory holding initdb, pg_ctl, postgres */
	char *run_as;  /* user name when root, else NULL */
	int port;      /* names the socket file; no TCP listener */
	int started;   /* 1 if this process started it (so stops it) */
};

/* Finds the PostgreSQL server binaries: `hint` if not empty, else the newest
 * /usr/lib/postgresql/<N>/bin with initdb and pg_ctl. Returns malloc'd path. */
char *pgctl_find_bindir(const char *hint);

/* Creates (initdb) if absent and starts if not already running. Reuses a
 * cluster another waymarkd already started. Creates database "waymark". */
wm_status pgctl_start(struct pgctl *pg, const char *data_dir, const char *bindir_hint,
                      const char *run_as, char *err, size_t errlen) WM_MUST_CHECK;
/* libpq conninfo for the cluster's "waymark" database (malloc'd). */
char *pgctl_conninfo(const struct pgctl *pg);
/* Stops the cluster if this process started it (fast shutdown). */
wm_status pgctl_stop(struct pgctl *pg) WM_MUST_CHECK;
/* Stops (mode "fast") or starts an existing cluster regardless of who
 * started it: used by tests that take the database away. */
wm_status pgctl_ctl(const struct pgctl *pg, const char *action, char *err,
                    size_t errlen) WM_MUST_CHECK;
void pgctl_free(struct pgctl *pg);

#endif
