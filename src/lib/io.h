/*
 * io.h: one network connection, plaintext or TLS, for the protocol
 * sessions (SMTP server and client; IMAP and POP3 next).
 *
 * The session never sees the socket or OpenSSL: it reads an input buffer,
 * writes with io_printf()/io_write(), and receives every event through one
 * callback (as OpenSMTPD's io and Dovecot's streams do). The switch to TLS
 * (STARTTLS, or implicit TLS from the start) happens underneath, with the
 * purge RFC 3207 4.2 asks for: nothing read before the handshake reaches
 * the session after it.
 *
 * Bounds: input is read up to IO_INPUT_MAX at a time; while more than
 * IO_OUTPUT_MAX of output is queued the io reads nothing (a peer that never
 * reads our replies cannot make us buffer its commands' answers), and it
 * reads again, with IO_DRAINED, once the output fell to IO_OUTPUT_LOW.
 *
 * The callback may free the io (io_free, io_close) or its owner; the io
 * touches nothing after calling it.
 */
#ifndef SEALMAIL_IO_H
#define SEALMAIL_IO_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>

#define IO_INPUT_MAX (256 * 1024) /* read no more while this much is unconsumed */
#define IO_OUTPUT_MAX (64 * 1024) /* io_output_full() above this */
#define IO_OUTPUT_LOW (16 * 1024) /* IO_DRAINED at or below this */
#define IO_CLOSE_SECONDS 10       /* io_close(): flushing and close_notify, at most */

struct event_base;
struct evbuffer;
struct io;
struct tls_client;
struct tls_dane;
struct tls_server;

enum io_event {
	IO_CONNECTED, /* io_connect() succeeded */
	IO_READY,     /* the TLS handshake finished: io_tls_info() is filled */
	IO_DATA,      /* input is buffered */
	IO_DRAINED,   /* a write left at most IO_OUTPUT_LOW octets queued */
	IO_TIMEOUT,   /* the idle timeout, the deadline or the handshake deadline */
	IO_ERROR,     /* the connection failed: io_error() says why */
	IO_CLOSED,    /* the peer closed the connection */
};

/* Why a server's TLS handshake failed, in a few kinds (the metrics'
 * labels, io_tls_failure_words[]). */
enum io_tls_failure {
	IO_TLS_FAIL_PROTOCOL,    /* not TLS, or malformed (a garbage ClientHello) */
	IO_TLS_FAIL_VERSION,     /* no protocol version in common */
	IO_TLS_FAIL_CIPHER,      /* no cipher, group or signature algorithm in common */
	IO_TLS_FAIL_CERTIFICATE, /* a client certificate was missing or did not verify */
	IO_TLS_FAIL_ALERT,       /* the peer sent an alert (often: it distrusts our certificate) */
	IO_TLS_FAIL_TIMEOUT,     /* the handshake deadline passed */
	IO_TLS_FAIL_CLOSED,      /* the peer closed the connection */
	IO_TLS_FAIL_OTHER,
	IO_TLS_FAILURES
};
extern const char *const io_tls_failure_words[IO_TLS_FAILURES];

typedef void io_callback(struct io *io, enum io_event event, void *arg);

/* What the TLS handshake negotiated and what the peer proved. */
struct io_tls_info {
	int active;       /* the handshake finished */
	char version[32]; /* "TLSv1.3" */
	char cipher[96];  /* "TLS_AES_256_GCM_SHA384" */
	int bits;
	int resumed;
	char sni[256];        /* server side: the name the client asked for; "" = none */
	int peer_certificate; /* the peer presented a certificate */
	int verified;         /* ... that verified (chain, validity, the names asked for) */
	char reason[512];     /* why it did not verify ("" when it did) */
	char peer_names[512]; /* its SAN dNSNames, else its CN, for logs */
	char identity[512];   /* server side: the login a client certificate names
	                       * (rfc822Name, else emailAddress, else CN), lower-cased,
	                       * when it verified against the listener's client_ca */
	/* client side with DANE (io_start_tls_client_dane); "verified" is then
	 * still the PKIX verdict */
	int dane;       /* a usable TLSA record applied */
	int dane_ok;    /* one matched (RFC 7671 5) */
	int dane_depth; /* where in the chain: 0 = the peer's certificate */
	unsigned dane_usage, dane_selector, dane_mtype; /* the record that matched */
	char dane_reason[256];                          /* why none matched */
	/* RFC 8460 result type of the certificate problem of the check in
	 * force (DANE if it applied, else PKIX), "" when none */
	char rpt_cert[40];
};

/* Line reading (io_read_line). */
enum io_line {
	IO_LINE_OK,       /* a whole line */
	IO_LINE_MORE,     /* no line end yet */
	IO_LINE_TOO_LONG, /* MAX octets hold no line end; they stay in the input */
};

/* A connection over the connected (or connecting, see io_connect) socket
 * FD, which it owns from now on; events go to CB with ARG. Reading starts
 * at once. */
struct io *io_new(struct event_base *base, int fd, io_callback *cb, void *arg);
/* Frees at once: pending output is dropped, no close_notify is sent. */
void io_free(struct io **io);
/* Ends the connection politely and forgets IO: the output still queued is
 * sent, then for TLS a close_notify, and the peer's is awaited; all of it
 * within IO_CLOSE_SECONDS. No event reaches the callback any more. */
void io_close(struct io **io);

/* Connects FD (non-blocking) to SA; IO_CONNECTED or IO_ERROR follows.
 * Returns -1 with errno when connect() failed at once. */
int io_connect(struct io *io, const struct sockaddr *sa, socklen_t len);

/* Switches to TLS as the server, with a context of SRV for listener
 * LISTENER (its index, for its client_ca). Whatever input is buffered is
 * discarded; output must have left (IO_DRAINED with io_output_length() 0).
 * IO_READY follows, or IO_ERROR / IO_TIMEOUT after HANDSHAKE_SECONDS. */
int io_start_tls_server(struct io *io, struct tls_server *srv, unsigned listener,
                        unsigned handshake_seconds, const char **error_r);
/* The same as the client of HOST (sent as SNI unless an address literal),
 * whose certificate must carry one of the ':'-separated NAMES for
 * io_tls_info()->verified. */
int io_start_tls_client(struct io *io, struct tls_client *client, const char *host,
                        const char *names, unsigned handshake_seconds, const char **error_r);
/* The same, the peer authenticated by DANE's TLSA records (lib/tls_client.h)
 * when OpenSSL can use one of them; io_tls_info() then tells whether one
 * matched. DANE NULL: as io_start_tls_client(). */
int io_start_tls_client_dane(struct io *io, struct tls_client *client, const char *host,
                             const char *names, const struct tls_dane *dane,
                             unsigned handshake_seconds, const char **error_r);
/* The TLS state; ->active is 0 before IO_READY. */
const struct io_tls_info *io_tls_info(const struct io *io);

/* Idle timeout: IO_TIMEOUT when neither input arrives (while reading) nor
 * output leaves (while some is queued) for SECONDS; 0 = none. It stays
 * set after it fired, and across the switch to TLS. */
void io_set_timeout(struct io *io, unsigned seconds);
/* IO_TIMEOUT SECONDS from now whatever the traffic; replaces an earlier
 * deadline. */
void io_set_deadline(struct io *io, unsigned seconds);
void io_clear_deadline(struct io *io);

/* Stops and resumes reading from the socket (buffered input stays). */
void io_pause(struct io *io);
void io_resume(struct io *io);

/* The input. Consume what was handled with io_drain(). */
struct evbuffer *io_input(struct io *io);
size_t io_input_length(const struct io *io);
void io_drain(struct io *io, size_t len);
/* The next line of at most MAX octets (its LF or CR LF not counted) into
 * *LINE_R (NUL-terminated, valid until the next call) and *LEN_R. */
enum io_line io_read_line(struct io *io, size_t max, const char **line_r, size_t *len_r);

/* Queues output. */
void io_write(struct io *io, const void *data, size_t len);
void io_printf(struct io *io, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void io_vprintf(struct io *io, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
size_t io_output_length(const struct io *io);
/* 1 while more than IO_OUTPUT_MAX octets wait to leave: produce no more
 * until IO_DRAINED. */
int io_output_full(const struct io *io);

/* Why the last IO_ERROR or IO_TIMEOUT happened, for logs. */
const char *io_error(const struct io *io);

/* After IO_ERROR, IO_CLOSED or IO_TIMEOUT in a handshake: its kind. */
enum io_tls_failure io_tls_failure(const struct io *io);
/* The kind of OpenSSL error E (ERR_get_error()'s; 0 = other). */
enum io_tls_failure io_tls_failure_of_error(unsigned long e);

#endif
