/*
 * authdb - users and credential checks; see authdb.h.
 *
 * Hashes are verified with libcrypt's crypt_rn() and the results compared
 * in constant time; CRAM-MD5 digests are HMAC-MD5 from OpenSSL.
 */
#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authdb.h"
#include "config.h"
#include "xmalloc.h"

#define PLAIN_PREFIX "{PLAIN}"

struct user {
	char *name;
	char *hash;     /* crypt(3) hash, or NULL */
	char *secret;   /* plaintext, or NULL */
	const char *file;
	int line;
	size_t order;   /* definition order: config users, then the file */
};

struct authdb {
	struct user *users;  /* sorted by name */
	size_t nusers;
	int accept_any;
	int secrets;         /* users with a plaintext secret */
};

const char *
authdb_result_name(enum authdb_result r)
{
	switch (r) {
	case AUTHDB_OK: return "ok";
	case AUTHDB_FAIL: return "wrong credentials";
	case AUTHDB_UNKNOWN_USER: return "unknown user";
	case AUTHDB_NO_SECRET: return "no plaintext secret for CRAM-MD5";
	}
	return "?";
}

/* Traditional DES crypt: exactly 13 characters of [./0-9A-Za-z]. */
static int
des_hash(const char *h)
{
	if (strlen(h) != 13)
		return 0;
	for (const char *p = h; *p; p++)
		if (!(*p == '.' || *p == '/' || (*p >= '0' && *p <= '9') ||
		    (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
			return 0;
	return 1;
}

int
authdb_hash_supported(const char *hash, const char **why)
{
	static const char *const bad = "not a crypt(3) hash libcrypt can verify (yescrypt $y$, sha512-crypt $6$, bcrypt $2b$ ...)";

	/*
	 * libcrypt takes almost any two characters for an old DES salt, so a
	 * password written where a hash belongs would pass crypt_checksalt():
	 * only "$id$..." hashes and complete DES hashes are taken.
	 */
	if (hash[0] != '$' && !des_hash(hash)) {
		*why = bad;
		return -1;
	}
	switch (crypt_checksalt(hash)) {
	case CRYPT_SALT_OK:
	case CRYPT_SALT_METHOD_LEGACY:
	case CRYPT_SALT_TOO_CHEAP:
		break;
	case CRYPT_SALT_METHOD_DISABLED:
		*why = "hash method is disabled in libcrypt";
		return -1;
	default:
		*why = bad;
		return -1;
	}
	/* A complete hash: hashing with it as the setting gives a string as long. */
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *out = crypt_rn("smtptrapd", hash, cd, (int)sizeof(*cd));
	int complete = out != NULL && out[0] != '*' && strlen(out) == strlen(hash);
	free(cd);
	if (!complete) {
		*why = "incomplete hash (only the method and salt, or cut short)";
		return -1;
	}
	return 0;
}

static void
wipe_free(char *s)
{
	if (s != NULL) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void
authdb_free(struct authdb *db)
{
	if (db == NULL)
		return;
	for (size_t i = 0; i < db->nusers; i++) {
		free(db->users[i].name);
		free(db->users[i].hash);
		wipe_free(db->users[i].secret);
	}
	free(db->users);
	free(db);
}

static void
add_user(struct authdb *db, size_t *cap, const char *name, const char *hash,
    const char *secret, const char *file, int line)
{
	if (db->nusers == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		db->users = xrealloc(db->users, *cap * sizeof(*db->users));
	}
	struct user *u = &db->users[db->nusers++];
	u->name = xstrdup(name);
	u->hash = hash ? xstrdup(hash) : NULL;
	u->secret = secret ? xstrdup(secret) : NULL;
	u->file = file;
	u->line = line;
	u->order = db->nusers - 1;
}

/* One "user:secret" line; 0, or -1 with an error added. */
static int
passwd_line(struct authdb *db, size_t *cap, const char *file, int lineno, char *line,
    struct buf *errors)
{
	char *colon = strchr(line, ':');
	const char *why;

	if (colon == NULL || colon == line) {
		buf_printf(errors, "%s:%d: expected user:hash or user:{PLAIN}secret\n", file, lineno);
		return -1;
	}
	*colon = '\0';
	const char *name = line, *secret = colon + 1;
	int bad_char = 0;
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 127)
			bad_char = 1;
	if (strlen(name) > 255 || bad_char) {
		buf_printf(errors, "%s:%d: user name must be at most 255 characters without spaces or control characters\n",
		    file, lineno);
		return -1;
	}
	if (strncmp(secret, PLAIN_PREFIX, strlen(PLAIN_PREFIX)) == 0) {
		secret += strlen(PLAIN_PREFIX);
		if (*secret == '\0') {
			buf_printf(errors, "%s:%d: empty password for user '%s'\n", file, lineno, name);
			return -1;
		}
		if (strlen(secret) > 1024) {
			buf_printf(errors, "%s:%d: password of user '%s' is longer than 1024 characters\n",
			    file, lineno, name);
			return -1;
		}
		add_user(db, cap, name, NULL, secret, file, lineno);
		return 0;
	}
	if (authdb_hash_supported(secret, &why) != 0) {
		buf_printf(errors, "%s:%d: hash of user '%s': %s\n", file, lineno, name, why);
		return -1;
	}
	add_user(db, cap, name, secret, NULL, file, lineno);
	return 0;
}

static int
read_passwd(struct authdb *db, size_t *cap, const struct config *cfg, struct buf *errors)
{
	const char *file = cfg->auth_passwd_file;
	FILE *fp = fopen(file, "r");
	char *line = NULL;
	size_t linecap = 0;
	ssize_t n;
	int lineno = 0, rc = 0;

	if (fp == NULL) {
		buf_printf(errors, "%s:%d: auth: passwd_file '%s': %s\n",
		    cfg->path ? cfg->path : "(built-in)", cfg->auth_passwd_file_line, file,
		    strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &linecap, fp)) >= 0) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		if (memchr(line, '\0', (size_t)n) != NULL) {
			buf_printf(errors, "%s:%d: NUL octet in line\n", file, lineno);
			rc = -1;
			continue;
		}
		if (passwd_line(db, cap, file, lineno, line, errors) != 0)
			rc = -1;
	}
	if (line != NULL)
		OPENSSL_cleanse(line, linecap);
	free(line);
	fclose(fp);
	return rc;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct user *)a)->name, ((const struct user *)b)->name);
}

/* By name, then in definition order, so a duplicate follows its original. */
static int
cmp_user(const void *a, const void *b)
{
	const struct user *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

struct authdb *
authdb_load(const struct config *cfg, struct buf *errors)
{
	struct authdb *db = xcalloc(1, sizeof(*db));
	const char *cfile = cfg->path ? cfg->path : "(built-in)";
	size_t cap = 0;
	int rc = 0;

	db->accept_any = cfg->auth_accept_any;
	for (size_t i = 0; i < cfg->nauth_users; i++) {
		const struct auth_user_conf *u = &cfg->auth_users[i];
		const char *why;
		if (u->hash != NULL && authdb_hash_supported(u->hash, &why) != 0) {
			buf_printf(errors, "%s:%d: hash of user '%s': %s\n", cfile, u->line, u->name, why);
			rc = -1;
			continue;
		}
		add_user(db, &cap, u->name, u->hash, u->password, cfile, u->line);
	}
	if (cfg->auth_passwd_file != NULL && read_passwd(db, &cap, cfg, errors) != 0)
		rc = -1;
	if (db->nusers > 0)
		qsort(db->users, db->nusers, sizeof(*db->users), cmp_user);
	for (size_t i = 0; i < db->nusers; i++) {
		if (i > 0 && strcmp(db->users[i].name, db->users[i - 1].name) == 0) {
			const struct user *a = &db->users[i - 1], *b = &db->users[i];
			buf_printf(errors, "%s:%d: user '%s' is already defined at %s:%d\n",
			    b->file, b->line, b->name, a->file, a->line);
			rc = -1;
		}
		if (db->users[i].secret != NULL)
			db->secrets++;
	}
	if (rc != 0) {
		authdb_free(db);
		return NULL;
	}
	return db;
}

int
authdb_has_users(const struct authdb *db)
{
	return db != NULL && (db->accept_any || db->nusers > 0);
}

int
authdb_has_secrets(const struct authdb *db)
{
	return db != NULL && (db->accept_any || db->secrets > 0);
}

static const struct user *
find(const struct authdb *db, const char *name)
{
	struct user key = { .name = (char *)name };

	if (db->nusers == 0)
		return NULL;
	return bsearch(&key, db->users, db->nusers, sizeof(*db->users), cmp_name);
}

static int
same_string(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

enum authdb_result
authdb_check_password(const struct authdb *db, const char *user, const char *password)
{
	const struct user *u;

	if (db->accept_any)
		return AUTHDB_OK;
	if ((u = find(db, user)) == NULL)
		return AUTHDB_UNKNOWN_USER;
	if (u->secret != NULL)
		return same_string(u->secret, password) ? AUTHDB_OK : AUTHDB_FAIL;

	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	enum authdb_result r = AUTHDB_FAIL;
	const char *out = crypt_rn(password, u->hash, cd, (int)sizeof(*cd));
	if (out != NULL && out[0] != '*' && same_string(out, u->hash))
		r = AUTHDB_OK;
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return r;
}

enum authdb_result
authdb_check_cram(const struct authdb *db, const char *user, const char *challenge,
    const char *digest)
{
	const struct user *u;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];

	if (db->accept_any)
		return AUTHDB_OK;
	if ((u = find(db, user)) == NULL)
		return AUTHDB_UNKNOWN_USER;
	if (u->secret == NULL)
		return AUTHDB_NO_SECRET;
	if (HMAC(EVP_md5(), u->secret, (int)strlen(u->secret), (const unsigned char *)challenge,
	    strlen(challenge), md, &mdlen) == NULL)
		return AUTHDB_FAIL;
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[2 * mdlen] = '\0';
	return same_string(hex, digest) ? AUTHDB_OK : AUTHDB_FAIL;
}
