/*
 * test_util.c: the small helpers of lib/util.h that the SMTP, IMAP and
 * POP3 sessions and the MIME decoders share: peer addresses as the logs
 * show them (client=ADDRESS:PORT), hex pairs, session identifiers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "lib/util.h"

static void expect_peer(const struct sockaddr *sa, const char *addr, const char *port)
{
	char a[64] = "junk", p[8] = "junk";

	sockaddr_describe(sa, a, sizeof(a), p, sizeof(p));
	assert_string_equal(a, addr);
	assert_string_equal(p, port);
}

static void test_sockaddr_describe(void **state)
{
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(2525)};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(65535)};
	struct sockaddr_un un = {.sun_family = AF_UNIX};

	(void)state;
	assert_int_equal(inet_pton(AF_INET, "192.0.2.7", &in.sin_addr), 1);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr), 1);
	expect_peer((const struct sockaddr *)&in, "192.0.2.7", "2525");
	expect_peer((const struct sockaddr *)&in6, "2001:db8::1", "65535");
	expect_peer((const struct sockaddr *)&un, "127.0.0.1", "local");
	expect_peer(NULL, "127.0.0.1", "local");
}

static void test_hex_pair_value(void **state)
{
	(void)state;
	assert_int_equal(hex_pair_value("3D"), 0x3d);
	assert_int_equal(hex_pair_value("e9x"), 0xe9);
	assert_int_equal(hex_pair_value("fF"), 0xff);
	assert_int_equal(hex_pair_value("00"), 0);
	assert_int_equal(hex_pair_value("G0"), -1);
	assert_int_equal(hex_pair_value("0g"), -1);
	assert_int_equal(hex_pair_value("1"), -1); /* the NUL stops it */
	assert_int_equal(hex_pair_value(""), -1);
}

/* Every octet value, both nibbles, and cutting at a whole octet. */
static void test_hex_lower(void **state)
{
	unsigned char all[256];
	char buf[2 * 256 + 1], small[6];

	(void)state;
	for (unsigned i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	hex_lower(all, sizeof(all), buf, sizeof(buf));
	assert_int_equal(strlen(buf), 512);
	for (unsigned i = 0; i < 256; i++) {
		char want[3];
		snprintf(want, sizeof(want), "%02x", i);
		assert_memory_equal(buf + 2 * i, want, 2);
	}
	memset(small, 'X', sizeof(small));
	hex_lower("\xab\xcd\xef", 3, small, sizeof(small)); /* room for two octets */
	assert_string_equal(small, "abcd");
	hex_lower("", 0, small, sizeof(small));
	assert_string_equal(small, "");
	memset(small, 'X', sizeof(small));
	hex_lower("\x01", 1, small, 1);
	assert_int_equal(small[0], '\0');
	assert_int_equal(small[1], 'X');
}

static void test_random_hex_id(void **state)
{
	char a[17], b[17], small[4];

	(void)state;
	random_hex_id(a, sizeof(a));
	random_hex_id(b, sizeof(b));
	assert_int_equal(strlen(a), 16);
	assert_int_equal(strspn(a, "0123456789abcdef"), 16);
	assert_string_not_equal(a, b);
	random_hex_id(small, sizeof(small));
	assert_int_equal(strlen(small), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sockaddr_describe),
	    cmocka_unit_test(test_hex_pair_value),
	    cmocka_unit_test(test_hex_lower),
	    cmocka_unit_test(test_random_hex_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
