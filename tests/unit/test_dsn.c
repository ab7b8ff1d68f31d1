/*
 * test_dsn.c: delivery status notifications and xtext. Every DSN built here
 * is parsed back as MIME by a small reader below (headers unfolded, three
 * parts between boundary lines) and checked for CRLF-only line ends and
 * lines of at most 998 octets; the content is checked field by field.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/xtext.h"
#include "queue/dsn.h"

#define NOW 1700000000     /* Tue, 14 Nov 2023 22:13:20 +0000 */
#define ARRIVAL 1699990000 /* Tue, 14 Nov 2023 19:26:40 +0000 */
#define MAX_PARTS 8

static const char original[] = "Received: from client.example.test\r\n"
                               "From: Alice <alice@example.test>\r\n"
                               "To: bob@example.test, carol@example.test\r\n"
                               "Subject: Lunch\r\n"
                               "Message-ID: <123@client.example.test>\r\n"
                               "\r\n"
                               "Shall we meet at noon?\r\n"
                               ".. and bring the SECRET-BODY-MARKER.\r\n";

struct part {
	char *headers; /* unfolded, each line ending in CRLF */
	char *content;
	size_t content_len;
};

struct dsn {
	char *raw;
	size_t len;
	char *headers; /* the top-level header block, unfolded */
	char boundary[128];
	struct part parts[MAX_PARTS];
	unsigned n_parts;
};

/* ---- reading a DSN back ------------------------------------------------ */

/* Asserts that every line of BUF ends in CRLF (no bare CR or LF), the last
 * one too, and that none is longer than 998 octets. */
static void assert_lines_ok(const char *buf, size_t len)
{
	size_t col = 0;

	assert_true(len >= 2 && buf[len - 2] == '\r' && buf[len - 1] == '\n');
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\r') {
			assert_true(i + 1 < len && buf[i + 1] == '\n');
			continue;
		}
		if (buf[i] == '\n') {
			assert_true(i > 0 && buf[i - 1] == '\r');
			col = 0;
			continue;
		}
		col++;
		assert_true(col <= 998);
	}
}

/* A copy of the N octets at S with folding undone (RFC 5322 2.2.3: a CRLF
 * before a space or tab is removed). */
static char *unfold(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t j = 0;

	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' && i + 2 < n && s[i + 1] == '\n' &&
		    (s[i + 2] == ' ' || s[i + 2] == '\t')) {
			i++;
			continue;
		}
		out[j++] = s[i];
	}
	out[j] = '\0';
	return out;
}

/* The unfolded value of header field NAME in the unfolded BLOCK, copied into
 * OUT (SIZE bytes); 1 if found. */
static int header_value(const char *block, const char *name, char *out, size_t size)
{
	size_t name_len = strlen(name);

	for (const char *line = block; *line != '\0';) {
		const char *end = strstr(line, "\r\n");

		assert_non_null(end);
		if ((size_t)(end - line) > name_len && strncasecmp(line, name, name_len) == 0 &&
		    line[name_len] == ':') {
			const char *v = line + name_len + 1;

			while (*v == ' ')
				v++;
			snprintf(out, size, "%.*s", (int)(end - v), v);
			return 1;
		}
		line = end + 2;
	}
	return 0;
}

/* Splits ENTITY (LEN octets) at its first empty line into unfolded headers
 * and content. */
static void split_entity(const char *entity, size_t len, char **headers_r, const char **content_r,
                         size_t *content_len_r)
{
	const char *end;

	if (len >= 2 && entity[0] == '\r' && entity[1] == '\n') {
		*headers_r = unfold("", 0);
		*content_r = entity + 2;
		*content_len_r = len - 2;
		return;
	}
	end = memmem(entity, len, "\r\n\r\n", 4);
	assert_non_null(end);
	*headers_r = unfold(entity, (size_t)(end - entity) + 2);
	*content_r = end + 4;
	*content_len_r = len - (size_t)(end + 4 - entity);
}

/* Finds the boundary in the top-level Content-Type. */
static void read_boundary(struct dsn *d)
{
	char ctype[512], *b, *q;

	assert_true(header_value(d->headers, "Content-Type", ctype, sizeof(ctype)));
	assert_non_null(strstr(ctype, "multipart/report;"));
	assert_non_null(strstr(ctype, "report-type=delivery-status"));
	b = strstr(ctype, "boundary=\"");
	assert_non_null(b);
	b += strlen("boundary=\"");
	q = strchr(b, '"');
	assert_non_null(q);
	assert_in_range(q - b, 1, 70); /* RFC 2046 5.1.1 */
	snprintf(d->boundary, sizeof(d->boundary), "%.*s", (int)(q - b), b);
}

/* Splits the body into the parts between the boundary lines (RFC 2046
 * 5.1.1: the CRLF before a boundary line belongs to it). */
static void read_parts(struct dsn *d, const char *body, size_t len)
{
	char delim[160], close[160];
	const char *pos, *next;

	snprintf(delim, sizeof(delim), "\r\n--%s\r\n", d->boundary);
	snprintf(close, sizeof(close), "\r\n--%s--\r\n", d->boundary);
	pos = memmem(body, len, delim, strlen(delim));
	assert_non_null(pos);
	for (;;) {
		const char *start = pos + strlen(delim), *end = body + len;
		struct part *p = &d->parts[d->n_parts];
		const char *content;
		size_t content_len;

		next = memmem(start, (size_t)(end - start), delim, strlen(delim));
		if (next == NULL) {
			next = memmem(start, (size_t)(end - start), close, strlen(close));
			assert_non_null(next);
			/* nothing after the close delimiter */
			assert_ptr_equal(next + strlen(close), end);
		}
		assert_true(d->n_parts < MAX_PARTS);
		split_entity(start, (size_t)(next - start), &p->headers, &content, &content_len);
		p->content = malloc(content_len + 1);
		assert_non_null(p->content);
		memcpy(p->content, content, content_len);
		p->content[content_len] = '\0';
		p->content_len = content_len;
		d->n_parts++;
		if (memcmp(next, close, strlen(close)) == 0)
			break;
		pos = next;
	}
}

/* Builds the DSN of P and reads it back, checking the structure every DSN
 * must have. */
static void build(const struct dsn_params *p, struct dsn *d)
{
	const char *body;
	size_t body_len;
	char v[512];

	memset(d, 0, sizeof(*d));
	d->raw = dsn_build(p, &d->len);
	assert_non_null(d->raw);
	assert_lines_ok(d->raw, d->len);
	split_entity(d->raw, d->len, &d->headers, &body, &body_len);
	assert_true(header_value(d->headers, "MIME-Version", v, sizeof(v)));
	assert_string_equal(v, "1.0");
	assert_true(header_value(d->headers, "Auto-Submitted", v, sizeof(v)));
	assert_string_equal(v, "auto-replied");
	assert_true(header_value(d->headers, "Date", v, sizeof(v)));
	assert_true(header_value(d->headers, "Message-ID", v, sizeof(v)));
	assert_true(header_value(d->headers, "Subject", v, sizeof(v)));
	read_boundary(d);
	read_parts(d, body, body_len);
	assert_int_equal(d->n_parts, 3);
	assert_true(header_value(d->parts[0].headers, "Content-Type", v, sizeof(v)));
	assert_string_equal(v, "text/plain; charset=us-ascii");
	assert_true(header_value(d->parts[1].headers, "Content-Type", v, sizeof(v)));
	assert_string_equal(v, "message/delivery-status");
	assert_true(header_value(d->parts[2].headers, "Content-Type", v, sizeof(v)));
	assert_true(strcmp(v, "text/rfc822-headers") == 0 || strcmp(v, "message/rfc822") == 0);
	for (unsigned i = 0; i < d->n_parts; i++) {
		assert_null(memmem(d->parts[i].content, d->parts[i].content_len, d->boundary,
		                   strlen(d->boundary)));
	}
}

static void dsn_free(struct dsn *d)
{
	for (unsigned i = 0; i < d->n_parts; i++) {
		free(d->parts[i].headers);
		free(d->parts[i].content);
	}
	free(d->headers);
	free(d->raw);
}

/* The groups of the message/delivery-status part, unfolded: [0] is the
 * per-message one. Returns their number. */
static unsigned report_groups(const struct dsn *d, char **groups, unsigned max)
{
	char *text = unfold(d->parts[1].content, d->parts[1].content_len);
	unsigned n = 0;

	for (char *s = text; *s != '\0' && n < max;) {
		char *end = strstr(s, "\r\n\r\n");

		if (end == NULL) {
			groups[n++] = strdup(s);
			break;
		}
		end[2] = '\0';
		groups[n++] = strdup(s);
		s = end + 4;
	}
	free(text);
	return n;
}

static void free_groups(char **groups, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(groups[i]);
}

/* Asserts that the unfolded BLOCK has the field NAME with value VALUE. */
static void assert_field(const char *block, const char *name, const char *value)
{
	char v[8192];

	if (!header_value(block, name, v, sizeof(v)))
		fail_msg("no %s field in:\n%s", name, block);
	assert_string_equal(v, value);
}

static void assert_no_field(const char *block, const char *name)
{
	char v[8192];

	assert_false(header_value(block, name, v, sizeof(v)));
}

/* 1 when some line of the N octets at S starts with PREFIX. */
static int has_line_starting(const char *s, size_t n, const char *prefix)
{
	size_t len = strlen(prefix);

	for (size_t i = 0; i + len <= n; i++) {
		if ((i == 0 || s[i - 1] == '\n') && memcmp(s + i, prefix, len) == 0)
			return 1;
	}
	return 0;
}

/* ---- fixtures ----------------------------------------------------------- */

static const struct dsn_recipient two_failed[] = {
    {
        .address = "bob@example.test",
        .orcpt = "rfc822;Bob+2BLunch@example.test",
        .action = DSN_ACTION_FAILED,
        .status = "5.1.1",
        .remote_mta = "mx.example.test",
        .diagnostic = "550 5.1.1 <bob@example.test>: user unknown",
        .last_attempt = NOW - 60,
    },
    {
        .address = "carol@example.test",
        .action = DSN_ACTION_FAILED,
        .status = "4.7.5",
        .diagnostic = "4.7.5 TLS required by policy 'verify' for example.test: certificate "
                      "name mismatch (got mx.evil.test)",
    },
};

static struct dsn_params base_params(const struct dsn_recipient *rcpts, unsigned n)
{
	struct dsn_params p = {
	    .reporting_mta = "mail.sealmail.test",
	    .queue_id = "Q1ABC",
	    .envid = NULL,
	    .sender = "alice@example.test",
	    .arrival = ARRIVAL,
	    .ret = DSN_RET_DEFAULT,
	    .rcpts = rcpts,
	    .n_rcpts = n,
	    .message = original,
	    .message_len = sizeof(original) - 1,
	    .now = NOW,
	    .boundary_seed = "Q1ABC",
	};

	return p;
}

/* ---- tests -------------------------------------------------------------- */

static void test_dsn_two_failed(void **state)
{
	struct dsn_params p = base_params(two_failed, 2);
	struct dsn d;
	char *groups[8] = {NULL}, *human;
	unsigned n;

	(void)state;
	build(&p, &d);
	assert_field(d.headers, "From", "Mail Delivery System <MAILER-DAEMON@mail.sealmail.test>");
	assert_field(d.headers, "To", "<alice@example.test>");
	assert_field(d.headers, "Subject", "Undelivered Mail Returned to Sender");
	assert_field(d.headers, "Date", "Tue, 14 Nov 2023 22:13:20 +0000");
	assert_non_null(strstr(d.headers, "Message-ID: <Q1ABC.dsn."));
	assert_non_null(strstr(d.headers, "@mail.sealmail.test>\r\n"));
	/* the part for people names each recipient and its exact reason */
	human = unfold(d.parts[0].content, d.parts[0].content_len);
	assert_non_null(strstr(human, "This is the mail system at host mail.sealmail.test."));
	assert_non_null(strstr(human, "could not be delivered to one or more recipients"));
	assert_non_null(strstr(human, "<bob@example.test>: 550 5.1.1 <bob@example.test>: user "
	                              "unknown\r\n"));
	assert_non_null(strstr(human, "<carol@example.test>: 4.7.5 TLS required by policy "
	                              "'verify' for example.test: certificate name mismatch (got "
	                              "mx.evil.test)\r\n"));
	free(human);
	/* the report: the per-message group and one per recipient */
	n = report_groups(&d, groups, 8);
	assert_int_equal(n, 3);
	assert_field(groups[0], "Reporting-MTA", "dns; mail.sealmail.test");
	assert_field(groups[0], "X-Sealmail-Queue-ID", "Q1ABC");
	assert_field(groups[0], "Arrival-Date", "Tue, 14 Nov 2023 19:26:40 +0000");
	assert_no_field(groups[0], "Original-Envelope-Id");
	assert_field(groups[1], "Original-Recipient", "rfc822;Bob+Lunch@example.test");
	assert_field(groups[1], "Final-Recipient", "rfc822; bob@example.test");
	assert_field(groups[1], "Action", "failed");
	assert_field(groups[1], "Status", "5.1.1");
	assert_field(groups[1], "Remote-MTA", "dns; mx.example.test");
	assert_field(groups[1], "Diagnostic-Code",
	             "smtp; 550 5.1.1 <bob@example.test>: user unknown");
	assert_field(groups[1], "Last-Attempt-Date", "Tue, 14 Nov 2023 22:12:20 +0000");
	assert_no_field(groups[1], "Will-Retry-Until");
	assert_no_field(groups[2], "Original-Recipient");
	assert_field(groups[2], "Final-Recipient", "rfc822; carol@example.test");
	assert_field(groups[2], "Action", "failed");
	assert_field(groups[2], "Status", "4.7.5");
	assert_no_field(groups[2], "Remote-MTA");
	assert_no_field(groups[2], "Last-Attempt-Date");
	assert_field(groups[2], "Diagnostic-Code",
	             "X-Sealmail; 4.7.5 TLS required by policy 'verify' for example.test: "
	             "certificate name mismatch (got mx.evil.test)");
	/* the fields come in RFC 3464's order */
	assert_true(strstr(groups[1], "Original-Recipient:") <
	            strstr(groups[1], "Final-Recipient:"));
	assert_true(strstr(groups[1], "Final-Recipient:") < strstr(groups[1], "Action:"));
	assert_true(strstr(groups[1], "Action:") < strstr(groups[1], "Status:"));
	free_groups(groups, n);
	/* headers only by default: exactly the header block, the empty line too */
	assert_field(d.parts[2].headers, "Content-Type", "text/rfc822-headers");
	assert_int_equal(d.parts[2].content_len, strstr(original, "\r\n\r\n") + 4 - original);
	assert_memory_equal(d.parts[2].content, original, d.parts[2].content_len);
	assert_null(memmem(d.raw, d.len, "SECRET-BODY-MARKER", 18));
	dsn_free(&d);
}

static void test_dsn_ret_hdrs_and_full(void **state)
{
	struct dsn_params p = base_params(two_failed, 2);
	struct dsn d;

	(void)state;
	p.ret = DSN_RET_HDRS;
	build(&p, &d);
	assert_field(d.parts[2].headers, "Content-Type", "text/rfc822-headers");
	assert_null(memmem(d.raw, d.len, "SECRET-BODY-MARKER", 18));
	dsn_free(&d);

	p.ret = DSN_RET_FULL;
	build(&p, &d);
	assert_field(d.parts[2].headers, "Content-Type", "message/rfc822");
	assert_int_equal(d.parts[2].content_len, sizeof(original) - 1);
	assert_memory_equal(d.parts[2].content, original, sizeof(original) - 1);
	assert_non_null(strstr(d.parts[0].content, "It is attached below."));
	dsn_free(&d);
}

static void test_dsn_envid_and_orcpt(void **state)
{
	struct dsn_recipient r[] = {{
	    .address = "dave@example.test",
	    .orcpt = "rfc822;dave@example.test",
	    .action = DSN_ACTION_FAILED,
	    .status = "5.2.2",
	    .diagnostic = "smtp; 552 5.2.2 mailbox full",
	}};
	struct dsn_params p = base_params(r, 1);
	struct dsn d;
	char *groups[4] = {NULL};
	unsigned n;

	(void)state;
	p.envid = "QQ314159+2Bx";
	build(&p, &d);
	n = report_groups(&d, groups, 4);
	assert_int_equal(n, 2);
	assert_field(groups[0], "Original-Envelope-Id", "QQ314159+x");
	assert_field(groups[1], "Original-Recipient", "rfc822;dave@example.test");
	/* a diagnostic that has its type keeps it, without a second one */
	assert_field(groups[1], "Diagnostic-Code", "smtp; 552 5.2.2 mailbox full");
	assert_non_null(strstr(d.parts[0].content, "<dave@example.test>: 552 5.2.2 mailbox full"));
	free_groups(groups, n);
	dsn_free(&d);

	/* not xtext: shown as given */
	p.envid = "a=b";
	r[0].orcpt = "unknown-type;x=y";
	build(&p, &d);
	n = report_groups(&d, groups, 4);
	assert_int_equal(n, 2);
	assert_field(groups[0], "Original-Envelope-Id", "a=b");
	assert_field(groups[1], "Original-Recipient", "unknown-type;x=y");
	free_groups(groups, n);
	dsn_free(&d);
}

static void test_dsn_delayed(void **state)
{
	struct dsn_recipient r[] = {{
	    .address = "erin@example.test",
	    .action = DSN_ACTION_DELAYED,
	    .status = "4.4.1",
	    .remote_mta = "mx2.example.test",
	    .diagnostic = "connection timed out",
	    .last_attempt = NOW - 10,
	    .will_retry_until = NOW + 5 * 86400,
	}};
	struct dsn_params p = base_params(r, 1);
	struct dsn d;
	char *groups[4] = {NULL}, *human;
	unsigned n;

	(void)state;
	p.ret = DSN_RET_FULL; /* a delay report carries the headers only */
	build(&p, &d);
	assert_field(d.headers, "Subject", "Delayed Mail (still being retried)");
	human = unfold(d.parts[0].content, d.parts[0].content_len);
	assert_non_null(strstr(human, "has not yet been delivered"));
	assert_non_null(strstr(human, "will keep trying until Sun, 19 Nov 2023 22:13:20 +0000"));
	assert_non_null(strstr(human, "<erin@example.test>: connection timed out"));
	free(human);
	n = report_groups(&d, groups, 4);
	assert_int_equal(n, 2);
	assert_field(groups[1], "Action", "delayed");
	assert_field(groups[1], "Status", "4.4.1");
	assert_field(groups[1], "Diagnostic-Code", "X-Sealmail; connection timed out");
	assert_field(groups[1], "Will-Retry-Until", "Sun, 19 Nov 2023 22:13:20 +0000");
	free_groups(groups, n);
	assert_field(d.parts[2].headers, "Content-Type", "text/rfc822-headers");
	dsn_free(&d);
}

static void test_dsn_success_and_mixed(void **state)
{
	struct dsn_recipient r[] = {
	    {.address = "f@example.test", .action = DSN_ACTION_DELIVERED, .status = "2.0.0"},
	    {.address = "g@example.test",
	     .action = DSN_ACTION_RELAYED,
	     .status = "2.0.0",
	     .diagnostic = "250 2.0.0 queued as X"},
	    {.address = "h@example.test",
	     .action = DSN_ACTION_DELAYED,
	     .status = "bogus",
	     .will_retry_until = 0},
	    {.address = "i@example.test", .action = (enum dsn_action)42, .status = NULL},
	};
	struct dsn_params p = base_params(r, 2);
	struct dsn d;
	char *groups[8] = {NULL};
	unsigned n;

	(void)state;
	build(&p, &d);
	assert_field(d.headers, "Subject", "Successful Mail Delivery Report");
	n = report_groups(&d, groups, 8);
	assert_int_equal(n, 3);
	assert_field(groups[1], "Action", "delivered");
	assert_no_field(groups[1], "Diagnostic-Code");
	assert_field(groups[2], "Action", "relayed");
	assert_field(groups[2], "Diagnostic-Code", "smtp; 250 2.0.0 queued as X");
	free_groups(groups, n);
	dsn_free(&d);

	p.n_rcpts = 3;
	build(&p, &d);
	assert_field(d.headers, "Subject", "Delayed Mail (still being retried)");
	n = report_groups(&d, groups, 8);
	assert_int_equal(n, 4);
	assert_field(groups[3], "Status", "4.0.0"); /* not an enhanced code */
	assert_no_field(groups[3], "Will-Retry-Until");
	free_groups(groups, n);
	dsn_free(&d);

	p.n_rcpts = 4;
	build(&p, &d);
	assert_field(d.headers, "Subject", "Undelivered Mail Returned to Sender");
	n = report_groups(&d, groups, 8);
	assert_int_equal(n, 5);
	assert_field(groups[4], "Action", "failed");
	assert_field(groups[4], "Status", "5.0.0");
	free_groups(groups, n);
	dsn_free(&d);
}

/* Asserts that no line anywhere in D starts with "X-Evil". */
static void assert_no_evil(const struct dsn *d)
{
	assert_false(has_line_starting(d->raw, d->len, "X-Evil"));
	assert_false(has_line_starting(d->raw, d->len, "--evil"));
	for (unsigned i = 0; i < d->n_parts; i++)
		assert_false(
		    has_line_starting(d->parts[i].content, d->parts[i].content_len, "X-Evil"));
}

/* The record of how a delivery travelled (dsn.h, "The record"): part 1
 * says it under the reason, part 2 has Remote-MTA from the relay and the
 * X-Sealmail-TLS-* extension fields after the standard ones, each only with
 * a value; values from outside cannot start a line. */
static void test_dsn_record(void **state)
{
	struct dsn_recipient r[] = {
	    {.address = "g@example.test",
	     .action = DSN_ACTION_RELAYED,
	     .status = "2.0.0",
	     .diagnostic = "250 2.0.0 queued as X",
	     .relay = "mx.example.test[192.0.2.7]:25",
	     .tls = "TLSv1.3/TLS_AES_256_GCM_SHA384",
	     .peer = "unchecked",
	     .policy = "may",
	     .policy_source = "default",
	     .evidence = "[outbound] tls at sealmail.conf:3"},
	    {.address = "h@example.test",
	     .action = DSN_ACTION_RELAYED,
	     .status = "2.0.0",
	     .relay = "mx2.example.test[192.0.2.8]:25\r\nX-Evil: 1",
	     .tls = "",
	     .peer = "none",
	     .policy = "may",
	     .policy_source = "local",
	     .testing = "would have failed: no STARTTLS\r\nX-Evil: 2"},
	    {.address = "i@example.test", .action = DSN_ACTION_DELIVERED, .status = "2.0.0"},
	};
	struct dsn_params p = base_params(r, 3);
	struct dsn d;
	char *groups[8] = {NULL}, *human;
	const char *g1;
	unsigned n;

	(void)state;
	build(&p, &d);
	assert_no_evil(&d);
	n = report_groups(&d, groups, 8);
	assert_int_equal(n, 4);
	assert_field(groups[1], "Remote-MTA", "dns; mx.example.test");
	assert_field(groups[1], "X-Sealmail-TLS", "TLSv1.3/TLS_AES_256_GCM_SHA384");
	assert_field(groups[1], "X-Sealmail-TLS-Peer", "unchecked");
	assert_field(groups[1], "X-Sealmail-TLS-Policy", "may");
	assert_field(groups[1], "X-Sealmail-TLS-Policy-Source", "default");
	assert_field(groups[1], "X-Sealmail-TLS-Evidence", "[outbound] tls at sealmail.conf:3");
	assert_no_field(groups[1], "X-Sealmail-TLS-Testing");
	/* RFC 3464 2.3: the extension fields after every standard field */
	g1 = groups[1];
	assert_true(strstr(g1, "Last-Attempt-Date:") == NULL ||
	            strstr(g1, "Last-Attempt-Date:") < strstr(g1, "X-Sealmail-TLS:"));
	assert_true(strstr(g1, "Diagnostic-Code:") < strstr(g1, "X-Sealmail-TLS:"));
	assert_field(groups[2], "X-Sealmail-TLS", "none");
	assert_field(groups[2], "X-Sealmail-TLS-Peer", "none");
	assert_field(groups[2], "X-Sealmail-TLS-Policy-Source", "local");
	assert_field(groups[2], "X-Sealmail-TLS-Testing", "would have failed: no STARTTLS X-Evil: 2");
	assert_no_field(groups[2], "X-Sealmail-TLS-Evidence");
	assert_no_field(groups[3], "X-Sealmail-TLS");
	assert_no_field(groups[3], "Remote-MTA");
	human = unfold(d.parts[0].content, d.parts[0].content_len);
	/* unfolded, the record's lines (they start with spaces) join the reason's */
	assert_non_null(strstr(human, "<g@example.test>: 250 2.0.0 queued as X"
	                              "  relay mx.example.test[192.0.2.7]:25, TLS "
	                              "TLSv1.3/TLS_AES_256_GCM_SHA384, peer unchecked, policy may "
	                              "(default)"
	                              "  policy chosen by: [outbound] tls at sealmail.conf:3\r\n"));
	assert_non_null(strstr(human, ", TLS none, peer none, policy may (local)"
	                              "  testing: would have failed: no STARTTLS X-Evil: 2\r\n"));
	free(human);
	free_groups(groups, n);
	dsn_free(&d);
}

static void test_dsn_injection(void **state)
{
	struct dsn_recipient r[] = {{
	    .address = "bob@example.test\r\nX-Evil: 1",
	    .orcpt = "rfc822;bob+0D+0AX-Evil:+201@example.test",
	    .action = DSN_ACTION_FAILED,
	    .status = "5.7.1\r\nX-Evil: 1",
	    .remote_mta = "mx.example.test\r\nX-Evil: 1",
	    .diagnostic = "550 5.7.1 bad\r\nX-Evil: 1\r\n\r\n--evil\r\nX-Evil: 2\n\rX-Evil: 3",
	}};
	struct dsn_params p = base_params(r, 1);
	struct dsn d;
	char *groups[4] = {NULL};
	unsigned n;

	(void)state;
	p.sender = "alice@example.test\r\nX-Evil: 1";
	p.envid = "x+0D+0AX-Evil:+201";
	p.reporting_mta = "host\r\nX-Evil: 1";
	p.queue_id = "Q\r\nX-Evil: 1";
	build(&p, &d);
	assert_no_evil(&d);
	n = report_groups(&d, groups, 4);
	assert_int_equal(n, 2);
	assert_field(groups[1], "Diagnostic-Code",
	             "smtp; 550 5.7.1 bad X-Evil: 1 --evil X-Evil: 2 X-Evil: 3");
	assert_field(groups[1], "Final-Recipient", "rfc822; bob@example.test X-Evil: 1");
	assert_field(groups[1], "Status", "5.0.0");
	free_groups(groups, n);
	dsn_free(&d);
}

static void test_dsn_long_values_fold(void **state)
{
	char *spaced = malloc(6000), *solid = malloc(6000), *expected = malloc(8000);
	struct dsn_recipient r[2] = {
	    {.address = "a@example.test", .action = DSN_ACTION_FAILED, .status = "5.0.0"},
	    {.address = "b@example.test", .action = DSN_ACTION_FAILED, .status = "5.0.0"},
	};
	struct dsn_params p = base_params(r, 2);
	struct dsn d;
	char *groups[4] = {NULL}, v[8192];
	size_t j = 0;
	unsigned n;

	(void)state;
	assert_true(spaced && solid && expected);
	strcpy(spaced, "550 5.0.0");
	for (int i = 0; i < 300; i++)
		strcat(spaced, " word");
	memset(solid, 'x', 3000);
	solid[3000] = '\0';
	r[0].diagnostic = spaced;
	r[1].diagnostic = solid;
	build(&p, &d);
	/* folded: many short lines, continuation lines start with a space */
	assert_true(has_line_starting(d.parts[1].content, d.parts[1].content_len, " word"));
	n = report_groups(&d, groups, 4);
	assert_int_equal(n, 3);
	snprintf(expected, 8000, "smtp; %s", spaced);
	assert_field(groups[1], "Diagnostic-Code", expected);
	/* a run without spaces is broken with one (the only change) */
	assert_true(header_value(groups[2], "Diagnostic-Code", v, sizeof(v)));
	for (size_t i = 0; v[i] != '\0'; i++) {
		if (v[i] != ' ')
			v[j++] = v[i];
	}
	v[j] = '\0';
	snprintf(expected, 8000, "X-Sealmail;%s", solid);
	assert_string_equal(v, expected);
	free_groups(groups, n);
	dsn_free(&d);
	free(spaced);
	free(solid);
	free(expected);
}

static void test_dsn_original_shapes(void **state)
{
	struct dsn_params p = base_params(two_failed, 2);
	char *big = malloc(20000);
	const char no_blank[] = "Subject: only headers\r\nX-A: b";
	const char bare_lf[] = "Subject: lf\nX-A: b\n\nbody\rline\n";
	struct dsn d;
	size_t len;

	(void)state;
	assert_non_null(big);
	/* no empty line: all of it, with a CRLF added */
	p.message = no_blank;
	p.message_len = sizeof(no_blank) - 1;
	build(&p, &d);
	assert_string_equal(d.parts[2].content, "Subject: only headers\r\nX-A: b\r\n");
	dsn_free(&d);
	/* bare LF and CR become CRLF */
	p.message = bare_lf;
	p.message_len = sizeof(bare_lf) - 1;
	build(&p, &d);
	assert_string_equal(d.parts[2].content, "Subject: lf\r\nX-A: b\r\n\r\n");
	dsn_free(&d);
	p.ret = DSN_RET_FULL;
	build(&p, &d);
	assert_string_equal(d.parts[2].content, "Subject: lf\r\nX-A: b\r\n\r\nbody\r\nline\r\n");
	dsn_free(&d);
	/* empty and missing originals */
	p.message = "";
	p.message_len = 0;
	build(&p, &d);
	assert_int_equal(d.parts[2].content_len, 0);
	dsn_free(&d);
	p.message = NULL;
	build(&p, &d);
	assert_int_equal(d.parts[2].content_len, 0);
	dsn_free(&d);
	/* over-long lines in the header and the body are broken */
	len = (size_t)sprintf(big, "Subject: ");
	memset(big + len, 'h', 3000);
	len += 3000;
	len += (size_t)sprintf(big + len, "\r\n\r\n");
	memset(big + len, 'b', 5000);
	len += 5000;
	p.message = big;
	p.message_len = len;
	build(&p, &d);
	assert_true(has_line_starting(d.parts[2].content, d.parts[2].content_len, " hhh"));
	assert_int_equal(d.parts[2].content_len, len + 3 * 3 + 5 * 2 + 2);
	dsn_free(&d);
	/* 8-bit originals are declared so */
	big[20] = (char)0xc3;
	build(&p, &d);
	assert_field(d.parts[2].headers, "Content-Transfer-Encoding", "8bit");
	assert_field(d.headers, "Content-Transfer-Encoding", "8bit");
	dsn_free(&d);
	free(big);
}

static void test_dsn_boundary_avoids_the_original(void **state)
{
	struct dsn_params p = base_params(two_failed, 2);
	char first[128], message[1024];
	struct dsn d;

	(void)state;
	build(&p, &d);
	snprintf(first, sizeof(first), "%s", d.boundary);
	dsn_free(&d);
	/* a message that holds the boundary, as a boundary line too */
	snprintf(message, sizeof(message), "Subject: x\r\nX-B: %s\r\n\r\n--%s\r\n--%s--\r\n", first,
	         first, first);
	p.message = message;
	p.message_len = strlen(message);
	p.ret = DSN_RET_FULL;
	build(&p, &d);
	assert_string_not_equal(d.boundary, first);
	assert_null(strstr(message, d.boundary));
	assert_string_equal(d.parts[2].content, message);
	dsn_free(&d);
	/* a diagnostic that holds it */
	{
		struct dsn_recipient r = two_failed[0];
		char diag[256];

		snprintf(diag, sizeof(diag), "550 --%s", first);
		r.diagnostic = diag;
		p = base_params(&r, 1);
		build(&p, &d);
		assert_string_not_equal(d.boundary, first);
		dsn_free(&d);
	}
	/* the seed and the time change it */
	p = base_params(two_failed, 2);
	p.boundary_seed = "other seed/with odd chars";
	build(&p, &d);
	assert_string_not_equal(d.boundary, first);
	dsn_free(&d);
}

static void test_dsn_null_values(void **state)
{
	struct dsn_recipient r = {.action = DSN_ACTION_FAILED};
	struct dsn_params p = {.rcpts = &r, .n_rcpts = 1};
	struct dsn d;

	(void)state;
	build(&p, &d);
	assert_field(d.headers, "From", "Mail Delivery System <MAILER-DAEMON@localhost>");
	assert_field(d.headers, "To", "<>");
	dsn_free(&d);
	p.n_rcpts = 0;
	p.rcpts = NULL;
	build(&p, &d);
	dsn_free(&d);
}

/* ---- xtext ---------------------------------------------------------------- */

static void assert_decodes(const char *in, const char *expected)
{
	char out[256];

	assert_true(xtext_valid(in));
	assert_int_equal(xtext_decode(in, out, sizeof(out)), 0);
	assert_string_equal(out, expected);
}

static void assert_refused(const char *in)
{
	char out[256];

	assert_false(xtext_valid(in));
	assert_int_equal(xtext_decode(in, out, sizeof(out)), -1);
}

static void test_xtext(void **state)
{
	char out[4];

	(void)state;
	assert_decodes("", "");
	assert_decodes("abc", "abc");
	assert_decodes("a+2Bb", "a+b");
	assert_decodes("+3D+2B", "=+");
	assert_decodes("+2b", "+");
	assert_decodes("rfc822;bob@example.test", "rfc822;bob@example.test");
	assert_decodes("+0D+0A", "\r\n");
	assert_decodes("!~", "!~");
	assert_refused("+2");
	assert_refused("+");
	assert_refused("a+");
	assert_refused("+zz");
	assert_refused("+G0");
	assert_refused("+0G");
	assert_refused("a b");
	assert_refused("a=b");
	assert_refused("a\tb");
	assert_refused("\x7f");
	assert_refused("\x80");
	assert_refused("caf\xc3\xa9");
	/* NUL: valid xtext, but no C string can hold it */
	assert_true(xtext_valid("a+00"));
	assert_int_equal(xtext_decode("a+00", out, sizeof(out)), -1);
	/* size */
	assert_int_equal(xtext_decode("abc", out, 4), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(xtext_decode("abcd", out, 4), -1);
	assert_int_equal(xtext_decode("+41+42+43", out, 4), 0);
	assert_string_equal(out, "ABC");
	assert_int_equal(xtext_decode("", out, 0), -1);
}

/* RFC 3461 4: what is not plain goes as +HH, and decodes back. */
static void test_xtext_encode(void **state)
{
	char out[64], back[64];

	(void)state;
	assert_int_equal(xtext_encode("bob@x.test", out, sizeof(out)), 0);
	assert_string_equal(out, "bob@x.test");
	assert_int_equal(xtext_encode("\"a b+c=d\"@x.test", out, sizeof(out)), 0);
	assert_string_equal(out, "\"a+20b+2Bc+3Dd\"@x.test");
	assert_int_equal(xtext_encode("\t\x7f\x80\xff~!", out, sizeof(out)), 0);
	assert_string_equal(out, "+09+7F+80+FF~!");
	assert_true(xtext_valid(out));
	assert_int_equal(xtext_decode(out, back, sizeof(back)), 0);
	assert_string_equal(back, "\t\x7f\x80\xff~!");
	assert_int_equal(xtext_encode("", out, 1), 0);
	assert_string_equal(out, "");
	/* size: the NUL and a whole +HH must fit */
	assert_int_equal(xtext_encode("abc", out, 4), 0);
	assert_int_equal(xtext_encode("abcd", out, 4), -1);
	assert_int_equal(xtext_encode("a b", out, 5), -1);
	assert_int_equal(xtext_encode("a b", out, 6), 0);
	assert_string_equal(out, "a+20b");
	assert_int_equal(xtext_encode("", out, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dsn_two_failed),
	    cmocka_unit_test(test_dsn_ret_hdrs_and_full),
	    cmocka_unit_test(test_dsn_envid_and_orcpt),
	    cmocka_unit_test(test_dsn_delayed),
	    cmocka_unit_test(test_dsn_success_and_mixed),
	    cmocka_unit_test(test_dsn_record),
	    cmocka_unit_test(test_dsn_injection),
	    cmocka_unit_test(test_dsn_long_values_fold),
	    cmocka_unit_test(test_dsn_original_shapes),
	    cmocka_unit_test(test_dsn_boundary_avoids_the_original),
	    cmocka_unit_test(test_dsn_null_values),
	    cmocka_unit_test(test_xtext),
	    cmocka_unit_test(test_xtext_encode),
	};

	setenv("TZ", "UTC", 1); /* the expected dates below */
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
