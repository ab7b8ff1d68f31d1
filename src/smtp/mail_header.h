/*
 * mail_header.h: just enough RFC 5322 to read addresses out of a message's
 * header: From: for the submission sender check, To:/Cc:/Bcc: for
 * `sealmail send -t`. Pure; bounded.
 */
#ifndef SEALMAIL_MAIL_HEADER_H
#define SEALMAIL_MAIL_HEADER_H

#include <stddef.h>

#define MAIL_HEADER_ADDR_MAX 512

/* Length of the header block at the start of MSG: up to and including the
 * empty line that ends it, or LEN when there is none. */
size_t mail_header_length(const char *msg, size_t len);

/* The addr-specs of every field NAME (case-insensitive) of the header block
 * HDR: "Name <a@b>", "a@b (comment)", "\"Quoted, name\" <a@b>", groups
 * "team: a@b, c@d;". Folded lines are unfolded; CRLF or LF line ends.
 * Writes up to MAX addresses into ADDRS; returns how many were found (maybe
 * more than MAX). */
unsigned mail_header_addresses(const char *hdr, size_t len, const char *name,
                               char (*addrs)[MAIL_HEADER_ADDR_MAX], unsigned max);

#endif
