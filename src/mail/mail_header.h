/*
 * mail_header.h: addresses out of a whole message held in memory, for
 * `sealmail send -t` (To:, Cc:, Bcc:). Built on the streaming header scanner
 * and the RFC 5322 list parser, so it reads what the server's From: check
 * reads; LF or CRLF line ends, groups allowed.
 */
#ifndef SEALMAIL_MAIL_HEADER_H
#define SEALMAIL_MAIL_HEADER_H

#include <stddef.h>

#include "mail/mailbox_list.h"

/* Length of the header block at the start of MSG: up to and including the
 * empty line that ends it, or LEN when there is none. */
size_t mail_header_length(const char *msg, size_t len);

/* Whether the header line LINE (LEN octets) starts field NAME, read as the
 * header scanner reads names: NAME in any case, white space, then ':'
 * ("Bcc:", "bcc :", "BCC\t:"). */
int mail_header_line_is(const char *line, size_t len, const char *name);

/* Appends to *OUT every address of every field named in NAMES
 * (case-insensitive) in the header of MSG, read with mailbox_list_parse()'s
 * FLAGS (MAILBOX_LIST_GROUPS always). Returns 0, or -1 with ERROR
 * (of ERROR_SIZE) naming the field and the problem: a field that does not
 * parse in full is an error, never skipped. */
int mail_header_addresses(const char *msg, size_t len, const char *const *names, unsigned n_names,
                          unsigned flags, struct mailbox_list *out, char *error, size_t error_size);

#endif
