/*
 * test_mail_header.c: addresses from header fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "smtp/mail_header.h"

static const char msg[] = "Received: from x\r\n\tby y\r\n"
                          "From: \"Smith, Alice\" <alice@local.test>\r\n"
                          "To: bob@example.com (Bob, the builder), Carol <carol@example.org>,\r\n"
                          "\tteam: dave@x.test, erin@x.test;\r\n"
                          "CC:frank@y.test\r\n"
                          "Subject: From: mallory@evil.test\r\n"
                          "\r\n"
                          "From: body@not.header\r\n";

static void test_fields(void **state)
{
	char a[8][MAIL_HEADER_ADDR_MAX];
	size_t len = strlen(msg);

	assert_int_equal(mail_header_addresses(msg, len, "from", a, 8), 1);
	assert_string_equal(a[0], "alice@local.test");
	assert_int_equal(mail_header_addresses(msg, len, "To", a, 8), 4);
	assert_string_equal(a[0], "bob@example.com");
	assert_string_equal(a[1], "carol@example.org");
	assert_string_equal(a[2], "dave@x.test");
	assert_string_equal(a[3], "erin@x.test");
	assert_int_equal(mail_header_addresses(msg, len, "cc", a, 8), 1);
	assert_string_equal(a[0], "frank@y.test");
	assert_int_equal(mail_header_addresses(msg, len, "Bcc", a, 8), 0);
	/* more than MAX: counted, not written past */
	assert_int_equal(mail_header_addresses(msg, len, "To", a, 2), 4);
}

static void test_header_length(void **state)
{
	assert_int_equal(mail_header_length("A: b\r\n\r\nbody", 13), 8);
	assert_int_equal(mail_header_length("A: b\n\nbody", 10), 6);
	assert_int_equal(mail_header_length("A: b\r\n", 6), 6);
}

static void test_lf_only_and_every_prefix(void **state)
{
	static const char m[] = "From: Alice <alice@local.test>\nTo: x@y\n\n";
	char a[2][MAIL_HEADER_ADDR_MAX];
	size_t cut;

	assert_int_equal(mail_header_addresses(m, strlen(m), "From", a, 2), 1);
	assert_string_equal(a[0], "alice@local.test");
	for (cut = 0; cut < strlen(m); cut++)
		(void)mail_header_addresses(m, cut, "From", a, 2); /* no overrun */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_header_length),
		cmocka_unit_test(test_lf_only_and_every_prefix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
