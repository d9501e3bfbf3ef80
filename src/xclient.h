/*
 * xclient - the arguments of the XCLIENT command (Postfix XCLIENT_README),
 * with which a trusted proxy or test tool tells the server who the real
 * client is: "ADDR=192.0.2.1 NAME=host.example HELO=... LOGIN=...
 * PROTO=ESMTP PORT=...".
 *
 * Values are xtext (RFC 3461 section 4): "+" and two uppercase hex digits
 * stand for one octet. "[UNAVAILABLE]" and "[TEMPUNAVAIL]" say the proxy
 * does not know the value. The session decides who may send XCLIENT and
 * what to do with the result; this module only parses. It does no I/O.
 *
 * DIAGNOSTICS
 *	-1 with a short reason fit for an SMTP reply. Unknown attribute names
 *	are quoted in it truncated and with unprintable octets replaced.
 */
#ifndef SMTPTRAP_XCLIENT_H
#define SMTPTRAP_XCLIENT_H

#include <stddef.h>
#include <sys/socket.h>

enum {
	XCLIENT_ADDR = 1 << 0, XCLIENT_NAME = 1 << 1, XCLIENT_HELO = 1 << 2,
	XCLIENT_LOGIN = 1 << 3, XCLIENT_PROTO = 1 << 4, XCLIENT_PORT = 1 << 5,
};

struct xclient_attrs {
	unsigned present;       /* XCLIENT_* given with a value */
	unsigned unavailable;   /* XCLIENT_* given as [UNAVAILABLE] or [TEMPUNAVAIL] */
	struct sockaddr_storage addr;   /* ADDR (port 0, or PORT's value when both are given) */
	char name[256];         /* NAME, decoded */
	char helo[256];         /* HELO, decoded */
	char login[256];        /* LOGIN, decoded */
	int esmtp;              /* PROTO: 1 for ESMTP, 0 for SMTP */
	int port;               /* PORT */
};

/*
 * Parse the arguments of XCLIENT ("ADDR=192.0.2.1 NAME=host.example ...").
 * Returns 0, or -1 with *why set (a static string naming the problem, e.g.
 * "unknown attribute FOO", "bad ADDR value", "bad xtext in HELO",
 * "duplicate attribute NAME", "no attributes").
 *
 * *why is NULL on success. args need not be NUL-terminated. *out is cleared first, and again on
 * failure, so only what one valid command gave is ever seen. The text
 * for an unknown attribute lives in a static buffer that the next such
 * failure overwrites.
 */
int xclient_parse(const char *args, size_t len, struct xclient_attrs *out, const char **why);

#endif
