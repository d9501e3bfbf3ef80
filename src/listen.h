/*
 * listen - bind the configured listening sockets, and deal with accept()
 * failing on them (and on the control socket) for lack of resources.
 *
 * Sockets are non-blocking (the master and every worker wait on them with
 * epoll/ppoll and accept only when a connection is there), close-on-exec,
 * SO_REUSEADDR, and IPv6 sockets are IPv6-only. Port 0 picks a free port;
 * the chosen port is read back so it can be logged.
 */
#ifndef SMTPTRAP_LISTEN_H
#define SMTPTRAP_LISTEN_H

#include <stddef.h>

struct listener_conf;

struct listener {
	char *name;
	const struct listener_conf *conf;
	int fd;
	char addr[64];   /* "127.0.0.1:2525" or "[::1]:2525" */
};

/* Bind one listener; -1 with err set on failure. */
int listen_open(const struct listener_conf *lc, struct listener *out, char *err, size_t errlen);
void listen_close(struct listener *l);

struct backoff;

/*
 * accept() failed with err at now. A lack of resources (EMFILE and the
 * like) pauses accepting through pause (backoff.h) and is logged, the
 * first time and then at most every 10 seconds with the count left out,
 * as "WHOaccept() on ADDR failed: REASON; pausing accepts for 100 ms"
 * (who: a prefix such as "worker: "; addr may be NULL); every further
 * one is a debug line. Other errors are logged as a warning unless
 * quiet_other says they are the usual race (EAGAIN: another process
 * took the connection). Returns 1 for a lack of resources, else 0.
 */
int listen_accept_failed(struct backoff *pause, long long now, int err, const char *who,
    const char *addr, int quiet_other);

#endif
