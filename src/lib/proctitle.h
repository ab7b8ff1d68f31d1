/*
 * proctitle.h: process titles, so that ps and top name each process's
 * role ("sealmail: queue"): libbsd's setproctitle(3) for the command line
 * (/proc/PID/cmdline, ps -f) and prctl(PR_SET_NAME) for the 15-character
 * name (/proc/PID/comm, top).
 */
#ifndef SEALMAIL_PROCTITLE_H
#define SEALMAIL_PROCTITLE_H

/* From main(), before anything uses the environment it moves. */
void proctitle_init(int argc, char **argv);
/* The title becomes "sealmail: TITLE" and the name COMM (cut to 15). */
void proctitle_set(const char *comm, const char *title);

#endif
