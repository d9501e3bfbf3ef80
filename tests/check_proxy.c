/*
 * check_proxy - unit tests for proxy.c, the PROXY protocol header parser:
 *
 *  - version 1: TCP4, TCP6 and UNKNOWN lines, addresses and ports landing
 *    in src and dst, the header length, the client's octets after it left
 *    alone, the 107-octet limit, and rejection of wrong keywords and
 *    protocols, spacing, addresses, ports and line endings;
 *  - version 2: PROXY over IPv4 and IPv6, LOCAL, TLVs skipped, and
 *    rejection of wrong versions, commands, families and lengths;
 *  - PROXY_NEED_MORE for every proper prefix of every valid header, and
 *    PROXY_BAD as soon as the octets can no longer become one;
 *  - the listener's choice of versions.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A string literal with its length, so that embedded NULs are kept. */
#define S(lit) (const unsigned char *)(lit), (sizeof(lit) - 1)

#define BOTH (PROXY_V1 | PROXY_V2)

#define V2_SIG "\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A"

/* Check that ss holds the IPv4 address text and port. */
static void
assert_in4(const struct sockaddr_storage *ss, const char *text, unsigned port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	char got[INET_ADDRSTRLEN];

	ck_assert_int_eq(ss->ss_family, AF_INET);
	ck_assert_ptr_nonnull(inet_ntop(AF_INET, &sin->sin_addr, got, sizeof(got)));
	ck_assert_str_eq(got, text);
	ck_assert_uint_eq(ntohs(sin->sin_port), port);
}

/* Check that ss holds the IPv6 address (any spelling of it) and port. */
static void
assert_in6(const struct sockaddr_storage *ss, const char *text, unsigned port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	struct in6_addr want;

	ck_assert_int_eq(ss->ss_family, AF_INET6);
	ck_assert_int_eq(inet_pton(AF_INET6, text, &want), 1);
	ck_assert_mem_eq(&sin6->sin6_addr, &want, sizeof(want));
	ck_assert_uint_eq(ntohs(sin6->sin6_port), port);
}

static void
assert_unspec(const struct proxy_info *pi)
{
	ck_assert_int_eq(pi->src.ss_family, AF_UNSPEC);
	ck_assert_int_eq(pi->dst.ss_family, AF_UNSPEC);
}

/*
 * proxy_parse on an exact-size heap copy of buf, so that the sanitizers
 * catch any read past len, and check that the octets were left alone.
 */
static enum proxy_result
parse(const unsigned char *buf, size_t len, unsigned versions, struct proxy_info *pi,
    size_t *used, const char **why)
{
	unsigned char *copy = malloc(len > 0 ? len : 1);
	enum proxy_result r;

	ck_assert_ptr_nonnull(copy);
	if (len > 0)
		memcpy(copy, buf, len);
	r = proxy_parse(copy, len, versions, pi, used, why);
	ck_assert_int_eq(memcmp(copy, buf, len), 0);
	free(copy);
	return r;
}

/*
 * Parse buf and expect PROXY_BAD with the reason why; also that nothing
 * was reported as used and nothing was left in the result.
 */
static void
expect_bad(const unsigned char *buf, size_t len, unsigned versions, const char *why)
{
	struct proxy_info pi, zero;
	const char *got = "untouched";
	size_t used = 99;

	memset(&pi, 0xA5, sizeof(pi));
	memset(&zero, 0, sizeof(zero));
	ck_assert_int_eq(parse(buf, len, versions, &pi, &used, &got), PROXY_BAD);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, why);
	ck_assert_uint_eq(used, 0);
	ck_assert_mem_eq(&pi, &zero, sizeof(pi));
}

/* Parse buf and expect PROXY_OK with *used == want_used. */
static void
expect_ok(const unsigned char *buf, size_t len, unsigned versions, struct proxy_info *pi,
    size_t want_used)
{
	const char *why = "untouched";
	size_t used = 0;

	ck_assert_int_eq(parse(buf, len, versions, pi, &used, &why), PROXY_OK);
	ck_assert_ptr_null(why);
	ck_assert_uint_eq(used, want_used);
}

/* The 16-octet v2 preamble. */
static size_t
v2_preamble(unsigned char *buf, unsigned char ver_cmd, unsigned char fam, size_t dlen)
{
	memcpy(buf, V2_SIG, 12);
	buf[12] = ver_cmd;
	buf[13] = fam;
	buf[14] = (unsigned char)(dlen >> 8);
	buf[15] = (unsigned char)(dlen & 0xFF);
	return 16;
}

/* v2 PROXY over IPv4: 192.0.2.1:56324 -> 198.51.100.2:25, then tlvlen octets. */
static size_t
v2_tcp4(unsigned char *buf, size_t tlvlen)
{
	static const unsigned char addrs[] = {
		192, 0, 2, 1, 198, 51, 100, 2, 0xDC, 0x04, 0x00, 0x19
	};
	size_t n = v2_preamble(buf, 0x21, 0x11, sizeof(addrs) + tlvlen);

	memcpy(buf + n, addrs, sizeof(addrs));
	n += sizeof(addrs);
	/* A PP2_TYPE_NOOP TLV of whatever length is asked for. */
	if (tlvlen > 0) {
		ck_assert_uint_ge(tlvlen, 3);
		buf[n] = 0x04;
		buf[n + 1] = (unsigned char)((tlvlen - 3) >> 8);
		buf[n + 2] = (unsigned char)((tlvlen - 3) & 0xFF);
		memset(buf + n + 3, 'T', tlvlen - 3);
		n += tlvlen;
	}
	return n;
}

/* v2 PROXY over IPv6: [2001:db8::1]:40000 -> [2001:db8::2]:587. */
static size_t
v2_tcp6(unsigned char *buf)
{
	size_t n = v2_preamble(buf, 0x21, 0x21, 36);

	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::1", buf + n), 1);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::2", buf + n + 16), 1);
	buf[n + 32] = 40000 >> 8;
	buf[n + 33] = 40000 & 0xFF;
	buf[n + 34] = 587 >> 8;
	buf[n + 35] = 587 & 0xFF;
	return n + 36;
}

START_TEST(test_v1_tcp4)
{
	static const char hdr[] = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n";
	static const char wire[] = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\nEHLO x\r\n";
	struct proxy_info pi;

	/* parse() checks that the client's own octets are left alone. */
	expect_ok(S(wire), BOTH, &pi, sizeof(hdr) - 1);
	ck_assert_int_eq(pi.local, 0);
	assert_in4(&pi.src, "192.0.2.1", 56324);
	assert_in4(&pi.dst, "198.51.100.2", 25);
}
END_TEST

START_TEST(test_v1_tcp6)
{
	static const char wire[] =
	    "PROXY TCP6 2001:db8::1 ::ffff:192.0.2.7 65535 0\r\nQUIT\r\n";
	struct proxy_info pi;

	expect_ok(S(wire), BOTH, &pi, sizeof(wire) - 1 - 6);
	ck_assert_int_eq(pi.local, 0);
	assert_in6(&pi.src, "2001:db8::1", 65535);
	assert_in6(&pi.dst, "::ffff:192.0.2.7", 0);
}
END_TEST

START_TEST(test_v1_unknown)
{
	struct proxy_info pi;

	expect_ok(S("PROXY UNKNOWN\r\nEHLO"), BOTH, &pi, 15);
	ck_assert_int_eq(pi.local, 1);
	assert_unspec(&pi);

	/* Whatever follows UNKNOWN on the line is ignored. */
	expect_ok(S("PROXY UNKNOWN ffff:f::1 nonsense 99999\r\n"), PROXY_V1, &pi, 40);
	ck_assert_int_eq(pi.local, 1);
	assert_unspec(&pi);
}
END_TEST

/* The longest line allowed is 107 octets including CRLF. */
START_TEST(test_v1_max_length)
{
	unsigned char buf[128];
	struct proxy_info pi;

	memcpy(buf, "PROXY UNKNOWN ", 14);
	memset(buf + 14, 'x', 105 - 14);
	memcpy(buf + 105, "\r\n", 2);
	expect_ok(buf, 107, PROXY_V1, &pi, 107);
	ck_assert_int_eq(pi.local, 1);

	/* One more octet on the line is too much. */
	memset(buf + 14, 'x', 106 - 14);
	memcpy(buf + 106, "\r\n", 2);
	expect_bad(buf, 108, PROXY_V1, "v1 header too long");

	/* The longest TCP6 lines fit exactly. */
	static const char tcp6[] = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:1.25.255.255 65535 65535\r\n";
	_Static_assert(sizeof(tcp6) - 1 == 107, "the TCP6 line must be 107 octets");
	expect_ok(S(tcp6), PROXY_V1, &pi, 107);
	assert_in6(&pi.src, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
	assert_in6(&pi.dst, "ffff:ffff:ffff:ffff:ffff:ffff:119:ffff", 65535);
}
END_TEST

START_TEST(test_v2_tcp4)
{
	unsigned char buf[64];
	struct proxy_info pi;
	size_t n = v2_tcp4(buf, 0);

	ck_assert_uint_eq(n, 28);
	memcpy(buf + n, "EHLO x\r\n", 8);
	expect_ok(buf, n + 8, BOTH, &pi, 28);
	ck_assert_int_eq(pi.local, 0);
	assert_in4(&pi.src, "192.0.2.1", 56324);
	assert_in4(&pi.dst, "198.51.100.2", 25);
}
END_TEST

START_TEST(test_v2_tcp6)
{
	unsigned char buf[64];
	struct proxy_info pi;
	size_t n = v2_tcp6(buf);

	ck_assert_uint_eq(n, 52);
	buf[n] = 'Q';
	expect_ok(buf, n + 1, PROXY_V2, &pi, 52);
	ck_assert_int_eq(pi.local, 0);
	assert_in6(&pi.src, "2001:db8::1", 40000);
	assert_in6(&pi.dst, "2001:db8::2", 587);
}
END_TEST

START_TEST(test_v2_local)
{
	unsigned char buf[64];
	struct proxy_info pi;
	size_t n;

	/* The usual health check: LOCAL, UNSPEC, no addresses. */
	n = v2_preamble(buf, 0x20, 0x00, 0);
	expect_ok(buf, n, BOTH, &pi, 16);
	ck_assert_int_eq(pi.local, 1);
	assert_unspec(&pi);

	/* LOCAL ignores the addresses and the family, even unsupported ones. */
	n = v2_tcp4(buf, 0);
	buf[12] = 0x20;
	expect_ok(buf, n, BOTH, &pi, 28);
	ck_assert_int_eq(pi.local, 1);
	assert_unspec(&pi);

	n = v2_preamble(buf, 0x20, 0x12, 3);
	memset(buf + n, 0, 3);
	expect_ok(buf, n + 3, BOTH, &pi, 19);
	ck_assert_int_eq(pi.local, 1);
	assert_unspec(&pi);
}
END_TEST

START_TEST(test_v2_tlvs)
{
	unsigned char buf[PROXY_HEADER_MAX + 8];
	struct proxy_info pi;
	size_t n;

	n = v2_tcp4(buf, 20);
	ck_assert_uint_eq(n, 48);
	memcpy(buf + n, "DATA", 4);
	expect_ok(buf, n + 4, BOTH, &pi, 48);
	assert_in4(&pi.src, "192.0.2.1", 56324);
	assert_in4(&pi.dst, "198.51.100.2", 25);

	/* The largest header allowed. */
	n = v2_tcp4(buf, PROXY_HEADER_MAX - 28);
	ck_assert_uint_eq(n, PROXY_HEADER_MAX);
	expect_ok(buf, n, BOTH, &pi, PROXY_HEADER_MAX);
	assert_in4(&pi.src, "192.0.2.1", 56324);
}
END_TEST

/* Every proper prefix of a valid header needs more; the whole is OK. */
static size_t
valid_header(int i, unsigned char *buf)
{
	static const char *const v1[] = {
		"PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n",
		"PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n",
		"PROXY TCP6 2001:db8::1 ::ffff:192.0.2.7 65535 0\r\n",
		"PROXY UNKNOWN\r\n",
		"PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n",
	};

	if (i < (int)NELEM(v1)) {
		memcpy(buf, v1[i], strlen(v1[i]));
		return strlen(v1[i]);
	}
	switch (i - (int)NELEM(v1)) {
	case 0:
		return v2_tcp4(buf, 0);
	case 1:
		return v2_tcp6(buf);
	case 2:
		return v2_tcp4(buf, 40);
	default:
		return v2_preamble(buf, 0x20, 0x00, 0);
	}
}
#define NVALID 9

START_TEST(test_need_more)
{
	unsigned char buf[PROXY_HEADER_MAX];
	size_t n = valid_header(_i, buf);
	struct proxy_info pi;

	for (size_t len = 0; len < n; len++) {
		const char *why = "untouched";
		size_t used = 99;

		ck_assert_msg(parse(buf, len, BOTH, &pi, &used, &why) == PROXY_NEED_MORE,
		    "header %d, prefix of %zu octets: %s", _i, len, why ? why : "(not bad)");
		ck_assert_ptr_null(why);
		ck_assert_uint_eq(used, 0);
	}
	expect_ok(buf, n, BOTH, &pi, n);
}
END_TEST

static const struct {
	const char *in;
	const char *why;
} v1_bad[] = {
	/* Not PROXY at all, or the wrong keyword. */
	{ "EHLO", "not a PROXY header" },
	{ "E", "not a PROXY header" },
	{ "PROXZ TCP4 192.0.2.1 198.51.100.2 1 2\r\n", "not a PROXY header" },
	{ "proxy TCP4 192.0.2.1 198.51.100.2 1 2\r\n", "not a PROXY header" },
	{ "PROXY\r\n", "not a PROXY header" },
	{ "PROXY \r\n", "v1 fields must be separated by single spaces" },
	{ "PROXY TCP5 192.0.2.1 198.51.100.2 1 2\r\n", "bad v1 protocol" },
	{ "PROXY tcp4 192.0.2.1 198.51.100.2 1 2\r\n", "bad v1 protocol" },
	{ "PROXY UDP4", "bad v1 protocol" },
	{ "PROXY UNKNOWNX\r\n", "bad v1 protocol" },
	{ "PROXY TCP4\r\n", "v1 header has too few fields" },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n", "v1 header has too few fields" },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n", "v1 header has too many fields" },
	/* Spacing. */
	{ "PROXY  TCP4 192.0.2.1 198.51.100.2 1 2\r\n",
	  "v1 fields must be separated by single spaces" },
	{ "PROXY TCP4  192.0.2.1", "v1 fields must be separated by single spaces" },
	{ "PROXY TCP4 192.0.2.1  198.51.100.2 1 2\r\n",
	  "v1 fields must be separated by single spaces" },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 1 2 \r\n",
	  "v1 fields must be separated by single spaces" },
	{ "PROXY TCP4\t192.0.2.1 198.51.100.2 1 2\r\n", "bad v1 protocol" },
	/* Addresses. */
	{ "PROXY TCP4 192.0.2.256 198.51.100.2 1 2\r\n", "bad v1 address" },
	{ "PROXY TCP4 192.0.2 198.51.100.2 1 2\r\n", "bad v1 address" },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2.1 1 2\r\n", "bad v1 address" },
	{ "PROXY TCP4 192.0.2.1 host.example 1 2\r\n", "bad v1 address" },
	{ "PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n", "bad v1 address" },
	{ "PROXY TCP4 2001:", "bad v1 address" },
	{ "PROXY TCP4 1234567890123456", "bad v1 address" },
	{ "PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n", "bad v1 address" },
	{ "PROXY TCP6 2001:db8::1 2001:db8:::2 1 2\r\n", "bad v1 address" },
	{ "PROXY TCP6 [2001:db8::1] 2001:db8::2 1 2\r\n", "bad v1 address" },
	/* Ports. */
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 65536 25\r\n", "bad v1 port" },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 25 99999\r\n", "bad v1 port" },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 025 25\r\n", "bad v1 port" },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 25 00\r\n", "bad v1 port" },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 +25 25\r\n", "bad v1 port" },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 -1 25\r\n", "bad v1 port" },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 25 2x\r\n", "bad v1 port" },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 123456", "bad v1 port" },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 70000", "bad v1 port" },
	/* Line endings. */
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n", "v1 header not ended by CRLF" },
	{ "PROXY UNKNOWN\n", "v1 header not ended by CRLF" },
	{ "PROXY UNKNOWN a\nb\r\n", "v1 header not ended by CRLF" },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\rX", "v1 header not ended by CRLF" },
	{ "PROXY UNKNOWN\r\r\n", "v1 header not ended by CRLF" },
};

START_TEST(test_v1_bad)
{
	expect_bad((const unsigned char *)v1_bad[_i].in, strlen(v1_bad[_i].in), BOTH,
	    v1_bad[_i].why);
}
END_TEST

/* A NUL inside the line, and 107 octets without a line end at all. */
START_TEST(test_v1_bad_octets)
{
	unsigned char buf[200];

	expect_bad(S("PROXY TCP4 192.0.2.1\0 198.51.100.2 1 2\r\n"), BOTH, "bad v1 address");
	expect_bad(S("PROXY TCP4 192.0.2.1 198.51.100.2 1\0 2\r\n"), BOTH, "bad v1 port");

	memcpy(buf, "PROXY UNKNOWN ", 14);
	memset(buf + 14, 'x', sizeof(buf) - 14);
	expect_bad(buf, 107, BOTH, "v1 header too long");
	/* With 106 octets and no CR, the CRLF could only end at octet 108. */
	expect_bad(buf, 106, BOTH, "v1 header too long");
	expect_bad(buf, sizeof(buf), BOTH, "v1 header too long");
	/* 105 octets without CR could still end in time. */
	{
		struct proxy_info pi;
		const char *why;
		size_t used;

		ck_assert_int_eq(parse(buf, 105, BOTH, &pi, &used, &why), PROXY_NEED_MORE);
	}
}
END_TEST

START_TEST(test_v2_bad_version)
{
	unsigned char buf[64];
	size_t n = v2_tcp4(buf, 0);

	buf[12] = 0x11; /* version 1 in binary form does not exist */
	expect_bad(buf, n, BOTH, "bad v2 version");
	expect_bad(buf, 13, BOTH, "bad v2 version");
	buf[12] = 0x31;
	expect_bad(buf, n, BOTH, "bad v2 version");
	buf[12] = 0x01;
	expect_bad(buf, n, BOTH, "bad v2 version");

	buf[12] = 0x22;
	expect_bad(buf, n, BOTH, "bad v2 command");
	buf[12] = 0x2F;
	expect_bad(buf, 13, BOTH, "bad v2 command");
}
END_TEST

START_TEST(test_v2_bad_length)
{
	unsigned char buf[64];
	size_t n;

	n = v2_preamble(buf, 0x21, 0x11, 11);
	memset(buf + n, 0, 11);
	expect_bad(buf, n + 11, BOTH, "v2 length too short for the addresses");
	expect_bad(buf, n, BOTH, "v2 length too short for the addresses");

	n = v2_preamble(buf, 0x21, 0x21, 12);
	memset(buf + n, 0, 12);
	expect_bad(buf, n + 12, BOTH, "v2 length too short for the addresses");
	n = v2_preamble(buf, 0x21, 0x21, 35);
	expect_bad(buf, n, BOTH, "v2 length too short for the addresses");
	n = v2_preamble(buf, 0x21, 0x11, 0);
	expect_bad(buf, n, BOTH, "v2 length too short for the addresses");
}
END_TEST

static const unsigned char v2_bad_families[] = {
	0x00, /* UNSPEC with PROXY */
	0x10, /* IPv4, unspecified protocol */
	0x12, /* UDP over IPv4 */
	0x22, /* UDP over IPv6 */
	0x31, /* unix stream */
	0x32, /* unix datagram */
	0x41, /* no such family */
	0x13, /* no such protocol */
};

START_TEST(test_v2_bad_family)
{
	unsigned char buf[300];
	size_t n = v2_preamble(buf, 0x21, v2_bad_families[_i], 216);

	memset(buf + n, 0, 216);
	expect_bad(buf, n + 216, BOTH, "unsupported v2 address family");
	/* Known as soon as the family octet is there. */
	expect_bad(buf, 14, BOTH, "unsupported v2 address family");
}
END_TEST

START_TEST(test_v2_too_long)
{
	unsigned char buf[PROXY_HEADER_MAX + 16];
	size_t n;

	/* Known from the length field alone, before the rest arrives. */
	n = v2_preamble(buf, 0x21, 0x11, PROXY_HEADER_MAX - 16 + 1);
	expect_bad(buf, n, BOTH, "v2 header too long");
	n = v2_tcp4(buf, PROXY_HEADER_MAX - 28 + 1);
	ck_assert_uint_eq(n, PROXY_HEADER_MAX + 1);
	expect_bad(buf, n, BOTH, "v2 header too long");
	n = v2_preamble(buf, 0x20, 0x00, 0xFFFF);
	expect_bad(buf, n, BOTH, "v2 header too long");
}
END_TEST

START_TEST(test_version_not_allowed)
{
	unsigned char buf[64];
	size_t n;

	expect_bad(S("PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r\n"), PROXY_V2,
	    "PROXY v1 not allowed on this listener");
	expect_bad(S("PROXY UNKNOWN\r\n"), 0, "PROXY v1 not allowed on this listener");
	expect_bad(S("P"), PROXY_V2, "PROXY v1 not allowed on this listener");
	expect_bad(S("EHLO"), PROXY_V2, "not a PROXY header");

	n = v2_tcp4(buf, 0);
	expect_bad(buf, n, PROXY_V1, "PROXY v2 not allowed on this listener");
	expect_bad(buf, n, 0, "PROXY v2 not allowed on this listener");
	expect_bad(buf, 1, PROXY_V1, "PROXY v2 not allowed on this listener");
	expect_bad(S("EHLO"), PROXY_V1, "not a PROXY header");

	/* Each alone still accepts its own. */
	{
		struct proxy_info pi;

		expect_ok(buf, n, PROXY_V2, &pi, 28);
		expect_ok(S("PROXY UNKNOWN\r\n"), PROXY_V1, &pi, 15);
	}
}
END_TEST

static Suite *
proxy_suite(void)
{
	Suite *s = suite_create("proxy");
	TCase *tc;

	tc = tcase_create("v1");
	tcase_add_test(tc, test_v1_tcp4);
	tcase_add_test(tc, test_v1_tcp6);
	tcase_add_test(tc, test_v1_unknown);
	tcase_add_test(tc, test_v1_max_length);
	tcase_add_loop_test(tc, test_v1_bad, 0, (int)NELEM(v1_bad));
	tcase_add_test(tc, test_v1_bad_octets);
	suite_add_tcase(s, tc);

	tc = tcase_create("v2");
	tcase_add_test(tc, test_v2_tcp4);
	tcase_add_test(tc, test_v2_tcp6);
	tcase_add_test(tc, test_v2_local);
	tcase_add_test(tc, test_v2_tlvs);
	tcase_add_test(tc, test_v2_bad_version);
	tcase_add_test(tc, test_v2_bad_length);
	tcase_add_loop_test(tc, test_v2_bad_family, 0, (int)NELEM(v2_bad_families));
	tcase_add_test(tc, test_v2_too_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("both");
	tcase_add_loop_test(tc, test_need_more, 0, NVALID);
	tcase_add_test(tc, test_version_not_allowed);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(proxy_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
