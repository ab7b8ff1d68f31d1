/*
 * queue_state.h: what the queue knows of a message beyond its envelope
 * (attempts, the next one, per-recipient progress and last status), and the
 * format of its state file queue/state/ID. The parser and formatter are
 * pure (bytes in, struct out); queue_state_file.c reads and writes the files.
 *
 * Format: one record a line, each ended by "\n":
 *   attempts N
 *   next T                    the time of the next attempt (Unix seconds)
 *   warned 0|1                the delay notice was sent
 *   held 0|1
 *   rcpt STATUS REPORTED TEXT one per recipient, in envelope order: enum
 *                             queue_rcpt_status, 0|1, the last status's text
 *   rcpt-status ENHANCED CODE the last status of the recipient just before:
 *                             its enhanced code ("-": none) and the remote
 *                             reply code (0: none)
 *   rcpt-via WHEN HELD RELAY TLS PEER LEVEL SOURCE
 *                             how the last remote attempt for the recipient
 *                             before travelled (struct queue_rcpt_record):
 *                             its time (Unix seconds), 1 when TLS policy
 *                             alone deferred it, then one word each ("-":
 *                             none; spaces and control characters become
 *                             '_')
 *   rcpt-evidence TEXT        the rule or record that chose the level
 *   rcpt-testing TEXT         "would have failed: ..." under a testing rule
 *                             (both after the rcpt-via they belong to)
 *   tls-warned 0|1            the early notice of a TLS policy deferral
 *                             was sent
 * Files written before "rcpt-status" existed load with no status for their
 * recipients (the DSN then gives the generic code of its action), files
 * before "rcpt-via" with no record. Records of unknown keys are skipped, so
 * a later version may add some; a known record that is malformed makes the
 * whole file invalid.
 */
#ifndef SEALMAIL_QUEUE_STATE_H
#define SEALMAIL_QUEUE_STATE_H

#include <stddef.h>
#include <time.h>

#include "mail/delivery.h"

#define QUEUE_STATE_LINE_MAX 1024 /* a record, "rcpt" with the longest text fits */

/* How the last remote attempt for a recipient travelled: struct
 * mta_report's words, for `queue show`, the DSNs and the held flag. Sizes
 * are struct mta_report's. */
struct queue_rcpt_record {
	time_t when;         /* of the attempt */
	unsigned char held;  /* deferred by TLS policy alone (report.policy_blocked) */
	char relay[320];     /* "host[address]:port", "" if none was reached */
	char tls[160];       /* "TLSv1.3/TLS_AES_256_GCM_SHA384", "" for plaintext */
	char peer[16];       /* "dane", "sts", "verified", "unchecked", "none" */
	char policy[16];     /* the level applied */
	char source[16];     /* which rule chose it: "default", "local", "memory", ... */
	char evidence[256];  /* that rule in words */
	char testing[256];   /* "would have failed: ..." or "" */
};

enum queue_rcpt_status {
	RCPT_PENDING,
	RCPT_DELIVERED,
	RCPT_FAILED, /* permanently, or expired: a DSN is due unless NOTIFY says no */
};

/* Where a delivered recipient went (RFC 3461 5.2). */
enum queue_rcpt_hop {
	RCPT_HOP_LOCAL,     /* a Maildir here: "Action: delivered" */
	RCPT_HOP_RELAYED,   /* a next hop that offers no DSN: "Action: relayed" */
	RCPT_HOP_PASSED_ON, /* a next hop that offers DSN took the request: no notice */
};

/* What the queue knows of one recipient beyond the envelope. */
struct queue_rcpt {
	unsigned char status;       /* enum queue_rcpt_status */
	unsigned char reported;     /* a DSN (or the decision not to send one) is done */
	unsigned char inflight;     /* part of a delivery in progress (not stored) */
	/* how it was delivered, for its NOTIFY=SUCCESS notice (not stored: the
	 * notice goes out at the end of the same attempt): enum queue_rcpt_hop */
	unsigned char hop;
	struct delivery_status last; /* of the last attempt */
	struct queue_rcpt_record *via; /* of the last remote attempt; NULL before one */
};

struct queue_state {
	unsigned attempts;
	time_t not_before;
	int warned;
	int held;
	struct queue_rcpt *rcpts; /* malloc'ed by the parser, their records too */
	unsigned n_rcpts;
	int tls_warned; /* the early notice of a TLS policy deferral went out */
};

/* A state file being parsed, fed in pieces of any size. */
struct queue_state_parser {
	struct queue_state *st;
	unsigned cap; /* of st->rcpts */
	char line[QUEUE_STATE_LINE_MAX];
	size_t len;
	const char *error; /* set once a record failed: the rest is ignored */
};

/* Starts parsing into *ST, which is emptied. */
void queue_state_parser_init(struct queue_state_parser *p, struct queue_state *st);
/* Takes the next LEN bytes. Returns 0, or -1 with *error_r once the file is
 * invalid (*ST is emptied then). */
int queue_state_parser_feed(struct queue_state_parser *p, const char *data, size_t len,
                            const char **error_r);
/* The end of the file. Returns 0 with *ST complete, or -1 with *error_r
 * (*ST emptied). */
int queue_state_parser_finish(struct queue_state_parser *p, const char **error_r);
/* The whole file BUF of LEN bytes at once. */
int queue_state_parse(const char *buf, size_t len, struct queue_state *st, const char **error_r);

/* The file for ST, malloc'ed; *len_r its length. Line ends and other
 * control characters in the texts become spaces, so every record stays one
 * line. */
char *queue_state_format(const struct queue_state *st, size_t *len_r);

/* Frees what the parser allocated and empties *ST. */
void queue_state_free(struct queue_state *st);
/* Frees the N recipients RCPTS and their records; NULL is fine. */
void queue_rcpts_free(struct queue_rcpt *rcpts, unsigned n);
/* R's record, made empty when it has none yet. */
struct queue_rcpt_record *queue_rcpt_record(struct queue_rcpt *r);
/* 1 when R waits because TLS policy alone deferred its last attempt. */
int queue_rcpt_tls_held(const struct queue_rcpt *r);

#endif
