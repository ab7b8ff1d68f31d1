/*
 * init_cmd.c: see init_cmd.h. The order is what keeps it safe: every
 * answer is collected, every target is checked to be absent, the
 * configuration is generated and parsed with the server's own reader, the
 * certificate and key are loaded as `serve` loads them, and only then are
 * the files created, each with O_EXCL (a file that appeared since is still
 * not overwritten, and what was already created is removed again). The one
 * exception is what a package installed and nobody changed since: its
 * configuration still byte-identical to the copy it keeps (DEFAULTS_DIR),
 * its users file still empty. That is replaced, by rename(2), as `apt
 * install` then `sealmail init` is the way a packaged server is set up;
 * anything an administrator touched is refused as before.
 *
 * Modes, and why: the users file holds password hashes, 0640 (the parent
 * reads it as root); the configuration holds no secret (the key is a file
 * of its own) and `sealmail send`, run by any local user, reads it to find
 * the submission socket, 0644; the aliases file holds addresses only,
 * 0644 like /etc/aliases.
 */
#include "ctl/init_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/tls.h"
#include "lib/tls_probe.h"
#include "lib/util.h"

#define INIT_ANSWER_MAX 4096
#define INIT_MAX_DOMAINS 64
#define INIT_CONFIG_MODE 0644
#define INIT_USERS_MODE 0640 /* hashes: never world-readable */
#define INIT_ALIASES_MODE 0644
#define INIT_DEFAULT_DATA_DIR "/var/lib/sealmail"

enum init_inet { INIT_INET_AUTO, INIT_INET_IPV4, INIT_INET_BOTH };

struct init_args {
	char *hostname;
	char *domains[INIT_MAX_DOMAINS];
	unsigned n_domains;
	char *cert, *key, *admin, *data_dir;
	char *config, *users, *aliases;
	enum init_inet inet;
	char *no_ipv6_why; /* INIT_INET_AUTO found no IPv6: why, as said */
};

enum {
	OPT_HOSTNAME = 256,
	OPT_DOMAIN,
	OPT_CERT,
	OPT_KEY,
	OPT_ADMIN,
	OPT_DATA_DIR,
	OPT_USERS,
	OPT_ALIASES,
	OPT_IPV4_ONLY,
	OPT_IPV6
};

static void init_usage(FILE *f)
{
	fprintf(f,
	        "usage: sealmail init [--hostname NAME] [--domain DOMAIN]... [--cert FILE] "
	        "[--key FILE]\n"
	        "                     [--admin ADDRESS] [--data-dir DIR] [--config FILE] "
	        "[--users FILE] [--aliases FILE]\n"
	        "                     [--ipv4-only | --ipv6]\n"
	        "Writes a first configuration, an empty users file and an aliases file; asks "
	        "on the terminal\n"
	        "for the host name, domains, certificate, key and admin address when not "
	        "given. Overwrites nothing.\n"
	        "  --hostname NAME   this server's name, the MX host of the domains\n"
	        "  --domain DOMAIN   a domain to receive mail for (repeat for more)\n"
	        "  --cert FILE       PEM certificate chain for NAME, leaf first\n"
	        "  --key FILE        its PEM private key\n"
	        "  --admin ADDRESS   where postmaster@, abuse@ and the DNS report addresses "
	        "go (default admin@DOMAIN)\n"
	        "  --data-dir DIR    spool and mailboxes (default " INIT_DEFAULT_DATA_DIR ")\n"
	        "  --config FILE     the configuration to write (also -c; default %s)\n"
	        "  --users FILE      the users file (default: users next to the configuration)\n"
	        "  --aliases FILE    the aliases file (default: aliases next to the "
	        "configuration)\n"
	        "  --ipv4-only       listeners on *:PORT only (default: [::]:PORT too when "
	        "this machine\n"
	        "                    can bind IPv6)\n"
	        "  --ipv6            the [::]:PORT listeners even when this machine cannot "
	        "bind IPv6 now\n",
	        config_default_path());
}

/* ---- arguments ---------------------------------------------------------- */

static int init_add_domains(struct init_args *a, const char *text)
{
	char *copy = xstrdup(text), *save = NULL;

	for (char *d = strtok_r(copy, " \t,", &save); d; d = strtok_r(NULL, " \t,", &save)) {
		if (a->n_domains == INIT_MAX_DOMAINS) {
			fprintf(stderr, "sealmail init: more than %d domains\n", INIT_MAX_DOMAINS);
			free(copy);
			return -1;
		}
		str_lower(d);
		unsigned i;
		for (i = 0; i < a->n_domains && strcmp(a->domains[i], d) != 0; i++)
			;
		if (i == a->n_domains)
			a->domains[a->n_domains++] = xstrdup(d);
	}
	free(copy);
	return 0;
}

static void init_set(char **field, const char *value)
{
	free(*field);
	*field = xstrdup(value);
}

/* Parses ARGV into *A. Returns 0, 1 when --help printed the usage, -1 on
 * a usage error. */
static int init_parse(int argc, char **argv, struct init_args *a)
{
	static const struct option options[] = {
	    {"hostname", required_argument, NULL, OPT_HOSTNAME},
	    {"domain", required_argument, NULL, OPT_DOMAIN},
	    {"cert", required_argument, NULL, OPT_CERT},
	    {"key", required_argument, NULL, OPT_KEY},
	    {"admin", required_argument, NULL, OPT_ADMIN},
	    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
	    {"config", required_argument, NULL, 'c'},
	    {"users", required_argument, NULL, OPT_USERS},
	    {"aliases", required_argument, NULL, OPT_ALIASES},
	    {"ipv4-only", no_argument, NULL, OPT_IPV4_ONLY},
	    {"ipv6", no_argument, NULL, OPT_IPV6},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char **fields[] = {
	    [OPT_HOSTNAME - OPT_HOSTNAME] = &a->hostname, [OPT_CERT - OPT_HOSTNAME] = &a->cert,
	    [OPT_KEY - OPT_HOSTNAME] = &a->key,           [OPT_ADMIN - OPT_HOSTNAME] = &a->admin,
	    [OPT_DATA_DIR - OPT_HOSTNAME] = &a->data_dir, [OPT_USERS - OPT_HOSTNAME] = &a->users,
	    [OPT_ALIASES - OPT_HOSTNAME] = &a->aliases,
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
		if (ch == 'h')
			return 1;
		if (ch == 'c')
			init_set(&a->config, optarg);
		else if (ch == OPT_IPV4_ONLY || ch == OPT_IPV6) {
			enum init_inet inet = ch == OPT_IPV6 ? INIT_INET_BOTH : INIT_INET_IPV4;
			if (a->inet != INIT_INET_AUTO && a->inet != inet) {
				fprintf(stderr, "sealmail init: --ipv4-only and --ipv6 "
				                "contradict each other\n");
				return -1;
			}
			a->inet = inet;
		} else if (ch == OPT_DOMAIN) {
			if (init_add_domains(a, optarg) < 0)
				return -1;
		} else if (ch >= OPT_HOSTNAME && ch <= OPT_ALIASES)
			init_set(fields[ch - OPT_HOSTNAME], optarg);
		else
			return -1;
	}
	return optind == argc ? 0 : -1;
}

/* ---- questions ---------------------------------------------------------- */

/* Asks QUESTION on the terminal (standard input and error) until an answer
 * that is not empty, or DEFAULT_ANSWER when one is given and the answer is
 * empty. NULL at the end of the input. */
static char *init_ask(const char *question, const char *default_answer)
{
	char line[INIT_ANSWER_MAX];

	for (;;) {
		if (default_answer)
			fprintf(stderr, "%s [%s]: ", question, default_answer);
		else
			fprintf(stderr, "%s: ", question);
		if (fgets(line, sizeof(line), stdin) == NULL)
			return NULL;
		if (strchr(line, '\n') == NULL && !feof(stdin)) {
			/* the rest would be read as the next answer */
			int ch;
			while ((ch = getchar()) != EOF && ch != '\n')
				;
			fprintf(stderr, "sealmail init: answers are at most %d characters\n",
			        INIT_ANSWER_MAX - 2);
			continue;
		}
		line[strcspn(line, "\r\n")] = '\0';
		char *start = line + strspn(line, " \t"), *end = start + strlen(start);
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*start)
			return xstrdup(start);
		if (default_answer)
			return xstrdup(default_answer);
	}
}

/* Which required answers are missing, as the flags that give them, into
 * BUF; 0 when none is. */
static int init_missing(const struct init_args *a, char *buf, size_t size)
{
	buf[0] = '\0';
	snprintf(buf, size, "%s%s%s%s", a->hostname ? "" : " --hostname",
	         a->n_domains ? "" : " --domain", a->cert ? "" : " --cert", a->key ? "" : " --key");
	return buf[0] != '\0';
}

/* Fills in what the flags did not give: asked on the terminal when
 * standard input is one, else a usage error naming what is missing.
 * Returns 0, or the exit status. */
static int init_questions(struct init_args *a)
{
	char missing[100], *answer, prompt[600];
	int tty = isatty(STDIN_FILENO);

	if (!tty && init_missing(a, missing, sizeof(missing))) {
		fprintf(stderr, "sealmail init: no terminal to ask on; give%s\n", missing);
		init_usage(stderr);
		return 2;
	}
	if (!a->hostname && (a->hostname = init_ask("Host name of this server, the MX host of "
	                                            "your domains (e.g. mail.example.org)",
	                                            NULL)) == NULL)
		goto eof;
	if (!a->n_domains) {
		if ((answer = init_ask("Mail domains to receive mail for, separated by spaces",
		                       NULL)) == NULL)
			goto eof;
		int r = init_add_domains(a, answer);
		free(answer);
		if (r < 0)
			return 2;
	}
	snprintf(prompt, sizeof(prompt), "Certificate chain for %s (PEM file, leaf first)",
	         a->hostname);
	if (!a->cert && (a->cert = init_ask(prompt, NULL)) == NULL)
		goto eof;
	if (!a->key && (a->key = init_ask("Its private key (PEM file)", NULL)) == NULL)
		goto eof;
	if (!a->admin && tty) {
		char *def = xasprintf("admin@%s", a->domains[0]);
		a->admin = init_ask("Mailbox for postmaster@ and abuse@ mail", def);
		free(def);
		if (a->admin == NULL)
			goto eof;
	}
	return 0;
eof:
	fprintf(stderr, "\nsealmail init: no answer (end of input); nothing written\n");
	return 2;
}

/* ---- answers checked ---------------------------------------------------- */

/* PATH made absolute (the server runs from another directory) into a new
 * string; a path that MUST_EXIST is checked to. Symbolic links are kept
 * as they are: a certificate renewed in place (Let's Encrypt's live/
 * links) must stay found. NULL (said) when it cannot be. */
static char *init_absolute(const char *path, int must_exist)
{
	char cwd[PATH_MAX];
	struct stat st;

	if (must_exist && stat(path, &st) < 0) {
		fprintf(stderr, "sealmail init: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (path[0] == '/')
		return xstrdup(path);
	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		fprintf(stderr, "sealmail init: the current directory: %s\n", strerror(errno));
		return NULL;
	}
	return xasprintf("%s/%s", cwd, path);
}

/* NAME next to FILE ("DIR/NAME" for "DIR/x.conf"). */
static char *init_beside(const char *file, const char *name)
{
	const char *slash = strrchr(file, '/');
	return xasprintf("%.*s/%s", (int)(slash - file), file, name);
}

/* 0 when VALUE can be written as an INI value as it is: no line break,
 * no control character, no comment character, no white space when it is
 * a name. Else -1, said naming WHAT. */
static int init_plain(const char *what, const char *value, int is_name)
{
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == ';' || *p == '#' || (is_name && *p == ' ')) {
			fprintf(
			    stderr,
			    "sealmail init: %s '%s': white space, control characters, ';' and '#' "
			    "cannot be written in the configuration\n",
			    what, value);
			return -1;
		}
	return 0;
}

/* The names system mail goes to at the host name (cron, apt, smartd write
 * "root"; bounces come from MAILER-DAEMON), as Debian's /etc/aliases
 * points them at a person; postmaster@ only when the host name is not one
 * of the domains, which get it below. */
static const char *const init_host_locals[] = {"root", "mailer-daemon", "postmaster"};
#define INIT_N_HOST_ALIASES (sizeof(init_host_locals) / sizeof(init_host_locals[0]))

/* 1 when the host name is one of the domains given. */
static int init_hostname_is_domain(const struct init_args *a)
{
	for (unsigned d = 0; d < a->n_domains; d++)
		if (strcasecmp(a->domains[d], a->hostname) == 0)
			return 1;
	return 0;
}

/* 1 when ADDR is LOCAL@DOMAIN (any case). */
static int init_is_address(const char *addr, const char *local, const char *domain)
{
	char *alias = xasprintf("%s@%s", local, domain);
	int same = strcasecmp(alias, addr) == 0;

	free(alias);
	return same;
}

/* The address alias lines are written for, I-th of the four per domain. */
static const char *const init_alias_locals[] = {"postmaster", "abuse", "dmarc-reports",
                                                "tls-reports"};
#define INIT_N_ALIASES (sizeof(init_alias_locals) / sizeof(init_alias_locals[0]))

static int init_check_admin(const struct init_args *a)
{
	const char *at = strchr(a->admin, '@');

	if (init_plain("--admin", a->admin, 1) < 0)
		return -1;
	if (at == NULL || at == a->admin || at[1] == '\0' || strchr(at + 1, '@') ||
	    strpbrk(a->admin, ",:<>\"") != NULL) {
		fprintf(stderr, "sealmail init: --admin '%s' is not an address user@domain\n",
		        a->admin);
		return -1;
	}
	for (unsigned d = 0; d <= a->n_domains; d++)
		for (size_t i = 0; i < INIT_N_ALIASES; i++) {
			int same =
			    d < a->n_domains
			        ? init_is_address(a->admin, init_alias_locals[i], a->domains[d])
			        : i < INIT_N_HOST_ALIASES &&
			              init_is_address(a->admin, init_host_locals[i], a->hostname);
			if (same) {
				fprintf(stderr,
				        "sealmail init: --admin %s is one of the aliases written "
				        "(it would point at itself); name a user's mailbox\n",
				        a->admin);
				return -1;
			}
		}
	return 0;
}

/* NULL when this machine has IPv6 up: `serve` binds [::]:PORT
 * IPv6-only beside *:PORT, and [::] binds even where IPv6 is switched off
 * by sysctl (disable_ipv6), so the loopback [::1]:0 is tried instead; else
 * why not, in a new string (no IPv6 in the kernel, or none configured). */
static char *init_ipv6_missing(void)
{
	struct sockaddr_in6 lo;
	int one = 1, fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	if (fd < 0)
		return xasprintf("socket: %s", strerror(errno));
	memset(&lo, 0, sizeof(lo));
	lo.sin6_family = AF_INET6;
	lo.sin6_addr = in6addr_loopback;
	ok = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == 0 &&
	     bind(fd, (const struct sockaddr *)&lo, sizeof(lo)) == 0;
	if (!ok) {
		char *why = xasprintf("binding [::1]: %s", strerror(errno));
		close(fd);
		return why;
	}
	close(fd);
	return NULL;
}

/* Fills in the defaults and makes every path absolute; 0, or -1 (said). */
static int init_complete(struct init_args *a)
{
	char **paths[] = {&a->cert, &a->key, &a->data_dir, &a->config, &a->users, &a->aliases};
	char *p;

	if (!a->config)
		a->config = xstrdup(config_default_path());
	if (!a->data_dir)
		a->data_dir = xstrdup(INIT_DEFAULT_DATA_DIR);
	if (!a->admin)
		a->admin = xasprintf("admin@%s", a->domains[0]);
	if (a->inet == INIT_INET_AUTO)
		a->inet = (a->no_ipv6_why = init_ipv6_missing()) ? INIT_INET_IPV4 : INIT_INET_BOTH;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (*paths[i] == NULL)
			continue;
		if ((p = init_absolute(*paths[i], i < 2)) == NULL)
			return -1;
		free(*paths[i]);
		*paths[i] = p;
	}
	if (!a->users)
		a->users = init_beside(a->config, "users");
	if (!a->aliases)
		a->aliases = init_beside(a->config, "aliases");
	str_lower(a->hostname);
	if (init_plain("--hostname", a->hostname, 1) < 0 || init_check_admin(a) < 0)
		return -1;
	for (unsigned i = 0; i < a->n_domains; i++)
		if (init_plain("--domain", a->domains[i], 1) < 0)
			return -1;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (init_plain("path", *paths[i], 0) < 0)
			return -1;
	return 0;
}

/* ---- the files ---------------------------------------------------------- */

static void init_write_server(FILE *f, const struct init_args *a)
{
	fprintf(f,
	        "# sealmail.conf for %s, written by `sealmail init`.\n"
	        "# Every key is described in sealmail.conf(5); `sealmail config check` checks\n"
	        "# this file. ';' or '#' starts a comment.\n",
	        a->hostname);
	if (a->inet == INIT_INET_BOTH)
		fprintf(f, "# Each port has two listeners: NAME on *:PORT, IPv4, and NAME6 on\n"
		           "# [::]:PORT, IPv6 (bound IPv6-only, so the two share the port).\n\n");
	else
		fprintf(f, "# Addresses written *:PORT are IPv4; for IPv6 add a listener per port\n"
		           "# with address = [::]:PORT (`sealmail init --ipv6` writes them).\n\n");
	fprintf(f,
	        "[server]\n"
	        "# this server's name: the greeting, Received: fields, the certificate's name\n"
	        "# and the MX host of the domains below; sendmail makes a bare name (\"root\",\n"
	        "# as cron writes it) name@hostname, so it is a local domain too\n"
	        "hostname = %s\n"
	        "# mail for these domains is delivered here; any other is relaying, refused\n"
	        "local_domains =",
	        a->hostname);
	for (unsigned i = 0; i < a->n_domains; i++)
		fprintf(f, " %s", a->domains[i]);
	if (!init_hostname_is_domain(a))
		fprintf(f, " %s", a->hostname);
	fprintf(f,
	        "\n# the queue and the Maildir mailboxes (DATA_DIR/mail/DOMAIN/USER/)\n"
	        "data_dir = %s\n"
	        "# \"user@domain:HASH\" per line; edit it with `sealmail user add|passwd|del`\n"
	        "users = %s\n"
	        "# \"alias@domain: target, ...\" per line\n"
	        "aliases = %s\n"
	        "# started as root, the roles run as this user (the default)\n"
	        "user = sealmail\n\n",
	        a->data_dir, a->users, a->aliases);
	fprintf(f,
	        "[tls]\n"
	        "# the PEM chain, this server's certificate first, then the CAs that issued it\n"
	        "# (clients cannot verify a file holding the leaf alone), and its key\n"
	        "certificate = %s\n"
	        "key = %s\n"
	        "min_version = TLSv1.2\n\n",
	        a->cert, a->key);
}

/* The listeners: one row each, its IPv6 twin named NAME6. */
static const struct {
	const char *name;
	unsigned port;
	const char *protocol, *tls, *comment;
} init_listeners[] = {
    {"smtp", 25, "smtp", "optional",
     "mail from other servers: STARTTLS offered, not required (RFC 3207 4: a\n"
     "# public MX must accept senders that cannot do TLS); no AUTH here"},
    {"submission", 587, "submission", "required",
     "mail from your users' clients (RFC 6409): STARTTLS, then AUTH, required"},
    {"submissions", 465, "submission", "implicit",
     "the same over TLS from the first byte (RFC 8314), which clients prefer"},
    {"imaps", 993, "imap", "implicit", "reading mail over IMAP, TLS from the first byte"},
    {"pop3s", 995, "pop3", "implicit", "reading mail over POP3, TLS from the first byte"},
};

/* The I-th listener's section, for IPv6 when V6. */
static void init_write_listener(FILE *f, size_t i, int v6)
{
	if (v6)
		fprintf(f, "# %s over IPv6\n[listen %s6]\naddress = [::]:%u\n",
		        init_listeners[i].name, init_listeners[i].name, init_listeners[i].port);
	else
		fprintf(f, "# %s\n[listen %s]\naddress = *:%u\n", init_listeners[i].comment,
		        init_listeners[i].name, init_listeners[i].port);
	fprintf(f, "protocol = %s\ntls = %s\n", init_listeners[i].protocol, init_listeners[i].tls);
	if (strcmp(init_listeners[i].protocol, "submission") == 0)
		fprintf(f, "auth = required\n");
	fprintf(f, "\n");
}

static void init_write_config(FILE *f, const struct init_args *a)
{
	init_write_server(f, a);
	for (size_t i = 0; i < sizeof(init_listeners) / sizeof(init_listeners[0]); i++) {
		init_write_listener(f, i, 0);
		if (a->inet == INIT_INET_BOTH)
			init_write_listener(f, i, 1);
	}
	fprintf(f, "# Delivery to other servers: TLS as each destination's DNSSEC-signed TLSA\n"
	           "# records (DANE) or MTA-STS policy asks, else opportunistic; see [outbound]\n"
	           "# and [outbound.domains] in sealmail.conf(5) for stricter levels.\n"
	           "[outbound]\n"
	           "tls = dane\n");
}

static void init_write_users(FILE *f, const struct init_args *a)
{
	fprintf(f,
	        "# The users of %s: \"user@domain:HASH\" per line. Add them with\n"
	        "# `sealmail user add USER@DOMAIN`, which asks for the password and keeps\n"
	        "# this file's mode: it holds password hashes, so it is not world-readable.\n",
	        a->hostname);
}

static void init_write_aliases(FILE *f, const struct init_args *a)
{
	fprintf(f,
	        "# Aliases: \"alias@domain: target, target\" per line. postmaster@ must\n"
	        "# reach a person (RFC 5321 4.5.1), abuse@ is where complaints go (RFC 2142);\n"
	        "# dmarc-reports@ and tls-reports@ receive the reports the records of\n"
	        "# `sealmail dns-records` ask for. %s must be a user (`sealmail user add`)\n"
	        "# or an address elsewhere.\n",
	        a->admin);
	for (unsigned d = 0; d < a->n_domains; d++)
		for (size_t i = 0; i < INIT_N_ALIASES; i++)
			fprintf(f, "%s@%s: %s\n", init_alias_locals[i], a->domains[d], a->admin);
	fprintf(f, "# System mail: sendmail makes a bare \"root\" root@%s.\n", a->hostname);
	for (size_t i = 0; i < INIT_N_HOST_ALIASES; i++)
		if (strcmp(init_host_locals[i], "postmaster") != 0 || !init_hostname_is_domain(a))
			fprintf(f, "%s@%s: %s\n", init_host_locals[i], a->hostname, a->admin);
}

/* What WRITE puts into a new string. */
static char *init_text(void (*write)(FILE *, const struct init_args *), const struct init_args *a)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		abort(); /* out of memory, as the x-allocators do */
	write(f, a);
	if (fclose(f) != 0)
		abort(); /* out of memory, as the x-allocators do */
	return text;
}

/* Warns when the certificate SET holds does not name HOST: the server
 * would run, but clients and MTA-STS senders checking names would refuse
 * it (a test certificate, or one for another name, given by mistake). */
static void init_check_name(const struct tls_cert_set *set, const char *host, const char *path)
{
	if (set->n > 0 && tls_pem_names_host(set->certs[0].cert_pem, host) == 0)
		fprintf(stderr,
		        "sealmail init: warning: %s does not name %s: mail clients and MTA-STS "
		        "senders that check the name will refuse it\n",
		        path, host);
}

/* The configuration TEXT read by the server's own reader, and its
 * certificate and key loaded as `serve` loads them. 0, or -1 (said). */
static int init_check_config(const struct init_args *a, const char *text)
{
	struct config *cfg = xmalloc(sizeof(*cfg));
	struct tls_settings settings;
	struct tls_cert_set set;
	char *errors = NULL;
	const char *why = NULL;
	int r = config_load_string(cfg, a->config, text, &errors);

	if (r < 0) {
		fprintf(stderr, "sealmail init: the configuration would not load:\n%s\n",
		        errors ? errors : "out of memory");
	} else {
		memset(&settings, 0, sizeof(settings));
		settings.certs[0] =
		    (struct tls_cert_file){"", cfg->certs[0].certificate, cfg->certs[0].key};
		settings.n_certs = 1;
		settings.min_version = cfg->min_version;
		settings.ciphers = cfg->ciphers;
		settings.ciphersuites = cfg->ciphersuites;
		settings.outbound_ca_file = cfg->outbound_ca_file;
		if ((r = tls_cert_set_load(&settings, &set, &why)) < 0)
			fprintf(stderr, "sealmail init: the certificate does not load: %s\n", why);
		else
			init_check_name(&set, cfg->hostname, cfg->certs[0].certificate);
		if (r == 0)
			tls_cert_set_free(&set);
	}
	free(errors);
	free(cfg);
	return r;
}

struct init_file {
	const char *path;
	mode_t mode;
	char *text;
	const char *shipped; /* the package's copy under the defaults directory
	                        ("" an empty file; NULL: never replaced) */
	int replace;         /* set by init_check_absent() */
};

/* Where a package keeps a copy of what it ships in /etc/sealmail (the
 * environment's SEALMAIL_DEFAULTS_DIR first, for a relocated install). */
static const char *init_defaults_dir(void)
{
	const char *dir = getenv("SEALMAIL_DEFAULTS_DIR");

	return dir != NULL && dir[0] != '\0' ? dir : SEALMAIL_DEFAULTS_DIR;
}

/* 1 when F, which exists as ST says, is what the package installed and
 * nobody changed: the users file still empty, the others byte-identical to
 * the package's copy. Anything else is an administrator's and is kept. */
static int init_is_shipped(const struct init_file *f, const struct stat *st)
{
	char *copy, *mine = NULL, *theirs = NULL;
	size_t mine_len = 0, theirs_len = 0;
	int same;

	if (f->shipped == NULL || !S_ISREG(st->st_mode))
		return 0;
	if (f->shipped[0] == '\0')
		return st->st_size == 0;
	copy = xasprintf("%s/%s", init_defaults_dir(), f->shipped);
	mine = read_file(f->path, 1 << 20, &mine_len);
	theirs = read_file(copy, 1 << 20, &theirs_len);
	same = mine != NULL && theirs != NULL && mine_len == theirs_len &&
	       memcmp(mine, theirs, mine_len) == 0;
	free(copy);
	free(mine);
	free(theirs);
	return same;
}

/* Why F, which exists, is not replaced although a package is installed
 * (its copy of the configuration is there); "" when none is. */
static const char *init_not_shipped_why(const struct init_file *f)
{
	char *copy = xasprintf("%s/sealmail.conf", init_defaults_dir());
	int packaged = access(copy, F_OK) == 0;

	free(copy);
	if (!packaged || f->shipped == NULL)
		return "";
	return f->shipped[0] ? " (it is not the package's file: it was edited)"
	                     : " (it is not the package's empty file)";
}

/* 0 when none of the N FILES exists (nor anything else at its path), or
 * what exists is the package's untouched file (marked to be replaced),
 * else -1, said naming each. */
static int init_check_absent(struct init_file *files, size_t n)
{
	struct stat st;
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++)
			if (strcmp(files[i].path, files[j].path) == 0) {
				fprintf(stderr, "sealmail init: %s is named twice\n",
				        files[i].path);
				r = -1;
			}
		if (lstat(files[i].path, &st) == 0 && init_is_shipped(&files[i], &st)) {
			files[i].replace = 1;
		} else if (lstat(files[i].path, &st) == 0) {
			fprintf(stderr, "sealmail init: %s exists; not overwriting it%s\n",
			        files[i].path, init_not_shipped_why(&files[i]));
			r = -1;
		} else if (errno != ENOENT) {
			fprintf(stderr, "sealmail init: %s: %s\n", files[i].path, strerror(errno));
			r = -1;
		}
	}
	return r;
}

/* Creates the directory of PATH when it is missing (0755: the
 * configuration's directory holds nothing secret by itself). */
static int init_make_dir(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int r = 0;

	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if ((r = mkdir_p(dir, 0755)) < 0)
			fprintf(stderr, "sealmail init: cannot create %s: %s\n", dir,
			        strerror(errno));
	}
	free(dir);
	return r;
}

/* The name F is created under: its path, or beside it when it replaces
 * the package's file, renamed over it once every file is written. */
static char *init_create_path(const struct init_file *f)
{
	return f->replace ? xasprintf("%s.sealmail-init", f->path) : xstrdup(f->path);
}

/* Creates F's file with O_EXCL, exactly F->mode whatever the umask, writes
 * and syncs its text. 0, or -1 (said; a file created is removed). */
static int init_create(const struct init_file *f)
{
	int fd, saved, ok;
	size_t len = strlen(f->text);
	char *path = init_create_path(f);

	if (init_make_dir(f->path) < 0) {
		free(path);
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, f->mode);
	if (fd < 0) {
		fprintf(stderr, "sealmail init: cannot create %s: %s\n", path, strerror(errno));
		free(path);
		return -1;
	}
	ok = fchmod(fd, f->mode) == 0 && write_all(fd, f->text, len) == 0 && fsync(fd) == 0;
	saved = errno;
	if (close(fd) != 0 && ok) {
		ok = 0;
		saved = errno;
	}
	if (!ok) {
		(void)unlink(path);
		fprintf(stderr, "sealmail init: cannot write %s: %s\n", path, strerror(saved));
	}
	free(path);
	return ok ? 0 : -1;
}

/* Removes what init_create() made for F. */
static void init_uncreate(const struct init_file *f)
{
	char *path = init_create_path(f);

	(void)unlink(path);
	free(path);
}

/* Creates every file or, when one cannot be, none; then the package's
 * files are replaced, each by rename(2), so a reader sees old or new. */
static int init_create_all(const struct init_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (init_create(&files[i]) < 0) {
			while (i-- > 0)
				init_uncreate(&files[i]);
			fprintf(stderr, "sealmail init: nothing written\n");
			return -1;
		}
	for (size_t i = 0; i < n; i++) {
		char *path = init_create_path(&files[i]);
		if (files[i].replace && rename(path, files[i].path) < 0) {
			fprintf(stderr, "sealmail init: cannot replace %s: %s\n", files[i].path,
			        strerror(errno));
			free(path);
			return -1;
		}
		free(path);
	}
	return 0;
}

static void init_next_steps(const struct init_args *a, const struct init_file *files, size_t n)
{
	char *c = strcmp(a->config, config_default_path()) == 0 ? xstrdup("")
	                                                        : xasprintf(" -c %s", a->config);

	for (size_t i = 0; i < n; i++)
		printf("wrote %s (mode %04o%s)\n", files[i].path, (unsigned)files[i].mode,
		       files[i].replace ? ", replacing the package's default" : "");
	printf("Next:\n"
	       "  1. add the mailbox postmaster@ and abuse@ reach, then each of your users:\n"
	       "       sealmail user add %s%s\n"
	       "  2. publish the DNS records each domain needs:\n",
	       a->admin, c);
	for (unsigned i = 0; i < a->n_domains; i++)
		printf("       sealmail dns-records %s%s\n", a->domains[i], c);
	printf("  3. check the configuration, then start the server:\n"
	       "       sealmail config check%s\n"
	       "       sealmail serve%s%s\n",
	       c, c, c[0] ? "" : "   (or: systemctl start sealmail)");
	if (a->no_ipv6_why)
		printf("The listeners are IPv4 only: this machine cannot bind IPv6 (%s);\n"
		       "`sealmail init --ipv6` writes the [::] listeners too.\n",
		       a->no_ipv6_why);
	free(c);
}

static void init_args_free(struct init_args *a)
{
	free(a->hostname);
	for (unsigned i = 0; i < a->n_domains; i++)
		free(a->domains[i]);
	free(a->cert);
	free(a->key);
	free(a->admin);
	free(a->data_dir);
	free(a->config);
	free(a->users);
	free(a->aliases);
	free(a->no_ipv6_why);
}

/* Everything after the answers: the files generated, checked, written. */
static int init_run(const struct init_args *a)
{
	struct init_file files[] = {
	    {a->config, INIT_CONFIG_MODE, init_text(init_write_config, a), "sealmail.conf", 0},
	    {a->users, INIT_USERS_MODE, init_text(init_write_users, a), "", 0},
	    {a->aliases, INIT_ALIASES_MODE, init_text(init_write_aliases, a), "aliases", 0},
	};
	size_t n = sizeof(files) / sizeof(files[0]);
	int r = 1;

	if (init_check_absent(files, n) == 0 && init_check_config(a, files[0].text) == 0 &&
	    init_create_all(files, n) == 0) {
		init_next_steps(a, files, n);
		r = 0;
	}
	for (size_t i = 0; i < n; i++)
		free(files[i].text);
	return r;
}

int cmd_init(int argc, char **argv)
{
	struct init_args a;
	int r;

	memset(&a, 0, sizeof(a));
	r = init_parse(argc, argv, &a);
	if (r != 0) {
		init_usage(r > 0 ? stdout : stderr);
		init_args_free(&a);
		return r > 0 ? 0 : 2;
	}
	if ((r = init_questions(&a)) == 0)
		r = init_complete(&a) < 0 ? 1 : init_run(&a);
	init_args_free(&a);
	return r;
}
