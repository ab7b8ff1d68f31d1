/*
 * queue_private.h: what the queue role's files share: the queue, its
 * messages and its dispatcher channels. Only src/queue/queue*.c include it.
 */
#ifndef SEALMAIL_QUEUE_PRIVATE_H
#define SEALMAIL_QUEUE_PRIVATE_H

#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include "conf/config.h"
#include "daemon/proto.h"
#include "mail/envelope.h"
#include "queue/maildir.h"
#include "queue/queue_state.h"

/* Spool files being written: made empty in advance for the dispatchers,
 * filled, then renamed into queue/active/ when committed. A sibling of
 * queue/ on the same file system; emptied at start (nothing in it was
 * acknowledged). */
#define QUEUE_POOL_DIR "pool"

#define QUEUE_DELIVERY_BATCH 128 /* messages per flush */
#define QUEUE_MAX_TASKS 1000     /* remote deliveries in flight */
#define QUEUE_TASK_BUCKETS 1024

struct ipc_channel;
struct queue;

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
	int deleted;     /* by the operator: goes once nothing is in flight */
	int unsynced;    /* the last flush failed: keep the files, try again soon */
	int state_dirty; /* the state file could not be written: write it again */
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
};

/* queue.c */
/* How a session is to hear of a failure with errno ERR. */
enum queue_result queue_result_for(int err);
/* Where M's spool file is: queue/active/ID, or pool/ID (see in_pool). */
void queue_msg_spool_path(const struct queue_msg *m, char *buf, size_t size);
void queue_schedule_flush(struct queue *q);
void queue_new_id(struct queue *q, char *buf, size_t size);
void queue_msg_free(struct queue_msg *m);
void queue_msg_unload(struct queue_msg *m);
/* Writes a message the queue makes itself (a DSN) to the spool; it is
 * committed with the next flush. Takes ENV's contents; the new queue id
 * goes to ID_R (32 bytes). */
int queue_inject(struct queue *q, struct envelope *env, const char *msg, size_t len, char *id_r);
void queue_reply(struct queue_peer *peer, uint32_t type, uint64_t id, uint32_t ok, const char *text,
                 int fd);

/* queue_deliver.c */
/* Loads envelope and state of M (opening its file when needed). */
int queue_msg_load(struct queue *q, struct queue_msg *m, const char **error_r);
/* Starts an attempt for every ready message, up to the batch size:
 * remote recipients go to dispatchers, local ones are written to tmp/ and
 * returned for the flush to commit. */
struct queue_delivery;
struct queue_delivery *queue_deliveries_prepare(struct queue *q, unsigned *n_r);
/* Renames the tmp/ copies into new/ when SYNCED; returns how many were. */
unsigned queue_deliveries_commit(struct queue_delivery *d, unsigned n, int synced);
void queue_deliveries_finish(struct queue *q, struct queue_delivery *d, unsigned n, int synced);
/* IMSG_MTA_RESULT from a dispatcher. */
void queue_task_result(struct queue *q, uint64_t id, const void *data, size_t len);
/* A dispatcher went away with tasks in flight. */
void queue_peer_lost_tasks(struct queue *q, struct queue_peer *peer);
/* Reads queue/state/ID into M (when the file exists). */
void queue_state_read(struct queue_msg *m);
void queue_msg_remove_files(const struct queue_msg *m);
/* Writes queue/state/ID; on failure sets m->state_dirty for another try. */
void queue_state_write(struct queue_msg *m);

/* queue_ctl.c */
int queue_control_listen(struct queue *q, const char **error_r);
struct queue_msg *queue_find(struct queue *q, const char *id, struct queue_msg_list **list_r);

#endif
