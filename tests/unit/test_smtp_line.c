/*
 * test_smtp_line.c: the CRLF line reader, fed whole, byte by byte and split
 * at every point; all feedings must give the same transcript.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_parse.h"

#define TRANSCRIPT_MAX 65536

struct transcript {
	char text[TRANSCRIPT_MAX];
	size_t len;
};

/* Appends S to T. */
static void t_puts(struct transcript *t, const char *s)
{
	size_t n = strlen(s);

	assert_true(t->len + n < sizeof(t->text));
	memcpy(t->text + t->len, s, n + 1);
	t->len += n;
}

/* Records one event of the reader as text: "OK:line|", "LONG|", "LF|", "CR|". */
static void t_event(struct transcript *t, enum smtp_line_status st, const char *line, size_t len)
{
	char one[2] = {0, 0};

	switch (st) {
	case SMTP_LINE_OK:
		assert_int_equal(line[len], '\0');
		t_puts(t, "OK:");
		for (size_t i = 0; i < len; i++) {
			assert_true(line[i] != '\r' && line[i] != '\n');
			one[0] = line[i];
			t_puts(t, line[i] == '\0' ? "\\0" : one);
		}
		t_puts(t, "|");
		break;
	case SMTP_LINE_TOO_LONG:
		t_puts(t, "LONG|");
		break;
	case SMTP_LINE_BARE_LF:
		t_puts(t, "LF|");
		break;
	case SMTP_LINE_BARE_CR:
		t_puts(t, "CR|");
		break;
	case SMTP_LINE_NEED_MORE:
		fail();
	}
}

/* Feeds one chunk completely, recording every event. */
static void feed_chunk(struct smtp_line_reader *r, const char *in, size_t len, struct transcript *t)
{
	size_t off = 0, consumed, line_len, rounds = 0;
	const char *line;
	enum smtp_line_status st;

	while (off < len) {
		st = smtp_line_feed(r, in + off, len - off, &consumed, &line, &line_len);
		assert_true(consumed <= len - off);
		assert_true(r->len + 2 <= r->max || r->len == 0);
		off += consumed;
		assert_true(++rounds <= 2 * len + 2);
		if (st == SMTP_LINE_NEED_MORE) {
			assert_int_equal(off, len);
			break;
		}
		t_event(t, st, line, line_len);
	}
}

/* Feeds IN in the chunks given by the cut points CUTS[0..N_CUTS). */
static void run_cuts(const char *in, size_t len, size_t max, const size_t *cuts, size_t n_cuts,
                     struct transcript *t)
{
	struct smtp_line_reader r;
	size_t start = 0;

	t->len = 0;
	t->text[0] = '\0';
	smtp_line_reader_init(&r, max);
	for (size_t i = 0; i <= n_cuts; i++) {
		size_t end = i < n_cuts ? cuts[i] : len;

		feed_chunk(&r, in + start, end - start, t);
		start = end;
	}
	smtp_line_reader_free(&r);
}

/* Asserts that IN gives EXPECTED whole, byte by byte, and cut at any one or
 * two points. */
static void check_lines(const char *in, size_t len, size_t max, const char *expected)
{
	static struct transcript t;
	size_t *cuts = malloc((len + 1) * sizeof(*cuts));

	run_cuts(in, len, max, NULL, 0, &t);
	assert_string_equal(t.text, expected);
	for (size_t i = 0; i < len; i++)
		cuts[i] = i;
	run_cuts(in, len, max, cuts, len, &t);
	assert_string_equal(t.text, expected);
	for (size_t i = 0; i <= len; i += len <= 4096 ? 1 : 997) {
		for (size_t j = i; j <= len && len <= 64; j++) {
			size_t two[2] = {i, j};

			run_cuts(in, len, max, two, 2, &t);
			assert_string_equal(t.text, expected);
		}
		run_cuts(in, len, max, &i, 1, &t);
		assert_string_equal(t.text, expected);
	}
	free(cuts);
}

#define CHECK(in, max, expected) check_lines(in, sizeof(in) - 1, max, expected)

static void test_single_line(void **state)
{
	CHECK("EHLO example.com\r\n", 512, "OK:EHLO example.com|");
	CHECK("\r\n", 512, "OK:|");
	CHECK("NOOP", 512, "");
}

static void test_pipelined(void **state)
{
	CHECK("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n", 512,
	      "OK:MAIL FROM:<a@b>|OK:RCPT TO:<c@d>|OK:DATA|");
	CHECK("NOOP\r\n\r\nQUIT\r\nRSET", 512, "OK:NOOP|OK:|OK:QUIT|");
}

static void test_cr_lf_across_feeds(void **state)
{
	struct smtp_line_reader r;
	const char *line;
	size_t consumed, len;

	smtp_line_reader_init(&r, 512);
	assert_int_equal(smtp_line_feed(&r, "NOOP\r", 5, &consumed, &line, &len),
	                 SMTP_LINE_NEED_MORE);
	assert_int_equal(consumed, 5);
	assert_int_equal(smtp_line_feed(&r, "\nQUIT\r\n", 7, &consumed, &line, &len), SMTP_LINE_OK);
	assert_int_equal(consumed, 1);
	assert_string_equal(line, "NOOP");
	assert_int_equal(len, 4);
	assert_int_equal(smtp_line_feed(&r, "QUIT\r\n", 6, &consumed, &line, &len), SMTP_LINE_OK);
	assert_string_equal(line, "QUIT");
	smtp_line_reader_free(&r);
}

static void test_too_long(void **state)
{
	static char big[20000];

	/* max counts the CRLF: 8 + 2 fits in 10, 9 + 2 does not. */
	CHECK("12345678\r\n", 10, "OK:12345678|");
	CHECK("123456789\r\nNOOP\r\n", 10, "LONG|OK:NOOP|");
	CHECK("\r\na\r\n", 2, "OK:|LONG|");
	CHECK("\r\n", 1, "LONG|");
	CHECK("1234567890123456789012345678901234567890\r\nQUIT\r\n", 10, "LONG|OK:QUIT|");
	/* A long line is reported once, when its CRLF arrives. */
	CHECK("123456789012345", 10, "");
	memset(big, 'x', sizeof(big));
	memcpy(big + sizeof(big) - 8, "\r\nA\r\n", 5);
	check_lines(big, sizeof(big) - 3, 512, "LONG|OK:A|");
}

static void test_bare_lf(void **state)
{
	CHECK("NOOP\nQUIT\r\n", 512, "LF|OK:QUIT|");
	CHECK("\n\r\n", 512, "LF|OK:|");
	CHECK("AB\n\nCD\r\n", 512, "LF|LF|OK:CD|");
	/* A bare LF inside an over-long line ends the discarding. */
	CHECK("1234567890123\nA\r\n", 5, "LF|OK:A|");
}

static void test_bare_cr(void **state)
{
	CHECK("NOOP\rQUIT\r\n", 512, "CR|OK:QUIT|");
	/* CR CR LF: the first CR is bare, the second one pairs with the LF. */
	CHECK("AB\r\r\nCD\r\n", 512, "CR|OK:|OK:CD|");
	CHECK("\r.\r\n", 512, "CR|OK:.|");
	CHECK("AB\r", 512, "");
	CHECK("AB\rX", 512, "CR|");
}

static void test_bare_cr_consumed(void **state)
{
	struct smtp_line_reader r;
	const char *line;
	size_t consumed, len;

	smtp_line_reader_init(&r, 512);
	/* The byte after the bare CR is left to be fed again. */
	assert_int_equal(smtp_line_feed(&r, "AB\rX\r\n", 6, &consumed, &line, &len),
	                 SMTP_LINE_BARE_CR);
	assert_int_equal(consumed, 3);
	assert_int_equal(smtp_line_feed(&r, "AB\r", 3, &consumed, &line, &len),
	                 SMTP_LINE_NEED_MORE);
	assert_int_equal(smtp_line_feed(&r, "X\r\n", 3, &consumed, &line, &len), SMTP_LINE_BARE_CR);
	assert_int_equal(consumed, 0);
	assert_int_equal(smtp_line_feed(&r, "X\r\n", 3, &consumed, &line, &len), SMTP_LINE_OK);
	assert_string_equal(line, "X");
	/* The bare LF itself is consumed. */
	assert_int_equal(smtp_line_feed(&r, "A\nB", 3, &consumed, &line, &len), SMTP_LINE_BARE_LF);
	assert_int_equal(consumed, 2);
	smtp_line_reader_free(&r);
}

static void test_nul_kept(void **state)
{
	CHECK("A\0B\r\n", 512, "OK:A\\0B|");
}

static void test_reset(void **state)
{
	struct smtp_line_reader r;
	const char *line;
	size_t consumed, len;

	smtp_line_reader_init(&r, 512);
	smtp_line_feed(&r, "PARTIAL\r", 8, &consumed, &line, &len);
	smtp_line_reader_reset(&r);
	/* The pending CR is forgotten too, so this LF is bare. */
	assert_int_equal(smtp_line_feed(&r, "\nX\r\n", 4, &consumed, &line, &len),
	                 SMTP_LINE_BARE_LF);
	assert_int_equal(smtp_line_feed(&r, "X\r\n", 3, &consumed, &line, &len), SMTP_LINE_OK);
	assert_string_equal(line, "X");
	smtp_line_feed(&r, "PARTIAL", 7, &consumed, &line, &len);
	smtp_line_reader_reset(&r);
	assert_int_equal(smtp_line_feed(&r, "Y\r\n", 3, &consumed, &line, &len), SMTP_LINE_OK);
	assert_string_equal(line, "Y");
	smtp_line_reader_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_single_line),
	    cmocka_unit_test(test_pipelined),
	    cmocka_unit_test(test_cr_lf_across_feeds),
	    cmocka_unit_test(test_too_long),
	    cmocka_unit_test(test_bare_lf),
	    cmocka_unit_test(test_bare_cr),
	    cmocka_unit_test(test_bare_cr_consumed),
	    cmocka_unit_test(test_nul_kept),
	    cmocka_unit_test(test_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
