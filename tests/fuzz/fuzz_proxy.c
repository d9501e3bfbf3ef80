/*
 * libFuzzer harness for src/proxy.c. Byte 0 picks the accepted versions;
 * the rest is what a listener received. Every prefix is parsed too: a
 * result may only go NEED_MORE -> OK or NEED_MORE -> BAD as octets arrive.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "proxy.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static enum proxy_result parse(const uint8_t *b, size_t len, unsigned versions, size_t *used)
{
	unsigned char *copy = malloc(len);
	struct proxy_info pi;
	const char *why = "x";

	memcpy(copy, b, len); /* exact size: ASan catches over-reads */
	enum proxy_result r = proxy_parse(copy, len, versions, &pi, used, &why);
	free(copy);
	CHECK(r == PROXY_OK || r == PROXY_NEED_MORE || r == PROXY_BAD);
	CHECK((r == PROXY_BAD) == (why != NULL) && (r == PROXY_OK || *used == 0));
	CHECK(r != PROXY_NEED_MORE || len < PROXY_HEADER_MAX);
	if (r != PROXY_OK)
		return r;
	CHECK(*used > 0 && *used <= len && *used <= PROXY_HEADER_MAX);
	CHECK(versions & (b[0] == 'P' ? PROXY_V1 : PROXY_V2));
	if (pi.local) {
		CHECK(pi.src.ss_family == AF_UNSPEC && pi.dst.ss_family == AF_UNSPEC);
	} else {
		CHECK(pi.src.ss_family == AF_INET || pi.src.ss_family == AF_INET6);
		CHECK(pi.dst.ss_family == pi.src.ss_family);
	}
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 2 * PROXY_HEADER_MAX)
		return 0;
	unsigned versions = data[0] & 3;
	const uint8_t *b = data + 1;
	size_t n = size - 1, used, used_all;
	enum proxy_result all = parse(b, n, versions, &used_all);

	/* The header is self-contained: exactly its octets give the same. */
	if (all == PROXY_OK)
		CHECK(parse(b, used_all, versions, &used) == PROXY_OK && used == used_all);
	/* Strictness: no prefix is BAD or OK unless the whole input is too. */
	enum proxy_result prev = PROXY_NEED_MORE;
	for (size_t k = 0; k < n; k++) {
		enum proxy_result r = parse(b, k, versions, &used);
		CHECK(prev == PROXY_NEED_MORE || r == prev);
		CHECK(r == PROXY_NEED_MORE || r == all);
		CHECK(r != PROXY_OK || used == used_all);
		prev = r;
	}
	return 0;
}
