/*
 * transcript - per-session transcripts; see transcript.h.
 *
 * A line is formatted into a growable buffer and written with one
 * write(2) to a file opened O_APPEND, so a transcript is complete up to
 * its last line even when the worker dies.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "transcript.h"
#include "xmalloc.h"

struct transcript {
	int fd;          /* -1 after a write failed */
	struct buf line; /* reused for every line */
};

struct transcript *
transcript_open(int dirfd, const char *id, char *err, size_t errlen)
{
	char name[64];
	struct transcript *t;
	int fd;

	if (snprintf(name, sizeof(name), "%s.log", id) >= (int)sizeof(name) ||
	    strchr(id, '/') != NULL || id[0] == '.' || id[0] == '\0') {
		snprintf(err, errlen, "bad session id for a file name");
		return NULL;
	}
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", name, strerror(errno));
		return NULL;
	}
	t = xcalloc(1, sizeof(*t));
	t->fd = fd;
	buf_init(&t->line);
	return t;
}

/* Escape one octet of a client or server line into b. */
static void
escape_octet(struct buf *b, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char esc[4];

	switch (c) {
	case '\\':
		buf_append(b, "\\\\", 2);
		return;
	case '\r':
		buf_append(b, "\\r", 2);
		return;
	case '\n':
		buf_append(b, "\\n", 2);
		return;
	case '\t':
		buf_append(b, "\\t", 2);
		return;
	default:
		break;
	}
	if (c < ' ' || c == 0x7f) {
		esc[0] = '\\';
		esc[1] = 'x';
		esc[2] = hex[c >> 4];
		esc[3] = hex[c & 15];
		buf_append(b, esc, 4);
		return;
	}
	esc[0] = (char)c;
	buf_append(b, esc, 1);
}

int
transcript_line(struct transcript *t, char dir, const char *text, size_t len)
{
	char ts[LOG_TIMESTAMP_LEN + 1];
	size_t off = 0;

	if (t == NULL || t->fd < 0)
		return 0;
	buf_reset(&t->line);
	buf_reserve(&t->line, LOG_TIMESTAMP_LEN + 4 + len);
	buf_append(&t->line, ts, log_timestamp(ts, sizeof(ts)));
	buf_append(&t->line, " ", 1);
	buf_append(&t->line, &dir, 1);
	buf_append(&t->line, " ", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (dir == '*') {
			char out = (c < ' ' || c == 0x7f) ? '?' : (char)c;
			buf_append(&t->line, &out, 1);
		} else {
			escape_octet(&t->line, c);
		}
	}
	buf_append(&t->line, "\n", 1);
	while (off < t->line.len) {
		ssize_t w = write(t->fd, t->line.data + off, t->line.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : EIO;
			close(t->fd);
			t->fd = -1;
			errno = e;
			return -1;
		}
		off += (size_t)w;
	}
	return 0;
}

void
transcript_close(struct transcript *t)
{
	if (t == NULL)
		return;
	if (t->fd >= 0)
		close(t->fd);
	buf_free(&t->line);
	free(t);
}
