/*
 * check_auth - unit tests for SMTP AUTH support:
 *
 *  - base64.c: strict RFC 4648 decoding (the RFC test vectors, binary
 *    output with NULs, NUL termination; rejection of bad lengths, of
 *    characters outside the alphabet, of misplaced "=" padding and of a
 *    too small output buffer) and encoding round trips;
 *  - auth.c: the SASL exchange state machine for PLAIN (with and without
 *    an initial response, "=", "*", bad base64, field limits and control
 *    characters), LOGIN (the Username:/Password: challenges) and CRAM-MD5
 *    (RFC 2195 challenge and response), mechanism names and auth_clear;
 *  - authdb.c: users from struct config with plaintext passwords and with
 *    yescrypt, sha512-crypt and bcrypt hashes generated at test time with
 *    libcrypt, accept_any, CRAM-MD5 digests (the RFC 2195 example),
 *    authdb_hash_supported, and the passwd file (formats, comments, CRLF,
 *    and the exact "file:line: message" errors).
 */
#include <check.h>
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "authdb.h"
#include "base64.h"
#include "buf.h"
#include "config.h"
#include "xmalloc.h"

/* A string literal with its length, so that embedded NULs are kept. */
#define S(lit) (lit), (sizeof(lit) - 1)

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The RFC 2195 section 2 example. */
#define RFC2195_USER "tim"
#define RFC2195_SECRET "tanstaaftanstaaf"
#define RFC2195_CHALLENGE "<1896.697170952@postoffice.reston.mci.net>"
#define RFC2195_CHALLENGE_B64 "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"
#define RFC2195_DIGEST "b913a602c7eda7a495b4e6e7334d3890"
#define RFC2195_RESPONSE_B64 "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"

/* The error text, "" when nothing was appended. */
static const char *
errtext(const struct buf *b)
{
	return b->data != NULL ? b->data : "";
}

static int
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Base64 of msg[0..len) into out (cap bytes); fails the test if it does not fit. */
static const char *
enc(const void *msg, size_t len, char *out, size_t cap)
{
	long n = base64_encode(msg, len, out, cap);

	ck_assert_int_ge(n, 0);
	ck_assert_uint_eq(strlen(out), (size_t)n);
	return out;
}

/* A fresh crypt(3) hash of password with a new salt for prefix; free() it. */
static char *
make_hash(const char *prefix, unsigned long count, const char *password)
{
	char *setting = crypt_gensalt_ra(prefix, count, NULL, 0);
	void *data = NULL;
	int size = 0;
	char *hash, *copy;

	ck_assert_msg(setting != NULL, "crypt_gensalt_ra(%s): %s", prefix, strerror(errno));
	hash = crypt_ra(password, setting, &data, &size);
	ck_assert_msg(hash != NULL && hash[0] != '*', "crypt_ra(%s) failed", setting);
	ck_assert_msg(starts_with(hash, prefix), "hash %s does not start with %s", hash, prefix);
	copy = xstrdup(hash);
	free(data);
	free(setting);
	return copy;
}

/* Append a user to the auth group of cfg (freed by config_free). */
static void
cfg_add_user(struct config *cfg, const char *name, const char *password, const char *hash,
    int line)
{
	struct auth_user_conf *u;

	cfg->auth_users = xrealloc(cfg->auth_users,
	    (cfg->nauth_users + 1) * sizeof(*cfg->auth_users));
	u = &cfg->auth_users[cfg->nauth_users++];
	memset(u, 0, sizeof(*u));
	u->name = xstrdup(name);
	u->password = password != NULL ? xstrdup(password) : NULL;
	u->hash = hash != NULL ? xstrdup(hash) : NULL;
	u->line = line;
}

/* A temporary file holding data[0..len); returns its (allocated) path. */
static char *
write_tmp(const char *data, size_t len)
{
	const char *base = getenv("TMPDIR");
	char *path;
	int fd;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	ck_assert_int_gt(asprintf(&path, "%s/check_auth.XXXXXX", base), 0);
	fd = mkstemp(path);
	ck_assert_msg(fd >= 0, "mkstemp %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
	return path;
}

/*
 * Load an authdb from cfg with a passwd file holding data[0..len). The file
 * is removed again before returning (authdb_load reads it at once); its
 * path stays in cfg->auth_passwd_file for the error messages.
 */
static struct authdb *
load_with_passwd(struct config *cfg, const char *data, size_t len, struct buf *errors)
{
	struct authdb *db;

	cfg->auth_passwd_file = write_tmp(data, len);
	cfg->auth_passwd_file_line = 3;
	db = authdb_load(cfg, errors);
	ck_assert_int_eq(unlink(cfg->auth_passwd_file), 0);
	return db;
}

/*
 * base64_decode / base64_encode
 */

static const struct {
	const char *in;
	const char *out;
	size_t outlen;
} b64_good[] = {
	/* RFC 4648 section 10 */
	{ "", "", 0 },
	{ "Zg==", "f", 1 },
	{ "Zm8=", "fo", 2 },
	{ "Zm9v", "foo", 3 },
	{ "Zm9vYg==", "foob", 4 },
	{ "Zm9vYmE=", "fooba", 5 },
	{ "Zm9vYmFy", "foobar", 6 },
	/* the whole alphabet */
	{ "+/+/", "\xfb\xff\xbf", 3 },
	{ "AAAA", "\0\0\0", 3 },
};

START_TEST(test_b64_decode_vectors)
{
	const char *in = b64_good[_i].in;
	unsigned char out[64];
	long n;

	memset(out, 'X', sizeof(out));
	n = base64_decode(in, strlen(in), out, sizeof(out));
	ck_assert_msg(n == (long)b64_good[_i].outlen, "decode \"%s\": %ld, want %zu", in, n,
	    b64_good[_i].outlen);
	ck_assert_mem_eq(out, b64_good[_i].out, b64_good[_i].outlen);
	ck_assert_msg(out[n] == '\0', "decode \"%s\" is not NUL-terminated", in);
}
END_TEST

static const struct {
	const char *in;
	size_t len;
} b64_bad[] = {
	/* length not a multiple of four */
	{ S("Z") },
	{ S("Zg") },
	{ S("Zg=") },
	{ S("Zm9vY") },
	{ S("Zm9vYmFy=") },
	{ S("===") },
	/* characters outside the alphabet */
	{ S("Zm9 ") },
	{ S(" Zm9") },
	{ S("Zm 9vYmFy") },
	{ S("Zm9-") },
	{ S("Zm9_") },
	{ S("Zm9.") },
	{ S("Zm9v\r\nYm") },
	{ S("Zm\r\nYmFy") },
	{ S("Zm9v\tYm=") },
	{ S("Zm9\0") },
	{ S("Zm9\xc3") },
	/* whitespace OpenSSL alone would skip */
	{ S("    Zm9v") },
	{ S("Zm9v    ") },
	{ S("Zm9v\r\n\r\n") },
	{ S("\t\t\t\tZm9v") },
	/* "=" anywhere but at the end */
	{ S("Zg==Zm9v") },
	{ S("Z=g=") },
	{ S("=Zg=") },
	{ S("Zm=v") },
	{ S("====") },
	{ S("A===") },
	{ S("Zg==Zg==") },
};

START_TEST(test_b64_decode_rejects)
{
	unsigned char out[64];
	long n = base64_decode(b64_bad[_i].in, b64_bad[_i].len, out, sizeof(out));

	ck_assert_msg(n == -1, "bad case %d decoded to %ld octets", _i, n);
}
END_TEST

START_TEST(test_b64_decode_outcap)
{
	unsigned char out[16];

	/* BASE64_DECODED_MAX: three octets per four characters and a NUL. */
	ck_assert_int_eq(base64_decode(S("Zm9v"), out, 3), -1);
	ck_assert_int_eq(base64_decode(S("Zm9v"), out, 4), 3);
	ck_assert_str_eq((char *)out, "foo");
	ck_assert_int_eq(base64_decode(S("Zm9vYmFy"), out, 6), -1);
	ck_assert_int_eq(base64_decode(S("Zm9vYmFy"), out, 7), 6);
	ck_assert_str_eq((char *)out, "foobar");
	/* The empty input still needs room for its NUL. */
	ck_assert_int_eq(base64_decode(S(""), out, 0), -1);
	ck_assert_int_eq(base64_decode(S(""), out, 1), 0);
}
END_TEST

START_TEST(test_b64_decode_binary)
{
	unsigned char out[BASE64_DECODED_MAX(sizeof("AGFsaWNlAHNlY3JldA==") - 1)];
	long n;

	memset(out, 'X', sizeof(out));
	n = base64_decode(S("AGFsaWNlAHNlY3JldA=="), out, sizeof(out));
	ck_assert_int_eq(n, 13);
	ck_assert_mem_eq(out, "\0alice\0secret", 13);
	ck_assert_int_eq(out[13], '\0');
}
END_TEST

static const struct {
	const char *in;
	const char *out;
} b64_enc[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

START_TEST(test_b64_encode_vectors)
{
	const char *in = b64_enc[_i].in;
	char out[64];
	long n;

	memset(out, 'X', sizeof(out));
	n = base64_encode(in, strlen(in), out, sizeof(out));
	ck_assert_int_eq(n, (long)strlen(b64_enc[_i].out));
	ck_assert_str_eq(out, b64_enc[_i].out);
}
END_TEST

START_TEST(test_b64_encode_outcap)
{
	char out[16];

	ck_assert_int_eq(base64_encode("foo", 3, out, 4), -1);
	ck_assert_int_eq(base64_encode("foo", 3, out, 5), 4);
	ck_assert_str_eq(out, "Zm9v");
	ck_assert_int_eq(base64_encode("", 0, out, 0), -1);
	ck_assert_int_eq(base64_encode("", 0, out, 1), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_b64_round_trip)
{
	unsigned char in[300];
	char text[BASE64_ENCODED_MAX(sizeof(in))];
	unsigned char back[BASE64_DECODED_MAX(sizeof(text))];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7 + 3);
	for (size_t len = 0; len <= sizeof(in); len++) {
		long n = base64_encode(in, len, text, sizeof(text));
		ck_assert_int_eq(n, (long)((len + 2) / 3 * 4));
		long m = base64_decode(text, (size_t)n, back, sizeof(back));
		ck_assert_msg(m == (long)len, "length %zu came back as %ld", len, m);
		ck_assert_mem_eq(back, in, len);
	}
}
END_TEST

/*
 * auth: mechanism names
 */

START_TEST(test_mech_from_name)
{
	ck_assert_uint_eq(auth_mech_from_name(S("PLAIN")), AUTH_MECH_PLAIN);
	ck_assert_uint_eq(auth_mech_from_name(S("plain")), AUTH_MECH_PLAIN);
	ck_assert_uint_eq(auth_mech_from_name(S("Login")), AUTH_MECH_LOGIN);
	ck_assert_uint_eq(auth_mech_from_name(S("LOGIN")), AUTH_MECH_LOGIN);
	ck_assert_uint_eq(auth_mech_from_name(S("CRAM-MD5")), AUTH_MECH_CRAM_MD5);
	ck_assert_uint_eq(auth_mech_from_name(S("cram-md5")), AUTH_MECH_CRAM_MD5);
	/* Only len characters count. */
	ck_assert_uint_eq(auth_mech_from_name("PLAIN dGVzdA==", 5), AUTH_MECH_PLAIN);
	/* Unknown names, prefixes and extensions. */
	ck_assert_uint_eq(auth_mech_from_name(S("DIGEST-MD5")), 0);
	ck_assert_uint_eq(auth_mech_from_name(S("XOAUTH2")), 0);
	ck_assert_uint_eq(auth_mech_from_name(S("PLAI")), 0);
	ck_assert_uint_eq(auth_mech_from_name(S("PLAINX")), 0);
	ck_assert_uint_eq(auth_mech_from_name(S("CRAM")), 0);
	ck_assert_uint_eq(auth_mech_from_name(S("")), 0);
}
END_TEST

START_TEST(test_mech_name)
{
	ck_assert_str_eq(auth_mech_name(AUTH_MECH_PLAIN), "PLAIN");
	ck_assert_str_eq(auth_mech_name(AUTH_MECH_LOGIN), "LOGIN");
	ck_assert_str_eq(auth_mech_name(AUTH_MECH_CRAM_MD5), "CRAM-MD5");
	ck_assert_str_eq(auth_mech_name(0), "?");
	ck_assert_str_eq(auth_mech_name(AUTH_MECH_ALL), "?");
	/* Names and bits map both ways. */
	for (unsigned m = AUTH_MECH_PLAIN; m <= AUTH_MECH_CRAM_MD5; m <<= 1) {
		const char *name = auth_mech_name(m);
		ck_assert_uint_eq(auth_mech_from_name(name, strlen(name)), m);
	}
}
END_TEST

/*
 * auth: PLAIN
 */

START_TEST(test_plain_initial)
{
	struct auth_exchange ex;

	/* "\0alice\0secret" */
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_PLAIN, S("AGFsaWNlAHNlY3JldA=="), "<c>"),
	    AUTH_CHECK);
	ck_assert_uint_eq(ex.mech, AUTH_MECH_PLAIN);
	ck_assert_str_eq(ex.authzid, "");
	ck_assert_str_eq(ex.user, "alice");
	ck_assert_str_eq(ex.secret, "secret");
	auth_clear(&ex);
}
END_TEST

START_TEST(test_plain_authzid)
{
	struct auth_exchange ex;
	char b64[64];

	enc(S("alice\0alice\0secret"), b64, sizeof(b64));
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_PLAIN, b64, strlen(b64), "<c>"), AUTH_CHECK);
	ck_assert_str_eq(ex.authzid, "alice");
	ck_assert_str_eq(ex.user, "alice");
	ck_assert_str_eq(ex.secret, "secret");

	/* A password may hold spaces and colons. */
	enc(S("\0bob\0pass word:1"), b64, sizeof(b64));
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_PLAIN, b64, strlen(b64), "<c>"), AUTH_CHECK);
	ck_assert_str_eq(ex.authzid, "");
	ck_assert_str_eq(ex.user, "bob");
	ck_assert_str_eq(ex.secret, "pass word:1");
	auth_clear(&ex);
}
END_TEST

START_TEST(test_plain_no_initial)
{
	struct auth_exchange ex;

	memset(&ex, 'X', sizeof(ex));
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_PLAIN, NULL, 0, "<c>"), AUTH_CHALLENGE);
	ck_assert_str_eq(ex.challenge, "");
	ck_assert_int_eq(auth_next(&ex, S("AGFsaWNlAHNlY3JldA==")), AUTH_CHECK);
	ck_assert_str_eq(ex.authzid, "");
	ck_assert_str_eq(ex.user, "alice");
	ck_assert_str_eq(ex.secret, "secret");
	auth_clear(&ex);
}
END_TEST

START_TEST(test_plain_empty_initial)
{
	struct auth_exchange ex;

	/* "=" is an empty response: no NULs at all. */
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_PLAIN, S("="), "<c>"), AUTH_MALFORMED);
	ck_assert_ptr_nonnull(ex.why);
	ck_assert_str_eq(ex.user, "");
	ck_assert_str_eq(ex.secret, "");
}
END_TEST

START_TEST(test_plain_missing_nul)
{
	struct auth_exchange ex;
	char b64[64];

	/* "alice\0secret": one NUL only */
	enc(S("alice\0secret"), b64, sizeof(b64));
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_PLAIN, b64, strlen(b64), "<c>"),
	    AUTH_MALFORMED);
	ck_assert_ptr_nonnull(ex.why);
	ck_assert_str_eq(ex.user, "");
	ck_assert_str_eq(ex.secret, "");

	/* No NUL at all, given after an empty challenge. */
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_PLAIN, NULL, 0, "<c>"), AUTH_CHALLENGE);
	ck_assert_ptr_null(ex.why);
	enc(S("alicesecret"), b64, sizeof(b64));
	ck_assert_int_eq(auth_next(&ex, b64, strlen(b64)), AUTH_MALFORMED);
	ck_assert_ptr_nonnull(ex.why);
}
END_TEST

START_TEST(test_plain_malformed_fields)
{
	static const struct {
		const char *msg;
		size_t len;
	} cases[] = {
		{ S("\0\0secret") },              /* empty user */
		{ S("\0al\r\nice\0secret") },     /* CR LF in the user name */
		{ S("\0alice\r\nRCPT\0secret") },
		{ S("\0al\tice\0secret") },       /* other control characters */
		{ S("\0al\x7f" "ice\0secret") },
		{ S("x\ny\0alice\0secret") },     /* ... also in the authzid */
		{ S("\0alice\0sec\0ret") },       /* NUL in the password */
	};
	struct auth_exchange ex;
	char b64[64];

	for (size_t i = 0; i < NELEM(cases); i++) {
		enc(cases[i].msg, cases[i].len, b64, sizeof(b64));
		ck_assert_msg(auth_start(&ex, AUTH_MECH_PLAIN, b64, strlen(b64), "<c>") ==
		    AUTH_MALFORMED, "case %zu (%s) not MALFORMED", i, b64);
		ck_assert_msg(ex.why != NULL, "case %zu: no why", i);
	}
}
END_TEST

START_TEST(test_plain_cancel)
{
	struct auth_exchange ex;

	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_PLAIN, S("*"), "<c>"), AUTH_CANCELED);
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_PLAIN, NULL, 0, "<c>"), AUTH_CHALLENGE);
	ck_assert_int_eq(auth_next(&ex, S("*")), AUTH_CANCELED);
	ck_assert_str_eq(ex.user, "");
}
END_TEST

START_TEST(test_plain_bad_base64)
{
	struct auth_exchange ex;

	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_PLAIN, S("AGFsaWNlAHNlY3JldA="), "<c>"),
	    AUTH_BAD_BASE64);
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_PLAIN, S("AGFsaWNl AHNlY3JldA=="), "<c>"),
	    AUTH_BAD_BASE64);
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_PLAIN, S("**"), "<c>"), AUTH_BAD_BASE64);
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_PLAIN, NULL, 0, "<c>"), AUTH_CHALLENGE);
	ck_assert_int_eq(auth_next(&ex, S("AGFsaWNl-HNlY3JldA==")), AUTH_BAD_BASE64);
	ck_assert_str_eq(ex.user, "");
}
END_TEST

/* PLAIN with a user name of ulen and a password of plen octets. */
static enum auth_status
plain_sized(struct auth_exchange *ex, size_t ulen, size_t plen)
{
	char msg[2 + AUTH_USER_MAX + 1 + AUTH_SECRET_MAX + 1];
	char b64[BASE64_ENCODED_MAX(sizeof(msg))];
	size_t len = 0;

	ck_assert_uint_le(2 + ulen + plen, sizeof(msg));
	msg[len++] = '\0';
	memset(msg + len, 'u', ulen);
	len += ulen;
	msg[len++] = '\0';
	memset(msg + len, 'p', plen);
	len += plen;
	enc(msg, len, b64, sizeof(b64));
	return auth_start(ex, AUTH_MECH_PLAIN, b64, strlen(b64), "<c>");
}

START_TEST(test_plain_limits)
{
	struct auth_exchange ex;

	ck_assert_int_eq(plain_sized(&ex, AUTH_USER_MAX, 8), AUTH_CHECK);
	ck_assert_uint_eq(strlen(ex.user), AUTH_USER_MAX);
	ck_assert_int_eq(plain_sized(&ex, AUTH_USER_MAX + 1, 8), AUTH_MALFORMED);
	ck_assert_ptr_nonnull(ex.why);

	ck_assert_int_eq(plain_sized(&ex, 5, AUTH_SECRET_MAX), AUTH_CHECK);
	ck_assert_uint_eq(strlen(ex.secret), AUTH_SECRET_MAX);
	ck_assert_int_eq(plain_sized(&ex, 5, AUTH_SECRET_MAX + 1), AUTH_MALFORMED);
	ck_assert_ptr_nonnull(ex.why);
	auth_clear(&ex);
}
END_TEST

/*
 * auth: LOGIN
 */

START_TEST(test_login_exchange)
{
	struct auth_exchange ex;

	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_LOGIN, NULL, 0, "<c>"), AUTH_CHALLENGE);
	ck_assert_str_eq(ex.challenge, "VXNlcm5hbWU6"); /* "Username:" */
	ck_assert_int_eq(auth_next(&ex, S("YWxpY2U=")), AUTH_CHALLENGE);
	ck_assert_str_eq(ex.challenge, "UGFzc3dvcmQ6"); /* "Password:" */
	ck_assert_str_eq(ex.user, "alice");
	ck_assert_int_eq(auth_next(&ex, S("c2VjcmV0")), AUTH_CHECK);
	ck_assert_str_eq(ex.user, "alice");
	ck_assert_str_eq(ex.secret, "secret");
	auth_clear(&ex);
}
END_TEST

START_TEST(test_login_initial)
{
	struct auth_exchange ex;

	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_LOGIN, S("YWxpY2U="), "<c>"), AUTH_CHALLENGE);
	ck_assert_str_eq(ex.challenge, "UGFzc3dvcmQ6");
	ck_assert_str_eq(ex.user, "alice");
	ck_assert_int_eq(auth_next(&ex, S("c2VjcmV0")), AUTH_CHECK);
	ck_assert_str_eq(ex.secret, "secret");
	auth_clear(&ex);
}
END_TEST

START_TEST(test_login_errors)
{
	struct auth_exchange ex;
	char b64[64];

	/* "=": an empty user name. */
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_LOGIN, S("="), "<c>"), AUTH_MALFORMED);
	ck_assert_ptr_nonnull(ex.why);

	/* Control characters in the user name. */
	enc(S("al\r\nice"), b64, sizeof(b64));
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_LOGIN, NULL, 0, "<c>"), AUTH_CHALLENGE);
	ck_assert_int_eq(auth_next(&ex, b64, strlen(b64)), AUTH_MALFORMED);
	ck_assert_ptr_nonnull(ex.why);

	/* Cancel at either step. */
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_LOGIN, NULL, 0, "<c>"), AUTH_CHALLENGE);
	ck_assert_int_eq(auth_next(&ex, S("*")), AUTH_CANCELED);
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_LOGIN, S("YWxpY2U="), "<c>"), AUTH_CHALLENGE);
	ck_assert_int_eq(auth_next(&ex, S("*")), AUTH_CANCELED);

	/* Bad base64 for the password; a NUL in it. */
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_LOGIN, S("YWxpY2U="), "<c>"), AUTH_CHALLENGE);
	ck_assert_int_eq(auth_next(&ex, S("c2VjcmV0=")), AUTH_BAD_BASE64);
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_LOGIN, S("YWxpY2U="), "<c>"), AUTH_CHALLENGE);
	enc(S("sec\0ret"), b64, sizeof(b64));
	ck_assert_int_eq(auth_next(&ex, b64, strlen(b64)), AUTH_MALFORMED);
	ck_assert_ptr_nonnull(ex.why);
}
END_TEST

/*
 * auth: CRAM-MD5
 */

START_TEST(test_cram_exchange)
{
	struct auth_exchange ex;

	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_CRAM_MD5, NULL, 0, RFC2195_CHALLENGE),
	    AUTH_CHALLENGE);
	ck_assert_str_eq(ex.cram, RFC2195_CHALLENGE);
	ck_assert_str_eq(ex.challenge, RFC2195_CHALLENGE_B64);
	ck_assert_int_eq(auth_next(&ex, S(RFC2195_RESPONSE_B64)), AUTH_CHECK);
	ck_assert_str_eq(ex.user, RFC2195_USER);
	ck_assert_str_eq(ex.secret, RFC2195_DIGEST);
	auth_clear(&ex);
}
END_TEST

START_TEST(test_cram_uppercase_digest)
{
	struct auth_exchange ex;
	char b64[128];

	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_CRAM_MD5, NULL, 0, RFC2195_CHALLENGE),
	    AUTH_CHALLENGE);
	enc(S("tim B913A602C7EDA7A495B4E6E7334D3890"), b64, sizeof(b64));
	ck_assert_int_eq(auth_next(&ex, b64, strlen(b64)), AUTH_CHECK);
	ck_assert_str_eq(ex.user, "tim");
	ck_assert_str_eq(ex.secret, RFC2195_DIGEST);
	auth_clear(&ex);
}
END_TEST

START_TEST(test_cram_initial_response)
{
	struct auth_exchange ex;

	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_CRAM_MD5, S(RFC2195_RESPONSE_B64),
	    RFC2195_CHALLENGE), AUTH_MALFORMED);
	ck_assert_ptr_nonnull(ex.why);
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_CRAM_MD5, S("="), RFC2195_CHALLENGE),
	    AUTH_MALFORMED);
	ck_assert_ptr_nonnull(ex.why);
}
END_TEST

START_TEST(test_cram_malformed)
{
	static const char *const cases[] = {
		"tim b913a602c7eda7a495b4e6e7334d389",     /* 31 digits */
		"tim b913a602c7eda7a495b4e6e7334d38900",   /* 33 digits */
		"tim b913a602c7eda7a495b4e6e7334d389g",    /* not hex */
		"tim b913a602c7eda7a495b4e6e7334d389 ",
		"tim 0xb913a602c7eda7a495b4e6e7334d38",
		"timb913a602c7eda7a495b4e6e7334d3890",     /* no space */
		" b913a602c7eda7a495b4e6e7334d3890",       /* no user */
		"t\rim b913a602c7eda7a495b4e6e7334d3890",  /* control character */
		"tim ",
		"",
	};
	struct auth_exchange ex;
	char b64[128];

	for (size_t i = 0; i < NELEM(cases); i++) {
		ck_assert_int_eq(auth_start(&ex, AUTH_MECH_CRAM_MD5, NULL, 0, RFC2195_CHALLENGE),
		    AUTH_CHALLENGE);
		enc(cases[i], strlen(cases[i]), b64, sizeof(b64));
		ck_assert_msg(auth_next(&ex, b64, strlen(b64)) == AUTH_MALFORMED,
		    "case \"%s\" not MALFORMED", cases[i]);
		ck_assert_msg(ex.why != NULL, "case \"%s\": no why", cases[i]);
	}

	/* "*" cancels, bad base64 is reported as such. */
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_CRAM_MD5, NULL, 0, RFC2195_CHALLENGE),
	    AUTH_CHALLENGE);
	ck_assert_int_eq(auth_next(&ex, S("*")), AUTH_CANCELED);
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_CRAM_MD5, NULL, 0, RFC2195_CHALLENGE),
	    AUTH_CHALLENGE);
	ck_assert_int_eq(auth_next(&ex, S("dGlt IGI5")), AUTH_BAD_BASE64);
}
END_TEST

START_TEST(test_unknown_mech)
{
	struct auth_exchange ex;

	ck_assert_int_eq(auth_start(&ex, 0, NULL, 0, "<c>"), AUTH_MALFORMED);
	ck_assert_ptr_nonnull(ex.why);
	ck_assert_int_eq(auth_start(&ex, 1u << 8, S("AGFsaWNlAHNlY3JldA=="), "<c>"),
	    AUTH_MALFORMED);
	ck_assert_ptr_nonnull(ex.why);
}
END_TEST

START_TEST(test_auth_clear)
{
	struct auth_exchange ex;
	const unsigned char *p = (const unsigned char *)&ex;

	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_PLAIN, S("AGFsaWNlAHNlY3JldA=="), "<c>"),
	    AUTH_CHECK);
	ck_assert_str_eq(ex.secret, "secret");
	auth_clear(&ex);
	for (size_t i = 0; i < sizeof(ex.secret); i++)
		ck_assert_msg(ex.secret[i] == '\0', "secret[%zu] = %d after auth_clear", i,
		    ex.secret[i]);
	for (size_t i = 0; i < sizeof(ex.user); i++)
		ck_assert_msg(ex.user[i] == '\0', "user[%zu] = %d after auth_clear", i, ex.user[i]);

	/* The same after a CRAM-MD5 exchange, and for the whole struct. */
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_CRAM_MD5, NULL, 0, RFC2195_CHALLENGE),
	    AUTH_CHALLENGE);
	ck_assert_int_eq(auth_next(&ex, S(RFC2195_RESPONSE_B64)), AUTH_CHECK);
	auth_clear(&ex);
	for (size_t i = 0; i < sizeof(ex); i++)
		ck_assert_msg(p[i] == 0, "byte %zu = %d after auth_clear", i, p[i]);
}
END_TEST

/*
 * authdb: users from the configuration
 */

START_TEST(test_authdb_empty)
{
	struct config cfg;
	struct buf errors;
	struct authdb *db;

	config_defaults(&cfg);
	buf_init(&errors);
	db = authdb_load(&cfg, &errors);
	ck_assert_ptr_nonnull(db);
	ck_assert_str_eq(errtext(&errors), "");
	ck_assert_int_eq(authdb_has_users(db), 0);
	ck_assert_int_eq(authdb_has_secrets(db), 0);
	ck_assert_int_eq(authdb_check_password(db, "alice", "secret"), AUTHDB_UNKNOWN_USER);
	ck_assert_int_eq(authdb_check_cram(db, RFC2195_USER, RFC2195_CHALLENGE, RFC2195_DIGEST),
	    AUTHDB_UNKNOWN_USER);
	ck_assert_int_eq(authdb_has_users(NULL), 0);
	ck_assert_int_eq(authdb_has_secrets(NULL), 0);
	authdb_free(db);
	authdb_free(NULL);
	buf_free(&errors);
	config_free(&cfg);
}
END_TEST

START_TEST(test_authdb_plaintext)
{
	struct config cfg;
	struct buf errors;
	struct authdb *db;

	config_defaults(&cfg);
	cfg_add_user(&cfg, "alice", "wonderland", NULL, 4);
	buf_init(&errors);
	db = authdb_load(&cfg, &errors);
	ck_assert_msg(db != NULL, "authdb_load: %s", errtext(&errors));
	ck_assert_int_eq(authdb_has_users(db), 1);
	ck_assert_int_eq(authdb_has_secrets(db), 1);
	ck_assert_int_eq(authdb_check_password(db, "alice", "wonderland"), AUTHDB_OK);
	ck_assert_int_eq(authdb_check_password(db, "alice", "Wonderland"), AUTHDB_FAIL);
	ck_assert_int_eq(authdb_check_password(db, "alice", "wonderlan"), AUTHDB_FAIL);
	ck_assert_int_eq(authdb_check_password(db, "alice", "wonderland "), AUTHDB_FAIL);
	ck_assert_int_eq(authdb_check_password(db, "alice", ""), AUTHDB_FAIL);
	ck_assert_int_eq(authdb_check_password(db, "Alice", "wonderland"), AUTHDB_UNKNOWN_USER);
	ck_assert_int_eq(authdb_check_password(db, "bob", "wonderland"), AUTHDB_UNKNOWN_USER);
	authdb_free(db);
	buf_free(&errors);
	config_free(&cfg);
}
END_TEST

static const struct {
	const char *prefix;
	unsigned long count;
} hash_methods[] = {
	{ "$y$", 0 },     /* yescrypt */
	{ "$6$", 0 },     /* sha512-crypt */
	{ "$2b$", 4 },    /* bcrypt, cheapest cost */
};

START_TEST(test_authdb_hash)
{
	struct config cfg;
	struct buf errors;
	struct authdb *db;
	char *hash = make_hash(hash_methods[_i].prefix, hash_methods[_i].count, "s3cret pw");
	const char *why = NULL;

	ck_assert_msg(authdb_hash_supported(hash, &why) == 0, "%s: %s", hash, why);
	config_defaults(&cfg);
	cfg_add_user(&cfg, "bob", NULL, hash, 9);
	buf_init(&errors);
	db = authdb_load(&cfg, &errors);
	ck_assert_msg(db != NULL, "authdb_load: %s", errtext(&errors));
	ck_assert_int_eq(authdb_has_users(db), 1);
	ck_assert_int_eq(authdb_has_secrets(db), 0);
	ck_assert_int_eq(authdb_check_password(db, "bob", "s3cret pw"), AUTHDB_OK);
	ck_assert_int_eq(authdb_check_password(db, "bob", "s3cret"), AUTHDB_FAIL);
	ck_assert_int_eq(authdb_check_password(db, "bob", ""), AUTHDB_FAIL);
	/* The hash itself is not a password. */
	ck_assert_int_eq(authdb_check_password(db, "bob", hash), AUTHDB_FAIL);
	ck_assert_int_eq(authdb_check_password(db, "alice", "s3cret pw"), AUTHDB_UNKNOWN_USER);
	/* Only a hash: no CRAM-MD5. */
	ck_assert_int_eq(authdb_check_cram(db, "bob", RFC2195_CHALLENGE, RFC2195_DIGEST),
	    AUTHDB_NO_SECRET);
	authdb_free(db);
	buf_free(&errors);
	config_free(&cfg);
	free(hash);
}
END_TEST

START_TEST(test_authdb_many_users)
{
	static const char *const names[] = { "zed", "alice", "mike", "bob", "yvonne", "carol" };
	struct config cfg;
	struct buf errors;
	struct authdb *db;
	char pw[32];

	config_defaults(&cfg);
	for (size_t i = 0; i < NELEM(names); i++) {
		snprintf(pw, sizeof(pw), "pw-%s", names[i]);
		cfg_add_user(&cfg, names[i], pw, NULL, (int)i + 1);
	}
	buf_init(&errors);
	db = authdb_load(&cfg, &errors);
	ck_assert_msg(db != NULL, "authdb_load: %s", errtext(&errors));
	for (size_t i = 0; i < NELEM(names); i++) {
		snprintf(pw, sizeof(pw), "pw-%s", names[i]);
		ck_assert_msg(authdb_check_password(db, names[i], pw) == AUTHDB_OK, "%s", names[i]);
		/* Another user's password is wrong. */
		snprintf(pw, sizeof(pw), "pw-%s", names[(i + 1) % NELEM(names)]);
		ck_assert_msg(authdb_check_password(db, names[i], pw) == AUTHDB_FAIL, "%s", names[i]);
	}
	ck_assert_int_eq(authdb_check_password(db, "aaron", "pw-aaron"), AUTHDB_UNKNOWN_USER);
	ck_assert_int_eq(authdb_check_password(db, "zzz", "pw-zzz"), AUTHDB_UNKNOWN_USER);
	ck_assert_int_eq(authdb_check_password(db, "", "pw-"), AUTHDB_UNKNOWN_USER);
	authdb_free(db);
	buf_free(&errors);
	config_free(&cfg);
}
END_TEST

START_TEST(test_authdb_accept_any)
{
	struct config cfg;
	struct buf errors;
	struct authdb *db;

	config_defaults(&cfg);
	cfg.auth_accept_any = 1;
	buf_init(&errors);
	db = authdb_load(&cfg, &errors);
	ck_assert_ptr_nonnull(db);
	ck_assert_int_eq(authdb_has_users(db), 1);
	ck_assert_int_eq(authdb_has_secrets(db), 1);
	ck_assert_int_eq(authdb_check_password(db, "anyone", "anything"), AUTHDB_OK);
	ck_assert_int_eq(authdb_check_password(db, "x", ""), AUTHDB_OK);
	ck_assert_int_eq(authdb_check_cram(db, "anyone", RFC2195_CHALLENGE,
	    "00000000000000000000000000000000"), AUTHDB_OK);
	authdb_free(db);

	/* Also over users that are defined. */
	cfg_add_user(&cfg, "alice", "wonderland", NULL, 4);
	db = authdb_load(&cfg, &errors);
	ck_assert_ptr_nonnull(db);
	ck_assert_int_eq(authdb_check_password(db, "alice", "wrong"), AUTHDB_OK);
	authdb_free(db);
	buf_free(&errors);
	config_free(&cfg);
}
END_TEST

START_TEST(test_authdb_cram)
{
	struct config cfg;
	struct buf errors;
	struct authdb *db;
	char *hash = make_hash("$6$", 0, "pw");

	config_defaults(&cfg);
	cfg_add_user(&cfg, RFC2195_USER, RFC2195_SECRET, NULL, 2);
	cfg_add_user(&cfg, "hashonly", NULL, hash, 3);
	buf_init(&errors);
	db = authdb_load(&cfg, &errors);
	ck_assert_msg(db != NULL, "authdb_load: %s", errtext(&errors));
	ck_assert_int_eq(authdb_has_secrets(db), 1);
	ck_assert_int_eq(authdb_check_cram(db, RFC2195_USER, RFC2195_CHALLENGE, RFC2195_DIGEST),
	    AUTHDB_OK);
	/* Wrong digest, wrong challenge, upper case, truncated. */
	ck_assert_int_eq(authdb_check_cram(db, RFC2195_USER, RFC2195_CHALLENGE,
	    "b913a602c7eda7a495b4e6e7334d3891"), AUTHDB_FAIL);
	ck_assert_int_eq(authdb_check_cram(db, RFC2195_USER, "<1896.697170953@postoffice.reston.mci.net>",
	    RFC2195_DIGEST), AUTHDB_FAIL);
	ck_assert_int_eq(authdb_check_cram(db, RFC2195_USER, RFC2195_CHALLENGE,
	    "B913A602C7EDA7A495B4E6E7334D3890"), AUTHDB_FAIL);
	ck_assert_int_eq(authdb_check_cram(db, RFC2195_USER, RFC2195_CHALLENGE,
	    "b913a602c7eda7a495b4e6e7334d389"), AUTHDB_FAIL);
	ck_assert_int_eq(authdb_check_cram(db, RFC2195_USER, RFC2195_CHALLENGE, ""), AUTHDB_FAIL);
	ck_assert_int_eq(authdb_check_cram(db, "hashonly", RFC2195_CHALLENGE, RFC2195_DIGEST),
	    AUTHDB_NO_SECRET);
	ck_assert_int_eq(authdb_check_cram(db, "nobody", RFC2195_CHALLENGE, RFC2195_DIGEST),
	    AUTHDB_UNKNOWN_USER);
	/* The plaintext secret works for PLAIN/LOGIN too. */
	ck_assert_int_eq(authdb_check_password(db, RFC2195_USER, RFC2195_SECRET), AUTHDB_OK);
	authdb_free(db);
	buf_free(&errors);
	config_free(&cfg);
	free(hash);
}
END_TEST

/* auth and authdb together: a CRAM-MD5 exchange checked against the db. */
START_TEST(test_authdb_cram_exchange)
{
	struct config cfg;
	struct buf errors;
	struct authdb *db;
	struct auth_exchange ex;
	char b64[128];

	config_defaults(&cfg);
	cfg_add_user(&cfg, RFC2195_USER, RFC2195_SECRET, NULL, 2);
	buf_init(&errors);
	db = authdb_load(&cfg, &errors);
	ck_assert_ptr_nonnull(db);

	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_CRAM_MD5, NULL, 0, RFC2195_CHALLENGE),
	    AUTH_CHALLENGE);
	enc(S("tim B913A602C7EDA7A495B4E6E7334D3890"), b64, sizeof(b64));
	ck_assert_int_eq(auth_next(&ex, b64, strlen(b64)), AUTH_CHECK);
	ck_assert_int_eq(authdb_check_cram(db, ex.user, ex.cram, ex.secret), AUTHDB_OK);

	/* The same response to another challenge is wrong. */
	ck_assert_int_eq(auth_start(&ex, AUTH_MECH_CRAM_MD5, NULL, 0, "<1.2@host>"),
	    AUTH_CHALLENGE);
	ck_assert_int_eq(auth_next(&ex, b64, strlen(b64)), AUTH_CHECK);
	ck_assert_int_eq(authdb_check_cram(db, ex.user, ex.cram, ex.secret), AUTHDB_FAIL);
	auth_clear(&ex);
	authdb_free(db);
	buf_free(&errors);
	config_free(&cfg);
}
END_TEST

START_TEST(test_authdb_config_bad_hash)
{
	struct config cfg;
	struct buf errors;
	const char *e;

	config_defaults(&cfg);
	cfg.path = xstrdup("test.conf");
	cfg_add_user(&cfg, "alice", "wonderland", NULL, 6);
	cfg_add_user(&cfg, "x", NULL, "!", 7);
	buf_init(&errors);
	ck_assert_ptr_null(authdb_load(&cfg, &errors));
	e = errtext(&errors);
	ck_assert_msg(starts_with(e, "test.conf:7: hash of user 'x': "), "errors: %s", e);
	ck_assert_msg(strlen(e) > strlen("test.conf:7: hash of user 'x': \n"), "errors: %s", e);
	ck_assert_msg(strchr(e, '\n') == e + strlen(e) - 1, "errors: %s", e);
	buf_free(&errors);
	config_free(&cfg);
}
END_TEST

START_TEST(test_hash_supported_generated)
{
	for (size_t i = 0; i < NELEM(hash_methods); i++) {
		char *hash = make_hash(hash_methods[i].prefix, hash_methods[i].count, "pw");
		const char *why = NULL;

		ck_assert_msg(authdb_hash_supported(hash, &why) == 0, "%s: %s", hash, why);
		free(hash);
	}
}
END_TEST

static const char *const unsupported_hashes[] = {
	"!",
	"*",
	"!!",
	"*LK*",
	"plaintext",
	"",
	"!$6$abcdefgh$xyz",     /* a locked account */
	"$unknown$abc$def",
	"secret",               /* a password where a hash belongs */
	"wonderland",
	"$6$",                  /* only the method */
	"$6$saltsalt$",         /* method and salt, no hash */
	"$6$saltsalt$tooshort", /* cut short */
	"$y$j9T$",
};

START_TEST(test_hash_supported_rejects)
{
	const char *why = NULL;

	ck_assert_msg(authdb_hash_supported(unsupported_hashes[_i], &why) == -1,
	    "\"%s\" is accepted as a hash", unsupported_hashes[_i]);
	ck_assert_msg(why != NULL && why[0] != '\0', "\"%s\": no reason", unsupported_hashes[_i]);
}
END_TEST

START_TEST(test_result_name)
{
	ck_assert_str_eq(authdb_result_name(AUTHDB_OK), "ok");
	ck_assert_str_eq(authdb_result_name(AUTHDB_FAIL), "wrong credentials");
	ck_assert_str_eq(authdb_result_name(AUTHDB_UNKNOWN_USER), "unknown user");
	ck_assert_str_eq(authdb_result_name(AUTHDB_NO_SECRET), "no plaintext secret for CRAM-MD5");
}
END_TEST

/*
 * authdb: the passwd file
 */

START_TEST(test_passwd_file)
{
	struct config cfg;
	struct buf errors;
	struct authdb *db;
	char *bob = make_hash("$6$", 0, "bobs pw");
	char *carol = make_hash("$2b$", 4, "carols pw");
	char *text;

	ck_assert_int_gt(asprintf(&text,
	    "# users of the test\n"
	    "\n"
	    "alice:{PLAIN}wonderland\r\n"
	    "bob:%s\r\n"
	    "\r\n"
	    "#carol:{PLAIN}commented\n"
	    "carol:%s\n"
	    "eve:{PLAIN}a:b c\n"
	    "dave:{PLAIN}no newline", bob, carol), 0);
	config_defaults(&cfg);
	cfg.path = xstrdup("test.conf");
	buf_init(&errors);
	db = load_with_passwd(&cfg, text, strlen(text), &errors);
	ck_assert_msg(db != NULL, "authdb_load: %s", errtext(&errors));
	ck_assert_str_eq(errtext(&errors), "");
	ck_assert_int_eq(authdb_has_users(db), 1);
	ck_assert_int_eq(authdb_has_secrets(db), 1);

	ck_assert_int_eq(authdb_check_password(db, "alice", "wonderland"), AUTHDB_OK);
	ck_assert_int_eq(authdb_check_password(db, "alice", "wonderland\r"), AUTHDB_FAIL);
	ck_assert_int_eq(authdb_check_password(db, "alice", "{PLAIN}wonderland"), AUTHDB_FAIL);
	ck_assert_int_eq(authdb_check_password(db, "bob", "bobs pw"), AUTHDB_OK);
	ck_assert_int_eq(authdb_check_password(db, "bob", "carols pw"), AUTHDB_FAIL);
	ck_assert_int_eq(authdb_check_password(db, "carol", "carols pw"), AUTHDB_OK);
	ck_assert_int_eq(authdb_check_password(db, "carol", "bobs pw"), AUTHDB_FAIL);
	ck_assert_int_eq(authdb_check_password(db, "eve", "a:b c"), AUTHDB_OK);
	ck_assert_int_eq(authdb_check_password(db, "dave", "no newline"), AUTHDB_OK);
	ck_assert_int_eq(authdb_check_password(db, "#carol", "commented"), AUTHDB_UNKNOWN_USER);
	ck_assert_int_eq(authdb_check_cram(db, "alice", "<1@h>", "00000000000000000000000000000000"),
	    AUTHDB_FAIL);
	ck_assert_int_eq(authdb_check_cram(db, "bob", "<1@h>", "00000000000000000000000000000000"),
	    AUTHDB_NO_SECRET);

	authdb_free(db);
	buf_free(&errors);
	config_free(&cfg);
	free(text);
	free(bob);
	free(carol);
}
END_TEST

START_TEST(test_passwd_file_and_config)
{
	struct config cfg;
	struct buf errors;
	struct authdb *db;
	char *hash = make_hash("$y$", 0, "yes pw");
	char *text;

	ck_assert_int_gt(asprintf(&text, "zoe:%s\n" RFC2195_USER ":{PLAIN}" RFC2195_SECRET "\n",
	    hash), 0);
	config_defaults(&cfg);
	cfg.path = xstrdup("test.conf");
	cfg_add_user(&cfg, "alice", "wonderland", NULL, 7);
	buf_init(&errors);
	db = load_with_passwd(&cfg, text, strlen(text), &errors);
	ck_assert_msg(db != NULL, "authdb_load: %s", errtext(&errors));
	ck_assert_int_eq(authdb_check_password(db, "alice", "wonderland"), AUTHDB_OK);
	ck_assert_int_eq(authdb_check_password(db, "zoe", "yes pw"), AUTHDB_OK);
	ck_assert_int_eq(authdb_check_password(db, "zoe", "no pw"), AUTHDB_FAIL);
	ck_assert_int_eq(authdb_check_cram(db, RFC2195_USER, RFC2195_CHALLENGE, RFC2195_DIGEST),
	    AUTHDB_OK);
	authdb_free(db);
	buf_free(&errors);
	config_free(&cfg);
	free(text);
	free(hash);
}
END_TEST

/*
 * Load text as the passwd file: authdb_load must fail with exactly the
 * error lines "FILE:" want_line1 (and want_line2, if not NULL).
 */
static void
expect_passwd_error(struct config *cfg, const char *text, size_t len, const char *want_line1,
    const char *want_line2)
{
	struct buf errors;
	char *want;

	buf_init(&errors);
	ck_assert_ptr_null(load_with_passwd(cfg, text, len, &errors));
	if (want_line2 != NULL)
		ck_assert_int_gt(asprintf(&want, "%s:%s\n%s:%s\n", cfg->auth_passwd_file, want_line1,
		    cfg->auth_passwd_file, want_line2), 0);
	else
		ck_assert_int_gt(asprintf(&want, "%s:%s\n", cfg->auth_passwd_file, want_line1), 0);
	ck_assert_str_eq(errtext(&errors), want);
	free(want);
	buf_free(&errors);
}

START_TEST(test_passwd_no_colon)
{
	struct config cfg;

	config_defaults(&cfg);
	cfg.path = xstrdup("test.conf");
	expect_passwd_error(&cfg, S("alice:{PLAIN}x\nbogus line\n"),
	    "2: expected user:hash or user:{PLAIN}secret", NULL);
	config_free(&cfg);

	/* An empty user name; CRLF and comments do not shift line numbers. */
	config_defaults(&cfg);
	expect_passwd_error(&cfg, S("# c\r\n\r\n:{PLAIN}x\r\n"),
	    "3: expected user:hash or user:{PLAIN}secret", NULL);
	config_free(&cfg);

	/* Every bad line is reported. */
	config_defaults(&cfg);
	expect_passwd_error(&cfg, S("one\nalice:{PLAIN}x\n\nthree\n"),
	    "1: expected user:hash or user:{PLAIN}secret",
	    "4: expected user:hash or user:{PLAIN}secret");
	config_free(&cfg);
}
END_TEST

START_TEST(test_passwd_bad_hash)
{
	struct config cfg;
	struct buf errors;
	char *prefix;
	const char *e;

	config_defaults(&cfg);
	cfg.path = xstrdup("test.conf");
	buf_init(&errors);
	ck_assert_ptr_null(load_with_passwd(&cfg, S("# c\nalice:{PLAIN}x\nx:!\n"), &errors));
	ck_assert_int_gt(asprintf(&prefix, "%s:3: hash of user 'x': ", cfg.auth_passwd_file), 0);
	e = errtext(&errors);
	ck_assert_msg(starts_with(e, prefix), "errors: %s", e);
	ck_assert_msg(strlen(e) > strlen(prefix) + 1, "no reason: %s", e);
	ck_assert_msg(strchr(e, '\n') == e + strlen(e) - 1, "not one line: %s", e);
	free(prefix);
	buf_free(&errors);
	config_free(&cfg);
}
END_TEST

START_TEST(test_passwd_bad_names)
{
	struct config cfg;
	char line[400];

	config_defaults(&cfg);
	expect_passwd_error(&cfg, S("al ice:{PLAIN}x\n"),
	    "1: user name must be at most 255 characters without spaces or control characters", NULL);
	config_free(&cfg);

	config_defaults(&cfg);
	expect_passwd_error(&cfg, S("# tab\nal\tice:{PLAIN}x\n"),
	    "2: user name must be at most 255 characters without spaces or control characters", NULL);
	config_free(&cfg);

	config_defaults(&cfg);
	expect_passwd_error(&cfg, S("alice:{PLAIN}\n"), "1: empty password for user 'alice'", NULL);
	config_free(&cfg);

	config_defaults(&cfg);
	memset(line, 'u', 256);
	snprintf(line + 256, sizeof(line) - 256, ":{PLAIN}x\n");
	expect_passwd_error(&cfg, line, strlen(line),
	    "1: user name must be at most 255 characters without spaces or control characters", NULL);
	config_free(&cfg);
}
END_TEST

START_TEST(test_passwd_long_secret)
{
	struct config cfg;
	struct buf errors;
	struct authdb *db;
	char text[1100];
	char pw[1025];

	/* 1024 characters are fine, */
	memset(pw, 'p', 1024);
	pw[1024] = '\0';
	snprintf(text, sizeof(text), "bob:{PLAIN}%s\n", pw);
	config_defaults(&cfg);
	buf_init(&errors);
	db = load_with_passwd(&cfg, text, strlen(text), &errors);
	ck_assert_msg(db != NULL, "authdb_load: %s", errtext(&errors));
	ck_assert_int_eq(authdb_check_password(db, "bob", pw), AUTHDB_OK);
	authdb_free(db);
	buf_free(&errors);
	config_free(&cfg);

	/* 1025 are not. */
	snprintf(text, sizeof(text), "bob:{PLAIN}%sp\n", pw);
	config_defaults(&cfg);
	expect_passwd_error(&cfg, text, strlen(text),
	    "1: password of user 'bob' is longer than 1024 characters", NULL);
	config_free(&cfg);
}
END_TEST

START_TEST(test_passwd_nul)
{
	struct config cfg;

	config_defaults(&cfg);
	expect_passwd_error(&cfg, S("alice:{PLAIN}x\nbob:{PLAIN}a\0b\n"), "2: NUL octet in line",
	    NULL);
	config_free(&cfg);
}
END_TEST

START_TEST(test_passwd_duplicate)
{
	struct config cfg;
	struct buf errors;
	char *want;

	/* With a user of the auth group. */
	config_defaults(&cfg);
	cfg.path = xstrdup("test.conf");
	cfg_add_user(&cfg, "mike", "pw", NULL, 5);
	cfg_add_user(&cfg, "alice", "wonderland", NULL, 7);
	buf_init(&errors);
	ck_assert_ptr_null(load_with_passwd(&cfg, S("bob:{PLAIN}x\nalice:{PLAIN}y\n"), &errors));
	ck_assert_int_gt(asprintf(&want, "%s:2: user 'alice' is already defined at test.conf:7\n",
	    cfg.auth_passwd_file), 0);
	ck_assert_str_eq(errtext(&errors), want);
	free(want);
	buf_free(&errors);
	config_free(&cfg);

	/* Twice in the file. */
	config_defaults(&cfg);
	cfg.path = xstrdup("test.conf");
	buf_init(&errors);
	ck_assert_ptr_null(load_with_passwd(&cfg, S("bob:{PLAIN}x\n#\nalice:{PLAIN}y\nbob:{PLAIN}z\n"),
	    &errors));
	ck_assert_int_gt(asprintf(&want, "%s:4: user 'bob' is already defined at %s:1\n",
	    cfg.auth_passwd_file, cfg.auth_passwd_file), 0);
	ck_assert_str_eq(errtext(&errors), want);
	free(want);
	buf_free(&errors);
	config_free(&cfg);

	/* Twice in the auth group. */
	config_defaults(&cfg);
	cfg.path = xstrdup("test.conf");
	cfg_add_user(&cfg, "carol", "a", NULL, 10);
	cfg_add_user(&cfg, "alice", "b", NULL, 11);
	cfg_add_user(&cfg, "carol", "c", NULL, 12);
	buf_init(&errors);
	ck_assert_ptr_null(authdb_load(&cfg, &errors));
	ck_assert_str_eq(errtext(&errors), "test.conf:12: user 'carol' is already defined at test.conf:10\n");
	buf_free(&errors);
	config_free(&cfg);
}
END_TEST

START_TEST(test_passwd_missing)
{
	struct config cfg;
	struct buf errors;
	char *want;

	config_defaults(&cfg);
	cfg.path = xstrdup("test.conf");
	/* A name that surely does not exist: a temporary file, removed. */
	cfg.auth_passwd_file = write_tmp("", 0);
	ck_assert_int_eq(unlink(cfg.auth_passwd_file), 0);
	cfg.auth_passwd_file_line = 12;
	buf_init(&errors);
	ck_assert_ptr_null(authdb_load(&cfg, &errors));
	ck_assert_int_gt(asprintf(&want,
	    "test.conf:12: auth: passwd_file '%s': No such file or directory\n",
	    cfg.auth_passwd_file), 0);
	ck_assert_str_eq(errtext(&errors), want);
	free(want);
	buf_free(&errors);
	config_free(&cfg);
}
END_TEST

START_TEST(test_passwd_empty_file)
{
	struct config cfg;
	struct buf errors;
	struct authdb *db;

	config_defaults(&cfg);
	buf_init(&errors);
	db = load_with_passwd(&cfg, S("# nobody yet\n\n"), &errors);
	ck_assert_msg(db != NULL, "authdb_load: %s", errtext(&errors));
	ck_assert_int_eq(authdb_has_users(db), 0);
	ck_assert_int_eq(authdb_has_secrets(db), 0);
	authdb_free(db);
	buf_free(&errors);
	config_free(&cfg);
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc;

	tc = tcase_create("base64");
	tcase_add_loop_test(tc, test_b64_decode_vectors, 0, (int)NELEM(b64_good));
	tcase_add_loop_test(tc, test_b64_decode_rejects, 0, (int)NELEM(b64_bad));
	tcase_add_test(tc, test_b64_decode_outcap);
	tcase_add_test(tc, test_b64_decode_binary);
	tcase_add_loop_test(tc, test_b64_encode_vectors, 0, (int)NELEM(b64_enc));
	tcase_add_test(tc, test_b64_encode_outcap);
	tcase_add_test(tc, test_b64_round_trip);
	suite_add_tcase(s, tc);

	tc = tcase_create("mechanisms");
	tcase_add_test(tc, test_mech_from_name);
	tcase_add_test(tc, test_mech_name);
	tcase_add_test(tc, test_unknown_mech);
	tcase_add_test(tc, test_auth_clear);
	suite_add_tcase(s, tc);

	tc = tcase_create("plain");
	tcase_add_test(tc, test_plain_initial);
	tcase_add_test(tc, test_plain_authzid);
	tcase_add_test(tc, test_plain_no_initial);
	tcase_add_test(tc, test_plain_empty_initial);
	tcase_add_test(tc, test_plain_missing_nul);
	tcase_add_test(tc, test_plain_malformed_fields);
	tcase_add_test(tc, test_plain_cancel);
	tcase_add_test(tc, test_plain_bad_base64);
	tcase_add_test(tc, test_plain_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("login");
	tcase_add_test(tc, test_login_exchange);
	tcase_add_test(tc, test_login_initial);
	tcase_add_test(tc, test_login_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("cram-md5");
	tcase_add_test(tc, test_cram_exchange);
	tcase_add_test(tc, test_cram_uppercase_digest);
	tcase_add_test(tc, test_cram_initial_response);
	tcase_add_test(tc, test_cram_malformed);
	suite_add_tcase(s, tc);

	/* crypt(3) is slow on purpose, more so under the sanitizers. */
	tc = tcase_create("authdb");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_authdb_empty);
	tcase_add_test(tc, test_authdb_plaintext);
	tcase_add_loop_test(tc, test_authdb_hash, 0, (int)NELEM(hash_methods));
	tcase_add_test(tc, test_authdb_many_users);
	tcase_add_test(tc, test_authdb_accept_any);
	tcase_add_test(tc, test_authdb_cram);
	tcase_add_test(tc, test_authdb_cram_exchange);
	tcase_add_test(tc, test_authdb_config_bad_hash);
	tcase_add_test(tc, test_hash_supported_generated);
	tcase_add_loop_test(tc, test_hash_supported_rejects, 0, (int)NELEM(unsupported_hashes));
	tcase_add_test(tc, test_result_name);
	suite_add_tcase(s, tc);

	tc = tcase_create("passwd");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_passwd_file);
	tcase_add_test(tc, test_passwd_file_and_config);
	tcase_add_test(tc, test_passwd_no_colon);
	tcase_add_test(tc, test_passwd_bad_hash);
	tcase_add_test(tc, test_passwd_bad_names);
	tcase_add_test(tc, test_passwd_long_secret);
	tcase_add_test(tc, test_passwd_nul);
	tcase_add_test(tc, test_passwd_duplicate);
	tcase_add_test(tc, test_passwd_missing);
	tcase_add_test(tc, test_passwd_empty_file);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(auth_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
