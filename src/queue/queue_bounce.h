/*
 * queue_bounce.h: the delivery status notifications the queue sends a
 * sender after an attempt (queue_bounce.c). Used by queue_retry.c.
 */
#ifndef SEALMAIL_QUEUE_BOUNCE_H
#define SEALMAIL_QUEUE_BOUNCE_H

#include <time.h>

#include "queue/queue_private.h"

/* The DSNs due after an attempt of the loaded M: failures and (RFC 3461)
 * successes asked for, each recipient reported once. */
void queue_report(struct queue *q, struct queue_msg *m);
/* The early delay notice (Status 4.7.5), once, when TLS policy alone
 * deferred recipients of M; it counts as the delay notice. */
void queue_tls_policy_notice(struct queue *q, struct queue_msg *m);
/* A delay notice, once, when delay_warning has passed since M arrived. */
void queue_delay_warning(struct queue *q, struct queue_msg *m, time_t now);

#endif
