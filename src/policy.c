/*
 * policy - classes, domains, rules and the evaluator; see policy.h.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parser.h"
#include "policy.h"

static const char *const stage_names[ST_COUNT] = {
	[ST_CONNECT] = "connect",
	[ST_HELO] = "helo",
	[ST_STARTTLS] = "starttls",
	[ST_AUTH] = "auth",
	[ST_MAIL] = "mail",
	[ST_RCPT] = "rcpt",
	[ST_DATA] = "data",
	[ST_EOM] = "eom",
	[ST_COMMAND] = "command",
};

static const char *const action_names[] = {
	[ACT_ACCEPT] = "accept",
	[ACT_REJECT] = "reject",
	[ACT_DEFER] = "defer",
	[ACT_DISCONNECT] = "disconnect",
	[ACT_DISCARD] = "discard",
	[ACT_GREYLIST] = "greylist",
	[ACT_DELAY] = "delay",
	[ACT_TARPIT] = "tarpit",
	[ACT_THROTTLE] = "throttle",
};

#define NACTIONS (sizeof(action_names) / sizeof(action_names[0]))

const char *
policy_stage_name(enum policy_stage st)
{
	return st < ST_COUNT ? stage_names[st] : "?";
}

int
policy_stage_parse(const char *name)
{
	for (int i = 0; i < ST_COUNT; i++)
		if (strcasecmp(name, stage_names[i]) == 0)
			return i;
	if (strcasecmp(name, "end-of-data") == 0)
		return ST_EOM;
	return -1;
}

const char *
policy_action_name(enum policy_action a)
{
	return (size_t)a < NACTIONS ? action_names[a] : "?";
}

int
policy_action_parse(const char *name)
{
	for (size_t i = 0; i < NACTIONS; i++)
		if (strcasecmp(name, action_names[i]) == 0)
			return (int)i;
	return -1;
}

/* --- random source --- */

void
policy_rng_seed(struct policy_rng *rng, uint64_t seed)
{
	rng->state = seed;
}

double
policy_rng_next(struct policy_rng *rng)
{
	uint64_t z = (rng->state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	return (double)(z >> 11) * (1.0 / 9007199254740992.0); /* 53 bits */
}

/* --- networks --- */

int
policy_cidr_parse(const char *s, struct cidr *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t hlen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned char a4[4];
	int v4, max, prefix;

	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, a4) == 1) {
		v4 = 1;
		out->addr[10] = out->addr[11] = 0xff;
		memcpy(out->addr + 12, a4, 4);
	} else if (inet_pton(AF_INET6, host, out->addr) == 1) {
		v4 = 0;
	} else {
		return -1;
	}
	max = v4 ? 32 : 128;
	if (slash == NULL) {
		prefix = max;
	} else {
		const char *p = slash + 1;
		if (*p == '\0' || strlen(p) > 3)
			return -1;
		prefix = 0;
		for (; *p; p++) {
			if (!isdigit((unsigned char)*p))
				return -1;
			prefix = prefix * 10 + (*p - '0');
		}
		if (prefix > max || (slash[1] == '0' && slash[2] != '\0'))
			return -1;
	}
	out->prefix = v4 ? 96 + prefix : prefix;
	/* Host bits must be zero: "10.1.2.3/8" is a mistake, not a network. */
	for (int bit = out->prefix; bit < 128; bit++)
		if (out->addr[bit / 8] & (0x80 >> (bit % 8)))
			return -1;
	return 0;
}

static int
cidr_match(const struct cidr *c, const unsigned char addr[16])
{
	int full = c->prefix / 8, rest = c->prefix % 8;

	if (memcmp(c->addr, addr, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (c->addr[full] & mask) == (addr[full] & mask);
}

int
policy_netlist_match(const struct netlist *l, const unsigned char addr[16])
{
	for (size_t i = 0; i < l->n; i++)
		if (cidr_match(&l->nets[i], addr))
			return 1;
	return 0;
}

/* --- domains --- */

static const char *
domain_of(const char *address)
{
	const char *at = strrchr(address, '@');
	return at ? at + 1 : address;
}

int
policy_domain_in(const struct domlist *l, const char *address)
{
	const char *d = domain_of(address);
	size_t dlen = strlen(d);

	for (size_t i = 0; i < l->n; i++) {
		const char *e = l->names[i];
		size_t elen = strlen(e);
		if (e[0] == '.') {
			/* ".example.com": any subdomain, not the domain itself */
			if (dlen > elen && strcasecmp(d + dlen - elen, e) == 0)
				return 1;
		} else if (strcasecmp(d, e) == 0) {
			return 1;
		}
	}
	return 0;
}

enum domain_kind
policy_domain_kind(const struct policy *p, const char *address)
{
	/* A bare "postmaster" (RFC 5321 4.5.1) is always for this server. */
	if (strchr(address, '@') == NULL)
		return DOM_LOCAL;
	if (policy_domain_in(&p->local_domains, address))
		return DOM_LOCAL;
	if (policy_domain_in(&p->relay_domains, address))
		return DOM_RELAY;
	return DOM_FOREIGN;
}

/* --- evaluation --- */

static int
regex_holds(const regex_t *re, const char *s)
{
	return s != NULL && regexec(re, s, 0, NULL, 0) == 0;
}

static int
listener_match(const struct policy_rule *r, const char *listener)
{
	for (size_t i = 0; i < r->nlisteners; i++)
		if (strcmp(r->listeners[i], listener) == 0)
			return 1;
	return 0;
}

/*
 * Do all conditions of r hold? probability is drawn last, and only when
 * everything else holds, so adding a condition never shifts the random
 * sequence seen by other rules' draws in a way the user cannot follow.
 */
static int
rule_matches(const struct policy *p, const struct policy_rule *r,
    const struct policy_facts *f, struct policy_rng *rng)
{
	if (r->client_set && policy_netlist_match(&r->client, f->addr) == r->client_negate)
		return 0;
	if (r->authenticated >= 0 && (f->authenticated != 0) != r->authenticated)
		return 0;
	if (r->tls >= 0 && (f->tls != 0) != r->tls)
		return 0;
	if (r->nlisteners > 0 && (f->listener == NULL || !listener_match(r, f->listener)))
		return 0;
	if (r->helo_re != NULL && !regex_holds(r->helo_re, f->helo))
		return 0;
	if (r->helo_domains.n > 0 && (f->helo == NULL || !policy_domain_in(&r->helo_domains, f->helo)))
		return 0;
	if (r->sender_re != NULL && !regex_holds(r->sender_re, f->sender))
		return 0;
	if (r->sender_domains.n > 0 &&
	    (f->sender == NULL || !policy_domain_in(&r->sender_domains, f->sender)))
		return 0;
	if (r->rcpt_re != NULL && !regex_holds(r->rcpt_re, f->rcpt))
		return 0;
	if (r->rcpt_domains.n > 0 && (f->rcpt == NULL || !policy_domain_in(&r->rcpt_domains, f->rcpt)))
		return 0;
	if (r->rcpt_domain != DOM_ANY &&
	    (f->rcpt == NULL || policy_domain_kind(p, f->rcpt) != (enum domain_kind)r->rcpt_domain))
		return 0;
	if (r->size_over >= 0 && (f->size < 0 || f->size <= r->size_over))
		return 0;
	if (r->nth > 0 && (f->counts == NULL || f->counts[r->stage] != r->nth))
		return 0;
	if (r->verbs != 0 && (f->verb < 0 || f->verb >= 32 || !(r->verbs & (1U << f->verb))))
		return 0;
	if (r->probability < 1.0 && !(policy_rng_next(rng) < r->probability))
		return 0;
	return 1;
}

void
policy_eval(const struct policy *p, const struct policy_ruleset *rs, enum policy_stage stage,
    const struct policy_facts *f, struct policy_rng *rng, struct policy_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->action = ACT_ACCEPT;
	v->tarpit_ms = -1;
	v->throttle = -1;
	if (rs == NULL)
		return;
	for (size_t i = 0; i < rs->n; i++) {
		const struct policy_rule *r = &rs->rules[i];

		if (r->stage != stage || !rule_matches(p, r, f, rng))
			continue;
		switch (r->action) {
		case ACT_DELAY:
			v->delay_ms += r->delay_ms;
			continue;
		case ACT_TARPIT:
			v->tarpit_ms = r->delay_ms;
			continue;
		case ACT_THROTTLE:
			v->throttle = r->rate;
			continue;
		case ACT_GREYLIST:
			/* The session asks the store: a deferral wins over what follows. */
			if (v->greylist == NULL)
				v->greylist = r;
			continue;
		case ACT_ACCEPT:
		case ACT_REJECT:
		case ACT_DEFER:
		case ACT_DISCONNECT:
		case ACT_DISCARD:
			v->action = r->action;
			v->rule = r;
			return;
		}
	}
}

static void
free_netlist(struct netlist *l)
{
	free(l->nets);
	l->nets = NULL;
	l->n = 0;
}

static void
free_domlist(struct domlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	l->names = NULL;
	l->n = 0;
}

static void
free_regex(regex_t *re)
{
	if (re != NULL) {
		regfree(re);
		free(re);
	}
}

static void
free_rule(struct policy_rule *r)
{
	free_netlist(&r->client);
	for (size_t i = 0; i < r->nlisteners; i++)
		free(r->listeners[i]);
	free(r->listeners);
	free_regex(r->helo_re);
	free_regex(r->sender_re);
	free_regex(r->rcpt_re);
	free_domlist(&r->helo_domains);
	free_domlist(&r->sender_domains);
	free_domlist(&r->rcpt_domains);
	free(r->text);
}

void
policy_free(struct policy *p)
{
	for (size_t i = 0; i < p->nclasses; i++) {
		free(p->classes[i].name);
		free_netlist(&p->classes[i].nets);
	}
	free(p->classes);
	free_domlist(&p->local_domains);
	free_domlist(&p->relay_domains);
	for (size_t i = 0; i < p->nrulesets; i++) {
		for (size_t k = 0; k < p->rulesets[i].n; k++)
			free_rule(&p->rulesets[i].rules[k]);
		free(p->rulesets[i].rules);
		free(p->rulesets[i].name);
	}
	free(p->rulesets);
	memset(p, 0, sizeof(*p));
	p->xclient_class = -1;
}
