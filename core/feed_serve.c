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
 *
 * Revalidation is cheap: the same one statement is sent the digest this
 * process last saw for the link (feed_cache.c) when that entry can answer
 * (it holds the bytes, or the client's If-None-Match is its ETag). SQL
 * computes the digest of every input of the bytes in the same snapshot as
 * the rows and, when it is unchanged, returns no events: the reply is the
 * cached ETag (304) or bytes, with Last-Modified computed afresh. Otherwise
 * the rows come back, are built, and the entry is replaced. One round trip
 * either way; the ETag stays the SHA-256 of the exact bytes.
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

static int is_same(const char *status)
{
	return status && !strcmp(status, "same");
}

static void not_found(struct wm_req *req)
{
	req_reply_error(req, 404, "core.not_found", NULL, "No such resource.");
}

void feed_etag(const char *data, size_t len, char out[FEED_ETAG_LEN])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[65];
	crypto_hash_sha256(h, (const unsigned char *)data, len);
	sodium_bin2hex(hex, sizeof hex, h, sizeof h);
	snprintf(out, FEED_ETAG_LEN, "\"%.32s\"", hex);
}

/* What a cached reply needs: the request's own copy of the entry (the
 * entry itself may be replaced or evicted while the query runs). */
struct known {
	const char *key; /* the selector; NULL: not cached (downloads) */
	char digest[FEED_DIGEST_LEN];
	char etag[FEED_ETAG_LEN];
	struct feed_blob *blob; /* a reference, or NULL */
};

/* The reply once the bytes are known: `blob`, or data/len. */
static void send_feed(struct wm_req *req, const char *etag, const char *lm, time_t last,
                      struct feed_blob *blob, const char *data, size_t len, const char *attachment,
                      const char *cache)
{
	req_add_header(req, "ETag", etag);
	if (lm)
		req_add_header(req, "Last-Modified", lm);
	req_add_header(req, "Cache-Control", cache);
	const char *inm = req_header(req, "If-None-Match");
	const char *ims = req_header(req, "If-Modified-Since");
	time_t since;
	int fresh = inm ? etag_matches(inm, etag)
	                : (lm && ims && http_date_parse(ims, &since) && last <= since);
	if (fresh) {
		req_reply_buffer(req, 304, NULL, NULL);
		return;
	}
	struct evbuffer *buf = evbuffer_new();
	if (!buf ||
	    (blob ? feed_blob_add(buf, blob) != WM_OK : evbuffer_add(buf, data, len) != 0)) {
		if (buf)
			evbuffer_free(buf);
		req_reply_error(req, 500, "core.internal", NULL, "Out of memory.");
		return;
	}
	if (attachment) {
		char cd[96];
		snprintf(cd, sizeof cd, "attachment; filename=\"%s\"", attachment);
		req_add_header(req, "Content-Disposition", cd);
	}
	req_reply_buffer(req, 200, "text/calendar; charset=utf-8", buf);
}

static void reply(struct wm_req *req, const struct wm_db_result *res,
                  const struct secret *hash_check, const char *attachment, const char *cache,
                  const struct known *k)
{
	if (db_result_error(res) != WM_DB_OK) {
		req_reply_db_error(req, res);
		return;
	}
	if (db_result_ntuples(res) < 1 || db_result_nfields(res) != FC_NCOLS ||
	    (hash_check && !secret_verify(hash_check, db_result_value(res, 0, FC_DESCRIPTION)))) {
		/* A link that no longer answers keeps nothing in the cache: its
		 * client polls on, and each get would keep the entry in front. */
		if (k && k->key)
			feed_cache_forget(req->srv->feed_cache, k->key);
		not_found(req);
		return;
	}
	/* Last-Modified: the feed's own share (header) and the sessions'
	 * ('R' row); none for downloads, whose header has none. The digest:
	 * the 'D' row. Both come with every reply, cached or not. */
	const char *lm_epoch = db_result_value(res, 0, FC_X2), *digest = NULL;
	int same = 0;
	time_t last = lm_epoch ? (time_t)atoll(lm_epoch) : 0;
	for (int r = 1; r < db_result_ntuples(res); r++) {
		const char *t = db_result_value(res, r, FC_T), *x = db_result_value(res, r, FC_X2);
		if (t && !strcmp(t, "R") && lm_epoch && x && (time_t)atoll(x) > last)
			last = (time_t)atoll(x);
		if (t && !strcmp(t, "D")) {
			digest = db_result_value(res, r, FC_X1);
			same = is_same(db_result_value(res, r, FC_STATUS));
		}
	}
	char lm[40];
	if (lm_epoch)
		http_date(last, lm);
	if (same) {
		/* SQL left the events out: the digest we sent still holds. */
		if (!k || !k->digest[0] || !digest || strcmp(digest, k->digest)) {
			log_msg(WM_LOG_ERROR, "feeds", "unchanged feed without its bytes (rid=%s)",
			        req->id);
			req_reply_error(req, 500, "core.internal", NULL,
			                "Cannot build the calendar.");
			return;
		}
		const char *inm = req_header(req, "If-None-Match");
		if (!k->blob && !(inm && etag_matches(inm, k->etag))) {
			log_msg(WM_LOG_ERROR, "feeds", "cached feed without bytes (rid=%s)",
			        req->id);
			req_reply_error(req, 500, "core.internal", NULL,
			                "Cannot build the calendar.");
			return;
		}
		send_feed(req, k->etag, lm_epoch ? lm : NULL, last, k->blob, NULL, 0, attachment,
		          cache);
		return;
	}
	struct ical_writer *w = ical_writer_new((size_t)req->srv->cfg.feeds_max_bytes);
	size_t len = 0;
	const char *data = NULL;
	if (!w || feed_build(req->srv, res, w) != WM_OK || !(data = ical_writer_data(w, &len))) {
		log_msg(WM_LOG_ERROR, "feeds", "cannot build a feed (rid=%s)", req->id);
		ical_writer_free(w);
		req_reply_error(req, 500, "core.internal", NULL, "Cannot build the calendar.");
		return;
	}
	char etag[FEED_ETAG_LEN];
	feed_etag(data, len, etag);
	if (k && k->key && digest)
		feed_cache_put(req->srv->feed_cache, k->key, digest, etag, data, len);
	send_feed(req, etag, lm_epoch ? lm : NULL, last, NULL, data, len, attachment, cache);
	ical_writer_free(w);
}

void feed_reply(struct wm_req *req, const struct wm_db_result *res, const struct secret *hash_check,
                const char *attachment, const char *cache)
{
	reply(req, res, hash_check, attachment, cache, NULL);
}

/* --- the public routes ---------------------------------------------------- */

struct lookup {
	struct wm_req *req;
	struct secret s;
	char attachment[48]; /* "" for the subscription */
	struct known k;
};

static void lookup_free(struct lookup *l)
{
	feed_blob_unref(l->k.blob);
	sodium_memzero(&l->s, sizeof l->s);
	free(l);
}

static void lookup_done(void *arg, const struct wm_db_result *res)
{
	struct lookup *l = arg;
	reply(l->req, res, &l->s, l->attachment[0] ? l->attachment : NULL, "no-cache", &l->k);
	lookup_free(l);
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

/* The subscription's cache entry, when one may answer: it holds the bytes,
 * or the client already has them (If-None-Match with the entry's ETag).
 * Otherwise no digest is sent and SQL returns the rows. */
static void use_cache(struct wm_req *req, struct lookup *l)
{
	l->k.key = l->s.selector;
	if (!feed_cache_get(req->srv->feed_cache, l->s.selector, l->k.digest, l->k.etag,
	                    &l->k.blob))
		return;
	const char *inm = req_header(req, "If-None-Match");
	if (!l->k.blob && !(inm && etag_matches(inm, l->k.etag)))
		l->k.digest[0] = '\0';
}

static void run(struct wm_req *req, struct lookup *l, const char *session)
{
	const struct config *cfg = &req->srv->cfg;
	char past[24], future[24], grace[24], max[24];
	char *hooks = feed_hook_types(req->srv);
	snprintf(past, sizeof past, "%lld", cfg->feeds_past_days);
	snprintf(future, sizeof future, "%lld", cfg->feeds_future_days);
	snprintf(grace, sizeof grace, "%lld", cfg->feeds_cancelled_grace_days);
	snprintf(max, sizeof max, "%lld", cfg->feeds_max_events);
	if (!session)
		use_cache(req, l);
	const char *p[] = {l->s.selector, l->s.hash_hex, session,
	                   hooks,         past,          future,
	                   grace,         max,           l->k.digest[0] ? l->k.digest : NULL};
	if (!hooks ||
	    db_exec_prepared(req->srv->pool, "core.feeds_serve", 9, p, lookup_done, l) != WM_OK) {
		lookup_free(l);
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
		lookup_free(l);
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
		lookup_free(l);
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
	                " $6::int, $7::int, $8::int, $9)",
	                9) != WM_OK ||
	    api_route(srv, WM_GET, "/feeds/{token}", feed_get, &feed_doc, WM_ACCESS_PUBLIC) !=
	        WM_OK ||
	    api_route(srv, WM_GET, "/feeds/{token}/sessions/{file}", feed_event_get, &event_doc,
	              WM_ACCESS_PUBLIC) != WM_OK)
		return WM_ERR;
	return WM_OK;
}
