/*
 * check_cli_msg - unit tests for cli_msg.c and cli_json.c, the smtptrap
 * command's view of one captured message, on the fixtures in
 * data/mail (smtptrapd trace block first, CRLF line endings):
 *
 *   plain.eml      ASCII; recipients with and without parameters, TLS
 *                  and AUTH trace lines, a client's fake envelope
 *   encoded.eml    RFC 2047 words (B and Q, folded, ISO-8859-1), base64 body
 *   multipart.eml  mixed { alternative { QP latin-1 plain, base64 html },
 *                  PDF with an RFC 2231 file name, message/rfc822 }
 *   attachment.pdf the PDF's octets, to compare cli_msg_part() with
 *   htmlonly.eml   the text/plain part is an attachment: the text is the
 *                  windows-1252 HTML part's
 *   utf8body.eml   8-bit UTF-8 body without MIME headers
 *   smtputf8.eml   UTF-8 envelope addresses, quoted local parts
 *   notrace.eml    no trace block
 *   invalid.eml    octets that are not UTF-8 in envelope, headers, body
 *   empty.eml      null sender, empty body
 *
 * JSON is parsed back with json-c, strict and validating UTF-8. Garbage
 * and header-only files are written to temporary files.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <json.h>

#include "cli_msg.h"
#include "log.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Epoch seconds of 2026-11-21T10:00:00Z. */
#define T0 1795255200LL
#define PLAIN_ID "1795255200.M100000P4242Q1.trap.example"

/*
 * Helpers
 */

/* "$srcdir/data/mail/NAME"; four buffers used in turn. */
static const char *
fixture(const char *name)
{
	static char paths[4][4096];
	static int next;
	const char *srcdir = getenv("srcdir");
	char *p = paths[next++ % 4];

	snprintf(p, sizeof(paths[0]), "%s/data/mail/%s", srcdir ? srcdir : ".", name);
	return p;
}

static void
load(const char *name, const char *id, struct cli_msg *m)
{
	char err[512] = "";

	ck_assert_msg(cli_msg_load(fixture(name), id, m, err, sizeof(err)) == 0, "load %s: %s", name,
	    err);
}

static void
body(const char *name, struct cli_body *b)
{
	char err[512] = "";

	ck_assert_msg(cli_msg_body(fixture(name), b, err, sizeof(err)) == 0, "body %s: %s", name, err);
}

/* Part n of fixture name, which must exist. */
static char *
part(const char *name, int n, size_t *len)
{
	char err[512] = "";
	char *out;

	ck_assert_msg(cli_msg_part(fixture(name), n, &out, len, err, sizeof(err)) == 0,
	    "part %d of %s: %s", n, name, err);
	ck_assert_ptr_nonnull(out);
	return out;
}

static void
assert_utf8(const char *what, const char *s)
{
	if (s != NULL)
		ck_assert_msg(g_utf8_validate(s, -1, NULL), "%s is not UTF-8", what);
}

/* Every string of m and b is valid UTF-8, header values one line. */
static void
assert_valid(const struct cli_msg *m, const struct cli_body *b)
{
	assert_utf8("sender", m->sender);
	assert_utf8("mail_params", m->mail_params);
	for (size_t i = 0; i < m->nrcpts; i++) {
		assert_utf8("rcpt", m->rcpts[i].address);
		assert_utf8("rcpt params", m->rcpts[i].params);
	}
	for (size_t i = 0; i < m->nheaders; i++) {
		assert_utf8("header name", m->headers[i].name);
		assert_utf8(m->headers[i].name, m->headers[i].value);
		ck_assert_msg(strpbrk(m->headers[i].value, "\r\n") == NULL, "%s has CR or LF",
		    m->headers[i].name);
	}
	if (b == NULL)
		return;
	assert_utf8("text", b->text);
	for (size_t i = 0; i < b->nparts; i++) {
		assert_utf8("filename", b->parts[i].filename);
		assert_utf8("charset", b->parts[i].charset);
	}
}

/* Parse JSON text strictly, checking UTF-8 and that nothing trails. */
static json_object *
json_parse(const char *text)
{
	json_tokener *tok = json_tokener_new();
	json_object *o;

	ck_assert_msg(g_utf8_validate(text, -1, NULL), "JSON is not UTF-8: %s", text);
	ck_assert_msg(strchr(text, '\n') == NULL, "JSON is not one line");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, text, (int)strlen(text));
	ck_assert_msg(o != NULL, "bad JSON (%s): %s",
	    json_tokener_error_desc(json_tokener_get_error(tok)), text);
	ck_assert_uint_eq(json_tokener_get_parse_end(tok), strlen(text));
	json_tokener_free(tok);
	return o;
}

static json_object *
jget(json_object *o, const char *key)
{
	json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no member '%s'", key);
	return v;
}

/* Member key of o is the string want, or null for NULL. */
static void
assert_jstr(json_object *o, const char *key, const char *want)
{
	json_object *v = jget(o, key);
	const char *got = json_object_get_string(v);

	if (want == NULL) {
		ck_assert_msg(v == NULL, "'%s' is \"%s\", want null", key, got);
		return;
	}
	ck_assert_msg(json_object_is_type(v, json_type_string), "'%s' is not a string", key);
	ck_assert_msg(strcmp(got, want) == 0, "'%s' is \"%s\", want \"%s\"", key, got, want);
}

static int64_t
jint(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	ck_assert_msg(json_object_is_type(v, json_type_int), "'%s' is not an integer", key);
	return json_object_get_int64(v);
}

/* A temporary file holding data[0..len); returns its (allocated) path. */
static char *
write_tmp(const void *data, size_t len)
{
	const char *base = getenv("TMPDIR");
	char *path;
	int fd;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	ck_assert_int_gt(asprintf(&path, "%s/check_cli_msg.XXXXXX", base), 0);
	fd = mkstemp(path);
	ck_assert_msg(fd >= 0, "mkstemp %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
	return path;
}

/*
 * Envelope and headers
 */

START_TEST(test_plain)
{
	struct cli_msg m;
	struct stat st;

	load("plain.eml", PLAIN_ID, &m);
	ck_assert_str_eq(m.id, PLAIN_ID);
	ck_assert_str_eq(m.path, fixture("plain.eml"));
	ck_assert_int_eq(stat(fixture("plain.eml"), &st), 0);
	ck_assert_int_eq(m.size, st.st_size);
	ck_assert_int_eq((long long)m.received, T0);
	ck_assert_str_eq(m.sender, "alice@example.org");
	ck_assert_str_eq(m.mail_params, "SIZE=321 BODY=7BIT");
	/* The client's own X-Smtptrap-* headers further down do not count. */
	ck_assert_uint_eq(m.nrcpts, 2);
	ck_assert_str_eq(m.rcpts[0].address, "bob@example.net");
	ck_assert_str_eq(m.rcpts[0].params, "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.net");
	ck_assert_str_eq(m.rcpts[1].address, "carol@example.net");
	ck_assert_str_eq(m.rcpts[1].params, "");
	assert_valid(&m, NULL);

	ck_assert_uint_eq(m.nheaders, 18);
	ck_assert_str_eq(m.headers[0].name, "Return-Path");
	ck_assert_str_eq(m.headers[0].value, "<alice@example.org>");
	ck_assert_str_eq(m.headers[1].name, "Received");
	ck_assert_str_eq(m.headers[1].value, "from client.example.org ([192.0.2.10])"
	    "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))"
	    "\tby trap.example (smtptrapd) with ESMTPSA id 4242.1;\tSat, 21 Nov 2026 10:00:00 +0000");
	ck_assert_str_eq(m.headers[17].name, "Content-Transfer-Encoding");
	ck_assert_str_eq(m.headers[17].value, "7bit");
	/* Case-insensitive, the first of several. */
	ck_assert_str_eq(cli_msg_header(&m, "x-smtptrap-auth"), "user=alice mechanism=PLAIN");
	ck_assert_str_eq(cli_msg_header(&m, "X-SMTPTRAP-MAIL-FROM"), "<alice@example.org> SIZE=321 BODY=7BIT");
	ck_assert_ptr_null(cli_msg_header(&m, "X-Absent"));
	ck_assert_str_eq(m.subject, "Plain \"quoted\" back\\slash </tag> 100%");
	ck_assert_str_eq(m.from, "Alice Example <alice@example.org>");
	ck_assert_str_eq(m.to, "Bob <bob@example.net>, carol@example.net");
	ck_assert_str_eq(m.cc, "Dave <dave@example.com>");
	ck_assert_str_eq(m.date, "Sat, 21 Nov 2026 09:59:58 +0000");
	ck_assert_str_eq(m.message_id, "plain.1@example.org");
	cli_msg_free(&m);
}
END_TEST

static const struct {
	const char *id;
	long long received;     /* -1: the file's mtime */
} received_cases[] = {
	{ PLAIN_ID, T0 },
	{ "1795255200.M1P2Q3", T0 },
	{ "0.x", 0 },
	{ "1795255200", -1 },                  /* no '.' */
	{ "1795255200,S=100", -1 },
	{ "x1795255200.M1", -1 },
	{ " 1795255200.M1", -1 },
	{ "-1795255200.M1", -1 },
	{ "99999999999999999999999.M1", -1 }, /* overflow */
	{ "", -1 },
};

START_TEST(test_received)
{
	struct cli_msg m;
	struct stat st;
	long long want = received_cases[_i].received;

	ck_assert_int_eq(stat(fixture("plain.eml"), &st), 0);
	load("plain.eml", received_cases[_i].id, &m);
	ck_assert_msg((long long)m.received == (want == -1 ? (long long)st.st_mtime : want),
	    "id '%s': received %lld", received_cases[_i].id, (long long)m.received);
	cli_msg_free(&m);
}
END_TEST

START_TEST(test_encoded_words)
{
	struct cli_msg m;

	load("encoded.eml", "1795255201.M1P1Q2.trap.example", &m);
	ck_assert_int_eq((long long)m.received, T0 + 1);
	ck_assert_str_eq(m.subject, "Grüße aus München und Köln 🎉");
	ck_assert_str_eq(m.from, "Jörg Müller <joerg@example.de>");
	ck_assert_str_eq(m.to, "François <francois@example.fr>, 山田 <yamada@example.jp>");
	ck_assert_str_eq(m.cc, "\"Plain Name\" <plain@example.com>");
	ck_assert_str_eq(cli_msg_header(&m, "X-Mixed"), "prefix café suffix");
	ck_assert_str_eq(cli_msg_header(&m, "X-Greylist"),
	    "delayed 300 seconds by smtptrapd-0.1 at trap.example; Sat, 21 Nov 2026 10:00:00 +0000");
	ck_assert_str_eq(m.date, "Sat, 21 Nov 2026 10:00:01 +0100");
	ck_assert_str_eq(m.message_id, "enc.2@example.de");
	ck_assert_str_eq(m.sender, "joerg@example.de");
	ck_assert_str_eq(m.mail_params, "");
	assert_valid(&m, NULL);
	cli_msg_free(&m);
}
END_TEST

START_TEST(test_smtputf8_envelope)
{
	struct cli_msg m;

	load("smtputf8.eml", "1795255205.M5P5Q6.trap.example", &m);
	ck_assert_str_eq(m.sender, "jörg@bücher.example");
	ck_assert_str_eq(m.mail_params, "SMTPUTF8 BODY=8BITMIME");
	ck_assert_uint_eq(m.nrcpts, 3);
	ck_assert_str_eq(m.rcpts[0].address, "\"john smith\"@example.com");
	ck_assert_str_eq(m.rcpts[0].params, "NOTIFY=NEVER");
	ck_assert_str_eq(m.rcpts[1].address, "用户@例子.广告");
	ck_assert_str_eq(m.rcpts[1].params, "");
	/* A '>' inside the quotes does not end the address. */
	ck_assert_str_eq(m.rcpts[2].address, "\"odd>name\"@example.com");
	ck_assert_str_eq(m.rcpts[2].params, "ORCPT=rfc822;odd@example.com");
	/* RFC 6532 raw UTF-8 headers pass through. */
	ck_assert_str_eq(m.subject, "Grüße per SMTPUTF8 🎉");
	ck_assert_str_eq(m.from, "Jörg <jörg@bücher.example>");
	ck_assert_str_eq(m.to, "用户 <用户@例子.广告>");
	assert_valid(&m, NULL);
	cli_msg_free(&m);
}
END_TEST

START_TEST(test_null_sender)
{
	struct cli_msg m;

	load("empty.eml", "1795255207.M7P7Q8.trap.example", &m);
	ck_assert_str_eq(m.sender, "");
	ck_assert_str_eq(m.mail_params, "");
	ck_assert_uint_eq(m.nrcpts, 1);
	ck_assert_str_eq(m.rcpts[0].address, "postmaster@example.net");
	ck_assert_str_eq(m.rcpts[0].params, "");
	ck_assert_str_eq(m.subject, "Empty");
	cli_msg_free(&m);
}
END_TEST

START_TEST(test_no_trace)
{
	struct cli_msg m;
	struct stat st;

	ck_assert_int_eq(stat(fixture("notrace.eml"), &st), 0);
	load("notrace.eml", "notrace.eml", &m);
	ck_assert_ptr_null(m.sender);
	ck_assert_ptr_null(m.mail_params);
	ck_assert_uint_eq(m.nrcpts, 0);
	ck_assert_int_eq((long long)m.received, (long long)st.st_mtime);
	ck_assert_str_eq(m.subject, "No trace block");
	ck_assert_ptr_null(m.message_id);
	ck_assert_ptr_null(m.cc);
	ck_assert_uint_eq(m.nheaders, 5);
	cli_msg_free(&m);

	/* Without an id, the file's name is the id. */
	load("notrace.eml", NULL, &m);
	ck_assert_str_eq(m.id, "notrace.eml");
	cli_msg_free(&m);
}
END_TEST

/*
 * Bodies and parts
 */

START_TEST(test_multipart_parts)
{
	static const struct {
		const char *type, *charset, *filename, *disposition, *encoding;
		long long size;
	} want[] = {
		{ "text/plain", "iso-8859-1", NULL, NULL, "quoted-printable", 97 },
		{ "text/html", "utf-8", NULL, NULL, "base64", 92 },
		{ "application/pdf", NULL, "résumé – final.pdf", "attachment", "base64", 790 },
		{ "message/rfc822", NULL, NULL, "inline", NULL, 101 },
	};
	struct cli_body b;

	body("multipart.eml", &b);
	ck_assert_uint_eq(b.nparts, NELEM(want));
	for (size_t i = 0; i < NELEM(want); i++) {
		const struct cli_part *p = &b.parts[i];

		ck_assert_int_eq(p->index, (int)i + 1);
		ck_assert_str_eq(p->content_type, want[i].type);
		ck_assert_pstr_eq(p->charset, want[i].charset);
		ck_assert_pstr_eq(p->filename, want[i].filename);
		ck_assert_pstr_eq(p->disposition, want[i].disposition);
		ck_assert_pstr_eq(p->encoding, want[i].encoding);
		ck_assert_int_eq(p->size, want[i].size);
	}
	ck_assert_str_eq(b.text_type, "text/plain");
	ck_assert_str_eq(b.text, "Grüße aus Köln! Präsentation anbei. Diese Zeile ist weich umbrochen.\n"
	    "Zweite Zeile: été = summer.");
	cli_msg_body_free(&b);
}
END_TEST

START_TEST(test_multipart_part_bytes)
{
	static const char fwd[] = "From: Carol <carol@example.net>\r\nSubject: Forwarded\r\n"
	    "Message-ID: <fwd@example.net>\r\n\r\nForwarded body.";
	static const char html[] = "<html><body><p>Gr&uuml;&szlig;e aus <b>Köln</b> – “quoted” 日本"
	    "</p></body></html>\r\n";
	size_t len, pdflen;
	char *pdf, *out;

	ck_assert(g_file_get_contents(fixture("attachment.pdf"), &pdf, &pdflen, NULL));

	/* The attachment: exactly the original octets, NULs included. */
	out = part("multipart.eml", 3, &len);
	ck_assert_uint_eq(len, pdflen);
	ck_assert_int_eq(memcmp(out, pdf, len), 0);
	free(out);
	g_free(pdf);

	/* Text parts in UTF-8, line ends kept. */
	out = part("multipart.eml", 1, &len);
	ck_assert_str_eq(out, "Grüße aus Köln! Präsentation anbei. Diese Zeile ist weich umbrochen.\r\n"
	    "Zweite Zeile: été = summer.");
	ck_assert_uint_eq(len, strlen(out));
	free(out);
	out = part("multipart.eml", 2, &len);
	ck_assert_uint_eq(len, strlen(html));
	ck_assert_str_eq(out, html);
	free(out);

	/* The attached message as it was sent. */
	out = part("multipart.eml", 4, &len);
	ck_assert_uint_eq(len, strlen(fwd));
	ck_assert_str_eq(out, fwd);
	free(out);
}
END_TEST

START_TEST(test_part_out_of_range)
{
	static const int bad[] = { 0, -1, 5, 1000 };
	char err[512], want[64];
	char *out = (char *)"untouched";
	size_t len = 99;

	for (size_t i = 0; i < NELEM(bad); i++) {
		ck_assert_int_eq(cli_msg_part(fixture("multipart.eml"), bad[i], &out, &len, err,
		    sizeof(err)), -1);
		snprintf(want, sizeof(want), "no part %d", bad[i]);
		ck_assert_str_eq(err, want);
		ck_assert_ptr_null(out);
		ck_assert_uint_eq(len, 0);
	}
	ck_assert_int_eq(cli_msg_part(fixture("plain.eml"), 2, &out, &len, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no part 2");
	out = part("plain.eml", 1, &len);
	ck_assert_str_eq(out, "Hello Bob,\r\n\r\nthis is a plain message.\r\n-- \r\nAlice\r\n");
	free(out);
}
END_TEST

START_TEST(test_html_fallback)
{
	struct cli_body b;
	size_t len;
	char *out;

	body("htmlonly.eml", &b);
	ck_assert_uint_eq(b.nparts, 2);
	ck_assert_str_eq(b.parts[0].content_type, "text/plain");
	ck_assert_str_eq(b.parts[0].disposition, "attachment");
	ck_assert_str_eq(b.parts[0].filename, "notes.txt");
	ck_assert_ptr_null(b.parts[0].encoding);
	ck_assert_int_eq(b.parts[0].size, 12);
	ck_assert_str_eq(b.parts[1].charset, "windows-1252");
	ck_assert_int_eq(b.parts[1].size, 15);
	/* The attachment is not the text; the HTML is, from windows-1252. */
	ck_assert_str_eq(b.text_type, "text/html");
	ck_assert_str_eq(b.text, "<p>Café € 5</p>");
	cli_msg_body_free(&b);

	out = part("htmlonly.eml", 2, &len);
	ck_assert_str_eq(out, "<p>Café € 5</p>");
	free(out);
}
END_TEST

/* The single-part fixtures: their one part and the text. */
static const struct {
	const char *name, *charset, *encoding;
	long long size;
	const char *text;
} single_cases[] = {
	{ "plain.eml", "us-ascii", "7bit", 52, "Hello Bob,\n\nthis is a plain message.\n-- \nAlice\n" },
	{ "encoded.eml", "utf-8", "base64", 27, "Base64 body: Grüße 🎉\n" },
	/* 8 bits without any MIME header: taken as UTF-8. */
	{ "utf8body.eml", NULL, NULL, 68, "Ünïcödé body: 日本語 – Ελληνικά 🎉\nsecond line\n" },
	{ "smtputf8.eml", "utf-8", "8bit", 14, "Hallo Jörg!\n" },
	{ "notrace.eml", NULL, NULL, 17, "Just a message.\n" },
	{ "empty.eml", NULL, NULL, 0, "" },
	/* Valid sequences kept, the rest and the NUL replaced. */
	{ "invalid.eml", "utf-8", "8bit", 47, "Valid café, invalid \xef\xbf\xbd and \xef\xbf\xbd( here.\n"
	    "nul\xef\xbf\xbd" "byte\n" },
};

START_TEST(test_single_part)
{
	struct cli_body b;

	body(single_cases[_i].name, &b);
	ck_assert_uint_eq(b.nparts, 1);
	ck_assert_int_eq(b.parts[0].index, 1);
	ck_assert_str_eq(b.parts[0].content_type, "text/plain");
	ck_assert_pstr_eq(b.parts[0].charset, single_cases[_i].charset);
	ck_assert_pstr_eq(b.parts[0].encoding, single_cases[_i].encoding);
	ck_assert_ptr_null(b.parts[0].disposition);
	ck_assert_ptr_null(b.parts[0].filename);
	ck_assert_int_eq(b.parts[0].size, single_cases[_i].size);
	ck_assert_str_eq(b.text_type, "text/plain");
	ck_assert_str_eq(b.text, single_cases[_i].text);
	cli_msg_body_free(&b);
}
END_TEST

START_TEST(test_invalid_utf8)
{
	struct cli_msg m;
	struct cli_body b;

	load("invalid.eml", "1795255206.M6P6Q7.trap.example", &m);
	body("invalid.eml", &b);
	assert_valid(&m, &b);
	ck_assert_str_eq(m.sender, "bad\xef\xbf\xbduser@example.com");
	ck_assert_uint_eq(m.nrcpts, 1);
	/* GMime takes a word that is not UTF-8 as ISO-8859-1. */
	ck_assert_str_eq(m.subject, "Café ÿþ broken Ã ctl\x01" "end");
	ck_assert_ptr_nonnull(strstr(m.from, "<bad@example.com>"));
	ck_assert_ptr_nonnull(cli_msg_header(&m, "X-Binary"));
	cli_msg_body_free(&b);
	cli_msg_free(&m);
}
END_TEST

/*
 * Errors and files that are not messages
 */

START_TEST(test_unreadable)
{
	struct cli_msg m;
	struct cli_body b;
	char err[512], want[600], *out;
	const char *missing = fixture("does-not-exist.eml");
	size_t len;

	snprintf(want, sizeof(want), "%s: %s", missing, strerror(ENOENT));
	ck_assert_int_eq(cli_msg_load(missing, "x", &m, err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(cli_msg_body(missing, &b, err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(cli_msg_part(missing, 1, &out, &len, err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);

	const char *dir = fixture("");
	snprintf(want, sizeof(want), "%s: %s", dir, strerror(EISDIR));
	ck_assert_int_eq(cli_msg_load(dir, "x", &m, err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(cli_msg_body(dir, &b, err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
}
END_TEST

/* Binary octets, over several read chunks: loads, with nothing in it. */
START_TEST(test_garbage)
{
	static unsigned char data[20000];
	struct cli_msg m;
	struct cli_body b;
	char err[512], *path, *json, *out;
	size_t len;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)((i * 131 + 7) % 256);
	path = write_tmp(data, sizeof(data));
	ck_assert_int_eq(cli_msg_load(path, "garbage", &m, err, sizeof(err)), 0);
	ck_assert_int_eq(m.size, (long long)sizeof(data));
	ck_assert_ptr_null(m.sender);
	ck_assert_uint_eq(m.nrcpts, 0);
	ck_assert_uint_eq(m.nheaders, 0);
	ck_assert_int_eq(cli_msg_body(path, &b, err, sizeof(err)), 0);
	ck_assert_uint_eq(b.nparts, 0);
	ck_assert_ptr_null(b.text);
	json = cli_msg_json(&m, &b);
	json_object_put(json_parse(json));
	free(json);
	ck_assert_int_eq(cli_msg_part(path, 1, &out, &len, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no part 1");
	cli_msg_body_free(&b);
	cli_msg_free(&m);
	unlink(path);
	free(path);
}
END_TEST

/* Headers only, no empty line, no final CRLF, malformed envelope values. */
START_TEST(test_headers_only)
{
	static const char data[] = "Subject: only headers\r\n"
	    "X-Smtptrap-Mail-From: <a b@example.com\r\n"
	    "X-Smtptrap-Rcpt-To: <a\"b@example.com> NOTIFY=NEVER\r\n"
	    "X-Smtptrap-Rcpt-To: bare@example.com  X=1 ";
	struct cli_msg m;
	char err[512], *path;

	path = write_tmp(data, strlen(data));
	ck_assert_int_eq(cli_msg_load(path, "1.x", &m, err, sizeof(err)), 0);
	ck_assert_int_eq((long long)m.received, 1);
	ck_assert_str_eq(m.subject, "only headers");
	/* No '>': the address runs to the end. */
	ck_assert_str_eq(m.sender, "a b@example.com");
	ck_assert_str_eq(m.mail_params, "");
	ck_assert_uint_eq(m.nrcpts, 2);
	/* An unbalanced quote: the first '>' ends the address. */
	ck_assert_str_eq(m.rcpts[0].address, "a\"b@example.com");
	ck_assert_str_eq(m.rcpts[0].params, "NOTIFY=NEVER");
	/* No '<': the first word. */
	ck_assert_str_eq(m.rcpts[1].address, "bare@example.com");
	ck_assert_str_eq(m.rcpts[1].params, "X=1");
	cli_msg_free(&m);
	unlink(path);
	free(path);
}
END_TEST

/*
 * JSON
 */

START_TEST(test_json_list_form)
{
	struct cli_msg m;
	json_object *o, *env, *rcpts, *v;
	char *json;

	load("plain.eml", PLAIN_ID, &m);
	json = cli_msg_json(&m, NULL);
	/* The slash is not escaped (JSON_C_TO_STRING_NOSLASHESCAPE). */
	ck_assert_ptr_nonnull(strstr(json, "</tag>"));
	o = json_parse(json);
	assert_jstr(o, "id", PLAIN_ID);
	assert_jstr(o, "file", fixture("plain.eml"));
	ck_assert_int_eq(jint(o, "received"), T0);
	assert_jstr(o, "received_iso", "2026-11-21T10:00:00Z");
	ck_assert_int_eq(jint(o, "size"), m.size);
	assert_jstr(o, "subject", "Plain \"quoted\" back\\slash </tag> 100%");
	assert_jstr(o, "cc", "Dave <dave@example.com>");
	assert_jstr(o, "date", "Sat, 21 Nov 2026 09:59:58 +0000");
	assert_jstr(o, "message_id", "plain.1@example.org");
	env = jget(o, "envelope");
	assert_jstr(env, "sender", "alice@example.org");
	assert_jstr(env, "mail_parameters", "SIZE=321 BODY=7BIT");
	rcpts = jget(env, "recipients");
	ck_assert_int_eq(json_object_array_length(rcpts), 2);
	assert_jstr(json_object_array_get_idx(rcpts, 0), "address", "bob@example.net");
	assert_jstr(json_object_array_get_idx(rcpts, 0), "parameters",
	    "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.net");
	assert_jstr(json_object_array_get_idx(rcpts, 1), "parameters", "");
	/* The list form has no body members. */
	ck_assert(!json_object_object_get_ex(o, "headers", &v));
	ck_assert(!json_object_object_get_ex(o, "parts", &v));
	ck_assert(!json_object_object_get_ex(o, "text", &v));
	json_object_put(o);
	free(json);
	cli_msg_free(&m);
}
END_TEST

START_TEST(test_json_show_form)
{
	struct cli_msg m;
	struct cli_body b;
	json_object *o, *a, *p;
	char *json;

	load("multipart.eml", "1795255202.M2P2Q3.trap.example", &m);
	body("multipart.eml", &b);
	json = cli_msg_json(&m, &b);
	o = json_parse(json);
	assert_jstr(o, "text", b.text);
	assert_jstr(o, "text_type", "text/plain");
	assert_jstr(o, "cc", NULL);
	assert_jstr(o, "received_iso", "2026-11-21T10:00:02Z");
	a = jget(o, "headers");
	ck_assert_int_eq(json_object_array_length(a), m.nheaders);
	for (size_t i = 0; i < m.nheaders; i++) {
		assert_jstr(json_object_array_get_idx(a, i), "name", m.headers[i].name);
		assert_jstr(json_object_array_get_idx(a, i), "value", m.headers[i].value);
	}
	a = jget(o, "parts");
	ck_assert_int_eq(json_object_array_length(a), 4);
	p = json_object_array_get_idx(a, 2);
	ck_assert_int_eq(jint(p, "index"), 3);
	assert_jstr(p, "content_type", "application/pdf");
	assert_jstr(p, "charset", NULL);
	assert_jstr(p, "filename", "résumé – final.pdf");
	assert_jstr(p, "disposition", "attachment");
	assert_jstr(p, "encoding", "base64");
	ck_assert_int_eq(jint(p, "size"), 790);
	json_object_put(o);
	free(json);
	cli_msg_body_free(&b);
	cli_msg_free(&m);
}
END_TEST

static const char *const all_fixtures[] = {
	"plain.eml", "encoded.eml", "multipart.eml", "htmlonly.eml", "utf8body.eml",
	"smtputf8.eml", "notrace.eml", "invalid.eml", "empty.eml",
};

/* Both forms of every fixture parse, and the strings come back intact. */
START_TEST(test_json_round_trip)
{
	const char *name = all_fixtures[_i];
	struct cli_msg m;
	struct cli_body b;
	json_object *o, *env;
	char *json;

	load(name, name, &m);
	body(name, &b);
	assert_valid(&m, &b);
	for (int form = 0; form < 2; form++) {
		json = cli_msg_json(&m, form ? &b : NULL);
		o = json_parse(json);
		assert_jstr(o, "subject", m.subject);
		env = jget(o, "envelope");
		assert_jstr(env, "sender", m.sender);
		assert_jstr(env, "mail_parameters", m.mail_params);
		ck_assert_int_eq(json_object_array_length(jget(env, "recipients")), m.nrcpts);
		for (size_t i = 0; i < m.nrcpts; i++)
			assert_jstr(json_object_array_get_idx(jget(env, "recipients"), i), "address",
			    m.rcpts[i].address);
		if (form)
			assert_jstr(o, "text", b.text);
		json_object_put(o);
		free(json);
	}
	cli_msg_body_free(&b);
	cli_msg_free(&m);
}
END_TEST

/* A struct filled by hand with octets that are not UTF-8 still gives valid JSON. */
START_TEST(test_json_sanitises)
{
	char bad[] = "a\xff" "b\xc3\x28" "c";
	struct cli_rcpt r = { bad, bad };
	struct cli_header h = { bad, bad };
	struct cli_part p = { 1, bad, bad, bad, bad, bad, 3 };
	struct cli_body b = { bad, bad, &p, 1 };
	struct cli_msg m;
	json_object *o;
	char *json;

	memset(&m, 0, sizeof(m));
	m.id = m.path = m.sender = m.mail_params = m.subject = m.from = bad;
	m.rcpts = &r;
	m.nrcpts = 1;
	m.headers = &h;
	m.nheaders = 1;
	json = cli_msg_json(&m, &b);
	o = json_parse(json);
	assert_jstr(o, "subject", "a\xef\xbf\xbd" "b\xef\xbf\xbd(c");
	assert_jstr(o, "to", NULL);
	assert_jstr(o, "received_iso", "1970-01-01T00:00:00Z");
	json_object_put(o);
	free(json);
}
END_TEST

START_TEST(test_json_list)
{
	struct cli_msg m[3];
	struct cli_msg *ptrs[3];
	static const char *const names[] = { "plain.eml", "notrace.eml", "invalid.eml" };
	json_object *a;
	char *json;

	for (size_t i = 0; i < 3; i++) {
		load(names[i], names[i], &m[i]);
		ptrs[i] = &m[i];
	}
	json = cli_msg_json_list(ptrs, 3);
	a = json_parse(json);
	ck_assert(json_object_is_type(a, json_type_array));
	ck_assert_int_eq(json_object_array_length(a), 3);
	for (size_t i = 0; i < 3; i++)
		assert_jstr(json_object_array_get_idx(a, i), "id", names[i]);
	assert_jstr(jget(json_object_array_get_idx(a, 1), "envelope"), "sender", NULL);
	json_object_put(a);
	free(json);

	json = cli_msg_json_list(ptrs, 0);
	ck_assert_str_eq(json, "[]");
	free(json);
	for (size_t i = 0; i < 3; i++)
		cli_msg_free(&m[i]);
}
END_TEST

static Suite *
cli_msg_suite(void)
{
	Suite *s = suite_create("cli_msg");
	TCase *tc;

	tc = tcase_create("envelope");
	tcase_add_test(tc, test_plain);
	tcase_add_loop_test(tc, test_received, 0, (int)NELEM(received_cases));
	tcase_add_test(tc, test_encoded_words);
	tcase_add_test(tc, test_smtputf8_envelope);
	tcase_add_test(tc, test_null_sender);
	tcase_add_test(tc, test_no_trace);
	suite_add_tcase(s, tc);

	tc = tcase_create("body");
	tcase_add_test(tc, test_multipart_parts);
	tcase_add_test(tc, test_multipart_part_bytes);
	tcase_add_test(tc, test_part_out_of_range);
	tcase_add_test(tc, test_html_fallback);
	tcase_add_loop_test(tc, test_single_part, 0, (int)NELEM(single_cases));
	tcase_add_test(tc, test_invalid_utf8);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_unreadable);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_headers_only);
	suite_add_tcase(s, tc);

	tc = tcase_create("json");
	tcase_add_test(tc, test_json_list_form);
	tcase_add_test(tc, test_json_show_form);
	tcase_add_loop_test(tc, test_json_round_trip, 0, (int)NELEM(all_fixtures));
	tcase_add_test(tc, test_json_sanitises);
	tcase_add_test(tc, test_json_list);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cli_msg_suite());
	int failures;

	log_init(1, "check_cli_msg");
	cli_msg_init();
	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
