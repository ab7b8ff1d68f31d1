/*
 * dns_records_cmd.c: see dns_records_cmd.h. What is printed follows from
 * the configuration alone: the MX is [server] hostname; its addresses are
 * those the listeners bind (a wildcard or loopback address says nothing
 * about the public one); the SRV records (RFC 6186, RFC 8314 5.1) carry
 * the listeners' ports; the TLSA records hash the configured
 * certificates' public keys. A listener bound to a loopback address is
 * not reachable from other machines and gives no record.
 */
#include "ctl/dns_records_cmd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf/config.h"
#include "ctl/ctl_client.h"
#include "lib/digest.h"
#include "lib/tls_probe.h"
#include "lib/util.h"

#define DNS_RECORDS_PEM_MAX (1024 * 1024)
/* RFC 8461 3.2: a starter policy is short-lived until its reports are read */
#define DNS_RECORDS_STS_MAX_AGE 86400
#define DNS_RECORDS_STS_ID_LEN 32 /* RFC 8461 3.1: 1 to 32 letters and digits */

struct dns_out {
	const struct config *cfg;
	const char *domain; /* lower-cased, without a trailing dot */
	const char *host;   /* [server] hostname */
};

static void dns_records_usage(FILE *f)
{
	fprintf(f, "usage: sealmail dns-records DOMAIN [-c FILE]\n"
	           "Prints the DNS records DOMAIN (one of local_domains) needs, in zone file "
	           "syntax.\n");
}

/* ---- listeners ---------------------------------------------------------- */

static uint16_t listener_port(const struct config_listener *l)
{
	if (l->address.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&l->address)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&l->address)->sin_port);
}

/* 1 when L binds a loopback address: nobody else can reach it. */
static int listener_loopback(const struct config_listener *l)
{
	if (l->address.ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&l->address)->sin6_addr);
	return (ntohl(((const struct sockaddr_in *)&l->address)->sin_addr.s_addr) >> 24) == 127;
}

/* L's address as text into BUF when it is a specific, public-looking one
 * (not a wildcard, loopback or IPv6 link-local); 0 then, else -1. */
static int listener_host_address(const struct config_listener *l, char *buf, size_t size)
{
	const void *a;

	if (listener_loopback(l))
		return -1;
	if (l->address.ss_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)&l->address)->sin6_addr;
		if (IN6_IS_ADDR_UNSPECIFIED(a6) || IN6_IS_ADDR_LINKLOCAL(a6))
			return -1;
		a = a6;
	} else {
		const struct in_addr *a4 = &((const struct sockaddr_in *)&l->address)->sin_addr;
		if (a4->s_addr == htonl(INADDR_ANY))
			return -1;
		a = a4;
	}
	return inet_ntop(l->address.ss_family, a, buf, (socklen_t)size) ? 0 : -1;
}

/* ---- records ------------------------------------------------------------ */

static void print_mx(const struct dns_out *o)
{
	int on_25 = 0;

	for (unsigned i = 0; i < o->cfg->n_listeners; i++) {
		const struct config_listener *l = &o->cfg->listeners[i];
		on_25 |=
		    l->protocol == LISTENER_SMTP && listener_port(l) == 25 && !listener_loopback(l);
	}
	printf("; Mail for %s goes to %s (RFC 5321 5.1)\n", o->domain, o->host);
	if (!on_25)
		printf("; WARNING: no smtp listener on port 25, where other servers deliver\n");
	printf("%s. IN MX 10 %s.\n", o->domain, o->host);
}

/* A and AAAA of the host name, once per address the listeners bind. */
static void print_addresses(const struct dns_out *o)
{
	const struct config *cfg = o->cfg;
	char addr[INET6_ADDRSTRLEN], seen[CONFIG_MAX_LISTENERS][INET6_ADDRSTRLEN];
	unsigned n = 0;

	for (unsigned i = 0; i < cfg->n_listeners; i++) {
		const struct config_listener *l = &cfg->listeners[i];
		unsigned j;

		if (listener_host_address(l, addr, sizeof(addr)) < 0)
			continue;
		for (j = 0; j < n && strcmp(seen[j], addr) != 0; j++)
			;
		if (j < n)
			continue;
		memcpy(seen[n++], addr, sizeof(addr));
		printf("; %s's IPv%c address, bound by [listen %s]\n", o->host,
		       l->address.ss_family == AF_INET6 ? '6' : '4', l->name);
		printf("%s. IN %s %s\n", o->host, l->address.ss_family == AF_INET6 ? "AAAA" : "A",
		       addr);
	}
	if (n == 0)
		printf(
		    "; %s's address is not in the configuration (every listener binds a wildcard "
		    "or loopback address): publish %s. IN A (and AAAA) with this machine's "
		    "public addresses, which `ip -brief address` shows\n",
		    o->host, o->host);
}

static void print_policies(const struct dns_out *o)
{
	printf("; SPF (RFC 7208): only the MX hosts of %s send its mail; mail from anywhere "
	       "else fails\n",
	       o->domain);
	printf("%s. IN TXT \"v=spf1 mx -all\"\n", o->domain);
	printf("; SPF for the host name, which receivers check against our EHLO (RFC 7208 2.3)\n");
	printf("%s. IN TXT \"v=spf1 a -all\"\n", o->host);
	printf("; DMARC (RFC 7489) starter: p=none only asks receivers for reports, to "
	       "dmarc-reports@%s (make it a user or an alias); tighten to p=quarantine once "
	       "they are clean\n",
	       o->domain);
	printf("_dmarc.%s. IN TXT \"v=DMARC1; p=none; rua=mailto:dmarc-reports@%s\"\n", o->domain,
	       o->domain);
}

/* RFC 8461 3: the TXT record whose id is derived from the policy's text,
 * so it changes exactly when the policy does, and the policy file. */
static int print_mta_sts(const struct dns_out *o)
{
	char *policy = xasprintf("version: STSv1\r\nmode: testing\r\nmx: %s\r\nmax_age: %u\r\n",
	                         o->host, DNS_RECORDS_STS_MAX_AGE);
	char id[DIGEST_SHA256_HEX];

	int r = digest_sha256_hex(policy, strlen(policy), id, sizeof(id));

	free(policy);
	if (r < 0) {
		fprintf(stderr, "sealmail dns-records: SHA-256 failed\n");
		return -1;
	}
	id[DNS_RECORDS_STS_ID_LEN] = '\0';
	printf("; MTA-STS (RFC 8461): senders that know it fetch the policy below and check "
	       "that %s has TLS with a valid certificate; the id follows the policy's text\n",
	       o->host);
	printf("_mta-sts.%s. IN TXT \"v=STSv1; id=%s\"\n", o->domain, id);
	printf("; The policy file, to serve at https://mta-sts.%s/.well-known/mta-sts.txt "
	       "(mta-sts.%s needs an address and a certificate of its own):\n",
	       o->domain, o->domain);
	printf(";   version: STSv1\n;   mode: testing\n;   mx: %s\n;   max_age: %u\n", o->host,
	       DNS_RECORDS_STS_MAX_AGE);
	printf("; mode testing only reports failures: once the TLS reports are clean, write "
	       "mode: enforce and max_age: 604800 (the id then changes)\n");
	printf("; TLS-RPT (RFC 8460): senders mail daily reports of their TLS connections to "
	       "tls-reports@%s (make it a user or an alias)\n",
	       o->domain);
	printf("_smtp._tls.%s. IN TXT \"v=TLSRPTv1; rua=mailto:tls-reports@%s\"\n", o->domain,
	       o->domain);
	return 0;
}

/* The certificate a client asking for NAME by SNI gets, as the server
 * picks it (lib/tls.c): a [tls NAME] section matching exactly or by a
 * "*." wildcard for one label, else the default. */
static unsigned cert_for_name(const struct config *cfg, const char *name)
{
	const char *dot = strchr(name, '.');

	for (unsigned i = 1; i < cfg->n_certs; i++) {
		const char *pat = cfg->certs[i].name;
		if (strcasecmp(pat, name) == 0 || (pat[0] == '*' && pat[1] == '.' && dot != NULL &&
		                                   strcasecmp(pat + 1, dot) == 0))
			return i;
	}
	return 0;
}

/* The TLSA 3 1 1 data (RFC 7671 5.1: the leaf's public key, so a renewal
 * that keeps the key keeps the record) of certificate I into HEX. */
static int cert_tlsa_hex(const struct config *cfg, unsigned i, char *hex, size_t size)
{
	const char *path = cfg->certs[i].certificate, *error = "cannot read it";
	char *pem = read_file(path, DNS_RECORDS_PEM_MAX, NULL);
	int r = pem ? tls_tlsa_data_hex(pem, 0, 1, 1, hex, size, &error) : -1;

	free(pem);
	if (r < 0)
		fprintf(stderr, "sealmail dns-records: %s: %s\n", path, error);
	return r;
}

/* DANE (RFC 7672): the host name's record from the certificate it
 * serves, then one for every other exactly named certificate. */
static int print_tlsa(const struct dns_out *o)
{
	const struct config *cfg = o->cfg;
	unsigned mine = cert_for_name(cfg, o->host);
	char hex[TLS_PROBE_DIGEST_HEX], section[300];

	if (cfg->n_certs == 0) {
		printf("; No certificate is configured, so there is no TLSA record to publish\n");
		return 0;
	}
	if (cert_tlsa_hex(cfg, mine, hex, sizeof(hex)) < 0)
		return -1;
	printf("; DANE (RFC 7672): the SHA-256 of the public key %s serves (%s %s); publish "
	       "only in a DNSSEC-signed zone, and a new key's record before the key changes\n",
	       o->host, config_cert_section(cfg, mine, section, sizeof(section)),
	       cfg->certs[mine].certificate);
	printf("_25._tcp.%s. IN TLSA 3 1 1 %s\n", o->host, hex);
	for (unsigned i = 1; i < cfg->n_certs; i++) {
		const char *name = cfg->certs[i].name;
		if (i == mine)
			continue;
		if (name[0] == '*') {
			printf(
			    "; %s has a wildcard name: publish its TLSA record under each MX host "
			    "name it serves\n",
			    config_cert_section(cfg, i, section, sizeof(section)));
			continue;
		}
		if (cert_tlsa_hex(cfg, i, hex, sizeof(hex)) < 0)
			return -1;
		printf("; DANE for %s, which %s serves: publish it when %s is the MX host of a "
		       "domain\n",
		       name, config_cert_section(cfg, i, section, sizeof(section)), name);
		printf("_25._tcp.%s. IN TLSA 3 1 1 %s\n", name, hex);
	}
	return 0;
}

/* RFC 6186 3 and RFC 8314 5.1 (implicit TLS first: the lower priority). */
static const struct {
	const char *service;
	enum listener_protocol protocol;
	enum listener_tls tls;
	unsigned priority;
	const char *what;
} srv_services[] = {
    {"submission", LISTENER_SUBMISSION, LISTENER_TLS_REQUIRED, 10,
     "Mail submission with STARTTLS (RFC 6186)"},
    {"submissions", LISTENER_SUBMISSION, LISTENER_TLS_IMPLICIT, 0,
     "Mail submission over implicit TLS (RFC 8314)"},
    {"imap", LISTENER_IMAP, LISTENER_TLS_REQUIRED, 10, "IMAP with STARTTLS (RFC 6186)"},
    {"imaps", LISTENER_IMAP, LISTENER_TLS_IMPLICIT, 0, "IMAP over implicit TLS (RFC 8314)"},
    {"pop3", LISTENER_POP3, LISTENER_TLS_REQUIRED, 10, "POP3 with STLS (RFC 6186)"},
    {"pop3s", LISTENER_POP3, LISTENER_TLS_IMPLICIT, 0, "POP3 over implicit TLS (RFC 8314)"},
};

/* 1 when listener I of CFG offers service S of srv_services[]. */
static int listener_offers(const struct config *cfg, unsigned i, size_t s)
{
	const struct config_listener *l = &cfg->listeners[i];

	return l->protocol == srv_services[s].protocol && l->tls == srv_services[s].tls &&
	       !listener_loopback(l);
}

static void print_srv_one(const struct dns_out *o, size_t s)
{
	unsigned n = 0, j;

	for (unsigned i = 0; i < o->cfg->n_listeners; i++) {
		const struct config_listener *l = &o->cfg->listeners[i];
		if (!listener_offers(o->cfg, i, s))
			continue;
		/* one record per port: *:587 and [::]:587 are one service */
		for (j = 0; j < i && !(listener_offers(o->cfg, j, s) &&
		                       listener_port(&o->cfg->listeners[j]) == listener_port(l));
		     j++)
			;
		if (j < i)
			continue;
		printf("; %s, [listen %s]\n", srv_services[s].what, l->name);
		printf("_%s._tcp.%s. IN SRV %u 1 %u %s.\n", srv_services[s].service, o->domain,
		       srv_services[s].priority, (unsigned)listener_port(l), o->host);
		n++;
	}
	if (n > 0)
		return;
	printf("; %s: not offered here (RFC 6186 4: the target \".\")\n", srv_services[s].what);
	printf("_%s._tcp.%s. IN SRV 0 0 0 .\n", srv_services[s].service, o->domain);
}

static void print_srv(const struct dns_out *o)
{
	for (size_t s = 0; s < sizeof(srv_services) / sizeof(srv_services[0]); s++)
		print_srv_one(o, s);
	printf("; Clients that ignore SRV look for https://autoconfig.%s/mail/config-v1.1.xml "
	       "(Thunderbird) or autodiscover.%s (Outlook); sealmail serves neither, a web "
	       "server can\n",
	       o->domain, o->domain);
}

/* ---- the command -------------------------------------------------------- */

/* Every certificate print_tlsa() hashes, hashed once before anything is
 * printed: half a zone is worse than none. */
static int check_certs(const struct dns_out *o)
{
	char hex[TLS_PROBE_DIGEST_HEX];

	for (unsigned i = 0; i < o->cfg->n_certs; i++)
		if (o->cfg->certs[i].name[0] != '*' &&
		    cert_tlsa_hex(o->cfg, i, hex, sizeof(hex)) < 0)
			return -1;
	return 0;
}

static int print_records(const struct dns_out *o)
{
	printf("; DNS records for %s from %s (sealmail dns-records), in zone file syntax with "
	       "absolute names\n",
	       o->domain, o->cfg->path);
	printf("; Records under %s belong in its own zone when it is not inside %s\n", o->host,
	       o->domain);
	print_mx(o);
	print_addresses(o);
	print_policies(o);
	if (print_mta_sts(o) < 0 || print_tlsa(o) < 0)
		return -1;
	print_srv(o);
	return 0;
}

/* DOMAIN as a name to look up in local_domains: lower-cased, without a
 * trailing dot, into BUF; -1 when it cannot be one. */
static int domain_argument(const char *arg, char *buf, size_t size)
{
	size_t len = strlen(arg);

	if (len > 0 && arg[len - 1] == '.')
		len--;
	if (len == 0 || len >= size || strpbrk(arg, " \t\r\n;\"\\") != NULL)
		return -1;
	memcpy(buf, arg, len);
	buf[len] = '\0';
	str_lower(buf);
	return 0;
}

int cmd_dns_records(int argc, char **argv)
{
	const char *config = config_default_path();
	char domain[256];
	struct config *cfg;
	int r;

	if (ctl_parse_options(argc, argv, NULL, &config, NULL, dns_records_usage) < 0 ||
	    argc - optind != 1 || domain_argument(argv[optind], domain, sizeof(domain)) < 0) {
		dns_records_usage(stderr);
		return 2;
	}
	if ((cfg = ctl_config_load(config)) == NULL)
		return 1;
	if (!config_is_local_domain(cfg, domain)) {
		fprintf(stderr, "sealmail dns-records: %s is not one of local_domains in %s (",
		        domain, cfg->path);
		for (unsigned i = 0; i < cfg->n_local_domains; i++)
			fprintf(stderr, "%s%s", i ? " " : "", cfg->local_domains[i]);
		fprintf(stderr, "%s)\n", cfg->n_local_domains ? "" : "none");
		free(cfg);
		return 1;
	}
	struct dns_out o = {.cfg = cfg, .domain = domain, .host = cfg->hostname};
	r = check_certs(&o) < 0 || print_records(&o) < 0 ? 1 : 0;
	free(cfg);
	return r;
}
