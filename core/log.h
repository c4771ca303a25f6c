/*
 * log — one place every line the server writes goes through.
 *
 * Lines go to stderr as `2026-11-23T10:00:00.123Z level component: message`.
 * The access log (http.c) uses the same sink. Nothing secret is ever passed
 * here: callers log route templates, never raw paths, and never tokens.
 */
#ifndef WM_LOG_H
#define WM_LOG_H

#include <stdarg.h>
#include <waymark/types.h>

void log_set_level(enum wm_log_level min);
/* Parses "debug" | "info" | "warn" | "error"; WM_ERR on anything else. */
wm_status log_level_parse(const char *s, enum wm_log_level *out) WM_MUST_CHECK;
void log_msg(enum wm_log_level level, const char *component, const char *fmt, ...) WM_PRINTF(3, 4);
void log_vmsg(enum wm_log_level level, const char *component, const char *fmt, va_list ap);

#endif
