/*
 * decide.c: the merged TLS decision; see decide.h.
 */
#include "policy/decide.h"

#include <stdio.h>
#include <string.h>

#include "lib/util.h"

void tls_decide(const struct tls_dest_facts *d, const struct tls_host_facts *h,
                struct tls_decision *out)
{
	memset(out, 0, sizeof(*out));
	out->level = d->local->level;
	out->starttls = out->level > TLS_LEVEL_NONE;
	strlcpy_checked(out->source, d->local->rule_line ? "local" : "default", sizeof(out->source));
	tls_policy_peer_names(d->local, d->domain, h->name, out->names, sizeof(out->names));
	strlcpy_checked(out->rpt_policy, "no-policy-found", sizeof(out->rpt_policy));
}

void tls_judge(const struct tls_decision *dec, const char *domain, const char *host,
               const struct tls_result *r, struct tls_judgement *out)
{
	(void)domain;
	(void)host;
	memset(out, 0, sizeof(*out));
	strlcpy_checked(out->peer, !r->tls ? "none" : r->pkix_ok ? "verified" : "untrusted",
	                sizeof(out->peer));
	(void)dec;
}

const char *tls_seen_name(uint32_t seen)
{
	static const char *const names[] = {"plaintext", "encrypted", "authenticated"};

	return seen < 3 ? names[seen] : "?";
}
