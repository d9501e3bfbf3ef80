/*
 * notify - tell the service manager (systemd) what the daemon is doing;
 * see notify.h.
 *
 * This file is the only place that knows about libsystemd. Built with it
 * (configure --with-systemd, HAVE_LIBSYSTEMD), each function sends one
 * sd_notify(3) datagram to $NOTIFY_SOCKET; built without it, each
 * function does nothing. When NOTIFY_SOCKET is not set, which is the case
 * unless a manager started the daemon with Type=notify, every function
 * returns after one getenv() and formats nothing.
 *
 * The environment is left as it is (sd_notify's unset_environment is 0):
 * the master sends again at every reload and stop.
 *
 * DIAGNOSTICS: a message that cannot be sent (the socket went away, or
 * the daemon lost the right to write to it after dropping privileges) is
 * logged once as a warning and otherwise ignored: the daemon works without
 * its manager knowing, the manager then times out on its own.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "notify.h"

/* Longest STATUS= text sent; a longer one is cut. */
#define NOTIFY_STATUS_MAX 512

#ifdef HAVE_LIBSYSTEMD

static int
notify_wanted(void)
{
	const char *s = getenv("NOTIFY_SOCKET");

	return s != NULL && *s != '\0';
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
		notify_result(sd_notify(0, "READY=1"), "READY=1");
		return;
	}
	snprintf(buf, sizeof(buf), "%s", status);
	notify_clean(buf);
	notify_result(sd_notifyf(0, "READY=1\nSTATUS=%s", buf), "READY=1");
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
	notify_result(sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", usec), "RELOADING=1");
}

void
notify_stopping(void)
{
	if (!notify_wanted())
		return;
	notify_result(sd_notify(0, "STOPPING=1"), "STOPPING=1");
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
	notify_result(sd_notifyf(0, "STATUS=%s", buf), "STATUS");
}

#else /* !HAVE_LIBSYSTEMD */

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
