/*
 * ratelimit - per-client event rates in shared memory; see ratelimit.h.
 *
 * The whole table is one flat anonymous shared mapping, so it holds no
 * pointers: a header (the robust mutex and the sizes) followed by a power
 * of two of entries, at least twice as many as the clients it must hold.
 * A client's entry is one of the RL_PROBE slots starting at the hash of
 * its address. Lookups look at all of those slots instead of stopping at
 * the first empty one, so removing a client is one store (its `used`
 * flag) and needs no tombstones or moving of other entries.
 *
 * Surviving SIGKILL: a worker can be cut off between any two stores it
 * makes while holding the mutex, and the next locker just carries on with
 * what it finds. So every update is written in an order whose every
 * prefix is harmless, and the store that makes it take effect comes last
 * (rl_publish, a release store, also keeps the compiler from reordering
 * the stores before it, which is all that matters against a kill):
 *
 *  - a new client's entry is filled first and marked used last, so a cut
 *    leaves a free slot with junk in it;
 *  - a new window stores the count 1 before the new start, so a cut leaves
 *    the old, ended window with a count that is reset again next time;
 *  - `live` (the number of used entries) is raised before an entry is
 *    marked used and lowered after one is marked free, so it is never too
 *    low: the table never holds more than `clients` clients, and a count
 *    left too high is corrected by the next full scan (rl_evict).
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "ratelimit.h"

/* Slots a client's entry may be in, starting at its hash. */
#define RL_PROBE 16

struct rl_entry {
	unsigned char key[16];
	time_t start[RL_KINDS];          /* start of each kind's window */
	unsigned long count[RL_KINDS];   /* events in it; 0 = no window */
	unsigned char used;              /* holds a client; stored last */
};

struct ratelimit {
	pthread_mutex_t lock;            /* process-shared, robust */
	size_t mapsize;                  /* the fields up to live never change */
	size_t clients;
	size_t mask;                     /* slots - 1 */
	size_t probe;
	time_t window;
	size_t live;                     /* used entries, or more after a kill */
	struct rl_entry slots[];
};

#define rl_publish(lv, v) __atomic_store_n(&(lv), (v), __ATOMIC_RELEASE)

struct ratelimit *
ratelimit_create(size_t clients, int window)
{
	pthread_mutexattr_t attr;
	struct ratelimit *rl;
	size_t slots = 1, size;
	int rc;

	if (clients == 0 || window < 1) {
		errno = EINVAL;
		return NULL;
	}
	if (clients > SIZE_MAX / 2) {
		errno = ENOMEM;
		return NULL;
	}
	while (slots < clients * 2) {
		if (slots > SIZE_MAX / 2) {
			errno = ENOMEM;
			return NULL;
		}
		slots <<= 1;
	}
	if (slots > (SIZE_MAX - offsetof(struct ratelimit, slots)) / sizeof(struct rl_entry)) {
		errno = ENOMEM;
		return NULL;
	}
	size = offsetof(struct ratelimit, slots) + slots * sizeof(struct rl_entry);

	/* Anonymous mappings start zeroed: every slot is free. */
	rl = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rl == MAP_FAILED)
		return NULL;
	rl->mapsize = size;
	rl->clients = clients;
	rl->mask = slots - 1;
	rl->probe = slots < RL_PROBE ? slots : RL_PROBE;
	rl->window = window;
	rl->live = 0;

	if ((rc = pthread_mutexattr_init(&attr)) != 0)
		goto fail;
	if ((rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED)) != 0 ||
	    (rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST)) != 0 ||
	    (rc = pthread_mutex_init(&rl->lock, &attr)) != 0) {
		pthread_mutexattr_destroy(&attr);
		goto fail;
	}
	pthread_mutexattr_destroy(&attr);
	return rl;

fail:
	munmap(rl, size);
	errno = rc;
	return NULL;
}

void
ratelimit_destroy(struct ratelimit *rl)
{
	if (rl != NULL)
		munmap(rl, rl->mapsize);
}

/*
 * Lock the table. A dead owner leaves nothing to repair (see the top of
 * this file), so the mutex is only marked consistent again.
 */
static void
rl_lock(struct ratelimit *rl)
{
	int rc = pthread_mutex_lock(&rl->lock);

	if (rc == EOWNERDEAD) {
		if ((rc = pthread_mutex_consistent(&rl->lock)) != 0) {
			errno = rc;
			fatal("pthread_mutex_consistent() of the rate limit table failed");
		}
		log_warnx("rate limit table: a process died holding its lock; recovered");
	} else if (rc != 0) {
		errno = rc;
		fatal("pthread_mutex_lock() of the rate limit table failed");
	}
}

static void
rl_unlock(struct ratelimit *rl)
{
	int rc = pthread_mutex_unlock(&rl->lock);

	if (rc != 0) {
		errno = rc;
		fatal("pthread_mutex_unlock() of the rate limit table failed");
	}
}

/* FNV-1a over the address, with the high half folded into the low bits. */
static size_t
rl_hash(const unsigned char key[16])
{
	uint64_t h = 14695981039346656037ULL;

	for (int i = 0; i < 16; i++) {
		h ^= key[i];
		h *= 1099511628211ULL;
	}
	return (size_t)(h ^ (h >> 32));
}

static struct rl_entry *
rl_slot(struct ratelimit *rl, size_t home, size_t i)
{
	return &rl->slots[(home + i) & rl->mask];
}

static struct rl_entry *
rl_find(struct ratelimit *rl, const unsigned char key[16])
{
	size_t home = rl_hash(key);

	for (size_t i = 0; i < rl->probe; i++) {
		struct rl_entry *e = rl_slot(rl, home, i);
		if (e->used && memcmp(e->key, key, 16) == 0)
			return e;
	}
	return NULL;
}

/*
 * The start of the client's latest window. With one window length for
 * all, the entry with the smallest one is also the one whose windows all
 * ended longest ago, if any entry's have.
 */
static time_t
rl_latest(const struct rl_entry *e)
{
	time_t t = e->start[0];

	for (int k = 1; k < RL_KINDS; k++)
		if (e->start[k] > t)
			t = e->start[k];
	return t;
}

/* Whether `now` is inside the kind's window; unsigned to avoid overflow. */
static int
rl_current(const struct ratelimit *rl, const struct rl_entry *e, int kind, time_t now)
{
	return e->count[kind] > 0 && now >= e->start[kind] &&
	    (uintmax_t)now - (uintmax_t)e->start[kind] < (uintmax_t)rl->window;
}

/*
 * Called when `live` says the table is full: count the used entries (to
 * correct `live` after a kill) and, if it really is full, free the entry
 * whose latest window started longest ago.
 */
static void
rl_evict(struct ratelimit *rl)
{
	struct rl_entry *victim = NULL;
	size_t live = 0;

	for (size_t i = 0; i <= rl->mask; i++) {
		struct rl_entry *e = &rl->slots[i];
		if (!e->used)
			continue;
		live++;
		if (victim == NULL || rl_latest(e) < rl_latest(victim))
			victim = e;
	}
	if (live < rl->clients) {
		rl_publish(rl->live, live);
		return;
	}
	rl_publish(victim->used, 0);
	rl_publish(rl->live, live - 1);
}

/*
 * Add a client with one event of `kind`. It goes into a free slot near its
 * hash; if there is none, it replaces the oldest client there, which keeps
 * the number of clients as it was.
 */
static void
rl_add(struct ratelimit *rl, const unsigned char key[16], enum ratelimit_kind kind, time_t now)
{
	size_t home = rl_hash(key);
	struct rl_entry *slot = NULL, *oldest = rl_slot(rl, home, 0);
	int replace = 0;

	for (size_t i = 0; i < rl->probe; i++) {
		struct rl_entry *e = rl_slot(rl, home, i);
		if (!e->used) {
			slot = e;
			break;
		}
		if (rl_latest(e) < rl_latest(oldest))
			oldest = e;
	}
	if (slot == NULL) {
		slot = oldest;
		replace = 1;
		rl_publish(slot->used, 0);
	} else if (rl->live >= rl->clients) {
		rl_evict(rl);
	}

	memcpy(slot->key, key, 16);
	for (int k = 0; k < RL_KINDS; k++) {
		slot->start[k] = now;
		slot->count[k] = 0;
	}
	slot->count[kind] = 1;
	if (!replace)
		rl_publish(rl->live, rl->live + 1);
	rl_publish(slot->used, 1);
}

long
ratelimit_hit(struct ratelimit *rl, const unsigned char key[16], enum ratelimit_kind kind,
    unsigned long limit, time_t now)
{
	struct rl_entry *e;
	long n;

	rl_lock(rl);
	e = rl_find(rl, key);
	if (e == NULL) {
		/* Any limit admits one event. */
		rl_add(rl, key, kind, now);
		n = 1;
	} else if (!rl_current(rl, e, kind, now)) {
		e->count[kind] = 1;
		rl_publish(e->start[kind], now);
		n = 1;
	} else if (limit != 0 && e->count[kind] >= limit) {
		n = -1;
	} else {
		if (e->count[kind] < LONG_MAX)
			rl_publish(e->count[kind], e->count[kind] + 1);
		n = (long)e->count[kind];
	}
	rl_unlock(rl);
	return n;
}

unsigned long
ratelimit_count(struct ratelimit *rl, const unsigned char key[16], enum ratelimit_kind kind,
    time_t now)
{
	struct rl_entry *e;
	unsigned long n = 0;

	rl_lock(rl);
	e = rl_find(rl, key);
	if (e != NULL && rl_current(rl, e, kind, now))
		n = e->count[kind];
	rl_unlock(rl);
	return n;
}

void
ratelimit_key(const struct sockaddr *sa, unsigned char key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in sin;

		memcpy(&sin, sa, sizeof(sin));
		key[10] = 0xff;
		key[11] = 0xff;
		memcpy(key + 12, &sin.sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 sin6;

		memcpy(&sin6, sa, sizeof(sin6));
		memcpy(key, &sin6.sin6_addr, 16);
	}
}
