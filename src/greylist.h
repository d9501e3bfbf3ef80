/*
 * greylist - greylisting after postgrey: the decision (pure, time passed
 * in) and its application to the shared store.
 *
 * A delivery attempt is identified by its triplet: the client network
 * (the IPv4 /24 or IPv6 /64 the client is in by default; with prefixes
 * 32 and 128 the full address), the normalised sender and the recipient.
 * The first attempt of a triplet is deferred; a retry at least `delay`
 * seconds after the first attempt, and at most `retry_window` seconds
 * after it, passes, and from then on the triplet passes at once. A
 * triplet not seen for `expire` seconds is forgotten. A retry after the
 * retry window starts the wait over.
 *
 * Auto-whitelist: every pass of a triplet counts for its client network,
 * at most once per hour; a network with `auto_whitelist` counted passes
 * skips greylisting (0 turns this off). A network whitelisted through the
 * control socket skips it until flushed or deleted. Both kinds expire like
 * triplets (manual entries never do).
 *
 * Normalising the sender: lower case; a BATV tag ("prvs=TAG=user@..."),
 * and a "+extension" of the local part, are removed. The recipient is
 * lower-cased. The null sender <> is kept as the empty string.
 *
 * Keys in the store: a triplet is "CLIENT\0SENDER\0RCPT" (no terminating
 * NUL), a client network "CLIENT", where CLIENT is the network in text,
 * "192.0.2.0/24", "2001:db8:1:2::/64", or a bare address for a full-length
 * prefix ("192.0.2.7", "2001:db8::7"). Values are struct gl_triplet and
 * struct gl_client, in host byte order. LMDB keys are at most 511 octets:
 * when a triplet's key would be longer, the longer of sender and
 * recipient is shortened (both, if both are long), so two such very long
 * addresses may share a triplet.
 *
 * Time: the pure functions take `now`; greylist_check() and the other
 * store functions read clock_now(), so the daemon's clock (which tests
 * advance through the control socket) decides, and unit tests link a
 * fake clock.
 *
 * DIAGNOSTICS: a store that cannot be read or written (full, damaged,
 * missing) makes greylist_check() return GL_ERROR with the store's error
 * text in the result; the caller applies greylist.on_store_error. The
 * other store functions return -1 and leave the reason in
 * store_strerror().
 */
#ifndef SMTPTRAP_GREYLIST_H
#define SMTPTRAP_GREYLIST_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "policy.h"

struct store;

enum gl_on_error { GL_ON_ERROR_PASS = 0, GL_ON_ERROR_DEFER };

/* The greylist group of the configuration. */
struct greylist_conf {
	int delay;                 /* seconds; default 300 */
	int retry_window;          /* seconds; default 2 days */
	int expire;                /* seconds; default 35 days */
	int auto_whitelist;        /* counted passes; default 5, 0 = off */
	int ipv4_prefix;           /* 0..32; default 24 */
	int ipv6_prefix;           /* 0..128; default 64 */
	struct netlist whitelist_clients;
	struct domlist whitelist_senders;
	struct domlist whitelist_recipients;
	int reply_code;            /* default 450 */
	char *reply_status;        /* default "4.7.1" */
	char *reply_text;          /* %s seconds left, %r recipient domain, %% */
	int on_store_error;        /* enum gl_on_error; default pass */
};

/* A triplet's record. */
struct gl_triplet {
	int64_t first;             /* first attempt of the current wait */
	int64_t last;              /* last attempt */
	int64_t passed;            /* when it first passed; 0 = still waiting */
	uint32_t attempts;         /* attempts seen, deferred ones included */
	uint32_t passes;           /* passes since it first passed */
};

/* A client network's auto-whitelist record. */
struct gl_client {
	int64_t first;             /* first counted pass */
	int64_t last;              /* last counted pass */
	uint32_t passes;           /* counted passes (at most one per hour) */
	uint32_t manual;           /* whitelisted through the control socket */
};

enum gl_verdict {
	GL_DEFER,            /* greylisted: res->left seconds until a retry can pass */
	GL_PASS_DELAYED,     /* first pass after the wait: res->delayed seconds */
	GL_PASS,             /* the triplet passed before */
	GL_PASS_WHITELISTED, /* a static whitelist of the configuration */
	GL_PASS_AUTO,        /* the client network is auto-whitelisted */
	GL_PASS_MANUAL,      /* the client network was whitelisted by hand */
	GL_ERROR,            /* the store failed: res->error says why */
};

struct gl_result {
	enum gl_verdict verdict;
	long long left;            /* GL_DEFER */
	long long delayed;         /* GL_PASS_DELAYED */
	char error[160];           /* GL_ERROR */
};

/* Built-in defaults (the strings are allocated). */
void greylist_conf_defaults(struct greylist_conf *gc);
void greylist_conf_free(struct greylist_conf *gc);

const char *greylist_verdict_name(enum gl_verdict v);

/* --- pure --- */

/* The normalised sender ("" for <>), truncated to outlen - 1. */
void greylist_normalize_sender(const char *sender, char *out, size_t outlen);

/* The client network of addr (16 octets, IPv4 v4-mapped) in text. */
void greylist_client_key(const struct greylist_conf *gc, const unsigned char addr[16], char *out,
    size_t outlen);

/*
 * "CLIENT\0SENDER\0RCPT" from the parts as given (already normalised);
 * returns its length, or 0 if it does not fit in outlen.
 */
size_t greylist_triplet_key(const char *client, const char *sender, const char *rcpt, char *out,
    size_t outlen);

/* Does a static whitelist of the configuration cover this attempt? */
int greylist_whitelisted(const struct greylist_conf *gc, const unsigned char addr[16],
    const char *sender, const char *rcpt);

/*
 * Decide an attempt of a triplet at `now`: t is its record (ignored when
 * exists is 0) and is updated for storing back. Sets res->verdict to
 * GL_DEFER (res->left), GL_PASS_DELAYED (res->delayed) or GL_PASS.
 */
void greylist_decide(const struct greylist_conf *gc, struct gl_triplet *t, int exists, time_t now,
    struct gl_result *res);

/*
 * Count a pass for a client network at `now` (at most once per hour).
 * c is ignored when exists is 0 and is updated. Returns 1 if c changed.
 */
int greylist_count_pass(struct gl_client *c, int exists, time_t now);

/* Does the record whitelist its network at `now`? 0, GL_PASS_AUTO or GL_PASS_MANUAL. */
int greylist_client_listed(const struct greylist_conf *gc, const struct gl_client *c, time_t now);

/* Expired at `now`: not seen for longer than gc->expire (manual clients never). */
int greylist_triplet_expired(const struct greylist_conf *gc, const struct gl_triplet *t, time_t now);
int greylist_client_expired(const struct greylist_conf *gc, const struct gl_client *c, time_t now);

/* --- through the store; time from clock_now() --- */

/*
 * Decide a delivery attempt (sender as in MAIL FROM, "" for <>; rcpt as
 * in RCPT TO) and record it, in one write transaction. st may be NULL
 * (no store): GL_ERROR, unless a static whitelist passes it first.
 */
void greylist_check(struct store *st, const struct greylist_conf *gc, const unsigned char addr[16],
    const char *sender, const char *rcpt, struct gl_result *res);

/* One record, for listing. */
struct gl_entry {
	const char *client;
	const char *sender;        /* NULL for a client record */
	const char *rcpt;          /* NULL for a client record */
	const struct gl_triplet *t; /* NULL for a client record */
	const struct gl_client *c; /* NULL for a triplet */
};

/* Call fn for every triplet, then every client record; fn returns 0 to go on. 0 or -1. */
int greylist_list(struct store *st, int (*fn)(const struct gl_entry *e, void *arg), void *arg);

/* Forget every triplet and client record. 0 or -1. */
int greylist_flush(struct store *st);

/* Whitelist the client network of addr by hand. 0 or -1. */
int greylist_whitelist(struct store *st, const struct greylist_conf *gc,
    const unsigned char addr[16]);

/*
 * Delete a triplet (parts as listed: client network text, normalised
 * sender, recipient), or with sender and rcpt NULL a client record.
 * 1 deleted, 0 not found, -1 error.
 */
int greylist_delete(struct store *st, const char *client, const char *sender, const char *rcpt);

/* Delete expired records; the number deleted, or -1. */
long greylist_purge(struct store *st, const struct greylist_conf *gc);

#endif
