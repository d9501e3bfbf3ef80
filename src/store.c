/*
 * store - the shared, persistent state in one LMDB environment file; see
 * store.h.
 *
 * The environment is a single file (MDB_NOSUBDIR) with LMDB's lock file
 * next to it, PATH "-lock". Both named databases are created, in one
 * write transaction, when the handle is opened, so every later
 * transaction of every process finds them; their handles (MDB_dbi) stay
 * valid until the environment is closed.
 *
 * A handle belongs to the process that opened it. Nothing here is
 * thread-safe either: a worker serves one client at a time.
 *
 * DIAGNOSTICS: a failing LMDB call leaves "NAME: text" in the handle
 * ("MDB_MAP_FULL: Environment mapsize limit reached"), or the strerror
 * text for an errno value. Once a call in a write transaction fails,
 * LMDB marks the transaction broken: later calls in it fail (with
 * MDB_BAD_TXN) instead of crashing, and so does its commit, which the
 * caller sees as a -1 from store_commit().
 */
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "xmalloc.h"

struct store {
	MDB_env *env;
	MDB_dbi dbi[STORE_NDBS];
	char err[256];
};

struct store_txn {
	MDB_txn *txn;
	struct store *st;        /* where errors are recorded */
};

/* The names of the named databases, by enum store_db. */
static const char *const store_db_names[STORE_NDBS] = {
	[STORE_TRIPLETS] = "triplets",
	[STORE_CLIENTS] = "clients",
};

/*
 * LMDB's own error codes by name. LMDB 0.9's texts already start with the
 * name; the table makes sure of it for versions whose texts do not.
 */
static const struct {
	int code;
	const char *name;
} store_codes[] = {
	{ MDB_KEYEXIST, "MDB_KEYEXIST" },
	{ MDB_NOTFOUND, "MDB_NOTFOUND" },
	{ MDB_PAGE_NOTFOUND, "MDB_PAGE_NOTFOUND" },
	{ MDB_CORRUPTED, "MDB_CORRUPTED" },
	{ MDB_PANIC, "MDB_PANIC" },
	{ MDB_VERSION_MISMATCH, "MDB_VERSION_MISMATCH" },
	{ MDB_INVALID, "MDB_INVALID" },
	{ MDB_MAP_FULL, "MDB_MAP_FULL" },
	{ MDB_DBS_FULL, "MDB_DBS_FULL" },
	{ MDB_READERS_FULL, "MDB_READERS_FULL" },
	{ MDB_TLS_FULL, "MDB_TLS_FULL" },
	{ MDB_TXN_FULL, "MDB_TXN_FULL" },
	{ MDB_CURSOR_FULL, "MDB_CURSOR_FULL" },
	{ MDB_PAGE_FULL, "MDB_PAGE_FULL" },
	{ MDB_MAP_RESIZED, "MDB_MAP_RESIZED" },
	{ MDB_INCOMPATIBLE, "MDB_INCOMPATIBLE" },
	{ MDB_BAD_RSLOT, "MDB_BAD_RSLOT" },
	{ MDB_BAD_TXN, "MDB_BAD_TXN" },
	{ MDB_BAD_VALSIZE, "MDB_BAD_VALSIZE" },
	{ MDB_BAD_DBI, "MDB_BAD_DBI" },
};

/* The one-line description of rc: "NAME: text", or the text of an errno value. */
static void
store_describe(int rc, char *out, size_t outlen)
{
	const char *text = mdb_strerror(rc);
	size_t n;

	for (size_t i = 0; i < sizeof(store_codes) / sizeof(store_codes[0]); i++) {
		if (store_codes[i].code != rc)
			continue;
		n = strlen(store_codes[i].name);
		if (strncmp(text, store_codes[i].name, n) == 0 && text[n] == ':')
			break;
		snprintf(out, outlen, "%s: %s", store_codes[i].name, text);
		return;
	}
	snprintf(out, outlen, "%s", text);
}

static void
store_seterr(struct store *st, int rc)
{
	store_describe(rc, st->err, sizeof(st->err));
}

struct store *
store_open(const char *path, size_t map_size, int sync, char *err, size_t errlen)
{
	struct store *st = xcalloc(1, sizeof(*st));
	unsigned int flags = MDB_NOSUBDIR | (sync ? 0 : MDB_NOSYNC);
	MDB_txn *txn = NULL;
	char why[256];
	int rc;

	if ((rc = mdb_env_create(&st->env)) != 0) {
		st->env = NULL;
		goto fail;
	}
	if ((rc = mdb_env_set_maxdbs(st->env, STORE_NDBS)) != 0)
		goto fail;
	if (map_size > 0 && (rc = mdb_env_set_mapsize(st->env, map_size)) != 0)
		goto fail;
	if ((rc = mdb_env_open(st->env, path, flags, 0600)) != 0)
		goto fail;
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0)
		goto fail;
	for (int i = 0; i < STORE_NDBS; i++) {
		if ((rc = mdb_dbi_open(txn, store_db_names[i], MDB_CREATE, &st->dbi[i])) != 0) {
			mdb_txn_abort(txn);
			goto fail;
		}
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	return st;

fail:
	store_describe(rc, why, sizeof(why));
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", path, why);
	/* mdb_env_close() also undoes a failed mdb_env_open(). */
	if (st->env != NULL)
		mdb_env_close(st->env);
	free(st);
	return NULL;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	mdb_env_close(st->env);
	free(st);
}

int
store_sync(struct store *st)
{
	int rc = mdb_env_sync(st->env, 1);

	if (rc != 0) {
		store_seterr(st, rc);
		return -1;
	}
	return 0;
}

int
store_check_readers(struct store *st)
{
	int dead = 0;
	int rc = mdb_reader_check(st->env, &dead);

	if (rc != 0) {
		store_seterr(st, rc);
		return -1;
	}
	return dead;
}

const char *
store_strerror(const struct store *st)
{
	return st != NULL ? st->err : "greylist store is not open";
}

/*
 * Two failures of mdb_txn_begin() are repaired once here: another
 * process may have grown the map beyond our size (adopt its size; no
 * transaction of ours is active, so that is allowed), and dead processes
 * may hold every reader slot (release theirs).
 */
int
store_begin(struct store *st, int write, struct store_txn **out)
{
	MDB_txn *txn = NULL;
	int rc, dead;

	*out = NULL;
	rc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, &txn);
	if (rc == MDB_MAP_RESIZED && mdb_env_set_mapsize(st->env, 0) == 0)
		rc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, &txn);
	else if (rc == MDB_READERS_FULL && mdb_reader_check(st->env, &dead) == 0 && dead > 0)
		rc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, &txn);
	if (rc != 0) {
		store_seterr(st, rc);
		return -1;
	}
	*out = xmalloc(sizeof(**out));
	(*out)->txn = txn;
	(*out)->st = st;
	return 0;
}

int
store_commit(struct store_txn *t)
{
	int rc = mdb_txn_commit(t->txn);

	if (rc != 0)
		store_seterr(t->st, rc);
	free(t);
	return rc != 0 ? -1 : 0;
}

void
store_abort(struct store_txn *t)
{
	if (t == NULL)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}

static int
store_fail(struct store_txn *t, int rc)
{
	store_seterr(t->st, rc);
	return -1;
}

int
store_get(struct store_txn *t, enum store_db db, const void *key, size_t klen, void *val,
    size_t vlen)
{
	MDB_val k = { klen, (void *)key }, v;
	int rc = mdb_get(t->txn, t->st->dbi[db], &k, &v);

	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return store_fail(t, rc);
	if (v.mv_size != vlen)
		return 0;
	memcpy(val, v.mv_data, vlen);
	return 1;
}

int
store_put(struct store_txn *t, enum store_db db, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
	int rc = mdb_put(t->txn, t->st->dbi[db], &k, &v, 0);

	return rc != 0 ? store_fail(t, rc) : 0;
}

int
store_del(struct store_txn *t, enum store_db db, const void *key, size_t klen)
{
	MDB_val k = { klen, (void *)key };
	int rc = mdb_del(t->txn, t->st->dbi[db], &k, NULL);

	if (rc == MDB_NOTFOUND)
		return 0;
	return rc != 0 ? store_fail(t, rc) : 1;
}

int
store_clear(struct store_txn *t, enum store_db db)
{
	int rc = mdb_drop(t->txn, t->st->dbi[db], 0);

	return rc != 0 ? store_fail(t, rc) : 0;
}

/*
 * After mdb_cursor_del() the cursor's position depends on LMDB internals
 * (it is left on the following record, or flagged at the end, and page
 * merges move it). Instead of relying on that, the deleted key is copied
 * first and the walk goes on from the first key at or after it
 * (MDB_SET_RANGE): it is gone, so that is the record after it, whatever
 * the tree looks like now.
 */
long
store_foreach(struct store_txn *t, enum store_db db, store_visit_fn fn, void *arg)
{
	MDB_cursor *cur;
	MDB_val k, v;
	char *copy = NULL;
	size_t copylen = 0;
	long deleted = 0;
	int rc, visit;

	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[db], &cur)) != 0)
		return store_fail(t, rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == 0) {
		visit = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg);
		if (visit == STORE_STOP)
			break;
		if (visit != STORE_DELETE) {
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
			continue;
		}
		if (k.mv_size > copylen) {
			copy = xrealloc(copy, k.mv_size);
			copylen = k.mv_size;
		}
		memcpy(copy, k.mv_data, k.mv_size);
		k.mv_data = copy;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		deleted++;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	}
	mdb_cursor_close(cur);
	free(copy);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_fail(t, rc);
	return deleted;
}

long
store_count(struct store_txn *t, enum store_db db)
{
	MDB_stat ms;
	int rc = mdb_stat(t->txn, t->st->dbi[db], &ms);

	if (rc != 0)
		return store_fail(t, rc);
	return ms.ms_entries > (size_t)LONG_MAX ? LONG_MAX : (long)ms.ms_entries;
}
