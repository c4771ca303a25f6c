/*
 * login_throttle — what the routes that check a password (POST /auth/login
 * in api_login.c, a password change in api_staff.c) and the staff commands
 * share.
 *
 * The gate: at most one password check in flight per account and
 * LOGIN_GATE_PEER_MAX per peer address, in a bounded in-memory table on
 * the loop thread. Without it, concurrent guesses at one account would all
 * pass the lock-out check before any of them failed. The database keeps
 * the lasting count (core.login_throttle, migrations/0003_identity.sql);
 * the gate only stops a burst. Accounts are named by a keyed hash of the
 * lower-cased email (random key per process), so the table holds no
 * emails.
 *
 * Replies: 429 core.slow_down (the same text for a lock-out and a closed
 * gate, whatever the password) and 503 core.busy.
 *
 * Bodies that carry a password are parsed with login_secret_json, which
 * wipes the raw request bytes before anything replies; the parsed strings
 * are wiped with login_wipe_string once copied.
 */
#ifndef WM_LOGIN_THROTTLE_H
#define WM_LOGIN_THROTTLE_H

#include <jansson.h>
#include <waymark/types.h>

struct wm_req;

#define LOGIN_GATE_SLOTS    1024
#define LOGIN_GATE_PEER_MAX 4

/* What the account key names: the same email in two kinds never clashes. */
#define LOGIN_GATE_SIGN_IN  'L' /* `account` is the typed email */
#define LOGIN_GATE_PASSWORD 'P' /* `account` is a staff id */

/* Takes a slot for one password check of `account` from the request's
 * peer; returns it (>= 0), or -1 after replying 429 (the account or the
 * peer already has its share in flight) or 503 (the table is full). */
int login_gate_enter(struct wm_req *req, char kind, const char *account);
/* Gives the slot back (when the job's reply has been sent); sets *slot to
 * -1, so a second call does nothing. */
void login_gate_leave(int *slot);

/* 429 core.slow_down with Retry-After: `seconds` (at least 1). */
void login_reply_slow_down(struct wm_req *req, long long seconds);
/* A statement's reply {"retry_after": s} (the email is locked): replies 429
 * with that wait and returns 1; 0 for any other reply. */
int login_reply_if_locked(struct wm_req *req, const json_t *reply);
/* 503 core.busy with Retry-After: 1 (the hashing queue is full). */
void login_reply_busy(struct wm_req *req);

/* req_json for a body that carries a password: parses it, then wipes the
 * raw bytes of the request body, and only then replies on error. */
wm_status login_secret_json(struct wm_req *req, json_t **out) WM_MUST_CHECK;
/* Overwrites the text of string member `field` of `obj` with zeros. */
void login_wipe_string(json_t *obj, const char *field);

/* 1 when `s` looks like an email address: 3 to 254 bytes, one '@' with
 * something either side, no spaces or control characters. The one rule of
 * the API (POST /staff) and the commands (--email, --user). */
int identity_email_ok(const char *s);

#endif
