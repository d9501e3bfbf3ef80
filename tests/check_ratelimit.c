/*
 * check_ratelimit - unit tests for ratelimit.c, the per-client event rates
 * shared by the worker processes:
 *
 *  - windows: counting inside one, the first event at start + window
 *    opening a new one, a clock that went back, limits (the refused event
 *    is not counted), limit 0 = unlimited, kinds and clients independent,
 *    ratelimit_key on AF_INET (v4-mapped), AF_INET6 (as is) and others;
 *  - a full table: the client whose latest window started longest ago
 *    makes room (ended windows first), many more clients than room;
 *  - processes: four children counting on one key at once lose no update
 *    and hand out every count exactly once, with and without a limit;
 *  - SIGKILL: a child killed at a random point while it counts, or while
 *    it adds and evicts clients, never leaves the table locked or broken;
 *    the recovery from a dead lock owner is seen (its warning) at least
 *    once.
 *
 * Time is passed in, so nothing sleeps. The only waiting is on pipes and
 * waitpid; every call that could hang on the lock runs under alarm().
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ratelimit.h"

#define NCHILDREN 4
#define PER_CHILD 10000
#define TOTAL (NCHILDREN * PER_CHILD)

/* Seconds a call that takes the lock may need before we call it a hang. */
#define HANG_GUARD 10

/* A distinct IPv6 key 2001:db8::/96 + n. */
static void
key_v6(unsigned char key[16], uint32_t n)
{
	memset(key, 0, 16);
	key[0] = 0x20;
	key[1] = 0x01;
	key[2] = 0x0d;
	key[3] = 0xb8;
	key[12] = (unsigned char)(n >> 24);
	key[13] = (unsigned char)(n >> 16);
	key[14] = (unsigned char)(n >> 8);
	key[15] = (unsigned char)n;
}

static void
key_from_v4(unsigned char key[16], const char *addr)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(25);
	ck_assert_int_eq(inet_pton(AF_INET, addr, &sin.sin_addr), 1);
	ratelimit_key((const struct sockaddr *)&sin, key);
}

static void
key_from_v6(unsigned char key[16], const char *addr)
{
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(25);
	ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6.sin6_addr), 1);
	ratelimit_key((const struct sockaddr *)&sin6, key);
}

static struct ratelimit *
make(size_t clients, int window)
{
	struct ratelimit *rl = ratelimit_create(clients, window);

	ck_assert_msg(rl != NULL, "ratelimit_create(%zu, %d): %s", clients, window,
	    strerror(errno));
	return rl;
}

/* An anonymous shared array the children can report into. */
static void *
shared_zeroed(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_msg(p != MAP_FAILED, "mmap(%zu): %s", size, strerror(errno));
	return p;
}

/* Wait for pid and fail unless it exited with status 0. */
static void
reap_ok(pid_t pid)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "child %ld did not exit (status 0x%x)", (long)pid, status);
	ck_assert_msg(WEXITSTATUS(status) == 0, "child %ld exited with %d", (long)pid,
	    WEXITSTATUS(status));
}

START_TEST(test_create_invalid)
{
	errno = 0;
	ck_assert_ptr_null(ratelimit_create(0, 60));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(ratelimit_create(10, 0));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(ratelimit_create(10, -60));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(ratelimit_create(SIZE_MAX, 60));
	ck_assert_int_eq(errno, ENOMEM);
	errno = 0;
	ck_assert_ptr_null(ratelimit_create(SIZE_MAX / 4, 60));
	ck_assert_int_eq(errno, ENOMEM);
	ratelimit_destroy(NULL);
}
END_TEST

START_TEST(test_count_in_window)
{
	struct ratelimit *rl = make(16, 60);
	unsigned char k[16];

	key_v6(k, 1);
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_CONNECTIONS, 1000), 0);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 0, 1000), 1);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 0, 1000), 2);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 0, 1030), 3);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 0, 1059), 4);
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_CONNECTIONS, 1000), 4);
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_CONNECTIONS, 1059), 4);
	/* The window is [1000, 1060): its end counts nothing any more. */
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_CONNECTIONS, 1060), 0);
	/* Counting did not change anything. */
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_CONNECTIONS, 1059), 4);
	ratelimit_destroy(rl);
}
END_TEST

START_TEST(test_limit_refuses)
{
	struct ratelimit *rl = make(16, 60);
	unsigned char k[16];

	key_v6(k, 2);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_MESSAGES, 3, 500), 1);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_MESSAGES, 3, 501), 2);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_MESSAGES, 3, 502), 3);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_MESSAGES, 3, 503), -1);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_MESSAGES, 3, 559), -1);
	/* Refused events are not counted. */
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_MESSAGES, 559), 3);
	/* A higher limit admits more in the same window, from the real count. */
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_MESSAGES, 4, 559), 4);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_MESSAGES, 4, 559), -1);
	/* A lower one refuses at once. */
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_MESSAGES, 1, 559), -1);
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_MESSAGES, 559), 4);
	/* The next window admits again. */
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_MESSAGES, 3, 560), 1);
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_MESSAGES, 560), 1);
	/* Limit 1: exactly one per window. */
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 1, 560), 1);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 1, 560), -1);
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_CONNECTIONS, 560), 1);
	ratelimit_destroy(rl);
}
END_TEST

START_TEST(test_new_window)
{
	struct ratelimit *rl = make(16, 60);
	unsigned char k[16];

	key_v6(k, 3);
	/* The window starts at the first event, not on a minute boundary. */
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 2, 100), 1);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 2, 159), 2);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 2, 159), -1);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 2, 160), 1);
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_CONNECTIONS, 160), 1);
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_CONNECTIONS, 219), 1);
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_CONNECTIONS, 220), 0);
	/* Long after: a new window of its own, starting at that event. */
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 2, 10000), 1);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 2, 10059), 2);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 2, 10060), 1);
	ratelimit_destroy(rl);
}
END_TEST

START_TEST(test_window_length)
{
	struct ratelimit *rl = make(4, 1);
	unsigned char k[16];

	/* A one-second window: every second is a new one. */
	key_v6(k, 4);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 0, 7), 1);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 0, 7), 2);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 0, 8), 1);
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_CONNECTIONS, 8), 1);
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_CONNECTIONS, 9), 0);
	ratelimit_destroy(rl);
}
END_TEST

START_TEST(test_clock_back)
{
	struct ratelimit *rl = make(16, 60);
	unsigned char k[16];

	key_v6(k, 5);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 0, 1000), 1);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 0, 1000), 2);
	/* Before the window's start: not in it, so a new one starts there. */
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_CONNECTIONS, 999), 0);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 0, 900), 1);
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_CONNECTIONS, 959), 1);
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_CONNECTIONS, 960), 0);
	ratelimit_destroy(rl);
}
END_TEST

START_TEST(test_unlimited)
{
	struct ratelimit *rl = make(16, 60);
	unsigned char k[16];

	key_v6(k, 6);
	for (long i = 1; i <= 100000; i++)
		ck_assert_int_eq(ratelimit_hit(rl, k, RL_MESSAGES, 0, 42), i);
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_MESSAGES, 42), 100000);
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_CONNECTIONS, 42), 0);
	ratelimit_destroy(rl);
}
END_TEST

START_TEST(test_kinds_independent)
{
	struct ratelimit *rl = make(16, 60);
	unsigned char k[16];

	key_v6(k, 7);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 2, 0), 1);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 2, 1), 2);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 2, 2), -1);
	/* Connections at their limit do not hold messages back. */
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_MESSAGES, 2, 30), 1);
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_CONNECTIONS, 30), 2);
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_MESSAGES, 30), 1);
	/* Each kind has its own window: [0, 60) and [30, 90). */
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_CONNECTIONS, 60), 0);
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_MESSAGES, 60), 1);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 2, 60), 1);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_MESSAGES, 2, 89), 2);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_MESSAGES, 2, 89), -1);
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_MESSAGES, 2, 90), 1);
	ck_assert_uint_eq(ratelimit_count(rl, k, RL_CONNECTIONS, 90), 1);
	ratelimit_destroy(rl);
}
END_TEST

START_TEST(test_key_sockaddr)
{
	static const unsigned char v4mapped[16] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1,
	};
	static const unsigned char v6[16] = {
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
	};
	static const unsigned char zero[16];
	unsigned char k[16], k2[16];
	struct sockaddr_un sun;

	memset(k, 0xaa, sizeof(k));
	key_from_v4(k, "192.0.2.1");
	ck_assert_mem_eq(k, v4mapped, 16);
	memset(k, 0xaa, sizeof(k));
	key_from_v6(k, "2001:db8::1");
	ck_assert_mem_eq(k, v6, 16);
	/* The same IPv4 client over an IPv6 socket gives the same key. */
	key_from_v6(k2, "::ffff:192.0.2.1");
	ck_assert_mem_eq(k2, v4mapped, 16);
	/* 0.0.0.1 and ::1 differ. */
	key_from_v4(k, "0.0.0.1");
	key_from_v6(k2, "::1");
	ck_assert_mem_ne(k, k2, 16);
	/* Other families: all zero. */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memset(k, 0xaa, sizeof(k));
	ratelimit_key((const struct sockaddr *)&sun, k);
	ck_assert_mem_eq(k, zero, 16);
}
END_TEST

START_TEST(test_clients_independent)
{
	struct ratelimit *rl = make(16, 60);
	unsigned char a[16], b[16], c[16], d[16];

	key_from_v4(a, "192.0.2.1");
	key_from_v4(b, "192.0.2.2");
	key_from_v6(c, "2001:db8::1");
	key_from_v6(d, "::ffff:192.0.2.1");
	ck_assert_int_eq(ratelimit_hit(rl, a, RL_CONNECTIONS, 3, 10), 1);
	ck_assert_int_eq(ratelimit_hit(rl, a, RL_CONNECTIONS, 3, 10), 2);
	ck_assert_int_eq(ratelimit_hit(rl, b, RL_CONNECTIONS, 3, 10), 1);
	ck_assert_int_eq(ratelimit_hit(rl, c, RL_CONNECTIONS, 3, 10), 1);
	ck_assert_int_eq(ratelimit_hit(rl, c, RL_CONNECTIONS, 3, 10), 2);
	ck_assert_int_eq(ratelimit_hit(rl, c, RL_CONNECTIONS, 3, 10), 3);
	ck_assert_int_eq(ratelimit_hit(rl, c, RL_CONNECTIONS, 3, 10), -1);
	/* The v4-mapped form over IPv6 is the same client as over IPv4. */
	ck_assert_int_eq(ratelimit_hit(rl, d, RL_CONNECTIONS, 3, 10), 3);
	ck_assert_int_eq(ratelimit_hit(rl, a, RL_CONNECTIONS, 3, 10), -1);
	ck_assert_uint_eq(ratelimit_count(rl, a, RL_CONNECTIONS, 10), 3);
	ck_assert_uint_eq(ratelimit_count(rl, b, RL_CONNECTIONS, 10), 1);
	ck_assert_uint_eq(ratelimit_count(rl, c, RL_CONNECTIONS, 10), 3);
	ratelimit_destroy(rl);
}
END_TEST

/* Two tables do not share anything. */
START_TEST(test_tables_independent)
{
	struct ratelimit *r1 = make(4, 60), *r2 = make(4, 60);
	unsigned char k[16];

	key_v6(k, 8);
	ck_assert_int_eq(ratelimit_hit(r1, k, RL_CONNECTIONS, 0, 1), 1);
	ck_assert_int_eq(ratelimit_hit(r1, k, RL_CONNECTIONS, 0, 1), 2);
	ck_assert_int_eq(ratelimit_hit(r2, k, RL_CONNECTIONS, 0, 1), 1);
	ratelimit_destroy(r1);
	ck_assert_uint_eq(ratelimit_count(r2, k, RL_CONNECTIONS, 1), 1);
	ratelimit_destroy(r2);
}
END_TEST

START_TEST(test_one_client)
{
	struct ratelimit *rl = make(1, 60);
	unsigned char a[16], b[16];

	key_v6(a, 10);
	key_v6(b, 11);
	ck_assert_int_eq(ratelimit_hit(rl, a, RL_CONNECTIONS, 0, 0), 1);
	ck_assert_int_eq(ratelimit_hit(rl, a, RL_CONNECTIONS, 0, 1), 2);
	ck_assert_int_eq(ratelimit_hit(rl, b, RL_CONNECTIONS, 0, 2), 1);
	ck_assert_uint_eq(ratelimit_count(rl, a, RL_CONNECTIONS, 2), 0);
	ck_assert_uint_eq(ratelimit_count(rl, b, RL_CONNECTIONS, 2), 1);
	/* a comes back as a new client and pushes b out. */
	ck_assert_int_eq(ratelimit_hit(rl, a, RL_CONNECTIONS, 0, 3), 1);
	ck_assert_uint_eq(ratelimit_count(rl, b, RL_CONNECTIONS, 3), 0);
	ratelimit_destroy(rl);
}
END_TEST

/* The client whose latest window started longest ago goes. */
START_TEST(test_full_evicts_oldest)
{
	struct ratelimit *rl = make(8, 3600);
	unsigned char k[10][16];

	for (uint32_t i = 0; i < 10; i++)
		key_v6(k[i], 100 + i);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(ratelimit_hit(rl, k[i], RL_CONNECTIONS, 0, i), 1);
	/* Client 0's connection window still started first, at 0... */
	ck_assert_int_eq(ratelimit_hit(rl, k[0], RL_CONNECTIONS, 0, 20), 2);
	/* ...but a message window of its own started at 20. */
	ck_assert_int_eq(ratelimit_hit(rl, k[0], RL_MESSAGES, 0, 20), 1);
	/* Full: client 8 takes client 1's place (latest start 1). */
	ck_assert_int_eq(ratelimit_hit(rl, k[8], RL_CONNECTIONS, 0, 21), 1);
	ck_assert_uint_eq(ratelimit_count(rl, k[1], RL_CONNECTIONS, 21), 0);
	ck_assert_uint_eq(ratelimit_count(rl, k[0], RL_CONNECTIONS, 21), 2);
	ck_assert_uint_eq(ratelimit_count(rl, k[0], RL_MESSAGES, 21), 1);
	for (int i = 2; i < 9; i++)
		ck_assert_uint_eq(ratelimit_count(rl, k[i], RL_CONNECTIONS, 21), 1);
	/* Then client 9 takes client 2's. */
	ck_assert_int_eq(ratelimit_hit(rl, k[9], RL_MESSAGES, 0, 22), 1);
	ck_assert_uint_eq(ratelimit_count(rl, k[2], RL_CONNECTIONS, 22), 0);
	ck_assert_uint_eq(ratelimit_count(rl, k[3], RL_CONNECTIONS, 22), 1);
	ck_assert_uint_eq(ratelimit_count(rl, k[9], RL_MESSAGES, 22), 1);
	/* A forgotten client comes back from zero, pushing out client 3. */
	ck_assert_int_eq(ratelimit_hit(rl, k[1], RL_CONNECTIONS, 0, 23), 1);
	ck_assert_uint_eq(ratelimit_count(rl, k[3], RL_CONNECTIONS, 23), 0);
	ratelimit_destroy(rl);
}
END_TEST

/* Clients whose windows have all ended go before ones still counting. */
START_TEST(test_full_evicts_ended_first)
{
	struct ratelimit *rl = make(4, 10);
	unsigned char k[6][16];

	for (uint32_t i = 0; i < 6; i++)
		key_v6(k[i], 200 + i);
	ck_assert_int_eq(ratelimit_hit(rl, k[0], RL_CONNECTIONS, 0, 0), 1);
	ck_assert_int_eq(ratelimit_hit(rl, k[1], RL_CONNECTIONS, 0, 5), 1);
	ck_assert_int_eq(ratelimit_hit(rl, k[2], RL_CONNECTIONS, 0, 100), 1);
	ck_assert_int_eq(ratelimit_hit(rl, k[2], RL_CONNECTIONS, 0, 100), 2);
	ck_assert_int_eq(ratelimit_hit(rl, k[3], RL_MESSAGES, 0, 101), 1);
	ck_assert_int_eq(ratelimit_hit(rl, k[4], RL_CONNECTIONS, 0, 102), 1);
	ck_assert_int_eq(ratelimit_hit(rl, k[5], RL_CONNECTIONS, 0, 103), 1);
	ck_assert_uint_eq(ratelimit_count(rl, k[2], RL_CONNECTIONS, 103), 2);
	ck_assert_uint_eq(ratelimit_count(rl, k[3], RL_MESSAGES, 103), 1);
	ck_assert_uint_eq(ratelimit_count(rl, k[4], RL_CONNECTIONS, 103), 1);
	ck_assert_uint_eq(ratelimit_count(rl, k[5], RL_CONNECTIONS, 103), 1);
	/* Now none has ended: the oldest start (client 2, at 100) goes. */
	ck_assert_int_eq(ratelimit_hit(rl, k[0], RL_CONNECTIONS, 0, 104), 1);
	ck_assert_uint_eq(ratelimit_count(rl, k[2], RL_CONNECTIONS, 104), 0);
	ck_assert_uint_eq(ratelimit_count(rl, k[3], RL_MESSAGES, 104), 1);
	ratelimit_destroy(rl);
}
END_TEST

/*
 * Up to its size the table remembers everyone: with addresses that differ
 * only in their last octets (IPv6 and IPv4), no client is lost to a crowded
 * neighbourhood of slots.
 */
START_TEST(test_full_room_for_all)
{
	enum { ROOM = 1000 };
	struct ratelimit *r6 = make(ROOM, 60), *r4 = make(ROOM, 60);
	unsigned char k[16];
	char addr[32];

	for (uint32_t i = 0; i < ROOM; i++) {
		key_v6(k, i);
		ck_assert_int_eq(ratelimit_hit(r6, k, RL_CONNECTIONS, 0, 0), 1);
		snprintf(addr, sizeof(addr), "10.0.%u.%u", i / 256, i % 256);
		key_from_v4(k, addr);
		ck_assert_int_eq(ratelimit_hit(r4, k, RL_MESSAGES, 0, 0), 1);
	}
	for (uint32_t i = 0; i < ROOM; i++) {
		key_v6(k, i);
		ck_assert_msg(ratelimit_count(r6, k, RL_CONNECTIONS, 1) == 1, "client %u lost", i);
		snprintf(addr, sizeof(addr), "10.0.%u.%u", i / 256, i % 256);
		key_from_v4(k, addr);
		ck_assert_msg(ratelimit_count(r4, k, RL_MESSAGES, 1) == 1, "client %s lost", addr);
	}
	ratelimit_destroy(r6);
	ratelimit_destroy(r4);
}
END_TEST

/* Far more clients than room: no crash, the old forgotten, the new counted. */
START_TEST(test_full_many_clients)
{
	enum { ROOM = 256, CLIENTS = 50000, RECENT = 64 };
	struct ratelimit *rl = make(ROOM, 1000000);
	unsigned char k[16];
	size_t present = 0;

	for (uint32_t i = 0; i < CLIENTS; i++) {
		key_v6(k, i);
		ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 5, i), 1);
		/* The newest client is always there. */
		ck_assert_int_eq(ratelimit_hit(rl, k, RL_CONNECTIONS, 5, i), 2);
	}
	for (uint32_t i = 0; i < CLIENTS; i++) {
		unsigned long n;

		key_v6(k, i);
		n = ratelimit_count(rl, k, RL_CONNECTIONS, CLIENTS);
		ck_assert_msg(n == 0 || n == 2, "client %u has count %lu", i, n);
		if (i < ROOM)
			ck_assert_msg(n == 0, "client %u is still remembered", i);
		if (i >= CLIENTS - RECENT)
			ck_assert_msg(n == 2, "recent client %u was forgotten", i);
		present += n != 0;
	}
	ck_assert_uint_eq(present, ROOM);
	ratelimit_destroy(rl);
}
END_TEST

/*
 * NCHILDREN children hit one key PER_CHILD times each at the same time.
 * Each marks every count it is handed in `seen`; children exit non-zero if
 * their counts do not grow or are out of range. With `limit` 0 every count
 * 1..TOTAL must be handed out exactly once; with a limit, 1..limit.
 */
static void
run_concurrent(unsigned long limit)
{
	struct ratelimit *rl = make(64, 60);
	unsigned char *seen = shared_zeroed(TOTAL);
	unsigned long *counted = shared_zeroed(NCHILDREN * sizeof(*counted));
	unsigned long expect = limit == 0 ? TOTAL : limit, sum = 0;
	pid_t pids[NCHILDREN];
	unsigned char k[16];

	key_v6(k, 300);
	for (int c = 0; c < NCHILDREN; c++) {
		pids[c] = fork();
		ck_assert_int_ge(pids[c], 0);
		if (pids[c] == 0) {
			long prev = 0;
			int refused = 0;

			for (int i = 0; i < PER_CHILD; i++) {
				long n = ratelimit_hit(rl, k, RL_MESSAGES, limit, 1000);
				if (n == -1) {
					if (limit == 0)
						_exit(2);
					refused = 1;
					continue;
				}
				/* Counts only grow: no success after a refusal. */
				if (refused)
					_exit(3);
				if (n <= prev || n > (long)expect)
					_exit(4);
				__atomic_fetch_add(&seen[n - 1], 1, __ATOMIC_RELAXED);
				counted[c]++;
				prev = n;
			}
			_exit(0);
		}
	}
	for (int c = 0; c < NCHILDREN; c++)
		reap_ok(pids[c]);

	ck_assert_uint_eq(ratelimit_count(rl, k, RL_MESSAGES, 1000), expect);
	for (int c = 0; c < NCHILDREN; c++)
		sum += counted[c];
	ck_assert_uint_eq(sum, expect);
	for (unsigned long v = 0; v < TOTAL; v++)
		ck_assert_msg(seen[v] == (v < expect ? 1 : 0), "count %lu handed out %u times",
		    v + 1, seen[v]);
	/* The table still works for the parent. */
	ck_assert_int_eq(ratelimit_hit(rl, k, RL_MESSAGES, 0, 1000), (long)expect + 1);
	munmap(seen, TOTAL);
	munmap(counted, NCHILDREN * sizeof(*counted));
	ratelimit_destroy(rl);
}

START_TEST(test_concurrent_unlimited)
{
	run_concurrent(0);
}
END_TEST

START_TEST(test_concurrent_limited)
{
	run_concurrent(1000);
}
END_TEST

/* The keys a churning kill_victim cycles through. */
#define CHURN_BASE 1000
#define CHURN_KEYS 4096

/*
 * What a child does until it is killed: `churn` 0 hits one key; otherwise
 * it cycles through CHURN_KEYS keys, many more than the table holds, so
 * that it is also killed while adding and evicting clients. It reports on
 * `fd` once it is well under way. If the test process goes away, so does
 * the child.
 */
static _Noreturn void
kill_victim(struct ratelimit *rl, int churn, int fd)
{
	pid_t parent = getppid();
	unsigned char k[16];

	key_v6(k, 400);
	for (uint32_t i = 0;; i++) {
		if (churn)
			key_v6(k, CHURN_BASE + i % CHURN_KEYS);
		ratelimit_hit(rl, k, RL_CONNECTIONS, 0, 5000);
		if (i == 1000 && write(fd, "x", 1) != 1)
			_exit(2);
		if (i % 1024 == 0 && getppid() != parent)
			_exit(3);
	}
}

/* Start a kill_victim child, wait until it is counting, then SIGKILL it. */
static void
kill_one(struct ratelimit *rl, int churn)
{
	int fds[2], status;
	char c;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		kill_victim(rl, churn, fds[1]);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &c, 1), 1);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "child did not die of SIGKILL (status 0x%x)", status);
	close(fds[0]);
}

/*
 * Send log lines (stderr) to an anonymous file, to see the recovery
 * warnings, and let SIGALRM kill (Check's own handler, inherited by the
 * test process, reports it as SIGKILL). Each test runs in its own forked
 * process, so both stay there.
 */
static FILE *
capture_stderr(void)
{
	FILE *f = tmpfile();

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(dup2(fileno(f), STDERR_FILENO), STDERR_FILENO);
	/* A hang guarded by alarm() then shows as "Alarm clock". */
	ck_assert(signal(SIGALRM, SIG_DFL) != SIG_ERR);
	return f;
}

static off_t
captured_size(FILE *f)
{
	struct stat st;

	ck_assert_int_eq(fstat(fileno(f), &st), 0);
	return st.st_size;
}

static int
captured_has(FILE *f, const char *needle)
{
	char buf[1 << 16];
	size_t n;

	ck_assert_int_eq(fseek(f, 0, SEEK_SET), 0);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

#define RECOVERED "rate limit table: a process died holding its lock; recovered"
#define MIN_ROUNDS 20
#define MAX_ROUNDS 2000

/*
 * Kill a child counting on one key, again and again, at random points. The
 * count it leaves must be one the parent can go on from (its last event is
 * counted or not, nothing else), and the lock must never stay taken. Stop
 * once a kill has caught the child holding the lock (the parent's next
 * call logs the recovery) and enough rounds have passed.
 */
START_TEST(test_kill_while_counting)
{
	struct ratelimit *rl = make(64, 3600);
	FILE *errlog = capture_stderr();
	unsigned char k[16];
	unsigned long before = 0;
	int round, recoveries = 0;

	key_v6(k, 400);
	for (round = 0; round < MAX_ROUNDS; round++) {
		unsigned long c;
		off_t size;
		long n;

		kill_one(rl, 0);
		size = captured_size(errlog);
		alarm(HANG_GUARD);
		c = ratelimit_count(rl, k, RL_CONNECTIONS, 5000);
		n = ratelimit_hit(rl, k, RL_CONNECTIONS, 0, 5000);
		alarm(0);
		recoveries += captured_size(errlog) > size;
		/* The child did at least 1001 events, and no count goes back. */
		ck_assert_uint_ge(c, before + 1001);
		ck_assert_int_eq(n, (long)c + 1);
		ck_assert_uint_eq(ratelimit_count(rl, k, RL_CONNECTIONS, 5000), (unsigned long)n);
		before = (unsigned long)n;
		if (recoveries > 0 && round + 1 >= MIN_ROUNDS)
			break;
	}
	ck_assert_msg(recoveries > 0, "no kill caught the child holding the lock in %d rounds",
	    round);
	ck_assert(captured_has(errlog, RECOVERED));
	fclose(errlog);
	ratelimit_destroy(rl);
}
END_TEST

/*
 * The same with a child that adds a new client with every event in a small
 * table, so that it is also killed while adding and evicting. The table
 * never holds more clients than it has room for, and new clients are
 * still counted.
 */
START_TEST(test_kill_while_adding)
{
	enum { ROOM = 16 };
	struct ratelimit *rl = make(ROOM, 3600);
	FILE *errlog = capture_stderr();
	unsigned char k[16];
	int round, recoveries = 0;

	for (round = 0; round < MAX_ROUNDS; round++) {
		unsigned long present = 0;
		off_t size;

		kill_one(rl, 1);
		size = captured_size(errlog);
		key_v6(k, 1000000 + (uint32_t)round);
		alarm(HANG_GUARD);
		ck_assert_int_eq(ratelimit_hit(rl, k, RL_MESSAGES, 0, 5000), 1);
		ck_assert_int_eq(ratelimit_hit(rl, k, RL_MESSAGES, 0, 5000), 2);
		alarm(0);
		recoveries += captured_size(errlog) > size;
		ck_assert_uint_eq(ratelimit_count(rl, k, RL_MESSAGES, 5000), 2);
		for (uint32_t i = 0; i < CHURN_KEYS; i++) {
			key_v6(k, CHURN_BASE + i);
			present += ratelimit_count(rl, k, RL_CONNECTIONS, 5000) != 0;
		}
		ck_assert_uint_le(present, ROOM - 1);
		if (recoveries > 0 && round + 1 >= MIN_ROUNDS)
			break;
	}
	ck_assert_msg(recoveries > 0, "no kill caught the child holding the lock in %d rounds",
	    round);
	ck_assert(captured_has(errlog, RECOVERED));
	fclose(errlog);
	ratelimit_destroy(rl);
}
END_TEST

static Suite *
ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc;

	tc = tcase_create("window");
	tcase_add_test(tc, test_create_invalid);
	tcase_add_test(tc, test_count_in_window);
	tcase_add_test(tc, test_limit_refuses);
	tcase_add_test(tc, test_new_window);
	tcase_add_test(tc, test_window_length);
	tcase_add_test(tc, test_clock_back);
	tcase_add_test(tc, test_unlimited);
	tcase_add_test(tc, test_kinds_independent);
	tcase_add_test(tc, test_key_sockaddr);
	tcase_add_test(tc, test_clients_independent);
	tcase_add_test(tc, test_tables_independent);
	suite_add_tcase(s, tc);

	tc = tcase_create("full");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_one_client);
	tcase_add_test(tc, test_full_evicts_oldest);
	tcase_add_test(tc, test_full_evicts_ended_first);
	tcase_add_test(tc, test_full_room_for_all);
	tcase_add_test(tc, test_full_many_clients);
	suite_add_tcase(s, tc);

	tc = tcase_create("processes");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_concurrent_unlimited);
	tcase_add_test(tc, test_concurrent_limited);
	suite_add_tcase(s, tc);

	tc = tcase_create("sigkill");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_kill_while_counting);
	tcase_add_test(tc, test_kill_while_adding);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ratelimit_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
