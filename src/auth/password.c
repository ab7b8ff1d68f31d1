/*
 * password.c: see password.h.
 *
 * struct crypt_data is about 32 KiB and holds a copy of the password, so it
 * lives on the heap and is wiped before it is freed.
 */
#include "auth/password.h"

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lib/util.h"

_Static_assert(PASSWORD_HASH_MAX >= CRYPT_OUTPUT_SIZE, "room for any hash");

static struct crypt_data *crypt_data_new(void)
{
	return xcalloc(1, sizeof(struct crypt_data));
}

/* Wipes the password, salt and hash libxcrypt left in *DATA, then frees it. */
static void crypt_data_free(struct crypt_data **data)
{
	if (*data == NULL)
		return;
	explicit_bzero(*data, sizeof(**data));
	free(*data);
	*data = NULL;
}

/* 0 when PASSWORD may be hashed, else -1 with the reason. */
static int password_check(const char *password, const char **error_r)
{
	if (password == NULL || *password == '\0') {
		*error_r = "the password is empty";
		return -1;
	}
	if (strlen(password) >= CRYPT_MAX_PASSPHRASE_SIZE) {
		*error_r = "the password is too long (at most 511 octets)";
		return -1;
	}
	return 0;
}

int password_hash(const char *password, char *out, size_t size, const char **error_r)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data;
	const char *hash;
	int r = -1;

	if (password_check(password, error_r) < 0)
		return -1;
	/* count 0: libxcrypt's default cost; NULL: random bytes from the kernel */
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) == NULL) {
		*error_r = "cannot make a yescrypt salt (no random bytes from the kernel?)";
		return -1;
	}
	data = crypt_data_new();
	hash = crypt_rn(password, salt, data, (int)sizeof(*data));
	if (hash == NULL || hash[0] == '*')
		*error_r = "libxcrypt could not hash the password";
	else if (strlcpy_checked(out, hash, size) < 0)
		*error_r = "the hash does not fit in the buffer";
	else
		r = 0;
	crypt_data_free(&data);
	if (r < 0 && size > 0)
		explicit_bzero(out, size);
	return r;
}

/* 1 when HASH can never match: empty, or locked as in /etc/shadow. */
static int hash_is_locked(const char *hash)
{
	return hash == NULL || hash[0] == '\0' || hash[0] == '*' || hash[0] == '!';
}

int password_usable(const char *hash)
{
	int r;

	if (hash_is_locked(hash) || strlen(hash) >= CRYPT_OUTPUT_SIZE)
		return 0;
	r = crypt_checksalt(hash);
	return r == CRYPT_SALT_OK || r == CRYPT_SALT_METHOD_LEGACY || r == CRYPT_SALT_TOO_CHEAP;
}

void password_target_for(const char *user_hash, const char *dummy_hash,
                         struct password_target *target_r)
{
	const char *rest = user_hash;

	target_r->hash = dummy_hash;
	target_r->can_match = 0;
	if (user_hash == NULL)
		return;
	if (password_usable(user_hash)) {
		target_r->hash = user_hash;
		target_r->can_match = 1;
		return;
	}
	/* locked as usermod -L does: the hash behind the marks keeps its cost */
	while (*rest == '!' || *rest == '*')
		rest++;
	if (rest != user_hash && password_usable(rest))
		target_r->hash = rest;
}

int password_verify_target(const char *password, const struct password_target *target)
{
	int match = password_verify(password ? password : "", target->hash);

	return match && target->can_match && password != NULL;
}

/* Into KEY: HASH's method and cost, i.e. its setting without the salt
 * ("$y$j9T", "$6$rounds=9000", "$6", "$2b$12"). */
static void password_cost_key(const char *hash, char *key, size_t size)
{
	const char *end = strrchr(hash, '$'), *p;

	/* bcrypt ("$2b$12$" then salt and hash in one field) ends at its last
	 * '$'; the others drop the salt field too */
	if (end != NULL && hash[1] != '2')
		for (p = end - 1, end = NULL; p >= hash && end == NULL; p--)
			if (*p == '$')
				end = p;
	if (end == NULL)
		end = hash;
	snprintf(key, size, "%.*s", (int)(end - hash), hash);
}

#define PASSWORD_KINDS 16 /* distinct methods and costs counted */

const char *password_most_common(const char *const *hashes, size_t n)
{
	struct {
		char key[64];
		const char *first;
		size_t count;
	} kinds[PASSWORD_KINDS];
	unsigned n_kinds = 0, k, best = 0;
	char key[64];

	for (size_t i = 0; i < n; i++) {
		if (hashes[i] == NULL || !password_usable(hashes[i]))
			continue;
		password_cost_key(hashes[i], key, sizeof(key));
		for (k = 0; k < n_kinds && strcmp(kinds[k].key, key) != 0; k++)
			;
		if (k == n_kinds && n_kinds == PASSWORD_KINDS)
			continue;
		if (k == n_kinds) {
			strlcpy_checked(kinds[k].key, key, sizeof(kinds[k].key));
			kinds[k].first = hashes[i];
			kinds[k].count = 0;
			n_kinds++;
		}
		kinds[k].count++;
	}
	for (k = 1; k < n_kinds; k++)
		if (kinds[k].count > kinds[best].count)
			best = k;
	return n_kinds > 0 ? kinds[best].first : NULL;
}

int password_dummy_like(const char *like, char *out, size_t size, const char **error_r)
{
	struct crypt_data *data;
	const char *hash;
	int r = -1;

	if (like == NULL || !password_usable(like))
		return password_hash("not a password", out, size, error_r);
	data = crypt_data_new();
	hash = crypt_rn("not a password", like, data, (int)sizeof(*data));
	if (hash == NULL || hash[0] == '*')
		*error_r = "libxcrypt could not hash with that setting";
	else if (strlcpy_checked(out, hash, size) < 0)
		*error_r = "the hash does not fit in the buffer";
	else
		r = 0;
	crypt_data_free(&data);
	return r;
}

int password_verify(const char *password, const char *hash)
{
	struct crypt_data *data;
	const char *computed;
	size_t len;
	int match = 0;

	if (password == NULL || hash_is_locked(hash))
		return 0;
	len = strlen(hash);
	if (len >= CRYPT_OUTPUT_SIZE)
		return 0;
	data = crypt_data_new();
	computed = crypt_rn(password, hash, data, (int)sizeof(*data));
	/* a failure gives NULL or a "*0"/"*1" token, never equal to a real hash;
	 * the length of a hash is no secret, its content is */
	if (computed != NULL && computed[0] != '*' && strlen(computed) == len)
		match = CRYPTO_memcmp(computed, hash, len) == 0;
	crypt_data_free(&data);
	return match;
}
