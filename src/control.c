/*
 * control - the control socket's connections: accepting, reading lines,
 * writing replies, timeouts; see control.h. What each command does is in
 * control_cmd.c.
 *
 * Each client has an input buffer of one line and an output buffer that
 * holds the replies not yet written. Replies are written when poll says
 * the socket can take them; a client that stops reading is dropped when
 * its timeout passes, like one that stops writing.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "backoff.h"
#include "config.h"
#include "control.h"
#include "listen.h"
#include "log.h"
#include "monotime.h"
#include "xmalloc.h"

struct ctl_client {
	int fd;
	char in[CONTROL_LINE_MAX + 2];
	size_t inlen;
	struct buf out;
	size_t outoff;
	long long deadline;   /* monotonic ms */
	int eof;              /* no more input: close when the output is written */
	int closing;          /* "quit" or an error: likewise */
};

struct control {
	int fd;
	char *path;
	int timeout_ms;
	int max_clients;
	struct ctl_client *clients;
	int nclients;
	struct backoff accept_pause; /* after accept() hit a resource limit */
};

/* Is something answering on path? Then another daemon owns it. */
static int
socket_alive(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int alive;

	if (fd < 0)
		return 0;
	alive = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return alive;
}

struct control *
control_open(const struct config *cfg, char *err, size_t errlen)
{
	const char *path = cfg->control_socket;
	struct sockaddr_un sun;
	struct stat st;
	struct control *c;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket %s: path too long", path);
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "control socket %s: exists and is not a socket", path);
			return NULL;
		}
		if (socket_alive(&sun)) {
			snprintf(err, errlen, "control socket %s: another daemon is answering on it", path);
			return NULL;
		}
		if (unlink(path) != 0) {
			snprintf(err, errlen, "control socket %s: cannot remove the stale socket: %s", path,
			    strerror(errno));
			return NULL;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "control socket %s: socket() failed: %s", path, strerror(errno));
		return NULL;
	}
	/* Created with no permissions, then opened up to the configured mode. */
	mode_t old = umask(0777);
	int rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc != 0 || chmod(path, (mode_t)cfg->control_mode) != 0 || listen(fd, 16) != 0) {
		snprintf(err, errlen, "control socket %s: %s failed: %s", path,
		    rc != 0 ? "bind()" : "chmod() or listen()", strerror(errno));
		if (rc == 0)
			unlink(path);
		close(fd);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	backoff_init(&c->accept_pause, BACKOFF_ACCEPT_MS, BACKOFF_ACCEPT_MS);
	c->fd = fd;
	/* Absolute, so the socket can be removed after a chdir("/"). */
	char cwd[PATH_MAX];
	if (path[0] != '/' && getcwd(cwd, sizeof(cwd)) != NULL) {
		size_t n = strlen(cwd) + strlen(path) + 2;
		c->path = xmalloc(n);
		snprintf(c->path, n, "%s/%s", cwd, path);
	} else {
		c->path = xstrdup(path);
	}
	c->timeout_ms = cfg->control_timeout_ms;
	c->max_clients = cfg->control_max_clients;
	c->clients = xcalloc((size_t)c->max_clients, sizeof(*c->clients));
	return c;
}

const char *
control_path(const struct control *c)
{
	return c->path;
}

static void
drop_client(struct control *c, int i)
{
	close(c->clients[i].fd);
	buf_free(&c->clients[i].out);
	c->clients[i] = c->clients[--c->nclients];
}

void
control_close(struct control *c, int unlink_path)
{
	if (c == NULL)
		return;
	while (c->nclients > 0)
		drop_client(c, c->nclients - 1);
	close(c->fd);
	if (unlink_path)
		unlink(c->path);
	free(c->clients);
	free(c->path);
	free(c);
}

int
control_maxfds(const struct control *c)
{
	return 1 + c->max_clients;
}

int
control_pollfds(const struct control *c, struct pollfd *pfd, int max)
{
	int n = 0;

	if (max < 1)
		return 0;
	pfd[n].fd = c->fd;
	/* Paused after EMFILE: the socket stays readable, do not spin on it. */
	pfd[n].events = backoff_ready(&c->accept_pause, monotime_ms()) ? POLLIN : 0;
	pfd[n].revents = 0;
	n++;
	for (int i = 0; i < c->nclients && n < max; i++, n++) {
		const struct ctl_client *cl = &c->clients[i];
		pfd[n].fd = cl->fd;
		pfd[n].events = (cl->eof || cl->closing ? 0 : POLLIN) |
		    (cl->out.len > cl->outoff ? POLLOUT : 0);
		pfd[n].revents = 0;
	}
	return n;
}

int
control_next_timeout(const struct control *c)
{
	long long now = monotime_ms(), next = -1;

	if (!backoff_ready(&c->accept_pause, now))
		next = backoff_wait_ms(&c->accept_pause, now, 86400000);
	for (int i = 0; i < c->nclients; i++) {
		long long d = c->clients[i].deadline - now;
		if (d < 0)
			d = 0;
		if (next < 0 || d < next)
			next = d;
	}
	return next > 86400000 ? 86400000 : (int)next;
}

static void
accept_clients(struct control *c)
{
	for (;;) {
		int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			listen_accept_failed(&c->accept_pause, monotime_ms(), errno, "control socket: ",
			    NULL, 0);
			return;
		}
		backoff_ok(&c->accept_pause);
		if (c->nclients >= c->max_clients) {
			static const char busy[] = "421 too many control clients, try again later\n";
			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				log_debug("control socket: refusal not sent: %s", strerror(errno));
			close(fd);
			log_warnx("control socket: refused a client: %d clients already connected",
			    c->nclients);
			continue;
		}
		struct ctl_client *cl = &c->clients[c->nclients++];
		memset(cl, 0, sizeof(*cl));
		cl->fd = fd;
		buf_init(&cl->out);
		cl->deadline = monotime_ms() + c->timeout_ms;
	}
}

/* Run the complete lines in the input buffer. */
static void
run_lines(struct ctl_client *cl, struct control_ctx *ctx)
{
	char *nl;

	while (!cl->closing && (nl = memchr(cl->in, '\n', cl->inlen)) != NULL) {
		size_t len = (size_t)(nl - cl->in);
		char line[CONTROL_LINE_MAX + 2];

		memcpy(line, cl->in, len);
		if (len > 0 && line[len - 1] == '\r')
			len--;
		line[len] = '\0';
		memmove(cl->in, nl + 1, cl->inlen - ((size_t)(nl - cl->in) + 1));
		cl->inlen -= (size_t)(nl - cl->in) + 1;
		if (memchr(line, '\0', len) != NULL) {
			buf_puts(&cl->out, "501 NUL octet in the command\n");
			continue;
		}
		if (control_command(ctx, line, &cl->out))
			cl->closing = 1;
	}
	if (!cl->closing && cl->inlen > CONTROL_LINE_MAX) {
		buf_printf(&cl->out, "500 line too long (at most %d octets)\n", CONTROL_LINE_MAX);
		cl->closing = 1;
	}
}

/* 0 to keep the client, -1 to drop it. */
static int
client_read(struct ctl_client *cl, struct control_ctx *ctx)
{
	ssize_t n = read(cl->fd, cl->in + cl->inlen, sizeof(cl->in) - cl->inlen);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0) {
		/* A last command without a line ending still counts. */
		if (cl->inlen > 0 && cl->inlen < sizeof(cl->in) - 1) {
			cl->in[cl->inlen++] = '\n';
			run_lines(cl, ctx);
		}
		cl->eof = 1;
		return 0;
	}
	cl->inlen += (size_t)n;
	run_lines(cl, ctx);
	return 0;
}

static int
client_write(struct ctl_client *cl)
{
	while (cl->out.len > cl->outoff) {
		ssize_t n = send(cl->fd, cl->out.data + cl->outoff, cl->out.len - cl->outoff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		cl->outoff += (size_t)n;
	}
	buf_reset(&cl->out);
	cl->outoff = 0;
	return 0;
}

void
control_service(struct control *c, const struct pollfd *pfd, int n, struct control_ctx *ctx)
{
	long long now = monotime_ms();

	/* Clients first (their entries follow the socket's), then new ones. */
	for (int k = n - 1; k >= 1; k--) {
		int i = -1;
		for (int j = 0; j < c->nclients; j++)
			if (c->clients[j].fd == pfd[k].fd)
				i = j;
		if (i < 0 || pfd[k].revents == 0)
			continue;
		struct ctl_client *cl = &c->clients[i];
		size_t before = cl->out.len - cl->outoff;
		int drop = 0;

		if (pfd[k].revents & POLLIN)
			drop = client_read(cl, ctx) != 0;
		else if (pfd[k].revents & (POLLERR | POLLHUP | POLLNVAL))
			drop = 1;
		if (!drop && cl->out.len > cl->outoff)
			drop = client_write(cl) != 0;
		if (!drop && (cl->eof || cl->closing) && cl->out.len == cl->outoff)
			drop = 1;
		if (drop) {
			drop_client(c, i);
			continue;
		}
		if ((pfd[k].revents & POLLIN) || cl->out.len - cl->outoff < before)
			cl->deadline = now + c->timeout_ms;
	}
	if (n >= 1 && (pfd[0].revents & POLLIN))
		accept_clients(c);
	for (int i = c->nclients - 1; i >= 0; i--) {
		if (now < c->clients[i].deadline)
			continue;
		static const char bye[] = "421 timeout, closing\n";
		if (send(c->clients[i].fd, bye, sizeof(bye) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_debug("control socket: timeout notice not sent: %s", strerror(errno));
		log_info("control socket: dropped a client idle for %d ms", c->timeout_ms);
		drop_client(c, i);
	}
}
