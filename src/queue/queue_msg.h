/*
 * queue_msg.h: a queued message's spool file read back, and its life in
 * memory (queue_msg.c). Used by every other queue file; calls none.
 */
#ifndef SEALMAIL_QUEUE_MSG_H
#define SEALMAIL_QUEUE_MSG_H

#include <stddef.h>

#include "queue/queue_private.h"

/* Where M's spool file is: queue/active/ID, or pool/ID (see in_pool). */
void queue_msg_spool_path(const struct queue_msg *m, char *buf, size_t size);
/* Loads envelope and state of M (opening its file when needed). Returns 0,
 * or -1 with *error_r (M may keep its descriptor: unload it). */
int queue_msg_load(struct queue *q, struct queue_msg *m, const char **error_r);
/* The message itself (before the envelope) of a loaded M, malloc'ed and
 * NUL-terminated; NULL with *error_r when it cannot be read whole. */
char *queue_msg_read_body(struct queue_msg *m, const char **error_r);
/* Closes the file and forgets the envelope of a message that waits; they
 * are read again when its time comes. */
void queue_msg_unload(struct queue_msg *m);
/* Removes M's spool and state files (M itself stays). */
void queue_msg_remove_files(const struct queue_msg *m);
void queue_msg_free(struct queue_msg *m);

/* The NOTIFY of M's recipient I that counts: as given when the client was
 * authenticated or trusted; else without SUCCESS and DELAY (FAILURE when
 * nothing else was left), so that an outsider cannot have notices sent to
 * a sender of its choosing. */
unsigned queue_msg_notify(const struct queue_msg *m, unsigned i);
/* M's RET that counts ("full", "hdrs" or ""): FULL only from an
 * authenticated or trusted client, else HDRS. */
const char *queue_msg_ret(const struct queue_msg *m);

/* The domain of ADDR: what follows its last '@', or "". */
const char *queue_rcpt_domain(const char *addr);
/* 1 when ADDR is in one of the local domains (delivered to a Maildir). */
int queue_rcpt_is_local(const struct queue *q, const char *addr);

#endif
