/*
 * config_value - typed conversion of one libconfig setting into the
 * configuration structs, with "file:line: message" errors; see
 * config_priv.h.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "config_priv.h"
#include "log.h"
#include "xmalloc.h"

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
config_error_at(struct buf *errors, const config_setting_t *s, const char *fallback_file,
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

int
config_is_integer(const config_setting_t *s)
{
	int t = config_setting_type(s);
	return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

/*
 * An integer, optionally followed by one unit letter from letters (whose
 * multiples are in mults); with fold, letters match in either case.
 * 0, or -1 when malformed, negative (unless allowed) or out of range.
 */
static int
parse_scaled(const char *s, const char *letters, const long long *mults, int fold,
    int negative_ok, long long *out)
{
	char *end;
	long long mult = 1;

	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (end == s || errno != 0 || (v < 0 && !negative_ok))
		return -1;
	if (*end != '\0') {
		const char *u = strchr(letters, fold ? toupper((unsigned char)*end) : *end);
		if (u == NULL || end[1] != '\0')
			return -1;
		mult = mults[u - letters];
	}
	if (v > LLONG_MAX / mult || v < -(LLONG_MAX / mult))
		return -1;
	*out = v * mult;
	return 0;
}

/* "10485760", "10240K", "10M", "1G" (binary multiples). */
static int
parse_size(const char *s, long long *out)
{
	static const long long mults[] = { 1LL << 10, 1LL << 20, 1LL << 30 };

	return parse_scaled(s, "KMG", mults, 1, 0, out);
}

int
config_parse_duration(const char *s, int negative_ok, long long *out)
{
	static const long long mults[] = { 1, 60, 3600, 86400, 604800 };

	return parse_scaled(s, "smhdw", mults, 0, negative_ok, out);
}

int
config_apply_setting(void *basep, const struct setting *def, const config_setting_t *s,
    const char *file, struct buf *errors)
{
	char *base = basep;
	const char *name = config_setting_name(s);

	switch (def->type) {
	case T_INT: {
		if (!config_is_integer(s)) {
			config_error_at(errors, s, file, "'%s' must be an integer", name);
			return -1;
		}
		long long v = config_setting_get_int64(s);
		if (v < def->min || v > def->max) {
			config_error_at(errors, s, file, "'%s' must be between %lld and %lld, not %lld",
			    name, def->min, def->max, v);
			return -1;
		}
		*(int *)(void *)(base + def->offset) = (int)v;
		return 0;
	}
	case T_SIZE: {
		long long v;
		if (config_is_integer(s)) {
			v = config_setting_get_int64(s);
		} else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
			if (parse_size(config_setting_get_string(s), &v) != 0) {
				config_error_at(errors, s, file, "'%s' must be a size such as 10485760, \"10240K\" or \"10M\"", name);
				return -1;
			}
		} else {
			config_error_at(errors, s, file, "'%s' must be an integer or a size string", name);
			return -1;
		}
		if (v < def->min || v > def->max) {
			config_error_at(errors, s, file, "'%s' must be between %lld and %lld, not %lld",
			    name, def->min, def->max, v);
			return -1;
		}
		*(long long *)(void *)(base + def->offset) = v;
		return 0;
	}
	case T_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
			config_error_at(errors, s, file, "'%s' must be true or false", name);
			return -1;
		}
		*(int *)(void *)(base + def->offset) = config_setting_get_bool(s);
		return 0;
	case T_STRING: {
		const char *v = config_setting_get_string(s);
		if (v == NULL) {
			config_error_at(errors, s, file, "'%s' must be a string", name);
			return -1;
		}
		if (*v == '\0') {
			config_error_at(errors, s, file, "'%s' must not be empty", name);
			return -1;
		}
		for (const char *p = v; *p; p++) {
			if ((unsigned char)*p < 32) {
				config_error_at(errors, s, file, "'%s' must not contain control characters", name);
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
		if (config_is_integer(s))
			secs = (double)config_setting_get_int64(s);
		else if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
			secs = config_setting_get_float(s);
		else {
			config_error_at(errors, s, file, "'%s' must be a number of seconds", name);
			return -1;
		}
		double ms = secs * 1000.0;
		if (ms < (double)def->min || ms > (double)def->max) {
			config_error_at(errors, s, file, "'%s' must be between %g and %g seconds",
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
		config_error_at(errors, s, file, "'%s' must be one of %s", name, choices.data);
		buf_free(&choices);
		return -1;
	}
	case T_LOGLEVEL: {
		const char *v = config_setting_get_string(s);
		enum log_level lvl;
		if (v == NULL || log_level_parse(v, &lvl) != 0) {
			config_error_at(errors, s, file, "'%s' must be one of \"error\", \"warning\", \"notice\", \"info\", \"debug\"", name);
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
			config_error_at(errors, s, file, "'%s' must be a list of extension names, e.g. [\"PIPELINING\", \"SIZE\"]", name);
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
				config_error_at(errors, e, file, "unknown extension '%s' in '%s' (known: PIPELINING, SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, CHUNKING, BINARYMIME, DSN)",
				    v ? v : "(not a string)", name);
				bad = 1;
				continue;
			}
			mask |= ext_names[k].bit;
		}
		if (bad)
			return -1;
		if ((mask & EXT_BINARYMIME) && !(mask & EXT_CHUNKING)) {
			config_error_at(errors, s, file, "BINARYMIME requires CHUNKING in '%s' (RFC 3030)", name);
			return -1;
		}
		*(unsigned *)(void *)(base + def->offset) = mask;
		return 0;
	}
	case T_ADDRESS: {
		const char *v = config_setting_get_string(s);
		unsigned char tmp[16];
		if (v == NULL || (*v != '\0' && inet_pton(AF_INET, v, tmp) != 1 &&
		    inet_pton(AF_INET6, v, tmp) != 1)) {
			config_error_at(errors, s, file, "'%s' must be a numeric IPv4 or IPv6 address, not '%s'",
			    name, v ? v : "(not a string)");
			return -1;
		}
		char **slot = (char **)(void *)(base + def->offset);
		free(*slot);
		*slot = xstrdup(v);
		return 0;
	}
	case T_SEED:
		if (!config_is_integer(s)) {
			config_error_at(errors, s, file, "'%s' must be an integer", name);
			return -1;
		}
		*(long long *)(void *)(base + def->offset) = config_setting_get_int64(s);
		return 0;
	case T_RULES:
		/* The listener loader reads it: it needs the whole config. */
		if (config_setting_type(s) != CONFIG_TYPE_STRING && !config_setting_is_list(s)) {
			config_error_at(errors, s, file, "'%s' must be a ruleset name or a list of rules", name);
			return -1;
		}
		return 0;
	case T_USERS:
		return config_load_auth_users(basep, s, file, errors);
	case T_DURATION: {
		long long v;
		if (config_is_integer(s)) {
			v = config_setting_get_int64(s);
		} else if (config_setting_type(s) != CONFIG_TYPE_STRING ||
		    config_parse_duration(config_setting_get_string(s), 0, &v) != 0) {
			config_error_at(errors, s, file, "'%s' must be a number of seconds or a duration such as \"90s\", \"5m\", \"2h\", \"35d\"", name);
			return -1;
		}
		if (v < def->min || v > def->max) {
			config_error_at(errors, s, file, "'%s' must be between %lld and %lld seconds, not %lld",
			    name, def->min, def->max, v);
			return -1;
		}
		*(int *)(void *)(base + def->offset) = (int)v;
		return 0;
	}
	case T_MODE: {
		const char *v = config_setting_get_string(s);
		char *end;
		long m = v != NULL && *v != '\0' ? strtol(v, &end, 8) : -1;
		if (v == NULL || *v == '\0' || *end != '\0' || m < 0 || m > 0777) {
			config_error_at(errors, s, file, "'%s' must be an octal file mode in a string, e.g. \"0660\"", name);
			return -1;
		}
		*(int *)(void *)(base + def->offset) = (int)m;
		return 0;
	}
	case T_NETLIST: {
		struct netlist *l = (struct netlist *)(void *)(base + def->offset);
		free(l->nets);
		memset(l, 0, sizeof(*l));
		return config_load_netlist(basep, s, name, l, file, errors);
	}
	case T_DOMLIST: {
		struct domlist *l = (struct domlist *)(void *)(base + def->offset);
		for (size_t i = 0; i < l->n; i++)
			free(l->names[i]);
		free(l->names);
		memset(l, 0, sizeof(*l));
		return config_load_domlist(l, s, name, file, errors);
	}
	case T_MECHBOOL:
		if (config_setting_type(s) == CONFIG_TYPE_BOOL) {
			*(unsigned *)(void *)(base + def->offset) =
			    config_setting_get_bool(s) ? AUTH_MECH_ALL : 0;
			return 0;
		}
		/* FALLTHROUGH */
	case T_MECHLIST: {
		unsigned mask = 0;
		int bad = 0;
		int t = config_setting_type(s);
		if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
			config_error_at(errors, s, file, "'%s' must be %sa list of mechanisms, e.g. [\"PLAIN\", \"LOGIN\", \"CRAM-MD5\"]",
			    name, def->type == T_MECHBOOL ? "true, false or " : "");
			return -1;
		}
		for (int i = 0; i < config_setting_length(s); i++) {
			const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
			const char *v = config_setting_get_string(e);
			unsigned bit = v ? auth_mech_from_name(v, strlen(v)) : 0;
			if (bit == 0) {
				config_error_at(errors, e, file, "unknown mechanism '%s' in '%s' (known: PLAIN, LOGIN, CRAM-MD5)",
				    v ? v : "(not a string)", name);
				bad = 1;
				continue;
			}
			mask |= bit;
		}
		if (bad)
			return -1;
		*(unsigned *)(void *)(base + def->offset) = mask;
		return 0;
	}
	}
	return -1;
}

int
config_apply_group(void *base, const struct setting *settings, const char *what,
    const config_setting_t *gs, const char *file, struct buf *errors)
{
	int rc = 0;

	for (int i = 0; i < config_setting_length(gs); i++) {
		const config_setting_t *s = config_setting_get_elem(gs, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct setting *def;

		for (def = settings; def->name != NULL; def++)
			if (strcmp(def->name, name) == 0)
				break;
		if (def->name == NULL) {
			config_error_at(errors, s, file, "unknown setting '%s' in %s", name, what);
			rc = -1;
			continue;
		}
		if (config_apply_setting(base, def, s, file, errors) != 0)
			rc = -1;
		else if (def->lineoff != 0)
			*(int *)(void *)((char *)base + def->lineoff - 1) =
			    (int)config_setting_source_line(s);
	}
	return rc;
}
