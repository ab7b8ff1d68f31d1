/*
 * test_mail_header.c: the streaming header scanner, the RFC 5322 address
 * list parser, and the whole-message reader `sealmail send -t` uses. The
 * scanner is fed whole, one octet at a time and cut at every point.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/header_scan.h"
#include "mail/mail_header.h"
#include "mail/mailbox_list.h"

static const char *const sender_fields[] = {"From", "Sender", "Resent-From", "Resent-Sender"};

/* ---- the list parser ---------------------------------------------------- */

/* Parses V; returns the error (NULL when it parsed) and fills *L. */
static const char *parse(const char *v, unsigned flags, struct mailbox_list *l)
{
	const char *why = NULL;

	memset(l, 0, sizeof(*l));
	return mailbox_list_parse(v, strlen(v), flags, l, &why) < 0 ? why : NULL;
}

static void expect_addrs(const char *v, unsigned flags, unsigned n, ...)
{
	struct mailbox_list l;
	const char *why = parse(v, flags, &l);
	va_list ap;
	unsigned i;

	if (why != NULL)
		fail_msg("%s: %s", v, why);
	assert_int_equal(l.n, n);
	va_start(ap, n);
	for (i = 0; i < n; i++)
		assert_string_equal(l.addrs[i], va_arg(ap, const char *));
	va_end(ap);
	mailbox_list_free(&l);
}

static void expect_error(const char *v, unsigned flags, const char *error)
{
	struct mailbox_list l;
	const char *why = parse(v, flags, &l);

	if (why == NULL)
		fail_msg("accepted: %s", v);
	assert_string_equal(why, error);
	mailbox_list_free(&l);
}

/* sendmail -t reads "To: root": a local part alone, kept bare, only when
 * asked; a display name without an address stays an error. */
static void test_list_bare_local_parts(void **state)
{
	(void)state;
	expect_addrs("root", MAILBOX_LIST_BARE, 1, "root");
	expect_addrs(" root , bob@b.test, <ops>", MAILBOX_LIST_BARE, 3, "root", "bob@b.test",
	             "ops");
	expect_addrs("Admins: root, first.last;", MAILBOX_LIST_BARE | MAILBOX_LIST_GROUPS, 2,
	             "root", "first.last");
	expect_addrs("root (the admin)", MAILBOX_LIST_BARE, 1, "root");
	expect_error("root", 0, "address without @");
	expect_error("<root>", 0, "address without @");
	expect_error("John Smith", MAILBOX_LIST_BARE, "text after the address");
}

static void test_list_forms(void **state)
{
	expect_addrs(" alice@local.test", 0, 1, "alice@local.test");
	expect_addrs(" Alice <alice@local.test>", 0, 1, "alice@local.test");
	expect_addrs("\"Smith, Alice\" <alice@local.test>", 0, 1, "alice@local.test");
	expect_addrs("alice@local.test (Alice, the (nested) one)", 0, 1, "alice@local.test");
	expect_addrs("(c) Alice (x) < (y) alice (z) @ (w) local.test (v) > (u)", 0, 1,
	             "alice@local.test");
	expect_addrs("Mr. A. Smith <a@b.test>", 0, 1, "a@b.test"); /* obs-phrase */
	expect_addrs("=?utf-8?q?Al=C3=AFce?= <alice@local.test>", 0, 1, "alice@local.test");
	expect_addrs("=?utf-8?b?QWxpY2UsIEI=?= <alice@local.test>, bob@local.test", 0, 2,
	             "alice@local.test", "bob@local.test");
	expect_addrs("\xc3\x89lise <elise@local.test>", 0, 1, "elise@local.test");
	expect_addrs("a@b.test,,c@d.test,", 0, 2, "a@b.test", "c@d.test");
	expect_addrs("a@[192.0.2.1]", 0, 1, "a@[192.0.2.1]");
	expect_addrs("\"Display <evil@x.test>\" <alice@local.test>", 0, 1, "alice@local.test");
	expect_addrs("Sender <s@local.test>", MAILBOX_LIST_SINGLE, 1, "s@local.test");
}

static void test_list_quoted_local_parts(void **state)
{
	/* a quoted local part that needs no quotes is the same address */
	expect_addrs("\"alice\"@local.test", 0, 1, "alice@local.test");
	expect_addrs("\"al\\ice\"@local.test", 0, 1, "alice@local.test");
	expect_addrs("\"first.last\"@local.test", 0, 1, "first.last@local.test");
	expect_addrs("\"a b\"@local.test", 0, 1, "\"a b\"@local.test");
	expect_addrs("\"a\\\"b\"@local.test", 0, 1, "\"a\\\"b\"@local.test");
	expect_addrs("\"a@b\"@local.test", 0, 1, "\"a@b\"@local.test");
	expect_addrs("alice.\"x\"@local.test", 0, 1, "alice.x@local.test"); /* obs-local-part */
}

static void test_list_refusals(void **state)
{
	expect_error("", 0, "no address");
	expect_error("  (only a comment) ", 0, "no address");
	expect_error(",", 0, "no address");
	expect_error("team: a@b.test, c@d.test;", 0, "group syntax");
	expect_error("undisclosed-recipients:;", 0, "group syntax");
	expect_error("<alice@local.test> ceo@local.test", 0, "text after the address");
	expect_error("<alice@local.test> foreign", 0, "text after the address");
	expect_error("alice@local.test ceo@local.test", 0, "text after the address");
	expect_error("ceo@local.test <alice@local.test>", 0,
	             "more than one address in one mailbox");
	expect_error("Alice <alice@local.test", 0, "unclosed <");
	expect_error("Alice <alice@local.test ceo@local.test>", 0, "unexpected text inside <>");
	expect_error("alice@local.test (comment", 0, "unclosed comment");
	expect_error("alice@local.test (a (b)", 0, "unclosed comment");
	expect_error("\"Alice <alice@local.test>", 0, "unclosed quoted string");
	expect_error("alice@[1.2.3.4", 0, "unclosed [");
	expect_error("alice@local.test)", 0, "unbalanced )");
	expect_error("alice@local.test>", 0, "text after the address");
	expect_error("<@relay.test:alice@local.test>", 0, "source route in the address");
	expect_error("<>", 0, "empty <>");
	expect_error("alice", 0, "address without @");
	expect_error("Alice", 0, "address without @");
	expect_error("alice@", 0, "malformed domain");
	expect_error("alice@local.", 0, "malformed domain");
	expect_error("alice@@local.test", 0, "malformed domain");
	expect_error("a..b@local.test", 0, "malformed local part");
	expect_error("@local.test", 0, "not an address");
	expect_error("alice@local.test\x01", 0, "control character in the field");
	expect_error("alice@local.test\r\n", 0, "control character in the field");
	expect_error("al\\ice@local.test", 0, "backslash outside a quoted string");
	expect_error("a@b.test, c@d.test", MAILBOX_LIST_SINGLE, "more than one address");
	expect_error("a@b.test;", 0, "text after the address");
}

/* Found by fuzz_mail_header: a NUL inside an atom was taken as atext, and
 * control characters passed inside domain literals and quoted strings. */
static void test_list_fuzz_regressions(void **state)
{
	static const char nul[] = "Frn\0t@b.test";
	struct mailbox_list l = {0};
	const char *why = NULL;

	assert_int_equal(mailbox_list_parse(nul, sizeof(nul) - 1, 0, &l, &why), -1);
	assert_string_equal(why, "control character in the field");
	assert_int_equal(l.n, 0);
	mailbox_list_free(&l);
	expect_error("d@[1\x02.2.2.4]", 0, "control character in a quoted string");
	expect_error("\"a\x7f\"@b.test", 0, "control character in a quoted string");
	expect_addrs("\"a\tb\"@b.test", 0, 1, "\"a\tb\"@b.test");
}

static void test_list_groups_when_allowed(void **state)
{
	expect_addrs("team: a@b.test, C <c@d.test>;, e@f.test", MAILBOX_LIST_GROUPS, 3, "a@b.test",
	             "c@d.test", "e@f.test");
	expect_addrs("undisclosed-recipients:;", MAILBOX_LIST_GROUPS, 0);
	expect_error("team: a@b.test", MAILBOX_LIST_GROUPS, "group without ;");
	expect_error("a: b: c@d.test;;", MAILBOX_LIST_GROUPS, "group inside a group");
	expect_error("team: a@b.test; x", MAILBOX_LIST_GROUPS, "text after a group");
}

/* "From:" bodies of N addresses: every one comes back, however many. */
static void test_list_counts(void **state)
{
	static const unsigned counts[] = {1, 16, 17, 1000};
	unsigned c, i;

	for (c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		size_t cap = counts[c] * 40 + 16, o = 0;
		char *v = malloc(cap);
		struct mailbox_list l;

		for (i = 0; i < counts[c]; i++)
			o += (size_t)snprintf(v + o, cap - o, "%sU%u <u%u@local.test>", i ? ", " : "",
			                      i, i);
		assert_null(parse(v, 0, &l));
		assert_int_equal(l.n, counts[c]);
		for (i = 0; i < counts[c]; i++) {
			char want[32];
			snprintf(want, sizeof(want), "u%u@local.test", i);
			assert_string_equal(l.addrs[i], want);
		}
		mailbox_list_free(&l);
		free(v);
	}
	expect_error(" ", 0, "no address"); /* 0 addresses */
}

/* ---- the scanner --------------------------------------------------------- */

struct scanned {
	const char *error;
	int error_which;
	size_t n;
	unsigned which[8];
	char body[8][256];
	size_t length;
};

/* Scans MSG (LEN octets) cut into pieces of at most STEP octets, or at the
 * single point CUT when STEP is 0. */
static void scan(const char *msg, size_t len, size_t step, size_t cut, unsigned flags,
                 struct scanned *out)
{
	struct header_scan hs;
	size_t i;

	header_scan_init(&hs, sender_fields, 4, flags);
	if (step == 0) {
		header_scan_feed(&hs, msg, cut);
		header_scan_feed(&hs, msg + cut, len - cut);
	} else {
		for (i = 0; i < len; i += step)
			header_scan_feed(&hs, msg + i, len - i < step ? len - i : step);
	}
	header_scan_finish(&hs);
	memset(out, 0, sizeof(*out));
	out->error = hs.error;
	out->error_which = hs.error_which;
	out->n = hs.n_fields;
	out->length = hs.length;
	for (i = 0; i < hs.n_fields && i < 8; i++) {
		out->which[i] = hs.fields[i].which;
		snprintf(out->body[i], sizeof(out->body[i]), "%s", hs.fields[i].body);
		assert_int_equal(strlen(hs.fields[i].body), hs.fields[i].len);
	}
	header_scan_free(&hs);
}

/* The same result whole, octet by octet and cut at every point. */
static void scan_all_ways(const char *msg, unsigned flags, struct scanned *out)
{
	size_t len = strlen(msg), cut;
	struct scanned other;

	scan(msg, len, len ? len : 1, 0, flags, out);
	scan(msg, len, 1, 0, flags, &other);
	assert_memory_equal(out, &other, sizeof(other));
	for (cut = 0; cut <= len; cut++) {
		scan(msg, len, 0, cut, flags, &other);
		assert_memory_equal(out, &other, sizeof(other));
	}
}

static void test_scan_fields(void **state)
{
	static const char msg[] = "Received: from x\r\n\tby y\r\n"
	                          "from: Alice\r\n <alice@local.test>\r\n"
	                          "Subject: From: mallory@evil.test\r\n"
	                          "X-From: mallory@evil.test\r\n"
	                          "Sender : s@local.test\r\n"
	                          "Resent-From\t: r@local.test\r\n"
	                          "\r\n"
	                          "From: body@not.header\r\n";
	struct scanned r;

	scan_all_ways(msg, 0, &r);
	assert_null(r.error);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.which[0], 0);
	assert_string_equal(r.body[0], " Alice <alice@local.test>");
	assert_int_equal(r.which[1], 1);
	assert_string_equal(r.body[1], " s@local.test");
	assert_int_equal(r.which[2], 2);
	assert_string_equal(r.body[2], " r@local.test");
	assert_int_equal(r.length, strlen(msg) - strlen("From: body@not.header\r\n"));
}

static void expect_scan_error(const char *msg, const char *error, int which)
{
	struct scanned r;

	scan_all_ways(msg, 0, &r);
	if (r.error == NULL)
		fail_msg("accepted: %s", msg);
	assert_string_equal(r.error, error);
	assert_int_equal(r.error_which, which);
}

static void test_scan_refusals(void **state)
{
	expect_scan_error("Subject: x\rFrom: ceo@local.test\r\n\r\n", "bare CR in the header", -1);
	expect_scan_error("Subject: x\nFrom: ceo@local.test\r\n\r\n", "bare LF in the header", -1);
	expect_scan_error("Subject: x\r\n\rFrom: ceo@local.test\r\n\r\n", "bare CR in the header",
	                  -1);
	expect_scan_error("Subject: x\r\n\nFrom: ceo@local.test\r\n\r\n", "bare LF in the header",
	                  -1);
	expect_scan_error("From: a@local.test\r\r\n\r\n", "bare CR in the header", 0);
	expect_scan_error(" From: ceo@local.test\r\n\r\n",
	                  "the header starts with a continuation line", -1);
	expect_scan_error("From ceo@local.test\r\n\r\n", "malformed header line", -1);
	expect_scan_error("Subject x\r\nFrom: ceo@local.test\r\n\r\n", "malformed header line", -1);
	expect_scan_error(":x\r\n\r\n", "malformed header line", -1);
	expect_scan_error("From: a@local.test", "the message ends inside a header line", 0);
}

static void test_scan_nul(void **state)
{
	static const char msg[] = "From: a@local.test\0b\r\n\r\n";
	struct scanned r;

	scan(msg, sizeof(msg) - 1, sizeof(msg) - 1, 0, 0, &r);
	assert_string_equal(r.error, "NUL in the header");
}

/* A From: after 64 KiB and more of other fields is still seen. */
static void test_scan_long_header(void **state)
{
	size_t filler = 200000, o = 0;
	char *msg = malloc(filler + 2048);
	struct header_scan hs;

	while (o < filler)
		o += (size_t)sprintf(msg + o, "X-Filler: %0990d\r\n", 0);
	o += (size_t)sprintf(msg + o, "From: ceo@local.test\r\n\r\nbody\r\n");
	header_scan_init(&hs, sender_fields, 4, 0);
	header_scan_feed(&hs, msg, o);
	header_scan_finish(&hs);
	assert_null(hs.error);
	assert_int_equal(hs.n_fields, 1);
	assert_string_equal(hs.fields[0].body, " ceo@local.test");
	header_scan_free(&hs);
	free(msg);
}

/* A From: folded past the cap is an error naming it, never cut short. */
static void test_scan_field_cap(void **state)
{
	size_t o = 0;
	char *msg = malloc(2 * HEADER_SCAN_FIELD_MAX + 4096);
	struct header_scan hs;

	o += (size_t)sprintf(msg + o, "From: a@local.test");
	while (o < 2 * HEADER_SCAN_FIELD_MAX)
		o += (size_t)sprintf(msg + o, ",\r\n a@local.test");
	o += (size_t)sprintf(msg + o, ", ceo@local.test\r\n\r\n");
	header_scan_init(&hs, sender_fields, 4, 0);
	header_scan_feed(&hs, msg, o);
	header_scan_finish(&hs);
	assert_non_null(hs.error);
	assert_string_equal(hs.error, "field too long");
	assert_int_equal(hs.error_which, 0);
	header_scan_free(&hs);
	free(msg);
}

static void test_scan_field_count_cap(void **state)
{
	char msg[HEADER_SCAN_FIELDS_MAX * 32 + 64];
	size_t o = 0;
	unsigned i;
	struct header_scan hs;

	for (i = 0; i <= HEADER_SCAN_FIELDS_MAX; i++)
		o += (size_t)sprintf(msg + o, "Resent-From: a@local.test\r\n");
	o += (size_t)sprintf(msg + o, "\r\n");
	header_scan_init(&hs, sender_fields, 4, 0);
	header_scan_feed(&hs, msg, o);
	header_scan_finish(&hs);
	assert_string_equal(hs.error, "too many address fields");
	header_scan_free(&hs);
}

/* A message that is all header, and one without a header. */
static void test_scan_edges(void **state)
{
	struct scanned r;

	scan_all_ways("From: a@local.test\r\n", 0, &r);
	assert_null(r.error);
	assert_int_equal(r.n, 1);
	scan_all_ways("\r\nFrom: a@local.test\r\n", 0, &r);
	assert_null(r.error);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.length, 2);
	scan_all_ways("", 0, &r);
	assert_null(r.error);
	assert_int_equal(r.n, 0);
}

static void test_scan_lax(void **state)
{
	struct scanned r;

	scan_all_ways("To: a@b.test,\n c@d.test\nFrom: x@y.test\n\nTo: no@body.test\n",
	              HEADER_SCAN_LAX_EOL, &r);
	assert_null(r.error);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.body[0], " x@y.test");
}

/* ---- the whole-message reader (send -t) ---------------------------------- */

static void test_mail_header_addresses(void **state)
{
	static const char msg[] = "Received: from x\r\n\tby y\r\n"
	                          "From: \"Smith, Alice\" <alice@local.test>\r\n"
	                          "To: bob@example.com (Bob, the builder), Carol <carol@example.org>,\r\n"
	                          "\tteam: dave@x.test, erin@x.test;\r\n"
	                          "CC:frank@y.test\r\n"
	                          "Subject: To: mallory@evil.test\r\n"
	                          "\r\n"
	                          "To: body@not.header\r\n";
	static const char *const to_cc[] = {"To", "cc", "Bcc"};
	struct mailbox_list l = {0};
	char why[128];

	assert_int_equal(mail_header_addresses(msg, strlen(msg), to_cc, 3, 0, &l, why, sizeof(why)),
	                 0);
	assert_int_equal(l.n, 5);
	assert_string_equal(l.addrs[0], "bob@example.com");
	assert_string_equal(l.addrs[1], "carol@example.org");
	assert_string_equal(l.addrs[2], "dave@x.test");
	assert_string_equal(l.addrs[3], "erin@x.test");
	assert_string_equal(l.addrs[4], "frank@y.test");
	mailbox_list_free(&l);

	assert_int_equal(
	    mail_header_addresses("To: a@b.test (x\n\n", 17, to_cc, 3, 0, &l, why, sizeof(why)),
	    -1);
	assert_string_equal(why, "To: unclosed comment");
	mailbox_list_free(&l);

	/* sendmail -t: "To: root" is refused unless bare names are asked for */
	assert_int_equal(mail_header_addresses("To: root\n\n", 10, to_cc, 3, 0, &l, why, sizeof(why)),
	                 -1);
	assert_string_equal(why, "To: address without @");
	mailbox_list_free(&l);
	assert_int_equal(mail_header_addresses("To: root, a@b.test\nCc: <ops>\n\n", 30, to_cc, 3,
	                                       MAILBOX_LIST_BARE, &l, why, sizeof(why)),
	                 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.addrs[0], "root");
	assert_string_equal(l.addrs[2], "ops");
	mailbox_list_free(&l);
}

static void test_header_length(void **state)
{
	assert_int_equal(mail_header_length("A: b\r\n\r\nbody", 13), 8);
	assert_int_equal(mail_header_length("A: b\n\nbody", 10), 6);
	assert_int_equal(mail_header_length("A: b\r\n", 6), 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_list_forms),
	    cmocka_unit_test(test_list_bare_local_parts),
	    cmocka_unit_test(test_list_quoted_local_parts),
	    cmocka_unit_test(test_list_refusals),
	    cmocka_unit_test(test_list_fuzz_regressions),
	    cmocka_unit_test(test_list_groups_when_allowed),
	    cmocka_unit_test(test_list_counts),
	    cmocka_unit_test(test_scan_fields),
	    cmocka_unit_test(test_scan_refusals),
	    cmocka_unit_test(test_scan_nul),
	    cmocka_unit_test(test_scan_long_header),
	    cmocka_unit_test(test_scan_field_cap),
	    cmocka_unit_test(test_scan_field_count_cap),
	    cmocka_unit_test(test_scan_edges),
	    cmocka_unit_test(test_scan_lax),
	    cmocka_unit_test(test_mail_header_addresses),
	    cmocka_unit_test(test_header_length),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
