/*
 * base64.c: see base64.h.
 */
#include "lib/base64.h"

#include <openssl/evp.h>
#include <string.h>

long base64_decode(const char *in, size_t len, unsigned char *out)
{
	size_t pad = 0;
	int n;

	if (len % 4 != 0 || len > (size_t)0x7fffffff - 4)
		return -1;
	if (len == 0) {
		out[0] = '\0';
		return 0;
	}
	if (in[len - 1] == '=')
		pad++;
	if (in[len - 2] == '=')
		pad++;
	/* '=' only at the end */
	if (memchr(in, '=', len - pad) != NULL)
		return -1;
	n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	if (n < 0 || (size_t)n < pad)
		return -1;
	n -= (int)pad;
	out[n] = '\0';
	return n;
}

void base64_encode(const unsigned char *in, size_t len, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}
