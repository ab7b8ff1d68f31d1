/*
 * users.h: the users file, "user@domain:HASH[:extra]" per line, as the
 * lookup role reads it. Blank lines and lines starting with '#' are
 * ignored. Addresses compare case-insensitively.
 */
#ifndef SEALMAIL_USERS_H
#define SEALMAIL_USERS_H

#include <stddef.h>
#include <time.h>
#include <sys/types.h>

struct users_db {
	char **addresses; /* sorted, lower-cased */
	size_t n;
	/* what was loaded, to notice a change */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/* Parses TEXT into *db. Bad lines are skipped and reported through
 * WARN(line_number, reason). Returns 0. */
int users_db_parse(struct users_db *db, const char *text,
		   void (*warn)(unsigned line, const char *reason, void *arg), void *arg);

/* Loads PATH when it changed since the last load (or never loaded).
 * Returns 1 when reloaded, 0 when unchanged, -1 with errno on error (the
 * previous contents stay). */
int users_db_refresh(struct users_db *db, const char *path);

/* 1 when ADDRESS (any case) is a user. */
int users_db_contains(const struct users_db *db, const char *address);

void users_db_free(struct users_db *db);

#endif
