/*
 * cli_control - the smtptrap command's side of the daemon's control
 * socket (see control.h for the protocol): send one command line, read
 * the reply lines up to the last "CODE text" line.
 *
 * DIAGNOSTICS: -1 with "control socket PATH: reason" in err when the
 * socket is missing, refuses the connection, closes it early, answers
 * something that is not a reply, or says nothing within the timeout.
 */
#ifndef SMTPTRAP_CLI_CONTROL_H
#define SMTPTRAP_CLI_CONTROL_H

#include <stddef.h>

#include "buf.h"

/*
 * Send command (one line, no line ending) to the socket at path. The
 * reply's text lines (without "CODE-" / "CODE ") go to out, each ending
 * in "\n". Returns the reply's code, or -1 with err.
 */
int cli_control(const char *path, const char *command, int timeout_ms, struct buf *out,
    char *err, size_t errlen);

#endif
