/*
 * config_listen - the listeners list: each listener's address, port, TLS
 * mode and AUTH settings, and the "-l ADDR:PORT" command-line form.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_priv.h"
#include "xmalloc.h"

#define LOFF(f) offsetof(struct listener_conf, f)

static const char *const tls_mode_names[] = {
	"none", "starttls", "starttls-required", "implicit", NULL,
};

static const char *const proxy_names[] = { "none", "v1", "v2", "any", NULL };

static const struct setting listener_settings[] = {
	{ "name", T_STRING, LOFF(name), 0, 0, NULL, 0 },
	{ "address", T_ADDRESS, LOFF(address), 0, 0, NULL, 0 },
	{ "port", T_INT, LOFF(port), 0, 65535, NULL, 0 },
	{ "tls", T_ENUM, LOFF(tls), 0, 0, tls_mode_names, 0 },
	{ "auth", T_BOOL, LOFF(auth), 0, 0, NULL, 0 },
	{ "auth_without_tls", T_MECHBOOL, LOFF(auth_without_tls), 0, 0, NULL, 0 },
	{ "require_auth_for_mail", T_BOOL, LOFF(require_auth_for_mail), 0, 0, NULL, 0 },
	{ "proxy", T_ENUM, LOFF(proxy), 0, 0, proxy_names, 0 },
	{ "rules", T_RULES, 0, 0, 0, NULL, 0 },
	{ NULL, 0, 0, 0, 0, NULL, 0 },
};

/* A listener as "-l" and the built-in default make it: STARTTLS offered. */
void
config_listener_defaults(struct listener_conf *l)
{
	memset(l, 0, sizeof(*l));
	l->name = xstrdup("smtp");
	l->address = xstrdup("127.0.0.1");
	l->port = 2525;
	l->tls = TLS_STARTTLS;
	l->auth = 1;
	l->auth_without_tls = 0;
	l->require_auth_for_mail = 0;
}

void
config_free_listeners(struct config *cfg)
{
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		free(cfg->listeners[i].name);
		free(cfg->listeners[i].address);
		free(cfg->listeners[i].rules_name);
	}
	free(cfg->listeners);
	cfg->listeners = NULL;
	cfg->nlisteners = 0;
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
		config_free_listeners(cfg);
	cfg->listeners = xrealloc(cfg->listeners, (cfg->nlisteners + 1) * sizeof(*cfg->listeners));
	struct listener_conf *l = &cfg->listeners[cfg->nlisteners++];
	/* Named after the spec; a repeated spec gets "#2", "#3"... */
	int same = 0;
	for (size_t i = 0; i + 1 < cfg->nlisteners; i++)
		if (strcmp(cfg->listeners[i].address, addr) == 0 && cfg->listeners[i].port == port)
			same++;
	config_listener_defaults(l);
	free(l->name);
	l->name = same ? xasprintf("%s#%d", spec, same + 1) : xstrdup(spec);
	free(l->address);
	l->address = addr;
	l->port = port;
	return 0;
}

int
config_load_listeners(struct config *cfg, const config_setting_t *ls, const char *file,
    struct buf *errors)
{
	int rc = 0;
	int n;

	if (!config_setting_is_list(ls) && !config_setting_is_array(ls)) {
		config_error_at(errors, ls, file, "'listeners' must be a list: listeners = ( { ... } );");
		return -1;
	}
	n = config_setting_length(ls);
	if (n == 0) {
		config_error_at(errors, ls, file, "'listeners' must contain at least one listener");
		return -1;
	}
	config_free_listeners(cfg);
	cfg->listeners = xcalloc((size_t)n, sizeof(*cfg->listeners));
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(ls, (unsigned)i);
		struct listener_conf *l = &cfg->listeners[cfg->nlisteners++];

		config_listener_defaults(l);
		free(l->name);
		l->name = xasprintf("listener%d", i + 1);
		l->line = (int)config_setting_source_line(e);
		if (!config_setting_is_group(e)) {
			config_error_at(errors, e, file, "each listener must be a group: { name = \"smtp\"; address = \"127.0.0.1\"; port = 2525; }");
			rc = -1;
			continue;
		}
		if (config_apply_group(l, listener_settings, "listener", e, file, errors) != 0)
			rc = -1;
		const config_setting_t *rules = config_setting_get_member(e, "rules");
		if (rules != NULL && config_setting_type(rules) == CONFIG_TYPE_STRING) {
			l->rules_name = xstrdup(config_setting_get_string(rules));
			l->rules_line = (int)config_setting_source_line(rules);
		} else if (rules != NULL && config_setting_is_list(rules)) {
			char *name = xasprintf("listener %s", l->name);
			if (config_load_rules(cfg, name, rules, file, errors) != 0)
				rc = -1;
			l->ruleset = (int)cfg->policy.nrulesets - 1;
			free(name);
		}
		if (config_setting_get_member(e, "port") == NULL) {
			config_error_at(errors, e, file, "listener '%s' has no 'port'", l->name);
			rc = -1;
		}
	}
	return rc;
}
