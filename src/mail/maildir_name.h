/*
 * maildir_name.h: which addresses can have a mailbox. A local user's
 * Maildir is data_dir/mail/DOMAIN/LOCAL/, so each part becomes a path
 * component; the same rule is applied where users are added (sealmail
 * user), where the users file is read (the lookup role) and where mail is
 * delivered (the queue role), so a user who could never receive mail is
 * refused at once instead of having mail deferred for ever.
 */
#ifndef SEALMAIL_MAIL_MAILDIR_NAME_H
#define SEALMAIL_MAIL_MAILDIR_NAME_H

#include <stddef.h>

/* Whether S (LEN octets) may be one path component of a Maildir: not
 * empty, under 256 octets, no '/' or NUL, not starting with '.' (".", "..",
 * hidden files and Maildir++ folders). */
int maildir_name_ok(const char *s, size_t len);

/* NULL when ADDRESS (local@domain) can have a Maildir, else why not. */
const char *maildir_address_problem(const char *address);

/* The Maildir of local@domain relative to the data directory,
 * "mail/DOMAIN/LOCAL" (lower-cased), where the queue delivers and the
 * store role serves it. Returns -1 when the address cannot name a safe
 * directory (a '/' or a leading '.', empty parts, too long). */
int maildir_path_for(const char *address, char *buf, size_t size);

#endif
