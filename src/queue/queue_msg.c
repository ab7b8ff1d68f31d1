/*
 * queue_msg.c: a queued message's spool file read back (the envelope the
 * trailer points to, then the message itself when it is delivered or
 * bounced), and its life in memory: unloaded while it waits, freed, its
 * files removed once it is done. Spool format: spool_file.h. Called by
 * every other queue file; calls none of them.
 */
#include "queue/queue_msg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/util.h"
#include "queue/spool_file.h"
#include "queue/spool_reaper.h"

void queue_msg_spool_path(const struct queue_msg *m, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", m->in_pool ? QUEUE_POOL_DIR : "queue/active", m->id);
}

/* Opens M's spool file and parses its envelope, found through the trailer.
 * Returns 0, or -1 with *error_r. */
static int queue_msg_open_envelope(struct queue_msg *m, const char **error_r)
{
	char path[128], tail[SPOOL_TRAILER_LEN], *block;
	uint64_t body_len;
	uint32_t crc;
	struct stat st;
	size_t want, hlen;
	ssize_t n;
	int r;

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
	return 0;
}

int queue_msg_load(struct queue *q, struct queue_msg *m, const char **error_r)
{
	if (m->fd < 0 && queue_msg_open_envelope(m, error_r) < 0)
		return -1;
	if (m->n_rcpts != m->env.n_rcpts) {
		/* no state yet, or a state file that does not fit: start afresh */
		queue_rcpts_free(m->rcpts, m->n_rcpts);
		m->rcpts = xcalloc(m->env.n_rcpts, sizeof(m->rcpts[0]));
		m->n_rcpts = m->env.n_rcpts;
	}
	return 0;
}

char *queue_msg_read_body(struct queue_msg *m, const char **error_r)
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

void queue_msg_unload(struct queue_msg *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	envelope_free(&m->env);
}

void queue_msg_remove_files(const struct queue_msg *m)
{
	char path[128];

	queue_msg_spool_path(m, path, sizeof(path));
	unlink(path);
	if (m->no_state)
		return; /* the common case: delivered at the first attempt */
	snprintf(path, sizeof(path), "queue/state/%s", m->id);
	unlink(path);
}

void queue_msg_free(struct queue_msg *m)
{
	/* the last close of a delivered (unlinked) file frees its blocks:
	 * not in the loop */
	if (m->fd >= 0)
		spool_reaper_close(m->fd);
	envelope_free(&m->env);
	queue_rcpts_free(m->rcpts, m->n_rcpts);
	free(m);
}

unsigned queue_msg_notify(const struct queue_msg *m, unsigned i)
{
	unsigned given = m->env.rcpts[i].notify, kept;

	if (m->env.trusted)
		return given;
	kept = given & ~(unsigned)(NOTIFY_SUCCESS | NOTIFY_DELAY);
	return given != 0 && kept == 0 ? NOTIFY_FAILURE : kept;
}

const char *queue_msg_ret(const struct queue_msg *m)
{
	if (!m->env.trusted && strcmp(m->env.ret, "full") == 0)
		return "hdrs";
	return m->env.ret;
}

const char *queue_rcpt_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : "";
}

int queue_rcpt_is_local(const struct queue *q, const char *addr)
{
	return config_is_local_domain(&q->cfg, queue_rcpt_domain(addr));
}
