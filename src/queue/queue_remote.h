/*
 * queue_remote.h: remote deliveries, handed to dispatchers as tasks, and
 * their results (queue_remote.c). Used by queue_local.c (an attempt starts)
 * and queue.c (a result arrives, a dispatcher goes away).
 */
#ifndef SEALMAIL_QUEUE_REMOTE_H
#define SEALMAIL_QUEUE_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "queue/queue_private.h"

/* 1 when the loaded M has a pending remote recipient and no dispatcher
 * could take it (none yet at start-up, or none any more). */
int queue_remote_must_wait(struct queue *q, const struct queue_msg *m);
/* Hands the pending remote recipients of the loaded M to dispatchers, one
 * task per domain; a recipient no dispatcher can take stays pending. */
void queue_remote_dispatch(struct queue *q, struct queue_msg *m);
/* IMSG_MTA_RESULT from a dispatcher: the outcome of task ID. */
void queue_task_result(struct queue *q, uint64_t id, const void *data, size_t len);
/* A dispatcher went away with tasks in flight: they end, tried again later. */
void queue_peer_lost_tasks(struct queue *q, struct queue_peer *peer);

#endif
