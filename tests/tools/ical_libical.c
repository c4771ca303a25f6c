/* ical_libical — libical 3.0.16's view of a feed, for tests/tools/ical_check_all.sh.
 *
 *   ical_libical roundtrip FILE
 *       Parses FILE, fails on any X-LIC-ERROR property (libical's way of
 *       reporting a line it could not parse), re-serialises the tree with
 *       icalcomponent_as_ical_string_r() and requires the result to be
 *       byte-identical to FILE; on a mismatch prints the first differing line
 *       of each. The one difference accepted: libical 3.0.16 writes several
 *       VTIMEZONEs back in reverse order, so their order may differ (each
 *       block still byte-identical, everything else too).
 *   ical_libical expand FILE FROM TO
 *       Prints one line "UID YYYYMMDDTHHMMSSZ" per instance starting in
 *       [FROM, TO) (both UTC "YYYYMMDDTHHMMSSZ"), sorted. Series are expanded
 *       with icalrecur_iterator in the zone of the feed's own VTIMEZONE;
 *       EXDATEs are removed by libical's icalproperty_recurrence_is_excluded()
 *       (which resolves their TZID through the feed); RECURRENCE-ID overrides,
 *       which libical's iterator ignores, replace their instance here (the
 *       override's DTSTART, or nothing when it is STATUS:CANCELLED). One-off
 *       events count when not STATUS:CANCELLED. Same format as
 *       icaljs_check.mjs --expand and ical_vobject_expand.py.
 *
 * Exit status: 0 pass, 1 the feed fails, 2 usage or I/O error. */
#include <errno.h>
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_INSTANCES 1000000

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f) {
		fprintf(stderr, "ical_libical: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (n + 65536 + 1 > cap) {
			char *nb;

			cap = cap ? cap * 2 : 131072;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Counts (and prints) every X-LIC-ERROR property in the tree. */
static int count_errors(icalcomponent *c)
{
	int n = 0;

	for (icalproperty *p = icalcomponent_get_first_property(c, ICAL_XLICERROR_PROPERTY); p;
	     p = icalcomponent_get_next_property(c, ICAL_XLICERROR_PROPERTY)) {
		char *s = icalproperty_as_ical_string_r(p);

		fprintf(stderr, "libical: %s", s);
		free(s);
		n++;
	}
	for (icalcomponent *k = icalcomponent_get_first_component(c, ICAL_ANY_COMPONENT); k;
	     k = icalcomponent_get_next_component(c, ICAL_ANY_COMPONENT))
		n += count_errors(k);
	return n;
}

static icalcomponent *parse(const char *buf, size_t len)
{
	icalcomponent *root;

	if (strlen(buf) != len) {
		fprintf(stderr, "libical: the file contains a NUL byte\n");
		return NULL;
	}
	root = icalparser_parse_string(buf);
	if (!root) {
		fprintf(stderr, "libical: no component parsed\n");
		return NULL;
	}
	if (icalcomponent_isa(root) != ICAL_VCALENDAR_COMPONENT) {
		fprintf(stderr, "libical: the top-level component is %s, not one VCALENDAR\n",
		        icalcomponent_kind_to_string(icalcomponent_isa(root)));
		icalcomponent_free(root);
		return NULL;
	}
	if (count_errors(root) > 0) {
		fprintf(stderr, "libical: X-LIC-ERROR present\n");
		icalcomponent_free(root);
		return NULL;
	}
	return root;
}

/* Writes s to stderr with CR and LF made visible. */
static void print_visible(const char *s, int n)
{
	for (int k = 0; k < n; k++) {
		if (s[k] == '\r')
			fputs("\\r", stderr);
		else if (s[k] == '\n')
			fputs("\\n", stderr);
		else
			fputc(s[k], stderr);
	}
}

/* Prints line number and both versions of the first line where a and b differ. */
static void first_difference(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0, line = 1, start = 0;

	while (i < alen && i < blen && a[i] == b[i]) {
		if (a[i] == '\n') {
			line++;
			start = i + 1;
		}
		i++;
	}
	const char *ea = memchr(a + start, '\n', alen - start);
	const char *eb = memchr(b + start, '\n', blen - start);
	int la = (int)((ea ? (size_t)(ea - a) + 1 : alen) - start);
	int lb = (int)((eb ? (size_t)(eb - b) + 1 : blen) - start);

	fprintf(stderr, "libical round trip differs at line %zu (byte %zu)\n", line, i);
	fprintf(stderr, "  file:    ");
	print_visible(a + start, la);
	fprintf(stderr, "%s\n  libical: ", la ? "" : "<end of file>");
	print_visible(b + start, lb);
	fprintf(stderr, "%s\n", lb ? "" : "<end of output>");
}

/* libical 3.0.16 writes a calendar's VTIMEZONEs in the reverse of the order it
 * read them (zones A B C come back C B A), so a feed with several zones can
 * never round-trip byte for byte. Exactly that is accepted: the same bytes
 * outside the VTIMEZONE blocks, a block wherever the other has one, and the
 * same blocks byte for byte, in any order. */
#define MAX_ZONES 256

struct zones {
	const char *p[MAX_ZONES];
	size_t n[MAX_ZONES];
	int count;
};

/* Cuts the VTIMEZONE blocks out of s: skel gets s with each block replaced by
 * one '\001' byte (skel must hold len bytes). Returns -1 with too many blocks. */
static int split_zones(const char *s, size_t len, char *skel, size_t *skel_len, struct zones *z)
{
	static const char begin[] = "BEGIN:VTIMEZONE\r\n", end[] = "\r\nEND:VTIMEZONE\r\n";
	size_t i = 0, k = 0, from = 0;

	z->count = 0;
	while (i < len) {
		const char *b = memmem(s + from, len - from, begin, sizeof begin - 1);
		const char *e = b ? memmem(b, len - (size_t)(b - s), end, sizeof end - 1) : NULL;

		if (b && b > s && b[-1] != '\n') { /* not at the start of a line */
			from = (size_t)(b - s) + 1;
			continue;
		}
		if (!b || !e) {
			memcpy(skel + k, s + i, len - i);
			k += len - i;
			break;
		}
		if (z->count == MAX_ZONES)
			return -1;
		size_t at = (size_t)(b - s);
		memcpy(skel + k, s + i, at - i);
		k += at - i;
		skel[k++] = '\001';
		z->p[z->count] = b;
		z->n[z->count] = (size_t)(e - b) + sizeof end - 1;
		i = from = at + z->n[z->count];
		z->count++;
	}
	*skel_len = k;
	return 0;
}

static int zones_only_reordered(const char *a, size_t alen, const char *b, size_t blen)
{
	struct zones *za = calloc(2, sizeof *za), *zb = za ? za + 1 : NULL;
	char *sa = malloc(alen + 1), *sb = malloc(blen + 1);
	size_t la, lb;
	int same = 0;

	if (!za || !sa || !sb || split_zones(a, alen, sa, &la, za) < 0 ||
	    split_zones(b, blen, sb, &lb, zb) < 0)
		goto done;
	if (za->count < 2 || za->count != zb->count || la != lb || memcmp(sa, sb, la) != 0)
		goto done;
	same = 1;
	for (int x = 0; x < za->count && same; x++) {
		int found = 0;

		for (int y = 0; y < zb->count && !found; y++)
			if (zb->p[y] && za->n[x] == zb->n[y] &&
			    !memcmp(za->p[x], zb->p[y], za->n[x])) {
				zb->p[y] = NULL; /* matched once */
				found = 1;
			}
		same = found;
	}
done:
	free(za);
	free(sa);
	free(sb);
	return same;
}

static int roundtrip(const char *path)
{
	size_t len;
	char *buf = read_file(path, &len);
	icalcomponent *root;
	int rc = 1;

	if (!buf)
		return 2;
	root = parse(buf, len);
	if (root) {
		char *out = icalcomponent_as_ical_string_r(root);
		size_t olen = strlen(out);

		if (olen == len && memcmp(out, buf, len) == 0) {
			rc = 0;
		} else if (zones_only_reordered(buf, len, out, olen)) {
			fprintf(stderr, "libical: note: VTIMEZONEs written back in another order "
			                "(libical 3.0.16 reverses them); otherwise identical\n");
			rc = 0;
		} else {
			first_difference(buf, len, out, olen);
		}
		free(out);
		icalcomponent_free(root);
	}
	free(buf);
	return rc;
}

/* --- expansion -------------------------------------------------------------------------- */

struct instance {
	const char *uid;
	time_t start;
};

struct out {
	struct instance *v;
	size_t n, cap;
};

static int out_add(struct out *o, const char *uid, time_t start)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 256;
		struct instance *nv = realloc(o->v, cap * sizeof *nv);

		if (!nv)
			return -1;
		o->v = nv;
		o->cap = cap;
	}
	o->v[o->n++] = (struct instance){uid, start};
	return 0;
}

static void fmt_utc(time_t t, char buf[17])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static int cmp_line(const void *pa, const void *pb)
{
	const struct instance *a = pa, *b = pb;
	char sa[17], sb[17];
	int c = strcmp(a->uid, b->uid);

	/* "UID TIME" lines sorted bytewise, as sort(1) with LC_ALL=C: compare the
	 * UID and the separating space first (a UID that is a prefix of another
	 * sorts by ' ' against the longer UID's next byte). */
	if (c != 0) {
		size_t la = strlen(a->uid), lb = strlen(b->uid);

		if (la < lb && strncmp(a->uid, b->uid, la) == 0)
			return (unsigned char)' ' < (unsigned char)b->uid[la] ? -1 : 1;
		if (lb < la && strncmp(a->uid, b->uid, lb) == 0)
			return (unsigned char)a->uid[lb] < (unsigned char)' ' ? -1 : 1;
		return c;
	}
	fmt_utc(a->start, sa);
	fmt_utc(b->start, sb);
	return strcmp(sa, sb);
}

/* A DATE-TIME property's instant, resolving its TZID through the feed's own
 * VTIMEZONEs (never libical's built-in zones). *t_local gets the value with its
 * zone attached. Returns -1 (after a message) for floating, DATE or unknown-zone
 * values, which Waymark never emits. */
static int prop_instant(icalcomponent *root, icalproperty *p, struct icaltimetype v,
                        struct icaltimetype *t_local, time_t *out)
{
	icalparameter *tzp = icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER);
	icaltimezone *zone;

	if (icaltime_is_null_time(v) || v.is_date) {
		fprintf(stderr, "libical: %s is not a DATE-TIME\n",
		        icalproperty_get_property_name(p));
		return -1;
	}
	if (icaltime_is_utc(v)) {
		zone = icaltimezone_get_utc_timezone();
	} else if (tzp) {
		const char *tzid = icalparameter_get_tzid(tzp);

		zone = icalcomponent_get_timezone(root, tzid);
		if (!zone) {
			fprintf(stderr, "libical: TZID %s has no VTIMEZONE in the feed\n", tzid);
			return -1;
		}
	} else {
		fprintf(stderr, "libical: floating %s\n", icalproperty_get_property_name(p));
		return -1;
	}
	v.zone = zone;
	if (t_local)
		*t_local = v;
	*out = icaltime_as_timet_with_zone(v, zone);
	return 0;
}

static int is_cancelled(icalcomponent *ev)
{
	icalproperty *p = icalcomponent_get_first_property(ev, ICAL_STATUS_PROPERTY);

	return p && icalproperty_get_status(p) == ICAL_STATUS_CANCELLED;
}

struct override {
	icalcomponent *ev;
	const char *uid;
	time_t rid, start;
};

static int expand_master(icalcomponent *root, icalcomponent *ev, const struct override *ov,
                         size_t nov, time_t from, time_t to, struct out *o)
{
	const char *uid = icalcomponent_get_uid(ev);
	icalproperty *dp = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
	icalproperty *rp = icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY);
	struct icaltimetype dtstart;
	time_t start, bound = to;
	int cancelled = is_cancelled(ev);

	if (!uid || !dp) {
		fprintf(stderr, "libical: VEVENT without UID or DTSTART\n");
		return -1;
	}
	if (prop_instant(root, dp, icalproperty_get_dtstart(dp), &dtstart, &start) < 0)
		return -1;
	if (icalcomponent_get_first_property(ev, ICAL_RDATE_PROPERTY)) {
		fprintf(stderr, "libical: %s: RDATE is not supported by this checker\n", uid);
		return -1;
	}
	if (!rp) {
		if (!cancelled && start >= from && start < to)
			return out_add(o, uid, start);
		return 0;
	}
	if (icalcomponent_get_next_property(ev, ICAL_RRULE_PROPERTY)) {
		fprintf(stderr, "libical: %s: more than one RRULE\n", uid);
		return -1;
	}
	/* An override may move an instance from beyond TO into the window: iterate
	 * at least as far as the latest RECURRENCE-ID of this UID. */
	for (size_t i = 0; i < nov; i++)
		if (strcmp(ov[i].uid, uid) == 0 && ov[i].rid > bound)
			bound = ov[i].rid;

	icalrecur_iterator *it = icalrecur_iterator_new(icalproperty_get_rrule(rp), dtstart);
	if (!it) {
		fprintf(stderr, "libical: %s: RRULE not iterable\n", uid);
		return -1;
	}
	int rc = 0;
	size_t count = 0;
	for (struct icaltimetype t = icalrecur_iterator_next(it); !icaltime_is_null_time(t);
	     t = icalrecur_iterator_next(it)) {
		time_t when, inst;
		const struct override *hit = NULL;

		t.zone = dtstart.zone;
		when = icaltime_as_timet_with_zone(t, dtstart.zone);
		if (when > bound)
			break;
		if (++count > MAX_INSTANCES) {
			fprintf(stderr, "libical: %s: more than %d instances\n", uid,
			        MAX_INSTANCES);
			rc = -1;
			break;
		}
		if (icalproperty_recurrence_is_excluded(ev, &dtstart, &t))
			continue;
		for (size_t i = 0; i < nov && !hit; i++)
			if (ov[i].rid == when && strcmp(ov[i].uid, uid) == 0)
				hit = &ov[i];
		if (hit) {
			if (is_cancelled(hit->ev))
				continue;
			inst = hit->start;
		} else {
			if (cancelled)
				continue;
			inst = when;
		}
		if (inst >= from && inst < to && out_add(o, uid, inst) < 0) {
			rc = -1;
			break;
		}
	}
	icalrecur_iterator_free(it);
	return rc;
}

static int parse_utc_arg(const char *s, time_t *out)
{
	struct icaltimetype t;

	if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z') {
		fprintf(stderr, "ical_libical: %s is not YYYYMMDDTHHMMSSZ\n", s);
		return -1;
	}
	t = icaltime_from_string(s);
	if (icaltime_is_null_time(t)) {
		fprintf(stderr, "ical_libical: bad time %s\n", s);
		return -1;
	}
	*out = icaltime_as_timet_with_zone(t, icaltimezone_get_utc_timezone());
	return 0;
}

static int expand(const char *path, const char *from_s, const char *to_s)
{
	time_t from, to;
	size_t len, nov = 0;
	char *buf;
	icalcomponent *root;
	struct override *ov = NULL;
	struct out o = {0};
	int rc = 1;

	if (parse_utc_arg(from_s, &from) < 0 || parse_utc_arg(to_s, &to) < 0)
		return 2;
	buf = read_file(path, &len);
	if (!buf)
		return 2;
	root = parse(buf, len);
	if (!root)
		goto done;

	size_t nev = (size_t)icalcomponent_count_components(root, ICAL_VEVENT_COMPONENT);
	ov = calloc(nev ? nev : 1, sizeof *ov);
	if (!ov)
		goto done;
	for (icalcomponent *ev = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT); ev;
	     ev = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT)) {
		icalproperty *rid =
		    icalcomponent_get_first_property(ev, ICAL_RECURRENCEID_PROPERTY);
		icalproperty *dp = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
		struct override *x = &ov[nov];

		if (!rid)
			continue;
		x->ev = ev;
		x->uid = icalcomponent_get_uid(ev);
		if (!x->uid || !dp ||
		    prop_instant(root, rid, icalproperty_get_recurrenceid(rid), NULL, &x->rid) <
		        0 ||
		    prop_instant(root, dp, icalproperty_get_dtstart(dp), NULL, &x->start) < 0) {
			fprintf(stderr, "libical: unusable override\n");
			goto done;
		}
		nov++;
	}
	for (icalcomponent *ev = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT); ev;
	     ev = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT)) {
		if (icalcomponent_get_first_property(ev, ICAL_RECURRENCEID_PROPERTY))
			continue;
		if (expand_master(root, ev, ov, nov, from, to, &o) < 0)
			goto done;
	}
	qsort(o.v, o.n, sizeof *o.v, cmp_line);
	for (size_t i = 0; i < o.n; i++) {
		char t[17];

		fmt_utc(o.v[i].start, t);
		printf("%s %s\n", o.v[i].uid, t);
	}
	rc = fflush(stdout) == 0 ? 0 : 2;
done:
	free(o.v);
	free(ov);
	if (root)
		icalcomponent_free(root);
	free(buf);
	return rc;
}

int main(int argc, char **argv)
{
	int rc;

	/* libical reports problems through X-LIC-ERROR properties, not aborts. */
	icalerror_set_errors_are_fatal(0);
	if (argc == 3 && strcmp(argv[1], "roundtrip") == 0)
		rc = roundtrip(argv[2]);
	else if (argc == 5 && strcmp(argv[1], "expand") == 0)
		rc = expand(argv[2], argv[3], argv[4]);
	else {
		fprintf(stderr,
		        "usage: ical_libical roundtrip FILE\n"
		        "       ical_libical expand FILE FROM TO   (UTC YYYYMMDDTHHMMSSZ)\n");
		return 2;
	}
	icaltimezone_free_builtin_timezones();
	return rc;
}
