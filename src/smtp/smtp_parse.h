/*
 * smtp_parse.h: pure SMTP parsers. Nothing here touches a socket, so unit
 * tests and fuzzers can feed any split of the input.
 *
 *   smtp_line_*     splits the command stream into lines; only CRLF ends one.
 *   smtp_command_*  turns one command line into a verb and its argument.
 *   smtp_path_*     parses Reverse-path / Forward-path (RFC 5321 4.1.2).
 *   smtp_param_*    parses ESMTP parameters (RFC 5321 4.1.2 Mail-parameters).
 *   smtp_data_*     the DATA end-of-data state machine with dot-unstuffing.
 *   smtp_bdat_*     BDAT's argument and the check of its chunks' text
 *                   (RFC 3030; smtp_parse_ext.c, with the UTF-8 checks).
 */
#ifndef SEALMAIL_SMTP_PARSE_H
#define SEALMAIL_SMTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_PATH_MAX 256      /* RFC 5321 4.5.3.1.3, incl. the brackets */
#define SMTP_LOCAL_PART_MAX 64 /* 4.5.3.1.1 */
#define SMTP_DOMAIN_MAX 255    /* 4.5.3.1.2 */
#define SMTP_MAX_PARAMS 16

/* ---- lines ---------------------------------------------------------- */

enum smtp_line_status {
	SMTP_LINE_NEED_MORE, /* no complete line yet; all input consumed */
	SMTP_LINE_OK,        /* *line_r, *len_r hold a line without its CRLF */
	SMTP_LINE_TOO_LONG,  /* line exceeded the bound; discarded up to its CRLF */
	SMTP_LINE_BARE_LF,   /* a LF not preceded by CR was seen */
	SMTP_LINE_BARE_CR,   /* a CR not followed by LF was seen */
};

/* Accumulates a command line. Owns a buffer of MAX + 1 bytes: a line of at
 * most MAX - 2 octets plus its NUL (the CRLF is not stored). */
struct smtp_line_reader {
	char *buf;
	size_t len;
	size_t max;   /* longest line accepted, incl. CRLF */
	int overflow; /* discarding the rest of an over-long line */
	int saw_cr;   /* last byte taken was CR */
};

void smtp_line_reader_init(struct smtp_line_reader *r, size_t max);
void smtp_line_reader_free(struct smtp_line_reader *r);
/* Forgets any partial line (used after STARTTLS, RFC 3207 4.2). */
void smtp_line_reader_reset(struct smtp_line_reader *r);

/* Takes bytes from IN (LEN of them) until one line is complete or an error is
 * found; *consumed_r says how many were taken. On SMTP_LINE_OK the line
 * (without CRLF, NUL-terminated) is valid until the next call. On
 * SMTP_LINE_BARE_LF / _BARE_CR the partial line is discarded; the byte after
 * the offending one is the next to feed. */
enum smtp_line_status smtp_line_feed(struct smtp_line_reader *r, const char *in, size_t len,
                                     size_t *consumed_r, const char **line_r, size_t *len_r);

/* ---- commands ------------------------------------------------------- */

enum smtp_verb {
	SMTP_VERB_UNKNOWN,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
	SMTP_VERB_BDAT,
};

struct smtp_command {
	enum smtp_verb verb;
	char verb_text[16]; /* as sent, upper-cased, for logs ("" if too long) */
	const char *arg;    /* points into the line; "" when none */
};

/* Splits LINE into verb and argument. The verb is 1 to 15 letters, any case,
 * followed by the end or by one or more spaces. "MAIL FROM:" and "RCPT TO:"
 * (any case, no space before the colon) keep the part after the colon in arg
 * (leading spaces skipped, per common practice). Control characters are
 * refused. Returns 0 (SMTP_VERB_UNKNOWN for a well-formed but unknown verb:
 * reply 500), or -1 with *error_r set to a short reason for a 500/501 reply. */
int smtp_command_parse(const char *line, struct smtp_command *cmd, const char **error_r);

/* The same for a line of LEN bytes as smtp_line_feed() returns it, which may
 * contain NUL bytes: those are refused too. LINE[LEN] must be NUL. */
int smtp_command_parse_len(const char *line, size_t len, struct smtp_command *cmd,
                           const char **error_r);

/* ---- paths and parameters ------------------------------------------- */

struct smtp_path {
	char local[SMTP_LOCAL_PART_MAX * 2 + 3]; /* unquoted form */
	char domain[SMTP_DOMAIN_MAX + 1];        /* ASCII lower-cased; "" for <> or postmaster */
	int null;                                /* "<>" */
	int quoted;                              /* local part was a quoted-string */
	int utf8;                                /* holds non-ASCII (needs SMTPUTF8) */
};

/* What smtp_path_parse_flags() accepts. */
#define SMTP_PATH_NULL 0x1       /* "<>" (MAIL) */
#define SMTP_PATH_POSTMASTER 0x2 /* a bare "<postmaster>" (RCPT) */
#define SMTP_PATH_UTF8 0x4       /* UTF-8 local parts and domains (RFC 6531 3.3) */

struct smtp_param {
	char keyword[32]; /* upper-cased */
	char value[512];  /* "" when absent */
	int has_value;
};

/* Parses "<path> params..." as found after "MAIL FROM:" / "RCPT TO:".
 * ALLOW_NULL permits "<>" (MAIL). Domain literals [1.2.3.4]/[IPv6:...] are
 * accepted syntactically. Source routes ("<@a,@b:u@d>") are refused, as are
 * '%' and '!' in unquoted local parts (no relaying tricks), and a bare
 * "postmaster" (any case; stored as "postmaster") is accepted only when
 * ALLOW_POSTMASTER. Non-ASCII octets are refused (no SMTPUTF8 yet). Params
 * go to *params (up to SMTP_MAX_PARAMS) and their count to *n_params_r;
 * duplicates are not checked. Returns 0 or -1 with *error_r (then *path is
 * all zero and *n_params_r is 0). */
int smtp_path_parse(const char *arg, int allow_null, int allow_postmaster, struct smtp_path *path,
                    struct smtp_param *params, unsigned *n_params_r, const char **error_r);

/* The same with SMTP_PATH_* FLAGS. With SMTP_PATH_UTF8, non-ASCII octets
 * are taken in local parts (atext and qtextSMTP) and domains (U-labels)
 * when they are valid UTF-8 and not C1 controls (RFC 6531 3.3), and set
 * path->utf8; domains are lower-cased in ASCII only (there is no IDNA
 * mapping: a U-label and its A-label are different domains here); length
 * bounds count octets. */
int smtp_path_parse_flags(const char *arg, unsigned flags, struct smtp_path *path,
                          struct smtp_param *params, unsigned *n_params_r, const char **error_r);

/* Formats PATH back as local@domain into BUF (SIZE bytes, truncated if
 * short), quoting the local part if it is not a Dot-string or has '%' or '!'
 * so that smtp_path_parse() takes it back; "postmaster" alone for a bare
 * postmaster, "" for the null path. Returns BUF. */
char *smtp_path_format(const struct smtp_path *path, char *buf, size_t size);

/* 1 if S is a syntactically valid domain (RFC 5321 Domain or
 * address-literal). */
int smtp_domain_valid(const char *s);
/* The same, U-labels allowed (RFC 6531 3.3). */
int smtp_domain_valid_utf8(const char *s);

/* ---- UTF-8 (smtp_parse_ext.c) ----------------------------------------- */

/* The length (2 to 4) of the UTF-8 character at S[0..N) when it is
 * well-formed (RFC 3629 4: shortest form, no surrogates, at most U+10FFFF)
 * and not a C1 control (U+0080-U+009F); else 0, also for any ASCII. */
size_t smtp_utf8_char_len(const char *s, size_t n);
/* 1 if S[0..N) is ASCII without C0 controls or DEL, and UTF-8 as above. */
int smtp_utf8_valid(const char *s, size_t n);

/* ---- DATA ----------------------------------------------------------- */

/* The end-of-data machine. Only <CRLF>.<CRLF> ends the data, where both CRLFs
 * are real CRLF pairs; a bare CR or bare LF never starts or ends a line (the
 * SMTP smuggling class, CVE-2023-51764). A line beginning with '.' has that
 * dot removed (RFC 5321 4.5.2). */
enum smtp_data_state {
	SMTP_DATA_LINE_START, /* at the start of a line (after CRLF) */
	SMTP_DATA_IN_LINE,
	SMTP_DATA_CR,     /* saw CR inside a line */
	SMTP_DATA_DOT,    /* saw '.' at line start */
	SMTP_DATA_DOT_CR, /* saw ".\r" at line start */
	SMTP_DATA_DONE,
};

struct smtp_data_parser {
	enum smtp_data_state state;
	size_t line_len;   /* octets in the current line, incl. a leading dot */
	size_t max_line;   /* longest text line incl. CRLF (RFC: 1000) */
	uint64_t size;     /* octets of message produced so far */
	int line_too_long; /* a line exceeded max_line */
	int bare_lf;       /* saw a LF not preceded by CR */
	int bare_cr;       /* saw a CR not followed by LF */
};

void smtp_data_init(struct smtp_data_parser *p, size_t max_line);

/* Consumes bytes of IN (LEN) and appends the unstuffed message to OUT
 * (which must have room for LEN + 2 bytes); *out_len_r is how many were
 * written, *consumed_r how many were taken. Returns 1 when the end of data
 * was reached (bytes after it are left for the command parser), 0 when more
 * is needed. The message is produced with its CRLFs as sent; the final CRLF
 * of the last line is part of the message, the ".\r\n" is not. A bare CR or
 * LF is passed through as sent (and flagged); a '.' at a line start is
 * dropped whatever follows it. Once done, it takes nothing (returns 1). */
int smtp_data_feed(struct smtp_data_parser *p, const char *in, size_t len, char *out,
                   size_t *out_len_r, size_t *consumed_r);

/* ---- BDAT (RFC 3030; smtp_parse_ext.c) -------------------------------- */

#define SMTP_BDAT_DIGITS_MAX 19 /* a chunk size fits in 63 bits */

/* Parses BDAT's argument: chunk-size [SP "LAST"] (RFC 3030 3, any case,
 * extra spaces tolerated). Returns 0 with *size_r and *last_r, or -1 with
 * *error_r: then the chunk's end is unknown and the session must close. */
int smtp_bdat_parse(const char *arg, uint64_t *size_r, int *last_r, const char **error_r);

/* Checks a chunk's octets as they are stored, with no unstuffing: counts
 * them into p->size, notes a line longer than p->max_line, and a bare CR
 * or bare LF (RFC 5321 2.3.8), across any split of the input and across
 * chunks. P is set up by smtp_data_init(). */
void smtp_bdat_feed(struct smtp_data_parser *p, const char *in, size_t len);
/* The last chunk ended: a CR left pending at the very end was bare. */
void smtp_bdat_finish(struct smtp_data_parser *p);

#endif
