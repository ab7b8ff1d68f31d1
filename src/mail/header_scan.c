/*
 * header_scan.c: see header_scan.h. One state per position in a header
 * line; every octet moves the machine once, so any split of the input
 * gives the same result.
 */
#include "mail/header_scan.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

enum {
	SCAN_LINE_START, /* first octet of a line */
	SCAN_NAME,       /* in a field name */
	SCAN_NAME_WSP,   /* white space between a name and its ":" (RFC 5322 4.5) */
	SCAN_BODY,       /* in a field body */
	SCAN_BODY_CR,    /* CR in a field body: LF must follow */
	SCAN_EMPTY_CR,   /* CR at the start of a line: the header may end */
};

void header_scan_init(struct header_scan *hs, const char *const *names, unsigned n_names,
                      unsigned flags)
{
	memset(hs, 0, sizeof(*hs));
	hs->names = names;
	hs->n_names = n_names;
	hs->flags = flags;
	hs->state = SCAN_LINE_START;
	hs->error_which = -1;
}

static void scan_fail(struct header_scan *hs, const char *why)
{
	hs->error = why;
	hs->error_which = hs->keep ? (int)hs->keep - 1 : -1;
	hs->done = 1;
}

/* The current field's body is complete: kept, when it was asked for. */
static void scan_end_field(struct header_scan *hs)
{
	struct header_field *f;

	if (hs->keep) {
		hs->fields = xrealloc(hs->fields, (hs->n_fields + 1) * sizeof(hs->fields[0]));
		f = &hs->fields[hs->n_fields++];
		f->which = (unsigned)hs->keep - 1;
		f->body = hs->body != NULL ? hs->body : xstrdup("");
		f->len = hs->body_len;
		hs->body = NULL;
		hs->body_len = hs->body_cap = 0;
	}
	hs->keep = 0;
}

/* The name is complete (its ":" was seen): is it one asked for? */
static void scan_name_done(struct header_scan *hs)
{
	unsigned i;

	if (hs->name_len > HEADER_SCAN_NAME_MAX)
		return;
	hs->name[hs->name_len] = '\0';
	for (i = 0; i < hs->n_names; i++)
		if (strcasecmp(hs->name, hs->names[i]) == 0)
			break;
	if (i == hs->n_names)
		return;
	hs->keep = (int)i + 1;
	if (hs->n_fields >= HEADER_SCAN_FIELDS_MAX)
		scan_fail(hs, "too many address fields");
}

static void scan_body_octet(struct header_scan *hs, char c)
{
	if (!hs->keep)
		return;
	if (hs->body_len + 1 >= HEADER_SCAN_FIELD_MAX) {
		scan_fail(hs, "field too long");
		return;
	}
	if (hs->body_len + 2 > hs->body_cap) {
		hs->body_cap = hs->body_cap ? hs->body_cap * 2 : 256;
		hs->body = xrealloc(hs->body, hs->body_cap);
	}
	hs->body[hs->body_len++] = c;
	hs->body[hs->body_len] = '\0';
}

/* A line end: strict mode saw CRLF, lax mode LF or CRLF. */
static void scan_line_end(struct header_scan *hs)
{
	hs->state = SCAN_LINE_START;
}

/* The first octet of a line. */
static void scan_line_start(struct header_scan *hs, unsigned char c)
{
	if (c == '\r') {
		hs->state = SCAN_EMPTY_CR;
	} else if (c == '\n') {
		if (hs->flags & HEADER_SCAN_LAX_EOL) {
			scan_end_field(hs);
			hs->done = 1;
		} else {
			scan_fail(hs, "bare LF in the header");
		}
	} else if (c == ' ' || c == '\t') {
		if (!hs->have_field) {
			scan_fail(hs, "the header starts with a continuation line");
			return;
		}
		hs->state = SCAN_BODY; /* folded: the line end is dropped, the WSP kept */
		scan_body_octet(hs, (char)c);
	} else {
		scan_end_field(hs);
		hs->have_field = 1;
		hs->name_len = 0;
		hs->state = SCAN_NAME;
		hs->name[hs->name_len++] = (char)c;
		if (c < 33 || c > 126 || c == ':')
			scan_fail(hs, "malformed header line");
	}
}

/* A field name: printable US-ASCII but ":" (RFC 5322 2.2), then ":". */
static void scan_name(struct header_scan *hs, unsigned char c)
{
	if (c == ':') {
		scan_name_done(hs);
		if (!hs->done)
			hs->state = SCAN_BODY;
	} else if (c == ' ' || c == '\t') {
		hs->state = SCAN_NAME_WSP;
	} else if (c < 33 || c > 126 || hs->state == SCAN_NAME_WSP) {
		scan_fail(hs, "malformed header line");
	} else if (hs->name_len <= HEADER_SCAN_NAME_MAX) {
		hs->name[hs->name_len++] = (char)c; /* one more than the most: matches nothing */
	}
}

static void scan_octet(struct header_scan *hs, unsigned char c)
{
	switch (hs->state) {
	case SCAN_LINE_START:
		scan_line_start(hs, c);
		break;
	case SCAN_NAME:
	case SCAN_NAME_WSP:
		scan_name(hs, c);
		break;
	case SCAN_BODY:
		if (c == '\r')
			hs->state = SCAN_BODY_CR;
		else if (c == '\n' && (hs->flags & HEADER_SCAN_LAX_EOL))
			scan_line_end(hs);
		else if (c == '\n')
			scan_fail(hs, "bare LF in the header");
		else if (c == '\0')
			scan_fail(hs, "NUL in the header");
		else
			scan_body_octet(hs, (char)c);
		break;
	case SCAN_BODY_CR:
		if (c == '\n')
			scan_line_end(hs);
		else
			scan_fail(hs, "bare CR in the header");
		break;
	case SCAN_EMPTY_CR:
		if (c == '\n') {
			scan_end_field(hs);
			hs->done = 1;
		} else {
			scan_fail(hs, "bare CR in the header");
		}
		break;
	}
}

size_t header_scan_feed(struct header_scan *hs, const char *data, size_t len)
{
	size_t i;

	for (i = 0; i < len && !hs->done; i++) {
		scan_octet(hs, (unsigned char)data[i]);
		hs->length++;
	}
	return i;
}

void header_scan_finish(struct header_scan *hs)
{
	if (hs->done)
		return;
	if (hs->state == SCAN_LINE_START)
		scan_end_field(hs);
	else
		scan_fail(hs, "the message ends inside a header line");
	hs->done = 1;
}

unsigned header_scan_count(const struct header_scan *hs, unsigned which)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < hs->n_fields; i++)
		n += hs->fields[i].which == which;
	return n;
}

int header_scan_single_word(const struct header_scan *hs, unsigned which, const char *word)
{
	const struct header_field *f = NULL;
	size_t i, start = 0, end, n = strlen(word);

	if (header_scan_count(hs, which) != 1)
		return 0;
	for (i = 0; i < hs->n_fields; i++)
		if (hs->fields[i].which == which)
			f = &hs->fields[i];
	end = f->len;
	while (start < end && (f->body[start] == ' ' || f->body[start] == '\t'))
		start++;
	while (end > start && (f->body[end - 1] == ' ' || f->body[end - 1] == '\t'))
		end--;
	return end - start == n && strncasecmp(f->body + start, word, n) == 0;
}

void header_scan_free(struct header_scan *hs)
{
	size_t i;

	for (i = 0; i < hs->n_fields; i++)
		free(hs->fields[i].body);
	free(hs->fields);
	free(hs->body);
	hs->fields = NULL;
	hs->body = NULL;
	hs->n_fields = hs->body_len = hs->body_cap = 0;
}
