/*
 * session_tls - STARTTLS (RFC 3207) and the TLS handshake of implicit-TLS
 * listeners.
 *
 * After "220 Ready to start TLS" is sent, whatever the client pipelined
 * behind STARTTLS in the same plaintext read is thrown away, never read
 * as a command after the handshake (the CVE-2011-0411 class of attacks).
 * A successful STARTTLS resets the session to its initial state: the
 * client must say EHLO again, and neither HELO name, transaction nor
 * AUTH state survive. A handshake that fails or times out ends the
 * session with a log line giving OpenSSL's reason; the worker goes on.
 *
 * Both outcomes are a "tls" event: version=, cipher=, bits= and the
 * client certificate's facts when it worked, result=failed and reason=
 * when it did not.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "monotime.h"
#include "session_priv.h"

int
session_tls_offered(const struct session *s)
{
	int mode = s->env->lconf->tls;

	return s->env->tls != NULL && !s->tls.active &&
	    (mode == TLS_STARTTLS || mode == TLS_STARTTLS_REQUIRED);
}

static void
log_established(struct session *s)
{
	const struct tls_info *t = &s->tls;
	struct log_kv kv;

	log_kv_init(&kv);
	log_kv_str(&kv, "version", t->version);
	log_kv_str(&kv, "cipher", t->cipher);
	log_kv_add(&kv, "bits", "%d", t->bits);
	log_kv_str(&kv, "via", s->env->lconf->tls == TLS_IMPLICIT ? "implicit" : "starttls");
	if (t->peer_cert) {
		log_kv_str(&kv, "cert_fingerprint", t->peer_fingerprint);
		log_kv_str(&kv, "cert_subject", t->peer_subject);
		log_kv_str(&kv, "cert_verified", t->peer_verified == 1 ? "yes" :
		    t->peer_verified == 0 ? "no" : "unchecked");
		if (t->peer_verified == 0)
			log_kv_str(&kv, "cert_error", t->peer_verify_error);
	}
	session_log(s, LOGL_INFO, "tls", &kv);
}

/* "tls result=failed reason=..." */
static void
log_failed(struct session *s, enum log_level level, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

static void
log_failed(struct session *s, enum log_level level, const char *fmt, ...)
{
	char reason[LOG_KV_VALUE_MAX];
	struct log_kv kv;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	log_kv_init(&kv);
	log_kv_str(&kv, "result", "failed");
	log_kv_str(&kv, "reason", reason);
	session_log(s, level, "tls", &kv);
}

int
session_tls_handshake(struct session *s)
{
	char err[160];
	SSL *ssl = tls_server_ssl(s->env->tls, s->io.fd, err, sizeof(err));
	long long deadline = monotime_ms() + s->cfg->timeout_tls_handshake_ms;

	if (ssl == NULL) {
		log_failed(s, LOGL_WARNING, "setup: %s", err);
		return -1;
	}
	size_t dropped = netio_start_tls(&s->io, ssl);
	if (dropped > 0) {
		/* Pipelined behind STARTTLS in plaintext: an injection attempt. */
		struct log_kv kv;
		log_kv_init(&kv);
		log_kv_add(&kv, "octets", "%zu", dropped);
		session_log(s, LOGL_NOTICE, "injection", &kv);
	}
	for (;;) {
		long long until = session_wait_until(s, deadline);
		long long now = monotime_ms();

		if (now >= until) {
			if (until < deadline && until == s->stop_deadline)
				log_failed(s, LOGL_INFO, "handshake abandoned: shutting down");
			else
				log_failed(s, LOGL_INFO, "handshake timed out after %lld ms",
				    now - (deadline - s->cfg->timeout_tls_handshake_ms));
			return -1;
		}
		switch (netio_tls_handshake(&s->io, (int)(until - now))) {
		case NETIO_OK:
			tls_describe(ssl, &s->tls);
			log_established(s);
			return 0;
		case NETIO_TIMEOUT:
		case NETIO_INTERRUPTED:
			continue;
		case NETIO_EOF:
			log_failed(s, LOGL_INFO, "handshake failed: connection closed by client");
			return -1;
		case NETIO_ERROR:
		default:
			log_failed(s, LOGL_INFO, "handshake failed: %s", netio_strerror(&s->io));
			return -1;
		}
	}
}

int
session_check_starttls(struct session *s, const struct smtp_command *cmd)
{
	if (s->tls.active) {
		session_reply(s, 503, "5.5.1", "Error: TLS already active");
		return -1;
	}
	if (!session_tls_offered(s)) {
		session_reply(s, 502, "5.5.1", "Error: command not implemented");
		return -1;
	}
	if (cmd->args_len > 0) {
		session_reply(s, 501, "5.5.4", "Syntax: STARTTLS");
		return -1;
	}
	if (s->state != S_CONNECTED && s->state != S_GREETED) {
		session_reply(s, 503, "5.5.1", "Error: MAIL transaction in progress");
		return -1;
	}
	return 0;
}

void
session_cmd_starttls(struct session *s, const struct smtp_command *cmd)
{
	(void)cmd;
	if (session_policy(s, ST_STARTTLS, NULL, -1) != 0)
		return;
	session_reply(s, 220, "2.0.0", "Ready to start TLS");
	if (netio_flush(&s->io, s->cfg->timeout_command_ms) != NETIO_OK) {
		session_log_lost(s, "reply to STARTTLS not sent");
		session_set_state(s, S_CLOSING);
		return;
	}
	if (session_tls_handshake(s) != 0) {
		session_set_state(s, S_CLOSING);
		return;
	}
	/* RFC 3207 4.2: forget everything learnt before TLS. */
	session_tx_reset(s);
	session_auth_reset(s);
	free(s->auth_user);
	s->auth_user = NULL;
	s->auth_mech = 0;
	free(s->helo);
	s->helo = NULL;
	s->esmtp = 0;
	session_set_state(s, S_CONNECTED);
}
