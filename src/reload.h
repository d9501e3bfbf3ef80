/*
 * reload - generations: everything the daemon builds from one reading of
 * its configuration.
 *
 * A generation holds the validated configuration and what it opened: the
 * listening sockets, the TLS context, the users who may log in, the
 * capture, state and transcript directories (as open directory fds, so
 * workers write through them whatever the permissions above). At start
 * the daemon builds generation 1; each SIGHUP (or control "reload") builds
 * the next one from the same file and command line. Building is
 * all-or-nothing: any error leaves the running generation untouched.
 * Listeners whose address is unchanged are carried over as the same
 * socket, so no connection waiting in the backlog is lost; the others are
 * bound (new) or closed (gone).
 *
 * Relative paths in the configuration are resolved against the directory
 * the daemon was started in, on every reload.
 */
#ifndef SMTPTRAP_RELOAD_H
#define SMTPTRAP_RELOAD_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "config.h"

struct authdb;
struct listener;
struct tls_server;

/* What the command line fixes for every generation. */
struct gen_opts {
	const char *config_path;     /* absolute, or NULL for the built-in defaults */
	char *const *listen_specs;   /* -l: replace the configured listeners */
	size_t nspecs;
	const char *capture_dir;     /* -m: delivery.directory */
	int startdir;                /* fd of the start directory */
};

struct generation {
	unsigned number;
	struct config cfg;
	struct listener *listeners;  /* cfg.nlisteners of them */
	struct tls_server *tls;      /* NULL when no listener uses TLS */
	struct authdb *authdb;
	int maildir_fd;              /* the capture directory, or -1 */
	int state_fd;                /* the state directory when greylisting, or -1 */
	int transcript_fd;           /* server.transcript_directory, or -1 */
	char *store_path;            /* absolute path of the store file, or NULL */
	int *carried;                /* per listener: index in the previous generation, or -1 */
};

/*
 * Read and check the configuration, then load what it names (users,
 * certificates and keys). Nothing is created or bound yet. NULL with
 * "file:line: ..." lines appended to errors.
 */
struct generation *gen_load(const struct gen_opts *o, unsigned number, struct buf *errors);

/*
 * Create and open the directories and bind the listeners that prev (NULL
 * at start) does not already have. What is created is handed to
 * owner/group unless they are -1. 0, or -1 with errors appended (and
 * nothing of prev changed).
 */
int gen_open(struct generation *g, const struct generation *prev, const struct gen_opts *o,
    uid_t owner, gid_t group, struct buf *errors);

/*
 * Make g the running generation: move the carried listener sockets out
 * of prev (which then holds only the listeners g dropped).
 */
void gen_take_over(struct generation *g, struct generation *prev);

/* Close and free everything g still holds; NULL is fine. */
void gen_free(struct generation *g);

/* Open the store file in dirfd (LMDB wants a path; this avoids walking one). */
struct store *gen_store_open(int dirfd, const struct config *cfg, char *err, size_t errlen);

#endif
