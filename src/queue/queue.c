/*
 * queue.c: the queue role's event loop, group commit and local delivery.
 *
 * Durability (RFC 5321 6.1: a 250 to DATA is a promise). The dispatcher
 * writes the message into queue/incoming/ID through the descriptor we gave
 * it. A commit request joins the current batch; once per loop turn the batch
 * is flushed: syncfs() makes every file of the batch stable, each is renamed
 * into queue/active/, a second syncfs() makes the renames stable, and only
 * then does every session of the batch get its 250. Two flushes cover any
 * number of messages, so durability costs little per message.
 *
 * Delivery rides the same flushes: copies are written to Maildir tmp/ before
 * the first syncfs, renamed into new/ with the commits, and the spool file is
 * removed after the second. A crash in between delivers a message twice at
 * worst, never loses it.
 */
#include "queue/queue.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "conf/config.h"
#include "daemon/proto.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/util.h"
#include "queue/envelope.h"
#include "queue/maildir.h"

#define QUEUE_DELIVERY_BATCH 256
#define QUEUE_RETRY_SECONDS 60
#define QUEUE_RETRY_MAX_SECONDS 3600

struct queue_peer;

/* A message being received or waiting for its commit flush. */
struct queue_txn {
	TAILQ_ENTRY(queue_txn) entry;
	char id[32];
	struct queue_peer *peer;
	uint64_t request_id;
	size_t header_len;
	uint64_t size;
	int committing;
};
TAILQ_HEAD(queue_txn_list, queue_txn);

/* A committed message waiting for delivery. */
struct queue_msg {
	TAILQ_ENTRY(queue_msg) entry;
	char id[32];
	time_t not_before;
	unsigned attempts;
	unsigned char *done; /* per recipient, when a delivery was partial */
	unsigned n_done;
};
TAILQ_HEAD(queue_msg_list, queue_msg);

struct queue_peer {
	TAILQ_ENTRY(queue_peer) entry;
	struct ipc_channel *ch;
};
TAILQ_HEAD(queue_peer_list, queue_peer);

struct queue {
	struct config cfg;
	struct event_base *base;
	struct ipc_channel *parent;
	struct queue_peer_list peers;
	struct queue_txn_list open;     /* receiving */
	struct queue_txn_list batch;    /* commit requested */
	struct queue_msg_list ready;    /* to deliver now */
	struct queue_msg_list deferred; /* waiting for not_before */
	struct event *ev_flush, *ev_retry;
	int sync_fd;
	unsigned id_counter;
};

static void queue_schedule_flush(struct queue *q);

static void queue_new_id(struct queue *q, char *buf, size_t size)
{
	snprintf(buf, size, "%013" PRIx64 "%05X", now_usec(), (q->id_counter++) & 0xfffff);
}

static struct queue_txn *queue_txn_find(struct queue *q, struct queue_peer *peer, const char *id)
{
	struct queue_txn *t;

	TAILQ_FOREACH(t, &q->open, entry)
	if (t->peer == peer && strcmp(t->id, id) == 0)
		return t;
	return NULL;
}

static void queue_txn_drop(struct queue *q, struct queue_txn *t, struct queue_txn_list *list)
{
	char path[128];

	snprintf(path, sizeof(path), "queue/incoming/%s", t->id);
	unlink(path);
	TAILQ_REMOVE(list, t, entry);
	free(t);
}

static void queue_reply(struct queue_peer *peer, uint32_t type, uint64_t id, uint32_t ok,
			const char *text, int fd)
{
	struct ipc_writer w;

	ipc_writer_init(&w);
	ipc_put_u32(&w, ok);
	ipc_put_str(&w, text);
	ipc_send(peer->ch, type, id, w.buf, w.len, fd);
	ipc_writer_free(&w);
}

/* IMSG_QUEUE_OPEN: creates the spool file, writes the envelope, passes the
 * descriptor for the message to be appended. */
static void queue_handle_open(struct queue *q, struct queue_peer *peer, uint64_t rid,
			      const void *data, size_t len)
{
	struct ipc_reader r;
	struct envelope env;
	struct queue_txn *t;
	char path[128], *header;
	size_t hlen;
	int fd;

	ipc_reader_init(&r, data, len);
	if (envelope_decode(&env, &r) < 0) {
		envelope_free(&env);
		queue_reply(peer, IMSG_QUEUE_OPEN_RESULT, rid, 0, "malformed envelope", -1);
		return;
	}
	t = xcalloc(1, sizeof(*t));
	queue_new_id(q, t->id, sizeof(t->id));
	snprintf(env.id, sizeof(env.id), "%s", t->id);
	header = envelope_format(&env, &hlen);
	envelope_free(&env);
	snprintf(path, sizeof(path), "queue/incoming/%s", t->id);
	fd = header ? open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
	if (fd < 0 || write_all(fd, header, hlen) < 0) {
		log_error("event=spool-error id=%s reason=\"%s\"", t->id,
			  header ? strerror(errno) : "bad envelope");
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		free(header);
		free(t);
		queue_reply(peer, IMSG_QUEUE_OPEN_RESULT, rid, 0, "cannot create spool file", -1);
		return;
	}
	free(header);
	t->peer = peer;
	t->header_len = hlen;
	TAILQ_INSERT_TAIL(&q->open, t, entry);
	queue_reply(peer, IMSG_QUEUE_OPEN_RESULT, rid, 1, t->id, fd);
}

/* IMSG_QUEUE_COMMIT: checks the size and joins the next flush. */
static void queue_handle_commit(struct queue *q, struct queue_peer *peer, uint64_t rid,
				const void *data, size_t len)
{
	struct ipc_reader r;
	struct queue_txn *t;
	char id[32], path[128];
	struct stat st;
	uint64_t size;

	ipc_reader_init(&r, data, len);
	ipc_get_str(&r, id, sizeof(id));
	size = ipc_get_u64(&r);
	t = ipc_reader_done(&r) == 0 ? queue_txn_find(q, peer, id) : NULL;
	if (t == NULL) {
		queue_reply(peer, IMSG_QUEUE_COMMIT_RESULT, rid, 0, "unknown transaction", -1);
		return;
	}
	snprintf(path, sizeof(path), "queue/incoming/%s", t->id);
	if (stat(path, &st) < 0 || (uint64_t)st.st_size != t->header_len + size) {
		log_error("event=spool-error id=%s reason=\"size mismatch\"", t->id);
		queue_txn_drop(q, t, &q->open);
		queue_reply(peer, IMSG_QUEUE_COMMIT_RESULT, rid, 0, "spool size mismatch", -1);
		return;
	}
	t->request_id = rid;
	t->size = size;
	t->committing = 1;
	TAILQ_REMOVE(&q->open, t, entry);
	TAILQ_INSERT_TAIL(&q->batch, t, entry);
	queue_schedule_flush(q);
}

static void queue_handle_abort(struct queue *q, struct queue_peer *peer, const void *data,
			       size_t len)
{
	struct ipc_reader r;
	struct queue_txn *t;
	char id[32];

	ipc_reader_init(&r, data, len);
	ipc_get_str(&r, id, sizeof(id));
	if (ipc_reader_done(&r) == 0 && (t = queue_txn_find(q, peer, id)) != NULL)
		queue_txn_drop(q, t, &q->open);
}

static void queue_peer_handler(struct ipc_channel *ch, uint32_t type, uint64_t id,
			       const void *data, size_t len, int fd, void *arg);
static void queue_peer_closed(struct ipc_channel *ch, void *arg);

struct queue_peer_ctx {
	struct queue *q;
	struct queue_peer *peer;
};

static void queue_add_peer(struct queue *q, int fd)
{
	struct queue_peer_ctx *ctx = xcalloc(1, sizeof(*ctx));
	struct queue_peer *peer = xcalloc(1, sizeof(*peer));

	ctx->q = q;
	ctx->peer = peer;
	peer->ch = ipc_channel_new(q->base, fd, queue_peer_handler, queue_peer_closed, ctx);
	TAILQ_INSERT_TAIL(&q->peers, peer, entry);
}

static void queue_peer_handler(struct ipc_channel *ch, uint32_t type, uint64_t id,
			       const void *data, size_t len, int fd, void *arg)
{
	struct queue_peer_ctx *ctx = arg;

	if (fd >= 0)
		close(fd);
	switch (type) {
	case IMSG_QUEUE_OPEN:
		queue_handle_open(ctx->q, ctx->peer, id, data, len);
		break;
	case IMSG_QUEUE_COMMIT:
		queue_handle_commit(ctx->q, ctx->peer, id, data, len);
		break;
	case IMSG_QUEUE_ABORT:
		queue_handle_abort(ctx->q, ctx->peer, data, len);
		break;
	default:
		log_error("event=ipc-error reason=\"unexpected message %u from dispatcher\"",
			  type);
	}
}

/* A dispatcher went away: its unfinished transactions are dropped (never
 * acknowledged), and the batch forgets whom to answer. */
static void queue_peer_closed(struct ipc_channel *ch, void *arg)
{
	struct queue_peer_ctx *ctx = arg;
	struct queue *q = ctx->q;
	struct queue_txn *t, *next;

	for (t = TAILQ_FIRST(&q->open); t != NULL; t = next) {
		next = TAILQ_NEXT(t, entry);
		if (t->peer == ctx->peer)
			queue_txn_drop(q, t, &q->open);
	}
	TAILQ_FOREACH(t, &q->batch, entry)
	if (t->peer == ctx->peer)
		t->peer = NULL;
	TAILQ_REMOVE(&q->peers, ctx->peer, entry);
	ipc_channel_free(&ctx->peer->ch);
	free(ctx->peer);
	free(ctx);
}

/* ---- delivery ------------------------------------------------------- */

/* One delivery in flight within a flush. */
struct queue_delivery {
	struct queue_msg *msg;
	struct maildir_copy *copies;
	unsigned n_copies;
	unsigned *rcpt_index; /* copies[i] is for recipient rcpt_index[i] */
	int failed;           /* some recipient must be retried */
	char reason[256];
	struct envelope env;
};

static void queue_msg_free(struct queue_msg *m)
{
	free(m->done);
	free(m);
}

/* Writes the tmp copies of one message. Recipients that failed are left
 * for a retry; the message is then not removed. */
static void queue_delivery_prepare(struct queue *q, struct queue_delivery *d)
{
	char path[128], dir[MAILDIR_PATH_MAX], prefix[2048];
	const char *why = NULL;
	size_t len, hlen;
	char *buf;
	unsigned i;

	snprintf(path, sizeof(path), "queue/active/%s", d->msg->id);
	buf = read_file(path, q->cfg.limits.message_size + ENVELOPE_HEADER_MAX, &len);
	if (buf == NULL || envelope_parse(&d->env, buf, len, &hlen, &why) < 0) {
		snprintf(d->reason, sizeof(d->reason), "cannot read spool file: %s",
			 buf ? why : strerror(errno));
		d->failed = 1;
		free(buf);
		return;
	}
	if (d->msg->done == NULL) {
		d->msg->done = xcalloc(d->env.n_rcpts, 1);
		d->msg->n_done = d->env.n_rcpts;
	}
	d->copies = xcalloc(d->env.n_rcpts, sizeof(d->copies[0]));
	d->rcpt_index = xcalloc(d->env.n_rcpts, sizeof(d->rcpt_index[0]));
	for (i = 0; i < d->env.n_rcpts && i < d->msg->n_done; i++) {
		const char *rcpt = d->env.rcpts[i];

		if (d->msg->done[i])
			continue;
		snprintf(prefix, sizeof(prefix), "Return-Path: <%s>\nDelivered-To: %s\n",
			 d->env.sender, rcpt);
		if (maildir_path_for(rcpt, dir, sizeof(dir)) < 0) {
			why = "recipient cannot name a mailbox";
		} else if (maildir_ensure(dir, &why) == 0 &&
			   maildir_write(dir, q->cfg.hostname, prefix, buf + hlen, len - hlen,
					 &d->copies[d->n_copies], &why) == 0) {
			d->rcpt_index[d->n_copies++] = i;
			continue;
		}
		log_warn("event=deferred id=%s to=<%s> relay=local reason=\"%s\"", d->msg->id, rcpt,
			 why);
		snprintf(d->reason, sizeof(d->reason), "%s", why);
		d->failed = 1;
	}
	free(buf);
}

/* Moves the copies into new/ once their contents are stable. */
static void queue_delivery_commit(struct queue_delivery *d, int synced)
{
	unsigned i;

	for (i = 0; i < d->n_copies; i++) {
		const char *why;
		unsigned r = d->rcpt_index[i];
		if (synced && maildir_commit(&d->copies[i], &why) == 0) {
			d->msg->done[r] = 1;
			continue;
		}
		maildir_discard(&d->copies[i]);
		d->failed = 1;
	}
}

/* After the renames are stable: logs each copy, then removes the message
 * or defers what is left of it. */
static void queue_delivery_finish(struct queue *q, struct queue_delivery *d, int synced)
{
	char path[128];
	unsigned i;

	for (i = 0; i < d->n_copies; i++)
		if (synced && d->msg->done[d->rcpt_index[i]])
			log_info("event=delivered id=%s to=<%s> relay=local mailbox=%s", d->msg->id,
				 d->env.rcpts[d->rcpt_index[i]], d->copies[i].new_path);
	if (!synced)
		d->failed = 1;
	if (!d->failed) {
		snprintf(path, sizeof(path), "queue/active/%s", d->msg->id);
		unlink(path);
		log_info("event=removed id=%s", d->msg->id);
		queue_msg_free(d->msg);
	} else {
		unsigned shift = d->msg->attempts < 6 ? d->msg->attempts : 6;
		unsigned delay = QUEUE_RETRY_SECONDS << shift;
		d->msg->attempts++;
		d->msg->not_before = time(NULL) + (delay < QUEUE_RETRY_MAX_SECONDS
							   ? delay
							   : QUEUE_RETRY_MAX_SECONDS);
		TAILQ_INSERT_TAIL(&q->deferred, d->msg, entry);
	}
	envelope_free(&d->env);
	free(d->copies);
	free(d->rcpt_index);
}

/* ---- the flush ------------------------------------------------------ */

static int queue_sync(struct queue *q)
{
	if (syncfs(q->sync_fd) < 0) {
		log_error("event=sync-error reason=\"%s\"", strerror(errno));
		return -1;
	}
	return 0;
}

/* Answers every session of the batch and moves committed messages to the
 * delivery list. */
static void queue_batch_answer(struct queue *q, int ok)
{
	struct queue_txn *t;
	char text[128];

	while ((t = TAILQ_FIRST(&q->batch)) != NULL) {
		TAILQ_REMOVE(&q->batch, t, entry);
		if (ok) {
			struct queue_msg *m = xcalloc(1, sizeof(*m));
			memcpy(m->id, t->id, sizeof(m->id));
			TAILQ_INSERT_TAIL(&q->ready, m, entry);
			snprintf(text, sizeof(text), "%s", t->id);
		} else {
			char path[128];
			snprintf(path, sizeof(path), "queue/incoming/%s", t->id);
			unlink(path);
			snprintf(text, sizeof(text), "cannot make the message stable");
		}
		if (t->peer != NULL)
			queue_reply(t->peer, IMSG_QUEUE_COMMIT_RESULT, t->request_id, (uint32_t)ok,
				    text, -1);
		free(t);
	}
}

/* Renames each message of the batch into active/. A failure here drops that
 * message (it is answered 451 by queue_batch_answer's caller). */
static int queue_batch_rename(struct queue *q)
{
	struct queue_txn *t;
	char from[128], to[128];
	int ok = 0;

	TAILQ_FOREACH(t, &q->batch, entry)
	{
		snprintf(from, sizeof(from), "queue/incoming/%s", t->id);
		snprintf(to, sizeof(to), "queue/active/%s", t->id);
		if (rename(from, to) < 0) {
			log_error("event=spool-error id=%s reason=\"rename: %s\"", t->id,
				  strerror(errno));
			ok = -1;
		}
	}
	return ok;
}

static void queue_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct queue *q = arg;
	struct queue_delivery *d;
	unsigned n = 0, i;
	int have_batch = !TAILQ_EMPTY(&q->batch), ok;

	d = xcalloc(QUEUE_DELIVERY_BATCH, sizeof(*d));
	while (n < QUEUE_DELIVERY_BATCH && !TAILQ_EMPTY(&q->ready)) {
		d[n].msg = TAILQ_FIRST(&q->ready);
		TAILQ_REMOVE(&q->ready, d[n].msg, entry);
		queue_delivery_prepare(q, &d[n]);
		n++;
	}
	ok = queue_sync(q) == 0;
	if (ok && have_batch && queue_batch_rename(q) < 0)
		ok = 0;
	for (i = 0; i < n; i++)
		queue_delivery_commit(&d[i], ok);
	ok = ok && queue_sync(q) == 0;
	for (i = 0; i < n; i++)
		queue_delivery_finish(q, &d[i], ok);
	if (have_batch)
		queue_batch_answer(q, ok);
	free(d);
	if (!TAILQ_EMPTY(&q->ready))
		queue_schedule_flush(q);
}

static void queue_schedule_flush(struct queue *q)
{
	struct timeval now = {0, 0};

	if (!event_pending(q->ev_flush, EV_TIMEOUT, NULL))
		event_add(q->ev_flush, &now);
}

/* Moves deferred messages whose time has come back to the ready list. */
static void queue_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct queue *q = arg;
	struct queue_msg *m, *next;
	time_t now = time(NULL);

	for (m = TAILQ_FIRST(&q->deferred); m != NULL; m = next) {
		next = TAILQ_NEXT(m, entry);
		if (m->not_before > now)
			continue;
		TAILQ_REMOVE(&q->deferred, m, entry);
		TAILQ_INSERT_TAIL(&q->ready, m, entry);
	}
	if (!TAILQ_EMPTY(&q->ready))
		queue_schedule_flush(q);
}

/* ---- start-up -------------------------------------------------------- */

int queue_prepare_dirs(const char **error_r)
{
	if (mkdir_p("queue/incoming", 0700) < 0 || mkdir_p("queue/active", 0700) < 0 ||
	    mkdir_p("mail", 0700) < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	return 0;
}

/* Start-up recovery: an incoming file was never acknowledged and goes; every
 * active file was, and is delivered again. */
static void queue_recover(struct queue *q)
{
	unsigned dropped = 0, recovered = 0;
	struct dirent *de;
	char path[512];
	DIR *dir;

	if ((dir = opendir("queue/incoming")) != NULL) {
		while ((de = readdir(dir)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "queue/incoming/%s", de->d_name);
			if (unlink(path) == 0)
				dropped++;
		}
		closedir(dir);
	}
	if ((dir = opendir("queue/active")) != NULL) {
		while ((de = readdir(dir)) != NULL) {
			struct queue_msg *m;
			if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(m->id))
				continue;
			m = xcalloc(1, sizeof(*m));
			snprintf(m->id, sizeof(m->id), "%s", de->d_name);
			TAILQ_INSERT_TAIL(&q->ready, m, entry);
			recovered++;
		}
		closedir(dir);
	}
	log_info("event=recovered messages=%u dropped_incomplete=%u", recovered, dropped);
	if (recovered > 0)
		queue_schedule_flush(q);
}

static void queue_parent_handler(struct ipc_channel *ch, uint32_t type, uint64_t id,
				 const void *data, size_t len, int fd, void *arg)
{
	struct queue *q = arg;

	switch (type) {
	case IMSG_CTL_ADD_CHANNEL:
		if (fd >= 0)
			queue_add_peer(q, fd);
		return;
	case IMSG_CTL_CONFIG:
		if (len == sizeof(q->cfg))
			memcpy(&q->cfg, data, len);
		break;
	default:
		log_error("event=ipc-error reason=\"unexpected message %u from parent\"", type);
	}
	if (fd >= 0)
		close(fd);
}

static void queue_parent_closed(struct ipc_channel *ch, void *arg)
{
	struct queue *q = arg;

	event_base_loopexit(q->base, NULL);
}

static void queue_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct queue *q = arg;

	event_base_loopexit(q->base, NULL);
}

int queue_main(const struct config *cfg, int parent_fd)
{
	struct queue *q = xcalloc(1, sizeof(*q));
	struct timeval every = {5, 0};
	struct event *ev_term, *ev_int;
	const char *why;

	memcpy(&q->cfg, cfg, sizeof(q->cfg));
	TAILQ_INIT(&q->peers);
	TAILQ_INIT(&q->open);
	TAILQ_INIT(&q->batch);
	TAILQ_INIT(&q->ready);
	TAILQ_INIT(&q->deferred);
	if (queue_prepare_dirs(&why) < 0)
		fatal("event=fatal reason=\"cannot create spool directories: %s\"", why);
	q->sync_fd = open("queue", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (q->sync_fd < 0)
		fatal("event=fatal reason=\"cannot open spool: %s\"", strerror(errno));
	q->base = event_base_new();
	q->ev_flush = evtimer_new(q->base, queue_flush_cb, q);
	q->ev_retry = event_new(q->base, -1, EV_PERSIST, queue_retry_cb, q);
	event_add(q->ev_retry, &every);
	ev_term = evsignal_new(q->base, SIGTERM, queue_signal_cb, q);
	ev_int = evsignal_new(q->base, SIGINT, queue_signal_cb, q);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);
	q->parent = ipc_channel_new(q->base, parent_fd, queue_parent_handler, queue_parent_closed, q);
	queue_recover(q);
	event_base_dispatch(q->base);
	log_info("event=stopped");
	return 0;
}
