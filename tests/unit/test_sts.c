/*
 * test_sts.c: the MTA-STS parsers (RFC 8461): the TXT record (3.1), the
 * policy file (3.2) and the MX match (4.1); valid and invalid inputs from
 * the grammar, every prefix of a valid input, and every byte of one
 * replaced by the bytes the grammar forbids; and the text of the lookup
 * role's cache file, with the span of its policy lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/sts.h"

/* ---- TXT record ----------------------------------------------------- */

/* Asserts that TXT parses to ID. */
static void txt_ok(const char *txt, const char *id)
{
	char got[STS_TXT_ID_MAX + 1] = "x";
	const char *error = NULL;

	if (sts_txt_parse(txt, got, sizeof(got), &error) != 0)
		fail_msg("\"%s\" refused: %s", txt, error);
	assert_string_equal(got, id);
}

/* Asserts that TXT is refused, with a reason and an empty id. */
static void txt_bad(const char *txt)
{
	char got[STS_TXT_ID_MAX + 1] = "x";
	const char *error = NULL;

	if (sts_txt_parse(txt, got, sizeof(got), &error) == 0)
		fail_msg("\"%s\" accepted as id %s", txt, got);
	assert_non_null(error);
	assert_true(error[0] != '\0');
	assert_string_equal(got, "");
}

static void test_txt_valid(void **state)
{
	(void)state;
	txt_ok("v=STSv1; id=20160831085700Z;", "20160831085700Z"); /* RFC 8461 3.1 */
	txt_ok("v=STSv1;id=abc", "abc");
	txt_ok("v=STSv1 ; id=abc ; ", "abc");
	txt_ok("v=STSv1;\tid=abc\t;\t", "abc");
	txt_ok("v=STSv1; ext=val; id=abc;", "abc");
	txt_ok("v=STSv1; id=abc; ext=val", "abc");
	txt_ok("v=STSv1; id=abc; id=def", "abc"); /* 3.2: the first counts */
	txt_ok("v=STSv1; id=A1b2C3", "A1b2C3");
	txt_ok("v=STSv1; id=0123456789abcdef0123456789ABCDEF", "0123456789abcdef0123456789ABCDEF");
	txt_ok("v=STSv1; a.b_c-9=!\"#$%&'()*+,-./:<>?@[\\]^_`{|}~; id=x", "x");
	txt_ok("v=STSv1; a234567890123456789012345678901b=1; id=x", "x");
}

static void test_txt_invalid(void **state)
{
	char longer[STS_TXT_MAX + 16];

	(void)state;
	txt_bad("");
	txt_bad("v=STSv1");
	txt_bad("v=STSv1;");
	txt_bad("v=STSv1; ");
	txt_bad("v=STSv1; ext=1");  /* id is required */
	txt_bad("V=STSv1; id=abc"); /* %s: case-sensitive */
	txt_bad("v=stsv1; id=abc");
	txt_bad("v=STSv2; id=abc");
	txt_bad("v=STSv10; id=abc");
	txt_bad(" v=STSv1; id=abc"); /* v= first, no leading space */
	txt_bad("id=abc; v=STSv1");
	txt_bad("v=STSv1 id=abc");
	txt_bad("v=STSv1;; id=abc");
	txt_bad("v=STSv1; id=abc;;");
	txt_bad("v=STSv1; id=");
	txt_bad("v=STSv1; id=abc-def"); /* id: letters and digits */
	txt_bad("v=STSv1; id=abc_def");
	txt_bad("v=STSv1; id=0123456789abcdef0123456789ABCDEFG"); /* 33 */
	txt_bad("v=STSv1; id = abc");
	txt_bad("v=STSv1; id =abc");
	txt_bad("v=STSv1; id=abc def");
	txt_bad("v=STSv1; ID=abc"); /* an extension: no id left */
	txt_bad("v=STSv1; ext=; id=abc");
	txt_bad("v=STSv1; ext=a=b; id=abc");
	txt_bad("v=STSv1; _ext=a; id=abc");
	txt_bad("v=STSv1; -ext=a; id=abc");
	txt_bad("v=STSv1; ext; id=abc");
	txt_bad("v=STSv1; a2345678901234567890123456789012b=1; id=x"); /* name of 33 */
	txt_bad("v=STSv1; id=abc\r\n");
	txt_bad("v=STSv1; id=abc; ext=\xc3\xa9");
	memcpy(longer, "v=STSv1; id=abc; x=", 19);
	memset(longer + 19, 'a', sizeof(longer) - 20);
	longer[sizeof(longer) - 1] = '\0';
	txt_bad(longer);
	longer[STS_TXT_MAX] = '\0';
	txt_ok(longer, "abc");
}

static void test_txt_small_buffer(void **state)
{
	char id[STS_TXT_ID_MAX] = "x";
	const char *error = NULL;

	(void)state;
	assert_int_equal(sts_txt_parse("v=STSv1; id=abc", id, sizeof(id), &error), -1);
	assert_string_equal(id, "");
}

/* Every prefix of a record is valid exactly when it holds "id=" and at
 * least one character of the id, which is then the prefix's. */
static void test_txt_prefixes(void **state)
{
	const char *rec = "v=STSv1; ext=v; id=abc123;";
	size_t id_at = (size_t)(strstr(rec, "id=") - rec) + 3, len = strlen(rec);

	(void)state;
	for (size_t n = 0; n <= len; n++) {
		char prefix[64], id[STS_TXT_ID_MAX + 1], want[16];
		const char *error = NULL;
		int rc;

		memcpy(prefix, rec, n);
		prefix[n] = '\0';
		rc = sts_txt_parse(prefix, id, sizeof(id), &error);
		if (n <= id_at) {
			assert_int_equal(rc, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		snprintf(want, sizeof(want), "%.*s", (int)(n - id_at > 6 ? 6 : n - id_at),
		         rec + id_at);
		assert_string_equal(id, want);
	}
}

/* 3.1 allows only visible ASCII and WSP: any other byte anywhere refuses
 * the record. */
static void test_txt_bad_bytes(void **state)
{
	const char *rec = "v=STSv1; ext=v; id=abc123;";
	size_t len = strlen(rec);

	(void)state;
	for (size_t i = 0; i < len; i++) {
		for (int b = 1; b < 256; b++) {
			char copy[64], id[STS_TXT_ID_MAX + 1];
			const char *error = NULL;
			int rc;

			memcpy(copy, rec, len + 1);
			copy[i] = (char)b;
			rc = sts_txt_parse(copy, id, sizeof(id), &error);
			if ((b < 0x20 && b != '\t') || b >= 0x7f)
				assert_int_equal(rc, -1);
			else if (rc == 0)
				assert_true(strlen(id) >= 1 && strlen(id) <= 7);
		}
		for (int b = 0; b < 2; b++) { /* cut short by a NUL */
			char copy[64], id[STS_TXT_ID_MAX + 1];
			const char *error = NULL;

			memcpy(copy, rec, len + 1);
			copy[i] = '\0';
			(void)sts_txt_parse(copy, id, sizeof(id), &error);
		}
	}
}

static void test_txt_select(void **state)
{
	const char *error = NULL;
	const char *none[] = {"v=spf1 -all", "v=STSv10; id=1", "x v=STSv1; id=1", "V=STSv1; id=1"};
	const char *one[] = {"v=spf1 -all", "v=STSv1; id=1"};
	const char *two[] = {"v=STSv1; id=1", "foo", "v=STSv1 ; id=2"};
	const char *bare[] = {"v=STSv1"};

	(void)state;
	assert_int_equal(sts_txt_select(NULL, 0, &error), -1);
	assert_non_null(error);
	assert_int_equal(sts_txt_select(none, 4, &error), -1);
	assert_int_equal(sts_txt_select(one, 2, &error), 1);
	error = NULL;
	assert_int_equal(sts_txt_select(two, 3, &error), -1); /* RFC 8461 3.1: not one */
	assert_non_null(strstr(error, "more than one"));
	assert_int_equal(sts_txt_select(bare, 1, &error), 0); /* selected, then invalid */
}

/* ---- policy file ---------------------------------------------------- */

static const char rfc_policy[] = "version: STSv1\n"
                                 "mode: enforce\n"
                                 "mx: mail.example.com\n"
                                 "mx: *.example.net\n"
                                 "mx: backupmx.example.com\n"
                                 "max_age: 604800\n";

static void policy_ok(const char *text, size_t len, struct sts_policy *p)
{
	const char *error = NULL;

	if (sts_policy_parse(text, len, p, &error) != 0)
		fail_msg("policy refused: %s:\n%.*s", error, (int)len, text);
}

static void policy_bad(const char *text, size_t len)
{
	struct sts_policy p;
	const char *error = NULL;

	memset(&p, 0x55, sizeof(p));
	if (sts_policy_parse(text, len, &p, &error) == 0)
		fail_msg("policy accepted:\n%.*s", (int)len, text);
	assert_non_null(error);
	assert_int_equal(p.mode, STS_MODE_ABSENT);
	assert_int_equal(p.n_mx, 0);
}

#define POLICY_OK(s, p) policy_ok((s), strlen(s), (p))
#define POLICY_BAD(s) policy_bad((s), strlen(s))

static void test_policy_rfc_example(void **state)
{
	struct sts_policy p;

	(void)state;
	memset(&p, 0x55, sizeof(p));
	POLICY_OK(rfc_policy, &p);
	assert_int_equal(p.mode, STS_MODE_ENFORCE);
	assert_int_equal(p.max_age, 604800);
	assert_int_equal(p.n_mx, 3);
	assert_string_equal(p.mx[0], "mail.example.com");
	assert_string_equal(p.mx[1], "*.example.net");
	assert_string_equal(p.mx[2], "backupmx.example.com");
	assert_string_equal(p.id, ""); /* the caller's */
	assert_int_equal(p.fetched, 0);
	assert_string_equal(p.error, "");
	assert_string_equal(sts_mode_name(p.mode), "enforce");
}

/* LF, CRLF, a mix, and no end on the last line all read the same. */
static void test_policy_line_ends(void **state)
{
	char crlf[512];
	size_t n = 0;
	struct sts_policy a, b;

	(void)state;
	for (const char *s = rfc_policy; *s != '\0'; s++) {
		if (*s == '\n')
			crlf[n++] = '\r';
		crlf[n++] = *s;
	}
	POLICY_OK(rfc_policy, &a);
	policy_ok(crlf, n, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	policy_ok(crlf, n - 2, &b); /* last line without CRLF */
	assert_memory_equal(&a, &b, sizeof(a));
	policy_ok(rfc_policy, strlen(rfc_policy) - 1, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	POLICY_OK("version: STSv1\r\nmode: none\nmax_age: 1\r\n", &b);
	assert_int_equal(b.mode, STS_MODE_NONE);
	POLICY_BAD("version: STSv1\rmode: none\rmax_age: 1\r"); /* bare CR */
	POLICY_BAD("version: STSv1\nmode: none\r\r\nmax_age: 1\n");
}

static void test_policy_fields(void **state)
{
	struct sts_policy p;

	(void)state;
	POLICY_OK("mx: A.Example.COM\nmax_age: 0\nmode: testing\nversion: STSv1", &p);
	assert_int_equal(p.mode, STS_MODE_TESTING);
	assert_int_equal(p.max_age, 0);
	assert_string_equal(p.mx[0], "a.example.com");
	POLICY_OK("version:STSv1\nmode:\t  enforce \t\nmx:  mx.example.com.\nmax_age: 031557600\n",
	          &p);
	assert_int_equal(p.max_age, 31557600);
	assert_string_equal(p.mx[0], "mx.example.com");
	/* beyond the maximum: cut to it */
	POLICY_OK("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n", &p);
	assert_int_equal(p.max_age, STS_MAX_AGE_MAX);
	POLICY_OK("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 9999999999\n", &p);
	assert_int_equal(p.max_age, STS_MAX_AGE_MAX);
	/* unknown fields ignored, UTF-8 and punctuation in their values */
	POLICY_OK("version: STSv1\nfoo_bar.x-1: any value: = ; \xc3\xa9\nmode: enforce\n"
	          "Mode: none\nmx: a.example\nmax_age: 5\n",
	          &p);
	assert_int_equal(p.mode, STS_MODE_ENFORCE);
	/* repeated fields: the first counts, the others are not even read */
	POLICY_OK("version: STSv1\nversion: STSv9\nmode: testing\nmode: bogus\nmx: a.example\n"
	          "max_age: 5\nmax_age: x\n",
	          &p);
	assert_int_equal(p.mode, STS_MODE_TESTING);
	assert_int_equal(p.max_age, 5);
	/* blank lines and whitespace-only lines are skipped */
	POLICY_OK("\n\nversion: STSv1\n \t\nmode: none\r\n\r\nmax_age: 86400\n\n", &p);
	assert_int_equal(p.mode, STS_MODE_NONE);
	assert_int_equal(p.n_mx, 0); /* mode none needs no mx */
}

static void test_policy_missing(void **state)
{
	(void)state;
	POLICY_BAD("");
	POLICY_BAD("mode: enforce\nmx: a.example\nmax_age: 5\n");
	POLICY_BAD("version: STSv1\nmx: a.example\nmax_age: 5\n");
	POLICY_BAD("version: STSv1\nmode: enforce\nmx: a.example\n");
	POLICY_BAD("version: STSv1\nmode: enforce\nmax_age: 5\n");
	POLICY_BAD("version: STSv1\nmode: testing\nmax_age: 5\n");
	/* keys are case-sensitive: these are unknown fields */
	POLICY_BAD("Version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 5\n");
	POLICY_BAD("version: STSv1\nMODE: enforce\nmx: a.example\nmax_age: 5\n");
	POLICY_BAD("version: STSv1\nmode: enforce\nMX: a.example\nmax_age: 5\n");
}

static void test_policy_bad_values(void **state)
{
	static const char *const modes[] = {"Enforce", "ENFORCE", "test", "enforce x", "\"none\""};
	static const char *const ages[] = {"-1", "1e3", "12345678901", "0x10", "+5", "5 s", "5.0"};
	static const char *const versions[] = {"STSv2", "stsv1", "STSv1 x", "STSv1;"};
	char buf[512];

	(void)state;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		snprintf(buf, sizeof(buf), "version: STSv1\nmode: %s\nmx: a.example\nmax_age: 5\n",
		         modes[i]);
		POLICY_BAD(buf);
	}
	for (size_t i = 0; i < sizeof(ages) / sizeof(ages[0]); i++) {
		snprintf(buf, sizeof(buf), "version: STSv1\nmode: none\nmax_age: %s\n", ages[i]);
		POLICY_BAD(buf);
	}
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		snprintf(buf, sizeof(buf), "version: %s\nmode: none\nmax_age: 5\n", versions[i]);
		POLICY_BAD(buf);
	}
}

static void test_policy_bad_syntax(void **state)
{
	(void)state;
	POLICY_BAD(" version: STSv1\nmode: none\nmax_age: 5\n");
	POLICY_BAD("version : STSv1\nmode: none\nmax_age: 5\n");
	POLICY_BAD("version STSv1\nmode: none\nmax_age: 5\n");
	POLICY_BAD("version: STSv1\nmode:\nmax_age: 5\n");
	POLICY_BAD("version: STSv1\nmode: none\nmax_age: 5\nfoo:\n");
	POLICY_BAD("version: STSv1\nmode: none\nmax_age: 5\n: x\n");
	POLICY_BAD("version: STSv1\nmode: none\nmax_age: 5\n_foo: x\n");
	POLICY_BAD("version: STSv1\nmode: none\nmax_age: 5\nfoo bar: x\n");
	POLICY_BAD("version: STSv1\nmode: none\nmax_age: 5\nfoo: a\tb\n");
	POLICY_BAD("version: STSv1\nmode: none\nmax_age: 5\nfoo: a\x7f\n");
	POLICY_BAD("version: STSv1\nmode: none\nmax_age: 5\n"
	           "a2345678901234567890123456789012b: x\n"); /* key of 33 */
	policy_bad("version: STSv1\nmode: none\nmax_age: 5\nfoo: a\0b\n", 42);
}

static void test_policy_mx_patterns(void **state)
{
	static const char *const bad[] = {
	    "*",           "*.",          "a.*.example", "*.*.example",  "*example.com",
	    "-a.example",  "a-.example",  "a_b.example", "a..example",   ".a.example",
	    "a.example..", "a b.example", "[1.2.3.4]",   "a.example:25", "xn--\xc3\xa9.example",
	    "@example.com"};
	char buf[512], label[70];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "version: STSv1\nmode: enforce\nmx: %s\nmax_age: 5\n",
		         bad[i]);
		POLICY_BAD(buf);
		assert_false(sts_mx_pattern_valid(bad[i]));
	}
	assert_true(sts_mx_pattern_valid("*.com"));
	assert_true(sts_mx_pattern_valid("localhost"));
	assert_true(sts_mx_pattern_valid("1.2.3.4")); /* digits are letter-digit-hyphen */
	assert_true(sts_mx_pattern_valid("xn--bcher-kva.example"));
	memset(label, 'a', 63);
	label[63] = '\0';
	snprintf(buf, sizeof(buf), "%s.example", label);
	assert_true(sts_mx_pattern_valid(buf));
	snprintf(buf, sizeof(buf), "a%s.example", label); /* a label of 64 */
	assert_false(sts_mx_pattern_valid(buf));
	snprintf(buf, sizeof(buf), "%s.%s.%s.%.61s", label, label, label, label); /* 253 */
	assert_true(sts_mx_pattern_valid(buf));
	strcat(buf, "a");
	assert_false(sts_mx_pattern_valid(buf));
}

static void test_policy_bounds(void **state)
{
	char *big = malloc(STS_POLICY_SIZE_MAX + 2);
	struct sts_policy p;
	size_t n;

	(void)state;
	assert_non_null(big);
	/* STS_MX_MAX patterns are kept, one more is refused */
	n = (size_t)sprintf(big, "version: STSv1\nmode: enforce\nmax_age: 5\n");
	for (int i = 0; i < STS_MX_MAX; i++)
		n += (size_t)sprintf(big + n, "mx: mx%d.example\n", i);
	policy_ok(big, n, &p);
	assert_int_equal(p.n_mx, STS_MX_MAX);
	assert_string_equal(p.mx[STS_MX_MAX - 1], "mx15.example");
	n += (size_t)sprintf(big + n, "mx: one-more.example\n");
	policy_bad(big, n);
	/* a line of STS_POLICY_LINE_MAX is read, one octet more is refused */
	n = (size_t)sprintf(big, "version: STSv1\nmode: none\nmax_age: 5\nx: ");
	memset(big + n, 'v', STS_POLICY_LINE_MAX - 3);
	n += STS_POLICY_LINE_MAX - 3;
	big[n++] = '\n';
	policy_ok(big, n, &p);
	big[n - 1] = 'v';
	big[n++] = '\n';
	policy_bad(big, n);
	/* 64 KiB of blank lines after a good policy: read; one more octet: refused */
	n = (size_t)sprintf(big, "version: STSv1\nmode: none\nmax_age: 5\n");
	memset(big + n, '\n', STS_POLICY_SIZE_MAX + 1 - n);
	policy_ok(big, STS_POLICY_SIZE_MAX, &p);
	policy_bad(big, STS_POLICY_SIZE_MAX + 1);
	free(big);
}

/* Every prefix of a policy whose max_age line is last is valid exactly
 * when it holds a digit of max_age, which is then the prefix's. */
static void test_policy_prefixes(void **state)
{
	size_t len = strlen(rfc_policy);
	size_t age_at = (size_t)(strstr(rfc_policy, "max_age: ") - rfc_policy) + 9;

	(void)state;
	for (size_t n = 0; n <= len; n++) {
		struct sts_policy p;
		const char *error = NULL;
		int rc = sts_policy_parse(rfc_policy, n, &p, &error);

		if (n <= age_at) {
			assert_int_equal(rc, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		char digits[8];

		snprintf(digits, sizeof(digits), "%.*s", (int)(n - age_at), rfc_policy + age_at);
		assert_int_equal(p.max_age, strtoul(digits, NULL, 10));
	}
}

/* A control character in place of any octet refuses the policy, but CR
 * just before LF; anything else must not crash. */
static void test_policy_bad_bytes(void **state)
{
	size_t len = strlen(rfc_policy);

	(void)state;
	for (size_t i = 0; i < len; i++) {
		for (int b = 0; b < 256; b++) {
			char copy[256];
			struct sts_policy p;
			const char *error = NULL;
			int rc;

			memcpy(copy, rfc_policy, len);
			copy[i] = (char)b;
			rc = sts_policy_parse(copy, len, &p, &error);
			if (b == '\n' || b == '\t' || (b == '\r' && rfc_policy[i + 1] == '\n'))
				continue;
			if (b < 0x20 || b == 0x7f)
				assert_int_equal(rc, -1);
			else if (rc == 0)
				assert_true(p.n_mx >= 2 && p.n_mx <= 3);
		}
	}
}

/* ---- MX match ------------------------------------------------------- */

static void test_mx_match(void **state)
{
	struct sts_policy p;
	char host[300];

	(void)state;
	POLICY_OK(rfc_policy, &p);
	assert_true(sts_mx_matches(&p, "mail.example.com"));
	assert_true(sts_mx_matches(&p, "MAIL.Example.COM."));
	assert_true(sts_mx_matches(&p, "backupmx.example.com"));
	assert_true(sts_mx_matches(&p, "a.example.net"));
	assert_true(sts_mx_matches(&p, "A-1.EXAMPLE.NET."));
	assert_false(sts_mx_matches(&p, "example.net")); /* 4.1: one label */
	assert_false(sts_mx_matches(&p, "a.b.example.net"));
	assert_false(sts_mx_matches(&p, ".example.net"));
	assert_false(sts_mx_matches(&p, "xexample.net"));
	assert_false(sts_mx_matches(&p, "a.example.net.."));
	assert_false(sts_mx_matches(&p, "mail.example.com.."));
	assert_false(sts_mx_matches(&p, "mail.example.com.evil"));
	assert_false(sts_mx_matches(&p, "evilmail.example.com"));
	assert_false(sts_mx_matches(&p, "x.mail.example.com"));
	assert_false(sts_mx_matches(&p, "example.com"));
	assert_false(sts_mx_matches(&p, "a b.example.net"));
	assert_false(sts_mx_matches(&p, ""));
	assert_false(sts_mx_matches(&p, "."));
	memset(host, 'a', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	assert_false(sts_mx_matches(&p, host));
	/* a struct filled by someone else: any case, a final dot, a huge count */
	memset(&p, 0, sizeof(p));
	strcpy(p.mx[0], "*.Example.ORG.");
	strcpy(p.mx[1], "MX.example.com");
	p.n_mx = 1000;
	assert_true(sts_mx_matches(&p, "mx1.example.org"));
	assert_true(sts_mx_matches(&p, "mx.example.com"));
	memset(p.mx[2], 'a', sizeof(p.mx[2])); /* no NUL */
	assert_false(sts_mx_matches(&p, "aaaa"));
	p.n_mx = 0;
	assert_false(sts_mx_matches(&p, "mx.example.com"));
}

static void test_mode_names(void **state)
{
	(void)state;
	assert_string_equal(sts_mode_name(STS_MODE_ABSENT), "absent");
	assert_string_equal(sts_mode_name(STS_MODE_NONE), "none");
	assert_string_equal(sts_mode_name(STS_MODE_TESTING), "testing");
	assert_string_equal(sts_mode_name(STS_MODE_ENFORCE), "enforce");
	assert_string_equal(sts_mode_name(99), "?");
}

/* ---- the cache file's text ------------------------------------------ */

#define CACHE_HEAD STS_CACHE_FILE_MAGIC "id: 2026A1\nfetched: 1796119200\n\n"
#define CACHE_BODY "version: STSv1\nmode: testing\nmax_age: 600\nmx: MX.example.com\n"

static void test_cache_text(void **state)
{
	static const char text[] = CACHE_HEAD CACHE_BODY;
	static const char *const bad[] = {
	    "sealmail-sts-cache 2\nid: a\nfetched: 1\n\n" CACHE_BODY,
	    STS_CACHE_FILE_MAGIC "fetched: 1\nid: a\n\n" CACHE_BODY,
	    STS_CACHE_FILE_MAGIC "id: a-b\nfetched: 1\n\n" CACHE_BODY,
	    STS_CACHE_FILE_MAGIC "id: 123456789012345678901234567890123\nfetched: 1\n\n" CACHE_BODY,
	    STS_CACHE_FILE_MAGIC "id: a\nfetched: -1\n\n" CACHE_BODY,
	    STS_CACHE_FILE_MAGIC "id: a\nfetched: 1\n" CACHE_BODY,
	    STS_CACHE_FILE_MAGIC "id: a\nfetched: 1\n\nversion: STSv1\nmode: enforce\n",
	};
	struct sts_policy p;
	const char *body = NULL, *why = NULL;
	size_t len = 0;

	assert_int_equal(sts_cache_text_parse(text, sizeof(text) - 1, &p, &body, &len, &why), 0);
	assert_ptr_equal(body, text + sizeof(CACHE_HEAD) - 1);
	assert_int_equal(len, sizeof(CACHE_BODY) - 1);
	assert_string_equal(p.id, "2026A1");
	assert_int_equal(p.fetched, 1796119200);
	assert_int_equal(p.mode, STS_MODE_TESTING);
	assert_int_equal(p.max_age, 600);
	assert_int_equal(p.n_mx, 1);
	assert_string_equal(p.mx[0], "mx.example.com"); /* lower-cased, the lines as written */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		body = text;
		if (sts_cache_text_parse(bad[i], strlen(bad[i]), &p, &body, &len, &why) == 0)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(why);
		assert_null(body);
		assert_int_equal(len, 0);
		assert_int_equal(p.mode, STS_MODE_ABSENT);
	}
	/* cut anywhere (no read past the cut): refused until the mx line has
	 * a character, then the body runs to the cut */
	for (size_t cut = 0, mx_at = (size_t)(strstr(text, "mx: ") - text) + 5; cut < sizeof(text);
	     cut++) {
		char *copy = malloc(cut + 1);
		int r;

		memcpy(copy, text, cut);
		r = sts_cache_text_parse(copy, cut, &p, &body, &len, &why);
		assert_int_equal(r, cut < mx_at ? -1 : 0);
		if (r == 0)
			assert_true(body == copy + sizeof(CACHE_HEAD) - 1 &&
			            body + len == copy + cut);
		free(copy);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_txt_valid),          cmocka_unit_test(test_txt_invalid),
	    cmocka_unit_test(test_txt_small_buffer),   cmocka_unit_test(test_txt_prefixes),
	    cmocka_unit_test(test_txt_bad_bytes),      cmocka_unit_test(test_txt_select),
	    cmocka_unit_test(test_policy_rfc_example), cmocka_unit_test(test_policy_line_ends),
	    cmocka_unit_test(test_policy_fields),      cmocka_unit_test(test_policy_missing),
	    cmocka_unit_test(test_policy_bad_values),  cmocka_unit_test(test_policy_bad_syntax),
	    cmocka_unit_test(test_policy_mx_patterns), cmocka_unit_test(test_policy_bounds),
	    cmocka_unit_test(test_policy_prefixes),    cmocka_unit_test(test_policy_bad_bytes),
	    cmocka_unit_test(test_mx_match),           cmocka_unit_test(test_mode_names),
	    cmocka_unit_test(test_cache_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
