/*
 * mta.c: the SMTP client; see mta.h.
 *
 * A connection walks the candidate hosts of its destination in order
 * (MX preference, then the next address): connect, greeting, EHLO, then
 * STARTTLS as the policy demands, EHLO again over TLS, and only then
 * transactions. Every reply is parsed by smtp_reply_feed(); commands sent
 * together (PIPELINING) queue the handlers of their replies in order.
 */
#include "smtp/mta.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/handle.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/dotstuff.h"
#include "policy/policy.h"
#include "smtp/mta_policy.h"
#include "smtp/smtp_reply.h"

#define MTA_MAX_SESSIONS 10  /* connections per destination */
#define MTA_IDLE_SECONDS 5   /* an idle connection waits this long for a task */
#define MTA_MAX_HOSTS 32     /* candidate addresses per destination */
#define MTA_MAX_PENDING 2200 /* replies awaited at once (a pipelined group) */
#define MTA_DATA_CHUNK 65536
#define MTA_POLICY_STATUS "4.7.5" /* RFC 3463: cryptographic failure */

struct mta_dest;

enum mta_state {
	MTA_STATE_RESOLVING,
	MTA_STATE_CONNECTING,
	MTA_STATE_GREETING,
	MTA_STATE_EHLO,
	MTA_STATE_HELO,
	MTA_STATE_STARTTLS,
	MTA_STATE_HANDSHAKE,
	MTA_STATE_READY,    /* no transaction */
	MTA_STATE_TXN,      /* MAIL/RCPT/DATA replies awaited */
	MTA_STATE_BODY,     /* streaming the message */
	MTA_STATE_BODY_END, /* waiting for the reply to the final dot */
	MTA_STATE_RSET,     /* a refused transaction is being reset */
	MTA_STATE_QUIT,
};

struct mta_host {
	char name[256];
	char addr[64];
	unsigned pref;
};

struct mta_session {
	struct mta *mta;
	struct mta_dest *dest;
	uint64_t handle;
	enum mta_state state;
	struct io *io; /* the connection to the current host */
	struct event *ev_idle;
	struct event *ev_free; /* the struct itself goes from the event loop */
	int closed;            /* callbacks higher on the stack must stop */

	struct mta_host hosts[MTA_MAX_HOSTS];
	unsigned n_hosts, cur;
	char last_error[512];   /* why the previous host failed */
	int policy_failed;      /* the last error was a TLS policy failure */
	int plaintext_fallback; /* "may": the handshake failed; retry without TLS */

	struct smtp_reply_parser parser;
	struct smtp_reply reply;
	int esmtp;
	int ext_pipelining, ext_starttls, ext_8bitmime, ext_dsn;
	uint64_t ext_size;
	int tls_active;
	char tls_desc[160];
	char peer[16];
	char relay[320];

	/* the task in progress */
	struct mta_task *task;
	unsigned expect_rcpt; /* RCPT replies still to come */
	unsigned rcpt_next;   /* index of the recipient whose reply comes next */
	unsigned accepted;    /* recipients the peer took */
	int mail_pending;     /* the MAIL reply is still to come */
	int mail_failed;      /* MAIL was refused: the RCPT replies do not count */
	int data_pending;     /* the DATA reply is still to come */
	uint64_t body_off;
	struct smtp_dotstuff dot;

	struct mta_session *next;
};

/* All tasks and connections for one domain. */
struct mta_dest {
	struct mta *mta;
	char domain[256];
	struct tls_policy policy;
	struct tls_route route; /* route.host "" = the domain's MX hosts */
	struct mta_task *queue, *queue_tail;
	struct mta_session *sessions;
	unsigned n_sessions;
	struct mta_dest *next;
};

struct mta {
	struct mta_env env;
	struct mta_dest *dests;
	struct handle_table sessions; /* connections waiting for DNS find theirs */
	int closing;
};

static void mta_session_free(struct mta_session *s);
static void mta_session_next_host(struct mta_session *s, const char *reason, int policy);
static void mta_session_host_failed(struct mta_session *s, const char *status, const char *reason,
                                    int policy);
static void mta_session_start_task(struct mta_session *s);
static void mta_session_io_cb(struct io *io, enum io_event event, void *arg);
static void mta_dest_kick(struct mta_dest *d);
static void mta_dest_remove(struct mta *m, struct mta_dest *d);

/* ---- tasks ------------------------------------------------------------ */

/* Gives every recipient still without an outcome OUTCOME and ST. */
static void mta_task_settle_status(struct mta_task *t, enum mta_outcome outcome,
                                   const struct delivery_status *st)
{
	unsigned i;

	for (i = 0; i < t->n_rcpts; i++) {
		struct mta_rcpt *r = &t->rcpts[i];
		if (r->status.enhanced[0] != '\0')
			continue;
		r->outcome = outcome;
		r->status = *st;
	}
}

/* The same for a reason of ours: the enhanced code STATUS and TEXT. */
static void mta_task_settle(struct mta_task *t, enum mta_outcome outcome, const char *status,
                            const char *text)
{
	struct delivery_status st;

	delivery_status_set(&st, status, 0, text);
	mta_task_settle_status(t, outcome, &st);
}

static void mta_task_finish(struct mta *m, struct mta_task *t)
{
	m->env.task_done(m->env.owner, t);
}

/* Fails every queued task of DEST with TEXT (the destination cannot be
 * reached: they would fail alike). */
static void mta_dest_fail_queued(struct mta_dest *d, enum mta_outcome outcome, const char *status,
                                 const char *text, const char *relay)
{
	struct mta_task *t;

	while ((t = d->queue) != NULL) {
		d->queue = t->next;
		strlcpy_checked(t->report.policy, tls_level_name(d->policy.level),
		                sizeof(t->report.policy));
		strlcpy_checked(t->report.relay, relay ? relay : "", sizeof(t->report.relay));
		mta_task_settle(t, outcome, status, text);
		mta_task_finish(d->mta, t);
	}
	d->queue_tail = NULL;
}

/* ---- output helpers ----------------------------------------------------- */

static void mta_send(struct mta_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void mta_send(struct mta_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	io_vprintf(s->io, fmt, ap);
	va_end(ap);
	io_write(s->io, "\r\n", 2);
}

/* "451 4.4.2 text" from a reply, for recipient outcomes. */
static void mta_reply_text(const struct smtp_reply *r, char *buf, size_t size)
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

/* ---- connecting ----------------------------------------------------------- */

static int mta_host_sockaddr(const struct mta_host *h, uint16_t port, struct sockaddr_storage *ss,
                             socklen_t *len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, h->addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		*len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, h->addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	return -1;
}

static uint16_t mta_dest_port(const struct mta_dest *d)
{
	const struct config *cfg = d->mta->env.cfg;

	return d->route.host[0] != '\0' ? d->route.port : cfg->outbound_port;
}

/* Opens a connection to the current candidate host. */
static void mta_session_connect(struct mta_session *s)
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
	s->io = io_new(s->mta->env.base, fd, mta_session_io_cb, s);
	io_set_timeout(s->io, cfg->outbound_connect_timeout);
	s->state = MTA_STATE_CONNECTING;
	smtp_reply_parser_init(&s->parser);
	s->tls_active = 0;
	s->tls_desc[0] = '\0';
	strlcpy_checked(s->peer, "none", sizeof(s->peer));
	if (io_connect(s->io, (struct sockaddr *)&ss, len) < 0) {
		snprintf(why, sizeof(why), "4.4.1 connect to %s: %s", s->relay, strerror(errno));
		mta_session_next_host(s, why, 0);
	}
}

/* Drops the current connection, if any. */
static void mta_session_disconnect(struct mta_session *s)
{
	io_free(&s->io);
}

/* 1 when the server is at a point of the dialog where it reads a command:
 * past the greeting, and not inside a TLS handshake that did not finish. */
static int mta_session_can_quit(const struct mta_session *s)
{
	if (s->io == NULL || s->state < MTA_STATE_GREETING)
		return 0;
	return s->state != MTA_STATE_HANDSHAKE || s->tls_active;
}

/* Leaves the current host after a policy failure: QUIT (RFC 5321 4.1.1.10),
 * then a clean close (close_notify when TLS is up); dropped outright when
 * the dialog is not at a command. */
static void mta_session_quit_host(struct mta_session *s)
{
	if (!mta_session_can_quit(s)) {
		mta_session_disconnect(s);
		return;
	}
	mta_send(s, "QUIT");
	io_close(&s->io);
}

/* The current host cannot be used for REASON: a TLS policy failure
 * (POLICY, MTA_POLICY_STATUS) or a host that cannot be reached (4.4.1). */
static void mta_session_next_host(struct mta_session *s, const char *reason, int policy)
{
	mta_session_host_failed(s, policy ? MTA_POLICY_STATUS : "4.4.1", reason, policy);
}

/* The current host cannot be used: try the next candidate, or, when none
 * is left, fail the task (and what else waits for this destination) with
 * the enhanced code STATUS and REASON. */
static void mta_session_host_failed(struct mta_session *s, const char *status, const char *reason,
                                    int policy)
{
	log_info("event=mta-host-failed domain=%s relay=%s reason=\"%s\"", s->dest->domain,
	         s->relay[0] ? s->relay : "none", reason);
	if (policy)
		mta_session_quit_host(s);
	else
		mta_session_disconnect(s);
	strlcpy_checked(s->last_error, reason, sizeof(s->last_error));
	s->policy_failed = policy;
	s->plaintext_fallback = 0;
	if (++s->cur < s->n_hosts) {
		mta_session_connect(s);
		return;
	}
	if (s->task != NULL) {
		mta_task_settle(s->task, MTA_TEMPFAIL, status, reason);
		mta_task_finish(s->mta, s->task);
		s->task = NULL;
	}
	mta_dest_fail_queued(s->dest, MTA_TEMPFAIL, status, reason, s->relay);
	mta_session_free(s);
}

/* ---- TLS ---------------------------------------------------------------- */

/* What the policy failure of this connection says to the sender. */
static void mta_policy_error(struct mta_session *s, char *buf, size_t size, const char *what)
{
	snprintf(buf, size, MTA_POLICY_STATUS " TLS required by policy '%s' for %s: %s",
	         tls_level_name(s->dest->policy.level), s->dest->domain, what);
}

/* The names the peer's certificate must carry at the verify level. */
static void mta_expected_names(struct mta_session *s, char *buf, size_t size)
{
	tls_policy_peer_names(&s->dest->policy, s->dest->domain, s->hosts[s->cur].name, buf, size);
}

/* After the handshake: is the peer authenticated, and does the policy
 * accept it? Fills s->peer; returns -1 with *why on a policy failure. */
static int mta_session_check_peer(struct mta_session *s, const struct io_tls_info *tls,
                                  char *why, size_t size)
{
	strlcpy_checked(s->peer, tls->verified ? "verified" : "untrusted", sizeof(s->peer));
	if (s->dest->policy.level != TLS_LEVEL_VERIFY && s->dest->policy.level != TLS_LEVEL_DANE)
		return 0;
	if (tls->verified)
		return 0;
	mta_policy_error(s, why, size, tls->reason);
	return -1;
}

/* Puts TLS under the connection. Anything the server sent before the
 * handshake is discarded (RFC 3207 4.2; the io drops it). */
static void mta_session_start_tls(struct mta_session *s)
{
	const struct config *cfg = s->mta->env.cfg;
	char names[1024], what[300], why[1024];
	const char *error;

	mta_expected_names(s, names, sizeof(names));
	smtp_reply_parser_init(&s->parser);
	s->state = MTA_STATE_HANDSHAKE;
	if (io_start_tls_client(s->io, s->mta->env.tls, s->hosts[s->cur].name, names,
	                        cfg->outbound_command_timeout, &error) < 0) {
		snprintf(what, sizeof(what), "TLS handshake failed: %s", error);
		mta_policy_error(s, why, sizeof(why), what);
		mta_session_next_host(s, why, 1);
		return;
	}
	io_set_timeout(s->io, cfg->outbound_command_timeout);
}

static void mta_session_tls_ready(struct mta_session *s)
{
	const struct io_tls_info *tls = io_tls_info(s->io);
	char why[1024];

	snprintf(s->tls_desc, sizeof(s->tls_desc), "%s/%s", tls->version, tls->cipher);
	s->tls_active = 1;
	if (mta_session_check_peer(s, tls, why, sizeof(why)) < 0) {
		mta_session_next_host(s, why, 1);
		return;
	}
	log_info("event=mta-tls domain=%s relay=%s tls=%s peer=%s", s->dest->domain, s->relay,
	         s->tls_desc, s->peer);
	s->state = MTA_STATE_EHLO;
	mta_send(s, "EHLO %s", s->mta->env.cfg->outbound_helo);
}

/* ---- the dialog before transactions -------------------------------------- */

static void mta_session_parse_ehlo(struct mta_session *s, const struct smtp_reply *r)
{
	const char *param;

	s->esmtp = 1;
	s->ext_pipelining = smtp_reply_has_extension(r, "PIPELINING", &param);
	s->ext_starttls = smtp_reply_has_extension(r, "STARTTLS", &param);
	s->ext_8bitmime = smtp_reply_has_extension(r, "8BITMIME", &param);
	s->ext_dsn = smtp_reply_has_extension(r, "DSN", &param);
	s->ext_size = smtp_reply_has_extension(r, "SIZE", &param) ? strtoull(param, NULL, 10) : 0;
}

/* EHLO was answered: start TLS if the policy wants it, else go ready. */
static void mta_session_after_ehlo(struct mta_session *s)
{
	enum tls_level level = s->dest->policy.level;
	char why[1024];

	if (s->tls_active || level == TLS_LEVEL_NONE || s->plaintext_fallback) {
		s->state = MTA_STATE_READY;
		mta_session_start_task(s);
		return;
	}
	if (!s->ext_starttls) {
		if (level == TLS_LEVEL_MAY) {
			s->state = MTA_STATE_READY;
			mta_session_start_task(s);
			return;
		}
		mta_policy_error(s, why, sizeof(why), "no STARTTLS offered");
		mta_session_next_host(s, why, 1);
		return;
	}
	s->state = MTA_STATE_STARTTLS;
	mta_send(s, "STARTTLS");
}

static void mta_session_on_reply(struct mta_session *s, const struct smtp_reply *r);

static void mta_session_on_greeting(struct mta_session *s, const struct smtp_reply *r)
{
	char text[600], why[700];

	if (r->code / 100 != 2) {
		mta_reply_text(r, text, sizeof(text));
		snprintf(why, sizeof(why), "4.4.1 %s refused to talk: %s", s->relay, text);
		mta_session_next_host(s, why, 0);
		return;
	}
	s->state = MTA_STATE_EHLO;
	mta_send(s, "EHLO %s", s->mta->env.cfg->outbound_helo);
}

static void mta_session_on_ehlo(struct mta_session *s, const struct smtp_reply *r)
{
	char text[600], why[700];

	if (r->code / 100 == 2) {
		mta_session_parse_ehlo(s, r);
		mta_session_after_ehlo(s);
		return;
	}
	if (r->code / 100 == 5 && !s->tls_active && s->dest->policy.level <= TLS_LEVEL_MAY) {
		/* An old server: HELO, no extensions. */
		s->state = MTA_STATE_HELO;
		mta_send(s, "HELO %s", s->mta->env.cfg->outbound_helo);
		return;
	}
	mta_reply_text(r, text, sizeof(text));
	snprintf(why, sizeof(why), "4.4.1 %s refused EHLO: %s", s->relay, text);
	mta_session_next_host(s, why, 0);
}

static void mta_session_on_starttls(struct mta_session *s, const struct smtp_reply *r)
{
	char text[600], refused[700], why[1024];

	if (r->code == 220) {
		mta_session_start_tls(s);
		return;
	}
	if (s->dest->policy.level == TLS_LEVEL_MAY) {
		s->state = MTA_STATE_READY;
		mta_session_start_task(s);
		return;
	}
	mta_reply_text(r, text, sizeof(text));
	snprintf(refused, sizeof(refused), "STARTTLS refused: %s", text);
	mta_policy_error(s, why, sizeof(why), refused);
	mta_session_next_host(s, why, 1);
}

/* ---- transactions ---------------------------------------------------------- */

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
		snprintf(params + o, sizeof(params) - o, " ENVID=%s", t->envid);
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

/* Takes the next task of the destination, or waits idle for one. */
static void mta_session_start_task(struct mta_session *s)
{
	struct mta_dest *d = s->dest;
	unsigned i;

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
	if (s->ext_size && s->task->body_len > s->ext_size) {
		char why[256];
		snprintf(why, sizeof(why),
		         "message size %" PRIu64 " exceeds %s's limit of %" PRIu64,
		         s->task->body_len, s->relay, s->ext_size);
		mta_task_settle(s->task, MTA_PERMFAIL, "5.3.4", why);
		mta_task_finish(s->mta, s->task);
		s->task = NULL;
		mta_session_start_task(s);
		return;
	}
	s->state = MTA_STATE_TXN;
	s->accepted = 0;
	s->rcpt_next = 0;
	s->mail_failed = 0;
	s->mail_pending = 1;
	s->expect_rcpt = s->task->n_rcpts;
	s->data_pending = 1;
	mta_session_send_mail(s);
	if (s->ext_pipelining) {
		for (i = 0; i < s->task->n_rcpts; i++)
			mta_session_send_rcpt(s, i);
		mta_send(s, "DATA");
	}
}

/* Fills in the report of the connection that carries the task. */
static void mta_session_report(struct mta_session *s)
{
	struct mta_report *rep = &s->task->report;

	strlcpy_checked(rep->relay, s->relay, sizeof(rep->relay));
	strlcpy_checked(rep->tls, s->tls_desc, sizeof(rep->tls));
	strlcpy_checked(rep->peer, s->tls_active ? s->peer : "none", sizeof(rep->peer));
	strlcpy_checked(rep->policy, tls_level_name(s->dest->policy.level), sizeof(rep->policy));
	rep->peer_dsn = s->ext_dsn;
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
	s->state = MTA_STATE_READY;
	mta_session_start_task(s);
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
	if (!s->ext_pipelining) {
		mta_send(s, "RSET");
		s->expect_rcpt = 0;
		s->data_pending = 0;
		s->state = MTA_STATE_RSET; /* the RSET reply ends the task */
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
	if (s->ext_pipelining || s->mail_failed)
		return;
	if (s->expect_rcpt > 0) {
		mta_session_send_rcpt(s, s->rcpt_next);
		return;
	}
	if (s->accepted == 0) {
		mta_send(s, "RSET");
		s->data_pending = 0;
		s->state = MTA_STATE_RSET;
		return;
	}
	mta_send(s, "DATA");
}

/* Streams the message while the output buffer has room. */
static void mta_session_pump_body(struct mta_session *s)
{
	struct mta_task *t = s->task;
	char in[MTA_DATA_CHUNK], enc[2 * MTA_DATA_CHUNK + 8];
	size_t n;

	while (s->state == MTA_STATE_BODY && !io_output_full(s->io)) {
		uint64_t left = t->body_len - s->body_off;
		ssize_t got;

		if (left == 0) {
			n = smtp_dotstuff_finish(&s->dot, enc);
			io_write(s->io, enc, n);
			s->state = MTA_STATE_BODY_END;
			return;
		}
		got = pread(t->fd, in, left < sizeof(in) ? (size_t)left : sizeof(in),
		            (off_t)(t->header_len + s->body_off));
		if (got <= 0) {
			char why[300];
			snprintf(why, sizeof(why), "4.3.0 cannot read the queued message: %s",
			         got < 0 ? strerror(errno) : "short file");
			mta_session_report(s);
			mta_task_settle(t, MTA_TEMPFAIL, "4.3.0", why);
			mta_task_finish(s->mta, t);
			s->task = NULL;
			mta_session_free(s); /* mid-DATA: the connection cannot go on */
			return;
		}
		s->body_off += (uint64_t)got;
		n = smtp_dotstuff_feed(&s->dot, in, (size_t)got, enc);
		io_write(s->io, enc, n);
	}
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
			s->state = MTA_STATE_BODY_END;
		return;
	}
	if (r->code != 354) {
		mta_session_task_done(s, r);
		return;
	}
	s->state = MTA_STATE_BODY;
	s->body_off = 0;
	smtp_dotstuff_init(&s->dot);
	mta_session_pump_body(s);
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
	mta_session_on_data(s, r);
}

/* ---- replies --------------------------------------------------------------- */

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
	case MTA_STATE_BODY_END:
		mta_session_on_body_end(s, r);
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

/* The handshake failed (EVENT): at "may" the same host again without
 * TLS, otherwise a policy failure. */
static void mta_session_handshake_failed(struct mta_session *s, enum io_event event)
{
	const char *err = event == IO_ERROR ? io_error(s->io) : "handshake failed";
	char why[1024], full[1100];

	if (s->dest->policy.level == TLS_LEVEL_MAY) {
		/* As Postfix: at "may", a failed handshake is retried in
		 * plaintext with the same host. */
		log_info("event=mta-tls-failed domain=%s relay=%s reason=\"%s\" "
		         "fallback=plaintext",
		         s->dest->domain, s->relay, err);
		mta_session_disconnect(s);
		s->plaintext_fallback = 1;
		mta_session_connect(s);
		return;
	}
	snprintf(why, sizeof(why), "TLS handshake failed: %s", err);
	mta_policy_error(s, full, sizeof(full), why);
	mta_session_next_host(s, full, 1);
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
		s->state = MTA_STATE_GREETING;
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

/* ---- sessions and destinations ------------------------------------------ */

static void mta_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mta_session *s = arg;

	if (s->task != NULL || s->state != MTA_STATE_READY)
		return;
	mta_send(s, "QUIT");
	s->state = MTA_STATE_QUIT;
}

static void mta_dest_remove_session(struct mta_dest *d, struct mta_session *s)
{
	struct mta_session **pp;

	for (pp = &d->sessions; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			d->n_sessions--;
			return;
		}
}

static void mta_session_release_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mta_session *s = arg;

	event_free(s->ev_free);
	free(s);
}

static void mta_session_free(struct mta_session *s)
{
	struct mta *m = s->mta;
	struct mta_dest *d = s->dest;

	if (s->closed)
		return;
	if (s->task != NULL) {
		mta_task_settle(s->task, MTA_TEMPFAIL, "4.4.2", "4.4.2 delivery interrupted");
		mta_task_finish(m, s->task);
	}
	/* QUIT answered, or nothing more to say: close_notify for TLS */
	if (m->closing)
		io_free(&s->io);
	else
		io_close(&s->io);
	event_free(s->ev_idle);
	s->ev_idle = NULL;
	handle_table_remove(&m->sessions, s->handle);
	mta_dest_remove_session(d, s);
	s->closed = 1;
	s->task = NULL;
	/* Handlers that led here may still read the struct on their way out:
	 * it is freed from the event loop, not now. */
	if (m->closing) {
		event_free(s->ev_free);
		free(s);
	} else {
		event_active(s->ev_free, 0, 0);
	}
	/* Tasks left waiting get a new connection; a destination with neither
	 * goes (one per domain ever seen would otherwise pile up). */
	if (m->closing)
		return;
	if (d->queue != NULL)
		mta_dest_kick(d);
	else if (d->n_sessions == 0)
		mta_dest_remove(m, d);
}

/* Asks the lookup role for the candidate hosts of a new connection. */
static void mta_session_resolve(struct mta_session *s)
{
	const struct tls_route *route = &s->dest->route;

	s->state = MTA_STATE_RESOLVING;
	if (route->host[0] != '\0')
		s->mta->env.resolve(s->mta->env.owner, s->handle, route->host, route->mx_lookup);
	else
		s->mta->env.resolve(s->mta->env.owner, s->handle, s->dest->domain, 1);
}

static void mta_session_new(struct mta_dest *d)
{
	struct mta *m = d->mta;
	struct mta_session *s = xcalloc(1, sizeof(*s));

	s->handle = handle_table_add(&m->sessions, s);
	s->mta = m;
	s->dest = d;
	s->ev_idle = evtimer_new(m->env.base, mta_idle_cb, s);
	s->ev_free = event_new(m->env.base, -1, 0, mta_session_release_cb, s);
	s->next = d->sessions;
	d->sessions = s;
	d->n_sessions++;
	mta_session_resolve(s);
}

/* Gives waiting tasks to idle connections, and opens a new connection
 * when more tasks wait than connections are being set up. */
static void mta_dest_kick(struct mta_dest *d)
{
	unsigned waiting = 0, opening = 0;
	struct mta_session *s;
	struct mta_task *t;

	for (s = d->sessions; s != NULL && d->queue != NULL; s = s->next)
		if (s->state == MTA_STATE_READY && s->task == NULL)
			mta_session_start_task(s);
	for (t = d->queue; t != NULL; t = t->next)
		waiting++;
	for (s = d->sessions; s != NULL; s = s->next)
		opening += s->state < MTA_STATE_READY;
	if (waiting > opening && d->n_sessions < MTA_MAX_SESSIONS)
		mta_session_new(d);
}

static void mta_dest_remove(struct mta *m, struct mta_dest *d)
{
	struct mta_dest **pp;

	for (pp = &m->dests; *pp != NULL; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			free(d);
			return;
		}
}

static struct mta_dest *mta_dest_get(struct mta *m, const char *domain)
{
	struct outbound_policy view;
	struct mta_dest *d;

	for (d = m->dests; d != NULL; d = d->next)
		if (strcmp(d->domain, domain) == 0)
			return d;
	d = xcalloc(1, sizeof(*d));
	d->mta = m;
	strlcpy_checked(d->domain, domain, sizeof(d->domain));
	mta_policy_view(m->env.cfg, &view);
	tls_policy_for_domain(&view, domain, &d->policy);
	tls_route_for_domain(&view, domain, &d->route);
	mta_policy_view_free(&view);
	d->next = m->dests;
	m->dests = d;
	return d;
}

void mta_submit(struct mta *m, struct mta_task *task)
{
	struct mta_dest *d = mta_dest_get(m, task->domain);

	task->next = NULL;
	if (d->queue_tail != NULL)
		d->queue_tail->next = task;
	else
		d->queue = task;
	d->queue_tail = task;
	mta_dest_kick(d);
}

/* Takes the lookup role's answer (IMSG_LOOKUP_HOSTS_RESULT, decoded by
 * the dispatcher). */
void mta_resolved(struct mta *m, uint64_t handle, const struct proto_lookup_hosts_result *res)
{
	struct mta_session *s = handle_table_get(&m->sessions, handle);
	const char *error = res->error;
	char status_text[400];
	uint32_t status = res->status, i;

	if (s == NULL || s->state != MTA_STATE_RESOLVING)
		return;
	for (i = 0; i < res->n_hosts && s->n_hosts < MTA_MAX_HOSTS; i++) {
		struct mta_host *h = &s->hosts[s->n_hosts++];
		strlcpy_checked(h->name, res->hosts[i].name, sizeof(h->name));
		h->pref = res->hosts[i].pref;
		strlcpy_checked(h->addr, res->hosts[i].addr, sizeof(h->addr));
	}
	if (status == LOOKUP_HOSTS_OK && s->n_hosts > 0) {
		s->cur = 0;
		mta_session_connect(s);
		return;
	}
	if (status == LOOKUP_HOSTS_NULL_MX || status == LOOKUP_HOSTS_NXDOMAIN) {
		snprintf(status_text, sizeof(status_text), "%s %s",
		         status == LOOKUP_HOSTS_NULL_MX ? "5.1.10" : "5.1.2", error);
		mta_dest_fail_queued(s->dest, MTA_PERMFAIL,
		                     status == LOOKUP_HOSTS_NULL_MX ? "5.1.10" : "5.1.2", status_text,
		                     NULL);
		mta_session_free(s);
		return;
	}
	snprintf(status_text, sizeof(status_text), "4.4.3 %s",
	         error[0] ? error : "host lookup failed");
	mta_dest_fail_queued(s->dest, MTA_TEMPFAIL, "4.4.3", status_text, NULL);
	mta_session_free(s);
}

/* ---- the whole ------------------------------------------------------------ */

struct mta *mta_new(const struct mta_env *env, const char **error_r)
{
	struct mta *m;

	if (env->tls == NULL) {
		*error_r = "no TLS client context";
		return NULL;
	}
	m = xcalloc(1, sizeof(*m));
	m->env = *env;
	return m;
}

void mta_free(struct mta **mp)
{
	struct mta *m = *mp;
	struct mta_dest *d, *dnext;

	if (m == NULL)
		return;
	*mp = NULL;
	m->closing = 1;
	for (d = m->dests; d != NULL; d = dnext) {
		dnext = d->next;
		while (d->sessions != NULL)
			mta_session_free(d->sessions);
		mta_dest_fail_queued(d, MTA_TEMPFAIL, "4.3.2", "4.3.2 delivery process stopping",
		                     NULL);
		free(d);
	}
	handle_table_free(&m->sessions);
	free(m);
}

unsigned mta_busy(const struct mta *m)
{
	const struct mta_dest *d;
	unsigned n = 0;

	for (d = m->dests; d != NULL; d = d->next)
		n += d->n_sessions + (d->queue != NULL);
	return n;
}
