/*
 * tls_probe.c: see tls_probe.h.
 */
#include "lib/tls_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/tls.h"
#include "lib/tls_client.h"
#include "lib/util.h"

struct tls_probe {
	SSL *ssl;
	int fd;
	int fd_flags; /* as they were, restored by the free */
	uint64_t deadline_usec;
};

/* Waits until SSL's last WANT_READ / WANT_WRITE (ERR) can go on. Returns
 * 0, or -1 when the deadline passed or the error is not a wait. */
static int tls_probe_wait(struct tls_probe *p, int err)
{
	struct pollfd pfd = {.fd = p->fd};
	uint64_t now, ms;
	int r;

	if (err == SSL_ERROR_WANT_READ)
		pfd.events = POLLIN;
	else if (err == SSL_ERROR_WANT_WRITE)
		pfd.events = POLLOUT;
	else
		return -1;
	do {
		now = now_usec();
		if (now >= p->deadline_usec)
			return -1;
		/* a far deadline is waited for in pieces poll() can take */
		ms = (p->deadline_usec - now) / 1000 + 1;
		r = poll(&pfd, 1, ms > INT_MAX ? INT_MAX : (int)ms);
	} while ((r < 0 && errno == EINTR) || r == 0);
	return r > 0 ? 0 : -1;
}

/* "2026-01-01T00:00:00Z" for T. */
static void tls_time_text(const ASN1_TIME *t, char *buf, size_t size)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		strlcpy_checked(buf, "?", size);
		return;
	}
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* One certificate as text. */
static void tls_cert_text(X509 *x, struct tls_probe_cert *out)
{
	X509_NAME_oneline(X509_get_subject_name(x), out->subject, sizeof(out->subject));
	X509_NAME_oneline(X509_get_issuer_name(x), out->issuer, sizeof(out->issuer));
	tls_time_text(X509_get0_notBefore(x), out->not_before, sizeof(out->not_before));
	tls_time_text(X509_get0_notAfter(x), out->not_after, sizeof(out->not_after));
}

/* 1 when the leaf carries one of the ':'-separated NAMES (RFC 6125, no
 * partial wildcards). */
static int tls_names_match(X509 *leaf, const char *names)
{
	char buf[1024], *name, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", names);
	for (name = strtok_r(buf, ":", &save); name; name = strtok_r(NULL, ":", &save))
		if (X509_check_host(leaf, name, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1)
			return 1;
	return 0;
}

/* Fills *R from the finished handshake: the chain as text, whether the
 * leaf names one of the names, and the PKIX and DANE verdicts of
 * lib/tls_client.h. */
static void tls_probe_describe(SSL *ssl, const struct tls_probe_params *params, int dane,
                               struct tls_probe_result *r)
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	const char *names = params->names && params->names[0] ? params->names : params->host;
	const unsigned char *mdata;
	struct tls_peer peer;
	size_t mlen = 0;
	int bits;

	tls_describe(ssl, r->version, sizeof(r->version), r->cipher, sizeof(r->cipher), &bits);
	for (int i = 0; chain != NULL && i < sk_X509_num(chain) && r->n_chain < TLS_PROBE_CHAIN_MAX;
	     i++)
		tls_cert_text(sk_X509_value(chain, i), &r->chain[r->n_chain++]);
	if (dane)
		tls_peer_check_dane(ssl, &peer);
	else
		tls_peer_check(ssl, &peer);
	r->name_match = leaf != NULL && tls_names_match(leaf, names);
	strlcpy_checked(r->leaf_names, peer.names, sizeof(r->leaf_names));
	r->pkix_ok = peer.verified;
	strlcpy_checked(r->pkix_problem, peer.reason, sizeof(r->pkix_problem));
	strlcpy_checked(r->rpt_cert, peer.rpt_cert, sizeof(r->rpt_cert));
	r->dane_checked = peer.dane;
	r->dane_ok = peer.dane_ok;
	strlcpy_checked(r->dane_problem, peer.dane_reason, sizeof(r->dane_problem));
	if (!peer.dane_ok)
		return;
	r->dane_depth = peer.dane_depth;
	/* the matching record's data too: two records of one kind (a key
	 * rollover's old and new) differ only there */
	if (SSL_get0_dane_tlsa(ssl, NULL, NULL, NULL, &mdata, &mlen) < 0)
		mdata = NULL;
	for (unsigned i = 0; i < params->n_tlsa && i < TLS_DANE_MAX; i++) {
		const struct tls_probe_tlsa *t = &params->tlsa[i];
		if (t->usage == peer.dane_usage && t->selector == peer.dane_selector &&
		    t->mtype == peer.dane_mtype &&
		    (mdata == NULL || (t->len == mlen && memcmp(t->data, mdata, mlen) == 0))) {
			r->dane_match = (int)i;
			break;
		}
	}
}

/* The handshake itself, within the deadline. */
static int tls_probe_handshake(struct tls_probe *p, const char **error_r)
{
	int r;

	while ((r = SSL_connect(p->ssl)) != 1) {
		int err = SSL_get_error(p->ssl, r);
		if (tls_probe_wait(p, err) < 0) {
			*error_r = err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE
			               ? "TLS handshake timed out"
			               : tls_last_error();
			return -1;
		}
	}
	return 0;
}

struct tls_probe *tls_probe_start(struct tls_client *client, int fd,
                                  const struct tls_probe_params *params,
                                  struct tls_probe_result *result, const char **error_r)
{
	struct tls_probe *p = xcalloc(1, sizeof(*p));
	struct tls_dane_record records[TLS_DANE_MAX];
	struct tls_dane dane = {.base_domain = params->host, .records = records,
	                        .n = params->n_tlsa < TLS_DANE_MAX ? params->n_tlsa : TLS_DANE_MAX};
	unsigned usable = 0;

	memset(result, 0, sizeof(*result));
	result->dane_match = -1;
	result->dane_depth = -1;
	p->fd = fd;
	p->deadline_usec = params->deadline_usec;
	p->fd_flags = fcntl(fd, F_GETFL);
	if (p->fd_flags < 0 || fcntl(fd, F_SETFL, p->fd_flags | O_NONBLOCK) < 0) {
		*error_r = strerror(errno);
		goto fail;
	}
	for (unsigned i = 0; i < params->n_tlsa && i < TLS_DANE_MAX; i++)
		records[i] = (struct tls_dane_record){params->tlsa[i].usage, params->tlsa[i].selector,
		                                      params->tlsa[i].mtype, params->tlsa[i].data,
		                                      params->tlsa[i].len};
	/* PKIX checks the names of tls_probe.h ("" = the host), as name_match does */
	p->ssl = tls_client_ssl_new_dane(
	    client, params->host, params->names && params->names[0] ? params->names : params->host,
	    &dane, &usable);
	if (p->ssl == NULL || SSL_set_fd(p->ssl, fd) != 1) {
		*error_r = tls_last_error();
		goto fail;
	}
	if (tls_probe_handshake(p, error_r) < 0)
		goto fail;
	tls_probe_describe(p->ssl, params, usable > 0, result);
	return p;
fail:
	tls_probe_free(&p);
	return NULL;
}

void tls_probe_deadline(struct tls_probe *p, uint64_t deadline_usec)
{
	p->deadline_usec = deadline_usec;
}

int tls_probe_write(struct tls_probe *p, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		size_t n = 0;
		int r = SSL_write_ex(p->ssl, (const char *)buf + done, len - done, &n);
		if (r == 1) {
			done += n;
			continue;
		}
		if (tls_probe_wait(p, SSL_get_error(p->ssl, r)) < 0)
			return -1;
	}
	return 0;
}

long tls_probe_read(struct tls_probe *p, void *buf, size_t size)
{
	for (;;) {
		size_t n = 0;
		int r = SSL_read_ex(p->ssl, buf, size, &n);
		if (r == 1)
			return (long)n;
		int err = SSL_get_error(p->ssl, r);
		if (err == SSL_ERROR_ZERO_RETURN)
			return 0;
		if (tls_probe_wait(p, err) < 0)
			return -1;
	}
}

void tls_probe_free(struct tls_probe **pp)
{
	struct tls_probe *p = *pp;

	if (p == NULL)
		return;
	*pp = NULL;
	if (p->ssl != NULL) {
		(void)SSL_shutdown(p->ssl);
		SSL_free(p->ssl);
	}
	ERR_clear_error();
	if (p->fd_flags >= 0)
		(void)fcntl(p->fd, F_SETFL, p->fd_flags);
	free(p);
}

/* Certificate INDEX of the PEM chain (the caller frees), or NULL. */
static X509 *tls_pem_cert(const char *pem, unsigned index)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = NULL;

	for (unsigned i = 0; i <= index; i++) {
		X509_free(x);
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		if (x == NULL)
			break;
	}
	BIO_free(bio);
	ERR_clear_error();
	return x;
}

int tls_pem_names_host(const char *pem, const char *host)
{
	X509 *x = tls_pem_cert(pem, 0);
	int r;

	if (x == NULL)
		return -1;
	r = tls_names_match(x, host);
	X509_free(x);
	return r;
}

unsigned tls_pem_count(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	unsigned n = 0;
	X509 *x;

	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		X509_free(x);
		n++;
	}
	BIO_free(bio);
	ERR_clear_error();
	return n;
}

int tls_pem_cert_info(const char *pem, unsigned index, struct tls_probe_cert *out, int *is_ca_r)
{
	X509 *x = tls_pem_cert(pem, index);

	if (x == NULL)
		return -1;
	tls_cert_text(x, out);
	*is_ca_r = X509_check_ca(x) > 0;
	X509_free(x);
	return 0;
}

/* DER of X's SELECTOR part (RFC 6698 2.1.2), malloc'ed into *der_r. */
static int tls_selected_der(X509 *x, unsigned selector, unsigned char **der_r)
{
	*der_r = NULL;
	if (selector == 0)
		return i2d_X509(x, der_r);
	if (selector == 1)
		return i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), der_r);
	return -1;
}

int tls_tlsa_data_hex(const char *pem, unsigned index, unsigned selector, unsigned mtype,
                      char *hex, size_t size, const char **error_r)
{
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	const unsigned char *data = md;
	unsigned int md_len = 0;
	X509 *x = tls_pem_cert(pem, index);
	int len;

	if (x == NULL) {
		*error_r = "no such certificate in the file";
		return -1;
	}
	len = tls_selected_der(x, selector, &der);
	X509_free(x);
	if (len <= 0 || mtype > 2) {
		OPENSSL_free(der);
		*error_r = "unknown selector or matching type";
		return -1;
	}
	if (mtype == 0) {
		data = der;
		md_len = (unsigned)len;
	} else if (EVP_Digest(der, (size_t)len, md, &md_len, mtype == 1 ? EVP_sha256() : EVP_sha512(),
	                      NULL) != 1) {
		md_len = 0;
	}
	if (md_len == 0 || (size_t)md_len * 2 + 1 > size) {
		OPENSSL_free(der);
		*error_r = md_len == 0 ? "digest failed" : "too long";
		return -1;
	}
	hex_lower(data, md_len, hex, size);
	OPENSSL_free(der);
	return 0;
}

const char *tls_default_ca_file(void)
{
	return X509_get_default_cert_file();
}
