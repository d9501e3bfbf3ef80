/*
 * control - the master's control socket: a Unix-domain stream socket on
 * which tools (smtptrap, socat, a test) ask for the daemon's status, move
 * its clock, inspect and change the greylist, and reload the
 * configuration (like SIGHUP, but the reply says how it went).
 *
 * Protocol (documented in smtptrapd(8)): the client sends one command per
 * line (LF or CRLF, at most CONTROL_LINE_MAX octets); the master answers
 * each with one or more lines "CODE-text" followed by a last line
 * "CODE text", like SMTP. 200 means done; 4xx and 5xx say why not. A
 * client may send several commands on one connection; "quit" ends it.
 *
 * The master serves every client with non-blocking I/O inside its own
 * poll loop, so slow or silent clients never hold up reaping, pool
 * management or signals: a client idle for control.timeout is dropped,
 * and at most control.max_clients are served at once (more are told so
 * and closed).
 *
 * DIAGNOSTICS: control_open() fails (NULL, reason in err) when the path
 * is taken by a running daemon or by something that is not a socket, or
 * when it cannot be bound; a stale socket left by a dead daemon is
 * replaced. Errors on one client end that client only.
 */
#ifndef SMTPTRAP_CONTROL_H
#define SMTPTRAP_CONTROL_H

#include <poll.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"

#define CONTROL_LINE_MAX 1024

struct config;
struct scoreboard;
struct store;
struct control;

/* What the commands see and change; owned by the master. */
struct control_ctx {
	const struct config *cfg;
	struct scoreboard *sb;
	struct store *store;         /* NULL: no greylisting, or the store failed */
	const char *store_error;     /* why the store is not open, or NULL */
	time_t started;              /* wall clock at start */
	unsigned generation;         /* the running generation */
	/* Reload the configuration, appending the reply; NULL: not possible. */
	int (*reload)(void *arg, struct buf *out);
	void *reload_arg;
};

/* Bind and listen on cfg->control_socket. NULL with a reason in err. */
struct control *control_open(const struct config *cfg, char *err, size_t errlen);

/* The socket's absolute path. */
const char *control_path(const struct control *c);

/* Close every client and the socket; unlink the path (the master only). */
void control_close(struct control *c, int unlink_path);

/* Poll entries for the socket and its clients; returns how many were written (<= max). */
int control_pollfds(const struct control *c, struct pollfd *pfd, int max);

/* Most entries control_pollfds() can write. */
int control_maxfds(const struct control *c);

/* Serve what poll reported for the entries control_pollfds() wrote, and drop idle clients. */
void control_service(struct control *c, const struct pollfd *pfd, int n, struct control_ctx *ctx);

/* Milliseconds until the next client times out, or -1 if none is connected. */
int control_next_timeout(const struct control *c);

/*
 * Run one command line (without its line ending) and append the reply
 * lines to out. Returns 1 when the client asked to quit, else 0.
 */
int control_command(struct control_ctx *ctx, char *line, struct buf *out);

#endif
