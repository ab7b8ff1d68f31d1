/*
 * test_base64.c: the codec under SMTP AUTH.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "lib/base64.h"

static void test_vectors(void **state)
{
	/* RFC 4648 10 */
	static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
	                                  "Zm9vYmFy"};
	unsigned char out[64];
	char buf[64];
	size_t i;

	for (i = 0; i < 7; i++) {
		base64_encode((const unsigned char *)plain[i], strlen(plain[i]), buf);
		assert_string_equal(buf, enc[i]);
		assert_int_equal(base64_decode(enc[i], strlen(enc[i]), out), strlen(plain[i]));
		assert_memory_equal(out, plain[i], strlen(plain[i]));
	}
}

static void test_plain_with_nuls(void **state)
{
	/* "\0alice\0secret", as AUTH PLAIN sends it */
	unsigned char out[64];
	long n = base64_decode("AGFsaWNlAHNlY3JldA==", 20, out);

	assert_int_equal(n, 13);
	assert_memory_equal(out, "\0alice\0secret", 13);
}

static void test_malformed(void **state)
{
	unsigned char out[64];

	assert_int_equal(base64_decode("Zg=", 3, out), -1);
	assert_int_equal(base64_decode("Z=g=", 4, out), -1);
	assert_int_equal(base64_decode("Zm9*", 4, out), -1);
	assert_int_equal(base64_decode("Zm 9", 4, out), -1);
	assert_int_equal(base64_decode("====", 4, out), -1);
}

/* Found by fuzz_base64 (tests/fuzz/corpus/base64/): inputs that decode but
 * are not what encoding gives, so two spellings meant one response. */
static void test_not_canonical(void **state)
{
	unsigned char out[64];

	assert_int_equal(base64_decode("QR==", 4, out), -1); /* pad bits set */
	assert_int_equal(base64_decode("Zm9=", 4, out), -1);
	assert_int_equal(base64_decode(" QQ=", 4, out), -1); /* skipped white space */
	assert_int_equal(base64_decode("Zm9v\tQQ=", 8, out), -1);
	assert_int_equal(base64_decode("QQ==", 4, out), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_plain_with_nuls),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_not_canonical),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
