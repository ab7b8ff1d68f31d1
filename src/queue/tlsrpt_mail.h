/*
 * tlsrpt_mail.h: the mail that carries one TLS-RPT report (RFC 8460 5.3):
 * the JSON compressed with gzip, a multipart/report of report-type
 * "tlsrpt" with a text/plain part and the application/tlsrpt+gzip
 * attachment. Pure: values in, bytes out. Called by queue_tlsrpt.c, which
 * queues the result; and the unit tests.
 */
#ifndef SEALMAIL_QUEUE_TLSRPT_MAIL_H
#define SEALMAIL_QUEUE_TLSRPT_MAIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TLSRPT_MAIL_JSON_MAX (8u << 20) /* a report's JSON, before compression */
#define TLSRPT_MAIL_LINE 76             /* base64 characters per line (RFC 2045 6.8) */

struct tlsrpt_mail {
	const char *from;      /* [outbound] tls_report_from: an addr-spec */
	const char *const *to; /* the rua's mailto addresses (addr-specs) */
	unsigned n_to;
	const char *domain;       /* the policy domain the report is about */
	const char *submitter;    /* our host name (5.3 Submitter, TLS-Report-Submitter) */
	const char *organization; /* [outbound] tls_report_org, for the text part */
	const char *report_id;    /* as in the JSON */
	const char *unique;       /* the report's unique-id (letters and digits) */
	uint64_t begin, end;      /* the report's date range, UTC seconds */
	const char *json;
	size_t json_len;
	time_t now;
};

/* Compresses the LEN bytes IN as one gzip member (RFC 1952; zlib's
 * deflate with windowBits 15 + 16). Returns a malloc'ed buffer with its
 * length in *OUT_LEN, or NULL with *ERROR_R. */
unsigned char *tlsrpt_gzip(const void *in, size_t len, size_t *out_len, const char **error_r);

/* The message M describes, header and body, CRLF line ends, 7-bit. Returns
 * a malloc'ed text (its length in *LEN_R), or NULL with *ERROR_R when an
 * address or name is not valid, the JSON is over TLSRPT_MAIL_JSON_MAX or
 * compression failed. */
char *tlsrpt_mail_build(const struct tlsrpt_mail *m, size_t *len_r, const char **error_r);

#endif
