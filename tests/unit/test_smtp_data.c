/*
 * test_smtp_data.c: the DATA end-of-data machine. Every input is fed whole,
 * byte by byte and cut at every point (and short ones at every pair of
 * points); all must agree with each other and with a simple reference.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_parse.h"

#define OUT_MAX 32768

struct data_result {
	int done;
	size_t consumed;
	char out[OUT_MAX];
	size_t out_len;
	size_t line_len;
	int line_too_long;
	int bare_lf;
	int bare_cr;
	uint64_t size;
};

/* Feeds IN cut at CUTS[0..N_CUTS) into a fresh parser; each call gets an
 * output buffer of exactly its length + 2 so that ASan sees any overrun. */
static void run_cuts(const char *in, size_t len, size_t max_line, const size_t *cuts, size_t n_cuts,
                     struct data_result *r)
{
	struct smtp_data_parser p;
	size_t start = 0;

	memset(r, 0, sizeof(*r));
	smtp_data_init(&p, max_line);
	for (size_t i = 0; i <= n_cuts && !r->done; i++) {
		size_t end = i < n_cuts ? cuts[i] : len;
		size_t n = end - start, out_len, consumed;
		char *out = malloc(n + 2);

		r->done = smtp_data_feed(&p, in + start, n, out, &out_len, &consumed);
		assert_true(out_len <= n + 2);
		assert_true(consumed <= n);
		if (!r->done)
			assert_int_equal(consumed, n);
		assert_true(r->out_len + out_len <= sizeof(r->out));
		memcpy(r->out + r->out_len, out, out_len);
		r->out_len += out_len;
		r->consumed += consumed;
		free(out);
		start = end;
	}
	r->line_len = p.line_len;
	r->line_too_long = p.line_too_long;
	r->bare_lf = p.bare_lf;
	r->bare_cr = p.bare_cr;
	r->size = p.size;
	assert_int_equal(r->size, r->out_len);
	assert_int_equal(r->done, p.state == SMTP_DATA_DONE);
}

/* Counts one octet of the reference's current line against MAX_LINE. */
static void ref_count(size_t *line_len, size_t n, size_t max_line, struct data_result *r)
{
	*line_len += n;
	if (*line_len > max_line)
		r->line_too_long = 1;
}

/* The reference: a line starts at the input start and after each "\r\n"
 * pair; a '.' there is dropped, and ".\r\n" there is the end. */
static void reference(const char *in, size_t len, size_t max_line, struct data_result *r)
{
	int line_start = 1;

	memset(r, 0, sizeof(*r));
	r->consumed = len;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		ref_count(&r->line_len, 1, max_line, r);
		if (line_start && c == '.') {
			line_start = 0;
			if (i + 2 == len && in[i + 1] == '\r') {
				ref_count(&r->line_len, 1, max_line, r); /* CR held back */
				break;
			}
			if (i + 2 < len && in[i + 1] == '\r' && in[i + 2] == '\n') {
				ref_count(&r->line_len, 2, max_line, r);
				r->done = 1;
				r->consumed = i + 3;
				break;
			}
			continue;
		}
		line_start = 0;
		r->out[r->out_len++] = c;
		if (c == '\n' && i > 0 && in[i - 1] == '\r') {
			line_start = 1;
			r->line_len = 0;
		} else if (c == '\n') {
			r->bare_lf = 1;
		}
		if (c == '\r' && i + 1 < len && in[i + 1] != '\n')
			r->bare_cr = 1;
	}
	r->size = r->out_len;
}

static void assert_same(const struct data_result *a, const struct data_result *b)
{
	assert_int_equal(a->done, b->done);
	assert_int_equal(a->consumed, b->consumed);
	assert_int_equal(a->out_len, b->out_len);
	assert_memory_equal(a->out, b->out, a->out_len);
	assert_int_equal(a->line_len, b->line_len);
	assert_int_equal(a->line_too_long, b->line_too_long);
	assert_int_equal(a->bare_lf, b->bare_lf);
	assert_int_equal(a->bare_cr, b->bare_cr);
	assert_int_equal(a->size, b->size);
}

/* Runs IN whole, byte by byte, cut once anywhere and (if PAIRS and IN is
 * short) cut twice anywhere; checks all agree with the reference and returns
 * the result. */
static const struct data_result *check_cuts(const char *in, size_t len, size_t max_line, int pairs)
{
	static struct data_result ref, got;
	size_t *cuts = malloc((len + 1) * sizeof(*cuts));

	reference(in, len, max_line, &ref);
	run_cuts(in, len, max_line, NULL, 0, &got);
	assert_same(&got, &ref);
	for (size_t i = 0; i < len; i++)
		cuts[i] = i + 1;
	run_cuts(in, len, max_line, cuts, len, &got);
	assert_same(&got, &ref);
	for (size_t i = 0; i <= len; i += len <= 4096 ? 1 : 499) {
		run_cuts(in, len, max_line, &i, 1, &got);
		assert_same(&got, &ref);
		for (size_t j = i; pairs && j <= len && len <= 80; j++) {
			size_t two[2] = {i, j};

			run_cuts(in, len, max_line, two, 2, &got);
			assert_same(&got, &ref);
		}
	}
	free(cuts);
	return &ref;
}

static const struct data_result *check_splits(const char *in, size_t len, size_t max_line)
{
	return check_cuts(in, len, max_line, 1);
}

#define CHECK(in, max_line) check_splits(in, sizeof(in) - 1, max_line)

/* Asserts the message ends after CONSUMED bytes with body OUT. */
static void check_message(const struct data_result *r, size_t consumed, const char *out,
                          size_t out_len)
{
	assert_true(r->done);
	assert_int_equal(r->consumed, consumed);
	assert_int_equal(r->out_len, out_len);
	assert_memory_equal(r->out, out, out_len);
}

#define CHECK_MESSAGE(r, consumed, out) check_message(r, consumed, out, sizeof(out) - 1)

static void test_simple_message(void **state)
{
	const struct data_result *r = CHECK("Subject: hi\r\n\r\nHello\r\n.\r\n", 1000);

	CHECK_MESSAGE(r, 25, "Subject: hi\r\n\r\nHello\r\n");
	assert_false(r->bare_lf || r->bare_cr || r->line_too_long);
}

static void test_empty_message(void **state)
{
	CHECK_MESSAGE(CHECK(".\r\n", 1000), 3, "");
	CHECK_MESSAGE(CHECK("\r\n.\r\n", 1000), 5, "\r\n");
}

static void test_dot_unstuffing(void **state)
{
	CHECK_MESSAGE(CHECK("..foo\r\n.\r\n", 1000), 10, ".foo\r\n");
	CHECK_MESSAGE(CHECK(".foo\r\n.\r\n", 1000), 9, "foo\r\n");
	CHECK_MESSAGE(CHECK("a\r\n..\r\n.\r\n", 1000), 10, "a\r\n.\r\n");
	CHECK_MESSAGE(CHECK("a\r\n...\r\n.\r\n", 1000), 11, "a\r\n..\r\n");
	CHECK_MESSAGE(CHECK("a.b\r\n .\r\n.\r\n", 1000), 12, "a.b\r\n .\r\n");
	/* Dots not at a line start stay. */
	CHECK_MESSAGE(CHECK("x.\r\n.\r\n", 1000), 7, "x.\r\n");
}

static void test_bytes_after_end(void **state)
{
	static const char in[] = "x\r\n.\r\nQUIT\r\n";
	const struct data_result *r = CHECK(in, 1000);
	struct smtp_data_parser p;
	char out[16];
	size_t out_len, consumed;

	CHECK_MESSAGE(r, 6, "x\r\n");
	/* Once done, nothing more is taken. */
	smtp_data_init(&p, 1000);
	assert_int_equal(smtp_data_feed(&p, in, sizeof(in) - 1, out, &out_len, &consumed), 1);
	assert_int_equal(consumed, 6);
	assert_int_equal(smtp_data_feed(&p, in + 6, 6, out, &out_len, &consumed), 1);
	assert_int_equal(consumed, 0);
	assert_int_equal(out_len, 0);
	/* Only the first of two end markers counts. */
	CHECK_MESSAGE(CHECK("a\r\n.\r\n.\r\n", 1000), 6, "a\r\n");
}

struct smuggle {
	const char *variant;
	const char *body; /* what the variant becomes in the message */
	int bare_lf;
	int bare_cr;
};

static const struct smuggle smuggles[] = {
    {"\n.\n", "\n.\n", 1, 0},
    {"\r.\r", "\r.\r", 0, 1},
    {"\n.\r\n", "\n.\r\n", 1, 0},
    {"\r\n.\n", "\r\n\n", 1, 0},
    {"\r.\r\n", "\r.\r\n", 0, 1},
    {"\n.\r", "\n.\r", 1, 1},
    {"\r\n.\r", "\r\n\r", 0, 1},
    {"\r\n.\r\r\n", "\r\n\r\r\n", 0, 1},
    {"\r\r.\n\n", "\r\r.\n\n", 1, 1},
    {"\n\r.\r\n", "\n\r.\r\n", 1, 1},
    {"\r\n.\n\r\n", "\r\n\n\r\n", 1, 0},
    {"\r\n\n.\r\n", "\r\n\n.\r\n", 1, 0},
};

#define SMUGGLE_HEAD "Subject: x\r\n\r\nhello"
#define SMUGGLE_TAIL "MAIL FROM:<evil@example.com>"

/* Checks that VARIANT never ends the data and that the real end after it
 * ends exactly one message with the expected body. */
static void check_smuggle(const struct smuggle *s)
{
	char in[256], expected[256];
	const struct data_result *r;
	size_t head_len;

	snprintf(in, sizeof(in), "%s%s%s", SMUGGLE_HEAD, s->variant, SMUGGLE_TAIL);
	head_len = strlen(in);
	r = check_splits(in, head_len, 1000);
	assert_false(r->done);
	assert_int_equal(r->consumed, head_len);

	snprintf(in + head_len, sizeof(in) - head_len, "\r\n.\r\nRSET\r\n.\r\n");
	snprintf(expected, sizeof(expected), "%s%s%s\r\n", SMUGGLE_HEAD, s->body, SMUGGLE_TAIL);
	r = check_splits(in, strlen(in), 1000);
	check_message(r, head_len + 5, expected, strlen(expected));
	assert_int_equal(r->bare_lf, s->bare_lf);
	assert_int_equal(r->bare_cr, s->bare_cr);
}

static void test_smuggling_variants(void **state)
{
	for (size_t i = 0; i < sizeof(smuggles) / sizeof(smuggles[0]); i++)
		check_smuggle(&smuggles[i]);
}

static void test_bare_at_start(void **state)
{
	const struct data_result *r = CHECK(".\n.\r\n", 1000);

	/* ".\n" has its dot dropped but does not start a line: no end yet. */
	assert_false(r->done);
	assert_true(r->bare_lf);
	r = CHECK(".\r.\r\n", 1000);
	assert_false(r->done);
	assert_true(r->bare_cr);
	r = CHECK("\n.\r\n", 1000);
	assert_false(r->done);
	r = CHECK("\r.\r\n", 1000);
	assert_false(r->done);
}

static void test_line_too_long(void **state)
{
	static char big[30000];
	const struct data_result *r;

	r = CHECK("12345678\r\n.\r\n", 10);
	assert_true(r->done);
	assert_false(r->line_too_long);
	r = CHECK("123456789\r\n.\r\n", 10);
	assert_true(r->done);
	assert_true(r->line_too_long);
	/* The leading dot counts, as sent. */
	assert_true(CHECK("..2345678\r\n.\r\n", 10)->line_too_long);
	assert_false(CHECK(".12345678\r\nabc\r\n.\r\n", 11)->line_too_long);
	/* Flagged while the line is still going, before any CRLF. */
	memset(big, 'x', sizeof(big));
	r = check_splits(big, sizeof(big), 1000);
	assert_true(r->line_too_long);
	assert_false(r->done);
	assert_int_equal(r->line_len, sizeof(big));
	memcpy(big + sizeof(big) - 5, "\r\n.\r\n", 5);
	r = check_splits(big, sizeof(big), 1000);
	assert_true(r->done);
	assert_true(r->line_too_long);
	assert_int_equal(r->out_len, sizeof(big) - 3);
}

static void test_line_len_tracking(void **state)
{
	struct smtp_data_parser p;
	char out[8];
	size_t out_len, consumed;

	smtp_data_init(&p, 1000);
	assert_int_equal(p.state, SMTP_DATA_LINE_START);
	smtp_data_feed(&p, "abc", 3, out, &out_len, &consumed);
	assert_int_equal(p.state, SMTP_DATA_IN_LINE);
	assert_int_equal(p.line_len, 3);
	smtp_data_feed(&p, "\r", 1, out, &out_len, &consumed);
	assert_int_equal(p.state, SMTP_DATA_CR);
	assert_int_equal(p.line_len, 4);
	smtp_data_feed(&p, "\n", 1, out, &out_len, &consumed);
	assert_int_equal(p.state, SMTP_DATA_LINE_START);
	assert_int_equal(p.line_len, 0);
	smtp_data_feed(&p, ".", 1, out, &out_len, &consumed);
	assert_int_equal(p.state, SMTP_DATA_DOT);
	assert_int_equal(out_len, 0);
	smtp_data_feed(&p, "\r", 1, out, &out_len, &consumed);
	assert_int_equal(p.state, SMTP_DATA_DOT_CR);
	assert_int_equal(out_len, 0);
	/* The held CR comes out with the byte that shows it was bare. */
	smtp_data_feed(&p, "x", 1, out, &out_len, &consumed);
	assert_int_equal(out_len, 2);
	assert_memory_equal(out, "\rx", 2);
	assert_true(p.bare_cr);
	assert_int_equal(p.size, 5 + 2);
}

static void test_nul_and_binary(void **state)
{
	static const char in[] = "a\0b\xff\r\n.\r\n";

	CHECK_MESSAGE(CHECK(in, 1000), 9, "a\0b\xff\r\n");
}

/* Every string of up to 8 bytes over { CR, LF, '.', 'a' }, fed whole, byte
 * by byte and cut once anywhere (up to 5 bytes: twice), against the
 * reference. */
static void test_exhaustive_small(void **state)
{
	static const char alphabet[] = "\r\n.a";
	char in[8];

	for (size_t len = 0; len <= sizeof(in); len++) {
		size_t total = 1;

		for (size_t i = 0; i < len; i++)
			total *= 4;
		for (size_t k = 0; k < total; k++) {
			size_t v = k;

			for (size_t i = 0; i < len; i++, v /= 4)
				in[i] = alphabet[v % 4];
			check_cuts(in, len, 4, len <= 5);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple_message),     cmocka_unit_test(test_empty_message),
	    cmocka_unit_test(test_dot_unstuffing),     cmocka_unit_test(test_bytes_after_end),
	    cmocka_unit_test(test_smuggling_variants), cmocka_unit_test(test_bare_at_start),
	    cmocka_unit_test(test_line_too_long),      cmocka_unit_test(test_line_len_tracking),
	    cmocka_unit_test(test_nul_and_binary),     cmocka_unit_test(test_exhaustive_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
