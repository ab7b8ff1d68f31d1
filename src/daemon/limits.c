/*
 * limits.c: see limits.h.
 */
#include "daemon/limits.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/mman.h>

#include "lib/hash.h"
#include "lib/log.h"
#include "lib/util.h"

struct conn_limits_slot {
	uint32_t total;
	uint16_t per_client[CONN_LIMITS_BUCKETS];
};

struct conn_limits {
	uint64_t key;
	struct conn_limits_slot slots[CONN_LIMITS_SLOTS];
};

struct conn_limits *conn_limits_new(void)
{
	struct conn_limits *cl =
	    mmap(NULL, sizeof(*cl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (cl == MAP_FAILED)
		fatal("event=fatal reason=\"cannot map connection counters\"");
	random_bytes(&cl->key, sizeof(cl->key));
	return cl;
}

/* The address's bucket: lib/hash.h, keyed. */
static unsigned conn_limits_bucket(const struct conn_limits *cl, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return (unsigned)(hash_bytes(cl->key, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		                             16) %
		                  CONN_LIMITS_BUCKETS);
	return (unsigned)(hash_bytes(cl->key, &((const struct sockaddr_in *)sa)->sin_addr, 4) %
	                  CONN_LIMITS_BUCKETS);
}

/* Counts the connection first and then looks at the sums, all in one
 * order every dispatcher sees (sequentially consistent): of two
 * dispatchers accepting the last free place at once, at least one sees the
 * other's count, so the limits are never passed (at worst both refuse, and
 * the client tries again). Checking before counting let both in. */
int conn_limits_acquire(struct conn_limits *cl, unsigned slot, const struct sockaddr *sa,
                        unsigned max_total, unsigned max_per_client, const char **which_r)
{
	unsigned b = sa != NULL ? conn_limits_bucket(cl, sa) : 0, i;
	uint64_t total = 0, client = 0;

	__atomic_add_fetch(&cl->slots[slot].total, 1, __ATOMIC_SEQ_CST);
	if (sa != NULL)
		__atomic_add_fetch(&cl->slots[slot].per_client[b], 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < CONN_LIMITS_SLOTS; i++) {
		total += __atomic_load_n(&cl->slots[i].total, __ATOMIC_SEQ_CST);
		if (sa != NULL)
			client += __atomic_load_n(&cl->slots[i].per_client[b], __ATOMIC_SEQ_CST);
	}
	*which_r = total > max_total ? "total" : client > max_per_client ? "per-client" : NULL;
	if (*which_r == NULL)
		return 0;
	__atomic_sub_fetch(&cl->slots[slot].total, 1, __ATOMIC_SEQ_CST);
	if (sa != NULL)
		__atomic_sub_fetch(&cl->slots[slot].per_client[b], 1, __ATOMIC_SEQ_CST);
	return -1;
}

void conn_limits_release(struct conn_limits *cl, unsigned slot, const struct sockaddr *sa)
{
	unsigned b = sa != NULL ? conn_limits_bucket(cl, sa) : 0;

	if (cl->slots[slot].total > 0)
		__atomic_sub_fetch(&cl->slots[slot].total, 1, __ATOMIC_RELAXED);
	if (sa != NULL && cl->slots[slot].per_client[b] > 0)
		__atomic_sub_fetch(&cl->slots[slot].per_client[b], 1, __ATOMIC_RELAXED);
}

void conn_limits_clear_slot(struct conn_limits *cl, unsigned slot)
{
	memset(&cl->slots[slot], 0, sizeof(cl->slots[slot]));
}
