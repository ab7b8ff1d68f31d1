/*
 * queue.h: the messages between a dispatcher and the queue, each a struct
 * with one encoder and one decoder (the contract is in proto.h). Called by
 * the dispatcher (daemon/dispatcher.c) and the queue (src/queue/).
 *
 *   IMSG_QUEUE_POOL          dispatcher -> queue  struct proto_queue_pool: spool
 *                            files wanted in advance, so a session's DATA
 *                            needs no round trip
 *   IMSG_QUEUE_POOL_FILE     queue -> dispatcher  struct proto_queue_pool_file,
 *                            with the empty file's fd; the dispatcher writes
 *                            the message from offset 0
 *   IMSG_QUEUE_COMMIT        dispatcher -> queue  struct proto_queue_commit
 *   IMSG_QUEUE_COMMIT_RESULT queue -> dispatcher  struct proto_queue_commit_result,
 *                            only once the message is on stable storage
 *   IMSG_QUEUE_ABORT         dispatcher -> queue  struct proto_queue_abort
 *   IMSG_MTA_DELIVER         queue -> dispatcher  struct proto_task, with the
 *                            spool file's fd: one message to one domain
 *   IMSG_MTA_RESULT          dispatcher -> queue  struct proto_task_result,
 *                            with the task's id
 *   IMSG_DISPATCHER_RETIRING dispatcher -> queue  no payload: send no task
 */
#ifndef SEALMAIL_PROTO_QUEUE_H
#define SEALMAIL_PROTO_QUEUE_H

#include "mail/delivery.h"
#include "mail/envelope.h"
#include "proto/proto.h"

#define PROTO_QUEUE_ID_MAX 32
#define PROTO_QUEUE_TEXT_MAX 256
/* The most spool files one IMSG_QUEUE_POOL may ask for. */
#define PROTO_QUEUE_POOL_MAX 256

/* u32 count */
struct proto_queue_pool {
	uint32_t count; /* at most PROTO_QUEUE_POOL_MAX */
};

/* u32 enum queue_result, str queue id (or the reason it failed) */
struct proto_queue_pool_file {
	uint32_t result; /* enum queue_result */
	char id[PROTO_QUEUE_ID_MAX];
};

/* str queue id, u64 octets written, u32 their CRC-32C, the envelope (str
 * id, u64 time, str sender, helo, client, tls, body, ret, envid, u32
 * trusted (0 or 1), str listener, u32 authenticated (0 or 1), u32 flags
 * (ENVELOPE_*), u32 n, n x (str addr, str orcpt, u32 notify)). The
 * decoder fills env (free it with
 * proto_queue_commit_free); an encoder may point env.rcpts at the
 * session's own. */
struct proto_queue_commit {
	char queue_id[PROTO_QUEUE_ID_MAX];
	uint64_t size;
	uint32_t crc;
	struct envelope env;
};

/* u32 enum queue_result, str text */
struct proto_queue_commit_result {
	uint32_t result; /* enum queue_result */
	char text[PROTO_QUEUE_TEXT_MAX];
};

/* str queue id: the transaction was abandoned */
struct proto_queue_abort {
	char queue_id[PROTO_QUEUE_ID_MAX];
};

struct proto_task_rcpt {
	struct envelope_rcpt r;
	uint32_t index; /* in the message's envelope */
};

/* str queue id, domain, sender, body, ret, envid, u64 header_len, u64
 * body_len, u32 flags, u32 seen_level, u64 seen_time, u32 n (1 or more),
 * n x (str addr, str orcpt, u32 notify, u32 index) */
struct proto_task {
	char queue_id[PROTO_QUEUE_ID_MAX];
	char domain[256];
	char sender[ENVELOPE_ADDR_MAX];
	char body[16], ret[8], envid[128];
	uint64_t header_len, body_len;
	uint32_t flags;      /* ENVELOPE_* and MTA_TASK_* (mail/delivery.h) */
	uint32_t seen_level; /* enum tls_seen */
	uint64_t seen_time;  /* 0 = nothing remembered */
	struct proto_task_rcpt *rcpts;
	unsigned n_rcpts;
};

struct proto_task_outcome {
	uint32_t index;   /* the queue's, as the task gave it */
	uint32_t outcome; /* enum mta_outcome */
	struct delivery_status status;
};

/* str relay, tls, peer, policy, u32 peer_dsn, str source, evidence,
 * testing, rpt_policy, rpt_type, rpt_mx, rpt_ip, sts_id, rua, u32
 * policy_blocked, u32 peer_requiretls, u32 n, n x (u32 index, u32 enum
 * mta_outcome, str enhanced, u32 reply_code, str text) */
struct proto_task_result {
	struct mta_report report;
	struct proto_task_outcome *rcpts;
	unsigned n_rcpts;
};

void proto_queue_pool_encode(const struct proto_queue_pool *m, struct ipc_writer *w);
int proto_queue_pool_decode(struct proto_queue_pool *m, const void *data, size_t len,
                            const char **error_r);

void proto_queue_pool_file_encode(const struct proto_queue_pool_file *m, struct ipc_writer *w);
int proto_queue_pool_file_decode(struct proto_queue_pool_file *m, const void *data, size_t len,
                                 const char **error_r);

void proto_queue_commit_encode(const struct proto_queue_commit *m, struct ipc_writer *w);
/* The envelope part of IMSG_QUEUE_COMMIT alone (for its tests): the
 * decoder reads to the end of R, and the caller frees ENV either way. */
void proto_envelope_encode(const struct envelope *env, struct ipc_writer *w);
int proto_envelope_decode(struct envelope *env, struct ipc_reader *r);
int proto_queue_commit_decode(struct proto_queue_commit *m, const void *data, size_t len,
                              const char **error_r);
void proto_queue_commit_free(struct proto_queue_commit *m);

void proto_queue_commit_result_encode(const struct proto_queue_commit_result *m,
                                      struct ipc_writer *w);
int proto_queue_commit_result_decode(struct proto_queue_commit_result *m, const void *data,
                                     size_t len, const char **error_r);

void proto_queue_abort_encode(const struct proto_queue_abort *m, struct ipc_writer *w);
int proto_queue_abort_decode(struct proto_queue_abort *m, const void *data, size_t len,
                             const char **error_r);

void proto_task_encode(const struct proto_task *m, struct ipc_writer *w);
int proto_task_decode(struct proto_task *m, const void *data, size_t len, const char **error_r);
void proto_task_free(struct proto_task *m);

void proto_task_result_encode(const struct proto_task_result *m, struct ipc_writer *w);
int proto_task_result_decode(struct proto_task_result *m, const void *data, size_t len,
                             const char **error_r);
void proto_task_result_free(struct proto_task_result *m);

/* IMSG_DISPATCHER_RETIRING carries nothing. */
int proto_queue_retiring_decode(const void *data, size_t len, const char **error_r);

#endif
