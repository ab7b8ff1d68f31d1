/*
 * test_smtp_path.c: Reverse-path / Forward-path and ESMTP parameters
 * (RFC 5321 4.1.2), smtp_path_format() and smtp_domain_valid().
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "smtp/smtp_parse.h"

#define E_BRACKETS "Syntax error: path must be enclosed in <>"
#define E_NULL "Null path is not allowed here"
#define E_ROUTE "Source routes are not accepted"
#define E_PERCENT "'%' in the local part is not accepted"
#define E_BANG "'!' in the local part is not accepted"
#define E_8BIT "Non-ASCII addresses are not accepted"
#define E_NO_DOMAIN "Syntax error: address must have a domain"
#define E_LOCAL "Syntax error in local part"
#define E_QUOTED "Syntax error in quoted local part"
#define E_LOCAL_LONG "Local part too long"
#define E_DOMAIN "Syntax error in domain"
#define E_DOMAIN_LONG "Domain too long"
#define E_LITERAL "Invalid address literal"
#define E_ADDRESS "Syntax error in address"
#define E_PATH_LONG "Path too long"
#define E_PARAMS "Syntax error in parameters"
#define E_MANY "Too many parameters"
#define E_KEYWORD_LONG "Parameter keyword too long"
#define E_VALUE_LONG "Parameter value too long"

struct result {
	struct smtp_path path;
	struct smtp_param params[SMTP_MAX_PARAMS];
	unsigned n;
};

/* Checks that formatting R's path and parsing it back gives the same path. */
static void check_round_trip(const struct result *r)
{
	char text[600], arg[610];
	struct result again;
	const char *error = NULL;

	smtp_path_format(&r->path, text, sizeof(text));
	snprintf(arg, sizeof(arg), "<%s>", text);
	assert_int_equal(smtp_path_parse(arg, 1, 1, &again.path, again.params, &again.n, &error),
	                 0);
	assert_string_equal(again.path.local, r->path.local);
	assert_string_equal(again.path.domain, r->path.domain);
	assert_int_equal(again.path.null, r->path.null);
}

/* Parses ARG with both flags set and checks LOCAL, DOMAIN and N params. */
static struct result *parse_ok(const char *arg, const char *local, const char *domain, unsigned n)
{
	static struct result r;
	const char *error = NULL;

	memset(&r, 0xa5, sizeof(r));
	if (smtp_path_parse(arg, 1, 1, &r.path, r.params, &r.n, &error) != 0)
		fail_msg("%s: %s", arg, error);
	assert_string_equal(r.path.local, local);
	assert_string_equal(r.path.domain, domain);
	assert_int_equal(r.n, n);
	check_round_trip(&r);
	return &r;
}

/* Parses ARG with the given flags and checks it fails with ERROR. */
static void parse_fail_flags(const char *arg, int allow_null, int allow_pm, const char *error)
{
	struct result r;
	const char *got = NULL;

	memset(&r, 0xa5, sizeof(r));
	if (smtp_path_parse(arg, allow_null, allow_pm, &r.path, r.params, &r.n, &got) != -1)
		fail_msg("%s: accepted", arg);
	assert_non_null(got);
	if (strcmp(got, error) != 0)
		fail_msg("%s: got \"%s\", want \"%s\"", arg, got, error);
	assert_int_equal(r.n, 0);
	assert_string_equal(r.path.local, "");
	assert_string_equal(r.path.domain, "");
}

static void parse_fail(const char *arg, const char *error)
{
	parse_fail_flags(arg, 1, 1, error);
}

/* Returns PREFIX + N times C + SUFFIX in one of 8 rotating static buffers. */
static const char *repeat(const char *prefix, char c, size_t n, const char *suffix)
{
	static char bufs[8][6000];
	static unsigned next;
	char *buf = bufs[next++ % 8];
	size_t len = strlen(prefix);

	memcpy(buf, prefix, len);
	memset(buf + len, c, n);
	strcpy(buf + len + n, suffix);
	return buf;
}

static void test_simple(void **state)
{
	struct result *r = parse_ok("<user@example.com>", "user", "example.com", 0);

	assert_false(r->path.null);
	assert_false(r->path.quoted);
	parse_ok("<User.Name+tag@Mail.Example.COM>", "User.Name+tag", "mail.example.com", 0);
	parse_ok("<a@b>", "a", "b", 0);
	parse_ok("<x@localhost>", "x", "localhost", 0);
	parse_ok("<#$&'*+-/=?^_`{|}~@x1-y.example>", "#$&'*+-/=?^_`{|}~", "x1-y.example", 0);
	parse_ok("<postmaster@Example.com>", "postmaster", "example.com", 0);
}

static void test_quoted(void **state)
{
	struct result *r = parse_ok("<\"john doe\"@example.com>", "john doe", "example.com", 0);

	assert_true(r->path.quoted);
	parse_ok("<\"a\\\"b\\\\c\"@example.com>", "a\"b\\c", "example.com", 0);
	parse_ok("<\"\\a\\ b\"@example.com>", "a b", "example.com", 0);
	parse_ok("<\"a%b!c\"@example.com>", "a%b!c", "example.com", 0);
	parse_ok("<\"a@b>c\"@example.com>", "a@b>c", "example.com", 0);
	parse_ok("<\"\"@example.com>", "", "example.com", 0);
	parse_ok("<\"plain\"@example.com>", "plain", "example.com", 0);
	parse_fail("<\"abc@example.com>", E_QUOTED);
	parse_fail("<\"abc\\\"@example.com>", E_QUOTED);
	parse_fail("<\"a\tb\"@example.com>", E_QUOTED);
	parse_fail("<\"a\\\x01\"@example.com>", E_QUOTED);
	parse_fail("<\"a\"b@example.com>", E_ADDRESS);
	parse_fail("<\"a\">", E_NO_DOMAIN);
	parse_fail("<\"\xc3\xa9\"@example.com>", E_8BIT);
}

static void test_literals(void **state)
{
	parse_ok("<a@[192.0.2.1]>", "a", "[192.0.2.1]", 0);
	parse_ok("<a@[IPv6:2001:DB8::1]>", "a", "[IPv6:2001:db8::1]", 0);
	parse_ok("<a@[ipv6:::1]>", "a", "[IPv6:::1]", 0);
	parse_ok("<a@[IPv6:::ffff:192.0.2.1]>", "a", "[IPv6:::ffff:192.0.2.1]", 0);
	parse_fail("<a@[192.0.2]>", E_LITERAL);
	parse_fail("<a@[256.0.0.1]>", E_LITERAL);
	parse_fail("<a@[192.0.2.1>", E_LITERAL);
	parse_fail("<a@[]>", E_LITERAL);
	parse_fail("<a@[IPv6:]>", E_LITERAL);
	parse_fail("<a@[IPv6:::g]>", E_LITERAL);
	parse_fail("<a@[IPv6:2001:db8::1%eth0]>", E_LITERAL);
	parse_fail("<a@[x-tag:foo]>", E_LITERAL);
	parse_fail("<a@[2001:db8::1]>", E_LITERAL);
	parse_fail("<a@[ 192.0.2.1]>", E_LITERAL);
	parse_fail("<a@[192.0.2.1]x>", E_LITERAL);
}

static void test_null_and_postmaster(void **state)
{
	struct result *r = parse_ok("<>", "", "", 0);

	assert_true(r->path.null);
	parse_fail_flags("<>", 0, 1, E_NULL);
	r = parse_ok("<> SIZE=100", "", "", 1);
	assert_true(r->path.null);
	parse_ok("<postmaster>", "postmaster", "", 0);
	r = parse_ok("<PostMaster>", "postmaster", "", 0);
	assert_false(r->path.null);
	parse_fail_flags("<postmaster>", 1, 0, E_NO_DOMAIN);
	parse_fail_flags("<Postmaster>", 0, 0, E_NO_DOMAIN);
	parse_fail("<postmasters>", E_NO_DOMAIN);
	parse_fail("<postmaster", E_BRACKETS);
	parse_fail("<", E_BRACKETS);
	parse_fail("<>>", E_PARAMS);
}

static void test_brackets(void **state)
{
	parse_fail("user@example.com", E_BRACKETS);
	parse_fail("<user@example.com", E_BRACKETS);
	parse_fail("user@example.com>", E_BRACKETS);
	parse_fail("", E_BRACKETS);
	parse_fail(" <a@b>", E_BRACKETS);
	parse_fail("<a@b c>", E_ADDRESS);
	parse_fail("<a @b>", E_ADDRESS);
}

static void test_refused_forms(void **state)
{
	parse_fail("<@a.example,@b.example:user@c.example>", E_ROUTE);
	parse_fail("<@a.example:user@c.example>", E_ROUTE);
	parse_fail("<user%other.example@example.com>", E_PERCENT);
	parse_fail("<host!user@example.com>", E_BANG);
	parse_fail("<us\xc3\xa9r@example.com>", E_8BIT);
	parse_fail("<user@ex\xc3\xa4mple.com>", E_8BIT);
}

static void test_local_syntax(void **state)
{
	parse_fail("<user>", E_NO_DOMAIN);
	parse_fail("<user@>", E_DOMAIN);
	parse_fail("<.user@x>", E_LOCAL);
	parse_fail("<user.@x>", E_LOCAL);
	parse_fail("<us..er@x>", E_LOCAL);
	parse_fail("<us(er@x>", E_LOCAL);
	parse_fail("<a,b@x>", E_LOCAL);
	parse_fail("<a\"b@x>", E_LOCAL);
	parse_fail("<@>", E_ROUTE);
	parse_fail("<a@b@c>", E_DOMAIN);
}

static void test_lengths(void **state)
{
	char arg[1024], domain[256];

	parse_ok(repeat("<", 'a', 64, "@example.com>"), repeat("", 'a', 64, ""), "example.com", 0);
	parse_fail(repeat("<", 'a', 65, "@example.com>"), E_LOCAL_LONG);
	parse_fail(repeat("<", 'a', 5000, "@example.com>"), E_LOCAL_LONG);
	/* Quoted: the 64 octets include the quotes. */
	parse_ok(repeat("<\"", 'q', 62, "\"@x>"), repeat("", 'q', 62, ""), "x", 0);
	parse_fail(repeat("<\"", 'q', 63, "\"@x>"), E_LOCAL_LONG);
	parse_fail(repeat("<\"", '\\', 64, "\"@x>"), E_LOCAL_LONG);
	parse_fail(repeat("<\"", 'q', 63, ""), E_LOCAL_LONG);
	/* Labels up to 63 octets. */
	parse_ok(repeat("<a@", 'd', 63, ".com>"), "a", repeat("", 'd', 63, ".com"), 0);
	parse_fail(repeat("<a@", 'd', 64, ".com>"), E_DOMAIN);
	/* Domain up to 255, path up to 256 incl. the brackets. */
	snprintf(arg, sizeof(arg), "<a@%s.%s.%s.%s>", repeat("", 'a', 63, ""),
	         repeat("", 'b', 63, ""), repeat("", 'c', 63, ""), repeat("", 'd', 60, ""));
	assert_int_equal(strlen(arg), 256);
	arg[255] = '\0';
	strcpy(domain, arg + 3);
	arg[255] = '>';
	parse_ok(arg, "a", domain, 0);
	snprintf(arg, sizeof(arg), "<ab@%s.%s.%s.%s>", repeat("", 'a', 63, ""),
	         repeat("", 'b', 63, ""), repeat("", 'c', 63, ""), repeat("", 'd', 60, ""));
	parse_fail(arg, E_PATH_LONG);
	snprintf(arg, sizeof(arg), "<a@%s.%s.%s.%s.e>", repeat("", 'a', 63, ""),
	         repeat("", 'b', 63, ""), repeat("", 'c', 63, ""), repeat("", 'd', 63, ""));
	parse_fail(arg, E_DOMAIN_LONG);
}

static void test_domain_syntax(void **state)
{
	parse_fail("<a@-foo.com>", E_DOMAIN);
	parse_fail("<a@foo-.com>", E_DOMAIN);
	parse_fail("<a@foo..com>", E_DOMAIN);
	parse_fail("<a@foo.com.>", E_DOMAIN);
	parse_fail("<a@.foo.com>", E_DOMAIN);
	parse_fail("<a@foo_bar.com>", E_DOMAIN);
	parse_ok("<a@x--y.example>", "a", "x--y.example", 0);
	parse_ok("<a@1.2.3.4>", "a", "1.2.3.4", 0);
}

static void test_params(void **state)
{
	struct result *r;

	r = parse_ok("<a@b.c> SIZE=123 BODY=8BITMIME", "a", "b.c", 2);
	assert_string_equal(r->params[0].keyword, "SIZE");
	assert_string_equal(r->params[0].value, "123");
	assert_true(r->params[0].has_value);
	assert_string_equal(r->params[1].keyword, "BODY");
	assert_string_equal(r->params[1].value, "8BITMIME");
	r = parse_ok("<a@b.c> size=1 smtputf8", "a", "b.c", 2);
	assert_string_equal(r->params[0].keyword, "SIZE");
	assert_string_equal(r->params[1].keyword, "SMTPUTF8");
	assert_string_equal(r->params[1].value, "");
	assert_false(r->params[1].has_value);
	r = parse_ok("<a@b.c>  NOTIFY=SUCCESS,FAILURE   ORCPT=rfc822;u+2Bx@y  ", "a", "b.c", 2);
	assert_string_equal(r->params[1].value, "rfc822;u+2Bx@y");
	parse_ok("<a@b.c> X-1=~!", "a", "b.c", 1);
	parse_ok("<a@b.c> ", "a", "b.c", 0);
}

static void test_bad_params(void **state)
{
	parse_fail("<a@b.c>SIZE=1", E_PARAMS);
	parse_fail("<a@b.c> =1", E_PARAMS);
	parse_fail("<a@b.c> SIZE=", E_PARAMS);
	parse_fail("<a@b.c> SIZE==1", E_PARAMS);
	parse_fail("<a@b.c> SIZE=1=2", E_PARAMS);
	parse_fail("<a@b.c> -X", E_PARAMS);
	parse_fail("<a@b.c> SI_ZE=1", E_PARAMS);
	parse_fail("<a@b.c> SIZE=1\x80", E_PARAMS);
	parse_fail("<a@b.c> SIZE=1\t", E_PARAMS);
	parse_fail("<a@b.c> SIZE=1 <x@y>", E_PARAMS);
	parse_ok(repeat("<a@b.c> ", 'K', 31, "=1"), "a", "b.c", 1);
	parse_fail(repeat("<a@b.c> ", 'K', 32, "=1"), E_KEYWORD_LONG);
	parse_ok(repeat("<a@b.c> K=", 'v', 511, ""), "a", "b.c", 1);
	parse_fail(repeat("<a@b.c> K=", 'v', 512, ""), E_VALUE_LONG);
}

static void test_param_count(void **state)
{
	char arg[512] = "<a@b.c>";

	for (int i = 0; i < SMTP_MAX_PARAMS; i++)
		snprintf(arg + strlen(arg), sizeof(arg) - strlen(arg), " P%d=%d", i, i);
	parse_ok(arg, "a", "b.c", SMTP_MAX_PARAMS);
	strcat(arg, " ONE-MORE");
	parse_fail(arg, E_MANY);
}

/* Formats PATH into a buffer of SIZE and checks the text. */
static void check_format(const struct smtp_path *path, size_t size, const char *expected)
{
	char buf[600];

	memset(buf, 'Z', sizeof(buf));
	assert_ptr_equal(smtp_path_format(path, buf, size), buf);
	assert_string_equal(buf, expected);
}

static void test_format(void **state)
{
	struct smtp_path p = {.local = "user", .domain = "example.com"};

	check_format(&p, 600, "user@example.com");
	check_format(&p, 5, "user");
	check_format(&p, 1, "");
	strcpy(p.local, "john doe");
	check_format(&p, 600, "\"john doe\"@example.com");
	strcpy(p.local, "a\"b\\c");
	check_format(&p, 600, "\"a\\\"b\\\\c\"@example.com");
	strcpy(p.local, "a%b");
	check_format(&p, 600, "\"a%b\"@example.com");
	strcpy(p.local, "a.b");
	check_format(&p, 600, "a.b@example.com");
	strcpy(p.local, ".ab");
	check_format(&p, 600, "\".ab\"@example.com");
	strcpy(p.local, "");
	check_format(&p, 600, "\"\"@example.com");
	strcpy(p.local, "postmaster");
	p.domain[0] = '\0';
	check_format(&p, 600, "postmaster");
	p.null = 1;
	check_format(&p, 600, "");
}

static void test_domain_valid(void **state)
{
	assert_true(smtp_domain_valid("example.com"));
	assert_true(smtp_domain_valid("EXAMPLE.com"));
	assert_true(smtp_domain_valid("localhost"));
	assert_true(smtp_domain_valid("[192.0.2.1]"));
	assert_true(smtp_domain_valid("[IPv6:::1]"));
	assert_true(smtp_domain_valid(repeat("", 'a', 63, ".b")));
	assert_false(smtp_domain_valid(repeat("", 'a', 64, ".b")));
	assert_false(smtp_domain_valid(""));
	assert_false(smtp_domain_valid("a..b"));
	assert_false(smtp_domain_valid("-a"));
	assert_false(smtp_domain_valid("a_b"));
	assert_false(smtp_domain_valid("a b"));
	assert_false(smtp_domain_valid("ex\xc3\xa4mple.com"));
	assert_false(smtp_domain_valid("[example.com]"));
	assert_false(smtp_domain_valid("[192.0.2.1"));
}

/* Line reader, command parser and path parser together, fed in chunks of
 * STEP after a first one of CUT; the formatted paths are written to OUT. */
static void run_pipeline(const char *in, size_t len, size_t cut, size_t step, char *out)
{
	struct smtp_line_reader r;
	size_t off = 0, consumed, line_len;
	const char *line, *error;

	out[0] = '\0';
	smtp_line_reader_init(&r, 1000);
	while (off < len) {
		size_t end = off < cut ? cut : off + step;
		size_t chunk = (end > len ? len : end) - off;

		while (chunk > 0) {
			struct smtp_command cmd;
			struct result res;
			char text[600];

			enum smtp_line_status st =
			    smtp_line_feed(&r, in + off, chunk, &consumed, &line, &line_len);
			off += consumed;
			chunk -= consumed;
			if (st == SMTP_LINE_NEED_MORE)
				break;
			assert_int_equal(st, SMTP_LINE_OK);
			assert_int_equal(smtp_command_parse_len(line, line_len, &cmd, &error), 0);
			if (smtp_path_parse(cmd.arg, cmd.verb == SMTP_VERB_MAIL,
			                    cmd.verb == SMTP_VERB_RCPT, &res.path, res.params,
			                    &res.n, &error) < 0)
				snprintf(text, sizeof(text), "ERR(%s)", error);
			else
				smtp_path_format(&res.path, text, sizeof(text));
			snprintf(out + strlen(out), 1024 - strlen(out), "%s[%s/%u]", cmd.verb_text,
			         text, res.n);
		}
	}
	smtp_line_reader_free(&r);
}

static void test_pipeline_any_split(void **state)
{
	static const char in[] = "MAIL FROM:<\"a\\\"b\"@[IPv6:::1]> SIZE=1 BODY=8BITMIME\r\n"
	                         "RCPT TO:<postmaster>\r\n"
	                         "RCPT TO:<x%y@z>\r\n"
	                         "rcpt to:  <Q@EXAMPLE.org> NOTIFY=NEVER\r\n";
	static const char expected[] = "MAIL[\"a\\\"b\"@[IPv6:::1]/2]RCPT[postmaster/0]"
	                               "RCPT[ERR('%' in the local part is not accepted)/0]"
	                               "RCPT[Q@example.org/1]";
	char out[1024];
	size_t len = sizeof(in) - 1;

	for (size_t cut = 0; cut <= len; cut++) {
		for (size_t step = 1; step <= 5; step++) {
			run_pipeline(in, len, cut, step, out);
			assert_string_equal(out, expected);
		}
		run_pipeline(in, len, cut, len, out);
		assert_string_equal(out, expected);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple),
	    cmocka_unit_test(test_quoted),
	    cmocka_unit_test(test_literals),
	    cmocka_unit_test(test_null_and_postmaster),
	    cmocka_unit_test(test_brackets),
	    cmocka_unit_test(test_refused_forms),
	    cmocka_unit_test(test_local_syntax),
	    cmocka_unit_test(test_lengths),
	    cmocka_unit_test(test_domain_syntax),
	    cmocka_unit_test(test_params),
	    cmocka_unit_test(test_bad_params),
	    cmocka_unit_test(test_param_count),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_domain_valid),
	    cmocka_unit_test(test_pipeline_any_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
