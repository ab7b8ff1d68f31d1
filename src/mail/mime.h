/*
 * mime.h: the MIME structure of one message held in memory (RFC 2045,
 * 2046, 2047, 2231) and the IMAP texts made from it (RFC 9051 7.5.2
 * ENVELOPE, BODY, BODYSTRUCTURE; 6.4.5 FETCH sections; 6.4.4 SEARCH
 * helpers). Used by the store role (fetch, search, cache) and the IMAP
 * fetch code. Pure: no I/O.
 *
 * The message is held with CRLF line ends (mail_to_crlf() converts a
 * Maildir file's LF); LF-only input is tolerated and parses the same way,
 * but offsets then refer to that buffer. Never fails on broken MIME: what
 * cannot be parsed is one text/plain part, as Dovecot does. Bounds:
 * MIME_DEPTH_MAX nesting levels, MIME_PARTS_MAX parts; beyond them the
 * rest of a part is one opaque part.
 */
#ifndef SEALMAIL_MAIL_MIME_H
#define SEALMAIL_MAIL_MIME_H

#include <stddef.h>
#include <stdint.h>

#define MIME_DEPTH_MAX 32          /* multipart / message nesting levels */
#define MIME_PARTS_MAX 1000        /* parts in one message */
#define MIME_PARAMS_MAX 64         /* parameters kept per header field */
#define MIME_FIELD_MAX (64 * 1024) /* one unfolded header field kept */
#define MIME_BOUNDARY_MAX 70       /* RFC 2046 5.1.1 (longer ones still work) */
#define MIME_SECTION_PARTS_MAX 32  /* part numbers in a FETCH section */

/* LF -> CRLF (bare CR and existing CRLF kept); allocated, NUL-terminated. */
char *mail_to_crlf(const char *data, size_t len, size_t *len_r);

struct mime_part {
	size_t header_start, header_end; /* header_end: after the blank line (or end) */
	size_t body_start, body_end;
	char *type, *subtype; /* as written, default text/plain (message/rfc822 ...) */
	char **params;        /* name, value pairs (RFC 2231 joined and decoded; a
	                         charset-encoded one is named "NAME*", RFC 9051 7.5.2) */
	unsigned n_params;
	char *id, *description, *encoding, *md5, *disposition, **disp_params;
	unsigned n_disp_params;
	char *language, *location;
	unsigned lines;             /* body lines (text, message/rfc822) */
	struct mime_part *children; /* multipart parts; message/rfc822: 1 */
	unsigned n_children;
};

struct mime_message {
	struct mime_part root;
	const char *data;
	size_t len;
};

/* Parses DATA (LEN octets); keeps a pointer to DATA, which must outlive the
 * result. Never NULL. */
struct mime_message *mime_parse(const char *data, size_t len);
void mime_free(struct mime_message **m);

/* IMAP texts (RFC 9051 7.5.2), allocated. */
char *mime_envelope(const struct mime_message *m); /* "(date subject (from) ...)" */
char *mime_bodystructure(const struct mime_message *m, int extensible); /* BODYSTRUCTURE / BODY */
/* The same for one part (a message/rfc822 part's child is the encapsulated
 * message: its header gives the ENVELOPE). */
char *mime_part_envelope(const struct mime_message *m, const struct mime_part *p);
char *mime_part_bodystructure(const struct mime_message *m, const struct mime_part *p,
                              int extensible);

/* A FETCH section (RFC 9051 6.4.5): part numbers, then what. */
enum mime_section_what {
	MIME_SECTION_ALL,
	MIME_SECTION_HEADER,
	MIME_SECTION_HEADER_FIELDS,
	MIME_SECTION_HEADER_FIELDS_NOT,
	MIME_SECTION_TEXT,
	MIME_SECTION_MIME
};
struct mime_section {
	unsigned part[32]; /* "1.2" = {1, 2}; none = the message */
	unsigned n_part;
	enum mime_section_what what;
	char **fields; /* HEADER.FIELDS (.NOT) */
	unsigned n_fields;
};

/* The section's octets (allocated, CRLF), "" when the part does not exist
 * (RFC: empty). */
char *mime_section_get(const struct mime_message *m, const struct mime_section *s, size_t *len_r);
/* The part a section's numbers name, or NULL. No numbers: the root. */
const struct mime_part *mime_section_part(const struct mime_message *m, const unsigned *part,
                                          unsigned n_part);

/* Search helpers (RFC 9051 6.4.4: case-insensitive substring; RFC 2047
 * words decoded; bodies decoded from base64 / quoted-printable, text parts
 * only). Return 1 on a match, 0 when not. */
int mime_header_contains(const struct mime_message *m, const char *field /* NULL: any */,
                         const char *needle /* "" = field present */);
int mime_body_contains(const struct mime_message *m, const char *needle);

/* RFC 5322 date-time (lenient, obsolete forms) -> Unix time and zone in
 * minutes. Returns 0, or -1 when TEXT is not a date. */
int mime_date_parse(const char *text, int64_t *t_r, int *tz_minutes_r);

/* The first FIELD of the top header, unfolded, allocated; NULL when absent. */
char *mime_header_get(const struct mime_message *m, const char *field);

/* The body DATA (LEN octets) decoded from its Content-Transfer-Encoding
 * ENCODING (RFC 2045 6; NULL: 7bit): base64 and quoted-printable leniently
 * decoded, 7bit, 8bit and binary as they are. Allocated, NUL-terminated,
 * *LEN_R its length; NULL when ENCODING is none of these (RFC 3516
 * UNKNOWN-CTE). */
char *mime_decode_body(const char *data, size_t len, const char *encoding, size_t *len_r);

/* RFC 2047 encoded words of the unfolded field body IN (LEN octets) decoded
 * to UTF-8 (UTF-8, US-ASCII and ISO-8859-1 words; words in other charsets
 * stay as written); allocated, *LEN_R its length. */
char *mime_decode_words(const char *in, size_t len, size_t *len_r);

/* Case-insensitive (ASCII and Unicode simple case folding of Latin, Greek,
 * Cyrillic) substring search in UTF-8. 1 when found; "" is always found. */
int utf8_contains_ci(const char *haystack, size_t len, const char *needle);

#endif
