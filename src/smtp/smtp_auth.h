/*
 * smtp_auth.h: SMTP AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN, and
 * what a logged-in user may do, as a sub-machine of the SMTP server session.
 *
 * The sub-machine writes no reply and knows no session: each step fills a
 * struct smtp_auth_out with the reply to send and what the session must do
 * next (hand credentials to the lookup role, wait before replying, close),
 * and smtp_session.c, its only caller, does it. So every step can be
 * tested without a socket (tests/unit/test_smtp_auth.c).
 */
#ifndef SEALMAIL_SMTP_AUTH_H
#define SEALMAIL_SMTP_AUTH_H

#include <stddef.h>

#include "mail/envelope.h"
#include "mail/header_scan.h"
#include "mail/mailbox_list.h"

struct config;
struct config_listener;

#define SMTP_AUTH_RESPONSE_MAX 12288 /* octets of a response line, RFC 4954 4 */
#define SMTP_AUTH_DELAY_MS 500       /* the first failure's delay; doubles each time */
#define SMTP_AUTH_DELAY_MAX_MS 8000
#define SMTP_AUTH_TEMPFAIL 2 /* smtp_auth_result()'s OK: try again later */

/* Where an AUTH exchange stands (RFC 4954 4). */
enum smtp_auth_step {
	SMTP_AUTH_IDLE,
	SMTP_AUTH_PLAIN,      /* "334 " sent: waiting for the PLAIN response */
	SMTP_AUTH_LOGIN_USER, /* "334 VXNlcm5hbWU6" sent */
	SMTP_AUTH_LOGIN_PASS, /* "334 UGFzc3dvcmQ6" sent */
};

/* What the session does after a step, once it has sent out->reply. */
enum smtp_auth_action {
	SMTP_AUTH_NEXT_NONE,  /* go on reading commands */
	SMTP_AUTH_NEXT_CHECK, /* give out->user and out->password to the lookup role, wait for
	                         its answer (smtp_auth_result), then smtp_auth_out_wipe() */
	SMTP_AUTH_NEXT_DELAY, /* wait out->delay_ms, then call smtp_auth_delay_over() */
	SMTP_AUTH_NEXT_CLOSE, /* send out->close_reply too, then close the session */
};

/* The outcome of one step. */
struct smtp_auth_out {
	char reply[512]; /* the reply line without CRLF; "" = none */
	int is_error;    /* the reply counts as a client error ([limits] errors) */
	enum smtp_auth_action next;
	char close_reply[320]; /* SMTP_AUTH_NEXT_CLOSE: the last line */
	unsigned delay_ms;     /* SMTP_AUTH_NEXT_DELAY */
	const char *user;      /* SMTP_AUTH_NEXT_CHECK: the user name as given */
	const char *password;  /* ... and the password; both point into buf or the machine */
	char buf[SMTP_AUTH_RESPONSE_MAX]; /* the decoded response: secret, wiped */
};

/* What the session is doing when AUTH arrives. */
struct smtp_auth_facts {
	int tls_active;     /* TLS is up */
	int greeted;        /* HELO/EHLO was accepted */
	int in_transaction; /* MAIL was accepted */
};

struct smtp_auth {
	const struct config *cfg;
	const struct config_listener *listener;
	const char *session_id; /* for logs; the session's own strings */
	const char *client;
	enum smtp_auth_step step;
	char user[ENVELOPE_ADDR_MAX];     /* who logged in; "" before */
	char login[ENVELOPE_ADDR_MAX];    /* the user name given, for LOGIN and logs */
	char (*owned)[ENVELOPE_ADDR_MAX]; /* addresses the user may send as */
	unsigned n_owned;
	unsigned failures;
	struct header_scan header; /* DATA: the sender fields, for the From: check */
	int header_scan_on;
	char refusal[MAILBOX_ADDR_MAX + ENVELOPE_ADDR_MAX + 160]; /* the last check's reply */
};

/* Starts the machine for a session on LISTENER; SESSION_ID and CLIENT are
 * the session's strings, named in logs, and must outlive the machine. */
void smtp_auth_init(struct smtp_auth *a, const struct config *cfg,
                    const struct config_listener *listener, const char *session_id,
                    const char *client);
/* Frees what the machine holds and wipes the user name given. */
void smtp_auth_free(struct smtp_auth *a);
/* Ends an exchange in progress without a result (the client's response
 * could not be read): forgets the step and the LOGIN name given. */
void smtp_auth_abort(struct smtp_auth *a);

/* The EHLO keyword line for AUTH, or NULL when AUTH is not offered now. */
const char *smtp_auth_ehlo(const struct smtp_auth *a, int tls_active);
/* The AUTH command with its argument ARG ("MECHANISM [initial-response]"). */
void smtp_auth_start(struct smtp_auth *a, const struct smtp_auth_facts *facts, const char *arg,
                     struct smtp_auth_out *out);
/* A response LINE of LEN octets while a->step is not SMTP_AUTH_IDLE. */
void smtp_auth_continue(struct smtp_auth *a, const char *line, size_t len,
                        struct smtp_auth_out *out);
/* The lookup role's answer to SMTP_AUTH_NEXT_CHECK, or to a client
 * certificate's login (BY_CERTIFICATE: no reply either way). USER is the
 * canonical name; OWNED the addresses it may send as. A failure asks for a
 * delay that doubles with each one; OK = SMTP_AUTH_TEMPFAIL (the lookup
 * role did not check: blocked or busy) is answered 454 at once. */
void smtp_auth_result(struct smtp_auth *a, int ok, int by_certificate, const char *user,
                      const char *const *owned, unsigned n_owned, struct smtp_auth_out *out);
/* The delay of a failure is over: the 535, and a close after
 * [submission] auth_failures of them. */
void smtp_auth_delay_over(struct smtp_auth *a, struct smtp_auth_out *out);
/* Wipes the secrets OUT holds; call after every step. */
void smtp_auth_out_wipe(struct smtp_auth_out *out);

/* Splits a decoded PLAIN response (RFC 4616 2: authzid NUL authcid NUL
 * passwd; MSG[LEN] is a NUL) into its parts, which point into MSG. Returns
 * 0, or -1 with *error_r when it has not exactly three parts. Pure. */
int smtp_auth_plain_split(char *msg, size_t len, char **authzid_r, char **authcid_r,
                          char **password_r, const char **error_r);

/* 0 when the logged-in user (if any) may use SENDER as the envelope
 * sender; otherwise -1 with *refusal_r, the reply (a client error). */
int smtp_auth_check_sender(struct smtp_auth *a, const char *sender, const char **refusal_r);
/* At the end of DATA: 0 when every From:, Sender:, Resent-From: and
 * Resent-Sender: address is one the user owns; otherwise -1 with
 * *refusal_r, the reply naming the field and the problem. */
int smtp_auth_check_from_header(struct smtp_auth *a, const char **refusal_r);
/* DATA: feeds the message, as the DATA machine produces it, to the header
 * scanner (logged-in sessions with check_from_header only). */
void smtp_auth_header_append(struct smtp_auth *a, const char *data, size_t len);
/* Forgets the header of the last transaction. */
void smtp_auth_header_reset(struct smtp_auth *a);

#endif
