/*
 * test_decide.c: the merged TLS decision (policy/decide.h): each rule of
 * its precedence on its own and against the others, and the judgement of
 * what a connection achieved.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mail/delivery.h"
#include "mail/envelope.h"
#include "policy/decide.h"

#define NOW 1764547200ULL /* 2025-12-01T00:00:00Z */

struct fixture {
	struct tls_policy local;
	struct sts_policy sts;
	struct tlsa_record tlsa[3];
	struct tls_dest_facts d;
	struct tls_host_facts h;
	struct tls_decision dec;
	struct tls_judgement j;
};

static struct fixture F;

/* A destination at LEVEL (from a rule when RULE_LINE > 0), its MX RRset
 * and host secure, no TLSA, no STS, nothing remembered. */
static void setup(enum tls_level level, int rule_line)
{
	memset(&F, 0, sizeof(F));
	F.local.level = level;
	F.local.rule_line = rule_line;
	strcpy(F.local.source, rule_line ? "[outbound.domains] example.test (t.conf line 3)"
	                                 : "[outbound] tls = dane (the built-in default)");
	F.d = (struct tls_dest_facts){.domain = "example.test",
	                              .local = &F.local,
	                              .mx_status = DNSSEC_SECURE,
	                              .remember_seconds = 30 * 86400,
	                              .now = NOW};
	F.h = (struct tls_host_facts){.name = "mx.example.test",
	                              .addr_status = DNSSEC_SECURE,
	                              .tlsa_status = DNSSEC_SECURE,
	                              .tlsa = F.tlsa};
	F.tlsa[0] = (struct tlsa_record){.usage = 3, .selector = 1, .mtype = 1, .len = 32};
	F.tlsa[1] = (struct tlsa_record){.usage = 1, .selector = 1, .mtype = 1, .len = 32};
	F.tlsa[2] = (struct tlsa_record){.usage = 2, .selector = 0, .mtype = 2, .len = 64};
}

static void decide(void)
{
	tls_decide(&F.d, &F.h, &F.dec);
}

static void judge(int tls, int offered, int pkix_ok, int dane_ok)
{
	struct tls_result r = {.tls = tls,
	                       .offered = offered,
	                       .pkix_ok = pkix_ok,
	                       .dane_ok = dane_ok,
	                       .problem = pkix_ok ? "" : "certificate has expired",
	                       .rpt_cert = pkix_ok ? "" : "certificate-expired"};

	tls_judge(&F.dec, F.d.domain, F.h.name, &r, &F.j);
}

static void test_dane_with_usable_records(void **state)
{
	(void)state;
	setup(TLS_LEVEL_DANE, 0);
	F.h.n_tlsa = 3;
	decide();
	assert_int_equal(F.dec.auth, TLS_AUTH_DANE);
	assert_string_equal(F.dec.source, "dane");
	assert_string_equal(F.dec.rpt_policy, "tlsa");
	assert_int_equal(F.dec.n_tlsa, 2); /* PKIX-EE (1) is ignored */
	assert_int_equal(F.dec.tlsa[0].usage, 3);
	assert_int_equal(F.dec.tlsa[1].usage, 2);
	assert_true(F.dec.tls_required);
	judge(1, 1, 0, 1);
	assert_int_equal(F.j.verdict, TLS_VERDICT_OK);
	assert_string_equal(F.j.peer, "dane");
	assert_int_equal(F.j.achieved, TLS_SEEN_AUTHENTICATED);
	judge(1, 1, 1, 0);
	assert_int_equal(F.j.verdict, TLS_VERDICT_DEFER);
	assert_string_equal(F.j.rpt_type, "tlsa-invalid");
	assert_non_null(strstr(F.j.why, "TLSA mismatch for mx.example.test"));
	judge(0, 0, 0, 0);
	assert_int_equal(F.j.verdict, TLS_VERDICT_DEFER);
	assert_string_equal(F.j.rpt_type, "starttls-not-supported");
}

static void test_dane_needs_a_secure_chain(void **state)
{
	(void)state;
	/* insecure MX RRset: no DANE; "dane" is "may" */
	setup(TLS_LEVEL_DANE, 0);
	F.h.n_tlsa = 1;
	F.d.mx_status = DNSSEC_INSECURE;
	decide();
	assert_int_equal(F.dec.auth, TLS_AUTH_NONE);
	assert_false(F.dec.tls_required);
	assert_true(F.dec.starttls);
	assert_string_equal(F.dec.rpt_policy, "no-policy-found");
	judge(0, 0, 0, 0);
	assert_int_equal(F.j.verdict, TLS_VERDICT_OK);
	assert_string_equal(F.j.peer, "none");
	/* a route's host counts by its own addresses */
	F.d.routed = 1;
	decide();
	assert_int_equal(F.dec.auth, TLS_AUTH_DANE);
	/* unless the route looks its host up through MX records */
	F.d.route_mx = 1;
	decide();
	assert_int_equal(F.dec.auth, TLS_AUTH_NONE);
	/* insecure TLSA answer: no DANE */
	F.d.routed = 0;
	F.d.route_mx = 0;
	F.d.mx_status = DNSSEC_SECURE;
	F.h.tlsa_status = DNSSEC_INSECURE;
	decide();
	assert_int_equal(F.dec.auth, TLS_AUTH_NONE);
}

static void test_unusable_tlsa_means_encrypt(void **state)
{
	(void)state;
	setup(TLS_LEVEL_DANE, 0);
	F.tlsa[0].usage = 0;
	F.h.n_tlsa = 2; /* PKIX-TA and PKIX-EE only */
	decide();
	assert_int_equal(F.dec.auth, TLS_AUTH_NONE);
	assert_true(F.dec.tls_required);
	assert_int_equal(F.dec.n_tlsa, 0);
	judge(1, 1, 0, 0);
	assert_int_equal(F.j.verdict, TLS_VERDICT_OK);
	assert_string_equal(F.j.peer, "unchecked");
	judge(0, 0, 0, 0);
	assert_int_equal(F.j.verdict, TLS_VERDICT_DEFER);
}

static void test_bogus_skips_the_host(void **state)
{
	(void)state;
	setup(TLS_LEVEL_MAY, 0);
	F.h.tlsa_status = DNSSEC_BOGUS;
	decide();
	assert_true(F.dec.skip);
	assert_string_equal(F.dec.skip_rpt, "dnssec-invalid");
	assert_non_null(strstr(F.dec.skip_reason, "bogus"));
	setup(TLS_LEVEL_ENCRYPT, 4);
	F.h.addr_status = DNSSEC_BOGUS;
	decide();
	assert_true(F.dec.skip);
}

static void test_dane_only(void **state)
{
	(void)state;
	setup(TLS_LEVEL_DANE_ONLY, 3);
	decide();
	assert_true(F.dec.skip);
	assert_string_equal(F.dec.skip_rpt, "dane-required");
	F.h.n_tlsa = 1;
	decide();
	assert_false(F.dec.skip);
	assert_int_equal(F.dec.auth, TLS_AUTH_DANE);
}

static void test_sts_enforce_and_testing(void **state)
{
	(void)state;
	setup(TLS_LEVEL_DANE, 0);
	F.sts = (struct sts_policy){.mode = STS_MODE_ENFORCE, .id = "20261201", .n_mx = 1};
	strcpy(F.sts.mx[0], "*.example.test");
	F.d.sts = &F.sts;
	decide();
	assert_false(F.dec.skip);
	assert_int_equal(F.dec.auth, TLS_AUTH_STS);
	assert_string_equal(F.dec.source, "sts");
	assert_string_equal(F.dec.names, "mx.example.test");
	assert_string_equal(F.dec.rpt_policy, "sts");
	judge(1, 1, 1, 0);
	assert_string_equal(F.j.peer, "sts");
	judge(1, 1, 0, 0);
	assert_int_equal(F.j.verdict, TLS_VERDICT_DEFER);
	assert_string_equal(F.j.rpt_type, "certificate-expired");
	/* not listed: skipped */
	strcpy(F.sts.mx[0], "other.example.test");
	decide();
	assert_true(F.dec.skip);
	assert_non_null(strstr(F.dec.skip_reason, "not in the MTA-STS policy"));
	/* DANE wins where both exist */
	F.h.n_tlsa = 1;
	decide();
	assert_false(F.dec.skip);
	assert_int_equal(F.dec.auth, TLS_AUTH_DANE);
	/* testing: delivered, the failure recorded */
	F.h.n_tlsa = 0;
	F.sts.mode = STS_MODE_TESTING;
	strcpy(F.sts.mx[0], "mx.example.test");
	decide();
	assert_false(F.dec.skip);
	assert_int_equal(F.dec.auth, TLS_AUTH_NONE);
	judge(1, 1, 0, 0);
	assert_int_equal(F.j.verdict, TLS_VERDICT_OK);
	assert_non_null(strstr(F.j.testing, "would have failed: MTA-STS testing"));
	judge(1, 1, 1, 0);
	assert_string_equal(F.j.testing, "");
	/* an explicit local rule wins over what the destination publishes */
	setup(TLS_LEVEL_MAY, 5);
	F.d.sts = &F.sts;
	F.sts.mode = STS_MODE_ENFORCE;
	decide();
	assert_int_equal(F.dec.auth, TLS_AUTH_NONE);
	assert_string_equal(F.dec.source, "local");
	/* and routes ignore MTA-STS */
	setup(TLS_LEVEL_DANE, 0);
	F.d.sts = &F.sts;
	F.d.routed = 1;
	decide();
	assert_int_equal(F.dec.auth, TLS_AUTH_NONE);
}

static void test_testing_rule(void **state)
{
	(void)state;
	setup(TLS_LEVEL_VERIFY, 3);
	F.local.testing = 1;
	decide();
	assert_int_equal(F.dec.level, TLS_LEVEL_MAY);
	assert_int_equal(F.dec.auth, TLS_AUTH_NONE);
	judge(1, 1, 0, 0);
	assert_int_equal(F.j.verdict, TLS_VERDICT_OK);
	assert_non_null(strstr(F.j.testing, "rule example.test testing (level verify)"));
	judge(0, 0, 0, 0);
	assert_int_equal(F.j.verdict, TLS_VERDICT_OK);
	assert_non_null(strstr(F.j.testing, "no STARTTLS offered"));
	judge(1, 1, 1, 0);
	assert_string_equal(F.j.testing, "");
	assert_string_equal(F.j.peer, "verified");
}

static void test_requiretls(void **state)
{
	(void)state;
	setup(TLS_LEVEL_MAY, 0);
	F.d.flags = ENVELOPE_REQUIRETLS | ENVELOPE_TLS_OPTIONAL | MTA_TASK_TLS_OVERRIDE;
	decide();
	assert_true(F.dec.requiretls);
	assert_int_equal(F.dec.auth, TLS_AUTH_PKIX);
	assert_string_equal(F.dec.source, "requiretls");
	assert_string_equal(F.dec.names, "mx.example.test");
	judge(0, 0, 0, 0);
	assert_int_equal(F.j.verdict, TLS_VERDICT_RETURN);
	judge(1, 1, 0, 0);
	assert_int_equal(F.j.verdict, TLS_VERDICT_RETURN);
	judge(1, 1, 1, 0);
	assert_int_equal(F.j.verdict, TLS_VERDICT_OK);
	/* a testing rule does not lower it */
	F.local.testing = 1;
	F.local.level = TLS_LEVEL_ENCRYPT;
	decide();
	assert_int_equal(F.dec.auth, TLS_AUTH_PKIX);
	/* with DANE records, DANE is the authentication */
	setup(TLS_LEVEL_DANE, 0);
	F.d.flags = ENVELOPE_REQUIRETLS;
	F.h.n_tlsa = 1;
	decide();
	assert_int_equal(F.dec.auth, TLS_AUTH_DANE);
	judge(1, 1, 0, 1);
	assert_int_equal(F.j.verdict, TLS_VERDICT_OK);
	/* a skipped host still says REQUIRETLS: the client returns the message */
	setup(TLS_LEVEL_DANE_ONLY, 0);
	F.d.flags = ENVELOPE_REQUIRETLS;
	decide();
	assert_true(F.dec.skip);
	assert_true(F.dec.requiretls);
}

static void test_override_and_tls_required_no(void **state)
{
	(void)state;
	setup(TLS_LEVEL_VERIFY, 3);
	F.d.flags = MTA_TASK_TLS_OVERRIDE;
	F.d.seen_level = TLS_SEEN_AUTHENTICATED;
	F.d.seen_time = NOW - 86400;
	decide();
	assert_int_equal(F.dec.level, TLS_LEVEL_MAY);
	assert_string_equal(F.dec.source, "override");
	assert_int_equal(F.dec.need_seen, TLS_SEEN_PLAINTEXT);
	judge(0, 0, 0, 0);
	assert_int_equal(F.j.verdict, TLS_VERDICT_OK);
	F.d.flags = ENVELOPE_TLS_OPTIONAL;
	decide();
	assert_string_equal(F.dec.source, "tls-required");
	assert_int_equal(F.dec.auth, TLS_AUTH_NONE);
}

static void test_downgrade_memory(void **state)
{
	(void)state;
	setup(TLS_LEVEL_DANE, 0);
	F.d.seen_level = TLS_SEEN_ENCRYPTED;
	F.d.seen_time = NOW - 86400;
	decide();
	assert_int_equal(F.dec.need_seen, TLS_SEEN_ENCRYPTED);
	assert_string_equal(F.dec.seen_date, "2025-11-30");
	assert_string_equal(F.dec.source, "memory");
	judge(0, 0, 0, 0);
	assert_int_equal(F.j.verdict, TLS_VERDICT_DEFER);
	assert_non_null(strstr(F.j.why, "TLS downgrade for example.test: encrypted TLS was seen "
	                                "on 2025-11-30, mx.example.test offers no STARTTLS"));
	judge(1, 1, 0, 0);
	assert_int_equal(F.j.verdict, TLS_VERDICT_OK);
	/* authenticated seen: an unauthenticated peer is refused */
	F.d.seen_level = TLS_SEEN_AUTHENTICATED;
	decide();
	judge(1, 1, 0, 0);
	assert_int_equal(F.j.verdict, TLS_VERDICT_DEFER);
	judge(1, 1, 1, 0);
	assert_int_equal(F.j.verdict, TLS_VERDICT_OK);
	/* forgotten after remember_tls, or off */
	F.d.now = NOW + 30 * 86400;
	decide();
	assert_int_equal(F.dec.need_seen, TLS_SEEN_PLAINTEXT);
	F.d.now = NOW;
	F.d.remember_seconds = 0;
	decide();
	assert_int_equal(F.dec.need_seen, TLS_SEEN_PLAINTEXT);
	/* level none is the operator's word */
	setup(TLS_LEVEL_NONE, 3);
	F.d.seen_level = TLS_SEEN_AUTHENTICATED;
	F.d.seen_time = NOW;
	decide();
	assert_int_equal(F.dec.need_seen, TLS_SEEN_PLAINTEXT);
	assert_false(F.dec.starttls);
}

static void test_levels(void **state)
{
	(void)state;
	setup(TLS_LEVEL_ENCRYPT, 3);
	decide();
	assert_true(F.dec.tls_required);
	assert_int_equal(F.dec.auth, TLS_AUTH_NONE);
	assert_string_equal(F.dec.source, "local");
	judge(1, 1, 0, 0);
	assert_int_equal(F.j.verdict, TLS_VERDICT_OK);
	setup(TLS_LEVEL_VERIFY, 3);
	decide();
	assert_int_equal(F.dec.auth, TLS_AUTH_PKIX);
	judge(1, 1, 0, 0);
	assert_int_equal(F.j.verdict, TLS_VERDICT_DEFER);
	assert_string_equal(F.j.rpt_type, "certificate-expired");
	assert_non_null(strstr(F.j.why, "certificate has expired"));
	setup(TLS_LEVEL_NONE, 0);
	decide();
	assert_false(F.dec.starttls);
	assert_string_equal(F.dec.source, "default");
	assert_string_equal(tls_seen_name(TLS_SEEN_AUTHENTICATED), "authenticated");
	assert_string_equal(tls_seen_name(7), "?");
}

/* The facts both the SMTP client and `policy explain` start from: a
 * route's host counts its MX RRset only when the route looks it up. */
static void test_dest_facts_init(void **state)
{
	struct tls_route route;

	(void)state;
	setup(TLS_LEVEL_DANE, 0);
	tls_dest_facts_init(&F.d, "example.test", &F.local, NULL, DNSSEC_INSECURE, &F.sts);
	assert_false(F.d.routed);
	assert_int_equal(F.d.mx_status, DNSSEC_INSECURE);
	assert_ptr_equal(F.d.sts, &F.sts);
	memset(&route, 0, sizeof(route));
	tls_dest_facts_init(&F.d, "example.test", &F.local, &route, DNSSEC_SECURE, &F.sts);
	assert_false(F.d.routed); /* host "": the domain's MX hosts */
	strcpy(route.host, "relay.example.test");
	route.mx_lookup = 1;
	tls_dest_facts_init(&F.d, "example.test", &F.local, &route, DNSSEC_INSECURE, &F.sts);
	assert_true(F.d.routed);
	assert_true(F.d.route_mx);
	F.d.now = NOW;
	F.h.n_tlsa = 1;
	decide(); /* found through an insecure MX RRset: no DANE */
	assert_int_not_equal(F.dec.auth, TLS_AUTH_DANE);
	route.mx_lookup = 0;
	tls_dest_facts_init(&F.d, "example.test", &F.local, &route, DNSSEC_INSECURE, &F.sts);
	assert_false(F.d.route_mx);
	F.d.now = NOW;
	decide();
	assert_int_equal(F.dec.auth, TLS_AUTH_DANE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dane_with_usable_records),
	    cmocka_unit_test(test_dane_needs_a_secure_chain),
	    cmocka_unit_test(test_unusable_tlsa_means_encrypt),
	    cmocka_unit_test(test_bogus_skips_the_host),
	    cmocka_unit_test(test_dane_only),
	    cmocka_unit_test(test_sts_enforce_and_testing),
	    cmocka_unit_test(test_testing_rule),
	    cmocka_unit_test(test_requiretls),
	    cmocka_unit_test(test_override_and_tls_required_no),
	    cmocka_unit_test(test_downgrade_memory),
	    cmocka_unit_test(test_levels),
	    cmocka_unit_test(test_dest_facts_init),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
