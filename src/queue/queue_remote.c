/*
 * queue_remote.c: remote deliveries. The pending remote recipients of a
 * message go to a dispatcher's SMTP client, one task (IMSG_MTA_DELIVER with
 * the spool file's descriptor) per domain, always to the same dispatcher
 * for a domain while the set is stable; each recipient's outcome comes back
 * in IMSG_MTA_RESULT. When a message's last task ends, its attempt ends
 * (queue_retry.c).
 *
 * Each task carries what the downgrade memory (tls_memory.c) remembers of
 * its domain, and MTA_TASK_TLS_OVERRIDE for the one attempt an operator
 * released with `queue release ID --tls-override`. Each result is kept as
 * the recipients' record (struct queue_rcpt_record: relay, TLS, peer,
 * policy, why it was held), logged, and raises the memory.
 *
 * Called by queue_local.c (queue_remote_dispatch, when a flush starts an
 * attempt) and queue.c (results, a dispatcher that went away); calls
 * queue_msg.c, queue_retry.c, tls_memory.c and queue.c's
 * queue_schedule_flush().
 */
#include "proto/queue.h"
#include "queue/queue_remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "lib/hash.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/delivery.h"
#include "policy/tls_seen.h"
#include "queue/queue_metrics.h"
#include "queue/queue_msg.h"
#include "queue/queue_retry.h"
#include "queue/queue_tlsrpt.h"
#include "queue/tls_memory.h"

/* ---- starting tasks --------------------------------------------------- */

/* The dispatcher for DOMAIN: always the same one while the set is stable,
 * so its connections to the domain are reused. */
static struct queue_peer *queue_peer_for(struct queue *q, const char *domain)
{
	struct queue_peer *p;
	unsigned n = 0, pick;

	TAILQ_FOREACH(p, &q->peers, entry)
	n += !p->retiring;
	if (n == 0)
		return NULL;
	pick = (unsigned)(hash_str(0, domain) % n); /* key 0: the same in every run */
	TAILQ_FOREACH(p, &q->peers, entry)
	if (!p->retiring && pick-- == 0)
		return p;
	return NULL;
}

/* The task for a dispatcher: M's envelope, with the N recipients INDEX at
 * DOMAIN, what is remembered of DOMAIN's TLS and an operator's override.
 * Its rcpts are malloc'ed. */
static void queue_task_describe(const struct queue *q, const struct queue_msg *m,
                                const char *domain, const unsigned *index, unsigned n,
                                struct proto_task *mt)
{
	unsigned i;

	memset(mt, 0, sizeof(*mt));
	strlcpy_checked(mt->queue_id, m->id, sizeof(mt->queue_id));
	strlcpy_checked(mt->domain, domain, sizeof(mt->domain));
	strlcpy_checked(mt->sender, m->env.sender, sizeof(mt->sender));
	strlcpy_checked(mt->body, m->env.body, sizeof(mt->body));
	/* what is passed on to a next hop that offers DSN is what counts here */
	strlcpy_checked(mt->ret, queue_msg_ret(m), sizeof(mt->ret));
	strlcpy_checked(mt->envid, m->env.envid, sizeof(mt->envid));
	mt->header_len = m->header_len;
	mt->body_len = m->body_len;
	mt->flags = m->env.flags; /* SMTPUTF8, REQUIRETLS, TLS-Required: No */
	if (m->tls_override)
		mt->flags |= MTA_TASK_TLS_OVERRIDE;
	tls_memory_for_task(q->tls_seen, domain, q->cfg.outbound_remember_tls, &mt->seen_level,
	                    &mt->seen_time);
	mt->n_rcpts = n;
	mt->rcpts = xcalloc(n, sizeof(mt->rcpts[0]));
	for (i = 0; i < n; i++) {
		mt->rcpts[i].r = m->env.rcpts[index[i]];
		mt->rcpts[i].r.notify = queue_msg_notify(m, index[i]);
		mt->rcpts[i].index = index[i];
	}
}

/* Records a task in flight for the N recipients INDEX of M at DOMAIN, given
 * to PEER. */
static struct queue_task *queue_task_new(struct queue *q, struct queue_msg *m,
                                         struct queue_peer *peer, const char *domain,
                                         const unsigned *index, unsigned n)
{
	struct queue_task *t = xcalloc(1, sizeof(*t));
	unsigned i;

	for (i = 0; i < n; i++)
		m->rcpts[index[i]].inflight = 1;
	t->id = ++q->task_counter;
	t->msg = m;
	t->peer = peer;
	strlcpy_checked(t->domain, domain, sizeof(t->domain));
	t->index = xmalloc(n * sizeof(unsigned));
	memcpy(t->index, index, n * sizeof(unsigned));
	t->n = n;
	TAILQ_INSERT_TAIL(&q->tasks[t->id % QUEUE_TASK_BUCKETS], t, entry);
	q->n_tasks++;
	m->tasks++;
	return t;
}

/* Sends the pending recipients of M at DOMAIN to a dispatcher. */
static void queue_task_start(struct queue *q, struct queue_msg *m, const char *domain,
                             const unsigned *index, unsigned n)
{
	struct queue_peer *peer = queue_peer_for(q, domain);
	struct proto_task mt;
	struct ipc_writer w;
	struct queue_task *t;
	unsigned i;
	int fd;

	if (peer == NULL || (fd = dup(m->fd)) < 0) {
		for (i = 0; i < n; i++)
			delivery_status_set(&m->rcpts[index[i]].last, "4.3.0", 0,
			                    "4.3.0 no delivery process available");
		return;
	}
	queue_task_describe(q, m, domain, index, n, &mt);
	t = queue_task_new(q, m, peer, domain, index, n);
	ipc_writer_init(&w);
	proto_task_encode(&mt, &w);
	proto_send(peer->ch, IMSG_MTA_DELIVER, t->id, &w, fd);
	proto_task_free(&mt);
}

/* 1 when M has a pending recipient that is not local. */
static int queue_needs_dispatcher(const struct queue *q, const struct queue_msg *m)
{
	unsigned i;

	for (i = 0; i < m->n_rcpts; i++)
		if (m->rcpts[i].status == RCPT_PENDING &&
		    !queue_rcpt_is_local(q, m->env.rcpts[i].addr))
			return 1;
	return 0;
}

int queue_remote_must_wait(struct queue *q, const struct queue_msg *m)
{
	return queue_needs_dispatcher(q, m) && queue_peer_for(q, "") == NULL;
}

/* Groups the pending remote recipients of M by domain, one task each. */
void queue_remote_dispatch(struct queue *q, struct queue_msg *m)
{
	unsigned *index = xcalloc(m->n_rcpts, sizeof(unsigned));
	unsigned char *taken = xcalloc(m->n_rcpts, 1);
	unsigned i, j, n;

	for (i = 0; i < m->n_rcpts; i++) {
		const char *domain;
		if (taken[i] || m->rcpts[i].status != RCPT_PENDING ||
		    queue_rcpt_is_local(q, m->env.rcpts[i].addr))
			continue;
		domain = queue_rcpt_domain(m->env.rcpts[i].addr);
		n = 0;
		for (j = i; j < m->n_rcpts; j++) {
			if (taken[j] || m->rcpts[j].status != RCPT_PENDING ||
			    strcasecmp(queue_rcpt_domain(m->env.rcpts[j].addr), domain) != 0)
				continue;
			taken[j] = 1;
			index[n++] = j;
		}
		queue_task_start(q, m, domain, index, n);
	}
	m->tls_override = 0; /* one attempt only */
	free(index);
	free(taken);
}

/* ---- results ------------------------------------------------------------ */

static struct queue_task *queue_task_find(struct queue *q, uint64_t id)
{
	struct queue_task *t;

	TAILQ_FOREACH(t, &q->tasks[id % QUEUE_TASK_BUCKETS], entry)
	if (t->id == id)
		return t;
	return NULL;
}

/* "LEVEL/SOURCE" of REPORT into BUF ("-" for a part it lacks): the log's
 * policy= value. */
static const char *queue_policy_words(const struct mta_report *report, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", report->policy[0] ? report->policy : "-",
	         report->source[0] ? report->source : "-");
	return buf;
}

/* Keeps REPORT as R's record of this attempt; HELD when TLS policy alone
 * deferred it. */
static void queue_rcpt_keep_record(struct queue_rcpt *r, const struct mta_report *report,
                                   int held)
{
	struct queue_rcpt_record *rec = queue_rcpt_record(r);

	memset(rec, 0, sizeof(*rec));
	rec->when = time(NULL);
	rec->held = held != 0;
	strlcpy_checked(rec->relay, report->relay, sizeof(rec->relay));
	strlcpy_checked(rec->tls, report->tls, sizeof(rec->tls));
	/* a dispatcher of a version before 0.13 may still say "untrusted" */
	strlcpy_checked(rec->peer, tls_peer_word(report->peer), sizeof(rec->peer));
	strlcpy_checked(rec->policy, report->policy, sizeof(rec->policy));
	strlcpy_checked(rec->source, report->source, sizeof(rec->source));
	strlcpy_checked(rec->evidence, report->evidence, sizeof(rec->evidence));
	strlcpy_checked(rec->testing, report->testing, sizeof(rec->testing));
}

/* 1 when the TLS policy, not the peer, kept the mail back: a deferral by
 * the policy alone (report.policy_blocked), or our own 5.7.30 (REQUIRETLS
 * cannot be met, RFC 8689 4.2.1). Those are logged as warnings: the mail
 * waits, or is returned, until an administrator looks. */
static int queue_outcome_by_tls_policy(const struct mta_report *report,
                                       const struct proto_task_outcome *res)
{
	if (res->outcome == MTA_TEMPFAIL)
		return report->policy_blocked != 0;
	return res->outcome == MTA_PERMFAIL && res->status.reply_code == 0 &&
	       strcmp(res->status.enhanced, "5.7.30") == 0;
}

/* Records one recipient's outcome from a dispatcher, and logs it. */
static void queue_rcpt_outcome(struct queue_msg *m, const struct mta_report *report,
                               const struct proto_task_outcome *res)
{
	struct queue_rcpt *r = &m->rcpts[res->index];
	char to[ENVELOPE_ADDR_MAX + 16], v[700], pol[40], ev[600];
	const char *relay = report->relay[0] ? report->relay : "none";

	r->inflight = 0;
	r->last = res->status;
	queue_rcpt_keep_record(r, report, res->outcome == MTA_TEMPFAIL && report->policy_blocked);
	log_value(res->status.text, v, sizeof(v));
	log_address(m->env.rcpts[res->index].addr, to, sizeof(to));
	queue_policy_words(report, pol, sizeof(pol));
	queue_metrics_remote(res->outcome, report);
	log_value(report->evidence, ev, sizeof(ev));
	switch (res->outcome) {
	case MTA_DELIVERED:
		r->status = RCPT_DELIVERED;
		r->hop = report->peer_dsn ? RCPT_HOP_PASSED_ON : RCPT_HOP_RELAYED;
		log_info("event=delivered id=%s to=%s relay=%s tls=%s peer=%s policy=%s "
		         "evidence=%s dsn=%s reply=%s",
		         m->id, to, relay, report->tls[0] ? report->tls : "none",
		         report->peer[0] ? report->peer : "none", pol, ev, res->status.enhanced, v);
		break;
	case MTA_PERMFAIL:
		r->status = RCPT_FAILED;
		if (queue_outcome_by_tls_policy(report, res))
			log_warn("event=bounced id=%s to=%s relay=%s policy=%s dsn=%s reason=%s "
			         "cause=tls-policy",
			         m->id, to, relay, pol, res->status.enhanced, v);
		else
			log_info("event=bounced id=%s to=%s relay=%s policy=%s dsn=%s reason=%s",
			         m->id, to, relay, pol, res->status.enhanced, v);
		break;
	default:
		if (queue_outcome_by_tls_policy(report, res))
			log_warn(
			    "event=deferred id=%s to=%s relay=%s policy=%s held=tls-policy dsn=%s "
			    "reason=%s",
			    m->id, to, relay, pol, res->status.enhanced, v);
		else
			log_info("event=deferred id=%s to=%s relay=%s policy=%s dsn=%s reason=%s",
			         m->id, to, relay, pol, res->status.enhanced, v);
	}
}

/* The seed's complaint (KB 282835): mail that left without an
 * authenticated peer (peer unchecked or none: not dane, sts or verified)
 * is worth a warning, naming the domain. */
static void queue_warn_unauthenticated(const struct queue_msg *m, const struct queue_task *t,
                                       const struct mta_report *report, unsigned delivered)
{
	char pol[40];

	if (delivered == 0 || tls_seen_achieved(report->peer) == TLS_SEEN_AUTHENTICATED)
		return;
	log_warn("event=warning-unauthenticated id=%s domain=%s relay=%s tls=%s peer=%s "
	         "policy=%s recipients=%u",
	         m->id, t->domain, report->relay[0] ? report->relay : "none",
	         report->tls[0] ? report->tls : "none", report->peer[0] ? report->peer : "none",
	         queue_policy_words(report, pol, sizeof(pol)), delivered);
}

/* What the task result says beyond the recipients: the testing mode's
 * note (the delivery went as "may" would; RFC 8460 counts are not
 * changed), a warning for an unauthenticated peer, the downgrade memory. */
static void queue_task_report(struct queue *q, const struct queue_task *t,
                              const struct mta_report *report,
                              const struct proto_task_outcome *out)
{
	unsigned i, delivered = 0;

	for (i = 0; i < t->n; i++)
		delivered += out[i].outcome == MTA_DELIVERED;
	if (report->testing[0] != '\0') {
		char v[600];
		log_info("event=tls-testing id=%s domain=%s relay=%s note=%s", t->msg->id, t->domain,
		         report->relay[0] ? report->relay : "none",
		         log_value(report->testing, v, sizeof(v)));
	}
	queue_warn_unauthenticated(t->msg, t, report, delivered);
	tls_memory_delivered(q->tls_seen, t->domain, report, delivered,
	                     q->cfg.outbound_remember_tls);
}

/* Forgets task T; the attempt of its message ends with its last task. */
static void queue_task_end(struct queue *q, struct queue_task *t)
{
	struct queue_msg *m = t->msg;

	TAILQ_REMOVE(&q->tasks[t->id % QUEUE_TASK_BUCKETS], t, entry);
	q->n_tasks--;
	free(t->index);
	free(t);
	if (--m->tasks == 0) {
		TAILQ_REMOVE(&q->active, m, entry);
		queue_attempt_done(q, m);
	}
	if (!TAILQ_EMPTY(&q->ready))
		queue_schedule_flush(q);
}

/* Fills OUT (the task's recipients, in its order) from a dispatcher's
 * result; -1 when it is not about those recipients. */
static int queue_task_outcomes(const struct queue_task *t, const struct proto_task_result *res,
                               struct proto_task_outcome *out)
{
	unsigned i, j;

	if (res->n_rcpts != t->n)
		return -1;
	for (j = 0; j < res->n_rcpts; j++)
		for (i = 0; i < t->n; i++)
			if (out[i].index == res->rcpts[j].index)
				out[i] = res->rcpts[j];
	return 0;
}

void queue_task_result(struct queue *q, uint64_t id, const void *data, size_t len)
{
	struct queue_task *t = queue_task_find(q, id);
	struct proto_task_outcome *out;
	struct proto_task_result res;
	struct mta_report report;
	const char *why = "malformed delivery result";
	unsigned i;

	if (t == NULL)
		return;
	out = xcalloc(t->n, sizeof(out[0]));
	for (i = 0; i < t->n; i++) {
		out[i].index = t->index[i];
		out[i].outcome = MTA_TEMPFAIL;
		delivery_status_set(&out[i].status, "4.3.0", 0,
		                    "4.3.0 malformed result from the dispatcher");
	}
	memset(&report, 0, sizeof(report));
	if (proto_task_result_decode(&res, data, len, &why) < 0 ||
	    queue_task_outcomes(t, &res, out) < 0)
		log_error("event=ipc-error id=%s reason=\"%s\"", t->msg->id, why);
	else
		report = res.report;
	for (i = 0; i < t->n; i++)
		if (out[i].index < t->msg->n_rcpts)
			queue_rcpt_outcome(t->msg, &report, &out[i]);
	queue_task_report(q, t, &report, out);
	queue_tlsrpt_task_result(t->msg, t->domain, &report);
	proto_task_result_free(&res);
	free(out);
	queue_task_end(q, t);
}

void queue_peer_lost_tasks(struct queue *q, struct queue_peer *peer)
{
	struct queue_task *t, *next;
	unsigned b, i;

	for (b = 0; b < QUEUE_TASK_BUCKETS; b++)
		for (t = TAILQ_FIRST(&q->tasks[b]); t != NULL; t = next) {
			next = TAILQ_NEXT(t, entry);
			if (t->peer != peer)
				continue;
			for (i = 0; i < t->n; i++) {
				struct queue_rcpt *r = &t->msg->rcpts[t->index[i]];
				r->inflight = 0;
				if (r->via != NULL)
					r->via->held = 0; /* no policy said anything */
				delivery_status_set(&r->last, "4.3.0", 0,
				                    "4.3.0 the delivery process exited");
			}
			queue_task_end(q, t);
		}
}
