/*
 * test_imap_session.c: a real IMAP session driven over a socket pair in
 * one event loop, with a fake env: the password checks and the store
 * requests are captured, and the store's answers are typed messages
 * encoded with proto/store.c and handed to imap_session_store_reply().
 *
 * The cleartext checks run on a tls = required listener without any TLS:
 * LOGINDISABLED, the refusals, the pre-login literal bound. What follows a
 * login is tested through the session's test hook that takes TLS as
 * active (imap_session_test_assume_tls), which no configuration reaches.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conf/config.h"
#include "imap/imap_parse.h"
#include "imap/imap_session.h"
#include "imap/imap_session_private.h"
#include "lib/ipc.h"
#include "lib/util.h"
#include "proto/lookup.h"
#include "proto/proto.h"
#include "proto/store.h"

#define MAX_SENT 64

/* One captured store request. */
struct sent {
	uint32_t type;
	unsigned char *data;
	size_t len;
	char file[256]; /* what came in the fd (APPEND) */
};

static struct event_base *base;
static struct config cfg;
static struct imap_env env;
static struct imap_session *sess;
static int peer = -1;
static int closed_called;
static char auth_user[256], auth_password[256];
static int auth_calls;
static struct sent sent[MAX_SENT];
static unsigned n_sent;
static char got[256 * 1024];
static size_t got_len;

/* ---- the fake env ---------------------------------------------------------- */

static void fake_auth_check(void *owner, uint64_t handle, const char *user, const char *password)
{
	auth_calls++;
	snprintf(auth_user, sizeof(auth_user), "%s", user);
	snprintf(auth_password, sizeof(auth_password), "%s", password ? password : "");
}

static void fake_store_send(void *owner, uint64_t handle, uint32_t type, struct ipc_writer *w,
                            int fd)
{
	struct sent *m = &sent[n_sent < MAX_SENT ? n_sent++ : MAX_SENT - 1];

	m->type = type;
	m->len = w->len;
	m->data = xmalloc(w->len + 1);
	if (w->len > 0)
		memcpy(m->data, w->buf, w->len);
	m->file[0] = '\0';
	if (fd >= 0) {
		ssize_t n = read(fd, m->file, sizeof(m->file) - 1);
		m->file[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	ipc_writer_free(w);
}

static void fake_closed(void *owner, uint64_t handle)
{
	closed_called = 1;
	sess = NULL;
}

/* ---- driving ----------------------------------------------------------------- */

static void pump(void)
{
	for (int i = 0; i < 20; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

static void client_send(const char *text)
{
	assert_int_equal(write(peer, text, strlen(text)), (ssize_t)strlen(text));
	pump();
}

/* Reads until the output holds NEEDLE (or 3 seconds passed); returns the
 * text read so far, which the next call no longer sees. */
static const char *expect(const char *needle)
{
	static char out[sizeof(got)];
	time_t end = time(NULL) + 3;

	for (;;) {
		ssize_t n;

		pump();
		n = recv(peer, got + got_len, sizeof(got) - 1 - got_len, MSG_DONTWAIT);
		if (n > 0)
			got_len += (size_t)n;
		got[got_len] = '\0';
		if (strstr(got, needle) != NULL || time(NULL) > end || n == 0)
			break;
		if (n < 0)
			usleep(1000);
	}
	if (strstr(got, needle) == NULL)
		fail_msg("expected \"%s\", got \"%s\"", needle, got);
	memcpy(out, got, got_len + 1);
	got_len = 0;
	return out;
}

static struct sent *last_sent(uint32_t type)
{
	assert_true(n_sent > 0);
	assert_int_equal(sent[n_sent - 1].type, type);
	return &sent[n_sent - 1];
}

static void store_result(uint32_t status, const char *code, const char *text)
{
	struct proto_store_result m;
	struct ipc_writer w;

	memset(&m, 0, sizeof(m));
	m.status = status;
	snprintf(m.code, sizeof(m.code), "%s", code);
	snprintf(m.text, sizeof(m.text), "%s", text);
	ipc_writer_init(&w);
	proto_store_result_encode(&m, &w);
	imap_session_store_reply(sess, IMSG_STORE_RESULT, w.buf, w.len, -1);
	ipc_writer_free(&w);
	pump();
}

static void store_updates(uint32_t exists, const uint32_t *expunged, unsigned n)
{
	struct proto_store_updates_result m;
	struct ipc_writer w;

	memset(&m, 0, sizeof(m));
	m.exists = exists;
	m.expunged = (uint32_t *)expunged;
	m.n_expunged = n;
	m.vanished = "";
	ipc_writer_init(&w);
	proto_store_updates_result_encode(&m, &w);
	imap_session_store_reply(sess, IMSG_STORE_UPDATES_RESULT, w.buf, w.len, -1);
	ipc_writer_free(&w);
	pump();
}

static void store_item(uint32_t seq, uint32_t uid, uint32_t flags)
{
	struct proto_store_item m;
	struct ipc_writer w;

	memset(&m, 0, sizeof(m));
	m.seq = seq;
	m.uid = uid;
	m.flags = flags;
	m.envelope = m.bodystructure = m.body = m.headers = "";
	ipc_writer_init(&w);
	proto_store_item_encode(&m, &w);
	imap_session_store_reply(sess, IMSG_STORE_FETCH_ITEM, w.buf, w.len, -1);
	ipc_writer_free(&w);
}

static void store_fetch_done(uint32_t more)
{
	struct proto_store_fetch_done m;
	struct ipc_writer w;

	memset(&m, 0, sizeof(m));
	m.more = more;
	m.vanished = m.modified = "";
	ipc_writer_init(&w);
	proto_store_fetch_done_encode(&m, &w);
	imap_session_store_reply(sess, IMSG_STORE_FETCH_DONE, w.buf, w.len, -1);
	ipc_writer_free(&w);
	pump();
}

/* ---- set-up ------------------------------------------------------------------ */

static int setup(void **state)
{
	int sv[2];

	base = event_base_new();
	config_defaults(&cfg);
	snprintf(cfg.hostname, sizeof(cfg.hostname), "imap.test");
	cfg.imap.append_limit = 1024 * 1024;
	cfg.n_listeners = 1;
	snprintf(cfg.listeners[0].name, sizeof(cfg.listeners[0].name), "imap");
	cfg.listeners[0].protocol = LISTENER_IMAP;
	cfg.listeners[0].tls = LISTENER_TLS_REQUIRED;
	env = (struct imap_env){.base = base,
	                        .cfg = &cfg,
	                        .tls = NULL,
	                        .auth_check = fake_auth_check,
	                        .store_send = fake_store_send,
	                        .closed = fake_closed};
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	peer = sv[1];
	closed_called = 0;
	auth_calls = 0;
	n_sent = 0;
	got_len = 0;
	sess = imap_session_new(&env, &cfg.listeners[0], sv[0], NULL, 0, 7);
	assert_non_null(sess);
	return 0;
}

static int teardown(void **state)
{
	unsigned i;

	if (sess != NULL)
		imap_session_abort(sess);
	pump();
	close(peer);
	for (i = 0; i < n_sent; i++)
		free(sent[i].data);
	event_base_free(base);
	return 0;
}

/* Logs in through the test hook: LOGIN, the lookup's OK, the store's OK. */
static void login(void)
{
	const char *out;
	struct proto_store_login m;
	const char *why;

	imap_session_test_assume_tls(sess);
	expect("sealmail ready\r\n");
	client_send("a1 LOGIN alice@example.org \"s3cret pw\"\r\n");
	assert_int_equal(auth_calls, 1);
	assert_string_equal(auth_user, "alice@example.org");
	assert_string_equal(auth_password, "s3cret pw");
	imap_session_auth_done(sess, PROTO_AUTH_OK, "alice@example.org");
	pump();
	assert_int_equal(proto_store_login_decode(&m, last_sent(IMSG_STORE_LOGIN)->data,
	                                          last_sent(IMSG_STORE_LOGIN)->len, &why),
	                 0);
	assert_string_equal(m.user, "alice@example.org");
	assert_int_equal(m.service, STORE_SERVICE_IMAP);
	store_result(PROTO_STORE_OK, "", "");
	out = expect("] Logged in\r\n");
	assert_non_null(strstr(out, "a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 "));
	assert_non_null(strstr(out, "APPENDLIMIT=1048576"));
}

/* Selects INBOX with 3 messages (REV2: IMAP4rev2 is enabled). */
static void select_inbox_as(int rev2)
{
	struct proto_store_select_result r;
	struct ipc_writer w;
	const char *out;

	client_send("s1 SELECT INBOX\r\n");
	last_sent(IMSG_STORE_SELECT);
	memset(&r, 0, sizeof(r));
	r.exists = 3;
	r.recent = 1;
	r.uidvalidity = 42;
	r.uidnext = 4;
	r.highestmodseq = 9;
	snprintf(r.keywords, sizeof(r.keywords), "$Forwarded");
	r.vanished = "";
	ipc_writer_init(&w);
	proto_store_select_result_encode(&r, &w);
	imap_session_store_reply(sess, IMSG_STORE_SELECT_RESULT, w.buf, w.len, -1);
	ipc_writer_free(&w);
	out = expect("s1 OK [READ-WRITE] SELECT completed\r\n");
	assert_non_null(strstr(out, "* 3 EXISTS\r\n"));
	if (rev2)
		assert_null(strstr(out, "RECENT"));
	else
		assert_non_null(strstr(out, "* 1 RECENT\r\n"));
	assert_non_null(strstr(out, "* OK [UIDVALIDITY 42]"));
	assert_non_null(
	    strstr(out, "* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Forwarded)"));
}

static void select_inbox(void)
{
	select_inbox_as(0);
}

/* ---- before TLS ---------------------------------------------------------------- */

static void test_cleartext_refusals(void **state)
{
	const char *out = expect("\r\n");

	assert_non_null(strstr(out, "* OK [CAPABILITY IMAP4rev1 IMAP4rev2 STARTTLS LOGINDISABLED"));
	assert_null(strstr(out, "AUTH="));
	client_send("c1 CAPABILITY\r\n");
	out = expect("c1 OK");
	assert_non_null(strstr(out, "LOGINDISABLED"));
	assert_null(strstr(out, "AUTH="));
	client_send("c2 LOGIN alice secret\r\n");
	expect("c2 NO [PRIVACYREQUIRED]");
	client_send("c3 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n");
	expect("c3 NO [PRIVACYREQUIRED]");
	assert_int_equal(auth_calls, 0);
	client_send("c4 SELECT INBOX\r\n");
	expect("c4 BAD");
	/* no TLS context here: STARTTLS cannot start */
	client_send("c5 STARTTLS\r\n");
	expect("c5 NO");
	client_send("c6 NOOP\r\nc7 LOGOUT\r\n");
	out = expect("c7 OK");
	assert_non_null(strstr(out, "c6 OK"));
	assert_non_null(strstr(out, "* BYE"));
	pump();
	assert_true(closed_called);
}

static void test_literal_before_login(void **state)
{
	expect("ready\r\n");
	client_send("l1 LOGIN {9000}\r\n");
	expect("l1 BAD");
	/* the session goes on */
	client_send("l2 NOOP\r\n");
	expect("l2 OK");
}

static void test_too_many_bad(void **state)
{
	unsigned i;
	char line[64];

	expect("ready\r\n");
	for (i = 0; i < cfg.imap.bad_commands; i++) {
		snprintf(line, sizeof(line), "b%u XYZZY\r\n", i);
		client_send(line);
	}
	expect("* BYE Too many invalid commands");
	pump();
	assert_true(closed_called);
}

static void test_line_too_long(void **state)
{
	static char line[IMAP_LINE_MAX + 100];

	expect("ready\r\n");
	memset(line, 'a', sizeof(line) - 1);
	line[0] = 'x';
	line[1] = ' ';
	assert_int_equal(write(peer, line, 32 * 1024), 32 * 1024);
	pump();
	assert_int_equal(write(peer, line + 32 * 1024, sizeof(line) - 1 - 32 * 1024),
	                 (ssize_t)(sizeof(line) - 1 - 32 * 1024));
	expect("* BYE");
	pump();
	assert_true(closed_called);
}

/* Before login the session ends after login_timeout of silence. */
static void test_login_timeout(void **state)
{
	imap_session_abort(sess);
	close(peer);
	closed_called = 0;
	cfg.imap.login_timeout = 1;
	{
		int sv[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		peer = sv[1];
		sess = imap_session_new(&env, &cfg.listeners[0], sv[0], NULL, 0, 8);
	}
	expect("ready\r\n");
	expect("* BYE Autologout");
	pump();
	assert_true(closed_called);
	cfg.imap.login_timeout = 60;
}

/* Past commands_per_second, the rest waits for the next second. */
static void test_command_rate(void **state)
{
	const char *out;

	cfg.imap.commands_per_second = 2;
	expect("ready\r\n");
	client_send("r1 NOOP\r\nr2 NOOP\r\nr3 NOOP\r\nr4 NOOP\r\nr5 NOOP\r\n");
	out = expect("r3 OK");
	assert_null(strstr(out, "r4 OK"));
	out = expect("r5 OK");
	cfg.imap.commands_per_second = 200;
}

/* ---- logging in ---------------------------------------------------------------- */

static void test_login(void **state)
{
	const char *out;

	login();
	client_send("c1 CAPABILITY\r\n");
	out = expect("c1 OK");
	assert_null(strstr(out, "STARTTLS"));
	assert_non_null(strstr(out, "IDLE"));
	assert_non_null(strstr(out, "CONDSTORE"));
	client_send("c2 LOGOUT\r\n");
	expect("c2 OK");
	pump();
	assert_true(closed_called);
	assert_int_equal(sent[n_sent - 1].type, IMSG_STORE_LOGOUT);
}

static void test_capability_after_tls(void **state)
{
	const char *out;

	imap_session_test_assume_tls(sess);
	expect("ready\r\n");
	client_send("c1 CAPABILITY\r\n");
	out = expect("c1 OK");
	assert_non_null(strstr(out, "AUTH=PLAIN"));
	assert_non_null(strstr(out, "SASL-IR"));
	assert_null(strstr(out, "STARTTLS"));
	assert_null(strstr(out, "LOGINDISABLED"));
}

static void test_login_failures(void **state)
{
	imap_session_test_assume_tls(sess);
	client_send("a1 LOGIN bob wrong\r\n");
	imap_session_auth_done(sess, PROTO_AUTH_FAILED, "");
	expect("a1 NO [AUTHENTICATIONFAILED]");
	client_send("a2 LOGIN bob pw\r\n");
	imap_session_auth_done(sess, PROTO_AUTH_TEMPFAIL, "");
	expect("a2 NO [UNAVAILABLE]");
	/* the store refuses: too many sessions */
	client_send("a3 LOGIN bob pw\r\n");
	imap_session_auth_done(sess, PROTO_AUTH_OK, "bob@example.org");
	pump();
	last_sent(IMSG_STORE_LOGIN);
	store_result(PROTO_STORE_NO, "LIMIT", "Too many sessions");
	expect("a3 NO [LIMIT] Too many sessions");
	client_send("a4 SELECT INBOX\r\n");
	expect("a4 BAD");
}

static void test_authenticate_plain(void **state)
{
	imap_session_test_assume_tls(sess);
	/* SASL-IR: "\0alice\0secret" */
	client_send("p1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n");
	assert_int_equal(auth_calls, 1);
	assert_string_equal(auth_user, "alice");
	assert_string_equal(auth_password, "secret");
	imap_session_auth_done(sess, PROTO_AUTH_FAILED, "");
	expect("p1 NO [AUTHENTICATIONFAILED]");
	/* the continuation, then a cancel */
	client_send("p2 AUTHENTICATE PLAIN\r\n");
	expect("+ \r\n");
	client_send("*\r\n");
	expect("p2 BAD");
	client_send("p3 AUTHENTICATE PLAIN\r\n");
	expect("+ \r\n");
	client_send("YWxpY2UAYWxpY2UAcHc=\r\n"); /* "alice\0alice\0pw" */
	assert_int_equal(auth_calls, 2);
	assert_string_equal(auth_password, "pw");
	imap_session_auth_done(sess, PROTO_AUTH_OK, "alice@example.org");
	pump();
	store_result(PROTO_STORE_OK, "", "");
	expect("p3 OK [CAPABILITY");
	client_send("p4 AUTHENTICATE PLAIN\r\n");
	expect("p4 BAD");
}

/* ---- after login ----------------------------------------------------------------- */

static void test_enable_and_select(void **state)
{
	struct proto_store_updates u;
	const char *why;

	login();
	client_send("e1 ENABLE IMAP4rev2 CONDSTORE XFOO\r\n");
	expect("* ENABLED IMAP4rev2 CONDSTORE\r\ne1 OK");
	client_send("e2 ENABLE QRESYNC\r\n");
	expect("* ENABLED QRESYNC\r\ne2 OK");
	select_inbox_as(1);
	client_send("n1 NOOP\r\n");
	assert_int_equal(proto_store_updates_decode(&u, last_sent(IMSG_STORE_UPDATES)->data,
	                                            last_sent(IMSG_STORE_UPDATES)->len, &why),
	                 0);
	assert_int_equal(u.expunges, 1);
	assert_int_equal(u.qresync, 1);
	store_updates(4, NULL, 0);
	expect("* 4 EXISTS\r\nn1 OK NOOP completed");
}

static void test_fetch_batches(void **state)
{
	struct proto_store_fetch f;
	struct proto_store_updates u;
	const char *why, *out;

	login();
	select_inbox();
	client_send("f1 FETCH 1:* (FLAGS)\r\n");
	assert_int_equal(proto_store_fetch_decode(&f, last_sent(IMSG_STORE_FETCH)->data,
	                                          last_sent(IMSG_STORE_FETCH)->len, &why),
	                 0);
	assert_string_equal(f.set, "1:*");
	assert_int_equal(f.start, 0);
	assert_int_equal(f.max, PROTO_STORE_FETCH_BATCH);
	assert_int_equal(f.uid, 0);
	store_item(1, 10, STORE_FLAG_SEEN);
	store_item(2, 11, 0);
	store_fetch_done(1);
	assert_int_equal(proto_store_fetch_decode(&f, last_sent(IMSG_STORE_FETCH)->data,
	                                          last_sent(IMSG_STORE_FETCH)->len, &why),
	                 0);
	assert_int_equal(f.start, 2);
	store_item(3, 12, STORE_FLAG_FLAGGED);
	store_fetch_done(0);
	/* FETCH by sequence number: no expunges before its OK (RFC 9051 7.5.1) */
	assert_int_equal(proto_store_updates_decode(&u, last_sent(IMSG_STORE_UPDATES)->data,
	                                            last_sent(IMSG_STORE_UPDATES)->len, &why),
	                 0);
	assert_int_equal(u.expunges, 0);
	store_updates(3, NULL, 0);
	out = expect("f1 OK");
	assert_non_null(strstr(out, "* 1 FETCH (FLAGS (\\Seen))\r\n"));
	assert_non_null(strstr(out, "* 3 FETCH (FLAGS (\\Flagged))\r\n"));
}

static void test_store_and_expunge(void **state)
{
	struct proto_store_flags fl;
	struct proto_store_updates u;
	const char *why, *out;
	const uint32_t gone[] = {2};

	login();
	select_inbox();
	client_send("t1 UID STORE 10:11 +FLAGS.SILENT (\\Deleted)\r\n");
	assert_int_equal(proto_store_flags_decode(&fl, last_sent(IMSG_STORE_FLAGS)->data,
	                                          last_sent(IMSG_STORE_FLAGS)->len, &why),
	                 0);
	assert_int_equal(fl.uid, 1);
	assert_int_equal(fl.op, STORE_FLAGS_ADD);
	assert_int_equal(fl.flags, STORE_FLAG_DELETED);
	store_item(1, 10, STORE_FLAG_DELETED);
	store_fetch_done(0);
	assert_int_equal(proto_store_updates_decode(&u, last_sent(IMSG_STORE_UPDATES)->data,
	                                            last_sent(IMSG_STORE_UPDATES)->len, &why),
	                 0);
	assert_int_equal(u.expunges, 1);
	store_updates(3, NULL, 0);
	out = expect("t1 OK");
	assert_null(strstr(out, "FETCH")); /* .SILENT */
	client_send("x1 EXPUNGE\r\n");
	last_sent(IMSG_STORE_EXPUNGE);
	store_result(PROTO_STORE_OK, "", "");
	last_sent(IMSG_STORE_UPDATES);
	store_updates(2, gone, 1);
	out = expect("x1 OK");
	assert_non_null(strstr(out, "* 2 EXPUNGE\r\n"));
	assert_null(strstr(out, "EXISTS"));
}

static void test_idle(void **state)
{
	const char *out;

	login();
	select_inbox();
	client_send("i1 IDLE\r\n");
	expect("+ idling\r\n");
	imap_session_store_reply(sess, IMSG_STORE_CHANGED, NULL, 0, -1);
	pump();
	last_sent(IMSG_STORE_UPDATES);
	store_updates(5, NULL, 0);
	expect("* 5 EXISTS\r\n");
	client_send("DONE\r\n");
	last_sent(IMSG_STORE_UPDATES);
	store_updates(5, NULL, 0);
	out = expect("i1 OK IDLE terminated");
	assert_null(strstr(out, "EXISTS"));
}

static void test_append(void **state)
{
	struct proto_store_append a;
	const char *why;

	login();
	client_send("ap1 APPEND Drafts (\\Seen $Label) \" 7-Feb-2024 10:20:30 +0100\" {8}\r\n");
	expect("+ Ready");
	client_send("Hi\r\nyo\r\n\r\n");
	assert_int_equal(proto_store_append_decode(&a, last_sent(IMSG_STORE_APPEND)->data,
	                                           last_sent(IMSG_STORE_APPEND)->len, &why),
	                 0);
	assert_string_equal(a.mailbox, "Drafts");
	assert_int_equal(a.flags, STORE_FLAG_SEEN);
	assert_string_equal(a.keywords, "$Label");
	assert_int_equal(a.size, 8);
	assert_int_equal(a.tz_minutes, 60);
	assert_int_equal(a.internaldate, 1707297630);
	assert_string_equal(last_sent(IMSG_STORE_APPEND)->file, "Hi\r\nyo\r\n");
	store_result(PROTO_STORE_OK, "APPENDUID 42 7", "");
	expect("ap1 OK [APPENDUID 42 7] APPEND completed");
}

/* A date-time with signed fields is refused, not normalised (RFC 9051 9). */
static void test_append_bad_dates(void **state)
{
	static const char *const dates[] = {
	    "07-Feb-2024 -1:-5:-9 +0100", "07-Feb-2024 10:20:30 +-123",
	    "7-Feb-2024 10:20:30 +0100", "07-Feb-2024 10:20:30 +0100x"};

	login();
	for (unsigned i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		char line[128];

		snprintf(line, sizeof(line), "ap2 APPEND Drafts \"%s\" {2+}\r\nHi\r\n", dates[i]);
		client_send(line);
		expect("ap2 BAD");
	}
}

static void test_list(void **state)
{
	struct proto_store_folder folders[] = {
	    {"INBOX", STORE_ATTR_HASNOCHILDREN},
	    {"Sent", STORE_ATTR_SENT | STORE_ATTR_HASNOCHILDREN},
	    {"Work/Projets \xc3\xa9t\xc3\xa9", STORE_ATTR_HASNOCHILDREN},
	};
	struct proto_store_list_result r = {
	    .status = PROTO_STORE_OK, .folders = folders, .n_folders = 3};
	struct ipc_writer w;
	const char *out;

	login();
	client_send("l1 LIST \"\" \"\"\r\n");
	expect("* LIST (\\Noselect) \"/\" \"\"\r\nl1 OK");
	client_send("l2 LIST \"\" \"*\"\r\n");
	last_sent(IMSG_STORE_LIST);
	ipc_writer_init(&w);
	proto_store_list_result_encode(&r, &w);
	imap_session_store_reply(sess, IMSG_STORE_LIST_RESULT, w.buf, w.len, -1);
	ipc_writer_free(&w);
	out = expect("l2 OK");
	assert_non_null(strstr(out, "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"));
	assert_non_null(strstr(out, "* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n"));
	assert_non_null(strstr(out, "Work/Projets &AOk-t&AOk-"));
	client_send("l3 LIST (SPECIAL-USE) \"\" \"%\"\r\n");
	ipc_writer_init(&w);
	proto_store_list_result_encode(&r, &w);
	imap_session_store_reply(sess, IMSG_STORE_LIST_RESULT, w.buf, w.len, -1);
	ipc_writer_free(&w);
	out = expect("l3 OK");
	assert_null(strstr(out, "INBOX"));
	assert_non_null(strstr(out, "Sent"));
}

static void store_search_result(const uint32_t *v, unsigned n)
{
	struct proto_store_search_result m;
	struct ipc_writer w;

	memset(&m, 0, sizeof(m));
	m.matches = (uint32_t *)v;
	m.n_matches = n;
	ipc_writer_init(&w);
	proto_store_search_result_encode(&m, &w);
	imap_session_store_reply(sess, IMSG_STORE_SEARCH_RESULT, w.buf, w.len, -1);
	ipc_writer_free(&w);
	pump();
}

/* SEARCH, then SEARCHRES: a sequence-number SEARCH that saves asks UIDs
 * first, and "$" later names those UIDs. */
static void test_search_and_saved_result(void **state)
{
	const uint32_t seqs[] = {1, 3}, uids[] = {10, 12};
	struct proto_store_search p;
	struct proto_store_fetch f;
	const char *why, *out;

	login();
	select_inbox();
	client_send("s2 SEARCH UNSEEN\r\n");
	assert_int_equal(proto_store_search_decode(&p, last_sent(IMSG_STORE_SEARCH)->data,
	                                           last_sent(IMSG_STORE_SEARCH)->len, &why),
	                 0);
	assert_int_equal(p.uid, 0);
	proto_store_search_free(&p);
	store_search_result(seqs, 2);
	store_updates(3, NULL, 0);
	out = expect("s2 OK");
	assert_non_null(strstr(out, "* SEARCH 1 3\r\n"));
	client_send("s3 SEARCH RETURN (SAVE MIN) UNSEEN\r\n");
	assert_int_equal(proto_store_search_decode(&p, last_sent(IMSG_STORE_SEARCH)->data,
	                                           last_sent(IMSG_STORE_SEARCH)->len, &why),
	                 0);
	assert_int_equal(p.uid, 1);
	proto_store_search_free(&p);
	store_search_result(uids, 2);
	assert_int_equal(proto_store_search_decode(&p, last_sent(IMSG_STORE_SEARCH)->data,
	                                           last_sent(IMSG_STORE_SEARCH)->len, &why),
	                 0);
	assert_int_equal(p.uid, 0);
	proto_store_search_free(&p);
	store_search_result(seqs, 2);
	store_updates(3, NULL, 0);
	out = expect("s3 OK");
	assert_non_null(strstr(out, "* ESEARCH (TAG \"s3\") MIN 1"));
	client_send("f2 FETCH $ (FLAGS)\r\n");
	assert_int_equal(proto_store_fetch_decode(&f, last_sent(IMSG_STORE_FETCH)->data,
	                                          last_sent(IMSG_STORE_FETCH)->len, &why),
	                 0);
	assert_int_equal(f.uid, 1);
	assert_string_equal(f.set, "10");
}

/* A session that ends while the store still owes the LOGIN answer sends
 * LOGOUT: the store may have made the session, which would otherwise
 * count against the user's sessions_per_user until the dispatcher goes. */
static void test_close_with_login_in_flight(void **state)
{
	imap_session_test_assume_tls(sess);
	expect("sealmail ready\r\n");
	client_send("a1 LOGIN alice@example.org secret\r\n");
	imap_session_auth_done(sess, PROTO_AUTH_OK, "alice@example.org");
	pump();
	last_sent(IMSG_STORE_LOGIN);
	imap_session_abort(sess);
	assert_true(closed_called);
	last_sent(IMSG_STORE_LOGOUT);
}

/* A store that refused the login kept nothing: no LOGOUT then. */
static void test_no_logout_after_store_refusal(void **state)
{
	imap_session_test_assume_tls(sess);
	expect("sealmail ready\r\n");
	client_send("a1 LOGIN alice@example.org secret\r\n");
	imap_session_auth_done(sess, PROTO_AUTH_OK, "alice@example.org");
	pump();
	last_sent(IMSG_STORE_LOGIN);
	store_result(PROTO_STORE_NO, "LIMIT", "Too many sessions");
	expect("a1 NO [LIMIT]");
	imap_session_abort(sess);
	assert_true(closed_called);
	last_sent(IMSG_STORE_LOGIN);
}

/* An UPDATES answer that does not decode leaves the session not knowing
 * the store's view: it says BYE rather than go on with numbers that may
 * name other messages. */
static void test_updates_undecodable_closes(void **state)
{
	static const unsigned char junk[3] = {1, 2, 3};

	login();
	select_inbox();
	client_send("n1 NOOP\r\n");
	last_sent(IMSG_STORE_UPDATES);
	imap_session_store_reply(sess, IMSG_STORE_UPDATES_RESULT, junk, sizeof(junk), -1);
	pump();
	expect("* BYE Lost track of the mailbox\r\n");
	pump();
	assert_true(closed_called);
	last_sent(IMSG_STORE_LOGOUT);
}

/* RFC 7162 3.2.6: UID FETCH (CHANGEDSINCE m VANISHED) sends VANISHED
 * (EARLIER) before its FETCH responses, though the store reports it with
 * the end of the first batch. */
static void test_vanished_before_fetch(void **state)
{
	struct proto_store_fetch f;
	struct proto_store_fetch_done d;
	struct ipc_writer w;
	const char *why, *out, *vanished, *fetch;

	login();
	client_send("e1 ENABLE QRESYNC\r\n");
	expect("e1 OK");
	select_inbox();
	client_send("v1 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 5 VANISHED)\r\n");
	assert_int_equal(proto_store_fetch_decode(&f, last_sent(IMSG_STORE_FETCH)->data,
	                                          last_sent(IMSG_STORE_FETCH)->len, &why),
	                 0);
	assert_int_equal(f.vanished, 1);
	assert_int_equal(f.max, 1);
	store_item(1, 10, STORE_FLAG_SEEN);
	memset(&d, 0, sizeof(d));
	d.more = 1;
	d.vanished = "11:12";
	d.modified = "";
	ipc_writer_init(&w);
	proto_store_fetch_done_encode(&d, &w);
	imap_session_store_reply(sess, IMSG_STORE_FETCH_DONE, w.buf, w.len, -1);
	ipc_writer_free(&w);
	pump();
	assert_int_equal(proto_store_fetch_decode(&f, last_sent(IMSG_STORE_FETCH)->data,
	                                          last_sent(IMSG_STORE_FETCH)->len, &why),
	                 0);
	assert_int_equal(f.start, 1);
	assert_int_equal(f.max, PROTO_STORE_FETCH_BATCH);
	store_item(3, 13, 0);
	store_fetch_done(0);
	last_sent(IMSG_STORE_UPDATES);
	store_updates(1, NULL, 0);
	out = expect("v1 OK");
	vanished = strstr(out, "* VANISHED (EARLIER) 11:12\r\n");
	fetch = strstr(out, "* 1 FETCH (UID 10");
	assert_non_null(vanished);
	assert_non_null(fetch);
	assert_true(vanished < fetch);
	assert_non_null(strstr(out, "* 3 FETCH (UID 13"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_cleartext_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_literal_before_login, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_many_bad, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_line_too_long, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_login_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_command_rate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_login, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_capability_after_tls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_login_failures, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_authenticate_plain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enable_and_select, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fetch_batches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_store_and_expunge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_idle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_append, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_append_bad_dates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_search_and_saved_result, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_with_login_in_flight, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_logout_after_store_refusal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_updates_undecodable_closes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vanished_before_fetch, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN); /* as the daemon: a peer gone is an io error */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
