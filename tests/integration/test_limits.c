/*
 * Connection limits a client can observe: at http.max_connections the server
 * stops accepting until a connection closes; a request that stalls half-way
 * and a keep-alive connection left idle are both closed by http.timeout_ms.
 * Bounds here are generous: they prove the behaviour, not its speed.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ts.h"

static char *db;
static struct ts_server srv;

static void start_with(const char *config)
{
	db = ts_db_create("limits");
	struct ts_server_opts o = {.database_url = db, .config_json = config};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
}

static void stop(void)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
}

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv.port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

static void send_all(int fd, const char *s)
{
	size_t n = strlen(s);
	ck_assert_int_eq(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads until a whole "HTTP/1.1 200" reply with its body arrived (the reply
 * is small: /healthz), or `ms` pass. Returns 1 on a 200, 0 on nothing. */
static int read_ok(int fd, int ms)
{
	char buf[4096];
	size_t got = 0;
	double end = ts_now() + ms / 1000.0;
	while (ts_now() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)((end - ts_now()) * 1000) + 1;
		if (poll(&p, 1, left) != 1)
			break;
		ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
		char *hdr_end = strstr(buf, "\r\n\r\n");
		if (hdr_end && strstr(buf, "{\"status\":\"ok\"}"))
			return strncmp(buf, "HTTP/1.1 200", 12) == 0;
	}
	return 0;
}

/* 1 if the peer closed the connection within `ms`, reading and discarding
 * whatever it sent first. */
static int closed_within(int fd, int ms)
{
	char buf[4096];
	double end = ts_now() + ms / 1000.0;
	while (ts_now() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)((end - ts_now()) * 1000) + 1) != 1)
			return 0;
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n <= 0)
			return 1;
	}
	return 0;
}

static const char healthz[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";

START_TEST(accepting_pauses_at_max_connections)
{
	start_with("{\"http\": {\"max_connections\": 2}}");
	int a = dial(), b = dial();
	send_all(a, healthz);
	ck_assert(read_ok(a, 5000));
	send_all(b, healthz);
	ck_assert(read_ok(b, 5000));
	/* Two keep-alive connections are open: a third is queued by the
	 * kernel but not accepted, so its request is not answered... */
	int c = dial();
	send_all(c, healthz);
	ck_assert_msg(!read_ok(c, 700), "a third connection was served past the limit");
	/* ...until one of the two closes. */
	close(a);
	ck_assert_msg(read_ok(c, 5000), "the listener did not resume after a close");
	/* The limit still holds: b and c are open, so d waits again. */
	int d = dial();
	send_all(d, healthz);
	ck_assert(!read_ok(d, 700));
	close(b);
	ck_assert(read_ok(d, 5000));
	close(c);
	close(d);
	stop();
}
END_TEST

START_TEST(stalled_request_is_closed_after_the_timeout)
{
	start_with("{\"http\": {\"timeout_ms\": 300}}");
	int fd = dial();
	send_all(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n"); /* no blank line */
	ck_assert_msg(closed_within(fd, 5000), "a stalled request kept its connection");
	close(fd);
	/* The server is unharmed. */
	struct ts_response r;
	ck_assert_int_eq(ts_http(&srv, "GET", "/healthz", NULL, NULL, 0, 5000, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ts_response_free(&r);
	stop();
}
END_TEST

START_TEST(idle_keep_alive_is_closed_after_the_timeout)
{
	start_with("{\"http\": {\"timeout_ms\": 300}}");
	int fd = dial();
	send_all(fd, healthz);
	ck_assert(read_ok(fd, 5000));
	ck_assert_msg(closed_within(fd, 5000), "an idle keep-alive connection stayed open");
	close(fd);
	stop();
}
END_TEST

START_TEST(default_timeout_keeps_a_brief_pause)
{
	/* With the default 15 s, a client pausing briefly between requests on
	 * one connection is still served: the timeout is not a request cap. */
	start_with(NULL);
	int fd = dial();
	send_all(fd, healthz);
	ck_assert(read_ok(fd, 5000));
	ck_assert(!closed_within(fd, 600));
	send_all(fd, healthz);
	ck_assert(read_ok(fd, 5000));
	close(fd);
	stop();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("connections");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, accepting_pauses_at_max_connections);
	tcase_add_test(tc, stalled_request_is_closed_after_the_timeout);
	tcase_add_test(tc, idle_keep_alive_is_closed_after_the_timeout);
	tcase_add_test(tc, default_timeout_keeps_a_brief_pause);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
