/*
 * readiness.h: a forked child tells the process that forked it that it is
 * up (its event loop is about to run). The parent makes one pipe, every
 * child inherits its write end and writes its pid there once; the parent
 * reads pids from the read end (daemon/parent_ready.c).
 */
#ifndef SEALMAIL_READINESS_H
#define SEALMAIL_READINESS_H

#include <sys/types.h>

/* Makes the pipe: FDS[0] to read (non-blocking), FDS[1] to write. */
int readiness_pipe(int fds[2]);
/* In the child: FD is where readiness_report() writes. */
void readiness_child(int fd);
/* Tells the parent this process is up; once, and nothing outside a child
 * of the server. Called by each role just before its event loop. */
void readiness_report(void);
/* Reads one reported pid from FD into PID_R: 1, or 0 when none is waiting. */
int readiness_read(int fd, pid_t *pid_r);

#endif
