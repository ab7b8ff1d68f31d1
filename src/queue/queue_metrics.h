/*
 * queue_metrics.h: what the queue counts for the metrics role
 * (proto/metrics.h): commits, delivery outcomes, and the queue's size.
 * Each call is a relaxed add to the queue's own block, or nothing when
 * there are no metrics.
 */
#ifndef SEALMAIL_QUEUE_METRICS_H
#define SEALMAIL_QUEUE_METRICS_H

#include <stdint.h>

struct queue;
struct mta_report;

/* One flush answered a batch of N messages, RECEIVED of them a client's. */
void queue_metrics_commit(uint64_t n, uint64_t received);
/* ... and took USEC microseconds from its sync to its last answer. */
void queue_metrics_commit_took(uint64_t usec);
/* Once a second: the messages in the queue and the oldest one's arrival. */
void queue_metrics_gauges(struct queue *q);
/* One local recipient: delivered (1) or deferred (0). */
void queue_metrics_local(int delivered);
/* One remote recipient's outcome (an mta_outcome), under REPORT. */
void queue_metrics_remote(int outcome, const struct mta_report *report);
/* One recipient given up on when its time in the queue ran out: REMOTE
 * when it had a remote attempt. */
void queue_metrics_expired(int remote);

#endif
