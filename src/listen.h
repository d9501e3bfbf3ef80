/*
 * listen - bind the configured listening sockets.
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

#endif
