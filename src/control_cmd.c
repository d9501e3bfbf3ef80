/*
 * control_cmd - what each control socket command does; see control.h
 * for the protocol and smtptrapd(8) for the commands.
 *
 * Commands are a table {name, handler}; a handler gets the words of the
 * line and appends its reply. Replies are "CODE-text" lines and a last
 * "CODE text" line: 200 done, 451 the store failed or a reload failed
 * (the old configuration stays), 500 unknown command, 501 bad arguments,
 * 502 not available, 503 not allowed by the configuration, 504 not
 * configured, 550 no such record. (control.c adds
 * 421 when it drops a client, and 500 for a line too long.)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "control.h"
#include "greylist.h"
#include "log.h"
#include "scoreboard.h"
#include "store.h"

#define MAX_WORDS 8

struct command {
	const char *name;
	const char *usage;
	int (*run)(struct control_ctx *ctx, int argc, char **argv, struct buf *out);
};

static const struct command commands[];

static void
iso_time(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "301", "-60", "5m", "2h", "36d", "1w": seconds, within a century. */
static int
parse_seconds(const char *s, long long *out)
{
	if (config_parse_duration(s, 1, out) != 0)
		return -1;
	/* Offsets beyond a century are surely mistakes. */
	return *out > 3155760000LL || *out < -3155760000LL ? -1 : 0;
}

static int
cmd_help(struct control_ctx *ctx, int argc, char **argv, struct buf *out)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	for (const struct command *c = commands; c->name != NULL; c++)
		buf_printf(out, "200-%s\n", c->usage);
	buf_puts(out, "200 ok\n");
	return 0;
}

static int
cmd_quit(struct control_ctx *ctx, int argc, char **argv, struct buf *out)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	buf_puts(out, "200 bye\n");
	return 1;
}

static int
cmd_status(struct control_ctx *ctx, int argc, char **argv, struct buf *out)
{
	const struct scoreboard *sb = ctx->sb;
	int by_state[WS_EXITING + 1] = { 0 };
	time_t now = time(NULL);
	char iso[32];

	(void)argc;
	(void)argv;
	for (int i = 0; i < sb->high; i++) {
		int st = scoreboard_get_state(sb, i);
		if (st >= 0 && st <= WS_EXITING)
			by_state[st]++;
	}
	buf_printf(out, "200-version %s\n", PACKAGE_VERSION);
	buf_printf(out, "200-pid %ld\n", (long)getpid());
	buf_printf(out, "200-uptime %lld\n", (long long)(now - ctx->started));
	buf_printf(out, "200-generation %u\n", ctx->generation);
	iso_time(clock_now(), iso, sizeof(iso));
	buf_printf(out, "200-clock now=%lld offset=%lld time=%s\n", (long long)clock_now(),
	    clock_offset(), iso);
	buf_printf(out, "200-workers starting=%d idle=%d busy=%d exiting=%d max=%d\n",
	    by_state[WS_STARTING], by_state[WS_IDLE], by_state[WS_BUSY], by_state[WS_EXITING],
	    ctx->cfg->max_workers);
	for (int i = 0; i < sb->high; i++) {
		int st = scoreboard_get_state(sb, i);
		if (st == WS_EMPTY)
			continue;
		buf_printf(out, "200-worker pid=%ld generation=%u state=%s sessions=%lu messages=%lu active=%d\n",
		    (long)sb->slots[i].pid, sb->slots[i].generation,
		    st == WS_STARTING ? "starting" : st == WS_IDLE ? "idle" : st == WS_BUSY ? "busy" : "exiting",
		    sb->slots[i].sessions, sb->slots[i].messages,
		    __atomic_load_n(&sb->slots[i].active, __ATOMIC_RELAXED));
	}
	buf_printf(out, "200-sessions %lu\n", __atomic_load_n(&sb->sessions, __ATOMIC_RELAXED));
	buf_printf(out, "200-messages %lu\n", __atomic_load_n(&sb->messages, __ATOMIC_RELAXED));
	buf_puts(out, "200-rejects");
	int any = 0;
	for (int c = SB_REPLY_MIN; c <= SB_REPLY_MAX; c++) {
		unsigned long n = __atomic_load_n(&sb->replies[c - SB_REPLY_MIN], __ATOMIC_RELAXED);
		if (n > 0) {
			buf_printf(out, " %d=%lu", c, n);
			any = 1;
		}
	}
	buf_puts(out, any ? "\n" : " none\n");
	if (!config_uses_greylisting(ctx->cfg)) {
		buf_puts(out, "200-greylist off\n");
	} else if (ctx->store == NULL) {
		buf_printf(out, "200-greylist unavailable: %s\n",
		    ctx->store_error ? ctx->store_error : "store not open");
	} else {
		struct store_txn *t;
		long trip = -1, cli = -1;
		if (store_begin(ctx->store, 0, &t) == 0) {
			trip = store_count(t, STORE_TRIPLETS);
			cli = store_count(t, STORE_CLIENTS);
			store_abort(t);
		}
		buf_printf(out, "200-greylist triplets=%ld clients=%ld\n", trip, cli);
	}
	buf_puts(out, "200 ok\n");
	return 0;
}

static void
clock_reply(struct buf *out)
{
	char iso[32];
	time_t now = clock_now();

	iso_time(now, iso, sizeof(iso));
	buf_printf(out, "200 now=%lld offset=%lld time=%s\n", (long long)now, clock_offset(), iso);
}

static int
cmd_clock(struct control_ctx *ctx, int argc, char **argv, struct buf *out)
{
	long long secs;

	if (argc == 1) {
		clock_reply(out);
		return 0;
	}
	if (argc != 3 || (strcasecmp(argv[1], "advance") != 0 && strcasecmp(argv[1], "set") != 0) ||
	    parse_seconds(argv[2], &secs) != 0) {
		buf_puts(out, "501 usage: clock [advance SECONDS | set SECONDS] (SECONDS may end in s, m, h, d or w)\n");
		return 0;
	}
	if (!ctx->cfg->clock_control) {
		buf_puts(out, "503 clock control is disabled: set control.clock_control = true\n");
		return 0;
	}
	long long before = clock_offset();
	long long after = strcasecmp(argv[1], "set") == 0 ? secs : before + secs;
	if (after > 3155760000LL || after < -3155760000LL) {
		buf_puts(out, "501 the offset would exceed a century\n");
		return 0;
	}
	clock_set_offset(after);
	log_notice("control: clock offset changed from %lld to %lld seconds", before, after);
	/* Time jumped: expired records go now, before the next command. */
	if (ctx->store != NULL) {
		long n = greylist_purge(ctx->store, &ctx->cfg->greylist);
		if (n < 0)
			log_warnx("greylist store: purge failed: %s", store_strerror(ctx->store));
		else if (n > 0)
			log_info("greylist store: %ld expired records removed", n);
	}
	clock_reply(out);
	return 0;
}

/* Is greylisting usable? If not, say why and return 0. */
static int
have_store(struct control_ctx *ctx, struct buf *out)
{
	if (!config_uses_greylisting(ctx->cfg)) {
		buf_puts(out, "504 greylisting is not configured: no rule uses the greylist action\n");
		return 0;
	}
	if (ctx->store == NULL) {
		buf_printf(out, "451 the greylist store is not available: %s\n",
		    ctx->store_error ? ctx->store_error : "not open");
		return 0;
	}
	return 1;
}

struct list_ctx {
	struct buf *out;
	const struct greylist_conf *gc;
	time_t now;
	long n;
};

static int
list_one(const struct gl_entry *e, void *arg)
{
	struct list_ctx *lc = arg;

	if (e->t != NULL) {
		const struct gl_triplet *t = e->t;
		buf_printf(lc->out, "200-triplet %s <%s> <%s>", e->client, e->sender, e->rcpt);
		if (t->passed != 0) {
			buf_printf(lc->out, " passed");
		} else {
			long long left = (long long)lc->gc->delay - ((long long)lc->now - t->first);
			buf_printf(lc->out, " waiting left=%lld", left < 0 ? 0 : left);
		}
		buf_printf(lc->out, " first=%lld last=%lld attempts=%u passes=%u\n",
		    (long long)t->first, (long long)t->last, t->attempts, t->passes);
	} else {
		const struct gl_client *c = e->c;
		int listed = greylist_client_listed(lc->gc, c, lc->now);
		buf_printf(lc->out, "200-client %s %s passes=%u first=%lld last=%lld\n", e->client,
		    listed == GL_PASS_MANUAL ? "whitelisted-manual" :
		    listed == GL_PASS_AUTO ? "whitelisted-auto" : "counting",
		    c->passes, (long long)c->first, (long long)c->last);
	}
	lc->n++;
	return 0;
}

/* "<a@b>" or "a@b" -> "a@b"; "<>" -> "". In place. */
static char *
strip_brackets(char *s)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		s[n - 1] = '\0';
		return s + 1;
	}
	return s;
}

static int
parse_addr(const char *s, unsigned char addr[16])
{
	struct in_addr a4;

	if (inet_pton(AF_INET, s, &a4) == 1) {
		memset(addr, 0, 10);
		addr[10] = 0xff;
		addr[11] = 0xff;
		memcpy(addr + 12, &a4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, s, addr) == 1 ? 0 : -1;
}

static int
cmd_greylist(struct control_ctx *ctx, int argc, char **argv, struct buf *out)
{
	const struct greylist_conf *gc = &ctx->cfg->greylist;
	const char *sub = argc > 1 ? argv[1] : "";

	if (strcasecmp(sub, "list") == 0 && argc == 2) {
		struct list_ctx lc = { out, gc, clock_now(), 0 };
		if (!have_store(ctx, out))
			return 0;
		if (greylist_list(ctx->store, list_one, &lc) != 0) {
			buf_printf(out, "451 greylist store: %s\n", store_strerror(ctx->store));
			return 0;
		}
		buf_printf(out, "200 %ld record%s\n", lc.n, lc.n == 1 ? "" : "s");
	} else if (strcasecmp(sub, "flush") == 0 && argc == 2) {
		if (!have_store(ctx, out))
			return 0;
		if (greylist_flush(ctx->store) != 0) {
			buf_printf(out, "451 greylist store: %s\n", store_strerror(ctx->store));
			return 0;
		}
		log_notice("control: greylist flushed");
		buf_puts(out, "200 flushed\n");
	} else if (strcasecmp(sub, "purge") == 0 && argc == 2) {
		if (!have_store(ctx, out))
			return 0;
		long n = greylist_purge(ctx->store, gc);
		if (n < 0) {
			buf_printf(out, "451 greylist store: %s\n", store_strerror(ctx->store));
			return 0;
		}
		buf_printf(out, "200 %ld expired record%s removed\n", n, n == 1 ? "" : "s");
	} else if (strcasecmp(sub, "whitelist") == 0 && argc == 3) {
		unsigned char addr[16];
		char key[64];
		if (parse_addr(argv[2], addr) != 0) {
			buf_printf(out, "501 not an IPv4 or IPv6 address: %s\n", argv[2]);
			return 0;
		}
		if (!have_store(ctx, out))
			return 0;
		if (greylist_whitelist(ctx->store, gc, addr) != 0) {
			buf_printf(out, "451 greylist store: %s\n", store_strerror(ctx->store));
			return 0;
		}
		greylist_client_key(gc, addr, key, sizeof(key));
		log_notice("control: greylist: %s whitelisted", key);
		buf_printf(out, "200 %s whitelisted\n", key);
	} else if (strcasecmp(sub, "delete") == 0 && (argc == 3 || argc == 5)) {
		if (!have_store(ctx, out))
			return 0;
		const char *sender = argc == 5 ? strip_brackets(argv[3]) : NULL;
		const char *rcpt = argc == 5 ? strip_brackets(argv[4]) : NULL;
		int rc = greylist_delete(ctx->store, argv[2], sender, rcpt);
		if (rc < 0)
			buf_printf(out, "451 greylist store: %s\n", store_strerror(ctx->store));
		else if (rc == 0)
			buf_puts(out, "550 no such record\n");
		else
			buf_puts(out, "200 deleted\n");
	} else {
		buf_puts(out, "501 usage: greylist list | flush | purge | whitelist ADDRESS | delete CLIENT [<SENDER> <RECIPIENT>]\n");
	}
	return 0;
}

static int
cmd_reload(struct control_ctx *ctx, int argc, char **argv, struct buf *out)
{
	(void)argv;
	if (argc != 1) {
		buf_puts(out, "501 usage: reload\n");
		return 0;
	}
	if (ctx->reload == NULL) {
		buf_puts(out, "502 reload is not available here\n");
		return 0;
	}
	ctx->reload(ctx->reload_arg, out);
	return 0;
}

static const struct command commands[] = {
	{ "status", "status", cmd_status },
	{ "clock", "clock [advance SECONDS | set SECONDS]", cmd_clock },
	{ "greylist", "greylist list | flush | purge | whitelist ADDRESS | delete CLIENT [<SENDER> <RECIPIENT>]", cmd_greylist },
	{ "reload", "reload", cmd_reload },
	{ "help", "help", cmd_help },
	{ "quit", "quit", cmd_quit },
	{ NULL, NULL, NULL },
};

int
control_command(struct control_ctx *ctx, char *line, struct buf *out)
{
	char *argv[MAX_WORDS + 1];
	int argc = 0;
	char *save = NULL;

	for (char *w = strtok_r(line, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
		if (argc == MAX_WORDS) {
			buf_puts(out, "501 too many words\n");
			return 0;
		}
		argv[argc++] = w;
	}
	if (argc == 0) {
		buf_puts(out, "500 empty command (try help)\n");
		return 0;
	}
	for (char *p = argv[0]; *p; p++) {
		if ((unsigned char)*p < 32 || (unsigned char)*p > 126) {
			buf_puts(out, "500 unknown command (try help)\n");
			return 0;
		}
	}
	for (const struct command *c = commands; c->name != NULL; c++)
		if (strcasecmp(c->name, argv[0]) == 0)
			return c->run(ctx, argc, argv, out);
	buf_printf(out, "500 unknown command '%.64s' (try help)\n", argv[0]);
	return 0;
}
