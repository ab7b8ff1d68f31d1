/*
 * password.h: password hashes as they are stored in the users file, made
 * and checked with libxcrypt. New hashes are yescrypt ("$y$..."); checking
 * accepts every method libxcrypt knows (yescrypt, bcrypt "$2b$"/"$2y$",
 * sha512-crypt "$6$", sha256-crypt "$5$", ...), so hashes copied from
 * /etc/shadow or other servers keep working. Used by the "sealmail user"
 * command and by the role that answers SMTP AUTH.
 */
#ifndef SEALMAIL_PASSWORD_H
#define SEALMAIL_PASSWORD_H

#include <stddef.h>

/* Room for any hash libxcrypt makes (CRYPT_OUTPUT_SIZE), NUL included. */
#define PASSWORD_HASH_MAX 384

/* Hashes PASSWORD (non-empty, shorter than 512 octets) with yescrypt and a
 * fresh random salt into OUT of SIZE octets (PASSWORD_HASH_MAX is enough).
 * Returns 0, or -1 with *error_r set to a static reason. */
int password_hash(const char *password, char *out, size_t size, const char **error_r);

/* 1 when PASSWORD matches HASH, else 0: a wrong password, an empty hash, a
 * locked hash ("*" or "!" first) and a hash libxcrypt cannot read never
 * match. The comparison takes the same time wherever the hashes differ. */
int password_verify(const char *password, const char *hash);

/* What a login check computes, so that every failure costs the same time:
 * the user's hash when it can match, else a hash of the same method and
 * cost that the check runs against and then fails whatever the password. */
struct password_target {
	const char *hash; /* crypt() runs against this */
	int can_match;    /* 0: a stand-in; the check fails */
};

/* 1 when libxcrypt can check against HASH (a method it knows, not locked,
 * not too long). */
int password_usable(const char *hash);

/* The target for a user whose stored hash is USER_HASH (NULL: no such
 * user). A usable hash is itself; a locked one ("!" or "*" before a usable
 * hash) stands in for itself without matching; an unknown user, "*", ""
 * and hashes libxcrypt cannot read get DUMMY_HASH. Pure. */
void password_target_for(const char *user_hash, const char *dummy_hash,
                         struct password_target *target_r);

/* 1 when PASSWORD matches TARGET's hash and TARGET can match. The hash is
 * computed either way. */
int password_verify_target(const char *password, const struct password_target *target);

/* Of the N hashes of HASHES, the first one whose method and cost (its
 * setting without the salt) is the most common among the usable ones; NULL
 * when none is usable. Pure. */
const char *password_most_common(const char *const *hashes, size_t n);

/* A hash of a password nobody has with the method, cost and salt of LIKE
 * (NULL or unusable: a fresh yescrypt hash) into OUT: the stand-in for
 * unknown users. Returns 0, or -1 with *error_r. */
int password_dummy_like(const char *like, char *out, size_t size, const char **error_r);

#endif
