/*
 * libFuzzer harness for src/auth.c and src/base64.c. Byte 0: bits 0-1 the
 * mechanism (3: an unknown one), bit 2 an initial response. The rest is
 * split at LF into the client's lines (the first is the initial response).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "base64.h"
#include "config.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static const unsigned mechs[] = { AUTH_MECH_PLAIN, AUTH_MECH_LOGIN, AUTH_MECH_CRAM_MD5, 1u << 7 };

static void check(struct auth_exchange *ex, enum auth_status st)
{
	unsigned char dec[sizeof(ex->challenge)];

	CHECK(st != AUTH_MALFORMED || ex->why != NULL);
	if (st == AUTH_CHALLENGE)
		CHECK(base64_decode(ex->challenge, strlen(ex->challenge), dec, sizeof(dec)) >= 0);
	if (st != AUTH_CHECK)
		return;
	size_t ulen = strnlen(ex->user, sizeof(ex->user)), slen = strnlen(ex->secret, sizeof(ex->secret));
	CHECK(ulen > 0 && ulen <= AUTH_USER_MAX && slen <= AUTH_SECRET_MAX);
	CHECK(strnlen(ex->authzid, sizeof(ex->authzid)) <= AUTH_USER_MAX);
	for (size_t i = 0; i < ulen; i++)
		CHECK((unsigned char)ex->user[i] >= 32 && ex->user[i] != 127);
	if (ex->mech == AUTH_MECH_CRAM_MD5)
		CHECK(slen == 32 && strspn(ex->secret, "0123456789abcdef") == 32);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4 * AUTH_LINE_MAX)
		return 0;
	static struct auth_exchange ex;
	unsigned mech = mechs[data[0] & 3];
	const char *p = (const char *)data + 1, *end = (const char *)data + size;
	enum auth_status st = AUTH_CHALLENGE;

	for (int first = 1, more = 1; more && st == AUTH_CHALLENGE; first = 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *line = malloc(len);
		memcpy(line, p, len); /* exact size: ASan catches over-reads */
		if (first)
			st = auth_start(&ex, mech, data[0] & 4 ? line : NULL, len, "<1896.697170952@host>");
		else
			st = auth_next(&ex, line, len);
		check(&ex, st);
		/* base64: decoded sizes add up; any octets survive encode + decode. */
		unsigned char *dec = malloc(BASE64_DECODED_MAX(len));
		long n = base64_decode(line, len, dec, BASE64_DECODED_MAX(len));
		CHECK(n < 0 || (len % 4 == 0 && (size_t)n <= len / 4 * 3 && (size_t)n + 2 >= len / 4 * 3));
		char *enc = malloc(BASE64_ENCODED_MAX(len));
		long elen = base64_encode(line, len, enc, BASE64_ENCODED_MAX(len));
		CHECK(elen == (long)BASE64_ENCODED_MAX(len) - 1);
		unsigned char *back = malloc(BASE64_DECODED_MAX((size_t)elen));
		CHECK(base64_decode(enc, (size_t)elen, back, BASE64_DECODED_MAX((size_t)elen)) == (long)len);
		CHECK(memcmp(back, line, len) == 0);
		free(line), free(dec), free(enc), free(back);
		if (first && !(data[0] & 4) && st == AUTH_CHALLENGE)
			continue; /* no initial response: this line answers the challenge */
		more = nl != NULL;
		p = more ? nl + 1 : end;
	}
	const char *name = (const char *)data + 1, *eol = memchr(name, '\n', size - 1);
	size_t nlen = eol ? (size_t)(eol - name) : size - 1;
	unsigned m = auth_mech_from_name(name, nlen);
	const char *mn = auth_mech_name(m);
	CHECK(m == 0 || (strlen(mn) == nlen && strncasecmp(mn, name, nlen) == 0));
	auth_clear(&ex);
	return 0;
}
