/*
 * base64 - strict RFC 4648 base64 for SMTP AUTH (RFC 4954), on top of
 * OpenSSL's EVP block coder.
 *
 * OpenSSL decodes leniently (it skips whitespace and counts padding as
 * data), so the strict checks an SMTP server owes its clients are made
 * here first: only the base64 alphabet, a length that is a multiple of
 * four, and "=" padding only at the very end.
 */
#ifndef SMTPTRAP_BASE64_H
#define SMTPTRAP_BASE64_H

#include <stddef.h>

/* Bytes needed to decode len characters (including a terminating NUL). */
#define BASE64_DECODED_MAX(len) ((len) / 4 * 3 + 1)
/* Bytes needed to encode len octets (including a terminating NUL). */
#define BASE64_ENCODED_MAX(len) (((len) + 2) / 3 * 4 + 1)

/*
 * Decode in[0..len) into out (outcap bytes) and NUL-terminate it. Returns
 * the decoded length, or -1 if the input is not strict base64 or does not
 * fit. An empty input decodes to an empty output.
 */
long base64_decode(const char *in, size_t len, unsigned char *out, size_t outcap);

/* Encode in[0..len) into out, NUL-terminated; returns the length or -1. */
long base64_encode(const void *in, size_t len, char *out, size_t outcap);

#endif
