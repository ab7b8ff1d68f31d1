/*
 * reply.h: smtpload's SMTP reply parser. Pure: it takes the bytes a server
 * sent and returns complete replies (code, line count, the raw text kept for
 * error messages, and the EHLO keywords smtpload acts on). It never touches a
 * socket, so tests/unit/test_smtpload_reply.c and the fuzz harness can feed it
 * any split of the input. Independent of sealmail's own parser on purpose:
 * smtpload is a separate client that must not share the server's code.
 */
#ifndef SMTPLOAD_REPLY_H
#define SMTPLOAD_REPLY_H

#include <stddef.h>

#define SMTPLOAD_REPLY_LINE_MAX 512   /* RFC 5321 4.5.3.1.5: a reply line, CRLF included */
#define SMTPLOAD_REPLY_LINES_MAX 100  /* lines in one reply (an EHLO reply has ~15) */
#define SMTPLOAD_REPLY_TEXT_MAX 1024  /* octets of a reply kept for messages (NUL included) */
#define SMTPLOAD_REPLY_KEYWORD_MAX 32 /* an EHLO keyword longer than this matches nothing */

/* EHLO keywords (RFC 5321 4.1.1.1: the first word of each line after the
 * first), case-insensitive. */
enum smtpload_extension {
	SMTPLOAD_EXT_PIPELINING = 1 << 0, /* RFC 2920 */
	SMTPLOAD_EXT_STARTTLS = 1 << 1,   /* RFC 3207 */
};

struct smtpload_reply {
	unsigned code;       /* 200..559 */
	unsigned n_lines;    /* 1..SMTPLOAD_REPLY_LINES_MAX */
	unsigned extensions; /* SMTPLOAD_EXT_* seen as a first word on lines 2.. */
	int truncated;       /* text was cut at SMTPLOAD_REPLY_TEXT_MAX - 1 octets */
	size_t text_len;
	char text[SMTPLOAD_REPLY_TEXT_MAX]; /* the reply as sent, codes included, its
	                                       lines joined by CRLF, the last CRLF left
	                                       out; NUL-terminated */
};

enum smtpload_reply_status {
	SMTPLOAD_REPLY_MORE,  /* no complete reply yet; all input was consumed */
	SMTPLOAD_REPLY_DONE,  /* parser->reply holds a complete reply */
	SMTPLOAD_REPLY_ERROR, /* the server broke the protocol; the connection must go */
};

enum smtpload_reply_state {
	SMTPLOAD_RS_DIGIT1,
	SMTPLOAD_RS_DIGIT2,
	SMTPLOAD_RS_DIGIT3,
	SMTPLOAD_RS_SEPARATOR,
	SMTPLOAD_RS_TEXT,
	SMTPLOAD_RS_LF,
};

struct smtpload_reply_parser {
	enum smtpload_reply_state state;
	unsigned line_code; /* the code of the line being read */
	size_t line_len;    /* octets of the line so far, its CRLF excluded */
	int last_line;      /* the line being read has ' ' or no separator */
	int done;           /* reply is complete: the next feed starts a new one */
	size_t keyword_len; /* octets of the line's first word so far */
	int keyword_ended;  /* a space after the first word was seen */
	char keyword[SMTPLOAD_REPLY_KEYWORD_MAX];
	struct smtpload_reply reply;
};

void smtpload_reply_parser_init(struct smtpload_reply_parser *p);

/*
 * Takes bytes of IN until one reply is complete or the input is bad;
 * *consumed_r says how many octets were taken (the rest belongs to later
 * replies). A reply (RFC 5321 4.2) is lines "ddd-text" CRLF ending with one
 * "ddd text" CRLF or "ddd" CRLF; all its lines carry the same code, whose
 * digits are 2-5, 0-5 and 0-9. Lines end with CRLF only: a bare LF, a CR not
 * followed by LF, a NUL, a line longer than SMTPLOAD_REPLY_LINE_MAX (CRLF
 * included), more than SMTPLOAD_REPLY_LINES_MAX lines, another separator
 * and a code that changes within a reply are errors (*error_r says which;
 * the parser is then reset). After SMTPLOAD_REPLY_DONE the reply is in
 * p->reply until the next call.
 */
enum smtpload_reply_status smtpload_reply_feed(struct smtpload_reply_parser *p, const char *in,
                                               size_t len, size_t *consumed_r,
                                               const char **error_r);

#endif
