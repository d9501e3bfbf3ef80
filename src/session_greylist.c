/*
 * session_greylist - the greylist action at RCPT: ask the shared store
 * about the triplet and either defer the recipient or let it go on to the
 * rules that follow.
 *
 * The deferral is greylist.reply_code/reply_status/reply_text, where %s
 * is the number of seconds until a retry can pass and %r the recipient's
 * domain. The first pass of a triplet is remembered in the transaction,
 * and once the recipient is accepted the stored message gets an
 * X-Greylist header. When the store fails,
 * greylist.on_store_error decides: pass (the default: a broken store must
 * not stop all mail) or defer with 451 4.3.0.
 *
 * Every outcome is logged as a "greylist" event, result= being the
 * verdict's name (defer, pass-delayed and error at info level or above,
 * the other passes at debug level); a deferral's reply has its own
 * "reject" line with the greylist rule's line.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "greylist.h"
#include "session_priv.h"

/* Expand %s (seconds), %r (recipient domain) and %% in the reply text. */
static void
expand(const char *text, long long left, const char *rcpt, char *out, size_t outlen)
{
	const char *at = strrchr(rcpt, '@');
	const char *subs[26] = { NULL };
	char secs[32];

	snprintf(secs, sizeof(secs), "%lld", left);
	subs['s' - 'a'] = secs;
	subs['r' - 'a'] = at ? at + 1 : rcpt;
	session_expand(text, subs, out, outlen);
}

/* Start a "greylist" event: result=, rcpt=<...>, rule=. */
static void
event(struct log_kv *kv, const char *result, const char *rcpt, const struct policy_rule *r)
{
	log_kv_init(kv);
	log_kv_str(kv, "result", result);
	log_kv_add(kv, "rcpt", "<%s>", rcpt);
	log_kv_add(kv, "rule", "%d", r->line);
}

int
session_greylist(struct session *s, const struct policy_rule *r, const char *rcpt)
{
	const struct greylist_conf *gc = &s->cfg->greylist;
	struct gl_result res;
	struct log_kv kv;
	char text[1024];

	greylist_check(s->env->store, gc, s->client, s->tx.sender ? s->tx.sender : "", rcpt, &res);
	switch (res.verdict) {
	case GL_DEFER:
		event(&kv, "defer", rcpt, r);
		log_kv_add(&kv, "retry", "%lld", res.left);
		session_log(s, LOGL_INFO, "greylist", &kv);
		expand(gc->reply_text, res.left, rcpt, text, sizeof(text));
		session_reply_cause(s, ST_RCPT, r->line, NULL);
		session_reply(s, gc->reply_code, gc->reply_status, "%s", text);
		if (gc->reply_code == 421)
			session_set_state(s, S_CLOSING);
		return 1;
	case GL_PASS_DELAYED:
		event(&kv, "pass-delayed", rcpt, r);
		log_kv_add(&kv, "delayed", "%lld", res.delayed);
		session_log(s, LOGL_INFO, "greylist", &kv);
		/* Counted for X-Greylist only if the recipient is accepted. */
		s->tx.greylist_pending = 1;
		s->tx.greylist_pending_delay = res.delayed;
		return 0;
	case GL_ERROR:
		event(&kv, "error", rcpt, r);
		log_kv_str(&kv, "reason", res.error);
		if (gc->on_store_error == GL_ON_ERROR_DEFER) {
			log_kv_str(&kv, "action", "defer");
			session_log(s, LOGL_WARNING, "greylist", &kv);
			session_reply_cause(s, ST_RCPT, r->line, NULL);
			session_reply(s, 451, "4.3.0", "<%s>: Temporary lookup failure, try again later",
			    rcpt);
			return 1;
		}
		log_kv_str(&kv, "action", "pass");
		session_log(s, LOGL_WARNING, "greylist", &kv);
		return 0;
	default:
		event(&kv, greylist_verdict_name(res.verdict), rcpt, r);
		session_log(s, LOGL_DEBUG, "greylist", &kv);
		return 0;
	}
}
