/*
 * tls_ticket.c: see tls_ticket.h.
 */
#include "lib/tls_ticket.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

#define TLS_TICKET_AES_SIZE 32  /* AES-256 */
#define TLS_TICKET_HMAC_SIZE 32 /* the HMAC-SHA256 key */

/* The keys of one period, derived from its seed. */
struct tls_ticket_period_keys {
	int valid;
	unsigned char name[TLS_TICKET_NAME_SIZE];
	unsigned char aes[TLS_TICKET_AES_SIZE];
	unsigned char hmac[TLS_TICKET_HMAC_SIZE];
};

struct tls_ticket_keys {
	struct tls_ticket_seed seed; /* of the current period */
	struct tls_ticket_period_keys cur, prev;
	EVP_CIPHER *cipher; /* fetched once, not per ticket */
};

static int tls_ticket_ex_index = -1;

/* OUT = HMAC-SHA256(SECRET, LABEL): one step of the ratchet or of the
 * derivation (HKDF-Expand's first block, RFC 5869 2.3, without its
 * counter byte). */
static void tls_ticket_prf(const unsigned char *secret, const char *label,
                           unsigned char out[TLS_TICKET_SECRET_SIZE])
{
	size_t len = 0;

	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, TLS_TICKET_SECRET_SIZE,
	              (const unsigned char *)label, strlen(label), out, TLS_TICKET_SECRET_SIZE,
	              &len) == NULL ||
	    len != TLS_TICKET_SECRET_SIZE)
		fatal("event=fatal reason=\"TLS: HMAC-SHA256 unavailable for the ticket keys\"");
}

void tls_ticket_seed_new(struct tls_ticket_seed *seed, time_t now)
{
	random_bytes(seed->secret, sizeof(seed->secret));
	seed->period = tls_ticket_period(now);
}

int64_t tls_ticket_period(time_t now)
{
	return (int64_t)now / TLS_TICKET_PERIOD_SECONDS;
}

void tls_ticket_seed_advance(struct tls_ticket_seed *seed, int64_t target)
{
	unsigned char next[TLS_TICKET_SECRET_SIZE];

	for (; seed->period < target; seed->period++) {
		tls_ticket_prf(seed->secret, "sealmail ticket ratchet", next);
		memcpy(seed->secret, next, sizeof(next));
	}
	explicit_bzero(next, sizeof(next));
}

static void tls_ticket_derive(const struct tls_ticket_seed *seed, struct tls_ticket_period_keys *k)
{
	unsigned char name[TLS_TICKET_SECRET_SIZE];

	tls_ticket_prf(seed->secret, "sealmail ticket name", name);
	memcpy(k->name, name, sizeof(k->name));
	tls_ticket_prf(seed->secret, "sealmail ticket aes", k->aes);
	tls_ticket_prf(seed->secret, "sealmail ticket hmac", k->hmac);
	k->valid = 1;
	explicit_bzero(name, sizeof(name));
}

/* Brings KEYS to the period of NOW: the one before becomes the previous
 * period's keys, every older secret is gone. A clock that went back keeps
 * the keys it has. */
static void tls_ticket_keys_rotate(struct tls_ticket_keys *keys, time_t now)
{
	int64_t target = tls_ticket_period(now);

	if (target <= keys->seed.period)
		return;
	tls_ticket_seed_advance(&keys->seed, target - 1);
	tls_ticket_derive(&keys->seed, &keys->prev);
	tls_ticket_seed_advance(&keys->seed, target);
	tls_ticket_derive(&keys->seed, &keys->cur);
}

struct tls_ticket_keys *tls_ticket_keys_new(const struct tls_ticket_seed *seed, time_t now,
                                            const char **error_r)
{
	struct tls_ticket_keys *keys = xcalloc(1, sizeof(*keys));

	keys->cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
	if (keys->cipher == NULL) {
		*error_r = "AES-256-CBC is unavailable for session tickets";
		free(keys);
		return NULL;
	}
	keys->seed = *seed;
	tls_ticket_derive(&keys->seed, &keys->cur);
	tls_ticket_keys_rotate(keys, now);
	return keys;
}

void tls_ticket_keys_free(struct tls_ticket_keys **keysp)
{
	struct tls_ticket_keys *keys = *keysp;

	if (keys == NULL)
		return;
	*keysp = NULL;
	EVP_CIPHER_free(keys->cipher);
	explicit_bzero(keys, sizeof(*keys));
	free(keys);
}

int tls_ticket_keys_lookup(struct tls_ticket_keys *keys, const unsigned char *name, time_t now)
{
	tls_ticket_keys_rotate(keys, now);
	if (memcmp(name, keys->cur.name, TLS_TICKET_NAME_SIZE) == 0)
		return 1;
	if (keys->prev.valid && memcmp(name, keys->prev.name, TLS_TICKET_NAME_SIZE) == 0)
		return 2;
	return 0;
}

void tls_ticket_keys_current_name(struct tls_ticket_keys *keys, time_t now, unsigned char *name)
{
	tls_ticket_keys_rotate(keys, now);
	memcpy(name, keys->cur.name, TLS_TICKET_NAME_SIZE);
}

/* Gives the ticket HMAC its key, as OpenSSL's own ticket code does. */
static int tls_ticket_mac_init(EVP_MAC_CTX *hctx, unsigned char *key)
{
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, TLS_TICKET_HMAC_SIZE),
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
	    OSSL_PARAM_construct_end(),
	};

	return EVP_MAC_CTX_set_params(hctx, params);
}

/* SSL_CTX_set_tlsext_ticket_key_evp_cb's callback: ENC = 1 sets up a new
 * ticket under the current key; ENC = 0 finds the key of a received one
 * (returns 0: unknown, full handshake; 1: valid; 2: valid, issue a new
 * one; -1: error). */
static int tls_ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *cctx,
                         EVP_MAC_CTX *hctx, int enc)
{
	struct tls_ticket_keys *keys =
	    SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tls_ticket_ex_index);
	const struct tls_ticket_period_keys *k;
	int which;

	if (keys == NULL)
		return -1;
	if (enc) {
		tls_ticket_keys_rotate(keys, time(NULL));
		k = &keys->cur;
		memcpy(name, k->name, TLS_TICKET_NAME_SIZE);
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(keys->cipher)) != 1 ||
		    EVP_EncryptInit_ex(cctx, keys->cipher, NULL, k->aes, iv) != 1)
			return -1;
		return tls_ticket_mac_init(hctx, (unsigned char *)k->hmac) == 1 ? 1 : -1;
	}
	which = tls_ticket_keys_lookup(keys, name, time(NULL));
	if (which == 0)
		return 0;
	k = which == 1 ? &keys->cur : &keys->prev;
	if (EVP_DecryptInit_ex(cctx, keys->cipher, NULL, k->aes, iv) != 1 ||
	    tls_ticket_mac_init(hctx, (unsigned char *)k->hmac) != 1)
		return -1;
	/* a TLS 1.3 ticket is used once and replaced, as OpenSSL does with
	 * its own keys (RFC 8446 C.4: reuse would let connections be linked) */
	return which == 2 || SSL_version(ssl) >= TLS1_3_VERSION ? 2 : 1;
}

int tls_ticket_keys_attach(struct tls_ticket_keys *keys, SSL_CTX *ctx)
{
	if (tls_ticket_ex_index < 0)
		tls_ticket_ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (tls_ticket_ex_index < 0 || SSL_CTX_set_ex_data(ctx, tls_ticket_ex_index, keys) != 1)
		return -1;
	return SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_ticket_cb) == 1 ? 0 : -1;
}
