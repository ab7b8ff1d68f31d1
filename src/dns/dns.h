/*
 * dns.h: asynchronous DNS for the lookup role, through libunbound: the
 * mail exchangers of a domain (RFC 5321 5.1), with their addresses, in the
 * order they are to be tried.
 */
#ifndef SEALMAIL_DNS_H
#define SEALMAIL_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "mail/tls_evidence.h"

struct event_base;
struct dns_resolver;

enum dns_status {
	DNS_OK,
	DNS_NXDOMAIN, /* the domain does not exist: permanent */
	DNS_NULL_MX,  /* RFC 7505: the domain accepts no mail: permanent */
	DNS_TEMPFAIL, /* try again later */
};

struct dns_host {
	char name[256];
	unsigned pref;
	char addr[64]; /* textual IPv4 or IPv6 address */
};

struct dns_answer {
	enum dns_status status;
	char error[256]; /* for anything but DNS_OK */
	struct dns_host *hosts;
	unsigned n_hosts;
	int secure; /* every record used was DNSSEC-validated */
};

typedef void dns_done_fn(void *arg, const struct dns_answer *answer);

/* A resolver forwarding to FORWARDER ("127.0.0.1:5353", "[::1]:53"), or using
 * /etc/resolv.conf when FORWARDER is "". NULL with *error_r on failure. */
struct dns_resolver *dns_resolver_new(struct event_base *base, const char *forwarder,
                                      const char **error_r);
void dns_resolver_free(struct dns_resolver **r);

/* Resolves the mail exchangers of DOMAIN: MX records by preference (equal
 * preferences shuffled), each with its addresses (IPv4 first); without MX
 * records, the domain's own addresses (RFC 5321 5.1). When MX_LOOKUP is 0,
 * NAME is a host and only its addresses are looked up. DONE is called once,
 * maybe before this returns. */
void dns_resolve(struct dns_resolver *r, const char *name, int mx_lookup, dns_done_fn *done,
                 void *arg);

/* Decodes one MX rdata (preference + uncompressed name in wire format) into
 * *pref and NAME ("" for the root, i.e. a null MX). Returns 0 or -1. */
int dns_mx_rdata_decode(const unsigned char *rdata, size_t len, unsigned *pref, char *name,
                        size_t size);

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
