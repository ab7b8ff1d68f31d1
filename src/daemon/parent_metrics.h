/*
 * parent_metrics.h: the parent's side of the metrics ([metrics] listen):
 * the shared counters region (proto/metrics.h), the listening socket, and
 * the metrics role's process. Without [metrics] listen every function
 * does nothing: no region, no socket, no role.
 */
#ifndef SEALMAIL_PARENT_METRICS_H
#define SEALMAIL_PARENT_METRICS_H

#include <sys/types.h>

struct config;

/* Before the roles are forked: maps the region, gives CFG's listeners
 * their rows, and binds [metrics] listen. Returns 0, or -1 after saying
 * why on stderr. */
int parent_metrics_prepare(struct config *cfg);

/* Forks the metrics keeper (before any other role and before any secret
 * is read: it then inherits no channel and no key); in the child, closes
 * the N_FDS descriptors FDS, the parent's sockets, and returns 0 with the
 * region mapped read-only: the caller drops privileges (as root: chrooted
 * to data_dir/empty) and calls parent_metrics_run(). Returns the child's
 * pid in the parent, -1 without [metrics]. */
pid_t parent_metrics_start(const int *fds, unsigned n_fds, int local_fd);

/* In the keeper, privileges dropped: forks the metrics role and forks it
 * again each time it dies (event=metrics-exited; at once when it had run
 * a while, else after a delay that doubles up to a minute), with the same
 * socket and counters; returns on SIGTERM once the role is gone. */
int parent_metrics_run(void);

/* On reload: rows for the new configuration's listeners (the names seen
 * before keep theirs). */
void parent_metrics_reload(struct config *cfg, const struct config *old);

/* In a forked role: keeps block BLOCK only (METRICS_BLOCKS: none). */
void parent_metrics_enter(unsigned block);

/* 1 when PID was the metrics keeper (logged: the server runs on without
 * metrics, unless STOPPING: the server is shutting down), else 0. */
int parent_metrics_exited(pid_t pid, int status, int stopping);

/* Ends the metrics role: SIGTERM, then SIGKILL if it has not exited
 * within a few seconds. */
void parent_metrics_stop(void);

#endif
