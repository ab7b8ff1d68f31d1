/*
 * base64.c: see base64.h.
 */
#include "lib/base64.h"

#include <openssl/evp.h>
#include <string.h>

/* RFC 4648 3.5: the pad bits are zero and only the alphabet appears
 * (EVP_DecodeBlock would skip white space), i.e. encoding the N decoded
 * octets OUT gives back IN exactly. */
static int base64_canonical(const char *in, size_t len, const unsigned char *out, size_t n)
{
	unsigned char quad[5];
	size_t i, o;

	for (i = 0, o = 0; i < len; i += 4, o += 3) {
		EVP_EncodeBlock(quad, out + o, n - o < 3 ? (int)(n - o) : 3);
		if (memcmp(quad, in + i, 4) != 0)
			return 0;
	}
	return 1;
}

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
	if (!base64_canonical(in, len, out, (size_t)n))
		return -1;
	out[n] = '\0';
	return n;
}

void base64_encode(const unsigned char *in, size_t len, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}
