/*
 * ical_internal — the pieces shared by ical_write.c, ical_text.c and
 * ical_zone.c: a growing output buffer with a hard cap, and content-line
 * output (escaping and folding) that reproduces what libical 3.0.16 writes
 * when it re-serialises a parsed calendar. Not for use outside core/ical_*.c.
 *
 * libical's observable behaviour (found by experiment, see test_ical.c):
 * - it folds the whole content line INCLUDING its trailing CRLF; a line of
 *   73+ octets is folded. While 75 or more octets remain, it breaks after
 *   the last ';', ':' or ' ' among the next 74 octets (not counting the
 *   first), else before the last byte that starts a character within the
 *   next 75 octets, else after 74 octets; every piece after the first is
 *   written after CRLF + one space.
 * - so when exactly 75 octets remain (73 of content + CRLF) with no break
 *   character in them, it splits the CRLF itself and writes a bare CR.
 *   We never write such a line: the value loses its last character (see
 *   ical_put_line) and is folded again.
 * - TEXT values: '\' ';' ',' are escaped with a backslash, newline as "\n";
 *   nothing else. Leading and trailing spaces of a value are dropped by its
 *   parser, and an empty value is refused, so we write neither.
 * - X- properties are written raw, so their values must not hold , ; or \.
 */
#ifndef WM_ICAL_INTERNAL_H
#define WM_ICAL_INTERNAL_H

#include <stddef.h>
#include <string.h>
#include <waymark/types.h>

struct ical_buf {
	char *p;              /* cap + 1 bytes, NUL-terminated at len */
	size_t len, cap, max; /* max: the hard cap on len */
	int failed;           /* sticky: cap reached or out of memory */
};

wm_status ical_buf_grow(struct ical_buf *b, size_t extra) WM_MUST_CHECK;

static inline wm_status ical_buf_reserve(struct ical_buf *b, size_t extra)
{
	if (!b->failed && b->cap - b->len >= extra)
		return WM_OK;
	return ical_buf_grow(b, extra);
}

/* Appends n bytes (the caller has reserved them). The buffer always has a
 * spare byte past cap, so the text stays NUL-terminated. */
static inline void ical_buf_put(struct ical_buf *b, const char *s, size_t n)
{
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

wm_status ical_buf_append(struct ical_buf *b, const char *s, size_t n) WM_MUST_CHECK;
void ical_buf_free(struct ical_buf *b);

/* Appends one content line (no CRLF in `line`), folded as libical folds it,
 * and its CRLF. Returns 1 (appending nothing) if libical would split the
 * CRLF of this line, 0 when written, -1 when the buffer failed. */
int ical_fold_append(struct ical_buf *b, const char *line, size_t len);

/* Appends a plain short line that never needs folding (< 73 octets) + CRLF. */
wm_status ical_line(struct ical_buf *b, const char *line) WM_MUST_CHECK;

enum wm_ical_kind {
	WM_ICAL_TEXT,  /* escaped: \\ \; \, \n */
	WM_ICAL_XPROP, /* X- property: , ; \ and newlines dropped, nothing escaped */
};

/* Writes NAME ":" value as one folded line from already-clean UTF-8 text
 * (ical_text_clean output): trims spaces at both ends, escapes by kind and,
 * if libical would mangle the fold, shortens the value by one character at
 * a time until it would not. scratch is reused between calls. Sets
 * *written to 0 (writing nothing) if the value ends up empty. */
wm_status ical_put_value(struct ical_buf *out, struct ical_buf *scratch, const char *name,
                         const char *clean, size_t clean_len, enum wm_ical_kind kind,
                         int *written) WM_MUST_CHECK;

#endif
