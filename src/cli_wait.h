/*
 * cli_wait - block until enough matching messages are in a capture
 * directory, for "smtptrap wait". Watches every new/ directory with
 * inotify (and the capture directory itself, for recipient maildirs made
 * later), so it reacts to a delivery within milliseconds and never polls.
 *
 * A message counts when its file appears in a new/ directory (smtptrapd
 * renames or links it there complete: tmp/ is never looked at) and it
 * matches the filter. Messages already there at the start (in new/ or
 * cur/) count only with `existing`. The watches are set up before the
 * directories are listed, so a file that inotify reports is never taken
 * for an old one, even if the listing saw it too. Each message counts once, however many recipient
 * maildirs it is linked into.
 *
 * DIAGNOSTICS: -1 with err when inotify cannot be set up or the capture
 * directory is missing.
 */
#ifndef SMTPTRAP_CLI_WAIT_H
#define SMTPTRAP_CLI_WAIT_H

#include <stddef.h>

#include "cli_filter.h"

struct cli_wait_opts {
	const char *dir;
	const struct cli_filter *filter;
	size_t count;          /* how many messages to wait for, >= 1 */
	int timeout_ms;        /* -1 = forever */
	int existing;          /* count messages already there */
};

/*
 * Wait. On success (enough messages) returns 0 and puts the ids of the
 * first `count` matching messages, in the order they counted, in *ids
 * (malloc'd array of malloc'd strings, *nids = count). On timeout returns
 * 1 (and *ids holds those found so far). -1 on error with err (*ids
 * NULL). count 0 returns 0 at once.
 */
int cli_wait(const struct cli_wait_opts *o, char ***ids, size_t *nids, char *err, size_t errlen);

#endif
