/*
 * config_greylist - the settings of greylisting and of what it needs: the
 * greylist group, the store group (the LMDB file under
 * server.state_directory) and the control group (the control socket).
 *
 * Cross-setting checks (config_greylist_check) run with config_check():
 * the state directory must be usable when some rule greylists, the reply
 * code and status must agree, and the socket path must fit a Unix socket
 * address.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "config_priv.h"
#include "xmalloc.h"

#define OFF(f) offsetof(struct config, f)
#define LINE(f) (offsetof(struct config, f) + 1)

#define STORE_FILE CONFIG_STORE_FILE

static const char *const on_error_names[] = { "pass", "defer", NULL };

const struct setting config_greylist_settings[] = {
	{ "delay", T_DURATION, OFF(greylist.delay), 0, 31536000, NULL, 0 },
	{ "retry_window", T_DURATION, OFF(greylist.retry_window), 1, 31536000, NULL, 0 },
	{ "expire", T_DURATION, OFF(greylist.expire), 1, 315360000, NULL, 0 },
	{ "auto_whitelist", T_INT, OFF(greylist.auto_whitelist), 0, 1000000, NULL, 0 },
	{ "ipv4_prefix", T_INT, OFF(greylist.ipv4_prefix), 0, 32, NULL, 0 },
	{ "ipv6_prefix", T_INT, OFF(greylist.ipv6_prefix), 0, 128, NULL, 0 },
	{ "whitelist_clients", T_NETLIST, OFF(greylist.whitelist_clients), 0, 0, NULL, 0 },
	{ "whitelist_senders", T_DOMLIST, OFF(greylist.whitelist_senders), 0, 0, NULL, 0 },
	{ "whitelist_recipients", T_DOMLIST, OFF(greylist.whitelist_recipients), 0, 0, NULL, 0 },
	{ "reply_code", T_INT, OFF(greylist.reply_code), 400, 499, NULL, 0 },
	{ "reply_status", T_STRING, OFF(greylist.reply_status), 0, 0, NULL, LINE(greylist_status_line) },
	{ "reply_text", T_STRING, OFF(greylist.reply_text), 0, 0, NULL, LINE(greylist_text_line) },
	{ "on_store_error", T_ENUM, OFF(greylist.on_store_error), 0, 0, on_error_names, 0 },
	{ NULL, 0, 0, 0, 0, NULL, 0 },
};

const struct setting config_store_settings[] = {
	{ "map_size", T_SIZE, OFF(store_map_size), 1LL << 16, 1LL << 40, NULL, 0 },
	{ "sync", T_BOOL, OFF(store_sync), 0, 0, NULL, 0 },
	{ "purge_interval", T_DURATION, OFF(store_purge_interval), 1, 31536000, NULL, 0 },
	{ NULL, 0, 0, 0, 0, NULL, 0 },
};

const struct setting config_control_settings[] = {
	{ "socket", T_STRING, OFF(control_socket), 0, 0, NULL, LINE(control_socket_line) },
	{ "mode", T_MODE, OFF(control_mode), 0, 0, NULL, 0 },
	{ "clock_control", T_BOOL, OFF(clock_control), 0, 0, NULL, 0 },
	{ "timeout", T_MS, OFF(control_timeout_ms), 100, 86400000, NULL, 0 },
	{ "max_clients", T_INT, OFF(control_max_clients), 1, 1024, NULL, 0 },
	{ NULL, 0, 0, 0, 0, NULL, 0 },
};

void
config_greylist_defaults(struct config *cfg)
{
	cfg->state_directory = xstrdup("./state");
	cfg->store_map_size = 64LL << 20;
	cfg->store_sync = 0;
	cfg->store_purge_interval = 3600;
	greylist_conf_defaults(&cfg->greylist);
	cfg->control_socket = NULL;
	cfg->control_mode = 0600;
	cfg->clock_control = 0;
	cfg->control_timeout_ms = 30000;
	cfg->control_max_clients = 16;
}

void
config_greylist_free(struct config *cfg)
{
	free(cfg->state_directory);
	cfg->state_directory = NULL;
	greylist_conf_free(&cfg->greylist);
	free(cfg->control_socket);
	cfg->control_socket = NULL;
}

int
config_uses_greylisting(const struct config *cfg)
{
	const struct policy *p = &cfg->policy;

	for (size_t i = 0; i < p->nrulesets; i++)
		for (size_t k = 0; k < p->rulesets[i].n; k++)
			if (p->rulesets[i].rules[k].action == ACT_GREYLIST)
				return 1;
	return 0;
}

char *
config_store_path(const struct config *cfg)
{
	size_t n = strlen(cfg->state_directory) + sizeof("/" STORE_FILE);
	char *path = xmalloc(n);

	snprintf(path, n, "%s/%s", cfg->state_directory, STORE_FILE);
	return path;
}

int
config_greylist_check(const struct config *cfg, struct buf *errors)
{
	const char *file = cfg->path ? cfg->path : "(built-in)";
	const struct greylist_conf *gc = &cfg->greylist;
	int rc = 0;

	if (config_uses_greylisting(cfg)) {
		char why[512];
		if (config_check_directory(cfg->state_directory, why, sizeof(why)) != 0) {
			buf_printf(errors, "%s:%d: server: state_directory '%s' is not usable: %s\n",
			    file, cfg->state_directory_line, cfg->state_directory, why);
			rc = -1;
		}
	}
	const char *st = gc->reply_status;
	if (!config_enh_valid(st) || st[0] != '0' + gc->reply_code / 100) {
		buf_printf(errors, "%s:%d: greylist: reply_status '%s' must be an enhanced status code of the reply code's class, e.g. \"%d.7.1\"\n",
		    file, cfg->greylist_status_line ? cfg->greylist_status_line : cfg->greylist_line,
		    st, gc->reply_code / 100);
		rc = -1;
	}
	if (gc->delay >= gc->retry_window) {
		buf_printf(errors, "%s:%d: greylist: retry_window (%d s) must be longer than delay (%d s)\n",
		    file, cfg->greylist_line, gc->retry_window, gc->delay);
		rc = -1;
	}
	if (cfg->control_socket != NULL &&
	    strlen(cfg->control_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		buf_printf(errors, "%s:%d: control: socket path is longer than %zu octets\n",
		    file, cfg->control_socket_line, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		rc = -1;
	}
	return rc;
}
