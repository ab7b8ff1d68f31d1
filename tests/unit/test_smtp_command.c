/*
 * test_smtp_command.c: verb and argument splitting, alone and behind the line
 * reader with the input fed whole, byte by byte and split at every point.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "smtp/smtp_parse.h"

/* Parses LINE and checks it gives VERB, VERB_TEXT and ARG. */
static void check_ok(const char *line, enum smtp_verb verb, const char *verb_text, const char *arg)
{
	struct smtp_command cmd;
	const char *error = NULL;

	assert_int_equal(smtp_command_parse(line, &cmd, &error), 0);
	assert_int_equal(cmd.verb, verb);
	assert_string_equal(cmd.verb_text, verb_text);
	assert_string_equal(cmd.arg, arg);
	assert_ptr_equal(cmd.arg + strlen(cmd.arg), line + strlen(line));
}

/* Parses LEN bytes of LINE and checks it fails with ERROR. */
static void check_fail_len(const char *line, size_t len, const char *error)
{
	struct smtp_command cmd;
	const char *got = NULL;

	assert_int_equal(smtp_command_parse_len(line, len, &cmd, &got), -1);
	assert_non_null(got);
	assert_string_equal(got, error);
	assert_string_equal(cmd.arg, "");
}

#define CHECK_FAIL(line, error) check_fail_len(line, sizeof(line) - 1, error)

#define UNRECOGNIZED "Syntax error, command unrecognized"
#define CTL "Syntax error: control characters are not allowed"

static void test_known_verbs(void **state)
{
	check_ok("HELO example.com", SMTP_VERB_HELO, "HELO", "example.com");
	check_ok("ehlo example.com", SMTP_VERB_EHLO, "EHLO", "example.com");
	check_ok("Ehlo   example.com", SMTP_VERB_EHLO, "EHLO", "example.com");
	check_ok("DATA", SMTP_VERB_DATA, "DATA", "");
	check_ok("rset", SMTP_VERB_RSET, "RSET", "");
	check_ok("NOOP hello world", SMTP_VERB_NOOP, "NOOP", "hello world");
	check_ok("QUIT", SMTP_VERB_QUIT, "QUIT", "");
	check_ok("QUIT   ", SMTP_VERB_QUIT, "QUIT", "");
	check_ok("VRFY user", SMTP_VERB_VRFY, "VRFY", "user");
	check_ok("EXPN list", SMTP_VERB_EXPN, "EXPN", "list");
	check_ok("HELP", SMTP_VERB_HELP, "HELP", "");
	check_ok("StartTLS", SMTP_VERB_STARTTLS, "STARTTLS", "");
	check_ok("AUTH PLAIN AGZvbwBiYXI=", SMTP_VERB_AUTH, "AUTH", "PLAIN AGZvbwBiYXI=");
	check_ok("BDAT 100 LAST", SMTP_VERB_BDAT, "BDAT", "100 LAST");
}

static void test_mail_rcpt(void **state)
{
	check_ok("MAIL FROM:<a@b> SIZE=10", SMTP_VERB_MAIL, "MAIL", "<a@b> SIZE=10");
	check_ok("mail from:<a@b>", SMTP_VERB_MAIL, "MAIL", "<a@b>");
	check_ok("MAIL FROM:  <a@b>", SMTP_VERB_MAIL, "MAIL", "<a@b>");
	check_ok("MAIL  FROM:<>", SMTP_VERB_MAIL, "MAIL", "<>");
	check_ok("MAIL FROM:", SMTP_VERB_MAIL, "MAIL", "");
	check_ok("RCPT TO:<c@d>", SMTP_VERB_RCPT, "RCPT", "<c@d>");
	check_ok("rCpT tO: <c@d> NOTIFY=NEVER", SMTP_VERB_RCPT, "RCPT", "<c@d> NOTIFY=NEVER");
	CHECK_FAIL("MAIL FROM :<a@b>", "Syntax error: expected MAIL FROM:<address>");
	CHECK_FAIL("MAIL FROM<a@b>", "Syntax error: expected MAIL FROM:<address>");
	CHECK_FAIL("MAIL TO:<a@b>", "Syntax error: expected MAIL FROM:<address>");
	CHECK_FAIL("MAIL", "Syntax error: expected MAIL FROM:<address>");
	CHECK_FAIL("MAIL FRO", "Syntax error: expected MAIL FROM:<address>");
	CHECK_FAIL("RCPT TO :<c@d>", "Syntax error: expected RCPT TO:<address>");
	CHECK_FAIL("RCPT FROM:<c@d>", "Syntax error: expected RCPT TO:<address>");
}

static void test_unknown_verbs(void **state)
{
	check_ok("XYZZY plugh", SMTP_VERB_UNKNOWN, "XYZZY", "plugh");
	check_ok("heloo", SMTP_VERB_UNKNOWN, "HELOO", "");
	check_ok("ABCDEFGHIJKLMNO x", SMTP_VERB_UNKNOWN, "ABCDEFGHIJKLMNO", "x");
}

static void test_bad_verbs(void **state)
{
	struct smtp_command cmd;
	const char *error;

	CHECK_FAIL("", UNRECOGNIZED);
	CHECK_FAIL(" NOOP", UNRECOGNIZED);
	CHECK_FAIL("MAIL2 FROM:<a@b>", UNRECOGNIZED);
	CHECK_FAIL("MAIL:FROM:<a@b>", UNRECOGNIZED);
	CHECK_FAIL("X-FOO", UNRECOGNIZED);
	check_ok("GET / HTTP/1.1", SMTP_VERB_UNKNOWN, "GET", "/ HTTP/1.1");
	CHECK_FAIL("\xc3\xa9HLO x", UNRECOGNIZED);
	/* 16 letters: too long, and verb_text is "". */
	assert_int_equal(smtp_command_parse("ABCDEFGHIJKLMNOP x", &cmd, &error), -1);
	assert_string_equal(cmd.verb_text, "");
	assert_string_equal(error, UNRECOGNIZED);
}

static void test_control_chars(void **state)
{
	CHECK_FAIL("NOOP\tx", CTL);
	CHECK_FAIL("NOOP\t", CTL);
	CHECK_FAIL("NOOP x\r", CTL);
	CHECK_FAIL("NOOP x\n", CTL);
	CHECK_FAIL("NOOP\rQUIT", CTL);
	CHECK_FAIL("NOOP \x1b[31m", CTL);
	CHECK_FAIL("NOOP \x7f", CTL);
	CHECK_FAIL("MAIL FROM:<a@b>\x01", CTL);
	CHECK_FAIL("NOOP\0QUIT", "Syntax error: NUL bytes are not allowed");
	CHECK_FAIL("\0", "Syntax error: NUL bytes are not allowed");
}

static void test_eight_bit_args_pass(void **state)
{
	/* Arguments are not validated here; the path and domain parsers are. */
	check_ok("HELO ex\xc3\xa4mple.com", SMTP_VERB_HELO, "HELO", "ex\xc3\xa4mple.com");
}

#define PIPELINE                                                                                   \
	"ehlo client.example\r\n"                                                                  \
	"MAIL FROM:<a@b> BODY=8BITMIME\r\n"                                                        \
	"RCPT TO:<c@d>\r\n"                                                                        \
	"NOOP\tx\r\n"                                                                              \
	"NOOP\nRSET\r\n"                                                                           \
	"FOO\rQUIT\r\n"                                                                            \
	"A\0B\r\n"                                                                                 \
	"rcpt to :<x@y>\r\n"                                                                       \
	"DATA\r\n"

#define PIPELINE_EXPECTED                                                                          \
	"EHLO[client.example]MAIL[<a@b> BODY=8BITMIME]RCPT[<c@d>]"                                 \
	"ERR(Syntax error: control characters are not allowed)"                                    \
	"BARE_LF;RSET[]BARE_CR;QUIT[]ERR(Syntax error: NUL bytes are not allowed)"                 \
	"ERR(Syntax error: expected RCPT TO:<address>)DATA[]"

/* Handles one event of the line reader, appending what happened to OUT. */
static void pipeline_event(enum smtp_line_status st, const char *line, size_t len, char *out,
                           size_t size)
{
	struct smtp_command cmd;
	const char *error;
	size_t n = strlen(out);

	if (st == SMTP_LINE_BARE_LF || st == SMTP_LINE_BARE_CR) {
		snprintf(out + n, size - n, "%s;", st == SMTP_LINE_BARE_LF ? "BARE_LF" : "BARE_CR");
	} else if (smtp_command_parse_len(line, len, &cmd, &error) < 0) {
		snprintf(out + n, size - n, "ERR(%s)", error);
	} else {
		snprintf(out + n, size - n, "%s[%s]", cmd.verb_text, cmd.arg);
	}
}

/* Runs the pipeline in chunks of the sizes cycling through STEP. */
static void run_pipeline(const char *in, size_t len, size_t cut, size_t step, char *out,
                         size_t size)
{
	struct smtp_line_reader r;
	size_t off = 0, consumed, line_len;
	const char *line;

	out[0] = '\0';
	smtp_line_reader_init(&r, 512);
	while (off < len) {
		size_t end = off < cut ? cut : off + step;
		size_t chunk = (end > len ? len : end) - off;
		enum smtp_line_status st;

		do {
			st = smtp_line_feed(&r, in + off, chunk, &consumed, &line, &line_len);
			off += consumed;
			chunk -= consumed;
			if (st != SMTP_LINE_NEED_MORE)
				pipeline_event(st, line, line_len, out, size);
		} while (st != SMTP_LINE_NEED_MORE);
	}
	smtp_line_reader_free(&r);
}

static void test_pipeline_any_split(void **state)
{
	char out[1024];
	size_t len = sizeof(PIPELINE) - 1;

	run_pipeline(PIPELINE, len, len, len, out, sizeof(out));
	assert_string_equal(out, PIPELINE_EXPECTED);
	run_pipeline(PIPELINE, len, 0, 1, out, sizeof(out));
	assert_string_equal(out, PIPELINE_EXPECTED);
	for (size_t cut = 0; cut <= len; cut++) {
		for (size_t step = 1; step <= 7; step++) {
			run_pipeline(PIPELINE, len, cut, step, out, sizeof(out));
			assert_string_equal(out, PIPELINE_EXPECTED);
		}
		run_pipeline(PIPELINE, len, cut, len, out, sizeof(out));
		assert_string_equal(out, PIPELINE_EXPECTED);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_verbs),        cmocka_unit_test(test_mail_rcpt),
	    cmocka_unit_test(test_unknown_verbs),      cmocka_unit_test(test_bad_verbs),
	    cmocka_unit_test(test_control_chars),      cmocka_unit_test(test_eight_bit_args_pass),
	    cmocka_unit_test(test_pipeline_any_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
