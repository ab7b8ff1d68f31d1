/*
 * local_users.h: the login name of a local user, for the Received: header
 * of a message submitted over the local socket (`sealmail send`), whose
 * uid the kernel gives (SO_PEERCRED). A chrooted dispatcher cannot read
 * the password database, so it takes a copy of it before the chroot.
 */
#ifndef SEALMAIL_LOCAL_USERS_H
#define SEALMAIL_LOCAL_USERS_H

#include <stddef.h>
#include <sys/types.h>

#define LOCAL_USERS_MAX 100000 /* entries copied; a larger directory is cut */

/* Copies uid -> name from the password database (getpwent), once per
 * process; for a process about to lose access to it (chroot). */
void local_users_snapshot(void);

/* UID's login name into BUF (SIZE bytes): from the copy when one was
 * taken, else from getpwuid_r(). Returns 0, or -1 (BUF "") when unknown. */
int local_users_name(uid_t uid, char *buf, size_t size);

#endif
