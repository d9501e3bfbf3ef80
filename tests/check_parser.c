/*
 * check_parser - unit tests for the pure SMTP command parser (parser.c):
 * verb recognition, MAIL FROM / RCPT TO paths and their ESMTP parameters,
 * mailbox, domain, address literal, xtext and UTF-8 checks, the HELO/EHLO
 * argument and the BDAT arguments.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser.h"

/* A string literal with its length, so that embedded NULs are kept. */
#define S(lit) (lit), (sizeof(lit) - 1)

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Fill dst with n copies of c and a NUL. */
static char *
fill(char *dst, char c, size_t n)
{
	memset(dst, c, n);
	dst[n] = '\0';
	return dst;
}

/*
 * parser_command
 */

static const struct {
	const char *line;
	enum smtp_verb verb;
	const char *verb_text;
	const char *args;
} command_cases[] = {
	{ "mail FROM:<a@b>", VERB_MAIL, "mail", "FROM:<a@b>" },
	{ "MAIL FROM:<a@b>", VERB_MAIL, "MAIL", "FROM:<a@b>" },
	{ "MaIl FROM:<a@b>", VERB_MAIL, "MaIl", "FROM:<a@b>" },
	{ "rcpt TO:<x@y>", VERB_RCPT, "rcpt", "TO:<x@y>" },
	{ "EHLO client.example", VERB_EHLO, "EHLO", "client.example" },
	{ "helo client.example", VERB_HELO, "helo", "client.example" },
	{ "QUIT", VERB_QUIT, "QUIT", "" },
	{ "quit", VERB_QUIT, "quit", "" },
	{ "DATA", VERB_DATA, "DATA", "" },
	{ "BDAT 10 LAST", VERB_BDAT, "BDAT", "10 LAST" },
	{ "noop", VERB_NOOP, "noop", "" },
	{ "RSET", VERB_RSET, "RSET", "" },
	{ "StartTLS", VERB_STARTTLS, "StartTLS", "" },
	{ "AUTH PLAIN", VERB_AUTH, "AUTH", "PLAIN" },
	{ "VRFY user", VERB_VRFY, "VRFY", "user" },
	{ "EXPN list", VERB_EXPN, "EXPN", "list" },
	{ "HELP", VERB_HELP, "HELP", "" },
	{ "ETRN example.com", VERB_ETRN, "ETRN", "example.com" },
	{ "TURN", VERB_TURN, "TURN", "" },
	/* Only the one space after the verb is taken off. */
	{ "NOOP  x", VERB_NOOP, "NOOP", " x" },
	{ "HELO ", VERB_HELO, "HELO", "" },
	{ "NOOP x y ", VERB_NOOP, "NOOP", "x y " },
	/* Unknown verbs still parse, as VERB_UNKNOWN. */
	{ "FOO", VERB_UNKNOWN, "FOO", "" },
	{ "FOO bar", VERB_UNKNOWN, "FOO", "bar" },
	{ "NOOPX", VERB_UNKNOWN, "NOOPX", "" },
	{ "NOO", VERB_UNKNOWN, "NOO", "" },
	{ "MAILFROM:<a@b>", VERB_UNKNOWN, "MAILFROM:<a@b>", "" },
	{ "MAIL\tFROM:<a@b>", VERB_UNKNOWN, "MAIL\tFROM:<a@b>", "" },
	{ "STARTTLSX", VERB_UNKNOWN, "STARTTLSX", "" },
};

START_TEST(test_command_table)
{
	const char *line = command_cases[_i].line;
	struct smtp_command cmd;
	enum parse_result r;

	r = parser_command(line, strlen(line), &cmd);
	ck_assert_msg(r == PARSE_OK, "\"%s\": result %d", line, r);
	ck_assert_msg(cmd.verb == command_cases[_i].verb,
	    "\"%s\": verb %d, want %d", line, cmd.verb, command_cases[_i].verb);
	ck_assert_uint_eq(cmd.verb_len, strlen(command_cases[_i].verb_text));
	ck_assert_ptr_eq(cmd.verb_text, line);
	ck_assert_mem_eq(cmd.verb_text, command_cases[_i].verb_text, cmd.verb_len);
	ck_assert_uint_eq(cmd.args_len, strlen(command_cases[_i].args));
	ck_assert_mem_eq(cmd.args, command_cases[_i].args, cmd.args_len);
	if (cmd.args_len > 0)
		ck_assert_ptr_eq(cmd.args, line + cmd.verb_len + 1);
}
END_TEST

START_TEST(test_command_len_bounded)
{
	struct smtp_command cmd;

	/* Only len bytes count: "NOOP" out of "NOOPX". */
	ck_assert_int_eq(parser_command("NOOPX", 4, &cmd), PARSE_OK);
	ck_assert_int_eq(cmd.verb, VERB_NOOP);
	ck_assert_uint_eq(cmd.args_len, 0);
	ck_assert_str_eq(cmd.args, "");
}
END_TEST

START_TEST(test_command_empty)
{
	struct smtp_command cmd;

	ck_assert_int_eq(parser_command("", 0, &cmd), PARSE_SYNTAX);
	ck_assert_int_eq(cmd.verb, VERB_UNKNOWN);
	/* A leading space leaves an empty verb. */
	ck_assert_int_eq(parser_command(S(" NOOP"), &cmd), PARSE_SYNTAX);
	ck_assert_int_eq(parser_command(S(" "), &cmd), PARSE_SYNTAX);
}
END_TEST

START_TEST(test_command_nul)
{
	struct smtp_command cmd;

	ck_assert_int_eq(parser_command(S("NO\0OP"), &cmd), PARSE_NUL);
	ck_assert_int_eq(parser_command(S("NOOP \0"), &cmd), PARSE_NUL);
	ck_assert_int_eq(parser_command(S("\0"), &cmd), PARSE_NUL);
	ck_assert_int_eq(parser_command(S("MAIL FROM:<a\0@b>"), &cmd), PARSE_NUL);
}
END_TEST

START_TEST(test_verb_names)
{
	struct smtp_command cmd;

	ck_assert_str_eq(parser_verb_name(VERB_UNKNOWN), "UNKNOWN");
	ck_assert_str_eq(parser_verb_name(VERB_MAIL), "MAIL");
	ck_assert_str_eq(parser_verb_name(VERB_STARTTLS), "STARTTLS");
	/* Every verb's name parses back to that verb. */
	for (int v = VERB_UNKNOWN + 1; v < VERB_COUNT; v++) {
		const char *name = parser_verb_name((enum smtp_verb)v);
		ck_assert_str_ne(name, "UNKNOWN");
		ck_assert_int_eq(parser_command(name, strlen(name), &cmd), PARSE_OK);
		ck_assert_int_eq(cmd.verb, v);
	}
}
END_TEST

/*
 * parser_path: the path itself
 */

#define NOPT 0
#define NULLOK 1
#define PMOK 2

static const struct {
	const char *args;
	size_t len;
	const char *prefix;
	int opts;               /* NULLOK, PMOK */
	enum parse_result want;
	const char *mailbox;    /* when want == PARSE_OK */
	int has_route;
	int has_utf8;
} path_cases[] = {
	/* Plain paths; the prefix is case-insensitive. */
	{ S("FROM:<user@example.com>"), "FROM:", NULLOK, PARSE_OK, "user@example.com", 0, 0 },
	{ S("from:<user@example.com>"), "FROM:", NULLOK, PARSE_OK, "user@example.com", 0, 0 },
	{ S("TO:<user@example.com>"), "TO:", NOPT, PARSE_OK, "user@example.com", 0, 0 },
	{ S("To:<User.Name+tag@Sub.Example.COM>"), "TO:", NOPT, PARSE_OK, "User.Name+tag@Sub.Example.COM", 0, 0 },
	{ S("TO:<a@b>"), "TO:", NOPT, PARSE_OK, "a@b", 0, 0 },
	{ S("TO:<!#$%&'*+-/=?^_`{|}~@example.com>"), "TO:", NOPT, PARSE_OK, "!#$%&'*+-/=?^_`{|}~@example.com", 0, 0 },
	/* One space after the colon, no more. */
	{ S("FROM: <user@example.com>"), "FROM:", NULLOK, PARSE_OK, "user@example.com", 0, 0 },
	{ S("TO: <user@example.com>"), "TO:", NOPT, PARSE_OK, "user@example.com", 0, 0 },
	{ S("FROM:  <user@example.com>"), "FROM:", NULLOK, PARSE_SYNTAX, NULL, 0, 0 },
	{ S("FROM :<user@example.com>"), "FROM:", NULLOK, PARSE_SYNTAX, NULL, 0, 0 },
	/* Brackets are required. */
	{ S("FROM:user@example.com"), "FROM:", NULLOK, PARSE_SYNTAX, NULL, 0, 0 },
	{ S("FROM:<user@example.com"), "FROM:", NULLOK, PARSE_SYNTAX, NULL, 0, 0 },
	{ S("FROM:user@example.com>"), "FROM:", NULLOK, PARSE_SYNTAX, NULL, 0, 0 },
	{ S("FROM:<"), "FROM:", NULLOK, PARSE_SYNTAX, NULL, 0, 0 },
	{ S("FROM:"), "FROM:", NULLOK, PARSE_SYNTAX, NULL, 0, 0 },
	{ S("FROM: "), "FROM:", NULLOK, PARSE_SYNTAX, NULL, 0, 0 },
	{ S(""), "FROM:", NULLOK, PARSE_SYNTAX, NULL, 0, 0 },
	/* Wrong or missing prefix. */
	{ S("TO:<user@example.com>"), "FROM:", NULLOK, PARSE_SYNTAX, NULL, 0, 0 },
	{ S("FROM:<user@example.com>"), "TO:", NOPT, PARSE_SYNTAX, NULL, 0, 0 },
	{ S("<user@example.com>"), "TO:", NOPT, PARSE_SYNTAX, NULL, 0, 0 },
	{ S("FROM<user@example.com>"), "FROM:", NULLOK, PARSE_SYNTAX, NULL, 0, 0 },
	{ S("FRO"), "FROM:", NULLOK, PARSE_SYNTAX, NULL, 0, 0 },
	/* The null reverse-path. */
	{ S("FROM:<>"), "FROM:", NULLOK, PARSE_OK, "", 0, 0 },
	{ S("FROM: <>"), "FROM:", NULLOK, PARSE_OK, "", 0, 0 },
	{ S("FROM:<>"), "FROM:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<>"), "TO:", PMOK, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	/* The bare postmaster, any case, only when allowed. */
	{ S("TO:<postmaster>"), "TO:", PMOK, PARSE_OK, "postmaster", 0, 0 },
	{ S("TO:<Postmaster>"), "TO:", PMOK, PARSE_OK, "Postmaster", 0, 0 },
	{ S("TO:<POSTMASTER>"), "TO:", PMOK, PARSE_OK, "POSTMASTER", 0, 0 },
	{ S("TO:<pOsTmAsTeR>"), "TO:", PMOK, PARSE_OK, "pOsTmAsTeR", 0, 0 },
	{ S("TO:<postmaster>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("FROM:<postmaster>"), "FROM:", NULLOK, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<postmasterx>"), "TO:", PMOK, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<postmaste>"), "TO:", PMOK, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<postmaster@example.com>"), "TO:", NOPT, PARSE_OK, "postmaster@example.com", 0, 0 },
	/* RFC 5321 4.1.1.3: "<Postmaster>" exactly, not after a source route. */
	{ S("TO:<@a.example:postmaster>"), "TO:", PMOK, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	/* Source routes are accepted and dropped. */
	{ S("TO:<@a.example,@b.example:user@c.example>"), "TO:", NOPT, PARSE_OK, "user@c.example", 1, 0 },
	{ S("TO:<@a.example:user@c.example>"), "TO:", NOPT, PARSE_OK, "user@c.example", 1, 0 },
	{ S("FROM:<@a.example,@b.example,@c.example:u@d.example>"), "FROM:", NULLOK, PARSE_OK, "u@d.example", 1, 0 },
	{ S("TO:<@a.example,b.example:user@c.example>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<@:user@c.example>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<@a..example:user@c.example>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<@a.example,@b.example:>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("FROM:<@a.example:>"), "FROM:", NULLOK, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<@example.com>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	/* Quoted local parts, with '>' and '@' hidden inside the quotes. */
	{ S("TO:<\"john doe\"@example.com>"), "TO:", NOPT, PARSE_OK, "\"john doe\"@example.com", 0, 0 },
	{ S("TO:<\"a>b@c\"@example.com>"), "TO:", NOPT, PARSE_OK, "\"a>b@c\"@example.com", 0, 0 },
	{ S("TO:<\"a\\\"b\"@example.com>"), "TO:", NOPT, PARSE_OK, "\"a\\\"b\"@example.com", 0, 0 },
	{ S("TO:<\"a\\\\\"@example.com>"), "TO:", NOPT, PARSE_OK, "\"a\\\\\"@example.com", 0, 0 },
	{ S("TO:<@r.example:\"x>y\"@example.com>"), "TO:", NOPT, PARSE_OK, "\"x>y\"@example.com", 1, 0 },
	{ S("TO:<\"unterminated@example.com>"), "TO:", NOPT, PARSE_SYNTAX, NULL, 0, 0 },
	{ S("TO:<\"a\"b@example.com>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<\"a\"@>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<\"a\tb\"@example.com>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	/* Address literals. */
	{ S("TO:<user@[192.0.2.1]>"), "TO:", NOPT, PARSE_OK, "user@[192.0.2.1]", 0, 0 },
	{ S("TO:<user@[IPv6:2001:db8::1]>"), "TO:", NOPT, PARSE_OK, "user@[IPv6:2001:db8::1]", 0, 0 },
	{ S("TO:<user@[300.1.1.1]>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<user@[IPv6:zz::1]>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<user@[192.0.2.1>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<user@192.0.2.1]>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	/* Domains. */
	{ S("TO:<user@-example.com>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<user@example-.com>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<user@example.-com>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<user@example.com->"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<user@ex-ample.com>"), "TO:", NOPT, PARSE_OK, "user@ex-ample.com", 0, 0 },
	{ S("TO:<user@example..com>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<user@.example.com>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<user@example.com.>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<user@exa_mple.com>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<user@>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<user>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<a@b@c>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	/* Local parts. */
	{ S("TO:<.user@example.com>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<user.@example.com>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<us..er@example.com>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<u ser@example.com>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<us(er@example.com>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<us,er@example.com>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	/* UTF-8 (RFC 6531). */
	{ S("TO:<用户@例子.广告>"), "TO:", NOPT, PARSE_OK, "用户@例子.广告", 0, 1 },
	{ S("TO:<user@例子.广告>"), "TO:", NOPT, PARSE_OK, "user@例子.广告", 0, 1 },
	{ S("TO:<jöran@example.com>"), "TO:", NOPT, PARSE_OK, "jöran@example.com", 0, 1 },
	{ S("TO:<\"jö ran\"@example.com>"), "TO:", NOPT, PARSE_OK, "\"jö ran\"@example.com", 0, 1 },
	{ S("TO:<\xC3\x28@example.com>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<\xC0\xAF@example.com>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<user@exa\xC3\x28mple.com>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<user@\xC0\xAF.com>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<\xED\xA0\x80@example.com>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	{ S("TO:<\xC3@example.com>"), "TO:", NOPT, PARSE_BAD_ADDRESS, NULL, 0, 0 },
	/* A NUL is never part of a path. */
	{ S("TO:<a\0@example.com>"), "TO:", NOPT, PARSE_SYNTAX, NULL, 0, 0 },
	/* What follows the bracket must start with a space. */
	{ S("TO:<a@b.c>SIZE=1"), "TO:", NOPT, PARSE_SYNTAX, NULL, 0, 0 },
	{ S("TO:<a@b.c>>"), "TO:", NOPT, PARSE_SYNTAX, NULL, 0, 0 },
	{ S("TO:<a@b.c> "), "TO:", NOPT, PARSE_OK, "a@b.c", 0, 0 },
};

START_TEST(test_path_table)
{
	struct smtp_path_cmd pc;
	enum parse_result r;

	memset(&pc, 0x5a, sizeof(pc));
	r = parser_path(path_cases[_i].args, path_cases[_i].len,
	    path_cases[_i].prefix, (path_cases[_i].opts & NULLOK) != 0,
	    (path_cases[_i].opts & PMOK) != 0, &pc);
	ck_assert_msg(r == path_cases[_i].want, "case %d \"%s\": result %d, want %d",
	    _i, path_cases[_i].args, r, path_cases[_i].want);
	if (r != PARSE_OK)
		return;
	ck_assert_str_eq(pc.mailbox, path_cases[_i].mailbox);
	ck_assert_uint_eq(pc.mailbox_len, strlen(path_cases[_i].mailbox));
	ck_assert_int_eq(pc.has_route, path_cases[_i].has_route);
	ck_assert_int_eq(pc.has_utf8, path_cases[_i].has_utf8);
	ck_assert_uint_eq(pc.nparams, 0);
}
END_TEST

/* The result points into the struct's own copy, not into the input. */
START_TEST(test_path_private_copy)
{
	struct smtp_path_cmd pc;
	char args[] = "FROM:<user@example.com> SIZE=10";

	ck_assert_int_eq(parser_path(args, strlen(args), "FROM:", 1, 0, &pc), PARSE_OK);
	memset(args, 'X', sizeof(args) - 1);
	ck_assert_str_eq(pc.mailbox, "user@example.com");
	ck_assert_uint_eq(pc.nparams, 1);
	ck_assert_str_eq(pc.params[0].keyword, "SIZE");
	ck_assert_str_eq(pc.params[0].value, "10");
	ck_assert(pc.mailbox >= pc.copy && pc.mailbox < pc.copy + sizeof(pc.copy));
}
END_TEST

/* Only len bytes are read; the input need not be NUL-terminated. */
START_TEST(test_path_len_bounded)
{
	struct smtp_path_cmd pc;
	const char *args = "TO:<a@b.example>SIZE=1";

	ck_assert_int_eq(parser_path(args, 16, "TO:", 0, 0, &pc), PARSE_OK);
	ck_assert_str_eq(pc.mailbox, "a@b.example");
	ck_assert_uint_eq(pc.nparams, 0);
	ck_assert_int_eq(parser_path(args, 15, "TO:", 0, 0, &pc), PARSE_SYNTAX);
}
END_TEST

/* Build "TO:<" local "@" domain ">" into buf; returns its length. */
static size_t
make_path(char *buf, size_t size, const char *local, const char *domain)
{
	int n = snprintf(buf, size, "TO:<%s@%s>", local, domain);

	ck_assert(n > 0 && (size_t)n < size);
	return (size_t)n;
}

/* A domain of 49-octet labels of 'd's, total length n. */
static char *
make_domain(char *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (i % 50 == 49) ? '.' : 'd';
	dst[n] = '\0';
	ck_assert(n == 0 || dst[n - 1] != '.');
	return dst;
}

START_TEST(test_path_limits)
{
	struct smtp_path_cmd pc;
	char local[128], domain[300], args[600];
	size_t len;

	/* A local part of 64 octets is fine, 65 is too long. */
	len = make_path(args, sizeof(args), fill(local, 'l', 64), "example.com");
	ck_assert_int_eq(parser_path(args, len, "TO:", 0, 0, &pc), PARSE_OK);
	ck_assert_uint_eq(pc.mailbox_len, 64 + 1 + 11);
	len = make_path(args, sizeof(args), fill(local, 'l', 65), "example.com");
	ck_assert_int_eq(parser_path(args, len, "TO:", 0, 0, &pc), PARSE_TOO_LONG);

	/* A quoted local part counts its quotes. */
	local[0] = '"';
	fill(local + 1, 'q', 62);
	strcat(local, "\"");
	len = make_path(args, sizeof(args), local, "example.com");
	ck_assert_int_eq(parser_path(args, len, "TO:", 0, 0, &pc), PARSE_OK);
	local[0] = '"';
	fill(local + 1, 'q', 63);
	strcat(local, "\"");
	len = make_path(args, sizeof(args), local, "example.com");
	ck_assert_int_eq(parser_path(args, len, "TO:", 0, 0, &pc), PARSE_TOO_LONG);

	/* The path with its brackets: 256 is fine, 257 too long. */
	fill(local, 'l', 64);
	len = make_path(args, sizeof(args), local, make_domain(domain, 189));
	ck_assert_uint_eq(len - 3, 256);
	ck_assert_int_eq(parser_path(args, len, "TO:", 0, 0, &pc), PARSE_OK);
	len = make_path(args, sizeof(args), local, make_domain(domain, 190));
	ck_assert_uint_eq(len - 3, 257);
	ck_assert_int_eq(parser_path(args, len, "TO:", 0, 0, &pc), PARSE_TOO_LONG);
	len = make_path(args, sizeof(args), "a", make_domain(domain, 255));
	ck_assert_int_eq(parser_path(args, len, "TO:", 0, 0, &pc), PARSE_TOO_LONG);

	/* A domain label of 63 octets is fine, 64 is not. */
	len = make_path(args, sizeof(args), "a", strcat(fill(domain, 'd', 63), ".com"));
	ck_assert_int_eq(parser_path(args, len, "TO:", 0, 0, &pc), PARSE_OK);
	len = make_path(args, sizeof(args), "a", strcat(fill(domain, 'd', 64), ".com"));
	ck_assert_int_eq(parser_path(args, len, "TO:", 0, 0, &pc), PARSE_BAD_ADDRESS);
}
END_TEST

/* Arguments longer than a command line are refused without overflow. */
START_TEST(test_path_overlong_args)
{
	struct smtp_path_cmd pc;
	char args[2048];
	size_t len;

	strcpy(args, "TO:<a@example.com> X=");
	len = strlen(args);
	memset(args + len, 'v', sizeof(args) - len - 1);
	args[sizeof(args) - 1] = '\0';
	ck_assert_int_ne(parser_path(args, sizeof(args) - 1, "TO:", 0, 0, &pc), PARSE_OK);
	ck_assert_int_ne(parser_path(args, SMTP_CMD_LINE_MAX + 1, "TO:", 0, 0, &pc), PARSE_OK);
	/* Exactly SMTP_CMD_LINE_MAX octets still fit the copy. */
	ck_assert_int_eq(parser_path(args, SMTP_CMD_LINE_MAX, "TO:", 0, 0, &pc), PARSE_OK);
	ck_assert_uint_eq(pc.nparams, 1);
	ck_assert_uint_eq(strlen(pc.params[0].value), SMTP_CMD_LINE_MAX - len);
}
END_TEST

/*
 * parser_path: ESMTP parameters
 */

START_TEST(test_params_split)
{
	struct smtp_path_cmd pc;

	ck_assert_int_eq(parser_path(S("FROM:<a@b.c> SIZE=1000 BODY=8BITMIME"),
	    "FROM:", 1, 0, &pc), PARSE_OK);
	ck_assert_str_eq(pc.mailbox, "a@b.c");
	ck_assert_uint_eq(pc.nparams, 2);
	ck_assert_str_eq(pc.params[0].keyword, "SIZE");
	ck_assert_str_eq(pc.params[0].value, "1000");
	ck_assert_str_eq(pc.params[1].keyword, "BODY");
	ck_assert_str_eq(pc.params[1].value, "8BITMIME");

	/* The null sender with parameters. */
	ck_assert_int_eq(parser_path(S("FROM:<> BODY=7BIT"), "FROM:", 1, 0, &pc),
	    PARSE_OK);
	ck_assert_str_eq(pc.mailbox, "");
	ck_assert_uint_eq(pc.nparams, 1);
	ck_assert_str_eq(pc.params[0].keyword, "BODY");
	ck_assert_str_eq(pc.params[0].value, "7BIT");
}
END_TEST

START_TEST(test_params_no_value)
{
	struct smtp_path_cmd pc;

	ck_assert_int_eq(parser_path(S("FROM:<a@b.c> SMTPUTF8"), "FROM:", 1, 0, &pc),
	    PARSE_OK);
	ck_assert_uint_eq(pc.nparams, 1);
	ck_assert_str_eq(pc.params[0].keyword, "SMTPUTF8");
	ck_assert_ptr_null(pc.params[0].value);

	ck_assert_int_eq(parser_path(S("FROM:<a@b.c> SMTPUTF8 SIZE=5"), "FROM:", 1,
	    0, &pc), PARSE_OK);
	ck_assert_uint_eq(pc.nparams, 2);
	ck_assert_ptr_null(pc.params[0].value);
	ck_assert_str_eq(pc.params[1].value, "5");
}
END_TEST

START_TEST(test_params_spaces)
{
	struct smtp_path_cmd pc;

	/* Runs of spaces and trailing spaces are tolerated. */
	ck_assert_int_eq(parser_path(S("FROM:<a@b.c>   SIZE=1    SMTPUTF8   "),
	    "FROM:", 1, 0, &pc), PARSE_OK);
	ck_assert_uint_eq(pc.nparams, 2);
	ck_assert_str_eq(pc.params[0].keyword, "SIZE");
	ck_assert_str_eq(pc.params[0].value, "1");
	ck_assert_str_eq(pc.params[1].keyword, "SMTPUTF8");
	ck_assert_ptr_null(pc.params[1].value);
}
END_TEST

START_TEST(test_params_utf8_value)
{
	struct smtp_path_cmd pc;

	ck_assert_int_eq(parser_path(S("TO:<a@b.c> ORCPT=rfc822;caf\xC3\xA9@b.c"),
	    "TO:", 0, 0, &pc), PARSE_OK);
	ck_assert_str_eq(pc.params[0].value, "rfc822;caf\xC3\xA9@b.c");
	ck_assert_int_eq(parser_path(S("TO:<a@b.c> X=\xC3\x28"), "TO:", 0, 0, &pc),
	    PARSE_BAD_PARAM);
}
END_TEST

static const struct {
	const char *args;
	enum parse_result want;
} bad_param_cases[] = {
	{ "FROM:<a@b.c> SIZE=1 SIZE=2", PARSE_BAD_PARAM },
	{ "FROM:<a@b.c> SIZE=1 size=2", PARSE_BAD_PARAM },
	{ "FROM:<a@b.c> SMTPUTF8 smtputf8", PARSE_BAD_PARAM },
	{ "FROM:<a@b.c> BODY=7BIT Body=8BITMIME", PARSE_BAD_PARAM },
	{ "FROM:<a@b.c> -X=1", PARSE_BAD_PARAM },
	{ "FROM:<a@b.c> X_Y=1", PARSE_BAD_PARAM },
	{ "FROM:<a@b.c> =1", PARSE_BAD_PARAM },
	{ "FROM:<a@b.c> SIZE=", PARSE_BAD_PARAM },
	{ "FROM:<a@b.c> SIZE=1=2", PARSE_BAD_PARAM },
	{ "FROM:<a@b.c> SIZE=\x7f", PARSE_BAD_PARAM },
	{ "FROM:<a@b.c> SIZE=\t1", PARSE_BAD_PARAM },
	{ "FROM:<a@b.c> S\xC3\xA9=1", PARSE_BAD_PARAM },
	{ "FROM:<a@b.c>SIZE=1", PARSE_SYNTAX },
	{ "FROM:<a@b.c>\tSIZE=1", PARSE_SYNTAX },
	{ "FROM:<>SIZE=1", PARSE_SYNTAX },
};

START_TEST(test_params_bad)
{
	const char *args = bad_param_cases[_i].args;
	struct smtp_path_cmd pc;
	enum parse_result r;

	r = parser_path(args, strlen(args), "FROM:", 1, 0, &pc);
	ck_assert_msg(r == bad_param_cases[_i].want, "\"%s\": result %d, want %d",
	    args, r, bad_param_cases[_i].want);
}
END_TEST

START_TEST(test_params_max)
{
	struct smtp_path_cmd pc;
	char args[SMTP_CMD_LINE_MAX];
	size_t len;

	strcpy(args, "FROM:<a@b.c>");
	for (int i = 0; i < SMTP_PARAMS_MAX; i++) {
		len = strlen(args);
		snprintf(args + len, sizeof(args) - len, " P%d=%d", i, i);
	}
	ck_assert_int_eq(parser_path(args, strlen(args), "FROM:", 1, 0, &pc), PARSE_OK);
	ck_assert_uint_eq(pc.nparams, SMTP_PARAMS_MAX);
	ck_assert_str_eq(pc.params[SMTP_PARAMS_MAX - 1].keyword, "P15");
	ck_assert_str_eq(pc.params[SMTP_PARAMS_MAX - 1].value, "15");

	strcat(args, " ONEMORE");
	ck_assert_int_eq(parser_path(args, strlen(args), "FROM:", 1, 0, &pc),
	    PARSE_BAD_PARAM);
}
END_TEST

START_TEST(test_param_find)
{
	struct smtp_path_cmd pc;
	const struct smtp_param *p;

	ck_assert_int_eq(parser_path(S("FROM:<a@b.c> SIZE=1000 BODY=8BITMIME SMTPUTF8"),
	    "FROM:", 1, 0, &pc), PARSE_OK);
	p = parser_param_find(&pc, "size");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->value, "1000");
	ck_assert_ptr_eq(parser_param_find(&pc, "SIZE"), p);
	ck_assert_ptr_eq(parser_param_find(&pc, "SiZe"), p);
	p = parser_param_find(&pc, "Body");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->value, "8BITMIME");
	p = parser_param_find(&pc, "smtputf8");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_null(p->value);
	ck_assert_ptr_null(parser_param_find(&pc, "AUTH"));
	ck_assert_ptr_null(parser_param_find(&pc, "SIZ"));
	ck_assert_ptr_null(parser_param_find(&pc, "SIZE="));

	/* No parameters at all. */
	ck_assert_int_eq(parser_path(S("FROM:<a@b.c>"), "FROM:", 1, 0, &pc), PARSE_OK);
	ck_assert_ptr_null(parser_param_find(&pc, "SIZE"));
}
END_TEST

/*
 * parser_mailbox
 */

static const struct {
	const char *s;
	size_t len;
	enum parse_result want;
	int has_utf8;
} mailbox_cases[] = {
	{ S("a@b"), PARSE_OK, 0 },
	{ S("user@example.com"), PARSE_OK, 0 },
	{ S("first.last@sub.example.com"), PARSE_OK, 0 },
	{ S("\"a@b\"@c.example"), PARSE_OK, 0 },
	{ S("\"a b\"@c.example"), PARSE_OK, 0 },
	{ S("\"a\\ b\"@c.example"), PARSE_OK, 0 },
	{ S("user@[192.0.2.1]"), PARSE_OK, 0 },
	{ S("user@[IPv6:::1]"), PARSE_OK, 0 },
	{ S("用户@例子.广告"), PARSE_OK, 1 },
	{ S("user@例子.广告"), PARSE_OK, 1 },
	{ S("用户@example.com"), PARSE_OK, 1 },
	{ S("\"用户\"@example.com"), PARSE_OK, 1 },
	{ S(""), PARSE_BAD_ADDRESS, 0 },
	{ S("@"), PARSE_BAD_ADDRESS, 0 },
	{ S("@b"), PARSE_BAD_ADDRESS, 0 },
	{ S("a@"), PARSE_BAD_ADDRESS, 0 },
	{ S("ab"), PARSE_BAD_ADDRESS, 0 },
	{ S("a@b@c"), PARSE_BAD_ADDRESS, 0 },
	{ S("a.@b"), PARSE_BAD_ADDRESS, 0 },
	{ S(".a@b"), PARSE_BAD_ADDRESS, 0 },
	{ S("a..b@c"), PARSE_BAD_ADDRESS, 0 },
	{ S("a b@c"), PARSE_BAD_ADDRESS, 0 },
	{ S("a\0b@c"), PARSE_BAD_ADDRESS, 0 },
	{ S("a@b\0c"), PARSE_BAD_ADDRESS, 0 },
	{ S("a@[1.2.3.4\0x]"), PARSE_BAD_ADDRESS, 0 },
	{ S("a@[IPv6:::1\0x]"), PARSE_BAD_ADDRESS, 0 },
	{ S("\"a\"b@c"), PARSE_BAD_ADDRESS, 0 },
	{ S("\"a@c"), PARSE_BAD_ADDRESS, 0 },
	{ S("\"a\\\"@c"), PARSE_BAD_ADDRESS, 0 },
	{ S("\"a\x01\"@c"), PARSE_BAD_ADDRESS, 0 },
	{ S("\"a\\\x01\"@c"), PARSE_BAD_ADDRESS, 0 },
	{ S("a@[300.1.1.1]"), PARSE_BAD_ADDRESS, 0 },
	{ S("a@[]"), PARSE_BAD_ADDRESS, 0 },
	{ S("\xC3\x28@b"), PARSE_BAD_ADDRESS, 0 },
	{ S("\xC0\xAF@b"), PARSE_BAD_ADDRESS, 0 },
	{ S("a@\xC3\x28"), PARSE_BAD_ADDRESS, 0 },
	{ S("\"\xC0\xAF\"@b"), PARSE_BAD_ADDRESS, 0 },
};

START_TEST(test_mailbox_table)
{
	int utf8 = -1;
	enum parse_result r;

	r = parser_mailbox(mailbox_cases[_i].s, mailbox_cases[_i].len, &utf8);
	ck_assert_msg(r == mailbox_cases[_i].want, "case %d \"%s\": result %d, want %d",
	    _i, mailbox_cases[_i].s, r, mailbox_cases[_i].want);
	if (r == PARSE_OK)
		ck_assert_int_eq(utf8, mailbox_cases[_i].has_utf8);
}
END_TEST

START_TEST(test_mailbox_lengths)
{
	char buf[400];
	int utf8 = 1;

	/* has_utf8 is reset on every call. */
	ck_assert_int_eq(parser_mailbox(S("a@b"), &utf8), PARSE_OK);
	ck_assert_int_eq(utf8, 0);

	fill(buf, 'l', 64);
	strcat(buf, "@b");
	ck_assert_int_eq(parser_mailbox(buf, strlen(buf), &utf8), PARSE_OK);
	fill(buf, 'l', 65);
	strcat(buf, "@b");
	ck_assert_int_eq(parser_mailbox(buf, strlen(buf), &utf8), PARSE_TOO_LONG);

	/* A domain of 255 octets is fine, 256 is too long. */
	strcpy(buf, "a@");
	make_domain(buf + 2, 255);
	ck_assert_int_eq(parser_mailbox(buf, strlen(buf), &utf8), PARSE_OK);
	make_domain(buf + 2, 256);
	ck_assert_int_eq(parser_mailbox(buf, strlen(buf), &utf8), PARSE_TOO_LONG);

	/* Only len bytes are read. */
	ck_assert_int_eq(parser_mailbox("a@b.example!", 11, &utf8), PARSE_OK);
	ck_assert_int_eq(parser_mailbox("a@b.example!", 12, &utf8), PARSE_BAD_ADDRESS);
}
END_TEST

/*
 * parser_is_domain
 */

static const struct {
	const char *s;
	int utf8;
	int want;
} domain_cases[] = {
	{ "example.com", 0, 1 },
	{ "a", 0, 1 },
	{ "a-b.c", 0, 1 },
	{ "a--b.c", 0, 1 },
	{ "123.45", 0, 1 },
	{ "xn--fsqu00a.xn--3lr804guic", 0, 1 },
	{ "EXAMPLE.Com", 0, 1 },
	{ "", 0, 0 },
	{ ".", 0, 0 },
	{ ".a", 0, 0 },
	{ "a.", 0, 0 },
	{ "a..b", 0, 0 },
	{ "-a", 0, 0 },
	{ "a-", 0, 0 },
	{ "a-.b", 0, 0 },
	{ "a.-b", 0, 0 },
	{ "a.b-", 0, 0 },
	{ "-", 0, 0 },
	{ "a_b", 0, 0 },
	{ "a b", 0, 0 },
	{ "a@b", 0, 0 },
	{ "[1.2.3.4]", 0, 0 },
	{ "例子.广告", 1, 1 },
	{ "例子.广告", 0, 0 },
	{ "bücher.example", 1, 1 },
	{ "bücher.example", 0, 0 },
	{ "b\xC3\x28.example", 1, 0 },
	{ "b\xC0\xAF.example", 1, 0 },
	{ "b\xC3", 1, 0 },
};

START_TEST(test_domain_table)
{
	const char *s = domain_cases[_i].s;

	ck_assert_msg(parser_is_domain(s, strlen(s), domain_cases[_i].utf8) ==
	    domain_cases[_i].want, "\"%s\" utf8=%d: want %d", s,
	    domain_cases[_i].utf8, domain_cases[_i].want);
}
END_TEST

START_TEST(test_domain_lengths)
{
	char buf[300];

	ck_assert_int_eq(parser_is_domain(fill(buf, 'd', 63), 63, 0), 1);
	ck_assert_int_eq(parser_is_domain(fill(buf, 'd', 64), 64, 0), 0);
	ck_assert_int_eq(parser_is_domain(strcat(fill(buf, 'd', 63), ".x"), 65, 0), 1);
	ck_assert_int_eq(parser_is_domain(make_domain(buf, 255), 255, 0), 1);
	ck_assert_int_eq(parser_is_domain(make_domain(buf, 256), 256, 0), 0);
	/* Only len bytes are read. */
	ck_assert_int_eq(parser_is_domain("example.com!", 11, 0), 1);
	ck_assert_int_eq(parser_is_domain("example.com!", 12, 0), 0);
	ck_assert_int_eq(parser_is_domain("example.", 7, 0), 1);
	ck_assert_int_eq(parser_is_domain(S("exa\0mple"), 0), 0);
}
END_TEST

/*
 * parser_is_address_literal
 */

static const struct {
	const char *s;
	size_t len;
	int want;
} literal_cases[] = {
	{ S("[192.0.2.1]"), 1 },
	{ S("[0.0.0.0]"), 1 },
	{ S("[255.255.255.255]"), 1 },
	{ S("[IPv6:2001:db8::1]"), 1 },
	{ S("[ipv6:::1]"), 1 },
	{ S("[IPV6:::ffff:192.0.2.1]"), 1 },
	{ S("[IPv6:1:2:3:4:5:6:7:8]"), 1 },
	{ S("[x-tag:some-content]"), 1 },
	{ S("[300.1.1.1]"), 0 },
	{ S("[256.0.0.1]"), 0 },
	{ S("[1.2.3]"), 0 },
	{ S("[1.2.3.4.5]"), 0 },
	{ S("[1.2.3.4 ]"), 0 },
	{ S("[a.b.c.d]"), 0 },
	{ S("[IPv6:zz::1]"), 0 },
	{ S("[IPv6:1:2:3:4:5:6:7:8:9]"), 0 },
	{ S("[IPv6:1.2.3.4]"), 0 },
	{ S("[IPv6:]"), 0 },
	{ S("[IPv6]"), 0 },
	{ S("[tag-:abc]"), 0 },
	{ S("[1.2.3.4:x]"), 0 },
	{ S("[]"), 0 },
	{ S("["), 0 },
	{ S(""), 0 },
	{ S("192.0.2.1"), 0 },
	{ S("[192.0.2.1"), 0 },
	{ S("192.0.2.1]"), 0 },
	{ S("[tag:]"), 0 },
	{ S("[:abc]"), 0 },
	{ S("[t_g:abc]"), 0 },
	{ S("[tag:a\\b]"), 0 },
	{ S("[tag:a b]"), 0 },
	{ S("[tag:a[b]"), 0 },
	{ S("[192.0.2.1\0]"), 0 },
	{ S("[192.0.2.1\0x]"), 0 },
	{ S("[IPv6:::1\0]"), 0 },
};

START_TEST(test_literal_table)
{
	ck_assert_msg(parser_is_address_literal(literal_cases[_i].s,
	    literal_cases[_i].len) == literal_cases[_i].want,
	    "case %d \"%s\": want %d", _i, literal_cases[_i].s, literal_cases[_i].want);
}
END_TEST

START_TEST(test_literal_len_bounded)
{
	ck_assert_int_eq(parser_is_address_literal("[192.0.2.1]xyz", 11), 1);
	ck_assert_int_eq(parser_is_address_literal("[192.0.2.1]xyz", 12), 0);
	ck_assert_int_eq(parser_is_address_literal("[IPv6:::1]]", 10), 1);
}
END_TEST

/*
 * parser_is_xtext, parser_is_utf8
 */

static const struct {
	const char *s;
	int want;
} xtext_cases[] = {
	{ "", 1 },
	{ "abc", 1 },
	{ "+2B", 1 },
	{ "a+2Bb+3D", 1 },
	{ "rfc822;user@example.com", 1 },
	{ "!~", 1 },
	{ "+2b", 0 },
	{ "+a0", 0 },
	{ "a=b", 0 },
	{ "=", 0 },
	{ "+", 0 },
	{ "a+", 0 },
	{ "a+2", 0 },
	{ "+GG", 0 },
	{ "+ 2", 0 },
	{ "a b", 0 },
	{ "a\tb", 0 },
	{ "\x7f", 0 },
	{ "\xC3\xA9", 0 },
};

START_TEST(test_xtext_table)
{
	ck_assert_msg(parser_is_xtext(xtext_cases[_i].s) == xtext_cases[_i].want,
	    "\"%s\": want %d", xtext_cases[_i].s, xtext_cases[_i].want);
}
END_TEST

static const struct {
	const char *s;
	size_t len;
	int want;
	int non_ascii;
} utf8_cases[] = {
	{ S(""), 1, 0 },
	{ S("abc"), 1, 0 },
	{ S("\x7f"), 1, 0 },
	{ S("caf\xC3\xA9"), 1, 1 },
	{ S("\xC2\x80"), 1, 1 },
	{ S("\xDF\xBF"), 1, 1 },
	{ S("\xE0\xA0\x80"), 1, 1 },
	{ S("\xEF\xBF\xBF"), 1, 1 },
	{ S("用户"), 1, 1 },
	{ S("\xF0\x90\x80\x80"), 1, 1 },
	{ S("\xF0\x9F\x98\x80"), 1, 1 },
	{ S("\xF4\x8F\xBF\xBF"), 1, 1 },
	{ S("\xC3\x28"), 0, 0 },
	{ S("\xC0\xAF"), 0, 0 },
	{ S("\xC1\xBF"), 0, 0 },
	{ S("\xE0\x80\xAF"), 0, 0 },
	{ S("\xE0\x9F\xBF"), 0, 0 },
	{ S("\xF0\x80\x80\xAF"), 0, 0 },
	{ S("\xF0\x8F\xBF\xBF"), 0, 0 },
	{ S("\xED\xA0\x80"), 0, 0 },
	{ S("\xED\xBF\xBF"), 0, 0 },
	{ S("\xF4\x90\x80\x80"), 0, 0 },
	{ S("\xF5\x80\x80\x80"), 0, 0 },
	{ S("\xFF"), 0, 0 },
	{ S("\x80"), 0, 0 },
	{ S("a\xBF"), 0, 0 },
	{ S("\xE4\xBD"), 0, 0 },
	{ S("\xF0\x9F\x98"), 0, 0 },
	{ S("\xC3"), 0, 0 },
	{ S("\xC3\xA9\xC3"), 0, 0 },
};

START_TEST(test_utf8_table)
{
	int non_ascii = -1;
	int r;

	r = parser_is_utf8(utf8_cases[_i].s, utf8_cases[_i].len, &non_ascii);
	ck_assert_msg(r == utf8_cases[_i].want, "case %d: result %d, want %d", _i,
	    r, utf8_cases[_i].want);
	if (r)
		ck_assert_int_eq(non_ascii, utf8_cases[_i].non_ascii);
	/* A NULL non_ascii pointer is allowed. */
	ck_assert_int_eq(parser_is_utf8(utf8_cases[_i].s, utf8_cases[_i].len, NULL),
	    utf8_cases[_i].want);
}
END_TEST

START_TEST(test_utf8_len_bounded)
{
	int non_ascii = 1;

	/* A sequence cut short by len is not well-formed. */
	ck_assert_int_eq(parser_is_utf8("\xC3\xA9", 1, &non_ascii), 0);
	ck_assert_int_eq(parser_is_utf8("ab\xC3\xA9", 2, &non_ascii), 1);
	ck_assert_int_eq(non_ascii, 0);
	ck_assert_int_eq(parser_is_utf8("\xC3\xA9\xC3\x28", 2, &non_ascii), 1);
	ck_assert_int_eq(non_ascii, 1);
}
END_TEST

/*
 * parser_helo
 */

static const struct {
	const char *s;
	size_t len;
	enum parse_result want;
} helo_cases[] = {
	{ S("client.example"), PARSE_OK },
	{ S("[127.0.0.1]"), PARSE_OK },
	{ S("[IPv6:::1]"), PARSE_OK },
	{ S("localhost"), PARSE_OK },
	{ S("例子.广告"), PARSE_OK },
	{ S(""), PARSE_SYNTAX },
	{ S("two words"), PARSE_SYNTAX },
	{ S(" client.example"), PARSE_SYNTAX },
	{ S("client.example "), PARSE_SYNTAX },
	{ S("client\texample"), PARSE_SYNTAX },
	{ S("client\x01"), PARSE_SYNTAX },
	{ S("client\x1b[0m"), PARSE_SYNTAX },
	{ S("client\x7f"), PARSE_SYNTAX },
	{ S("client\r"), PARSE_SYNTAX },
	{ S("client\n"), PARSE_SYNTAX },
	{ S("\xC3\x28"), PARSE_SYNTAX },
	{ S("\xC0\xAF"), PARSE_SYNTAX },
};

START_TEST(test_helo_table)
{
	enum parse_result r;

	r = parser_helo(helo_cases[_i].s, helo_cases[_i].len);
	ck_assert_msg(r == helo_cases[_i].want, "case %d \"%s\": result %d, want %d",
	    _i, helo_cases[_i].s, r, helo_cases[_i].want);
}
END_TEST

START_TEST(test_helo_nul)
{
	ck_assert_int_ne(parser_helo(S("client\0.example")), PARSE_OK);
	ck_assert_int_ne(parser_helo(S("\0")), PARSE_OK);
	/* Only len bytes are read. */
	ck_assert_int_eq(parser_helo("client.example more", 14), PARSE_OK);
}
END_TEST

/*
 * parser_bdat
 */

static const struct {
	const char *s;
	enum parse_result want;
	unsigned long long size;
	int last;
} bdat_cases[] = {
	{ "100", PARSE_OK, 100, 0 },
	{ "0", PARSE_OK, 0, 0 },
	{ "0 LAST", PARSE_OK, 0, 1 },
	{ "0 last", PARSE_OK, 0, 1 },
	{ "1000 LaSt", PARSE_OK, 1000, 1 },
	{ "007", PARSE_OK, 7, 0 },
	{ "18446744073709551615", PARSE_OK, ULLONG_MAX, 0 },
	{ "18446744073709551615 LAST", PARSE_OK, ULLONG_MAX, 1 },
	{ "18446744073709551616", PARSE_SYNTAX, 0, 0 },
	{ "18446744073709551620", PARSE_SYNTAX, 0, 0 },
	{ "99999999999999999999999", PARSE_SYNTAX, 0, 0 },
	{ "abc", PARSE_SYNTAX, 0, 0 },
	{ "", PARSE_SYNTAX, 0, 0 },
	{ "LAST", PARSE_SYNTAX, 0, 0 },
	{ "10 LASTX", PARSE_SYNTAX, 0, 0 },
	{ "10  LAST", PARSE_SYNTAX, 0, 0 },
	{ "10 LAST ", PARSE_SYNTAX, 0, 0 },
	{ "10 LAS", PARSE_SYNTAX, 0, 0 },
	{ "10 ", PARSE_SYNTAX, 0, 0 },
	{ "10LAST", PARSE_SYNTAX, 0, 0 },
	{ "10\tLAST", PARSE_SYNTAX, 0, 0 },
	{ " 10", PARSE_SYNTAX, 0, 0 },
	{ "-1", PARSE_SYNTAX, 0, 0 },
	{ "+1", PARSE_SYNTAX, 0, 0 },
	{ "1a", PARSE_SYNTAX, 0, 0 },
	{ "0x10", PARSE_SYNTAX, 0, 0 },
	{ "10 MORE", PARSE_SYNTAX, 0, 0 },
};

START_TEST(test_bdat_table)
{
	const char *s = bdat_cases[_i].s;
	unsigned long long size = 12345;
	int last = -1;
	enum parse_result r;

	r = parser_bdat(s, strlen(s), &size, &last);
	ck_assert_msg(r == bdat_cases[_i].want, "\"%s\": result %d, want %d", s, r,
	    bdat_cases[_i].want);
	if (r == PARSE_OK) {
		ck_assert_uint_eq(size, bdat_cases[_i].size);
		ck_assert_int_eq(last, bdat_cases[_i].last);
	}
}
END_TEST

START_TEST(test_bdat_len_bounded)
{
	unsigned long long size;
	int last;

	ck_assert_int_eq(parser_bdat("100 LAST", 3, &size, &last), PARSE_OK);
	ck_assert_uint_eq(size, 100);
	ck_assert_int_eq(last, 0);
	ck_assert_int_eq(parser_bdat("100 LASTX", 8, &size, &last), PARSE_OK);
	ck_assert_int_eq(last, 1);
	ck_assert_int_eq(parser_bdat(S("10\0"), &size, &last), PARSE_SYNTAX);
}
END_TEST

static Suite *
parser_suite(void)
{
	Suite *s = suite_create("parser");
	TCase *tc;

	tc = tcase_create("command");
	tcase_add_loop_test(tc, test_command_table, 0, (int)NELEM(command_cases));
	tcase_add_test(tc, test_command_len_bounded);
	tcase_add_test(tc, test_command_empty);
	tcase_add_test(tc, test_command_nul);
	tcase_add_test(tc, test_verb_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("path");
	tcase_add_loop_test(tc, test_path_table, 0, (int)NELEM(path_cases));
	tcase_add_test(tc, test_path_private_copy);
	tcase_add_test(tc, test_path_len_bounded);
	tcase_add_test(tc, test_path_limits);
	tcase_add_test(tc, test_path_overlong_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("params");
	tcase_add_test(tc, test_params_split);
	tcase_add_test(tc, test_params_no_value);
	tcase_add_test(tc, test_params_spaces);
	tcase_add_test(tc, test_params_utf8_value);
	tcase_add_loop_test(tc, test_params_bad, 0, (int)NELEM(bad_param_cases));
	tcase_add_test(tc, test_params_max);
	tcase_add_test(tc, test_param_find);
	suite_add_tcase(s, tc);

	tc = tcase_create("mailbox");
	tcase_add_loop_test(tc, test_mailbox_table, 0, (int)NELEM(mailbox_cases));
	tcase_add_test(tc, test_mailbox_lengths);
	tcase_add_loop_test(tc, test_domain_table, 0, (int)NELEM(domain_cases));
	tcase_add_test(tc, test_domain_lengths);
	tcase_add_loop_test(tc, test_literal_table, 0, (int)NELEM(literal_cases));
	tcase_add_test(tc, test_literal_len_bounded);
	suite_add_tcase(s, tc);

	tc = tcase_create("text");
	tcase_add_loop_test(tc, test_xtext_table, 0, (int)NELEM(xtext_cases));
	tcase_add_loop_test(tc, test_utf8_table, 0, (int)NELEM(utf8_cases));
	tcase_add_test(tc, test_utf8_len_bounded);
	suite_add_tcase(s, tc);

	tc = tcase_create("helo_bdat");
	tcase_add_loop_test(tc, test_helo_table, 0, (int)NELEM(helo_cases));
	tcase_add_test(tc, test_helo_nul);
	tcase_add_loop_test(tc, test_bdat_table, 0, (int)NELEM(bdat_cases));
	tcase_add_test(tc, test_bdat_len_bounded);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(parser_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
