/*
 * feed — calendar feeds (issue 6): the rows SQL returns for a feed
 * (migrations/0014_feeds.sql, core.feed_emit), the bytes built from them
 * with core/ical.h, and the HTTP reply with its validators.
 *
 * Redaction is decided in SQL per audience before anything reaches C or a
 * plugin; C only copies preformatted text (local times, UTC stamps, the
 * redacted summary/location/description) into the writer, so a 10 000-event
 * feed costs a few milliseconds and no JSON unless the programme's plugin
 * has a calendar_render hook.
 */
#ifndef WM_FEED_H
#define WM_FEED_H

#include <stddef.h>
#include <waymark/core.h>

struct server;
struct wm_req;
struct wm_db_result;

#define FEED_TOKEN_PREFIX "wmf_"
#define FEED_PRODID       "-//Waymark//Calendar Feeds 0.1//EN"
/* The window, grace period, caps and UID domain are configuration
 * (feeds.* in core/config_table.c, srv->cfg.feeds_*). */
#define FEED_REFRESH_MIN 60
#define FEED_CACHE_KEY   24 /* a token selector + NUL, with room */
#define FEED_DIGEST_LEN  33 /* core.feed_emit's digest: md5 hex + NUL */
#define FEED_ETAG_LEN    40 /* "\"" + 32 hex + "\"" + NUL, with room */

/* The columns of every feed statement (core.feed_emit's). */
enum feed_col {
	FC_T,           /* 'H' header, 'S' series master, 'E' event, 'R' revision */
	FC_ID,          /* feed / series / session id */
	FC_SERIES,      /* E: the series it is emitted under (whole series), or NULL */
	FC_STATUS,      /* E: scheduled | cancelled; H: the feed's kind */
	FC_SEQ,         /* SEQUENCE */
	FC_STAMP,       /* DTSTAMP and LAST-MODIFIED: UTC, epoch seconds */
	FC_START,       /* local wall-clock time in FC_TZ, as epoch seconds read as UTC */
	FC_END,         /* local, the same way */
	FC_RECUR,       /* E: its series slot, RECURRENCE-ID (local), or NULL */
	FC_REND,        /* E in a series: where the rule would end it (local) */
	FC_TZ,          /* IANA zone; H: the calendar's */
	FC_SUMMARY,     /* redacted; H: the audience */
	FC_LOCATION,    /* redacted; H: the variant */
	FC_DESCRIPTION, /* redacted; H: the stored token hash */
	FC_HOOK,        /* E: calendar_render event JSON, or NULL */
	FC_X1,          /* H: calendar name; S: the stored RRULE; E: programme type */
	FC_X2,          /* H, R: Last-Modified (epoch seconds) or NULL; S: UNTIL (UTC epoch) */
	/* D (the digest row): FC_STATUS "same" (the S and E rows were left out:
	 * the caller's known digest still holds) or "new"; FC_X1 the digest. */
	FC_NCOLS
};

/* "{type,...}": the loaded plugins with a calendar_render hook (malloc'd;
 * plugin names need no quoting). */
char *feed_hook_types(struct server *srv);

/* Builds the calendar of a feed statement's rows (row 0 the header) into
 * `w`. WM_ERR when the rows are malformed or the writer refuses (size cap,
 * memory). */
struct ical_writer;
wm_status feed_build(struct server *srv, const struct wm_db_result *res,
                     struct ical_writer *w) WM_MUST_CHECK;

/* The public base URL of links: server.public_url, else http://<listen>,
 * without a trailing slash. */
void feed_base_url(struct server *srv, char *out, size_t len);

/* Replies to a feed statement's result: 404 core.not_found when it has no
 * header row; otherwise the calendar, with a strong ETag and (when the
 * header has one) Last-Modified, answering If-None-Match / If-Modified-Since
 * with 304. `attachment` names the download ("session-12.ics") or is NULL
 * for a subscription; `cache` is the Cache-Control value. `hash_check`, when
 * given, must match the header's stored hash (constant time) or the reply
 * is 404: the caller's parsed secret. */
struct secret;
void feed_reply(struct wm_req *req, const struct wm_db_result *res, const struct secret *hash_check,
                const char *attachment, const char *cache);
/* The ETag of `len` bytes: "\"" + hex(SHA-256)[0..32] + "\"". */
void feed_etag(const char *data, size_t len, char out[FEED_ETAG_LEN]);

/* feed_cache — per process, on the event loop only: for each feed link
 * (keyed by its selector) the digest of the inputs of its bytes
 * (core.feed_emit's 'D' row), their ETag and, when they fit, the bytes.
 * A request sends the digest it holds; when SQL finds it unchanged it
 * returns no events and the reply comes from here: 304 without building,
 * or the same bytes. Bounded by feeds.cache_bytes (0: off), least recently
 * used out first. */
struct feed_cache;
struct feed_blob;
struct evbuffer;
struct feed_cache *feed_cache_new(size_t budget);
void feed_cache_free(struct feed_cache *c);
/* 1 and the entry's digest and ETag (and a reference to its bytes in
 * *blob, or NULL) when `key` is cached; 0 otherwise. */
int feed_cache_get(struct feed_cache *c, const char *key, char digest[FEED_DIGEST_LEN],
                   char etag[FEED_ETAG_LEN], struct feed_blob **blob);
/* Replaces `key`'s entry; `data` (copied) may be NULL. Never fails
 * visibly: a cache that cannot store simply misses. */
void feed_cache_put(struct feed_cache *c, const char *key, const char *digest, const char *etag,
                    const char *data, size_t len);
/* Forgets `key` (a link that no longer answers: revoked, regenerated,
 * unlisted), so a client still polling it does not keep its bytes at the
 * front of the list. */
void feed_cache_forget(struct feed_cache *c, const char *key);
void feed_blob_unref(struct feed_blob *b); /* NULL is fine */
/* Appends the bytes to `buf` without copying (a reference held until
 * libevent has sent them). */
wm_status feed_blob_add(struct evbuffer *buf, struct feed_blob *b) WM_MUST_CHECK;

/* Public routes (feed_serve.c): GET/HEAD /feeds/{token} and
 * /feeds/{token}/sessions/{file}. */
wm_status feed_serve_register(struct server *srv) WM_MUST_CHECK;

#endif
