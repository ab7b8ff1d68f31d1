/*
 * tls.h: server-side TLS contexts built from certificates held in memory.
 *
 * The parent reads the PEM files (it may be the only role allowed to) and
 * checks that each key matches its certificate; the dispatcher builds its
 * SSL_CTXs from those bytes after fork, so nothing is read from disk inside
 * the chroot. One SSL_CTX per certificate; the first is the default and the
 * SNI callback switches to a named one.
 *
 * A handshake costs what the protocol needs and nothing more: the contexts,
 * certificates, keys and trust stores are built once per dispatcher;
 * TLS 1.3 sends one ticket, not OpenSSL's two (one resumption per new
 * connection needs one); the TLS 1.2 session cache (for clients without
 * tickets) is flushed of expired sessions on a clock, not by walking it
 * every 255 handshakes inside one of them.
 */
#ifndef SEALMAIL_TLS_H
#define SEALMAIL_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "lib/tls_ticket.h"

#define TLS_MAX_LISTENERS 32 /* one client_ca per listener */
#define TLS_MAX_CERTS 32

/* One certificate as configured: files, read by tls_cert_set_load(). */
struct tls_cert_file {
	const char *name;        /* "" = default; otherwise the SNI name, maybe "*.x" */
	const char *certificate; /* PEM chain, leaf first */
	const char *key;         /* PEM private key */
};

/* What the TLS contexts are made from; the caller fills it from its
 * configuration (the strings must outlive the calls that take it). */
struct tls_settings {
	struct tls_cert_file certs[TLS_MAX_CERTS];
	unsigned n_certs;
	int min_version;          /* TLS1_2_VERSION, ... */
	const char *ciphers;      /* TLS 1.2 cipher list */
	const char *ciphersuites; /* TLS 1.3 suites */
	/* per listener: the client_ca file whose certificates are asked for,
	 * or NULL when that listener asks for no client certificate */
	const char *client_ca[TLS_MAX_LISTENERS];
	unsigned n_listeners;
	/* trust anchors of the client side; NULL or "" = the system bundle */
	const char *outbound_ca_file;
};

struct tls_cert_pem {
	char name[256]; /* "" = default; otherwise the SNI name, maybe "*.x" */
	char *cert_pem;
	char *key_pem;
	int kept; /* a reload could not load the file: this is the one from before */
};

struct tls_cert_set {
	struct tls_cert_pem *certs;
	unsigned n;
	/* the session ticket keys' seed, shared by every dispatcher (see
	 * tls_ticket.h); a reload keeps it, ratcheted forward */
	struct tls_ticket_seed ticket_seed;
	/* per listener (settings order): its client_ca file's PEM, or
	 * NULL when it asks for no client certificate */
	char *client_ca_pem[TLS_MAX_LISTENERS];
	/* [outbound] ca_file, or the system's CA bundle: the dispatcher is
	 * chrooted and cannot read either */
	char *outbound_ca_pem;
};

/* Reads and checks every certificate named in SETTINGS. On failure *error_r
 * says which file and why, and *set is untouched. */
int tls_cert_set_load(const struct tls_settings *settings, struct tls_cert_set *set,
                      const char **error_r);

/* Like tls_cert_set_load, but a certificate that fails to load keeps its
 * entry from OLD when there is one (logged as a warning). */
int tls_cert_set_reload(const struct tls_settings *settings, const struct tls_cert_set *old,
                        struct tls_cert_set *set, const char **error_r);
/* Wipes every key and frees the set. */
void tls_cert_set_free(struct tls_cert_set *set);
/* How many private keys SET holds in memory (0 once freed): what a role
 * that must hold none can report. */
unsigned tls_cert_set_keys(const struct tls_cert_set *set);

struct tls_server;

/* Builds the SSL_CTXs. Returns NULL with *error_r on failure. */
struct tls_server *tls_server_new(const struct tls_settings *settings,
                                  const struct tls_cert_set *set, const char **error_r);
void tls_server_free(struct tls_server **srv);
/* A new SSL for one connection accepted on listener LISTENER (its index):
 * when that listener has a client_ca, a client certificate is requested
 * and checked against it (the handshake goes on without one; see
 * tls_client_identity()). */
SSL *tls_server_ssl_new(struct tls_server *srv, unsigned listener);

/* After the handshake: the identity in a client certificate that verified
 * against the listener's client_ca (its rfc822Name, else emailAddress, else
 * CN), lower-cased into BUF. Returns 0, or -1 when there is none. */
int tls_client_identity(SSL *ssl, char *buf, size_t size);

/* "TLSv1.3", "TLS_AES_256_GCM_SHA384", bits. */
void tls_describe(SSL *ssl, char *version, size_t vsize, char *cipher, size_t csize, int *bits_r);

/* A certificate store holding every certificate in PEM (may be empty). */
X509_STORE *tls_store_from_pem(const char *pem);

/* For the config checks: 1 when OpenSSL knows a cipher of the TLS 1.2
 * list LIST (or cannot tell: no context could be made), else 0. */
int tls_cipher_list_known(const char *list);
/* The same for the one TLS 1.3 suite SUITE. */
int tls_ciphersuite_known(const char *suite);

/* The last OpenSSL error as text, for logs (thread-unsafe static buffer). */
const char *tls_last_error(void);

#endif
