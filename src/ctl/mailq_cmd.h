/*
 * mailq_cmd.h: `mailq` (sealmail called by that name) and the text of
 * `sealmail queue --help`.
 */
#ifndef SEALMAIL_MAILQ_CMD_H
#define SEALMAIL_MAILQ_CMD_H

#include <stdio.h>

/* `mailq [-c FILE] [-v]`: the queue in the sendmail / Postfix layout,
 * asked of the running server ("queue mailq" over the control socket).
 * ARGV[0] is the command's name. Returns the exit status. */
int cmd_mailq(int argc, char **argv);

/* The usage of `sealmail queue`, with what each request does, to F. */
void queue_usage(FILE *f);

#endif
