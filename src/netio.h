/*
 * netio - buffered, deadline-bounded line and block I/O on one client socket.
 *
 * Input is read in large chunks into one buffer; commands are taken from it
 * a line at a time and DATA/BDAT content as raw bytes. Output (replies) is
 * collected in a buffer and written only by netio_flush(), which the
 * session calls when no complete command is waiting: that is what makes
 * PIPELINING work, one write for a whole pipelined group of replies.
 *
 * After netio_start_tls() the same calls read and write through TLS: the
 * session above never sees the difference.
 *
 * The socket is non-blocking; every wait is a ppoll() bounded by a timeout
 * and, when a signal mask is given, interruptible by the signals it leaves
 * open, so a worker can notice a stop request mid-session.
 */
#ifndef SMTPTRAP_NETIO_H
#define SMTPTRAP_NETIO_H

#include <openssl/ssl.h>
#include <signal.h>
#include <stddef.h>

#include "buf.h"

#define NETIO_INBUF 65536

enum netio_line {
	NETIO_LINE,      /* a complete line is returned */
	NETIO_NEED_MORE, /* no complete line is buffered */
	NETIO_TOO_LONG,  /* the line was over the limit; the rest of it is skipped */
};

enum netio_wait {
	NETIO_OK = 1,          /* data arrived / all written */
	NETIO_EOF = 0,         /* the peer closed its side */
	NETIO_ERROR = -1,      /* socket error (errno kept) */
	NETIO_TIMEOUT = -2,    /* the timeout passed */
	NETIO_INTERRUPTED = -3 /* a signal arrived */
};

struct netio {
	int fd;
	char *in;
	size_t in_off;     /* first unconsumed byte */
	size_t in_len;     /* end of buffered bytes */
	int skipping;      /* dropping the rest of an overlong line */
	struct buf out;
	const sigset_t *waitmask; /* signal mask during waits, or NULL */
	unsigned long long bytes_in;
	unsigned long long bytes_out;
	SSL *ssl;          /* TLS layer, or NULL for plaintext */
	int tls_failed;    /* a fatal TLS error happened: no close_notify */
	long throttle;     /* send at most this many octets per second, 0 = no limit */
	char error[160];   /* reason of the last NETIO_ERROR, "" = see errno */
};

void netio_init(struct netio *io, int fd, const sigset_t *waitmask);
void netio_free(struct netio *io);

/*
 * Take the next line (without its LF, and without a CR before the LF) from
 * the buffer. max is the limit including CRLF. NUL octets stay in the line.
 */
enum netio_line netio_next_line(struct netio *io, size_t max, char **line, size_t *len);

/* Read once more into the input buffer, waiting at most timeout_ms. */
enum netio_wait netio_fill(struct netio *io, int timeout_ms);

/* Bytes buffered and not consumed, and a pointer to them. */
size_t netio_pending(const struct netio *io);
const char *netio_peek(const struct netio *io);
void netio_consume(struct netio *io, size_t n);

/* Queue reply text; nothing is sent until netio_flush(). */
void netio_write(struct netio *io, const void *data, size_t len);
/* Send everything queued, waiting at most timeout_ms for the peer. */
enum netio_wait netio_flush(struct netio *io, int timeout_ms);

/*
 * Put TLS under the connection: ssl (a server-side object on io->fd) is
 * owned by io from now on. Plaintext input still buffered is discarded,
 * never read as if it came through TLS (RFC 3207 5, CVE-2011-0411); the
 * number of bytes dropped is returned.
 */
size_t netio_start_tls(struct netio *io, SSL *ssl);

/*
 * Drive the TLS handshake, waiting at most timeout_ms. NETIO_OK when it is
 * complete; NETIO_ERROR with the reason in io->error when it failed;
 * NETIO_EOF when the peer went away; NETIO_TIMEOUT/NETIO_INTERRUPTED:
 * call again.
 */
enum netio_wait netio_tls_handshake(struct netio *io, int timeout_ms);

/* Send a TLS close_notify if TLS is up (best effort, never waits). */
void netio_tls_close(struct netio *io);

/* Why the last call failed: io->error or strerror(errno). */
const char *netio_strerror(const struct netio *io);

#endif
