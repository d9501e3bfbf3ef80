/*
 * cli_wait - block until enough matching messages are in a capture
 * directory; see cli_wait.h.
 *
 * Three kinds of inotify watch: the capture directory (for new/ and for
 * recipient maildirs made later), each recipient maildir (for its new/),
 * and each new/ directory (for messages: IN_MOVED_TO when smtptrapd
 * renames a message in, IN_CREATE when it links one in). A new/ watched
 * late is read once right after its watch is added, so a message that
 * landed before the watch still counts.
 *
 * Races at the start are closed by order: every watch is set up first,
 * then the messages already there are listed (cli_scan). Without
 * `existing` the listed names are "old", but an inotify event for a name
 * proves the file appeared after the watches, so it counts even if the
 * listing caught it first; and a new/ directory that appeared after the
 * start holds no old messages. Every message name examined goes into a
 * set, so a message is counted once however many times it is listed or
 * reported, and however many recipient maildirs it is linked into. A
 * name is only put in the set once its file has been read: a file that
 * vanished first is tried again if it shows up elsewhere.
 *
 * The time limit runs on CLOCK_MONOTONIC; the only blocking call is
 * poll() on the inotify descriptor.
 *
 * DIAGNOSTICS: -1 with err when the capture directory cannot be
 * watched, inotify cannot be set up (including running out of watches
 * later), or reading events fails. Messages that cannot be read are
 * skipped.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_msg.h"
#include "cli_scan.h"
#include "cli_wait.h"
#include "xmalloc.h"

enum wkind { W_TOP, W_RCPT, W_NEW };

struct watch {
	int wd;
	enum wkind kind;
	int late;              /* added after the start: nothing in it is old */
	char *path;
};

/* The names already examined: open addressing, FNV-1a. */
struct nameset {
	char **slot;
	size_t cap;
	size_t n;
};

struct waiter {
	const struct cli_wait_opts *o;
	int fd;
	struct watch *w;
	size_t nw;
	struct nameset seen;   /* examined */
	struct nameset old;    /* there at the start, without `existing` */
	int started;           /* the initial watches are set up */
	char **ids;
	size_t nids;
	char *err;
	size_t errlen;
};

/* What examining one file came to. */
enum consider { C_SKIP, C_SEEN, C_DONE };

#define WATCH_MASK (IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)

/*
 * The set of names
 */

static size_t
name_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

static char **
set_slot(const struct nameset *s, const char *name)
{
	size_t i = name_hash(name) & (s->cap - 1);

	while (s->slot[i] != NULL && strcmp(s->slot[i], name) != 0)
		i = (i + 1) & (s->cap - 1);
	return &s->slot[i];
}

static int
set_has(const struct nameset *s, const char *name)
{
	return s->cap > 0 && *set_slot(s, name) != NULL;
}

static void
set_add(struct nameset *s, const char *name)
{
	if (2 * (s->n + 1) > s->cap) {
		struct nameset big = { NULL, s->cap ? s->cap * 2 : 64, 0 };

		big.slot = xcalloc(big.cap, sizeof(char *));
		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i] != NULL)
				*set_slot(&big, s->slot[i]) = s->slot[i];
		big.n = s->n;
		free(s->slot);
		*s = big;
	}
	char **slot = set_slot(s, name);
	if (*slot == NULL) {
		*slot = xstrdup(name);
		s->n++;
	}
}

static void
set_free(struct nameset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slot[i]);
	free(s->slot);
	memset(s, 0, sizeof(*s));
}

/*
 * Messages
 */

/*
 * Examine the file at path, named name: C_SKIP if it is not (or no
 * longer) a readable regular file, was examined before, or is old and
 * honour_old is set; C_SEEN once read; C_DONE if it was the last
 * message needed.
 */
static enum consider
consider(struct waiter *wt, const char *path, const char *name, int honour_old)
{
	struct cli_msg m;
	struct stat st;
	char why[512];
	int match;

	if (name[0] == '.' || set_has(&wt->seen, name))
		return C_SKIP;
	if (honour_old && set_has(&wt->old, name))
		return C_SKIP;
	if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return C_SKIP;
	memset(&m, 0, sizeof(m));
	if (cli_msg_load(path, name, &m, why, sizeof(why)) != 0)
		return C_SKIP;
	match = wt->o->filter == NULL || cli_filter_match(wt->o->filter, &m);
	cli_msg_free(&m);
	set_add(&wt->seen, name);
	if (!match)
		return C_SEEN;
	wt->ids[wt->nids++] = xstrdup(name);
	return wt->nids >= wt->o->count ? C_DONE : C_SEEN;
}

/* Examine every file in the new/ directory dir. 1 when done, else 0. */
static int
scan_new(struct waiter *wt, const char *dir, int honour_old)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int done = 0;

	if (d == NULL)
		return 0;
	while (!done && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (de->d_type != DT_UNKNOWN && de->d_type != DT_REG)
			continue;
		char *path = xasprintf("%s/%s", dir, de->d_name);
		done = consider(wt, path, de->d_name, honour_old) == C_DONE;
		free(path);
	}
	closedir(d);
	return done;
}

/*
 * Watches
 */

static long
watch_find(const struct waiter *wt, int wd)
{
	for (size_t i = 0; i < wt->nw; i++)
		if (wt->w[i].wd == wd)
			return (long)i;
	return -1;
}

/*
 * Watch path. 1 if a new watch was added, 0 if it was already watched
 * or is gone (it may vanish between the event and here), -1 with err on
 * any other failure (out of watches, most likely).
 */
static int
watch_add(struct waiter *wt, const char *path, enum wkind kind)
{
	for (size_t i = 0; i < wt->nw; i++)
		if (strcmp(wt->w[i].path, path) == 0)
			return 0;
	/* Like cli_scan, a symbolic link is no recipient maildir. */
	uint32_t mask = WATCH_MASK | (kind == W_RCPT ? IN_DONT_FOLLOW : 0);
	int wd = inotify_add_watch(wt->fd, path, mask);
	if (wd < 0) {
		if (kind != W_TOP && (errno == ENOENT || errno == ENOTDIR))
			return 0;
		snprintf(wt->err, wt->errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (watch_find(wt, wd) >= 0)
		return 0;
	wt->w = xrealloc(wt->w, (wt->nw + 1) * sizeof(*wt->w));
	wt->w[wt->nw].wd = wd;
	wt->w[wt->nw].kind = kind;
	wt->w[wt->nw].late = wt->started;
	wt->w[wt->nw].path = xstrdup(path);
	wt->nw++;
	return 1;
}

/*
 * Watch the new/ directory path; with scan, read it if the watch is new.
 * 1 when done, 0, or -1 with err.
 */
static int
add_new(struct waiter *wt, const char *path, int scan)
{
	int rc = watch_add(wt, path, W_NEW);

	if (rc <= 0)
		return rc;
	return scan ? scan_new(wt, path, 0) : 0;
}

/* Watch the recipient maildir path and its new/ if there is one yet. */
static int
add_rcpt(struct waiter *wt, const char *path, int scan)
{
	if (watch_add(wt, path, W_RCPT) < 0)
		return -1;
	char *nd = xasprintf("%s/new", path);
	int rc = add_new(wt, nd, scan);
	free(nd);
	return rc;
}

static int
is_box(const char *name)
{
	return strcmp(name, "new") == 0 || strcmp(name, "cur") == 0 ||
	    strcmp(name, "tmp") == 0;
}

/*
 * Watch DIR/new and every recipient maildir there is (idempotent). With
 * scan, read each new/ that was not watched before. 1 when done, 0, or
 * -1 with err.
 */
static int
watch_tree(struct waiter *wt, int scan)
{
	const char *dir = wt->o->dir;
	char *p = xasprintf("%s/new", dir);
	int rc = add_new(wt, p, scan);
	DIR *d;
	struct dirent *de;

	free(p);
	if (rc != 0)
		return rc;
	if ((d = opendir(dir)) == NULL) {
		snprintf(wt->err, wt->errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || is_box(de->d_name))
			continue;
		if (de->d_type != DT_UNKNOWN && de->d_type != DT_DIR)
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		rc = add_rcpt(wt, p, scan);
		free(p);
	}
	closedir(d);
	return rc;
}

/* After an event queue overflow: watch what is missing, reread all. */
static int
rescan(struct waiter *wt)
{
	int rc = watch_tree(wt, 1);

	for (size_t i = 0; rc == 0 && i < wt->nw; i++)
		if (wt->w[i].kind == W_NEW)
			rc = scan_new(wt, wt->w[i].path, !wt->w[i].late);
	return rc;
}

/* One inotify event. 1 when done, 0, or -1 with err. */
static int
handle_event(struct waiter *wt, const struct inotify_event *ev)
{
	if (ev->mask & IN_Q_OVERFLOW)
		return rescan(wt);
	long i = watch_find(wt, ev->wd);
	if (i < 0)
		return 0;
	if (ev->mask & IN_IGNORED) {
		/* The directory is gone; its descriptor may be reused. */
		free(wt->w[i].path);
		wt->w[i] = wt->w[--wt->nw];
		return 0;
	}
	if (ev->len == 0 || ev->name[0] == '.')
		return 0;

	const struct watch *w = &wt->w[i];
	int isdir = (ev->mask & IN_ISDIR) != 0;
	char *path = xasprintf("%s/%s", w->path, ev->name);
	int rc = 0;

	switch (w->kind) {
	case W_NEW:
		if (!isdir)
			rc = consider(wt, path, ev->name, 0) == C_DONE;
		break;
	case W_TOP:
		if (isdir && strcmp(ev->name, "new") == 0)
			rc = add_new(wt, path, 1);
		else if (isdir && !is_box(ev->name))
			rc = add_rcpt(wt, path, 1);
		break;
	case W_RCPT:
		if (isdir && strcmp(ev->name, "new") == 0)
			rc = add_new(wt, path, 1);
		break;
	}
	free(path);
	return rc;
}

/* Read and handle every queued event. 1 when done, 0, or -1 with err. */
static int
drain(struct waiter *wt)
{
	_Alignas(struct inotify_event) char buf[16384];

	for (;;) {
		ssize_t n = read(wt->fd, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			snprintf(wt->err, wt->errlen, "reading inotify events: %s", strerror(errno));
			return -1;
		}
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
			int rc = handle_event(wt, ev);

			if (rc != 0)
				return rc;
			p += sizeof(*ev) + ev->len;
		}
	}
}

/*
 * The start: what is there already is counted (existing) or only
 * remembered, in cli_scan order. 1 when done, 0, or -1 with err.
 */
static int
take_existing(struct waiter *wt)
{
	struct cli_list l;
	int done = 0;

	if (cli_scan(wt->o->dir, &l, wt->err, wt->errlen) != 0)
		return -1;
	for (size_t i = 0; !done && i < l.n; i++) {
		if (!wt->o->existing) {
			set_add(&wt->old, l.v[i].id);
			continue;
		}
		for (size_t k = 0; k < l.v[i].npaths; k++) {
			enum consider c = consider(wt, l.v[i].paths[k], l.v[i].id, 0);

			if (c == C_DONE)
				done = 1;
			if (c != C_SKIP)
				break;
		}
	}
	cli_list_free(&l);
	return done;
}

static long long
elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - start->tv_sec) * 1000 +
	    (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* Wait for events until done or out of time. 0 done, 1 timeout, -1. */
static int
wait_loop(struct waiter *wt, const struct timespec *start)
{
	for (;;) {
		int wait_ms = -1;

		if (wt->o->timeout_ms >= 0) {
			long long left = wt->o->timeout_ms - elapsed_ms(start);

			if (left <= 0)
				return 1;
			wait_ms = (int)left;
		}
		struct pollfd pfd = { .fd = wt->fd, .events = POLLIN };
		int n = poll(&pfd, 1, wait_ms);
		if (n < 0 && errno != EINTR) {
			snprintf(wt->err, wt->errlen, "poll: %s", strerror(errno));
			return -1;
		}
		if (n <= 0)
			continue;
		int rc = drain(wt);
		if (rc != 0)
			return rc < 0 ? -1 : 0;
	}
}

int
cli_wait(const struct cli_wait_opts *o, char ***ids, size_t *nids, char *err, size_t errlen)
{
	struct waiter wt;
	struct timespec start;
	int rc;

	*ids = NULL;
	*nids = 0;
	clock_gettime(CLOCK_MONOTONIC, &start);
	memset(&wt, 0, sizeof(wt));
	wt.o = o;
	wt.err = err;
	wt.errlen = errlen;
	wt.ids = xcalloc(o->count + 1, sizeof(char *));
	if (o->count == 0) {
		*ids = wt.ids;
		return 0;
	}
	wt.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (wt.fd < 0) {
		snprintf(err, errlen, "inotify_init1: %s", strerror(errno));
		free(wt.ids);
		return -1;
	}
	/* Watches first, then the listing: nothing falls in between. */
	rc = watch_add(&wt, o->dir, W_TOP);
	if (rc >= 0)
		rc = watch_tree(&wt, 0);
	wt.started = 1;
	if (rc >= 0)
		rc = take_existing(&wt);
	if (rc == 0)
		rc = wait_loop(&wt, &start);
	else if (rc > 0)
		rc = 0;

	close(wt.fd);
	for (size_t i = 0; i < wt.nw; i++)
		free(wt.w[i].path);
	free(wt.w);
	set_free(&wt.seen);
	set_free(&wt.old);
	if (rc < 0) {
		for (size_t i = 0; i < wt.nids; i++)
			free(wt.ids[i]);
		free(wt.ids);
		return -1;
	}
	*ids = wt.ids;
	*nids = wt.nids;
	return rc;
}
