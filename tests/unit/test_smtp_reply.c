/*
 * test_smtp_reply.c: the SMTP client's reply parser, fed whole, one byte at
 * a time and split at every one and two points (all feedings must give the
 * same transcript); the EHLO extension lookup; and the DATA encoder, checked
 * exhaustively on short inputs against a reference encoder and decoder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/dotstuff.h"
#include "smtp/smtp_reply.h"

#define TRANSCRIPT_MAX (1 << 20)

struct transcript {
	char *text;
	size_t len;
};

/* ---- the reply parser --------------------------------------------------- */

/* Appends S to T. */
static void t_puts(struct transcript *t, const char *s)
{
	size_t n = strlen(s);

	assert_true(t->len + n < TRANSCRIPT_MAX);
	memcpy(t->text + t->len, s, n + 1);
	t->len += n;
}

/* Checks what every complete reply must satisfy. */
static void check_reply_invariants(const struct smtp_reply *r)
{
	assert_in_range(r->code, 200, 599);
	assert_in_range(r->n_lines, 1, SMTP_REPLY_MAX_LINES);
	assert_true(strlen(r->text) < sizeof(r->text));
	assert_true(strlen(r->enhanced) < sizeof(r->enhanced));
	if (r->enhanced[0] != '\0')
		assert_int_equal(r->enhanced[0], '0' + r->code / 100);
	for (unsigned i = 0; i < r->n_lines; i++) {
		assert_true(strlen(r->lines[i]) <= SMTP_REPLY_LINE_MAX - 2);
		assert_null(strpbrk(r->lines[i], "\r\n"));
	}
}

/* Records a complete reply as "OK code [enhanced] text={...} lines={a|b} @offset;". */
static void t_reply(struct transcript *t, const struct smtp_reply *r, size_t offset)
{
	char head[64];

	check_reply_invariants(r);
	snprintf(head, sizeof(head), "OK %u [%s] text={", r->code, r->enhanced);
	t_puts(t, head);
	t_puts(t, r->text);
	t_puts(t, "} lines={");
	for (unsigned i = 0; i < r->n_lines; i++) {
		if (i > 0)
			t_puts(t, "|");
		t_puts(t, r->lines[i]);
	}
	snprintf(head, sizeof(head), "} @%zu;", offset);
	t_puts(t, head);
}

/* Feeds IN in the chunks given by the cut points CUTS[0..N_CUTS) and records
 * every reply and error; feeding stops at the first error. A reply left
 * unfinished at the end is recorded as "MORE". */
static void run_cuts(const char *in, size_t len, const size_t *cuts, size_t n_cuts,
                     struct transcript *t)
{
	static struct smtp_reply_parser p;
	static struct smtp_reply reply;
	size_t offset = 0;

	t->len = 0;
	t->text[0] = '\0';
	smtp_reply_parser_init(&p);
	for (size_t i = 0; i <= n_cuts; i++) {
		size_t end = i < n_cuts ? cuts[i] : len;

		while (offset < end) {
			const char *error = NULL;
			size_t consumed = SIZE_MAX;
			enum smtp_reply_status st = smtp_reply_feed(&p, in + offset, end - offset,
			                                            &consumed, &reply, &error);

			assert_true(consumed <= end - offset);
			offset += consumed;
			if (st == SMTP_REPLY_NEED_MORE) {
				assert_int_equal(offset, end);
				break;
			}
			assert_true(consumed > 0);
			if (st == SMTP_REPLY_ERROR) {
				char at[32];

				assert_non_null(error);
				snprintf(at, sizeof(at), " @%zu;", offset);
				t_puts(t, "ERR ");
				t_puts(t, error);
				t_puts(t, at);
				return;
			}
			t_reply(t, &reply, offset);
		}
	}
	if (p.len > 0 || p.saw_cr || p.in_reply)
		t_puts(t, "MORE");
}

/* Asserts that IN (LEN octets) gives EXPECTED whole, byte by byte, cut at any
 * one point and (for short inputs) at any two. */
static void check_reply_len(const char *in, size_t len, const char *expected)
{
	struct transcript t = {.text = malloc(TRANSCRIPT_MAX)};
	size_t *cuts = malloc((len + 1) * sizeof(*cuts));

	assert_non_null(t.text);
	assert_non_null(cuts);
	run_cuts(in, len, NULL, 0, &t);
	assert_string_equal(t.text, expected);
	for (size_t i = 0; i < len; i++)
		cuts[i] = i;
	run_cuts(in, len, cuts, len, &t);
	assert_string_equal(t.text, expected);
	for (size_t i = 0; i <= len; i += len <= 2048 ? 1 : 97) {
		run_cuts(in, len, &i, 1, &t);
		assert_string_equal(t.text, expected);
		for (size_t j = i; j <= len && len <= 80; j++) {
			size_t two[2] = {i, j};

			run_cuts(in, len, two, 2, &t);
			assert_string_equal(t.text, expected);
		}
	}
	free(cuts);
	free(t.text);
}

static void check_reply(const char *in, const char *expected)
{
	check_reply_len(in, strlen(in), expected);
}

static void test_reply_single_line(void **state)
{
	(void)state;
	check_reply("220 mx.example.test ESMTP ready\r\n",
	            "OK 220 [] text={mx.example.test ESMTP ready} "
	            "lines={mx.example.test ESMTP ready} @33;");
	check_reply("250\r\n", "OK 250 [] text={} lines={} @5;");
	check_reply("250 \r\n", "OK 250 [] text={} lines={} @6;");
	check_reply("354 End data with <CR><LF>.<CR><LF>\r\n",
	            "OK 354 [] text={End data with <CR><LF>.<CR><LF>} "
	            "lines={End data with <CR><LF>.<CR><LF>} @37;");
	check_reply("599 x\r\n", "OK 599 [] text={x} lines={x} @7;");
	check_reply("200 x\r\n", "OK 200 [] text={x} lines={x} @7;");
}

static void test_reply_multi_line_ehlo(void **state)
{
	(void)state;
	check_reply("250-mx.example.test Hello\r\n"
	            "250-PIPELINING\r\n"
	            "250-SIZE 10240000\r\n"
	            "250-8BITMIME\r\n"
	            "250-STARTTLS\r\n"
	            "250 ENHANCEDSTATUSCODES\r\n",
	            "OK 250 [] text={mx.example.test Hello\nPIPELINING\nSIZE 10240000\n8BITMIME\n"
	            "STARTTLS\nENHANCEDSTATUSCODES} lines={mx.example.test Hello|PIPELINING|SIZE "
	            "10240000|8BITMIME|STARTTLS|ENHANCEDSTATUSCODES} @115;");
	check_reply("250-\r\n250-\r\n250\r\n", "OK 250 [] text={\n\n} lines={||} @17;");
	/* a line of just the code ends the reply */
	check_reply("250-a\r\n250\r\n250 b\r\n",
	            "OK 250 [] text={a\n} lines={a|} @12;OK 250 [] text={b} lines={b} @19;");
}

static void test_reply_enhanced(void **state)
{
	(void)state;
	check_reply("550 5.1.1 <bob@example.test>: user unknown\r\n",
	            "OK 550 [5.1.1] text={<bob@example.test>: user unknown} "
	            "lines={5.1.1 <bob@example.test>: user unknown} @44;");
	check_reply("250 2.0.0\r\n", "OK 250 [2.0.0] text={} lines={2.0.0} @11;");
	check_reply("250 2.0.0   Ok\r\n", "OK 250 [2.0.0] text={Ok} lines={2.0.0   Ok} @16;");
	check_reply("451 4.999.999 x\r\n", "OK 451 [4.999.999] text={x} lines={4.999.999 x} @17;");
	check_reply("250-2.1.0 first\r\n250 2.1.0 second\r\n",
	            "OK 250 [2.1.0] text={first\n2.1.0 second} "
	            "lines={2.1.0 first|2.1.0 second} @35;");
	/* not enhanced codes: wrong class, bad shape, no space after */
	check_reply("550 2.1.1 x\r\n", "OK 550 [] text={2.1.1 x} lines={2.1.1 x} @13;");
	check_reply("354 3.0.0 go\r\n", "OK 354 [] text={3.0.0 go} lines={3.0.0 go} @14;");
	check_reply("250 2.1000.0 x\r\n", "OK 250 [] text={2.1000.0 x} lines={2.1000.0 x} @16;");
	check_reply("250 2.1.1000 x\r\n", "OK 250 [] text={2.1.1000 x} lines={2.1.1000 x} @16;");
	check_reply("250 2..0 x\r\n", "OK 250 [] text={2..0 x} lines={2..0 x} @12;");
	check_reply("250 2.0. x\r\n", "OK 250 [] text={2.0. x} lines={2.0. x} @12;");
	check_reply("250 2.0.0x\r\n", "OK 250 [] text={2.0.0x} lines={2.0.0x} @12;");
	check_reply("250 2.0\r\n", "OK 250 [] text={2.0} lines={2.0} @9;");
	check_reply("250  2.0.0 x\r\n", "OK 250 [] text={ 2.0.0 x} lines={ 2.0.0 x} @14;");
	/* only the first line's code is taken out */
	check_reply("550-x\r\n550 5.1.1 y\r\n",
	            "OK 550 [] text={x\n5.1.1 y} lines={x|5.1.1 y} @20;");
}

static void test_reply_bad_codes(void **state)
{
	(void)state;
	check_reply("600 x\r\n", "ERR reply code is not three digits in 2xx-5xx @7;");
	check_reply("199 x\r\n", "ERR reply code is not three digits in 2xx-5xx @7;");
	check_reply("2a0 x\r\n", "ERR reply code is not three digits in 2xx-5xx @7;");
	check_reply("-50 x\r\n", "ERR reply code is not three digits in 2xx-5xx @7;");
	check_reply("25 x\r\n", "ERR reply code is not three digits in 2xx-5xx @6;");
	check_reply("25\r\n", "ERR reply line shorter than a reply code @4;");
	check_reply("\r\n", "ERR reply line shorter than a reply code @2;");
	check_reply("2500 x\r\n", "ERR reply code not followed by ' ' or '-' @8;");
	check_reply("250x\r\n", "ERR reply code not followed by ' ' or '-' @6;");
	check_reply("250\tx\r\n", "ERR reply code not followed by ' ' or '-' @7;");
	check_reply("250-a\r\n25x b\r\n", "ERR reply code is not three digits in 2xx-5xx @14;");
}

static void test_reply_mixed_codes(void **state)
{
	(void)state;
	check_reply("250-a\r\n251 b\r\n", "ERR reply lines with different codes @14;");
	check_reply("250-a\r\n250-b\r\n550 c\r\n", "ERR reply lines with different codes @21;");
	/* the same code in the next reply is fine */
	check_reply("250 a\r\n251 b\r\n",
	            "OK 250 [] text={a} lines={a} @7;OK 251 [] text={b} lines={b} @14;");
}

static void test_reply_bare_lf_cr_nul(void **state)
{
	(void)state;
	check_reply("250-a\n250 b\n", "OK 250 [] text={a\nb} lines={a|b} @12;");
	check_reply("250-a\r\n250 b\n", "OK 250 [] text={a\nb} lines={a|b} @13;");
	check_reply("250 a\rb\r\n", "ERR bare CR in a reply @7;");
	check_reply("250 a\r\r\n", "ERR bare CR in a reply @7;");
	check_reply_len("250 a\0b\r\n", 9, "ERR NUL byte in a reply @6;");
}

/* Builds a reply line "250<sep>" followed by N 'x' octets and CRLF into BUF. */
static size_t long_line(char *buf, char sep, size_t n)
{
	memcpy(buf, "250", 3);
	buf[3] = sep;
	memset(buf + 4, 'x', n);
	memcpy(buf + 4 + n, "\r\n", 2);
	return n + 6;
}

static void test_reply_long_lines(void **state)
{
	char in[2048], expected[2048], x[SMTP_REPLY_LINE_MAX];
	size_t max_text = SMTP_REPLY_LINE_MAX - 2 - 4, len;

	(void)state;
	/* 510 octets and the CRLF: the longest allowed */
	len = long_line(in, ' ', max_text);
	memset(x, 'x', max_text);
	x[max_text] = '\0';
	snprintf(expected, sizeof(expected), "OK 250 [] text={%s} lines={%s} @%zu;", x, x, len);
	check_reply_len(in, len, expected);
	/* and with a bare LF */
	in[len - 2] = '\n';
	snprintf(expected, sizeof(expected), "OK 250 [] text={%s} lines={%s} @%zu;", x, x, len - 1);
	check_reply_len(in, len - 1, expected);
	/* one more: refused at the 511th octet of the line */
	len = long_line(in, ' ', max_text + 1);
	check_reply_len(in, len, "ERR reply line too long @511;");
	len = long_line(in, '-', 2000);
	check_reply_len(in, len, "ERR reply line too long @511;");
}

/* Appends N lines "250-l<i>" (the last "250 l<i>") to IN. */
static size_t many_lines(char *in, unsigned n)
{
	size_t len = 0;

	for (unsigned i = 0; i < n; i++)
		len += (size_t)sprintf(in + len, "250%cl%u\r\n", i + 1 < n ? '-' : ' ', i);
	return len;
}

static void test_reply_too_many_lines(void **state)
{
	char *in = malloc(65536), *expected = malloc(65536);
	size_t len, n;

	(void)state;
	assert_non_null(in);
	assert_non_null(expected);
	len = many_lines(in, SMTP_REPLY_MAX_LINES);
	n = (size_t)sprintf(expected, "OK 250 [] text={");
	for (unsigned i = 0; i < SMTP_REPLY_MAX_LINES; i++)
		n += (size_t)sprintf(expected + n, "%sl%u", i ? "\n" : "", i);
	n += (size_t)sprintf(expected + n, "} lines={");
	for (unsigned i = 0; i < SMTP_REPLY_MAX_LINES; i++)
		n += (size_t)sprintf(expected + n, "%sl%u", i ? "|" : "", i);
	sprintf(expected + n, "} @%zu;", len);
	check_reply_len(in, len, expected);
	len = many_lines(in, SMTP_REPLY_MAX_LINES + 1);
	sprintf(expected, "ERR too many lines in one reply @%zu;", len);
	check_reply_len(in, len, expected);
	free(in);
	free(expected);
}

static void test_reply_text_cut_short(void **state)
{
	static struct smtp_reply_parser p;
	static struct smtp_reply r;
	char *in = malloc(65536);
	size_t len = 0, consumed;
	const char *error;

	(void)state;
	assert_non_null(in);
	for (int i = 0; i < 20; i++)
		len += long_line(in + len, i < 19 ? '-' : ' ', 500);
	smtp_reply_parser_init(&p);
	assert_int_equal(smtp_reply_feed(&p, in, len, &consumed, &r, &error), SMTP_REPLY_OK);
	assert_int_equal(consumed, len);
	assert_int_equal(r.n_lines, 20);
	assert_int_equal(strlen(r.text), SMTP_REPLY_TEXT_MAX - 1);
	assert_int_equal(strlen(r.lines[19]), 500);
	free(in);
}

static void test_reply_two_in_one_buffer(void **state)
{
	static struct smtp_reply_parser p;
	static struct smtp_reply r;
	const char in[] = "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go on\r\n";
	size_t consumed = 0;
	const char *error = NULL;

	(void)state;
	smtp_reply_parser_init(&p);
	assert_int_equal(smtp_reply_feed(&p, in, sizeof(in) - 1, &consumed, &r, &error),
	                 SMTP_REPLY_OK);
	assert_int_equal(consumed, 14);
	assert_int_equal(r.code, 250);
	assert_string_equal(r.enhanced, "2.1.0");
	assert_int_equal(smtp_reply_feed(&p, in + 14, sizeof(in) - 15, &consumed, &r, &error),
	                 SMTP_REPLY_OK);
	assert_int_equal(consumed, 14);
	assert_string_equal(r.enhanced, "2.1.5");
	assert_int_equal(smtp_reply_feed(&p, in + 28, sizeof(in) - 29, &consumed, &r, &error),
	                 SMTP_REPLY_OK);
	assert_int_equal(consumed, 11);
	assert_int_equal(r.code, 354);
	assert_string_equal(r.enhanced, "");
	assert_int_equal(r.n_lines, 1);
	/* nothing left over from the earlier replies */
	assert_int_equal(smtp_reply_feed(&p, "", 0, &consumed, &r, &error), SMTP_REPLY_NEED_MORE);
	assert_int_equal(consumed, 0);
	check_reply(in, "OK 250 [2.1.0] text={Ok} lines={2.1.0 Ok} @14;"
	                "OK 250 [2.1.5] text={Ok} lines={2.1.5 Ok} @28;"
	                "OK 354 [] text={go on} lines={go on} @39;");
	check_reply("250 a\r\n250-b", "OK 250 [] text={a} lines={a} @7;MORE");
	check_reply("250 a\r\n250-b\r\n", "OK 250 [] text={a} lines={a} @7;MORE");
	check_reply("250 a\r", "MORE");
}

static void test_reply_after_error(void **state)
{
	static struct smtp_reply_parser p;
	static struct smtp_reply r;
	size_t consumed;
	const char *error = NULL;

	(void)state;
	smtp_reply_parser_init(&p);
	assert_int_equal(smtp_reply_feed(&p, "250-a\r\n9", 8, &consumed, &r, &error),
	                 SMTP_REPLY_NEED_MORE);
	assert_int_equal(smtp_reply_feed(&p, "99 x\r\n250 y\r\n", 13, &consumed, &r, &error),
	                 SMTP_REPLY_ERROR);
	assert_int_equal(consumed, 6);
	assert_string_equal(error, "reply code is not three digits in 2xx-5xx");
	/* back in the initial state */
	assert_int_equal(smtp_reply_feed(&p, "250 y\r\n", 7, &consumed, &r, &error), SMTP_REPLY_OK);
	assert_int_equal(r.n_lines, 1);
	assert_string_equal(r.text, "y");
}

/* Parses the complete reply IN into *R. */
static void parse_one(const char *in, struct smtp_reply *r)
{
	static struct smtp_reply_parser p;
	size_t consumed;
	const char *error = NULL;

	smtp_reply_parser_init(&p);
	assert_int_equal(smtp_reply_feed(&p, in, strlen(in), &consumed, r, &error), SMTP_REPLY_OK);
	assert_int_equal(consumed, strlen(in));
}

static void test_reply_extensions(void **state)
{
	static struct smtp_reply r;
	const char *param = NULL;

	(void)state;
	parse_one("250-mx.example.test greets you\r\n"
	          "250-pipelining\r\n"
	          "250-SIZE 1000\r\n"
	          "250-AUTH PLAIN  LOGIN\r\n"
	          "250-AUTH=LOGIN\r\n"
	          "250-8BITMIME\r\n"
	          "250 STARTTLS\r\n",
	          &r);
	assert_true(smtp_reply_has_extension(&r, "PIPELINING", &param));
	assert_string_equal(param, "");
	assert_true(smtp_reply_has_extension(&r, "size", &param));
	assert_string_equal(param, "1000");
	assert_true(smtp_reply_has_extension(&r, "Auth", &param));
	assert_string_equal(param, "PLAIN  LOGIN");
	assert_true(smtp_reply_has_extension(&r, "STARTTLS", &param));
	assert_string_equal(param, "");
	assert_true(smtp_reply_has_extension(&r, "8bitmime", NULL));
	assert_false(smtp_reply_has_extension(&r, "SIZ", &param));
	assert_false(smtp_reply_has_extension(&r, "SIZE 1000", &param));
	assert_false(smtp_reply_has_extension(&r, "STARTTLSX", &param));
	assert_false(smtp_reply_has_extension(&r, "DSN", &param));
	assert_false(smtp_reply_has_extension(&r, "", &param));
	/* the first line is the greeting, not an extension */
	assert_false(smtp_reply_has_extension(&r, "mx.example.test", &param));
	parse_one("250 mx.example.test\r\n", &r);
	assert_false(smtp_reply_has_extension(&r, "mx.example.test", &param));
	parse_one("250-mx\r\n250 SIZE\r\n", &r);
	assert_true(smtp_reply_has_extension(&r, "SIZE", &param));
	assert_string_equal(param, "");
}

/* ---- the DATA encoder --------------------------------------------------- */

/* The input as a server must get it back: every line end (CRLF, bare CR,
 * bare LF) made CRLF, and a CRLF at the end when there is not one. OUT holds
 * 2 * LEN + 2 bytes; returns the length. */
static size_t reference_normalise(const char *in, size_t len, char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (in[i] != '\r' && in[i] != '\n') {
			out[n++] = in[i];
			continue;
		}
		if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
			i++;
		memcpy(out + n, "\r\n", 2);
		n += 2;
	}
	if (n > 0 && out[n - 1] != '\n') {
		memcpy(out + n, "\r\n", 2);
		n += 2;
	}
	return n;
}

/* The reference encoder: the normalised input, a '.' doubled at the start of
 * each line, then ".\r\n". OUT holds 2 * LEN + 8 bytes. */
static size_t reference_encode(const char *in, size_t len, char *out)
{
	char *normal = malloc(2 * len + 2);
	size_t normal_len, n = 0;

	assert_non_null(normal);
	normal_len = reference_normalise(in, len, normal);
	for (size_t i = 0; i < normal_len; i++) {
		if (normal[i] == '.' && (i == 0 || normal[i - 1] == '\n'))
			out[n++] = '.';
		out[n++] = normal[i];
	}
	memcpy(out + n, ".\r\n", 3);
	free(normal);
	return n + 3;
}

/* The reference decoder (what a server does, RFC 5321 4.5.2): reads lines up
 * to the one that is just "."; a '.' starting any other line is dropped.
 * Returns the content length, or -1 when there is no end or bytes follow. */
static long reference_decode(const char *in, size_t len, char *out)
{
	size_t n = 0, pos = 0;

	while (pos < len) {
		const char *crlf = memmem(in + pos, len - pos, "\r\n", 2);
		size_t line_len;

		if (crlf == NULL)
			return -1;
		line_len = (size_t)(crlf - (in + pos));
		if (line_len == 1 && in[pos] == '.')
			return pos + 3 == len ? (long)n : -1;
		if (in[pos] == '.') {
			pos++;
			line_len--;
		}
		memcpy(out + n, in + pos, line_len + 2);
		n += line_len + 2;
		pos += line_len + 2;
	}
	return -1;
}

/* Asserts that BUF holds no CR without an LF after it and no LF without a CR
 * before it. */
static void assert_only_crlf(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\r')
			assert_true(i + 1 < len && buf[i + 1] == '\n');
		if (buf[i] == '\n')
			assert_true(i > 0 && buf[i - 1] == '\r');
	}
}

/* Encodes IN cut at CUTS[0..N_CUTS) into OUT; returns the length. Each call
 * gets an exact-size output buffer, so ASan sees any overrun. */
static size_t encode_cuts(const char *in, size_t len, const size_t *cuts, size_t n_cuts, char *out)
{
	struct smtp_dotstuff d;
	size_t start = 0, n = 0;
	char *tail;

	smtp_dotstuff_init(&d);
	for (size_t i = 0; i <= n_cuts; i++) {
		size_t end = i < n_cuts ? cuts[i] : len, chunk = end - start, got;
		char *buf = malloc(2 * chunk + 2);

		assert_non_null(buf);
		got = smtp_dotstuff_feed(&d, in + start, chunk, buf);
		assert_true(got <= 2 * chunk);
		memcpy(out + n, buf, got);
		n += got;
		free(buf);
		start = end;
	}
	tail = malloc(8);
	assert_non_null(tail);
	start = smtp_dotstuff_finish(&d, tail);
	assert_in_range(start, 3, 5);
	memcpy(out + n, tail, start);
	free(tail);
	/* ready for the next message */
	assert_int_equal(d.at_line_start, 1);
	assert_int_equal(d.pending_cr, 0);
	return n + start;
}

/* Checks IN against the references, whole, byte by byte, and cut at every
 * one and (for short inputs) every two points. */
static void check_dotstuff(const char *in, size_t len)
{
	char *expected = malloc(2 * len + 8), *got = malloc(2 * len + 8);
	char *normal = malloc(2 * len + 8), *decoded = malloc(2 * len + 8);
	size_t *cuts = malloc((len + 1) * sizeof(*cuts)), exp_len, n;
	long dec_len;

	assert_true(expected && got && normal && decoded && cuts);
	exp_len = reference_encode(in, len, expected);
	n = encode_cuts(in, len, NULL, 0, got);
	assert_int_equal(n, exp_len);
	assert_memory_equal(got, expected, n);
	assert_only_crlf(got, n);
	/* decoding gives the input with its line ends made CRLF */
	dec_len = reference_decode(got, n, decoded);
	assert_true(dec_len >= 0);
	n = reference_normalise(in, len, normal);
	assert_int_equal((size_t)dec_len, n);
	assert_memory_equal(decoded, normal, n);
	for (size_t i = 0; i < len; i++)
		cuts[i] = i;
	n = encode_cuts(in, len, cuts, len, got);
	assert_int_equal(n, exp_len);
	assert_memory_equal(got, expected, n);
	for (size_t i = 0; i <= len; i++) {
		for (size_t j = i; j <= len && (j == i || len <= 12); j++) {
			size_t two[2] = {i, j};

			n = encode_cuts(in, len, two, 2, got);
			assert_int_equal(n, exp_len);
			assert_memory_equal(got, expected, n);
		}
	}
	free(expected);
	free(got);
	free(normal);
	free(decoded);
	free(cuts);
}

/* Asserts the encoding of IN (whole and split) is EXPECTED. */
static void check_encoding(const char *in, const char *expected)
{
	size_t len = strlen(in);
	char *got = malloc(2 * len + 8);

	assert_non_null(got);
	check_dotstuff(in, len);
	assert_int_equal(encode_cuts(in, len, NULL, 0, got), strlen(expected));
	assert_memory_equal(got, expected, strlen(expected));
	free(got);
}

static void test_dotstuff_examples(void **state)
{
	(void)state;
	check_encoding("", ".\r\n");
	check_encoding("a", "a\r\n.\r\n");
	check_encoding("a\r\n", "a\r\n.\r\n");
	check_encoding(".", "..\r\n.\r\n");
	check_encoding(".\r\n", "..\r\n.\r\n");
	check_encoding("a\r\n.b\r\n", "a\r\n..b\r\n.\r\n");
	check_encoding("a\n.\n", "a\r\n..\r\n.\r\n");
	check_encoding("a\r.\r", "a\r\n..\r\n.\r\n");
	check_encoding("a.b\r\n..c", "a.b\r\n...c\r\n.\r\n");
	check_encoding("\r\r\n\n", "\r\n\r\n\r\n.\r\n");
	check_encoding("\n\r", "\r\n\r\n.\r\n");
	check_encoding("Subject: x\r\n\r\n.\r\n.\r\n", "Subject: x\r\n\r\n..\r\n..\r\n.\r\n");
}

static void test_dotstuff_cr_lf_across_chunks(void **state)
{
	struct smtp_dotstuff d;
	char out[16];
	size_t n;

	(void)state;
	smtp_dotstuff_init(&d);
	n = smtp_dotstuff_feed(&d, "a\r", 2, out);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "a\r\n", 3);
	assert_int_equal(d.pending_cr, 1);
	n = smtp_dotstuff_feed(&d, "\n.", 2, out);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "..", 2);
	n = smtp_dotstuff_feed(&d, "", 0, out);
	assert_int_equal(n, 0);
	n = smtp_dotstuff_finish(&d, out);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "\r\n.\r\n", 5);
}

/* Calls check_dotstuff for every string up to MAX_LEN over the alphabet. */
static void test_dotstuff_exhaustive(void **state)
{
	static const char alphabet[] = {'\r', '\n', '.', 'a'};
	char in[8];
	unsigned long count = 0;

	(void)state;
	for (size_t len = 0; len <= 6; len++) {
		unsigned long total = 1;

		for (size_t i = 0; i < len; i++)
			total *= 4;
		for (unsigned long k = 0; k < total; k++) {
			unsigned long v = k;

			for (size_t i = 0; i < len; i++, v /= 4)
				in[i] = alphabet[v % 4];
			check_dotstuff(in, len);
			count++;
		}
	}
	assert_int_equal(count, 5461);
}

static void test_dotstuff_random(void **state)
{
	static const char alphabet[] = "\r\n.ab\0\xff";
	unsigned seed = 12345;
	char in[300];

	(void)state;
	for (int round = 0; round < 300; round++) {
		size_t len;

		seed = seed * 1103515245u + 12345u;
		len = (seed >> 16) % sizeof(in);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		check_dotstuff(in, len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reply_single_line),
	    cmocka_unit_test(test_reply_multi_line_ehlo),
	    cmocka_unit_test(test_reply_enhanced),
	    cmocka_unit_test(test_reply_bad_codes),
	    cmocka_unit_test(test_reply_mixed_codes),
	    cmocka_unit_test(test_reply_bare_lf_cr_nul),
	    cmocka_unit_test(test_reply_long_lines),
	    cmocka_unit_test(test_reply_too_many_lines),
	    cmocka_unit_test(test_reply_text_cut_short),
	    cmocka_unit_test(test_reply_two_in_one_buffer),
	    cmocka_unit_test(test_reply_after_error),
	    cmocka_unit_test(test_reply_extensions),
	    cmocka_unit_test(test_dotstuff_examples),
	    cmocka_unit_test(test_dotstuff_cr_lf_across_chunks),
	    cmocka_unit_test(test_dotstuff_exhaustive),
	    cmocka_unit_test(test_dotstuff_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
