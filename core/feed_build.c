/*
 * feed_build — a feed statement's rows (core.feed_emit) into iCalendar
 * bytes with core/ical.h. The rows arrive redacted and preformatted; this
 * file decides only the shape (RFC 5545, ICAL.md D3–D6):
 *
 * - a series the feed shows whole (o_t 'S') is one VEVENT with RRULE
 *   (COUNT/UNTIL replaced by UNTIL at the end of the last local day),
 *   EXDATE for every instance the rule makes that is cancelled or not in
 *   the database, and one override per instance whose time or text differs
 *   from the rule's, keyed by RECURRENCE-ID. The rule is expanded here with
 *   core/recur.c from the emitted DTSTART; if any stored instance is not
 *   one of the rule's, the series falls back to one-offs, so what clients
 *   expand is always exactly what the database holds;
 * - everything else is a one-off with UID session-<id>.
 *
 * Plugin titles (calendar_render) are asked for only for rows that carry a
 * hook event, which SQL builds from the same redacted values.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "feed.h"
#include "hooks.h"
#include "ical.h"
#include "log.h"
#include "plugin_loader.h"
#include "recur.h"
#include "server.h"

#define FEED_TZ_UTC "-utc" /* core.feed_emit's o_tz for "write in UTC" */

char *feed_hook_types(struct server *srv)
{
	size_t len = 3;
	for (size_t i = 0; i < srv->n_plugins; i++)
		len += strlen(srv->plugins[i]->name) + 1;
	char *out = malloc(len);
	if (!out)
		return NULL;
	strcpy(out, "{");
	for (size_t i = 0, k = 0; i < srv->n_plugins; i++) {
		if (!srv->plugins[i]->desc->calendar_render)
			continue;
		if (k++)
			strcat(out, ",");
		strcat(out, srv->plugins[i]->name);
	}
	strcat(out, "}");
	return out;
}

static const char *col(const struct wm_db_result *res, int row, enum feed_col c)
{
	return db_result_value(res, row, (int)c);
}

static int is(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static int same(const char *a, const char *b)
{
	return (!a && !b) || is(a, b);
}

/* The texts of one event: the redacted defaults, or the plugin's. */
struct texts {
	const char *summary, *location, *description;
	struct wm_calendar_text hook;
};

static void event_texts(struct server *srv, const struct wm_db_result *res, int row, int busy,
                        struct texts *t)
{
	t->summary = col(res, row, FC_SUMMARY);
	t->location = col(res, row, FC_LOCATION);
	t->description = col(res, row, FC_DESCRIPTION);
	const char *hook = col(res, row, FC_HOOK);
	if (busy || !hook)
		return;
	json_t *ev = json_loads(hook, 0, NULL);
	if (ev && hooks_calendar_render(srv, col(res, row, FC_X1), ev, &t->hook)) {
		t->summary = t->hook.summary;
		if (t->hook.description[0])
			t->description = t->hook.description;
	}
	json_decref(ev);
}

/* Times come from SQL as whole seconds since the epoch: UTC stamps as they
 * are, local times as wall-clock seconds (the local date and time read as
 * if UTC), so no zone is needed here. to_char in SQL cost more than the
 * rest of a 10 000-event feed. */
static int fmt_time(const char *epoch, int utc, char out[20])
{
	struct tm tm;
	if (!epoch || !*epoch)
		return 0;
	time_t t = (time_t)atoll(epoch);
	if (!gmtime_r(&t, &tm) || tm.tm_year < 0 || tm.tm_year > 8099)
		return 0;
	int y = tm.tm_year + 1900;
	char *o = out;
	*o++ = (char)('0' + y / 1000);
	*o++ = (char)('0' + y / 100 % 10);
	*o++ = (char)('0' + y / 10 % 10);
	*o++ = (char)('0' + y % 10);
	const int v[] = {tm.tm_mon + 1, tm.tm_mday, -1, tm.tm_hour, tm.tm_min, tm.tm_sec};
	for (int i = 0; i < 6; i++) {
		if (v[i] < 0) {
			*o++ = 'T';
			continue;
		}
		*o++ = (char)('0' + v[i] / 10);
		*o++ = (char)('0' + v[i] % 10);
	}
	if (utc)
		*o++ = 'Z';
	*o = '\0';
	return 1;
}

/* The formatted times of one VEVENT. */
struct times {
	char stamp[20], start[20], end[20], recur[20];
};

static void base_event(const struct wm_db_result *res, int row, int busy, char *uid,
                       struct times *tm, struct ical_event *e)
{
	/* SQL marks a time the clocks repeat with the zone "-utc" (no zone
	 * name starts with "-"): written in UTC, without a TZID, so the feed
	 * keeps a single VTIMEZONE (libical reorders several, and a feed must
	 * survive its round trip). */
	int utc = is(col(res, row, FC_TZ), FEED_TZ_UTC);
	memset(e, 0, sizeof *e);
	fmt_time(col(res, row, FC_STAMP), 1, tm->stamp);
	fmt_time(col(res, row, FC_START), utc, tm->start);
	fmt_time(col(res, row, FC_END), utc, tm->end);
	e->uid = uid;
	e->dtstamp_utc = tm->stamp;
	e->last_modified_utc = tm->stamp;
	e->sequence = atoi(col(res, row, FC_SEQ) ? col(res, row, FC_SEQ) : "0");
	e->tzid = utc ? NULL : col(res, row, FC_TZ);
	e->dtstart_local = tm->start;
	e->dtend_local = tm->end;
	e->busy_only = busy;
}

static wm_status write_one_off(struct server *srv, struct ical_writer *w,
                               const struct wm_db_result *res, int row, int busy)
{
	char uid[320]; /* feeds.uid_domain is at most 253 octets */
	struct ical_event e;
	struct texts t;
	struct times tm;
	snprintf(uid, sizeof uid, "session-%s@%s", col(res, row, FC_ID), srv->cfg.feeds_uid_domain);
	base_event(res, row, busy, uid, &tm, &e);
	event_texts(srv, res, row, busy, &t);
	e.summary = t.summary;
	e.location = t.location;
	e.description = t.description;
	e.status = is(col(res, row, FC_STATUS), "cancelled") ? "CANCELLED" : "CONFIRMED";
	return ical_event_write(w, &e);
}

/* recur's "YYYY-MM-DDTHH:MM:SS" -> "YYYYMMDDTHHMMSS". */
static void compact_local(const char *in, char out[16])
{
	size_t k = 0;
	for (const char *p = in; *p && k < 15; p++)
		if (*p != '-' && *p != ':')
			out[k++] = *p;
	out[k] = '\0';
}

static long long num(const char *s)
{
	return s ? atoll(s) : 0;
}

/* The events in a stable order, whatever order SQL returned them in:
 * instances of whole series grouped by series, by RECURRENCE-ID; then the
 * one-offs by start; ties by id. The bytes (and so the ETag) depend only on
 * the data. Keys are read once, not in every comparison. */
struct ev_key {
	long long series, at, id; /* series 0: a one-off (sorted last) */
	int row;
};

static int event_cmp(const void *a, const void *b)
{
	const struct ev_key *x = a, *y = b;
	if (!x->series != !y->series)
		return x->series ? -1 : 1;
	if (x->series != y->series)
		return x->series < y->series ? -1 : 1;
	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

struct block {
	long long series;
	const int *rows; /* its instances' rows, by RECURRENCE-ID */
	int n;
};

/* Writes series row `srow` with its instance rows; WM_ERR only when the
 * writer fails. *fallback = 1 when the series cannot be written as one rule
 * (the caller then writes its instances as one-offs). */
static wm_status write_series(struct server *srv, struct ical_writer *w,
                              const struct wm_db_result *res, int srow, const struct block *b,
                              int busy, int *fallback)
{
	char rule[ICAL_RRULE_MAX], uid[320], start_iso[20], until[20], first[20];
	*fallback = 1;
	const char *start = col(res, srow, FC_START), *end = col(res, srow, FC_END);
	long long dur = num(end) - num(start);
	if (!b || b->n == 0 || !fmt_time(start, 0, first) || !col(res, srow, FC_X1) ||
	    !fmt_time(col(res, srow, FC_X2), 1, until) ||
	    ical_rrule_for_feed(col(res, srow, FC_X1), until, rule, sizeof rule) != WM_OK ||
	    !is(col(res, b->rows[0], FC_RECUR), start))
		return WM_OK;
	/* "YYYYMMDDTHHMMSS" -> recur's "YYYY-MM-DDTHH:MM:SS". */
	snprintf(start_iso, sizeof start_iso, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2s", first, first + 4,
	         first + 6, first + 9, first + 11, first + 13);
	struct recur_spec spec = {.rrule = rule,
	                          .dtstart_local = start_iso,
	                          .tzid = col(res, srow, FC_TZ),
	                          .duration_s = (int)dur};
	struct recur_result rr;
	struct recur_error rerr;
	struct recur_instance *inst = malloc(RECUR_MAX_INSTANCES * sizeof *inst);
	const char **ex = malloc(RECUR_MAX_INSTANCES * sizeof *ex);
	char(*exbuf)[16] = malloc(RECUR_MAX_INSTANCES * sizeof *exbuf);
	wm_status st = WM_OK;
	if (!inst || !ex || !exbuf || dur <= 0 || recur_expand(&spec, inst, &rr, &rerr) != WM_OK)
		goto done;
	/* An instance written in another zone (moved to a time the clocks
	 * repeat, so written in UTC) cannot be an override of this rule. */
	for (int i = 0; i < b->n; i++)
		if (!is(col(res, b->rows[i], FC_TZ), col(res, srow, FC_TZ)))
			goto done;
	/* Walk the rule's instances and the stored ones together (both in
	 * time order): every stored one must be the rule's; the rule's that
	 * are not stored, or are cancelled, become EXDATEs. */
	size_t nex = 0;
	int k = 0;
	for (size_t i = 0; i < rr.n; i++) {
		char g[16], rec[20];
		compact_local(inst[i].local_start, g);
		int have = k < b->n && fmt_time(col(res, b->rows[k], FC_RECUR), 0, rec);
		if (have && strcmp(rec, g) < 0)
			goto done; /* a stored instance the rule does not make */
		if (have && !strcmp(rec, g)) {
			if (is(col(res, b->rows[k], FC_STATUS), "cancelled"))
				memcpy(exbuf[nex], g, 16), ex[nex] = exbuf[nex], nex++;
			k++;
		} else {
			memcpy(exbuf[nex], g, 16), ex[nex] = exbuf[nex], nex++;
		}
	}
	if (k != b->n)
		goto done;
	*fallback = 0;
	/* The master carries the texts most instances share (a mentor's
	 * initials change as people join), so the fewest need an override. */
	struct texts *tx = calloc((size_t)b->n, sizeof *tx);
	if (!tx) {
		st = WM_ERR;
		goto done;
	}
	int best = -1, best_n = 0;
	for (int i = 0; i < b->n; i++)
		event_texts(srv, res, b->rows[i], busy, &tx[i]);
	for (int i = 0; i < b->n; i++) {
		if (is(col(res, b->rows[i], FC_STATUS), "cancelled"))
			continue;
		int alike = 0;
		for (int j = 0; j < b->n; j++)
			alike += same(tx[i].summary, tx[j].summary) &&
			         same(tx[i].location, tx[j].location) &&
			         same(tx[i].description, tx[j].description);
		if (alike > best_n)
			best = i, best_n = alike;
	}
	const struct texts *master = &tx[best < 0 ? 0 : best];
	struct ical_event e;
	struct times tm;
	snprintf(uid, sizeof uid, "series-%s@%s", col(res, srow, FC_ID), srv->cfg.feeds_uid_domain);
	base_event(res, srow, busy, uid, &tm, &e);
	e.rrule = rule;
	e.exdates_local = ex;
	e.n_exdates = nex;
	e.summary = master->summary;
	e.location = master->location;
	e.description = master->description;
	e.status = "CONFIRMED";
	st = ical_event_write(w, &e);
	for (int i = 0; st == WM_OK && i < b->n; i++) {
		int row = b->rows[i];
		const struct texts *t = &tx[i];
		if (is(col(res, row, FC_STATUS), "cancelled") ||
		    (is(col(res, row, FC_START), col(res, row, FC_RECUR)) &&
		     is(col(res, row, FC_END), col(res, row, FC_REND)) &&
		     same(t->summary, master->summary) && same(t->location, master->location) &&
		     same(t->description, master->description)))
			continue;
		base_event(res, row, busy, uid, &tm, &e);
		fmt_time(col(res, row, FC_RECUR), 0, tm.recur);
		e.recurrence_id_local = tm.recur;
		e.summary = t->summary;
		e.location = t->location;
		e.description = t->description;
		e.status = "CONFIRMED";
		st = ical_event_write(w, &e);
	}
	free(tx);
done:
	free(inst);
	free(ex);
	free(exbuf);
	return st;
}

/* The feed's zones other than the calendar's (borrowed from `res`). */
static size_t extra_zones(const struct wm_db_result *res, int n, const char *main_tz,
                          const char **out, size_t max)
{
	size_t k = 0;
	for (int r = 1; r < n; r++) {
		const char *tz = col(res, r, FC_TZ);
		int seen = !tz || is(tz, main_tz) || is(tz, FEED_TZ_UTC);
		for (size_t i = 0; i < k && !seen; i++)
			seen = is(out[i], tz);
		if (!seen && k < max)
			out[k++] = tz;
	}
	return k;
}

wm_status feed_build(struct server *srv, const struct wm_db_result *res, struct ical_writer *w)
{
	int n = db_result_ntuples(res);
	if (n < 1 || db_result_nfields(res) != FC_NCOLS || !is(col(res, 0, FC_T), "H"))
		return WM_ERR;
	int busy = is(col(res, 0, FC_LOCATION), "busy");
	const char *zones[16];
	size_t nz = extra_zones(res, n, col(res, 0, FC_TZ), zones, 16);
	struct ical_calendar cal = {.prodid = FEED_PRODID,
	                            .name = col(res, 0, FC_X1),
	                            .tzid = col(res, 0, FC_TZ),
	                            .extra_tzids = zones,
	                            .n_extra_tzids = nz,
	                            .refresh_minutes = FEED_REFRESH_MIN};
	if (ical_begin(w, &cal) != WM_OK)
		return WM_ERR;
	/* The events in order; instances of whole series then form one block
	 * per series. */
	struct block *blocks = calloc((size_t)n, sizeof *blocks);
	int *ord = calloc((size_t)n, sizeof *ord);
	char *done = calloc((size_t)n, 1);
	size_t nb = 0;
	int ne = 0;
	wm_status st = WM_ERR;
	if (!blocks || !ord || !done)
		goto out;
	struct ev_key *keys = calloc((size_t)n, sizeof *keys);
	if (!keys)
		goto out;
	for (int r = 1; r < n; r++) {
		const char *id = col(res, r, FC_ID), *sid = col(res, r, FC_SERIES);
		if (!id || !is(col(res, r, FC_T), "E"))
			continue;
		keys[ne++] = (struct ev_key){.series = num(sid),
		                             .at = num(col(res, r, sid ? FC_RECUR : FC_START)),
		                             .id = num(id),
		                             .row = r};
	}
	qsort(keys, (size_t)ne, sizeof *keys, event_cmp);
	for (int i = 0; i < ne; i++)
		ord[i] = keys[i].row;
	free(keys);
	for (int i = 0; i < ne; i++) {
		const char *sid = col(res, ord[i], FC_SERIES);
		if (!sid)
			continue;
		long long id = atoll(sid);
		if (nb == 0 || blocks[nb - 1].series != id)
			blocks[nb++] = (struct block){.series = id, .rows = ord + i};
		blocks[nb - 1].n++;
	}
	for (int r = 1; r < n; r++) {
		if (!is(col(res, r, FC_T), "S") || !col(res, r, FC_ID))
			continue;
		long long id = atoll(col(res, r, FC_ID));
		const struct block *b = NULL;
		for (size_t i = 0; i < nb && !b; i++)
			if (blocks[i].series == id)
				b = &blocks[i];
		int fallback;
		if (write_series(srv, w, res, r, b, busy, &fallback) != WM_OK)
			goto out;
		for (int i = 0; !fallback && b && i < b->n; i++)
			done[b->rows[i]] = 1;
	}
	for (int i = 0; i < ne; i++)
		if (!done[ord[i]] && write_one_off(srv, w, res, ord[i], busy) != WM_OK)
			goto out;
	st = ical_end(w);
out:
	free(blocks);
	free(ord);
	free(done);
	return st;
}
