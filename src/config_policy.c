/*
 * config_policy - the policy parts of the configuration file:
 *
 *   classes  = { internal = [ "127.0.0.0/8", "::1/128" ]; };
 *   domains  = { local = [ "example.com" ]; relay = [ ".partner.example" ]; };
 *   policy   = { seed = 42; xclient_allowed = "internal"; };
 *   rules    = ( { stage = "rcpt"; client = "internal"; action = "accept"; }, ... );
 *   rulesets = { chaos = ( { ... } ); };
 *
 * and listener "rules", a ruleset name or an inline list. Each rule member
 * is read by its own function from one table; problems are reported as
 * "file:line: message" at the member's line. config_load() reads the
 * classes before anything else and resolves the other names (rulesets in
 * listeners, xclient_allowed) when the whole file has been read, so the
 * order of the groups in the file does not matter.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_priv.h"
#include "log.h"
#include "parser.h"
#include "xmalloc.h"

void
config_policy_defaults(struct config *cfg)
{
	memset(&cfg->policy, 0, sizeof(cfg->policy));
	cfg->policy.xclient_class = -1;
	/* rulesets[0]: the top-level "rules", empty until set */
	cfg->policy.rulesets = xcalloc(1, sizeof(*cfg->policy.rulesets));
	cfg->policy.rulesets[0].name = xstrdup("");
	cfg->policy.nrulesets = 1;
}

int
config_policy_member(const char *name)
{
	return strcmp(name, "classes") == 0 || strcmp(name, "domains") == 0 ||
	    strcmp(name, "rules") == 0 || strcmp(name, "rulesets") == 0;
}

/* A list (or array) of strings; each element checked by the caller. */
static int
is_string_list(const config_setting_t *s)
{
	if (!config_setting_is_list(s) && !config_setting_is_array(s))
		return 0;
	for (int i = 0; i < config_setting_length(s); i++)
		if (config_setting_get_string(config_setting_get_elem(s, (unsigned)i)) == NULL)
			return 0;
	return 1;
}

static const char *
elem_string(const config_setting_t *s, int i)
{
	return config_setting_get_string(config_setting_get_elem(s, (unsigned)i));
}

static int
find_class(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->nclasses; i++)
		if (strcmp(p->classes[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void
netlist_add(struct netlist *l, const struct cidr *c)
{
	l->nets = xrealloc(l->nets, (l->n + 1) * sizeof(*l->nets));
	l->nets[l->n++] = *c;
}

/* --- classes and domains --- */

static int
load_classes(struct config *cfg, const config_setting_t *g, const char *file, struct buf *errors)
{
	struct policy *p = &cfg->policy;
	int rc = 0;

	if (!config_setting_is_group(g)) {
		config_error_at(errors, g, file, "'classes' must be a group: classes = { internal = [ \"127.0.0.0/8\" ]; };");
		return -1;
	}
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *c = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(c);
		struct policy_class *pc;

		if (find_class(p, name) >= 0) {
			config_error_at(errors, c, file, "class '%s' is defined twice", name);
			rc = -1;
			continue;
		}
		p->classes = xrealloc(p->classes, (p->nclasses + 1) * sizeof(*p->classes));
		pc = &p->classes[p->nclasses++];
		memset(pc, 0, sizeof(*pc));
		pc->name = xstrdup(name);
		pc->line = (int)config_setting_source_line(c);
		if (!is_string_list(c)) {
			config_error_at(errors, c, file, "class '%s' must be a list of networks, e.g. [ \"10.0.0.0/8\", \"::1/128\" ]", name);
			rc = -1;
			continue;
		}
		for (int k = 0; k < config_setting_length(c); k++) {
			struct cidr net;
			const char *v = elem_string(c, k);
			if (policy_cidr_parse(v, &net) != 0) {
				config_error_at(errors, config_setting_get_elem(c, (unsigned)k), file,
				    "class '%s': bad network '%s' (expected ADDRESS or ADDRESS/PREFIX with zero host bits)",
				    name, v);
				rc = -1;
				continue;
			}
			netlist_add(&pc->nets, &net);
		}
	}
	return rc;
}

/* A domain name, or ".domain" for its subdomains. */
static int
valid_domain_entry(const char *v)
{
	const char *d = v[0] == '.' ? v + 1 : v;
	return *d != '\0' && parser_is_domain(d, strlen(d), 1);
}

int
config_load_domlist(struct domlist *l, const config_setting_t *s, const char *what,
    const char *file, struct buf *errors)
{
	int rc = 0;

	if (!is_string_list(s) || config_setting_length(s) == 0) {
		config_error_at(errors, s, file, "'%s' must be a non-empty list of domains, e.g. [ \"example.com\", \".example.net\" ]", what);
		return -1;
	}
	for (int i = 0; i < config_setting_length(s); i++) {
		const char *v = elem_string(s, i);
		if (!valid_domain_entry(v)) {
			config_error_at(errors, config_setting_get_elem(s, (unsigned)i), file,
			    "'%s': bad domain '%s'", what, v);
			rc = -1;
			continue;
		}
		l->names = xrealloc(l->names, (l->n + 1) * sizeof(*l->names));
		l->names[l->n++] = xstrdup(v);
	}
	return rc;
}

static int
load_domains(struct config *cfg, const config_setting_t *g, const char *file, struct buf *errors)
{
	int rc = 0;

	if (!config_setting_is_group(g)) {
		config_error_at(errors, g, file, "'domains' must be a group: domains = { local = [ ... ]; relay = [ ... ]; };");
		return -1;
	}
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		if (strcmp(name, "local") == 0) {
			if (config_load_domlist(&cfg->policy.local_domains, s, "local", file, errors) != 0)
				rc = -1;
		} else if (strcmp(name, "relay") == 0) {
			if (config_load_domlist(&cfg->policy.relay_domains, s, "relay", file, errors) != 0)
				rc = -1;
		} else {
			config_error_at(errors, s, file, "unknown setting '%s' in group 'domains' (known: local, relay)", name);
			rc = -1;
		}
	}
	return rc;
}

/*
 * A list of class names and networks (or one such string), merged into
 * *out. Classes are loaded before anything else, so every name resolves.
 */
int
config_load_netlist(struct config *cfg, const config_setting_t *s, const char *what,
    struct netlist *out, const char *file, struct buf *errors)
{
	int single = config_setting_type(s) == CONFIG_TYPE_STRING;
	int n = single ? 1 : config_setting_length(s);
	int rc = 0;

	if (!single && !is_string_list(s)) {
		config_error_at(errors, s, file, "'%s' must be a class name, a network or a list of them, e.g. [ \"internal\", \"192.0.2.0/24\" ]", what);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *at = single ? s : config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(at);
		struct cidr net;
		int k;

		if ((k = find_class(&cfg->policy, v)) >= 0) {
			const struct netlist *nl = &cfg->policy.classes[k].nets;
			for (size_t j = 0; j < nl->n; j++)
				netlist_add(out, &nl->nets[j]);
		} else if (policy_cidr_parse(v, &net) == 0) {
			netlist_add(out, &net);
		} else {
			config_error_at(errors, at, file, "'%s': unknown class '%s' (and not a network)", what, v);
			rc = -1;
		}
	}
	return rc;
}

/* --- rules --- */

/* Everything a member loader needs. */
struct rule_ctx {
	struct config *cfg;
	struct policy_rule *r;
	const config_setting_t *s;
	const char *file;
	struct buf *errors;
	const char *name;       /* the member's name */
	/* names of classes, resolved at the end of the rule */
	const config_setting_t *client;
	int client_negate;
};

static int
want_bool(struct rule_ctx *c, int *out)
{
	if (config_setting_type(c->s) != CONFIG_TYPE_BOOL) {
		config_error_at(c->errors, c->s, c->file, "'%s' must be true or false", c->name);
		return -1;
	}
	*out = config_setting_get_bool(c->s);
	return 0;
}

static int
want_int(struct rule_ctx *c, long long min, long long max, long long *out)
{
	if (!config_is_integer(c->s)) {
		config_error_at(c->errors, c->s, c->file, "'%s' must be an integer", c->name);
		return -1;
	}
	long long v = config_setting_get_int64(c->s);
	if (v < min || v > max) {
		config_error_at(c->errors, c->s, c->file, "'%s' must be between %lld and %lld, not %lld",
		    c->name, min, max, v);
		return -1;
	}
	*out = v;
	return 0;
}

static const char *
want_string(struct rule_ctx *c)
{
	const char *v = config_setting_get_string(c->s);
	if (v == NULL)
		config_error_at(c->errors, c->s, c->file, "'%s' must be a string", c->name);
	return v;
}

static int
m_stage(struct rule_ctx *c)
{
	const char *v = want_string(c);
	int st;

	if (v == NULL)
		return -1;
	if ((st = policy_stage_parse(v)) < 0) {
		config_error_at(c->errors, c->s, c->file, "unknown stage '%s' (known: connect, helo, starttls, auth, mail, rcpt, data, eom, command)", v);
		return -1;
	}
	c->r->stage = (enum policy_stage)st;
	return 0;
}

static int
m_action(struct rule_ctx *c)
{
	const char *v = want_string(c);
	int a;

	if (v == NULL)
		return -1;
	if ((a = policy_action_parse(v)) < 0) {
		config_error_at(c->errors, c->s, c->file, "unknown action '%s' (known: accept, reject, defer, greylist, delay, disconnect, discard, tarpit, throttle)", v);
		return -1;
	}
	c->r->action = (enum policy_action)a;
	return 0;
}

static int
m_client(struct rule_ctx *c)
{
	if (config_setting_type(c->s) != CONFIG_TYPE_STRING &&
	    (!is_string_list(c->s) || config_setting_length(c->s) == 0)) {
		config_error_at(c->errors, c->s, c->file, "'%s' must be a class name, a network, or a non-empty list of them", c->name);
		return -1;
	}
	if (c->client != NULL) {
		config_error_at(c->errors, c->s, c->file, "'client' and 'not_client' cannot both be given");
		return -1;
	}
	c->client = c->s;
	c->client_negate = strcmp(c->name, "not_client") == 0;
	return 0;
}

static int
m_authenticated(struct rule_ctx *c)
{
	return want_bool(c, &c->r->authenticated);
}

static int
m_tls(struct rule_ctx *c)
{
	return want_bool(c, &c->r->tls);
}

static int
m_listener(struct rule_ctx *c)
{
	struct policy_rule *r = c->r;

	if (config_setting_type(c->s) == CONFIG_TYPE_STRING) {
		r->listeners = xcalloc(1, sizeof(char *));
		r->listeners[r->nlisteners++] = xstrdup(config_setting_get_string(c->s));
		return 0;
	}
	if (!is_string_list(c->s) || config_setting_length(c->s) == 0) {
		config_error_at(c->errors, c->s, c->file, "'listener' must be a listener name or a non-empty list of names");
		return -1;
	}
	r->listeners = xcalloc((size_t)config_setting_length(c->s) + 1, sizeof(char *));
	for (int i = 0; i < config_setting_length(c->s); i++)
		r->listeners[r->nlisteners++] = xstrdup(elem_string(c->s, i));
	return 0;
}

static int
compile_regex(struct rule_ctx *c, regex_t **out)
{
	const char *v = want_string(c);
	regex_t *re;
	int e;

	if (v == NULL)
		return -1;
	re = xcalloc(1, sizeof(*re));
	if ((e = regcomp(re, v, REG_EXTENDED | REG_ICASE | REG_NOSUB)) != 0) {
		char msg[256];
		regerror(e, re, msg, sizeof(msg));
		free(re);
		config_error_at(c->errors, c->s, c->file, "'%s': bad regular expression '%s': %s", c->name, v, msg);
		return -1;
	}
	*out = re;
	return 0;
}

static int
m_helo(struct rule_ctx *c)
{
	return compile_regex(c, &c->r->helo_re);
}

static int
m_sender(struct rule_ctx *c)
{
	return compile_regex(c, &c->r->sender_re);
}

static int
m_rcpt(struct rule_ctx *c)
{
	return compile_regex(c, &c->r->rcpt_re);
}

static int
m_helo_domains(struct rule_ctx *c)
{
	return config_load_domlist(&c->r->helo_domains, c->s, c->name, c->file, c->errors);
}

static int
m_sender_domains(struct rule_ctx *c)
{
	return config_load_domlist(&c->r->sender_domains, c->s, c->name, c->file, c->errors);
}

static int
m_rcpt_domains(struct rule_ctx *c)
{
	return config_load_domlist(&c->r->rcpt_domains, c->s, c->name, c->file, c->errors);
}

static int
m_rcpt_domain(struct rule_ctx *c)
{
	static const char *const kinds[] = { "local", "relay", "foreign" };
	const char *v = want_string(c);

	if (v == NULL)
		return -1;
	for (int i = 0; i < 3; i++) {
		if (strcmp(v, kinds[i]) == 0) {
			c->r->rcpt_domain = i;
			return 0;
		}
	}
	config_error_at(c->errors, c->s, c->file, "'rcpt_domain' must be one of \"local\", \"relay\", \"foreign\"");
	return -1;
}

static int
m_size_over(struct rule_ctx *c)
{
	static const struct setting def = { "size_over", T_SIZE, offsetof(struct policy_rule, size_over), 0, 1LL << 40, NULL, 0 };
	return config_apply_setting(c->r, &def, c->s, c->file, c->errors);
}

static int
m_probability(struct rule_ctx *c)
{
	double v;

	if (config_setting_type(c->s) == CONFIG_TYPE_FLOAT)
		v = config_setting_get_float(c->s);
	else if (config_is_integer(c->s))
		v = (double)config_setting_get_int64(c->s);
	else
		v = -1;
	if (!(v >= 0.0 && v <= 1.0)) {
		config_error_at(c->errors, c->s, c->file, "'probability' must be a number from 0 to 1");
		return -1;
	}
	c->r->probability = v;
	return 0;
}

static int
m_nth(struct rule_ctx *c)
{
	long long v;

	if (want_int(c, 1, 1000000, &v) != 0)
		return -1;
	c->r->nth = (unsigned)v;
	return 0;
}

static int
one_verb(struct rule_ctx *c, const config_setting_t *at, const char *name)
{
	struct smtp_command cmd;

	if (parser_command(name, strlen(name), &cmd) != PARSE_OK || cmd.verb == VERB_UNKNOWN ||
	    cmd.args_len != 0) {
		config_error_at(c->errors, at, c->file, "'command': unknown SMTP command '%s'", name);
		return -1;
	}
	c->r->verbs |= 1U << cmd.verb;
	return 0;
}

static int
m_command(struct rule_ctx *c)
{
	int rc = 0;

	if (config_setting_type(c->s) == CONFIG_TYPE_STRING)
		return one_verb(c, c->s, config_setting_get_string(c->s));
	if (!is_string_list(c->s) || config_setting_length(c->s) == 0) {
		config_error_at(c->errors, c->s, c->file, "'command' must be a command name or a non-empty list of them, e.g. [ \"MAIL\", \"RCPT\" ]");
		return -1;
	}
	for (int i = 0; i < config_setting_length(c->s); i++)
		if (one_verb(c, config_setting_get_elem(c->s, (unsigned)i), elem_string(c->s, i)) != 0)
			rc = -1;
	return rc;
}

static int
m_code(struct rule_ctx *c)
{
	long long v;

	if (want_int(c, 200, 599, &v) != 0)
		return -1;
	c->r->code = (int)v;
	return 0;
}

int
config_enh_valid(const char *v)
{
	const char *p = v;
	int parts = 0;

	/* class "." subject "." detail: 2|4|5 . 1-3 digits . 1-3 digits */
	if (*p == '2' || *p == '4' || *p == '5') {
		p++;
		parts = 1;
		for (int k = 0; k < 2 && *p == '.'; k++) {
			int digits = 0;
			for (p++; isdigit((unsigned char)*p) && digits < 4; p++)
				digits++;
			if (digits < 1 || digits > 3)
				break;
			parts++;
		}
	}
	return parts == 3 && *p == '\0';
}

static int
m_status(struct rule_ctx *c)
{
	const char *v = want_string(c);

	if (v == NULL)
		return -1;
	if (!config_enh_valid(v)) {
		config_error_at(c->errors, c->s, c->file, "'status' must be an enhanced status code such as \"5.7.1\" (RFC 3463), not '%s'", v);
		return -1;
	}
	snprintf(c->r->enh, sizeof(c->r->enh), "%s", v);
	return 0;
}

static int
m_text(struct rule_ctx *c)
{
	const char *v = want_string(c);

	if (v == NULL)
		return -1;
	for (const char *p = v; *p; p++) {
		if (((unsigned char)*p < 32 && *p != '\n') || *p == 127) {
			config_error_at(c->errors, c->s, c->file, "'text' must hold printable characters (\"\\n\" separates lines)");
			return -1;
		}
	}
	if (strlen(v) > 900) {
		config_error_at(c->errors, c->s, c->file, "'text' is longer than 900 characters");
		return -1;
	}
	free(c->r->text);
	c->r->text = xstrdup(v);
	return 0;
}

static int
m_delay_ms(struct rule_ctx *c)
{
	long long v;

	if (want_int(c, 1, 3600000, &v) != 0)
		return -1;
	c->r->delay_ms = (int)v;
	return 0;
}

static int
m_reply(struct rule_ctx *c)
{
	return want_bool(c, &c->r->reply);
}

static int
m_after(struct rule_ctx *c)
{
	return want_bool(c, &c->r->after);
}

static int
m_rate(struct rule_ctx *c)
{
	long long v;

	if (want_int(c, 1, 1000000000, &v) != 0)
		return -1;
	c->r->rate = (long)v;
	return 0;
}

static const struct rule_member {
	const char *name;
	int (*load)(struct rule_ctx *);
} rule_members[] = {
	{ "stage", m_stage },
	{ "action", m_action },
	{ "client", m_client },
	{ "not_client", m_client },
	{ "authenticated", m_authenticated },
	{ "tls", m_tls },
	{ "listener", m_listener },
	{ "helo", m_helo },
	{ "helo_domains", m_helo_domains },
	{ "sender", m_sender },
	{ "sender_domains", m_sender_domains },
	{ "rcpt", m_rcpt },
	{ "rcpt_domains", m_rcpt_domains },
	{ "rcpt_domain", m_rcpt_domain },
	{ "size_over", m_size_over },
	{ "probability", m_probability },
	{ "nth", m_nth },
	{ "command", m_command },
	{ "code", m_code },
	{ "status", m_status },
	{ "text", m_text },
	{ "delay_ms", m_delay_ms },
	{ "reply", m_reply },
	{ "after", m_after },
	{ "rate", m_rate },
};

#define NMEMBERS (sizeof(rule_members) / sizeof(rule_members[0]))

static int
has_member(const config_setting_t *e, const char *name)
{
	return config_setting_get_member(e, name) != NULL;
}

/* Cross-member checks of one rule, reported at the rule's line. */
static int
check_rule(struct rule_ctx *c, const config_setting_t *e)
{
	struct policy_rule *r = c->r;
	enum policy_stage st = r->stage;
	int rc = 0;

#define RULE_ERROR(...) do { config_error_at(c->errors, e, c->file, __VA_ARGS__); rc = -1; } while (0)
	if (!has_member(e, "stage"))
		RULE_ERROR("rule has no 'stage'");
	if (!has_member(e, "action"))
		RULE_ERROR("rule has no 'action'");
	if (rc != 0)
		return rc;
	if ((r->rcpt_re || r->rcpt_domains.n || r->rcpt_domain != DOM_ANY) && st != ST_RCPT)
		RULE_ERROR("recipient conditions apply only to stage \"rcpt\"");
	if ((r->sender_re || r->sender_domains.n) &&
	    st != ST_MAIL && st != ST_RCPT && st != ST_DATA && st != ST_EOM)
		RULE_ERROR("sender conditions apply only to stages mail, rcpt, data and eom");
	if (r->size_over >= 0 && st != ST_MAIL && st != ST_RCPT && st != ST_DATA && st != ST_EOM)
		RULE_ERROR("'size_over' applies only to stages mail, rcpt, data and eom");
	if ((r->helo_re || r->helo_domains.n) && st == ST_CONNECT)
		RULE_ERROR("HELO conditions do not apply to stage \"connect\" (no HELO yet)");
	if (r->verbs != 0 && st != ST_COMMAND)
		RULE_ERROR("'command' applies only to stage \"command\"");
	int replying = r->action == ACT_REJECT || r->action == ACT_DEFER ||
	    (r->action == ACT_DISCONNECT && r->reply);
	if (!replying && (has_member(e, "code") || has_member(e, "status") || has_member(e, "text")))
		RULE_ERROR("'code', 'status' and 'text' apply only to reject, defer and disconnect with reply = true");
	if (r->action == ACT_DEFER && r->code != 0 && r->code / 100 != 4)
		RULE_ERROR("a defer reply must be 4xx, not %d", r->code);
	if (r->action == ACT_REJECT && r->code != 0 && r->code / 100 != 4 && r->code / 100 != 5)
		RULE_ERROR("a reject reply must be 4xx or 5xx, not %d", r->code);
	if (r->action == ACT_DISCONNECT && r->reply && r->code != 0 && r->code / 100 != 4 &&
	    r->code / 100 != 5)
		RULE_ERROR("a disconnect reply must be 4xx or 5xx, not %d", r->code);
	if (r->enh[0] != '\0') {
		int cls = r->code != 0 ? r->code / 100 :
		    r->action == ACT_REJECT ? 5 : 4;
		if (r->enh[0] - '0' != cls)
			RULE_ERROR("status %s does not match reply code %d (the first digits must agree)",
			    r->enh, r->code != 0 ? r->code : cls * 100 + 50);
	}
	if ((r->action == ACT_DELAY || r->action == ACT_TARPIT) && r->delay_ms == 0)
		RULE_ERROR("action %s needs 'delay_ms'", policy_action_name(r->action));
	if (r->action != ACT_DELAY && r->action != ACT_TARPIT && has_member(e, "delay_ms"))
		RULE_ERROR("'delay_ms' applies only to delay and tarpit");
	if (r->action == ACT_THROTTLE && r->rate == 0)
		RULE_ERROR("action throttle needs 'rate' (octets per second)");
	if (r->action != ACT_THROTTLE && has_member(e, "rate"))
		RULE_ERROR("'rate' applies only to throttle");
	if (r->action != ACT_DISCONNECT && (has_member(e, "reply") || has_member(e, "after")))
		RULE_ERROR("'reply' and 'after' apply only to disconnect");
	if (r->action == ACT_DISCARD && st != ST_CONNECT && st != ST_HELO && st != ST_MAIL &&
	    st != ST_RCPT && st != ST_DATA && st != ST_EOM && st != ST_AUTH)
		RULE_ERROR("discard applies to stages connect, helo, auth, mail, rcpt, data and eom");
	if (r->action == ACT_DISCONNECT && r->after && (has_member(e, "reply") ||
	    has_member(e, "code") || has_member(e, "status") || has_member(e, "text")))
		RULE_ERROR("with after = true the normal reply is sent: 'reply', 'code', 'status' and 'text' do not apply");
	if (r->action == ACT_DISCONNECT && r->after && st == ST_CONNECT)
		RULE_ERROR("'after' does not apply to stage connect (there is no reply to wait for)");
	if (r->action == ACT_GREYLIST && st != ST_RCPT)
		RULE_ERROR("greylist needs a recipient: use it in stage rcpt");
#undef RULE_ERROR
	return rc;
}

/* Resolve the rule's client list: class names and networks. */
static int
resolve_client(struct rule_ctx *c)
{
	const config_setting_t *s = c->client;
	int n = config_setting_type(s) == CONFIG_TYPE_STRING ? 1 : config_setting_length(s);
	int rc = 0;

	c->r->client_set = 1;
	c->r->client_negate = c->client_negate;
	for (int i = 0; i < n; i++) {
		const config_setting_t *at = n == 1 && config_setting_type(s) == CONFIG_TYPE_STRING ?
		    s : config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(at);
		struct cidr net;
		int k;

		if ((k = find_class(&c->cfg->policy, v)) >= 0) {
			const struct netlist *nl = &c->cfg->policy.classes[k].nets;
			for (size_t j = 0; j < nl->n; j++)
				netlist_add(&c->r->client, &nl->nets[j]);
		} else if (policy_cidr_parse(v, &net) == 0) {
			netlist_add(&c->r->client, &net);
		} else {
			config_error_at(c->errors, at, c->file, "unknown class '%s' (and not a network)", v);
			rc = -1;
		}
	}
	return rc;
}

static int
load_rule(struct config *cfg, struct policy_rule *r, const config_setting_t *e, const char *file,
    struct buf *errors)
{
	struct rule_ctx c = { cfg, r, NULL, file, errors, NULL, NULL, 0 };
	int rc = 0;

	memset(r, 0, sizeof(*r));
	r->line = (int)config_setting_source_line(e);
	r->authenticated = -1;
	r->tls = -1;
	r->rcpt_domain = DOM_ANY;
	r->size_over = -1;
	r->probability = 1.0;
	if (!config_setting_is_group(e)) {
		config_error_at(errors, e, file, "each rule must be a group: { stage = \"rcpt\"; action = \"reject\"; ... }");
		return -1;
	}
	for (int i = 0; i < config_setting_length(e); i++) {
		const config_setting_t *s = config_setting_get_elem(e, (unsigned)i);
		const char *name = config_setting_name(s);
		size_t k;

		for (k = 0; k < NMEMBERS; k++)
			if (strcmp(rule_members[k].name, name) == 0)
				break;
		if (k == NMEMBERS) {
			config_error_at(errors, s, file, "unknown setting '%s' in rule", name);
			rc = -1;
			continue;
		}
		c.s = s;
		c.name = name;
		if (rule_members[k].load(&c) != 0)
			rc = -1;
	}
	if (c.client != NULL && resolve_client(&c) != 0)
		rc = -1;
	if (rc == 0 && check_rule(&c, e) != 0)
		rc = -1;
	return rc;
}

int
config_load_rules(struct config *cfg, const char *name, const config_setting_t *ls,
    const char *file, struct buf *errors)
{
	struct policy *p = &cfg->policy;
	struct policy_ruleset *rs;
	int rc = 0;

	if (name == NULL) {
		rs = &p->rulesets[0];   /* top-level rules: replace */
	} else {
		p->rulesets = xrealloc(p->rulesets, (p->nrulesets + 1) * sizeof(*p->rulesets));
		rs = &p->rulesets[p->nrulesets++];
		memset(rs, 0, sizeof(*rs));
		rs->name = xstrdup(name);
	}
	rs->line = (int)config_setting_source_line(ls);
	if (!config_setting_is_list(ls)) {
		config_error_at(errors, ls, file, "rules must be a list: ( { stage = \"rcpt\"; ... }, ... )");
		return -1;
	}
	int n = config_setting_length(ls);
	rs->rules = xcalloc((size_t)n + 1, sizeof(*rs->rules));
	for (int i = 0; i < n; i++) {
		struct policy_rule *r = &rs->rules[rs->n++];
		if (load_rule(cfg, r, config_setting_get_elem(ls, (unsigned)i), file, errors) != 0)
			rc = -1;
	}
	return rc;
}

static int
load_rulesets(struct config *cfg, const config_setting_t *g, const char *file, struct buf *errors)
{
	int rc = 0;

	if (!config_setting_is_group(g)) {
		config_error_at(errors, g, file, "'rulesets' must be a group: rulesets = { name = ( { ... } ); };");
		return -1;
	}
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		if (config_load_rules(cfg, config_setting_name(s), s, file, errors) != 0)
			rc = -1;
	}
	return rc;
}

int
config_load_policy_member(struct config *cfg, const config_setting_t *s, const char *file,
    struct buf *errors)
{
	const char *name = config_setting_name(s);

	if (strcmp(name, "classes") == 0)
		return load_classes(cfg, s, file, errors);
	if (strcmp(name, "domains") == 0)
		return load_domains(cfg, s, file, errors);
	if (strcmp(name, "rulesets") == 0)
		return load_rulesets(cfg, s, file, errors);
	return config_load_rules(cfg, NULL, s, file, errors);
}

int
config_policy_resolve(struct config *cfg, struct buf *errors)
{
	struct policy *p = &cfg->policy;
	const char *file = cfg->path ? cfg->path : "(built-in)";
	int rc = 0;

	for (size_t i = 0; i < cfg->nlisteners; i++) {
		struct listener_conf *l = &cfg->listeners[i];
		if (l->rules_name == NULL)
			continue;
		size_t k;
		for (k = 1; k < p->nrulesets; k++)
			if (strcmp(p->rulesets[k].name, l->rules_name) == 0)
				break;
		if (k == p->nrulesets) {
			buf_printf(errors, "%s:%d: listener '%s': unknown ruleset '%s'\n", file,
			    l->rules_line, l->name, l->rules_name);
			rc = -1;
			continue;
		}
		l->ruleset = (int)k;
	}
	for (size_t i = 1; i < p->nrulesets; i++) {
		for (size_t k = 1; k < i; k++) {
			if (strcmp(p->rulesets[i].name, p->rulesets[k].name) == 0) {
				buf_printf(errors, "%s:%d: ruleset '%s' is defined twice\n", file,
				    p->rulesets[i].line, p->rulesets[i].name);
				rc = -1;
			}
		}
	}
	for (size_t i = 0; i < p->nrulesets; i++) {
		const struct policy_ruleset *rs = &p->rulesets[i];
		for (size_t k = 0; k < rs->n; k++) {
			const struct policy_rule *r = &rs->rules[k];
			for (size_t j = 0; j < r->nlisteners; j++) {
				size_t m;
				for (m = 0; m < cfg->nlisteners; m++)
					if (strcmp(cfg->listeners[m].name, r->listeners[j]) == 0)
						break;
				if (m == cfg->nlisteners) {
					buf_printf(errors, "%s:%d: rule names unknown listener '%s'\n", file,
					    r->line, r->listeners[j]);
					rc = -1;
				}
			}
		}
	}
	p->seed = (uint64_t)cfg->seed;
	p->seed_set = cfg->seed_line != 0;
	if (cfg->xclient_allowed != NULL) {
		p->xclient_class = find_class(p, cfg->xclient_allowed);
		if (p->xclient_class < 0) {
			buf_printf(errors, "%s:%d: policy: xclient_allowed names unknown class '%s'\n",
			    file, cfg->xclient_line, cfg->xclient_allowed);
			rc = -1;
		}
	}
	return rc;
}
