/*
 * tls_evidence.h: what DNS and HTTPS told us about a destination's TLS:
 * the DNSSEC status of a lookup, the TLSA records of an MX host, and the
 * MTA-STS policy of a domain. Plain structs with fixed bounds, so they
 * cross the IPC codecs and sit in caches as they are. Filled by the
 * lookup role, read by the policy decision and the SMTP client.
 */
#ifndef SEALMAIL_TLS_EVIDENCE_H
#define SEALMAIL_TLS_EVIDENCE_H

#include <stdint.h>

/* How far DNSSEC vouches for an answer. Bogus is a temporary failure,
 * never a reason to fall back to a weaker level. */
enum dnssec_status {
	DNSSEC_INSECURE = 0,
	DNSSEC_SECURE = 1,
	DNSSEC_BOGUS = 2,
};

#define TLSA_DATA_MAX 1024 /* certificate association data, octets */
#define TLSA_MAX 8         /* TLSA records kept per host */

/* One TLSA record (RFC 6698 2.1). */
struct tlsa_record {
	uint8_t usage, selector, mtype;
	uint16_t len;
	uint8_t data[TLSA_DATA_MAX];
};

/* The mode of an MTA-STS policy (RFC 8461 5); ABSENT when there is none. */
enum sts_mode {
	STS_MODE_ABSENT = 0,
	STS_MODE_NONE,
	STS_MODE_TESTING,
	STS_MODE_ENFORCE,
};

#define STS_ID_MAX 64 /* the TXT record's id= (1-32 characters) and its NUL */
#define STS_MX_MAX 16 /* mx: patterns kept per policy */

/* A domain's MTA-STS policy (RFC 8461 3.2). ERROR non-empty: the TXT
 * record exists but the policy could not be fetched or parsed
 * ("sts-policy-fetch-error: ..."). */
struct sts_policy {
	uint32_t mode; /* enum sts_mode */
	char id[STS_ID_MAX];
	uint32_t max_age; /* seconds */
	uint64_t fetched; /* when, seconds since the epoch */
	uint32_t n_mx;
	char mx[STS_MX_MAX][256]; /* lower-case; "*.example.com" or a host name */
	char error[256];
};

#endif
