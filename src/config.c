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

#include "config.h"
#include "log.h"
#include "xmalloc.h"

enum stype {
	T_INT,      /* int, range checked */
	T_SIZE,     /* long long: integer or "10M"-style string */
	T_BOOL,     /* int 0/1 */
	T_STRING,   /* char *, non-empty */
	T_MS,       /* int milliseconds, given as (possibly fractional) seconds */
	T_ENUM,     /* int index into names */
	T_LOGLEVEL, /* int enum log_level */
	T_EXTLIST,  /* unsigned EXT_* mask from a list of names */
};

struct setting {
	const char *name;
	enum stype type;
	size_t offset;
	long long min;
	long long max;
	const char *const *names; /* T_ENUM */
};

struct group {
	const char *name;
	const struct setting *settings;
};

#define OFF(f) offsetof(struct config, f)

static const char *const backend_names[] = { "maildir", "blackhole", NULL };
static const char *const layout_names[] = { "single", "per-recipient", NULL };
static const char *const bare_names[] = { "reject", "normalize", NULL };
static const char *const long_names[] = { "reject", "accept", NULL };

static const struct setting server_settings[] = {
	{ "hostname", T_STRING, OFF(hostname), 0, 0, NULL },
	{ "banner", T_STRING, OFF(banner), 0, 0, NULL },
	{ "log_level", T_LOGLEVEL, OFF(log_level), 0, 0, NULL },
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct setting workers_settings[] = {
	{ "min_spare", T_INT, OFF(min_spare), 1, 4096, NULL },
	{ "max_spare", T_INT, OFF(max_spare), 1, 4096, NULL },
	{ "max_workers", T_INT, OFF(max_workers), 1, 4096, NULL },
	{ "max_sessions_per_worker", T_INT, OFF(max_sessions_per_worker), 1, INT_MAX, NULL },
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct setting limits_settings[] = {
	{ "message_size", T_SIZE, OFF(max_message_size), 1, 1LL << 40, NULL },
	{ "recipients", T_INT, OFF(max_recipients), 1, 100000, NULL },
	{ "errors", T_INT, OFF(max_errors), 1, 100000, NULL },
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct setting timeouts_settings[] = {
	{ "command", T_MS, OFF(timeout_command_ms), 10, 86400000, NULL },
	{ "data", T_MS, OFF(timeout_data_ms), 10, 86400000, NULL },
	{ "session", T_MS, OFF(timeout_session_ms), 10, 86400000, NULL },
	{ "shutdown", T_MS, OFF(timeout_shutdown_ms), 0, 86400000, NULL },
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct setting smtp_settings[] = {
	{ "extensions", T_EXTLIST, OFF(extensions), 0, 0, NULL },
	{ "bare_line_endings", T_ENUM, OFF(bare_line_endings), 0, 0, bare_names },
	{ "long_lines", T_ENUM, OFF(long_lines), 0, 0, long_names },
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct setting delivery_settings[] = {
	{ "backend", T_ENUM, OFF(backend), 0, 0, backend_names },
	{ "directory", T_STRING, OFF(maildir), 0, 0, NULL },
	{ "layout", T_ENUM, OFF(layout), 0, 0, layout_names },
	{ "fsync", T_BOOL, OFF(fsync), 0, 0, NULL },
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct group groups[] = {
	{ "server", server_settings },
	{ "workers", workers_settings },
	{ "limits", limits_settings },
	{ "timeouts", timeouts_settings },
	{ "smtp", smtp_settings },
	{ "delivery", delivery_settings },
	{ NULL, NULL },
};

static const struct {
	const char *name;
	unsigned bit;
} ext_names[] = {
	{ "PIPELINING", EXT_PIPELINING },
	{ "SIZE", EXT_SIZE },
	{ "8BITMIME", EXT_8BITMIME },
	{ "SMTPUTF8", EXT_SMTPUTF8 },
	{ "ENHANCEDSTATUSCODES", EXT_ENHANCEDSTATUSCODES },
	{ "CHUNKING", EXT_CHUNKING },
	{ "BINARYMIME", EXT_BINARYMIME },
	{ "DSN", EXT_DSN },
};

#define N_EXT (sizeof(ext_names) / sizeof(ext_names[0]))

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
	cfg->listeners[0].name = xstrdup("smtp");
	cfg->listeners[0].address = xstrdup("127.0.0.1");
	cfg->listeners[0].port = 2525;
	cfg->nlisteners = 1;

	cfg->min_spare = 2;
	cfg->max_spare = 10;
	cfg->max_workers = 64;
	cfg->max_sessions_per_worker = 1000;

	cfg->max_message_size = 10485760;
	cfg->max_recipients = 100;
	cfg->max_errors = 20;

	cfg->timeout_command_ms = 300000;
	cfg->timeout_data_ms = 600000;
	cfg->timeout_session_ms = 3600000;
	cfg->timeout_shutdown_ms = 30000;

	cfg->extensions = EXT_ALL;
	cfg->bare_line_endings = BARE_REJECT;
	cfg->long_lines = LONG_LINES_REJECT;

	cfg->backend = BACKEND_MAILDIR;
	cfg->maildir = xstrdup("./maildir");
	cfg->layout = LAYOUT_SINGLE;
	cfg->fsync = 1;
}

static void
free_listeners(struct config *cfg)
{
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		free(cfg->listeners[i].name);
		free(cfg->listeners[i].address);
	}
	free(cfg->listeners);
	cfg->listeners = NULL;
	cfg->nlisteners = 0;
}

void
config_free(struct config *cfg)
{
	free(cfg->path);
	free(cfg->hostname);
	free(cfg->banner);
	free(cfg->maildir);
	free_listeners(cfg);
	memset(cfg, 0, sizeof(*cfg));
}

static void
error_at(struct buf *errors, const config_setting_t *s, const char *fallback_file,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
error_at(struct buf *errors, const config_setting_t *s, const char *fallback_file,
    const char *fmt, ...)
{
	const char *file = NULL;
	unsigned line = 0;
	char msg[512];
	va_list ap;

	if (s != NULL) {
		file = config_setting_source_file(s);
		line = config_setting_source_line(s);
	}
	if (file == NULL)
		file = fallback_file;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_printf(errors, "%s:%u: %s\n", file, line, msg);
}

static int
is_integer(const config_setting_t *s)
{
	int t = config_setting_type(s);
	return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

/* "10485760", "10240K", "10M", "1G" (binary multiples). */
static int
parse_size(const char *s, long long *out)
{
	char *end;
	long long mult = 1;

	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (end == s || errno != 0 || v < 0)
		return -1;
	if (*end != '\0') {
		switch (toupper((unsigned char)*end)) {
		case 'K': mult = 1LL << 10; break;
		case 'M': mult = 1LL << 20; break;
		case 'G': mult = 1LL << 30; break;
		default: return -1;
		}
		if (end[1] != '\0')
			return -1;
	}
	if (v > LLONG_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

static int
apply_setting(struct config *cfg, const struct setting *def, const config_setting_t *s,
    const char *file, struct buf *errors)
{
	char *base = (char *)cfg;
	const char *name = config_setting_name(s);

	switch (def->type) {
	case T_INT: {
		if (!is_integer(s)) {
			error_at(errors, s, file, "'%s' must be an integer", name);
			return -1;
		}
		long long v = config_setting_get_int64(s);
		if (v < def->min || v > def->max) {
			error_at(errors, s, file, "'%s' must be between %lld and %lld, not %lld",
			    name, def->min, def->max, v);
			return -1;
		}
		*(int *)(void *)(base + def->offset) = (int)v;
		return 0;
	}
	case T_SIZE: {
		long long v;
		if (is_integer(s)) {
			v = config_setting_get_int64(s);
		} else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
			if (parse_size(config_setting_get_string(s), &v) != 0) {
				error_at(errors, s, file, "'%s' must be a size such as 10485760, \"10240K\" or \"10M\"", name);
				return -1;
			}
		} else {
			error_at(errors, s, file, "'%s' must be an integer or a size string", name);
			return -1;
		}
		if (v < def->min || v > def->max) {
			error_at(errors, s, file, "'%s' must be between %lld and %lld, not %lld",
			    name, def->min, def->max, v);
			return -1;
		}
		*(long long *)(void *)(base + def->offset) = v;
		return 0;
	}
	case T_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
			error_at(errors, s, file, "'%s' must be true or false", name);
			return -1;
		}
		*(int *)(void *)(base + def->offset) = config_setting_get_bool(s);
		return 0;
	case T_STRING: {
		const char *v = config_setting_get_string(s);
		if (v == NULL) {
			error_at(errors, s, file, "'%s' must be a string", name);
			return -1;
		}
		if (*v == '\0') {
			error_at(errors, s, file, "'%s' must not be empty", name);
			return -1;
		}
		for (const char *p = v; *p; p++) {
			if ((unsigned char)*p < 32) {
				error_at(errors, s, file, "'%s' must not contain control characters", name);
				return -1;
			}
		}
		char **slot = (char **)(void *)(base + def->offset);
		free(*slot);
		*slot = xstrdup(v);
		return 0;
	}
	case T_MS: {
		double secs;
		if (is_integer(s))
			secs = (double)config_setting_get_int64(s);
		else if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
			secs = config_setting_get_float(s);
		else {
			error_at(errors, s, file, "'%s' must be a number of seconds", name);
			return -1;
		}
		double ms = secs * 1000.0;
		if (ms < (double)def->min || ms > (double)def->max) {
			error_at(errors, s, file, "'%s' must be between %g and %g seconds",
			    name, (double)def->min / 1000.0, (double)def->max / 1000.0);
			return -1;
		}
		*(int *)(void *)(base + def->offset) = (int)(ms + 0.5);
		return 0;
	}
	case T_ENUM: {
		const char *v = config_setting_get_string(s);
		if (v != NULL) {
			for (int i = 0; def->names[i] != NULL; i++) {
				if (strcmp(v, def->names[i]) == 0) {
					*(int *)(void *)(base + def->offset) = i;
					return 0;
				}
			}
		}
		struct buf choices;
		buf_init(&choices);
		for (int i = 0; def->names[i] != NULL; i++)
			buf_printf(&choices, "%s\"%s\"", i ? ", " : "", def->names[i]);
		error_at(errors, s, file, "'%s' must be one of %s", name, choices.data);
		buf_free(&choices);
		return -1;
	}
	case T_LOGLEVEL: {
		const char *v = config_setting_get_string(s);
		enum log_level lvl;
		if (v == NULL || log_level_parse(v, &lvl) != 0) {
			error_at(errors, s, file, "'%s' must be one of \"error\", \"warning\", \"notice\", \"info\", \"debug\"", name);
			return -1;
		}
		*(int *)(void *)(base + def->offset) = (int)lvl;
		return 0;
	}
	case T_EXTLIST: {
		unsigned mask = 0;
		int bad = 0;
		int t = config_setting_type(s);
		if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
			error_at(errors, s, file, "'%s' must be a list of extension names, e.g. [\"PIPELINING\", \"SIZE\"]", name);
			return -1;
		}
		for (int i = 0; i < config_setting_length(s); i++) {
			const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
			const char *v = config_setting_get_string(e);
			size_t k;
			for (k = 0; v != NULL && k < N_EXT; k++)
				if (strcasecmp(v, ext_names[k].name) == 0)
					break;
			if (v == NULL || k == N_EXT) {
				error_at(errors, e, file, "unknown extension '%s' in '%s' (known: PIPELINING, SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, CHUNKING, BINARYMIME, DSN)",
				    v ? v : "(not a string)", name);
				bad = 1;
				continue;
			}
			mask |= ext_names[k].bit;
		}
		if (bad)
			return -1;
		if ((mask & EXT_BINARYMIME) && !(mask & EXT_CHUNKING)) {
			error_at(errors, s, file, "BINARYMIME requires CHUNKING in '%s' (RFC 3030)", name);
			return -1;
		}
		*(unsigned *)(void *)(base + def->offset) = mask;
		return 0;
	}
	}
	return -1;
}

static int
load_group(struct config *cfg, const struct group *g, const config_setting_t *gs,
    const char *file, struct buf *errors)
{
	int rc = 0;

	if (!config_setting_is_group(gs)) {
		error_at(errors, gs, file, "'%s' must be a group: %s = { ... };", g->name, g->name);
		return -1;
	}
	for (int i = 0; i < config_setting_length(gs); i++) {
		const config_setting_t *s = config_setting_get_elem(gs, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct setting *def;

		for (def = g->settings; def->name != NULL; def++)
			if (strcmp(def->name, name) == 0)
				break;
		if (def->name == NULL) {
			error_at(errors, s, file, "unknown setting '%s' in group '%s'", name, g->name);
			rc = -1;
			continue;
		}
		if (apply_setting(cfg, def, s, file, errors) != 0)
			rc = -1;
		else if (def->offset == OFF(maildir))
			cfg->maildir_line = (int)config_setting_source_line(s);

	}
	return rc;
}

int
config_parse_hostport(const char *spec, char **addr, int *port)
{
	const char *colon;
	const char *host;
	size_t hostlen;
	char *end;
	unsigned char tmp[16];

	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');
		if (close == NULL || close[1] != ':')
			return -1;
		host = spec + 1;
		hostlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL)
			return -1;
		host = spec;
		hostlen = (size_t)(colon - spec);
		if (memchr(host, ':', hostlen) != NULL)
			return -1; /* IPv6 must be bracketed */
	}
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || p < 0 || p > 65535)
		return -1;
	char *h = xstrndup(host, hostlen);
	if (hostlen > 0 && inet_pton(AF_INET, h, tmp) != 1 && inet_pton(AF_INET6, h, tmp) != 1) {
		free(h);
		return -1;
	}
	*addr = h;
	*port = (int)p;
	return 0;
}

int
config_add_listener_spec(struct config *cfg, const char *spec, int replace, char *err, size_t errlen)
{
	char *addr;
	int port;

	if (config_parse_hostport(spec, &addr, &port) != 0) {
		snprintf(err, errlen, "bad listen address '%s' (expected ADDR:PORT, [IPV6]:PORT or :PORT)", spec);
		return -1;
	}
	if (replace)
		free_listeners(cfg);
	cfg->listeners = xrealloc(cfg->listeners, (cfg->nlisteners + 1) * sizeof(*cfg->listeners));
	struct listener_conf *l = &cfg->listeners[cfg->nlisteners++];
	/* Named after the spec; a repeated spec gets "#2", "#3"... */
	int same = 0;
	for (size_t i = 0; i + 1 < cfg->nlisteners; i++)
		if (strcmp(cfg->listeners[i].address, addr) == 0 && cfg->listeners[i].port == port)
			same++;
	l->name = same ? xasprintf("%s#%d", spec, same + 1) : xstrdup(spec);
	l->address = addr;
	l->port = port;
	l->line = 0;
	return 0;
}

static int
load_listeners(struct config *cfg, const config_setting_t *ls, const char *file, struct buf *errors)
{
	int rc = 0;
	int n;

	if (!config_setting_is_list(ls) && !config_setting_is_array(ls)) {
		error_at(errors, ls, file, "'listeners' must be a list: listeners = ( { ... } );");
		return -1;
	}
	n = config_setting_length(ls);
	if (n == 0) {
		error_at(errors, ls, file, "'listeners' must contain at least one listener");
		return -1;
	}
	free_listeners(cfg);
	cfg->listeners = xcalloc((size_t)n, sizeof(*cfg->listeners));
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(ls, (unsigned)i);
		struct listener_conf *l = &cfg->listeners[cfg->nlisteners++];
		int have_port = 0;

		l->line = (int)config_setting_source_line(e);
		l->address = xstrdup("127.0.0.1");
		l->name = xasprintf("listener%d", i + 1);
		if (!config_setting_is_group(e)) {
			error_at(errors, e, file, "each listener must be a group: { name = \"smtp\"; address = \"127.0.0.1\"; port = 2525; }");
			rc = -1;
			continue;
		}
		for (int k = 0; k < config_setting_length(e); k++) {
			const config_setting_t *s = config_setting_get_elem(e, (unsigned)k);
			const char *name = config_setting_name(s);
			unsigned char tmp[16];

			if (strcmp(name, "name") == 0 || strcmp(name, "address") == 0) {
				const char *v = config_setting_get_string(s);
				if (v == NULL) {
					error_at(errors, s, file, "listener '%s' must be a string", name);
					rc = -1;
					continue;
				}
				if (name[0] == 'n') {
					if (*v == '\0') {
						error_at(errors, s, file, "listener 'name' must not be empty");
						rc = -1;
						continue;
					}
					free(l->name);
					l->name = xstrdup(v);
				} else {
					if (*v != '\0' && inet_pton(AF_INET, v, tmp) != 1 &&
					    inet_pton(AF_INET6, v, tmp) != 1) {
						error_at(errors, s, file, "listener 'address' must be a numeric IPv4 or IPv6 address, not '%s'", v);
						rc = -1;
						continue;
					}
					free(l->address);
					l->address = xstrdup(v);
				}
			} else if (strcmp(name, "port") == 0) {
				have_port = 1; /* present, even if wrong: one error is enough */
				if (!is_integer(s) || config_setting_get_int64(s) < 0 ||
				    config_setting_get_int64(s) > 65535) {
					error_at(errors, s, file, "listener 'port' must be an integer between 0 and 65535");
					rc = -1;
					continue;
				}
				l->port = (int)config_setting_get_int64(s);
				have_port = 1;
			} else {
				error_at(errors, s, file, "unknown setting '%s' in listener", name);
				rc = -1;
			}
		}
		if (!have_port) {
			error_at(errors, e, file, "listener '%s' has no 'port'", l->name);
			rc = -1;
		}
	}
	return rc;
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

	const config_setting_t *root = config_root_setting(&lc);
	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct group *g;

		if (strcmp(name, "listeners") == 0) {
			if (load_listeners(cfg, s, path, errors) != 0)
				rc = -1;
			continue;
		}
		for (g = groups; g->name != NULL; g++)
			if (strcmp(g->name, name) == 0)
				break;
		if (g->name == NULL) {
			error_at(errors, s, path, "unknown setting '%s'", name);
			rc = -1;
			continue;
		}
		if (g->settings == workers_settings)
			cfg->workers_line = (int)config_setting_source_line(s);
		if (load_group(cfg, g, s, path, errors) != 0)
			rc = -1;
	}
	config_destroy(&lc);
	return rc;
}

/*
 * The capture directory must be a writable directory, or not exist yet
 * under a writable existing directory (it is created at start).
 */
static int
check_directory(const char *dir, char *why, size_t whylen)
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
			if (access(path, W_OK | X_OK) != 0) {
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
		if (check_directory(cfg->maildir, why, sizeof(why)) != 0) {
			buf_printf(errors, "%s:%d: delivery: directory '%s' is not usable: %s\n",
			    file, cfg->maildir_line, cfg->maildir, why);
			rc = -1;
		}
	}
	if (cfg->nlisteners == 0) {
		buf_printf(errors, "%s:0: no listeners configured\n", file);
		rc = -1;
	}
	for (size_t i = 0; i < cfg->nlisteners; i++) {
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
