/*
 * feed_serve — the subscription link: GET/HEAD /feeds/{token}[.ics] and one
 * event of it, /feeds/{token}/sessions/{id}.ics. Public routes: the token
 * is the credential. It is parsed here (a malformed one is 404 without a
 * query), looked up by ONE statement (core.feed_serve: selector and hash,
 * last-used touch, the rows), and its hash compared again in constant
 * time. Unknown, revoked and malformed links get the same 404 body. The
 * access log writes the route template, never the path (core/req.c), so
 * the token is never logged.
 *
 * HTTP (ICAL.md D10): strong ETag of the exact bytes, Last-Modified from
 * the feed's revision, 304 for a matching If-None-Match (which wins over
 * If-Modified-Since), HEAD through req.c, Cache-Control: no-cache, and no
 * Content-Disposition on the subscription itself.
 */
#include <event2/buffer.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "db.h"
#include "feed.h"
#include "ical.h"
#include "log.h"
#include "req.h"
#include "secret.h"
#include "server.h"

void feed_base_url(struct server *srv, char *out, size_t len)
{
	const char *pub = srv->cfg.public_url;
	if (pub && *pub)
		snprintf(out, len, "%s", pub);
	else
		snprintf(out, len, "http://%s", srv->cfg.listen);
	size_t n = strlen(out);
	while (n > 0 && out[n - 1] == '/')
		out[--n] = '\0';
}

static const char *const wday[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* IMF-fixdate, independent of the locale. */
static void http_date(time_t t, char out[40])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d GMT", wday[tm.tm_wday], tm.tm_mday,
	         mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Parses an IMF-fixdate; 0 when it is not one (the header is then
 * ignored, as RFC 9110 says). */
static int http_date_parse(const char *s, time_t *out)
{
	struct tm tm;
	char m[4];
	const char *p = s ? strchr(s, ',') : NULL;
	memset(&tm, 0, sizeof tm);
	if (!p || sscanf(p + 1, " %2d %3s %4d %2d:%2d:%2d GMT", &tm.tm_mday, m, &tm.tm_year,
	                 &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_mon = -1;
	for (int i = 0; i < 12; i++)
		if (!strcmp(m, mon[i]))
			tm.tm_mon = i;
	if (tm.tm_mon < 0)
		return 0;
	tm.tm_year -= 1900;
	*out = timegm(&tm);
	return 1;
}

/* If-None-Match: "*" or a list of entity tags, compared weakly (RFC 9110
 * §13.1.2: a W/ prefix is ignored). */
static int etag_matches(const char *header, const char *etag)
{
	size_t el = strlen(etag);
	for (const char *p = header; p && *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return 1;
		if (!strncmp(p, "W/", 2))
			p += 2;
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == el && !memcmp(p, etag, el))
			return 1;
		p = end;
	}
	return 0;
}

static void not_found(struct wm_req *req)
{
	req_reply_error(req, 404, "core.not_found", NULL, "No such resource.");
}

void feed_reply(struct wm_req *req, const struct wm_db_result *res, const struct secret *hash_check,
                const char *attachment, const char *cache)
{
	if (db_result_error(res) != WM_DB_OK) {
		req_reply_db_error(req, res);
		return;
	}
	if (db_result_ntuples(res) < 1 || db_result_nfields(res) != FC_NCOLS ||
	    (hash_check && !secret_verify(hash_check, db_result_value(res, 0, FC_DESCRIPTION)))) {
		not_found(req);
		return;
	}
	struct ical_writer *w = ical_writer_new(FEED_MAX_BYTES);
	size_t len = 0;
	const char *data = NULL;
	if (!w || feed_build(req->srv, res, w) != WM_OK || !(data = ical_writer_data(w, &len))) {
		log_msg(WM_LOG_ERROR, "feeds", "cannot build a feed (rid=%s)", req->id);
		ical_writer_free(w);
		req_reply_error(req, 500, "core.internal", NULL, "Cannot build the calendar.");
		return;
	}
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[65], etag[40], lm[40];
	crypto_hash_sha256(h, (const unsigned char *)data, len);
	sodium_bin2hex(hex, sizeof hex, h, sizeof h);
	snprintf(etag, sizeof etag, "\"%.32s\"", hex);
	/* Last-Modified: the feed's own share (header) and the sessions'
	 * ('R' row); none for downloads, whose header has none. */
	const char *lm_epoch = db_result_value(res, 0, FC_X2);
	time_t last = lm_epoch ? (time_t)atoll(lm_epoch) : 0;
	for (int r = 1; lm_epoch && r < db_result_ntuples(res); r++) {
		const char *t = db_result_value(res, r, FC_T), *x = db_result_value(res, r, FC_X2);
		if (t && !strcmp(t, "R") && x && (time_t)atoll(x) > last)
			last = (time_t)atoll(x);
	}
	if (lm_epoch)
		http_date(last, lm);
	req_add_header(req, "ETag", etag);
	if (lm_epoch)
		req_add_header(req, "Last-Modified", lm);
	req_add_header(req, "Cache-Control", cache);
	const char *inm = req_header(req, "If-None-Match");
	const char *ims = req_header(req, "If-Modified-Since");
	time_t since;
	int fresh = inm ? etag_matches(inm, etag)
	                : (lm_epoch && ims && http_date_parse(ims, &since) && last <= since);
	if (fresh) {
		ical_writer_free(w);
		req_reply_buffer(req, 304, NULL, NULL);
		return;
	}
	struct evbuffer *buf = evbuffer_new();
	if (!buf || evbuffer_add(buf, data, len) != 0) {
		if (buf)
			evbuffer_free(buf);
		ical_writer_free(w);
		req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
		return;
	}
	ical_writer_free(w);
	if (attachment) {
		char cd[96];
		snprintf(cd, sizeof cd, "attachment; filename=\"%s\"", attachment);
		req_add_header(req, "Content-Disposition", cd);
	}
	req_reply_buffer(req, 200, "text/calendar; charset=utf-8", buf);
}

/* --- the public routes ---------------------------------------------------- */

struct lookup {
	struct wm_req *req;
	struct secret s;
	char attachment[48]; /* "" for the subscription */
};

static void lookup_done(void *arg, const struct wm_db_result *res)
{
	struct lookup *l = arg;
	feed_reply(l->req, res, &l->s, l->attachment[0] ? l->attachment : NULL, "no-cache");
	sodium_memzero(&l->s, sizeof l->s);
	free(l);
}

/* The token from the path ("wmf_<selector><verifier>", ".ics" optional),
 * parsed into l->s; 0 when it cannot be one. */
static int parse_token(struct wm_req *req, struct lookup *l)
{
	const char *tok = req_param(req, "token");
	size_t n = tok ? strlen(tok) : 0;
	if (n > 4 && !strcmp(tok + n - 4, ".ics"))
		n -= 4;
	return tok && secret_parse(tok, n, FEED_TOKEN_PREFIX, &l->s) == WM_OK;
}

static void run(struct wm_req *req, struct lookup *l, const char *session)
{
	char past[16], future[16], grace[16], max[16];
	char *hooks = feed_hook_types(req->srv);
	snprintf(past, sizeof past, "%d", FEED_PAST_DAYS);
	snprintf(future, sizeof future, "%d", FEED_FUTURE_DAYS);
	snprintf(grace, sizeof grace, "%d", FEED_GRACE_DAYS);
	snprintf(max, sizeof max, "%d", FEED_MAX_EVENTS);
	const char *p[] = {l->s.selector, l->s.hash_hex, session, hooks, past, future, grace, max};
	if (!hooks ||
	    db_exec_prepared(req->srv->pool, "core.feeds_serve", 8, p, lookup_done, l) != WM_OK) {
		sodium_memzero(&l->s, sizeof l->s);
		free(l);
		req_reply_error(req, 500, "core.internal", NULL, "Cannot run the query.");
	}
	free(hooks);
}

static void feed_get(struct wm_req *req, void *state)
{
	struct lookup *l = calloc(1, sizeof *l);
	(void)state;
	if (!l) {
		req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
		return;
	}
	l->req = req;
	if (!parse_token(req, l)) {
		sodium_memzero(&l->s, sizeof l->s);
		free(l);
		not_found(req);
		return;
	}
	run(req, l, NULL);
}

static void feed_event_get(struct wm_req *req, void *state)
{
	struct lookup *l = calloc(1, sizeof *l);
	const char *file = req_param(req, "file");
	char id[24];
	size_t n = file ? strlen(file) : 0;
	(void)state;
	if (!l) {
		req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
		return;
	}
	l->req = req;
	/* "<id>.ics": a positive id of at most 18 digits. */
	int ok = n > 4 && n - 4 <= 18 && !strcmp(file + n - 4, ".ics") && file[0] != '0' &&
	         strspn(file, "0123456789") == n - 4 && parse_token(req, l);
	if (!ok) {
		sodium_memzero(&l->s, sizeof l->s);
		free(l);
		not_found(req);
		return;
	}
	snprintf(id, sizeof id, "%.*s", (int)(n - 4), file);
	snprintf(l->attachment, sizeof l->attachment, "session-%s.ics", id);
	run(req, l, id);
}

wm_status feed_serve_register(struct server *srv)
{
	static const struct wm_route_doc feed_doc = {
	    "A calendar feed (text/calendar) for whoever holds its secret link; HEAD too. 304 "
	    "for a matching If-None-Match or, without one, If-Modified-Since.",
	    NULL, NULL, 200};
	static const struct wm_route_doc event_doc = {
	    "One event of a calendar feed as a .ics download, redacted as the feed is.", NULL, NULL,
	    200};
	if (api_prepare(srv, "feeds_serve",
	                "SELECT * FROM core.feed_serve($1, $2, $3::bigint, $4::text[], $5::int,"
	                " $6::int, $7::int, $8::int)",
	                8) != WM_OK ||
	    api_route(srv, WM_GET, "/feeds/{token}", feed_get, &feed_doc, WM_ACCESS_PUBLIC) !=
	        WM_OK ||
	    api_route(srv, WM_GET, "/feeds/{token}/sessions/{file}", feed_event_get, &event_doc,
	              WM_ACCESS_PUBLIC) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
