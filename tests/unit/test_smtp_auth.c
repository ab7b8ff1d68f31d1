/*
 * test_smtp_auth.c: the SMTP AUTH sub-machine (smtp/smtp_auth.h) without a
 * socket: each step's reply, whether it counts as an error, and what it
 * asks the session to do next; the doubling delay and the failure limit;
 * the envelope sender and From: header rules of a logged-in user. The
 * header scanner and address parser themselves are test_mail_header.c's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "lib/base64.h"
#include "smtp/smtp_auth.h"

struct fixture {
	struct config cfg;
	struct config_listener listener;
	struct smtp_auth auth;
	struct smtp_auth_out out;
	struct smtp_auth_facts facts; /* after TLS and EHLO, no transaction */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	config_defaults(&f->cfg);
	strcpy(f->cfg.hostname, "mx.local.test");
	f->listener.auth = LISTENER_AUTH_REQUIRED;
	f->listener.tls = LISTENER_TLS_REQUIRED;
	f->facts = (struct smtp_auth_facts){.tls_active = 1, .greeted = 1};
	smtp_auth_init(&f->auth, &f->cfg, &f->listener, "0123456789abcdef", "192.0.2.1");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	smtp_auth_free(&f->auth);
	free(f);
	return 0;
}

/* LEN octets of RAW, base64-encoded, into a static buffer. */
static const char *b64(const char *raw, size_t len)
{
	static char buf[4 * 1024];

	assert_true(len < 2048);
	base64_encode((const unsigned char *)raw, len, buf);
	return buf;
}

static void start(struct fixture *f, const char *arg)
{
	smtp_auth_start(&f->auth, &f->facts, arg, &f->out);
}

static void cont(struct fixture *f, const char *line)
{
	smtp_auth_continue(&f->auth, line, strlen(line), &f->out);
}

/* OUT must be REPLY (a client error when IS_ERROR) with nothing to do. */
static void expect_reply(struct fixture *f, const char *reply, int is_error)
{
	assert_string_equal(f->out.reply, reply);
	assert_int_equal(f->out.is_error, is_error);
	assert_int_equal(f->out.next, SMTP_AUTH_NEXT_NONE);
}

/* OUT must hand USER and PASSWORD to the lookup role, without a reply. */
static void expect_login(struct fixture *f, const char *user, const char *password)
{
	assert_int_equal(f->out.next, SMTP_AUTH_NEXT_CHECK);
	assert_string_equal(f->out.reply, "");
	assert_string_equal(f->out.user, user);
	assert_string_equal(f->out.password, password);
	assert_int_equal(f->auth.step, SMTP_AUTH_IDLE);
	assert_string_equal(f->auth.login, user);
}

static void test_plain_without_initial_response(void **state)
{
	struct fixture *f = *state;

	start(f, "PLAIN");
	expect_reply(f, "334 ", 0);
	assert_int_equal(f->auth.step, SMTP_AUTH_PLAIN);
	cont(f, b64("\0alice@local.test\0secret", 24));
	expect_login(f, "alice@local.test", "secret");
	smtp_auth_out_wipe(&f->out);
	assert_null(f->out.password);
	for (size_t i = 0; i < sizeof(f->out.buf); i++)
		assert_int_equal(f->out.buf[i], 0);
}

static void test_plain_with_initial_response(void **state)
{
	struct fixture *f = *state;
	char arg[128];

	snprintf(arg, sizeof(arg), "plain   %s", b64("\0alice@local.test\0secret", 24));
	start(f, arg);
	expect_login(f, "alice@local.test", "secret");
}

/* RFC 4954 4: "=" is an empty response, which PLAIN cannot split. */
static void test_empty_response(void **state)
{
	struct fixture *f = *state;

	start(f, "PLAIN =");
	expect_reply(f, "501 5.5.2 Error: malformed PLAIN response", 1);
	assert_int_equal(f->auth.step, SMTP_AUTH_IDLE);
	start(f, "LOGIN");
	cont(f, "=");
	expect_reply(f, "501 5.5.2 Error: malformed user name", 1);
	assert_int_equal(f->auth.step, SMTP_AUTH_IDLE);
	/* an empty password is a password like any other */
	start(f, "LOGIN");
	cont(f, b64("alice", 5));
	cont(f, "=");
	expect_login(f, "alice", "");
}

static void test_login(void **state)
{
	struct fixture *f = *state;

	start(f, "LOGIN");
	expect_reply(f, "334 VXNlcm5hbWU6", 0);
	assert_int_equal(f->auth.step, SMTP_AUTH_LOGIN_USER);
	cont(f, b64("alice@local.test", 16));
	expect_reply(f, "334 UGFzc3dvcmQ6", 0);
	assert_int_equal(f->auth.step, SMTP_AUTH_LOGIN_PASS);
	cont(f, b64("secret", 6));
	expect_login(f, "alice@local.test", "secret");
	/* the user name in an initial response skips the first prompt */
	start(f, "LOGIN YWxpY2U=");
	expect_reply(f, "334 UGFzc3dvcmQ6", 0);
	/* a NUL in the user name or in the password */
	start(f, "LOGIN");
	cont(f, b64("al\0ice", 6));
	expect_reply(f, "501 5.5.2 Error: malformed user name", 1);
	start(f, "LOGIN");
	cont(f, b64("alice", 5));
	cont(f, b64("sec\0ret", 7));
	expect_login(f, "alice", "");
}

static void test_abort(void **state)
{
	struct fixture *f = *state;

	start(f, "PLAIN");
	cont(f, "*");
	expect_reply(f, "501 5.7.0 Authentication aborted", 1);
	assert_int_equal(f->auth.step, SMTP_AUTH_IDLE);
	start(f, "LOGIN");
	cont(f, b64("alice", 5));
	cont(f, "*");
	expect_reply(f, "501 5.7.0 Authentication aborted", 1);
	assert_int_equal(f->auth.step, SMTP_AUTH_IDLE);
}

static void test_bad_responses(void **state)
{
	struct fixture *f = *state;
	char *line = malloc(SMTP_AUTH_RESPONSE_MAX + 2);

	assert_non_null(line);
	start(f, "PLAIN");
	cont(f, "not base64!");
	expect_reply(f, "501 5.5.2 Error: cannot decode the response", 1);
	assert_int_equal(f->auth.step, SMTP_AUTH_IDLE);
	start(f, "PLAIN");
	cont(f, "YWxpY2U"); /* not a multiple of four */
	expect_reply(f, "501 5.5.2 Error: cannot decode the response", 1);
	/* a response at the bound decodes; one octet more does not */
	memset(line, 'A', SMTP_AUTH_RESPONSE_MAX + 1);
	line[SMTP_AUTH_RESPONSE_MAX] = '\0';
	start(f, "PLAIN");
	cont(f, line);
	expect_reply(f, "501 5.5.2 Error: malformed PLAIN response", 1);
	line[SMTP_AUTH_RESPONSE_MAX] = 'A';
	line[SMTP_AUTH_RESPONSE_MAX + 1] = '\0';
	start(f, "PLAIN");
	cont(f, line);
	expect_reply(f, "501 5.5.2 Error: cannot decode the response", 1);
	start(f, "PLAIN");
	cont(f, b64("alice\0secret", 12)); /* two parts */
	expect_reply(f, "501 5.5.2 Error: malformed PLAIN response", 1);
	start(f, "PLAIN");
	cont(f, b64("\0alice\0sec\0ret", 14)); /* four parts */
	expect_reply(f, "501 5.5.2 Error: malformed PLAIN response", 1);
	free(line);
}

/* Asking to act as another user fails as bad credentials would: the
 * password is not passed on. */
static void test_authzid(void **state)
{
	struct fixture *f = *state;

	start(f, "PLAIN");
	cont(f, b64("bob@local.test\0alice@local.test\0secret", 38));
	expect_login(f, "alice@local.test", "");
	start(f, "PLAIN");
	cont(f, b64("ALICE@local.test\0alice@local.test\0secret", 40));
	expect_login(f, "alice@local.test", "secret");
}

static void test_start_refusals(void **state)
{
	struct fixture *f = *state;

	start(f, "");
	expect_reply(f, "501 5.5.4 Syntax: AUTH mechanism [initial-response]", 1);
	start(f, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 x");
	expect_reply(f, "501 5.5.4 Syntax: AUTH mechanism [initial-response]", 1);
	start(f, "CRAM-MD5");
	expect_reply(f, "504 5.5.4 Error: unrecognized authentication type", 1);
	assert_int_equal(f->auth.step, SMTP_AUTH_IDLE);
	f->facts.greeted = 0;
	start(f, "PLAIN");
	expect_reply(f, "503 5.5.1 Error: send EHLO first", 1);
	f->facts = (struct smtp_auth_facts){.tls_active = 1, .greeted = 1, .in_transaction = 1};
	start(f, "PLAIN");
	expect_reply(f, "503 5.5.1 Error: AUTH not permitted during a mail transaction", 1);
	f->facts.tls_active = 0;
	start(f, "PLAIN");
	expect_reply(f, "530 5.7.0 Must issue a STARTTLS command first", 1);
	f->listener.tls = LISTENER_TLS_OPTIONAL;
	start(f, "PLAIN");
	expect_reply(f, "538 5.7.11 Encryption required for requested authentication mechanism", 1);
	f->listener.auth = LISTENER_AUTH_NONE;
	start(f, "PLAIN");
	expect_reply(f, "503 5.5.1 Error: authentication not enabled", 1);
	f->listener.auth = LISTENER_AUTH_CERTIFICATE;
	start(f, "PLAIN");
	expect_reply(f, "503 5.5.1 Error: authentication not enabled", 1);
	assert_int_equal(f->auth.step, SMTP_AUTH_IDLE);
}

static void test_ehlo(void **state)
{
	struct fixture *f = *state;
	const char *owned = "alice@local.test";

	assert_string_equal(smtp_auth_ehlo(&f->auth, 1), "AUTH PLAIN LOGIN");
	assert_null(smtp_auth_ehlo(&f->auth, 0));
	f->listener.auth = LISTENER_AUTH_OPTIONAL;
	assert_non_null(smtp_auth_ehlo(&f->auth, 1));
	f->listener.auth = LISTENER_AUTH_CERTIFICATE;
	assert_null(smtp_auth_ehlo(&f->auth, 1));
	f->listener.auth = LISTENER_AUTH_NONE;
	assert_null(smtp_auth_ehlo(&f->auth, 1));
	f->listener.auth = LISTENER_AUTH_REQUIRED;
	smtp_auth_result(&f->auth, 1, 0, "alice@local.test", &owned, 1, &f->out);
	assert_null(smtp_auth_ehlo(&f->auth, 1));
}

static void test_result_ok(void **state)
{
	struct fixture *f = *state;
	const char *owned[] = {"alice@local.test", "postmaster@local.test"};

	start(f, "PLAIN");
	cont(f, b64("\0Alice@local.test\0secret", 24));
	smtp_auth_result(&f->auth, 1, 0, "alice@local.test", owned, 2, &f->out);
	expect_reply(f, "235 2.7.0 Authentication successful", 0);
	assert_string_equal(f->auth.user, "alice@local.test");
	assert_int_equal(f->auth.n_owned, 2);
	assert_string_equal(f->auth.owned[1], "postmaster@local.test");
	start(f, "PLAIN");
	expect_reply(f, "503 5.5.1 Error: already authenticated", 1);
}

/* A client certificate's login is answered by nobody: no reply, no delay. */
static void test_result_certificate(void **state)
{
	struct fixture *f = *state;

	smtp_auth_result(&f->auth, 0, 1, "carol@local.test", NULL, 0, &f->out);
	expect_reply(f, "", 0);
	assert_int_equal(f->auth.failures, 0);
	assert_string_equal(f->auth.user, "");
	smtp_auth_result(&f->auth, 1, 1, "carol@local.test", NULL, 0, &f->out);
	expect_reply(f, "", 0);
	assert_string_equal(f->auth.user, "carol@local.test");
	assert_int_equal(f->auth.n_owned, 0);
}

/* One failed login: a delay of DELAY_MS, then the 535 and NEXT. */
static void fail_once(struct fixture *f, unsigned delay_ms, enum smtp_auth_action next)
{
	start(f, "PLAIN");
	cont(f, b64("\0alice\0wrong", 12));
	assert_int_equal(f->out.next, SMTP_AUTH_NEXT_CHECK);
	smtp_auth_result(&f->auth, 0, 0, NULL, NULL, 0, &f->out);
	assert_int_equal(f->out.next, SMTP_AUTH_NEXT_DELAY);
	assert_string_equal(f->out.reply, "");
	assert_int_equal(f->out.delay_ms, delay_ms);
	smtp_auth_delay_over(&f->auth, &f->out);
	assert_string_equal(f->out.reply, "535 5.7.8 Authentication credentials invalid");
	assert_int_equal(f->out.is_error, 0);
	assert_int_equal(f->out.next, next);
}

static void test_result_fail_delay_doubles(void **state)
{
	struct fixture *f = *state;
	static const unsigned delays[] = {500, 1000, 2000, 4000, 8000, 8000, 8000};

	f->cfg.auth_failures = 100;
	for (size_t i = 0; i < sizeof(delays) / sizeof(delays[0]); i++)
		fail_once(f, delays[i], SMTP_AUTH_NEXT_NONE);
	assert_int_equal(f->auth.failures, 7);
	assert_string_equal(f->auth.user, "");
}

static void test_result_fail_limit(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(f->cfg.auth_failures, 3);
	fail_once(f, 500, SMTP_AUTH_NEXT_NONE);
	fail_once(f, 1000, SMTP_AUTH_NEXT_NONE);
	fail_once(f, 2000, SMTP_AUTH_NEXT_CLOSE);
	assert_string_equal(f->out.close_reply,
	                    "421 4.7.0 mx.local.test Too many failed authentication attempts");
}

/* Logs in as alice, who owns two addresses. */
static void log_in(struct fixture *f)
{
	const char *owned[] = {"alice@local.test", "Sales@Local.Test"};

	smtp_auth_result(&f->auth, 1, 0, "alice@local.test", owned, 2, &f->out);
}

static void test_sender(void **state)
{
	struct fixture *f = *state;
	const char *refusal = NULL;

	/* before a login every sender is the other rules' business */
	assert_int_equal(smtp_auth_check_sender(&f->auth, "eve@other.test", &refusal), 0);
	log_in(f);
	assert_int_equal(smtp_auth_check_sender(&f->auth, "alice@local.test", &refusal), 0);
	assert_int_equal(smtp_auth_check_sender(&f->auth, "sales@local.test", &refusal), 0);
	assert_int_equal(smtp_auth_check_sender(&f->auth, "", &refusal), 0);
	assert_null(refusal);
	assert_int_equal(smtp_auth_check_sender(&f->auth, "eve@local.test", &refusal), -1);
	assert_string_equal(refusal, "553 5.7.1 <eve@local.test>: Sender address rejected: not "
	                             "owned by user alice@local.test");
}

/* The From: check's answer for the message MSG, fed in pieces of CHUNK
 * octets; NULL when it passes. */
static const char *from_check(struct fixture *f, const char *msg, size_t chunk)
{
	const char *refusal = NULL;
	size_t len = strlen(msg);

	smtp_auth_header_reset(&f->auth);
	for (size_t off = 0; off < len; off += chunk)
		smtp_auth_header_append(&f->auth, msg + off, len - off < chunk ? len - off : chunk);
	if (smtp_auth_check_from_header(&f->auth, &refusal) == 0)
		return NULL;
	assert_non_null(refusal);
	return refusal;
}

static void expect_from(struct fixture *f, const char *msg, const char *refusal)
{
	size_t chunks[] = {1, 7, strlen(msg) + 1};

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		const char *got = from_check(f, msg, chunks[i]);
		if (refusal == NULL && got != NULL)
			fail_msg("refused: %s", got);
		if (refusal != NULL)
			assert_string_equal(got ? got : "(passed)", refusal);
	}
}

static void test_from_header(void **state)
{
	struct fixture *f = *state;

	/* not logged in: nothing is scanned */
	expect_from(f, "From: eve@other.test\r\n\r\nhi\r\n", NULL);
	assert_int_equal(f->auth.header_scan_on, 0);
	log_in(f);
	expect_from(f, "From: Alice <alice@local.test>\r\nSubject: x\r\n\r\nFrom: eve@x.test\r\n",
	            NULL);
	expect_from(f, "From: alice@local.test, sales@local.test\r\n\r\n", NULL);
	expect_from(f, "Subject: no From: at all\r\n\r\n", NULL);
	expect_from(f, "From: alice@local.test\r\nSender: Eve <eve@local.test>\r\n\r\n",
	            "550 5.7.1 Sender: header address <eve@local.test> is not owned by user "
	            "alice@local.test");
	expect_from(f, "Resent-From: eve@local.test\r\n\r\n",
	            "550 5.7.1 Resent-From: header address <eve@local.test> is not owned by "
	            "user alice@local.test");
	expect_from(f, "From: alice@local.test\r\nFrom: alice@local.test\r\n\r\n",
	            "550 5.7.1 From: header refused: more than one From: field");
	expect_from(f, "Sender: alice@local.test\r\nSender: alice@local.test\r\n\r\n",
	            "550 5.7.1 Sender: header refused: more than one Sender: field");
	/* Sender: names one mailbox (RFC 5322 3.6.2) */
	assert_true(
	    strncmp(from_check(f, "Sender: alice@local.test, sales@local.test\r\n\r\n", 100),
	            "550 5.7.1 Sender: header refused: ", 34) == 0);
	/* check_from_header = no */
	f->cfg.check_from_header = 0;
	expect_from(f, "From: eve@local.test\r\n\r\n", NULL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_plain_without_initial_response),
	    T(test_plain_with_initial_response),
	    T(test_empty_response),
	    T(test_login),
	    T(test_abort),
	    T(test_bad_responses),
	    T(test_authzid),
	    T(test_start_refusals),
	    T(test_ehlo),
	    T(test_result_ok),
	    T(test_result_certificate),
	    T(test_result_fail_delay_doubles),
	    T(test_result_fail_limit),
	    T(test_sender),
	    T(test_from_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
