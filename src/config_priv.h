/*
 * config_priv - what the configuration loader's files share: the setting
 * descriptions and the typed value conversion. Not for use outside the
 * config module (config.c, config_value.c, config_listen.c, config_auth.c).
 */
#ifndef SMTPTRAP_CONFIG_PRIV_H
#define SMTPTRAP_CONFIG_PRIV_H

#include <libconfig.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"

enum stype {
	T_INT,      /* int, range checked */
	T_SIZE,     /* long long: integer or "10M"-style string */
	T_BOOL,     /* int 0/1 */
	T_STRING,   /* char *, non-empty, no control characters */
	T_ADDRESS,  /* char *, numeric IPv4/IPv6 address or "" */
	T_MS,       /* int milliseconds, given as (possibly fractional) seconds */
	T_ENUM,     /* int index into names */
	T_LOGLEVEL, /* int enum log_level */
	T_EXTLIST,  /* unsigned EXT_* mask from a list of names */
	T_MECHLIST, /* unsigned AUTH_MECH_* mask from a list of names */
	T_MECHBOOL, /* unsigned AUTH_MECH_* mask: true, false or a list */
	T_USERS,    /* the auth users list (base is struct config) */
	T_SEED,     /* long long: any integer */
	T_RULES,    /* a listener's rules: a ruleset name or an inline list */
	T_DURATION, /* int seconds: an integer, or a string "90s", "5m", "2h", "35d", "1w" */
	T_MODE,     /* int file mode from an octal string, "0660" */
	T_NETLIST,  /* struct netlist: class names and networks (base is struct config) */
	T_DOMLIST,  /* struct domlist: domains, ".domain" for subdomains */
};

/*
 * One setting: where its value lands (offset into the struct being
 * filled) and, when lineoff is not 0, where the line it was read from is
 * kept (LINE(field)), for errors found after loading.
 */
struct setting {
	const char *name;
	enum stype type;
	size_t offset;
	long long min;
	long long max;
	const char *const *names; /* T_ENUM */
	size_t lineoff;           /* offsetof(int line field) + 1, or 0 */
};

void config_error_at(struct buf *errors, const config_setting_t *s, const char *fallback_file,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

int config_is_integer(const config_setting_t *s);

/* Convert s according to def and store it into base. 0 or -1 (error added). */
int config_apply_setting(void *base, const struct setting *def, const config_setting_t *s,
    const char *file, struct buf *errors);

/*
 * Apply every member of the group gs to base using the table settings;
 * what names the group in errors ("tls", "listener"). Unknown members are
 * errors. Returns 0 or -1.
 */
int config_apply_group(void *base, const struct setting *settings, const char *what,
    const config_setting_t *gs, const char *file, struct buf *errors);

int config_load_listeners(struct config *cfg, const config_setting_t *ls, const char *file,
    struct buf *errors);
void config_free_listeners(struct config *cfg);
void config_listener_defaults(struct listener_conf *l);

int config_load_auth_users(struct config *cfg, const config_setting_t *ls, const char *file,
    struct buf *errors);
void config_free_auth_users(struct config *cfg);

/* config_policy.c: classes, domains, rules and rulesets. */
void config_policy_defaults(struct config *cfg);
int config_policy_member(const char *name);   /* a top-level name it loads? */
int config_load_policy_member(struct config *cfg, const config_setting_t *s, const char *file,
    struct buf *errors);
/* Resolve names (listener rules, xclient_allowed) once the file is read. */
int config_policy_resolve(struct config *cfg, struct buf *errors);
/* An RFC 3463 enhanced status code, "5.7.1": class 2, 4 or 5, then 1-3 digits twice. */
int config_enh_valid(const char *v);

/* A list of domains, or of classes and networks, appended to *l / *out. */
int config_load_domlist(struct domlist *l, const config_setting_t *s, const char *what,
    const char *file, struct buf *errors);
int config_load_netlist(struct config *cfg, const config_setting_t *s, const char *what,
    struct netlist *out, const char *file, struct buf *errors);

/*
 * A directory that exists and is writable, or does not exist yet under a
 * writable directory (it is created at start). 0, or -1 with why.
 */
int config_check_directory(const char *dir, char *why, size_t whylen);

/* config_greylist.c: the greylist, store and control groups. */
extern const struct setting config_greylist_settings[];
extern const struct setting config_store_settings[];
extern const struct setting config_control_settings[];
void config_greylist_defaults(struct config *cfg);
void config_greylist_free(struct config *cfg);
int config_greylist_check(const struct config *cfg, struct buf *errors);

/* Load one list of rules (a listener's inline rules). */
int config_load_rules(struct config *cfg, const char *name, const config_setting_t *ls,
    const char *file, struct buf *errors);

#endif
