/*
 * maildir_sweep - remove what dead writers left in a maildir's tmp/.
 *
 * A worker killed mid-message (SIGKILL, a crash) leaves its half-written
 * file in tmp/, and nothing else ever removes it. The master sweeps at
 * start and reload (every leftover whose writer is gone) and right after
 * a worker died abnormally (that worker's files); see deliver_recover().
 *
 * The rule, for each entry of a tmp/ directory. Entries are never
 * followed: only regular files are touched; symbolic links, directories
 * and anything else stay where they are.
 *  - A name maildir_name() wrote on this host (its host part is ours)
 *    carries the writer's pid: the file goes when that process no longer
 *    exists. A live pid keeps it: a worker still running at a reload,
 *    another smtptrapd on this host sharing the directory, or an
 *    unrelated process that reused the pid (then the file goes at a later
 *    start, or after 36 hours).
 *  - Any other name (a daemon on another host sharing the directory over
 *    NFS, another program delivering into it, a differently configured
 *    server.hostname) says nothing this host can check about its writer:
 *    the file goes only when it was not modified for 36 hours, the
 *    maildir convention for tmp/.
 *  - Our own files go after 36 hours too, whatever their pid: no session
 *    lasts that long, so a live pid by then is a reused one.
 * After a worker died, only its own files (our host part, its pid) go.
 *
 * DIAGNOSTICS: the sweep goes on past a file or directory it cannot
 * handle; it counts them and keeps the first reason for the caller.
 */
#ifndef SMTPTRAP_MAILDIR_SWEEP_H
#define SMTPTRAP_MAILDIR_SWEEP_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "deliver.h"

/* A file in tmp/ untouched this long is stale whoever wrote it. */
#define MAILDIR_STALE_SECONDS (36 * 60 * 60)

/*
 * 1 when name is a maildir_name() name whose host part is host_part (as
 * maildir_host_part() writes it), with the writer's pid in *pid; else 0.
 * Pure.
 */
int maildir_name_writer(const char *name, const char *host_part, long *pid);

/*
 * Should the regular file name, last modified age seconds ago, go? pid 0
 * applies the rule above, with alive() telling whether a process exists;
 * pid > 0 asks only "is it a file of that dead worker?". Pure but for
 * alive().
 */
int maildir_leftover(const char *name, long long age, const char *host_part, pid_t pid,
    int (*alive)(long pid));

/* Does process pid exist? kill(pid, 0); one of another user counts. */
int maildir_pid_alive(long pid);

/*
 * Sweep one open tmp/ directory by maildir_leftover(), the time being now;
 * add to *out. tmpfd stays the caller's. 0, or -1 with the first problem
 * in err (everything else is still done). what names the directory in err.
 */
int maildir_sweep_dir(int tmpfd, const char *what, const char *host_part, pid_t pid, time_t now,
    int (*alive)(long pid), struct deliver_leftovers *out, char *err, size_t errlen);

/*
 * Sweep the tmp/ directories under the capture directory root (rootpath
 * for messages): tmp/ for the single layout, every SUB/tmp one level down
 * for the per-recipient layout. host is the configured host name. 0, or
 * -1 with the first problem in err.
 */
int maildir_sweep(int root, const char *rootpath, int layout, const char *host, pid_t pid,
    struct deliver_leftovers *out, char *err, size_t errlen);

#endif
