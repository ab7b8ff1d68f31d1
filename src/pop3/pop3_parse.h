/*
 * pop3_parse.h: pure POP3 parsers (RFC 1939, RFC 2449, RFC 5034), used by
 * the POP3 session (pop3_session.c) and its tests and fuzz harness. Nothing
 * here touches a socket, so any split of the input can be fed.
 *
 *   pop3_line_*     splits the client's stream into lines; only CRLF ends
 *                   one, a bare CR or LF is an error.
 *   pop3_command_*  turns one command line into a verb and its arguments.
 */
#ifndef SEALMAIL_POP3_PARSE_H
#define SEALMAIL_POP3_PARSE_H

#include <stddef.h>

/* RFC 2449 4: a command line is at most 255 octets, its CRLF included. */
#define POP3_LINE_MAX 255
/* A SASL response line after "+ " (RFC 5034 4 lifts the 255 octets for
 * them); PLAIN with the longest user and password fits well. */
#define POP3_AUTH_LINE_MAX 4096
#define POP3_KEYWORD_MAX 4 /* RFC 1939 3: keywords are three or four characters */
#define POP3_ARGS_MAX 2    /* TOP msg n; AUTH mechanism initial-response */

/* ---- lines ---------------------------------------------------------- */

enum pop3_line_status {
	POP3_LINE_MORE,     /* no complete line yet; all input consumed */
	POP3_LINE_OK,       /* *line_r, *len_r hold a line without its CRLF */
	POP3_LINE_TOO_LONG, /* the line exceeded the bound; discarded up to its CRLF */
	POP3_LINE_BARE_LF,  /* an LF without CR before it */
	POP3_LINE_BARE_CR,  /* a CR without LF after it */
};

/* Accumulates one line into a buffer of POP3_AUTH_LINE_MAX octets; MAX
 * (at most that) is the longest line accepted now, CRLF included. */
struct pop3_line_reader {
	char buf[POP3_AUTH_LINE_MAX];
	size_t len;
	size_t max;
	int overflow; /* discarding the rest of an over-long line */
	int saw_cr;   /* the last octet taken was a CR */
};

void pop3_line_reader_init(struct pop3_line_reader *r, size_t max);
/* Changes the bound for the lines that follow (the SASL response). */
void pop3_line_reader_set_max(struct pop3_line_reader *r, size_t max);
/* Forgets any partial line (after STLS: RFC 2595 4, no plaintext kept)
 * and wipes the buffer, which may have held a password. */
void pop3_line_reader_reset(struct pop3_line_reader *r);

/* Takes octets of IN until one line is complete or an error is found;
 * *consumed_r says how many were taken. POP3_LINE_OK: the line (no CRLF,
 * NUL-terminated) is valid until the next call. POP3_LINE_TOO_LONG is
 * reported when the CRLF of the over-long line arrives. BARE_LF / BARE_CR:
 * the partial line is dropped; the octet after the LF, or the one that
 * followed the CR, is the next to feed. */
enum pop3_line_status pop3_line_feed(struct pop3_line_reader *r, const char *in, size_t len,
                                     size_t *consumed_r, const char **line_r, size_t *len_r);

/* ---- commands ------------------------------------------------------- */

enum pop3_verb {
	POP3_VERB_UNKNOWN,
	POP3_VERB_USER,
	POP3_VERB_PASS,
	POP3_VERB_AUTH,
	POP3_VERB_STLS,
	POP3_VERB_CAPA,
	POP3_VERB_QUIT,
	POP3_VERB_STAT,
	POP3_VERB_LIST,
	POP3_VERB_RETR,
	POP3_VERB_DELE,
	POP3_VERB_NOOP,
	POP3_VERB_RSET,
	POP3_VERB_TOP,
	POP3_VERB_UIDL,
	POP3_VERB_APOP, /* known, refused: we keep no plaintext secrets */
};

struct pop3_command {
	enum pop3_verb verb;
	char keyword[POP3_KEYWORD_MAX + 1]; /* upper-cased, for logs; "" if too long */
	/* the arguments, pointing into the line. PASS has one, the rest of
	 * the line after its space (RFC 1939 7: a password may hold spaces);
	 * other verbs split at spaces. */
	const char *args[POP3_ARGS_MAX];
	size_t arg_len[POP3_ARGS_MAX];
	unsigned n_args;
};

/* Parses LINE (LEN octets, NUL-terminated, no CRLF) into CMD; the line is
 * modified (arguments are NUL-terminated in place). -1 with *error_r for an
 * empty line, a NUL, a keyword that is not 3-4 letters, more than
 * POP3_ARGS_MAX arguments. An unknown keyword is not an error here:
 * POP3_VERB_UNKNOWN. */
int pop3_command_parse(char *line, size_t len, struct pop3_command *cmd, const char **error_r);

/* A message number or line count: decimal digits only, no sign, at most
 * 9 digits (RFC 1939 msg arguments are positive numbers); -1 if not. */
int pop3_number_parse(const char *s, unsigned *v_r);

#endif
