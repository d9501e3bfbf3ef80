/*
 * worker - accept and serve sessions one at a time; see worker.h.
 *
 * Workers wait on all listeners with one epoll set, each listener added
 * with EPOLLEXCLUSIVE so a new connection wakes one idle worker instead of
 * all of them. Stop signals stay blocked except inside the waits
 * (epoll_pwait, and ppoll in netio), so a request to stop is never lost
 * between checking the flag and starting to wait.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "deliver.h"
#include "listen.h"
#include "log.h"
#include "scoreboard.h"
#include "session.h"
#include "reload.h"
#include "store.h"
#include "worker.h"

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

void
worker_main(const struct worker_ctx *w)
{
	const struct config *cfg = w->cfg;
	struct sb_slot *slot = &w->sb->slots[w->slot];
	struct deliver dlv;
	sigset_t waitmask;
	unsigned long long idstate;
	char err[256];
	int ep;

	log_after_fork();
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != w->master)
		_exit(0);
	setup_signals(&waitmask);

	if (getrandom(&idstate, sizeof(idstate), 0) != (ssize_t)sizeof(idstate) || idstate == 0)
		idstate = ((unsigned long long)getpid() << 32) ^ (unsigned long long)time(NULL);

	if (deliver_init(&dlv, cfg, w->maildir_fd, err, sizeof(err)) != 0) {
		log_err("worker: delivery backend %s: %s", deliver_ops_for(cfg)->name, err);
		_exit(2);
	}
	/* Our own handle: the master's must not be used across fork(). */
	struct store *store = NULL;
	if (w->state_fd >= 0) {
		store = gen_store_open(w->state_fd, cfg, err, sizeof(err));
		if (store == NULL)
			log_warnx("worker: greylist store: %s; greylisting degrades (greylist.on_store_error)",
			    err);
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		fatal("worker: epoll_create1() failed");
	for (size_t i = 0; i < w->nlisteners; i++) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.u32 = (uint32_t)i };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, w->listeners[i].fd, &ev) != 0)
			fatal("worker: epoll_ctl() failed for listener \"%s\"", w->listeners[i].name);
	}

	struct session_env env = {
		.cfg = cfg,
		.dlv = &dlv,
		.tls = w->tls,
		.authdb = w->authdb,
		.sb = w->sb,
		.slot = w->slot,
		.rl = w->rl,
		.store = store,
		.transcript_dirfd = w->transcript_dirfd,
		.waitmask = &waitmask,
		.stop = &worker_stop,
	};

	/* A reload while this worker started: the signal may have come too early. */
	while (!worker_stop && !worker_retire &&
	    __atomic_load_n(&w->sb->generation, __ATOMIC_ACQUIRE) == w->generation) {
		struct epoll_event evs[8];
		int n;

		maybe_reopen();
		if (scoreboard_get_state(w->sb, w->slot) != WS_IDLE) {
			scoreboard_set_state(w->sb, w->slot, WS_IDLE);
			if (scoreboard_count_ready(w->sb) > cfg->max_spare)
				wake_master(w);
		}
		n = epoll_pwait(ep, evs, 8, -1, &waitmask);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("worker: epoll_pwait() failed");
		}
		maybe_reopen(); /* a SIGUSR1 taken during the wait counts before the session */
		for (int i = 0; i < n && !worker_stop; i++) {
			const struct listener *l = &w->listeners[evs[i].data.u32];
			struct sockaddr_storage peer, local;
			socklen_t plen = sizeof(peer), llen = sizeof(local);
			char id[32];
			int fd;

			fd = accept4(l->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd < 0) {
				if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
					struct timespec pause = { 0, 100 * 1000000L };
					log_warn("worker: accept() on %s failed, pausing", l->addr);
					nanosleep(&pause, NULL);
				}
				continue; /* EAGAIN: another worker took it */
			}
			scoreboard_set_state(w->sb, w->slot, WS_BUSY);
			if (scoreboard_count_ready(w->sb) < cfg->min_spare)
				wake_master(w);
			getsockname(fd, (struct sockaddr *)&local, &llen);
			snprintf(id, sizeof(id), "%012llX", next_id(&idstate) & 0xFFFFFFFFFFFFULL);
			env.listener = l->name;
			env.lconf = l->conf;

			struct session_result res = { 0, 0 };
			session_run(&env, fd, id, (struct sockaddr *)&peer, (struct sockaddr *)&local, &res);
			close(fd);
			slot->sessions++;
			slot->messages += res.messages;
			scoreboard_count_session(w->sb, res.messages);
			if (slot->sessions >= (unsigned long)cfg->max_sessions_per_worker) {
				log_debug("worker: served %lu sessions, exiting", slot->sessions);
				worker_retire = 1;
			}
			break; /* back to the pool: one session at a time */
		}
	}
	scoreboard_set_state(w->sb, w->slot, WS_EXITING);
	wake_master(w);
	deliver_fini(&dlv);
	store_close(store);
	_exit(0);
}
