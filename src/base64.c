/*
 * base64 - strict base64 over OpenSSL's EVP coder; see base64.h.
 */
#include <limits.h>
#include <openssl/evp.h>
#include <string.h>

#include "base64.h"

static int
is_b64(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '+' || c == '/';
}

long
base64_decode(const char *in, size_t len, unsigned char *out, size_t outcap)
{
	size_t pad = 0;

	if (outcap < BASE64_DECODED_MAX(len) || len > INT_MAX || len % 4 != 0)
		return -1;
	if (len == 0) {
		out[0] = '\0';
		return 0;
	}
	if (in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < len - pad; i++)
		if (!is_b64((unsigned char)in[i]))
			return -1;
	int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	if (n < 0 || (size_t)n < pad)
		return -1;
	n -= (int)pad;
	out[n] = '\0';
	return n;
}

long
base64_encode(const void *in, size_t len, char *out, size_t outcap)
{
	if (len > INT_MAX / 2 || outcap < BASE64_ENCODED_MAX(len))
		return -1;
	return EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}
