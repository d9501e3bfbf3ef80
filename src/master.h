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

struct control;
struct gen_opts;
struct generation;
struct store;

/*
 * What the master runs with; everything is opened before master_run().
 * The master owns them from then on: a reload replaces the generation,
 * the store and the control socket, and master_run() hands back the last
 * ones for the caller to close.
 */
struct master_args {
	struct generation *gen;       /* the running generation */
	const struct gen_opts *opts;  /* how to build the next one */
	struct store *store;          /* the master's store handle, or NULL */
	const char *store_error;      /* why greylisting has no store, or NULL */
	struct control *control;      /* the control socket, or NULL */
	int foreground;               /* -f: lines go to stderr (unless a log file) */
};

int master_run(struct master_args *a);

#endif
