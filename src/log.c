/*
 * log - one line per event, to stderr (foreground), a log file or syslog;
 * see log.h.
 *
 * Lines are formatted into a fixed buffer and written with a single write(2)
 * so lines from concurrent workers never interleave on a shared stderr pipe
 * or log file (opened O_APPEND). Overlong lines are truncated with "..."
 * rather than split.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
static int log_facility = LOG_MAIL;
static int syslog_open;
static int file_fd = -1;
static char *file_path;      /* absolute; malloc'ed */

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

/* In the order of server.log_facility's names (config.c). */
static const int facilities[] = {
	LOG_MAIL, LOG_DAEMON, LOG_USER, LOG_LOCAL0, LOG_LOCAL1, LOG_LOCAL2, LOG_LOCAL3,
	LOG_LOCAL4, LOG_LOCAL5, LOG_LOCAL6, LOG_LOCAL7,
};

void
log_init(int to_stderr, const char *ident)
{
	log_to_stderr = to_stderr;
	if (ident != NULL)
		log_ident = ident;
	log_pid = getpid();
	if (!to_stderr) {
		openlog(log_ident, LOG_PID | LOG_NDELAY, log_facility);
		syslog_open = 1;
	} else if (syslog_open) {
		closelog();
		syslog_open = 0;
	}
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

void
log_set_facility(int index)
{
	int f = LOG_MAIL;

	if (index >= 0 && (size_t)index < sizeof(facilities) / sizeof(facilities[0]))
		f = facilities[index];
	log_facility = f;
	if (syslog_open) {
		/* openlog() again is the only way to change the default facility. */
		closelog();
		openlog(log_ident, LOG_PID | LOG_NDELAY, log_facility);
	}
}

int
log_get_facility(void)
{
	return log_facility;
}

static int
open_log(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
}

int
log_open_file(const char *path, char *err, size_t errlen)
{
	char *abs;
	int fd;

	if (path == NULL || path[0] == '\0') {
		errno = EINVAL;
		snprintf(err, errlen, "log file: empty path");
		return -1;
	}
	if (path[0] == '/') {
		abs = strdup(path);
	} else {
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			int e = errno;
			snprintf(err, errlen, "log file %s: getcwd: %s", path, strerror(e));
			errno = e;
			return -1;
		}
		size_t n = strlen(cwd) + 1 + strlen(path) + 1;
		abs = malloc(n);
		if (abs != NULL)
			snprintf(abs, n, "%s/%s", cwd, path);
	}
	if (abs == NULL) {
		snprintf(err, errlen, "log file %s: out of memory", path);
		errno = ENOMEM;
		return -1;
	}
	fd = open_log(abs);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "log file %s: %s", abs, strerror(e));
		free(abs);
		errno = e;
		return -1;
	}
	if (file_fd >= 0)
		close(file_fd);
	free(file_path);
	file_fd = fd;
	file_path = abs;
	return 0;
}

int
log_reopen(void)
{
	int fd;

	if (file_fd < 0)
		return 0;
	fd = open_log(file_path);
	if (fd < 0)
		return -1;
	/* Keep the descriptor number: whoever was told log_file_fd() stays right. */
	if (dup3(fd, file_fd, O_CLOEXEC) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

int
log_file_fd(void)
{
	return file_fd;
}

size_t
log_timestamp(char *out, size_t outlen)
{
	struct timespec ts;
	struct tm tm;
	size_t len;

	if (outlen < LOG_TIMESTAMP_LEN + 1) {
		if (outlen > 0)
			out[0] = '\0';
		return 0;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	len = strftime(out, outlen, "%Y-%m-%dT%H:%M:%S", &tm);
	int n = snprintf(out + len, outlen - len, ".%03ldZ", ts.tv_nsec / 1000000);
	return n > 0 ? len + (size_t)n : len;
}

static void
write_all(int fd, const char *data, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

static void
log_emit(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t len = 0;
	int to_fd = file_fd >= 0 || log_to_stderr;
	int n;

	if (level > log_threshold)
		return;

	if (to_fd) {
		len = log_timestamp(line, sizeof(line));
		n = snprintf(line + len, sizeof(line) - len, " %s[%ld]: ", log_ident, (long)log_pid);
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

	if (to_fd) {
		line[len++] = '\n';
		write_all(file_fd >= 0 ? file_fd : STDERR_FILENO, line, len);
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
log_msg(enum log_level level, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(level, 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

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

/* --- key=value event text --- */

static int
bare_ok(unsigned char c)
{
	return c > ' ' && c != 0x7f && c != '"' && c != '\\';
}

size_t
log_quote(char *out, size_t outlen, const char *value, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t k = 0;
	int bare = len > 0 && len < outlen;
	int cut = 0;

	for (size_t i = 0; bare && i < len; i++)
		if (!bare_ok((unsigned char)value[i]))
			bare = 0;
	if (bare) {
		memcpy(out, value, len);
		out[len] = '\0';
		return len;
	}
	if (outlen < 8) {
		if (outlen > 0)
			out[0] = '\0';
		return 0;
	}
	out[k++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];
		char esc[4];
		size_t n = 0;

		if (c == '"' || c == '\\') {
			esc[n++] = '\\';
			esc[n++] = (char)c;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			esc[n++] = '\\';
			esc[n++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if (c < ' ' || c == 0x7f) {
			esc[n++] = '\\';
			esc[n++] = 'x';
			esc[n++] = hex[c >> 4];
			esc[n++] = hex[c & 15];
		} else {
			esc[n++] = (char)c;
		}
		/* Room for this, then "...", the closing quote and the NUL. */
		if (k + n + 5 > outlen) {
			cut = 1;
			break;
		}
		memcpy(out + k, esc, n);
		k += n;
	}
	if (cut) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k++] = '"';
	out[k] = '\0';
	return k;
}

void
log_kv_init(struct log_kv *kv)
{
	kv->len = 0;
	kv->text[0] = '\0';
}

void
log_kv_mem(struct log_kv *kv, const char *key, const char *value, size_t len)
{
	size_t klen = strlen(key);
	/* " key=" and at least an 8-octet value must fit, with the NUL. */
	size_t need = (kv->len > 0 ? 1 : 0) + klen + 1;

	if (value == NULL) {
		value = "-";
		len = 1;
	}
	if (kv->len + need + 8 + 1 > sizeof(kv->text))
		return;
	if (kv->len > 0)
		kv->text[kv->len++] = ' ';
	memcpy(kv->text + kv->len, key, klen);
	kv->len += klen;
	kv->text[kv->len++] = '=';
	size_t room = sizeof(kv->text) - kv->len;
	if (room > LOG_KV_VALUE_MAX + 1)
		room = LOG_KV_VALUE_MAX + 1;
	kv->len += log_quote(kv->text + kv->len, room, value, len);
	kv->text[kv->len] = '\0';
}

void
log_kv_str(struct log_kv *kv, const char *key, const char *value)
{
	log_kv_mem(kv, key, value, value ? strlen(value) : 0);
}

void
log_kv_add(struct log_kv *kv, const char *key, const char *fmt, ...)
{
	char value[LOG_KV_VALUE_MAX + 1];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	/* Cut by vsnprintf: make log_quote() mark it with "...". */
	if ((size_t)n >= sizeof(value))
		log_kv_mem(kv, key, value, sizeof(value));
	else
		log_kv_mem(kv, key, value, (size_t)n);
}

void
log_kv_cat(struct log_kv *kv, const struct log_kv *more)
{
	size_t sep = kv->len > 0 ? 1 : 0;

	if (more == NULL || more->len == 0 || kv->len + sep + more->len + 1 > sizeof(kv->text))
		return;
	if (sep)
		kv->text[kv->len++] = ' ';
	memcpy(kv->text + kv->len, more->text, more->len + 1);
	kv->len += more->len;
}
