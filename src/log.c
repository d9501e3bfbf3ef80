/*
 * log - one line per event, to stderr (foreground) or syslog.
 *
 * Lines are formatted into a fixed buffer and written with a single write(2)
 * so lines from concurrent workers never interleave on a shared stderr pipe.
 * Overlong lines are truncated with "..." rather than split.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 2048

static int log_to_stderr = 1;
static enum log_level log_threshold = LOGL_INFO;
static const char *log_ident = "smtptrapd";
static pid_t log_pid;

static const char *const level_names[] = {
	[LOGL_ERR] = "error",
	[LOGL_WARNING] = "warning",
	[LOGL_NOTICE] = "notice",
	[LOGL_INFO] = "info",
	[LOGL_DEBUG] = "debug",
};

static const int level_syslog[] = {
	[LOGL_ERR] = LOG_ERR,
	[LOGL_WARNING] = LOG_WARNING,
	[LOGL_NOTICE] = LOG_NOTICE,
	[LOGL_INFO] = LOG_INFO,
	[LOGL_DEBUG] = LOG_DEBUG,
};

void
log_init(int to_stderr, const char *ident)
{
	log_to_stderr = to_stderr;
	if (ident != NULL)
		log_ident = ident;
	log_pid = getpid();
	if (!to_stderr)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_after_fork(void)
{
	log_pid = getpid();
}

void
log_set_level(enum log_level level)
{
	log_threshold = level;
}

enum log_level
log_get_level(void)
{
	return log_threshold;
}

int
log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

static void
log_emit(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t len = 0;
	int n;

	if (level > log_threshold)
		return;

	if (log_to_stderr) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line + len, sizeof(line) - len, ".%03ldZ %s[%ld]: ",
		    ts.tv_nsec / 1000000, log_ident, (long)log_pid);
		len += (size_t)n;
		if (level <= LOGL_WARNING) {
			n = snprintf(line + len, sizeof(line) - len, "%s: ",
			    level_names[level]);
			len += (size_t)n;
		}
	}

	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	if (n < 0)
		n = 0;
	len += (size_t)n;
	if (len < sizeof(line) && errnum != 0) {
		n = snprintf(line + len, sizeof(line) - len, ": %s",
		    strerror(errnum));
		if (n > 0)
			len += (size_t)n;
	}
	if (len >= sizeof(line) - 1) {
		len = sizeof(line) - 2;
		memcpy(line + len - 3, "...", 3);
	}

	if (log_to_stderr) {
		line[len++] = '\n';
		ssize_t off = 0;
		while (off < (ssize_t)len) {
			ssize_t w = write(STDERR_FILENO, line + off, len - (size_t)off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			off += w;
		}
	} else {
		line[len] = '\0';
		syslog(level_syslog[level], "%s", line);
	}
}

#define LOG_FN(name, level, with_errno)                        \
	void name(const char *fmt, ...)                        \
	{                                                      \
		int saved = errno;                             \
		va_list ap;                                    \
		va_start(ap, fmt);                             \
		log_emit(level, with_errno ? saved : 0, fmt, ap); \
		va_end(ap);                                    \
		errno = saved;                                 \
	}

LOG_FN(log_debug, LOGL_DEBUG, 0)
LOG_FN(log_info, LOGL_INFO, 0)
LOG_FN(log_notice, LOGL_NOTICE, 0)
LOG_FN(log_warn, LOGL_WARNING, 1)
LOG_FN(log_warnx, LOGL_WARNING, 0)
LOG_FN(log_err, LOGL_ERR, 0)

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOGL_ERR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOGL_ERR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
