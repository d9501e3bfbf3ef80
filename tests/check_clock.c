/*
 * check_clock - unit tests for clock.c, the daemon's clock:
 *
 *  - without clock_init() the offset is 0 and clock_now() is the wall
 *    clock; an offset set then is kept when clock_init() shares it;
 *  - after clock_init() an offset set in one process is seen by a child
 *    forked before the change, and one set by the child by the parent;
 *  - clock_now() is the wall clock plus the offset, negative too.
 *
 * The wall clock is read around each clock_now() call, so the checks hold
 * whatever second the test runs in; nothing sleeps.
 */
#include <check.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

/* clock_now() minus the offset lies within the wall clock read around it. */
static void
assert_now_with(long long offset)
{
	time_t before = time(NULL);
	time_t now = clock_now();
	time_t after = time(NULL);

	ck_assert_int_ge((long long)now, (long long)before + offset);
	ck_assert_int_le((long long)now, (long long)after + offset);
}

START_TEST(test_offset_local_then_shared)
{
	ck_assert_int_eq(clock_offset(), 0);
	assert_now_with(0);
	clock_set_offset(42);
	ck_assert_int_eq(clock_offset(), 42);
	assert_now_with(42);
	ck_assert_int_eq(clock_init(), 0);
	ck_assert_int_eq(clock_offset(), 42);
	ck_assert_int_eq(clock_init(), 0); /* twice is harmless */
	ck_assert_int_eq(clock_offset(), 42);
	clock_set_offset(-3600);
	assert_now_with(-3600);
}
END_TEST

START_TEST(test_shared_across_fork)
{
	int to_child[2], to_parent[2];
	char c;
	pid_t pid;
	int status;

	ck_assert_int_eq(clock_init(), 0);
	clock_set_offset(0);
	ck_assert_int_eq(pipe(to_child), 0);
	ck_assert_int_eq(pipe(to_parent), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* Wait for the parent's change, check it, answer with ours. */
		if (read(to_child[0], &c, 1) != 1)
			_exit(2);
		if (clock_offset() != 301)
			_exit(3);
		clock_set_offset(86400);
		if (write(to_parent[1], "y", 1) != 1)
			_exit(4);
		_exit(0);
	}
	clock_set_offset(301);
	ck_assert_int_eq(write(to_child[1], "x", 1), 1);
	ck_assert_int_eq(read(to_parent[0], &c, 1), 1);
	ck_assert_int_eq(clock_offset(), 86400);
	assert_now_with(86400);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);
}
END_TEST

static Suite *
clock_suite(void)
{
	Suite *s = suite_create("clock");
	TCase *tc = tcase_create("clock");

	/* One process for the whole suite: the first test sees a fresh clock. */
	tcase_add_test(tc, test_offset_local_then_shared);
	tcase_add_test(tc, test_shared_across_fork);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(clock_suite());
	int failures;

	/* Each test in its own fork would hide the "before clock_init" state. */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
