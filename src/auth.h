/*
 * auth - the SASL exchanges of SMTP AUTH (RFC 4954): PLAIN (RFC 4616),
 * LOGIN and CRAM-MD5 (RFC 2195), as a pure state machine.
 *
 * The session feeds it the AUTH command's initial response and then each
 * client line; it answers with the next challenge to send after "334 ",
 * or with complete credentials for authdb to check. It does no I/O and
 * decides nothing about who may log in.
 */
#ifndef SMTPTRAP_AUTH_H
#define SMTPTRAP_AUTH_H

#include <stddef.h>

#define AUTH_USER_MAX 255      /* octets in a user name */
#define AUTH_SECRET_MAX 1024   /* octets in a password */
#define AUTH_LINE_MAX 12288    /* RFC 4954 4: AUTH lines, including CRLF */

enum auth_status {
	AUTH_CHALLENGE,    /* send "334 " followed by ex->challenge */
	AUTH_CHECK,        /* ex->user and ex->secret are complete */
	AUTH_CANCELED,     /* the client answered "*" */
	AUTH_BAD_BASE64,   /* the response is not base64 */
	AUTH_MALFORMED,    /* decoded, but wrong for the mechanism: ex->why */
};

struct auth_exchange {
	unsigned mech;                      /* AUTH_MECH_* */
	int step;
	char authzid[AUTH_USER_MAX + 1];    /* PLAIN authorization identity, "" if none */
	char user[AUTH_USER_MAX + 1];
	char secret[AUTH_SECRET_MAX + 1];   /* password, or CRAM-MD5 hex digest */
	char cram[256];                     /* the CRAM-MD5 challenge text */
	char challenge[512];                /* base64, to send after "334 " */
	const char *why;
};

/* AUTH_MECH_* for a mechanism name (case-insensitive), 0 if unknown. */
unsigned auth_mech_from_name(const char *name, size_t len);
const char *auth_mech_name(unsigned mech);

/*
 * Begin an exchange. initial is the initial response as sent on the AUTH
 * line ("=" for an empty one), or NULL when there was none. cram is the
 * challenge text CRAM-MD5 sends, e.g. "<1896.697170952@host>".
 */
enum auth_status auth_start(struct auth_exchange *ex, unsigned mech, const char *initial,
    size_t initial_len, const char *cram);

/* Take the client's next line (without CRLF). */
enum auth_status auth_next(struct auth_exchange *ex, const char *line, size_t len);

/* Wipe the secrets. */
void auth_clear(struct auth_exchange *ex);

#endif
