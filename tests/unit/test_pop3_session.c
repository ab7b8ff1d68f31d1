/*
 * test_pop3_session.c: a real POP3 session over a socket pair in one event
 * loop, with a fake owner: auth_check is captured and answered by the test,
 * store requests are decoded and answered by a small fake store (encoded
 * with the proto/store.h codec) holding a few messages. Checks the
 * refusals before TLS on a `required` listener, CAPA, USER/PASS and AUTH
 * PLAIN, STAT/LIST/UIDL, RETR (dot-stuffed, CRLF, \Seen asked) and TOP, DELE
 * with RSET, QUIT's deletions and that a dropped connection deletes
 * nothing, the exclusive maildrop ([IN-USE]), the scan in batches and bare
 * line ends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/ipc.h"
#include "lib/util.h"
#include "pop3/pop3_session.h"
#include "proto/lookup.h"
#include "proto/store.h"

#define UIDVALIDITY 1700000001u
#define MSGS_MAX 1300

struct fake_msg {
	uint32_t uid;
	const char *text; /* LF line ends, as in Maildir */
	int expunged;
};

static const char msg1[] = "Subject: one\n\nHello\n.dot line\nbye\n";
static const char msg2[] = "Subject: two\nFrom: a@b\n\nl1\nl2\nl3\n";
static const char msg3[] = "Subject: three\n\nno final newline";

static struct fake_msg msgs[MSGS_MAX];
static unsigned n_msgs;

/* What the fake owner saw. */
static struct {
	char user[512], password[512];
	unsigned auth_checks;
	unsigned logins, selects, fetches, logouts, flags, expunges, mark_seen;
	uint32_t login_service, select_pop3;
	char flags_set[256], expunge_set[256];
	int closed;
	const char *select_code; /* answer SELECT NO with this code */
} seen;

struct request {
	uint32_t type;
	unsigned char *data;
	size_t len;
};

static struct request queue[64];
static unsigned n_queue;

static struct event_base *base;
static struct config cfg;
static struct pop3_env env;
static struct pop3_session *sess;
static int sv[2];
static char got[1 << 21];
static size_t got_len;

static void fake_auth_check(void *owner, uint64_t handle, const char *user, const char *password)
{
	strcpy(seen.user, user);
	strcpy(seen.password, password);
	seen.auth_checks++;
}

static void fake_store_send(void *owner, uint64_t handle, uint32_t type, struct ipc_writer *w,
                            int fd)
{
	assert_true(n_queue < 64);
	assert_int_equal(fd, -1);
	queue[n_queue].type = type;
	queue[n_queue].len = w->len;
	queue[n_queue].data = xmalloc(w->len + 1);
	if (w->len > 0)
		memcpy(queue[n_queue].data, w->buf, w->len);
	n_queue++;
	ipc_writer_free(w);
}

static void fake_closed(void *owner, uint64_t handle)
{
	seen.closed = 1;
	sess = NULL;
}

/* ---- the fake store ----------------------------------------------------------- */

/* The message's octets with CRLF line ends (RFC822.SIZE). */
static uint64_t crlf_size(const char *text)
{
	uint64_t n = 0;

	for (; *text; text++)
		n += *text == '\n' ? 2 : 1;
	return n;
}

static void reply(uint32_t type, struct ipc_writer *w, int fd)
{
	if (sess != NULL)
		pop3_session_store_reply(sess, type, w->buf, w->len, fd);
	else if (fd >= 0)
		close(fd);
	ipc_writer_free(w);
}

static void reply_result(uint32_t status, const char *code)
{
	struct proto_store_result r = {.status = status};
	struct ipc_writer w;

	strcpy(r.code, code);
	ipc_writer_init(&w);
	proto_store_result_encode(&r, &w);
	reply(IMSG_STORE_RESULT, &w, -1);
}

static void reply_done(uint32_t more)
{
	struct proto_store_fetch_done d = {.more = more};
	struct ipc_writer w;

	ipc_writer_init(&w);
	proto_store_fetch_done_encode(&d, &w);
	reply(IMSG_STORE_FETCH_DONE, &w, -1);
}

/* A file holding TEXT, read from its start. */
static int text_fd(const char *text)
{
	char path[] = "/tmp/test_pop3_XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write_all(fd, text, strlen(text)), 0);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static void reply_item(unsigned index, int with_file)
{
	struct proto_store_item it = {.seq = index + 1, .uid = msgs[index].uid};
	struct ipc_writer w;

	it.size = crlf_size(msgs[index].text);
	it.file_size = strlen(msgs[index].text);
	ipc_writer_init(&w);
	proto_store_item_encode(&it, &w);
	reply(IMSG_STORE_FETCH_ITEM, &w, with_file ? text_fd(msgs[index].text) : -1);
}

static void store_select(const struct request *q)
{
	struct proto_store_select *m = xcalloc(1, sizeof(*m));
	struct proto_store_select_result r = {.uidvalidity = UIDVALIDITY};
	struct ipc_writer w;
	const char *why;

	assert_int_equal(proto_store_select_decode(m, q->data, q->len, &why), 0);
	assert_string_equal(m->name, "INBOX");
	seen.select_pop3 = m->pop3;
	seen.selects++;
	free(m);
	if (seen.select_code != NULL) {
		r.status = PROTO_STORE_NO;
		strcpy(r.code, seen.select_code);
	}
	r.exists = seen.select_code != NULL ? 0 : n_msgs;
	r.uidnext = n_msgs + 100;
	ipc_writer_init(&w);
	proto_store_select_result_encode(&r, &w);
	reply(IMSG_STORE_SELECT_RESULT, &w, -1);
}

static void store_fetch(const struct request *q)
{
	struct proto_store_fetch *m = xcalloc(1, sizeof(*m));
	const char *why;
	unsigned i, end;

	assert_int_equal(proto_store_fetch_decode(m, q->data, q->len, &why), 0);
	seen.fetches++;
	if (strcmp(m->set, "1:*") == 0) {
		assert_int_equal(m->uid, 0);
		end = m->start + m->max < n_msgs ? m->start + m->max : n_msgs;
		for (i = m->start; i < end; i++)
			reply_item(i, 0);
		reply_done(end < n_msgs);
	} else {
		assert_int_equal(m->uid, 1);
		assert_true(m->want & STORE_WANT_FILE);
		seen.mark_seen += (m->want & STORE_WANT_MARK_SEEN) != 0;
		for (i = 0; i < n_msgs; i++)
			if ((unsigned)atoi(m->set) == msgs[i].uid && !msgs[i].expunged)
				reply_item(i, 1);
		reply_done(0);
	}
	free(m);
}

static void store_flags(const struct request *q)
{
	struct proto_store_flags *m = xcalloc(1, sizeof(*m));
	const char *why;

	assert_int_equal(proto_store_flags_decode(m, q->data, q->len, &why), 0);
	assert_int_equal(m->uid, 1);
	assert_int_equal(m->op, STORE_FLAGS_ADD);
	assert_int_equal(m->flags, STORE_FLAG_DELETED);
	strcpy(seen.flags_set, m->set);
	seen.flags++;
	free(m);
	reply_done(0);
}

static void store_expunge(const struct request *q)
{
	struct proto_store_expunge *m = xcalloc(1, sizeof(*m));
	const char *why;

	assert_int_equal(proto_store_expunge_decode(m, q->data, q->len, &why), 0);
	assert_int_equal(m->uid_only, 1);
	strcpy(seen.expunge_set, m->uids);
	seen.expunges++;
	free(m);
	reply_result(PROTO_STORE_OK, "");
}

static void store_answer(const struct request *q)
{
	struct proto_store_login l;
	const char *why;

	switch (q->type) {
	case IMSG_STORE_LOGIN:
		assert_int_equal(proto_store_login_decode(&l, q->data, q->len, &why), 0);
		seen.login_service = l.service;
		seen.logins++;
		reply_result(PROTO_STORE_OK, "");
		break;
	case IMSG_STORE_LOGOUT:
		assert_int_equal(q->len, 0);
		seen.logouts++;
		break;
	case IMSG_STORE_SELECT:
		store_select(q);
		break;
	case IMSG_STORE_FETCH:
		store_fetch(q);
		break;
	case IMSG_STORE_FLAGS:
		store_flags(q);
		break;
	case IMSG_STORE_EXPUNGE:
		store_expunge(q);
		break;
	default:
		fail_msg("unexpected store request %u", q->type);
	}
}

/* ---- the client side ---------------------------------------------------------- */

/* Runs the loop and the fake store until the output ends with END (or the
 * session closed); returns what arrived since the last call. */
static const char *pump_until(const char *end)
{
	size_t n = strlen(end);

	got_len = 0;
	got[0] = '\0';
	for (int round = 0; round < 20000; round++) {
		ssize_t r;

		event_base_loop(base, EVLOOP_NONBLOCK);
		while (n_queue > 0) {
			struct request q = queue[0];

			memmove(queue, queue + 1, --n_queue * sizeof(queue[0]));
			store_answer(&q);
			free(q.data);
		}
		r = read(sv[1], got + got_len, sizeof(got) - 1 - got_len);
		if (r > 0) {
			got_len += (size_t)r;
			got[got_len] = '\0';
		}
		if (got_len >= n && memcmp(got + got_len - n, end, n) == 0)
			return got;
		if (r == 0 || (seen.closed && r < 0))
			return got;
	}
	fail_msg("no \"%s\" in time; got \"%s\"", end, got);
	return got;
}

/* Runs the loop and the fake store a while, collecting what arrives. */
static void pump_idle(void)
{
	got_len = 0;
	got[0] = '\0';
	for (int round = 0; round < 50; round++) {
		ssize_t r;

		event_base_loop(base, EVLOOP_NONBLOCK);
		while (n_queue > 0) {
			struct request q = queue[0];

			memmove(queue, queue + 1, --n_queue * sizeof(queue[0]));
			store_answer(&q);
			free(q.data);
		}
		r = read(sv[1], got + got_len, sizeof(got) - 1 - got_len);
		if (r > 0) {
			got_len += (size_t)r;
			got[got_len] = '\0';
		}
	}
}

static const char *send_line(const char *line, const char *end)
{
	assert_int_equal(write_all(sv[1], line, strlen(line)), 0);
	return pump_until(end);
}

/* Sends LINE and expects a one-line answer starting with PREFIX. */
static void expect(const char *line, const char *prefix)
{
	const char *r = send_line(line, "\r\n");

	if (strncmp(r, prefix, strlen(prefix)) != 0)
		fail_msg("%s-> \"%s\", wanted \"%s...\"", line, r, prefix);
}

static void start(enum listener_tls tls)
{
	struct sockaddr_storage ss;

	memset(&seen, 0, sizeof(seen));
	config_defaults(&cfg);
	strcpy(cfg.hostname, "pop.test");
	cfg.n_listeners = 1;
	strcpy(cfg.listeners[0].name, "pop3");
	cfg.listeners[0].protocol = LISTENER_POP3;
	cfg.listeners[0].tls = tls;
	env = (struct pop3_env){base, &cfg,       NULL, NULL, fake_auth_check, fake_store_send,
	                        NULL, fake_closed};
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	sess =
	    pop3_session_new(&env, &cfg.listeners[0], sv[0], (struct sockaddr *)&ss, sizeof(ss), 7);
	assert_non_null(sess);
	assert_non_null(strstr(pump_until("\r\n"), "+OK pop.test POP3 ready"));
}

static void finish(void)
{
	if (sess != NULL)
		pop3_session_abort(sess);
	assert_true(seen.closed);
	close(sv[1]);
	pump_until("\r\n");
}

static void fill_three(void)
{
	n_msgs = 3;
	msgs[0] = (struct fake_msg){10, msg1, 0};
	msgs[1] = (struct fake_msg){11, msg2, 0};
	msgs[2] = (struct fake_msg){30, msg3, 0};
}

/* USER/PASS accepted by the test as the lookup role would. */
static void login(void)
{
	expect("USER alice\r\n", "+OK");
	assert_int_equal(write_all(sv[1], "PASS sec ret\r\n", 14), 0);
	pump_idle(); /* nothing comes back before the lookup role's answer */
	assert_int_equal(got_len, 0);
	assert_int_equal(seen.auth_checks, 1);
	assert_string_equal(seen.user, "alice");
	assert_string_equal(seen.password, "sec ret");
	pop3_session_auth_done(sess, PROTO_AUTH_OK, "alice@local.test");
	assert_non_null(strstr(pump_until("\r\n"), "+OK Maildrop has"));
	assert_int_equal(seen.logins, 1);
	assert_int_equal(seen.login_service, STORE_SERVICE_POP3);
	assert_int_equal(seen.select_pop3, 1);
}

static int setup(void **state)
{
	base = event_base_new();
	fill_three();
	return 0;
}

static int teardown(void **state)
{
	event_base_free(base);
	return 0;
}

/* ---- the tests ---------------------------------------------------------------- */

/* On a listener that requires TLS, nothing logs in before it: the [AUTH]
 * code, no password reaches the lookup role, CAPA offers no USER or SASL. */
static void test_refusals_before_tls(void **state)
{
	const char *r;

	start(LISTENER_TLS_REQUIRED);
	r = send_line("CAPA\r\n", "\r\n.\r\n");
	assert_non_null(strstr(r, "+OK"));
	assert_non_null(strstr(r, "\r\nTOP\r\n"));
	assert_non_null(strstr(r, "\r\nUIDL\r\n"));
	assert_non_null(strstr(r, "\r\nRESP-CODES\r\n"));
	assert_non_null(strstr(r, "\r\nPIPELINING\r\n"));
	assert_non_null(strstr(r, "\r\nAUTH-RESP-CODE\r\n"));
	assert_null(strstr(r, "USER"));
	assert_null(strstr(r, "SASL"));
	expect("USER alice\r\n", "-ERR [AUTH] ");
	expect("PASS secret\r\n", "-ERR [AUTH] ");
	expect("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n", "-ERR [AUTH] ");
	expect("AUTH PLAIN\r\n", "-ERR [AUTH] ");
	expect("STAT\r\n", "-ERR ");
	expect("LAST\r\n", "-ERR ");
	assert_int_equal(seen.auth_checks, 0);
	expect("QUIT\r\n", "+OK");
	pump_until("\r\n");
	assert_true(seen.closed);
	assert_int_equal(seen.logouts, 0);
	finish();
}

/* Where logins are allowed, CAPA offers them; STLS not without TLS. */
static void test_capa_where_allowed(void **state)
{
	const char *r;

	start(LISTENER_TLS_NONE);
	r = send_line("CAPA\r\n", "\r\n.\r\n");
	assert_non_null(strstr(r, "\r\nUSER\r\n"));
	assert_non_null(strstr(r, "\r\nSASL PLAIN\r\n"));
	assert_null(strstr(r, "STLS"));
	expect("STLS\r\n", "-ERR");
	finish();
}

static void test_stat_list_uidl(void **state)
{
	char line[128];
	const char *r;

	start(LISTENER_TLS_NONE);
	login();
	snprintf(line, sizeof(line), "+OK 3 %llu\r\n",
	         (unsigned long long)(crlf_size(msg1) + crlf_size(msg2) + crlf_size(msg3)));
	assert_string_equal(send_line("STAT\r\n", "\r\n"), line);
	r = send_line("LIST\r\n", "\r\n.\r\n");
	snprintf(line, sizeof(line), "\r\n2 %llu\r\n", (unsigned long long)crlf_size(msg2));
	assert_non_null(strstr(r, line));
	snprintf(line, sizeof(line), "+OK 2 %llu\r\n", (unsigned long long)crlf_size(msg2));
	assert_string_equal(send_line("LIST 2\r\n", "\r\n"), line);
	expect("LIST 4\r\n", "-ERR");
	expect("LIST 0\r\n", "-ERR");
	r = send_line("UIDL\r\n", "\r\n.\r\n");
	assert_string_equal(r, "+OK Unique-ID listing follows\r\n1 1700000001.10\r\n"
	                       "2 1700000001.11\r\n3 1700000001.30\r\n.\r\n");
	assert_string_equal(send_line("UIDL 3\r\n", "\r\n"), "+OK 3 1700000001.30\r\n");
	expect("NOOP\r\n", "+OK");
	expect("USER bob\r\n", "-ERR"); /* not in TRANSACTION */
	finish();
	assert_int_equal(seen.logouts, 1);
}

static void test_retr_and_top(void **state)
{
	const char *r;

	start(LISTENER_TLS_NONE);
	login();
	r = send_line("RETR 1\r\n", "\r\n.\r\n");
	assert_string_equal(r, "+OK 39 octets\r\nSubject: one\r\n\r\nHello\r\n..dot line\r\n"
	                       "bye\r\n.\r\n");
	assert_int_equal(seen.mark_seen, 1);
	r = send_line("RETR 3\r\n", "\r\n.\r\n");
	assert_string_equal(r, "+OK 34 octets\r\nSubject: three\r\n\r\nno final newline\r\n.\r\n");
	r = send_line("TOP 2 1\r\n", "\r\n.\r\n");
	assert_string_equal(r, "+OK Top of message follows\r\nSubject: two\r\nFrom: a@b\r\n\r\n"
	                       "l1\r\n.\r\n");
	r = send_line("TOP 2 0\r\n", "\r\n.\r\n");
	assert_string_equal(r, "+OK Top of message follows\r\nSubject: two\r\nFrom: a@b\r\n\r\n"
	                       ".\r\n");
	r = send_line("TOP 2 99\r\n", "\r\n.\r\n");
	assert_non_null(strstr(r, "l3\r\n.\r\n"));
	assert_int_equal(seen.mark_seen, 2); /* TOP sets no \Seen */
	expect("TOP 2\r\n", "-ERR");
	expect("RETR 9\r\n", "-ERR");
	/* a message expunged by IMAP meanwhile */
	msgs[1].expunged = 1;
	expect("RETR 2\r\n", "-ERR Message 2 is gone");
	msgs[1].expunged = 0;
	expect("NOOP\r\n", "+OK");
	finish();
}

/* DELE marks, RSET unmarks, QUIT removes exactly the marked UIDs. */
static void test_dele_rset_quit(void **state)
{
	const char *r;

	start(LISTENER_TLS_NONE);
	login();
	expect("DELE 1\r\n", "+OK");
	expect("DELE 1\r\n", "-ERR");
	expect("RETR 1\r\n", "-ERR");
	expect("STAT\r\n", "+OK 2 ");
	r = send_line("LIST\r\n", "\r\n.\r\n");
	assert_null(strstr(r, "\r\n1 "));
	expect("RSET\r\n", "+OK");
	expect("STAT\r\n", "+OK 3 ");
	expect("DELE 1\r\n", "+OK");
	expect("DELE 2\r\n", "+OK");
	assert_int_equal(seen.flags, 0);
	r = send_line("QUIT\r\n", "\r\n");
	assert_non_null(strstr(r, "+OK"));
	assert_non_null(strstr(r, "2 messages deleted"));
	assert_string_equal(seen.flags_set, "10:11");
	assert_string_equal(seen.expunge_set, "10:11");
	assert_int_equal(seen.expunges, 1);
	pump_until("\r\n");
	assert_true(seen.closed);
	assert_int_equal(seen.logouts, 1);
	finish();
}

static void test_quit_sets(void **state)
{
	start(LISTENER_TLS_NONE);
	login();
	expect("DELE 1\r\n", "+OK");
	expect("DELE 3\r\n", "+OK");
	expect("QUIT\r\n", "+OK");
	assert_string_equal(seen.flags_set, "10,30");
	assert_string_equal(seen.expunge_set, "10,30");
	finish();

	start(LISTENER_TLS_NONE);
	login();
	expect("QUIT\r\n", "+OK");
	assert_int_equal(seen.flags + seen.expunges, 0); /* nothing marked */
	finish();
}

/* A dropped connection or a timeout deletes nothing (RFC 1939 6). */
static void test_drop_deletes_nothing(void **state)
{
	start(LISTENER_TLS_NONE);
	login();
	expect("DELE 1\r\n", "+OK");
	close(sv[1]);
	for (int i = 0; i < 100 && !seen.closed; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	assert_true(seen.closed);
	assert_int_equal(seen.flags + seen.expunges, 0);
	assert_int_equal(seen.logouts, 0); /* the LOGOUT is in the queue */
	while (n_queue > 0) {
		store_answer(&queue[--n_queue]);
		free(queue[n_queue].data);
	}
	assert_int_equal(seen.logouts, 1);
	assert_int_equal(seen.flags + seen.expunges, 0);
	sv[1] = open("/dev/null", O_RDONLY);
	finish();
}

/* A timeout in TRANSACTION closes without the UPDATE state. */
static void test_timeout_deletes_nothing(void **state)
{
	start(LISTENER_TLS_NONE);
	cfg.imap.pop3_timeout = 1;
	login();
	expect("DELE 1\r\n", "+OK");
	for (int i = 0; i < 300 && !seen.closed; i++) {
		usleep(10000);
		pump_idle();
		if (got_len > 0)
			assert_non_null(strstr(got, "-ERR Disconnected for inactivity"));
	}
	assert_true(seen.closed);
	assert_int_equal(seen.flags + seen.expunges, 0);
	finish();
}

/* The maildrop is exclusive: the store's NO [IN-USE] is passed on. */
static void test_in_use(void **state)
{
	start(LISTENER_TLS_NONE);
	seen.select_code = "IN-USE";
	expect("USER alice\r\n", "+OK");
	assert_int_equal(write_all(sv[1], "PASS x\r\n", 8), 0);
	pump_idle();
	pop3_session_auth_done(sess, PROTO_AUTH_OK, "alice@local.test");
	assert_non_null(strstr(pump_until("\r\n"), "-ERR [IN-USE] "));
	pump_until("\r\n");
	assert_true(seen.closed);
	assert_int_equal(seen.logouts, 1);
	finish();
}

static void test_auth_plain(void **state)
{
	start(LISTENER_TLS_NONE);
	/* "\0alice\0secret" with an initial response */
	assert_int_equal(write_all(sv[1], "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n", 33), 0);
	pump_idle();
	assert_int_equal(seen.auth_checks, 1);
	assert_string_equal(seen.user, "alice");
	assert_string_equal(seen.password, "secret");
	pop3_session_auth_done(sess, PROTO_AUTH_FAILED, "");
	assert_string_equal(pump_until("\r\n"), "-ERR [AUTH] Authentication failed\r\n");
	/* after the "+ " continuation; "*" cancels */
	assert_string_equal(send_line("AUTH PLAIN\r\n", "\r\n"), "+ \r\n");
	expect("*\r\n", "-ERR [AUTH] ");
	assert_string_equal(send_line("AUTH PLAIN\r\n", "\r\n"), "+ \r\n");
	/* "bob\0bob\0pw": authzid equal to authcid */
	assert_int_equal(write_all(sv[1], "Ym9iAGJvYgBwdw==\r\n", 18), 0);
	pump_idle();
	assert_int_equal(seen.auth_checks, 2);
	assert_string_equal(seen.user, "bob");
	assert_string_equal(seen.password, "pw");
	pop3_session_auth_done(sess, PROTO_AUTH_OK, "bob@local.test");
	assert_non_null(strstr(pump_until("\r\n"), "+OK Maildrop has 3"));
	finish();

	start(LISTENER_TLS_NONE);
	expect("AUTH PLAIN AGFsaWNl\r\n", "-ERR [AUTH] "); /* malformed */
	expect("AUTH CRAM-MD5\r\n", "-ERR");
	expect("PASS x\r\n", "-ERR [AUTH] "); /* no USER */
	assert_int_equal(seen.auth_checks, 0);
	finish();
}

/* 1200 messages come in three batches of the store's FETCH. */
static void test_scan_in_batches(void **state)
{
	static char texts[MSGS_MAX][8];

	n_msgs = 1200;
	for (unsigned i = 0; i < n_msgs; i++) {
		snprintf(texts[i], sizeof(texts[i]), "%u\n", i % 1000);
		msgs[i] = (struct fake_msg){i + 1, texts[i], 0};
	}
	start(LISTENER_TLS_NONE);
	login();
	assert_int_equal(seen.fetches, 3);
	expect("STAT\r\n", "+OK 1200 ");
	assert_non_null(strstr(send_line("UIDL\r\n", "\r\n.\r\n"), "\r\n1200 1700000001.1200\r\n"));
	finish();
	fill_three();
}

/* A large message leaves in pieces, paced by the output. */
static void test_large_message(void **state)
{
	size_t n = 1 << 20;
	char *big = xmalloc(n + 1), line[64];
	const char *r;

	for (size_t i = 0; i < n; i++)
		big[i] = i % 64 == 63 ? '\n' : 'x';
	big[n] = '\0';
	msgs[1].text = big;
	start(LISTENER_TLS_NONE);
	login();
	r = send_line("RETR 2\r\n", "\r\n.\r\n");
	snprintf(line, sizeof(line), "+OK %zu octets\r\n", n + n / 64);
	assert_int_equal(strncmp(r, line, strlen(line)), 0);
	assert_int_equal(got_len, strlen(line) + n + n / 64 + 3);
	finish();
	msgs[1].text = msg2;
	free(big);
}

static void test_bad_lines(void **state)
{
	char longline[400];

	start(LISTENER_TLS_NONE);
	memset(longline, 'a', sizeof(longline));
	memcpy(longline + sizeof(longline) - 3, "\r\n", 3);
	expect(longline, "-ERR Line too long");
	expect("NOOP\nQUIT\r\n", "-ERR Bare <LF>");
	pump_until("\r\n");
	assert_true(seen.closed);
	finish();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_refusals_before_tls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_capa_where_allowed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stat_list_uidl, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retr_and_top, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dele_rset_quit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_quit_sets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_drop_deletes_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout_deletes_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_in_use, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_plain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_in_batches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_large_message, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_lines, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
