/*
 * test_mutf7.c: modified UTF-7 (RFC 3501 5.1.3) known vectors, round trips
 * and refusals, and the UTF-8 check.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "mail/mutf7.h"

/* MUTF7 and UTF8 are the same name, both ways. */
static void check_pair(const char *mutf7, const char *utf8)
{
	char buf[256];

	assert_int_equal(mutf7_to_utf8(mutf7, buf, sizeof(buf)), 0);
	assert_string_equal(buf, utf8);
	assert_int_equal(utf8_to_mutf7(utf8, buf, sizeof(buf)), 0);
	assert_string_equal(buf, mutf7);
}

static void test_vectors(void **state)
{
	check_pair("", "");
	check_pair("INBOX", "INBOX");
	check_pair("Entw&APw-rfe", "Entw\xc3\xbcrfe");
	check_pair("&ZeVnLIqe-", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	check_pair("&-", "&");
	check_pair("a&-b&-", "a&b&");
	check_pair("&AOQ-", "\xc3\xa4");
	check_pair("&AOQA5A-", "\xc3\xa4\xc3\xa4");
	check_pair("&2D3eAA-", "\xf0\x9f\x98\x80"); /* a surrogate pair */
	check_pair("&AOQ-&-&AOQ-", "\xc3\xa4&\xc3\xa4");
	check_pair("~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	           "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	check_pair("&AAE-x&AH8-", "\x01x\x7f"); /* controls are shifted */
}

static void test_rejects(void **state)
{
	static const char *const bad[] = {
	    "&",          /* shift not closed */
	    "&AOQ",       /* no "-" */
	    "&AGE-",      /* printable ASCII shifted */
	    "&ACY-",      /* "&" shifted */
	    "&AOR-",      /* padding bits not zero */
	    "&AOQA-",     /* a whole extra base64 digit */
	    "&AO-",       /* not a whole UTF-16 unit */
	    "&2AA-",      /* a lone high surrogate */
	    "&3AA-",      /* a lone low surrogate */
	    "&2D3YPQ-",   /* high surrogate twice */
	    "&AOQ-&AOQ-", /* two shifts in a row: the encoder merges them */
	    "&A/Q-",      /* "/" is not in the modified alphabet */
	    "a\x01",      /* a control not shifted */
	    "\xc3\xa4",   /* 8-bit not shifted */
	    "a~\x7f",
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (mutf7_to_utf8(bad[i], buf, sizeof(buf)) != -1)
			fail_msg("accepted %s", bad[i]);
	}
	assert_int_equal(utf8_to_mutf7("\xff", buf, sizeof(buf)), -1);
	assert_int_equal(utf8_to_mutf7("a\xc3", buf, sizeof(buf)), -1);
	assert_int_equal(utf8_to_mutf7("\xed\xa0\x80", buf, sizeof(buf)), -1);
}

static void test_small_buffer(void **state)
{
	char buf[8];

	assert_int_equal(mutf7_to_utf8("abc", buf, 4), 0);
	assert_int_equal(mutf7_to_utf8("abcd", buf, 4), -1);
	assert_int_equal(mutf7_to_utf8("&APw-", buf, 2), -1);
	assert_int_equal(mutf7_to_utf8("&APw-", buf, 3), 0);
	assert_int_equal(utf8_to_mutf7("\xc3\xbc", buf, 6), 0);
	assert_string_equal(buf, "&APw-");
	assert_int_equal(utf8_to_mutf7("\xc3\xbc", buf, 5), -1);
	assert_int_equal(utf8_to_mutf7("&", buf, 2), -1);
	assert_int_equal(utf8_to_mutf7("", buf, 0), -1);
}

/* Every code point of a sample (all planes, near the surrogates) goes
 * there and back. */
static void test_round_trips(void **state)
{
	static const uint32_t cps[] = {0x01,   0x1f,   0x7f,    0x80,     0xff,
	                               0x100,  0x7ff,  0x800,   0xd7ff,   0xe000,
	                               0xfffd, 0xffff, 0x10000, 0x10ffff, 0x1f600};
	char utf8[64], mutf7[128], back[64];

	for (size_t i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
		for (size_t run = 1; run <= 4; run++) {
			size_t n = 0;

			utf8[n++] = 'x';
			for (size_t k = 0; k < run; k++) {
				uint32_t cp = cps[(i + k) % (sizeof(cps) / sizeof(cps[0]))];

				if (cp < 0x80) {
					utf8[n++] = (char)cp;
				} else if (cp < 0x800) {
					utf8[n++] = (char)(0xc0 | cp >> 6);
					utf8[n++] = (char)(0x80 | (cp & 0x3f));
				} else if (cp < 0x10000) {
					utf8[n++] = (char)(0xe0 | cp >> 12);
					utf8[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
					utf8[n++] = (char)(0x80 | (cp & 0x3f));
				} else {
					utf8[n++] = (char)(0xf0 | cp >> 18);
					utf8[n++] = (char)(0x80 | ((cp >> 12) & 0x3f));
					utf8[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
					utf8[n++] = (char)(0x80 | (cp & 0x3f));
				}
			}
			memcpy(utf8 + n, "&y", 3);
			assert_int_equal(utf8_to_mutf7(utf8, mutf7, sizeof(mutf7)), 0);
			assert_int_equal(mutf7_to_utf8(mutf7, back, sizeof(back)), 0);
			assert_string_equal(back, utf8);
		}
	}
}

static void test_utf8_is_valid(void **state)
{
	assert_true(utf8_is_valid("", 0));
	assert_true(utf8_is_valid("abc", 3));
	assert_true(utf8_is_valid("a\0b", 3));
	assert_true(utf8_is_valid("\xc3\xbc", 2));
	assert_true(utf8_is_valid("\xe6\x97\xa5", 3));
	assert_true(utf8_is_valid("\xf0\x9f\x98\x80", 4));
	assert_true(utf8_is_valid("\xf4\x8f\xbf\xbf", 4));
	assert_false(utf8_is_valid("\xc3", 1));
	assert_false(utf8_is_valid("\xc3\xbc", 1));
	assert_false(utf8_is_valid("\x80", 1));
	assert_false(utf8_is_valid("\xc0\x80", 2));         /* overlong NUL */
	assert_false(utf8_is_valid("\xc1\xbf", 2));         /* overlong */
	assert_false(utf8_is_valid("\xe0\x80\xaf", 3));     /* overlong "/" */
	assert_false(utf8_is_valid("\xf0\x80\x80\xaf", 4)); /* overlong */
	assert_false(utf8_is_valid("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(utf8_is_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
	assert_false(utf8_is_valid("\xf5\x80\x80\x80", 4));
	assert_false(utf8_is_valid("\xff", 1));
	assert_false(utf8_is_valid("\xe6\x97", 2));
	assert_false(utf8_is_valid("\xe6\x41\xa5", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors),       cmocka_unit_test(test_rejects),
	    cmocka_unit_test(test_small_buffer),  cmocka_unit_test(test_round_trips),
	    cmocka_unit_test(test_utf8_is_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
