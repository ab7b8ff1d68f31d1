/*
 * users.h: the users file, "user@domain:HASH[:extra]" per line. The parent
 * reads the file (it may be the only role allowed to) and sends its text to
 * the lookup role, which parses it here. Blank lines and lines starting with '#' are
 * ignored. Addresses compare case-insensitively; when one is listed twice,
 * its first line counts.
 */
#ifndef SEALMAIL_USERS_H
#define SEALMAIL_USERS_H

#include <stddef.h>

struct users_db {
	char **addresses; /* sorted, lower-cased; each string is followed in
	                     its allocation by its hash: "addr\0hash\0" */
	size_t n;
};

/* Parses TEXT into *db. Bad lines and repeated addresses are skipped and
 * reported through WARN(line_number, reason). Returns 0. */
int users_db_parse(struct users_db *db, const char *text,
                   void (*warn)(unsigned line, const char *reason, void *arg), void *arg);

/* 1 when ADDRESS (any case) is a user. */
int users_db_contains(const struct users_db *db, const char *address);

/* The password hash of ADDRESS (any case) as written ("*" or "" for a user
 * who cannot log in, see auth/password.h), or NULL when it is not a user.
 * Valid until users_db_free(). */
const char *users_db_hash(const struct users_db *db, const char *address);

/* Frees everything, wiping the hashes. */
void users_db_free(struct users_db *db);

#endif
