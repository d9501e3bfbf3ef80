/*
 * notify - tell the service manager (systemd) what the daemon is doing.
 *
 * Unless built --without-systemd, these send sd_notify(3) messages when
 * the daemon runs under a manager that set NOTIFY_SOCKET; otherwise they
 * do nothing.
 */
#ifndef SMTPTRAP_NOTIFY_H
#define SMTPTRAP_NOTIFY_H

#include "log.h"

/* READY=1 with a STATUS= line: the listeners are bound, workers start. */
void notify_ready(const char *status);
/* RELOADING=1 (with MONOTONIC_USEC=): a reload has begun. */
void notify_reloading(void);
/* STOPPING=1: a graceful stop has begun. */
void notify_stopping(void);
/* STATUS=...: one line for "systemctl status" (worker counts). */
void notify_status(const char *fmt, ...) PRINTF_LIKE(1, 2);

#endif
