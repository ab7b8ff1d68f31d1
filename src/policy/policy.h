/*
 * policy.h: which outbound TLS level applies to a destination domain, and
 * why. Pure: reads only the configuration, so `sealmail policy explain`
 * and the delivery path give the same answer.
 */
#ifndef SEALMAIL_POLICY_H
#define SEALMAIL_POLICY_H

#include "conf/config.h"

struct tls_policy {
	enum tls_level level;
	char match[1024]; /* ':'-separated accepted peer names; "" = the MX host name */
	char source[512]; /* human-readable: which rule set it, with file and line */
	const struct config_tls_policy *rule; /* NULL when the default applied */
};

/* The policy for DOMAIN (lower-cased by the caller or not): an exact
 * [outbound.domains] entry wins, then the longest ".parent" entry that
 * DOMAIN is under, then [outbound] tls. */
void tls_policy_for_domain(const struct config *cfg, const char *domain, struct tls_policy *out);

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
void tls_policy_explain(const struct config *cfg, const char *domain, char *buf, size_t size);

/* 1 when NAME matches one of the ':'-separated PATTERNS (exact, case
 * insensitive; a pattern "*.example.com" matches one label; a pattern
 * ".example.com" matches any subdomain). */
int tls_policy_name_matches(const char *patterns, const char *name);

#endif
