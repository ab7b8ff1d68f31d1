/*
 * decide.c: the merged TLS decision and the judgement of a connection; see
 * decide.h for the order in which the rules apply. Pure: called by the SMTP
 * client (smtp/mta_tls.c, mta_destination.c) and `sealmail policy explain`.
 */
#include "policy/decide.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/util.h"
#include "mail/delivery.h"
#include "mail/envelope.h"
#include "policy/sts.h"

__attribute__((format(printf, 3, 4))) static void say(char *buf, size_t size, const char *fmt,
                                                      ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

const char *tls_seen_name(uint32_t seen)
{
	static const char *const names[] = {"plaintext", "encrypted", "authenticated"};

	return seen < 3 ? names[seen] : "?";
}

static void set_source(struct tls_decision *out, const char *source)
{
	strlcpy_checked(out->source, source, sizeof(out->source));
}

/* A TLSA record DANE for SMTP uses: DANE-TA(2) or DANE-EE(3), selector 0
 * or 1, matching type 0, 1 or 2 (RFC 7672 3.1; PKIX-TA/EE are ignored). */
static int tlsa_usable(const struct tlsa_record *t)
{
	return (t->usage == 2 || t->usage == 3) && t->selector <= 1 && t->mtype <= 2 && t->len > 0;
}

/* The level as written, turned into what the connection must do. */
static void decide_level(struct tls_decision *out, enum tls_level level)
{
	out->level = level;
	out->starttls = level > TLS_LEVEL_NONE;
	out->tls_required = level >= TLS_LEVEL_ENCRYPT && level != TLS_LEVEL_DANE;
	out->auth = level == TLS_LEVEL_VERIFY ? TLS_AUTH_PKIX : TLS_AUTH_NONE;
}

/* DANE for host H (RFC 7672 2.2): 1 when it decided (usable records:
 * authenticate with them; a secure set with none usable: encrypt without
 * authentication), 0 when there is no secure TLSA set. The MX RRset
 * counts whenever the host was found through it (a route's host only by
 * its own addresses, unless the route looks up its MX records). */
static int decide_dane(const struct tls_dest_facts *d, const struct tls_host_facts *h,
                       struct tls_decision *out)
{
	unsigned i, usable = 0;
	int via_mx = !d->routed || d->route_mx;
	int chain_secure = h->addr_status == DNSSEC_SECURE &&
	                   (!via_mx || d->mx_status == DNSSEC_SECURE);

	if (!chain_secure || h->tlsa_status != DNSSEC_SECURE || h->n_tlsa == 0)
		return 0;
	for (i = 0; i < h->n_tlsa && i < TLSA_MAX; i++)
		if (tlsa_usable(&h->tlsa[i]) && out->n_tlsa < TLSA_MAX)
			out->tlsa[out->n_tlsa++] = h->tlsa[i], usable++;
	set_source(out, "dane");
	strlcpy_checked(out->rpt_policy, "tlsa", sizeof(out->rpt_policy));
	out->starttls = 1;
	out->tls_required = 1;
	if (usable == 0) {
		out->auth = TLS_AUTH_NONE;
		say(out->evidence, sizeof(out->evidence),
		    "TLSA records at the host %s (DNSSEC secure), none usable: TLS without "
		    "authentication (RFC 7672 2.2)",
		    h->name);
		return 1;
	}
	out->auth = TLS_AUTH_DANE;
	say(out->evidence, sizeof(out->evidence), "%u usable TLSA record%s for %s (DNSSEC secure)",
	    usable, usable == 1 ? "" : "s", h->name);
	return 1;
}

/* MTA-STS for host H: enforce requires it listed and a certificate valid
 * for its name; testing only records what enforce would refuse. */
static void decide_sts(const struct tls_dest_facts *d, const struct tls_host_facts *h,
                       struct tls_decision *out)
{
	const struct sts_policy *p = d->sts;
	int listed = sts_mx_matches(p, h->name);

	strlcpy_checked(out->rpt_policy, "sts", sizeof(out->rpt_policy));
	strlcpy_checked(out->sts_id, p->id, sizeof(out->sts_id));
	if (p->mode == STS_MODE_TESTING) {
		out->test_auth = TLS_AUTH_STS;
		out->test_tls_required = 1;
		say(out->test_what, sizeof(out->test_what), "MTA-STS testing policy id %s%s", p->id,
		    listed ? "" : " (the MX host is not in it)");
		return;
	}
	set_source(out, "sts");
	say(out->evidence, sizeof(out->evidence), "MTA-STS policy id %s, mode enforce", p->id);
	if (!listed) {
		out->skip = 1;
		say(out->skip_reason, sizeof(out->skip_reason),
		    "MX host %s is not in the MTA-STS policy of %s (id %s)", h->name, d->domain,
		    p->id);
		strlcpy_checked(out->skip_rpt, "validation-failure", sizeof(out->skip_rpt));
		return;
	}
	out->level = TLS_LEVEL_VERIFY;
	out->starttls = 1;
	out->tls_required = 1;
	out->auth = TLS_AUTH_STS;
	strlcpy_checked(out->names, h->name, sizeof(out->names));
}

/* What the destination publishes, where the local level lets it count:
 * DANE at dane/dane-only, else MTA-STS; a host that fails a MUST is
 * skipped. */
static void decide_published(const struct tls_dest_facts *d, const struct tls_host_facts *h,
                             struct tls_decision *out)
{
	enum tls_level level = d->local->level;
	int explicit_rule = d->local->rule_line > 0 && !d->local->testing;
	int dane_level = level == TLS_LEVEL_DANE || level == TLS_LEVEL_DANE_ONLY;

	if (h->addr_status == DNSSEC_BOGUS || h->tlsa_status == DNSSEC_BOGUS) {
		out->skip = 1;
		say(out->skip_reason, sizeof(out->skip_reason),
		    "DNSSEC validation failed (bogus) for the %s of %s",
		    h->addr_status == DNSSEC_BOGUS ? "addresses" : "TLSA records", h->name);
		strlcpy_checked(out->skip_rpt, "dnssec-invalid", sizeof(out->skip_rpt));
		return;
	}
	if (dane_level && decide_dane(d, h, out))
		return;
	if (level == TLS_LEVEL_DANE_ONLY) {
		out->skip = 1;
		say(out->skip_reason, sizeof(out->skip_reason),
		    "no DNSSEC-secure TLSA records for %s (level dane-only)", h->name);
		strlcpy_checked(out->skip_rpt, "dane-required", sizeof(out->skip_rpt));
		return;
	}
	if (explicit_rule && !dane_level)
		return;
	if (!d->routed && d->sts && d->sts->mode >= STS_MODE_TESTING)
		decide_sts(d, h, out);
}

/* A testing rule: delivered as "may", its own level's checks recorded. */
static void decide_testing_rule(const struct tls_dest_facts *d, struct tls_decision *out)
{
	enum tls_level level = d->local->level;

	out->test_tls_required = level >= TLS_LEVEL_ENCRYPT && level != TLS_LEVEL_DANE;
	out->test_auth = level == TLS_LEVEL_VERIFY ? TLS_AUTH_PKIX : TLS_AUTH_NONE;
	say(out->test_what, sizeof(out->test_what), "rule %s testing (level %s)", d->domain,
	    tls_level_name(level));
	decide_level(out, TLS_LEVEL_MAY);
}

/* Downgrade memory: never less than the best protection seen, while it
 * is remembered. */
static void decide_memory(const struct tls_dest_facts *d, struct tls_decision *out)
{
	time_t t = (time_t)d->seen_time;
	struct tm tm;

	if (d->remember_seconds == 0 || d->seen_time == 0 || d->seen_level == TLS_SEEN_PLAINTEXT ||
	    d->now > d->seen_time + d->remember_seconds)
		return;
	out->need_seen = d->seen_level;
	if (gmtime_r(&t, &tm) != NULL)
		strftime(out->seen_date, sizeof(out->seen_date), "%Y-%m-%d", &tm);
	if (!out->starttls) { /* level none: the operator said so; memory does not override it */
		out->need_seen = TLS_SEEN_PLAINTEXT;
		return;
	}
	/* the memory asks more than the rest of the decision: it is the source */
	if ((out->need_seen >= TLS_SEEN_ENCRYPTED && !out->tls_required) ||
	    (out->need_seen == TLS_SEEN_AUTHENTICATED && out->auth == TLS_AUTH_NONE)) {
		set_source(out, "memory");
		say(out->evidence, sizeof(out->evidence), "downgrade memory: %s TLS seen on %s",
		    tls_seen_name(out->need_seen), out->seen_date);
	}
}

/* REQUIRETLS (RFC 8689 4.2): TLS, and a peer authenticated by DANE,
 * MTA-STS or PKIX for the MX name. */
static void decide_requiretls(const struct tls_host_facts *h, struct tls_decision *out)
{
	out->requiretls = 1;
	out->starttls = 1;
	out->tls_required = 1;
	if (out->auth == TLS_AUTH_NONE && out->n_tlsa == 0) {
		out->auth = TLS_AUTH_PKIX;
		if (out->level < TLS_LEVEL_VERIFY)
			set_source(out, "requiretls");
		strlcpy_checked(out->names, h->name, sizeof(out->names));
	}
	if (out->level < TLS_LEVEL_VERIFY)
		out->level = TLS_LEVEL_VERIFY;
}

void tls_dest_facts_init(struct tls_dest_facts *d, const char *domain,
                         const struct tls_policy *local, const struct tls_route *route,
                         uint32_t mx_status, const struct sts_policy *sts)
{
	int routed = route != NULL && route->host[0] != '\0';

	*d = (struct tls_dest_facts){
	    .domain = domain,
	    .local = local,
	    .routed = routed,
	    .route_mx = routed && route->mx_lookup,
	    .mx_status = mx_status,
	    .sts = sts,
	};
}

void tls_decide(const struct tls_dest_facts *d, const struct tls_host_facts *h,
                struct tls_decision *out)
{
	int requiretls = (d->flags & ENVELOPE_REQUIRETLS) != 0;

	memset(out, 0, sizeof(*out));
	decide_level(out, d->local->level == TLS_LEVEL_DANE ? TLS_LEVEL_MAY : d->local->level);
	out->level = d->local->level;
	set_source(out, d->local->rule_line ? "local" : "default");
	strlcpy_checked(out->evidence, d->local->source, sizeof(out->evidence));
	strlcpy_checked(out->rpt_policy, "no-policy-found", sizeof(out->rpt_policy));
	tls_policy_peer_names(d->local, d->domain, h->name, out->names, sizeof(out->names));
	if (!requiretls && (d->flags & (MTA_TASK_TLS_OVERRIDE | ENVELOPE_TLS_OPTIONAL))) {
		int override = (d->flags & MTA_TASK_TLS_OVERRIDE) != 0;
		decide_level(out, TLS_LEVEL_MAY);
		set_source(out, override ? "override" : "tls-required");
		strlcpy_checked(out->evidence,
		                override ? "queue release --tls-override: once at may"
		                         : "TLS-Required: No (RFC 8689 5): policy failures waived",
		                sizeof(out->evidence));
		return;
	}
	/* set before the skip: a host skipped under REQUIRETLS is one the
	 * message cannot go to, and when none is left it is returned */
	out->requiretls = requiretls;
	if (d->local->testing && !requiretls)
		decide_testing_rule(d, out);
	else
		decide_published(d, h, out);
	if (out->skip)
		return;
	if (requiretls)
		decide_requiretls(h, out);
	decide_memory(d, out);
}

/* ---- the judgement ------------------------------------------------------- */

/* What the peer proved, as the log's peer= word and enum tls_seen. */
static void judge_peer(const struct tls_decision *dec, const struct tls_result *r,
                       struct tls_judgement *out)
{
	const char *peer = "none";

	out->achieved = TLS_SEEN_PLAINTEXT;
	if (r->tls) {
		out->achieved = TLS_SEEN_ENCRYPTED;
		peer = "unchecked";
		if (dec->auth == TLS_AUTH_DANE && r->dane_ok)
			peer = "dane";
		else if (dec->auth == TLS_AUTH_STS && r->pkix_ok)
			peer = "sts";
		else if (r->pkix_ok)
			peer = "verified";
		if (strcmp(peer, "unchecked") != 0)
			out->achieved = TLS_SEEN_AUTHENTICATED;
	}
	strlcpy_checked(out->peer, peer, sizeof(out->peer));
}

/* The certificate problem's TLS-RPT type. */
static const char *cert_rpt(const struct tls_result *r)
{
	return r->rpt_cert && r->rpt_cert[0] ? r->rpt_cert : "certificate-not-trusted";
}

static const char *problem_of(const struct tls_result *r)
{
	return r->problem && r->problem[0] ? r->problem : "not verified";
}

/* Fails OUT with WHY (and the TLS-RPT type RPT). */
__attribute__((format(printf, 4, 5))) static void judge_fail(struct tls_judgement *out,
                                                             const char *rpt,
                                                             enum tls_verdict verdict,
                                                             const char *fmt, ...)
{
	va_list ap;

	out->verdict = verdict;
	strlcpy_checked(out->rpt_type, rpt, sizeof(out->rpt_type));
	va_start(ap, fmt);
	vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
}

/* The checks of what was required; 1 when one failed (OUT filled). */
static int judge_required(const struct tls_decision *dec, const char *host,
                          const struct tls_result *r, struct tls_judgement *out)
{
	enum tls_verdict v = dec->requiretls ? TLS_VERDICT_RETURN : TLS_VERDICT_DEFER;

	if (!r->tls && (dec->tls_required || dec->requiretls)) {
		judge_fail(out, "starttls-not-supported", v, "%s: %s", host,
		           r->offered ? "the TLS handshake failed" : "no STARTTLS offered");
		return 1;
	}
	if (!r->tls)
		return 0;
	if (dec->auth == TLS_AUTH_DANE && !r->dane_ok) {
		judge_fail(out, "tlsa-invalid", v, "TLSA mismatch for %s: %s", host, problem_of(r));
		return 1;
	}
	if ((dec->auth == TLS_AUTH_STS || dec->auth == TLS_AUTH_PKIX) && !r->pkix_ok) {
		judge_fail(out, cert_rpt(r), v, "%scertificate of %s not valid: %s",
		           dec->auth == TLS_AUTH_STS ? "MTA-STS: the " : "the ", host, problem_of(r));
		return 1;
	}
	if (dec->requiretls && out->achieved < TLS_SEEN_AUTHENTICATED) {
		judge_fail(out, cert_rpt(r), v, "%s could not be authenticated: %s", host,
		           problem_of(r));
		return 1;
	}
	return 0;
}

/* What a testing rule or policy would have refused, into OUT->testing. */
static void judge_testing(const struct tls_decision *dec, const char *host,
                          const struct tls_result *r, struct tls_judgement *out)
{
	const char *why = NULL;

	if (dec->test_what[0] == '\0')
		return;
	if (!r->tls && dec->test_tls_required)
		why = r->offered ? "the TLS handshake failed" : "no STARTTLS offered";
	else if (r->tls && dec->test_auth != TLS_AUTH_NONE && !r->pkix_ok)
		why = problem_of(r);
	else if (strstr(dec->test_what, "not in it") != NULL)
		why = "the MX host is not in the policy";
	if (why != NULL)
		say(out->testing, sizeof(out->testing), "would have failed: %s: %s: %s",
		    dec->test_what, host, why);
}

void tls_judge(const struct tls_decision *dec, const char *domain, const char *host,
               const struct tls_result *r, struct tls_judgement *out)
{
	memset(out, 0, sizeof(*out));
	judge_peer(dec, r, out);
	if (judge_required(dec, host, r, out))
		return;
	if (out->achieved < dec->need_seen) {
		judge_fail(out, r->tls ? cert_rpt(r) : "starttls-not-supported", TLS_VERDICT_DEFER,
		           "TLS downgrade for %s: %s TLS was seen on %s, %s offers %s", domain,
		           tls_seen_name(dec->need_seen), dec->seen_date, host,
		           r->tls ? "TLS without an authenticated certificate"
		                  : r->offered ? "a failed TLS handshake" : "no STARTTLS");
		return;
	}
	judge_testing(dec, host, r, out);
}
