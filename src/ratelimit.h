/*
 * ratelimit - per-client event rates shared by all worker processes.
 *
 * The master creates one table before it forks; every worker inherits the
 * mapping and counts connections and messages per client address in it,
 * so a limit holds for a client however its connections are spread over
 * the workers. Each client and kind of event has a fixed window that
 * starts at its first event and lasts `window` seconds; the first event
 * at or after its end (or before its start, if the caller's clock went
 * back) starts a new window with the count reset.
 *
 * Time is always passed in by the caller; nothing here reads a clock.
 *
 * The table has room for a fixed number of clients. When it is full, a
 * new client takes the place of the one whose latest window started
 * longest ago (which is the one whose windows all ended longest ago, if
 * any have): a full table forgets clients, and a forgotten client starts
 * again from zero. A client is also forgotten, rarely, when the 16 slots
 * its address hashes to are all taken.
 *
 * Concurrency: one process-shared robust mutex guards the table. A worker
 * may die at any moment, also while it holds the mutex (SIGKILL); the next
 * process to lock it is told so, marks it consistent, logs a warning and
 * carries on. That is safe because every update is a short sequence of
 * stores ordered so that a cut at any point leaves a usable table: at
 * worst the dying worker's own event is lost, or a client it was adding
 * is not added.
 *
 * DIAGNOSTICS: ratelimit_create returns NULL with errno set. A mutex that
 * cannot be locked for any other reason than a dead owner is a broken
 * invariant and ends the process with fatal().
 */
#ifndef SMTPTRAP_RATELIMIT_H
#define SMTPTRAP_RATELIMIT_H

#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

enum ratelimit_kind { RL_CONNECTIONS = 0, RL_MESSAGES = 1, RL_KINDS = 2 };

struct ratelimit;

/*
 * A table for up to `clients` client addresses in memory shared with
 * children forked later (mmap MAP_SHARED|MAP_ANONYMOUS). NULL on failure
 * (errno set: EINVAL for clients 0 or window < 1, ENOMEM when too large).
 * Windows are `window` seconds long (60 in the daemon).
 */
struct ratelimit *ratelimit_create(size_t clients, int window);

/*
 * Unmap the table from this process. The mutex is not destroyed, since
 * other processes may still use it; the memory goes with the last mapping.
 */
void ratelimit_destroy(struct ratelimit *rl);

/*
 * Count one event of `kind` for the client `key` (16 octets: the IPv6
 * address, or the IPv4-mapped IPv6 form ::ffff:a.b.c.d for IPv4) at time
 * `now` (seconds, from the caller's clock: never call time() inside).
 * `limit` 0 = no limit (still counted). Returns the number of events in
 * the current window including this one when it is within the limit; when
 * the event would exceed the limit it is NOT counted and -1 is returned.
 */
long ratelimit_hit(struct ratelimit *rl, const unsigned char key[16], enum ratelimit_kind kind,
    unsigned long limit, time_t now);

/* Events counted in the current window (0 if none), without counting. */
unsigned long ratelimit_count(struct ratelimit *rl, const unsigned char key[16],
    enum ratelimit_kind kind, time_t now);

/*
 * Fill key from a sockaddr (AF_INET -> v4-mapped, AF_INET6 as is). Any
 * other family gives the all-zero key, so such clients share one entry.
 */
void ratelimit_key(const struct sockaddr *sa, unsigned char key[16]);

#endif
