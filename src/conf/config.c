/*
 * config.c: reads sealmail.conf (see config.h).
 *
 * inih splits "key = value" lines. A reader in front of it hands over one
 * physical line per call, so the handler, which inih calls right after the
 * reader returned the line, knows the line number. The reader also does what
 * the Debian build of inih cannot:
 *   - it parses section headers itself and gives inih a blank line instead:
 *     inih cuts section names at 49 octets and never tells the handler where
 *     a section starts or that it is empty;
 *   - it drops leading white space, so an indented line is never taken as a
 *     multi-line continuation of the previous value;
 *   - ';' and '#' start a comment at the start of a line or after white
 *     space (inih itself only knows ';' inline);
 *   - a line longer than inih's 200-octet buffer keeps its value here, and
 *     inih gets "key=" only, instead of cutting the line in pieces;
 *   - every syntax error is reported, inih only returns the first.
 */
#include "conf/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define DEFAULT_CIPHERS                                                                            \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                               \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
#define DEFAULT_CIPHERSUITES                                                                       \
	"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum section_kind {
	SEC_SERVER,
	SEC_TLS,
	SEC_SNI,
	SEC_LIMITS,
	SEC_LISTEN,
	SEC_SUBMISSION,
	SEC_DNS,
	SEC_OUTBOUND,
	SEC_OUTBOUND_DOMAINS, /* keys are domains: see entry_handlers[] */
	SEC_ROUTES,           /* likewise */
	SEC_QUEUE,
	N_SECTION_KINDS
};

/* What a key's offset is relative to. */
enum field_base { BASE_CONFIG, BASE_CERT, BASE_LISTENER };

struct parse_ctx;
struct key_def;
typedef void key_setter(struct parse_ctx *c, const struct key_def *k, const char *value);

struct key_def {
	enum section_kind section;
	const char *name;
	key_setter *set;
	enum field_base base;
	size_t offset, size; /* of the field within its base */
	uint64_t min, max;   /* for numbers */
	const char *min_why; /* reason for the minimum, for messages */
};

static key_setter set_string, set_hostname, set_domains, set_user, set_count, set_size,
    set_duration, set_min_version, set_ciphers, set_ciphersuites, set_address, set_protocol,
    set_listener_tls, set_listener_auth, set_networks, set_resolver, set_tls_level, set_relayhost,
    set_port, set_retry, set_bool;

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
#define QUEUE(f, setter, lo, hi)                                                                   \
	{                                                                                          \
		.section = SEC_QUEUE, .name = #f, .set = setter, CFG(f), .min = lo, .max = hi      \
	}

static const struct key_def keys[] = {
    {.section = SEC_SERVER, .name = "hostname", .set = set_hostname, CFG(hostname)},
    {.section = SEC_SERVER, .name = "data_dir", .set = set_string, CFG(data_dir)},
    {.section = SEC_SERVER, .name = "local_domains", .set = set_domains, CFG(local_domains)},
    {.section = SEC_SERVER, .name = "users", .set = set_string, CFG(users)},
    {.section = SEC_SERVER, .name = "user", .set = set_user, CFG(user)},
    {.section = SEC_SERVER, .name = "dispatchers", .set = set_count, CFG(dispatchers), .max = 64},
    {.section = SEC_SERVER, .name = "trusted_networks", .set = set_networks, CFG(trusted_networks)},
    {.section = SEC_SERVER, .name = "aliases", .set = set_string, CFG(aliases)},
    {.section = SEC_SERVER, .name = "submit_socket", .set = set_string, CFG(submit_socket)},
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
    LIMIT(command_timeout, set_duration, 1, UINT_MAX, NULL),
    LIMIT(data_timeout, set_duration, 1, UINT_MAX, NULL),
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
    {.section = SEC_DNS, .name = "resolver", .set = set_resolver, CFG(dns_resolver)},
    OUTBOUND(tls, set_tls_level, outbound_tls, 0, 0),
    OUTBOUND(relayhost, set_relayhost, relayhost, 0, 0),
    OUTBOUND(port, set_port, outbound_port, 1, 65535),
    OUTBOUND(ca_file, set_string, outbound_ca_file, 0, 0),
    OUTBOUND(min_version, set_min_version, outbound_min_version, 0, 0),
    OUTBOUND(ciphers, set_ciphers, outbound_ciphers, 0, 0),
    OUTBOUND(ciphersuites, set_ciphersuites, outbound_ciphersuites, 0, 0),
    OUTBOUND(helo, set_hostname, outbound_helo, 0, 0),
    OUTBOUND(connect_timeout, set_duration, outbound_connect_timeout, 1, UINT_MAX),
    OUTBOUND(command_timeout, set_duration, outbound_command_timeout, 1, UINT_MAX),
    QUEUE(retry, set_retry, 1, UINT_MAX),
    QUEUE(max_lifetime, set_duration, 1, UINT_MAX),
    QUEUE(delay_warning, set_duration, 0, UINT_MAX),
};

#define N_KEYS ARRAY_LEN(keys)

/* One section as written: where it starts and where each key was given. */
struct section {
	enum section_kind kind;
	int line;             /* 0 = not in the file */
	unsigned index;       /* into certs[] or listeners[] */
	char title[300];      /* between the brackets, for messages */
	int key_line[N_KEYS]; /* by index into keys[]; 0 = not given */
};

struct parse_ctx {
	struct config *cfg;
	const char *name; /* file name for messages */
	FILE *file;       /* read from this file ... */
	const char *text; /* ... or from this string */
	char *raw;        /* the current physical line */
	size_t raw_size;
	int line;
	const char *long_value; /* value of a line too long for inih, or NULL */
	const char *key;        /* key being set, for messages */
	struct section server, tls, limits, submission, dns, outbound, outbound_domains, routes,
	    queue;
	struct section sni[CONFIG_MAX_CERTS - 1];
	unsigned n_sni;
	struct section listen[CONFIG_MAX_LISTENERS];
	struct section *cur; /* section the next key goes to, or NULL */
	int skipping;        /* in a section already reported as bad */
	int oom;
	SSL_CTX *ssl; /* for checking cipher lists, made when needed */
	char *errors;
	size_t errors_len;
	unsigned n_errors;
};

/* ---- messages --------------------------------------------------------- */

/* Appends formatted text to the error list; remembers a failed allocation. */
__attribute__((format(printf, 2, 0))) static void append_v(struct parse_ctx *c, const char *fmt,
                                                           va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || c->oom)
		return;
	char *p = realloc(c->errors, c->errors_len + (size_t)n + 1);
	if (!p) {
		c->oom = 1;
		return;
	}
	vsnprintf(p + c->errors_len, (size_t)n + 1, fmt, ap);
	c->errors = p;
	c->errors_len += (size_t)n;
}

__attribute__((format(printf, 2, 3))) static void append(struct parse_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	append_v(c, fmt, ap);
	va_end(ap);
}

/* Starts a new message line: "NAME:LINE: ", or "NAME: " when LINE < 0. */
static void begin_error(struct parse_ctx *c, int line)
{
	if (c->n_errors++)
		append(c, "\n");
	if (line < 0)
		append(c, "%s: ", c->name);
	else
		append(c, "%s:%d: ", c->name, line);
}

/* Reports "NAME:LINE: message". */
__attribute__((format(printf, 3, 4))) static void error_at(struct parse_ctx *c, int line,
                                                           const char *fmt, ...)
{
	va_list ap;
	begin_error(c, line);
	va_start(ap, fmt);
	append_v(c, fmt, ap);
	va_end(ap);
}

/* Reports "NAME:LINE: KEY: message" for the key being set. */
__attribute__((format(printf, 2, 3))) static void key_error(struct parse_ctx *c, const char *fmt,
                                                            ...)
{
	va_list ap;
	begin_error(c, c->line);
	append(c, "%s: ", c->key);
	va_start(ap, fmt);
	append_v(c, fmt, ap);
	va_end(ap);
}

/* Reports "NAME:LINE: [TITLE]: message" for the section header on this line. */
__attribute__((format(printf, 3, 4))) static void
section_error(struct parse_ctx *c, const char *title, const char *fmt, ...)
{
	va_list ap;
	begin_error(c, c->line);
	append(c, "[%s]: ", title);
	va_start(ap, fmt);
	append_v(c, fmt, ap);
	va_end(ap);
}

/* ---- small parsers ---------------------------------------------------- */

static char *ltrim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

static char *rtrim(char *s)
{
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Parses decimal digits at S into *out, setting *end after them; -1 when
 * there is no digit or the number overflows. */
static int parse_digits(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*end = p;
	*out = v;
	return p == s ? -1 : 0;
}

/* The multiplier for SUFFIX, a single letter of LETTERS whose multiplier is
 * MULTS at the same index; "" means 1; 0 when not allowed. */
static uint64_t suffix_multiplier(const char *suffix, const char *letters, const uint64_t *mults)
{
	if (!*suffix)
		return 1;
	if (suffix[1])
		return 0;
	const char *p = strchr(letters, *suffix);
	return p ? mults[p - letters] : 0;
}

int config_parse_size(const char *s, uint64_t *out)
{
	static const uint64_t mults[] = {1024, 1024, 1024 * 1024, 1024 * 1024 * 1024};
	const char *end;
	uint64_t v;
	if (parse_digits(s, &end, &v) < 0)
		return -1;
	uint64_t m = suffix_multiplier(end, "kKMG", mults);
	if (!m || v > UINT64_MAX / m)
		return -1;
	*out = v * m;
	return 0;
}

int config_parse_duration(const char *s, unsigned *seconds)
{
	static const uint64_t mults[] = {1, 60, 3600, 86400};
	const char *end;
	uint64_t v;
	if (parse_digits(s, &end, &v) < 0)
		return -1;
	uint64_t m = suffix_multiplier(end, "smhd", mults);
	if (!m || v > UINT_MAX / m)
		return -1;
	*seconds = (unsigned)(v * m);
	return 0;
}

/* NULL when D is a valid domain (letters, digits and '-' in dot-separated
 * labels, RFC 1035 2.3.1 / RFC 1123 2.1), else what is wrong with it. */
static const char *domain_problem(const char *d)
{
	size_t len = strlen(d);
	if (len == 0)
		return "it is empty";
	if (len > 253)
		return "it is longer than 253 characters";
	const char *label = d;
	for (;;) {
		size_t n = strcspn(label, ".");
		if (n == 0)
			return "it has an empty label (a leading, trailing or double dot)";
		if (n > 63)
			return "a label is longer than 63 characters";
		if (strspn(label,
		           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") < n)
			return "only letters, digits, '-' and '.' are allowed (write international "
			       "names in their xn-- form)";
		if (label[0] == '-' || label[n - 1] == '-')
			return "a label starts or ends with '-'";
		if (!label[n])
			break;
		label += n + 1;
	}
	if (label != d && strspn(label, "0123456789") == strlen(label))
		return "the last label is numeric (an IP address is not a domain)";
	return NULL;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* 1 when S is 1 to 63 of letters, digits, '.', '-', '_' not starting with '-'. */
static int valid_word(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n < 64 && s[0] != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* ---- key setters -------------------------------------------------------- */

/* Where key K's value goes for the current section. */
static void *field(struct parse_ctx *c, const struct key_def *k)
{
	char *base = (char *)c->cfg;
	if (k->base == BASE_CERT)
		base = (char *)&c->cfg->certs[c->cur->index];
	else if (k->base == BASE_LISTENER)
		base = (char *)&c->cfg->listeners[c->cur->index];
	return base + k->offset;
}

/* Copies VALUE to K's string field; -1 (reported) when it does not fit. */
static int store_string(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	size_t len = strlen(value);
	if (len >= k->size) {
		key_error(c, "too long (%zu characters; at most %zu)", len, k->size - 1);
		return -1;
	}
	memcpy(field(c, k), value, len + 1);
	return 0;
}

static void set_string(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	store_string(c, k, value);
}

static void set_hostname(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	const char *problem = domain_problem(value);
	if (problem)
		key_error(c, "'%s' is not a valid domain: %s", value, problem);
	else
		store_string(c, k, value);
}

/* Adds the domain at P (LEN characters) to local_domains, lower-cased, once;
 * -1 when the list is full. */
static int add_domain(struct parse_ctx *c, const char *p, size_t len)
{
	struct config *cfg = c->cfg;
	char d[sizeof cfg->local_domains[0]];
	if (len >= sizeof d) {
		key_error(c, "'%.*s...' is not a valid domain: it is longer than 253 characters",
		          40, p);
		return 0;
	}
	memcpy(d, p, len);
	d[len] = '\0';
	const char *problem = domain_problem(d);
	if (problem) {
		key_error(c, "'%s' is not a valid domain: %s", d, problem);
		return 0;
	}
	lower(d);
	if (config_is_local_domain(cfg, d))
		return 0;
	if (cfg->n_local_domains == CONFIG_MAX_DOMAINS) {
		key_error(c, "more than %d domains", CONFIG_MAX_DOMAINS);
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
	if (!valid_word(value))
		key_error(c,
		          "'%s' is not a valid user name: use up to 63 letters, digits, '.', '-' "
		          "or '_', not starting with '-'",
		          value);
	else
		store_string(c, k, value);
}

/* 0 when MIN <= V <= MAX for key K, else reports it (TEXT as written; UNIT
 * follows numbers in messages). */
static int check_range(struct parse_ctx *c, const struct key_def *k, const char *text, uint64_t v,
                       const char *unit)
{
	if (v < k->min) {
		key_error(c, "'%s' is too small: the minimum is %llu%s%s%s", text,
		          (unsigned long long)k->min, unit, k->min_why ? " per " : "",
		          k->min_why ? k->min_why : "");
		return -1;
	}
	if (v > k->max) {
		key_error(c, "'%s' is too large: the maximum is %llu%s", text,
		          (unsigned long long)k->max, unit);
		return -1;
	}
	return 0;
}

static void set_count(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	const char *end;
	uint64_t v;
	if (parse_digits(value, &end, &v) < 0 || *end) {
		key_error(c, "'%s' is not a whole number", value);
		return;
	}
	if (check_range(c, k, value, v, "") == 0)
		*(unsigned *)field(c, k) = (unsigned)v;
}

static void set_size(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	uint64_t v;
	if (config_parse_size(value, &v) < 0) {
		key_error(c,
		          "'%s' is not a size: write octets, optionally followed by k, M or G "
		          "(times 1024, 1024^2, 1024^3), e.g. 25M",
		          value);
		return;
	}
	if (check_range(c, k, value, v, " octets") == 0)
		*(size_t *)field(c, k) = (size_t)v;
}

#define DURATION_PROBLEM                                                                           \
	"'%s' is not a duration: write seconds, optionally followed by s, m, h or d, e.g. 5m"

static void set_duration(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	unsigned v;
	if (config_parse_duration(value, &v) < 0) {
		key_error(c, DURATION_PROBLEM, value);
		return;
	}
	if (check_range(c, k, value, v, "s") == 0)
		*(unsigned *)field(c, k) = v;
}

/* Index of VALUE (any case) among the NAMES, or -1. */
static int lookup_name(const char *value, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(value, names[i]) == 0)
			return (int)i;
	return -1;
}

static void set_min_version(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	static const char *const ok[] = {"TLSv1.2", "TLSv1.3"};
	static const char *const old_tls[] = {"TLSv1", "TLSv1.0", "TLSv1.1"};
	static const char *const ssl[] = {"SSLv2", "SSLv3"};
	int i = lookup_name(value, ok, ARRAY_LEN(ok));
	if (i >= 0)
		*(int *)field(c, k) = i == 0 ? TLS1_2_VERSION : TLS1_3_VERSION;
	else if (lookup_name(value, old_tls, ARRAY_LEN(old_tls)) >= 0)
		key_error(c,
		          "'%s' is not allowed: TLS 1.0 and 1.1 are deprecated (RFC 8996); use "
		          "TLSv1.2 or TLSv1.3",
		          value);
	else if (lookup_name(value, ssl, ARRAY_LEN(ssl)) >= 0)
		key_error(c,
		          "'%s' is not allowed: SSL is broken (RFC 7568); use TLSv1.2 or TLSv1.3",
		          value);
	else
		key_error(c, "'%s' is not one of TLSv1.2, TLSv1.3", value);
}

/* An SSL_CTX to try cipher lists on, or NULL (then they are not checked). */
static SSL_CTX *cipher_checker(struct parse_ctx *c)
{
	if (!c->ssl)
		c->ssl = SSL_CTX_new(TLS_method());
	return c->ssl;
}

static void set_ciphers(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	if (store_string(c, k, value) < 0 || !cipher_checker(c))
		return;
	if (!SSL_CTX_set_cipher_list(c->ssl, value))
		key_error(c,
		          "'%s' selects no cipher OpenSSL knows (TLS 1.3 suites go in "
		          "ciphersuites)",
		          value);
	ERR_clear_error();
}

static void set_ciphersuites(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	if (store_string(c, k, value) < 0 || !cipher_checker(c))
		return;
	char one[sizeof c->cfg->ciphersuites];
	for (const char *p = value; *p; p += *p == ':') {
		size_t n = strcspn(p, ":");
		memcpy(one, p, n);
		one[n] = '\0';
		p += n;
		if (n && !SSL_CTX_set_ciphersuites(c->ssl, one))
			key_error(
			    c,
			    "'%s' is not a TLS 1.3 cipher suite OpenSSL knows (TLS 1.2 ciphers "
			    "go in ciphers)",
			    one);
	}
	ERR_clear_error();
}

/* Fills *ss and *len for HOST (no brackets; "*" = any) and PORT; -1 when
 * HOST is not an address of that family. */
static int make_address(const char *host, int v6, uint16_t port, struct sockaddr_storage *ss,
                        socklen_t *len)
{
	memset(ss, 0, sizeof *ss);
	if (v6) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof *a6;
		return inet_pton(AF_INET6, host, &a6->sin6_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	a4->sin_family = AF_INET;
	a4->sin_port = htons(port);
	a4->sin_addr.s_addr = htonl(INADDR_ANY);
	*len = sizeof *a4;
	return strcmp(host, "*") == 0 || inet_pton(AF_INET, host, &a4->sin_addr) == 1 ? 0 : -1;
}

/* Parses "a.b.c.d:port", "[v6]:port" or "*:port" into *ss and *len; NULL, or
 * what is wrong. */
static const char *parse_address(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(text, ':'), *host_end = colon, *end;
	int v6 = text[0] == '[';
	uint64_t port;
	if (!colon)
		return "the port is missing";
	if (v6) {
		host_end = strchr(text, ']');
		if (!host_end)
			return "the ']' is missing";
		if (host_end + 1 != colon)
			return "':PORT' must follow the ']'";
		text++;
	} else if (memchr(text, ':', (size_t)(colon - text))) {
		return "an IPv6 address must be in brackets, e.g. [::1]:25";
	}
	size_t n = (size_t)(host_end - text);
	if (n >= sizeof host)
		return v6 ? "the part in brackets is not an IPv6 address"
		          : "the host part is not an IPv4 address";
	memcpy(host, text, n);
	host[n] = '\0';
	if (parse_digits(colon + 1, &end, &port) < 0 || *end || port < 1 || port > 65535)
		return "the port must be a number from 1 to 65535";
	if (make_address(host, v6, (uint16_t)port, ss, len) == 0)
		return NULL;
	*len = 0;
	return v6 ? "the part in brackets is not an IPv6 address"
	          : "the host part is not an IPv4 address (host names are not looked up)";
}

static void set_address(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	struct config_listener *l = &c->cfg->listeners[c->cur->index];
	const char *problem = parse_address(value, &l->address, &l->address_len);
	if (problem) {
		l->address_len = 0;
		key_error(c, "'%s' is not valid: %s; write a.b.c.d:PORT, [IPv6]:PORT or *:PORT",
		          value, problem);
		return;
	}
	if (store_string(c, k, value) < 0)
		l->address_len = 0;
}

static const char *const protocol_names[] = {
    [LISTENER_SMTP] = "smtp",
    [LISTENER_SUBMISSION] = "submission",
};

static void set_protocol(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	int i = lookup_name(value, protocol_names, ARRAY_LEN(protocol_names));
	if (i < 0)
		key_error(c, "'%s' is not supported; write smtp or submission", value);
	else
		*(enum listener_protocol *)field(c, k) = (enum listener_protocol)i;
}

static const char *const tls_names[] = {
    [LISTENER_TLS_NONE] = "none",
    [LISTENER_TLS_OPTIONAL] = "optional",
    [LISTENER_TLS_REQUIRED] = "required",
    [LISTENER_TLS_IMPLICIT] = "implicit",
};

static void set_listener_tls(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	int i = lookup_name(value, tls_names, ARRAY_LEN(tls_names));
	if (i < 0)
		key_error(c, "'%s' is not one of none, optional, required, implicit", value);
	else
		*(enum listener_tls *)field(c, k) = (enum listener_tls)i;
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
	int i = lookup_name(value, auth_names, ARRAY_LEN(auth_names));
	if (i < 0)
		key_error(c, "'%s' is not one of none, optional, required, certificate", value);
	else
		*(enum listener_auth *)field(c, k) = (enum listener_auth)i;
}

/* yes/no and the usual synonyms, any case. */
static void set_bool(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	static const char *const names[] = {"no", "yes", "false", "true", "off", "on", "0", "1"};
	int i = lookup_name(value, names, ARRAY_LEN(names));
	if (i < 0)
		key_error(c, "'%s' is not yes or no (true/false, on/off and 1/0 are accepted too)",
		          value);
	else
		*(int *)field(c, k) = i % 2;
}

/* ---- outbound delivery -------------------------------------------------- */

static const char *const tls_level_names[] = {
    [TLS_LEVEL_NONE] = "none", [TLS_LEVEL_MAY] = "may",       [TLS_LEVEL_ENCRYPT] = "encrypt",
    [TLS_LEVEL_DANE] = "dane", [TLS_LEVEL_VERIFY] = "verify",
};

/* Formats the reason something is wrong into WHY of SIZE; returns -1. */
__attribute__((format(printf, 3, 4))) static int why_not(char *why, size_t size, const char *fmt,
                                                         ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return -1;
}

/* Copies the LEN octets at P into BUF of SIZE as a string; -1 when they do
 * not fit. */
static int copy_token(char *buf, size_t size, const char *p, size_t len)
{
	if (len >= size)
		return -1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return 0;
}

/* Clears the bits of ADDR (BITS long) after the first PREFIX; 1 when one was
 * set. */
static int clear_host_bits(unsigned char *addr, unsigned prefix, unsigned bits)
{
	int was_set = 0;
	for (unsigned i = prefix; i < bits; i++) {
		unsigned char bit = (unsigned char)(0x80 >> (i % 8));
		was_set |= (addr[i / 8] & bit) != 0;
		addr[i / 8] &= (unsigned char)~bit;
	}
	return was_set;
}

/* Parses "address" or "address/prefix" into *net; an IPv4-mapped IPv6
 * network becomes the IPv4 network it maps. 0, or -1 with the reason in
 * WHY. */
static int parse_network(const char *text, struct config_network *net, char *why, size_t size)
{
	char addr[INET6_ADDRSTRLEN];
	size_t n = strcspn(text, "/");
	memset(net, 0, sizeof *net);
	net->family = memchr(text, ':', n) ? AF_INET6 : AF_INET;
	if (copy_token(addr, sizeof addr, text, n) < 0 ||
	    inet_pton(net->family, addr, net->addr) != 1)
		return why_not(why, size,
		               "not an IPv4 or IPv6 address (host names are not looked up)");
	unsigned bits = net->family == AF_INET6 ? 128 : 32;
	net->prefix = bits;
	if (text[n]) {
		const char *end;
		uint64_t v;
		if (parse_digits(text + n + 1, &end, &v) < 0 || *end || v > bits)
			return why_not(why, size, "the prefix length must be a number from 0 to %u",
			               bits);
		net->prefix = (unsigned)v;
	}
	if (clear_host_bits(net->addr, net->prefix, bits)) {
		inet_ntop(net->family, net->addr, addr, sizeof addr);
		return why_not(why, size, "bits are set after the prefix; the network is %s/%u",
		               addr, net->prefix);
	}
	if (net->family == AF_INET6 && net->prefix >= 96 &&
	    IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)net->addr)) {
		memmove(net->addr, net->addr + 12, 4);
		memset(net->addr + 4, 0, 12);
		net->family = AF_INET;
		net->prefix -= 96;
	}
	return 0;
}

/* Adds the network written as the LEN octets at P to trusted_networks; -1
 * when the list is full. */
static int add_network(struct parse_ctx *c, const char *p, size_t len)
{
	struct config *cfg = c->cfg;
	struct config_network net;
	char one[INET6_ADDRSTRLEN + 5], why[200];
	if (copy_token(one, sizeof one, p, len) < 0) {
		key_error(c, "'%.*s...' is not a network: it is too long", 40, p);
		return 0;
	}
	if (parse_network(one, &net, why, sizeof why) < 0) {
		key_error(c,
		          "'%s' is not a network: %s; write an address or ADDRESS/PREFIX, e.g. "
		          "192.0.2.0/24 or 2001:db8::/32",
		          one, why);
		return 0;
	}
	if (cfg->n_trusted_networks == CONFIG_MAX_NETWORKS) {
		key_error(c, "more than %d networks", CONFIG_MAX_NETWORKS);
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

/* Parses a resolver address: "a.b.c.d", "IPv6", "[IPv6]" (port 53),
 * "a.b.c.d:PORT" or "[IPv6]:PORT". NULL, or what is wrong. */
static const char *parse_resolver(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN];
	size_t n = strlen(text);
	if (text[0] == '*')
		return "'*' is not an address here";
	if (make_address(text, 0, 53, ss, len) == 0 || make_address(text, 1, 53, ss, len) == 0)
		return NULL;
	if (text[0] == '[' && text[n - 1] == ']' &&
	    copy_token(host, sizeof host, text + 1, n - 2) == 0)
		return make_address(host, 1, 53, ss, len) == 0
		           ? NULL
		           : "the part in brackets is not an IPv6 address";
	if (!strchr(text, ':'))
		return "not an IP address (host names are not looked up)";
	return parse_address(text, ss, len);
}

/* resolver: stored parsed, and as text always with its port. */
static void set_resolver(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	struct config *cfg = c->cfg;
	struct sockaddr_storage ss;
	socklen_t len;
	char host[INET6_ADDRSTRLEN];
	const char *problem = parse_resolver(value, &ss, &len);
	if (problem) {
		key_error(c,
		          "'%s' is not valid: %s; write a.b.c.d, [IPv6], a.b.c.d:PORT or "
		          "[IPv6]:PORT",
		          value, problem);
		return;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof host);
		snprintf(field(c, k), k->size, "[%s]:%u", host, ntohs(a6->sin6_port));
	} else {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a4->sin_addr, host, sizeof host);
		snprintf(field(c, k), k->size, "%s:%u", host, ntohs(a4->sin_port));
	}
	cfg->dns_resolver_address = ss;
	cfg->dns_resolver_address_len = len;
}

static void set_tls_level(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	if (tls_level_parse(value, field(c, k)) < 0)
		key_error(c, "'%s' is not one of none, may, encrypt, dane, verify", value);
}

static void set_port(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	const char *end;
	uint64_t v;
	if (parse_digits(value, &end, &v) < 0 || *end || v < k->min || v > k->max)
		key_error(c, "'%s' is not a port: write a number from 1 to 65535", value);
	else
		*(uint16_t *)field(c, k) = (uint16_t)v;
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
		return why_not(why, size, "the part in brackets is not an IPv6 address");
	const char *problem = domain_problem(r->host);
	if (problem)
		return why_not(why, size, "'%s' is not a valid host name: %s", r->host, problem);
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
			return why_not(why, size, "the ']' is missing");
		if (host_end[1] && host_end[1] != ':')
			return why_not(why, size, "only ':PORT' may follow the ']'");
	} else {
		host_end = host + strcspn(host, ":");
		if (*host_end && strchr(host_end + 1, ':'))
			return why_not(
			    why, size,
			    "an IPv6 address must be in brackets, e.g. [2001:db8::1]:25");
	}
	if (*host_end && host_end[bracketed] == ':')
		port = host_end + bracketed + 1;
	if (host_end == host)
		return why_not(why, size, "the host is missing");
	if (copy_token(r->host, sizeof r->host, host, (size_t)(host_end - host)) < 0)
		return why_not(why, size, "the host is longer than 253 characters");
	lower(r->host);
	if (port) {
		const char *end;
		uint64_t v;
		if (parse_digits(port, &end, &v) < 0 || *end || v < 1 || v > 65535)
			return why_not(why, size, "the port must be a number from 1 to 65535");
		r->port = (uint16_t)v;
	}
	return check_route_host(r, bracketed, why, size);
}

#define ROUTE_FORMS "write HOST, HOST:PORT, [HOST], [HOST]:PORT or an IP address (IPv6 in brackets)"

static void set_relayhost(struct parse_ctx *c, const struct key_def *k, const char *value)
{
	struct config_route r;
	char why[400];
	(void)k; /* the field is a struct config_route */
	if (parse_route(value, &r, why, sizeof why) < 0) {
		key_error(c, "'%s' is not valid: %s; " ROUTE_FORMS, value, why);
		return;
	}
	r.line = c->line;
	c->cfg->relayhost = r;
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
			key_error(c, "more than %d waits (the last one repeats)", CONFIG_MAX_RETRY);
			return;
		}
		if (copy_token(one, sizeof one, p, len) < 0) {
			key_error(c, "'%.*s...' is not a duration: it is too long", 20, p);
			bad = 1;
		} else if (config_parse_duration(one, &waits[n]) < 0) {
			key_error(c, DURATION_PROBLEM, one);
			bad = 1;
		} else if (check_range(c, k, one, waits[n], "s") < 0) {
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

/* Checks KEY, a key of [outbound.domains] or [routes] (a domain, or
 * ".domain" for every subdomain), and puts it lower-cased into OUT of 256;
 * -1 (reported) when it is not valid. */
static int rule_domain(struct parse_ctx *c, const char *key, char *out)
{
	size_t len = strlen(key);
	const char *problem =
	    len < 256 ? domain_problem(key + (key[0] == '.')) : "it is longer than 253 characters";
	if (problem) {
		key_error(c,
		          "not a valid domain: %s (keys here are domains, or .domain for every "
		          "subdomain)",
		          problem);
		return -1;
	}
	memcpy(out, key, len + 1);
	lower(out);
	return 0;
}

static void given_twice(struct parse_ctx *c, int first_line)
{
	key_error(c, "given twice in [%s] (first at line %d)", c->cur->title, first_line);
}

/* NULL when NAME is a host name, "*.domain" or ".domain"; else what is wrong. */
static const char *name_pattern_problem(const char *name)
{
	if (strncmp(name, "*.", 2) == 0)
		return domain_problem(name + 2);
	return domain_problem(name + (name[0] == '.'));
}

/* Checks the ':'-separated names of match= (the LEN octets at NAMES) and
 * puts them lower-cased into P->match; -1 (reported) when one is bad. */
static int set_match(struct parse_ctx *c, struct config_tls_policy *p, const char *names,
                     size_t len)
{
	char one[256];
	if (len == 0) {
		key_error(c, "match= needs at least one name");
		return -1;
	}
	if (len >= sizeof p->match) {
		key_error(c, "match= is too long (at most %zu characters)", sizeof p->match - 1);
		return -1;
	}
	memcpy(p->match, names, len);
	p->match[len] = '\0';
	lower(p->match);
	for (const char *n = p->match;; n++) {
		size_t n_len = strcspn(n, ":");
		const char *problem = "it is longer than 253 characters";
		if (copy_token(one, sizeof one, n, n_len) == 0)
			problem = n_len ? name_pattern_problem(one)
			                : "it is empty (two ':' in a row, or one at an end)";
		if (problem) {
			key_error(c, "'%.*s' in match= is not a valid host name: %s", (int)n_len, n,
			          problem);
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
	if (copy_token(level, sizeof level, value, len) < 0 ||
	    tls_level_parse(level, &p->level) < 0) {
		key_error(c, "'%.*s' is not one of none, may, encrypt, dane, verify", (int)len,
		          value);
		return -1;
	}
	for (const char *w = value + len;;) {
		w += strspn(w, " \t");
		len = strcspn(w, " \t");
		if (len == 0)
			break;
		if (strncasecmp(w, "match=", 6) == 0 && has_match) {
			key_error(c, "match= given twice; separate the names with ':'");
			bad = 1;
		} else if (strncasecmp(w, "match=", 6) == 0) {
			has_match = 1;
			bad |= set_match(c, p, w + 6, len - 6) < 0;
		} else {
			key_error(
			    c,
			    "'%.*s' is not understood; after the level only match=NAME:NAME... "
			    "may follow (with verify)",
			    (int)len, w);
			bad = 1;
		}
		w += len;
	}
	if (has_match && p->level != TLS_LEVEL_VERIFY) {
		key_error(c, "match= is only allowed with verify (the other levels check no name)");
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
		key_error(c, "more than %d entries in [%s]", CONFIG_MAX_POLICIES, c->cur->title);
	else
		cfg->tls_policies[cfg->n_tls_policies++] = p;
}

/* One line of [routes]: "DOMAIN = HOST". */
static void add_route(struct parse_ctx *c, const char *key, const char *value)
{
	struct config *cfg = c->cfg;
	struct config_route r;
	char domain[sizeof r.domain], why[400];
	if (rule_domain(c, key, domain) < 0)
		return;
	for (unsigned i = 0; i < cfg->n_routes; i++) {
		if (strcmp(cfg->routes[i].domain, domain) == 0) {
			given_twice(c, cfg->routes[i].line);
			return;
		}
	}
	if (parse_route(value, &r, why, sizeof why) < 0) {
		key_error(c, "'%s' is not valid: %s; " ROUTE_FORMS, value, why);
		return;
	}
	memcpy(r.domain, domain, sizeof domain);
	r.line = c->line;
	if (cfg->n_routes == CONFIG_MAX_ROUTES)
		key_error(c, "more than %d entries in [%s]", CONFIG_MAX_ROUTES, c->cur->title);
	else
		cfg->routes[cfg->n_routes++] = r;
}

/* Sections whose keys are domains, with what handles each of their lines;
 * the other sections' keys are in keys[]. */
typedef void entry_handler(struct parse_ctx *c, const char *key, const char *value);
static entry_handler *const entry_handlers[N_SECTION_KINDS] = {
    [SEC_OUTBOUND_DOMAINS] = add_tls_policy,
    [SEC_ROUTES] = add_route,
};

/* ---- sections ----------------------------------------------------------- */

static const char *const section_names[] = {
    [SEC_SERVER] = "[server]",
    [SEC_TLS] = "[tls]",
    [SEC_SNI] = "[tls NAME]",
    [SEC_LIMITS] = "[limits]",
    [SEC_LISTEN] = "[listen NAME]",
    [SEC_SUBMISSION] = "[submission]",
    [SEC_DNS] = "[dns]",
    [SEC_OUTBOUND] = "[outbound]",
    [SEC_OUTBOUND_DOMAINS] = "[outbound.domains]",
    [SEC_ROUTES] = "[routes]",
    [SEC_QUEUE] = "[queue]",
};

#define ALL_SECTIONS                                                                               \
	"[server], [tls], [tls NAME], [limits], [listen NAME], [submission], [dns], [outbound], "  \
	"[outbound.domains], [routes] or [queue]"

/* The sections written without a name, at most once, and where their
 * struct section is in struct parse_ctx. [tls] is one too, but shares its
 * word with [tls NAME]. */
static const struct {
	const char *word;
	enum section_kind kind;
	size_t offset;
} single_sections[] = {
    {"server", SEC_SERVER, offsetof(struct parse_ctx, server)},
    {"limits", SEC_LIMITS, offsetof(struct parse_ctx, limits)},
    {"submission", SEC_SUBMISSION, offsetof(struct parse_ctx, submission)},
    {"dns", SEC_DNS, offsetof(struct parse_ctx, dns)},
    {"outbound", SEC_OUTBOUND, offsetof(struct parse_ctx, outbound)},
    {"outbound.domains", SEC_OUTBOUND_DOMAINS, offsetof(struct parse_ctx, outbound_domains)},
    {"routes", SEC_ROUTES, offsetof(struct parse_ctx, routes)},
    {"queue", SEC_QUEUE, offsetof(struct parse_ctx, queue)},
};

/* The struct section of single_sections[I] in C. */
static struct section *single_section(struct parse_ctx *c, size_t i)
{
	return (struct section *)((char *)c + single_sections[i].offset);
}

/* Makes SEC, of KIND and written as TITLE, the one the next keys go to. */
static void enter(struct parse_ctx *c, struct section *sec, enum section_kind kind,
                  const char *title)
{
	sec->kind = kind;
	sec->line = c->line;
	snprintf(sec->title, sizeof sec->title, "%s", title);
	c->cur = sec;
	c->skipping = 0;
}

/* A section of single_sections[], or [tls]: no name, once. */
static void begin_single(struct parse_ctx *c, struct section *sec, enum section_kind kind,
                         const char *title, const char *arg)
{
	if (*arg)
		section_error(c, title, "%s takes no name", section_names[kind]);
	else if (sec->line)
		section_error(c, title, "section given twice (first at line %d); merge them",
		              sec->line);
	else
		enter(c, sec, kind, title);
}

/* [tls NAME]: a certificate chosen by SNI. */
static void begin_sni(struct parse_ctx *c, const char *title, const char *arg)
{
	char name[sizeof c->cfg->certs[0].name];
	const char *problem = "it is longer than 253 characters";
	if (strlen(arg) < sizeof name) {
		snprintf(name, sizeof name, "%s", arg);
		lower(name);
		problem = domain_problem(strncmp(name, "*.", 2) == 0 ? name + 2 : name);
	}
	if (problem) {
		section_error(c, title, "'%s' is not a valid host name: %s", arg, problem);
		return;
	}
	for (unsigned i = 0; i < c->n_sni; i++) {
		if (strcmp(c->cfg->certs[c->sni[i].index].name, name) == 0) {
			section_error(c, title, "a certificate for '%s' was given at line %d", name,
			              c->sni[i].line);
			return;
		}
	}
	if (c->n_sni == ARRAY_LEN(c->sni)) {
		section_error(c, title, "too many [tls NAME] sections (at most %zu)",
		              ARRAY_LEN(c->sni));
		return;
	}
	struct section *sec = &c->sni[c->n_sni];
	sec->index = 1 + c->n_sni++;
	struct config_cert *cert = &c->cfg->certs[sec->index];
	memcpy(cert->name, name, sizeof name);
	cert->line = c->line;
	enter(c, sec, SEC_SNI, title);
}

/* [listen NAME]: one more listener, with the defaults. */
static void begin_listener(struct parse_ctx *c, const char *title, const char *arg)
{
	struct config *cfg = c->cfg;
	if (!*arg) {
		section_error(c, title, "a name is required, e.g. [listen mx]");
		return;
	}
	if (!valid_word(arg)) {
		section_error(c, title,
		              "'%s' is not a valid listener name: use up to 63 letters, digits, "
		              "'.', '-' or '_', not starting with '-'",
		              arg);
		return;
	}
	for (unsigned i = 0; i < cfg->n_listeners; i++) {
		if (strcmp(cfg->listeners[i].name, arg) == 0) {
			section_error(c, title, "listener '%s' was already defined at line %d", arg,
			              cfg->listeners[i].line);
			return;
		}
	}
	if (cfg->n_listeners == CONFIG_MAX_LISTENERS) {
		section_error(c, title, "too many listeners (at most %d)", CONFIG_MAX_LISTENERS);
		return;
	}
	struct config_listener *l = &cfg->listeners[cfg->n_listeners];
	memset(l, 0, sizeof *l);
	snprintf(l->name, sizeof l->name, "%s", arg);
	l->protocol = LISTENER_SMTP;
	l->tls = LISTENER_TLS_OPTIONAL;
	l->line = c->line;
	c->listen[cfg->n_listeners].index = cfg->n_listeners;
	enter(c, &c->listen[cfg->n_listeners++], SEC_LISTEN, title);
}

/* Opens the section whose header reads TITLE (between the brackets, trimmed). */
static void begin_section(struct parse_ctx *c, char *title)
{
	size_t n = strcspn(title, " \t");
	const char *arg = ltrim(title + n);
	for (size_t i = 0; i < ARRAY_LEN(single_sections); i++) {
		if (strlen(single_sections[i].word) == n &&
		    strncmp(title, single_sections[i].word, n) == 0) {
			begin_single(c, single_section(c, i), single_sections[i].kind, title, arg);
			return;
		}
	}
	if (n == 3 && strncmp(title, "tls", n) == 0 && !*arg)
		begin_single(c, &c->tls, SEC_TLS, title, arg);
	else if (n == 3 && strncmp(title, "tls", n) == 0)
		begin_sni(c, title, arg);
	else if (n == 6 && strncmp(title, "listen", n) == 0)
		begin_listener(c, title, arg);
	else
		section_error(c, title, "unknown section; expected " ALL_SECTIONS);
}

/* Handles the header line S (starting with '['). Keys up to the next header
 * are skipped when it is bad. */
static void section_line(struct parse_ctx *c, char *s)
{
	char *close = strchr(s, ']');
	c->cur = NULL;
	c->skipping = 1;
	if (!close) {
		error_at(c, c->line, "'%.60s': a section header must end with ']'", s);
		return;
	}
	*close = '\0';
	char *title = rtrim(ltrim(s + 1));
	if (close[1])
		section_error(c, title, "unexpected text '%.60s' after ']'", ltrim(close + 1));
	begin_section(c, title);
}

/* ---- the inih reader and handler ---------------------------------------- */

/* Makes room for N octets in c->raw; 0 when out of memory. */
static int reserve_raw(struct parse_ctx *c, size_t n)
{
	if (n <= c->raw_size)
		return 1;
	char *p = realloc(c->raw, n);
	if (!p) {
		c->oom = 1;
		return 0;
	}
	c->raw = p;
	c->raw_size = n;
	return 1;
}

/* Reads the next physical line into c->raw, without its end; returns its
 * length, or -1 at the end of the input. */
static long read_raw(struct parse_ctx *c)
{
	size_t n;
	if (c->file) {
		ssize_t got = getline(&c->raw, &c->raw_size, c->file);
		if (got < 0)
			return -1;
		n = (size_t)got;
		n -= n && c->raw[n - 1] == '\n';
	} else {
		if (!*c->text)
			return -1;
		n = strcspn(c->text, "\n");
		if (!reserve_raw(c, n + 1))
			return -1;
		memcpy(c->raw, c->text, n);
		c->text += n + (c->text[n] == '\n');
	}
	c->raw[n] = '\0';
	return (long)n;
}

/* Cuts a comment (';' or '#' at the start or after white space) off S. */
static void cut_comment(char *s)
{
	for (char *p = s; *p; p++) {
		if ((*p == ';' || *p == '#') && (p == s || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			return;
		}
	}
}

/* The current line (of LEN octets) without BOM, comment and outer white
 * space. */
static char *clean_line(struct parse_ctx *c, size_t len)
{
	char *s = c->raw;
	if (strlen(s) != len) {
		error_at(c, c->line, "the line contains a NUL octet");
		s[0] = '\0';
	}
	if (c->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	s = ltrim(s);
	cut_comment(s);
	return rtrim(s);
}

/* Puts the "key = value" line S into inih's buffer STR of NUM octets; when it
 * does not fit, puts only "key=" and keeps the value in c->long_value. */
static void key_line(struct parse_ctx *c, char *s, char *str, size_t num)
{
	char *sep = s + strcspn(s, "=:");
	if (!*sep) {
		error_at(c, c->line, "'%.60s': expected 'key = value', a [section] or a comment",
		         s);
		return;
	}
	if (sep == s) {
		error_at(c, c->line, "'%.60s': the key name is missing before '%c'", s, *sep);
		return;
	}
	size_t len = strlen(s);
	if (len + 2 <= num) {
		snprintf(str, num, "%s\n", s);
		return;
	}
	*sep = '\0';
	rtrim(s);
	if (strlen(s) + 3 > num) {
		error_at(c, c->line, "'%.60s...': the key name is too long", s);
		return;
	}
	c->long_value = ltrim(sep + 1);
	snprintf(str, num, "%s=\n", s);
}

/* inih's reader: one physical line per call, prepared as explained on top. */
static char *read_line(char *str, int num, void *stream)
{
	struct parse_ctx *c = stream;
	c->long_value = NULL;
	long len = read_raw(c);
	if (len < 0 || num < 3)
		return NULL;
	c->line++;
	char *s = clean_line(c, (size_t)len);
	snprintf(str, (size_t)num, "\n");
	if (*s == '[')
		section_line(c, s);
	else if (*s)
		key_line(c, s, str, (size_t)num);
	return str;
}

/* The entry of keys[] for NAME in sections of KIND, or NULL. */
static const struct key_def *find_key(enum section_kind kind, const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (keys[i].section == kind && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Line where key NAME was given in SEC, or 0. */
static int given(const struct section *sec, const char *name)
{
	const struct key_def *k = find_key(sec->kind, name);
	return k ? sec->key_line[k - keys] : 0;
}

static void unknown_key(struct parse_ctx *c)
{
	begin_error(c, c->line);
	append(c, "%s: unknown key; [%s] accepts", c->key, c->cur->title);
	const char *sep = " ";
	for (size_t i = 0; i < N_KEYS; i++) {
		if (keys[i].section == c->cur->kind) {
			append(c, "%s%s", sep, keys[i].name);
			sep = ", ";
		}
	}
}

/* inih's handler, for the line the reader just returned. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *c = user;
	(void)section; /* the reader keeps track of sections */
	c->key = name;
	if (c->long_value)
		value = c->long_value;
	if (!c->cur) {
		if (!c->skipping)
			key_error(c, "not in a section; keys go under " ALL_SECTIONS);
		return 1;
	}
	if (entry_handlers[c->cur->kind]) {
		if (!*value)
			key_error(c, "no value given");
		else
			entry_handlers[c->cur->kind](c, name, value);
		return 1;
	}
	const struct key_def *k = find_key(c->cur->kind, name);
	if (!k) {
		unknown_key(c);
		return 1;
	}
	int *seen = &c->cur->key_line[k - keys];
	if (*seen) {
		key_error(c, "given twice in [%s] (first at line %d)", c->cur->title, *seen);
		return 1;
	}
	*seen = c->line;
	if (!*value)
		key_error(c, "no value given");
	else
		k->set(c, k, value);
	return 1;
}

/* ---- checks after parsing ----------------------------------------------- */

static void check_hostname(struct parse_ctx *c)
{
	const char *h = c->cfg->hostname;
	const char *problem = domain_problem(h);
	if (given(&c->server, "hostname") || !problem)
		return;
	if (*h)
		error_at(c, c->server.line,
		         "[server] hostname: the system host name '%s' is not a valid domain "
		         "(%s); set hostname",
		         h, problem);
	else
		error_at(c, c->server.line,
		         "[server] hostname: the system host name is unknown; set hostname");
}

static int same_address(const struct config_listener *a, const struct config_listener *b)
{
	return a->address_len && a->address_len == b->address_len &&
	       memcmp(&a->address, &b->address, a->address_len) == 0;
}

#define TLS_FOR_SUBMISSION                                                                         \
	"submission must not be in cleartext (RFC 8314); use required (STARTTLS, port 587) or "    \
	"implicit (TLS from the first byte, port 465)"

/* RFC 8314: submission only over TLS. 0, or -1 (reported) when the listener
 * allows cleartext. */
static int check_submission_tls(struct parse_ctx *c, unsigned i)
{
	const struct config_listener *l = &c->cfg->listeners[i];
	int line = given(&c->listen[i], "tls");
	if (l->protocol != LISTENER_SUBMISSION || l->tls == LISTENER_TLS_REQUIRED ||
	    l->tls == LISTENER_TLS_IMPLICIT)
		return 0;
	if (line)
		error_at(c, line, "tls: '%s' is not allowed with protocol = submission: %s",
		         listener_tls_name(l->tls), TLS_FOR_SUBMISSION);
	else
		error_at(c, l->line,
		         "[listen %s] tls: the default, optional, is not allowed with protocol = "
		         "submission: %s",
		         l->name, TLS_FOR_SUBMISSION);
	return -1;
}

/* Fills in the default auth of listener I (required for submission, none
 * for smtp) and checks it against tls and client_ca. */
static void check_listener_auth(struct parse_ctx *c, unsigned i)
{
	struct config_listener *l = &c->cfg->listeners[i];
	int line = given(&c->listen[i], "auth");
	if (!line)
		l->auth = l->protocol == LISTENER_SUBMISSION ? LISTENER_AUTH_REQUIRED
		                                             : LISTENER_AUTH_NONE;
	if (check_submission_tls(c, i) < 0 || !line)
		return;
	/* RFC 4954 4: credentials must not cross the network in cleartext */
	if (l->auth != LISTENER_AUTH_NONE && l->tls == LISTENER_TLS_NONE)
		error_at(c, line,
		         "auth: '%s' needs TLS but the listener has tls = none (AUTH is never "
		         "offered without TLS); set tls to optional, required or implicit, or auth "
		         "= none",
		         listener_auth_name(l->auth));
	else if (l->auth == LISTENER_AUTH_CERTIFICATE && !l->client_ca[0])
		error_at(c, line,
		         "auth: 'certificate' requires client_ca (the PEM CA bundle client "
		         "certificates are checked against)");
}

static void check_listeners(struct parse_ctx *c)
{
	const struct config *cfg = c->cfg;
	if (cfg->n_listeners == 0)
		error_at(c, 0,
		         "[listen NAME]: no listener; add one, e.g. [listen mx] with "
		         "address = *:25");
	for (unsigned i = 0; i < cfg->n_listeners; i++) {
		const struct config_listener *l = &cfg->listeners[i];
		int line = given(&c->listen[i], "address");
		if (!line)
			error_at(c, l->line, "[listen %s] address: required, e.g. address = *:25",
			         l->name);
		check_listener_auth(c, i);
		for (unsigned j = 0; j < i; j++) {
			if (same_address(l, &cfg->listeners[j])) {
				error_at(c, line,
				         "address: %s is already used by [listen %s] (line %d)",
				         l->address_text, cfg->listeners[j].name,
				         given(&c->listen[j], "address"));
				break;
			}
		}
	}
}

/* Reports [tls] KEY missing; OTHER is the other one of certificate and key. */
static void require_default(struct parse_ctx *c, const char *key, const char *other)
{
	const struct config *cfg = c->cfg;
	if (given(&c->tls, key))
		return;
	for (unsigned i = 0; i < cfg->n_listeners; i++) {
		const struct config_listener *l = &cfg->listeners[i];
		if (l->tls != LISTENER_TLS_NONE) {
			error_at(c, c->tls.line,
			         "[tls] %s: required because listener '%s' uses tls = %s", key,
			         l->name, listener_tls_name(l->tls));
			return;
		}
	}
	if (given(&c->tls, other))
		error_at(c, c->tls.line, "[tls] %s: required because %s is given", key, other);
	else if (c->n_sni)
		error_at(c, c->tls.line,
		         "[tls] %s: required because [%s] (line %d) needs a default certificate to "
		         "fall back on",
		         key, c->sni[0].title, c->sni[0].line);
}

static void check_certs(struct parse_ctx *c)
{
	static const char *const both[] = {"certificate", "key"};
	require_default(c, "certificate", "key");
	require_default(c, "key", "certificate");
	for (unsigned i = 0; i < c->n_sni; i++)
		for (size_t j = 0; j < ARRAY_LEN(both); j++)
			if (!given(&c->sni[i], both[j]))
				error_at(c, c->sni[i].line, "[%s] %s: required", c->sni[i].title,
				         both[j]);
	c->cfg->certs[0].line = c->tls.line;
	c->cfg->n_certs = given(&c->tls, "certificate") || c->n_sni ? 1 + c->n_sni : 0;
}

/* Fills what [outbound] and [routes] take from other keys. */
static void finish_outbound(struct parse_ctx *c)
{
	struct config *cfg = c->cfg;
	_Static_assert(sizeof cfg->outbound_helo == sizeof cfg->hostname, "helo is a host name");
	if (!given(&c->outbound, "helo"))
		memcpy(cfg->outbound_helo, cfg->hostname, sizeof cfg->outbound_helo);
	cfg->outbound_tls_line = given(&c->outbound, "tls");
	/* like Postfix's smtp_tcp_port: the port of every next hop without one */
	if (cfg->relayhost.host[0] && !cfg->relayhost.port)
		cfg->relayhost.port = cfg->outbound_port;
	for (unsigned i = 0; i < cfg->n_routes; i++)
		if (!cfg->routes[i].port)
			cfg->routes[i].port = cfg->outbound_port;
}

/* A delay_warning written in the file must come before the message is
 * returned; the default one just never fires when max_lifetime is shorter. */
static void check_queue(struct parse_ctx *c)
{
	const struct config *cfg = c->cfg;
	int line = given(&c->queue, "delay_warning");
	if (!line || !cfg->delay_warning || cfg->delay_warning < cfg->max_lifetime)
		return;
	error_at(c, line,
	         "[queue] delay_warning: %us is not shorter than max_lifetime (%us), so no delay "
	         "notice would be sent; shorten it, or write 0 to send none",
	         cfg->delay_warning, cfg->max_lifetime);
}

/* ---- entry points ------------------------------------------------------- */

/* Parses from FILE or TEXT into CFG (already defaulted); see config_load. */
static int parse(struct config *cfg, const char *name, FILE *file, const char *text,
                 char **errors_r)
{
	struct parse_ctx c = {.cfg = cfg, .name = name, .file = file, .text = text};
	for (size_t i = 0; i < ARRAY_LEN(single_sections); i++)
		single_section(&c, i)->kind = single_sections[i].kind;
	c.tls.kind = SEC_TLS;
	snprintf(c.tls.title, sizeof c.tls.title, "tls");
	snprintf(cfg->path, sizeof cfg->path, "%s", name);
	int ret = ini_parse_stream(read_line, &c, on_key, &c);
	if (file && ferror(file))
		error_at(&c, -1, "cannot read: %s", strerror(errno));
	else if (ret > 0 && c.n_errors == 0)
		error_at(&c, ret, "syntax error");
	if (!c.oom && ret != -2) {
		check_hostname(&c);
		check_listeners(&c);
		check_certs(&c);
		finish_outbound(&c);
		check_queue(&c);
	}
	free(c.raw);
	SSL_CTX_free(c.ssl);
	if (c.oom || ret == -2) {
		free(c.errors);
		c.errors = strdup("out of memory");
		c.n_errors = 1;
	}
	if (errors_r)
		*errors_r = c.n_errors ? c.errors : NULL;
	if (!errors_r || !c.n_errors)
		free(c.errors);
	return c.n_errors ? -1 : 0;
}

int config_load(struct config *cfg, const char *path, char **errors_r)
{
	config_defaults(cfg);
	FILE *f = fopen(path, "re");
	if (!f) {
		if (errors_r &&
		    asprintf(errors_r, "%s: cannot open: %s", path, strerror(errno)) < 0)
			*errors_r = NULL;
		return -1;
	}
	int r = parse(cfg, path, f, NULL, errors_r);
	fclose(f);
	return r;
}

int config_load_string(struct config *cfg, const char *name, const char *text, char **errors_r)
{
	config_defaults(cfg);
	return parse(cfg, name, NULL, text, errors_r);
}

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	if (gethostname(cfg->hostname, sizeof cfg->hostname - 1) < 0)
		cfg->hostname[0] = '\0';
	snprintf(cfg->data_dir, sizeof cfg->data_dir, "/var/lib/sealmail");
	snprintf(cfg->users, sizeof cfg->users, "/etc/sealmail/users");
	snprintf(cfg->user, sizeof cfg->user, "sealmail");
	cfg->log_auth_in_header = 0;
	cfg->check_from_header = 1;
	cfg->auth_failures = 3;
	cfg->min_version = TLS1_2_VERSION;
	snprintf(cfg->ciphers, sizeof cfg->ciphers, "%s", DEFAULT_CIPHERS);
	snprintf(cfg->ciphersuites, sizeof cfg->ciphersuites, "%s", DEFAULT_CIPHERSUITES);
	cfg->limits = (struct config_limits){
	    .command_line = 512,
	    .text_line = 1000,
	    .message_size = 26214400,
	    .recipients = 100,
	    .errors = 10,
	    .command_timeout = 300,
	    .data_timeout = 180,
	    .connections = 1000,
	    .connections_per_client = 20,
	};
	cfg->outbound_tls = TLS_LEVEL_MAY;
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

int config_is_local_domain(const struct config *cfg, const char *domain)
{
	for (unsigned i = 0; domain && i < cfg->n_local_domains; i++)
		if (strcasecmp(cfg->local_domains[i], domain) == 0)
			return 1;
	return 0;
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

const char *tls_level_name(enum tls_level level)
{
	if ((unsigned)level < ARRAY_LEN(tls_level_names))
		return tls_level_names[level];
	return "?";
}

int tls_level_parse(const char *s, enum tls_level *level)
{
	int i = lookup_name(s, tls_level_names, ARRAY_LEN(tls_level_names));
	if (i < 0)
		return -1;
	*level = (enum tls_level)i;
	return 0;
}

/* 1 when the first PREFIX bits of A and B are equal. */
static int prefix_equal(const unsigned char *a, const unsigned char *b, unsigned prefix)
{
	unsigned bytes = prefix / 8, rest = prefix % 8;
	if (memcmp(a, b, bytes) != 0)
		return 0;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return rest == 0 || ((a[bytes] ^ b[bytes]) & mask) == 0;
}

int config_is_trusted_client(const struct config *cfg, const struct sockaddr *sa)
{
	unsigned char addr[16];
	int family = sa ? sa->sa_family : AF_UNSPEC;
	if (family == AF_INET) {
		struct sockaddr_in a4;
		memcpy(&a4, sa, sizeof a4);
		memcpy(addr, &a4.sin_addr, 4);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 a6;
		memcpy(&a6, sa, sizeof a6);
		memcpy(addr, &a6.sin6_addr, 16);
		if (IN6_IS_ADDR_V4MAPPED(&a6.sin6_addr)) {
			memmove(addr, addr + 12, 4);
			family = AF_INET;
		}
	} else {
		return 0;
	}
	for (unsigned i = 0; i < cfg->n_trusted_networks; i++) {
		const struct config_network *net = &cfg->trusted_networks[i];
		if (net->family == family && prefix_equal(net->addr, addr, net->prefix))
			return 1;
	}
	return 0;
}

/* The [routes] entry whose key is exactly KEY, or NULL. */
static const struct config_route *route_named(const struct config *cfg, const char *key)
{
	for (unsigned i = 0; i < cfg->n_routes; i++)
		if (strcmp(cfg->routes[i].domain, key) == 0)
			return &cfg->routes[i];
	return NULL;
}

const struct config_route *config_route_for_domain(const struct config *cfg, const char *domain)
{
	char d[sizeof cfg->routes[0].domain];
	size_t len = domain ? strlen(domain) : 0;
	len -= len && domain[len - 1] == '.';
	if (len == 0 || copy_token(d, sizeof d, domain, len) < 0)
		return NULL;
	lower(d);
	const struct config_route *r = route_named(cfg, d);
	/* each '.' starts a ".parent" key, the longest first */
	for (const char *p = strchr(d, '.'); !r && p; p = strchr(p + 1, '.'))
		r = route_named(cfg, p);
	return r;
}
