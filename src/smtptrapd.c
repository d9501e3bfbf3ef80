/*
 * smtptrapd - the SMTP test daemon: command line, configuration, listeners,
 * then the prefork master.
 *
 * smtptrapd [-f] [-c FILE] [-t] [-l [ADDR]:PORT]... [-m DIR] [-V] [-h]
 *
 * Exit status: 0 after a clean stop or a good -t; 1 for a configuration or
 * startup error (with file:line messages on stderr); 2 for usage errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authdb.h"
#include "buf.h"
#include "config.h"
#include "deliver.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "tls.h"
#include "xmalloc.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

#define DEFAULT_CONFIG SYSCONFDIR "/smtptrapd.conf"

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: smtptrapd [-f] [-c FILE] [-t] [-l [ADDR]:PORT]... [-m DIR] [-V] [-h]\n"
	    "  -f              stay in the foreground, log to stderr\n"
	    "  -c FILE         configuration file (default %s, if it exists)\n"
	    "  -t              check the configuration and exit\n"
	    "  -l [ADDR]:PORT  listen here instead of the configured listeners (repeatable;\n"
	    "                  port 0 picks a free port; use [ADDR] for IPv6)\n"
	    "  -m DIR          capture directory (delivery.directory)\n"
	    "  -V              print the version and exit\n"
	    "  -h              print this help and exit\n",
	    DEFAULT_CONFIG);
}

static void
daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		fatal("fork() failed while daemonizing");
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		fatal("setsid() failed");
	pid = fork();
	if (pid < 0)
		fatal("fork() failed while daemonizing");
	if (pid > 0)
		_exit(0);
	if (chdir("/") != 0)
		fatal("chdir(\"/\") failed");
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
}

int
main(int argc, char **argv)
{
	struct config cfg;
	struct buf errors;
	const char *config_path = NULL;
	const char *capture_dir = NULL;
	char **listen_specs;
	size_t nspecs = 0;
	int foreground = 0, test_only = 0;
	int opt;

	log_init(1, "smtptrapd");
	listen_specs = xcalloc((size_t)argc, sizeof(char *));
	while ((opt = getopt(argc, argv, "fc:tl:m:Vh")) != -1) {
		switch (opt) {
		case 'f':
			foreground = 1;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 't':
			test_only = 1;
			break;
		case 'l':
			listen_specs[nspecs++] = optarg;
			break;
		case 'm':
			capture_dir = optarg;
			break;
		case 'V':
			printf("smtptrapd %s\n", PACKAGE_VERSION);
			free(listen_specs);
			return 0;
		case 'h':
			usage(stdout);
			free(listen_specs);
			return 0;
		default:
			usage(stderr);
			free(listen_specs);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "smtptrapd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		free(listen_specs);
		return 2;
	}

	config_defaults(&cfg);
	buf_init(&errors);
	if (config_path == NULL && access(DEFAULT_CONFIG, F_OK) == 0)
		config_path = DEFAULT_CONFIG;
	int bad = 0;
	if (config_path != NULL && config_load(&cfg, config_path, &errors) != 0)
		bad = 1;
	for (size_t i = 0; i < nspecs; i++) {
		char err[256];
		if (config_add_listener_spec(&cfg, listen_specs[i], i == 0, err, sizeof(err)) != 0) {
			buf_printf(&errors, "-l: %s\n", err);
			bad = 1;
		}
	}
	free(listen_specs);
	if (capture_dir != NULL) {
		free(cfg.maildir);
		cfg.maildir = xstrdup(capture_dir);
		cfg.maildir_line = 0;
	}
	if (!bad && config_check(&cfg, &errors) != 0)
		bad = 1;
	/* Keys and the passwd file are read now, before anything forks. */
	struct authdb *authdb = NULL;
	struct tls_server *tls = NULL;
	if (!bad) {
		if ((authdb = authdb_load(&cfg, &errors)) == NULL)
			bad = 1;
		if (tls_wanted(&cfg) && (tls = tls_server_new(&cfg, &errors)) == NULL)
			bad = 1;
	}
	if (bad) {
		fputs(errors.data, stderr);
		buf_free(&errors);
		tls_server_free(tls);
		authdb_free(authdb);
		config_free(&cfg);
		return 1;
	}
	buf_free(&errors);
	if (test_only) {
		printf("configuration OK\n");
		tls_server_free(tls);
		authdb_free(authdb);
		config_free(&cfg);
		return 0;
	}

	/* Create the capture store, then fix its path: we may chdir("/"). */
	char err[512];
	if (deliver_ops_for(&cfg)->prepare(&cfg, err, sizeof(err)) != 0)
		fatalx("%s", err);
	if (cfg.backend == BACKEND_MAILDIR) {
		char *abs = realpath(cfg.maildir, NULL);
		if (abs == NULL)
			fatal("realpath(\"%s\") failed", cfg.maildir);
		free(cfg.maildir);
		cfg.maildir = abs;
	}

	struct listener *listeners = xcalloc(cfg.nlisteners, sizeof(*listeners));
	for (size_t i = 0; i < cfg.nlisteners; i++) {
		if (listen_open(&cfg.listeners[i], &listeners[i], err, sizeof(err)) != 0)
			fatalx("%s", err);
		log_notice("listening on %s (listener %s)", listeners[i].addr, listeners[i].name);
	}
	if (tls != NULL)
		log_notice("TLS: %s", tls_server_describe(tls));
	log_notice("smtptrapd %s ready: %s delivery to %s, workers %d..%d (max %d)",
	    PACKAGE_VERSION, deliver_ops_for(&cfg)->name,
	    cfg.backend == BACKEND_MAILDIR ? cfg.maildir : "nowhere", cfg.min_spare,
	    cfg.max_spare, cfg.max_workers);

	/* The lines above are always printed: fixtures read the port there. */
	log_set_level((enum log_level)cfg.log_level);
	if (!foreground) {
		daemonize();
		log_init(0, "smtptrapd");
	}
	int rc = master_run(&cfg, listeners, cfg.nlisteners, tls, authdb);
	for (size_t i = 0; i < cfg.nlisteners; i++)
		listen_close(&listeners[i]);
	free(listeners);
	tls_server_free(tls);
	authdb_free(authdb);
	config_free(&cfg);
	return rc;
}
