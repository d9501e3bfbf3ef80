/* libFuzzer harness for src/xclient.c: the input is the XCLIENT arguments. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "xclient.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* A decoded NAME, HELO or LOGIN: set iff given, 1-255 printable octets. */
static void text(const char *t, size_t cap, int given)
{
	size_t n = strnlen(t, cap);

	CHECK(n < cap && (n > 0) == given);
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)t[i] >= 33 && (unsigned char)t[i] <= 126);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct xclient_attrs zero;
	char *args = malloc(size);
	struct xclient_attrs a;
	const char *why = "x";

	memcpy(args, data, size); /* exact size, no NUL: ASan catches over-reads */
	int rc = xclient_parse(args, size, &a, &why);
	free(args);
	if (rc != 0) {
		CHECK(rc == -1 && why != NULL && memcmp(&a, &zero, sizeof(a)) == 0);
		size_t n = strlen(why);
		CHECK(n > 0 && n < 100);
		for (size_t i = 0; i < n; i++) /* fit for an SMTP reply */
			CHECK((unsigned char)why[i] >= 32 && (unsigned char)why[i] <= 126);
		return 0;
	}
	CHECK(why == NULL && (a.present | a.unavailable) != 0 && (a.present & a.unavailable) == 0);
	CHECK(((a.present | a.unavailable) & ~0x3fu) == 0);
	text(a.name, sizeof(a.name), !!(a.present & XCLIENT_NAME));
	text(a.helo, sizeof(a.helo), !!(a.present & XCLIENT_HELO));
	text(a.login, sizeof(a.login), !!(a.present & XCLIENT_LOGIN));
	CHECK(a.port >= 0 && a.port <= 65535 && (a.present & XCLIENT_PORT || a.port == 0));
	CHECK(a.esmtp == 0 || (a.esmtp == 1 && (a.present & XCLIENT_PROTO)));
	if (a.present & XCLIENT_ADDR) {
		CHECK(a.addr.ss_family == AF_INET || a.addr.ss_family == AF_INET6);
		in_port_t p = a.addr.ss_family == AF_INET ? ((struct sockaddr_in *)&a.addr)->sin_port
		    : ((struct sockaddr_in6 *)&a.addr)->sin6_port;
		CHECK(ntohs(p) == (a.present & XCLIENT_PORT ? a.port : 0));
	} else {
		CHECK(a.addr.ss_family == 0);
	}
	return 0;
}
