/*
 * init_cmd.h: `sealmail init`, a first configuration: the host name, the
 * mail domains, the certificate and key (flags, or asked on the terminal)
 * become a commented sealmail.conf with an smtp, two submission, an IMAP
 * and a POP3 listener, an empty users file and an aliases file for
 * postmaster@ and abuse@. Nothing existing is overwritten, and nothing is
 * written unless all of it can be. Called by main.c.
 */
#ifndef SEALMAIL_INIT_CMD_H
#define SEALMAIL_INIT_CMD_H

/* ARGV[0] is "init". Returns the exit status: 0, 1 (a file exists, the
 * certificate or key does not load, a write failed), 2 (usage, or an
 * answer missing with no terminal to ask on). */
int cmd_init(int argc, char **argv);

#endif
