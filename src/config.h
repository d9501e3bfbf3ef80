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
#include "greylist.h"
#include "policy.h"

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
enum early_talker_policy { EARLY_REJECT = 0, EARLY_DROP, EARLY_ALLOW };

/* PROXY protocol header expected on a listener. */
enum proxy_mode { PROXYMODE_NONE = 0, PROXYMODE_V1, PROXYMODE_V2, PROXYMODE_ANY };

/* How a listener uses TLS. */
enum tls_mode {
	TLS_NONE = 0,          /* plaintext only, STARTTLS not offered */
	TLS_STARTTLS,          /* STARTTLS offered */
	TLS_STARTTLS_REQUIRED, /* STARTTLS offered and required before mail */
	TLS_IMPLICIT,          /* TLS from the first byte (SMTPS, port 465) */
};

/* TLS protocol versions, oldest first; TLS_PROTO_ANY = no bound. */
enum tls_proto { TLS_PROTO_ANY = -1, TLS_PROTO_1_0 = 0, TLS_PROTO_1_1, TLS_PROTO_1_2, TLS_PROTO_1_3 };

/* SASL mechanisms (RFC 4954 AUTH). */
enum {
	AUTH_MECH_PLAIN = 1 << 0,
	AUTH_MECH_LOGIN = 1 << 1,
	AUTH_MECH_CRAM_MD5 = 1 << 2,
	AUTH_MECH_ALL = (1 << 3) - 1,
};

struct listener_conf {
	char *name;
	char *address;     /* numeric IPv4 or IPv6 address; "" = all IPv4 */
	int port;          /* 0 = any free port */
	int line;          /* where it was defined, 0 for built-in/command line */
	int tls;           /* enum tls_mode */
	int auth;          /* offer AUTH on this listener */
	unsigned auth_without_tls; /* AUTH_MECH_* usable before TLS is active */
	int require_auth_for_mail; /* MAIL needs a successful AUTH first */
	int proxy;         /* enum proxy_mode */
	char *rules_name;  /* rules = "name": a ruleset, resolved after loading */
	int rules_line;
	int ruleset;       /* index into policy.rulesets; 0 = the top-level rules */
};

/* A user defined in the auth group: exactly one of password and hash. */
struct auth_user_conf {
	char *name;
	char *password;    /* plaintext secret (allows CRAM-MD5), or NULL */
	char *hash;        /* crypt(3) hash, or NULL */
	int line;
};

struct config {
	char *path;                /* the file read, NULL for built-in defaults */

	char *hostname;
	char *banner;
	int log_level;             /* enum log_level */
	int log_facility;          /* enum log_facility: syslog facility */
	char *log_file;            /* log lines go to this file; NULL = stderr/syslog */
	int log_file_line;
	char *transcript_dir;      /* per-session transcripts; NULL = off */
	int transcript_dir_line;

	/* privileges: who the daemon runs as when started as root */
	char *user;                /* NULL = "nobody" when started as root */
	int user_line;
	char *group;               /* NULL = the user's primary group */
	int group_line;
	char *pid_file;            /* NULL = none (the -p option sets it too) */
	int pid_file_line;

	struct listener_conf *listeners;
	size_t nlisteners;

	int min_spare;
	int max_spare;
	int max_workers;
	int max_sessions_per_worker;
	int worker_sessions;       /* sessions one worker serves at once */
	int workers_line;          /* where the workers group starts, for errors */

	long long max_message_size;
	int max_recipients;
	int max_errors;
	int soft_errors;           /* 0 = off */
	int error_delay_ms;        /* per error past soft_errors */
	int max_connections;       /* sessions at once, 0 = as many as workers */
	int max_connections_per_client;
	int connection_rate;       /* per client per minute, 0 = unlimited */
	int message_rate;          /* per client per minute, 0 = unlimited */
	int messages_per_session;  /* 0 = unlimited */
	int min_data_rate;         /* content octets per second, 0 = no minimum */

	int timeout_command_ms;
	int timeout_data_ms;
	int timeout_session_ms;
	int timeout_shutdown_ms;
	int timeout_tls_handshake_ms;
	int timeout_proxy_ms;

	unsigned extensions;       /* EXT_* */
	int bare_line_endings;     /* enum bare_policy */
	int long_lines;            /* enum long_line_policy */
	int early_talker;          /* enum early_talker_policy */
	int greeting_delay_ms;
	int pipelining_check;      /* 554 5.5.0 for unadvertised pipelining */
	int reject_non_smtp;       /* 521 5.7.0 for GET, POST, header lines... */

	int backend;               /* enum backend_kind */
	char *maildir;
	int maildir_line;          /* where delivery.directory was set, or 0 */
	int layout;                /* enum maildir_layout */
	int fsync;

	/* tls group; NULL paths = not set */
	char *tls_certificate;
	char *tls_key;             /* NULL: the key is in the certificate file */
	char *tls_chain;
	char *tls_client_ca;
	char *tls_ciphers;         /* TLS 1.2 and older, OpenSSL cipher list */
	char *tls_ciphersuites;    /* TLS 1.3 */
	int tls_min_protocol;      /* enum tls_proto */
	int tls_max_protocol;      /* enum tls_proto */
	int tls_client_certificate; /* request a client certificate */
	int tls_line;              /* where the tls group starts, or 0 */
	int tls_certificate_line;
	int tls_key_line;
	int tls_chain_line;
	int tls_client_ca_line;
	int tls_ciphers_line;
	int tls_ciphersuites_line;

	/* auth group */
	unsigned auth_mechanisms;  /* AUTH_MECH_* offered */
	int auth_accept_any;       /* any user name and password succeed */
	char *auth_passwd_file;
	int auth_passwd_file_line;
	struct auth_user_conf *auth_users;
	size_t nauth_users;

	struct policy policy;      /* classes, domains, rules */
	char *xclient_allowed;     /* class name, resolved into policy.xclient_class */
	int xclient_line;
	long long seed;            /* policy.seed as read */
	int seed_line;

	/* state kept across restarts: server.state_directory and the store group */
	char *state_directory;
	int state_directory_line;
	long long store_map_size;  /* octets the store file may grow to */
	int store_sync;            /* flush every commit */
	int store_purge_interval;  /* seconds between purges of expired records */

	struct greylist_conf greylist;
	int greylist_line;         /* where the greylist group starts, or 0 */
	int greylist_text_line;
	int greylist_status_line;

	/* control group; control_socket NULL = no control socket */
	char *control_socket;
	int control_socket_line;
	int control_mode;          /* permissions of the socket file */
	int clock_control;         /* the socket may change the clock */
	int control_timeout_ms;    /* idle time before a control client is dropped */
	int control_max_clients;
};

/* Does any rule use the greylist action (so the store is needed)? */
int config_uses_greylisting(const struct config *cfg);

/* The store's file name in the state directory. */
#define CONFIG_STORE_FILE "smtptrapd.lmdb"

/* The store's file: STATE_DIRECTORY/smtptrapd.lmdb (allocated). */
char *config_store_path(const struct config *cfg);

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

/*
 * Seconds from "300", "90s", "5m", "2h", "35d" or "1w" (and "-60" with
 * negative_ok). 0, or -1 when malformed or out of range.
 */
int config_parse_duration(const char *s, int negative_ok, long long *out);

/* Parse "[ADDR]:PORT"; *addr is allocated. 0 on success. */
int config_parse_hostport(const char *spec, char **addr, int *port);

void config_free(struct config *cfg);

#endif
