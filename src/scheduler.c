/*
 * scheduler (sched_*) - several sessions in one worker process; see scheduler.h.
 *
 * epoll data: a task's socket carries its index and the task's start
 * number (so an event for a session that has just ended cannot wake the
 * next one in the same place); a listener carries LISTENER_BIT and its id.
 * Edges are remembered in the task's `ready` bits until a wait consumes
 * them, so an edge that arrives while the task runs or sleeps on a timer
 * is not lost.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "coro.h"
#include "monotime.h"
#include "scheduler.h"
#include "xmalloc.h"

#define LISTENER_BIT (1ULL << 63)
#define WATCH_BIT (1ULL << 62)
#define MAX_WATCHES 4
#define MAX_EVENTS 64

struct task {
	struct coro co;
	int fd;                 /* the session's socket; -1 = free */
	uint32_t number;        /* start number, in the epoll data */
	uint32_t ready;         /* EPOLL* bits not yet consumed by a wait */
	uint32_t want;          /* EPOLLIN/EPOLLOUT waited for; 0 = not on the socket */
	int waiting;            /* parked in sched_wait() */
	int parked;             /* parked in sched_park(): only sched_unpark() wakes it */
	long long deadline;     /* monotonic ms; -1 = none */
	enum sched_wake result;
	void (*fn)(void *, int);
	void *arg;
	struct sched *owner;
};

struct sched {
	int ep;
	int capacity;
	int active;
	uint32_t starts;
	const sigset_t *waitmask;
	struct task *tasks;
	void (*on_wake)(void *);
	void *wake_ctx;
	struct {
		void (*cb)(void *);
		void *ctx;
	} watches[MAX_WATCHES];
	int nwatches;
};

static struct task *running; /* the task that runs now */

struct sched *
sched_create(int capacity, const sigset_t *waitmask)
{
	struct sched *s = xcalloc(1, sizeof(*s));

	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->ep < 0) {
		free(s);
		return NULL;
	}
	s->capacity = capacity;
	s->waitmask = waitmask;
	s->tasks = xcalloc((size_t)capacity, sizeof(*s->tasks));
	for (int i = 0; i < capacity; i++) {
		s->tasks[i].fd = -1;
		s->tasks[i].owner = s;
	}
	return s;
}

void
sched_destroy(struct sched *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < s->capacity; i++)
		coro_free(&s->tasks[i].co);
	close(s->ep);
	free(s->tasks);
	free(s);
}

void
sched_on_wake(struct sched *s, void (*fn)(void *), void *ctx)
{
	s->on_wake = fn;
	s->wake_ctx = ctx;
}

int
sched_active(const struct sched *s)
{
	return s->active;
}

int
sched_capacity(const struct sched *s)
{
	return s->capacity;
}

int
sched_watch_listener(struct sched *s, int fd, uint32_t id, int on)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.u64 = LISTENER_BIT | id };

	if (on)
		return epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
	return epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, NULL);
}

int
sched_watch_fd(struct sched *s, int fd, void (*cb)(void *), void *ctx)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = WATCH_BIT | (uint64_t)s->nwatches };

	if (s->nwatches == MAX_WATCHES) {
		errno = ENOSPC;
		return -1;
	}
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		return -1;
	s->watches[s->nwatches].cb = cb;
	s->watches[s->nwatches].ctx = ctx;
	s->nwatches++;
	return 0;
}

int
sched_next_index(const struct sched *s)
{
	for (int i = 0; i < s->capacity; i++)
		if (s->tasks[i].fd < 0)
			return i;
	return -1;
}

static void
task_main(void *arg)
{
	struct task *t = arg;

	t->fn(t->arg, t->fd);
}

/* Run t until it waits or ends; clean up after its end. */
static void
run(struct task *t)
{
	struct task *prev = running;

	running = t;
	if (t->co.running)
		coro_resume(&t->co);
	running = prev;
	if (!t->co.running && t->fd >= 0) {
		struct sched *s = t->owner;
		epoll_ctl(s->ep, EPOLL_CTL_DEL, t->fd, NULL);
		close(t->fd);
		t->fd = -1;
		t->waiting = 0;
		s->active--;
	}
}

int
sched_start(struct sched *s, int fd, void (*fn)(void *, int), void *arg)
{
	int i = sched_next_index(s);
	struct task *t;

	if (i < 0) {
		errno = EBUSY;
		return -1;
	}
	t = &s->tasks[i];
	if (t->co.map == NULL && coro_init(&t->co) != 0)
		return -1;
	t->number = ++s->starts;
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLET,
		.data.u64 = ((uint64_t)t->number << 32) | (uint32_t)i,
	};
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		return -1;
	t->fd = fd;
	t->ready = 0;
	t->want = 0;
	t->waiting = 0;
	t->parked = 0;
	t->deadline = -1;
	t->fn = fn;
	t->arg = arg;
	s->active++;

	struct task *prev = running;
	running = t;
	coro_start(&t->co, task_main, t);
	running = prev;
	if (!t->co.running)
		run(t); /* it ended at once: clean up */
	return i;
}

static void
wake(struct task *t, enum sched_wake why)
{
	t->waiting = 0;
	t->want = 0;
	t->result = why;
	run(t);
}

int
sched_dispatch(struct sched *s, int timeout_ms,
    void (*on_listener)(void *, uint32_t), void *ctx)
{
	struct epoll_event evs[MAX_EVENTS];
	long long now = monotime_ms();
	int n;

	/* The nearest deadline of a waiting task bounds the wait. */
	for (int i = 0; i < s->capacity; i++) {
		const struct task *t = &s->tasks[i];
		if (t->fd < 0 || !t->waiting || t->deadline < 0)
			continue;
		long long left = t->deadline > now ? t->deadline - now : 0;
		if (timeout_ms < 0 || left < timeout_ms)
			timeout_ms = (int)left;
	}
	n = epoll_pwait(s->ep, evs, MAX_EVENTS, timeout_ms, s->waitmask);
	if (s->on_wake != NULL)
		s->on_wake(s->wake_ctx);
	if (n < 0) {
		if (errno != EINTR)
			n = 0;
		else {
			for (int i = 0; i < s->capacity; i++)
				if (s->tasks[i].fd >= 0 && s->tasks[i].waiting)
					wake(&s->tasks[i], SCHED_INTERRUPTED);
			return -1;
		}
	}
	/* Work finished elsewhere first: it unparks tasks. */
	for (int k = 0; k < n; k++) {
		uint64_t d = evs[k].data.u64;
		if ((d & WATCH_BIT) && !(d & LISTENER_BIT))
			s->watches[(uint32_t)d].cb(s->watches[(uint32_t)d].ctx);
	}
	/* Record every edge first: running a task may start or end others. */
	for (int k = 0; k < n; k++) {
		uint64_t d = evs[k].data.u64;
		if (d & (LISTENER_BIT | WATCH_BIT))
			continue;
		struct task *t = &s->tasks[(uint32_t)d];
		if (t->fd >= 0 && t->number == (uint32_t)(d >> 32))
			t->ready |= evs[k].events;
	}
	for (int k = 0; k < n; k++) {
		uint64_t d = evs[k].data.u64;
		if (d & (LISTENER_BIT | WATCH_BIT))
			continue;
		struct task *t = &s->tasks[(uint32_t)d];
		if (t->fd < 0 || t->number != (uint32_t)(d >> 32) || !t->waiting || t->want == 0)
			continue;
		if (t->ready & (t->want | EPOLLERR | EPOLLHUP)) {
			t->ready &= ~t->want;
			wake(t, SCHED_READY);
		}
	}
	now = monotime_ms();
	for (int i = 0; i < s->capacity; i++) {
		struct task *t = &s->tasks[i];
		if (t->fd >= 0 && t->waiting && t->deadline >= 0 && t->deadline <= now)
			wake(t, SCHED_TIMEOUT);
	}
	for (int k = 0; k < n; k++)
		if ((evs[k].data.u64 & LISTENER_BIT) && on_listener != NULL)
			on_listener(ctx, (uint32_t)evs[k].data.u64);
	return 0;
}

void
sched_trim(struct sched *s)
{
	for (int i = 0; i < s->capacity; i++)
		if (s->tasks[i].fd < 0)
			coro_trim(&s->tasks[i].co);
}

void *
sched_self(void)
{
	return running != NULL && coro_current() == &running->co ? running : NULL;
}

int
sched_park(void)
{
	struct task *t = sched_self();

	if (t == NULL)
		return -1;
	t->parked = 1;
	while (t->parked)
		coro_yield();
	return 0;
}

void
sched_unpark(void *task)
{
	struct task *t = task;

	if (t == NULL || !t->parked)
		return;
	t->parked = 0;
	run(t);
}

static enum sched_wake
wait_alone(int fd, short events, int timeout_ms, const sigset_t *mask)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	struct timespec ts, *tsp = NULL;
	int r;

	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		tsp = &ts;
	}
	r = ppoll(fd >= 0 ? &pfd : NULL, fd >= 0 ? 1 : 0, tsp, mask);
	if (r < 0)
		return errno == EINTR ? SCHED_INTERRUPTED : SCHED_ERROR;
	return r == 0 ? SCHED_TIMEOUT : SCHED_READY;
}

enum sched_wake
sched_wait(int fd, short events, int timeout_ms, const sigset_t *mask)
{
	struct task *t = running;

	if (t == NULL || coro_current() != &t->co || (fd >= 0 && fd != t->fd))
		return wait_alone(fd, events, timeout_ms, mask);
	if (fd >= 0) {
		uint32_t want = ((events & POLLIN) ? EPOLLIN : 0) | ((events & POLLOUT) ? EPOLLOUT : 0);
		if (t->ready & (want | EPOLLERR | EPOLLHUP)) {
			t->ready &= ~want;
			return SCHED_READY;
		}
		t->want = want;
	} else {
		t->want = 0;
	}
	if (timeout_ms == 0) {
		t->want = 0;
		return SCHED_TIMEOUT;
	}
	t->deadline = timeout_ms < 0 ? -1 : monotime_ms() + timeout_ms;
	t->waiting = 1;
	coro_yield();
	return t->result;
}
