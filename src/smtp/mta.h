/*
 * mta.h: the SMTP client that delivers to other servers, as the dispatcher
 * runs it (RFC 5321, RFC 3207 STARTTLS, RFC 2920 PIPELINING, RFC 3461 DSN).
 *
 * The queue hands the dispatcher one task per message and destination
 * domain. Tasks for one domain share a destination: its connections (up
 * to MTA_MAX_SESSIONS) take tasks one after another and stay open a few
 * seconds for the next one. Each connection applies the domain's TLS policy
 * (policy/policy.h); a policy failure never lets MAIL go out in plaintext.
 */
#ifndef SEALMAIL_MTA_H
#define SEALMAIL_MTA_H

#include <stdint.h>

#include "queue/envelope.h"

struct config;
struct event_base;
struct ipc_writer;
struct mta;

enum mta_outcome {
	MTA_DELIVERED,
	MTA_TEMPFAIL,
	MTA_PERMFAIL,
};

struct mta_rcpt {
	struct envelope_rcpt r;
	unsigned index; /* in the message's envelope */
	enum mta_outcome outcome;
	char status[16]; /* enhanced status code */
	char text[512];  /* the peer's reply, or our reason */
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
	struct mta_task *next; /* in a destination's queue */
};

struct mta_env {
	struct event_base *base;
	const struct config *cfg;
	const char *ca_pem; /* trust anchors for verify, as PEM */
	void *owner;
	/* Asks the lookup role; the answer comes back through mta_resolved(). */
	void (*resolve)(void *owner, uint64_t handle, const char *name, int mx_lookup);
	/* The task is finished (every recipient has an outcome); the callee
	 * reports it and frees it with mta_task_free(). */
	void (*task_done)(void *owner, struct mta_task *task);
};

struct mta *mta_new(const struct mta_env *env, const char **error_r);
/* Closes every connection; unfinished tasks are reported as deferred. */
void mta_free(struct mta **m);

/* Takes a task (and its fd). */
void mta_submit(struct mta *m, struct mta_task *task);

/* A DNS answer for HANDLE (see proto.h IMSG_LOOKUP_HOSTS_RESULT). */
void mta_resolved(struct mta *m, uint64_t handle, const void *data, size_t len);

/* Number of open connections and queued tasks, for a graceful exit. */
unsigned mta_busy(const struct mta *m);

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
