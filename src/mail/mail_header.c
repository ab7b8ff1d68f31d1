/*
 * mail_header.c: see mail_header.h.
 */
#include "mail/mail_header.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mail/header_scan.h"

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

int mail_header_line_is(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name), i;

	if (len <= n || strncasecmp(line, name, n) != 0)
		return 0;
	for (i = n; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	return i < len && line[i] == ':';
}

int mail_header_addresses(const char *msg, size_t len, const char *const *names, unsigned n_names,
                          unsigned flags, struct mailbox_list *out, char *error, size_t error_size)
{
	struct header_scan hs;
	const char *why = NULL;
	size_t i;
	int r = 0;

	header_scan_init(&hs, names, n_names, HEADER_SCAN_LAX_EOL);
	header_scan_feed(&hs, msg, len);
	header_scan_finish(&hs);
	if (hs.error != NULL) {
		snprintf(error, error_size, "%s%s%s", hs.error_which >= 0 ? names[hs.error_which] : "",
		         hs.error_which >= 0 ? ": " : "", hs.error);
		r = -1;
	}
	for (i = 0; r == 0 && i < hs.n_fields; i++) {
		const struct header_field *f = &hs.fields[i];
		if (mailbox_list_parse(f->body, f->len, MAILBOX_LIST_GROUPS | flags, out, &why) <
		    0) {
			snprintf(error, error_size, "%s: %s", names[f->which], why);
			r = -1;
		}
	}
	header_scan_free(&hs);
	return r;
}
