/*
 * clock - the daemon's notion of now: the wall clock plus an offset that
 * every process of the daemon sees.
 *
 * The master calls clock_init() once, before it forks: the offset then
 * lives in a shared anonymous mapping, so a change made by the master
 * (through the control socket, and only when control.clock_control is
 * on) is seen at once by every worker. Before clock_init(), and in
 * programs that never call it, the offset is 0.
 *
 * Every time-dependent policy decision (greylisting, its auto-whitelist
 * and expiry, rate windows) reads the time through clock_now(); policy
 * code never calls time() itself. Unit tests link tests/fake_clock.c in
 * place of this file and set the time they want.
 *
 * DIAGNOSTICS: clock_init() returns -1 with errno set when the shared
 * mapping cannot be made.
 */
#ifndef SMTPTRAP_CLOCK_H
#define SMTPTRAP_CLOCK_H

#include <time.h>

int clock_init(void);

/* Wall clock plus the offset, in seconds since the epoch. */
time_t clock_now(void);

/* The offset in seconds (may be negative). */
long long clock_offset(void);

/* Set the offset; the caller checks that clock control is allowed. */
void clock_set_offset(long long seconds);

#endif
