/*
 * imap_parse.c: the incremental IMAP command parser (RFC 9051 2.2.1, 9;
 * RFC 7888 LITERAL+ / LITERAL-; RFC 3516 literal8); see imap_parse.h. Pure.
 * Called by the IMAP session with whatever it read from the client.
 *
 * The input is cut into pieces at each CRLF: the first piece holds the tag
 * and the command name, and each piece that ends with a literal
 * announcement is followed by the literal's octets and then by the next
 * piece. A piece is parsed when its CRLF has arrived, with the stack of open
 * lists kept between pieces, so where the input was split never matters.
 * After an error the rest of the command is thrown away up to its end,
 * stepping over the octets of non-synchronising literals (the client sends
 * them without waiting), so the next command is read in step.
 */
#include "imap/imap_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"
#include "mail/mutf7.h"

/* The first allocation for a literal's octets; it grows as they arrive so a
 * large announcement costs nothing until the data comes. */
#define LITERAL_FIRST_ALLOC 4096

enum parser_state {
	ST_LINE,         /* reading a piece of the command line */
	ST_LITERAL,      /* reading the octets of an accepted literal */
	ST_SKIP_LITERAL, /* throwing away the octets of a refused literal */
	ST_FATAL,        /* out of step: every feed fails until a reset */
};

enum piece_result { PIECE_MORE, PIECE_DONE, PIECE_LITERAL, PIECE_ERROR };

/* The arguments of one open list (or of the command, at depth 0). */
struct arg_vec {
	struct imap_arg *v;
	unsigned n, cap;
};

/* A literal announcement: {N}, {N+}, ~{N}, ~{N+}. */
struct literal_spec {
	uint64_t size;
	int plus, literal8;
};

/* A piece of the line being parsed. */
struct cursor {
	const char *s;
	size_t len, pos;
};

struct imap_parser {
	struct imap_parser_limits limits;
	enum parser_state state;
	char *line; /* the current piece, no CRLF, IMAP_LINE_MAX + 1 bytes */
	size_t line_len;
	size_t line_total; /* octets of this command line so far, literals excluded */
	int saw_cr;        /* the last byte taken was CR */
	int skipping;      /* an error is pending: the rest of the command is dropped */
	const char *error;
	int have_tag; /* the first piece was seen: tag (and name) known */
	int raw;      /* imap_parser_feed_line: lines, not commands */
	struct arg_vec stack[IMAP_DEPTH_MAX + 1];
	unsigned depth;
	unsigned n_args;
	struct imap_arg *literal; /* being filled in ST_LITERAL */
	uint64_t literal_left;
	size_t literal_cap;
	struct imap_command cmd;
	int cmd_out; /* cmd was handed out: cleared at the next feed */
};

/* Frees N arguments at V and the lists they hold (depth is bounded by
 * IMAP_DEPTH_MAX, so the recursion is too). */
static void args_free(struct imap_arg *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		free(v[i].str);
		if (v[i].type == IMAP_ARG_LIST)
			args_free(v[i].list, v[i].n);
	}
	free(v);
}

/* Forgets the command being read (not the one handed out). */
static void parser_restart(struct imap_parser *p)
{
	for (unsigned i = 0; i <= p->depth; i++) {
		args_free(p->stack[i].v, p->stack[i].n);
		p->stack[i] = (struct arg_vec){0};
	}
	p->depth = 0;
	p->n_args = 0;
	p->state = ST_LINE;
	p->line_len = 0;
	p->line_total = 0;
	p->saw_cr = 0;
	p->skipping = 0;
	p->have_tag = 0;
	p->literal = NULL;
	p->literal_left = 0;
}

/* Frees the command last handed out. */
static void command_clear(struct imap_parser *p)
{
	args_free(p->cmd.args, p->cmd.n_args);
	memset(&p->cmd, 0, sizeof(p->cmd));
}

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	p->limits = *limits;
	p->line = xmalloc(IMAP_LINE_MAX + 1);
	p->state = ST_LINE;
	return p;
}

void imap_parser_set_limits(struct imap_parser *p, const struct imap_parser_limits *limits)
{
	p->limits = *limits;
}

void imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;

	if (p == NULL)
		return;
	parser_restart(p);
	command_clear(p);
	free(p->line);
	free(p);
	*pp = NULL;
}

void imap_parser_reset(struct imap_parser *p)
{
	parser_restart(p);
	command_clear(p);
	p->cmd_out = 0;
	p->error = NULL;
	explicit_bzero(p->line, IMAP_LINE_MAX + 1);
}

/* ---- characters ----------------------------------------------------- */

/* ATOM-CHAR plus what astring, list-mailbox, flags and sequence sets add:
 * resp-specials "]", list-wildcards "%" "*", and "\" for flags. */
static int is_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '"';
}

/* tag = 1*<any ASTRING-CHAR except "+"> */
static int is_tag_char(unsigned char c)
{
	return is_atom_char(c) && c != '%' && c != '*' && c != '\\' && c != '+';
}

static int is_name_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/* ---- building the argument tree ------------------------------------ */

/* Records the first error of the command; the rest of it is dropped. */
static void set_skip(struct imap_parser *p, const char *error)
{
	if (!p->skipping) {
		p->skipping = 1;
		p->error = error;
	}
}

static enum piece_result piece_error(struct imap_parser *p, const char *error)
{
	set_skip(p, error);
	return PIECE_ERROR;
}

/* A new zeroed argument at the current depth (the caller checked
 * IMAP_ARGS_MAX). */
static struct imap_arg *push_arg(struct imap_parser *p, enum imap_arg_type type)
{
	struct arg_vec *vec = &p->stack[p->depth];
	struct imap_arg *arg;

	if (vec->n == vec->cap) {
		vec->cap = vec->cap == 0 ? 8 : vec->cap * 2;
		vec->v = xrealloc(vec->v, vec->cap * sizeof(*vec->v));
	}
	arg = &vec->v[vec->n++];
	memset(arg, 0, sizeof(*arg));
	arg->type = type;
	p->n_args++;
	return arg;
}

/* A copy of S[0..LEN) as an argument of TYPE. */
static void push_text(struct imap_parser *p, enum imap_arg_type type, const char *s, size_t len)
{
	struct imap_arg *arg = push_arg(p, type);

	arg->str = xmalloc(len + 1);
	memcpy(arg->str, s, len);
	arg->str[len] = '\0';
	arg->len = len;
}

static enum piece_result open_list(struct imap_parser *p, struct cursor *c)
{
	if (p->depth == IMAP_DEPTH_MAX)
		return piece_error(p, "Lists nested too deeply");
	push_arg(p, IMAP_ARG_LIST);
	p->depth++;
	p->stack[p->depth] = (struct arg_vec){0};
	c->pos++;
	return PIECE_MORE;
}

/* ")": the open list's arguments go to its LIST argument, the last one of
 * the level below (nothing was added there while the list was open). */
static enum piece_result close_list(struct imap_parser *p)
{
	struct arg_vec vec = p->stack[p->depth];
	struct imap_arg *list;

	if (p->depth == 0)
		return piece_error(p, "Unexpected )");
	p->stack[p->depth] = (struct arg_vec){0};
	p->depth--;
	list = &p->stack[p->depth].v[p->stack[p->depth].n - 1];
	list->list = vec.v;
	list->n = vec.n;
	return PIECE_MORE;
}

/* ---- one piece ------------------------------------------------------ */

/* Parses "{N}", "{N+}", "~{N}" or "~{N+}" filling all of S[0..LEN).
 * number64 (RFC 9051 9) is at most 2^63-1. */
static int literal_text(const char *s, size_t len, struct literal_spec *spec)
{
	size_t i = 0, digits = 0;
	uint64_t v = 0;

	spec->literal8 = len > 0 && s[0] == '~';
	i = spec->literal8 ? 1 : 0;
	if (i >= len || s[i++] != '{')
		return -1;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
		if (v > (INT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	spec->plus = i < len && s[i] == '+';
	i += spec->plus ? 1 : 0;
	if (digits == 0 || i + 1 != len || s[i] != '}')
		return -1;
	spec->size = v;
	return 0;
}

/* A literal announcement at the cursor; it must end the piece. */
static enum piece_result parse_literal_spec(struct imap_parser *p, struct cursor *c,
                                            struct literal_spec *spec)
{
	if (literal_text(c->s + c->pos, c->len - c->pos, spec) < 0) {
		const char *close = memchr(c->s + c->pos, '}', c->len - c->pos);

		return piece_error(p, close != NULL && close + 1 != c->s + c->len
		                          ? "A literal announcement must end the line"
		                          : "Invalid literal announcement");
	}
	c->pos = c->len;
	return PIECE_LITERAL;
}

/* A quoted string (RFC 9051 9 quoted: "\" escapes only DQUOTE and "\";
 * UTF-8 allowed, as RFC 9051 and RFC 6855 do). */
static enum piece_result parse_quoted(struct imap_parser *p, struct cursor *c)
{
	const char *s = c->s;
	size_t i = c->pos + 1, n = 0;
	char *out = xmalloc(c->len - i + 1);
	struct imap_arg *arg;

	for (; i < c->len && s[i] != '"'; i++) {
		if (s[i] == '\\') {
			if (i + 1 >= c->len || (s[i + 1] != '"' && s[i + 1] != '\\'))
				break;
			i++;
		} else if (s[i] == '\0') {
			break;
		}
		out[n++] = s[i];
	}
	if (i >= c->len || s[i] != '"' || !utf8_is_valid(out, n)) {
		free(out);
		return piece_error(p, i >= c->len   ? "Unterminated quoted string"
		                      : s[i] == '"' ? "Invalid UTF-8 in quoted string"
		                                    : "Invalid character in quoted string");
	}
	out[n] = '\0';
	arg = push_arg(p, IMAP_ARG_STRING);
	arg->str = out;
	arg->len = n;
	c->pos = i + 1;
	return PIECE_MORE;
}

/* An atom, with FETCH sections: inside "[...]" spaces and parentheses are
 * part of it. "NIL" (any case) is IMAP_ARG_NIL, its text kept, since an
 * astring may be the atom NIL. */
static enum piece_result parse_atom(struct imap_parser *p, struct cursor *c)
{
	size_t start = c->pos, i = start;
	int bracket = 0;

	for (; i < c->len; i++) {
		unsigned char ch = (unsigned char)c->s[i];

		if (bracket) {
			if (ch == ']')
				bracket = 0;
			else if (ch < 0x20 || ch > 0x7e || ch == '[')
				return piece_error(p, "Invalid character in section");
		} else if (ch == '[') {
			bracket = 1;
		} else if (!is_atom_char(ch)) {
			break;
		}
	}
	if (bracket)
		return piece_error(p, "Unclosed [ in atom");
	if (i == start || (i < c->len && c->s[i] != ' ' && c->s[i] != ')'))
		return piece_error(p, "Invalid character in atom");
	push_text(p,
	          i - start == 3 && strncasecmp(c->s + start, "NIL", 3) == 0 ? IMAP_ARG_NIL
	                                                                     : IMAP_ARG_ATOM,
	          c->s + start, i - start);
	c->pos = i;
	return PIECE_MORE;
}

/* One argument (or the opening of a list) at the cursor. */
static enum piece_result parse_one(struct imap_parser *p, struct cursor *c,
                                   struct literal_spec *spec)
{
	char ch = c->s[c->pos];

	if (p->n_args >= IMAP_ARGS_MAX)
		return piece_error(p, "Too many arguments");
	if (ch == '(')
		return open_list(p, c);
	if (ch == '"')
		return parse_quoted(p, c);
	if (ch == '{' || (ch == '~' && c->pos + 1 < c->len && c->s[c->pos + 1] == '{'))
		return parse_literal_spec(p, c, spec);
	return parse_atom(p, c);
}

/* Arguments to the end of the piece. NEED_SEP: the last thing read (the
 * name, an argument, a literal) must be followed by SP, ")" or the end. */
static enum piece_result parse_args(struct imap_parser *p, struct cursor *c,
                                    struct literal_spec *spec)
{
	int need_sep = 1;

	for (;;) {
		enum piece_result r;
		char ch;

		if (c->pos == c->len)
			return p->depth > 0 ? piece_error(p, "Unclosed list") : PIECE_DONE;
		ch = c->s[c->pos];
		if (ch == ' ') {
			c->pos++;
			need_sep = 0;
			continue;
		}
		if (ch == ')') {
			if (close_list(p) != PIECE_MORE)
				return PIECE_ERROR;
			c->pos++;
			need_sep = 1;
			continue;
		}
		if (need_sep)
			return piece_error(p, "Missing space between arguments");
		r = parse_one(p, c, spec);
		if (r != PIECE_MORE)
			return r;
		need_sep = ch != '(';
	}
}

/* "tag SP name" at the start of the first piece. */
static enum piece_result parse_tag_name(struct imap_parser *p, struct cursor *c)
{
	const char *s = c->s;
	size_t i = 0, j;

	for (; i < c->len && s[i] != ' '; i++)
		if (!is_tag_char((unsigned char)s[i]))
			return piece_error(p, "Invalid characters in tag");
	if (i == 0 || i > IMAP_TAG_MAX)
		return piece_error(p, i == 0 ? "Missing tag" : "Tag too long");
	memcpy(p->cmd.tag, s, i);
	p->cmd.tag[i] = '\0';
	p->have_tag = 1;
	for (j = i + 1; j < c->len && s[j] != ' '; j++)
		if (!is_name_char((unsigned char)s[j]))
			return piece_error(p, "Invalid characters in command name");
	if (i == c->len || j == i + 1)
		return piece_error(p, "Missing command name");
	if (j - i - 1 > IMAP_NAME_MAX)
		return piece_error(p, "Command name too long");
	for (size_t k = i + 1; k < j; k++) {
		char ch = s[k];

		p->cmd.name[k - i - 1] = ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
	}
	p->cmd.name[j - i - 1] = '\0';
	c->pos = j;
	return PIECE_MORE;
}

/* Parses the piece in p->line: PIECE_DONE (a whole command), PIECE_LITERAL
 * (*SPEC announced at its end) or PIECE_ERROR. */
static enum piece_result parse_piece(struct imap_parser *p, struct literal_spec *spec)
{
	struct cursor c = {p->line, p->line_len, 0};

	if (!p->have_tag && parse_tag_name(p, &c) != PIECE_MORE)
		return PIECE_ERROR;
	return parse_args(p, &c, spec);
}

/* ---- pieces, literals and errors ----------------------------------- */

/* Best effort for an error in the first piece: the tag, when the piece
 * starts with one; "*" when not. */
static void recover_tag(struct imap_parser *p)
{
	size_t i = 0;

	while (i < p->line_len && i <= IMAP_TAG_MAX && is_tag_char((unsigned char)p->line[i]))
		i++;
	if (i == 0 || i > IMAP_TAG_MAX || (i < p->line_len && p->line[i] != ' '))
		i = 0;
	memcpy(p->cmd.tag, p->line, i);
	p->cmd.tag[i] = '\0';
	p->have_tag = 1;
}

static enum imap_parse_result parser_fatal(struct imap_parser *p, const char *error)
{
	if (!p->have_tag)
		recover_tag(p);
	p->state = ST_FATAL;
	p->error = error;
	return IMAP_PARSE_FATAL;
}

/* Steps over SIZE octets the client sends without waiting, or gives up. */
static enum imap_parse_result skip_literal(struct imap_parser *p, uint64_t size)
{
	if (size > IMAP_LITERAL_SKIP_MAX)
		return parser_fatal(p, p->error);
	p->line_len = 0;
	p->literal_left = size;
	if (size > 0)
		p->state = ST_SKIP_LITERAL;
	return IMAP_PARSE_MORE;
}

/* The end of a piece of a command that failed: a non-synchronising literal
 * announced at its end is stepped over (the command goes on after it),
 * otherwise the command ends here. A synchronising one is not: the client
 * waits for "+" and gets the BAD instead (RFC 9051 7.5). */
static enum imap_parse_result skip_line_end(struct imap_parser *p)
{
	struct literal_spec spec;
	size_t open = p->line_len;

	if (!p->have_tag)
		recover_tag(p);
	while (open > 0 && p->line[open - 1] != '{')
		open--;
	if (open > 0) {
		open -= open >= 2 && p->line[open - 2] == '~' ? 2 : 1;
		if (literal_text(p->line + open, p->line_len - open, &spec) == 0 && spec.plus)
			return skip_literal(p, spec.size);
	}
	return IMAP_PARSE_ERROR;
}

/* A literal was announced at the end of the piece: accept it or refuse it. */
static enum imap_parse_result start_literal(struct imap_parser *p, const struct literal_spec *spec)
{
	struct imap_arg *arg;

	if (spec->plus &&
	    (spec->size > p->limits.literal_plus_max || spec->size > p->limits.literal_max)) {
		set_skip(p, "Non-synchronizing literal too large");
		return skip_literal(p, spec->size);
	}
	if (spec->size > p->limits.literal_max) {
		p->error = "Literal too large";
		return IMAP_PARSE_ERROR;
	}
	arg = push_arg(p, IMAP_ARG_LITERAL);
	arg->literal8 = spec->literal8;
	p->literal_cap = spec->size < LITERAL_FIRST_ALLOC ? spec->size + 1 : LITERAL_FIRST_ALLOC;
	arg->str = xmalloc(p->literal_cap);
	arg->str[0] = '\0';
	p->literal = arg;
	p->literal_left = spec->size;
	p->line_len = 0;
	p->state = spec->size > 0 ? ST_LITERAL : ST_LINE;
	return spec->plus ? IMAP_PARSE_MORE : IMAP_PARSE_CONTINUE;
}

/* The command is whole: hand its arguments out. */
static enum imap_parse_result command_done(struct imap_parser *p)
{
	p->cmd.args = p->stack[0].v;
	p->cmd.n_args = p->stack[0].n;
	p->stack[0] = (struct arg_vec){0};
	parser_restart(p);
	return IMAP_PARSE_COMMAND;
}

/* A LF: CRLF says the piece ended as it should. */
static enum imap_parse_result line_end(struct imap_parser *p, int crlf)
{
	struct literal_spec spec;
	enum piece_result r;

	p->saw_cr = 0;
	p->line[p->line_len] = '\0';
	if (!crlf)
		set_skip(p, "Bare LF in command line (lines end with CRLF)");
	if (p->raw)
		return p->skipping ? IMAP_PARSE_ERROR : IMAP_PARSE_COMMAND;
	if (p->skipping)
		return skip_line_end(p);
	if (!p->have_tag && p->line_len == 0)
		return IMAP_PARSE_MORE; /* an empty line between commands is ignored */
	r = parse_piece(p, &spec);
	if (r == PIECE_DONE)
		return command_done(p);
	if (r == PIECE_ERROR)
		return skip_line_end(p);
	return start_literal(p, &spec);
}

/* Takes line bytes from DATA at *POS up to the end of a piece. */
static enum imap_parse_result take_line_bytes(struct imap_parser *p, const char *data, size_t len,
                                              size_t *pos)
{
	while (*pos < len) {
		char c = data[(*pos)++];

		if (c == '\n')
			return line_end(p, p->saw_cr);
		if (p->saw_cr) {
			p->saw_cr = 0;
			set_skip(p, "Bare CR in command line");
		}
		if (c == '\r') {
			p->saw_cr = 1;
			continue;
		}
		if (p->line_total >= IMAP_LINE_MAX)
			return parser_fatal(p, "Command line too long");
		p->line[p->line_len++] = c;
		p->line_total++;
	}
	return IMAP_PARSE_MORE;
}

/* Appends N octets to the literal being read, growing its buffer. */
static void literal_append(struct imap_parser *p, const char *data, size_t n)
{
	struct imap_arg *arg = p->literal;

	if (arg->len + n + 1 > p->literal_cap) {
		size_t want = arg->len + (size_t)p->literal_left + 1;

		p->literal_cap = p->literal_cap * 2 < want ? p->literal_cap * 2 : want;
		if (p->literal_cap < arg->len + n + 1)
			p->literal_cap = arg->len + n + 1;
		arg->str = xrealloc(arg->str, p->literal_cap);
	}
	memcpy(arg->str + arg->len, data, n);
	arg->len += n;
	arg->str[arg->len] = '\0';
}

/* Takes literal octets from DATA at *POS. NUL is refused outside literal8
 * (RFC 9051 9: CHAR8 is %x01-ff); the rest of the literal is then dropped. */
static enum imap_parse_result take_literal_bytes(struct imap_parser *p, const char *data,
                                                 size_t len, size_t *pos)
{
	size_t n = len - *pos;

	if (n > p->literal_left)
		n = (size_t)p->literal_left;
	if (p->state == ST_LITERAL) {
		if (!p->literal->literal8 && memchr(data + *pos, '\0', n) != NULL) {
			set_skip(p, "NUL in a literal (only literal8 may hold it)");
			p->state = ST_SKIP_LITERAL;
			return IMAP_PARSE_MORE;
		}
		literal_append(p, data + *pos, n);
	}
	*pos += n;
	p->literal_left -= n;
	if (p->literal_left == 0) {
		p->state = ST_LINE;
		p->literal = NULL;
	}
	return IMAP_PARSE_MORE;
}

/* Clears what the last call handed out and fills the outputs' defaults. */
static void feed_begin(struct imap_parser *p, struct imap_command **cmd_r, const char **error_r)
{
	if (p->cmd_out) {
		command_clear(p);
		p->cmd_out = 0;
	}
	*cmd_r = &p->cmd;
	*error_r = NULL;
}

/* The result R of a feed as the caller sees it. */
static enum imap_parse_result feed_end(struct imap_parser *p, enum imap_parse_result r,
                                       const char **error_r)
{
	if (r == IMAP_PARSE_COMMAND || r == IMAP_PARSE_ERROR || r == IMAP_PARSE_FATAL)
		p->cmd_out = 1;
	if (r == IMAP_PARSE_ERROR || r == IMAP_PARSE_FATAL) {
		*error_r = p->error;
		if (p->cmd.tag[0] == '\0')
			strcpy(p->cmd.tag, "*");
	}
	if (r == IMAP_PARSE_ERROR)
		parser_restart(p);
	return r;
}

enum imap_parse_result imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
                                        size_t *consumed_r, struct imap_command **cmd_r,
                                        const char **error_r)
{
	enum imap_parse_result r = IMAP_PARSE_MORE;
	size_t pos = 0;

	feed_begin(p, cmd_r, error_r);
	if (p->state == ST_FATAL) {
		*consumed_r = 0;
		return feed_end(p, IMAP_PARSE_FATAL, error_r);
	}
	while (r == IMAP_PARSE_MORE && pos < len) {
		if (p->state == ST_LINE)
			r = take_line_bytes(p, data, len, &pos);
		else
			r = take_literal_bytes(p, data, len, &pos);
	}
	*consumed_r = pos;
	return feed_end(p, r, error_r);
}

enum imap_parse_result imap_parser_feed_line(struct imap_parser *p, const char *data, size_t len,
                                             size_t *consumed_r, const char **line_r, size_t *len_r,
                                             const char **error_r)
{
	struct imap_command *cmd;
	enum imap_parse_result r = IMAP_PARSE_MORE;
	size_t pos = 0;

	feed_begin(p, &cmd, error_r);
	*line_r = NULL;
	*len_r = 0;
	if (p->state == ST_FATAL) {
		*consumed_r = 0;
		return feed_end(p, IMAP_PARSE_FATAL, error_r);
	}
	p->raw = 1;
	if (p->state == ST_LINE)
		r = take_line_bytes(p, data, len, &pos);
	p->raw = 0;
	*consumed_r = pos;
	if (r == IMAP_PARSE_COMMAND) {
		*line_r = p->line;
		*len_r = p->line_len;
		parser_restart(p);
	}
	return feed_end(p, r, error_r);
}
