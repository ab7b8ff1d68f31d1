/*
 * digest.c: see digest.h. OpenSSL's one-shot EVP_Digest().
 */
#include "lib/digest.h"

#include <openssl/evp.h>

#include "lib/util.h"

int digest_sha256_hex(const void *data, size_t len, char *hex, size_t size)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (size > 0)
		hex[0] = '\0';
	if (size < DIGEST_SHA256_HEX || EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) != 1)
		return -1;
	hex_lower(md, md_len, hex, size);
	return 0;
}
