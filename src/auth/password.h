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

#endif
