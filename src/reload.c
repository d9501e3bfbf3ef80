/*
 * reload - build, open, hand over and free generations; see reload.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authdb.h"
#include "deliver.h"
#include "fsutil.h"
#include "listen.h"
#include "log.h"
#include "reload.h"
#include "store.h"
#include "tls.h"
#include "transcript.h"
#include "xmalloc.h"

/* Work in the start directory; returns the fd to come back to, or -1. */
static int
enter_startdir(int startdir)
{
	int here = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (startdir >= 0 && fchdir(startdir) != 0)
		log_warn("cannot enter the directory smtptrapd was started in; relative paths in the "
		    "configuration are taken from the current one");
	return here;
}

static void
leave_startdir(int here)
{
	if (here >= 0) {
		if (fchdir(here) != 0)
			log_warn("cannot return to the working directory");
		close(here);
	}
}

/* *path made absolute against the current directory, which need not hold it yet. */
static void
absolute_in_cwd(char **path)
{
	char cwd[PATH_MAX];

	if (*path == NULL || (*path)[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		return;
	char *abs = xasprintf("%s/%s", cwd, *path);
	free(*path);
	*path = abs;
}

static void
gen_init(struct generation *g, unsigned number)
{
	memset(g, 0, sizeof(*g));
	g->number = number;
	g->maildir_fd = -1;
	g->state_fd = -1;
	g->transcript_fd = -1;
}

struct generation *
gen_load(const struct gen_opts *o, unsigned number, struct buf *errors)
{
	struct generation *g = xmalloc(sizeof(*g));
	int here = enter_startdir(o->startdir);
	int bad = 0;

	gen_init(g, number);
	config_defaults(&g->cfg);
	if (o->config_path != NULL && config_load(&g->cfg, o->config_path, errors) != 0)
		bad = 1;
	for (size_t i = 0; i < o->nspecs; i++) {
		char err[256];
		if (config_add_listener_spec(&g->cfg, o->listen_specs[i], i == 0, err, sizeof(err)) != 0) {
			buf_printf(errors, "-l: %s\n", err);
			bad = 1;
		}
	}
	if (o->capture_dir != NULL) {
		free(g->cfg.maildir);
		g->cfg.maildir = xstrdup(o->capture_dir);
		g->cfg.maildir_line = 0;
	}
	if (!bad && config_check(&g->cfg, errors) != 0)
		bad = 1;
	/* Paths opened later (at start, or by a reload after detaching) are made absolute now. */
	absolute_in_cwd(&g->cfg.control_socket);
	absolute_in_cwd(&g->cfg.log_file);
	absolute_in_cwd(&g->cfg.pid_file);
	/* Keys and the passwd file are read now, before anything forks. */
	if (!bad) {
		if ((g->authdb = authdb_load(&g->cfg, errors)) == NULL)
			bad = 1;
		if (tls_wanted(&g->cfg) && (g->tls = tls_server_new(&g->cfg, errors)) == NULL)
			bad = 1;
	}
	leave_startdir(here);
	if (bad) {
		gen_free(g);
		return NULL;
	}
	return g;
}

/* path, made absolute (it exists); replaces *path. */
static int
absolutize(char **path, struct buf *errors, const char *what)
{
	char *abs = realpath(*path, NULL);

	if (abs == NULL) {
		buf_printf(errors, "%s %s: %s\n", what, *path, strerror(errno));
		return -1;
	}
	free(*path);
	*path = abs;
	return 0;
}

/* mkdir -p, handing a directory it had to create to owner; an open fd. */
static int
open_dir(const char *path, mode_t mode, uid_t owner, gid_t group, const char *what,
    struct buf *errors)
{
	struct stat st;
	int created = stat(path, &st) != 0;

	if (fs_mkdir_p(path, mode) != 0) {
		buf_printf(errors, "cannot create the %s %s: %s\n", what, path, strerror(errno));
		return -1;
	}
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		buf_printf(errors, "cannot open the %s %s: %s\n", what, path, strerror(errno));
		return -1;
	}
	if (created && owner != (uid_t)-1 && fchown(fd, owner, group) != 0) {
		buf_printf(errors, "cannot hand the %s %s to its user: %s\n", what, path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The listener of prev this one takes over, or -1. */
static int
carried_from(const struct listener_conf *lc, const struct generation *prev)
{
	if (prev == NULL)
		return -1;
	for (size_t i = 0; i < prev->cfg.nlisteners; i++) {
		const struct listener_conf *p = &prev->cfg.listeners[i];
		if (prev->listeners[i].fd < 0 || strcmp(p->address, lc->address) != 0)
			continue;
		/* Port 0 means "any free port": the same one again only by name. */
		if (lc->port != 0 ? p->port == lc->port : p->port == 0 && strcmp(p->name, lc->name) == 0)
			return (int)i;
	}
	return -1;
}

int
gen_open(struct generation *g, const struct generation *prev, const struct gen_opts *o,
    uid_t owner, gid_t group, struct buf *errors)
{
	struct config *cfg = &g->cfg;
	char err[512];
	int here = enter_startdir(o->startdir);
	int rc = -1;

	if (deliver_ops_for(cfg)->prepare(cfg, owner, group, &g->maildir_fd, err, sizeof(err)) != 0) {
		buf_printf(errors, "%s\n", err);
		goto out;
	}
	if (cfg->backend == BACKEND_MAILDIR && absolutize(&cfg->maildir, errors, "maildir") != 0)
		goto out;
	/*
	 * Before this generation's workers exist: what killed workers left
	 * in tmp/. Files of live processes (the previous generation's workers
	 * at a reload) stay; the start always says how many went.
	 */
	deliver_recover(cfg, g->maildir_fd, 0, prev == NULL);
	if (config_uses_greylisting(cfg)) {
		g->state_fd = open_dir(cfg->state_directory, 0750, owner, group, "state directory", errors);
		if (g->state_fd < 0 || absolutize(&cfg->state_directory, errors, "state directory") != 0)
			goto out;
		g->store_path = config_store_path(cfg);
	}
	if (cfg->transcript_dir != NULL) {
		g->transcript_fd = open_dir(cfg->transcript_dir, 0750, owner, group,
		    "transcript directory", errors);
		if (g->transcript_fd < 0 ||
		    absolutize(&cfg->transcript_dir, errors, "transcript directory") != 0)
			goto out;
	}
	g->listeners = xcalloc(cfg->nlisteners, sizeof(*g->listeners));
	g->carried = xcalloc(cfg->nlisteners, sizeof(*g->carried));
	for (size_t i = 0; i < cfg->nlisteners; i++)
		g->listeners[i].fd = -1;
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		g->carried[i] = carried_from(&cfg->listeners[i], prev);
		if (g->carried[i] >= 0)
			continue;
		if (listen_open(&cfg->listeners[i], &g->listeners[i], err, sizeof(err)) != 0) {
			if (cfg->listeners[i].line > 0 && cfg->path != NULL)
				buf_printf(errors, "%s:%d: %s\n", cfg->path, cfg->listeners[i].line, err);
			else
				buf_printf(errors, "-l: %s\n", err);
			goto out;
		}
	}
	rc = 0;
out:
	leave_startdir(here);
	return rc;
}

void
gen_take_over(struct generation *g, struct generation *prev)
{
	for (size_t i = 0; i < g->cfg.nlisteners; i++) {
		int from = g->carried[i];
		struct listener *l = &g->listeners[i];

		if (from < 0)
			continue;
		struct listener *old = &prev->listeners[from];
		l->fd = old->fd;
		l->conf = &g->cfg.listeners[i];
		free(l->name);
		l->name = xstrdup(g->cfg.listeners[i].name);
		memcpy(l->addr, old->addr, sizeof(l->addr));
		old->fd = -1;
		g->carried[i] = -1;
	}
}

void
gen_free(struct generation *g)
{
	if (g == NULL)
		return;
	if (g->listeners != NULL) {
		for (size_t i = 0; i < g->cfg.nlisteners; i++) {
			if (g->listeners[i].fd >= 0)
				listen_close(&g->listeners[i]);
			else
				free(g->listeners[i].name);
		}
	}
	free(g->listeners);
	free(g->carried);
	if (g->maildir_fd >= 0)
		close(g->maildir_fd);
	if (g->state_fd >= 0)
		close(g->state_fd);
	if (g->transcript_fd >= 0)
		close(g->transcript_fd);
	free(g->store_path);
	tls_server_free(g->tls);
	authdb_free(g->authdb);
	config_free(&g->cfg);
	free(g);
}

struct store *
gen_store_open(int dirfd, const struct config *cfg, char *err, size_t errlen)
{
	int here = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	char why[384] = "";
	struct store *st = NULL;

	if (fchdir(dirfd) != 0)
		snprintf(why, sizeof(why), "cannot enter the directory: %s", strerror(errno));
	else
		st = store_open(CONFIG_STORE_FILE, (size_t)cfg->store_map_size, cfg->store_sync,
		    why, sizeof(why));
	leave_startdir(here);
	if (st == NULL)
		snprintf(err, errlen, "%s/%s", cfg->state_directory, why);
	return st;
}
