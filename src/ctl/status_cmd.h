/*
 * status_cmd.h: `sealmail status [-c FILE]`: whether the server runs, its
 * pid, uptime and roles. Used by main.c.
 */
#ifndef SEALMAIL_STATUS_CMD_H
#define SEALMAIL_STATUS_CMD_H

/* ARGV[0] is "status". Returns LSB's status exit codes: 0 running, 1 not
 * running but the pidfile is left, 3 not running, 4 unknown; 2 on a usage
 * error. */
int cmd_status(int argc, char **argv);

#endif
