/*
 * tls - server TLS context and connection facts; see tls.h.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "tls.h"
#include "xmalloc.h"

struct tls_server {
	SSL_CTX *ctx;
	char description[320];
};

static const int proto_versions[] = {
	[TLS_PROTO_1_0] = TLS1_VERSION,
	[TLS_PROTO_1_1] = TLS1_1_VERSION,
	[TLS_PROTO_1_2] = TLS1_2_VERSION,
	[TLS_PROTO_1_3] = TLS1_3_VERSION,
};

void
tls_error_string(char *out, size_t outlen, const char *fallback)
{
	unsigned long e = ERR_peek_error(); /* the first: the root cause */

	if (e == 0) {
		snprintf(out, outlen, "%s", fallback);
	} else {
		const char *reason = ERR_reason_error_string(e);
		if (reason != NULL)
			snprintf(out, outlen, "%s", reason);
		else
			ERR_error_string_n(e, out, outlen);
	}
	ERR_clear_error();
}

int
tls_wanted(const struct config *cfg)
{
	if (cfg->tls_certificate != NULL || cfg->tls_line != 0)
		return 1; /* configured: check it even if no listener uses it */
	for (size_t i = 0; i < cfg->nlisteners; i++)
		if (cfg->listeners[i].tls != TLS_NONE)
			return 1;
	return 0;
}

static const char *
cfg_file(const struct config *cfg)
{
	return cfg->path ? cfg->path : "(built-in)";
}

/* Check that a configured file can be opened, for an errno-precise error. */
static int
readable(const struct config *cfg, const char *what, const char *path, int line,
    struct buf *errors)
{
	FILE *fp = fopen(path, "r");

	if (fp == NULL) {
		buf_printf(errors, "%s:%d: tls: %s '%s': %s\n", cfg_file(cfg), line, what, path,
		    strerror(errno));
		return -1;
	}
	fclose(fp);
	return 0;
}

static void
openssl_error(const struct config *cfg, const char *what, const char *path, int line,
    struct buf *errors)
{
	char reason[256];

	tls_error_string(reason, sizeof(reason), "unknown OpenSSL error");
	if (path != NULL)
		buf_printf(errors, "%s:%d: tls: %s '%s': %s\n", cfg_file(cfg), line, what, path, reason);
	else
		buf_printf(errors, "%s:%d: tls: %s: %s\n", cfg_file(cfg), line, what, reason);
}

/* A hostname usable in a subjectAltName: letters, digits, '-' and '.'. */
static int
dns_name(const char *h)
{
	if (*h == '\0' || strlen(h) > 253)
		return 0;
	for (const char *p = h; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return 0;
	return 1;
}

/* Make an EC P-256 key and a self-signed certificate for the hostname. */
static int
ephemeral_certificate(SSL_CTX *ctx, const char *hostname)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	int ok = 0;

	if (key == NULL || x == NULL)
		goto out;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f; /* positive */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto out;
	if (X509_set_version(x, 2) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 365L * 86400L) == NULL ||
	    X509_set_pubkey(x, key) != 1)
		goto out;
	name = X509_get_subject_name(x);
	char cn[65];
	snprintf(cn, sizeof(cn), "%s", hostname); /* CN is at most 64 characters */
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"smtptrapd ephemeral certificate", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1)
		goto out;
	if (dns_name(hostname)) {
		char san[300];
		X509V3_CTX v3;
		snprintf(san, sizeof(san), "DNS:%s", hostname);
		X509V3_set_ctx_nodb(&v3);
		X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
		if (ext == NULL)
			goto out;
		int added = X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
		if (added != 1)
			goto out;
	}
	if (X509_sign(x, key, EVP_sha256()) == 0)
		goto out;
	if (SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1)
		goto out;
	ok = 1;
out:
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(key);
	return ok ? 0 : -1;
}

/* Accept any client certificate: it is recorded, never a reason to fail. */
static int
accept_any_peer(int preverify, X509_STORE_CTX *store)
{
	(void)preverify;
	(void)store;
	return 1;
}

static int
load_certificates(struct tls_server *ts, const struct config *cfg, struct buf *errors)
{
	SSL_CTX *ctx = ts->ctx;
	const char *keyfile = cfg->tls_key ? cfg->tls_key : cfg->tls_certificate;
	int keyline = cfg->tls_key ? cfg->tls_key_line : cfg->tls_certificate_line;

	if (cfg->tls_certificate == NULL) {
		if (ephemeral_certificate(ctx, cfg->hostname) != 0) {
			openssl_error(cfg, "cannot make the ephemeral certificate", NULL, cfg->tls_line, errors);
			return -1;
		}
		snprintf(ts->description, sizeof(ts->description),
		    "ephemeral self-signed certificate for %.200s", cfg->hostname);
		return 0;
	}
	if (readable(cfg, "certificate", cfg->tls_certificate, cfg->tls_certificate_line, errors) != 0 ||
	    readable(cfg, "key", keyfile, keyline, errors) != 0 ||
	    (cfg->tls_chain != NULL &&
	    readable(cfg, "chain", cfg->tls_chain, cfg->tls_chain_line, errors) != 0))
		return -1;
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_certificate) != 1) {
		openssl_error(cfg, "certificate", cfg->tls_certificate, cfg->tls_certificate_line, errors);
		return -1;
	}
	if (cfg->tls_chain != NULL) {
		FILE *fp = fopen(cfg->tls_chain, "r");
		X509 *x;
		int n = 0;
		while (fp != NULL && (x = PEM_read_X509(fp, NULL, NULL, NULL)) != NULL) {
			if (SSL_CTX_add_extra_chain_cert(ctx, x) != 1) {
				X509_free(x);
				break;
			}
			n++;
		}
		if (fp != NULL)
			fclose(fp);
		unsigned long e = ERR_peek_last_error();
		if (n == 0 || (e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM &&
		    ERR_GET_REASON(e) == PEM_R_NO_START_LINE))) {
			openssl_error(cfg, "chain", cfg->tls_chain, cfg->tls_chain_line, errors);
			return -1;
		}
		ERR_clear_error();
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, keyfile, SSL_FILETYPE_PEM) != 1) {
		openssl_error(cfg, "key", keyfile, keyline, errors);
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		openssl_error(cfg, "key does not match the certificate", keyfile, keyline, errors);
		return -1;
	}
	X509 *cert = SSL_CTX_get0_certificate(ctx);
	char subject[256] = "";
	if (cert != NULL)
		X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
	snprintf(ts->description, sizeof(ts->description), "certificate %.200s (%.100s)",
	    cfg->tls_certificate, subject);
	return 0;
}

struct tls_server *
tls_server_new(const struct config *cfg, struct buf *errors)
{
	struct tls_server *ts = xcalloc(1, sizeof(*ts));
	SSL_CTX *ctx;

	ERR_clear_error();
	ctx = ts->ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		openssl_error(cfg, "cannot create a TLS context", NULL, cfg->tls_line, errors);
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"smtptrapd", 9);
	if (SSL_CTX_set_min_proto_version(ctx, proto_versions[cfg->tls_min_protocol]) != 1 ||
	    (cfg->tls_max_protocol != TLS_PROTO_ANY &&
	    SSL_CTX_set_max_proto_version(ctx, proto_versions[cfg->tls_max_protocol]) != 1)) {
		openssl_error(cfg, "protocol versions", NULL, cfg->tls_line, errors);
		goto fail;
	}
	if (cfg->tls_ciphers != NULL && SSL_CTX_set_cipher_list(ctx, cfg->tls_ciphers) != 1) {
		openssl_error(cfg, "ciphers", cfg->tls_ciphers, cfg->tls_ciphers_line, errors);
		goto fail;
	}
	if (cfg->tls_ciphersuites != NULL &&
	    SSL_CTX_set_ciphersuites(ctx, cfg->tls_ciphersuites) != 1) {
		openssl_error(cfg, "ciphersuites", cfg->tls_ciphersuites,
		    cfg->tls_ciphersuites_line, errors);
		goto fail;
	}
	if (load_certificates(ts, cfg, errors) != 0)
		goto fail;
	if (cfg->tls_client_certificate) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE, accept_any_peer);
		if (cfg->tls_client_ca != NULL) {
			STACK_OF(X509_NAME) *names;
			if (readable(cfg, "client_ca", cfg->tls_client_ca, cfg->tls_client_ca_line, errors) != 0)
				goto fail;
			if (SSL_CTX_load_verify_locations(ctx, cfg->tls_client_ca, NULL) != 1 ||
			    (names = SSL_load_client_CA_file(cfg->tls_client_ca)) == NULL) {
				openssl_error(cfg, "client_ca", cfg->tls_client_ca, cfg->tls_client_ca_line, errors);
				goto fail;
			}
			SSL_CTX_set_client_CA_list(ctx, names);
		}
	}
	ERR_clear_error();
	return ts;
fail:
	tls_server_free(ts);
	return NULL;
}

void
tls_server_free(struct tls_server *ts)
{
	if (ts == NULL)
		return;
	SSL_CTX_free(ts->ctx);
	free(ts);
}

const char *
tls_server_describe(const struct tls_server *ts)
{
	return ts->description;
}

SSL *
tls_server_ssl(struct tls_server *ts, int fd, char *err, size_t errlen)
{
	SSL *ssl;

	ERR_clear_error();
	ssl = SSL_new(ts->ctx);
	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
		tls_error_string(err, errlen, "cannot create a TLS connection");
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_accept_state(ssl);
	return ssl;
}

void
tls_describe(SSL *ssl, struct tls_info *info)
{
	X509 *peer;

	memset(info, 0, sizeof(*info));
	info->active = 1;
	snprintf(info->version, sizeof(info->version), "%s", SSL_get_version(ssl));
	snprintf(info->cipher, sizeof(info->cipher), "%s", SSL_get_cipher_name(ssl));
	info->bits = SSL_get_cipher_bits(ssl, &info->alg_bits);
	info->peer_verified = -1;
	peer = SSL_get1_peer_certificate(ssl);
	if (peer != NULL) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int n = 0;
		info->peer_cert = 1;
		if (X509_digest(peer, EVP_sha256(), md, &n) == 1) {
			size_t off = (size_t)snprintf(info->peer_fingerprint,
			    sizeof(info->peer_fingerprint), "SHA256:");
			for (unsigned i = 0; i < n && off + 3 < sizeof(info->peer_fingerprint); i++)
				off += (size_t)snprintf(info->peer_fingerprint + off,
				    sizeof(info->peer_fingerprint) - off, "%s%02X", i ? ":" : "", md[i]);
		}
		X509_NAME_oneline(X509_get_subject_name(peer), info->peer_subject,
		    sizeof(info->peer_subject));
		if (SSL_CTX_get_client_CA_list(SSL_get_SSL_CTX(ssl)) != NULL &&
		    sk_X509_NAME_num(SSL_CTX_get_client_CA_list(SSL_get_SSL_CTX(ssl))) > 0) {
			long v = SSL_get_verify_result(ssl);
			info->peer_verified = v == X509_V_OK;
			if (v != X509_V_OK)
				snprintf(info->peer_verify_error, sizeof(info->peer_verify_error), "%s",
				    X509_verify_cert_error_string(v));
		}
		X509_free(peer);
	}
	ERR_clear_error();
}
