/*
 * sdnotify — the sd_notify protocol: one datagram of "KEY=value" lines to the
 * Unix socket named in NOTIFY_SOCKET ('@' = abstract namespace). Failing to
 * notify is not fatal: systemd times out and says so in its own log.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdnotify.h"

void sdnotify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || (path[0] != '/' && path[0] != '@'))
		return;
	size_t n = strlen(path);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (n >= sizeof sa.sun_path)
		return;
	memcpy(sa.sun_path, path, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	(void)!sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	close(fd);
}
