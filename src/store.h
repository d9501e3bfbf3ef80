/*
 * store - the daemon's shared, persistent state: one LMDB environment
 * file (plus its "-lock" file) that the master and every worker use.
 *
 * LMDB is built for many processes on one file: readers never block,
 * writers are serialised by a robust process-shared mutex kept in the
 * lock file, and a process killed in the middle of a write transaction
 * leaves the last committed state intact. So a read-modify-write done in
 * one write transaction is never lost or torn, whatever the workers do.
 *
 * An environment handle must not cross fork(): the master opens the file
 * first (which creates it and proves it is usable), and each worker opens
 * its own handle after it is forked.
 *
 * Named databases (key -> value, both opaque octets here):
 *   STORE_TRIPLETS  greylist triplets
 *   STORE_CLIENTS   greylist auto-whitelist and manual whitelist
 *
 * Durability: with sync = 0 a commit does not wait for the disk (LMDB's
 * MDB_NOSYNC); the master calls store_sync() periodically and at exit, so
 * a restart of the daemon loses nothing and a crash of the machine loses
 * at most the last interval. With sync = 1 every commit is flushed.
 *
 * DIAGNOSTICS: every function that can fail returns -1 (or NULL) and
 * keeps a one-line description in the handle, "MDB_MAP_FULL: Environment
 * mapsize limit reached", for store_strerror(). A file that is not an
 * LMDB environment, or a damaged one, makes store_open() fail with such a
 * message; the caller decides what to do (log it and degrade).
 */
#ifndef SMTPTRAP_STORE_H
#define SMTPTRAP_STORE_H

#include <stddef.h>

enum store_db { STORE_TRIPLETS = 0, STORE_CLIENTS, STORE_NDBS };

/* What a store_foreach() visitor asks for. */
enum store_visit { STORE_KEEP = 0, STORE_DELETE = 1, STORE_STOP = 2 };

struct store;
struct store_txn;

/*
 * Open (creating when missing) the environment file `path` with a map of
 * `map_size` octets (the most the file can grow to). NULL on failure with
 * "PATH: reason" in err.
 */
struct store *store_open(const char *path, size_t map_size, int sync, char *err, size_t errlen);
void store_close(struct store *st);

/* Flush committed transactions to disk. 0 or -1. */
int store_sync(struct store *st);

/*
 * Release reader slots left by processes that died (LMDB keeps one per
 * reading process); returns how many were released, or -1.
 */
int store_check_readers(struct store *st);

/* The last error of this handle, for logs; "" if none. */
const char *store_strerror(const struct store *st);

/*
 * Transactions. write = 1 for a write transaction (at most one at a time
 * over all processes: store_begin waits for the current one to end).
 * The txn is freed by store_commit() or store_abort(), whatever they
 * return. 0 or -1.
 */
int store_begin(struct store *st, int write, struct store_txn **out);
int store_commit(struct store_txn *t);
void store_abort(struct store_txn *t);

/*
 * Copy the value of key into val (vlen octets). 1: found and exactly vlen
 * octets long; 0: absent, or stored with another length (a record of an
 * older or damaged layout counts as absent); -1: error.
 */
int store_get(struct store_txn *t, enum store_db db, const void *key, size_t klen, void *val,
    size_t vlen);
int store_put(struct store_txn *t, enum store_db db, const void *key, size_t klen,
    const void *val, size_t vlen);
/* 1 deleted, 0 absent, -1 error. */
int store_del(struct store_txn *t, enum store_db db, const void *key, size_t klen);
/* Delete every record of db. 0 or -1. */
int store_clear(struct store_txn *t, enum store_db db);

/*
 * Call fn for every record of db in key order; fn returns enum
 * store_visit (STORE_DELETE needs a write transaction). Returns the
 * number of records deleted, or -1.
 */
typedef int (*store_visit_fn)(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg);
long store_foreach(struct store_txn *t, enum store_db db, store_visit_fn fn, void *arg);

/* Records in db, or -1. */
long store_count(struct store_txn *t, enum store_db db);

#endif
