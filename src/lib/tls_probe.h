/*
 * tls_probe.h: a blocking TLS client handshake on a connected socket that
 * reports everything it saw, for `sealmail tls-check` (ctl/tls_check.c):
 * the protocol and cipher, each certificate of the chain as text, whether
 * the leaf names the expected host, and the PKIX and DANE verdicts of
 * lib/tls_client.h (tls_client_ssl_new_dane(), tls_peer_check_dane()) with
 * the record that matched. The SMTP client does not use it: it runs on the
 * event loop (lib/io.h). Also the digest a TLSA record of our own
 * certificate carries, for publishing.
 *
 * The socket stays blocking-free: every read, write and the handshake
 * are bounded by the deadline the caller gives.
 */
#ifndef SEALMAIL_TLS_PROBE_H
#define SEALMAIL_TLS_PROBE_H

#include <stddef.h>
#include <stdint.h>

struct tls_client;

#define TLS_PROBE_CHAIN_MAX 10   /* certificates described */
#define TLS_PROBE_DANE_MAX 8     /* TLSA records tried (TLS_DANE_MAX) */
#define TLS_PROBE_TEXT_MAX 512   /* one certificate's subject or issuer */
#define TLS_PROBE_DIGEST_HEX 129 /* a SHA2-512 in hex and its NUL */

/* One TLSA record as plain values (lib knows nothing of mail/). */
struct tls_probe_tlsa {
	uint8_t usage, selector, mtype;
	const uint8_t *data;
	size_t len;
};

struct tls_probe_params {
	const char *host;  /* sent as SNI unless an address literal */
	const char *names; /* ':'-separated names PKIX must find in the leaf; "" = host */
	const struct tls_probe_tlsa *tlsa;
	unsigned n_tlsa; /* 0: no DANE check */
	uint64_t deadline_usec; /* now_usec() value after which everything fails */
};

struct tls_probe_cert {
	char subject[TLS_PROBE_TEXT_MAX];
	char issuer[TLS_PROBE_TEXT_MAX];
	char not_before[32]; /* "2026-01-01T00:00:00Z" */
	char not_after[32];
};

/* What the handshake gave. */
struct tls_probe_result {
	char version[32]; /* "TLSv1.3" */
	char cipher[96];
	unsigned n_chain; /* as the peer sent it, leaf first */
	struct tls_probe_cert chain[TLS_PROBE_CHAIN_MAX];
	char leaf_names[512]; /* the leaf's SAN dNSNames, else its CN */
	int name_match;       /* the leaf carries one of the names (RFC 6125) */
	int pkix_ok;          /* chain valid now, to an anchor, and name_match */
	char pkix_problem[256]; /* OpenSSL's words; "" when pkix_ok */
	char rpt_cert[40];      /* RFC 8460 4.3 type of the problem of the check in force
	                           ("certificate-expired", ...); "" */
	int dane_checked;      /* a usable TLSA record applied */
	int dane_ok;           /* one of them authenticated the peer (RFC 7671 5) */
	int dane_match;        /* its index in params.tlsa; -1 */
	int dane_depth;        /* the chain depth it matched; -1 */
	char dane_problem[256];
};

struct tls_probe;

/* Handshakes as a client over the connected socket FD (not taken over)
 * with a connection of CLIENT's context, and fills *RESULT. Returns the
 * probe (for tls_probe_write/read and the close), or NULL with *error_r
 * (the handshake failed or the deadline passed). */
struct tls_probe *tls_probe_start(struct tls_client *client, int fd,
                                  const struct tls_probe_params *params,
                                  struct tls_probe_result *result, const char **error_r);
/* Moves the deadline of what follows. */
void tls_probe_deadline(struct tls_probe *p, uint64_t deadline_usec);
/* Sends LEN octets. Returns 0, or -1 (error or deadline). */
int tls_probe_write(struct tls_probe *p, const void *buf, size_t len);
/* Reads what is there, at most SIZE octets. Returns the count, 0 at the
 * end, -1 on an error or the deadline. */
long tls_probe_read(struct tls_probe *p, void *buf, size_t size);
/* Sends close_notify (not waited for) and frees. FD stays open. */
void tls_probe_free(struct tls_probe **p);

/* The data of a TLSA record SELECTOR (0 certificate, 1 SubjectPublicKeyInfo)
 * MTYPE (0 exact (hex of the DER), 1 SHA2-256, 2 SHA2-512) for the certificate
 * number INDEX (0 = the leaf) of the PEM chain PEM, in lower-case hex into
 * HEX. Returns 0, or -1 with *error_r (no such certificate, ...). */
int tls_tlsa_data_hex(const char *pem, unsigned index, unsigned selector, unsigned mtype,
                      char *hex, size_t size, const char **error_r);
/* 1 when the first certificate of PEM names HOST (RFC 6125 as
 * X509_check_host() checks it, no partial wildcards), 0 when not, -1 when
 * PEM holds none. */
int tls_pem_names_host(const char *pem, const char *host);
/* How many certificates the PEM text holds. */
unsigned tls_pem_count(const char *pem);
/* The subject, issuer and validity of certificate INDEX of PEM, and whether
 * it is a CA (basicConstraints CA:TRUE). Returns 0 or -1. */
int tls_pem_cert_info(const char *pem, unsigned index, struct tls_probe_cert *out, int *is_ca_r);
/* The system's CA bundle file, for a client that has no ca_file. */
const char *tls_default_ca_file(void);

#endif
