/*
 * smtp_session.c: the SMTP server session's life cycle (see smtp_session.h):
 * smtp_session_new() and its end, the io callback and its events, the
 * input loop that feeds commands to the command table (smtp_command.c) and
 * message text to DATA (smtp_data.c) and BDAT (smtp_bdat.c), the replies and deadlines, TLS, and
 * the steps of the AUTH sub-machine (smtp_auth.h) carried out. Called by
 * the SMTP role's listener; what the session's files share is
 * smtp_session_private.h.
 *
 * Input flows through two pure parsers (smtp_parse.h): the line reader for
 * commands and the end-of-data machine for DATA. Replies go to the
 * connection's output (lib/io.h) and leave when the input at hand has been
 * handled, which batches replies to pipelined commands.
 */
#include "smtp/smtp_session.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "conf/config.h"
#include "lib/io.h"
#include "lib/log.h"
#include "proto/metrics.h"
#include "lib/util.h"
#include "mail/envelope.h"
#include "smtp/smtp_parse.h"
#include "smtp/smtp_session_private.h"

#define SMTP_AUTH_LINE_MAX SMTP_AUTH_RESPONSE_MAX /* RFC 4954 4 */

static void smtp_session_free(struct smtp_session *s);
static void smtp_session_auth_continue(struct smtp_session *s, const char *line, size_t len);
static void smtp_auth_delay_cb(evutil_socket_t fd, short what, void *arg);

/* ---- replies ----------------------------------------------------------------- */

static void smtp_reply_v(struct smtp_session *s, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void smtp_reply_v(struct smtp_session *s, const char *fmt, va_list ap)
{
	io_vprintf(s->io, fmt, ap);
	io_write(s->io, "\r\n", 2);
}

/* Queues a reply line (CRLF added). */
__attribute__((format(printf, 2, 3))) void smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	smtp_reply_v(s, fmt, ap);
	va_end(ap);
}

/* A reply that counts as a client error; too many of them end the session
 * (a bound on what a misbehaving client can cost us). */
__attribute__((format(printf, 2, 3))) void smtp_reply_error(struct smtp_session *s, const char *fmt,
                                                            ...)
{
	va_list ap;

	va_start(ap, fmt);
	smtp_reply_v(s, fmt, ap);
	va_end(ap);
	if (++s->errors >= s->env->cfg->limits.errors) {
		smtp_reply(s, "421 4.7.0 %s Too many errors, closing connection",
		           s->env->cfg->hostname);
		log_info("event=too-many-errors session=%s errors=%u", s->id, s->errors);
		s->state = SMTP_STATE_CLOSING;
	}
}

/* The session ends once the replies queued so far have left, within
 * IO_CLOSE_SECONDS: its place under [limits] goes back now (ending), so a
 * client that reads none of them must not keep the connection open for
 * command_timeout outside every limit. */
void smtp_close_after_reply(struct smtp_session *s)
{
	s->state = SMTP_STATE_CLOSING;
	io_pause(s->io);
	smtp_deadline_set(s, "close", IO_CLOSE_SECONDS);
	if (s->env->ending != NULL)
		s->env->ending(s->env->owner, s->handle);
}

/* ---- deadlines --------------------------------------------------------------- */

/* A deadline that holds whatever the client sends, SECONDS from now (0: at
 * once, from the event loop): WHAT names it in the log when it fires. */
void smtp_deadline_set(struct smtp_session *s, const char *what, unsigned seconds)
{
	s->deadline = what;
	io_set_deadline(s->io, seconds);
}

/* Lifts the deadline, if one is set. */
void smtp_deadline_clear(struct smtp_session *s)
{
	if (s->deadline != NULL && s->io != NULL)
		io_clear_deadline(s->io);
	s->deadline = NULL;
}

/* ---- the transaction --------------------------------------------------------- */

/* Forgets the transaction (RSET, EHLO, STARTTLS, end of DATA). An open
 * spool file is abandoned and the queue told to remove it. */
void smtp_transaction_reset(struct smtp_session *s)
{
	if (s->queue_id[0] != '\0') {
		s->env->queue_abort(s->env->owner, s->handle, s->queue_id);
		s->queue_id[0] = '\0';
	}
	smtp_data_release(s);
	envelope_free(&s->envelope);
	envelope_init(&s->envelope);
	s->declared_size = 0;
	smtp_auth_header_reset(&s->auth);
	if (s->tls_required_on)
		header_scan_free(&s->tls_required);
	s->tls_required_on = 0;
	s->bdat_active = 0;
	s->first_rcpt_display[0] = '\0';
	if (s->state == SMTP_STATE_MAIL || s->state == SMTP_STATE_DATA)
		s->state = SMTP_STATE_READY;
}

/* ---- AUTH: the sub-machine's steps, carried out ------------------------------ */

/* Does what a step of the AUTH sub-machine asks (smtp_auth.h): its reply,
 * then a credential check, a delay or the close; then wipes OUT. Reading
 * the next command is left to the caller. */
static void smtp_session_auth_perform(struct smtp_session *s, struct smtp_auth_out *out)
{
	struct timeval tv = {out->delay_ms / 1000, (out->delay_ms % 1000) * 1000};

	if (out->reply[0] != '\0' && out->is_error)
		smtp_reply_error(s, "%s", out->reply);
	else if (out->reply[0] != '\0')
		smtp_reply(s, "%s", out->reply);
	switch (out->next) {
	case SMTP_AUTH_NEXT_NONE:
		break;
	case SMTP_AUTH_NEXT_CHECK:
		s->wait = SMTP_WAIT_AUTH;
		s->env->auth_check(s->env->owner, s->handle, out->user, out->password);
		break;
	case SMTP_AUTH_NEXT_DELAY:
		s->wait = SMTP_WAIT_AUTH; /* no command is read meanwhile */
		if (s->ev_auth_delay == NULL)
			s->ev_auth_delay = evtimer_new(s->env->base, smtp_auth_delay_cb, s);
		evtimer_add(s->ev_auth_delay, &tv);
		break;
	case SMTP_AUTH_NEXT_CLOSE:
		smtp_reply(s, "%s", out->close_reply);
		smtp_close_after_reply(s);
		break;
	}
	smtp_auth_out_wipe(out);
}

void smtp_cmd_auth(struct smtp_session *s, const char *arg)
{
	struct smtp_auth_out out;
	const struct smtp_auth_facts facts = {
	    .tls_active = s->tls_active,
	    .greeted = s->state != SMTP_STATE_CONNECTED,
	    .in_transaction = s->state == SMTP_STATE_MAIL,
	};

	smtp_auth_start(&s->auth, &facts, arg, &out);
	smtp_session_auth_perform(s, &out);
}

/* A line while an AUTH exchange waits for the client's response. */
static void smtp_session_auth_continue(struct smtp_session *s, const char *line, size_t len)
{
	struct smtp_auth_out out;

	smtp_auth_continue(&s->auth, line, len, &out);
	smtp_session_auth_perform(s, &out);
}

/* A failed login's delay is over: its 535, and perhaps the end. */
static void smtp_auth_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;
	struct smtp_auth_out out;

	s->wait = SMTP_WAIT_NONE;
	smtp_auth_delay_over(&s->auth, &out);
	smtp_session_auth_perform(s, &out);
	if (out.next != SMTP_AUTH_NEXT_CLOSE)
		smtp_session_process(s);
}

void smtp_session_auth_done(struct smtp_session *s, int ok, int by_certificate, const char *user,
                            const char *const *owned, unsigned n_owned)
{
	struct smtp_auth_out out;

	if (s->wait != SMTP_WAIT_AUTH)
		return;
	s->wait = SMTP_WAIT_NONE;
	smtp_auth_result(&s->auth, ok, by_certificate, user, owned, n_owned, &out);
	smtp_session_auth_perform(s, &out);
	if (out.next != SMTP_AUTH_NEXT_DELAY)
		smtp_session_process(s);
}

/* ---- input ------------------------------------------------------------------- */

/* Takes the next command line from IN; returns 1 when one was handled, 0
 * when more input is needed. */
static int smtp_session_read_command(struct smtp_session *s, struct evbuffer *in)
{
	struct evbuffer_iovec v;
	const char *line;
	size_t consumed, len;
	enum smtp_line_status st;

	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
		return 0;
	st = smtp_line_feed(&s->lines, v.iov_base, v.iov_len, &consumed, &line, &len);
	evbuffer_drain(in, consumed);
	switch (st) {
	case SMTP_LINE_NEED_MORE:
		return evbuffer_get_length(in) > 0;
	case SMTP_LINE_OK:
		if (s->auth.step != SMTP_AUTH_IDLE) {
			smtp_session_auth_continue(s, line, len);
			return 1;
		}
		/* Readers on AUTH listeners take the longer AUTH lines (RFC 4954
		 * 4); other commands keep the RFC 5321 bound. */
		if (len + 2 > s->env->cfg->limits.command_line &&
		    (len < 5 || strncasecmp(line, "AUTH ", 5) != 0)) {
			smtp_reply_error(s, "500 5.5.2 Error: line too long (limit %zu octets)",
			                 s->env->cfg->limits.command_line);
			return 1;
		}
		smtp_session_command(s, line, len);
		return 1;
	case SMTP_LINE_TOO_LONG:
		/* inside an AUTH exchange the response was too long: the exchange
		 * ends (RFC 4954 4), and the limit named is the reader's own */
		if (s->auth.step != SMTP_AUTH_IDLE) {
			smtp_auth_abort(&s->auth);
			smtp_reply_error(s, "501 5.5.2 Error: authentication response too long "
			                    "(limit %zu octets)",
			                 s->lines.max);
			return 1;
		}
		smtp_reply_error(s, "500 5.5.2 Error: line too long (limit %zu octets)",
		                 s->lines.max);
		return 1;
	case SMTP_LINE_BARE_LF:
	case SMTP_LINE_BARE_CR:
		/* As Postfix: a bare line end in a command is a client that does
		 * not speak SMTP, or a smuggling attempt. */
		smtp_reply(s, "500 5.5.2 Error: bare <%s> received; only <CR><LF> ends a line",
		           st == SMTP_LINE_BARE_LF ? "LF" : "CR");
		log_info("event=bare-newline session=%s kind=%s", s->id,
		         st == SMTP_LINE_BARE_LF ? "LF" : "CR");
		smtp_close_after_reply(s);
		return 1;
	}
	return 0;
}

/* Handles buffered input until it runs out or the session must wait: for
 * another role, or for its replies to leave (a client that pipelines
 * without reading makes no more of them than IO_OUTPUT_MAX). */
void smtp_session_process(struct smtp_session *s)
{
	struct evbuffer *in;

	if (s->io == NULL)
		return;
	in = io_input(s->io);
	while (s->wait == SMTP_WAIT_NONE) {
		if (s->state == SMTP_STATE_CLOSING || s->state == SMTP_STATE_TLS)
			break;
		if (io_output_full(s->io))
			break;
		/* a chunk may end without input: BDAT 0, or all of it was here */
		if (s->state == SMTP_STATE_BDAT) {
			if (!smtp_session_read_bdat(s, in))
				break;
			smtp_bdat_chunk_end(s);
			continue;
		}
		if (evbuffer_get_length(in) == 0)
			break;
		if (s->state == SMTP_STATE_DATA) {
			if (smtp_session_read_data(s, in))
				smtp_data_end(s);
			continue;
		}
		if (!smtp_session_read_command(s, in))
			break;
	}
	if (s->state == SMTP_STATE_CLOSING)
		io_pause(s->io);
}

/* ---- TLS --------------------------------------------------------------------- */

/* Puts TLS under the session. RFC 3207 4.2: whatever the client sent
 * before the handshake is discarded (the io drops it), and the session
 * forgets all it knew (smtp_session_tls_ready). */
static int smtp_session_start_tls(struct smtp_session *s)
{
	unsigned listener = (unsigned)(s->listener - s->env->cfg->listeners);
	const char *why;

	smtp_line_reader_reset(&s->lines);
	s->state = SMTP_STATE_TLS;
	s->tls_started = 1;
	smtp_deadline_clear(s);
	if (io_start_tls_server(s->io, s->env->tls, listener,
	                        s->env->cfg->limits.tls_handshake_timeout, &why) < 0) {
		log_info("event=tls-error session=%s reason=\"%s\"", s->id, why);
		return -1;
	}
	return 0;
}

/* A client certificate that verified against the listener's client_ca
 * logs in the user it names, once the lookup role knows that user. */
static void smtp_session_client_certificate(struct smtp_session *s, const struct io_tls_info *tls)
{
	char user[ENVELOPE_ADDR_MAX], v[ENVELOPE_ADDR_MAX + 8];

	if (s->listener->client_ca[0] == '\0')
		return;
	if (tls->identity[0] == '\0') {
		log_info("event=client-certificate session=%s result=%s", s->id,
		         tls->peer_certificate ? "untrusted" : "none");
		return;
	}
	strlcpy_checked(user, tls->identity, sizeof(user));
	log_info("event=client-certificate session=%s result=verified identity=%s", s->id,
	         log_value(user, v, sizeof(v)));
	s->wait = SMTP_WAIT_AUTH;
	s->env->auth_check(s->env->owner, s->handle, user, NULL);
}

/* The handshake is done: note what was negotiated, start afresh. */
static void smtp_session_tls_ready(struct smtp_session *s)
{
	const struct io_tls_info *tls = io_tls_info(s->io);
	char v[300];

	s->tls_active = 1;
	strlcpy_checked(s->tls_version, tls->version, sizeof(s->tls_version));
	strlcpy_checked(s->tls_cipher, tls->cipher, sizeof(s->tls_cipher));
	s->tls_bits = tls->bits;
	log_info(s->listener->tls == LISTENER_TLS_IMPLICIT
	             ? "event=tls session=%s version=%s cipher=%s bits=%d sni=%s resumed=%s"
	             : "event=starttls session=%s version=%s cipher=%s bits=%d sni=%s resumed=%s",
	         s->id, s->tls_version, s->tls_cipher, s->tls_bits,
	         tls->sni[0] ? log_value(tls->sni, v, sizeof(v)) : "none",
	         tls->resumed ? "yes" : "no");
	smtp_transaction_reset(s);
	s->helo[0] = '\0';
	s->esmtp = 0;
	s->state = SMTP_STATE_CONNECTED;
	if (s->listener->tls == LISTENER_TLS_IMPLICIT)
		smtp_reply(s, "220 %s ESMTP sealmail", s->env->cfg->hostname);
	smtp_deadline_set(s, "helo", s->env->cfg->limits.helo_timeout);
	smtp_session_client_certificate(s, tls);
}

/* ---- connection events ------------------------------------------------------- */

/* Output left: a last reply or the 220 before TLS is out, or the input
 * held back while the output was full can be handled now. */
static void smtp_session_drained(struct smtp_session *s)
{
	if (io_output_length(s->io) > 0) {
		smtp_session_process(s);
		return;
	}
	if (s->state == SMTP_STATE_CLOSING) {
		smtp_session_free(s);
		return;
	}
	if (s->state == SMTP_STATE_TLS && !s->tls_started) {
		if (smtp_session_start_tls(s) < 0)
			smtp_session_free(s);
		return;
	}
	smtp_session_process(s);
}

static void smtp_session_timeout(struct smtp_session *s)
{
	log_info("event=timeout session=%s state=%d what=%s", s->id, s->state,
	         s->state == SMTP_STATE_TLS && !s->tls_active ? "handshake"
	         : s->deadline                                ? s->deadline
	                                                      : "idle");
	if (s->state != SMTP_STATE_TLS && s->state != SMTP_STATE_CLOSING) {
		smtp_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->env->cfg->hostname);
		smtp_close_after_reply(s);
		io_set_timeout(s->io, 10);
		return;
	}
	io_free(&s->io); /* nothing more will leave */
	smtp_session_free(s);
}

static void smtp_session_io_cb(struct io *io, enum io_event event, void *arg)
{
	struct smtp_session *s = arg;

	metrics_tls_event(s->listener->metrics_index, io, event, s->tls_started && !s->tls_active);
	switch (event) {
	case IO_DATA:
		smtp_session_process(s);
		return;
	case IO_DRAINED:
		smtp_session_drained(s);
		return;
	case IO_READY:
		smtp_session_tls_ready(s);
		return;
	case IO_TIMEOUT:
		smtp_session_timeout(s);
		return;
	case IO_ERROR:
		if (s->state == SMTP_STATE_TLS && !s->tls_active)
			log_info("event=tls-error session=%s reason=\"%s\"", s->id, io_error(io));
		io_free(&s->io);
		smtp_session_free(s);
		return;
	case IO_CONNECTED:
	case IO_CLOSED:
		smtp_session_free(s);
		return;
	}
}

/* ---- life cycle -------------------------------------------------------------- */

struct smtp_session *smtp_session_new(const struct smtp_env *env, const struct config_listener *l,
                                      int fd, const struct sockaddr *sa, socklen_t salen,
                                      uint64_t handle)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));

	s->env = env;
	s->listener = l;
	s->handle = handle;
	s->spool_fd = -1;
	random_hex_id(s->id, sizeof(s->id));
	sockaddr_describe(sa, s->client, sizeof(s->client), s->client_port, sizeof(s->client_port));
	smtp_auth_init(&s->auth, env->cfg, l, s->id, s->client);
	s->trusted = config_is_trusted_client(env->cfg, sa);
	envelope_init(&s->envelope);
	smtp_line_reader_init(&s->lines,
	                      l->auth == LISTENER_AUTH_OPTIONAL || l->auth == LISTENER_AUTH_REQUIRED
	                          ? SMTP_AUTH_LINE_MAX
	                          : env->cfg->limits.command_line);
	if (sa == NULL || sa->sa_family == AF_UNIX) /* no address to name, as Received-TLS: says */
		log_info("event=connect session=%s client=local listener=%s", s->id, l->name);
	else
		log_info("event=connect session=%s client=%s:%s listener=%s", s->id, s->client,
		         s->client_port, l->name);
	s->io = io_new(env->base, fd, smtp_session_io_cb, s);
	io_set_timeout(s->io, env->cfg->limits.command_timeout);
	if (l->tls == LISTENER_TLS_IMPLICIT) {
		if (env->tls == NULL || smtp_session_start_tls(s) < 0) {
			smtp_session_free(s);
			return NULL;
		}
		return s;
	}
	smtp_reply(s, "220 %s ESMTP sealmail", env->cfg->hostname);
	smtp_deadline_set(s, "helo", env->cfg->limits.helo_timeout);
	return s;
}

void smtp_session_set_local(struct smtp_session *s, unsigned uid, const char *name)
{
	s->local = 1;
	s->local_uid = uid;
	/* only a plain login name goes into the Received: header */
	if (strlen(name) < sizeof(s->local_user) && name[strspn(name, "abcdefghijklmnopqrstuvwxyz"
	                                                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                                              "0123456789._-$")] == '\0')
		strlcpy_checked(s->local_user, name, sizeof(s->local_user));
	s->trusted = 1;
	snprintf(s->client, sizeof(s->client), "127.0.0.1");
	snprintf(s->client_port, sizeof(s->client_port), "uid%u", uid % 100000);
	log_info("event=local-submission session=%s uid=%u", s->id, uid);
}

static void smtp_session_free(struct smtp_session *s)
{
	log_info("event=disconnect session=%s client=%s messages=%u tls=%s%s%s errors=%u", s->id,
	         s->local ? "local" : s->client, s->messages, s->tls_active ? s->tls_version : "none",
	         s->tls_active ? "/" : "", s->tls_active ? s->tls_cipher : "", s->errors);
	smtp_transaction_reset(s);
	io_close(&s->io); /* what is still queued leaves, then close_notify */
	smtp_line_reader_free(&s->lines);
	envelope_free(&s->envelope);
	if (s->ev_auth_delay != NULL)
		event_free(s->ev_auth_delay);
	smtp_auth_free(&s->auth);
	s->env->closed(s->env->owner, s->handle);
	free(s);
}
