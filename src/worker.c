/*
 * worker - accept connections and serve their sessions; see worker.h.
 *
 * Each session runs as a task of the worker's scheduler (scheduler.h), up to
 * workers.sessions at once. The listeners are in the scheduler's epoll set
 * only while the worker has room for another session, each added with
 * EPOLLEXCLUSIVE so a new connection wakes one worker instead of all of
 * them. Stop signals stay blocked except inside the scheduler's one wait
 * (epoll_pwait), so a request to stop is never lost between checking the
 * flag and starting to wait.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backoff.h"
#include "config.h"
#include "deliver.h"
#include "listen.h"
#include "log.h"
#include "monotime.h"
#include "offload.h"
#include "reload.h"
#include "scheduler.h"
#include "scoreboard.h"
#include "session.h"
#include "store.h"
#include "worker.h"
#include "xmalloc.h"

static volatile sig_atomic_t worker_stop;      /* SIGTERM/SIGINT */
static volatile sig_atomic_t worker_retire;    /* SIGUSR2: exit when idle */
static volatile sig_atomic_t worker_reopen;    /* SIGUSR1: reopen the log file */

static void
on_reopen(int sig)
{
	(void)sig;
	worker_reopen = 1;
}

static void
on_stop(int sig)
{
	(void)sig;
	worker_stop = 1;
}

static void
on_retire(int sig)
{
	(void)sig;
	worker_retire = 1;
}

static void
maybe_reopen(void)
{
	if (worker_reopen) {
		worker_reopen = 0;
		if (log_reopen() != 0)
			log_warn("worker: cannot reopen the log file");
	}
}

static void
reopen_hook(void *ctx)
{
	(void)ctx;
	maybe_reopen(); /* a SIGUSR1 taken during the wait counts before any session goes on */
}

static void
wake_master(const struct worker_ctx *w)
{
	char c = 'w';

	/* Non-blocking: a full pipe already means the master will look. */
	if (write(w->wake_fd, &c, 1) < 0 && errno != EAGAIN)
		log_warn("worker: cannot wake the master");
}

static void
setup_signals(sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_retire;
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGXFSZ, &sa, NULL); /* a file size limit is a write error */
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_reopen;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, waitmask);
	sigdelset(waitmask, SIGUSR1);
	sigdelset(waitmask, SIGTERM);
	sigdelset(waitmask, SIGINT);
	sigdelset(waitmask, SIGUSR2);
	sigdelset(waitmask, SIGCHLD);
}

static unsigned long long
next_id(unsigned long long *state)
{
	unsigned long long x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

/* An idle worker gives its unused stack and heap pages back after this long. */
#define TRIM_AFTER_MS 1000
/* Most helper threads for fsync, per worker. */
#define OFFLOAD_THREADS 8

/* One place for a session: its environment and its delivery transaction. */
struct place {
	struct session_env env;
	struct deliver dlv;
	int dlv_ready;
	struct worker *wk;
	struct sockaddr_storage peer, local;
	char id[32];
};

struct worker {
	const struct worker_ctx *w;
	struct sched *sched;
	struct place *places;
	int listening;
	struct backoff accept_pause; /* after accept() ran out of descriptors or memory */
	unsigned long long idstate;
};

static void
serve(void *arg, int fd)
{
	struct place *p = arg;
	const struct worker_ctx *w = p->wk->w;
	struct sb_slot *slot = &w->sb->slots[w->slot];
	struct session_result res = { 0, 0 };

	session_run(&p->env, fd, p->id, (struct sockaddr *)&p->peer, (struct sockaddr *)&p->local, &res);
	slot->sessions++;
	slot->messages += res.messages;
	scoreboard_count_session(w->sb, res.messages);
	if (slot->sessions >= (unsigned long)w->cfg->max_sessions_per_worker) {
		log_debug("worker: served %lu sessions, exiting", slot->sessions);
		worker_retire = 1;
	}
}

/* Can the worker take another connection now? */
static int
accepting(const struct worker *wk, long long now)
{
	const struct worker_ctx *w = wk->w;

	return !worker_stop && !worker_retire &&
	    __atomic_load_n(&w->sb->generation, __ATOMIC_ACQUIRE) == w->generation &&
	    sched_active(wk->sched) < sched_capacity(wk->sched) &&
	    backoff_ready(&wk->accept_pause, now);
}

static void
listen_on(struct worker *wk, int on)
{
	const struct worker_ctx *w = wk->w;

	if (wk->listening == on)
		return;
	for (size_t i = 0; i < w->nlisteners; i++)
		if (sched_watch_listener(wk->sched, w->listeners[i].fd, (uint32_t)i, on) != 0 && on)
			fatal("worker: epoll_ctl() failed for listener \"%s\"", w->listeners[i].name);
	wk->listening = on;
}

static void
on_listener(void *ctx, uint32_t idx)
{
	struct worker *wk = ctx;
	const struct worker_ctx *w = wk->w;
	const struct listener *l = &w->listeners[idx];
	long long now = monotime_ms();
	char err[256];

	if (!accepting(wk, now))
		return;
	int k = sched_next_index(wk->sched);
	struct place *p = &wk->places[k];
	socklen_t plen = sizeof(p->peer), llen = sizeof(p->local);
	int fd = accept4(l->fd, (struct sockaddr *)&p->peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		/* EAGAIN and the like: another worker took it. */
		listen_accept_failed(&wk->accept_pause, now, errno, "worker: ", l->addr, 1);
		return;
	}
	backoff_ok(&wk->accept_pause);
	if (!p->dlv_ready) {
		if (deliver_init(&p->dlv, w->cfg, w->maildir_fd, err, sizeof(err)) != 0) {
			log_warnx("worker: delivery backend %s: %s", deliver_ops_for(w->cfg)->name, err);
			close(fd);
			return;
		}
		p->dlv_ready = 1;
	}
	scoreboard_set_state(w->sb, w->slot, WS_BUSY);
	getsockname(fd, (struct sockaddr *)&p->local, &llen);
	snprintf(p->id, sizeof(p->id), "%012llX", next_id(&wk->idstate) & 0xFFFFFFFFFFFFULL);
	p->env.listener = l->name;
	p->env.lconf = l->conf;
	if (sched_start(wk->sched, fd, serve, p) < 0) {
		log_warn("worker: cannot start a session for a connection on %s", l->addr);
		close(fd);
	}
	if (scoreboard_count_ready(w->sb) < w->cfg->min_spare)
		wake_master(w);
}

void
worker_main(const struct worker_ctx *w)
{
	const struct config *cfg = w->cfg;
	sigset_t waitmask;
	char err[256];
	struct worker wk = { .w = w };
	long long idle_since = 0;
	int trimmed = 0, stopping = 0;

	backoff_init(&wk.accept_pause, BACKOFF_ACCEPT_MS, BACKOFF_ACCEPT_MS);
	log_after_fork();
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != w->master)
		_exit(0);
	setup_signals(&waitmask);

	if (getrandom(&wk.idstate, sizeof(wk.idstate), 0) != (ssize_t)sizeof(wk.idstate) ||
	    wk.idstate == 0)
		wk.idstate = ((unsigned long long)getpid() << 32) ^ (unsigned long long)time(NULL);

	int capacity = cfg->worker_sessions;
	wk.places = xcalloc((size_t)capacity, sizeof(*wk.places));
	/* The first place's backend now: a broken one fails the worker at start. */
	if (deliver_init(&wk.places[0].dlv, cfg, w->maildir_fd, err, sizeof(err)) != 0) {
		log_err("worker: delivery backend %s: %s", deliver_ops_for(cfg)->name, err);
		_exit(2);
	}
	wk.places[0].dlv_ready = 1;
	/* Our own handle: the master's must not be used across fork(). */
	struct store *store = NULL;
	if (w->state_fd >= 0) {
		store = gen_store_open(w->state_fd, cfg, err, sizeof(err));
		if (store == NULL)
			log_warnx("worker: greylist store: %s; greylisting degrades (greylist.on_store_error)",
			    err);
	}
	wk.sched = sched_create(capacity, &waitmask);
	if (wk.sched == NULL)
		fatal("worker: epoll_create1() failed");
	sched_on_wake(wk.sched, reopen_hook, NULL);
	/* Several sessions' fsyncs at once: on helper threads (offload.h). */
	if (capacity > 1 && cfg->fsync && cfg->backend == BACKEND_MAILDIR &&
	    offload_init(wk.sched, capacity < OFFLOAD_THREADS ? capacity : OFFLOAD_THREADS) != 0)
		log_warn("worker: fsyncs run one at a time");
	for (int i = 0; i < capacity; i++) {
		struct place *p = &wk.places[i];
		p->wk = &wk;
		p->env = (struct session_env){
			.cfg = cfg,
			.dlv = &p->dlv,
			.tls = w->tls,
			.authdb = w->authdb,
			.sb = w->sb,
			.slot = w->slot,
			.sub = i,
			.rl = w->rl,
			.store = store,
			.transcript_dirfd = w->transcript_dirfd,
			.waitmask = &waitmask,
			.stop = &worker_stop,
		};
	}
	__atomic_store_n(&w->sb->slots[w->slot].capacity, capacity, __ATOMIC_RELEASE);

	for (;;) {
		long long now = monotime_ms();
		int active = sched_active(wk.sched);
		int timeout = -1;

		maybe_reopen();
		/* A reload while this worker started: the signal may have come too early. */
		if (!stopping && (worker_stop || worker_retire ||
		    __atomic_load_n(&w->sb->generation, __ATOMIC_ACQUIRE) != w->generation)) {
			stopping = 1;
			__atomic_store_n(&w->sb->slots[w->slot].capacity, 0, __ATOMIC_RELEASE);
			if (active > 0)
				wake_master(w); /* the pool lost a place to take connections */
		}
		if (stopping && active == 0)
			break;
		listen_on(&wk, accepting(&wk, now));
		if (active == 0 && scoreboard_get_state(w->sb, w->slot) != WS_IDLE) {
			scoreboard_set_state(w->sb, w->slot, WS_IDLE);
			idle_since = now;
			trimmed = 0;
			if (scoreboard_count_ready(w->sb) > cfg->max_spare)
				wake_master(w);
		}
		if (!wk.listening && !stopping && !backoff_ready(&wk.accept_pause, now))
			timeout = backoff_wait_ms(&wk.accept_pause, now, BACKOFF_ACCEPT_MS);
		if (active == 0 && !trimmed) {
			long long left = idle_since + TRIM_AFTER_MS - now;
			if (left <= 0) {
				sched_trim(wk.sched);
				malloc_trim(0);
				trimmed = 1;
			} else if (timeout < 0 || left < timeout) {
				timeout = (int)left;
			}
		}
		(void)sched_dispatch(wk.sched, timeout, on_listener, &wk);
	}
	scoreboard_set_state(w->sb, w->slot, WS_EXITING);
	wake_master(w);
	for (int i = 0; i < capacity; i++)
		if (wk.places[i].dlv_ready)
			deliver_fini(&wk.places[i].dlv);
	sched_destroy(wk.sched);
	store_close(store);
	_exit(0);
}
