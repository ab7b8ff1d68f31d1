/*
 * queue_forget_cmd.h: `sealmail policy forget DOMAIN [-c FILE]`, which asks
 * the running queue, over data_dir/control.sock, to forget what its
 * downgrade memory (queue/tls_memory.h) remembers of DOMAIN, so that the
 * next delivery to it is held to the configured level again. Used by
 * main.c.
 */
#ifndef SEALMAIL_QUEUE_FORGET_CMD_H
#define SEALMAIL_QUEUE_FORGET_CMD_H

/* ARGV[0] is "forget". Returns the exit status: 0, 1 on an error (the
 * server's answer on stderr), 2 on a usage error. */
int cmd_policy_forget(int argc, char **argv);

#endif
