/*
 * envelope.h: a message's envelope (sender, recipients and their DSN
 * parameters, where it came from), as the SMTP server session builds it,
 * the dispatcher sends it to the queue (proto/queue.h), and the queue keeps it.
 * How the queue stores it in a spool file is queue/spool_file.h.
 */
#ifndef SEALMAIL_ENVELOPE_H
#define SEALMAIL_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#define ENVELOPE_ADDR_MAX 512 /* a formatted path, quoted local part included */
#define ENVELOPE_MAX_RCPTS 10000

/* RFC 3461 NOTIFY; none set = not given (the default: FAILURE). */
enum envelope_notify {
	NOTIFY_NEVER = 1 << 0,
	NOTIFY_SUCCESS = 1 << 1,
	NOTIFY_FAILURE = 1 << 2,
	NOTIFY_DELAY = 1 << 3,
};
#define ENVELOPE_NOTIFY_ALL 15 /* every bit above */

struct envelope_rcpt {
	char addr[ENVELOPE_ADDR_MAX];  /* local@domain */
	char orcpt[ENVELOPE_ADDR_MAX]; /* ORCPT as given ("rfc822;a@b"), or "" */
	unsigned notify;
};

/* struct envelope flags, kept in the spool file and passed to the SMTP client. */
#define ENVELOPE_SMTPUTF8 0x1     /* MAIL ... SMTPUTF8 (RFC 6531) */
#define ENVELOPE_REQUIRETLS 0x2   /* MAIL ... REQUIRETLS (RFC 8689) */
#define ENVELOPE_TLS_OPTIONAL 0x4 /* "TLS-Required: No" without REQUIRETLS (RFC 8689 5) */
#define ENVELOPE_FLAGS_ALL 0x7    /* every flag above */

struct envelope {
	char id[32];
	uint64_t time;
	char sender[ENVELOPE_ADDR_MAX]; /* "" for the null sender */
	char helo[256];
	char client[64];
	char tls[160];   /* "TLSv1.3/TLS_AES_256_GCM_SHA384" or "" */
	char body[16];   /* "8bitmime", "7bit" or "" */
	char ret[8];     /* RFC 3461 RET: "full", "hdrs" or "" */
	char envid[128]; /* RFC 3461 ENVID as given (xtext), or "" */
	/* the client logged in, is in trusted_networks or submitted locally:
	 * only then do NOTIFY=SUCCESS, NOTIFY=DELAY and RET=FULL count, since
	 * anyone else chooses the sender they go to (backscatter) */
	int trusted;
	/* the [listen NAME] it came in on ("local": the submission socket;
	 * "" for the queue's own notices) and whether the client logged in
	 * (SMTP AUTH): for the Received-TLS: field, so no login name */
	char listener[64];
	int authenticated;
	/* the SMTP AUTH identity the client logged in as, for `queue show`;
	 * "" when it did not (or was queued before the name was kept) */
	char auth_user[ENVELOPE_ADDR_MAX];
	unsigned flags; /* ENVELOPE_* above */
	unsigned n_rcpts;
	struct envelope_rcpt *rcpts;
};

/* 1 when ORCPT is "addr-type;xtext" (RFC 3461 4.2) and fits: what a spool
 * file can store and the SMTP client can pass on as it is. */
int envelope_orcpt_ok(const char *orcpt);

void envelope_init(struct envelope *env);
void envelope_free(struct envelope *env);
/* Appends a recipient (ORCPT may be NULL; one that is not "type;xtext" or
 * too long is dropped). Returns -1 past ENVELOPE_MAX_RCPTS or when the
 * address is too long. */
int envelope_add_rcpt(struct envelope *env, const char *addr, unsigned notify, const char *orcpt);

#endif
