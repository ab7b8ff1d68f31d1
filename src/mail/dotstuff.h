/*
 * dotstuff.h: SMTP's transparency procedure (RFC 5321 4.5.2, 2.3.8) for a
 * message on its way out: fed in chunks, without a copy of the message.
 */
#ifndef SEALMAIL_DOTSTUFF_H
#define SEALMAIL_DOTSTUFF_H

#include <stddef.h>

/* Turns a stored message into DATA content: every line end (CRLF, and also a
 * bare LF or a bare CR, so that nothing but CRLF ever reaches the wire) is
 * sent as CRLF, and a '.' starting a line is doubled. */
struct smtp_dotstuff {
	int no_dots; /* BDAT (RFC 3030): line ends made CRLF, no '.' doubled */
	int at_line_start;
	int pending_cr; /* the last byte seen was a CR, already sent as CRLF: an LF
	                   right after it (in this chunk or the next) is part of
	                   the same line end and is dropped */
};

void smtp_dotstuff_init(struct smtp_dotstuff *d);
/* The same for BDAT content: line ends made CRLF, dots left alone. */
void smtp_dotstuff_init_bdat(struct smtp_dotstuff *d);
/* BDAT's end: a CRLF if the message did not end with a line end (OUT
 * holds 2 bytes); returns the number written. */
size_t smtp_dotstuff_end_line(struct smtp_dotstuff *d, char *out);
/* Encodes IN (LEN bytes) into OUT, which must hold 2 * LEN + 2 bytes;
 * returns the number of bytes written. */
size_t smtp_dotstuff_feed(struct smtp_dotstuff *d, const char *in, size_t len, char *out);
/* Ends the content: a CRLF if the message did not end with a line end, then
 * ".\r\n" (an empty message gives just ".\r\n"). OUT must hold 8 bytes;
 * returns the number written. *D is ready for the next message after. */
size_t smtp_dotstuff_finish(struct smtp_dotstuff *d, char *out);

#endif
