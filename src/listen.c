/*
 * listen - bind the configured listening sockets; see listen.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backoff.h"
#include "config.h"
#include "listen.h"
#include "log.h"
#include "xmalloc.h"

#define LISTEN_BACKLOG 1024

int
listen_open(const struct listener_conf *lc, struct listener *out, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd, on = 1;
	const char *addr = lc->address[0] ? lc->address : "0.0.0.0";

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':') != NULL) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)lc->port);
		if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
			goto badaddr;
		sslen = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)lc->port);
		if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
			goto badaddr;
		sslen = sizeof(*sin);
	}

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket() failed for listener \"%s\": %s", lc->name, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss, sslen) != 0) {
		snprintf(err, errlen, "bind() to %s port %d failed for listener \"%s\": %s", addr,
		    lc->port, lc->name, strerror(errno));
		close(fd);
		return -1;
	}
	if (listen(fd, LISTEN_BACKLOG) != 0) {
		snprintf(err, errlen, "listen() failed for listener \"%s\": %s", lc->name, strerror(errno));
		close(fd);
		return -1;
	}
	sslen = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sslen);
	char host[INET6_ADDRSTRLEN];
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(out->addr, sizeof(out->addr), "[%s]:%d", host, ntohs(sin6->sin6_port));
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(out->addr, sizeof(out->addr), "%s:%d", host, ntohs(sin->sin_port));
	}
	out->fd = fd;
	out->name = xstrdup(lc->name);
	out->conf = lc;
	return 0;
badaddr:
	snprintf(err, errlen, "listener \"%s\": bad address '%s'", lc->name, addr);
	return -1;
}

void
listen_close(struct listener *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	free(l->name);
	l->name = NULL;
}

int
listen_accept_failed(struct backoff *pause, long long now, int err, const char *who,
    const char *addr, int quiet_other)
{
	const char *on = addr != NULL ? " on " : "";
	unsigned long quiet = 0;
	char note[64];

	if (addr == NULL)
		addr = "";
	if (!backoff_resource_errno(err)) {
		if (!quiet_other && err != EAGAIN && err != EWOULDBLOCK && err != EINTR)
			log_warnx("%saccept()%s%s failed: %s", who, on, addr, strerror(err));
		return 0;
	}
	if (backoff_fail(pause, now, &quiet))
		log_warnx("%saccept()%s%s failed: %s; pausing accepts for %d ms%s", who, on, addr,
		    strerror(err), BACKOFF_ACCEPT_MS, backoff_quiet_note(quiet, note, sizeof(note)));
	else
		log_debug("%saccept()%s%s failed again: %s", who, on, addr, strerror(err));
	return 1;
}
