/*
 * ts_http — the tests' HTTP/1.1 client: one request per fresh loopback
 * connection, blocking I/O bounded by poll() so a hung server fails the
 * test instead of hanging it. It reads the response until the server closes
 * or the response is complete (Content-Length or the last chunk), so timing
 * assertions measure the server, not a lingering close.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ts.h"

double ts_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Milliseconds left before `deadline` (ts_now() seconds), at least 0. */
static int ms_left(double deadline)
{
	double left = (deadline - ts_now()) * 1000.0;
	return left > 0 ? (int)left + 1 : 0;
}

/* A growing byte buffer, always NUL-terminated so it can be read as text. */
struct buf {
	char *p;
	size_t len, cap;
};

static int buf_add(struct buf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int connect_loopback(int port, double deadline)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		if (errno != EINPROGRESS)
			goto fail;
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int err = 0;
		socklen_t elen = sizeof err;
		if (poll(&pfd, 1, ms_left(deadline)) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0)
			goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* Sends everything, or stops early if the server closed or reset: a server
 * may answer (413) and close before it has read the whole request, and the
 * test still wants that answer. Returns -1 only on timeout. */
static int send_all(int fd, const char *data, size_t len, double deadline)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			int left = ms_left(deadline);
			if (left == 0 || poll(&pfd, 1, left) == 0)
				return -1;
			continue;
		}
		return 0; /* EPIPE, ECONNRESET: go and read what was said */
	}
	return 0;
}

/* Decodes a chunked body starting at `p`. Returns 1 when the last chunk
 * was seen (body in `out`), 0 if more bytes are needed, -1 if malformed. */
static int dechunk(const char *p, size_t len, struct buf *out)
{
	size_t off = 0;
	out->len = 0;
	for (;;) {
		const char *eol = memmem(p + off, len - off, "\r\n", 2);
		if (!eol)
			return 0;
		char *end;
		unsigned long n = strtoul(p + off, &end, 16);
		if (end == p + off)
			return -1;
		off = (size_t)(eol - p) + 2;
		if (n == 0)
			return 1; /* trailers, if any, are not wanted */
		if (len - off < n + 2)
			return 0;
		if (buf_add(out, p + off, n) != 0)
			return -1;
		off += n + 2;
	}
}

/* Splits a raw response into r. Returns 1 if complete, 0 if more bytes
 * may come, -1 if it is not HTTP. `eof` says the server has closed. */
static int parse_response(const struct buf *in, int head_only, int eof, struct ts_response *r)
{
	const char *p = in->p ? in->p : "";
	const char *hend = memmem(p, in->len, "\r\n\r\n", 4);
	if (!hend)
		return eof ? -1 : 0;
	int major, minor, status;
	if (sscanf(p, "HTTP/%d.%d %d", &major, &minor, &status) != 3)
		return -1;
	const char *line = strstr(p, "\r\n") + 2;
	size_t hlen = (size_t)(hend + 2 - line);
	free(r->headers);
	r->headers = malloc(hlen + 1);
	if (!r->headers)
		return -1;
	memcpy(r->headers, line, hlen);
	r->headers[hlen] = '\0';
	/* Names lower-cased, values left alone. */
	for (char *l = r->headers; *l;) {
		for (char *c = l; *c && *c != ':' && *c != '\r'; c++)
			*c = (char)tolower((unsigned char)*c);
		char *next = strstr(l, "\r\n");
		l = next ? next + 2 : l + strlen(l);
	}
	r->status = status;

	const char *body = hend + 4;
	size_t avail = in->len - (size_t)(body - p);
	struct buf out = {0};
	int done;
	char *te = ts_header(r, "transfer-encoding");
	char *cl = ts_header(r, "content-length");
	if (head_only || status == 204 || status == 304 || (status >= 100 && status < 200)) {
		done = 1;
	} else if (te && strcasestr(te, "chunked")) {
		done = dechunk(body, avail, &out);
		if (done == 0 && eof)
			done = -1;
	} else if (cl) {
		size_t want = strtoul(cl, NULL, 10);
		done = avail >= want || eof;
		if (done && buf_add(&out, body, avail < want ? avail : want) != 0)
			done = -1;
	} else {
		done = eof;
		if (done && buf_add(&out, body, avail) != 0)
			done = -1;
	}
	free(te);
	free(cl);
	if (done == 1) {
		free(r->body);
		r->body = out.p ? out.p : calloc(1, 1);
		r->body_len = out.len;
		if (!r->body)
			done = -1;
	} else {
		free(out.p);
	}
	return done;
}

static int exchange(const struct ts_server *s, const char *req, size_t req_len, int head_only,
                    int timeout_ms, struct ts_response *r)
{
	memset(r, 0, sizeof *r);
	double start = ts_now(), deadline = start + timeout_ms / 1000.0;
	struct buf in = {0};
	int rc = -1, fd = connect_loopback(s->port, deadline);
	if (fd < 0)
		goto fail;
	if (send_all(fd, req, req_len, deadline) != 0)
		goto fail;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int left = ms_left(deadline);
		if (left == 0 || poll(&pfd, 1, left) <= 0)
			goto fail;
		char chunk[16384];
		ssize_t n = recv(fd, chunk, sizeof chunk, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		int eof = n <= 0; /* a reset after the reply counts as the end */
		if (n > 0 && buf_add(&in, chunk, (size_t)n) != 0)
			goto fail;
		int done = parse_response(&in, head_only, eof, r);
		if (done == 1)
			break;
		if (done < 0 || eof)
			goto fail;
	}
	r->seconds = ts_now() - start;
	rc = 0;
fail:
	if (fd >= 0)
		close(fd);
	free(in.p);
	if (rc != 0)
		ts_response_free(r);
	return rc;
}

/* Does the caller's header text already carry this header? */
static int has_header(const char *headers, const char *name)
{
	size_t n = strlen(name);
	for (const char *l = headers; l && *l;) {
		if (!strncasecmp(l, name, n) && l[n] == ':')
			return 1;
		const char *next = strstr(l, "\n");
		l = next ? next + 1 : NULL;
	}
	return 0;
}

int ts_http(const struct ts_server *s, const char *method, const char *path,
            const char *extra_headers, const char *body, size_t body_len, int timeout_ms,
            struct ts_response *r)
{
	struct buf req = {0};
	char head[512];
	int rc = -1;
	const char *extra = extra_headers ? extra_headers : "";
	/* POST/PUT/PATCH always say how long the body is, so the server never
	 * waits for a close that cannot come. */
	int with_len = (body || !strcmp(method, "POST") || !strcmp(method, "PUT") ||
	                !strcmp(method, "PATCH")) &&
	               !has_header(extra, "Content-Length") &&
	               !has_header(extra, "Transfer-Encoding");
	snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n",
	         method, path, s->port);
	if (buf_add(&req, head, strlen(head)) != 0 || buf_add(&req, extra, strlen(extra)) != 0)
		goto fail;
	if (s->token[0] && !has_header(extra, "Authorization") && !has_header(extra, "Cookie")) {
		snprintf(head, sizeof head, "Authorization: Bearer %s\r\n", s->token);
		if (buf_add(&req, head, strlen(head)) != 0)
			goto fail;
	}
	if (with_len) {
		snprintf(head, sizeof head, "Content-Length: %zu\r\n", body ? body_len : 0);
		if (buf_add(&req, head, strlen(head)) != 0)
			goto fail;
	}
	if (buf_add(&req, "\r\n", 2) != 0 || (body && buf_add(&req, body, body_len) != 0))
		goto fail;
	rc = exchange(s, req.p, req.len, !strcmp(method, "HEAD"), timeout_ms, r);
fail:
	free(req.p);
	return rc;
}

int ts_http_raw(const struct ts_server *s, const char *raw, size_t raw_len, int timeout_ms,
                struct ts_response *r)
{
	return exchange(s, raw, raw_len, 0, timeout_ms, r);
}

char *ts_header(const struct ts_response *r, const char *name)
{
	size_t n = strlen(name);
	for (const char *l = r->headers; l && *l;) {
		const char *eol = strstr(l, "\r\n");
		size_t ll = eol ? (size_t)(eol - l) : strlen(l);
		if (ll > n && !strncasecmp(l, name, n) && l[n] == ':') {
			const char *v = l + n + 1, *e = l + ll;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			return strndup(v, (size_t)(e - v));
		}
		l = eol ? eol + 2 : NULL;
	}
	return NULL;
}

json_t *ts_json(const struct ts_response *r)
{
	if (!r->body)
		return NULL;
	return json_loadb(r->body, r->body_len, 0, NULL);
}

char *ts_error_code(const struct ts_response *r)
{
	json_t *doc = ts_json(r);
	const char *code =
	    json_string_value(json_object_get(json_object_get(doc, "error"), "code"));
	char *out = code ? strdup(code) : NULL;
	json_decref(doc);
	return out;
}

void ts_response_free(struct ts_response *r)
{
	free(r->headers);
	free(r->body);
	r->headers = NULL;
	r->body = NULL;
	r->body_len = 0;
}
