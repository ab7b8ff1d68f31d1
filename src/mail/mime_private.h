/*
 * mime_private.h: what the mime_*.c files share and nobody else uses: a
 * growable text buffer, the header field walker, the Content-* field
 * readers and the IMAP string writer.
 */
#ifndef SEALMAIL_MAIL_MIME_PRIVATE_H
#define SEALMAIL_MAIL_MIME_PRIVATE_H

#include <stddef.h>

#include "mail/mime.h"

/* A growable NUL-terminated text; s is NULL until the first append. */
struct mime_buf {
	char *s;
	size_t len, size;
};

void mime_buf_add(struct mime_buf *b, const void *data, size_t n);
void mime_buf_addc(struct mime_buf *b, char c);
void mime_buf_adds(struct mime_buf *b, const char *s);
/* The N octets at S as a new string. */
char *mime_strndup(const char *s, size_t n);
/* Gives the text away (never NULL: "" when empty). */
char *mime_buf_take(struct mime_buf *b);

/* One header field as found: the whole field with its folded lines and
 * line end [start, end), the name [name, name + name_len) and the raw
 * value after the colon up to the end of the field's last line (line end
 * excluded). A line without a colon is a field with an empty name. */
struct mime_field {
	size_t start, end;
	size_t name, name_len;
	size_t value, value_end;
};

/* The next field of the header [*pos, end) of DATA; 1 and *pos moved past
 * it, or 0 at the blank line or the end. */
int mime_field_next(const char *data, size_t end, size_t *pos, struct mime_field *f);
/* Whether F's name is NAME (ASCII case-insensitive). */
int mime_field_is(const char *data, const struct mime_field *f, const char *name);
/* The value of F unfolded (CR, LF and NUL dropped), blanks trimmed at both
 * ends, at most MIME_FIELD_MAX octets; allocated. */
char *mime_field_unfold(const char *data, const struct mime_field *f, size_t *len_r);
/* The end of the header that starts at START: after its blank line, or END. */
size_t mime_header_end(const char *data, size_t start, size_t end, size_t *body_r);

/* Content-Type (or, with DISPOSITION, Content-Disposition) value V into P. */
void mime_read_content_type(struct mime_part *p, const char *v);
void mime_read_disposition(struct mime_part *p, const char *v);
/* V without comments, white space collapsed to single spaces and trimmed
 * (for Content-Transfer-Encoding, Content-Language); allocated. */
char *mime_strip_comments(const char *v);
/* The value of parameter NAME of P (case-insensitive), or NULL. */
const char *mime_param(const struct mime_part *p, const char *name);

/* Whether P is TYPE/SUBTYPE (case-insensitive; SUBTYPE NULL: any). */
int mime_is(const struct mime_part *p, const char *type, const char *subtype);
/* Whether P has an encapsulated message as its one child. */
int mime_is_message(const struct mime_part *p);

/* Appends S (LEN octets) as an IMAP string: quoted when it can be, a
 * literal when it holds CR, LF, 8-bit octets, quotes or backslashes. NUL
 * octets are dropped. */
void mime_imap_string(struct mime_buf *b, const char *s, size_t len);
/* The same, NIL when S is NULL. */
void mime_imap_nstring(struct mime_buf *b, const char *s);

/* The ENVELOPE of the header [start, end) of M's data. */
void mime_envelope_write(struct mime_buf *b, const char *data, size_t start, size_t end);

/* S (LEN octets) decoded and appended to B (mime_decode.c): base64 (RFC
 * 2045 6.8: octets outside the alphabet skipped, "=" ends it);
 * quoted-printable (6.7: bad escapes kept, soft line breaks dropped, blanks
 * at a line end dropped; Q: the RFC 2047 4.2 form, where "_" is a space). */
void mime_decode_base64(struct mime_buf *b, const char *s, size_t len);
void mime_decode_qp(struct mime_buf *b, const char *s, size_t len, int q);

/* ISO-8859-1 octets -> UTF-8, appended. */
void mime_latin1_to_utf8(struct mime_buf *b, const char *s, size_t len);
/* Whether CHARSET's octets are kept as they are (UTF-8, US-ASCII: 1),
 * converted from Latin-1 (2), or unknown (0). */
int mime_charset_kind(const char *charset, size_t len);

#endif
