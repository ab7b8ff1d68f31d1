/*
 * mutf7.c: modified UTF-7 (RFC 3501 5.1.3) and UTF-8 checks; see mutf7.h.
 * Pure. Called by the IMAP session (folder names of clients without
 * UTF8=ACCEPT) and the store (folder names on disk).
 *
 * Decoding is strict so that one folder has one name: a shift must decode
 * to whole UTF-16 units with zero padding bits, must not hold printable
 * ASCII, must not be empty ("&-" is "&") and must not follow another shift
 * directly (the encoder would have merged them).
 */
#include "mail/mutf7.h"

#include <stdint.h>
#include <string.h>

static const char mutf7_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* An output cursor: writes fail once SIZE would be passed. */
struct mutf7_out {
	char *buf;
	size_t len, size;
};

/* Appends N bytes; -1 when they (and the final NUL) do not fit. */
static int out_put(struct mutf7_out *o, const char *s, size_t n)
{
	if (o->size == 0 || n > o->size - 1 - o->len)
		return -1;
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
	return 0;
}

/* The value of the modified base64 digit C, or -1. */
static int mutf7_digit(unsigned char c)
{
	const char *p;

	if (c == '\0')
		return -1;
	p = strchr(mutf7_alphabet, c);
	return p == NULL ? -1 : (int)(p - mutf7_alphabet);
}

/* Appends code point CP as UTF-8. */
static int put_utf8(struct mutf7_out *o, uint32_t cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | cp >> 18);
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return out_put(o, b, n);
}

/* Takes one UTF-16 unit U of a shift; *HIGH holds a pending high surrogate
 * (0 when none). Printable ASCII must not be shifted (not minimal). */
static int decode_unit(struct mutf7_out *o, uint32_t u, uint32_t *high)
{
	if (*high != 0) {
		uint32_t h = *high;

		if (u < 0xdc00 || u > 0xdfff)
			return -1;
		*high = 0;
		return put_utf8(o, 0x10000 + ((h - 0xd800) << 10) + (u - 0xdc00));
	}
	if (u >= 0xd800 && u <= 0xdbff) {
		*high = u;
		return 0;
	}
	if ((u >= 0xdc00 && u <= 0xdfff) || (u >= 0x20 && u <= 0x7e))
		return -1;
	return put_utf8(o, u);
}

/* Decodes the shift starting after "&" at *S, through its "-"; moves *S past
 * it. */
static int decode_shift(const char **s, struct mutf7_out *o)
{
	const char *p = *s;
	uint32_t bits = 0, high = 0;
	unsigned nbits = 0, units = 0;
	int d;

	for (; (d = mutf7_digit((unsigned char)*p)) >= 0; p++) {
		bits = (bits << 6 | (uint32_t)d) & 0xffffff;
		nbits += 6;
		if (nbits >= 16) {
			nbits -= 16;
			if (decode_unit(o, (bits >> nbits) & 0xffff, &high) < 0)
				return -1;
			units++;
		}
	}
	/* ends with "-", whole units, padding bits below 6 and all zero */
	if (*p != '-' || units == 0 || high != 0 || nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0)
		return -1;
	*s = p + 1;
	return 0;
}

int mutf7_to_utf8(const char *in, char *out, size_t size)
{
	struct mutf7_out o = {out, 0, size};
	int after_shift = 0;

	if (out_put(&o, "", 0) < 0)
		return -1;
	for (const char *s = in; *s != '\0';) {
		unsigned char c = (unsigned char)*s;

		if (c == '&' && s[1] == '-') {
			if (out_put(&o, "&", 1) < 0)
				return -1;
			s += 2;
			after_shift = 0;
		} else if (c == '&') {
			s++;
			if (after_shift || decode_shift(&s, &o) < 0)
				return -1;
			after_shift = 1;
		} else if (c >= 0x20 && c <= 0x7e) {
			if (out_put(&o, s, 1) < 0)
				return -1;
			s++;
			after_shift = 0;
		} else {
			return -1;
		}
	}
	return 0;
}

/* Reads one UTF-8 sequence at S (LEN bytes left); returns its length and
 * the code point, or 0 when it is not valid (RFC 3629 3). */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp_r)
{
	uint32_t cp, min;
	size_t n;

	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2, cp = s[0] & 0x1f, min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3, cp = s[0] & 0x0f, min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4, cp = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return n;
}

int utf8_is_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n = utf8_decode(p + i, len - i, &cp);

		if (n == 0)
			return 0;
		i += n;
	}
	return 1;
}

/* Appends the 16 bits of U to the pending base64 bits, writing whole digits. */
static int encode_unit(struct mutf7_out *o, uint32_t u, uint32_t *bits, unsigned *nbits)
{
	*bits = (*bits << 16 | u) & 0xffffff;
	*nbits += 16;
	while (*nbits >= 6) {
		*nbits -= 6;
		if (out_put(o, &mutf7_alphabet[(*bits >> *nbits) & 0x3f], 1) < 0)
			return -1;
	}
	return 0;
}

/* Encodes the run of characters that need a shift at *S (valid UTF-8) as
 * "&...-" and moves *S past it. */
static int encode_shift(const unsigned char **s, struct mutf7_out *o)
{
	const unsigned char *p = *s;
	uint32_t bits = 0, cp = 0;
	unsigned nbits = 0;
	size_t n;

	if (out_put(o, "&", 1) < 0)
		return -1;
	while (*p != '\0' && (*p < 0x20 || *p > 0x7e)) {
		/* valid UTF-8: the whole sequence is there */
		n = utf8_decode(p, 4, &cp);
		if (n == 0)
			return -1;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			if (encode_unit(o, 0xd800 + (cp >> 10), &bits, &nbits) < 0 ||
			    encode_unit(o, 0xdc00 + (cp & 0x3ff), &bits, &nbits) < 0)
				return -1;
		} else if (encode_unit(o, cp, &bits, &nbits) < 0) {
			return -1;
		}
		p += n;
	}
	if (nbits > 0 && out_put(o, &mutf7_alphabet[(bits << (6 - nbits)) & 0x3f], 1) < 0)
		return -1;
	*s = p;
	return out_put(o, "-", 1);
}

int utf8_to_mutf7(const char *in, char *out, size_t size)
{
	struct mutf7_out o = {out, 0, size};
	const unsigned char *s = (const unsigned char *)in;

	if (out_put(&o, "", 0) < 0 || !utf8_is_valid(in, strlen(in)))
		return -1;
	while (*s != '\0') {
		if (*s == '&') {
			if (out_put(&o, "&-", 2) < 0)
				return -1;
			s++;
		} else if (*s >= 0x20 && *s <= 0x7e) {
			if (out_put(&o, (const char *)s, 1) < 0)
				return -1;
			s++;
		} else if (encode_shift(&s, &o) < 0) {
			return -1;
		}
	}
	return 0;
}
