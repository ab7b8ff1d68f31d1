/*
 * queue_bounce.c: the delivery status notifications (RFC 3464) the queue
 * sends back to a sender: failures, delays and (NOTIFY=SUCCESS) deliveries
 * here or relays to a next hop without DSN; a next hop that offers DSN got
 * the request with the message and answers for it (RFC 3461 5.2).
 * It picks the recipients that asked for one and their Status:, has dsn.c
 * build the message, and queues it as a new message of its own. Called by
 * queue_retry.c at the end of each attempt; calls queue_msg.c for the
 * original and queue.c's queue_inject() to queue the DSN.
 */
#include "queue/queue_bounce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "queue/dsn.h"
#include "queue/queue_msg.h"

typedef char queue_dsn_status_text[16];

/* In a WHICH array: the recipient is not in the DSN; else its action + 1. */
#define QUEUE_DSN_NONE 0

/* The Status: of R in a DSN for ACTION (RFC 3464 2.3.4): its last enhanced
 * code, made permanent for a failure, 4.7.5 for a delay by TLS policy;
 * "" for the generic code. */
static void queue_dsn_status(const struct queue_rcpt *r, enum dsn_action action, char *buf,
                             size_t size)
{
	if (action == DSN_ACTION_DELIVERED || action == DSN_ACTION_RELAYED) {
		snprintf(buf, size, "2.0.0");
		return;
	}
	if (action == DSN_ACTION_DELAYED && queue_rcpt_tls_held(r)) {
		snprintf(buf, size, "4.7.5");
		return;
	}
	snprintf(buf, size, "%s", r->last.enhanced);
	if (action == DSN_ACTION_FAILED && buf[0] == '4')
		buf[0] = '5';
}

/* Whether a recipient whose NOTIFY (as it counts, queue_msg_notify) is
 * NOTIFY asked to hear about ACTION (RFC 3461 4.1; without NOTIFY, failures
 * and delays are reported). */
static int queue_wants_dsn(unsigned notify, enum dsn_action action)
{
	if (notify & NOTIFY_NEVER)
		return 0;
	if (action == DSN_ACTION_DELIVERED || action == DSN_ACTION_RELAYED)
		return (notify & NOTIFY_SUCCESS) != 0;
	if (action == DSN_ACTION_DELAYED)
		return notify == 0 || (notify & NOTIFY_DELAY);
	return notify == 0 || (notify & NOTIFY_FAILURE);
}

/* The kind of a DSN for ACTION, as the log names it. */
static const char *queue_kind_name(enum dsn_action action)
{
	return action == DSN_ACTION_FAILED    ? "failed"
	       : action == DSN_ACTION_DELAYED ? "delayed"
	       : action == DSN_ACTION_RELAYED ? "relayed"
	                                      : "delivered";
}

/* How the last remote attempt of a recipient travelled (REC, or NULL: a
 * local or no remote attempt), for its entry DR. */
static void queue_dsn_record(const struct queue_rcpt_record *rec, struct dsn_recipient *dr)
{
	if (rec == NULL)
		return;
	if (rec->when != 0)
		dr->last_attempt = rec->when;
	dr->relay = rec->relay;
	dr->tls = rec->tls;
	dr->peer = rec->peer;
	dr->policy = rec->policy;
	dr->policy_source = rec->source;
	dr->evidence = rec->evidence;
	dr->testing = rec->testing;
}

/* Fills DR (and the STATUS texts it points to) with the recipients of M in
 * WHICH (their actions) that asked for a DSN about them; returns how many. */
static unsigned queue_dsn_recipients(const struct queue *q, const struct queue_msg *m,
                                     const unsigned char *which, time_t now,
                                     struct dsn_recipient *dr, queue_dsn_status_text *status)
{
	unsigned i, n = 0;

	for (i = 0; i < m->n_rcpts; i++) {
		const struct envelope_rcpt *er = &m->env.rcpts[i];
		const struct delivery_status *last = &m->rcpts[i].last;
		enum dsn_action action = (enum dsn_action)(which[i] - 1);

		if (which[i] == QUEUE_DSN_NONE || !queue_wants_dsn(queue_msg_notify(m, i), action))
			continue;
		queue_dsn_status(&m->rcpts[i], action, status[i], sizeof(status[i]));
		dr[n].address = er->addr;
		dr[n].orcpt = er->orcpt[0] ? er->orcpt : NULL;
		dr[n].action = action;
		dr[n].status = status[i];
		dr[n].diagnostic = last->text[0] ? last->text : NULL;
		dr[n].diagnostic_type = last->reply_code != 0 ? "smtp" : "X-Sealmail";
		dr[n].last_attempt = now;
		dr[n].will_retry_until = m->arrival + (time_t)q->cfg.max_lifetime;
		queue_dsn_record(m->rcpts[i].via, &dr[n]);
		n++;
	}
	return n;
}

/* The DSN's parameters for M, about the N recipients DR, with the original
 * message BODY. */
static void queue_dsn_params(const struct queue *q, const struct queue_msg *m,
                             const struct dsn_recipient *dr, unsigned n, const char *body,
                             time_t now, struct dsn_params *p)
{
	memset(p, 0, sizeof(*p));
	p->reporting_mta = q->cfg.hostname;
	p->queue_id = m->id;
	p->envid = m->env.envid[0] ? m->env.envid : NULL;
	p->sender = m->env.sender;
	p->arrival = m->arrival;
	p->ret = strcmp(queue_msg_ret(m), "full") == 0   ? DSN_RET_FULL
	         : strcmp(queue_msg_ret(m), "hdrs") == 0 ? DSN_RET_HDRS
	                                                 : DSN_RET_DEFAULT;
	p->rcpts = dr;
	p->n_rcpts = n;
	p->message = body;
	p->message_len = m->body_len;
	p->now = now;
	p->boundary_seed = m->id;
}

/* Queues the DSN DSN (LEN bytes) to the sender of M, from the null sender
 * and asking for no DSN of its own; logs it. */
static void queue_dsn_inject(struct queue *q, const struct queue_msg *m, enum dsn_action action,
                             const char *dsn, size_t len, unsigned n, time_t now)
{
	struct envelope env;
	char new_id[32];

	envelope_init(&env);
	env.time = (uint64_t)now;
	strlcpy_checked(env.helo, q->cfg.hostname, sizeof(env.helo));
	strlcpy_checked(env.client, "127.0.0.1", sizeof(env.client));
	envelope_add_rcpt(&env, m->env.sender, NOTIFY_NEVER, NULL);
	if (queue_inject(q, &env, dsn, len, new_id) == 0) {
		char a[ENVELOPE_ADDR_MAX + 16];
		log_info("event=dsn id=%s dsn_id=%s kind=%s to=%s recipients=%u", m->id, new_id,
		         queue_kind_name(action), log_address(m->env.sender, a, sizeof(a)), n);
	}
	envelope_free(&env);
}

/* Sends the sender of M one DSN of the kind ACTION about the recipients in
 * WHICH (their actions; those that asked for it); none to the null sender. */
static void queue_send_dsn(struct queue *q, struct queue_msg *m, enum dsn_action action,
                           const unsigned char *which)
{
	struct dsn_recipient *dr = xcalloc(m->n_rcpts, sizeof(*dr));
	queue_dsn_status_text *status = xcalloc(m->n_rcpts, sizeof(*status));
	struct dsn_params p;
	const char *why;
	char *body = NULL, *dsn;
	time_t now = time(NULL);
	unsigned n = queue_dsn_recipients(q, m, which, now, dr, status);
	size_t len;

	if (n == 0 || m->env.sender[0] == '\0' || (body = queue_msg_read_body(m, &why)) == NULL) {
		if (n > 0 && m->env.sender[0] == '\0')
			log_info("event=dsn-suppressed id=%s kind=%s reason=\"null sender\"", m->id,
			         queue_kind_name(action));
		free(dr);
		free(status);
		return;
	}
	queue_dsn_params(q, m, dr, n, body, now, &p);
	dsn = dsn_build(&p, &len);
	queue_dsn_inject(q, m, action, dsn, len, n, now);
	free(dsn);
	free(body);
	free(dr);
	free(status);
}

/* The action of a success notice for delivered recipient R (RFC 3461
 * 5.2): "delivered" here, "relayed" to a next hop that offers no DSN;
 * QUEUE_DSN_NONE when the next hop took the request and answers for it. */
static unsigned char queue_success_action(const struct queue_rcpt *r)
{
	switch (r->hop) {
	case RCPT_HOP_LOCAL:
		return DSN_ACTION_DELIVERED + 1;
	case RCPT_HOP_RELAYED:
		return DSN_ACTION_RELAYED + 1;
	default:
		return QUEUE_DSN_NONE;
	}
}

void queue_report(struct queue *q, struct queue_msg *m)
{
	unsigned char *failed = xcalloc(m->n_rcpts, 1), *succeeded = xcalloc(m->n_rcpts, 1);
	unsigned i, n_failed = 0, n_succeeded = 0, n_local = 0;

	for (i = 0; i < m->n_rcpts; i++) {
		struct queue_rcpt *r = &m->rcpts[i];
		if (r->reported || r->status == RCPT_PENDING)
			continue;
		r->reported = 1;
		if (r->status == RCPT_FAILED) {
			failed[i] = DSN_ACTION_FAILED + 1;
			n_failed++;
		} else if ((succeeded[i] = queue_success_action(r)) != QUEUE_DSN_NONE) {
			n_succeeded++;
			n_local += r->hop == RCPT_HOP_LOCAL;
		}
	}
	if (n_failed > 0)
		queue_send_dsn(q, m, DSN_ACTION_FAILED, failed);
	if (n_succeeded > 0)
		queue_send_dsn(q, m, n_local > 0 ? DSN_ACTION_DELIVERED : DSN_ACTION_RELAYED,
		               succeeded);
	free(failed);
	free(succeeded);
}

/* The early notice (RFC 3464 Action: delayed, Status 4.7.5), once per
 * message, after the first attempt that TLS policy alone deferred: the
 * sender learns now, not after delay_warning, that the destination falls
 * short of the policy, which is named with what the peer offered. It
 * stands for the delay notice, which is not sent again. */
void queue_tls_policy_notice(struct queue *q, struct queue_msg *m)
{
	unsigned char *held;
	unsigned i, n = 0;

	if (m->tls_warned)
		return;
	held = xcalloc(m->n_rcpts, 1);
	for (i = 0; i < m->n_rcpts; i++)
		if (queue_rcpt_tls_held(&m->rcpts[i])) {
			held[i] = DSN_ACTION_DELAYED + 1;
			n++;
		}
	if (n > 0) {
		m->tls_warned = 1;
		m->warned = 1;
		queue_send_dsn(q, m, DSN_ACTION_DELAYED, held);
	}
	free(held);
}

/* A delay notice, once, when delay_warning has passed (RFC 3464 Action:
 * delayed). */
void queue_delay_warning(struct queue *q, struct queue_msg *m, time_t now)
{
	unsigned char *pending;
	unsigned i;

	if (q->cfg.delay_warning == 0 || m->warned ||
	    now - m->arrival < (time_t)q->cfg.delay_warning)
		return;
	pending = xcalloc(m->n_rcpts, 1);
	for (i = 0; i < m->n_rcpts; i++)
		if (m->rcpts[i].status == RCPT_PENDING)
			pending[i] = DSN_ACTION_DELAYED + 1;
	m->warned = 1;
	queue_send_dsn(q, m, DSN_ACTION_DELAYED, pending);
	free(pending);
}
