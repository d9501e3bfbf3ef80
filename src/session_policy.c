/*
 * session_policy - where the session meets the rules and the limits:
 * asking policy_eval() at each stage and carrying out its verdict
 * (replies, delays, tarpit, throttle, discard, disconnect); connection
 * limits and the early-talker test before the greeting; message limits
 * at MAIL; non-SMTP commands and unadvertised pipelining.
 *
 * Every refusal is logged with the rule's line (or the limit's or the
 * check's name) on its "reject" line, so a test that got an unexpected
 * reply can find out why.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "config.h"
#include "monotime.h"
#include "ratelimit.h"
#include "scheduler.h"
#include "scoreboard.h"
#include "session_priv.h"

int
session_pause(struct session *s, int ms)
{
	long long deadline = monotime_ms() + ms;

	for (;;) {
		long long until = session_wait_until(s, deadline);
		long long now = monotime_ms();

		if (now >= until)
			return until < deadline ? -1 : 0;
		if (sched_wait(-1, 0, (int)(until - now), s->env->waitmask) == SCHED_ERROR)
			return 0;
	}
}

void
session_expand(const char *text, const char *const subs[26], char *out, size_t outlen)
{
	size_t k = 0;

	for (const char *p = text; *p && k + 1 < outlen; p++) {
		const char *sub = NULL;
		if (*p == '%' && p[1] == '%')
			sub = "%";
		else if (*p == '%' && p[1] >= 'a' && p[1] <= 'z')
			sub = subs[p[1] - 'a'];
		if (sub == NULL) {
			out[k++] = *p;
			continue;
		}
		p++;
		for (; *sub && k + 1 < outlen; sub++)
			out[k++] = *sub;
	}
	out[k] = '\0';
}

/* Expand %r %s %c %h %l %% in a rule's reply text. */
static void
expand(const struct session *s, const char *rcpt, const char *text, char *out, size_t outlen)
{
	const char *subs[26] = { NULL };

	subs['r' - 'a'] = rcpt ? rcpt : "";
	subs['s' - 'a'] = s->tx.sender ? s->tx.sender : "";
	subs['c' - 'a'] = s->peer;
	subs['h' - 'a'] = s->helo ? s->helo : "";
	subs['l' - 'a'] = s->env->listener;
	session_expand(text, subs, out, outlen);
}

static void
rule_reply(struct session *s, enum policy_stage st, const struct policy_rule *r,
    const char *rcpt, int code, const char *enh, const char *text)
{
	char buf[1024];

	if (r->code != 0)
		code = r->code;
	if (r->enh[0] != '\0')
		enh = r->enh;
	else if (r->code != 0)
		enh = code / 100 == 4 ? "4.7.1" : code / 100 == 5 ? "5.7.1" : "2.0.0";
	expand(s, rcpt, r->text ? r->text : text, buf, sizeof(buf));
	session_reply_cause(s, (int)st, r->line, NULL);
	session_reply(s, code, enh, "%s", buf);
}

static void
fill_facts(const struct session *s, enum policy_stage st, const char *rcpt, int verb,
    struct policy_facts *f)
{
	memset(f, 0, sizeof(*f));
	memcpy(f->addr, s->client, 16);
	f->listener = s->env->listener;
	f->tls = s->tls.active;
	f->authenticated = s->auth_user != NULL;
	f->helo = s->helo;
	f->sender = s->tx.sender;
	f->rcpt = rcpt;
	f->size = st == ST_EOM ? (long long)s->tx.size : s->tx.declared_size;
	f->verb = verb;
	f->counts = s->stage_counts;
}

int
session_policy(struct session *s, enum policy_stage st, const char *rcpt, int verb)
{
	const struct policy *p = &s->cfg->policy;
	struct policy_facts f;
	struct policy_verdict v;

	s->stage_counts[st]++;
	if (s->rules == NULL || s->rules->n == 0)
		return 0;
	fill_facts(s, st, rcpt, verb, &f);
	policy_eval(p, s->rules, st, &f, &s->rng, &v);
	if (v.tarpit_ms >= 0)
		s->tarpit_ms = v.tarpit_ms;
	if (v.throttle >= 0)
		s->io.throttle = v.throttle;
	if (v.delay_ms > 0) {
		struct log_kv kv;
		log_kv_init(&kv);
		log_kv_str(&kv, "stage", policy_stage_name(st));
		log_kv_add(&kv, "ms", "%d", v.delay_ms);
		session_log(s, LOGL_INFO, "delay", &kv);
		if (netio_flush(&s->io, s->cfg->timeout_command_ms) != NETIO_OK ||
		    session_pause(s, v.delay_ms) != 0) {
			session_timeout_close(s, monotime_ms());
			return -1;
		}
	}
	/* A greylist rule met on the way: its deferral wins over later rules. */
	if (v.greylist != NULL && st == ST_RCPT && rcpt != NULL) {
		int g = session_greylist(s, v.greylist, rcpt);
		if (g != 0)
			return s->state == S_CLOSING ? -1 : g;
	}
	if (v.rule == NULL)
		return 0;

	const struct policy_rule *r = v.rule;
	struct log_kv kv;
	log_kv_init(&kv);
	log_kv_str(&kv, "stage", policy_stage_name(st));
	log_kv_add(&kv, "rule", "%d", r->line);
	switch (v.action) {
	case ACT_REJECT:
		if (st == ST_CONNECT)
			rule_reply(s, st, r, rcpt, 554, "5.7.1", "Error: connection rejected by policy");
		else if (st == ST_RCPT)
			rule_reply(s, st, r, rcpt, 550, "5.7.1", "<%r>: Recipient address rejected by policy");
		else
			rule_reply(s, st, r, rcpt, 550, "5.7.1", "Error: rejected by policy");
		if (st == ST_CONNECT || r->code == 421)
			session_set_state(s, S_CLOSING);
		return 1;
	case ACT_DEFER:
		if (st == ST_CONNECT) {
			rule_reply(s, st, r, rcpt, 421, "4.7.0", "Error: try again later");
			session_set_state(s, S_CLOSING);
		} else {
			rule_reply(s, st, r, rcpt, 450, "4.7.1", "Error: try again later");
			if (r->code == 421) /* 421 means the server closes */
				session_set_state(s, S_CLOSING);
		}
		return 1;
	case ACT_DISCONNECT:
		if (r->after) {
			/* Logged as "drop" when it happens, after the reply. */
			s->close_after_reply = 1;
			s->close_rule = r->line;
			s->close_stage = st;
			return 0;
		}
		if (r->reply) {
			rule_reply(s, st, r, rcpt, 421, "4.7.0", "Error: closing connection");
		} else {
			log_kv_str(&kv, "when", "now");
			session_log(s, LOGL_INFO, "drop", &kv);
		}
		session_set_state(s, S_CLOSING);
		return -1;
	case ACT_DISCARD:
		/* Logged as "discard" for each message it drops. */
		if (st == ST_MAIL || st == ST_RCPT || st == ST_DATA || st == ST_EOM) {
			s->tx.discard = 1;
			s->tx.discard_rule = r->line;
		} else {
			s->discard = 1;
			s->discard_rule = r->line;
		}
		return 0;
	case ACT_ACCEPT:
		session_log(s, LOGL_INFO, "accept", &kv);
		return 0;
	default:
		return 0;
	}
}

/* --- before the greeting --- */

/*
 * Anything sent before the greeting (postscreen's pregreet test)? Waits
 * up to smtp.greeting_delay for it. 1: it talked; 0: it did not; -1: it
 * went away (a health check), or the session must end.
 */
static int
early_talker(struct session *s)
{
	long long deadline = monotime_ms() + s->cfg->greeting_delay_ms;

	if (netio_pending(&s->io) > 0)
		return 1;
	for (;;) {
		long long until = session_wait_until(s, deadline);
		long long now = monotime_ms();

		switch (netio_fill(&s->io, now < until ? (int)(until - now) : 0)) {
		case NETIO_OK:
			return 1;
		case NETIO_INTERRUPTED:
			if (monotime_ms() < until)
				continue;
			/* FALLTHROUGH */
		case NETIO_TIMEOUT:
			if (until < deadline)
				return -1; /* stopping */
			return 0;
		case NETIO_EOF:
		case NETIO_ERROR:
		default:
			session_log_lost(s, NULL);
			return -1;
		}
	}
}

/*
 * The cause of a refusal that no rule made: "limit=NAME" (a limits.NAME
 * setting) or "check=NAME" (a protocol check), then count= (what was
 * counted) and max= (the limit) unless negative. For the reject line of
 * the next reply.
 */
static const struct log_kv *
refusal(struct log_kv *kv, const char *what, const char *name, long long count, long long max)
{
	log_kv_init(kv);
	log_kv_str(kv, what, name);
	if (count >= 0)
		log_kv_add(kv, "count", "%lld", count);
	if (max >= 0)
		log_kv_add(kv, "max", "%lld", max);
	return kv;
}

int
session_admit(struct session *s)
{
	const struct config *cfg = s->cfg;
	struct log_kv kv;

	if (s->env->sb != NULL) {
		int total, same;
		scoreboard_session_client(s->env->sb, s->env->slot, s->env->sub, s->client);
		scoreboard_count_sessions(s->env->sb, s->client, &total, &same);
		if (cfg->max_connections > 0 && total > cfg->max_connections) {
			session_reply_cause(s, -1, 0, refusal(&kv, "limit", "connections", total,
			    cfg->max_connections));
			session_reply(s, 421, "4.7.0", "%s Error: too many connections, try again later",
			    cfg->hostname);
			return -1;
		}
		if (cfg->max_connections_per_client > 0 && same > cfg->max_connections_per_client) {
			session_reply_cause(s, -1, 0, refusal(&kv, "limit", "connections_per_client",
			    same, cfg->max_connections_per_client));
			session_reply(s, 421, "4.7.0", "%s Error: too many connections from [%s]",
			    cfg->hostname, s->peer);
			return -1;
		}
	}
	if (s->env->rl != NULL &&
	    ratelimit_hit(s->env->rl, s->client, RL_CONNECTIONS,
	    (unsigned long)cfg->connection_rate, clock_now()) < 0) {
		session_reply_cause(s, -1, 0, refusal(&kv, "limit", "connection_rate", -1,
		    cfg->connection_rate));
		session_reply(s, 421, "4.7.0", "%s Error: too many connections from [%s], slow down",
		    cfg->hostname, s->peer);
		return -1;
	}
	/* The test needs a window to catch talkers in: greeting_delay. */
	if (cfg->early_talker != EARLY_ALLOW && cfg->greeting_delay_ms > 0) {
		int talked = early_talker(s);
		if (talked < 0)
			return -1;
		if (talked) {
			if (cfg->early_talker == EARLY_REJECT) {
				session_reply_cause(s, -1, 0, refusal(&kv, "check", "pregreet", -1, -1));
				session_reply(s, 554, "5.5.1", "%s Error: talking before the greeting",
				    cfg->hostname);
			} else {
				log_kv_init(&kv);
				log_kv_str(&kv, "stage", "connect");
				log_kv_str(&kv, "check", "pregreet");
				log_kv_str(&kv, "when", "now");
				session_log(s, LOGL_INFO, "drop", &kv);
			}
			return -1;
		}
	} else if (cfg->greeting_delay_ms > 0 && session_pause(s, cfg->greeting_delay_ms) != 0) {
		return -1;
	}
	return 0;
}

int
session_mail_limits(struct session *s)
{
	const struct config *cfg = s->cfg;
	struct log_kv kv;

	if (cfg->messages_per_session > 0 && s->messages >= (unsigned long)cfg->messages_per_session) {
		session_reply_cause(s, -1, 0, refusal(&kv, "limit", "messages_per_session",
		    (long long)s->messages, cfg->messages_per_session));
		session_reply(s, 421, "4.7.0", "%s Error: too many messages in this session",
		    cfg->hostname);
		session_set_state(s, S_CLOSING);
		return -1;
	}
	if (s->env->rl != NULL &&
	    ratelimit_hit(s->env->rl, s->client, RL_MESSAGES, (unsigned long)cfg->message_rate,
	    clock_now()) < 0) {
		session_reply_cause(s, -1, 0, refusal(&kv, "limit", "message_rate", -1,
		    cfg->message_rate));
		session_reply(s, 450, "4.7.1", "Error: too many messages from [%s], slow down",
		    s->peer);
		return -1;
	}
	return 0;
}

/* --- protocol enforcement --- */

/* A verb a web or proxy client sends, or a header-like "Name:" line. */
static int
non_smtp(const struct smtp_command *cmd)
{
	static const char *const http[] = { "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS",
		"CONNECT", "TRACE", "PATCH" };

	if (cmd->verb != VERB_UNKNOWN)
		return 0;
	for (size_t i = 0; i < sizeof(http) / sizeof(http[0]); i++)
		if (cmd->verb_len == strlen(http[i]) &&
		    strncasecmp(cmd->verb_text, http[i], cmd->verb_len) == 0)
			return 1;
	return cmd->verb_len > 1 && cmd->verb_text[cmd->verb_len - 1] == ':';
}

/*
 * A TLS handshake record (content type 22, version 3.x) where a command
 * should start: a client that expects implicit TLS on a plaintext port.
 * It would wait for the server's handshake until a timeout, so it is told
 * at once, in plain text, and the session ends.
 */
int
session_tls_probe_check(struct session *s)
{
	struct log_kv kv;
	const unsigned char *p = (const unsigned char *)netio_peek(&s->io);

	if (s->io.ssl != NULL || s->io.skipping || netio_pending(&s->io) < 2 ||
	    p[0] != 0x16 || p[1] != 0x03)
		return 0;
	netio_consume(&s->io, netio_pending(&s->io));
	s->idle = 0;
	snprintf(s->cmdlog, sizeof(s->cmdlog), "(TLS handshake)");
	session_transcript(s, '<', s->cmdlog, strlen(s->cmdlog));
	session_reply_cause(s, -1, 0, refusal(&kv, "check", "tls_on_plaintext", -1, -1));
	session_reply(s, 554, "5.5.1",
	    "Error: TLS handshake on a plaintext SMTP port, use STARTTLS or an implicit TLS port");
	session_set_state(s, S_CLOSING);
	return -1;
}

int
session_protocol_check(struct session *s, const struct smtp_command *cmd)
{
	struct log_kv kv;

	if (s->cfg->reject_non_smtp && non_smtp(cmd)) {
		session_reply_cause(s, -1, 0, refusal(&kv, "check", "non_smtp", -1, -1));
		session_reply(s, 521, "5.7.0", "%s Error: not an SMTP client, closing connection",
		    s->cfg->hostname);
		session_set_state(s, S_CLOSING);
		return -1;
	}
	/*
	 * RFC 2920: without PIPELINING advertised (or after HELO) a client
	 * must wait for each reply. Data buffered behind a command means it
	 * did not; BDAT is followed by its chunk, which is not a command.
	 */
	int advertised = s->esmtp && (s->cfg->extensions & EXT_PIPELINING);
	/* RFC 2920 3.1: EHLO and HELO always end a group. */
	if (cmd->verb == VERB_EHLO || cmd->verb == VERB_HELO)
		advertised = 0;
	if (s->cfg->pipelining_check && !advertised && s->auth_user == NULL &&
	    cmd->verb != VERB_BDAT && netio_pending(&s->io) > 0) {
		session_reply_cause(s, -1, 0, refusal(&kv, "check", "pipelining", -1, -1));
		session_reply(s, 554, "5.5.0", "Error: SMTP protocol synchronization");
		session_set_state(s, S_CLOSING);
		return -1;
	}
	return 0;
}
