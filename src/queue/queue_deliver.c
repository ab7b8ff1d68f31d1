/*
 * queue_deliver.c: the queue's delivery attempts. Each attempt of a message
 * writes its local copies within a flush (queue.c) and hands its remote
 * recipients, one task per domain, to a dispatcher. When every part of the
 * attempt is back, the message is removed, or kept with its state for the
 * next attempt, and the sender is told what failed (DSN, RFC 3464).
 *
 * Fault points (lib/fault.h): queue/state/open, queue/state/write,
 * queue/state/rename.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/proto.h"
#include "lib/fault.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/delivery.h"
#include "queue/dsn.h"
#include "queue/queue_private.h"
#include "queue/spool_file.h"

struct queue_delivery {
	struct queue_msg *msg;
	struct maildir_copy *copies;
	unsigned *rcpt_index; /* copies[i] is for recipient rcpt_index[i] */
	unsigned n_copies;
};

static void queue_attempt_done(struct queue *q, struct queue_msg *m);

/* ---- loading ---------------------------------------------------------- */

int queue_msg_load(struct queue *q, struct queue_msg *m, const char **error_r)
{
	char path[128], tail[SPOOL_TRAILER_LEN], *block;
	uint64_t body_len;
	uint32_t crc;
	struct stat st;
	size_t want, hlen;
	ssize_t n;
	int r;

	if (m->fd < 0) {
		queue_msg_spool_path(m, path, sizeof(path));
		m->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (m->fd < 0 || fstat(m->fd, &st) < 0) {
			*error_r = strerror(errno);
			return -1;
		}
		/* the trailer says where the envelope starts */
		n = st.st_size >= SPOOL_TRAILER_LEN
		        ? pread(m->fd, tail, sizeof(tail), st.st_size - SPOOL_TRAILER_LEN)
		        : -1;
		if (n != SPOOL_TRAILER_LEN ||
		    spool_trailer_parse(tail, sizeof(tail), &body_len, &crc) < 0 ||
		    body_len > (uint64_t)st.st_size - SPOOL_TRAILER_LEN) {
			*error_r = "no envelope trailer";
			return -1;
		}
		want = (size_t)((uint64_t)st.st_size - SPOOL_TRAILER_LEN - body_len);
		if (want > SPOOL_ENVELOPE_MAX) {
			*error_r = "envelope too large";
			return -1;
		}
		block = xmalloc(want + 1);
		n = pread(m->fd, block, want, (off_t)body_len);
		r = n == (ssize_t)want ? spool_envelope_parse(&m->env, block, want, &hlen, error_r) : -1;
		free(block);
		if (r < 0) {
			if (n != (ssize_t)want)
				*error_r = "short read";
			return -1;
		}
		m->header_len = 0;
		m->body_len = body_len;
		m->arrival = (time_t)m->env.time;
	}
	if (m->n_rcpts != m->env.n_rcpts) {
		/* no state yet, or a state file that does not fit: start afresh */
		free(m->rcpts);
		m->rcpts = xcalloc(m->env.n_rcpts, sizeof(m->rcpts[0]));
		m->n_rcpts = m->env.n_rcpts;
	}
	return 0;
}

/* The message itself (after the envelope), malloc'ed. */
static char *queue_msg_read_body(struct queue_msg *m, const char **error_r)
{
	char *body = xmalloc(m->body_len + 1);
	ssize_t n = pread(m->fd, body, m->body_len, (off_t)m->header_len);

	if (n < 0 || (uint64_t)n != m->body_len) {
		*error_r = n < 0 ? strerror(errno) : "spool file shorter than expected";
		free(body);
		return NULL;
	}
	body[m->body_len] = '\0';
	return body;
}

static const char *queue_rcpt_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : "";
}

static int queue_rcpt_is_local(const struct queue *q, const char *addr)
{
	return config_is_local_domain(&q->cfg, queue_rcpt_domain(addr));
}

/* ---- local copies --------------------------------------------------------- */

/* Creates the Maildir when needed; remembers the last one seen to spare
 * the stat calls on a run of messages to one mailbox. */
static int queue_maildir_ready(struct queue *q, const char *dir, const char **error_r)
{
	if (strcmp(q->known_maildir, dir) == 0)
		return 0;
	if (maildir_ensure(dir, error_r) < 0)
		return -1;
	strlcpy_checked(q->known_maildir, dir, sizeof(q->known_maildir));
	return 0;
}

/* Records why R's local copy failed: WHY. */
static void queue_rcpt_local_failed(struct queue_rcpt *r, const char *why)
{
	char text[DELIVERY_TEXT_MAX];

	snprintf(text, sizeof(text), "4.2.0 local delivery failed: %s", why);
	delivery_status_set(&r->last, "4.2.0", 0, text);
}

/* Writes the tmp/ copy of every pending local recipient. */
static void queue_delivery_local(struct queue *q, struct queue_delivery *d)
{
	struct queue_msg *m = d->msg;
	char dir[MAILDIR_PATH_MAX], prefix[2048];
	const char *why = NULL;
	char *body = NULL;
	unsigned i;

	for (i = 0; i < m->n_rcpts; i++) {
		const char *rcpt = m->env.rcpts[i].addr;

		if (m->rcpts[i].status != RCPT_PENDING || !queue_rcpt_is_local(q, rcpt))
			continue;
		if (body == NULL && (body = queue_msg_read_body(m, &why)) == NULL)
			break;
		if (d->copies == NULL) {
			d->copies = xcalloc(m->n_rcpts, sizeof(d->copies[0]));
			d->rcpt_index = xcalloc(m->n_rcpts, sizeof(d->rcpt_index[0]));
		}
		snprintf(prefix, sizeof(prefix), "Return-Path: <%s>\nDelivered-To: %s\n",
		         m->env.sender, rcpt);
		if (maildir_path_for(rcpt, dir, sizeof(dir)) < 0) {
			why = "the recipient cannot name a mailbox";
		} else if (queue_maildir_ready(q, dir, &why) == 0 &&
		           maildir_write(dir, q->cfg.hostname, prefix, body, m->body_len,
		                         &d->copies[d->n_copies], &why) == 0) {
			d->rcpt_index[d->n_copies++] = i;
			m->rcpts[i].inflight = 1;
			continue;
		}
		q->known_maildir[0] = '\0';
		queue_rcpt_local_failed(&m->rcpts[i], why);
		log_warn("event=deferred id=%s to=<%s> relay=local reason=\"%s\"", m->id, rcpt,
		         m->rcpts[i].last.text);
	}
	if (body == NULL && why != NULL && d->copies == NULL)
		log_error("event=spool-error id=%s reason=\"cannot read spool file: %s\"", m->id,
		          why);
	free(body);
}

/* ---- remote tasks --------------------------------------------------------- */

static unsigned queue_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

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
	pick = queue_hash(domain) % n;
	TAILQ_FOREACH(p, &q->peers, entry)
	if (!p->retiring && pick-- == 0)
		return p;
	return NULL;
}

static struct queue_task *queue_task_find(struct queue *q, uint64_t id)
{
	struct queue_task *t;

	TAILQ_FOREACH(t, &q->tasks[id % QUEUE_TASK_BUCKETS], entry)
	if (t->id == id)
		return t;
	return NULL;
}

/* Sends the pending recipients of M at DOMAIN to a dispatcher. */
static void queue_task_start(struct queue *q, struct queue_msg *m, const char *domain,
                             const unsigned *index, unsigned n)
{
	struct queue_peer *peer = queue_peer_for(q, domain);
	struct mta_task mt;
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
	memset(&mt, 0, sizeof(mt));
	strlcpy_checked(mt.queue_id, m->id, sizeof(mt.queue_id));
	strlcpy_checked(mt.domain, domain, sizeof(mt.domain));
	strlcpy_checked(mt.sender, m->env.sender, sizeof(mt.sender));
	strlcpy_checked(mt.body, m->env.body, sizeof(mt.body));
	strlcpy_checked(mt.ret, m->env.ret, sizeof(mt.ret));
	strlcpy_checked(mt.envid, m->env.envid, sizeof(mt.envid));
	mt.header_len = m->header_len;
	mt.body_len = m->body_len;
	mt.n_rcpts = n;
	mt.rcpts = xcalloc(n, sizeof(mt.rcpts[0]));
	for (i = 0; i < n; i++) {
		mt.rcpts[i].r = m->env.rcpts[index[i]];
		mt.rcpts[i].index = index[i];
		m->rcpts[index[i]].inflight = 1;
	}
	t = xcalloc(1, sizeof(*t));
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
	ipc_writer_init(&w);
	mta_task_encode(&mt, &w);
	ipc_send(peer->ch, IMSG_MTA_DELIVER, t->id, w.buf, w.len, fd);
	ipc_writer_free(&w);
	free(mt.rcpts);
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

/* Groups the pending remote recipients of M by domain, one task each. */
static void queue_dispatch_remote(struct queue *q, struct queue_msg *m)
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
	free(index);
	free(taken);
}

/* ---- the flush's part ------------------------------------------------------- */

struct queue_delivery *queue_deliveries_prepare(struct queue *q, unsigned *n_r)
{
	struct queue_delivery *d = xcalloc(QUEUE_DELIVERY_BATCH, sizeof(*d));
	/* Sessions wait for the commits of this flush: keep its delivery work
	 * short then; later flushes catch up. */
	unsigned limit = TAILQ_EMPTY(&q->batch) ? QUEUE_DELIVERY_BATCH : QUEUE_DELIVERY_BATCH / 4;
	struct queue_msg *m;
	unsigned n = 0;
	const char *why;

	while (n < limit && q->n_tasks < QUEUE_MAX_TASKS && (m = TAILQ_FIRST(&q->ready)) != NULL) {
		TAILQ_REMOVE(&q->ready, m, entry);
		if (m->deleted) {
			queue_msg_remove_files(m);
			queue_msg_free(m);
			continue;
		}
		if (m->held) {
			TAILQ_INSERT_TAIL(&q->deferred, m, entry);
			continue;
		}
		if (queue_msg_load(q, m, &why) < 0) {
			log_error("event=spool-error id=%s reason=\"cannot read spool file: %s\"",
			          m->id, why);
			m->not_before = time(NULL) + 60;
			queue_msg_unload(m);
			TAILQ_INSERT_TAIL(&q->deferred, m, entry);
			continue;
		}
		if (queue_needs_dispatcher(q, m) && queue_peer_for(q, "") == NULL) {
			/* No dispatcher yet (start-up) or any more: not an attempt. */
			m->not_before = time(NULL) + 1;
			TAILQ_INSERT_TAIL(&q->deferred, m, entry);
			continue;
		}
		d[n].msg = m;
		queue_delivery_local(q, &d[n]);
		queue_dispatch_remote(q, m);
		n++;
	}
	*n_r = n;
	return d;
}

unsigned queue_deliveries_commit(struct queue_delivery *d, unsigned n, int synced)
{
	unsigned i, j, renamed = 0;

	for (i = 0; i < n; i++)
		for (j = 0; j < d[i].n_copies; j++) {
			struct queue_rcpt *r = &d[i].msg->rcpts[d[i].rcpt_index[j]];
			const char *why;
			if (synced && maildir_commit(&d[i].copies[j], &why) == 0) {
				r->status = RCPT_DELIVERED;
				renamed++;
				continue;
			}
			maildir_discard(&d[i].copies[j]);
			queue_rcpt_local_failed(r, synced ? why : "the file system could not be synced");
		}
	return renamed;
}

/* Ends the flush's part of each attempt. When the flush failed (!SYNCED), a
 * copy already renamed into new/ counts as delivered (it is there to read;
 * trying again would deliver it twice), but the message keeps its files
 * until a later flush succeeds (queue_attempt_done). */
void queue_deliveries_finish(struct queue *q, struct queue_delivery *d, unsigned n, int synced)
{
	unsigned i, j;

	for (i = 0; i < n; i++) {
		struct queue_msg *m = d[i].msg;
		if (!synced)
			m->unsynced = 1;
		for (j = 0; j < d[i].n_copies; j++) {
			unsigned r = d[i].rcpt_index[j];
			m->rcpts[r].inflight = 0;
			if (m->rcpts[r].status == RCPT_DELIVERED)
				log_info("event=delivered id=%s to=<%s> relay=local mailbox=%s",
				         m->id, m->env.rcpts[r].addr, d[i].copies[j].new_path);
		}
		free(d[i].copies);
		free(d[i].rcpt_index);
		if (m->tasks == 0)
			queue_attempt_done(q, m);
		else
			TAILQ_INSERT_TAIL(&q->active, m, entry);
	}
	free(d);
}

/* ---- results of remote deliveries ----------------------------------------- */

/* Records one recipient's outcome from a dispatcher, and logs it. */
static void queue_rcpt_outcome(struct queue_msg *m, const struct mta_task *mt,
                               const struct mta_rcpt *res)
{
	struct queue_rcpt *r = &m->rcpts[res->index];
	const char *to = m->env.rcpts[res->index].addr;
	char v[700];

	r->inflight = 0;
	r->last = res->status;
	log_value(res->status.text, v, sizeof(v));
	switch (res->outcome) {
	case MTA_DELIVERED:
		r->status = RCPT_DELIVERED;
		log_info("event=delivered id=%s to=<%s> relay=%s tls=%s peer=%s policy=%s dsn=%s "
		         "reply=%s",
		         m->id, to, mt->report.relay, mt->report.tls[0] ? mt->report.tls : "none",
		         mt->report.peer, mt->report.policy, res->status.enhanced, v);
		break;
	case MTA_PERMFAIL:
		r->status = RCPT_FAILED;
		log_info("event=bounced id=%s to=<%s> relay=%s policy=%s dsn=%s reason=%s", m->id,
		         to, mt->report.relay[0] ? mt->report.relay : "none", mt->report.policy,
		         res->status.enhanced, v);
		break;
	default:
		log_info("event=deferred id=%s to=<%s> relay=%s policy=%s dsn=%s reason=%s", m->id,
		         to, mt->report.relay[0] ? mt->report.relay : "none", mt->report.policy,
		         res->status.enhanced, v);
	}
}

/* The seed's complaint (KB 282835): mail that left without an
 * authenticated peer is worth a warning, naming the domain. */
static void queue_warn_unauthenticated(const struct queue_msg *m, const struct queue_task *t,
                                       const struct mta_task *mt)
{
	unsigned i, delivered = 0;

	for (i = 0; i < mt->n_rcpts; i++)
		delivered += mt->rcpts[i].outcome == MTA_DELIVERED;
	if (delivered == 0 || strcmp(mt->report.peer, "verified") == 0)
		return;
	log_warn("event=unauthenticated-delivery id=%s domain=%s relay=%s tls=%s peer=%s "
	         "policy=%s recipients=%u",
	         m->id, t->domain, mt->report.relay, mt->report.tls[0] ? mt->report.tls : "none",
	         mt->report.peer, mt->report.policy, delivered);
}

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

void queue_task_result(struct queue *q, uint64_t id, const void *data, size_t len)
{
	struct queue_task *t = queue_task_find(q, id);
	struct mta_task mt;
	unsigned i;

	if (t == NULL)
		return;
	memset(&mt, 0, sizeof(mt));
	mt.n_rcpts = t->n;
	mt.rcpts = xcalloc(t->n, sizeof(mt.rcpts[0]));
	for (i = 0; i < t->n; i++) {
		mt.rcpts[i].index = t->index[i];
		mt.rcpts[i].outcome = MTA_TEMPFAIL;
		delivery_status_set(&mt.rcpts[i].status, "4.3.0", 0,
		                    "4.3.0 malformed result from the dispatcher");
	}
	if (mta_result_decode(&mt, data, len) < 0)
		log_error("event=ipc-error id=%s reason=\"malformed delivery result\"", t->msg->id);
	for (i = 0; i < t->n; i++)
		if (mt.rcpts[i].index < t->msg->n_rcpts)
			queue_rcpt_outcome(t->msg, &mt, &mt.rcpts[i]);
	queue_warn_unauthenticated(t->msg, t, &mt);
	free(mt.rcpts);
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
				delivery_status_set(&r->last, "4.3.0", 0,
				                    "4.3.0 the delivery process exited");
			}
			queue_task_end(q, t);
		}
}

/* ---- DSN ---------------------------------------------------------------------- */

/* The Status: of R in a DSN for ACTION (RFC 3464 2.3.4): its last enhanced
 * code, made permanent for a failure; "" for the generic code. */
static void queue_dsn_status(const struct queue_rcpt *r, enum dsn_action action, char *buf,
                             size_t size)
{
	if (action == DSN_ACTION_DELIVERED) {
		snprintf(buf, size, "2.0.0");
		return;
	}
	snprintf(buf, size, "%s", r->last.enhanced);
	if (action == DSN_ACTION_FAILED && buf[0] == '4')
		buf[0] = '5';
}

/* Whether recipient R asked to hear about ACTION (RFC 3461 4.1; without
 * NOTIFY, failures and delays are reported). */
static int queue_wants_dsn(const struct envelope_rcpt *r, enum dsn_action action)
{
	if (r->notify & NOTIFY_NEVER)
		return 0;
	if (action == DSN_ACTION_DELIVERED || action == DSN_ACTION_RELAYED)
		return (r->notify & NOTIFY_SUCCESS) != 0;
	if (action == DSN_ACTION_DELAYED)
		return r->notify == 0 || (r->notify & NOTIFY_DELAY);
	return r->notify == 0 || (r->notify & NOTIFY_FAILURE);
}

/* The reporting-MTA's name for a remote diagnostic: "host" of "host[ip]:port". */
static const char *queue_kind_name(enum dsn_action action)
{
	return action == DSN_ACTION_FAILED    ? "failed"
	       : action == DSN_ACTION_DELAYED ? "delayed"
	                                      : "delivered";
}

/* Sends the sender of M one DSN about the recipients in WHICH (those that
 * asked for it). */
static void queue_send_dsn(struct queue *q, struct queue_msg *m, enum dsn_action action,
                           const unsigned char *which)
{
	struct dsn_recipient *dr = xcalloc(m->n_rcpts, sizeof(*dr));
	char(*status)[16] = xcalloc(m->n_rcpts, sizeof(*status));
	struct dsn_params p;
	struct envelope env;
	const char *why;
	char *body = NULL, *dsn, new_id[32];
	unsigned i, n = 0;
	time_t now = time(NULL);
	size_t len;

	for (i = 0; i < m->n_rcpts; i++) {
		if (!which[i] || !queue_wants_dsn(&m->env.rcpts[i], action))
			continue;
		queue_dsn_status(&m->rcpts[i], action, status[i], sizeof(status[i]));
		dr[n].address = m->env.rcpts[i].addr;
		dr[n].orcpt = m->env.rcpts[i].orcpt[0] ? m->env.rcpts[i].orcpt : NULL;
		dr[n].action = action;
		dr[n].status = status[i];
		dr[n].diagnostic = m->rcpts[i].last.text[0] ? m->rcpts[i].last.text : NULL;
		dr[n].diagnostic_type = m->rcpts[i].last.reply_code != 0 ? "smtp" : "X-Sealmail";
		dr[n].last_attempt = now;
		dr[n].will_retry_until = m->arrival + (time_t)q->cfg.max_lifetime;
		n++;
	}
	if (n == 0 || m->env.sender[0] == '\0' || (body = queue_msg_read_body(m, &why)) == NULL) {
		if (n > 0 && m->env.sender[0] == '\0')
			log_info("event=dsn-suppressed id=%s kind=%s reason=\"null sender\"", m->id,
			         queue_kind_name(action));
		free(dr);
		free(status);
		return;
	}
	memset(&p, 0, sizeof(p));
	p.reporting_mta = q->cfg.hostname;
	p.queue_id = m->id;
	p.envid = m->env.envid[0] ? m->env.envid : NULL;
	p.sender = m->env.sender;
	p.arrival = m->arrival;
	p.ret = strcmp(m->env.ret, "full") == 0   ? DSN_RET_FULL
	        : strcmp(m->env.ret, "hdrs") == 0 ? DSN_RET_HDRS
	                                          : DSN_RET_DEFAULT;
	p.rcpts = dr;
	p.n_rcpts = n;
	p.message = body;
	p.message_len = m->body_len;
	p.now = now;
	p.boundary_seed = m->id;
	dsn = dsn_build(&p, &len);
	envelope_init(&env);
	env.time = (uint64_t)now;
	strlcpy_checked(env.helo, q->cfg.hostname, sizeof(env.helo));
	strlcpy_checked(env.client, "127.0.0.1", sizeof(env.client));
	envelope_add_rcpt(&env, m->env.sender, NOTIFY_NEVER, NULL);
	if (queue_inject(q, &env, dsn, len, new_id) == 0)
		log_info("event=dsn id=%s dsn_id=%s kind=%s to=<%s> recipients=%u", m->id, new_id,
		         queue_kind_name(action), m->env.sender, n);
	envelope_free(&env);
	free(dsn);
	free(body);
	free(dr);
	free(status);
}

/* DSNs due after an attempt: failures and (RFC 3461) successes asked for. */
static void queue_report(struct queue *q, struct queue_msg *m)
{
	unsigned char *failed = xcalloc(m->n_rcpts, 1), *delivered = xcalloc(m->n_rcpts, 1);
	unsigned i, n_failed = 0, n_delivered = 0;

	for (i = 0; i < m->n_rcpts; i++) {
		struct queue_rcpt *r = &m->rcpts[i];
		if (r->reported || r->status == RCPT_PENDING)
			continue;
		r->reported = 1;
		if (r->status == RCPT_FAILED)
			n_failed += failed[i] = 1;
		else
			n_delivered += delivered[i] = 1;
	}
	if (n_failed > 0)
		queue_send_dsn(q, m, DSN_ACTION_FAILED, failed);
	if (n_delivered > 0)
		queue_send_dsn(q, m, DSN_ACTION_DELIVERED, delivered);
	free(failed);
	free(delivered);
}

/* ---- the end of an attempt ---------------------------------------------------- */

/* Past max_lifetime, what is still pending fails with its last reason. */
static void queue_expire(struct queue *q, struct queue_msg *m, time_t now)
{
	unsigned i;
	char why[DELIVERY_TEXT_MAX];

	if (now - m->arrival < (time_t)q->cfg.max_lifetime)
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
		log_info("event=bounced id=%s to=<%s> reason=\"%s\"", m->id, m->env.rcpts[i].addr,
		         why);
	}
}

/* A delay notice, once, when delay_warning has passed (RFC 3464 Action:
 * delayed). */
static void queue_delay_warning(struct queue *q, struct queue_msg *m, time_t now)
{
	unsigned char *pending;
	unsigned i;

	if (q->cfg.delay_warning == 0 || m->warned ||
	    now - m->arrival < (time_t)q->cfg.delay_warning)
		return;
	pending = xcalloc(m->n_rcpts, 1);
	for (i = 0; i < m->n_rcpts; i++)
		pending[i] = m->rcpts[i].status == RCPT_PENDING;
	m->warned = 1;
	queue_send_dsn(q, m, DSN_ACTION_DELAYED, pending);
	free(pending);
}

static void queue_attempt_done(struct queue *q, struct queue_msg *m)
{
	time_t now = time(NULL);
	unsigned i, pending = 0, wait;

	if (m->unsynced) {
		/* Not an attempt: what this flush did may not be on disk. */
		m->unsynced = 0;
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
	queue_delay_warning(q, m, now);
	wait = q->cfg.retry[m->attempts < q->cfg.n_retry ? m->attempts : q->cfg.n_retry - 1];
	m->attempts++;
	m->not_before = now + (time_t)wait;
	queue_state_write(m);
	queue_msg_unload(m);
	TAILQ_INSERT_TAIL(&q->deferred, m, entry);
}

/* ---- state files ---------------------------------------------------------------- */

void queue_msg_remove_files(const struct queue_msg *m)
{
	char path[128];

	queue_msg_spool_path(m, path, sizeof(path));
	unlink(path);
	snprintf(path, sizeof(path), "queue/state/%s", m->id);
	unlink(path);
}

/* Writes queue/state/ID (queue_state.h) beside the spool file (temp file,
 * rename); it is made stable by the next flush: lost, it costs a repeated
 * attempt, never a message. On failure sets m->state_dirty for another try. */
void queue_state_write(struct queue_msg *m)
{
	struct queue_state st = {m->attempts, m->not_before, m->warned, m->held, m->rcpts,
	                         m->n_rcpts};
	char path[128], tmp[140], *text;
	size_t len;
	int fd, failed;

	snprintf(path, sizeof(path), "queue/state/%s", m->id);
	snprintf(tmp, sizeof(tmp), "queue/state/%s.tmp", m->id);
	fd = FAULT("queue/state/open") ? -1
	                               : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0) {
		log_error("event=spool-error id=%s reason=\"state file: %s\"", m->id,
		          strerror(errno));
		m->state_dirty = 1;
		return;
	}
	text = queue_state_format(&st, &len);
	failed = FAULT("queue/state/write") || write_all(fd, text, len) < 0;
	free(text);
	if (failed) {
		int err = errno;
		close(fd);
		errno = err;
	} else {
		failed = close(fd) != 0 || FAULT("queue/state/rename") || rename(tmp, path) < 0;
	}
	m->state_dirty = failed;
	if (failed) {
		log_error("event=spool-error id=%s reason=\"state file: %s\"", m->id,
		          strerror(errno));
		unlink(tmp);
	}
}

/* Reads queue/state/ID into M, when the file exists and is valid. */
void queue_state_read(struct queue_msg *m)
{
	struct queue_state_parser p;
	struct queue_state st;
	const char *why = NULL;
	char path[128], buf[8192];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "queue/state/%s", m->id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	queue_state_parser_init(&p, &st);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (queue_state_parser_feed(&p, buf, (size_t)n, &why) < 0)
			break;
	if (n < 0)
		why = strerror(errno);
	close(fd);
	if (why != NULL || queue_state_parser_finish(&p, &why) < 0) {
		queue_state_free(&st);
		log_error("event=spool-error id=%s reason=\"state file: %s; ignored\"", m->id, why);
		return;
	}
	free(m->rcpts);
	m->attempts = st.attempts;
	m->not_before = st.not_before;
	m->warned = st.warned;
	m->held = st.held;
	m->rcpts = st.rcpts;
	m->n_rcpts = st.n_rcpts;
}
