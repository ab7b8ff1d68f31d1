/*
 * user_cmd.h: `sealmail user`, which manages the users file:
 *
 *   sealmail user add USER@DOMAIN [--stdin] [-c FILE]
 *   sealmail user passwd USER@DOMAIN [--stdin] [-c FILE]
 *   sealmail user del USER@DOMAIN [-c FILE]
 *   sealmail user list [-c FILE]
 *
 * The file is [server] users of the configuration. The address must be
 * user@domain with the domain one of local_domains, except for del, so
 * that users of a domain no longer served can still be removed. The
 * running server notices the change by itself within a second.
 */
#ifndef SEALMAIL_USER_CMD_H
#define SEALMAIL_USER_CMD_H

/* ARGV[0] is "user". Returns the exit status: 0, 1 on an error, 2 on a
 * usage error; messages go to stderr, the list to stdout. */
int cmd_user(int argc, char **argv);

#endif
