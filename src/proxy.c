/*
 * proxy - PROXY protocol v1 and v2 headers; see proxy.h.
 *
 * Version 1 is one text line, "PROXY TCP4 src dst sport dport\r\n", of
 * at most 107 octets. Version 2 is a 16-octet binary preamble (signature,
 * version and command, family and protocol, length) followed by the
 * addresses and optional TLVs.
 *
 * Both are read strictly: a header is only PROXY_NEED_MORE while the
 * octets seen so far can still become a valid header, so a client that
 * is not a proxy is turned away on its first wrong octet instead of
 * after a timeout.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "proxy.h"

#define V1_MAX 107              /* octets, including CRLF */
#define V1_ADDR4_MAX 15         /* "255.255.255.255" */
#define V1_ADDR6_MAX 45         /* INET6_ADDRSTRLEN - 1 */
#define V1_PORT_MAX 5           /* "65535" */

#define V2_PREAMBLE 16
#define V2_CMD_LOCAL 0x0
#define V2_CMD_PROXY 0x1
#define V2_TCP4 0x11
#define V2_TCP6 0x21
#define V2_TCP4_LEN 12          /* 2 * 4 address octets + 2 * 2 port octets */
#define V2_TCP6_LEN 36          /* 2 * 16 address octets + 2 * 2 port octets */

static const unsigned char v1_sig[] = { 'P', 'R', 'O', 'X', 'Y', ' ' };
static const unsigned char v2_sig[] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};

/* The v1 fields, in the order they appear on the line. */
enum v1_field { F_PROTO, F_SRC, F_DST, F_SPORT, F_DPORT };

static enum proxy_result
bad(const char **why, const char *text)
{
	*why = text;
	return PROXY_BAD;
}

/* Is what we have (possibly less than the signature) a prefix of sig? */
static int
starts_like(const unsigned char *buf, size_t len, const unsigned char *sig, size_t siglen)
{
	return memcmp(buf, sig, len < siglen ? len : siglen) == 0;
}

/* Token t[0..n) equals word (whole), or could still grow into it. */
static int
word_match(const unsigned char *t, size_t n, const char *word, int whole)
{
	size_t wlen = strlen(word);

	if (whole ? n != wlen : n > wlen)
		return 0;
	return memcmp(t, word, n) == 0;
}

static int
is_v4_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || c == '.';
}

static int
is_v6_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
	    c == ':' || c == '.';
}

/*
 * An address of the given family. A partial token is only checked for
 * its characters and length; inet_pton decides once the token is whole.
 */
static int
v1_addr(const unsigned char *t, size_t n, int family, int whole, struct sockaddr_storage *ss)
{
	size_t max = family == AF_INET ? V1_ADDR4_MAX : V1_ADDR6_MAX;
	char text[V1_ADDR6_MAX + 1];

	if (n > max)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (family == AF_INET ? !is_v4_char(t[i]) : !is_v6_char(t[i]))
			return -1;
	if (!whole)
		return 0;
	memcpy(text, t, n);
	text[n] = '\0';
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		return inet_pton(AF_INET, text, &sin->sin_addr) == 1 ? 0 : -1;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		return inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1 ? 0 : -1;
	}
}

static void
set_port(struct sockaddr_storage *ss, unsigned port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((unsigned short)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((unsigned short)port);
}

/* A decimal port 0-65535 without sign or leading zeros, or a prefix of one. */
static int
v1_port(const unsigned char *t, size_t n, int whole, struct sockaddr_storage *ss)
{
	unsigned long v = 0;

	if ((whole && n == 0) || n > V1_PORT_MAX || (n > 1 && t[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (t[i] < '0' || t[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(t[i] - '0');
	}
	if (v > 65535)
		return -1;
	if (whole)
		set_port(ss, (unsigned)v);
	return 0;
}

/*
 * Check the v1 line p[0..n) without its CRLF. When complete is 0 the line
 * is still arriving: its last field may be cut short and fields may be
 * missing, but nothing seen may be wrong.
 */
static enum proxy_result
v1_line(const unsigned char *p, size_t n, int complete, struct proxy_info *out,
    const char **why)
{
	int family = 0;
	size_t pos = sizeof(v1_sig);

	/* proxy_parse has seen "PROXY " or as much of it as there is. */
	if (n < pos)
		return PROXY_OK;
	for (int field = F_PROTO;; field++) {
		const unsigned char *sp = memchr(p + pos, ' ', n - pos);
		size_t end = sp != NULL ? (size_t)(sp - p) : n;
		const unsigned char *t = p + pos;
		size_t tlen = end - pos;
		int whole = sp != NULL || complete;

		if (whole && tlen == 0)
			return bad(why, "v1 fields must be separated by single spaces");
		switch (field) {
		case F_PROTO:
			if (word_match(t, tlen, "UNKNOWN", 1)) {
				/* The rest of the line is to be ignored. */
				out->local = 1;
				return PROXY_OK;
			}
			if (word_match(t, tlen, "TCP4", whole))
				family = AF_INET;
			else if (word_match(t, tlen, "TCP6", whole))
				family = AF_INET6;
			else if (!word_match(t, tlen, "UNKNOWN", whole))
				return bad(why, "bad v1 protocol");
			break;
		case F_SRC:
		case F_DST:
			if (v1_addr(t, tlen, family, whole, field == F_SRC ? &out->src : &out->dst) != 0)
				return bad(why, "bad v1 address");
			break;
		case F_SPORT:
		case F_DPORT:
			if (v1_port(t, tlen, whole, field == F_SPORT ? &out->src : &out->dst) != 0)
				return bad(why, "bad v1 port");
			break;
		default:
			return bad(why, "v1 header has too many fields");
		}
		if (sp == NULL) {
			if (complete && field != F_DPORT)
				return bad(why, "v1 header has too few fields");
			return PROXY_OK;
		}
		pos = end + 1;
	}
}

static enum proxy_result
v1_parse(const unsigned char *buf, size_t len, struct proxy_info *out, size_t *used,
    const char **why)
{
	size_t lim = len < V1_MAX ? len : V1_MAX;

	for (size_t i = 0; i < lim; i++) {
		if (buf[i] == '\n')
			return bad(why, "v1 header not ended by CRLF");
		if (buf[i] != '\r')
			continue;
		if (i + 2 > V1_MAX)
			return bad(why, "v1 header too long");
		if (v1_line(buf, i, 1, out, why) != PROXY_OK)
			return PROXY_BAD;
		if (i + 1 == len)
			return PROXY_NEED_MORE;
		if (buf[i + 1] != '\n')
			return bad(why, "v1 header not ended by CRLF");
		*used = i + 2;
		return PROXY_OK;
	}
	/* No CR yet: one arriving now would already make the line too long. */
	if (len >= V1_MAX - 1)
		return bad(why, "v1 header too long");
	if (v1_line(buf, len, 0, out, why) != PROXY_OK)
		return PROXY_BAD;
	return PROXY_NEED_MORE;
}

/* Addresses and ports of a PROXY command, in network order on the wire. */
static void
v2_addresses(const unsigned char *a, unsigned char fam, struct proxy_info *out)
{
	if (fam == V2_TCP4) {
		struct sockaddr_in *src = (struct sockaddr_in *)&out->src;
		struct sockaddr_in *dst = (struct sockaddr_in *)&out->dst;

		src->sin_family = dst->sin_family = AF_INET;
		memcpy(&src->sin_addr, a, 4);
		memcpy(&dst->sin_addr, a + 4, 4);
		memcpy(&src->sin_port, a + 8, 2);
		memcpy(&dst->sin_port, a + 10, 2);
	} else {
		struct sockaddr_in6 *src = (struct sockaddr_in6 *)&out->src;
		struct sockaddr_in6 *dst = (struct sockaddr_in6 *)&out->dst;

		src->sin6_family = dst->sin6_family = AF_INET6;
		memcpy(&src->sin6_addr, a, 16);
		memcpy(&dst->sin6_addr, a + 16, 16);
		memcpy(&src->sin6_port, a + 32, 2);
		memcpy(&dst->sin6_port, a + 34, 2);
	}
}

/* Each preamble octet is judged as soon as it arrives. */
static enum proxy_result
v2_parse(const unsigned char *buf, size_t len, struct proxy_info *out, size_t *used,
    const char **why)
{
	unsigned cmd;
	unsigned char fam;
	size_t dlen;

	if (len <= 12)
		return PROXY_NEED_MORE;
	if (buf[12] >> 4 != 2)
		return bad(why, "bad v2 version");
	cmd = buf[12] & 0x0F;
	if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
		return bad(why, "bad v2 command");
	if (len <= 13)
		return PROXY_NEED_MORE;
	fam = buf[13];
	/* LOCAL: the family is ignored, whatever it is. */
	if (cmd == V2_CMD_PROXY && fam != V2_TCP4 && fam != V2_TCP6)
		return bad(why, "unsupported v2 address family");
	if (len < V2_PREAMBLE)
		return PROXY_NEED_MORE;
	dlen = (size_t)buf[14] << 8 | buf[15];
	if (V2_PREAMBLE + dlen > PROXY_HEADER_MAX)
		return bad(why, "v2 header too long");
	if (cmd == V2_CMD_PROXY) {
		size_t need = fam == V2_TCP4 ? V2_TCP4_LEN : V2_TCP6_LEN;

		if (dlen < need)
			return bad(why, "v2 length too short for the addresses");
	}
	if (len < V2_PREAMBLE + dlen)
		return PROXY_NEED_MORE;
	if (cmd == V2_CMD_LOCAL)
		out->local = 1;
	else
		v2_addresses(buf + V2_PREAMBLE, fam, out);
	/* Whatever follows the addresses (TLVs) is skipped. */
	*used = V2_PREAMBLE + dlen;
	return PROXY_OK;
}

enum proxy_result
proxy_parse(const unsigned char *buf, size_t len, unsigned versions, struct proxy_info *out,
    size_t *used, const char **why)
{
	enum proxy_result r;

	memset(out, 0, sizeof(*out));
	*used = 0;
	*why = NULL;
	if (len == 0)
		return PROXY_NEED_MORE;
	if (starts_like(buf, len, v1_sig, sizeof(v1_sig))) {
		if (!(versions & PROXY_V1))
			return bad(why, "PROXY v1 not allowed on this listener");
		r = v1_parse(buf, len, out, used, why);
	} else if (starts_like(buf, len, v2_sig, sizeof(v2_sig))) {
		if (!(versions & PROXY_V2))
			return bad(why, "PROXY v2 not allowed on this listener");
		r = v2_parse(buf, len, out, used, why);
	} else
		return bad(why, "not a PROXY header");
	if (r != PROXY_OK)
		memset(out, 0, sizeof(*out)); /* a partial line may have filled some */
	return r;
}
