/*
 * tlsrpt_cmd.h: `sealmail tls-report show [DOMAIN]` and `sealmail
 * tls-report send [--today]`, which the queue role answers over
 * data_dir/control.sock (queue/queue_tlsrpt.c). Called by main.c.
 */
#ifndef SEALMAIL_TLSRPT_CMD_H
#define SEALMAIL_TLSRPT_CMD_H

/* ARGV[0] is "tls-report"; the rest its words and -c FILE. Returns the
 * exit status: 0, 1 (the server refused or could not be reached), 2
 * (usage). */
int cmd_tls_report(int argc, char **argv);

#endif
