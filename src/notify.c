/*
 * notify - tell the service manager (systemd) what the daemon is doing;
 * see notify.h.
 *
 * Each function sends one datagram of the sd_notify(3) protocol to
 * $NOTIFY_SOCKET: an AF_UNIX path, or an abstract name written with a
 * leading '@'. The protocol is stable and documented for implementations
 * without libsystemd, and this one spares the daemon that library and the
 * seven others it loads (compression, gcrypt, libcap), most of a megabyte
 * of every process's resident memory. Built --without-systemd
 * (ENABLE_SD_NOTIFY unset), each function does nothing. When
 * NOTIFY_SOCKET is not set, which is the case unless a manager started the
 * daemon with Type=notify, every function returns after one getenv() and
 * formats nothing.
 *
 * The environment is left as it is: the master sends again at every
 * reload and stop.
 *
 * DIAGNOSTICS: a message that cannot be sent (the socket went away, or
 * the daemon lost the right to write to it after dropping privileges) is
 * logged once as a warning and otherwise ignored: the daemon works without
 * its manager knowing, the manager then times out on its own.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"

/* Longest STATUS= text sent; a longer one is cut. */
#define NOTIFY_STATUS_MAX 512

#ifdef ENABLE_SD_NOTIFY

static int
notify_wanted(void)
{
	const char *s = getenv("NOTIFY_SOCKET");

	return s != NULL && *s != '\0';
}

/* One datagram to $NOTIFY_SOCKET: 0, or -errno. */
static int
sd_send(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t len;
	int fd, rc = 0;

	if (path == NULL || path[0] == '\0')
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
		return -EINVAL;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* an abstract socket name */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	    (path[0] == '@' ? 0 : 1));
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Like sd_notifyf(3), through sd_send(). */
static int
sd_sendf(const char *fmt, ...) PRINTF_LIKE(1, 2);

static int
sd_sendf(const char *fmt, ...)
{
	char buf[NOTIFY_STATUS_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return sd_send(buf);
}

/* Log the first failure only: a manager that went away stays away. */
static void
notify_result(int r, const char *what)
{
	static int warned;

	if (r < 0 && !warned) {
		warned = 1;
		log_warnx("sd_notify(%s) failed: %s (further failures are not logged)",
		    what, strerror(-r));
	}
}

/*
 * STATUS= is one line of the datagram: a newline (or any other control
 * character) in the text would start a new, bogus, assignment.
 */
static void
notify_clean(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

void
notify_ready(const char *status)
{
	char buf[NOTIFY_STATUS_MAX];

	if (!notify_wanted())
		return;
	if (status == NULL) {
		notify_result(sd_send("READY=1"), "READY=1");
		return;
	}
	snprintf(buf, sizeof(buf), "%s", status);
	notify_clean(buf);
	notify_result(sd_sendf("READY=1\nSTATUS=%s", buf), "READY=1");
}

void
notify_reloading(void)
{
	struct timespec ts;

	if (!notify_wanted())
		return;
	/* systemd 253+ wants the reload's start on CLOCK_MONOTONIC in µs. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	unsigned long long usec = (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL;
	notify_result(sd_sendf("RELOADING=1\nMONOTONIC_USEC=%llu", usec), "RELOADING=1");
}

void
notify_stopping(void)
{
	if (!notify_wanted())
		return;
	notify_result(sd_send("STOPPING=1"), "STOPPING=1");
}

void
notify_status(const char *fmt, ...)
{
	char buf[NOTIFY_STATUS_MAX];
	va_list ap;

	if (!notify_wanted())
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	notify_clean(buf);
	notify_result(sd_sendf("STATUS=%s", buf), "STATUS");
}

#else /* !ENABLE_SD_NOTIFY */

void
notify_ready(const char *status)
{
	(void)status;
}

void
notify_reloading(void)
{
}

void
notify_stopping(void)
{
}

void
notify_status(const char *fmt, ...)
{
	(void)fmt;
}

#endif
