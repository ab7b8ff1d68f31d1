/*
 * policy_facts.h: what `sealmail policy explain` and `sealmail tls-check`
 * find out about a destination before deciding (policy/decide.h): its MX
 * hosts with the DNSSEC status of each answer, each host's addresses and
 * TLSA records, the MTA-STS TXT record and policy (the lookup role's cache
 * in data_dir/sts/, else fetched now), the TLS-RPT rua, and the downgrade
 * memory (data_dir/policy/seen, read only). Gathered in the command's own
 * process with its own event loop and the configuration's resolver and
 * trust anchor, so the commands see what the server sees.
 */
#ifndef SEALMAIL_POLICY_FACTS_H
#define SEALMAIL_POLICY_FACTS_H

#include <stdint.h>
#include <stdio.h>

#include "mail/tls_evidence.h"
#include "policy/decide.h"

struct config;

#define POLICY_FACTS_HOSTS 16 /* MX hosts shown and checked */
#define POLICY_FACTS_ADDRS 8  /* addresses per host */
#define POLICY_FACTS_SECONDS 30 /* every DNS and HTTPS lookup, at most */

struct policy_fact_host {
	char name[256];
	unsigned pref;
	uint32_t addr_status; /* enum dnssec_status */
	char addrs[POLICY_FACTS_ADDRS][64];
	unsigned n_addrs;
	uint32_t tlsa_status; /* enum dnssec_status of the TLSA lookup */
	unsigned n_tlsa;      /* every record found, usable or not */
	struct tlsa_record tlsa[TLSA_MAX];
};

struct policy_facts {
	char domain[256];
	uint16_t port;     /* the SMTP port the TLSA names are for */
	int live;          /* DNS was asked (not --offline) */
	char dns_error[256]; /* "" when the lookup worked */
	uint32_t mx_status;  /* enum dnssec_status of the MX RRset */
	int mx_lookup;       /* the hosts are NAME's MX hosts (else NAME itself) */
	int implicit_mx;     /* no MX records: the domain is its own exchanger */
	struct policy_fact_host hosts[POLICY_FACTS_HOSTS];
	unsigned n_hosts;
	/* MTA-STS (RFC 8461 3.1) */
	char sts_txt[256];  /* the TXT record as found; "" when none */
	char sts_txt_id[STS_ID_MAX];
	struct sts_policy sts;
	char sts_from[64]; /* "cache", "fetched now", "not cached", "none" */
	/* TLS-RPT (RFC 8460 3) */
	char rua[512];
	/* downgrade memory */
	int seen_known; /* the file was readable */
	uint32_t seen_level;
	uint64_t seen_time; /* 0 = nothing remembered */
};

/* Fills *F for destination DOMAIN, whose mail goes to NAME (DOMAIN itself,
 * or a route's host): NAME's MX hosts when MX_LOOKUP, else NAME as the one
 * host; TLSA at _PORT._tcp of each host; MTA-STS, TLS-RPT and downgrade
 * memory of DOMAIN. With LIVE 0 nothing is asked of the network (only the
 * files are read). A failed lookup is reported in F->dns_error. */
void policy_facts_gather(const struct config *cfg, const char *domain, const char *name,
                         int mx_lookup, uint16_t port, int live, struct policy_facts *f);

/* Prints the MX records, each host's addresses and TLSA records, with
 * their DNSSEC status, as `key: value` lines. DECS (NULL: not said) holds
 * each host's decision: a record it kept is "usable". */
void policy_facts_print_dns(FILE *out, const struct policy_facts *f,
                            const struct tls_decision *decs);
/* Prints the MTA-STS, TLS-RPT and downgrade-memory facts. NOW: UTC seconds. */
void policy_facts_print_domain(FILE *out, const struct policy_facts *f, uint64_t now);
/* Prints one host's decision as `decision-...: value` lines. */
void policy_decision_print(FILE *out, const struct tls_decision *dec);

/* 1 when HOST matches one of the mx patterns of STS (RFC 8461 4.1). */
int policy_sts_mx_listed(const struct sts_policy *sts, const char *host);

/* The facts of destination F and host H in the form tls_decide() takes,
 * ROUTE (NULL: none) where its mail goes, as the SMTP client builds them;
 * LOCAL and the STS policy stay F's and the caller's. */
void policy_facts_dest(const struct config *cfg, const struct policy_facts *f,
                       const struct tls_policy *local, const struct tls_route *route,
                       uint32_t flags, struct tls_dest_facts *d);
void policy_facts_host(const struct policy_fact_host *h, struct tls_host_facts *out);

/* "PKIX-TA", "PKIX-EE", "DANE-TA", "DANE-EE" for a TLSA usage. */
const char *tlsa_usage_name(unsigned usage);

#endif
