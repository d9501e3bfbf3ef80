/*
 * tls - the server side of TLS: one OpenSSL context for the daemon,
 * built from the tls settings by the master before it forks workers (so
 * keys are read while the daemon still has its start-up privileges), and
 * the facts about one established connection.
 *
 * Without a configured certificate the context gets an ephemeral
 * self-signed certificate for the server's hostname (an EC P-256 key made
 * at start), so STARTTLS works out of the box; clients must not verify it.
 */
#ifndef SMTPTRAP_TLS_H
#define SMTPTRAP_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "buf.h"

struct config;
struct tls_server;

/* What the session knows about its TLS layer, for logs, headers and policy. */
struct tls_info {
	int active;
	char version[16];            /* "TLSv1.3" */
	char cipher[64];             /* "TLS_AES_256_GCM_SHA384" */
	int bits;                    /* secret bits of the cipher */
	int alg_bits;                /* processed bits of the cipher */
	int peer_cert;               /* the client sent a certificate */
	char peer_fingerprint[112];  /* "SHA256:AB:CD:..." */
	char peer_subject[256];      /* "/CN=client" */
	int peer_verified;           /* 1 verified against client_ca, 0 not, -1 no CA set */
	char peer_verify_error[96];  /* why not, when peer_verified == 0 */
};

/*
 * Does this configuration need a TLS context (some listener uses TLS, or a
 * certificate is configured and must be checked)?
 */
int tls_wanted(const struct config *cfg);

/*
 * Build the context. Returns NULL with "file:line: message" lines in
 * errors when a file cannot be read or OpenSSL refuses a setting; the
 * message names the file and OpenSSL's reason.
 */
struct tls_server *tls_server_new(const struct config *cfg, struct buf *errors);
void tls_server_free(struct tls_server *ts);

/* A human description of the certificate in use, for the start-up log. */
const char *tls_server_describe(const struct tls_server *ts);

/* A new server-side SSL object on fd, or NULL (reason in err). */
SSL *tls_server_ssl(struct tls_server *ts, int fd, char *err, size_t errlen);

/* Fill info from an established connection. */
void tls_describe(SSL *ssl, struct tls_info *info);

/*
 * OpenSSL's reason for the last failure, taken from the thread's error
 * queue (which is then cleared), or fallback if the queue is empty.
 */
void tls_error_string(char *out, size_t outlen, const char *fallback);

#endif
