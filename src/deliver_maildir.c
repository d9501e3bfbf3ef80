/*
 * deliver_maildir - store each message as one file in a maildir.
 *
 * A message is written to tmp/ under a unique name, optionally fsynced,
 * then renamed (single layout) or hard-linked into every recipient's
 * maildir (per-recipient layout) under new/, and new/ is fsynced. A file
 * appears in new/ complete or not at all. A session that dies mid-message
 * leaves at most a file in tmp/, which readers of the maildir ignore.
 *
 * Names are unique across workers and restarts: seconds, microseconds, pid,
 * a per-process sequence number and a random tag.
 *
 * Failures (open, write, fsync, rename, link) are reported from commit with
 * the system's reason and classified by deliver_status_of(): exhausted
 * storage (ENOSPC, EDQUOT, EFBIG) becomes 452 4.3.1 in the session,
 * anything else 451 4.3.0. A failed write empties the file in tmp/ at once,
 * so a full disk gets its space back while the rest of the message is
 * still read; every failure removes the file before commit returns.
 *
 * What a killed worker leaves in tmp/ is removed by the master
 * (md_recover, maildir_sweep.c).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "deliver.h"
#include "fsutil.h"
#include "maildir_sweep.h"
#include "xmalloc.h"

#define MD_WBUF 65536

/* One sequence per process: a worker delivers for several sessions at once. */
static unsigned long maildir_seq;

struct maildir {
	const struct config *cfg;
	char host[128];
	pid_t pid;
	unsigned rnd_state;
	int newfd;                /* single layout: new/ for fsync */

	/* The message being written. */
	int root;                 /* the capture directory (not ours to close) */
	int fd;
	char name[DELIVER_ID_MAX];
	char tmppath[PATH_MAX];   /* relative to root */
	char **dirs;              /* per-recipient maildirs under root, unique */
	size_t ndirs;
	char *wbuf;
	size_t wlen;
	int werr;                 /* errno of the first failed write */
};

size_t
maildir_host_part(char out[MAILDIR_HOST_MAX], const char *host)
{
	size_t k = 0;

	for (const char *p = host; *p != '\0' && k + 5 < MAILDIR_HOST_MAX; p++) {
		if (*p == '/') {
			memcpy(out + k, "\\057", 4);
			k += 4;
		} else if (*p == ':') {
			memcpy(out + k, "\\072", 4);
			k += 4;
		} else {
			out[k++] = *p;
		}
	}
	out[k] = '\0';
	return k;
}

int
maildir_name(char *out, size_t outlen, long long sec, long usec, long pid,
    unsigned long seq, unsigned rnd, const char *host)
{
	char h[MAILDIR_HOST_MAX];

	maildir_host_part(h, host);
	int n = snprintf(out, outlen, "%lld.M%06ldP%ldQ%luR%08x.%s", sec, usec, pid,
	    seq, rnd, h);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return n;
}

int
maildir_rcpt_dir(char *out, size_t outlen, const char *rcpt)
{
	size_t n = strlen(rcpt);

	if (n == 0 || n >= outlen || n > NAME_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)rcpt[i];
		if (c == '/')
			c = '_';
		else if (c < 0x80)
			c = (unsigned char)tolower(c);
		out[i] = (char)c;
	}
	if (out[0] == '.')
		out[0] = '_';
	out[n] = '\0';
	return (int)n;
}


/*
 * Create rel (relative to the capture directory root, "." for the root
 * itself) with its tmp/, new/ and cur/; what is created goes to
 * owner/group when they are not -1 (the master, before it drops
 * privileges). -1 with err, and errno telling why.
 */
static int
maildir_make(int root, const char *rootpath, const char *rel, uid_t owner, gid_t group,
    char *err, size_t errlen)
{
	static const char *const subs[] = { "", "/tmp", "/new", "/cur" };
	char path[PATH_MAX];
	int e;

	for (size_t i = 0; i < 4; i++) {
		if (snprintf(path, sizeof(path), "%s%s", rel, subs[i]) >= (int)sizeof(path)) {
			snprintf(err, errlen, "maildir path too long: %s/%s", rootpath, rel);
			errno = ENAMETOOLONG;
			return -1;
		}
		if (i == 0 && strcmp(rel, ".") == 0)
			continue;
		if (mkdirat(root, path, 0777) == 0) {
			if (owner != (uid_t)-1 && fchownat(root, path, owner, group, AT_SYMLINK_NOFOLLOW) != 0) {
				e = errno;
				snprintf(err, errlen, "cannot hand %s/%s to its user: %s", rootpath, path,
				    strerror(e));
				errno = e;
				return -1;
			}
		} else if (errno != EEXIST) {
			e = errno;
			snprintf(err, errlen, "cannot create %s/%s: %s", rootpath, path, strerror(e));
			errno = e;
			return -1;
		}
	}
	return 0;
}

static int
md_prepare(const struct config *cfg, uid_t owner, gid_t group, int *dirfd, char *err,
    size_t errlen)
{
	struct stat st;
	int created = stat(cfg->maildir, &st) != 0;

	*dirfd = -1;
	if (fs_mkdir_p(cfg->maildir, 0777) != 0) {
		snprintf(err, errlen, "cannot create maildir %s: %s", cfg->maildir, strerror(errno));
		return -1;
	}
	int fd = open(cfg->maildir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open maildir %s: %s", cfg->maildir, strerror(errno));
		return -1;
	}
	/* tmp/, new/ and cur/ first: root may lack CAP_DAC_OVERRIDE (systemd). */
	if (cfg->layout == LAYOUT_SINGLE &&
	    maildir_make(fd, cfg->maildir, ".", owner, group, err, errlen) != 0) {
		close(fd);
		return -1;
	}
	if (created && owner != (uid_t)-1 && fchown(fd, owner, group) != 0) {
		snprintf(err, errlen, "cannot hand %s to its user: %s", cfg->maildir, strerror(errno));
		close(fd);
		return -1;
	}
	*dirfd = fd;
	return 0;
}

/* Can this process (after the privilege drop) write where mail goes? */
static int
md_check(const struct config *cfg, int dirfd, char *err, size_t errlen)
{
	const char *where = cfg->layout == LAYOUT_SINGLE ? "tmp" : ".";
	static const char *const need[] = { "tmp", "new" };

	for (size_t i = 0; i < 2; i++) {
		const char *d = cfg->layout == LAYOUT_SINGLE ? need[i] : where;
		if (faccessat(dirfd, d, W_OK | X_OK, AT_EACCESS) != 0) {
			snprintf(err, errlen, "cannot write to %s/%s as uid %ld: %s", cfg->maildir,
			    strcmp(d, ".") == 0 ? "" : d, (long)geteuid(), strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void *
md_init(const struct config *cfg, int dirfd, char *err, size_t errlen)
{
	struct maildir *md = xcalloc(1, sizeof(*md));

	md->cfg = cfg;
	md->root = dirfd;
	md->pid = getpid();
	md->fd = -1;
	md->newfd = -1;
	md->wbuf = xmalloc(MD_WBUF);
	snprintf(md->host, sizeof(md->host), "%s", cfg->hostname);
	if (getrandom(&md->rnd_state, sizeof(md->rnd_state), 0) != (ssize_t)sizeof(md->rnd_state))
		md->rnd_state = (unsigned)md->pid ^ (unsigned)time(NULL);
	if (dirfd < 0) {
		snprintf(err, errlen, "maildir %s is not open", cfg->maildir);
		goto fail;
	}
	if (cfg->layout == LAYOUT_SINGLE) {
		if (maildir_make(dirfd, cfg->maildir, ".", (uid_t)-1, (gid_t)-1, err, errlen) != 0)
			goto fail;
		md->newfd = openat(dirfd, "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (md->newfd < 0) {
			snprintf(err, errlen, "cannot open %s/new: %s", cfg->maildir, strerror(errno));
			goto fail;
		}
	}
	return md;
fail:
	free(md->wbuf);
	free(md);
	return NULL;
}

static unsigned
md_random(struct maildir *md)
{
	/* xorshift32: uniqueness comes from pid+seq; this only adds margin. */
	unsigned x = md->rnd_state ? md->rnd_state : 0x9e3779b9u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	md->rnd_state = x;
	return x;
}

static void
free_dirs(struct maildir *md)
{
	for (size_t i = 0; i < md->ndirs; i++)
		free(md->dirs[i]);
	free(md->dirs);
	md->dirs = NULL;
	md->ndirs = 0;
}

/* The recipients' maildirs, created as needed; a status. */
static enum deliver_status
collect_dirs(struct maildir *md, const struct envelope *env, char *err, size_t errlen)
{
	md->dirs = xcalloc(env->nrcpts, sizeof(char *));
	for (size_t i = 0; i < env->nrcpts; i++) {
		char sub[NAME_MAX + 1];
		int dup = 0;

		if (maildir_rcpt_dir(sub, sizeof(sub), env->rcpts[i]) < 0) {
			snprintf(err, errlen, "recipient too long for a directory name");
			return DELIVER_FAILED;
		}
		char *dir = xstrdup(sub);
		for (size_t k = 0; k < md->ndirs; k++)
			if (strcmp(md->dirs[k], dir) == 0)
				dup = 1;
		if (dup) {
			free(dir);
			continue;
		}
		md->dirs[md->ndirs++] = dir;
		if (maildir_make(md->root, md->cfg->maildir, dir, (uid_t)-1, (gid_t)-1, err, errlen) != 0)
			return deliver_status_of(errno);
	}
	return DELIVER_OK;
}

static enum deliver_status
md_open(void *be, const struct envelope *env, char *err, size_t errlen)
{
	struct maildir *md = be;
	struct timespec ts;
	const char *dir = "", *sep = ""; /* where tmp/ is: the root, or "DIR/" */
	enum deliver_status st;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (maildir_name(md->name, sizeof(md->name), (long long)ts.tv_sec, ts.tv_nsec / 1000,
	    (long)md->pid, ++maildir_seq, md_random(md), md->host) < 0) {
		snprintf(err, errlen, "maildir name too long");
		return DELIVER_FAILED;
	}
	if (md->cfg->layout == LAYOUT_PER_RECIPIENT) {
		if ((st = collect_dirs(md, env, err, errlen)) != DELIVER_OK) {
			free_dirs(md);
			return st;
		}
		dir = md->dirs[0];
		sep = "/";
	}
	n = snprintf(md->tmppath, sizeof(md->tmppath), "%s%stmp/%s", dir, sep, md->name);
	if (n < 0 || (size_t)n >= sizeof(md->tmppath)) {
		snprintf(err, errlen, "maildir path too long");
		free_dirs(md);
		return DELIVER_FAILED;
	}
	md->fd = openat(md->root, md->tmppath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (md->fd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot create %s/%s: %s", md->cfg->maildir, md->tmppath,
		    strerror(e));
		free_dirs(md);
		return deliver_status_of(e);
	}
	md->wlen = 0;
	md->werr = 0;
	return DELIVER_OK;
}

/*
 * The first failed write: remembered for commit, and the file is emptied
 * at once so that a full disk gets its space back while the rest of the
 * message is still being read.
 */
static void
write_failed(struct maildir *md, int errnum)
{
	md->werr = errnum;
	/* Should this fail too, commit still reports werr and removes the file. */
	if (ftruncate(md->fd, 0) != 0)
		return;
}

static void
flush_wbuf(struct maildir *md)
{
	size_t off = 0;

	while (md->werr == 0 && off < md->wlen) {
		ssize_t n = write(md->fd, md->wbuf + off, md->wlen - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			write_failed(md, n < 0 ? errno : EIO);
			break;
		}
		off += (size_t)n;
	}
	md->wlen = 0;
}

static void
md_write(void *be, const void *data, size_t len)
{
	struct maildir *md = be;

	if (md->werr != 0)
		return;
	if (md->wlen + len > MD_WBUF) {
		flush_wbuf(md);
		if (len >= MD_WBUF) {
			/* Large blocks go straight to the file. */
			const char *p = data;
			while (md->werr == 0 && len > 0) {
				ssize_t n = write(md->fd, p, len);
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0) {
					write_failed(md, n < 0 ? errno : EIO);
					break;
				}
				p += n;
				len -= (size_t)n;
			}
			return;
		}
	}
	memcpy(md->wbuf + md->wlen, data, len);
	md->wlen += len;
}

static void
md_abort(void *be)
{
	struct maildir *md = be;

	if (md->fd >= 0) {
		close(md->fd);
		md->fd = -1;
		unlinkat(md->root, md->tmppath, 0);
	}
	md->wlen = 0;
	free_dirs(md);
}

static int
sync_dir(int root, const char *dir)
{
	char path[PATH_MAX];
	int fd, rc;

	snprintf(path, sizeof(path), "%s/new", dir);
	fd = openat(root, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

static enum deliver_status
md_commit(void *be, char *id, size_t idlen, char *err, size_t errlen)
{
	struct maildir *md = be;
	char path[PATH_MAX];
	int fd = md->fd;
	int e;

	flush_wbuf(md);
	if (md->werr != 0) {
		e = md->werr;
		snprintf(err, errlen, "write to %s/%s failed: %s", md->cfg->maildir, md->tmppath,
		    strerror(e));
		md_abort(md);
		return deliver_status_of(e);
	}
	if (md->cfg->fsync && fsync(fd) != 0) {
		e = errno;
		snprintf(err, errlen, "fsync %s/%s failed: %s", md->cfg->maildir, md->tmppath,
		    strerror(e));
		md_abort(md);
		return deliver_status_of(e);
	}
	md->fd = -1;
	if (close(fd) != 0) {
		e = errno;
		snprintf(err, errlen, "close %s/%s failed: %s", md->cfg->maildir, md->tmppath,
		    strerror(e));
		unlinkat(md->root, md->tmppath, 0);
		free_dirs(md);
		return deliver_status_of(e);
	}

	if (md->cfg->layout == LAYOUT_SINGLE) {
		snprintf(path, sizeof(path), "new/%s", md->name);
		if (renameat(md->root, md->tmppath, md->root, path) != 0) {
			e = errno;
			snprintf(err, errlen, "rename to %s/%s failed: %s", md->cfg->maildir, path,
			    strerror(e));
			unlinkat(md->root, md->tmppath, 0);
			return deliver_status_of(e);
		}
		if (md->cfg->fsync && fsync(md->newfd) != 0) {
			e = errno;
			snprintf(err, errlen, "fsync of %s/new failed: %s", md->cfg->maildir, strerror(e));
			unlinkat(md->root, path, 0);
			return deliver_status_of(e);
		}
	} else {
		size_t linked;
		e = 0;
		for (linked = 0; linked < md->ndirs; linked++) {
			snprintf(path, sizeof(path), "%s/new/%s", md->dirs[linked], md->name);
			if (linkat(md->root, md->tmppath, md->root, path, 0) != 0) {
				e = errno;
				snprintf(err, errlen, "link to %s/%s failed: %s", md->cfg->maildir, path,
				    strerror(e));
				break;
			}
			if (md->cfg->fsync && sync_dir(md->root, md->dirs[linked]) != 0) {
				e = errno;
				snprintf(err, errlen, "fsync of %s/%s/new failed: %s", md->cfg->maildir,
				    md->dirs[linked], strerror(e));
				unlinkat(md->root, path, 0);
				break;
			}
		}
		if (linked < md->ndirs) {
			while (linked-- > 0) {
				snprintf(path, sizeof(path), "%s/new/%s", md->dirs[linked], md->name);
				unlinkat(md->root, path, 0);
			}
			unlinkat(md->root, md->tmppath, 0);
			free_dirs(md);
			return deliver_status_of(e);
		}
		unlinkat(md->root, md->tmppath, 0);
		free_dirs(md);
	}
	snprintf(id, idlen, "%s", md->name);
	return DELIVER_OK;
}

/* Sweep tmp/ for what dead writers left; see maildir_sweep.h. */
static int
md_recover(const struct config *cfg, int dirfd, pid_t pid, struct deliver_leftovers *out,
    char *err, size_t errlen)
{
	return maildir_sweep(dirfd, cfg->maildir, cfg->layout, cfg->hostname, pid, out, err, errlen);
}

static void
md_fini(void *be)
{
	struct maildir *md = be;

	md_abort(md);
	if (md->newfd >= 0)
		close(md->newfd);
	free(md->wbuf);
	free(md);
}

const struct deliver_ops deliver_maildir_ops = {
	.name = "maildir",
	.prepare = md_prepare,
	.check = md_check,
	.init = md_init,
	.open = md_open,
	.write = md_write,
	.commit = md_commit,
	.abort = md_abort,
	.fini = md_fini,
	.recover = md_recover,
};
