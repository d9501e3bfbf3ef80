/*
 * check_log - unit tests for log.c (sinks and key=value text) and
 * transcript.c:
 *
 *  - values are bare when they can be, else quoted with \" \\ \n \r \t
 *    and \xHH escapes; overlong values and lines are cut, never split,
 *    and quotes always balance;
 *  - the syslog facility follows server.log_facility's index;
 *  - a log file gets the stderr format, one write per line (no
 *    interleaving between processes), mode 0640, appended to;
 *  - log_reopen() follows a rotation under the same descriptor number,
 *    and keeps the old file when the path cannot be opened;
 *  - transcripts: the directory is created, a file per id (O_EXCL),
 *    client and server lines escaped, notes kept printable.
 *
 * Each test runs in its own process (CK_FORK), so the logger's state
 * (a static sink) starts fresh every time; files go to a temporary
 * directory removed at the end.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "transcript.h"

static char tmpdir[64];

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_log.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	umask(022);
	log_init(1, "check_log");
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

static void
path_in(char *out, size_t outlen, const char *name)
{
	snprintf(out, outlen, "%s/%s", tmpdir, name);
}

/* The whole file as a NUL-terminated string (caller frees); NULL if absent. */
static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *data;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(data);
	ck_assert_int_eq(fread(data, 1, (size_t)n, f), (size_t)n);
	data[n] = '\0';
	fclose(f);
	return data;
}

static int
count_char(const char *s, char c)
{
	int n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

static int
matches(const char *text, const char *pattern)
{
	regex_t re;
	int r;

	ck_assert_int_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE | REG_NOSUB), 0);
	r = regexec(&re, text, 0, NULL, 0) == 0;
	regfree(&re);
	return r;
}

/* --- quoting and key=value text --- */

static const char *
quote(const char *v, size_t len)
{
	static char out[2048];

	log_quote(out, sizeof(out), v, len);
	return out;
}

START_TEST(test_quote)
{
	ck_assert_str_eq(quote("alice", 5), "alice");
	ck_assert_str_eq(quote("<a@example.com>", 15), "<a@example.com>");
	ck_assert_str_eq(quote("k=v", 3), "k=v");
	ck_assert_str_eq(quote("", 0), "\"\"");
	ck_assert_str_eq(quote("RCPT TO:<x@y>", 13), "\"RCPT TO:<x@y>\"");
	ck_assert_str_eq(quote("say \"hi\"", 8), "\"say \\\"hi\\\"\"");
	ck_assert_str_eq(quote("a\\b", 3), "\"a\\\\b\"");
	ck_assert_str_eq(quote("a\r\nb\tc", 6), "\"a\\r\\nb\\tc\"");
	ck_assert_str_eq(quote("\x01\x7f", 2), "\"\\x01\\x7f\"");
	ck_assert_str_eq(quote("a\0b", 3), "\"a\\x00b\"");
	/* UTF-8 stays readable. */
	ck_assert_str_eq(quote("j\xc3\xb6rg", 5), "j\xc3\xb6rg");
}
END_TEST

START_TEST(test_quote_cut)
{
	char out[16];
	size_t n;

	/* Too long to go bare: quoted, cut, marked, and the quotes balance. */
	n = log_quote(out, sizeof(out), "abcdefghijklmnopqrstuvwxyz", 26);
	ck_assert_uint_eq(n, strlen(out));
	ck_assert_uint_lt(n, sizeof(out));
	ck_assert_str_eq(out, "\"abcdefghij...\"");
	/* An escape is never cut in half. */
	n = log_quote(out, sizeof(out), "\x01\x01\x01\x01", 4);
	ck_assert_str_eq(out, "\"\\x01\\x01...\"");
}
END_TEST

START_TEST(test_kv)
{
	struct log_kv kv;

	log_kv_init(&kv);
	ck_assert_str_eq(kv.text, "");
	log_kv_add(&kv, "code", "%d", 550);
	log_kv_str(&kv, "status", "5.7.1");
	log_kv_str(&kv, "rule", NULL);
	log_kv_str(&kv, "cmd", "RCPT TO:<x@y>");
	log_kv_mem(&kv, "raw", "a\0b", 3);
	ck_assert_str_eq(kv.text, "code=550 status=5.7.1 rule=- cmd=\"RCPT TO:<x@y>\" raw=\"a\\x00b\"");
	ck_assert_uint_eq(kv.len, strlen(kv.text));

	struct log_kv more;
	log_kv_init(&more);
	log_kv_str(&more, "limit", "connections");
	log_kv_cat(&kv, &more);
	ck_assert(matches(kv.text, " raw=\"a\\\\x00b\" limit=connections$"));
	struct log_kv empty;
	log_kv_init(&empty);
	log_kv_cat(&kv, &empty);
	log_kv_cat(&kv, NULL);
	ck_assert(matches(kv.text, "limit=connections$"));
}
END_TEST

START_TEST(test_kv_bounded)
{
	struct log_kv kv;
	char big[3000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[10] = ' ';
	log_kv_init(&kv);
	log_kv_str(&kv, "reason", big);
	/* One value is cut at LOG_KV_VALUE_MAX, with its mark. */
	ck_assert_uint_le(kv.len, strlen("reason=") + LOG_KV_VALUE_MAX);
	ck_assert(matches(kv.text, "^reason=\"xxxxxxxxxx x+\\.\\.\\.\"$"));
	/* The same through a format. */
	log_kv_init(&kv);
	log_kv_add(&kv, "text", "%s", big + 11);
	ck_assert(matches(kv.text, "^text=\"x+\\.\\.\\.\"$"));
	/* Pairs that do not fit are left out; the text stays well formed. */
	log_kv_init(&kv);
	for (int i = 0; i < 20; i++)
		log_kv_str(&kv, "k", big);
	ck_assert_uint_lt(kv.len, sizeof(kv.text));
	ck_assert_uint_eq(kv.len, strlen(kv.text));
	ck_assert_int_eq(count_char(kv.text, '"') % 2, 0);
	ck_assert(matches(kv.text, "^(k=\"x{10} x+\\.\\.\\.\" ?)+$"));
}
END_TEST

/* --- syslog facility --- */

START_TEST(test_facility)
{
	static const struct { int index; int facility; } cases[] = {
		{ 0, LOG_MAIL }, { 1, LOG_DAEMON }, { 2, LOG_USER }, { 3, LOG_LOCAL0 },
		{ 4, LOG_LOCAL1 }, { 9, LOG_LOCAL6 }, { 10, LOG_LOCAL7 },
		{ -1, LOG_MAIL }, { 11, LOG_MAIL },
	};

	ck_assert_int_eq(log_get_facility(), LOG_MAIL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		log_set_facility(cases[i].index);
		ck_assert_int_eq(log_get_facility(), cases[i].facility);
	}
	/* Before and after syslog is opened: it stays in effect. */
	log_set_facility(1);
	log_init(0, "check_log");
	ck_assert_int_eq(log_get_facility(), LOG_DAEMON);
	log_set_facility(3);
	ck_assert_int_eq(log_get_facility(), LOG_LOCAL0);
	log_init(1, "check_log");
}
END_TEST

/* --- the log file --- */

#define PREFIX "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z check_log\\[[0-9]+\\]: "

START_TEST(test_file_lines)
{
	char path[256], err[256];
	struct stat st;
	char *data;
	int fd;

	log_init(1, "check_log");
	ck_assert_int_eq(log_file_fd(), -1);
	ck_assert_int_eq(log_reopen(), 0); /* nothing to reopen */
	path_in(path, sizeof(path), "smtptrapd.log");
	/* Appended to, not truncated. */
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "old line\n", 9), 9);
	close(fd);
	ck_assert_int_eq(log_open_file(path, err, sizeof(err)), 0);
	ck_assert_int_ge(log_file_fd(), 0);
	log_info("hello %d", 1);
	log_warnx("careful");
	log_debug("not at info level");
	errno = ENOENT;
	log_warn("open %s", "x");
	data = slurp(path);
	ck_assert_ptr_nonnull(data);
	ck_assert_int_eq(count_char(data, '\n'), 4);
	ck_assert(matches(data, "^old line$"));
	ck_assert(matches(data, PREFIX "hello 1$"));
	ck_assert(matches(data, PREFIX "warning: careful$"));
	ck_assert(matches(data, PREFIX "warning: open x: No such file or directory$"));
	free(data);

	/* A new file gets mode 0640. */
	path_in(path, sizeof(path), "new.log");
	ck_assert_int_eq(log_open_file(path, err, sizeof(err)), 0);
	log_notice("in the new file");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	data = slurp(path);
	ck_assert(matches(data, PREFIX "in the new file\n$"));
	free(data);
}
END_TEST

START_TEST(test_file_open_fails)
{
	char path[256], err[256] = "";

	path_in(path, sizeof(path), "missing/dir/x.log");
	ck_assert_int_eq(log_open_file(path, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "missing/dir/x.log"));
	ck_assert_int_eq(log_file_fd(), -1);
	ck_assert_int_eq(log_open_file("", err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_long_line_cut)
{
	char path[256], err[256];
	char big[5000];
	char *data;

	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	path_in(path, sizeof(path), "long.log");
	ck_assert_int_eq(log_open_file(path, err, sizeof(err)), 0);
	log_info("%s", big);
	data = slurp(path);
	ck_assert_int_eq(count_char(data, '\n'), 1);
	ck_assert_uint_le(strlen(data), 2048);
	ck_assert(matches(data, "y\\.\\.\\.\n$"));
	free(data);
}
END_TEST

START_TEST(test_reopen_after_rotation)
{
	char path[256], moved[256], err[256];
	char *data;
	int fd;

	path_in(path, sizeof(path), "smtptrapd.log");
	path_in(moved, sizeof(moved), "smtptrapd.log.1");
	ck_assert_int_eq(log_open_file(path, err, sizeof(err)), 0);
	fd = log_file_fd();
	log_info("before");
	ck_assert_int_eq(rename(path, moved), 0);
	log_info("between");
	ck_assert_int_eq(log_reopen(), 0);
	ck_assert_int_eq(log_file_fd(), fd);
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	log_info("after");

	data = slurp(moved);
	ck_assert(matches(data, PREFIX "before\n" ".*" "between\n$"));
	ck_assert_int_eq(count_char(data, '\n'), 2);
	free(data);
	data = slurp(path);
	ck_assert(matches(data, "^" ".{20,60}" "after\n$"));
	ck_assert_int_eq(count_char(data, '\n'), 1);
	free(data);
}
END_TEST

START_TEST(test_reopen_fails_keeps_old)
{
	char dir[256], moved[256], path[512], err[256];
	char *data;

	path_in(dir, sizeof(dir), "logs");
	path_in(moved, sizeof(moved), "logs.old");
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/x.log", dir);
	ck_assert_int_eq(log_open_file(path, err, sizeof(err)), 0);
	int fd = log_file_fd();
	log_info("one");
	/* The path cannot be opened any more: its directory is gone. */
	ck_assert_int_eq(rename(dir, moved), 0);
	errno = 0;
	ck_assert_int_eq(log_reopen(), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(log_file_fd(), fd);
	log_info("two");
	snprintf(path, sizeof(path), "%s/x.log", moved);
	data = slurp(path);
	ck_assert(matches(data, "one\n.*two\n$"));
	free(data);
}
END_TEST

START_TEST(test_relative_path)
{
	char cwd[PATH_MAX], path[256], moved[256], err[256];
	char *data;

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(tmpdir), 0);
	ck_assert_int_eq(log_open_file("rel.log", err, sizeof(err)), 0);
	ck_assert_int_eq(chdir("/"), 0);
	path_in(path, sizeof(path), "rel.log");
	path_in(moved, sizeof(moved), "rel.log.1");
	ck_assert_int_eq(rename(path, moved), 0);
	/* Reopened where it was, not relative to the new working directory. */
	ck_assert_int_eq(log_reopen(), 0);
	log_info("here");
	data = slurp(path);
	ck_assert_ptr_nonnull(data);
	ck_assert(matches(data, "here\n$"));
	free(data);
	ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

START_TEST(test_processes_do_not_interleave)
{
	enum { PROCS = 4, LINES = 300 };
	char path[256], err[256];
	char pad[700];
	char *data, *line, *save;
	int n = 0;

	memset(pad, 'z', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	path_in(path, sizeof(path), "shared.log");
	ck_assert_int_eq(log_open_file(path, err, sizeof(err)), 0);
	for (int p = 0; p < PROCS; p++) {
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			log_after_fork();
			for (int i = 0; i < LINES; i++)
				log_info("proc %d line %d %s end", p, i, pad);
			_exit(0);
		}
	}
	for (int p = 0; p < PROCS; p++) {
		int status;
		ck_assert_int_gt(wait(&status), 0);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	data = slurp(path);
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		ck_assert_msg(matches(line, PREFIX "proc [0-9] line [0-9]+ z{699} end$"),
		    "mangled line: %.80s", line);
		n++;
	}
	ck_assert_int_eq(n, PROCS * LINES);
	free(data);
}
END_TEST

/* --- transcripts --- */

START_TEST(test_transcript)
{
	char dir[256], file[512], err[256] = "";
	struct transcript *t;
	struct stat st;
	char *data;
	int dfd;

	/* The master makes and opens the directory (reload.c); sessions write in it. */
	path_in(dir, sizeof(dir), "transcripts");
	ck_assert_int_eq(mkdir(dir, 0750), 0);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dfd, 0);

	t = transcript_open(dfd, "0123456789AB", err, sizeof(err));
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(transcript_line(t, '<', "EHLO a\\b", 8), 0);
	ck_assert_int_eq(transcript_line(t, '<', "bare\rcr\nlf\0nul\t\x1b", 16), 0);
	ck_assert_int_eq(transcript_line(t, '>', "250 ok", 6), 0);
	const char *note = "ID [1.2.3.4]:5 reject reason=\"a\\\"b\" x\ny";
	ck_assert_int_eq(transcript_line(t, '*', note, strlen(note)), 0);
	transcript_close(t);
	transcript_close(NULL);

	snprintf(file, sizeof(file), "%s/0123456789AB.log", dir);
	ck_assert_int_eq(stat(file, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	data = slurp(file);
	ck_assert_int_eq(count_char(data, '\n'), 4);
	ck_assert(matches(data, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}Z < EHLO a\\\\\\\\b$"));
	ck_assert(matches(data, "Z < bare\\\\rcr\\\\nlf\\\\x00nul\\\\t\\\\x1b$"));
	ck_assert(matches(data, "Z > 250 ok$"));
	/* Notes are log text: kept as they are, control octets made '?'. */
	ck_assert(matches(data, "Z \\* ID \\[1\\.2\\.3\\.4\\]:5 reject reason=\"a\\\\\"b\" x\\?y$"));
	free(data);

	/* One file per session: an existing one is not reused. */
	ck_assert_ptr_null(transcript_open(dfd, "0123456789AB", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "0123456789AB.log"));
	ck_assert_ptr_null(transcript_open(dfd, "../escape", err, sizeof(err)));
	close(dfd);
}
END_TEST

static Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("kv");

	tcase_add_test(tc, test_quote);
	tcase_add_test(tc, test_quote_cut);
	tcase_add_test(tc, test_kv);
	tcase_add_test(tc, test_kv_bounded);
	tcase_add_test(tc, test_facility);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_file_lines);
	tcase_add_test(tc, test_file_open_fails);
	tcase_add_test(tc, test_long_line_cut);
	tcase_add_test(tc, test_reopen_after_rotation);
	tcase_add_test(tc, test_reopen_fails_keeps_old);
	tcase_add_test(tc, test_relative_path);
	tcase_add_test(tc, test_processes_do_not_interleave);
	tcase_add_test(tc, test_transcript);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(log_suite());
	int failures;

	/* The logger's state is static: every test in a fresh process. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
