/*
 * tlsrpt_mail.c: a TLS-RPT report as a mail (see tlsrpt_mail.h). Called
 * by queue_tlsrpt.c and the unit tests; calls zlib, lib/base64 and the
 * names of policy/tlsrpt.h.
 */
#include "queue/tlsrpt_mail.h"

#include <event2/buffer.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lib/base64.h"
#include "lib/util.h"
#include "policy/tlsrpt.h"

#define TLSRPT_MAIL_NAME_MAX 1024 /* the Subject and the file name */

unsigned char *tlsrpt_gzip(const void *in, size_t len, size_t *out_len, const char **error_r)
{
	z_stream zs;
	unsigned char *out;
	uLong bound;

	memset(&zs, 0, sizeof(zs));
	/* windowBits 15 + 16: a gzip header and trailer, not zlib's (RFC 8460 5.3) */
	if (len > TLSRPT_MAIL_JSON_MAX || deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
	                                               15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		*error_r = len > TLSRPT_MAIL_JSON_MAX ? "the report is too large" : "deflateInit2";
		return NULL;
	}
	bound = deflateBound(&zs, (uLong)len) + 32; /* + the gzip header and trailer */
	out = xmalloc(bound);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)bound;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&zs);
		free(out);
		*error_r = "deflate did not finish";
		return NULL;
	}
	*out_len = zs.total_out;
	deflateEnd(&zs);
	return out;
}

/* Appends the LEN bytes DATA to B as base64 lines of TLSRPT_MAIL_LINE. */
static void put_base64(struct evbuffer *b, const unsigned char *data, size_t len)
{
	const size_t chunk = TLSRPT_MAIL_LINE / 4 * 3;
	char line[TLSRPT_MAIL_LINE + 1];

	for (size_t at = 0; at < len; at += chunk) {
		size_t n = len - at < chunk ? len - at : chunk;
		base64_encode(data + at, n, line);
		evbuffer_add_printf(b, "%s\r\n", line);
	}
}

/* 1 when every address of M is one we can write between angle brackets. */
static int tlsrpt_mail_addresses_valid(const struct tlsrpt_mail *m)
{
	if (m->n_to == 0 || !tlsrpt_addr_spec_valid(m->from))
		return 0;
	for (unsigned i = 0; i < m->n_to; i++)
		if (!tlsrpt_addr_spec_valid(m->to[i]))
			return 0;
	return 1;
}

/* The header fields of the mail, and the blank line after them. */
static void put_header(struct evbuffer *b, const struct tlsrpt_mail *m, const char *subject,
                       const char *boundary)
{
	char date[64];

	rfc5322_date(m->now, date, sizeof(date));
	evbuffer_add_printf(b, "From: <%s>\r\nTo: ", m->from);
	for (unsigned i = 0; i < m->n_to; i++)
		evbuffer_add_printf(b, "%s<%s>", i > 0 ? ",\r\n\t" : "", m->to[i]);
	evbuffer_add_printf(b, "\r\nSubject: %s\r\nDate: %s\r\n", subject, date);
	evbuffer_add_printf(b, "Message-ID: <%s.tlsrpt@%s>\r\n", m->unique, m->submitter);
	evbuffer_add_printf(b, "MIME-Version: 1.0\r\n");
	evbuffer_add_printf(b, "TLS-Report-Domain: %s\r\nTLS-Report-Submitter: %s\r\n", m->domain,
	                    m->submitter);
	/* RFC 8460 3: a report must get through whatever TLS failure it may be
	 * about; RFC 8689 5 says so to the next hops */
	evbuffer_add_printf(b, "TLS-Required: No\r\n");
	evbuffer_add_printf(b, "Auto-Submitted: auto-generated\r\n"); /* RFC 3834 5 */
	evbuffer_add_printf(b,
	                    "Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n"
	                    "\tboundary=\"%s\"\r\n\r\n",
	                    boundary);
}

/* 1 when S is printable ASCII, as the us-ascii text part takes it. */
static int printable_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < ' ' || *s > '~')
			return 0;
	return 1;
}

/* The body: the text part and the compressed report. */
static void put_body(struct evbuffer *b, const struct tlsrpt_mail *m, const char *filename,
                     const char *boundary, const unsigned char *gz, size_t gz_len)
{
	const char *org = printable_ascii(m->organization) ? m->organization : m->submitter;

	evbuffer_add_printf(b, "This is a TLS report in MIME format.\r\n\r\n--%s\r\n", boundary);
	evbuffer_add_printf(b, "Content-Type: text/plain; charset=us-ascii\r\n"
	                       "Content-Transfer-Encoding: 7bit\r\n\r\n");
	evbuffer_add_printf(b,
	                    "This is an aggregate TLS report (RFC 8460) from %s\r\n"
	                    "about mail sent to %s, report-id %s.\r\n\r\n",
	                    org, m->domain, m->report_id);
	evbuffer_add_printf(b, "--%s\r\nContent-Type: application/tlsrpt+gzip\r\n", boundary);
	evbuffer_add_printf(b,
	                    "Content-Transfer-Encoding: base64\r\n"
	                    "Content-Disposition: attachment;\r\n\tfilename=\"%s\"\r\n\r\n",
	                    filename);
	put_base64(b, gz, gz_len);
	evbuffer_add_printf(b, "\r\n--%s--\r\n", boundary);
}

/* The Subject and the file name of M into SUBJECT and FILENAME
 * (TLSRPT_MAIL_NAME_MAX each); -1 when a name is not valid. */
static int tlsrpt_mail_names(const struct tlsrpt_mail *m, char *subject, char *filename)
{
	if (!tlsrpt_mail_addresses_valid(m))
		return -1;
	if (tlsrpt_subject(m->domain, m->submitter, m->report_id, subject, TLSRPT_MAIL_NAME_MAX) <
	        0 ||
	    tlsrpt_filename(m->submitter, m->domain, m->begin, m->end, m->unique, 1, filename,
	                    TLSRPT_MAIL_NAME_MAX) < 0)
		return -1;
	return 0;
}

char *tlsrpt_mail_build(const struct tlsrpt_mail *m, size_t *len_r, const char **error_r)
{
	char subject[TLSRPT_MAIL_NAME_MAX], filename[TLSRPT_MAIL_NAME_MAX], boundary[96];
	struct evbuffer *b;
	unsigned char *gz;
	size_t gz_len;
	char *out;

	if (tlsrpt_mail_names(m, subject, filename) < 0) {
		*error_r = "an address or name of the report is not valid";
		return NULL;
	}
	if ((gz = tlsrpt_gzip(m->json, m->json_len, &gz_len, error_r)) == NULL)
		return NULL;
	/* base64 has no '_' and the text part is ours: the boundary cannot occur */
	snprintf(boundary, sizeof(boundary), "=_tlsrpt_%s", m->unique);
	b = evbuffer_new();
	put_header(b, m, subject, boundary);
	put_body(b, m, filename, boundary, gz, gz_len);
	free(gz);
	*len_r = evbuffer_get_length(b);
	out = xmalloc(*len_r + 1);
	evbuffer_remove(b, out, *len_r);
	out[*len_r] = '\0';
	evbuffer_free(b);
	return out;
}
