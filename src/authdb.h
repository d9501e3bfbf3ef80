/*
 * authdb - who may log in: the users of the auth group and of the passwd
 * file, and the checks of their credentials.
 *
 * A user has a crypt(3) hash (yescrypt, sha512-crypt, bcrypt and whatever
 * else libcrypt verifies) or a plaintext secret. Only a plaintext secret
 * can check a CRAM-MD5 digest (RFC 2195 needs the shared secret), so
 * CRAM-MD5 works only for users that have one.
 *
 * The passwd file has one "user:secret" line per user, where secret is a
 * crypt(3) hash or "{PLAIN}" followed by the plaintext; blank lines and
 * lines starting with "#" are ignored.
 *
 * Loaded once, by the master before it forks workers; read-only after.
 */
#ifndef SMTPTRAP_AUTHDB_H
#define SMTPTRAP_AUTHDB_H

#include "buf.h"

struct config;
struct authdb;

enum authdb_result {
	AUTHDB_OK,            /* credentials are right */
	AUTHDB_FAIL,          /* wrong password or digest */
	AUTHDB_UNKNOWN_USER,
	AUTHDB_NO_SECRET,     /* CRAM-MD5 for a user with only a hash */
};

/*
 * Build the database from the configuration and read the passwd file.
 * Returns NULL with "file:line: message" lines in errors on any problem.
 */
struct authdb *authdb_load(const struct config *cfg, struct buf *errors);
void authdb_free(struct authdb *db);

/* Users known (accept_any counts as any number). */
int authdb_has_users(const struct authdb *db);
/* Can any user do CRAM-MD5 (a plaintext secret, or accept_any)? */
int authdb_has_secrets(const struct authdb *db);

enum authdb_result authdb_check_password(const struct authdb *db, const char *user,
    const char *password);
/* digest: 32 lowercase hex digits of HMAC-MD5(secret, challenge). */
enum authdb_result authdb_check_cram(const struct authdb *db, const char *user,
    const char *challenge, const char *digest);

/* Can crypt(3) verify this hash? 0 if so, else -1 with a reason. */
int authdb_hash_supported(const char *hash, const char **why);

const char *authdb_result_name(enum authdb_result r);

#endif
