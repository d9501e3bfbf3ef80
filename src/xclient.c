/*
 * xclient - XCLIENT attribute=value parsing; see xclient.h.
 *
 * Every value is xtext-decoded first, as Postfix does, and only then
 * compared with the special values or read as an address, port or name.
 * The checks are stricter than Postfix in two ways that matter to a test
 * daemon: a repeated attribute is an error rather than "last one wins",
 * and names end up printable, so they are safe in logs and header fields.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "xclient.h"

#define XCLIENT_ARGS_MAX 2048   /* octets of arguments */
#define XCLIENT_TEXT_MAX 255    /* octets of a decoded NAME, HELO or LOGIN */
#define UNKNOWN_NAME_MAX 32     /* octets of an unknown name quoted back */

static const struct attr {
	const char *name;
	unsigned bit;
	const char *bad_value;
	const char *bad_xtext;
	const char *duplicate;
} attrs[] = {
	{ "ADDR", XCLIENT_ADDR, "bad ADDR value", "bad xtext in ADDR",
	  "duplicate attribute ADDR" },
	{ "NAME", XCLIENT_NAME, "bad NAME value", "bad xtext in NAME",
	  "duplicate attribute NAME" },
	{ "HELO", XCLIENT_HELO, "bad HELO value", "bad xtext in HELO",
	  "duplicate attribute HELO" },
	{ "LOGIN", XCLIENT_LOGIN, "bad LOGIN value", "bad xtext in LOGIN",
	  "duplicate attribute LOGIN" },
	{ "PROTO", XCLIENT_PROTO, "bad PROTO value", "bad xtext in PROTO",
	  "duplicate attribute PROTO" },
	{ "PORT", XCLIENT_PORT, "bad PORT value", "bad xtext in PORT",
	  "duplicate attribute PORT" },
};

static const struct attr *
find_attr(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (strlen(attrs[i].name) == len && strncasecmp(attrs[i].name, name, len) == 0)
			return &attrs[i];
	return NULL;
}

/* "unknown attribute NAME", with the name made safe to send back. */
static const char *
unknown_attr(const char *name, size_t len)
{
	static char text[sizeof("unknown attribute ") + UNKNOWN_NAME_MAX + sizeof("...")];
	char safe[UNKNOWN_NAME_MAX + 1];
	size_t n = len < UNKNOWN_NAME_MAX ? len : UNKNOWN_NAME_MAX;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		safe[i] = c >= 33 && c <= 126 ? (char)c : '?';
	}
	safe[n] = '\0';
	snprintf(text, sizeof(text), "unknown attribute %s%s", safe,
	    len > UNKNOWN_NAME_MAX ? "..." : "");
	return text;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * RFC 3461 xtext: "+" and two uppercase hex digits, or any octet from
 * "!" to "~" except "+" and "=". out must hold len + 1 octets; it is
 * NUL-terminated but may hold decoded NULs, so *outlen counts.
 */
static int
xtext_decode(const char *in, size_t len, char *out, size_t *outlen)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '+') {
			int hi, lo;

			if (len - i < 3 || (hi = hexval(in[i + 1])) < 0 ||
			    (lo = hexval(in[i + 2])) < 0)
				return -1;
			out[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (c < 33 || c > 126 || c == '=')
			return -1;
		else
			out[n++] = (char)c;
	}
	out[n] = '\0';
	*outlen = n;
	return 0;
}

/* IPv4, "IPV6:" and IPv6 (Postfix form), or a bare IPv6 address. */
static int
parse_addr(const char *v, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	if (strncasecmp(v, "IPV6:", 5) == 0)
		v += 5;
	else if (inet_pton(AF_INET, v, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, v, &sin6->sin6_addr) != 1)
		return -1;
	sin6->sin6_family = AF_INET6;
	return 0;
}

static int
parse_port(const char *v, size_t len, int *port)
{
	long n = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	if (n > 65535)
		return -1;
	*port = (int)n;
	return 0;
}

/* NAME, HELO, LOGIN: 1-255 printable octets, no spaces. */
static int
take_text(char *dst, const char *v, size_t len)
{
	if (len == 0 || len > XCLIENT_TEXT_MAX)
		return -1;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] < 33 || (unsigned char)v[i] > 126)
			return -1;
	memcpy(dst, v, len);
	dst[len] = '\0';
	return 0;
}

static int
is_special(const char *v, size_t len)
{
	return (len == strlen("[UNAVAILABLE]") && strcasecmp(v, "[UNAVAILABLE]") == 0) ||
	    (len == strlen("[TEMPUNAVAIL]") && strcasecmp(v, "[TEMPUNAVAIL]") == 0);
}

/* One decoded value; returns 0 or -1 for a bad value. */
static int
take_value(const struct attr *a, const char *v, size_t len, struct xclient_attrs *out)
{
	if (memchr(v, '\0', len) != NULL)
		return -1;
	switch (a->bit) {
	case XCLIENT_ADDR:
		return parse_addr(v, &out->addr);
	case XCLIENT_PORT:
		return parse_port(v, len, &out->port);
	case XCLIENT_PROTO:
		if (strcasecmp(v, "SMTP") == 0)
			out->esmtp = 0;
		else if (strcasecmp(v, "ESMTP") == 0)
			out->esmtp = 1;
		else
			return -1;
		return 0;
	case XCLIENT_NAME:
		return take_text(out->name, v, len);
	case XCLIENT_HELO:
		return take_text(out->helo, v, len);
	case XCLIENT_LOGIN:
		return take_text(out->login, v, len);
	default:
		return -1;
	}
}

static int
fail(struct xclient_attrs *out, const char **why, const char *text)
{
	memset(out, 0, sizeof(*out));
	*why = text;
	return -1;
}

int
xclient_parse(const char *args, size_t len, struct xclient_attrs *out, const char **why)
{
	char value[XCLIENT_ARGS_MAX + 1];
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	if (len > XCLIENT_ARGS_MAX)
		return fail(out, why, "XCLIENT arguments too long");
	if (len == 0)
		return fail(out, why, "no attributes");
	for (;;) {
		const char *tok = args + pos;
		const char *sp = memchr(tok, ' ', len - pos);
		size_t tlen = sp != NULL ? (size_t)(sp - tok) : len - pos;
		const char *eq = memchr(tok, '=', tlen);
		size_t nlen = eq != NULL ? (size_t)(eq - tok) : tlen;
		const struct attr *a;
		size_t vlen;

		if (tlen == 0)
			return fail(out, why, "attributes must be separated by single spaces");
		if (nlen == 0)
			return fail(out, why, "attribute name missing");
		if ((a = find_attr(tok, nlen)) == NULL)
			return fail(out, why, unknown_attr(tok, nlen));
		if ((out->present | out->unavailable) & a->bit)
			return fail(out, why, a->duplicate);
		if (eq == NULL)
			return fail(out, why, a->bad_value);
		if (xtext_decode(eq + 1, tlen - nlen - 1, value, &vlen) != 0)
			return fail(out, why, a->bad_xtext);
		if (is_special(value, vlen))
			out->unavailable |= a->bit;
		else if (take_value(a, value, vlen, out) != 0)
			return fail(out, why, a->bad_value);
		else
			out->present |= a->bit;
		if (sp == NULL)
			break;
		pos += tlen + 1;
	}
	if ((out->present & XCLIENT_ADDR) && (out->present & XCLIENT_PORT)) {
		if (out->addr.ss_family == AF_INET)
			((struct sockaddr_in *)&out->addr)->sin_port = htons((unsigned short)out->port);
		else
			((struct sockaddr_in6 *)&out->addr)->sin6_port = htons((unsigned short)out->port);
	}
	*why = NULL;
	return 0;
}
