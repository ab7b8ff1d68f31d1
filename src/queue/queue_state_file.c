/*
 * queue_state_file.c: a message's state file, queue/state/ID, on disk:
 * written after each attempt (temp file, rename) and read back at start-up.
 * The bytes are queue_state.c's (pure); this file only moves them. Called
 * by queue.c, queue_retry.c and queue_ctl.c; calls no other queue file.
 *
 * Fault points (lib/fault.h): queue/state/open, queue/state/write,
 * queue/state/rename.
 */
#include "queue/queue_state_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/fault.h"
#include "lib/log.h"
#include "lib/util.h"
#include "queue/queue_state.h"

/* Writes queue/state/ID (queue_state.h) beside the spool file (temp file,
 * rename); it is made stable by a later syncfs: lost, it costs a repeated
 * attempt, never a message. On failure sets m->state_dirty for another try. */
void queue_state_write(struct queue_msg *m)
{
	struct queue_state st = {m->attempts, m->not_before, m->warned,   m->held,
	                         m->rcpts,    m->n_rcpts,    m->tls_warned};
	char path[128], tmp[140], *text;
	size_t len;
	int fd, failed;

	m->no_state = 0;
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
	queue_rcpts_free(m->rcpts, m->n_rcpts);
	m->attempts = st.attempts;
	m->not_before = st.not_before;
	m->warned = st.warned;
	m->held = st.held;
	m->rcpts = st.rcpts;
	m->n_rcpts = st.n_rcpts;
	m->tls_warned = st.tls_warned;
}
