/*
 * check_cli_filter - unit tests for the smtptrap command's message
 * selection: the filters (cli_filter.c, pure: messages built by hand,
 * substring and regex, every field, --header, --since in every form and
 * its errors), the capture directory listing (cli_scan.c: single and
 * per-recipient layouts in a temporary directory, ordering, cli_find,
 * cli_new_dirs) and waiting (cli_wait.c: a child process delivers like
 * smtptrapd, by rename or hard link, while the test waits).
 *
 * The wait tests do not sleep. The child starts delivering once cli_wait
 * has listed the capture directory, which it does only after all its
 * watches are set up (see cli_wait.c): the child learns of that listing
 * from an inotify IN_CLOSE_NOWRITE on a directory cli_wait reads.
 */
#include <check.h>
#include <ftw.h>
#include <poll.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_filter.h"
#include "cli_msg.h"
#include "cli_scan.h"
#include "cli_wait.h"
#include "log.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Filters: messages by hand
 */

static struct cli_rcpt rcpt_bob[] = { { "bob@example.org", "" } };
static struct cli_header hdrs[] = {
	{ "X-Smtptrap-Mail-From", "<bounce@lists.example.net>" },
	{ "X-Test", "Yes please" },
	{ "X-Other", "a=b" },
	{ "X-Empty", "" },
};

/* How a test message differs from the one with every field set. */
enum variant {
	V_FULL, V_RCPTS_ONLY, V_HEADERS_ONLY, V_NO_TO, V_NO_SENDER, V_NULL_SENDER, V_NOBODY,
	V_NO_SUBJECT, V_UTF8, V_SLASH,
};

static void
msg_make(struct cli_msg *m, enum variant v)
{
	memset(m, 0, sizeof(*m));
	m->id = "1700000000.M1P1Q1.host";
	m->path = "/nonexistent/new/1700000000.M1P1Q1.host";
	m->received = 1700000000;
	m->sender = "bounce@lists.example.net";
	m->mail_params = "";
	m->rcpts = rcpt_bob;
	m->nrcpts = NELEM(rcpt_bob);
	m->subject = "Reset your PASSWORD now";
	m->from = "Alice <alice@example.com>";
	m->to = "Carol <carol@example.com>";
	m->cc = "dave@example.com";
	m->headers = hdrs;
	m->nheaders = NELEM(hdrs);
	if (v == V_RCPTS_ONLY || v == V_NO_TO)
		m->to = m->cc = NULL;
	if (v == V_HEADERS_ONLY || v == V_NO_TO) {
		m->rcpts = NULL;
		m->nrcpts = 0;
	}
	if (v == V_NO_SENDER || v == V_NOBODY)
		m->sender = NULL;
	if (v == V_NULL_SENDER)
		m->sender = "";
	if (v == V_NULL_SENDER || v == V_NOBODY)
		m->from = NULL;
	if (v == V_NO_SUBJECT)
		m->subject = NULL;
	if (v == V_UTF8)
		m->subject = "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln";
	if (v == V_SLASH)
		m->subject = "a/b";
}

/* A filter with one pattern; the pattern must be accepted. */
static void
filter1(struct cli_filter *f, enum cli_field field, const char *value)
{
	char err[256] = "";

	cli_filter_init(f);
	ck_assert_msg(cli_filter_add(f, field, value, err, sizeof(err)) == 0, "'%s': %s", value,
	    err);
}

static const struct {
	enum cli_field field;
	const char *pattern;
	enum variant v;
	int want;
} match_cases[] = {
	/* Substrings, any case; regex characters are plain characters. */
	{ CF_SUBJECT, "password", V_FULL, 1 },
	{ CF_SUBJECT, "PassWord NOW", V_FULL, 1 },
	{ CF_SUBJECT, "", V_FULL, 1 },
	{ CF_SUBJECT, "reset my", V_FULL, 0 },
	{ CF_SUBJECT, "res.t", V_FULL, 0 },
	{ CF_SUBJECT, "/reset", V_FULL, 0 },
	{ CF_SUBJECT, "/", V_SLASH, 1 },
	{ CF_SUBJECT, "a/", V_SLASH, 1 },
	/* Regular expressions, any case. */
	{ CF_SUBJECT, "/^reset/", V_FULL, 1 },
	{ CF_SUBJECT, "/res.t/", V_FULL, 1 },
	{ CF_SUBJECT, "/password (now|later)$/", V_FULL, 1 },
	{ CF_SUBJECT, "/^your/", V_FULL, 0 },
	{ CF_SUBJECT, "/now.+/", V_FULL, 0 },
	{ CF_SUBJECT, "//", V_FULL, 1 },
	/* UTF-8 beyond ASCII compares as it is. */
	{ CF_SUBJECT, "GR\xc3\xbc\xc3\x9f" "E", V_UTF8, 1 },
	{ CF_SUBJECT, "k\xc3\xb6ln", V_UTF8, 1 },
	{ CF_SUBJECT, "grusse", V_UTF8, 0 },
	/* No Subject: never matches. */
	{ CF_SUBJECT, "", V_NO_SUBJECT, 0 },
	{ CF_SUBJECT, "/.*/", V_NO_SUBJECT, 0 },
	/* --to: an envelope recipient, To:, Cc:. */
	{ CF_TO, "bob@", V_FULL, 1 },
	{ CF_TO, "CAROL", V_FULL, 1 },
	{ CF_TO, "dave@example.com", V_FULL, 1 },
	{ CF_TO, "/^bob@example\\.org$/", V_FULL, 1 },
	{ CF_TO, "alice", V_FULL, 0 },
	{ CF_TO, "bounce", V_FULL, 0 },
	{ CF_TO, "bob", V_RCPTS_ONLY, 1 },
	{ CF_TO, "carol", V_RCPTS_ONLY, 0 },
	{ CF_TO, "bob", V_HEADERS_ONLY, 0 },
	{ CF_TO, "carol", V_HEADERS_ONLY, 1 },
	{ CF_TO, "dave", V_HEADERS_ONLY, 1 },
	{ CF_TO, "", V_NO_TO, 0 },
	/* --from: the envelope sender, From:. */
	{ CF_FROM, "bounce@lists", V_FULL, 1 },
	{ CF_FROM, "ALICE", V_FULL, 1 },
	{ CF_FROM, "/^alice </", V_FULL, 1 },
	{ CF_FROM, "bob", V_FULL, 0 },
	{ CF_FROM, "bounce", V_NO_SENDER, 0 },
	{ CF_FROM, "alice", V_NO_SENDER, 1 },
	{ CF_FROM, "/^$/", V_NULL_SENDER, 1 },
	{ CF_FROM, "alice", V_NULL_SENDER, 0 },
	{ CF_FROM, "", V_NOBODY, 0 },
	/* --header: any case in the name; an empty pattern asks for presence. */
	{ CF_HEADER, "X-Test=yes", V_FULL, 1 },
	{ CF_HEADER, "x-test=PLEASE", V_FULL, 1 },
	{ CF_HEADER, "X-TEST=/^yes p/", V_FULL, 1 },
	{ CF_HEADER, "X-Test=no", V_FULL, 0 },
	{ CF_HEADER, "X-Test=", V_FULL, 1 },
	{ CF_HEADER, "X-Empty=", V_FULL, 1 },
	{ CF_HEADER, "X-Missing=", V_FULL, 0 },
	{ CF_HEADER, "X-Missing=//", V_FULL, 0 },
	{ CF_HEADER, "X-Other=a=b", V_FULL, 1 },
	{ CF_HEADER, "X-Smtptrap-Mail-From=bounce@", V_FULL, 1 },
};

START_TEST(test_match)
{
	struct cli_filter f;
	struct cli_msg m;

	msg_make(&m, match_cases[_i].v);
	filter1(&f, match_cases[_i].field, match_cases[_i].pattern);
	ck_assert_msg(cli_filter_match(&f, &m) == match_cases[_i].want, "field %d, '%s', variant %d",
	    (int)match_cases[_i].field, match_cases[_i].pattern, (int)match_cases[_i].v);
	cli_filter_free(&f);
}
END_TEST

START_TEST(test_empty_filter)
{
	struct cli_filter f;
	struct cli_msg m;

	memset(&m, 0, sizeof(m));
	cli_filter_init(&f);
	ck_assert_int_eq(cli_filter_match(&f, &m), 1);
	cli_filter_free(&f);
}
END_TEST

START_TEST(test_header_all_must_hold)
{
	struct cli_filter f;
	struct cli_msg m;
	char err[256];

	msg_make(&m, V_FULL);
	filter1(&f, CF_HEADER, "X-Test=yes");
	ck_assert_int_eq(cli_filter_add(&f, CF_HEADER, "X-Other=a=", err, sizeof(err)), 0);
	ck_assert_uint_eq(f.npats, 2);
	ck_assert_str_eq(f.pats[1].header, "X-Other");
	ck_assert_int_eq(cli_filter_match(&f, &m), 1);
	ck_assert_int_eq(cli_filter_add(&f, CF_HEADER, "X-Other=2", err, sizeof(err)), 0);
	ck_assert_int_eq(cli_filter_match(&f, &m), 0);
	cli_filter_free(&f);

	/* Different fields: all must hold too. */
	filter1(&f, CF_TO, "bob");
	ck_assert_int_eq(cli_filter_add(&f, CF_FROM, "alice", err, sizeof(err)), 0);
	ck_assert_int_eq(cli_filter_add(&f, CF_SUBJECT, "/reset/", err, sizeof(err)), 0);
	ck_assert_int_eq(cli_filter_match(&f, &m), 1);
	ck_assert_int_eq(cli_filter_add(&f, CF_SUBJECT, "unsubscribe", err, sizeof(err)), 0);
	ck_assert_int_eq(cli_filter_match(&f, &m), 0);
	cli_filter_free(&f);
}
END_TEST

static const char *const bad_headers[] = { "X-Test", "=yes", "", "=" };

START_TEST(test_header_bad)
{
	struct cli_filter f;
	char err[256] = "";

	cli_filter_init(&f);
	ck_assert_int_eq(cli_filter_add(&f, CF_HEADER, bad_headers[_i], err, sizeof(err)), -1);
	ck_assert_str_eq(err, "--header needs NAME=VALUE");
	ck_assert_uint_eq(f.npats, 0);
	cli_filter_free(&f);
}
END_TEST

START_TEST(test_bad_regex)
{
	struct cli_filter f;
	char err[256] = "", want[512], why[256];
	regex_t re;

	int rc = regcomp(&re, "x(", REG_EXTENDED | REG_ICASE | REG_NOSUB);
	ck_assert_int_ne(rc, 0);
	regerror(rc, &re, why, sizeof(why));
	snprintf(want, sizeof(want), "bad regular expression '/x(/': %s", why);

	cli_filter_init(&f);
	ck_assert_int_eq(cli_filter_add(&f, CF_SUBJECT, "/x(/", err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(cli_filter_add(&f, CF_HEADER, "X-Test=/x(/", err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
	ck_assert_uint_eq(f.npats, 0);
	cli_filter_free(&f);
}
END_TEST

static const struct {
	const char *value;
	time_t now;
	time_t want;
} since_good[] = {
	{ "0", 5, 0 },
	{ "5", 100, 5 },
	{ "1700000000", 5, 1700000000 },
	{ "2026-11-21T10:00:00Z", 5, 1795255200 },
	{ "2026-11-21T10:00:00", 5, 1795255200 },
	{ "2026-11-21 10:00:00", 5, 1795255200 },
	{ "2026-11-21", 5, 1795219200 },
	{ "2024-02-29T23:59:59Z", 5, 1709251199 },
	{ "1970-01-01", 5, 0 },
	{ "90s", 1000000, 1000000 - 90 },
	{ "5m", 1000000, 1000000 - 300 },
	{ "2h", 1000000, 1000000 - 7200 },
	{ "1d", 1000000, 1000000 - 86400 },
	{ "1w", 1000000, 1000000 - 604800 },
	{ "0s", 1000000, 1000000 },
};

START_TEST(test_since_good)
{
	struct cli_filter f;
	char err[256] = "";

	cli_filter_init(&f);
	ck_assert_msg(cli_filter_since(&f, since_good[_i].value, since_good[_i].now, err,
	    sizeof(err)) == 0, "'%s': %s", since_good[_i].value, err);
	ck_assert_int_eq(f.has_since, 1);
	ck_assert_msg(f.since == since_good[_i].want, "'%s': %lld, want %lld",
	    since_good[_i].value, (long long)f.since, (long long)since_good[_i].want);
	cli_filter_free(&f);
}
END_TEST

static const char *const since_bad[] = {
	"", "yesterday", "5x", "s", "-5m", "5 m", "1.5h", "2026-13-01", "2026-02-30",
	"2026-11-21T24:00:00Z", "2026-11-21T10:60:00", "2026-11-21T10:00", "2026-11-21T10:00:00ZZ",
	"2026-11-21X10:00:00", "26-11-21", "2026-1-21", "99999999999999999999999",
	"99999999999999999999w",
};

START_TEST(test_since_bad)
{
	struct cli_filter f;
	char err[256] = "", want[256];
	const char *v = since_bad[_i];

	snprintf(want, sizeof(want), "--since: '%s' is not a time (epoch seconds, 2026-11-21T10:00:00Z, or 90s/5m/2h/1d back from now)", v);
	cli_filter_init(&f);
	ck_assert_int_eq(cli_filter_since(&f, v, 100, err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(f.has_since, 0);
}
END_TEST

START_TEST(test_since_match)
{
	struct cli_filter f;
	struct cli_msg m;
	char err[256];

	msg_make(&m, V_FULL);
	cli_filter_init(&f);
	ck_assert_int_eq(cli_filter_since(&f, "2h", 1700007200, err, sizeof(err)), 0);
	m.received = 1700000000;
	ck_assert_int_eq(cli_filter_match(&f, &m), 1);
	m.received = 1699999999;
	ck_assert_int_eq(cli_filter_match(&f, &m), 0);
	m.received = 1800000000;
	ck_assert_int_eq(cli_filter_match(&f, &m), 1);
	/* With a pattern, both must hold. */
	ck_assert_int_eq(cli_filter_add(&f, CF_SUBJECT, "nothing like it", err, sizeof(err)), 0);
	ck_assert_int_eq(cli_filter_match(&f, &m), 0);
	cli_filter_free(&f);
}
END_TEST

/*
 * Helpers: capture directories
 */

static char tmpdir[64];

static void
make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_cli_filter.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
remove_tmpdir(void)
{
	if (tmpdir[0] != '\0')
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	tmpdir[0] = '\0';
}

/* A path under the temporary directory; static, so use it at once. */
static const char *tpath(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *
tpath(const char *fmt, ...)
{
	static char buf[4][1024];
	static int k;
	char rel[900];
	va_list ap;

	k = (k + 1) % 4;
	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(buf[k], sizeof(buf[k]), "%s%s%s", tmpdir, rel[0] ? "/" : "", rel);
	return buf[k];
}

/* A maildir (tmp, new, cur) at rel under the temporary directory. */
static int
make_maildir(const char *rel)
{
	if (rel[0] && mkdir(tpath("%s", rel), 0777) != 0)
		return -1;
	if (mkdir(tpath("%s%stmp", rel, rel[0] ? "/" : ""), 0777) != 0 ||
	    mkdir(tpath("%s%snew", rel, rel[0] ? "/" : ""), 0777) != 0 ||
	    mkdir(tpath("%s%scur", rel, rel[0] ? "/" : ""), 0777) != 0)
		return -1;
	return 0;
}

static int
write_file(const char *path, const char *subject)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fprintf(f, "X-Smtptrap-Mail-From: <a@b>\r\nX-Smtptrap-Rcpt-To: <c@d>\r\n"
	    "Subject: %s\r\n\r\nbody\r\n", subject);
	return fclose(f);
}

static void
put(const char *rel, const char *subject)
{
	ck_assert_msg(write_file(tpath("%s", rel), subject) == 0, "cannot write %s", rel);
}

/*
 * Scan
 */

START_TEST(test_scan_single)
{
	struct cli_list l;
	char err[256];
	static const char *const want[] = {
		"zzz-no-time",
		"1700000000.M999999P1Q1.h",
		"1700000001.M2P1Q1.h",
		"1700000001.M10P1Q1.h",
		"1700000005.M5P1Q1.a",
		"1700000005.M5P1Q1.b",
		"1700000006",
		"1700000009.M0P1Q1.h:2,S",
	};

	make_tmpdir();
	ck_assert_int_eq(make_maildir(""), 0);
	put("new/1700000001.M10P1Q1.h", "x");
	put("new/1700000005.M5P1Q1.b", "x");
	put("new/1700000001.M2P1Q1.h", "x");
	put("new/zzz-no-time", "x");
	put("new/1700000005.M5P1Q1.a", "x");
	put("new/1700000000.M999999P1Q1.h", "x");
	put("new/1700000006", "x");
	put("cur/1700000009.M0P1Q1.h:2,S", "x");
	/* Never messages: tmp/, dot-files, directories, symbolic links. */
	put("tmp/1600000000.M0P1Q1.h", "x");
	put("new/.1600000000.M0P1Q1.h", "x");
	ck_assert_int_eq(mkdir(tpath("new/1600000001.dir"), 0777), 0);
	ck_assert_int_eq(symlink("1700000006", tpath("new/1600000002.link")), 0);

	ck_assert_int_eq(cli_scan(tmpdir, &l, err, sizeof(err)), 0);
	ck_assert_uint_eq(l.n, NELEM(want));
	for (size_t i = 0; i < l.n; i++) {
		ck_assert_str_eq(l.v[i].id, want[i]);
		ck_assert_uint_eq(l.v[i].npaths, 1);
	}
	ck_assert_int_eq(l.v[0].sec, -1);
	ck_assert_int_eq(l.v[1].sec, 1700000000);
	ck_assert_int_eq(l.v[1].usec, 999999);
	ck_assert_int_eq(l.v[6].sec, 1700000006);
	ck_assert_int_eq(l.v[6].usec, 0);
	ck_assert_str_eq(l.v[7].paths[0], tpath("cur/1700000009.M0P1Q1.h:2,S"));
	ck_assert_str_eq(l.v[1].paths[0], tpath("new/1700000000.M999999P1Q1.h"));
	cli_list_free(&l);
	remove_tmpdir();
}
END_TEST

START_TEST(test_scan_per_recipient)
{
	struct cli_list l;
	char err[256];

	make_tmpdir();
	ck_assert_int_eq(make_maildir(""), 0);
	ck_assert_int_eq(make_maildir("alice@example.com"), 0);
	ck_assert_int_eq(make_maildir("bob@example.com"), 0);
	/* One message linked into both recipients' maildirs. */
	put("alice@example.com/new/1700000002.M1P1Q1.h", "x");
	ck_assert_int_eq(link(tpath("alice@example.com/new/1700000002.M1P1Q1.h"),
	    tpath("bob@example.com/new/1700000002.M1P1Q1.h")), 0);
	put("bob@example.com/cur/1700000001.M1P1Q1.h", "x");
	put("new/1700000003.M1P1Q1.h", "x");
	/* Not recipient maildirs: no new/ or cur/, a dot name, a tmp/. */
	ck_assert_int_eq(mkdir(tpath("notes"), 0777), 0);
	put("notes/1600000000.M1P1Q1.h", "x");
	ck_assert_int_eq(make_maildir(".hidden"), 0);
	put(".hidden/new/1600000000.M2P1Q1.h", "x");
	put("bob@example.com/tmp/1600000000.M3P1Q1.h", "x");
	/* Only one level: a maildir inside a recipient maildir is not read. */
	ck_assert_int_eq(make_maildir("bob@example.com/deeper"), 0);
	put("bob@example.com/deeper/new/1600000000.M4P1Q1.h", "x");

	ck_assert_int_eq(cli_scan(tmpdir, &l, err, sizeof(err)), 0);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_str_eq(l.v[0].id, "1700000001.M1P1Q1.h");
	ck_assert_uint_eq(l.v[0].npaths, 1);
	ck_assert_str_eq(l.v[0].paths[0], tpath("bob@example.com/cur/1700000001.M1P1Q1.h"));
	ck_assert_str_eq(l.v[1].id, "1700000002.M1P1Q1.h");
	ck_assert_uint_eq(l.v[1].npaths, 2);
	ck_assert_str_eq(l.v[1].paths[0], tpath("alice@example.com/new/1700000002.M1P1Q1.h"));
	ck_assert_str_eq(l.v[1].paths[1], tpath("bob@example.com/new/1700000002.M1P1Q1.h"));
	ck_assert_str_eq(l.v[2].id, "1700000003.M1P1Q1.h");
	ck_assert_str_eq(l.v[2].paths[0], tpath("new/1700000003.M1P1Q1.h"));
	cli_list_free(&l);
	remove_tmpdir();
}
END_TEST

START_TEST(test_scan_errors)
{
	struct cli_list l;
	char err[256] = "";

	ck_assert_int_eq(cli_scan("/nonexistent/capture", &l, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/nonexistent/capture: No such file or directory");
	ck_assert_uint_eq(l.n, 0);

	/* An empty capture directory (smtptrapd not started yet) is fine. */
	make_tmpdir();
	ck_assert_int_eq(cli_scan(tmpdir, &l, err, sizeof(err)), 0);
	ck_assert_uint_eq(l.n, 0);
	cli_list_free(&l);
	remove_tmpdir();
}
END_TEST

START_TEST(test_find)
{
	struct cli_list l;
	char err[256];

	make_tmpdir();
	ck_assert_int_eq(make_maildir(""), 0);
	ck_assert_int_eq(make_maildir("r"), 0);
	put("new/1700000001.M1P1Q1.h", "x");
	put("new/1700000001.M1P1Q1.h2", "x");
	put("new/1700000002.M1P1Q1.h", "x");
	put("r/new/1700000003.M1P1Q1.h", "x");
	ck_assert_int_eq(cli_scan(tmpdir, &l, err, sizeof(err)), 0);
	ck_assert_uint_eq(l.n, 4);

	/* Exact, even though it is also a prefix of another name. */
	ck_assert_int_eq(cli_find(&l, "1700000001.M1P1Q1.h"), 0);
	ck_assert_int_eq(cli_find(&l, "1700000001.M1P1Q1.h2"), 1);
	/* Unique prefixes. */
	ck_assert_int_eq(cli_find(&l, "1700000002"), 2);
	ck_assert_int_eq(cli_find(&l, "1700000003"), 3);
	/* Ambiguous and unknown. */
	ck_assert_int_eq(cli_find(&l, "1700000001"), -2);
	ck_assert_int_eq(cli_find(&l, "17"), -2);
	ck_assert_int_eq(cli_find(&l, "1800"), -1);
	ck_assert_int_eq(cli_find(&l, ""), -1);
	/* Paths: as listed, or another spelling ending in a known name. */
	ck_assert_int_eq(cli_find(&l, tpath("r/new/1700000003.M1P1Q1.h")), 3);
	ck_assert_int_eq(cli_find(&l, "./new/1700000002.M1P1Q1.h"), 2);
	ck_assert_int_eq(cli_find(&l, "new/1700000002"), -1);
	ck_assert_int_eq(cli_find(&l, "new/"), -1);
	cli_list_free(&l);
	remove_tmpdir();
}
END_TEST

START_TEST(test_new_dirs)
{
	struct cli_dirs d;

	make_tmpdir();
	ck_assert_int_eq(cli_new_dirs(tmpdir, &d), 0);
	ck_assert_uint_eq(d.nnews, 0);
	cli_dirs_free(&d);

	ck_assert_int_eq(make_maildir(""), 0);
	ck_assert_int_eq(make_maildir("b@x"), 0);
	ck_assert_int_eq(make_maildir("a@x"), 0);
	ck_assert_int_eq(mkdir(tpath("c@x"), 0777), 0);
	ck_assert_int_eq(mkdir(tpath("c@x/cur"), 0777), 0);
	ck_assert_int_eq(cli_new_dirs(tmpdir, &d), 0);
	ck_assert_uint_eq(d.nnews, 3);
	ck_assert_str_eq(d.news[0], tpath("new"));
	ck_assert_str_eq(d.news[1], tpath("a@x/new"));
	ck_assert_str_eq(d.news[2], tpath("b@x/new"));
	cli_dirs_free(&d);

	ck_assert_int_eq(cli_new_dirs("/nonexistent/capture", &d), -1);
	remove_tmpdir();
}
END_TEST

/*
 * Wait: a child delivers like smtptrapd while the test waits
 */

/* Write a message in S/tmp/name and rename it into S/new (S relative). */
static int
deliver_rename(const char *s, const char *name, const char *subject)
{
	const char *sl = s[0] ? "/" : "";
	char tmp[1024];

	snprintf(tmp, sizeof(tmp), "%s", tpath("%s%stmp/%s", s, sl, name));
	if (write_file(tmp, subject) != 0)
		return -1;
	return rename(tmp, tpath("%s%snew/%s", s, sl, name));
}

/* Write a message in the first recipient's tmp/, link it into each
 * recipient's new/, then remove the tmp/ file. */
static int
deliver_link(const char *const *rcpts, size_t n, const char *name, const char *subject)
{
	char tmp[1024];

	snprintf(tmp, sizeof(tmp), "%s", tpath("%s/tmp/%s", rcpts[0], name));
	if (write_file(tmp, subject) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (link(tmp, tpath("%s/new/%s", rcpts[i], name)) != 0)
			return -1;
	return unlink(tmp);
}

typedef int (*deliver_fn)(void);

/*
 * Fork a child that runs fn once cli_wait has read syncdir (relative to
 * the temporary directory): it waits for an IN_CLOSE_NOWRITE there,
 * giving up after ten seconds.
 */
static pid_t
start_deliverer(const char *syncdir, deliver_fn fn)
{
	int ifd = inotify_init1(IN_CLOEXEC);

	ck_assert_int_ge(ifd, 0);
	ck_assert_int_ge(inotify_add_watch(ifd, tpath("%s", syncdir), IN_CLOSE_NOWRITE), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		_Alignas(struct inotify_event) char buf[4096];
		struct pollfd pfd = { .fd = ifd, .events = POLLIN };

		if (poll(&pfd, 1, 10000) == 1 && read(ifd, buf, sizeof(buf)) < 0)
			_exit(2);
		_exit(fn() == 0 ? 0 : 1);
	}
	close(ifd);
	return pid;
}

static void
reap(pid_t pid)
{
	int st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the delivering child failed");
}

/* What the child delivers. */

static int
d_one(void)
{
	return deliver_rename("", "1700000000.M1P1Q1.x", "x");
}

static int
d_tmp_then_one(void)
{
	if (write_file(tpath("tmp/1600000000.M1P1Q1.never"), "x") != 0)
		return -1;
	return deliver_rename("", "1700000000.M2P1Q1.x", "x");
}

static int
d_other_then_wanted(void)
{
	if (deliver_rename("", "1700000000.M1P1Q1.other", "other") != 0)
		return -1;
	return deliver_rename("", "1700000000.M2P1Q1.wanted", "the wanted one");
}

static const char *const ab[] = { "a@x", "b@x" };

static int
d_linked(void)
{
	return deliver_link(ab, 2, "1700000000.M1P1Q1.m", "x");
}

static int
d_linked_then_one(void)
{
	if (d_linked() != 0)
		return -1;
	return deliver_link(ab + 1, 1, "1700000001.M1P1Q1.m2", "x");
}

/* A recipient maildir made after the wait started, as smtptrapd makes
 * it: DIR/R, then R/tmp, R/new, R/cur. */
static int
d_new_rcpt(void)
{
	static const char *const r[] = { "late@x" };

	if (make_maildir("late@x") != 0)
		return -1;
	return deliver_link(r, 1, "1700000000.M1P1Q1.late", "x");
}

/* The capture directory was there, but not yet its new/. */
static int
d_new_maildir(void)
{
	if (make_maildir("") != 0)
		return -1;
	return d_one();
}

static const struct wait_case {
	const char *what;
	const char *maildirs[3];  /* made first; "" is the capture directory */
	const char *old[3];       /* files there before the wait */
	const char *sync;         /* the child starts when cli_wait reads this */
	deliver_fn deliver;       /* what the child does; NULL: no child */
	const char *subject;      /* a --subject filter, or NULL */
	size_t count;
	int timeout_ms;
	int existing;
	int want_rc;
	const char *want[4];
} wait_cases[] = {
	{ "renamed into new/", { "" }, { NULL }, "new", d_one, NULL, 1, 5000, 0, 0,
	  { "1700000000.M1P1Q1.x" } },
	{ "nothing arrives", { "" }, { NULL }, NULL, NULL, NULL, 1, 100, 0, 1, { NULL } },
	{ "tmp/ is never looked at", { "" }, { NULL }, "new", d_tmp_then_one, NULL, 1, 5000, 0,
	  0, { "1700000000.M2P1Q1.x" } },
	{ "tmp/ is not there already either", { "" },
	  { "tmp/1600000000.M1P1Q1.never", "new/1700000000.M2P1Q1.x" }, NULL, NULL, NULL, 2, 100,
	  1, 1, { "1700000000.M2P1Q1.x" } },
	{ "old messages do not count", { "" },
	  { "new/1600000000.M1P1Q1.old", "cur/1600000001.M1P1Q1.old:2,S" }, "new", d_one, NULL,
	  1, 5000, 0, 0, { "1700000000.M1P1Q1.x" } },
	{ "existing: enough already", { "" },
	  { "new/1600000002.M1P1Q1.old", "new/1600000001.M1P1Q1.old" }, NULL, NULL, NULL, 1, 0,
	  1, 0, { "1600000001.M1P1Q1.old" } },
	{ "existing: cur/ counts too", { "" }, { "cur/1600000001.M1P1Q1.old:2,S" }, NULL, NULL,
	  NULL, 1, 0, 1, 0, { "1600000001.M1P1Q1.old:2,S" } },
	{ "existing: old first, oldest first", { "" },
	  { "new/1600000002.M1P1Q1.old", "new/1600000001.M1P1Q1.old" }, "new", d_one, NULL, 3,
	  5000, 1, 0,
	  { "1600000001.M1P1Q1.old", "1600000002.M1P1Q1.old", "1700000000.M1P1Q1.x" } },
	{ "filter", { "" }, { "new/1600000000.M1P1Q1.old" }, "new", d_other_then_wanted,
	  "WANTED", 1, 5000, 0, 0, { "1700000000.M2P1Q1.wanted" } },
	{ "linked into two recipients, counted once", { "a@x", "b@x" }, { NULL }, "b@x/new",
	  d_linked_then_one, NULL, 2, 5000, 0, 0,
	  { "1700000000.M1P1Q1.m", "1700000001.M1P1Q1.m2" } },
	{ "one message in two recipients is not two", { "a@x", "b@x" }, { NULL }, "b@x/new",
	  d_linked, NULL, 2, 1000, 0, 1, { "1700000000.M1P1Q1.m" } },
	{ "recipient maildir made later", { "" }, { NULL }, "new", d_new_rcpt, NULL, 1, 5000, 0,
	  0, { "1700000000.M1P1Q1.late" } },
	{ "new/ made later", { NULL }, { NULL }, "", d_new_maildir, NULL, 1, 5000, 0, 0,
	  { "1700000000.M1P1Q1.x" } },
};

START_TEST(test_wait)
{
	const struct wait_case *c = &wait_cases[_i];
	struct cli_wait_opts o = { NULL, NULL, c->count, c->timeout_ms, c->existing };
	struct cli_filter f;
	struct timespec t0, t1;
	char err[256] = "";
	char **ids;
	size_t n, nwant = 0;
	pid_t pid = -1;

	make_tmpdir();
	o.dir = tmpdir;
	o.filter = &f;
	for (size_t k = 0; k < NELEM(c->maildirs) && c->maildirs[k] != NULL; k++)
		ck_assert_int_eq(make_maildir(c->maildirs[k]), 0);
	for (size_t k = 0; k < NELEM(c->old) && c->old[k] != NULL; k++)
		put(c->old[k], "wanted");
	if (c->subject != NULL)
		filter1(&f, CF_SUBJECT, c->subject);
	else
		cli_filter_init(&f);
	if (c->deliver != NULL)
		pid = start_deliverer(c->sync, c->deliver);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = cli_wait(&o, &ids, &n, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (pid > 0)
		reap(pid);

	ck_assert_msg(rc == c->want_rc, "%s: cli_wait returned %d (%s)", c->what, rc, err);
	while (nwant < NELEM(c->want) && c->want[nwant] != NULL)
		nwant++;
	ck_assert_msg(n == nwant, "%s: %zu ids, want %zu", c->what, n, nwant);
	for (size_t k = 0; k < n; k++)
		ck_assert_str_eq(ids[k], c->want[k]);
	if (rc == 1) {
		long long ms = (t1.tv_sec - t0.tv_sec) * 1000LL + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		ck_assert_msg(ms >= c->timeout_ms - 1, "%s: timed out after %lld ms", c->what, ms);
	}
	for (size_t k = 0; k < n; k++)
		free(ids[k]);
	free(ids);
	cli_filter_free(&f);
	remove_tmpdir();
}
END_TEST

START_TEST(test_wait_missing_dir)
{
	struct cli_wait_opts o = { "/nonexistent/capture", NULL, 1, 100, 0 };
	char err[256] = "";
	char **ids;
	size_t n;

	ck_assert_int_eq(cli_wait(&o, &ids, &n, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/nonexistent/capture: No such file or directory");
	ck_assert_ptr_null(ids);
	ck_assert_uint_eq(n, 0);
}
END_TEST

static Suite *
cli_filter_suite(void)
{
	Suite *s = suite_create("cli_filter");
	TCase *tc;

	tc = tcase_create("filter");
	tcase_add_loop_test(tc, test_match, 0, (int)NELEM(match_cases));
	tcase_add_test(tc, test_empty_filter);
	tcase_add_test(tc, test_header_all_must_hold);
	tcase_add_loop_test(tc, test_header_bad, 0, (int)NELEM(bad_headers));
	tcase_add_test(tc, test_bad_regex);
	tcase_add_loop_test(tc, test_since_good, 0, (int)NELEM(since_good));
	tcase_add_loop_test(tc, test_since_bad, 0, (int)NELEM(since_bad));
	tcase_add_test(tc, test_since_match);
	suite_add_tcase(s, tc);

	tc = tcase_create("scan");
	tcase_add_test(tc, test_scan_single);
	tcase_add_test(tc, test_scan_per_recipient);
	tcase_add_test(tc, test_scan_errors);
	tcase_add_test(tc, test_find);
	tcase_add_test(tc, test_new_dirs);
	suite_add_tcase(s, tc);

	tc = tcase_create("wait");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_wait, 0, (int)NELEM(wait_cases));
	tcase_add_test(tc, test_wait_missing_dir);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cli_filter_suite());
	int failures;

	log_init(1, "check_cli_filter");
	cli_msg_init();
	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
