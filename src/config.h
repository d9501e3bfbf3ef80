/*
 * config - the daemon's configuration: libconfig file -> validated,
 * immutable struct.
 *
 * config_defaults() gives the built-in configuration (127.0.0.1:2525, accept
 * everything, ./maildir). config_load() applies a file on top of it and
 * checks every setting; each problem becomes one "file:line: message" entry
 * in the error list, and a configuration with any error is never used.
 */
#ifndef SMTPTRAP_CONFIG_H
#define SMTPTRAP_CONFIG_H

#include <stddef.h>

#include "buf.h"

/* ESMTP extensions that EHLO can advertise. */
enum {
	EXT_PIPELINING = 1 << 0,
	EXT_SIZE = 1 << 1,
	EXT_8BITMIME = 1 << 2,
	EXT_SMTPUTF8 = 1 << 3,
	EXT_ENHANCEDSTATUSCODES = 1 << 4,
	EXT_CHUNKING = 1 << 5,
	EXT_BINARYMIME = 1 << 6,
	EXT_DSN = 1 << 7,
	EXT_ALL = (1 << 8) - 1,
};

enum backend_kind { BACKEND_MAILDIR = 0, BACKEND_BLACKHOLE };
enum maildir_layout { LAYOUT_SINGLE = 0, LAYOUT_PER_RECIPIENT };
enum bare_policy { BARE_REJECT = 0, BARE_NORMALIZE };
enum long_line_policy { LONG_LINES_REJECT = 0, LONG_LINES_ACCEPT };

struct listener_conf {
	char *name;
	char *address;     /* numeric IPv4 or IPv6 address; "" = all IPv4 */
	int port;          /* 0 = any free port */
	int line;          /* where it was defined, 0 for built-in/command line */
};

struct config {
	char *path;                /* the file read, NULL for built-in defaults */

	char *hostname;
	char *banner;
	int log_level;             /* enum log_level */

	struct listener_conf *listeners;
	size_t nlisteners;

	int min_spare;
	int max_spare;
	int max_workers;
	int max_sessions_per_worker;
	int workers_line;          /* where the workers group starts, for errors */

	long long max_message_size;
	int max_recipients;
	int max_errors;

	int timeout_command_ms;
	int timeout_data_ms;
	int timeout_session_ms;
	int timeout_shutdown_ms;

	unsigned extensions;       /* EXT_* */
	int bare_line_endings;     /* enum bare_policy */
	int long_lines;            /* enum long_line_policy */

	int backend;               /* enum backend_kind */
	char *maildir;
	int maildir_line;          /* where delivery.directory was set, or 0 */
	int layout;                /* enum maildir_layout */
	int fsync;
};

/* Fill cfg with built-in defaults. Free with config_free(). */
void config_defaults(struct config *cfg);

/*
 * Read path on top of the defaults. Returns 0 on success; otherwise -1 with
 * one "file:line: message\n" per problem appended to errors.
 */
int config_load(struct config *cfg, const char *path, struct buf *errors);

/* Check cross-setting rules (pool sizes, listeners); same error format. */
int config_check(const struct config *cfg, struct buf *errors);

/* Replace the listeners with one parsed from "[ADDR]:PORT" or "[V6]:PORT". */
int config_add_listener_spec(struct config *cfg, const char *spec, int replace, char *err, size_t errlen);

/* Parse "[ADDR]:PORT"; *addr is allocated. 0 on success. */
int config_parse_hostport(const char *spec, char **addr, int *port);

void config_free(struct config *cfg);

#endif
