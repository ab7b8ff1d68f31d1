/*
 * tls_client.h: the client side of TLS (the SMTP client's STARTTLS): one
 * context for every outgoing connection, and the check of the peer's
 * certificate after the handshake.
 *
 * Trust anchors come as PEM text the parent read: the dispatcher that
 * uses this is chrooted and cannot open the CA bundle itself. The check of
 * names is OpenSSL's (RFC 6125, no partial wildcards); tls_peer_check()
 * turns its verdict into the words logs and DSNs use.
 */
#ifndef SEALMAIL_TLS_CLIENT_H
#define SEALMAIL_TLS_CLIENT_H

#include <openssl/ssl.h>

struct tls_client_settings {
	int min_version;          /* TLS1_2_VERSION, ... */
	const char *ciphers;      /* TLS 1.2 cipher list */
	const char *ciphersuites; /* TLS 1.3 suites */
	const char *ca_pem;       /* trust anchors as PEM; NULL = none */
};

/* The peer's certificate as the handshake left it. */
struct tls_peer {
	int certificate;  /* the peer presented one */
	int verified;     /* it chains to a trust anchor, is valid now and names the peer */
	char reason[512]; /* why not verified ("certificate has expired", ...); "" if it is */
	char names[512];  /* its SAN dNSNames, comma-separated, else its CN */
};

struct tls_client;

/* The client context. Returns NULL with *error_r when SETTINGS are not
 * accepted by OpenSSL. */
struct tls_client *tls_client_new(const struct tls_client_settings *settings, const char **error_r);
void tls_client_free(struct tls_client **client);

/* A new SSL for one connection to HOST: SNI names HOST unless it is an
 * address literal (RFC 6066 3), and the certificate must carry one of the
 * ':'-separated NAMES (none are checked when NAMES is NULL or empty). */
SSL *tls_client_ssl_new(struct tls_client *client, const char *host, const char *names);

/* Fills *PEER from SSL after its handshake (either side). */
void tls_peer_check(SSL *ssl, struct tls_peer *peer);

#endif
