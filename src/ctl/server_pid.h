/*
 * server_pid.h: finds the running server for `sealmail status` and
 * `sealmail stop` through its pidfile ([server] pidfile, default
 * data_dir/sealmail.pid) and the process it names.
 */
#ifndef SEALMAIL_SERVER_PID_H
#define SEALMAIL_SERVER_PID_H

#include <stddef.h>
#include <sys/types.h>

/* What server_pid_find() found; the values are LSB's status exit codes. */
enum server_state {
	SERVER_RUNNING = 0,
	SERVER_STALE = 1,   /* a pidfile naming no live sealmail */
	SERVER_STOPPED = 3, /* no pidfile */
	SERVER_UNKNOWN = 4, /* the configuration or the pidfile cannot be read (said) */
};

/* Loads CONFIG, puts the pidfile's path into PIDFILE and the pid it holds
 * into *PID_R (0 when none). */
enum server_state server_pid_find(const char *config, char *pidfile, size_t size, pid_t *pid_r);

#endif
