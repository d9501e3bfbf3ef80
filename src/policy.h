/*
 * policy - client classes, domains and rules per SMTP stage, and their
 * pure evaluator.
 *
 * A rule names a stage (connect, helo, starttls, auth, mail, rcpt, data,
 * eom, command), a set of conditions that must all hold, and an action.
 * At each stage the session asks policy_eval() about the facts it has:
 * rules of that stage are tried in order; "delay", "tarpit", "throttle" and
 * "greylist" are noted and evaluation goes on; the first terminal action (accept,
 * reject, defer, disconnect, discard) ends it. With no terminal rule the
 * verdict is "accept": the session does what it would do without rules.
 *
 * Everything here is pure: the session does the waiting, replying and
 * closing, and owns the random state that "probability" draws from.
 */
#ifndef SMTPTRAP_POLICY_H
#define SMTPTRAP_POLICY_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

enum policy_stage {
	ST_CONNECT, ST_HELO, ST_STARTTLS, ST_AUTH, ST_MAIL, ST_RCPT, ST_DATA, ST_EOM,
	ST_COMMAND,
	ST_COUNT,
};

enum policy_action {
	ACT_ACCEPT,      /* terminal: carry on as without rules */
	ACT_REJECT,      /* terminal: reply code/enh/text (4xx or 5xx) */
	ACT_DEFER,       /* terminal: like reject, always 4xx */
	ACT_DISCONNECT,  /* terminal: close, with or without a 421, before or after the reply */
	ACT_DISCARD,     /* terminal: accept, then deliver nowhere */
	ACT_GREYLIST,    /* noted; the session asks the greylist (rcpt stage), go on */
	ACT_DELAY,       /* wait delay_ms, then go on */
	ACT_TARPIT,      /* delay every later reply by delay_ms, go on */
	ACT_THROTTLE,    /* send at most rate octets per second from now on, go on */
};

enum domain_kind { DOM_ANY = -1, DOM_LOCAL = 0, DOM_RELAY, DOM_FOREIGN };

/* An IPv4 or IPv6 network; IPv4 is kept v4-mapped (::ffff:a.b.c.d/96+n). */
struct cidr {
	unsigned char addr[16];
	int prefix;              /* 0..128, over the 16-octet form */
};

struct netlist {
	struct cidr *nets;
	size_t n;
};

struct policy_class {
	char *name;
	struct netlist nets;
	int line;
};

/* A list of domains: "example.com" matches itself, ".example.com" its subdomains. */
struct domlist {
	char **names;
	size_t n;
};

struct policy_rule {
	int line;
	enum policy_stage stage;

	/* conditions; an unset condition always holds */
	struct netlist client;   /* classes and CIDRs, merged */
	int client_set;
	int client_negate;       /* "!class": the client is NOT in the list */
	int authenticated;       /* -1 any, 0, 1 */
	int tls;                 /* -1 any, 0, 1 */
	char **listeners;
	size_t nlisteners;
	regex_t *helo_re, *sender_re, *rcpt_re;
	struct domlist helo_domains, sender_domains, rcpt_domains;
	int rcpt_domain;         /* enum domain_kind */
	long long size_over;     /* message (or declared) size above this; -1 unset */
	double probability;      /* 1.0 = always */
	unsigned nth;            /* the nth time this stage is reached in the session; 0 any */
	uint32_t verbs;          /* ST_COMMAND: bit (1 << enum smtp_verb); 0 any */

	/* action */
	enum policy_action action;
	int code;                /* reject/defer/disconnect reply; 0 = the stage's default */
	char enh[16];            /* "5.7.1", "" = default */
	char *text;              /* may hold "\n" for multi-line; NULL = default */
	int delay_ms;            /* delay, tarpit */
	int reply;               /* disconnect: send a reply (421 by default) first */
	int after;               /* disconnect: after the normal reply, not instead */
	long rate;               /* throttle: octets per second */
};

struct policy_ruleset {
	char *name;              /* "" for the top-level rules */
	struct policy_rule *rules;
	size_t n;
	int line;
};

struct policy {
	struct policy_class *classes;
	size_t nclasses;
	struct domlist local_domains;
	struct domlist relay_domains;
	struct policy_ruleset *rulesets;  /* [0] is the top-level "rules", maybe empty */
	size_t nrulesets;
	uint64_t seed;
	int seed_set;
	int xclient_class;       /* index into classes, -1 = nobody may use XCLIENT */
};

/* What the session knows when it asks. */
struct policy_facts {
	unsigned char addr[16];  /* the client, v4-mapped for IPv4 */
	const char *listener;
	int tls;
	int authenticated;
	const char *helo;        /* NULL if not given yet */
	const char *sender;      /* NULL outside a transaction; "" for <> */
	const char *rcpt;        /* the recipient being decided (rcpt), NULL elsewhere */
	long long size;          /* message size (eom) or declared SIZE=; -1 unknown */
	int verb;                /* ST_COMMAND: enum smtp_verb */
	const unsigned *counts;  /* [ST_COUNT]: times each stage was reached, this one included */
};

struct policy_verdict {
	enum policy_action action;       /* terminal action; ACT_ACCEPT by default */
	const struct policy_rule *rule;  /* the rule that decided; NULL = default */
	int delay_ms;                    /* sum of the delays met on the way */
	int tarpit_ms;                   /* -1: unchanged */
	long throttle;                   /* -1: unchanged */
	const struct policy_rule *greylist; /* the first greylist rule met, or NULL */
};

/* splitmix64: the random source "probability" draws from. */
struct policy_rng {
	uint64_t state;
};
void policy_rng_seed(struct policy_rng *rng, uint64_t seed);
/* Uniform in [0, 1). */
double policy_rng_next(struct policy_rng *rng);

void policy_eval(const struct policy *p, const struct policy_ruleset *rs,
    enum policy_stage stage, const struct policy_facts *f, struct policy_rng *rng,
    struct policy_verdict *v);

/* Classification of a recipient's domain (the part after the last "@"). */
enum domain_kind policy_domain_kind(const struct policy *p, const char *address);
/* Does the domain of address (or a bare domain) match the list? */
int policy_domain_in(const struct domlist *l, const char *address);

int policy_cidr_parse(const char *s, struct cidr *out);
int policy_netlist_match(const struct netlist *l, const unsigned char addr[16]);

const char *policy_stage_name(enum policy_stage st);
int policy_stage_parse(const char *name);   /* -1 if unknown */
const char *policy_action_name(enum policy_action a);
int policy_action_parse(const char *name);  /* -1 if unknown */

void policy_free(struct policy *p);

#endif
