/*
 * cli_control - one request on the daemon's control socket; see
 * cli_control.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli_control.h"

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to be ready for events until deadline. 0 ready, -1 timeout or error. */
static int
wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - now_ms();
		struct pollfd p = { .fd = fd, .events = events };
		if (left <= 0)
			return -1;
		int r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

int
cli_control(const char *path, const char *command, int timeout_ms, struct buf *out, char *err,
    size_t errlen)
{
	struct sockaddr_un sun;
	long long deadline = now_ms() + timeout_ms;
	char line[4096];
	size_t len = 0;
	int fd, code = -1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket %s: path too long", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	char req[2048];
	int n = snprintf(req, sizeof(req), "%s\nquit\n", command);
	if (n < 0 || (size_t)n >= sizeof(req)) {
		snprintf(err, errlen, "control socket %s: command too long", path);
		close(fd);
		return -1;
	}
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	/* Read lines until the first "CODE text" line: the command's reply. */
	for (;;) {
		char *nl = memchr(line, '\n', len);
		if (nl == NULL) {
			if (len == sizeof(line)) {
				snprintf(err, errlen, "control socket %s: reply line too long", path);
				break;
			}
			if (wait_fd(fd, POLLIN, deadline) != 0) {
				snprintf(err, errlen, "control socket %s: no reply within %d ms", path,
				    timeout_ms);
				break;
			}
			ssize_t r = read(fd, line + len, sizeof(line) - len);
			if (r <= 0) {
				snprintf(err, errlen, "control socket %s: %s", path,
				    r == 0 ? "closed before the reply ended" : strerror(errno));
				break;
			}
			len += (size_t)r;
			continue;
		}
		size_t llen = (size_t)(nl - line);
		if (llen < 4 || line[0] < '1' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
		    line[2] < '0' || line[2] > '9' || (line[3] != ' ' && line[3] != '-')) {
			snprintf(err, errlen, "control socket %s: not a reply: %.*s", path,
			    (int)(llen > 200 ? 200 : llen), line);
			break;
		}
		buf_append(out, line + 4, llen - 4);
		buf_puts(out, "\n");
		if (line[3] == ' ') {
			code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
			break;
		}
		memmove(line, nl + 1, len - llen - 1);
		len -= llen + 1;
	}
	close(fd);
	return code;
}
