/*
 * queue_retry.c: what happens when every part of a delivery attempt is back
 * (the local copies of a flush, the remote tasks): past max_lifetime what is
 * still pending fails; the DSNs due are sent; the message is removed, or
 * written to its state file and deferred for [queue] retry. The retry timer
 * (queue.c) brings deferred messages back when their time comes.
 *
 * Called by queue_local.c and queue_remote.c (queue_attempt_done) and by
 * queue.c (queue_retry_due); calls queue_bounce.c, queue_msg.c and
 * queue_state_file.c.
 */
#include "queue/queue_retry.h"

#include <stdio.h>
#include <time.h>

#include "lib/log.h"
#include "lib/util.h"
#include "mail/delivery.h"
#include "queue/queue_bounce.h"
#include "queue/queue_metrics.h"
#include "queue/queue_msg.h"
#include "queue/queue_state_file.h"

/* Logs that recipient I of M expired (WHY): a warning when the TLS policy
 * alone held it back, as its deferrals were. */
static void queue_expire_log(const struct queue_msg *m, unsigned i, const char *why)
{
	char a[ENVELOPE_ADDR_MAX + 16], v[700];

	log_address(m->env.rcpts[i].addr, a, sizeof(a));
	log_value(why, v, sizeof(v));
	if (queue_rcpt_tls_held(&m->rcpts[i]))
		log_warn("event=bounced id=%s to=%s reason=%s cause=tls-policy", m->id, a, v);
	else
		log_info("event=bounced id=%s to=%s reason=%s", m->id, a, v);
}

/* Past max_lifetime, what is still pending fails with its last reason. */
static void queue_expire(struct queue *q, struct queue_msg *m, time_t now)
{
	unsigned i;
	char why[DELIVERY_TEXT_MAX];

	/* written so that no arrival time, however far off, overflows */
	if (m->arrival > now - (time_t)q->cfg.max_lifetime)
		return;
	for (i = 0; i < m->n_rcpts; i++) {
		struct queue_rcpt *r = &m->rcpts[i];
		if (r->status != RCPT_PENDING)
			continue;
		if (r->last.text[0] == '\0')
			delivery_status_set(&r->last, "4.4.7", 0, "4.4.7 not delivered");
		snprintf(why, sizeof(why), "%s (delivery time expired after %u attempts)",
		         r->last.text, m->attempts + 1);
		strlcpy_checked(r->last.text, why, sizeof(r->last.text));
		r->status = RCPT_FAILED;
		queue_metrics_expired(r->via != NULL);
		queue_expire_log(m, i, why);
	}
}

/* When M's next attempt is due after one that failed. A scheduled attempt
 * moves to the next step of [queue] retry (the last step repeats); a
 * manual one (`queue flush`, `queue release`) is an extra attempt that
 * leaves the schedule as it was: the next attempt stays when it was due,
 * or, when that time has passed meanwhile, comes one current step from
 * now. Neither touches the lifetime, counted from the arrival. */
static void queue_next_attempt(struct queue *q, struct queue_msg *m, time_t now)
{
	unsigned last = q->cfg.n_retry - 1, step;

	if (m->manual) {
		m->manual = 0;
		if (m->scheduled > now) {
			m->not_before = m->scheduled;
			return;
		}
		step = m->attempts - 1 < last ? m->attempts - 1 : last; /* attempts > 0 */
		m->not_before = now + (time_t)q->cfg.retry[step];
		return;
	}
	step = m->attempts < last ? m->attempts : last;
	m->attempts++;
	m->not_before = now + (time_t)q->cfg.retry[step];
}

void queue_attempt_done(struct queue *q, struct queue_msg *m)
{
	time_t now = time(NULL);
	unsigned i, pending = 0;

	if (m->unsynced) {
		/* Not an attempt: what a flush did may not be on disk. The
		 * mark stays until a flush's sync succeeds for it
		 * (queue_deliveries_finish). */
		m->not_before = now + 1;
		queue_msg_unload(m);
		TAILQ_INSERT_TAIL(&q->deferred, m, entry);
		return;
	}
	queue_expire(q, m, now);
	queue_report(q, m);
	for (i = 0; i < m->n_rcpts; i++)
		pending += m->rcpts[i].status == RCPT_PENDING;
	if (pending == 0 || m->deleted) {
		queue_msg_remove_files(m);
		log_info("event=removed id=%s%s", m->id, m->deleted ? " reason=deleted" : "");
		queue_msg_free(m);
		return;
	}
	queue_tls_policy_notice(q, m);
	queue_delay_warning(q, m, now);
	queue_next_attempt(q, m, now);
	if (m->tls_override) /* released with --tls-override while in flight: now */
		m->not_before = now;
	queue_state_write(m);
	queue_msg_unload(m);
	TAILQ_INSERT_TAIL(&q->deferred, m, entry);
}

void queue_retry_due(struct queue *q)
{
	struct queue_msg *m, *next;
	time_t now = time(NULL);

	for (m = TAILQ_FIRST(&q->deferred); m != NULL; m = next) {
		next = TAILQ_NEXT(m, entry);
		if (m->state_dirty)
			queue_state_write(m);
		if (m->not_before > now || m->held)
			continue;
		TAILQ_REMOVE(&q->deferred, m, entry);
		TAILQ_INSERT_TAIL(&q->ready, m, entry);
	}
}
