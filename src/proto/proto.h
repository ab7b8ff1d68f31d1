/*
 * proto.h: what every IPC interface of sealmail shares: the message types
 * (one enum, so a type never means two things), the result enums that
 * travel in them, and the helpers the per-interface encoders and decoders
 * use (proto/queue.h, proto/lookup.h, proto/ctl.h, proto/store.h). lib/ipc.h is the
 * framing. Each request carries an id chosen by the sender; the reply
 * carries the same id.
 *
 * Every decoder has the same contract: it takes a payload and its length,
 * returns 0 with the message filled in, or -1 with *error_r set and the
 * message zeroed (nothing to free); it never reads past the payload,
 * refuses trailing bytes, and bounds every count by what the payload can
 * hold. An encoder writes only what its decoder accepts back.
 */
#ifndef SEALMAIL_PROTO_H
#define SEALMAIL_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "lib/ipc.h"

enum imsg_type {
	/* dispatcher <-> lookup: proto/lookup.h */
	IMSG_LOOKUP_RCPT = 1,
	IMSG_LOOKUP_RCPT_RESULT,
	IMSG_AUTH_CHECK,
	IMSG_AUTH_RESULT,
	IMSG_LOOKUP_FORGET,
	IMSG_LOOKUP_HOSTS,
	IMSG_LOOKUP_HOSTS_RESULT,

	/* dispatcher <-> queue: proto/queue.h */
	IMSG_QUEUE_POOL,
	IMSG_QUEUE_POOL_FILE,
	IMSG_QUEUE_COMMIT,
	IMSG_QUEUE_COMMIT_RESULT,
	IMSG_QUEUE_ABORT,
	IMSG_MTA_DELIVER,
	IMSG_MTA_RESULT,
	IMSG_DISPATCHER_RETIRING,

	/* parent -> queue, lookup: proto/ctl.h */
	IMSG_CTL_ADD_CHANNEL,
	IMSG_CTL_CONFIG,
	IMSG_CTL_USERS,
	IMSG_CTL_ALIASES,

	/* dispatcher <-> store: proto/store.h */
	IMSG_STORE_LOGIN,
	IMSG_STORE_LOGOUT,
	IMSG_STORE_LIST,
	IMSG_STORE_LIST_RESULT,
	IMSG_STORE_MAILBOX,
	IMSG_STORE_STATUS,
	IMSG_STORE_STATUS_RESULT,
	IMSG_STORE_SELECT,
	IMSG_STORE_SELECT_RESULT,
	IMSG_STORE_UNSELECT,
	IMSG_STORE_FETCH,
	IMSG_STORE_FETCH_ITEM,
	IMSG_STORE_FETCH_DONE,
	IMSG_STORE_FLAGS,
	IMSG_STORE_SEARCH,
	IMSG_STORE_SEARCH_RESULT,
	IMSG_STORE_COPY,
	IMSG_STORE_APPEND,
	IMSG_STORE_EXPUNGE,
	IMSG_STORE_UPDATES,
	IMSG_STORE_UPDATES_RESULT,
	IMSG_STORE_RESULT,
	IMSG_STORE_CHANGED,
};

/* The status of IMSG_QUEUE_POOL_FILE and IMSG_QUEUE_COMMIT_RESULT; a
 * session answers a failure 451 4.3.0, or 452 4.3.1 when the spool's file
 * system is full (RFC 3463 X.3.1). */
enum queue_result {
	QUEUE_RESULT_FAILED = 0,
	QUEUE_RESULT_OK = 1,
	QUEUE_RESULT_NO_SPACE = 2, /* ENOSPC or EDQUOT */
};

/* The status of IMSG_LOOKUP_HOSTS_RESULT: the lookup role's DNS answer
 * (enum dns_status of dns/dns.h, which lookup.c checks is the same). */
enum lookup_hosts_status {
	LOOKUP_HOSTS_OK,
	LOOKUP_HOSTS_NXDOMAIN, /* the domain does not exist: permanent */
	LOOKUP_HOSTS_NULL_MX,  /* RFC 7505: the domain accepts no mail: permanent */
	LOOKUP_HOSTS_TEMPFAIL, /* try again later */
};

/* The answer to IMSG_LOOKUP_RCPT. */
enum lookup_result {
	LOOKUP_OK,
	LOOKUP_UNKNOWN_USER, /* 550 5.1.1 */
	LOOKUP_NOT_LOCAL,    /* relaying; 554 5.7.1 */
	LOOKUP_TEMPFAIL,     /* 451 4.3.0 */
};

/* ---- helpers for the encoders and decoders ------------------------------ */

/* A list of strings on the wire: u32 n, n x str. */
struct proto_strings {
	char **v;
	unsigned n;
};

/* Writes N strings of V. */
void proto_put_strings(struct ipc_writer *w, const char *const *v, unsigned n);
/* Reads a list of at most MAX strings, each shorter than SIZE, into *L
 * (allocated to the strings' lengths; a count the payload cannot hold is
 * refused before anything is allocated). Sets r->error when malformed. */
void proto_get_strings(struct ipc_reader *r, struct proto_strings *l, unsigned max, size_t size);
void proto_strings_free(struct proto_strings *l);

/* Ends a decode: 0 when every field was read and nothing is left over;
 * else -1 with *error_r naming WHAT. */
int proto_decode_done(const struct ipc_reader *r, const char *what, const char **error_r);

/* Sends W's payload as TYPE/ID (with FD or -1) and frees W. */
void proto_send(struct ipc_channel *ch, uint32_t type, uint64_t id, struct ipc_writer *w, int fd);

/* For messages without payload: 0 when LEN is 0, else -1 with *error_r. */
int proto_empty_decode(size_t len, const char *what, const char **error_r);

#endif
