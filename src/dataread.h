/*
 * dataread - the pure DATA reader: finds the end of a message, undoes dot
 * stuffing and notes what a strict server must refuse.
 *
 * Bytes are fed in any split; the reader keeps its state between calls.
 * The message ends only on <CRLF>.<CRLF> (the first CRLF being the end of
 * the DATA command line or of the previous text line). A bare LF or a bare
 * CR never ends the message and never starts a line that can end it, so
 * every SMTP smuggling variant ("\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r")
 * stays inside the message. Bare line endings are passed through unchanged
 * or, when normalising, written as CRLF; either way they are flagged so the
 * session can reject the message.
 */
#ifndef SMTPTRAP_DATAREAD_H
#define SMTPTRAP_DATAREAD_H

#include <stddef.h>

enum {
	DATA_BARE_LF = 1 << 0,   /* an LF not preceded by CR */
	DATA_BARE_CR = 1 << 1,   /* a CR not followed by LF */
	DATA_NUL = 1 << 2,       /* a NUL octet */
	DATA_LONG_LINE = 1 << 3, /* a line over 998 octets before its CRLF */
};

typedef void (*data_sink_fn)(void *ctx, const char *data, size_t len);

struct data_reader {
	int state;
	int after_bare;        /* the current line began after a bare ending */
	int held_cr;           /* a CR ended the last chunk and is not written yet */
	int normalize;         /* write bare line endings as CRLF */
	int raw;               /* BDAT content: no dot handling, never ends */
	unsigned flags;        /* DATA_* seen so far */
	size_t line_len;       /* octets on the current line, as sent */
	unsigned long long out_bytes; /* octets passed to the sink */
	data_sink_fn sink;
	void *ctx;
};

void data_reader_init(struct data_reader *dr, int normalize, data_sink_fn sink, void *ctx);

/*
 * Feed len bytes. Returns how many were consumed: all of them, or fewer
 * when the end of the message was reached, in which case *done is set and
 * the bytes after the terminator belong to the next command.
 */
size_t data_reader_feed(struct data_reader *dr, const char *in, size_t len, int *done);

/*
 * Raw mode, for BDAT chunks of a 7BIT or 8BITMIME body (RFC 3030): the same
 * checks and normalisation, but a leading dot is content and nothing ends
 * the message; the chunk sizes do. Call data_reader_end() after the last
 * chunk so a final bare CR is flagged and written.
 */
void data_reader_init_raw(struct data_reader *dr, int normalize, data_sink_fn sink, void *ctx);
void data_reader_end(struct data_reader *dr);

#endif
