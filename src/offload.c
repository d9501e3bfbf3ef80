/*
 * offload - blocking calls on helper threads; see offload.h.
 *
 * Jobs wait in a list under one mutex; helpers take them in order. A
 * finished job goes to the done list and the helper writes the eventfd,
 * which the scheduler watches: its callback unparks each finished job's
 * task on the worker's own thread.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "offload.h"
#include "scheduler.h"

struct job {
	void (*fn)(void *);
	void *arg;
	void *task;
	struct job *next;
};

static struct {
	int efd;
	int max, started, idle, queued;
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct job *queue, **queue_tail;
	struct job *done;
} pool = { .efd = -1, .lock = PTHREAD_MUTEX_INITIALIZER, .more = PTHREAD_COND_INITIALIZER };

static void *
helper(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&pool.lock);
	for (;;) {
		while (pool.queue == NULL) {
			pool.idle++;
			pthread_cond_wait(&pool.more, &pool.lock);
			pool.idle--;
		}
		struct job *j = pool.queue;
		pool.queued--;
		pool.queue = j->next;
		if (pool.queue == NULL)
			pool.queue_tail = &pool.queue;
		pthread_mutex_unlock(&pool.lock);

		j->fn(j->arg);

		uint64_t one = 1;
		pthread_mutex_lock(&pool.lock);
		j->next = pool.done;
		pool.done = j;
		/* Cannot fail but on overflow, which 2^64-1 jobs would take. */
		(void)!write(pool.efd, &one, sizeof(one));
	}
	return NULL;
}

/* The scheduler saw the eventfd: unpark every task whose job is done. */
static void
collect(void *unused)
{
	uint64_t n;
	struct job *done;

	(void)unused;
	(void)!read(pool.efd, &n, sizeof(n));
	pthread_mutex_lock(&pool.lock);
	done = pool.done;
	pool.done = NULL;
	pthread_mutex_unlock(&pool.lock);
	while (done != NULL) {
		struct job *next = done->next;
		sched_unpark(done->task); /* its job lives on that task's stack */
		done = next;
	}
}

int
offload_init(struct sched *s, int nthreads)
{
	pool.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pool.efd < 0)
		return -1;
	if (sched_watch_fd(s, pool.efd, collect, NULL) != 0) {
		int e = errno;
		close(pool.efd);
		pool.efd = -1;
		errno = e;
		return -1;
	}
	pool.max = nthreads;
	pool.queue_tail = &pool.queue;
	return 0;
}

/* One more helper, with every signal blocked; called with the lock held. */
static int
start_helper(void)
{
	sigset_t all, old;
	pthread_t t;
	pthread_attr_t attr;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	rc = pthread_create(&t, &attr, helper, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	pool.started++;
	return 0;
}

void
offload_call(void (*fn)(void *), void *arg)
{
	void *self = sched_self();
	struct job j = { .fn = fn, .arg = arg, .task = self, .next = NULL };

	if (self == NULL || pool.efd < 0) {
		fn(arg);
		return;
	}
	pthread_mutex_lock(&pool.lock);
	/* A helper for every job waiting, up to the most. */
	if (pool.queued >= pool.idle && pool.started < pool.max && start_helper() != 0 &&
	    pool.started == 0) {
		pthread_mutex_unlock(&pool.lock);
		log_warnx("offload: cannot start a helper thread: %s", strerror(errno));
		fn(arg);
		return;
	}
	*pool.queue_tail = &j;
	pool.queue_tail = &j.next;
	pool.queued++;
	pthread_cond_signal(&pool.more);
	pthread_mutex_unlock(&pool.lock);
	sched_park();
}
