/*
 * fake_clock - the clock of clock.h, under the test's control. Linked in
 * place of src/clock.c: clock_now() returns what the test set, plus the
 * offset, and never reads the wall clock.
 */
#ifndef SMTPTRAP_FAKE_CLOCK_H
#define SMTPTRAP_FAKE_CLOCK_H

#include <time.h>

void fake_clock_set(time_t now);
void fake_clock_advance(long long seconds);

#endif
