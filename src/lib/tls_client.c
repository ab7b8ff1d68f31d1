/*
 * tls_client.c: see tls_client.h.
 */
#include "lib/tls_client.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/tls.h"
#include "lib/util.h"

struct tls_client {
	SSL_CTX *ctx;
};

struct tls_client *tls_client_new(const struct tls_client_settings *settings, const char **error_r)
{
	struct tls_client *c = xcalloc(1, sizeof(*c));

	c->ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(c->ctx, settings->min_version);
	SSL_CTX_set_options(c->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(c->ctx, SSL_MODE_RELEASE_BUFFERS);
	/* The handshake goes on whatever the certificate: the policy of the
	 * destination decides from tls_peer_check() what an unverified peer
	 * means. */
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	/* DANE where a connection is given TLSA records (RFC 7671) */
	if (SSL_CTX_dane_enable(c->ctx) <= 0) {
		*error_r = tls_last_error();
		tls_client_free(&c);
		return NULL;
	}
	if (SSL_CTX_set_cipher_list(c->ctx, settings->ciphers) != 1 ||
	    SSL_CTX_set_ciphersuites(c->ctx, settings->ciphersuites) != 1) {
		*error_r = tls_last_error();
		tls_client_free(&c);
		return NULL;
	}
	SSL_CTX_set_cert_store(c->ctx,
	                       tls_store_from_pem(settings->ca_pem ? settings->ca_pem : ""));
	return c;
}

void tls_client_free(struct tls_client **cp)
{
	struct tls_client *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	SSL_CTX_free(c->ctx);
	free(c);
}

/* Adds DANE's records to SSL, whose base domain is set; returns the
 * number OpenSSL can use (RFC 7671 5). */
static unsigned tls_dane_add(SSL *ssl, const struct tls_dane *dane)
{
	unsigned i, usable = 0;

	/* RFC 7672 3.1.1: a DANE-EE match authenticates whatever names the
	 * certificate carries */
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	for (i = 0; i < dane->n && i < TLS_DANE_MAX; i++) {
		const struct tls_dane_record *t = &dane->records[i];
		if (SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype, t->data, t->len) > 0)
			usable++;
	}
	ERR_clear_error(); /* a record it could not use is not an error */
	return usable;
}

SSL *tls_client_ssl_new_dane(struct tls_client *client, const char *host, const char *names,
                             const struct tls_dane *dane, unsigned *usable_r)
{
	SSL *ssl = SSL_new(client->ctx);
	unsigned char addr[16];
	char buf[1024], *name, *save = NULL;

	*usable_r = 0;
	if (ssl == NULL)
		return NULL;
	if (inet_pton(AF_INET, host, addr) != 1 && inet_pton(AF_INET6, host, addr) != 1)
		SSL_set_tlsext_host_name(ssl, host);
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	/* before the names: it makes the base domain the first of them */
	if (dane != NULL && dane->n > 0) {
		if (SSL_dane_enable(ssl, dane->base_domain) <= 0) {
			SSL_free(ssl);
			return NULL;
		}
		*usable_r = tls_dane_add(ssl, dane);
	}
	snprintf(buf, sizeof(buf), "%s", names ? names : "");
	for (name = strtok_r(buf, ":", &save); name; name = strtok_r(NULL, ":", &save))
		SSL_add1_host(ssl, name);
	return ssl;
}

SSL *tls_client_ssl_new(struct tls_client *client, const char *host, const char *names)
{
	unsigned usable;

	return tls_client_ssl_new_dane(client, host, names, NULL, &usable);
}

/* The DNS names in CERT (SAN dNSNames, else the CN), for messages. */
static void tls_cert_names(X509 *cert, char *buf, size_t size)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	size_t o = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; names != NULL && i < sk_GENERAL_NAME_num(names) && o + 2 < size; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		const unsigned char *p;
		if (g->type != GEN_DNS)
			continue;
		p = ASN1_STRING_get0_data(g->d.dNSName);
		o += (size_t)snprintf(buf + o, size - o, "%s%.*s", o ? ", " : "",
		                      ASN1_STRING_length(g->d.dNSName), (const char *)p);
	}
	GENERAL_NAMES_free(names);
	if (o == 0)
		X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf,
		                          (int)size);
	if (o >= size)
		buf[size - 1] = '\0';
}

/* The RFC 8460 result type of the verification error RESULT. */
static const char *tls_rpt_cert(long result)
{
	if (result == X509_V_OK)
		return "";
	if (result == X509_V_ERR_CERT_HAS_EXPIRED || result == X509_V_ERR_CERT_NOT_YET_VALID)
		return "certificate-expired";
	if (result == X509_V_ERR_HOSTNAME_MISMATCH)
		return "certificate-host-mismatch";
	return "certificate-not-trusted";
}

/* The names SSL's certificate check asks for, " or "-separated, into
 * BUF of SIZE bytes. */
static void tls_expected_names(SSL *ssl, char *buf, size_t size)
{
	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
	size_t o = 0;
	const char *host;
	int i;

	buf[0] = '\0';
	for (i = 0; (host = X509_VERIFY_PARAM_get0_host(param, i)) != NULL && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? " or " : "", host);
	if (o >= size)
		buf[size - 1] = '\0';
}

/* PEER's reason for RESULT, the verification error: a name mismatch says
 * which name was expected and which the certificate holds. */
static void tls_peer_reason(struct tls_peer *peer, long result, char *buf, size_t size)
{
	if (result == X509_V_OK)
		buf[0] = '\0';
	else if (result == X509_V_ERR_HOSTNAME_MISMATCH && peer->expected[0])
		snprintf(buf, size, "certificate name mismatch (expected %s, got %s)",
		         peer->expected, peer->names);
	else if (result == X509_V_ERR_HOSTNAME_MISMATCH)
		snprintf(buf, size, "certificate name mismatch (got %s)", peer->names);
	else if (result == X509_V_ERR_CERT_HAS_EXPIRED)
		snprintf(buf, size, "certificate has expired");
	else
		snprintf(buf, size, "certificate not trusted (%s)",
		         X509_verify_cert_error_string(result));
}

void tls_peer_check(SSL *ssl, struct tls_peer *peer)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	long result = SSL_get_verify_result(ssl);

	memset(peer, 0, sizeof(*peer));
	if (cert == NULL) {
		snprintf(peer->reason, sizeof(peer->reason), "no certificate presented");
		strlcpy_checked(peer->rpt_cert, "certificate-not-trusted", sizeof(peer->rpt_cert));
		return;
	}
	peer->certificate = 1;
	tls_cert_names(cert, peer->names, sizeof(peer->names));
	tls_expected_names(ssl, peer->expected, sizeof(peer->expected));
	peer->verified = result == X509_V_OK;
	tls_peer_reason(peer, result, peer->reason, sizeof(peer->reason));
	strlcpy_checked(peer->rpt_cert, tls_rpt_cert(result), sizeof(peer->rpt_cert));
}

/* The PKIX verification of SSL's peer chain as if DANE were not there:
 * the context's trust anchors, the connection's names. Returns the
 * X509_V_* result. */
static long tls_pkix_result(SSL *ssl)
{
	X509_STORE *store = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl));
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *cert = SSL_get0_peer_certificate(ssl);
	long result = X509_V_ERR_UNSPECIFIED;

	if (ctx == NULL || cert == NULL)
		goto out;
	if (X509_STORE_CTX_init(ctx, store, cert, SSL_get_peer_cert_chain(ssl)) != 1)
		goto out;
	X509_STORE_CTX_set_default(ctx, "ssl_server");
	/* the names SSL checks (SSL_add1_host and the DANE base domain) */
	X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(ctx), SSL_get0_param(ssl));
	result = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
out:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return result;
}

void tls_peer_check_dane(SSL *ssl, struct tls_peer *peer)
{
	long dane_result = SSL_get_verify_result(ssl), pkix;
	uint8_t usage = 0, selector = 0, mtype = 0;
	int depth;

	tls_peer_check(ssl, peer);
	if (!peer->certificate)
		return;
	peer->dane = 1;
	pkix = tls_pkix_result(ssl);
	peer->verified = pkix == X509_V_OK;
	tls_peer_reason(peer, pkix, peer->reason, sizeof(peer->reason));
	depth = SSL_get0_dane_tlsa(ssl, &usage, &selector, &mtype, NULL, NULL);
	peer->dane_ok = dane_result == X509_V_OK && depth >= 0;
	strlcpy_checked(peer->rpt_cert, tls_rpt_cert(peer->dane_ok ? X509_V_OK : dane_result),
	                sizeof(peer->rpt_cert));
	if (peer->dane_ok) {
		peer->dane_depth = depth;
		peer->dane_usage = usage;
		peer->dane_selector = selector;
		peer->dane_mtype = mtype;
	} else if (dane_result == X509_V_ERR_DANE_NO_MATCH || dane_result == X509_V_OK) {
		snprintf(peer->dane_reason, sizeof(peer->dane_reason),
		         "no TLSA record matches the certificate chain (got %s)", peer->names);
	} else {
		tls_peer_reason(peer, dane_result, peer->dane_reason, sizeof(peer->dane_reason));
	}
}
