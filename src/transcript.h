/*
 * transcript - one file per session with every line in and out.
 *
 * With server.transcript_directory set, each session writes DIR/ID.log,
 * ID being the session id of the log lines. Each line of the file is
 *
 *     TIMESTAMP DIR TEXT
 *
 * TIMESTAMP as in the log (UTC, milliseconds), DIR "<" for a line the
 * client sent, ">" for a reply line the server sent, "*" for a log event
 * of the session (its log line without the "TIMESTAMP IDENT[PID]: "
 * prefix, whatever server.log_level says; the first is "connect", the
 * last "disconnect"). Client and server lines are shown without their
 * CRLF; control octets and backslashes are escaped (\r \n \t \\ \xHH) so
 * every line of the file is one line of the session. What the session
 * module writes besides (masked AUTH secrets, message summaries) is
 * described in session.c.
 *
 * DIAGNOSTICS: transcript_open() returns NULL with a reason in err; a
 * write that fails disables the transcript and is reported once, by
 * transcript_line() returning -1 with errno set. The session goes on.
 */
#ifndef SMTPTRAP_TRANSCRIPT_H
#define SMTPTRAP_TRANSCRIPT_H

#include <stddef.h>

#include "log.h"

struct transcript;

/*
 * Create ID.log in the directory dirfd (O_EXCL, mode 0640). NULL with
 * err set when it cannot be created (it exists, no space, permissions).
 */
struct transcript *transcript_open(int dirfd, const char *id, char *err, size_t errlen);

/*
 * Append one line. dir '<' and '>' escape the text as described above;
 * '*' takes text that is already printable (control octets become '?').
 * 0 on success or when the transcript is disabled; -1 (errno set) on the
 * write that failed and disabled it.
 */
int transcript_line(struct transcript *t, char dir, const char *text, size_t len);

/* Close and free; t may be NULL. */
void transcript_close(struct transcript *t);

#endif
