/*
 * buf - a growable byte buffer.
 *
 * Used for reply text and message headers. Appending never fails (it ends
 * the process through xrealloc on exhaustion). data is always NUL-terminated
 * after any append, so text can be used as a C string.
 */
#ifndef SMTPTRAP_BUF_H
#define SMTPTRAP_BUF_H

#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes, keeping the rest. */
void buf_consume(struct buf *b, size_t n);

#endif
