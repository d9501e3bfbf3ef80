/*
 * cli_msg - one captured message as the smtptrap command sees it: the
 * envelope smtptrapd recorded in its trace block, the main headers
 * decoded to UTF-8, and on request the body: the text decoded
 * (quoted-printable, base64) and converted to UTF-8, and the list of MIME
 * parts. Parsing and decoding are GMime's (3.x); nothing here decodes by
 * hand.
 *
 * The envelope comes from the trace block smtptrapd writes in front of
 * every message (see smtptrapd(8)): "X-Smtptrap-Mail-From: <sender>
 * PARAMS" and one "X-Smtptrap-Rcpt-To: <rcpt> PARAMS" per recipient. A
 * file without them (not written by smtptrapd) has a NULL sender and no
 * recipients, and is still listed.
 *
 * Strings are UTF-8 and NUL-terminated, so every string is safe to print
 * and to put in JSON: GMime reads raw 8-bit header octets that are not
 * UTF-8 as ISO-8859-1, and any other invalid sequence becomes U+FFFD.
 * Content types and charsets are lower case; a message/rfc822 part is one
 * part (not walked into); body text has LF line endings.
 *
 * DIAGNOSTICS: the loaders return -1 with "PATH: reason" in err when the
 * file cannot be read; a file that is not a valid message still loads,
 * with what could be parsed.
 */
#ifndef SMTPTRAP_CLI_MSG_H
#define SMTPTRAP_CLI_MSG_H

#include <stddef.h>
#include <time.h>

struct cli_header {
	char *name;
	char *value;          /* unfolded, RFC 2047 encoded words decoded */
};

struct cli_rcpt {
	char *address;        /* as in RCPT TO, without <> */
	char *params;         /* ESMTP parameters as recorded, "" if none */
};

struct cli_msg {
	char *id;             /* the maildir file name */
	char *path;
	long long size;       /* octets in the file */
	time_t received;      /* seconds in the maildir name, else the file's mtime */
	char *sender;         /* envelope sender, "" for <>; NULL without a trace block */
	char *mail_params;    /* "" if none; NULL without a trace block */
	struct cli_rcpt *rcpts;
	size_t nrcpts;
	/* main headers, decoded; NULL when absent */
	char *subject;
	char *from;
	char *to;
	char *cc;
	char *date;
	char *message_id;     /* without the angle brackets */
	/* every header of the message in order (the trace block's too) */
	struct cli_header *headers;
	size_t nheaders;
};

/* One leaf MIME part, numbered from 1 in depth-first order. */
struct cli_part {
	int index;
	char *content_type;   /* "text/plain", lower case */
	char *charset;        /* NULL if none */
	char *filename;       /* NULL if none */
	char *disposition;    /* "inline", "attachment", or NULL */
	char *encoding;       /* Content-Transfer-Encoding, NULL if none */
	long long size;       /* octets after transfer decoding */
};

struct cli_body {
	char *text;           /* the first text/plain part (else text/html) in UTF-8, or NULL */
	char *text_type;      /* the content type text came from, or NULL */
	struct cli_part *parts;
	size_t nparts;
};

/* Call once before any other function (g_mime_init). */
void cli_msg_init(void);

/*
 * Load the envelope and headers of the message file at path; id is its
 * maildir name. 0, or -1 with err.
 */
int cli_msg_load(const char *path, const char *id, struct cli_msg *m, char *err, size_t errlen);
void cli_msg_free(struct cli_msg *m);

/* The value of header name (case-insensitive), decoded; NULL if absent. */
const char *cli_msg_header(const struct cli_msg *m, const char *name);

/* Decode the body of the message at path. 0, or -1 with err. */
int cli_msg_body(const char *path, struct cli_body *b, char *err, size_t errlen);
void cli_msg_body_free(struct cli_body *b);

/*
 * Part n (1-based, as in cli_body.parts) of the message at path, transfer
 * decoded (and, for text parts, converted to UTF-8 but not otherwise
 * repaired; line endings as sent), into *out (malloc'd, *outlen octets;
 * may contain NULs). 0, or -1 with err ("no part N").
 */
int cli_msg_part(const char *path, int n, char **out, size_t *outlen, char *err, size_t errlen);

/*
 * JSON text (one line, UTF-8, valid whatever the message holds) for a
 * message: list form with body == NULL; show form with the body, every
 * header and the parts. Built with json-c. The caller frees the string.
 */
char *cli_msg_json(const struct cli_msg *m, const struct cli_body *body);

/* A JSON array of the list forms of msgs[0..n-1]; the caller frees it. */
char *cli_msg_json_list(struct cli_msg *const *msgs, size_t n);

#endif
