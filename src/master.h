/*
 * master - the prefork master: keeps the worker pool sized, reaps and
 * replaces workers, refuses connections with 421 when every worker is busy
 * and the pool is full, and stops gracefully on SIGTERM/SIGINT.
 *
 * The master never speaks SMTP beyond that one 421 line. It also serves
 * the control socket and keeps the greylist store tidy: every
 * store.purge_interval (and at once when the control socket moves the
 * clock) it removes expired records and releases reader
 * slots of dead workers, and every few seconds (and at exit) it flushes
 * the store to disk. It returns when every worker has exited after a
 * stop request.
 */
#ifndef SMTPTRAP_MASTER_H
#define SMTPTRAP_MASTER_H

#include <stddef.h>

struct authdb;
struct config;
struct control;
struct listener;
struct store;
struct tls_server;

/* What the master runs with; everything is opened before master_run(). */
struct master_args {
	const struct config *cfg;
	struct listener *listeners;
	size_t nlisteners;
	struct tls_server *tls;
	const struct authdb *authdb;
	struct store *store;          /* the master's store handle, or NULL */
	const char *store_path;       /* what workers open; NULL = no store */
	const char *store_error;      /* why greylisting has no store, or NULL */
	struct control *control;      /* the control socket, or NULL */
};

int master_run(const struct master_args *a);

#endif
