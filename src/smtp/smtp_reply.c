/*
 * smtp_reply.c: the pure pieces of the SMTP client declared in smtp_reply.h:
 * the reply parser, which takes the server's bytes in any split, and the
 * EHLO extension lookup (the encoder for DATA is mail/dotstuff.c).
 *
 * No I/O, no allocation, no global state, no locale: character classes are
 * plain ASCII. Errors are static strings fit for a log line.
 */
#include "smtp/smtp_reply.h"

#include <string.h>

/* A line's text without its CRLF (RFC 5321 4.5.3.1.5 counts the CRLF). */
#define REPLY_CONTENT_MAX (SMTP_REPLY_LINE_MAX - 2)

#define ERR_LONG "reply line too long"
#define ERR_SHORT "reply line shorter than a reply code"
#define ERR_CODE "reply code is not three digits in 2xx-5xx"
#define ERR_SEPARATOR "reply code not followed by ' ' or '-'"
#define ERR_MIXED "reply lines with different codes"
#define ERR_MANY "too many lines in one reply"
#define ERR_BARE_CR "bare CR in a reply"
#define ERR_NUL "NUL byte in a reply"

enum line_result {
	LINE_ERROR = -1,
	LINE_MORE = 0, /* a "ddd-" line: the reply goes on */
	LINE_LAST = 1, /* a "ddd " or "ddd" line: the reply is complete */
};

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char to_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

/* ---- replies ----------------------------------------------------------- */

static void reply_clear(struct smtp_reply *r)
{
	r->code = 0;
	r->enhanced[0] = '\0';
	r->text[0] = '\0';
	r->n_lines = 0;
}

void smtp_reply_parser_init(struct smtp_reply_parser *p)
{
	p->line[0] = '\0';
	p->len = 0;
	p->saw_cr = 0;
	p->in_reply = 0;
	reply_clear(&p->cur);
}

/* Number of digits (at most 3, at least 1) at S, or 0. */
static size_t digits_1_to_3(const char *s)
{
	size_t n = 0;

	while (n < 3 && is_digit(s[n]))
		n++;
	return n;
}

/* Length of the enhanced status code (RFC 3463 2) of class CLASS_DIGIT at the
 * start of TEXT, when a space or the end follows it; else 0. */
static size_t enhanced_code_len(const char *text, char class_digit)
{
	size_t i, n;

	if (class_digit != '2' && class_digit != '4' && class_digit != '5')
		return 0;
	if (text[0] != class_digit || text[1] != '.')
		return 0;
	i = 2;
	n = digits_1_to_3(text + i);
	if (n == 0 || text[i + n] != '.')
		return 0;
	i += n + 1;
	n = digits_1_to_3(text + i);
	if (n == 0)
		return 0;
	i += n;
	return text[i] == ' ' || text[i] == '\0' ? i : 0;
}

/* Takes the enhanced code off the first line's TEXT into R->enhanced;
 * returns the rest of the text. */
static const char *take_enhanced_code(struct smtp_reply *r, const char *text)
{
	size_t n = enhanced_code_len(text, (char)('0' + r->code / 100));

	if (n == 0)
		return text;
	memcpy(r->enhanced, text, n);
	r->enhanced[n] = '\0';
	text += n;
	while (*text == ' ')
		text++;
	return text;
}

/* Appends one line's TEXT to R->text, after a '\n' unless it is the first;
 * cuts it short when R->text is full. */
static void text_append(struct smtp_reply *r, const char *text)
{
	size_t used = strlen(r->text), room = sizeof(r->text) - 1 - used;
	size_t n = strlen(text);

	if (r->n_lines > 0 && room > 0) {
		r->text[used++] = '\n';
		room--;
	}
	if (n > room)
		n = room;
	memcpy(r->text + used, text, n);
	r->text[used + n] = '\0';
}

/* Parses the code and separator of the line in P->line; returns the code, or
 * 0 with *ERROR_R set. */
static unsigned line_code(const struct smtp_reply_parser *p, const char **error_r)
{
	const char *line = p->line;

	if (p->len < 3) {
		*error_r = ERR_SHORT;
		return 0;
	}
	if (line[0] < '2' || line[0] > '5' || !is_digit(line[1]) || !is_digit(line[2])) {
		*error_r = ERR_CODE;
		return 0;
	}
	if (p->len > 3 && line[3] != ' ' && line[3] != '-') {
		*error_r = ERR_SEPARATOR;
		return 0;
	}
	return (unsigned)(line[0] - '0') * 100 + (unsigned)(line[1] - '0') * 10 +
	       (unsigned)(line[2] - '0');
}

/* Adds the complete line in P->line to the reply being assembled. */
static enum line_result reply_add_line(struct smtp_reply_parser *p, const char **error_r)
{
	struct smtp_reply *r = &p->cur;
	unsigned code = line_code(p, error_r);
	const char *text;
	int last;

	if (code == 0)
		return LINE_ERROR;
	text = p->len > 3 ? p->line + 4 : "";
	last = p->len == 3 || p->line[3] == ' ';
	if (r->n_lines > 0 && code != r->code) {
		*error_r = ERR_MIXED;
		return LINE_ERROR;
	}
	if (r->n_lines == SMTP_REPLY_MAX_LINES) {
		*error_r = ERR_MANY;
		return LINE_ERROR;
	}
	memcpy(r->lines[r->n_lines], text, strlen(text) + 1);
	if (r->n_lines == 0) {
		r->code = code;
		text = take_enhanced_code(r, text);
	}
	text_append(r, text);
	r->n_lines++;
	p->in_reply = !last;
	return last ? LINE_LAST : LINE_MORE;
}

/* Takes one byte of a reply. */
static enum line_result reply_byte(struct smtp_reply_parser *p, char c, const char **error_r)
{
	if (p->saw_cr && c != '\n') {
		*error_r = ERR_BARE_CR;
		return LINE_ERROR;
	}
	if (c == '\r') {
		p->saw_cr = 1;
		return LINE_MORE;
	}
	if (c == '\n') {
		enum line_result res;

		p->saw_cr = 0;
		res = reply_add_line(p, error_r);
		p->len = 0;
		p->line[0] = '\0';
		return res;
	}
	if (c == '\0') {
		*error_r = ERR_NUL;
		return LINE_ERROR;
	}
	if (p->len == REPLY_CONTENT_MAX) {
		*error_r = ERR_LONG;
		return LINE_ERROR;
	}
	p->line[p->len++] = c;
	p->line[p->len] = '\0';
	return LINE_MORE;
}

/* Copies the used part of SRC (not the unused lines) into DST. */
static void reply_copy(struct smtp_reply *dst, const struct smtp_reply *src)
{
	dst->code = src->code;
	memcpy(dst->enhanced, src->enhanced, sizeof(dst->enhanced));
	memcpy(dst->text, src->text, strlen(src->text) + 1);
	dst->n_lines = src->n_lines;
	memcpy(dst->lines, src->lines, src->n_lines * sizeof(src->lines[0]));
}

enum smtp_reply_status smtp_reply_feed(struct smtp_reply_parser *p, const char *in, size_t len,
                                       size_t *consumed_r, struct smtp_reply *reply,
                                       const char **error_r)
{
	for (size_t i = 0; i < len; i++) {
		enum line_result res = reply_byte(p, in[i], error_r);

		if (res == LINE_MORE)
			continue;
		*consumed_r = i + 1;
		if (res == LINE_ERROR) {
			smtp_reply_parser_init(p);
			return SMTP_REPLY_ERROR;
		}
		reply_copy(reply, &p->cur);
		reply_clear(&p->cur);
		return SMTP_REPLY_OK;
	}
	*consumed_r = len;
	return SMTP_REPLY_NEED_MORE;
}

/* 1 when LINE starts with KEYWORD (LEN octets, any case) and a space or the
 * end follows it. */
static int line_has_keyword(const char *line, const char *keyword, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (to_lower(line[i]) != to_lower(keyword[i]))
			return 0;
	}
	return line[len] == ' ' || line[len] == '\0';
}

int smtp_reply_has_extension(const struct smtp_reply *r, const char *keyword, const char **param_r)
{
	size_t len = strlen(keyword);

	if (len == 0 || strchr(keyword, ' ') != NULL) /* not an ehlo-keyword */
		return 0;
	for (unsigned i = 1; i < r->n_lines; i++) {
		const char *param = r->lines[i] + len;

		if (!line_has_keyword(r->lines[i], keyword, len))
			continue;
		while (*param == ' ')
			param++;
		if (param_r != NULL)
			*param_r = param;
		return 1;
	}
	return 0;
}
