/*
 * feed_cache — see feed.h. Per process, on the event loop only (no locks).
 * Entries are kept in least-recently-used order in a list; the number of
 * feeds one process serves is small enough that a linear search costs
 * less than the request's parsing. Every entry counts its own size against
 * the budget (feeds.cache_bytes), bytes or not; the bytes are kept only
 * when they fit in a quarter of it, so one big feed cannot flush the rest.
 *
 * The bytes are reference counted: a reply that hands them to libevent
 * (evbuffer_add_reference) keeps them alive after the entry is replaced or
 * evicted.
 */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"

struct feed_blob {
	int refs;
	size_t len;
	char data[];
};

struct entry {
	struct entry *prev, *next; /* head = most recently used */
	char key[FEED_CACHE_KEY];
	char digest[FEED_DIGEST_LEN];
	char etag[FEED_ETAG_LEN];
	struct feed_blob *blob; /* NULL: validators only */
};

struct feed_cache {
	struct entry *head, *tail;
	size_t used, budget;
};

static size_t entry_size(const struct entry *e)
{
	return sizeof *e + (e->blob ? sizeof *e->blob + e->blob->len : 0);
}

struct feed_cache *feed_cache_new(size_t budget)
{
	struct feed_cache *c = calloc(1, sizeof *c);
	if (c)
		c->budget = budget;
	return c;
}

static void unlink_entry(struct feed_cache *c, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void push_front(struct feed_cache *c, struct entry *e)
{
	e->next = c->head;
	e->prev = NULL;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

static void drop(struct feed_cache *c, struct entry *e)
{
	unlink_entry(c, e);
	c->used -= entry_size(e);
	feed_blob_unref(e->blob);
	free(e);
}

void feed_cache_free(struct feed_cache *c)
{
	if (!c)
		return;
	while (c->head)
		drop(c, c->head);
	free(c);
}

static struct entry *find(struct feed_cache *c, const char *key)
{
	for (struct entry *e = c->head; e; e = e->next)
		if (!strcmp(e->key, key))
			return e;
	return NULL;
}

int feed_cache_get(struct feed_cache *c, const char *key, char digest[FEED_DIGEST_LEN],
                   char etag[FEED_ETAG_LEN], struct feed_blob **blob)
{
	struct entry *e = c && key ? find(c, key) : NULL;
	*blob = NULL;
	if (!e)
		return 0;
	unlink_entry(c, e);
	push_front(c, e);
	memcpy(digest, e->digest, FEED_DIGEST_LEN);
	memcpy(etag, e->etag, FEED_ETAG_LEN);
	if (e->blob) {
		e->blob->refs++;
		*blob = e->blob;
	}
	return 1;
}

void feed_cache_put(struct feed_cache *c, const char *key, const char *digest, const char *etag,
                    const char *data, size_t len)
{
	if (!c || !key || !digest || strlen(key) >= FEED_CACHE_KEY ||
	    strlen(digest) >= FEED_DIGEST_LEN || strlen(etag) >= FEED_ETAG_LEN ||
	    c->budget < sizeof(struct entry))
		return;
	struct entry *e = find(c, key);
	if (e)
		drop(c, e);
	e = calloc(1, sizeof *e);
	if (!e)
		return;
	strcpy(e->key, key);
	strcpy(e->digest, digest);
	strcpy(e->etag, etag);
	if (data && len <= c->budget / 4 && (e->blob = malloc(sizeof *e->blob + len))) {
		e->blob->refs = 1;
		e->blob->len = len;
		memcpy(e->blob->data, data, len);
	}
	size_t sz = entry_size(e);
	while (c->tail && c->used + sz > c->budget)
		drop(c, c->tail);
	push_front(c, e);
	c->used += sz;
}

void feed_cache_forget(struct feed_cache *c, const char *key)
{
	struct entry *e = c && key ? find(c, key) : NULL;
	if (e)
		drop(c, e);
}

void feed_blob_unref(struct feed_blob *b)
{
	if (b && --b->refs == 0)
		free(b);
}

static void blob_cleanup(const void *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	feed_blob_unref(arg);
}

wm_status feed_blob_add(struct evbuffer *buf, struct feed_blob *b)
{
	b->refs++;
	if (evbuffer_add_reference(buf, b->data, b->len, blob_cleanup, b) != 0) {
		b->refs--;
		return WM_ERR;
	}
	return WM_OK;
}
