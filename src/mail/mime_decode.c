/*
 * mime_decode.c: the Content-Transfer-Encoding decoders (RFC 2045 6.7
 * quoted-printable, 6.8 base64) and the Q form of RFC 2047 4.2. Used by
 * FETCH BINARY (imap_fetch_render.c), by SEARCH BODY and the RFC 2047
 * word decoder (mime_search.c).
 *
 * Lenient, as RFC 2045 asks of a reader: what is not valid is skipped or
 * kept, never an error. Neither libc nor libevent decodes base64, and
 * OpenSSL's decoder (kept to src/lib/, where lib/base64.c uses it for the
 * strict SASL form) refuses characters outside the alphabet, which RFC
 * 2045 6.8 says to ignore; hence the loop here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"
#include "mail/mime_private.h"

/* Value of one base64 character, -1 for others. */
static int base64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	return c == '/' ? 63 : -1;
}

void mime_decode_base64(struct mime_buf *b, const char *s, size_t len)
{
	uint32_t acc = 0;
	unsigned bits = 0;

	mime_buf_add(b, "", 0);
	/* RFC 2045 6.8: "=" is padding, so it ends the data. */
	for (size_t i = 0; i < len && s[i] != '='; i++) {
		int v = base64_value(s[i]);
		if (v < 0)
			continue;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			mime_buf_addc(b, (char)((acc >> bits) & 0xff));
		}
	}
}

/* Where the "=" at S[I] ends when it starts a soft line break (RFC 2045
 * 6.7 rule 5, with the blanks a transport may have put before the line
 * end) or is followed by blanks only: the index after its last octet; 0
 * when it is neither (a stray "=", kept). */
static size_t soft_break_end(const char *s, size_t len, size_t i)
{
	size_t j = i + 1;

	while (j < len && (s[j] == ' ' || s[j] == '\t'))
		j++;
	if (j + 1 < len && s[j] == '\r' && s[j + 1] == '\n')
		j++;
	if (j < len && s[j] == '\n')
		return j + 1;
	return j == len ? len : 0;
}

void mime_decode_qp(struct mime_buf *b, const char *s, size_t len, int q)
{
	size_t kept, end;
	int v;

	mime_buf_add(b, "", 0);
	kept = b->len; /* B up to here is text, not blanks at a line end */
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '=' && i + 2 < len && (v = hex_pair_value(s + i + 1)) >= 0) {
			mime_buf_addc(b, (char)v);
			kept = b->len;
			i += 2;
		} else if (s[i] == '=' && (end = soft_break_end(s, len, i)) > 0) {
			i = end - 1;
		} else if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n') {
			/* rule 3: blanks written at a line end were added in transit */
			b->len = kept;
			mime_buf_add(b, "\r\n", 2);
			kept = b->len;
			i++;
		} else {
			mime_buf_addc(b, s[i] == '_' && q ? ' ' : s[i]);
			if ((s[i] != ' ' && s[i] != '\t') || q)
				kept = b->len;
		}
	}
}

/* Whether ENC is a Content-Transfer-Encoding whose body is the octets as
 * they are (RFC 2045 6.2). */
static int encoding_is_identity(const char *enc)
{
	return strcasecmp(enc, "7bit") == 0 || strcasecmp(enc, "8bit") == 0 ||
	       strcasecmp(enc, "binary") == 0;
}

char *mime_decode_body(const char *data, size_t len, const char *encoding, size_t *len_r)
{
	const char *enc = encoding != NULL ? encoding : "7bit";
	int base64 = strcasecmp(enc, "base64") == 0;
	int qp = strcasecmp(enc, "quoted-printable") == 0;
	struct mime_buf b;

	if (!base64 && !qp && !encoding_is_identity(enc))
		return NULL;
	/* none of the decodings makes the data longer */
	b = (struct mime_buf){xmalloc(len + 1), 0, len + 1};
	b.s[0] = '\0';
	if (base64)
		mime_decode_base64(&b, data, len);
	else if (qp)
		mime_decode_qp(&b, data, len, 0);
	else
		mime_buf_add(&b, data, len);
	*len_r = b.len;
	return mime_buf_take(&b);
}
