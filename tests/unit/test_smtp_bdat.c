/*
 * test_smtp_bdat.c: the parsers of SMTP's extensions (smtp_parse_ext.c):
 * BDAT's argument, the line-end check of BDAT chunks (fed whole, byte by
 * byte and cut at every pair of points, across chunks, against a simple
 * reference), the UTF-8 character check, and SMTPUTF8 addresses through
 * smtp_path_parse_flags().
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "smtp/smtp_parse.h"

/* ---- BDAT's argument ----------------------------------------------------- */

static void test_bdat_parse(void **state)
{
	static const struct {
		const char *arg;
		int ok;
		uint64_t size;
		int last;
	} cases[] = {
	    {"0", 1, 0, 0},
	    {"0 LAST", 1, 0, 1},
	    {"123", 1, 123, 0},
	    {"123 last", 1, 123, 1},
	    {"123   LaSt  ", 1, 123, 1},
	    {"123 ", 1, 123, 0},
	    {"9223372036854775807", 1, 9223372036854775807ull, 0},
	    {"1234567890123456789", 1, 1234567890123456789ull, 0},
	    {"12345678901234567890", 0, 0, 0}, /* 20 digits */
	    {"", 0, 0, 0},
	    {" 12", 0, 0, 0},
	    {"-1", 0, 0, 0},
	    {"+1", 0, 0, 0},
	    {"1x", 0, 0, 0},
	    {"12 LASTX", 0, 0, 0},
	    {"12 LAS", 0, 0, 0},
	    {"12 FIRST", 0, 0, 0},
	    {"12 LAST LAST", 0, 0, 0},
	    {"LAST", 0, 0, 0},
	    {"12\tLAST", 0, 0, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t size = 7;
		int last = 7;
		const char *why = NULL;
		int r = smtp_bdat_parse(cases[i].arg, &size, &last, &why);

		if (!cases[i].ok) {
			assert_int_equal(r, -1);
			assert_non_null(why);
			continue;
		}
		assert_int_equal(r, 0);
		assert_true(size == cases[i].size);
		assert_int_equal(last, cases[i].last);
	}
}

/* ---- the chunks' line ends --------------------------------------------------- */

struct check {
	int bare_lf, bare_cr, too_long;
	uint64_t size;
};

/* The reference: one pass over the whole text. */
static void reference(const char *in, size_t len, size_t max_line, struct check *c)
{
	size_t line = 0;

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < len; i++) {
		line++;
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			c->bare_lf = 1;
		if (in[i] == '\r' && (i + 1 == len || in[i + 1] != '\n'))
			c->bare_cr = 1;
		if (line > max_line)
			c->too_long = 1;
		if (in[i] == '\n' && i > 0 && in[i - 1] == '\r')
			line = 0;
	}
	c->size = len;
}

/* Feeds IN as three pieces cut at A and B (a <= b), then ends it. */
static void feed_cut(const char *in, size_t len, size_t max_line, size_t a, size_t b,
                     struct check *c)
{
	struct smtp_data_parser p;

	smtp_data_init(&p, max_line);
	smtp_bdat_feed(&p, in, a);
	smtp_bdat_feed(&p, in + a, b - a);
	smtp_bdat_feed(&p, in + b, len - b);
	smtp_bdat_finish(&p);
	c->bare_lf = p.bare_lf;
	c->bare_cr = p.bare_cr;
	c->too_long = p.line_too_long;
	c->size = p.size;
}

/* Every pair of cuts agrees with the reference. */
static void check_all_cuts(const char *in, size_t len, size_t max_line)
{
	struct check want, got;

	reference(in, len, max_line, &want);
	for (size_t a = 0; a <= len; a++) {
		for (size_t b = a; b <= len; b++) {
			feed_cut(in, len, max_line, a, b, &got);
			assert_int_equal(got.bare_lf, want.bare_lf);
			assert_int_equal(got.bare_cr, want.bare_cr);
			assert_int_equal(got.too_long, want.too_long);
			assert_true(got.size == want.size);
		}
	}
}

static void test_bdat_line_ends(void **state)
{
	static const char *const texts[] = {
	    "",   "a\r\n", "a\r\nb\r\n\r\n", "no end", "a\nb\r\n",      "a\rb\r\n",    "a\r",
	    "\r", "\n",    "\r\r\n",         "\r\n\n", "x\r\n.\n.\r\n", ".\r\n..\r\n",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		check_all_cuts(texts[i], strlen(texts[i]), 1000);
}

/* A line of max_line octets, its CRLF included, passes; one more does not;
 * and the count starts again after every CRLF, across chunks. */
static void test_bdat_line_length(void **state)
{
	(void)state;
	check_all_cuts("abc\r\n", 5, 5);
	check_all_cuts("abcd\r\n", 6, 5);
	check_all_cuts("abc\r\nabc\r\n", 10, 5);
	check_all_cuts("ab\rcd\r\n", 7, 5);
	check_all_cuts("abcdef", 6, 5);
}

/* NUL and 8-bit octets are only data. */
static void test_bdat_binary(void **state)
{
	static const char bin[] = "\0\xff\x80\r\n\0\r\n";

	(void)state;
	check_all_cuts(bin, sizeof(bin) - 1, 1000);
}

/* All 4^n strings over {a, CR, LF, '.'} up to length 6. */
static void test_bdat_exhaustive_small(void **state)
{
	static const char alphabet[] = "a\r\n.";
	char in[8];

	(void)state;
	for (size_t len = 0; len <= 6; len++) {
		size_t count = (size_t)1 << (2 * len);
		for (size_t n = 0; n < count; n++) {
			size_t v = n;
			for (size_t i = 0; i < len; i++, v /= 4)
				in[i] = alphabet[v % 4];
			check_all_cuts(in, len, 4);
		}
	}
}

/* ---- UTF-8 ----------------------------------------------------------------- */

static void test_utf8_char_len(void **state)
{
	(void)state;
	assert_int_equal(smtp_utf8_char_len("a", 1), 0);
	assert_int_equal(smtp_utf8_char_len("\xc3\xa4", 2), 2);     /* ä */
	assert_int_equal(smtp_utf8_char_len("\xc2\xa0", 2), 2);     /* U+00A0 */
	assert_int_equal(smtp_utf8_char_len("\xc2\x9f", 2), 0);     /* C1 */
	assert_int_equal(smtp_utf8_char_len("\xc2\x80", 2), 0);     /* C1 */
	assert_int_equal(smtp_utf8_char_len("\xc0\xaf", 2), 0);     /* overlong */
	assert_int_equal(smtp_utf8_char_len("\xe0\x80\xaf", 3), 0); /* overlong */
	assert_int_equal(smtp_utf8_char_len("\xe2\x82\xac", 3), 3); /* € */
	assert_int_equal(smtp_utf8_char_len("\xed\xa0\x80", 3), 0); /* surrogate */
	assert_int_equal(smtp_utf8_char_len("\xf0\x9f\x98\x80", 4), 4);
	assert_int_equal(smtp_utf8_char_len("\xf4\x90\x80\x80", 4), 0); /* > U+10FFFF */
	assert_int_equal(smtp_utf8_char_len("\xf8\x88\x80\x80", 4), 0);
	assert_int_equal(smtp_utf8_char_len("\xe2\x82", 2), 0); /* cut short */
	assert_int_equal(smtp_utf8_char_len("\xe2\x82\xac", 2), 0);
	assert_int_equal(smtp_utf8_char_len("\xc3(", 2), 0);
	assert_int_equal(smtp_utf8_char_len("\xa4", 1), 0);
	assert_true(smtp_utf8_valid("j\xc3\xb6s\xc3\xa9", 6));
	assert_false(smtp_utf8_valid("a\x01", 2));
	assert_false(smtp_utf8_valid("a\x7f", 2));
}

/* ---- SMTPUTF8 addresses ------------------------------------------------------- */

static int parse_utf8(const char *arg, struct smtp_path *path, const char **why)
{
	struct smtp_param params[SMTP_MAX_PARAMS];
	unsigned n;

	return smtp_path_parse_flags(arg, SMTP_PATH_NULL | SMTP_PATH_UTF8, path, params, &n, why);
}

static void test_utf8_paths(void **state)
{
	struct smtp_path path;
	const char *why = NULL;
	char buf[600];

	(void)state;
	assert_int_equal(
	    parse_utf8("<j\xc3\xb6s\xc3\xa9@Ex\xc3\x84mple.TEST> SMTPUTF8", &path, &why), 0);
	assert_true(path.utf8);
	assert_string_equal(path.local, "j\xc3\xb6s\xc3\xa9");
	/* ASCII lower-cased only: no IDNA mapping of U-labels */
	assert_string_equal(path.domain, "ex\xc3\x84mple.test");
	assert_string_equal(smtp_path_format(&path, buf, sizeof(buf)),
	                    "j\xc3\xb6s\xc3\xa9@ex\xc3\x84mple.test");
	assert_int_equal(parse_utf8("<\"j \xc3\xb6\"@x.test>", &path, &why), 0);
	assert_true(path.utf8 && path.quoted);
	assert_int_equal(parse_utf8("<ascii@x.test>", &path, &why), 0);
	assert_false(path.utf8);
	assert_int_equal(parse_utf8("<a@xn--bcher-kva.test>", &path, &why), 0); /* A-label */
	assert_false(path.utf8);
	/* invalid UTF-8, C1 controls, a label starting with '-' */
	assert_int_equal(parse_utf8("<j\xc3(@x.test>", &path, &why), -1);
	assert_int_equal(parse_utf8("<j\xc2\x85@x.test>", &path, &why), -1);
	assert_int_equal(parse_utf8("<j@x\xc2\x85.test>", &path, &why), -1);
	assert_int_equal(parse_utf8("<j@-\xc3\xa4.test>", &path, &why), -1);
	assert_int_equal(parse_utf8("<\"j\xc2\x85\"@x.test>", &path, &why), -1);
	/* the 64-octet bound counts octets */
	assert_int_equal(
	    parse_utf8("<\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"
	               "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"
	               "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"
	               "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"
	               "a@x.test>",
	               &path, &why),
	    -1);
	/* without SMTP_PATH_UTF8, as before */
	{
		struct smtp_param params[SMTP_MAX_PARAMS];
		unsigned n;
		assert_int_equal(
		    smtp_path_parse("<j\xc3\xb6s@x.test>", 1, 0, &path, params, &n, &why), -1);
		assert_string_equal(why, "Non-ASCII addresses are not accepted");
	}
	assert_true(smtp_domain_valid_utf8("b\xc3\xbc"
	                                   "cher.test"));
	assert_false(smtp_domain_valid("b\xc3\xbc"
	                               "cher.test"));
}

/* An address with UTF-8, fed to the parser with every prefix cut off at
 * the end, never reads past its NUL (ASan) and never accepts a cut
 * character. */
static void test_utf8_truncated(void **state)
{
	static const char full[] = "<j\xc3\xb6s\xf0\x9f\x98\x80@\xe2\x82\xac.test>";
	char buf[sizeof(full)];
	struct smtp_path path;
	const char *why;

	(void)state;
	for (size_t n = 0; n < sizeof(full) - 1; n++) {
		memcpy(buf, full, n);
		buf[n] = '\0';
		assert_int_equal(parse_utf8(buf, &path, &why), -1);
	}
	assert_int_equal(parse_utf8(full, &path, &why), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bdat_parse),
	    cmocka_unit_test(test_bdat_line_ends),
	    cmocka_unit_test(test_bdat_line_length),
	    cmocka_unit_test(test_bdat_binary),
	    cmocka_unit_test(test_bdat_exhaustive_small),
	    cmocka_unit_test(test_utf8_char_len),
	    cmocka_unit_test(test_utf8_paths),
	    cmocka_unit_test(test_utf8_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
