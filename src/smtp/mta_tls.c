/*
 * mta_tls.c: STARTTLS in the SMTP client (RFC 3207) and the destination's
 * TLS policy on it: the decision for each host (policy/decide.h: the local
 * table, DANE, MTA-STS, REQUIRETLS, downgrade memory, testing), STARTTLS
 * as decided, the handshake through the io layer's TLS client with the
 * host's TLSA records when DANE applies (lib/io.h, lib/tls_client.h), the
 * judgement of what the connection achieved, and at "may" the retry in
 * plaintext after a failed handshake. Called by the dialog (mta_session.c)
 * and the host list (mta_destination.c); a policy failure goes to
 * mta_session_next_host(); where REQUIRETLS cannot be met on a
 * connection, the tasks are returned as they would start (mta_session.c),
 * and when the decision refuses every host, at once (mta_destination.c).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conf/config.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/tls_client.h"
#include "lib/util.h"
#include "policy/decide.h"
#include "policy/policy.h"
#include "proto/metrics.h"
#include "smtp/mta_private.h"
#include "smtp/smtp_reply.h"

static void mta_session_start_tls(struct mta_session *s);

/* ---- the decision ------------------------------------------------------------ */

void mta_policy_error(struct mta_session *s, char *buf, size_t size, const char *what)
{
	snprintf(buf, size, MTA_POLICY_STATUS " TLS required by policy '%s' for %s: %s",
	         tls_level_name(s->dec.level), s->dest->domain, what);
}

void mta_tls_decide(struct mta_session *s)
{
	const struct mta_dest *d = s->dest;
	const struct mta_host *h = &s->hosts[s->cur];
	struct tls_dest_facts facts;
	struct tls_host_facts host = {
	    .name = h->name,
	    .addr_status = h->secure,
	    .tlsa_status = h->tlsa_status,
	    .n_tlsa = h->n_tlsa,
	    .tlsa = h->tlsa,
	};

	tls_dest_facts_init(&facts, d->domain, &d->policy, &d->route, s->mx_status, &s->sts);
	facts.flags = d->flags;
	facts.seen_level = d->seen_level;
	facts.seen_time = d->seen_time;
	facts.remember_seconds = s->mta->env.cfg->outbound_remember_tls;
	facts.now = (uint64_t)time(NULL);
	tls_decide(&facts, &host, &s->dec);
	memset(&s->judged, 0, sizeof(s->judged));
	strlcpy_checked(s->judged.peer, "none", sizeof(s->judged.peer));
}

/* ---- the judgement ----------------------------------------------------------- */

/* REQUIRETLS cannot be met on this connection (RFC 8689 4.2.1): it
 * carries none of this destination's tasks (every one has the flag, see
 * MTA_DEST_FLAGS): each is returned with 5.7.30 when it would start, by
 * the one check of REQUIRETLS before MAIL (mta_session.c), which the peer
 * word made here fails. */
static void mta_session_requiretls_unmet(struct mta_session *s, const char *why)
{
	log_info("event=mta-requiretls-unmet domain=%s relay=%s reason=\"%s\"", s->dest->domain,
	         s->relay, why);
	strlcpy_checked(s->judged.peer,
	                s->judged.achieved >= TLS_SEEN_ENCRYPTED ? "unchecked" : "none",
	                sizeof(s->judged.peer));
	strlcpy_checked(s->rpt_type, s->judged.rpt_type, sizeof(s->rpt_type));
}

/* Judges what the connection achieved (R) against the decision. Returns 0
 * when the dialog goes on (s->judged says how the connection is protected;
 * when REQUIRETLS cannot be met, no task will be sent on it), or -1 when
 * the host was left and the next one is tried. DETAIL, when not "", is
 * what the client saw, added to the reason. */
static int mta_tls_judge(struct mta_session *s, const struct tls_result *r, const char *detail)
{
	const char *host = s->hosts[s->cur].name;
	char what[800], why[1024];

	tls_judge(&s->dec, s->dest->domain, host, r, &s->judged);
	/* what a testing rule or policy would have refused goes into the
	 * report (mta_tls_report), which the queue logs (event=tls-testing) */
	if (s->judged.verdict == TLS_VERDICT_OK)
		return 0;
	strlcpy_checked(s->rpt_type, s->judged.rpt_type, sizeof(s->rpt_type));
	snprintf(what, sizeof(what), "%s%s%s%s", s->judged.why, detail[0] ? " (" : "", detail,
	         detail[0] ? ")" : "");
	if (s->judged.verdict == TLS_VERDICT_RETURN) {
		mta_session_requiretls_unmet(s, what);
		return 0;
	}
	mta_policy_error(s, why, sizeof(why), what);
	mta_session_next_host(s, why, 1);
	return -1;
}

/* Judges a connection that stays in plaintext; OFFERED: the peer offered
 * STARTTLS (and it was refused or failed, or not asked for). */
static int mta_tls_judge_plaintext(struct mta_session *s, int offered, const char *detail)
{
	struct tls_result r = {.tls = 0, .offered = offered, .problem = "", .rpt_cert = ""};

	return mta_tls_judge(s, &r, detail);
}

void mta_tls_after_ehlo(struct mta_session *s)
{
	if (s->tls_active) {
		mta_session_enter_state(s, MTA_STATE_READY); /* judged after the handshake */
		return;
	}
	if (!s->dec.starttls || s->plaintext_fallback || !s->ext_starttls) {
		if (mta_tls_judge_plaintext(s, s->ext_starttls || s->plaintext_fallback, "") < 0)
			return;
		mta_session_enter_state(s, MTA_STATE_READY);
		return;
	}
	mta_session_enter_state(s, MTA_STATE_STARTTLS);
}

/* ---- the handshake ----------------------------------------------------------- */

void mta_session_on_starttls(struct mta_session *s, const struct smtp_reply *r)
{
	char text[600], refused[700];

	if (r->code == 220) {
		mta_session_start_tls(s);
		return;
	}
	mta_reply_text(r, text, sizeof(text));
	snprintf(refused, sizeof(refused), "STARTTLS refused: %s", text);
	if (mta_tls_judge_plaintext(s, 1, refused) < 0)
		return;
	mta_session_enter_state(s, MTA_STATE_READY);
}

/* Puts TLS under the connection, with the decision's TLSA records when it
 * authenticates by DANE (RFC 7672 3: the MX host is the TLSA base domain).
 * Anything the server sent before the handshake is discarded (RFC 3207
 * 4.2; the io drops it). */
static void mta_session_start_tls(struct mta_session *s)
{
	const struct config *cfg = s->mta->env.cfg;
	const char *host = s->hosts[s->cur].name, *error;
	struct tls_dane_record recs[TLS_DANE_MAX];
	struct tls_dane dane = {.base_domain = host, .records = recs, .n = 0};
	char what[300], why[1024];
	unsigned i;

	for (i = 0; s->dec.auth == TLS_AUTH_DANE && i < s->dec.n_tlsa && i < TLS_DANE_MAX; i++) {
		const struct tlsa_record *t = &s->dec.tlsa[i];
		recs[dane.n++] = (struct tls_dane_record){.usage = t->usage,
		                                          .selector = t->selector,
		                                          .mtype = t->mtype,
		                                          .data = t->data,
		                                          .len = t->len};
	}
	smtp_reply_parser_init(&s->parser);
	mta_session_enter_state(s, MTA_STATE_HANDSHAKE);
	if (io_start_tls_client_dane(s->io, s->mta->env.tls, host, s->dec.names, &dane,
	                             cfg->outbound_command_timeout, &error) < 0) {
		snprintf(what, sizeof(what), "TLS handshake failed: %s", error);
		metrics_outbound_tls_failed(IO_TLS_FAIL_OTHER);
		mta_policy_error(s, why, sizeof(why), what);
		mta_session_next_host(s, why, 1);
		return;
	}
	io_set_timeout(s->io, cfg->outbound_command_timeout);
}

/* "dane_match=3/1/1 depth=0": the record that matched, for the log. */
static void mta_tls_dane_words(const struct io_tls_info *tls, char *buf, size_t size)
{
	buf[0] = '\0';
	if (tls->dane_ok)
		snprintf(buf, size, " dane_match=%u/%u/%u depth=%d", tls->dane_usage,
		         tls->dane_selector, tls->dane_mtype, tls->dane_depth);
}

void mta_session_tls_ready(struct mta_session *s)
{
	const struct io_tls_info *tls = io_tls_info(s->io);
	int dane = s->dec.auth == TLS_AUTH_DANE;
	struct tls_result r = {
	    .tls = 1,
	    .offered = 1,
	    .pkix_ok = tls->verified,
	    .dane_ok = dane && tls->dane_ok,
	    .problem = dane ? (tls->dane ? tls->dane_reason : "no TLSA record could be used")
	                    : tls->reason,
	    .rpt_cert = tls->rpt_cert,
	};
	char match[64];

	snprintf(s->tls_desc, sizeof(s->tls_desc), "%s/%s", tls->version, tls->cipher);
	s->tls_active = 1;
	if (mta_tls_judge(s, &r, "") < 0) {
		/* the handshake completed, but the peer did not authenticate
		 * as the policy requires: to a user, a certificate failure */
		metrics_outbound_tls_failed(IO_TLS_FAIL_CERTIFICATE);
		return;
	}
	METRICS_COUNT(outbound_tls_handshakes, 1);
	strlcpy_checked(s->peer, s->judged.peer, sizeof(s->peer));
	mta_tls_dane_words(tls, match, sizeof(match));
	log_info("event=mta-tls domain=%s relay=%s tls=%s peer=%s policy=%s/%s%s", s->dest->domain,
	         s->relay, s->tls_desc, s->peer, tls_level_name(s->dec.level), s->dec.source,
	         match);
	mta_session_enter_state(s, MTA_STATE_EHLO);
}

/* The handshake failed (EVENT): when the decision allows plaintext (at
 * "may"), the same host again without TLS, otherwise a policy failure. */
void mta_session_handshake_failed(struct mta_session *s, enum io_event event)
{
	const char *err = event == IO_ERROR ? io_error(s->io) : "handshake failed";
	char what[600];

	snprintf(what, sizeof(what), "TLS handshake failed: %s", err);
	metrics_outbound_tls_failed(io_tls_failure(s->io));
	if (mta_tls_judge_plaintext(s, 1, what) < 0)
		return;
	/* As Postfix: at "may", a failed handshake is retried in plaintext
	 * with the same host. */
	log_info("event=mta-tls-failed domain=%s relay=%s reason=\"%s\" fallback=plaintext",
	         s->dest->domain, s->relay, err);
	mta_session_disconnect(s);
	s->plaintext_fallback = 1;
	mta_session_connect(s);
}

/* ---- the record ---------------------------------------------------------- */

/* The policy part of REP: the decision, and for TLS-RPT (RFC 8460 4.3) the
 * policy type, the host and the domain's rua. */
static void mta_tls_report_policy(const struct mta_session *s, struct mta_report *rep)
{
	strlcpy_checked(rep->policy, tls_level_name(s->dec.level), sizeof(rep->policy));
	strlcpy_checked(rep->source, s->dec.source, sizeof(rep->source));
	strlcpy_checked(rep->evidence, s->dec.evidence, sizeof(rep->evidence));
	strlcpy_checked(rep->rpt_policy, s->dec.rpt_policy, sizeof(rep->rpt_policy));
	strlcpy_checked(rep->sts_id, s->dec.sts_id, sizeof(rep->sts_id));
	/* reports go to the recipient domain: not for a route's host */
	if (s->dest->route.host[0] == '\0')
		strlcpy_checked(rep->rua, s->rua, sizeof(rep->rua));
}

void mta_tls_report(const struct mta_session *s, struct mta_report *rep)
{
	mta_tls_report_policy(s, rep);
	strlcpy_checked(rep->testing, s->judged.testing, sizeof(rep->testing));
	rep->rpt_type[0] = '\0';
	if (s->cur < s->n_hosts) {
		strlcpy_checked(rep->rpt_mx, s->hosts[s->cur].name, sizeof(rep->rpt_mx));
		strlcpy_checked(rep->rpt_ip, s->hosts[s->cur].addr, sizeof(rep->rpt_ip));
	}
	rep->policy_blocked = 0;
}

void mta_tls_report_failure(const struct mta_session *s, struct mta_report *rep)
{
	mta_tls_report_policy(s, rep);
	strlcpy_checked(rep->relay, s->relay, sizeof(rep->relay));
	strlcpy_checked(rep->peer, "none", sizeof(rep->peer));
	strlcpy_checked(rep->rpt_mx, s->fail_mx, sizeof(rep->rpt_mx));
	strlcpy_checked(rep->rpt_ip, s->fail_ip, sizeof(rep->rpt_ip));
	if (s->policy_failed)
		strlcpy_checked(rep->rpt_type, s->rpt_type, sizeof(rep->rpt_type));
	/* the TLS policy alone kept the mail back: the queue may hold it */
	rep->policy_blocked = s->hosts_policy_failed > 0 && s->hosts_other_failed == 0;
}
