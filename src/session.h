/*
 * session - one SMTP session (RFC 5321) from greeting to close.
 *
 * The worker hands over an accepted socket; session_run() speaks SMTP on it
 * until QUIT, a timeout, a fatal client error or a stop request past its
 * deadline, and returns. Client mistakes become SMTP replies; nothing a
 * client sends can end the worker process.
 */
#ifndef SMTPTRAP_SESSION_H
#define SMTPTRAP_SESSION_H

#include <signal.h>
#include <sys/socket.h>

struct authdb;
struct config;
struct deliver;
struct listener_conf;
struct tls_server;
struct scoreboard;
struct ratelimit;
struct store;

struct session_env {
	const struct config *cfg;
	struct deliver *dlv;
	struct tls_server *tls;        /* NULL when no listener uses TLS */
	const struct authdb *authdb;   /* users who may AUTH */
	const char *listener;          /* listener name, for logs */
	const struct listener_conf *lconf; /* its TLS and AUTH settings */
	const sigset_t *waitmask;      /* signals that may interrupt waits */
	volatile sig_atomic_t *stop;   /* set when the worker must stop */
	struct scoreboard *sb;         /* for concurrency limits; may be NULL */
	int slot;                      /* this worker's scoreboard slot */
	int sub;                       /* this session's place in it (< SB_SESSIONS_MAX) */
	struct ratelimit *rl;          /* per-client rates; may be NULL */
	struct store *store;           /* the greylist store; NULL when unused or broken */
	int transcript_dirfd;          /* server.transcript_directory, or -1 */
};

struct session_result {
	unsigned long messages;        /* messages committed */
	unsigned long commands;
};

void session_run(const struct session_env *env, int fd, const char *id,
    const struct sockaddr *peer, const struct sockaddr *local,
    struct session_result *result);

#endif
