/*
 * config.h: sealmail.conf, an INI file read with inih.
 *
 * config_load() reads and validates the whole file; every problem is reported
 * as "FILE:LINE: key: what is wrong" and an unknown section or key is an
 * error. The parent reads the file; the other roles get the struct by fork.
 */
#ifndef SEALMAIL_CONFIG_H
#define SEALMAIL_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CONFIG_DEFAULT_PATH "/etc/sealmail/sealmail.conf"
#define CONFIG_MAX_LISTENERS 32
#define CONFIG_MAX_CERTS 32
#define CONFIG_MAX_DOMAINS 256

enum listener_protocol {
	LISTENER_SMTP,
};

enum listener_tls {
	LISTENER_TLS_NONE,     /* no STARTTLS */
	LISTENER_TLS_OPTIONAL, /* STARTTLS offered */
	LISTENER_TLS_REQUIRED, /* STARTTLS offered; MAIL/RCPT/DATA refused before it */
	LISTENER_TLS_IMPLICIT, /* TLS from the first byte (RFC 8314) */
};

struct config_listener {
	char name[64];
	char address_text[128]; /* as written, for logs */
	struct sockaddr_storage address;
	socklen_t address_len;
	enum listener_protocol protocol;
	enum listener_tls tls;
	int line; /* where the section starts, for messages */
};

/* One certificate: the [tls] section is index 0 ("default"); [tls NAME]
 * sections follow, chosen by SNI. */
struct config_cert {
	char name[256]; /* "" for the default */
	char certificate[4096];
	char key[4096];
	int line;
};

struct config_limits {
	size_t command_line;      /* octets incl. CRLF, RFC 5321 4.5.3.1.4: 512 */
	size_t text_line;         /* octets incl. CRLF, RFC 5321 4.5.3.1.6: 1000 */
	size_t message_size;      /* octets; advertised in SIZE */
	unsigned recipients;      /* per message; RFC 5321 4.5.3.1.8: at least 100 */
	unsigned errors;          /* protocol errors before disconnect */
	unsigned command_timeout; /* seconds; RFC 5321 4.5.3.2.7: 5 min */
	unsigned data_timeout;    /* seconds between DATA chunks; 4.5.3.2.5: 3 min */
	unsigned connections;     /* in total */
	unsigned connections_per_client;
};

struct config {
	char path[4096];

	/* [server] */
	char hostname[256];
	char data_dir[4096];
	char local_domains[CONFIG_MAX_DOMAINS][256];
	unsigned n_local_domains;
	char users[4096];
	char user[64];        /* unprivileged user when started as root */
	unsigned dispatchers; /* 0 = one per CPU */

	/* [tls] and [tls NAME] */
	struct config_cert certs[CONFIG_MAX_CERTS];
	unsigned n_certs;
	int min_version;         /* TLS1_2_VERSION, ... */
	char ciphers[1024];      /* TLS 1.2 cipher list */
	char ciphersuites[1024]; /* TLS 1.3 suites */

	/* [limits] */
	struct config_limits limits;

	/* [listen NAME] */
	struct config_listener listeners[CONFIG_MAX_LISTENERS];
	unsigned n_listeners;
};

/* Reads and validates PATH into *cfg (defaults first). Returns 0, or -1 with
 * every error appended, one per line, to *errors_r (malloc'ed, caller frees). */
int config_load(struct config *cfg, const char *path, char **errors_r);

/* Same, from a string; NAME is used in messages instead of a path. */
int config_load_string(struct config *cfg, const char *name, const char *text, char **errors_r);

/* Fills *cfg with every default. */
void config_defaults(struct config *cfg);

/* 1 when DOMAIN (any case) is one of local_domains. */
int config_is_local_domain(const struct config *cfg, const char *domain);

const char *listener_tls_name(enum listener_tls tls);

/* Parses a size: decimal octets, optionally followed by k or K (x 1024), M
 * (x 1024^2) or G (x 1024^3), e.g. "25M". Returns 0, or -1 on anything else
 * or overflow. */
int config_parse_size(const char *s, uint64_t *out);

/* Parses a duration: decimal seconds, optionally followed by s, m (x 60) or
 * h (x 3600), e.g. "5m". Returns 0, or -1 on anything else or overflow. */
int config_parse_duration(const char *s, unsigned *seconds);

#endif
