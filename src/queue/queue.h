/*
 * queue.h: the queue role. It owns the spool under data_dir/queue/: it
 * creates each incoming spool file and hands its descriptor to the
 * dispatcher, commits messages durably in groups, recovers after a crash,
 * and delivers to local Maildirs.
 *
 * Spool layout (relative to data_dir):
 *   pool/ID            made in advance, being received; emptied at start-up
 *                      (nothing there was acknowledged)
 *   queue/active/ID    acknowledged, not yet delivered to every recipient
 *   queue/state/ID     per-recipient progress and retry schedule
 */
#ifndef SEALMAIL_QUEUE_H
#define SEALMAIL_QUEUE_H

struct config;

/* Runs the queue role until the parent goes away. PARENT_FD is the channel
 * to the parent; dispatcher channels arrive over it. The process is already
 * in data_dir (chdir or chroot) with its final privileges. */
int queue_main(const struct config *cfg, int parent_fd);

/* Creates the spool directories under the current directory. */
int queue_prepare_dirs(const char **error_r);

#endif
