/*
 * errbuf — the caller-supplied error buffer that start-up code fills with a
 * sentence for the operator (char *err, size_t errlen in many signatures).
 */
#ifndef WM_ERRBUF_H
#define WM_ERRBUF_H

#include <stddef.h>
#include <waymark/types.h>

/* Formats into err (if err and errlen are non-zero), truncating safely. */
void errbuf_set(char *err, size_t errlen, const char *fmt, ...) WM_PRINTF(3, 4);

#endif
