/*
 * imap_session_private.h: the IMAP server session's state and what its
 * files share: imap_session.c (life cycle, the io callback, the input
 * loop, timeouts, TLS, the store channel), imap_session_reply.c (replies,
 * CAPABILITY, flags and mailbox names as IMAP writes them),
 * imap_session_update.c (the end of every command: untagged updates, the
 * tagged reply; IDLE's updates), imap_session_command.c (the command table)
 * and the command groups imap_cmd_*.c. Also read by the unit test that
 * drives a real session.
 *
 * A command handler returns its reply as a value: OK, NO or BAD with a
 * code and text, or IMAP_PENDING when it asked another role and will end
 * the command later with imap_command_done() from a store continuation
 * (imap_store_fn).
 */
#ifndef SEALMAIL_IMAP_SESSION_PRIVATE_H
#define SEALMAIL_IMAP_SESSION_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "imap/imap_parse.h"
#include "imap/imap_session.h"
#include "mail/envelope.h"
#include "proto/store.h"

struct event;
struct io;

#define IMAP_TEXT_MAX 256           /* the human text of a reply */
#define IMAP_AUTH_LINE_MAX 12288    /* an AUTHENTICATE response line (as SMTP AUTH, RFC 4954 4) */
#define IMAP_IDLE_LINE_MAX 64       /* a line during IDLE: "DONE" */
#define IMAP_LITERAL_MINUS_MAX 4096 /* RFC 7888 LITERAL-: non-synchronising literals before login  \
	                             */
#define IMAP_PRELOGIN_DEADLINE                                                                     \
	300                     /* seconds from the connection to a login, whatever the traffic */
#define IMAP_CLOSING_TIMEOUT 10 /* seconds for the last lines to leave */

enum imap_state {
	IMAP_STATE_HANDSHAKE, /* implicit TLS: the handshake runs, no greeting yet */
	IMAP_STATE_NOT_AUTH,  /* RFC 9051 3.1 */
	IMAP_STATE_AUTH,      /* 3.2 */
	IMAP_STATE_SELECTED,  /* 3.3 */
	IMAP_STATE_TLS,       /* STARTTLS answered: the handshake starts once the OK left */
	IMAP_STATE_CLOSING,   /* the last lines are queued; the session ends */
};

/* The states a command may run in (the table's masks). */
#define IMAP_IN_NOT_AUTH (1u << IMAP_STATE_NOT_AUTH)
#define IMAP_IN_AUTH (1u << IMAP_STATE_AUTH)
#define IMAP_IN_SELECTED (1u << IMAP_STATE_SELECTED)
#define IMAP_IN_ANY (IMAP_IN_NOT_AUTH | IMAP_IN_AUTH | IMAP_IN_SELECTED)
#define IMAP_IN_LOGGED_IN (IMAP_IN_AUTH | IMAP_IN_SELECTED)

/* What the session's input is read as. */
enum imap_input {
	IMAP_INPUT_COMMAND, /* commands, through the parser */
	IMAP_INPUT_AUTH,    /* AUTHENTICATE's response line after "+ " */
	IMAP_INPUT_IDLE,    /* "DONE" after "+ idling" */
};

/* What the session waits for; no command is read meanwhile. */
enum imap_wait {
	IMAP_WAIT_NONE,
	IMAP_WAIT_AUTH,  /* the lookup role checks a password */
	IMAP_WAIT_STORE, /* a store answer: s->on_store takes it */
	IMAP_WAIT_DRAIN, /* output must leave before the command goes on (FETCH pacing) */
};

/* ENABLE (RFC 5161) and what enables implicitly (RFC 7162 3.1). */
enum imap_enabled {
	IMAP_ENABLED_REV2 = 1u << 0,
	IMAP_ENABLED_CONDSTORE = 1u << 1,
	IMAP_ENABLED_QRESYNC = 1u << 2,
};

enum imap_status {
	IMAP_OK,
	IMAP_NO,
	IMAP_BAD,
	IMAP_PENDING, /* the handler ends the command later (imap_command_done) */
};

/* A tagged reply, as a value. */
struct imap_reply {
	enum imap_status status;
	char code[PROTO_STORE_CODE_MAX]; /* without brackets; "" = none */
	char text[IMAP_TEXT_MAX];
};

struct imap_session;

/* One store answer held back (imap_session.c). */
struct imap_queued {
	uint32_t type;
	void *data;
	size_t len;
	int fd;
	struct imap_queued *next;
};

/* The continuation of a command that asked the store: every store
 * message for the session goes here until the next imap_store_request()
 * or imap_command_done(). Owns FD. */
typedef void imap_store_fn(struct imap_session *s, uint32_t type, const void *data, size_t len,
                           int fd);
/* What IMAP_WAIT_DRAIN resumes once the output drained. */
typedef void imap_drain_fn(struct imap_session *s);

/* The command being run. */
struct imap_cmd_ctx {
	char tag[64];
	char name[48];           /* "UID FETCH", for the texts */
	unsigned flags;          /* the table entry's (IMAP_CMD_*) */
	int uid;                 /* a UID command */
	struct imap_reply reply; /* the tagged reply while the updates run */
	int close_after;         /* LOGOUT: end once the reply left */
	int start_tls;           /* STARTTLS: the handshake once the reply left */
	int no_updates;          /* no untagged updates before this reply (STARTTLS, LOGOUT) */
	void *data;              /* the command's own state, freed with data_free */
	void (*data_free)(void *data);
};

struct imap_session {
	const struct imap_env *env;
	const struct config_listener *listener;
	uint64_t handle;
	char id[17];
	char client[64];
	char client_port[8];
	struct io *io;
	struct imap_parser *parser;

	enum imap_state state;
	enum imap_input input;
	enum imap_wait wait;
	imap_store_fn *on_store;
	imap_drain_fn *on_drain;
	int in_event; /* inside an entry point: a close waits for its end */

	int tls_started, tls_active;
	char tls_version[32], tls_cipher[96];
	int test_assume_tls; /* the unit test's hook: TLS taken as active (never from config) */

	char user[ENVELOPE_ADDR_MAX]; /* the canonical user once logged in */
	int store_login;              /* IMSG_STORE_LOGIN sent and not refused */
	char auth_method[16];         /* "LOGIN", "PLAIN": for the log */
	unsigned enabled;             /* enum imap_enabled */
	unsigned bad_in_row, auth_failures, commands;

	/* commands_per_second */
	uint64_t rate_second;
	unsigned rate_count;
	struct event *ev_rate;
	int throttled;

	/* the selected mailbox */
	char mailbox[PROTO_STORE_NAME_MAX];
	int readonly;
	uint32_t exists, recent, uidvalidity;
	uint64_t highestmodseq;
	char *saved_uids; /* SEARCHRES "$" (RFC 5182) as a UID set; NULL = empty */
	int changed;      /* IMSG_STORE_CHANGED came while updates could not be asked */

	/* store answers held while the output is full (FETCH pacing: what
	 * arrives is rendered only as the client reads) */
	struct imap_queued *queue_head, *queue_tail;

	struct imap_cmd_ctx cmd;
};

/* ---- imap_session.c ---------------------------------------------------- */

/* Handles buffered input until it runs out or the session must wait. */
void imap_session_process(struct imap_session *s);
/* Sends a store request (W's payload is freed; FD given away or -1) and
 * waits: the store's answers go to NEXT. */
void imap_store_request(struct imap_session *s, uint32_t type, struct ipc_writer *w, int fd,
                        imap_store_fn *next);
/* Waits until the output drained, then calls NEXT (FETCH pacing). */
void imap_wait_drain(struct imap_session *s, imap_drain_fn *next);
/* The session ends once the lines queued so far have left. */
void imap_close_after_output(struct imap_session *s);
/* The io's timeout for the state: login_timeout, idle_timeout or, in
 * IDLE, idle_command_timeout. */
void imap_session_set_timeout(struct imap_session *s);
/* The parser's bounds for the state (literal sizes before and after
 * login). */
void imap_session_set_limits(struct imap_session *s);
/* Logged in: the state, the bounds, the log line. */
void imap_session_logged_in(struct imap_session *s);
/* TLS is active, or the test hook says so. */
int imap_session_tls(const struct imap_session *s);
/* Test hook: take TLS as active on a cleartext connection, to test what
 * follows a login without a handshake. Not reachable from the config. */
void imap_session_test_assume_tls(struct imap_session *s);

/* ---- imap_session_reply.c ------------------------------------------------ */

struct imap_reply imap_reply_make(enum imap_status status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
struct imap_reply imap_pending(void);
/* The reply of a store RESULT. */
struct imap_reply imap_reply_from_store(uint32_t status, const char *code, const char *text,
                                        const char *ok_text);
/* The reply of a store answer that should be a RESULT (FD, when one came,
 * closed): as above, or NO [SERVERBUG] when the store sent anything else. */
struct imap_reply imap_reply_from_store_result(uint32_t type, const void *data, size_t len, int fd,
                                               const char *ok_text);
/* Queues an untagged line "* ..." (CRLF added). */
void imap_untagged(struct imap_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Queues a line as is (CRLF added), for "+ " continuations. */
void imap_line(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Queues O's text and empties O (keeps its buffer). */
void imap_out_flush(struct imap_session *s, struct imap_out *o);
/* Queues "TAG STATUS [CODE] text". */
void imap_tagged(struct imap_session *s, const char *tag, const struct imap_reply *r);
/* The capability list for the session's state, space-separated. */
void imap_capabilities(const struct imap_session *s, char *buf, size_t size);
/* "(\Seen \Answered kw)" of FLAGS and KEYWORDS (\Recent unless IMAP4rev2). */
void imap_out_flags(const struct imap_session *s, struct imap_out *o, uint32_t flags,
                    const char *keywords);
/* A flag list or a single flag -> system flags and keywords; -1 with
 * *error_r on a bad flag (\Recent may not be set, RFC 9051 2.3.2). */
int imap_flags_parse(const struct imap_arg *arg, uint32_t *flags_r, char *keywords, size_t size,
                     const char **error_r);
/* The text of an astring (atom, NIL as an atom, string, literal); NULL for a list. */
const char *imap_arg_text(const struct imap_arg *a);
/* 1 when A is an atom equal (any case) to WORD. */
int imap_arg_is(const struct imap_arg *a, const char *word);
/* A mailbox name from the client (modified UTF-7 unless IMAP4rev2 is on;
 * INBOX in any case) -> UTF-8 into OUT; -1 with *error_r. */
int imap_mailbox_arg(const struct imap_session *s, const struct imap_arg *a, char *out, size_t size,
                     const char **error_r);
/* A mailbox name (UTF-8) as this client reads it, appended to O. */
void imap_out_mailbox(const struct imap_session *s, struct imap_out *o, const char *name);
/* 1 when CONDSTORE is on (enabled, or by QRESYNC). */
int imap_condstore(const struct imap_session *s);
/* Replaces "$" (RFC 5182) in a set argument: *SET_R is the text to send,
 * *UID_R set to 1 when it became the saved UIDs. 0, or -1 with *error_r. */
int imap_set_arg(const struct imap_session *s, const struct imap_arg *a, const char **set_r,
                 int *uid_r, const char **error_r);

/* ---- imap_session_update.c ----------------------------------------------- */

/* Ends the running command with R: untagged updates first when a mailbox
 * is selected (RFC 9051 7), then the tagged reply, then the next command. */
void imap_command_done(struct imap_session *s, const struct imap_reply *r);
/* IMSG_STORE_CHANGED: during IDLE the updates go out now. */
void imap_session_changed(struct imap_session *s);
/* IDLE's DONE was read (DONE_OK), or another line (BAD). */
void imap_idle_done(struct imap_session *s, int done_ok);
/* "* SEQ FETCH (UID n FLAGS (...) MODSEQ (m))" for a flag change, into O;
 * FLAGS left out when SILENT (STORE .SILENT). */
void imap_out_flag_fetch(const struct imap_session *s, struct imap_out *o,
                         const struct proto_store_item *item, int silent);
/* Forgets the running command's own state. */
void imap_cmd_release(struct imap_session *s);

/* ---- imap_session_command.c ---------------------------------------------- */

/* Command flags in the table. */
enum imap_cmd_flag {
	IMAP_CMD_BEFORE_TLS = 1u << 0, /* allowed before TLS on a tls = required listener */
	IMAP_CMD_SEQ = 1u << 1,        /* by sequence number: no EXPUNGE before its reply
	                                  (RFC 9051 7.5.1) */
	IMAP_CMD_NO_ARGS = 1u << 2,
};

/* A handler: ARGS after the command's name (after "UID NAME" for UID
 * commands). */
typedef struct imap_reply imap_cmd_fn(struct imap_session *s, const struct imap_arg *args,
                                      unsigned n);

/* Runs one parsed command through the table. */
void imap_session_command(struct imap_session *s, struct imap_command *cmd);

/* ---- the command groups -------------------------------------------------- */

/* imap_cmd_any.c */
imap_cmd_fn imap_cmd_capability, imap_cmd_noop, imap_cmd_logout, imap_cmd_id, imap_cmd_enable;
/* imap_cmd_auth.c */
imap_cmd_fn imap_cmd_starttls, imap_cmd_login, imap_cmd_authenticate;
/* The lookup role's answer (imap_session_auth_done). */
void imap_auth_result(struct imap_session *s, int ok, const char *user);
/* AUTHENTICATE's response line (IMAP_INPUT_AUTH). */
void imap_auth_response(struct imap_session *s, const char *line, size_t len);
/* imap_cmd_mailbox.c */
imap_cmd_fn imap_cmd_select, imap_cmd_examine, imap_cmd_create, imap_cmd_delete, imap_cmd_rename,
    imap_cmd_subscribe, imap_cmd_unsubscribe, imap_cmd_namespace, imap_cmd_status;
/* STATUS items (RFC 9051 6.3.11, RFC 8438, RFC 7162), shared with LIST-STATUS. */
enum imap_status_item {
	IMAP_STATUS_MESSAGES = 1u << 0,
	IMAP_STATUS_UIDNEXT = 1u << 1,
	IMAP_STATUS_UIDVALIDITY = 1u << 2,
	IMAP_STATUS_UNSEEN = 1u << 3,
	IMAP_STATUS_DELETED = 1u << 4,
	IMAP_STATUS_SIZE = 1u << 5,
	IMAP_STATUS_RECENT = 1u << 6,
	IMAP_STATUS_HIGHESTMODSEQ = 1u << 7,
};
/* A STATUS item list -> *ITEMS_R; -1 when it is not one. */
int imap_status_items(struct imap_session *s, const struct imap_arg *a, unsigned *items_r);
/* "* STATUS name (...)" of R's ITEMS into O. */
void imap_out_status(const struct imap_session *s, struct imap_out *o, const char *name,
                     unsigned items, const struct proto_store_status_result *r);
/* imap_cmd_list.c */
imap_cmd_fn imap_cmd_list, imap_cmd_lsub;
/* imap_cmd_select.c */
imap_cmd_fn imap_cmd_close, imap_cmd_unselect, imap_cmd_expunge, imap_cmd_uid_expunge,
    imap_cmd_copy, imap_cmd_move, imap_cmd_idle, imap_cmd_check;
/* imap_cmd_fetch.c */
imap_cmd_fn imap_cmd_fetch, imap_cmd_store;
/* imap_cmd_search.c */
imap_cmd_fn imap_cmd_search;
/* imap_cmd_append.c */
imap_cmd_fn imap_cmd_append;

#endif
