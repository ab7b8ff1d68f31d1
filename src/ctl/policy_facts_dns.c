/*
 * policy_facts_dns.c: the network part of policy_facts_gather() (see
 * policy_facts.h), on the command's own event loop with the
 * configuration's resolver and trust anchor: the MX and address answer,
 * then the TLSA records of each host whose chain is DNSSEC-secure (RFC
 * 7672 2.2, as the lookup role asks them), and alongside the domain's
 * MTA-STS record (RFC 8461 3.1), its policy (the lookup role's cache file,
 * else fetched now; nothing is written) and its TLS-RPT record (RFC 8460
 * 3). The whole is bounded by POLICY_FACTS_SECONDS.
 */
#include "ctl/policy_facts.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/config.h"
#include "dns/dns.h"
#include "dns/sts_fetch.h"
#include "lib/util.h"
#include "lookup/sts_cache.h"
#include "policy/sts.h"
#include "policy/tls_seen.h"
#include "policy/tlsrpt.h"

struct facts_run {
	struct policy_facts *f;
	const struct config *cfg;
	struct event_base *base;
	struct dns_resolver *dns;
	struct sts_fetcher *fetcher;
	unsigned pending;
	int mx_lookup;
	struct sts_policy cached; /* the cache file's, mode ABSENT when none */
	/* the facts are final: the answers the resolver gives as it is freed
	 * ("resolver restarted") change nothing */
	int over;
};

static void facts_part_start(struct facts_run *run)
{
	run->pending++;
}

static void facts_part_done(struct facts_run *run)
{
	if (--run->pending == 0)
		event_base_loopexit(run->base, NULL);
}

/* ---- TLSA ---------------------------------------------------------------- */

struct facts_tlsa_part {
	struct facts_run *run;
	struct policy_fact_host *host;
};

static void facts_tlsa_done(void *arg, const struct dns_tlsa_answer *a)
{
	struct facts_tlsa_part *part = arg;
	struct policy_fact_host *h = part->host;

	if (part->run->over) {
		free(part);
		return;
	}
	/* as the lookup role: a failed lookup for a secure host counts as bogus */
	h->tlsa_status = a->failed ? DNSSEC_BOGUS : a->status;
	h->n_tlsa = a->n < TLSA_MAX ? a->n : TLSA_MAX;
	memcpy(h->tlsa, a->rec, h->n_tlsa * sizeof(a->rec[0]));
	facts_part_done(part->run);
	free(part);
}

/* ---- MX and addresses ---------------------------------------------------- */

/* The host entry for NAME, added when new; NULL when the table is full. */
static struct policy_fact_host *facts_host(struct policy_facts *f, const struct dns_host *d)
{
	for (unsigned i = 0; i < f->n_hosts; i++)
		if (strcmp(f->hosts[i].name, d->name) == 0)
			return &f->hosts[i];
	if (f->n_hosts == POLICY_FACTS_HOSTS)
		return NULL;
	struct policy_fact_host *h = &f->hosts[f->n_hosts++];
	strlcpy_checked(h->name, d->name, sizeof(h->name));
	h->pref = d->pref;
	h->addr_status = d->secure;
	return h;
}

static void facts_mx_done(void *arg, const struct dns_answer *a)
{
	struct facts_run *run = arg;
	struct policy_facts *f = run->f;

	if (run->over)
		return;
	f->mx_status = a->secure;
	if (a->status != DNS_OK)
		snprintf(f->dns_error, sizeof(f->dns_error), "%s", a->error[0] ? a->error : "failed");
	for (unsigned i = 0; i < a->n_hosts; i++) {
		struct policy_fact_host *h = facts_host(f, &a->hosts[i]);
		if (h == NULL || h->n_addrs == POLICY_FACTS_ADDRS)
			continue;
		strlcpy_checked(h->addrs[h->n_addrs++], a->hosts[i].addr, sizeof(h->addrs[0]));
		if (a->hosts[i].secure != DNSSEC_SECURE)
			h->addr_status = a->hosts[i].secure;
	}
	f->implicit_mx = !run->mx_lookup || (f->n_hosts == 1 && strcmp(f->hosts[0].name,
	                                                               f->domain) == 0);
	for (unsigned i = 0; i < f->n_hosts; i++) {
		struct policy_fact_host *h = &f->hosts[i];
		/* RFC 7672 2.2: TLSA only behind a secure chain */
		if (h->addr_status != DNSSEC_SECURE || (run->mx_lookup && f->mx_status != DNSSEC_SECURE))
			continue;
		struct facts_tlsa_part *part = xcalloc(1, sizeof(*part));
		*part = (struct facts_tlsa_part){run, h};
		facts_part_start(run);
		dns_tlsa(run->dns, h->name, f->port, facts_tlsa_done, part);
	}
	facts_part_done(run);
}

/* ---- TLS-RPT ------------------------------------------------------------- */

static void facts_rua_done(void *arg, const struct dns_txt_answer *a)
{
	struct facts_run *run = arg;
	const char *why;

	if (run->over)
		return;
	(void)tlsrpt_rua_from_txt(a->txt, a->len, a->n, run->f->rua, sizeof(run->f->rua), &why);
	facts_part_done(run);
}

/* ---- MTA-STS ------------------------------------------------------------- */

static void facts_sts_fetched(void *arg, const struct sts_fetch_result *r)
{
	struct facts_run *run = arg;
	struct policy_facts *f = run->f;
	struct sts_policy p;
	const char *why;
	uint64_t now = (uint64_t)time(NULL);
	int rc = sts_policy_from_fetch(r, f->sts_txt_id, now, &p, &why);

	if (rc == 0) {
		f->sts = p;
		strlcpy_checked(f->sts_from, "fetched now", sizeof(f->sts_from));
	} else if (sts_policy_valid_at(&run->cached, now)) {
		/* RFC 8461 3.3: a valid cached policy stays when a refresh fails */
		f->sts = run->cached;
		strlcpy_checked(f->sts_from, "from the cache (the fetch failed)", sizeof(f->sts_from));
		snprintf(f->sts.error, sizeof(f->sts.error), "refetch failed: %s", why);
	} else {
		snprintf(f->sts.error, sizeof(f->sts.error), "%s: %s",
		         rc == -2 ? "sts-policy-invalid" : "sts-policy-fetch-error", why);
		strlcpy_checked(f->sts_from, "not cached", sizeof(f->sts_from));
	}
	facts_part_done(run);
}

static void facts_sts_txt_done(void *arg, const struct dns_txt_answer *a)
{
	struct facts_run *run = arg;
	struct policy_facts *f = run->f;
	uint64_t now = (uint64_t)time(NULL);
	int valid = sts_policy_valid_at(&run->cached, now);
	const char *why;
	int i = a->failed || a->n == 0 ? -1 : sts_txt_select(a->txt, a->n, &why);

	if (run->over)
		return;
	if (i >= 0 && strlen(a->txt[i]) == a->len[i]) {
		strlcpy_checked(f->sts_txt, a->txt[i], sizeof(f->sts_txt));
		if (sts_txt_parse(a->txt[i], f->sts_txt_id, sizeof(f->sts_txt_id), &why) < 0)
			f->sts_txt_id[0] = '\0';
	}
	if (valid && (f->sts_txt_id[0] == '\0' || strcmp(f->sts_txt_id, run->cached.id) == 0)) {
		/* RFC 8461 5.1: the cached policy holds until it expires */
		f->sts = run->cached;
		strlcpy_checked(f->sts_from, "from the cache", sizeof(f->sts_from));
	} else if (f->sts_txt_id[0] != '\0' && run->fetcher != NULL) {
		facts_part_start(run);
		sts_fetch(run->fetcher, run->dns, f->domain,
		          run->cfg->outbound_sts_ca_file[0] ? run->cfg->outbound_sts_ca_file
		                                            : run->cfg->outbound_ca_file,
		          facts_sts_fetched, run);
	} else if (f->sts_txt_id[0] != '\0') {
		strlcpy_checked(f->sts_from, "not cached", sizeof(f->sts_from));
	}
	facts_part_done(run);
}

/* The lookup role's cache file of DOMAIN, if any and readable. */
static void facts_sts_cached(const struct config *cfg, const char *domain, struct sts_policy *p)
{
	char path[sizeof(cfg->data_dir) + 300], *text;
	const char *why;
	size_t len;

	memset(p, 0, sizeof(*p));
	if (!sts_host_valid(domain))
		return;
	snprintf(path, sizeof(path), "%s/" STS_CACHE_DIR "/%s", cfg->data_dir, domain);
	text = read_file(path, STS_CACHE_FILE_SIZE_MAX, &len);
	if (text != NULL && sts_cache_parse(text, len, p, &why) < 0)
		memset(p, 0, sizeof(*p));
	free(text);
}

/* ---- the whole ------------------------------------------------------------ */

/* Runs the lookups of RUN for NAME. */
static void facts_run_dns(struct facts_run *run, const char *name, int mx_lookup)
{
	char txt_name[300];
	struct timeval tv = {POLICY_FACTS_SECONDS, 0};

	run->mx_lookup = mx_lookup;
	run->f->mx_lookup = mx_lookup;
	run->pending = 1;
	facts_part_start(run);
	dns_resolve(run->dns, name, mx_lookup, facts_mx_done, run);
	if (sts_host_valid(run->f->domain)) {
		snprintf(txt_name, sizeof(txt_name), "_mta-sts.%s", run->f->domain);
		facts_part_start(run);
		dns_txt(run->dns, txt_name, facts_sts_txt_done, run);
		snprintf(txt_name, sizeof(txt_name), "_smtp._tls.%s", run->f->domain);
		facts_part_start(run);
		dns_txt(run->dns, txt_name, facts_rua_done, run);
	}
	if (--run->pending > 0) {
		event_base_loopexit(run->base, &tv);
		event_base_dispatch(run->base);
	}
	if (run->pending > 0 && run->f->dns_error[0] == '\0')
		snprintf(run->f->dns_error, sizeof(run->f->dns_error),
		         "no complete answer within %d seconds", POLICY_FACTS_SECONDS);
}

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

/* The downgrade memory of F's domain, from the queue's file (read only). */
static void facts_seen(const struct config *cfg, struct policy_facts *f)
{
	struct tls_seen_map *m = tls_seen_map_new();
	char path[sizeof(cfg->data_dir) + 32];
	const char *why;

	snprintf(path, sizeof(path), "%s/%s", cfg->data_dir, TLS_SEEN_PATH);
	f->seen_known = tls_seen_load(m, path, &why) >= 0;
	if (f->seen_known && !tls_seen_get(m, f->domain, (uint64_t)time(NULL),
	                                   cfg->outbound_remember_tls, &f->seen_level,
	                                   &f->seen_time)) {
		f->seen_level = 0;
		f->seen_time = 0;
	}
	tls_seen_map_free(&m);
}

void policy_facts_gather(const struct config *cfg, const char *domain, const char *name,
                         int mx_lookup, uint16_t port, int live, struct policy_facts *f)
{
	struct facts_run run = {.f = f, .cfg = cfg};
	const char *why;

	memset(f, 0, sizeof(*f));
	strlcpy_checked(f->domain, domain, sizeof(f->domain));
	f->port = port;
	f->live = live;
	facts_seen(cfg, f);
	facts_sts_cached(cfg, domain, &run.cached);
	if (!live) {
		if (run.cached.mode != STS_MODE_ABSENT) {
			f->sts = run.cached;
			strlcpy_checked(f->sts_from, "from the cache (the TXT record not asked)",
			                sizeof(f->sts_from));
		}
		return;
	}
	if (facts_literal(name, f))
		return;
	run.base = event_base_new();
	run.dns = run.base ? dns_resolver_new(run.base, cfg->dns_resolver, cfg->dns_trust_anchor,
	                                      &why)
	                   : NULL;
	if (run.dns == NULL) {
		snprintf(f->dns_error, sizeof(f->dns_error), "resolver: %s",
		         run.base ? why : "no event loop");
	} else {
		run.fetcher = sts_fetcher_new(run.base);
		facts_run_dns(&run, name, mx_lookup);
	}
	run.over = 1;
	sts_fetcher_free(&run.fetcher);
	dns_resolver_free(&run.dns);
	if (run.base != NULL)
		event_base_free(run.base);
}
