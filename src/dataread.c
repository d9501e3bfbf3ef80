/*
 * dataread - the pure DATA reader; see dataread.h for the contract.
 *
 * The reader is a small state machine over octets. Content octets are
 * passed to the sink in runs (one call per run, not per octet); the only
 * octets not passed through are a stuffed leading dot, the terminating
 * ".\r\n", and bare line endings being normalised.
 */
#include <string.h>

#include "dataread.h"
#include "parser.h"

enum {
	ST_BOL,    /* at the beginning of a line */
	ST_TEXT,   /* inside a line */
	ST_CR,     /* saw CR inside a line or at its beginning */
	ST_DOT,    /* saw "." at the beginning of a line */
	ST_DOT_CR, /* saw ".\r" at the beginning of a line */
};

#define LINE_CONTENT_MAX (SMTP_TEXT_LINE_MAX - 2)

void
data_reader_init(struct data_reader *dr, int normalize, data_sink_fn sink, void *ctx)
{
	memset(dr, 0, sizeof(*dr));
	dr->state = ST_BOL;
	dr->normalize = normalize;
	dr->sink = sink;
	dr->ctx = ctx;
}

void
data_reader_init_raw(struct data_reader *dr, int normalize, data_sink_fn sink, void *ctx)
{
	data_reader_init(dr, normalize, sink, ctx);
	dr->raw = 1;
}

static void
emit(struct data_reader *dr, const char *p, size_t n)
{
	if (n == 0)
		return;
	dr->out_bytes += n;
	dr->sink(dr->ctx, p, n);
}

static void
count_octet(struct data_reader *dr)
{
	if (++dr->line_len > LINE_CONTENT_MAX)
		dr->flags |= DATA_LONG_LINE;
}

/* A proper CRLF ended the line. */
static void
line_end(struct data_reader *dr)
{
	dr->line_len = 0;
	dr->after_bare = 0;
	dr->state = ST_BOL;
}

/* A bare CR or LF ended the line: flag it, maybe write CRLF instead. */
static void
bare_end(struct data_reader *dr, unsigned flag, const char *raw)
{
	dr->flags |= flag;
	emit(dr, dr->normalize ? "\r\n" : raw, dr->normalize ? 2 : 1);
	dr->line_len = 0;
	dr->after_bare = 1;
	dr->state = ST_BOL;
}

size_t
data_reader_feed(struct data_reader *dr, const char *in, size_t len, int *done)
{
	size_t i = 0;
	size_t run = 0; /* start of the pending pass-through run */

	*done = 0;
	while (i < len) {
		unsigned char c = (unsigned char)in[i];

		switch (dr->state) {
		case ST_BOL:
			if (c == '.' && !dr->raw) {
				emit(dr, in + run, i - run);
				count_octet(dr);
				dr->state = ST_DOT;
				run = ++i;
				continue;
			}
			/* FALLTHROUGH */
		case ST_TEXT:
			if (c != '\r' && c != '\n' && c != '\0') {
				/* Plain text up to the next CR, LF or NUL in one go. */
				size_t j = i + 1;
				while (j < len && in[j] != '\r' && in[j] != '\n' && in[j] != '\0')
					j++;
				dr->line_len += j - i;
				if (dr->line_len > LINE_CONTENT_MAX)
					dr->flags |= DATA_LONG_LINE;
				dr->state = ST_TEXT;
				i = j;
				continue;
			}
			if (c == '\r') {
				dr->state = ST_CR;
			} else if (c == '\n') {
				emit(dr, in + run, i - run);
				bare_end(dr, DATA_BARE_LF, "\n");
				run = ++i;
				continue;
			} else {
				if (c == '\0')
					dr->flags |= DATA_NUL;
				count_octet(dr);
				dr->state = ST_TEXT;
			}
			i++;
			continue;

		case ST_CR:
			if (c == '\n') {
				if (dr->held_cr) {
					emit(dr, "\r", 1);
					dr->held_cr = 0;
				}
				line_end(dr);
				i++;
				continue;
			}
			/* The CR before c was bare: drop it from the run. */
			if (dr->held_cr)
				dr->held_cr = 0;
			else
				emit(dr, in + run, i - 1 - run);
			bare_end(dr, DATA_BARE_CR, "\r");
			run = i;
			continue; /* c begins the next line */

		case ST_DOT:
			if (c == '\r') {
				dr->state = ST_DOT_CR;
				run = ++i;
				continue;
			}
			if (c == '\n') {
				/* A line of just "." ended by a bare LF: keep the dot. */
				emit(dr, ".", 1);
				bare_end(dr, DATA_BARE_LF, "\n");
				run = ++i;
				continue;
			}
			/* RFC 5321 4.5.2: a leading dot before more text is removed. */
			dr->state = ST_TEXT;
			continue; /* c is text; the run starts at c */

		case ST_DOT_CR:
			if (c == '\n') {
				if (!dr->after_bare) {
					*done = 1;
					return i + 1;
				}
				/* ".\r\n" after a bare ending is content, not the end. */
				emit(dr, ".\r\n", 3);
				line_end(dr);
				run = ++i;
				continue;
			}
			/* A line of just "." ended by a bare CR. */
			emit(dr, ".", 1);
			bare_end(dr, DATA_BARE_CR, "\r");
			run = i;
			continue; /* c begins the next line */
		}
	}
	/*
	 * Write the pending run, except a final CR whose meaning depends on the
	 * next octet: it is held back and written, or replaced, then.
	 */
	if (dr->state == ST_CR && !dr->held_cr && len > run) {
		emit(dr, in + run, len - 1 - run);
		dr->held_cr = 1;
	} else {
		emit(dr, in + run, len - run);
	}
	return len;
}

void
data_reader_end(struct data_reader *dr)
{
	/* A CR held back at the end of the last chunk had no LF after it. */
	if (dr->state == ST_CR && dr->held_cr) {
		dr->held_cr = 0;
		bare_end(dr, DATA_BARE_CR, "\r");
	}
}
