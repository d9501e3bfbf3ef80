/*
 * backoff - pauses after a failure that retrying at once cannot fix:
 * accept() at the file descriptor limit, fork() at the process limit.
 *
 * A failure starts a pause; nothing is tried again before it ends. Each
 * failure in a row doubles the pause, from min_ms up to max_ms (the same
 * value for both gives a fixed pause). A success ends the run of
 * failures. Logging is rate-limited here too: backoff_fail() says whether
 * this failure should be logged: the first ever, then at most one every
 * BACKOFF_LOG_MS, so failures that last or keep coming back are reported
 * without a flood, with the count of those left out.
 *
 * Pure: the caller passes the time (monotonic milliseconds) in.
 */
#ifndef SMTPTRAP_BACKOFF_H
#define SMTPTRAP_BACKOFF_H

#include <stddef.h>

#define BACKOFF_LOG_MS 10000
/* How long accept() rests after the file descriptor limit was hit. */
#define BACKOFF_ACCEPT_MS 100

struct backoff {
	long long min_ms, max_ms;
	long long delay_ms;       /* the pause the last failure started */
	long long until;          /* no retry before this; 0 = none pending */
	long long logged;         /* when a failure was last reported */
	int reported;             /* one was */
	unsigned long failures;   /* in the current run */
	unsigned long unreported; /* failures since the last report */
};

void backoff_init(struct backoff *b, long long min_ms, long long max_ms);

/*
 * Note a failure at now and start the pause. Returns 1 when it should be
 * logged, with *quiet set to the failures since the last report that
 * were not logged; 0 to stay quiet.
 */
int backoff_fail(struct backoff *b, long long now, unsigned long *quiet);

/*
 * For a log line: "" when quiet is 0, else " (N more not logged)" in buf.
 */
const char *backoff_quiet_note(unsigned long quiet, char *buf, size_t len);

/* Note a success; returns how many failures the run had (0 if none). */
unsigned long backoff_ok(struct backoff *b);

/*
 * Is err (from accept) a lack of resources that another try at once
 * would hit again (EMFILE, ENFILE, ENOBUFS, ENOMEM)?
 */
int backoff_resource_errno(int err);

/* May the operation be tried at now? */
int backoff_ready(const struct backoff *b, long long now);

/* Milliseconds until the pause ends (0 when ready), at most cap. */
int backoff_wait_ms(const struct backoff *b, long long now, int cap);

#endif
