/*
 * deliver - dispatch to the configured delivery backend; see deliver.h.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "deliver.h"

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

int
deliver_open(struct deliver *d, const struct envelope *env, char *err, size_t errlen)
{
	if (d->ops->open(d->be, env, err, errlen) != 0)
		return -1;
	d->open = 1;
	return 0;
}

void
deliver_write(struct deliver *d, const void *data, size_t len)
{
	if (d->open)
		d->ops->write(d->be, data, len);
}

int
deliver_commit(struct deliver *d, char *id, size_t idlen, char *err, size_t errlen)
{
	int rc;

	if (!d->open) {
		snprintf(err, errlen, "no message open");
		return -1;
	}
	d->open = 0;
	rc = d->ops->commit(d->be, id, idlen, err, errlen);
	return rc;
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
