/*
 * offload - run a blocking call on a helper thread while the worker's
 * other sessions go on.
 *
 * A worker serves many sessions on one thread; a call that blocks for a
 * long time (fsync of a message and its directory) would stop all of
 * them, and calls made one after another could not share the disk's
 * journal commits. offload_call() hands the call to one of a few helper
 * threads and parks the calling session until it is done; several
 * sessions' fsyncs then run at once, as they would in separate processes.
 *
 * The function run must touch only what its caller owns (its own
 * delivery transaction) and must not log. The threads start on first use
 * with every signal blocked. Outside a scheduler task, or when no thread
 * can be started, the call runs inline.
 */
#ifndef SMTPTRAP_OFFLOAD_H
#define SMTPTRAP_OFFLOAD_H

struct sched;

/* Up to nthreads helpers for tasks of s; 0, or -1 with errno set. */
int offload_init(struct sched *s, int nthreads);
/* Run fn(arg) on a helper thread; returns when it has returned. */
void offload_call(void (*fn)(void *), void *arg);

#endif
