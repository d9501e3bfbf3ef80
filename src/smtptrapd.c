/*
 * smtptrapd - the SMTP test daemon: command line, configuration, listeners,
 * then the prefork master.
 *
 * smtptrapd [-f] [-c FILE] [-t] [-l [ADDR]:PORT]... [-m DIR] [-p FILE] [-V] [-h]
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
#include "pidfile.h"
#include "privdrop.h"
#include "reload.h"
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
	    "usage: smtptrapd [-f] [-c FILE] [-t] [-l [ADDR]:PORT]... [-m DIR] [-p FILE] [-V] [-h]\n"
	    "  -f              stay in the foreground, log to stderr\n"
	    "  -c FILE         configuration file (default %s, if it exists)\n"
	    "  -t              check the configuration and exit\n"
	    "  -l [ADDR]:PORT  listen here instead of the configured listeners (repeatable;\n"
	    "                  port 0 picks a free port; use [ADDR] for IPv6)\n"
	    "  -m DIR          capture directory (delivery.directory)\n"
	    "  -p FILE         write the master's pid to FILE (server.pid_file)\n"
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

/* path made absolute against the current directory (it need not exist). */
static char *
absolute(const char *path)
{
	char cwd[PATH_MAX];

	if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		return xstrdup(path);
	return xasprintf("%s/%s", cwd, path);
}

int
main(int argc, char **argv)
{
	struct buf errors;
	char *config_path = NULL;
	const char *capture_dir = NULL;
	const char *pid_opt = NULL;
	char **listen_specs;
	size_t nspecs = 0;
	int foreground = 0, test_only = 0;
	int opt;

	log_init(1, "smtptrapd");
	listen_specs = xcalloc((size_t)argc, sizeof(char *));
	while ((opt = getopt(argc, argv, "fc:tl:m:p:Vh")) != -1) {
		switch (opt) {
		case 'f':
			foreground = 1;
			break;
		case 'c':
			free(config_path);
			config_path = absolute(optarg);
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
		case 'p':
			pid_opt = optarg;
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
			free(config_path);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "smtptrapd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		free(listen_specs);
		free(config_path);
		return 2;
	}
	if (config_path == NULL && access(DEFAULT_CONFIG, F_OK) == 0)
		config_path = xstrdup(DEFAULT_CONFIG);

	/* Relative paths in the configuration mean "from here", on every reload too. */
	struct gen_opts opts = {
		.config_path = config_path,
		.listen_specs = listen_specs,
		.nspecs = nspecs,
		.capture_dir = capture_dir,
		.startdir = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC),
	};
	struct privs privs;
	char err[512];
	buf_init(&errors);
	struct generation *gen = gen_load(&opts, 1, &errors);
	if (gen != NULL && privdrop_resolve(&gen->cfg, &privs, err, sizeof(err)) != 0) {
		buf_printf(&errors, "%s\n", err);
		gen_free(gen);
		gen = NULL;
	}
	if (gen == NULL) {
		fputs(errors.data ? errors.data : "", stderr);
		buf_free(&errors);
		free(listen_specs);
		free(config_path);
		return 1;
	}
	if (test_only) {
		printf("configuration OK\n");
		buf_free(&errors);
		gen_free(gen);
		free(listen_specs);
		free(config_path);
		return 0;
	}
	const struct config *cfg = &gen->cfg;
	log_set_facility(cfg->log_facility);
	uid_t owner = privs.drop ? privs.uid : (uid_t)-1;
	gid_t group = privs.drop ? privs.gid : (gid_t)-1;

	/* Directories and listeners, as root if started so, handed to the user. */
	if (gen_open(gen, NULL, &opts, owner, group, &errors) != 0) {
		fputs(errors.data ? errors.data : "", stderr);
		fatalx("cannot start");
	}
	buf_free(&errors);
	char *pid_file = NULL;
	if (pid_opt != NULL || cfg->pid_file != NULL)
		pid_file = absolute(pid_opt != NULL ? pid_opt : cfg->pid_file);
	struct control *control = NULL;
	if (cfg->control_socket != NULL) {
		if ((control = control_open(cfg, err, sizeof(err))) == NULL)
			fatalx("%s", err);
		if (privdrop_chown_path(&privs, control_path(control)) != 0)
			fatal("control socket %s: cannot hand it to user %s", control_path(control),
			    privs.user);
		log_notice("control socket %s%s", cfg->control_socket,
		    cfg->clock_control ? " (clock control enabled)" : "");
	}
	for (size_t i = 0; i < cfg->nlisteners; i++)
		log_notice("listening on %s (listener %s)", gen->listeners[i].addr, gen->listeners[i].name);
	if (gen->tls != NULL)
		log_notice("TLS: %s", tls_server_describe(gen->tls));
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
	    PACKAGE_VERSION, deliver_ops_for(cfg)->name,
	    cfg->backend == BACKEND_MAILDIR ? cfg->maildir : "nowhere", cfg->min_spare,
	    cfg->max_spare, cfg->max_workers);

	/* The lines above are always printed: fixtures read the port there. */
	log_set_level((enum log_level)cfg->log_level);
	if (cfg->log_file != NULL) {
		if (log_open_file(cfg->log_file, err, sizeof(err)) != 0)
			fatalx("%s", err);
		if (privdrop_chown_fd(&privs, log_file_fd()) != 0)
			fatal("cannot hand the log file %s to user %s", cfg->log_file, privs.user);
		log_notice("smtptrapd %s started: %s delivery to %s; listening on %zu listener(s)",
		    PACKAGE_VERSION, deliver_ops_for(cfg)->name,
		    cfg->backend == BACKEND_MAILDIR ? cfg->maildir : "nowhere", cfg->nlisteners);
		for (size_t i = 0; i < cfg->nlisteners; i++)
			log_notice("listening on %s (listener %s)", gen->listeners[i].addr,
			    gen->listeners[i].name);
	}
	if (!foreground) {
		daemonize();
		if (cfg->log_file == NULL)
			log_init(0, "smtptrapd");
		else
			log_after_fork();
	}
	if (pid_file != NULL) {
		if (pidfile_write(pid_file, getpid(), err, sizeof(err)) != 0)
			fatalx("%s", err);
		log_info("pid file %s written", pid_file);
	}

	/* Privileges go before anything is forked or opened for the workers. */
	if (privdrop_apply(&privs, err, sizeof(err)) != 0)
		fatalx("%s", err);
	if (privs.drop)
		log_notice("running as user %s (uid %ld), group %s (gid %ld)", privs.user, (long)privs.uid,
		    privs.group, (long)privs.gid);
	else if (privs.stay_root)
		log_warnx("running as root, as server.user = \"%s\" says", cfg->user);
	if (deliver_ops_for(cfg)->check(cfg, gen->maildir_fd, err, sizeof(err)) != 0)
		fatalx("%s", err);
	if (gen->store_path != NULL && faccessat(gen->state_fd, ".", W_OK | X_OK, AT_EACCESS) != 0)
		fatal("cannot write to the state directory %s as uid %ld", cfg->state_directory,
		    (long)geteuid());
	if (gen->transcript_fd >= 0 && faccessat(gen->transcript_fd, ".", W_OK | X_OK, AT_EACCESS) != 0)
		fatal("cannot write to the transcript directory %s as uid %ld", cfg->transcript_dir,
		    (long)geteuid());

	/*
	 * Opened by the process that stays the master, as the user it runs
	 * as: LMDB's lock on the file belongs to the process that took it and
	 * would not survive the fork in daemonize(), and workers must be able
	 * to write what it creates.
	 */
	struct store *store = NULL;
	char store_err[512] = "";
	if (gen->store_path != NULL) {
		store = gen_store_open(gen->state_fd, cfg, store_err, sizeof(store_err));
		if (store == NULL)
			log_err("greylist store %s; until it is fixed, greylisting %s (greylist.on_store_error)",
			    store_err, cfg->greylist.on_store_error == GL_ON_ERROR_PASS ?
			    "passes every recipient" : "defers every recipient with 451 4.3.0");
		else
			log_notice("greylist store %s", gen->store_path);
	}
	struct master_args margs = {
		.gen = gen,
		.opts = &opts,
		.store = store,
		.store_error = store != NULL || gen->store_path == NULL ? NULL : store_err,
		.control = control,
		.foreground = foreground,
	};
	int rc = master_run(&margs);
	if (pid_file != NULL && pidfile_remove(pid_file, getpid()) != 0)
		log_warn("cannot remove the pid file %s", pid_file);
	control_close(margs.control, 1);
	store_close(margs.store);
	gen_free(margs.gen);
	if (opts.startdir >= 0)
		close(opts.startdir);
	free(pid_file);
	free(listen_specs);
	free(config_path);
	return rc;
}
