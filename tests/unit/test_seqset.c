/*
 * test_seqset.c: IMAP sequence sets: the RFC 9051 9 grammar and its
 * refusals, "*" resolution, membership and the compact format.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/seqset.h"

/* The ranges of SET as text: "1:5,7:7". */
static void ranges_text(const struct seqset *set, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < set->n; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%u:%u", i > 0 ? "," : "",
		                        set->r[i].lo, set->r[i].hi);
}

/* Parses TEXT, resolves with STAR (unless STAR is 0 and RESOLVE is 0) and
 * compares the ranges with EXPECTED. */
static void check_set(const char *text, int resolve, uint32_t star, const char *expected)
{
	struct seqset set;
	const char *error = NULL;
	char buf[1024];

	assert_int_equal(seqset_parse(text, &set, &error), 0);
	if (resolve)
		seqset_resolve(&set, star);
	ranges_text(&set, buf, sizeof(buf));
	assert_string_equal(buf, expected);
	seqset_free(&set);
	assert_null(set.r);
	assert_int_equal(set.n, 0);
}

static void check_bad(const char *text, const char *expected_error)
{
	struct seqset set = {(void *)1, 99};
	const char *error = NULL;

	assert_int_equal(seqset_parse(text, &set, &error), -1);
	assert_string_equal(error, expected_error);
	assert_null(set.r);
	assert_int_equal(set.n, 0);
}

static void test_parse(void **state)
{
	check_set("1", 0, 0, "1:1");
	check_set("1:5", 0, 0, "1:5");
	check_set("5:1", 0, 0, "1:5");
	check_set("*", 0, 0, "4294967295:4294967295");
	check_set("3:*", 0, 0, "3:4294967295");
	check_set("*:3", 0, 0, "3:4294967295");
	check_set("1,3:4,9", 0, 0, "1:1,3:4,9:9");
	check_set("4294967294", 0, 0, "4294967294:4294967294");
	check_set("10,2:1", 0, 0, "10:10,1:2");
}

static void test_parse_errors(void **state)
{
	check_bad("", "Empty part in sequence set");
	check_bad("0", "Sequence numbers start at 1");
	check_bad("1:0", "Sequence numbers start at 1");
	check_bad("01", "Sequence numbers start at 1");
	check_bad("1,", "Empty part in sequence set");
	check_bad(",1", "Empty part in sequence set");
	check_bad("1,,2", "Empty part in sequence set");
	check_bad(":5", "Empty part in sequence set");
	check_bad("5:", "Empty part in sequence set");
	check_bad("1:2:3", "Invalid character in sequence set");
	check_bad("1 2", "Invalid character in sequence set");
	check_bad("$", "Invalid character in sequence set");
	check_bad("-1", "Invalid character in sequence set");
	check_bad("4294967296", "Sequence number too large");
	check_bad("99999999999999999999", "Sequence number too large");
	check_bad("**", "Invalid character in sequence set");
}

static void test_max_ranges(void **state)
{
	size_t size = (size_t)(SEQSET_MAX_RANGES + 1) * 2 + 1;
	char *text = malloc(size);
	struct seqset set;
	const char *error;

	for (unsigned i = 0; i < SEQSET_MAX_RANGES; i++)
		memcpy(text + i * 2, "1,", 2);
	text[SEQSET_MAX_RANGES * 2 - 1] = '\0';
	assert_int_equal(seqset_parse(text, &set, &error), 0);
	assert_int_equal(set.n, SEQSET_MAX_RANGES);
	seqset_resolve(&set, 10);
	assert_int_equal(set.n, 1);
	seqset_free(&set);
	text[SEQSET_MAX_RANGES * 2 - 1] = ',';
	memcpy(text + SEQSET_MAX_RANGES * 2, "1", 2);
	assert_int_equal(seqset_parse(text, &set, &error), -1);
	assert_string_equal(error, "Too many ranges in sequence set");
	free(text);
}

static void test_resolve(void **state)
{
	check_set("3:*", 1, 10, "3:10");
	check_set("*", 1, 10, "10:10");
	check_set("5:*", 1, 3, "3:5");
	check_set("*", 1, 0, "0:0");
	check_set("5,1:3,2,4,9:7,20", 1, 100, "1:5,7:9,20:20");
	check_set("1:2,4:5", 1, 9, "1:2,4:5");
	check_set("1:2,3:5", 1, 9, "1:5");
	check_set("4294967294,1:*", 1, 4294967294u, "1:4294967294");
	check_set("10:20,12:15", 1, 99, "10:20");
}

static void test_contains(void **state)
{
	struct seqset set;
	const char *error;

	assert_int_equal(seqset_parse("2:4,8,10:*", &set, &error), 0);
	seqset_resolve(&set, 12);
	assert_false(seqset_contains(&set, 0));
	assert_false(seqset_contains(&set, 1));
	assert_true(seqset_contains(&set, 2));
	assert_true(seqset_contains(&set, 4));
	assert_false(seqset_contains(&set, 5));
	assert_true(seqset_contains(&set, 8));
	assert_false(seqset_contains(&set, 9));
	assert_true(seqset_contains(&set, 12));
	assert_false(seqset_contains(&set, 13));
	seqset_free(&set);
	set.n = 0;
	set.r = NULL;
	assert_false(seqset_contains(&set, 1));
}

static void check_format(const uint32_t *v, unsigned n, const char *expected)
{
	char *s = seqset_format(v, n);

	assert_string_equal(s, expected);
	free(s);
}

static void test_format(void **state)
{
	static const uint32_t a[] = {1, 2, 3, 5}, b[] = {7}, c[] = {1, 3, 5, 6, 7, 8, 10};
	static const uint32_t d[] = {4294967294u, 4294967295u}, e[] = {2, 2, 3};

	check_format(a, 0, "");
	check_format(a, 4, "1:3,5");
	check_format(b, 1, "7");
	check_format(c, 7, "1,3,5:8,10");
	check_format(d, 2, "4294967294:4294967295");
	check_format(e, 3, "2:3");
}

/* The formatted text parses back to the same numbers. */
static void test_format_round_trip(void **state)
{
	uint32_t v[200];
	unsigned n = 0, seed = 7;
	struct seqset set;
	const char *error;
	char *s;

	for (uint32_t x = 1; n < 200; x++) {
		seed = seed * 1103515245u + 12345u;
		if ((seed >> 16) % 3 != 0)
			v[n++] = x;
	}
	s = seqset_format(v, n);
	assert_int_equal(seqset_parse(s, &set, &error), 0);
	seqset_resolve(&set, v[n - 1]);
	for (uint32_t x = 1, i = 0; x <= v[n - 1]; x++) {
		int in = i < n && v[i] == x;

		assert_int_equal(seqset_contains(&set, x), in);
		i += in;
	}
	seqset_free(&set);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_max_ranges),
	    cmocka_unit_test(test_resolve),
	    cmocka_unit_test(test_contains),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_format_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
