/*
 * fsutil - small file system helpers.
 *
 * DIAGNOSTICS: -1 with errno set (ENAMETOOLONG, ENOTDIR, or what mkdir()
 * or stat() said).
 */
#ifndef SMTPTRAP_FSUTIL_H
#define SMTPTRAP_FSUTIL_H

#include <sys/types.h>

/*
 * Create path and any missing parents (like mkdir -p), new directories
 * with mode (less the umask). 0 when path is a directory afterwards.
 */
int fs_mkdir_p(const char *path, mode_t mode);

#endif
