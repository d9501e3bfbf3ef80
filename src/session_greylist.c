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

int
session_greylist(struct session *s, const struct policy_rule *r, const char *rcpt)
{
	const struct greylist_conf *gc = &s->cfg->greylist;
	struct gl_result res;
	char text[1024];

	greylist_check(s->env->store, gc, s->client, s->tx.sender ? s->tx.sender : "", rcpt, &res);
	switch (res.verdict) {
	case GL_DEFER:
		log_info("%s: rcpt: <%s> greylisted by rule at line %d: retry in %lld seconds", s->id,
		    rcpt, r->line, res.left);
		expand(gc->reply_text, res.left, rcpt, text, sizeof(text));
		session_reply(s, gc->reply_code, gc->reply_status, "%s", text);
		if (gc->reply_code == 421)
			session_set_state(s, S_CLOSING);
		return 1;
	case GL_PASS_DELAYED:
		log_info("%s: rcpt: <%s> passed greylisting after %lld seconds", s->id, rcpt,
		    res.delayed);
		/* Counted for X-Greylist only if the recipient is accepted. */
		s->tx.greylist_pending = 1;
		s->tx.greylist_pending_delay = res.delayed;
		return 0;
	case GL_ERROR:
		if (gc->on_store_error == GL_ON_ERROR_DEFER) {
			log_warnx("%s: rcpt: <%s>: greylist store failed: %s; deferring (greylist.on_store_error = defer)",
			    s->id, rcpt, res.error);
			session_reply(s, 451, "4.3.0", "<%s>: Temporary lookup failure, try again later",
			    rcpt);
			return 1;
		}
		log_warnx("%s: rcpt: <%s>: greylist store failed: %s; passing (greylist.on_store_error = pass)",
		    s->id, rcpt, res.error);
		return 0;
	default:
		log_debug("%s: rcpt: <%s>: greylist: %s", s->id, rcpt, greylist_verdict_name(res.verdict));
		return 0;
	}
}
