/*
 * mime_envelope.c: the ENVELOPE of a header (RFC 9051 7.5.2). Address
 * fields are read by a lenient RFC 5322 3.4 parser of their own (the
 * strict one in mailbox_list.c drops display names and refuses what real
 * mail holds): display names and subjects stay raw (encoded words not
 * decoded, as Dovecot sends them), a name in a comment after a bare
 * address is taken as the name, groups become the start and end markers of
 * RFC 9051, and an address missing its local part or domain is filled with
 * MISSING_MAILBOX / MISSING_DOMAIN as Dovecot does, so no NIL host can be
 * taken for a group. Called by mime_imap.c.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "mail/mime_private.h"

enum token_type { TOK_WORD, TOK_QUOTED, TOK_LITERAL, TOK_COMMENT, TOK_SPECIAL };

struct token {
	enum token_type type;
	char special;
	char *text;
};

struct addr_parser {
	struct token *t;
	size_t n, cap, pos;
	struct mime_buf *out;
	int any;
};

/* Envelope fields in their order; the address ones have ADDRESS set. */
static const struct {
	const char *name;
	int address;
} env_fields[] = {
    {"Date", 0}, {"Subject", 0}, {"From", 1}, {"Sender", 1},      {"Reply-To", 1},
    {"To", 1},   {"Cc", 1},      {"Bcc", 1},  {"In-Reply-To", 0}, {"Message-ID", 0},
};
#define ENV_FIELDS (sizeof(env_fields) / sizeof(env_fields[0]))

static void add_token(struct addr_parser *ps, enum token_type type, char special, char *text)
{
	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 16;
		ps->t = xrealloc(ps->t, ps->cap * sizeof(ps->t[0]));
	}
	ps->t[ps->n++] = (struct token){type, special, text};
}

/* Reads the text between OPEN and CLOSE at *I (quoted pairs resolved;
 * comments nest); an unclosed one runs to the end. */
static char *read_delimited(const char *v, size_t *i, char open, char close)
{
	struct mime_buf b = {0};
	unsigned depth = 1;

	for ((*i)++; v[*i] != '\0'; (*i)++) {
		if (v[*i] == '\\' && v[*i + 1] != '\0') {
			mime_buf_addc(&b, v[++*i]);
			continue;
		}
		if (open == '(' && v[*i] == '(')
			depth++;
		else if (v[*i] == close && --depth == 0)
			break;
		mime_buf_addc(&b, v[*i]);
	}
	if (v[*i] != '\0')
		(*i)++;
	return mime_buf_take(&b);
}

/* Cuts V into tokens: words (atext and dots), quoted strings, domain
 * literals (brackets kept), comments, and the specials < > @ , ; :. */
static void tokenize(struct addr_parser *ps, const char *v)
{
	size_t i = 0, start;

	while (v[i] != '\0') {
		char c = v[i];
		if (c == ' ' || c == '\t') {
			i++;
		} else if (c == '"') {
			add_token(ps, TOK_QUOTED, 0, read_delimited(v, &i, '"', '"'));
		} else if (c == '(') {
			add_token(ps, TOK_COMMENT, 0, read_delimited(v, &i, '(', ')'));
		} else if (c == '[') {
			char *in = read_delimited(v, &i, '[', ']');
			add_token(ps, TOK_LITERAL, 0, xasprintf("[%s]", in));
			free(in);
		} else if (strchr("<>@,;:", c) != NULL) {
			add_token(ps, TOK_SPECIAL, c, NULL);
			i++;
		} else {
			/* a stray ")" is a word of its own */
			for (start = i++; v[i] != '\0' && strchr(" \t\"()[<>@,;:", v[i]) == NULL;
			     i++)
				;
			add_token(ps, TOK_WORD, 0, mime_strndup(v + start, i - start));
		}
	}
}

static const struct token *peek(const struct addr_parser *ps)
{
	return ps->pos < ps->n ? &ps->t[ps->pos] : NULL;
}

static int at_special(const struct addr_parser *ps, char c)
{
	const struct token *t = peek(ps);

	return t != NULL && t->type == TOK_SPECIAL && t->special == c;
}

/* Appends the words (and quoted strings) from here, joined by SEP; the
 * first comment seen goes to *COMMENT_R when it is still NULL. */
static int read_words(struct addr_parser *ps, struct mime_buf *b, const char *sep,
                      const char **comment_r)
{
	const struct token *t;
	int n = 0;

	while ((t = peek(ps)) != NULL && t->type != TOK_SPECIAL) {
		if (t->type == TOK_COMMENT) {
			if (*comment_r == NULL)
				*comment_r = t->text;
		} else {
			if (n++ > 0)
				mime_buf_adds(b, sep);
			mime_buf_adds(b, t->text);
		}
		ps->pos++;
	}
	return n;
}

/* Writes one address: NAME ("" or NULL: NIL), ADL, MAILBOX, HOST. */
static void emit(struct addr_parser *ps, const char *name, const char *adl, const char *mailbox,
                 const char *host)
{
	struct mime_buf *b = ps->out;

	mime_buf_adds(b, ps->any++ ? "(" : "((");
	mime_imap_nstring(b, name != NULL && name[0] != '\0' ? name : NULL);
	mime_buf_addc(b, ' ');
	mime_imap_nstring(b, adl != NULL && adl[0] != '\0' ? adl : NULL);
	mime_buf_addc(b, ' ');
	mime_imap_nstring(b, mailbox);
	mime_buf_addc(b, ' ');
	mime_imap_nstring(b, host);
	mime_buf_addc(b, ')');
}

/* The domain after "@": words and literals up to a special. */
static void read_domain(struct addr_parser *ps, struct mime_buf *host, const char **comment_r)
{
	read_words(ps, host, "", comment_r);
}

/* "<" [route ":"] local "@" domain ">" with the display name NAME. */
static void read_angle(struct addr_parser *ps, const char *name, const char **comment_r)
{
	struct mime_buf adl = {0}, local = {0}, host = {0};

	ps->pos++;
	if (at_special(ps, '@')) {
		while (peek(ps) != NULL && !at_special(ps, ':') && !at_special(ps, '>')) {
			const struct token *t = peek(ps);
			if (t->type == TOK_SPECIAL)
				mime_buf_addc(&adl, t->special);
			else if (t->type != TOK_COMMENT)
				mime_buf_adds(&adl, t->text);
			ps->pos++;
		}
		if (at_special(ps, ':'))
			ps->pos++;
	}
	read_words(ps, &local, "", comment_r);
	if (at_special(ps, '@')) {
		ps->pos++;
		read_domain(ps, &host, comment_r);
	}
	if (at_special(ps, '>'))
		ps->pos++;
	if (local.len > 0 || host.len > 0)
		emit(ps, name != NULL && name[0] != '\0' ? name : *comment_r, adl.s,
		     local.len > 0 ? local.s : "MISSING_MAILBOX",
		     host.len > 0 ? host.s : "MISSING_DOMAIN");
	free(adl.s);
	free(local.s);
	free(host.s);
}

/* Skips what follows an address up to "," or ";" (or the end). */
static void skip_rest(struct addr_parser *ps)
{
	while (peek(ps) != NULL && !at_special(ps, ',') && !at_special(ps, ';'))
		ps->pos++;
}

/* One list member: a mailbox, the start of a group, or nothing. */
static void read_item(struct addr_parser *ps, int *in_group)
{
	struct mime_buf words = {0}, local = {0}, host = {0};
	const char *comment = NULL;
	size_t first = ps->pos;

	read_words(ps, &words, " ", &comment);
	if (at_special(ps, ':') && !*in_group) {
		ps->pos++;
		emit(ps, NULL, NULL, words.s != NULL ? words.s : "", NULL);
		*in_group = 1;
	} else if (at_special(ps, '<')) {
		read_angle(ps, words.s, &comment);
		skip_rest(ps);
	} else if (at_special(ps, '@')) {
		ps->pos = first;
		comment = NULL;
		read_words(ps, &local, "", &comment);
		ps->pos++;
		read_domain(ps, &host, &comment);
		emit(ps, comment, NULL, local.len > 0 ? local.s : "MISSING_MAILBOX",
		     host.len > 0 ? host.s : "MISSING_DOMAIN");
		skip_rest(ps);
	} else if (words.len > 0) {
		emit(ps, NULL, NULL, words.s, "MISSING_DOMAIN");
		skip_rest(ps);
	} else if (peek(ps) != NULL && !at_special(ps, ',') && !at_special(ps, ';')) {
		ps->pos++; /* a stray special */
	}
	free(words.s);
	free(local.s);
	free(host.s);
}

/* Writes the address list V as an IMAP list of addresses into OUT; nothing
 * when V holds no address. */
static void write_addresses(struct mime_buf *out, const char *v)
{
	struct addr_parser ps = {0};
	int in_group = 0;
	size_t i;

	ps.out = out;
	tokenize(&ps, v);
	while (ps.pos < ps.n) {
		read_item(&ps, &in_group);
		if (at_special(&ps, ';') && in_group) {
			emit(&ps, NULL, NULL, NULL, NULL);
			in_group = 0;
		}
		if (at_special(&ps, ',') || at_special(&ps, ';'))
			ps.pos++;
	}
	if (in_group)
		emit(&ps, NULL, NULL, NULL, NULL);
	if (ps.any)
		mime_buf_addc(out, ')');
	for (i = 0; i < ps.n; i++)
		free(ps.t[i].text);
	free(ps.t);
}

/* The first occurrence of each envelope field in [start, end) into V. */
static void find_fields(const char *data, size_t start, size_t end, char **v)
{
	struct mime_field f;
	size_t pos = start;
	unsigned i;

	while (mime_field_next(data, end, &pos, &f))
		for (i = 0; i < ENV_FIELDS; i++)
			if (v[i] == NULL && mime_field_is(data, &f, env_fields[i].name))
				v[i] = mime_field_unfold(data, &f, NULL);
}

void mime_envelope_write(struct mime_buf *b, const char *data, size_t start, size_t end)
{
	char *v[ENV_FIELDS] = {0};
	struct mime_buf addr[ENV_FIELDS] = {{0}};
	unsigned i;

	find_fields(data, start, end, v);
	for (i = 0; i < ENV_FIELDS; i++)
		if (env_fields[i].address && v[i] != NULL)
			write_addresses(&addr[i], v[i]);
	mime_buf_addc(b, '(');
	for (i = 0; i < ENV_FIELDS; i++) {
		const struct mime_buf *a = &addr[i];
		if (i > 0)
			mime_buf_addc(b, ' ');
		if (!env_fields[i].address)
			mime_imap_nstring(b, v[i]);
		else if (a->len == 0 && (i == 3 || i == 4)) /* Sender, Reply-To: From */
			mime_buf_adds(b, addr[2].len > 0 ? addr[2].s : "NIL");
		else
			mime_buf_adds(b, a->len > 0 ? a->s : "NIL");
	}
	mime_buf_addc(b, ')');
	for (i = 0; i < ENV_FIELDS; i++) {
		free(v[i]);
		free(addr[i].s);
	}
}
