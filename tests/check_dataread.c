/*
 * check_dataread - unit tests for the DATA reader (dataread.c): the end of
 * message, dot unstuffing, the SMTP smuggling variants that must never end
 * a message, bare CR/LF flagging and normalising, NUL and long-line flags,
 * and that any split of the input over data_reader_feed() calls gives the
 * same result as feeding it at once (checked on a table of inputs and
 * against a simple line-by-line model on pseudo-random inputs).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataread.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define NOT_DONE SIZE_MAX

/* A growable output buffer, filled by the sink. */
struct outbuf {
	char *data;
	size_t len;
	size_t cap;
};

static void
out_append(struct outbuf *o, const char *data, size_t len)
{
	if (o->len + len > o->cap) {
		size_t cap = o->cap ? o->cap : 64;
		while (cap < o->len + len)
			cap *= 2;
		o->data = realloc(o->data, cap);
		ck_assert_ptr_nonnull(o->data);
		o->cap = cap;
	}
	if (len > 0)
		memcpy(o->data + o->len, data, len);
	o->len += len;
}

static void
sink(void *ctx, const char *data, size_t len)
{
	ck_assert_ptr_nonnull(data);
	out_append(ctx, data, len);
}

/* What one run of the reader over an input produced. */
struct run {
	struct outbuf out;
	unsigned flags;
	int done;
	size_t consumed;        /* offset of the next command when done */
	unsigned long long out_bytes;
};

static void
run_free(struct run *r)
{
	free(r->out.data);
	memset(r, 0, sizeof(*r));
}

/*
 * Feed in[0..len) in pieces ending at cuts[0..ncuts) (ascending, empty
 * pieces allowed) and then at len. Stops at the end of the message.
 */
static void
run_pieces(const char *in, size_t len, int normalize, const size_t *cuts,
    size_t ncuts, struct run *r)
{
	struct data_reader dr;
	size_t pos = 0;

	memset(r, 0, sizeof(*r));
	data_reader_init(&dr, normalize, sink, &r->out);
	r->consumed = len;
	for (size_t k = 0; k <= ncuts; k++) {
		size_t end = k < ncuts ? cuts[k] : len;
		size_t n;
		int done = -1;

		ck_assert_uint_le(pos, end);
		n = data_reader_feed(&dr, in + pos, end - pos, &done);
		ck_assert_int_ge(done, 0);
		if (done) {
			ck_assert_int_eq(done, 1);
			ck_assert_uint_ge(n, 1);
			ck_assert_uint_le(n, end - pos);
			r->done = 1;
			r->consumed = pos + n;
			break;
		}
		ck_assert_uint_eq(n, end - pos);
		pos = end;
	}
	r->flags = dr.flags;
	r->out_bytes = dr.out_bytes;
	ck_assert_uint_eq(r->out_bytes, r->out.len);
}

static void
run_once(const char *in, size_t len, int normalize, struct run *r)
{
	run_pieces(in, len, normalize, NULL, 0, r);
}

static void
run_bytewise(const char *in, size_t len, int normalize, struct run *r)
{
	size_t *cuts = calloc(len + 1, sizeof(*cuts));

	ck_assert_ptr_nonnull(cuts);
	for (size_t i = 1; i < len; i++)
		cuts[i - 1] = i;
	run_pieces(in, len, normalize, cuts, len > 0 ? len - 1 : 0, r);
	free(cuts);
}

/* Printable form of a byte string for failure messages (static buffer). */
static const char *
show(const char *s, size_t len)
{
	static char buf[4][256];
	static int which;
	char *b = buf[which++ % 4];
	size_t o = 0;

	for (size_t i = 0; i < len && o + 8 < sizeof(buf[0]); i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r')
			o += (size_t)snprintf(b + o, sizeof(buf[0]) - o, "\\r");
		else if (c == '\n')
			o += (size_t)snprintf(b + o, sizeof(buf[0]) - o, "\\n");
		else if (c < 32 || c > 126)
			o += (size_t)snprintf(b + o, sizeof(buf[0]) - o, "\\x%02x", c);
		else
			b[o++] = (char)c;
	}
	b[o] = '\0';
	return b;
}

static void
assert_same_run(const struct run *a, const struct run *b, const char *in,
    size_t len, const char *how)
{
	ck_assert_msg(a->done == b->done, "\"%s\" %s: done %d vs %d",
	    show(in, len), how, a->done, b->done);
	ck_assert_msg(a->consumed == b->consumed, "\"%s\" %s: consumed %zu vs %zu",
	    show(in, len), how, a->consumed, b->consumed);
	ck_assert_msg(a->flags == b->flags, "\"%s\" %s: flags %#x vs %#x",
	    show(in, len), how, a->flags, b->flags);
	ck_assert_msg(a->out.len == b->out.len &&
	    (a->out.len == 0 || memcmp(a->out.data, b->out.data, a->out.len) == 0),
	    "\"%s\" %s: output \"%s\" vs \"%s\"", show(in, len), how,
	    show(a->out.data, a->out.len), show(b->out.data, b->out.len));
	ck_assert_uint_eq(a->out_bytes, b->out_bytes);
}

static void
assert_output(const struct run *r, const char *want, size_t want_len,
    const char *in, size_t len)
{
	ck_assert_msg(r->out.len == want_len &&
	    (want_len == 0 || memcmp(r->out.data, want, want_len) == 0),
	    "\"%s\": output \"%s\", want \"%s\"", show(in, len),
	    show(r->out.data, r->out.len), show(want, want_len));
}

/*
 * The table: a message (all of it when done, else the whole input), what
 * follows it, and the expected output without and with normalising.
 */
#define B(lit) (lit), (sizeof(lit) - 1)

static const struct dcase {
	const char *msg;
	size_t msg_len;
	const char *tail;
	size_t tail_len;
	const char *raw;
	size_t raw_len;
	const char *norm;
	size_t norm_len;
	unsigned flags;
	int done;
} cases[] = {
	/* Plain messages, the empty message, what follows the terminator. */
	{ B("Subject: x\r\n\r\nbody\r\n.\r\n"), B(""),
	  B("Subject: x\r\n\r\nbody\r\n"), B("Subject: x\r\n\r\nbody\r\n"), 0, 1 },
	{ B("Subject: x\r\n\r\nbody\r\n.\r\n"), B("QUIT\r\n"),
	  B("Subject: x\r\n\r\nbody\r\n"), B("Subject: x\r\n\r\nbody\r\n"), 0, 1 },
	{ B(".\r\n"), B(""), B(""), B(""), 0, 1 },
	{ B(".\r\n"), B("QUIT\r\n"), B(""), B(""), 0, 1 },
	{ B(".\r\n"), B(".\r\n"), B(""), B(""), 0, 1 },
	{ B("\r\n.\r\n"), B("RSET\r\n"), B("\r\n"), B("\r\n"), 0, 1 },
	{ B("a\r\nb\r\n.\r\n"), B("\r\n.\r\n"), B("a\r\nb\r\n"), B("a\r\nb\r\n"), 0, 1 },
	/* Dot unstuffing; dots elsewhere are left alone. */
	{ B("..hello\r\n.\r\n"), B(""), B(".hello\r\n"), B(".hello\r\n"), 0, 1 },
	{ B("...\r\n.\r\n"), B(""), B("..\r\n"), B("..\r\n"), 0, 1 },
	{ B("..\r\n.\r\n"), B(""), B(".\r\n"), B(".\r\n"), 0, 1 },
	{ B("a.b\r\n x.\r\n.\r\n"), B(""), B("a.b\r\n x.\r\n"), B("a.b\r\n x.\r\n"), 0, 1 },
	{ B(".x\r\n. \r\n.\r\n"), B(""), B("x\r\n \r\n"), B("x\r\n \r\n"), 0, 1 },
	{ B("a\r\n\r\n..\r\n.\r\n"), B(""), B("a\r\n\r\n.\r\n"), B("a\r\n\r\n.\r\n"), 0, 1 },
	/* SMTP smuggling variants stay inside the message. */
	{ B("a\n.\nb\r\n.\r\n"), B("QUIT\r\n"),
	  B("a\n.\nb\r\n"), B("a\r\n.\r\nb\r\n"), DATA_BARE_LF, 1 },
	{ B("a\n.\r\nb\r\n.\r\n"), B("QUIT\r\n"),
	  B("a\n.\r\nb\r\n"), B("a\r\n.\r\nb\r\n"), DATA_BARE_LF, 1 },
	{ B("a\r\n.\nb\r\n.\r\n"), B("QUIT\r\n"),
	  B("a\r\n.\nb\r\n"), B("a\r\n.\r\nb\r\n"), DATA_BARE_LF, 1 },
	{ B("a\r.\rb\r\n.\r\n"), B("QUIT\r\n"),
	  B("a\r.\rb\r\n"), B("a\r\n.\r\nb\r\n"), DATA_BARE_CR, 1 },
	{ B("a\r.\r\nb\r\n.\r\n"), B(""),
	  B("a\r.\r\nb\r\n"), B("a\r\n.\r\nb\r\n"), DATA_BARE_CR, 1 },
	{ B("a\r.\nb\r\n.\r\n"), B(""),
	  B("a\r.\nb\r\n"), B("a\r\n.\r\nb\r\n"), DATA_BARE_CR | DATA_BARE_LF, 1 },
	{ B("a\n.\rb\r\n.\r\n"), B(""),
	  B("a\n.\rb\r\n"), B("a\r\n.\r\nb\r\n"), DATA_BARE_LF | DATA_BARE_CR, 1 },
	{ B("a\n.\r\n"), B(""), B("a\n.\r\n"), B("a\r\n.\r\n"), DATA_BARE_LF, 0 },
	{ B("\n.\n.\r\n"), B(""), B("\n.\n.\r\n"), B("\r\n.\r\n.\r\n"), DATA_BARE_LF, 0 },
	{ B("\r.\r\n.\r\n"), B(""), B("\r.\r\n"), B("\r\n.\r\n"), DATA_BARE_CR, 1 },
	{ B(".\n"), B(""), B(".\n"), B(".\r\n"), DATA_BARE_LF, 0 },
	{ B("..\n.\r\n"), B(""), B(".\n.\r\n"), B(".\r\n.\r\n"), DATA_BARE_LF, 0 },
	/* A "." line kept as content is followed by a line that can end. */
	{ B("x\n.\r\n.\r\n"), B("QUIT\r\n"),
	  B("x\n.\r\n"), B("x\r\n.\r\n"), DATA_BARE_LF, 1 },
	{ B(".\r.\r\n.\r\n"), B(""), B(".\r.\r\n"), B(".\r\n.\r\n"), DATA_BARE_CR, 1 },
	/* A CRLF after a bare ending is a real line end. */
	{ B("\r\r\n.\r\n"), B(""), B("\r\r\n"), B("\r\n\r\n"), DATA_BARE_CR, 1 },
	{ B("a\r\r\n.\r\n"), B(""), B("a\r\r\n"), B("a\r\n\r\n"), DATA_BARE_CR, 1 },
	{ B("\r\r\r\n.\r\n"), B(""), B("\r\r\r\n"), B("\r\n\r\n\r\n"), DATA_BARE_CR, 1 },
	{ B("a\n\r\n.\r\n"), B(""), B("a\n\r\n"), B("a\r\n\r\n"), DATA_BARE_LF, 1 },
	{ B("\n\n\r\n.\r\n"), B(""), B("\n\n\r\n"), B("\r\n\r\n\r\n"), DATA_BARE_LF, 1 },
	/* A line of "." ended by a bare CR. */
	{ B(".\rX\r\n.\r\n"), B(""), B(".\rX\r\n"), B(".\r\nX\r\n"), DATA_BARE_CR, 1 },
	{ B("a\r\n.\rX\r\n.\r\n"), B(""), B("a\r\n.\rX\r\n"), B("a\r\n.\r\nX\r\n"), DATA_BARE_CR, 1 },
	{ B(".\r\r\n.\r\n"), B(""), B(".\r\r\n"), B(".\r\n\r\n"), DATA_BARE_CR, 1 },
	/* NUL octets. */
	{ B("a\0b\r\n.\r\n"), B(""), B("a\0b\r\n"), B("a\0b\r\n"), DATA_NUL, 1 },
	{ B("\0\r\n.\r\n"), B(""), B("\0\r\n"), B("\0\r\n"), DATA_NUL, 1 },
	{ B(".\0\r\n.\r\n"), B(""), B("\0\r\n"), B("\0\r\n"), DATA_NUL, 1 },
	{ B("a\r\n.\r\n"), B("\0"), B("a\r\n"), B("a\r\n"), 0, 1 },
	/* Unfinished input: nothing that might be the terminator is written. */
	{ B("a\r\n."), B(""), B("a\r\n"), B("a\r\n"), 0, 0 },
	{ B("a\r\n.\r"), B(""), B("a\r\n"), B("a\r\n"), 0, 0 },
	{ B("a\r\nb"), B(""), B("a\r\nb"), B("a\r\nb"), 0, 0 },
	{ B(""), B(""), B(""), B(""), 0, 0 },
};

/* The whole input of a table case: msg then tail. */
static char *
case_input(const struct dcase *c, size_t *len)
{
	char *in = malloc(c->msg_len + c->tail_len + 1);

	ck_assert_ptr_nonnull(in);
	memcpy(in, c->msg, c->msg_len);
	memcpy(in + c->msg_len, c->tail, c->tail_len);
	*len = c->msg_len + c->tail_len;
	return in;
}

START_TEST(test_table_oneshot)
{
	const struct dcase *c = &cases[_i];
	struct run r;
	size_t len;
	char *in = case_input(c, &len);

	for (int normalize = 0; normalize <= 1; normalize++) {
		run_once(in, len, normalize, &r);
		ck_assert_msg(r.done == c->done, "case %d \"%s\": done %d", _i,
		    show(in, len), r.done);
		ck_assert_msg(r.consumed == (c->done ? c->msg_len : len),
		    "case %d \"%s\": consumed %zu", _i, show(in, len), r.consumed);
		ck_assert_msg(r.flags == c->flags, "case %d \"%s\": flags %#x, want %#x",
		    _i, show(in, len), r.flags, c->flags);
		if (normalize)
			assert_output(&r, c->norm, c->norm_len, in, len);
		else
			assert_output(&r, c->raw, c->raw_len, in, len);
		run_free(&r);
	}
	free(in);
}
END_TEST

/* Every split into one, two or three pieces matches the one-shot run. */
START_TEST(test_table_splits)
{
	const struct dcase *c = &cases[_i];
	struct run ref, r;
	size_t len, cuts[2];
	char how[64];
	char *in = case_input(c, &len);

	for (int normalize = 0; normalize <= 1; normalize++) {
		run_once(in, len, normalize, &ref);

		run_bytewise(in, len, normalize, &r);
		assert_same_run(&ref, &r, in, len, "byte by byte");
		run_free(&r);

		for (size_t i = 0; i <= len; i++) {
			cuts[0] = i;
			run_pieces(in, len, normalize, cuts, 1, &r);
			snprintf(how, sizeof(how), "split at %zu", i);
			assert_same_run(&ref, &r, in, len, how);
			run_free(&r);
			for (size_t j = i; j <= len; j++) {
				cuts[1] = j;
				run_pieces(in, len, normalize, cuts, 2, &r);
				snprintf(how, sizeof(how), "split at %zu,%zu", i, j);
				assert_same_run(&ref, &r, in, len, how);
				run_free(&r);
			}
		}
		run_free(&ref);
	}
	free(in);
}
END_TEST

START_TEST(test_simple_message)
{
	static const char in[] = "Subject: x\r\n\r\nbody\r\n.\r\n";
	static const char want[] = "Subject: x\r\n\r\nbody\r\n";
	struct outbuf out = { 0 };
	struct data_reader dr;
	int done = 0;
	size_t n;

	data_reader_init(&dr, 0, sink, &out);
	n = data_reader_feed(&dr, in, sizeof(in) - 1, &done);
	ck_assert_int_eq(done, 1);
	ck_assert_uint_eq(n, sizeof(in) - 1);
	ck_assert_uint_eq(out.len, sizeof(want) - 1);
	ck_assert_mem_eq(out.data, want, out.len);
	ck_assert_uint_eq(dr.out_bytes, sizeof(want) - 1);
	ck_assert_uint_eq(dr.flags, 0);
	free(out.data);
}
END_TEST

/* The return value tells where the next (pipelined) command starts. */
START_TEST(test_next_command_not_consumed)
{
	static const char in[] = "body\r\n.\r\nQUIT\r\n";
	struct outbuf out = { 0 };
	struct data_reader dr;
	int done = 0;
	size_t n;

	data_reader_init(&dr, 1, sink, &out);
	n = data_reader_feed(&dr, in, sizeof(in) - 1, &done);
	ck_assert_int_eq(done, 1);
	ck_assert_uint_eq(n, sizeof(in) - 1 - strlen("QUIT\r\n"));
	ck_assert_str_eq(in + n, "QUIT\r\n");
	ck_assert_uint_eq(out.len, 6);
	ck_assert_mem_eq(out.data, "body\r\n", 6);
	free(out.data);

	/* The terminator split after ".\r": one octet of the next call used. */
	out = (struct outbuf){ 0 };
	data_reader_init(&dr, 1, sink, &out);
	n = data_reader_feed(&dr, "body\r\n.\r", 8, &done);
	ck_assert_int_eq(done, 0);
	ck_assert_uint_eq(n, 8);
	n = data_reader_feed(&dr, "\nQUIT\r\n", 7, &done);
	ck_assert_int_eq(done, 1);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(out.len, 6);
	ck_assert_mem_eq(out.data, "body\r\n", 6);
	free(out.data);
}
END_TEST

START_TEST(test_empty_message)
{
	struct outbuf out = { 0 };
	struct data_reader dr;
	int done = 0;

	data_reader_init(&dr, 0, sink, &out);
	ck_assert_uint_eq(data_reader_feed(&dr, ".\r\nQUIT\r\n", 9, &done), 3);
	ck_assert_int_eq(done, 1);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_uint_eq(dr.out_bytes, 0);
	ck_assert_uint_eq(dr.flags, 0);
	free(out.data);
}
END_TEST

START_TEST(test_init_and_empty_feed)
{
	struct outbuf out = { 0 };
	struct data_reader dr;
	int done = 1;

	memset(&dr, 0x5a, sizeof(dr));
	data_reader_init(&dr, 1, sink, &out);
	ck_assert_uint_eq(dr.flags, 0);
	ck_assert_uint_eq(dr.out_bytes, 0);
	ck_assert_uint_eq(dr.line_len, 0);
	ck_assert_int_eq(dr.normalize, 1);
	ck_assert_ptr_eq(dr.ctx, &out);
	ck_assert_uint_eq(data_reader_feed(&dr, "", 0, &done), 0);
	ck_assert_int_eq(done, 0);
	/* After an empty feed, ".\r\n" still ends the message at once. */
	ck_assert_uint_eq(data_reader_feed(&dr, ".\r\n", 3, &done), 3);
	ck_assert_int_eq(done, 1);
	ck_assert_uint_eq(out.len, 0);
	free(out.data);
}
END_TEST

/*
 * Each smuggling variant, between "a" and more text, fed in two calls and
 * then byte by byte: the message ends only at the real "\r\n.\r\n".
 */
static const struct {
	const char *variant;
	unsigned flags;
	const char *raw_out;    /* of "a" variant "b" "\r\n.\r\n" */
	const char *norm_out;
} smuggle[] = {
	{ "\n.\n", DATA_BARE_LF, "a\n.\nb\r\n", "a\r\n.\r\nb\r\n" },
	{ "\n.\r\n", DATA_BARE_LF, "a\n.\r\nb\r\n", "a\r\n.\r\nb\r\n" },
	{ "\r\n.\n", DATA_BARE_LF, "a\r\n.\nb\r\n", "a\r\n.\r\nb\r\n" },
	{ "\r.\r", DATA_BARE_CR, "a\r.\rb\r\n", "a\r\n.\r\nb\r\n" },
};

START_TEST(test_smuggling)
{
	char first[32], in[64];
	struct run r;
	size_t flen, len;

	flen = (size_t)snprintf(first, sizeof(first), "a%sb", smuggle[_i].variant);
	len = (size_t)snprintf(in, sizeof(in), "%s\r\n.\r\nMAIL FROM:<x@y>\r\n", first);

	for (int normalize = 0; normalize <= 1; normalize++) {
		const char *want = normalize ? smuggle[_i].norm_out : smuggle[_i].raw_out;
		struct outbuf out = { 0 };
		struct data_reader dr;
		int done = 1;

		data_reader_init(&dr, normalize, sink, &out);
		ck_assert_uint_eq(data_reader_feed(&dr, first, flen, &done), flen);
		ck_assert_int_eq(done, 0);
		ck_assert_uint_eq(data_reader_feed(&dr, "\r\n.\r\nX", 6, &done), 5);
		ck_assert_int_eq(done, 1);
		ck_assert_uint_eq(dr.flags, smuggle[_i].flags);
		ck_assert_uint_eq(out.len, strlen(want));
		ck_assert_mem_eq(out.data, want, out.len);
		free(out.data);

		/* Byte by byte, done comes only with the last octet of ".\r\n". */
		run_bytewise(in, len, normalize, &r);
		ck_assert_int_eq(r.done, 1);
		ck_assert_uint_eq(r.consumed, flen + 5);
		ck_assert_uint_eq(r.flags, smuggle[_i].flags);
		assert_output(&r, want, strlen(want), in, len);
		run_free(&r);
	}
}
END_TEST

/* A run of n 'x' octets in a line, then CRLF (or a bare LF) and the end. */
static void
long_line(size_t n, const char *prefix, const char *ending, int normalize,
    struct run *r, int bytewise)
{
	size_t plen = strlen(prefix), elen = strlen(ending);
	size_t len = plen + n + elen + 5;
	char *in = malloc(len);

	ck_assert_ptr_nonnull(in);
	memcpy(in, prefix, plen);
	memset(in + plen, 'x', n);
	memcpy(in + plen + n, ending, elen);
	memcpy(in + plen + n + elen, "\r\n.\r\n", 5);
	if (bytewise)
		run_bytewise(in, len, normalize, r);
	else
		run_once(in, len, normalize, r);
	free(in);
}

START_TEST(test_long_lines)
{
	struct run r;

	long_line(998, "", "", 0, &r, 0);
	ck_assert_int_eq(r.done, 1);
	ck_assert_uint_eq(r.flags, 0);
	ck_assert_uint_eq(r.out.len, 1000);
	ck_assert_uint_eq(r.out_bytes, 1000);
	run_free(&r);

	long_line(999, "", "", 0, &r, 0);
	ck_assert_int_eq(r.done, 1);
	ck_assert_uint_eq(r.flags, DATA_LONG_LINE);
	ck_assert_uint_eq(r.out.len, 1001);
	ck_assert_uint_eq(r.out_bytes, 1001);
	run_free(&r);

	long_line(999, "", "", 1, &r, 1);
	ck_assert_uint_eq(r.flags, DATA_LONG_LINE);
	run_free(&r);
	long_line(998, "", "", 1, &r, 1);
	ck_assert_uint_eq(r.flags, 0);
	run_free(&r);

	/* Two lines of 998 each: the count restarts at each line. */
	long_line(998, "", "\r\n", 0, &r, 0);
	ck_assert_uint_eq(r.flags, 0);
	ck_assert_uint_eq(r.out.len, 998 + 4);
	run_free(&r);
	{
		char prefix[1001];
		memset(prefix, 'y', 998);
		memcpy(prefix + 998, "\r\n", 3);
		long_line(998, prefix, "", 0, &r, 0);
		ck_assert_uint_eq(r.flags, 0);
		ck_assert_uint_eq(r.out.len, 2 * 1000);
		run_free(&r);
		long_line(999, prefix, "", 0, &r, 0);
		ck_assert_uint_eq(r.flags, DATA_LONG_LINE);
		run_free(&r);
	}

	/* Octets are counted as sent: a stuffed dot counts. */
	long_line(997, ".", "", 0, &r, 0);
	ck_assert_uint_eq(r.flags, 0);
	ck_assert_uint_eq(r.out.len, 997 + 2);
	run_free(&r);
	long_line(998, ".", "", 0, &r, 0);
	ck_assert_uint_eq(r.flags, DATA_LONG_LINE);
	ck_assert_uint_eq(r.out.len, 998 + 2);
	run_free(&r);

	/* A long line ended by a bare LF is flagged for both. */
	long_line(999, "", "\n", 1, &r, 0);
	ck_assert_uint_eq(r.flags, DATA_LONG_LINE | DATA_BARE_LF);
	ck_assert_uint_eq(r.out.len, 999 + 2 + 2);
	run_free(&r);
	long_line(500, "", "\n", 1, &r, 0);
	ck_assert_uint_eq(r.flags, DATA_BARE_LF);
	run_free(&r);
}
END_TEST

START_TEST(test_nul_flag)
{
	struct run r;

	run_once("ab\r\n.\r\n", 7, 0, &r);
	ck_assert_uint_eq(r.flags & DATA_NUL, 0);
	run_free(&r);
	run_once("a\0b\r\n.\r\n", 8, 0, &r);
	ck_assert_uint_eq(r.flags, DATA_NUL);
	ck_assert_uint_eq(r.out.len, 5);
	ck_assert_mem_eq(r.out.data, "a\0b\r\n", 5);
	run_free(&r);
	/* A NUL after the terminator is not part of the message. */
	run_once(".\r\n\0", 4, 0, &r);
	ck_assert_uint_eq(r.flags, 0);
	ck_assert_uint_eq(r.consumed, 3);
	run_free(&r);
}
END_TEST

/*
 * A line-by-line model of the reader, written independently of its state
 * machine: lines end in CRLF, a bare LF, or a CR followed by anything but
 * LF; the message ends at a "." line ended by CRLF unless that line began
 * after a bare ending. Output for an unfinished last line holds back a
 * lone "." and a final CR, whose meaning is not known yet.
 */
static void
model(const char *in, size_t len, int normalize, struct run *r)
{
	size_t pos = 0;
	int after_bare = 0;

	memset(r, 0, sizeof(*r));
	r->consumed = len;
	while (pos < len) {
		size_t j = pos, clen, elen;
		unsigned bare = 0;
		int complete = 1;

		while (j < len && in[j] != '\r' && in[j] != '\n')
			j++;
		clen = j - pos;
		if (memchr(in + pos, '\0', clen) != NULL)
			r->flags |= DATA_NUL;
		if (clen > 998)
			r->flags |= DATA_LONG_LINE;
		if (j == len) {
			complete = 0;
			elen = 0;
		} else if (in[j] == '\n') {
			bare = DATA_BARE_LF;
			elen = 1;
		} else if (j + 1 == len) {
			complete = 0;   /* a final CR */
			elen = 1;
		} else if (in[j + 1] == '\n') {
			elen = 2;
		} else {
			bare = DATA_BARE_CR;
			elen = 1;
		}
		if (!complete) {
			if (!(clen == 1 && in[pos] == '.')) {
				if (clen > 0 && in[pos] == '.')
					out_append(&r->out, in + pos + 1, clen - 1);
				else
					out_append(&r->out, in + pos, clen);
			}
			break;
		}
		if (elen == 2 && clen == 1 && in[pos] == '.' && !after_bare) {
			r->done = 1;
			r->consumed = j + 2;
			break;
		}
		if (clen > 1 && in[pos] == '.')
			out_append(&r->out, in + pos + 1, clen - 1);
		else
			out_append(&r->out, in + pos, clen);
		if (bare) {
			r->flags |= bare;
			if (normalize)
				out_append(&r->out, "\r\n", 2);
			else
				out_append(&r->out, in + j, 1);
		} else {
			out_append(&r->out, "\r\n", 2);
		}
		after_bare = bare != 0;
		pos = j + elen;
	}
	r->out_bytes = r->out.len;
}

/* xorshift32, for reproducible pseudo-random inputs. */
static uint32_t
rnd(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

START_TEST(test_random_against_model)
{
	static const char alphabet[] = { '\r', '\n', '.', '.', 'a', '\r', '\n', '\0' };
	uint32_t seed = 0x2545f491u;
	char in[1200];
	size_t cuts[8];

	for (int iter = 0; iter < 20000; iter++) {
		size_t len = rnd(&seed) % 24;
		struct run want, got;
		char how[64];

		for (size_t i = 0; i < len; i++)
			in[i] = alphabet[rnd(&seed) % sizeof(alphabet)];
		if (rnd(&seed) % 4 == 0) {
			/* Now and then, a real terminator near the end. */
			memcpy(in + len, "\r\n.\r\n", 5);
			len += 5;
			in[len++] = alphabet[rnd(&seed) % sizeof(alphabet)];
		}
		if (rnd(&seed) % 200 == 0) {
			/* Rarely, a line around the length limit. */
			size_t n = 995 + rnd(&seed) % 8;
			memset(in + len, 'x', n);
			len += n;
			in[len++] = alphabet[rnd(&seed) % 2];
		}
		for (int normalize = 0; normalize <= 1; normalize++) {
			size_t ncuts = rnd(&seed) % NELEM(cuts);

			model(in, len, normalize, &want);
			run_once(in, len, normalize, &got);
			snprintf(how, sizeof(how), "iter %d normalize %d one shot", iter,
			    normalize);
			assert_same_run(&want, &got, in, len, how);
			run_free(&got);

			for (size_t k = 0; k < ncuts; k++)
				cuts[k] = len ? rnd(&seed) % (len + 1) : 0;
			for (size_t k = 1; k < ncuts; k++)
				for (size_t m = k; m > 0 && cuts[m - 1] > cuts[m]; m--) {
					size_t t = cuts[m];
					cuts[m] = cuts[m - 1];
					cuts[m - 1] = t;
				}
			run_pieces(in, len, normalize, cuts, ncuts, &got);
			snprintf(how, sizeof(how), "iter %d normalize %d in %zu pieces",
			    iter, normalize, ncuts + 1);
			assert_same_run(&want, &got, in, len, how);
			run_free(&got);
			run_free(&want);
		}
	}
}
END_TEST

/*
 * Raw mode (BDAT of a text body): dots are content, nothing ends the
 * message, bare endings are flagged or normalised, and a CR held at the
 * end of the last chunk is settled by data_reader_end().
 */
static const struct {
	const char *in;
	size_t len;
	int normalize;
	const char *out;
	size_t out_len;
	unsigned flags;
} raw_cases[] = {
	{ ".a\r\n.\r\nb\r\n", 10, 0, ".a\r\n.\r\nb\r\n", 10, 0 },
	{ "a\nb", 3, 0, "a\nb", 3, DATA_BARE_LF },
	{ "a\nb", 3, 1, "a\r\nb", 4, DATA_BARE_LF },
	{ "a\r", 2, 0, "a\r", 2, DATA_BARE_CR },
	{ "a\r", 2, 1, "a\r\n", 3, DATA_BARE_CR },
	{ "a\r\n", 3, 1, "a\r\n", 3, 0 },
	{ "x\0y\r\n", 5, 0, "x\0y\r\n", 5, DATA_NUL },
};

START_TEST(test_raw_mode)
{
	/* Every case fed whole and byte by byte gives the same result. */
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		struct outbuf out = { NULL, 0, 0 };
		struct data_reader dr;
		int done = 0;

		data_reader_init_raw(&dr, raw_cases[_i].normalize, sink, &out);
		if (bytewise) {
			for (size_t k = 0; k < raw_cases[_i].len; k++) {
				ck_assert_uint_eq(data_reader_feed(&dr, raw_cases[_i].in + k, 1, &done), 1);
				ck_assert_int_eq(done, 0);
			}
		} else {
			ck_assert_uint_eq(data_reader_feed(&dr, raw_cases[_i].in, raw_cases[_i].len, &done),
			    raw_cases[_i].len);
			ck_assert_int_eq(done, 0);
		}
		data_reader_end(&dr);
		ck_assert_uint_eq(out.len, raw_cases[_i].out_len);
		ck_assert_mem_eq(out.data, raw_cases[_i].out, out.len);
		ck_assert_uint_eq(dr.flags, raw_cases[_i].flags);
		ck_assert_uint_eq(dr.out_bytes, out.len);
		free(out.data);
	}
}
END_TEST

static Suite *
dataread_suite(void)
{
	Suite *s = suite_create("dataread");
	TCase *tc;

	tc = tcase_create("basic");
	tcase_add_test(tc, test_simple_message);
	tcase_add_test(tc, test_next_command_not_consumed);
	tcase_add_test(tc, test_empty_message);
	tcase_add_test(tc, test_init_and_empty_feed);
	tcase_add_test(tc, test_nul_flag);
	tcase_add_test(tc, test_long_lines);
	suite_add_tcase(s, tc);

	tc = tcase_create("smuggling");
	tcase_add_loop_test(tc, test_smuggling, 0, (int)NELEM(smuggle));
	suite_add_tcase(s, tc);

	tc = tcase_create("table");
	tcase_add_loop_test(tc, test_table_oneshot, 0, (int)NELEM(cases));
	tcase_add_loop_test(tc, test_table_splits, 0, (int)NELEM(cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("raw");
	tcase_add_loop_test(tc, test_raw_mode, 0, (int)NELEM(raw_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("random");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_random_against_model);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dataread_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
