/*
 * config_outbound.c: the values of outbound delivery: [outbound] tls and
 * relayhost, the lines of [outbound.domains] ("DOMAIN = LEVEL
 * [match=NAME:NAME...]") and of [routes] ("DOMAIN = HOST[:PORT]"), and what
 * they take from other keys once the file is read. Called by the reader
 * (config_reader.c) through the key table and entry_handlers[].
 */
#include "conf/config_parse.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The level words, weakest first, as policy orders its levels. */
const char *const config_tls_level_words[CONFIG_TLS_LEVELS] = {"none", "may",       "encrypt",
                                                               "dane", "dane-only", "verify"};

/* Puts the level word VALUE (any case) lower-cased into OUT of
 * CONFIG_TLS_LEVEL_MAX; -1 when it is not one. */
static int tls_level_word(const char *value, char *out)
{
	int i = conf_lookup_name(value, config_tls_level_words, CONFIG_TLS_LEVELS);
	if (i < 0)
		return -1;
	snprintf(out, CONFIG_TLS_LEVEL_MAX, "%s", config_tls_level_words[i]);
	return 0;
}

void conf_set_tls_level(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	if (tls_level_word(value, conf_field(c, k)) < 0)
		conf_key_error(c, "'%s' is not one of none, may, encrypt, dane, dane-only, verify",
		               value);
}

/* Checks R->host (lower-cased, without brackets) and sets r->mx_lookup:
 * only a host name written without brackets is looked up through MX. 0, or
 * -1 with the reason in WHY. */
static int check_route_host(struct config_route *r, int bracketed, char *why, size_t size)
{
	unsigned char addr[16];
	r->mx_lookup = 0;
	if (inet_pton(AF_INET6, r->host, addr) == 1 || inet_pton(AF_INET, r->host, addr) == 1)
		return 0;
	if (strchr(r->host, ':'))
		return conf_why_not(why, size, "the part in brackets is not an IPv6 address");
	const char *problem = conf_domain_problem(r->host);
	if (problem)
		return conf_why_not(why, size, "'%s' is not a valid host name: %s", r->host,
		                    problem);
	r->mx_lookup = !bracketed;
	return 0;
}

/* Parses "host", "host:port", "[host]", "[host]:port", "a.b.c.d[:port]" or
 * "[IPv6][:port]" into *r (port 0 when not written). 0, or -1 with the
 * reason in WHY. */
static int parse_route(const char *text, struct config_route *r, char *why, size_t size)
{
	const char *host = text, *host_end, *port = NULL;
	int bracketed = text[0] == '[';
	memset(r, 0, sizeof *r);
	if (bracketed) {
		host_end = strchr(++host, ']');
		if (!host_end)
			return conf_why_not(why, size, "the ']' is missing");
		if (host_end[1] && host_end[1] != ':')
			return conf_why_not(why, size, "only ':PORT' may follow the ']'");
	} else {
		host_end = host + strcspn(host, ":");
		if (*host_end && strchr(host_end + 1, ':'))
			return conf_why_not(
			    why, size,
			    "an IPv6 address must be in brackets, e.g. [2001:db8::1]:25");
	}
	if (*host_end && host_end[bracketed] == ':')
		port = host_end + bracketed + 1;
	if (host_end == host)
		return conf_why_not(why, size, "the host is missing");
	if (conf_copy_token(r->host, sizeof r->host, host, (size_t)(host_end - host)) < 0)
		return conf_why_not(why, size, "the host is longer than 253 characters");
	conf_lower(r->host);
	if (port) {
		const char *end;
		uint64_t v;
		if (conf_parse_digits(port, &end, &v) < 0 || *end || v < 1 || v > 65535)
			return conf_why_not(why, size, "the port must be a number from 1 to 65535");
		r->port = (uint16_t)v;
	}
	return check_route_host(r, bracketed, why, size);
}

#define ROUTE_FORMS "write HOST, HOST:PORT, [HOST], [HOST]:PORT or an IP address (IPv6 in brackets)"

void conf_set_relayhost(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	struct config_route r;
	char why[400];
	(void)k; /* the field is a struct config_route */
	if (parse_route(value, &r, why, sizeof why) < 0) {
		conf_key_error(c, "'%s' is not valid: %s; " ROUTE_FORMS, value, why);
		return;
	}
	r.line = c->line;
	c->cfg->relayhost = r;
}

/* Checks KEY, a key of [outbound.domains] or [routes] (a domain, or
 * ".domain" for every subdomain), and puts it lower-cased into OUT of 256;
 * -1 (reported) when it is not valid. */
static int rule_domain(struct parse_ctx *c, const char *key, char *out)
{
	size_t len = strlen(key);
	const char *problem = len < 256 ? conf_domain_problem(key + (key[0] == '.'))
	                                : "it is longer than 253 characters";
	if (problem) {
		conf_key_error(
		    c,
		    "not a valid domain: %s (keys here are domains, or .domain for every "
		    "subdomain)",
		    problem);
		return -1;
	}
	memcpy(out, key, len + 1);
	conf_lower(out);
	return 0;
}

static void given_twice(struct parse_ctx *c, int first_line)
{
	conf_key_error(c, "given twice in [%s] (first at line %d)", c->cur->title, first_line);
}

/* NULL when NAME is a host name, "*.domain" or ".domain"; else what is wrong. */
static const char *name_pattern_problem(const char *name)
{
	if (strncmp(name, "*.", 2) == 0)
		return conf_domain_problem(name + 2);
	return conf_domain_problem(name + (name[0] == '.'));
}

/* Checks the ':'-separated names of match= (the LEN octets at NAMES) and
 * puts them lower-cased into P->match; -1 (reported) when one is bad. */
static int set_match(struct parse_ctx *c, struct config_tls_policy *p, const char *names,
                     size_t len)
{
	char one[256];
	if (len == 0) {
		conf_key_error(c, "match= needs at least one name");
		return -1;
	}
	if (len >= sizeof p->match) {
		conf_key_error(c, "match= is too long (at most %zu characters)",
		               sizeof p->match - 1);
		return -1;
	}
	memcpy(p->match, names, len);
	p->match[len] = '\0';
	conf_lower(p->match);
	for (const char *n = p->match;; n++) {
		size_t n_len = strcspn(n, ":");
		const char *problem = "it is longer than 253 characters";
		if (conf_copy_token(one, sizeof one, n, n_len) == 0)
			problem = n_len ? name_pattern_problem(one)
			                : "it is empty (two ':' in a row, or one at an end)";
		if (problem) {
			conf_key_error(c, "'%.*s' in match= is not a valid host name: %s",
			               (int)n_len, n, problem);
			return -1;
		}
		n += n_len;
		if (!*n)
			return 0;
	}
}

/* Parses "LEVEL [match=NAME:NAME...]" into *p; -1 (reported) when wrong. */
static int parse_policy_value(struct parse_ctx *c, struct config_tls_policy *p, const char *value)
{
	char level[16];
	size_t len = strcspn(value, " \t");
	int bad = 0, has_match = 0;
	if (conf_copy_token(level, sizeof level, value, len) < 0 ||
	    tls_level_word(level, p->level) < 0) {
		conf_key_error(c, "'%.*s' is not one of none, may, encrypt, dane, dane-only, verify",
		               (int)len, value);
		return -1;
	}
	for (const char *w = value + len;;) {
		w += strspn(w, " \t");
		len = strcspn(w, " \t");
		if (len == 0)
			break;
		if (len == 7 && strncasecmp(w, "testing", 7) == 0 && p->testing) {
			conf_key_error(c, "testing given twice");
			bad = 1;
		} else if (len == 7 && strncasecmp(w, "testing", 7) == 0) {
			p->testing = 1;
		} else if (strncasecmp(w, "match=", 6) == 0 && has_match) {
			conf_key_error(c, "match= given twice; separate the names with ':'");
			bad = 1;
		} else if (strncasecmp(w, "match=", 6) == 0) {
			has_match = 1;
			bad |= set_match(c, p, w + 6, len - 6) < 0;
		} else {
			conf_key_error(
			    c,
			    "'%.*s' is not understood; after the level only match=NAME:NAME... "
			    "(with verify) and testing may follow",
			    (int)len, w);
			bad = 1;
		}
		w += len;
	}
	if (has_match && strcmp(p->level, "verify") != 0) {
		conf_key_error(
		    c, "match= is only allowed with verify (the other levels check no name)");
		bad = 1;
	}
	return bad ? -1 : 0;
}

/* One line of [outbound.domains]: "DOMAIN = LEVEL [match=...]". */
static void add_tls_policy(struct parse_ctx *c, const char *key, const char *value)
{
	struct config *cfg = c->cfg;
	struct config_tls_policy p = {.line = c->line};
	if (rule_domain(c, key, p.domain) < 0)
		return;
	for (unsigned i = 0; i < cfg->n_tls_policies; i++) {
		if (strcmp(cfg->tls_policies[i].domain, p.domain) == 0) {
			given_twice(c, cfg->tls_policies[i].line);
			return;
		}
	}
	if (parse_policy_value(c, &p, value) < 0)
		return;
	if (cfg->n_tls_policies == CONFIG_MAX_POLICIES)
		conf_key_error(c, "more than %d entries in [%s]", CONFIG_MAX_POLICIES,
		               c->cur->title);
	else
		cfg->tls_policies[cfg->n_tls_policies++] = p;
}

/* One line of [routes]: "DOMAIN = HOST". */
static void add_route(struct parse_ctx *c, const char *key, const char *value)
{
	struct config *cfg = c->cfg;
	struct config_route r;
	char domain[sizeof r.domain] = {0}, why[400]; /* copied whole */
	if (rule_domain(c, key, domain) < 0)
		return;
	for (unsigned i = 0; i < cfg->n_routes; i++) {
		if (strcmp(cfg->routes[i].domain, domain) == 0) {
			given_twice(c, cfg->routes[i].line);
			return;
		}
	}
	if (parse_route(value, &r, why, sizeof why) < 0) {
		conf_key_error(c, "'%s' is not valid: %s; " ROUTE_FORMS, value, why);
		return;
	}
	memcpy(r.domain, domain, sizeof domain);
	r.line = c->line;
	if (cfg->n_routes == CONFIG_MAX_ROUTES)
		conf_key_error(c, "more than %d entries in [%s]", CONFIG_MAX_ROUTES, c->cur->title);
	else
		cfg->routes[cfg->n_routes++] = r;
}

/* The handlers of the sections whose keys are domains (config_parse.h). */
entry_handler *const conf_entry_handlers[N_SECTION_KINDS] = {
    [SEC_OUTBOUND_DOMAINS] = add_tls_policy,
    [SEC_ROUTES] = add_route,
};

/* Fills what [outbound] and [routes] take from other keys. */
void conf_finish_outbound(struct parse_ctx *c)
{
	struct config *cfg = c->cfg;
	_Static_assert(sizeof cfg->outbound_helo == sizeof cfg->hostname, "helo is a host name");
	if (!conf_given(&c->outbound, "helo"))
		memcpy(cfg->outbound_helo, cfg->hostname, sizeof cfg->outbound_helo);
	cfg->outbound_tls_line = conf_given(&c->outbound, "tls");
	if (!conf_given(&c->outbound, "tls_report_from"))
		snprintf(cfg->outbound_tls_report_from, sizeof cfg->outbound_tls_report_from,
		         "tlsrpt-noreply@%s", cfg->hostname);
	if (!conf_given(&c->outbound, "tls_report_org"))
		snprintf(cfg->outbound_tls_report_org, sizeof cfg->outbound_tls_report_org, "%s",
		         cfg->hostname);
	/* like Postfix's smtp_tcp_port: the port of every next hop without one */
	if (cfg->relayhost.host[0] && !cfg->relayhost.port)
		cfg->relayhost.port = cfg->outbound_port;
	for (unsigned i = 0; i < cfg->n_routes; i++)
		if (!cfg->routes[i].port)
			cfg->routes[i].port = cfg->outbound_port;
}
