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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authdb.h"
#include "buf.h"
#include "config.h"
#include "control.h"
#include "deliver.h"
#include "fsutil.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "store.h"
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

	/* The greylist store: the state directory, then the file in it. */
	struct store *store = NULL;
	char *store_path = NULL;
	char store_err[512] = "";
	if (config_uses_greylisting(&cfg)) {
		if (fs_mkdir_p(cfg.state_directory, 0750) != 0)
			fatal("cannot create the state directory %s", cfg.state_directory);
		char *abs = realpath(cfg.state_directory, NULL);
		if (abs == NULL)
			fatal("realpath(\"%s\") failed", cfg.state_directory);
		free(cfg.state_directory);
		cfg.state_directory = abs;
		store_path = config_store_path(&cfg);
	}
	struct control *control = NULL;
	if (cfg.control_socket != NULL) {
		if ((control = control_open(&cfg, err, sizeof(err))) == NULL)
			fatalx("%s", err);
		log_notice("control socket %s%s", cfg.control_socket,
		    cfg.clock_control ? " (clock control enabled)" : "");
	}

	struct listener *listeners = xcalloc(cfg.nlisteners, sizeof(*listeners));
	for (size_t i = 0; i < cfg.nlisteners; i++) {
		if (listen_open(&cfg.listeners[i], &listeners[i], err, sizeof(err)) != 0)
			fatalx("%s", err);
		log_notice("listening on %s (listener %s)", listeners[i].addr, listeners[i].name);
	}
	if (tls != NULL)
		log_notice("TLS: %s", tls_server_describe(tls));
	/*
	 * From "ready" on, a stop request must be a graceful stop: the
	 * signals wait, blocked, until the master loop takes them.
	 */
	sigset_t early;
	sigemptyset(&early);
	sigaddset(&early, SIGTERM);
	sigaddset(&early, SIGINT);
	sigaddset(&early, SIGHUP);
	sigaddset(&early, SIGUSR1);
	sigprocmask(SIG_BLOCK, &early, NULL);
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
	/*
	 * Opened by the process that stays the master: LMDB's lock on the
	 * file belongs to the process that took it and would not survive the
	 * fork in daemonize().
	 */
	if (store_path != NULL) {
		store = store_open(store_path, (size_t)cfg.store_map_size, cfg.store_sync, store_err,
		    sizeof(store_err));
		if (store == NULL)
			log_err("greylist store %s; until it is fixed, greylisting %s (greylist.on_store_error)",
			    store_err, cfg.greylist.on_store_error == GL_ON_ERROR_PASS ?
			    "passes every recipient" : "defers every recipient with 451 4.3.0");
		else
			log_notice("greylist store %s", store_path);
	}
	struct master_args margs = {
		.cfg = &cfg,
		.listeners = listeners,
		.nlisteners = cfg.nlisteners,
		.tls = tls,
		.authdb = authdb,
		.store = store,
		.store_path = store != NULL ? store_path : NULL,
		.store_error = store != NULL ? NULL : store_err,
		.control = control,
	};
	int rc = master_run(&margs);
	control_close(control, 1);
	store_close(store);
	free(store_path);
	for (size_t i = 0; i < cfg.nlisteners; i++)
		listen_close(&listeners[i]);
	free(listeners);
	tls_server_free(tls);
	authdb_free(authdb);
	config_free(&cfg);
	return rc;
}
