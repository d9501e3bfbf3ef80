/* libFuzzer harness for src/dataread.c. Byte 0: bit 0 normalise, bit 1 raw (BDAT);
 * bytes 1-4: chunk sizes in turn; then the body, read whole and split: same result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "dataread.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

struct out { char *p; size_t len, cap; };

static void sink(void *ctx, const char *data, size_t len)
{
	struct out *o = ctx;

	CHECK(len <= o->cap - o->len);
	memcpy(o->p + o->len, data, len);
	o->len += len;
}

/* Feed body in chunks (sizes NULL: in one go); returns octets consumed. */
static size_t run(const uint8_t *body, size_t n, int mode, const uint8_t *sizes,
    struct out *o, struct data_reader *dr, int *done)
{
	size_t pos = 0;
	int d;

	(mode & 2 ? data_reader_init_raw : data_reader_init)(dr, mode & 1, sink, o);
	*done = 0;
	for (unsigned k = 0; pos < n && !*done; k++) {
		size_t want = sizes ? sizes[k % 4] : n - pos;
		if (want == 0) { /* an empty feed consumes nothing, ends nothing */
			CHECK(data_reader_feed(dr, "", 0, &d) == 0 && !d);
			want = 1;
		}
		size_t len = want < n - pos ? want : n - pos;
		char *chunk = malloc(len);
		memcpy(chunk, body + pos, len); /* exact size: ASan catches over-reads */
		size_t used = data_reader_feed(dr, chunk, len, &d);
		free(chunk);
		CHECK(used <= len && (used == len || d) && !(d && (mode & 2)));
		pos += used;
		*done = d; /* after the end, the rest belongs to the next command */
	}
	if (mode & 2) data_reader_end(dr); /* BDAT: after the last chunk */
	CHECK(dr->out_bytes == o->len);
	return pos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 5) return 0;
	const uint8_t *body = data + 5;
	size_t n = size - 5, bare = 0;
	struct data_reader d1, d2;
	struct out o1 = { malloc(2 * n + 1), 0, 2 * n + 1 }, o2 = { malloc(2 * n + 1), 0, 2 * n + 1 };
	int done1, done2, mode = data[0] & 3;

	size_t c1 = run(body, n, mode, NULL, &o1, &d1, &done1);
	size_t c2 = run(body, n, mode, data + 1, &o2, &d2, &done2);
	CHECK(c1 == c2 && done1 == done2 && d1.flags == d2.flags && o1.len == o2.len &&
	    memcmp(o1.p, o2.p, o1.len) == 0);
	for (size_t i = 0; i < c1; i++)
		bare += body[i] == '\r' || body[i] == '\n';
	CHECK(o1.len <= c1 + (mode & 1 ? bare : 0)); /* only normalising may grow */
	CHECK((!(d1.flags & DATA_NUL) || memchr(body, '\0', c1)) &&
	    (!(d1.flags & DATA_BARE_LF) || memchr(body, '\n', c1)) &&
	    (!(d1.flags & DATA_BARE_CR) || memchr(body, '\r', c1)));
	/* The end is the first CRLF "." CRLF (or "." CRLF first), never a smuggled one. */
	const uint8_t *t = memmem(body, n, "\r\n.\r\n", 5);
	size_t end = n >= 3 && memcmp(body, ".\r\n", 3) == 0 ? 3 : t ? (size_t)(t - body) + 5 : 0;
	CHECK(mode & 2 ? !done1 && c1 == n : done1 == (end > 0) && c1 == (end ? end : n));
	if ((mode & 1) && (done1 || (mode & 2)))   /* normalised: only CRLF pairs */
		for (size_t i = 0; i < o1.len; i++)
			CHECK((o1.p[i] != '\r' || (i + 1 < o1.len && o1.p[i + 1] == '\n')) &&
			    (o1.p[i] != '\n' || (i > 0 && o1.p[i - 1] == '\r')));
	free(o1.p), free(o2.p);
	return 0;
}
