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
 * start, before it took a session, counts as a start failure; after MAX_START_FAILURES in a row the
 * master pauses spawning, doubling the pause up to MAX_THROTTLE_MS.
 *
 * Resource limits: a fork() that fails (the process limit, memory) is
 * retried after a pause that doubles from FORK_RETRY_MS up to
 * FORK_RETRY_MAX_MS; an accept() at the file descriptor limit stops the
 * master watching the listeners for BACKOFF_ACCEPT_MS, so it neither spins
 * on a readable listener nor dies. Both are logged without a flood
 * (backoff.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "control.h"
#include "deliver.h"
#include "greylist.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "monotime.h"
#include "notify.h"
#include "ratelimit.h"
#include "reload.h"
#include "scoreboard.h"
#include "store.h"
#include "worker.h"
#include "xmalloc.h"

/* Client addresses the per-minute rate table keeps at once. */
#define RATELIMIT_CLIENTS 8192
/*
 * Scoreboard slots: room for a full pool of the largest size plus a
 * retiring generation of the same size still finishing its sessions.
 */
#define SB_CAPACITY (2 * 4096)

#define START_GRACE_MS 2000
#define MAX_START_FAILURES 3
#define MAX_THROTTLE_MS 60000
#define SPAWNS_PER_SECOND 256
#define FORK_RETRY_MS 100
#define FORK_RETRY_MAX_MS 10000
#define KILL_GRACE_MS 2000
#define STORE_SYNC_MS 5000
#define OLD_IDLE_WAIT_MS 2000

static volatile sig_atomic_t got_chld;
static volatile sig_atomic_t got_stop;
static volatile sig_atomic_t got_hup;
static volatile sig_atomic_t got_usr1;

static void on_chld(int sig) { (void)sig; got_chld = 1; }
static void on_stop(int sig) { (void)sig; got_stop = 1; }
static void on_hup(int sig) { (void)sig; got_hup = 1; }
static void on_usr1(int sig) { (void)sig; got_usr1 = 1; }

struct master {
	struct master_args *a;
	struct generation *gen;   /* the running generation */
	const struct config *cfg; /* &gen->cfg */
	struct ratelimit *rl;
	struct store *store;
	char store_error[512];    /* why greylisting has no store */
	struct control *control;
	struct control *next_control; /* replaces control at the next turn of the loop */
	struct control_ctx ctl;
	char status[160];         /* the last STATUS= sent to the service manager */
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
	struct backoff fork_retry;   /* after fork() failed */
	struct backoff accept_pause; /* after accept() of a refused connection failed */
};

/* Start a worker in slot; -1 when fork() failed (retried after a pause). */
static int
spawn(struct master *m, int slot)
{
	struct sb_slot *s = &m->sb->slots[slot];
	const struct generation *g = m->gen;
	pid_t pid;

	pid_t master = getpid(); /* read before fork: see worker_main() */

	scoreboard_set_state(m->sb, slot, WS_STARTING);
	scoreboard_use_slot(m->sb, slot);
	s->generation = g->number;
	s->sessions = 0;
	s->messages = 0;
	s->started = time(NULL);
	s->active = 0;
	s->capacity = 0;
	s->used = 0;
	pid = fork();
	if (pid < 0) {
		int err = errno;
		unsigned long quiet = 0;
		char note[64];
		scoreboard_set_state(m->sb, slot, WS_EMPTY);
		if (backoff_fail(&m->fork_retry, monotime_ms(), &quiet))
			log_warnx("fork() failed while spawning a worker: %s; retrying in %lld ms%s",
			    strerror(err), m->fork_retry.delay_ms,
			    backoff_quiet_note(quiet, note, sizeof(note)));
		else
			log_debug("fork() failed again: %s; retrying in %lld ms", strerror(err),
			    m->fork_retry.delay_ms);
		return -1;
	}
	if (pid == 0) {
		struct worker_ctx w = {
			.cfg = &g->cfg,
			.listeners = g->listeners,
			.nlisteners = g->cfg.nlisteners,
			.tls = g->tls,
			.authdb = g->authdb,
			.rl = m->rl,
			.maildir_fd = g->maildir_fd,
			.state_fd = g->store_path != NULL ? g->state_fd : -1,
			.transcript_dirfd = g->transcript_fd,
			.sb = m->sb,
			.slot = slot,
			.generation = g->number,
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
	log_debug("worker %ld of generation %u started in slot %d", (long)pid, g->number, slot);
	unsigned long failed = backoff_ok(&m->fork_retry);
	if (failed > 0)
		log_notice("worker started after %lu failed fork() attempts", failed);
	return 0;
}

static int
slot_of(const struct master *m, pid_t pid)
{
	for (int i = 0; i < m->sb->high; i++)
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
		/* A worker killed in a session did start: not a fork storm. */
		int took_session = s->sessions > 0 ||
		    __atomic_load_n(&s->active, __ATOMIC_RELAXED) > 0 ||
		    scoreboard_get_state(m->sb, slot) == WS_BUSY;
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
		/* What it was writing stays in tmp/: remove it now, not at the next start. */
		if (abnormal)
			deliver_recover(m->cfg, m->gen->maildir_fd, pid, 0);
		if (abnormal && !took_session && !m->stopping &&
		    now - m->started_ms[slot] < START_GRACE_MS)
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

/*
 * Workers of the running generation alive, and of those the ones that can
 * take a connection soon. Workers of older generations are finishing
 * their sessions and do not count.
 */
struct census {
	int live;      /* workers of the current generation */
	int ready;     /* of them, able to take a connection now or soon */
	int busy;      /* of them, serving at least one session */
	int sessions;  /* sessions they serve */
};

static void
census(const struct master *m, struct census *c)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < m->sb->high; i++) {
		int st = scoreboard_get_state(m->sb, i);
		if (st == WS_EMPTY || m->sb->slots[i].generation != m->gen->number)
			continue;
		c->live++;
		if (scoreboard_slot_ready(m->sb, i) && !m->retiring[i])
			c->ready++;
		if (st == WS_BUSY)
			c->busy++;
		c->sessions += __atomic_load_n(&m->sb->slots[i].active, __ATOMIC_RELAXED);
	}
}

static int
saturated(const struct master *m)
{
	struct census c;

	census(m, &c);
	return c.live >= m->cfg->max_workers && c.ready == 0;
}

static void
maintain_pool(struct master *m)
{
	long long now = monotime_ms();
	struct census c;

	census(m, &c);
	int live = c.live, idle = c.ready;
	if (now - m->spawn_window >= 1000) {
		m->spawn_window = now;
		m->spawns_in_window = 0;
	}
	while (idle < m->cfg->min_spare && live < m->cfg->max_workers &&
	    now >= m->throttle_until && backoff_ready(&m->fork_retry, now) &&
	    m->spawns_in_window < SPAWNS_PER_SECOND) {
		int slot = scoreboard_free_slot(m->sb);
		if (slot < 0 || spawn(m, slot) != 0)
			break;
		m->spawns_in_window++;
		live++;
		idle++;
	}
	/* Too many idle: retire the surplus (they exit only while idle). */
	for (int i = 0; i < m->sb->high && idle > m->cfg->max_spare; i++) {
		if (scoreboard_get_state(m->sb, i) == WS_IDLE && !m->retiring[i] &&
		    m->sb->slots[i].generation == m->gen->number) {
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

	if (fd < 0) {
		/* EAGAIN and the like: a worker took it. */
		listen_accept_failed(&m->accept_pause, monotime_ms(), errno, "", l->addr, 1);
		return;
	}
	backoff_ok(&m->accept_pause);
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
	for (int i = 0; i < m->sb->high; i++)
		if (m->sb->slots[i].pid > 0)
			kill(m->sb->slots[i].pid, sig);
}

static void
begin_stop(struct master *m)
{
	int busy = 0, sessions = 0;

	for (int i = 0; i < m->sb->high; i++) {
		if (scoreboard_get_state(m->sb, i) != WS_BUSY)
			continue;
		busy++;
		sessions += __atomic_load_n(&m->sb->slots[i].active, __ATOMIC_RELAXED);
	}
	notify_stopping();
	log_notice("stopping: %d workers busy (%d sessions), waiting up to %d ms for their sessions",
	    busy, sessions, m->cfg->timeout_shutdown_ms);
	m->stopping = 1;
	m->kill_deadline = monotime_ms() + m->cfg->timeout_shutdown_ms + KILL_GRACE_MS;
	for (size_t i = 0; i < m->cfg->nlisteners; i++) {
		struct listener *l = &m->gen->listeners[i];
		if (l->fd >= 0)
			close(l->fd);
		l->fd = -1;
	}
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

/* Tell the service manager how the pool looks, when that changed. */
static void
report_status(struct master *m)
{
	char status[sizeof(m->status)];
	struct census c;

	census(m, &c);
	int old = scoreboard_live(m->sb) - c.live;
	int n = snprintf(status, sizeof(status),
	    "%d workers (%d idle, %d busy, %d sessions), generation %u",
	    c.live, c.live - c.busy, c.busy, c.sessions, m->gen->number);
	if (old > 0 && n > 0 && (size_t)n < sizeof(status))
		snprintf(status + n, sizeof(status) - (size_t)n, ", %d older finishing", old);
	if (strcmp(status, m->status) != 0) {
		memcpy(m->status, status, sizeof(status));
		notify_status("%s", status);
	}
}

/* Ask every worker of an older generation to exit once its session ends. */
static void
retire_old_generations(struct master *m)
{
	for (int i = 0; i < m->sb->high; i++) {
		struct sb_slot *s = &m->sb->slots[i];
		if (s->pid > 0 && s->generation != m->gen->number && !m->retiring[i]) {
			m->retiring[i] = 1;
			kill(s->pid, SIGUSR2);
		}
	}
}

/*
 * After a reload: wait (briefly) until no worker of an older generation is
 * idle, so every connection from now on is served with the new
 * configuration. Idle workers exit at once when told; this is bounded in
 * case one is slow to be scheduled.
 */
static void
wait_old_idle(struct master *m)
{
	long long deadline = monotime_ms() + OLD_IDLE_WAIT_MS;

	for (;;) {
		int waiting = 0;
		for (int i = 0; i < m->sb->high; i++) {
			if (scoreboard_slot_ready(m->sb, i) &&
			    m->sb->slots[i].generation != m->gen->number)
				waiting++;
		}
		if (waiting == 0)
			return;
		if (monotime_ms() >= deadline) {
			log_warnx("reload: %d idle workers of older generations have not exited yet", waiting);
			return;
		}
		struct timespec pause = { 0, 2 * 1000000L };
		nanosleep(&pause, NULL);
	}
}

/* The greylist store for generation g: the open one if the file is the same. */
static void
switch_store(struct master *m, const struct generation *g, const struct generation *old)
{
	if (g->store_path != NULL && m->store != NULL && old->store_path != NULL &&
	    strcmp(g->store_path, old->store_path) == 0)
		return;
	store_close(m->store);
	m->store = NULL;
	m->store_error[0] = '\0';
	if (g->store_path == NULL)
		return;
	m->store = gen_store_open(g->state_fd, &g->cfg, m->store_error, sizeof(m->store_error));
	if (m->store == NULL)
		log_err("greylist store %s; until it is fixed, greylisting %s (greylist.on_store_error)",
		    m->store_error, g->cfg.greylist.on_store_error == GL_ON_ERROR_PASS ?
		    "passes every recipient" : "defers every recipient with 451 4.3.0");
	else
		log_notice("greylist store %s", g->store_path);
}

/*
 * The control socket for generation g: the same one when the path is
 * unchanged (its mode follows the new setting), else a new one that
 * replaces the old at the next turn of the loop (a reload may be running
 * on behalf of one of the old socket's clients). -1 when a new socket
 * cannot be opened.
 */
static int
switch_control(struct master *m, const struct config *cfg, const struct config *old,
    struct buf *errors)
{
	char err[512];

	if (cfg->control_socket != NULL && old->control_socket != NULL &&
	    strcmp(cfg->control_socket, old->control_socket) == 0) {
		if (cfg->control_mode != old->control_mode && m->control != NULL &&
		    chmod(control_path(m->control), (mode_t)cfg->control_mode) != 0)
			log_warn("control socket %s: chmod failed", cfg->control_socket);
		if (cfg->control_timeout_ms != old->control_timeout_ms ||
		    cfg->control_max_clients != old->control_max_clients)
			log_warnx("control.timeout and control.max_clients take effect at the next start");
		return 0;
	}
	if (cfg->control_socket == NULL) {
		m->next_control = NULL;
		return 0;
	}
	m->next_control = control_open(cfg, err, sizeof(err));
	if (m->next_control == NULL) {
		buf_printf(errors, "%s\n", err);
		return -1;
	}
	return 0;
}

/*
 * SIGUSR1 (logrotate): the master reopens the log file and tells every
 * worker to do the same (an idle one at once, a busy one after its
 * session). Transcripts are opened per session, so they need nothing.
 */
static void
reopen_logs(struct master *m)
{
	if (log_file_fd() < 0) {
		log_notice("SIGUSR1: no log file in use (lines go to %s); nothing to reopen",
		    m->a->foreground ? "stderr" : "syslog");
		return;
	}
	signal_all(m, SIGUSR1);
	if (log_reopen() != 0)
		log_warn("SIGUSR1: cannot reopen the log file %s; still writing to the old one",
		    m->cfg->log_file);
	else
		log_notice("SIGUSR1: log file %s reopened", m->cfg->log_file);
}

/* Log every line of errors, each with what failed in front. */
static void
log_lines(const char *what, const struct buf *errors)
{
	const char *p = errors->data;

	while (p != NULL && *p != '\0') {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);
		log_err("%s: %.*s", what, n, p);
		p = nl ? nl + 1 : NULL;
	}
}

/*
 * SIGHUP and the control socket's "reload": build the next generation
 * from the same configuration file and command line. On any error the
 * running generation stays, and the errors are logged with file:line.
 * On success new workers start with the new configuration and the old
 * ones finish their sessions and exit. The outcome is appended to out
 * (a control reply) when out is not NULL. 0 or -1.
 */
static int
master_reload(struct master *m, struct buf *out)
{
	const struct gen_opts *o = m->a->opts;
	struct generation *old = m->gen, *g;
	struct buf errors;

	notify_reloading();
	log_notice("reloading the configuration%s%s", o->config_path ? " from " : " (built-in)",
	    o->config_path ? o->config_path : "");
	buf_init(&errors);
	g = gen_load(o, old->number + 1, &errors);
	if (g != NULL && gen_open(g, old, o, (uid_t)-1, (gid_t)-1, &errors) != 0) {
		gen_free(g);
		g = NULL;
	}
	char err[512];
	if (g != NULL && deliver_ops_for(&g->cfg)->check(&g->cfg, g->maildir_fd, err, sizeof(err)) != 0) {
		buf_printf(&errors, "%s\n", err);
		gen_free(g);
		g = NULL;
	}
	if (g != NULL && switch_control(m, &g->cfg, m->cfg, &errors) != 0) {
		gen_free(g);
		g = NULL;
	}
	if (g == NULL) {
		log_lines("reload failed", &errors);
		log_err("reload failed: generation %u keeps running with the previous configuration",
		    old->number);
		if (out != NULL) {
			const char *first = errors.data ? errors.data : "";
			int n = (int)strcspn(first, "\n");
			buf_printf(out, "451 reload failed, generation %u keeps running: %.*s\n", old->number,
			    n, first);
		}
		buf_free(&errors);
		notify_ready(m->status[0] ? m->status : NULL);
		return -1;
	}
	buf_free(&errors);

	const struct config *cfg = &g->cfg;
	if ((cfg->user == NULL) != (old->cfg.user == NULL) ||
	    (cfg->user != NULL && strcmp(cfg->user, old->cfg.user) != 0) ||
	    (cfg->group == NULL) != (old->cfg.group == NULL) ||
	    (cfg->group != NULL && strcmp(cfg->group, old->cfg.group) != 0))
		log_warnx("server.user and server.group take effect at the next start");
	if ((cfg->pid_file == NULL) != (old->cfg.pid_file == NULL) ||
	    (cfg->pid_file != NULL && strcmp(cfg->pid_file, old->cfg.pid_file) != 0))
		log_warnx("server.pid_file takes effect at the next start");
	if (cfg->max_workers > SB_CAPACITY / 2)
		log_warnx("workers.max_workers above %d: the pool stops at %d", SB_CAPACITY / 2,
		    SB_CAPACITY / 2);

	for (size_t i = 0; i < cfg->nlisteners; i++)
		if (g->carried[i] < 0)
			log_notice("listening on %s (listener %s)", g->listeners[i].addr, g->listeners[i].name);
	gen_take_over(g, old);
	for (size_t i = 0; i < old->cfg.nlisteners; i++)
		if (old->listeners[i].fd >= 0)
			log_notice("listener %s on %s closed", old->listeners[i].name, old->listeners[i].addr);
	m->gen = g;
	m->cfg = cfg;
	switch_store(m, g, old);
	if (m->rl == NULL && (cfg->connection_rate > 0 || cfg->message_rate > 0)) {
		m->rl = ratelimit_create(RATELIMIT_CLIENTS, 60);
		if (m->rl == NULL)
			log_warnx("cannot create the rate table: rate limits are not enforced");
	}
	m->ctl.cfg = cfg;
	m->ctl.store = m->store;
	m->ctl.store_error = m->store == NULL && m->store_error[0] ? m->store_error : NULL;
	m->ctl.generation = g->number;
	log_set_level((enum log_level)cfg->log_level);
	log_set_facility(cfg->log_facility);
	if (cfg->log_file != NULL && (old->cfg.log_file == NULL || strcmp(cfg->log_file, old->cfg.log_file) != 0)) {
		char lerr[512];
		if (log_open_file(cfg->log_file, lerr, sizeof(lerr)) != 0)
			log_warnx("reload: %s; logging goes on where it went", lerr);
	} else if (cfg->log_file == NULL && old->cfg.log_file != NULL) {
		log_warnx("reload: server.log_file was removed; the log file stays in use until the next start");
	}
	__atomic_store_n(&m->sb->generation, g->number, __ATOMIC_RELEASE);
	retire_old_generations(m);
	gen_free(old);
	m->start_failures = 0;
	m->throttle_until = 0;
	maintain_pool(m);
	wait_old_idle(m);
	log_notice("reloaded: generation %u, %s delivery to %s, workers %d..%d (max %d)", g->number,
	    deliver_ops_for(cfg)->name, cfg->backend == BACKEND_MAILDIR ? cfg->maildir : "nowhere",
	    cfg->min_spare, cfg->max_spare, cfg->max_workers);
	if (out != NULL)
		buf_printf(out, "200 reloaded: generation %u\n", g->number);
	m->status[0] = '\0';
	report_status(m);
	notify_ready(m->status);
	return 0;
}

static int
control_reload(void *arg, struct buf *out)
{
	return master_reload(arg, out);
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
master_run(struct master_args *a)
{
	struct master m;
	sigset_t waitmask;
	struct pollfd *pfds;
	size_t maxfds;

	memset(&m, 0, sizeof(m));
	m.a = a;
	m.gen = a->gen;
	m.cfg = &m.gen->cfg;
	backoff_init(&m.fork_retry, FORK_RETRY_MS, FORK_RETRY_MAX_MS);
	backoff_init(&m.accept_pause, BACKOFF_ACCEPT_MS, BACKOFF_ACCEPT_MS);
	m.store = a->store;
	if (a->store_error != NULL)
		snprintf(m.store_error, sizeof(m.store_error), "%s", a->store_error);
	m.control = a->control;
	if (m.cfg->connection_rate > 0 || m.cfg->message_rate > 0) {
		/* Shared by every worker; made before the first fork. */
		m.rl = ratelimit_create(RATELIMIT_CLIENTS, 60);
		if (m.rl == NULL)
			fatal("cannot create the rate table");
	}
	if (clock_init() != 0)
		fatal("cannot create the shared clock offset");
	m.sb = scoreboard_create(SB_CAPACITY);
	m.sb->generation = m.gen->number;
	m.ctl.cfg = m.cfg;
	m.ctl.sb = m.sb;
	m.ctl.store = m.store;
	m.ctl.store_error = m.store == NULL && m.store_error[0] ? m.store_error : NULL;
	m.ctl.started = time(NULL);
	m.ctl.generation = m.gen->number;
	m.ctl.reload = control_reload;
	m.ctl.reload_arg = &m;
	m.next_purge = monotime_ms() + (long long)m.cfg->store_purge_interval * 1000;
	m.next_sync = monotime_ms() + STORE_SYNC_MS;
	m.started_ms = xcalloc(SB_CAPACITY, sizeof(*m.started_ms));
	m.retiring = xcalloc(SB_CAPACITY, 1);
	if (pipe2(m.wake, O_NONBLOCK | O_CLOEXEC) != 0)
		fatal("pipe2() failed for the wake pipe");
	pfds = NULL;
	maxfds = 0;
	setup_signals(&waitmask);
	maintain_pool(&m);
	report_status(&m);
	notify_ready(m.status);

	for (;;) {
		long long now;
		int timeout_ms = 1000;
		nfds_t nfds = 1, nlisten = 0, ctl_first;

		if (m.next_control != NULL || (m.control != NULL && m.cfg->control_socket == NULL)) {
			control_close(m.control, 1);
			m.control = m.next_control;
			m.next_control = NULL;
			if (m.control != NULL)
				log_notice("control socket %s", m.cfg->control_socket);
		}
		size_t need = 1 + m.cfg->nlisteners + (m.control ? (size_t)control_maxfds(m.control) : 0);
		if (need > maxfds) {
			free(pfds);
			maxfds = need;
			pfds = xcalloc(maxfds, sizeof(*pfds));
		}
		if (got_chld) {
			got_chld = 0;
			reap(&m);
		}
		if (got_stop && !m.stopping)
			begin_stop(&m);
		if (got_hup) {
			got_hup = 0;
			if (!m.stopping)
				master_reload(&m, NULL);
		}
		if (got_usr1) {
			got_usr1 = 0;
			reopen_logs(&m);
		}

		now = monotime_ms();
		store_chores(&m, now);
		if (m.stopping) {
			if (scoreboard_live(m.sb) == 0)
				break;
			if (now >= m.kill_deadline) {
				log_warnx("stopping: %d workers still running after the deadline, killing them",
				    scoreboard_live(m.sb));
				signal_all(&m, SIGKILL);
				m.kill_deadline = now + KILL_GRACE_MS;
			}
			timeout_ms = 100;
		} else {
			maintain_pool(&m);
			report_status(&m);
			if (now < m.throttle_until)
				timeout_ms = (int)(m.throttle_until - now);
			if (!backoff_ready(&m.fork_retry, now))
				timeout_ms = backoff_wait_ms(&m.fork_retry, now, timeout_ms);
		}

		pfds[0].fd = m.wake[0];
		pfds[0].events = POLLIN;
		if (!m.stopping && saturated(&m)) {
			/* Paused after EMFILE: the listeners stay readable, do not spin. */
			int paused = !backoff_ready(&m.accept_pause, now);
			for (size_t i = 0; i < m.cfg->nlisteners; i++) {
				pfds[nfds].fd = m.gen->listeners[i].fd;
				pfds[nfds].events = paused ? 0 : POLLIN;
				nfds++;
			}
			nlisten = nfds - 1;
			timeout_ms = 50; /* re-check: a worker may become idle */
			if (paused)
				timeout_ms = backoff_wait_ms(&m.accept_pause, now, timeout_ms);
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
				refuse_connection(&m, &m.gen->listeners[i - 1]);
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
	a->gen = m.gen;
	a->store = m.store;
	a->control = m.control;
	return 0;
}
