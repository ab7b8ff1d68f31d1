/*
 * test_mime_search.c: what SEARCH compares against: RFC 2047 encoded
 * words decoded in headers (UTF-8 and ISO-8859-1; other charsets kept),
 * base64 and quoted-printable text bodies, UTF-8 case folding, and RFC
 * 5322 dates with their obsolete forms. Each message is also given with LF
 * line ends through mail_to_crlf() and must give the same answers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "mail/mime.h"

static const char MSG_WORDS[] =
    "From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>\r\n"
    "To: =?UTF-8?B?SsO8cmdlbg==?= <juergen@example.de>\r\n"
    "Subject: =?UTF-8?B?R3LDvMOfZQ==?= =?UTF-8?Q?_aus_M=C3=BCnchen?= und\r\n"
    " =?KOI8-R?Q?=F0=D2=C9?=\r\n"
    "X-Empty:\r\n"
    "Content-Type: text/plain; charset=ISO-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Caf=E9 cr=E8me, soft=\r\n"
    "ly broken. A =3D sign.\r\n";

static const char MSG_PARTS[] = "Subject: parts\r\n"
                                "Content-Type: multipart/mixed; boundary=b\r\n"
                                "\r\n"
                                "preamble words\r\n"
                                "--b\r\n"
                                "Content-Type: text/plain; charset=utf-8\r\n"
                                "Content-Transfer-Encoding: base64\r\n"
                                "\r\n"
                                "SGVsbG8gV8O2cmxkLCDOlM6VzqzOmyDQn9GA0LjQstC1\r\n"
                                "0YIh\r\n"
                                "--b\r\n"
                                "Content-Type: application/octet-stream\r\n"
                                "\r\n"
                                "binary needle\r\n"
                                "--b\r\n"
                                "Content-Type: message/rfc822\r\n"
                                "\r\n"
                                "Subject: inner subject\r\n"
                                "\r\n"
                                "inner body text\r\n"
                                "--b--\r\n"
                                "epilogue words\r\n";

/* Parses MSG as it is and with LF line ends through mail_to_crlf(). */
static struct mime_message *parse_kind(const char *msg, int kind, char **copy_r)
{
	size_t len = strlen(msg), i, o = 0, crlf_len;
	char *lf = malloc(len + 1);

	*copy_r = NULL;
	if (kind == 0) {
		free(lf);
		return mime_parse(msg, len);
	}
	assert_non_null(lf);
	for (i = 0; i < len; i++)
		if (!(msg[i] == '\r' && msg[i + 1] == '\n'))
			lf[o++] = msg[i];
	*copy_r = mail_to_crlf(lf, o, &crlf_len);
	free(lf);
	return mime_parse(*copy_r, crlf_len);
}

static void expect_header(const char *msg, const char *field, const char *needle, int want)
{
	int kind;

	for (kind = 0; kind < 2; kind++) {
		char *copy;
		struct mime_message *m = parse_kind(msg, kind, &copy);
		print_message("header %s %s\n", field ? field : "(any)", needle);
		assert_int_equal(mime_header_contains(m, field, needle), want);
		mime_free(&m);
		free(copy);
	}
}

static void expect_body(const char *msg, const char *needle, int want)
{
	int kind;

	for (kind = 0; kind < 2; kind++) {
		char *copy;
		struct mime_message *m = parse_kind(msg, kind, &copy);
		print_message("body %s\n", needle);
		assert_int_equal(mime_body_contains(m, needle), want);
		mime_free(&m);
		free(copy);
	}
}

static void test_header_search(void **state)
{
	expect_header(MSG_WORDS, "Subject", "grüße aus münchen", 1);
	expect_header(MSG_WORDS, "subject", "GRÜSSE", 0); /* simple folding: ß stays */
	expect_header(MSG_WORDS, "Subject", "GRÜßE AUS", 1);
	expect_header(MSG_WORDS, "Subject", "=?KOI8-R?Q?=F0=D2=C9?=", 1);
	expect_header(MSG_WORDS, "Subject", "und =?koi8", 1);
	expect_header(MSG_WORDS, "From", "andré pirard", 1);
	expect_header(MSG_WORDS, "From", "pirard@vm1", 1);
	expect_header(MSG_WORDS, "To", "JÜRGEN", 1);
	expect_header(MSG_WORDS, "To", "Andr", 0);
	expect_header(MSG_WORDS, "X-Empty", "", 1);
	expect_header(MSG_WORDS, "X-Missing", "", 0);
	expect_header(MSG_WORDS, NULL, "münchen", 1);
	expect_header(MSG_WORDS, NULL, "x-empty", 1);
	expect_header(MSG_WORDS, NULL, "nowhere", 0);
	expect_header(MSG_PARTS, "Subject", "inner", 0);
}

static void test_body_search(void **state)
{
	expect_body(MSG_WORDS, "café crème", 1);
	expect_body(MSG_WORDS, "CAFÉ CRÈME, SOFTLY", 1);
	expect_body(MSG_WORDS, "a = sign", 1);
	expect_body(MSG_WORDS, "=3D", 0);
	expect_body(MSG_WORDS, "", 1);
	expect_body(MSG_PARTS, "hello wörld", 1);
	expect_body(MSG_PARTS, "δεάλ", 1);
	expect_body(MSG_PARTS, "ПРИВЕТ!", 1);
	expect_body(MSG_PARTS, "SGVsbG8", 0);
	expect_body(MSG_PARTS, "binary needle", 0); /* not a text part */
	expect_body(MSG_PARTS, "preamble", 0);
	expect_body(MSG_PARTS, "epilogue", 0);
	expect_body(MSG_PARTS, "inner body", 1);
	expect_body(MSG_PARTS, "inner subject", 1);
}

static void expect_words(const char *in, const char *out)
{
	size_t len;
	char *got = mime_decode_words(in, strlen(in), &len);

	assert_string_equal(got, out);
	assert_int_equal(len, strlen(out));
	free(got);
}

static void test_decode_words(void **state)
{
	expect_words("=?UTF-8?B?R3LDvMOfZQ==?=", "Grüße");
	expect_words("=?iso-8859-1?q?caf=E9?= =?ISO-8859-1?Q?_ol=E9?=", "café olé");
	expect_words("a =?utf-8?q?b?= c", "a b c");
	expect_words("=?utf-8?q?a?=  \t =?utf-8?q?b?=", "ab");
	expect_words("=?utf-8*en?q?lang?=", "lang");
	expect_words("=?x-unknown?q?a?= =?utf-8?q?b?=", "=?x-unknown?q?a?= b");
	expect_words("=?utf-8?x?a?=", "=?utf-8?x?a?=");
	expect_words("=?utf-8?q?not closed", "=?utf-8?q?not closed");
	expect_words("=?utf-8?q?a b?=", "=?utf-8?q?a b?=");
	expect_words("plain", "plain");
	expect_words("", "");
}

static void test_utf8_ci(void **state)
{
	const char *h = "Grüße ΑΘΗΝΑ Москва ÉCOLE Ÿ ς";

	assert_true(utf8_contains_ci(h, strlen(h), "GRÜ"));
	assert_true(utf8_contains_ci(h, strlen(h), "αθηνα"));
	assert_true(utf8_contains_ci(h, strlen(h), "МОСКВА"));
	assert_true(utf8_contains_ci(h, strlen(h), "école ÿ"));
	assert_true(utf8_contains_ci(h, strlen(h), "Σ"));
	assert_true(utf8_contains_ci(h, strlen(h), ""));
	assert_false(utf8_contains_ci(h, strlen(h), "moscow"));
	assert_false(utf8_contains_ci("ab", 1, "b"));
	/* Octets that are not UTF-8 still match themselves. */
	assert_true(utf8_contains_ci("x\xff\xfeY", 4, "\xff\xfey"));
	assert_true(utf8_contains_ci("a\0b", 3, "B"));
}

static void expect_date(const char *text, int64_t t, int tz)
{
	int64_t got_t = 0;
	int got_tz = 99;

	print_message("date %s\n", text);
	assert_int_equal(mime_date_parse(text, &got_t, &got_tz), 0);
	assert_int_equal(got_t, t);
	assert_int_equal(got_tz, tz);
}

static void expect_bad_date(const char *text)
{
	int64_t t;
	int tz;

	print_message("bad date %s\n", text);
	assert_int_equal(mime_date_parse(text, &t, &tz), -1);
}

static void test_dates(void **state)
{
	/* 2003-07-01 08:52:37 UTC = 1057049557 */
	expect_date("Tue, 1 Jul 2003 10:52:37 +0200", 1057049557, 120);
	expect_date("1 Jul 2003 10:52:37 +0200", 1057049557, 120);
	expect_date("Tue,1 Jul 2003 10:52:37 +0200", 1057049557, 120);
	expect_date("  Tue ,  01  July  2003  10 : 52 : 37  +0200 (CEST)", 1057049557, 120);
	expect_date("Tue, 1 Jul 03 08:52:37 GMT", 1057049557, 0);
	expect_date("Tue, 1 Jul 2003 08:52:37 UT", 1057049557, 0);
	expect_date("Tue, 1 Jul 2003 08:52:37 Z", 1057049557, 0);
	expect_date("Tue, 1 Jul 2003 04:52:37 EDT", 1057049557, -240);
	expect_date("Tue, 1 Jul 2003 03:52:37 EST", 1057049557, -300);
	expect_date("Tue, 1 Jul 2003 01:52:37 PDT", 1057049557, -420);
	expect_date("Tue, 1 Jul 2003 08:52:37 -0000", 1057049557, 0);
	expect_date("Tue, 1 Jul 2003 08:52:37 A", 1057049557, 0);
	expect_date("Tue, 1 Jul 2003 08:52:37", 1057049557, 0);
	expect_date("Tue, 1 Jul 2003 08:52 +0000", 1057049520, 0);
	expect_date("1-Jul-2003 08:52:37 +0000", 1057049557, 0);
	expect_date("Fri, 21 Nov 97 09:55:06 -0600", 880127706, -360);
	expect_date("Fri, 21 Nov 097 09:55:06 -0600", 880127706, -360);
	expect_date("Thu, 1 Jan 1970 00:00:00 +0000", 0, 0);
	expect_date("Sat, 29 Feb 2020 23:59:60 +0000", 1583020800, 0);
	expect_date("Mon, 7 Feb 1994 21:52:25 -0800 (PST)", 760686745, -480);
	expect_bad_date("");
	expect_bad_date("yesterday");
	expect_bad_date("Tue, 1 Foo 2003 10:52:37 +0200");
	expect_bad_date("Tue, 1 Jul 2003");
	expect_bad_date("Tue, 32 Jul 2003 10:52:37 +0200");
	expect_bad_date("Tue, 1 Jul 2003 24:00:00 +0200");
	expect_bad_date("Tue, 1 Jul 2003 10:60:00 +0200");
	expect_bad_date("Tue, 1 Jul 2003 10:52:37 +02");
	expect_bad_date("Tue, 1 Jul 2003 10:52:37 +0299");
	/* Found by the fuzzer: an offset of more than a day. */
	expect_bad_date("Mon, 7 Feb 1994 21:52:25 -8000 (PST)");
	expect_date("Mon, 7 Feb 1994 21:52:25 -2359", 760686745 + 86340 - 28800, -1439);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header_search), cmocka_unit_test(test_body_search),
	    cmocka_unit_test(test_decode_words),  cmocka_unit_test(test_utf8_ci),
	    cmocka_unit_test(test_dates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
