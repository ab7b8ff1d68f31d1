/*
 * mime_param.c: the structured MIME fields (RFC 2045 5.1 Content-Type,
 * RFC 2183 Content-Disposition): a type, then ";"-separated parameters
 * whose values are tokens or quoted strings, comments anywhere. Read
 * leniently: a parameter that does not parse is skipped up to the next
 * ";", an unquoted value runs to the next ";" or blank (real mail has
 * "boundary==_x" and "name=a/b"). RFC 2231 continuations (NAME*0, NAME*1*)
 * are joined and charset'lang'%XX values decoded (UTF-8 and US-ASCII kept,
 * ISO-8859-1 converted to UTF-8, other charsets kept as octets), named as
 * RFC 9051 7.5.2 says BODYSTRUCTURE gives them: NAME when no section was
 * charset-encoded, else "NAME*" (with the UTF-8 value). Dovecot 2.3 joins
 * the sections too but leaves an encoded value as written
 * ("name*" "UTF-8''a%20b"); we follow the RFC.
 * Called by mime.c for each part's header.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"
#include "mail/mime_private.h"

struct lexer {
	const char *s;
	size_t i;
};

struct raw_params {
	char *names[MIME_PARAMS_MAX], *values[MIME_PARAMS_MAX];
	unsigned n;
};

static int is_tspecial(unsigned char c)
{
	return c != '\0' && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static int is_token_char(unsigned char c)
{
	return c > ' ' && c != 0x7f && !is_tspecial(c);
}

/* Skips blanks and comments (which nest and hold quoted pairs). */
static void skip_cfws(struct lexer *lx)
{
	unsigned depth = 0;

	for (; lx->s[lx->i] != '\0'; lx->i++) {
		char c = lx->s[lx->i];
		if (depth > 0 && c == '\\' && lx->s[lx->i + 1] != '\0')
			lx->i++;
		else if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (depth == 0 && c != ' ' && c != '\t')
			return;
	}
}

/* A token, allocated; NULL when there is none. */
static char *read_token(struct lexer *lx)
{
	size_t start = lx->i;

	while (is_token_char((unsigned char)lx->s[lx->i]))
		lx->i++;
	if (lx->i == start)
		return NULL;
	return mime_strndup(lx->s + start, lx->i - start);
}

/* A quoted string (quotes gone, quoted pairs resolved; an unclosed one runs
 * to the end), or an unquoted value up to ";", a blank or "(". */
static char *read_value(struct lexer *lx)
{
	struct mime_buf b = {0};

	if (lx->s[lx->i] == '"') {
		for (lx->i++; lx->s[lx->i] != '\0' && lx->s[lx->i] != '"'; lx->i++) {
			if (lx->s[lx->i] == '\\' && lx->s[lx->i + 1] != '\0')
				lx->i++;
			mime_buf_addc(&b, lx->s[lx->i]);
		}
		if (lx->s[lx->i] == '"')
			lx->i++;
		return mime_buf_take(&b);
	}
	while (lx->s[lx->i] != '\0' && strchr("; \t(", lx->s[lx->i]) == NULL)
		mime_buf_addc(&b, lx->s[lx->i++]);
	return mime_buf_take(&b);
}

/* Skips to the next ";" outside quotes (or the end). */
static void skip_to_semicolon(struct lexer *lx)
{
	int quoted = 0;

	for (; lx->s[lx->i] != '\0'; lx->i++) {
		if (quoted && lx->s[lx->i] == '\\' && lx->s[lx->i + 1] != '\0')
			lx->i++;
		else if (lx->s[lx->i] == '"')
			quoted = !quoted;
		else if (!quoted && lx->s[lx->i] == ';')
			return;
	}
}

/* Reads "; name=value" pairs to the end into RAW (at most MIME_PARAMS_MAX). */
static void read_raw_params(struct lexer *lx, struct raw_params *raw)
{
	char *name;

	for (;;) {
		skip_cfws(lx);
		if (lx->s[lx->i] != ';')
			skip_to_semicolon(lx);
		if (lx->s[lx->i] == '\0')
			return;
		lx->i++;
		skip_cfws(lx);
		name = read_token(lx);
		skip_cfws(lx);
		if (name == NULL || lx->s[lx->i] != '=') {
			free(name);
			continue;
		}
		lx->i++;
		skip_cfws(lx);
		if (raw->n == MIME_PARAMS_MAX) {
			free(name);
			free(read_value(lx));
			continue;
		}
		raw->names[raw->n] = name;
		raw->values[raw->n++] = read_value(lx);
	}
}

/* RFC 2231 3: NAME's section number (-1: not a section; "name*" is 0) and
 * whether its value is encoded; *BASE_LEN_R the length of the base name. */
static int section_of(const char *name, size_t *base_len_r, int *encoded_r)
{
	const char *star = strchr(name, '*');
	const char *p;
	long n = 0;

	*encoded_r = 0;
	*base_len_r = strlen(name);
	if (star == NULL || star == name)
		return -1;
	*base_len_r = (size_t)(star - name);
	if (star[1] == '\0') {
		*encoded_r = 1;
		return 0;
	}
	for (p = star + 1; *p >= '0' && *p <= '9' && n < MIME_PARAMS_MAX; p++)
		n = n * 10 + (*p - '0');
	if (p == star + 1 || n >= MIME_PARAMS_MAX || (p[0] == '*' && p[1] != '\0') ||
	    (p[0] != '*' && p[0] != '\0'))
		return -1;
	*encoded_r = p[0] == '*';
	return (int)n;
}

/* Appends encoded section V (%XX decoded); FIRST: it starts with
 * charset'lang', whose charset goes to *CHARSET_R. */
static void add_encoded(struct mime_buf *b, const char *v, int first, char **charset_r)
{
	const char *q1, *q2;
	int c;

	if (first && (q1 = strchr(v, '\'')) != NULL && (q2 = strchr(q1 + 1, '\'')) != NULL) {
		*charset_r = mime_strndup(v, (size_t)(q1 - v));
		v = q2 + 1;
	}
	for (; *v != '\0'; v++) {
		if (v[0] == '%' && (c = hex_pair_value(v + 1)) >= 0) {
			mime_buf_addc(b, (char)c);
			v += 2;
		} else {
			mime_buf_addc(b, *v);
		}
	}
}

/* Finds the raw parameter that is section INDEX of base name BASE. */
static int find_section(const struct raw_params *raw, const char *base, size_t base_len, int index,
                        int *encoded_r)
{
	size_t len;
	unsigned i;

	for (i = 0; i < raw->n; i++)
		if (section_of(raw->names[i], &len, encoded_r) == index && len == base_len &&
		    strncasecmp(raw->names[i], base, base_len) == 0)
			return (int)i;
	return -1;
}

/* The joined value of the sections of BASE (0, 1, ... up to a gap). */
static char *join_sections(const struct raw_params *raw, const char *base, size_t base_len)
{
	struct mime_buf b = {0}, out = {0};
	char *charset = NULL;
	int index, j, encoded, any_encoded = 0;

	for (index = 0; index < MIME_PARAMS_MAX; index++) {
		j = find_section(raw, base, base_len, index, &encoded);
		if (j < 0)
			break;
		if (encoded) {
			add_encoded(&b, raw->values[j], index == 0, &charset);
			any_encoded = 1;
		} else {
			mime_buf_adds(&b, raw->values[j]);
		}
	}
	if (!any_encoded || charset == NULL || mime_charset_kind(charset, strlen(charset)) != 2) {
		free(charset);
		return mime_buf_take(&b);
	}
	mime_latin1_to_utf8(&out, b.s != NULL ? b.s : "", b.len);
	free(b.s);
	free(charset);
	return mime_buf_take(&out);
}

/* Whether NAME (LEN octets) is already among the N pairs of OUT, as it is
 * or with the "*" of an encoded value after it. */
static int have_param(char **out, unsigned n, const char *name, size_t len)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		size_t have = strlen(out[2 * i]);
		if ((have == len || (have == len + 1 && out[2 * i][len] == '*')) &&
		    strncasecmp(out[2 * i], name, len) == 0)
			return 1;
	}
	return 0;
}

/* Whether some section of BASE is charset-encoded ("NAME*" or "NAME*N*"). */
static int any_section_encoded(const struct raw_params *raw, const char *base, size_t base_len)
{
	size_t len;
	unsigned i;
	int encoded;

	for (i = 0; i < raw->n; i++)
		if (section_of(raw->names[i], &len, &encoded) >= 0 && encoded && len == base_len &&
		    strncasecmp(raw->names[i], base, base_len) == 0)
			return 1;
	return 0;
}

/* RAW (given away) -> *PARAMS_R, *N_R: plain ones as they are, RFC 2231
 * sections joined under their base name, with a "*" after it when they
 * were charset-encoded. */
static void finish_params(struct raw_params *raw, char ***params_r, unsigned *n_r)
{
	char **out = xcalloc(2 * (raw->n + 1), sizeof(char *));
	unsigned i, n = 0;
	size_t base_len;
	int encoded;

	for (i = 0; i < raw->n; i++) {
		if (section_of(raw->names[i], &base_len, &encoded) < 0) {
			out[2 * n] = xstrdup(raw->names[i]);
			out[2 * n++ + 1] = xstrdup(raw->values[i]);
		} else if (!have_param(out, n, raw->names[i], base_len) &&
		           find_section(raw, raw->names[i], base_len, 0, &encoded) >= 0) {
			out[2 * n] = any_section_encoded(raw, raw->names[i], base_len)
			                 ? xasprintf("%.*s*", (int)base_len, raw->names[i])
			                 : mime_strndup(raw->names[i], base_len);
			out[2 * n++ + 1] = join_sections(raw, raw->names[i], base_len);
		}
	}
	for (i = 0; i < raw->n; i++) {
		free(raw->names[i]);
		free(raw->values[i]);
	}
	*params_r = out;
	*n_r = n;
}

void mime_read_content_type(struct mime_part *p, const char *v)
{
	struct lexer lx = {v, 0};
	struct raw_params raw;
	char *type, *subtype = NULL;

	skip_cfws(&lx);
	type = read_token(&lx);
	skip_cfws(&lx);
	if (type != NULL && lx.s[lx.i] == '/') {
		lx.i++;
		skip_cfws(&lx);
		subtype = read_token(&lx);
	}
	if (subtype == NULL) {
		/* RFC 2045 5.2: a field that does not parse means text/plain. */
		free(type);
		return;
	}
	p->type = type;
	p->subtype = subtype;
	raw.n = 0;
	read_raw_params(&lx, &raw);
	finish_params(&raw, &p->params, &p->n_params);
}

void mime_read_disposition(struct mime_part *p, const char *v)
{
	struct lexer lx = {v, 0};
	struct raw_params raw;

	skip_cfws(&lx);
	p->disposition = read_token(&lx);
	if (p->disposition == NULL)
		return;
	raw.n = 0;
	read_raw_params(&lx, &raw);
	finish_params(&raw, &p->disp_params, &p->n_disp_params);
}

char *mime_strip_comments(const char *v)
{
	struct lexer lx = {v, 0};
	struct mime_buf b = {0};
	int quoted = 0;

	for (;;) {
		if (!quoted) {
			size_t before = lx.i;
			skip_cfws(&lx);
			if (lx.s[lx.i] == '\0')
				break;
			if (lx.i > before && b.len > 0)
				mime_buf_addc(&b, ' ');
		}
		if (lx.s[lx.i] == '\0')
			break;
		if (quoted && lx.s[lx.i] == '\\' && lx.s[lx.i + 1] != '\0')
			mime_buf_addc(&b, lx.s[lx.i++]);
		else if (lx.s[lx.i] == '"')
			quoted = !quoted;
		mime_buf_addc(&b, lx.s[lx.i++]);
	}
	return mime_buf_take(&b);
}

const char *mime_param(const struct mime_part *p, const char *name)
{
	unsigned i;

	for (i = 0; i < p->n_params; i++)
		if (strcasecmp(p->params[2 * i], name) == 0)
			return p->params[2 * i + 1];
	return NULL;
}

int mime_charset_kind(const char *charset, size_t len)
{
	static const char *const same[] = {"utf-8", "utf8", "us-ascii", "ascii"};
	static const char *const latin1[] = {"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1"};
	unsigned i;

	for (i = 0; i < 4; i++) {
		if (strlen(same[i]) == len && strncasecmp(charset, same[i], len) == 0)
			return 1;
		if (strlen(latin1[i]) == len && strncasecmp(charset, latin1[i], len) == 0)
			return 2;
	}
	return 0;
}

void mime_latin1_to_utf8(struct mime_buf *b, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80) {
			mime_buf_addc(b, (char)c);
		} else {
			mime_buf_addc(b, (char)(0xc0 | (c >> 6)));
			mime_buf_addc(b, (char)(0x80 | (c & 0x3f)));
		}
	}
}
