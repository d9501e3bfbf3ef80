/*
 * check_backoff - unit tests for backoff.c, the pauses after accept() at
 * the file descriptor limit and fork() at the process limit:
 *
 *  - a failure starts a pause of min_ms; each further failure in a row
 *    doubles it up to max_ms; a fixed pause when both are equal;
 *  - a success ends the run: the next failure pauses min_ms again, and
 *    backoff_ok() tells how many failures the run had;
 *  - the first failure is logged, then at most one per BACKOFF_LOG_MS,
 *    which carries the count of those left out;
 *  - the errno values that mean "out of resources" for accept().
 *
 * Time is passed in; nothing sleeps.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"

START_TEST(test_doubles_up_to_max)
{
	struct backoff b;
	unsigned long quiet = 99;
	const long long want[] = { 100, 200, 400, 800, 1000, 1000 };
	long long now = 5000;

	backoff_init(&b, 100, 1000);
	ck_assert(backoff_ready(&b, now));
	ck_assert_int_eq(backoff_wait_ms(&b, now, 50), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		backoff_fail(&b, now, &quiet);
		ck_assert_int_eq(b.delay_ms, want[i]);
		ck_assert(!backoff_ready(&b, now));
		ck_assert(!backoff_ready(&b, now + want[i] - 1));
		ck_assert(backoff_ready(&b, now + want[i]));
		ck_assert_int_eq(backoff_wait_ms(&b, now, 1 << 30), (int)want[i]);
		ck_assert_int_eq(backoff_wait_ms(&b, now, 30), 30);
		now += want[i];
	}
	ck_assert_uint_eq(backoff_ok(&b), 6);
	ck_assert(backoff_ready(&b, now));
	backoff_fail(&b, now, &quiet);
	ck_assert_int_eq(b.delay_ms, 100);
}
END_TEST

START_TEST(test_fixed_pause)
{
	struct backoff b;
	unsigned long quiet;

	backoff_init(&b, 100, 100);
	for (int i = 0; i < 5; i++) {
		backoff_fail(&b, 1000 + i * 100, &quiet);
		ck_assert_int_eq(b.delay_ms, 100);
	}
	/* max below min is taken as min */
	backoff_init(&b, 300, 10);
	backoff_fail(&b, 0, &quiet);
	backoff_fail(&b, 300, &quiet);
	ck_assert_int_eq(b.delay_ms, 300);
}
END_TEST

START_TEST(test_ok_without_failures)
{
	struct backoff b;

	backoff_init(&b, 100, 1000);
	ck_assert_uint_eq(backoff_ok(&b), 0);
	ck_assert(backoff_ready(&b, 0));
}
END_TEST

START_TEST(test_logging_is_rate_limited)
{
	struct backoff b;
	unsigned long quiet = 99;
	long long t0 = 20000;

	backoff_init(&b, 100, 100);
	ck_assert_int_eq(backoff_fail(&b, t0, &quiet), 1);
	ck_assert_uint_eq(quiet, 0);
	/* 99 more within the window: quiet */
	for (int i = 1; i < 100; i++)
		ck_assert_int_eq(backoff_fail(&b, t0 + i * 100 % BACKOFF_LOG_MS, &quiet), 0);
	/* a success in between does not reopen the flood gate */
	backoff_ok(&b);
	ck_assert_int_eq(backoff_fail(&b, t0 + BACKOFF_LOG_MS - 1, &quiet), 0);
	ck_assert_int_eq(backoff_fail(&b, t0 + BACKOFF_LOG_MS, &quiet), 1);
	ck_assert_uint_eq(quiet, 100);
	ck_assert_int_eq(backoff_fail(&b, t0 + BACKOFF_LOG_MS + 1, &quiet), 0);
	ck_assert_int_eq(backoff_fail(&b, t0 + 2 * BACKOFF_LOG_MS, &quiet), 1);
	ck_assert_uint_eq(quiet, 1);
}
END_TEST

START_TEST(test_quiet_note)
{
	char buf[64];

	ck_assert_str_eq(backoff_quiet_note(0, buf, sizeof(buf)), "");
	ck_assert_str_eq(backoff_quiet_note(7, buf, sizeof(buf)), " (7 more not logged)");
}
END_TEST

START_TEST(test_resource_errno)
{
	ck_assert(backoff_resource_errno(EMFILE));
	ck_assert(backoff_resource_errno(ENFILE));
	ck_assert(backoff_resource_errno(ENOBUFS));
	ck_assert(backoff_resource_errno(ENOMEM));
	ck_assert(!backoff_resource_errno(EAGAIN));
	ck_assert(!backoff_resource_errno(ECONNABORTED));
	ck_assert(!backoff_resource_errno(EINTR));
}
END_TEST

static Suite *
backoff_suite(void)
{
	Suite *s = suite_create("backoff");
	TCase *tc = tcase_create("backoff");

	tcase_add_test(tc, test_doubles_up_to_max);
	tcase_add_test(tc, test_fixed_pause);
	tcase_add_test(tc, test_ok_without_failures);
	tcase_add_test(tc, test_logging_is_rate_limited);
	tcase_add_test(tc, test_quiet_note);
	tcase_add_test(tc, test_resource_errno);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(backoff_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
