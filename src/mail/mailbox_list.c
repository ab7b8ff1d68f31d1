/*
 * mailbox_list.c: see mailbox_list.h. The field is first cut into tokens
 * (RFC 5322 3.2: atoms, quoted strings, domain literals, specials; comments
 * and white space dropped), then the tokens are read as a list of
 * mailboxes (3.4) with the obsolete forms of 4.4 that real mail still uses
 * (dots in display names, empty list members), except source routes.
 */
#include "mail/mailbox_list.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

enum token_type { TOKEN_END, TOKEN_ATOM, TOKEN_QUOTED, TOKEN_LITERAL, TOKEN_SPECIAL };

struct token {
	enum token_type type;
	char special;  /* TOKEN_SPECIAL: one of  < > [ : ; @ , . */
	size_t off;    /* TOKEN_ATOM/QUOTED/LITERAL: text in the parser's buffer */
	size_t len;
};

struct parser {
	const char *in;
	size_t n, i;
	struct token *tokens;
	size_t n_tokens, cap_tokens, pos;
	char *text; /* decoded token texts, back to back */
	size_t text_len;
	const char *error;
	unsigned flags; /* MAILBOX_LIST_* */
};

/* RFC 5322 3.2.3 atext, plus the UTF-8 of RFC 6532 3.2. */
static int is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c >= 0x80 || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int fail(struct parser *ps, const char *why)
{
	if (ps->error == NULL)
		ps->error = why;
	return -1;
}

static void add_token(struct parser *ps, enum token_type type, char special, size_t off,
                      size_t len)
{
	if (ps->n_tokens == ps->cap_tokens) {
		ps->cap_tokens = ps->cap_tokens ? ps->cap_tokens * 2 : 16;
		ps->tokens = xrealloc(ps->tokens, ps->cap_tokens * sizeof(ps->tokens[0]));
	}
	ps->tokens[ps->n_tokens++] = (struct token){type, special, off, len};
}

/* Skips a comment (3.2.2), which may nest; ps->i is at its "(". */
static int skip_comment(struct parser *ps)
{
	unsigned depth = 0;

	while (ps->i < ps->n) {
		unsigned char c = (unsigned char)ps->in[ps->i++];
		if (c == '\\') {
			if (ps->i == ps->n)
				break;
			ps->i++;
		} else if (c == '(') {
			depth++;
		} else if (c == ')') {
			if (--depth == 0)
				return 0;
		} else if (c == '\r' || c == '\n' || c == '\0') {
			return fail(ps, "line break or NUL in a comment");
		}
	}
	return fail(ps, "unclosed comment");
}

/* Reads a quoted string or domain literal ending in CLOSE, resolving
 * quoted-pairs into ps->text. ps->i is past the opening character. */
static int read_delimited(struct parser *ps, char close, enum token_type type)
{
	size_t off = ps->text_len;

	while (ps->i < ps->n) {
		unsigned char c = (unsigned char)ps->in[ps->i++];
		if (c == (unsigned char)close) {
			add_token(ps, type, 0, off, ps->text_len - off);
			return 0;
		}
		if (c == '\\') {
			if (ps->i == ps->n)
				break;
			c = (unsigned char)ps->in[ps->i++];
		} else if (type == TOKEN_LITERAL && (c == '[' || c == ']')) {
			return fail(ps, "bracket inside a domain literal");
		}
		if (c == '\r' || c == '\n' || c == '\0')
			return fail(ps, "line break or NUL in a quoted string");
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(ps, "control character in a quoted string");
		ps->text[ps->text_len++] = (char)c;
	}
	return fail(ps, type == TOKEN_QUOTED ? "unclosed quoted string" : "unclosed [");
}

/* Cuts the whole field into tokens. */
static int tokenize(struct parser *ps)
{
	while (ps->i < ps->n) {
		unsigned char c = (unsigned char)ps->in[ps->i];
		size_t start = ps->i, off;

		if (is_wsp(c)) {
			ps->i++;
		} else if (c == '(') {
			if (skip_comment(ps) < 0)
				return -1;
		} else if (c == '"') {
			ps->i++;
			if (read_delimited(ps, '"', TOKEN_QUOTED) < 0)
				return -1;
		} else if (c == '[') {
			ps->i++;
			if (read_delimited(ps, ']', TOKEN_LITERAL) < 0)
				return -1;
		} else if (is_atext(c)) {
			while (ps->i < ps->n && is_atext((unsigned char)ps->in[ps->i]))
				ps->i++;
			off = ps->text_len;
			memcpy(ps->text + off, ps->in + start, ps->i - start);
			ps->text_len += ps->i - start;
			add_token(ps, TOKEN_ATOM, 0, off, ps->i - start);
		} else if (c != '\0' && strchr("<>:;@,.", c) != NULL) {
			ps->i++;
			add_token(ps, TOKEN_SPECIAL, (char)c, 0, 0);
		} else if (c == ')') {
			return fail(ps, "unbalanced )");
		} else if (c == ']') {
			return fail(ps, "unbalanced ]");
		} else if (c == '\\') {
			return fail(ps, "backslash outside a quoted string");
		} else {
			return fail(ps, "control character in the field");
		}
	}
	add_token(ps, TOKEN_END, 0, 0, 0);
	return 0;
}

static const struct token *peek(const struct parser *ps, size_t ahead)
{
	size_t k = ps->pos + ahead;

	return k < ps->n_tokens ? &ps->tokens[k] : &ps->tokens[ps->n_tokens - 1];
}

static int is_special(const struct token *t, char c)
{
	return t->type == TOKEN_SPECIAL && t->special == c;
}

static int is_word(const struct token *t)
{
	return t->type == TOKEN_ATOM || t->type == TOKEN_QUOTED;
}

/* Whether S (LEN octets) is a dot-atom (3.2.3), i.e. needs no quotes. */
static int is_dot_atom(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' : !is_atext((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/* Appends C to the address being built; fails when it grows too long. */
static int put(struct parser *ps, char *addr, size_t *o, char c)
{
	if (*o + 1 >= MAILBOX_ADDR_MAX)
		return fail(ps, "address too long");
	addr[(*o)++] = c;
	return 0;
}

/* local-part (3.4.1, with obs-local-part: word *("." word)) into ADDR. */
static int read_local_part(struct parser *ps, char *addr, size_t *o)
{
	char raw[MAILBOX_ADDR_MAX];
	size_t r = 0, k;

	for (;;) {
		const struct token *t = peek(ps, 0);
		if (!is_word(t))
			return fail(ps, "malformed local part");
		if (r + t->len + 1 >= sizeof(raw))
			return fail(ps, "address too long");
		memcpy(raw + r, ps->text + t->off, t->len);
		r += t->len;
		ps->pos++;
		if (!is_special(peek(ps, 0), '.'))
			break;
		raw[r++] = '.';
		ps->pos++;
	}
	if (is_dot_atom(raw, r)) {
		for (k = 0; k < r; k++)
			if (put(ps, addr, o, raw[k]) < 0)
				return -1;
		return 0;
	}
	/* keeps the quotes the local part needs, escaping what must be */
	if (put(ps, addr, o, '"') < 0)
		return -1;
	for (k = 0; k < r; k++) {
		if ((raw[k] == '"' || raw[k] == '\\') && put(ps, addr, o, '\\') < 0)
			return -1;
		if (put(ps, addr, o, raw[k]) < 0)
			return -1;
	}
	return put(ps, addr, o, '"');
}

/* domain (3.4.1): dot-atom or a domain literal, into ADDR. */
static int read_domain(struct parser *ps, char *addr, size_t *o)
{
	const struct token *t = peek(ps, 0);
	size_t k;

	if (t->type == TOKEN_LITERAL) {
		if (put(ps, addr, o, '[') < 0)
			return -1;
		for (k = 0; k < t->len; k++)
			if (put(ps, addr, o, ps->text[t->off + k]) < 0)
				return -1;
		ps->pos++;
		return put(ps, addr, o, ']');
	}
	for (;;) {
		t = peek(ps, 0);
		if (t->type != TOKEN_ATOM)
			return fail(ps, "malformed domain");
		for (k = 0; k < t->len; k++)
			if (put(ps, addr, o, ps->text[t->off + k]) < 0)
				return -1;
		ps->pos++;
		if (!is_special(peek(ps, 0), '.'))
			return 0;
		ps->pos++;
		if (put(ps, addr, o, '.') < 0)
			return -1;
	}
}

/* addr-spec (3.4.1) at the current token, appended to OUT. */
static int read_addr_spec(struct parser *ps, struct mailbox_list *out)
{
	char addr[MAILBOX_ADDR_MAX];
	size_t o = 0;

	if (read_local_part(ps, addr, &o) < 0)
		return -1;
	if (is_special(peek(ps, 0), '@')) {
		ps->pos++;
		if (put(ps, addr, &o, '@') < 0 || read_domain(ps, addr, &o) < 0)
			return -1;
	} else if (!(ps->flags & MAILBOX_LIST_BARE)) {
		return fail(ps, "address without @");
	}
	addr[o] = '\0';
	if (out->n == out->cap) {
		out->cap = out->cap ? out->cap * 2 : 4;
		out->addrs = xrealloc(out->addrs, out->cap * sizeof(out->addrs[0]));
	}
	out->addrs[out->n++] = xstrdup(addr);
	return 0;
}

/* angle-addr (3.4) at its "<". */
static int read_angle_addr(struct parser *ps, struct mailbox_list *out)
{
	ps->pos++;
	if (is_special(peek(ps, 0), '@'))
		return fail(ps, "source route in the address");
	if (is_special(peek(ps, 0), '>'))
		return fail(ps, "empty <>");
	if (read_addr_spec(ps, out) < 0)
		return -1;
	if (peek(ps, 0)->type == TOKEN_END)
		return fail(ps, "unclosed <");
	if (!is_special(peek(ps, 0), '>'))
		return fail(ps, "unexpected text inside <>");
	ps->pos++;
	return 0;
}

/* What may follow a mailbox: the end, a comma, or a group's ";". */
static int read_after_mailbox(struct parser *ps, int in_group)
{
	const struct token *t = peek(ps, 0);

	if (t->type == TOKEN_END || is_special(t, ',') || (in_group && is_special(t, ';')))
		return 0;
	if (is_special(t, '<'))
		return fail(ps, "more than one address in one mailbox");
	return fail(ps, "text after the address");
}

/* One mailbox (3.4: name-addr or addr-spec), or with GROUPS the start of a
 * group ("display-name:"). */
static int read_item(struct parser *ps, unsigned flags, int *in_group, struct mailbox_list *out)
{
	size_t words = 0;
	const struct token *t;

	while (is_word(peek(ps, words)) || is_special(peek(ps, words), '.'))
		words++;
	t = peek(ps, words);
	if (is_special(t, '<')) {
		ps->pos += words; /* the display name */
		if (read_angle_addr(ps, out) < 0)
			return -1;
		return read_after_mailbox(ps, *in_group);
	}
	if (is_special(t, '@') && words > 0) {
		if (read_addr_spec(ps, out) < 0)
			return -1;
		return read_after_mailbox(ps, *in_group);
	}
	if (is_special(t, ':') && words > 0) {
		if (!(flags & MAILBOX_LIST_GROUPS))
			return fail(ps, "group syntax");
		if (*in_group)
			return fail(ps, "group inside a group");
		ps->pos += words + 1;
		*in_group = 1;
		return 0;
	}
	if ((ps->flags & MAILBOX_LIST_BARE) && words > 0 &&
	    (t->type == TOKEN_END || is_special(t, ',') || (*in_group && is_special(t, ';')))) {
		if (read_addr_spec(ps, out) < 0) /* a bare local part */
			return -1;
		return read_after_mailbox(ps, *in_group);
	}
	if (t->type == TOKEN_END && words > 0)
		return fail(ps, "address without @");
	if (is_special(t, ':'))
		return fail(ps, "group without a name");
	if (is_special(t, '>'))
		return fail(ps, "unbalanced >");
	return fail(ps, words > 0 ? "display name without <address>" : "not an address");
}

/* mailbox-list / address-list (3.4, with 4.4's empty members). */
static int read_list(struct parser *ps, unsigned flags, struct mailbox_list *out)
{
	int in_group = 0, empty_group = 0;

	for (;;) {
		const struct token *t = peek(ps, 0);
		if (t->type == TOKEN_END)
			break;
		if (is_special(t, ',')) {
			ps->pos++;
			continue;
		}
		if (in_group && is_special(t, ';')) {
			ps->pos++;
			in_group = 0;
			empty_group = 1;
			t = peek(ps, 0);
			if (t->type != TOKEN_END && !is_special(t, ','))
				return fail(ps, "text after a group");
			continue;
		}
		if (read_item(ps, flags, &in_group, out) < 0)
			return -1;
	}
	if (in_group)
		return fail(ps, "group without ;");
	if (out->n == 0 && !empty_group)
		return fail(ps, "no address");
	if ((flags & MAILBOX_LIST_SINGLE) && out->n != 1)
		return fail(ps, "more than one address");
	return 0;
}

int mailbox_list_parse(const char *v, size_t n, unsigned flags, struct mailbox_list *out,
                       const char **error_r)
{
	struct parser ps;
	int r;

	memset(&ps, 0, sizeof(ps));
	ps.in = v;
	ps.n = n;
	ps.flags = flags;
	ps.text = xmalloc(n + 1); /* decoded text is never longer than the input */
	r = tokenize(&ps);
	if (r == 0)
		r = read_list(&ps, flags, out);
	if (r < 0)
		*error_r = ps.error;
	free(ps.tokens);
	free(ps.text);
	return r;
}

void mailbox_list_free(struct mailbox_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->addrs[i]);
	free(l->addrs);
	memset(l, 0, sizeof(*l));
}
