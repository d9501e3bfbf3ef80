/*
 * log - one line per event, to stderr (foreground), a log file or syslog.
 *
 * Every line carries the process id, so a test can tell which worker served
 * a session. fatal() and fatalx() are for setup failures and broken
 * invariants only: anything a client can trigger must become an SMTP reply.
 *
 * Where lines go: a log file once log_open_file() succeeded; else stderr
 * after log_init(1, ...), syslog(3) after log_init(0, ...). On stderr and
 * in a file each line is "TIMESTAMP IDENT[PID]: [LEVEL: ]TEXT", written
 * with one write(2), so lines of concurrent processes never interleave.
 *
 * Events of a session are written as key=value pairs built with log_kv_*
 * (see smtptrapd(8), LOGGING): values are bare when they hold no space,
 * quote, backslash or control character, else double-quoted with \" \\
 * \n \r \t and \xHH escapes, so every line splits back into its pairs.
 *
 * DIAGNOSTICS: log_open_file() and log_reopen() return -1 (errno set, and
 * for log_open_file() a message in err) and leave the current sink alone.
 */
#ifndef SMTPTRAP_LOG_H
#define SMTPTRAP_LOG_H

#include <stdarg.h>
#include <stddef.h>

#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

enum log_level {
	LOGL_ERR = 0,
	LOGL_WARNING,
	LOGL_NOTICE,
	LOGL_INFO,
	LOGL_DEBUG,
};

/* Send lines to stderr when to_stderr is set, else to syslog(3). */
void log_init(int to_stderr, const char *ident);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error", "warning", "notice", "info" or "debug"; 0 on success. */
int log_level_parse(const char *name, enum log_level *out);
/* Re-read getpid() for the line prefix; call in a child after fork(). */
void log_after_fork(void);

/*
 * The syslog facility, by its index in server.log_facility's list: mail,
 * daemon, user, local0 ... local7 (an unknown index means mail). Takes
 * effect at once if syslog is open, else at the next log_init(0, ...).
 */
void log_set_facility(int index);
/* The syslog facility value (LOG_MAIL, ...) in use. */
int log_get_facility(void);

/*
 * From now on append every line to path (created with mode 0640 if
 * missing), in the stderr format, instead of stderr or syslog. A relative
 * path is made absolute first, so log_reopen() finds the same file after
 * a chdir(). 0 on success; -1 with errno and err set.
 */
int log_open_file(const char *path, char *err, size_t errlen);
/*
 * Open the log file's path again (after a rotation moved the file away)
 * and use the new file from now on, under the same descriptor number.
 * 0 on success or when no log file is in use; -1 with errno set when the
 * file cannot be opened: the old file stays in use.
 */
int log_reopen(void);
/* The log file's descriptor, or -1 when lines go to stderr or syslog. */
int log_file_fd(void);

/*
 * "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC, the wall clock) into out, which needs
 * LOG_TIMESTAMP_LEN + 1 octets; returns the length.
 */
#define LOG_TIMESTAMP_LEN 24
size_t log_timestamp(char *out, size_t outlen);

void log_debug(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_info(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_notice(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* log_warn appends strerror(errno); log_warnx does not. */
void log_warn(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_warnx(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_err(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* A line at the given level (no errno text). */
void log_msg(enum log_level level, const char *fmt, ...) PRINTF_LIKE(2, 3);
_Noreturn void fatal(const char *fmt, ...) PRINTF_LIKE(1, 2);
_Noreturn void fatalx(const char *fmt, ...) PRINTF_LIKE(1, 2);

#define log_enabled(lvl) (log_get_level() >= (lvl))

/*
 * key=value text for one event line. Appending never fails: a pair that
 * does not fit is left out, a value longer than LOG_KV_VALUE_MAX octets
 * is cut and ends in "..." (inside its quotes).
 */
#define LOG_KV_MAX 1800
#define LOG_KV_VALUE_MAX 600

struct log_kv {
	char text[LOG_KV_MAX]; /* "k=v k=v", NUL-terminated */
	size_t len;
};

void log_kv_init(struct log_kv *kv);
/* Append key=value; value NULL is written as "-". */
void log_kv_str(struct log_kv *kv, const char *key, const char *value);
/* The same for len octets that may hold anything, NUL included. */
void log_kv_mem(struct log_kv *kv, const char *key, const char *value, size_t len);
/* Append key=value with the value formatted first, then quoted as needed. */
void log_kv_add(struct log_kv *kv, const char *key, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Append the pairs of more (already quoted). */
void log_kv_cat(struct log_kv *kv, const struct log_kv *more);

/*
 * Write value into out as a log value: bare or quoted and escaped, as
 * above, cut to fit outlen (which must be at least 8). Returns the length.
 */
size_t log_quote(char *out, size_t outlen, const char *value, size_t len);

#endif
