/*
 * store_fixture - helpers shared by check_greylist and check_store; see
 * store_fixture.h.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fake_clock.h"
#include "greylist.h"
#include "store.h"
#include "store_fixture.h"
#include "xmalloc.h"

char topdir[128], testdir[192], dbpath[256];

struct store *g_st;
struct greylist_conf g_gc;

void
addr_of(const char *s, unsigned char out[16])
{
	unsigned char a4[4];

	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, a4) == 1) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, a4, 4);
		return;
	}
	ck_assert_msg(inet_pton(AF_INET6, s, out) == 1, "bad test address '%s'", s);
}

struct store *
open_at(const char *path, size_t map_size)
{
	char err[256] = "";
	struct store *st = store_open(path, map_size, 0, err, sizeof(err));

	ck_assert_msg(st != NULL, "store_open: %s", err);
	ck_assert_str_eq(store_strerror(st), "");
	return st;
}

void
top_setup(void)
{
	snprintf(topdir, sizeof(topdir), "/tmp/%s.XXXXXX", program_invocation_short_name);
	if (mkdtemp(topdir) == NULL) {
		perror("mkdtemp");
		abort();
	}
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

void
top_teardown(void)
{
	nftw(topdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void
store_setup(void)
{
	fake_clock_set(T0);
	snprintf(testdir, sizeof(testdir), "%s/t.XXXXXX", topdir);
	ck_assert_ptr_nonnull(mkdtemp(testdir));
	snprintf(dbpath, sizeof(dbpath), "%s/greylist.db", testdir);
	g_st = open_at(dbpath, MAP_SIZE);
	greylist_conf_defaults(&g_gc);
}

void
store_teardown(void)
{
	store_close(g_st);
	g_st = NULL;
	greylist_conf_free(&g_gc);
}

long
count_db(enum store_db db)
{
	struct store_txn *t;
	long n;

	ck_assert_int_eq(store_begin(g_st, 0, &t), 0);
	n = store_count(t, db);
	store_abort(t);
	return n;
}

int
get_rec(enum store_db db, const char *key, size_t klen, void *val, size_t vlen)
{
	struct store_txn *t;
	int rc;

	ck_assert_int_eq(store_begin(g_st, 0, &t), 0);
	rc = store_get(t, db, key, klen, val, vlen);
	store_abort(t);
	ck_assert_int_ge(rc, 0);
	return rc;
}

void
put_rec(enum store_db db, const char *key, size_t klen, const void *val, size_t vlen)
{
	struct store_txn *t;

	ck_assert_int_eq(store_begin(g_st, 1, &t), 0);
	ck_assert_int_eq(store_put(t, db, key, klen, val, vlen), 0);
	ck_assert_int_eq(store_commit(t), 0);
}

int
get_triplet(const char *client, const char *sender, const char *rcpt, struct gl_triplet *tr)
{
	char key[1100];
	size_t klen = greylist_triplet_key(client, sender, rcpt, key, sizeof(key));

	ck_assert_uint_gt(klen, 0);
	return get_rec(STORE_TRIPLETS, key, klen, tr, sizeof(*tr));
}

long
client_passes(const char *client)
{
	struct gl_client c;

	return get_rec(STORE_CLIENTS, client, strlen(client), &c, sizeof(c)) ? (long)c.passes : -1;
}

struct gl_result
check_as(struct store *st, const char *ip, const char *sender, const char *rcpt,
    enum gl_verdict want)
{
	struct gl_result res;
	unsigned char a[16];

	addr_of(ip, a);
	greylist_check(st, &g_gc, a, sender, rcpt, &res);
	ck_assert_msg(res.verdict == want, "%s <%s> <%s>: %s, want %s (%s)", ip, sender, rcpt,
	    greylist_verdict_name(res.verdict), greylist_verdict_name(want), res.error);
	return res;
}

long long
expect(const char *ip, const char *sender, const char *rcpt, enum gl_verdict want)
{
	struct gl_result r = check_as(g_st, ip, sender, rcpt, want);

	return want == GL_DEFER ? r.left : r.delayed;
}

void
conf_with_lists(struct greylist_conf *gc)
{
	greylist_conf_defaults(gc);
	gc->whitelist_clients.nets = xcalloc(1, sizeof(struct cidr));
	gc->whitelist_clients.n = 1;
	ck_assert_int_eq(policy_cidr_parse("203.0.113.0/24", &gc->whitelist_clients.nets[0]), 0);
	gc->whitelist_senders.names = xcalloc(1, sizeof(char *));
	gc->whitelist_senders.names[0] = xstrdup("example.org");
	gc->whitelist_senders.n = 1;
	gc->whitelist_recipients.names = xcalloc(1, sizeof(char *));
	gc->whitelist_recipients.names[0] = xstrdup(".example.com");
	gc->whitelist_recipients.n = 1;
}

static int
collect(const struct gl_entry *e, void *arg)
{
	struct listed *l = arg;

	ck_assert_int_lt(l->n, 8);
	if (e->t != NULL) {
		ck_assert_ptr_null(e->c);
		snprintf(l->text[l->n], sizeof(l->text[0]), "T %s|%s|%s", e->client, e->sender, e->rcpt);
		l->t[l->n] = *e->t;
	} else {
		ck_assert(e->sender == NULL && e->rcpt == NULL);
		snprintf(l->text[l->n], sizeof(l->text[0]), "C %s", e->client);
		l->c[l->n] = *e->c;
	}
	return ++l->n == l->stop_after;
}

int
list_all(struct listed *l, int stop_after)
{
	memset(l, 0, sizeof(*l));
	l->stop_after = stop_after;
	ck_assert_int_eq(greylist_list(g_st, collect, l), 0);
	return l->n;
}
