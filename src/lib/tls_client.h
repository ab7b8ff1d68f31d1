/*
 * tls_client.h: the client side of TLS (the SMTP client's STARTTLS): one
 * context for every outgoing connection, and the check of the peer's
 * certificate after the handshake.
 *
 * Trust anchors come as PEM text the parent read: the dispatcher that
 * uses this is chrooted and cannot open the CA bundle itself. The check of
 * names is OpenSSL's (RFC 6125, no partial wildcards); tls_peer_check()
 * turns its verdict into the words logs and DSNs use.
 *
 * DANE (RFC 6698, RFC 7671, RFC 7672) is OpenSSL's too: a connection given
 * TLSA records (struct tls_dane) is authenticated by them instead of the
 * trust anchors; DANE-EE(3) matches ignore the certificate's names and
 * dates (RFC 7672 3.1.1), DANE-TA(2) ones check the names like PKIX (RFC
 * 7672 3.2). The chain is then also checked the PKIX way, for the record.
 * Which records to give is the caller's choice (DANE for SMTP uses only
 * usages 2 and 3, RFC 7672 3.1); OpenSSL ignores what it cannot use.
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

#define TLS_DANE_MAX 8 /* TLSA records given to one connection */

/* One TLSA record (RFC 6698 2.1), its data the caller's. */
struct tls_dane_record {
	unsigned char usage, selector, mtype;
	const unsigned char *data;
	size_t len;
};

/* DANE for one connection: the TLSA base domain (the MX host, RFC 7672
 * 2.2.3: also the first name a DANE-TA certificate may carry; the others
 * are the connection's NAMES) and its records. */
struct tls_dane {
	const char *base_domain;
	const struct tls_dane_record *records;
	unsigned n; /* at most TLS_DANE_MAX are used */
};

/* The peer's certificate as the handshake left it. */
struct tls_peer {
	int certificate;  /* the peer presented one */
	int verified;     /* PKIX: it chains to a trust anchor, is valid now and names the peer */
	char reason[512]; /* why not verified ("certificate has expired", ...); "" if it is */
	char names[512];  /* its SAN dNSNames, comma-separated, else its CN */
	/* the names the connection asked for (tls_client_ssl_new's NAMES, the
	 * DANE base domain first), " or "-separated; "" when none were */
	char expected[512];
	int dane;         /* DANE applied: the connection had a usable TLSA record */
	int dane_ok;      /* ... and one matched, with the names DANE-TA checks */
	int dane_depth;   /* where in the chain it matched: 0 the peer's own certificate */
	unsigned dane_usage, dane_selector, dane_mtype; /* the record that matched */
	char dane_reason[256];                          /* why DANE failed ("" when it did not) */
	/* the RFC 8460 result type of the problem of the check in force (DANE
	 * when it applied, else PKIX): "certificate-expired",
	 * "certificate-host-mismatch", "certificate-not-trusted"; "" = none */
	char rpt_cert[40];
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
/* The same, authenticated by DANE (NULL or no records: as above). *USABLE_R
 * is the number of records OpenSSL could use; with none, the peer is
 * checked the PKIX way only. */
SSL *tls_client_ssl_new_dane(struct tls_client *client, const char *host, const char *names,
                             const struct tls_dane *dane, unsigned *usable_r);

/* Fills *PEER from SSL after its handshake (either side). */
void tls_peer_check(SSL *ssl, struct tls_peer *peer);
/* The same for a client connection that DANE applies to (tls_client_ssl_new_dane
 * found usable records). */
void tls_peer_check_dane(SSL *ssl, struct tls_peer *peer);

#endif
