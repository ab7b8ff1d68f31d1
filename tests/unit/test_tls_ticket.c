/*
 * test_tls_ticket.c: the session ticket keys (lib/tls_ticket.h) on a
 * clock the test sets: processes started from one seed at different times
 * agree on the keys, a ticket's key is current in its period, "renew" in
 * the next and unknown after, the ratchet never goes back, and reseeding
 * gives unrelated keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "lib/tls_ticket.h"

#define T0 ((time_t)1800000000) /* some time, well inside a period's range */
#define P TLS_TICKET_PERIOD_SECONDS

static struct tls_ticket_keys *keys_at(const struct tls_ticket_seed *seed, time_t now)
{
	const char *why = NULL;
	struct tls_ticket_keys *k = tls_ticket_keys_new(seed, now, &why);

	assert_non_null(k);
	return k;
}

/* A dispatcher forked periods after the seed was made (a restart) reaches
 * the keys of one that has been running since, so either decrypts the
 * other's tickets. */
static void test_late_process_agrees(void **state)
{
	struct tls_ticket_seed seed;
	struct tls_ticket_keys *early, *late;
	unsigned char a[TLS_TICKET_NAME_SIZE], b[TLS_TICKET_NAME_SIZE];
	time_t t;

	tls_ticket_seed_new(&seed, T0);
	early = keys_at(&seed, T0);
	for (t = T0; t < T0 + 3 * P; t += P / 2)
		tls_ticket_keys_current_name(early, t, a); /* ratchets step by step */
	late = keys_at(&seed, T0 + 3 * P);
	tls_ticket_keys_current_name(late, T0 + 3 * P, b);
	tls_ticket_keys_current_name(early, T0 + 3 * P, a);
	assert_memory_equal(a, b, sizeof(a));
	/* the late one also knows the period before, for tickets issued then */
	tls_ticket_keys_free(&early);
	early = keys_at(&seed, T0 + 2 * P);
	tls_ticket_keys_current_name(early, T0 + 2 * P, a);
	assert_int_equal(tls_ticket_keys_lookup(late, a, T0 + 3 * P), 2);
	tls_ticket_keys_free(&early);
	tls_ticket_keys_free(&late);
	assert_null(late);
}

/* A ticket's key: current in its period, accepted and renewed in the
 * next, unknown in the one after. */
static void test_ticket_lifetime(void **state)
{
	struct tls_ticket_seed seed;
	struct tls_ticket_keys *k;
	unsigned char name[TLS_TICKET_NAME_SIZE];
	time_t start = (T0 / P) * P;

	tls_ticket_seed_new(&seed, start);
	k = keys_at(&seed, start);
	tls_ticket_keys_current_name(k, start + P - 1, name);
	assert_int_equal(tls_ticket_keys_lookup(k, name, start + P - 1), 1);
	assert_int_equal(tls_ticket_keys_lookup(k, name, start + P), 2);
	assert_int_equal(tls_ticket_keys_lookup(k, name, start + 2 * P - 1), 2);
	assert_int_equal(tls_ticket_keys_lookup(k, name, start + 2 * P), 0);
	/* a clock set back does not bring the old key back */
	assert_int_equal(tls_ticket_keys_lookup(k, name, start), 0);
	tls_ticket_keys_free(&k);
}

/* The ratchet moves forward only and changes the secret at each step;
 * a fresh seed shares nothing with the old one. */
static void test_ratchet(void **state)
{
	struct tls_ticket_seed seed, copy, other;
	struct tls_ticket_keys *a, *b;
	unsigned char na[TLS_TICKET_NAME_SIZE], nb[TLS_TICKET_NAME_SIZE];

	tls_ticket_seed_new(&seed, T0);
	copy = seed;
	tls_ticket_seed_advance(&copy, seed.period - 5);
	assert_memory_equal(&copy, &seed, sizeof(seed));
	tls_ticket_seed_advance(&copy, seed.period + 1);
	assert_int_equal(copy.period, seed.period + 1);
	assert_memory_not_equal(copy.secret, seed.secret, sizeof(seed.secret));
	tls_ticket_seed_new(&other, T0);
	a = keys_at(&seed, T0);
	b = keys_at(&other, T0);
	tls_ticket_keys_current_name(a, T0, na);
	tls_ticket_keys_current_name(b, T0, nb);
	assert_memory_not_equal(na, nb, sizeof(na));
	assert_int_equal(tls_ticket_keys_lookup(b, na, T0), 0);
	tls_ticket_keys_free(&a);
	tls_ticket_keys_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_late_process_agrees),
	    cmocka_unit_test(test_ticket_lifetime),
	    cmocka_unit_test(test_ratchet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
