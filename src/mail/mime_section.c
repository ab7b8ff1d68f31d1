/*
 * mime_section.c: FETCH BODY[section] octets (RFC 9051 6.4.5), as Dovecot
 * 2.3 answers them where it follows the RFC. Part numbers walk the tree:
 * in a multipart, N is its Nth part; a part that is not multipart has one
 * part, itself, as number 1 (so a message that is not multipart has its
 * body as part 1); a message/rfc822 part's further numbers are those of
 * the message it holds, whose header and text N.HEADER and N.TEXT name.
 * N.MIME is the part's own header. HEADER.FIELDS keeps the matching field
 * lines as they are (folding included) and ends with the blank line. A
 * part missing is "". Called by the store role's fetch.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"
#include "mail/mime_private.h"

static int is_multipart(const struct mime_part *p)
{
	return p->n_children > 0 && mime_is(p, "multipart", NULL);
}

/* One step of a section's numbers from CUR: K (from 1); LAST: no number
 * follows. In a multipart, K is its Kth part. Any other part has only a
 * part 1, itself (the root's body for "1"; "2.1" is a leaf part 2 again, as
 * Dovecot 2.3 allows), and numbers may follow it only when it holds a
 * message, whose tree they walk. NULL when there is no such part. */
static const struct mime_part *select_child(const struct mime_part *cur, unsigned k, int last)
{
	if (is_multipart(cur))
		cur = k >= 1 && k <= cur->n_children ? &cur->children[k - 1] : NULL;
	else if (k != 1 || (!last && !mime_is_message(cur)))
		cur = NULL;
	if (cur != NULL && !last && mime_is_message(cur))
		cur = &cur->children[0];
	return cur;
}

const struct mime_part *mime_section_part(const struct mime_message *m, const unsigned *part,
                                          unsigned n_part)
{
	const struct mime_part *cur = &m->root;
	unsigned i;

	if (n_part > MIME_SECTION_PARTS_MAX)
		return NULL;
	for (i = 0; i < n_part && cur != NULL; i++)
		cur = select_child(cur, part[i], i + 1 == n_part);
	return cur;
}

/* Whether header field F is one of S's fields. */
static int field_listed(const char *data, const struct mime_field *f, const struct mime_section *s)
{
	unsigned i;

	for (i = 0; i < s->n_fields; i++)
		if (mime_field_is(data, f, s->fields[i]))
			return 1;
	return 0;
}

/* HEADER.FIELDS (NOT): the matching (or the other) fields of the header
 * [start, end), then the blank line when the header has one (RFC 9051
 * 6.4.5: "always included in header data, except in the case of a message
 * which has no body and no blank line"; Dovecot 2.3 adds one there for
 * HEADER.FIELDS, not for HEADER.FIELDS.NOT). */
static char *filter_fields(const char *data, size_t start, size_t end, const struct mime_section *s,
                           size_t *len_r)
{
	struct mime_buf b = {0};
	struct mime_field f;
	size_t pos = start;
	int want = s->what == MIME_SECTION_HEADER_FIELDS;

	while (mime_field_next(data, end, &pos, &f)) {
		if (f.name_len == 0 || field_listed(data, &f, s) != want)
			continue;
		mime_buf_add(&b, data + f.start, f.end - f.start);
		if (data[f.end - 1] != '\n')
			mime_buf_adds(&b, "\r\n");
	}
	if (pos < end)
		mime_buf_adds(&b, "\r\n");
	*len_r = b.len;
	return mime_buf_take(&b);
}

static char *copy_range(const struct mime_message *m, size_t start, size_t end, size_t *len_r)
{
	*len_r = end - start;
	return mime_strndup(m->data + start, end - start);
}

char *mime_section_get(const struct mime_message *m, const struct mime_section *s, size_t *len_r)
{
	const struct mime_part *p = mime_section_part(m, s->part, s->n_part);
	const struct mime_part *msg = NULL;

	*len_r = 0;
	if (p == NULL)
		return xstrdup("");
	if (s->what == MIME_SECTION_ALL)
		return s->n_part == 0 ? copy_range(m, 0, m->len, len_r)
		                      : copy_range(m, p->body_start, p->body_end, len_r);
	if (s->what == MIME_SECTION_MIME)
		return s->n_part == 0 ? xstrdup("")
		                      : copy_range(m, p->header_start, p->header_end, len_r);
	if (s->n_part == 0)
		msg = &m->root;
	else if (mime_is_message(p))
		msg = &p->children[0];
	if (msg == NULL)
		return xstrdup("");
	switch (s->what) {
	case MIME_SECTION_HEADER:
		return copy_range(m, msg->header_start, msg->header_end, len_r);
	case MIME_SECTION_TEXT:
		return copy_range(m, msg->body_start, msg->body_end, len_r);
	default:
		return filter_fields(m->data, msg->header_start, msg->header_end, s, len_r);
	}
}
