/*
 * smtp_reply.h: pure pieces of the SMTP client (sealmail delivering to
 * another server): the reply parser and the EHLO extension lookup.
 */
#ifndef SEALMAIL_SMTP_REPLY_H
#define SEALMAIL_SMTP_REPLY_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_REPLY_LINE_MAX 512  /* RFC 5321 4.5.3.1.5, incl. CRLF */
#define SMTP_REPLY_MAX_LINES 100 /* an EHLO reply has ~15 */
#define SMTP_REPLY_TEXT_MAX 4096 /* the lines' texts joined */

/* ---- replies (RFC 5321 4.2, RFC 3463 enhanced codes) ---------------- */

struct smtp_reply {
	unsigned code;                  /* 200..599 */
	char enhanced[16];              /* "4.7.5" when the first line has one, else "" */
	char text[SMTP_REPLY_TEXT_MAX]; /* every line's text (after the code, the
	                                   separator and the enhanced code of the
	                                   first line), joined by '\n'; cut short
	                                   (still NUL-terminated) when longer */
	unsigned n_lines;
	/* for EHLO: */
	char lines[SMTP_REPLY_MAX_LINES][SMTP_REPLY_LINE_MAX]; /* raw text of each line:
	                                                          all after the code and
	                                                          the separator, the
	                                                          enhanced code kept;
	                                                          [n_lines..] undefined */
};

/* The enhanced code (RFC 2034 4, RFC 3463 2) is recognised only on the first
 * line, only right after the separator, only as class.subject.detail with a
 * class equal to the reply code's first digit (2, 4 or 5), a subject and a
 * detail of 1 to 3 digits each, followed by a space or the end of the line.
 * It and the spaces after it are taken out of the first line's part of
 * text; later lines keep theirs (many servers repeat it on every line). */

enum smtp_reply_status {
	SMTP_REPLY_NEED_MORE, /* no complete reply yet; all input consumed */
	SMTP_REPLY_OK,        /* *reply holds a complete reply */
	SMTP_REPLY_ERROR,     /* the server broke the protocol; *error_r says how.
	                         The connection must be dropped. */
};

struct smtp_reply_parser {
	char line[SMTP_REPLY_LINE_MAX + 1];
	size_t len;
	int saw_cr;
	struct smtp_reply cur; /* being assembled */
	int in_reply;          /* a "ddd-" line was seen */
};

/* Line lengths count the line's text without its CRLF (or LF): at most
 * SMTP_REPLY_LINE_MAX - 2 octets. */

void smtp_reply_parser_init(struct smtp_reply_parser *p);

/* Takes bytes of IN until one reply is complete or an error is found;
 * *consumed_r says how many were taken (the rest belongs to later
 * replies: the caller must not throw it away, except after STARTTLS, where
 * it must). Lines end with CRLF; a bare LF is accepted as a line end from a
 * server (many send it), a line longer than SMTP_REPLY_LINE_MAX, a code that
 * is not three digits in 2xx-5xx, a line whose code differs from the
 * reply's first line, a separator other than ' ' or '-', or more than
 * SMTP_REPLY_MAX_LINES lines are errors. So are a CR not followed by LF and a
 * NUL byte, which no server has a reason to send. A line of just the code
 * ("250") is a last line with an empty text. After SMTP_REPLY_ERROR the
 * parser is back in its initial state (the caller drops the connection). */
enum smtp_reply_status smtp_reply_feed(struct smtp_reply_parser *p, const char *in, size_t len,
                                       size_t *consumed_r, struct smtp_reply *reply,
                                       const char **error_r);

/* 1 when an EHLO reply advertises KEYWORD (case-insensitive, first word of
 * a line after the first); *param_r (may be NULL) then points at what
 * follows it after the spaces ("" if nothing). An empty KEYWORD or one with a
 * space is never advertised. */
int smtp_reply_has_extension(const struct smtp_reply *r, const char *keyword, const char **param_r);

#endif
