/*
 * maildir.h: local delivery into Maildir (tmp/ -> new/), as the queue role
 * does it. Durability is the caller's: it writes a batch of tmp files, makes
 * them stable, renames them all, and makes the renames stable.
 */
#ifndef SEALMAIL_MAILDIR_H
#define SEALMAIL_MAILDIR_H

#include <stddef.h>

#define MAILDIR_PATH_MAX 1024

struct maildir_copy {
	char tmp_path[MAILDIR_PATH_MAX];
	char new_path[MAILDIR_PATH_MAX];
};

/* maildir_path_for() names the Maildir of an address. */
#include "mail/maildir_name.h"

/* Creates DIR/{tmp,new,cur} (and parents) when missing. */
int maildir_ensure(const char *dir, const char **error_r);

/* Writes one copy into DIR/tmp: the lines PREFIX (already LF-terminated)
 * followed by MSG (LEN octets, CRLF line ends) with CRLF turned into LF.
 * Names the file by the Maildir convention, unique per host and process.
 * Fills *copy. Returns 0, or -1 with *error_r. */
int maildir_write(const char *dir, const char *hostname, const char *prefix, const char *msg,
                  size_t len, struct maildir_copy *copy, const char **error_r);

/* Moves the copy from tmp/ to new/. */
int maildir_commit(const struct maildir_copy *copy, const char **error_r);

/* Removes a tmp file that will not be committed. */
void maildir_discard(const struct maildir_copy *copy);

/* Whether NAME is a file name maildir_write() makes on HOSTNAME
 * ("SECONDS.MUSECPPIDQN.HOSTNAME,S=SIZE"). Pure. */
int maildir_name_is_ours(const char *name, const char *hostname);

/* At start-up, before any delivery: removes from every mail/DOMAIN/USER/tmp/
 * the copies an interrupted delivery of ours left (the message is still in
 * the queue and is delivered again); files of other tools stay. Returns how
 * many were removed. */
unsigned maildir_clean_tmp(const char *hostname);

#endif
