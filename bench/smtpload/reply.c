/*
 * reply.c: smtpload's SMTP reply parser (see reply.h), a byte-at-a-time
 * state machine so that every split of the input gives the same replies.
 */
#include "reply.h"

#include <string.h>
#include <strings.h>

void smtpload_reply_parser_init(struct smtpload_reply_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->state = SMTPLOAD_RS_DIGIT1;
}

/* Appends C to the kept text, marking it truncated once full. */
static void text_add(struct smtpload_reply *r, char c)
{
	if (r->text_len + 1 >= sizeof(r->text)) {
		r->truncated = 1;
		return;
	}
	r->text[r->text_len++] = c;
	r->text[r->text_len] = '\0';
}

/* Records the line's first word as an EHLO keyword when it is one smtpload
 * acts on. Only lines after the first carry keywords (RFC 5321 4.1.1.1). */
static void keyword_check(struct smtpload_reply_parser *p)
{
	static const struct {
		const char *name;
		unsigned flag;
	} known[] = {
	    {"PIPELINING", SMTPLOAD_EXT_PIPELINING},
	    {"STARTTLS", SMTPLOAD_EXT_STARTTLS},
	};

	if (p->reply.n_lines == 0 || p->keyword_len == 0 ||
	    p->keyword_len > SMTPLOAD_REPLY_KEYWORD_MAX)
		return;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strlen(known[i].name) == p->keyword_len &&
		    strncasecmp(known[i].name, p->keyword, p->keyword_len) == 0)
			p->reply.extensions |= known[i].flag;
	}
}

/* A text octet C of the line: collects the first word. */
static void text_octet(struct smtpload_reply_parser *p, char c)
{
	if (p->keyword_ended)
		return;
	if (c == ' ') {
		p->keyword_ended = 1;
		return;
	}
	if (p->keyword_len < SMTPLOAD_REPLY_KEYWORD_MAX)
		p->keyword[p->keyword_len] = c;
	p->keyword_len++; /* past the maximum: matches nothing */
}

/* Ends the current line; returns 1 when it ended the reply, 0 when more
 * lines follow, -1 (with *error_r) when there are too many lines. */
static int line_end(struct smtpload_reply_parser *p, const char **error_r)
{
	keyword_check(p);
	p->reply.n_lines++;
	p->line_len = 0;
	p->keyword_len = 0;
	p->keyword_ended = 0;
	p->state = SMTPLOAD_RS_DIGIT1;
	if (p->last_line)
		return 1;
	if (p->reply.n_lines >= SMTPLOAD_REPLY_LINES_MAX) {
		*error_r = "reply has too many lines";
		return -1;
	}
	text_add(&p->reply, '\r');
	text_add(&p->reply, '\n');
	return 0;
}

/* The code's digit C in state S: its value, or -1 when C may not be there. */
static int code_digit(enum smtpload_reply_state s, char c)
{
	char low = '0', high = '9';

	if (s == SMTPLOAD_RS_DIGIT1) {
		low = '2';
		high = '5';
	} else if (s == SMTPLOAD_RS_DIGIT2) {
		high = '5';
	}
	return c >= low && c <= high ? c - '0' : -1;
}

/* A digit of the code; 0, or -1 with *error_r. */
static int step_digit(struct smtpload_reply_parser *p, char c, const char **error_r)
{
	int d = code_digit(p->state, c);

	if (d < 0) {
		*error_r = "reply line does not start with a code 200-559";
		return -1;
	}
	if (p->state == SMTPLOAD_RS_DIGIT1)
		p->line_code = 0;
	p->line_code = p->line_code * 10 + (unsigned)d;
	if (p->state == SMTPLOAD_RS_DIGIT3) {
		if (p->reply.n_lines > 0 && p->line_code != p->reply.code) {
			*error_r = "reply line's code differs from the first line's";
			return -1;
		}
		p->reply.code = p->line_code;
		p->state = SMTPLOAD_RS_SEPARATOR;
		return 0;
	}
	p->state = p->state == SMTPLOAD_RS_DIGIT1 ? SMTPLOAD_RS_DIGIT2 : SMTPLOAD_RS_DIGIT3;
	return 0;
}

/* Takes one octet C; returns 1 when it completed the reply, 0 when more is
 * needed, -1 with *error_r. */
static int step(struct smtpload_reply_parser *p, char c, const char **error_r)
{
	if (c == '\0') {
		*error_r = "NUL octet in reply";
		return -1;
	}
	if (p->state == SMTPLOAD_RS_LF) {
		if (c != '\n') {
			*error_r = "CR not followed by LF in reply";
			return -1;
		}
		return line_end(p, error_r);
	}
	if (c == '\n') {
		*error_r = "reply line ends with a bare LF";
		return -1;
	}
	if (c != '\r' && ++p->line_len + 2 > SMTPLOAD_REPLY_LINE_MAX) {
		*error_r = "reply line longer than 512 octets";
		return -1;
	}
	switch (p->state) {
	case SMTPLOAD_RS_DIGIT1:
	case SMTPLOAD_RS_DIGIT2:
	case SMTPLOAD_RS_DIGIT3:
		if (step_digit(p, c, error_r) < 0)
			return -1;
		break;
	case SMTPLOAD_RS_SEPARATOR:
		if (c != ' ' && c != '-' && c != '\r') {
			*error_r = "reply code followed by neither ' ', '-' nor CRLF";
			return -1;
		}
		p->last_line = c != '-';
		p->state = c == '\r' ? SMTPLOAD_RS_LF : SMTPLOAD_RS_TEXT;
		break;
	case SMTPLOAD_RS_TEXT:
		if (c == '\r')
			p->state = SMTPLOAD_RS_LF;
		else
			text_octet(p, c);
		break;
	case SMTPLOAD_RS_LF:
		break; /* handled above */
	}
	if (c != '\r')
		text_add(&p->reply, c);
	return 0;
}

enum smtpload_reply_status smtpload_reply_feed(struct smtpload_reply_parser *p, const char *in,
                                               size_t len, size_t *consumed_r, const char **error_r)
{
	if (p->done)
		smtpload_reply_parser_init(p);
	for (size_t i = 0; i < len; i++) {
		int r = step(p, in[i], error_r);

		if (r < 0) {
			smtpload_reply_parser_init(p);
			*consumed_r = i + 1;
			return SMTPLOAD_REPLY_ERROR;
		}
		if (r > 0) {
			p->done = 1;
			*consumed_r = i + 1;
			return SMTPLOAD_REPLY_DONE;
		}
	}
	*consumed_r = len;
	return SMTPLOAD_REPLY_MORE;
}
