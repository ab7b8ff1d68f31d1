/*
 * test_imap_fetch.c: FETCH items parsed from real command lines (through
 * imap_parse), with the want bits they ask the store for, the errors, and
 * the exact FETCH answers rendered from a store item plus a temporary
 * Maildir-style (LF) file holding a small multipart message: sections of
 * each part, partials at the edges, BINARY decoding, the cached header
 * block, implicit FLAGS.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap/imap_fetch.h"
#include "lib/util.h"

static const char message[] = "From: Alice <a@example.org>\n"
			      "To: b@example.org\n"
			      "Subject: Test\n"
			      "MIME-Version: 1.0\n"
			      "Content-Type: multipart/mixed; boundary=\"XX\"\n"
			      "\n"
			      "preamble\n"
			      "--XX\n"
			      "Content-Type: text/plain\n"
			      "\n"
			      "Hello\n"
			      "--XX\n"
			      "Content-Type: application/octet-stream\n"
			      "Content-Transfer-Encoding: base64\n"
			      "\n"
			      "AAEC\n"
			      "Aw==\n"
			      "--XX\n"
			      "Content-Type: text/plain; charset=utf-8\n"
			      "Content-Transfer-Encoding: quoted-printable\n"
			      "\n"
			      "caf=C3=A9 =\n"
			      "ok\n"
			      "--XX\n"
			      "Content-Type: text/plain\n"
			      "Content-Transfer-Encoding: x-uuencode\n"
			      "\n"
			      "begin\n"
			      "--XX--\n";

struct fixture {
	struct imap_parser *parser;
	int fd;
};

static int setup(void **state)
{
	struct imap_parser_limits limits = {1024 * 1024, 4096};
	struct fixture *f = xcalloc(1, sizeof(*f));
	char path[] = "/tmp/test_imap_fetch.XXXXXX";

	f->parser = imap_parser_new(&limits);
	f->fd = mkstemp(path);
	assert_true(f->fd >= 0);
	unlink(path);
	assert_int_equal(write_all(f->fd, message, strlen(message)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	imap_parser_free(&f->parser);
	close(f->fd);
	free(f);
	return 0;
}

/* Parses "A1 FETCH 1 ITEMS\r\n" and hands the arguments after the set to
 * imap_fetch_parse. */
static int parse_items(struct fixture *f, const char *items, unsigned mode,
                       struct imap_fetch_request *req, const char **error_r)
{
	char *line = xasprintf("A1 FETCH 1 %s\r\n", items);
	struct imap_command *cmd = NULL;
	const char *error = NULL;
	size_t used = 0;
	enum imap_parse_result r;

	r = imap_parser_feed(f->parser, line, strlen(line), &used, &cmd, &error);
	if (r != IMAP_PARSE_COMMAND)
		fail_msg("%s: the parser said %d %s", items, r, error ? error : "");
	assert_int_equal(used, strlen(line));
	assert_true(cmd->n_args >= 1);
	free(line);
	return imap_fetch_parse(cmd->args + 1, cmd->n_args - 1, mode, req, error_r);
}

/* The item names of REQ, space-separated. */
static void names_of(const struct imap_fetch_request *req, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < req->n_items; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s", i > 0 ? " " : "",
		                        req->items[i].name);
}

/* ITEMS parse in MODE to the names NAMES with exactly WANT. */
static void expect(struct fixture *f, const char *items, unsigned mode, const char *names,
                   uint32_t want)
{
	struct imap_fetch_request req;
	const char *error = NULL;
	char got[4096];

	if (parse_items(f, items, mode, &req, &error) != 0)
		fail_msg("%s: %s", items, error);
	names_of(&req, got, sizeof(got));
	if (strcmp(got, names) != 0)
		fail_msg("%s: got '%s', want '%s'", items, got, names);
	if (req.want != want)
		fail_msg("%s: want 0x%x, expected 0x%x", items, req.want, want);
	imap_fetch_request_free(&req);
}

static void expect_error(struct fixture *f, const char *items, unsigned mode)
{
	struct imap_fetch_request req;
	const char *error = NULL;

	if (parse_items(f, items, mode, &req, &error) == 0)
		fail_msg("%s: accepted", items);
	assert_non_null(error);
	imap_fetch_request_free(&req);
}

#define W_FILE STORE_WANT_FILE
#define W_HEAD (STORE_WANT_HEADERS | STORE_WANT_FILE_UNLESS_HEADERS)
#define W_SEEN (STORE_WANT_MARK_SEEN | STORE_WANT_FLAGS)

static void test_parse_simple(void **state)
{
	struct fixture *f = *state;

	expect(f, "ALL", 0, "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE",
	       STORE_WANT_FLAGS | STORE_WANT_INTERNALDATE | STORE_WANT_SIZE | STORE_WANT_ENVELOPE);
	expect(f, "fast", 0, "FLAGS INTERNALDATE RFC822.SIZE",
	       STORE_WANT_FLAGS | STORE_WANT_INTERNALDATE | STORE_WANT_SIZE);
	expect(f, "FULL", 0, "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY",
	       STORE_WANT_FLAGS | STORE_WANT_INTERNALDATE | STORE_WANT_SIZE | STORE_WANT_ENVELOPE |
	               STORE_WANT_BODY);
	expect(f, "(uid flags)", 0, "UID FLAGS", STORE_WANT_FLAGS);
	expect(f, "FLAGS", IMAP_FETCH_MODE_UID, "UID FLAGS", STORE_WANT_FLAGS);
	expect(f, "(FLAGS UID)", IMAP_FETCH_MODE_UID, "FLAGS UID", STORE_WANT_FLAGS);
	expect(f, "(FLAGS FLAGS)", 0, "FLAGS", STORE_WANT_FLAGS);
	expect(f, "(BODYSTRUCTURE BODY ENVELOPE MODSEQ)", 0, "BODYSTRUCTURE BODY ENVELOPE MODSEQ",
	       STORE_WANT_BODYSTRUCTURE | STORE_WANT_BODY | STORE_WANT_ENVELOPE | STORE_WANT_MODSEQ);
	expect(f, "RFC822", 0, "RFC822", W_FILE | W_SEEN);
	expect(f, "RFC822.HEADER", 0, "RFC822.HEADER", W_HEAD);
	expect(f, "RFC822.TEXT", 0, "RFC822.TEXT", W_FILE | W_SEEN);
	expect(f, "RFC822.SIZE", 0, "RFC822.SIZE", STORE_WANT_SIZE);
	expect(f, "INTERNALDATE", 0, "INTERNALDATE", STORE_WANT_INTERNALDATE);
}

static void test_parse_sections(void **state)
{
	struct fixture *f = *state;

	expect(f, "BODY[]", 0, "BODY[]", W_FILE | W_SEEN);
	expect(f, "BODY.PEEK[]", 0, "BODY[]", W_FILE);
	expect(f, "body.peek[text]", 0, "BODY[TEXT]", W_FILE);
	expect(f, "BODY.PEEK[HEADER]", 0, "BODY[HEADER]", W_HEAD);
	expect(f, "BODY[HEADER]", 0, "BODY[HEADER]", W_HEAD | W_SEEN);
	expect(f, "BODY.PEEK[HEADER.FIELDS (Subject \"X-Y\")]<0.100>", 0,
	       "BODY[HEADER.FIELDS (Subject X-Y)]<0>", W_HEAD);
	expect(f, "BODY.PEEK[header.fields.not (From)]", 0, "BODY[HEADER.FIELDS.NOT (From)]",
	       W_HEAD);
	expect(f, "(BODY.PEEK[HEADER] BODY.PEEK[TEXT])", 0, "BODY[HEADER] BODY[TEXT]",
	       W_FILE | STORE_WANT_HEADERS);
	expect(f, "(BODY.PEEK[1] BODY.PEEK[1.2.3] BODY.PEEK[2.MIME] BODY.PEEK[3.text])", 0,
	       "BODY[1] BODY[1.2.3] BODY[2.MIME] BODY[3.TEXT]", W_FILE);
	expect(f, "BODY.PEEK[2.HEADER.FIELDS (A)]<5.1>", 0, "BODY[2.HEADER.FIELDS (A)]<5>", W_FILE);
	expect(f, "BINARY[1]<0.5>", 0, "BINARY[1]<0>", W_FILE | W_SEEN);
	expect(f, "(BINARY.PEEK[1.2] BINARY.SIZE[3] BINARY.PEEK[])", 0,
	       "BINARY[1.2] BINARY.SIZE[3] BINARY[]", W_FILE);
}

static void test_parse_modifiers(void **state)
{
	struct fixture *f = *state;
	struct imap_fetch_request req;
	const char *error;

	(void)f;
	expect(f, "(FLAGS) (CHANGEDSINCE 12345)", 0, "FLAGS MODSEQ",
	       STORE_WANT_FLAGS | STORE_WANT_MODSEQ);
	expect(f, "FLAGS", IMAP_FETCH_MODE_CONDSTORE, "UID FLAGS MODSEQ",
	       STORE_WANT_FLAGS | STORE_WANT_MODSEQ);
	expect(f, "RFC822.SIZE", IMAP_FETCH_MODE_CONDSTORE, "UID RFC822.SIZE", STORE_WANT_SIZE);
	assert_int_equal(parse_items(f, "(FLAGS) (CHANGEDSINCE 5 VANISHED)", IMAP_FETCH_MODE_UID,
	                             &req, &error),
	                 0);
	assert_int_equal(req.changedsince, 5);
	assert_true(req.vanished);
	imap_fetch_request_free(&req);
	expect_error(f, "(FLAGS) (VANISHED)", IMAP_FETCH_MODE_UID);
	expect_error(f, "(FLAGS) (CHANGEDSINCE 5 VANISHED)", 0);
	expect_error(f, "(FLAGS) (CHANGEDSINCE x)", 0);
	expect_error(f, "(FLAGS) (CHANGEDSINCE 0)", 0);
	expect_error(f, "(FLAGS) (CHANGEDSINCE)", 0);
	expect_error(f, "(FLAGS) (CHANGEDSINCE 1 CHANGEDSINCE 2)", 0);
	expect_error(f, "(FLAGS) ()", 0);
	expect_error(f, "(FLAGS) CHANGEDSINCE", 0);
	expect_error(f, "(FLAGS) (FOO 1)", 0);
	expect_error(f, "FLAGS (CHANGEDSINCE 1) (X)", 0);
}

static void test_parse_errors(void **state)
{
	static const char *const bad[] = {
		"()", "FOO", "\"FLAGS\"", "(ALL)", "(FLAGS FAST)", "BODY.PEEK", "BODY[]]",
		"BODY[MIME]", "BODY[0]", "BODY[1.]", "BODY[1.0]", "BODY[.1]", "BODY[HEADER.FIELDS]",
		"BODY[HEADER.FIELDS ()]", "BODY[HEADER.FIELDS (A  B)]",
		"BODY[HEADER.FIELDSX (A)]", "BODY[TEXTX]", "BODY[]<0.0>", "BODY[]<1>", "BODY[]<.1>",
		"BODY[]<1.>", "BODY[]<a.1>", "BODY[]<1.1>x", "BODY[HEADER]x", "BINARY[TEXT]",
		"BINARY[1.MIME]", "BINARY.SIZE[1]<0.1>", "BINARY.PEEK", "FLAGSX", "BODYX[]",
		"BODY[99999999999]", "BODY[]<99999999999999999999.1>", "(FLAGS (UID))",
		"BODY[HEADER.FIELDS (\"\")]"};
	/* atoms the command parser would refuse itself, given directly */
	static const char *const bad_atoms[] = {"BODY[", "BODY[HEADER.FIELDS (A)", "BODY[1",
	                                        "BODY[HEADER.FIELDS (\"A)]", "BODY[]<1.2"};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(f, bad[i], 0);
	for (size_t i = 0; i < sizeof(bad_atoms) / sizeof(bad_atoms[0]); i++) {
		struct imap_arg a = {.type = IMAP_ARG_ATOM, .str = (char *)bad_atoms[i]};
		struct imap_fetch_request req;
		const char *error = NULL;

		a.len = strlen(a.str);
		if (imap_fetch_parse(&a, 1, 0, &req, &error) == 0)
			fail_msg("%s: accepted", bad_atoms[i]);
		imap_fetch_request_free(&req);
	}
}

/* Too many parts in a section, too many items, too many fields. */
static void test_parse_bounds(void **state)
{
	struct fixture *f = *state;
	char text[8192];
	size_t len;

	len = (size_t)sprintf(text, "BODY[1");
	for (unsigned i = 1; i < MIME_SECTION_PARTS_MAX; i++)
		len += (size_t)sprintf(text + len, ".1");
	sprintf(text + len, ".1]");
	expect_error(f, text, 0);
	sprintf(text + len, "]");
	{
		struct imap_fetch_request req;
		const char *error;
		assert_int_equal(parse_items(f, text, 0, &req, &error), 0);
		assert_int_equal(req.items[0].section.n_part, MIME_SECTION_PARTS_MAX);
		imap_fetch_request_free(&req);
	}
	len = (size_t)sprintf(text, "(");
	for (unsigned i = 0; i <= IMAP_FETCH_ITEMS_MAX; i++)
		len += (size_t)sprintf(text + len, "BODY.PEEK[%u] ", i + 1);
	sprintf(text + len - 1, ")");
	expect_error(f, text, 0);
	len = (size_t)sprintf(text, "BODY[HEADER.FIELDS (");
	for (unsigned i = 0; i <= IMAP_FETCH_FIELDS_MAX; i++)
		len += (size_t)sprintf(text + len, "F%u ", i);
	sprintf(text + len - 1, ")]");
	expect_error(f, text, 0);
}

/* ---- rendering ------------------------------------------------------ */

/* Renders ITEMS for a store item (seq 3, uid 17, \Seen, keyword $Work,
 * 17-Jul-1996 02:44:25 -0700) with the file and compares with WANT. */
static void expect_render(struct fixture *f, const char *items, unsigned mode, unsigned flags,
                          const char *headers, const char *want, size_t want_len)
{
	struct proto_store_item item = {.seq = 3, .uid = 17, .flags = STORE_FLAG_SEEN | STORE_FLAG_RECENT,
	                                .modseq = 99, .internaldate = 837596665, .tz_minutes = -420,
	                                .size = 512, .envelope = "(NIL \"Test\")",
	                                .bodystructure = "", .body = "", .headers = (char *)headers};
	struct imap_fetch_request req;
	struct imap_out out = {0};
	const char *error;

	strlcpy_checked(item.keywords, "$Work", sizeof(item.keywords));
	if (parse_items(f, items, mode, &req, &error) != 0)
		fail_msg("%s: %s", items, error);
	assert_int_equal(imap_fetch_render(&req, &item, headers != NULL ? -1 : f->fd, flags, &out), 0);
	if (want_len == 0)
		want_len = strlen(want);
	if (out.len != want_len || memcmp(out.buf, want, want_len) != 0)
		fail_msg("%s: got '%.*s', want '%s'", items, (int)out.len, out.buf, want);
	free(out.buf);
	imap_fetch_request_free(&req);
}

static void test_render_simple(void **state)
{
	struct fixture *f = *state;

	expect_render(f, "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)", 0, 0, NULL,
	              "* 3 FETCH (UID 17 FLAGS (\\Seen $Work) INTERNALDATE "
	              "\"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 512 ENVELOPE (NIL \"Test\"))\r\n",
	              0);
	expect_render(f, "FLAGS", IMAP_FETCH_MODE_UID, IMAP_FETCH_RENDER_REV1, NULL,
	              "* 3 FETCH (UID 17 FLAGS (\\Seen \\Recent $Work))\r\n", 0);
	expect_render(f, "(FLAGS MODSEQ)", 0, 0, NULL,
	              "* 3 FETCH (FLAGS (\\Seen $Work) MODSEQ (99))\r\n", 0);
	expect_render(f, "FLAGS", 0, IMAP_FETCH_RENDER_CONDSTORE, NULL,
	              "* 3 FETCH (FLAGS (\\Seen $Work) MODSEQ (99))\r\n", 0);
}

static void test_render_sections(void **state)
{
	struct fixture *f = *state;

	expect_render(f, "BODY.PEEK[1]", 0, 0, NULL, "* 3 FETCH (BODY[1] {5}\r\nHello)\r\n", 0);
	expect_render(f, "BODY[1]", 0, 0, NULL,
	              "* 3 FETCH (BODY[1] {5}\r\nHello FLAGS (\\Seen $Work))\r\n", 0);
	expect_render(f, "(FLAGS BODY[1])", 0, 0, NULL,
	              "* 3 FETCH (FLAGS (\\Seen $Work) BODY[1] {5}\r\nHello)\r\n", 0);
	expect_render(f, "BODY.PEEK[1.MIME]", 0, 0, NULL,
	              "* 3 FETCH (BODY[1.MIME] {28}\r\nContent-Type: text/plain\r\n\r\n)\r\n", 0);
	expect_render(f, "BODY.PEEK[HEADER.FIELDS (SUBJECT to)]", 0, 0, NULL,
	              "* 3 FETCH (BODY[HEADER.FIELDS (SUBJECT to)] {36}\r\n"
	              "To: b@example.org\r\nSubject: Test\r\n\r\n)\r\n",
	              0);
	expect_render(f, "BODY.PEEK[HEADER.FIELDS.NOT (From To Subject Content-Type)]", 0, 0, NULL,
	              "* 3 FETCH (BODY[HEADER.FIELDS.NOT (From To Subject Content-Type)] {21}\r\n"
	              "MIME-Version: 1.0\r\n\r\n)\r\n",
	              0);
	expect_render(f, "BODY.PEEK[9]", 0, 0, NULL, "* 3 FETCH (BODY[9] \"\")\r\n", 0);
	expect_render(f, "BODY.PEEK[3.TEXT]", 0, 0, NULL, "* 3 FETCH (BODY[3.TEXT] \"\")\r\n", 0);
	expect_render(f, "RFC822.HEADER", 0, 0, NULL,
	              "* 3 FETCH (RFC822.HEADER {130}\r\nFrom: Alice <a@example.org>\r\n"
	              "To: b@example.org\r\nSubject: Test\r\nMIME-Version: 1.0\r\n"
	              "Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n)\r\n",
	              0);
}

/* The whole message: BODY[], RFC822, and TEXT as the file's CRLF form. */
static void test_render_whole(void **state)
{
	struct fixture *f = *state;
	size_t crlf_len, header_len = 130;
	char *crlf = mail_to_crlf(message, strlen(message), &crlf_len);
	char *want = xasprintf("* 3 FETCH (RFC822 {%zu}\r\n%s FLAGS (\\Seen $Work))\r\n", crlf_len,
	                       crlf);
	char *want2 = xasprintf("* 3 FETCH (BODY[TEXT] {%zu}\r\n%s)\r\n", crlf_len - header_len,
	                        crlf + header_len);

	expect_render(f, "RFC822", 0, 0, NULL, want, 0);
	free(want);
	want = xasprintf("* 3 FETCH (BODY[] {%zu}\r\n%s)\r\n", crlf_len, crlf);
	expect_render(f, "BODY.PEEK[]", 0, 0, NULL, want, 0);
	expect_render(f, "BODY.PEEK[TEXT]", 0, 0, NULL, want2, 0);
	free(want2);
	want2 = xasprintf("* 3 FETCH (RFC822.TEXT {%zu}\r\n%s FLAGS (\\Seen $Work))\r\n",
	                  crlf_len - header_len, crlf + header_len);
	expect_render(f, "RFC822.TEXT", 0, 0, NULL, want2, 0);
	free(want);
	free(want2);
	free(crlf);
}

static void test_render_partials(void **state)
{
	struct fixture *f = *state;

	expect_render(f, "BODY.PEEK[1]<0.5>", 0, 0, NULL, "* 3 FETCH (BODY[1]<0> {5}\r\nHello)\r\n",
	              0);
	expect_render(f, "BODY.PEEK[1]<0.1>", 0, 0, NULL, "* 3 FETCH (BODY[1]<0> {1}\r\nH)\r\n", 0);
	expect_render(f, "BODY.PEEK[1]<2.2>", 0, 0, NULL, "* 3 FETCH (BODY[1]<2> {2}\r\nll)\r\n", 0);
	expect_render(f, "BODY.PEEK[1]<4.10>", 0, 0, NULL, "* 3 FETCH (BODY[1]<4> {1}\r\no)\r\n", 0);
	expect_render(f, "BODY.PEEK[1]<5.1>", 0, 0, NULL, "* 3 FETCH (BODY[1]<5> \"\")\r\n", 0);
	expect_render(f, "BODY.PEEK[1]<100.1>", 0, 0, NULL, "* 3 FETCH (BODY[1]<100> \"\")\r\n", 0);
	expect_render(f, "BINARY.PEEK[3]<2.3>", 0, 0, NULL,
	              "* 3 FETCH (BINARY[3]<2> {3}\r\nf\xc3\xa9)\r\n", 0);
}

static void test_render_binary(void **state)
{
	struct fixture *f = *state;
	struct proto_store_item item = {.seq = 1, .uid = 1};
	struct imap_fetch_request req;
	struct imap_out out = {0};
	const char *error;

	static const char want_bytes[] = "* 3 FETCH (BINARY[2] ~{4}\r\n\0\1\2\3)\r\n";

	expect_render(f, "BINARY.PEEK[2]", 0, 0, NULL, want_bytes, sizeof(want_bytes) - 1);
	expect_render(f, "(BINARY.SIZE[2] BINARY.SIZE[3] BINARY.SIZE[1])", 0, 0, NULL,
	              "* 3 FETCH (BINARY.SIZE[2] 4 BINARY.SIZE[3] 8 BINARY.SIZE[1] 5)\r\n", 0);
	expect_render(f, "BINARY.PEEK[3]", 0, 0, NULL,
	              "* 3 FETCH (BINARY[3] {8}\r\ncaf\xc3\xa9 ok)\r\n", 0);
	expect_render(f, "BINARY.PEEK[1]", 0, 0, NULL, "* 3 FETCH (BINARY[1] {5}\r\nHello)\r\n", 0);
	expect_render(f, "BINARY.PEEK[7]", 0, 0, NULL, "* 3 FETCH (BINARY[7] \"\")\r\n", 0);
	/* x-uuencode: NO [UNKNOWN-CTE], nothing written (RFC 3516 4.2) */
	assert_int_equal(parse_items(f, "(UID BINARY.PEEK[4])", 0, &req, &error), 0);
	imap_out_printf(&out, "kept");
	assert_int_equal(imap_fetch_render(&req, &item, f->fd, 0, &out), -1);
	assert_int_equal(out.len, 4);
	imap_fetch_request_free(&req);
	free(out.buf);
}

/* Header sections from the store's cached header block, without the file. */
static void test_render_cached_headers(void **state)
{
	struct fixture *f = *state;
	const char *headers = "Subject: Cached\r\nX-A: 1\r\n\r\n";

	expect_render(f, "BODY.PEEK[HEADER]", 0, 0, headers,
	              "* 3 FETCH (BODY[HEADER] {27}\r\nSubject: Cached\r\nX-A: 1\r\n\r\n)\r\n", 0);
	expect_render(f, "BODY.PEEK[HEADER.FIELDS (X-A)]", 0, 0, headers,
	              "* 3 FETCH (BODY[HEADER.FIELDS (X-A)] {10}\r\nX-A: 1\r\n\r\n)\r\n", 0);
	expect_render(f, "RFC822.HEADER", 0, 0, headers,
	              "* 3 FETCH (RFC822.HEADER {27}\r\nSubject: Cached\r\nX-A: 1\r\n\r\n)\r\n", 0);
	/* the cached block never serves anything else: no file, empty */
	expect_render(f, "BODY.PEEK[1]", 0, 0, headers, "* 3 FETCH (BODY[1] \"\")\r\n", 0);
}

static void test_out_flags(void **state)
{
	struct imap_out out = {0};

	(void)state;
	imap_fetch_out_flags(&out, STORE_FLAGS_SETTABLE | STORE_FLAG_RECENT, "a  b", 1);
	imap_fetch_out_flags(&out, 0, "", 0);
	imap_fetch_out_flags(&out, STORE_FLAG_RECENT, NULL, 0);
	imap_out_append(&out, "", 1);
	assert_string_equal(out.buf,
	                    "(\\Seen \\Answered \\Flagged \\Deleted \\Draft \\Recent a b)()()");
	free(out.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_parse_simple, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_sections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_modifiers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_render_simple, setup, teardown),
		cmocka_unit_test_setup_teardown(test_render_sections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_render_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_render_partials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_render_binary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_render_cached_headers, setup, teardown),
		cmocka_unit_test(test_out_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
