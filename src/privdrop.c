/*
 * privdrop - resolve and switch to the daemon's user; see privdrop.h.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "privdrop.h"

#define DEFAULT_USER "nobody"

/* getpwnam() accepts a numeric id too when no such name exists. */
static int
lookup_user(const char *name, struct passwd *out, char *buf, size_t buflen)
{
	struct passwd *res = NULL;

	if (getpwnam_r(name, out, buf, buflen, &res) == 0 && res != NULL)
		return 0;
	char *end;
	errno = 0;
	unsigned long id = strtoul(name, &end, 10);
	if (*name != '\0' && *end == '\0' && errno == 0 &&
	    getpwuid_r((uid_t)id, out, buf, buflen, &res) == 0 && res != NULL)
		return 0;
	return -1;
}

static int
lookup_group(const char *name, gid_t *gid)
{
	struct group gr, *res = NULL;
	char buf[4096];

	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) == 0 && res != NULL) {
		*gid = gr.gr_gid;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long id = strtoul(name, &end, 10);
	if (*name != '\0' && *end == '\0' && errno == 0 &&
	    getgrgid_r((gid_t)id, &gr, buf, sizeof(buf), &res) == 0 && res != NULL) {
		*gid = gr.gr_gid;
		return 0;
	}
	return -1;
}

int
privdrop_resolve(const struct config *cfg, struct privs *p, char *err, size_t errlen)
{
	const char *file = cfg->path ? cfg->path : "(built-in)";
	const char *user = cfg->user;
	struct passwd pw;
	char buf[4096];

	memset(p, 0, sizeof(*p));
	if (geteuid() != 0) {
		p->uid = geteuid();
		p->gid = getegid();
		if (user != NULL && (lookup_user(user, &pw, buf, sizeof(buf)) != 0 || pw.pw_uid != p->uid))
			log_warnx("%s:%d: server.user \"%s\" ignored: not started as root, running as uid %ld",
			    file, cfg->user_line, user, (long)p->uid);
		return 0;
	}
	if (user == NULL)
		user = DEFAULT_USER;
	if (lookup_user(user, &pw, buf, sizeof(buf)) != 0) {
		snprintf(err, errlen, "%s:%d: server: user \"%s\" does not exist%s", file, cfg->user_line,
		    user, cfg->user == NULL ? " (the default when started as root; set server.user)" : "");
		return -1;
	}
	p->uid = pw.pw_uid;
	p->gid = pw.pw_gid;
	snprintf(p->user, sizeof(p->user), "%s", pw.pw_name);
	snprintf(p->group, sizeof(p->group), "%ld", (long)p->gid);
	if (cfg->group != NULL) {
		if (lookup_group(cfg->group, &p->gid) != 0) {
			snprintf(err, errlen, "%s:%d: server: group \"%s\" does not exist", file,
			    cfg->group_line, cfg->group);
			return -1;
		}
		snprintf(p->group, sizeof(p->group), "%s", cfg->group);
	} else {
		struct group gr, *res = NULL;
		if (getgrgid_r(p->gid, &gr, buf, sizeof(buf), &res) == 0 && res != NULL)
			snprintf(p->group, sizeof(p->group), "%s", gr.gr_name);
	}
	if (p->uid == 0) {
		if (cfg->user == NULL) {
			/* Only reachable when "nobody" maps to uid 0: refuse. */
			snprintf(err, errlen, "%s:0: server: refusing to run as root; set server.user", file);
			return -1;
		}
		p->stay_root = 1;
		return 0;
	}
	p->drop = 1;
	return 0;
}

int
privdrop_chown_path(const struct privs *p, const char *path)
{
	if (!p->drop)
		return 0;
	return lchown(path, p->uid, p->gid);
}

int
privdrop_chown_fd(const struct privs *p, int fd)
{
	if (!p->drop)
		return 0;
	return fchown(fd, p->uid, p->gid);
}

int
privdrop_apply(const struct privs *p, char *err, size_t errlen)
{
	if (!p->drop)
		return 0;
	if (setgroups(1, &p->gid) != 0) {
		snprintf(err, errlen, "setgroups(%ld) failed: %s", (long)p->gid, strerror(errno));
		return -1;
	}
	if (setresgid(p->gid, p->gid, p->gid) != 0) {
		snprintf(err, errlen, "setgid(%ld) failed: %s", (long)p->gid, strerror(errno));
		return -1;
	}
	if (setresuid(p->uid, p->uid, p->uid) != 0) {
		snprintf(err, errlen, "setuid(%ld) failed: %s", (long)p->uid, strerror(errno));
		return -1;
	}
	/* Verify: every id changed, no other group is left, and there is no way back. */
	uid_t ru, eu, su;
	gid_t rg, eg, sg, groups[2];
	int ng = getgroups(2, groups);
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 ||
	    ru != p->uid || eu != p->uid || su != p->uid ||
	    rg != p->gid || eg != p->gid || sg != p->gid ||
	    ng != 1 || groups[0] != p->gid) {
		snprintf(err, errlen, "the switch to user %s did not take effect", p->user);
		return -1;
	}
	if (setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(err, errlen, "root privileges could be regained after the switch to user %s",
		    p->user);
		return -1;
	}
#if defined(__SANITIZE_ADDRESS__)
	/*
	 * Sanitizer builds only: LeakSanitizer stops the process's threads
	 * with ptrace at exit, which the kernel refuses to a process made
	 * non-dumpable by the switch. Release builds stay non-dumpable, so
	 * other processes of the same user cannot read keys from memory.
	 */
	prctl(PR_SET_DUMPABLE, 1);
#endif
	return 0;
}
