/* libFuzzer harness for src/parser.c: one command line per input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parser.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static int has_high(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

static void path(const char *a, size_t n, const char *prefix, int null_ok, int pm_ok)
{
	struct smtp_path_cmd pc;
	int u;

	if (parser_path(a, n, prefix, null_ok, pm_ok, &pc) != PARSE_OK)
		return;
	CHECK(pc.mailbox >= pc.copy && pc.mailbox + pc.mailbox_len < pc.copy + sizeof(pc.copy));
	CHECK(strlen(pc.mailbox) == pc.mailbox_len && pc.mailbox_len + 2 <= SMTP_PATH_MAX);
	CHECK(pc.nparams <= SMTP_PARAMS_MAX);
	CHECK(pc.has_utf8 == has_high(pc.mailbox, pc.mailbox_len));
	CHECK(pc.mailbox_len > 0 || null_ok);
	if (pc.mailbox_len > 0 && !(pm_ok && strcasecmp(pc.mailbox, "postmaster") == 0))
		CHECK(parser_mailbox(pc.mailbox, pc.mailbox_len, &u) == PARSE_OK && u == pc.has_utf8);
	for (size_t i = 0; i < pc.nparams; i++) {
		CHECK(pc.params[i].keyword[0] != '\0');
		CHECK(parser_param_find(&pc, pc.params[i].keyword) == &pc.params[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size), *z = malloc(size + 1);
	struct smtp_command cmd;
	unsigned long long bsz;
	int last, utf8;

	memcpy(line, data, size); /* exact-size copy: ASan sees any over-read */
	memcpy(z, data, size);
	z[size] = '\0';
	enum parse_result r = parser_command(line, size, &cmd);
	CHECK(r != PARSE_NUL || memchr(line, '\0', size) != NULL);
	if (r == PARSE_OK) {
		CHECK(cmd.verb >= VERB_UNKNOWN && cmd.verb < VERB_COUNT);
		CHECK(cmd.verb_text == line && cmd.verb_len > 0 && cmd.verb_len <= size);
		CHECK(cmd.args_len == 0 || (cmd.args == line + cmd.verb_len + 1 &&
		    cmd.verb_len + 1 + cmd.args_len == size));
		CHECK(memchr(line, ' ', cmd.verb_len) == NULL);
		path(cmd.args, cmd.args_len, "FROM:", 1, 0);
		path(cmd.args, cmd.args_len, "TO:", 0, 1);
		if (parser_helo(cmd.args, cmd.args_len) == PARSE_OK)
			for (size_t i = 0; i < cmd.args_len; i++)
				CHECK((unsigned char)cmd.args[i] > 32 && cmd.args[i] != 127);
		if (parser_bdat(cmd.args, cmd.args_len, &bsz, &last) == PARSE_OK)
			CHECK(strtoull(z + (cmd.args - line), NULL, 10) == bsz);
	}
	if (parser_mailbox(line, size, &utf8) == PARSE_OK)
		CHECK(utf8 == has_high(line, size) && memchr(line, '@', size) != NULL);
	if (parser_is_domain(line, size, 0))
		CHECK(size <= SMTP_DOMAIN_MAX && line[0] != '.' && line[size - 1] != '.' &&
		    !has_high(line, size) && memmem(line, size, "..", 2) == NULL);
	if (parser_is_address_literal(line, size))
		CHECK(line[0] == '[' && line[size - 1] == ']');
	parser_is_xtext(z);
	parser_is_utf8(line, size, &utf8);
	free(line);
	free(z);
	return 0;
}
