/*
 * dns.h: asynchronous DNS through libunbound, validating (DNSSEC, RFC 4035)
 * against the configured trust anchor: the mail exchangers of a domain
 * (RFC 5321 5.1) with their addresses in the order they are to be tried,
 * the TLSA records of a host (RFC 6698, RFC 7672 2.2) and the TXT records
 * of a name (MTA-STS _mta-sts, RFC 8461 3.1; TLS-RPT _smtp._tls, RFC 8460
 * 3). Every answer says whether it was DNSSEC secure, insecure or bogus.
 * Used by the lookup role (lookup/lookup_hosts.c) and the ctl commands
 * that look at a destination (policy explain, tls-check).
 */
#ifndef SEALMAIL_DNS_H
#define SEALMAIL_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "mail/tls_evidence.h"

struct event_base;
struct dns_resolver;

/* The root's trust anchor (Debian's dns-root-data) used when [dns]
 * trust_anchor is empty and this file exists. */
#define DNS_ROOT_ANCHOR "/usr/share/dns/root.key"
#define DNS_TRUST_ANCHOR_MAX (1024 * 1024) /* a larger anchor file is refused */

enum dns_status {
	DNS_OK,
	DNS_NXDOMAIN, /* the domain does not exist: permanent */
	DNS_NULL_MX,  /* RFC 7505: the domain accepts no mail: permanent */
	DNS_TEMPFAIL, /* try again later (a bogus answer is one) */
};

struct dns_host {
	char name[256];
	unsigned pref;
	char addr[64];   /* textual IPv4 or IPv6 address */
	uint32_t secure; /* enum dnssec_status of the host's address records */
};

struct dns_answer {
	enum dns_status status;
	char error[256]; /* for anything but DNS_OK */
	struct dns_host *hosts;
	unsigned n_hosts;
	/* enum dnssec_status of the MX RRset (or its secure denial), or of
	 * NAME's own addresses when no MX lookup was asked for; DNSSEC_BOGUS
	 * when a failure is a DNSSEC validation failure */
	uint32_t secure;
};

typedef void dns_done_fn(void *arg, const struct dns_answer *answer);

/* A resolver forwarding to FORWARDER ("127.0.0.1:5353", "[::1]:53"), or using
 * /etc/resolv.conf when FORWARDER is "". It validates with the DS or
 * DNSKEY records (zone-file syntax) of the file TRUST_ANCHOR, or, when
 * that is "", with DNS_ROOT_ANCHOR if it exists (read as it is: no RFC
 * 5011 updates, the package that installs it keeps it current), else not
 * at all (every answer insecure). NULL with *error_r on failure; an
 * unreadable TRUST_ANCHOR is one, and the error names the file. */
struct dns_resolver *dns_resolver_new(struct event_base *base, const char *forwarder,
                                      const char *trust_anchor, const char **error_r);
/* Frees *R (NULL then). Every query still waiting is answered first, once,
 * as a temporary failure "resolver restarted"; a query its callbacks start
 * on *R is answered so at once. */
void dns_resolver_free(struct dns_resolver **r);
/* The anchor file in use ("" when none), for logs. */
const char *dns_resolver_anchor(const struct dns_resolver *r);

/* Resolves the mail exchangers of DOMAIN: MX records by preference (equal
 * preferences shuffled), each with its addresses (IPv4 first); without MX
 * records, the domain's own addresses (RFC 5321 5.1). When MX_LOOKUP is 0,
 * NAME is a host and only its addresses are looked up. A bogus MX answer
 * is DNS_TEMPFAIL ("DNSSEC validation failed for NAME: WHY"); an exchanger
 * whose address answers are bogus is left out, and when none is left that
 * is the error. DONE is called once, maybe before this returns. */
void dns_resolve(struct dns_resolver *r, const char *name, int mx_lookup, dns_done_fn *done,
                 void *arg);

/* Decodes one MX rdata (preference + uncompressed name in wire format) into
 * *pref and NAME ("" for the root, i.e. a null MX). Returns 0 or -1. */
int dns_mx_rdata_decode(const unsigned char *rdata, size_t len, unsigned *pref, char *name,
                        size_t size);

/* ---- TLSA (RFC 6698 2, RFC 7672 2.2) ---------------------------------- */

struct dns_tlsa_answer {
	uint32_t status; /* enum dnssec_status of the answer (or of its denial) */
	int failed;      /* neither records nor NXDOMAIN/NODATA: ERROR says why */
	char error[256];
	unsigned n; /* records kept: at most TLSA_MAX, each at most TLSA_DATA_MAX */
	struct tlsa_record rec[TLSA_MAX];
};

typedef void dns_tlsa_fn(void *arg, const struct dns_tlsa_answer *answer);

/* Looks up the TLSA records at _PORT._tcp.HOST. DONE is called once, maybe
 * before this returns; the answer is valid during the call. */
void dns_tlsa(struct dns_resolver *r, const char *host, unsigned port, dns_tlsa_fn *done,
              void *arg);

/* Decodes one TLSA rdata (usage, selector, matching type, data) into *OUT.
 * Returns 0, or -1 when it is shorter than 4 octets or its data exceed
 * TLSA_DATA_MAX. */
int dns_tlsa_rdata_decode(const unsigned char *rdata, size_t len, struct tlsa_record *out);

/* ---- TXT (RFC 1035 3.3.14) -------------------------------------------- */

#define DNS_TXT_MAX 16       /* records kept per answer */
#define DNS_TXT_LEN_MAX 4096 /* one record's strings joined; a longer one is skipped */

struct dns_txt_answer {
	uint32_t status; /* enum dnssec_status */
	int failed;      /* neither records nor NXDOMAIN/NODATA: ERROR says why */
	char error[256];
	unsigned n;
	/* each record's character-strings concatenated, NUL-terminated; LEN
	 * counts the octets (a record may hold a NUL) */
	const char *txt[DNS_TXT_MAX];
	size_t len[DNS_TXT_MAX];
};

typedef void dns_txt_fn(void *arg, const struct dns_txt_answer *answer);

/* Looks up the TXT records of NAME. DONE is called once, maybe before this
 * returns; the answer and its strings are valid during the call. */
void dns_txt(struct dns_resolver *r, const char *name, dns_txt_fn *done, void *arg);

/* Joins the character-strings of one TXT rdata into OUT (SIZE octets, NUL
 * added), *OUT_LEN the octets. Returns 0, or -1 when malformed (a string
 * running past the end) or when they do not fit. */
int dns_txt_rdata_decode(const unsigned char *rdata, size_t len, char *out, size_t size,
                         size_t *out_len);

#endif
