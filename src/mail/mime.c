/*
 * mime.c: see mime.h. The structure of a message: header fields walked
 * line by line (CRLF or LF), multipart bodies cut at their boundary lines
 * (RFC 2046 5.1.1), message/rfc822 bodies parsed as messages. A parent
 * finds its own boundaries first and gives each child its range, so a
 * child that never closes ends where its parent's next boundary is. The
 * number of parts and the depth are bounded; what lies beyond a bound, or
 * cannot be parsed, is one opaque text/plain part.
 */
#include "mail/mime.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"
#include "mail/mime_private.h"

struct parse_ctx {
	const char *data;
	size_t len;
	unsigned n_parts; /* parts made so far, the root included */
};

void mime_buf_add(struct mime_buf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->size) {
		size_t size = b->size ? b->size : 64;
		while (size < b->len + n + 1)
			size *= 2;
		b->s = xrealloc(b->s, size);
		b->size = size;
	}
	if (n > 0)
		memcpy(b->s + b->len, data, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void mime_buf_addc(struct mime_buf *b, char c)
{
	mime_buf_add(b, &c, 1);
}

void mime_buf_adds(struct mime_buf *b, const char *s)
{
	mime_buf_add(b, s, strlen(s));
}

char *mime_strndup(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);

	memcpy(out, s, n);
	out[n] = '\0';
	return out;
}

char *mime_buf_take(struct mime_buf *b)
{
	char *s = b->s != NULL ? b->s : xstrdup("");

	b->s = NULL;
	b->len = b->size = 0;
	return s;
}

char *mail_to_crlf(const char *data, size_t len, size_t *len_r)
{
	size_t i, extra = 0, o = 0;
	char *out;

	for (i = 0; i < len; i++)
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			extra++;
	out = xmalloc(len + extra + 1);
	for (i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = data[i];
	}
	out[o] = '\0';
	*len_r = o;
	return out;
}

/* The end of the line starting at I (after its LF, or END). */
static size_t line_end(const char *data, size_t i, size_t end)
{
	const char *lf = i < end ? memchr(data + i, '\n', end - i) : NULL;

	return lf != NULL ? (size_t)(lf - data) + 1 : end;
}

/* Whether the line at I is empty (CRLF, LF, or a lone CR at END). */
static int is_blank_line(const char *data, size_t i, size_t end)
{
	return i < end &&
	       (data[i] == '\n' || (data[i] == '\r' && (i + 1 == end || data[i + 1] == '\n')));
}

size_t mime_header_end(const char *data, size_t start, size_t end, size_t *body_r)
{
	size_t i = start;

	while (i < end) {
		if (is_blank_line(data, i, end)) {
			i = line_end(data, i, end);
			*body_r = i;
			return i;
		}
		i = line_end(data, i, end);
	}
	*body_r = end;
	return end;
}

int mime_field_next(const char *data, size_t end, size_t *pos, struct mime_field *f)
{
	size_t i = *pos, e, colon;

	if (i >= end || is_blank_line(data, i, end))
		return 0;
	f->start = i;
	e = line_end(data, i, end);
	while (e < end && (data[e] == ' ' || data[e] == '\t'))
		e = line_end(data, e, end);
	f->end = e;
	f->value_end = e;
	if (f->value_end > i && data[f->value_end - 1] == '\n')
		f->value_end--;
	if (f->value_end > i && data[f->value_end - 1] == '\r')
		f->value_end--;
	for (colon = i; colon < f->value_end && data[colon] != ':' && data[colon] != '\n'; colon++)
		;
	f->name = i;
	if (colon < f->value_end && data[colon] == ':') {
		f->name_len = colon - i;
		while (f->name_len > 0 &&
		       (data[i + f->name_len - 1] == ' ' || data[i + f->name_len - 1] == '\t'))
			f->name_len--;
		f->value = colon + 1;
	} else {
		f->name_len = 0;
		f->value = i;
	}
	*pos = e;
	return 1;
}

int mime_field_is(const char *data, const struct mime_field *f, const char *name)
{
	size_t n = strlen(name);

	return f->name_len == n && strncasecmp(data + f->name, name, n) == 0;
}

char *mime_field_unfold(const char *data, const struct mime_field *f, size_t *len_r)
{
	size_t i = f->value, e = f->value_end, o = 0;
	char *out;

	while (i < e && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
		i++;
	out = xmalloc((e - i < MIME_FIELD_MAX ? e - i : MIME_FIELD_MAX) + 1);
	for (; i < e && o < MIME_FIELD_MAX; i++)
		if (data[i] != '\r' && data[i] != '\n' && data[i] != '\0')
			out[o++] = data[i];
	while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
		o--;
	out[o] = '\0';
	if (len_r != NULL)
		*len_r = o;
	return out;
}

char *mime_header_get(const struct mime_message *m, const char *field)
{
	struct mime_field f;
	size_t pos = m->root.header_start;

	while (mime_field_next(m->data, m->root.header_end, &pos, &f))
		if (mime_field_is(m->data, &f, field))
			return mime_field_unfold(m->data, &f, NULL);
	return NULL;
}

int mime_is(const struct mime_part *p, const char *type, const char *subtype)
{
	return p->type != NULL && strcasecmp(p->type, type) == 0 &&
	       (subtype == NULL || (p->subtype != NULL && strcasecmp(p->subtype, subtype) == 0));
}

int mime_is_message(const struct mime_part *p)
{
	return p->n_children == 1 && mime_is(p, "message", NULL) &&
	       (mime_is(p, "message", "rfc822") || mime_is(p, "message", "global"));
}

/* Frees what P holds (not P). */
static void part_clear(struct mime_part *p)
{
	unsigned i;

	for (i = 0; i < p->n_children; i++)
		part_clear(&p->children[i]);
	free(p->children);
	for (i = 0; i < 2 * p->n_params; i++)
		free(p->params[i]);
	free(p->params);
	for (i = 0; i < 2 * p->n_disp_params; i++)
		free(p->disp_params[i]);
	free(p->disp_params);
	free(p->type);
	free(p->subtype);
	free(p->id);
	free(p->description);
	free(p->encoding);
	free(p->md5);
	free(p->disposition);
	free(p->language);
	free(p->location);
	memset(p, 0, sizeof(*p));
}

/* Makes P text/plain; charset=us-ascii (the default, and what a part that
 * cannot be parsed becomes). */
static void set_text_plain(struct mime_part *p)
{
	unsigned i;

	free(p->type);
	free(p->subtype);
	for (i = 0; i < 2 * p->n_params; i++)
		free(p->params[i]);
	free(p->params);
	p->type = xstrdup("text");
	p->subtype = xstrdup("plain");
	p->params = xmalloc(2 * sizeof(char *));
	p->params[0] = xstrdup("charset");
	p->params[1] = xstrdup("us-ascii");
	p->n_params = 1;
}

/* Replaces *DST by the unfolded value of F (the first occurrence wins). */
static void take_value(char **dst, const char *data, const struct mime_field *f, int strip)
{
	char *v;

	if (*dst != NULL)
		return;
	v = mime_field_unfold(data, f, NULL);
	if (strip) {
		*dst = mime_strip_comments(v);
		free(v);
	} else {
		*dst = v;
	}
}

/* Content-Location: a URI that may be folded (RFC 2557 4.4.2): blanks go. */
static void take_location(struct mime_part *p, const char *data, const struct mime_field *f)
{
	char *v, *o, *i;

	if (p->location != NULL)
		return;
	v = mime_field_unfold(data, f, NULL);
	for (i = o = v; *i != '\0'; i++)
		if (*i != ' ' && *i != '\t')
			*o++ = *i;
	*o = '\0';
	p->location = v;
}

/* Reads one Content-* field F into P. */
static void read_field(struct mime_part *p, const char *data, const struct mime_field *f,
                       int *seen_type)
{
	char *v;

	if (f->name_len < 8 || strncasecmp(data + f->name, "Content-", 8) != 0)
		return;
	if (mime_field_is(data, f, "Content-Type")) {
		if (*seen_type)
			return;
		*seen_type = 1;
		v = mime_field_unfold(data, f, NULL);
		mime_read_content_type(p, v);
		free(v);
	} else if (mime_field_is(data, f, "Content-Disposition")) {
		if (p->disposition != NULL)
			return;
		v = mime_field_unfold(data, f, NULL);
		mime_read_disposition(p, v);
		free(v);
	} else if (mime_field_is(data, f, "Content-Transfer-Encoding")) {
		take_value(&p->encoding, data, f, 1);
	} else if (mime_field_is(data, f, "Content-ID")) {
		take_value(&p->id, data, f, 0);
	} else if (mime_field_is(data, f, "Content-Description")) {
		take_value(&p->description, data, f, 0);
	} else if (mime_field_is(data, f, "Content-MD5")) {
		take_value(&p->md5, data, f, 0);
	} else if (mime_field_is(data, f, "Content-Language")) {
		take_value(&p->language, data, f, 1);
	} else if (mime_field_is(data, f, "Content-Location")) {
		take_location(p, data, f);
	}
}

/* Reads the header of P ([header_start, header_end)); DIGEST: the parent
 * is multipart/digest, so the default type is message/rfc822. */
static void read_header(struct mime_part *p, const char *data, int digest)
{
	struct mime_field f;
	size_t pos = p->header_start;
	int seen_type = 0;

	while (mime_field_next(data, p->header_end, &pos, &f))
		read_field(p, data, &f, &seen_type);
	if (p->type == NULL && digest && !seen_type) {
		p->type = xstrdup("message");
		p->subtype = xstrdup("rfc822");
	} else if (p->type == NULL) {
		set_text_plain(p);
	}
	if (p->encoding != NULL && p->encoding[0] == '\0') {
		free(p->encoding);
		p->encoding = NULL;
	}
}

/* Text lines of [start, end): its line ends. A last line without one
 * (a part's last line, whose CRLF belongs to the boundary after it) is
 * not counted, as Dovecot 2.3 counts: RFC 5322 2.1 lines end in CRLF. */
static unsigned count_lines(const char *data, size_t start, size_t end)
{
	unsigned n = 0;
	const char *p = data + start, *e = data + end, *lf;

	while (p < e && (lf = memchr(p, '\n', (size_t)(e - p))) != NULL) {
		n++;
		p = lf + 1;
	}
	return n;
}

/* Whether the line at I is a delimiter line for boundary B (BLEN octets):
 * "--" B, maybe "--" (*close_r), blanks, the line end. */
static int is_delimiter(const char *data, size_t i, size_t end, const char *b, size_t blen,
                        int *close_r)
{
	size_t j = i + 2 + blen;

	if (end - i < 2 + blen || data[i] != '-' || data[i + 1] != '-' ||
	    memcmp(data + i + 2, b, blen) != 0)
		return 0;
	*close_r = 0;
	if (end - j >= 2 && data[j] == '-' && data[j + 1] == '-') {
		*close_r = 1;
		j += 2;
	}
	while (j < end && (data[j] == ' ' || data[j] == '\t'))
		j++;
	return j == end || data[j] == '\n' ||
	       (data[j] == '\r' && (j + 1 == end || data[j + 1] == '\n'));
}

/* Where the delimiter line at I really starts: the line end before it
 * belongs to it (RFC 2046 5.1.1), but never before FLOOR. */
static size_t delimiter_start(const char *data, size_t i, size_t floor)
{
	if (i > floor && data[i - 1] == '\n')
		i--;
	if (i > floor && data[i - 1] == '\r')
		i--;
	return i;
}

/* The ranges of the parts of multipart P, at most MAX of them: starts and
 * ends into S and E (allocated by the caller, MAX entries). Returns how
 * many; the last one ends at the body's end when no delimiter follows it
 * (a missing final boundary) or when MAX cut the list short. */
static unsigned find_parts(const char *data, const struct mime_part *p, const char *b, size_t *s,
                           size_t *e, unsigned max)
{
	size_t blen = strlen(b), i = p->body_start, end = p->body_end;
	unsigned n = 0;
	int close = 0;

	while (i < end) {
		size_t next = line_end(data, i, end);
		if (is_delimiter(data, i, end, b, blen, &close)) {
			if (n == max && !close)
				return n; /* the rest stays in the last part */
			if (n > 0)
				e[n - 1] = delimiter_start(data, i, s[n - 1]);
			if (close)
				return n;
			s[n] = next;
			e[n] = end;
			n++;
		}
		i = next;
	}
	return n;
}

static void parse_part(struct parse_ctx *ctx, struct mime_part *p, size_t start, size_t end,
                       unsigned depth, int digest);

/* Cuts multipart P into its children; P becomes opaque text when it has no
 * boundary or the bounds are reached. */
static void parse_multipart(struct parse_ctx *ctx, struct mime_part *p, unsigned depth)
{
	const char *b = mime_param(p, "boundary");
	unsigned max = MIME_PARTS_MAX - ctx->n_parts, n, i;
	size_t *s, *e;
	int digest = mime_is(p, "multipart", "digest");

	if (b == NULL || b[0] == '\0' || depth + 1 >= MIME_DEPTH_MAX || max == 0) {
		set_text_plain(p);
		return;
	}
	s = xmalloc(max * sizeof(*s));
	e = xmalloc(max * sizeof(*e));
	n = find_parts(ctx->data, p, b, s, e, max);
	if (n == 0) {
		/* No boundary seen: one empty text part, as Dovecot shows it. */
		s[0] = e[0] = p->body_end;
		n = 1;
		digest = 0;
	}
	ctx->n_parts += n;
	p->children = xcalloc(n, sizeof(*p->children));
	p->n_children = n;
	for (i = 0; i < n; i++)
		parse_part(ctx, &p->children[i], s[i], e[i], depth + 1, digest);
	free(s);
	free(e);
}

/* Parses message/rfc822 (or message/global) P's body as a message. */
static void parse_message(struct parse_ctx *ctx, struct mime_part *p, unsigned depth)
{
	if (depth + 1 >= MIME_DEPTH_MAX || ctx->n_parts >= MIME_PARTS_MAX) {
		set_text_plain(p);
		return;
	}
	ctx->n_parts++;
	p->children = xcalloc(1, sizeof(*p->children));
	p->n_children = 1;
	parse_part(ctx, &p->children[0], p->body_start, p->body_end, depth + 1, 0);
}

/* Parses the part [start, end) into P (zeroed) at nesting level DEPTH. */
static void parse_part(struct parse_ctx *ctx, struct mime_part *p, size_t start, size_t end,
                       unsigned depth, int digest)
{
	p->header_start = start;
	p->header_end = mime_header_end(ctx->data, start, end, &p->body_start);
	p->body_end = end;
	read_header(p, ctx->data, digest);
	if (mime_is(p, "multipart", NULL))
		parse_multipart(ctx, p, depth);
	else if (mime_is(p, "message", "rfc822") || mime_is(p, "message", "global"))
		parse_message(ctx, p, depth);
	if (mime_is(p, "text", NULL) || mime_is_message(p))
		p->lines = count_lines(ctx->data, p->body_start, p->body_end);
}

struct mime_message *mime_parse(const char *data, size_t len)
{
	struct mime_message *m = xcalloc(1, sizeof(*m));
	struct parse_ctx ctx = {data, len, 1};

	m->data = data;
	m->len = len;
	parse_part(&ctx, &m->root, 0, len, 0, 0);
	return m;
}

void mime_free(struct mime_message **m)
{
	if (*m == NULL)
		return;
	part_clear(&(*m)->root);
	free(*m);
	*m = NULL;
}
