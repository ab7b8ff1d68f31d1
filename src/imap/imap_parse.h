/*
 * imap_parse.h: the pure IMAP command parser (RFC 9051 2.2, 9) and the
 * helpers that write IMAP strings. Nothing here touches a socket: the IMAP
 * session feeds what it read and gets whole commands back, so unit tests and
 * fuzzers can feed any split of the input.
 *
 *   imap_parser_*  incremental command parser: tag, name, arguments (atoms,
 *                  quoted strings, literals {n} {n+} ~{n}, NIL, lists).
 *   imap_match     LIST / LSUB patterns (RFC 9051 6.3.9).
 *   imap_out_*     a growable output buffer with astring / nstring writers.
 */
#ifndef SEALMAIL_IMAP_PARSE_H
#define SEALMAIL_IMAP_PARSE_H

#include <stddef.h>

#define IMAP_LINE_MAX (64 * 1024) /* one command line, literals excluded */
#define IMAP_ARGS_MAX 10000       /* arguments in a command, lists included */
#define IMAP_DEPTH_MAX 32         /* list nesting */
#define IMAP_TAG_MAX 63           /* longest tag kept (the tag buffer less its NUL) */
#define IMAP_NAME_MAX 31          /* longest command name */
/* A refused non-synchronising literal up to this size is read and thrown
 * away so the stream stays in step; a larger one is FATAL. */
#define IMAP_LITERAL_SKIP_MAX (1024 * 1024)

enum imap_arg_type {
	IMAP_ARG_ATOM,
	IMAP_ARG_STRING, /* quoted */
	IMAP_ARG_LITERAL,
	IMAP_ARG_LIST,
	IMAP_ARG_NIL,
};

/* NIL (any case) is IMAP_ARG_NIL with its text kept in str, since where an
 * astring is wanted the atom NIL is a name. Atoms are kept as written (not
 * upper-cased). */
struct imap_arg {
	enum imap_arg_type type;
	char *str; /* ATOM, STRING, LITERAL: NUL-terminated too */
	size_t len;
	int literal8;          /* ~{n} (RFC 3516) */
	struct imap_arg *list; /* LIST */
	unsigned n;
};

/* An atom here is what RFC 9051 calls astring-atom plus the FETCH section and
 * sequence-set characters: "BODY.PEEK[HEADER.FIELDS (A B)]<0.100>" is one ATOM
 * whose text includes the bracketed part with its spaces and parentheses. */
struct imap_command {
	char tag[64];
	char name[32]; /* upper-cased; for "UID FETCH" name = "UID" and the first
	                  argument is the atom FETCH */
	struct imap_arg *args;
	unsigned n_args;
};

struct imap_parser_limits {
	size_t literal_max;      /* larger literals are refused */
	size_t literal_plus_max; /* non-synchronising {n+} above this: error (RFC 7888
	                            LITERAL-: 4096) */
};

struct imap_parser;

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits);
void imap_parser_set_limits(struct imap_parser *p, const struct imap_parser_limits *limits);
void imap_parser_free(struct imap_parser **p);

enum imap_parse_result {
	IMAP_PARSE_MORE,     /* all of DATA consumed; need more */
	IMAP_PARSE_COMMAND,  /* *cmd_r is a whole command (valid until the next feed) */
	IMAP_PARSE_CONTINUE, /* a synchronising literal was announced: send "+ Ready", go on */
	IMAP_PARSE_ERROR,    /* a BAD: *error_r; tag in *cmd_r->tag when known ("*" if not);
	                        the parser skipped to the end of the line (and past an announced
	                        literal it refused, when it was non-synchronising) */
	IMAP_PARSE_FATAL,    /* cannot resynchronise (a refused non-synchronising literal too
	                        large to skip, a line over IMAP_LINE_MAX): answer BAD and close */
};

/* Feeds DATA; *consumed_r says how much was used (the rest is fed again later).
 * At IMAP_PARSE_CONTINUE *cmd_r has the tag and name (no arguments yet).
 * Empty lines between commands are ignored. After FATAL every feed is FATAL
 * (nothing consumed) until imap_parser_reset. */
enum imap_parse_result imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
                                        size_t *consumed_r, struct imap_command **cmd_r,
                                        const char **error_r);
/* For what the client sends that is not a command: IDLE's "DONE" and
 * AUTHENTICATE responses (RFC 9051 6.3.13, 6.2.2). Takes one CRLF line:
 * IMAP_PARSE_COMMAND with *line_r (NUL-terminated, no CRLF, valid until the
 * next feed), MORE, ERROR (a bare CR or LF; the line is dropped) or FATAL
 * (over IMAP_LINE_MAX). Call it only between commands, for whole lines. */
enum imap_parse_result imap_parser_feed_line(struct imap_parser *p, const char *data, size_t len,
                                             size_t *consumed_r, const char **line_r, size_t *len_r,
                                             const char **error_r);
/* Forgets any partial command (after STARTTLS: no plaintext kept). */
void imap_parser_reset(struct imap_parser *p);

/* LIST pattern matching (RFC 9051 6.3.9): "*" matches anything, "%" anything
 * but DELIM. 1 on a match, 0 when not. */
int imap_match(const char *pattern, const char *name, char delim);

/* A growable output buffer; the caller frees buf. */
struct imap_out {
	char *buf;
	size_t len, size;
};

/* The astring as IMAP wants it written: atom when possible, else quoted, else
 * literal {n}\r\n... */
void imap_out_astring(struct imap_out *o, const char *s, size_t len);
/* As imap_out_astring but never an atom (a string); NIL for s == NULL. */
void imap_out_nstring(struct imap_out *o, const char *s, size_t len);
void imap_out_printf(struct imap_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends LEN raw bytes. */
void imap_out_append(struct imap_out *o, const void *data, size_t len);

#endif
