/*
 * imap_session.c: the IMAP server session's life cycle (see
 * imap_session.h): imap_session_new() and its end, the io callback and its
 * events, the input loop that feeds the command parser (imap_parse.h) and
 * hands whole commands to the command table (imap_session_command.c), the
 * lines read outside it (AUTHENTICATE's response, IDLE's DONE), the
 * timeouts and the commands-per-second bound, TLS (implicit, STARTTLS),
 * and the channel to the store role: requests go out through the env,
 * answers come back to the running command's continuation. Called by the
 * dispatcher; what the session's files share is imap_session_private.h.
 *
 * A session is freed only at the end of an entry point (the io callback,
 * a store or lookup answer, a timer), never in the middle of a handler:
 * imap_close_after_output() marks it closing and the entry point's end
 * frees it, and io_close() sends what is still queued.
 */
#include "imap/imap_session.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf/config.h"
#include "imap/imap_parse.h"
#include "imap/imap_session_private.h"
#include "lib/io.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/util.h"
#include "proto/metrics.h"
#include "proto/proto.h"
#include "proto/store.h"

static void imap_session_free(struct imap_session *s);

/* ---- entry points and the end of a session ------------------------------ */

/* The end of an entry point: a session marked closing is freed now. */
static void imap_session_settle(struct imap_session *s)
{
	if (--s->in_event == 0 && s->state == IMAP_STATE_CLOSING)
		imap_session_free(s);
}

void imap_close_after_output(struct imap_session *s)
{
	s->state = IMAP_STATE_CLOSING;
	if (s->io != NULL)
		io_pause(s->io);
	if (s->env->ending != NULL)
		s->env->ending(s->env->owner, s->handle);
}

/* ---- bounds -------------------------------------------------------------- */

int imap_session_tls(const struct imap_session *s)
{
	return s->tls_active || s->test_assume_tls;
}

void imap_session_test_assume_tls(struct imap_session *s)
{
	s->test_assume_tls = 1;
}

void imap_session_set_timeout(struct imap_session *s)
{
	const struct config_imap *c = &s->env->cfg->imap;

	if (s->io == NULL)
		return;
	if (s->state == IMAP_STATE_NOT_AUTH || s->state == IMAP_STATE_HANDSHAKE)
		io_set_timeout(s->io, c->login_timeout);
	else if (s->input == IMAP_INPUT_IDLE)
		io_set_timeout(s->io, c->idle_command_timeout);
	else
		io_set_timeout(s->io, c->idle_timeout);
}

/* Before login a literal may be no larger than literal_before_login and a
 * non-synchronising one no larger than LITERAL- allows (RFC 7888); after,
 * both up to the append limit (LITERAL+). */
void imap_session_set_limits(struct imap_session *s)
{
	const struct config_imap *c = &s->env->cfg->imap;
	struct imap_parser_limits lim;

	if (s->state == IMAP_STATE_AUTH || s->state == IMAP_STATE_SELECTED) {
		lim.literal_max = (size_t)c->append_limit;
		lim.literal_plus_max = (size_t)c->append_limit;
	} else {
		lim.literal_max = c->literal_before_login;
		lim.literal_plus_max = c->literal_before_login < IMAP_LITERAL_MINUS_MAX
		                           ? c->literal_before_login
		                           : IMAP_LITERAL_MINUS_MAX;
	}
	imap_parser_set_limits(s->parser, &lim);
}

void imap_session_logged_in(struct imap_session *s)
{
	char v[ENVELOPE_ADDR_MAX + 8];

	s->state = IMAP_STATE_AUTH;
	s->store_login = 1;
	s->auth_failures = 0;
	if (s->io != NULL)
		io_clear_deadline(s->io);
	imap_session_set_timeout(s);
	imap_session_set_limits(s);
	METRICS_LISTENER_COUNT(s->listener->metrics_index, auth_successes);
	log_info("event=imap-login session=%s user=%s method=%s tls=%s%s%s", s->id,
	         log_value(s->user, v, sizeof(v)), s->auth_method,
	         s->tls_active ? s->tls_version : "none", s->tls_active ? "/" : "",
	         s->tls_active ? s->tls_cipher : "");
}

/* ---- the store channel --------------------------------------------------- */

void imap_store_request(struct imap_session *s, uint32_t type, struct ipc_writer *w, int fd,
                        imap_store_fn *next)
{
	s->wait = IMAP_WAIT_STORE;
	s->on_store = next;
	s->env->store_send(s->env->owner, s->handle, type, w, fd);
}

void imap_wait_drain(struct imap_session *s, imap_drain_fn *next)
{
	s->wait = IMAP_WAIT_DRAIN;
	s->on_drain = next;
}

/* Holds a store answer while the output is full: a batch of FETCH items
 * is rendered only as fast as the client reads. */
static void imap_queue_push(struct imap_session *s, uint32_t type, const void *data, size_t len,
                            int fd)
{
	struct imap_queued *q = xcalloc(1, sizeof(*q));

	q->type = type;
	q->data = xmalloc(len + 1);
	memcpy(q->data, data, len);
	q->len = len;
	q->fd = fd;
	if (s->queue_tail != NULL)
		s->queue_tail->next = q;
	else
		s->queue_head = q;
	s->queue_tail = q;
}

/* Hands one store answer to the running command's continuation. */
static void imap_store_dispatch(struct imap_session *s, uint32_t type, const void *data, size_t len,
                                int fd)
{
	if (s->wait != IMAP_WAIT_STORE || s->on_store == NULL) {
		log_warn("event=imap-unexpected-store-message session=%s type=%u", s->id, type);
		if (fd >= 0)
			close(fd);
		return;
	}
	s->on_store(s, type, data, len, fd);
}

/* Hands on held answers while the output has room. */
static void imap_queue_run(struct imap_session *s)
{
	while (s->queue_head != NULL && s->io != NULL && !io_output_full(s->io) &&
	       s->state != IMAP_STATE_CLOSING) {
		struct imap_queued *q = s->queue_head;

		s->queue_head = q->next;
		if (s->queue_head == NULL)
			s->queue_tail = NULL;
		imap_store_dispatch(s, q->type, q->data, q->len, q->fd);
		free(q->data);
		free(q);
	}
}

static void imap_queue_free(struct imap_session *s)
{
	while (s->queue_head != NULL) {
		struct imap_queued *q = s->queue_head;

		s->queue_head = q->next;
		if (q->fd >= 0)
			close(q->fd);
		free(q->data);
		free(q);
	}
	s->queue_tail = NULL;
}

void imap_session_store_reply(struct imap_session *s, uint32_t type, const void *data, size_t len,
                              int fd)
{
	s->in_event++;
	if (type == IMSG_STORE_CHANGED) {
		if (fd >= 0)
			close(fd);
		imap_session_changed(s);
	} else if (s->queue_head != NULL || (s->io != NULL && io_output_full(s->io))) {
		imap_queue_push(s, type, data, len, fd);
	} else {
		imap_store_dispatch(s, type, data, len, fd);
	}
	if (s->wait == IMAP_WAIT_NONE)
		imap_session_process(s);
	imap_session_settle(s);
}

void imap_session_auth_done(struct imap_session *s, int ok, const char *user)
{
	s->in_event++;
	if (s->wait == IMAP_WAIT_AUTH) {
		s->wait = IMAP_WAIT_NONE;
		imap_auth_result(s, ok, user);
	}
	if (s->wait == IMAP_WAIT_NONE)
		imap_session_process(s);
	imap_session_settle(s);
}

/* ---- reading ------------------------------------------------------------- */

/* commands_per_second: past it in one second, reading stops until the
 * next second begins. */
static void imap_rate_cb(evutil_socket_t fd, short what, void *arg)
{
	struct imap_session *s = arg;

	s->in_event++;
	s->throttled = 0;
	if (s->state != IMAP_STATE_CLOSING && s->io != NULL)
		io_resume(s->io);
	imap_session_process(s);
	imap_session_settle(s);
}

static void imap_session_count_command(struct imap_session *s)
{
	unsigned limit = s->env->cfg->imap.commands_per_second;
	uint64_t now = now_usec();
	struct timeval tv;

	s->commands++;
	if (now / 1000000 != s->rate_second) {
		s->rate_second = now / 1000000;
		s->rate_count = 0;
	}
	if (limit == 0 || ++s->rate_count <= limit)
		return;
	if (s->ev_rate == NULL)
		s->ev_rate = evtimer_new(s->env->base, imap_rate_cb, s);
	tv.tv_sec = 0;
	tv.tv_usec = (suseconds_t)(1000000 - now % 1000000);
	s->throttled = 1;
	io_pause(s->io);
	evtimer_add(s->ev_rate, &tv);
}

/* A BAD from the parser: the tag it knew, or "*". */
static void imap_session_parse_error(struct imap_session *s, const struct imap_command *cmd,
                                     const char *error, int fatal)
{
	const char *tag = cmd != NULL && cmd->tag[0] != '\0' ? cmd->tag : "*";
	struct imap_reply r = imap_reply_make(IMAP_BAD, "", "%s", error);

	imap_tagged(s, tag, &r);
	if (fatal) {
		imap_untagged(s, "BYE Cannot continue after that error");
		log_info("event=imap-input-error session=%s reason=\"%s\"", s->id, error);
		imap_close_after_output(s);
		return;
	}
	if (++s->bad_in_row >= s->env->cfg->imap.bad_commands) {
		imap_untagged(s, "BYE Too many invalid commands");
		log_info("event=imap-too-many-errors session=%s errors=%u", s->id, s->bad_in_row);
		imap_close_after_output(s);
	}
}

/* Feeds the parser from the input; 1 when something was handled and
 * reading may go on, 0 when more input is needed. */
static int imap_session_read_command(struct imap_session *s)
{
	struct evbuffer *in = io_input(s->io);
	struct evbuffer_iovec v;
	struct imap_command *cmd = NULL;
	const char *error = NULL;
	size_t consumed = 0;
	enum imap_parse_result r;

	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
		return 0;
	r = imap_parser_feed(s->parser, v.iov_base, v.iov_len, &consumed, &cmd, &error);
	evbuffer_drain(in, consumed);
	switch (r) {
	case IMAP_PARSE_MORE:
		return evbuffer_get_length(in) > 0 && consumed > 0;
	case IMAP_PARSE_CONTINUE:
		imap_line(s, "+ Ready for literal data");
		return 1;
	case IMAP_PARSE_COMMAND:
		imap_session_count_command(s);
		imap_session_command(s, cmd);
		return 1;
	case IMAP_PARSE_ERROR:
		imap_session_parse_error(s, cmd, error, 0);
		return 1;
	case IMAP_PARSE_FATAL:
		imap_session_parse_error(s, cmd, error, 1);
		return 0;
	}
	return 0;
}

/* A line outside the parser: AUTHENTICATE's response or IDLE's DONE. A
 * line over its bound ends the session (what follows cannot be read as
 * commands). */
static int imap_session_read_line(struct imap_session *s)
{
	size_t max = s->input == IMAP_INPUT_AUTH ? IMAP_AUTH_LINE_MAX : IMAP_IDLE_LINE_MAX;
	const char *line;
	size_t len;

	switch (io_read_line(s->io, max, &line, &len)) {
	case IO_LINE_MORE:
		return 0;
	case IO_LINE_TOO_LONG:
		imap_untagged(s, "BYE Line too long (limit %zu octets)", max);
		imap_close_after_output(s);
		return 0;
	case IO_LINE_OK:
		break;
	}
	if (s->input == IMAP_INPUT_AUTH) {
		imap_auth_response(s, line, len);
		explicit_bzero((char *)line, len);
	} else {
		imap_idle_done(s, len == 4 && strncasecmp(line, "DONE", 4) == 0);
	}
	return 1;
}

void imap_session_process(struct imap_session *s)
{
	while (s->io != NULL && s->wait == IMAP_WAIT_NONE && !s->throttled &&
	       io_input_length(s->io) > 0) {
		if (s->state != IMAP_STATE_NOT_AUTH && s->state != IMAP_STATE_AUTH &&
		    s->state != IMAP_STATE_SELECTED)
			break;
		if (io_output_full(s->io))
			break;
		if (s->input == IMAP_INPUT_COMMAND ? !imap_session_read_command(s)
		                                   : !imap_session_read_line(s))
			break;
	}
	if (s->state == IMAP_STATE_CLOSING && s->io != NULL)
		io_pause(s->io);
}

/* ---- TLS ----------------------------------------------------------------- */

/* Puts TLS under the session. Whatever the client sent before the
 * handshake is discarded (the io drops its input, the parser forgets its
 * partial command) and the state starts afresh (imap_session_tls_ready),
 * as RFC 9051 6.2.1 and RFC 3207 4.2 ask. */
static int imap_session_start_tls(struct imap_session *s)
{
	unsigned listener = (unsigned)(s->listener - s->env->cfg->listeners);
	const char *why = "no TLS context";

	imap_parser_reset(s->parser);
	s->tls_started = 1;
	if (s->env->tls == NULL ||
	    io_start_tls_server(s->io, s->env->tls, listener,
	                        s->env->cfg->limits.tls_handshake_timeout, &why) < 0) {
		log_info("event=tls-error session=%s reason=\"%s\"", s->id, why);
		return -1;
	}
	return 0;
}

static void imap_greeting(struct imap_session *s)
{
	char caps[512];

	imap_capabilities(s, caps, sizeof(caps));
	imap_untagged(s, "OK [CAPABILITY %s] sealmail ready", caps);
}

/* The handshake is done: note what was negotiated, start afresh. */
static void imap_session_tls_ready(struct imap_session *s)
{
	const struct io_tls_info *tls = io_tls_info(s->io);
	char v[300];

	s->tls_active = 1;
	strlcpy_checked(s->tls_version, tls->version, sizeof(s->tls_version));
	strlcpy_checked(s->tls_cipher, tls->cipher, sizeof(s->tls_cipher));
	log_info(s->listener->tls == LISTENER_TLS_IMPLICIT
	             ? "event=tls session=%s version=%s cipher=%s bits=%d sni=%s resumed=%s"
	             : "event=starttls session=%s version=%s cipher=%s bits=%d sni=%s resumed=%s",
	         s->id, s->tls_version, s->tls_cipher, tls->bits,
	         tls->sni[0] ? log_value(tls->sni, v, sizeof(v)) : "none",
	         tls->resumed ? "yes" : "no");
	s->state = IMAP_STATE_NOT_AUTH;
	s->input = IMAP_INPUT_COMMAND;
	s->enabled = 0;
	s->bad_in_row = 0;
	imap_parser_reset(s->parser);
	imap_session_set_limits(s);
	if (s->listener->tls == LISTENER_TLS_IMPLICIT)
		imap_greeting(s);
	imap_session_set_timeout(s);
}

/* ---- connection events --------------------------------------------------- */

/* Output left: the STARTTLS reply is out, the next FETCH batch may be
 * asked, or input held back while the output was full can be read. */
static void imap_session_drained(struct imap_session *s)
{
	imap_drain_fn *fn = s->on_drain;

	if (s->state == IMAP_STATE_TLS && !s->tls_started) {
		if (io_output_length(s->io) > 0)
			return;
		if (imap_session_start_tls(s) < 0)
			imap_close_after_output(s);
		return;
	}
	imap_queue_run(s);
	if (s->wait == IMAP_WAIT_DRAIN && !io_output_full(s->io)) {
		s->wait = IMAP_WAIT_NONE;
		s->on_drain = NULL;
		fn(s);
	}
	imap_session_process(s);
}

static void imap_session_timeout(struct imap_session *s)
{
	int handshake = s->state == IMAP_STATE_HANDSHAKE || s->state == IMAP_STATE_TLS;

	log_info("event=imap-timeout session=%s state=%d what=%s", s->id, s->state,
	         handshake                         ? "handshake"
	         : s->state == IMAP_STATE_NOT_AUTH ? "login"
	         : s->input == IMAP_INPUT_IDLE     ? "idle"
	                                           : "command");
	if (handshake || s->state == IMAP_STATE_CLOSING) {
		io_free(&s->io); /* nothing more will leave */
		s->state = IMAP_STATE_CLOSING;
		return;
	}
	imap_untagged(s, "BYE Autologout; idle for too long");
	imap_close_after_output(s);
}

static void imap_session_io_cb(struct io *io, enum io_event event, void *arg)
{
	struct imap_session *s = arg;

	metrics_tls_event(s->listener->metrics_index, io, event, s->tls_started && !s->tls_active);
	s->in_event++;
	switch (event) {
	case IO_DATA:
		imap_session_process(s);
		break;
	case IO_DRAINED:
		imap_session_drained(s);
		break;
	case IO_READY:
		imap_session_tls_ready(s);
		imap_session_process(s);
		break;
	case IO_TIMEOUT:
		imap_session_timeout(s);
		break;
	case IO_ERROR:
		if (!s->tls_active && s->tls_started)
			log_info("event=tls-error session=%s reason=\"%s\"", s->id, io_error(io));
		io_free(&s->io);
		s->state = IMAP_STATE_CLOSING;
		break;
	case IO_CONNECTED:
	case IO_CLOSED:
		io_free(&s->io);
		s->state = IMAP_STATE_CLOSING;
		break;
	}
	imap_session_settle(s);
}

/* ---- life cycle ---------------------------------------------------------- */

struct imap_session *imap_session_new(const struct imap_env *env, const struct config_listener *l,
                                      int fd, const struct sockaddr *sa, socklen_t salen,
                                      uint64_t handle)
{
	struct imap_session *s = xcalloc(1, sizeof(*s));
	struct imap_parser_limits lim = {0, 0};

	(void)salen;
	s->env = env;
	s->listener = l;
	s->handle = handle;
	random_hex_id(s->id, sizeof(s->id));
	sockaddr_describe(sa, s->client, sizeof(s->client), s->client_port, sizeof(s->client_port));
	s->parser = imap_parser_new(&lim);
	s->state = IMAP_STATE_NOT_AUTH;
	imap_session_set_limits(s);
	log_info("event=imap-connect session=%s client=%s:%s listener=%s", s->id, s->client,
	         s->client_port, l->name);
	s->io = io_new(env->base, fd, imap_session_io_cb, s);
	io_set_deadline(s->io, IMAP_PRELOGIN_DEADLINE);
	s->in_event = 1;
	if (l->tls == LISTENER_TLS_IMPLICIT) {
		s->state = IMAP_STATE_HANDSHAKE;
		imap_session_set_timeout(s);
		if (imap_session_start_tls(s) < 0) {
			imap_session_free(s);
			return NULL;
		}
	} else {
		imap_session_set_timeout(s);
		imap_greeting(s);
	}
	s->in_event = 0;
	return s;
}

void imap_session_abort(struct imap_session *s)
{
	if (s->io != NULL && s->state != IMAP_STATE_HANDSHAKE && s->state != IMAP_STATE_TLS &&
	    s->state != IMAP_STATE_CLOSING)
		imap_untagged(s, "BYE Server shutting down");
	imap_session_free(s);
}

static void imap_session_free(struct imap_session *s)
{
	char v[ENVELOPE_ADDR_MAX + 8];

	log_info("event=imap-logout session=%s client=%s user=%s commands=%u tls=%s%s%s", s->id,
	         s->client, s->user[0] ? log_value(s->user, v, sizeof(v)) : "none", s->commands,
	         s->tls_active ? s->tls_version : "none", s->tls_active ? "/" : "",
	         s->tls_active ? s->tls_cipher : "");
	if (s->store_login) {
		struct ipc_writer w;

		ipc_writer_init(&w);
		s->env->store_send(s->env->owner, s->handle, IMSG_STORE_LOGOUT, &w, -1);
	}
	imap_cmd_release(s);
	imap_queue_free(s);
	if (s->io != NULL)
		io_close(&s->io); /* what is still queued leaves, then close_notify */
	if (s->ev_rate != NULL)
		event_free(s->ev_rate);
	imap_parser_free(&s->parser);
	free(s->saved_uids);
	s->env->closed(s->env->owner, s->handle);
	explicit_bzero(s, sizeof(*s));
	free(s);
}
