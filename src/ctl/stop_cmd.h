/*
 * stop_cmd.h: `sealmail stop [-c FILE]`: SIGTERM to the server named by
 * its pidfile, then waits until it is gone. Used by main.c.
 */
#ifndef SEALMAIL_STOP_CMD_H
#define SEALMAIL_STOP_CMD_H

/* ARGV[0] is "stop". Returns 0 once the server is gone, 1 when it was not
 * running or is still there after STOP_WAIT_SECONDS, 2 on a usage error. */
int cmd_stop(int argc, char **argv);

#endif
