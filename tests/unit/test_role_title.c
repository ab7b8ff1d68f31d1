/*
 * test_role_title.c: the names `sealmail status` shows for the server's
 * children (role_title.c): the roles' own titles, near misses, every byte
 * in every place of a title, cuts at every point, and escapes shown, never
 * passed through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/role_title.h"

static const char *const known[][2] = {
    {"sealmail: queue", "queue"},
    {"sealmail: lookup", "lookup"},
    {"sealmail: store", "store"},
    {"sealmail: metrics", "metrics"},
    {"sealmail: metrics keeper", "metrics keeper"},
    {"sealmail: dispatcher 0", "dispatcher 0"},
    {"sealmail: dispatcher 7", "dispatcher 7"},
    {"sealmail: dispatcher 63", "dispatcher 63"},
    {"sealmail: dispatcher 100", "dispatcher 100"},
    {"sealmail: parent", "(starting)"},
};
#define N_KNOWN (sizeof(known) / sizeof(known[0]))

static int name_of(const char *bytes, size_t len, char *out)
{
	int r;

	memset(out, 'X', ROLE_TITLE_NAME_MAX);
	r = role_title_name(bytes, len, out, ROLE_TITLE_NAME_MAX);
	assert_true(memchr(out, '\0', ROLE_TITLE_NAME_MAX) != NULL);
	return r;
}

/* Only printable ASCII reaches the terminal. */
static void assert_printable(const char *s)
{
	for (; *s; s++)
		assert_true(*s >= 0x20 && *s <= 0x7e);
}

/* The reference: a title of the list, or a dispatcher's whose slot is a
 * number of up to three digits written as printf writes it. */
static int is_known(const char *bytes, size_t len)
{
	static const char disp[] = "sealmail: dispatcher ";
	size_t d = sizeof(disp) - 1;
	char slot[8], back[8];

	for (size_t i = 0; i < N_KNOWN; i++)
		if (len == strlen(known[i][0]) && memcmp(bytes, known[i][0], len) == 0)
			return 1;
	if (len <= d || len > d + 3 || memcmp(bytes, disp, d) != 0)
		return 0;
	memcpy(slot, bytes + d, len - d);
	slot[len - d] = '\0';
	if (strspn(slot, "0123456789") != len - d)
		return 0;
	snprintf(back, sizeof(back), "%lu", strtoul(slot, NULL, 10));
	return strcmp(back, slot) == 0;
}

static void test_known(void **state)
{
	char out[ROLE_TITLE_NAME_MAX], buf[64];

	for (size_t i = 0; i < N_KNOWN; i++) {
		size_t n = strlen(known[i][0]);
		assert_int_equal(name_of(known[i][0], n, out), 0);
		assert_string_equal(out, known[i][1]);
		/* as /proc shows it: the NUL, and what libbsd leaves after it */
		memcpy(buf, known[i][0], n);
		memcpy(buf + n, "\0.\0", 3);
		assert_int_equal(name_of(buf, n + 3, out), 0);
		assert_string_equal(out, known[i][1]);
	}
}

static void test_near_misses(void **state)
{
	static const char *const bad[] = {
	    "",
	    "sealmail: ",
	    "sealmail:queue",
	    "sealmail:  queue",
	    "Sealmail: queue",
	    "sealmail: Queue",
	    "sealmail: queue ",
	    "sealmail: queues",
	    " sealmail: queue",
	    "sealmail: dispatcher",
	    "sealmail: dispatcher ",
	    "sealmail: dispatcher 01",
	    "sealmail: dispatcher 00",
	    "sealmail: dispatcher 1000",
	    "sealmail: dispatcher -1",
	    "sealmail: dispatcher +1",
	    "sealmail: dispatcher 1 ",
	    "sealmail: dispatcher  1",
	    "sealmail: dispatcher1",
	    "sealmail: parent ",
	    "sealmail: metrics keeper ",
	    "sealmail: metrics  keeper",
	    "sealmail: metricskeeper",
	    "sealmail: sealmail: queue",
	    "/usr/sbin/sealmail",
	};
	char out[ROLE_TITLE_NAME_MAX], want[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(name_of(bad[i], strlen(bad[i]), out), -1);
		snprintf(want, sizeof(want), "(unknown) \"%s\"", bad[i]);
		assert_string_equal(out, want);
	}
}

static void test_escapes_shown(void **state)
{
	static const struct {
		const char *title, *shown;
	} cases[] = {
	    {"sealmail: \033[2Jqueue", "(unknown) \"sealmail: \\033[2Jqueue\""},
	    {"sealmail: queue\r", "(unknown) \"sealmail: queue\\015\""},
	    {"sealmail: queue\n  store", "(unknown) \"sealmail: queue\\012  store\""},
	    {"x\ty\bz\a", "(unknown) \"x\\011y\\010z\\007\""},
	    {"\"\\", "(unknown) \"\\042\\134\""},
	    {"caf\xc3\xa9 \x7f\x9b", "(unknown) \"caf\\303\\251 \\177\\233\""},
	};
	char out[ROLE_TITLE_NAME_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(name_of(cases[i].title, strlen(cases[i].title), out), -1);
		assert_string_equal(out, cases[i].shown);
	}
}

/* Every byte in every place of every known title: a role's name only when
 * the bytes still are a known title, and nothing but printable ASCII. */
static void test_every_byte_everywhere(void **state)
{
	char out[ROLE_TITLE_NAME_MAX], buf[64];

	for (size_t k = 0; k < N_KNOWN; k++) {
		size_t n = strlen(known[k][0]);
		for (size_t at = 0; at <= n; at++)
			for (unsigned c = 0; c < 256; c++) {
				for (int replace = 0; replace <= (at < n); replace++) {
					size_t len = 0;
					memcpy(buf, known[k][0], at);
					len = at;
					buf[len++] = (char)c;
					memcpy(buf + len, known[k][0] + at + replace,
					       n - at - replace);
					len += n - at - replace;
					const char *nul = memchr(buf, '\0', len);
					size_t title = nul ? (size_t)(nul - buf) : len;
					int r = name_of(buf, len, out);
					assert_int_equal(r, is_known(buf, title) ? 0 : -1);
					assert_printable(out);
					if (r < 0 && c != '\0' && (c < 0x20 || c > 0x7e)) {
						char oct[8];
						snprintf(oct, sizeof(oct), "\\%03o", c);
						assert_non_null(strstr(out, oct));
					}
				}
			}
	}
}

static void test_every_cut(void **state)
{
	char out[ROLE_TITLE_NAME_MAX];

	for (size_t k = 0; k < N_KNOWN; k++)
		for (size_t cut = 0; cut <= strlen(known[k][0]); cut++)
			assert_int_equal(name_of(known[k][0], cut, out),
			                 is_known(known[k][0], cut) ? 0 : -1);
}

static void test_long_titles(void **state)
{
	char out[ROLE_TITLE_NAME_MAX], buf[300];

	memset(buf, 'A', sizeof(buf));
	assert_int_equal(name_of(buf, sizeof(buf), out), -1);
	assert_int_equal(strlen(out), strlen("(unknown) \"\"...") + ROLE_TITLE_SHOWN);
	assert_string_equal(out + strlen(out) - 4, "\"...");
	/* the widest: every shown byte in octal, still whole */
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(name_of(buf, sizeof(buf), out), -1);
	assert_int_equal(strlen(out), strlen("(unknown) \"\"...") + 4 * ROLE_TITLE_SHOWN);
	assert_string_equal(out + strlen(out) - 8, "\\377\"...");
	assert_printable(out);
	/* exactly as many as are shown: no "..." */
	assert_int_equal(name_of(buf, ROLE_TITLE_SHOWN, out), -1);
	assert_string_equal(out + strlen(out) - 5, "\\377\"");
	/* a short OUT is cut, still a string */
	assert_int_equal(role_title_name("sealmail: queue", 15, out, 4), 0);
	assert_string_equal(out, "que");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known),         cmocka_unit_test(test_near_misses),
	    cmocka_unit_test(test_escapes_shown), cmocka_unit_test(test_every_byte_everywhere),
	    cmocka_unit_test(test_every_cut),     cmocka_unit_test(test_long_titles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
