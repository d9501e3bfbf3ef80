/*
 * check_policy - unit tests for the policy rules: the pure evaluator
 * (policy.c: policy_eval with rules built by hand, every condition true
 * and false, ordering, delays, tarpit, throttle, greylist, probability),
 * networks (policy_cidr_parse, policy_netlist_match), domains
 * (policy_domain_in, policy_domain_kind), the random source, and the
 * loader (config_policy.c: classes, domains, rules, rulesets and listener
 * rules read by config_load, with "file:line: message" errors).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "parser.h"
#include "policy.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Helpers
 */

/* The 16-octet form of a numeric address: v4-mapped for IPv4. */
static void
addr_of(const char *s, unsigned char out[16])
{
	unsigned char a4[4];

	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, a4) == 1) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, a4, 4);
		return;
	}
	ck_assert_msg(inet_pton(AF_INET6, s, out) == 1, "bad test address '%s'", s);
}

static void
policy_empty(struct policy *p)
{
	memset(p, 0, sizeof(*p));
	p->xclient_class = -1;
}

/* A rule with no condition: the loader's defaults. */
static void
rule_init(struct policy_rule *r, enum policy_stage st, enum policy_action a)
{
	memset(r, 0, sizeof(*r));
	r->stage = st;
	r->action = a;
	r->authenticated = -1;
	r->tls = -1;
	r->rcpt_domain = DOM_ANY;
	r->size_over = -1;
	r->probability = 1.0;
}

static unsigned ones[ST_COUNT] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };

static void
facts_init(struct policy_facts *f, const char *addr)
{
	memset(f, 0, sizeof(*f));
	addr_of(addr, f->addr);
	f->listener = "smtp";
	f->size = -1;
	f->verb = VERB_NOOP;
	f->counts = ones;
}

static struct policy_ruleset
ruleset_of(struct policy_rule *rules, size_t n)
{
	struct policy_ruleset rs = { .name = (char *)"", .rules = rules, .n = n, .line = 0 };
	return rs;
}

/* Evaluate with a fresh random source; v is poisoned first. */
static void
eval(const struct policy *p, const struct policy_ruleset *rs, enum policy_stage st,
    const struct policy_facts *f, struct policy_verdict *v)
{
	struct policy_rng rng;

	policy_rng_seed(&rng, 1);
	memset(v, 0x5a, sizeof(*v));
	policy_eval(p, rs, st, f, &rng, v);
}

/*
 * Does the single (terminal, non-accept) rule r decide? Anything else
 * must be the untouched default verdict.
 */
static int
holds(const struct policy *p, struct policy_rule *r, const struct policy_facts *f)
{
	struct policy_ruleset rs = ruleset_of(r, 1);
	struct policy_verdict v;

	eval(p, &rs, r->stage, f, &v);
	ck_assert_int_eq(v.delay_ms, 0);
	ck_assert_int_eq(v.tarpit_ms, -1);
	ck_assert_int_eq(v.throttle, -1);
	if (v.rule == r) {
		ck_assert_int_eq(v.action, r->action);
		return 1;
	}
	ck_assert_ptr_null(v.rule);
	ck_assert_int_eq(v.action, ACT_ACCEPT);
	return 0;
}

static void
parse_net(const char *s, struct cidr *c)
{
	ck_assert_msg(policy_cidr_parse(s, c) == 0, "policy_cidr_parse(\"%s\") failed", s);
}

static int
net_match(const char *net, const char *addr)
{
	struct cidr c;
	struct netlist l = { &c, 1 };
	unsigned char a[16];

	parse_net(net, &c);
	addr_of(addr, a);
	return policy_netlist_match(&l, a);
}

static const char *
errtext(const struct buf *b)
{
	return b->data != NULL ? b->data : "";
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (*s == '\n')
			n++;
	return n;
}

static const char *
tmpbase(void)
{
	const char *base = getenv("TMPDIR");
	return base == NULL || *base == '\0' ? "/tmp" : base;
}

/* Write text to a new temporary file; returns its (allocated) path. */
static char *
write_conf(const char *text)
{
	char *path;
	int fd;
	size_t len = strlen(text);

	ck_assert_int_gt(asprintf(&path, "%s/check_policy.XXXXXX", tmpbase()), 0);
	fd = mkstemp(path);
	ck_assert_msg(fd >= 0, "mkstemp %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
	return path;
}

/* config_check() run with a fresh, writable, empty directory as cwd. */
static int
check_in_tmpdir(const struct config *cfg, struct buf *errors)
{
	char *dir;
	int here = open(".", O_RDONLY | O_DIRECTORY);
	int rc;

	ck_assert_int_ge(here, 0);
	ck_assert_int_gt(asprintf(&dir, "%s/check_policy_dir.XXXXXX", tmpbase()), 0);
	ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp %s: %s", dir, strerror(errno));
	ck_assert_int_eq(chdir(dir), 0);
	rc = config_check(cfg, errors);
	ck_assert_int_eq(fchdir(here), 0);
	close(here);
	ck_assert_int_eq(rmdir(dir), 0);
	free(dir);
	return rc;
}

/* Load text (written to a temporary file) on top of the defaults; it must load. */
static void
load_ok(const char *text, struct config *cfg)
{
	struct buf errors;
	char *path = write_conf(text);
	int rc;

	config_defaults(cfg);
	buf_init(&errors);
	rc = config_load(cfg, path, &errors);
	unlink(path);
	ck_assert_msg(rc == 0, "config_load: %s\n--- file ---\n%s", errtext(&errors), text);
	ck_assert_str_eq(errtext(&errors), "");
	free(path);
	buf_free(&errors);
}

/* Assert that text starts with "PATH:LINE: " and that line has msg. */
static void
assert_error_line(const char *text, const char *path, int line, const char *msg)
{
	char prefix[4200];
	const char *nl = strchr(text, '\n');
	size_t first = nl ? (size_t)(nl - text) : strlen(text);

	snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	ck_assert_msg(strncmp(text, prefix, strlen(prefix)) == 0,
	    "want prefix \"%s\", got \"%s\"", prefix, text);
	ck_assert_msg(nl != NULL, "error line not terminated: \"%s\"", text);
	ck_assert_msg(memmem(text, first, msg, strlen(msg)) != NULL,
	    "want \"%s\" in the first line of \"%s\"", msg, text);
}

static size_t
find_ruleset(const struct policy *p, const char *name)
{
	for (size_t k = 0; k < p->nrulesets; k++)
		if (strcmp(p->rulesets[k].name, name) == 0)
			return k;
	ck_abort_msg("no ruleset '%s'", name);
	return 0;
}

/*
 * policy_eval: defaults, ordering, non-terminal actions
 */

START_TEST(test_eval_default)
{
	struct policy p;
	struct policy_facts f;
	struct policy_verdict v;
	struct policy_ruleset empty = ruleset_of(NULL, 0);

	policy_empty(&p);
	facts_init(&f, "192.0.2.1");
	for (int st = 0; st < ST_COUNT; st++) {
		eval(&p, NULL, (enum policy_stage)st, &f, &v);
		ck_assert_int_eq(v.action, ACT_ACCEPT);
		ck_assert_ptr_null(v.rule);
		ck_assert_int_eq(v.delay_ms, 0);
		ck_assert_int_eq(v.tarpit_ms, -1);
		ck_assert_int_eq(v.throttle, -1);

		eval(&p, &empty, (enum policy_stage)st, &f, &v);
		ck_assert_int_eq(v.action, ACT_ACCEPT);
		ck_assert_ptr_null(v.rule);
		ck_assert_int_eq(v.delay_ms, 0);
		ck_assert_int_eq(v.tarpit_ms, -1);
		ck_assert_int_eq(v.throttle, -1);
	}
}
END_TEST

/* Only rules of the stage asked about count; the first terminal one wins. */
START_TEST(test_eval_order)
{
	struct policy p;
	struct policy_rule r[7];
	struct policy_ruleset rs = ruleset_of(r, NELEM(r));
	struct policy_facts f;
	struct policy_verdict v;
	struct cidr net;

	policy_empty(&p);
	rule_init(&r[0], ST_MAIL, ACT_REJECT);
	rule_init(&r[1], ST_RCPT, ACT_DEFER);
	rule_init(&r[2], ST_RCPT, ACT_REJECT);
	rule_init(&r[3], ST_DATA, ACT_DISCARD);
	rule_init(&r[4], ST_EOM, ACT_DISCONNECT);
	rule_init(&r[5], ST_CONNECT, ACT_ACCEPT);
	rule_init(&r[6], ST_CONNECT, ACT_REJECT);
	facts_init(&f, "192.0.2.1");

	eval(&p, &rs, ST_RCPT, &f, &v);
	ck_assert_int_eq(v.action, ACT_DEFER);
	ck_assert_ptr_eq(v.rule, &r[1]);
	eval(&p, &rs, ST_MAIL, &f, &v);
	ck_assert_int_eq(v.action, ACT_REJECT);
	ck_assert_ptr_eq(v.rule, &r[0]);
	eval(&p, &rs, ST_DATA, &f, &v);
	ck_assert_int_eq(v.action, ACT_DISCARD);
	ck_assert_ptr_eq(v.rule, &r[3]);
	eval(&p, &rs, ST_EOM, &f, &v);
	ck_assert_int_eq(v.action, ACT_DISCONNECT);
	ck_assert_ptr_eq(v.rule, &r[4]);
	/* accept is terminal too: the reject after it is never reached */
	eval(&p, &rs, ST_CONNECT, &f, &v);
	ck_assert_int_eq(v.action, ACT_ACCEPT);
	ck_assert_ptr_eq(v.rule, &r[5]);
	/* stages without rules: the default */
	static const enum policy_stage none[] = { ST_HELO, ST_STARTTLS, ST_AUTH, ST_COMMAND };
	for (size_t i = 0; i < NELEM(none); i++) {
		eval(&p, &rs, none[i], &f, &v);
		ck_assert_int_eq(v.action, ACT_ACCEPT);
		ck_assert_ptr_null(v.rule);
	}

	/* A rule whose condition fails is skipped: the next one decides. */
	parse_net("10.0.0.0/8", &net);
	r[1].client.nets = &net;
	r[1].client.n = 1;
	r[1].client_set = 1;
	eval(&p, &rs, ST_RCPT, &f, &v);
	ck_assert_int_eq(v.action, ACT_REJECT);
	ck_assert_ptr_eq(v.rule, &r[2]);
	facts_init(&f, "10.20.30.40");
	eval(&p, &rs, ST_RCPT, &f, &v);
	ck_assert_int_eq(v.action, ACT_DEFER);
	ck_assert_ptr_eq(v.rule, &r[1]);
}
END_TEST

/* Delays add up and evaluation goes on; nothing after the terminal rule counts. */
START_TEST(test_eval_delay)
{
	struct policy p;
	struct policy_rule r[6];
	struct policy_ruleset rs = ruleset_of(r, NELEM(r));
	struct policy_facts f;
	struct policy_verdict v;
	struct cidr net;

	policy_empty(&p);
	parse_net("10.0.0.0/8", &net);
	rule_init(&r[0], ST_RCPT, ACT_DELAY);
	r[0].delay_ms = 100;
	rule_init(&r[1], ST_MAIL, ACT_DELAY);     /* other stage */
	r[1].delay_ms = 1000;
	rule_init(&r[2], ST_RCPT, ACT_DELAY);     /* only from 10/8 */
	r[2].delay_ms = 250;
	r[2].client.nets = &net;
	r[2].client.n = 1;
	r[2].client_set = 1;
	rule_init(&r[3], ST_RCPT, ACT_DELAY);
	r[3].delay_ms = 50;
	rule_init(&r[4], ST_RCPT, ACT_REJECT);
	rule_init(&r[5], ST_RCPT, ACT_DELAY);     /* after the terminal rule */
	r[5].delay_ms = 7;

	facts_init(&f, "192.0.2.1");
	eval(&p, &rs, ST_RCPT, &f, &v);
	ck_assert_int_eq(v.action, ACT_REJECT);
	ck_assert_ptr_eq(v.rule, &r[4]);
	ck_assert_int_eq(v.delay_ms, 150);
	ck_assert_int_eq(v.tarpit_ms, -1);
	ck_assert_int_eq(v.throttle, -1);

	facts_init(&f, "10.0.0.1");
	eval(&p, &rs, ST_RCPT, &f, &v);
	ck_assert_int_eq(v.action, ACT_REJECT);
	ck_assert_ptr_eq(v.rule, &r[4]);
	ck_assert_int_eq(v.delay_ms, 400);

	/* Without a terminal rule: the default verdict, with the delays. */
	rs.n = 4;
	eval(&p, &rs, ST_RCPT, &f, &v);
	ck_assert_int_eq(v.action, ACT_ACCEPT);
	ck_assert_ptr_null(v.rule);
	ck_assert_int_eq(v.delay_ms, 400);

	eval(&p, &rs, ST_MAIL, &f, &v);
	ck_assert_int_eq(v.action, ACT_ACCEPT);
	ck_assert_ptr_null(v.rule);
	ck_assert_int_eq(v.delay_ms, 1000);
}
END_TEST

START_TEST(test_eval_tarpit_throttle)
{
	struct policy p;
	struct policy_rule r[6];
	struct policy_ruleset rs = ruleset_of(r, NELEM(r));
	struct policy_facts f;
	struct policy_verdict v;
	struct cidr net;

	policy_empty(&p);
	parse_net("10.0.0.0/8", &net);
	rule_init(&r[0], ST_RCPT, ACT_TARPIT);
	r[0].delay_ms = 2000;
	rule_init(&r[1], ST_RCPT, ACT_THROTTLE);  /* only from 10/8 */
	r[1].rate = 99;
	r[1].client.nets = &net;
	r[1].client.n = 1;
	r[1].client_set = 1;
	rule_init(&r[2], ST_RCPT, ACT_THROTTLE);
	r[2].rate = 512;
	rule_init(&r[3], ST_RCPT, ACT_DEFER);
	rule_init(&r[4], ST_RCPT, ACT_TARPIT);    /* after the terminal rule */
	r[4].delay_ms = 9;
	rule_init(&r[5], ST_RCPT, ACT_THROTTLE);
	r[5].rate = 9;

	facts_init(&f, "192.0.2.1");
	eval(&p, &rs, ST_RCPT, &f, &v);
	ck_assert_int_eq(v.action, ACT_DEFER);
	ck_assert_ptr_eq(v.rule, &r[3]);
	ck_assert_int_eq(v.tarpit_ms, 2000);
	ck_assert_int_eq(v.throttle, 512);
	ck_assert_int_eq(v.delay_ms, 0);

	/* Without the terminal rule: reported with the default verdict. */
	rs.n = 3;
	eval(&p, &rs, ST_RCPT, &f, &v);
	ck_assert_int_eq(v.action, ACT_ACCEPT);
	ck_assert_ptr_null(v.rule);
	ck_assert_int_eq(v.tarpit_ms, 2000);
	ck_assert_int_eq(v.throttle, 512);

	/* Only the tarpit rule: throttle stays unchanged. */
	rs.n = 1;
	eval(&p, &rs, ST_RCPT, &f, &v);
	ck_assert_int_eq(v.tarpit_ms, 2000);
	ck_assert_int_eq(v.throttle, -1);

	/* Other stages are untouched. */
	rs.n = NELEM(r);
	eval(&p, &rs, ST_MAIL, &f, &v);
	ck_assert_int_eq(v.action, ACT_ACCEPT);
	ck_assert_int_eq(v.tarpit_ms, -1);
	ck_assert_int_eq(v.throttle, -1);
}
END_TEST

/*
 * greylist is noted and evaluation goes on: the first greylist rule met
 * is in the verdict next to the terminal action that follows it; a
 * terminal rule before it means no greylisting at all.
 */
START_TEST(test_eval_greylist)
{
	struct policy p;
	struct policy_rule r[4];
	struct policy_ruleset rs = ruleset_of(r, NELEM(r));
	struct policy_facts f;
	struct policy_verdict v;

	policy_empty(&p);
	rule_init(&r[0], ST_RCPT, ACT_GREYLIST);
	rule_init(&r[1], ST_RCPT, ACT_GREYLIST);
	rule_init(&r[2], ST_RCPT, ACT_REJECT);
	rule_init(&r[3], ST_MAIL, ACT_GREYLIST);
	facts_init(&f, "192.0.2.1");

	eval(&p, &rs, ST_RCPT, &f, &v);
	ck_assert_int_eq(v.action, ACT_REJECT);
	ck_assert_ptr_eq(v.rule, &r[2]);
	ck_assert_ptr_eq(v.greylist, &r[0]);
	ck_assert_int_eq(v.delay_ms, 0);
	ck_assert_int_eq(v.tarpit_ms, -1);
	ck_assert_int_eq(v.throttle, -1);

	rs.n = 1;
	eval(&p, &rs, ST_RCPT, &f, &v);
	ck_assert_int_eq(v.action, ACT_ACCEPT);
	ck_assert_ptr_null(v.rule);
	ck_assert_ptr_eq(v.greylist, &r[0]);

	/* An accept before it: no greylisting. */
	rule_init(&r[0], ST_RCPT, ACT_ACCEPT);
	rs.n = NELEM(r);
	eval(&p, &rs, ST_RCPT, &f, &v);
	ck_assert_int_eq(v.action, ACT_ACCEPT);
	ck_assert_ptr_eq(v.rule, &r[0]);
	ck_assert_ptr_null(v.greylist);

	/* Other stages never see it. */
	eval(&p, &rs, ST_DATA, &f, &v);
	ck_assert_ptr_null(v.greylist);
}
END_TEST

/*
 * policy_eval: each condition, true and false
 */

START_TEST(test_cond_client)
{
	struct policy p;
	struct policy_rule r;
	struct policy_facts f;
	struct cidr nets[2];

	policy_empty(&p);
	parse_net("10.0.0.0/8", &nets[0]);
	parse_net("2001:db8::/32", &nets[1]);
	rule_init(&r, ST_CONNECT, ACT_REJECT);

	/* unset: anybody */
	facts_init(&f, "192.0.2.1");
	ck_assert_int_eq(holds(&p, &r, &f), 1);

	r.client.nets = nets;
	r.client.n = 2;
	r.client_set = 1;
	static const struct {
		const char *addr;
		int in;
	} cases[] = {
		{ "10.1.2.3", 1 }, { "2001:db8::5", 1 }, { "192.0.2.1", 0 }, { "::1", 0 },
		{ "11.0.0.0", 0 }, { "2001:db9::", 0 },
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		facts_init(&f, cases[i].addr);
		r.client_negate = 0;
		ck_assert_msg(holds(&p, &r, &f) == cases[i].in, "client %s", cases[i].addr);
		/* not_client: the opposite */
		r.client_negate = 1;
		ck_assert_msg(holds(&p, &r, &f) == !cases[i].in, "not_client %s", cases[i].addr);
	}

	/* An empty list: nobody is in it, everybody is outside it. */
	r.client.n = 0;
	facts_init(&f, "10.1.2.3");
	r.client_negate = 0;
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	r.client_negate = 1;
	ck_assert_int_eq(holds(&p, &r, &f), 1);
}
END_TEST

START_TEST(test_cond_authenticated_tls)
{
	struct policy p;
	struct policy_rule r;
	struct policy_facts f;

	policy_empty(&p);
	facts_init(&f, "192.0.2.1");
	for (int want = -1; want <= 1; want++) {
		for (int fact = 0; fact <= 1; fact++) {
			rule_init(&r, ST_MAIL, ACT_REJECT);
			r.authenticated = want;
			f.authenticated = fact;
			f.tls = !fact;    /* tls is not looked at */
			ck_assert_msg(holds(&p, &r, &f) == (want == -1 || want == fact),
			    "authenticated rule %d fact %d", want, fact);

			rule_init(&r, ST_MAIL, ACT_REJECT);
			r.tls = want;
			f.tls = fact;
			f.authenticated = !fact;
			ck_assert_msg(holds(&p, &r, &f) == (want == -1 || want == fact),
			    "tls rule %d fact %d", want, fact);
		}
	}
}
END_TEST

START_TEST(test_cond_listener)
{
	struct policy p;
	struct policy_rule r;
	struct policy_facts f;
	char *names[] = { (char *)"smtp", (char *)"submission" };

	policy_empty(&p);
	rule_init(&r, ST_CONNECT, ACT_REJECT);
	facts_init(&f, "192.0.2.1");
	f.listener = NULL;
	ck_assert_int_eq(holds(&p, &r, &f), 1);   /* unset: any listener */

	r.listeners = names;
	r.nlisteners = 2;
	f.listener = "smtp";
	ck_assert_int_eq(holds(&p, &r, &f), 1);
	f.listener = "submission";
	ck_assert_int_eq(holds(&p, &r, &f), 1);
	f.listener = "smtps";
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f.listener = "submissio";
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f.listener = "";
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f.listener = NULL;
	ck_assert_int_eq(holds(&p, &r, &f), 0);
}
END_TEST

START_TEST(test_cond_domain_lists)
{
	struct policy p;
	struct policy_rule r;
	struct policy_facts f;
	char *helo_names[] = { (char *)".example.com" };
	char *sender_names[] = { (char *)"example.org" };
	char *rcpt_names[] = { (char *)"example.net", (char *)".example.net" };

	policy_empty(&p);
	facts_init(&f, "192.0.2.1");

	rule_init(&r, ST_HELO, ACT_REJECT);
	r.helo_domains.names = helo_names;
	r.helo_domains.n = 1;
	f.helo = "mx.example.com";
	ck_assert_int_eq(holds(&p, &r, &f), 1);
	f.helo = "MX.Example.COM";
	ck_assert_int_eq(holds(&p, &r, &f), 1);
	f.helo = "example.com";
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f.helo = "mx.example.org";
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f.helo = NULL;
	ck_assert_int_eq(holds(&p, &r, &f), 0);

	rule_init(&r, ST_MAIL, ACT_REJECT);
	r.sender_domains.names = sender_names;
	r.sender_domains.n = 1;
	f.sender = "bob@EXAMPLE.org";
	ck_assert_int_eq(holds(&p, &r, &f), 1);
	f.sender = "bob@example.net";
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f.sender = "bob@mail.example.org";
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f.sender = "";
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f.sender = NULL;
	ck_assert_int_eq(holds(&p, &r, &f), 0);

	rule_init(&r, ST_RCPT, ACT_REJECT);
	r.rcpt_domains.names = rcpt_names;
	r.rcpt_domains.n = 2;
	f.rcpt = "a@example.net";
	ck_assert_int_eq(holds(&p, &r, &f), 1);
	f.rcpt = "a@mx.example.net";
	ck_assert_int_eq(holds(&p, &r, &f), 1);
	f.rcpt = "a@example.com";
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f.rcpt = "a@notexample.net";
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f.rcpt = NULL;
	ck_assert_int_eq(holds(&p, &r, &f), 0);
}
END_TEST

START_TEST(test_cond_rcpt_domain)
{
	struct policy p;
	struct policy_rule r;
	struct policy_facts f;
	char *local[] = { (char *)"example.com" };
	char *relay[] = { (char *)".partner.example" };
	static const struct {
		const char *rcpt;
		enum domain_kind kind;
	} cases[] = {
		{ "u@example.com", DOM_LOCAL },
		{ "u@EXAMPLE.COM", DOM_LOCAL },
		{ "u@mx.partner.example", DOM_RELAY },
		{ "u@a.b.partner.example", DOM_RELAY },
		{ "u@partner.example", DOM_FOREIGN },
		{ "u@sub.example.com", DOM_FOREIGN },
		{ "u@elsewhere.org", DOM_FOREIGN },
	};

	policy_empty(&p);
	p.local_domains.names = local;
	p.local_domains.n = 1;
	p.relay_domains.names = relay;
	p.relay_domains.n = 1;
	facts_init(&f, "192.0.2.1");
	rule_init(&r, ST_RCPT, ACT_REJECT);

	/* RFC 5321 4.5.1: a bare postmaster is always local. */
	ck_assert_int_eq(policy_domain_kind(&p, "postmaster"), DOM_LOCAL);
	ck_assert_int_eq(policy_domain_kind(&p, "Postmaster"), DOM_LOCAL);
	for (size_t i = 0; i < NELEM(cases); i++) {
		ck_assert_msg(policy_domain_kind(&p, cases[i].rcpt) == cases[i].kind,
		    "policy_domain_kind(%s)", cases[i].rcpt);
		f.rcpt = cases[i].rcpt;
		for (int kind = DOM_ANY; kind <= DOM_FOREIGN; kind++) {
			r.rcpt_domain = kind;
			ck_assert_msg(holds(&p, &r, &f) == (kind == DOM_ANY || kind == (int)cases[i].kind),
			    "rcpt_domain %d, rcpt %s", kind, cases[i].rcpt);
		}
	}
	/* no recipient: only "any" holds */
	f.rcpt = NULL;
	for (int kind = DOM_ANY; kind <= DOM_FOREIGN; kind++) {
		r.rcpt_domain = kind;
		ck_assert_int_eq(holds(&p, &r, &f), kind == DOM_ANY);
	}

	/* A domain in both lists is local. */
	p.relay_domains.names = local;
	ck_assert_int_eq(policy_domain_kind(&p, "x@example.com"), DOM_LOCAL);
	/* No lists: everything is foreign. */
	policy_empty(&p);
	ck_assert_int_eq(policy_domain_kind(&p, "x@example.com"), DOM_FOREIGN);
}
END_TEST

START_TEST(test_cond_size_over)
{
	struct policy p;
	struct policy_rule r;
	struct policy_facts f;

	policy_empty(&p);
	facts_init(&f, "192.0.2.1");
	rule_init(&r, ST_EOM, ACT_REJECT);

	f.size = -1;                 /* unset: any size, known or not */
	ck_assert_int_eq(holds(&p, &r, &f), 1);
	f.size = 5;
	ck_assert_int_eq(holds(&p, &r, &f), 1);

	r.size_over = 1000;
	f.size = 1001;
	ck_assert_int_eq(holds(&p, &r, &f), 1);
	f.size = 1LL << 40;
	ck_assert_int_eq(holds(&p, &r, &f), 1);
	f.size = 1000;
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f.size = 0;
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f.size = -1;                 /* unknown size never matches */
	ck_assert_int_eq(holds(&p, &r, &f), 0);

	r.size_over = 0;
	f.size = 1;
	ck_assert_int_eq(holds(&p, &r, &f), 1);
	f.size = 0;
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f.size = -1;
	ck_assert_int_eq(holds(&p, &r, &f), 0);
}
END_TEST

START_TEST(test_cond_nth)
{
	struct policy p;
	struct policy_rule r;
	struct policy_facts f;
	unsigned counts[ST_COUNT];

	policy_empty(&p);
	facts_init(&f, "192.0.2.1");
	memset(counts, 0, sizeof(counts));
	f.counts = counts;
	rule_init(&r, ST_RCPT, ACT_REJECT);

	counts[ST_RCPT] = 7;
	ck_assert_int_eq(holds(&p, &r, &f), 1);   /* 0: any time */

	r.nth = 2;
	counts[ST_RCPT] = 1;
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	counts[ST_RCPT] = 2;
	ck_assert_int_eq(holds(&p, &r, &f), 1);
	counts[ST_RCPT] = 3;
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	/* the count of the rule's own stage, not another one */
	counts[ST_RCPT] = 1;
	counts[ST_MAIL] = 2;
	counts[ST_CONNECT] = 2;
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f.counts = NULL;
	ck_assert_int_eq(holds(&p, &r, &f), 0);

	rule_init(&r, ST_COMMAND, ACT_REJECT);
	r.nth = 1;
	f.counts = counts;
	memset(counts, 0, sizeof(counts));
	counts[ST_COMMAND] = 1;
	ck_assert_int_eq(holds(&p, &r, &f), 1);
	counts[ST_COMMAND] = 2;
	ck_assert_int_eq(holds(&p, &r, &f), 0);
}
END_TEST

START_TEST(test_cond_command)
{
	struct policy p;
	struct policy_rule r;
	struct policy_facts f;

	policy_empty(&p);
	facts_init(&f, "192.0.2.1");
	rule_init(&r, ST_COMMAND, ACT_REJECT);

	for (int verb = 0; verb < VERB_COUNT; verb++) {
		f.verb = verb;
		ck_assert_msg(holds(&p, &r, &f) == 1, "verbs 0, verb %d", verb);
	}
	r.verbs = (1U << VERB_MAIL) | (1U << VERB_RCPT);
	for (int verb = 0; verb < VERB_COUNT; verb++) {
		f.verb = verb;
		ck_assert_msg(holds(&p, &r, &f) == (verb == VERB_MAIL || verb == VERB_RCPT),
		    "verb %d", verb);
	}
	r.verbs = 1U << VERB_XCLIENT;
	f.verb = VERB_XCLIENT;
	ck_assert_int_eq(holds(&p, &r, &f), 1);
	f.verb = VERB_HELO;
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f.verb = -1;
	ck_assert_int_eq(holds(&p, &r, &f), 0);
}
END_TEST

/* Regular expressions built by hand: a NULL fact never matches, even ".*". */
START_TEST(test_cond_regex_null)
{
	struct policy p;
	struct policy_rule r;
	struct policy_facts f;
	regex_t any, empty;

	ck_assert_int_eq(regcomp(&any, ".*", REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_int_eq(regcomp(&empty, "^$", REG_EXTENDED | REG_NOSUB), 0);
	policy_empty(&p);
	facts_init(&f, "192.0.2.1");

	rule_init(&r, ST_HELO, ACT_REJECT);
	r.helo_re = &any;
	f.helo = "x";
	ck_assert_int_eq(holds(&p, &r, &f), 1);
	f.helo = NULL;
	ck_assert_int_eq(holds(&p, &r, &f), 0);

	rule_init(&r, ST_MAIL, ACT_REJECT);
	r.sender_re = &empty;
	f.sender = "";                     /* MAIL FROM:<> */
	ck_assert_int_eq(holds(&p, &r, &f), 1);
	f.sender = "a@b";
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f.sender = NULL;
	ck_assert_int_eq(holds(&p, &r, &f), 0);

	rule_init(&r, ST_RCPT, ACT_REJECT);
	r.rcpt_re = &any;
	f.rcpt = "a@b";
	ck_assert_int_eq(holds(&p, &r, &f), 1);
	f.rcpt = NULL;
	ck_assert_int_eq(holds(&p, &r, &f), 0);

	regfree(&any);
	regfree(&empty);
}
END_TEST

/* All conditions of a rule must hold: each one failing alone is enough to skip it. */
START_TEST(test_cond_all_must_hold)
{
	struct policy p;
	struct policy_rule r;
	struct policy_facts f, base;
	struct cidr net;
	unsigned counts[ST_COUNT];
	char *local[] = { (char *)"example.com", (char *)"other.example" };
	char *relay[] = { (char *)"partner.example" };
	char *listeners[] = { (char *)"submission" };
	char *helo_names[] = { (char *)"mx.example.org" };
	char *sender_names[] = { (char *)"example.org" };
	char *rcpt_names[] = { (char *)"example.com", (char *)"partner.example" };
	regex_t helo_re, sender_re, rcpt_re;

	ck_assert_int_eq(regcomp(&helo_re, "^mx\\.", REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_int_eq(regcomp(&sender_re, "^(alice|bob)@", REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_int_eq(regcomp(&rcpt_re, "^(carol|dave)@", REG_EXTENDED | REG_NOSUB), 0);
	policy_empty(&p);
	p.local_domains.names = local;
	p.local_domains.n = 2;
	p.relay_domains.names = relay;
	p.relay_domains.n = 1;
	parse_net("10.0.0.0/8", &net);

	rule_init(&r, ST_RCPT, ACT_REJECT);
	r.client.nets = &net;
	r.client.n = 1;
	r.client_set = 1;
	r.authenticated = 1;
	r.tls = 1;
	r.listeners = listeners;
	r.nlisteners = 1;
	r.helo_re = &helo_re;
	r.sender_re = &sender_re;
	r.rcpt_re = &rcpt_re;
	r.helo_domains.names = helo_names;
	r.helo_domains.n = 1;
	r.sender_domains.names = sender_names;
	r.sender_domains.n = 1;
	r.rcpt_domains.names = rcpt_names;
	r.rcpt_domains.n = 2;
	r.rcpt_domain = DOM_LOCAL;
	r.size_over = 100;
	r.nth = 2;

	memset(counts, 0, sizeof(counts));
	counts[ST_RCPT] = 2;
	facts_init(&base, "10.9.8.7");
	base.authenticated = 1;
	base.tls = 1;
	base.listener = "submission";
	base.helo = "mx.example.org";
	base.sender = "alice@example.org";
	base.rcpt = "carol@example.com";
	base.size = 101;
	base.counts = counts;
	ck_assert_int_eq(holds(&p, &r, &base), 1);

	f = base;
	addr_of("11.0.0.1", f.addr);
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f = base;
	f.authenticated = 0;
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f = base;
	f.tls = 0;
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f = base;
	f.listener = "smtp";
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f = base;
	f.helo = "mail.example.org";          /* helo regex fails, domain would too */
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f = base;
	f.helo = "mx.example.net";            /* helo regex holds, domain fails */
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f = base;
	f.sender = "eve@example.org";         /* sender regex fails */
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f = base;
	f.sender = "alice@example.net";       /* sender domain fails */
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f = base;
	f.rcpt = "erin@example.com";          /* rcpt regex fails */
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f = base;
	f.rcpt = "carol@other.example";       /* local, but not in rcpt_domains */
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f = base;
	f.rcpt = "carol@partner.example";     /* in rcpt_domains, but relay */
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f = base;
	f.size = 100;
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	f = base;
	counts[ST_RCPT] = 3;
	ck_assert_int_eq(holds(&p, &r, &f), 0);
	counts[ST_RCPT] = 2;
	r.probability = 0.0;
	ck_assert_int_eq(holds(&p, &r, &base), 0);
	r.probability = 1.0;
	ck_assert_int_eq(holds(&p, &r, &base), 1);

	regfree(&helo_re);
	regfree(&sender_re);
	regfree(&rcpt_re);
}
END_TEST

/*
 * Networks
 */

static const struct {
	const char *s;
	const char *addr;   /* the network address, as addr_of() parses it */
	int prefix;         /* over the 16-octet form */
} cidr_good[] = {
	{ "10.0.0.0/8", "10.0.0.0", 104 },
	{ "192.0.2.1", "192.0.2.1", 128 },
	{ "192.0.2.0/24", "192.0.2.0", 120 },
	{ "::1/128", "::1", 128 },
	{ "::1", "::1", 128 },
	{ "2001:db8::/32", "2001:db8::", 32 },
	{ "0.0.0.0/0", "0.0.0.0", 96 },
	{ "::/0", "::", 0 },
	{ "128.0.0.0/1", "128.0.0.0", 97 },
	{ "255.255.255.255/32", "255.255.255.255", 128 },
};

START_TEST(test_cidr_parse_good)
{
	struct cidr c;
	unsigned char want[16];

	memset(&c, 0xa5, sizeof(c));
	ck_assert_msg(policy_cidr_parse(cidr_good[_i].s, &c) == 0, "%s", cidr_good[_i].s);
	addr_of(cidr_good[_i].addr, want);
	ck_assert_msg(memcmp(c.addr, want, 16) == 0, "%s: address", cidr_good[_i].s);
	ck_assert_int_eq(c.prefix, cidr_good[_i].prefix);
}
END_TEST

static const char *const cidr_bad[] = {
	"10.0.0.1/8",       /* host bits */
	"2001:db8::1/32",   /* host bits */
	"192.0.2.1/31",
	"10.0.0.0/33",
	"::/129",
	"10.0.0.0/",
	"0.0.0.0/",
	"::/",
	"10.0.0.0/08",
	"0.0.0.0/00",
	"x",
	"",
	"1.2.3.4/-1",
	"1.2.3.4/+8",
	"/8",
	"10.0.0.0/8/8",
	"10.0.0.0/8x",
	"10.0.0.0/1000",
	"10.0.0/8",
	"10.0.0.0 /8",
	"10.0.0.256",
	"2001:db8:::/48",
	"example.com",
};

START_TEST(test_cidr_parse_bad)
{
	struct cidr c;

	ck_assert_msg(policy_cidr_parse(cidr_bad[_i], &c) == -1, "\"%s\" accepted", cidr_bad[_i]);
}
END_TEST

START_TEST(test_netlist_edges)
{
	/* /8 */
	ck_assert_int_eq(net_match("10.0.0.0/8", "10.0.0.0"), 1);
	ck_assert_int_eq(net_match("10.0.0.0/8", "10.255.255.255"), 1);
	ck_assert_int_eq(net_match("10.0.0.0/8", "11.0.0.0"), 0);
	ck_assert_int_eq(net_match("10.0.0.0/8", "9.255.255.255"), 0);
	/* /31 */
	ck_assert_int_eq(net_match("192.0.2.4/31", "192.0.2.4"), 1);
	ck_assert_int_eq(net_match("192.0.2.4/31", "192.0.2.5"), 1);
	ck_assert_int_eq(net_match("192.0.2.4/31", "192.0.2.3"), 0);
	ck_assert_int_eq(net_match("192.0.2.4/31", "192.0.2.6"), 0);
	/* /32 */
	ck_assert_int_eq(net_match("192.0.2.1", "192.0.2.1"), 1);
	ck_assert_int_eq(net_match("192.0.2.1", "192.0.2.0"), 0);
	ck_assert_int_eq(net_match("192.0.2.1", "192.0.2.129"), 0);
	/* /1 */
	ck_assert_int_eq(net_match("128.0.0.0/1", "128.0.0.0"), 1);
	ck_assert_int_eq(net_match("128.0.0.0/1", "255.255.255.255"), 1);
	ck_assert_int_eq(net_match("128.0.0.0/1", "127.255.255.255"), 0);
	ck_assert_int_eq(net_match("0.0.0.0/1", "127.255.255.255"), 1);
	ck_assert_int_eq(net_match("0.0.0.0/1", "128.0.0.0"), 0);
	/* IPv6 /64 */
	ck_assert_int_eq(net_match("2001:db8:1:2::/64", "2001:db8:1:2::"), 1);
	ck_assert_int_eq(net_match("2001:db8:1:2::/64", "2001:db8:1:2:ffff:ffff:ffff:ffff"), 1);
	ck_assert_int_eq(net_match("2001:db8:1:2::/64", "2001:db8:1:3::"), 0);
	ck_assert_int_eq(net_match("2001:db8:1:2::/64", "2001:db8:1:1:ffff:ffff:ffff:ffff"), 0);
	/* IPv6 /127, /128, /1 */
	ck_assert_int_eq(net_match("2001:db8::/127", "2001:db8::1"), 1);
	ck_assert_int_eq(net_match("2001:db8::/127", "2001:db8::2"), 0);
	ck_assert_int_eq(net_match("::1/128", "::1"), 1);
	ck_assert_int_eq(net_match("::1/128", "::"), 0);
	ck_assert_int_eq(net_match("8000::/1", "ffff::1"), 1);
	ck_assert_int_eq(net_match("8000::/1", "7fff::1"), 0);

	/* IPv4 networks never match IPv6 addresses outside ::ffff:0:0/96 */
	ck_assert_int_eq(net_match("10.0.0.0/8", "::a00:1"), 0);           /* ::10.0.0.1 */
	ck_assert_int_eq(net_match("10.0.0.0/8", "2001:db8::a00:1"), 0);
	ck_assert_int_eq(net_match("10.0.0.0/8", "::ffff:10.0.0.1"), 1);   /* v4-mapped */
	ck_assert_int_eq(net_match("0.0.0.0/0", "0.0.0.0"), 1);
	ck_assert_int_eq(net_match("0.0.0.0/0", "10.1.2.3"), 1);
	ck_assert_int_eq(net_match("0.0.0.0/0", "255.255.255.255"), 1);
	ck_assert_int_eq(net_match("0.0.0.0/0", "::1"), 0);
	ck_assert_int_eq(net_match("0.0.0.0/0", "::"), 0);
	ck_assert_int_eq(net_match("0.0.0.0/0", "2001:db8::1"), 0);
	ck_assert_int_eq(net_match("0.0.0.0/0", "::fffe:a00:1"), 0);
	/* and IPv6 networks never match IPv4 addresses */
	ck_assert_int_eq(net_match("::1/128", "0.0.0.1"), 0);
	ck_assert_int_eq(net_match("2001:db8::/32", "32.1.13.184"), 0);
	ck_assert_int_eq(net_match("::/96", "10.0.0.1"), 0);
	ck_assert_int_eq(net_match("::/0", "2001:db8::1"), 1);
}
END_TEST

START_TEST(test_netlist_list)
{
	struct cidr nets[3];
	struct netlist l = { nets, 0 };
	unsigned char a[16];

	addr_of("10.0.0.1", a);
	ck_assert_int_eq(policy_netlist_match(&l, a), 0);   /* empty */
	parse_net("192.0.2.0/24", &nets[0]);
	parse_net("2001:db8::/32", &nets[1]);
	parse_net("10.0.0.0/8", &nets[2]);
	l.n = 3;
	ck_assert_int_eq(policy_netlist_match(&l, a), 1);   /* the last one */
	addr_of("2001:db8::99", a);
	ck_assert_int_eq(policy_netlist_match(&l, a), 1);
	addr_of("192.0.2.255", a);
	ck_assert_int_eq(policy_netlist_match(&l, a), 1);
	addr_of("198.51.100.1", a);
	ck_assert_int_eq(policy_netlist_match(&l, a), 0);
	l.n = 2;
	addr_of("10.0.0.1", a);
	ck_assert_int_eq(policy_netlist_match(&l, a), 0);   /* n is honoured */
}
END_TEST

/*
 * Domains
 */

START_TEST(test_domain_in)
{
	char *exact[] = { (char *)"example.com" };
	char *subs[] = { (char *)".example.com" };
	char *both[] = { (char *)"example.net", (char *)".example.com" };
	struct domlist le = { exact, 1 }, ls = { subs, 1 }, lb = { both, 2 }, none = { NULL, 0 };

	ck_assert_int_eq(policy_domain_in(&le, "example.com"), 1);
	ck_assert_int_eq(policy_domain_in(&le, "EXAMPLE.COM"), 1);
	ck_assert_int_eq(policy_domain_in(&le, "Example.Com"), 1);
	ck_assert_int_eq(policy_domain_in(&le, "user@Example.COM"), 1);
	ck_assert_int_eq(policy_domain_in(&le, "a@b@example.com"), 1);   /* after the last @ */
	ck_assert_int_eq(policy_domain_in(&le, "example.com@other.org"), 0);
	ck_assert_int_eq(policy_domain_in(&le, "a.example.com"), 0);
	ck_assert_int_eq(policy_domain_in(&le, "badexample.com"), 0);
	ck_assert_int_eq(policy_domain_in(&le, "example.com.evil"), 0);
	ck_assert_int_eq(policy_domain_in(&le, "example.co"), 0);
	ck_assert_int_eq(policy_domain_in(&le, ""), 0);
	ck_assert_int_eq(policy_domain_in(&le, "user@"), 0);

	ck_assert_int_eq(policy_domain_in(&ls, "a.example.com"), 1);
	ck_assert_int_eq(policy_domain_in(&ls, "a.b.example.com"), 1);
	ck_assert_int_eq(policy_domain_in(&ls, "A.EXAMPLE.com"), 1);
	ck_assert_int_eq(policy_domain_in(&ls, "user@Mx.Example.COM"), 1);
	ck_assert_int_eq(policy_domain_in(&ls, "example.com"), 0);
	ck_assert_int_eq(policy_domain_in(&ls, "user@example.com"), 0);
	ck_assert_int_eq(policy_domain_in(&ls, "badexample.com"), 0);
	ck_assert_int_eq(policy_domain_in(&ls, "user@badexample.com"), 0);
	ck_assert_int_eq(policy_domain_in(&ls, ".example.com"), 0);
	ck_assert_int_eq(policy_domain_in(&ls, "a.example.com.evil"), 0);

	ck_assert_int_eq(policy_domain_in(&lb, "example.net"), 1);
	ck_assert_int_eq(policy_domain_in(&lb, "x.example.com"), 1);
	ck_assert_int_eq(policy_domain_in(&lb, "x.example.net"), 0);
	ck_assert_int_eq(policy_domain_in(&lb, "example.com"), 0);

	ck_assert_int_eq(policy_domain_in(&none, "example.com"), 0);
}
END_TEST

/*
 * Random source and probability
 */

START_TEST(test_rng)
{
	struct policy_rng a, b, c;
	int differ = 0;
	double sum = 0;

	/* splitmix64 reference outputs for seed 0 */
	policy_rng_seed(&a, 0);
	ck_assert(policy_rng_next(&a) == (double)(0xe220a8397b1dcdafULL >> 11) / 9007199254740992.0);
	ck_assert(policy_rng_next(&a) == (double)(0x6e789e6aa1b965f4ULL >> 11) / 9007199254740992.0);

	policy_rng_seed(&a, 42);
	policy_rng_seed(&b, 42);
	policy_rng_seed(&c, 43);
	double prev = -1;
	for (int i = 0; i < 10000; i++) {
		double x = policy_rng_next(&a);
		double y = policy_rng_next(&b);
		double z = policy_rng_next(&c);
		ck_assert_msg(x == y, "same seed, value %d: %g != %g", i, x, y);
		ck_assert_msg(x >= 0.0 && x < 1.0, "value %d out of [0,1): %g", i, x);
		ck_assert_msg(z >= 0.0 && z < 1.0, "value %d out of [0,1): %g", i, z);
		ck_assert_msg(x != prev, "value %d repeats", i);
		if (x != z)
			differ++;
		sum += x;
		prev = x;
	}
	ck_assert_int_gt(differ, 9990);
	ck_assert_msg(sum / 10000 > 0.48 && sum / 10000 < 0.52, "mean %g", sum / 10000);

	/* all 64 bits of the seed count */
	policy_rng_seed(&a, 1);
	policy_rng_seed(&b, 1 | (1ULL << 63));
	ck_assert(policy_rng_next(&a) != policy_rng_next(&b));
	policy_rng_seed(&a, 0x0123456789abcdefULL);
	policy_rng_seed(&b, 0x00000000000000efULL);
	ck_assert(policy_rng_next(&a) != policy_rng_next(&b));

	/* reseeding starts the sequence again */
	policy_rng_seed(&a, 42);
	policy_rng_seed(&b, 42);
	double first = policy_rng_next(&b);
	ck_assert(policy_rng_next(&a) == first);
	policy_rng_seed(&c, 43);
	ck_assert(policy_rng_next(&c) != first);
}
END_TEST

/* Count the verdicts decided by r over n evaluations, with one random source. */
static int
count_decided(const struct policy *p, struct policy_rule *r, const struct policy_facts *f,
    uint64_t seed, int n)
{
	struct policy_ruleset rs = ruleset_of(r, 1);
	struct policy_rng rng;
	struct policy_verdict v;
	int hits = 0;

	policy_rng_seed(&rng, seed);
	for (int i = 0; i < n; i++) {
		policy_eval(p, &rs, r->stage, f, &rng, &v);
		if (v.rule == r)
			hits++;
	}
	return hits;
}

START_TEST(test_probability)
{
	struct policy p;
	struct policy_rule r;
	struct policy_facts f;
	struct policy_ruleset rs = ruleset_of(&r, 1);
	struct policy_rng rng, mirror;
	struct policy_verdict v;
	int hits;

	policy_empty(&p);
	facts_init(&f, "192.0.2.1");
	rule_init(&r, ST_RCPT, ACT_DEFER);

	r.probability = 0.0;
	ck_assert_int_eq(count_decided(&p, &r, &f, 42, 1000), 0);
	r.probability = 1.0;
	ck_assert_int_eq(count_decided(&p, &r, &f, 42, 1000), 1000);
	r.probability = 0.5;
	hits = count_decided(&p, &r, &f, 42, 10000);
	ck_assert_msg(hits >= 4500 && hits <= 5500, "probability 0.5: %d of 10000", hits);
	/* the same seed gives the same outcome */
	ck_assert_int_eq(count_decided(&p, &r, &f, 42, 10000), hits);
	r.probability = 0.1;
	hits = count_decided(&p, &r, &f, 7, 10000);
	ck_assert_msg(hits >= 800 && hits <= 1200, "probability 0.1: %d of 10000", hits);

	/* Each evaluation draws once: verdict i follows value i of the sequence. */
	r.probability = 0.5;
	policy_rng_seed(&rng, 42);
	policy_rng_seed(&mirror, 42);
	for (int i = 0; i < 1000; i++) {
		int want = policy_rng_next(&mirror) < 0.5;
		policy_eval(&p, &rs, ST_RCPT, &f, &rng, &v);
		ck_assert_msg((v.rule == &r) == want, "evaluation %d", i);
	}
}
END_TEST

/* probability is drawn only when everything else holds. */
START_TEST(test_probability_draw_last)
{
	struct policy p;
	struct policy_rule r[3];
	struct policy_ruleset rs = ruleset_of(r, 3);
	struct policy_facts f;
	struct policy_rng rng, fresh;
	struct policy_verdict v;
	struct cidr net;

	policy_empty(&p);
	parse_net("10.0.0.0/8", &net);
	rule_init(&r[0], ST_RCPT, ACT_DEFER);
	r[0].probability = 0.5;
	r[0].client.nets = &net;
	r[0].client.n = 1;
	r[0].client_set = 1;
	rule_init(&r[1], ST_MAIL, ACT_DEFER);
	r[1].probability = 0.5;
	rule_init(&r[2], ST_HELO, ACT_DEFER);   /* matches, probability unset (1.0) */

	facts_init(&f, "192.0.2.1");       /* not in 10/8 */
	policy_rng_seed(&rng, 42);
	policy_rng_seed(&fresh, 42);
	for (int i = 0; i < 100; i++) {
		policy_eval(&p, &rs, ST_RCPT, &f, &rng, &v);
		ck_assert_ptr_null(v.rule);
		policy_eval(&p, &rs, ST_CONNECT, &f, &rng, &v);  /* no rule of that stage */
		policy_eval(&p, &rs, ST_HELO, &f, &rng, &v);
		ck_assert_ptr_eq(v.rule, &r[2]);
	}
	ck_assert_msg(rng.state == fresh.state, "a rule that did not match, or has no probability, drew a number");

	facts_init(&f, "10.0.0.1");
	policy_eval(&p, &rs, ST_RCPT, &f, &rng, &v);
	ck_assert_msg(rng.state != fresh.state, "a matching probability rule drew nothing");
}
END_TEST

/*
 * Loading from a configuration file
 */

/* Regular expressions are case-insensitive POSIX EREs. */
START_TEST(test_load_regex)
{
	static const char text[] =
	    "rules = (\n"
	    "  { stage = \"helo\"; helo = \"^mx[0-9]+\\\\.example\\\\.(com|net)$\"; action = \"reject\"; },\n"
	    "  { stage = \"mail\"; sender = \"^(spam|junk)+@\"; action = \"reject\"; },\n"
	    "  { stage = \"rcpt\"; rcpt = \"^trap@\"; action = \"defer\"; },\n"
	    "  { stage = \"data\"; sender = \"^$\"; action = \"reject\"; }\n"
	    ");\n";
	struct config cfg;
	const struct policy_ruleset *rs;
	struct policy_facts f;
	struct policy_verdict v;
	static const struct {
		enum policy_stage st;
		const char *helo, *sender, *rcpt;
		int rule;    /* index of the deciding rule, -1 none */
	} cases[] = {
		{ ST_HELO, "mx1.example.com", NULL, NULL, 0 },
		{ ST_HELO, "MX12.EXAMPLE.NET", NULL, NULL, 0 },
		{ ST_HELO, "mx.example.com", NULL, NULL, -1 },
		{ ST_HELO, "mx1.exampleXcom", NULL, NULL, -1 },
		{ ST_HELO, "mx1.example.org", NULL, NULL, -1 },
		{ ST_HELO, "amx1.example.com", NULL, NULL, -1 },
		{ ST_HELO, NULL, NULL, NULL, -1 },
		{ ST_MAIL, "mx1.example.com", "spam@example.org", NULL, 1 },
		{ ST_MAIL, NULL, "SpamJUNKspam@x", NULL, 1 },
		{ ST_MAIL, NULL, "ham@x", NULL, -1 },
		{ ST_MAIL, NULL, "", NULL, -1 },
		{ ST_MAIL, NULL, NULL, NULL, -1 },
		{ ST_RCPT, NULL, "spam@x", "TRAP@example.com", 2 },
		{ ST_RCPT, NULL, "spam@x", "Trap@x", 2 },
		{ ST_RCPT, NULL, "spam@x", "nottrap@x", -1 },
		{ ST_RCPT, NULL, "spam@x", NULL, -1 },
		{ ST_DATA, NULL, "", NULL, 3 },
		{ ST_DATA, NULL, "a@b", NULL, -1 },
		{ ST_DATA, NULL, NULL, NULL, -1 },
	};

	load_ok(text, &cfg);
	rs = &cfg.policy.rulesets[0];
	ck_assert_uint_eq(rs->n, 4);
	ck_assert_ptr_nonnull(rs->rules[0].helo_re);
	ck_assert_ptr_nonnull(rs->rules[1].sender_re);
	ck_assert_ptr_nonnull(rs->rules[2].rcpt_re);
	for (size_t i = 0; i < NELEM(cases); i++) {
		facts_init(&f, "192.0.2.1");
		f.helo = cases[i].helo;
		f.sender = cases[i].sender;
		f.rcpt = cases[i].rcpt;
		eval(&cfg.policy, rs, cases[i].st, &f, &v);
		if (cases[i].rule < 0) {
			ck_assert_msg(v.rule == NULL, "case %zu: a rule decided", i);
			ck_assert_int_eq(v.action, ACT_ACCEPT);
		} else {
			ck_assert_msg(v.rule == &rs->rules[cases[i].rule], "case %zu: want rule %d", i,
			    cases[i].rule);
		}
	}
	config_free(&cfg);
}
END_TEST

/* A seed from the file and a probability rule: deterministic, about half. */
START_TEST(test_load_probability)
{
	static const char text[] =
	    "policy = { seed = 42; };\n"
	    "rules = (\n"
	    "  { stage = \"rcpt\"; probability = 0.5; action = \"defer\"; },\n"
	    "  { stage = \"mail\"; probability = 0; action = \"reject\"; },\n"
	    "  { stage = \"data\"; probability = 1; action = \"reject\"; }\n"
	    ");\n";
	struct config cfg;
	const struct policy_ruleset *rs;
	struct policy_facts f;
	struct policy_rng rng, mirror, other;
	struct policy_verdict v;
	int hits = 0, mail = 0, data = 0;

	load_ok(text, &cfg);
	ck_assert_int_eq(cfg.policy.seed_set, 1);
	ck_assert_uint_eq(cfg.policy.seed, 42);
	rs = &cfg.policy.rulesets[0];
	ck_assert_uint_eq(rs->n, 3);
	ck_assert(rs->rules[0].probability == 0.5);
	ck_assert(rs->rules[1].probability == 0.0);
	ck_assert(rs->rules[2].probability == 1.0);

	facts_init(&f, "192.0.2.1");
	policy_rng_seed(&rng, cfg.policy.seed);
	policy_rng_seed(&mirror, 42);
	policy_rng_seed(&other, 1);
	for (int i = 0; i < 10000; i++) {
		int want = policy_rng_next(&mirror) < 0.5;
		policy_eval(&cfg.policy, rs, ST_RCPT, &f, &rng, &v);
		ck_assert_int_eq(v.rule == &rs->rules[0], want);
		if (v.rule != NULL)
			hits++;
		/* a random source of their own, not to shift the sequence above */
		policy_eval(&cfg.policy, rs, ST_MAIL, &f, &other, &v);
		mail += v.rule != NULL;
		policy_eval(&cfg.policy, rs, ST_DATA, &f, &other, &v);
		data += v.rule != NULL;
	}
	ck_assert_msg(hits >= 4500 && hits <= 5500, "%d of 10000", hits);
	ck_assert_int_eq(mail, 0);
	ck_assert_int_eq(data, 10000);
	config_free(&cfg);

	/* without a seed in the file, seed_set is 0 */
	load_ok("rules = ( { stage = \"rcpt\"; action = \"accept\"; } );\n", &cfg);
	ck_assert_int_eq(cfg.policy.seed_set, 0);
	config_free(&cfg);
}
END_TEST

/* Every member lands in struct policy_rule. */
START_TEST(test_load_values)
{
	static const char text[] =
	    "rules = (\n"                                                                  /* 1 */
	    "  { stage = \"eom\"; action = \"reject\"; client = \"10.0.0.0/8\";\n"           /* 2 */
	    "    authenticated = true; tls = false; listener = [ \"smtp\", \"submission\" ];\n"
	    "    helo_domains = [ \"example.org\" ]; sender_domains = [ \".example.org\" ];\n"
	    "    size_over = \"10M\"; probability = 0.25; nth = 3;\n"
	    "    code = 552; status = \"5.3.4\"; text = \"too big\\nreally\"; },\n"
	    "  { stage = \"connect\"; action = \"disconnect\"; reply = true; code = 421; },\n" /* 7 */
	    "  { stage = \"rcpt\"; action = \"delay\"; delay_ms = 1500;\n"                    /* 8 */
	    "    rcpt_domains = [ \"example.com\" ]; rcpt_domain = \"relay\"; },\n"
	    "  { stage = \"data\"; action = \"tarpit\"; delay_ms = 250; },\n"               /* 10 */
	    "  { stage = \"mail\"; action = \"throttle\"; rate = 4096; },\n"                /* 11 */
	    "  { stage = \"command\"; action = \"reject\"; command = [ \"vrfy\", \"EXPN\" ]; },\n"
	    "  { stage = \"rcpt\"; action = \"greylist\"; },\n"                             /* 13 */
	    "  { stage = \"end-of-data\"; action = \"discard\"; listener = \"smtp\"; },\n"  /* 14 */
	    "  { stage = \"helo\"; action = \"disconnect\"; after = true; }\n"              /* 15 */
	    ");\n"
	    "listeners = ( { name = \"smtp\"; port = 0; }, { name = \"submission\"; port = 0; } );\n";
	struct config cfg;
	const struct policy_rule *r;
	unsigned char a[16];

	load_ok(text, &cfg);
	ck_assert_uint_eq(cfg.policy.nrulesets, 1);
	ck_assert_str_eq(cfg.policy.rulesets[0].name, "");
	ck_assert_uint_eq(cfg.policy.rulesets[0].n, 9);
	ck_assert_int_eq(cfg.policy.rulesets[0].line, 1);
	r = cfg.policy.rulesets[0].rules;

	ck_assert_int_eq(r[0].line, 2);
	ck_assert_int_eq(r[0].stage, ST_EOM);
	ck_assert_int_eq(r[0].action, ACT_REJECT);
	ck_assert_int_eq(r[0].client_set, 1);
	ck_assert_int_eq(r[0].client_negate, 0);
	ck_assert_uint_eq(r[0].client.n, 1);
	addr_of("10.200.0.1", a);
	ck_assert_int_eq(policy_netlist_match(&r[0].client, a), 1);
	ck_assert_int_eq(r[0].authenticated, 1);
	ck_assert_int_eq(r[0].tls, 0);
	ck_assert_uint_eq(r[0].nlisteners, 2);
	ck_assert_str_eq(r[0].listeners[0], "smtp");
	ck_assert_str_eq(r[0].listeners[1], "submission");
	ck_assert_uint_eq(r[0].helo_domains.n, 1);
	ck_assert_str_eq(r[0].helo_domains.names[0], "example.org");
	ck_assert_uint_eq(r[0].sender_domains.n, 1);
	ck_assert_str_eq(r[0].sender_domains.names[0], ".example.org");
	ck_assert_int_eq(r[0].size_over, 10LL << 20);
	ck_assert(r[0].probability == 0.25);
	ck_assert_uint_eq(r[0].nth, 3);
	ck_assert_int_eq(r[0].code, 552);
	ck_assert_str_eq(r[0].enh, "5.3.4");
	ck_assert_str_eq(r[0].text, "too big\nreally");
	ck_assert_ptr_null(r[0].helo_re);
	ck_assert_int_eq(r[0].rcpt_domain, DOM_ANY);

	ck_assert_int_eq(r[1].line, 7);
	ck_assert_int_eq(r[1].stage, ST_CONNECT);
	ck_assert_int_eq(r[1].action, ACT_DISCONNECT);
	ck_assert_int_eq(r[1].reply, 1);
	ck_assert_int_eq(r[1].after, 0);
	ck_assert_int_eq(r[1].code, 421);
	ck_assert_int_eq(r[1].client_set, 0);
	ck_assert_int_eq(r[1].authenticated, -1);
	ck_assert_int_eq(r[1].tls, -1);
	ck_assert_int_eq(r[1].size_over, -1);
	ck_assert(r[1].probability == 1.0);
	ck_assert_uint_eq(r[1].nth, 0);
	ck_assert_str_eq(r[1].enh, "");
	ck_assert_ptr_null(r[1].text);

	ck_assert_int_eq(r[2].line, 8);
	ck_assert_int_eq(r[2].action, ACT_DELAY);
	ck_assert_int_eq(r[2].delay_ms, 1500);
	ck_assert_uint_eq(r[2].rcpt_domains.n, 1);
	ck_assert_int_eq(r[2].rcpt_domain, DOM_RELAY);

	ck_assert_int_eq(r[3].line, 10);
	ck_assert_int_eq(r[3].action, ACT_TARPIT);
	ck_assert_int_eq(r[3].delay_ms, 250);
	ck_assert_int_eq(r[4].action, ACT_THROTTLE);
	ck_assert_int_eq(r[4].rate, 4096);
	ck_assert_int_eq(r[5].stage, ST_COMMAND);
	ck_assert_uint_eq(r[5].verbs, (1U << VERB_VRFY) | (1U << VERB_EXPN));
	ck_assert_int_eq(r[6].action, ACT_GREYLIST);
	ck_assert_int_eq(r[6].stage, ST_RCPT);
	ck_assert_int_eq(config_uses_greylisting(&cfg), 1);
	ck_assert_int_eq(r[7].line, 14);
	ck_assert_int_eq(r[7].stage, ST_EOM);
	ck_assert_int_eq(r[7].action, ACT_DISCARD);
	ck_assert_uint_eq(r[7].nlisteners, 1);
	ck_assert_str_eq(r[7].listeners[0], "smtp");
	ck_assert_int_eq(r[8].after, 1);
	ck_assert_int_eq(r[8].reply, 0);
	config_free(&cfg);
}
END_TEST

/*
 * Classes defined after the rules, rulesets and listeners that use them,
 * and xclient_allowed before its class: names resolve whatever the order.
 * Named rulesets land at cfg.listeners[i].ruleset.
 */
START_TEST(test_load_order_and_rulesets)
{
	static const char text[] =
	    "rules = (\n"                                                                           /* 1 */
	    "  { stage = \"connect\"; client = \"internal\"; action = \"accept\"; },\n"              /* 2 */
	    "  { stage = \"connect\"; not_client = [ \"partners\", \"192.0.2.0/24\" ];\n"           /* 3 */
	    "    action = \"reject\"; code = 554; status = \"5.7.1\"; text = \"go away\"; }\n"
	    ");\n"
	    "listeners = (\n"                                                                       /* 6 */
	    "  { name = \"smtp\"; address = \"127.0.0.1\"; port = 0; rules = \"chaos\"; },\n"        /* 7 */
	    "  { name = \"plain\"; address = \"127.0.0.1\"; port = 0; },\n"                          /* 8 */
	    "  { name = \"inline\"; address = \"127.0.0.1\"; port = 0;\n"                            /* 9 */
	    "    rules = ( { stage = \"helo\"; client = \"partners\"; action = \"defer\"; } ); },\n" /* 10 */
	    "  { name = \"calm\"; address = \"127.0.0.1\"; port = 0; rules = \"calm\"; }\n"          /* 11 */
	    ");\n"
	    "rulesets = {\n"                                                                        /* 13 */
	    "  calm = ( { stage = \"rcpt\"; action = \"accept\"; } );\n"                            /* 14 */
	    "  chaos = (\n"                                                                         /* 15 */
	    "    { stage = \"rcpt\"; rcpt_domain = \"foreign\"; action = \"reject\"; },\n"           /* 16 */
	    "    { stage = \"command\"; command = [ \"VRFY\", \"expn\" ]; client = \"internal\";\n"  /* 17 */
	    "      action = \"disconnect\"; reply = true; code = 421; }\n"
	    "  );\n"
	    "};\n"
	    "policy = { seed = 7; xclient_allowed = \"partners\"; };\n"                            /* 21 */
	    "domains = { local = [ \"example.com\" ]; relay = [ \".partner.example\" ]; };\n"
	    "classes = {\n"                                                                         /* 23 */
	    "  internal = [ \"127.0.0.0/8\", \"10.0.0.0/8\", \"::1/128\" ];\n"
	    "  partners = [ \"198.51.100.0/24\", \"2001:db8::/32\" ];\n"
	    "};\n";
	struct config cfg;
	struct buf errors;
	const struct policy *p;
	const struct policy_ruleset *top, *chaos, *calm, *inl;
	struct policy_facts f;
	struct policy_verdict v;
	size_t k;

	load_ok(text, &cfg);
	buf_init(&errors);
	ck_assert_msg(check_in_tmpdir(&cfg, &errors) == 0, "config_check: %s", errtext(&errors));
	ck_assert_str_eq(errtext(&errors), "");
	buf_free(&errors);
	p = &cfg.policy;

	ck_assert_uint_eq(p->nclasses, 2);
	ck_assert_str_eq(p->classes[0].name, "internal");
	ck_assert_uint_eq(p->classes[0].nets.n, 3);
	ck_assert_int_eq(p->classes[0].line, 24);
	ck_assert_str_eq(p->classes[1].name, "partners");
	ck_assert_uint_eq(p->classes[1].nets.n, 2);
	ck_assert_int_eq(p->xclient_class, 1);
	ck_assert_uint_eq(p->seed, 7);
	ck_assert_int_eq(p->seed_set, 1);
	ck_assert_uint_eq(p->local_domains.n, 1);
	ck_assert_uint_eq(p->relay_domains.n, 1);
	ck_assert_uint_eq(p->nrulesets, 4);   /* top, inline, calm, chaos */

	/* the top-level rules, with classes resolved */
	top = &p->rulesets[0];
	ck_assert_str_eq(top->name, "");
	ck_assert_uint_eq(top->n, 2);
	ck_assert_uint_eq(top->rules[0].client.n, 3);
	ck_assert_int_eq(top->rules[1].client_negate, 1);
	ck_assert_uint_eq(top->rules[1].client.n, 3);
	ck_assert_int_eq(top->rules[1].line, 3);
	static const struct {
		const char *addr;
		int rule;
	} connect_cases[] = {
		{ "10.9.8.7", 0 }, { "127.0.0.1", 0 }, { "::1", 0 },
		{ "198.51.100.7", -1 }, { "2001:db8::25", -1 }, { "192.0.2.9", -1 },
		{ "203.0.113.5", 1 }, { "2001:db9::1", 1 }, { "11.0.0.1", 1 },
	};
	for (size_t i = 0; i < NELEM(connect_cases); i++) {
		facts_init(&f, connect_cases[i].addr);
		eval(p, top, ST_CONNECT, &f, &v);
		if (connect_cases[i].rule < 0) {
			ck_assert_msg(v.rule == NULL, "%s", connect_cases[i].addr);
			ck_assert_int_eq(v.action, ACT_ACCEPT);
		} else {
			ck_assert_msg(v.rule == &top->rules[connect_cases[i].rule], "%s",
			    connect_cases[i].addr);
		}
	}
	facts_init(&f, "203.0.113.5");
	eval(p, top, ST_CONNECT, &f, &v);
	ck_assert_int_eq(v.action, ACT_REJECT);
	ck_assert_int_eq(v.rule->code, 554);
	ck_assert_str_eq(v.rule->enh, "5.7.1");
	ck_assert_str_eq(v.rule->text, "go away");

	/* the listeners' rulesets */
	ck_assert_uint_eq(cfg.nlisteners, 4);
	ck_assert_str_eq(cfg.listeners[0].name, "smtp");
	k = find_ruleset(p, "chaos");
	ck_assert_int_eq(cfg.listeners[0].ruleset, (int)k);
	chaos = &p->rulesets[k];
	ck_assert_int_eq(chaos->line, 15);
	ck_assert_uint_eq(chaos->n, 2);
	ck_assert_int_eq(chaos->rules[0].line, 16);
	ck_assert_int_eq(chaos->rules[0].stage, ST_RCPT);
	ck_assert_int_eq(chaos->rules[0].action, ACT_REJECT);
	ck_assert_int_eq(chaos->rules[0].rcpt_domain, DOM_FOREIGN);
	ck_assert_int_eq(chaos->rules[1].line, 17);
	ck_assert_int_eq(chaos->rules[1].stage, ST_COMMAND);
	ck_assert_int_eq(chaos->rules[1].action, ACT_DISCONNECT);
	ck_assert_uint_eq(chaos->rules[1].verbs, (1U << VERB_VRFY) | (1U << VERB_EXPN));
	ck_assert_uint_eq(chaos->rules[1].client.n, 3);

	ck_assert_int_eq(cfg.listeners[1].ruleset, 0);

	k = (size_t)cfg.listeners[2].ruleset;
	ck_assert_uint_gt(k, 0);
	ck_assert_uint_lt(k, p->nrulesets);
	inl = &p->rulesets[k];
	ck_assert_str_eq(inl->name, "listener inline");
	ck_assert_uint_eq(inl->n, 1);
	ck_assert_int_eq(inl->rules[0].line, 10);
	ck_assert_int_eq(inl->rules[0].action, ACT_DEFER);
	ck_assert_uint_eq(inl->rules[0].client.n, 2);

	k = find_ruleset(p, "calm");
	ck_assert_int_eq(cfg.listeners[3].ruleset, (int)k);
	calm = &p->rulesets[k];
	ck_assert_uint_eq(calm->n, 1);
	ck_assert_int_eq(calm->rules[0].action, ACT_ACCEPT);
	ck_assert_int_eq(calm->rules[0].line, 14);

	/* chaos, evaluated */
	facts_init(&f, "10.0.0.1");
	f.rcpt = "u@example.com";
	eval(p, chaos, ST_RCPT, &f, &v);
	ck_assert_ptr_null(v.rule);
	f.rcpt = "u@a.partner.example";
	eval(p, chaos, ST_RCPT, &f, &v);
	ck_assert_ptr_null(v.rule);
	f.rcpt = "u@partner.example";
	eval(p, chaos, ST_RCPT, &f, &v);
	ck_assert_ptr_eq(v.rule, &chaos->rules[0]);
	ck_assert_int_eq(v.action, ACT_REJECT);
	f.rcpt = NULL;
	f.verb = VERB_VRFY;
	eval(p, chaos, ST_COMMAND, &f, &v);
	ck_assert_ptr_eq(v.rule, &chaos->rules[1]);
	ck_assert_int_eq(v.action, ACT_DISCONNECT);
	f.verb = VERB_NOOP;
	eval(p, chaos, ST_COMMAND, &f, &v);
	ck_assert_ptr_null(v.rule);
	facts_init(&f, "192.0.2.1");
	f.verb = VERB_EXPN;
	eval(p, chaos, ST_COMMAND, &f, &v);
	ck_assert_ptr_null(v.rule);

	config_free(&cfg);
	ck_assert_uint_eq(cfg.policy.nrulesets, 0);
	ck_assert_ptr_null(cfg.policy.rulesets);
}
END_TEST

/*
 * Loading errors: each is reported as "file:line: message" at the line of
 * the member at fault, or of the rule for problems between its members.
 */

static const struct bad_policy {
	const char *what;
	const char *text;
	int line;
	const char *msg;
	size_t nerrors;    /* error lines expected */
} bad_policy[] = {
	{ "unknown class",
	  "rules = (\n"
	  "  { stage = \"connect\"; action = \"reject\";\n"
	  "    client = \"nosuch\"; }\n"
	  ");\n",
	  3, "unknown class 'nosuch' (and not a network)", 1 },
	{ "unknown class in a list",
	  "classes = { internal = [ \"10.0.0.0/8\" ]; };\n"
	  "rules = ( { stage = \"connect\"; action = \"reject\";\n"
	  "  client = [ \"internal\",\n"
	  "             \"nosuch\" ]; } );\n",
	  4, "unknown class 'nosuch' (and not a network)", 1 },
	{ "not_client with host bits",
	  "rules = ( { stage = \"connect\"; action = \"reject\";\n"
	  "            not_client = \"10.0.0.1/8\"; } );\n",
	  2, "unknown class '10.0.0.1/8' (and not a network)", 1 },
	{ "bad network in a class",
	  "classes = {\n"
	  "  internal = [ \"127.0.0.0/8\",\n"
	  "               \"10.0.0.1/8\" ];\n"
	  "};\n",
	  3, "class 'internal': bad network '10.0.0.1/8'", 1 },
	{ "bad network in a class, used by a rule",
	  "rules = ( { stage = \"connect\"; client = \"lan\"; action = \"reject\"; } );\n"
	  "classes = {\n"
	  "  lan = [ \"192.168.0.0/33\" ];\n"
	  "};\n",
	  3, "class 'lan': bad network '192.168.0.0/33'", 1 },
	{ "bad sender regex",
	  "rules = (\n"
	  "  { stage = \"mail\"; action = \"reject\";\n"
	  "    sender = \"(unclosed\"; }\n"
	  ");\n",
	  3, "'sender': bad regular expression '(unclosed'", 1 },
	{ "bad helo regex",
	  "rules = ( { stage = \"helo\"; action = \"reject\"; helo = \"[z-a]\"; } );\n",
	  1, "'helo': bad regular expression '[z-a]'", 1 },
	{ "bad rcpt regex",
	  "rules = ( { stage = \"rcpt\";\n"
	  "  rcpt = \"a{2,1}\"; action = \"reject\"; } );\n",
	  2, "'rcpt': bad regular expression 'a{2,1}'", 1 },
	{ "code 600",
	  "rules = (\n"
	  "  { stage = \"rcpt\"; action = \"reject\";\n"
	  "    code = 600; }\n"
	  ");\n",
	  3, "'code' must be between 200 and 599", 1 },
	{ "code 199",
	  "rules = (\n"
	  "  { stage = \"rcpt\"; action = \"reject\";\n"
	  "    code = 199; }\n"
	  ");\n",
	  3, "'code' must be between 200 and 599", 1 },
	{ "status against code",
	  "rules = (\n"
	  "  { stage = \"rcpt\";\n"
	  "    action = \"reject\";\n"
	  "    code = 550;\n"
	  "    status = \"4.7.1\"; }\n"
	  ");\n",
	  2, "status 4.7.1 does not match reply code 550", 1 },
	{ "status against the default defer code",
	  "rules = (\n"
	  "  { stage = \"rcpt\"; action = \"defer\"; status = \"5.7.1\"; }\n"
	  ");\n",
	  2, "status 5.7.1 does not match reply code", 1 },
	{ "defer 550",
	  "rules = (\n"
	  "  { stage = \"rcpt\";\n"
	  "    action = \"defer\"; code = 550; }\n"
	  ");\n",
	  2, "a defer reply must be 4xx, not 550", 1 },
	{ "unknown stage",
	  "rules = (\n"
	  "  { stage = \"rcpt\"; action = \"accept\"; },\n"
	  "  { action = \"reject\";\n"
	  "    stage = \"bogus\"; }\n"
	  ");\n",
	  4, "unknown stage 'bogus'", 1 },
	{ "unknown action",
	  "rules = (\n"
	  "  { stage = \"rcpt\"; action = \"explode\"; }\n"
	  ");\n",
	  2, "unknown action 'explode'", 1 },
	{ "unknown action, no follow-on error about its code",
	  "rules = (\n"
	  "  { stage = \"rcpt\"; code = 550;\n"
	  "    action = \"rejcet\"; }\n"
	  ");\n",
	  3, "unknown action 'rejcet'", 1 },
	{ "client and not_client",
	  "rules = ( { stage = \"connect\"; action = \"reject\"; client = \"10.0.0.0/8\";\n"
	  "            not_client = \"10.1.0.0/16\"; } );\n",
	  2, "'client' and 'not_client' cannot both be given", 1 },
	{ "no stage",
	  "rules = (\n"
	  "  { stage = \"rcpt\"; action = \"accept\"; },\n"
	  "  { action = \"reject\";\n"
	  "    code = 550; }\n"
	  ");\n",
	  3, "rule has no 'stage'", 1 },
	{ "no action",
	  "rules = (\n"
	  "\n"
	  "  { stage = \"rcpt\"; }\n"
	  ");\n",
	  3, "rule has no 'action'", 1 },
	{ "recipient regex at stage mail",
	  "rules = (\n"
	  "  { stage = \"mail\"; action = \"reject\";\n"
	  "    rcpt = \"^a@\"; }\n"
	  ");\n",
	  2, "recipient conditions apply only to stage \"rcpt\"", 1 },
	{ "rcpt_domain at stage mail",
	  "rules = ( { stage = \"mail\"; action = \"reject\"; rcpt_domain = \"local\"; } );\n",
	  1, "recipient conditions apply only to stage \"rcpt\"", 1 },
	{ "rcpt_domains at stage data",
	  "rules = ( { stage = \"data\"; action = \"reject\"; rcpt_domains = [ \"example.com\" ]; } );\n",
	  1, "recipient conditions apply only to stage \"rcpt\"", 1 },
	{ "command at stage rcpt",
	  "rules = (\n"
	  "  { stage = \"rcpt\"; action = \"reject\";\n"
	  "    command = \"MAIL\"; }\n"
	  ");\n",
	  2, "'command' applies only to stage \"command\"", 1 },
	{ "unknown command",
	  "rules = ( { stage = \"command\"; action = \"reject\";\n"
	  "  command = [ \"MAIL\",\n"
	  "              \"FROB\" ]; } );\n",
	  3, "'command': unknown SMTP command 'FROB'", 1 },
	{ "delay without delay_ms",
	  "rules = (\n"
	  "  { stage = \"rcpt\"; action = \"delay\"; }\n"
	  ");\n",
	  2, "action delay needs 'delay_ms'", 1 },
	{ "tarpit without delay_ms",
	  "rules = (\n"
	  "  { stage = \"rcpt\"; action = \"tarpit\"; }\n"
	  ");\n",
	  2, "action tarpit needs 'delay_ms'", 1 },
	{ "throttle without rate",
	  "rules = ( { stage = \"rcpt\"; action = \"throttle\"; } );\n",
	  1, "action throttle needs 'rate'", 1 },
	{ "unknown member",
	  "rules = (\n"
	  "  { stage = \"rcpt\"; action = \"reject\";\n"
	  "    colour = \"red\"; }\n"
	  ");\n",
	  3, "unknown setting 'colour' in rule", 1 },
	{ "probability above 1",
	  "rules = ( { stage = \"rcpt\"; action = \"reject\";\n"
	  "  probability = 1.5; } );\n",
	  2, "'probability' must be a number from 0 to 1", 1 },
	{ "nth 0",
	  "rules = ( { stage = \"rcpt\"; action = \"reject\";\n"
	  "  nth = 0; } );\n",
	  2, "'nth' must be between 1 and 1000000, not 0", 1 },
	{ "unknown ruleset",
	  "rulesets = { chaos = ( { stage = \"rcpt\"; action = \"accept\"; } ); };\n"
	  "listeners = (\n"
	  "  { name = \"smtp\"; address = \"127.0.0.1\"; port = 0;\n"
	  "    rules = \"choas\"; }\n"
	  ");\n",
	  4, "listener 'smtp': unknown ruleset 'choas'", 1 },
	{ "xclient_allowed names an unknown class",
	  "classes = { internal = [ \"127.0.0.0/8\" ]; };\n"
	  "policy = {\n"
	  "  seed = 1;\n"
	  "  xclient_allowed = \"outsiders\";\n"
	  "};\n",
	  4, "xclient_allowed names unknown class 'outsiders'", 1 },
	{ "error in a named ruleset",
	  "rulesets = {\n"
	  "  chaos = (\n"
	  "    { stage = \"rcpt\"; action = \"accept\"; },\n"
	  "    { stage = \"rcpt\"; action = \"reject\"; code = 250; }\n"
	  "  );\n"
	  "};\n",
	  4, "a reject reply must be 4xx or 5xx, not 250", 1 },
	{ "error in a listener's inline rules",
	  "listeners = (\n"
	  "  { name = \"smtp\"; address = \"127.0.0.1\"; port = 0;\n"
	  "    rules = ( { stage = \"connect\";\n"
	  "                client = \"ghosts\"; action = \"reject\"; } ); }\n"
	  ");\n",
	  4, "unknown class 'ghosts' (and not a network)", 1 },
	{ "bad local domain",
	  "domains = { local = [ \"example.com\", \"bad domain\" ]; };\n",
	  1, "'local': bad domain 'bad domain'", 1 },
	{ "empty client list",
	  "rules = ( { stage = \"rcpt\"; action = \"accept\";\n"
	  "  client = [ ]; } );\n",
	  2, "'client' must be a class name, a network, or a non-empty list of them", 1 },
	{ "empty domain list",
	  "rules = ( { stage = \"rcpt\"; action = \"accept\";\n"
	  "  rcpt_domains = [ ]; } );\n",
	  2, "'rcpt_domains' must be a non-empty list of domains", 1 },
	{ "empty command list",
	  "rules = ( { stage = \"command\"; action = \"accept\";\n"
	  "  command = [ ]; } );\n",
	  2, "'command' must be a command name or a non-empty list of them", 1 },
	{ "unknown listener in a rule",
	  "listeners = ( { name = \"smtp\"; port = 0; } );\n"
	  "rules = ( { stage = \"rcpt\"; action = \"accept\";\n"
	  "  listener = \"smpt\"; } );\n",
	  2, "rule names unknown listener 'smpt'", 1 },
	{ "reply settings with after",
	  "rules = (\n"
	  "  { stage = \"command\"; action = \"disconnect\"; after = true; reply = true; } );\n",
	  2, "with after = true the normal reply is sent", 1 },
	{ "helo condition at connect",
	  "rules = (\n"
	  "  { stage = \"connect\"; action = \"reject\"; helo = \"x\"; } );\n",
	  2, "HELO conditions do not apply to stage \"connect\"", 1 },
	{ "greylist outside stage rcpt",
	  "rules = (\n"
	  "  { stage = \"rcpt\"; action = \"greylist\"; },\n"
	  "  { stage = \"mail\"; action = \"greylist\"; } );\n",
	  3, "greylist needs a recipient: use it in stage rcpt", 1 },
	{ "greylist rule with its own reply",
	  "rules = (\n"
	  "  { stage = \"rcpt\"; action = \"greylist\"; text = \"wait\"; } );\n",
	  2, "'code', 'status' and 'text' apply only to reject, defer and disconnect with reply = true", 1 },
	{ "greylist reply status of another class",
	  "greylist = {\n"
	  "  reply_code = 451;\n"
	  "  reply_status = \"5.7.1\";\n"
	  "};\n",
	  3, "greylist: reply_status '5.7.1' must be an enhanced status code of the reply code's class", 1 },
	{ "greylist reply code not 4xx",
	  "greylist = { reply_code = 550; };\n",
	  1, "'reply_code' must be between 400 and 499, not 550", 1 },
	{ "greylist retry window not longer than the delay",
	  "\n"
	  "greylist = { delay = \"2h\";\n"
	  "  retry_window = \"1h\"; };\n",
	  2, "greylist: retry_window (3600 s) must be longer than delay (7200 s)", 1 },
	{ "greylist bad duration",
	  "greylist = { delay = \"5 minutes\"; };\n",
	  1, "'delay' must be a number of seconds or a duration such as \"90s\", \"5m\", \"2h\", \"35d\"", 1 },
	{ "greylist whitelist names an unknown class",
	  "classes = { lan = [ \"10.0.0.0/8\" ]; };\n"
	  "greylist = { whitelist_clients = [ \"lan\",\n"
	  "  \"wan\" ]; };\n",
	  3, "'whitelist_clients': unknown class 'wan' (and not a network)", 1 },
	{ "greylist whitelist of bad domains",
	  "greylist = { whitelist_senders = [ \"ok.example\", \"not a domain\" ]; };\n",
	  1, "'whitelist_senders': bad domain 'not a domain'", 1 },
	{ "greylist unknown setting",
	  "greylist = { dealy = 300; };\n",
	  1, "unknown setting 'dealy' in group 'greylist'", 1 },
	{ "state directory under a file",
	  "server = { state_directory = \"/dev/null/state\"; };\n"
	  "rules = ( { stage = \"rcpt\"; action = \"greylist\"; } );\n",
	  1, "server: state_directory '/dev/null/state' is not usable: /dev/null/state: Not a directory", 1 },
	{ "control socket mode not octal",
	  "control = { socket = \"/tmp/ctl\";\n"
	  "  mode = \"rw-------\"; };\n",
	  2, "'mode' must be an octal file mode in a string, e.g. \"0660\"", 1 },
	{ "control socket mode as a number",
	  "control = { mode = 660; };\n",
	  1, "'mode' must be an octal file mode in a string", 1 },
	{ "control socket path too long",
	  "control = {\n"
	  "  socket = \"/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/ctl\"; };\n",
	  2, "control: socket path is longer than 107 octets", 1 },
	{ "store map size too small",
	  "store = { map_size = \"4K\"; };\n",
	  1, "'map_size' must be between 65536 and", 1 },
};

START_TEST(test_load_error)
{
	const struct bad_policy *bc = &bad_policy[_i];
	char *path = write_conf(bc->text);
	struct config cfg;
	struct buf errors;
	int rc;

	config_defaults(&cfg);
	buf_init(&errors);
	rc = config_load(&cfg, path, &errors);
	if (rc == 0)
		rc = check_in_tmpdir(&cfg, &errors);
	unlink(path);
	ck_assert_msg(rc == -1, "%s: accepted:\n%s", bc->what, bc->text);
	assert_error_line(errtext(&errors), path, bc->line, bc->msg);
	ck_assert_msg(count_lines(errtext(&errors)) == bc->nerrors, "%s: want %zu error(s), got \"%s\"",
	    bc->what, bc->nerrors, errtext(&errors));
	free(path);
	buf_free(&errors);
	config_free(&cfg);
}
END_TEST

/* The greylist, store and control groups: every setting lands where it should. */
START_TEST(test_load_greylist_settings)
{
	static const char text[] =
	    "classes = { lan = [ \"10.0.0.0/8\" ]; };\n"
	    "server = { state_directory = \"/var/lib/smtptrapd\"; };\n"
	    "greylist = {\n"
	    "  delay = \"5m\"; retry_window = \"1d\"; expire = \"5w\"; auto_whitelist = 0;\n"
	    "  ipv4_prefix = 32; ipv6_prefix = 128;\n"
	    "  whitelist_clients = [ \"lan\", \"192.0.2.0/24\" ];\n"
	    "  whitelist_senders = [ \".example.org\" ]; whitelist_recipients = [ \"abuse.example\" ];\n"
	    "  reply_code = 451; reply_status = \"4.7.0\"; reply_text = \"wait %s s\";\n"
	    "  on_store_error = \"defer\";\n"
	    "};\n"
	    "store = { map_size = \"1M\"; sync = true; purge_interval = \"90s\"; };\n"
	    "control = { socket = \"/run/smtptrapd.ctl\"; mode = \"0660\"; clock_control = true;\n"
	    "  timeout = 2.5; max_clients = 3; };\n"
	    "rules = ( { stage = \"rcpt\"; action = \"greylist\"; } );\n";
	struct config cfg;
	unsigned char a[16];

	load_ok(text, &cfg);
	ck_assert_str_eq(cfg.state_directory, "/var/lib/smtptrapd");
	ck_assert_int_eq(cfg.greylist.delay, 300);
	ck_assert_int_eq(cfg.greylist.retry_window, 86400);
	ck_assert_int_eq(cfg.greylist.expire, 5 * 604800);
	ck_assert_int_eq(cfg.greylist.auto_whitelist, 0);
	ck_assert_int_eq(cfg.greylist.ipv4_prefix, 32);
	ck_assert_int_eq(cfg.greylist.ipv6_prefix, 128);
	ck_assert_uint_eq(cfg.greylist.whitelist_clients.n, 2);
	addr_of("10.1.2.3", a);
	ck_assert_int_eq(policy_netlist_match(&cfg.greylist.whitelist_clients, a), 1);
	addr_of("192.0.2.200", a);
	ck_assert_int_eq(policy_netlist_match(&cfg.greylist.whitelist_clients, a), 1);
	addr_of("192.0.3.1", a);
	ck_assert_int_eq(policy_netlist_match(&cfg.greylist.whitelist_clients, a), 0);
	ck_assert_uint_eq(cfg.greylist.whitelist_senders.n, 1);
	ck_assert_str_eq(cfg.greylist.whitelist_senders.names[0], ".example.org");
	ck_assert_str_eq(cfg.greylist.whitelist_recipients.names[0], "abuse.example");
	ck_assert_int_eq(cfg.greylist.reply_code, 451);
	ck_assert_str_eq(cfg.greylist.reply_status, "4.7.0");
	ck_assert_str_eq(cfg.greylist.reply_text, "wait %s s");
	ck_assert_int_eq(cfg.greylist.on_store_error, GL_ON_ERROR_DEFER);
	ck_assert_int_eq(cfg.store_map_size, 1 << 20);
	ck_assert_int_eq(cfg.store_sync, 1);
	ck_assert_int_eq(cfg.store_purge_interval, 90);
	ck_assert_str_eq(cfg.control_socket, "/run/smtptrapd.ctl");
	ck_assert_int_eq(cfg.control_mode, 0660);
	ck_assert_int_eq(cfg.clock_control, 1);
	ck_assert_int_eq(cfg.control_timeout_ms, 2500);
	ck_assert_int_eq(cfg.control_max_clients, 3);
	ck_assert_int_eq(config_uses_greylisting(&cfg), 1);
	char *path = config_store_path(&cfg);
	ck_assert_str_eq(path, "/var/lib/smtptrapd/smtptrapd.lmdb");
	free(path);
	config_free(&cfg);

	/* The built-in defaults. */
	config_defaults(&cfg);
	ck_assert_str_eq(cfg.state_directory, "./state");
	ck_assert_int_eq(cfg.greylist.delay, 300);
	ck_assert_int_eq(cfg.greylist.retry_window, 2 * 86400);
	ck_assert_int_eq(cfg.greylist.expire, 35 * 86400);
	ck_assert_int_eq(cfg.greylist.auto_whitelist, 5);
	ck_assert_int_eq(cfg.greylist.ipv4_prefix, 24);
	ck_assert_int_eq(cfg.greylist.ipv6_prefix, 64);
	ck_assert_int_eq(cfg.greylist.reply_code, 450);
	ck_assert_str_eq(cfg.greylist.reply_status, "4.7.1");
	ck_assert_int_eq(cfg.greylist.on_store_error, GL_ON_ERROR_PASS);
	ck_assert_ptr_null(cfg.control_socket);
	ck_assert_int_eq(cfg.control_mode, 0600);
	ck_assert_int_eq(cfg.clock_control, 0);
	ck_assert_int_eq(config_uses_greylisting(&cfg), 0);
	config_free(&cfg);
}
END_TEST

/* Loading the same file twice gives the same policy, nothing doubled. */
START_TEST(test_load_twice)
{
	static const char text[] =
	    "classes = { lan = [ \"10.0.0.0/8\" ]; };\n"
	    "rules = ( { stage = \"rcpt\"; client = \"lan\"; action = \"accept\"; } );\n"
	    "rulesets = { chaos = ( { stage = \"mail\"; action = \"defer\"; } ); };\n"
	    "listeners = ( { name = \"smtp\"; port = 0; rules = \"chaos\"; } );\n";
	char *path = write_conf(text);
	struct config cfg;
	struct buf errors;

	config_defaults(&cfg);
	buf_init(&errors);
	for (int round = 0; round < 2; round++) {
		ck_assert_msg(config_load(&cfg, path, &errors) == 0, "round %d: %s", round, errtext(&errors));
		ck_assert_uint_eq(cfg.policy.nclasses, 1);
		ck_assert_uint_eq(cfg.policy.nrulesets, 2);
		ck_assert_uint_eq(cfg.policy.rulesets[0].n, 1);
		ck_assert_int_eq(cfg.listeners[0].ruleset, 1);
	}
	unlink(path);
	free(path);
	buf_free(&errors);
	config_free(&cfg);
}
END_TEST

/* Several bad rules: each is reported, in order, at its own line. */
START_TEST(test_load_errors_all_reported)
{
	static const char text[] =
	    "rules = (\n"
	    "  { stage = \"rcpt\"; action = \"defer\"; code = 550; },\n"   /* 2 */
	    "  { stage = \"rcpt\"; action = \"accept\"; },\n"
	    "  { stage = \"mail\"; action = \"reject\";\n"
	    "    code = 600; },\n"                                        /* 5 */
	    "  { stage = \"mail\"; action = \"delay\"; }\n"                /* 6 */
	    ");\n";
	char *path = write_conf(text);
	struct config cfg;
	struct buf errors;
	char want[4096];

	config_defaults(&cfg);
	buf_init(&errors);
	ck_assert_int_eq(config_load(&cfg, path, &errors), -1);
	unlink(path);
	snprintf(want, sizeof(want),
	    "%s:2: a defer reply must be 4xx, not 550\n"
	    "%s:5: 'code' must be between 200 and 599, not 600\n"
	    "%s:6: action delay needs 'delay_ms'\n", path, path, path);
	ck_assert_str_eq(errtext(&errors), want);
	free(path);
	buf_free(&errors);
	config_free(&cfg);
}
END_TEST

START_TEST(test_names)
{
	for (int st = 0; st < ST_COUNT; st++)
		ck_assert_int_eq(policy_stage_parse(policy_stage_name((enum policy_stage)st)), st);
	ck_assert_int_eq(policy_stage_parse("RCPT"), ST_RCPT);
	ck_assert_int_eq(policy_stage_parse("end-of-data"), ST_EOM);
	ck_assert_int_eq(policy_stage_parse("rcpt to"), -1);
	ck_assert_int_eq(policy_stage_parse(""), -1);
	for (int a = ACT_ACCEPT; a <= ACT_THROTTLE; a++)
		ck_assert_int_eq(policy_action_parse(policy_action_name((enum policy_action)a)), a);
	ck_assert_int_eq(policy_action_parse("Reject"), ACT_REJECT);
	ck_assert_int_eq(policy_action_parse("drop"), -1);
	ck_assert_str_eq(policy_stage_name(ST_COMMAND), "command");
	ck_assert_str_eq(policy_action_name(ACT_TARPIT), "tarpit");
}
END_TEST

static Suite *
policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc;

	tc = tcase_create("eval");
	tcase_add_test(tc, test_eval_default);
	tcase_add_test(tc, test_eval_order);
	tcase_add_test(tc, test_eval_delay);
	tcase_add_test(tc, test_eval_tarpit_throttle);
	tcase_add_test(tc, test_eval_greylist);
	suite_add_tcase(s, tc);

	tc = tcase_create("conditions");
	tcase_add_test(tc, test_cond_client);
	tcase_add_test(tc, test_cond_authenticated_tls);
	tcase_add_test(tc, test_cond_listener);
	tcase_add_test(tc, test_cond_domain_lists);
	tcase_add_test(tc, test_cond_rcpt_domain);
	tcase_add_test(tc, test_cond_size_over);
	tcase_add_test(tc, test_cond_nth);
	tcase_add_test(tc, test_cond_command);
	tcase_add_test(tc, test_cond_regex_null);
	tcase_add_test(tc, test_cond_all_must_hold);
	suite_add_tcase(s, tc);

	tc = tcase_create("networks");
	tcase_add_loop_test(tc, test_cidr_parse_good, 0, (int)NELEM(cidr_good));
	tcase_add_loop_test(tc, test_cidr_parse_bad, 0, (int)NELEM(cidr_bad));
	tcase_add_test(tc, test_netlist_edges);
	tcase_add_test(tc, test_netlist_list);
	suite_add_tcase(s, tc);

	tc = tcase_create("domains");
	tcase_add_test(tc, test_domain_in);
	suite_add_tcase(s, tc);

	tc = tcase_create("random");
	tcase_add_test(tc, test_rng);
	tcase_add_test(tc, test_probability);
	tcase_add_test(tc, test_probability_draw_last);
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_load_regex);
	tcase_add_test(tc, test_load_probability);
	tcase_add_test(tc, test_load_values);
	tcase_add_test(tc, test_load_order_and_rulesets);
	tcase_add_loop_test(tc, test_load_error, 0, (int)NELEM(bad_policy));
	tcase_add_test(tc, test_load_errors_all_reported);
	tcase_add_test(tc, test_load_greylist_settings);
	tcase_add_test(tc, test_load_twice);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(policy_suite());
	int failures;

	/* Warnings go to stderr, not to syslog. */
	log_init(1, "check_policy");
	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
