/*
 * clock - wall clock plus a shared offset; see clock.h.
 *
 * The offset is one 64-bit integer read and written with atomic
 * operations, so a worker never sees half of an update.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "clock.h"

static int64_t local_offset;
static int64_t *offset = &local_offset;

int
clock_init(void)
{
	void *p;

	if (offset != &local_offset)
		return 0;
	p = mmap(NULL, sizeof(int64_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	offset = p;
	__atomic_store_n(offset, local_offset, __ATOMIC_SEQ_CST);
	return 0;
}

time_t
clock_now(void)
{
	return time(NULL) + (time_t)__atomic_load_n(offset, __ATOMIC_SEQ_CST);
}

long long
clock_offset(void)
{
	return (long long)__atomic_load_n(offset, __ATOMIC_SEQ_CST);
}

void
clock_set_offset(long long seconds)
{
	__atomic_store_n(offset, (int64_t)seconds, __ATOMIC_SEQ_CST);
}
