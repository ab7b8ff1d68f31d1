/*
 * test_tls_seen.c: the downgrade memory's table and file
 * (policy/tls_seen.h): the file read and written back, malformed records
 * skipped alone, files that are not one refused; levels rise and do not
 * fall while remembered, fall once expired; remember 0 is off; forget;
 * the bound on domains drops the one seen longest ago; the peer words.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/delivery.h"
#include "policy/tls_seen.h"

#define DAY 86400u
#define T0 1795846000u

static int parse(struct tls_seen_map *m, const char *text, const char **why)
{
	return tls_seen_parse(m, text, strlen(text), why);
}

static void test_seen_file(void **state)
{
	struct tls_seen_map *m = tls_seen_map_new();
	const char *why = NULL;
	uint32_t level;
	uint64_t t;
	char *text;
	size_t len;

	(void)state;
	assert_int_equal(parse(m,
	                       "sealmail-tls-seen 1\n"
	                       "# comment\n\n"
	                       "b.example authenticated 1795846000\n"
	                       "A.Example encrypted 1795840000\n"
	                       "c.example plaintext 1795800000\n"
	                       "bad.example secure 1795846000\n" /* an unknown level */
	                       "bad2.example encrypted 0\n"       /* no time */
	                       "bad3.example encrypted -5\n"
	                       "bad4.example encrypted 12x\n"
	                       "bad5.example encrypted\n"
	                       "b.example encrypted 1795846500\n", /* again: the later wins */
	                       &why),
	                 5);
	assert_int_equal(m->n, 3);
	assert_int_equal(tls_seen_get(m, "a.EXAMPLE", T0, 30 * DAY, &level, &t), 1);
	assert_int_equal(level, TLS_SEEN_ENCRYPTED);
	assert_int_equal(t, 1795840000u);
	text = tls_seen_format(m, &len);
	assert_string_equal(text, "sealmail-tls-seen 1\n"
	                          "a.example encrypted 1795840000\n"
	                          "b.example encrypted 1795846500\n"
	                          "c.example plaintext 1795800000\n");
	assert_int_equal(len, strlen(text));
	free(text);
	/* a last line cut short is skipped, the rest kept */
	assert_int_equal(parse(m, "sealmail-tls-seen 1\na.example encrypted 5\nb.exa", &why), 1);
	assert_int_equal(m->n, 1);
	assert_int_equal(parse(m, "sealmail-tls-seen 2\na.example encrypted 5\n", &why), -1);
	assert_string_equal(why, "not a downgrade memory file (or another version)");
	assert_int_equal(m->n, 0);
	assert_int_equal(parse(m, "", &why), -1);
	assert_int_equal(tls_seen_parse(m, "sealmail-tls-seen 1\n\0", 21, &why), -1);
	assert_string_equal(why, "NUL in the downgrade memory file");
	tls_seen_map_free(&m);
	assert_null(m);
	tls_seen_map_free(&m);
}

static void test_seen_note(void **state)
{
	struct tls_seen_map *m = tls_seen_map_new();
	unsigned remember = 30 * DAY;
	uint32_t level;
	uint64_t t;

	(void)state;
	/* plaintext makes no entry; encrypted does; authenticated raises it */
	tls_seen_note(m, "x.example", TLS_SEEN_PLAINTEXT, T0, remember);
	assert_int_equal(m->n, 0);
	tls_seen_note(m, "X.example", TLS_SEEN_ENCRYPTED, T0, remember);
	assert_int_equal(m->dirty, 1);
	tls_seen_note(m, "x.example", TLS_SEEN_AUTHENTICATED, T0 + 10, remember);
	assert_int_equal(tls_seen_get(m, "x.example", T0 + 20, remember, &level, &t), 1);
	assert_int_equal(level, TLS_SEEN_AUTHENTICATED);
	assert_int_equal(t, T0 + 10);
	/* lower does not lower it, nor move its time */
	tls_seen_note(m, "x.example", TLS_SEEN_PLAINTEXT, T0 + 30, remember);
	tls_seen_note(m, "x.example", TLS_SEEN_ENCRYPTED, T0 + 30, remember);
	assert_int_equal(tls_seen_get(m, "x.example", T0 + 40, remember, &level, &t), 1);
	assert_int_equal(level, TLS_SEEN_AUTHENTICATED);
	assert_int_equal(t, T0 + 10);
	/* the same level moves the time on */
	tls_seen_note(m, "x.example", TLS_SEEN_AUTHENTICATED, T0 + 50, remember);
	assert_int_equal(tls_seen_get(m, "x.example", T0 + 60, remember, &level, &t), 1);
	assert_int_equal(t, T0 + 50);
	/* expired: not given; a lower level then replaces it */
	assert_int_equal(tls_seen_get(m, "x.example", T0 + 50 + remember, remember, &level, &t), 1);
	assert_int_equal(tls_seen_get(m, "x.example", T0 + 51 + remember, remember, &level, &t), 0);
	tls_seen_note(m, "x.example", TLS_SEEN_ENCRYPTED, T0 + 51 + remember, remember);
	assert_int_equal(tls_seen_get(m, "x.example", T0 + 52 + remember, remember, &level, &t), 1);
	assert_int_equal(level, TLS_SEEN_ENCRYPTED);
	/* remember 0: off */
	assert_int_equal(tls_seen_get(m, "x.example", T0 + 52 + remember, 0, &level, &t), 0);
	/* bad input changes nothing */
	tls_seen_note(m, "has space.example", TLS_SEEN_ENCRYPTED, T0, remember);
	tls_seen_note(m, "", TLS_SEEN_ENCRYPTED, T0, remember);
	tls_seen_note(m, "y.example", 3, T0, remember);
	assert_int_equal(m->n, 1);
	/* forget */
	assert_int_equal(tls_seen_forget(m, "y.example"), 0);
	assert_int_equal(tls_seen_forget(m, "X.EXAMPLE"), 1);
	assert_int_equal(m->n, 0);
	assert_int_equal(tls_seen_get(m, "x.example", T0, remember, &level, &t), 0);
	tls_seen_map_free(&m);
}

static void test_seen_expire_and_bound(void **state)
{
	struct tls_seen_map *m = tls_seen_map_new();
	char domain[64];
	uint32_t level;
	uint64_t t;

	(void)state;
	for (unsigned i = 0; i < TLS_SEEN_MAX; i++) {
		snprintf(domain, sizeof(domain), "d%05u.example", i);
		/* d00000 is seen last, d00001 first */
		tls_seen_note(m, domain, TLS_SEEN_ENCRYPTED, i == 0 ? T0 + TLS_SEEN_MAX : T0 + i,
		              30 * DAY);
	}
	assert_int_equal(m->n, TLS_SEEN_MAX);
	tls_seen_note(m, "new.example", TLS_SEEN_AUTHENTICATED, T0 + 2 * TLS_SEEN_MAX, 30 * DAY);
	assert_int_equal(m->n, TLS_SEEN_MAX);
	assert_int_equal(tls_seen_get(m, "d00001.example", T0 + 2 * TLS_SEEN_MAX, 30 * DAY, &level, &t),
	                 0);
	assert_int_equal(tls_seen_get(m, "d00000.example", T0 + 2 * TLS_SEEN_MAX, 30 * DAY, &level, &t),
	                 1);
	assert_int_equal(tls_seen_get(m, "new.example", T0 + 2 * TLS_SEEN_MAX, 30 * DAY, &level, &t),
	                 1);
	/* everything but new.example and d00000 is past 100 seconds */
	m->dirty = 0;
	tls_seen_expire(m, T0 + 2 * TLS_SEEN_MAX, TLS_SEEN_MAX);
	assert_int_equal(m->n, 2);
	assert_int_equal(m->dirty, 1);
	tls_seen_map_free(&m);
}

static void test_seen_load(void **state)
{
	char dir[] = "/tmp/test_tls_seen.XXXXXX", path[128];
	struct tls_seen_map *m = tls_seen_map_new();
	const char *why = NULL;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/seen", dir);
	assert_int_equal(tls_seen_load(m, path, &why), 0); /* absent: empty */
	assert_int_equal(m->n, 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("sealmail-tls-seen 1\na.example authenticated 1795846000\n", f);
	fclose(f);
	assert_int_equal(tls_seen_load(m, path, &why), 0);
	assert_int_equal(m->n, 1);
	assert_int_equal(m->dirty, 0);
	unlink(path);
	rmdir(dir);
	tls_seen_map_free(&m);
}

static void test_seen_achieved(void **state)
{
	(void)state;
	assert_int_equal(tls_seen_achieved("dane"), TLS_SEEN_AUTHENTICATED);
	assert_int_equal(tls_seen_achieved("sts"), TLS_SEEN_AUTHENTICATED);
	assert_int_equal(tls_seen_achieved("verified"), TLS_SEEN_AUTHENTICATED);
	assert_int_equal(tls_seen_achieved("unchecked"), TLS_SEEN_ENCRYPTED);
	/* the word before 0.13, read from an old state file */
	assert_int_equal(tls_seen_achieved("untrusted"), TLS_SEEN_ENCRYPTED);
	assert_string_equal(tls_peer_word("untrusted"), "unchecked");
	assert_string_equal(tls_peer_word("verified"), "verified");
	assert_string_equal(tls_peer_word("untrustedx"), "untrustedx");
	assert_int_equal(tls_seen_achieved("none"), TLS_SEEN_PLAINTEXT);
	assert_int_equal(tls_seen_achieved(""), -1);
	assert_int_equal(tls_seen_achieved("Verified"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seen_file),       cmocka_unit_test(test_seen_note),
	    cmocka_unit_test(test_seen_expire_and_bound), cmocka_unit_test(test_seen_load),
	    cmocka_unit_test(test_seen_achieved),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
