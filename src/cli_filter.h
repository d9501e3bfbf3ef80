/*
 * cli_filter - which captured messages a smtptrap command is about:
 * --to, --from, --subject, --header NAME=VALUE, --since. Pure.
 *
 * A pattern is a case-insensitive substring, or, written between
 * slashes ("/^reset/"), a case-insensitive POSIX extended regular
 * expression ("//" matches anything; a lone "/" is a substring).
 *
 *   --to P       an envelope recipient, or the To: or Cc: header, matches
 *   --from P     the envelope sender, or the From: header, matches
 *   --subject P  the decoded Subject: matches (no Subject: never matches)
 *   --header N=P header N (case-insensitive name) is present and matches;
 *                may be given several times, all must hold
 *   --since T    received at or after T: seconds since the epoch, an
 *                ISO 8601 UTC time "2026-11-21T10:00:00Z" (or without Z,
 *                or a date alone), or a duration back from now: "90s",
 *                "5m", "2h", "1d"
 *
 * All given filters must hold.
 *
 * DIAGNOSTICS: cli_filter_add() returns -1 with a message in err for a
 * bad regular expression, a --header without "=", or a --since that is
 * none of the forms above.
 */
#ifndef SMTPTRAP_CLI_FILTER_H
#define SMTPTRAP_CLI_FILTER_H

#include <regex.h>
#include <stddef.h>
#include <time.h>

#include "cli_msg.h"

enum cli_field { CF_TO, CF_FROM, CF_SUBJECT, CF_HEADER };

struct cli_pattern {
	enum cli_field field;
	char *header;          /* CF_HEADER: the header's name */
	char *text;            /* substring, lower-cased; NULL for a regex */
	regex_t re;
	int is_re;
};

struct cli_filter {
	struct cli_pattern *pats;
	size_t npats;
	int has_since;
	time_t since;
};

void cli_filter_init(struct cli_filter *f);
void cli_filter_free(struct cli_filter *f);

/*
 * Add one option's value: field CF_TO/CF_FROM/CF_SUBJECT with the
 * pattern, CF_HEADER with "NAME=PATTERN". 0, or -1 with err.
 */
int cli_filter_add(struct cli_filter *f, enum cli_field field, const char *value, char *err,
    size_t errlen);

/* --since; now is the current time for durations. 0, or -1 with err. */
int cli_filter_since(struct cli_filter *f, const char *value, time_t now, char *err,
    size_t errlen);

/* Does the message match every filter? */
int cli_filter_match(const struct cli_filter *f, const struct cli_msg *m);

#endif
