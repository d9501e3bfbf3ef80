/*
 * scheduler (sched_*) - several sessions in one worker process.
 *
 * Each session runs as a task: a coroutine (coro.h) that owns one client
 * socket. A task that has to wait (for input, for room to write, for a
 * delay) calls sched_wait(), which parks it and lets the others run; the
 * scheduler waits for all of them at once in one epoll_pwait(), so a
 * worker with many connections wakes once for many ready ones.
 *
 * Sockets are registered edge-triggered once, when the task starts: a
 * wait needs no epoll_ctl() (the context switch itself saves and restores
 * the signal mask, one rt_sigprocmask each way). A wait with timeout 0
 * reports only edges already seen; callers read or write first anyway. Every wait is bounded by its
 * timeout and ends early, with SCHED_INTERRUPTED, when a signal the
 * worker's wait mask lets through arrives, exactly as ppoll() would.
 * Called outside a task (unit tests, the master), sched_wait() is a plain
 * ppoll().
 */
#ifndef SMTPTRAP_SCHEDULER_H
#define SMTPTRAP_SCHEDULER_H

#include <signal.h>
#include <stdint.h>

enum sched_wake {
	SCHED_READY = 1,        /* the socket is ready (or has an error to report) */
	SCHED_TIMEOUT = 0,      /* the timeout passed */
	SCHED_INTERRUPTED = -1, /* a signal arrived */
	SCHED_ERROR = -2        /* the wait itself failed (errno set) */
};

struct sched;

/* A scheduler for up to capacity tasks; NULL with errno set on failure. */
struct sched *sched_create(int capacity, const sigset_t *waitmask);
void sched_destroy(struct sched *s);

/*
 * Call fn(ctx) each time the wait returns, before any task runs: for
 * flags set by signal handlers during the wait (log reopening).
 */
void sched_on_wake(struct sched *s, void (*fn)(void *ctx), void *ctx);

/* Tasks running now, and the most there may be. */
int sched_active(const struct sched *s);
int sched_capacity(const struct sched *s);

/*
 * Watch (on != 0) or stop watching listening socket fd; its readiness is
 * reported to on_listener(ctx, id) by sched_dispatch(). Added with
 * EPOLLEXCLUSIVE, so one connection wakes one worker.
 */
int sched_watch_listener(struct sched *s, int fd, uint32_t id, int on);

/*
 * Start fn(arg, fd) as a task owning socket fd: it runs at once until its
 * first wait. When fn returns, the scheduler closes fd. Returns the task's
 * index (0 .. capacity-1), or -1 when full or out of memory (fd is then
 * the caller's).
 */
int sched_start(struct sched *s, int fd, void (*fn)(void *arg, int fd), void *arg);
/* The index sched_start() will use next, or -1 when full. */
int sched_next_index(const struct sched *s);

/*
 * Wait once for the watched sockets, at most timeout_ms (-1: until
 * something happens), then run every task whose wait is over and report
 * ready listeners. -1 when a signal interrupted the wait (every waiting
 * task was told so), else 0.
 */
int sched_dispatch(struct sched *s, int timeout_ms,
    void (*on_listener)(void *ctx, uint32_t id), void *ctx);

/*
 * Watch another descriptor (an eventfd, say): when it is readable,
 * sched_dispatch() calls cb(ctx) before any task runs. At most 4.
 */
int sched_watch_fd(struct sched *s, int fd, void (*cb)(void *ctx), void *ctx);

/*
 * Park the running task until sched_unpark() names it: neither a
 * deadline nor a signal wakes it (it waits for work done elsewhere, such
 * as an fsync on a helper thread). sched_self() names the running task,
 * NULL outside a task; sched_park() returns -1 at once outside a task.
 */
void *sched_self(void);
int sched_park(void);
void sched_unpark(void *task);

/* Give back the stack pages of finished tasks (when idle for a while). */
void sched_trim(struct sched *s);

/*
 * Wait until fd is ready for events (POLLIN and/or POLLOUT), timeout_ms
 * passes (-1: no limit; 0: do not wait) or a signal left open by mask
 * arrives. fd -1 waits for time only. Inside a task the other tasks run
 * meanwhile; a READY may be spurious, so the caller retries its read or
 * write and waits again on EAGAIN.
 */
enum sched_wake sched_wait(int fd, short events, int timeout_ms, const sigset_t *mask);

#endif
