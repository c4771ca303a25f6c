/*
 * log — formats one line per call and hands it to stderr in a single write(),
 * so lines from several waymarkd processes sharing one log file or pipe never
 * interleave (writes of at most PIPE_BUF bytes are atomic on pipes and with
 * O_APPEND).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Keeps every line within PIPE_BUF so the single write stays atomic. */
#define LOG_LINE_MAX 4096

static enum wm_log_level min_level = WM_LOG_INFO;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void log_set_level(enum wm_log_level min)
{
	min_level = min;
}

wm_status log_level_parse(const char *s, enum wm_log_level *out)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};
	if (!s)
		return WM_ERR;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!strcasecmp(s, names[i])) {
			*out = (enum wm_log_level)i;
			return WM_OK;
		}
	}
	return WM_ERR;
}

static size_t format_time(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
	                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	                 ts.tv_nsec / 1000000);
	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

void log_vmsg(enum wm_log_level level, const char *component, const char *fmt, va_list ap)
{
	if (level < min_level)
		return;
	int saved = errno;
	char line[LOG_LINE_MAX];
	size_t cap = sizeof line - 1; /* room for the newline */
	size_t n = format_time(line, cap);
	unsigned li = (unsigned)level < 4 ? (unsigned)level : (unsigned)WM_LOG_ERROR;
	int k =
	    snprintf(line + n, cap - n, " %s %s: ", level_names[li], component ? component : "-");
	n += k > 0 ? (size_t)k : 0;
	if (n > cap)
		n = cap;
	size_t start = n;
	k = vsnprintf(line + n, cap - n, fmt, ap);
	if (k > 0)
		n += (size_t)k < cap - n ? (size_t)k : cap - n - 1;
	if (k > 0 && (size_t)k >= cap - start && cap > start + 3)
		memcpy(line + n - 3, "...", 3);
	/* A message with a newline (a PostgreSQL error detail, say) would
	 * otherwise look like a second, unprefixed line. */
	for (size_t i = start; i < n; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c < 0x20 && c != '\t')
			line[i] = ' ';
	}
	line[n++] = '\n';
	size_t off = 0;
	while (off < n) {
		ssize_t w = write(STDERR_FILENO, line + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	errno = saved;
}

void log_msg(enum wm_log_level level, const char *component, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, component, fmt, ap);
	va_end(ap);
}
