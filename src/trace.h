/*
 * trace - the header block smtptrapd puts in front of every stored message.
 *
 * Format (documented in smtptrapd(8)); the block ends where the client's
 * own content starts:
 *
 *   Return-Path: <sender>
 *   Received: from HELO ([ADDR])
 *   	(using TLSv1.3 with cipher NAME (256/256 bits))      (with TLS)
 *   	(client certificate SHA256:AB:..., SUBJECT[, verified]) (if sent)
 *   	by HOSTNAME (smtptrapd) with PROTO id ID
 *   	for <RCPT>; DATE                       ("for" only with one recipient)
 *   X-Smtptrap-Mail-From: <sender> PARAM=VALUE ...
 *   X-Smtptrap-Rcpt-To: <rcpt> PARAM=VALUE ...   (one per recipient)
 *   X-Smtptrap-TLS: version=V cipher=C bits=N [client-certificate=FP]
 *   X-Smtptrap-Auth: user=NAME mechanism=MECH    (after a successful AUTH)
 *   X-Greylist: delayed N seconds by smtptrapd-VERSION at HOSTNAME; DATE
 *                                 (when a recipient first passed greylisting)
 *
 * PROTO follows RFC 3848: ESMTP, ESMTPS (TLS), ESMTPA (AUTH), ESMTPSA,
 * and the UTF8SMTP forms of RFC 6531.
 *
 * Pure: everything, the date included, comes in through struct trace_info.
 */
#ifndef SMTPTRAP_TRACE_H
#define SMTPTRAP_TRACE_H

#include <time.h>

#include "buf.h"

struct tls_info;

struct trace_rcpt {
	const char *address;
	const char *params;   /* "NOTIFY=... ORCPT=...", or "" */
};

struct trace_info {
	const char *hostname;
	const char *helo;     /* NULL if the client never said HELO/EHLO */
	const char *peer_addr;
	const char *protocol; /* SMTP, ESMTP, ESMTPSA, UTF8SMTP ... */
	const char *id;       /* session id "." message number */
	const char *sender;
	const char *mail_params;
	const struct trace_rcpt *rcpts;
	size_t nrcpts;
	time_t date;
	const struct tls_info *tls; /* NULL or inactive: no TLS */
	const char *auth_user;      /* NULL: not authenticated */
	const char *auth_mech;
	int greylisted;             /* add X-Greylist */
	long long greylist_delayed;
	time_t greylist_date;       /* the daemon's clock */
};

void trace_headers(struct buf *out, const struct trace_info *ti);

/* RFC 5322 date in UTC, e.g. "Sat, 21 Nov 2026 14:05:52 +0000". */
void trace_date(char *out, size_t outlen, time_t t);

#endif
