/*
 * parser - pure parsing of SMTP command lines (RFC 5321, 6531, 1870, 6152,
 * 3030, 3461).
 *
 * Nothing here does I/O or keeps state between calls. The session feeds one
 * command line (without its line ending) at a time and turns each result
 * code into an SMTP reply. Path commands are parsed into a caller-owned
 * struct that holds a private copy of the arguments, so no allocation
 * happens on the per-command path.
 */
#ifndef SMTPTRAP_PARSER_H
#define SMTPTRAP_PARSER_H

#include <stddef.h>

/* RFC 5321 4.5.3.1 limits, in octets. */
#define SMTP_CMD_LINE_MAX 512   /* command line including CRLF */
#define SMTP_TEXT_LINE_MAX 1000 /* text line including CRLF */
#define SMTP_LOCAL_PART_MAX 64
#define SMTP_DOMAIN_MAX 255
#define SMTP_PATH_MAX 256       /* including the angle brackets */
#define SMTP_PARAMS_MAX 16

enum smtp_verb {
	VERB_UNKNOWN = 0,
	VERB_HELO,
	VERB_EHLO,
	VERB_MAIL,
	VERB_RCPT,
	VERB_DATA,
	VERB_BDAT,
	VERB_RSET,
	VERB_NOOP,
	VERB_QUIT,
	VERB_VRFY,
	VERB_EXPN,
	VERB_HELP,
	VERB_STARTTLS,
	VERB_AUTH,
	VERB_ETRN,
	VERB_TURN,
	VERB_XCLIENT,
	VERB_COUNT
};

enum parse_result {
	PARSE_OK = 0,
	PARSE_SYNTAX,        /* the command's own syntax is wrong (501 5.5.4) */
	PARSE_BAD_ADDRESS,   /* the mailbox is not an RFC 5321 mailbox */
	PARSE_TOO_LONG,      /* a path, local part or domain is over its limit */
	PARSE_NUL,           /* the line contains a NUL octet */
	PARSE_BAD_PARAM,     /* an ESMTP parameter is malformed or repeated */
	PARSE_UNKNOWN_PARAM, /* an ESMTP parameter is not supported (555) */
};

struct smtp_command {
	enum smtp_verb verb;
	const char *verb_text; /* the verb as sent, not NUL-terminated */
	size_t verb_len;
	const char *args;      /* after the verb and its space; "" if none */
	size_t args_len;
};

struct smtp_param {
	const char *keyword;   /* NUL-terminated, as sent */
	const char *value;     /* NULL when the parameter has no "=value" */
};

/* MAIL FROM / RCPT TO arguments, parsed into a private copy. */
struct smtp_path_cmd {
	char copy[SMTP_CMD_LINE_MAX + 1];
	const char *mailbox;   /* without brackets and source route; "" for <> */
	size_t mailbox_len;
	int has_route;         /* an RFC 5321 A-d-l source route was given */
	int has_utf8;          /* the mailbox contains non-ASCII UTF-8 */
	size_t nparams;
	struct smtp_param params[SMTP_PARAMS_MAX];
};

/*
 * Recognise the verb of a command line. Returns PARSE_NUL if the line holds
 * a NUL octet, PARSE_SYNTAX if the line is empty, else PARSE_OK with
 * cmd->verb possibly VERB_UNKNOWN. Verbs are case-insensitive and must be
 * followed by a single space or the end of the line.
 */
enum parse_result parser_command(const char *line, size_t len, struct smtp_command *cmd);
const char *parser_verb_name(enum smtp_verb verb);

/*
 * Parse "FROM:<path> [params]" (prefix "FROM:") or "TO:<path> [params]"
 * (prefix "TO:"). One space after the colon is tolerated. allow_null
 * accepts "<>" (the null reverse-path); allow_postmaster accepts the bare
 * "<postmaster>" of RFC 5321 4.1.1.3. Parameters are split into
 * keyword/value pairs, checked for syntax and duplicates, not for meaning.
 */
enum parse_result parser_path(const char *args, size_t len, const char *prefix,
    int allow_null, int allow_postmaster, struct smtp_path_cmd *out);

/*
 * Check one mailbox (local-part "@" domain-or-literal). Sets *has_utf8 when
 * non-ASCII UTF-8 appears (valid only with SMTPUTF8).
 */
enum parse_result parser_mailbox(const char *s, size_t len, int *has_utf8);

/* Check a domain name (RFC 5321 Domain, U-labels allowed when utf8). */
int parser_is_domain(const char *s, size_t len, int utf8);
/* Check an address literal including its brackets, e.g. "[IPv6:::1]". */
int parser_is_address_literal(const char *s, size_t len);
/* Check RFC 3461 xtext. */
int parser_is_xtext(const char *s);
/* Check that s is well-formed UTF-8; sets *non_ascii when any octet > 127. */
int parser_is_utf8(const char *s, size_t len, int *non_ascii);

/*
 * Check a HELO/EHLO argument: exactly one token of printable characters
 * (a domain or an address literal in a well-behaved client).
 */
enum parse_result parser_helo(const char *args, size_t len);

/*
 * Parse "SIZE [LAST]" of BDAT. *size gets the chunk size, *last 1 when the
 * LAST keyword is present.
 */
enum parse_result parser_bdat(const char *args, size_t len, unsigned long long *size, int *last);

/* Find a parameter by keyword (case-insensitive); NULL when absent. */
const struct smtp_param *parser_param_find(const struct smtp_path_cmd *pc, const char *keyword);

#endif
