/*
 * session_env - MAIL FROM and RCPT TO: the envelope of a transaction.
 *
 * Path syntax comes from parser.c; this file gives ESMTP parameters their
 * meaning (RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 3030 BINARYMIME, RFC 6531
 * SMTPUTF8, RFC 3461 DSN), enforces that only advertised extensions are
 * used, and records the accepted parameters so they can be written into
 * the stored message's envelope headers.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "session_priv.h"
#include "xmalloc.h"

/* Reply for a parser failure on a path; is_rcpt picks the wording. */
static void
reply_path_error(struct session *s, enum parse_result r, int is_rcpt)
{
	switch (r) {
	case PARSE_BAD_ADDRESS:
		if (is_rcpt)
			session_reply(s, 501, "5.1.3", "Bad recipient address syntax");
		else
			session_reply(s, 501, "5.1.7", "Bad sender address syntax");
		break;
	case PARSE_TOO_LONG:
		if (is_rcpt)
			session_reply(s, 501, "5.1.3", "Recipient address too long");
		else
			session_reply(s, 501, "5.1.7", "Sender address too long");
		break;
	case PARSE_BAD_PARAM:
		session_reply(s, 501, "5.5.4", "Bad ESMTP parameter syntax");
		break;
	default:
		if (is_rcpt)
			session_reply(s, 501, "5.5.4", "Syntax: RCPT TO:<address>");
		else
			session_reply(s, 501, "5.5.4", "Syntax: MAIL FROM:<address>");
		break;
	}
}

static int
is_digits(const char *v)
{
	if (v == NULL || *v == '\0')
		return 0;
	for (; *v; v++)
		if (!isdigit((unsigned char)*v))
			return 0;
	return 1;
}

static void
record_param(struct buf *b, const struct smtp_param *p, const char *keyword)
{
	if (b->len > 0)
		buf_puts(b, " ");
	buf_puts(b, keyword);
	if (p->value != NULL)
		buf_printf(b, "=%s", p->value);
}

/* "SUCCESS,FAILURE,DELAY" in any combination, or "NEVER" alone. */
static int
valid_notify(const char *v)
{
	char tmp[64];
	char *save, *tok;
	int never = 0, count = 0;

	if (v == NULL || strlen(v) >= sizeof(tmp))
		return 0;
	memcpy(tmp, v, strlen(v) + 1);
	for (tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		count++;
		if (strcasecmp(tok, "NEVER") == 0)
			never = 1;
		else if (strcasecmp(tok, "SUCCESS") != 0 && strcasecmp(tok, "FAILURE") != 0 &&
		    strcasecmp(tok, "DELAY") != 0)
			return 0;
	}
	return count > 0 && (!never || count == 1);
}

/* ORCPT=addr-type;xtext, RFC 3461 4.2. */
static int
valid_orcpt(const char *v)
{
	const char *semi;

	if (v == NULL || (semi = strchr(v, ';')) == NULL || semi == v || semi[1] == '\0')
		return 0;
	for (const char *p = v; p < semi; p++)
		if (!isalnum((unsigned char)*p) && *p != '-')
			return 0;
	return strlen(v) <= 500 && parser_is_xtext(semi + 1);
}

void
session_cmd_mail(struct session *s, const struct smtp_command *cmd)
{
	struct smtp_path_cmd pc;
	struct transaction *tx = &s->tx;
	unsigned ext = s->cfg->extensions;
	enum parse_result r;
	struct buf params;

	if (session_mail_limits(s) != 0)
		return;
	r = parser_path(cmd->args, cmd->args_len, "FROM:", 1, 0, &pc);
	if (r != PARSE_OK) {
		reply_path_error(s, r, 0);
		return;
	}
	if (pc.nparams > 0 && !s->esmtp) {
		session_reply(s, 555, "5.5.4", "Error: ESMTP parameters require EHLO");
		return;
	}

	long long size = -1;
	int body = BODY_7BIT, smtputf8 = 0;
	buf_init(&params);
	for (size_t i = 0; i < pc.nparams; i++) {
		const struct smtp_param *p = &pc.params[i];
		const char *k = p->keyword;

		if (strcasecmp(k, "SIZE") == 0 && (ext & EXT_SIZE)) {
			if (!is_digits(p->value) || strlen(p->value) > 18) {
				session_reply(s, 501, "5.5.4", "Bad SIZE parameter");
				goto fail;
			}
			size = strtoll(p->value, NULL, 10);
			if (size > s->cfg->max_message_size) {
				session_reply(s, 552, "5.3.4", "Message size exceeds fixed maximum message size (%lld)",
				    s->cfg->max_message_size);
				goto fail;
			}
			record_param(&params, p, "SIZE");
		} else if (strcasecmp(k, "BODY") == 0 && (ext & EXT_8BITMIME)) {
			if (p->value != NULL && strcasecmp(p->value, "7BIT") == 0)
				body = BODY_7BIT;
			else if (p->value != NULL && strcasecmp(p->value, "8BITMIME") == 0)
				body = BODY_8BITMIME;
			else if (p->value != NULL && strcasecmp(p->value, "BINARYMIME") == 0 &&
			    (ext & EXT_BINARYMIME))
				body = BODY_BINARYMIME;
			else {
				session_reply(s, 501, "5.5.4", "Unsupported BODY type");
				goto fail;
			}
			static const char *const body_names[] = { "7BIT", "8BITMIME", "BINARYMIME" };
			struct smtp_param norm = { p->keyword, body_names[body] };
			record_param(&params, &norm, "BODY");
		} else if (strcasecmp(k, "SMTPUTF8") == 0 && (ext & EXT_SMTPUTF8)) {
			if (p->value != NULL) {
				session_reply(s, 501, "5.5.4", "SMTPUTF8 takes no value");
				goto fail;
			}
			smtputf8 = 1;
			record_param(&params, p, "SMTPUTF8");
		} else if (strcasecmp(k, "RET") == 0 && (ext & EXT_DSN)) {
			if (p->value == NULL || (strcasecmp(p->value, "FULL") != 0 &&
			    strcasecmp(p->value, "HDRS") != 0)) {
				session_reply(s, 501, "5.5.4", "Bad RET parameter (FULL or HDRS)");
				goto fail;
			}
			record_param(&params, p, "RET");
		} else if (strcasecmp(k, "ENVID") == 0 && (ext & EXT_DSN)) {
			if (p->value == NULL || strlen(p->value) > 100 || !parser_is_xtext(p->value)) {
				session_reply(s, 501, "5.5.4", "Bad ENVID parameter");
				goto fail;
			}
			record_param(&params, p, "ENVID");
		} else if (strcasecmp(k, "AUTH") == 0 && session_auth_offered(s)) {
			/* RFC 4954 5: an xtext mailbox or "<>"; recorded as sent. */
			if (p->value == NULL || strlen(p->value) > 500 || !parser_is_xtext(p->value)) {
				session_reply(s, 501, "5.5.4", "Bad AUTH parameter");
				goto fail;
			}
			record_param(&params, p, "AUTH");
		} else {
			session_reply(s, 555, "5.5.4", "Unsupported option: %s", k);
			goto fail;
		}
	}
	if (pc.has_utf8 && !smtputf8) {
		session_reply(s, 553, "5.6.7", "Non-ASCII address requires SMTPUTF8");
		goto fail;
	}

	session_tx_reset(s);
	tx->sender = xstrndup(pc.mailbox, pc.mailbox_len);
	tx->mail_params = params;
	tx->declared_size = size;
	tx->body = body;
	tx->smtputf8 = smtputf8;
	if (session_policy(s, ST_MAIL, NULL, -1) != 0) {
		session_tx_reset(s);
		return;
	}
	session_set_state(s, S_MAIL);
	session_reply(s, 250, "2.1.0", "Ok");
	return;
fail:
	buf_free(&params);
}

void
session_cmd_rcpt(struct session *s, const struct smtp_command *cmd)
{
	struct smtp_path_cmd pc;
	struct transaction *tx = &s->tx;
	unsigned ext = s->cfg->extensions;
	enum parse_result r;
	struct buf params;

	if (tx->nrcpts >= (size_t)s->cfg->max_recipients) {
		tx->rejected++;
		session_reply(s, 452, "4.5.3", "Error: too many recipients");
		return;
	}
	r = parser_path(cmd->args, cmd->args_len, "TO:", 0, 1, &pc);
	if (r != PARSE_OK) {
		tx->rejected++;
		reply_path_error(s, r, 1);
		return;
	}
	if (pc.nparams > 0 && !s->esmtp) {
		tx->rejected++;
		session_reply(s, 555, "5.5.4", "Error: ESMTP parameters require EHLO");
		return;
	}
	buf_init(&params);
	for (size_t i = 0; i < pc.nparams; i++) {
		const struct smtp_param *p = &pc.params[i];

		if (strcasecmp(p->keyword, "NOTIFY") == 0 && (ext & EXT_DSN)) {
			if (!valid_notify(p->value)) {
				session_reply(s, 501, "5.5.4", "Bad NOTIFY parameter");
				goto fail;
			}
			record_param(&params, p, "NOTIFY");
		} else if (strcasecmp(p->keyword, "ORCPT") == 0 && (ext & EXT_DSN)) {
			if (!valid_orcpt(p->value)) {
				session_reply(s, 501, "5.5.4", "Bad ORCPT parameter");
				goto fail;
			}
			record_param(&params, p, "ORCPT");
		} else {
			session_reply(s, 555, "5.5.4", "Unsupported option: %s", p->keyword);
			goto fail;
		}
	}
	if (pc.has_utf8 && !tx->smtputf8) {
		session_reply(s, 553, "5.6.7", "Non-ASCII address requires SMTPUTF8");
		goto fail;
	}
	char *address = xstrndup(pc.mailbox, pc.mailbox_len);
	tx->greylist_pending = 0;
	if (session_policy(s, ST_RCPT, address, -1) != 0) {
		free(address);
		goto fail;
	}
	if (tx->greylist_pending) {
		if (!tx->greylisted || tx->greylist_pending_delay > tx->greylist_delayed)
			tx->greylist_delayed = tx->greylist_pending_delay;
		tx->greylisted = 1;
	}
	if (tx->nrcpts == tx->cap) {
		tx->cap = tx->cap ? tx->cap * 2 : 4;
		tx->rcpts = xrealloc(tx->rcpts, tx->cap * sizeof(*tx->rcpts));
	}
	tx->rcpts[tx->nrcpts].address = address;
	tx->rcpts[tx->nrcpts].params = params.data ? params.data : xstrdup("");
	tx->nrcpts++;
	session_set_state(s, S_RCPT);
	session_reply(s, 250, "2.1.5", "Ok");
	return;
fail:
	tx->rejected++;
	buf_free(&params);
}
