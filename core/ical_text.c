/*
 * ical_text — text for calendar feeds: sanitising raw strings to clean UTF-8,
 * the output buffer, and content lines escaped and folded exactly as
 * libical 3.0.16 re-serialises them (ical_internal.h describes how that is).
 */
#include <stdlib.h>

#include "ical.h"
#include "ical_internal.h"

#define LINE_MAX_OCTETS 75

/* --- sanitising ----------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (1–4), or 0 if invalid; *bad_len
 * is then the maximal invalid subpart to replace with one U+FFFD. */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp, size_t *bad_len)
{
	unsigned c = s[0];
	size_t need;
	unsigned lo = 0x80, hi = 0xBF, v;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
		v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		v = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0; /* no overlongs */
		else if (c == 0xED)
			hi = 0x9F; /* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		v = c & 0x07;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F; /* nothing above U+10FFFF */
	} else {
		*bad_len = 1;
		return 0;
	}
	for (size_t i = 1; i <= need; i++) {
		unsigned b = i < n ? s[i] : 0;
		if (b < lo || b > hi) {
			*bad_len = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xBF;
		v = (v << 6) | (b & 0x3F);
	}
	*cp = v;
	return need + 1;
}

size_t ical_text_clean(const char *in, size_t in_len, int keep_newlines, size_t max_octets,
                       char *out, size_t out_len)
{
	if (!out || out_len == 0)
		return 0;
	size_t limit = out_len - 1 < max_octets ? out_len - 1 : max_octets;
	const unsigned char *s = (const unsigned char *)(in ? in : "");
	size_t i = 0, o = 0;
	if (!in)
		in_len = 0;
	while (i < in_len) {
		unsigned c = s[i];
		if (c >= 0x20 && c < 0x7F) { /* the common case: a run of printable ASCII */
			size_t j = i + 1;
			while (j < in_len && (unsigned char)(s[j] - 0x20) < 0x5F)
				j++;
			size_t run = j - i < limit - o ? j - i : limit - o;
			memcpy(out + o, s + i, run);
			o += run;
			i += run;
			if (o == limit)
				break;
			continue;
		}
		if (c < 0x80) { /* C0 controls and DEL */
			i++;
			if (c == '\r' && i < in_len && s[i] == '\n')
				continue; /* CRLF: the LF stands for both */
			char rep = 0;
			if (c == '\n' || c == '\r')
				rep = keep_newlines ? '\n' : ' ';
			else if (c == '\t')
				rep = ' ';
			if (rep) {
				if (o >= limit)
					break;
				out[o++] = rep;
			}
			continue;
		}
		unsigned cp;
		size_t bad = 1, n = utf8_seq(s + i, in_len - i, &cp, &bad);
		if (n == 0) { /* invalid: U+FFFD for the maximal invalid subpart */
			if (limit - o < 3)
				break;
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i += bad;
			continue;
		}
		if (cp < 0xA0 /* C1 controls */ || (cp >= 0x202A && cp <= 0x202E) ||
		    (cp >= 0x2066 && cp <= 0x2069) /* bidi overrides and isolates */) {
			i += n;
			continue;
		}
		if (limit - o < n)
			break;
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return o;
}

/* --- the output buffer -------------------------------------------------- */

wm_status ical_buf_grow(struct ical_buf *b, size_t extra)
{
	if (b->failed)
		return WM_ERR;
	if (extra > b->max || b->len > b->max - extra) {
		b->failed = 1;
		return WM_ERR;
	}
	size_t need = b->len + extra, cap = b->cap ? b->cap : 4096;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max && need <= b->max)
		cap = b->max; /* never hold more than the cap allows */
	char *p = realloc(b->p, cap + 1);
	if (!p) {
		b->failed = 1;
		return WM_ERR;
	}
	b->p = p;
	b->cap = cap;
	return WM_OK;
}

wm_status ical_buf_append(struct ical_buf *b, const char *s, size_t n)
{
	if (ical_buf_reserve(b, n) != WM_OK)
		return WM_ERR;
	ical_buf_put(b, s, n);
	return WM_OK;
}

void ical_buf_free(struct ical_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

wm_status ical_line(struct ical_buf *b, const char *line)
{
	size_t n = strlen(line);
	if (ical_buf_reserve(b, n + 2) != WM_OK)
		return WM_ERR;
	ical_buf_put(b, line, n);
	ical_buf_put(b, "\r\n", 2);
	return WM_OK;
}

/* --- folding ------------------------------------------------------------ */

/* The byte at position k of line + CRLF. */
static inline unsigned char at(const char *line, size_t len, size_t k)
{
	return k < len ? (unsigned char)line[k] : (k == len ? '\r' : '\n');
}

/* Where libical starts the next piece of a line when `left` >= 75 octets
 * (CRLF included) remain from `start`. */
static size_t next_piece(const char *line, size_t len, size_t start)
{
	for (size_t k = start + LINE_MAX_OCTETS - 2; k > start; k--) {
		unsigned char c = at(line, len, k);
		if (c == ' ' || c == ':' || c == ';')
			return k + 1;
	}
	for (size_t k = start + LINE_MAX_OCTETS - 1; k > start; k--) {
		unsigned char c = at(line, len, k);
		if (c < 0x80 || c >= 0xC0) /* ASCII or a UTF-8 lead byte */
			return k;
	}
	return start + LINE_MAX_OCTETS - 1;
}

int ical_fold_append(struct ical_buf *b, const char *line, size_t len)
{
	size_t total = len + 2, start = 0, mark = b->len;
	if (total < LINE_MAX_OCTETS) { /* most lines */
		if (ical_buf_reserve(b, total) != WM_OK)
			return -1;
		ical_buf_put(b, line, len);
		ical_buf_put(b, "\r\n", 2);
		return 0;
	}
	for (;;) {
		if (total - start < LINE_MAX_OCTETS) {
			if (ical_buf_reserve(b, total - start) != WM_OK)
				return -1;
			ical_buf_put(b, line + start, len - start);
			ical_buf_put(b, "\r\n", 2);
			return 0;
		}
		size_t next = next_piece(line, len, start);
		if (next > len) { /* libical would split the CRLF */
			b->len = mark;
			if (b->p)
				b->p[mark] = '\0';
			return 1;
		}
		if (ical_buf_reserve(b, next - start + 3) != WM_OK)
			return -1;
		ical_buf_put(b, line + start, next - start);
		ical_buf_put(b, "\r\n ", 3);
		start = next;
	}
}

/* --- values ------------------------------------------------------------- */

/* Bytes escape_into() must look at: \ ; , and newline. */
static const unsigned char special[256] = {['\\'] = 1, [';'] = 1, [','] = 1, ['\n'] = 1};

static size_t escape_into(char *dst, const char *s, size_t n, enum wm_ical_kind kind)
{
	size_t o = 0, i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && !special[(unsigned char)s[j]])
			j++;
		memcpy(dst + o, s + i, j - i); /* a plain run */
		o += j - i;
		if (j == n)
			break;
		char c = s[j];
		i = j + 1;
		if (kind == WM_ICAL_XPROP)
			continue; /* dropped: libical would not escape it */
		dst[o++] = '\\';
		dst[o++] = c == '\n' ? 'n' : c;
	}
	return o;
}

wm_status ical_put_value(struct ical_buf *out, struct ical_buf *scratch, const char *name,
                         const char *clean, size_t n, enum wm_ical_kind kind, int *written)
{
	size_t name_len = strlen(name);
	*written = 0;
	for (;;) {
		while (n && clean[0] == ' ') {
			clean++;
			n--;
		}
		while (n && clean[n - 1] == ' ')
			n--;
		if (n == 0)
			return out->failed ? WM_ERR : WM_OK;
		scratch->len = 0;
		if (ical_buf_reserve(scratch, name_len + 1 + 2 * n) != WM_OK)
			return WM_ERR;
		ical_buf_put(scratch, name, name_len);
		ical_buf_put(scratch, ":", 1);
		scratch->len += escape_into(scratch->p + scratch->len, clean, n, kind);
		int r = ical_fold_append(out, scratch->p, scratch->len);
		if (r < 0)
			return WM_ERR;
		if (r == 0) {
			*written = 1;
			return WM_OK;
		}
		/* Rare: drop the last character (not a byte) and fold again. */
		do
			n--;
		while (n && ((unsigned char)clean[n] & 0xC0) == 0x80);
	}
}
