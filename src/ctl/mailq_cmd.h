/*
 * mailq_cmd.h: `mailq` (sealmail called by that name).
 */
#ifndef SEALMAIL_MAILQ_CMD_H
#define SEALMAIL_MAILQ_CMD_H

/* `mailq [-c FILE] [-v]`: the queue in the sendmail / Postfix layout,
 * asked of the running server ("queue mailq" over the control socket).
 * ARGV[0] is the command's name. Returns the exit status. */
int cmd_mailq(int argc, char **argv);

#endif
