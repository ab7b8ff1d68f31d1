/*
 * parent_ready.h: the parent's view of its children's start-up, and what
 * it tells systemd (sd_notify(3); nothing when NOTIFY_SOCKET is unset).
 *
 * Each child the parent forks is expected to report in (lib/readiness.h);
 * once a phase is armed (every child of a start or a reload forked) and
 * every expected child has reported or exited, the phase's callback runs:
 * the parent then says READY=1. A child that exits before reporting is no
 * longer waited for (the parent restarts it or stops).
 */
#ifndef SEALMAIL_PARENT_READY_H
#define SEALMAIL_PARENT_READY_H

#include <event2/event.h>
#include <sys/types.h>

#define PARENT_READY_MAX 128

struct parent_ready {
	int fds[2]; /* lib/readiness.h's pipe */
	struct event *ev;
	pid_t pending[PARENT_READY_MAX];
	unsigned n_pending;
	int armed;
	void (*done)(void *arg);
	void *arg;
};

/* Makes the pipe and watches it on BASE; DONE(ARG) ends each armed phase.
 * Returns 0 or -1 (errno). */
int parent_ready_init(struct parent_ready *r, struct event_base *base, void (*done)(void *),
                      void *arg);
/* In a child just forked: keep the write end, close the read end. */
void parent_ready_child(struct parent_ready *r);
void parent_ready_expect(struct parent_ready *r, pid_t pid);
/* PID exited: not waited for any more. */
void parent_ready_forget(struct parent_ready *r, pid_t pid);
/* Every child of this phase is forked: DONE runs once none is pending. */
void parent_ready_arm(struct parent_ready *r);

/* What systemd is told; each also sets STATUS= to the text given. */
void parent_notify_ready(const char *status_fmt, ...) __attribute__((format(printf, 1, 2)));
void parent_notify_reloading(void);
void parent_notify_stopping(void);
void parent_notify_status(const char *status_fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
