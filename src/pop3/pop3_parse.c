/*
 * pop3_parse.c: the POP3 line reader and command parser; see pop3_parse.h.
 * Called by the POP3 session (pop3_session.c, pop3_command.c).
 */
#include "pop3/pop3_parse.h"

#include <string.h>

/* ---- lines ---------------------------------------------------------- */

void pop3_line_reader_init(struct pop3_line_reader *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	pop3_line_reader_set_max(r, max);
}

void pop3_line_reader_set_max(struct pop3_line_reader *r, size_t max)
{
	r->max = max < 3 ? 3 : max > sizeof(r->buf) ? sizeof(r->buf) : max;
}

void pop3_line_reader_reset(struct pop3_line_reader *r)
{
	explicit_bzero(r->buf, sizeof(r->buf));
	r->len = 0;
	r->overflow = 0;
	r->saw_cr = 0;
}

/* A CRLF ended the line: the line, or the news that it was too long. */
static enum pop3_line_status line_finish(struct pop3_line_reader *r, const char **line_r,
                                         size_t *len_r)
{
	int overflow = r->overflow;

	r->buf[r->len] = '\0';
	*line_r = r->buf;
	*len_r = overflow ? 0 : r->len;
	r->len = 0;
	r->overflow = 0;
	r->saw_cr = 0;
	if (overflow) {
		*line_r = "";
		return POP3_LINE_TOO_LONG;
	}
	return POP3_LINE_OK;
}

/* Keeps C unless the line is already too long (the CRLF needs 2 of max). */
static void line_append(struct pop3_line_reader *r, char c)
{
	if (r->overflow)
		return;
	if (r->len + 2 >= r->max) {
		r->overflow = 1;
		explicit_bzero(r->buf, r->len);
		r->len = 0;
		return;
	}
	r->buf[r->len++] = c;
}

enum pop3_line_status pop3_line_feed(struct pop3_line_reader *r, const char *in, size_t len,
                                     size_t *consumed_r, const char **line_r, size_t *len_r)
{
	*line_r = "";
	*len_r = 0;
	for (size_t i = 0; i < len; i++) {
		if (r->saw_cr) {
			if (in[i] == '\n') {
				*consumed_r = i + 1;
				return line_finish(r, line_r, len_r);
			}
			pop3_line_reader_reset(r);
			*consumed_r = i; /* IN[i] is looked at again */
			return POP3_LINE_BARE_CR;
		}
		if (in[i] == '\r') {
			r->saw_cr = 1;
		} else if (in[i] == '\n') {
			pop3_line_reader_reset(r);
			*consumed_r = i + 1;
			return POP3_LINE_BARE_LF;
		} else {
			line_append(r, in[i]);
		}
	}
	*consumed_r = len;
	return POP3_LINE_MORE;
}

/* ---- commands ------------------------------------------------------- */

static const struct {
	const char *name;
	enum pop3_verb verb;
} pop3_verbs[] = {
    {"USER", POP3_VERB_USER}, {"PASS", POP3_VERB_PASS}, {"AUTH", POP3_VERB_AUTH},
    {"STLS", POP3_VERB_STLS}, {"CAPA", POP3_VERB_CAPA}, {"QUIT", POP3_VERB_QUIT},
    {"STAT", POP3_VERB_STAT}, {"LIST", POP3_VERB_LIST}, {"RETR", POP3_VERB_RETR},
    {"DELE", POP3_VERB_DELE}, {"NOOP", POP3_VERB_NOOP}, {"RSET", POP3_VERB_RSET},
    {"TOP", POP3_VERB_TOP},   {"UIDL", POP3_VERB_UIDL}, {"APOP", POP3_VERB_APOP},
};

static enum pop3_verb verb_lookup(const char *keyword)
{
	for (size_t i = 0; i < sizeof(pop3_verbs) / sizeof(pop3_verbs[0]); i++)
		if (strcmp(keyword, pop3_verbs[i].name) == 0)
			return pop3_verbs[i].verb;
	return POP3_VERB_UNKNOWN;
}

/* Reads the keyword at the start of LINE into CMD; returns its length, or
 * 0 when it is not 3 or 4 letters followed by a space or the end. */
static size_t keyword_get(const char *line, struct pop3_command *cmd)
{
	size_t n = 0;

	while (n <= POP3_KEYWORD_MAX && line[n] != '\0' && line[n] != ' ') {
		char c = line[n];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c < 'A' || c > 'Z')
			return 0;
		if (n < POP3_KEYWORD_MAX)
			cmd->keyword[n] = c;
		n++;
	}
	if (n < 3 || n > POP3_KEYWORD_MAX) {
		cmd->keyword[0] = '\0';
		return 0;
	}
	cmd->keyword[n] = '\0';
	return n;
}

/* Splits P (the text after the keyword's space) into CMD's arguments at
 * single spaces; -1 for an empty argument or too many. */
static int args_split(char *p, struct pop3_command *cmd)
{
	while (*p != '\0') {
		char *sp = strchr(p, ' ');
		size_t n = sp != NULL ? (size_t)(sp - p) : strlen(p);

		if (n == 0 || cmd->n_args == POP3_ARGS_MAX)
			return -1;
		cmd->args[cmd->n_args] = p;
		cmd->arg_len[cmd->n_args++] = n;
		if (sp == NULL)
			break;
		*sp = '\0';
		p = sp + 1;
		if (*p == '\0')
			return -1; /* a space at the end */
	}
	return 0;
}

int pop3_command_parse(char *line, size_t len, struct pop3_command *cmd, const char **error_r)
{
	size_t n;

	memset(cmd, 0, sizeof(*cmd));
	if (len == 0 || memchr(line, '\0', len) != NULL) {
		*error_r = len == 0 ? "empty command" : "NUL in the command";
		return -1;
	}
	n = keyword_get(line, cmd);
	if (n == 0) {
		*error_r = "malformed keyword";
		return -1;
	}
	cmd->verb = verb_lookup(cmd->keyword);
	if (line[n] == '\0')
		return 0;
	if (cmd->verb == POP3_VERB_PASS && n + 1 < len) {
		cmd->args[0] = line + n + 1;
		cmd->arg_len[0] = len - n - 1;
		cmd->n_args = 1;
		return 0;
	}
	if (args_split(line + n + 1, cmd) < 0) {
		memset(cmd->args, 0, sizeof(cmd->args));
		cmd->n_args = 0;
		*error_r = "malformed arguments";
		return -1;
	}
	return 0;
}

int pop3_number_parse(const char *s, unsigned *v_r)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i == 9)
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (i == 0)
		return -1;
	*v_r = v;
	return 0;
}
