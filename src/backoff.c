/*
 * backoff - pauses after resource failures; see backoff.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backoff.h"

void
backoff_init(struct backoff *b, long long min_ms, long long max_ms)
{
	memset(b, 0, sizeof(*b));
	b->min_ms = min_ms;
	b->max_ms = max_ms < min_ms ? min_ms : max_ms;
}

int
backoff_fail(struct backoff *b, long long now, unsigned long *quiet)
{
	if (b->failures++ == 0)
		b->delay_ms = b->min_ms;
	else if (b->delay_ms < b->max_ms)
		b->delay_ms = b->delay_ms * 2 > b->max_ms ? b->max_ms : b->delay_ms * 2;
	b->until = now + b->delay_ms;
	if (!b->reported || now - b->logged >= BACKOFF_LOG_MS) {
		b->reported = 1;
		b->logged = now;
		*quiet = b->unreported;
		b->unreported = 0;
		return 1;
	}
	b->unreported++;
	return 0;
}

unsigned long
backoff_ok(struct backoff *b)
{
	unsigned long n = b->failures;

	b->failures = 0;
	b->delay_ms = 0;
	b->until = 0;
	return n;
}

int
backoff_ready(const struct backoff *b, long long now)
{
	return now >= b->until;
}

int
backoff_wait_ms(const struct backoff *b, long long now, int cap)
{
	long long left = b->until - now;

	if (left <= 0)
		return 0;
	return left > cap ? cap : (int)left;
}

int
backoff_resource_errno(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

const char *
backoff_quiet_note(unsigned long quiet, char *buf, size_t len)
{
	if (quiet == 0 || len == 0)
		return "";
	snprintf(buf, len, " (%lu more not logged)", quiet);
	return buf;
}
