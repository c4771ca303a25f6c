/*
 * api_staff — staff accounts.
 *
 * An organisation's admin (or a server admin) creates staff with a first
 * role; admins and coordinators see the staff of their organisations; every
 * member sees and edits themselves. Passwords are hashed with libsodium's
 * crypto_pwhash_str (argon2id) on the hashing threads (workq.h), never on
 * the event loop, and are never logged or returned; only the hash is
 * stored. Changing one's own password needs the current one (when there is
 * one) and ends one's other browser sessions. Scope and audit live in
 * migrations/0003_identity.sql (identity_staff_*).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "db.h"
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
/* The caller's own stored hash, to check a current password against. */
static const char own_hash_sql[] = "SELECT s.password_hash FROM core.staff s,"
                                   " (SELECT $2::inet, $3::text) ctx WHERE s.id = $1::bigint";

static int is_email(const char *s)
{
	const char *at = strchr(s, '@');
	if (!at || at == s || !at[1] || strchr(at + 1, '@'))
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return 0;
	return 1;
}

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

/* One request waiting for the hashing threads. The password copies are
 * wiped before they are freed. */
struct pw_job {
	struct wm_req *req;
	char *password; /* the new password */
	size_t password_len;
	char *current; /* PATCH: the current password, or NULL */
	size_t current_len;
	char stored[crypto_pwhash_STRBYTES]; /* PATCH: the stored hash, or "" */
	char hash[crypto_pwhash_STRBYTES];   /* out: the new hash */
	int current_ok, hashed;
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
	if (j->current_ok)
		j->hashed = crypto_pwhash_str(j->hash, j->password, j->password_len,
		                              crypto_pwhash_OPSLIMIT_INTERACTIVE,
		                              crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0;
}

static void busy(struct wm_req *req)
{
	req_add_header(req, "Retry-After", "1");
	req_reply_error(req, 503, "core.busy", NULL, "The server is busy; try again.");
}

/* Queues the job; on a full queue answers 503 and frees it. */
static void pw_submit(struct pw_job *j, workq_done_fn done)
{
	if (workq_submit(j->req->srv->pwq, pw_work, done, j) != WM_OK) {
		busy(j->req);
		pw_job_free(j);
	}
}

/* Common end of a hashing job: 1 when the hash is ready, else replied. */
static int pw_ready(struct pw_job *j, int cancelled)
{
	if (cancelled) {
		busy(j->req);
		return 0;
	}
	if (!j->current_ok) {
		req_reply_error(j->req, 422, "core.bad_password", "current_password",
		                "current_password is not your current password.");
		return 0;
	}
	if (!j->hashed) {
		req_reply_error(j->req, 500, "core.internal", NULL, "Cannot hash the password.");
		return 0;
	}
	return 1;
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
	if (pw_ready(j, cancelled))
		create_exec(j->req, j->email, j->name, j->hash, j->org, j->role);
	pw_job_free(j);
}

static void staff_create(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"email",           "display_name", "password",
	                                      "organisation_id", "role",         NULL};
	json_t *body;
	const char *email = NULL, *name = NULL, *pw = NULL, *org = NULL, *role = NULL;
	char org_buf[24];
	size_t pw_len = 0;
	if (req_json(req, &body) != WM_OK || req_json_only(req, body, allowed) != WM_OK ||
	    req_json_string(req, body, "email", EMAIL_MAX, 1, &email) != WM_OK)
		return;
	if (!is_email(email)) {
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
	/* The copy is the only one left: the body's text is wiped now. */
	sodium_memzero((char *)pw, pw_len);
	if (!j)
		return;
	j->email = email;
	j->name = name;
	j->role = role;
	j->org = j->id;
	snprintf(j->id, sizeof j->id, "%s", org);
	pw_submit(j, create_hashed);
}

static void staff_list(struct wm_req *req, void *state)
{
	char limit[8], cursor[24], org_buf[24];
	const char *org = req_query(req, "organisation_id");
	struct api_ctx ctx;
	if (api_page(req, limit, cursor) != WM_OK)
		return;
	if (org) {
		char *end = NULL;
		long long v = strtoll(org, &end, 10);
		if (!*org || *end || v < 1 || strspn(org, "0123456789") != strlen(org) ||
		    strlen(org) > 18) {
			req_reply_error(req, 400, "core.bad_query", "organisation_id",
			                "organisation_id must be a positive whole number.");
			return;
		}
		snprintf(org_buf, sizeof org_buf, "%lld", v);
		org = org_buf;
	}
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, org, limit, cursor[0] ? cursor : "0"};
	if (api_exec(req, "core.staff_list", 6, p, 200, NULL) != WM_OK)
		return;
}

static void staff_get(struct wm_req *req, void *state)
{
	long long id;
	char ids[24];
	struct api_ctx ctx;
	if (api_id(req, "id", &id) != WM_OK)
		return;
	snprintf(ids, sizeof ids, "%lld", id);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, ids};
	if (api_exec(req, "core.staff_get", 4, p, 200, NULL) != WM_OK)
		return;
}

static void update(struct wm_req *req, const char *id, const char *name, const char *disabled,
                   const char *hash)
{
	/* A password change ends every other session, not this one. */
	const char *keep = req->session_selector;
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, id,
	                   name,      disabled, hash,    keep[0] ? keep : NULL};
	if (api_exec(req, "core.staff_update", 8, p, 200, NULL) != WM_OK)
		return;
}

static void patch_hashed(void *arg, int cancelled)
{
	struct pw_job *j = arg;
	if (pw_ready(j, cancelled))
		update(j->req, j->id, j->name, j->disabled, j->hash);
	pw_job_free(j);
}

static void own_hash_found(void *arg, const struct wm_db_result *res)
{
	struct pw_job *j = arg;
	if (db_result_error(res) != WM_DB_OK) {
		api_reply_db_error(j->req, res);
		pw_job_free(j);
		return;
	}
	const char *stored = db_result_value(res, 0, 0);
	if (stored && strlen(stored) < sizeof j->stored)
		memcpy(j->stored, stored, strlen(stored) + 1);
	if (j->stored[0] && !j->current) {
		req_reply_error(j->req, 400, "core.missing_field", "current_password",
		                "current_password is required to change your password.");
		pw_job_free(j);
		return;
	}
	pw_submit(j, patch_hashed);
}

static void staff_patch(struct wm_req *req, void *state)
{
	static const char *const allowed[] = {"display_name", "disabled", "password",
	                                      "current_password", NULL};
	json_t *body;
	long long id;
	int disabled = 0;
	const char *name = NULL, *pw = NULL, *current = NULL, *dis = NULL;
	size_t pw_len = 0, current_len = 0;
	char ids[24];
	if (api_id(req, "id", &id) != WM_OK || req_json(req, &body) != WM_OK ||
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
		update(req, ids, name, dis, NULL);
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
		sodium_memzero((char *)current, current_len);
	}
	sodium_memzero((char *)pw, pw_len);
	j->name = name;
	j->disabled = dis;
	memcpy(j->id, ids, sizeof ids);
	struct api_ctx ctx;
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid};
	if (db_exec_prepared(req->srv->pool, "core.staff_own_hash", 3, p, own_hash_found, j) !=
	    WM_OK) {
		pw_job_free(j);
		req_reply_error(req, 500, "core.internal", NULL, "Cannot run the query.");
	}
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
	    api_prepare(srv, "staff_own_hash", own_hash_sql, 3) != WM_OK)
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
