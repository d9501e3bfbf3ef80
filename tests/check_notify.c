/*
 * check_notify - unit tests for notify.c, the sd_notify(3) messages:
 *
 *  - with NOTIFY_SOCKET naming a datagram socket the test bound, each
 *    function sends exactly one datagram: "READY=1\nSTATUS=<status>",
 *    "RELOADING=1\nMONOTONIC_USEC=<now>", "STOPPING=1", "STATUS=<text>";
 *    control characters in a status become spaces;
 *  - without NOTIFY_SOCKET nothing is sent, and a NOTIFY_SOCKET nobody
 *    listens on is survived;
 *  - built --without-systemd nothing is
 *    ever sent.
 *
 * Nothing sleeps: a datagram that is due is already queued when the call
 * returns, so "nothing sent" is a non-blocking receive that finds nothing.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"

static char dir[64];
static char path[96];           /* fits sun_path */
static int sock = -1;

static void
setup(void)
{
	struct sockaddr_un sa;

	snprintf(dir, sizeof(dir), "/tmp/check_notify.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notify", dir);
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(sock, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_int_eq(bind(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", path, 1), 0);
}

static void
teardown(void)
{
	unsetenv("NOTIFY_SOCKET");
	close(sock);
	unlink(path);
	rmdir(dir);
}

/* The next datagram, NUL-terminated, or NULL when none is queued. */
static char *
next_message(char *buf, size_t len)
{
	ssize_t n = recv(sock, buf, len - 1, MSG_DONTWAIT);

	if (n < 0) {
		ck_assert_msg(errno == EAGAIN || errno == EWOULDBLOCK, "recv: %s", strerror(errno));
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

#ifdef ENABLE_SD_NOTIFY

static unsigned long long
monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL;
}

START_TEST(test_ready)
{
	char buf[1024];

	notify_ready("workers: 2 idle, 0 busy");
	ck_assert_str_eq(next_message(buf, sizeof(buf)), "READY=1\nSTATUS=workers: 2 idle, 0 busy");
	notify_ready(NULL);
	ck_assert_str_eq(next_message(buf, sizeof(buf)), "READY=1");
	ck_assert_ptr_null(next_message(buf, sizeof(buf)));
}
END_TEST

START_TEST(test_reloading)
{
	char buf[1024];
	unsigned long long before = monotonic_usec(), usec;
	int end = 0;

	notify_reloading();
	unsigned long long after = monotonic_usec();
	ck_assert_ptr_nonnull(next_message(buf, sizeof(buf)));
	ck_assert_msg(sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%llu%n", &usec, &end) == 1 &&
	    buf[end] == '\0', "unexpected message \"%s\"", buf);
	ck_assert_uint_ge(usec, before);
	ck_assert_uint_le(usec, after);
	ck_assert_ptr_null(next_message(buf, sizeof(buf)));
}
END_TEST

START_TEST(test_stopping)
{
	char buf[1024];

	notify_stopping();
	ck_assert_str_eq(next_message(buf, sizeof(buf)), "STOPPING=1");
	ck_assert_ptr_null(next_message(buf, sizeof(buf)));
}
END_TEST

START_TEST(test_status)
{
	char buf[1024];

	notify_status("workers: %d idle, %d busy, %d max", 3, 1, 64);
	ck_assert_str_eq(next_message(buf, sizeof(buf)), "STATUS=workers: 3 idle, 1 busy, 64 max");
	/* A newline would start a new assignment: "READY=1" must not appear. */
	notify_status("reloading\nREADY=1\t%s", "x");
	ck_assert_str_eq(next_message(buf, sizeof(buf)), "STATUS=reloading READY=1 x");
	notify_ready("a\nb");
	ck_assert_str_eq(next_message(buf, sizeof(buf)), "READY=1\nSTATUS=a b");
	ck_assert_ptr_null(next_message(buf, sizeof(buf)));
}
END_TEST

START_TEST(test_status_long)
{
	char buf[4096], big[2000];

	memset(big, 'w', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	notify_status("%s", big);
	ck_assert_ptr_nonnull(next_message(buf, sizeof(buf)));
	ck_assert_int_eq(strncmp(buf, "STATUS=www", 10), 0);
	ck_assert_int_lt(strlen(buf), sizeof(big));
}
END_TEST

#endif /* ENABLE_SD_NOTIFY */

/* Without NOTIFY_SOCKET (or built --without-systemd) nothing is sent. */
START_TEST(test_unset_sends_nothing)
{
	char buf[1024];

	unsetenv("NOTIFY_SOCKET");
	notify_ready("x");
	notify_reloading();
	notify_status("%d", 1);
	notify_stopping();
	ck_assert_ptr_null(next_message(buf, sizeof(buf)));
	setenv("NOTIFY_SOCKET", "", 1);
	notify_ready("x");
	ck_assert_ptr_null(next_message(buf, sizeof(buf)));
}
END_TEST

/* A socket nobody listens on is a warning, not a failure. */
START_TEST(test_no_listener)
{
	char gone[96];

	snprintf(gone, sizeof(gone), "%s/nobody-here", dir);
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", gone, 1), 0);
	notify_ready("x");
	notify_status("%s", "y");
	notify_stopping();
}
END_TEST

#ifndef ENABLE_SD_NOTIFY
START_TEST(test_without_sd_notify_sends_nothing)
{
	char buf[1024];

	notify_ready("x");
	notify_reloading();
	notify_status("%d", 1);
	notify_stopping();
	ck_assert_ptr_null(next_message(buf, sizeof(buf)));
}
END_TEST
#endif

static Suite *
notify_suite(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("notify");

	tcase_add_checked_fixture(tc, setup, teardown);
#ifdef ENABLE_SD_NOTIFY
	tcase_add_test(tc, test_ready);
	tcase_add_test(tc, test_reloading);
	tcase_add_test(tc, test_stopping);
	tcase_add_test(tc, test_status);
	tcase_add_test(tc, test_status_long);
#else
	tcase_add_test(tc, test_without_sd_notify_sends_nothing);
#endif
	tcase_add_test(tc, test_unset_sends_nothing);
	tcase_add_test(tc, test_no_listener);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(notify_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
