/*
 * queue.c: the queue role's event loop: spool files for the dispatchers,
 * group commit, the flush (which local delivery rides), the retry timer and
 * start-up recovery.
 *
 * Durability (RFC 5321 6.1: a 250 to DATA is a promise). The dispatcher
 * writes the message into pool/ID through the descriptor we gave
 * it. At commit the queue appends the envelope and a trailer with the
 * message's length and CRC-32C, and the commit joins the current batch;
 * once per loop turn the batch is flushed: one syncfs() makes every file of
 * the batch stable, and every session of the batch gets its 250. Each file
 * is then renamed into queue/active/ (made stable by a later syncfs); at
 * start-up a sealed file still in pool/ whose checksum holds counts as
 * committed, anything else there is dropped. One flush covers any number
 * of messages, so durability costs little per message.
 *
 * A rename that fails after the flush changes nothing for the client: the
 * message is stable and sealed in pool/, so it is answered 250 and served
 * from there (recovery moves it at the next start). A commit that fails
 * before the flush unlinks the file and answers 451 4.3.0, or 452 4.3.1 when
 * the file system is full.
 *
 * Delivery rides the same flushes, once their commits are answered: copies
 * are written to Maildir tmp/, a syncfs makes them stable (skipped when there
 * are none), they are renamed into new/, and the spool file is removed only
 * after a second syncfs made the renames stable (skipped when nothing was
 * renamed and no message of the flush still waits for an earlier flush's
 * renames); a message whose second syncfs failed keeps its spool file until
 * the sync of a later flush succeeds. A crash in between delivers a message
 * twice at worst, never loses it.
 *
 * Fault points (lib/fault.h): queue/pool/open, queue/commit/pwrite,
 * queue/commit/sync, queue/commit/rename, queue/deliver/copies,
 * queue/deliver/sync,
 * queue/dirs/mkdir; Maildir and state files have theirs in maildir.c and
 * queue_state_file.c.
 *
 * Who calls whom. This file runs the role and calls the others; each of
 * them calls only files below it in this list, and comes back into this
 * file through two functions alone, queue_schedule_flush() and
 * queue_inject() (queue_private.h):
 *
 *   queue.c             the loop; IPC from the parent and the dispatchers
 *   queue_ctl.c         the control socket, `sealmail queue ...`
 *   queue_local.c       the flush's deliveries: attempts start, Maildir copies
 *   queue_remote.c      tasks for the dispatchers' SMTP clients, results
 *   queue_retry.c       an attempt ends: expiry, removal, the next retry
 *   queue_bounce.c      DSNs and delay notices
 *   queue_state_file.c  queue/state/ID on disk
 *   queue_msg.c         a message's spool file read back; its memory
 *   tls_memory.c        downgrade memory, data_dir/policy/seen
 *
 *   queue.c     -> ctl (listen), local (each flush), remote (results, a
 *                  dispatcher gone), retry (the timer), state_file
 *                  (recovery), msg, tls_memory (load; save on the timer)
 *   ctl         -> state_file, msg, tls_memory; back: queue_schedule_flush
 *   local       -> remote, retry, msg, maildir.c
 *   remote      -> retry, msg, tls_memory; back: queue_schedule_flush
 *   retry       -> bounce, state_file, msg
 *   bounce      -> msg, dsn.c; back: queue_inject
 *   state_file  -> queue_state.c
 *   msg         -> spool_file.c
 * spool_file.c, queue_state.c and dsn.c are pure (bytes in, values out).
 */
#include "proto/ctl.h"
#include "proto/queue.h"
#include "queue/queue.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
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
#include "lib/crc32c.h"
#include "lib/fault.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/readiness.h"
#include "lib/util.h"
#include "queue/queue_ctl.h"
#include "queue/queue_local.h"
#include "queue/queue_metrics.h"
#include "queue/queue_msg.h"
#include "queue/maildir.h"
#include "queue/queue_private.h"
#include "queue/queue_remote.h"
#include "queue/tls_memory.h"
#include "queue/queue_retry.h"
#include "queue/queue_state_file.h"
#include "queue/queue_tlsrpt.h"
#include "queue/spool_reaper.h"
#include "queue/spool_file.h"

/* A new queue id: the time in microseconds, then a counter. */
static void queue_new_id(struct queue *q, char *buf, size_t size)
{
	snprintf(buf, size, "%013" PRIx64 "%05X", now_usec(), (q->id_counter++) & 0xfffff);
}

/* How a session is to hear of a failure with errno ERR. */
static enum queue_result queue_result_for(int err)
{
	return err == ENOSPC || err == EDQUOT ? QUEUE_RESULT_NO_SPACE : QUEUE_RESULT_FAILED;
}

static struct queue_msg *queue_open_find(struct queue *q, struct queue_peer *peer, const char *id)
{
	struct queue_msg *m;

	TAILQ_FOREACH(m, &q->open, entry)
	if (m->peer == peer && strcmp(m->id, id) == 0)
		return m;
	return NULL;
}

/* Drops a message that was never acknowledged. */
static void queue_open_drop(struct queue *q, struct queue_msg *m, struct queue_msg_list *list)
{
	char path[128];

	snprintf(path, sizeof(path), QUEUE_POOL_DIR "/%s", m->id);
	unlink(path);
	TAILQ_REMOVE(list, m, entry);
	queue_msg_free(m);
}

/* Sends PEER an IMSG_QUEUE_POOL_FILE: RESULT, the queue id or the reason
 * TEXT, and the file FD (or -1). */
static void queue_send_pool_file(struct queue_peer *peer, enum queue_result result,
                                 const char *text, int fd)
{
	struct proto_queue_pool_file msg = {.result = result};
	struct ipc_writer w;

	strlcpy_checked(msg.id, text, sizeof(msg.id));
	ipc_writer_init(&w);
	proto_queue_pool_file_encode(&msg, &w);
	proto_send(peer->ch, IMSG_QUEUE_POOL_FILE, 0, &w, fd);
}

/* Sends PEER the IMSG_QUEUE_COMMIT_RESULT of request ID. */
static void queue_send_commit_result(struct queue_peer *peer, uint64_t id,
                                     enum queue_result result, const char *text)
{
	struct proto_queue_commit_result msg = {.result = result};
	struct ipc_writer w;

	(void)strlcpy_checked(msg.text, text, sizeof(msg.text)); /* a long reason is cut */
	ipc_writer_init(&w);
	proto_queue_commit_result_encode(&msg, &w);
	proto_send(peer->ch, IMSG_QUEUE_COMMIT_RESULT, id, &w, -1);
}

/* Creates an empty pool/ID; returns its descriptor, or -1 with errno and
 * *error_r. */
static int queue_spool_create(struct queue_msg *m, const char **error_r)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), QUEUE_POOL_DIR "/%s", m->id);
	fd =
	    FAULT("queue/pool/open") ? -1 : open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		*error_r = strerror(errno);
	return fd;
}

/* Writes the envelope and trailer after the message's BODY_LEN octets. On
 * failure *error_r says why and m->commit_errno is the error (0 when it was
 * not the file system's). */
static int queue_spool_seal(struct queue_msg *m, uint64_t body_len, uint32_t crc,
                            const char **error_r)
{
	size_t len;
	char *block = spool_block_format(&m->env, body_len, crc, &len);
	ssize_t n;

	m->commit_errno = 0;
	if (block == NULL) {
		*error_r = "line end in an envelope field";
		return -1;
	}
	n = FAULT("queue/commit/pwrite") ? -1 : pwrite(m->fd, block, len, (off_t)body_len);
	if (n < 0 || (size_t)n != len) {
		/* a short write means the file system ran out of room */
		m->commit_errno = n < 0 ? errno : ENOSPC;
		*error_r = strerror(m->commit_errno);
		free(block);
		return -1;
	}
	free(block);
	m->header_len = 0;
	m->body_len = body_len;
	return 0;
}

/* The spool files PEER holds open (in its pool or its sessions' DATA). */
static unsigned queue_peer_open_files(const struct queue *q, const struct queue_peer *peer)
{
	const struct queue_msg *m;
	unsigned n = 0;

	TAILQ_FOREACH(m, &q->open, entry)
	n += m->peer == peer;
	return n;
}

/* IMSG_QUEUE_POOL: empty spool files for a dispatcher to fill later, so
 * that its sessions need no round trip at DATA. A dispatcher holds at most
 * one file per session and a pool's worth more; one that holds more than
 * that gets no more, so it cannot fill the spool with empty files. */
static void queue_handle_pool(struct queue *q, struct queue_peer *peer, const void *data,
                              size_t len)
{
	unsigned max_open = q->cfg.limits.connections + PROTO_QUEUE_POOL_MAX;
	struct proto_queue_pool req;
	const char *bad;
	uint32_t i;

	if (proto_queue_pool_decode(&req, data, len, &bad) < 0) {
		log_error("event=ipc-error reason=\"%s\"", bad);
		return;
	}
	if (queue_peer_open_files(q, peer) + req.count > max_open) {
		log_error("event=spool-error reason=\"a dispatcher asked for more than %u open "
		          "spool files\"",
		          max_open);
		for (i = 0; i < req.count; i++)
			queue_send_pool_file(peer, QUEUE_RESULT_FAILED, "too many open files", -1);
		return;
	}
	for (i = 0; i < req.count; i++) {
		struct queue_msg *m = xcalloc(1, sizeof(*m));
		const char *why = "";
		int theirs;

		m->no_state = 1;
		queue_new_id(q, m->id, sizeof(m->id));
		m->fd = queue_spool_create(m, &why);
		theirs = m->fd >= 0 ? dup(m->fd) : -1;
		if (theirs < 0) {
			int err = errno;
			log_error("event=spool-error id=%s reason=\"%s\"", m->id,
			          m->fd >= 0 ? strerror(err) : why);
			queue_send_pool_file(peer, queue_result_for(err), "cannot create spool file",
			                     -1);
			if (m->fd >= 0) {
				char path[128];
				snprintf(path, sizeof(path), QUEUE_POOL_DIR "/%s", m->id);
				unlink(path);
			}
			queue_msg_free(m);
			continue;
		}
		m->peer = peer;
		TAILQ_INSERT_TAIL(&q->open, m, entry);
		queue_send_pool_file(peer, QUEUE_RESULT_OK, m->id, theirs);
	}
}

int queue_inject(struct queue *q, struct envelope *env, const char *msg, size_t len, char *id_r)
{
	struct queue_msg *m = xcalloc(1, sizeof(*m));
	const char *why = "";

	m->no_state = 1;
	queue_new_id(q, m->id, sizeof(m->id));
	strlcpy_checked(id_r, m->id, 32);
	strlcpy_checked(env->id, m->id, sizeof(env->id));
	m->env = *env;
	envelope_init(env);
	m->fd = queue_spool_create(m, &why);
	if (m->fd < 0 || write_all(m->fd, msg, len) < 0 ||
	    queue_spool_seal(m, len, crc32c(0, msg, len), &why) < 0) {
		char path[128];
		log_error("event=spool-error id=%s reason=\"%s\"", m->id,
		          why[0] ? why : strerror(errno));
		snprintf(path, sizeof(path), QUEUE_POOL_DIR "/%s", m->id);
		unlink(path);
		queue_msg_free(m);
		return -1;
	}
	TAILQ_INSERT_TAIL(&q->batch, m, entry);
	queue_schedule_flush(q);
	return 0;
}

/* IMSG_QUEUE_COMMIT: checks that the file holds what the dispatcher says it
 * wrote, and joins the next flush. */
static void queue_handle_commit(struct queue *q, struct queue_peer *peer, uint64_t rid,
                                const void *data, size_t len)
{
	struct proto_queue_commit req;
	struct queue_msg *m;
	const char *why = "spool size mismatch", *bad;
	struct stat st;
	uint64_t size;
	uint32_t crc;
	int ok = proto_queue_commit_decode(&req, data, len, &bad) == 0;

	if (!ok)
		log_error("event=ipc-error reason=\"%s\"", bad);
	m = ok ? queue_open_find(q, peer, req.queue_id) : NULL;
	if (m == NULL) {
		proto_queue_commit_free(&req);
		queue_send_commit_result(peer, rid, QUEUE_RESULT_FAILED, "unknown transaction");
		return;
	}
	size = req.size;
	crc = req.crc;
	envelope_free(&m->env);
	m->env = req.env; /* taken: req is not freed */
	strlcpy_checked(m->env.id, m->id, sizeof(m->env.id));
	m->commit_errno = 0;
	if (fstat(m->fd, &st) < 0 || (uint64_t)st.st_size != size ||
	    queue_spool_seal(m, size, crc, &why) < 0) {
		enum queue_result res = queue_result_for(m->commit_errno);
		log_error("event=spool-error id=%s reason=\"%s\"", m->id, why);
		queue_open_drop(q, m, &q->open);
		queue_send_commit_result(peer, rid, res, why);
		return;
	}
	m->request_id = rid;
	TAILQ_REMOVE(&q->open, m, entry);
	TAILQ_INSERT_TAIL(&q->batch, m, entry);
	queue_schedule_flush(q);
}

static void queue_handle_abort(struct queue *q, struct queue_peer *peer, const void *data,
                               size_t len)
{
	struct proto_queue_abort req;
	struct queue_msg *m;
	const char *why;

	if (proto_queue_abort_decode(&req, data, len, &why) == 0 &&
	    (m = queue_open_find(q, peer, req.queue_id)) != NULL)
		queue_open_drop(q, m, &q->open);
}

static void queue_peer_handler(struct ipc_channel *ch, uint32_t type, uint64_t id, const void *data,
                               size_t len, int fd, void *arg)
{
	struct queue_peer *peer = arg;

	if (fd >= 0)
		close(fd);
	switch (type) {
	case IMSG_QUEUE_POOL:
		queue_handle_pool(peer->q, peer, data, len);
		break;
	case IMSG_QUEUE_COMMIT:
		queue_handle_commit(peer->q, peer, id, data, len);
		break;
	case IMSG_QUEUE_ABORT:
		queue_handle_abort(peer->q, peer, data, len);
		break;
	case IMSG_MTA_RESULT:
		queue_task_result(peer->q, id, data, len);
		break;
	case IMSG_DISPATCHER_RETIRING:
		peer->retiring = 1; /* it carries nothing else */
		break;
	default:
		log_error("event=ipc-error reason=\"unexpected message %u from dispatcher\"", type);
	}
}

/* A dispatcher went away: its unfinished messages are dropped (never
 * acknowledged), and the batch forgets whom to answer. */
static void queue_peer_closed(struct ipc_channel *ch, void *arg)
{
	struct queue_peer *peer = arg;
	struct queue *q = peer->q;
	struct queue_msg *m, *next;

	for (m = TAILQ_FIRST(&q->open); m != NULL; m = next) {
		next = TAILQ_NEXT(m, entry);
		if (m->peer == peer)
			queue_open_drop(q, m, &q->open);
	}
	TAILQ_FOREACH(m, &q->batch, entry)
	if (m->peer == peer)
		m->peer = NULL;
	queue_peer_lost_tasks(q, peer);
	TAILQ_REMOVE(&q->peers, peer, entry);
	ipc_channel_free(&peer->ch);
	free(peer);
}

static void queue_add_peer(struct queue *q, int fd)
{
	struct queue_peer *peer = xcalloc(1, sizeof(*peer));

	peer->q = q;
	peer->ch = ipc_channel_new(q->base, fd, queue_peer_handler, queue_peer_closed, peer);
	TAILQ_INSERT_TAIL(&q->peers, peer, entry);
}

/* ---- the flush ------------------------------------------------------ */

/* One syncfs() of the spool's file system; FAULT is a fault point's verdict
 * (errno set when it fired). Returns 0, or -1 with errno. */
static int queue_sync(struct queue *q, int fault)
{
	if (fault || syncfs(q->sync_fd) < 0) {
		int err = errno;
		log_error("event=sync-error reason=\"%s\"", strerror(err));
		errno = err;
		return -1;
	}
	return 0;
}

/* Renames each message of the batch into active/. The batch is stable
 * already, so a message whose rename fails stays committed in pool/ (where
 * recovery finds it sealed) and is served from there. */
static void queue_batch_rename(struct queue *q)
{
	struct queue_msg *m;
	char from[128], to[128];

	TAILQ_FOREACH(m, &q->batch, entry)
	{
		snprintf(from, sizeof(from), QUEUE_POOL_DIR "/%s", m->id);
		snprintf(to, sizeof(to), "queue/active/%s", m->id);
		if (FAULT("queue/commit/rename") || rename(from, to) < 0) {
			log_warn("event=spool-error id=%s reason=\"rename: %s; kept in pool\"",
			         m->id, strerror(errno));
			m->in_pool = 1;
		}
	}
}

/* Answers every session of the batch: committed when SYNC_ERRNO is 0, else
 * refused for that error. What was committed goes to the delivery list. */
static void queue_batch_answer(struct queue *q, int sync_errno)
{
	struct queue_msg *m;
	enum queue_result res = sync_errno == 0 ? QUEUE_RESULT_OK : queue_result_for(sync_errno);
	uint64_t n = 0, received = 0;

	while ((m = TAILQ_FIRST(&q->batch)) != NULL) {
		int ok = res == QUEUE_RESULT_OK;

		TAILQ_REMOVE(&q->batch, m, entry);
		n++;
		received += ok && m->peer != NULL; /* a client's, not a DSN of ours */
		if (m->peer != NULL)
			queue_send_commit_result(m->peer, m->request_id, res,
			                         ok ? m->id : "cannot make the message stable");
		m->peer = NULL;
		if (ok) {
			m->arrival = (time_t)m->env.time;
			TAILQ_INSERT_TAIL(&q->ready, m, entry);
		} else {
			char path[128];
			snprintf(path, sizeof(path), QUEUE_POOL_DIR "/%s", m->id);
			unlink(path);
			queue_msg_free(m);
		}
	}
	queue_metrics_commit(n, received);
}

static void queue_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct queue *q = arg;
	int have_batch = !TAILQ_EMPTY(&q->batch), ok;
	struct queue_delivery *d;
	unsigned n, renamed;

	/* The commits first: their sessions wait for this sync alone, not for
	 * the Maildir copies of the deliveries as well. The batch is stable
	 * then: a sealed file in pool/ whose checksum holds counts as committed
	 * at recovery, so the 250s need not wait for the renames to be (the
	 * next sync covers them). */
	if (have_batch) {
		uint64_t start = now_usec();
		ok = queue_sync(q, FAULT("queue/commit/sync")) == 0;
		if (ok)
			queue_batch_rename(q);
		queue_batch_answer(q, ok ? 0 : errno);
		queue_metrics_commit_took(now_usec() - start);
	}
	/* The deliveries, the messages just answered among them: copies to
	 * tmp/, a sync, the renames into new/. */
	d = queue_deliveries_prepare(q, &n);
	ok = queue_deliveries_copies(d, n) == 0 || queue_sync(q, FAULT("queue/deliver/copies")) == 0;
	renamed = queue_deliveries_commit(d, n, ok);
	/* The spool files of delivered messages go only once the renames into
	 * new/ are stable: this flush's, and those of an earlier flush whose
	 * sync failed (their messages have no copy left to write, so nothing
	 * else in this flush would sync). */
	if (renamed > 0 || queue_deliveries_unsynced(d, n))
		ok = ok && queue_sync(q, FAULT("queue/deliver/sync")) == 0;
	queue_deliveries_finish(q, d, n, ok);
	if (!TAILQ_EMPTY(&q->ready) || !TAILQ_EMPTY(&q->batch))
		queue_schedule_flush(q);
}

void queue_schedule_flush(struct queue *q)
{
	struct timeval now = {0, 0};

	if (!event_pending(q->ev_flush, EV_TIMEOUT, NULL))
		event_add(q->ev_flush, &now);
}

/* Once a second: the deferred messages whose time has come go back to the
 * ready list (queue_retry.c). */
static void queue_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct queue *q = arg;

	queue_retry_due(q);
	queue_metrics_gauges(q);
	if (!TAILQ_EMPTY(&q->ready))
		queue_schedule_flush(q);
	(void)tls_memory_save(q->tls_seen, q->cfg.outbound_remember_tls);
}

/* ---- start-up -------------------------------------------------------- */

int queue_prepare_dirs(const char **error_r)
{
	if (FAULT("queue/dirs/mkdir") || mkdir_p(QUEUE_POOL_DIR, 0700) < 0 ||
	    mkdir_p("queue/active", 0700) < 0 || mkdir_p("queue/state", 0700) < 0 ||
	    mkdir_p("mail", 0700) < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	return 0;
}

/* A file left in pool/ at start-up: committed if sealed with an envelope
 * and its checksum holds (the 250 may have gone out before it was renamed),
 * else never acknowledged and removed. A file that cannot be read or moved
 * now is left where it is: it may be acknowledged mail, and the next start
 * looks again. Returns 1 when moved into queue/active/, 0 when removed, -1
 * when kept. */
static int queue_recover_pool_file(const char *name)
{
	char path[512], to[512], tail[SPOOL_TRAILER_LEN], buf[65536];
	uint64_t body_len, off = 0;
	uint32_t crc, sum = 0;
	struct stat st;
	int fd, sealed;

	snprintf(path, sizeof(path), QUEUE_POOL_DIR "/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		errno = saved;
		return -1;
	}
	sealed = st.st_size >= SPOOL_TRAILER_LEN &&
	         pread(fd, tail, sizeof(tail), st.st_size - SPOOL_TRAILER_LEN) == sizeof(tail) &&
	         spool_trailer_parse(tail, sizeof(tail), &body_len, &crc) == 0 &&
	         body_len <= (uint64_t)st.st_size;
	while (sealed && off < body_len) {
		size_t want = body_len - off < sizeof(buf) ? (size_t)(body_len - off) : sizeof(buf);
		ssize_t n = pread(fd, buf, want, (off_t)off);
		if (n <= 0) {
			int saved = n < 0 ? errno : EIO;
			close(fd); /* a read error proves nothing about the file */
			errno = saved;
			return -1;
		}
		sum = crc32c(sum, buf, (size_t)n);
		off += (uint64_t)n;
	}
	close(fd);
	if (!sealed || sum != crc) {
		unlink(path);
		return 0;
	}
	snprintf(to, sizeof(to), "queue/active/%s", name);
	return rename(path, to) == 0 ? 1 : -1;
}

/* A recovered message's arrival before its envelope is read (a deferred
 * one's is not until its retry): the spool file's time, written once when
 * the message was committed. For the queue gauges and `queue list`. */
static void queue_recover_arrival(struct queue_msg *m)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "queue/active/%s", m->id);
	if (stat(path, &st) == 0)
		m->arrival = st.st_mtime;
}

/* Start-up recovery: a pool file is committed only when sealed and whole;
 * every active file was acknowledged and is delivered again. */
static void queue_recover(struct queue *q)
{
	unsigned dropped = 0, recovered = 0, sealed = 0, cleaned;
	struct dirent *de;
	DIR *dir;

	if ((dir = opendir(QUEUE_POOL_DIR)) != NULL) {
		while ((de = readdir(dir)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			int r = queue_recover_pool_file(de->d_name);
			if (r > 0)
				sealed++;
			else if (r == 0)
				dropped++;
			else
				log_error("event=recovery-error file=" QUEUE_POOL_DIR "/%s reason=\"%s\" "
				          "action=kept",
				          de->d_name, strerror(errno));
		}
		closedir(dir);
		queue_sync(q, 0);
	}
	if ((dir = opendir("queue/active")) != NULL) {
		while ((de = readdir(dir)) != NULL) {
			struct queue_msg *m;
			if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(m->id))
				continue;
			m = xcalloc(1, sizeof(*m));
			m->fd = -1;
			strlcpy_checked(m->id, de->d_name, sizeof(m->id));
			queue_state_read(m);
			queue_recover_arrival(m);
			if (m->held || m->not_before > time(NULL))
				TAILQ_INSERT_TAIL(&q->deferred, m, entry);
			else
				TAILQ_INSERT_TAIL(&q->ready, m, entry);
			recovered++;
		}
		closedir(dir);
	}
	/* no delivery is under way yet: our copies in a tmp/ were interrupted,
	 * and their messages are still queued */
	cleaned = maildir_clean_tmp(q->cfg.hostname);
	log_info("event=recovered messages=%u committed_in_pool=%u dropped_incomplete=%u "
	         "maildir_tmp_removed=%u",
	         recovered, sealed, dropped, cleaned);
	if (recovered > 0)
		queue_schedule_flush(q);
}

static void queue_parent_handler(struct ipc_channel *ch, uint32_t type, uint64_t id,
                                 const void *data, size_t len, int fd, void *arg)
{
	struct queue *q = arg;
	struct proto_ctl_config cfg_msg;
	const char *why;

	switch (type) {
	case IMSG_CTL_ADD_CHANNEL:
		if (fd >= 0 && proto_ctl_add_channel_decode(data, len, &why) == 0) {
			queue_add_peer(q, fd);
			return;
		}
		break;
	case IMSG_CTL_CONFIG: /* the file's text: parsed here, kept only if good */
		if (proto_ctl_config_decode(&cfg_msg, data, len, &why) == 0)
			config_reload_text(&q->cfg, cfg_msg.path, cfg_msg.text, cfg_msg.text_len);
		else
			log_error("event=reload-failed reason=\"%s\"", why);
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
	struct timeval every = {1, 0};
	struct event *ev_term, *ev_int;
	const char *why;
	unsigned i;

	memcpy(&q->cfg, cfg, sizeof(q->cfg));
	TAILQ_INIT(&q->peers);
	TAILQ_INIT(&q->open);
	TAILQ_INIT(&q->batch);
	TAILQ_INIT(&q->ready);
	TAILQ_INIT(&q->active);
	TAILQ_INIT(&q->deferred);
	for (i = 0; i < QUEUE_TASK_BUCKETS; i++)
		TAILQ_INIT(&q->tasks[i]);
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
	q->parent =
	    ipc_channel_new(q->base, parent_fd, queue_parent_handler, queue_parent_closed, q);
	if (queue_control_listen(q, &why) < 0)
		fatal("event=fatal reason=\"control socket: %s\"", why);
	q->tls_seen = tls_memory_open();
	queue_recover(q);
	queue_metrics_gauges(q); /* a scrape right after the start sees them */
	if (spool_reaper_start() < 0)
		log_warn("event=spool-reaper reason=\"no thread: spool files are closed in the loop\"");
	queue_tlsrpt_start(q);
	readiness_report(); /* the parent waits for it before READY=1 */
	event_base_dispatch(q->base);
	queue_control_close(q);
	queue_tlsrpt_stop();
	spool_reaper_stop();
	(void)tls_memory_save(q->tls_seen, q->cfg.outbound_remember_tls);
	log_info("event=stopped");
	return 0;
}
