/*
 * envelope.h: a message's envelope, as the dispatcher hands it to the queue
 * (over IPC) and as the queue stores it at the head of the spool file.
 *
 * Spool file format: the message exactly as received (CRLF line ends, after
 * dot-unstuffing), written by the dispatcher from offset 0; then the
 * envelope, written by the queue at commit: text records "key value\n"
 * after a first line "sealmail-queue 1", one "rcpt NOTIFY ORCPT ADDRESS"
 * record per recipient (NOTIFY a number, ORCPT "-" when absent), an empty
 * line; then a fixed-size trailer "\nsealmail-env OFFSET CRC\n" (16 and 8 hex
 * digits) giving where the envelope starts, i.e. the message's length, and
 * the CRC-32C of the message, so that recovery can tell a complete file.
 */
#ifndef SEALMAIL_ENVELOPE_H
#define SEALMAIL_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

struct ipc_writer;
struct ipc_reader;

#define ENVELOPE_ADDR_MAX 512 /* a formatted path, quoted local part included */
#define ENVELOPE_MAX_RCPTS 10000
#define ENVELOPE_HEADER_MAX (ENVELOPE_MAX_RCPTS * (ENVELOPE_ADDR_MAX + 8) + 8192)

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
	unsigned n_rcpts;
	struct envelope_rcpt *rcpts;
};

void envelope_init(struct envelope *env);
void envelope_free(struct envelope *env);
/* Appends a recipient (ORCPT may be NULL). Returns -1 past
 * ENVELOPE_MAX_RCPTS or when a field is too long. */
int envelope_add_rcpt(struct envelope *env, const char *addr, unsigned notify, const char *orcpt);

void envelope_encode(const struct envelope *env, struct ipc_writer *w);
/* Returns 0, or -1 when the payload is malformed. */
int envelope_decode(struct envelope *env, struct ipc_reader *r);

/* The spool header for ENV, malloc'ed; *len_r its length. */
char *envelope_format(const struct envelope *env, size_t *len_r);

#define ENVELOPE_TRAILER_LEN 40

/* What follows a message of BODY_LEN octets (CRC-32C BODY_CRC) in its spool
 * file: the envelope and the trailer. Malloc'ed; NULL when a field holds a
 * line end. */
char *envelope_format_block(const struct envelope *env, uint64_t body_len, uint32_t body_crc,
                            size_t *len_r);

/* Reads the trailer (the last ENVELOPE_TRAILER_LEN octets of a spool file).
 * Returns 0 or -1. */
int envelope_trailer_parse(const char *tail, size_t len, uint64_t *body_len_r,
                           uint32_t *body_crc_r);

/* Parses a spool header from BUF (LEN bytes, may hold more than the header).
 * On success *header_len_r is the offset of the message. Returns 0 or -1 with
 * *error_r. */
int envelope_parse(struct envelope *env, const char *buf, size_t len, size_t *header_len_r,
                   const char **error_r);

#endif
