/*
 * ts — what the tests share: a throw-away database per test on the real
 * PostgreSQL that deploy/test starts (WAYMARK_TEST_PG), the real waymarkd
 * started as a child process on a free loopback port, and a plain blocking
 * HTTP/1.1 client over a real socket. Blocking is fine here: this is the
 * test process, not the server's loop.
 */
#ifndef WM_TS_H
#define WM_TS_H

#include <check.h>
#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

/* Base conninfo of the test cluster, from WAYMARK_TEST_PG
 * ("host=/tmp/x port=5499 user=postgres"). Aborts the test if unset. */
const char *ts_pg_base(void);

/* Creates a fresh, empty database named "<prefix>_<pid>_<n>" and returns its
 * conninfo (malloc'd). ts_db_drop drops it (terminating its sessions). */
char *ts_db_create(const char *prefix);
void ts_db_drop(const char *conninfo);
/* Runs one SQL statement with blocking libpq; returns the first value of the
 * first row (malloc'd) or NULL; aborts the test on error. */
char *ts_db_value(const char *conninfo, const char *sql);
/* Runs SQL and returns 0 if it succeeded, -1 if PostgreSQL refused it. */
int ts_db_exec(const char *conninfo, const char *sql);

/* A waymarkd child process. */
struct ts_server {
	pid_t pid;
	int port;
	char url[64];       /* "http://127.0.0.1:<port>" */
	char log_path[256]; /* its stderr, for assertions on the log */
	char config_path[256];
	/* When set, ts_http sends "Authorization: Bearer <token>" on every
	 * request whose extra headers carry no Authorization or Cookie. */
	char token[80];
};

struct ts_server_opts {
	const char *database_url; /* NULL: the embedded cluster under data_dir */
	const char *data_dir;     /* NULL: a fresh temporary directory */
	const char *config_json;  /* extra config file text, or NULL */
	const char *subcommand;   /* NULL: "serve" */
};

/* Starts waymarkd (WAYMARK_BIN) with WAYMARK_LISTEN=127.0.0.1:<free port>
 * and waits up to 60 s for GET /healthz. Returns 0, or -1 if it exited or
 * never answered (its log is then printed to stderr). */
int ts_server_start(struct ts_server *s, const struct ts_server_opts *opts);
/* SIGTERM, then waits up to 30 s; returns the exit status (or -1, after
 * SIGKILL, if it did not stop). */
int ts_server_stop(struct ts_server *s);
/* The whole log file (malloc'd). */
char *ts_server_log(const struct ts_server *s);

/* Runs `WAYMARK_BIN args...` to completion with env overrides
 * ("NAME=value", NULL-terminated, may be NULL); captures stdout and stderr
 * (malloc'd, may be NULL) and returns the exit status (or -1). */
int ts_run(const char *const *argv, const char *const *env, char **out, char **err);

struct ts_response {
	int status;
	char *headers; /* raw header block, lower-cased names */
	char *body;
	size_t body_len;
	double seconds; /* wall time from connect to last byte */
};

/* One request on a new connection (Connection: close). `extra_headers` is
 * raw text ("Content-Type: application/json\r\n...") or NULL. `body` may be
 * NULL. Returns 0, or -1 on a socket error or timeout (timeout_ms). */
int ts_http(const struct ts_server *s, const char *method, const char *path,
            const char *extra_headers, const char *body, size_t body_len, int timeout_ms,
            struct ts_response *r);
/* Sends raw bytes and reads until close or timeout: for malformed requests. */
int ts_http_raw(const struct ts_server *s, const char *raw, size_t raw_len, int timeout_ms,
                struct ts_response *r);
/* Value of a response header (case-insensitive), malloc'd, or NULL. */
char *ts_header(const struct ts_response *r, const char *name);
/* Body parsed as JSON (new reference), or NULL. */
json_t *ts_json(const struct ts_response *r);
/* error.code of a JSON error body, malloc'd, or NULL. */
char *ts_error_code(const struct ts_response *r);
void ts_response_free(struct ts_response *r);

/* Creates (or reuses) the organisation `org` and the staff member `email`,
 * gives them `role` there ("admin", "coordinator", ...; NULL for none) and
 * server_admin if asked, and returns a new API token for them ("wm_...",
 * malloc'd) — written straight into the database, as `waymarkd token
 * create` would. The database must be migrated (a server has started on it). */
char *ts_staff_token(const char *conninfo, const char *org, const char *email, const char *role,
                     int server_admin);
/* The id of staff member `email` (or of organisation `org` for
 * ts_org_id), as a number; aborts the test if there is none. */
long long ts_staff_id(const char *conninfo, const char *email);
long long ts_org_id(const char *conninfo, const char *org);
/* Gives server `s` a default token: an admin and coordinator of
 * "Test organisation" who is also server admin. */
void ts_server_grant(struct ts_server *s, const char *conninfo);

/* Runs the suite; returns EXIT_SUCCESS or EXIT_FAILURE for main(). */
int ts_main(Suite *s);

/* Monotonic seconds. */
double ts_now(void);

#endif
