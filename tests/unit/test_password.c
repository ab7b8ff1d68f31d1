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

/* Which hash a login check computes: every failure costs one computation
 * of the same method and cost as a real user's. */
static void test_target_decision(void **state)
{
	char sha512[PASSWORD_HASH_MAX], locked[PASSWORD_HASH_MAX + 1], dummy[PASSWORD_HASH_MAX];
	struct password_target t;
	const char *error;
	(void)state;
	snprintf(sha512, sizeof sha512, "%s", crypt("Hello world!", "$6$saltsalt$"));
	assert_int_equal(password_hash("x", dummy, sizeof dummy, &error), 0);
	/* a known user: its own hash, which can match */
	password_target_for(sha512, dummy, &t);
	assert_ptr_equal(t.hash, sha512);
	assert_int_equal(t.can_match, 1);
	assert_int_equal(password_verify_target("Hello world!", &t), 1);
	/* an unknown user: the stand-in, which cannot */
	password_target_for(NULL, dummy, &t);
	assert_ptr_equal(t.hash, dummy);
	assert_int_equal(t.can_match, 0);
	assert_int_equal(password_verify_target("x", &t), 0);
	/* locked with '!': the hash behind the mark is computed, never matches */
	snprintf(locked, sizeof locked, "!%s", sha512);
	password_target_for(locked, dummy, &t);
	assert_string_equal(t.hash, sha512);
	assert_int_equal(t.can_match, 0);
	assert_int_equal(password_verify_target("Hello world!", &t), 0);
	/* "*", "" and methods libxcrypt does not know: the stand-in */
	for (const char *h, *const *p =
	                        (const char *const[]){"*", "", "!", "$99$a$b", "$$", "*!", NULL};
	     (h = *p) != NULL; p++) {
		password_target_for(h, dummy, &t);
		assert_ptr_equal(t.hash, dummy);
		assert_int_equal(t.can_match, 0);
	}
}

static void test_most_common_method_and_dummy(void **state)
{
	char a[PASSWORD_HASH_MAX], dummy[PASSWORD_HASH_MAX];
	const char *error;
	const char *hashes[] = {
	    NULL,
	    "*",
	    a,
	    "$6$rounds=9000$salt1$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.q",
	    "$6$rounds=9000$salt2$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.q",
	    "$6$other$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSu",
	};
	(void)state;
	assert_int_equal(password_hash("pw", a, sizeof a, &error), 0);
	/* two sha512 hashes of 9000 rounds outnumber one yescrypt, one default sha512 */
	assert_ptr_equal(password_most_common(hashes, 6), hashes[3]);
	assert_ptr_equal(password_most_common(hashes, 3), a);
	assert_null(password_most_common(hashes, 2));
	/* the stand-in has the method and cost of its model */
	assert_int_equal(password_dummy_like(hashes[3], dummy, sizeof dummy, &error), 0);
	assert_memory_equal(dummy, "$6$rounds=9000$", 15);
	assert_int_equal(password_verify("not a password", dummy), 1);
	assert_int_equal(password_dummy_like(NULL, dummy, sizeof dummy, &error), 0);
	assert_memory_equal(dummy, "$y$", 3);
	assert_int_equal(password_usable(dummy), 1);
	assert_int_equal(password_usable("*"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_target_decision),
	    cmocka_unit_test(test_most_common_method_and_dummy),
	    cmocka_unit_test(test_wrong_password),
	    cmocka_unit_test(test_locked_and_bad_hashes),
	    cmocka_unit_test(test_hash_errors),
	    cmocka_unit_test(test_other_methods),
	    cmocka_unit_test(test_known_vectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
