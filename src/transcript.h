/* transcript - per-session transcripts (placeholder). */
#ifndef SMTPTRAP_TRANSCRIPT_H
#define SMTPTRAP_TRANSCRIPT_H

#include <stddef.h>

/*
 * Create DIR (with parents, mode 0750) if needed and open it; the master
 * calls this before it drops privileges. Returns a directory fd, or -1
 * with err set.
 */
int transcript_dir_open(const char *dir, char *err, size_t errlen);

#endif
