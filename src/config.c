/*
 * config - libconfig file -> validated struct config; see config.h.
 *
 * Every setting is described once, in the tables below: its group, name,
 * type, range and where it lands in struct config. Unknown settings, wrong
 * types and out-of-range values are all reported with the file and line
 * libconfig recorded for the setting, so "smtptrapd -t" points at the line
 * to fix.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_priv.h"
#include "log.h"
#include "scoreboard.h"
#include "xmalloc.h"

struct group {
	const char *name;
	const struct setting *settings;
	size_t lineoff;     /* where the group's own line is kept, or 0 */
};

#define OFF(f) offsetof(struct config, f)
#define LINE(f) (offsetof(struct config, f) + 1)

static const char *const backend_names[] = { "maildir", "blackhole", NULL };
static const char *const layout_names[] = { "single", "per-recipient", NULL };
static const char *const bare_names[] = { "reject", "normalize", NULL };
static const char *const long_names[] = { "reject", "accept", NULL };
static const char *const early_names[] = { "reject", "drop", "allow", NULL };
static const char *const facility_names[] = { "mail", "daemon", "user", "local0", "local1",
	"local2", "local3", "local4", "local5", "local6", "local7", NULL };
static const char *const proto_names[] = { "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", NULL };

static const struct setting server_settings[] = {
	{ "hostname", T_STRING, OFF(hostname), 0, 0, NULL, 0 },
	{ "banner", T_STRING, OFF(banner), 0, 0, NULL, 0 },
	{ "log_level", T_LOGLEVEL, OFF(log_level), 0, 0, NULL, 0 },
	{ "log_facility", T_ENUM, OFF(log_facility), 0, 0, facility_names, 0 },
	{ "log_file", T_STRING, OFF(log_file), 0, 0, NULL, LINE(log_file_line) },
	{ "transcript_directory", T_STRING, OFF(transcript_dir), 0, 0, NULL, LINE(transcript_dir_line) },
	{ "user", T_STRING, OFF(user), 0, 0, NULL, LINE(user_line) },
	{ "group", T_STRING, OFF(group), 0, 0, NULL, LINE(group_line) },
	{ "pid_file", T_STRING, OFF(pid_file), 0, 0, NULL, LINE(pid_file_line) },
	{ "state_directory", T_STRING, OFF(state_directory), 0, 0, NULL, LINE(state_directory_line) },
	{ NULL, 0, 0, 0, 0, NULL, 0 },
};

static const struct setting workers_settings[] = {
	{ "min_spare", T_INT, OFF(min_spare), 1, 4096, NULL, 0 },
	{ "max_spare", T_INT, OFF(max_spare), 1, 4096, NULL, 0 },
	{ "max_workers", T_INT, OFF(max_workers), 1, 4096, NULL, 0 },
	{ "max_sessions_per_worker", T_INT, OFF(max_sessions_per_worker), 1, INT_MAX, NULL, 0 },
	{ "sessions", T_INT, OFF(worker_sessions), 1, SB_SESSIONS_MAX, NULL, 0 },
	{ NULL, 0, 0, 0, 0, NULL, 0 },
};

static const struct setting limits_settings[] = {
	{ "message_size", T_SIZE, OFF(max_message_size), 1, 1LL << 40, NULL, 0 },
	{ "recipients", T_INT, OFF(max_recipients), 1, 100000, NULL, 0 },
	{ "errors", T_INT, OFF(max_errors), 1, 100000, NULL, 0 },
	{ "soft_errors", T_INT, OFF(soft_errors), 0, 100000, NULL, 0 },
	{ "error_delay", T_MS, OFF(error_delay_ms), 0, 60000, NULL, 0 },
	{ "connections", T_INT, OFF(max_connections), 0, 100000, NULL, 0 },
	{ "connections_per_client", T_INT, OFF(max_connections_per_client), 0, 100000, NULL, 0 },
	{ "connection_rate", T_INT, OFF(connection_rate), 0, 100000000, NULL, 0 },
	{ "message_rate", T_INT, OFF(message_rate), 0, 100000000, NULL, 0 },
	{ "messages_per_session", T_INT, OFF(messages_per_session), 0, 100000000, NULL, 0 },
	{ "min_data_rate", T_INT, OFF(min_data_rate), 0, 1000000000, NULL, 0 },
	{ NULL, 0, 0, 0, 0, NULL, 0 },
};

static const struct setting timeouts_settings[] = {
	{ "command", T_MS, OFF(timeout_command_ms), 10, 86400000, NULL, 0 },
	{ "data", T_MS, OFF(timeout_data_ms), 10, 86400000, NULL, 0 },
	{ "session", T_MS, OFF(timeout_session_ms), 10, 86400000, NULL, 0 },
	{ "shutdown", T_MS, OFF(timeout_shutdown_ms), 0, 86400000, NULL, 0 },
	{ "tls_handshake", T_MS, OFF(timeout_tls_handshake_ms), 10, 86400000, NULL, 0 },
	{ "proxy", T_MS, OFF(timeout_proxy_ms), 10, 86400000, NULL, 0 },
	{ NULL, 0, 0, 0, 0, NULL, 0 },
};

static const struct setting smtp_settings[] = {
	{ "extensions", T_EXTLIST, OFF(extensions), 0, 0, NULL, 0 },
	{ "bare_line_endings", T_ENUM, OFF(bare_line_endings), 0, 0, bare_names, 0 },
	{ "long_lines", T_ENUM, OFF(long_lines), 0, 0, long_names, 0 },
	{ "early_talker", T_ENUM, OFF(early_talker), 0, 0, early_names, 0 },
	{ "greeting_delay", T_MS, OFF(greeting_delay_ms), 0, 300000, NULL, 0 },
	{ "pipelining_check", T_BOOL, OFF(pipelining_check), 0, 0, NULL, 0 },
	{ "reject_non_smtp", T_BOOL, OFF(reject_non_smtp), 0, 0, NULL, 0 },
	{ NULL, 0, 0, 0, 0, NULL, 0 },
};

static const struct setting delivery_settings[] = {
	{ "backend", T_ENUM, OFF(backend), 0, 0, backend_names, 0 },
	{ "directory", T_STRING, OFF(maildir), 0, 0, NULL, LINE(maildir_line) },
	{ "layout", T_ENUM, OFF(layout), 0, 0, layout_names, 0 },
	{ "fsync", T_BOOL, OFF(fsync), 0, 0, NULL, 0 },
	{ NULL, 0, 0, 0, 0, NULL, 0 },
};

static const struct setting tls_settings[] = {
	{ "certificate", T_STRING, OFF(tls_certificate), 0, 0, NULL, LINE(tls_certificate_line) },
	{ "key", T_STRING, OFF(tls_key), 0, 0, NULL, LINE(tls_key_line) },
	{ "chain", T_STRING, OFF(tls_chain), 0, 0, NULL, LINE(tls_chain_line) },
	{ "min_protocol", T_ENUM, OFF(tls_min_protocol), 0, 0, proto_names, 0 },
	{ "max_protocol", T_ENUM, OFF(tls_max_protocol), 0, 0, proto_names, 0 },
	{ "ciphers", T_STRING, OFF(tls_ciphers), 0, 0, NULL, LINE(tls_ciphers_line) },
	{ "ciphersuites", T_STRING, OFF(tls_ciphersuites), 0, 0, NULL, LINE(tls_ciphersuites_line) },
	{ "client_certificate", T_BOOL, OFF(tls_client_certificate), 0, 0, NULL, 0 },
	{ "client_ca", T_STRING, OFF(tls_client_ca), 0, 0, NULL, LINE(tls_client_ca_line) },
	{ NULL, 0, 0, 0, 0, NULL, 0 },
};

static const struct setting auth_settings[] = {
	{ "mechanisms", T_MECHLIST, OFF(auth_mechanisms), 0, 0, NULL, 0 },
	{ "accept_any", T_BOOL, OFF(auth_accept_any), 0, 0, NULL, 0 },
	{ "passwd_file", T_STRING, OFF(auth_passwd_file), 0, 0, NULL, LINE(auth_passwd_file_line) },
	{ "users", T_USERS, 0, 0, 0, NULL, 0 },
	{ NULL, 0, 0, 0, 0, NULL, 0 },
};

static const struct setting policy_settings[] = {
	{ "seed", T_SEED, OFF(seed), 0, 0, NULL, LINE(seed_line) },
	{ "xclient_allowed", T_STRING, OFF(xclient_allowed), 0, 0, NULL, LINE(xclient_line) },
	{ NULL, 0, 0, 0, 0, NULL, 0 },
};

static const struct group groups[] = {
	{ "server", server_settings, 0 },
	{ "workers", workers_settings, LINE(workers_line) },
	{ "limits", limits_settings, 0 },
	{ "timeouts", timeouts_settings, 0 },
	{ "smtp", smtp_settings, 0 },
	{ "delivery", delivery_settings, 0 },
	{ "tls", tls_settings, LINE(tls_line) },
	{ "auth", auth_settings, 0 },
	{ "policy", policy_settings, 0 },
	{ "greylist", config_greylist_settings, LINE(greylist_line) },
	{ "store", config_store_settings, 0 },
	{ "control", config_control_settings, 0 },
	{ NULL, NULL, 0 },
};

/*
 * workers.min_spare and max_spare when the file leaves them out: with
 * several sessions per worker, 1 and 1, so one worker with room takes
 * every new connection and the pool fills workers one after another
 * (fewer, fuller workers wake less often); with one session per worker,
 * 2 and 10. Either is kept within the other and within max_workers.
 */
static void
pool_defaults(struct config *cfg, int min_set, int max_set)
{
	int multi = cfg->worker_sessions > 1;

	if (!min_set)
		cfg->min_spare = multi ? 1 : 2;
	if (!max_set) {
		cfg->max_spare = multi ? 1 : 10;
		if (cfg->max_spare < cfg->min_spare)
			cfg->max_spare = cfg->min_spare;
		if (cfg->max_spare > cfg->max_workers)
			cfg->max_spare = cfg->max_workers;
	}
	if (!min_set && cfg->min_spare > cfg->max_spare)
		cfg->min_spare = cfg->max_spare;
}

void
config_defaults(struct config *cfg)
{
	char host[256];

	memset(cfg, 0, sizeof(*cfg));
	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	cfg->hostname = xstrdup(host);
	cfg->banner = xstrdup("ESMTP smtptrapd");
	cfg->log_level = LOGL_INFO;

	cfg->listeners = xcalloc(1, sizeof(*cfg->listeners));
	config_listener_defaults(&cfg->listeners[0]);
	cfg->nlisteners = 1;

	cfg->min_spare = 0; /* see pool_defaults() */
	cfg->max_spare = 0;
	cfg->max_workers = 64;
	cfg->max_sessions_per_worker = 1000;
	cfg->worker_sessions = 32;
	pool_defaults(cfg, 0, 0);

	cfg->max_message_size = 10485760;
	cfg->max_recipients = 100;
	cfg->max_errors = 20;
	cfg->min_data_rate = 500;

	cfg->timeout_command_ms = 300000;
	cfg->timeout_data_ms = 600000;
	cfg->timeout_session_ms = 3600000;
	cfg->timeout_shutdown_ms = 30000;
	cfg->timeout_tls_handshake_ms = 60000;

	cfg->extensions = EXT_ALL;
	cfg->bare_line_endings = BARE_REJECT;
	cfg->long_lines = LONG_LINES_REJECT;

	cfg->backend = BACKEND_MAILDIR;
	cfg->maildir = xstrdup("./maildir");
	cfg->layout = LAYOUT_SINGLE;
	cfg->fsync = 1;

	cfg->tls_min_protocol = TLS_PROTO_1_2;
	cfg->tls_max_protocol = TLS_PROTO_ANY;

	cfg->auth_mechanisms = AUTH_MECH_ALL;

	cfg->error_delay_ms = 1000;
	cfg->timeout_proxy_ms = 10000;
	cfg->early_talker = EARLY_REJECT;
	cfg->pipelining_check = 1;
	cfg->reject_non_smtp = 1;
	config_policy_defaults(cfg);
	config_greylist_defaults(cfg);
}

void
config_free(struct config *cfg)
{
	free(cfg->path);
	free(cfg->hostname);
	free(cfg->banner);
	free(cfg->maildir);
	free(cfg->log_file);
	free(cfg->transcript_dir);
	free(cfg->user);
	free(cfg->group);
	free(cfg->pid_file);
	config_free_listeners(cfg);
	free(cfg->tls_certificate);
	free(cfg->tls_key);
	free(cfg->tls_chain);
	free(cfg->tls_client_ca);
	free(cfg->tls_ciphers);
	free(cfg->tls_ciphersuites);
	free(cfg->auth_passwd_file);
	config_free_auth_users(cfg);
	free(cfg->xclient_allowed);
	policy_free(&cfg->policy);
	config_greylist_free(cfg);
	memset(cfg, 0, sizeof(*cfg));
}

int
config_load(struct config *cfg, const char *path, struct buf *errors)
{
	config_t lc;
	int rc = 0;

	if (access(path, R_OK) != 0) {
		buf_printf(errors, "%s:0: cannot read configuration file: %s\n", path, strerror(errno));
		return -1;
	}
	config_init(&lc);
	if (config_read_file(&lc, path) != CONFIG_TRUE) {
		const char *f = config_error_file(&lc);
		buf_printf(errors, "%s:%d: %s\n", f ? f : path, config_error_line(&lc),
		    config_error_text(&lc));
		config_destroy(&lc);
		return -1;
	}
	free(cfg->path);
	cfg->path = xstrdup(path);
	/* The policy comes from the file alone: loading again starts afresh. */
	policy_free(&cfg->policy);
	config_policy_defaults(cfg);
	for (size_t i = 0; i < cfg->nlisteners; i++)
		cfg->listeners[i].ruleset = 0;

	const config_setting_t *root = config_root_setting(&lc);
	/* Classes first: rules anywhere in the file refer to them. */
	const config_setting_t *classes = config_setting_get_member(root, "classes");
	if (classes != NULL && config_load_policy_member(cfg, classes, path, errors) != 0)
		rc = -1;
	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct group *g;

		if (s == classes)
			continue;
		if (strcmp(name, "listeners") == 0) {
			if (config_load_listeners(cfg, s, path, errors) != 0)
				rc = -1;
			continue;
		}
		if (config_policy_member(name)) {
			if (config_load_policy_member(cfg, s, path, errors) != 0)
				rc = -1;
			continue;
		}
		for (g = groups; g->name != NULL; g++)
			if (strcmp(g->name, name) == 0)
				break;
		if (g->name == NULL) {
			config_error_at(errors, s, path, "unknown setting '%s'", name);
			rc = -1;
			continue;
		}
		if (!config_setting_is_group(s)) {
			config_error_at(errors, s, path, "'%s' must be a group: %s = { ... };", name, name);
			rc = -1;
			continue;
		}
		if (g->lineoff != 0)
			*(int *)(void *)((char *)cfg + g->lineoff - 1) = (int)config_setting_source_line(s);
		char what[64];
		snprintf(what, sizeof(what), "group '%s'", g->name);
		if (config_apply_group(cfg, g->settings, what, s, path, errors) != 0)
			rc = -1;
	}
	pool_defaults(cfg, config_lookup(&lc, "workers.min_spare") != NULL,
	    config_lookup(&lc, "workers.max_spare") != NULL);
	config_destroy(&lc);
	if (rc == 0 && config_policy_resolve(cfg, errors) != 0)
		rc = -1;
	return rc;
}

/*
 * The capture directory must be a writable directory, or not exist yet
 * under a writable existing directory (it is created at start).
 */
int
config_check_directory(const char *dir, char *why, size_t whylen)
{
	char path[4096];
	struct stat st;

	if (strlen(dir) >= sizeof(path)) {
		snprintf(why, whylen, "path too long");
		return -1;
	}
	snprintf(path, sizeof(path), "%s", dir);
	for (;;) {
		if (stat(path, &st) == 0) {
			if (!S_ISDIR(st.st_mode)) {
				snprintf(why, whylen, "%.300s is not a directory", path);
				return -1;
			}
			/*
			 * Started as root, the daemon writes there as server.user:
			 * that is checked after the switch, not here as root.
			 */
			if (geteuid() != 0 && access(path, W_OK | X_OK) != 0) {
				snprintf(why, whylen, "%.300s is not writable: %s", path, strerror(errno));
				return -1;
			}
			return 0;
		}
		if (errno != ENOENT) {
			snprintf(why, whylen, "%.300s: %s", path, strerror(errno));
			return -1;
		}
		char *slash = strrchr(path, '/');
		if (slash == NULL) {
			snprintf(path, sizeof(path), ".");
		} else if (slash == path) {
			path[1] = '\0';
		} else {
			*slash = '\0';
		}
	}
}

int
config_check(const struct config *cfg, struct buf *errors)
{
	const char *file = cfg->path ? cfg->path : "(built-in)";
	int rc = 0;

	if (cfg->min_spare > cfg->max_spare) {
		buf_printf(errors, "%s:%d: workers: min_spare (%d) must not exceed max_spare (%d)\n",
		    file, cfg->workers_line, cfg->min_spare, cfg->max_spare);
		rc = -1;
	}
	if (cfg->max_spare > cfg->max_workers) {
		buf_printf(errors, "%s:%d: workers: max_spare (%d) must not exceed max_workers (%d)\n",
		    file, cfg->workers_line, cfg->max_spare, cfg->max_workers);
		rc = -1;
	}
	if (cfg->backend == BACKEND_MAILDIR) {
		char why[512];
		if (config_check_directory(cfg->maildir, why, sizeof(why)) != 0) {
			buf_printf(errors, "%s:%d: delivery: directory '%s' is not usable: %s\n",
			    file, cfg->maildir_line, cfg->maildir, why);
			rc = -1;
		}
	}
	if (cfg->tls_key != NULL && cfg->tls_certificate == NULL) {
		buf_printf(errors, "%s:%d: tls: 'key' is set but 'certificate' is not\n",
		    file, cfg->tls_key_line);
		rc = -1;
	}
	if (cfg->tls_chain != NULL && cfg->tls_certificate == NULL) {
		buf_printf(errors, "%s:%d: tls: 'chain' is set but 'certificate' is not\n",
		    file, cfg->tls_chain_line);
		rc = -1;
	}
	if (cfg->tls_max_protocol != TLS_PROTO_ANY && cfg->tls_max_protocol < cfg->tls_min_protocol) {
		buf_printf(errors, "%s:%d: tls: max_protocol is older than min_protocol\n",
		    file, cfg->tls_line);
		rc = -1;
	}
	if (cfg->tls_client_ca != NULL && !cfg->tls_client_certificate) {
		buf_printf(errors, "%s:%d: tls: 'client_ca' needs client_certificate = true\n",
		    file, cfg->tls_client_ca_line);
		rc = -1;
	}
	if (config_greylist_check(cfg, errors) != 0)
		rc = -1;
	if (cfg->nlisteners == 0) {
		buf_printf(errors, "%s:0: no listeners configured\n", file);
		rc = -1;
	}
	int have_users = cfg->nauth_users > 0 || cfg->auth_passwd_file != NULL || cfg->auth_accept_any;
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		const struct listener_conf *l = &cfg->listeners[i];
		if (l->require_auth_for_mail && (!l->auth || !have_users || cfg->auth_mechanisms == 0)) {
			buf_printf(errors, "%s:%d: listener '%s': require_auth_for_mail needs auth = true, "
			    "a mechanism and users (auth.users, auth.passwd_file or auth.accept_any)\n",
			    file, l->line, l->name);
			rc = -1;
		}
		for (size_t k = 0; k < i; k++) {
			if (strcmp(cfg->listeners[i].name, cfg->listeners[k].name) == 0) {
				buf_printf(errors, "%s:%d: listener name '%s' is already used on line %d\n",
				    file, cfg->listeners[i].line, cfg->listeners[i].name,
				    cfg->listeners[k].line);
				rc = -1;
			}
		}
	}
	return rc;
}
