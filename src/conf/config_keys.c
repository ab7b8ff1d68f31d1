/*
 * config_keys.c: the key table of sealmail.conf: every key of the sections
 * whose keys are fixed, with the field it sets, its range and the reason for
 * the range, and the setters that check a value and store it; and the
 * defaults (config_defaults()). The reader (config_reader.c) looks keys up
 * here; a new key is one line in conf_keys[] (and a setter when its syntax
 * is new).
 */
#include "conf/config_parse.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/tls.h"

#define DEFAULT_CIPHERS                                                                            \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                               \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
#define DEFAULT_CIPHERSUITES                                                                       \
	"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"

static key_setter set_string, set_hostname, set_domains, set_user, set_count, set_size,
    set_duration, set_min_version, set_ciphers, set_ciphersuites, set_address, set_protocol,
    set_listener_tls, set_listener_auth, set_networks, set_resolver, set_port, set_retry, set_bool,
    set_log, set_absolute_path, set_metrics_listen;

#define FIELD(base_enum, type, f)                                                                  \
	.base = base_enum, .offset = offsetof(type, f), .size = sizeof(((type *)0)->f)
#define CFG(f) FIELD(BASE_CONFIG, struct config, f)
#define CERT(f) FIELD(BASE_CERT, struct config_cert, f)
#define LISTENER(f) FIELD(BASE_LISTENER, struct config_listener, f)
#define LIMIT(f, setter, lo, hi, why)                                                              \
	{                                                                                          \
		.section = SEC_LIMITS, .name = #f, .set = setter, CFG(limits.f), .min = lo,        \
		.max = hi, .min_why = why                                                          \
	}
#define OUTBOUND(key, setter, f, lo, hi)                                                           \
	{                                                                                          \
		.section = SEC_OUTBOUND, .name = #key, .set = setter, CFG(f), .min = lo, .max = hi \
	}
#define SUBMISSION(f, setter, lo, hi)                                                              \
	{                                                                                          \
		.section = SEC_SUBMISSION, .name = #f, .set = setter, CFG(f), .min = lo, .max = hi \
	}
#define IMAP(f, setter, lo, hi, why)                                                               \
	{                                                                                          \
		.section = SEC_IMAP, .name = #f, .set = setter, CFG(imap.f), .min = lo, .max = hi, \
		.min_why = why                                                                     \
	}
#define QUEUE(f, setter, lo, hi)                                                                   \
	{                                                                                          \
		.section = SEC_QUEUE, .name = #f, .set = setter, CFG(f), .min = lo, .max = hi      \
	}

const struct key_def conf_keys[] = {
    {.section = SEC_SERVER, .name = "hostname", .set = set_hostname, CFG(hostname)},
    {.section = SEC_SERVER, .name = "data_dir", .set = set_string, CFG(data_dir)},
    {.section = SEC_SERVER, .name = "local_domains", .set = set_domains, CFG(local_domains)},
    {.section = SEC_SERVER, .name = "users", .set = set_string, CFG(users)},
    {.section = SEC_SERVER, .name = "user", .set = set_user, CFG(user)},
    {.section = SEC_SERVER, .name = "dispatchers", .set = set_count, CFG(dispatchers), .max = 64},
    {.section = SEC_SERVER, .name = "trusted_networks", .set = set_networks, CFG(trusted_networks)},
    {.section = SEC_SERVER, .name = "aliases", .set = set_string, CFG(aliases)},
    {.section = SEC_SERVER, .name = "submit_socket", .set = set_string, CFG(submit_socket)},
    {.section = SEC_SERVER, .name = "log", .set = set_log, CFG(log)},
    {.section = SEC_SERVER, .name = "pidfile", .set = set_absolute_path, CFG(pidfile)},
    {.section = SEC_TLS, .name = "certificate", .set = set_string, CERT(certificate)},
    {.section = SEC_TLS, .name = "key", .set = set_string, CERT(key)},
    {.section = SEC_TLS, .name = "min_version", .set = set_min_version, CFG(min_version)},
    {.section = SEC_TLS, .name = "ciphers", .set = set_ciphers, CFG(ciphers)},
    {.section = SEC_TLS, .name = "ciphersuites", .set = set_ciphersuites, CFG(ciphersuites)},
    {.section = SEC_SNI, .name = "certificate", .set = set_string, CERT(certificate)},
    {.section = SEC_SNI, .name = "key", .set = set_string, CERT(key)},
    LIMIT(command_line, set_size, 512, SIZE_MAX, "RFC 5321 4.5.3.1.4"),
    LIMIT(text_line, set_size, 1000, SIZE_MAX, "RFC 5321 4.5.3.1.6"),
    LIMIT(message_size, set_size, 1024, SIZE_MAX, NULL),
    LIMIT(recipients, set_count, 1, 10000, NULL),
    LIMIT(errors, set_count, 1, UINT_MAX, NULL),
    LIMIT(junk_commands, set_count, 1, UINT_MAX, NULL),
    LIMIT(command_timeout, set_duration, 1, UINT_MAX, NULL),
    LIMIT(data_timeout, set_duration, 1, UINT_MAX, NULL),
    LIMIT(tls_handshake_timeout, set_duration, 1, UINT_MAX, NULL),
    LIMIT(helo_timeout, set_duration, 1, UINT_MAX, NULL),
    LIMIT(data_min_rate, set_count, 0, UINT_MAX, NULL),
    LIMIT(connections, set_count, 1, UINT_MAX, NULL),
    LIMIT(connections_per_client, set_count, 1, UINT_MAX, NULL),
    {.section = SEC_LISTEN, .name = "address", .set = set_address, LISTENER(address_text)},
    {.section = SEC_LISTEN, .name = "protocol", .set = set_protocol, LISTENER(protocol)},
    {.section = SEC_LISTEN, .name = "tls", .set = set_listener_tls, LISTENER(tls)},
    {.section = SEC_LISTEN, .name = "auth", .set = set_listener_auth, LISTENER(auth)},
    {.section = SEC_LISTEN, .name = "client_ca", .set = set_string, LISTENER(client_ca)},
    SUBMISSION(log_auth_in_header, set_bool, 0, 0),
    SUBMISSION(check_from_header, set_bool, 0, 0),
    SUBMISSION(auth_failures, set_count, 1, 100),
    SUBMISSION(auth_failures_per_client, set_count, 1, 100000),
    SUBMISSION(auth_failures_per_account, set_count, 1, 100000),
    SUBMISSION(auth_failure_window, set_duration, 1, 86400),
    {.section = SEC_DNS, .name = "resolver", .set = set_resolver, CFG(dns_resolver)},
    {.section = SEC_DNS, .name = "trust_anchor", .set = set_string, CFG(dns_trust_anchor)},
    OUTBOUND(tls, conf_set_tls_level, outbound_tls, 0, 0),
    OUTBOUND(relayhost, conf_set_relayhost, relayhost, 0, 0),
    OUTBOUND(port, set_port, outbound_port, 1, 65535),
    OUTBOUND(ca_file, set_string, outbound_ca_file, 0, 0),
    OUTBOUND(min_version, set_min_version, outbound_min_version, 0, 0),
    OUTBOUND(ciphers, set_ciphers, outbound_ciphers, 0, 0),
    OUTBOUND(ciphersuites, set_ciphersuites, outbound_ciphersuites, 0, 0),
    OUTBOUND(helo, set_hostname, outbound_helo, 0, 0),
    OUTBOUND(connect_timeout, set_duration, outbound_connect_timeout, 1, UINT_MAX),
    OUTBOUND(command_timeout, set_duration, outbound_command_timeout, 1, UINT_MAX),
    OUTBOUND(sts_ca_file, set_string, outbound_sts_ca_file, 0, 0),
    OUTBOUND(remember_tls, set_duration, outbound_remember_tls, 0, UINT_MAX),
    OUTBOUND(tls_report, set_bool, outbound_tls_report, 0, 0),
    OUTBOUND(tls_report_from, set_string, outbound_tls_report_from, 0, 0),
    OUTBOUND(tls_report_org, set_hostname, outbound_tls_report_org, 0, 0),
    QUEUE(retry, set_retry, 1, UINT_MAX),
    QUEUE(max_lifetime, set_duration, 1, UINT_MAX),
    QUEUE(delay_warning, set_duration, 0, UINT_MAX),
    IMAP(idle_timeout, set_duration, 1800, UINT_MAX, "RFC 9051 5.4"),
    IMAP(idle_command_timeout, set_duration, 60, UINT_MAX, NULL),
    IMAP(login_timeout, set_duration, 1, UINT_MAX, NULL),
    IMAP(pop3_timeout, set_duration, 600, UINT_MAX, "RFC 1939 3"),
    IMAP(append_limit, set_size, 1024, SIZE_MAX, NULL),
    IMAP(literal_before_login, set_size, 256, 1024 * 1024, NULL),
    IMAP(sessions_per_user, set_count, 1, 10000, NULL),
    IMAP(commands_per_second, set_count, 1, UINT_MAX, NULL),
    IMAP(bad_commands, set_count, 1, UINT_MAX, NULL),
    {.section = SEC_METRICS, .name = "listen", .set = set_metrics_listen, CFG(metrics_listen)},
};

_Static_assert(ARRAY_LEN(conf_keys) == CONF_N_KEYS, "CONF_N_KEYS counts conf_keys[]");

/* The entry of conf_keys[] for NAME in sections of KIND, or NULL. */
const struct key_def *conf_find_key(enum section_kind kind, const char *name)
{
	for (size_t i = 0; i < CONF_N_KEYS; i++)
		if (conf_keys[i].section == kind && strcmp(conf_keys[i].name, name) == 0)
			return &conf_keys[i];
	return NULL;
}

/* Line where key NAME was given in SEC, or 0. */
int conf_given(const struct section *sec, const char *name)
{
	const struct key_def *k = conf_find_key(sec->kind, name);
	return k ? sec->key_line[k - conf_keys] : 0;
}

/* Where key K's value goes for the current section. */
void *conf_field(struct parse_ctx *c, const struct key_def *k)
{
	char *base = (char *)c->cfg;
	if (k->base == BASE_CERT)
		base = (char *)&c->cfg->certs[c->cur->index];
	else if (k->base == BASE_LISTENER)
		base = (char *)&c->cfg->listeners[c->cur->index];
	return base + k->offset;
}

/* Copies VALUE to K's string field; -1 (reported) when it does not fit. */
int conf_store_string(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	size_t len = strlen(value);
	if (len >= k->size) {
		conf_key_error(c, "too long (%zu characters; at most %zu)", len, k->size - 1);
		return -1;
	}
	memcpy(conf_field(c, k), value, len + 1);
	return 0;
}

static void set_string(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	conf_store_string(c, k, value);
}

/* [server] pidfile: a relative path would depend on the directory serve
 * was started in. */
static void set_absolute_path(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	if (value[0] != '/')
		conf_key_error(c, "'%s' is not an absolute path", value);
	else
		conf_store_string(c, k, value);
}

/* [server] log: syslog, stderr, or the absolute path of a file. */
static void set_log(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	if (strcmp(value, "syslog") != 0 && strcmp(value, "stderr") != 0 && value[0] != '/')
		conf_key_error(c, "'%s' is neither syslog, stderr nor an absolute file path",
		               value);
	else
		conf_store_string(c, k, value);
}

static void set_hostname(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	const char *problem = conf_domain_problem(value);
	if (problem)
		conf_key_error(c, "'%s' is not a valid domain: %s", value, problem);
	else
		conf_store_string(c, k, value);
}

/* Adds the domain at P (LEN characters) to local_domains, lower-cased, once;
 * -1 when the list is full. */
static int add_domain(struct parse_ctx *c, const char *p, size_t len)
{
	struct config *cfg = c->cfg;
	char d[sizeof cfg->local_domains[0]];
	if (len >= sizeof d) {
		conf_key_error(
		    c, "'%.*s...' is not a valid domain: it is longer than 253 characters", 40, p);
		return 0;
	}
	memcpy(d, p, len);
	d[len] = '\0';
	const char *problem = conf_domain_problem(d);
	if (problem) {
		conf_key_error(c, "'%s' is not a valid domain: %s", d, problem);
		return 0;
	}
	conf_lower(d);
	if (config_is_local_domain(cfg, d))
		return 0;
	if (cfg->n_local_domains == CONFIG_MAX_DOMAINS) {
		conf_key_error(c, "more than %d domains", CONFIG_MAX_DOMAINS);
		return -1;
	}
	memcpy(cfg->local_domains[cfg->n_local_domains++], d, len + 1);
	return 0;
}

static void set_domains(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	const char *p = value;
	(void)k; /* the field is not a plain string */
	for (;;) {
		p += strspn(p, " \t,");
		size_t len = strcspn(p, " \t,");
		if (len == 0 || add_domain(c, p, len) < 0)
			return;
		p += len;
	}
}

static void set_user(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	if (!conf_valid_word(value))
		conf_key_error(
		    c,
		    "'%s' is not a valid user name: use up to 63 letters, digits, '.', '-' "
		    "or '_', not starting with '-'",
		    value);
	else
		conf_store_string(c, k, value);
}

/* 0 when MIN <= V <= MAX for key K, else reports it (TEXT as written; UNIT
 * follows numbers in messages). */
int conf_check_range(struct parse_ctx *c, const struct key_def *k, const char *text, uint64_t v,
                     const char *unit)
{
	if (v < k->min) {
		conf_key_error(c, "'%s' is too small: the minimum is %llu%s%s%s", text,
		               (unsigned long long)k->min, unit, k->min_why ? " per " : "",
		               k->min_why ? k->min_why : "");
		return -1;
	}
	if (v > k->max) {
		conf_key_error(c, "'%s' is too large: the maximum is %llu%s", text,
		               (unsigned long long)k->max, unit);
		return -1;
	}
	return 0;
}

static void set_count(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	const char *end;
	uint64_t v;
	if (conf_parse_digits(value, &end, &v) < 0 || *end) {
		conf_key_error(c, "'%s' is not a whole number", value);
		return;
	}
	if (conf_check_range(c, k, value, v, "") == 0)
		*(unsigned *)conf_field(c, k) = (unsigned)v;
}

static void set_size(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	uint64_t v;
	if (config_parse_size(value, &v) < 0) {
		conf_key_error(c,
		               "'%s' is not a size: write octets, optionally followed by k, M or G "
		               "(times 1024, 1024^2, 1024^3), e.g. 25M",
		               value);
		return;
	}
	if (conf_check_range(c, k, value, v, " octets") == 0)
		*(size_t *)conf_field(c, k) = (size_t)v;
}

static void set_duration(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	unsigned v;
	if (config_parse_duration(value, &v) < 0) {
		conf_key_error(c, DURATION_PROBLEM, value);
		return;
	}
	if (conf_check_range(c, k, value, v, "s") == 0)
		*(unsigned *)conf_field(c, k) = v;
}

static void set_min_version(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	static const char *const ok[] = {"TLSv1.2", "TLSv1.3"};
	static const char *const old_tls[] = {"TLSv1", "TLSv1.0", "TLSv1.1"};
	static const char *const ssl[] = {"SSLv2", "SSLv3"};
	int i = conf_lookup_name(value, ok, ARRAY_LEN(ok));
	if (i >= 0)
		*(int *)conf_field(c, k) = i == 0 ? TLS1_2_VERSION : TLS1_3_VERSION;
	else if (conf_lookup_name(value, old_tls, ARRAY_LEN(old_tls)) >= 0)
		conf_key_error(
		    c,
		    "'%s' is not allowed: TLS 1.0 and 1.1 are deprecated (RFC 8996); use "
		    "TLSv1.2 or TLSv1.3",
		    value);
	else if (conf_lookup_name(value, ssl, ARRAY_LEN(ssl)) >= 0)
		conf_key_error(
		    c, "'%s' is not allowed: SSL is broken (RFC 7568); use TLSv1.2 or TLSv1.3",
		    value);
	else
		conf_key_error(c, "'%s' is not one of TLSv1.2, TLSv1.3", value);
}

static void set_ciphers(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	if (conf_store_string(c, k, value) < 0)
		return;
	if (!tls_cipher_list_known(value))
		conf_key_error(c,
		               "'%s' selects no cipher OpenSSL knows (TLS 1.3 suites go in "
		               "ciphersuites)",
		               value);
}

static void set_ciphersuites(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	if (conf_store_string(c, k, value) < 0)
		return;
	char one[sizeof c->cfg->ciphersuites];
	for (const char *p = value; *p; p += *p == ':') {
		size_t n = strcspn(p, ":");
		memcpy(one, p, n);
		one[n] = '\0';
		p += n;
		if (n && !tls_ciphersuite_known(one))
			conf_key_error(
			    c,
			    "'%s' is not a TLS 1.3 cipher suite OpenSSL knows (TLS 1.2 ciphers "
			    "go in ciphers)",
			    one);
	}
}

static void set_address(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	struct config_listener *l = &c->cfg->listeners[c->cur->index];
	const char *problem = conf_parse_address(value, &l->address, &l->address_len);
	if (problem) {
		l->address_len = 0;
		conf_key_error(c,
		               "'%s' is not valid: %s; write a.b.c.d:PORT, [IPv6]:PORT or *:PORT",
		               value, problem);
		return;
	}
	if (conf_store_string(c, k, value) < 0)
		l->address_len = 0;
}

/* [metrics] listen: where the metrics role serves HTTP. */
static void set_metrics_listen(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	struct config *cfg = c->cfg;
	const char *problem =
	    conf_parse_address(value, &cfg->metrics_address, &cfg->metrics_address_len);
	if (problem) {
		cfg->metrics_address_len = 0;
		conf_key_error(c,
		               "'%s' is not valid: %s; write a.b.c.d:PORT, [IPv6]:PORT or *:PORT",
		               value, problem);
		return;
	}
	if (conf_store_string(c, k, value) < 0)
		cfg->metrics_address_len = 0;
	cfg->metrics_listen_line = c->line;
}

static const char *const protocol_names[] = {
    [LISTENER_SMTP] = "smtp",
    [LISTENER_SUBMISSION] = "submission",
    [LISTENER_IMAP] = "imap",
    [LISTENER_POP3] = "pop3",
};

static void set_protocol(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	int i = conf_lookup_name(value, protocol_names, ARRAY_LEN(protocol_names));
	if (i < 0)
		conf_key_error(c, "'%s' is not supported; write smtp, submission, imap or pop3", value);
	else
		*(enum listener_protocol *)conf_field(c, k) = (enum listener_protocol)i;
}

static const char *const tls_names[] = {
    [LISTENER_TLS_NONE] = "none",
    [LISTENER_TLS_OPTIONAL] = "optional",
    [LISTENER_TLS_REQUIRED] = "required",
    [LISTENER_TLS_IMPLICIT] = "implicit",
};

static void set_listener_tls(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	int i = conf_lookup_name(value, tls_names, ARRAY_LEN(tls_names));
	if (i < 0)
		conf_key_error(c, "'%s' is not one of none, optional, required, implicit", value);
	else
		*(enum listener_tls *)conf_field(c, k) = (enum listener_tls)i;
}

static const char *const auth_names[] = {
    [LISTENER_AUTH_NONE] = "none",
    [LISTENER_AUTH_OPTIONAL] = "optional",
    [LISTENER_AUTH_REQUIRED] = "required",
    [LISTENER_AUTH_CERTIFICATE] = "certificate",
};

/* auth: its default follows the protocol, so it is filled in by
 * check_listener_auth() when not written. */
static void set_listener_auth(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	int i = conf_lookup_name(value, auth_names, ARRAY_LEN(auth_names));
	if (i < 0)
		conf_key_error(c, "'%s' is not one of none, optional, required, certificate",
		               value);
	else
		*(enum listener_auth *)conf_field(c, k) = (enum listener_auth)i;
}

/* yes/no and the usual synonyms, any case. */
static void set_bool(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	static const char *const names[] = {"no", "yes", "false", "true", "off", "on", "0", "1"};
	int i = conf_lookup_name(value, names, ARRAY_LEN(names));
	if (i < 0)
		conf_key_error(
		    c, "'%s' is not yes or no (true/false, on/off and 1/0 are accepted too)",
		    value);
	else
		*(int *)conf_field(c, k) = i % 2;
}

/* Adds the network written as the LEN octets at P to trusted_networks; -1
 * when the list is full. */
static int add_network(struct parse_ctx *c, const char *p, size_t len)
{
	struct config *cfg = c->cfg;
	struct config_network net;
	char one[INET6_ADDRSTRLEN + 5], why[200];
	if (conf_copy_token(one, sizeof one, p, len) < 0) {
		conf_key_error(c, "'%.*s...' is not a network: it is too long", 40, p);
		return 0;
	}
	if (conf_parse_network(one, &net, why, sizeof why) < 0) {
		conf_key_error(
		    c,
		    "'%s' is not a network: %s; write an address or ADDRESS/PREFIX, e.g. "
		    "192.0.2.0/24 or 2001:db8::/32",
		    one, why);
		return 0;
	}
	if (cfg->n_trusted_networks == CONFIG_MAX_NETWORKS) {
		conf_key_error(c, "more than %d networks", CONFIG_MAX_NETWORKS);
		return -1;
	}
	cfg->trusted_networks[cfg->n_trusted_networks++] = net;
	return 0;
}

static void set_networks(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	const char *p = value;
	(void)k; /* the field is not a plain string */
	for (;;) {
		p += strspn(p, " \t,");
		size_t len = strcspn(p, " \t,");
		if (len == 0 || add_network(c, p, len) < 0)
			return;
		p += len;
	}
}

/* resolver: stored parsed, and as text always with its port. */
static void set_resolver(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	struct config *cfg = c->cfg;
	struct sockaddr_storage ss;
	socklen_t len;
	char host[INET6_ADDRSTRLEN];
	const char *problem = conf_parse_resolver(value, &ss, &len);
	if (problem) {
		conf_key_error(c,
		               "'%s' is not valid: %s; write a.b.c.d, [IPv6], a.b.c.d:PORT or "
		               "[IPv6]:PORT",
		               value, problem);
		return;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof host);
		snprintf(conf_field(c, k), k->size, "[%s]:%u", host, ntohs(a6->sin6_port));
	} else {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a4->sin_addr, host, sizeof host);
		snprintf(conf_field(c, k), k->size, "%s:%u", host, ntohs(a4->sin_port));
	}
	cfg->dns_resolver_address = ss;
	cfg->dns_resolver_address_len = len;
}

static void set_port(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	const char *end;
	uint64_t v;
	if (conf_parse_digits(value, &end, &v) < 0 || *end || v < k->min || v > k->max)
		conf_key_error(c, "'%s' is not a port: write a number from 1 to 65535", value);
	else
		*(uint16_t *)conf_field(c, k) = (uint16_t)v;
}

/* retry: durations separated by spaces or commas; taken only when all are
 * good. */
static void set_retry(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	struct config *cfg = c->cfg;
	unsigned waits[CONFIG_MAX_RETRY], n = 0;
	int bad = 0;
	char one[32];
	const char *p = value;
	for (;;) {
		p += strspn(p, " \t,");
		size_t len = strcspn(p, " \t,");
		if (len == 0)
			break;
		if (n == CONFIG_MAX_RETRY) {
			conf_key_error(c, "more than %d waits (the last one repeats)",
			               CONFIG_MAX_RETRY);
			return;
		}
		if (conf_copy_token(one, sizeof one, p, len) < 0) {
			conf_key_error(c, "'%.*s...' is not a duration: it is too long", 20, p);
			bad = 1;
		} else if (config_parse_duration(one, &waits[n]) < 0) {
			conf_key_error(c, DURATION_PROBLEM, one);
			bad = 1;
		} else if (conf_check_range(c, k, one, waits[n], "s") < 0) {
			bad = 1;
		}
		n++;
		p += len;
	}
	if (bad)
		return;
	memcpy(cfg->retry, waits, n * sizeof waits[0]);
	cfg->n_retry = n;
}

/* The setters and the kind of value each stores (config_parse.h). */
static const struct {
	key_setter *set;
	enum conf_value_kind kind;
} setter_kinds[] = {
    {set_string, VALUE_STRING},
    {set_hostname, VALUE_STRING},
    {set_user, VALUE_STRING},
    {set_log, VALUE_STRING},
    {set_absolute_path, VALUE_STRING},
    {set_ciphers, VALUE_STRING},
    {set_ciphersuites, VALUE_STRING},
    {set_resolver, VALUE_STRING},
    {set_address, VALUE_STRING},
    {set_metrics_listen, VALUE_STRING},
    {conf_set_tls_level, VALUE_STRING},
    {set_domains, VALUE_DOMAINS},
    {set_networks, VALUE_NETWORKS},
    {set_count, VALUE_COUNT},
    {set_size, VALUE_SIZE},
    {set_duration, VALUE_DURATION},
    {set_min_version, VALUE_TLS_VERSION},
    {set_protocol, VALUE_PROTOCOL},
    {set_listener_tls, VALUE_LISTENER_TLS},
    {set_listener_auth, VALUE_LISTENER_AUTH},
    {set_port, VALUE_PORT},
    {set_retry, VALUE_RETRY},
    {set_bool, VALUE_BOOL},
    {conf_set_relayhost, VALUE_ROUTE},
};

enum conf_value_kind conf_key_kind(const struct key_def *k)
{
	for (size_t i = 0; i < ARRAY_LEN(setter_kinds); i++)
		if (setter_kinds[i].set == k->set)
			return setter_kinds[i].kind;
	return VALUE_UNKNOWN; /* config show refuses it, and its test fails */
}

const char *listener_protocol_name(enum listener_protocol protocol)
{
	if ((unsigned)protocol < ARRAY_LEN(protocol_names))
		return protocol_names[protocol];
	return "?";
}

const char *listener_tls_name(enum listener_tls tls)
{
	if ((unsigned)tls < ARRAY_LEN(tls_names))
		return tls_names[tls];
	return "?";
}

const char *listener_auth_name(enum listener_auth auth)
{
	if ((unsigned)auth < ARRAY_LEN(auth_names))
		return auth_names[auth];
	return "?";
}

const char *config_cert_section(const struct config *cfg, unsigned i, char *buf, size_t size)
{
	if (cfg->certs[i].name[0] == '\0')
		snprintf(buf, size, "[tls]");
	else
		snprintf(buf, size, "[tls %s]", cfg->certs[i].name);
	return buf;
}

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	if (gethostname(cfg->hostname, sizeof cfg->hostname - 1) < 0)
		cfg->hostname[0] = '\0';
	snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", CONFIG_DEFAULT_DATA_DIR);
	snprintf(cfg->users, sizeof cfg->users, "%s", CONFIG_DEFAULT_USERS);
	snprintf(cfg->user, sizeof cfg->user, "sealmail");
	cfg->log_auth_in_header = 0;
	cfg->check_from_header = 1;
	cfg->auth_failures = 3;
	cfg->auth_failures_per_client = 10;
	cfg->auth_failures_per_account = 20;
	cfg->auth_failure_window = 15 * 60;
	cfg->min_version = TLS1_2_VERSION;
	snprintf(cfg->ciphers, sizeof cfg->ciphers, "%s", DEFAULT_CIPHERS);
	snprintf(cfg->ciphersuites, sizeof cfg->ciphersuites, "%s", DEFAULT_CIPHERSUITES);
	cfg->limits = (struct config_limits){
	    .command_line = 512,
	    .text_line = 1000,
	    .message_size = 26214400,
	    .recipients = 100,
	    .errors = 10,
	    .junk_commands = 100,
	    .command_timeout = 300,
	    .data_timeout = 180,
	    .tls_handshake_timeout = 10,
	    .helo_timeout = 60,
	    .data_min_rate = 500,
	    .connections = 1000,
	    .connections_per_client = 50,
	};
	cfg->imap = (struct config_imap){
	    .idle_timeout = 30 * 60,
	    .idle_command_timeout = 29 * 60,
	    .login_timeout = 60,
	    .pop3_timeout = 10 * 60,
	    .append_limit = 0, /* filled in from message_size by the checks */
	    .literal_before_login = 8192,
	    .sessions_per_user = 20,
	    .commands_per_second = 200,
	    .bad_commands = 20,
	};
	memcpy(cfg->outbound_tls, "dane", sizeof("dane"));
	cfg->outbound_remember_tls = 30 * 86400;
	cfg->outbound_tls_report = 1;
	cfg->outbound_port = 25;
	cfg->outbound_min_version = TLS1_2_VERSION;
	snprintf(cfg->outbound_ciphers, sizeof cfg->outbound_ciphers, "%s", DEFAULT_CIPHERS);
	snprintf(cfg->outbound_ciphersuites, sizeof cfg->outbound_ciphersuites, "%s",
	         DEFAULT_CIPHERSUITES);
	memcpy(cfg->outbound_helo, cfg->hostname, sizeof cfg->outbound_helo);
	cfg->outbound_connect_timeout = 30;
	cfg->outbound_command_timeout = 300;
	static const unsigned retry[] = {300, 600, 1200, 2400, 3600};
	memcpy(cfg->retry, retry, sizeof retry);
	cfg->n_retry = ARRAY_LEN(retry);
	cfg->max_lifetime = 5 * 86400;
	cfg->delay_warning = 4 * 3600;
}
