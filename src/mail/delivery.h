/*
 * delivery.h: a remote delivery as the dispatcher's SMTP client runs it
 * (struct mta_task: one message, one destination domain, its pending
 * recipients, made by the dispatcher from the queue's IMSG_MTA_DELIVER of
 * proto/queue.h) and its outcome; and struct delivery_status, what one
 * attempt for one recipient came to, which the queue keeps, stores and
 * puts in DSNs. Used by the queue (src/queue/), the SMTP client
 * (src/smtp/mta.c) and the dispatcher.
 */
#ifndef SEALMAIL_DELIVERY_H
#define SEALMAIL_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#include "mail/envelope.h"

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
	char peer[16];   /* how the peer was authenticated: "dane", "sts", "verified"
	                    (PKIX), "unchecked" (TLS, the certificate not checked
	                    because the level did not ask for it) or "none" */
	char policy[16]; /* the level applied ("dane-only" fits) */
	int peer_dsn;    /* the peer advertised DSN: NOTIFY etc. were passed on */
	/* which rule chose the level: "default", "local", "dane", "sts",
	 * "requiretls", "memory", "override", "tls-required" */
	char source[16];
	char evidence[256]; /* the rule's words: "rule x at FILE:12", "TLSA ... (DNSSEC secure)" */
	char testing[256];  /* "would have failed: ..." under a testing rule or policy, else "" */
	/* TLS-RPT (RFC 8460 4.3): the policy type the attempt was judged by
	 * ("tlsa", "sts", "no-policy-found"), the result type of a failure ("" on
	 * success), the MX host and address, the STS policy id, and the rua of
	 * the domain's _smtp._tls record ("" when none) */
	char rpt_policy[16];
	char rpt_type[40];
	char rpt_mx[256];
	char rpt_ip[64];
	char sts_id[64];
	char rua[512];
	uint32_t policy_blocked;  /* deferred by TLS policy alone: the queue holds it */
	uint32_t peer_requiretls; /* the peer offered REQUIRETLS (RFC 8689) */
};

/* In struct mta_task's flags beside the envelope's ENVELOPE_* flags: the
 * queue releases the message once with its TLS level lowered to "may"
 * (`sealmail queue release ID --tls-override`, logged as an override). */
#define MTA_TASK_TLS_OVERRIDE 0x100

/* Downgrade memory levels (struct mta_task seen_level). */
enum tls_seen {
	TLS_SEEN_PLAINTEXT = 0,
	TLS_SEEN_ENCRYPTED = 1,
	TLS_SEEN_AUTHENTICATED = 2,
};

struct mta_task {
	uint64_t id; /* the queue's */
	char queue_id[32];
	char domain[256];
	char sender[ENVELOPE_ADDR_MAX];
	char body[16], ret[8], envid[128];
	int fd; /* the spool file, read with pread */
	uint64_t header_len, body_len;
	uint32_t flags;      /* ENVELOPE_* (mail/envelope.h) and MTA_TASK_* */
	uint32_t seen_level; /* enum tls_seen: the best protection remembered for the domain */
	uint64_t seen_time;  /* when it was last seen (UTC seconds); 0 = nothing remembered */
	struct mta_rcpt *rcpts;
	unsigned n_rcpts;
	struct mta_report report;
	struct mta_task *next; /* in a destination's queue (the SMTP client's) */
};

/* Closes the task's file and frees it; NULL is fine. */
void mta_task_free(struct mta_task *task);

#endif
