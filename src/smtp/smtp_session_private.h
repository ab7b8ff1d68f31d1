/*
 * smtp_session_private.h: the SMTP server session's state and the functions
 * its files share: smtp_session.c (life cycle, input, replies, deadlines,
 * TLS, AUTH's steps), smtp_command.c (the command table and its handlers),
 * smtp_data.c (DATA, and the message's end and commit) and smtp_bdat.c
 * (BDAT's chunks); also read by the harnesses that drive a real
 * session. SMTP AUTH is a sub-machine the session owns (smtp_auth.h), which
 * never sees this.
 */
#ifndef SEALMAIL_SMTP_SESSION_PRIVATE_H
#define SEALMAIL_SMTP_SESSION_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "mail/envelope.h"
#include "mail/header_scan.h"
#include "smtp/smtp_auth.h"
#include "smtp/smtp_parse.h"
#include "smtp/smtp_session.h"

struct evbuffer;
struct event;
struct io;

#define SMTP_DATA_CHUNK 16384                /* input taken at a time by DATA and BDAT */
#define SMTP_DATA_BUF (4 * SMTP_DATA_CHUNK) /* the spool buffer, written out when full */

enum smtp_state {
	SMTP_STATE_CONNECTED, /* no HELO/EHLO yet */
	SMTP_STATE_READY,     /* after HELO/EHLO, no transaction */
	SMTP_STATE_MAIL,      /* MAIL accepted */
	SMTP_STATE_DATA,      /* receiving the message */
	SMTP_STATE_BDAT,      /* reading a BDAT chunk (RFC 3030), kept or dropped */
	SMTP_STATE_TLS,       /* waiting for the 220 to leave, then handshaking */
	SMTP_STATE_CLOSING,   /* last reply queued; close once it has left */
};

/* What the session waits for from another role; input is paused meanwhile. */
enum smtp_wait {
	SMTP_WAIT_NONE,
	SMTP_WAIT_LOOKUP,
	SMTP_WAIT_OPEN,
	SMTP_WAIT_COMMIT,
	SMTP_WAIT_AUTH, /* the lookup role checks credentials, or a failure's delay */
};

struct smtp_session {
	const struct smtp_env *env;
	const struct config_listener *listener;
	uint64_t handle;
	char id[17];     /* for logs */
	struct io *io;   /* the connection, plaintext or TLS */
	char client[64]; /* "IP" */
	char client_port[8];
	int trusted; /* the client is in trusted_networks: it may relay */
	int local;   /* the local submission socket: a local user, trusted */

	struct smtp_auth auth;       /* SMTP AUTH and the logged-in user's rules */
	struct event *ev_auth_delay; /* a failed login's delay before its 535 */

	enum smtp_state state;
	enum smtp_wait wait;
	struct smtp_line_reader lines;
	unsigned errors;
	unsigned junk;         /* NOOP, RSET, HELP, VRFY since the last message */
	unsigned local_uid;    /* local submission: who submitted (SO_PEERCRED) */
	char local_user[64];   /* and that uid's login name, "" when unknown */
	const char *deadline;  /* what the io's deadline is for ("helo", "data"), or NULL */
	uint64_t data_started; /* usec (monotonic) when DATA began */
	int tls_started;       /* the handshake began */
	int tls_active;        /* ... and finished */
	char tls_version[32], tls_cipher[96];
	int tls_bits;
	int esmtp;
	char helo[256];

	/* the transaction */
	struct envelope envelope;
	uint64_t declared_size;
	char pending_rcpt[ENVELOPE_ADDR_MAX]; /* waiting for the lookup */
	char pending_orcpt[ENVELOPE_ADDR_MAX];
	unsigned pending_notify;
	char first_rcpt_display[ENVELOPE_ADDR_MAX];

	/* DATA */
	struct smtp_data_parser data;
	char queue_id[32];
	int spool_fd;
	char *data_buf;
	size_t data_len;
	uint64_t written;
	uint32_t crc;   /* CRC-32C of what was written */
	int data_error; /* errno of a failed spool write */
	unsigned messages;
	struct header_scan tls_required; /* "TLS-Required:" in the header (RFC 8689 5) */
	int tls_required_on;

	/* BDAT (RFC 3030): the transaction's chunks go to the spool file */
	int bdat_active;          /* a chunk was taken: the spool file is open or opening */
	uint64_t bdat_left;       /* octets of the current chunk still to read */
	uint64_t bdat_size;       /* the current chunk's size */
	int bdat_last;            /* the current chunk is the LAST one */
	int bdat_discard;         /* the current chunk is read only to be dropped */
	int bdat_refusal_error;   /* ... and its reply counts as a client error */
	int bdat_reset;           /* ... and the transaction ends with it */
	enum smtp_state bdat_prev; /* the state to go back to after a dropped chunk */
	char bdat_refusal[200];   /* the reply to a dropped chunk */
	uint64_t bdat_started;    /* usec (monotonic) when the current chunk began */
	uint64_t bdat_read;       /* octets of it read so far */
};

/* smtp_session.c: replies, deadlines, the transaction, the input loop */

/* Queues a reply line (CRLF added). */
void smtp_reply(struct smtp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A reply that counts as a client error; too many of them end the session. */
void smtp_reply_error(struct smtp_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The session ends once the replies queued so far have left. */
void smtp_close_after_reply(struct smtp_session *s);
/* A deadline WHAT, SECONDS from now, that holds whatever the client sends. */
void smtp_deadline_set(struct smtp_session *s, const char *what, unsigned seconds);
void smtp_deadline_clear(struct smtp_session *s);
/* Forgets the transaction; an open spool file is abandoned. */
void smtp_transaction_reset(struct smtp_session *s);
/* Handles buffered input until it runs out or the session must wait. */
void smtp_session_process(struct smtp_session *s);
/* AUTH, the command table's entry for the AUTH sub-machine. */
void smtp_cmd_auth(struct smtp_session *s, const char *arg);

/* smtp_command.c: runs one command line through the table. */
void smtp_session_command(struct smtp_session *s, const char *line, size_t len);

/* smtp_data.c: DATA */

/* Closes the spool file and frees the message buffer. */
void smtp_data_release(struct smtp_session *s);
/* DATA, the command table's entry. */
void smtp_cmd_data(struct smtp_session *s, const char *arg);
/* Feeds buffered input to the DATA machine. Returns 1 when data ended. */
int smtp_session_read_data(struct smtp_session *s, struct evbuffer *in);
/* End of data: refuse with the reason, or hand over to the queue. */
void smtp_data_end(struct smtp_session *s);
/* The envelope learns where the message comes from; then a spool file is
 * asked for: 1 when it is there at once (smtp_data_start() was called),
 * 0 when smtp_session_open_done() will bring it. */
int smtp_data_open(struct smtp_session *s);
/* Takes LEN octets of the message as stored: into the spool buffer (which
 * has room) and past the header checks. */
void smtp_data_append(struct smtp_session *s, const char *data, size_t len);
/* Writes the spool buffer out; called when it is full. */
void smtp_data_flush_buffer(struct smtp_session *s);
/* A deadline of data_timeout seconds from STARTED (usec) plus one more for
 * every data_min_rate of the OCTETS received since. */
void smtp_data_rate_deadline(struct smtp_session *s, uint64_t started, uint64_t octets);
uint64_t smtp_now_usec(void);

/* smtp_bdat.c: BDAT (RFC 3030) */

/* BDAT, the command table's entry. */
void smtp_cmd_bdat(struct smtp_session *s, const char *arg);
/* Reads the current chunk from IN; returns 1 once all of it was read. */
int smtp_session_read_bdat(struct smtp_session *s, struct evbuffer *in);
/* The current chunk was read: its reply, or the end of the message. */
void smtp_bdat_chunk_end(struct smtp_session *s);
/* The spool file could not be opened for the chunk at hand: it is read
 * and dropped, then REPLY (451/452) ends the transaction. */
void smtp_bdat_open_failed(struct smtp_session *s, const char *reply);

#endif
