/*
 * mime_imap.c: the IMAP texts of a parsed message (RFC 9051 7.5.2): BODY
 * and BODYSTRUCTURE from the part tree, ENVELOPE through
 * mime_envelope.c, and the string writer they share. As Dovecot 2.3 does
 * (the server clients compare us with; the RFC lets either be), types,
 * subtypes, parameter names, encodings and disposition types are sent as
 * the message writes them, and the defaults in lower case ("text" "plain"
 * ("charset" "us-ascii") ... "7bit"); a text part without a charset
 * parameter gets "charset" "us-ascii" after its own (RFC 2046 4.1.2);
 * body-fld-lang is always a list. Sizes are octets of the buffer given to
 * mime_parse(), lines its line ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"
#include "mail/mime_private.h"

/* Whether S (LEN octets) cannot be written as a quoted string. */
static int needs_literal(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' || c == '\n' || c >= 0x80 || c == '"' || c == '\\')
			return 1;
	}
	return 0;
}

void mime_imap_string(struct mime_buf *b, const char *s, size_t len)
{
	size_t i, n = 0;
	char head[32];

	if (!needs_literal(s, len)) {
		mime_buf_addc(b, '"');
		for (i = 0; i < len; i++)
			if (s[i] != '\0')
				mime_buf_addc(b, s[i]);
		mime_buf_addc(b, '"');
		return;
	}
	for (i = 0; i < len; i++)
		n += s[i] != '\0';
	snprintf(head, sizeof(head), "{%zu}\r\n", n);
	mime_buf_adds(b, head);
	for (i = 0; i < len; i++)
		if (s[i] != '\0')
			mime_buf_addc(b, s[i]);
}

void mime_imap_nstring(struct mime_buf *b, const char *s)
{
	if (s == NULL)
		mime_buf_adds(b, "NIL");
	else
		mime_imap_string(b, s, strlen(s));
}

/* body-fld-param: the N name/value pairs of PARAMS, NIL for none; TEXT:
 * a text part, which gets the RFC 2046 4.1.2 default charset when it has
 * no charset parameter. */
static void write_params(struct mime_buf *b, char **params, unsigned n, int text)
{
	unsigned i;
	int charset = 0;

	if (n == 0 && !text) {
		mime_buf_adds(b, "NIL");
		return;
	}
	mime_buf_addc(b, '(');
	for (i = 0; i < n; i++) {
		if (i > 0)
			mime_buf_addc(b, ' ');
		charset |= strcasecmp(params[2 * i], "charset") == 0;
		mime_imap_nstring(b, params[2 * i]);
		mime_buf_addc(b, ' ');
		mime_imap_nstring(b, params[2 * i + 1]);
	}
	if (text && !charset)
		mime_buf_adds(b, n > 0 ? " \"charset\" \"us-ascii\"" : "\"charset\" \"us-ascii\"");
	mime_buf_addc(b, ')');
}

/* body-fld-lang: NIL or a list of the tags (a list even for one, as
 * Dovecot sends it). */
static void write_language(struct mime_buf *b, const char *lang)
{
	char *copy, *tag, *save = NULL;
	struct mime_buf list = {0};
	unsigned n = 0;

	if (lang == NULL) {
		mime_buf_adds(b, "NIL");
		return;
	}
	copy = xstrdup(lang);
	for (tag = strtok_r(copy, ", \t", &save); tag != NULL;
	     tag = strtok_r(NULL, ", \t", &save)) {
		if (n++ > 0)
			mime_buf_addc(&list, ' ');
		mime_imap_nstring(&list, tag);
	}
	if (n == 0) {
		mime_buf_adds(b, "NIL");
	} else {
		mime_buf_addc(b, '(');
		mime_buf_add(b, list.s, list.len);
		mime_buf_addc(b, ')');
	}
	free(list.s);
	free(copy);
}

/* The extension data common to both kinds: disposition, language,
 * location (RFC 9051 body-ext-1part / body-ext-mpart after their first). */
static void write_ext_tail(struct mime_buf *b, const struct mime_part *p)
{
	mime_buf_addc(b, ' ');
	if (p->disposition == NULL) {
		mime_buf_adds(b, "NIL");
	} else {
		mime_buf_addc(b, '(');
		mime_imap_nstring(b, p->disposition);
		mime_buf_addc(b, ' ');
		write_params(b, p->disp_params, p->n_disp_params, 0);
		mime_buf_addc(b, ')');
	}
	mime_buf_addc(b, ' ');
	write_language(b, p->language);
	mime_buf_addc(b, ' ');
	mime_imap_nstring(b, p->location);
}

static void write_part(struct mime_buf *b, const struct mime_message *m, const struct mime_part *p,
                       int ext, unsigned depth);

/* body-type-mpart. */
static void write_multipart(struct mime_buf *b, const struct mime_message *m,
                            const struct mime_part *p, int ext, unsigned depth)
{
	unsigned i;

	mime_buf_addc(b, '(');
	for (i = 0; i < p->n_children; i++)
		write_part(b, m, &p->children[i], ext, depth + 1);
	mime_buf_addc(b, ' ');
	mime_imap_nstring(b, p->subtype);
	if (ext) {
		mime_buf_addc(b, ' ');
		write_params(b, p->params, p->n_params, 0);
		write_ext_tail(b, p);
	}
	mime_buf_addc(b, ')');
}

/* body-type-1part: basic, text or message. */
static void write_single(struct mime_buf *b, const struct mime_message *m,
                         const struct mime_part *p, int ext, unsigned depth)
{
	int text = mime_is(p, "text", NULL);
	char num[64];

	mime_buf_addc(b, '(');
	mime_imap_nstring(b, p->type);
	mime_buf_addc(b, ' ');
	mime_imap_nstring(b, p->subtype);
	mime_buf_addc(b, ' ');
	write_params(b, p->params, p->n_params, text);
	mime_buf_addc(b, ' ');
	mime_imap_nstring(b, p->id);
	mime_buf_addc(b, ' ');
	mime_imap_nstring(b, p->description);
	mime_buf_addc(b, ' ');
	mime_imap_nstring(b, p->encoding != NULL ? p->encoding : "7bit");
	snprintf(num, sizeof(num), " %zu", p->body_end - p->body_start);
	mime_buf_adds(b, num);
	if (mime_is_message(p)) {
		const struct mime_part *c = &p->children[0];
		mime_buf_addc(b, ' ');
		mime_envelope_write(b, m->data, c->header_start, c->header_end);
		mime_buf_addc(b, ' ');
		write_part(b, m, c, ext, depth + 1);
	}
	if (text || mime_is_message(p)) {
		snprintf(num, sizeof(num), " %u", p->lines);
		mime_buf_adds(b, num);
	}
	if (ext) {
		mime_buf_addc(b, ' ');
		mime_imap_nstring(b, p->md5);
		write_ext_tail(b, p);
	}
	mime_buf_addc(b, ')');
}

/* One body (RFC 9051 "body"); DEPTH is bounded by the parser's tree. */
static void write_part(struct mime_buf *b, const struct mime_message *m, const struct mime_part *p,
                       int ext, unsigned depth)
{
	if (p->n_children > 0 && mime_is(p, "multipart", NULL))
		write_multipart(b, m, p, ext, depth);
	else
		write_single(b, m, p, ext, depth);
}

char *mime_part_bodystructure(const struct mime_message *m, const struct mime_part *p,
                              int extensible)
{
	struct mime_buf b = {0};

	write_part(&b, m, p, extensible, 0);
	return mime_buf_take(&b);
}

char *mime_bodystructure(const struct mime_message *m, int extensible)
{
	return mime_part_bodystructure(m, &m->root, extensible);
}

char *mime_part_envelope(const struct mime_message *m, const struct mime_part *p)
{
	struct mime_buf b = {0};

	if (mime_is_message(p))
		p = &p->children[0];
	mime_envelope_write(&b, m->data, p->header_start, p->header_end);
	return mime_buf_take(&b);
}

char *mime_envelope(const struct mime_message *m)
{
	struct mime_buf b = {0};

	mime_envelope_write(&b, m->data, m->root.header_start, m->root.header_end);
	return mime_buf_take(&b);
}
