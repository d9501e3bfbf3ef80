/*
 * libFuzzer harness for src/config*.c: the input is a configuration file.
 * It is written to a temporary file and loaded on top of the defaults;
 * errors are expected, crashes and leaks are not. Inputs with libconfig's
 * "@include" are skipped: they would read arbitrary files (/dev/stdin).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* libconfig 1.5 itself leaks string tokens on some syntax errors. */
const char *__lsan_default_suppressions(void) { return "leak:libconfig.so\n"; }
const char *__lsan_default_options(void) { return "print_suppressions=0"; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	struct config cfg;
	struct buf errors;

	if (memmem(data, size, "@include", 8) != NULL)
		return 0;
	if (fd < 0) { /* an unlinked temporary file, read through /proc: nothing left behind */
		char tmp[] = "/tmp/fuzz_config.XXXXXX";
		CHECK((fd = mkstemp(tmp)) >= 0 && unlink(tmp) == 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, data, size, 0) == (ssize_t)size);
	buf_init(&errors);
	config_defaults(&cfg);
	int rc = config_load(&cfg, path, &errors);
	/* Errors and only errors come with text, one "file:line: ..." line each. */
	CHECK((rc == 0) == (errors.len == 0) && (rc == 0 || rc == -1));
	CHECK(errors.len == 0 || errors.data[errors.len - 1] == '\n');
	if (rc == 0) {
		CHECK(cfg.path != NULL && strcmp(cfg.path, path) == 0);
		CHECK(cfg.hostname != NULL && cfg.banner != NULL && cfg.maildir != NULL);
		for (size_t i = 0; i < cfg.nlisteners; i++)
			CHECK(cfg.listeners[i].name != NULL && cfg.listeners[i].port >= 0 &&
			    cfg.listeners[i].port <= 65535);
		size_t before = errors.len;
		int crc = config_check(&cfg, &errors);
		CHECK((crc == 0) == (errors.len == before));
	}
	config_free(&cfg);
	buf_free(&errors);
	return 0;
}
