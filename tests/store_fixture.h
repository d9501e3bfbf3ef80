/*
 * store_fixture - what check_greylist and check_store share: a temporary
 * directory per test case, a fresh store per test on the fake clock,
 * one-record reads and writes in their own transactions, and
 * greylist_check() with its verdict asserted.
 *
 * The directory of a test case is /tmp/PROGRAM.XXXXXX (PROGRAM: the test
 * binary's name); the unchecked teardown removes it even when a test
 * failed.
 */
#ifndef SMTPTRAP_STORE_FIXTURE_H
#define SMTPTRAP_STORE_FIXTURE_H

#include <stddef.h>

#include "greylist.h"
#include "store.h"

#define MAP_SIZE (16 * 1024 * 1024)
#define T0 1000000000

/* One client, its network with the default prefix, a sender and a recipient. */
#define A1 "192.0.2.1"
#define NET1 "192.0.2.0/24"
#define S1 "a@example.org"
#define R1 "r@example.com"

/* The test case's directory, the test's own directory in it, its store file. */
extern char topdir[128], testdir[192], dbpath[256];

/* The test's handle (on dbpath) and configuration (the defaults). */
extern struct store *g_st;
extern struct greylist_conf g_gc;

/* The 16-octet form of a numeric address: v4-mapped for IPv4. */
void addr_of(const char *s, unsigned char out[16]);
/* store_open() that must succeed. */
struct store *open_at(const char *path, size_t map_size);

/* Unchecked fixture: the test case's directory. */
void top_setup(void);
void top_teardown(void);
/* Checked fixture: a fresh directory, the clock at T0, the store open, default configuration. */
void store_setup(void);
void store_teardown(void);

/* Records in db of g_st. */
long count_db(enum store_db db);
/* Read one record in its own transaction: 1 found, 0 absent. */
int get_rec(enum store_db db, const char *key, size_t klen, void *val, size_t vlen);
void put_rec(enum store_db db, const char *key, size_t klen, const void *val, size_t vlen);
int get_triplet(const char *client, const char *sender, const char *rcpt, struct gl_triplet *tr);
/* The counted passes of a client network; -1 without a record. */
long client_passes(const char *client);

/* greylist_check from a numeric address, asserting the verdict. */
struct gl_result check_as(struct store *st, const char *ip, const char *sender, const char *rcpt,
    enum gl_verdict want);
/* The same through g_st; the number the verdict comes with. */
long long expect(const char *ip, const char *sender, const char *rcpt, enum gl_verdict want);

/*
 * Defaults plus static whitelists: clients 203.0.113.0/24, senders of
 * example.org, recipients under .example.com.
 */
void conf_with_lists(struct greylist_conf *gc);

/* greylist_list() of g_st, up to 8 entries, stopping after stop_after (0: never). */
struct listed {
	int n, stop_after;
	char text[8][160];
	struct gl_triplet t[8];
	struct gl_client c[8];
};

int list_all(struct listed *l, int stop_after);

#endif
