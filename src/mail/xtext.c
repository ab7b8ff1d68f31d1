/*
 * xtext.c: RFC 3461 4 xtext, the encoding of the ENVID and ORCPT
 * parameters; see xtext.h. Pure. Called by the SMTP server session (to
 * check the parameters, and to encode the ORCPT it makes for an alias), the
 * envelope (to keep only an ORCPT that can be stored and passed on) and the
 * DSN builder (to show them decoded).
 */
#include "mail/xtext.h"

#include "lib/util.h"

/* Decodes the xtext IN into OUT (SIZE bytes, NUL-terminated), or only checks
 * it when OUT is NULL. Returns 0, or -1 when IN is not xtext, does not fit,
 * or (when decoding) holds "+00", which a C string cannot. */
static int xtext_scan(const char *in, char *out, size_t size)
{
	size_t n = 0;

	for (const char *s = in; *s != '\0'; s++) {
		int c = (unsigned char)*s;

		if (c == '+') {
			/* either case, as Postfix reads it */
			c = hex_pair_value(s + 1);
			if (c < 0 || (out != NULL && c == 0))
				return -1;
			s += 2;
		} else if (c < 33 || c > 126 || c == '=') {
			return -1;
		}
		if (out != NULL) {
			if (n + 1 >= size)
				return -1;
			out[n] = (char)c;
		}
		n++;
	}
	if (out != NULL) {
		if (size == 0)
			return -1;
		out[n] = '\0';
	}
	return 0;
}

int xtext_decode(const char *in, char *out, size_t size)
{
	if (out == NULL)
		return -1;
	return xtext_scan(in, out, size);
}

int xtext_valid(const char *s)
{
	return xtext_scan(s, NULL, 0) == 0;
}

int xtext_encode(const char *in, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (const char *s = in; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		int plain = c >= 33 && c <= 126 && c != '+' && c != '=';

		if (n + (plain ? 1 : 3) >= size)
			return -1;
		if (plain) {
			out[n++] = (char)c;
			continue;
		}
		out[n++] = '+';
		out[n++] = hex[c >> 4];
		out[n++] = hex[c & 15];
	}
	if (size == 0)
		return -1;
	out[n] = '\0';
	return 0;
}
