/*
 * trace - the header block smtptrapd puts in front of every stored message.
 *
 * Format (documented in smtptrapd(8)); the block ends where the client's
 * own content starts:
 *
 *   Return-Path: <sender>
 *   Received: from HELO ([ADDR])
 *   	by HOSTNAME (smtptrapd) with PROTO id ID
 *   	for <RCPT>; DATE                       ("for" only with one recipient)
 *   X-Smtptrap-Mail-From: <sender> PARAM=VALUE ...
 *   X-Smtptrap-Rcpt-To: <rcpt> PARAM=VALUE ...   (one per recipient)
 *
 * Pure: everything, the date included, comes in through struct trace_info.
 */
#ifndef SMTPTRAP_TRACE_H
#define SMTPTRAP_TRACE_H

#include <time.h>

#include "buf.h"

struct trace_rcpt {
	const char *address;
	const char *params;   /* "NOTIFY=... ORCPT=...", or "" */
};

struct trace_info {
	const char *hostname;
	const char *helo;     /* NULL if the client never said HELO/EHLO */
	const char *peer_addr;
	const char *protocol; /* SMTP, ESMTP, UTF8SMTP ... */
	const char *id;       /* session id "." message number */
	const char *sender;
	const char *mail_params;
	const struct trace_rcpt *rcpts;
	size_t nrcpts;
	time_t date;
};

void trace_headers(struct buf *out, const struct trace_info *ti);

/* RFC 5322 date in UTC, e.g. "Sat, 21 Nov 2026 14:05:52 +0000". */
void trace_date(char *out, size_t outlen, time_t t);

#endif
