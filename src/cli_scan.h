/*
 * cli_scan - the captured messages in a capture directory, for the
 * smtptrap command.
 *
 * The capture directory is a maildir (single layout: DIR/new, DIR/cur)
 * or, with smtptrapd's per-recipient layout, a directory of maildirs
 * (DIR/RECIPIENT/new ...), or both. Messages are the files in every new/
 * and cur/ (never tmp/, where files are still being written). A message
 * hard-linked into several recipients' maildirs has the same name in
 * each and is one message here, with all its paths.
 *
 * Sorted oldest first: by the seconds and microseconds in the maildir
 * name (smtptrapd's names start with "SECONDS.M<usec>P<pid>..."; leading
 * digits count as seconds when a "." or the end of the name follows),
 * then by name; names without such seconds first.
 *
 * DIAGNOSTICS: cli_scan() returns -1 with a reason in err when DIR does
 * not exist or cannot be read; unreadable subdirectories are skipped.
 */
#ifndef SMTPTRAP_CLI_SCAN_H
#define SMTPTRAP_CLI_SCAN_H

#include <stddef.h>

struct cli_entry {
	char *id;          /* the file name */
	char **paths;      /* every path with this name (one per recipient maildir) */
	size_t npaths;
	long long sec;     /* from the name, for sorting; -1 if the name has none */
	long usec;
};

struct cli_list {
	struct cli_entry *v;
	size_t n;
};

int cli_scan(const char *dir, struct cli_list *out, char *err, size_t errlen);
void cli_list_free(struct cli_list *l);

/*
 * Find the message whose name is id, or begins with id (a unique
 * prefix), or whose path is id. Returns its index; -1 if none, -2 if the
 * prefix is ambiguous.
 */
long cli_find(const struct cli_list *l, const char *id);

/* The new/ directories that exist now: DIR/new and each recipient
 * maildir's. 0, or -1 with errno. */
struct cli_dirs {
	char **news;
	size_t nnews;
};
int cli_new_dirs(const char *dir, struct cli_dirs *out);
void cli_dirs_free(struct cli_dirs *d);

#endif
