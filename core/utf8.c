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
