/*
 * test_throttle.c: failed logins counted per client address and per
 * account across connections (src/auth/throttle.h), with time passed in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>

#include "auth/throttle.h"

static const struct throttle_limits limits = {.per_client = 4, .per_account = 6, .window = 60};

static void test_client_blocked_at_limit_then_released(void **state)
{
	struct throttle *t = throttle_new();
	char user[32];
	(void)state;
	for (int i = 0; i < 4; i++) {
		snprintf(user, sizeof(user), "u%d@local.test", i);
		assert_int_equal(throttle_check(t, &limits, "192.0.2.1", user, 100),
		                 THROTTLE_ALLOW);
		throttle_failure(t, &limits, "192.0.2.1", user, 100);
	}
	assert_int_equal(throttle_check(t, &limits, "192.0.2.1", "alice@local.test", 101),
	                 THROTTLE_BLOCK_CLIENT);
	assert_string_equal(throttle_reason(THROTTLE_BLOCK_CLIENT), "client");
	/* another address is not affected */
	assert_int_equal(throttle_check(t, &limits, "192.0.2.2", "alice@local.test", 101),
	                 THROTTLE_ALLOW);
	/* the block lasts a window from the last failure */
	assert_int_equal(throttle_check(t, &limits, "192.0.2.1", "x", 159), THROTTLE_BLOCK_CLIENT);
	assert_int_equal(throttle_check(t, &limits, "192.0.2.1", "x", 160), THROTTLE_ALLOW);
	throttle_free(&t);
	assert_null(t);
}

static void test_window_forgets_old_failures(void **state)
{
	struct throttle *t = throttle_new();
	(void)state;
	for (int i = 0; i < 3; i++)
		throttle_failure(t, &limits, "192.0.2.1", "a", 100);
	/* a new window: three more are still below the limit */
	for (int i = 0; i < 3; i++)
		throttle_failure(t, &limits, "192.0.2.1", "a", 200);
	assert_int_equal(throttle_check(t, &limits, "192.0.2.1", "a", 200), THROTTLE_ALLOW);
	throttle_free(&t);
}

static void test_account_blocked_across_clients(void **state)
{
	struct throttle *t = throttle_new();
	char client[32];
	(void)state;
	for (int i = 0; i < 6; i++) {
		snprintf(client, sizeof(client), "198.51.100.%d", i);
		throttle_failure(t, &limits, client, "alice@local.test", 10);
	}
	assert_int_equal(throttle_check(t, &limits, "203.0.113.9", "alice@local.test", 11),
	                 THROTTLE_BLOCK_ACCOUNT);
	assert_string_equal(throttle_reason(THROTTLE_BLOCK_ACCOUNT), "account");
	assert_int_equal(throttle_check(t, &limits, "203.0.113.9", "bob@local.test", 11),
	                 THROTTLE_ALLOW);
	throttle_free(&t);
}

static void test_success_forgives_only_its_own_account(void **state)
{
	struct throttle *t = throttle_new();
	(void)state;
	throttle_failure(t, &limits, "192.0.2.1", "other@local.test", 10);
	throttle_failure(t, &limits, "192.0.2.1", "other2@local.test", 10);
	throttle_failure(t, &limits, "192.0.2.1", "me@local.test", 10);
	throttle_success(t, "192.0.2.1", "me@local.test");
	/* two left: two more failures reach the limit of four */
	throttle_failure(t, &limits, "192.0.2.1", "x@local.test", 11);
	assert_int_equal(throttle_check(t, &limits, "192.0.2.1", "me@local.test", 11),
	                 THROTTLE_ALLOW);
	throttle_failure(t, &limits, "192.0.2.1", "y@local.test", 11);
	assert_int_equal(throttle_check(t, &limits, "192.0.2.1", "me@local.test", 11),
	                 THROTTLE_BLOCK_CLIENT);
	/* a success while blocked (a check already under way) changes nothing */
	throttle_success(t, "192.0.2.1", "x@local.test");
	assert_int_equal(throttle_check(t, &limits, "192.0.2.1", "me@local.test", 12),
	                 THROTTLE_BLOCK_CLIENT);
	throttle_free(&t);
}

static void test_delay_grows_past_half_the_limit(void **state)
{
	const struct throttle_limits ten = {.per_client = 10, .per_account = 1000, .window = 60};
	const unsigned want[] = {0, 0, 0, 0, 250, 500, 1000, 2000, 4000, 4000, 4000};
	struct throttle *t = throttle_new();
	(void)state;
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(throttle_failure(t, &ten, "192.0.2.1", "a", 5), want[i]);
	throttle_free(&t);
}

static void test_memory_is_bounded_and_blocks_survive(void **state)
{
	struct throttle *t = throttle_new();
	char client[32];
	(void)state;
	for (int i = 0; i < 4; i++)
		throttle_failure(t, &limits, "192.0.2.1", "a", 1);
	/* many more addresses than slots, one failure each */
	for (int i = 0; i < 20 * THROTTLE_SLOTS; i++) {
		snprintf(client, sizeof(client), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		throttle_failure(t, &limits, client, "b", 2);
	}
	assert_int_equal(throttle_check(t, &limits, "192.0.2.1", "c", 3), THROTTLE_BLOCK_CLIENT);
	/* an empty account name counts too */
	for (int i = 0; i < 6; i++)
		throttle_failure(t, &limits, "192.0.2.7", "", 3);
	assert_int_equal(throttle_check(t, &limits, "192.0.2.8", "", 3), THROTTLE_BLOCK_ACCOUNT);
	throttle_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_client_blocked_at_limit_then_released),
	    cmocka_unit_test(test_window_forgets_old_failures),
	    cmocka_unit_test(test_account_blocked_across_clients),
	    cmocka_unit_test(test_success_forgives_only_its_own_account),
	    cmocka_unit_test(test_delay_grows_past_half_the_limit),
	    cmocka_unit_test(test_memory_is_bounded_and_blocks_survive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
