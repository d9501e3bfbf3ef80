/*
 * worker - a pre-forked worker: accept a connection on any listener, run
 * one SMTP session, repeat.
 *
 * A worker exits after max_sessions_per_worker sessions, when the master
 * asks (SIGUSR2: when idle; SIGTERM: stop, finishing the current session
 * within the shutdown timeout), when a reload made its generation old
 * (it finishes the current session first), or when the master dies
 * (PR_SET_PDEATHSIG).
 * It tells the master through the wake pipe when the pool may need to grow
 * or shrink.
 */
#ifndef SMTPTRAP_WORKER_H
#define SMTPTRAP_WORKER_H

#include <stddef.h>
#include <sys/types.h>

struct authdb;
struct config;
struct tls_server;
struct ratelimit;
struct listener;
struct scoreboard;

struct worker_ctx {
	const struct config *cfg;
	const struct listener *listeners;
	size_t nlisteners;
	struct tls_server *tls;       /* NULL when no listener uses TLS */
	const struct authdb *authdb;
	struct ratelimit *rl;         /* per-client rates, or NULL */
	int maildir_fd;               /* the capture directory, or -1 */
	int state_fd;                 /* the state directory with the store to open, or -1 */
	int transcript_dirfd;         /* where session transcripts go, or -1 */
	struct scoreboard *sb;
	int slot;
	unsigned generation;          /* the configuration generation it serves */
	int wake_fd;      /* write end of the master's wake pipe */
	pid_t master;
};

_Noreturn void worker_main(const struct worker_ctx *w);

#endif
