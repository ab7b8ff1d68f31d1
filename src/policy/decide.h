/*
 * decide.h: the one place that merges what applies to a delivery into a
 * decision: the local table (policy.h), DANE (RFC 7672: the MX host's
 * DNSSEC-secure TLSA records), MTA-STS (RFC 8461), REQUIRETLS (RFC 8689),
 * `TLS-Required: No`, downgrade memory, testing rules and an operator's
 * override. Pure: the SMTP client (smtp/mta_*.c) calls it for each host it
 * may connect to and again on what the connection achieved, and `sealmail
 * policy explain` calls it on the same facts, so both give the same answer.
 *
 * Precedence, strongest first:
 *   - REQUIRETLS: TLS to an authenticated peer (DANE, MTA-STS or PKIX for
 *     the MX name) or the message is returned; nothing lowers it;
 *   - an override (`queue release --tls-override`) or `TLS-Required: No`:
 *     delivered as "may";
 *   - an explicit [outbound.domains] rule other than dane/dane-only: it wins
 *     over what the destination publishes (the operator knows the partner);
 *   - DANE, where the level is dane or dane-only and the TLSA records are
 *     DNSSEC-secure (DANE wins over MTA-STS, RFC 8461 2);
 *   - MTA-STS enforce (testing only records);
 *   - the level (default "dane": as "may" without TLSA records);
 *   - downgrade memory adds: never less than the best protection seen.
 * A "testing" rule delivers as "may" would and records what its level
 * would have refused.
 */
#ifndef SEALMAIL_DECIDE_H
#define SEALMAIL_DECIDE_H

#include <stddef.h>
#include <stdint.h>

#include "mail/tls_evidence.h"
#include "policy/policy.h"

/* What is known about the destination domain. */
struct tls_dest_facts {
	const char *domain;
	const struct tls_policy *local; /* tls_policy_for_domain() */
	int routed;                     /* a route or relay host: MTA-STS does not apply */
	int route_mx;                   /* the route's host is resolved through its MX records */
	uint32_t mx_status;             /* enum dnssec_status of the MX RRset */
	const struct sts_policy *sts;   /* NULL, or mode STS_MODE_ABSENT: none */
	uint32_t flags;                 /* ENVELOPE_* | MTA_TASK_TLS_OVERRIDE */
	uint32_t seen_level;            /* enum tls_seen remembered for the domain */
	uint64_t seen_time;             /* 0: nothing remembered */
	unsigned remember_seconds;      /* [outbound] remember_tls; 0 = off */
	uint64_t now;                   /* UTC seconds */
};

/* What is known about one host. */
struct tls_host_facts {
	const char *name;     /* the MX host, or the route's host */
	uint32_t addr_status; /* enum dnssec_status of its address records */
	uint32_t tlsa_status; /* enum dnssec_status of its TLSA lookup */
	unsigned n_tlsa;
	const struct tlsa_record *tlsa;
};

/* The authentication a connection must achieve. */
enum tls_auth {
	TLS_AUTH_NONE,
	TLS_AUTH_DANE, /* OpenSSL's DANE check against decision.tlsa */
	TLS_AUTH_STS,  /* PKIX, the certificate valid for the MX host name (RFC 8461 4.2) */
	TLS_AUTH_PKIX, /* PKIX, valid for decision.names */
};

#define TLS_NAMES_MAX 1024

struct tls_decision {
	enum tls_level level; /* the level the host is held to */
	char source[16];      /* which rule chose it: see delivery.h mta_report.source */
	char evidence[256];   /* in words, for logs, explain and the record */
	int skip;             /* the host may not be used at all */
	char skip_reason[256];
	char skip_rpt[40];  /* the TLS-RPT result type of a skipped host */
	int starttls;       /* try STARTTLS */
	int tls_required;   /* no plaintext fallback */
	enum tls_auth auth; /* what the peer must prove */
	unsigned n_tlsa;    /* the usable TLSA records (DANE-TA/EE, RFC 7672 3.1) */
	struct tlsa_record tlsa[TLSA_MAX];
	char names[TLS_NAMES_MAX]; /* ':'-separated names PKIX checks (always filled) */
	/* testing: what is checked and only recorded */
	enum tls_auth test_auth;
	int test_tls_required;
	char test_what[128]; /* "rule example.com verify testing", "MTA-STS testing id X" */
	int requiretls;      /* the message demands TLS (RFC 8689): failures are permanent */
	uint32_t need_seen;  /* downgrade memory: at least this enum tls_seen */
	char seen_date[16];  /* "2026-11-30" when need_seen > plaintext */
	char rpt_policy[16]; /* "tlsa", "sts", "no-policy-found" */
	char sts_id[STS_ID_MAX];
};

/* Starts D (cleared) for DOMAIN under the local rule LOCAL with what the
 * lookup found (MX_STATUS, STS); routed and route_mx from ROUTE (NULL, or
 * host "": mail goes to DOMAIN's MX hosts). Flags, downgrade memory and
 * now are the caller's to set. The SMTP client and `policy explain` both
 * build their facts so. */
void tls_dest_facts_init(struct tls_dest_facts *d, const char *domain,
                         const struct tls_policy *local, const struct tls_route *route,
                         uint32_t mx_status, const struct sts_policy *sts);

/* The decision for host H of destination D. */
void tls_decide(const struct tls_dest_facts *d, const struct tls_host_facts *h,
                struct tls_decision *out);

/* What a connection achieved. */
struct tls_result {
	int tls;             /* the handshake completed (else plaintext) */
	int offered;         /* the peer offered STARTTLS */
	int pkix_ok;         /* the chain is valid and names one of decision.names */
	int dane_ok;         /* OpenSSL's DANE check passed (decision.auth == TLS_AUTH_DANE) */
	const char *problem; /* why not verified (OpenSSL's words), or "" */
	const char *rpt_cert; /* RFC 8460 type of a certificate problem: "certificate-expired",
	                         "certificate-host-mismatch", "certificate-not-trusted" */
};

enum tls_verdict {
	TLS_VERDICT_OK,
	TLS_VERDICT_DEFER,   /* a policy failure: try another host, or later */
	TLS_VERDICT_RETURN,  /* REQUIRETLS cannot be met: return the message now (5.7.30) */
};

struct tls_judgement {
	enum tls_verdict verdict;
	char peer[16];     /* "dane", "sts", "verified", "unchecked", "none" */
	uint32_t achieved; /* enum tls_seen */
	char why[512];     /* for a failure: the reason, without a status code */
	char rpt_type[40]; /* the TLS-RPT result type of a failure, "" */
	char testing[256]; /* "would have failed: ..." or "" */
};

/* Judges what connection R achieved against decision DEC for domain DOMAIN
 * and host HOST. */
void tls_judge(const struct tls_decision *dec, const char *domain, const char *host,
               const struct tls_result *r, struct tls_judgement *out);

/* enum tls_seen as "plaintext", "encrypted", "authenticated". */
const char *tls_seen_name(uint32_t seen);

#endif
