/*
 * session_xclient - playing another client: the XCLIENT command (Postfix
 * XCLIENT_README) for clients of the policy.xclient_allowed class, and
 * the HAProxy PROXY header (v1, v2) on listeners that expect one.
 *
 * After either, the session's client address is the one given, and every
 * rule and limit sees it; so one test machine can play an internal relay
 * and an external spammer in turn. Who may use XCLIENT is decided once,
 * from the address the session started with (after a PROXY header):
 * XCLIENT cannot grant itself the right to use XCLIENT again.
 *
 * The change is logged as an "xclient" or "proxy" event under the new
 * client's address, previous= giving the one before.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "monotime.h"
#include "proxy.h"
#include "session_priv.h"
#include "xclient.h"
#include "xmalloc.h"

int
session_xclient_offered(const struct session *s)
{
	return s->xclient_ok;
}

int
session_check_xclient(struct session *s, const struct smtp_command *cmd)
{
	(void)cmd;
	if (!s->xclient_ok) {
		session_reply(s, 550, "5.7.0", "Error: insufficient authorization");
		return -1;
	}
	if (s->state != S_CONNECTED && s->state != S_GREETED) {
		session_reply(s, 503, "5.5.1", "Error: MAIL transaction in progress");
		return -1;
	}
	return 0;
}

void
session_cmd_xclient(struct session *s, const struct smtp_command *cmd)
{
	struct xclient_attrs xa;
	const char *why = "bad syntax";

	if (cmd->args_len == 0 || xclient_parse(cmd->args, cmd->args_len, &xa, &why) != 0) {
		session_reply(s, 501, "5.5.4", "Bad XCLIENT attribute: %s", why);
		return;
	}
	char previous[INET6_ADDRSTRLEN + 16];
	snprintf(previous, sizeof(previous), "[%s]:%d", s->peer, s->peer_port);
	if (xa.present & XCLIENT_ADDR) {
		int port = s->peer_port;
		session_set_client(s, (const struct sockaddr *)&xa.addr);
		if (!(xa.present & XCLIENT_PORT))
			s->peer_port = port;
	}
	if (xa.present & XCLIENT_PORT)
		s->peer_port = xa.port;
	if (xa.present & XCLIENT_NAME) {
		free(s->client_name);
		s->client_name = xstrdup(xa.name);
	}
	/* A new client: what the old one said in HELO/EHLO is forgotten. */
	free(s->helo);
	s->helo = (xa.present & XCLIENT_HELO) ? xstrdup(xa.helo) : NULL;
	s->esmtp = (xa.present & XCLIENT_PROTO) ? xa.esmtp : 0;
	if (xa.present & XCLIENT_LOGIN) {
		free(s->auth_user);
		s->auth_user = xstrdup(xa.login);
		s->auth_mech = 0;
	} else if (xa.unavailable & XCLIENT_LOGIN) {
		free(s->auth_user);
		s->auth_user = NULL;
	}
	struct log_kv kv;
	log_kv_init(&kv);
	log_kv_str(&kv, "previous", previous);
	if (s->client_name != NULL)
		log_kv_str(&kv, "name", s->client_name);
	if (s->helo != NULL)
		log_kv_str(&kv, "helo", s->helo);
	if (s->auth_user != NULL)
		log_kv_str(&kv, "login", s->auth_user);
	session_log(s, LOGL_INFO, "xclient", &kv);
	/* Back to the start: connect rules again, then a new greeting. */
	session_tx_reset(s);
	s->tarpit_ms = 0;
	s->io.throttle = 0;
	s->discard = 0;
	memset(s->stage_counts, 0, sizeof(s->stage_counts));
	session_set_state(s, S_CONNECTED);
	if (session_policy(s, ST_CONNECT, NULL, -1) != 0)
		return;
	session_reply(s, 220, NULL, "%s %s", s->cfg->hostname, s->cfg->banner);
}

int
session_proxy_header(struct session *s)
{
	static const unsigned versions[] = {
		[PROXYMODE_NONE] = 0,
		[PROXYMODE_V1] = PROXY_V1,
		[PROXYMODE_V2] = PROXY_V2,
		[PROXYMODE_ANY] = PROXY_V1 | PROXY_V2,
	};
	unsigned want = versions[s->env->lconf->proxy];
	long long deadline = monotime_ms() + s->cfg->timeout_proxy_ms;

	if (want != 0) {
		for (;;) {
			struct log_kv kv;
			struct proxy_info pi;
			size_t used = 0;
			const char *why = "malformed";
			log_kv_init(&kv);
			enum proxy_result r = proxy_parse((const unsigned char *)netio_peek(&s->io),
			    netio_pending(&s->io), want, &pi, &used, &why);

			if (r == PROXY_OK) {
				netio_consume(&s->io, used);
				if (!pi.local) {
					log_kv_add(&kv, "previous", "[%s]:%d", s->peer, s->peer_port);
					session_set_client(s, (const struct sockaddr *)&pi.src);
					session_log(s, LOGL_INFO, "proxy", &kv);
				}
				break;
			}
			if (r == PROXY_BAD) {
				log_kv_str(&kv, "result", "failed");
				log_kv_add(&kv, "reason", "bad PROXY header: %s", why);
				session_log(s, LOGL_INFO, "proxy", &kv);
				return -1;
			}
			long long until = session_wait_until(s, deadline);
			long long now = monotime_ms();
			if (now >= until) {
				log_kv_str(&kv, "result", "failed");
				log_kv_add(&kv, "reason", "no PROXY header within %d ms",
				    s->cfg->timeout_proxy_ms);
				session_log(s, LOGL_INFO, "proxy", &kv);
				return -1;
			}
			enum netio_wait w = netio_fill(&s->io, (int)(until - now));
			if (w == NETIO_EOF || w == NETIO_ERROR) {
				session_log_lost(s, "before the PROXY header");
				return -1;
			}
		}
	}
	const struct policy *p = &s->cfg->policy;
	s->xclient_ok = p->xclient_class >= 0 &&
	    policy_netlist_match(&p->classes[p->xclient_class].nets, s->client);
	return 0;
}
