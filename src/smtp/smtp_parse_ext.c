/*
 * smtp_parse_ext.c: the pure parsers of SMTP's extensions declared in
 * smtp_parse.h: UTF-8 in addresses (SMTPUTF8, RFC 6531), BDAT's argument
 * and the line-end check of its chunks (CHUNKING, RFC 3030). Called by
 * smtp_parse.c (addresses) and the SMTP server session (smtp_command.c,
 * smtp_data.c). No I/O, no allocation, no locale.
 */
#include <stdint.h>
#include <string.h>

#include "smtp/smtp_parse.h"

#define ERR_BDAT_SYNTAX "Syntax: BDAT chunk-size [LAST]"
#define ERR_BDAT_SIZE "BDAT chunk size too large"

/* ---- UTF-8 ------------------------------------------------------------- */

/* 1 if C is a UTF-8 continuation octet (10xxxxxx). */
static int is_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

/* Decodes one character (RFC 3629 3) of 2 to 4 octets; refuses overlong
 * forms, surrogates, values past U+10FFFF (RFC 3629 4) and the C1
 * controls, which RFC 6531 3.3 leaves out of addresses as RFC 5321 does
 * C0. */
size_t smtp_utf8_char_len(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t len, i;

	if (n == 0 || p[0] < 0xc2 || p[0] > 0xf4)
		return 0; /* ASCII, a continuation, an overlong lead or past U+10FFFF */
	len = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;
	if (n < len)
		return 0;
	cp = p[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if (!is_cont(p[i]))
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp <= 0x9f)
		return 0;
	return len;
}

/* Walks S[0..N): printable ASCII or well-formed UTF-8, nothing else. */
int smtp_utf8_valid(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t len;

		if (c >= 0x20 && c < 0x7f) {
			i++;
			continue;
		}
		len = smtp_utf8_char_len(s + i, n - i);
		if (len == 0)
			return 0;
		i += len;
	}
	return 1;
}

/* ---- BDAT -------------------------------------------------------------- */

/* 1 if S (any case) is "LAST" followed by the end or spaces only. */
static int bdat_is_last(const char *s)
{
	static const char last[] = "LAST";

	for (size_t i = 0; i < 4; i++)
		if ((s[i] & ~0x20) != last[i])
			return 0;
	s += 4;
	while (*s == ' ')
		s++;
	return *s == '\0';
}

/* RFC 3030 3: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ];
 * chunk-size = 1*DIGIT; end-marker = "LAST". */
int smtp_bdat_parse(const char *arg, uint64_t *size_r, int *last_r, const char **error_r)
{
	uint64_t size = 0;
	size_t n = 0;

	*size_r = 0;
	*last_r = 0;
	while (arg[n] >= '0' && arg[n] <= '9') {
		if (n == SMTP_BDAT_DIGITS_MAX) {
			*error_r = ERR_BDAT_SIZE;
			return -1;
		}
		size = size * 10 + (uint64_t)(arg[n] - '0');
		n++;
	}
	if (n == 0 || (arg[n] != ' ' && arg[n] != '\0')) {
		*error_r = ERR_BDAT_SYNTAX;
		return -1;
	}
	while (arg[n] == ' ')
		n++;
	if (arg[n] != '\0' && !bdat_is_last(arg + n)) {
		*error_r = ERR_BDAT_SYNTAX;
		return -1;
	}
	*size_r = size;
	*last_r = arg[n] != '\0';
	return 0;
}

/* One octet of a chunk: SMTP_DATA_CR after a CR, SMTP_DATA_LINE_START
 * after a CRLF, else SMTP_DATA_IN_LINE. Every octet counts toward the
 * line's length, its CRLF included, as in DATA (RFC 5321 4.5.3.1.6). */
static void bdat_step(struct smtp_data_parser *p, char c)
{
	if (++p->line_len > p->max_line)
		p->line_too_long = 1;
	if (p->state == SMTP_DATA_CR && c == '\n') {
		p->state = SMTP_DATA_LINE_START;
		p->line_len = 0;
		return;
	}
	if (p->state == SMTP_DATA_CR)
		p->bare_cr = 1;
	if (c == '\n')
		p->bare_lf = 1;
	p->state = c == '\r' ? SMTP_DATA_CR : SMTP_DATA_IN_LINE;
}

void smtp_bdat_feed(struct smtp_data_parser *p, const char *in, size_t len)
{
	for (size_t i = 0; i < len; i++)
		bdat_step(p, in[i]);
	p->size += len;
}

void smtp_bdat_finish(struct smtp_data_parser *p)
{
	if (p->state == SMTP_DATA_CR)
		p->bare_cr = 1;
	p->state = SMTP_DATA_DONE;
}
