/*
 * session.c: one smtpload session slot: a client SMTP connection driven by
 * the replies it reads, on the run's libevent loop. A slot sends its
 * messages over one connection, or (-N) one message per connection; it
 * speaks STARTTLS or implicit TLS, pipelines MAIL/RCPT/DATA in one write
 * when the server offers PIPELINING, and keeps the newest TLS session it
 * was given for the next connection (-R). Any reply other than the one
 * expected, a closed connection, an error or a timeout fails the whole run
 * (run_fail), naming the slot, the command and the reply.
 */
#include "smtpload.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#define ESCAPED_MAX (SMTPLOAD_REPLY_TEXT_MAX * 4) /* a reply as printed */
#define COMMAND_TEXT_MAX (SMTPLOAD_ADDRESS_MAX + 32)

static void session_read_cb(struct bufferevent *bev, void *arg);
static void session_write_cb(struct bufferevent *bev, void *arg);
static void session_event_cb(struct bufferevent *bev, short what, void *arg);

void session_init(struct smtpload_session *s, struct smtpload_run *run, unsigned id)
{
	memset(s, 0, sizeof(*s));
	s->run = run;
	s->id = id;
	s->fd = -1;
	smtpload_reply_parser_init(&s->parser);
}

/* Writes IN (LEN octets) into OUT as a C-like string body: printable ASCII
 * as it is, '"' and '\\' escaped, CR and LF as \r \n, the rest as \xNN. */
static void escape(const char *in, size_t len, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < size; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '"' || c == '\\')
			o += (size_t)snprintf(out + o, size - o, "\\%c", c);
		else if (c == '\r' || c == '\n')
			o += (size_t)snprintf(out + o, size - o, "\\%c", c == '\r' ? 'r' : 'n');
		else if (c < ' ' || c >= 0x7f)
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

/* The recipient of position POS in S's current message. */
static const char *message_rcpt(const struct smtpload_session *s, unsigned pos)
{
	const struct smtpload_options *o = s->run->o;
	unsigned long first = (s->message * o->rcpts_per_message) % o->n_rcpts;

	return o->rcpts[(first + pos) % o->n_rcpts];
}

/* The command E answers, as it was sent (for messages). */
static const char *command_text(const struct smtpload_session *s, const struct smtpload_expect *e,
                                char *buf, size_t size)
{
	const struct smtpload_options *o = s->run->o;

	switch (e->cmd) {
	case CMD_GREETING:
		return "connect (greeting)";
	case CMD_EHLO:
		snprintf(buf, size, "EHLO %s", o->ehlo);
		return buf;
	case CMD_STARTTLS:
		return "STARTTLS";
	case CMD_MAIL:
		snprintf(buf, size, "MAIL FROM:<%s>", o->sender);
		return buf;
	case CMD_RCPT:
		snprintf(buf, size, "RCPT TO:<%s>", message_rcpt(s, e->rcpt_index));
		return buf;
	case CMD_DATA:
		return "DATA";
	case CMD_DOT:
		return "end of DATA (.)";
	case CMD_QUIT:
		return "QUIT";
	}
	return "?";
}

/* What S waits for, for a timeout or a closed connection. */
static const char *waiting_for(const struct smtpload_session *s, char *buf, size_t size)
{
	if (s->state == SESSION_CONNECTING)
		return s->ssl ? "the TLS handshake" : "connect";
	if (s->state == SESSION_HANDSHAKE)
		return "the TLS handshake after STARTTLS";
	if (s->expect_count == 0)
		return "nothing (no command pending)";
	return command_text(s, &s->expect[s->expect_head], buf, size);
}

static void expect_push(struct smtpload_session *s, enum smtpload_command cmd, unsigned code,
                        unsigned rcpt_index)
{
	unsigned slot = (s->expect_head + s->expect_count) % (SMTPLOAD_RCPTS_MAX + 2);

	s->expect[slot] = (struct smtpload_expect){cmd, code, rcpt_index};
	s->expect_count++;
}

/* Arms the per-reply timeout (again: it counts from now). */
static void arm_timeouts(struct smtpload_session *s)
{
	struct timeval tv = {.tv_sec = (time_t)s->run->o->timeout};

	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

static void send_bytes(struct smtpload_session *s, const void *data, size_t len)
{
	if (bufferevent_write(s->bev, data, len) < 0)
		run_fail(s->run, "session %u: cannot queue %zu octets for writing", s->id, len);
}

/* The bufferevent's callbacks, timeouts and reading/writing. */
static void bev_setup(struct smtpload_session *s)
{
	bufferevent_setcb(s->bev, session_read_cb, session_write_cb, session_event_cb, s);
	arm_timeouts(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

void session_connect(struct smtpload_session *s)
{
	const struct smtpload_options *o = s->run->o;
	int one = 1;

	s->fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		run_fail(s->run, "session %u: socket: %s", s->id, strerror(errno));
		return;
	}
	/* every write is a whole command group: never wait for an ACK */
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->bev = bufferevent_socket_new(s->run->base, s->fd, 0);
	if (s->bev == NULL) {
		run_fail(s->run, "session %u: cannot make a bufferevent", s->id);
		return;
	}
	s->bev_generation++;
	s->state = SESSION_CONNECTING;
	s->tls_done = 0;
	s->expect_count = 0;
	smtpload_reply_parser_init(&s->parser);
	bev_setup(s);
	if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&o->addr, (int)o->addr_len) < 0)
		run_fail(s->run, "session %u: connect to %s: %s", s->id, o->target,
		         strerror(errno));
}

/* Closes S's connection (the TLS bufferevent owns the socket and SSL).
 * After the 221 a TLS connection first sends its close_notify: OpenSSL
 * marks the session of an SSL freed without it as not resumable, which
 * would make -R resume nothing. */
static void close_connection(struct smtpload_session *s, int clean)
{
	if (clean && s->ssl != NULL && s->tls_done)
		SSL_shutdown(s->ssl);
	if (s->bev != NULL) {
		bufferevent_free(s->bev);
		s->bev = NULL;
		s->bev_generation++;
	}
	if (s->ssl == NULL && s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->ssl = NULL;
	s->tls_done = 0;
	s->expect_count = 0;
}

/* Starts the TLS handshake on S's socket: the plaintext bufferevent is
 * replaced by a TLS one, which then owns the socket. */
static void start_tls(struct smtpload_session *s)
{
	const struct smtpload_options *o = s->run->o;
	SSL *ssl = SSL_new(s->run->ssl_ctx);

	if (ssl == NULL) {
		run_fail(s->run, "session %u: SSL_new failed", s->id);
		return;
	}
	SSL_set_app_data(ssl, s);
	if (o->sni != NULL)
		SSL_set_tlsext_host_name(ssl, o->sni);
	if (o->resume && s->saved != NULL)
		SSL_set_session(ssl, s->saved);
	bufferevent_free(s->bev);
	s->bev_generation++;
	s->ssl = ssl;
	s->bev = bufferevent_openssl_socket_new(s->run->base, s->fd, ssl,
	                                        BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		run_fail(s->run, "session %u: cannot make a TLS bufferevent", s->id);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	if (s->state != SESSION_CONNECTING)
		s->state = SESSION_HANDSHAKE;
	bev_setup(s);
}

static void send_ehlo(struct smtpload_session *s)
{
	char line[SMTPLOAD_NAME_MAX + 8];
	int n = snprintf(line, sizeof(line), "EHLO %s\r\n", s->run->o->ehlo);

	send_bytes(s, line, (size_t)n);
	expect_push(s, CMD_EHLO, 250, 0);
}

static void send_quit(struct smtpload_session *s)
{
	s->state = SESSION_TALKING;
	send_bytes(s, "QUIT\r\n", 6);
	expect_push(s, CMD_QUIT, 221, 0);
}

/* Writes recipient POS's RCPT command into BUF; returns its length. */
static size_t rcpt_line(const struct smtpload_session *s, unsigned pos, char *buf, size_t size)
{
	return (size_t)snprintf(buf, size, "RCPT TO:<%s>\r\n", message_rcpt(s, pos));
}

/* Starts S's current message: its number goes into the body's Message-ID,
 * then MAIL, RCPTs and DATA in one write (PIPELINING) or MAIL alone. */
static void start_message(struct smtpload_session *s)
{
	struct smtpload_run *run = s->run;
	const struct smtpload_options *o = run->o;
	char *group = run->group_buffer;
	size_t len;

	s->state = SESSION_TALKING;
	snprintf(s->body + run->body_seq_offset, 11, "%010lu", s->message);
	s->body[run->body_seq_offset + 10] = '.';
	len = (size_t)snprintf(group, run->group_size, "MAIL FROM:<%s>\r\n", o->sender);
	expect_push(s, CMD_MAIL, 250, 0);
	if (o->no_pipelining || !(s->extensions & SMTPLOAD_EXT_PIPELINING)) {
		send_bytes(s, group, len);
		return;
	}
	for (unsigned i = 0; i < o->rcpts_per_message; i++) {
		len += rcpt_line(s, i, group + len, run->group_size - len);
		expect_push(s, CMD_RCPT, 250, i);
	}
	memcpy(group + len, "DATA\r\n", 6);
	expect_push(s, CMD_DATA, 354, 0);
	send_bytes(s, group, len + 6);
}

/* After the 354: the message and its final ".". The clock starts once the
 * output has drained (session_write_cb), not when the message is queued:
 * a large message takes many writes, and that transfer is the client's
 * time, not the server's latency. */
static void send_body(struct smtpload_session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);

	clock_gettime(CLOCK_MONOTONIC, &s->dot_at); /* replaced when written */
	s->dot_unwritten = 1;
	/* by reference: the body stays untouched until its 250 */
	if (evbuffer_add_reference(out, s->body, s->run->body_len, NULL, NULL) < 0)
		run_fail(s->run, "session %u: cannot queue the message", s->id);
	expect_push(s, CMD_DOT, 250, 0);
}

/* The output has drained: when it held the final ".", that was written now. */
static void session_write_cb(struct bufferevent *bev, void *arg)
{
	struct smtpload_session *s = arg;

	(void)bev;
	if (s->dot_unwritten) {
		s->dot_unwritten = 0;
		clock_gettime(CLOCK_MONOTONIC, &s->dot_at);
	}
}

/* The connection is ready for the next transaction: send it, QUIT, hold
 * (idle mode) or wait for the open loop to release a message. */
static void next_step(struct smtpload_session *s)
{
	struct smtpload_run *run = s->run;

	if (run->o->idle) {
		s->state = SESSION_HOLDING;
		bufferevent_set_timeouts(s->bev, NULL, NULL);
		run_session_ready(run, s);
		return;
	}
	if (run->o->new_connection) {
		if (s->has_message && !s->message_sent)
			start_message(s);
		else
			send_quit(s);
		return;
	}
	if (!s->has_message)
		s->has_message = run_take_message(run, &s->message);
	if (s->has_message)
		start_message(s);
	else if (run_all_taken(run))
		send_quit(s);
	else
		run_park(run, s);
}

/* The connection was closed after QUIT: open the next one or finish. */
static void after_close(struct smtpload_session *s)
{
	struct smtpload_run *run = s->run;

	s->message_sent = 0;
	if (!run->o->idle && run->o->new_connection) {
		s->has_message = run_take_message(run, &s->message);
		if (s->has_message) {
			session_connect(s);
			return;
		}
		if (!run_all_taken(run)) {
			run_park(run, s);
			return;
		}
	}
	run_session_finished(run, s);
}

void session_wake(struct smtpload_session *s)
{
	if (s->bev == NULL) {
		if (s->has_message)
			session_connect(s);
		else
			run_session_finished(s->run, s);
		return;
	}
	arm_timeouts(s);
	if (s->has_message)
		start_message(s);
	else
		send_quit(s);
}

void session_quit(struct smtpload_session *s)
{
	arm_timeouts(s);
	send_quit(s);
}

/* Fails the run with the reply S got to E. */
static void fail_reply(struct smtpload_session *s, const struct smtpload_expect *e)
{
	char cmd[COMMAND_TEXT_MAX], text[ESCAPED_MAX];

	escape(s->parser.reply.text, s->parser.reply.text_len, text, sizeof(text));
	run_fail(s->run, "session %u: %s got \"%s%s\"", s->id, command_text(s, e, cmd, sizeof(cmd)),
	         text, s->parser.reply.truncated ? "..." : "");
}

/* The reply to lock-step MAIL or RCPT (no PIPELINING): the next command. */
static void next_envelope_command(struct smtpload_session *s, const struct smtpload_expect *e)
{
	char line[COMMAND_TEXT_MAX];
	unsigned pos = e->cmd == CMD_MAIL ? 0 : e->rcpt_index + 1;

	if (pos < s->run->o->rcpts_per_message) {
		send_bytes(s, line, rcpt_line(s, pos, line, sizeof(line)));
		expect_push(s, CMD_RCPT, 250, pos);
		return;
	}
	send_bytes(s, "DATA\r\n", 6);
	expect_push(s, CMD_DATA, 354, 0);
}

/* The 250 after the final ".". */
static void message_done(struct smtpload_session *s)
{
	struct timespec now;
	double us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (double)(now.tv_sec - s->dot_at.tv_sec) * 1e6 +
	     (double)(now.tv_nsec - s->dot_at.tv_nsec) / 1e3;
	run_message_done(s->run, us < 0 ? 0 : (uint32_t)us);
	s->dot_unwritten = 0;
	s->has_message = 0;
	s->message_sent = 1;
	next_step(s);
}

/* The 250 to EHLO: STARTTLS if it is wanted and not done yet (and
 * offered, else the run fails), else on to the transactions. */
static void after_ehlo(struct smtpload_session *s, const struct smtpload_expect *e)
{
	s->extensions = s->parser.reply.extensions;
	if (s->run->o->transport == TRANSPORT_STARTTLS && !s->tls_done) {
		if (!(s->extensions & SMTPLOAD_EXT_STARTTLS)) {
			fail_reply(s, e);
			return;
		}
		send_bytes(s, "STARTTLS\r\n", 10);
		expect_push(s, CMD_STARTTLS, 220, 0);
		return;
	}
	next_step(s);
}

/* A complete reply: checks it against the oldest command and goes on. */
static void session_reply(struct smtpload_session *s)
{
	const struct smtpload_reply *r = &s->parser.reply;
	struct smtpload_expect e;

	if (s->expect_count == 0) {
		char text[ESCAPED_MAX];

		escape(r->text, r->text_len, text, sizeof(text));
		run_fail(s->run, "session %u: reply \"%s\" with no command pending", s->id, text);
		return;
	}
	e = s->expect[s->expect_head];
	s->expect_head = (s->expect_head + 1) % (SMTPLOAD_RCPTS_MAX + 2);
	s->expect_count--;
	if (r->code != e.code) {
		fail_reply(s, &e);
		return;
	}
	switch (e.cmd) {
	case CMD_GREETING:
		send_ehlo(s);
		break;
	case CMD_EHLO:
		after_ehlo(s, &e);
		break;
	case CMD_STARTTLS:
		/* RFC 3207 5: nothing may follow the 220 in plaintext */
		if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0) {
			run_fail(s->run, "session %u: data after the 220 to STARTTLS", s->id);
			return;
		}
		start_tls(s);
		break;
	case CMD_MAIL:
	case CMD_RCPT:
		if (s->run->o->no_pipelining || !(s->extensions & SMTPLOAD_EXT_PIPELINING))
			next_envelope_command(s, &e);
		break;
	case CMD_DATA:
		send_body(s);
		break;
	case CMD_DOT:
		message_done(s);
		break;
	case CMD_QUIT:
		close_connection(s, 1);
		after_close(s);
		break;
	}
}

static void session_read_cb(struct bufferevent *bev, void *arg)
{
	struct smtpload_session *s = arg;
	unsigned generation = s->bev_generation;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (s->bev_generation == generation && !s->run->failed) {
		struct evbuffer_iovec v;
		const char *error = NULL;
		size_t used = 0;
		char cmd[COMMAND_TEXT_MAX];

		if (evbuffer_get_length(in) == 0 || evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return;
		enum smtpload_reply_status st =
		    smtpload_reply_feed(&s->parser, v.iov_base, v.iov_len, &used, &error);
		evbuffer_drain(in, used);
		if (st == SMTPLOAD_REPLY_ERROR) {
			run_fail(s->run, "session %u: bad reply to %s: %s", s->id,
			         waiting_for(s, cmd, sizeof(cmd)), error);
			return;
		}
		if (st == SMTPLOAD_REPLY_DONE)
			session_reply(s);
	}
}

/* The TCP connection or the TLS handshake completed. */
static void session_connected(struct smtpload_session *s)
{
	struct smtpload_run *run = s->run;

	if (s->ssl == NULL) {
		run->connections++;
		if (run->o->transport == TRANSPORT_IMPLICIT) {
			start_tls(s);
			return;
		}
		s->state = SESSION_TALKING;
		expect_push(s, CMD_GREETING, 220, 0);
		return;
	}
	run->tls++;
	if (SSL_session_reused(s->ssl))
		run->resumed++;
	s->tls_done = 1;
	if (run->o->transport == TRANSPORT_IMPLICIT) {
		s->state = SESSION_TALKING;
		expect_push(s, CMD_GREETING, 220, 0);
		return;
	}
	s->state = SESSION_TALKING;
	send_ehlo(s);
}

/* Why the connection failed: errno, and OpenSSL's queue on a TLS one. */
static void connection_error(struct smtpload_session *s, char *buf, size_t size)
{
	int saved = EVUTIL_SOCKET_ERROR();
	unsigned long e = s->ssl ? bufferevent_get_openssl_error(s->bev) : 0;

	if (e != 0) {
		ERR_error_string_n(e, buf, size);
		return;
	}
	snprintf(buf, size, "%s", saved ? evutil_socket_error_to_string(saved) : "error");
}

static void session_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtpload_session *s = arg;
	char cmd[COMMAND_TEXT_MAX], why[256];

	if (what & BEV_EVENT_CONNECTED) {
		session_connected(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		run_fail(s->run, "session %u: timeout after %u s waiting for %s", s->id,
		         s->run->o->timeout, waiting_for(s, cmd, sizeof(cmd)));
		return;
	}
	if (what & BEV_EVENT_EOF) {
		run_fail(s->run, "session %u: connection closed by the server while waiting for %s",
		         s->id, waiting_for(s, cmd, sizeof(cmd)));
		return;
	}
	connection_error(s, why, sizeof(why));
	run_fail(s->run, "session %u: connection error while waiting for %s: %s", s->id,
	         waiting_for(s, cmd, sizeof(cmd)), why);
}

int session_new_ticket(SSL *ssl, SSL_SESSION *session)
{
	struct smtpload_session *s = SSL_get_app_data(ssl);

	if (s == NULL)
		return 0;
	if (s->saved != NULL)
		SSL_SESSION_free(s->saved);
	s->saved = session; /* the reference is ours now */
	return 1;
}

void session_free(struct smtpload_session *s)
{
	close_connection(s, 0);
	if (s->saved != NULL)
		SSL_SESSION_free(s->saved);
	s->saved = NULL;
	free(s->body);
	s->body = NULL;
}
