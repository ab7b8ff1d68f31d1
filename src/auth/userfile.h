/*
 * userfile.h: edits the users file ("user@domain:HASH[:extra]" per line,
 * see lookup/users.h) for the "sealmail user" command. Comments, blank lines
 * and lines it does not understand are kept as they are. Every change is
 * atomic: under an exclusive flock on "PATH.lock" the file is read, written
 * whole to "PATH.tmp.PID" with the original's owner, group and mode (no
 * wider than USERFILE_DEFAULT_MODE), synced
 * and renamed over PATH, so the server (which re-reads the file when it
 * changes) never sees half of it.
 *
 * Addresses compare case-insensitively and are written lower-cased. Errors
 * come back in *error_r, malloc'ed (the caller frees it), when error_r is
 * not NULL.
 */
#ifndef SEALMAIL_USERFILE_H
#define SEALMAIL_USERFILE_H

/* Mode of a users file created by userfile_add(), and the widest any edit
 * leaves (a wider one is narrowed to it): the server's parent reads it as
 * root, the group may be given read access. */
#define USERFILE_DEFAULT_MODE 0640

/* Appends "ADDRESS:HASH" to PATH, which is created when absent. -1 when
 * ADDRESS is already there. */
int userfile_add(const char *path, const char *address, const char *hash, char **error_r);

/* Replaces the hash of ADDRESS (every line of it), keeping any extra
 * fields. -1 when ADDRESS is not there. */
int userfile_set_hash(const char *path, const char *address, const char *hash, char **error_r);

/* Removes every line of ADDRESS. -1 when ADDRESS is not there. */
int userfile_delete(const char *path, const char *address, char **error_r);

/* Calls FN for each user line of PATH in file order, with its address
 * lower-cased and whether it can log in (a hash that is not empty and not
 * locked with '*' or '!'). Returns 0, or -1 when PATH cannot be read. */
int userfile_list(const char *path, void (*fn)(const char *address, int can_login, void *arg),
                  void *arg, char **error_r);

#endif
