/*
 * test_conn_limits.c: the connection counters (daemon/limits.h): the
 * total and per-client limits, and clients counted in the total only
 * (trusted_networks), which must leave every address's bucket alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "daemon/limits.h"

#define ADDRESSES 65536 /* sixteen times the buckets: every bucket is hit */

static const struct sockaddr *ipv4(struct sockaddr_in *sin, uint32_t addr)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(addr);
	return (const struct sockaddr *)sin;
}

/* Each address is held to its limit, across slots; the total to its own. */
static void test_limits(void **state)
{
	struct conn_limits *cl = conn_limits_new();
	struct sockaddr_in a, b;
	const char *which;

	assert_int_equal(conn_limits_acquire(cl, 0, ipv4(&a, 0x0a000001), 3, 2, &which), 0);
	assert_int_equal(conn_limits_acquire(cl, 1, ipv4(&a, 0x0a000001), 3, 2, &which), 0);
	assert_int_equal(conn_limits_acquire(cl, 0, ipv4(&a, 0x0a000001), 3, 2, &which), -1);
	assert_string_equal(which, "per-client");
	assert_int_equal(conn_limits_acquire(cl, 0, ipv4(&b, 0x0a000002), 3, 2, &which), 0);
	assert_int_equal(conn_limits_acquire(cl, 0, NULL, 3, 2, &which), -1);
	assert_string_equal(which, "total");
	conn_limits_release(cl, 1, ipv4(&a, 0x0a000001));
	assert_int_equal(conn_limits_acquire(cl, 0, ipv4(&a, 0x0a000001), 3, 2, &which), 0);
}

/* Many connections counted in the total only (trusted_networks) leave
 * every bucket alone: each of ADDRESSES addresses still gets its one
 * connection; and they go back to the total. */
static void test_total_only(void **state)
{
	struct conn_limits *cl = conn_limits_new();
	struct sockaddr_in sin;
	const char *which;
	unsigned i, refused = 0;

	for (i = 0; i < 100; i++)
		assert_int_equal(conn_limits_acquire(cl, 0, NULL, 1000, 1, &which), 0);
	for (i = 0; i < ADDRESSES; i++) {
		if (conn_limits_acquire(cl, 1, ipv4(&sin, 0xc6336400 + i), 1000, 1, &which) < 0) {
			refused++;
			continue;
		}
		conn_limits_release(cl, 1, ipv4(&sin, 0xc6336400 + i));
	}
	assert_int_equal(refused, 0);
	for (i = 0; i < 100; i++)
		conn_limits_release(cl, 0, NULL);
	for (i = 0; i < 1000; i++)
		assert_int_equal(conn_limits_acquire(cl, 0, NULL, 1000, 1, &which), 0);
	assert_int_equal(conn_limits_acquire(cl, 0, NULL, 1000, 1, &which), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_total_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
