/*
 * imap_out.c: LIST pattern matching and the writers of IMAP strings, both
 * declared in imap_parse.h. Pure. Called by the IMAP session and its
 * command files (LIST, LSUB, STATUS, FETCH answers).
 */
#include "imap/imap_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

/* How many leading octets of NAME compare without case: "INBOX" is the same
 * folder in any case (RFC 9051 5.1), and so is the INBOX part of its
 * children. */
static size_t inbox_prefix(const char *name, char delim)
{
	if (strncasecmp(name, "INBOX", 5) == 0 &&
	    (name[5] == '\0' || (delim != '\0' && name[5] == delim)))
		return 5;
	return 0;
}

static int same_octet(char a, char b, int fold)
{
	if (fold && a >= 'a' && a <= 'z')
		a = (char)(a - 'a' + 'A');
	if (fold && b >= 'a' && b <= 'z')
		b = (char)(b - 'a' + 'A');
	return a == b;
}

/* Dynamic programming over the name, one pattern character at a time:
 * time in pattern length times name length, no backtracking blow-up.
 * ROW[j]: the pattern so far matches the first J octets of NAME. */
int imap_match(const char *pattern, const char *name, char delim)
{
	size_t n = strlen(name), fold = inbox_prefix(name, delim);
	unsigned char *row = xcalloc(n + 1, 1);
	int matched;

	row[0] = 1;
	for (const char *pc = pattern; *pc != '\0'; pc++) {
		if (*pc == '*' || *pc == '%') {
			for (size_t j = 1; j <= n; j++)
				if (!row[j] && row[j - 1] && (*pc == '*' || name[j - 1] != delim))
					row[j] = 1;
			continue;
		}
		for (size_t j = n; j > 0; j--)
			row[j] = row[j - 1] && same_octet(*pc, name[j - 1], j - 1 < fold);
		row[0] = 0;
	}
	matched = row[n];
	free(row);
	return matched;
}

/* Makes room for N more octets and a NUL. */
static void out_reserve(struct imap_out *o, size_t n)
{
	if (o->size - o->len > n)
		return;
	while (o->size - o->len <= n)
		o->size = o->size == 0 ? 256 : o->size * 2;
	o->buf = xrealloc(o->buf, o->size);
}

void imap_out_append(struct imap_out *o, const void *data, size_t len)
{
	out_reserve(o, len);
	if (len > 0)
		memcpy(o->buf + o->len, data, len);
	o->len += len;
	o->buf[o->len] = '\0';
}

void imap_out_printf(struct imap_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	out_reserve(o, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(o->buf + o->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	o->len += (size_t)n;
}

/* 1 when S can be sent as an atom: ASTRING-CHARs only, not "[" (a reader
 * such as ours takes it for the start of a FETCH section), and not "NIL",
 * which a reader of an nstring would take for no string. */
static int is_safe_atom(const char *s, size_t len)
{
	if (len == 0 || (len == 3 && strncasecmp(s, "NIL", 3) == 0))
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\[", c) != NULL)
			return 0;
	}
	return 1;
}

/* 1 when S can be sent quoted: 7-bit, no NUL, CR or LF (8-bit goes as a
 * literal: the client may not have enabled UTF8=ACCEPT). */
static int is_quotable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0' || c == '\r' || c == '\n' || c >= 0x80)
			return 0;
	}
	return 1;
}

/* S as a quoted string when it can be, else as a literal. */
static void out_string(struct imap_out *o, const char *s, size_t len)
{
	if (!is_quotable(s, len)) {
		imap_out_printf(o, "{%zu}\r\n", len);
		imap_out_append(o, s, len);
		return;
	}
	out_reserve(o, 2 * len + 2);
	o->buf[o->len++] = '"';
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			o->buf[o->len++] = '\\';
		o->buf[o->len++] = s[i];
	}
	o->buf[o->len++] = '"';
	o->buf[o->len] = '\0';
}

void imap_out_astring(struct imap_out *o, const char *s, size_t len)
{
	if (is_safe_atom(s, len))
		imap_out_append(o, s, len);
	else
		out_string(o, s, len);
}

void imap_out_nstring(struct imap_out *o, const char *s, size_t len)
{
	if (s == NULL)
		imap_out_append(o, "NIL", 3);
	else
		out_string(o, s, len);
}
