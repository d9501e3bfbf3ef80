/*
 * trace - the Return-Path/Received/envelope header block; see trace.h.
 */
#include <stdio.h>
#include <string.h>

#include "tls.h"
#include "trace.h"

void
trace_date(char *out, size_t outlen, time_t t)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	/* Spelled out, not strftime, so no locale can change it. */
	gmtime_r(&t, &tm);
	snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void
trace_headers(struct buf *out, const struct trace_info *ti)
{
	char date[64];

	trace_date(date, sizeof(date), ti->date);
	buf_printf(out, "Return-Path: <%s>\r\n", ti->sender);
	/* RFC 5321 4.1.3: IPv6 address literals carry the "IPv6:" tag. */
	buf_printf(out, "Received: from %s ([%s%s])\r\n", ti->helo ? ti->helo : "unknown",
	    strchr(ti->peer_addr, ':') ? "IPv6:" : "", ti->peer_addr);
	if (ti->tls != NULL && ti->tls->active) {
		const struct tls_info *t = ti->tls;
		buf_printf(out, "\t(using %s with cipher %s (%d/%d bits))\r\n", t->version, t->cipher,
		    t->bits, t->alg_bits);
		if (t->peer_cert)
			buf_printf(out, "\t(client certificate %s, %s%s)\r\n", t->peer_fingerprint,
			    t->peer_subject, t->peer_verified == 1 ? ", verified" :
			    t->peer_verified == 0 ? ", not verified" : "");
	}
	buf_printf(out, "\tby %s (smtptrapd) with %s id %s", ti->hostname, ti->protocol, ti->id);
	if (ti->nrcpts == 1)
		buf_printf(out, "\r\n\tfor <%s>; %s\r\n", ti->rcpts[0].address, date);
	else
		buf_printf(out, ";\r\n\t%s\r\n", date);
	buf_printf(out, "X-Smtptrap-Mail-From: <%s>%s%s\r\n", ti->sender,
	    ti->mail_params[0] ? " " : "", ti->mail_params);
	for (size_t i = 0; i < ti->nrcpts; i++)
		buf_printf(out, "X-Smtptrap-Rcpt-To: <%s>%s%s\r\n", ti->rcpts[i].address,
		    ti->rcpts[i].params[0] ? " " : "", ti->rcpts[i].params);
	if (ti->tls != NULL && ti->tls->active) {
		buf_printf(out, "X-Smtptrap-TLS: version=%s cipher=%s bits=%d", ti->tls->version,
		    ti->tls->cipher, ti->tls->bits);
		if (ti->tls->peer_cert)
			buf_printf(out, " client-certificate=%s", ti->tls->peer_fingerprint);
		buf_puts(out, "\r\n");
	}
	if (ti->auth_user != NULL)
		buf_printf(out, "X-Smtptrap-Auth: user=%s mechanism=%s\r\n", ti->auth_user,
		    ti->auth_mech ? ti->auth_mech : "?");
	if (ti->greylisted) {
		trace_date(date, sizeof(date), ti->greylist_date);
		buf_printf(out, "X-Greylist: delayed %lld seconds by smtptrapd-%s at %s; %s\r\n",
		    ti->greylist_delayed, PACKAGE_VERSION, ti->hostname, date);
	}
}
