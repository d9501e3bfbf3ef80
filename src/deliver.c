/*
 * deliver - dispatch to the configured delivery backend; see deliver.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "deliver.h"
#include "log.h"

enum deliver_status
deliver_status_of(int errnum)
{
	switch (errnum) {
	case 0:
		return DELIVER_OK;
	case ENOSPC:
	case EDQUOT:
	case EFBIG: /* RLIMIT_FSIZE (SIGXFSZ is ignored) or the file system's limit */
		return DELIVER_NOSPACE;
	default:
		return DELIVER_FAILED;
	}
}

const char *
deliver_status_name(enum deliver_status st)
{
	switch (st) {
	case DELIVER_OK:
		return "ok";
	case DELIVER_NOSPACE:
		return "nospace";
	case DELIVER_FAILED:
	default:
		return "error";
	}
}

const struct deliver_ops *
deliver_ops_for(const struct config *cfg)
{
	switch (cfg->backend) {
	case BACKEND_BLACKHOLE:
		return &deliver_blackhole_ops;
	case BACKEND_MAILDIR:
	default:
		return &deliver_maildir_ops;
	}
}

int
deliver_init(struct deliver *d, const struct config *cfg, int dirfd, char *err, size_t errlen)
{
	d->ops = deliver_ops_for(cfg);
	d->open = 0;
	d->be = d->ops->init(cfg, dirfd, err, errlen);
	return d->be == NULL ? -1 : 0;
}

enum deliver_status
deliver_open(struct deliver *d, const struct envelope *env, char *err, size_t errlen)
{
	enum deliver_status st = d->ops->open(d->be, env, err, errlen);

	if (st != DELIVER_OK)
		return st;
	d->open = 1;
	return DELIVER_OK;
}

void
deliver_write(struct deliver *d, const void *data, size_t len)
{
	if (d->open)
		d->ops->write(d->be, data, len);
}

enum deliver_status
deliver_commit(struct deliver *d, char *id, size_t idlen, char *err, size_t errlen)
{
	if (!d->open) {
		snprintf(err, errlen, "no message open");
		return DELIVER_FAILED;
	}
	d->open = 0;
	return d->ops->commit(d->be, id, idlen, err, errlen);
}

void
deliver_abort(struct deliver *d)
{
	if (d->open) {
		d->open = 0;
		d->ops->abort(d->be);
	}
}

void
deliver_fini(struct deliver *d)
{
	deliver_abort(d);
	if (d->be != NULL)
		d->ops->fini(d->be);
	d->be = NULL;
}

void
deliver_recover(const struct config *cfg, int dirfd, pid_t pid, int announce)
{
	const struct deliver_ops *ops = deliver_ops_for(cfg);
	struct deliver_leftovers lo = { 0, 0, 0 };
	char err[DELIVER_ERR_MAX] = "";

	if (ops->recover == NULL || dirfd < 0)
		return;
	int rc = ops->recover(cfg, dirfd, pid, &lo, err, sizeof(err));
	if (pid == 0 && (announce || lo.removed > 0 || lo.kept > 0))
		log_notice("%s %s: %u leftover files removed from tmp/, %u kept (their writers may still be running)",
		    ops->name, cfg->maildir, lo.removed, lo.kept);
	else if (pid != 0 && lo.removed > 0)
		log_notice("%s %s: %u files of worker %ld removed from tmp/", ops->name, cfg->maildir,
		    lo.removed, (long)pid);
	if (rc != 0)
		log_warnx("%s %s: cleaning tmp/: %s (%u problems)", ops->name, cfg->maildir, err,
		    lo.failed);
}
