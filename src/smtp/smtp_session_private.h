/*
 * smtp_session_private.h: the SMTP server session's state, shared by
 * smtp_session.c (the protocol) and smtp_auth.c (SMTP AUTH, the
 * submission sender rules). Nothing else includes it.
 */
#ifndef SEALMAIL_SMTP_SESSION_PRIVATE_H
#define SEALMAIL_SMTP_SESSION_PRIVATE_H

#include <stdint.h>

#include "mail/header_scan.h"
#include "mail/envelope.h"
#include "smtp/smtp_parse.h"
#include "smtp/smtp_session.h"

struct event;
struct io;

enum smtp_state {
	SMTP_STATE_CONNECTED, /* no HELO/EHLO yet */
	SMTP_STATE_READY,     /* after HELO/EHLO, no transaction */
	SMTP_STATE_MAIL,      /* MAIL accepted */
	SMTP_STATE_DATA,      /* receiving the message */
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

/* Where an AUTH exchange stands (RFC 4954 4). */
enum smtp_auth_step {
	SMTP_AUTH_IDLE,
	SMTP_AUTH_PLAIN,      /* "334 " sent: waiting for the PLAIN response */
	SMTP_AUTH_LOGIN_USER, /* "334 VXNlcm5hbWU6" sent */
	SMTP_AUTH_LOGIN_PASS, /* "334 UGFzc3dvcmQ6" sent */
};

struct smtp_session {
	const struct smtp_env *env;
	const struct config_listener *listener;
	uint64_t handle;
	char id[17]; /* for logs */
	struct io *io; /* the connection, plaintext or TLS */
	char client[64]; /* "IP" */
	char client_port[8];
	int trusted; /* the client is in trusted_networks: it may relay */
	int local;   /* the local submission socket: a local user, trusted */

	/* SMTP AUTH */
	enum smtp_auth_step auth_step;
	char auth_user[ENVELOPE_ADDR_MAX];  /* who logged in; "" before */
	char auth_login[ENVELOPE_ADDR_MAX]; /* LOGIN: the user name given */
	char (*owned)[ENVELOPE_ADDR_MAX];   /* addresses the user may send as */
	unsigned n_owned;
	unsigned auth_failures;
	struct event *ev_auth_delay;
	struct header_scan header; /* DATA: the sender fields, for the From: check */
	int header_scan_on;

	enum smtp_state state;
	enum smtp_wait wait;
	struct smtp_line_reader lines;
	unsigned errors;
	unsigned junk; /* NOOP, RSET, HELP, VRFY since the last message */
	const char *deadline; /* what the io's deadline is for ("helo", "data"), or NULL */
	uint64_t data_started; /* usec (monotonic) when DATA began */
	int tls_started; /* the handshake began */
	int tls_active;  /* ... and finished */
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
	uint32_t crc; /* CRC-32C of what was written */
	int data_error; /* errno of a failed spool write */
	unsigned messages;
};

/* Queues a reply line (CRLF added). */
void smtp_reply(struct smtp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, counting a client error; too many close the session. */
void smtp_reply_error(struct smtp_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void smtp_close_after_reply(struct smtp_session *s);
/* Handles buffered input until it runs out or the session must wait. */
void smtp_session_process(struct smtp_session *s);

/* smtp_auth.c */
/* Splits a decoded PLAIN response (RFC 4616 2: authzid NUL authcid NUL
 * passwd; MSG[LEN] is a NUL) into its parts, which point into MSG. Returns
 * 0, or -1 with *error_r when it has not exactly three parts. Pure. */
int smtp_auth_plain_split(char *msg, size_t len, char **authzid_r, char **authcid_r,
                          char **password_r, const char **error_r);
/* The EHLO keyword line for AUTH, or NULL when AUTH is not offered now. */
const char *smtp_auth_ehlo(const struct smtp_session *s);
void smtp_cmd_auth(struct smtp_session *s, const char *arg);
/* A line while an AUTH exchange waits for the client's response. */
void smtp_auth_continue(struct smtp_session *s, const char *line, size_t len);
/* 0 when the authenticated (or local) client may use SENDER; otherwise
 * replies itself and returns -1. */
int smtp_auth_check_sender(struct smtp_session *s, const char *sender);
/* At the end of DATA: 0 when every From:, Sender:, Resent-From: and
 * Resent-Sender: address is one the user owns; otherwise *REPLY_R is the
 * refusal, naming the field and the problem. */
int smtp_auth_check_from_header(struct smtp_session *s, const char **reply_r);
/* DATA: feeds the message, as the DATA machine produces it, to the header
 * scanner (logged-in sessions only). */
void smtp_auth_header_append(struct smtp_session *s, const char *data, size_t len);
/* Forgets the header of the last transaction. */
void smtp_auth_header_reset(struct smtp_session *s);
void smtp_auth_free(struct smtp_session *s);

#endif
