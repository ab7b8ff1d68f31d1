/*
 * queue_private.h: what the queue role's files share: the queue, its
 * messages and its dispatcher channels, and the two functions through which
 * the other files call back into queue.c. Only src/queue/queue*.c include
 * it; each file's own functions are declared in its own header
 * (queue_msg.h, queue_local.h, ...).
 */
#ifndef SEALMAIL_QUEUE_PRIVATE_H
#define SEALMAIL_QUEUE_PRIVATE_H

#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include "conf/config.h"
#include "proto/proto.h"
#include "mail/envelope.h"
#include "queue/maildir.h"
#include "queue/queue_state.h"

/* Spool files being written: made empty in advance for the dispatchers,
 * filled, then renamed into queue/active/ after their commit's flush. A
 * sibling of queue/ on the same file system. At start a sealed file whose
 * checksum holds was acknowledged and moves on; anything else goes. */
#define QUEUE_POOL_DIR "pool"

#define QUEUE_DELIVERY_BATCH 128 /* messages per flush */
#define QUEUE_MAX_TASKS 1000     /* remote deliveries in flight */
#define QUEUE_TASK_BUCKETS 1024

struct ipc_channel;
struct queue;
struct tls_seen_map;

/* A message, from the moment its spool file is created until it is
 * delivered to every recipient. While it is handled, the queue keeps its
 * descriptor and decoded envelope; while it waits, only its state. */
struct queue_msg {
	TAILQ_ENTRY(queue_msg) entry;
	char id[32];
	/* receiving: who to answer */
	struct queue_peer *peer;
	uint64_t request_id;
	int commit_errno; /* why the commit failed, when the file system said */
	/* the spool file */
	int fd;              /* -1 when not open */
	int in_pool;         /* committed, but the rename into active/ failed */
	struct envelope env; /* n_rcpts == 0 when not loaded */
	size_t header_len;
	uint64_t body_len;
	/* delivery */
	struct queue_rcpt *rcpts; /* env.n_rcpts of them, once known */
	unsigned n_rcpts;
	time_t arrival;
	time_t not_before;
	unsigned attempts;
	unsigned tasks; /* remote deliveries in flight */
	int held;
	int warned;      /* the delay notice was sent */
	int tls_warned;  /* the early notice of a TLS policy deferral was sent */
	/* `queue release ID --tls-override`: the next attempt's tasks carry
	 * MTA_TASK_TLS_OVERRIDE (not stored: one attempt, if it comes) */
	int tls_override;
	/* `queue flush` or `queue release` made the next attempt an extra one
	 * (not stored): when it fails, the schedule stays where it was, at
	 * SCHEDULED (queue_retry.c) */
	int manual;
	time_t scheduled;
	int deleted;     /* by the operator: goes once nothing is in flight */
	int unsynced;    /* a sync after its copies failed: files kept till one works */
	int state_dirty; /* the state file could not be written: write it again */
	int no_state;    /* received in this run, no state file written yet */
};
TAILQ_HEAD(queue_msg_list, queue_msg);

struct queue_peer {
	TAILQ_ENTRY(queue_peer) entry;
	struct ipc_channel *ch;
	struct queue *q;
	int retiring; /* no new delivery tasks */
};
TAILQ_HEAD(queue_peer_list, queue_peer);

/* A remote delivery handed to a dispatcher. */
struct queue_task {
	TAILQ_ENTRY(queue_task) entry;
	uint64_t id;
	struct queue_msg *msg;
	struct queue_peer *peer;
	char domain[256];
	unsigned *index; /* recipients of msg */
	unsigned n;
};
TAILQ_HEAD(queue_task_list, queue_task);

struct queue {
	struct config cfg;
	struct event_base *base;
	struct ipc_channel *parent;
	struct queue_peer_list peers;
	struct queue_msg_list open;     /* receiving */
	struct queue_msg_list batch;    /* commit requested */
	struct queue_msg_list ready;    /* to deliver at the next flush */
	struct queue_msg_list active;   /* remote deliveries in flight */
	struct queue_msg_list deferred; /* waiting for not_before, or held */
	struct queue_task_list tasks[QUEUE_TASK_BUCKETS];
	unsigned n_tasks;
	uint64_t task_counter;
	struct event *ev_flush, *ev_retry;
	int sync_fd;
	unsigned id_counter;
	char known_maildir[MAILDIR_PATH_MAX]; /* last Maildir known to exist */
	struct evconnlistener *control;
	struct tls_seen_map *tls_seen; /* downgrade memory (tls_memory.h) */
};

/* ---- the only way back into queue.c ----------------------------------
 *
 * queue.c runs the role and calls the other queue files (queue.c's header
 * comment draws who calls whom). They call back into queue.c through these
 * two functions and nothing else; everything else they need is in the
 * headers of the files below them. */

/* Asks for a flush at the next loop turn (committing the batch and
 * delivering the ready list); a flush already asked for is not doubled. */
void queue_schedule_flush(struct queue *q);
/* Writes a message the queue makes itself (a DSN) to the spool; it is
 * committed with the next flush. Takes ENV's contents; the new queue id
 * goes to ID_R (32 bytes). Returns 0, or -1 (logged). */
int queue_inject(struct queue *q, struct envelope *env, const char *msg, size_t len, char *id_r);

#endif
