/*
 * queue_local.h: the delivery part of each flush (queue_local.c): starting
 * the attempts of ready messages, and their Maildir copies. Used by
 * queue.c's flush only, in this order (after the commits' own syncfs):
 * prepare, a syncfs, commit, the second syncfs, finish.
 */
#ifndef SEALMAIL_QUEUE_LOCAL_H
#define SEALMAIL_QUEUE_LOCAL_H

#include "queue/queue_private.h"

/* The attempts started by one flush (opaque). */
struct queue_delivery;

/* Starts an attempt for every ready message, up to the batch size:
 * remote recipients go to dispatchers, local ones are written to tmp/ and
 * returned for the flush to commit. */
struct queue_delivery *queue_deliveries_prepare(struct queue *q, unsigned *n_r);
/* How many tmp/ copies D holds (the sync before the renames is needed
 * only when there are some). */
unsigned queue_deliveries_copies(const struct queue_delivery *d, unsigned n);
/* Whether a message of D still waits for a syncfs to make an earlier
 * flush's renames into new/ stable (that flush's own failed). */
int queue_deliveries_unsynced(const struct queue_delivery *d, unsigned n);
/* Renames the tmp/ copies into new/ when SYNCED; returns how many were. */
unsigned queue_deliveries_commit(struct queue_delivery *d, unsigned n, int synced);
/* Ends the flush's part of each attempt and frees D. */
void queue_deliveries_finish(struct queue *q, struct queue_delivery *d, unsigned n, int synced);

#endif
