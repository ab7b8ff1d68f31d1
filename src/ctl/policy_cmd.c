/*
 * policy_cmd.c: see policy_cmd.h. The first lines are the configuration's
 * answer (tls_policy_explain(): domain, level, rule, accepted peer names,
 * route, meaning), then the evidence the destination publishes
 * (policy_facts.h), then the merged decision for each host, as the SMTP
 * client would take it (tls_decide()), and what a REQUIRETLS message would
 * need of it. All `key: value` lines.
 */
#include "ctl/policy_cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/config.h"
#include "ctl/ctl_client.h"
#include "ctl/policy_facts.h"
#include "lib/util.h"
#include "mail/envelope.h"
#include "policy/decide.h"
#include "policy/policy.h"
#include "smtp/mta_policy.h"

#define EXPLAIN_TEXT_MAX 8192 /* the configuration's part */

struct explain_args {
	const char *config;
	const char *domain;
	int offline;
};

static void explain_usage(FILE *f)
{
	fprintf(f, "usage: sealmail policy explain DOMAIN [--offline] [-c FILE]\n");
}

static int explain_parse(int argc, char **argv, struct explain_args *a)
{
	memset(a, 0, sizeof(*a));
	a->config = config_default_path();
	if (ctl_parse_options(argc, argv, "offline", &a->config, &a->offline, explain_usage) < 0 ||
	    argc - optind != 1)
		return -1;
	a->domain = argv[optind];
	return 0;
}

/* What a REQUIRETLS message (RFC 8689 4.2.1) would need of host H. */
static void explain_requiretls(const struct tls_dest_facts *dest, const struct tls_host_facts *h)
{
	struct tls_dest_facts d = *dest;
	struct tls_decision dec;

	d.flags |= ENVELOPE_REQUIRETLS;
	tls_decide(&d, h, &dec);
	if (dec.skip)
		printf("requiretls: refused: %s\n", dec.skip_reason);
	else
		printf("requiretls: needs TLS, a peer authenticated by %s, and REQUIRETLS offered; "
		       "otherwise 5.7.30 at once\n",
		       dec.auth == TLS_AUTH_DANE   ? "DANE"
		       : dec.auth == TLS_AUTH_STS  ? "MTA-STS (PKIX for the MX name)"
		       : dec.auth == TLS_AUTH_PKIX ? "PKIX"
		                                   : "nothing: the decision asks no authentication");
}

/* The decision DECS[i] for each host of F. */
static void explain_hosts(const struct tls_dest_facts *dest, const struct policy_facts *f,
                          const struct tls_decision *decs)
{
	struct tls_host_facts h;

	for (unsigned i = 0; i < f->n_hosts; i++) {
		policy_facts_host(&f->hosts[i], &h);
		printf("\nhost: %s\n", f->hosts[i].name);
		policy_decision_print(stdout, &decs[i]);
		explain_requiretls(dest, &h);
	}
}

/* The evidence and the decisions for DOMAIN. */
static void explain_live(const struct config *cfg, const struct outbound_policy *view,
                         const char *domain, int live)
{
	struct policy_facts *f = xcalloc(1, sizeof(*f));
	struct tls_decision *decs = xcalloc(POLICY_FACTS_HOSTS, sizeof(*decs));
	struct tls_host_facts h;
	struct tls_policy local;
	struct tls_route route;
	struct tls_dest_facts dest;
	int routed = tls_route_for_domain(view, domain, &route);
	uint16_t port = routed && route.port ? route.port : cfg->outbound_port;

	tls_policy_for_domain(view, domain, &local);
	policy_facts_gather(cfg, domain, routed ? route.host : domain, !routed || route.mx_lookup,
	                    port, live, f);
	policy_facts_dest(cfg, f, &local, routed ? &route : NULL, 0, &dest);
	for (unsigned i = 0; i < f->n_hosts; i++) {
		policy_facts_host(&f->hosts[i], &h);
		tls_decide(&dest, &h, &decs[i]);
	}
	policy_facts_print_dns(stdout, f, decs);
	policy_facts_print_domain(stdout, f, (uint64_t)time(NULL));
	printf("testing: %s\n",
	       local.testing ? "yes: the rule's failures are recorded, mail leaves as may would"
	       : f->sts.mode == STS_MODE_TESTING ? "MTA-STS mode testing: failures only recorded"
	                                         : "no");
	if (routed)
		printf("mta-sts-applies: no: mail goes by route, not to the MX hosts\n");
	explain_hosts(&dest, f, decs);
	free(decs);
	free(f);
}

int cmd_policy_explain(int argc, char **argv)
{
	struct explain_args a;
	struct outbound_policy view;
	struct config *cfg;
	char *text, domain[256];

	if (explain_parse(argc, argv, &a) < 0) {
		explain_usage(stderr);
		return 2;
	}
	if (strlcpy_checked(domain, a.domain, sizeof(domain)) < 0) {
		fprintf(stderr, "sealmail: domain too long\n");
		return 2;
	}
	str_lower(domain);
	if ((cfg = ctl_config_load(a.config)) == NULL)
		return 1;
	text = xmalloc(EXPLAIN_TEXT_MAX);
	mta_policy_view(cfg, &view);
	tls_policy_explain(&view, domain, text, EXPLAIN_TEXT_MAX);
	fputs(text, stdout);
	if (strncmp(text, "domain: '", 9) != 0) /* a domain name */
		explain_live(cfg, &view, domain, !a.offline);
	mta_policy_view_free(&view);
	free(text);
	free(cfg);
	return 0;
}
