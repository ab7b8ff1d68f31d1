/*
 * delivery.h: a remote delivery as the queue hands it to a dispatcher's SMTP
 * client (IMSG_MTA_DELIVER: one message, one destination domain, its
 * pending recipients) and the outcome that comes back (IMSG_MTA_RESULT),
 * with their IPC encoding; and struct delivery_status, what one attempt for
 * one recipient came to, which the queue keeps, stores and puts in DSNs.
 * Used by the queue (src/queue/) and the SMTP client (src/smtp/mta.c)
 * through the dispatcher.
 */
#ifndef SEALMAIL_DELIVERY_H
#define SEALMAIL_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#include "mail/envelope.h"

struct ipc_writer;

#define DELIVERY_ENHANCED_MAX 16 /* "5.123.456" and its NUL fit */
#define DELIVERY_TEXT_MAX 512

/* The outcome of one attempt for one recipient, as values: never parsed
 * back out of the text. */
struct delivery_status {
	char enhanced[DELIVERY_ENHANCED_MAX]; /* RFC 3463 "class.subject.detail", or "" */
	unsigned reply_code; /* the remote server's reply (RFC 5321 4.2), 0 when the text is ours */
	char text[DELIVERY_TEXT_MAX]; /* the reply ("550 5.1.1 no such user") or our reason */
};

/* Sets *ST; ENHANCED must be "" or a valid code (else "" is kept), TEXT is
 * cut to fit. */
void delivery_status_set(struct delivery_status *st, const char *enhanced, unsigned reply_code,
                         const char *text);
/* 1 when S is an enhanced status code (RFC 3463 2): class 2, 4 or 5, a
 * subject and a detail of 1 to 3 digits. */
int delivery_enhanced_valid(const char *s);
/* 1 when CODE can be a reply code: 0 (none) or 200 to 599. */
int delivery_reply_code_valid(unsigned code);

enum mta_outcome {
	MTA_DELIVERED,
	MTA_TEMPFAIL,
	MTA_PERMFAIL,
};

struct mta_rcpt {
	struct envelope_rcpt r;
	unsigned index; /* in the message's envelope */
	enum mta_outcome outcome;
	struct delivery_status status; /* enhanced[0] == '\0' while it has none */
};

/* How the connection that carried (or failed) a task was protected. */
struct mta_report {
	char relay[320]; /* "host[address]:port", or "" if none was reached */
	char tls[160];   /* "TLSv1.3/TLS_AES_256_GCM_SHA384" or "" */
	char peer[16];   /* "verified", "untrusted" or "none" */
	char policy[16]; /* the level applied */
	int peer_dsn;    /* the peer advertised DSN: NOTIFY etc. were passed on */
};

struct mta_task {
	uint64_t id; /* the queue's */
	char queue_id[32];
	char domain[256];
	char sender[ENVELOPE_ADDR_MAX];
	char body[16], ret[8], envid[128];
	int fd; /* the spool file, read with pread */
	uint64_t header_len, body_len;
	struct mta_rcpt *rcpts;
	unsigned n_rcpts;
	struct mta_report report;
	struct mta_task *next; /* in a destination's queue (the SMTP client's) */
};

/* Closes the task's file and frees it; NULL is fine. */
void mta_task_free(struct mta_task *task);

/* The task as the queue sends it (not the fd, which rides along). */
void mta_task_encode(const struct mta_task *task, struct ipc_writer *w);
/* A new task from the queue's message; NULL when malformed. */
struct mta_task *mta_task_decode(uint64_t id, const void *data, size_t len, int fd);

/* The outcome, as the dispatcher sends it back. */
void mta_result_encode(const struct mta_task *task, struct ipc_writer *w);
/* Fills the report and the recipients' outcomes of TASK (whose rcpts hold
 * the queue's indexes) from a result. Returns 0 or -1 when malformed. */
int mta_result_decode(struct mta_task *task, const void *data, size_t len);

#endif
