/*
 * test_pop3_parse.c: the POP3 line reader fed whole, one octet at a time
 * and split at every point (every feeding must give the same transcript),
 * its bounds (255 octets with the CRLF, RFC 2449 4; the longer SASL
 * response), bare CR and LF; and the command parser and number parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/pop3_parse.h"

#define TRANSCRIPT_MAX 16384

struct transcript {
	char text[TRANSCRIPT_MAX];
	size_t len;
};

static void t_puts(struct transcript *t, const char *s, size_t n)
{
	assert_true(t->len + n < sizeof(t->text));
	memcpy(t->text + t->len, s, n);
	t->len += n;
	t->text[t->len] = '\0';
}

/* Records one event as text: "OK:line|", "LONG|", "LF|", "CR|". */
static void t_event(struct transcript *t, enum pop3_line_status st, const char *line, size_t len)
{
	switch (st) {
	case POP3_LINE_OK:
		assert_int_equal(line[len], '\0');
		assert_null(memchr(line, '\r', len));
		assert_null(memchr(line, '\n', len));
		t_puts(t, "OK:", 3);
		t_puts(t, line, len);
		t_puts(t, "|", 1);
		break;
	case POP3_LINE_TOO_LONG:
		t_puts(t, "LONG|", 5);
		break;
	case POP3_LINE_BARE_LF:
		t_puts(t, "LF|", 3);
		break;
	case POP3_LINE_BARE_CR:
		t_puts(t, "CR|", 3);
		break;
	case POP3_LINE_MORE:
		fail();
	}
}

/* Feeds one chunk completely, recording every event. */
static void feed_chunk(struct pop3_line_reader *r, const char *in, size_t len, struct transcript *t)
{
	size_t off = 0, consumed, line_len, rounds = 0;
	const char *line;
	enum pop3_line_status st;

	while (off < len) {
		st = pop3_line_feed(r, in + off, len - off, &consumed, &line, &line_len);
		assert_true(consumed <= len - off);
		off += consumed;
		assert_true(++rounds <= 2 * len + 2);
		if (st == POP3_LINE_MORE) {
			assert_int_equal(off, len);
			break;
		}
		t_event(t, st, line, line_len);
	}
}

/* The transcript of IN fed in chunks of STEP octets (0: whole) or split
 * once at SPLIT (when STEP is (size_t)-1). */
static void run(const char *in, size_t len, size_t max, size_t step, size_t split,
                struct transcript *t)
{
	struct pop3_line_reader r;

	memset(t, 0, sizeof(*t));
	pop3_line_reader_init(&r, max);
	if (step == 0) {
		feed_chunk(&r, in, len, t);
	} else if (step == (size_t)-1) {
		feed_chunk(&r, in, split, t);
		feed_chunk(&r, in + split, len - split, t);
	} else {
		for (size_t i = 0; i < len; i += step)
			feed_chunk(&r, in + i, len - i < step ? len - i : step, t);
	}
}

/* IN gives EXPECT whole, byte by byte and split at every point. */
static void check_lines(const char *in, size_t len, size_t max, const char *expect)
{
	static struct transcript whole, other;

	run(in, len, max, 0, 0, &whole);
	assert_string_equal(whole.text, expect);
	run(in, len, max, 1, 0, &other);
	assert_string_equal(other.text, expect);
	for (size_t split = 0; split <= len; split++) {
		run(in, len, max, (size_t)-1, split, &other);
		assert_string_equal(other.text, expect);
	}
}

static void test_lines(void **state)
{
	const char in[] = "USER alice\r\nPASS a b\r\n\r\nQUIT\r\n";

	check_lines(in, sizeof(in) - 1, POP3_LINE_MAX, "OK:USER alice|OK:PASS a b|OK:|OK:QUIT|");
	check_lines("NOOP\r\nLIST", 10, POP3_LINE_MAX, "OK:NOOP|");
}

static void test_bare_line_ends(void **state)
{
	check_lines("NOOP\nQUIT\r\n", 11, POP3_LINE_MAX, "LF|OK:QUIT|");
	check_lines("NO\rOP\r\n", 7, POP3_LINE_MAX, "CR|OK:OP|");
	check_lines("\r\r\n", 3, POP3_LINE_MAX, "CR|OK:|");
	check_lines("\n\n", 2, POP3_LINE_MAX, "LF|LF|");
}

/* 255 octets with the CRLF is the longest line; one more is refused, and
 * the reader resynchronises at the next CRLF. */
static void test_line_bound(void **state)
{
	char in[600], expect[600];
	size_t n = POP3_LINE_MAX - 2;

	memset(in, 'a', n);
	memcpy(in + n, "\r\nNOOP\r\n", 8);
	snprintf(expect, sizeof(expect), "OK:%.*s|OK:NOOP|", (int)n, in);
	check_lines(in, n + 8, POP3_LINE_MAX, expect);

	memset(in, 'a', n + 1);
	memcpy(in + n + 1, "\r\nNOOP\r\n", 8);
	check_lines(in, n + 9, POP3_LINE_MAX, "LONG|OK:NOOP|");

	/* a bare LF in the middle of an over-long line is still an error */
	memset(in, 'a', 400);
	memcpy(in + 400, "\nNOOP\r\n", 7);
	check_lines(in, 407, POP3_LINE_MAX, "LF|OK:NOOP|");
}

/* The SASL response bound is larger; set_max changes it between lines. */
static void test_sasl_bound(void **state)
{
	static char in[POP3_AUTH_LINE_MAX + 8];
	struct pop3_line_reader r;
	const char *line;
	size_t consumed, len;

	memset(in, 'Q', 1000);
	memcpy(in + 1000, "\r\n", 2);
	pop3_line_reader_init(&r, POP3_LINE_MAX);
	pop3_line_reader_set_max(&r, POP3_AUTH_LINE_MAX);
	assert_int_equal(pop3_line_feed(&r, in, 1002, &consumed, &line, &len), POP3_LINE_OK);
	assert_int_equal(len, 1000);
	pop3_line_reader_set_max(&r, POP3_LINE_MAX);
	assert_int_equal(pop3_line_feed(&r, in, 1002, &consumed, &line, &len), POP3_LINE_TOO_LONG);
	memset(in, 'Q', POP3_AUTH_LINE_MAX);
	memcpy(in + POP3_AUTH_LINE_MAX - 1, "\r\n", 2);
	pop3_line_reader_set_max(&r, POP3_AUTH_LINE_MAX);
	assert_int_equal(pop3_line_feed(&r, in, POP3_AUTH_LINE_MAX + 1, &consumed, &line, &len),
	                 POP3_LINE_TOO_LONG);
	/* the reset forgets a partial line */
	assert_int_equal(pop3_line_feed(&r, "PASS x", 6, &consumed, &line, &len), POP3_LINE_MORE);
	pop3_line_reader_reset(&r);
	assert_int_equal(pop3_line_feed(&r, "\r\n", 2, &consumed, &line, &len), POP3_LINE_OK);
	assert_int_equal(len, 0);
}

/* Parses TEXT; returns the result and fills CMD. */
static int parse(const char *text, struct pop3_command *cmd, char *buf)
{
	const char *why = NULL;
	int ret;

	strcpy(buf, text);
	ret = pop3_command_parse(buf, strlen(buf), cmd, &why);
	if (ret < 0)
		assert_non_null(why);
	return ret;
}

static void test_commands(void **state)
{
	struct pop3_command cmd;
	char buf[300];

	assert_int_equal(parse("quit", &cmd, buf), 0);
	assert_int_equal(cmd.verb, POP3_VERB_QUIT);
	assert_string_equal(cmd.keyword, "QUIT");
	assert_int_equal(cmd.n_args, 0);

	assert_int_equal(parse("Top 3 10", &cmd, buf), 0);
	assert_int_equal(cmd.verb, POP3_VERB_TOP);
	assert_int_equal(cmd.n_args, 2);
	assert_string_equal(cmd.args[0], "3");
	assert_string_equal(cmd.args[1], "10");

	assert_int_equal(parse("PASS my secret  pass ", &cmd, buf), 0);
	assert_int_equal(cmd.n_args, 1);
	assert_string_equal(cmd.args[0], "my secret  pass ");
	assert_int_equal(cmd.arg_len[0], 16);

	assert_int_equal(parse("AUTH PLAIN AGFsaWNlAHNlY3JldA==", &cmd, buf), 0);
	assert_int_equal(cmd.verb, POP3_VERB_AUTH);
	assert_string_equal(cmd.args[1], "AGFsaWNlAHNlY3JldA==");

	assert_int_equal(parse("XYZW", &cmd, buf), 0);
	assert_int_equal(cmd.verb, POP3_VERB_UNKNOWN);
	assert_int_equal(parse("LAST", &cmd, buf), 0); /* RFC 1939 removed it */
	assert_int_equal(cmd.verb, POP3_VERB_UNKNOWN);

	assert_int_equal(parse("", &cmd, buf), -1);
	assert_int_equal(parse("QU", &cmd, buf), -1);
	assert_int_equal(parse("QUITS", &cmd, buf), -1);
	assert_int_equal(parse("QU1T", &cmd, buf), -1);
	assert_int_equal(parse(" QUIT", &cmd, buf), -1);
	assert_int_equal(parse("TOP 1 2 3", &cmd, buf), -1);
	assert_int_equal(parse("TOP 1  2", &cmd, buf), -1);
	assert_int_equal(parse("LIST 1 ", &cmd, buf), -1);
	assert_int_equal(cmd.n_args, 0);
	{
		const char *why;
		char nul[] = "LIST\0 1";

		assert_int_equal(pop3_command_parse(nul, 7, &cmd, &why), -1);
	}
}

static void test_numbers(void **state)
{
	unsigned v;

	assert_int_equal(pop3_number_parse("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(pop3_number_parse("123456789", &v), 0);
	assert_int_equal(v, 123456789);
	assert_int_equal(pop3_number_parse("1234567890", &v), -1);
	assert_int_equal(pop3_number_parse("", &v), -1);
	assert_int_equal(pop3_number_parse("-1", &v), -1);
	assert_int_equal(pop3_number_parse("+1", &v), -1);
	assert_int_equal(pop3_number_parse("1a", &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines),      cmocka_unit_test(test_bare_line_ends),
	    cmocka_unit_test(test_line_bound), cmocka_unit_test(test_sasl_bound),
	    cmocka_unit_test(test_commands),   cmocka_unit_test(test_numbers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
