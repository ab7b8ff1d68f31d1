/*
 * tls_check.c: see tls_check.h. Each address of each host gets one
 * connection: greeting, EHLO, STARTTLS, the handshake of lib/tls_probe.h
 * with the decision's TLSA records and PKIX names, EHLO again (REQUIRETLS
 * is only offered after STARTTLS, RFC 8689 4), QUIT. Each step is bounded
 * ([outbound] connect_timeout for the connection, CHECK_STEP_SECONDS for
 * each reply and the handshake). Output is `key: value` lines, one block
 * per address, for people and scripts.
 */
#include "ctl/tls_check.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/config.h"
#include "ctl/check_conn.h"
#include "ctl/ctl_client.h"
#include "ctl/policy_facts.h"
#include "lib/tls_client.h"
#include "lib/util.h"
#include "policy/decide.h"
#include "smtp/mta_policy.h"

#define CHECK_STEP_SECONDS 30 /* each reply and the handshake, at most */
#define CHECK_PEM_MAX (1024 * 1024)

struct check_args {
	const char *config;
	const char *target;
	int self;
};

/* What one connection found. */
struct check_seen {
	int connected, offered, tls, requiretls;
	struct tls_probe_result probe;
};

/* Everything a check needs, shared by its hosts. */
struct check_env {
	const struct config *cfg;
	struct tls_client *client;
	struct policy_facts *facts;
	struct tls_dest_facts dest;
	struct tls_policy local;
	const char *domain;
	uint16_t port;
};

static void check_usage(FILE *f)
{
	fprintf(f, "usage: sealmail tls-check DOMAIN|HOST:PORT [-c FILE]\n"
	           "       sealmail tls-check --self [-c FILE]\n");
}

static int check_parse(int argc, char **argv, struct check_args *a)
{
	memset(a, 0, sizeof(*a));
	a->config = config_default_path();
	if (ctl_parse_options(argc, argv, "self", &a->config, &a->self, check_usage) < 0)
		return -1;
	if (a->self)
		return optind == argc ? 0 : -1;
	if (argc - optind != 1)
		return -1;
	a->target = argv[optind];
	return 0;
}

/* ---- --self ---------------------------------------------------------- */

/* Prints the TLSA records for our [tls] certificate: 3 1 1 for the leaf
 * (RFC 7671 5.1), 2 1 1 for the CA that issued it when the file holds it
 * (RFC 7671 5.2). The port is SMTP's: other servers reach us there. */
static int check_self(const struct config *cfg)
{
	const char *path = cfg->certs[0].certificate, *error;
	char *pem = read_file(path, CHECK_PEM_MAX, NULL);
	char hex[TLS_PROBE_DIGEST_HEX];
	struct tls_probe_cert info;
	int is_ca;

	if (pem == NULL) {
		fprintf(stderr, "sealmail: %s: cannot read the certificate\n", path[0] ? path : "[tls]");
		return 1;
	}
	if (tls_tlsa_data_hex(pem, 0, 1, 1, hex, sizeof(hex), &error) < 0) {
		fprintf(stderr, "sealmail: %s: %s\n", path, error);
		free(pem);
		return 1;
	}
	printf("certificate: %s\n", path);
	printf("_25._tcp.%s. IN TLSA 3 1 1 %s\n", cfg->hostname, hex);
	for (unsigned i = 1; i < tls_pem_count(pem); i++) {
		if (tls_pem_cert_info(pem, i, &info, &is_ca) < 0 || !is_ca ||
		    tls_tlsa_data_hex(pem, i, 1, 1, hex, sizeof(hex), &error) < 0)
			continue;
		printf("_25._tcp.%s. IN TLSA 2 1 1 %s\n", cfg->hostname, hex);
		break;
	}
	free(pem);
	return 0;
}

/* ---- one connection ------------------------------------------------- */

/* The EHLO; *OFFERED_R / *REQUIRETLS_R from its reply. */
static int check_ehlo(struct check_conn *c, const char *helo, int *starttls_r, int *requiretls_r)
{
	struct smtp_reply reply;
	char line[300];
	const char *error;

	snprintf(line, sizeof(line), "EHLO %s", helo);
	if (check_conn_send(c, line, &error) < 0 || check_conn_reply(c, &reply, &error) < 0) {
		printf("ehlo: failed: %s\n", error);
		return -1;
	}
	if (reply.code != 250) {
		printf("ehlo: refused: %u %s\n", reply.code, reply.text);
		return -1;
	}
	if (starttls_r != NULL)
		*starttls_r = smtp_reply_has_extension(&reply, "STARTTLS", NULL);
	if (requiretls_r != NULL)
		*requiretls_r = smtp_reply_has_extension(&reply, "REQUIRETLS", NULL);
	return 0;
}

/* The probe's TLSA records and names from DEC. */
static void check_params(const struct tls_decision *dec, const char *host,
                         struct tls_probe_params *p, struct tls_probe_tlsa *tlsa)
{
	memset(p, 0, sizeof(*p));
	p->host = host;
	p->names = dec->names;
	for (unsigned i = 0; i < dec->n_tlsa && i < TLS_PROBE_DANE_MAX; i++)
		tlsa[i] = (struct tls_probe_tlsa){dec->tlsa[i].usage, dec->tlsa[i].selector,
		                                  dec->tlsa[i].mtype, dec->tlsa[i].data,
		                                  dec->tlsa[i].len};
	p->tlsa = tlsa;
	p->n_tlsa = dec->n_tlsa < TLS_PROBE_DANE_MAX ? dec->n_tlsa : TLS_PROBE_DANE_MAX;
}

static void check_print_tls(const struct tls_decision *dec, const struct tls_probe_result *p);

/* STARTTLS and the handshake; fills SEEN. */
static int check_starttls(const struct check_env *env, struct check_conn *c,
                          const struct tls_decision *dec, const char *host,
                          struct check_seen *seen)
{
	struct tls_probe_params params;
	struct tls_probe_tlsa tlsa[TLS_PROBE_DANE_MAX];
	struct smtp_reply reply;
	const char *error;
	size_t dropped = 0;

	check_conn_deadline(c, CHECK_STEP_SECONDS);
	if (check_conn_send(c, "STARTTLS", &error) < 0 || check_conn_reply(c, &reply, &error) < 0) {
		printf("starttls: failed: %s\n", error);
		return -1;
	}
	if (reply.code != 220) {
		printf("starttls: refused: %u %s\n", reply.code, reply.text);
		return -1;
	}
	check_params(dec, host, &params, tlsa);
	if (check_conn_starttls(c, env->client, &params, &seen->probe, &dropped, &error) < 0) {
		printf("tls: failed: %s\n", error);
		return -1;
	}
	seen->tls = 1;
	printf("tls: ok\n");
	if (dropped > 0)
		printf("tls-dropped-plaintext: %zu octets sent after the 220 were dropped\n", dropped);
	check_print_tls(dec, &seen->probe);
	return 0;
}

/* Connects to ADDR of HOST and talks until QUIT; fills SEEN. */
static void check_talk(const struct check_env *env, const char *host, const char *addr,
                       const struct tls_decision *dec, struct check_seen *seen)
{
	struct check_conn c;
	struct smtp_reply reply;
	const char *error, *helo = env->cfg->outbound_helo;

	memset(seen, 0, sizeof(*seen));
	if (check_conn_open(&c, addr, env->port, env->cfg->outbound_connect_timeout, &error) < 0) {
		printf("connect: failed: %s\n", error);
		return;
	}
	seen->connected = 1;
	printf("connect: ok\n");
	check_conn_deadline(&c, CHECK_STEP_SECONDS);
	if (check_conn_reply(&c, &reply, &error) < 0) {
		printf("greeting: failed: %s\n", error);
		check_conn_close(&c);
		return;
	}
	if (reply.code != 220) {
		printf("greeting: refused: %u %.200s\n", reply.code, reply.text);
		check_conn_close(&c);
		return;
	}
	printf("greeting: %u %.200s\n", reply.code, strtok(reply.text, "\n"));
	if (check_ehlo(&c, helo, &seen->offered, NULL) == 0) {
		printf("starttls-offered: %s\n", seen->offered ? "yes" : "no");
		if (seen->offered && check_starttls(env, &c, dec, host, seen) == 0) {
			check_conn_deadline(&c, CHECK_STEP_SECONDS);
			if (check_ehlo(&c, helo, NULL, &seen->requiretls) == 0)
				printf("requiretls-offered: %s\n", seen->requiretls ? "yes" : "no");
		}
	}
	check_conn_deadline(&c, CHECK_STEP_SECONDS);
	if (check_conn_send(&c, "QUIT", &error) == 0)
		(void)check_conn_reply(&c, &reply, &error);
	check_conn_close(&c);
}

/* ---- what it found --------------------------------------------------- */

/* The chain and the PKIX and DANE verdicts. */
static void check_print_tls(const struct tls_decision *dec, const struct tls_probe_result *p)
{
	char hex[2 * 64 + 1];

	printf("protocol: %s\ncipher: %s\n", p->version, p->cipher);
	for (unsigned i = 0; i < p->n_chain; i++)
		printf("certificate-%u: subject=%s issuer=%s not-before=%s not-after=%s\n", i,
		       p->chain[i].subject, p->chain[i].issuer, p->chain[i].not_before,
		       p->chain[i].not_after);
	printf("certificate-names: %s\n", p->leaf_names);
	printf("name-match: %s (expected %s)\n", p->name_match ? "yes" : "no", dec->names);
	if (p->pkix_ok)
		printf("pkix: ok\n");
	else
		printf("pkix: failed: %s\n", p->pkix_problem);
	if (!p->dane_checked) {
		printf("dane: not checked: no usable TLSA records\n");
	} else if (p->dane_ok && p->dane_match >= 0) {
		const struct tlsa_record *t = &dec->tlsa[p->dane_match];
		hex_lower(t->data, t->len, hex, sizeof(hex));
		printf("dane: ok: TLSA %u %u %u %s matched at depth %d\n", t->usage, t->selector,
		       t->mtype, hex, p->dane_depth);
	} else if (p->dane_ok) {
		printf("dane: ok: matched at depth %d\n", p->dane_depth);
	} else {
		printf("dane: failed: %s\n", p->dane_problem);
	}
}

/* The MTA-STS verdict (RFC 8461 4.1, 4.2): HOST in the policy's mx
 * patterns and the chain valid for HOST. */
static void check_print_sts(const struct policy_facts *f, const char *host,
                            const struct tls_decision *dec, const struct check_seen *seen)
{
	int listed;

	if (f->sts.mode != STS_MODE_ENFORCE && f->sts.mode != STS_MODE_TESTING) {
		printf("mta-sts: not checked: %s\n",
		       f->sts.mode == STS_MODE_NONE ? "policy mode none" : "no policy");
		return;
	}
	listed = policy_sts_mx_listed(&f->sts, host);
	/* the decision's names for an MTA-STS host are the MX name */
	if (!seen->tls)
		printf("mta-sts: failed: mx %s in policy: %s; no TLS\n", host, listed ? "yes" : "no");
	else
		printf("mta-sts: %s: mx %s in policy: %s; certificate valid for %s: %s\n",
		       listed && seen->probe.pkix_ok ? "ok" : "failed", host, listed ? "yes" : "no",
		       dec->names, seen->probe.pkix_ok ? "yes" : seen->probe.pkix_problem);
}

/* The decision's verdict on what the connection achieved. */
static int check_print_verdict(const struct check_env *env, const char *host,
                               const struct tls_decision *dec, const struct check_seen *seen)
{
	static const char *const words[] = {"ok", "defer", "return"};
	struct tls_result r = {
	    .tls = seen->tls && dec->starttls,
	    .offered = seen->offered,
	    .pkix_ok = seen->probe.pkix_ok,
	    .dane_ok = seen->probe.dane_ok,
	    .problem = dec->auth == TLS_AUTH_DANE && seen->probe.dane_checked
	                   ? seen->probe.dane_problem
	                   : seen->probe.pkix_problem,
	    .rpt_cert = seen->probe.rpt_cert,
	};
	struct tls_judgement j;

	if (!seen->connected) {
		printf("verdict: unreachable\n");
		return 1;
	}
	tls_judge(dec, env->domain, host, &r, &j);
	printf("verdict: %s\npeer: %s\n", words[j.verdict % 3], j.peer);
	if (j.why[0])
		printf("verdict-reason: %s\n", j.why);
	if (j.rpt_type[0])
		printf("verdict-rpt-type: %s\n", j.rpt_type);
	if (j.testing[0])
		printf("verdict-testing: %s\n", j.testing);
	return j.verdict == TLS_VERDICT_OK ? 0 : 1;
}

/* Checks every address of host H, decided DEC. Returns 0 when each passed. */
static int check_host(const struct check_env *env, const struct policy_fact_host *h,
                      const struct tls_decision *decision)
{
	struct tls_decision dec = *decision;
	struct check_seen seen;
	int bad = 0;

	for (unsigned i = 0; i < h->n_addrs; i++) {
		printf("\nhost: %s\naddress: %s\nport: %u\n", h->name, h->addrs[i], env->port);
		policy_decision_print(stdout, &dec);
		if (dec.skip) {
			printf("verdict: skipped\n");
			bad = 1;
			continue;
		}
		check_talk(env, h->name, h->addrs[i], &dec, &seen);
		check_print_sts(env->facts, h->name, &dec, &seen);
		bad |= check_print_verdict(env, h->name, &dec, &seen);
	}
	if (h->n_addrs == 0) {
		printf("\nhost: %s\naddress: none\nverdict: unreachable\n", h->name);
		bad = 1;
	}
	return bad;
}

/* ---- the command ------------------------------------------------------ */

/* The client context for the checks: [outbound]'s versions, ciphers and
 * trust anchors, as the SMTP client has them. */
static struct tls_client *check_client(const struct config *cfg)
{
	const char *ca = cfg->outbound_ca_file[0] ? cfg->outbound_ca_file : tls_default_ca_file();
	char *pem = read_file(ca, 16 * CHECK_PEM_MAX, NULL);
	struct tls_client_settings s = {
	    .min_version = cfg->outbound_min_version,
	    .ciphers = cfg->outbound_ciphers,
	    .ciphersuites = cfg->outbound_ciphersuites,
	    .ca_pem = pem ? pem : "",
	};
	const char *error;
	struct tls_client *c = tls_client_new(&s, &error);

	if (pem == NULL)
		fprintf(stderr, "sealmail: %s: cannot read the trust anchors: PKIX cannot succeed\n",
		        ca);
	if (c == NULL)
		fprintf(stderr, "sealmail: TLS client: %s\n", error);
	free(pem);
	return c;
}

/* TARGET as HOST:PORT ("[v6]:port" too) into HOST and *PORT_R. Returns 1,
 * or 0 when it is a domain. */
static int check_split(const char *target, char *host, size_t size, uint16_t *port_r)
{
	const char *colon = strrchr(target, ':');
	unsigned long port;
	char *end;

	if (colon == NULL || (strchr(target, ':') != colon && target[0] != '['))
		return 0;
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port == 0 || port > 65535)
		return -1;
	if (target[0] == '[' && colon > target && colon[-1] == ']')
		snprintf(host, size, "%.*s", (int)(colon - target - 2), target + 1);
	else
		snprintf(host, size, "%.*s", (int)(colon - target), target);
	*port_r = (uint16_t)port;
	return host[0] ? 1 : -1;
}

/* Gathers the facts for the target and checks each host. */
static int check_target(const struct config *cfg, const char *target, struct tls_client *client)
{
	struct check_env env = {.cfg = cfg, .client = client};
	struct outbound_policy view;
	struct tls_route route;
	struct tls_host_facts hf;
	struct tls_decision *decs;
	char host[256], domain[256];
	int kind, bad = 0, routed;

	kind = check_split(target, host, sizeof(host), &env.port);
	if (kind < 0 || strlcpy_checked(domain, kind ? host : target, sizeof(domain)) < 0) {
		fprintf(stderr, "sealmail: bad target '%s'\n", target);
		return 2;
	}
	str_lower(domain);
	mta_policy_view(cfg, &view);
	tls_policy_for_domain(&view, domain, &env.local);
	routed = kind == 0 && tls_route_for_domain(&view, domain, &route);
	mta_policy_view_free(&view);
	if (kind == 0)
		env.port = routed && route.port ? route.port : cfg->outbound_port;
	env.domain = domain;
	env.facts = xcalloc(1, sizeof(*env.facts));
	policy_facts_gather(cfg, domain, routed ? route.host : domain, kind == 0 && (!routed ||
	                    route.mx_lookup), env.port, 1, env.facts);
	printf("target: %s\ndomain: %s\n", target, domain);
	if (routed)
		printf("route: %s port %u (line %d)\n", route.host, env.port, route.line);
	policy_facts_dest(cfg, env.facts, &env.local, routed ? &route : NULL, 0, &env.dest);
	decs = xcalloc(POLICY_FACTS_HOSTS, sizeof(*decs));
	for (unsigned i = 0; i < env.facts->n_hosts; i++) {
		policy_facts_host(&env.facts->hosts[i], &hf);
		tls_decide(&env.dest, &hf, &decs[i]);
	}
	policy_facts_print_dns(stdout, env.facts, decs);
	policy_facts_print_domain(stdout, env.facts, (uint64_t)time(NULL));
	for (unsigned i = 0; i < env.facts->n_hosts; i++)
		bad |= check_host(&env, &env.facts->hosts[i], &decs[i]);
	if (env.facts->n_hosts == 0)
		bad = 1;
	free(decs);
	free(env.facts);
	return bad;
}

int cmd_tls_check(int argc, char **argv)
{
	struct check_args a;
	struct config *cfg;
	struct tls_client *client;
	int r;

	if (check_parse(argc, argv, &a) < 0) {
		check_usage(stderr);
		return 2;
	}
	if ((cfg = ctl_config_load(a.config)) == NULL)
		return 1;
	if (a.self) {
		r = check_self(cfg);
	} else if ((client = check_client(cfg)) == NULL) {
		r = 1;
	} else {
		r = check_target(cfg, a.target, client);
		tls_client_free(&client);
	}
	free(cfg);
	return r;
}
