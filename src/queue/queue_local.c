/*
 * queue_local.c: the deliveries that ride each flush (queue.c's header
 * comment has the durability design). Once the flush has answered its
 * commits, it starts an attempt for up to a batch of ready messages: their
 * remote recipients go to dispatchers (queue_remote.c), their local ones get
 * a copy written to Maildir tmp/; after a syncfs the copies are renamed into
 * new/; after the second syncfs the attempts' local part ends, and a message
 * with no task in flight ends its attempt (queue_retry.c).
 *
 * Each copy starts with Return-Path:, Delivered-To: and Received-TLS:,
 * how the message reached us (modelled on Received-SPF, RFC 7208 9.1):
 *
 *   Received-TLS: TLSv1.3/TLS_AES_256_GCM_SHA384 client=::1 helo=x.test
 *       listener=submission auth=yes peer=unchecked trusted=yes
 *   Received-TLS: none client=192.0.2.1 helo=x.test listener=mx auth=no peer=none trusted=no
 *
 * (each one line, never folded: the first is wrapped here only), giving
 * the inbound hop's TLS version/cipher ("none": plaintext), the client's
 * address and EHLO name, the [listen NAME] it came in on ("local": the
 * submission socket of `sealmail send`; "unknown" for the queue's own
 * notices), whether the client logged in (SMTP AUTH; the login name is not
 * written), how the client was authenticated at the TLS layer
 * ("unchecked": TLS, no client certificate checked, "none":
 * plaintext) and whether it was trusted (logged in, in trusted_networks or
 * submitting locally: envelope.trusted). Values are cut to one word.
 *
 * Called by queue.c's flush only; calls maildir.c, queue_msg.c,
 * queue_remote.c and queue_retry.c.
 */
#include "queue/queue_local.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/util.h"
#include "mail/delivery.h"
#include "queue/maildir.h"
#include "queue/queue_metrics.h"
#include "queue/queue_msg.h"
#include "queue/queue_remote.h"
#include "queue/queue_retry.h"

struct queue_delivery {
	struct queue_msg *msg;
	struct maildir_copy *copies;
	unsigned *rcpt_index; /* copies[i] is for recipient rcpt_index[i] */
	unsigned n_copies;
};

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

/* Records why the local copy for M's recipient I failed (WHY) and logs
 * the deferral. */
static void queue_rcpt_local_failed(struct queue_msg *m, unsigned i, const char *why)
{
	struct queue_rcpt *r = &m->rcpts[i];
	char text[DELIVERY_TEXT_MAX], a[ENVELOPE_ADDR_MAX + 16], v[700];

	snprintf(text, sizeof(text), "4.2.0 local delivery failed: %s", why);
	delivery_status_set(&r->last, "4.2.0", 0, text);
	queue_metrics_local(0);
	log_warn("event=deferred id=%s to=%s relay=local reason=%s", m->id,
	         log_address(m->env.rcpts[i].addr, a, sizeof(a)),
	         log_value(r->last.text, v, sizeof(v)));
}

/* Copies S into OUT (SIZE bytes) as one header word: octets that are
 * spaces, controls, not ASCII, or ';' become '?'; "" becomes "unknown". */
static void queue_header_word(const char *s, char *out, size_t size)
{
	size_t n = 0;

	if (*s == '\0')
		s = "unknown";
	for (; *s != '\0' && n + 1 < size; s++) {
		unsigned char c = (unsigned char)*s;
		out[n++] = c <= 0x20 || c >= 0x7f || c == ';' ? '?' : (char)c;
	}
	out[n] = '\0';
}

/* The Received-TLS: field of ENV (see the header comment), with its line
 * end, into OUT of SIZE bytes. */
static void queue_received_tls(const struct envelope *env, char *out, size_t size)
{
	char tls[sizeof(env->tls)], client[sizeof(env->client)], helo[sizeof(env->helo)];
	char listener[sizeof(env->listener)];

	queue_header_word(env->tls[0] ? env->tls : "none", tls, sizeof(tls));
	/* a local submission has no client address: none is made up */
	queue_header_word(strcmp(env->listener, "local") == 0 ? "local" : env->client, client,
	                  sizeof(client));
	queue_header_word(env->helo, helo, sizeof(helo));
	queue_header_word(env->listener, listener, sizeof(listener));
	snprintf(out, size,
	         "Received-TLS: %s client=%s helo=%s listener=%s auth=%s peer=%s trusted=%s\n", tls,
	         client, helo, listener, env->authenticated ? "yes" : "no",
	         env->tls[0] ? "unchecked" : "none", env->trusted ? "yes" : "no");
}

/* Writes the tmp/ copy of every pending local recipient. */
static void queue_delivery_local(struct queue *q, struct queue_delivery *d)
{
	struct queue_msg *m = d->msg;
	char dir[MAILDIR_PATH_MAX], prefix[2048], received_tls[640];
	const char *why = NULL;
	char *body = NULL;
	unsigned i;

	queue_received_tls(&m->env, received_tls, sizeof(received_tls));
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
		snprintf(prefix, sizeof(prefix), "Return-Path: <%s>\nDelivered-To: %s\n%s",
		         m->env.sender, rcpt, received_tls);
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
		queue_rcpt_local_failed(m, i, why);
	}
	if (body == NULL && why != NULL && d->copies == NULL)
		log_error("event=spool-error id=%s reason=\"cannot read spool file: %s\"", m->id,
		          why);
	free(body);
}

/* Readies M, just taken from the ready list, for an attempt; returns 1
 * when it is to be attempted now, 0 when it was freed or deferred. */
static int queue_attempt_ready(struct queue *q, struct queue_msg *m)
{
	const char *why;

	if (m->deleted) {
		queue_msg_remove_files(m);
		queue_msg_free(m);
		return 0;
	}
	if (m->held) {
		TAILQ_INSERT_TAIL(&q->deferred, m, entry);
		return 0;
	}
	if (queue_msg_load(q, m, &why) < 0) {
		log_error("event=spool-error id=%s reason=\"cannot read spool file: %s\"", m->id,
		          why);
		m->not_before = time(NULL) + 60;
		queue_msg_unload(m);
		TAILQ_INSERT_TAIL(&q->deferred, m, entry);
		return 0;
	}
	if (queue_remote_must_wait(q, m)) {
		/* No dispatcher yet (start-up) or any more: not an attempt. */
		m->not_before = time(NULL) + 1;
		TAILQ_INSERT_TAIL(&q->deferred, m, entry);
		return 0;
	}
	return 1;
}

struct queue_delivery *queue_deliveries_prepare(struct queue *q, unsigned *n_r)
{
	/* the flush has answered its commits already (the batch is empty):
	 * a whole batch of deliveries delays no session of this flush */
	struct queue_delivery *d = xcalloc(QUEUE_DELIVERY_BATCH, sizeof(*d));
	struct queue_msg *m;
	unsigned n = 0;

	while (n < QUEUE_DELIVERY_BATCH && q->n_tasks < QUEUE_MAX_TASKS && (m = TAILQ_FIRST(&q->ready)) != NULL) {
		TAILQ_REMOVE(&q->ready, m, entry);
		if (!queue_attempt_ready(q, m))
			continue;
		d[n].msg = m;
		queue_delivery_local(q, &d[n]);
		queue_remote_dispatch(q, m);
		n++;
	}
	*n_r = n;
	return d;
}

unsigned queue_deliveries_copies(const struct queue_delivery *d, unsigned n)
{
	unsigned i, copies = 0;

	for (i = 0; i < n; i++)
		copies += d[i].n_copies;
	return copies;
}

int queue_deliveries_unsynced(const struct queue_delivery *d, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (d[i].msg->unsynced)
			return 1;
	return 0;
}

unsigned queue_deliveries_commit(struct queue_delivery *d, unsigned n, int synced)
{
	unsigned i, j, renamed = 0;

	for (i = 0; i < n; i++)
		for (j = 0; j < d[i].n_copies; j++) {
			unsigned ri = d[i].rcpt_index[j];
			struct queue_rcpt *r = &d[i].msg->rcpts[ri];
			const char *why;
			if (synced && maildir_commit(&d[i].copies[j], &why) == 0) {
				r->status = RCPT_DELIVERED;
				r->hop = RCPT_HOP_LOCAL;
				renamed++;
				continue;
			}
			maildir_discard(&d[i].copies[j]);
			queue_rcpt_local_failed(d[i].msg, ri,
			                        synced ? why : "the file system could not be synced");
		}
	return renamed;
}

/* Ends the flush's part of each attempt. When the flush failed (!SYNCED), a
 * copy already renamed into new/ counts as delivered (it is there to read;
 * trying again would deliver it twice), but the message keeps its files
 * until the sync of a later flush succeeds (queue_attempt_done). */
void queue_deliveries_finish(struct queue *q, struct queue_delivery *d, unsigned n, int synced)
{
	unsigned i, j;

	for (i = 0; i < n; i++) {
		struct queue_msg *m = d[i].msg;
		/* only Maildir copies ride the flush: a message without any is
		 * unaffected by its failure (its remote attempt still counts),
		 * unless it still waits for an earlier flush's renames */
		if (d[i].n_copies > 0 || m->unsynced)
			m->unsynced = !synced;
		for (j = 0; j < d[i].n_copies; j++) {
			unsigned r = d[i].rcpt_index[j];
			m->rcpts[r].inflight = 0;
			if (m->rcpts[r].status == RCPT_DELIVERED) {
				char a[ENVELOPE_ADDR_MAX + 16];
				queue_metrics_local(1);
				log_info("event=delivered id=%s to=%s relay=local mailbox=%s",
				         m->id, log_address(m->env.rcpts[r].addr, a, sizeof(a)),
				         d[i].copies[j].new_path);
			}
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
