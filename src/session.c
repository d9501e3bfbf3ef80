/*
 * session - the SMTP state machine: greeting, command loop, command table
 * and the commands that need no transaction (HELO, EHLO, RSET, NOOP, QUIT,
 * VRFY, HELP and the ones this server refuses).
 *
 * Dispatch is table-driven: each verb has a check (is it allowed in this
 * state? replies 503 if not) and a proceed (does the work and replies).
 * Replies are queued and flushed only when no further complete command is
 * buffered, so pipelined commands get their replies in one write, in order.
 * Every state change goes through session_set_state(), which logs it at
 * debug level.
 *
 * Logging: every line of a session is an event, "ID [CLIENT]:PORT EVENT
 * key=value ..." (session_log()); every 4xx/5xx reply is one "reject"
 * event naming its stage, its rule (or "-") and the command it answers.
 *
 * Transcripts (server.transcript_directory): every line the client sends
 * is written as it came, except that an AUTH initial response and every
 * line of an AUTH exchange are written as "***" (the mechanism stays
 * visible); message content is not written, only a summary line,
 * "< (message: N octets, M lines)" for DATA and "< (chunk: N octets)" per
 * BDAT chunk. Every reply line is written as sent, and every event of the
 * session at info level or above as a "*" line.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/random.h>
#include <unistd.h>

#include "config.h"
#include "deliver.h"
#include "ratelimit.h"
#include "scoreboard.h"
#include "monotime.h"
#include "session_priv.h"
#include "xmalloc.h"

static const char *const state_names[] = {
	[S_CONNECTED] = "connected",
	[S_GREETED] = "greeted",
	[S_MAIL] = "mail",
	[S_RCPT] = "rcpt",
	[S_BDAT] = "bdat",
	[S_AUTH] = "auth",
	[S_CLOSING] = "closing",
};

void
session_log(struct session *s, enum log_level level, const char *event,
    const struct log_kv *kv)
{
	const char *text = kv != NULL ? kv->text : "";
	const char *sep = text[0] != '\0' ? " " : "";

	if (s->transcript != NULL && level <= LOGL_INFO) {
		char line[LOG_KV_MAX + 160];
		int n = snprintf(line, sizeof(line), "%s [%s]:%d %s%s%s", s->id, s->peer,
		    s->peer_port, event, sep, text);
		if (n > 0)
			session_transcript(s, '*', line,
			    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
	if (log_enabled(level))
		log_msg(level, "%s [%s]:%d %s%s%s", s->id, s->peer, s->peer_port, event, sep, text);
}

void
session_transcript(struct session *s, char dir, const char *text, size_t len)
{
	struct log_kv kv;

	if (s->transcript == NULL || transcript_line(s->transcript, dir, text, len) == 0)
		return;
	log_kv_init(&kv);
	log_kv_str(&kv, "result", "failed");
	log_kv_add(&kv, "reason", "write: %s", strerror(errno));
	transcript_close(s->transcript);
	s->transcript = NULL;
	session_log(s, LOGL_WARNING, "transcript", &kv);
}

void
session_set_state(struct session *s, enum session_state next)
{
	if (s->state != next && log_enabled(LOGL_DEBUG)) {
		struct log_kv kv;
		log_kv_init(&kv);
		log_kv_str(&kv, "from", state_names[s->state]);
		log_kv_str(&kv, "to", state_names[next]);
		session_log(s, LOGL_DEBUG, "state", &kv);
	}
	s->state = next;
}

void
session_reply_cause(struct session *s, int stage, int rule_line, const struct log_kv *extra)
{
	s->reply_stage = stage;
	s->reply_rule = rule_line;
	s->reply_extra = extra;
}

/* The reply's log line: "reject" for 4xx/5xx, else "reply" (debug). */
static void
log_reply(struct session *s, int code, const char *enh, const char *text, int stage,
    int rule, const struct log_kv *extra)
{
	int reject = code >= 400;
	struct log_kv kv;

	if (!reject && !log_enabled(LOGL_DEBUG))
		return;
	if (stage < 0)
		stage = s->idle ? ST_COMMAND : (int)s->stage;
	log_kv_init(&kv);
	log_kv_add(&kv, "code", "%d", code);
	log_kv_str(&kv, "status", enh != NULL ? enh : "-");
	log_kv_str(&kv, "stage", policy_stage_name((enum policy_stage)stage));
	if (reject) {
		if (rule > 0)
			log_kv_add(&kv, "rule", "%d", rule);
		else
			log_kv_str(&kv, "rule", "-");
	}
	log_kv_str(&kv, "cmd", !s->idle && s->cmdlog[0] != '\0' ? s->cmdlog : "-");
	log_kv_cat(&kv, extra);
	log_kv_str(&kv, reject ? "reason" : "text", text);
	session_log(s, reject ? LOGL_INFO : LOGL_DEBUG, reject ? "reject" : "reply", &kv);
}

void
session_reply(struct session *s, int code, const char *enh, const char *fmt, ...)
{
	char text[1024];
	const char *line;
	va_list ap;
	int use_enh = enh != NULL && (s->cfg->extensions & EXT_ENHANCEDSTATUSCODES);
	/* The cause is this reply's only: a nested reply must not inherit it. */
	int stage = s->reply_stage, rule = s->reply_rule;
	const struct log_kv *extra = s->reply_extra;

	session_reply_cause(s, -1, 0, NULL);
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);

	/* A tarpit, and past limits.soft_errors a growing delay, before each reply. */
	int delay = s->tarpit_ms;
	if (s->cfg->soft_errors > 0 && s->errors >= (unsigned)s->cfg->soft_errors) {
		long long d = (long long)s->cfg->error_delay_ms * (s->errors - (unsigned)s->cfg->soft_errors + 1);
		delay += (int)(d > 30000 ? 30000 : d);
	}
	if (delay > 0 && !s->replying && s->state != S_CLOSING) {
		s->replying = 1;
		if (netio_flush(&s->io, s->cfg->timeout_command_ms) == NETIO_OK)
			(void)session_pause(s, delay);
		s->replying = 0;
	}

	line = text;
	for (;;) {
		const char *nl = strchr(line, '\n');
		int len = nl ? (int)(nl - line) : (int)strlen(line);
		char out[1100];
		int n = snprintf(out, sizeof(out), "%d%c%s%s%.*s\r\n", code, nl ? '-' : ' ',
		    use_enh ? enh : "", use_enh ? " " : "", len, line);
		size_t wlen = (size_t)n < sizeof(out) ? (size_t)n : sizeof(out) - 1;
		netio_write(&s->io, out, wlen);
		if (s->transcript != NULL)
			session_transcript(s, '>', out, wlen >= 2 && out[wlen - 2] == '\r' ? wlen - 2 : wlen);
		if (nl == NULL)
			break;
		line = nl + 1;
	}
	if (code >= 400 && code != 421)
		s->errors++;
	if (code >= 400 && s->env->sb != NULL)
		scoreboard_count_reply(s->env->sb, code);
	if (code >= 400)
		s->rejects++;
	log_reply(s, code, use_enh ? enh : NULL, text, stage, rule, extra);
}

/*
 * How much of an AUTH command line may be shown: "AUTH MECH", never the
 * initial response after it. len when the line is not an AUTH command.
 */
static size_t
auth_visible(const char *line, size_t len)
{
	size_t k = 5;

	if (len <= 5 || strncasecmp(line, "AUTH ", 5) != 0)
		return len;
	while (k < len && (isalnum((unsigned char)line[k]) || line[k] == '-' || line[k] == '_'))
		k++;
	return k;
}

/*
 * Keep a printable, bounded copy of the command for the log. An AUTH
 * initial response is a secret: only "AUTH MECH ***" is kept.
 */
static void
set_cmdlog(struct session *s, const char *line, size_t len)
{
	size_t max = sizeof(s->cmdlog) - 5; /* room for " ***" or "...", and the NUL */
	size_t show = auth_visible(line, len);
	size_t k = 0;

	for (size_t i = 0; i < show && k < max; i++) {
		unsigned char c = (unsigned char)line[i];
		s->cmdlog[k++] = (c >= 32 && c < 127) ? (char)c : '?';
	}
	if (show < len) {
		memcpy(s->cmdlog + k, " ***", 4);
		k += 4;
	} else if (len > max) {
		memcpy(s->cmdlog + k, "...", 3);
		k += 3;
	}
	s->cmdlog[k] = '\0';
}

/* A client line into the transcript, with any AUTH secret masked. */
static void
transcript_command(struct session *s, const char *line, size_t len)
{
	size_t show;
	char *masked;

	if (s->transcript == NULL)
		return;
	show = auth_visible(line, len);
	if (show == len) {
		session_transcript(s, '<', line, len);
		return;
	}
	masked = xmalloc(show + 5);
	memcpy(masked, line, show);
	memcpy(masked + show, " ***", 4);
	session_transcript(s, '<', masked, show + 4);
	free(masked);
}

/* The stage a command belongs to, for the log. */
static enum policy_stage
verb_stage(enum smtp_verb verb)
{
	switch (verb) {
	case VERB_HELO:
	case VERB_EHLO:
		return ST_HELO;
	case VERB_STARTTLS:
		return ST_STARTTLS;
	case VERB_AUTH:
		return ST_AUTH;
	case VERB_MAIL:
		return ST_MAIL;
	case VERB_RCPT:
		return ST_RCPT;
	case VERB_DATA:
	case VERB_BDAT:
		return ST_DATA;
	default:
		return ST_COMMAND;
	}
}

void
session_tx_reset(struct session *s)
{
	struct transaction *tx = &s->tx;

	deliver_abort(s->env->dlv);
	free(tx->sender);
	buf_free(&tx->mail_params);
	for (size_t i = 0; i < tx->nrcpts; i++) {
		free(tx->rcpts[i].address);
		free(tx->rcpts[i].params);
	}
	free(tx->rcpts);
	memset(tx, 0, sizeof(*tx));
	tx->declared_size = -1;
}

/* Close with 421 for the reason a deadline passed. */
void
session_timeout_close(struct session *s, long long now)
{
	if (s->stop_deadline != 0 && now >= s->stop_deadline) {
		session_reply(s, 421, "4.3.2", "%s Service shutting down, closing connection",
		    s->cfg->hostname);
	} else if (now >= s->session_deadline) {
		session_reply(s, 421, "4.4.2", "%s Error: session time limit exceeded",
		    s->cfg->hostname);
	} else {
		session_reply(s, 421, "4.4.2", "%s Error: timeout exceeded", s->cfg->hostname);
	}
	session_set_state(s, S_CLOSING);
}

void
session_log_lost(struct session *s, const char *reason)
{
	struct log_kv kv;

	log_kv_init(&kv);
	log_kv_str(&kv, "after", s->cmdlog[0] ? s->cmdlog : "CONNECT");
	if (reason != NULL)
		log_kv_str(&kv, "reason", reason);
	session_log(s, LOGL_INFO, "lost", &kv);
}

long long
session_wait_until(struct session *s, long long deadline)
{
	long long until = deadline;

	if (*s->env->stop && s->stop_deadline == 0)
		s->stop_deadline = monotime_ms() + s->cfg->timeout_shutdown_ms;
	if (s->session_deadline < until)
		until = s->session_deadline;
	if (s->stop_deadline != 0 && s->stop_deadline < until)
		until = s->stop_deadline;
	return until;
}

int
session_wait_input(struct session *s, int timeout_ms)
{
	return session_wait_input_until(s, monotime_ms() + timeout_ms);
}

int
session_wait_input_until(struct session *s, long long deadline)
{
	for (;;) {
		long long until = session_wait_until(s, deadline);
		long long now = monotime_ms();

		if (now >= until) {
			session_timeout_close(s, now);
			return -1;
		}
		enum netio_wait w = netio_fill(&s->io, (int)(until - now));
		switch (w) {
		case NETIO_OK:
			return 0;
		case NETIO_INTERRUPTED:
			continue;
		case NETIO_TIMEOUT:
			continue; /* the deadline check above replies */
		case NETIO_EOF:
			session_log_lost(s, NULL);
			session_set_state(s, S_CLOSING);
			return -1;
		case NETIO_ERROR:
		default:
			session_log_lost(s, netio_strerror(&s->io));
			session_set_state(s, S_CLOSING);
			return -1;
		}
	}
}

/* --- checks: is the command allowed now? Reply and return -1 if not. --- */

static int
check_none(struct session *s, const struct smtp_command *cmd)
{
	(void)s;
	(void)cmd;
	return 0;
}

static int
check_no_args(struct session *s, const struct smtp_command *cmd)
{
	if (cmd->args_len > 0) {
		session_reply(s, 501, "5.5.4", "Syntax: %s", parser_verb_name(cmd->verb));
		return -1;
	}
	return 0;
}

static int
check_mail(struct session *s, const struct smtp_command *cmd)
{
	(void)cmd;
	if (s->state == S_CONNECTED) {
		session_reply(s, 503, "5.5.1", "Error: send HELO/EHLO first");
		return -1;
	}
	if (s->state != S_GREETED) {
		session_reply(s, 503, "5.5.1", "Error: nested MAIL command");
		return -1;
	}
	if (s->env->lconf->require_auth_for_mail && s->auth_user == NULL) {
		session_reply(s, 530, "5.7.0", "Authentication required");
		return -1;
	}
	return 0;
}

static int
check_rcpt(struct session *s, const struct smtp_command *cmd)
{
	(void)cmd;
	if (s->state == S_BDAT) {
		session_reply(s, 503, "5.5.1", "Error: RCPT not allowed during BDAT");
		return -1;
	}
	if (s->state != S_MAIL && s->state != S_RCPT) {
		session_reply(s, 503, "5.5.1", "Error: need MAIL command");
		return -1;
	}
	return 0;
}

static int
check_data(struct session *s, const struct smtp_command *cmd)
{
	if (s->state == S_BDAT) {
		session_reply(s, 503, "5.5.1", "Error: DATA not allowed after BDAT");
		return -1;
	}
	if (s->state == S_CONNECTED || s->state == S_GREETED) {
		session_reply(s, 503, "5.5.1", "Error: need MAIL command");
		return -1;
	}
	if (s->state == S_MAIL) {
		if (s->tx.rejected > 0)
			session_reply(s, 554, "5.5.1", "Error: no valid recipients");
		else
			session_reply(s, 503, "5.5.1", "Error: need RCPT command");
		return -1;
	}
	if (s->tx.body == BODY_BINARYMIME) {
		/* RFC 3030 3: BINARYMIME content can only be sent with BDAT. */
		session_reply(s, 503, "5.5.1", "Error: BODY=BINARYMIME requires BDAT");
		return -1;
	}
	return check_no_args(s, cmd);
}

/* --- commands that need no transaction --- */

static void
proceed_helo(struct session *s, const struct smtp_command *cmd)
{
	enum parse_result r = parser_helo(cmd->args, cmd->args_len);
	int ehlo = cmd->verb == VERB_EHLO;

	if (r != PARSE_OK) {
		session_reply(s, 501, "5.5.4", "Syntax: %s hostname", ehlo ? "EHLO" : "HELO");
		return;
	}
	/* The rules see the new name. */
	char *old = s->helo;
	s->helo = xstrndup(cmd->args, cmd->args_len);
	if (session_policy(s, ST_HELO, NULL, -1) != 0) {
		free(s->helo);
		s->helo = old;
		return;
	}
	free(old);
	/* RFC 5321 4.1.4: HELO/EHLO in a transaction resets it. */
	session_tx_reset(s);
	s->esmtp = ehlo;
	session_set_state(s, S_GREETED);
	if (!ehlo) {
		session_reply(s, 250, NULL, "%s", s->cfg->hostname);
		return;
	}

	unsigned ext = s->cfg->extensions;
	struct buf b;
	buf_init(&b);
	buf_printf(&b, "%s", s->cfg->hostname);
	if (ext & EXT_PIPELINING)
		buf_puts(&b, "\nPIPELINING");
	if (ext & EXT_SIZE)
		buf_printf(&b, "\nSIZE %lld", s->cfg->max_message_size);
	if (ext & EXT_8BITMIME)
		buf_puts(&b, "\n8BITMIME");
	if (ext & EXT_SMTPUTF8)
		buf_puts(&b, "\nSMTPUTF8");
	if (ext & EXT_ENHANCEDSTATUSCODES)
		buf_puts(&b, "\nENHANCEDSTATUSCODES");
	if (ext & EXT_CHUNKING)
		buf_puts(&b, "\nCHUNKING");
	if (ext & EXT_BINARYMIME)
		buf_puts(&b, "\nBINARYMIME");
	if (ext & EXT_DSN)
		buf_puts(&b, "\nDSN");
	if (session_tls_offered(s))
		buf_puts(&b, "\nSTARTTLS");
	if (session_xclient_offered(s))
		buf_puts(&b, "\nXCLIENT ADDR NAME HELO LOGIN PROTO PORT");
	unsigned mechs = session_auth_mechs(s);
	if (mechs != 0) {
		buf_puts(&b, "\nAUTH");
		for (unsigned m = 1; m <= mechs; m <<= 1)
			if (mechs & m)
				buf_printf(&b, " %s", auth_mech_name(m));
	}
	session_reply(s, 250, NULL, "%s", b.data);
	buf_free(&b);
}

static void
proceed_rset(struct session *s, const struct smtp_command *cmd)
{
	(void)cmd;
	session_tx_reset(s);
	/* RSET ends a transaction; it does not stand in for HELO/EHLO. */
	session_set_state(s, s->state == S_CONNECTED ? S_CONNECTED : S_GREETED);
	session_reply(s, 250, "2.0.0", "Ok");
}

static void
proceed_noop(struct session *s, const struct smtp_command *cmd)
{
	(void)cmd;
	session_reply(s, 250, "2.0.0", "Ok");
}

static void
proceed_quit(struct session *s, const struct smtp_command *cmd)
{
	(void)cmd;
	session_reply(s, 221, "2.0.0", "Bye");
	session_set_state(s, S_CLOSING);
}

static void
proceed_vrfy(struct session *s, const struct smtp_command *cmd)
{
	if (cmd->args_len == 0) {
		session_reply(s, 501, "5.5.4", "Syntax: VRFY address");
		return;
	}
	session_reply(s, 252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery");
}

static void
proceed_help(struct session *s, const struct smtp_command *cmd)
{
	(void)cmd;
	session_reply(s, 214, "2.0.0", "smtptrapd accepts these commands:\n"
	    "HELO EHLO MAIL RCPT DATA%s RSET NOOP QUIT VRFY HELP%s%s\n"
	    "See smtptrapd(8)",
	    (s->cfg->extensions & EXT_CHUNKING) ? " BDAT" : "",
	    session_tls_offered(s) ? " STARTTLS" : "",
	    session_auth_offered(s) ? " AUTH" : "");
}

static void
proceed_not_implemented(struct session *s, const struct smtp_command *cmd)
{
	(void)cmd;
	session_reply(s, 502, "5.5.1", "Error: command not implemented");
}

/* Command flags. */
enum {
	/* Refused with 530 on a starttls-required listener before TLS. */
	CMD_NEEDS_TLS = 1 << 0,
	/* May use the long AUTH line limit (RFC 4954 4). */
	CMD_LONG_LINE = 1 << 1,
};

struct command_def {
	enum smtp_verb verb;
	unsigned flags;
	int (*check)(struct session *, const struct smtp_command *);
	void (*proceed)(struct session *, const struct smtp_command *);
};

static const struct command_def commands[] = {
	{ VERB_HELO, 0, check_none, proceed_helo },
	{ VERB_EHLO, 0, check_none, proceed_helo },
	{ VERB_MAIL, CMD_NEEDS_TLS, check_mail, session_cmd_mail },
	{ VERB_RCPT, CMD_NEEDS_TLS, check_rcpt, session_cmd_rcpt },
	{ VERB_DATA, CMD_NEEDS_TLS, check_data, session_cmd_data },
	/* BDAT checks after reading the chunk: its octets must be consumed. */
	{ VERB_BDAT, 0, check_none, session_cmd_bdat },
	{ VERB_RSET, 0, check_no_args, proceed_rset },
	{ VERB_NOOP, 0, check_none, proceed_noop },
	{ VERB_QUIT, 0, check_no_args, proceed_quit },
	{ VERB_VRFY, CMD_NEEDS_TLS, check_none, proceed_vrfy },
	{ VERB_HELP, 0, check_none, proceed_help },
	{ VERB_STARTTLS, 0, session_check_starttls, session_cmd_starttls },
	{ VERB_AUTH, CMD_NEEDS_TLS | CMD_LONG_LINE, session_check_auth, session_cmd_auth },
	{ VERB_EXPN, CMD_NEEDS_TLS, check_none, proceed_not_implemented },
	{ VERB_ETRN, CMD_NEEDS_TLS, check_none, proceed_not_implemented },
	{ VERB_TURN, CMD_NEEDS_TLS, check_none, proceed_not_implemented },
	{ VERB_XCLIENT, 0, session_check_xclient, session_cmd_xclient },
};

static void
dispatch(struct session *s, const char *line, size_t len)
{
	struct smtp_command cmd;
	enum parse_result r;

	set_cmdlog(s, line, len);
	s->commands++;
	s->idle = 0;
	s->stage = ST_COMMAND;
	r = parser_command(line, len, &cmd);
	if (r == PARSE_NUL) {
		session_reply(s, 500, "5.5.2", "Error: NUL octet in command");
		return;
	}
	if (r != PARSE_OK) {
		session_reply(s, 500, "5.5.2", "Error: bad syntax");
		return;
	}
	s->stage = verb_stage(cmd.verb);
	if (session_protocol_check(s, &cmd) != 0)
		return;
	if (session_policy(s, ST_COMMAND, NULL, (int)cmd.verb) != 0)
		return;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command_def *c = &commands[i];

		if (c->verb != cmd.verb)
			continue;
		if (len + 2 > SMTP_CMD_LINE_MAX && !(c->flags & CMD_LONG_LINE)) {
			session_reply(s, 500, "5.5.6", "Error: line too long");
			return;
		}
		if ((c->flags & CMD_NEEDS_TLS) && !s->tls.active &&
		    s->env->lconf->tls == TLS_STARTTLS_REQUIRED) {
			session_reply(s, 530, "5.7.0", "Must issue a STARTTLS command first");
			return;
		}
		if (c->check(s, &cmd) == 0)
			c->proceed(s, &cmd);
		return;
	}
	if (len + 2 > SMTP_CMD_LINE_MAX) {
		session_reply(s, 500, "5.5.6", "Error: line too long");
		return;
	}
	session_reply(s, 500, "5.5.2", "Error: command not recognized");
}

static void addr_string(const struct sockaddr *sa, char *out, size_t outlen, int *port);

void
session_set_client(struct session *s, const struct sockaddr *sa)
{
	addr_string(sa, s->peer, sizeof(s->peer), &s->peer_port);
	ratelimit_key(sa, s->client);
}

static void
addr_string(const struct sockaddr *sa, char *out, size_t outlen, int *port)
{
	*port = 0;
	snprintf(out, outlen, "unknown");
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, out, (socklen_t)outlen);
		*port = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, out, (socklen_t)outlen);
		*port = ntohs(sin6->sin6_port);
	}
}

/*
 * Per-session random source for "probability": from policy.seed when set
 * (every session then sees the same sequence), else from the kernel.
 */
static void
seed_rng(struct session *s)
{
	uint64_t seed;

	if (s->cfg->policy.seed_set)
		seed = s->cfg->policy.seed;
	else if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = (uint64_t)monotime_ms() ^ ((uint64_t)getpid() << 32);
	policy_rng_seed(&s->rng, seed);
}

/*
 * Limits and the early-talker test: on an implicit-TLS listener after the
 * handshake, so that the ClientHello is not taken for early talk and the
 * 421 goes through TLS.
 */
static int
session_admit_tls(struct session *s)
{
	if (s->env->lconf->tls == TLS_IMPLICIT && session_tls_handshake(s) != 0)
		return -1;
	return session_admit(s);
}

static void
command_loop(struct session *s)
{
	/*
	 * timeouts.command bounds the whole line, from the first wait for it
	 * to its CRLF: a client that trickles a byte now and then (slow
	 * loris) is cut like a silent one.
	 */
	long long line_deadline = 0;

	while (s->state != S_CLOSING) {
		char *line;
		size_t len;
		/* AUTH lines may be longer (RFC 4954 4); dispatch checks the rest. */
		if (session_tls_probe_check(s) != 0)
			break;
		enum netio_line r = netio_next_line(&s->io, AUTH_LINE_MAX, &line, &len);

		if (r != NETIO_NEED_MORE)
			line_deadline = 0;
		if (r == NETIO_TOO_LONG) {
			s->idle = 0;
			s->stage = s->state == S_AUTH ? ST_AUTH : ST_COMMAND;
			if (s->state == S_AUTH) {
				session_auth_reset(s);
				session_set_state(s, S_GREETED);
			}
			snprintf(s->cmdlog, sizeof(s->cmdlog), "(line too long)");
			session_transcript(s, '<', s->cmdlog, strlen(s->cmdlog));
			session_reply(s, 500, "5.5.6", "Error: line too long");
		} else if (r == NETIO_NEED_MORE) {
			enum netio_wait w = netio_flush(&s->io, s->cfg->timeout_command_ms);
			if (w != NETIO_OK) {
				session_log_lost(s, w == NETIO_ERROR ? netio_strerror(&s->io) :
				    "reply not sent in time");
				session_set_state(s, S_CLOSING);
				break;
			}
			/* Replies from now on (timeouts) answer no command. */
			s->idle = 1;
			if (line_deadline == 0)
				line_deadline = monotime_ms() + s->cfg->timeout_command_ms;
			if (session_wait_input_until(s, line_deadline) != 0)
				break;
			continue;
		} else if (s->state == S_AUTH) {
			/* Every line of an AUTH exchange is a secret. */
			session_transcript(s, '<', "***", 3);
			s->idle = 0;
			s->stage = ST_AUTH;
			session_auth_response(s, line, len);
		} else {
			transcript_command(s, line, len);
			dispatch(s, line, len);
		}
		if (s->close_after_reply && s->state != S_CLOSING) {
			struct log_kv kv;
			log_kv_init(&kv);
			log_kv_str(&kv, "stage", policy_stage_name(s->close_stage));
			log_kv_add(&kv, "rule", "%d", s->close_rule);
			log_kv_str(&kv, "when", "after-reply");
			session_log(s, LOGL_INFO, "drop", &kv);
			session_set_state(s, S_CLOSING);
		}
		if (s->state != S_CLOSING && s->errors >= (unsigned)s->cfg->max_errors) {
			session_reply(s, 421, "4.7.0", "%s Error: too many errors", s->cfg->hostname);
			session_set_state(s, S_CLOSING);
		}
		if (s->state != S_CLOSING && *s->env->stop && s->stop_deadline == 0)
			s->stop_deadline = monotime_ms() + s->cfg->timeout_shutdown_ms;
	}
}

void
session_run(const struct session_env *env, int fd, const char *id,
    const struct sockaddr *peer, const struct sockaddr *local,
    struct session_result *result)
{
	struct session s;

	memset(&s, 0, sizeof(s));
	s.env = env;
	s.cfg = env->cfg;
	s.state = S_CONNECTED;
	s.tx.declared_size = -1;
	snprintf(s.id, sizeof(s.id), "%s", id);
	session_set_client(&s, peer);
	if (env->sb != NULL) /* limits count this client from now on */
		scoreboard_session_begin(env->sb, env->slot, env->sub, s.client);
	addr_string(local, s.local, sizeof(s.local), &s.local_port);
	s.session_deadline = monotime_ms() + s.cfg->timeout_session_ms;
	s.rules = &s.cfg->policy.rulesets[env->lconf->ruleset];
	s.stage = ST_CONNECT;
	s.reply_stage = -1;
	s.started_ms = monotime_ms();
	seed_rng(&s);
	netio_init(&s.io, fd, env->waitmask);

	char terr[160] = "";
	if (env->transcript_dirfd >= 0)
		s.transcript = transcript_open(env->transcript_dirfd, s.id, terr, sizeof(terr));
	struct log_kv kv;
	log_kv_init(&kv);
	log_kv_str(&kv, "listener", env->listener);
	log_kv_add(&kv, "local", "[%s]:%d", s.local, s.local_port);
	session_log(&s, LOGL_INFO, "connect", &kv);
	if (env->transcript_dirfd >= 0 && s.transcript == NULL) {
		log_kv_init(&kv);
		log_kv_str(&kv, "result", "failed");
		log_kv_str(&kv, "reason", terr);
		session_log(&s, LOGL_WARNING, "transcript", &kv);
	}
	/* PROXY header, limits, TLS, early talker, rules, then the greeting. */
	if (session_proxy_header(&s) != 0 || session_admit_tls(&s) != 0 ||
	    session_policy(&s, ST_CONNECT, NULL, -1) != 0) {
		session_set_state(&s, S_CLOSING);
	} else {
		session_reply(&s, 220, NULL, "%s %s", s.cfg->hostname, s.cfg->banner);
		command_loop(&s);
	}
	netio_flush(&s.io, 1000);
	netio_tls_close(&s.io);

	session_tx_reset(&s);
	session_auth_reset(&s);
	long long ms = monotime_ms() - s.started_ms;
	log_kv_init(&kv);
	log_kv_add(&kv, "commands", "%lu", s.commands);
	log_kv_add(&kv, "messages", "%lu", s.messages);
	log_kv_add(&kv, "errors", "%u", s.errors);
	log_kv_add(&kv, "rejects", "%u", s.rejects);
	log_kv_add(&kv, "duration", "%lld.%03lld", ms / 1000, ms % 1000);
	session_log(&s, LOGL_INFO, "disconnect", &kv);
	transcript_close(s.transcript);
	s.transcript = NULL;
	result->messages = s.messages;
	result->commands = s.commands;
	if (env->sb != NULL)
		scoreboard_session_end(env->sb, env->slot, env->sub);
	free(s.helo);
	free(s.auth_user);
	free(s.client_name);
	netio_free(&s.io);
}
