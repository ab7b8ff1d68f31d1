/*
 * queue_forget_cmd.h: `sealmail policy forget DOMAIN [-c FILE]`, which asks
 * the running queue, over data_dir/control.sock, to forget what its
 * downgrade memory (queue/tls_memory.h) remembers of DOMAIN, so that the
 * next delivery to it is held to the configured level again. Used by
 * main.c.
 */
#ifndef SEALMAIL_QUEUE_FORGET_CMD_H
#define SEALMAIL_QUEUE_FORGET_CMD_H

struct config;

/* Sends one request line to the running server and prints its answer;
 * returns the exit status (main.c's control_request). */
typedef int (*ctl_request_fn)(const struct config *cfg, const char *request);

/* ARGV[0] is "forget". Returns the exit status: 0, 1 on an error (the
 * server's answer on stderr), 2 on a usage error. */
int cmd_policy_forget(int argc, char **argv, ctl_request_fn request);

#endif
