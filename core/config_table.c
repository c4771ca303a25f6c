/*
 * config_table — every setting of the core, once: dotted name, type,
 * default, bounds, help line and where it lives in struct config. config.c
 * reads, checks and prints from this table and knows no key by name except
 * the two environment overrides. A new setting is one row here plus its
 * member in struct config.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

/* host:port with a literal host, so listening never needs the resolver. */
static int check_listen(const json_t *v, char *why, size_t whylen)
{
	const char *s = json_string_value(v);
	const char *colon = strrchr(s, ':');
	char host[64];
	unsigned char addr[16];
	int ok = 0;
	if (colon && (size_t)(colon - s) < sizeof host) {
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		size_t hl = strlen(host);
		if (!strcmp(host, "localhost"))
			ok = 1;
		else if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
			host[hl - 1] = '\0';
			ok = inet_pton(AF_INET6, host + 1, addr) == 1;
		} else
			ok = inet_pton(AF_INET, host, addr) == 1;
		const char *port = colon + 1;
		size_t pl = strlen(port);
		ok = ok && pl >= 1 && pl <= 5 && strspn(port, "0123456789") == pl;
		long p = ok ? strtol(port, NULL, 10) : 0;
		ok = ok && p >= 1 && p <= 65535;
	}
	if (!ok)
		snprintf(why, whylen,
		         "\"%.100s\" is not host:port with host an IPv4 address, an [IPv6] "
		         "address or localhost, and port 1-65535",
		         s);
	return ok ? 0 : -1;
}

static int check_log_level(const json_t *v, char *why, size_t whylen)
{
	enum wm_log_level lvl;
	if (log_level_parse(json_string_value(v), &lvl) == WM_OK)
		return 0;
	snprintf(why, whylen, "must be one of debug, info, warn, error");
	return -1;
}

static int check_public_url(const json_t *v, char *why, size_t whylen)
{
	const char *s = json_string_value(v);
	if (!*s || !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8))
		return 0;
	snprintf(why, whylen, "must start with http:// or https:// (or be empty)");
	return -1;
}

/* A DNS name (RFC 1034 letters, digits, hyphens; dots between labels):
 * UIDs are "session-<id>@<domain>" and must stay one token in any client. */
static int check_uid_domain(const json_t *v, char *why, size_t whylen)
{
	const char *s = json_string_value(v);
	size_t label = 0;
	int ok = 1;
	for (const char *p = s; *p && ok; p++) {
		if (*p == '.') {
			ok = label > 0;
			label = 0;
		} else {
			ok = ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '-') &&
			     ++label <= 63;
		}
	}
	if (ok && label > 0)
		return 0;
	snprintf(why, whylen,
	         "must be a domain name: labels of letters, digits and hyphens (at most 63) "
	         "separated by dots");
	return -1;
}

static int check_cookie_secure(const json_t *v, char *why, size_t whylen)
{
	const char *s = json_string_value(v);
	if (!strcmp(s, "auto") || !strcmp(s, "always") || !strcmp(s, "never"))
		return 0;
	snprintf(why, whylen, "must be auto, always or never");
	return -1;
}

static int is_plugin_name(const char *s, size_t n)
{
	if (n < 1 || n > 31 || !(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/* A name ("sport"), found in plugins.dir, or a path to waymark_<name>.so. */
static int check_plugins(const json_t *v, char *why, size_t whylen)
{
	size_t i;
	json_t *item;
	json_array_foreach(v, i, item)
	{
		const char *s = json_string_value(item);
		const char *base = strrchr(s, '/');
		if (!base) {
			if (is_plugin_name(s, strlen(s)))
				continue;
			snprintf(why, whylen,
			         "entry %zu \"%.64s\" is not a plugin name ([a-z][a-z0-9_]{0,30}) "
			         "nor a path to waymark_<name>.so",
			         i + 1, s);
			return -1;
		}
		base++;
		size_t n = strlen(base);
		if (n > 11 && !strncmp(base, "waymark_", 8) && !strcmp(base + n - 3, ".so") &&
		    is_plugin_name(base + 8, n - 11))
			continue;
		snprintf(why, whylen, "entry %zu: the file must be named waymark_<name>.so", i + 1);
		return -1;
	}
	return 0;
}

#define STR(n, f, d, lo, hi, chk, h)                                                               \
	{                                                                                          \
		{n, WM_CFG_STRING, d, lo, hi, h}, offsetof(struct config, f), 0, chk               \
	}
#define INT(n, f, d, lo, hi, h)                                                                    \
	{                                                                                          \
		{n, WM_CFG_INT, d, lo, hi, h}, offsetof(struct config, f), 0, NULL                 \
	}
#define BOOL(n, f, d, h)                                                                           \
	{                                                                                          \
		{n, WM_CFG_BOOL, d, 0, 0, h}, offsetof(struct config, f), 0, NULL                  \
	}

const struct config_entry config_table[] = {
    STR("http.listen", listen, "\"127.0.0.1:8080\"", 1, 300, check_listen,
        "address to serve on: IPv4:port, [IPv6]:port or localhost:port"),
    INT("http.max_body", http_max_body, "1048576", 1024, 67108864,
        "largest request body in bytes; larger ones get a bare 413"),
    INT("http.max_json_body", http_max_json_body, "65536", 256, 1048576,
        "largest JSON body in bytes a route accepts (413 core.body_too_large)"),
    INT("http.max_headers", http_max_headers, "8192", 1024, 65536,
        "largest request header block in bytes"),
    INT("http.timeout_ms", http_timeout_ms, "15000", 100, 600000,
        "inactivity timeout for reads, writes and idle keep-alive"),
    INT("http.max_connections", http_max_connections, "10000", 1, 1000000,
        "open connections before accepting pauses (also capped by the fd limit)"),
    BOOL("http.reuseport", http_reuseport, "true",
         "SO_REUSEPORT, so several waymarkd processes can share the port"),
    STR("db.url", db_url, "\"\"", 0, 4096, NULL,
        "libpq connection string or URI; \"\" runs PostgreSQL under server.data_dir"),
    INT("db.pool_size", db_pool_size, "0", 0, 16,
        "database connections; 0 = 2 x online CPUs + 1, at most 16"),
    INT("db.queue_max", db_queue_max, "256", 0, 100000,
        "requests waiting for a connection before 503 core.busy"),
    INT("db.queue_wait_ms", db_queue_wait_ms, "2000", 1, 60000,
        "longest wait for a connection before 503 core.busy"),
    INT("db.statement_timeout_ms", db_statement_timeout_ms, "5000", 0, 3600000,
        "PostgreSQL statement_timeout; 0 = none"),
    INT("db.lock_timeout_ms", db_lock_timeout_ms, "2000", 0, 3600000,
        "PostgreSQL lock_timeout; 0 = none"),
    INT("db.idle_tx_timeout_ms", db_idle_tx_timeout_ms, "10000", 0, 3600000,
        "PostgreSQL idle_in_transaction_session_timeout; 0 = none"),
    INT("db.connect_timeout_ms", db_connect_timeout_ms, "5000", 100, 600000,
        "longest time to establish one database connection"),
    STR("server.data_dir", data_dir, "\"./var\"", 1, 4096, NULL,
        "directory for the server's own files (the embedded cluster in <data_dir>/pg)"),
    STR("server.pg_bindir", pg_bindir, "\"\"", 0, 4096, NULL,
        "PostgreSQL programs for the embedded cluster; \"\" = the one found in "
        "/usr/lib/postgresql/<N>/bin"),
    STR("server.pg_user", pg_user, "\"postgres\"", 1, 63, NULL,
        "when run as root: the user the embedded PostgreSQL runs as"),
    INT("auth.session_ttl_s", auth_session_ttl_s, "43200", 300, 2592000,
        "a web login session ends this many seconds after sign-in"),
    INT("auth.session_idle_s", auth_session_idle_s, "7200", 60, 2592000,
        "a web login session ends after this many idle seconds"),
    STR("auth.cookie_secure", auth_cookie_secure, "\"auto\"", 4, 6, check_cookie_secure,
        "Secure flag on the session cookie: auto (Secure unless http.listen is loopback "
        "and neither server.public_url nor X-Forwarded-Proto says https), always or never"),
    INT("auth.login_max_failures", auth_login_max_failures, "5", 1, 100,
        "failed password checks for one email (known or not) before each further try must "
        "wait"),
    INT("auth.login_lockout_max_s", auth_login_lockout_max_s, "900", 1, 86400,
        "the longest wait imposed after repeated failed sign-ins (doubling from 1 s)"),
    INT("auth.pwhash_threads", auth_pwhash_threads, "1", 1, 16,
        "threads that hash passwords off the event loop (64 MiB each while hashing)"),
    INT("auth.pwhash_queue", auth_pwhash_queue, "64", 1, 10000,
        "sign-ins waiting for a hashing thread before 503 core.busy"),
    INT("jobs.interval_ms", jobs_interval_ms, "30000", 50, 3600000,
        "how often each process runs background work (expired waitlist offers, old "
        "idempotency keys, calendar feeds' old revisions); safe to run in several processes "
        "at once"),
    INT("feeds.past_days", feeds_past_days, "56", 0, 3660,
        "calendar feeds show sessions that started up to this many days ago"),
    INT("feeds.future_days", feeds_future_days, "366", 1, 3660,
        "calendar feeds show sessions starting up to this many days ahead"),
    INT("feeds.cancelled_grace_days", feeds_cancelled_grace_days, "14", 0, 366,
        "a cancelled one-off session stays in feeds (as cancelled) this many days after "
        "the cancellation"),
    INT("feeds.max_events", feeds_max_events, "20000", 1, 1000000,
        "most sessions one calendar feed holds (the earliest in its window)"),
    INT("feeds.max_bytes", feeds_max_bytes, "4194304", 65536, 268435456,
        "largest calendar feed in bytes; a larger one is a 500, not a truncated feed"),
    STR("feeds.uid_domain", feeds_uid_domain, "\"waymark.invalid\"", 1, 253, check_uid_domain,
        "domain of feed event UIDs (session-<id>@<domain>); changing it makes every "
        "subscriber's events new"),
    INT("feeds.cache_bytes", feeds_cache_bytes, "67108864", 0, 4294967296,
        "memory per process for unchanged feeds' validators and bytes (a feed's bytes are "
        "kept when they fit in a quarter of it); 0 = off, every request builds"),
    INT("server.shutdown_drain_ms", shutdown_drain_ms, "10000", 0, 600000,
        "on SIGTERM, how long in-flight requests may take to finish"),
    STR("server.log_level", log_level, "\"info\"", 1, 16, check_log_level,
        "least severe level logged: debug, info, warn or error"),
    STR("server.public_url", public_url, "\"\"", 0, 2048, check_public_url,
        "base URL used in links; \"\" = http://<http.listen>"),
    /* The default comes from WAYMARK_STANDARD_PLUGINS (config.c). */
    {{"plugins.load", WM_CFG_STRING_LIST, NULL, 0, 64,
      "plugins to load in order: names, or paths to waymark_<name>.so"},
     offsetof(struct config, plugins),
     offsetof(struct config, n_plugins),
     check_plugins},
    STR("plugins.dir", plugin_dir, "\"\"", 0, 4096, NULL,
        "where plugin names are looked up; \"\" = the directory built beside the binary"),
    {{NULL, 0, NULL, 0, 0, NULL}, 0, 0, NULL},
};
