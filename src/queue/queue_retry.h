/*
 * queue_retry.h: the end of a delivery attempt and the wait for the next
 * one (queue_retry.c). Used by queue_local.c and queue_remote.c (an attempt
 * ends) and queue.c (the retry timer).
 */
#ifndef SEALMAIL_QUEUE_RETRY_H
#define SEALMAIL_QUEUE_RETRY_H

#include "queue/queue_private.h"

/* Ends the attempt of M, which is on no list: M is removed when no
 * recipient is pending (or the operator deleted it), else it goes to the
 * deferred list with its state written and the time of its next attempt. */
void queue_attempt_done(struct queue *q, struct queue_msg *m);
/* Moves the deferred messages whose time has come to the ready list, and
 * writes again the state files that could not be written. */
void queue_retry_due(struct queue *q);

#endif
