/*
 * check_config - unit tests for the configuration (config.c): the built-in
 * defaults; good fixture files (tests/data/good-*.conf) loading cleanly
 * with every value landing in struct config; bad fixture files
 * (tests/data/bad-*.conf) each rejected by config_load or config_check
 * with a "file:line: message" error naming the offending line; sizes and
 * timeouts given inline; unreadable files; config_parse_hostport and
 * config_add_listener_spec.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "tmpdir.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* "$srcdir/data/NAME" (static buffer, one at a time). */
static const char *
fixture(const char *name)
{
	static char path[4096];
	const char *srcdir = getenv("srcdir");

	snprintf(path, sizeof(path), "%s/data/%s", srcdir ? srcdir : ".", name);
	return path;
}

/* The error text, "" when nothing was appended. */
static const char *
errtext(const struct buf *b)
{
	return b->data != NULL ? b->data : "";
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (*s == '\n')
			n++;
	return n;
}

/* config_check() run with a fresh, writable, empty directory as cwd. */
static int
check_in_tmpdir(const struct config *cfg, struct buf *errors)
{
	char *dir = tmpdir_make("check_config");
	int here = open(".", O_RDONLY | O_DIRECTORY);
	int rc;

	ck_assert_int_ge(here, 0);
	ck_assert_int_eq(chdir(dir), 0);
	rc = config_check(cfg, errors);
	ck_assert_int_eq(fchdir(here), 0);
	close(here);
	ck_assert_int_eq(rmdir(dir), 0);
	free(dir);
	return rc;
}

/* Write text to a new file in dir; returns its (allocated) path. */
static char *
write_file(const char *dir, const char *name, const char *text)
{
	char *path;
	FILE *f;

	ck_assert_int_gt(asprintf(&path, "%s/%s", dir, name), 0);
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* Assert that text starts with "PATH:LINE: " and that line has msg. */
static void
assert_error_line(const char *text, const char *path, int line, const char *msg)
{
	char prefix[4200];
	const char *nl = strchr(text, '\n');
	size_t first = nl ? (size_t)(nl - text) : strlen(text);

	snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	ck_assert_msg(strncmp(text, prefix, strlen(prefix)) == 0,
	    "want prefix \"%s\", got \"%s\"", prefix, text);
	ck_assert_msg(nl != NULL, "error line not terminated: \"%s\"", text);
	ck_assert_msg(memmem(text, first, msg, strlen(msg)) != NULL,
	    "want \"%s\" in the first line of \"%s\"", msg, text);
}

/*
 * Defaults
 */

START_TEST(test_defaults)
{
	struct config cfg;
	struct buf errors;

	config_defaults(&cfg);
	ck_assert_ptr_null(cfg.path);
	ck_assert_ptr_nonnull(cfg.hostname);
	ck_assert_str_ne(cfg.hostname, "");
	ck_assert_str_eq(cfg.banner, "ESMTP smtptrapd");
	ck_assert_int_eq(cfg.log_level, LOGL_INFO);

	ck_assert_uint_eq(cfg.nlisteners, 1);
	ck_assert_str_eq(cfg.listeners[0].name, "smtp");
	ck_assert_str_eq(cfg.listeners[0].address, "127.0.0.1");
	ck_assert_int_eq(cfg.listeners[0].port, 2525);
	ck_assert_int_eq(cfg.listeners[0].line, 0);
	ck_assert_int_eq(cfg.listeners[0].tls, TLS_STARTTLS);
	ck_assert_int_eq(cfg.listeners[0].auth, 1);
	ck_assert_uint_eq(cfg.listeners[0].auth_without_tls, 0);
	ck_assert_int_eq(cfg.listeners[0].require_auth_for_mail, 0);

	ck_assert_int_ge(cfg.min_spare, 1);
	ck_assert_int_le(cfg.min_spare, cfg.max_spare);
	ck_assert_int_le(cfg.max_spare, cfg.max_workers);
	ck_assert_int_ge(cfg.max_sessions_per_worker, 1);

	ck_assert_int_gt(cfg.max_message_size, 0);
	ck_assert_int_gt(cfg.max_recipients, 0);
	ck_assert_int_gt(cfg.max_errors, 0);
	ck_assert_int_eq(cfg.min_data_rate, 500);
	ck_assert_int_gt(cfg.timeout_command_ms, 0);
	ck_assert_int_gt(cfg.timeout_data_ms, 0);
	ck_assert_int_gt(cfg.timeout_session_ms, 0);
	ck_assert_int_ge(cfg.timeout_shutdown_ms, 0);

	ck_assert_uint_eq(cfg.extensions, EXT_ALL);
	ck_assert_int_eq(cfg.bare_line_endings, BARE_REJECT);
	ck_assert_int_eq(cfg.long_lines, LONG_LINES_REJECT);

	ck_assert_int_eq(cfg.backend, BACKEND_MAILDIR);
	ck_assert_str_eq(cfg.maildir, "./maildir");
	ck_assert_int_eq(cfg.maildir_line, 0);
	ck_assert_int_eq(cfg.layout, LAYOUT_SINGLE);
	ck_assert_int_eq(cfg.fsync, 1);

	ck_assert_ptr_null(cfg.tls_certificate);
	ck_assert_ptr_null(cfg.tls_key);
	ck_assert_int_eq(cfg.tls_min_protocol, TLS_PROTO_1_2);
	ck_assert_int_eq(cfg.tls_max_protocol, TLS_PROTO_ANY);
	ck_assert_int_eq(cfg.tls_client_certificate, 0);
	ck_assert_int_eq(cfg.timeout_tls_handshake_ms, 60000);
	ck_assert_uint_eq(cfg.auth_mechanisms, AUTH_MECH_ALL);
	ck_assert_int_eq(cfg.auth_accept_any, 0);
	ck_assert_ptr_null(cfg.auth_passwd_file);
	ck_assert_uint_eq(cfg.nauth_users, 0);

	buf_init(&errors);
	ck_assert_msg(check_in_tmpdir(&cfg, &errors) == 0, "config_check: %s", errtext(&errors));
	ck_assert_str_eq(errtext(&errors), "");
	buf_free(&errors);
	config_free(&cfg);
	ck_assert_ptr_null(cfg.hostname);
	ck_assert_uint_eq(cfg.nlisteners, 0);
}
END_TEST

/* Load TEXT from a temporary file into *cfg (defaults first); must load. */
static void
load_text(struct config *cfg, const char *text)
{
	char path[] = "/tmp/check_config_textXXXXXX";
	struct buf errors;
	int fd = mkstemp(path);
	FILE *f;

	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	config_defaults(cfg);
	buf_init(&errors);
	ck_assert_msg(config_load(cfg, path, &errors) == 0, "%s: %s", text, errtext(&errors));
	buf_free(&errors);
	unlink(path);
}

/* Load "smtp = { extensions = [LIST]; };" from a temporary file. */
static unsigned
load_extensions(const char *list)
{
	struct config cfg;
	char text[512];
	unsigned mask;

	snprintf(text, sizeof(text), "smtp = { extensions = [ %s ]; };\n", list);
	load_text(&cfg, text);
	mask = cfg.extensions;
	config_free(&cfg);
	return mask;
}

/* Load "workers = { BODY };" and return the pool it ends up with. */
static void
load_workers(const char *body, int *sessions, int *min_spare, int *max_spare)
{
	struct config cfg;
	char text[512];

	snprintf(text, sizeof(text), "workers = { %s };\n", body);
	load_text(&cfg, text);
	*sessions = cfg.worker_sessions;
	*min_spare = cfg.min_spare;
	*max_spare = cfg.max_spare;
	config_free(&cfg);
}

/*
 * Spare workers left out: 1 and 1 with several sessions per worker (one
 * worker with room fills first), 2 and 10 with one; what is given stays.
 */
START_TEST(test_pool_defaults)
{
	struct config cfg;
	int n, lo, hi;

	config_defaults(&cfg);
	ck_assert_int_eq(cfg.worker_sessions, 32);
	ck_assert_int_eq(cfg.min_spare, 1);
	ck_assert_int_eq(cfg.max_spare, 1);
	config_free(&cfg);

	load_workers("max_workers = 64;", &n, &lo, &hi);
	ck_assert_int_eq(n, 32);
	ck_assert_int_eq(lo, 1);
	ck_assert_int_eq(hi, 1);
	load_workers("sessions = 1;", &n, &lo, &hi);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(lo, 2);
	ck_assert_int_eq(hi, 10);
	load_workers("min_spare = 3;", &n, &lo, &hi);
	ck_assert_int_eq(lo, 3);
	ck_assert_int_eq(hi, 3);
	load_workers("max_spare = 5;", &n, &lo, &hi);
	ck_assert_int_eq(lo, 1);
	ck_assert_int_eq(hi, 5);
	load_workers("sessions = 1; max_spare = 1;", &n, &lo, &hi);
	ck_assert_int_eq(lo, 1);
	ck_assert_int_eq(hi, 1);
	load_workers("sessions = 1; max_workers = 4;", &n, &lo, &hi);
	ck_assert_int_eq(lo, 2);
	ck_assert_int_eq(hi, 4);
	load_workers("sessions = 64; min_spare = 2; max_spare = 6;", &n, &lo, &hi);
	ck_assert_int_eq(n, 64);
	ck_assert_int_eq(lo, 2);
	ck_assert_int_eq(hi, 6);
}
END_TEST

/* Every extension name maps to its own bit; all of them make EXT_ALL. */
START_TEST(test_ext_names)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
		{ "\"PIPELINING\"", EXT_PIPELINING },
		{ "\"SIZE\"", EXT_SIZE },
		{ "\"8BITMIME\"", EXT_8BITMIME },
		{ "\"SMTPUTF8\"", EXT_SMTPUTF8 },
		{ "\"ENHANCEDSTATUSCODES\"", EXT_ENHANCEDSTATUSCODES },
		{ "\"CHUNKING\"", EXT_CHUNKING },
		{ "\"DSN\"", EXT_DSN },
	};
	unsigned all = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ck_assert_uint_eq(load_extensions(names[i].name), names[i].bit);
		all |= names[i].bit;
	}
	ck_assert_uint_eq(load_extensions("\"CHUNKING\", \"BINARYMIME\""), EXT_CHUNKING | EXT_BINARYMIME);
	ck_assert_uint_eq(all | EXT_BINARYMIME, EXT_ALL);
	ck_assert_uint_eq(load_extensions("\"PIPELINING\", \"SIZE\", \"8BITMIME\", \"SMTPUTF8\", "
	    "\"ENHANCEDSTATUSCODES\", \"CHUNKING\", \"BINARYMIME\", \"DSN\""), EXT_ALL);
}
END_TEST

/*
 * Good fixtures: each loads with no error, passes config_check, and its
 * values land where they belong.
 */

static void
verify_full(const struct config *c)
{
	ck_assert_str_eq(c->hostname, "trap.example.net");
	ck_assert_str_eq(c->banner, "ESMTP test trap");
	ck_assert_int_eq(c->log_level, LOGL_DEBUG);

	ck_assert_uint_eq(c->nlisteners, 2);
	ck_assert_str_eq(c->listeners[0].name, "v4");
	ck_assert_str_eq(c->listeners[0].address, "127.0.0.1");
	ck_assert_int_eq(c->listeners[0].port, 2526);
	ck_assert_int_eq(c->listeners[0].line, 9);
	ck_assert_str_eq(c->listeners[1].name, "v6");
	ck_assert_str_eq(c->listeners[1].address, "::1");
	ck_assert_int_eq(c->listeners[1].port, 0);
	ck_assert_int_eq(c->listeners[1].line, 14);
	ck_assert_int_eq(c->listeners[0].tls, TLS_STARTTLS);
	ck_assert_int_eq(c->listeners[0].auth, 0);
	ck_assert_uint_eq(c->listeners[0].auth_without_tls, 0);
	ck_assert_int_eq(c->listeners[0].require_auth_for_mail, 0);
	ck_assert_int_eq(c->listeners[1].tls, TLS_IMPLICIT);
	ck_assert_int_eq(c->listeners[1].auth, 1);
	ck_assert_uint_eq(c->listeners[1].auth_without_tls, AUTH_MECH_PLAIN | AUTH_MECH_CRAM_MD5);
	ck_assert_int_eq(c->listeners[1].require_auth_for_mail, 1);

	ck_assert_int_eq(c->min_spare, 1);
	ck_assert_int_eq(c->max_spare, 3);
	ck_assert_int_eq(c->max_workers, 8);
	ck_assert_int_eq(c->max_sessions_per_worker, 50);

	ck_assert_int_eq(c->max_message_size, 10485760LL);
	ck_assert_int_eq(c->max_recipients, 7);
	ck_assert_int_eq(c->max_errors, 3);

	ck_assert_int_eq(c->timeout_command_ms, 30000);
	ck_assert_int_eq(c->timeout_data_ms, 500);
	ck_assert_int_eq(c->timeout_session_ms, 90250);
	ck_assert_int_eq(c->timeout_shutdown_ms, 0);
	ck_assert_int_eq(c->timeout_tls_handshake_ms, 2500);

	ck_assert_uint_eq(c->extensions, EXT_PIPELINING | EXT_SIZE);
	ck_assert_int_eq(c->bare_line_endings, BARE_NORMALIZE);
	ck_assert_int_eq(c->long_lines, LONG_LINES_ACCEPT);

	ck_assert_int_eq(c->backend, BACKEND_MAILDIR);
	ck_assert_str_eq(c->maildir, "/tmp");
	ck_assert_int_eq(c->maildir_line, 45);
	ck_assert_int_eq(c->layout, LAYOUT_PER_RECIPIENT);
	ck_assert_int_eq(c->fsync, 0);

	ck_assert_int_eq(c->tls_line, 50);
	ck_assert_str_eq(c->tls_certificate, "/etc/ssl/trap.crt");
	ck_assert_int_eq(c->tls_certificate_line, 51);
	ck_assert_str_eq(c->tls_key, "/etc/ssl/trap.key");
	ck_assert_int_eq(c->tls_key_line, 52);
	ck_assert_str_eq(c->tls_chain, "/etc/ssl/chain.pem");
	ck_assert_int_eq(c->tls_chain_line, 53);
	ck_assert_int_eq(c->tls_min_protocol, TLS_PROTO_1_3);
	ck_assert_int_eq(c->tls_max_protocol, TLS_PROTO_1_3);
	ck_assert_str_eq(c->tls_ciphers, "HIGH:!aNULL");
	ck_assert_int_eq(c->tls_ciphers_line, 56);
	ck_assert_str_eq(c->tls_ciphersuites, "TLS_AES_256_GCM_SHA384");
	ck_assert_int_eq(c->tls_client_certificate, 1);
	ck_assert_str_eq(c->tls_client_ca, "/etc/ssl/ca.pem");
	ck_assert_int_eq(c->tls_client_ca_line, 59);

	ck_assert_uint_eq(c->auth_mechanisms, AUTH_MECH_LOGIN);
	ck_assert_int_eq(c->auth_accept_any, 1);
	ck_assert_str_eq(c->auth_passwd_file, "/etc/smtptrapd/passwd");
	ck_assert_int_eq(c->auth_passwd_file_line, 65);
	ck_assert_uint_eq(c->nauth_users, 2);
	ck_assert_str_eq(c->auth_users[0].name, "alice");
	ck_assert_str_eq(c->auth_users[0].password, "wonderland");
	ck_assert_ptr_null(c->auth_users[0].hash);
	ck_assert_int_eq(c->auth_users[0].line, 67);
	ck_assert_str_eq(c->auth_users[1].name, "bob");
	ck_assert_ptr_null(c->auth_users[1].password);
	ck_assert_str_eq(c->auth_users[1].hash, "$6$salt$hash");
	ck_assert_int_eq(c->auth_users[1].line, 68);
}

static void
verify_partial(const struct config *c)
{
	struct config d;

	config_defaults(&d);
	ck_assert_int_eq(c->max_message_size, 1048576LL);
	ck_assert_int_eq(c->timeout_command_ms, 1500);
	ck_assert_uint_eq(c->extensions, 0);
	ck_assert_int_eq(c->backend, BACKEND_BLACKHOLE);
	/* Untouched settings keep their defaults. */
	ck_assert_str_eq(c->hostname, d.hostname);
	ck_assert_str_eq(c->banner, d.banner);
	ck_assert_uint_eq(c->nlisteners, 1);
	ck_assert_str_eq(c->listeners[0].address, "127.0.0.1");
	ck_assert_int_eq(c->listeners[0].port, 2525);
	ck_assert_int_eq(c->max_recipients, d.max_recipients);
	ck_assert_int_eq(c->timeout_data_ms, d.timeout_data_ms);
	ck_assert_int_eq(c->max_workers, d.max_workers);
	ck_assert_str_eq(c->maildir, d.maildir);
	ck_assert_int_eq(c->maildir_line, 0);
	ck_assert_int_eq(c->fsync, 1);
	config_free(&d);
}

static void
verify_empty(const struct config *c)
{
	struct config d;

	config_defaults(&d);
	ck_assert_str_eq(c->hostname, d.hostname);
	ck_assert_str_eq(c->banner, d.banner);
	ck_assert_int_eq(c->log_level, d.log_level);
	ck_assert_uint_eq(c->nlisteners, 1);
	ck_assert_str_eq(c->listeners[0].name, "smtp");
	ck_assert_int_eq(c->listeners[0].port, 2525);
	ck_assert_int_eq(c->min_spare, d.min_spare);
	ck_assert_int_eq(c->max_spare, d.max_spare);
	ck_assert_int_eq(c->max_workers, d.max_workers);
	ck_assert_int_eq(c->max_message_size, d.max_message_size);
	ck_assert_int_eq(c->timeout_session_ms, d.timeout_session_ms);
	ck_assert_uint_eq(c->extensions, EXT_ALL);
	ck_assert_str_eq(c->maildir, "./maildir");
	config_free(&d);
}

static void
verify_no_terminators(const struct config *c)
{
	ck_assert_str_eq(c->hostname, "a.example");
	ck_assert_str_eq(c->banner, "no semicolons");
	/* Extension names are matched without regard to case. */
	ck_assert_uint_eq(c->extensions, EXT_PIPELINING | EXT_CHUNKING | EXT_BINARYMIME);
	ck_assert_str_eq(c->maildir, "/tmp");
	ck_assert_int_eq(c->maildir_line, 10);
}

static const struct good_case {
	const char *file;
	void (*verify)(const struct config *);
} good_cases[] = {
	{ "good-full.conf", verify_full },
	{ "good-partial.conf", verify_partial },
	{ "good-empty.conf", verify_empty },
	{ "good-no-terminators.conf", verify_no_terminators },
};

START_TEST(test_good_fixture)
{
	const struct good_case *gc = &good_cases[_i];
	const char *path = fixture(gc->file);
	struct config cfg;
	struct buf errors;
	int rc;

	config_defaults(&cfg);
	buf_init(&errors);
	rc = config_load(&cfg, path, &errors);
	ck_assert_msg(rc == 0, "%s: rc %d: %s", path, rc, errtext(&errors));
	ck_assert_str_eq(errtext(&errors), "");
	ck_assert_ptr_nonnull(cfg.path);
	ck_assert_str_eq(cfg.path, path);
	rc = check_in_tmpdir(&cfg, &errors);
	ck_assert_msg(rc == 0, "%s: config_check: %s", path, errtext(&errors));
	ck_assert_str_eq(errtext(&errors), "");
	gc->verify(&cfg);
	buf_free(&errors);
	config_free(&cfg);
}
END_TEST

/* Loading the same file twice gives the same result (no accumulation). */
START_TEST(test_good_reload)
{
	const char *path = fixture("good-full.conf");
	struct config cfg;
	struct buf errors;

	config_defaults(&cfg);
	buf_init(&errors);
	ck_assert_int_eq(config_load(&cfg, path, &errors), 0);
	ck_assert_int_eq(config_load(&cfg, path, &errors), 0);
	ck_assert_str_eq(errtext(&errors), "");
	verify_full(&cfg);
	buf_free(&errors);
	config_free(&cfg);
}
END_TEST

/*
 * Bad fixtures: the first error names the fixture path exactly as given
 * and the line of the offending setting.
 */

enum phase { LOAD, CHECK };

static const struct bad_case {
	const char *file;
	enum phase phase;   /* rejected by config_load or by config_check */
	int line;
	const char *msg;
	size_t nerrors;     /* error lines expected; 0 = not checked */
} bad_cases[] = {
	{ "bad-unknown-top.conf", LOAD, 3, "unknown setting 'colour'", 1 },
	{ "bad-unknown-in-group.conf", LOAD, 4, "unknown setting 'spare' in group 'workers'", 1 },
	{ "bad-type.conf", LOAD, 4, "'recipients' must be an integer", 1 },
	{ "bad-max-workers-zero.conf", LOAD, 3, "'max_workers' must be between 1 and 4096, not 0", 1 },
	{ "bad-port-range.conf", LOAD, 6, "'port' must be between 0 and 65535, not 70000", 1 },
	{ "bad-backend-enum.conf", LOAD, 4, "'backend' must be one of \"maildir\", \"blackhole\"", 1 },
	{ "bad-unknown-extension.conf", LOAD, 5, "unknown extension 'STARTTLS' in 'extensions'", 1 },
	{ "bad-binarymime.conf", LOAD, 4, "BINARYMIME requires CHUNKING", 1 },
	{ "bad-listener-no-port.conf", LOAD, 4, "listener 'noport' has no 'port'", 1 },
	{ "bad-listener-hostname.conf", LOAD, 5, "must be a numeric IPv4 or IPv6 address, not 'localhost'", 1 },
	{ "bad-group-scalar.conf", LOAD, 4, "'limits' must be a group", 1 },
	{ "bad-syntax.conf", LOAD, 5, "syntax error", 1 },
	{ "bad-duplicate.conf", LOAD, 5, "duplicate setting", 1 },
	{ "bad-empty-listeners.conf", LOAD, 2, "'listeners' must contain at least one listener", 1 },
	{ "bad-bool.conf", LOAD, 4, "'fsync' must be true or false", 1 },
	{ "bad-tls-mode.conf", LOAD, 4, "'tls' must be one of \"none\", \"starttls\", \"starttls-required\", \"implicit\"", 1 },
	{ "bad-auth-mech.conf", LOAD, 4, "unknown mechanism 'DIGEST-MD5' in 'mechanisms'", 1 },
	{ "bad-auth-without-tls.conf", LOAD, 4, "'auth_without_tls' must be true, false or a list of mechanisms", 1 },
	{ "bad-user-both.conf", LOAD, 4, "user 'a' needs exactly one of 'password' and 'hash'", 1 },
	{ "bad-user-noname.conf", LOAD, 4, "user has no 'name'", 0 },
	{ "bad-tls-proto.conf", LOAD, 3, "'min_protocol' must be one of \"TLSv1\", \"TLSv1.1\", \"TLSv1.2\", \"TLSv1.3\"", 1 },
	/* Pool sizes are checked after loading; errors name the group's line. */
	{ "bad-min-spare.conf", CHECK, 2, "workers: min_spare (5) must not exceed max_spare (2)", 1 },
	{ "bad-max-spare.conf", CHECK, 2, "workers: max_spare (20) must not exceed max_workers (10)", 1 },
	{ "bad-dup-listener.conf", CHECK, 6, "listener name 'smtp' is already used on line 4", 1 },
	{ "bad-tls-key-only.conf", CHECK, 3, "tls: 'key' is set but 'certificate' is not", 1 },
	{ "bad-tls-versions.conf", CHECK, 3, "tls: max_protocol is older than min_protocol", 1 },
	{ "bad-client-ca.conf", CHECK, 4, "tls: 'client_ca' needs client_certificate = true", 1 },
	{ "bad-require-auth.conf", CHECK, 4, "listener 'submission': require_auth_for_mail needs auth = true, a mechanism and users", 1 },
	{ "bad-require-auth-off.conf", CHECK, 3, "listener 'submission': require_auth_for_mail needs auth = true", 1 },
	{ "bad-dir-not-dir.conf", CHECK, 4, "directory '/dev/null' is not usable: /dev/null is not a directory", 1 },
	{ "bad-dir-under-file.conf", CHECK, 4, "directory '/dev/null/maildir' is not usable", 1 },
};

START_TEST(test_bad_fixture)
{
	const struct bad_case *bc = &bad_cases[_i];
	const char *path = fixture(bc->file);
	struct config cfg;
	struct buf errors;
	int rc;

	config_defaults(&cfg);
	buf_init(&errors);
	rc = config_load(&cfg, path, &errors);
	if (bc->phase == LOAD) {
		ck_assert_msg(rc == -1, "%s: config_load rc %d", path, rc);
	} else {
		ck_assert_msg(rc == 0, "%s: config_load rc %d: %s", path, rc, errtext(&errors));
		ck_assert_str_eq(errtext(&errors), "");
		rc = check_in_tmpdir(&cfg, &errors);
		ck_assert_msg(rc == -1, "%s: config_check rc %d", path, rc);
	}
	assert_error_line(errtext(&errors), path, bc->line, bc->msg);
	if (bc->nerrors != 0)
		ck_assert_msg(count_lines(errtext(&errors)) == bc->nerrors,
		    "want %zu error(s), got \"%s\"", bc->nerrors, errtext(&errors));
	buf_free(&errors);
	config_free(&cfg);
}
END_TEST

/* Every problem in a file is reported, in order, each with its line. */
START_TEST(test_bad_multi)
{
	const char *path = fixture("bad-multi.conf");
	struct config cfg;
	struct buf errors;
	char want[20000];

	config_defaults(&cfg);
	buf_init(&errors);
	ck_assert_int_eq(config_load(&cfg, path, &errors), -1);
	snprintf(want, sizeof(want),
	    "%s:3: 'max_workers' must be between 1 and 4096, not 0\n"
	    "%s:4: 'min_spare' must be an integer\n"
	    "%s:6: unknown setting 'colour'\n"
	    "%s:8: 'long_lines' must be one of \"reject\", \"accept\"\n",
	    path, path, path, path);
	ck_assert_str_eq(errtext(&errors), want);
	buf_free(&errors);
	config_free(&cfg);
}
END_TEST

/* Errors are appended to whatever the buffer already holds. */
START_TEST(test_errors_appended)
{
	const char *path = fixture("bad-unknown-top.conf");
	struct config cfg;
	struct buf errors;

	config_defaults(&cfg);
	buf_init(&errors);
	buf_puts(&errors, "earlier\n");
	ck_assert_int_eq(config_load(&cfg, path, &errors), -1);
	ck_assert_int_eq(strncmp(errtext(&errors), "earlier\n", 8), 0);
	assert_error_line(errtext(&errors) + 8, path, 3, "unknown setting 'colour'");
	buf_free(&errors);
	config_free(&cfg);
}
END_TEST

/* delivery.directory naming an existing regular file. */
START_TEST(test_dir_is_regular_file)
{
	char *dir = tmpdir_make("check_config");
	char *file = write_file(dir, "not-a-dir", "x\n");
	char *text, *path, *msg;
	struct config cfg;
	struct buf errors;

	ck_assert_int_gt(asprintf(&text,
	    "# generated by check_config\n"
	    "delivery = {\n"
	    "\tdirectory = \"%s\";\n"
	    "};\n", file), 0);
	path = write_file(dir, "file.conf", text);
	config_defaults(&cfg);
	buf_init(&errors);
	ck_assert_int_eq(config_load(&cfg, path, &errors), 0);
	ck_assert_str_eq(errtext(&errors), "");
	ck_assert_str_eq(cfg.maildir, file);
	ck_assert_int_eq(cfg.maildir_line, 3);
	ck_assert_int_eq(config_check(&cfg, &errors), -1);
	ck_assert_int_gt(asprintf(&msg, "%s is not a directory", file), 0);
	assert_error_line(errtext(&errors), path, 3, msg);
	ck_assert_uint_eq(count_lines(errtext(&errors)), 1);

	/* A missing directory under a writable one is fine: it is created. */
	free(cfg.maildir);
	ck_assert_int_gt(asprintf(&cfg.maildir, "%s/new/deeper", dir), 0);
	buf_reset(&errors);
	ck_assert_msg(config_check(&cfg, &errors) == 0, "%s", errtext(&errors));

	buf_free(&errors);
	config_free(&cfg);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(unlink(file), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	free(msg);
	free(path);
	free(text);
	free(file);
	free(dir);
}
END_TEST

START_TEST(test_missing_file)
{
	const char *path = fixture("no-such-file.conf");
	struct config cfg;
	struct buf errors;

	config_defaults(&cfg);
	buf_init(&errors);
	ck_assert_int_eq(config_load(&cfg, path, &errors), -1);
	assert_error_line(errtext(&errors), path, 0, "cannot read");
	ck_assert_msg(strstr(errtext(&errors), strerror(ENOENT)) != NULL, "%s", errtext(&errors));
	ck_assert_uint_eq(count_lines(errtext(&errors)), 1);
	/* A failed load leaves the configuration as it was. */
	ck_assert_ptr_null(cfg.path);
	ck_assert_int_eq(cfg.listeners[0].port, 2525);
	buf_free(&errors);
	config_free(&cfg);
}
END_TEST

START_TEST(test_unreadable_file)
{
	char *dir = tmpdir_make("check_config");
	char *path = write_file(dir, "secret.conf", "limits = { errors = 2; };\n");
	struct config cfg;
	struct buf errors;

	config_defaults(&cfg);
	buf_init(&errors);
	ck_assert_int_eq(chmod(path, 0), 0);
	if (geteuid() != 0) {
		/* root reads anything, so this part only runs unprivileged. */
		ck_assert_int_eq(config_load(&cfg, path, &errors), -1);
		assert_error_line(errtext(&errors), path, 0, "cannot read");
		ck_assert_int_eq(cfg.max_errors, 20);
		buf_reset(&errors);
	}

	/* A directory is not a configuration file either. */
	ck_assert_int_eq(config_load(&cfg, dir, &errors), -1);
	assert_error_line(errtext(&errors), dir, 0, "");
	ck_assert_ptr_null(cfg.path);

	buf_free(&errors);
	config_free(&cfg);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	free(path);
	free(dir);
}
END_TEST

/*
 * Single settings given inline (written to a temporary file): sizes and
 * timeouts, both accepted and rejected.
 */

static const struct inline_case {
	const char *text;
	int ok;
	long long want;        /* message_size, or timeout in ms */
	int is_timeout;        /* want is timeouts.command (ms) */
} inline_cases[] = {
	{ "limits = { message_size = \"10M\"; };", 1, 10485760LL, 0 },
	{ "limits = { message_size = \"10240K\"; };", 1, 10485760LL, 0 },
	{ "limits = { message_size = \"10m\"; };", 1, 10485760LL, 0 },
	{ "limits = { message_size = \"1G\"; };", 1, 1073741824LL, 0 },
	{ "limits = { message_size = \"1024G\"; };", 1, 1LL << 40, 0 },
	{ "limits = { message_size = 1099511627776L; };", 1, 1LL << 40, 0 },
	{ "limits = { message_size = \"12345\"; };", 1, 12345, 0 },
	{ "limits = { message_size = 1; };", 1, 1, 0 },
	{ "limits = { message_size = \"1025G\"; };", 0, 0, 0 },
	{ "limits = { message_size = 1099511627777L; };", 0, 0, 0 },
	{ "limits = { message_size = 0; };", 0, 0, 0 },
	{ "limits = { message_size = \"0\"; };", 0, 0, 0 },
	{ "limits = { message_size = -1; };", 0, 0, 0 },
	{ "limits = { message_size = \"-1M\"; };", 0, 0, 0 },
	{ "limits = { message_size = \"10MB\"; };", 0, 0, 0 },
	{ "limits = { message_size = \"10T\"; };", 0, 0, 0 },
	{ "limits = { message_size = \"M\"; };", 0, 0, 0 },
	{ "limits = { message_size = \"\"; };", 0, 0, 0 },
	{ "limits = { message_size = 10.5; };", 0, 0, 0 },
	{ "limits = { message_size = \"99999999999999999999\"; };", 0, 0, 0 },
	{ "limits = { message_size = \"9223372036854775807K\"; };", 0, 0, 0 },
	{ "timeouts = { command = 0.5; };", 1, 500, 1 },
	{ "timeouts = { command = 0.01; };", 1, 10, 1 },
	{ "timeouts = { command = 2.25; };", 1, 2250, 1 },
	{ "timeouts = { command = 86400; };", 1, 86400000, 1 },
	{ "timeouts = { command = 0.009; };", 0, 0, 1 },
	{ "timeouts = { command = 0; };", 0, 0, 1 },
	{ "timeouts = { command = -1; };", 0, 0, 1 },
	{ "timeouts = { command = 86401; };", 0, 0, 1 },
	{ "timeouts = { command = \"5\"; };", 0, 0, 1 },
	{ "timeouts = { command = true; };", 0, 0, 1 },
};

START_TEST(test_inline_setting)
{
	const struct inline_case *ic = &inline_cases[_i];
	char *dir = tmpdir_make("check_config");
	char *text, *path;
	struct config cfg;
	struct buf errors;
	int rc;

	ck_assert_int_gt(asprintf(&text, "# inline case\n%s\n", ic->text), 0);
	path = write_file(dir, "inline.conf", text);
	config_defaults(&cfg);
	buf_init(&errors);
	rc = config_load(&cfg, path, &errors);
	if (ic->ok) {
		ck_assert_msg(rc == 0, "%s: %s", ic->text, errtext(&errors));
		ck_assert_str_eq(errtext(&errors), "");
		if (ic->is_timeout)
			ck_assert_int_eq(cfg.timeout_command_ms, ic->want);
		else
			ck_assert_int_eq(cfg.max_message_size, ic->want);
	} else {
		ck_assert_msg(rc == -1, "%s: accepted", ic->text);
		assert_error_line(errtext(&errors), path, 2, ic->is_timeout ? "'command'" : "'message_size'");
		ck_assert_uint_eq(count_lines(errtext(&errors)), 1);
	}
	buf_free(&errors);
	config_free(&cfg);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	free(path);
	free(text);
	free(dir);
}
END_TEST

/*
 * config_parse_hostport
 */

static const struct hostport_case {
	const char *spec;
	int ok;
	const char *addr;
	int port;
} hostport_cases[] = {
	{ "127.0.0.1:25", 1, "127.0.0.1", 25 },
	{ "[::1]:2525", 1, "::1", 2525 },
	{ "[2001:db8::1]:0", 1, "2001:db8::1", 0 },
	{ ":0", 1, "", 0 },
	{ ":2525", 1, "", 2525 },
	{ "0.0.0.0:65535", 1, "0.0.0.0", 65535 },
	{ "::1:25", 0, NULL, 0 },
	{ "host:25", 0, NULL, 0 },
	{ "[localhost]:25", 0, NULL, 0 },
	{ "1.2.3.4:65536", 0, NULL, 0 },
	{ "1.2.3.4:", 0, NULL, 0 },
	{ "1.2.3.4", 0, NULL, 0 },
	{ "1.2.3.4:25x", 0, NULL, 0 },
	{ "1.2.3.4:-1", 0, NULL, 0 },
	{ "1.2.3.4:99999999999999999999", 0, NULL, 0 },
	{ "1.2.3.256:25", 0, NULL, 0 },
	{ "[::1]", 0, NULL, 0 },
	{ "[::1]:", 0, NULL, 0 },
	{ "[::1]25", 0, NULL, 0 },
	{ "[::1:25", 0, NULL, 0 },
	{ "", 0, NULL, 0 },
	{ ":", 0, NULL, 0 },
};

START_TEST(test_hostport)
{
	const struct hostport_case *hc = &hostport_cases[_i];
	char *addr = (char *)"untouched";
	int port = -7;
	int rc;

	rc = config_parse_hostport(hc->spec, &addr, &port);
	if (hc->ok) {
		ck_assert_msg(rc == 0, "\"%s\" rejected", hc->spec);
		ck_assert_str_eq(addr, hc->addr);
		ck_assert_int_eq(port, hc->port);
		free(addr);
	} else {
		ck_assert_msg(rc == -1, "\"%s\" accepted", hc->spec);
		ck_assert_str_eq(addr, "untouched");
		ck_assert_int_eq(port, -7);
	}
}
END_TEST

/*
 * config_add_listener_spec
 */

START_TEST(test_add_listener_spec)
{
	struct config cfg;
	struct buf errors;
	char err[256];

	config_defaults(&cfg);
	ck_assert_int_eq(config_add_listener_spec(&cfg, "[::1]:2600", 1, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.nlisteners, 1);
	ck_assert_str_eq(cfg.listeners[0].address, "::1");
	ck_assert_int_eq(cfg.listeners[0].port, 2600);
	ck_assert_int_eq(cfg.listeners[0].line, 0);

	ck_assert_int_eq(config_add_listener_spec(&cfg, "127.0.0.1:0", 0, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.nlisteners, 2);
	ck_assert_str_eq(cfg.listeners[0].address, "::1");
	ck_assert_str_eq(cfg.listeners[1].address, "127.0.0.1");
	ck_assert_int_eq(cfg.listeners[1].port, 0);
	ck_assert_str_ne(cfg.listeners[0].name, cfg.listeners[1].name);

	/* Distinct specs give distinct names, so config_check is happy. */
	buf_init(&errors);
	ck_assert_msg(check_in_tmpdir(&cfg, &errors) == 0, "%s", errtext(&errors));

	/* A bad spec is refused and changes nothing. */
	err[0] = '\0';
	ck_assert_int_eq(config_add_listener_spec(&cfg, "localhost:25", 1, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "localhost:25"));
	ck_assert_uint_eq(cfg.nlisteners, 2);

	/* Replacing again drops both. */
	ck_assert_int_eq(config_add_listener_spec(&cfg, ":2525", 1, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.nlisteners, 1);
	ck_assert_str_eq(cfg.listeners[0].address, "");
	ck_assert_int_eq(cfg.listeners[0].port, 2525);

	buf_free(&errors);
	config_free(&cfg);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("defaults");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_ext_names);
	tcase_add_test(tc, test_pool_defaults);
	suite_add_tcase(s, tc);

	tc = tcase_create("good");
	tcase_add_loop_test(tc, test_good_fixture, 0, (int)NELEM(good_cases));
	tcase_add_test(tc, test_good_reload);
	suite_add_tcase(s, tc);

	tc = tcase_create("bad");
	tcase_add_loop_test(tc, test_bad_fixture, 0, (int)NELEM(bad_cases));
	tcase_add_test(tc, test_bad_multi);
	tcase_add_test(tc, test_errors_appended);
	tcase_add_test(tc, test_dir_is_regular_file);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_unreadable_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("inline");
	tcase_add_loop_test(tc, test_inline_setting, 0, (int)NELEM(inline_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("listen_spec");
	tcase_add_loop_test(tc, test_hostport, 0, (int)NELEM(hostport_cases));
	tcase_add_test(tc, test_add_listener_spec);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
