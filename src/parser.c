/*
 * parser - pure parsing of SMTP command lines; see parser.h.
 *
 * The grammar follows RFC 5321 section 4.1.2, extended by RFC 6531 (UTF-8
 * in atoms and domains when SMTPUTF8 is in use). Every function here is
 * pure: input bytes in, a result code and pointers into caller memory out.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "parser.h"

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
	{ "HELO", VERB_HELO },
	{ "EHLO", VERB_EHLO },
	{ "MAIL", VERB_MAIL },
	{ "RCPT", VERB_RCPT },
	{ "DATA", VERB_DATA },
	{ "BDAT", VERB_BDAT },
	{ "RSET", VERB_RSET },
	{ "NOOP", VERB_NOOP },
	{ "QUIT", VERB_QUIT },
	{ "VRFY", VERB_VRFY },
	{ "EXPN", VERB_EXPN },
	{ "HELP", VERB_HELP },
	{ "STARTTLS", VERB_STARTTLS },
	{ "AUTH", VERB_AUTH },
	{ "ETRN", VERB_ETRN },
	{ "TURN", VERB_TURN },
	{ "XCLIENT", VERB_XCLIENT },
};

const char *
parser_verb_name(enum smtp_verb verb)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (verbs[i].verb == verb)
			return verbs[i].name;
	return "UNKNOWN";
}

enum parse_result
parser_command(const char *line, size_t len, struct smtp_command *cmd)
{
	size_t vlen = 0;

	cmd->verb = VERB_UNKNOWN;
	cmd->verb_text = line;
	cmd->args = "";
	cmd->args_len = 0;

	if (memchr(line, '\0', len) != NULL)
		return PARSE_NUL;
	while (vlen < len && line[vlen] != ' ')
		vlen++;
	cmd->verb_len = vlen;
	if (vlen == 0)
		return PARSE_SYNTAX;
	if (vlen < len) {
		cmd->args = line + vlen + 1;
		cmd->args_len = len - vlen - 1;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strlen(verbs[i].name) == vlen &&
		    strncasecmp(verbs[i].name, line, vlen) == 0) {
			cmd->verb = verbs[i].verb;
			break;
		}
	}
	return PARSE_OK;
}

/* RFC 5322 atext, as used by RFC 5321 Atom. */
static int
is_atext(unsigned char c)
{
	if (isalnum(c))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/*
 * Length of the UTF-8 sequence starting at s (at most len octets), or 0 if
 * it is not a well-formed sequence (overlongs, surrogates and values over
 * U+10FFFF are rejected, per RFC 3629).
 */
static size_t
utf8_seq(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	unsigned int cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	if (cp >= 0xd800 && cp <= 0xdfff)
		return 0;
	return n;
}

int
parser_is_utf8(const char *s, size_t len, int *non_ascii)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	if (non_ascii != NULL)
		*non_ascii = 0;
	while (i < len) {
		size_t n = utf8_seq(p + i, len - i);
		if (n == 0)
			return 0;
		if (n > 1 && non_ascii != NULL)
			*non_ascii = 1;
		i += n;
	}
	return 1;
}

/*
 * A Dot-string local part: atoms of atext (or UTF-8 when allowed) separated
 * by single dots, no leading or trailing dot.
 */
static int
is_dot_string(const unsigned char *s, size_t len, int *has_utf8)
{
	size_t i = 0;
	int need_atom = 1;

	if (len == 0)
		return 0;
	while (i < len) {
		if (s[i] == '.') {
			if (need_atom)
				return 0;
			need_atom = 1;
			i++;
			continue;
		}
		if (s[i] >= 0x80) {
			size_t n = utf8_seq(s + i, len - i);
			if (n == 0)
				return 0;
			*has_utf8 = 1;
			i += n;
		} else if (is_atext(s[i])) {
			i++;
		} else {
			return 0;
		}
		need_atom = 0;
	}
	return !need_atom;
}

/* A Quoted-string local part, RFC 5321 qtextSMTP / quoted-pairSMTP. */
static int
is_quoted_string(const unsigned char *s, size_t len, int *has_utf8)
{
	size_t i = 1;

	if (len < 2 || s[0] != '"' || s[len - 1] != '"')
		return 0;
	while (i < len - 1) {
		unsigned char c = s[i];
		if (c == '\\') {
			if (i + 1 >= len - 1 || s[i + 1] < 32 || s[i + 1] > 126)
				return 0;
			i += 2;
		} else if (c >= 0x80) {
			size_t n = utf8_seq(s + i, len - 1 - i);
			if (n == 0)
				return 0;
			*has_utf8 = 1;
			i += n;
		} else if (c == 32 || c == 33 || (c >= 35 && c <= 91) ||
		    (c >= 93 && c <= 126)) {
			i++;
		} else {
			return 0;
		}
	}
	return 1;
}

int
parser_is_domain(const char *str, size_t len, int utf8)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t label = 0;
	size_t i = 0;

	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return 0;
	while (i < len) {
		unsigned char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			i++;
			continue;
		}
		if (c >= 0x80) {
			size_t n;
			if (!utf8)
				return 0;
			n = utf8_seq(s + i, len - i);
			if (n == 0)
				return 0;
			i += n;
		} else if (isalnum(c)) {
			i++;
		} else if (c == '-' && label > 0) {
			i++;
		} else {
			return 0;
		}
		label++;
		if (label > 63)
			return 0;
	}
	return label > 0 && s[len - 1] != '-';
}

int
parser_is_address_literal(const char *s, size_t len)
{
	char tmp[SMTP_DOMAIN_MAX + 1];
	unsigned char addr[16];
	const char *in;
	size_t inlen;

	if (len < 3 || len > SMTP_DOMAIN_MAX || s[0] != '[' || s[len - 1] != ']')
		return 0;
	/* inet_pton() below stops at a NUL, which must not hide the rest. */
	if (memchr(s, '\0', len) != NULL)
		return 0;
	in = s + 1;
	inlen = len - 2;
	if (inlen > 5 && strncasecmp(in, "IPv6:", 5) == 0) {
		memcpy(tmp, in + 5, inlen - 5);
		tmp[inlen - 5] = '\0';
		return inet_pton(AF_INET6, tmp, addr) == 1;
	}
	const char *colon = memchr(in, ':', inlen);
	if (colon != NULL) {
		/*
		 * General-address-literal: Standardized-tag ":" 1*dcontent,
		 * the tag an Ldh-str (ending in a letter or digit).
		 */
		size_t taglen = (size_t)(colon - in);
		if (taglen == 0 || colon + 1 == in + inlen || in[taglen - 1] == '-')
			return 0;
		for (size_t i = 0; i < taglen; i++)
			if (!isalnum((unsigned char)in[i]) && in[i] != '-')
				return 0;
		for (const char *p = colon + 1; p < in + inlen; p++) {
			unsigned char c = (unsigned char)*p;
			if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']')
				return 0;
		}
		return 1;
	}
	memcpy(tmp, in, inlen);
	tmp[inlen] = '\0';
	return inet_pton(AF_INET, tmp, addr) == 1;
}

enum parse_result
parser_mailbox(const char *str, size_t len, int *has_utf8)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t at;
	int utf8 = 0;

	*has_utf8 = 0;
	if (len == 0)
		return PARSE_BAD_ADDRESS;
	/* The domain starts after the last "@" outside a quoted local part. */
	if (s[0] == '"') {
		size_t i = 1;
		while (i < len && s[i] != '"') {
			if (s[i] == '\\')
				i++;
			i++;
		}
		if (i >= len)
			return PARSE_BAD_ADDRESS;
		at = i + 1;
		if (at >= len || s[at] != '@')
			return PARSE_BAD_ADDRESS;
	} else {
		const unsigned char *p = memchr(s, '@', len);
		if (p == NULL)
			return PARSE_BAD_ADDRESS;
		at = (size_t)(p - s);
	}
	if (at == 0 || at + 1 >= len)
		return PARSE_BAD_ADDRESS;
	if (at > SMTP_LOCAL_PART_MAX || len - at - 1 > SMTP_DOMAIN_MAX)
		return PARSE_TOO_LONG;
	if (s[0] == '"') {
		if (!is_quoted_string(s, at, &utf8))
			return PARSE_BAD_ADDRESS;
	} else if (!is_dot_string(s, at, &utf8)) {
		return PARSE_BAD_ADDRESS;
	}
	const char *dom = str + at + 1;
	size_t domlen = len - at - 1;
	if (dom[0] == '[') {
		if (!parser_is_address_literal(dom, domlen))
			return PARSE_BAD_ADDRESS;
	} else {
		int dutf8 = 0;
		if (!parser_is_domain(dom, domlen, 1))
			return PARSE_BAD_ADDRESS;
		parser_is_utf8(dom, domlen, &dutf8);
		utf8 |= dutf8;
	}
	*has_utf8 = utf8;
	return PARSE_OK;
}

/* Skip an A-d-l source route ("@a,@b:"); returns its length or 0. */
static size_t
skip_route(const char *s, size_t len, int *bad)
{
	size_t i = 0;

	*bad = 0;
	if (len == 0 || s[0] != '@')
		return 0;
	for (;;) {
		size_t start;
		if (i >= len || s[i] != '@') {
			*bad = 1;
			return 0;
		}
		start = ++i;
		while (i < len && s[i] != ',' && s[i] != ':')
			i++;
		if (i >= len || !parser_is_domain(s + start, i - start, 1)) {
			*bad = 1;
			return 0;
		}
		if (s[i] == ':')
			return i + 1;
		i++;
	}
}

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static int
is_keyword(const char *s)
{
	if (!isalnum((unsigned char)s[0]))
		return 0;
	for (const char *p = s + 1; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-')
			return 0;
	return 1;
}

/* esmtp-value = 1*(%d33-60 / %d62-126), UTF-8 allowed by RFC 6531. */
static int
is_esmtp_value(const char *s)
{
	if (*s == '\0')
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '=' || *p < 33 || *p == 127)
			return 0;
	}
	return parser_is_utf8(s, strlen(s), NULL);
}

int
parser_is_xtext(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '+') {
			if (!isxdigit(p[1]) || !isxdigit(p[2]))
				return 0;
			if (islower(p[1]) || islower(p[2]))
				return 0;
			p += 2;
		} else if (*p < 33 || *p > 126 || *p == '=') {
			return 0;
		}
	}
	return 1;
}

/*
 * Split what follows the closing ">" into parameters. The text must be empty
 * or start with a space; parameters are separated by spaces (runs of spaces
 * and trailing spaces are tolerated, as Postfix does).
 */
static enum parse_result
split_params(char *p, struct smtp_path_cmd *out)
{
	out->nparams = 0;
	if (*p != '\0' && *p != ' ')
		return PARSE_SYNTAX;
	for (;;) {
		char *kw, *eq;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			return PARSE_OK;
		kw = p;
		while (*p != '\0' && *p != ' ')
			p++;
		if (*p == ' ')
			*p++ = '\0';
		if (out->nparams == SMTP_PARAMS_MAX)
			return PARSE_BAD_PARAM;
		eq = strchr(kw, '=');
		if (eq != NULL)
			*eq = '\0';
		if (!is_keyword(kw))
			return PARSE_BAD_PARAM;
		if (eq != NULL && !is_esmtp_value(eq + 1))
			return PARSE_BAD_PARAM;
		for (size_t i = 0; i < out->nparams; i++)
			if (strcasecmp(out->params[i].keyword, kw) == 0)
				return PARSE_BAD_PARAM;
		out->params[out->nparams].keyword = kw;
		out->params[out->nparams].value = eq != NULL ? eq + 1 : NULL;
		out->nparams++;
	}
}

enum parse_result
parser_path(const char *args, size_t len, const char *prefix, int allow_null,
    int allow_postmaster, struct smtp_path_cmd *out)
{
	size_t plen = strlen(prefix);
	size_t i, close, route;
	int bad;

	out->mailbox = "";
	out->mailbox_len = 0;
	out->has_route = 0;
	out->has_utf8 = 0;
	out->nparams = 0;
	if (len > SMTP_CMD_LINE_MAX || memchr(args, '\0', len) != NULL)
		return PARSE_SYNTAX;
	if (len < plen || strncasecmp(args, prefix, plen) != 0)
		return PARSE_SYNTAX;
	memcpy(out->copy, args, len);
	out->copy[len] = '\0';

	i = plen;
	if (i < len && out->copy[i] == ' ')
		i++;
	if (i >= len || out->copy[i] != '<')
		return PARSE_SYNTAX;
	/* Find the closing bracket, skipping a quoted local part. */
	close = i + 1;
	while (close < len && out->copy[close] != '>') {
		if (out->copy[close] == '"') {
			close++;
			while (close < len && out->copy[close] != '"') {
				if (out->copy[close] == '\\')
					close++;
				close++;
			}
		}
		if (close < len)
			close++;
	}
	if (close >= len)
		return PARSE_SYNTAX;
	if (close - i + 1 > SMTP_PATH_MAX)
		return PARSE_TOO_LONG;

	char *inner = out->copy + i + 1;
	size_t inner_len = close - i - 1;
	route = skip_route(inner, inner_len, &bad);
	if (bad)
		return PARSE_BAD_ADDRESS;
	out->has_route = route > 0;
	inner += route;
	inner_len -= route;

	if (inner_len == 0) {
		if (!allow_null || out->has_route)
			return PARSE_BAD_ADDRESS;
	} else if (allow_postmaster && !out->has_route && inner_len == 10 &&
	    strncasecmp(inner, "postmaster", 10) == 0) {
		/* RFC 5321 4.1.1.3: "<Postmaster>" without a domain. */
	} else {
		enum parse_result r = parser_mailbox(inner, inner_len, &out->has_utf8);
		if (r != PARSE_OK)
			return r;
	}
	out->copy[close] = '\0';
	out->mailbox = inner;
	out->mailbox_len = inner_len;
	inner[inner_len] = '\0';
	return split_params(out->copy + close + 1, out);
}

const struct smtp_param *
parser_param_find(const struct smtp_path_cmd *pc, const char *keyword)
{
	for (size_t i = 0; i < pc->nparams; i++)
		if (strcasecmp(pc->params[i].keyword, keyword) == 0)
			return &pc->params[i];
	return NULL;
}

enum parse_result
parser_helo(const char *args, size_t len)
{
	if (len == 0)
		return PARSE_SYNTAX;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)args[i];
		if (c == '\0')
			return PARSE_NUL;
		if (c <= 32 || c == 127)
			return PARSE_SYNTAX;
	}
	if (!parser_is_utf8(args, len, NULL))
		return PARSE_SYNTAX;
	return PARSE_OK;
}

enum parse_result
parser_bdat(const char *args, size_t len, unsigned long long *size, int *last)
{
	size_t i = 0;
	unsigned long long n = 0;

	*size = 0;
	*last = 0;
	if (len == 0 || !isdigit((unsigned char)args[0]))
		return PARSE_SYNTAX;
	while (i < len && isdigit((unsigned char)args[i])) {
		unsigned d = (unsigned)(args[i] - '0');
		if (n > (~0ULL - d) / 10)
			return PARSE_SYNTAX;
		n = n * 10 + d;
		i++;
	}
	if (i < len) {
		if (args[i] != ' ' || len - i - 1 != 4 ||
		    strncasecmp(args + i + 1, "LAST", 4) != 0)
			return PARSE_SYNTAX;
		*last = 1;
	}
	*size = n;
	return PARSE_OK;
}
