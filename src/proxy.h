/*
 * proxy - the PROXY protocol header that a load balancer such as HAProxy
 * sends before the client's first octet (versions 1 and 2 of the HAProxy
 * specification, proxy-protocol.txt).
 *
 * The listener hands over whatever it has read so far; the parser says
 * whether that is a complete header (and how long it is), needs more
 * octets, or can never become a header. Only TCP over IPv4 and IPv6 are
 * understood. It does no I/O and keeps no state between calls, so the
 * caller simply calls again with the longer buffer.
 *
 * DIAGNOSTICS
 *	PROXY_BAD comes with a short static string for the log.
 *
 * BUGS
 *	Version 2 TLVs are skipped without being looked at.
 */
#ifndef SMTPTRAP_PROXY_H
#define SMTPTRAP_PROXY_H

#include <stddef.h>
#include <sys/socket.h>

enum { PROXY_V1 = 1 << 0, PROXY_V2 = 1 << 1 };

enum proxy_result { PROXY_OK, PROXY_NEED_MORE, PROXY_BAD };

#define PROXY_HEADER_MAX 536   /* v2: 16 + at most 520 (enough for TCP6 with some TLVs); v1: 107 */

struct proxy_info {
	int local;                      /* LOCAL (v2) or UNKNOWN (v1): keep the real addresses */
	struct sockaddr_storage src;    /* the client, AF_INET or AF_INET6, port set */
	struct sockaddr_storage dst;    /* the address the client connected to */
};

/*
 * Look at the first len octets received on a connection. versions says
 * which forms are accepted. PROXY_NEED_MORE: not enough octets yet to
 * decide (call again with more). PROXY_OK: *used is the header's length
 * (the bytes after it are the client's own). PROXY_BAD: *why says what is
 * wrong (a static string), e.g. "not a PROXY header", "bad v1 address",
 * "v2 header too long", "unsupported v2 address family".
 *
 * *out is cleared first and is only meaningful on PROXY_OK; when local is
 * set, src and dst stay cleared (family AF_UNSPEC). *used is 0 unless the
 * result is PROXY_OK, and *why is NULL unless it is PROXY_BAD. Octets of a
 * header form the listener does not accept are PROXY_BAD as soon as they
 * look like that form.
 */
enum proxy_result proxy_parse(const unsigned char *buf, size_t len, unsigned versions,
    struct proxy_info *out, size_t *used, const char **why);

#endif
