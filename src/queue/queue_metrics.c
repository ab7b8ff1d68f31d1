/*
 * queue_metrics.c: see queue_metrics.h.
 */
#include "queue/queue_metrics.h"

#include <time.h>

#include "conf/config.h"
#include "mail/delivery.h"
#include "proto/metrics.h"
#include "queue/queue_private.h"

void queue_metrics_commit(uint64_t n, uint64_t received)
{
	if (metrics_self == NULL || n == 0)
		return;
	metrics_add(&metrics_self->received, received);
	metrics_observe(&metrics_self->commit_batch, metrics_batch_bounds, METRICS_BATCH_BUCKETS,
	                n);
}

void queue_metrics_commit_took(uint64_t usec)
{
	if (metrics_self != NULL)
		metrics_observe(&metrics_self->commit_latency, metrics_latency_bounds_usec,
		                METRICS_LATENCY_BUCKETS, usec);
}

/* The committed messages: ready, active and deferred (held among them). */
void queue_metrics_gauges(struct queue *q)
{
	struct queue_msg_list *lists[] = {&q->ready, &q->active, &q->deferred};
	uint64_t n = 0;
	time_t oldest = 0;
	struct queue_msg *m;

	if (metrics_self == NULL)
		return;
	for (unsigned i = 0; i < 3; i++)
		TAILQ_FOREACH(m, lists[i], entry)
		{
			n++;
			if (m->arrival > 0 && (oldest == 0 || m->arrival < oldest))
				oldest = m->arrival;
		}
	metrics_set(&metrics_self->queue_messages, n);
	metrics_set(&metrics_self->queue_oldest_arrival, (uint64_t)oldest);
}

void queue_metrics_local(int delivered)
{
	METRICS_COUNT(
	    recipients[METRICS_RELAY_LOCAL][delivered ? METRICS_DELIVERED : METRICS_DEFERRED], 1);
}

void queue_metrics_remote(int outcome, const struct mta_report *report)
{
	unsigned result = outcome == MTA_DELIVERED  ? METRICS_DELIVERED
	                  : outcome == MTA_PERMFAIL ? METRICS_BOUNCED
	                                            : METRICS_DEFERRED;
	unsigned row;

	if (metrics_self == NULL)
		return;
	row = metrics_policy_row(report->policy, config_tls_level_words, CONFIG_TLS_LEVELS);
	metrics_add(&metrics_self->recipients[METRICS_RELAY_REMOTE][result], 1);
	metrics_add(&metrics_self->policy[row][result], 1);
	if (result == METRICS_DELIVERED)
		metrics_add(
		    &metrics_self->protection[metrics_protection_of(report->tls, report->peer)], 1);
}

void queue_metrics_expired(int remote)
{
	METRICS_COUNT(
	    recipients[remote ? METRICS_RELAY_REMOTE : METRICS_RELAY_LOCAL][METRICS_BOUNCED], 1);
}
