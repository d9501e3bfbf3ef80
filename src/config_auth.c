/*
 * config_auth - the users list of the auth group:
 *
 *   users = ( { name = "alice"; password = "secret"; },
 *             { name = "bob"; hash = "$y$j9T$..."; } );
 *
 * Only the shape is checked here; whether a hash is one crypt(3) can
 * verify is checked by authdb, which also merges in the passwd file.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_priv.h"
#include "xmalloc.h"

#define UOFF(f) offsetof(struct auth_user_conf, f)

static const struct setting user_settings[] = {
	{ "name", T_STRING, UOFF(name), 0, 0, NULL, 0 },
	{ "password", T_STRING, UOFF(password), 0, 0, NULL, 0 },
	{ "hash", T_STRING, UOFF(hash), 0, 0, NULL, 0 },
	{ NULL, 0, 0, 0, 0, NULL, 0 },
};

void
config_free_auth_users(struct config *cfg)
{
	for (size_t i = 0; i < cfg->nauth_users; i++) {
		struct auth_user_conf *u = &cfg->auth_users[i];
		free(u->name);
		if (u->password != NULL) {
			memset(u->password, 0, strlen(u->password));
			free(u->password);
		}
		free(u->hash);
	}
	free(cfg->auth_users);
	cfg->auth_users = NULL;
	cfg->nauth_users = 0;
}

int
config_load_auth_users(struct config *cfg, const config_setting_t *ls, const char *file,
    struct buf *errors)
{
	int rc = 0;
	int n;

	if (!config_setting_is_list(ls)) {
		config_error_at(errors, ls, file, "'users' must be a list: users = ( { name = \"alice\"; password = \"secret\"; } );");
		return -1;
	}
	config_free_auth_users(cfg);
	n = config_setting_length(ls);
	cfg->auth_users = xcalloc((size_t)n + 1, sizeof(*cfg->auth_users));
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(ls, (unsigned)i);
		struct auth_user_conf *u = &cfg->auth_users[cfg->nauth_users++];

		u->line = (int)config_setting_source_line(e);
		if (!config_setting_is_group(e)) {
			config_error_at(errors, e, file, "each user must be a group: { name = \"alice\"; password = \"secret\"; }");
			rc = -1;
			continue;
		}
		if (config_apply_group(u, user_settings, "user", e, file, errors) != 0) {
			rc = -1;
			continue;
		}
		if (u->name == NULL) {
			config_error_at(errors, e, file, "user has no 'name'");
			rc = -1;
		} else if (strchr(u->name, ':') != NULL || strchr(u->name, ' ') != NULL ||
		    strlen(u->name) > 255) {
			config_error_at(errors, e, file, "user name '%s' must be at most 255 characters without ':' or spaces",
			    u->name);
			rc = -1;
		}
		if ((u->password == NULL) == (u->hash == NULL)) {
			config_error_at(errors, e, file, "user '%s' needs exactly one of 'password' and 'hash'",
			    u->name ? u->name : "");
			rc = -1;
		} else if (u->password != NULL && strlen(u->password) > 1024) {
			config_error_at(errors, e, file, "password of user '%s' is longer than 1024 characters",
			    u->name ? u->name : "");
			rc = -1;
		}
	}
	return rc;
}
