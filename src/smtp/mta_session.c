/*
 * mta_session.c: the SMTP client's dialog with one host, as a state
 * machine (enum mta_state in mta_private.h): mta_session_enter_state() is
 * the one place that moves a connection between states and sends what a
 * state begins with; mta_session_io_cb() takes the connection's events.
 *
 * A connection walks the candidate hosts of its destination in order
 * (MX preference, then the next address): connect, greeting, EHLO, then
 * STARTTLS as the policy demands (mta_tls.c), EHLO again over TLS, and
 * only then transactions: the message as DATA, or as BDAT chunks to a peer
 * offering CHUNKING (RFC 3030), after the checks of SMTPUTF8 (RFC 6531)
 * and REQUIRETLS (RFC 8689). Every reply is parsed by smtp_reply_feed();
 * commands sent together (PIPELINING) queue the handlers of their replies
 * in order. Started by mta_resolved() (mta.c) and by mta_dest_kick()
 * (mta_destination.c), which hands tasks to idle connections.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/dotstuff.h"
#include "policy/policy.h"
#include "smtp/mta_private.h"
#include "smtp/smtp_reply.h"

/* ---- output helpers ---------------------------------------------------------- */

void mta_send(struct mta_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	io_vprintf(s->io, fmt, ap);
	va_end(ap);
	io_write(s->io, "\r\n", 2);
}

/* "451 4.4.2 text" from a reply, for recipient outcomes. */
void mta_reply_text(const struct smtp_reply *r, char *buf, size_t size)
{
	const char *nl = strchr(r->text, '\n');
	int tlen = nl ? (int)(nl - r->text) : (int)strlen(r->text);

	snprintf(buf, size, "%u%s%s %.*s", r->code, r->enhanced[0] ? " " : "", r->enhanced, tlen,
	         r->text);
}

/* The enhanced code of a reply, or one derived from its basic code. */
static const char *mta_reply_status(const struct smtp_reply *r, char *buf, size_t size)
{
	if (delivery_enhanced_valid(r->enhanced))
		return r->enhanced;
	snprintf(buf, size, "%u.0.0", r->code / 100);
	return buf;
}

/* What reply R says about a recipient: its codes, and the reply as text. */
static void mta_reply_delivery_status(const struct smtp_reply *r, struct delivery_status *st)
{
	char text[600], status[16];

	mta_reply_text(r, text, sizeof(text));
	delivery_status_set(st, mta_reply_status(r, status, sizeof(status)), r->code, text);
}

/* ---- the state machine ---------------------------------------------------- */

static void mta_session_begin_transaction(struct mta_session *s);
static void mta_session_report(struct mta_session *s);
static void mta_session_bdat_reply(struct mta_session *s, const struct smtp_reply *r);
static void mta_session_pump_body(struct mta_session *s);
static void mta_session_io_cb(struct io *io, enum io_event event, void *arg);

/* Moves S to STATE and sends what STATE begins with: the one place a
 * connection changes state. Entering READY takes the next task (or waits
 * idle for one); the other states start with nothing to send. */
void mta_session_enter_state(struct mta_session *s, enum mta_state state)
{
	const char *helo = s->mta->env.cfg->outbound_helo;

	s->state = state;
	switch (state) {
	case MTA_STATE_EHLO:
		mta_send(s, "EHLO %s", helo);
		break;
	case MTA_STATE_HELO:
		mta_send(s, "HELO %s", helo);
		break;
	case MTA_STATE_STARTTLS:
		mta_send(s, "STARTTLS");
		break;
	case MTA_STATE_READY:
		mta_session_start_task(s);
		break;
	case MTA_STATE_TXN:
		mta_session_begin_transaction(s);
		break;
	case MTA_STATE_BODY:
		s->body_off = 0;
		if (s->ext_chunking)
			smtp_dotstuff_init_bdat(&s->dot);
		else
			smtp_dotstuff_init(&s->dot);
		mta_session_pump_body(s);
		break;
	case MTA_STATE_RSET:
		mta_send(s, "RSET");
		break;
	case MTA_STATE_QUIT:
		mta_send(s, "QUIT");
		break;
	case MTA_STATE_RESOLVING:
	case MTA_STATE_CONNECTING:
	case MTA_STATE_GREETING:
	case MTA_STATE_HANDSHAKE:
	case MTA_STATE_BODY_END:
		break;
	}
}

/* ---- connecting -------------------------------------------------------------- */

/* Opens a connection to the current candidate host. */
void mta_session_connect(struct mta_session *s)
{
	const struct config *cfg = s->mta->env.cfg;
	struct mta_host *h = &s->hosts[s->cur];
	struct sockaddr_storage ss;
	socklen_t len;
	char why[600];
	int fd;

	snprintf(s->relay, sizeof(s->relay), "%s[%s]:%u", h->name, h->addr, mta_dest_port(s->dest));
	if (mta_host_sockaddr(h, mta_dest_port(s->dest), &ss, &len) < 0) {
		snprintf(why, sizeof(why), "4.4.1 bad address %s", h->addr);
		mta_session_next_host(s, why, 0);
		return;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, sizeof(why), "4.4.1 socket: %s", strerror(errno));
		mta_session_next_host(s, why, 0);
		return;
	}
	/* commands go out as written: a pipelined group is one write, and
	 * with Nagle a small write behind an unacknowledged one waits for the
	 * peer's delayed ACK */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	s->io = io_new(s->mta->env.base, fd, mta_session_io_cb, s);
	io_set_timeout(s->io, cfg->outbound_connect_timeout);
	mta_session_enter_state(s, MTA_STATE_CONNECTING);
	smtp_reply_parser_init(&s->parser);
	s->tls_active = 0;
	s->tls_desc[0] = '\0';
	strlcpy_checked(s->peer, "none", sizeof(s->peer));
	if (io_connect(s->io, (struct sockaddr *)&ss, len) < 0) {
		snprintf(why, sizeof(why), "4.4.1 connect to %s: %s", s->relay, strerror(errno));
		mta_session_next_host(s, why, 0);
	}
}

/* ---- the dialog before transactions ------------------------------------------ */

static void mta_session_parse_ehlo(struct mta_session *s, const struct smtp_reply *r)
{
	const char *param;

	s->esmtp = 1;
	s->ext_pipelining = smtp_reply_has_extension(r, "PIPELINING", &param);
	s->ext_starttls = smtp_reply_has_extension(r, "STARTTLS", &param);
	s->ext_8bitmime = smtp_reply_has_extension(r, "8BITMIME", &param);
	s->ext_dsn = smtp_reply_has_extension(r, "DSN", &param);
	s->ext_smtputf8 = smtp_reply_has_extension(r, "SMTPUTF8", &param);
	s->ext_chunking = smtp_reply_has_extension(r, "CHUNKING", &param);
	s->ext_requiretls = smtp_reply_has_extension(r, "REQUIRETLS", &param);
	s->ext_size = smtp_reply_has_extension(r, "SIZE", &param) ? strtoull(param, NULL, 10) : 0;
}

/* EHLO was answered: STARTTLS as the TLS decision says (mta_tls.c). */
static void mta_session_after_ehlo(struct mta_session *s)
{
	mta_tls_after_ehlo(s);
}

static void mta_session_on_greeting(struct mta_session *s, const struct smtp_reply *r)
{
	char text[600], why[700];

	if (r->code / 100 != 2) {
		mta_reply_text(r, text, sizeof(text));
		snprintf(why, sizeof(why), "4.4.1 %s refused to talk: %s", s->relay, text);
		mta_session_next_host(s, why, 0);
		return;
	}
	mta_session_enter_state(s, MTA_STATE_EHLO);
}

static void mta_session_on_ehlo(struct mta_session *s, const struct smtp_reply *r)
{
	char text[600], why[700];

	if (r->code / 100 == 2) {
		mta_session_parse_ehlo(s, r);
		mta_session_after_ehlo(s);
		return;
	}
	if (r->code / 100 == 5 && !s->tls_active && !s->dec.tls_required) {
		/* An old server: HELO, no extensions. */
		mta_session_enter_state(s, MTA_STATE_HELO);
		return;
	}
	mta_reply_text(r, text, sizeof(text));
	snprintf(why, sizeof(why), "4.4.1 %s refused EHLO: %s", s->relay, text);
	mta_session_next_host(s, why, 0);
}

/* ---- transactions ------------------------------------------------------------ */

/* Sends MAIL, every RCPT and DATA: all at once with PIPELINING, otherwise
 * one at a time as each reply comes (RFC 2920). */
static void mta_session_send_mail(struct mta_session *s)
{
	struct mta_task *t = s->task;
	char params[512] = "";
	size_t o = 0;

	if (s->ext_size)
		o +=
		    (size_t)snprintf(params + o, sizeof(params) - o, " SIZE=%" PRIu64, t->body_len);
	if (s->ext_8bitmime && t->body[0] != '\0')
		o += (size_t)snprintf(params + o, sizeof(params) - o, " BODY=%s",
		                      strcmp(t->body, "8bitmime") == 0 ? "8BITMIME" : "7BIT");
	if (s->ext_dsn && t->ret[0] != '\0')
		o += (size_t)snprintf(params + o, sizeof(params) - o, " RET=%s",
		                      strcmp(t->ret, "full") == 0 ? "FULL" : "HDRS");
	if (s->ext_dsn && t->envid[0] != '\0')
		o += (size_t)snprintf(params + o, sizeof(params) - o, " ENVID=%s", t->envid);
	/* mta_session_task_refusal() made sure the peer offers these */
	if (t->flags & ENVELOPE_SMTPUTF8)
		o += (size_t)snprintf(params + o, sizeof(params) - o, " SMTPUTF8");
	if (t->flags & ENVELOPE_REQUIRETLS)
		snprintf(params + o, sizeof(params) - o, " REQUIRETLS");
	mta_send(s, "MAIL FROM:<%s>%s", t->sender, params);
}

static void mta_session_send_rcpt(struct mta_session *s, unsigned i)
{
	const struct envelope_rcpt *r = &s->task->rcpts[i].r;
	char params[700] = "";
	size_t o = 0;

	if (s->ext_dsn && r->notify != 0) {
		o += (size_t)snprintf(params + o, sizeof(params) - o, " NOTIFY=");
		if (r->notify & NOTIFY_NEVER)
			o += (size_t)snprintf(params + o, sizeof(params) - o, "NEVER");
		else
			o += (size_t)snprintf(
			    params + o, sizeof(params) - o, "%s%s%s%s%s",
			    r->notify & NOTIFY_SUCCESS ? "SUCCESS" : "",
			    (r->notify & NOTIFY_SUCCESS) &&
			            (r->notify & (NOTIFY_FAILURE | NOTIFY_DELAY))
			        ? ","
			        : "",
			    r->notify & NOTIFY_FAILURE ? "FAILURE" : "",
			    (r->notify & NOTIFY_FAILURE) && (r->notify & NOTIFY_DELAY) ? "," : "",
			    r->notify & NOTIFY_DELAY ? "DELAY" : "");
	}
	if (s->ext_dsn && r->orcpt[0] != '\0')
		snprintf(params + o, sizeof(params) - o, " ORCPT=%s", r->orcpt);
	mta_send(s, "RCPT TO:<%s>%s", r->addr, params);
}

/* 1 when the connection's peer is authenticated as RFC 8689 4.2.1 asks:
 * by DANE, by MTA-STS, or by a certificate verified for the policy. */
static int mta_session_peer_authenticated(const struct mta_session *s)
{
	return strcmp(s->peer, "dane") == 0 || strcmp(s->peer, "sts") == 0 ||
	       strcmp(s->peer, "verified") == 0;
}

/* Why this connection must not carry task T, with the enhanced code in
 * *STATUS_R (a permanent failure: RFC 6531 3.4, RFC 8689 5), or NULL. */
static const char *mta_session_task_refusal(struct mta_session *s, const struct mta_task *t,
                                            const char **status_r, char *buf, size_t size)
{
	const char *why = NULL;

	*status_r = "5.3.4";
	if (s->ext_size && t->body_len > s->ext_size) {
		snprintf(buf, size, "message size %" PRIu64 " exceeds %s's limit of %" PRIu64,
		         t->body_len, s->relay, s->ext_size);
		return buf;
	}
	*status_r = "5.6.7";
	if ((t->flags & ENVELOPE_SMTPUTF8) && !s->ext_smtputf8) {
		snprintf(buf, size,
		         "5.6.7 %s does not offer SMTPUTF8, which this message needs for its "
		         "non-ASCII addresses or header (RFC 6531 3.4)",
		         s->relay);
		return buf;
	}
	*status_r = "5.7.30";
	if (!(t->flags & ENVELOPE_REQUIRETLS))
		return NULL;
	if (!s->tls_active)
		why = "the connection is not encrypted";
	else if (!mta_session_peer_authenticated(s))
		why = "the server's certificate is not authenticated by DANE, MTA-STS or a "
		      "verify policy";
	else if (!s->ext_requiretls)
		why = "the server does not offer REQUIRETLS";
	if (why == NULL)
		return NULL;
	snprintf(buf, size, "5.7.30 REQUIRETLS: %s (%s, peer=%s)", why, s->relay,
	         s->tls_active ? s->peer : "none");
	return buf;
}

/* Takes the next task of the destination, or waits idle for one. */
void mta_session_start_task(struct mta_session *s)
{
	struct mta_dest *d = s->dest;
	const char *why, *status;
	char buf[700];

	s->task = d->queue;
	if (s->task == NULL) {
		event_add(s->ev_idle, &(struct timeval){MTA_IDLE_SECONDS, 0});
		return;
	}
	event_del(s->ev_idle);
	d->queue = s->task->next;
	if (d->queue == NULL)
		d->queue_tail = NULL;
	s->task->next = NULL;
	why = mta_session_task_refusal(s, s->task, &status, buf, sizeof(buf));
	if (why != NULL) {
		log_info("event=mta-refused id=%s domain=%s relay=%s status=%s", s->task->queue_id,
		         d->domain, s->relay, status);
		mta_session_report(s);
		mta_task_settle(s->task, MTA_PERMFAIL, status, why);
		mta_task_finish(s->mta, s->task);
		s->task = NULL;
		mta_session_start_task(s);
		return;
	}
	mta_session_enter_state(s, MTA_STATE_TXN);
}

/* Entering MTA_STATE_TXN: MAIL, and with PIPELINING every RCPT and DATA
 * at once (RFC 2920). */
static void mta_session_begin_transaction(struct mta_session *s)
{
	unsigned i;

	s->accepted = 0;
	s->rcpt_next = 0;
	s->mail_failed = 0;
	s->mail_pending = 1;
	s->expect_rcpt = s->task->n_rcpts;
	s->data_pending = !s->ext_chunking;
	s->bdat_pending = 0;
	s->bdat_failed = 0;
	mta_session_send_mail(s);
	if (!s->ext_pipelining)
		return;
	for (i = 0; i < s->task->n_rcpts; i++)
		mta_session_send_rcpt(s, i);
	if (s->ext_chunking) /* RFC 3030 4.2: the chunks follow the RCPTs */
		mta_session_enter_state(s, MTA_STATE_BODY);
	else
		mta_send(s, "DATA");
}

/* Fills in the report of the connection that carries the task. */
static void mta_session_report(struct mta_session *s)
{
	struct mta_report *rep = &s->task->report;

	mta_tls_report(s, rep);
	strlcpy_checked(rep->relay, s->relay, sizeof(rep->relay));
	strlcpy_checked(rep->tls, s->tls_desc, sizeof(rep->tls));
	strlcpy_checked(rep->peer, s->tls_active ? s->peer : "none", sizeof(rep->peer));
	rep->peer_dsn = s->ext_dsn;
	rep->peer_requiretls = (uint32_t)s->ext_requiretls;
}

/* The task ends on this connection; the connection goes on. */
static void mta_session_task_done(struct mta_session *s, const struct smtp_reply *r)
{
	struct delivery_status st;

	mta_session_report(s);
	if (r != NULL) {
		mta_reply_delivery_status(r, &st);
		mta_task_settle_status(s->task,
		                       r->code / 100 == 2   ? MTA_DELIVERED
		                       : r->code / 100 == 5 ? MTA_PERMFAIL
		                                            : MTA_TEMPFAIL,
		                       &st);
	}
	mta_task_finish(s->mta, s->task);
	s->task = NULL;
	mta_session_enter_state(s, MTA_STATE_READY);
}

static void mta_session_on_mail(struct mta_session *s, const struct smtp_reply *r)
{
	struct delivery_status st;
	unsigned i;

	if (r->code / 100 == 2) {
		if (!s->ext_pipelining)
			mta_session_send_rcpt(s, 0);
		return;
	}
	/* The whole transaction failed; with PIPELINING the RCPT and DATA
	 * replies still come and are only consumed. */
	mta_reply_delivery_status(r, &st);
	for (i = 0; i < s->task->n_rcpts; i++) {
		struct mta_rcpt *rc = &s->task->rcpts[i];
		rc->outcome = r->code / 100 == 5 ? MTA_PERMFAIL : MTA_TEMPFAIL;
		rc->status = st;
	}
	s->mail_failed = 1;
	s->bdat_failed = 1;
	if (!s->ext_pipelining) {
		s->expect_rcpt = 0;
		s->data_pending = 0;
		/* the RSET reply ends the task */
		mta_session_enter_state(s, MTA_STATE_RSET);
	}
}

static void mta_session_on_rcpt(struct mta_session *s, const struct smtp_reply *r)
{
	struct mta_rcpt *rc = &s->task->rcpts[s->rcpt_next++];

	s->expect_rcpt--;
	if (!s->mail_failed) {
		if (r->code / 100 == 2) {
			s->accepted++;
		} else {
			rc->outcome = r->code / 100 == 5 ? MTA_PERMFAIL : MTA_TEMPFAIL;
			mta_reply_delivery_status(r, &rc->status);
		}
	}
	if (s->ext_chunking && s->ext_pipelining) {
		if (s->expect_rcpt == 0 && s->accepted == 0)
			s->bdat_failed = 1; /* RFC 3030 2: send no more chunks */
		mta_session_bdat_reply(s, NULL);
		return;
	}
	if (s->ext_pipelining || s->mail_failed)
		return;
	if (s->expect_rcpt > 0) {
		mta_session_send_rcpt(s, s->rcpt_next);
		return;
	}
	if (s->accepted == 0) {
		s->data_pending = 0;
		mta_session_enter_state(s, MTA_STATE_RSET);
		return;
	}
	if (s->ext_chunking)
		mta_session_enter_state(s, MTA_STATE_BODY);
	else
		mta_send(s, "DATA");
}

/* Reads the next piece of the message into IN (MTA_DATA_CHUNK bytes);
 * returns its length, or -1 after giving up the task and the connection
 * (mid-message, it cannot go on). */
static ssize_t mta_session_read_body(struct mta_session *s, char *in)
{
	struct mta_task *t = s->task;
	uint64_t left = t->body_len - s->body_off;
	ssize_t got = pread(t->fd, in, left < MTA_DATA_CHUNK ? (size_t)left : MTA_DATA_CHUNK,
	                    (off_t)(t->header_len + s->body_off));
	char why[300];

	if (got > 0) {
		s->body_off += (uint64_t)got;
		return got;
	}
	snprintf(why, sizeof(why), "4.3.0 cannot read the queued message: %s",
	         got < 0 ? strerror(errno) : "short file");
	mta_session_report(s);
	mta_task_settle(t, MTA_TEMPFAIL, "4.3.0", why);
	mta_task_finish(s->mta, t);
	s->task = NULL;
	mta_session_free(s);
	return -1;
}

/* Sends the next BDAT chunk (RFC 3030 2): the stored message with its
 * line ends made CRLF (as DATA's content is) and no dot-stuffing; the
 * last chunk carries LAST, and a CRLF if the message lacked a final one.
 * Returns -1 when the connection is gone. */
static int mta_session_send_chunk(struct mta_session *s)
{
	char in[MTA_DATA_CHUNK], enc[2 * MTA_DATA_CHUNK + 8];
	ssize_t got = 0;
	size_t n = 0;
	int last;

	if (s->body_off < s->task->body_len && (got = mta_session_read_body(s, in)) < 0)
		return -1;
	n = smtp_dotstuff_feed(&s->dot, in, (size_t)got, enc);
	last = s->body_off == s->task->body_len;
	if (last)
		n += smtp_dotstuff_end_line(&s->dot, enc + n);
	if (n == 0 && !last)
		return 0; /* only the LF of a CRLF split across reads */
	mta_send(s, "BDAT %zu%s", n, last ? " LAST" : "");
	io_write(s->io, enc, n);
	s->bdat_pending++;
	if (last)
		mta_session_enter_state(s, MTA_STATE_BODY_END);
	return 0;
}

/* Sends the next piece of DATA's dot-stuffed text, or its end. Returns
 * -1 when the connection is gone. */
static int mta_session_send_data_piece(struct mta_session *s)
{
	char in[MTA_DATA_CHUNK], enc[2 * MTA_DATA_CHUNK + 8];
	ssize_t got;
	size_t n;

	if (s->body_off == s->task->body_len) {
		n = smtp_dotstuff_finish(&s->dot, enc);
		io_write(s->io, enc, n);
		mta_session_enter_state(s, MTA_STATE_BODY_END);
		return 0;
	}
	if ((got = mta_session_read_body(s, in)) < 0)
		return -1;
	n = smtp_dotstuff_feed(&s->dot, in, (size_t)got, enc);
	io_write(s->io, enc, n);
	return 0;
}

/* Streams the message while the output buffer has room: DATA's
 * dot-stuffed text and its end, or BDAT chunks until one was refused. */
static void mta_session_pump_body(struct mta_session *s)
{
	while (s->state == MTA_STATE_BODY && !io_output_full(s->io)) {
		/* without PIPELINING each chunk waits for the last one's reply */
		if (s->ext_chunking && (s->bdat_failed || (!s->ext_pipelining && s->bdat_pending > 0)))
			return;
		if ((s->ext_chunking ? mta_session_send_chunk(s) : mta_session_send_data_piece(s)) < 0)
			return;
	}
}

/* A reply to a BDAT chunk (R), or NULL after the last RCPT reply. The
 * first refusal settles the recipients the peer took and stops the
 * chunks; once every reply is in, the LAST one's decides, or RSET clears
 * a transaction that was refused or never ended (RFC 3030 2). */
static void mta_session_bdat_reply(struct mta_session *s, const struct smtp_reply *r)
{
	struct delivery_status st;

	if (r != NULL) {
		s->bdat_pending--;
		if (r->code / 100 != 2 && !s->bdat_failed) {
			s->bdat_failed = 1;
			if (!s->mail_failed && s->accepted > 0) {
				mta_reply_delivery_status(r, &st);
				mta_task_settle_status(
				    s->task, r->code / 100 == 5 ? MTA_PERMFAIL : MTA_TEMPFAIL, &st);
			}
		}
	}
	if (s->mail_pending || s->expect_rcpt > 0 || s->bdat_pending > 0)
		return;
	if (s->bdat_failed) {
		mta_session_enter_state(s, MTA_STATE_RSET);
		return;
	}
	if (s->state == MTA_STATE_BODY)
		mta_session_pump_body(s);
	else if (r != NULL)
		mta_session_task_done(s, r);
}

static void mta_session_on_data(struct mta_session *s, const struct smtp_reply *r)
{
	s->data_pending = 0;
	if (s->mail_failed || s->accepted == 0) {
		/* Nothing to send: a 354 still needs an (empty) message ended. */
		if (r->code == 354)
			mta_send(s, ".");
		else
			mta_session_task_done(s, NULL);
		if (r->code == 354)
			mta_session_enter_state(s, MTA_STATE_BODY_END);
		return;
	}
	if (r->code != 354) {
		mta_session_task_done(s, r);
		return;
	}
	mta_session_enter_state(s, MTA_STATE_BODY);
}

static void mta_session_on_body_end(struct mta_session *s, const struct smtp_reply *r)
{
	if (s->mail_failed || s->accepted == 0) {
		mta_session_task_done(s, NULL);
		return;
	}
	mta_session_task_done(s, r);
}

/* A reply during a transaction: MAIL's, then each RCPT's, then DATA's. */
static void mta_session_on_txn_reply(struct mta_session *s, const struct smtp_reply *r)
{
	if (s->mail_pending) {
		s->mail_pending = 0;
		mta_session_on_mail(s, r);
		return;
	}
	if (s->expect_rcpt > 0) {
		mta_session_on_rcpt(s, r);
		return;
	}
	if (s->ext_chunking)
		mta_session_bdat_reply(s, r);
	else
		mta_session_on_data(s, r);
}

/* ---- replies and connection events ------------------------------------------- */

static void mta_session_on_reply(struct mta_session *s, const struct smtp_reply *r)
{
	switch (s->state) {
	case MTA_STATE_GREETING:
		mta_session_on_greeting(s, r);
		break;
	case MTA_STATE_EHLO:
		mta_session_on_ehlo(s, r);
		break;
	case MTA_STATE_HELO:
		if (r->code / 100 == 2) {
			s->esmtp = 0;
			s->ext_pipelining = s->ext_starttls = s->ext_8bitmime = s->ext_dsn = 0;
			s->ext_smtputf8 = s->ext_chunking = s->ext_requiretls = 0;
			s->ext_size = 0;
			mta_session_after_ehlo(s);
		} else {
			mta_session_next_host(s, "4.4.1 HELO refused", 0);
		}
		break;
	case MTA_STATE_STARTTLS:
		mta_session_on_starttls(s, r);
		break;
	case MTA_STATE_TXN:
		mta_session_on_txn_reply(s, r);
		break;
	case MTA_STATE_BODY:
	case MTA_STATE_BODY_END:
		/* BDAT: the replies to MAIL, RCPT and the chunks come as the
		 * chunks go; DATA: only the final one, after the dot */
		if (s->ext_chunking)
			mta_session_on_txn_reply(s, r);
		else if (s->state == MTA_STATE_BODY_END)
			mta_session_on_body_end(s, r);
		else
			mta_session_host_failed(s, "4.4.2",
			                        "4.4.2 unexpected reply from the server", 0);
		break;
	case MTA_STATE_RSET:
		mta_session_task_done(s, NULL);
		break;
	case MTA_STATE_QUIT:
		mta_session_free(s);
		break;
	default:
		mta_session_host_failed(s, "4.4.2", "4.4.2 unexpected reply from the server", 0);
		break;
	}
}

static void mta_session_read(struct mta_session *s)
{
	while (!s->closed && s->io != NULL && io_input_length(s->io) > 0) {
		struct evbuffer *in = io_input(s->io);
		struct evbuffer_iovec v;
		const char *why;
		size_t consumed;
		enum smtp_reply_status st;
		char text[300];

		if (s->state == MTA_STATE_HANDSHAKE || s->state == MTA_STATE_CONNECTING)
			return;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return;
		st = smtp_reply_feed(&s->parser, v.iov_base, v.iov_len, &consumed, &s->reply, &why);
		evbuffer_drain(in, consumed);
		if (st == SMTP_REPLY_ERROR) {
			snprintf(text, sizeof(text), "4.4.2 protocol error from %s: %s", s->relay,
			         why);
			if (s->task != NULL && s->state >= MTA_STATE_TXN) {
				mta_session_report(s);
				mta_task_settle(s->task, MTA_TEMPFAIL, "4.4.2", text);
				mta_task_finish(s->mta, s->task);
				s->task = NULL;
				mta_session_free(s);
			} else {
				mta_session_host_failed(s, "4.4.2", text, 0);
			}
			return;
		}
		if (st == SMTP_REPLY_OK)
			mta_session_on_reply(s, &s->reply);
	}
}

/* The connection timed out, failed or was closed (EVENT). */
static void mta_session_lost(struct mta_session *s, enum io_event event)
{
	const char *how = event == IO_TIMEOUT ? "timed out" : "lost";
	char why[1024];

	if (s->state == MTA_STATE_HANDSHAKE) {
		mta_session_handshake_failed(s, event);
		return;
	}
	if (s->state == MTA_STATE_CONNECTING) {
		snprintf(why, sizeof(why), "4.4.1 connect to %s: %s", s->relay,
		         event == IO_TIMEOUT ? "timed out" : io_error(s->io));
		mta_session_next_host(s, why, 0);
		return;
	}
	if (s->task != NULL) {
		snprintf(why, sizeof(why), "4.4.2 %s: connection %s during the transaction",
		         s->relay, how);
		if (s->state < MTA_STATE_READY) {
			mta_session_host_failed(s, "4.4.2", why, 0);
			return;
		}
		mta_session_report(s);
		mta_task_settle(s->task, MTA_TEMPFAIL, "4.4.2", why);
		mta_task_finish(s->mta, s->task);
		s->task = NULL;
		mta_session_free(s);
		return;
	}
	if (s->state < MTA_STATE_READY) {
		snprintf(why, sizeof(why), "4.4.2 %s: connection %s", s->relay, how);
		mta_session_host_failed(s, "4.4.2", why, 0);
		return;
	}
	mta_session_free(s);
}

static void mta_session_io_cb(struct io *io, enum io_event event, void *arg)
{
	struct mta_session *s = arg;

	switch (event) {
	case IO_DATA:
		mta_session_read(s);
		return;
	case IO_DRAINED:
		if (s->state == MTA_STATE_BODY)
			mta_session_pump_body(s);
		return;
	case IO_CONNECTED:
		mta_session_enter_state(s, MTA_STATE_GREETING);
		io_set_timeout(io, s->mta->env.cfg->outbound_command_timeout);
		return;
	case IO_READY:
		mta_session_tls_ready(s);
		return;
	case IO_TIMEOUT:
	case IO_ERROR:
	case IO_CLOSED:
		mta_session_lost(s, event);
		return;
	}
}
