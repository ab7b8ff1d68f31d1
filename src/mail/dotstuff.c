/*
 * dotstuff.c: a stored message turned into DATA content; see dotstuff.h.
 * Pure. Called by the SMTP client (mta_session.c: DATA, and BDAT without
 * the dots) and `sealmail send`.
 */
#include "mail/dotstuff.h"

#include <string.h>

void smtp_dotstuff_init(struct smtp_dotstuff *d)
{
	d->no_dots = 0;
	d->at_line_start = 1;
	d->pending_cr = 0;
}

void smtp_dotstuff_init_bdat(struct smtp_dotstuff *d)
{
	smtp_dotstuff_init(d);
	d->no_dots = 1;
}

size_t smtp_dotstuff_end_line(struct smtp_dotstuff *d, char *out)
{
	if (d->at_line_start)
		return 0;
	out[0] = '\r';
	out[1] = '\n';
	d->at_line_start = 1;
	return 2;
}

/* Encodes one byte C into OUT (2 bytes of room); returns the number written.
 * A CR is sent as CRLF at once, so nothing is ever held back: an LF right
 * after it is then dropped (RFC 5321 2.3.8: only CRLF on the wire). */
static size_t dotstuff_byte(struct smtp_dotstuff *d, char c, char *out)
{
	int after_cr = d->pending_cr;

	d->pending_cr = c == '\r';
	if (c == '\n' && after_cr)
		return 0;
	if (c == '\r' || c == '\n') {
		d->at_line_start = 1;
		out[0] = '\r';
		out[1] = '\n';
		return 2;
	}
	out[0] = c;
	if (c == '.' && d->at_line_start && !d->no_dots) { /* RFC 5321 4.5.2 */
		d->at_line_start = 0;
		out[1] = '.';
		return 2;
	}
	d->at_line_start = 0;
	return 1;
}

size_t smtp_dotstuff_feed(struct smtp_dotstuff *d, const char *in, size_t len, char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += dotstuff_byte(d, in[i], out + n);
	return n;
}

size_t smtp_dotstuff_finish(struct smtp_dotstuff *d, char *out)
{
	size_t n = 0;

	if (!d->at_line_start) {
		out[n++] = '\r';
		out[n++] = '\n';
	}
	memcpy(out + n, ".\r\n", 3);
	n += 3;
	smtp_dotstuff_init(d);
	return n;
}
