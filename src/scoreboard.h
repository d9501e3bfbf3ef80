/*
 * scoreboard - one slot per worker in shared memory.
 *
 * The master owns the slots (assigns them at fork, clears them when it
 * reaps); each worker writes only its own slot's state and counters. The
 * master reads the slots to size the pool; nothing here needs a lock,
 * because every field has a single writer and readers tolerate a value
 * that is one transition old. The totals in the header have many writers
 * and are only ever changed with atomic additions.
 */
#ifndef SMTPTRAP_SCOREBOARD_H
#define SMTPTRAP_SCOREBOARD_H

#include <sys/types.h>
#include <time.h>

enum worker_state {
	WS_EMPTY = 0,  /* slot unused */
	WS_STARTING,   /* forked, not yet waiting for a connection */
	WS_IDLE,       /* waiting for a connection, no session */
	WS_BUSY,       /* serving one session or more */
	WS_EXITING,    /* asked to stop or past its session limit */
};

/* Sessions one worker may serve at once (workers.sessions). */
#define SB_SESSIONS_MAX 64

struct sb_slot {
	pid_t pid;
	int state;                    /* enum worker_state, atomic access */
	unsigned generation;
	unsigned long sessions;
	unsigned long messages;
	time_t started;
	int active;                   /* sessions now (atomic) */
	int capacity;                 /* sessions it takes at once; 0 once it stops accepting */
	unsigned long long used;      /* bit i: place i below holds a session (atomic) */
	unsigned char client[SB_SESSIONS_MAX][16]; /* each session's client (v4-mapped) */
};

/* Replies with codes 400..599 counted, for the control socket's status. */
#define SB_REPLY_MIN 400
#define SB_REPLY_MAX 599

struct scoreboard {
	int nslots;                   /* capacity */
	int high;                     /* slots [0, high) have been used; loops stop there */
	unsigned generation;          /* the running generation; older workers retire */
	unsigned long sessions;       /* sessions served, by all workers ever */
	unsigned long messages;       /* messages committed */
	unsigned long replies[SB_REPLY_MAX - SB_REPLY_MIN + 1];
	struct sb_slot slots[];
};

struct scoreboard *scoreboard_create(int nslots);
void scoreboard_destroy(struct scoreboard *sb);
int scoreboard_get_state(const struct scoreboard *sb, int slot);
void scoreboard_set_state(struct scoreboard *sb, int slot, enum worker_state st);
/*
 * Can the worker in slot take a connection now or soon: starting, idle,
 * or busy with room for another session.
 */
int scoreboard_slot_ready(const struct scoreboard *sb, int slot);
/* Workers that are ready, as above. */
int scoreboard_count_ready(const struct scoreboard *sb);
/* A worker's session in place idx (0 .. SB_SESSIONS_MAX-1) begins, ends, or learns its client. */
void scoreboard_session_begin(struct scoreboard *sb, int slot, int idx, const unsigned char client[16]);
void scoreboard_session_client(struct scoreboard *sb, int slot, int idx, const unsigned char client[16]);
void scoreboard_session_end(struct scoreboard *sb, int slot, int idx);
/* Count one session that committed `messages` messages (atomic). */
void scoreboard_count_session(struct scoreboard *sb, unsigned long messages);
/* Count one reply with code 400..599; others are ignored (atomic). */
void scoreboard_count_reply(struct scoreboard *sb, int code);
/* The master marks a slot used before it forks a worker into it. */
void scoreboard_use_slot(struct scoreboard *sb, int slot);
/* Slots with a live worker, of any generation. */
int scoreboard_live(const struct scoreboard *sb);
/* A free slot, or -1. */
int scoreboard_free_slot(const struct scoreboard *sb);
/*
 * Sessions now, of all workers: *total, and *same of them serving client.
 * A session's client is written by its worker before the worker counts.
 */
void scoreboard_count_sessions(const struct scoreboard *sb, const unsigned char client[16],
    int *total, int *same);

#endif
