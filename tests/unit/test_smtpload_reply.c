/*
 * test_smtpload_reply.c: smtpload's reply parser (bench/smtpload/reply.c),
 * fed whole, one byte at a time and cut at every one point (and every two
 * for short inputs): every feeding must give the same transcript of
 * replies and errors. Covers multi-line replies, the code checks, CRLF-only
 * line ends, the line, line-count and kept-text bounds, and the EHLO
 * keywords smtpload acts on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../bench/smtpload/reply.h"

#define TRANSCRIPT_MAX (1 << 16)
#define TWO_CUTS_MAX 120 /* inputs up to this long are also cut at every two points */

struct transcript {
	char text[TRANSCRIPT_MAX];
	size_t len;
};

static void t_puts(struct transcript *t, const char *s)
{
	size_t n = strlen(s);

	assert_true(t->len + n < TRANSCRIPT_MAX);
	memcpy(t->text + t->len, s, n + 1);
	t->len += n;
}

/* Records a reply as "OK code lines ext={P S} text={...} @offset;", the
 * text with CR and LF shown as \r and \n. */
static void t_reply(struct transcript *t, const struct smtpload_reply *r, size_t offset)
{
	char buf[64];

	assert_in_range(r->code, 200, 559);
	assert_in_range(r->n_lines, 1, SMTPLOAD_REPLY_LINES_MAX);
	assert_int_equal(strlen(r->text), r->text_len);
	assert_true(r->text_len < SMTPLOAD_REPLY_TEXT_MAX);
	snprintf(buf, sizeof(buf), "OK %u %u ext={%s%s} text={", r->code, r->n_lines,
	         r->extensions & SMTPLOAD_EXT_PIPELINING ? "P" : "",
	         r->extensions & SMTPLOAD_EXT_STARTTLS ? "S" : "");
	t_puts(t, buf);
	for (size_t i = 0; i < r->text_len; i++) {
		char c[2] = {r->text[i], '\0'};
		t_puts(t, c[0] == '\r' ? "\\r" : c[0] == '\n' ? "\\n" : c);
	}
	snprintf(buf, sizeof(buf), "}%s @%zu;", r->truncated ? " cut" : "", offset);
	t_puts(t, buf);
}

/* Feeds IN in the chunks ending at CUTS[0..N_CUTS) and then LEN; records
 * each reply and the first error (feeding stops there), then "MORE" when a
 * reply was left unfinished. */
static void run_cuts(const char *in, size_t len, const size_t *cuts, size_t n_cuts,
                     struct transcript *t)
{
	static struct smtpload_reply_parser p;
	size_t offset = 0;
	int pending = 0;

	t->len = 0;
	t->text[0] = '\0';
	smtpload_reply_parser_init(&p);
	for (size_t i = 0; i <= n_cuts; i++) {
		size_t end = i < n_cuts ? cuts[i] : len;
		while (offset < end) {
			const char *error = NULL;
			size_t used = SIZE_MAX;
			enum smtpload_reply_status st =
			    smtpload_reply_feed(&p, in + offset, end - offset, &used, &error);
			assert_true(used > 0 && used <= end - offset);
			offset += used;
			pending = st == SMTPLOAD_REPLY_MORE;
			if (st == SMTPLOAD_REPLY_MORE) {
				assert_int_equal(offset, end);
				break;
			}
			if (st == SMTPLOAD_REPLY_ERROR) {
				char at[32];
				assert_non_null(error);
				snprintf(at, sizeof(at), " @%zu;", offset);
				t_puts(t, "ERR ");
				t_puts(t, error);
				t_puts(t, at);
				return;
			}
			t_reply(t, &p.reply, offset);
		}
	}
	if (pending)
		t_puts(t, "MORE");
}

/* IN (LEN octets) must give EXPECTED fed whole, byte by byte, cut at every
 * point, and (short inputs) at every two points. */
static void check_len(const char *in, size_t len, const char *expected)
{
	static struct transcript t;
	size_t *cuts = malloc((len + 1) * sizeof(*cuts));

	assert_non_null(cuts);
	run_cuts(in, len, NULL, 0, &t);
	assert_string_equal(t.text, expected);
	for (size_t i = 0; i < len; i++)
		cuts[i] = i + 1;
	run_cuts(in, len, cuts, len, &t);
	assert_string_equal(t.text, expected);
	for (size_t i = 0; i <= len; i++) {
		run_cuts(in, len, &i, 1, &t);
		assert_string_equal(t.text, expected);
		for (size_t j = i; len <= TWO_CUTS_MAX && j <= len; j++) {
			size_t two[2] = {i, j};
			run_cuts(in, len, two, 2, &t);
			assert_string_equal(t.text, expected);
		}
	}
	free(cuts);
}

static void check(const char *in, const char *expected)
{
	check_len(in, strlen(in), expected);
}

static void test_single_line(void **state)
{
	(void)state;
	check("220 mx.example.test ESMTP\r\n",
	      "OK 220 1 ext={} text={220 mx.example.test ESMTP} @27;");
	check("250\r\n", "OK 250 1 ext={} text={250} @5;");
	check("250 \r\n", "OK 250 1 ext={} text={250 } @6;");
	check("354 go ahead\r\n", "OK 354 1 ext={} text={354 go ahead} @14;");
	check("559 x\r\n", "OK 559 1 ext={} text={559 x} @7;");
	check("200 x\r\n", "OK 200 1 ext={} text={200 x} @7;");
	check("550 5.1.1 <x@y>: unknown\r\n",
	      "OK 550 1 ext={} text={550 5.1.1 <x@y>: unknown} @26;");
}

static void test_multi_line(void **state)
{
	(void)state;
	check("250-mx Hello\r\n250-SIZE 1000\r\n250 8BITMIME\r\n",
	      "OK 250 3 ext={} text={250-mx Hello\\r\\n250-SIZE 1000\\r\\n250 8BITMIME} @43;");
	check("250-\r\n250\r\n", "OK 250 2 ext={} text={250-\\r\\n250} @11;");
	/* two replies in one read: each is returned with what it consumed */
	check("250 ok\r\n354 go\r\n221-a\r\n221 b\r\n",
	      "OK 250 1 ext={} text={250 ok} @8;OK 354 1 ext={} text={354 go} @16;"
	      "OK 221 2 ext={} text={221-a\\r\\n221 b} @30;");
	/* unfinished */
	check("250-a\r\n250", "MORE");
	check("250 a\r", "MORE");
	check("2", "MORE");
	check("", "");
}

static void test_ehlo_keywords(void **state)
{
	(void)state;
	check("250-mx.test Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n"
	      "250 ENHANCEDSTATUSCODES\r\n",
	      "OK 250 5 ext={PS} text={250-mx.test Hello\\r\\n250-PIPELINING\\r\\n250-SIZE "
	      "10240000\\r\\n250-STARTTLS\\r\\n250 ENHANCEDSTATUSCODES} @93;");
	/* case-insensitive; a parameter after the keyword is fine */
	check("250-mx\r\n250-pipelining\r\n250 StartTLS now\r\n",
	      "OK 250 3 ext={PS} text={250-mx\\r\\n250-pipelining\\r\\n250 StartTLS now} @42;");
	/* only the first word, only after the first line, only whole words */
	check("250 PIPELINING\r\n", "OK 250 1 ext={} text={250 PIPELINING} @16;");
	check("250-mx\r\n250-X PIPELINING\r\n250-PIPELININGX\r\n250 STARTTL\r\n",
	      "OK 250 4 ext={} text={250-mx\\r\\n250-X PIPELINING\\r\\n250-PIPELININGX\\r\\n"
	      "250 STARTTL} @56;");
	check("250-mx\r\n250- PIPELINING\r\n250 \r\n",
	      "OK 250 3 ext={} text={250-mx\\r\\n250- PIPELINING\\r\\n250 } @31;");
	/* a keyword longer than the bound matches nothing, even by its prefix */
	check("250-mx\r\n250-STARTTLSSTARTTLSSTARTTLSSTARTTLSX\r\n250 x\r\n",
	      "OK 250 3 ext={} text={250-mx\\r\\n250-STARTTLSSTARTTLSSTARTTLSSTARTTLSX\\r\\n"
	      "250 x} @54;");
	/* keywords of a reply do not carry over into the next */
	check("250-mx\r\n250 PIPELINING\r\n250 ok\r\n",
	      "OK 250 2 ext={P} text={250-mx\\r\\n250 PIPELINING} @24;"
	      "OK 250 1 ext={} text={250 ok} @32;");
}

static void test_bad_codes(void **state)
{
	(void)state;
	check("199 x\r\n", "ERR reply line does not start with a code 200-559 @1;");
	check("600 x\r\n", "ERR reply line does not start with a code 200-559 @1;");
	check("260 x\r\n", "ERR reply line does not start with a code 200-559 @2;");
	check("25x x\r\n", "ERR reply line does not start with a code 200-559 @3;");
	check(" 250 x\r\n", "ERR reply line does not start with a code 200-559 @1;");
	check("\r\n", "ERR reply line does not start with a code 200-559 @1;");
	check("250-a\r\n251 b\r\n", "ERR reply line's code differs from the first line's @10;");
	check("250-a\r\n550-b\r\n", "ERR reply line's code differs from the first line's @10;");
	check("250_a\r\n", "ERR reply code followed by neither ' ', '-' nor CRLF @4;");
	check("2500\r\n", "ERR reply code followed by neither ' ', '-' nor CRLF @4;");
	/* a good reply, then the bad one: the good one is still returned */
	check("220 ok\r\n2a", "OK 220 1 ext={} text={220 ok} @8;"
	                      "ERR reply line does not start with a code 200-559 @10;");
}

static void test_line_ends(void **state)
{
	(void)state;
	check("250 a\n", "ERR reply line ends with a bare LF @6;");
	check("250\n", "ERR reply line ends with a bare LF @4;");
	check("250 a\rb\r\n", "ERR CR not followed by LF in reply @7;");
	check("250 a\r\r\n", "ERR CR not followed by LF in reply @7;");
	check("250-a\r\n\n", "ERR reply line ends with a bare LF @8;");
	check_len("250 a\0b\r\n", 9, "ERR NUL octet in reply @6;");
	check_len("25\0", 3, "ERR NUL octet in reply @3;");
	/* 8-bit text is kept as it is */
	check("250 gr\xc3\xbc\xc3\x9f\r\n", "OK 250 1 ext={} text={250 gr\xc3\xbc\xc3\x9f} @12;");
}

/* A line of LEN octets before its CRLF: "250 " and LEN-4 'x'. */
static char *long_line(size_t len)
{
	char *s = malloc(len + 3);

	assert_non_null(s);
	memcpy(s, "250 ", 4);
	memset(s + 4, 'x', len - 4);
	memcpy(s + len, "\r\n", 3);
	return s;
}

static void test_line_length(void **state)
{
	char expected[1024];
	char *ok = long_line(SMTPLOAD_REPLY_LINE_MAX - 2),
	     *bad = long_line(SMTPLOAD_REPLY_LINE_MAX - 1);

	(void)state;
	snprintf(expected, sizeof(expected), "OK 250 1 ext={} text={%.*s} @%d;",
	         SMTPLOAD_REPLY_LINE_MAX - 2, ok, SMTPLOAD_REPLY_LINE_MAX);
	check(ok, expected);
	snprintf(expected, sizeof(expected), "ERR reply line longer than 512 octets @%d;",
	         SMTPLOAD_REPLY_LINE_MAX - 1);
	check(bad, expected);
	free(ok);
	free(bad);
}

/* A reply of N_LINES lines of LEN octets each; the last ends with ' '
 * unless UNENDED. */
static char *many_lines(unsigned n_lines, size_t len, int unended, size_t *len_r)
{
	size_t total = (len + 2) * n_lines, o = 0;
	char *s = malloc(total + 1);

	assert_non_null(s);
	for (unsigned i = 0; i < n_lines; i++) {
		memcpy(s + o, i + 1 == n_lines && !unended ? "250 " : "250-", 4);
		memset(s + o + 4, 'a' + (char)(i % 26), len - 4);
		memcpy(s + o + len, "\r\n", 2);
		o += len + 2;
	}
	s[o] = '\0';
	*len_r = o;
	return s;
}

static void test_line_count_and_text_bound(void **state)
{
	static struct smtpload_reply_parser p;
	const char *error = NULL;
	size_t len, used;
	char *s = many_lines(SMTPLOAD_REPLY_LINES_MAX, 8, 0, &len);

	(void)state;
	smtpload_reply_parser_init(&p);
	assert_int_equal(smtpload_reply_feed(&p, s, len, &used, &error), SMTPLOAD_REPLY_DONE);
	assert_int_equal(used, len);
	assert_int_equal(p.reply.n_lines, SMTPLOAD_REPLY_LINES_MAX);
	assert_false(p.reply.truncated); /* 100 lines of 8 and CRLF: 998 octets kept */
	assert_int_equal(p.reply.text_len, len - 2);
	free(s);
	s = many_lines(SMTPLOAD_REPLY_LINES_MAX + 1, 8, 0, &len);
	check_len(s, len, "ERR reply has too many lines @1000;");
	free(s);
	/* long lines: the text is cut, the reply still complete and right */
	s = many_lines(20, 500, 0, &len);
	smtpload_reply_parser_init(&p);
	assert_int_equal(smtpload_reply_feed(&p, s, len, &used, &error), SMTPLOAD_REPLY_DONE);
	assert_int_equal(used, len);
	assert_int_equal(p.reply.n_lines, 20);
	assert_true(p.reply.truncated);
	assert_int_equal(p.reply.text_len, SMTPLOAD_REPLY_TEXT_MAX - 1);
	assert_memory_equal(p.reply.text, s, SMTPLOAD_REPLY_TEXT_MAX - 1);
	free(s);
}

static void test_reset_after_error_and_reply(void **state)
{
	static struct smtpload_reply_parser p;
	const char *error = NULL;
	size_t used;

	(void)state;
	smtpload_reply_parser_init(&p);
	assert_int_equal(smtpload_reply_feed(&p, "250-a\r\n25", 9, &used, &error),
	                 SMTPLOAD_REPLY_MORE);
	assert_int_equal(smtpload_reply_feed(&p, "x", 1, &used, &error), SMTPLOAD_REPLY_ERROR);
	assert_string_equal(error, "reply line does not start with a code 200-559");
	/* after an error the parser starts afresh */
	assert_int_equal(smtpload_reply_feed(&p, "221 bye\r\n", 9, &used, &error),
	                 SMTPLOAD_REPLY_DONE);
	assert_int_equal(p.reply.code, 221);
	assert_int_equal(p.reply.n_lines, 1);
	/* and after a reply: nothing of the last one is left */
	assert_int_equal(smtpload_reply_feed(&p, "250-x\r\n250 PIPELINING\r\n", 23, &used, &error),
	                 SMTPLOAD_REPLY_DONE);
	assert_int_equal(p.reply.extensions, SMTPLOAD_EXT_PIPELINING);
	assert_int_equal(smtpload_reply_feed(&p, "354 go\r\n", 8, &used, &error),
	                 SMTPLOAD_REPLY_DONE);
	assert_int_equal(p.reply.extensions, 0);
	assert_int_equal(p.reply.n_lines, 1);
	assert_string_equal(p.reply.text, "354 go");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_single_line),
	    cmocka_unit_test(test_multi_line),
	    cmocka_unit_test(test_ehlo_keywords),
	    cmocka_unit_test(test_bad_codes),
	    cmocka_unit_test(test_line_ends),
	    cmocka_unit_test(test_line_length),
	    cmocka_unit_test(test_line_count_and_text_bound),
	    cmocka_unit_test(test_reset_after_error_and_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
