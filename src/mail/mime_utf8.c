/*
 * mime_utf8.c: case-insensitive substring search in UTF-8 for IMAP SEARCH
 * (RFC 9051 6.4.4). Both texts are case-folded (ASCII, and the simple case
 * folding of Unicode for Latin-1, Latin Extended-A, Greek and Cyrillic),
 * then compared as octets. Octets that are not valid UTF-8 are kept as
 * they are, so they still match themselves. Called by mime_search.c and
 * the store role.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "mail/mime_private.h"

/* Even code points are capitals, the next odd one their small letter. */
static int in_even_pairs(uint32_t c, uint32_t lo, uint32_t hi)
{
	return c >= lo && c <= hi && (c - lo) % 2 == 0;
}

/* Latin-1 Supplement and Latin Extended-A. */
static uint32_t fold_latin(uint32_t c)
{
	if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		return c + 0x20;
	if (c == 0xb5)
		return 0x3bc;
	if (in_even_pairs(c, 0x100, 0x12f) || in_even_pairs(c, 0x132, 0x137) ||
	    in_even_pairs(c, 0x14a, 0x177))
		return c + 1;
	if ((c >= 0x139 && c <= 0x148 && c % 2 == 1) || (c >= 0x179 && c <= 0x17e && c % 2 == 1))
		return c + 1;
	if (c == 0x178)
		return 0xff;
	if (c == 0x17f)
		return 's';
	return c;
}

/* Greek and Cyrillic. */
static uint32_t fold_greek_cyrillic(uint32_t c)
{
	if ((c >= 0x391 && c <= 0x3a1) || (c >= 0x3a3 && c <= 0x3ab))
		return c + 0x20;
	if (c == 0x386)
		return 0x3ac;
	if (c >= 0x388 && c <= 0x38a)
		return c + 0x25;
	if (c == 0x38c)
		return 0x3cc;
	if (c == 0x38e || c == 0x38f)
		return c + 0x3f;
	if (c == 0x3c2)
		return 0x3c3;
	if (c >= 0x410 && c <= 0x42f)
		return c + 0x20;
	if (c >= 0x400 && c <= 0x40f)
		return c + 0x50;
	if (in_even_pairs(c, 0x460, 0x481) || in_even_pairs(c, 0x48a, 0x4bf) ||
	    in_even_pairs(c, 0x4d0, 0x52f))
		return c + 1;
	if (c == 0x4c0)
		return 0x4cf;
	if (c >= 0x4c1 && c <= 0x4ce && c % 2 == 1)
		return c + 1;
	return c;
}

static uint32_t fold(uint32_t c)
{
	if (c < 0x80)
		return c >= 'A' && c <= 'Z' ? c + 0x20 : c;
	if (c < 0x180)
		return fold_latin(c);
	if (c >= 0x370 && c < 0x530)
		return fold_greek_cyrillic(c);
	return c;
}

/* Decodes the code point at S (LEN > 0 octets left); its length goes to
 * *N_R, or 0 when the octet does not start a valid sequence. */
static uint32_t decode(const unsigned char *s, size_t len, size_t *n_r)
{
	uint32_t c;
	size_t n, i;

	*n_r = 0;
	if (s[0] < 0x80) {
		*n_r = 1;
		return s[0];
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	*n_r = n;
	return c;
}

static void put_utf8(struct mime_buf *b, uint32_t c)
{
	char o[4];

	if (c < 0x80) {
		mime_buf_addc(b, (char)c);
	} else if (c < 0x800) {
		o[0] = (char)(0xc0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3f));
		mime_buf_add(b, o, 2);
	} else if (c < 0x10000) {
		o[0] = (char)(0xe0 | (c >> 12));
		o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		o[2] = (char)(0x80 | (c & 0x3f));
		mime_buf_add(b, o, 3);
	} else {
		o[0] = (char)(0xf0 | (c >> 18));
		o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
		o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
		o[3] = (char)(0x80 | (c & 0x3f));
		mime_buf_add(b, o, 4);
	}
}

/* The case-folded copy of S (LEN octets) into B. */
static void fold_text(struct mime_buf *b, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;

	mime_buf_add(b, "", 0);
	while (i < len) {
		uint32_t c = decode(u + i, len - i, &n);
		if (n == 0) {
			mime_buf_addc(b, (char)u[i++]);
			continue;
		}
		put_utf8(b, fold(c));
		i += n;
	}
}

int utf8_contains_ci(const char *haystack, size_t len, const char *needle)
{
	struct mime_buf h = {0}, n = {0};
	int found;

	if (needle[0] == '\0')
		return 1;
	fold_text(&n, needle, strlen(needle));
	fold_text(&h, haystack, len);
	found = memmem(h.s, h.len, n.s, n.len) != NULL;
	free(h.s);
	free(n.s);
	return found;
}
