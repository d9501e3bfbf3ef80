/*
 * check_xclient - unit tests for xclient.c, the XCLIENT argument parser:
 * every attribute, case-insensitive names, [UNAVAILABLE] and [TEMPUNAVAIL],
 * ADDR as IPv4, "IPV6:" and bare IPv6, PORT applied to ADDR, xtext
 * decoding and its limits, the 2048-octet limit, and every error with its
 * exact reason, including that a failure leaves nothing behind.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xclient.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define ALL (XCLIENT_ADDR | XCLIENT_NAME | XCLIENT_HELO | XCLIENT_LOGIN | \
    XCLIENT_PROTO | XCLIENT_PORT)

/*
 * xclient_parse on an exact-size heap copy of args[0..len), with no NUL
 * after it, so that the sanitizers catch any read past len.
 */
static int
parse(const char *args, size_t len, struct xclient_attrs *xa, const char **why)
{
	char *copy = malloc(len > 0 ? len : 1);
	int r;

	ck_assert_ptr_nonnull(copy);
	if (len > 0)
		memcpy(copy, args, len);
	r = xclient_parse(copy, len, xa, why);
	free(copy);
	return r;
}

/* Parse a NUL-terminated string and expect success. */
static void
expect_ok(const char *args, struct xclient_attrs *xa)
{
	const char *why = "untouched";

	ck_assert_msg(parse(args, strlen(args), xa, &why) == 0, "%s: %s", args,
	    why != NULL ? why : "(null)");
	ck_assert_ptr_null(why);
}

/* Parse args[0..len) and expect failure with the reason want. */
static void
expect_fail_len(const char *args, size_t len, const char *want)
{
	struct xclient_attrs xa, zero;
	const char *why = NULL;

	memset(&xa, 0xA5, sizeof(xa));
	memset(&zero, 0, sizeof(zero));
	ck_assert_int_eq(parse(args, len, &xa, &why), -1);
	ck_assert_ptr_nonnull(why);
	ck_assert_str_eq(why, want);
	/* Nothing half-parsed is left for the caller to use by mistake. */
	ck_assert_mem_eq(&xa, &zero, sizeof(xa));
}

static void
expect_fail(const char *args, const char *want)
{
	expect_fail_len(args, strlen(args), want);
}

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

START_TEST(test_addr_ipv4)
{
	struct xclient_attrs xa;

	expect_ok("ADDR=192.0.2.1", &xa);
	ck_assert_uint_eq(xa.present, XCLIENT_ADDR);
	ck_assert_uint_eq(xa.unavailable, 0);
	assert_in4(&xa.addr, "192.0.2.1", 0);
}
END_TEST

START_TEST(test_addr_ipv6)
{
	struct xclient_attrs xa;

	expect_ok("ADDR=IPV6:2001:db8::1", &xa);
	ck_assert_uint_eq(xa.present, XCLIENT_ADDR);
	assert_in6(&xa.addr, "2001:db8::1", 0);

	expect_ok("addr=ipv6:2001:DB8::5", &xa);
	assert_in6(&xa.addr, "2001:db8::5", 0);

	expect_ok("ADDR=IPv6:::ffff:192.0.2.9", &xa);
	assert_in6(&xa.addr, "::ffff:192.0.2.9", 0);

	/* A bare IPv6 address is taken too. */
	expect_ok("ADDR=2001:db8::7", &xa);
	ck_assert_uint_eq(xa.present, XCLIENT_ADDR);
	assert_in6(&xa.addr, "2001:db8::7", 0);
}
END_TEST

START_TEST(test_port)
{
	struct xclient_attrs xa;

	expect_ok("PORT=2525", &xa);
	ck_assert_uint_eq(xa.present, XCLIENT_PORT);
	ck_assert_int_eq(xa.port, 2525);
	/* No ADDR: there is no address to put the port in. */
	ck_assert_int_eq(xa.addr.ss_family, AF_UNSPEC);

	expect_ok("PORT=0", &xa);
	ck_assert_uint_eq(xa.present, XCLIENT_PORT);
	ck_assert_int_eq(xa.port, 0);
	expect_ok("PORT=65535", &xa);
	ck_assert_int_eq(xa.port, 65535);
	/* Up to five digits, as Postfix allows. */
	expect_ok("PORT=00025", &xa);
	ck_assert_int_eq(xa.port, 25);
}
END_TEST

START_TEST(test_port_applied)
{
	struct xclient_attrs xa;

	expect_ok("ADDR=192.0.2.1 PORT=40000", &xa);
	ck_assert_uint_eq(xa.present, XCLIENT_ADDR | XCLIENT_PORT);
	ck_assert_int_eq(xa.port, 40000);
	assert_in4(&xa.addr, "192.0.2.1", 40000);

	/* In either order, and for IPv6. */
	expect_ok("PORT=587 ADDR=IPV6:2001:db8::1", &xa);
	ck_assert_int_eq(xa.port, 587);
	assert_in6(&xa.addr, "2001:db8::1", 587);

	/* An unavailable port leaves the address's port at 0. */
	expect_ok("ADDR=192.0.2.1 PORT=[UNAVAILABLE]", &xa);
	ck_assert_uint_eq(xa.present, XCLIENT_ADDR);
	ck_assert_uint_eq(xa.unavailable, XCLIENT_PORT);
	assert_in4(&xa.addr, "192.0.2.1", 0);
}
END_TEST

START_TEST(test_texts)
{
	struct xclient_attrs xa;

	expect_ok("NAME=mail.example.com HELO=client.example LOGIN=alice@example.org", &xa);
	ck_assert_uint_eq(xa.present, XCLIENT_NAME | XCLIENT_HELO | XCLIENT_LOGIN);
	ck_assert_str_eq(xa.name, "mail.example.com");
	ck_assert_str_eq(xa.helo, "client.example");
	ck_assert_str_eq(xa.login, "alice@example.org");
	ck_assert_int_eq(xa.addr.ss_family, AF_UNSPEC);

	/* Any printable octet but "+" and "=" goes through as it is. */
	expect_ok("HELO=[192.0.2.1] LOGIN=!\"#$%&'()*,-./:;<>?@[\\]^_`{|}~", &xa);
	ck_assert_str_eq(xa.helo, "[192.0.2.1]");
	ck_assert_str_eq(xa.login, "!\"#$%&'()*,-./:;<>?@[\\]^_`{|}~");
}
END_TEST

START_TEST(test_proto)
{
	struct xclient_attrs xa;

	expect_ok("PROTO=ESMTP", &xa);
	ck_assert_uint_eq(xa.present, XCLIENT_PROTO);
	ck_assert_int_eq(xa.esmtp, 1);
	expect_ok("PROTO=SMTP", &xa);
	ck_assert_uint_eq(xa.present, XCLIENT_PROTO);
	ck_assert_int_eq(xa.esmtp, 0);
	expect_ok("proto=esmtp", &xa);
	ck_assert_int_eq(xa.esmtp, 1);
	expect_ok("Proto=Smtp", &xa);
	ck_assert_int_eq(xa.esmtp, 0);
}
END_TEST

START_TEST(test_all_attributes)
{
	struct xclient_attrs xa;

	expect_ok("addr=198.51.100.7 Name=relay.example hElO=relay LOGIN=bob proto=ESMTP port=25",
	    &xa);
	ck_assert_uint_eq(xa.present, ALL);
	ck_assert_uint_eq(xa.unavailable, 0);
	assert_in4(&xa.addr, "198.51.100.7", 25);
	ck_assert_str_eq(xa.name, "relay.example");
	ck_assert_str_eq(xa.helo, "relay");
	ck_assert_str_eq(xa.login, "bob");
	ck_assert_int_eq(xa.esmtp, 1);
	ck_assert_int_eq(xa.port, 25);
}
END_TEST

static const char *const attr_names[] = { "ADDR", "NAME", "HELO", "LOGIN", "PROTO", "PORT" };
static const char *const specials[] = {
	"[UNAVAILABLE]", "[TEMPUNAVAIL]", "[unavailable]", "[TempUnavail]"
};

/* Each attribute with each special value: unavailable, not present, no value. */
START_TEST(test_unavailable)
{
	const char *attr = attr_names[_i % NELEM(attr_names)];
	const char *special = specials[_i / NELEM(attr_names)];
	unsigned bit = 1u << (_i % NELEM(attr_names));
	struct xclient_attrs xa;
	char args[64];

	snprintf(args, sizeof(args), "%s=%s", attr, special);
	expect_ok(args, &xa);
	ck_assert_uint_eq(xa.unavailable, bit);
	ck_assert_uint_eq(xa.present, 0);
	ck_assert_int_eq(xa.addr.ss_family, AF_UNSPEC);
	ck_assert_str_eq(xa.name, "");
	ck_assert_str_eq(xa.helo, "");
	ck_assert_str_eq(xa.login, "");
	ck_assert_int_eq(xa.port, 0);
	ck_assert_int_eq(xa.esmtp, 0);
}
END_TEST

START_TEST(test_unavailable_all)
{
	struct xclient_attrs xa;

	expect_ok("ADDR=[TEMPUNAVAIL] NAME=[UNAVAILABLE] HELO=[UNAVAILABLE] "
	    "LOGIN=[UNAVAILABLE] PROTO=[UNAVAILABLE] PORT=[TEMPUNAVAIL]", &xa);
	ck_assert_uint_eq(xa.unavailable, ALL);
	ck_assert_uint_eq(xa.present, 0);

	expect_ok("NAME=[TEMPUNAVAIL] ADDR=192.0.2.1", &xa);
	ck_assert_uint_eq(xa.unavailable, XCLIENT_NAME);
	ck_assert_uint_eq(xa.present, XCLIENT_ADDR);
	ck_assert_str_eq(xa.name, "");

	/* The special values are recognised after xtext decoding. */
	expect_ok("NAME=+5BUNAVAILABLE+5D", &xa);
	ck_assert_uint_eq(xa.unavailable, XCLIENT_NAME);
	ck_assert_uint_eq(xa.present, 0);
}
END_TEST

START_TEST(test_xtext)
{
	struct xclient_attrs xa;

	expect_ok("HELO=a+2Bb", &xa);
	ck_assert_str_eq(xa.helo, "a+b");
	expect_ok("LOGIN=+41+42c NAME=x+3Dy", &xa);
	ck_assert_str_eq(xa.login, "ABc");
	ck_assert_str_eq(xa.name, "x=y");
	expect_ok("HELO=+21+7E", &xa);
	ck_assert_str_eq(xa.helo, "!~");
	/* Values other than texts are decoded too. */
	expect_ok("ADDR=IPV6+3A2001+3Adb8+3A+3A1 PORT=+32+35 PROTO=+45SMTP", &xa);
	assert_in6(&xa.addr, "2001:db8::1", 25);
	ck_assert_int_eq(xa.esmtp, 1);
}
END_TEST

/* A text is 1-255 octets once decoded, however long its xtext. */
START_TEST(test_text_limits)
{
	char args[1024], want[256];
	struct xclient_attrs xa;
	size_t n;

	memset(want, 'h', 255);
	want[255] = '\0';
	snprintf(args, sizeof(args), "HELO=%s", want);
	expect_ok(args, &xa);
	ck_assert_str_eq(xa.helo, want);

	snprintf(args, sizeof(args), "HELO=%sh", want);
	expect_fail(args, "bad HELO value");

	n = (size_t)snprintf(args, sizeof(args), "LOGIN=");
	for (int i = 0; i < 255; i++)
		n += (size_t)snprintf(args + n, sizeof(args) - n, "+41");
	memset(want, 'A', 255);
	expect_ok(args, &xa);
	ck_assert_str_eq(xa.login, want);

	snprintf(args + n, sizeof(args) - n, "+41");
	expect_fail(args, "bad LOGIN value");
}
END_TEST

/* Exactly 2048 octets are allowed; one more is not. */
START_TEST(test_args_limit)
{
	char args[2100];
	struct xclient_attrs xa;
	const char *why;
	size_t n = 0;

	n += (size_t)snprintf(args + n, sizeof(args) - n, "NAME=");
	for (int i = 0; i < 255; i++)
		n += (size_t)snprintf(args + n, sizeof(args) - n, "+61");
	n += (size_t)snprintf(args + n, sizeof(args) - n, " HELO=");
	for (int i = 0; i < 255; i++)
		n += (size_t)snprintf(args + n, sizeof(args) - n, "+62");
	n += (size_t)snprintf(args + n, sizeof(args) - n, " LOGIN=");
	/* 1548 octets so far; 500 more that decode to 168. */
	for (int i = 0; i < 166; i++)
		n += (size_t)snprintf(args + n, sizeof(args) - n, "+63");
	n += (size_t)snprintf(args + n, sizeof(args) - n, "cc");
	expect_ok(args, &xa);
	ck_assert_uint_eq(xa.present, XCLIENT_NAME | XCLIENT_HELO | XCLIENT_LOGIN);
	ck_assert_uint_eq(strlen(xa.name), 255);
	ck_assert_uint_eq(strlen(xa.helo), 255);
	ck_assert_uint_eq(strlen(xa.login), 168);

	args[n++] = 'c';
	args[n] = '\0';
	expect_fail(args, "XCLIENT arguments too long");

	/* The limit is checked before anything else. */
	ck_assert_int_eq(xclient_parse(args, sizeof(args), &xa, &why), -1);
	ck_assert_str_eq(why, "XCLIENT arguments too long");
}
END_TEST

/* Only len octets are read: args need not be NUL-terminated. */
START_TEST(test_length_respected)
{
	struct xclient_attrs xa;
	const char *why = NULL;

	ck_assert_int_eq(parse("NAME=abcdef HELO=x", 8, &xa, &why), 0);
	ck_assert_uint_eq(xa.present, XCLIENT_NAME);
	ck_assert_str_eq(xa.name, "abc");

	ck_assert_int_eq(parse("PORT=123456", 8, &xa, &why), 0);
	ck_assert_int_eq(xa.port, 123);

	expect_fail_len("NAME=abc", 5, "bad NAME value");
	expect_fail_len("HELO=a+2Bb", 7, "bad xtext in HELO");
	expect_fail_len("HELO=a+2Bb", 8, "bad xtext in HELO");
}
END_TEST

static const struct {
	const char *args;
	const char *why;
} failures[] = {
	{ "", "no attributes" },
	/* Separators. */
	{ " ", "attributes must be separated by single spaces" },
	{ " NAME=a", "attributes must be separated by single spaces" },
	{ "NAME=a ", "attributes must be separated by single spaces" },
	{ "NAME=a  HELO=b", "attributes must be separated by single spaces" },
	{ "NAME=a\tHELO=b", "bad xtext in NAME" },
	/* Names. */
	{ "FOO=bar", "unknown attribute FOO" },
	{ "NAME=a FOO=bar", "unknown attribute FOO" },
	{ "DESTADDR=192.0.2.1", "unknown attribute DESTADDR" },
	{ "ADDRESS=192.0.2.1", "unknown attribute ADDRESS" },
	{ "ADD=192.0.2.1", "unknown attribute ADD" },
	{ "NA\x01ME=a", "unknown attribute NA?ME" },
	{ "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJ=1",
	  "unknown attribute ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF..." },
	{ "=a", "attribute name missing" },
	{ "NAME=a =b", "attribute name missing" },
	/* Attributes without "=value". */
	{ "NAME", "bad NAME value" },
	{ "ADDR", "bad ADDR value" },
	/* ADDR. */
	{ "ADDR=", "bad ADDR value" },
	{ "ADDR=192.0.2", "bad ADDR value" },
	{ "ADDR=192.0.2.256", "bad ADDR value" },
	{ "ADDR=192.0.2.1.5", "bad ADDR value" },
	{ "ADDR=host.example", "bad ADDR value" },
	{ "ADDR=[192.0.2.1]", "bad ADDR value" },
	{ "ADDR=IPV4:192.0.2.1", "bad ADDR value" },
	{ "ADDR=IPV6:", "bad ADDR value" },
	{ "ADDR=IPV6:192.0.2.1", "bad ADDR value" },
	{ "ADDR=IPV6:2001:db8:::1", "bad ADDR value" },
	{ "ADDR=IPV6IPV6:2001:db8::1", "bad ADDR value" },
	{ "ADDR=192.0.2.1+00", "bad ADDR value" },
	{ "ADDR=192.0.2.1+", "bad xtext in ADDR" },
	/* PORT. */
	{ "PORT=", "bad PORT value" },
	{ "PORT=65536", "bad PORT value" },
	{ "PORT=123456", "bad PORT value" },
	{ "PORT=000025", "bad PORT value" },
	{ "PORT=-1", "bad PORT value" },
	{ "PORT=+2B25", "bad PORT value" },
	{ "PORT=+25", "bad PORT value" },
	{ "PORT=2x", "bad PORT value" },
	{ "PORT=25+00", "bad PORT value" },
	{ "PORT=+", "bad xtext in PORT" },
	/* PROTO. */
	{ "PROTO=", "bad PROTO value" },
	{ "PROTO=LMTP", "bad PROTO value" },
	{ "PROTO=ESMTPS", "bad PROTO value" },
	{ "PROTO=SMTP+00", "bad PROTO value" },
	{ "PROTO=E=SMTP", "bad xtext in PROTO" },
	/* Texts. */
	{ "NAME=", "bad NAME value" },
	{ "HELO=", "bad HELO value" },
	{ "LOGIN=", "bad LOGIN value" },
	{ "HELO=a+20b", "bad HELO value" },
	{ "HELO=+00", "bad HELO value" },
	{ "LOGIN=a+00b", "bad LOGIN value" },
	{ "NAME=a+0Ab", "bad NAME value" },
	{ "NAME=+7F", "bad NAME value" },
	{ "LOGIN=+C3+A9", "bad LOGIN value" },
	{ "NAME=[UNAVAILABLE]+00x", "bad NAME value" },
	/* Malformed xtext. */
	{ "HELO=a+2bb", "bad xtext in HELO" },
	{ "HELO=a+2", "bad xtext in HELO" },
	{ "HELO=a+", "bad xtext in HELO" },
	{ "HELO=a+G0", "bad xtext in HELO" },
	{ "HELO=a+ 0", "bad xtext in HELO" },
	{ "HELO=a=b", "bad xtext in HELO" },
	{ "HELO=a\x01z", "bad xtext in HELO" },
	{ "HELO=a\x7fz", "bad xtext in HELO" },
	{ "LOGIN=\xc3\xa9", "bad xtext in LOGIN" },
	{ "NAME=a\rb", "bad xtext in NAME" },
	/* Duplicates, whatever the case or value. */
	{ "ADDR=192.0.2.1 ADDR=192.0.2.2", "duplicate attribute ADDR" },
	{ "NAME=a name=b", "duplicate attribute NAME" },
	{ "HELO=[UNAVAILABLE] HELO=x", "duplicate attribute HELO" },
	{ "LOGIN=x LOGIN=[TEMPUNAVAIL]", "duplicate attribute LOGIN" },
	{ "PROTO=SMTP PROTO=SMTP", "duplicate attribute PROTO" },
	{ "PORT=1 NAME=a PORT=2", "duplicate attribute PORT" },
	{ "HELO=x HELO", "duplicate attribute HELO" },
};

START_TEST(test_failures)
{
	expect_fail(failures[_i].args, failures[_i].why);
}
END_TEST

/* A NUL in the arguments themselves is not xtext. */
START_TEST(test_raw_nul)
{
	static const char args[] = "HELO=a\0b";

	expect_fail_len(args, sizeof(args) - 1, "bad xtext in HELO");
	expect_fail_len("NA\0E=a", 6, "unknown attribute NA?E");
}
END_TEST

static Suite *
xclient_suite(void)
{
	Suite *s = suite_create("xclient");
	TCase *tc;

	tc = tcase_create("attributes");
	tcase_add_test(tc, test_addr_ipv4);
	tcase_add_test(tc, test_addr_ipv6);
	tcase_add_test(tc, test_port);
	tcase_add_test(tc, test_port_applied);
	tcase_add_test(tc, test_texts);
	tcase_add_test(tc, test_proto);
	tcase_add_test(tc, test_all_attributes);
	tcase_add_loop_test(tc, test_unavailable, 0, (int)(NELEM(attr_names) * NELEM(specials)));
	tcase_add_test(tc, test_unavailable_all);
	suite_add_tcase(s, tc);

	tc = tcase_create("xtext");
	tcase_add_test(tc, test_xtext);
	tcase_add_test(tc, test_text_limits);
	tcase_add_test(tc, test_args_limit);
	tcase_add_test(tc, test_length_respected);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_failures, 0, (int)NELEM(failures));
	tcase_add_test(tc, test_raw_nul);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(xclient_suite());
	int failures_n;

	srunner_run_all(sr, CK_NORMAL);
	failures_n = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures_n ? 1 : 0;
}
