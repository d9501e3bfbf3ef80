/*
 * check_maildir_sweep - unit tests for removing what dead writers left in
 * a maildir's tmp/: reading the writer out of a name (maildir_name_writer),
 * the rule (maildir_leftover, with liveness and time injected), one tmp/
 * directory swept (maildir_sweep_dir: only regular files, never through a
 * link), and the backend's recover hook on both layouts, including the
 * file of a writer really killed with SIGKILL mid-message.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "deliver.h"
#include "maildir_sweep.h"
#include "tmpdir.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The test's "now" and the one process it calls alive. */
#define NOW ((time_t)1700000000)
#define LIVE_PID 4242
#define HOUR 3600LL

static int
fake_alive(long pid)
{
	return pid == LIVE_PID;
}

/*
 * Helpers
 */

/* A file name as a writer pid on host would make it. */
static void
name_of(char *out, size_t outlen, long pid, const char *host)
{
	ck_assert_int_gt(maildir_name(out, outlen, 1700000000LL, 123456, pid, 7, 0xabcdef01u, host), 0);
}

/* Create the regular file dir/name, modified age seconds before NOW. */
static void
touch_at(int dirfd, const char *name, long long age)
{
	struct timespec ts[2];
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL, 0644);

	ck_assert_msg(fd >= 0, "create %s: %s", name, strerror(errno));
	ck_assert_int_eq(write(fd, "partial", 7), 7);
	close(fd);
	ts[0].tv_sec = ts[1].tv_sec = NOW - (time_t)age;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	ck_assert_int_eq(utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static int
exists_at(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Entries of dir other than "." and "..". */
static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_msg(d != NULL, "opendir %s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* The pid of a process that existed and is gone (reaped). */
static pid_t
dead_pid(void)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return pid;
}

/*
 * maildir_name_writer
 */

START_TEST(test_writer_of_own_names)
{
	char name[256], host[MAILDIR_HOST_MAX];
	long pid = 0;

	maildir_host_part(host, "mx.test");
	ck_assert_str_eq(host, "mx.test");
	name_of(name, sizeof(name), 31337, "mx.test");
	ck_assert_int_eq(maildir_name_writer(name, host, &pid), 1);
	ck_assert_int_eq(pid, 31337);

	/* The host part is compared as maildir_name() escaped it. */
	maildir_host_part(host, "odd/host:name");
	ck_assert_str_eq(host, "odd\\057host\\072name");
	name_of(name, sizeof(name), 99, "odd/host:name");
	ck_assert_int_eq(maildir_name_writer(name, host, &pid), 1);
	ck_assert_int_eq(pid, 99);

	/* A long host name is cut the same way on both sides. */
	char longhost[300];
	memset(longhost, 'h', sizeof(longhost) - 1);
	longhost[sizeof(longhost) - 1] = '\0';
	maildir_host_part(host, longhost);
	ck_assert_uint_lt(strlen(host), MAILDIR_HOST_MAX);
	name_of(name, sizeof(name), 5, longhost);
	ck_assert_int_eq(maildir_name_writer(name, host, &pid), 1);
	ck_assert_int_eq(pid, 5);
}
END_TEST

static const char *const foreign_names[] = {
	"",
	"1700000000.M123456P4242Q7Rabcdef01.other.test",   /* another host */
	"1700000000.M123456P4242Q7Rabcdef01.mx.test2",     /* a longer one */
	"1700000000.M123456P4242Q7Rabcdef01.mx",           /* a shorter one */
	"1700000000.M123456P4242Q7Rabcdef01",              /* no host */
	"1700000000.M123456P0Q7Rabcdef01.mx.test",         /* pid 0 */
	"1700000000.M123456P1234567890Q7Rabcdef01.mx.test", /* pid too long */
	"1700000000.M123456PQ7Rabcdef01.mx.test",          /* no pid */
	"1700000000.M123456P42x2Q7Rabcdef01.mx.test",
	"1700000000.P4242Q7Rabcdef01.mx.test",             /* no M part */
	"1700000000.M123456P4242Rabcdef01.mx.test",        /* no Q part */
	"1700000000.M123456P4242Q7R.mx.test",              /* empty R part */
	"1700000000.M123456P4242Q7Rxyz.mx.test",
	"x1700000000.M123456P4242Q7Rabcdef01.mx.test",
	"1700000000.4242_1.mx.test",                        /* qmail's old style */
	"dovecot-uidlist.lock",
};

START_TEST(test_writer_of_other_names)
{
	long pid = -7;

	ck_assert_msg(maildir_name_writer(foreign_names[_i], "mx.test", &pid) == 0, "%s",
	    foreign_names[_i]);
	ck_assert_int_eq(pid, -7);
}
END_TEST

/*
 * maildir_leftover: the rule
 */

static const struct {
	const char *what;
	long writer;             /* 0: a foreign name */
	long long age;
	pid_t pid;               /* 0: the start sweep; else a dead worker */
	int remove;
} rule_cases[] = {
	{ "ours, writer gone", 100, 10, 0, 1 },
	{ "ours, writer gone, brand new", 100, 0, 0, 1 },
	{ "ours, writer alive", LIVE_PID, 10, 0, 0 },
	{ "ours, writer alive, 35 hours", LIVE_PID, 35 * HOUR, 0, 0 },
	{ "ours, writer alive, 36 hours", LIVE_PID, 36 * HOUR, 0, 1 },
	{ "foreign, young", 0, 10, 0, 0 },
	{ "foreign, modified in the future", 0, -HOUR, 0, 0 },
	{ "foreign, 36 hours less a second", 0, 36 * HOUR - 1, 0, 0 },
	{ "foreign, 36 hours", 0, 36 * HOUR, 0, 1 },
	{ "foreign, a week", 0, 7 * 24 * HOUR, 0, 1 },
	{ "dead worker's own file", 100, 10, 100, 1 },
	{ "another worker's file", 101, 10, 100, 0 },
	{ "a live worker's file", LIVE_PID, 10, 100, 0 },
	{ "foreign, dead worker's pid", 0, 10, 100, 0 },
	{ "foreign, old, after a worker died", 0, 7 * 24 * HOUR, 100, 0 },
	{ "ours, old, other pid, after a worker died", 101, 7 * 24 * HOUR, 100, 0 },
};

START_TEST(test_leftover_rule)
{
	char name[256];

	if (rule_cases[_i].writer == 0)
		name_of(name, sizeof(name), 100, "elsewhere.test");
	else
		name_of(name, sizeof(name), rule_cases[_i].writer, "mx.test");
	ck_assert_msg(maildir_leftover(name, rule_cases[_i].age, "mx.test", rule_cases[_i].pid,
	    fake_alive) == rule_cases[_i].remove, "%s (%s)", rule_cases[_i].what, name);
}
END_TEST

START_TEST(test_pid_alive)
{
	ck_assert_int_eq(maildir_pid_alive((long)getpid()), 1);
	ck_assert_int_eq(maildir_pid_alive(1), 1); /* init: another user's counts too */
	ck_assert_int_eq(maildir_pid_alive((long)dead_pid()), 0);
}
END_TEST

/*
 * maildir_sweep_dir: one tmp/ directory
 */

START_TEST(test_sweep_dir_only_regular_files)
{
	char *dir = tmpdir_make("check_sweep");
	char *outside;
	char dead[256], live[256], young[256], old[256], link[256], sub[256], fifo[256];
	char err[DELIVER_ERR_MAX] = "";
	struct deliver_leftovers lo = { 0, 0, 0 };
	int fd;

	ck_assert_int_gt(asprintf(&outside, "%s.target", dir), 0);
	fd = open(outside, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	int tmpfd = open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(tmpfd, 0);

	name_of(dead, sizeof(dead), 100, "mx.test");
	name_of(live, sizeof(live), LIVE_PID, "mx.test");
	name_of(young, sizeof(young), 100, "elsewhere.test");
	name_of(old, sizeof(old), 101, "elsewhere.test");
	ck_assert_int_gt(maildir_name(link, sizeof(link), 1, 1, 102, 1, 1, "mx.test"), 0);
	ck_assert_int_gt(maildir_name(sub, sizeof(sub), 1, 1, 103, 1, 1, "mx.test"), 0);
	ck_assert_int_gt(maildir_name(fifo, sizeof(fifo), 1, 1, 104, 1, 1, "mx.test"), 0);
	touch_at(tmpfd, dead, 60);
	touch_at(tmpfd, live, 60);
	touch_at(tmpfd, young, HOUR);
	touch_at(tmpfd, old, 40 * HOUR);
	/* Named like a dead writer's files, but not regular files: they stay. */
	ck_assert_int_eq(symlinkat(outside, tmpfd, link), 0);
	ck_assert_int_eq(mkdirat(tmpfd, sub, 0755), 0);
	ck_assert_int_eq(mkfifoat(tmpfd, fifo, 0644), 0);

	ck_assert_msg(maildir_sweep_dir(tmpfd, dir, "mx.test", 0, NOW, fake_alive, &lo, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(lo.removed, 2);
	ck_assert_uint_eq(lo.kept, 2);
	ck_assert_uint_eq(lo.failed, 0);
	ck_assert(!exists_at(tmpfd, dead));
	ck_assert(!exists_at(tmpfd, old));
	ck_assert(exists_at(tmpfd, live));
	ck_assert(exists_at(tmpfd, young));
	ck_assert(exists_at(tmpfd, link));
	ck_assert(exists_at(tmpfd, sub));
	ck_assert(exists_at(tmpfd, fifo));
	ck_assert_int_eq(access(outside, F_OK), 0);

	/* Once more: nothing left to remove; counts add up. */
	ck_assert_int_eq(maildir_sweep_dir(tmpfd, dir, "mx.test", 0, NOW, fake_alive, &lo, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(lo.removed, 2);
	ck_assert_uint_eq(lo.kept, 4);

	/* The live writer dies: its file goes when asked for its pid. */
	struct deliver_leftovers lo2 = { 0, 0, 0 };
	ck_assert_int_eq(maildir_sweep_dir(tmpfd, dir, "mx.test", LIVE_PID, NOW, fake_alive, &lo2,
	    err, sizeof(err)), 0);
	ck_assert_uint_eq(lo2.removed, 1);
	ck_assert_uint_eq(lo2.kept, 0);
	ck_assert(!exists_at(tmpfd, live));
	ck_assert(exists_at(tmpfd, young));

	close(tmpfd);
	unlink(outside);
	free(outside);
	tmpdir_remove(dir);
}
END_TEST

START_TEST(test_sweep_dir_unreadable)
{
	char err[DELIVER_ERR_MAX] = "";
	struct deliver_leftovers lo = { 0, 0, 0 };
	int fd = open("/dev/null", O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(maildir_sweep_dir(fd, "/dev/null", "mx.test", 0, NOW, fake_alive, &lo, err,
	    sizeof(err)), -1);
	ck_assert_uint_eq(lo.failed, 1);
	ck_assert_msg(strstr(err, "/dev/null") != NULL, "%s", err);
	close(fd);
}
END_TEST

/*
 * The recover hook of the maildir backend, on a real capture directory
 */

struct sweep_fixture {
	char *tmp;
	char *root;
	struct config cfg;
	int dirfd;
};

static void
sweep_setup(struct sweep_fixture *f, int layout)
{
	char err[DELIVER_ERR_MAX] = "";

	memset(f, 0, sizeof(*f));
	f->tmp = tmpdir_make("check_sweep");
	ck_assert_int_gt(asprintf(&f->root, "%s/Maildir", f->tmp), 0);
	config_defaults(&f->cfg);
	free(f->cfg.maildir);
	f->cfg.maildir = strdup(f->root);
	free(f->cfg.hostname);
	f->cfg.hostname = strdup("mx.test");
	f->cfg.fsync = 0;
	f->cfg.layout = layout;
	f->cfg.backend = BACKEND_MAILDIR;
	ck_assert_msg(deliver_maildir_ops.prepare(&f->cfg, (uid_t)-1, (gid_t)-1, &f->dirfd, err,
	    sizeof(err)) == 0, "prepare: %s", err);
}

static void
sweep_teardown(struct sweep_fixture *f)
{
	close(f->dirfd);
	config_free(&f->cfg);
	free(f->root);
	tmpdir_remove(f->tmp);
}

/* Make rel/tmp, rel/new, rel/cur under the root (rel "." for the root). */
static void
make_maildir(struct sweep_fixture *f, const char *rel)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	char path[512];

	if (strcmp(rel, ".") != 0)
		ck_assert_int_eq(mkdirat(f->dirfd, rel, 0755), 0);
	for (size_t i = 0; i < NELEM(subs); i++) {
		snprintf(path, sizeof(path), "%s/%s", rel, subs[i]);
		ck_assert_int_eq(mkdirat(f->dirfd, path, 0755), 0);
	}
}

/* Create rel/tmp/<name of writer pid on host>, modified now. */
static void
leftover(struct sweep_fixture *f, const char *rel, long pid, const char *host)
{
	char name[256], path[512];
	int fd;

	name_of(name, sizeof(name), pid, host);
	snprintf(path, sizeof(path), "%s/tmp/%s", rel, name);
	fd = openat(f->dirfd, path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ck_assert_msg(fd >= 0, "create %s: %s", path, strerror(errno));
	close(fd);
}

static int
tmp_entries(struct sweep_fixture *f, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s/tmp", f->root, rel);
	return count_entries(path);
}

static struct deliver_leftovers
recover(struct sweep_fixture *f, pid_t pid)
{
	struct deliver_leftovers lo = { 0, 0, 0 };
	char err[DELIVER_ERR_MAX] = "";

	ck_assert_msg(deliver_maildir_ops.recover(&f->cfg, f->dirfd, pid, &lo, err, sizeof(err)) == 0,
	    "recover: %s", err);
	return lo;
}

START_TEST(test_recover_single_layout)
{
	struct sweep_fixture f;
	struct deliver_leftovers lo;
	long gone = (long)dead_pid();

	sweep_setup(&f, LAYOUT_SINGLE);
	leftover(&f, ".", gone, "mx.test");
	leftover(&f, ".", (long)getpid(), "mx.test");
	leftover(&f, ".", gone, "elsewhere.test");
	lo = recover(&f, 0);
	ck_assert_uint_eq(lo.removed, 1);
	ck_assert_uint_eq(lo.kept, 2);
	ck_assert_int_eq(tmp_entries(&f, "."), 2);

	/* This process "died": its file goes, the foreign one stays. */
	lo = recover(&f, getpid());
	ck_assert_uint_eq(lo.removed, 1);
	ck_assert_int_eq(tmp_entries(&f, "."), 1);
	sweep_teardown(&f);
}
END_TEST

START_TEST(test_recover_single_layout_tmp_is_a_link)
{
	struct sweep_fixture f;
	struct deliver_leftovers lo;
	char *elsewhere;

	/* tmp/ replaced by a link to another maildir's tmp/: not followed. */
	sweep_setup(&f, LAYOUT_SINGLE);
	ck_assert_int_gt(asprintf(&elsewhere, "%s/other", f.tmp), 0);
	ck_assert_int_eq(mkdir(elsewhere, 0755), 0);
	int other = open(elsewhere, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(other, 0);
	touch_at(other, "1.M1P1Q1R1.mx.test", 0);
	ck_assert_int_eq(unlinkat(f.dirfd, "tmp", AT_REMOVEDIR), 0);
	ck_assert_int_eq(symlinkat(elsewhere, f.dirfd, "tmp"), 0);
	lo = recover(&f, 0);
	ck_assert_uint_eq(lo.removed, 0);
	ck_assert(exists_at(other, "1.M1P1Q1R1.mx.test"));
	close(other);
	free(elsewhere);
	sweep_teardown(&f);
}
END_TEST

START_TEST(test_recover_per_recipient_layout)
{
	struct sweep_fixture f;
	struct deliver_leftovers lo;
	long gone = (long)dead_pid();
	char *target;

	sweep_setup(&f, LAYOUT_PER_RECIPIENT);
	make_maildir(&f, "bob@example.com");
	make_maildir(&f, "carol@example.com");
	make_maildir(&f, ".hidden");
	ck_assert_int_eq(mkdirat(f.dirfd, "not-a-maildir", 0755), 0);
	int fd = openat(f.dirfd, "a-file", O_WRONLY | O_CREAT | O_EXCL, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	/* A link to a maildir elsewhere is not swept through. */
	ck_assert_int_gt(asprintf(&target, "%s/bob@example.com", f.root), 0);
	ck_assert_int_eq(symlinkat(target, f.dirfd, "link@example.com"), 0);
	free(target);

	leftover(&f, "bob@example.com", gone, "mx.test");
	leftover(&f, "bob@example.com", (long)getpid(), "mx.test");
	leftover(&f, "carol@example.com", gone, "mx.test");
	leftover(&f, ".hidden", gone, "mx.test");
	lo = recover(&f, 0);
	ck_assert_uint_eq(lo.removed, 2);
	ck_assert_uint_eq(lo.kept, 1);
	ck_assert_int_eq(tmp_entries(&f, "bob@example.com"), 1);
	ck_assert_int_eq(tmp_entries(&f, "carol@example.com"), 0);
	ck_assert_int_eq(tmp_entries(&f, ".hidden"), 1);

	lo = recover(&f, getpid());
	ck_assert_uint_eq(lo.removed, 1);
	ck_assert_int_eq(tmp_entries(&f, "bob@example.com"), 0);
	sweep_teardown(&f);
}
END_TEST

/*
 * A writer killed mid-message (as a worker by SIGKILL) leaves its file in
 * tmp/; the sweep at the next start removes it, and only it.
 */
START_TEST(test_recover_after_sigkill)
{
	static const char *const rcpt[] = { "bob@example.com" };
	static const struct envelope env = {
		.session_id = "Skill", .msgnum = 1, .sender = "a@example.org",
		.rcpts = rcpt, .nrcpts = 1,
	};
	struct sweep_fixture f;
	struct deliver_leftovers lo;
	int pipefd[2], status;
	char c;

	sweep_setup(&f, LAYOUT_SINGLE);
	ck_assert_int_eq(pipe(pipefd), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct deliver d;
		char err[DELIVER_ERR_MAX];
		if (deliver_init(&d, &f.cfg, f.dirfd, err, sizeof(err)) != 0 ||
		    deliver_open(&d, &env, err, sizeof(err)) != DELIVER_OK)
			_exit(1);
		for (int i = 0; i < 100; i++)
			deliver_write(&d, "half a message, never finished\r\n", 32);
		if (write(pipefd[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	ck_assert_int_eq(read(pipefd[0], &c, 1), 1);
	close(pipefd[0]);
	ck_assert_int_eq(tmp_entries(&f, "."), 1);
	/* Alive: the sweep leaves its file alone. */
	lo = recover(&f, 0);
	ck_assert_uint_eq(lo.removed, 0);
	ck_assert_uint_eq(lo.kept, 1);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(tmp_entries(&f, "."), 1);
	lo = recover(&f, 0);
	ck_assert_uint_eq(lo.removed, 1);
	ck_assert_uint_eq(lo.kept, 0);
	ck_assert_int_eq(tmp_entries(&f, "."), 0);
	sweep_teardown(&f);
}
END_TEST

START_TEST(test_blackhole_has_nothing_to_recover)
{
	ck_assert_ptr_null(deliver_blackhole_ops.recover);
}
END_TEST

static Suite *
sweep_suite(void)
{
	Suite *s = suite_create("maildir_sweep");
	TCase *tc;

	tc = tcase_create("rule");
	tcase_add_test(tc, test_writer_of_own_names);
	tcase_add_loop_test(tc, test_writer_of_other_names, 0, (int)NELEM(foreign_names));
	tcase_add_loop_test(tc, test_leftover_rule, 0, (int)NELEM(rule_cases));
	tcase_add_test(tc, test_pid_alive);
	suite_add_tcase(s, tc);

	tc = tcase_create("sweep");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_sweep_dir_only_regular_files);
	tcase_add_test(tc, test_sweep_dir_unreadable);
	tcase_add_test(tc, test_recover_single_layout);
	tcase_add_test(tc, test_recover_single_layout_tmp_is_a_link);
	tcase_add_test(tc, test_recover_per_recipient_layout);
	tcase_add_test(tc, test_recover_after_sigkill);
	tcase_add_test(tc, test_blackhole_has_nothing_to_recover);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(sweep_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
