/*
 * throttle.h: failed logins counted across connections, per client address
 * and per account, within [submission] auth_failure_window. Past half of a
 * limit each failure is answered later and later; at the limit the client
 * or the account is blocked for a window, and its attempts get a temporary
 * failure without a hash being computed. A success forgives the client only
 * the failures it made against that same account, so logging in to one's
 * own account does not buy more guesses at others.
 *
 * Pure: no I/O, time comes in as seconds of a monotonic clock. The lookup
 * role (auth/auth_service.c) keeps one, which sees the requests of every
 * dispatcher. Memory is bounded: THROTTLE_SLOTS entries of each kind; when
 * they are full, the least recently used entry that is not blocked goes.
 */
#ifndef SEALMAIL_THROTTLE_H
#define SEALMAIL_THROTTLE_H

#include <stdint.h>

#define THROTTLE_SLOTS 1024 /* client addresses, and accounts, remembered */
#define THROTTLE_PROBE 16   /* slots searched for a key (open addressing) */
#define THROTTLE_KEY_MAX 256
#define THROTTLE_ACCOUNTS_PER_CLIENT 8 /* a client's failures kept by account */
#define THROTTLE_DELAY_MS 250          /* the first delayed failure; doubles */
#define THROTTLE_DELAY_MAX_MS 4000

struct throttle;

struct throttle_limits {
	unsigned per_client;  /* failures of one client address in a window */
	unsigned per_account; /* failures against one account in a window */
	unsigned window;      /* seconds; also how long a block lasts */
};

enum throttle_verdict {
	THROTTLE_ALLOW,
	THROTTLE_BLOCK_CLIENT,
	THROTTLE_BLOCK_ACCOUNT,
};

struct throttle *throttle_new(void);
void throttle_free(struct throttle **t);

/* Whether CLIENT may try to log in as ACCOUNT at NOW. */
enum throttle_verdict throttle_check(struct throttle *t, const struct throttle_limits *lim,
                                     const char *client, const char *account, uint64_t now);
/* Counts a failed login; returns how many milliseconds to hold its answer. */
unsigned throttle_failure(struct throttle *t, const struct throttle_limits *lim, const char *client,
                          const char *account, uint64_t now);
/* A successful login: CLIENT's failures against ACCOUNT are forgiven. */
void throttle_success(struct throttle *t, const char *client, const char *account);
/* "client" or "account", for logs. */
const char *throttle_reason(enum throttle_verdict v);

#endif
