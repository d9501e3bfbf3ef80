/*
 * log - one line per event, to stderr (foreground) or syslog.
 *
 * Every line carries the process id, so a test can tell which worker served
 * a session. fatal() and fatalx() are for setup failures and broken
 * invariants only: anything a client can trigger must become an SMTP reply.
 */
#ifndef SMTPTRAP_LOG_H
#define SMTPTRAP_LOG_H

#include <stdarg.h>

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

void log_debug(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_info(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_notice(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* log_warn appends strerror(errno); log_warnx does not. */
void log_warn(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_warnx(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_err(const char *fmt, ...) PRINTF_LIKE(1, 2);
_Noreturn void fatal(const char *fmt, ...) PRINTF_LIKE(1, 2);
_Noreturn void fatalx(const char *fmt, ...) PRINTF_LIKE(1, 2);

#define log_enabled(lvl) (log_get_level() >= (lvl))

#endif
