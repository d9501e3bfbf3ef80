/*
 * smtptrap - list, show, wait for, count and purge the mail smtptrapd
 * captured, and talk to the running daemon through its control socket.
 *
 *   smtptrap [-c FILE] [-m DIR] [-s SOCKET] COMMAND [OPTIONS]
 *
 * The capture directory is -m DIR, else delivery.directory of the
 * configuration (-c FILE, or the default file when it is readable), else
 * ./maildir. The control socket is -s SOCKET, else control.socket of the
 * configuration. See smtptrap(1).
 *
 * Exit status: 0 done; 1 the answer is "no" (wait timed out, no such
 * message, the daemon refused the command); 2 usage or setup errors (bad
 * options, unreadable capture directory or configuration, no control
 * socket).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli_control.h"
#include "cli_filter.h"
#include "cli_msg.h"
#include "cli_scan.h"
#include "cli_wait.h"
#include "config.h"
#include "log.h"

#define DEFAULT_CONFIG SYSCONFDIR "/smtptrapd.conf"
#define CONTROL_TIMEOUT_MS 30000
#define WAIT_TIMEOUT_DEFAULT 30.0

struct ctx {
	const char *dir;          /* capture directory */
	const char *socket;       /* control socket, or NULL */
};

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: smtptrap [-c FILE] [-m DIR] [-s SOCKET] COMMAND [OPTIONS]\n"
	    "\n"
	    "Captured mail (FILTERS: --to P, --from P, --subject P, --header NAME=P,\n"
	    "--since TIME; P is a substring, or /REGEX/; all must hold):\n"
	    "  list [FILTERS] [--limit N] [--json]   one line per message, newest last\n"
	    "  show ID [--raw | --part N | --json]   one message, decoded\n"
	    "  wait [FILTERS] [--count N] [--timeout SECONDS] [--existing]\n"
	    "                                        until N matching messages arrive\n"
	    "  count [FILTERS]                       how many messages match\n"
	    "  purge [FILTERS]                       delete matching (or all) messages\n"
	    "\n"
	    "The running daemon (its control socket):\n"
	    "  status | clock [advance N | set N] | reload\n"
	    "  greylist list | flush | purge | whitelist ADDRESS | delete CLIENT [<SENDER> <RCPT>]\n"
	    "\n"
	    "  -c FILE    the daemon's configuration (default %s if readable)\n"
	    "  -m DIR     the capture directory (default: the configuration's, else ./maildir)\n"
	    "  -s SOCKET  the control socket (default: the configuration's control.socket)\n",
	    DEFAULT_CONFIG);
}

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
die_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("smtptrap: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	usage(stderr);
	exit(2);
}

/* --- filters shared by list, wait, count and purge --- */

enum {
	OPT_TO = 256, OPT_FROM, OPT_SUBJECT, OPT_HEADER, OPT_SINCE, OPT_LIMIT, OPT_JSON, OPT_COUNT,
	OPT_TIMEOUT, OPT_EXISTING, OPT_RAW, OPT_PART,
};

static const struct option filter_opts[] = {
	{ "to", required_argument, NULL, OPT_TO },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "subject", required_argument, NULL, OPT_SUBJECT },
	{ "header", required_argument, NULL, OPT_HEADER },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "limit", required_argument, NULL, OPT_LIMIT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "existing", no_argument, NULL, OPT_EXISTING },
	{ "raw", no_argument, NULL, OPT_RAW },
	{ "part", required_argument, NULL, OPT_PART },
	{ NULL, 0, NULL, 0 },
};

struct opts {
	struct cli_filter filter;
	long limit;               /* list: the newest N; 0 = all */
	int json;
	long count;               /* wait */
	double timeout;           /* wait, seconds; 0 = forever */
	int existing;
	int raw;
	long part;
	const char *allowed;      /* the options this command takes, e.g. "tfshSlj" */
};

static long
number_arg(const char *opt, const char *v, long min)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < min) {
		fprintf(stderr, "smtptrap: %s needs a number of at least %ld, not '%s'\n", opt, min, v);
		exit(2);
	}
	return n;
}

/* Parse a command's options (argv[0] is the command); returns the index of the first operand. */
static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const char letters[] = "tfshSljcxeRp"; /* one per option, in filter_opts order */
	char err[512];
	int c;

	/*
	 * Options may follow operands ("show ID --json"): getopt permutes.
	 * optind 0 makes glibc's getopt start afresh after the "+" scan of
	 * the global options.
	 */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", filter_opts, NULL)) != -1) {
		if (c == '?' || c == ':') {
			fprintf(stderr, "smtptrap %s: %s '%s'; try 'smtptrap --help'\n", argv[0],
			    c == ':' ? "missing value for" : "unknown option", argv[optind - 1]);
			exit(2);
		}
		if (strchr(o->allowed, letters[c - OPT_TO]) == NULL) {
			fprintf(stderr, "smtptrap %s: does not take --%s\n", argv[0], filter_opts[c - OPT_TO].name);
			exit(2);
		}
		switch (c) {
		case OPT_TO:
		case OPT_FROM:
		case OPT_SUBJECT:
		case OPT_HEADER: {
			enum cli_field f = c == OPT_TO ? CF_TO : c == OPT_FROM ? CF_FROM :
			    c == OPT_SUBJECT ? CF_SUBJECT : CF_HEADER;
			if (cli_filter_add(&o->filter, f, optarg, err, sizeof(err)) != 0) {
				fprintf(stderr, "smtptrap: %s\n", err);
				exit(2);
			}
			break;
		}
		case OPT_SINCE:
			if (cli_filter_since(&o->filter, optarg, time(NULL), err, sizeof(err)) != 0) {
				fprintf(stderr, "smtptrap: %s\n", err);
				exit(2);
			}
			break;
		case OPT_LIMIT:
			o->limit = number_arg("--limit", optarg, 1);
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		case OPT_COUNT:
			o->count = number_arg("--count", optarg, 1);
			break;
		case OPT_TIMEOUT: {
			char *end;
			errno = 0;
			o->timeout = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' || o->timeout < 0 ||
			    o->timeout > 86400 * 365) {
				fprintf(stderr, "smtptrap: --timeout needs seconds (0 = no limit), not '%s'\n", optarg);
				exit(2);
			}
			break;
		}
		case OPT_EXISTING:
			o->existing = 1;
			break;
		case OPT_RAW:
			o->raw = 1;
			break;
		case OPT_PART:
			o->part = number_arg("--part", optarg, 1);
			break;
		}
	}
	return optind;
}

static void
no_operands(int argc, char **argv, int first)
{
	if (first < argc)
		die_usage("unexpected argument '%s'", argv[first]);
}

/* Scan the capture directory, or exit 2. */
static void
scan_or_die(const struct ctx *cx, struct cli_list *l)
{
	char err[512];

	if (cli_scan(cx->dir, l, err, sizeof(err)) != 0) {
		fprintf(stderr, "smtptrap: %s\n", err);
		exit(2);
	}
}

/*
 * The messages of the list that match, loaded (oldest first). Files that
 * vanished since the scan are skipped.
 */
static size_t
load_matching(const struct cli_list *l, const struct cli_filter *f, struct cli_msg ***out,
    size_t **idx)
{
	struct cli_msg **v = calloc(l->n ? l->n : 1, sizeof(*v));
	size_t *ix = calloc(l->n ? l->n : 1, sizeof(*ix));
	size_t n = 0;
	char err[512];

	if (v == NULL || ix == NULL) {
		fputs("smtptrap: out of memory\n", stderr);
		exit(2);
	}
	for (size_t i = 0; i < l->n; i++) {
		struct cli_msg *m = calloc(1, sizeof(*m));
		if (m == NULL) {
			fputs("smtptrap: out of memory\n", stderr);
			exit(2);
		}
		if (cli_msg_load(l->v[i].paths[0], l->v[i].id, m, err, sizeof(err)) != 0 ||
		    !cli_filter_match(f, m)) {
			cli_msg_free(m);
			free(m);
			continue;
		}
		ix[n] = i;
		v[n++] = m;
	}
	*out = v;
	*idx = ix;
	return n;
}

static void
free_msgs(struct cli_msg **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cli_msg_free(v[i]);
		free(v[i]);
	}
	free(v);
}

static void
iso_time(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Print s with tabs, line breaks and other control characters as spaces. */
static void
put_field(const char *s)
{
	for (; s != NULL && *s; s++)
		putchar((unsigned char)*s < 32 || *s == 127 ? ' ' : *s);
}

/* --- commands on captured mail --- */

static int
cmd_list(const struct ctx *cx, int argc, char **argv)
{
	struct opts o = { .allowed = "tfshSlj" };
	struct cli_list l;
	struct cli_msg **v;
	size_t *ix, n, from = 0;

	cli_filter_init(&o.filter);
	no_operands(argc, argv, parse_opts(argc, argv, &o));
	scan_or_die(cx, &l);
	n = load_matching(&l, &o.filter, &v, &ix);
	if (o.limit > 0 && n > (size_t)o.limit)
		from = n - (size_t)o.limit;
	if (o.json) {
		char *js = cli_msg_json_list(v + from, n - from);
		puts(js);
		free(js);
	} else {
		for (size_t i = from; i < n; i++) {
			const struct cli_msg *m = v[i];
			char when[32];
			iso_time(m->received, when, sizeof(when));
			printf("%s\t%s\t<", m->id, when);
			put_field(m->sender ? m->sender : "");
			putchar('>');
			putchar('\t');
			for (size_t k = 0; k < m->nrcpts; k++) {
				printf("%s<", k ? "," : "");
				put_field(m->rcpts[k].address);
				putchar('>');
			}
			putchar('\t');
			put_field(m->subject ? m->subject : "");
			printf("\t%lld\n", m->size);
		}
	}
	free_msgs(v, n);
	free(ix);
	cli_list_free(&l);
	cli_filter_free(&o.filter);
	return 0;
}

static int
cat_file(const char *path)
{
	char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "smtptrap: %s: %s\n", path, strerror(errno));
		return 2;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			break;
	}
	close(fd);
	return n < 0 ? 2 : 0;
}

static void
print_show(const struct cli_msg *m, const struct cli_body *b)
{
	char when[32];

	iso_time(m->received, when, sizeof(when));
	printf("Id: %s\nFile: %s\nReceived: %s\nSize: %lld\n", m->id, m->path, when, m->size);
	if (m->sender != NULL)
		printf("Envelope-From: <%s>%s%s\n", m->sender, m->mail_params[0] ? " " : "", m->mail_params);
	for (size_t i = 0; i < m->nrcpts; i++)
		printf("Envelope-To: <%s>%s%s\n", m->rcpts[i].address,
		    m->rcpts[i].params[0] ? " " : "", m->rcpts[i].params);
	putchar('\n');
	for (size_t i = 0; i < m->nheaders; i++)
		printf("%s: %s\n", m->headers[i].name, m->headers[i].value);
	putchar('\n');
	if (b->text != NULL) {
		fputs(b->text, stdout);
		if (b->text[0] != '\0' && b->text[strlen(b->text) - 1] != '\n')
			putchar('\n');
	} else {
		puts("(no text part)");
	}
	printf("\nParts:\n");
	for (size_t i = 0; i < b->nparts; i++) {
		const struct cli_part *p = &b->parts[i];
		printf("  %d  %s", p->index, p->content_type);
		if (p->charset)
			printf("; charset=%s", p->charset);
		if (p->disposition)
			printf("  %s", p->disposition);
		if (p->filename)
			printf("  \"%s\"", p->filename);
		printf("  %lld octets\n", p->size);
	}
}

static int
cmd_show(const struct ctx *cx, int argc, char **argv)
{
	struct opts o = { .allowed = "jRp" };
	struct cli_list l;
	struct cli_msg m;
	struct cli_body b;
	char err[512];
	int first, rc = 0;
	long k;

	cli_filter_init(&o.filter);
	first = parse_opts(argc, argv, &o);
	if (first != argc - 1)
		die_usage("%s", "show needs one message ID");
	if (o.raw + o.json + (o.part > 0) > 1)
		die_usage("%s", "show takes one of --raw, --part N and --json");
	scan_or_die(cx, &l);
	k = cli_find(&l, argv[first]);
	if (k < 0) {
		fprintf(stderr, "smtptrap: %s: %s\n", argv[first],
		    k == -2 ? "ambiguous: several messages start with it" : "no such message");
		cli_list_free(&l);
		return 1;
	}
	const char *path = l.v[k].paths[0];
	if (o.raw) {
		rc = cat_file(path);
	} else if (o.part > 0) {
		char *data;
		size_t len;
		if (cli_msg_part(path, (int)o.part, &data, &len, err, sizeof(err)) != 0) {
			fprintf(stderr, "smtptrap: %s\n", err);
			rc = 1;
		} else {
			fwrite(data, 1, len, stdout);
			free(data);
		}
	} else if (cli_msg_load(path, l.v[k].id, &m, err, sizeof(err)) != 0) {
		fprintf(stderr, "smtptrap: %s\n", err);
		rc = 2;
	} else if (cli_msg_body(path, &b, err, sizeof(err)) != 0) {
		fprintf(stderr, "smtptrap: %s\n", err);
		cli_msg_free(&m);
		rc = 2;
	} else {
		if (o.json) {
			char *js = cli_msg_json(&m, &b);
			puts(js);
			free(js);
		} else {
			print_show(&m, &b);
		}
		cli_msg_body_free(&b);
		cli_msg_free(&m);
	}
	cli_list_free(&l);
	return rc;
}

static int
cmd_wait(const struct ctx *cx, int argc, char **argv)
{
	struct opts o = { .allowed = "tfshScxe", .count = 1, .timeout = WAIT_TIMEOUT_DEFAULT };
	char **ids = NULL;
	size_t nids = 0;
	char err[512];
	int rc;

	cli_filter_init(&o.filter);
	no_operands(argc, argv, parse_opts(argc, argv, &o));
	struct cli_wait_opts w = {
		.dir = cx->dir,
		.filter = &o.filter,
		.count = (size_t)o.count,
		.timeout_ms = o.timeout == 0 ? -1 : (int)(o.timeout * 1000.0 + 0.5),
		.existing = o.existing,
	};
	rc = cli_wait(&w, &ids, &nids, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "smtptrap: %s\n", err);
		rc = 2;
	} else {
		for (size_t i = 0; i < nids; i++)
			puts(ids[i]);
		if (rc == 1)
			fprintf(stderr, "smtptrap: wait: %zu of %ld messages after %g seconds\n", nids,
			    o.count, o.timeout);
	}
	for (size_t i = 0; i < nids; i++)
		free(ids[i]);
	free(ids);
	cli_filter_free(&o.filter);
	return rc;
}

static int
cmd_count_or_purge(const struct ctx *cx, int argc, char **argv, int purge)
{
	struct opts o = { .allowed = "tfshS" };
	struct cli_list l;
	struct cli_msg **v;
	size_t *ix, n, removed = 0;
	int rc = 0;

	cli_filter_init(&o.filter);
	no_operands(argc, argv, parse_opts(argc, argv, &o));
	scan_or_die(cx, &l);
	n = load_matching(&l, &o.filter, &v, &ix);
	if (purge) {
		/* Only new/ and cur/ were scanned: files being written in tmp/ stay. */
		for (size_t i = 0; i < n; i++) {
			const struct cli_entry *e = &l.v[ix[i]];
			int gone = 0;
			for (size_t p = 0; p < e->npaths; p++) {
				if (unlink(e->paths[p]) == 0 || errno == ENOENT) {
					gone = 1;
				} else {
					fprintf(stderr, "smtptrap: %s: %s\n", e->paths[p], strerror(errno));
					rc = 2;
				}
			}
			removed += gone;
		}
		printf("%zu\n", removed);
	} else {
		printf("%zu\n", n);
	}
	free_msgs(v, n);
	free(ix);
	cli_list_free(&l);
	cli_filter_free(&o.filter);
	return rc;
}

static int
cmd_count(const struct ctx *cx, int argc, char **argv)
{
	return cmd_count_or_purge(cx, argc, argv, 0);
}

static int
cmd_purge(const struct ctx *cx, int argc, char **argv)
{
	return cmd_count_or_purge(cx, argc, argv, 1);
}

/* --- commands for the running daemon --- */

static int
cmd_control(const struct ctx *cx, int argc, char **argv)
{
	struct buf req, out;
	char err[512];
	int code;

	if (cx->socket == NULL) {
		fputs("smtptrap: no control socket: use -s PATH, or set control.socket in the daemon's configuration (-c FILE)\n", stderr);
		return 2;
	}
	buf_init(&req);
	buf_init(&out);
	for (int i = 0; i < argc; i++) {
		if (strpbrk(argv[i], "\r\n") != NULL)
			die_usage("argument '%s' has a line break", argv[i]);
		buf_printf(&req, "%s%s", i ? " " : "", argv[i]);
	}
	code = cli_control(cx->socket, req.data, CONTROL_TIMEOUT_MS, &out, err, sizeof(err));
	if (code < 0) {
		fprintf(stderr, "smtptrap: %s\n", err);
		code = 2;
	} else if (code >= 200 && code < 300) {
		/* The last line of a multi-line reply is just "ok". */
		if (out.len >= 3 && strcmp(out.data + out.len - 3, "ok\n") == 0 &&
		    (out.len == 3 || out.data[out.len - 4] == '\n'))
			out.len -= 3;
		fwrite(out.data, 1, out.len, stdout);
		code = 0;
	} else {
		fprintf(stderr, "smtptrap: %s: %d %s", argv[0], code, out.data);
		code = code == 500 || code == 501 ? 2 : 1;
	}
	buf_free(&req);
	buf_free(&out);
	return code;
}

static const struct command {
	const char *name;
	int (*run)(const struct ctx *cx, int argc, char **argv);
	int needs_dir;
} commands[] = {
	{ "list", cmd_list, 1 },
	{ "show", cmd_show, 1 },
	{ "wait", cmd_wait, 1 },
	{ "count", cmd_count, 1 },
	{ "purge", cmd_purge, 1 },
	{ "status", cmd_control, 0 },
	{ "clock", cmd_control, 0 },
	{ "greylist", cmd_control, 0 },
	{ "reload", cmd_control, 0 },
	{ NULL, NULL, 0 },
};

int
main(int argc, char **argv)
{
	static const struct option global[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL, *dir = NULL, *sock = NULL;
	struct config cfg;
	int c, rc;

	log_init(1, "smtptrap");
	while ((c = getopt_long(argc, argv, "+c:m:s:hV", global, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'm': dir = optarg; break;
		case 's': sock = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("smtptrap %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	const struct command *cmd;
	for (cmd = commands; cmd->name != NULL; cmd++)
		if (strcmp(cmd->name, argv[optind]) == 0)
			break;
	if (cmd->name == NULL)
		die_usage("unknown command '%s'", argv[optind]);

	/*
	 * The daemon's configuration tells where its mail and socket are;
	 * it is not read when the command line already says it.
	 */
	config_defaults(&cfg);
	int need_config = cmd->needs_dir ? dir == NULL : sock == NULL;
	if (config_path == NULL && need_config && access(DEFAULT_CONFIG, R_OK) == 0)
		config_path = DEFAULT_CONFIG;
	if (config_path != NULL) {
		struct buf errors;
		buf_init(&errors);
		if (config_load(&cfg, config_path, &errors) != 0) {
			fprintf(stderr, "smtptrap: cannot use the configuration:\n%s", errors.data);
			buf_free(&errors);
			config_free(&cfg);
			return 2;
		}
		buf_free(&errors);
	}
	struct ctx cx = {
		.dir = dir != NULL ? dir : cfg.maildir,
		.socket = sock != NULL ? sock : cfg.control_socket,
	};
	if (cmd->needs_dir)
		cli_msg_init();
	rc = cmd->run(&cx, argc - optind, argv + optind);
	fflush(stdout);
	config_free(&cfg);
	return rc;
}
