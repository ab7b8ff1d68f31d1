/*
 * tls_ticket.h: the keys that encrypt TLS session tickets, rotated.
 *
 * Every dispatcher must decrypt the tickets the others issue (the kernel
 * hands a reconnecting client to any of them), so the keys come from one
 * seed the parent makes and each dispatcher inherits. Time is cut into
 * periods of TLS_TICKET_PERIOD_SECONDS counted from the epoch; the seed of
 * period p+1 is a one-way function (HMAC-SHA256) of the seed of period p,
 * so every process reaches the same keys from the wall clock alone, and one
 * that is broken into can decrypt neither tickets of periods whose seed it
 * has already ratcheted past nor sessions resumed with them.
 *
 * New tickets are encrypted with the current period's keys; a ticket of the
 * previous period is still accepted (and replaced by a new one), so a
 * ticket is never refused before the session lifetime OpenSSL gives it
 * (its default, 7,200 s = one period) has passed. Older ones are unknown:
 * the client does a full handshake. The ticket format is OpenSSL's own
 * (AES-256-CBC, HMAC-SHA256, 16-byte key name), only the keys are ours.
 * Used by tls.c, which installs tls_ticket_cb() on every server context.
 */
#ifndef SEALMAIL_TLS_TICKET_H
#define SEALMAIL_TLS_TICKET_H

#include <openssl/ssl.h>
#include <stdint.h>
#include <time.h>

#define TLS_TICKET_PERIOD_SECONDS 7200 /* OpenSSL's default session lifetime */
#define TLS_TICKET_SECRET_SIZE 32      /* one HMAC-SHA256 output */
#define TLS_TICKET_NAME_SIZE 16        /* OpenSSL's key_name */

/* The secret of one period: what the parent holds and passes on. */
struct tls_ticket_seed {
	unsigned char secret[TLS_TICKET_SECRET_SIZE];
	int64_t period; /* seconds since the epoch / TLS_TICKET_PERIOD_SECONDS */
};

/* A fresh random seed for the period of NOW. */
void tls_ticket_seed_new(struct tls_ticket_seed *seed, time_t now);
/* Ratchets SEED forward to period TARGET (never back), wiping the old
 * secrets. */
void tls_ticket_seed_advance(struct tls_ticket_seed *seed, int64_t target);
/* The period NOW falls in. */
int64_t tls_ticket_period(time_t now);

struct tls_ticket_keys;

/* One process's keys, starting from SEED (copied; the caller may wipe
 * its own), brought to the period of NOW. NULL with *error_r if OpenSSL
 * lacks AES-256-CBC. */
struct tls_ticket_keys *tls_ticket_keys_new(const struct tls_ticket_seed *seed, time_t now,
                                            const char **error_r);
/* Wipes and frees; *keys becomes NULL. */
void tls_ticket_keys_free(struct tls_ticket_keys **keys);

/* Makes CTX encrypt and decrypt its tickets with KEYS (which must outlive
 * CTX). */
int tls_ticket_keys_attach(struct tls_ticket_keys *keys, SSL_CTX *ctx);

/* For tests and the callback: which key NAME belongs to at time NOW.
 * Returns 1 for the current period's, 2 for the previous one's (the
 * ticket is to be renewed), 0 for none. */
int tls_ticket_keys_lookup(struct tls_ticket_keys *keys, const unsigned char *name, time_t now);
/* The current key name at NOW, into NAME (TLS_TICKET_NAME_SIZE bytes). */
void tls_ticket_keys_current_name(struct tls_ticket_keys *keys, time_t now, unsigned char *name);

#endif
