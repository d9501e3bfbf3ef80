/*
 * check_scheduler - unit tests for scheduler.c and coro.c: a parked task
 * does not hold up another; deadlines bound sched_dispatch(-1) and end
 * timer waits in deadline order; edges that come while a task is not
 * waiting on its socket are kept; a signal the wait mask lets through
 * interrupts waits; capacity and cleanup (the scheduler closes a finished
 * task's socket); listeners; the ppoll() fallback outside tasks; POLLOUT
 * wakeups; deep private stacks. Task sockets are socketpair ends; the test
 * drives the peers p[i][1]. Only timeout tests let time pass (<= 100 ms).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coro.h"
#include "monotime.h"
#include "scheduler.h"

/* The order tasks saw things in: ids appended by the tasks. */
static int order[32];
static int norder;

static void
note(int id)
{
	if (norder < (int)(sizeof(order) / sizeof(order[0])))
		order[norder++] = id;
}

static struct sched *sch;
static int p[3][2];             /* p[i][0] for a task, p[i][1] the test's */

static void
pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static void
setup(void)
{
	sch = sched_create(2, NULL);
	ck_assert_ptr_nonnull(sch);
	for (int i = 0; i < 3; i++)
		pair(p[i]);
}

static void
teardown(void)
{
	sched_destroy(sch);
	for (int i = 0; i < 3; i++)
		close(p[i][1]);
}

static void
put(int fd, const char *text)
{
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
}

/* Dispatch until *done, at most max times (a wait that never ends fails). */
static void
dispatch_until(const volatile int *done, int max)
{
	for (int i = 0; !*done; i++) {
		ck_assert_msg(i < max, "task still not done after %d dispatches", max);
		ck_assert_int_eq(sched_dispatch(sch, 2000, NULL, NULL), 0);
	}
}

/* A task reading until EOF or "quit", waiting on EAGAIN. */
struct reader {
	int id;
	int timeout;
	int lines;
	enum sched_wake last;   /* the last wait's result */
	volatile int done;
	char text[128];
};

static void
reader_task(void *arg, int fd)
{
	struct reader *r = arg;
	char buf[128];

	r->last = SCHED_READY;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = '\0';
			note(r->id);
			r->lines++;
			snprintf(r->text, sizeof(r->text), "%s", buf);
			if (strstr(buf, "quit") != NULL)
				break;
			continue;
		}
		if (n == 0 || errno != EAGAIN)
			break;
		r->last = sched_wait(fd, POLLIN, r->timeout, NULL);
		if (r->last != SCHED_READY)
			break;
	}
	r->done = 1;
}

START_TEST(test_parked_task_does_not_block_another)
{
	struct reader a = { .id = 'A', .timeout = 5000 }, b = { .id = 'B', .timeout = 5000 };

	ck_assert_int_eq(sched_start(sch, p[0][0], reader_task, &a), 0);
	ck_assert_int_eq(sched_start(sch, p[1][0], reader_task, &b), 1);
	ck_assert_int_eq(sched_active(sch), 2);
	ck_assert_int_eq(norder, 0);
	put(p[1][1], "to b\n");
	dispatch_until(&b.lines, 5);
	ck_assert_int_eq(norder, 1);
	ck_assert_int_eq(order[0], 'B');
	ck_assert_str_eq(b.text, "to b\n");
	put(p[0][1], "to a\n");
	dispatch_until(&a.lines, 5);
	ck_assert_int_eq(norder, 2);
	ck_assert_int_eq(order[1], 'A');
	ck_assert_str_eq(a.text, "to a\n");
	/* Each ends on its own "quit", the other still parked. */
	put(p[0][1], "quit\n");
	dispatch_until(&a.done, 5);
	ck_assert(!b.done);
	put(p[1][1], "quit\n");
	dispatch_until(&b.done, 5);
	ck_assert_int_eq(norder, 4);
	ck_assert(a.last == SCHED_READY && b.last == SCHED_READY);
	ck_assert_int_eq(sched_active(sch), 0);
}
END_TEST

START_TEST(test_wait_times_out)
{
	struct reader r = { .id = 'R', .timeout = 50 };
	long long t0 = monotime_ms();

	ck_assert_int_eq(sched_start(sch, p[0][0], reader_task, &r), 0);
	alarm(3);               /* a dispatch(-1) that never returns is a failure */
	for (int n = 0; !r.done; n++) {
		ck_assert_int_lt(n, 5);
		ck_assert_int_eq(sched_dispatch(sch, -1, NULL, NULL), 0);
	}
	alarm(0);
	ck_assert_int_eq(r.last, SCHED_TIMEOUT);
	ck_assert_int_eq(r.lines, 0);
	ck_assert_int_ge(monotime_ms() - t0, 50);
	ck_assert_int_lt(monotime_ms() - t0, 2000);
	ck_assert_int_eq(sched_active(sch), 0);
}
END_TEST

/* Sleep ms on a timer (fd -1), note the id; with input, then wait for
 * input without trying to read first, and read it. */
struct sleeper {
	int id, ms, input;
	enum sched_wake result, waited;
	long long took;
	char text[32];
	volatile int done;
};

static void
sleeper_task(void *arg, int fd)
{
	struct sleeper *z = arg;
	long long t0 = monotime_ms();
	ssize_t n;

	if (z->ms > 0)
		z->result = sched_wait(-1, 0, z->ms, NULL);
	z->took = monotime_ms() - t0;
	note(z->id);
	if (z->input) {
		z->waited = sched_wait(fd, POLLIN, 1000, NULL);
		if ((n = read(fd, z->text, sizeof(z->text) - 1)) > 0)
			z->text[n] = '\0';
	}
	z->done = 1;
}

START_TEST(test_timers_end_in_deadline_order)
{
	struct sleeper slow = { .id = 'S', .ms = 90 }, fast = { .id = 'F', .ms = 30 };

	/* The slow one gets the lower index: index order is not deadline order. */
	ck_assert_int_eq(sched_start(sch, p[0][0], sleeper_task, &slow), 0);
	ck_assert_int_eq(sched_start(sch, p[1][0], sleeper_task, &fast), 1);
	alarm(3);
	dispatch_until(&fast.done, 10);
	ck_assert(!slow.done);
	dispatch_until(&slow.done, 10);
	alarm(0);
	ck_assert_int_eq(norder, 2);
	ck_assert_int_eq(order[0], 'F');
	ck_assert_int_eq(order[1], 'S');
	ck_assert(fast.result == SCHED_TIMEOUT && slow.result == SCHED_TIMEOUT);
	ck_assert_int_ge(fast.took, 30);
	ck_assert_int_ge(slow.took, 90);
	ck_assert_int_lt(slow.took, 2000);
}
END_TEST

START_TEST(test_edges_not_lost)
{
	struct sleeper before = { .input = 1 }, asleep = { .ms = 40, .input = 1 };

	/* Data there before the task starts. */
	put(p[0][1], "early\n");
	ck_assert_int_eq(sched_start(sch, p[0][0], sleeper_task, &before), 0);
	dispatch_until(&before.done, 5);
	ck_assert_int_eq(before.waited, SCHED_READY);
	ck_assert_str_eq(before.text, "early\n");

	/* Data that comes while the task sleeps on a timer (the start's
	 * writable edge taken first, so this edge is the only one). */
	ck_assert_int_eq(sched_start(sch, p[1][0], sleeper_task, &asleep), 0);
	ck_assert_int_eq(sched_dispatch(sch, 0, NULL, NULL), 0);
	ck_assert(!asleep.done);
	put(p[1][1], "meanwhile\n");
	alarm(3);
	dispatch_until(&asleep.done, 5);
	alarm(0);
	ck_assert_int_eq(asleep.result, SCHED_TIMEOUT);
	ck_assert_int_eq(asleep.waited, SCHED_READY);
	ck_assert_str_eq(asleep.text, "meanwhile\n");
}
END_TEST

static volatile sig_atomic_t caught;

static void
on_usr1(int sig)
{
	(void)sig;
	caught++;
}

START_TEST(test_signal_interrupts_waits)
{
	static sigset_t waitmask;
	struct sigaction sa;
	sigset_t block;
	struct reader r = { .id = 'R', .timeout = 10000 };
	struct sleeper z = { .id = 'Z', .ms = 10000 };

	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, &block, &waitmask), 0);
	sigdelset(&waitmask, SIGUSR1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;        /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	sched_destroy(sch);
	sch = sched_create(2, &waitmask);

	ck_assert_int_eq(sched_start(sch, p[0][0], reader_task, &r), 0);
	ck_assert_int_eq(sched_start(sch, p[1][0], sleeper_task, &z), 1);
	ck_assert_int_eq(sched_dispatch(sch, 0, NULL, NULL), 0);
	ck_assert(!r.done && !z.done);
	ck_assert_int_eq(raise(SIGUSR1), 0);
	ck_assert_int_eq(caught, 0);    /* pending: blocked outside the wait */
	alarm(3);
	ck_assert_int_eq(sched_dispatch(sch, -1, NULL, NULL), -1);
	alarm(0);
	ck_assert_int_eq(caught, 1);
	ck_assert(r.done && z.done);
	ck_assert_int_eq(r.last, SCHED_INTERRUPTED);
	ck_assert_int_eq(z.result, SCHED_INTERRUPTED);
	ck_assert_int_eq(sched_active(sch), 0);
}
END_TEST

/* A task that parks until unparked, then records how it came back. */
struct parker {
	void *self;
	int back;
	volatile int done;
};

static void
parker_task(void *arg, int fd)
{
	struct parker *k = arg;

	(void)fd;
	k->self = sched_self();
	k->back = sched_park();
	k->done = 1;
}

static int watch_calls;
static struct parker *to_unpark;

/* The watched eventfd-like pipe fired: drain it and unpark the task. */
static void
on_watch(void *ctx)
{
	char c;

	watch_calls++;
	while (read(*(int *)ctx, &c, 1) > 0)
		;
	sched_unpark(to_unpark->self);
}

/*
 * A parked task ignores signals and deadlines; a watched descriptor's
 * callback runs before tasks and unparks it. Outside a task, sched_park()
 * refuses and sched_self() is NULL.
 */
START_TEST(test_park_until_watched_fd)
{
	static sigset_t waitmask;
	struct sigaction sa;
	sigset_t block;
	struct parker k = { 0 };
	struct sleeper z = { .id = 'Z', .ms = 30 };
	int w[2];

	ck_assert_ptr_null(sched_self());
	ck_assert_int_eq(sched_park(), -1);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, &block, &waitmask), 0);
	sigdelset(&waitmask, SIGUSR1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	sched_destroy(sch);
	sch = sched_create(2, &waitmask);
	ck_assert_int_eq(pipe2(w, O_NONBLOCK | O_CLOEXEC), 0);
	ck_assert_int_eq(sched_watch_fd(sch, w[0], on_watch, &w[0]), 0);
	to_unpark = &k;

	ck_assert_int_eq(sched_start(sch, p[0][0], parker_task, &k), 0);
	ck_assert_ptr_nonnull(k.self);
	ck_assert_int_eq(sched_start(sch, p[1][0], sleeper_task, &z), 1);
	/* A deadline passes (the sleeper's) and a signal comes: still parked. */
	alarm(3);
	while (!z.done)
		(void)sched_dispatch(sch, -1, NULL, NULL);
	caught = 0;
	ck_assert_int_eq(raise(SIGUSR1), 0);
	ck_assert_int_eq(sched_dispatch(sch, -1, NULL, NULL), -1);
	ck_assert_int_eq(caught, 1);
	ck_assert(!k.done);
	ck_assert_int_eq(watch_calls, 0);
	/* Work done elsewhere: the watched descriptor unparks it. */
	put(w[1], "x");
	ck_assert_int_eq(sched_dispatch(sch, -1, NULL, NULL), 0);
	alarm(0);
	ck_assert_int_eq(watch_calls, 1);
	ck_assert(k.done);
	ck_assert_int_eq(k.back, 0);
	ck_assert_int_eq(sched_active(sch), 0);
	close(w[0]);
	close(w[1]);
}
END_TEST

static void
quick_task(void *arg, int fd)
{
	(void)fd;
	*(int *)arg = 1;
}

START_TEST(test_capacity)
{
	struct reader a = { .id = 'A', .timeout = 5000 }, b = { .id = 'B', .timeout = 5000 };
	struct reader c = { .id = 'C', .timeout = 5000 };
	int ran = 0;
	char ch;

	ck_assert_int_eq(sched_capacity(sch), 2);
	ck_assert_int_eq(sched_next_index(sch), 0);
	ck_assert_int_eq(sched_start(sch, p[0][0], reader_task, &a), 0);
	ck_assert_int_eq(sched_start(sch, p[1][0], reader_task, &b), 1);
	ck_assert_int_eq(sched_active(sch), 2);
	ck_assert_int_eq(sched_next_index(sch), -1);
	ck_assert_int_eq(sched_start(sch, p[2][0], reader_task, &c), -1);
	ck_assert_int_eq(norder, 0);                    /* c never ran */
	ck_assert_int_ne(fcntl(p[2][0], F_GETFD), -1);  /* and its fd is still ours */

	/* A ends on "quit": its index is free, its socket closed. */
	put(p[0][1], "quit\n");
	dispatch_until(&a.done, 5);
	ck_assert_int_eq(sched_active(sch), 1);
	ck_assert_int_eq(sched_next_index(sch), 0);
	ck_assert_int_eq(fcntl(p[0][0], F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(read(p[0][1], &ch, 1), 0);     /* EOF */
	ck_assert(!b.done);
	ck_assert_int_eq(sched_start(sch, p[2][0], reader_task, &c), 0);
	ck_assert_int_eq(sched_active(sch), 2);

	/* B ends when its peer closes. */
	close(p[1][1]);
	p[1][1] = -1;
	dispatch_until(&b.done, 5);
	ck_assert_int_eq(sched_active(sch), 1);
	ck_assert_int_eq(sched_next_index(sch), 1);
	ck_assert(!c.done);

	/* A task that ends at once is cleaned up at once. */
	pair(p[1]);
	ck_assert_int_eq(sched_start(sch, p[1][0], quick_task, &ran), 1);
	ck_assert_int_eq(ran, 1);
	ck_assert_int_eq(sched_active(sch), 1);
	ck_assert_int_eq(sched_next_index(sch), 1);
	ck_assert_int_eq(read(p[1][1], &ch, 1), 0);
}
END_TEST

static int listener_calls;
static uint32_t listener_id;

static void
on_listener(void *ctx, uint32_t id)
{
	int fd = accept(*(int *)ctx, NULL, NULL);

	listener_calls++;
	listener_id = id;
	if (fd >= 0)
		close(fd);
}

static int
connect_to(const struct sockaddr_in *sin)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (const struct sockaddr *)sin, sizeof(*sin)), 0);
	return fd;
}

START_TEST(test_listener)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int c1, c2, fd;

	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 8), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);

	ck_assert_int_eq(sched_watch_listener(sch, lfd, 7, 1), 0);
	c1 = connect_to(&sin);
	for (int i = 0; i < 5 && listener_calls == 0; i++)
		ck_assert_int_eq(sched_dispatch(sch, 2000, on_listener, &lfd), 0);
	ck_assert_int_eq(listener_calls, 1);
	ck_assert_uint_eq(listener_id, 7);

	ck_assert_int_eq(sched_watch_listener(sch, lfd, 7, 0), 0);
	c2 = connect_to(&sin);
	ck_assert_int_eq(sched_dispatch(sch, 50, on_listener, &lfd), 0);
	ck_assert_int_eq(listener_calls, 1);
	fd = accept(lfd, NULL, NULL);   /* the connection was there all along */
	ck_assert_int_ge(fd, 0);
	close(fd);
	close(c1);
	close(c2);
	close(lfd);
}
END_TEST

START_TEST(test_wait_outside_task_is_ppoll)
{
	ck_assert_int_eq(sched_wait(p[0][0], POLLIN, 0, NULL), SCHED_TIMEOUT);
	ck_assert_int_eq(sched_wait(p[0][0], POLLOUT, 0, NULL), SCHED_READY);
	ck_assert_int_eq(sched_wait(-1, 0, 0, NULL), SCHED_TIMEOUT);
	put(p[0][1], "x");
	ck_assert_int_eq(sched_wait(p[0][0], POLLIN, 0, NULL), SCHED_READY);
	ck_assert_int_eq(sched_wait(p[0][0], POLLIN, -1, NULL), SCHED_READY);
	close(p[0][0]);
}
END_TEST

#define WRITE_TOTAL (4 * 1024 * 1024)

struct writer {
	size_t sent;
	int eagains, timeouts;
	volatile int done;
};

static void
writer_task(void *arg, int fd)
{
	static char chunk[16384];
	struct writer *w = arg;

	memset(chunk, 'w', sizeof(chunk));
	while (w->sent < WRITE_TOTAL) {
		size_t want = WRITE_TOTAL - w->sent;
		ssize_t n = write(fd, chunk, want < sizeof(chunk) ? want : sizeof(chunk));
		if (n > 0) {
			w->sent += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN)
			break;
		w->eagains++;
		enum sched_wake r = sched_wait(fd, POLLOUT, 2000, NULL);
		if (r == SCHED_TIMEOUT)
			w->timeouts++;
		else if (r != SCHED_READY)
			break;
	}
	w->done = 1;
}

START_TEST(test_writer_woken_by_pollout)
{
	static char buf[65536];
	struct writer w = { 0 };
	size_t got = 0;
	ssize_t n;

	ck_assert_int_eq(sched_start(sch, p[0][0], writer_task, &w), 0);
	ck_assert(!w.done);             /* the socket filled up */
	ck_assert_int_ge(w.eagains, 1);
	for (int i = 0; !w.done; i++) {
		ck_assert_int_lt(i, 100000);
		while ((n = read(p[0][1], buf, sizeof(buf))) > 0)
			got += (size_t)n;
		ck_assert_int_eq(sched_dispatch(sch, 2000, NULL, NULL), 0);
	}
	ck_assert_int_eq(w.timeouts, 0);
	ck_assert_uint_eq(w.sent, WRITE_TOTAL);
	while ((n = read(p[0][1], buf, sizeof(buf))) > 0)
		got += (size_t)n;
	ck_assert_int_eq(n, 0);         /* EOF: the scheduler closed the task's fd */
	ck_assert_uint_eq(got, WRITE_TOTAL);
}
END_TEST

/* 25 frames of 4 KiB, waiting at the bottom; each frame then checks its buffer. */
#define FRAMES 25

struct deep {
	int fill, intact;
	enum sched_wake waited;
	volatile int done;
};

static int
recurse(struct deep *d, int fd, int depth)
{
	volatile char buf[4096];
	int ok;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(d->fill + depth);
	if (depth + 1 < FRAMES)
		ok = recurse(d, fd, depth + 1);
	else
		ok = (d->waited = sched_wait(fd, POLLIN, 5000, NULL)) == SCHED_READY;
	for (size_t i = 0; i < sizeof(buf); i++)
		if (buf[i] != (char)(d->fill + depth))
			ok = 0;
	return ok;
}

static void
deep_task(void *arg, int fd)
{
	struct deep *d = arg;

	d->intact = recurse(d, fd, 0);
	d->done = 1;
}

START_TEST(test_deep_stacks)
{
	struct deep d1 = { .fill = 1 }, d2 = { .fill = 101 };

	ck_assert_uint_ge(coro_stack_size(), 256 * 1024);
	/* Both parked 100 KiB deep at once: the stacks must be separate. */
	ck_assert_int_eq(sched_start(sch, p[0][0], deep_task, &d1), 0);
	ck_assert_int_eq(sched_start(sch, p[1][0], deep_task, &d2), 1);
	ck_assert(!d1.done && !d2.done);
	put(p[1][1], "go");
	dispatch_until(&d2.done, 5);
	ck_assert(!d1.done);
	put(p[0][1], "go");
	dispatch_until(&d1.done, 5);
	ck_assert(d1.waited == SCHED_READY && d2.waited == SCHED_READY);
	ck_assert_int_eq(d1.intact, 1);
	ck_assert_int_eq(d2.intact, 1);
}
END_TEST

static Suite *
scheduler_suite(void)
{
	Suite *s = suite_create("scheduler");
	TCase *tc = tcase_create("scheduler");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_parked_task_does_not_block_another);
	tcase_add_test(tc, test_wait_times_out);
	tcase_add_test(tc, test_timers_end_in_deadline_order);
	tcase_add_test(tc, test_edges_not_lost);
	tcase_add_test(tc, test_signal_interrupts_waits);
	tcase_add_test(tc, test_capacity);
	tcase_add_test(tc, test_listener);
	tcase_add_test(tc, test_wait_outside_task_is_ppoll);
	tcase_add_test(tc, test_writer_woken_by_pollout);
	tcase_add_test(tc, test_deep_stacks);
	tcase_add_test(tc, test_park_until_watched_fd);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(scheduler_suite());
	int failures;

	/* Each test in its own process: signals, fds and coro globals stay apart. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
