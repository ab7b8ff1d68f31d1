/*
 * io.c: see io.h.
 *
 * A plaintext connection is a socket bufferevent that does not own the
 * socket, so that STARTTLS can drop it (and the plaintext it buffered) and
 * put an OpenSSL bufferevent on the same socket. The TLS bufferevent owns
 * socket and SSL. io_close() takes the io away from its owner and ends it
 * in stages: flush, close_notify, the peer's close_notify, free.
 */
#include "lib/io.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/tls.h"
#include "lib/tls_client.h"
#include "lib/util.h"

#define IO_CLOSE_DISCARD_MAX IO_INPUT_MAX /* read and dropped while awaiting close_notify */

enum io_tls_state {
	IO_TLS_NONE,
	IO_TLS_HANDSHAKE,
	IO_TLS_ACTIVE,
};

struct io {
	struct event_base *base;
	struct bufferevent *bev;
	int fd;
	int fd_owned; /* 0 once a TLS bufferevent (or nobody) closes it */
	io_callback *cb;
	void *arg;

	enum io_tls_state tls;
	int tls_server; /* the handshake is the server's */
	int dane;       /* the client's SSL has usable TLSA records */
	struct io_tls_info info;

	int reading; /* the owner wants input */
	int full;    /* more than IO_OUTPUT_MAX queued: reading stopped */
	int failed;  /* IO_ERROR happened: the connection is unusable */
	int closing; /* io_close(): detached, flushing or awaiting close_notify */
	size_t discarded;
	unsigned timeout;
	struct event *ev_deadline;  /* io_set_deadline(); io_close()'s bound */
	struct event *ev_handshake; /* the handshake deadline */
	struct event *ev_close;     /* on the socket while close_notify is exchanged */

	char *line; /* io_read_line()'s buffer */
	size_t line_size;
	char error[256];
	enum io_tls_failure kind; /* why a handshake failed */
};

static void io_read_cb(struct bufferevent *bev, void *arg);
static void io_write_cb(struct bufferevent *bev, void *arg);
static void io_event_cb(struct bufferevent *bev, short what, void *arg);
static void io_close_notify(struct io *io);

/* Hands EVENT to the owner; the last thing any handler does, since the
 * owner may free the io. */
static void io_notify(struct io *io, enum io_event event)
{
	if (io->cb != NULL)
		io->cb(io, event, io->arg);
}

static void io_update_read(struct io *io)
{
	if (io->bev == NULL)
		return;
	if (io->reading && !io->full && !io->closing)
		bufferevent_enable(io->bev, EV_READ);
	else
		bufferevent_disable(io->bev, EV_READ);
}

static void io_apply_timeout(struct io *io)
{
	struct timeval tv = {io->timeout, 0};

	if (io->bev != NULL)
		bufferevent_set_timeouts(io->bev, io->timeout ? &tv : NULL,
		                         io->timeout ? &tv : NULL);
}

/* Wires the current bufferevent to the io. */
static void io_attach(struct io *io)
{
	bufferevent_setcb(io->bev, io_read_cb, io_write_cb, io_event_cb, io);
	bufferevent_setwatermark(io->bev, EV_READ, 0, IO_INPUT_MAX);
	bufferevent_setwatermark(io->bev, EV_WRITE, IO_OUTPUT_LOW, 0);
	io_apply_timeout(io);
	bufferevent_enable(io->bev, EV_WRITE);
	io_update_read(io);
}

static void io_destroy(struct io *io)
{
	event_free(io->ev_deadline);
	event_free(io->ev_handshake);
	if (io->ev_close != NULL)
		event_free(io->ev_close);
	if (io->bev != NULL)
		bufferevent_free(io->bev);
	if (io->fd_owned && io->fd >= 0)
		close(io->fd);
	free(io->line);
	free(io);
}

/* ---- timers ---------------------------------------------------------- */

static void io_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct io *io = arg;

	if (io->closing) {
		io_destroy(io); /* the peer took too long to read or to answer */
		return;
	}
	snprintf(io->error, sizeof(io->error), "deadline reached");
	io_notify(io, IO_TIMEOUT);
}

static void io_handshake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct io *io = arg;

	snprintf(io->error, sizeof(io->error), "TLS handshake timed out");
	io->kind = IO_TLS_FAIL_TIMEOUT;
	io_notify(io, IO_TIMEOUT);
}

/* ---- bufferevent callbacks ------------------------------------------- */

static void io_read_cb(struct bufferevent *bev, void *arg)
{
	struct io *io = arg;

	if (io->closing) {
		evbuffer_drain(bufferevent_get_input(bev), (size_t)-1);
		return;
	}
	io_notify(io, IO_DATA);
}

static void io_write_cb(struct bufferevent *bev, void *arg)
{
	struct io *io = arg;

	if (io->closing) {
		if (io_output_length(io) > 0)
			return;
		if (io->tls == IO_TLS_ACTIVE)
			io_close_notify(io);
		else
			io_destroy(io);
		return;
	}
	if (io->full && io_output_length(io) <= IO_OUTPUT_LOW) {
		io->full = 0;
		io_update_read(io);
	}
	io_notify(io, IO_DRAINED);
}

/* What DANE found, from PEER into INFO. */
static void io_tls_info_dane(struct io_tls_info *info, const struct tls_peer *peer)
{
	info->dane = peer->dane;
	info->dane_ok = peer->dane_ok;
	info->dane_depth = peer->dane_depth;
	info->dane_usage = peer->dane_usage;
	info->dane_selector = peer->dane_selector;
	info->dane_mtype = peer->dane_mtype;
	strlcpy_checked(info->dane_reason, peer->dane_reason, sizeof(info->dane_reason));
	strlcpy_checked(info->rpt_cert, peer->rpt_cert, sizeof(info->rpt_cert));
}

/* The handshake finished: remember what it negotiated and proved. */
static void io_tls_ready(struct io *io)
{
	SSL *ssl = bufferevent_openssl_get_ssl(io->bev);
	struct io_tls_info *info = &io->info;
	struct tls_peer peer;
	const char *sni;

	event_del(io->ev_handshake);
	io->tls = IO_TLS_ACTIVE;
	memset(info, 0, sizeof(*info));
	info->active = 1;
	tls_describe(ssl, info->version, sizeof(info->version), info->cipher, sizeof(info->cipher),
	             &info->bits);
	info->resumed = SSL_session_reused(ssl) != 0;
	sni = io->tls_server ? SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) : NULL;
	snprintf(info->sni, sizeof(info->sni), "%s", sni ? sni : "");
	if (io->dane)
		tls_peer_check_dane(ssl, &peer);
	else
		tls_peer_check(ssl, &peer);
	io_tls_info_dane(info, &peer);
	info->peer_certificate = peer.certificate;
	info->verified = peer.verified;
	strlcpy_checked(info->reason, peer.reason, sizeof(info->reason));
	strlcpy_checked(info->peer_names, peer.names, sizeof(info->peer_names));
	if (io->tls_server && tls_client_identity(ssl, info->identity, sizeof(info->identity)) < 0)
		info->identity[0] = '\0';
	io_notify(io, IO_READY);
}

/* Why the connection failed: OpenSSL's error, else the socket's. */
static void io_set_error(struct io *io, int err)
{
	unsigned long e = io->tls != IO_TLS_NONE ? bufferevent_get_openssl_error(io->bev) : 0;

	io->kind = io_tls_failure_of_error(e);
	if (e != 0)
		ERR_error_string_n(e, io->error, sizeof(io->error));
	else if (io->tls == IO_TLS_HANDSHAKE)
		snprintf(io->error, sizeof(io->error), "handshake failed");
	else if (err != 0)
		snprintf(io->error, sizeof(io->error), "%s", evutil_socket_error_to_string(err));
	else
		snprintf(io->error, sizeof(io->error), "connection failed");
}

static void io_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct io *io = arg;
	int err = EVUTIL_SOCKET_ERROR();

	if (io->closing) {
		io_destroy(io);
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		if (io->tls == IO_TLS_HANDSHAKE)
			io_tls_ready(io);
		else
			io_notify(io, IO_CONNECTED);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		/* libevent stops the direction that timed out; the owner
		 * decides what happens next, so both go on as they were. */
		snprintf(io->error, sizeof(io->error), "timed out");
		io->kind = IO_TLS_FAIL_TIMEOUT;
		bufferevent_enable(bev, EV_WRITE);
		io_update_read(io);
		io_notify(io, IO_TIMEOUT);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		snprintf(io->error, sizeof(io->error), "connection closed by the peer");
		io->kind = IO_TLS_FAIL_CLOSED;
		io_notify(io, IO_CLOSED);
		return;
	}
	io->failed = 1;
	io_set_error(io, err);
	io_notify(io, IO_ERROR);
}

/* ---- life cycle ------------------------------------------------------- */

struct io *io_new(struct event_base *base, int fd, io_callback *cb, void *arg)
{
	struct io *io = xcalloc(1, sizeof(*io));

	io->base = base;
	io->kind = IO_TLS_FAIL_OTHER;
	io->fd = fd;
	io->fd_owned = 1;
	io->cb = cb;
	io->arg = arg;
	io->reading = 1;
	io->ev_deadline = evtimer_new(base, io_deadline_cb, io);
	io->ev_handshake = evtimer_new(base, io_handshake_cb, io);
	io->bev = bufferevent_socket_new(base, fd, 0);
	io_attach(io);
	return io;
}

void io_free(struct io **iop)
{
	struct io *io = *iop;

	if (io == NULL)
		return;
	*iop = NULL;
	io_destroy(io);
}

int io_connect(struct io *io, const struct sockaddr *sa, socklen_t len)
{
	return bufferevent_socket_connect(io->bev, (struct sockaddr *)sa, (int)len);
}

/* Puts SSL (its handshake in STATE) on the socket in place of the
 * plaintext bufferevent, whose buffered input goes with it: RFC 3207 4.2,
 * nothing read before the handshake may be taken as sent after it. */
static int io_switch_to_tls(struct io *io, SSL *ssl, enum bufferevent_ssl_state state,
                            unsigned handshake_seconds, const char **error_r)
{
	bufferevent_free(io->bev);
	io->bev = bufferevent_openssl_socket_new(io->base, io->fd, ssl, state,
	                                         BEV_OPT_DEFER_CALLBACKS | BEV_OPT_CLOSE_ON_FREE);
	io->fd_owned = 0; /* the TLS bufferevent's now, or closed with it on failure */
	if (io->bev == NULL) {
		io->failed = 1;
		*error_r = "cannot set up TLS on the connection";
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(io->bev, 1);
	io->tls = IO_TLS_HANDSHAKE;
	io->reading = 1;
	io->full = 0;
	memset(&io->info, 0, sizeof(io->info));
	io_attach(io);
	if (handshake_seconds > 0)
		event_add(io->ev_handshake, &(struct timeval){handshake_seconds, 0});
	return 0;
}

/* Whether IO may switch to TLS now. */
static int io_tls_switch_ok(const struct io *io, const char **error_r)
{
	if (io->tls != IO_TLS_NONE || io->bev == NULL) {
		*error_r = "TLS already started";
		return 0;
	}
	if (io_output_length(io) > 0) {
		*error_r = "plaintext output still queued";
		return 0;
	}
	return 1;
}

int io_start_tls_server(struct io *io, struct tls_server *srv, unsigned listener,
                        unsigned handshake_seconds, const char **error_r)
{
	SSL *ssl;

	if (!io_tls_switch_ok(io, error_r))
		return -1;
	ssl = tls_server_ssl_new(srv, listener);
	if (ssl == NULL) {
		*error_r = tls_last_error();
		return -1;
	}
	io->tls_server = 1;
	return io_switch_to_tls(io, ssl, BUFFEREVENT_SSL_ACCEPTING, handshake_seconds, error_r);
}

int io_start_tls_client_dane(struct io *io, struct tls_client *client, const char *host,
                             const char *names, const struct tls_dane *dane,
                             unsigned handshake_seconds, const char **error_r)
{
	unsigned usable;
	SSL *ssl;

	if (!io_tls_switch_ok(io, error_r))
		return -1;
	ssl = tls_client_ssl_new_dane(client, host, names, dane, &usable);
	if (ssl == NULL) {
		*error_r = tls_last_error();
		return -1;
	}
	io->tls_server = 0;
	io->dane = usable > 0;
	return io_switch_to_tls(io, ssl, BUFFEREVENT_SSL_CONNECTING, handshake_seconds, error_r);
}

int io_start_tls_client(struct io *io, struct tls_client *client, const char *host,
                        const char *names, unsigned handshake_seconds, const char **error_r)
{
	return io_start_tls_client_dane(io, client, host, names, NULL, handshake_seconds, error_r);
}

const struct io_tls_info *io_tls_info(const struct io *io)
{
	return &io->info;
}

/* ---- io_close --------------------------------------------------------- */

static void io_close_cb(evutil_socket_t fd, short what, void *arg);

/* Waits for the socket to be ready for WHAT (EV_READ or EV_WRITE). */
static void io_close_wait(struct io *io, short what)
{
	if (io->ev_close != NULL)
		event_free(io->ev_close);
	io->ev_close = event_new(io->base, io->fd, what, io_close_cb, io);
	event_add(io->ev_close, NULL);
}

/* Sends close_notify, then reads (and drops) until the peer's arrives.
 * Without it OpenSSL forgets the session (no TLS 1.2 session resumption),
 * and the peer cannot tell our end from a truncation (RFC 8446 6.1). */
static void io_close_notify(struct io *io)
{
	SSL *ssl = bufferevent_openssl_get_ssl(io->bev);
	char buf[4096];
	int r;

	bufferevent_disable(io->bev, EV_READ | EV_WRITE);
	if (!(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN) || SSL_want_write(ssl)) {
		r = SSL_shutdown(ssl);
		if (r < 0 && SSL_get_error(ssl, r) == SSL_ERROR_WANT_WRITE) {
			io_close_wait(io, EV_WRITE);
			return;
		}
		if (r != 0) { /* 1: both sent; -1: failed */
			ERR_clear_error();
			io_destroy(io);
			return;
		}
	}
	while ((r = SSL_read(ssl, buf, sizeof(buf))) > 0)
		if ((io->discarded += (size_t)r) > IO_CLOSE_DISCARD_MAX)
			break;
	if (r <= 0 && SSL_get_error(ssl, r) == SSL_ERROR_WANT_READ) {
		io_close_wait(io, EV_READ);
		return;
	}
	ERR_clear_error();
	io_destroy(io); /* the peer's close_notify, or nothing more to wait for */
}

static void io_close_cb(evutil_socket_t fd, short what, void *arg)
{
	io_close_notify(arg);
}

void io_close(struct io **iop)
{
	struct io *io = *iop;

	if (io == NULL)
		return;
	*iop = NULL;
	io->cb = NULL;
	io->closing = 1;
	event_del(io->ev_handshake);
	if (io->bev == NULL || io->failed || io->tls == IO_TLS_HANDSHAKE) {
		io_destroy(io);
		return;
	}
	event_add(io->ev_deadline, &(struct timeval){IO_CLOSE_SECONDS, 0});
	io_update_read(io);
	bufferevent_setwatermark(io->bev, EV_WRITE, 0, 0);
	if (io->tls == IO_TLS_NONE) {
		/* what the socket takes now need not wait for the loop */
		if (io_output_length(io) > 0)
			evbuffer_write(bufferevent_get_output(io->bev), io->fd);
		if (io_output_length(io) == 0)
			io_destroy(io);
		return;
	}
	if (io_output_length(io) == 0)
		io_close_notify(io);
}

/* ---- timeouts and reading ---------------------------------------------- */

void io_set_timeout(struct io *io, unsigned seconds)
{
	io->timeout = seconds;
	io_apply_timeout(io);
}

void io_set_deadline(struct io *io, unsigned seconds)
{
	event_add(io->ev_deadline, &(struct timeval){seconds, 0});
}

void io_clear_deadline(struct io *io)
{
	event_del(io->ev_deadline);
}

void io_pause(struct io *io)
{
	io->reading = 0;
	io_update_read(io);
}

void io_resume(struct io *io)
{
	io->reading = 1;
	io_update_read(io);
}

/* ---- input --------------------------------------------------------------- */

struct evbuffer *io_input(struct io *io)
{
	return bufferevent_get_input(io->bev);
}

size_t io_input_length(const struct io *io)
{
	return io->bev ? evbuffer_get_length(bufferevent_get_input(io->bev)) : 0;
}

void io_drain(struct io *io, size_t len)
{
	evbuffer_drain(io_input(io), len);
}

enum io_line io_read_line(struct io *io, size_t max, const char **line_r, size_t *len_r)
{
	struct evbuffer *in = io_input(io);
	size_t avail = evbuffer_get_length(in), limit = max + 2 < avail ? max + 2 : avail;
	struct evbuffer_ptr end, lf;
	size_t n;

	evbuffer_ptr_set(in, &end, limit, EVBUFFER_PTR_SET);
	lf = evbuffer_search_range(in, "\n", 1, NULL, &end);
	if (lf.pos < 0)
		return avail >= max + 2 ? IO_LINE_TOO_LONG : IO_LINE_MORE;
	n = (size_t)lf.pos;
	if (io->line_size < n + 1) {
		io->line = xrealloc(io->line, n + 1);
		io->line_size = n + 1;
	}
	evbuffer_copyout(in, io->line, n);
	if (n > 0 && io->line[n - 1] == '\r')
		n--;
	if (n > max)
		return IO_LINE_TOO_LONG;
	io->line[n] = '\0';
	evbuffer_drain(in, (size_t)lf.pos + 1);
	*line_r = io->line;
	*len_r = n;
	return IO_LINE_OK;
}

/* ---- output ------------------------------------------------------------- */

static void io_check_full(struct io *io)
{
	if (!io->full && io_output_length(io) > IO_OUTPUT_MAX) {
		io->full = 1;
		io_update_read(io);
	}
}

void io_write(struct io *io, const void *data, size_t len)
{
	evbuffer_add(bufferevent_get_output(io->bev), data, len);
	io_check_full(io);
}

void io_vprintf(struct io *io, const char *fmt, va_list ap)
{
	evbuffer_add_vprintf(bufferevent_get_output(io->bev), fmt, ap);
	io_check_full(io);
}

void io_printf(struct io *io, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	io_vprintf(io, fmt, ap);
	va_end(ap);
}

size_t io_output_length(const struct io *io)
{
	return io->bev ? evbuffer_get_length(bufferevent_get_output(io->bev)) : 0;
}

int io_output_full(const struct io *io)
{
	return io_output_length(io) > IO_OUTPUT_MAX;
}

enum io_tls_failure io_tls_failure(const struct io *io)
{
	return io->kind;
}

const char *io_error(const struct io *io)
{
	return io->error[0] ? io->error : "no error";
}
