/*
 * netio - buffered, deadline-bounded socket I/O; see netio.h.
 */
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netio.h"
#include "scheduler.h"
#include "tls.h"
#include "xmalloc.h"

void
netio_init(struct netio *io, int fd, const sigset_t *waitmask)
{
	memset(io, 0, sizeof(*io));
	io->fd = fd;
	io->in = xmalloc(NETIO_INBUF);
	io->waitmask = waitmask;
	buf_init(&io->out);
}

void
netio_free(struct netio *io)
{
	SSL_free(io->ssl);
	io->ssl = NULL;
	free(io->in);
	io->in = NULL;
	buf_free(&io->out);
}

size_t
netio_pending(const struct netio *io)
{
	return io->in_len - io->in_off;
}

const char *
netio_peek(const struct netio *io)
{
	return io->in + io->in_off;
}

void
netio_consume(struct netio *io, size_t n)
{
	io->in_off += n;
	if (io->in_off >= io->in_len)
		io->in_off = io->in_len = 0;
}

enum netio_line
netio_next_line(struct netio *io, size_t max, char **line, size_t *len)
{
	for (;;) {
		char *start = io->in + io->in_off;
		size_t avail = io->in_len - io->in_off;
		char *lf = memchr(start, '\n', avail);

		if (io->skipping) {
			if (lf == NULL) {
				netio_consume(io, avail);
				return NETIO_NEED_MORE;
			}
			netio_consume(io, (size_t)(lf - start) + 1);
			io->skipping = 0;
			continue;
		}
		if (lf == NULL) {
			/* Over the limit with no end in sight: say so now. */
			if (avail + 1 > max) {
				netio_consume(io, avail);
				io->skipping = 1;
				return NETIO_TOO_LONG;
			}
			return NETIO_NEED_MORE;
		}
		size_t n = (size_t)(lf - start);
		size_t content = n;
		if (content > 0 && start[content - 1] == '\r')
			content--;
		netio_consume(io, n + 1);
		if (content + 2 > max)
			return NETIO_TOO_LONG;
		start[content] = '\0';
		*line = start;
		*len = content;
		return NETIO_LINE;
	}
}

static enum netio_wait
wait_fd(struct netio *io, short events, int timeout_ms)
{
	switch (sched_wait(io->fd, events, timeout_ms, io->waitmask)) {
	case SCHED_READY:
		return NETIO_OK;
	case SCHED_TIMEOUT:
		return NETIO_TIMEOUT;
	case SCHED_INTERRUPTED:
		return NETIO_INTERRUPTED;
	default:
		return NETIO_ERROR;
	}
}

/*
 * Classify a failed SSL_read/SSL_write/SSL_accept: NETIO_OK with *want set
 * when it only has to wait for the socket, else how the connection ended.
 */
static enum netio_wait
tls_status(struct netio *io, int r, short *want)
{
	int e = SSL_get_error(io->ssl, r);

	switch (e) {
	case SSL_ERROR_WANT_READ:
		*want = POLLIN;
		return NETIO_OK;
	case SSL_ERROR_WANT_WRITE:
		*want = POLLOUT;
		return NETIO_OK;
	case SSL_ERROR_ZERO_RETURN:
		return NETIO_EOF;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			if (errno == 0 || errno == EAGAIN)
				return NETIO_EOF;
			snprintf(io->error, sizeof(io->error), "%s", strerror(errno));
			io->tls_failed = 1;
			return NETIO_ERROR;
		}
		/* FALLTHROUGH */
	default:
		tls_error_string(io->error, sizeof(io->error), "TLS protocol error");
		io->tls_failed = 1;
		return NETIO_ERROR;
	}
}

enum netio_wait
netio_fill(struct netio *io, int timeout_ms)
{
	if (io->in_off > 0) {
		memmove(io->in, io->in + io->in_off, io->in_len - io->in_off);
		io->in_len -= io->in_off;
		io->in_off = 0;
	}
	if (io->in_len == NETIO_INBUF)
		return NETIO_OK; /* full: the caller must consume first */
	for (;;) {
		short want = POLLIN;
		ssize_t n;

		if (io->ssl != NULL) {
			ERR_clear_error();
			errno = 0;
			int r = SSL_read(io->ssl, io->in + io->in_len, (int)(NETIO_INBUF - io->in_len));
			if (r > 0) {
				n = r;
			} else {
				enum netio_wait w = tls_status(io, r, &want);
				if (w != NETIO_OK)
					return w;
				n = -1;
				errno = EAGAIN;
			}
		} else {
			n = read(io->fd, io->in + io->in_len, NETIO_INBUF - io->in_len);
		}
		if (n > 0) {
			io->in_len += (size_t)n;
			io->bytes_in += (unsigned long long)n;
			return NETIO_OK;
		}
		if (n == 0)
			return NETIO_EOF;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return NETIO_ERROR;
		enum netio_wait w = wait_fd(io, want, timeout_ms);
		if (w != NETIO_OK)
			return w;
	}
}

void
netio_write(struct netio *io, const void *data, size_t len)
{
	buf_append(&io->out, data, len);
}

enum netio_wait
netio_flush(struct netio *io, int timeout_ms)
{
	size_t off = 0;
	enum netio_wait rc = NETIO_OK;

	while (off < io->out.len) {
		short want = POLLOUT;
		ssize_t n;
		size_t room = io->out.len - off;

		if (io->throttle > 0) {
			/* Tenths of a second's worth at a time, then wait that long. */
			size_t step = (size_t)(io->throttle / 10 > 0 ? io->throttle / 10 : 1);
			if (off > 0) {
				long long ms = (long long)step * 1000 / io->throttle;
				if (sched_wait(-1, 0, (int)ms, io->waitmask) == SCHED_INTERRUPTED) {
					rc = NETIO_INTERRUPTED;
					break;
				}
			}
			if (room > step)
				room = step;
		}
		if (io->ssl != NULL) {
			size_t len = room;
			ERR_clear_error();
			errno = 0;
			int r = SSL_write(io->ssl, io->out.data + off, len > INT_MAX ? INT_MAX : (int)len);
			if (r > 0) {
				n = r;
			} else {
				enum netio_wait w = tls_status(io, r, &want);
				if (w != NETIO_OK) {
					rc = w == NETIO_EOF ? NETIO_ERROR : w;
					break;
				}
				n = -1;
				errno = EAGAIN;
			}
		} else {
			n = write(io->fd, io->out.data + off, room);
		}
		if (n > 0) {
			off += (size_t)n;
			io->bytes_out += (unsigned long long)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			enum netio_wait w = wait_fd(io, want, timeout_ms);
			if (w == NETIO_INTERRUPTED)
				continue;
			if (w != NETIO_OK) {
				rc = w;
				break;
			}
			continue;
		}
		rc = NETIO_ERROR;
		break;
	}
	buf_consume(&io->out, off);
	return rc;
}

size_t
netio_start_tls(struct netio *io, SSL *ssl)
{
	size_t dropped = netio_pending(io);

	netio_consume(io, dropped);
	io->skipping = 0;
	io->ssl = ssl;
	return dropped;
}

enum netio_wait
netio_tls_handshake(struct netio *io, int timeout_ms)
{
	for (;;) {
		short want = POLLIN;

		ERR_clear_error();
		errno = 0;
		int r = SSL_do_handshake(io->ssl);
		if (r == 1)
			return NETIO_OK;
		enum netio_wait w = tls_status(io, r, &want);
		if (w != NETIO_OK)
			return w;
		w = wait_fd(io, want, timeout_ms);
		if (w != NETIO_OK)
			return w;
	}
}

void
netio_tls_close(struct netio *io)
{
	/* Never after a fatal error: OpenSSL forbids SSL_shutdown() then. */
	if (io->ssl != NULL && !io->tls_failed && SSL_is_init_finished(io->ssl)) {
		ERR_clear_error();
		(void)SSL_shutdown(io->ssl);
		ERR_clear_error();
	}
}

const char *
netio_strerror(const struct netio *io)
{
	return io->error[0] ? io->error : strerror(errno);
}
