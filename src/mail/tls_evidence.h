/*
 * tls_evidence.h: what the DNS and the web say about how a destination
 * wants to be reached, as the lookup role finds it and the SMTP client and
 * `sealmail policy explain` weigh it (policy/decide.h): the DNSSEC status
 * of an answer, TLSA records (RFC 6698, RFC 7672) and an MTA-STS policy
 * (RFC 8461). Plain values, so they cross IPC (proto/lookup.h) as they are.
 */
#ifndef SEALMAIL_TLS_EVIDENCE_H
#define SEALMAIL_TLS_EVIDENCE_H

#include <stdint.h>

/* The DNSSEC status of one answer (RFC 4035 4.3). Bogus means a broken
 * signature inside a signed zone: a temporary failure, never a fallback. */
enum dnssec_status {
	DNSSEC_INSECURE = 0, /* no trust anchor covers the name, or provably unsigned */
	DNSSEC_SECURE = 1,
	DNSSEC_BOGUS = 2,
};

/* "insecure", "secure", "bogus"; "?" for anything else. */
const char *dnssec_status_name(uint32_t status);

#define TLSA_DATA_MAX 1024 /* a full certificate (matching type 0) larger than this is skipped */
#define TLSA_MAX 8         /* records kept per host */

/* One TLSA record (RFC 6698 2.1). */
struct tlsa_record {
	uint8_t usage;    /* 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE */
	uint8_t selector; /* 0 full certificate, 1 SubjectPublicKeyInfo */
	uint8_t mtype;    /* 0 exact, 1 SHA2-256, 2 SHA2-512 */
	uint16_t len;
	uint8_t data[TLSA_DATA_MAX];
};

enum sts_mode {
	STS_MODE_ABSENT = 0, /* no _mta-sts TXT record: no policy */
	STS_MODE_NONE,
	STS_MODE_TESTING,
	STS_MODE_ENFORCE,
};

/* "absent", "none", "testing", "enforce"; "?" otherwise. */
const char *sts_mode_name(uint32_t mode);

#define STS_ID_MAX 64
#define STS_MX_MAX 16
#define STS_MX_NAME_MAX 256

/* A domain's MTA-STS policy as fetched (RFC 8461 3.2). When the TXT record
 * exists but no valid policy could be had (and none is cached), mode is
 * STS_MODE_ABSENT and ERROR says why ("sts-policy-fetch-error: ..." or
 * "sts-policy-invalid: ..."), for TLS-RPT. */
struct sts_policy {
	uint32_t mode;     /* enum sts_mode */
	char id[STS_ID_MAX]; /* the TXT record's id the policy was fetched for */
	uint32_t max_age;  /* seconds */
	uint64_t fetched;  /* UTC seconds */
	uint32_t n_mx;
	char mx[STS_MX_MAX][STS_MX_NAME_MAX]; /* "mx.example.com" or "*.example.com" */
	char error[256];
};

#endif
