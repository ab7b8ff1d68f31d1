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

SSL *tls_client_ssl_new(struct tls_client *client, const char *host, const char *names)
{
	SSL *ssl = SSL_new(client->ctx);
	unsigned char addr[16];
	char buf[1024], *name, *save = NULL;

	if (ssl == NULL)
		return NULL;
	if (inet_pton(AF_INET, host, addr) != 1 && inet_pton(AF_INET6, host, addr) != 1)
		SSL_set_tlsext_host_name(ssl, host);
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	snprintf(buf, sizeof(buf), "%s", names ? names : "");
	for (name = strtok_r(buf, ":", &save); name; name = strtok_r(NULL, ":", &save))
		SSL_add1_host(ssl, name);
	return ssl;
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

void tls_peer_check(SSL *ssl, struct tls_peer *peer)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	long result = SSL_get_verify_result(ssl);

	memset(peer, 0, sizeof(*peer));
	if (cert == NULL) {
		snprintf(peer->reason, sizeof(peer->reason), "no certificate presented");
		return;
	}
	peer->certificate = 1;
	tls_cert_names(cert, peer->names, sizeof(peer->names));
	if (result == X509_V_OK)
		peer->verified = 1;
	else if (result == X509_V_ERR_HOSTNAME_MISMATCH)
		snprintf(peer->reason, sizeof(peer->reason), "certificate name mismatch (got %s)",
		         peer->names);
	else if (result == X509_V_ERR_CERT_HAS_EXPIRED)
		snprintf(peer->reason, sizeof(peer->reason), "certificate has expired");
	else
		snprintf(peer->reason, sizeof(peer->reason), "certificate not trusted (%s)",
		         X509_verify_cert_error_string(result));
}
