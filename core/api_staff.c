/*
 * api_staff — staff accounts.
 *
 * An organisation's admin (or a server admin) creates staff with a first
 * role; admins and coordinators see the staff of their organisations; every
 * member sees and edits themselves. Passwords are hashed with libsodium's
 * crypto_pwhash_str (argon2id) on the hashing threads (workq.h), never on
 * the event loop, and are never logged or returned; only the hash is
 * stored. Changing one's own password needs the current one (when there is
 * one); wrong guesses count on the same throttle as failed sign-ins (and
 * are audited), one check per member at a time (login_throttle.h). A new
 * password or a disabled account ends the member's tokens and sessions
 * (all but the session the change was made in). Only a server admin, or an
 * admin of every organisation the member belongs to, changes someone
 * else. Scope and audit live in migrations/0003_identity.sql
 * (identity_staff_*).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "db.h"
#include "login_throttle.h"
#include "req.h"
#include "server.h"
#include "workq.h"

#define NAME_MAX_CHARS     100
#define EMAIL_MAX          254
#define PASSWORD_MIN_CHARS 12
#define PASSWORD_MAX_CHARS 1024

static const char *const roles[] = {"admin",  "coordinator",  "facilitator",
                                    "mentor", "commissioner", NULL};

#define ROLES_JSON "[\"admin\",\"coordinator\",\"facilitator\",\"mentor\",\"commissioner\"]"
#define STAFF_SCHEMA                                                                               \
	"{\"type\":\"object\",\"required\":[\"id\",\"email\",\"display_name\",\"memberships\"],"   \
	"\"properties\":{\"id\":{\"type\":\"integer\"},\"email\":{\"type\":\"string\"},"           \
	"\"display_name\":{\"type\":\"string\"},\"server_admin\":{\"type\":\"boolean\"},"          \
	"\"disabled\":{\"type\":\"boolean\"},\"has_password\":{\"type\":\"boolean\"},"             \
	"\"created_at\":{\"type\":\"string\"},\"updated_at\":{\"type\":\"string\"},"               \
	"\"memberships\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"      \
	"\"organisation_id\":{\"type\":\"integer\"},\"organisation\":{\"type\":\"string\"},"       \
	"\"role\":{\"enum\":" ROLES_JSON "}}}}}}"

static const char create_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"email\",\"display_name\",\"organisation_id\",\"role\"],\"properties\":{"
    "\"email\":{\"type\":\"string\",\"minLength\":3,\"maxLength\":254},"
    "\"display_name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":100},"
    "\"password\":{\"type\":\"string\",\"minLength\":12,\"maxLength\":1024},"
    "\"organisation_id\":{\"type\":\"integer\",\"minimum\":1},"
    "\"role\":{\"enum\":" ROLES_JSON "}}}";
static const char patch_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"display_name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":100},"
    "\"disabled\":{\"type\":\"boolean\"},"
    "\"password\":{\"type\":\"string\",\"minLength\":12,\"maxLength\":1024},"
    "\"current_password\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1024}}}";
static const char list_schema[] =
    "{\"type\":\"object\",\"required\":[\"items\",\"next_cursor\"],\"properties\":{"
    "\"items\":{\"type\":\"array\",\"items\":" STAFF_SCHEMA "},"
    "\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}";

static const char create_sql[] =
    "SELECT core.identity_staff_create($1::bigint, $2::inet, $3::text, $4::text, $5::text,"
    " $6::text, $7::bigint, $8::core.staff_role)";
static const char list_sql[] =
    "SELECT core.identity_staff_list($1::bigint, $4::bigint, $5::int, $6::bigint)"
    " FROM (SELECT $2::inet, $3::text) ctx";
static const char get_sql[] =
    "SELECT core.identity_staff_json(s, $1::bigint)"
    " FROM core.staff s, (SELECT $2::inet, $3::text) ctx"
    " WHERE s.id = $4::bigint AND core.identity_staff_visible($1::bigint, s.id)";
static const char update_sql[] =
    "SELECT core.identity_staff_update($1::bigint, $2::inet, $3::text, $4::bigint, $5::text,"
    " $6::boolean, $7::text, $8::text)";
/* The caller's stored hash ({"hash"}), or {"retry_after"} while their email
 * is locked by failed password checks. */
static const char own_hash_sql[] =
    "SELECT core.identity_password_state($1::bigint, $2::inet, $3::text)";
/* A wrong current_password, counted like a failed sign-in. */
static const char pw_fail_sql[] =
    "SELECT core.identity_password_fail($1::bigint, $2::inet, $3::text, $4::int, $5::int)";

/* A password member: min..PASSWORD_MAX_CHARS characters of any text. The
 * message never repeats the value. */
static wm_status password_field(struct wm_req *req, const json_t *obj, const char *field,
                                size_t min, const char **out, size_t *len)
{
	json_t *v = json_object_get(obj, field);
	*out = NULL;
	if (!v || json_is_null(v))
		return WM_OK;
	if (!json_is_string(v)) {
		req_reply_error(req, 400, "core.wrong_type", field, "%s must be a string.", field);
		return WM_ERR;
	}
	const char *s = json_string_value(v);
	size_t bytes = json_string_length(v), chars = 0;
	for (size_t i = 0; i < bytes; i++)
		chars += ((unsigned char)s[i] & 0xc0) != 0x80;
	if (chars < min || chars > PASSWORD_MAX_CHARS || strlen(s) != bytes) {
		req_reply_error(
		    req, 400, chars > PASSWORD_MAX_CHARS ? "core.too_long" : "core.bad_password",
		    field, "%s must be %zu to %d characters.", field, min, PASSWORD_MAX_CHARS);
		return WM_ERR;
	}
	*out = s;
	*len = bytes;
	return WM_OK;
}

/* One request waiting for the hashing threads and the database. The
 * password copies are wiped before they are freed; the gate's slot (a
 * password change) is given back with the reply. */
struct pw_job {
	struct wm_req *req;
	char *password; /* the new password */
	size_t password_len;
	char *current; /* PATCH: the current password, or NULL */
	size_t current_len;
	char stored[crypto_pwhash_STRBYTES]; /* PATCH: the stored hash, or "" */
	char hash[crypto_pwhash_STRBYTES];   /* out: the new hash */
	int current_ok, hashed;
	int slot;
	/* The rest of the statement's parameters (borrowed from req->body). */
	const char *email, *name, *org, *role, *disabled;
	char id[24];
};

static void pw_job_free(struct pw_job *j)
{
	if (j->password)
		sodium_memzero(j->password, j->password_len);
	if (j->current)
		sodium_memzero(j->current, j->current_len);
	free(j->password);
	free(j->current);
	login_gate_leave(&j->slot);
	sodium_memzero(j, sizeof *j);
	free(j);
}

static struct pw_job *pw_job_new(struct wm_req *req, const char *pw, size_t len)
{
	struct pw_job *j = calloc(1, sizeof *j);
	if (j && !(j->password = malloc(len + 1))) {
		free(j);
		j = NULL;
	}
	if (!j) {
		req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
		return NULL;
	}
	memcpy(j->password, pw, len + 1);
	j->password_len = len;
	j->req = req;
	j->slot = -1;
	return j;
}

/* Runs on a hashing thread: touches only the job. */
static void pw_work(void *arg)
{
	struct pw_job *j = arg;
	if (j->stored[0])
		j->current_ok = j->current && crypto_pwhash_str_verify(j->stored, j->current,
		                                                       j->current_len) == 0;
	else
		j->current_ok = 1;
	if (j->current)
		sodium_memzero(j->current, j->current_len);
	if (j->current_ok)
		j->hashed = crypto_pwhash_str(j->hash, j->password, j->password_len,
		                              crypto_pwhash_OPSLIMIT_INTERACTIVE,
		                              crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0;
	sodium_memzero(j->password, j->password_len);
}

/* Queues the job; on a full queue answers 503 and frees it. */
static void pw_submit(struct pw_job *j, workq_done_fn done)
{
	if (workq_submit(j->req->srv->pwq, pw_work, done, j) != WM_OK) {
		login_reply_busy(j->req);
		pw_job_free(j);
	}
}

/* The reply of a statement returning one JSON object: parsed, or NULL
 * after replying (error: as api_exec; no row: 404). */
static json_t *result_json(struct wm_req *req, const struct wm_db_result *res)
{
	const char *text = db_result_value(res, 0, 0);
	json_t *body = text ? json_loads(text, 0, NULL) : NULL;
	if (db_result_error(res) != WM_DB_OK)
		api_reply_db_error(req, res);
	else if (!text)
		req_reply_error(req, 404, "core.not_found", NULL, "No such staff member.");
	else if (!body)
		req_reply_error(req, 500, "core.internal", NULL, "Malformed result.");
	return body;
}

/* The insert itself; api_exec replies on every path. */
static void create_exec(struct wm_req *req, const char *email, const char *name, const char *hash,
                        const char *org, const char *role)
{
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, email, name, hash, org, role};
	if (api_exec(req, "core.staff_create", 8, p, 201, NULL) != WM_OK)
		return;
}

static void create_hashed(void *arg, int cancelled)
{
	struct pw_job *j = arg;
	if (cancelled)
		login_reply_busy(j->req);
	else if (!j->hashed)
		req_reply_error(j->req, 500, "core.internal", NULL, "Cannot hash the password.");
	else
		create_exec(j->req, j->email, j->name, j->hash, j->org, j->role);
	pw_job_free(j);
}

static void create_start(struct wm_req *req, json_t *body)
{
	static const char *const allowed[] = {"email",           "display_name", "password",
	                                      "organisation_id", "role",         NULL};
	static const char *const none[] = {NULL};
	const char *email = NULL, *name = NULL, *pw = NULL, *org = NULL, *role = NULL;
	char org_buf[24];
	size_t pw_len = 0;
	if (api_query_only(req, none) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
	    req_json_string(req, body, "email", EMAIL_MAX, 1, &email) != WM_OK)
		return;
	if (!identity_email_ok(email)) {
		req_reply_error(req, 400, "core.bad_email", "email",
		                "email must look like name@example.org.");
		return;
	}
	if (req_json_string(req, body, "display_name", NAME_MAX_CHARS, 1, &name) != WM_OK ||
	    password_field(req, body, "password", PASSWORD_MIN_CHARS, &pw, &pw_len) != WM_OK ||
	    api_id_field(req, body, "organisation_id", 1, org_buf, &org) != WM_OK ||
	    api_enum(req, body, "role", roles, 1, &role) != WM_OK)
		return;
	if (!pw) {
		create_exec(req, email, name, NULL, org, role);
		return;
	}
	struct pw_job *j = pw_job_new(req, pw, pw_len);
	if (!j)
		return;
	j->email = email;
	j->name = name;
	j->role = role;
	j->org = j->id;
	snprintf(j->id, sizeof j->id, "%s", org);
	pw_submit(j, create_hashed);
}

/* Bodies that carry passwords: the raw bytes are wiped once parsed, and
 * the parsed text on every path (the reference outlives the reply). */
static void with_secret_body(struct wm_req *req, void (*start)(struct wm_req *, json_t *))
{
	json_t *body;
	if (login_secret_json(req, &body) != WM_OK)
		return;
	json_incref(body);
	start(req, body);
	login_wipe_string(body, "password");
	login_wipe_string(body, "current_password");
	json_decref(body);
}

static void staff_create(struct wm_req *req, void *state)
{
	with_secret_body(req, create_start);
}

static void staff_list(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"limit", "cursor", "organisation_id", NULL};
	char limit[8], cursor[24];
	const char *org = NULL;
	struct api_ctx ctx;
	if (api_query_only(req, allowed) != WM_OK || api_page(req, limit, cursor) != WM_OK ||
	    api_query_id(req, "organisation_id", &org) != WM_OK)
		return;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, org, limit, cursor[0] ? cursor : "0"};
	if (api_exec(req, "core.staff_list", 6, p, 200, NULL) != WM_OK)
		return;
}

static void staff_get(struct wm_req *req, void *state)
{
	static const char *const none[] = {NULL};
	long long id;
	char ids[24];
	struct api_ctx ctx;
	if (api_query_only(req, none) != WM_OK || api_id(req, "id", &id) != WM_OK)
		return;
	snprintf(ids, sizeof ids, "%lld", id);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, ids};
	if (api_exec(req, "core.staff_get", 4, p, 200, NULL) != WM_OK)
		return;
}

/* The parameters of core.staff_update. A password change ends every
 * other session, not this one. */
static void update_params(struct wm_req *req, struct api_ctx *ctx, const char *id, const char *name,
                          const char *disabled, const char *hash, const char *p[8])
{
	const char *keep = req->session_selector;
	api_ctx(req, ctx);
	p[0] = ctx->staff;
	p[1] = ctx->addr;
	p[2] = ctx->rid;
	p[3] = id;
	p[4] = name;
	p[5] = disabled;
	p[6] = hash;
	p[7] = keep[0] ? keep : NULL;
}

static void password_changed(void *arg, const struct wm_db_result *res)
{
	struct pw_job *j = arg;
	json_t *body = result_json(j->req, res);
	if (body && !login_reply_if_locked(j->req, body)) {
		req_reply_json(j->req, 200, body);
		body = NULL;
	}
	json_decref(body);
	pw_job_free(j);
}

static void password_failed(void *arg, const struct wm_db_result *res)
{
	struct pw_job *j = arg;
	json_t *body = result_json(j->req, res);
	if (body && !login_reply_if_locked(j->req, body))
		req_reply_error(j->req, 422, "core.bad_password", "current_password",
		                "current_password is not your current password.");
	json_decref(body);
	pw_job_free(j);
}

static void patch_hashed(void *arg, int cancelled)
{
	struct pw_job *j = arg;
	struct wm_req *req = j->req;
	struct api_ctx ctx;
	wm_status st;
	if (cancelled) {
		login_reply_busy(req);
		pw_job_free(j);
		return;
	}
	if (!j->current_ok) {
		char max[24], cap[24];
		snprintf(max, sizeof max, "%lld", req->srv->cfg.auth_login_max_failures);
		snprintf(cap, sizeof cap, "%lld", req->srv->cfg.auth_login_lockout_max_s);
		api_ctx(req, &ctx);
		const char *p[] = {ctx.staff, ctx.addr, ctx.rid, max, cap};
		st = db_exec_prepared(req->srv->pool, "core.staff_password_fail", 5, p,
		                      password_failed, j);
	} else if (!j->hashed) {
		req_reply_error(req, 500, "core.internal", NULL, "Cannot hash the password.");
		pw_job_free(j);
		return;
	} else {
		const char *p[8];
		update_params(req, &ctx, j->id, j->name, j->disabled, j->hash, p);
		st = db_exec_prepared(req->srv->pool, "core.staff_update", 8, p, password_changed,
		                      j);
	}
	if (st != WM_OK) {
		req_reply_error(req, 500, "core.internal", NULL, "Cannot run the query.");
		pw_job_free(j);
	}
}

static void own_hash_found(void *arg, const struct wm_db_result *res)
{
	struct pw_job *j = arg;
	json_t *body = result_json(j->req, res);
	if (!body || login_reply_if_locked(j->req, body)) {
		json_decref(body);
		pw_job_free(j);
		return;
	}
	json_t *h = json_object_get(body, "hash");
	const char *stored = json_string_value(h);
	/* A stored hash that does not fit is not "no password": refuse. */
	if (!json_is_null(h) && (!stored || strlen(stored) >= sizeof j->stored ||
	                         strncmp(stored, "$argon2id$", 10) != 0)) {
		req_reply_error(j->req, 500, "core.internal", NULL,
		                "The stored password cannot be checked; ask an administrator.");
		json_decref(body);
		pw_job_free(j);
		return;
	}
	if (stored)
		memcpy(j->stored, stored, strlen(stored) + 1);
	json_decref(body);
	if (j->stored[0] && !j->current) {
		req_reply_error(j->req, 400, "core.missing_field", "current_password",
		                "current_password is required to change your password.");
		pw_job_free(j);
		return;
	}
	pw_submit(j, patch_hashed);
}

static void patch_start(struct wm_req *req, json_t *body)
{
	static const char *const allowed[] = {"display_name", "disabled", "password",
	                                      "current_password", NULL};
	static const char *const none[] = {NULL};
	long long id;
	int disabled = 0;
	const char *name = NULL, *pw = NULL, *current = NULL, *dis = NULL;
	size_t pw_len = 0, current_len = 0;
	char ids[24];
	struct api_ctx ctx;
	if (api_query_only(req, none) != WM_OK || api_id(req, "id", &id) != WM_OK ||
	    req_json_only(req, body, allowed) != WM_OK ||
	    req_json_string(req, body, "display_name", NAME_MAX_CHARS, 0, &name) != WM_OK ||
	    req_json_bool(req, body, "disabled", 0, &disabled) != WM_OK ||
	    password_field(req, body, "password", PASSWORD_MIN_CHARS, &pw, &pw_len) != WM_OK ||
	    password_field(req, body, "current_password", 1, &current, &current_len) != WM_OK)
		return;
	json_t *d = json_object_get(body, "disabled");
	if (d && !json_is_null(d))
		dis = disabled ? "true" : "false";
	snprintf(ids, sizeof ids, "%lld", id);
	if (!pw) {
		const char *p[8];
		update_params(req, &ctx, ids, name, dis, NULL, p);
		if (api_exec(req, "core.staff_update", 8, p, 200, NULL) != WM_OK)
			return;
		return;
	}
	if (id != req->caller.staff_id) {
		req_reply_error(req, 422, "core.invalid", "password",
		                "Only staff members change their own password.");
		return;
	}
	struct pw_job *j = pw_job_new(req, pw, pw_len);
	if (!j)
		return;
	if (current && !(j->current = malloc(current_len + 1))) {
		pw_job_free(j);
		req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
		return;
	}
	if (current) {
		memcpy(j->current, current, current_len + 1);
		j->current_len = current_len;
	}
	j->name = name;
	j->disabled = dis;
	memcpy(j->id, ids, sizeof ids);
	/* One check of this member's current password at a time. */
	if ((j->slot = login_gate_enter(req, LOGIN_GATE_PASSWORD, ids)) < 0) {
		pw_job_free(j);
		return;
	}
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid};
	if (db_exec_prepared(req->srv->pool, "core.staff_own_hash", 3, p, own_hash_found, j) !=
	    WM_OK) {
		req_reply_error(req, 500, "core.internal", NULL, "Cannot run the query.");
		pw_job_free(j);
	}
}

static void staff_patch(struct wm_req *req, void *state)
{
	with_secret_body(req, patch_start);
}

wm_status api_staff_register(struct server *srv)
{
	static const struct wm_route_doc create_doc = {
	    "Create a staff member with a first role in an organisation the caller runs.",
	    create_schema, STAFF_SCHEMA, 201};
	static const struct wm_route_doc list_doc = {
	    "Staff of the organisations where the caller is admin or coordinator.", NULL,
	    list_schema, 200};
	static const struct wm_route_doc get_doc = {
	    "One staff member: oneself, or staff of an organisation the caller runs.", NULL,
	    STAFF_SCHEMA, 200};
	static const struct wm_route_doc patch_doc = {
	    "Change one's own name or password, or (an admin) a member's name or whether "
	    "their account is disabled.",
	    patch_schema, STAFF_SCHEMA, 200};
	const unsigned all = WM_ROLES_ALL | WM_ACCESS_SERVER_ADMIN;
	if (api_prepare(srv, "staff_create", create_sql, 8) != WM_OK ||
	    api_prepare(srv, "staff_list", list_sql, 6) != WM_OK ||
	    api_prepare(srv, "staff_get", get_sql, 4) != WM_OK ||
	    api_prepare(srv, "staff_update", update_sql, 8) != WM_OK ||
	    api_prepare(srv, "staff_own_hash", own_hash_sql, 3) != WM_OK ||
	    api_prepare(srv, "staff_password_fail", pw_fail_sql, 5) != WM_OK)
		return WM_ERR;
	if (api_route(srv, WM_POST, "/api/v1/staff", staff_create, &create_doc,
	              WM_ROLE_ADMIN | WM_ACCESS_SERVER_ADMIN) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/staff", staff_list, &list_doc,
	              WM_ROLE_ADMIN | WM_ROLE_COORDINATOR) != WM_OK ||
	    api_route(srv, WM_GET, "/api/v1/staff/{id}", staff_get, &get_doc, all) != WM_OK ||
	    api_route(srv, WM_PATCH, "/api/v1/staff/{id}", staff_patch, &patch_doc, all) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
