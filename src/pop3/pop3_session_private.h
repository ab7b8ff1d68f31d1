/*
 * pop3_session_private.h: the POP3 session's state and the functions its
 * files share: pop3_session.c (life cycle, input, replies, TLS, the store's
 * and the lookup role's answers routed), pop3_command.c (the command table
 * and the handlers of both states), pop3_maildrop.c (the store
 * conversation: login, select, the scan of UIDs and sizes, QUIT's
 * deletions) and pop3_retr.c (RETR and TOP streamed from the message
 * file). Also read by the unit test that drives a real session.
 */
#ifndef SEALMAIL_POP3_SESSION_PRIVATE_H
#define SEALMAIL_POP3_SESSION_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "mail/dotstuff.h"
#include "mail/envelope.h"
#include "pop3/pop3_parse.h"
#include "pop3/pop3_session.h"

struct io;

/* Failed logins before the session ends (the lookup role delays each). */
#define POP3_AUTH_FAILURES_MAX 3
/* Octets of a message file read at a time while sending it: the output
 * holds at most IO_OUTPUT_MAX plus twice this. */
#define POP3_READ_CHUNK (16 * 1024)
/* A maildrop of more messages than this is refused (the compact array is
 * 16 octets a message). */
#define POP3_MESSAGES_MAX 1000000
/* Room kept below PROTO_STORE_SET_MAX when QUIT writes the UID set of the
 * marked messages, round by round. */
#define POP3_SET_SLACK 32

enum pop3_state {
	POP3_STATE_AUTHORIZATION, /* RFC 1939 4 */
	POP3_STATE_TRANSACTION,   /* RFC 1939 5 */
	POP3_STATE_UPDATE,        /* RFC 1939 6: QUIT's deletions under way */
	POP3_STATE_TLS,           /* STLS's +OK queued, then the handshake */
	POP3_STATE_CLOSING,       /* the last reply is queued */
};

/* What the session waits for; no command is read meanwhile. */
enum pop3_wait {
	POP3_WAIT_NONE,
	POP3_WAIT_AUTH,    /* the lookup role checks the password */
	POP3_WAIT_LOGIN,   /* the store's answer to LOGIN */
	POP3_WAIT_SELECT,  /* ... to SELECT INBOX */
	POP3_WAIT_SCAN,    /* ... to FETCH 1:* (UIDs and sizes) */
	POP3_WAIT_MESSAGE, /* ... to the FETCH of one message's file */
	POP3_WAIT_SEND,    /* a message or listing is going out, paced by IO_DRAINED */
	POP3_WAIT_FLAGS,   /* QUIT: +\Deleted on the marked UIDs */
	POP3_WAIT_EXPUNGE, /* QUIT: UID EXPUNGE of them */
};

/* A multi-line LIST or UIDL answer under way. */
enum pop3_listing {
	POP3_LISTING_NONE,
	POP3_LISTING_LIST,
	POP3_LISTING_UIDL,
};

/* One message of the maildrop, numbered by its index + 1. */
struct pop3_msg {
	uint64_t size; /* octets with CRLF line ends (RFC 1939 LIST) */
	uint32_t uid;
	uint32_t deleted; /* marked by DELE */
};

/* TOP's cut of the message: the header, the blank line, LINES body lines. */
struct pop3_top {
	int active;
	int in_body;
	int at_line_start;
	unsigned lines_left;
	int done;
};

struct pop3_session {
	const struct pop3_env *env;
	const struct config_listener *listener;
	uint64_t handle;
	char id[17]; /* for logs */
	struct io *io;
	char client[64];
	char client_port[8];

	enum pop3_state state;
	enum pop3_wait wait;
	struct pop3_line_reader lines;
	unsigned bad;           /* bad commands in a row */
	unsigned auth_failures; /* failed logins */
	int sasl_pending;       /* AUTH PLAIN sent "+ ": the next line is the response */
	int tls_started, tls_active;
	char tls_version[32], tls_cipher[96];
	char user[ENVELOPE_ADDR_MAX]; /* USER's argument, then the canonical name */
	const char *mech;             /* "USER" or "PLAIN", for logs */
	int store_login;              /* the store knows this session: LOGOUT at the end */

	/* the maildrop */
	uint32_t uidvalidity;
	uint32_t exists; /* what SELECT said */
	struct pop3_msg *msgs;
	unsigned n_msgs, msgs_cap;
	uint32_t scan_items; /* FETCH_ITEMs QUIT's flags change reported */

	/* LIST and UIDL of every message, paced by the output */
	int listing; /* enum pop3_listing */
	unsigned list_next;

	/* RETR and TOP */
	unsigned cur; /* the message's index */
	int retr_fd;  /* its file, once the store sent it */
	int got_item;
	struct smtp_dotstuff stuff;
	struct pop3_top top;

	/* QUIT: the marked messages in rounds of one UID set each */
	unsigned quit_next;  /* index of the first marked message not done yet */
	unsigned quit_round; /* marked messages in this round's set */
	char *quit_set;
	unsigned removed; /* messages the rounds removed */
	unsigned retrieved;
};

/* pop3_session.c */

/* Queues a reply line (CRLF added). */
void pop3_reply(struct pop3_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A reply to a command that was not understood or not allowed now; too
 * many in a row end the session. */
void pop3_reply_bad(struct pop3_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The session ends once the replies queued so far have left. */
void pop3_close_after_reply(struct pop3_session *s);
/* Sends one store request of TYPE with W's payload (freed). */
void pop3_store_send(struct pop3_session *s, uint32_t type, struct ipc_writer *w);
/* The store said something the session cannot use: an error to the client
 * (when a command waits for it) and the end. Deletes nothing. */
void pop3_store_failed(struct pop3_session *s, const char *why);
/* Handles buffered input until it runs out or the session must wait. */
void pop3_session_process(struct pop3_session *s);
/* Puts TLS under the session once STLS's +OK has left. */
int pop3_session_start_tls(struct pop3_session *s);

/* pop3_command.c */

/* Runs one command line (LEN octets, modified in place) through the table. */
void pop3_session_command(struct pop3_session *s, char *line, size_t len);
/* The line answering AUTH PLAIN's "+ " continuation. */
void pop3_session_sasl_response(struct pop3_session *s, char *line, size_t len);
/* Output drained during LIST or UIDL: the next lines, or the end. */
void pop3_listing_continue(struct pop3_session *s);
/* Is USER / PASS / AUTH allowed now (TLS is up, or the listener allows it)? */
int pop3_login_allowed(const struct pop3_session *s);

/* pop3_maildrop.c */

/* The password was right: log in to the store, select INBOX, scan it. */
void pop3_maildrop_open(struct pop3_session *s);
/* QUIT in TRANSACTION: remove the marked messages, then +OK and close. */
void pop3_maildrop_update(struct pop3_session *s);
/* The store's answers while the maildrop opens or QUIT updates it. */
void pop3_maildrop_result(struct pop3_session *s, const void *data, size_t len);
void pop3_maildrop_selected(struct pop3_session *s, const void *data, size_t len);
void pop3_maildrop_item(struct pop3_session *s, const void *data, size_t len);
void pop3_maildrop_done(struct pop3_session *s, const void *data, size_t len);
/* "uidvalidity.uid", the message's UIDL (RFC 1939 7), into BUF. */
void pop3_maildrop_uidl(const struct pop3_session *s, unsigned index, char *buf, size_t size);

/* pop3_retr.c */

/* RETR (TOP with TOP_LINES >= 0: the header and that many body lines) of
 * message INDEX: asks the store for its file. */
void pop3_retr_start(struct pop3_session *s, unsigned index, long top_lines);
/* The store's FETCH_ITEM (with the file's FD) and FETCH_DONE for it. */
void pop3_retr_item(struct pop3_session *s, const void *data, size_t len, int fd);
void pop3_retr_done(struct pop3_session *s, const void *data, size_t len);
/* Output drained while sending: the next chunk, or the end. */
void pop3_retr_continue(struct pop3_session *s);
/* Drops a message being sent (the session ends). */
void pop3_retr_release(struct pop3_session *s);

#endif
