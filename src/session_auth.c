/*
 * session_auth - SMTP AUTH (RFC 4954): which mechanisms are offered, the
 * AUTH command, its 334 continuations and the verdict.
 *
 * Offered on a listener with "auth = true" when there is someone to log
 * in (users, a passwd file or accept_any). Before TLS only the mechanisms
 * in the listener's auth_without_tls are offered; asking for another one
 * gets 538. CRAM-MD5 is offered only when some user has a plaintext
 * secret. Every refusal is a 5xx reply and so counts toward the
 * session's error limit; secrets never reach the log.
 *
 * Every exchange that ends is logged as one "auth" event: mechanism=,
 * user= (when known), result=ok or failed, and reason= when it failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "authdb.h"
#include "config.h"
#include "monotime.h"
#include "session_priv.h"
#include "xmalloc.h"

int
session_auth_offered(const struct session *s)
{
	return s->env->lconf->auth && authdb_has_users(s->env->authdb) &&
	    s->cfg->auth_mechanisms != 0;
}

/* The mechanisms this session may use, given its configuration alone. */
static unsigned
configured_mechs(const struct session *s)
{
	unsigned m;

	if (!session_auth_offered(s))
		return 0;
	m = s->cfg->auth_mechanisms;
	if (!authdb_has_secrets(s->env->authdb))
		m &= ~(unsigned)AUTH_MECH_CRAM_MD5;
	return m;
}

unsigned
session_auth_mechs(const struct session *s)
{
	unsigned m = configured_mechs(s);

	if (!s->tls.active) {
		/* Nothing before TLS where AUTH would get 530 anyway. */
		if (s->env->lconf->tls == TLS_STARTTLS_REQUIRED)
			return 0;
		m &= s->env->lconf->auth_without_tls;
	}
	return m;
}

void
session_auth_reset(struct session *s)
{
	if (s->auth != NULL) {
		auth_clear(s->auth);
		free(s->auth);
		s->auth = NULL;
	}
}

int
session_check_auth(struct session *s, const struct smtp_command *cmd)
{
	if (!session_auth_offered(s)) {
		session_reply(s, 503, "5.5.1", "Error: authentication not enabled");
		return -1;
	}
	if (s->state == S_CONNECTED || !s->esmtp) {
		/* AUTH is an ESMTP extension: HELO does not enable it. */
		session_reply(s, 503, "5.5.1", "Error: send EHLO first");
		return -1;
	}
	if (s->auth_user != NULL) {
		session_reply(s, 503, "5.5.1", "Error: already authenticated");
		return -1;
	}
	if (s->state != S_GREETED) {
		session_reply(s, 503, "5.5.1", "Error: MAIL transaction in progress");
		return -1;
	}
	if (cmd->args_len == 0) {
		session_reply(s, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
		return -1;
	}
	return 0;
}

/* "<random.time@hostname>", as RFC 2195 suggests. */
static void
cram_challenge(const struct session *s, char *out, size_t outlen)
{
	unsigned long long r = 0;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (unsigned long long)monotime_ms() ^ ((unsigned long long)getpid() << 20);
	snprintf(out, outlen, "<%llu.%lld@%.200s>", r % 10000000000ULL, (long long)time(NULL),
	    s->cfg->hostname);
}

static void
finish(struct session *s)
{
	session_auth_reset(s);
	session_set_state(s, S_GREETED);
}

/* The "auth" event; reason NULL when it succeeded. */
static void
log_auth(struct session *s, const char *reason, const char *detail)
{
	const struct auth_exchange *ex = s->auth;
	struct log_kv kv;

	log_kv_init(&kv);
	log_kv_str(&kv, "mechanism", auth_mech_name(ex->mech));
	if (ex->user[0] != '\0')
		log_kv_str(&kv, "user", ex->user);
	log_kv_str(&kv, "result", reason == NULL ? "ok" : "failed");
	if (reason != NULL && detail != NULL)
		log_kv_add(&kv, "reason", "%s: %s", reason, detail);
	else if (reason != NULL)
		log_kv_str(&kv, "reason", reason);
	session_log(s, LOGL_INFO, "auth", &kv);
}

static void
verdict(struct session *s)
{
	struct auth_exchange *ex = s->auth;
	const struct authdb *db = s->env->authdb;
	enum authdb_result r;

	if (ex->authzid[0] != '\0' && strcmp(ex->authzid, ex->user) != 0) {
		char why[300];
		snprintf(why, sizeof(why), "may not act as %s", ex->authzid);
		log_auth(s, why, NULL);
		session_reply(s, 535, "5.7.8", "Authentication credentials invalid");
		finish(s);
		return;
	}
	if (ex->mech == AUTH_MECH_CRAM_MD5)
		r = authdb_check_cram(db, ex->user, ex->cram, ex->secret);
	else
		r = authdb_check_password(db, ex->user, ex->secret);
	if (r != AUTHDB_OK) {
		log_auth(s, authdb_result_name(r), NULL);
		session_reply(s, 535, "5.7.8", "Authentication credentials invalid");
		finish(s);
		return;
	}
	s->auth_user = xstrdup(ex->user);
	s->auth_mech = ex->mech;
	log_auth(s, NULL, NULL);
	session_reply(s, 235, "2.7.0", "Authentication successful");
	finish(s);
}

static void
handle(struct session *s, enum auth_status st)
{
	switch (st) {
	case AUTH_CHALLENGE:
		session_reply(s, 334, NULL, "%s", s->auth->challenge);
		session_set_state(s, S_AUTH);
		return;
	case AUTH_CHECK:
		verdict(s);
		return;
	case AUTH_CANCELED:
		log_auth(s, "canceled", NULL);
		session_reply(s, 501, "5.7.0", "Authentication canceled");
		break;
	case AUTH_BAD_BASE64:
		log_auth(s, "bad base64", NULL);
		session_reply(s, 501, "5.5.2", "Cannot decode response");
		break;
	case AUTH_MALFORMED:
	default:
		log_auth(s, "malformed response", s->auth->why);
		session_reply(s, 501, "5.5.2", "Invalid authentication response: %s", s->auth->why);
		break;
	}
	finish(s);
}

void
session_cmd_auth(struct session *s, const struct smtp_command *cmd)
{
	const char *args = cmd->args;
	const char *sp = memchr(args, ' ', cmd->args_len);
	size_t namelen = sp ? (size_t)(sp - args) : cmd->args_len;
	unsigned mech = auth_mech_from_name(args, namelen);
	const char *initial = NULL;
	size_t initial_len = 0;
	char cram[256];

	if (mech == 0 || !(configured_mechs(s) & mech)) {
		session_reply(s, 504, "5.5.4", "Unrecognized authentication type");
		return;
	}
	if (!(session_auth_mechs(s) & mech)) {
		session_reply(s, 538, "5.7.11", "Encryption required for requested authentication mechanism");
		return;
	}
	if (sp != NULL) {
		initial = sp + 1;
		initial_len = cmd->args_len - namelen - 1;
		if (initial_len == 0 || memchr(initial, ' ', initial_len) != NULL) {
			session_reply(s, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
			return;
		}
	}
	if (session_policy(s, ST_AUTH, NULL, -1) != 0)
		return;
	cram_challenge(s, cram, sizeof(cram));
	s->auth = xcalloc(1, sizeof(*s->auth));
	handle(s, auth_start(s->auth, mech, initial, initial_len, cram));
}

void
session_auth_response(struct session *s, const char *line, size_t len)
{
	snprintf(s->cmdlog, sizeof(s->cmdlog), "AUTH %s (response)", auth_mech_name(s->auth->mech));
	handle(s, auth_next(s->auth, line, len));
}
