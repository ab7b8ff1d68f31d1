/*
 * sts.h: pure MTA-STS parsers (RFC 8461): the _mta-sts TXT record, the
 * policy file served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt,
 * and the match of an MX host against the policy's mx patterns. No I/O:
 * the lookup role (DNS, HTTPS fetch, cache) feeds them bytes, and the
 * policy decision and `sealmail tls-check` read the results.
 */
#ifndef SEALMAIL_POLICY_STS_H
#define SEALMAIL_POLICY_STS_H

#include <stddef.h>

#include "mail/tls_evidence.h"

#define STS_TXT_MAX 4096          /* a TXT record (its strings joined) we parse */
#define STS_TXT_ID_MAX 32         /* RFC 8461 3.1: id is 1*32(ALPHA / DIGIT) */
#define STS_EXT_NAME_MAX 32       /* 3.1, 3.2: ext-name is 1 + *31 characters */
#define STS_POLICY_SIZE_MAX 65536 /* 3.3: a policy body over 64 KiB is refused */
#define STS_POLICY_LINE_MAX 1024  /* one line of the policy file, without its end */
#define STS_MAX_AGE_MAX 31557600  /* 3.2: the largest max_age, about a year */
#define STS_HOST_MAX 253          /* a domain name in text, without a final dot */
#define STS_CACHE_DIR "sts"       /* the lookup role's cache files, under data_dir */
#define STS_CACHE_FILE_MAGIC "sealmail-sts-cache 1\n" /* a cache file's first line */
#define STS_CACHE_FILE_SIZE_MAX 16384                 /* one cache file, read whole */

/* Parses the _mta-sts.DOMAIN TXT record TXT (its strings already joined)
 * as RFC 8461 3.1 writes it: "v=STSv1" first, then ";"-separated fields
 * (whitespace allowed around ";", none around "="), an id of 1-32 letters
 * and digits, extensions checked for syntax and ignored, a final ";" and
 * trailing whitespace allowed. A repeated id: the first counts (3.2).
 * Returns 0 with the id in ID (ID_SIZE >= STS_TXT_ID_MAX + 1), or -1 with
 * *ERROR_R (ID "") when the record is not valid: the domain then has no
 * MTA-STS policy. */
int sts_txt_parse(const char *txt, char *id, size_t id_size, const char **error_r);

/* Picks the MTA-STS record among the N TXT records TXTS of one RRset
 * (RFC 8461 3.1): those whose first field is "v=STSv1" count. Returns the
 * index of the one that does, or -1 with *ERROR_R when none or more than
 * one does (either way, no policy). */
int sts_txt_select(const char *const *txts, size_t n, const char **error_r);

/* The one of the N TXT records TXTS whose first field is TAG ("v=STSv1",
 * "v=TLSRPTv1": followed by the end, ';' or white space). Returns its
 * index, -1 when none is, -2 when more than one is. */
int sts_txt_select_tagged(const char *const *txts, size_t n, const char *tag);

/* Parses a policy file of LEN bytes (RFC 8461 3.2): "key: value" lines
 * ended by LF or CRLF (the last one may lack it; blank lines are
 * skipped), keys and values case-sensitive, "version: STSv1", "mode:
 * enforce|testing|none", "max_age: 0..31557600" (larger values are cut to
 * it) and one "mx:" line per pattern (a host name or "*.domain"), at most
 * STS_MX_MAX; required: version, mode, max_age, and mx unless the mode is
 * none. Unknown keys are ignored; of a repeated key other than mx the
 * first counts. Fills OUT's mode, max_age, n_mx and mx (lower-cased),
 * clears the rest of OUT (id, fetched and error are the caller's).
 * Returns 0, or -1 with *ERROR_R (OUT then mode STS_MODE_ABSENT). */
int sts_policy_parse(const char *text, size_t len, struct sts_policy *out, const char **error_r);

/* Parses the text of an MTA-STS cache file (LEN bytes; the lookup role
 * writes one per domain in data_dir/sts/, see lookup/sts_cache_file.c):
 * the STS_CACHE_FILE_MAGIC line, "id: ID" (1-32 letters and digits),
 * "fetched: SECONDS", an empty line, then the policy as
 * sts_policy_parse() reads it. Fills OUT with the policy, its id and
 * fetched time, and *BODY_R and *BODY_LEN_R with the policy's bytes
 * within TEXT (what TLS-RPT reports as the policy's lines). Returns 0, or
 * -1 with *ERROR_R (OUT cleared, *BODY_R NULL). */
int sts_cache_text_parse(const char *text, size_t len, struct sts_policy *out, const char **body_r,
                         size_t *body_len_r, const char **error_r);

/* 1 when MX_HOST (any case, a final dot ignored) matches one of P's mx
 * patterns (RFC 8461 4.1): equal to a host name pattern, or one label
 * followed by the domain of a "*.domain" pattern; else 0. */
int sts_mx_matches(const struct sts_policy *p, const char *mx_host);

/* 1 when NAME is a host name: letter-digit-hyphen labels of 1-63, no
 * hyphen at either end of one (RFC 5321 4.1.2 Domain), at most
 * STS_HOST_MAX characters, no final dot. */
int sts_host_valid(const char *name);

/* 1 when PATTERN is a valid mx pattern: a host name of letter-digit-hyphen
 * labels, optionally after "*.", at most STS_HOST_MAX characters. */
int sts_mx_pattern_valid(const char *pattern);

#endif
