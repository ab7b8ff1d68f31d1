/*
 * tls_probe.c: see tls_probe.h.
 */
#include "lib/tls_probe.h"

#include <errno.h>
#include <fcntl.h>
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
	uint64_t now = now_usec();
	int r;

	if (err == SSL_ERROR_WANT_READ)
		pfd.events = POLLIN;
	else if (err == SSL_ERROR_WANT_WRITE)
		pfd.events = POLLOUT;
	else
		return -1;
	if (now >= p->deadline_usec)
		return -1;
	do
		r = poll(&pfd, 1, (int)((p->deadline_usec - now) / 1000 + 1));
	while (r < 0 && errno == EINTR);
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

/* The leaf's DNS names (SAN, else CN), comma-separated. */
static void tls_leaf_names(X509 *cert, char *buf, size_t size)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names) && o + 2 < size; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		if (g->type != GEN_DNS)
			continue;
		o += (size_t)snprintf(buf + o, size - o, "%s%.*s", o ? ", " : "",
		                      ASN1_STRING_length(g->d.dNSName),
		                      (const char *)ASN1_STRING_get0_data(g->d.dNSName));
	}
	GENERAL_NAMES_free(names);
	if (o == 0)
		X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf,
		                          (int)size);
	if (o >= size)
		buf[size - 1] = '\0';
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

/* RFC 8460 4.3 words for an X509_V_ERR_ code. */
static const char *tls_rpt_cert_type(int err)
{
	if (err == X509_V_ERR_HOSTNAME_MISMATCH)
		return "certificate-host-mismatch";
	if (err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID)
		return "certificate-expired";
	return "certificate-not-trusted";
}

/* Verifies SSL's peer chain against its context's store for the
 * ':'-separated NAMES, as "ssl_server" (PKIX, RFC 5280 6; names RFC 6125).
 * Returns X509_V_OK or the error. */
static int tls_pkix_verify(SSL *ssl, const char *names)
{
	X509_STORE *store = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl));
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	char buf[1024], *name, *save = NULL;
	int err = X509_V_ERR_UNSPECIFIED;

	if (ctx == NULL || leaf == NULL || X509_STORE_CTX_init(ctx, store, leaf, chain) != 1)
		goto out;
	X509_STORE_CTX_set_default(ctx, "ssl_server");
	X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	snprintf(buf, sizeof(buf), "%s", names);
	for (name = strtok_r(buf, ":", &save); name; name = strtok_r(NULL, ":", &save))
		X509_VERIFY_PARAM_add1_host(vp, name, 0);
	err = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
out:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return err;
}

/* Asks OpenSSL's DANE check (RFC 7671, RFC 7672 3) for the records of
 * PARAMS on SSL, before the handshake. Returns 0 or -1 with *error_r. */
static int tls_probe_dane_setup(SSL *ssl, const struct tls_probe_params *params,
                                const char **error_r)
{
	unsigned n = params->n_tlsa < TLS_PROBE_DANE_MAX ? params->n_tlsa : TLS_PROBE_DANE_MAX;

	if (SSL_CTX_dane_enable(SSL_get_SSL_CTX(ssl)) <= 0 || SSL_dane_enable(ssl, params->host) <= 0) {
		*error_r = tls_last_error();
		return -1;
	}
	/* RFC 7672 3.1.1: a DANE-EE record's certificate names nothing */
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	for (unsigned i = 0; i < n; i++) {
		const struct tls_probe_tlsa *t = &params->tlsa[i];
		/* an unusable record (unknown usage, a wrong length) is ignored */
		(void)SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype, t->data, t->len);
	}
	ERR_clear_error();
	return 0;
}

/* The DANE verdict of the finished handshake. */
static void tls_probe_dane_result(SSL *ssl, const struct tls_probe_params *params,
                                  struct tls_probe_result *r)
{
	uint8_t usage, selector, mtype;
	const unsigned char *data;
	size_t len;
	long verify = SSL_get_verify_result(ssl);

	r->dane_checked = 1;
	r->dane_depth = SSL_get0_dane_tlsa(ssl, &usage, &selector, &mtype, &data, &len);
	if (verify == X509_V_OK && r->dane_depth >= 0) {
		r->dane_ok = 1;
		for (unsigned i = 0; i < params->n_tlsa && i < TLS_PROBE_DANE_MAX; i++) {
			const struct tls_probe_tlsa *t = &params->tlsa[i];
			if (t->usage == usage && t->selector == selector && t->mtype == mtype &&
			    t->len == len && memcmp(t->data, data, len) == 0) {
				r->dane_match = (int)i;
				break;
			}
		}
		return;
	}
	r->dane_depth = -1;
	snprintf(r->dane_problem, sizeof(r->dane_problem), "%s",
	         verify == X509_V_OK ? "no TLSA record matched"
	                             : X509_verify_cert_error_string(verify));
}

/* Fills the chain, names and PKIX parts of *R. */
static void tls_probe_describe(SSL *ssl, const struct tls_probe_params *params,
                               struct tls_probe_result *r)
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	const char *names = params->names && params->names[0] ? params->names : params->host;
	int bits, err;

	tls_describe(ssl, r->version, sizeof(r->version), r->cipher, sizeof(r->cipher), &bits);
	for (int i = 0; chain != NULL && i < sk_X509_num(chain) && r->n_chain < TLS_PROBE_CHAIN_MAX;
	     i++)
		tls_cert_text(sk_X509_value(chain, i), &r->chain[r->n_chain++]);
	r->rpt_cert = "";
	if (leaf == NULL) {
		snprintf(r->pkix_problem, sizeof(r->pkix_problem), "no certificate presented");
		r->rpt_cert = "certificate-not-trusted";
		return;
	}
	tls_leaf_names(leaf, r->leaf_names, sizeof(r->leaf_names));
	r->name_match = tls_names_match(leaf, names);
	err = tls_pkix_verify(ssl, names);
	r->pkix_ok = err == X509_V_OK;
	if (!r->pkix_ok) {
		snprintf(r->pkix_problem, sizeof(r->pkix_problem), "%s",
		         X509_verify_cert_error_string(err));
		r->rpt_cert = tls_rpt_cert_type(err);
	}
	if (params->sts_name != NULL) {
		r->sts_checked = 1;
		err = tls_pkix_verify(ssl, params->sts_name);
		r->sts_ok = err == X509_V_OK;
		if (!r->sts_ok)
			snprintf(r->sts_problem, sizeof(r->sts_problem), "%s",
			         X509_verify_cert_error_string(err));
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

	memset(result, 0, sizeof(*result));
	result->dane_match = -1;
	result->dane_depth = -1;
	p->fd = fd;
	p->deadline_usec = params->deadline_usec;
	p->fd_flags = fcntl(fd, F_GETFL);
	(void)fcntl(fd, F_SETFL, p->fd_flags | O_NONBLOCK);
	p->ssl = tls_client_ssl_new(client, params->host, "");
	if (p->ssl == NULL || SSL_set_fd(p->ssl, fd) != 1) {
		*error_r = tls_last_error();
		goto fail;
	}
	if (params->n_tlsa > 0 && tls_probe_dane_setup(p->ssl, params, error_r) < 0)
		goto fail;
	if (tls_probe_handshake(p, error_r) < 0)
		goto fail;
	tls_probe_describe(p->ssl, params, result);
	if (params->n_tlsa > 0)
		tls_probe_dane_result(p->ssl, params, result);
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
	for (unsigned i = 0; i < md_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", data[i]);
	OPENSSL_free(der);
	return 0;
}

const char *tls_default_ca_file(void)
{
	return X509_get_default_cert_file();
}
