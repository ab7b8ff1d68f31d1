/*
 * imap_fetch.h: FETCH / UID FETCH for the IMAP session (imap_cmd_*.c). Pure
 * code: the arguments as imap_parse.h gives them become a request (the items
 * to print and the `want` bits to ask the store for, proto/store.h); each
 * FETCH_ITEM the store sends back is then rendered as one untagged
 * "* SEQ FETCH (...)" line (RFC 9051 6.4.5, 7.5.2; RFC 3501 RFC822.*;
 * RFC 3516 BINARY; RFC 7162 CHANGEDSINCE, VANISHED, MODSEQ).
 *
 *   imap_fetch_parse     ARGS -> struct imap_fetch_request (BAD on errors)
 *   imap_fetch_render    one proto_store_item (+ the message file) -> text
 *   imap_fetch_out_flags "(\Seen \Flagged kw)", for the session's own FETCHes
 */
#ifndef SEALMAIL_IMAP_FETCH_H
#define SEALMAIL_IMAP_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "imap/imap_parse.h"
#include "mail/mime.h"
#include "proto/store.h"

#define IMAP_FETCH_ITEMS_MAX 100    /* items in one FETCH, macros expanded */
#define IMAP_FETCH_NAME_MAX 1024    /* one echoed item name */
#define IMAP_FETCH_FIELDS_MAX 100   /* names in one HEADER.FIELDS (...) */
#define IMAP_FETCH_FIELD_MAX 128    /* one field name */
/* The largest message file read for a section; larger ones answer "". */
#define IMAP_FETCH_FILE_MAX ((uint64_t)1 << 30)

/* One FETCH item as asked (RFC 9051 6.4.5, RFC 7162). */
enum imap_fetch_kind {
	IMAP_FETCH_FLAGS,
	IMAP_FETCH_UID,
	IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_ENVELOPE,
	IMAP_FETCH_BODYSTRUCTURE,
	IMAP_FETCH_BODY_SHAPE, /* BODY without a section: the non-extensible BODYSTRUCTURE */
	IMAP_FETCH_SECTION,    /* BODY[...] / BODY.PEEK[...] / BINARY[...] / BINARY.SIZE[...] */
	IMAP_FETCH_RFC822,
	IMAP_FETCH_RFC822_HEADER,
	IMAP_FETCH_RFC822_TEXT,
	IMAP_FETCH_MODSEQ,
};

struct imap_fetch_item {
	enum imap_fetch_kind kind;
	struct mime_section section; /* SECTION; fields allocated */
	int peek, binary, binary_size;
	int has_partial;
	uint64_t partial_start, partial_len;
	char name[IMAP_FETCH_NAME_MAX]; /* as echoed: "BODY[HEADER.FIELDS (SUBJECT)]<0>" */
};

struct imap_fetch_request {
	struct imap_fetch_item *items;
	unsigned n_items;
	uint32_t want; /* enum proto_store_fetch_want for the store */
	uint64_t changedsince; /* 0 = none */
	int vanished;          /* UID FETCH ... (VANISHED): the session refuses it
	                          unless QRESYNC is enabled (RFC 7162 3.2.6) */
	int implicit_flags;    /* MARK_SEEN: FLAGS printed though not asked (while
	                          want still has STORE_WANT_MARK_SEEN) */
};

/* Modes of imap_fetch_parse (an int "uid" of 0 / 1 is the first). */
#define IMAP_FETCH_MODE_UID 1u       /* UID FETCH: UID is always printed */
#define IMAP_FETCH_MODE_CONDSTORE 2u /* CONDSTORE enabled: UID and MODSEQ always (RFC 7162 3.1) */

/* ARGS (after the sequence set: the item or item list, then the optional
 * modifier list "(CHANGEDSINCE n VANISHED)") -> REQ; macros ALL FAST FULL
 * expanded; UID FETCH adds UID. -1 with *error_r (answer BAD), else 0; free
 * REQ with imap_fetch_request_free() either way. An EXAMINEd folder must
 * clear STORE_WANT_MARK_SEEN from req->want (nothing becomes \Seen). The
 * header-only sections ask STORE_WANT_HEADERS |
 * STORE_WANT_FILE_UNLESS_HEADERS: the store leaves out the fd when it
 * sends the cached header block (other sections ask STORE_WANT_FILE). */
int imap_fetch_parse(const struct imap_arg *args, unsigned n, unsigned mode,
                     struct imap_fetch_request *req, const char **error_r);
void imap_fetch_request_free(struct imap_fetch_request *req);

/* Flags of imap_fetch_render (an int "condstore" of 0 / 1 is the first). */
#define IMAP_FETCH_RENDER_CONDSTORE 1u /* print MODSEQ whenever the item has one */
#define IMAP_FETCH_RENDER_REV1 2u      /* IMAP4rev1 session: show \Recent */

/* Appends "* SEQ FETCH (...)\r\n" for ITEM to OUT. FD: the message file when
 * want had STORE_WANT_FILE or the store sent it for
 * STORE_WANT_FILE_UNLESS_HEADERS (read here with pread, LF -> CRLF, not
 * closed), or -1. Returns 0, or -1 with nothing appended when the command must answer
 * NO [UNKNOWN-CTE] (BINARY of a part in an encoding it cannot decode,
 * RFC 3516 4.2). */
int imap_fetch_render(const struct imap_fetch_request *req, const struct proto_store_item *item,
                      int fd, unsigned flags, struct imap_out *out);

/* Appends the flag list "(\Seen \Answered ... kw1 kw2)" of FLAGS (enum
 * proto_store_flag) and KEYWORDS (space-separated); \Recent only with SHOW_RECENT. */
void imap_fetch_out_flags(struct imap_out *out, uint32_t flags, const char *keywords,
                          int show_recent);

#endif
