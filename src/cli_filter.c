/*
 * cli_filter - which captured messages a smtptrap command is about; see
 * cli_filter.h.
 *
 * Pure: nothing here reads files or clocks. Substring patterns are
 * lower-cased once when added and compared byte by byte with tolower(),
 * so non-ASCII UTF-8 octets compare as they are. Regular expressions are
 * compiled once, REG_EXTENDED | REG_ICASE | REG_NOSUB.
 *
 * DIAGNOSTICS: cli_filter_add() and cli_filter_since() return -1 with a
 * message in err and leave the filter as it was.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_filter.h"
#include "xmalloc.h"

void
cli_filter_init(struct cli_filter *f)
{
	memset(f, 0, sizeof(*f));
}

void
cli_filter_free(struct cli_filter *f)
{
	for (size_t i = 0; i < f->npats; i++) {
		struct cli_pattern *p = &f->pats[i];

		free(p->header);
		free(p->text);
		if (p->is_re)
			regfree(&p->re);
	}
	free(f->pats);
	cli_filter_init(f);
}

static char *
lower_dup(const char *s)
{
	char *d = xstrdup(s);

	for (char *p = d; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

/*
 * Compile pattern (as the user wrote it) into p. A pattern of at least
 * two characters that starts and ends with '/' is a regular expression;
 * anything else is a substring.
 */
static int
pattern_compile(struct cli_pattern *p, const char *pattern, char *err, size_t errlen)
{
	size_t len = strlen(pattern);

	if (len >= 2 && pattern[0] == '/' && pattern[len - 1] == '/') {
		char *expr = xstrndup(pattern + 1, len - 2);
		int rc = regcomp(&p->re, expr, REG_EXTENDED | REG_ICASE | REG_NOSUB);

		free(expr);
		if (rc != 0) {
			char why[256];

			regerror(rc, &p->re, why, sizeof(why));
			snprintf(err, errlen, "bad regular expression '%s': %s", pattern, why);
			return -1;
		}
		p->is_re = 1;
		p->text = NULL;
		return 0;
	}
	p->is_re = 0;
	p->text = lower_dup(pattern);
	return 0;
}

int
cli_filter_add(struct cli_filter *f, enum cli_field field, const char *value, char *err,
    size_t errlen)
{
	struct cli_pattern p;
	const char *pattern = value;

	memset(&p, 0, sizeof(p));
	p.field = field;
	if (field == CF_HEADER) {
		const char *eq = strchr(value, '=');

		if (eq == NULL || eq == value) {
			snprintf(err, errlen, "--header needs NAME=VALUE");
			return -1;
		}
		pattern = eq + 1;
	}
	if (pattern_compile(&p, pattern, err, errlen) != 0)
		return -1;
	if (field == CF_HEADER)
		p.header = xstrndup(value, (size_t)(strchr(value, '=') - value));
	f->pats = xrealloc(f->pats, (f->npats + 1) * sizeof(*f->pats));
	f->pats[f->npats++] = p;
	return 0;
}

/*
 * --since
 */

/* Exactly n decimal digits at s, into *out. */
static int
fixed_digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* One or more digits making up all of s[0..len), into *out; no overflow. */
static int
all_digits(const char *s, size_t len, long long *out)
{
	long long v = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		if (v > (LLONG_MAX - (s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/*
 * "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SS[Z]" or "YYYY-MM-DD HH:MM:SS[Z]", UTC.
 * Impossible dates ("2026-02-30") are refused: timegm() would normalise
 * them, so the result is converted back and compared.
 */
static int
parse_iso(const char *s, time_t *out)
{
	struct tm tm, back;
	int y, mo, d, h = 0, mi = 0, sec = 0;

	if (strlen(s) < 10 || fixed_digits(s, 4, &y) != 0 || s[4] != '-' ||
	    fixed_digits(s + 5, 2, &mo) != 0 || s[7] != '-' || fixed_digits(s + 8, 2, &d) != 0)
		return -1;
	s += 10;
	if (*s == 'T' || *s == ' ') {
		if (strlen(s) < 9 || fixed_digits(s + 1, 2, &h) != 0 || s[3] != ':' ||
		    fixed_digits(s + 4, 2, &mi) != 0 || s[6] != ':' ||
		    fixed_digits(s + 7, 2, &sec) != 0)
			return -1;
		s += 9;
		if (*s == 'Z')
			s++;
	}
	if (*s != '\0')
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	if (gmtime_r(&t, &back) == NULL || back.tm_year != y - 1900 || back.tm_mon != mo - 1 ||
	    back.tm_mday != d)
		return -1;
	*out = t;
	return 0;
}

/* "90s", "5m", "2h", "1d", "1w": that long before now. */
static int
parse_duration(const char *s, time_t now, time_t *out)
{
	static const struct {
		char unit;
		long long secs;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 604800 } };
	size_t len = strlen(s);
	long long n;

	if (len < 2 || all_digits(s, len - 1, &n) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (s[len - 1] != units[i].unit)
			continue;
		if (n > LLONG_MAX / units[i].secs)
			return -1;
		*out = now - (time_t)(n * units[i].secs);
		return 0;
	}
	return -1;
}

int
cli_filter_since(struct cli_filter *f, const char *value, time_t now, char *err,
    size_t errlen)
{
	long long secs;
	time_t t;

	if (all_digits(value, strlen(value), &secs) == 0)
		t = (time_t)secs;
	else if (parse_iso(value, &t) != 0 && parse_duration(value, now, &t) != 0) {
		snprintf(err, errlen, "--since: '%s' is not a time (epoch seconds, 2026-11-21T10:00:00Z, or 90s/5m/2h/1d back from now)", value);
		return -1;
	}
	f->has_since = 1;
	f->since = t;
	return 0;
}

/*
 * Matching
 */

/* Does hay contain needle (already lower-case), ignoring ASCII case? */
static int
contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (;; hay++) {
		size_t i = 0;

		while (i < n && tolower((unsigned char)hay[i]) == (unsigned char)needle[i])
			i++;
		if (i == n)
			return 1;
		if (*hay == '\0')
			return 0;
	}
}

static int
pattern_test(const struct cli_pattern *p, const char *s)
{
	if (s == NULL)
		return 0;
	if (p->is_re)
		return regexec(&p->re, s, 0, NULL, 0) == 0;
	return contains_ci(s, p->text);
}

static int
pattern_match(const struct cli_pattern *p, const struct cli_msg *m)
{
	switch (p->field) {
	case CF_TO:
		for (size_t i = 0; i < m->nrcpts; i++)
			if (pattern_test(p, m->rcpts[i].address))
				return 1;
		return pattern_test(p, m->to) || pattern_test(p, m->cc);
	case CF_FROM:
		return pattern_test(p, m->sender) || pattern_test(p, m->from);
	case CF_SUBJECT:
		return pattern_test(p, m->subject);
	case CF_HEADER:
		return pattern_test(p, cli_msg_header(m, p->header));
	}
	return 0;
}

int
cli_filter_match(const struct cli_filter *f, const struct cli_msg *m)
{
	if (f->has_since && m->received < f->since)
		return 0;
	for (size_t i = 0; i < f->npats; i++)
		if (!pattern_match(&f->pats[i], m))
			return 0;
	return 1;
}
