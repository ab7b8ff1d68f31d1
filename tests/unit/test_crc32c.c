/*
 * test_crc32c.c: the spool checksum.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "lib/crc32c.h"

static void test_vectors(void **state)
{
	static const unsigned char zeros[32];
	unsigned char ones[32];

	/* RFC 3720 B.4 and the usual check value */
	assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(crc32c(0, zeros, 32), 0x8A9136AAu);
	memset(ones, 0xff, sizeof(ones));
	assert_int_equal(crc32c(0, ones, 32), 0x62A8AB43u);
}

static void test_any_split(void **state)
{
	const char *s = "Received: from x\r\n\tby y\r\n\r\nbody . with 8-bit \xe9\r\n";
	size_t len = strlen(s), cut;
	uint32_t whole = crc32c(0, s, len);

	for (cut = 0; cut <= len; cut++)
		assert_int_equal(crc32c(crc32c(0, s, cut), s + cut, len - cut), whole);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors),
	    cmocka_unit_test(test_any_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
