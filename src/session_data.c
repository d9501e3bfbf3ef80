/*
 * session_data - message content: DATA (RFC 5321) and BDAT (RFC 3030), and
 * the end of a transaction.
 *
 * A message is delivered in three steps: begin_message() opens the delivery
 * and writes the trace header block; content flows through the DATA reader
 * (or straight in, for BDAT chunks) into the delivery; finish_message()
 * applies the content rules and commits. The 250 reply is queued only after
 * the commit returned success. Every other outcome aborts the delivery, so
 * nothing partial is ever visible.
 *
 * Each message is logged once: "deliver" with the stored file's name,
 * "discard" when a rule dropped it, "deliver result=failed" when the
 * backend failed, or the "reject" line of its refusal.
 *
 * A backend failure is answered by its kind (deliver.h): 452 4.3.1 when
 * storage is exhausted (disk, quota, file size limit), else 451 4.3.0;
 * the session goes on either way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "dataread.h"
#include "deliver.h"
#include "monotime.h"
#include "offload.h"
#include "session_priv.h"
#include "trace.h"
#include "xmalloc.h"

/* RFC 3848 and RFC 6531 "with" protocol names. */
static const char *
protocol_name(const struct session *s)
{
	static const char *const names[2][4] = {
		{ "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA" },
		{ "UTF8SMTP", "UTF8SMTPS", "UTF8SMTPA", "UTF8SMTPSA" },
	};

	if (!s->esmtp && !s->tx.smtputf8)
		return "SMTP";
	return names[s->tx.smtputf8 ? 1 : 0][(s->tls.active ? 1 : 0) + (s->auth_user ? 2 : 0)];
}

/* Open the delivery and write the trace headers; a failure status with err. */
static enum deliver_status
begin_message(struct session *s, char *err, size_t errlen)
{
	struct transaction *tx = &s->tx;
	const char **addrs;
	struct trace_rcpt *trcpts;
	char msgid[64];
	struct buf hdr;
	enum deliver_status rc;

	s->msgnum++;
	snprintf(msgid, sizeof(msgid), "%s.%u", s->id, s->msgnum);
	addrs = xcalloc(tx->nrcpts, sizeof(*addrs));
	trcpts = xcalloc(tx->nrcpts, sizeof(*trcpts));
	for (size_t i = 0; i < tx->nrcpts; i++) {
		addrs[i] = tx->rcpts[i].address;
		trcpts[i].address = tx->rcpts[i].address;
		trcpts[i].params = tx->rcpts[i].params;
	}
	struct envelope env = {
		.session_id = s->id,
		.msgnum = s->msgnum,
		.sender = tx->sender,
		.rcpts = addrs,
		.nrcpts = tx->nrcpts,
	};
	rc = deliver_open(s->env->dlv, &env, err, errlen);
	if (rc == DELIVER_OK) {
		struct trace_info ti = {
			.hostname = s->cfg->hostname,
			.helo = s->helo,
			.peer_addr = s->peer,
			.protocol = protocol_name(s),
			.id = msgid,
			.sender = tx->sender,
			.mail_params = tx->mail_params.data ? tx->mail_params.data : "",
			.rcpts = trcpts,
			.nrcpts = tx->nrcpts,
			.date = time(NULL),
			.tls = &s->tls,
			.auth_user = s->auth_user,
			.auth_mech = s->auth_user == NULL ? NULL :
			    s->auth_mech != 0 ? auth_mech_name(s->auth_mech) : "XCLIENT",
			.greylisted = tx->greylisted,
			.greylist_delayed = tx->greylist_delayed,
			.greylist_date = clock_now(),
		};
		buf_init(&hdr);
		trace_headers(&hdr, &ti);
		deliver_write(s->env->dlv, hdr.data, hdr.len);
		tx->stored += hdr.len;
		buf_free(&hdr);
	}
	free(addrs);
	free(trcpts);
	return rc;
}

/* Content sink: count every octet, store them while under the size limit. */
static void
content_sink(void *ctx, const char *data, size_t len)
{
	struct session *s = ctx;
	struct transaction *tx = &s->tx;

	tx->size += len;
	for (const char *p = data, *end = data + len; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
		tx->lines++;
	if (tx->too_big)
		return;
	if (tx->size > (unsigned long long)s->cfg->max_message_size) {
		tx->too_big = 1;
		deliver_abort(s->env->dlv); /* stop writing; keep reading */
		return;
	}
	deliver_write(s->env->dlv, data, len);
	tx->stored += len;
}

/* The reply to a message the backend could not take. */
struct store_reply {
	int code;
	const char *enh;
	const char *text;
};

/*
 * The backend could not take the message (st says why): log "deliver
 * result=failed cause=nospace|error reason=..." and return the reply,
 * 452 4.3.1 for exhausted storage, else 451 4.3.0.
 */
static const struct store_reply *
store_failed(struct session *s, enum deliver_status st, const char *err)
{
	static const struct store_reply nospace = {
		452, "4.3.1", "Error: insufficient system storage, try again later",
	};
	static const struct store_reply failed = {
		451, "4.3.0", "Error: message could not be stored, try again later",
	};
	struct log_kv kv;

	log_kv_init(&kv);
	log_kv_str(&kv, "result", "failed");
	log_kv_add(&kv, "msg", "%u", s->msgnum);
	log_kv_str(&kv, "cause", deliver_status_name(st));
	log_kv_str(&kv, "reason", err);
	session_log(s, LOGL_WARNING, "deliver", &kv);
	return st == DELIVER_NOSPACE ? &nospace : &failed;
}

/* The "deliver" or "discard" event of a message; file NULL for discard. */
static void
log_message(struct session *s, const char *file)
{
	const struct transaction *tx = &s->tx;
	struct log_kv kv;

	log_kv_init(&kv);
	if (file != NULL)
		log_kv_str(&kv, "file", file);
	log_kv_add(&kv, "size", "%llu", tx->size);
	if (file != NULL)
		log_kv_add(&kv, "stored", "%llu", tx->stored);
	log_kv_add(&kv, "from", "<%s>", tx->sender);
	log_kv_add(&kv, "nrcpt", "%zu", tx->nrcpts);
	log_kv_add(&kv, "msg", "%u", s->msgnum);
	if (file == NULL)
		log_kv_add(&kv, "rule", "%d", tx->discard ? tx->discard_rule : s->discard_rule);
	session_log(s, LOGL_INFO, file != NULL ? "deliver" : "discard", &kv);
}

/*
 * End of content: refuse it for a content rule, or commit and reply 250.
 * flags are the DATA reader's findings (0 for BINARYMIME). The transaction ends
 * either way.
 */
struct commit_call {
	struct deliver *dlv;
	char *id, *err;
	size_t idlen, errlen;
	enum deliver_status rc;
};

static void
commit_job(void *arg)
{
	struct commit_call *c = arg;

	c->rc = deliver_commit(c->dlv, c->id, c->idlen, c->err, c->errlen);
}

/*
 * Commit the message; with fsync on a helper thread does it (offload.h),
 * so this worker's other sessions go on and their fsyncs overlap.
 */
static enum deliver_status
commit_message(struct session *s, char *id, size_t idlen, char *err, size_t errlen)
{
	struct commit_call c = { s->env->dlv, id, err, idlen, errlen, DELIVER_FAILED };

	if (s->cfg->fsync && s->cfg->backend == BACKEND_MAILDIR)
		offload_call(commit_job, &c);
	else
		commit_job(&c);
	return c.rc;
}

static void
finish_message(struct session *s, unsigned flags)
{
	struct transaction *tx = &s->tx;
	const struct config *cfg = s->cfg;
	char id[DELIVER_ID_MAX];
	char err[DELIVER_ERR_MAX];
	enum deliver_status st = DELIVER_OK;
	int verdict = 0;

	s->stage = ST_EOM;
	if (tx->too_big) {
		session_reply(s, 552, "5.3.4", "Error: message too large (limit %lld octets)",
		    cfg->max_message_size);
	} else if ((flags & (DATA_BARE_LF | DATA_BARE_CR)) && cfg->bare_line_endings == BARE_REJECT) {
		session_reply(s, 550, "5.6.0", "Error: message contains bare %s line endings; use CRLF",
		    (flags & DATA_BARE_LF) ? "LF" : "CR");
	} else if (flags & DATA_NUL) {
		session_reply(s, 550, "5.6.0", "Error: message contains NUL octets");
	} else if ((flags & DATA_LONG_LINE) && cfg->long_lines == LONG_LINES_REJECT) {
		session_reply(s, 500, "5.5.6", "Error: message contains a line longer than 1000 octets");
	} else if ((verdict = session_policy(s, ST_EOM, NULL, -1)) != 0) {
		deliver_abort(s->env->dlv); /* the rule replied, or the session ends */
	} else if (tx->discard || s->discard) {
		deliver_abort(s->env->dlv);
		s->messages++;
		log_message(s, NULL);
		session_reply(s, 250, "2.0.0", "Ok: discarded");
	} else if ((st = commit_message(s, id, sizeof(id), err, sizeof(err))) != DELIVER_OK) {
		const struct store_reply *r = store_failed(s, st, err);
		session_reply(s, r->code, r->enh, "%s", r->text);
	} else {
		s->messages++;
		log_message(s, id);
		session_reply(s, 250, "2.0.0", "Ok: queued as %s", id);
	}
	session_tx_reset(s);
	if (s->state != S_CLOSING)
		session_set_state(s, S_GREETED);
}

/*
 * What the transcript says instead of the content: "(message: N octets,
 * M lines)" for DATA, "(chunk: N octets)" for a BDAT chunk.
 */
static void
transcript_summary(struct session *s, const char *what, unsigned long long octets,
    const unsigned long long *lines)
{
	char text[128];
	int n;

	if (s->transcript == NULL)
		return;
	if (lines != NULL)
		n = snprintf(text, sizeof(text), "(%s: %llu octets, %llu lines)", what, octets, *lines);
	else
		n = snprintf(text, sizeof(text), "(%s: %llu octets)", what, octets);
	if (n > 0 && (size_t)n < sizeof(text))
		session_transcript(s, '<', text, (size_t)n);
}

/*
 * Wait for more content of a transfer (a message after 354, or a BDAT
 * chunk) that started at `started` and has brought `received` octets:
 * at most timeouts.data since the last octet, and, with
 * limits.min_data_rate, no later than started + timeouts.data + one
 * second per min_data_rate octets (Postfix's smtpd_min_data_rate), so a
 * client that trickles content is cut off like one that stops.
 */
static int
wait_content(struct session *s, long long started, unsigned long long received)
{
	long long deadline = monotime_ms() + s->cfg->timeout_data_ms;

	if (s->cfg->min_data_rate > 0) {
		long long credit = (long long)(received * 1000ULL / (unsigned)s->cfg->min_data_rate);
		long long overall = started + s->cfg->timeout_data_ms + credit;
		if (overall < deadline)
			deadline = overall;
	}
	return session_wait_input_until(s, deadline);
}

void
session_cmd_data(struct session *s, const struct smtp_command *cmd)
{
	char err[DELIVER_ERR_MAX];
	struct data_reader dr;
	enum deliver_status st;

	(void)cmd;
	if (session_policy(s, ST_DATA, NULL, -1) != 0)
		return;
	if ((st = begin_message(s, err, sizeof(err))) != DELIVER_OK) {
		const struct store_reply *r = store_failed(s, st, err);
		session_reply(s, r->code, r->enh, "%s", r->text);
		return;
	}
	session_reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
	if (netio_flush(&s->io, s->cfg->timeout_command_ms) != NETIO_OK) {
		session_set_state(s, S_CLOSING);
		return;
	}
	data_reader_init(&dr, s->cfg->bare_line_endings == BARE_NORMALIZE, content_sink, s);
	long long started = monotime_ms();
	unsigned long long received = 0;
	for (;;) {
		size_t avail = netio_pending(&s->io);
		if (avail > 0) {
			int done;
			size_t used = data_reader_feed(&dr, netio_peek(&s->io), avail, &done);
			netio_consume(&s->io, used);
			received += used;
			if (done)
				break;
		}
		if (wait_content(s, started, received) != 0) {
			/* Lost or timed out mid-message: nothing is kept. */
			transcript_summary(s, "message", s->tx.size, &s->tx.lines);
			session_tx_reset(s);
			return;
		}
	}
	transcript_summary(s, "message", s->tx.size, &s->tx.lines);
	snprintf(s->cmdlog, sizeof(s->cmdlog), "end of DATA");
	finish_message(s, dr.flags);
}

/* Remember why this BDAT transaction failed; later chunks get the same. */
static void
bdat_fail(struct session *s, int code, const char *enh, const char *text)
{
	s->tx.fail_code = code;
	s->tx.fail_enh = enh;
	snprintf(s->tx.fail_text, sizeof(s->tx.fail_text), "%s", text);
}

void
session_cmd_bdat(struct session *s, const struct smtp_command *cmd)
{
	struct transaction *tx = &s->tx;
	unsigned long long size, left;
	int last;
	int accepting;

	if (parser_bdat(cmd->args, cmd->args_len, &size, &last) != PARSE_OK) {
		session_reply(s, 501, "5.5.4", "Syntax: BDAT chunk-size [LAST]");
		return;
	}
	accepting = (s->cfg->extensions & EXT_CHUNKING) &&
	    (s->state == S_RCPT || s->state == S_BDAT);
	if (accepting && s->state == S_RCPT) {
		char err[DELIVER_ERR_MAX];
		enum deliver_status st;
		session_set_state(s, S_BDAT);
		data_reader_init_raw(&tx->bdat, s->cfg->bare_line_endings == BARE_NORMALIZE,
		    content_sink, s);
		if ((st = begin_message(s, err, sizeof(err))) != DELIVER_OK) {
			const struct store_reply *r = store_failed(s, st, err);
			bdat_fail(s, r->code, r->enh, r->text);
		}
	}

	/* Read the whole chunk whatever the outcome: it is data, not commands. */
	left = size;
	long long started = monotime_ms();
	while (left > 0) {
		size_t avail = netio_pending(&s->io);
		if (avail == 0) {
			if (wait_content(s, started, size - left) != 0) {
				transcript_summary(s, "chunk", size - left, NULL);
				session_tx_reset(s);
				return;
			}
			continue;
		}
		size_t n = avail < left ? avail : (size_t)left;
		if (accepting && tx->fail_code == 0) {
			if (tx->body == BODY_BINARYMIME) {
				content_sink(s, netio_peek(&s->io), n);
			} else {
				int done;
				data_reader_feed(&tx->bdat, netio_peek(&s->io), n, &done);
			}
		}
		netio_consume(&s->io, n);
		left -= n;
	}
	transcript_summary(s, "chunk", size, NULL);

	if (!(s->cfg->extensions & EXT_CHUNKING)) {
		session_reply(s, 502, "5.5.1", "Error: BDAT not available (CHUNKING is off)");
		return;
	}
	if (!accepting) {
		if (s->state == S_CONNECTED)
			session_reply(s, 503, "5.5.1", "Error: send HELO/EHLO first");
		else if (s->state == S_GREETED)
			session_reply(s, 503, "5.5.1", "Error: need MAIL command");
		else if (tx->rejected > 0)
			session_reply(s, 554, "5.5.1", "Error: no valid recipients");
		else
			session_reply(s, 503, "5.5.1", "Error: need RCPT command");
		return;
	}
	if (tx->fail_code == 0 && tx->too_big) {
		char text[128];
		snprintf(text, sizeof(text), "Error: message too large (limit %lld octets)",
		    s->cfg->max_message_size);
		bdat_fail(s, 552, "5.3.4", text);
	}
	if (tx->fail_code != 0) {
		session_reply(s, tx->fail_code, tx->fail_enh, "%s", tx->fail_text);
		if (last) {
			session_tx_reset(s);
			session_set_state(s, S_GREETED);
		}
		return;
	}
	/* The data stage of BDAT: after the first chunk, whose octets are read. */
	if (tx->data_checked == 0) {
		tx->data_checked = 1;
		if (session_policy(s, ST_DATA, NULL, -1) != 0) {
			session_tx_reset(s);
			if (s->state != S_CLOSING)
				session_set_state(s, S_GREETED);
			return;
		}
	}
	if (!last) {
		session_reply(s, 250, "2.0.0", "Ok: %llu octets received", size);
		return;
	}
	/* BINARYMIME content is opaque; anything else obeys the line rules. */
	data_reader_end(&tx->bdat);
	finish_message(s, tx->body == BODY_BINARYMIME ? 0 : tx->bdat.flags);
}
