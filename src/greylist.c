/*
 * greylist - postgrey-like greylisting; see greylist.h.
 *
 * The decision functions are pure and take the time; greylist_check()
 * and the maintenance functions below them read clock_now() and do each
 * read-modify-write in one write transaction of the store, so workers
 * deciding about the same triplet at once are serialised by LMDB and no
 * attempt or pass is lost.
 *
 * Times in records come from the store, so they may be anything (a
 * damaged record, a clock that went back): every difference of two times
 * goes through gl_elapsed(), which never overflows and never goes
 * negative, and the counters saturate instead of wrapping.
 *
 * Keys: LMDB refuses keys longer than its maximum key size (511 octets in
 * the default build), and two SMTP paths of 256 octets each plus a client
 * network do not fit in that. A triplet whose key would be too long keeps
 * the client network whole and shortens the longer of sender and
 * recipient (both, to half the room each, when both are long); such
 * addresses then share a triplet with others of the same beginning,
 * which only makes greylisting a little weaker for them.
 *
 * DIAGNOSTICS: as in greylist.h; a record of the wrong size is treated as
 * absent when read, skipped when listed, and deleted by greylist_purge().
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "greylist.h"
#include "policy.h"
#include "store.h"
#include "xmalloc.h"

/* LMDB's maximum key size (mdb_env_get_maxkeysize() of the default build). */
#define GL_KEY_MAX 511

/* Passes of one client network count at most once in this many seconds. */
#define GL_COUNT_INTERVAL 3600

/* Room for a client network in text: an IPv6 address and "/128". */
#define GL_CLIENT_MAX (INET6_ADDRSTRLEN + 8)

void
greylist_conf_defaults(struct greylist_conf *gc)
{
	memset(gc, 0, sizeof(*gc));
	gc->delay = 300;
	gc->retry_window = 2 * 86400;
	gc->expire = 35 * 86400;
	gc->auto_whitelist = 5;
	gc->ipv4_prefix = 24;
	gc->ipv6_prefix = 64;
	gc->reply_code = 450;
	gc->reply_status = xstrdup("4.7.1");
	gc->reply_text = xstrdup("Greylisted, please try again in %s seconds");
	gc->on_store_error = GL_ON_ERROR_PASS;
}

static void
gl_domlist_free(struct domlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
}

void
greylist_conf_free(struct greylist_conf *gc)
{
	free(gc->reply_status);
	free(gc->reply_text);
	free(gc->whitelist_clients.nets);
	gl_domlist_free(&gc->whitelist_senders);
	gl_domlist_free(&gc->whitelist_recipients);
	memset(gc, 0, sizeof(*gc));
}

const char *
greylist_verdict_name(enum gl_verdict v)
{
	switch (v) {
	case GL_DEFER:
		return "defer";
	case GL_PASS_DELAYED:
		return "pass-delayed";
	case GL_PASS:
		return "pass";
	case GL_PASS_WHITELISTED:
		return "pass-whitelisted";
	case GL_PASS_AUTO:
		return "pass-auto-whitelisted";
	case GL_PASS_MANUAL:
		return "pass-manual-whitelist";
	case GL_ERROR:
		return "error";
	}
	return "unknown";
}

/* --- pure --- */

/* Seconds from then to now: 0 if now is not later, INT64_MAX at most. */
static int64_t
gl_elapsed(int64_t now, int64_t then)
{
	if (now <= then)
		return 0;
	if (then < 0 && now > INT64_MAX + then)
		return INT64_MAX;
	return now - then;
}

static uint32_t
gl_inc(uint32_t n)
{
	return n < UINT32_MAX ? n + 1 : n;
}

/* ASCII only: addresses are compared the same way whatever the locale. */
static char
gl_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Append n octets of s, lower-cased, to out as long as there is room for the NUL. */
static void
gl_emit(char *out, size_t outlen, size_t *pos, const char *s, size_t n)
{
	for (size_t i = 0; i < n && *pos + 1 < outlen; i++)
		out[(*pos)++] = gl_lower(s[i]);
	out[*pos] = '\0';
}

/*
 * The local part is everything before the last "@" (as policy_domain_in
 * takes the domain after it); a quoted local part is taken literally.
 *
 * BATV: "prvs=TAG=" at the start of the local part (any case) is removed
 * when TAG is not empty and holds neither "=" nor "@", and something is
 * left of the local part after it. Real tags are 10 characters
 * ("prvs=0123abcdef=user@..."); shorter and longer ones are accepted so
 * that variants of the scheme normalise too.
 *
 * Extension: from the first "+" of what is left of the local part up to
 * the "@". A local part starting with "+" has no base address to keep,
 * so it is left whole. A "+" in the domain is not touched. A string
 * without "@" (a bare "postmaster") is only lower-cased.
 */
void
greylist_normalize_sender(const char *sender, char *out, size_t outlen)
{
	const char *at, *local, *lend, *eq, *plus;
	size_t pos = 0;

	if (outlen == 0)
		return;
	if (sender == NULL)
		sender = "";
	at = strrchr(sender, '@');
	if (at == NULL) {
		gl_emit(out, outlen, &pos, sender, strlen(sender));
		return;
	}
	local = sender;
	lend = at;
	if (lend - local > 5 && strncasecmp(local, "prvs=", 5) == 0) {
		eq = memchr(local + 5, '=', (size_t)(lend - local - 5));
		if (eq != NULL && eq > local + 5 && eq + 1 < lend &&
		    memchr(local + 5, '@', (size_t)(eq - local - 5)) == NULL)
			local = eq + 1;
	}
	if (lend > local && *local != '+') {
		plus = memchr(local, '+', (size_t)(lend - local));
		if (plus != NULL)
			lend = plus;
	}
	gl_emit(out, outlen, &pos, local, (size_t)(lend - local));
	gl_emit(out, outlen, &pos, at, strlen(at));
}

/* Keep the first `prefix` bits of the len octets at a, clear the rest. */
static void
gl_mask(unsigned char *a, size_t len, int prefix)
{
	for (size_t i = 0; i < len; i++) {
		int bits = prefix - (int)(8 * i);

		if (bits >= 8)
			continue;
		a[i] = bits <= 0 ? 0 : (unsigned char)(a[i] & (0xff << (8 - bits)));
	}
}

static int
gl_clamp(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

void
greylist_client_key(const struct greylist_conf *gc, const unsigned char addr[16], char *out,
    size_t outlen)
{
	static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	unsigned char a[16];
	char txt[INET6_ADDRSTRLEN];
	int af, prefix, full;

	if (outlen == 0)
		return;
	if (memcmp(addr, v4mapped, sizeof(v4mapped)) == 0) {
		af = AF_INET;
		full = 32;
		prefix = gl_clamp(gc->ipv4_prefix, 0, 32);
		memcpy(a, addr + 12, 4);
		gl_mask(a, 4, prefix);
	} else {
		af = AF_INET6;
		full = 128;
		prefix = gl_clamp(gc->ipv6_prefix, 0, 128);
		memcpy(a, addr, 16);
		gl_mask(a, 16, prefix);
	}
	if (inet_ntop(af, a, txt, sizeof(txt)) == NULL)
		snprintf(txt, sizeof(txt), "?");
	if (prefix == full)
		snprintf(out, outlen, "%s", txt);
	else
		snprintf(out, outlen, "%s/%d", txt, prefix);
}

size_t
greylist_triplet_key(const char *client, const char *sender, const char *rcpt, char *out,
    size_t outlen)
{
	size_t cl = strlen(client), sl = strlen(sender), rl = strlen(rcpt);
	size_t len = cl + 1 + sl + 1 + rl;

	if (len > outlen)
		return 0;
	memcpy(out, client, cl);
	out[cl] = '\0';
	memcpy(out + cl + 1, sender, sl);
	out[cl + 1 + sl] = '\0';
	memcpy(out + cl + 2 + sl, rcpt, rl);
	return len;
}

int
greylist_whitelisted(const struct greylist_conf *gc, const unsigned char addr[16],
    const char *sender, const char *rcpt)
{
	if (policy_netlist_match(&gc->whitelist_clients, addr))
		return 1;
	if (sender != NULL && sender[0] != '\0' &&
	    policy_domain_in(&gc->whitelist_senders, sender))
		return 1;
	if (rcpt != NULL && policy_domain_in(&gc->whitelist_recipients, rcpt))
		return 1;
	return 0;
}

int
greylist_triplet_expired(const struct greylist_conf *gc, const struct gl_triplet *t, time_t now)
{
	return gl_elapsed((int64_t)now, t->last) > (int64_t)gc->expire;
}

int
greylist_client_expired(const struct greylist_conf *gc, const struct gl_client *c, time_t now)
{
	return !c->manual && gl_elapsed((int64_t)now, c->last) > (int64_t)gc->expire;
}

/*
 * A clock that went back makes the elapsed time 0: a waiting triplet
 * waits the whole delay again from now on rather than getting a negative
 * or huge number of seconds.
 */
void
greylist_decide(const struct greylist_conf *gc, struct gl_triplet *t, int exists, time_t now,
    struct gl_result *res)
{
	int64_t n = (int64_t)now, elapsed;

	res->left = 0;
	res->delayed = 0;
	if (!exists || greylist_triplet_expired(gc, t, now)) {
		t->first = t->last = n;
		t->passed = 0;
		t->attempts = 1;
		t->passes = 0;
		res->verdict = GL_DEFER;
		res->left = gc->delay;
		return;
	}
	t->attempts = gl_inc(t->attempts);
	t->last = n;
	if (t->passed != 0) {
		t->passes = gl_inc(t->passes);
		res->verdict = GL_PASS;
		return;
	}
	elapsed = gl_elapsed(n, t->first);
	if (elapsed > (int64_t)gc->retry_window) {
		/* Too late: the wait starts over. */
		t->first = n;
		res->verdict = GL_DEFER;
		res->left = gc->delay;
	} else if (elapsed < (int64_t)gc->delay) {
		res->verdict = GL_DEFER;
		res->left = (long long)((int64_t)gc->delay - elapsed);
	} else {
		/* passed == 0 means waiting, so a pass at time 0 is noted as 1. */
		t->passed = n != 0 ? n : 1;
		t->passes = 1;
		res->verdict = GL_PASS_DELAYED;
		res->delayed = (long long)elapsed;
	}
}

int
greylist_count_pass(struct gl_client *c, int exists, time_t now)
{
	int64_t n = (int64_t)now;

	if (!exists) {
		c->first = c->last = n;
		c->passes = 1;
		c->manual = 0;
		return 1;
	}
	/* A clock that went back gives 0 and counts nothing. */
	if (gl_elapsed(n, c->last) < GL_COUNT_INTERVAL)
		return 0;
	c->last = n;
	c->passes = gl_inc(c->passes);
	return 1;
}

int
greylist_client_listed(const struct greylist_conf *gc, const struct gl_client *c, time_t now)
{
	if (c->manual)
		return GL_PASS_MANUAL;
	if (gc->auto_whitelist > 0 && c->passes >= (uint32_t)gc->auto_whitelist &&
	    !greylist_client_expired(gc, c, now))
		return GL_PASS_AUTO;
	return 0;
}

/* --- through the store --- */

/* Lower-case rcpt into out (truncated). */
static void
gl_lower_copy(const char *s, char *out, size_t outlen)
{
	size_t pos = 0;

	gl_emit(out, outlen, &pos, s, strlen(s));
}

/*
 * Shorten sender and rcpt so that "CLIENT\0SENDER\0RCPT" fits GL_KEY_MAX
 * (see the top of the file).
 */
static void
gl_fit(size_t clen, char *sender, char *rcpt)
{
	size_t room = GL_KEY_MAX - clen - 2, half = room / 2;
	size_t sl = strlen(sender), rl = strlen(rcpt);

	if (sl + rl <= room)
		return;
	if (sl <= half) {
		rl = room - sl;
	} else if (rl <= half) {
		sl = room - rl;
	} else {
		sl = half;
		rl = room - half;
	}
	sender[sl] = '\0';
	rcpt[rl] = '\0';
}

static void
gl_error(struct gl_result *res, const char *text)
{
	res->verdict = GL_ERROR;
	snprintf(res->error, sizeof(res->error), "%s", text);
}

void
greylist_check(struct store *st, const struct greylist_conf *gc, const unsigned char addr[16],
    const char *sender, const char *rcpt, struct gl_result *res)
{
	char client[GL_CLIENT_MAX], snorm[GL_KEY_MAX + 1], rnorm[GL_KEY_MAX + 1];
	char key[GL_KEY_MAX];
	struct store_txn *t = NULL;
	struct gl_triplet trip;
	struct gl_client c;
	size_t clen, klen;
	time_t now;
	int crc, trc, listed;

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	if (sender == NULL)
		sender = "";
	if (rcpt == NULL)
		rcpt = "";
	if (greylist_whitelisted(gc, addr, sender, rcpt)) {
		res->verdict = GL_PASS_WHITELISTED;
		return;
	}
	if (st == NULL) {
		gl_error(res, "greylist store is not open");
		return;
	}
	now = clock_now();
	greylist_client_key(gc, addr, client, sizeof(client));
	clen = strlen(client);
	if (store_begin(st, 1, &t) < 0)
		goto fail;

	if ((crc = store_get(t, STORE_CLIENTS, client, clen, &c, sizeof(c))) < 0)
		goto fail;
	listed = crc == 1 ? greylist_client_listed(gc, &c, now) : 0;
	if (listed != 0) {
		res->verdict = (enum gl_verdict)listed;
		if (listed == GL_PASS_AUTO && greylist_count_pass(&c, 1, now) &&
		    store_put(t, STORE_CLIENTS, client, clen, &c, sizeof(c)) < 0)
			goto fail;
	} else {
		greylist_normalize_sender(sender, snorm, sizeof(snorm));
		gl_lower_copy(rcpt, rnorm, sizeof(rnorm));
		gl_fit(clen, snorm, rnorm);
		klen = greylist_triplet_key(client, snorm, rnorm, key, sizeof(key));
		if ((trc = store_get(t, STORE_TRIPLETS, key, klen, &trip, sizeof(trip))) < 0)
			goto fail;
		greylist_decide(gc, &trip, trc, now, res);
		if (store_put(t, STORE_TRIPLETS, key, klen, &trip, sizeof(trip)) < 0)
			goto fail;
		/* An expired client record counts from scratch; with auto_whitelist 0 none is kept. */
		if ((res->verdict == GL_PASS || res->verdict == GL_PASS_DELAYED) &&
		    gc->auto_whitelist > 0 &&
		    greylist_count_pass(&c, crc == 1 && !greylist_client_expired(gc, &c, now), now) &&
		    store_put(t, STORE_CLIENTS, client, clen, &c, sizeof(c)) < 0)
			goto fail;
	}
	if (store_commit(t) < 0) {
		t = NULL;
		goto fail;
	}
	return;

fail:
	store_abort(t);
	memset(res, 0, sizeof(*res));
	gl_error(res, store_strerror(st));
}

struct gl_list_ctx {
	int (*fn)(const struct gl_entry *e, void *arg);
	void *arg;
	int stopped;
};

/* Keys longer than LMDB allows cannot be in the store; this is room to spare. */
#define GL_LIST_KEY_MAX 1024

static int
gl_list_triplet(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct gl_list_ctx *ctx = arg;
	char buf[GL_LIST_KEY_MAX + 1];
	struct gl_triplet t;
	struct gl_entry e;
	char *nul1, *nul2;

	if (vlen != sizeof(t) || klen > GL_LIST_KEY_MAX)
		return STORE_KEEP;
	memcpy(buf, key, klen);
	buf[klen] = '\0';
	if ((nul1 = memchr(buf, '\0', klen)) == NULL ||
	    (nul2 = memchr(nul1 + 1, '\0', klen - (size_t)(nul1 + 1 - buf))) == NULL)
		return STORE_KEEP;
	memcpy(&t, val, sizeof(t));
	memset(&e, 0, sizeof(e));
	e.client = buf;
	e.sender = nul1 + 1;
	e.rcpt = nul2 + 1;
	e.t = &t;
	if (ctx->fn(&e, ctx->arg) != 0) {
		ctx->stopped = 1;
		return STORE_STOP;
	}
	return STORE_KEEP;
}

static int
gl_list_client(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct gl_list_ctx *ctx = arg;
	char buf[GL_LIST_KEY_MAX + 1];
	struct gl_client c;
	struct gl_entry e;

	if (vlen != sizeof(c) || klen > GL_LIST_KEY_MAX)
		return STORE_KEEP;
	memcpy(buf, key, klen);
	buf[klen] = '\0';
	memcpy(&c, val, sizeof(c));
	memset(&e, 0, sizeof(e));
	e.client = buf;
	e.c = &c;
	if (ctx->fn(&e, ctx->arg) != 0) {
		ctx->stopped = 1;
		return STORE_STOP;
	}
	return STORE_KEEP;
}

int
greylist_list(struct store *st, int (*fn)(const struct gl_entry *e, void *arg), void *arg)
{
	struct gl_list_ctx ctx = { fn, arg, 0 };
	struct store_txn *t;
	int rc = 0;

	if (store_begin(st, 0, &t) < 0)
		return -1;
	if (store_foreach(t, STORE_TRIPLETS, gl_list_triplet, &ctx) < 0)
		rc = -1;
	else if (!ctx.stopped && store_foreach(t, STORE_CLIENTS, gl_list_client, &ctx) < 0)
		rc = -1;
	store_abort(t);
	return rc;
}

int
greylist_flush(struct store *st)
{
	struct store_txn *t;

	if (store_begin(st, 1, &t) < 0)
		return -1;
	if (store_clear(t, STORE_TRIPLETS) < 0 || store_clear(t, STORE_CLIENTS) < 0) {
		store_abort(t);
		return -1;
	}
	return store_commit(t);
}

int
greylist_whitelist(struct store *st, const struct greylist_conf *gc,
    const unsigned char addr[16])
{
	char client[GL_CLIENT_MAX];
	struct store_txn *t;
	struct gl_client c;
	size_t clen;
	int rc;

	greylist_client_key(gc, addr, client, sizeof(client));
	clen = strlen(client);
	if (store_begin(st, 1, &t) < 0)
		return -1;
	if ((rc = store_get(t, STORE_CLIENTS, client, clen, &c, sizeof(c))) < 0)
		goto fail;
	if (rc == 0) {
		memset(&c, 0, sizeof(c));
		c.first = c.last = (int64_t)clock_now();
	}
	c.manual = 1;
	if (store_put(t, STORE_CLIENTS, client, clen, &c, sizeof(c)) < 0)
		goto fail;
	return store_commit(t);

fail:
	store_abort(t);
	return -1;
}

/* A lone NULL of sender and rcpt is taken as "". */
int
greylist_delete(struct store *st, const char *client, const char *sender, const char *rcpt)
{
	char key[GL_KEY_MAX];
	struct store_txn *t;
	enum store_db db;
	size_t klen;
	int rc;

	if (sender == NULL && rcpt == NULL) {
		db = STORE_CLIENTS;
		klen = strlen(client);
		if (klen > sizeof(key))
			return 0;
		memcpy(key, client, klen);
	} else {
		db = STORE_TRIPLETS;
		klen = greylist_triplet_key(client, sender ? sender : "", rcpt ? rcpt : "", key,
		    sizeof(key));
		if (klen == 0)
			return 0;  /* too long to have been stored */
	}
	if (store_begin(st, 1, &t) < 0)
		return -1;
	if ((rc = store_del(t, db, key, klen)) < 0) {
		store_abort(t);
		return -1;
	}
	if (store_commit(t) < 0)
		return -1;
	return rc;
}

struct gl_purge_ctx {
	const struct greylist_conf *gc;
	time_t now;
};

static int
gl_purge_triplet(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	const struct gl_purge_ctx *ctx = arg;
	struct gl_triplet t;

	(void)key;
	(void)klen;
	if (vlen != sizeof(t))
		return STORE_DELETE;
	memcpy(&t, val, sizeof(t));
	return greylist_triplet_expired(ctx->gc, &t, ctx->now) ? STORE_DELETE : STORE_KEEP;
}

static int
gl_purge_client(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	const struct gl_purge_ctx *ctx = arg;
	struct gl_client c;

	(void)key;
	(void)klen;
	if (vlen != sizeof(c))
		return STORE_DELETE;
	memcpy(&c, val, sizeof(c));
	return greylist_client_expired(ctx->gc, &c, ctx->now) ? STORE_DELETE : STORE_KEEP;
}

/* Records of the wrong size can never be read back, so they go too. */
long
greylist_purge(struct store *st, const struct greylist_conf *gc)
{
	struct gl_purge_ctx ctx = { gc, clock_now() };
	struct store_txn *t;
	long n1, n2;

	if (store_begin(st, 1, &t) < 0)
		return -1;
	if ((n1 = store_foreach(t, STORE_TRIPLETS, gl_purge_triplet, &ctx)) < 0 ||
	    (n2 = store_foreach(t, STORE_CLIENTS, gl_purge_client, &ctx)) < 0) {
		store_abort(t);
		return -1;
	}
	if (store_commit(t) < 0)
		return -1;
	return n1 + n2;
}
