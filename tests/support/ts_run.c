/*
 * ts_run — runs waymarkd to completion, as an operator would from a shell,
 * and hands back its exit status, stdout and stderr: for subcommands that
 * exit (version, config --help, migrate) and for start-up refusals.
 * Both pipes are drained together so a chatty child can never block on a
 * full pipe while we wait on the other one.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ts.h"

/* No command the tests run should take longer than this; past it the child
 * is killed so a hang fails the test rather than the CTest timeout. */
#define RUN_TIMEOUT_S 120.0

/* Applies "NAME=value" (set) and "NAME" (unset) in the child. */
static void apply_env(const char *const *env)
{
	for (size_t i = 0; env && env[i]; i++) {
		const char *eq = strchr(env[i], '=');
		if (!eq) {
			unsetenv(env[i]);
			continue;
		}
		char *name = strndup(env[i], (size_t)(eq - env[i]));
		if (name)
			setenv(name, eq + 1, 1);
		free(name);
	}
}

static void child(const char *const *argv, const char *const *env, int out, int err)
{
	size_t n = 0;
	while (argv && argv[n])
		n++;
	const char **args = calloc(n + 2, sizeof *args);
	int devnull = open("/dev/null", O_RDONLY);
	if (!args || devnull < 0 || dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	args[0] = WAYMARK_BIN;
	for (size_t i = 0; i < n; i++)
		args[i + 1] = argv[i];
	apply_env(env);
	execv(WAYMARK_BIN, (char *const *)args);
	fprintf(stderr, "ts_run: cannot run %s: %s\n", WAYMARK_BIN, strerror(errno));
	_exit(127);
}

static void append(char **text, size_t *len, const char *data, size_t n)
{
	char *p = realloc(*text, *len + n + 1);
	if (!p)
		return;
	memcpy(p + *len, data, n);
	*len += n;
	p[*len] = '\0';
	*text = p;
}

int ts_run(const char *const *argv, const char *const *env, char **out, char **err)
{
	int po[2] = {-1, -1}, pe[2] = {-1, -1}, status = 0, rc = -1;
	char *text[2] = {calloc(1, 1), calloc(1, 1)};
	size_t len[2] = {0, 0};
	pid_t pid = -1;
	if (!text[0] || !text[1] || pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0)
		goto fail;
	pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0)
		child(argv, env, po[1], pe[1]);
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;

	struct pollfd pfd[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
	double deadline = ts_now() + RUN_TIMEOUT_S;
	while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
		int left = (int)((deadline - ts_now()) * 1000);
		if (left <= 0) {
			fprintf(stderr, "ts_run: %s did not finish in %.0f s; killed\n",
			        WAYMARK_BIN, RUN_TIMEOUT_S);
			kill(pid, SIGKILL);
			break;
		}
		if (poll(pfd, 2, left) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			char chunk[4096];
			ssize_t n = read(pfd[i].fd, chunk, sizeof chunk);
			if (n > 0)
				append(&text[i], &len[i], chunk, (size_t)n);
			else if (n == 0 || errno != EINTR)
				pfd[i].fd = -1;
		}
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
fail:
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	if (out)
		*out = text[0];
	else
		free(text[0]);
	if (err)
		*err = text[1];
	else
		free(text[1]);
	return rc;
}
