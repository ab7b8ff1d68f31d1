/*
 * test_maildir_write.c: maildir_write()'s copy of a message, CRLF turned
 * into LF and nothing else changed, against a reference octet by octet.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "queue/maildir.h"

static char dir[64];

/* What the copy must hold: PREFIX, then MSG with every CRLF made LF. */
static size_t reference(const char *prefix, const char *msg, size_t len, char *out)
{
	size_t o = strlen(prefix), i;

	memcpy(out, prefix, o);
	for (i = 0; i < len; i++)
		if (!(msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n'))
			out[o++] = msg[i];
	return o;
}

static void check(const char *msg, size_t len)
{
	static const char prefix[] = "Return-Path: <a@b.test>\n";
	struct maildir_copy copy;
	const char *why = NULL;
	char want[4096], got[4096];
	size_t n;
	FILE *f;

	assert_true(len < 4000);
	assert_int_equal(maildir_write(dir, "h.test", prefix, msg, len, &copy, &why), 0);
	f = fopen(copy.tmp_path, "rb");
	assert_non_null(f);
	n = fread(got, 1, sizeof(got), f);
	fclose(f);
	unlink(copy.tmp_path);
	assert_int_equal(n, reference(prefix, msg, len, want));
	assert_memory_equal(got, want, n);
}

static void test_conversions(void **state)
{
	static const char *cases[] = {
	    "",           "a",          "\r",           "\n",          "\r\n",
	    "a\r\nb\r\n", "a\rb\r\n",   "a\r\r\nb",     "\r\r",        "x\r",
	    "\n\r\n\r",   "abc\r\n\r\n", "\r\n\r\n\r\n", "ab\rc\nd\r\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check(cases[i], strlen(cases[i]));
	check("a\0b\r\nc\r", 7); /* a NUL is an octet like any other */
}

/* Every string of up to 6 octets over {a, CR, LF}. */
static void test_exhaustive_small(void **state)
{
	static const char alphabet[] = "a\r\n";
	char msg[8];
	unsigned len, code, i, c;

	(void)state;
	for (len = 0; len <= 6; len++) {
		unsigned total = 1;
		for (i = 0; i < len; i++)
			total *= 3;
		for (code = 0; code < total; code++) {
			for (i = 0, c = code; i < len; i++, c /= 3)
				msg[i] = alphabet[c % 3];
			check(msg, len);
		}
	}
}

static int setup(void **state)
{
	const char *why = NULL;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sealmail-maildir-XXXXXX");
	if (mkdtemp(dir) == NULL || maildir_ensure(dir, &why) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_conversions),
	    cmocka_unit_test(test_exhaustive_small),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
