/*
 * policy.c: the outbound TLS level of a destination domain, and why (see
 * policy.h). The delivery code asks before each connection and
 * `sealmail policy explain` prints the same answer in words; both read only
 * the view of the configuration they are given (struct outbound_policy).
 */
#include "policy/policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define DOMAIN_MAX 256 /* a domain and its final NUL, as the config file holds it */

static const char *const tls_level_names[TLS_LEVEL_COUNT] = {
    [TLS_LEVEL_NONE] = "none", [TLS_LEVEL_MAY] = "may",       [TLS_LEVEL_ENCRYPT] = "encrypt",
    [TLS_LEVEL_DANE] = "dane", [TLS_LEVEL_DANE_ONLY] = "dane-only", [TLS_LEVEL_VERIFY] = "verify",
};

const char *tls_level_name(enum tls_level level)
{
	if ((unsigned)level < TLS_LEVEL_COUNT)
		return tls_level_names[level];
	return "?";
}

int tls_level_parse(const char *s, enum tls_level *level)
{
	for (unsigned i = 0; i < TLS_LEVEL_COUNT; i++) {
		if (strcasecmp(s, tls_level_names[i]) == 0) {
			*level = (enum tls_level)i;
			return 0;
		}
	}
	return -1;
}

/* DOMAIN lower-cased, without a final dot, into OUT of SIZE; -1 when it is
 * empty or does not fit. */
static int normalize_domain(const char *domain, char *out, size_t size)
{
	size_t len = domain ? strlen(domain) : 0;
	len -= len && domain[len - 1] == '.';
	if (len == 0 || len >= size)
		return -1;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)domain[i]);
	out[len] = '\0';
	return 0;
}

/* The rule whose key is exactly KEY, or NULL. */
static const struct outbound_rule *rule_named(const struct outbound_policy *p, const char *key)
{
	for (unsigned i = 0; i < p->n_rules; i++)
		if (strcmp(p->rules[i].domain, key) == 0)
			return &p->rules[i];
	return NULL;
}

/* The rule for D (normalized): exact first, then the longest ".parent";
 * ".example.com" never covers example.com itself. */
static const struct outbound_rule *find_rule(const struct outbound_policy *p, const char *d)
{
	const struct outbound_rule *rule = rule_named(p, d);
	/* each '.' starts a ".parent" key, the longest first */
	for (const char *dot = strchr(d, '.'); !rule && dot; dot = strchr(dot + 1, '.'))
		rule = rule_named(p, dot);
	return rule;
}

/* The route whose key is exactly KEY, or NULL. */
static const struct outbound_route *route_named(const struct outbound_policy *p, const char *key)
{
	for (unsigned i = 0; i < p->n_routes; i++)
		if (strcmp(p->routes[i].domain, key) == 0)
			return &p->routes[i];
	return NULL;
}

/* Where mail for D (normalized) goes: its route (exact, then the longest
 * ".parent"), else the relay host, else NULL (its MX hosts). */
static const struct outbound_route *route_for(const struct outbound_policy *p, const char *d)
{
	const struct outbound_route *r = route_named(p, d);
	for (const char *dot = strchr(d, '.'); !r && dot; dot = strchr(dot + 1, '.'))
		r = route_named(p, dot);
	if (!r && p->relayhost.host && p->relayhost.host[0])
		r = &p->relayhost;
	return r;
}

int tls_route_for_domain(const struct outbound_policy *p, const char *domain, struct tls_route *out)
{
	char d[DOMAIN_MAX];
	const struct outbound_route *r =
	    normalize_domain(domain, d, sizeof d) == 0 ? route_for(p, d) : NULL;

	memset(out, 0, sizeof *out);
	if (!r)
		return 0;
	snprintf(out->domain, sizeof out->domain, "%s", r->domain ? r->domain : "");
	snprintf(out->host, sizeof out->host, "%s", r->host);
	out->port = r->port;
	out->mx_lookup = r->mx_lookup;
	out->line = r->line;
	return 1;
}

/* Writes OUT->source; a very long file name may cut it short, which is
 * fine for text meant for people. */
__attribute__((format(printf, 2, 3))) static void set_source(struct tls_policy *out,
                                                             const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->source, sizeof out->source, fmt, ap);
	va_end(ap);
}

void tls_policy_for_domain(const struct outbound_policy *p, const char *domain,
                           struct tls_policy *out)
{
	char d[DOMAIN_MAX];
	const struct outbound_rule *rule =
	    normalize_domain(domain, d, sizeof d) == 0 ? find_rule(p, d) : NULL;

	memset(out, 0, sizeof *out);
	if (rule) {
		out->level = rule->level;
		out->rule_line = rule->line;
		out->testing = rule->testing;
		snprintf(out->match, sizeof out->match, "%s", rule->match ? rule->match : "");
		set_source(out, "[outbound.domains] %s (%s line %d)", rule->domain, p->path,
		           rule->line);
		return;
	}
	out->level = p->default_level;
	if (p->default_line)
		set_source(out, "[outbound] tls = %s (the default for all domains; %s line %d)",
		           tls_level_name(p->default_level), p->path, p->default_line);
	else
		set_source(out, "[outbound] tls = %s (the built-in default for all domains)",
		           tls_level_name(p->default_level));
}

/* 1 when HOST is an IPv4 or IPv6 address (without brackets). */
static int is_address(const char *host)
{
	unsigned char addr[16];
	return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

void tls_policy_peer_names(const struct tls_policy *policy, const char *domain, const char *host,
                           char *buf, size_t size)
{
	const char *names = host;
	if (policy->match[0])
		names = policy->match;
	else if (!host || !*host || is_address(host))
		names = domain;
	if (normalize_domain(names, buf, size) < 0 && size)
		buf[0] = '\0';
}

/* ---- explain ------------------------------------------------------------- */

/* Text being written into a fixed buffer; cut short when it does not fit. */
struct text {
	char *buf;
	size_t size, len;
};

__attribute__((format(printf, 2, 3))) static void add(struct text *t, const char *fmt, ...)
{
	if (t->len + 1 >= t->size)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->len = (size_t)n < t->size - t->len ? t->len + (size_t)n : t->size - 1;
}

static void explain_route(struct text *t, const struct outbound_policy *p, const char *d,
                          const struct outbound_route *r)
{
	if (!r) {
		add(t, "route: MX lookup of %s, port %u\n", d, p->port);
		return;
	}
	if (r->mx_lookup)
		add(t, "route: MX lookup of %s, port %u", r->host, r->port);
	else if (is_address(r->host))
		add(t, "route: the address %s, port %u (no DNS lookup)", r->host, r->port);
	else
		add(t, "route: %s, port %u (its address records; no MX lookup)", r->host, r->port);
	if (r->domain && r->domain[0])
		add(t, ", set by [routes] %s (%s line %d)\n", r->domain, p->path, r->line);
	else
		add(t, ", set by [outbound] relayhost (%s line %d)\n", p->path, r->line);
}

/* The "accepted peer names" line: which names the certificate must carry. */
static void explain_names(struct text *t, const struct tls_policy *p, const char *d,
                          const struct outbound_route *r)
{
	add(t, "accepted peer names: ");
	if (p->level < TLS_LEVEL_DANE) {
		add(t, "(not checked at this level)\n");
	} else if (p->level < TLS_LEVEL_VERIFY) {
		add(t, "the MX host name, for DANE-TA records (a DANE-EE record matches the key "
		       "alone, RFC 7672 3.1.1)\n");
	} else if (p->match[0]) {
		for (const char *n = p->match; *n; n += *n == ':') {
			size_t len = strcspn(n, ":");
			add(t, "%s%.*s", n == p->match ? "" : ", ", (int)len, n);
			n += len;
		}
		add(t, " (match= of the rule)\n");
	} else if (r && is_address(r->host)) {
		add(t,
		    "%s (the route is an IP address, so the certificate is checked against the "
		    "destination domain)\n",
		    d);
	} else if (r && !r->mx_lookup) {
		add(t, "%s (the host name of the route)\n", r->host);
	} else if (r) {
		add(t, "the MX host name (of each MX host of %s)\n", r->host);
	} else {
		add(t, "the MX host name\n");
	}
}

static void explain_meaning(struct text *t, const struct outbound_policy *p, enum tls_level level)
{
	add(t, "meaning: ");
	switch (level) {
	case TLS_LEVEL_NONE:
		add(t, "TLS is never used; mail goes in plaintext\n");
		break;
	case TLS_LEVEL_MAY:
		add(t, "STARTTLS is used when offered; otherwise mail goes in plaintext; the "
		       "certificate is not checked\n");
		break;
	case TLS_LEVEL_ENCRYPT:
		add(t,
		    "TLS is mandatory; any certificate is accepted; mail is deferred if the peer "
		    "does not offer STARTTLS or the handshake fails\n");
		break;
	case TLS_LEVEL_DANE:
		add(t, "where an MX host's TLSA records are DNSSEC-secure, TLS is mandatory and the "
		       "certificate must match them (RFC 7672); elsewhere as may\n");
		break;
	case TLS_LEVEL_DANE_ONLY:
		add(t, "TLS is mandatory and the certificate must match the MX host's DNSSEC-secure "
		       "TLSA records; a host without them is not used\n");
		break;
	case TLS_LEVEL_VERIFY:
		add(t, "TLS is mandatory and the certificate chain must be valid for the accepted "
		       "names (");
		if (p->ca_file && p->ca_file[0])
			add(t, "CA file: %s", p->ca_file);
		else
			add(t, "CA: the system store");
		add(t, "); mail is deferred otherwise\n");
		break;
	}
}

void tls_policy_explain(const struct outbound_policy *op, const char *domain, char *buf,
                        size_t size)
{
	struct text t = {.buf = buf, .size = size};
	struct tls_policy p;
	char d[DOMAIN_MAX];
	if (size)
		buf[0] = '\0';
	if (normalize_domain(domain, d, sizeof d) < 0) {
		add(&t, "domain: '%s' is not a domain name\n", domain ? domain : "");
		return;
	}
	tls_policy_for_domain(op, d, &p);
	const struct outbound_route *r = route_for(op, d);
	add(&t, "domain: %s\n", d);
	add(&t, "level: %s\n", tls_level_name(p.level));
	add(&t, "rule: %s%s\n", p.source,
	    p.testing ? " (testing: delivered as may would, failures only recorded)" : "");
	explain_names(&t, &p, d, r);
	explain_route(&t, op, d, r);
	explain_meaning(&t, op, p.level);
}

/* ---- name matching ------------------------------------------------------- */

/* 1 when NAME matches the LEN octets of PATTERN (see policy.h). */
static int pattern_matches(const char *pattern, size_t len, const char *name)
{
	size_t name_len = strlen(name);
	if (len > 2 && pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = strchr(name, '.');
		return dot && dot != name && strlen(dot) == len - 1 &&
		       strncasecmp(dot, pattern + 1, len - 1) == 0;
	}
	if (len > 1 && pattern[0] == '.')
		return name_len > len && name[name_len - len - 1] != '.' &&
		       strncasecmp(name + name_len - len, pattern, len) == 0;
	return name_len == len && strncasecmp(name, pattern, len) == 0;
}

int tls_policy_name_matches(const char *patterns, const char *name)
{
	char n[256];
	if (!patterns || normalize_domain(name, n, sizeof n) < 0)
		return 0;
	for (const char *p = patterns; *p; p += *p == ':') {
		size_t len = strcspn(p, ":");
		if (len && pattern_matches(p, len, n))
			return 1;
		p += len;
	}
	return 0;
}
