/*
 * session_priv - what session.c, session_env.c and session_data.c share:
 * the session and transaction objects and the reply helpers. Not for use
 * outside the session module.
 */
#ifndef SMTPTRAP_SESSION_PRIV_H
#define SMTPTRAP_SESSION_PRIV_H

#include <netinet/in.h>
#include <stddef.h>

#include "auth.h"
#include "buf.h"
#include "dataread.h"
#include "log.h"
#include "netio.h"
#include "parser.h"
#include "policy.h"
#include "session.h"
#include "tls.h"
#include "transcript.h"

enum session_state {
	S_CONNECTED,   /* greeting sent, no HELO/EHLO yet */
	S_GREETED,     /* HELO/EHLO done, no transaction */
	S_MAIL,        /* MAIL accepted, no recipient yet */
	S_RCPT,        /* at least one recipient accepted */
	S_BDAT,        /* inside a sequence of BDAT chunks */
	S_AUTH,        /* inside an AUTH exchange (334 sent) */
	S_CLOSING,     /* the session is over */
};

enum body_type { BODY_7BIT = 0, BODY_8BITMIME, BODY_BINARYMIME };

struct rcpt {
	char *address;
	char *params;              /* recorded ESMTP parameters, "" if none */
};

/* One mail transaction: created by MAIL, freed by RSET/HELO/end of data. */
struct transaction {
	char *sender;
	struct buf mail_params;    /* recorded ESMTP parameters */
	long long declared_size;   /* SIZE=, or -1 */
	int body;                  /* enum body_type */
	int smtputf8;
	struct rcpt *rcpts;
	size_t nrcpts;
	size_t cap;
	size_t rejected;           /* RCPTs refused in this transaction */
	unsigned long long size;   /* content octets received */
	unsigned long long lines;  /* content lines received, for the transcript */
	unsigned long long stored; /* octets written to the delivery, headers included */
	int too_big;
	struct data_reader bdat;   /* BDAT: checks content across chunks */
	int discard;               /* a rule said: accept, deliver nowhere */
	int data_checked;          /* BDAT: the data stage was asked */
	int greylisted;            /* an accepted recipient first passed greylisting */
	long long greylist_delayed; /* the longest such delay, seconds */
	int discard_rule;          /* the line of the rule that said discard */
	int greylist_pending;      /* the recipient being decided first passed it */
	long long greylist_pending_delay;
	int fail_code;             /* BDAT: the reply every later chunk gets */
	const char *fail_enh;
	char fail_text[128];
};

struct session {
	const struct session_env *env;
	const struct config *cfg;
	struct netio io;
	enum session_state state;
	char id[32];
	char peer[INET6_ADDRSTRLEN];
	int peer_port;
	char local[INET6_ADDRSTRLEN];
	int local_port;
	char *helo;
	int esmtp;
	char cmdlog[128];          /* the command being answered, for logs */
	enum policy_stage stage;   /* the stage of what is being answered, for logs */
	int idle;                  /* waiting for a command: replies answer none */
	int reply_rule;            /* session_reply_cause(), for the next reply */
	int reply_stage;
	const struct log_kv *reply_extra;
	struct transcript *transcript; /* NULL when off or broken */
	long long started_ms;      /* monotonic, for the session's duration */
	unsigned rejects;          /* 4xx and 5xx replies sent */
	struct transaction tx;
	unsigned msgnum;           /* messages started in this session */
	unsigned long messages;    /* messages committed */
	unsigned long commands;
	unsigned errors;
	struct tls_info tls;       /* TLS facts; tls.active = 0 in plaintext */
	char *auth_user;           /* after a successful AUTH, else NULL */
	unsigned auth_mech;        /* AUTH_MECH_* that succeeded */
	struct auth_exchange *auth; /* the AUTH exchange in progress */
	unsigned char client[16];  /* client address (v4-mapped), after PROXY/XCLIENT */
	char *client_name;         /* XCLIENT NAME, or NULL */
	const struct policy_ruleset *rules;
	struct policy_rng rng;
	unsigned stage_counts[ST_COUNT];
	int tarpit_ms;             /* delay before every reply, 0 = none */
	int discard;               /* discard every message of the session */
	int discard_rule;          /* the line of the rule that said so */
	int close_after_reply;     /* a rule said: disconnect after this reply */
	int close_rule;            /* the line of that rule */
	enum policy_stage close_stage;
	int replying;              /* inside session_reply: no nested delays */
	int xclient_ok;            /* the client may use XCLIENT */
	long long session_deadline; /* monotonic ms */
	long long stop_deadline;    /* monotonic ms, 0 = not stopping */
};

/*
 * Queue a reply; text may hold "\n" for a multi-line reply. enh may be NULL.
 * Every 4xx/5xx reply is logged as one "reject" event, others as "reply"
 * at debug level; both name the command answered and the stage.
 */
void session_reply(struct session *s, int code, const char *enh, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/*
 * Say why the next reply is sent, for its log line: the stage (-1: that
 * of the command), the rule's line (0: no rule) and more key=value pairs
 * (NULL: none; must stay valid until that reply). Used by that reply only.
 */
void session_reply_cause(struct session *s, int stage, int rule_line, const struct log_kv *extra);
/*
 * Log an event of the session as "ID [CLIENT]:PORT EVENT k=v ..." (kv may
 * be NULL) and, at info level and above, note it in the transcript.
 */
void session_log(struct session *s, enum log_level level, const char *event,
    const struct log_kv *kv);
/* Write a line to the session's transcript, if any; see transcript.h. */
void session_transcript(struct session *s, char dir, const char *text, size_t len);
void session_set_state(struct session *s, enum session_state next);
/* Wait for more input; 0 when some arrived, -1 when the session is over. */
int session_wait_input(struct session *s, int timeout_ms);
/* The same with an absolute monotime_ms() deadline. */
int session_wait_input_until(struct session *s, long long deadline);
void session_tx_reset(struct session *s);

/* Log that the client went away after the last command; reason may be NULL. */
void session_log_lost(struct session *s, const char *reason);

/* Deadline-bounded waits of session.c, shared with the TLS handshake. */
long long session_wait_until(struct session *s, long long deadline);
void session_timeout_close(struct session *s, long long now);

/*
 * Copy text to out, replacing "%x" by subs[x - 'a'] where that is set
 * and "%%" by "%"; anything else is copied as is. Truncated to outlen.
 */
void session_expand(const char *text, const char *const subs[26], char *out, size_t outlen);

/* Wait ms (interruptible by a stop request); 0, or -1 if the session must end. */
int session_pause(struct session *s, int ms);

/*
 * session_policy.c: ask the rules about a stage. Returns 0 to go on
 * (possibly after delays, or with the transaction marked for discard),
 * 1 when a rule replied instead (reject/defer), -1 when the session is
 * closing (disconnect). rcpt is the recipient at stage rcpt, verb the
 * command at stage command (else -1).
 */
int session_policy(struct session *s, enum policy_stage st, const char *rcpt, int verb);
/* Connection limits and the early-talker test, before the greeting; -1 closes. */
int session_admit(struct session *s);
/* Limits checked at MAIL: messages per session and per client per minute. */
int session_mail_limits(struct session *s);
/* Non-SMTP commands and unadvertised pipelining; -1 when the session closes. */
int session_protocol_check(struct session *s, const struct smtp_command *cmd);
/* A TLS ClientHello on a plaintext session: 554, close; -1 when so. */
int session_tls_probe_check(struct session *s);

void session_cmd_mail(struct session *s, const struct smtp_command *cmd);
void session_cmd_rcpt(struct session *s, const struct smtp_command *cmd);
void session_cmd_data(struct session *s, const struct smtp_command *cmd);
void session_cmd_bdat(struct session *s, const struct smtp_command *cmd);

/*
 * session_greylist.c: the greylist rule r at RCPT for rcpt. 0 to go on,
 * 1 when the recipient was deferred (reply sent).
 */
int session_greylist(struct session *s, const struct policy_rule *r, const char *rcpt);

/* session_tls.c */
int session_tls_offered(const struct session *s);
int session_tls_handshake(struct session *s);
int session_check_starttls(struct session *s, const struct smtp_command *cmd);
void session_cmd_starttls(struct session *s, const struct smtp_command *cmd);

/* session_xclient.c */
int session_xclient_offered(const struct session *s);
int session_check_xclient(struct session *s, const struct smtp_command *cmd);
void session_cmd_xclient(struct session *s, const struct smtp_command *cmd);
/* Read a PROXY header if the listener expects one; -1 closes. */
int session_proxy_header(struct session *s);
/* Set the client address (and its printable form) from a sockaddr. */
void session_set_client(struct session *s, const struct sockaddr *sa);

/* session_auth.c */
unsigned session_auth_mechs(const struct session *s);
int session_auth_offered(const struct session *s);
int session_check_auth(struct session *s, const struct smtp_command *cmd);
void session_cmd_auth(struct session *s, const struct smtp_command *cmd);
void session_auth_response(struct session *s, const char *line, size_t len);
void session_auth_reset(struct session *s);

#endif
