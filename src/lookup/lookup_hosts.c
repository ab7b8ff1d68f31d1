/*
 * lookup_hosts.c: see lookup_hosts.h. The parts of a host lookup: the MX
 * and address answer (dns_resolve), then for each host whose addresses
 * are DNSSEC-secure (and, for MX hosts, whose MX RRset is) its TLSA
 * records at _PORT._tcp.HOST (RFC 7672 2.2), and the domain's TLS-RPT
 * record (RFC 8460 3) and MTA-STS policy (RFC 8461, lookup/sts_cache.h)
 * alongside.
 */
#include "lookup/lookup_hosts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lookup/sts_cache.h"
#include "policy/tlsrpt.h"

#define LOOKUP_SMTP_PORT 25

void lookup_hosts_part_start(struct lookup_hosts_req *req)
{
	req->pending++;
}

void lookup_hosts_part_done(struct lookup_hosts_req *req)
{
	if (--req->pending > 0)
		return;
	req->done(req->arg, &req->res);
	proto_lookup_hosts_result_free(&req->res);
	free(req);
}

/* ---- TLSA per host ------------------------------------------------------ */

struct lookup_tlsa_part {
	struct lookup_hosts_req *req;
	char host[PROTO_HOST_NAME_MAX];
};

/* The TLSA answer for one host name goes to every address of it. Only a
 * secure answer's records count; a lookup that failed (not "none") is
 * treated as bogus: RFC 7672 2.2 does not let a failed TLSA lookup be read
 * as "no TLSA" for a host whose addresses are secure. */
static void lookup_tlsa_done(void *arg, const struct dns_tlsa_answer *a)
{
	struct lookup_tlsa_part *part = arg;
	struct proto_lookup_hosts_result *res = &part->req->res;
	uint32_t status = a->failed ? DNSSEC_BOGUS : a->status;
	unsigned i, n = status == DNSSEC_SECURE ? a->n : 0;

	if (status == DNSSEC_BOGUS)
		log_warn("event=dns-tlsa-failed host=%s port=%u reason=\"%s\"", part->host,
		         part->req->msg.port, a->error);
	for (i = 0; i < res->n_hosts; i++) {
		struct proto_host *h = &res->hosts[i];
		if (strcmp(h->name, part->host) != 0)
			continue;
		h->tlsa_status = status;
		h->n_tlsa = n;
		memcpy(h->tlsa, a->rec, n * sizeof(a->rec[0]));
	}
	lookup_hosts_part_done(part->req);
	free(part);
}

/* 1 when the TLSA records of the host at index I are to be looked up
 * (RFC 7672 2.2: its addresses secure, and for an MX host the MX RRset)
 * and no earlier address of the same host asked already. */
static int lookup_wants_tlsa(const struct lookup_hosts_req *req, unsigned i)
{
	const struct proto_host *h = &req->res.hosts[i];
	unsigned j;

	if (h->secure != DNSSEC_SECURE || (req->msg.mx_lookup && req->res.secure != DNSSEC_SECURE))
		return 0;
	for (j = 0; j < i; j++)
		if (strcmp(req->res.hosts[j].name, h->name) == 0)
			return 0;
	return 1;
}

static void lookup_tlsa_parts_start(struct lookup_hosts_req *req)
{
	unsigned port = req->msg.port ? req->msg.port : LOOKUP_SMTP_PORT, i;

	for (i = 0; i < req->res.n_hosts; i++) {
		struct lookup_tlsa_part *part;
		if (!lookup_wants_tlsa(req, i))
			continue;
		part = xcalloc(1, sizeof(*part));
		part->req = req;
		strlcpy_checked(part->host, req->res.hosts[i].name, sizeof(part->host));
		lookup_hosts_part_start(req);
		dns_tlsa(req->env->dns, part->host, port, lookup_tlsa_done, part);
	}
}

/* ---- the MX and address part -------------------------------------------- */

static void lookup_addresses_done(void *arg, const struct dns_answer *a)
{
	struct lookup_hosts_req *req = arg;
	struct proto_lookup_hosts_result *res = &req->res;
	unsigned i;

	res->status = a->status;
	res->secure = a->secure;
	strlcpy_checked(res->error, a->error, sizeof(res->error));
	res->hosts = a->n_hosts > 0 ? xcalloc(a->n_hosts, sizeof(res->hosts[0])) : NULL;
	res->n_hosts = a->n_hosts;
	for (i = 0; i < a->n_hosts; i++) {
		struct proto_host *h = &res->hosts[i];
		strlcpy_checked(h->name, a->hosts[i].name, sizeof(h->name));
		h->pref = a->hosts[i].pref;
		strlcpy_checked(h->addr, a->hosts[i].addr, sizeof(h->addr));
		h->secure = a->hosts[i].secure;
		h->tlsa_status = DNSSEC_INSECURE;
	}
	if ((req->msg.policy & PROTO_LOOKUP_TLSA) && a->status == DNS_OK)
		lookup_tlsa_parts_start(req);
	lookup_hosts_part_done(req);
}

/* ---- TLS-RPT (RFC 8460 3) ----------------------------------------------- */

/* The rua= of the one record that is TLS-RPT's; none when there are two
 * (3: "If multiple TXT records ... are returned, ... no reports") or the
 * record does not parse. */
static void lookup_rua_done(void *arg, const struct dns_txt_answer *a)
{
	struct lookup_hosts_req *req = arg;
	const char *why;
	int r = tlsrpt_rua_from_txt(a->txt, a->len, a->n, req->res.rua, sizeof(req->res.rua), &why);

	if (r == -2 || (r == -1 && a->n > 1))
		log_info("event=tlsrpt-record-ignored domain=%s reason=\"%s\"", req->msg.name, why);
	lookup_hosts_part_done(req);
}

static void lookup_rua_part_start(struct lookup_hosts_req *req)
{
	char name[PROTO_HOST_NAME_MAX + 16];

	snprintf(name, sizeof(name), "_smtp._tls.%s", req->msg.name);
	lookup_hosts_part_start(req);
	dns_txt(req->env->dns, name, lookup_rua_done, req);
}

/* ---- MTA-STS (RFC 8461) ------------------------------------------------- */

static void lookup_sts_done(void *arg, const struct sts_policy *policy)
{
	struct lookup_hosts_req *req = arg;

	req->res.sts = *policy;
	lookup_hosts_part_done(req);
}

/* The destination domain's policy, from the cache or fetched. */
static void lookup_sts_part_start(struct lookup_hosts_req *req)
{
	if (req->env->sts == NULL)
		return;
	lookup_hosts_part_start(req);
	sts_cache_lookup(req->env->sts, req->msg.name, lookup_sts_done, req);
}

/* ---- the request -------------------------------------------------------- */

/* Where every part of a request begins. The MX and address part starts
 * the TLSA parts when it is done. The parts for the destination domain
 * (its TLS-RPT record and MTA-STS policy) run only when NAME is the
 * recipient domain (PROTO_LOOKUP_DOMAIN), never for a route's host. */
static void lookup_hosts_parts_start(struct lookup_hosts_req *req)
{
	if ((req->msg.policy & PROTO_LOOKUP_DOMAIN) && req->msg.mx_lookup) {
		lookup_rua_part_start(req);
		lookup_sts_part_start(req);
	}
	lookup_hosts_part_start(req);
	dns_resolve(req->env->dns, req->msg.name, (int)req->msg.mx_lookup, lookup_addresses_done,
	            req);
}

void lookup_hosts_start(const struct lookup_hosts_env *env, const struct proto_lookup_hosts *msg,
                        lookup_hosts_done_fn *done, void *arg)
{
	struct lookup_hosts_req *req = xcalloc(1, sizeof(*req));

	req->env = env;
	req->msg = *msg;
	req->done = done;
	req->arg = arg;
	req->res.sts.mode = STS_MODE_ABSENT;
	req->pending = 1; /* held while the parts start */
	lookup_hosts_parts_start(req);
	lookup_hosts_part_done(req);
}
