/*
 * mime_search.c: what IMAP SEARCH HEADER, SUBJECT, FROM, BODY and TEXT
 * compare against (RFC 9051 6.4.4). Header values are unfolded and their
 * RFC 2047 encoded words decoded (UTF-8, US-ASCII and ISO-8859-1 words;
 * others stay as written, so they still match their own text); bodies of
 * text parts are decoded from base64 or quoted-printable (mime_decode.c),
 * ISO-8859-1 ones converted to UTF-8. Called by the store role's search.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "mail/mime_private.h"

/* Appends OCTETS in CHARSET (LEN octets; NULL: US-ASCII) to B as UTF-8
 * where it knows how, as they are where not. */
static void add_charset(struct mime_buf *b, const char *charset, size_t charset_len, const char *s,
                        size_t len)
{
	if (charset != NULL && mime_charset_kind(charset, charset_len) == 2)
		mime_latin1_to_utf8(b, s, len);
	else
		mime_buf_add(b, s, len);
}

/* Parses an encoded word "=?charset?e?text?=" at IN[I] (RFC 2047 2);
 * returns its length, or 0 when there is none or its charset is not one
 * that is decoded. */
static size_t encoded_word(const char *in, size_t len, size_t i, struct mime_buf *out)
{
	size_t cs = i + 2, ce, te, lang;
	char enc;
	struct mime_buf raw = {0};

	if (len - i < 8 || in[i] != '=' || in[i + 1] != '?')
		return 0;
	for (ce = cs; ce < len && in[ce] != '?' && in[ce] != ' ' && in[ce] != '\t'; ce++)
		;
	if (ce + 3 >= len || in[ce] != '?' || in[ce + 2] != '?')
		return 0;
	enc = in[ce + 1];
	for (te = ce + 3; te + 1 < len && !(in[te] == '?' && in[te + 1] == '='); te++)
		if (in[te] == ' ' || in[te] == '\t')
			return 0;
	if (te + 1 >= len)
		return 0;
	for (lang = cs; lang < ce && in[lang] != '*'; lang++)
		;
	if (mime_charset_kind(in + cs, lang - cs) == 0 || strchr("BbQq", enc) == NULL || enc == 0)
		return 0;
	if (enc == 'B' || enc == 'b')
		mime_decode_base64(&raw, in + ce + 3, te - ce - 3);
	else
		mime_decode_qp(&raw, in + ce + 3, te - ce - 3, 1);
	add_charset(out, in + cs, lang - cs, raw.s != NULL ? raw.s : "", raw.len);
	free(raw.s);
	return te + 2 - i;
}

static int only_blanks(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	return 1;
}

char *mime_decode_words(const char *in, size_t len, size_t *len_r)
{
	struct mime_buf b = {0};
	size_t i = 0, n, mark = 0;
	int after_word = 0;

	mime_buf_add(&b, "", 0);
	while (i < len) {
		size_t before = b.len;
		n = in[i] == '=' ? encoded_word(in, len, i, &b) : 0;
		if (n > 0) {
			/* RFC 2047 6.2: blanks between two encoded words go. */
			if (after_word && only_blanks(b.s + mark, before - mark)) {
				memmove(b.s + mark, b.s + before, b.len - before);
				b.len -= before - mark;
				b.s[b.len] = '\0';
			}
			i += n;
			after_word = 1;
			mark = b.len;
			continue;
		}
		mime_buf_addc(&b, in[i++]);
	}
	*len_r = b.len;
	return mime_buf_take(&b);
}

/* Whether field F's decoded value (with NAME: "name: value") holds NEEDLE. */
static int field_contains(const char *data, const struct mime_field *f, int with_name,
                          const char *needle)
{
	size_t vlen, dlen;
	char *v = mime_field_unfold(data, f, &vlen);
	char *d = mime_decode_words(v, vlen, &dlen);
	int found = utf8_contains_ci(d, dlen, needle);

	if (!found && with_name) {
		struct mime_buf b = {0};
		mime_buf_add(&b, data + f->name, f->name_len);
		mime_buf_adds(&b, ": ");
		mime_buf_add(&b, d, dlen);
		found = utf8_contains_ci(b.s, b.len, needle);
		free(b.s);
	}
	free(v);
	free(d);
	return found;
}

/* The same over the header [start, end). */
static int header_contains(const char *data, size_t start, size_t end, const char *field,
                           const char *needle)
{
	struct mime_field f;
	size_t pos = start;

	while (mime_field_next(data, end, &pos, &f)) {
		if (field != NULL && !mime_field_is(data, &f, field))
			continue;
		if (needle[0] == '\0' || field_contains(data, &f, field == NULL, needle))
			return 1;
	}
	return 0;
}

int mime_header_contains(const struct mime_message *m, const char *field, const char *needle)
{
	return header_contains(m->data, m->root.header_start, m->root.header_end, field, needle);
}

/* Whether text part P's decoded body holds NEEDLE (an unknown encoding:
 * the body as it is). */
static int text_contains(const struct mime_message *m, const struct mime_part *p,
                         const char *needle)
{
	const char *body = m->data + p->body_start;
	size_t len = p->body_end - p->body_start, raw_len;
	const char *charset = mime_param(p, "charset");
	char *raw = mime_decode_body(body, len, p->encoding, &raw_len);
	struct mime_buf text = {0};
	int found;

	add_charset(&text, charset, charset != NULL ? strlen(charset) : 0, raw != NULL ? raw : body,
	            raw != NULL ? raw_len : len);
	found = utf8_contains_ci(text.s, text.len, needle);
	free(raw);
	free(text.s);
	return found;
}

/* Searches the text parts under P (and the headers of the messages that
 * message/rfc822 parts hold). */
static int part_contains(const struct mime_message *m, const struct mime_part *p,
                         const char *needle)
{
	unsigned i;

	if (mime_is_message(p)) {
		const struct mime_part *c = &p->children[0];
		return header_contains(m->data, c->header_start, c->header_end, NULL, needle) ||
		       part_contains(m, c, needle);
	}
	if (p->n_children > 0) {
		for (i = 0; i < p->n_children; i++)
			if (part_contains(m, &p->children[i], needle))
				return 1;
		return 0;
	}
	return mime_is(p, "text", NULL) && text_contains(m, p, needle);
}

int mime_body_contains(const struct mime_message *m, const char *needle)
{
	if (needle[0] == '\0')
		return 1;
	return part_contains(m, &m->root, needle);
}
