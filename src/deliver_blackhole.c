/*
 * deliver_blackhole - accept every message, count it, store nothing.
 *
 * The message id it hands back is "<session id>.<message number>", so the
 * "queued as" reply and the log still name each message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "deliver.h"
#include "xmalloc.h"

struct blackhole {
	char id[DELIVER_ID_MAX];
	unsigned long long bytes;
};

static int
bh_prepare(const struct config *cfg, uid_t owner, gid_t group, int *dirfd, char *err,
    size_t errlen)
{
	(void)cfg;
	(void)owner;
	(void)group;
	(void)err;
	(void)errlen;
	*dirfd = -1;
	return 0;
}

static int
bh_check(const struct config *cfg, int dirfd, char *err, size_t errlen)
{
	(void)cfg;
	(void)dirfd;
	(void)err;
	(void)errlen;
	return 0;
}

static void *
bh_init(const struct config *cfg, int dirfd, char *err, size_t errlen)
{
	(void)cfg;
	(void)dirfd;
	(void)err;
	(void)errlen;
	return xcalloc(1, sizeof(struct blackhole));
}

static enum deliver_status
bh_open(void *be, const struct envelope *env, char *err, size_t errlen)
{
	struct blackhole *bh = be;

	(void)err;
	(void)errlen;
	snprintf(bh->id, sizeof(bh->id), "%s.%u", env->session_id, env->msgnum);
	bh->bytes = 0;
	return DELIVER_OK;
}

static void
bh_write(void *be, const void *data, size_t len)
{
	struct blackhole *bh = be;

	(void)data;
	bh->bytes += len;
}

static enum deliver_status
bh_commit(void *be, char *id, size_t idlen, char *err, size_t errlen)
{
	struct blackhole *bh = be;

	(void)err;
	(void)errlen;
	snprintf(id, idlen, "%s", bh->id);
	return DELIVER_OK;
}

static void
bh_abort(void *be)
{
	(void)be;
}

static void
bh_fini(void *be)
{
	free(be);
}

const struct deliver_ops deliver_blackhole_ops = {
	.name = "blackhole",
	.prepare = bh_prepare,
	.check = bh_check,
	.init = bh_init,
	.open = bh_open,
	.write = bh_write,
	.commit = bh_commit,
	.abort = bh_abort,
	.fini = bh_fini,
	.recover = NULL, /* nothing stored, nothing left over */
};
