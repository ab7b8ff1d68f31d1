/*
 * test_maildir_name.c: which addresses can have a Maildir.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "mail/maildir_name.h"

static void test_names(void **state)
{
	assert_true(maildir_name_ok("alice", 5));
	assert_true(maildir_name_ok("a.b", 3));
	assert_false(maildir_name_ok("", 0));
	assert_false(maildir_name_ok(".", 1));
	assert_false(maildir_name_ok("..", 2));
	assert_false(maildir_name_ok(".Sent", 5));
	assert_false(maildir_name_ok("a/b", 3));
	assert_false(maildir_name_ok("a\0b", 3));
	{
		char long_name[300];
		memset(long_name, 'x', sizeof(long_name));
		assert_true(maildir_name_ok(long_name, 255));
		assert_false(maildir_name_ok(long_name, 256));
	}
}

static void test_addresses(void **state)
{
	assert_null(maildir_address_problem("alice@local.test"));
	assert_non_null(maildir_address_problem("alice"));
	assert_non_null(maildir_address_problem("a/b@local.test"));
	assert_non_null(maildir_address_problem("@local.test"));
	assert_non_null(maildir_address_problem("alice@"));
	assert_non_null(maildir_address_problem("alice@../x"));
	assert_non_null(maildir_address_problem("alice@a/b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_addresses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
