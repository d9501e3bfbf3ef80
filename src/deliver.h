/*
 * deliver - the delivery backend interface: open / write / commit / abort.
 *
 * The session opens a delivery when a message starts, writes the trace
 * headers and the content to it, and commits it only when the whole message
 * was received and accepted; the 250 reply is sent after commit returns 0.
 * Anything else ends in abort, which leaves nothing behind. Backends are
 * chosen by name (deliver_ops_find) and live one per file: maildir
 * (deliver_maildir.c) and blackhole (deliver_blackhole.c).
 *
 * DIAGNOSTICS: open and commit say how they failed (enum deliver_status):
 * DELIVER_NOSPACE when storage is exhausted (no space, a quota, the file
 * size limit), which the session answers with 452 4.3.1, else
 * DELIVER_FAILED (451 4.3.0); err holds the system's reason either way.
 */
#ifndef SMTPTRAP_DELIVER_H
#define SMTPTRAP_DELIVER_H

#include <stddef.h>
#include <sys/types.h>

struct config;

struct envelope {
	const char *session_id;
	unsigned msgnum;              /* 1 for the session's first message */
	const char *sender;           /* "" for the null sender */
	const char *const *rcpts;
	size_t nrcpts;
};

#define DELIVER_ID_MAX 256
#define DELIVER_ERR_MAX 256

/* The outcome of open and commit; the failures are negative. */
enum deliver_status {
	DELIVER_OK = 0,
	DELIVER_FAILED = -1,          /* anything but exhausted storage */
	DELIVER_NOSPACE = -2,         /* ENOSPC, EDQUOT or EFBIG */
};

/* The status for a failed system call's errno. Pure. */
enum deliver_status deliver_status_of(int errnum);
/* "ok", "error" or "nospace", for the log. */
const char *deliver_status_name(enum deliver_status st);

/* What a sweep of tmp/ found (deliver_ops.recover). */
struct deliver_leftovers {
	unsigned removed;             /* files of dead writers, now gone */
	unsigned kept;                /* files whose writer may still be running */
	unsigned failed;              /* files or directories that could not be handled */
};

struct deliver_ops {
	const char *name;
	/*
	 * Create directories etc. in the master, before workers exist and
	 * before privileges are dropped; what it creates is handed to
	 * owner/group unless they are -1. *dirfd gets the capture directory,
	 * opened (workers write through it, whatever the permissions of the
	 * directories above it), or -1 when the backend stores nothing.
	 */
	int (*prepare)(const struct config *cfg, uid_t owner, gid_t group, int *dirfd,
	    char *err, size_t errlen);
	/* After the privilege drop: can this process deliver through dirfd? */
	int (*check)(const struct config *cfg, int dirfd, char *err, size_t errlen);
	/* Per-process state; NULL on failure with err set. dirfd stays the caller's. */
	void *(*init)(const struct config *cfg, int dirfd, char *err, size_t errlen);
	enum deliver_status (*open)(void *be, const struct envelope *env, char *err,
	    size_t errlen);
	/* Errors are remembered and reported by commit. */
	void (*write)(void *be, const void *data, size_t len);
	/*
	 * Make the message durable; id names it (e.g. the maildir file name).
	 * On failure nothing of the message is left behind.
	 */
	enum deliver_status (*commit)(void *be, char *id, size_t idlen, char *err,
	    size_t errlen);
	void (*abort)(void *be);
	void (*fini)(void *be);
	/*
	 * In the master: remove what writers that are gone left half-written
	 * (a worker killed mid-message). pid 0 sweeps for every dead writer
	 * (at start and reload); else only the files of process pid, a worker
	 * that just died. Counts go to *out; -1 with the first problem in err
	 * when something could not be read or removed (the rest is still
	 * done). NULL for a backend that stores nothing.
	 */
	int (*recover)(const struct config *cfg, int dirfd, pid_t pid,
	    struct deliver_leftovers *out, char *err, size_t errlen);
};

extern const struct deliver_ops deliver_maildir_ops;
extern const struct deliver_ops deliver_blackhole_ops;

/* The backend for the configured kind. */
const struct deliver_ops *deliver_ops_for(const struct config *cfg);

/* A delivery context: the backend and its per-process state. */
struct deliver {
	const struct deliver_ops *ops;
	void *be;
	int open;
};

int deliver_init(struct deliver *d, const struct config *cfg, int dirfd, char *err, size_t errlen);
enum deliver_status deliver_open(struct deliver *d, const struct envelope *env, char *err,
    size_t errlen);
void deliver_write(struct deliver *d, const void *data, size_t len);
enum deliver_status deliver_commit(struct deliver *d, char *id, size_t idlen, char *err,
    size_t errlen);
void deliver_abort(struct deliver *d);
void deliver_fini(struct deliver *d);

/*
 * In the master, with the capture directory dirfd of cfg: remove what dead
 * workers left in tmp/ and log it (deliver_ops.recover). pid 0 at start
 * (and reload): every leftover whose writer is gone, logged in one line;
 * announce makes that line appear even when nothing was found. pid > 0
 * right after worker pid died abnormally (killed by a signal, or a
 * failure exit): its files only, logged when there were any.
 */
void deliver_recover(const struct config *cfg, int dirfd, pid_t pid, int announce);

/*
 * Maildir file name per the maildir spec: "SEC.MUSECPpidQseqRrand.host",
 * with "/" and ":" in host written as \057 and \072. Pure; returns the
 * length or -1 when it does not fit.
 */
int maildir_name(char *out, size_t outlen, long long sec, long usec, long pid,
    unsigned long seq, unsigned rnd, const char *host);

/*
 * host as maildir_name writes it: "/" and ":" escaped, cut to fit
 * MAILDIR_HOST_MAX octets with the NUL. Pure; returns the length.
 */
#define MAILDIR_HOST_MAX 128
size_t maildir_host_part(char out[MAILDIR_HOST_MAX], const char *host);

/*
 * Directory name for a recipient in the per-recipient layout: lower case,
 * "/" replaced by "_", a leading "." replaced by "_". Pure; -1 if too long.
 */
int maildir_rcpt_dir(char *out, size_t outlen, const char *rcpt);

#endif
