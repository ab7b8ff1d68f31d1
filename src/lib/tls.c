/*
 * tls.c: see tls.h.
 */
#include "lib/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/log.h"
#include "lib/util.h"

#define TLS_PEM_MAX (1024 * 1024)
#define TLS_SESSION_FLUSH_SECONDS 60 /* expired sessions leave the cache this often */
#define TLS_NUM_TICKETS 1            /* TLS 1.3 tickets per full handshake */

struct tls_server {
	SSL_CTX **ctx; /* ctx[0] is the default */
	char (*names)[256];
	unsigned n;
	X509_STORE *client_ca[TLS_MAX_LISTENERS];              /* per listener */
	STACK_OF(X509_NAME) * client_names[TLS_MAX_LISTENERS]; /* sent in CertificateRequest */
	/* a listener with client_ca resumes only its own sessions: their
	 * verified client identity holds for that CA alone (SHA-256 of it) */
	unsigned char client_sid[TLS_MAX_LISTENERS][SHA256_DIGEST_LENGTH];
	struct tls_ticket_keys *tickets;                       /* every context's */
	time_t next_flush; /* of ctx[0]'s session cache, which all share */
};

static int tls_client_ca_load(struct tls_server *srv, unsigned i, const char *pem,
                              const char **error_r);

const char *tls_last_error(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "unknown TLS error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/* Puts the PEM chain CERT_PEM (leaf first) and KEY_PEM into CTX. Returns
 * 0, or the file *error_r is about: TLS_PEM_BAD_CERT, TLS_PEM_BAD_KEY,
 * TLS_PEM_MISMATCH (both). */
enum { TLS_PEM_BAD_CERT = -1, TLS_PEM_BAD_KEY = -2, TLS_PEM_MISMATCH = -3 };
static int tls_ctx_use_pem(SSL_CTX *ctx, const char *cert_pem, const char *key_pem,
                           const char **error_r)
{
	BIO *bio = BIO_new_mem_buf(cert_pem, -1);
	X509 *x;
	EVP_PKEY *key;
	int first = 1;

	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		int ok = first ? SSL_CTX_use_certificate(ctx, x) : SSL_CTX_add0_chain_cert(ctx, x);
		if (first || !ok)
			X509_free(x);
		if (!ok) {
			BIO_free(bio);
			*error_r = tls_last_error();
			return TLS_PEM_BAD_CERT;
		}
		first = 0;
	}
	BIO_free(bio);
	ERR_clear_error();
	if (first) {
		*error_r = "no certificate found in the PEM file";
		return TLS_PEM_BAD_CERT;
	}
	bio = BIO_new_mem_buf(key_pem, -1);
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (key == NULL) {
		*error_r = "no private key found in the key file";
		ERR_clear_error();
		return TLS_PEM_BAD_KEY;
	}
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		EVP_PKEY_free(key);
		*error_r = "does not match the certificate";
		ERR_clear_error();
		return TLS_PEM_MISMATCH;
	}
	EVP_PKEY_free(key);
	return 0;
}

/* Reads one certificate + key pair and checks it by building a context. */
static int tls_cert_load_one(const struct tls_cert_file *cc, struct tls_cert_pem *c,
                             const char **error_r)
{
	static char err[8400];
	SSL_CTX *ctx;
	const char *why;
	int r;

	memset(c, 0, sizeof(*c));
	strlcpy_checked(c->name, cc->name, sizeof(c->name));
	c->cert_pem = read_file(cc->certificate, TLS_PEM_MAX, NULL);
	if (c->cert_pem == NULL) {
		snprintf(err, sizeof(err), "%s: %s", cc->certificate, strerror(errno));
		*error_r = err;
		return -1;
	}
	c->key_pem = read_file(cc->key, TLS_PEM_MAX, NULL);
	if (c->key_pem == NULL) {
		snprintf(err, sizeof(err), "%s: %s", cc->key, strerror(errno));
		goto fail;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	r = tls_ctx_use_pem(ctx, c->cert_pem, c->key_pem, &why);
	SSL_CTX_free(ctx);
	if (r == TLS_PEM_MISMATCH)
		snprintf(err, sizeof(err), "%s: the private key in %s %s", cc->certificate, cc->key,
		         why);
	else if (r < 0)
		snprintf(err, sizeof(err), "%s: %s",
		         r == TLS_PEM_BAD_KEY ? cc->key : cc->certificate, why);
	if (r < 0)
		goto fail;
	return 0;
fail:
	*error_r = err;
	free(c->cert_pem);
	if (c->key_pem != NULL)
		explicit_bzero(c->key_pem, strlen(c->key_pem));
	free(c->key_pem);
	memset(c, 0, sizeof(*c));
	return -1;
}

static const struct tls_cert_pem *tls_cert_set_find(const struct tls_cert_set *set,
                                                    const char *name)
{
	unsigned i;

	for (i = 0; set != NULL && i < set->n; i++)
		if (strcasecmp(set->certs[i].name, name) == 0)
			return &set->certs[i];
	return NULL;
}

static void tls_cert_copy(struct tls_cert_pem *dst, const struct tls_cert_pem *src)
{
	*dst = *src;
	dst->cert_pem = xstrdup(src->cert_pem);
	dst->key_pem = xstrdup(src->key_pem);
}

/* Reads the trust anchors for outbound "verify": [outbound] ca_file (an
 * error if unreadable), else the system bundle (a warning if missing). */
static int tls_outbound_ca_load(const struct tls_settings *settings, struct tls_cert_set *set,
                                const char **error_r)
{
	static char err[4200];
	int configured = settings->outbound_ca_file != NULL && settings->outbound_ca_file[0];
	const char *path = configured ? settings->outbound_ca_file : X509_get_default_cert_file();

	set->outbound_ca_pem = read_file(path, 16 * TLS_PEM_MAX, NULL);
	if (set->outbound_ca_pem != NULL)
		return 0;
	if (!configured) {
		log_warn(
		    "event=no-ca-bundle file=%s reason=\"%s\" effect=\"verify cannot succeed\"",
		    path, strerror(errno));
		set->outbound_ca_pem = xstrdup("");
		return 0;
	}
	snprintf(err, sizeof(err), "%s: %s", path, strerror(errno));
	*error_r = err;
	return -1;
}

X509_STORE *tls_store_from_pem(const char *pem)
{
	X509_STORE *store = X509_STORE_new();
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x;

	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		X509_STORE_add_cert(store, x);
		X509_free(x);
	}
	BIO_free(bio);
	ERR_clear_error();
	return store;
}

/* Reads each listener's client_ca file into SET. */
static int tls_client_ca_read(const struct tls_settings *settings, struct tls_cert_set *set,
                              const char **error_r)
{
	static char err[4200];
	unsigned i;

	for (i = 0; i < settings->n_listeners && i < TLS_MAX_LISTENERS; i++) {
		const char *path = settings->client_ca[i];

		if (path == NULL || path[0] == '\0')
			continue;
		set->client_ca_pem[i] = read_file(path, TLS_PEM_MAX, NULL);
		if (set->client_ca_pem[i] == NULL) {
			snprintf(err, sizeof(err), "%s: %s", path, strerror(errno));
			*error_r = err;
			return -1;
		}
	}
	return 0;
}

/* The ticket seed of a new set: OLD's, ratcheted up to the period before
 * NOW (the new dispatchers still accept that period's tickets, and this
 * process forgets the older secrets), or a fresh one. */
static void tls_ticket_seed_carry(const struct tls_cert_set *old, struct tls_cert_set *set,
                                  time_t now)
{
	if (old == NULL) {
		tls_ticket_seed_new(&set->ticket_seed, now);
		return;
	}
	set->ticket_seed = old->ticket_seed;
	tls_ticket_seed_advance(&set->ticket_seed, tls_ticket_period(now) - 1);
}

int tls_cert_set_reload(const struct tls_settings *settings, const struct tls_cert_set *old,
                        struct tls_cert_set *set, const char **error_r)
{
	struct tls_cert_set n;
	unsigned i;

	memset(&n, 0, sizeof(n));
	n.certs = xcalloc(settings->n_certs ? settings->n_certs : 1, sizeof(n.certs[0]));
	for (i = 0; i < settings->n_certs && i < TLS_MAX_CERTS; i++, n.n++) {
		const struct tls_cert_pem *prev;
		const char *why;

		if (tls_cert_load_one(&settings->certs[i], &n.certs[i], &why) == 0)
			continue;
		prev = tls_cert_set_find(old, settings->certs[i].name);
		if (prev == NULL) {
			*error_r = why;
			tls_cert_set_free(&n);
			return -1;
		}
		log_warn("event=certificate-kept name=%s reason=\"%s\" effect=\"the certificate "
		         "loaded before stays in service\"",
		         prev->name[0] ? prev->name : "default", why);
		tls_cert_copy(&n.certs[i], prev);
		n.certs[i].kept = 1;
	}
	if (tls_client_ca_read(settings, &n, error_r) < 0 ||
	    tls_outbound_ca_load(settings, &n, error_r) < 0) {
		tls_cert_set_free(&n);
		return -1;
	}
	tls_ticket_seed_carry(old, &n, time(NULL));
	*set = n;
	explicit_bzero(&n, sizeof(n)); /* no copy of the ticket seed stays on the stack */
	return 0;
}

int tls_cert_set_load(const struct tls_settings *settings, struct tls_cert_set *set,
                      const char **error_r)
{
	return tls_cert_set_reload(settings, NULL, set, error_r);
}

void tls_cert_set_free(struct tls_cert_set *set)
{
	unsigned i;

	for (i = 0; i < set->n; i++) {
		free(set->certs[i].cert_pem);
		if (set->certs[i].key_pem != NULL)
			explicit_bzero(set->certs[i].key_pem, strlen(set->certs[i].key_pem));
		free(set->certs[i].key_pem);
	}
	free(set->certs);
	for (i = 0; i < TLS_MAX_LISTENERS; i++)
		free(set->client_ca_pem[i]);
	free(set->outbound_ca_pem);
	explicit_bzero(set, sizeof(*set)); /* the session ticket keys too */
}

unsigned tls_cert_set_keys(const struct tls_cert_set *set)
{
	unsigned i, n = 0;

	for (i = 0; set->certs != NULL && i < set->n; i++)
		n += set->certs[i].key_pem != NULL && set->certs[i].key_pem[0] != '\0';
	return n;
}

/* SNI (RFC 6066 3): picks the context whose name matches, exactly or by a
 * "*." wildcard for one label; otherwise keeps the default. */
static int tls_sni_cb(SSL *ssl, int *alert, void *arg)
{
	struct tls_server *srv = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	const char *dot;
	unsigned i;

	if (name == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	dot = strchr(name, '.');
	for (i = 1; i < srv->n; i++) {
		const char *pat = srv->names[i];
		int match =
		    strcasecmp(pat, name) == 0 || (pat[0] == '*' && pat[1] == '.' && dot != NULL &&
		                                   strcasecmp(pat + 1, dot) == 0);
		if (match) {
			SSL_set_SSL_CTX(ssl, srv->ctx[i]);
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_OK;
}

/* One context with sealmail's protocol settings. */
static SSL_CTX *tls_ctx_new(const struct tls_settings *settings, struct tls_ticket_keys *tickets,
                            const struct tls_cert_pem *c, const char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	static const unsigned char sid_ctx[] = "sealmail";

	SSL_CTX_set_min_proto_version(ctx, settings->min_version);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	                             SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_AUTO_CLEAR);
	SSL_CTX_set_num_tickets(ctx, TLS_NUM_TICKETS);
	if (tls_ticket_keys_attach(tickets, ctx) < 0 ||
	    SSL_CTX_set_cipher_list(ctx, settings->ciphers) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, settings->ciphersuites) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") != 1) {
		*error_r = tls_last_error();
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (tls_ctx_use_pem(ctx, c->cert_pem, c->key_pem, error_r) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct tls_server *tls_server_new(const struct tls_settings *settings,
                                  const struct tls_cert_set *set, const char **error_r)
{
	struct tls_server *srv;
	unsigned i;

	if (set->n == 0) {
		*error_r = "no certificate configured";
		return NULL;
	}
	srv = xcalloc(1, sizeof(*srv));
	srv->ctx = xcalloc(set->n, sizeof(srv->ctx[0]));
	srv->names = xcalloc(set->n, sizeof(srv->names[0]));
	srv->tickets = tls_ticket_keys_new(&set->ticket_seed, time(NULL), error_r);
	if (srv->tickets == NULL) {
		tls_server_free(&srv);
		return NULL;
	}
	srv->next_flush = time(NULL) + TLS_SESSION_FLUSH_SECONDS;
	for (i = 0; i < set->n; i++, srv->n++) {
		srv->ctx[i] = tls_ctx_new(settings, srv->tickets, &set->certs[i], error_r);
		if (srv->ctx[i] == NULL) {
			tls_server_free(&srv);
			return NULL;
		}
		strlcpy_checked(srv->names[i], set->certs[i].name, sizeof(srv->names[i]));
		SSL_CTX_set_tlsext_servername_callback(srv->ctx[i], tls_sni_cb);
		SSL_CTX_set_tlsext_servername_arg(srv->ctx[i], srv);
	}
	for (i = 0; i < TLS_MAX_LISTENERS; i++)
		if (set->client_ca_pem[i] != NULL &&
		    tls_client_ca_load(srv, i, set->client_ca_pem[i], error_r) < 0) {
			tls_server_free(&srv);
			return NULL;
		}
	return srv;
}

void tls_server_free(struct tls_server **srvp)
{
	struct tls_server *srv = *srvp;
	unsigned i;

	if (srv == NULL)
		return;
	*srvp = NULL;
	for (i = 0; i < srv->n; i++)
		SSL_CTX_free(srv->ctx[i]);
	for (i = 0; i < TLS_MAX_LISTENERS; i++) {
		X509_STORE_free(srv->client_ca[i]);
		sk_X509_NAME_pop_free(srv->client_names[i], X509_NAME_free);
	}
	free(srv->ctx);
	free(srv->names);
	tls_ticket_keys_free(&srv->tickets);
	free(srv);
}

/* Lets the handshake finish whatever the client certificate: the session
 * decides from the verification result (a missing or bad certificate only
 * means no certificate login). */
static int tls_accept_any_client_cert(int ok, X509_STORE_CTX *ctx)
{
	return 1;
}

SSL *tls_server_ssl_new(struct tls_server *srv, unsigned listener)
{
	time_t now = time(NULL);
	SSL *ssl;

	/* every SSL's session cache is ctx[0]'s (SNI switches the context
	 * of a handshake, not its cache) */
	if (now >= srv->next_flush) {
		SSL_CTX_flush_sessions(srv->ctx[0], (long)now);
		srv->next_flush = now + TLS_SESSION_FLUSH_SECONDS;
	}
	ssl = SSL_new(srv->ctx[0]);
	if (ssl != NULL && listener < TLS_MAX_LISTENERS && srv->client_ca[listener] != NULL) {
		SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE,
		               tls_accept_any_client_cert);
		SSL_set1_verify_cert_store(ssl, srv->client_ca[listener]);
		SSL_set_client_CA_list(ssl, SSL_dup_CA_list(srv->client_names[listener]));
		SSL_set_session_id_context(ssl, srv->client_sid[listener],
		                           sizeof(srv->client_sid[listener]));
	}
	return ssl;
}

int tls_client_identity(SSL *ssl, char *buf, size_t size)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	GENERAL_NAMES *names;
	int i, found = 0;

	if (cert == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
		return -1;
	names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (i = 0; names != NULL && i < sk_GENERAL_NAME_num(names) && !found; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		if (g->type != GEN_EMAIL)
			continue;
		snprintf(buf, size, "%.*s", ASN1_STRING_length(g->d.rfc822Name),
		         (const char *)ASN1_STRING_get0_data(g->d.rfc822Name));
		found = 1;
	}
	GENERAL_NAMES_free(names);
	if (!found && X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_pkcs9_emailAddress,
	                                        buf, (int)size) > 0)
		found = 1;
	if (!found && X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf,
	                                        (int)size) > 0)
		found = 1;
	if (!found || strpbrk(buf, " \r\n\t<>\"") != NULL)
		return -1;
	str_lower(buf);
	return 0;
}

/* The trust anchors of one listener's client_ca, from its PEM text. */
static int tls_client_ca_load(struct tls_server *srv, unsigned i, const char *pem,
                              const char **error_r)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x;
	int n = 0;

	srv->client_ca[i] = X509_STORE_new();
	srv->client_names[i] = sk_X509_NAME_new_null();
	(void)EVP_Digest(pem, strlen(pem), srv->client_sid[i], NULL, EVP_sha256(), NULL);
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		X509_STORE_add_cert(srv->client_ca[i], x);
		sk_X509_NAME_push(srv->client_names[i], X509_NAME_dup(X509_get_subject_name(x)));
		X509_free(x);
		n++;
	}
	BIO_free(bio);
	ERR_clear_error();
	if (n == 0) {
		*error_r = "client_ca holds no certificate";
		return -1;
	}
	return 0;
}

void tls_describe(SSL *ssl, char *version, size_t vsize, char *cipher, size_t csize, int *bits_r)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);

	snprintf(version, vsize, "%s", SSL_get_version(ssl));
	snprintf(cipher, csize, "%s", c ? SSL_CIPHER_get_name(c) : "none");
	*bits_r = c ? SSL_CIPHER_get_bits(c, NULL) : 0;
}

int tls_cipher_list_known(const char *list)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	int ok = ctx == NULL || SSL_CTX_set_cipher_list(ctx, list) == 1;

	SSL_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

int tls_ciphersuite_known(const char *suite)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	int ok = ctx == NULL || SSL_CTX_set_ciphersuites(ctx, suite) == 1;

	SSL_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}
