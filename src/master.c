/*
 * master - the prefork master; see master.h.
 *
 * The loop follows nginx: signals are blocked except inside one ppoll(),
 * handlers only set flags, and after each wake-up the master handles, in
 * order: dead workers, a stop request, other signals, then the pool size.
 *
 * Pool sizing: idle workers (idle + starting) are kept between min_spare
 * and max_spare, the total never above max_workers. Workers write to the
 * wake pipe when they push the idle count past either bound, so the pool
 * grows as soon as sessions start, not on a timer.
 *
 * Overload: when the pool is full and no worker is idle, the master itself
 * watches the listeners and answers each new connection with 421 4.7.0, so
 * clients learn at once instead of waiting in the backlog.
 *
 * Fork storms: a worker that dies abnormally within START_GRACE_MS of its
 * start counts as a start failure; after MAX_START_FAILURES in a row the
 * master pauses spawning, doubling the pause up to MAX_THROTTLE_MS.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "control.h"
#include "greylist.h"
#include "listen.h"
#include "log.h"
#include "master.h"

/* Client addresses the per-minute rate table keeps at once. */
#define RATELIMIT_CLIENTS 8192
#include "monotime.h"
#include "ratelimit.h"
#include "scoreboard.h"
#include "store.h"
#include "worker.h"
#include "xmalloc.h"

#define START_GRACE_MS 2000
#define MAX_START_FAILURES 3
#define MAX_THROTTLE_MS 60000
#define SPAWNS_PER_SECOND 256
#define KILL_GRACE_MS 2000
#define STORE_SYNC_MS 5000

static volatile sig_atomic_t got_chld;
static volatile sig_atomic_t got_stop;
static volatile sig_atomic_t got_hup;
static volatile sig_atomic_t got_usr1;

static void on_chld(int sig) { (void)sig; got_chld = 1; }
static void on_stop(int sig) { (void)sig; got_stop = 1; }
static void on_hup(int sig) { (void)sig; got_hup = 1; }
static void on_usr1(int sig) { (void)sig; got_usr1 = 1; }

struct master {
	const struct config *cfg;
	struct listener *listeners;
	size_t nlisteners;
	struct tls_server *tls;
	const struct authdb *authdb;
	struct ratelimit *rl;
	struct store *store;
	const char *store_path;
	struct control *control;
	struct control_ctx ctl;
	long long next_purge;     /* monotonic ms */
	long long next_sync;
	struct scoreboard *sb;
	long long *started_ms;    /* per slot */
	char *retiring;           /* per slot: SIGUSR2 already sent */
	int wake[2];
	int stopping;
	long long kill_deadline;
	int start_failures;
	long long throttle_ms;
	long long throttle_until;
	long long spawn_window;   /* start of the current one-second window */
	int spawns_in_window;
};

static void
spawn(struct master *m, int slot)
{
	struct sb_slot *s = &m->sb->slots[slot];
	pid_t pid;

	pid_t master = getpid(); /* read before fork: see worker_main() */

	scoreboard_set_state(m->sb, slot, WS_STARTING);
	s->sessions = 0;
	s->messages = 0;
	s->started = time(NULL);
	pid = fork();
	if (pid < 0) {
		log_warn("fork() failed while spawning a worker");
		scoreboard_set_state(m->sb, slot, WS_EMPTY);
		return;
	}
	if (pid == 0) {
		struct worker_ctx w = {
			.cfg = m->cfg,
			.listeners = m->listeners,
			.nlisteners = m->nlisteners,
			.tls = m->tls,
			.authdb = m->authdb,
			.rl = m->rl,
			.store_path = m->store_path,
			.transcript_dirfd = -1,
			.sb = m->sb,
			.slot = slot,
			.wake_fd = m->wake[1],
			.master = master,
		};
		close(m->wake[0]);
		control_close(m->control, 0);
		worker_main(&w);
	}
	s->pid = pid;
	m->started_ms[slot] = monotime_ms();
	m->retiring[slot] = 0;
	log_debug("worker %ld started in slot %d", (long)pid, slot);
}

static int
slot_of(const struct master *m, pid_t pid)
{
	for (int i = 0; i < m->sb->nslots; i++)
		if (m->sb->slots[i].pid == pid)
			return i;
	return -1;
}

static void
note_start_failure(struct master *m, long long now)
{
	if (++m->start_failures < MAX_START_FAILURES)
		return;
	m->throttle_ms = m->throttle_ms ? m->throttle_ms * 2 : 1000;
	if (m->throttle_ms > MAX_THROTTLE_MS)
		m->throttle_ms = MAX_THROTTLE_MS;
	m->throttle_until = now + m->throttle_ms;
	log_warnx("workers keep failing at start; pausing worker creation for %lld ms",
	    m->throttle_ms);
}

static void
reap(struct master *m)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		int slot = slot_of(m, pid);
		long long now = monotime_ms();
		int abnormal = 0;

		if (slot < 0) {
			log_warnx("reaped unknown child %ld", (long)pid);
			continue;
		}
		struct sb_slot *s = &m->sb->slots[slot];
		if (WIFSIGNALED(status)) {
			abnormal = 1;
			log_warnx("worker %ld killed by signal %d (%s) after %lu sessions", (long)pid,
			    WTERMSIG(status), strsignal(WTERMSIG(status)), s->sessions);
		} else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
			abnormal = 1;
			log_warnx("worker %ld exited with status %d after %lu sessions", (long)pid,
			    WEXITSTATUS(status), s->sessions);
		} else {
			log_debug("worker %ld exited after %lu sessions", (long)pid, s->sessions);
		}
		if (abnormal && !m->stopping && now - m->started_ms[slot] < START_GRACE_MS)
			note_start_failure(m, now);
		else if (!abnormal || now - m->started_ms[slot] >= START_GRACE_MS) {
			m->start_failures = 0;
			m->throttle_ms = 0;
		}
		s->pid = 0;
		m->retiring[slot] = 0;
		scoreboard_set_state(m->sb, slot, WS_EMPTY);
	}
}

/* Workers alive, and of those the ones that can take a connection soon. */
static void
census(const struct master *m, int *live, int *idle)
{
	*live = 0;
	*idle = 0;
	for (int i = 0; i < m->sb->nslots; i++) {
		int st = scoreboard_get_state(m->sb, i);
		if (st == WS_EMPTY)
			continue;
		(*live)++;
		if ((st == WS_IDLE || st == WS_STARTING) && !m->retiring[i])
			(*idle)++;
	}
}

static int
saturated(const struct master *m)
{
	int live, idle;

	census(m, &live, &idle);
	return live >= m->cfg->max_workers && idle == 0;
}

static void
maintain_pool(struct master *m)
{
	long long now = monotime_ms();
	int live, idle;

	census(m, &live, &idle);
	if (now - m->spawn_window >= 1000) {
		m->spawn_window = now;
		m->spawns_in_window = 0;
	}
	while (idle < m->cfg->min_spare && live < m->cfg->max_workers &&
	    now >= m->throttle_until && m->spawns_in_window < SPAWNS_PER_SECOND) {
		int slot = scoreboard_free_slot(m->sb);
		if (slot < 0)
			break;
		spawn(m, slot);
		m->spawns_in_window++;
		live++;
		idle++;
	}
	/* Too many idle: retire the surplus (they exit only while idle). */
	for (int i = 0; i < m->sb->nslots && idle > m->cfg->max_spare; i++) {
		if (scoreboard_get_state(m->sb, i) == WS_IDLE && !m->retiring[i]) {
			m->retiring[i] = 1;
			kill(m->sb->slots[i].pid, SIGUSR2);
			idle--;
		}
	}
}

static void
refuse_connection(struct master *m, const struct listener *l)
{
	char line[256];
	int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (l->conf->tls == TLS_IMPLICIT) {
		/* A plaintext 421 would only garble the client's handshake. */
		close(fd);
		log_warnx("connection on %s closed: all %d workers busy", l->addr,
		    m->cfg->max_workers);
		return;
	}
	int n = snprintf(line, sizeof(line), "421 %s%s Error: too many connections, try again later\r\n",
	    (m->cfg->extensions & EXT_ENHANCEDSTATUSCODES) ? "4.7.0 " : "", m->cfg->hostname);
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("421 to a refused connection not sent: %s", strerror(errno));
	scoreboard_count_reply(m->sb, 421);
	shutdown(fd, SHUT_WR);
	close(fd);
	log_warnx("connection on %s refused with 421: all %d workers busy", l->addr,
	    m->cfg->max_workers);
}

static void
signal_all(struct master *m, int sig)
{
	for (int i = 0; i < m->sb->nslots; i++)
		if (m->sb->slots[i].pid > 0)
			kill(m->sb->slots[i].pid, sig);
}

static void
begin_stop(struct master *m)
{
	int live, idle;

	census(m, &live, &idle);
	log_notice("stopping: %d workers busy, waiting up to %d ms for their sessions",
	    live - idle, m->cfg->timeout_shutdown_ms);
	m->stopping = 1;
	m->kill_deadline = monotime_ms() + m->cfg->timeout_shutdown_ms + KILL_GRACE_MS;
	for (size_t i = 0; i < m->nlisteners; i++)
		close(m->listeners[i].fd);
	signal_all(m, SIGTERM);
}

/*
 * Store housekeeping, never on a worker's path: expired records are
 * purged every store.purge_interval (and soon after the clock moved),
 * reader slots of dead processes released, and the file flushed.
 */
static void
store_chores(struct master *m, long long now)
{
	if (m->store == NULL)
		return;
	if (now >= m->next_purge) {
		long n = greylist_purge(m->store, &m->cfg->greylist);
		if (n < 0)
			log_warnx("greylist store: purge failed: %s", store_strerror(m->store));
		else if (n > 0)
			log_info("greylist store: %ld expired records removed", n);
		int stale = store_check_readers(m->store);
		if (stale > 0)
			log_info("greylist store: released %d reader slots of dead processes", stale);
		m->next_purge = now + (long long)m->cfg->store_purge_interval * 1000;
	}
	if (now >= m->next_sync) {
		if (!m->cfg->store_sync && store_sync(m->store) != 0)
			log_warnx("greylist store: flushing to disk failed: %s", store_strerror(m->store));
		m->next_sync = now + STORE_SYNC_MS;
	}
}

static void
setup_signals(sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_chld;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);

	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, waitmask);
	sigdelset(waitmask, SIGCHLD);
	sigdelset(waitmask, SIGTERM);
	sigdelset(waitmask, SIGINT);
	sigdelset(waitmask, SIGHUP);
	sigdelset(waitmask, SIGUSR1);
}

int
master_run(const struct master_args *a)
{
	const struct config *cfg = a->cfg;
	struct master m;
	sigset_t waitmask;
	struct pollfd *pfds;
	size_t maxfds;

	memset(&m, 0, sizeof(m));
	m.cfg = cfg;
	m.listeners = a->listeners;
	m.nlisteners = a->nlisteners;
	m.tls = a->tls;
	m.authdb = a->authdb;
	m.store = a->store;
	m.store_path = a->store_path;
	m.control = a->control;
	if (cfg->connection_rate > 0 || cfg->message_rate > 0) {
		/* Shared by every worker; made before the first fork. */
		m.rl = ratelimit_create(RATELIMIT_CLIENTS, 60);
		if (m.rl == NULL)
			fatal("cannot create the rate table");
	}
	if (clock_init() != 0)
		fatal("cannot create the shared clock offset");
	m.sb = scoreboard_create(cfg->max_workers);
	m.ctl.cfg = cfg;
	m.ctl.sb = m.sb;
	m.ctl.store = m.store;
	m.ctl.store_error = a->store_error;
	m.ctl.started = time(NULL);
	m.next_purge = monotime_ms() + (long long)cfg->store_purge_interval * 1000;
	m.next_sync = monotime_ms() + STORE_SYNC_MS;
	m.started_ms = xcalloc((size_t)cfg->max_workers, sizeof(*m.started_ms));
	m.retiring = xcalloc((size_t)cfg->max_workers, 1);
	if (pipe2(m.wake, O_NONBLOCK | O_CLOEXEC) != 0)
		fatal("pipe2() failed for the wake pipe");
	maxfds = 1 + m.nlisteners + (m.control ? (size_t)control_maxfds(m.control) : 0);
	pfds = xcalloc(maxfds, sizeof(*pfds));
	setup_signals(&waitmask);

	for (;;) {
		long long now;
		int timeout_ms = 1000;
		nfds_t nfds = 1, nlisten = 0, ctl_first;

		if (got_chld) {
			got_chld = 0;
			reap(&m);
		}
		if (got_stop && !m.stopping)
			begin_stop(&m);
		if (got_hup) {
			got_hup = 0;
			log_warnx("SIGHUP received: configuration reload is not supported yet; restart to apply changes");
		}
		if (got_usr1) {
			got_usr1 = 0;
			log_notice("SIGUSR1 received: logs go to stderr or syslog, nothing to reopen");
		}

		now = monotime_ms();
		store_chores(&m, now);
		if (m.stopping) {
			int live, idle;
			census(&m, &live, &idle);
			if (live == 0)
				break;
			if (now >= m.kill_deadline) {
				log_warnx("stopping: %d workers still running after the deadline, killing them", live);
				signal_all(&m, SIGKILL);
				m.kill_deadline = now + KILL_GRACE_MS;
			}
			timeout_ms = 100;
		} else {
			maintain_pool(&m);
			if (now < m.throttle_until)
				timeout_ms = (int)(m.throttle_until - now);
		}

		pfds[0].fd = m.wake[0];
		pfds[0].events = POLLIN;
		if (!m.stopping && saturated(&m)) {
			for (size_t i = 0; i < m.nlisteners; i++) {
				pfds[nfds].fd = m.listeners[i].fd;
				pfds[nfds].events = POLLIN;
				nfds++;
			}
			nlisten = nfds - 1;
			timeout_ms = 50; /* re-check: a worker may become idle */
		}
		ctl_first = nfds;
		if (m.control != NULL) {
			nfds += (nfds_t)control_pollfds(m.control, &pfds[nfds], (int)(maxfds - nfds));
			int t = control_next_timeout(m.control);
			if (t >= 0 && t < timeout_ms)
				timeout_ms = t;
		}
		struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
		int r = ppoll(pfds, nfds, &ts, &waitmask);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fatal("ppoll() failed in the master loop");
		}
		if (m.control != NULL)
			control_service(m.control, &pfds[ctl_first], (int)(nfds - ctl_first), &m.ctl);
		if (r == 0)
			continue;
		if (pfds[0].revents & POLLIN) {
			char drain[256];
			while (read(m.wake[0], drain, sizeof(drain)) > 0)
				;
		}
		for (nfds_t i = 1; i <= nlisten; i++) {
			if ((pfds[i].revents & POLLIN) && saturated(&m))
				refuse_connection(&m, &m.listeners[i - 1]);
		}
	}
	log_notice("stopped");
	if (m.store != NULL && store_sync(m.store) != 0)
		log_warnx("greylist store: flushing to disk failed: %s", store_strerror(m.store));
	free(pfds);
	free(m.started_ms);
	free(m.retiring);
	close(m.wake[0]);
	close(m.wake[1]);
	scoreboard_destroy(m.sb);
	if (m.rl != NULL)
		ratelimit_destroy(m.rl);
	return 0;
}
