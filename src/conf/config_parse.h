/*
 * config_parse.h: what the files of src/conf share while a configuration
 * is read; private to src/conf (the rest of sealmail includes config.h).
 *
 * config_reader.c drives the parse (inih, sections, FILE:LINE messages),
 * config_keys.c holds the key table and its setters, config_outbound.c the
 * [outbound], [outbound.domains] and [routes] values, config_check.c the
 * checks run once the whole file is read, config_values.c the value
 * syntaxes they all use (sizes, durations, domains, addresses).
 */
#ifndef SEALMAIL_CONFIG_PARSE_H
#define SEALMAIL_CONFIG_PARSE_H

#include "conf/config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/ssl.h>

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
	SEC_OUTBOUND_DOMAINS, /* keys are domains: see conf_entry_handlers[] */
	SEC_ROUTES,           /* likewise */
	SEC_QUEUE,
	SEC_IMAP,
	SEC_METRICS,
	N_SECTION_KINDS
};

/* What a key's offset is relative to. */
enum field_base { BASE_CONFIG, BASE_CERT, BASE_LISTENER };

struct parse_ctx;
struct key_def;
typedef void key_setter(struct parse_ctx *c, const struct key_def *k, const char *value);

/* One entry of the key table (config_keys.c). */
struct key_def {
	enum section_kind section;
	const char *name;
	key_setter *set;
	enum field_base base;
	size_t offset, size; /* of the field within its base */
	uint64_t min, max;   /* for numbers */
	const char *min_why; /* reason for the minimum, for messages */
};

/* The number of entries of conf_keys[]; config_keys.c checks it. */
#define CONF_N_KEYS 72

extern const struct key_def conf_keys[];

/* One section as written: where it starts and where each key was given. */
struct section {
	enum section_kind kind;
	int line;                  /* 0 = not in the file */
	unsigned index;            /* into certs[] or listeners[] */
	char title[300];           /* between the brackets, for messages */
	int key_line[CONF_N_KEYS]; /* by index into conf_keys[]; 0 = not given */
};

/* The state of one parse, from the first line to the last check. */
struct parse_ctx {
	struct config *cfg;
	const char *name; /* file name for messages */
	const char *text; /* the rest of the input ... */
	const char *end;  /* ... up to here */
	char *raw;        /* the current physical line */
	size_t raw_size;
	int line;
	const char *long_value; /* value of a line too long for inih, or NULL */
	const char *key;        /* key being set, for messages */
	struct section server, tls, limits, submission, imap, dns, outbound, outbound_domains, routes,
	    queue, metrics;
	struct section sni[CONFIG_MAX_CERTS - 1];
	unsigned n_sni;
	struct section listen[CONFIG_MAX_LISTENERS];
	struct section *cur; /* section the next key goes to, or NULL */
	int skipping;        /* in a section already reported as bad */
	int oom;
	char *errors;
	size_t errors_len;
	unsigned n_errors;
};

/* ---- messages (config_reader.c) ----------------------------------------- */

/* Reports "NAME:LINE: message"; "NAME: message" when LINE < 0. */
__attribute__((format(printf, 3, 4))) void conf_error_at(struct parse_ctx *c, int line,
                                                         const char *fmt, ...);
/* Reports "NAME:LINE: KEY: message" for the key being set. */
__attribute__((format(printf, 2, 3))) void conf_key_error(struct parse_ctx *c, const char *fmt,
                                                          ...);

/* ---- the key table (config_keys.c) -------------------------------------- */

/* The entry of conf_keys[] for NAME in sections of KIND, or NULL. */
const struct key_def *conf_find_key(enum section_kind kind, const char *name);
/* Line where key NAME was given in SEC, or 0. */
int conf_given(const struct section *sec, const char *name);
/* Where key K's value goes for the current section. */
void *conf_field(struct parse_ctx *c, const struct key_def *k);
/* Copies VALUE to K's string field; -1 (reported) when it does not fit. */
int conf_store_string(struct parse_ctx *c, const struct key_def *k, const char *value);
/* 0 when K's min <= V <= max, else reports it (TEXT as written; UNIT after
 * numbers in messages). */
int conf_check_range(struct parse_ctx *c, const struct key_def *k, const char *text, uint64_t v,
                     const char *unit);

#define DURATION_PROBLEM                                                                           \
	"'%s' is not a duration: write seconds, optionally followed by s, m, h or d, e.g. 5m"

/* How a key's field is written back as text (config_show.c): one kind per
 * setter, so a new setter gets a line in conf_key_kind(). */
enum conf_value_kind {
	VALUE_STRING,   /* char[], as written (or normalised by its setter) */
	VALUE_DOMAINS,  /* local_domains */
	VALUE_NETWORKS, /* trusted_networks */
	VALUE_COUNT,    /* unsigned */
	VALUE_SIZE,     /* size_t octets */
	VALUE_DURATION, /* unsigned seconds */
	VALUE_TLS_VERSION,
	VALUE_PROTOCOL, /* enum listener_protocol */
	VALUE_LISTENER_TLS,
	VALUE_LISTENER_AUTH,
	VALUE_PORT,    /* uint16_t */
	VALUE_RETRY,   /* retry[], n_retry */
	VALUE_BOOL,    /* int 0/1 */
	VALUE_ROUTE,   /* struct config_route (relayhost) */
	VALUE_UNKNOWN, /* a setter missing from conf_key_kind() */
};

/* The kind of key K's value. */
enum conf_value_kind conf_key_kind(const struct key_def *k);

/* ---- outbound delivery (config_outbound.c) ------------------------------ */

key_setter conf_set_tls_level, conf_set_relayhost;

/* Sections whose keys are domains, with what handles each of their lines;
 * NULL for the sections whose keys are in conf_keys[]. */
typedef void entry_handler(struct parse_ctx *c, const char *key, const char *value);
extern entry_handler *const conf_entry_handlers[N_SECTION_KINDS];

/* Fills what [outbound] and [routes] take from other keys. */
void conf_finish_outbound(struct parse_ctx *c);

/* ---- checks after loading (config_check.c) ------------------------------ */

/* Runs every check that needs the whole file, reporting each problem. */
void conf_check_loaded(struct parse_ctx *c);

/* ---- value syntaxes (config_values.c); pure ----------------------------- */

/* Parses decimal digits at S into *out, setting *end after them; -1 when
 * there is no digit or the number overflows. */
int conf_parse_digits(const char *s, const char **end, uint64_t *out);
/* NULL when D is a valid domain (RFC 1035 2.3.1 / RFC 1123 2.1), else what
 * is wrong with it. */
const char *conf_domain_problem(const char *d);
/* Lower-cases S in place. */
void conf_lower(char *s);
/* 1 when S is 1 to 63 of letters, digits, '.', '-', '_' not starting with '-'. */
int conf_valid_word(const char *s);
/* Index of VALUE (any case) among the N NAMES, or -1. */
int conf_lookup_name(const char *value, const char *const *names, size_t n);
/* Formats the reason something is wrong into WHY of SIZE; returns -1. */
__attribute__((format(printf, 3, 4))) int conf_why_not(char *why, size_t size, const char *fmt,
                                                       ...);
/* Copies the LEN octets at P into BUF of SIZE as a string; -1 when they do
 * not fit. */
int conf_copy_token(char *buf, size_t size, const char *p, size_t len);
/* Parses "a.b.c.d:port", "[v6]:port" or "*:port"; NULL, or what is wrong. */
const char *conf_parse_address(const char *text, struct sockaddr_storage *ss, socklen_t *len);
/* Parses "address" or "address/prefix" into *net; 0, or -1 with the reason
 * in WHY. */
int conf_parse_network(const char *text, struct config_network *net, char *why, size_t size);
/* Parses a resolver address ("a.b.c.d", "[IPv6]", with or without ":PORT",
 * 53 by default); NULL, or what is wrong. */
const char *conf_parse_resolver(const char *text, struct sockaddr_storage *ss, socklen_t *len);

#endif
