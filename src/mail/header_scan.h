/*
 * header_scan.h: a streaming reader of a message's header (RFC 5322 2.2),
 * fed the message in pieces of any size as the DATA machine produces them.
 * It keeps, unfolded, the bodies of the fields it was asked for (From:,
 * Sender:, ...) and nothing else, so a header of any length costs only the
 * fields that matter, and no field past a cap can go unseen: a field asked
 * for that grows past HEADER_SCAN_FIELD_MAX is an error, not a truncation.
 *
 * Strict mode (submitted mail) accepts only CRLF line ends: a bare CR or
 * LF in the header is an error, because the next hop may read it as a line
 * end where this reader would not. Lax mode (a local user's text for
 * `sealmail send -t`) takes LF or CRLF.
 */
#ifndef SEALMAIL_MAIL_HEADER_SCAN_H
#define SEALMAIL_MAIL_HEADER_SCAN_H

#include <stddef.h>

#define HEADER_SCAN_FIELD_MAX 65536 /* octets of one field asked for */
#define HEADER_SCAN_FIELDS_MAX 64   /* fields asked for, all names together */
#define HEADER_SCAN_NAME_MAX 128    /* longer names match nothing */

#define HEADER_SCAN_LAX_EOL 0x1

struct header_field {
	unsigned which; /* index into the names given to header_scan_init() */
	char *body;     /* unfolded, without the line ends, NUL-terminated */
	size_t len;
};

struct header_scan {
	const char *const *names;
	unsigned n_names;
	unsigned flags;
	int state;
	char name[HEADER_SCAN_NAME_MAX + 1];
	size_t name_len;
	int keep;      /* the current field is one asked for */
	int have_field; /* a field has started (so a continuation line may follow) */
	char *body;
	size_t body_len, body_cap;
	struct header_field *fields;
	size_t n_fields;
	size_t length; /* octets of the header so far, the empty line included */
	const char *error; /* the first problem, or NULL */
	int error_which;   /* the field it is about, or -1 */
	int done;          /* the header ended, or an error stopped the scan */
};

/* Starts a scan that keeps the fields named in NAMES (case-insensitive). */
void header_scan_init(struct header_scan *hs, const char *const *names, unsigned n_names,
                      unsigned flags);

/* Feeds the next LEN octets of the message; once done, the rest is ignored.
 * Returns how many of them belong to the header. */
size_t header_scan_feed(struct header_scan *hs, const char *data, size_t len);

/* The message ended: a header that did not end with an empty line ends
 * here (a message may be all header). */
void header_scan_finish(struct header_scan *hs);

/* How many kept fields are named NAMES[WHICH]. */
unsigned header_scan_count(const struct header_scan *hs, unsigned which);

/* 1 when exactly one kept field is named NAMES[WHICH] and its body, white
 * space around it aside, is WORD in any ASCII case (as RFC 8689 5's
 * "TLS-Required: No"). */
int header_scan_single_word(const struct header_scan *hs, unsigned which, const char *word);

/* Frees what the scan keeps; *HS may be initialised again. */
void header_scan_free(struct header_scan *hs);

#endif
