/*
 * config.h: sealmail.conf, an INI file read with inih.
 *
 * config_load() reads and validates the whole file; every problem is reported
 * as "FILE:LINE: key: what is wrong" and an unknown section or key is an
 * error. The parent reads the file; the roles get the struct by fork at
 * start, and on reload the file's text (config_message()), which they parse
 * with the same code, needing no file access (they run chrooted).
 */
#ifndef SEALMAIL_CONFIG_H
#define SEALMAIL_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/* The build sets the directory (CMake's sysconfdir); a plain compile gets
 * /etc, where an administrator looks first. */
#ifndef SEALMAIL_SYSCONFDIR
#define SEALMAIL_SYSCONFDIR "/etc"
#endif
#define CONFIG_DEFAULT_PATH SEALMAIL_SYSCONFDIR "/sealmail/sealmail.conf"
/* Likewise the data directory's parent (CMake's localstatedir): data_dir
 * defaults to the directory `make install` creates. */
#ifndef SEALMAIL_LOCALSTATEDIR
#define SEALMAIL_LOCALSTATEDIR "/var"
#endif
#define CONFIG_DEFAULT_DATA_DIR SEALMAIL_LOCALSTATEDIR "/lib/sealmail"
#define CONFIG_DEFAULT_USERS SEALMAIL_SYSCONFDIR "/sealmail/users"
#define CONFIG_MAX_LISTENERS 32
#define CONFIG_MAX_CERTS 32
#define CONFIG_MAX_DOMAINS 256
#define CONFIG_MAX_NETWORKS 64
#define CONFIG_MAX_POLICIES 256
#define CONFIG_MAX_ROUTES 256
#define CONFIG_MAX_RETRY 16
#define CONFIG_MAX_TEXT (16 * 1024 * 1024) /* octets of the file */

/* Outbound TLS levels are policy's (policy/policy.h, which conf may not
 * include): conf checks a level against these words, the same five in the
 * same order (tests/unit/test_policy.c keeps them in step), and stores the
 * word, lower-cased. */
#define CONFIG_TLS_LEVELS 6
#define CONFIG_TLS_LEVEL_MAX 10 /* the longest word, "dane-only", and its NUL */
extern const char *const config_tls_level_words[CONFIG_TLS_LEVELS];

enum listener_protocol {
	LISTENER_SMTP,       /* mail from other servers (RFC 5321) */
	LISTENER_SUBMISSION, /* mail from users' clients (RFC 6409, RFC 8314) */
	LISTENER_IMAP,       /* mailbox access (RFC 9051, RFC 3501); TLS required */
	LISTENER_POP3,       /* mailbox download (RFC 1939); TLS required */
};

/* SMTP AUTH (RFC 4954) on a listener. Never offered before TLS. */
enum listener_auth {
	LISTENER_AUTH_NONE,        /* not offered (smtp default) */
	LISTENER_AUTH_OPTIONAL,    /* offered after TLS; mail without it is treated as on smtp */
	LISTENER_AUTH_REQUIRED,    /* MAIL refused until authenticated (submission default) */
	LISTENER_AUTH_CERTIFICATE, /* a client certificate from client_ca logs in; required */
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
	enum listener_auth auth;
	char client_ca[4096]; /* PEM CA file: client certificates are requested and
	                          checked against it; "" = none */
	int line;             /* where the section starts, for messages */
	unsigned metrics_index; /* its row in the metrics (proto/metrics.h); the parent sets it */
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
	size_t command_line;            /* octets incl. CRLF, RFC 5321 4.5.3.1.4: 512 */
	size_t text_line;               /* octets incl. CRLF, RFC 5321 4.5.3.1.6: 1000 */
	size_t message_size;            /* octets; advertised in SIZE */
	unsigned recipients;            /* per message; RFC 5321 4.5.3.1.8: at least 100 */
	unsigned errors;                /* protocol errors before disconnect */
	unsigned junk_commands;         /* NOOP, RSET, HELP, VRFY per message before each counts
	                                   as an error (Postfix's smtpd_junk_command_limit) */
	unsigned command_timeout;       /* seconds; RFC 5321 4.5.3.2.7: 5 min */
	unsigned data_timeout;          /* seconds between DATA chunks; 4.5.3.2.5: 3 min */
	unsigned tls_handshake_timeout; /* seconds for a whole TLS handshake */
	unsigned helo_timeout;          /* seconds from the greeting (or the end of the TLS
	                                   handshake) to the client's EHLO or HELO */
	unsigned data_min_rate;         /* octets a second DATA must average after its first
	                                   data_timeout seconds (Postfix's smtpd_min_data_rate);
	                                   0: no such bound */
	unsigned connections;           /* in total */
	unsigned connections_per_client;
};

/* [imap]: the IMAP and POP3 sessions and the store role. */
struct config_imap {
	unsigned idle_timeout;         /* seconds after login; RFC 9051 5.4: at least 30 min */
	unsigned idle_command_timeout; /* seconds in IDLE before the server ends it: 29 min */
	unsigned login_timeout;        /* seconds from connecting to a login */
	unsigned pop3_timeout;         /* seconds after login; RFC 1939 3: at least 10 min */
	size_t append_limit;           /* APPENDLIMIT (RFC 7889), octets; default message_size */
	size_t literal_before_login;   /* octets: the largest literal before a login */
	unsigned sessions_per_user;    /* IMAP and POP3 sessions of one user at a time */
	unsigned commands_per_second;  /* a client sending more is read more slowly */
	unsigned bad_commands;         /* BAD answers in a row before the session ends */
};

/* A client network, "192.0.2.0/24" or "2001:db8::/32". */
struct config_network {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned prefix;
};

/* One line of [outbound.domains]: "example.com = verify match=a:b". */
struct config_tls_policy {
	char domain[256]; /* lower-cased; a leading '.' means every subdomain */
	/* one of config_tls_level_words */
	char level[CONFIG_TLS_LEVEL_MAX];
	char match[1024]; /* ':'-separated accepted names; "" = the MX host name */
	int testing;      /* "testing": deliver as "may" would, record what LEVEL would refuse */
	int line;
};

/* One line of [routes], or the relay host: where mail for a domain goes
 * instead of its MX hosts. */
struct config_route {
	char domain[256]; /* lower-cased; "" for the relay host */
	char host[256];   /* a host name, or an IP address (IPv6 without brackets) */
	uint16_t port;    /* as written; else [outbound] port (default 25) */
	int mx_lookup;    /* 1 when HOST is to be resolved through its MX records
	                     (written without brackets); 0 for "[host]:port" or an address */
	int line;
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
	struct config_network trusted_networks[CONFIG_MAX_NETWORKS]; /* may relay */
	unsigned n_trusted_networks;
	char aliases[4096];      /* "" = none */
	char submit_socket[108]; /* local injection (`sealmail send`); "" = the default:
	                            /run/sealmail/submit.sock as root, else
	                            data_dir/submit.sock */
	char log[4096];     /* "syslog", "stderr" or a file; "" = stderr with serve -f,
	                       else syslog */
	char pidfile[4096]; /* "" = data_dir/sealmail.pid */

	/* [submission] */
	int log_auth_in_header; /* Received: names the authenticated user; default no */
	int check_from_header;  /* the From: header must be an address the user owns;
	                           default yes */
	unsigned auth_failures; /* failed AUTH before disconnect; default 3 */
	/* failed AUTH across connections within auth_failure_window (seconds,
	 * default 15m) before a client address (default 10) or an account
	 * (default 20) is blocked for a window */
	unsigned auth_failures_per_client;
	unsigned auth_failures_per_account;
	unsigned auth_failure_window;

	/* [tls] and [tls NAME] */
	struct config_cert certs[CONFIG_MAX_CERTS];
	unsigned n_certs;
	int min_version;         /* TLS1_2_VERSION, ... */
	char ciphers[1024];      /* TLS 1.2 cipher list */
	char ciphersuites[1024]; /* TLS 1.3 suites */

	/* [limits] */
	struct config_limits limits;

	/* [imap] */
	struct config_imap imap;

	/* [listen NAME] */
	struct config_listener listeners[CONFIG_MAX_LISTENERS];
	unsigned n_listeners;

	/* [dns] */
	char dns_resolver[128]; /* "127.0.0.1:5353", "[::1]:53" (always with the port,
	                           53 when not written); "" = /etc/resolv.conf */
	struct sockaddr_storage dns_resolver_address; /* the same, parsed */
	socklen_t dns_resolver_address_len;           /* 0 when "" */
	/* DS or DNSKEY records in zone-file syntax; "" = the system's root
	 * anchor (CONFIG_ROOT_ANCHOR) when it exists, else no validation */
	char dns_trust_anchor[4096];
	int dns_trust_anchor_line; /* where trust_anchor was written; 0 = not */

	/* [outbound] */
	/* the default level for every domain: "dane" */
	char outbound_tls[CONFIG_TLS_LEVEL_MAX];
	int outbound_tls_line;             /* where tls was written; 0 = built-in default */
	struct config_route relayhost;     /* relayhost.host[0] == 0 when unset */
	uint16_t outbound_port;            /* for MX hosts and routes without a port: 25 */
	char outbound_ca_file[4096];       /* "" = the system store */
	int outbound_min_version;          /* TLS1_2_VERSION */
	char outbound_ciphers[1024];       /* default: as [tls] ciphers */
	char outbound_ciphersuites[1024];  /* default: as [tls] ciphersuites */
	char outbound_helo[256];           /* default: hostname */
	unsigned outbound_connect_timeout; /* seconds; default 30 */
	unsigned outbound_command_timeout; /* seconds per reply; default 300 */
	char outbound_sts_ca_file[4096];   /* MTA-STS policy fetch; "" = ca_file, then the system's */
	unsigned outbound_remember_tls;    /* downgrade memory, seconds; 0 = off; default 30d */
	int outbound_tls_report;           /* send TLS-RPT reports (RFC 8460); default yes */
	char outbound_tls_report_from[512]; /* default tlsrpt-noreply@HOSTNAME */
	char outbound_tls_report_org[256];  /* default: hostname */

	/* [outbound.domains] */
	struct config_tls_policy tls_policies[CONFIG_MAX_POLICIES];
	unsigned n_tls_policies;

	/* [routes] */
	struct config_route routes[CONFIG_MAX_ROUTES];
	unsigned n_routes;

	/* [queue] */
	unsigned retry[CONFIG_MAX_RETRY]; /* seconds between attempts; the last repeats */
	unsigned n_retry;
	unsigned max_lifetime;  /* seconds before a deferred message bounces; 5d */
	unsigned delay_warning; /* seconds before a delay notice; 4h; 0 = never */

	/* [metrics] */
	char metrics_listen[128]; /* "127.0.0.1:9154"; "" = no metrics role */
	struct sockaddr_storage metrics_address; /* the same, parsed */
	socklen_t metrics_address_len;           /* 0 when "" */
	int metrics_listen_line;                 /* where listen was written */
};

/* Reads and validates PATH into *cfg (defaults first). Returns 0, or -1 with
 * every error appended, one per line, to *errors_r (malloc'ed, caller frees). */
int config_load(struct config *cfg, const char *path, char **errors_r);
/* The configuration file a command uses when it is given no -c: the
 * SEALMAIL_CONFIG environment variable, else CONFIG_DEFAULT_PATH. */
const char *config_default_path(void);

/* `sealmail config check`'s look at the files the configuration names
 * that the server opens only once it runs: [dns] trust_anchor, when
 * given, must be a regular file this process can open. Returns 0, or -1
 * with each problem appended, one per line, to *errors_r as
 * "FILE:LINE: [dns] trust_anchor: ..." (malloc'ed, caller frees). */
int config_check_files(const struct config *cfg, char **errors_r);

/* Same, and on success hands the file's text (NUL-terminated, malloc'ed,
 * *len_r octets without the NUL) to the caller, which sends it on reload. */
int config_load_file(struct config *cfg, const char *path, char **text_r, size_t *len_r,
                     char **errors_r);

/* Same, from the LEN octets of TEXT; NAME is used in messages instead of a
 * path. Reads no file, so it works in a chrooted role. */
int config_load_text(struct config *cfg, const char *name, const char *text, size_t len,
                     char **errors_r);

/* Same, from a NUL-terminated string. */
int config_load_string(struct config *cfg, const char *name, const char *text, char **errors_r);

/* The reload message for the roles: PATH, a NUL, then the LEN octets of
 * TEXT. Malloc'ed; *len_r gets its length. */
void *config_message(const char *path, const char *text, size_t len, size_t *len_r);

/* Parses a message of config_message() into *cfg, as config_load_text()
 * would with its path and text; -1 with *errors_r when it is malformed or
 * the configuration has errors. */
int config_load_message(struct config *cfg, const void *data, size_t len, char **errors_r);

/* A role's reload: parses the message into RUNNING, keeping what only a
 * restart changes (data_dir); when it does not parse, RUNNING stays as it
 * was and each error is logged. Returns 0 or -1. */
int config_reload_message(struct config *running, const void *data, size_t len);
/* The same from a decoded message (proto/ctl.h): the file's PATH and the
 * LEN octets of its TEXT. */
int config_reload_text(struct config *running, const char *path, const char *text, size_t len);

/* A warning for `config check` and the start-up log ("FILE:LINE: [metrics]
 * listen: warning: ..." in a static buffer), or NULL: the metrics are served in
 * plain HTTP, meant for loopback (or a trusted network). */
const char *config_metrics_warning(const struct config *cfg);

/* `sealmail config show`: writes CFG to OUT as INI that config_load()
 * reads back to the same values. With ALL, every key of every section,
 * a key without a value commented out ("#aliases ="); else only the keys
 * whose value differs from its default, and the sections holding them.
 * The sections whose keys are domains, [listen NAME] and [tls NAME] are
 * written whole. Returns 0, or -1 (said on stderr) when a key could not
 * be written. */
int config_write(FILE *out, const struct config *cfg, int all);

/* Fills *cfg with every default. */
void config_defaults(struct config *cfg);

/* 1 when DOMAIN (any case) is one of local_domains. */
int config_is_local_domain(const struct config *cfg, const char *domain);

const char *listener_protocol_name(enum listener_protocol protocol);
const char *listener_tls_name(enum listener_tls tls);
const char *listener_auth_name(enum listener_auth auth);
/* The section certificate I comes from, "[tls]" or "[tls NAME]", in BUF. */
const char *config_cert_section(const struct config *cfg, unsigned i, char *buf, size_t size);

/* The local submission socket's path (the default filled in) into BUF. */
void config_submit_socket(const struct config *cfg, int as_root, char *buf, size_t size);
/* The pidfile serve writes: [server] pidfile, else data_dir/sealmail.pid. */
void config_pidfile(const struct config *cfg, char *buf, size_t size);

/* 1 when SA is inside one of trusted_networks; an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) counts as the IPv4 address it carries. */
int config_is_trusted_client(const struct config *cfg, const struct sockaddr *sa);

/* Parses a size: decimal octets, optionally followed by k or K (x 1024), M
 * (x 1024^2) or G (x 1024^3), e.g. "25M". Returns 0, or -1 on anything else
 * or overflow. */
int config_parse_size(const char *s, uint64_t *out);

/* Parses a duration: decimal seconds, optionally followed by s, m (x 60),
 * h (x 3600) or d (x 86400), e.g. "5m". Returns 0, or -1 on anything else
 * or overflow. */
int config_parse_duration(const char *s, unsigned *seconds);

#endif
