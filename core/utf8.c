/*
 * utf8 — the strict UTF-8 check used on request bodies, the config file and
 * decoded path parameters. Strict means the Unicode definition (RFC 3629):
 * shortest form only, no UTF-16 surrogates, nothing above U+10FFFF, and no
 * sequence cut short. Lenient decoders disagree on those, and a byte string
 * two components read differently is how filters get bypassed.
 */
#include "jsonv.h"

int utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len;
		unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
		if (c >= 0xC2 && c <= 0xDF) {
			len = 2;
		} else if (c >= 0xE0 && c <= 0xEF) {
			len = 3;
			if (c == 0xE0)
				lo = 0xA0; /* below is an overlong 2-byte form */
			else if (c == 0xED)
				hi = 0x9F; /* above is a surrogate D800..DFFF */
		} else if (c >= 0xF0 && c <= 0xF4) {
			len = 4;
			if (c == 0xF0)
				lo = 0x90; /* below is an overlong 3-byte form */
			else if (c == 0xF4)
				hi = 0x8F; /* above is beyond U+10FFFF */
		} else {
			return 0; /* continuation byte, C0/C1 overlong lead, or F5..FF */
		}
		if (n - i < len)
			return 0;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t k = 2; k < len; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
		i += len;
	}
	return 1;
}

/* Bidirectional formatting characters reorder what a reader sees (a name
 * that displays as another, "Trojan source"): U+061C, U+200E, U+200F,
 * U+202A..U+202E and U+2066..U+2069. Input is valid UTF-8 already. */
int utf8_has_bidi_controls(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (s[i] == 0xD8 && s[i + 1] == 0x9C)
			return 1;
		if (i + 2 >= n || s[i] != 0xE2)
			continue;
		unsigned char b = s[i + 1], c = s[i + 2];
		if ((b == 0x80 && (c == 0x8E || c == 0x8F || (c >= 0xAA && c <= 0xAE))) ||
		    (b == 0x81 && c >= 0xA6 && c <= 0xA9))
			return 1;
	}
	return 0;
}
