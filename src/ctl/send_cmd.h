/*
 * send_cmd.h: `sealmail send` / `sendmail`, the local injector.
 */
#ifndef SEALMAIL_SEND_CMD_H
#define SEALMAIL_SEND_CMD_H

/* ARGV[0] is "send" or "sendmail"; the rest as sendmail takes them. */
int cmd_send(int argc, char **argv);

#endif
