/*
 * queue_ctl.h: the control socket of `sealmail queue ...` (queue_ctl.c).
 * Used by queue.c at start-up and exit.
 */
#ifndef SEALMAIL_QUEUE_CTL_H
#define SEALMAIL_QUEUE_CTL_H

#include "queue/queue_private.h"

/* Listens on data_dir/control.sock with the queue's event base. Returns 0,
 * or -1 with *error_r. */
int queue_control_listen(struct queue *q, const char **error_r);
/* At a clean exit: stops listening and removes data_dir/control.sock if
 * it is still the socket queue_control_listen() made. */
void queue_control_close(struct queue *q);

#endif
