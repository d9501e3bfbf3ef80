/*
 * privdrop - who the daemon runs as, and the switch to that user.
 *
 * Started as root, smtptrapd binds its listeners, reads keys and opens
 * the directories it writes to, then becomes server.user (default
 * "nobody") and server.group (default: that user's primary group) before
 * the first worker is forked: setgroups() to that one group, setgid(),
 * setuid(), then a check that all ids changed and that setuid(0) fails.
 * Staying root needs server.user = "root" in the configuration.
 *
 * Started as any other user, the daemon stays who it is; a server.user
 * naming someone else is ignored with a warning (like nginx's "user").
 */
#ifndef SMTPTRAP_PRIVDROP_H
#define SMTPTRAP_PRIVDROP_H

#include <stddef.h>
#include <sys/types.h>

struct config;

struct privs {
	int drop;          /* privdrop_apply() switches to uid/gid */
	int stay_root;     /* started as root and told to stay root */
	uid_t uid;
	gid_t gid;
	char user[64];     /* for messages */
	char group[64];
};

/*
 * Decide from the configuration and the process's ids. 0, or -1 with a
 * "file:line: ..." reason in err (unknown user or group).
 */
int privdrop_resolve(const struct config *cfg, struct privs *p, char *err, size_t errlen);

/*
 * Give something the daemon just created (a directory, the control
 * socket, the log file) to the user it will run as; a no-op unless
 * privileges are dropped. 0, or -1 with errno set.
 */
int privdrop_chown_path(const struct privs *p, const char *path);
int privdrop_chown_fd(const struct privs *p, int fd);

/* Become the user; 0, or -1 with err set. Verifies the switch. */
int privdrop_apply(const struct privs *p, char *err, size_t errlen);

#endif
