/*
 * monotime - milliseconds on the monotonic clock, for timeouts and
 * deadlines. Policy decisions that depend on the time of day use the
 * daemon clock instead; this one only measures intervals.
 */
#ifndef SMTPTRAP_MONOTIME_H
#define SMTPTRAP_MONOTIME_H

#include <time.h>

static inline long long
monotime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
