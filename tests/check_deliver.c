/*
 * check_deliver - unit tests for message storage: maildir file names
 * (maildir_name) and per-recipient directory names (maildir_rcpt_dir);
 * the maildir backend end to end through struct deliver (commit, abort,
 * large writes, the per-recipient layout with hard links) in a temporary
 * directory; how failures are classified (deliver_status_of, and the
 * status open and commit return for a file size limit and for a broken
 * maildir); the blackhole backend; and the trace header block
 * (trace_date, trace_headers).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "deliver.h"
#include "trace.h"
#include "tmpdir.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Helpers
 */

static char *
path_join(const char *a, const char *b)
{
	char *p;

	ck_assert_int_gt(asprintf(&p, "%s/%s", a, b), 0);
	return p;
}

/*
 * Number of entries in dir other than "." and ".."; the name of the
 * first one is copied to first (if not NULL). -1 if dir cannot be opened.
 */
static int
dir_entries(const char *dir, char *first, size_t firstlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	if (first != NULL && firstlen > 0)
		first[0] = '\0';
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n == 0 && first != NULL)
			snprintf(first, firstlen, "%s", e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static int
dir_entries_in(const char *root, const char *sub)
{
	char *p = path_join(root, sub);
	int n = dir_entries(p, NULL, 0);

	free(p);
	return n;
}

/* The whole file; *len is its size. */
static char *
slurp(const char *path, size_t *len)
{
	struct stat st;
	char *data;
	size_t off = 0;
	int fd = open(path, O_RDONLY);

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(fstat(fd, &st), 0);
	data = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(data);
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, data + off, (size_t)st.st_size - off);
		ck_assert_int_gt(n, 0);
		off += (size_t)n;
	}
	close(fd);
	data[off] = '\0';
	*len = off;
	return data;
}

/* Assert that path holds exactly want[0..wantlen). */
static void
assert_file_is(const char *path, const void *want, size_t wantlen)
{
	size_t len;
	char *data = slurp(path, &len);

	ck_assert_msg(len == wantlen, "%s: %zu bytes, want %zu", path, len, wantlen);
	ck_assert_msg(memcmp(data, want, wantlen) == 0, "%s: content differs", path);
	free(data);
}

/*
 * maildir_name
 */

START_TEST(test_name_exact)
{
	char out[256];
	int n;

	n = maildir_name(out, sizeof(out), 1700000000LL, 42, 123, 7, 0xdeadbeefu, "mx.example");
	ck_assert_str_eq(out, "1700000000.M000042P123Q7Rdeadbeef.mx.example");
	ck_assert_int_eq(n, (int)strlen(out));

	n = maildir_name(out, sizeof(out), 0, 999999, 1, 18446744073709551615UL, 0, "h");
	ck_assert_str_eq(out, "0.M999999P1Q18446744073709551615R00000000.h");
	ck_assert_int_eq(n, (int)strlen(out));

	n = maildir_name(out, sizeof(out), 4102444800LL, 0, 4194304, 1, 0x1fu, "a.b.c");
	ck_assert_str_eq(out, "4102444800.M000000P4194304Q1R0000001f.a.b.c");
	ck_assert_int_eq(n, (int)strlen(out));
}
END_TEST

START_TEST(test_name_escapes)
{
	char out[256];
	int n;

	n = maildir_name(out, sizeof(out), 1, 2, 3, 4, 5, "a/b:c//::");
	ck_assert_str_eq(out, "1.M000002P3Q4R00000005.a\\057b\\072c\\057\\057\\072\\072");
	ck_assert_int_eq(n, (int)strlen(out));
	ck_assert_ptr_null(strchr(out, '/'));
	ck_assert_ptr_null(strchr(out, ':'));
}
END_TEST

START_TEST(test_name_too_small)
{
	char out[64];
	int n;

	n = maildir_name(out, sizeof(out), 1700000000LL, 42, 123, 7, 0xdeadbeefu, "mx.example");
	ck_assert_int_eq(n, 44);
	/* Exactly enough room: the name and its NUL. */
	memset(out, 'x', sizeof(out));
	ck_assert_int_eq(maildir_name(out, 45, 1700000000LL, 42, 123, 7, 0xdeadbeefu, "mx.example"), 44);
	ck_assert_str_eq(out, "1700000000.M000042P123Q7Rdeadbeef.mx.example");
	/* One byte short. */
	ck_assert_int_eq(maildir_name(out, 44, 1700000000LL, 42, 123, 7, 0xdeadbeefu, "mx.example"), -1);
	ck_assert_int_eq(maildir_name(out, 10, 1700000000LL, 42, 123, 7, 0xdeadbeefu, "mx.example"), -1);
	ck_assert_int_eq(maildir_name(out, 1, 1, 1, 1, 1, 1, "h"), -1);
	/* Escapes count towards the length. */
	ck_assert_int_eq(maildir_name(out, 28, 1, 2, 3, 4, 5, "/"), 27);
	ck_assert_int_eq(maildir_name(out, 27, 1, 2, 3, 4, 5, "/"), -1);
}
END_TEST

START_TEST(test_name_unique)
{
	char a[256], b[256], c[256];

	ck_assert_int_gt(maildir_name(a, sizeof(a), 1700000000LL, 42, 123, 7, 0xdeadbeefu, "mx"), 0);
	ck_assert_int_gt(maildir_name(b, sizeof(b), 1700000000LL, 42, 123, 8, 0xdeadbeefu, "mx"), 0);
	ck_assert_int_gt(maildir_name(c, sizeof(c), 1700000000LL, 42, 124, 7, 0xdeadbeefu, "mx"), 0);
	ck_assert_str_ne(a, b);
	ck_assert_str_ne(a, c);
	ck_assert_str_ne(b, c);
}
END_TEST

/*
 * maildir_rcpt_dir
 */

static const struct rcpt_case {
	const char *in;
	const char *want;
} rcpt_cases[] = {
	{ "bob@example.com", "bob@example.com" },
	{ "Bob@Example.COM", "bob@example.com" },
	{ "ALL-CAPS_09+tag@X.Y", "all-caps_09+tag@x.y" },
	{ "a/b@example.com", "a_b@example.com" },
	{ "/../@x", "_.._@x" },
	{ ".hidden@example.com", "_hidden@example.com" },
	{ ".", "_" },
	{ "..", "_." },
	{ "a.b.@x", "a.b.@x" },
	{ "\"Quoted Name\"@EX", "\"quoted name\"@ex" },
	/* UTF-8 bytes are kept as they are, upper case included. */
	{ "J\xc3\xb6rg@\xc3\x96sterreich.AT", "j\xc3\xb6rg@\xc3\x96sterreich.at" },
	{ "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.CN", "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.cn" },
};

START_TEST(test_rcpt_dir_table)
{
	const struct rcpt_case *rc = &rcpt_cases[_i];
	char out[NAME_MAX + 1];
	int n;

	memset(out, 'x', sizeof(out));
	n = maildir_rcpt_dir(out, sizeof(out), rc->in);
	ck_assert_msg(n == (int)strlen(rc->want), "\"%s\": %d", rc->in, n);
	ck_assert_str_eq(out, rc->want);
}
END_TEST

START_TEST(test_rcpt_dir_limits)
{
	char out[NAME_MAX + 2];
	char in[NAME_MAX + 2];

	ck_assert_int_eq(maildir_rcpt_dir(out, sizeof(out), ""), -1);

	/* Needs room for the NUL. */
	ck_assert_int_eq(maildir_rcpt_dir(out, 4, "abc"), 3);
	ck_assert_str_eq(out, "abc");
	ck_assert_int_eq(maildir_rcpt_dir(out, 3, "abc"), -1);

	/* A file name is at most NAME_MAX bytes. */
	memset(in, 'A', NAME_MAX);
	in[NAME_MAX] = '\0';
	ck_assert_int_eq(maildir_rcpt_dir(out, sizeof(out), in), NAME_MAX);
	ck_assert_uint_eq(strspn(out, "a"), NAME_MAX);
	in[NAME_MAX] = 'A';
	in[NAME_MAX + 1] = '\0';
	ck_assert_int_eq(maildir_rcpt_dir(out, sizeof(out), in), -1);
}
END_TEST

/*
 * The maildir backend, through struct deliver.
 */

struct md_fixture {
	char *tmp;              /* the temporary directory, removed at the end */
	char *root;             /* cfg.maildir */
	struct config cfg;
	struct deliver d;
	int dirfd;              /* the capture directory opened by prepare */
};

static const char *const one_rcpt[] = { "bob@example.com" };

static const struct envelope one_env = {
	.session_id = "Sabc",
	.msgnum = 1,
	.sender = "alice@example.org",
	.rcpts = one_rcpt,
	.nrcpts = 1,
};

/* Defaults, a maildir under a fresh temporary directory, fsync on. */
static void
md_setup(struct md_fixture *f, int layout)
{
	char err[DELIVER_ERR_MAX] = "";

	memset(f, 0, sizeof(*f));
	f->tmp = tmpdir_make("check_deliver");
	f->root = path_join(f->tmp, "Maildir");
	config_defaults(&f->cfg);
	free(f->cfg.maildir);
	f->cfg.maildir = strdup(f->root);
	ck_assert_ptr_nonnull(f->cfg.maildir);
	free(f->cfg.hostname);
	f->cfg.hostname = strdup("mx.test");
	ck_assert_ptr_nonnull(f->cfg.hostname);
	f->cfg.fsync = 1;
	f->cfg.layout = layout;
	f->cfg.backend = BACKEND_MAILDIR;

	ck_assert_ptr_eq(deliver_ops_for(&f->cfg), &deliver_maildir_ops);
	ck_assert_msg(deliver_ops_for(&f->cfg)->prepare(&f->cfg, (uid_t)-1, (gid_t)-1, &f->dirfd,
	    err, sizeof(err)) == 0, "prepare: %s", err);
	ck_assert_int_ge(f->dirfd, 0);
	ck_assert_msg(deliver_ops_for(&f->cfg)->check(&f->cfg, f->dirfd, err, sizeof(err)) == 0,
	    "check: %s", err);
	ck_assert_msg(deliver_init(&f->d, &f->cfg, f->dirfd, err, sizeof(err)) == 0, "init: %s", err);
	ck_assert_ptr_eq(f->d.ops, &deliver_maildir_ops);
}

static void
md_teardown(struct md_fixture *f)
{
	deliver_fini(&f->d);
	ck_assert_ptr_null(f->d.be);
	close(f->dirfd);
	config_free(&f->cfg);
	free(f->root);
	tmpdir_remove(f->tmp);
}

/* Write data in pieces of the given sizes (cycled), then the rest. */
static void
write_pieces(struct deliver *d, const char *data, size_t len, const size_t *sizes, size_t nsizes)
{
	size_t off = 0;

	for (size_t k = 0; off < len; k++) {
		size_t n = nsizes ? sizes[k % nsizes] : len;
		if (n > len - off)
			n = len - off;
		deliver_write(d, data + off, n);
		off += n;
	}
}

START_TEST(test_maildir_prepare)
{
	struct md_fixture f;

	md_setup(&f, LAYOUT_SINGLE);
	ck_assert_int_eq(dir_entries_in(f.root, "tmp"), 0);
	ck_assert_int_eq(dir_entries_in(f.root, "new"), 0);
	ck_assert_int_eq(dir_entries_in(f.root, "cur"), 0);
	ck_assert_int_eq(dir_entries(f.root, NULL, 0), 3);
	md_teardown(&f);
}
END_TEST

START_TEST(test_maildir_commit)
{
	static const char msg[] = "Subject: hi\r\n\r\nHello, world.\r\n";
	static const size_t sizes[] = { 1, 5, 2 };
	struct md_fixture f;
	char err[DELIVER_ERR_MAX] = "";
	char id[DELIVER_ID_MAX] = "";
	char name[256];
	char id2[DELIVER_ID_MAX] = "";
	char *newdir, *path;

	md_setup(&f, LAYOUT_SINGLE);
	newdir = path_join(f.root, "new");

	ck_assert_msg(deliver_open(&f.d, &one_env, err, sizeof(err)) == 0, "open: %s", err);
	/* While open, the message is in tmp/ only. */
	ck_assert_int_eq(dir_entries_in(f.root, "tmp"), 1);
	ck_assert_int_eq(dir_entries_in(f.root, "new"), 0);
	write_pieces(&f.d, msg, strlen(msg), sizes, NELEM(sizes));
	ck_assert_msg(deliver_commit(&f.d, id, sizeof(id), err, sizeof(err)) == 0, "commit: %s", err);

	ck_assert_int_eq(dir_entries(newdir, name, sizeof(name)), 1);
	ck_assert_str_eq(id, name);
	ck_assert_int_eq(dir_entries_in(f.root, "tmp"), 0);
	ck_assert_int_eq(dir_entries_in(f.root, "cur"), 0);
	path = path_join(newdir, name);
	assert_file_is(path, msg, strlen(msg));
	free(path);

	/* The name follows the maildir convention and ends in the host. */
	ck_assert_ptr_nonnull(strstr(id, ".M"));
	ck_assert_ptr_nonnull(strchr(id, 'P'));
	ck_assert_uint_gt(strlen(id), strlen(".mx.test"));
	ck_assert_str_eq(id + strlen(id) - strlen(".mx.test"), ".mx.test");

	/* A second message gets a new name; the first stays. */
	ck_assert_int_eq(deliver_open(&f.d, &one_env, err, sizeof(err)), 0);
	deliver_write(&f.d, "x", 1);
	ck_assert_int_eq(deliver_commit(&f.d, id2, sizeof(id2), err, sizeof(err)), 0);
	ck_assert_str_ne(id, id2);
	ck_assert_int_eq(dir_entries(newdir, NULL, 0), 2);
	path = path_join(newdir, id2);
	assert_file_is(path, "x", 1);
	free(path);
	path = path_join(newdir, id);
	assert_file_is(path, msg, strlen(msg));
	free(path);

	/* An empty message is stored as an empty file. */
	ck_assert_int_eq(deliver_open(&f.d, &one_env, err, sizeof(err)), 0);
	ck_assert_int_eq(deliver_commit(&f.d, id2, sizeof(id2), err, sizeof(err)), 0);
	path = path_join(newdir, id2);
	assert_file_is(path, "", 0);
	free(path);
	ck_assert_int_eq(dir_entries(newdir, NULL, 0), 3);
	ck_assert_int_eq(dir_entries_in(f.root, "tmp"), 0);

	free(newdir);
	md_teardown(&f);
}
END_TEST

START_TEST(test_maildir_host_escaped)
{
	struct md_fixture f;
	char err[DELIVER_ERR_MAX] = "";
	char id[DELIVER_ID_MAX] = "";
	char name[256];
	char *newdir;
	const char *tail = ".odd\\057host\\072name";

	md_setup(&f, LAYOUT_SINGLE);
	deliver_fini(&f.d);
	free(f.cfg.hostname);
	f.cfg.hostname = strdup("odd/host:name");
	ck_assert_int_eq(deliver_init(&f.d, &f.cfg, f.dirfd, err, sizeof(err)), 0);
	ck_assert_int_eq(deliver_open(&f.d, &one_env, err, sizeof(err)), 0);
	deliver_write(&f.d, "m", 1);
	ck_assert_int_eq(deliver_commit(&f.d, id, sizeof(id), err, sizeof(err)), 0);
	ck_assert_uint_gt(strlen(id), strlen(tail));
	ck_assert_str_eq(id + strlen(id) - strlen(tail), tail);
	newdir = path_join(f.root, "new");
	ck_assert_int_eq(dir_entries(newdir, name, sizeof(name)), 1);
	ck_assert_str_eq(name, id);
	free(newdir);
	md_teardown(&f);
}
END_TEST

START_TEST(test_maildir_abort)
{
	struct md_fixture f;
	char err[DELIVER_ERR_MAX] = "";
	char id[DELIVER_ID_MAX] = "";

	md_setup(&f, LAYOUT_SINGLE);
	ck_assert_int_eq(deliver_open(&f.d, &one_env, err, sizeof(err)), 0);
	deliver_write(&f.d, "partial message\r\n", 17);
	ck_assert_int_eq(dir_entries_in(f.root, "tmp"), 1);
	deliver_abort(&f.d);
	ck_assert_int_eq(dir_entries_in(f.root, "tmp"), 0);
	ck_assert_int_eq(dir_entries_in(f.root, "new"), 0);

	/* Nothing is open any more: writes are dropped, commit refuses. */
	deliver_write(&f.d, "late", 4);
	ck_assert_int_eq(deliver_commit(&f.d, id, sizeof(id), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no message open");
	ck_assert_int_eq(dir_entries_in(f.root, "new"), 0);

	/* Aborting twice is harmless; the backend is still usable. */
	deliver_abort(&f.d);
	ck_assert_int_eq(deliver_open(&f.d, &one_env, err, sizeof(err)), 0);
	deliver_write(&f.d, "ok", 2);
	ck_assert_int_eq(deliver_commit(&f.d, id, sizeof(id), err, sizeof(err)), 0);
	ck_assert_int_eq(dir_entries_in(f.root, "new"), 1);
	ck_assert_int_eq(dir_entries_in(f.root, "tmp"), 0);
	md_teardown(&f);
}
END_TEST

/* Ending the delivery context with a message open throws it away. */
START_TEST(test_maildir_fini_aborts)
{
	struct md_fixture f;
	char err[DELIVER_ERR_MAX] = "";

	md_setup(&f, LAYOUT_SINGLE);
	ck_assert_int_eq(deliver_open(&f.d, &one_env, err, sizeof(err)), 0);
	deliver_write(&f.d, "never committed", 15);
	ck_assert_int_eq(dir_entries_in(f.root, "tmp"), 1);
	deliver_fini(&f.d);
	ck_assert_int_eq(dir_entries_in(f.root, "tmp"), 0);
	ck_assert_int_eq(dir_entries_in(f.root, "new"), 0);
	md_teardown(&f);
}
END_TEST

START_TEST(test_maildir_large)
{
	/* Odd pieces around the 64 KiB write buffer, exactly its size too. */
	static const size_t sizes[] = { 1, 3, 65537, 4095, 65536, 7, 70001, 12345, 65535, 2 };
	const size_t len = 200000;
	struct md_fixture f;
	char err[DELIVER_ERR_MAX] = "";
	char id[DELIVER_ID_MAX] = "";
	char *data = malloc(len);
	char *path;
	unsigned x = 12345;

	ck_assert_ptr_nonnull(data);
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (char)(x >> 16);
	}
	md_setup(&f, LAYOUT_SINGLE);
	ck_assert_int_eq(deliver_open(&f.d, &one_env, err, sizeof(err)), 0);
	write_pieces(&f.d, data, len, sizes, NELEM(sizes));
	ck_assert_msg(deliver_commit(&f.d, id, sizeof(id), err, sizeof(err)) == 0, "commit: %s", err);
	path = path_join(f.root, "new");
	ck_assert_int_eq(dir_entries(path, NULL, 0), 1);
	free(path);
	ck_assert_int_gt(asprintf(&path, "%s/new/%s", f.root, id), 0);
	assert_file_is(path, data, len);
	free(path);

	/* The same bytes, one at a time for a stretch, then all at once. */
	ck_assert_int_eq(deliver_open(&f.d, &one_env, err, sizeof(err)), 0);
	for (size_t i = 0; i < 1000; i++)
		deliver_write(&f.d, data + i, 1);
	deliver_write(&f.d, data + 1000, len - 1000);
	ck_assert_int_eq(deliver_commit(&f.d, id, sizeof(id), err, sizeof(err)), 0);
	ck_assert_int_gt(asprintf(&path, "%s/new/%s", f.root, id), 0);
	assert_file_is(path, data, len);
	free(path);
	ck_assert_int_eq(dir_entries_in(f.root, "tmp"), 0);

	free(data);
	md_teardown(&f);
}
END_TEST

START_TEST(test_maildir_per_recipient)
{
	static const char *const rcpts[] = {
		"Bob@Example.COM", "carol@example.com", "bob@example.com",
	};
	static const struct envelope env = {
		.session_id = "Sxyz",
		.msgnum = 2,
		.sender = "",
		.rcpts = rcpts,
		.nrcpts = 3,
	};
	static const char msg[] = "From: x\r\n\r\nfor two mailboxes\r\n";
	struct md_fixture f;
	char err[DELIVER_ERR_MAX] = "";
	char id[DELIVER_ID_MAX] = "";
	char name[256];
	char *bob, *carol, *p;
	struct stat st_bob, st_carol;

	md_setup(&f, LAYOUT_PER_RECIPIENT);
	/* prepare makes the root only; mailboxes appear on demand. */
	ck_assert_int_eq(dir_entries(f.root, NULL, 0), 0);

	ck_assert_msg(deliver_open(&f.d, &env, err, sizeof(err)) == 0, "open: %s", err);
	deliver_write(&f.d, msg, strlen(msg));
	ck_assert_msg(deliver_commit(&f.d, id, sizeof(id), err, sizeof(err)) == 0, "commit: %s", err);

	/* One mailbox per distinct (case-folded) recipient. */
	ck_assert_int_eq(dir_entries(f.root, NULL, 0), 2);
	bob = path_join(f.root, "bob@example.com");
	carol = path_join(f.root, "carol@example.com");

	ck_assert_int_eq(dir_entries_in(bob, "tmp"), 0);
	ck_assert_int_eq(dir_entries_in(carol, "tmp"), 0);
	ck_assert_int_eq(dir_entries_in(bob, "cur"), 0);
	ck_assert_int_eq(dir_entries_in(carol, "cur"), 0);

	p = path_join(bob, "new");
	ck_assert_int_eq(dir_entries(p, name, sizeof(name)), 1);
	ck_assert_str_eq(name, id);
	free(p);
	p = path_join(carol, "new");
	ck_assert_int_eq(dir_entries(p, name, sizeof(name)), 1);
	ck_assert_str_eq(name, id);
	free(p);

	ck_assert_int_gt(asprintf(&p, "%s/new/%s", bob, id), 0);
	assert_file_is(p, msg, strlen(msg));
	ck_assert_int_eq(stat(p, &st_bob), 0);
	free(p);
	ck_assert_int_gt(asprintf(&p, "%s/new/%s", carol, id), 0);
	assert_file_is(p, msg, strlen(msg));
	ck_assert_int_eq(stat(p, &st_carol), 0);
	free(p);
	/* The same file, hard-linked; the tmp/ link is gone. */
	ck_assert_uint_eq(st_bob.st_ino, st_carol.st_ino);
	ck_assert_uint_eq(st_bob.st_dev, st_carol.st_dev);
	ck_assert_uint_eq(st_bob.st_nlink, 2);

	/* An aborted message leaves no trace in any mailbox. */
	ck_assert_int_eq(deliver_open(&f.d, &env, err, sizeof(err)), 0);
	deliver_write(&f.d, "gone", 4);
	deliver_abort(&f.d);
	ck_assert_int_eq(dir_entries_in(bob, "tmp"), 0);
	ck_assert_int_eq(dir_entries_in(carol, "tmp"), 0);
	ck_assert_int_eq(dir_entries_in(bob, "new"), 1);
	ck_assert_int_eq(dir_entries_in(carol, "new"), 1);

	free(bob);
	free(carol);
	md_teardown(&f);
}
END_TEST

/*
 * Workers write through the directory the master opened, not through its
 * path: after the path is renamed away (as a parent the service user may
 * not search would hide it), delivery still lands in the directory.
 */
START_TEST(test_maildir_through_dirfd)
{
	struct md_fixture f;
	char err[DELIVER_ERR_MAX] = "";
	char id[DELIVER_ID_MAX] = "";
	char name[256];

	md_setup(&f, LAYOUT_SINGLE);
	char *moved = path_join(f.tmp, "Moved");
	ck_assert_int_eq(rename(f.root, moved), 0);
	ck_assert_int_eq(deliver_open(&f.d, &one_env, err, sizeof(err)), 0);
	deliver_write(&f.d, "m\r\n", 3);
	ck_assert_msg(deliver_commit(&f.d, id, sizeof(id), err, sizeof(err)) == 0, "%s", err);
	char *newdir = path_join(moved, "new");
	ck_assert_int_eq(dir_entries(newdir, name, sizeof(name)), 1);
	ck_assert_str_eq(name, id);
	char *tmpdir = path_join(moved, "tmp");
	ck_assert_int_eq(dir_entries(tmpdir, name, sizeof(name)), 0);
	ck_assert_int_eq(rename(moved, f.root), 0);
	free(newdir);
	free(tmpdir);
	free(moved);
	md_teardown(&f);
}
END_TEST

/* A prepare that cannot create the maildir reports why. */
START_TEST(test_maildir_prepare_fails)
{
	struct config cfg;
	int fd = 0;
	char err[DELIVER_ERR_MAX] = "";

	config_defaults(&cfg);
	free(cfg.maildir);
	cfg.maildir = strdup("/dev/null/maildir");
	ck_assert_int_eq(deliver_ops_for(&cfg)->prepare(&cfg, (uid_t)-1, (gid_t)-1, &fd, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(fd, -1);
	ck_assert_ptr_nonnull(strstr(err, "/dev/null/maildir"));
	cfg.layout = LAYOUT_PER_RECIPIENT;
	err[0] = '\0';
	ck_assert_int_eq(deliver_ops_for(&cfg)->prepare(&cfg, (uid_t)-1, (gid_t)-1, &fd, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(fd, -1);
	ck_assert_ptr_nonnull(strstr(err, "/dev/null/maildir"));
	config_free(&cfg);
}
END_TEST

/*
 * Failure classification: exhausted storage (452 4.3.1) or anything else
 * (451 4.3.0).
 */

static const struct {
	int errnum;
	enum deliver_status want;
} status_cases[] = {
	{ 0, DELIVER_OK },
	{ ENOSPC, DELIVER_NOSPACE },
	{ EDQUOT, DELIVER_NOSPACE },
	{ EFBIG, DELIVER_NOSPACE },
	{ EIO, DELIVER_FAILED },
	{ EACCES, DELIVER_FAILED },
	{ EPERM, DELIVER_FAILED },
	{ ENOENT, DELIVER_FAILED },
	{ ENOTDIR, DELIVER_FAILED },
	{ EROFS, DELIVER_FAILED },
	{ EMLINK, DELIVER_FAILED },
	{ ENAMETOOLONG, DELIVER_FAILED },
};

START_TEST(test_status_of_errno)
{
	ck_assert_msg(deliver_status_of(status_cases[_i].errnum) == status_cases[_i].want,
	    "errno %d (%s)", status_cases[_i].errnum, strerror(status_cases[_i].errnum));
}
END_TEST

START_TEST(test_status_names)
{
	ck_assert_str_eq(deliver_status_name(DELIVER_OK), "ok");
	ck_assert_str_eq(deliver_status_name(DELIVER_FAILED), "error");
	ck_assert_str_eq(deliver_status_name(DELIVER_NOSPACE), "nospace");
	/* Failures are negative: "!= 0" tests keep working. */
	ck_assert_int_lt(DELIVER_FAILED, 0);
	ck_assert_int_lt(DELIVER_NOSPACE, 0);
}
END_TEST

/*
 * A message past the file size limit (RLIMIT_FSIZE, SIGXFSZ ignored as in
 * the worker) is exhausted storage; nothing of it stays, and a small one
 * goes through afterwards. The test runs in its own process (Check forks),
 * the limit is restored anyway.
 */
START_TEST(test_maildir_file_size_limit_is_nospace)
{
	struct md_fixture f;
	struct rlimit old, small = { 8192, 8192 };
	char err[DELIVER_ERR_MAX] = "";
	char id[DELIVER_ID_MAX] = "";
	char block[1000];
	void (*oldxfsz)(int) = signal(SIGXFSZ, SIG_IGN);

	memset(block, 'y', sizeof(block));
	md_setup(&f, LAYOUT_SINGLE);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_max = old.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);

	ck_assert_int_eq(deliver_open(&f.d, &one_env, err, sizeof(err)), DELIVER_OK);
	for (int i = 0; i < 200; i++)
		deliver_write(&f.d, block, sizeof(block));
	ck_assert_int_eq(deliver_commit(&f.d, id, sizeof(id), err, sizeof(err)), DELIVER_NOSPACE);
	ck_assert_msg(strstr(err, strerror(EFBIG)) != NULL, "err: %s", err);
	ck_assert_int_eq(dir_entries_in(f.root, "tmp"), 0);
	ck_assert_int_eq(dir_entries_in(f.root, "new"), 0);

	/* Large blocks (straight to the file) fail the same way. */
	char *big = malloc(200000);
	ck_assert_ptr_nonnull(big);
	memset(big, 'z', 200000);
	ck_assert_int_eq(deliver_open(&f.d, &one_env, err, sizeof(err)), DELIVER_OK);
	deliver_write(&f.d, big, 200000);
	ck_assert_int_eq(deliver_commit(&f.d, id, sizeof(id), err, sizeof(err)), DELIVER_NOSPACE);
	free(big);
	ck_assert_int_eq(dir_entries_in(f.root, "tmp"), 0);
	ck_assert_int_eq(dir_entries_in(f.root, "new"), 0);

	ck_assert_int_eq(deliver_open(&f.d, &one_env, err, sizeof(err)), DELIVER_OK);
	deliver_write(&f.d, block, sizeof(block));
	ck_assert_msg(deliver_commit(&f.d, id, sizeof(id), err, sizeof(err)) == DELIVER_OK, "%s", err);
	ck_assert_int_eq(dir_entries_in(f.root, "new"), 1);
	ck_assert_int_eq(dir_entries_in(f.root, "tmp"), 0);

	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, oldxfsz);
	md_teardown(&f);
}
END_TEST

/* Replace the directory root/sub by a regular file (root bypasses modes). */
static void
replace_dir_by_file(const char *root, const char *sub)
{
	char *p = path_join(root, sub);
	int fd;

	ck_assert_msg(rmdir(p) == 0, "rmdir %s: %s", p, strerror(errno));
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	free(p);
}

/* A broken maildir is not exhausted storage: DELIVER_FAILED, nothing left. */
START_TEST(test_maildir_other_failures_are_failed)
{
	struct md_fixture f;
	char err[DELIVER_ERR_MAX] = "";
	char id[DELIVER_ID_MAX] = "";

	/* new/ gone after the message was opened: the rename fails. */
	md_setup(&f, LAYOUT_SINGLE);
	ck_assert_int_eq(deliver_open(&f.d, &one_env, err, sizeof(err)), DELIVER_OK);
	deliver_write(&f.d, "m\r\n", 3);
	replace_dir_by_file(f.root, "new");
	ck_assert_int_eq(deliver_commit(&f.d, id, sizeof(id), err, sizeof(err)), DELIVER_FAILED);
	ck_assert_msg(strstr(err, "rename") != NULL, "err: %s", err);
	ck_assert_int_eq(dir_entries_in(f.root, "tmp"), 0);

	/* tmp/ is a file: the open fails. */
	replace_dir_by_file(f.root, "tmp");
	ck_assert_int_eq(deliver_open(&f.d, &one_env, err, sizeof(err)), DELIVER_FAILED);
	ck_assert_msg(strstr(err, "cannot create") != NULL, "err: %s", err);
	/* Nothing open: commit refuses as a plain failure. */
	ck_assert_int_eq(deliver_commit(&f.d, id, sizeof(id), err, sizeof(err)), DELIVER_FAILED);
	md_teardown(&f);

	/* Per recipient: a recipient's directory that is a file. */
	md_setup(&f, LAYOUT_PER_RECIPIENT);
	char *blocked = path_join(f.root, "bob@example.com");
	int fd = open(blocked, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(deliver_open(&f.d, &one_env, err, sizeof(err)), DELIVER_FAILED);
	free(blocked);
	md_teardown(&f);
}
END_TEST

/*
 * The blackhole backend
 */

START_TEST(test_blackhole)
{
	static const struct envelope env = {
		.session_id = "S0123abcd",
		.msgnum = 3,
		.sender = "a@b.example",
		.rcpts = one_rcpt,
		.nrcpts = 1,
	};
	struct config cfg;
	struct deliver d;
	char err[DELIVER_ERR_MAX] = "";
	char id[DELIVER_ID_MAX] = "";
	char *tmp = tmpdir_make("check_deliver");

	config_defaults(&cfg);
	cfg.backend = BACKEND_BLACKHOLE;
	free(cfg.maildir);
	cfg.maildir = path_join(tmp, "Maildir");
	ck_assert_ptr_eq(deliver_ops_for(&cfg), &deliver_blackhole_ops);
	ck_assert_str_eq(deliver_ops_for(&cfg)->name, "blackhole");
	int fd = 0;
	ck_assert_int_eq(deliver_ops_for(&cfg)->prepare(&cfg, (uid_t)-1, (gid_t)-1, &fd, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(deliver_init(&d, &cfg, fd, err, sizeof(err)), 0);

	ck_assert_int_eq(deliver_open(&d, &env, err, sizeof(err)), 0);
	deliver_write(&d, "Subject: x\r\n\r\nbody\r\n", 20);
	ck_assert_int_eq(deliver_commit(&d, id, sizeof(id), err, sizeof(err)), 0);
	ck_assert_str_eq(id, "S0123abcd.3");

	/* Aborted messages and commits without open behave as for maildir. */
	ck_assert_int_eq(deliver_open(&d, &one_env, err, sizeof(err)), 0);
	deliver_abort(&d);
	ck_assert_int_eq(deliver_commit(&d, id, sizeof(id), err, sizeof(err)), -1);
	ck_assert_int_eq(deliver_open(&d, &one_env, err, sizeof(err)), 0);
	ck_assert_int_eq(deliver_commit(&d, id, sizeof(id), err, sizeof(err)), 0);
	ck_assert_str_eq(id, "Sabc.1");

	deliver_fini(&d);
	/* Nothing was written anywhere, not even the configured maildir. */
	ck_assert_int_eq(dir_entries(tmp, NULL, 0), 0);
	config_free(&cfg);
	tmpdir_remove(tmp);
}
END_TEST

/*
 * trace_date and trace_headers
 */

static const struct date_case {
	long long t;
	const char *want;
} date_cases[] = {
	{ 0, "Thu, 01 Jan 1970 00:00:00 +0000" },
	{ 1795270303LL, "Sat, 21 Nov 2026 14:11:43 +0000" },
	{ 951782400LL, "Tue, 29 Feb 2000 00:00:00 +0000" },
	{ 1700000000LL, "Tue, 14 Nov 2023 22:13:20 +0000" },
	{ 2147483647LL, "Tue, 19 Jan 2038 03:14:07 +0000" },
	{ 4102444799LL, "Thu, 31 Dec 2099 23:59:59 +0000" },
};

START_TEST(test_trace_date)
{
	const struct date_case *dc = &date_cases[_i];
	char out[64];

	if (sizeof(time_t) < 8 && dc->t > 2147483647LL)
		return;
	memset(out, 'x', sizeof(out));
	trace_date(out, sizeof(out), (time_t)dc->t);
	ck_assert_str_eq(out, dc->want);
}
END_TEST

static const char *
trace_text(struct buf *b, const struct trace_info *ti)
{
	buf_init(b);
	trace_headers(b, ti);
	ck_assert_ptr_nonnull(b->data);
	ck_assert_uint_eq(strlen(b->data), b->len);
	return b->data;
}

START_TEST(test_trace_one_rcpt)
{
	static const struct trace_rcpt rcpts[] = {
		{ "bob@example.com", "NOTIFY=NEVER" },
	};
	const struct trace_info ti = {
		.hostname = "trap.example",
		.helo = "client.example",
		.peer_addr = "192.0.2.1",
		.protocol = "ESMTP",
		.id = "S1a2b.1",
		.sender = "alice@example.org",
		.mail_params = "SIZE=100 BODY=8BITMIME",
		.rcpts = rcpts,
		.nrcpts = 1,
		.date = 1795270303,
	};
	struct buf b;

	ck_assert_str_eq(trace_text(&b, &ti),
	    "Return-Path: <alice@example.org>\r\n"
	    "Received: from client.example ([192.0.2.1])\r\n"
	    "\tby trap.example (smtptrapd) with ESMTP id S1a2b.1\r\n"
	    "\tfor <bob@example.com>; Sat, 21 Nov 2026 14:11:43 +0000\r\n"
	    "X-Smtptrap-Mail-From: <alice@example.org> SIZE=100 BODY=8BITMIME\r\n"
	    "X-Smtptrap-Rcpt-To: <bob@example.com> NOTIFY=NEVER\r\n");
	buf_free(&b);
}
END_TEST

START_TEST(test_trace_two_rcpts)
{
	static const struct trace_rcpt rcpts[] = {
		{ "bob@example.com", "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.com" },
		{ "carol@example.com", "" },
	};
	const struct trace_info ti = {
		.hostname = "trap.example",
		.helo = "[192.0.2.7]",
		.peer_addr = "192.0.2.7",
		.protocol = "UTF8SMTP",
		.id = "S1a2b.2",
		.sender = "alice@example.org",
		.mail_params = "",
		.rcpts = rcpts,
		.nrcpts = 2,
		.date = 0,
	};
	struct buf b;

	ck_assert_str_eq(trace_text(&b, &ti),
	    "Return-Path: <alice@example.org>\r\n"
	    "Received: from [192.0.2.7] ([192.0.2.7])\r\n"
	    "\tby trap.example (smtptrapd) with UTF8SMTP id S1a2b.2;\r\n"
	    "\tThu, 01 Jan 1970 00:00:00 +0000\r\n"
	    "X-Smtptrap-Mail-From: <alice@example.org>\r\n"
	    "X-Smtptrap-Rcpt-To: <bob@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.com\r\n"
	    "X-Smtptrap-Rcpt-To: <carol@example.com>\r\n");
	buf_free(&b);
}
END_TEST

START_TEST(test_trace_null_sender_no_helo)
{
	static const struct trace_rcpt rcpts[] = {
		{ "postmaster@trap.example", "" },
	};
	const struct trace_info ti = {
		.hostname = "trap.example",
		.helo = NULL,
		.peer_addr = "198.51.100.9",
		.protocol = "SMTP",
		.id = "Sffff.12",
		.sender = "",
		.mail_params = "",
		.rcpts = rcpts,
		.nrcpts = 1,
		.date = 1700000000,
	};
	struct buf b;

	ck_assert_str_eq(trace_text(&b, &ti),
	    "Return-Path: <>\r\n"
	    "Received: from unknown ([198.51.100.9])\r\n"
	    "\tby trap.example (smtptrapd) with SMTP id Sffff.12\r\n"
	    "\tfor <postmaster@trap.example>; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
	    "X-Smtptrap-Mail-From: <>\r\n"
	    "X-Smtptrap-Rcpt-To: <postmaster@trap.example>\r\n");
	buf_free(&b);
}
END_TEST

/* The block is appended after whatever the buffer holds. */
START_TEST(test_trace_appends)
{
	static const struct trace_rcpt rcpts[] = { { "b@x", "" } };
	const struct trace_info ti = {
		.hostname = "h", .helo = "c", .peer_addr = "192.0.2.1",
		.protocol = "ESMTP", .id = "S.1", .sender = "a@x",
		.mail_params = "", .rcpts = rcpts, .nrcpts = 1, .date = 0,
	};
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "prefix\r\n");
	trace_headers(&b, &ti);
	ck_assert_str_eq(b.data,
	    "prefix\r\n"
	    "Return-Path: <a@x>\r\n"
	    "Received: from c ([192.0.2.1])\r\n"
	    "\tby h (smtptrapd) with ESMTP id S.1\r\n"
	    "\tfor <b@x>; Thu, 01 Jan 1970 00:00:00 +0000\r\n"
	    "X-Smtptrap-Mail-From: <a@x>\r\n"
	    "X-Smtptrap-Rcpt-To: <b@x>\r\n");
	buf_free(&b);
}
END_TEST

static Suite *
deliver_suite(void)
{
	Suite *s = suite_create("deliver");
	TCase *tc;

	tc = tcase_create("names");
	tcase_add_test(tc, test_name_exact);
	tcase_add_test(tc, test_name_escapes);
	tcase_add_test(tc, test_name_too_small);
	tcase_add_test(tc, test_name_unique);
	tcase_add_loop_test(tc, test_rcpt_dir_table, 0, (int)NELEM(rcpt_cases));
	tcase_add_test(tc, test_rcpt_dir_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("maildir");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_maildir_prepare);
	tcase_add_test(tc, test_maildir_commit);
	tcase_add_test(tc, test_maildir_host_escaped);
	tcase_add_test(tc, test_maildir_abort);
	tcase_add_test(tc, test_maildir_fini_aborts);
	tcase_add_test(tc, test_maildir_large);
	tcase_add_test(tc, test_maildir_per_recipient);
	tcase_add_test(tc, test_maildir_prepare_fails);
	tcase_add_test(tc, test_maildir_through_dirfd);
	suite_add_tcase(s, tc);

	tc = tcase_create("status");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_status_of_errno, 0, (int)NELEM(status_cases));
	tcase_add_test(tc, test_status_names);
	tcase_add_test(tc, test_maildir_file_size_limit_is_nospace);
	tcase_add_test(tc, test_maildir_other_failures_are_failed);
	suite_add_tcase(s, tc);

	tc = tcase_create("blackhole");
	tcase_add_test(tc, test_blackhole);
	suite_add_tcase(s, tc);

	tc = tcase_create("trace");
	tcase_add_loop_test(tc, test_trace_date, 0, (int)NELEM(date_cases));
	tcase_add_test(tc, test_trace_one_rcpt);
	tcase_add_test(tc, test_trace_two_rcpts);
	tcase_add_test(tc, test_trace_null_sender_no_helo);
	tcase_add_test(tc, test_trace_appends);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(deliver_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
