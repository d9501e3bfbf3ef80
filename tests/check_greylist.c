/*
 * check_greylist - unit tests for greylist.c (store.c itself is tested by
 * check_store):
 *
 *  - the pure decision as scenarios with explicit times: first sight, the
 *    delay and its boundary, the pass after it, the retry window, expiry
 *    of waiting and passed triplets, a clock that went back, absurd
 *    stored times;
 *  - the auto-whitelist: one counted pass per hour, listing after N,
 *    auto_whitelist 0, manual entries, client expiry, and all of it
 *    through greylist_check();
 *  - keys: client networks for IPv4 and IPv6 prefixes, triplet keys, two
 *    hosts of one /24 sharing a triplet, addresses too long for a key;
 *  - sender normalisation (case, "+ext", BATV) and static whitelists;
 *  - greylisting on a real store: list, flush, delete, manual whitelist,
 *    purge.
 *
 * Time comes from tests/fake_clock.c, so nothing sleeps. Each test gets
 * its own directory under one /tmp directory per test case, which the
 * unchecked teardown removes even when a test failed (tests/store_fixture.c).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fake_clock.h"
#include "greylist.h"
#include "store.h"
#include "store_fixture.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Pure decision
 */

START_TEST(test_conf_defaults)
{
	struct greylist_conf gc;

	greylist_conf_defaults(&gc);
	ck_assert_int_eq(gc.delay, 300);
	ck_assert_int_eq(gc.retry_window, 172800);
	ck_assert_int_eq(gc.expire, 3024000);
	ck_assert_int_eq(gc.auto_whitelist, 5);
	ck_assert_int_eq(gc.ipv4_prefix, 24);
	ck_assert_int_eq(gc.ipv6_prefix, 64);
	ck_assert_int_eq(gc.reply_code, 450);
	ck_assert_str_eq(gc.reply_status, "4.7.1");
	ck_assert_str_eq(gc.reply_text, "Greylisted, please try again in %s seconds");
	ck_assert_int_eq(gc.on_store_error, GL_ON_ERROR_PASS);
	ck_assert_uint_eq(gc.whitelist_clients.n + gc.whitelist_senders.n, 0);
	greylist_conf_free(&gc);
	ck_assert_ptr_null(gc.reply_text);
	ck_assert_str_eq(greylist_verdict_name(GL_DEFER), "defer");
	ck_assert_str_eq(greylist_verdict_name(GL_PASS_DELAYED), "pass-delayed");
	ck_assert_str_eq(greylist_verdict_name(GL_ERROR), "error");
}
END_TEST

/*
 * Attempts of one triplet at T0 + at: the verdict, its number (left for
 * GL_DEFER, delayed for GL_PASS_DELAYED), and the record after it.
 */
struct step {
	long long at;
	enum gl_verdict v;
	long long n;
	unsigned attempts, passes;
	long long first;             /* offset from T0 */
};

#define EXP 3024000LL
#define WIN 172800LL

static const struct {
	const char *name;
	int delay, window;           /* 0: the default */
	struct step steps[6];        /* ends at attempts == 0 */
} scenarios[] = {
	{ "wait, pass delayed, pass", 0, 0, {
		{ 0, GL_DEFER, 300, 1, 0, 0 }, { 100, GL_DEFER, 200, 2, 0, 0 },
		{ 299, GL_DEFER, 1, 3, 0, 0 }, { 301, GL_PASS_DELAYED, 301, 4, 1, 0 },
		{ 5000, GL_PASS, 0, 5, 2, 0 } } },
	{ "exactly at the delay", 60, 0, {
		{ 0, GL_DEFER, 60, 1, 0, 0 }, { 60, GL_PASS_DELAYED, 60, 2, 1, 0 } } },
	{ "last second of the retry window", 0, 0, {
		{ 0, GL_DEFER, 300, 1, 0, 0 }, { WIN, GL_PASS_DELAYED, WIN, 2, 1, 0 } } },
	{ "retry window exceeded: the wait starts over", 0, 0, {
		{ 0, GL_DEFER, 300, 1, 0, 0 }, { WIN + 1, GL_DEFER, 300, 2, 0, WIN + 1 },
		{ WIN + 100, GL_DEFER, 201, 3, 0, WIN + 1 },
		{ WIN + 301, GL_PASS_DELAYED, 300, 4, 1, WIN + 1 } } },
	{ "a passed triplet expires", 0, 0, {
		{ 0, GL_DEFER, 300, 1, 0, 0 }, { 400, GL_PASS_DELAYED, 400, 2, 1, 0 },
		{ 400 + EXP, GL_PASS, 0, 3, 2, 0 },
		{ 401 + 2 * EXP, GL_DEFER, 300, 1, 0, 401 + 2 * EXP } } },
	{ "a waiting triplet expires", 0, 3 * EXP, {
		{ 0, GL_DEFER, 300, 1, 0, 0 }, { 10, GL_DEFER, 290, 2, 0, 0 },
		{ 11 + EXP, GL_DEFER, 300, 1, 0, 11 + EXP } } },
	{ "the clock goes back", 0, 0, {
		{ 0, GL_DEFER, 300, 1, 0, 0 }, { -1000, GL_DEFER, 300, 2, 0, 0 },
		{ 300, GL_PASS_DELAYED, 300, 3, 1, 0 }, { -86400, GL_PASS, 0, 4, 2, 0 } } },
};

START_TEST(test_decide)
{
	struct greylist_conf gc;
	struct gl_triplet t;
	struct gl_result r;

	greylist_conf_defaults(&gc);
	if (scenarios[_i].delay)
		gc.delay = scenarios[_i].delay;
	if (scenarios[_i].window)
		gc.retry_window = scenarios[_i].window;
	memset(&t, 0x5a, sizeof(t));  /* ignored while it does not exist */
	for (int s = 0; s < 6 && scenarios[_i].steps[s].attempts > 0; s++) {
		const struct step *st = &scenarios[_i].steps[s];

		memset(&r, 0x5a, sizeof(r));
		greylist_decide(&gc, &t, s > 0, (time_t)(T0 + st->at), &r);
		ck_assert_msg(r.verdict == st->v, "%s, step %d: %s", scenarios[_i].name, s,
		    greylist_verdict_name(r.verdict));
		if (st->v == GL_DEFER)
			ck_assert_int_eq(r.left, st->n);
		if (st->v == GL_PASS_DELAYED) {
			ck_assert_int_eq(r.delayed, st->n);
			ck_assert_int_eq(t.passed, T0 + st->at);
		}
		ck_assert_uint_eq(t.attempts, st->attempts);
		ck_assert_uint_eq(t.passes, st->passes);
		ck_assert_int_eq(t.first, T0 + st->first);
		ck_assert_int_eq(t.last, T0 + st->at);
		ck_assert(st->passes > 0 || t.passed == 0);
	}
	greylist_conf_free(&gc);
}
END_TEST

/* Absurd stored times: no overflow (UBSan watches), sane numbers, saturated counters. */
START_TEST(test_decide_absurd)
{
	struct greylist_conf gc;
	struct gl_triplet t = { INT64_MAX, INT64_MAX, 0, 7, 0 };
	struct gl_result r;

	greylist_conf_defaults(&gc);
	greylist_decide(&gc, &t, 1, T0, &r);
	ck_assert_int_eq(r.verdict, GL_DEFER);
	ck_assert_int_eq(r.left, 300);
	ck_assert_uint_eq(t.attempts, 8);
	t = (struct gl_triplet){ INT64_MIN, INT64_MIN, 0, UINT32_MAX, 0 };
	ck_assert(greylist_triplet_expired(&gc, &t, T0));
	greylist_decide(&gc, &t, 1, T0, &r);
	ck_assert_int_eq(r.verdict, GL_DEFER);
	ck_assert_uint_eq(t.attempts, 1);
	t = (struct gl_triplet){ INT64_MIN, T0, 0, UINT32_MAX, 0 };
	greylist_decide(&gc, &t, 1, T0, &r);
	ck_assert_int_eq(r.verdict, GL_DEFER);
	ck_assert_int_eq(r.left, 300);
	ck_assert_uint_eq(t.attempts, UINT32_MAX);
	t = (struct gl_triplet){ T0, T0, T0, UINT32_MAX, UINT32_MAX };
	greylist_decide(&gc, &t, 1, T0, &r);
	ck_assert_int_eq(r.verdict, GL_PASS);
	ck_assert_uint_eq(t.passes, UINT32_MAX);
	greylist_conf_free(&gc);
}
END_TEST

/*
 * Auto-whitelist
 */

START_TEST(test_count_hourly)
{
	struct gl_client c;

	memset(&c, 0x5a, sizeof(c));
	ck_assert_int_eq(greylist_count_pass(&c, 0, T0), 1);
	ck_assert_int_eq(c.first, T0);
	ck_assert_int_eq(c.last, T0);
	ck_assert_uint_eq(c.passes, 1);
	ck_assert_uint_eq(c.manual, 0);
	ck_assert_int_eq(greylist_count_pass(&c, 1, T0 + 1800), 0);
	ck_assert_int_eq(greylist_count_pass(&c, 1, T0 + 3599), 0);
	ck_assert_uint_eq(c.passes, 1);
	ck_assert_int_eq(greylist_count_pass(&c, 1, T0 + 3600), 1);
	ck_assert_uint_eq(c.passes, 2);
	ck_assert_int_eq(c.last, T0 + 3600);
	ck_assert_int_eq(c.first, T0);
	/* A clock that went back counts nothing. */
	ck_assert_int_eq(greylist_count_pass(&c, 1, T0 - 7200), 0);
	ck_assert_int_eq(c.last, T0 + 3600);
	ck_assert_uint_eq(c.passes, 2);
}
END_TEST

START_TEST(test_listed)
{
	struct greylist_conf gc;
	struct gl_client c, m = { .first = 5, .last = 5, .passes = 0, .manual = 1 };
	time_t now = T0;

	greylist_conf_defaults(&gc);
	greylist_count_pass(&c, 0, now);
	for (int i = 2; i <= 5; i++) {
		ck_assert_int_eq(greylist_client_listed(&gc, &c, now), 0);
		now += 3600;
		ck_assert_int_eq(greylist_count_pass(&c, 1, now), 1);
		ck_assert_uint_eq(c.passes, (unsigned)i);
	}
	ck_assert_int_eq(greylist_client_listed(&gc, &c, now), GL_PASS_AUTO);
	/* It expires like a triplet. */
	ck_assert_int_eq(greylist_client_listed(&gc, &c, now + EXP), GL_PASS_AUTO);
	ck_assert(!greylist_client_expired(&gc, &c, now + EXP));
	ck_assert(greylist_client_expired(&gc, &c, now + EXP + 1));
	ck_assert_int_eq(greylist_client_listed(&gc, &c, now + EXP + 1), 0);
	/* auto_whitelist 0 lists nobody automatically; manual entries never expire. */
	gc.auto_whitelist = 0;
	c.passes = 1000;
	ck_assert_int_eq(greylist_client_listed(&gc, &c, now), 0);
	ck_assert_int_eq(greylist_client_listed(&gc, &m, T0), GL_PASS_MANUAL);
	ck_assert(!greylist_client_expired(&gc, &m, (time_t)INT64_MAX));
	ck_assert_int_eq(greylist_client_listed(&gc, &m, (time_t)INT64_MAX), GL_PASS_MANUAL);
	greylist_conf_free(&gc);
}
END_TEST
/*
 * Keys
 */

static const struct {
	const char *addr;
	int v4, v6;
	const char *want;
} client_keys[] = {
	{ "192.0.2.77", 24, 64, "192.0.2.0/24" },
	{ "192.0.2.77", 32, 64, "192.0.2.77" },
	{ "192.0.2.200", 25, 64, "192.0.2.128/25" },
	{ "192.0.2.77", 16, 64, "192.0.0.0/16" },
	{ "192.0.2.77", 0, 64, "0.0.0.0/0" },
	{ "2001:db8:1:2:3:4:5:6", 24, 64, "2001:db8:1:2::/64" },
	{ "2001:db8:1:2:3:4:5:6", 24, 128, "2001:db8:1:2:3:4:5:6" },
	{ "2001:db8::7", 24, 128, "2001:db8::7" },
	{ "2001:db8:1:2ff::1", 24, 60, "2001:db8:1:2f0::/60" },
	{ "2001:db8:1:2:3:4:5:6", 24, 48, "2001:db8:1::/48" },
};

START_TEST(test_client_key)
{
	struct greylist_conf gc;
	unsigned char a[16];
	char out[64];

	greylist_conf_defaults(&gc);
	gc.ipv4_prefix = client_keys[_i].v4;
	gc.ipv6_prefix = client_keys[_i].v6;
	addr_of(client_keys[_i].addr, a);
	greylist_client_key(&gc, a, out, sizeof(out));
	ck_assert_str_eq(out, client_keys[_i].want);
	greylist_conf_free(&gc);
}
END_TEST

START_TEST(test_triplet_key)
{
	char out[16];

	ck_assert_uint_eq(greylist_triplet_key("c", "s", "r", out, sizeof(out)), 5);
	ck_assert_mem_eq(out, "c\0s\0r", 5);
	ck_assert_uint_eq(greylist_triplet_key("cc", "", "", out, sizeof(out)), 4);
	ck_assert_mem_eq(out, "cc\0\0", 4);
	ck_assert_uint_eq(greylist_triplet_key("client", "send", "rcpt", out, 16), 16);
	ck_assert_uint_eq(greylist_triplet_key("client", "sende", "rcpt", out, 16), 0);
}
END_TEST

/*
 * Sender normalisation
 */

static const struct {
	const char *in, *want;
} senders[] = {
	{ "User@Example.COM", "user@example.com" },
	{ "user+tag@example.com", "user@example.com" },
	{ "user+a+b@example.com", "user@example.com" },
	{ "user+@example.com", "user@example.com" },
	{ "prvs=0123abcdef=user@example.com", "user@example.com" },
	{ "PRVS=0123ABCDEF=User+List@Example.com", "user@example.com" },
	{ "prvs=1=user@example.com", "user@example.com" },
	{ "prvs==user@example.com", "prvs==user@example.com" },
	{ "prvs=user@example.com", "prvs=user@example.com" },
	{ "prvs=abc=@example.com", "prvs=abc=@example.com" },
	{ "Postmaster", "postmaster" },
	{ "user+ext", "user+ext" },
	{ "", "" },
	{ "user@ex+ample.com", "user@ex+ample.com" },
	{ "+user@example.com", "+user@example.com" },
	{ "a@b@Example.com", "a@b@example.com" },
};

START_TEST(test_normalize)
{
	char out[256];

	memset(out, 'z', sizeof(out));
	greylist_normalize_sender(senders[_i].in, out, sizeof(out));
	ck_assert_str_eq(out, senders[_i].want);
}
END_TEST

START_TEST(test_normalize_truncate)
{
	char out[8];

	greylist_normalize_sender("User+x@Example.com", out, sizeof(out));
	ck_assert_str_eq(out, "user@ex");
	greylist_normalize_sender("User@Example.com", out, 1);
	ck_assert_str_eq(out, "");
}
END_TEST

/*
 * Static whitelists
 */

START_TEST(test_whitelisted_pure)
{
	struct greylist_conf gc;
	unsigned char in[16], out[16];

	conf_with_lists(&gc);
	addr_of("203.0.113.9", in);
	addr_of("192.0.2.1", out);
	ck_assert(greylist_whitelisted(&gc, in, "x@y.net", "r@y.net"));
	ck_assert(!greylist_whitelisted(&gc, out, "x@y.net", "r@y.net"));
	ck_assert(greylist_whitelisted(&gc, out, "x@Example.ORG", "r@y.net"));
	ck_assert(!greylist_whitelisted(&gc, out, "x@sub.example.org", "r@y.net"));
	ck_assert(!greylist_whitelisted(&gc, out, "", "r@y.net"));
	ck_assert(greylist_whitelisted(&gc, out, "", "r@mail.example.com"));
	ck_assert(!greylist_whitelisted(&gc, out, "x@y.net", "r@example.com"));
	greylist_conf_free(&gc);
}
END_TEST

/*
 * Through the store
 */

START_TEST(test_auto_through_store)
{
	g_gc.auto_whitelist = 2;
	expect("192.0.2.10", S1, "r1@example.com", GL_DEFER);
	fake_clock_advance(300);
	expect("192.0.2.10", S1, "r1@example.com", GL_PASS_DELAYED);
	expect("192.0.2.10", S1, "r1@example.com", GL_PASS);
	ck_assert_int_eq(client_passes(NET1), 1);
	expect("192.0.2.11", "b@example.org", "r2@example.com", GL_DEFER);
	fake_clock_advance(3600);
	expect("192.0.2.10", S1, "r1@example.com", GL_PASS);
	ck_assert_int_eq(client_passes(NET1), 2);
	/* Listed now: a new triplet of the network passes and is not stored. */
	expect("192.0.2.99", "new@example.net", "r3@example.com", GL_PASS_AUTO);
	ck_assert_int_eq(count_db(STORE_TRIPLETS), 2);
	/* Expired: greylisted again, and the count starts over. */
	fake_clock_advance(3024001);
	expect("192.0.2.99", "new@example.net", "r3@example.com", GL_DEFER);
	fake_clock_advance(300);
	expect("192.0.2.99", "new@example.net", "r3@example.com", GL_PASS_DELAYED);
	ck_assert_int_eq(client_passes(NET1), 1);
	/* With auto_whitelist 0 no client record is kept. */
	g_gc.auto_whitelist = 0;
	expect("198.51.100.1", S1, R1, GL_DEFER);
	fake_clock_advance(300);
	expect("198.51.100.1", S1, R1, GL_PASS_DELAYED);
	ck_assert_int_eq(client_passes("198.51.100.0/24"), -1);
}
END_TEST

START_TEST(test_subnet_shares_triplet)
{
	expect("192.0.2.77", S1, R1, GL_DEFER);
	fake_clock_advance(301);
	ck_assert_int_eq(expect("192.0.2.78", S1, R1, GL_PASS_DELAYED), 301);
	/* Per host: the other host waits on its own. */
	g_gc.ipv4_prefix = 32;
	expect("192.0.2.77", S1, R1, GL_DEFER);
	fake_clock_advance(301);
	expect("192.0.2.77", S1, R1, GL_PASS_DELAYED);
	ck_assert_int_eq(expect("192.0.2.78", S1, R1, GL_DEFER), 300);
}
END_TEST

/* Addresses too long for an LMDB key still work, and stay apart when they differ early. */
START_TEST(test_long_addresses)
{
	char s[300], r1[300], r2[300];

	memset(s, 's', 280);
	strcpy(s + 280, "@example.org");
	memset(r1, 'r', 280);
	strcpy(r1 + 280, "@example.com");
	strcpy(r2, r1);
	r2[0] = 'x';
	expect("2001:db8:1:2:3:4:5:6", s, r1, GL_DEFER);
	expect("2001:db8:1:2:3:4:5:6", s, r2, GL_DEFER);
	ck_assert_int_eq(count_db(STORE_TRIPLETS), 2);
	fake_clock_advance(300);
	expect("2001:db8:1:2:3:4:5:6", s, r1, GL_PASS_DELAYED);
}
END_TEST

START_TEST(test_whitelist_store_untouched)
{
	greylist_conf_free(&g_gc);
	conf_with_lists(&g_gc);
	expect("203.0.113.9", "x@y.net", "r@y.net", GL_PASS_WHITELISTED);
	expect(A1, "x@example.org", "r@y.net", GL_PASS_WHITELISTED);
	expect(A1, "", "r@a.b.example.com", GL_PASS_WHITELISTED);
	ck_assert_int_eq(count_db(STORE_TRIPLETS), 0);
	ck_assert_int_eq(count_db(STORE_CLIENTS), 0);
	check_as(NULL, "203.0.113.9", "x@y.net", "r@y.net", GL_PASS_WHITELISTED);
}
END_TEST

START_TEST(test_store_list_flush)
{
	struct listed l;
	unsigned char a[16];

	expect(A1, S1, "r2@example.com", GL_DEFER);
	expect(A1, "", "r1@example.com", GL_DEFER);
	fake_clock_advance(300);
	expect(A1, "", "r1@example.com", GL_PASS_DELAYED);
	addr_of("2001:db8::7", a);
	ck_assert_int_eq(greylist_whitelist(g_st, &g_gc, a), 0);
	put_rec(STORE_TRIPLETS, "x\0y\0z", 5, "old", 3);  /* another layout: not listed */

	ck_assert_int_eq(list_all(&l, 0), 4);
	ck_assert_str_eq(l.text[0], "T 192.0.2.0/24||r1@example.com");
	ck_assert_int_eq(l.t[0].passed, T0 + 300);
	ck_assert_str_eq(l.text[1], "T 192.0.2.0/24|a@example.org|r2@example.com");
	ck_assert_uint_eq(l.t[1].attempts, 1);
	ck_assert_str_eq(l.text[2], "C 192.0.2.0/24");
	ck_assert(l.c[2].passes == 1 && l.c[2].manual == 0);
	ck_assert_str_eq(l.text[3], "C 2001:db8::/64");
	ck_assert_uint_eq(l.c[3].manual, 1);
	/* fn returning non-zero stops the walk. */
	ck_assert_int_eq(list_all(&l, 1), 1);

	ck_assert_int_eq(greylist_flush(g_st), 0);
	ck_assert_int_eq(count_db(STORE_TRIPLETS), 0);
	ck_assert_int_eq(count_db(STORE_CLIENTS), 0);
	ck_assert_int_eq(list_all(&l, 0), 0);
}
END_TEST

START_TEST(test_store_delete)
{
	expect(A1, S1, R1, GL_DEFER);
	fake_clock_advance(300);
	expect(A1, S1, R1, GL_PASS_DELAYED);
	ck_assert_int_eq(greylist_delete(g_st, NET1, S1, "x@example.com"), 0);
	ck_assert_int_eq(greylist_delete(g_st, NET1, S1, R1), 1);
	ck_assert_int_eq(greylist_delete(g_st, NET1, S1, R1), 0);
	ck_assert_int_eq(count_db(STORE_TRIPLETS), 0);
	ck_assert_int_eq(count_db(STORE_CLIENTS), 1);
	ck_assert_int_eq(greylist_delete(g_st, NET1, NULL, NULL), 1);
	ck_assert_int_eq(greylist_delete(g_st, NET1, NULL, NULL), 0);
	ck_assert_int_eq(count_db(STORE_CLIENTS), 0);
	/* Forgotten: greylisted again. */
	expect(A1, S1, R1, GL_DEFER);
}
END_TEST

START_TEST(test_store_manual_whitelist)
{
	struct gl_client c;
	unsigned char a[16];

	addr_of("198.51.100.7", a);
	ck_assert_int_eq(greylist_whitelist(g_st, &g_gc, a), 0);
	ck_assert_int_eq(get_rec(STORE_CLIENTS, "198.51.100.0/24", 15, &c, sizeof(c)), 1);
	ck_assert(c.first == T0 && c.manual == 1);
	expect("198.51.100.200", S1, R1, GL_PASS_MANUAL);
	ck_assert_int_eq(count_db(STORE_TRIPLETS), 0);
	fake_clock_advance(10LL * 3024000);
	ck_assert_int_eq(greylist_purge(g_st, &g_gc), 0);
	expect("198.51.100.1", S1, R1, GL_PASS_MANUAL);
	/* An auto record keeps its count when whitelisted by hand. */
	expect(A1, S1, R1, GL_DEFER);
	fake_clock_advance(300);
	expect(A1, S1, R1, GL_PASS_DELAYED);
	addr_of(A1, a);
	ck_assert_int_eq(greylist_whitelist(g_st, &g_gc, a), 0);
	ck_assert_int_eq(get_rec(STORE_CLIENTS, NET1, strlen(NET1), &c, sizeof(c)), 1);
	ck_assert(c.passes == 1 && c.manual == 1);
}
END_TEST

START_TEST(test_store_purge)
{
	struct gl_triplet tr;
	unsigned char a[16];

	addr_of("2001:db8::1", a);
	ck_assert_int_eq(greylist_whitelist(g_st, &g_gc, a), 0);
	expect(A1, S1, "waiting@example.com", GL_DEFER);
	expect(A1, S1, "passed@example.com", GL_DEFER);
	fake_clock_advance(300);
	expect(A1, S1, "passed@example.com", GL_PASS_DELAYED);
	ck_assert_int_eq(greylist_purge(g_st, &g_gc), 0);
	fake_clock_advance(1500000);
	expect(A1, S1, "passed@example.com", GL_PASS);
	fake_clock_advance(1524001);
	/* Only the waiting triplet is older than expire. */
	ck_assert_int_eq(greylist_purge(g_st, &g_gc), 1);
	ck_assert_int_eq(get_triplet(NET1, S1, "waiting@example.com", &tr), 0);
	ck_assert_int_eq(count_db(STORE_TRIPLETS), 1);
	/* A record of another layout goes too; the manual entry stays. */
	put_rec(STORE_CLIENTS, "junk", 4, "old", 3);
	fake_clock_advance(3024001);
	ck_assert_int_eq(greylist_purge(g_st, &g_gc), 3);
	ck_assert_int_eq(count_db(STORE_TRIPLETS), 0);
	ck_assert_int_eq(count_db(STORE_CLIENTS), 1);
	ck_assert_int_eq(greylist_purge(g_st, &g_gc), 0);
}
END_TEST

static Suite *
greylist_suite(void)
{
	Suite *s = suite_create("greylist");
	TCase *tc;

	tc = tcase_create("pure");
	tcase_add_test(tc, test_conf_defaults);
	tcase_add_loop_test(tc, test_decide, 0, NELEM(scenarios));
	tcase_add_test(tc, test_decide_absurd);
	tcase_add_test(tc, test_count_hourly);
	tcase_add_test(tc, test_listed);
	tcase_add_loop_test(tc, test_client_key, 0, NELEM(client_keys));
	tcase_add_test(tc, test_triplet_key);
	tcase_add_loop_test(tc, test_normalize, 0, NELEM(senders));
	tcase_add_test(tc, test_normalize_truncate);
	tcase_add_test(tc, test_whitelisted_pure);
	suite_add_tcase(s, tc);

	tc = tcase_create("store");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, top_setup, top_teardown);
	tcase_add_checked_fixture(tc, store_setup, store_teardown);
	tcase_add_test(tc, test_auto_through_store);
	tcase_add_test(tc, test_subnet_shares_triplet);
	tcase_add_test(tc, test_long_addresses);
	tcase_add_test(tc, test_whitelist_store_untouched);
	tcase_add_test(tc, test_store_list_flush);
	tcase_add_test(tc, test_store_delete);
	tcase_add_test(tc, test_store_manual_whitelist);
	tcase_add_test(tc, test_store_purge);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(greylist_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
