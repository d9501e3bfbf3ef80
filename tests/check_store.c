/*
 * check_store - unit tests for store.c, the LMDB environment the master
 * and the workers share:
 *
 *  - durability: the file's mode and its lock file, store_sync(),
 *    store_check_readers(), and records that survive closing and
 *    reopening;
 *  - the API: store_get() of a record of another size, store_del() and
 *    store_count(), store_foreach() deleting records in place over many
 *    pages, STORE_STOP, and deleting in a read transaction;
 *  - a full store (MDB_MAP_FULL) through greylist_check() and inside one
 *    write transaction, a damaged file, a missing directory, and
 *    greylist_check() without a store;
 *  - processes: 20 children with their own handles on distinct triplets
 *    and on one triplet, losing no record and no update.
 *
 * Time comes from tests/fake_clock.c, so nothing sleeps; the children
 * start together when the parent closes a pipe. Each test gets its own
 * directory under one /tmp directory per test case, which the unchecked
 * teardown removes even when a test failed (tests/store_fixture.c).
 */
#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake_clock.h"
#include "greylist.h"
#include "store.h"
#include "store_fixture.h"

#define SMALL_MAP (64 * 1024)
#define NCHILDREN 20
#define PER_CHILD 50
#define SAME_PER_CHILD 200   /* calls per child on one triplet */

/*
 * Durability
 */

START_TEST(test_store_reopen)
{
	struct gl_triplet t;
	struct stat sb;
	char lock[300];

	ck_assert_int_eq(stat(dbpath, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	snprintf(lock, sizeof(lock), "%s-lock", dbpath);
	ck_assert_int_eq(access(lock, F_OK), 0);
	ck_assert_int_eq(expect(A1, "A+x@Example.org", "R@Example.com", GL_DEFER), 300);
	fake_clock_advance(100);
	ck_assert_int_eq(expect(A1, S1, R1, GL_DEFER), 200);
	fake_clock_advance(201);
	ck_assert_int_eq(expect(A1, S1, R1, GL_PASS_DELAYED), 301);
	ck_assert_int_eq(store_sync(g_st), 0);
	ck_assert_int_ge(store_check_readers(g_st), 0);
	store_close(g_st);
	store_close(NULL);

	g_st = open_at(dbpath, MAP_SIZE);
	expect(A1, S1, R1, GL_PASS);
	ck_assert_int_eq(get_triplet(NET1, S1, R1, &t), 1);
	ck_assert_int_eq(t.first, T0);
	ck_assert_int_eq(t.passed, T0 + 301);
	ck_assert_uint_eq(t.attempts, 4);
	ck_assert_uint_eq(t.passes, 2);
}
END_TEST

/*
 * The API
 */

START_TEST(test_store_get_sizes)
{
	struct store_txn *t;
	uint32_t v4 = 0x01020304, out4 = 0;
	uint64_t out8 = 0;

	ck_assert_int_eq(store_begin(g_st, 1, &t), 0);
	ck_assert_int_eq(store_put(t, STORE_CLIENTS, "k", 1, &v4, sizeof(v4)), 0);
	ck_assert_int_eq(store_get(t, STORE_CLIENTS, "k", 1, &out8, sizeof(out8)), 0);
	ck_assert_int_eq(store_get(t, STORE_CLIENTS, "k", 1, &out4, sizeof(out4)), 1);
	ck_assert_uint_eq(out4, v4);
	ck_assert_int_eq(store_get(t, STORE_TRIPLETS, "k", 1, &out4, sizeof(out4)), 0);
	ck_assert_int_eq(store_del(t, STORE_TRIPLETS, "k", 1), 0);
	ck_assert_int_eq(store_del(t, STORE_CLIENTS, "k", 1), 1);
	ck_assert_int_eq(store_count(t, STORE_CLIENTS), 0);
	ck_assert_int_eq(store_commit(t), 0);
}
END_TEST

/* store_foreach visitor: delete when bit (index % mod) of mask is set; check the order. */
struct walk {
	int mod, seen, stop_at;
	unsigned mask;
	char last[16];
};

static int
walk_visit(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct walk *w = arg;
	char k[16];
	int idx;

	ck_assert_uint_lt(klen, sizeof(k));
	memcpy(k, key, klen);
	k[klen] = '\0';
	ck_assert_msg(strcmp(k, w->last) > 0, "%s after %s", k, w->last);
	strcpy(w->last, k);
	ck_assert_uint_eq(vlen, 200);
	ck_assert_int_eq(((const char *)val)[199], k[5]);
	if (++w->seen == w->stop_at)
		return STORE_STOP;
	idx = atoi(k + 1);
	return w->mod && (w->mask & (1u << (idx % w->mod))) ? STORE_DELETE : STORE_KEEP;
}

static long
walk(int write, int mod, unsigned mask, int stop_at, int *seen)
{
	struct walk w = { mod, 0, stop_at, mask, "" };
	struct store_txn *t;
	long n;

	ck_assert_int_eq(store_begin(g_st, write, &t), 0);
	n = store_foreach(t, STORE_TRIPLETS, walk_visit, &w);
	if (write)
		ck_assert_int_eq(store_commit(t), 0);
	else
		store_abort(t);
	*seen = w.seen;
	return n;
}

/* 2000 records of 200 octets span many pages, so deleting runs of them merges pages. */
START_TEST(test_foreach_delete)
{
	struct store_txn *t;
	char key[16], val[200];
	int i, seen;

	ck_assert_int_eq(store_begin(g_st, 1, &t), 0);
	for (i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "k%05d", i);
		memset(val, key[5], sizeof(val));
		ck_assert_int_eq(store_put(t, STORE_TRIPLETS, key, 6, val, sizeof(val)), 0);
	}
	ck_assert_int_eq(store_commit(t), 0);

	/* A read transaction cannot delete; STORE_STOP ends the walk. */
	ck_assert_int_eq(walk(0, 1, 1, 0, &seen), -1);
	ck_assert_str_ne(store_strerror(g_st), "");
	ck_assert_int_eq(walk(1, 1, 1, 10, &seen), 9);
	ck_assert_int_eq(seen, 10);
	ck_assert_int_eq(count_db(STORE_TRIPLETS), 1991);
	/* Every other record (the even ones), then runs of three: keep idx % 8 == 7. */
	ck_assert_int_eq(walk(1, 2, 1, 0, &seen), 995);
	ck_assert_int_eq(seen, 1991);
	ck_assert_int_eq(walk(1, 8, 0x7f, 0, &seen), 747);
	ck_assert_int_eq(seen, 996);
	for (i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "k%05d", i);
		ck_assert_int_eq(get_rec(STORE_TRIPLETS, key, 6, val, sizeof(val)),
		    i % 8 == 7 && i >= 9);
	}
	/* All of them. */
	ck_assert_int_eq(walk(1, 1, 1, 0, &seen), 249);
	ck_assert_int_eq(seen, 249);
	ck_assert_int_eq(count_db(STORE_TRIPLETS), 0);
	ck_assert_int_eq(walk(1, 1, 1, 0, &seen), 0);
	ck_assert_int_eq(seen, 0);
}
END_TEST

/*
 * Full and damaged stores
 */

START_TEST(test_full_store)
{
	struct gl_result res;
	struct gl_triplet t;
	struct listed l;
	unsigned char a[16];
	char rcpt[64];
	int n;

	store_close(g_st);
	snprintf(dbpath, sizeof(dbpath), "%s/small.db", testdir);
	g_st = open_at(dbpath, SMALL_MAP);
	addr_of(A1, a);
	for (n = 0; n < 100000; n++) {
		snprintf(rcpt, sizeof(rcpt), "user%d@example.com", n);
		greylist_check(g_st, &g_gc, a, S1, rcpt, &res);
		if (res.verdict != GL_DEFER)
			break;
	}
	ck_assert_int_eq(res.verdict, GL_ERROR);
	ck_assert_msg(strstr(res.error, "MDB_MAP_FULL") != NULL, "error: %s", res.error);
	ck_assert_int_gt(n, 10);
	/* What was committed before is intact and readable. */
	ck_assert_int_eq(count_db(STORE_TRIPLETS), n);
	for (int i = 0; i < n; i++) {
		snprintf(rcpt, sizeof(rcpt), "user%d@example.com", i);
		ck_assert_int_eq(get_triplet(NET1, S1, rcpt, &t), 1);
		ck_assert_uint_eq(t.attempts, 1);
	}
	ck_assert_int_eq(list_all(&l, 8), 8);
	/* Writing may work again once older pages are free: it must not crash. */
	greylist_check(g_st, &g_gc, a, S1, "one-more@example.com", &res);
	ck_assert(res.verdict == GL_ERROR || res.verdict == GL_DEFER);
}
END_TEST

/* After a failed call inside a write transaction, later calls fail cleanly and so does commit. */
START_TEST(test_full_txn)
{
	struct store_txn *t;
	char key[16], val[1000];
	int i, rc = 0;

	store_close(g_st);
	snprintf(dbpath, sizeof(dbpath), "%s/small.db", testdir);
	g_st = open_at(dbpath, SMALL_MAP);
	memset(val, 'v', sizeof(val));
	ck_assert_int_eq(store_begin(g_st, 1, &t), 0);
	for (i = 0; i < 1000 && rc == 0; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		rc = store_put(t, STORE_TRIPLETS, key, strlen(key), val, sizeof(val));
	}
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(strstr(store_strerror(g_st), "MDB_MAP_FULL"), "%s", store_strerror(g_st));
	ck_assert_int_eq(store_put(t, STORE_TRIPLETS, "x", 1, val, 10), -1);
	ck_assert_int_eq(store_get(t, STORE_TRIPLETS, "k0", 2, val, sizeof(val)), -1);
	ck_assert_int_eq(store_commit(t), -1);
	ck_assert_str_ne(store_strerror(g_st), "");
	ck_assert_int_eq(count_db(STORE_TRIPLETS), 0);
}
END_TEST

START_TEST(test_corrupt_store)
{
	char err[256], junk[65536], path[300];
	int fd;

	snprintf(path, sizeof(path), "%s/junk.db", testdir);
	memset(junk, 'x', sizeof(junk));
	ck_assert_int_ge(fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
	ck_assert_int_eq(write(fd, junk, sizeof(junk)), (long)sizeof(junk));
	close(fd);
	ck_assert_ptr_null(store_open(path, MAP_SIZE, 0, err, sizeof(err)));
	ck_assert_msg(strstr(err, path) == err && strstr(err, ": MDB_INVALID: "), "%s", err);
	greylist_conf_free(&g_gc);
	conf_with_lists(&g_gc);
	check_as(NULL, A1, "a@y.net", "r@y.net", GL_ERROR);
	check_as(NULL, "203.0.113.1", "a@y.net", "r@y.net", GL_PASS_WHITELISTED);

	snprintf(path, sizeof(path), "%s/missing/greylist.db", testdir);
	ck_assert_ptr_null(store_open(path, MAP_SIZE, 1, err, sizeof(err)));
	ck_assert_msg(strstr(err, path) == err && strstr(err, "No such file"), "%s", err);
	ck_assert_ptr_null(store_open(testdir, MAP_SIZE, 1, err, sizeof(err)));
	ck_assert_msg(strncmp(err, testdir, strlen(testdir)) == 0, "%s", err);
}
END_TEST

/*
 * Processes
 */

/* Children wait on gate[0] until the parent closes gate[1], then all start at once. */
static void
run_children(int (*body)(int, void *), void *arg)
{
	pid_t pids[NCHILDREN];
	int gate[2], status;
	char c;

	ck_assert_int_eq(pipe(gate), 0);
	for (int i = 0; i < NCHILDREN; i++) {
		ck_assert_int_ge(pids[i] = fork(), 0);
		if (pids[i] == 0) {
			close(gate[1]);
			_exit(read(gate[0], &c, 1) != 0 ? 99 : body(i, arg));
		}
	}
	close(gate[0]);
	close(gate[1]);
	for (int i = 0; i < NCHILDREN; i++) {
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "child %d ended with status 0x%x", i, status);
	}
}

/*
 * In a child: its own handle (the parent's is never touched), no Check
 * assertions; the exit status says what went wrong.
 */
static int
child_distinct(int id, void *arg)
{
	struct gl_result res;
	unsigned char a[16];
	char err[256], rcpt[64];
	struct store *st;
	int rc = 0;

	(void)arg;
	if ((st = store_open(dbpath, MAP_SIZE, 0, err, sizeof(err))) == NULL)
		return 10;
	addr_of("2001:db8::", a);
	a[7] = (unsigned char)id;
	for (int i = 0; i < PER_CHILD && rc == 0; i++) {
		snprintf(rcpt, sizeof(rcpt), "r%d@example.com", i);
		greylist_check(st, &g_gc, a, "s@example.org", rcpt, &res);
		if (res.verdict != GL_DEFER || res.left != 300)
			rc = 11;
	}
	store_close(st);
	return rc;
}

START_TEST(test_concurrent_distinct)
{
	struct gl_triplet t;
	unsigned char a[16];
	char client[64], rcpt[64];

	run_children(child_distinct, NULL);
	ck_assert_int_eq(count_db(STORE_TRIPLETS), NCHILDREN * PER_CHILD);
	for (int id = 0; id < NCHILDREN; id++) {
		addr_of("2001:db8::", a);
		a[7] = (unsigned char)id;
		greylist_client_key(&g_gc, a, client, sizeof(client));
		for (int i = 0; i < PER_CHILD; i++) {
			snprintf(rcpt, sizeof(rcpt), "r%d@example.com", i);
			ck_assert_int_eq(get_triplet(client, "s@example.org", rcpt, &t), 1);
			ck_assert_uint_eq(t.attempts, 1);
		}
	}
}
END_TEST

/* Verdicts counted in memory shared with the parent, by enum gl_verdict. */
static int
child_same(int id, void *arg)
{
	unsigned *counts = arg;
	struct gl_result res;
	unsigned char a[16];
	char err[256];
	struct store *st;

	(void)id;
	if ((st = store_open(dbpath, MAP_SIZE, 0, err, sizeof(err))) == NULL)
		return 10;
	addr_of(A1, a);
	for (int i = 0; i < SAME_PER_CHILD; i++) {
		greylist_check(st, &g_gc, a, S1, R1, &res);
		__atomic_fetch_add(&counts[res.verdict], 1, __ATOMIC_SEQ_CST);
	}
	store_close(st);
	return 0;
}

START_TEST(test_concurrent_same)
{
	struct gl_triplet t;
	unsigned *counts;

	counts = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(counts != MAP_FAILED);
	expect(A1, S1, R1, GL_DEFER);
	fake_clock_advance(300);
	run_children(child_same, counts);
	/* Exactly one call saw the first pass; nothing was lost. */
	ck_assert_uint_eq(counts[GL_PASS_DELAYED], 1);
	ck_assert_uint_eq(counts[GL_PASS], NCHILDREN * SAME_PER_CHILD - 1);
	ck_assert_int_eq(get_triplet(NET1, S1, R1, &t), 1);
	ck_assert_uint_eq(t.attempts, NCHILDREN * SAME_PER_CHILD + 1);
	ck_assert_uint_eq(t.passes, NCHILDREN * SAME_PER_CHILD);
	ck_assert_int_eq(client_passes(NET1), 1);
	munmap(counts, 4096);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc;

	tc = tcase_create("store");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, top_setup, top_teardown);
	tcase_add_checked_fixture(tc, store_setup, store_teardown);
	tcase_add_test(tc, test_store_reopen);
	tcase_add_test(tc, test_store_get_sizes);
	tcase_add_test(tc, test_foreach_delete);
	tcase_add_test(tc, test_full_store);
	tcase_add_test(tc, test_full_txn);
	tcase_add_test(tc, test_corrupt_store);
	suite_add_tcase(s, tc);

	tc = tcase_create("processes");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, top_setup, top_teardown);
	tcase_add_checked_fixture(tc, store_setup, store_teardown);
	tcase_add_test(tc, test_concurrent_distinct);
	tcase_add_test(tc, test_concurrent_same);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(store_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
