/*
 * users.h: the users file, "user@domain:HASH[:extra]" per line. The parent
 * reads the file (it may be the only role allowed to) and sends its text to
 * the lookup role, which parses it here. Blank lines and lines starting with '#' are
 * ignored. Addresses compare case-insensitively.
 */
#ifndef SEALMAIL_USERS_H
#define SEALMAIL_USERS_H

#include <stddef.h>

struct users_db {
	char **addresses; /* sorted, lower-cased */
	size_t n;
};

/* Parses TEXT into *db. Bad lines are skipped and reported through
 * WARN(line_number, reason). Returns 0. */
int users_db_parse(struct users_db *db, const char *text,
                   void (*warn)(unsigned line, const char *reason, void *arg), void *arg);

/* 1 when ADDRESS (any case) is a user. */
int users_db_contains(const struct users_db *db, const char *address);

void users_db_free(struct users_db *db);

#endif
