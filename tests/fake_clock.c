/*
 * fake_clock - a settable clock_now() for unit tests; see fake_clock.h.
 * Every symbol of src/clock.c is defined here, so the linker never pulls
 * the real one out of the library.
 */
#include "clock.h"
#include "fake_clock.h"

static time_t fake_now = 1000000000;
static long long fake_offset;

void
fake_clock_set(time_t now)
{
	fake_now = now;
}

void
fake_clock_advance(long long seconds)
{
	fake_now += (time_t)seconds;
}

int
clock_init(void)
{
	return 0;
}

time_t
clock_now(void)
{
	return fake_now + (time_t)fake_offset;
}

long long
clock_offset(void)
{
	return fake_offset;
}

void
clock_set_offset(long long seconds)
{
	fake_offset = seconds;
}
