/*
 * api — input checks and result mapping shared by the core's resource
 * handlers. See api.h for the one pattern they all follow.
 */
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "api.h"
#include "db.h"
#include "log.h"
#include "req.h"
#include "router.h"
#include "server.h"

void api_ctx(struct wm_req *req, struct api_ctx *ctx)
{
	snprintf(ctx->staff, sizeof ctx->staff, "%lld",
	         req->have_caller ? (long long)req->caller.staff_id : 0LL);
	const char *a = req_remote_addr(req);
	ctx->addr = a && *a ? a : NULL;
	ctx->rid = req->id;
}

static int in_list(const char *s, const char *const *allowed);

static int parse_pos_id(const char *s, long long *out)
{
	if (!s || !*s || strlen(s) > 18 || strspn(s, "0123456789") != strlen(s) || s[0] == '0')
		return 0;
	*out = strtoll(s, NULL, 10);
	return *out > 0;
}

wm_status api_id(struct wm_req *req, const char *param, long long *out)
{
	if (parse_pos_id(req_param(req, param), out))
		return WM_OK;
	req_reply_error(req, 404, "core.not_found", NULL, "No such resource.");
	return WM_ERR;
}

wm_status api_query_only(struct wm_req *req, const char *const *allowed)
{
	const struct evkeyvalq *q = req_query_all(req);
	const struct evkeyval *kv, *other;
	if (!q) {
		req_reply_error(req, 400, "core.bad_query", NULL,
		                "The query string is malformed (each parameter is name=value).");
		return WM_ERR;
	}
	TAILQ_FOREACH(kv, q, next)
	{
		if (!in_list(kv->key, allowed)) {
			req_reply_error(req, 400, "core.bad_query", kv->key,
			                "%.64s is not a parameter of this route.", kv->key);
			return WM_ERR;
		}
		for (other = TAILQ_NEXT(kv, next); other; other = TAILQ_NEXT(other, next)) {
			if (!strcmp(other->key, kv->key)) {
				req_reply_error(req, 400, "core.bad_query", kv->key,
				                "%.64s is given more than once.", kv->key);
				return WM_ERR;
			}
		}
	}
	return WM_OK;
}

wm_status api_query_id(struct wm_req *req, const char *name, const char **out)
{
	long long v;
	const char *s = req_query(req, name);
	*out = NULL;
	if (!s)
		return WM_OK;
	if (!parse_pos_id(s, &v)) {
		req_reply_error(req, 400, "core.bad_query", name, "%s must be a positive id.",
		                name);
		return WM_ERR;
	}
	*out = s;
	return WM_OK;
}

wm_status api_page(struct wm_req *req, char limit[8], char cursor[24])
{
	const char *l = req_query(req, "limit");
	const char *c = req_query(req, "cursor");
	long long n = API_PAGE_DEFAULT, id = 0;
	if (l) {
		if (strlen(l) > 4 || strspn(l, "0123456789") != strlen(l) || !*l ||
		    (n = atoll(l)) < 1 || n > API_PAGE_MAX) {
			req_reply_error(req, 400, "core.bad_query", "limit",
			                "limit must be a whole number from 1 to %d.", API_PAGE_MAX);
			return WM_ERR;
		}
	}
	if (c && *c && !parse_pos_id(c, &id)) {
		req_reply_error(req, 400, "core.bad_query", "cursor",
		                "cursor must be a next_cursor value from a previous page.");
		return WM_ERR;
	}
	snprintf(limit, 8, "%lld", n);
	if (id)
		snprintf(cursor, 24, "%lld", id);
	else
		cursor[0] = '\0';
	return WM_OK;
}

static int in_list(const char *s, const char *const *allowed)
{
	for (size_t i = 0; allowed[i]; i++)
		if (!strcmp(s, allowed[i]))
			return 1;
	return 0;
}

static void list_text(const char *const *allowed, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; allowed[i]; i++) {
		size_t used = strlen(buf);
		snprintf(buf + used, len - used, "%s%s", i ? ", " : "", allowed[i]);
	}
}

wm_status api_enum(struct wm_req *req, const json_t *obj, const char *field,
                   const char *const *allowed, int required, const char **out)
{
	const char *s = NULL;
	char list[512];
	if (req_json_string(req, obj, field, 64, required, &s) != WM_OK)
		return WM_ERR;
	if (!s)
		return WM_OK;
	if (!in_list(s, allowed)) {
		list_text(allowed, list, sizeof list);
		req_reply_error(req, 400, "core.bad_enum", field, "%s must be one of: %s.", field,
		                list);
		return WM_ERR;
	}
	*out = s;
	return WM_OK;
}

wm_status api_query_enum(struct wm_req *req, const char *name, const char *const *allowed,
                         const char **out)
{
	char list[512];
	const char *s = req_query(req, name);
	*out = NULL;
	if (!s)
		return WM_OK;
	if (!in_list(s, allowed)) {
		list_text(allowed, list, sizeof list);
		req_reply_error(req, 400, "core.bad_query", name, "%s must be one of: %s.", name,
		                list);
		return WM_ERR;
	}
	*out = s;
	return WM_OK;
}

static int leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

wm_status api_date(struct wm_req *req, const json_t *obj, const char *field, int required,
                   int not_future, const char **out)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *s = NULL;
	if (req_json_string(req, obj, field, 10, required, &s) != WM_OK)
		return WM_ERR;
	if (!s)
		return WM_OK;
	int y = 0, m = 0, d = 0, n = 0;
	int ok = strlen(s) == 10 && sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) == 3 && n == 10 &&
	         s[4] == '-' && s[7] == '-' && strspn(s, "0123456789-") == 10 && y >= 1900 &&
	         y <= 2200 && m >= 1 && m <= 12 && d >= 1 &&
	         d <= mdays[m - 1] + (m == 2 && leap(y));
	if (!ok) {
		req_reply_error(req, 400, "core.bad_date", field,
		                "%s must be a date that exists, written YYYY-MM-DD.", field);
		return WM_ERR;
	}
	if (not_future) {
		time_t now = time(NULL);
		struct tm tm;
		char today[11];
		gmtime_r(&now, &tm);
		strftime(today, sizeof today, "%Y-%m-%d", &tm);
		if (strcmp(s, today) > 0) {
			req_reply_error(req, 422, "core.date_in_future", field,
			                "%s cannot be in the future.", field);
			return WM_ERR;
		}
	}
	*out = s;
	return WM_OK;
}

/* Digits at s[0..n), as a number; -1 if any is not a digit. */
static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

wm_status api_instant(struct wm_req *req, const json_t *obj, const char *field, int required,
                      const char **out)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *s = NULL;
	if (req_json_string(req, obj, field, 40, required, &s) != WM_OK)
		return WM_ERR;
	if (!s)
		return WM_OK;
	size_t n = strlen(s), i = 16;
	int y = digits(s, 4), mo = n >= 7 ? digits(s + 5, 2) : -1,
	    d = n >= 10 ? digits(s + 8, 2) : -1;
	int h = n >= 13 ? digits(s + 11, 2) : -1, mi = n >= 16 ? digits(s + 14, 2) : -1, sec = 0;
	int ok = n >= 16 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == 't') &&
	         s[13] == ':' && y >= 1900 && y <= 2200 && mo >= 1 && mo <= 12 && d >= 1 &&
	         d <= mdays[mo - 1] + (mo == 2 && leap(y)) && h >= 0 && h <= 23 && mi >= 0 &&
	         mi <= 59;
	if (ok && i < n && s[i] == ':') {
		sec = i + 3 <= n ? digits(s + i + 1, 2) : -1;
		ok = sec >= 0 && sec <= 59;
		i += 3;
		if (ok && i < n && s[i] == '.') {
			size_t f = ++i;
			while (i < n && s[i] >= '0' && s[i] <= '9')
				i++;
			ok = i > f && i - f <= 6;
		}
	}
	if (ok && i < n) {
		if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n)
			i++;
		else if ((s[i] == '+' || s[i] == '-') && i + 6 == n && s[i + 3] == ':') {
			int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
			ok = oh >= 0 && oh <= 23 && om >= 0 && om <= 59;
			i = n;
		} else
			ok = 0;
	}
	if (!ok || i != n) {
		req_reply_error(
		    req, 400, "core.bad_time", field,
		    "%s must be a date-time: 2027-03-28T09:30 (local, in the programme's "
		    "time zone) or RFC 3339 with Z or an offset.",
		    field);
		return WM_ERR;
	}
	*out = s;
	return WM_OK;
}

wm_status api_text(struct wm_req *req, const json_t *obj, const char *field, size_t max_len,
                   int required, const char **out)
{
	json_t *v = json_object_get(obj, field);
	if (!v || json_is_null(v)) {
		if (!required)
			return WM_OK;
		req_reply_error(req, 400, "core.missing_field", field, "%s is required.", field);
		return WM_ERR;
	}
	if (!json_is_string(v)) {
		req_reply_error(req, 400, "core.wrong_type", field, "%s must be a string.", field);
		return WM_ERR;
	}
	const unsigned char *s = (const unsigned char *)json_string_value(v);
	size_t bytes = json_string_length(v), chars = 0;
	for (size_t i = 0; i < bytes; i++) {
		unsigned char c = s[i];
		if ((c & 0xc0) != 0x80)
			chars++;
		/* C0 controls except tab, LF, CR; DEL; and C1 (U+0080..U+009F,
		 * encoded as C2 80..C2 9F). */
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f ||
		    (c == 0xc2 && i + 1 < bytes && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)) {
			req_reply_error(req, 400, "core.bad_text", field,
			                "%s contains a control character.", field);
			return WM_ERR;
		}
	}
	if (utf8_has_bidi_controls(s, bytes)) {
		req_reply_error(req, 400, "core.bad_text", field,
		                "%s contains a bidirectional formatting character.", field);
		return WM_ERR;
	}
	if (chars == 0) {
		req_reply_error(req, 400, "core.empty", field, "%s must not be empty.", field);
		return WM_ERR;
	}
	if (chars > max_len) {
		req_reply_error(req, 400, "core.too_long", field,
		                "%s is longer than %zu characters.", field, max_len);
		return WM_ERR;
	}
	*out = (const char *)s;
	return WM_OK;
}

wm_status api_id_field(struct wm_req *req, const json_t *obj, const char *field, int required,
                       char buf[24], const char **out)
{
	long long v = 0;
	*out = NULL;
	if (req_json_int(req, obj, field, 1, 999999999999999999LL, required, &v) != WM_OK)
		return WM_ERR;
	if (!json_object_get(obj, field) || json_is_null(json_object_get(obj, field)))
		return WM_OK;
	snprintf(buf, 24, "%lld", v);
	*out = buf;
	return WM_OK;
}

void api_reply_db_error(struct wm_req *req, const struct wm_db_result *res)
{
	const char *state = db_result_sqlstate(res);
	if (db_result_error(res) == WM_DB_QUERY && !strncmp(state, "WM", 2)) {
		/* "code|field|message" from our own RAISE. */
		const char *msg = db_result_message(res);
		const char *bar1 = strchr(msg, '|');
		const char *bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;
		int status = atoi(state + 2);
		if (status < 400 || status > 499)
			status = 422;
		if (bar1 && bar2 && bar1 - msg < 64 && bar2 - bar1 - 1 < 64) {
			char code[64], field[64];
			memcpy(code, msg, (size_t)(bar1 - msg));
			code[bar1 - msg] = '\0';
			memcpy(field, bar1 + 1, (size_t)(bar2 - bar1 - 1));
			field[bar2 - bar1 - 1] = '\0';
			req_reply_error(req, status, code, field[0] ? field : NULL, "%s", bar2 + 1);
		} else {
			req_reply_error(req, status, "core.refused", NULL, "%s", msg);
		}
		return;
	}
	if (db_result_error(res) == WM_DB_QUERY) {
		if (!strcmp(state, "23505") || !strcmp(state, "23P01")) {
			req_reply_error(req, 409, "core.conflict", NULL,
			                "This would duplicate or overlap an existing record.");
			return;
		}
		if (!strncmp(state, "23", 2) || !strcmp(state, "22001") ||
		    !strcmp(state, "22007") || !strcmp(state, "22008")) {
			/* PostgreSQL's own text names tables and constraints, and
			 * for bad dates echoes the input: it goes to the log, the
			 * client gets the column when PostgreSQL knows it. */
			const char *col = db_result_column(res);
			log_msg(WM_LOG_INFO, "db", "refused (SQLSTATE %s) rid=%s: %s", state,
			        req->id, db_result_message(res));
			req_reply_error(req, 422, "core.invalid", col[0] ? col : NULL,
			                "The request breaks a rule of the data%s%s.",
			                col[0] ? " in " : "", col);
			return;
		}
	}
	req_reply_db_error(req, res);
}

void api_reply_result(struct wm_req *req, const struct wm_db_result *res, int status,
                      const char *not_found_code)
{
	if (db_result_error(res) != WM_DB_OK) {
		api_reply_db_error(req, res);
		return;
	}
	const char *text = db_result_ntuples(res) > 0 && db_result_nfields(res) > 0
	                       ? db_result_value(res, 0, 0)
	                       : NULL;
	if (!text) {
		req_reply_error(req, 404, not_found_code ? not_found_code : "core.not_found", NULL,
		                "No such resource.");
		return;
	}
	if (status == 204) {
		req_reply_json(req, 204, NULL);
		return;
	}
	json_error_t jerr;
	json_t *body = json_loads(text, JSON_DECODE_ANY, &jerr);
	if (!body) {
		req_reply_error(req, 500, "core.internal", NULL, "Malformed result.");
		return;
	}
	req_reply_json(req, status, body);
}

wm_status api_route(struct server *srv, unsigned methods, const char *pattern,
                    wm_handler_fn handler, const struct wm_route_doc *doc, unsigned access)
{
	char err[256];
	if (router_add_access(srv->router, methods, pattern, handler, srv, NULL, doc, access, err,
	                      sizeof err) != WM_OK) {
		log_msg(WM_LOG_ERROR, "server", "cannot add route: %s", err);
		return WM_ERR;
	}
	return WM_OK;
}

wm_status api_prepare(struct server *srv, const char *name, const char *sql, int nparams)
{
	char full[128];
	snprintf(full, sizeof full, "core.%s", name);
	if (db_pool_prepare(srv->pool, full, sql, nparams) != WM_OK) {
		log_msg(WM_LOG_ERROR, "server", "cannot prepare %s", full);
		return WM_ERR;
	}
	return WM_OK;
}

void api_exec_by_id(struct wm_req *req, const char *const *allowed, const char *stmt, int status)
{
	long long id;
	char ids[24];
	struct api_ctx ctx;
	if (api_query_only(req, allowed) != WM_OK || api_id(req, "id", &id) != WM_OK)
		return;
	snprintf(ids, sizeof ids, "%lld", id);
	api_ctx(req, &ctx);
	const char *p[] = {ctx.staff, ctx.addr, ctx.rid, ids};
	if (api_exec(req, stmt, 4, p, status, "core.not_found") != WM_OK)
		return; /* api_exec replied */
}

static void exec_done(void *arg, const struct wm_db_result *res)
{
	struct wm_req *req = arg;
	api_reply_result(req, res, req->api_status, req->api_not_found);
}

wm_status api_exec(struct wm_req *req, const char *stmt, int nparams, const char *const *params,
                   int status, const char *not_found_code)
{
	req->api_status = status;
	req->api_not_found = not_found_code;
	if (db_exec_prepared(req->srv->pool, stmt, nparams, params, exec_done, req) != WM_OK) {
		req_reply_error(req, 500, "core.internal", NULL, "Cannot run the query.");
		return WM_ERR;
	}
	return WM_OK;
}
