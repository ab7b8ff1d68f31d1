/*
 * pop3_session.c: the POP3 session's life cycle (see pop3_session.h):
 * pop3_session_new() and its end, the io callback and its events, the
 * input loop that feeds command lines to the command table
 * (pop3_command.c), the replies, the timeouts, STLS's switch to TLS, and
 * the routing of the lookup role's and the store's answers to the step
 * that waits for them (pop3_maildrop.c, pop3_retr.c). Called by the
 * dispatcher (src/daemon/).
 *
 * Timeouts: before login the session has cfg->imap.login_timeout in all
 * (a deadline that holds whatever the client sends) and as idle time;
 * after it cfg->imap.pop3_timeout of idle time (RFC 1939 3: at least ten
 * minutes). A timeout, like a dropped connection, deletes nothing.
 */
#include "pop3/pop3_session.h"

#include <event2/buffer.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/io.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/util.h"
#include "pop3/pop3_session_private.h"
#include "proto/metrics.h"
#include "proto/lookup.h"
#include "proto/store.h"

static void pop3_session_free(struct pop3_session *s, const char *reason);

/* ---- replies ----------------------------------------------------------------- */

static void pop3_reply_v(struct pop3_session *s, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void pop3_reply_v(struct pop3_session *s, const char *fmt, va_list ap)
{
	io_vprintf(s->io, fmt, ap);
	io_write(s->io, "\r\n", 2);
}

__attribute__((format(printf, 2, 3))) void pop3_reply(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pop3_reply_v(s, fmt, ap);
	va_end(ap);
}

/* Too many bad commands in a row end the session: a bound on what a
 * client that does not speak POP3 can cost. */
__attribute__((format(printf, 2, 3))) void pop3_reply_bad(struct pop3_session *s, const char *fmt,
                                                          ...)
{
	va_list ap;

	va_start(ap, fmt);
	pop3_reply_v(s, fmt, ap);
	va_end(ap);
	if (++s->bad >= s->env->cfg->imap.bad_commands) {
		pop3_reply(s, "-ERR Too many bad commands, closing connection");
		log_info("event=pop3-too-many-errors session=%s errors=%u", s->id, s->bad);
		pop3_close_after_reply(s);
	}
}

/* With output queued, IO_DRAINED ends the session once it left (within
 * IO_CLOSE_SECONDS: a client that does not read cannot hold it); with
 * none, the deadline fires at once from the event loop. */
void pop3_close_after_reply(struct pop3_session *s)
{
	s->state = POP3_STATE_CLOSING;
	io_pause(s->io);
	io_set_deadline(s->io, io_output_length(s->io) > 0 ? IO_CLOSE_SECONDS : 0);
	if (s->env->ending != NULL)
		s->env->ending(s->env->owner, s->handle);
}

/* ---- the store --------------------------------------------------------------- */

void pop3_store_send(struct pop3_session *s, uint32_t type, struct ipc_writer *w)
{
	s->env->store_send(s->env->owner, s->handle, type, w, -1);
}

void pop3_store_failed(struct pop3_session *s, const char *why)
{
	log_warn("event=pop3-store-error session=%s reason=\"%s\"", s->id, why);
	if (s->state == POP3_STATE_CLOSING)
		return;
	if (s->wait != POP3_WAIT_NONE && s->wait != POP3_WAIT_SEND)
		pop3_reply(s, "-ERR [SYS/TEMP] Internal error, try again later");
	s->wait = POP3_WAIT_NONE;
	pop3_retr_release(s);
	pop3_close_after_reply(s);
}

/* The answers of the store, by what the session waits for; a reply of
 * another type is a broken store. */
void pop3_session_store_reply(struct pop3_session *s, uint32_t type, const void *data, size_t len,
                              int fd)
{
	enum pop3_wait w = s->wait;

	if (fd >= 0 && !(w == POP3_WAIT_MESSAGE && type == IMSG_STORE_FETCH_ITEM)) {
		close(fd);
		fd = -1;
	}
	if (type == IMSG_STORE_CHANGED || s->state == POP3_STATE_CLOSING)
		return; /* a POP3 maildrop does not change under the session; a
		           closing session wants nothing more */
	if ((w == POP3_WAIT_LOGIN || w == POP3_WAIT_EXPUNGE) && type == IMSG_STORE_RESULT)
		pop3_maildrop_result(s, data, len);
	else if (w == POP3_WAIT_SELECT && type == IMSG_STORE_SELECT_RESULT)
		pop3_maildrop_selected(s, data, len);
	else if ((w == POP3_WAIT_SCAN || w == POP3_WAIT_FLAGS) && type == IMSG_STORE_FETCH_ITEM)
		pop3_maildrop_item(s, data, len);
	else if ((w == POP3_WAIT_SCAN || w == POP3_WAIT_FLAGS) && type == IMSG_STORE_FETCH_DONE)
		pop3_maildrop_done(s, data, len);
	else if (w == POP3_WAIT_MESSAGE && type == IMSG_STORE_FETCH_ITEM)
		pop3_retr_item(s, data, len, fd);
	else if (w == POP3_WAIT_MESSAGE && type == IMSG_STORE_FETCH_DONE)
		pop3_retr_done(s, data, len);
	else {
		pop3_store_failed(s, "unexpected store message");
		return;
	}
	if (s->state != POP3_STATE_CLOSING && s->wait == POP3_WAIT_NONE)
		pop3_session_process(s);
}

/* ---- login ------------------------------------------------------------------- */

void pop3_session_auth_done(struct pop3_session *s, int ok, const char *user)
{
	char v[ENVELOPE_ADDR_MAX + 8];

	if (s->wait != POP3_WAIT_AUTH)
		return;
	s->wait = POP3_WAIT_NONE;
	if (ok == PROTO_AUTH_OK)
		METRICS_LISTENER_COUNT(s->listener->metrics_index, auth_successes);
	else if (ok != PROTO_AUTH_TEMPFAIL)
		METRICS_LISTENER_COUNT(s->listener->metrics_index, auth_failures);
	log_info("event=pop3-login session=%s client=%s user=%s method=%s result=%s", s->id,
	         s->client, log_value(ok == PROTO_AUTH_OK ? user : s->user, v, sizeof(v)), s->mech,
	         ok == PROTO_AUTH_OK         ? "ok"
	         : ok == PROTO_AUTH_TEMPFAIL ? "tempfail"
	                                     : "failed");
	if (ok == PROTO_AUTH_OK && strlcpy_checked(s->user, user, sizeof(s->user)) == 0) {
		pop3_maildrop_open(s);
		return;
	}
	s->user[0] = '\0';
	if (ok == PROTO_AUTH_TEMPFAIL)
		pop3_reply(s, "-ERR [SYS/TEMP] Temporary authentication failure, try again later");
	else
		pop3_reply(s, "-ERR [AUTH] Authentication failed");
	if (++s->auth_failures >= POP3_AUTH_FAILURES_MAX)
		pop3_close_after_reply(s);
	else
		pop3_session_process(s);
}

/* ---- input ------------------------------------------------------------------- */

/* Takes the next line from IN; returns 1 when one was handled, 0 when more
 * input is needed. */
static int pop3_session_read_line(struct pop3_session *s, struct evbuffer *in)
{
	struct evbuffer_iovec v;
	const char *line;
	size_t consumed, len;
	enum pop3_line_status st;

	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
		return 0;
	st = pop3_line_feed(&s->lines, v.iov_base, v.iov_len, &consumed, &line, &len);
	evbuffer_drain(in, consumed);
	switch (st) {
	case POP3_LINE_MORE:
		return evbuffer_get_length(in) > 0;
	case POP3_LINE_OK:
		if (s->sasl_pending)
			pop3_session_sasl_response(s, (char *)line, len);
		else
			pop3_session_command(s, (char *)line, len);
		pop3_line_reader_reset(&s->lines); /* the line may hold a password */
		return 1;
	case POP3_LINE_TOO_LONG:
		s->sasl_pending = 0;
		pop3_line_reader_set_max(&s->lines, POP3_LINE_MAX);
		pop3_reply_bad(s, "-ERR Line too long (limit %d octets)", POP3_LINE_MAX);
		return 1;
	case POP3_LINE_BARE_LF:
	case POP3_LINE_BARE_CR:
		/* as SMTP: a client that does not speak the protocol, or smuggling */
		pop3_reply(s, "-ERR Bare <%s> received; only <CR><LF> ends a line",
		           st == POP3_LINE_BARE_LF ? "LF" : "CR");
		log_info("event=pop3-bare-newline session=%s kind=%s", s->id,
		         st == POP3_LINE_BARE_LF ? "LF" : "CR");
		pop3_close_after_reply(s);
		return 1;
	}
	return 0;
}

/* Handles buffered input until it runs out or the session must wait: for
 * another role, or for its replies to leave (a client that pipelines
 * without reading makes no more of them than IO_OUTPUT_MAX). */
void pop3_session_process(struct pop3_session *s)
{
	struct evbuffer *in;

	if (s->io == NULL)
		return;
	in = io_input(s->io);
	while (s->wait == POP3_WAIT_NONE && evbuffer_get_length(in) > 0) {
		if (s->state == POP3_STATE_CLOSING || s->state == POP3_STATE_TLS ||
		    s->state == POP3_STATE_UPDATE || io_output_full(s->io))
			break;
		if (!pop3_session_read_line(s, in))
			break;
	}
	if (s->state == POP3_STATE_CLOSING)
		io_pause(s->io);
}

/* ---- TLS --------------------------------------------------------------------- */

/* RFC 2595 4: whatever the client sent before the handshake is discarded
 * (the io drops its input, the line reader its partial line). */
int pop3_session_start_tls(struct pop3_session *s)
{
	unsigned listener = (unsigned)(s->listener - s->env->cfg->listeners);
	const char *why;

	pop3_line_reader_reset(&s->lines);
	s->state = POP3_STATE_TLS;
	s->tls_started = 1;
	io_clear_deadline(s->io);
	if (io_start_tls_server(s->io, s->env->tls, listener,
	                        s->env->cfg->limits.tls_handshake_timeout, &why) < 0) {
		log_info("event=tls-error session=%s reason=\"%s\"", s->id, why);
		return -1;
	}
	return 0;
}

/* The handshake is done: AUTHORIZATION afresh (RFC 2595 4: the client's
 * earlier USER is forgotten); the greeting only on implicit TLS. */
static void pop3_session_tls_ready(struct pop3_session *s)
{
	const struct io_tls_info *tls = io_tls_info(s->io);

	s->tls_active = 1;
	strlcpy_checked(s->tls_version, tls->version, sizeof(s->tls_version));
	strlcpy_checked(s->tls_cipher, tls->cipher, sizeof(s->tls_cipher));
	log_info("event=pop3-tls session=%s version=%s cipher=%s bits=%d resumed=%s", s->id,
	         s->tls_version, s->tls_cipher, tls->bits, tls->resumed ? "yes" : "no");
	s->user[0] = '\0';
	s->state = POP3_STATE_AUTHORIZATION;
	if (s->listener->tls == LISTENER_TLS_IMPLICIT)
		pop3_reply(s, "+OK %s POP3 ready", s->env->cfg->hostname);
	io_set_deadline(s->io, s->env->cfg->imap.login_timeout);
}

/* ---- connection events ------------------------------------------------------- */

/* Output left: a last reply, STLS's +OK or a part of a message is out. */
static void pop3_session_drained(struct pop3_session *s)
{
	if (s->state == POP3_STATE_CLOSING) {
		if (io_output_length(s->io) == 0)
			pop3_session_free(s, "closed");
		return;
	}
	if (s->state == POP3_STATE_TLS && !s->tls_started) {
		if (io_output_length(s->io) == 0 && pop3_session_start_tls(s) < 0)
			pop3_session_free(s, "tls");
		return;
	}
	if (s->wait == POP3_WAIT_SEND && s->listing != POP3_LISTING_NONE)
		pop3_listing_continue(s);
	else if (s->wait == POP3_WAIT_SEND)
		pop3_retr_continue(s);
	if (s->wait == POP3_WAIT_NONE)
		pop3_session_process(s);
}

static void pop3_session_timeout(struct pop3_session *s)
{
	if (s->state == POP3_STATE_CLOSING) {
		int flushed = io_output_length(s->io) == 0;

		io_free(&s->io);
		pop3_session_free(s, flushed ? "closed" : "timeout");
		return;
	}
	log_info("event=pop3-timeout session=%s state=%d wait=%d", s->id, s->state, s->wait);
	if (s->state == POP3_STATE_TLS) {
		io_free(&s->io); /* nothing more will leave */
		pop3_session_free(s, "timeout");
		return;
	}
	pop3_retr_release(s);
	s->wait = POP3_WAIT_NONE;
	pop3_reply(s, "-ERR Disconnected for inactivity");
	pop3_close_after_reply(s);
}

static void pop3_session_io_cb(struct io *io, enum io_event event, void *arg)
{
	struct pop3_session *s = arg;

	metrics_tls_event(s->listener->metrics_index, io, event, s->tls_started && !s->tls_active);
	switch (event) {
	case IO_DATA:
		pop3_session_process(s);
		return;
	case IO_DRAINED:
		pop3_session_drained(s);
		return;
	case IO_READY:
		pop3_session_tls_ready(s);
		return;
	case IO_TIMEOUT:
		pop3_session_timeout(s);
		return;
	case IO_ERROR:
		if (s->state == POP3_STATE_TLS && !s->tls_active)
			log_info("event=tls-error session=%s reason=\"%s\"", s->id, io_error(io));
		io_free(&s->io);
		pop3_session_free(s, "error");
		return;
	case IO_CONNECTED:
	case IO_CLOSED:
		pop3_session_free(s, "dropped");
		return;
	}
}

/* ---- life cycle -------------------------------------------------------------- */

struct pop3_session *pop3_session_new(const struct pop3_env *env, const struct config_listener *l,
                                      int fd, const struct sockaddr *sa, socklen_t salen,
                                      uint64_t handle)
{
	struct pop3_session *s = xcalloc(1, sizeof(*s));

	(void)salen;
	s->env = env;
	s->listener = l;
	s->handle = handle;
	s->retr_fd = -1;
	s->mech = "USER";
	random_hex_id(s->id, sizeof(s->id));
	sockaddr_describe(sa, s->client, sizeof(s->client), s->client_port, sizeof(s->client_port));
	pop3_line_reader_init(&s->lines, POP3_LINE_MAX);
	log_info("event=pop3-connect session=%s client=%s:%s listener=%s", s->id, s->client,
	         s->client_port, l->name);
	s->io = io_new(env->base, fd, pop3_session_io_cb, s);
	io_set_timeout(s->io, env->cfg->imap.login_timeout);
	if (l->tls == LISTENER_TLS_IMPLICIT) {
		if (env->tls == NULL || pop3_session_start_tls(s) < 0) {
			pop3_session_free(s, "tls");
			return NULL;
		}
		return s;
	}
	pop3_reply(s, "+OK %s POP3 ready", env->cfg->hostname);
	io_set_deadline(s->io, env->cfg->imap.login_timeout);
	return s;
}

void pop3_session_abort(struct pop3_session *s)
{
	io_free(&s->io);
	pop3_session_free(s, "abort");
}

/* Ends the session: the store forgets it (no deletion: only QUIT's
 * UPDATE removes messages), the owner is told. */
static void pop3_session_free(struct pop3_session *s, const char *reason)
{
	char v[ENVELOPE_ADDR_MAX + 8];
	struct ipc_writer w;

	log_info("event=pop3-logout session=%s client=%s user=%s reason=%s retrieved=%u "
	         "deleted=%u tls=%s",
	         s->id, s->client, s->store_login ? log_value(s->user, v, sizeof(v)) : "none",
	         reason, s->retrieved, s->removed, s->tls_active ? s->tls_version : "none");
	pop3_retr_release(s);
	if (s->store_login) {
		ipc_writer_init(&w);
		pop3_store_send(s, IMSG_STORE_LOGOUT, &w);
	}
	io_close(&s->io);
	pop3_line_reader_reset(&s->lines);
	free(s->msgs);
	free(s->quit_set);
	s->env->closed(s->env->owner, s->handle);
	explicit_bzero(s, sizeof(*s));
	free(s);
}
