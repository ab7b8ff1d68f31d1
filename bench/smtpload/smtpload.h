/*
 * smtpload.h: what smtpload's files share: the options (options.c), the run
 * (smtpload.c: scheduling, counters, results) and the sessions (session.c:
 * one SMTP client connection each, over one libevent loop).
 */
#ifndef SMTPLOAD_H
#define SMTPLOAD_H

#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "reply.h"

#define SMTPLOAD_SESSIONS_MAX 100000   /* -s and -i */
#define SMTPLOAD_MESSAGES_MAX 10000000 /* -m: one latency sample each is kept */
#define SMTPLOAD_SIZE_MAX (64u << 20)  /* -l, octets */
#define SMTPLOAD_RCPTS_MAX 1000        /* -r, and the -t list */
#define SMTPLOAD_ADDRESS_MAX 254       /* -f, -t (RFC 5321 4.5.3.1.3 path less <>) */
#define SMTPLOAD_NAME_MAX 255          /* -e, -S */
#define SMTPLOAD_RATE_MAX 1000000.0    /* -q, messages per second */
#define SMTPLOAD_TIMEOUT_MAX 3600      /* -w, seconds */
#define SMTPLOAD_ERROR_MAX 2048        /* the message printed on failure */

enum smtpload_transport { TRANSPORT_NONE, TRANSPORT_STARTTLS, TRANSPORT_IMPLICIT };

struct smtpload_options {
	unsigned sessions;
	unsigned long messages;
	unsigned long size;
	unsigned rcpts_per_message;
	const char *sender;
	const char *rcpts[SMTPLOAD_RCPTS_MAX];
	unsigned n_rcpts;
	enum smtpload_transport transport;
	int new_connection; /* -N */
	int resume;         /* -R */
	int no_pipelining;  /* -P */
	double rate;        /* -q; 0: closed loop */
	unsigned idle;      /* -i; 0: not idle mode */
	const char *ehlo;
	const char *sni;    /* NULL: none */
	unsigned timeout;   /* -w */
	int json;           /* -j */
	const char *target; /* HOST:PORT as given */
	struct sockaddr_storage addr;
	socklen_t addr_len;
};

/* Parses ARGV into *O; on a usage error prints why and the usage to stderr
 * and returns -1 (smtpload then exits 2). */
int smtpload_options_parse(struct smtpload_options *o, int argc, char **argv);

/* The command a reply answers, for the checks and the error message. */
enum smtpload_command {
	CMD_GREETING,
	CMD_EHLO,
	CMD_STARTTLS,
	CMD_MAIL,
	CMD_RCPT,
	CMD_DATA,
	CMD_DOT,
	CMD_QUIT,
};

struct smtpload_expect {
	enum smtpload_command cmd;
	unsigned code;       /* the one reply code accepted */
	unsigned rcpt_index; /* CMD_RCPT: which of the options' recipients */
};

enum smtpload_session_state {
	SESSION_UNUSED,     /* no connection, none wanted yet */
	SESSION_CONNECTING, /* TCP, then TLS for implicit */
	SESSION_HANDSHAKE,  /* TLS after STARTTLS */
	SESSION_TALKING,    /* replies expected */
	SESSION_WAITING,    /* connected, no message to send yet (open loop) */
	SESSION_HOLDING,    /* idle mode: ready, held until stdin's EOF */
	SESSION_FINISHED,   /* closed for good */
};

struct smtpload_run;

struct smtpload_session {
	struct smtpload_run *run;
	unsigned id; /* 1-based, as printed */
	enum smtpload_session_state state;
	struct bufferevent *bev;
	unsigned bev_generation; /* changes when bev is replaced or freed */
	int fd;
	SSL *ssl;
	int tls_done;        /* the TLS handshake completed on this connection */
	unsigned extensions; /* of the last EHLO reply */
	struct smtpload_reply_parser parser;
	struct smtpload_expect expect[SMTPLOAD_RCPTS_MAX + 2];
	unsigned expect_head, expect_count;
	int has_message;        /* a message number was taken for this connection */
	unsigned long message;  /* its number, 0-based */
	int message_sent;       /* -N: the connection's message is done */
	int dot_unwritten;      /* the final "." is queued, not all written yet */
	struct timespec dot_at; /* when the final "." was written (the output drained) */
	SSL_SESSION *saved;     /* -R: the newest session this slot got */
	char *body;             /* this slot's copy of the message (headers, ".") */
	struct smtpload_session *next_waiting;
};

struct smtpload_run {
	const struct smtpload_options *o;
	struct event_base *base;
	SSL_CTX *ssl_ctx;
	struct smtpload_session *sessions;
	unsigned n_sessions;
	unsigned open_sessions;    /* not UNUSED/FINISHED... counted for the end */
	unsigned started_sessions; /* idle mode: how many have been started */
	unsigned ready_sessions;   /* idle mode: how many are holding */
	unsigned handshaking;      /* idle mode: started and not yet holding */
	int closing;               /* idle mode: stdin's EOF or SIGTERM came */
	int stdin_ended;           /* idle mode: stdin (a file) was read to its end */
	/* the message, built once */
	char *body_template;
	size_t body_len;        /* octets including the final ".\r\n" */
	size_t body_seq_offset; /* where the 10-digit message number goes */
	char *group_buffer;     /* where a MAIL..DATA group is put together */
	size_t group_size;
	/* scheduling */
	unsigned long taken;              /* message numbers handed out */
	unsigned long released;           /* open loop: numbers that may be handed out */
	unsigned long completed;          /* messages that got their 250 */
	struct smtpload_session *waiting; /* open loop: sessions without work */
	struct event *rate_timer;
	/* counters */
	unsigned long long connections, tls, resumed;
	uint32_t *latency_us;
	struct timespec started_at, ended_at;
	int failed;
	char error[SMTPLOAD_ERROR_MAX];
};

/* session.c */
void session_init(struct smtpload_session *s, struct smtpload_run *run, unsigned id);
/* Opens a connection for S (which has none); failures go to run_fail. */
void session_connect(struct smtpload_session *s);
/* Gives S, waiting with an open connection, its next message or its QUIT. */
void session_wake(struct smtpload_session *s);
/* Idle mode: sends QUIT on S's held connection. */
void session_quit(struct smtpload_session *s);
void session_free(struct smtpload_session *s);
/* -R: SSL_CTX_sess_set_new_cb: keeps the newest session (with TLS 1.3, a
 * ticket that arrived after the handshake) in the slot the SSL belongs to. */
int session_new_ticket(SSL *ssl, SSL_SESSION *session);

/* smtpload.c */
double now_seconds(void);
/* Records the first failure (printed at the end) and stops the loop. */
void run_fail(struct smtpload_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Takes the next message number into *number_r: 1, or 0 when none may be
 * taken now (all taken, or the open loop has not released one yet). */
int run_take_message(struct smtpload_run *run, unsigned long *number_r);
/* 1 when every message has been taken. */
int run_all_taken(const struct smtpload_run *run);
/* S has a connection but nothing to do until the rate timer releases work. */
void run_park(struct smtpload_run *run, struct smtpload_session *s);
/* S's message got its 250 after LATENCY_US. */
void run_message_done(struct smtpload_run *run, uint32_t latency_us);
/* S is ready (idle mode). */
void run_session_ready(struct smtpload_run *run, struct smtpload_session *s);
/* S has no connection and wants none. */
void run_session_finished(struct smtpload_run *run, struct smtpload_session *s);

#endif
