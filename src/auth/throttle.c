/*
 * throttle.c: see throttle.h. Two tables of THROTTLE_SLOTS entries (client
 * addresses, accounts) with open addressing: a key lives in one of the
 * THROTTLE_PROBE slots after its hash, so every call does bounded work.
 */
#include "auth/throttle.h"

#include <stdlib.h>
#include <string.h>

#include "lib/hash.h"
#include "lib/util.h"

struct throttle_entry {
	char key[THROTTLE_KEY_MAX]; /* "" = free */
	uint64_t since;             /* the window started with the first failure */
	uint64_t blocked_until;     /* 0 = not blocked */
	uint64_t used;              /* last touched, for eviction */
	unsigned failures;
	struct {
		uint64_t account; /* hash of the account; 0 = free */
		unsigned failures;
	} by_account[THROTTLE_ACCOUNTS_PER_CLIENT]; /* client entries only */
};

struct throttle {
	struct throttle_entry clients[THROTTLE_SLOTS], accounts[THROTTLE_SLOTS];
	uint64_t clock; /* a counter for "least recently used" */
	uint64_t key;   /* random: keys are a client's choice, so their slots must
	                   not be predictable (lib/hash.h) */
};

/* The one hash (lib/hash.h), keyed; 0 is kept for "free". */
static uint64_t throttle_hash(const struct throttle *t, const char *key)
{
	uint64_t h = hash_str(t->key, key);

	return h ? h : 1;
}

struct throttle *throttle_new(void)
{
	struct throttle *t = xcalloc(1, sizeof(struct throttle));

	random_bytes(&t->key, sizeof(t->key));
	return t;
}

void throttle_free(struct throttle **t)
{
	free(*t);
	*t = NULL;
}

/* Forgets E's failures when its window (or block) is over at NOW. */
static void throttle_expire(struct throttle_entry *e, const struct throttle_limits *lim,
                            uint64_t now)
{
	int over = e->blocked_until ? now >= e->blocked_until : now >= e->since + lim->window;

	if (e->key[0] != '\0' && over) {
		e->failures = 0;
		e->blocked_until = 0;
		memset(e->by_account, 0, sizeof(e->by_account));
	}
}

/* Whether E makes room for a new key better than V: a free slot first,
 * then an unblocked entry, then the least recently used. */
static int throttle_better_victim(const struct throttle_entry *e, const struct throttle_entry *v)
{
	if (v == NULL || e->key[0] == '\0')
		return v == NULL || v->key[0] != '\0';
	if (v->key[0] == '\0')
		return 0;
	if ((e->blocked_until != 0) != (v->blocked_until != 0))
		return e->blocked_until == 0;
	return e->used < v->used;
}

/* KEY's entry in TABLE, or NULL when it has none and CREATE is 0. A new
 * entry takes the best victim among the slots searched. An empty KEY
 * counts as "-". */
static struct throttle_entry *throttle_find(const struct throttle *t,
                                            struct throttle_entry *table, const char *key,
                                            int create)
{
	struct throttle_entry *victim = NULL, *e;
	size_t start, i;

	if (key[0] == '\0')
		key = "-";
	start = (size_t)(throttle_hash(t, key) % THROTTLE_SLOTS);
	for (i = 0; i < THROTTLE_PROBE; i++) {
		e = &table[(start + i) % THROTTLE_SLOTS];
		if (strcmp(e->key, key) == 0)
			return e;
		if (throttle_better_victim(e, victim))
			victim = e;
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	strlcpy_checked(victim->key, key, sizeof(victim->key));
	return victim;
}

/* Whether E is blocked at NOW. */
static int throttle_blocked(struct throttle_entry *e, const struct throttle_limits *lim,
                            uint64_t now)
{
	if (e == NULL)
		return 0;
	throttle_expire(e, lim, now);
	return e->blocked_until != 0;
}

enum throttle_verdict throttle_check(struct throttle *t, const struct throttle_limits *lim,
                                     const char *client, const char *account, uint64_t now)
{
	if (throttle_blocked(throttle_find(t, t->clients, client, 0), lim, now))
		return THROTTLE_BLOCK_CLIENT;
	if (throttle_blocked(throttle_find(t, t->accounts, account, 0), lim, now))
		return THROTTLE_BLOCK_ACCOUNT;
	return THROTTLE_ALLOW;
}

/* Counts one failure in E; blocks it at LIMIT. Returns the answer's delay:
 * none below half the limit, then THROTTLE_DELAY_MS doubling. */
static unsigned throttle_count(struct throttle *t, struct throttle_entry *e, unsigned limit,
                               const struct throttle_limits *lim, uint64_t now)
{
	unsigned half = (limit + 1) / 2, steps;

	throttle_expire(e, lim, now);
	if (e->failures == 0)
		e->since = now;
	e->used = ++t->clock;
	if (++e->failures >= limit && e->blocked_until == 0)
		e->blocked_until = now + lim->window;
	if (e->failures < half || half == 0)
		return 0;
	steps = e->failures - half;
	return steps >= 4 ? THROTTLE_DELAY_MAX_MS : THROTTLE_DELAY_MS << steps;
}

/* Adds a failure against ACCOUNT to client entry E's by-account counts
 * (dropped when they are all taken: the total still counts it). */
static void throttle_count_account(const struct throttle *t, struct throttle_entry *e,
                                   const char *account)
{
	uint64_t h = throttle_hash(t, account);
	unsigned i, free_slot = THROTTLE_ACCOUNTS_PER_CLIENT;

	for (i = 0; i < THROTTLE_ACCOUNTS_PER_CLIENT; i++) {
		if (e->by_account[i].account == h) {
			e->by_account[i].failures++;
			return;
		}
		if (e->by_account[i].account == 0 && free_slot == THROTTLE_ACCOUNTS_PER_CLIENT)
			free_slot = i;
	}
	if (free_slot < THROTTLE_ACCOUNTS_PER_CLIENT) {
		e->by_account[free_slot].account = h;
		e->by_account[free_slot].failures = 1;
	}
}

unsigned throttle_failure(struct throttle *t, const struct throttle_limits *lim, const char *client,
                          const char *account, uint64_t now)
{
	struct throttle_entry *c = throttle_find(t, t->clients, client, 1);
	struct throttle_entry *a = throttle_find(t, t->accounts, account, 1);
	unsigned dc, da;

	dc = throttle_count(t, c, lim->per_client, lim, now);
	throttle_count_account(t, c, account);
	da = throttle_count(t, a, lim->per_account, lim, now);
	return dc > da ? dc : da;
}

void throttle_success(struct throttle *t, const char *client, const char *account)
{
	struct throttle_entry *c = throttle_find(t, t->clients, client, 0);
	uint64_t h = throttle_hash(t, account);
	unsigned i;

	if (c == NULL || c->blocked_until != 0)
		return;
	for (i = 0; i < THROTTLE_ACCOUNTS_PER_CLIENT; i++)
		if (c->by_account[i].account == h) {
			c->failures -= c->by_account[i].failures < c->failures
			                   ? c->by_account[i].failures
			                   : c->failures;
			c->by_account[i].account = 0;
			c->by_account[i].failures = 0;
		}
}

const char *throttle_reason(enum throttle_verdict v)
{
	return v == THROTTLE_BLOCK_CLIENT ? "client" : v == THROTTLE_BLOCK_ACCOUNT ? "account" : "";
}
