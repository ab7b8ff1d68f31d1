/*
 * test_password.c: yescrypt hashing and checking of every hash method
 * libxcrypt knows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"

static void test_round_trip(void **state)
{
	char hash[PASSWORD_HASH_MAX], again[PASSWORD_HASH_MAX];
	const char *error = NULL;
	(void)state;
	assert_int_equal(password_hash("correct horse", hash, sizeof hash, &error), 0);
	assert_null(error);
	assert_memory_equal(hash, "$y$", 3);
	assert_int_equal(password_verify("correct horse", hash), 1);
	/* a fresh salt each time */
	assert_int_equal(password_hash("correct horse", again, sizeof again, &error), 0);
	assert_string_not_equal(hash, again);
	assert_int_equal(password_verify("correct horse", again), 1);
}

static void test_wrong_password(void **state)
{
	char hash[PASSWORD_HASH_MAX];
	const char *error;
	(void)state;
	assert_int_equal(password_hash("s3cret", hash, sizeof hash, &error), 0);
	assert_int_equal(password_verify("s3creT", hash), 0);
	assert_int_equal(password_verify("s3cret ", hash), 0);
	assert_int_equal(password_verify("", hash), 0);
	assert_int_equal(password_verify(NULL, hash), 0);
}

static void test_locked_and_bad_hashes(void **state)
{
	char hash[PASSWORD_HASH_MAX], locked[PASSWORD_HASH_MAX + 1];
	const char *error;
	(void)state;
	assert_int_equal(password_hash("pw", hash, sizeof hash, &error), 0);
	assert_int_equal(password_verify("pw", "*"), 0);
	assert_int_equal(password_verify("*", "*"), 0);
	assert_int_equal(password_verify("pw", "!"), 0);
	assert_int_equal(password_verify("", ""), 0);
	assert_int_equal(password_verify("pw", ""), 0);
	assert_int_equal(password_verify("pw", NULL), 0);
	/* a valid hash locked with '!' or '*' in front, as usermod -L does */
	snprintf(locked, sizeof locked, "!%s", hash);
	assert_int_equal(password_verify("pw", locked), 0);
	locked[0] = '*';
	assert_int_equal(password_verify("pw", locked), 0);
	/* methods libxcrypt does not know, and garbage */
	assert_int_equal(password_verify("pw", "$99$abc$def"), 0);
	assert_int_equal(password_verify("pw", "$y$"), 0);
	assert_int_equal(password_verify("pw", "plaintext"), 0);
	/* a hash with its tail cut off */
	hash[strlen(hash) - 1] = '\0';
	assert_int_equal(password_verify("pw", hash), 0);
}

static void test_hash_errors(void **state)
{
	char hash[PASSWORD_HASH_MAX], small[10], *long_password;
	const char *error = NULL;
	(void)state;
	assert_int_equal(password_hash("", hash, sizeof hash, &error), -1);
	assert_string_equal(error, "the password is empty");
	long_password = malloc(CRYPT_MAX_PASSPHRASE_SIZE + 1);
	assert_non_null(long_password);
	memset(long_password, 'a', CRYPT_MAX_PASSPHRASE_SIZE);
	long_password[CRYPT_MAX_PASSPHRASE_SIZE] = '\0';
	assert_int_equal(password_hash(long_password, hash, sizeof hash, &error), -1);
	assert_string_equal(error, "the password is too long (at most 511 octets)");
	/* 511 octets is fine */
	long_password[CRYPT_MAX_PASSPHRASE_SIZE - 1] = '\0';
	assert_int_equal(password_hash(long_password, hash, sizeof hash, &error), 0);
	assert_int_equal(password_verify(long_password, hash), 1);
	free(long_password);
	assert_int_equal(password_hash("pw", small, sizeof small, &error), -1);
	assert_string_equal(error, "the hash does not fit in the buffer");
	assert_string_equal(small, "");
}

/* Hashes PASSWORD with libxcrypt and the fixed SETTING; the result is what
 * a hash written by another tool looks like. */
static void fixed_hash(const char *password, const char *setting, char *out, size_t size)
{
	struct crypt_data *data = calloc(1, sizeof *data);
	assert_non_null(data);
	const char *h = crypt_rn(password, setting, data, (int)sizeof *data);
	assert_non_null(h);
	assert_true(h[0] != '*');
	assert_true(strlen(h) < size);
	strcpy(out, h);
	free(data);
}

static void test_other_methods(void **state)
{
	static const char *const settings[] = {
	    "$6$saltsalt$",
	    "$6$rounds=5000$usesomesillystri$",
	    "$5$saltsalt$",
	    "$2b$05$abcdefghijklmnopqrstuu",
	    "$2y$05$abcdefghijklmnopqrstuu",
	    "$y$j9T$F5Jx5fExrKuPp53xLKQ..1",
	};
	char hash[PASSWORD_HASH_MAX];
	(void)state;
	for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
		fixed_hash("Hello world!", settings[i], hash, sizeof hash);
		assert_memory_equal(hash, settings[i], 3);
		assert_int_equal(password_verify("Hello world!", hash), 1);
		assert_int_equal(password_verify("Hello world?", hash), 0);
		assert_int_equal(password_verify("hello world!", hash), 0);
	}
}

/* Published test vectors, so the check does not only agree with itself. */
static void test_known_vectors(void **state)
{
	(void)state;
	/* "Unix crypt using SHA-256 and SHA-512" (Drepper), first vectors */
	static const char sha512[] =
	    "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEd"
	    "FCoEOfaS35inz1";
	static const char sha256[] = "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5";
	/* crypt_blowfish's tests: "U*U" */
	static const char bcrypt_a[] =
	    "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
	static const char bcrypt_b[] =
	    "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
	assert_int_equal(password_verify("Hello world!", sha512), 1);
	assert_int_equal(password_verify("Hello world", sha512), 0);
	assert_int_equal(password_verify("Hello world!", sha256), 1);
	assert_int_equal(password_verify("Hello world", sha256), 0);
	assert_int_equal(password_verify("U*U", bcrypt_a), 1);
	assert_int_equal(password_verify("U*U", bcrypt_b), 1);
	assert_int_equal(password_verify("U*V", bcrypt_b), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_wrong_password),
	    cmocka_unit_test(test_locked_and_bad_hashes),
	    cmocka_unit_test(test_hash_errors),
	    cmocka_unit_test(test_other_methods),
	    cmocka_unit_test(test_known_vectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
