/*
 * scoreboard - per-worker slots in shared anonymous memory; see scoreboard.h.
 */
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"

#include "scoreboard.h"

static size_t
sb_size(int nslots)
{
	return sizeof(struct scoreboard) + (size_t)nslots * sizeof(struct sb_slot);
}

struct scoreboard *
scoreboard_create(int nslots)
{
	struct scoreboard *sb = mmap(NULL, sb_size(nslots), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (sb == MAP_FAILED)
		fatal("mmap() of the scoreboard (%d slots) failed", nslots);
	sb->nslots = nslots;
	return sb;
}

void
scoreboard_destroy(struct scoreboard *sb)
{
	munmap(sb, sb_size(sb->nslots));
}

int
scoreboard_get_state(const struct scoreboard *sb, int slot)
{
	return __atomic_load_n(&sb->slots[slot].state, __ATOMIC_ACQUIRE);
}

void
scoreboard_set_state(struct scoreboard *sb, int slot, enum worker_state st)
{
	__atomic_store_n(&sb->slots[slot].state, (int)st, __ATOMIC_RELEASE);
}

int
scoreboard_slot_ready(const struct scoreboard *sb, int slot)
{
	int st = scoreboard_get_state(sb, slot);

	if (st == WS_IDLE || st == WS_STARTING)
		return 1;
	return st == WS_BUSY &&
	    __atomic_load_n(&sb->slots[slot].active, __ATOMIC_ACQUIRE) <
	    __atomic_load_n(&sb->slots[slot].capacity, __ATOMIC_ACQUIRE);
}

int
scoreboard_count_ready(const struct scoreboard *sb)
{
	int n = 0;

	int high = __atomic_load_n(&sb->high, __ATOMIC_ACQUIRE);

	for (int i = 0; i < high; i++)
		if (scoreboard_slot_ready(sb, i))
			n++;
	return n;
}

void
scoreboard_session_begin(struct scoreboard *sb, int slot, int idx, const unsigned char client[16])
{
	struct sb_slot *s = &sb->slots[slot];

	memcpy(s->client[idx], client, 16);
	__atomic_fetch_or(&s->used, 1ULL << idx, __ATOMIC_RELEASE);
	__atomic_fetch_add(&s->active, 1, __ATOMIC_RELEASE);
}

void
scoreboard_session_client(struct scoreboard *sb, int slot, int idx, const unsigned char client[16])
{
	memcpy(sb->slots[slot].client[idx], client, 16);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

void
scoreboard_session_end(struct scoreboard *sb, int slot, int idx)
{
	struct sb_slot *s = &sb->slots[slot];

	__atomic_fetch_and(&s->used, ~(1ULL << idx), __ATOMIC_RELEASE);
	__atomic_fetch_sub(&s->active, 1, __ATOMIC_RELEASE);
}

void
scoreboard_use_slot(struct scoreboard *sb, int slot)
{
	if (slot >= sb->high)
		__atomic_store_n(&sb->high, slot + 1, __ATOMIC_RELEASE);
}

int
scoreboard_live(const struct scoreboard *sb)
{
	int n = 0;

	for (int i = 0; i < sb->high; i++)
		if (scoreboard_get_state(sb, i) != WS_EMPTY)
			n++;
	return n;
}

int
scoreboard_free_slot(const struct scoreboard *sb)
{
	for (int i = 0; i < sb->nslots; i++)
		if (scoreboard_get_state(sb, i) == WS_EMPTY && sb->slots[i].pid == 0)
			return i;
	return -1;
}

void
scoreboard_count_sessions(const struct scoreboard *sb, const unsigned char client[16],
    int *total, int *same)
{
	int high = __atomic_load_n(&sb->high, __ATOMIC_ACQUIRE);

	*total = *same = 0;
	for (int i = 0; i < high; i++) {
		if (scoreboard_get_state(sb, i) == WS_EMPTY)
			continue;
		unsigned long long used = __atomic_load_n(&sb->slots[i].used, __ATOMIC_ACQUIRE);
		for (int k = 0; used != 0; k++, used >>= 1) {
			if (!(used & 1))
				continue;
			(*total)++;
			if (memcmp(sb->slots[i].client[k], client, 16) == 0)
				(*same)++;
		}
	}
}

void
scoreboard_count_session(struct scoreboard *sb, unsigned long messages)
{
	__atomic_fetch_add(&sb->sessions, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&sb->messages, messages, __ATOMIC_RELAXED);
}

void
scoreboard_count_reply(struct scoreboard *sb, int code)
{
	if (code >= SB_REPLY_MIN && code <= SB_REPLY_MAX)
		__atomic_fetch_add(&sb->replies[code - SB_REPLY_MIN], 1, __ATOMIC_RELAXED);
}
