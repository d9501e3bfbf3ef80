/*
 * auth - SASL PLAIN, LOGIN and CRAM-MD5 exchanges; see auth.h.
 */
#include <ctype.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "base64.h"
#include "config.h"

static const struct {
	const char *name;
	unsigned mech;
} mechs[] = {
	{ "PLAIN", AUTH_MECH_PLAIN },
	{ "LOGIN", AUTH_MECH_LOGIN },
	{ "CRAM-MD5", AUTH_MECH_CRAM_MD5 },
};

unsigned
auth_mech_from_name(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (strlen(mechs[i].name) == len && strncasecmp(mechs[i].name, name, len) == 0)
			return mechs[i].mech;
	return 0;
}

const char *
auth_mech_name(unsigned mech)
{
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (mechs[i].mech == mech)
			return mechs[i].name;
	return "?";
}

void
auth_clear(struct auth_exchange *ex)
{
	OPENSSL_cleanse(ex, sizeof(*ex));
}

static void
set_challenge(struct auth_exchange *ex, const char *text)
{
	if (base64_encode(text, strlen(text), ex->challenge, sizeof(ex->challenge)) < 0)
		ex->challenge[0] = '\0';
}

static enum auth_status
malformed(struct auth_exchange *ex, const char *why)
{
	ex->why = why;
	return AUTH_MALFORMED;
}

/* Copy a decoded field that must hold no NUL and fit max octets. */
static int
take_field(char *dst, size_t max, const char *src, size_t len)
{
	if (len > max || memchr(src, '\0', len) != NULL)
		return -1;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

/*
 * A user name: as take_field, and no control characters, since names go
 * into logs and header fields.
 */
static int
take_name(char *dst, const char *src, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)src[i] < 32 || src[i] == 127)
			return -1;
	return take_field(dst, AUTH_USER_MAX, src, len);
}

/* RFC 4616: [authzid] NUL authcid NUL passwd. */
static enum auth_status
plain_message(struct auth_exchange *ex, const unsigned char *msg, size_t len)
{
	const char *m = (const char *)msg;
	const char *nul1 = memchr(m, '\0', len);
	const char *nul2 = nul1 ? memchr(nul1 + 1, '\0', len - (size_t)(nul1 + 1 - m)) : NULL;

	if (nul1 == NULL || nul2 == NULL)
		return malformed(ex, "PLAIN response must be authzid NUL user NUL password");
	if (take_name(ex->authzid, m, (size_t)(nul1 - m)) != 0 ||
	    take_name(ex->user, nul1 + 1, (size_t)(nul2 - nul1 - 1)) != 0)
		return malformed(ex, "user name too long or holds control characters");
	if (take_field(ex->secret, AUTH_SECRET_MAX, nul2 + 1, len - (size_t)(nul2 + 1 - m)) != 0)
		return malformed(ex, "password too long or holds a NUL");
	if (ex->user[0] == '\0')
		return malformed(ex, "empty user name");
	return AUTH_CHECK;
}

/* RFC 2195: "user SP digest", digest 32 lowercase hex digits. */
static enum auth_status
cram_message(struct auth_exchange *ex, const unsigned char *msg, size_t len)
{
	const char *m = (const char *)msg;
	const char *sp = NULL;

	for (size_t i = len; i > 0; i--) {
		if (m[i - 1] == ' ') {
			sp = m + i - 1;
			break;
		}
	}
	if (sp == NULL || sp == m)
		return malformed(ex, "CRAM-MD5 response must be user SP digest");
	size_t dlen = len - (size_t)(sp + 1 - m);
	if (dlen != 32)
		return malformed(ex, "CRAM-MD5 digest must be 32 hex digits");
	for (size_t i = 0; i < dlen; i++) {
		if (!isxdigit((unsigned char)sp[1 + i]))
			return malformed(ex, "CRAM-MD5 digest must be 32 hex digits");
		ex->secret[i] = (char)tolower((unsigned char)sp[1 + i]);
	}
	ex->secret[dlen] = '\0';
	if (take_name(ex->user, m, (size_t)(sp - m)) != 0)
		return malformed(ex, "user name too long or holds control characters");
	return AUTH_CHECK;
}

/* Decode one response into buf; "*" cancels. */
static enum auth_status
decode(struct auth_exchange *ex, const char *line, size_t len, unsigned char *buf,
    size_t cap, long *n)
{
	(void)ex;
	if (len == 1 && line[0] == '*')
		return AUTH_CANCELED;
	*n = base64_decode(line, len, buf, cap);
	if (*n < 0)
		return AUTH_BAD_BASE64;
	return AUTH_CHECK; /* "decoded"; the caller goes on */
}

static enum auth_status
step(struct auth_exchange *ex, const char *line, size_t len)
{
	unsigned char buf[BASE64_DECODED_MAX(AUTH_LINE_MAX)];
	long n = 0;
	enum auth_status st = decode(ex, line, len, buf, sizeof(buf), &n);

	if (st != AUTH_CHECK)
		return st;
	switch (ex->mech) {
	case AUTH_MECH_PLAIN:
		return plain_message(ex, buf, (size_t)n);
	case AUTH_MECH_CRAM_MD5:
		return cram_message(ex, buf, (size_t)n);
	case AUTH_MECH_LOGIN:
		if (ex->step == 0) {
			if (take_name(ex->user, (const char *)buf, (size_t)n) != 0)
				return malformed(ex, "user name too long or holds control characters");
			if (ex->user[0] == '\0')
				return malformed(ex, "empty user name");
			ex->step = 1;
			set_challenge(ex, "Password:");
			return AUTH_CHALLENGE;
		}
		if (take_field(ex->secret, AUTH_SECRET_MAX, (const char *)buf, (size_t)n) != 0)
			return malformed(ex, "password too long or holds a NUL");
		return AUTH_CHECK;
	default:
		return malformed(ex, "unknown mechanism");
	}
}

enum auth_status
auth_start(struct auth_exchange *ex, unsigned mech, const char *initial, size_t initial_len,
    const char *cram)
{
	memset(ex, 0, sizeof(*ex));
	ex->mech = mech;
	if (initial != NULL && initial_len == 1 && initial[0] == '=')
		initial_len = 0; /* RFC 4954 4: "=" is an empty initial response */
	switch (mech) {
	case AUTH_MECH_PLAIN:
		if (initial != NULL)
			return step(ex, initial, initial_len);
		ex->challenge[0] = '\0';
		return AUTH_CHALLENGE;
	case AUTH_MECH_LOGIN:
		if (initial != NULL)
			return step(ex, initial, initial_len);
		set_challenge(ex, "Username:");
		return AUTH_CHALLENGE;
	case AUTH_MECH_CRAM_MD5:
		if (initial != NULL)
			return malformed(ex, "CRAM-MD5 takes no initial response");
		snprintf(ex->cram, sizeof(ex->cram), "%s", cram ? cram : "");
		set_challenge(ex, ex->cram);
		return AUTH_CHALLENGE;
	default:
		return malformed(ex, "unknown mechanism");
	}
}

enum auth_status
auth_next(struct auth_exchange *ex, const char *line, size_t len)
{
	return step(ex, line, len);
}
