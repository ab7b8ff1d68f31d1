/*
 * test_log.c: log values and addresses are one key=value field each,
 * whatever a client put in them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "lib/log.h"

static void test_log_value(void **state)
{
	char buf[128];

	assert_string_equal(log_value("plain@x.test", buf, sizeof(buf)), "plain@x.test");
	assert_string_equal(log_value("", buf, sizeof(buf)), "\"\"");
	assert_string_equal(log_value("a b", buf, sizeof(buf)), "\"a b\"");
	assert_string_equal(log_value("a\"b\\c", buf, sizeof(buf)), "\"a\\\"b\\\\c\"");
	assert_string_equal(log_value("a\nb\x7f", buf, sizeof(buf)), "\"a\\x0ab\\x7f\"");
}

static void test_log_address(void **state)
{
	char buf[256];

	assert_string_equal(log_address("bob@local.test", buf, sizeof(buf)), "<bob@local.test>");
	assert_string_equal(log_address("", buf, sizeof(buf)), "<>"); /* the null sender */
	/* a quoted local part that reads like more fields stays one value */
	assert_string_equal(log_address("\"x event=delivered relay=local\"@remote.test", buf,
	                                sizeof(buf)),
	                    "\"<\\\"x event=delivered relay=local\\\"@remote.test>\"");
	assert_string_equal(log_address("a\r\nevent=x@y", buf, sizeof(buf)),
	                    "\"<a\\x0d\\x0aevent=x@y>\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_log_value),
	    cmocka_unit_test(test_log_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
