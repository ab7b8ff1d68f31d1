/*
 * password.c: see password.h.
 *
 * struct crypt_data is about 32 KiB and holds a copy of the password, so it
 * lives on the heap and is wiped before it is freed.
 */
#include "auth/password.h"

#include <crypt.h>
#include <errno.h>
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
