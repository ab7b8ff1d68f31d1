/*
 * tlsrpt.h: pure SMTP TLS Reporting pieces (RFC 8460): the _smtp._tls
 * TXT record and its rua= URIs, the JSON aggregate report built from
 * counts, and the names a report mail carries (report-id, Subject, file
 * name). No I/O: the lookup role parses the record, the queue's report
 * store fills struct tlsrpt_report from its counters, builds the JSON,
 * compresses and sends it.
 */
#ifndef SEALMAIL_POLICY_TLSRPT_H
#define SEALMAIL_POLICY_TLSRPT_H

#include <stddef.h>
#include <stdint.h>

#include "mail/tls_evidence.h"

struct evbuffer;

/* ---- the TXT record (RFC 8460 3) ------------------------------------ */

#define TLSRPT_TXT_MAX 4096      /* a TXT record (its strings joined) we parse */
#define TLSRPT_RUA_VALUE_MAX 512 /* the rua= value kept whole (PROTO_RUA_MAX) */
#define TLSRPT_RUA_MAX 8         /* URIs kept from rua= */
#define TLSRPT_URI_MAX 512       /* one URI as written */
#define TLSRPT_LOCAL_MAX 64      /* RFC 5321 4.5.3.1.1 */
#define TLSRPT_DOMAIN_MAX 255    /* RFC 5321 4.5.3.1.2 */
#define TLSRPT_ADDRESS_MAX (TLSRPT_LOCAL_MAX + 1 + TLSRPT_DOMAIN_MAX + 1)
#define TLSRPT_EXT_NAME_MAX 32 /* 3: ext-name is 1 + *31 characters */

enum tlsrpt_uri_kind {
	TLSRPT_URI_MAILTO = 1,
	TLSRPT_URI_HTTPS = 2,
};

struct tlsrpt_uri {
	uint32_t kind;                    /* enum tlsrpt_uri_kind */
	char uri[TLSRPT_URI_MAX];         /* as written in the record */
	char address[TLSRPT_ADDRESS_MAX]; /* mailto: the addr-spec, percent-decoded; https: "" */
};

struct tlsrpt_record {
	char rua_value[TLSRPT_RUA_VALUE_MAX]; /* the rua= value as written */
	uint32_t n_rua;
	struct tlsrpt_uri rua[TLSRPT_RUA_MAX];
	uint32_t n_mailto, n_https;
};

/* Parses the _smtp._tls.DOMAIN TXT record TXT (its strings joined) as RFC
 * 8460 3 writes it: "v=TLSRPTv1" first, ";"-separated fields (whitespace
 * allowed around ";"), a rua= of ","-separated URIs, extensions checked
 * for syntax and ignored; of a repeated rua= the first counts. Returns 0
 * with OUT filled, or -1 with *ERROR_R (OUT cleared): the domain then
 * asks for no reports. */
int tlsrpt_txt_parse(const char *txt, struct tlsrpt_record *out, const char **error_r);

/* Parses a rua= value alone (what struct proto_lookup_hosts_result
 * carries): ","-separated URIs, whitespace allowed around ",". mailto:
 * URIs (RFC 6068) must hold exactly one addr-spec once percent-decoded
 * ("%2C" is a comma inside a quoted local part; "?" header fields are
 * dropped); https: URIs must name a host. Other schemes are skipped (3:
 * "mailto" and "https" are the ones defined); at least one URI must be
 * usable; more than TLSRPT_RUA_MAX URIs is an error. Returns 0 or -1 with
 * *ERROR_R (OUT's URIs cleared). */
int tlsrpt_rua_parse(const char *rua, struct tlsrpt_record *out, const char **error_r);

/* Picks the TLS-RPT record among the N TXT records TXTS of one RRset (RFC
 * 8460 3): those whose first field is "v=TLSRPTv1" count. Returns the
 * index of the one that does, or -1 with *ERROR_R when none or more than
 * one does (either way, no reports). */
int tlsrpt_txt_select(const char *const *txts, size_t n, const char **error_r);

/* The rua= value of the TLS-RPT record among the N TXT records TXTS (LENS
 * their octets) of _smtp._tls.DOMAIN into RUA of SIZE: the one record
 * tlsrpt_txt_select() picks, holding no NUL, parsed by
 * tlsrpt_txt_parse(). Returns 0; -1 with *ERROR_R when no record or more
 * than one is TLS-RPT's; -2 with *ERROR_R when the one record is invalid
 * or its rua= does not fit (RUA "" on error: no reports). */
int tlsrpt_rua_from_txt(const char *const *txts, const size_t *lens, size_t n, char *rua,
                        size_t size, const char **error_r);

/* 1 when S is an RFC 5322 addr-spec we send to: a dot-atom or quoted-string
 * local part of at most TLSRPT_LOCAL_MAX octets, "@", and a host name
 * (letter-digit-hyphen labels) of at most TLSRPT_DOMAIN_MAX; ASCII only. */
int tlsrpt_addr_spec_valid(const char *s);

/* ---- the JSON report (RFC 8460 4) ----------------------------------- */

#define TLSRPT_NAME_MAX 256            /* host names, domains, organization, contact */
#define TLSRPT_IP_MAX 64               /* an IPv4 or IPv6 address in text */
#define TLSRPT_TYPE_MAX 40             /* result-type, policy-type */
#define TLSRPT_INFO_MAX 256            /* additional-information, failure-reason-code */
#define TLSRPT_REPORT_ID_MAX 320       /* report-id */
#define TLSRPT_POLICY_STRINGS_MAX 24   /* policy-string elements (an STS file has <= 19) */
#define TLSRPT_POLICY_STRING_MAX 512   /* one element: a policy line or a TLSA record */
#define TLSRPT_MX_HOSTS_MAX STS_MX_MAX /* mx-host patterns */
#define TLSRPT_FAILURES_MAX 32         /* failure-details per policy */
#define TLSRPT_POLICIES_MAX 8          /* policies per report */

/* One failure-details element (4.3); a string "" is left out of the JSON,
 * result_type is required. */
struct tlsrpt_failure {
	char result_type[TLSRPT_TYPE_MAX]; /* "certificate-expired", ... (4.3) */
	char sending_mta_ip[TLSRPT_IP_MAX];
	char receiving_mx_hostname[TLSRPT_NAME_MAX];
	char receiving_mx_helo[TLSRPT_NAME_MAX];
	char receiving_ip[TLSRPT_IP_MAX];
	uint64_t failed_session_count;
	char additional_information[TLSRPT_INFO_MAX]; /* a URI */
	char failure_reason_code[TLSRPT_INFO_MAX];
};

/* One policies element: the policy applied and its counts. */
struct tlsrpt_policy {
	char policy_type[TLSRPT_TYPE_MAX]; /* "sts", "tlsa", "no-policy-found" */
	uint32_t n_strings;                /* policy-string, left out when 0 */
	char strings[TLSRPT_POLICY_STRINGS_MAX][TLSRPT_POLICY_STRING_MAX];
	char policy_domain[TLSRPT_NAME_MAX];
	uint32_t n_mx_hosts; /* mx-host, left out when 0 */
	char mx_hosts[TLSRPT_MX_HOSTS_MAX][TLSRPT_NAME_MAX];
	uint64_t total_successful_session_count;
	uint64_t total_failure_session_count;
	uint32_t n_failures; /* failure-details, left out when 0 */
	struct tlsrpt_failure failures[TLSRPT_FAILURES_MAX];
};

/* One report, for one policy domain: about 440 KB, allocate it. */
struct tlsrpt_report {
	char organization_name[TLSRPT_NAME_MAX];
	char contact_info[TLSRPT_NAME_MAX]; /* an address or URI */
	char report_id[TLSRPT_REPORT_ID_MAX];
	uint64_t start; /* date-range, UTC seconds; END the last second covered */
	uint64_t end;
	uint32_t n_policies;
	struct tlsrpt_policy policies[TLSRPT_POLICIES_MAX];
};

/* Appends the report R as RFC 8460 4.4 JSON (one line, keys in the RFC's
 * order, a final LF) to OUT: strings escaped (quotes, backslash, control
 * characters as \uXXXX; UTF-8 passed through, an invalid byte as U+FFFD),
 * dates as RFC 3339 UTC "2026-12-01T00:00:00Z". Returns 0, or -1 with
 * *ERROR_R and nothing appended when R breaks a bound or lacks a required
 * field (organization, contact, report-id, policy type and domain, a
 * failure's result-type) or END < START. */
int tlsrpt_report_json(const struct tlsrpt_report *r, struct evbuffer *out, const char **error_r);

/* Fills OUT (cleared first) as the "sts" policy of DOMAIN from P: the
 * policy-string lines "version: STSv1", "mode: ...", one "mx: ..." per
 * pattern, "max_age: N", and the mx-host patterns. Counts stay 0. */
void tlsrpt_policy_from_sts(const struct sts_policy *p, const char *domain,
                            struct tlsrpt_policy *out);

/* Fills the policy-string and mx-host of the "sts" policy OUT (its type,
 * domain and counts kept) from the MTA-STS policy P and its text BODY of
 * LEN bytes (sts_cache_text_parse() gives both): one string per line of
 * BODY that is not blank, without its LF or CRLF (RFC 8460 4.4), and P's
 * mx patterns. policy-string is left out when BODY has more lines than
 * TLSRPT_POLICY_STRINGS_MAX or one longer than TLSRPT_POLICY_STRING_MAX -
 * 1 (a policy cut short would be a different policy). */
void tlsrpt_policy_fill_sts(struct tlsrpt_policy *out, const struct sts_policy *p, const char *body,
                            size_t len);

/* Fills OUT (cleared first) as the "tlsa" policy of DOMAIN for MX_HOST
 * from its N TLSA records (at most TLSA_MAX): one policy-string per record
 * in presentation form "3 1 1 HEX" (cut to TLSRPT_POLICY_STRING_MAX), and
 * MX_HOST as mx-host. Counts stay 0. */
void tlsrpt_policy_from_tlsa(const struct tlsa_record *records, uint32_t n, const char *domain,
                             const char *mx_host, struct tlsrpt_policy *out);

/* ---- the report mail (RFC 8460 5.3) --------------------------------- */

#define TLSRPT_UNIQUE_MAX 32 /* the unique-id part of names: 1-32 letters and digits */

/* The report-id "YYYYMMDD.UNIQUE@SUBMITTER" (START's UTC date) into BUF
 * of SIZE: the same id goes in the JSON and in the Subject. UNIQUE is
 * 1-TLSRPT_UNIQUE_MAX letters and digits (random_hex_id() makes one),
 * SUBMITTER a host name. Returns 0, or -1 (BUF "") when an argument is
 * invalid or the id does not fit. */
int tlsrpt_report_id(uint64_t start, const char *unique, const char *submitter, char *buf,
                     size_t size);

/* The Subject of a report mail (5.3): "Report Domain: DOMAIN Submitter:
 * SUBMITTER Report-ID: <REPORT_ID>". Returns 0, or -1 (BUF "") when a
 * name is invalid or it does not fit. */
int tlsrpt_subject(const char *domain, const char *submitter, const char *report_id, char *buf,
                   size_t size);

/* The report's file name (5.3): "SUBMITTER!DOMAIN!BEGIN!END!UNIQUE.json.gz"
 * with BEGIN and END as UTC seconds (GZIP 0: ".json"). Returns 0, or -1
 * (BUF "") when a name is invalid or it does not fit. */
int tlsrpt_filename(const char *submitter, const char *domain, uint64_t begin, uint64_t end,
                    const char *unique, int gzip, char *buf, size_t size);

#endif
