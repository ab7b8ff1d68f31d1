/*
 * mail_header.c: see mail_header.h.
 */
#include "smtp/mail_header.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

size_t mail_header_length(const char *msg, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(msg + i, '\n', len - i);
		size_t line_len;

		if (nl == NULL)
			return len;
		line_len = (size_t)(nl - (msg + i));
		if (line_len == 0 || (line_len == 1 && msg[i] == '\r'))
			return (size_t)(nl - msg) + 1;
		i = (size_t)(nl - msg) + 1;
	}
	return len;
}

/* Appends the trimmed text of one mailbox to ADDRS: the part in <> if any,
 * else the whole with comments removed. */
static void mail_header_add(const char *p, size_t n, int angle_start, size_t angle_len,
                            char (*addrs)[MAIL_HEADER_ADDR_MAX], unsigned max, unsigned *count)
{
	char buf[MAIL_HEADER_ADDR_MAX];
	size_t o = 0, i;

	if (angle_start >= 0) {
		p += angle_start;
		n = angle_len;
	}
	for (i = 0; i < n && o + 1 < sizeof(buf); i++) {
		if (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')
			continue;
		buf[o++] = p[i];
	}
	buf[o] = '\0';
	if (o == 0 || strchr(buf, '@') == NULL)
		return;
	if (*count < max)
		strlcpy_checked(addrs[*count], buf, MAIL_HEADER_ADDR_MAX);
	(*count)++;
}

/* Splits one unfolded field body into mailboxes. */
static void mail_header_parse_list(const char *v, size_t n, char (*addrs)[MAIL_HEADER_ADDR_MAX],
                                   unsigned max, unsigned *count)
{
	char clean[4096];
	size_t i, o = 0, start = 0;
	int depth = 0, quoted = 0, angle = -1;
	size_t angle_len = 0;

	/* drop comments and quoted strings, which may hold commas and '@' */
	for (i = 0; i < n && o + 1 < sizeof(clean); i++) {
		char c = v[i];
		if (quoted) {
			if (c == '\\' && i + 1 < n)
				i++;
			else if (c == '"')
				quoted = 0;
			continue;
		}
		if (depth > 0) {
			if (c == '\\' && i + 1 < n)
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		if (c == '"')
			quoted = 1;
		else if (c == '(')
			depth = 1;
		else
			clean[o++] = c;
	}
	for (i = 0; i <= o; i++) {
		char c = i < o ? clean[i] : ',';
		if (c == '<' && angle < 0)
			angle = (int)(i - start + 1);
		else if (c == '>' && angle >= 0)
			angle_len = i - start - (size_t)angle;
		else if (c == ':' && angle < 0)
			start = i + 1; /* a group's display name */
		else if (c == ',' || c == ';') {
			mail_header_add(clean + start, i - start, angle, angle_len, addrs, max,
			                count);
			start = i + 1;
			angle = -1;
			angle_len = 0;
		}
	}
}

unsigned mail_header_addresses(const char *hdr, size_t len, const char *name,
                               char (*addrs)[MAIL_HEADER_ADDR_MAX], unsigned max)
{
	size_t nlen = strlen(name), i = 0;
	unsigned count = 0;

	len = mail_header_length(hdr, len);
	while (i < len) {
		size_t end = i, o = 0;
		char field[4096];

		/* the field and its continuation lines */
		while (end < len) {
			const char *nl = memchr(hdr + end, '\n', len - end);
			end = nl ? (size_t)(nl - hdr) + 1 : len;
			if (end >= len || (hdr[end] != ' ' && hdr[end] != '\t'))
				break;
		}
		if (end - i > nlen && strncasecmp(hdr + i, name, nlen) == 0 &&
		    hdr[i + nlen] == ':') {
			size_t k;
			for (k = i + nlen + 1; k < end && o + 1 < sizeof(field); k++)
				if (hdr[k] != '\r' && hdr[k] != '\n')
					field[o++] = hdr[k];
			mail_header_parse_list(field, o, addrs, max, &count);
		}
		i = end;
	}
	return count;
}
