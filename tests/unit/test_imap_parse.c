/*
 * test_imap_parse.c: the IMAP command parser, fed whole, byte by byte and
 * split at every point (and at two points for short inputs); every feeding
 * must give the same transcript. Also LIST matching and the string writers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_parse.h"

#define TRANSCRIPT_MAX (256 * 1024)

struct transcript {
	char text[TRANSCRIPT_MAX];
	size_t len;
	int fatal;
};

static const struct imap_parser_limits default_limits = {1000, 100};

/* Appends N octets of S to T, NUL as "\0". */
static void t_put(struct transcript *t, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_true(t->len + 3 < sizeof(t->text));
		if (s[i] == '\0') {
			t->text[t->len++] = '\\';
			t->text[t->len++] = '0';
		} else {
			t->text[t->len++] = s[i];
		}
	}
	t->text[t->len] = '\0';
}

static void t_puts(struct transcript *t, const char *s)
{
	t_put(t, s, strlen(s));
}

/* Writes the arguments: atoms bare, strings in "", literals as {len}text
 * ({{len}} for literal8), NIL, lists in (). */
static void t_args(struct transcript *t, const struct imap_arg *v, unsigned n)
{
	char num[32];

	for (unsigned i = 0; i < n; i++) {
		if (i > 0)
			t_puts(t, " ");
		switch (v[i].type) {
		case IMAP_ARG_ATOM:
		case IMAP_ARG_NIL:
			assert_int_equal(strlen(v[i].str), v[i].len);
			if (v[i].type == IMAP_ARG_NIL)
				t_puts(t, "NIL=");
			t_put(t, v[i].str, v[i].len);
			break;
		case IMAP_ARG_STRING:
			t_puts(t, "\"");
			t_put(t, v[i].str, v[i].len);
			t_puts(t, "\"");
			break;
		case IMAP_ARG_LITERAL:
			assert_int_equal(v[i].str[v[i].len], '\0');
			snprintf(num, sizeof(num), v[i].literal8 ? "{{%zu}}" : "{%zu}", v[i].len);
			t_puts(t, num);
			t_put(t, v[i].str, v[i].len);
			break;
		case IMAP_ARG_LIST:
			t_puts(t, "(");
			t_args(t, v[i].list, v[i].n);
			t_puts(t, ")");
			break;
		}
	}
}

/* Records one event: "CMD tag NAME args|", "CONT|", "ERR tag: error|",
 * "FATAL tag: error|". */
static void t_event(struct transcript *t, enum imap_parse_result r, const struct imap_command *cmd,
                    const char *error)
{
	switch (r) {
	case IMAP_PARSE_COMMAND:
		t_puts(t, "CMD ");
		t_puts(t, cmd->tag);
		t_puts(t, " ");
		t_puts(t, cmd->name);
		if (cmd->n_args > 0)
			t_puts(t, " ");
		t_args(t, cmd->args, cmd->n_args);
		break;
	case IMAP_PARSE_CONTINUE:
		t_puts(t, "CONT");
		break;
	case IMAP_PARSE_ERROR:
	case IMAP_PARSE_FATAL:
		assert_non_null(error);
		t_puts(t, r == IMAP_PARSE_ERROR ? "ERR " : "FATAL ");
		t_puts(t, cmd->tag);
		t_puts(t, ": ");
		t_puts(t, error);
		break;
	case IMAP_PARSE_MORE:
		fail();
	}
	t_puts(t, "|");
}

/* Feeds one chunk completely (or up to a FATAL), recording every event. */
static void feed_chunk(struct imap_parser *p, const char *in, size_t len, struct transcript *t)
{
	size_t off = 0, rounds = 0;

	while (off < len && !t->fatal) {
		struct imap_command *cmd;
		const char *error;
		size_t consumed;
		enum imap_parse_result r =
		    imap_parser_feed(p, in + off, len - off, &consumed, &cmd, &error);

		assert_true(consumed <= len - off);
		assert_true(++rounds <= len + 2);
		off += consumed;
		if (r == IMAP_PARSE_MORE) {
			assert_int_equal(off, len);
			break;
		}
		t_event(t, r, cmd, error);
		t->fatal = r == IMAP_PARSE_FATAL;
	}
}

/* Feeds IN in the chunks given by the cut points CUTS[0..N_CUTS). */
static void run_cuts(const char *in, size_t len, const struct imap_parser_limits *limits,
                     const size_t *cuts, size_t n_cuts, struct transcript *t)
{
	struct imap_parser *p = imap_parser_new(limits);
	size_t start = 0;

	t->len = 0;
	t->text[0] = '\0';
	t->fatal = 0;
	for (size_t i = 0; i <= n_cuts; i++) {
		size_t end = i < n_cuts ? cuts[i] : len;

		feed_chunk(p, in + start, end - start, t);
		start = end;
	}
	imap_parser_free(&p);
	assert_null(p);
}

/* Asserts that IN gives EXPECTED whole, byte by byte, cut at every point
 * (every 997th for long inputs) and at any two points (short inputs). */
static void check_parse(const char *in, size_t len, const struct imap_parser_limits *limits,
                        const char *expected)
{
	static struct transcript t;
	size_t *cuts = malloc((len + 1) * sizeof(*cuts));

	run_cuts(in, len, limits, NULL, 0, &t);
	assert_string_equal(t.text, expected);
	for (size_t i = 0; i < len; i++)
		cuts[i] = i;
	run_cuts(in, len, limits, cuts, len, &t);
	assert_string_equal(t.text, expected);
	for (size_t i = 0; i <= len; i += len <= 8192 ? 1 : 997) {
		for (size_t j = i; j <= len && len <= 80; j++) {
			size_t two[2] = {i, j};

			run_cuts(in, len, limits, two, 2, &t);
			assert_string_equal(t.text, expected);
		}
		run_cuts(in, len, limits, &i, 1, &t);
		assert_string_equal(t.text, expected);
	}
	free(cuts);
}

#define CHECK(in, expected) check_parse(in, sizeof(in) - 1, &default_limits, expected)
#define CHECK_LIMITS(in, limits, expected) check_parse(in, sizeof(in) - 1, limits, expected)

static void test_simple(void **state)
{
	CHECK("a1 NOOP\r\n", "CMD a1 NOOP|");
	CHECK("a1 noop\r\nb2 Capability\r\n", "CMD a1 NOOP|CMD b2 CAPABILITY|");
	CHECK("a1 NOOP", "");
	CHECK("a1 NOOP\r", "");
	/* empty lines between commands are ignored */
	CHECK("\r\n\r\na1 NOOP\r\n", "CMD a1 NOOP|");
	/* the tag may hold "]" and other ASTRING-CHARs */
	CHECK("a]1.x LOGOUT\r\n", "CMD a]1.x LOGOUT|");
}

static void test_arguments(void **state)
{
	CHECK("a1 LOGIN user \"p a\\\\s\\\"s\"\r\n", "CMD a1 LOGIN user \"p a\\s\"s\"|");
	CHECK("a1 X NIL nil Nil NILS \"NIL\"\r\n",
	      "CMD a1 X NIL=NIL NIL=nil NIL=Nil NILS \"NIL\"|");
	CHECK("a1 X \"\"\r\n", "CMD a1 X \"\"|");
	CHECK("a1 STORE 1:*,5 +FLAGS.SILENT (\\Seen \\Deleted $Junk)\r\n",
	      "CMD a1 STORE 1:*,5 +FLAGS.SILENT (\\Seen \\Deleted $Junk)|");
	CHECK("a1 LIST \"\" %/*]\r\n", "CMD a1 LIST \"\" %/*]|");
	CHECK("a1 uid fetch 1 FLAGS\r\n", "CMD a1 UID fetch 1 FLAGS|");
	CHECK("a1 X ()\r\n", "CMD a1 X ()|");
	CHECK("a1 X (a (b (c)) ()) d\r\n", "CMD a1 X (a (b (c)) ()) d|");
	CHECK("a1 X (a)\r\n", "CMD a1 X (a)|");
	/* RFC 9051 allows UTF-8 in quoted strings */
	CHECK("a1 SELECT \"Entw\xc3\xbc"
	      "rfe\"\r\n",
	      "CMD a1 SELECT \"Entw\xc3\xbc"
	      "rfe\"|");
}

static void test_fetch_sections(void **state)
{
	CHECK("a1 FETCH 1:3 (FLAGS BODY.PEEK[HEADER.FIELDS (A B)]<0.100>)\r\n",
	      "CMD a1 FETCH 1:3 (FLAGS BODY.PEEK[HEADER.FIELDS (A B)]<0.100>)|");
	CHECK("a1 FETCH 1 BODY[]\r\n", "CMD a1 FETCH 1 BODY[]|");
	CHECK("a1 FETCH 1 (BODY[1.2.MIME] BINARY.SIZE[1])\r\n",
	      "CMD a1 FETCH 1 (BODY[1.2.MIME] BINARY.SIZE[1])|");
	CHECK("a1 FETCH 1 BODY[HEADER.FIELDS.NOT (X-A)]\r\n",
	      "CMD a1 FETCH 1 BODY[HEADER.FIELDS.NOT (X-A)]|");
	CHECK("a1 FETCH 1 BODY[HEADER\r\na2 NOOP\r\n", "ERR a1: Unclosed [ in atom|CMD a2 NOOP|");
	CHECK("a1 FETCH 1 BODY[a[b]]\r\n", "ERR a1: Invalid character in section|");
}

static void test_literals(void **state)
{
	CHECK("a5 LOGIN {4}\r\nuser {4}\r\npass\r\n", "CONT|CONT|CMD a5 LOGIN {4}user {4}pass|");
	CHECK("a6 APPEND INBOX {3+}\r\nabc\r\n", "CMD a6 APPEND INBOX {3}abc|");
	CHECK("a7 APPEND INBOX ~{3}\r\na\0c\r\n", "CONT|CMD a7 APPEND INBOX {{3}}a\\0c|");
	CHECK("a7 APPEND INBOX ~{3+}\r\na\0c\r\n", "CMD a7 APPEND INBOX {{3}}a\\0c|");
	CHECK("a8 X (a {2}\r\nbc d)\r\n", "CONT|CMD a8 X (a {2}bc d)|");
	CHECK("a8 X (a {2+}\r\nbc)\r\n", "CMD a8 X (a {2}bc)|");
	CHECK("a9 X {0}\r\n {0+}\r\n\r\n", "CONT|CMD a9 X {0} {0}|");
	/* literal octets are anything, CR and LF included */
	CHECK("a1 X {6+}\r\n\r\n\n\r()\r\n", "CMD a1 X {6}\r\n\n\r()|");
	CHECK("a1 X {2+}\r\n{}\r\na2 NOOP\r\n", "CMD a1 X {2}{}|CMD a2 NOOP|");
	/* a literal must be followed by SP, ")" or the end */
	CHECK("a1 X {1+}\r\nab\r\na2 NOOP\r\n",
	      "ERR a1: Missing space between arguments|CMD a2 NOOP|");
}

static void test_continue_has_tag(void **state)
{
	struct imap_parser *p = imap_parser_new(&default_limits);
	struct imap_command *cmd;
	const char *error;
	size_t consumed;
	const char in[] = "t7 APPEND box {3}\r\n";

	assert_int_equal(imap_parser_feed(p, in, sizeof(in) - 1, &consumed, &cmd, &error),
	                 IMAP_PARSE_CONTINUE);
	assert_int_equal(consumed, sizeof(in) - 1);
	assert_string_equal(cmd->tag, "t7");
	assert_string_equal(cmd->name, "APPEND");
	assert_int_equal(imap_parser_feed(p, "abc\r\n", 5, &consumed, &cmd, &error),
	                 IMAP_PARSE_COMMAND);
	assert_int_equal(cmd->n_args, 2);
	assert_int_equal(cmd->args[1].type, IMAP_ARG_LITERAL);
	assert_string_equal(cmd->args[1].str, "abc");
	imap_parser_free(&p);
}

static void test_syntax_errors(void **state)
{
	CHECK("a9 FETCH 1 (FLAGS\r\na10 NOOP\r\n", "ERR a9: Unclosed list|CMD a10 NOOP|");
	CHECK("+ NOOP\r\n", "ERR *: Invalid characters in tag|");
	CHECK(" NOOP\r\n", "ERR *: Missing tag|");
	CHECK("a11\r\n", "ERR a11: Missing command name|");
	CHECK("a11 \r\n", "ERR a11: Missing command name|");
	CHECK("a1 NO(OP\r\n", "ERR a1: Invalid characters in command name|");
	CHECK("a1 X a)\r\n", "ERR a1: Unexpected )|");
	CHECK("a1 X (a)(b)\r\n", "ERR a1: Missing space between arguments|");
	CHECK("a1 X a\"b\"\r\n", "ERR a1: Invalid character in atom|");
	CHECK("a1 X \"abc\r\n", "ERR a1: Unterminated quoted string|");
	CHECK("a1 X \"a\\bc\"\r\n", "ERR a1: Invalid character in quoted string|");
	CHECK("a1 X \"\xff\"\r\n", "ERR a1: Invalid UTF-8 in quoted string|");
	CHECK("a1 X \xc3\xbc\r\n", "ERR a1: Invalid character in atom|");
	CHECK("a1 X {3}abc\r\n", "ERR a1: A literal announcement must end the line|");
	CHECK("a1 X {}\r\n", "ERR a1: Invalid literal announcement|");
	CHECK("a1 X {3\r\n", "ERR a1: Invalid literal announcement|");
	CHECK("a1 X {99999999999999999999}\r\n", "ERR a1: Invalid literal announcement|");
	CHECK("a1 X {9223372036854775808}\r\n", "ERR a1: Invalid literal announcement|");
	/* the tag is known after a literal too */
	CHECK("a1 X {1}\r\nb \"open\r\na2 NOOP\r\n",
	      "CONT|ERR a1: Unterminated quoted string|CMD a2 NOOP|");
}

static void test_line_ends(void **state)
{
	CHECK("a12 NOOP\na13 NOOP\r\n",
	      "ERR a12: Bare LF in command line (lines end with CRLF)|CMD a13 NOOP|");
	CHECK("a14 NO\rOP\r\na15 NOOP\r\n", "ERR a14: Bare CR in command line|CMD a15 NOOP|");
	CHECK("a1 NOOP\r\r\n", "ERR a1: Bare CR in command line|");
	CHECK("\n", "ERR *: Bare LF in command line (lines end with CRLF)|");
	/* a bare LF after a literal: the tag is known */
	CHECK("a1 X {1+}\r\nb\na2 NOOP\r\n",
	      "ERR a1: Bare LF in command line (lines end with CRLF)|CMD a2 NOOP|");
}

static void test_refused_literals(void **state)
{
	static const struct imap_parser_limits small = {10, 4};

	CHECK_LIMITS("a15 APPEND x {11}\r\na16 NOOP\r\n", &small,
	             "ERR a15: Literal too large|CMD a16 NOOP|");
	CHECK_LIMITS("a15 APPEND x {10}\r\n0123456789\r\n", &small,
	             "CONT|CMD a15 APPEND x {10}0123456789|");
	CHECK_LIMITS("a1 X {4+}\r\nabcd\r\n", &small, "CMD a1 X {4}abcd|");
	/* LITERAL-: the refused octets are stepped over, with later literals */
	CHECK_LIMITS("a17 X {5+}\r\nhello\r\na18 NOOP\r\n", &small,
	             "ERR a17: Non-synchronizing literal too large|CMD a18 NOOP|");
	CHECK_LIMITS("a1 X {5+}\r\nhe\r\nlo {3+}\r\nabc {2}\r\na2 NOOP\r\n", &small,
	             "ERR a1: Non-synchronizing literal too large|CMD a2 NOOP|");
	CHECK_LIMITS("a1 X {11+}\r\nhello world\r\na2 NOOP\r\n", &small,
	             "ERR a1: Non-synchronizing literal too large|CMD a2 NOOP|");
	/* an error before a {n+}: its octets are not read as commands */
	CHECK("a1 X \"open {3+}\r\nabc\r\na2 NOOP\r\n",
	      "ERR a1: Unterminated quoted string|CMD a2 NOOP|");
	CHECK("a1 X ~{3+}\r\nabc\r\na2 NOOP\r\n", "CMD a1 X {{3}}abc|CMD a2 NOOP|");
	CHECK("a1 X a) ~{3+}\r\na\r\n\r\na2 NOOP\r\n", "ERR a1: Unexpected )|CMD a2 NOOP|");
	/* NUL is for literal8 only; the rest of the literal is dropped */
	CHECK("a1 X {3}\r\na\0c\r\na2 NOOP\r\n",
	      "CONT|ERR a1: NUL in a literal (only literal8 may hold it)|CMD a2 NOOP|");
	CHECK("a1 X {3+}\r\n\0\r\n {1+}\r\nx\r\na2 NOOP\r\n",
	      "ERR a1: NUL in a literal (only literal8 may hold it)|CMD a2 NOOP|");
	/* too large to step over: out of step for good */
	CHECK_LIMITS("a1 X {2000000+}\r\nabc\r\n", &small,
	             "FATAL a1: Non-synchronizing literal too large|");
}

static void test_limits_change(void **state)
{
	static const struct imap_parser_limits before = {10, 10}, after = {100, 4096};
	struct imap_parser *p = imap_parser_new(&before);
	struct imap_command *cmd;
	const char *error;
	size_t consumed;
	const char in[] = "a1 APPEND x {20}\r\n";

	assert_int_equal(imap_parser_feed(p, in, sizeof(in) - 1, &consumed, &cmd, &error),
	                 IMAP_PARSE_ERROR);
	assert_string_equal(cmd->tag, "a1");
	assert_string_equal(error, "Literal too large");
	imap_parser_set_limits(p, &after);
	assert_int_equal(imap_parser_feed(p, in, sizeof(in) - 1, &consumed, &cmd, &error),
	                 IMAP_PARSE_CONTINUE);
	assert_int_equal(
	    imap_parser_feed(p, "01234567890123456789\r\n", 22, &consumed, &cmd, &error),
	    IMAP_PARSE_COMMAND);
	assert_int_equal(cmd->args[1].len, 20);
	imap_parser_free(&p);
}

/* "a1 X" and N arguments "a", or (LISTS) N nested lists. */
static char *many(unsigned n, int lists, size_t *len_r)
{
	char *s = malloc(16 + (size_t)n * 2 + 8);
	size_t len = 0;

	len += (size_t)sprintf(s, "a1 X ");
	for (unsigned i = 0; i < n; i++) {
		if (lists) {
			s[len++] = '(';
		} else {
			s[len++] = 'a';
			s[len++] = ' ';
		}
	}
	for (unsigned i = 0; lists && i < n; i++)
		s[len++] = ')';
	memcpy(s + len, "\r\n", 3);
	*len_r = len + 2;
	return s;
}

static void test_bounds(void **state)
{
	static char expected[IMAP_DEPTH_MAX * 2 + 64];
	size_t len;
	char *s;

	s = many(IMAP_DEPTH_MAX, 1, &len);
	snprintf(expected, sizeof(expected), "CMD a1 X %.*s|", (int)(len - 7), s + 5);
	check_parse(s, len, &default_limits, expected);
	free(s);
	s = many(IMAP_DEPTH_MAX + 1, 1, &len);
	check_parse(s, len, &default_limits, "ERR a1: Lists nested too deeply|");
	free(s);
	s = many(IMAP_ARGS_MAX, 0, &len);
	run_cuts(s, len, &default_limits, NULL, 0, &(struct transcript){0});
	free(s);
	s = many(IMAP_ARGS_MAX + 1, 0, &len);
	check_parse(s, len, &default_limits, "ERR a1: Too many arguments|");
	free(s);
}

static void test_args_max_exact(void **state)
{
	struct imap_parser *p = imap_parser_new(&default_limits);
	struct imap_command *cmd;
	const char *error;
	size_t consumed, len;
	char *s = many(IMAP_ARGS_MAX, 0, &len);

	assert_int_equal(imap_parser_feed(p, s, len, &consumed, &cmd, &error), IMAP_PARSE_COMMAND);
	assert_int_equal(cmd->n_args, IMAP_ARGS_MAX);
	free(s);
	imap_parser_free(&p);
}

static void test_line_max(void **state)
{
	size_t len = IMAP_LINE_MAX + 2;
	char *s = malloc(len + 16);

	/* exactly IMAP_LINE_MAX octets before the CRLF: accepted */
	memset(s, 'x', len);
	memcpy(s, "a1 X ", 5);
	memcpy(s + IMAP_LINE_MAX, "\r\n", 2);
	run_cuts(s, len, &default_limits, NULL, 0, &(struct transcript){0});
	{
		static struct transcript t;

		run_cuts(s, len, &default_limits, NULL, 0, &t);
		assert_int_equal(strncmp(t.text, "CMD a1 X xxx", 12), 0);
	}
	/* one more: FATAL, with the tag */
	memset(s + IMAP_LINE_MAX, 'x', 1);
	memcpy(s + IMAP_LINE_MAX + 1, "\r\n", 2);
	check_parse(s, len + 1, &default_limits, "FATAL a1: Command line too long|");
	free(s);
}

static void test_fatal_sticks(void **state)
{
	static const struct imap_parser_limits small = {10, 4};
	struct imap_parser *p = imap_parser_new(&small);
	struct imap_command *cmd;
	const char *error;
	size_t consumed;
	const char in[] = "a1 X {9999999+}\r\n";

	assert_int_equal(imap_parser_feed(p, in, sizeof(in) - 1, &consumed, &cmd, &error),
	                 IMAP_PARSE_FATAL);
	assert_int_equal(imap_parser_feed(p, "a2 NOOP\r\n", 9, &consumed, &cmd, &error),
	                 IMAP_PARSE_FATAL);
	assert_int_equal(consumed, 0);
	assert_non_null(error);
	imap_parser_reset(p);
	assert_int_equal(imap_parser_feed(p, "a2 NOOP\r\n", 9, &consumed, &cmd, &error),
	                 IMAP_PARSE_COMMAND);
	imap_parser_free(&p);
}

static void test_reset(void **state)
{
	struct imap_parser *p = imap_parser_new(&default_limits);
	struct imap_command *cmd;
	const char *error;
	size_t consumed;

	assert_int_equal(imap_parser_feed(p, "a1 LOGIN {5}\r\n", 14, &consumed, &cmd, &error),
	                 IMAP_PARSE_CONTINUE);
	assert_int_equal(imap_parser_feed(p, "ab", 2, &consumed, &cmd, &error), IMAP_PARSE_MORE);
	imap_parser_reset(p);
	assert_int_equal(imap_parser_feed(p, "a2 NOOP\r\n", 9, &consumed, &cmd, &error),
	                 IMAP_PARSE_COMMAND);
	assert_string_equal(cmd->tag, "a2");
	assert_int_equal(cmd->n_args, 0);
	/* partial line forgotten */
	assert_int_equal(imap_parser_feed(p, "a3 NO", 5, &consumed, &cmd, &error), IMAP_PARSE_MORE);
	imap_parser_reset(p);
	assert_int_equal(imap_parser_feed(p, "OP\r\n", 4, &consumed, &cmd, &error),
	                 IMAP_PARSE_ERROR);
	assert_string_equal(cmd->tag, "OP");
	imap_parser_free(&p);
}

static void test_feed_line(void **state)
{
	struct imap_parser *p = imap_parser_new(&default_limits);
	struct imap_command *cmd;
	const char *error, *line;
	size_t consumed, len;

	assert_int_equal(imap_parser_feed_line(p, "DO", 2, &consumed, &line, &len, &error),
	                 IMAP_PARSE_MORE);
	assert_int_equal(
	    imap_parser_feed_line(p, "NE\r\na1 NOOP\r\n", 13, &consumed, &line, &len, &error),
	    IMAP_PARSE_COMMAND);
	assert_int_equal(consumed, 4);
	assert_string_equal(line, "DONE");
	assert_int_equal(len, 4);
	assert_int_equal(imap_parser_feed(p, "a1 NOOP\r\n", 9, &consumed, &cmd, &error),
	                 IMAP_PARSE_COMMAND);
	assert_int_equal(imap_parser_feed_line(p, "x\ny\r\n", 5, &consumed, &line, &len, &error),
	                 IMAP_PARSE_ERROR);
	assert_int_equal(consumed, 2);
	assert_int_equal(imap_parser_feed_line(p, "\r\n", 2, &consumed, &line, &len, &error),
	                 IMAP_PARSE_COMMAND);
	assert_string_equal(line, "");
	imap_parser_free(&p);
}

static void test_match(void **state)
{
	assert_true(imap_match("*", "", '/'));
	assert_true(imap_match("*", "a/b/c", '/'));
	assert_true(imap_match("%", "abc", '/'));
	assert_false(imap_match("%", "a/b", '/'));
	assert_true(imap_match("a/%", "a/b", '/'));
	assert_false(imap_match("a/%", "a/b/c", '/'));
	assert_true(imap_match("a/%/c", "a/b/c", '/'));
	assert_true(imap_match("a*c", "a/b/c", '/'));
	assert_false(imap_match("a%c", "a/b/c", '/'));
	assert_true(imap_match("", "", '/'));
	assert_false(imap_match("", "a", '/'));
	assert_false(imap_match("a", "", '/'));
	assert_true(imap_match("abc", "abc", '/'));
	assert_false(imap_match("abc", "abd", '/'));
	assert_false(imap_match("Abc", "abc", '/'));
	assert_true(imap_match("inbox", "INBOX", '/'));
	assert_true(imap_match("InBoX/%", "INBOX/sub", '/'));
	assert_false(imap_match("inbox/SUB", "INBOX/sub", '/'));
	assert_false(imap_match("inbox2", "INBOX2", '/'));
	assert_true(imap_match("%", "INBOX", '.'));
	assert_true(imap_match("*%*", "x.y", '.'));
	assert_true(imap_match("%.%", "x.y", '.'));
	assert_false(imap_match("%.%", "x.y.z", '.'));
	assert_true(imap_match("%.*", "x.y.z", '.'));
	/* no exponential backtracking */
	{
		static char name[2001];

		memset(name, 'a', sizeof(name) - 1);
		assert_false(imap_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", name, '/'));
		assert_true(imap_match("*a*a*a*a*a*a*a*a*a*a*a*a*", name, '/'));
	}
}

/* The astring writer's text for S (LEN octets). */
static void check_astring(const char *s, size_t len, const char *expected, size_t expected_len,
                          int nstring)
{
	struct imap_out o = {0};

	if (nstring)
		imap_out_nstring(&o, s, len);
	else
		imap_out_astring(&o, s, len);
	assert_int_equal(o.len, expected_len);
	assert_memory_equal(o.buf, expected, o.len);
	assert_int_equal(o.buf[o.len], '\0');
	free(o.buf);
}

#define ASTRING(s, len, expected, nstring)                                                         \
	check_astring(s, len, expected, sizeof(expected) - 1, nstring)

static void test_out(void **state)
{
	struct imap_out o = {0};

	ASTRING("INBOX", 5, "INBOX", 0);
	ASTRING("a]b\\", 4, "\"a]b\\\\\"", 0);
	ASTRING("Sent]", 5, "Sent]", 0);
	ASTRING("[Gmail]/Sent", 12, "\"[Gmail]/Sent\"", 0);
	ASTRING("", 0, "\"\"", 0);
	ASTRING("a b", 3, "\"a b\"", 0);
	ASTRING("a\"b", 3, "\"a\\\"b\"", 0);
	ASTRING("NIL", 3, "\"NIL\"", 0);
	ASTRING("a*", 2, "\"a*\"", 0);
	ASTRING("a\r\nb", 4, "{4}\r\na\r\nb", 0);
	ASTRING("\xc3\xbc", 2, "{2}\r\n\xc3\xbc", 0);
	ASTRING("a\0b", 3, "{3}\r\na\0b", 0);
	ASTRING(NULL, 0, "NIL", 1);
	ASTRING("x", 1, "\"x\"", 1);
	imap_out_printf(&o, "* %u EXISTS\r\n", 17u);
	imap_out_append(&o, "* OK", 4);
	for (int i = 0; i < 1000; i++)
		imap_out_printf(&o, "%s", "0123456789");
	assert_int_equal(o.len, 13 + 4 + 10000);
	assert_memory_equal(o.buf, "* 17 EXISTS\r\n* OK0123", 21);
	free(o.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple),
	    cmocka_unit_test(test_arguments),
	    cmocka_unit_test(test_fetch_sections),
	    cmocka_unit_test(test_literals),
	    cmocka_unit_test(test_continue_has_tag),
	    cmocka_unit_test(test_syntax_errors),
	    cmocka_unit_test(test_line_ends),
	    cmocka_unit_test(test_refused_literals),
	    cmocka_unit_test(test_limits_change),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_args_max_exact),
	    cmocka_unit_test(test_line_max),
	    cmocka_unit_test(test_fatal_sticks),
	    cmocka_unit_test(test_reset),
	    cmocka_unit_test(test_feed_line),
	    cmocka_unit_test(test_match),
	    cmocka_unit_test(test_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
