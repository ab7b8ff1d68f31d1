/*
 * queue_state_file.h: reading and writing a message's state file,
 * queue/state/ID (queue_state_file.c; the format and its pure parser are
 * queue_state.h's). Used by queue.c (recovery), queue_retry.c (after each
 * attempt, and again when a write failed) and queue_ctl.c (hold, release).
 */
#ifndef SEALMAIL_QUEUE_STATE_FILE_H
#define SEALMAIL_QUEUE_STATE_FILE_H

#include "queue/queue_private.h"

/* Reads queue/state/ID into M, when the file exists and is valid. */
void queue_state_read(struct queue_msg *m);
/* Writes queue/state/ID; on failure sets m->state_dirty for another try. */
void queue_state_write(struct queue_msg *m);

#endif
