/*
 * policy.h: the outbound TLS levels, and which level applies to a
 * destination domain, and why. Pure: reads only a struct outbound_policy,
 * a view of the configuration that the caller fills (smtp/mta_policy.h
 * does it from the config file), so `sealmail policy explain` and the
 * delivery path give the same answer. Knows nothing of the config file.
 */
#ifndef SEALMAIL_POLICY_H
#define SEALMAIL_POLICY_H

#include <stddef.h>
#include <stdint.h>

/* Outbound TLS levels, ordered as Postfix orders them: each one asks more
 * of the peer than the one before. */
enum tls_level {
	TLS_LEVEL_NONE,    /* never STARTTLS */
	TLS_LEVEL_MAY,     /* STARTTLS when offered, plaintext otherwise */
	TLS_LEVEL_ENCRYPT, /* TLS mandatory, any certificate */
	/* DANE (RFC 7672) where the MX host's TLSA records are DNSSEC-secure and
	 * usable; otherwise as "may" (Postfix's "dane") */
	TLS_LEVEL_DANE,
	TLS_LEVEL_DANE_ONLY, /* DANE required: no secure, usable TLSA records = failure */
	TLS_LEVEL_VERIFY,    /* TLS mandatory, PKIX chain valid for the expected name */
};
#define TLS_LEVEL_COUNT 6

/* "none", "may", "encrypt", "dane", "dane-only", "verify"; "?" for anything else. */
const char *tls_level_name(enum tls_level level);
/* Parses a level name (any case). Returns 0 or -1. */
int tls_level_parse(const char *s, enum tls_level *level);

/* One per-domain rule: "example.com = verify match=a:b", or ".example.com"
 * for every subdomain. */
struct outbound_rule {
	const char *domain; /* lower-cased */
	enum tls_level level;
	const char *match; /* ':'-separated accepted names; "" = the MX host name */
	int testing;       /* deliver as "may" would; record what LEVEL would refuse */
	int line;
};

/* One route, or the relay host: where mail for a domain goes instead of
 * its MX hosts. */
struct outbound_route {
	const char *domain; /* lower-cased; "" for the relay host */
	const char *host;   /* a host name, or an IP address (IPv6 without brackets) */
	uint16_t port;
	int mx_lookup; /* HOST is resolved through its MX records */
	int line;
};

/* What the policy reads: the outbound part of the configuration. The
 * strings and arrays belong to whoever filled it. */
struct outbound_policy {
	const char *path; /* the config file, named in explanations */
	enum tls_level default_level;
	int default_line; /* where it was written; 0 = built-in default */
	const struct outbound_rule *rules;
	unsigned n_rules;
	const struct outbound_route *routes;
	unsigned n_routes;
	struct outbound_route relayhost; /* host "" when unset */
	uint16_t port;                   /* for MX hosts */
	const char *ca_file;             /* "" = the system store */
};

struct tls_policy {
	enum tls_level level;
	char match[1024]; /* ':'-separated accepted peer names; "" = the MX host name */
	char source[512]; /* human-readable: which rule set it, with file and line */
	int rule_line;    /* the line of the rule that applied; 0 when the default did */
	int testing;      /* the rule says "testing" */
};

/* Where mail for a domain goes, copied out of the view. */
struct tls_route {
	char domain[256]; /* the route's key; "" for the relay host */
	char host[256];   /* "" when mail goes to the domain's own MX hosts */
	uint16_t port;
	int mx_lookup;
	int line;
};

/* The policy for DOMAIN (lower-cased by the caller or not): an exact rule
 * wins, then the longest ".parent" rule that DOMAIN is under, then the
 * default level. */
void tls_policy_for_domain(const struct outbound_policy *p, const char *domain,
                           struct tls_policy *out);

/* Where mail for DOMAIN (any case, a final dot ignored) goes: the exact
 * route, else the longest ".parent" route DOMAIN is under, else the relay
 * host. Returns 1 with *OUT, or 0 (OUT->host "") for DOMAIN's MX hosts. */
int tls_route_for_domain(const struct outbound_policy *p, const char *domain,
                         struct tls_route *out);

/* The ':'-separated names the certificate of HOST, the host connected to
 * for DOMAIN, must match at level verify (and dane, while it is treated as
 * verify): POLICY's match= when given; else DOMAIN when HOST is an IP
 * address (a route or relay host written as an address); else HOST (an MX
 * host, or the route's host name). Lower-cased, into BUF; pass the result
 * to tls_policy_name_matches(). */
void tls_policy_peer_names(const struct tls_policy *policy, const char *domain, const char *host,
                           char *buf, size_t size);

/* Writes the multi-line answer of `sealmail policy explain DOMAIN` into BUF:
 * the level, the rule, the accepted names, and what each level means for
 * this domain's delivery (route or relay host, if any). */
void tls_policy_explain(const struct outbound_policy *p, const char *domain, char *buf,
                        size_t size);

/* 1 when NAME matches one of the ':'-separated PATTERNS (exact, case
 * insensitive; a pattern "*.example.com" matches one label; a pattern
 * ".example.com" matches any subdomain). */
int tls_policy_name_matches(const char *patterns, const char *name);

#endif
