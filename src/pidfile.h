/*
 * pidfile - the daemon's pid file (-p FILE or server.pid_file).
 *
 * The file is written whole under a temporary name in the same directory
 * and renamed into place, so a reader never sees it empty or half
 * written. It is removed at exit, only if it still holds our pid.
 */
#ifndef SMTPTRAP_PIDFILE_H
#define SMTPTRAP_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Write pid to path atomically; 0, or -1 with err set. */
int pidfile_write(const char *path, pid_t pid, char *err, size_t errlen);

/* Remove path if it holds pid; 0 when removed or already gone. */
int pidfile_remove(const char *path, pid_t pid);

#endif
