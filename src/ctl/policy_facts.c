/*
 * policy_facts.c: see policy_facts.h. The DNS part is in
 * policy_facts_dns.c; here the files, the decision's inputs and the
 * printing both commands share.
 */
#include "ctl/policy_facts.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conf/config.h"
#include "lib/util.h"
#include "mail/delivery.h"

const char *tlsa_usage_name(unsigned usage)
{
	static const char *const names[] = {"PKIX-TA", "PKIX-EE", "DANE-TA", "DANE-EE"};

	return usage < 4 ? names[usage] : "unknown";
}

/* 1 when the decision DEC kept record T (RFC 7672 3.1: DANE-TA or DANE-EE,
 * a known selector and matching type, behind a secure chain). */
static int facts_tlsa_kept(const struct tls_decision *dec, const struct tlsa_record *t)
{
	for (unsigned i = 0; i < dec->n_tlsa; i++)
		if (dec->tlsa[i].usage == t->usage && dec->tlsa[i].selector == t->selector &&
		    dec->tlsa[i].mtype == t->mtype && dec->tlsa[i].len == t->len &&
		    memcmp(dec->tlsa[i].data, t->data, t->len) == 0)
			return 1;
	return 0;
}

int policy_sts_mx_listed(const struct sts_policy *sts, const char *host)
{
	for (uint32_t i = 0; i < sts->n_mx && i < STS_MX_MAX; i++)
		if (tls_policy_name_matches(sts->mx[i], host))
			return 1;
	return 0;
}

void policy_facts_dest(const struct config *cfg, const struct policy_facts *f,
                       const struct tls_policy *local, const struct tls_route *route,
                       uint32_t flags, struct tls_dest_facts *d)
{
	tls_dest_facts_init(d, f->domain, local, route, f->mx_status, &f->sts);
	d->flags = flags;
	d->seen_level = f->seen_level;
	d->seen_time = f->seen_time;
	d->remember_seconds = cfg->outbound_remember_tls;
	d->now = (uint64_t)time(NULL);
}

void policy_facts_host(const struct policy_fact_host *h, struct tls_host_facts *out)
{
	*out = (struct tls_host_facts){
	    .name = h->name,
	    .addr_status = h->addr_status,
	    .tlsa_status = h->tlsa_status,
	    .n_tlsa = h->n_tlsa,
	    .tlsa = h->tlsa,
	};
}

/* "2026-12-01T10:00:00Z" for T. */
static void facts_time(uint64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL)
		strlcpy_checked(buf, "?", size);
	else
		strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* One TLSA record as "3 1 1 HEX" into BUF. */
static void facts_tlsa_text(const struct tlsa_record *t, char *buf, size_t size)
{
	int o = snprintf(buf, size, "%u %u %u ", t->usage, t->selector, t->mtype);

	if (o > 0 && (size_t)o < size)
		hex_lower(t->data, t->len, buf + o, size - (size_t)o);
}

/* The addresses and TLSA records of host H. */
static void facts_print_host(FILE *out, const struct policy_facts *f,
                             const struct policy_fact_host *h, const struct tls_decision *dec)
{
	char text[2 * TLSA_DATA_MAX + 16];

	fprintf(out, "host %s addresses: ", h->name);
	for (unsigned i = 0; i < h->n_addrs; i++)
		fprintf(out, "%s%s", i ? " " : "", h->addrs[i]);
	fprintf(out, "%s (DNSSEC %s)\n", h->n_addrs ? "" : "none",
	        dnssec_status_name(h->addr_status));
	if (h->addr_status != DNSSEC_SECURE || (f->mx_lookup && f->mx_status != DNSSEC_SECURE)) {
		/* RFC 7672 2.2 */
		fprintf(out, "host %s tlsa: not looked up: the MX or address records are not "
		             "DNSSEC-secure\n", h->name);
		return;
	}
	fprintf(out, "host %s tlsa: _%u._tcp.%s: %u records (DNSSEC %s)\n", h->name, f->port,
	        h->name, h->n_tlsa, dnssec_status_name(h->tlsa_status));
	for (unsigned i = 0; i < h->n_tlsa; i++) {
		facts_tlsa_text(&h->tlsa[i], text, sizeof(text));
		fprintf(out, "host %s tlsa-record: %s (%s, %s)\n", h->name, text,
		        tlsa_usage_name(h->tlsa[i].usage),
		        dec == NULL                          ? "?"
		        : facts_tlsa_kept(dec, &h->tlsa[i]) ? "usable"
		                                             : "unusable");
	}
}

void policy_facts_print_dns(FILE *out, const struct policy_facts *f,
                            const struct tls_decision *decs)
{
	if (!f->live) {
		fprintf(out, "dns: not asked (--offline)\n");
		return;
	}
	if (f->dns_error[0]) {
		fprintf(out, "dns: failed: %s\n", f->dns_error);
		return;
	}
	fprintf(out, "dns: ok\n");
	if (f->implicit_mx)
		fprintf(out, "mx: none: %s is its own mail exchanger (DNSSEC %s)\n", f->domain,
		        dnssec_status_name(f->mx_status));
	else
		fprintf(out, "mx: %u records (DNSSEC %s)\n", f->n_hosts,
		        dnssec_status_name(f->mx_status));
	for (unsigned i = 0; i < f->n_hosts; i++) {
		if (!f->implicit_mx)
			fprintf(out, "mx-record: %u %s\n", f->hosts[i].pref, f->hosts[i].name);
		facts_print_host(out, f, &f->hosts[i], decs ? &decs[i] : NULL);
	}
}

/* The MTA-STS record and policy (RFC 8461 3). */
static void facts_print_sts(FILE *out, const struct policy_facts *f, uint64_t now)
{
	char when[32];

	if (f->live && f->sts_txt[0] == '\0' && f->sts.mode == STS_MODE_ABSENT &&
	    f->sts.error[0] == '\0')
		fprintf(out, "mta-sts-txt: none\n");
	else if (f->live)
		fprintf(out, "mta-sts-txt: id %s\n", f->sts_txt_id[0] ? f->sts_txt_id : "?");
	else
		fprintf(out, "mta-sts-txt: not asked (--offline)\n");
	if (f->sts.error[0])
		fprintf(out, "mta-sts-error: %s\n", f->sts.error);
	if (f->sts.mode == STS_MODE_ABSENT) {
		fprintf(out, "mta-sts-policy: %s\n", f->sts_from[0] ? f->sts_from : "none");
		return;
	}
	facts_time(f->sts.fetched, when, sizeof(when));
	fprintf(out, "mta-sts-policy: id %s, %s, fetched %s (%llu s ago)\n", f->sts.id,
	        f->sts_from, when,
	        (unsigned long long)(now > f->sts.fetched ? now - f->sts.fetched : 0));
	fprintf(out, "mta-sts-mode: %s\n", sts_mode_name(f->sts.mode));
	fprintf(out, "mta-sts-max-age: %u\n", f->sts.max_age);
	fprintf(out, "mta-sts-mx:");
	for (uint32_t i = 0; i < f->sts.n_mx && i < STS_MX_MAX; i++)
		fprintf(out, " %s", f->sts.mx[i]);
	fprintf(out, "\n");
}

void policy_facts_print_domain(FILE *out, const struct policy_facts *f, uint64_t now)
{
	char when[32];

	facts_print_sts(out, f, now);
	if (f->live)
		fprintf(out, "tls-rpt-rua: %s\n", f->rua[0] ? f->rua : "none");
	if (!f->seen_known) {
		fprintf(out, "downgrade-memory: unknown (no readable record)\n");
	} else if (f->seen_time == 0) {
		fprintf(out, "downgrade-memory: nothing remembered\n");
	} else {
		facts_time(f->seen_time, when, sizeof(when));
		fprintf(out, "downgrade-memory: %s seen %s\n", tls_seen_name(f->seen_level), when);
	}
}

static const char *auth_word(enum tls_auth a)
{
	static const char *const words[] = {"none", "dane", "sts", "pkix"};

	return (unsigned)a < 4 ? words[a] : "?";
}

void policy_decision_print(FILE *out, const struct tls_decision *d)
{
	fprintf(out, "decision-level: %s\n", tls_level_name(d->level));
	fprintf(out, "decision-source: %s\n", d->source);
	if (d->evidence[0])
		fprintf(out, "decision-evidence: %s\n", d->evidence);
	if (d->skip) {
		fprintf(out, "decision-skip: %s\n", d->skip_reason);
		return;
	}
	fprintf(out, "decision-starttls: %s\n", d->starttls ? "yes" : "no");
	fprintf(out, "decision-tls-required: %s\n", d->tls_required ? "yes" : "no");
	fprintf(out, "decision-auth: %s\n", auth_word(d->auth));
	fprintf(out, "decision-names: %s\n", d->names);
	fprintf(out, "decision-tlsa: %u usable\n", d->n_tlsa);
	if (d->test_what[0])
		fprintf(out, "decision-testing: %s (checks auth %s, records only)\n", d->test_what,
		        auth_word(d->test_auth));
	if (d->need_seen > TLS_SEEN_PLAINTEXT)
		fprintf(out, "decision-downgrade-memory: at least %s (seen %s)\n",
		        tls_seen_name(d->need_seen), d->seen_date);
	fprintf(out, "decision-rpt-policy: %s\n", d->rpt_policy);
}
