/*
 * test_policy.c: the outbound TLS levels, the policy and route of a
 * domain, its explanation, certificate name matching; and the view of the
 * configuration the policy reads (smtp/mta_policy.h), with conf's level
 * words kept in step with policy's levels.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "policy/policy.h"
#include "smtp/mta_policy.h"

#define CONF_PATH "/etc/sealmail/sealmail.conf"
#define LISTEN_PLAIN "[listen mx]\naddress = 127.0.0.1:2525\ntls = none\n"

static const char policy_config[] =
    "[server]\n"                                                     /* 1 */
    "hostname = mx.local.test\n"                                     /* 2 */
    "[outbound]\n"                                                   /* 3 */
    "ca_file = /etc/ssl/ca.pem\n"                                    /* 4 */
    "[outbound.domains]\n"                                           /* 5 */
    "example.com = verify\n"                                         /* 6 */
    ".example.com = encrypt\n"                                       /* 7 */
    ".sub.example.com = none\n"                                      /* 8 */
    "partner.test = verify match=mx1.partner.net:*.mx.partner.net\n" /* 9 */
    "ip.test = verify\n"                                             /* 10 */
    "dane.test = dane\n"                                             /* 11 */
    "relay.test = verify\n"                                          /* 12 */
    "may.test = may\n"                                               /* 13 */
    "[routes]\n"                                                     /* 14 */
    "ip.test = 192.0.2.25:2525\n"                                    /* 15 */
    ".routed.test = relay.example.org\n"                             /* 16 */
    "relay.test = [smart.example.net]:587\n"                         /* 17 */
    "partner.test = [2001:db8::25]\n"                                /* 18 */
    LISTEN_PLAIN;                                                    /* 19-21 */

struct fixture {
	struct config cfg;
	struct outbound_policy view; /* of cfg */
	struct tls_policy policy;
	char text[4096];
};

/* Loads TEXT as CONF_PATH into the fixture; fails the test on errors. */
static void load(struct fixture *f, const char *text)
{
	char *errors = NULL;
	mta_policy_view_free(&f->view);
	if (config_load_string(&f->cfg, CONF_PATH, text, &errors) != 0)
		fail_msg("unexpected errors:\n%s", errors ? errors : "(null)");
	free(errors);
	mta_policy_view(&f->cfg, &f->view);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	mta_policy_view_free(&f->view);
	free(*state);
	return 0;
}

/* The policy of DOMAIN must be LEVEL, set by SOURCE. */
static void expect_policy(struct fixture *f, const char *domain, enum tls_level level,
                          const char *source)
{
	const char *got, *want;

	tls_policy_for_domain(&f->view, domain, &f->policy);
	/* a NULL domain is one of the cases, and printf must not see it */
	got = tls_level_name(f->policy.level);
	want = tls_level_name(level);
	if (f->policy.level != level || strcmp(f->policy.source, source) != 0)
		fail_msg("%s: got %s from \"%s\", expected %s from \"%s\"",
		         domain ? domain : "(null)", got ? got : "?", f->policy.source,
		         want ? want : "?", source);
}

/* ---- levels, and the configuration's words for them ------------------------ */

static void test_tls_level_names(void **state)
{
	static const char *const names[] = {"none", "may", "encrypt", "dane", "dane-only", "verify"};
	enum tls_level level;
	(void)state;
	for (int i = 0; i < 6; i++) {
		assert_string_equal(tls_level_name((enum tls_level)i), names[i]);
		assert_int_equal(tls_level_parse(names[i], &level), 0);
		assert_int_equal(level, i);
	}
	assert_int_equal(tls_level_parse("VERIFY", &level), 0);
	assert_int_equal(level, TLS_LEVEL_VERIFY);
	assert_int_equal(tls_level_parse("secure", &level), -1);
	assert_int_equal(tls_level_parse("", &level), -1);
	assert_string_equal(tls_level_name((enum tls_level)42), "?");
	assert_true(TLS_LEVEL_NONE < TLS_LEVEL_MAY && TLS_LEVEL_MAY < TLS_LEVEL_ENCRYPT &&
	            TLS_LEVEL_ENCRYPT < TLS_LEVEL_DANE && TLS_LEVEL_DANE < TLS_LEVEL_VERIFY);
}

/* conf checks levels against its own words: they must be policy's names,
 * in policy's order, and fit conf's field. */
static void test_conf_level_words_in_step(void **state)
{
	enum tls_level level;
	(void)state;
	assert_int_equal(CONFIG_TLS_LEVELS, TLS_LEVEL_COUNT);
	for (unsigned i = 0; i < CONFIG_TLS_LEVELS; i++) {
		assert_string_equal(config_tls_level_words[i], tls_level_name((enum tls_level)i));
		assert_int_equal(tls_level_parse(config_tls_level_words[i], &level), 0);
		assert_int_equal(level, i);
		assert_true(strlen(config_tls_level_words[i]) < CONFIG_TLS_LEVEL_MAX);
	}
}

/* Every level word of the file reaches the view as its level. */
static void test_view_levels(void **state)
{
	struct fixture *f = *state;
	load(f, "[server]\nhostname = h.test\n[outbound]\ntls = Encrypt\nca_file = /ca.pem\n"
	        "port = 2525\n[outbound.domains]\na.test = NONE\nb.test = may\nc.test = encrypt\n"
	        "d.test = dane\nd2.test = dane-only\ne.test = Verify\n" LISTEN_PLAIN);
	/* conf keeps the word, lower-cased */
	assert_string_equal(f->cfg.outbound_tls, "encrypt");
	assert_string_equal(f->cfg.tls_policies[5].level, "verify");
	assert_int_equal(f->view.default_level, TLS_LEVEL_ENCRYPT);
	assert_int_equal(f->view.default_line, 4);
	assert_string_equal(f->view.ca_file, "/ca.pem");
	assert_int_equal(f->view.port, 2525);
	assert_string_equal(f->view.path, CONF_PATH);
	assert_int_equal(f->view.n_rules, 6);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(f->view.rules[i].level, (enum tls_level)i);
	assert_string_equal(f->view.rules[5].domain, "e.test");
	assert_int_equal(f->view.rules[5].line, 13);
	load(f, "[server]\nhostname = h.test\n" LISTEN_PLAIN);
	assert_int_equal(f->view.default_level, TLS_LEVEL_DANE);
	assert_int_equal(f->view.default_line, 0);
	assert_int_equal(f->view.n_rules, 0);
	assert_string_equal(f->view.relayhost.host, "");
}

/* ---- routes ----------------------------------------------------------------- */

static void test_route_for_domain(void **state)
{
	struct fixture *f = *state;
	struct tls_route r;
	load(f, "[server]\nhostname = h.test\n"
	        "[outbound]\nrelayhost = [smart.test]\n"
	        "[routes]\n"
	        ".example.test = [parent.test]\n"          /* 6 */
	        "example.test = [exact.test]\n"            /* 7 */
	        ".sub.example.test = [longer.test]\n"      /* 8 */
	        "only.test = [only.test]\n" LISTEN_PLAIN); /* 9 */
	assert_int_equal(tls_route_for_domain(&f->view, "example.test", &r), 1);
	assert_string_equal(r.host, "exact.test");
	assert_int_equal(tls_route_for_domain(&f->view, "A.Example.TEST.", &r), 1);
	assert_string_equal(r.host, "parent.test");
	assert_string_equal(r.domain, ".example.test");
	assert_int_equal(tls_route_for_domain(&f->view, "x.sub.example.test", &r), 1);
	assert_string_equal(r.host, "longer.test");
	assert_int_equal(r.line, 8);
	assert_int_equal(r.port, 25);
	assert_int_equal(r.mx_lookup, 0);
	assert_int_equal(tls_route_for_domain(&f->view, "sub.example.test", &r), 1);
	assert_string_equal(r.host, "parent.test");
	assert_int_equal(tls_route_for_domain(&f->view, "only.test", &r), 1);
	assert_string_equal(r.host, "only.test");
	/* no route of their own: the relay host */
	const char *relayed[] = {"sub.only.test", "other.test", "notexample.test"};
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(tls_route_for_domain(&f->view, relayed[i], &r), 1);
		assert_string_equal(r.host, "smart.test");
		assert_string_equal(r.domain, "");
		assert_int_equal(r.line, 4);
	}
	/* no route and no relay host: the MX hosts */
	load(f,
	     "[server]\nhostname = h.test\n[routes]\nonly.test = mx.only.test:2525\n" LISTEN_PLAIN);
	assert_int_equal(tls_route_for_domain(&f->view, "other.test", &r), 0);
	assert_string_equal(r.host, "");
	assert_int_equal(tls_route_for_domain(&f->view, "", &r), 0);
	assert_int_equal(tls_route_for_domain(&f->view, NULL, &r), 0);
	assert_int_equal(tls_route_for_domain(&f->view, "only.test", &r), 1);
	assert_int_equal(r.mx_lookup, 1);
	assert_int_equal(r.port, 2525);
}

/* ---- which rule applies ------------------------------------------------- */

static void test_exact_beats_subdomain(void **state)
{
	struct fixture *f = *state;
	load(f, policy_config);
	expect_policy(f, "example.com", TLS_LEVEL_VERIFY,
	              "[outbound.domains] example.com (" CONF_PATH " line 6)");
	assert_int_equal(f->policy.rule_line, 6);
	expect_policy(f, "mail.example.com", TLS_LEVEL_ENCRYPT,
	              "[outbound.domains] .example.com (" CONF_PATH " line 7)");
}

static void test_longest_parent_wins(void **state)
{
	struct fixture *f = *state;
	load(f, policy_config);
	expect_policy(f, "a.sub.example.com", TLS_LEVEL_NONE,
	              "[outbound.domains] .sub.example.com (" CONF_PATH " line 8)");
	expect_policy(f, "a.b.c.sub.example.com", TLS_LEVEL_NONE,
	              "[outbound.domains] .sub.example.com (" CONF_PATH " line 8)");
	/* ".sub.example.com" is for the subdomains of sub.example.com only */
	expect_policy(f, "sub.example.com", TLS_LEVEL_ENCRYPT,
	              "[outbound.domains] .example.com (" CONF_PATH " line 7)");
	/* the order in the file does not matter */
	load(f, "[server]\nhostname = h.test\n[outbound.domains]\n.a.b.test = verify\n"
	        ".b.test = encrypt\n.x.a.b.test = none\n" LISTEN_PLAIN);
	expect_policy(f, "y.x.a.b.test", TLS_LEVEL_NONE,
	              "[outbound.domains] .x.a.b.test (" CONF_PATH " line 6)");
	expect_policy(f, "x.a.b.test", TLS_LEVEL_VERIFY,
	              "[outbound.domains] .a.b.test (" CONF_PATH " line 4)");
	expect_policy(f, "a.b.test", TLS_LEVEL_ENCRYPT,
	              "[outbound.domains] .b.test (" CONF_PATH " line 5)");
}

static void test_parent_does_not_cover_itself(void **state)
{
	struct fixture *f = *state;
	load(f, "[server]\nhostname = h.test\n[outbound.domains]\n.example.com = "
	        "verify\n" LISTEN_PLAIN);
	expect_policy(f, "example.com", TLS_LEVEL_DANE,
	              "[outbound] tls = dane (the built-in default for all domains)");
	assert_int_equal(f->policy.rule_line, 0);
	expect_policy(f, "notexample.com", TLS_LEVEL_DANE,
	              "[outbound] tls = dane (the built-in default for all domains)");
	expect_policy(f, "mx.example.com", TLS_LEVEL_VERIFY,
	              "[outbound.domains] .example.com (" CONF_PATH " line 4)");
}

static void test_case_and_final_dot(void **state)
{
	struct fixture *f = *state;
	load(f, "[server]\nhostname = h.test\n[outbound.domains]\nExample.COM = verify\n"
	        ".EXAMPLE.com = encrypt\n" LISTEN_PLAIN);
	expect_policy(f, "EXAMPLE.com", TLS_LEVEL_VERIFY,
	              "[outbound.domains] example.com (" CONF_PATH " line 4)");
	expect_policy(f, "Mail.Example.Com.", TLS_LEVEL_ENCRYPT,
	              "[outbound.domains] .example.com (" CONF_PATH " line 5)");
}

static void test_default_source(void **state)
{
	struct fixture *f = *state;
	load(f, "[server]\nhostname = h.test\n" LISTEN_PLAIN);
	expect_policy(f, "other.test", TLS_LEVEL_DANE,
	              "[outbound] tls = dane (the built-in default for all domains)");
	assert_int_equal(f->policy.rule_line, 0);
	assert_string_equal(f->policy.match, "");
	load(f, "[server]\nhostname = h.test\n[outbound]\n\ntls = encrypt\n" LISTEN_PLAIN);
	expect_policy(f, "other.test", TLS_LEVEL_ENCRYPT,
	              "[outbound] tls = encrypt (the default for all domains; " CONF_PATH
	              " line 5)");
	/* even "may" written in the file is not the built-in default */
	load(f, "[server]\nhostname = h.test\n[outbound]\ntls = may\n" LISTEN_PLAIN);
	expect_policy(f, "other.test", TLS_LEVEL_MAY,
	              "[outbound] tls = may (the default for all domains; " CONF_PATH " line 4)");
	/* something that is no domain gets the default */
	expect_policy(f, "", TLS_LEVEL_MAY,
	              "[outbound] tls = may (the default for all domains; " CONF_PATH " line 4)");
	expect_policy(f, NULL, TLS_LEVEL_MAY,
	              "[outbound] tls = may (the default for all domains; " CONF_PATH " line 4)");
}

static void test_match_is_copied(void **state)
{
	struct fixture *f = *state;
	load(f, policy_config);
	tls_policy_for_domain(&f->view, "partner.test", &f->policy);
	assert_int_equal(f->policy.level, TLS_LEVEL_VERIFY);
	assert_string_equal(f->policy.match, "mx1.partner.net:*.mx.partner.net");
	tls_policy_for_domain(&f->view, "example.com", &f->policy);
	assert_string_equal(f->policy.match, "");
}

/* ---- explain -------------------------------------------------------------- */

static void explain(struct fixture *f, const char *domain)
{
	tls_policy_explain(&f->view, domain, f->text, sizeof f->text);
}

static void test_explain_encrypt(void **state)
{
	struct fixture *f = *state;
	load(f, policy_config);
	explain(f, "Mail.Example.com");
	assert_string_equal(
	    f->text, "domain: mail.example.com\n"
	             "level: encrypt\n"
	             "rule: [outbound.domains] .example.com (" CONF_PATH " line 7)\n"
	             "accepted peer names: (not checked at this level)\n"
	             "route: MX lookup of mail.example.com, port 25\n"
	             "meaning: TLS is mandatory; any certificate is accepted; mail is "
	             "deferred if the peer does not offer STARTTLS or the handshake fails\n");
}

static void test_explain_verify(void **state)
{
	struct fixture *f = *state;
	load(f, policy_config);
	explain(f, "example.com");
	assert_string_equal(f->text,
	                    "domain: example.com\n"
	                    "level: verify\n"
	                    "rule: [outbound.domains] example.com (" CONF_PATH " line 6)\n"
	                    "accepted peer names: the MX host name\n"
	                    "route: MX lookup of example.com, port 25\n"
	                    "meaning: TLS is mandatory and the certificate chain must be valid for "
	                    "the accepted names (CA file: /etc/ssl/ca.pem); mail is deferred "
	                    "otherwise\n");
}

static void test_explain_verify_with_ip_route(void **state)
{
	struct fixture *f = *state;
	load(f, policy_config);
	explain(f, "ip.test");
	assert_string_equal(f->text,
	                    "domain: ip.test\n"
	                    "level: verify\n"
	                    "rule: [outbound.domains] ip.test (" CONF_PATH " line 10)\n"
	                    "accepted peer names: ip.test (the route is an IP address, so the "
	                    "certificate is checked against the destination domain)\n"
	                    "route: the address 192.0.2.25, port 2525 (no DNS lookup), set by "
	                    "[routes] ip.test (" CONF_PATH " line 15)\n"
	                    "meaning: TLS is mandatory and the certificate chain must be valid for "
	                    "the accepted names (CA file: /etc/ssl/ca.pem); mail is deferred "
	                    "otherwise\n");
	/* match= wins over the destination domain */
	explain(f, "partner.test");
	assert_non_null(strstr(f->text, "\naccepted peer names: mx1.partner.net, "
	                                "*.mx.partner.net (match= of the rule)\n"));
	assert_non_null(strstr(f->text,
	                       "\nroute: the address 2001:db8::25, port 25 (no DNS "
	                       "lookup), set by [routes] partner.test (" CONF_PATH " line 18)\n"));
}

static void test_explain_routes(void **state)
{
	struct fixture *f = *state;
	load(f, policy_config);
	explain(f, "x.routed.test");
	assert_non_null(strstr(f->text, "\nlevel: dane\n"));
	assert_non_null(strstr(
	    f->text, "\nrule: [outbound] tls = dane (the built-in default for all domains)\n"));
	assert_non_null(strstr(f->text, "\nroute: MX lookup of relay.example.org, port 25, set by "
	                                "[routes] .routed.test (" CONF_PATH " line 16)\n"));
	assert_non_null(strstr(f->text, "\nmeaning: where an MX host's TLSA records are "
	                                "DNSSEC-secure, TLS is mandatory"));
	explain(f, "relay.test");
	assert_non_null(strstr(f->text, "\naccepted peer names: smart.example.net (the host name "
	                                "of the route)\n"));
	assert_non_null(strstr(f->text, "\nroute: smart.example.net, port 587 (its address "
	                                "records; no MX lookup), set by [routes] relay.test"));
	explain(f, "a.sub.example.com");
	assert_non_null(strstr(f->text, "\nlevel: none\n"));
	assert_non_null(strstr(f->text, "\nmeaning: TLS is never used"));
	explain(f, "dane.test");
	assert_non_null(strstr(f->text, "\nlevel: dane\n"));
	assert_non_null(strstr(f->text, "\nmeaning: where an MX host's TLSA records are DNSSEC-secure, TLS is "
	                                "mandatory and the certificate must match them (RFC 7672)"));
}

static void test_explain_relayhost(void **state)
{
	struct fixture *f = *state;
	load(f, "[server]\nhostname = h.test\n[outbound]\ntls = verify\nport = 2526\n"
	        "relayhost = 192.0.2.1\n[routes]\nrouted.test = [relay.test]\n" LISTEN_PLAIN);
	explain(f, "other.test");
	assert_string_equal(f->text,
	                    "domain: other.test\n"
	                    "level: verify\n"
	                    "rule: [outbound] tls = verify (the default for all domains; " CONF_PATH
	                    " line 4)\n"
	                    "accepted peer names: other.test (the route is an IP address, so the "
	                    "certificate is checked against the destination domain)\n"
	                    "route: the address 192.0.2.1, port 2526 (no DNS lookup), set by "
	                    "[outbound] relayhost (" CONF_PATH " line 6)\n"
	                    "meaning: TLS is mandatory and the certificate chain must be valid for "
	                    "the accepted names (CA: the system store); mail is deferred "
	                    "otherwise\n");
	/* [routes] beats the relay host */
	explain(f, "routed.test");
	assert_non_null(strstr(f->text, "\nroute: relay.test, port 2526 (its address records; no "
	                                "MX lookup), set by [routes] routed.test"));
	/* without a relay host, MX hosts are reached on [outbound] port */
	load(f, "[server]\nhostname = h.test\n[outbound]\nport = 2526\n" LISTEN_PLAIN);
	explain(f, "other.test");
	assert_non_null(strstr(f->text, "\nroute: MX lookup of other.test, port 2526\n"));
}

static void test_explain_small_buffers(void **state)
{
	struct fixture *f = *state;
	char small[16];
	load(f, policy_config);
	memset(small, 'x', sizeof small);
	tls_policy_explain(&f->view, "example.com", small, sizeof small);
	assert_string_equal(small, "domain: example");
	tls_policy_explain(&f->view, "example.com", small, 0);
	assert_int_equal(small[0], 'd');
	explain(f, "");
	assert_string_equal(f->text, "domain: '' is not a domain name\n");
}

/* ---- names ----------------------------------------------------------------- */

static void test_name_matches(void **state)
{
	(void)state;
	/* exact, any case, a final dot ignored */
	assert_true(tls_policy_name_matches("mx.example.com", "mx.example.com"));
	assert_true(tls_policy_name_matches("mx.example.com", "MX.Example.COM."));
	assert_true(tls_policy_name_matches("MX.EXAMPLE.COM", "mx.example.com"));
	assert_false(tls_policy_name_matches("mx.example.com", "mx2.example.com"));
	assert_false(tls_policy_name_matches("mx.example.com", "x.mx.example.com"));
	assert_false(tls_policy_name_matches("mx.example.com", "example.com"));
	/* a list */
	assert_true(tls_policy_name_matches("a.test:b.test:c.test", "b.test"));
	assert_true(tls_policy_name_matches("a.test:b.test:c.test", "c.test"));
	assert_false(tls_policy_name_matches("a.test:b.test", "ab.test"));
	assert_false(tls_policy_name_matches("a.test::b.test:", "d.test"));
	/* "*." is one label */
	assert_true(tls_policy_name_matches("*.example.com", "mx.example.com"));
	assert_true(tls_policy_name_matches("*.example.com", "MX.EXAMPLE.COM"));
	assert_false(tls_policy_name_matches("*.example.com", "example.com"));
	assert_false(tls_policy_name_matches("*.example.com", "a.mx.example.com"));
	assert_false(tls_policy_name_matches("*.example.com", ".example.com"));
	assert_false(tls_policy_name_matches("*.example.com", "mx.example.com.evil"));
	assert_false(tls_policy_name_matches("*.example.com", "mxexample.com"));
	/* "." is any number of labels, but not the domain itself */
	assert_true(tls_policy_name_matches(".example.com", "mx.example.com"));
	assert_true(tls_policy_name_matches(".example.com", "a.b.mx.example.com"));
	assert_false(tls_policy_name_matches(".example.com", "example.com"));
	assert_false(tls_policy_name_matches(".example.com", "badexample.com"));
	assert_false(tls_policy_name_matches(".example.com", "..example.com"));
	/* patterns are not names: no wildcard inside a name matches */
	assert_false(tls_policy_name_matches("mx.example.com", "*.example.com"));
	/* nothing matches nothing */
	assert_false(tls_policy_name_matches("", "mx.example.com"));
	assert_false(tls_policy_name_matches(":", "mx.example.com"));
	assert_false(tls_policy_name_matches("mx.example.com", ""));
	assert_false(tls_policy_name_matches("mx.example.com", NULL));
	assert_false(tls_policy_name_matches(NULL, "mx.example.com"));
	assert_false(tls_policy_name_matches("*", "mx"));
}

static void test_peer_names(void **state)
{
	struct fixture *f = *state;
	char names[1024];
	load(f, policy_config);
	tls_policy_for_domain(&f->view, "example.com", &f->policy);
	tls_policy_peer_names(&f->policy, "example.com", "MX1.Example.com", names, sizeof names);
	assert_string_equal(names, "mx1.example.com");
	/* a route or relay host given as an address: the destination domain */
	tls_policy_for_domain(&f->view, "ip.test", &f->policy);
	tls_policy_peer_names(&f->policy, "IP.test", "192.0.2.25", names, sizeof names);
	assert_string_equal(names, "ip.test");
	tls_policy_peer_names(&f->policy, "ip.test", "2001:db8::25", names, sizeof names);
	assert_string_equal(names, "ip.test");
	/* match= wins */
	tls_policy_for_domain(&f->view, "partner.test", &f->policy);
	tls_policy_peer_names(&f->policy, "partner.test", "2001:db8::25", names, sizeof names);
	assert_string_equal(names, "mx1.partner.net:*.mx.partner.net");
	assert_true(tls_policy_name_matches(names, "a.mx.partner.net"));
	assert_false(tls_policy_name_matches(names, "partner.test"));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_tls_level_names),
	    T(test_conf_level_words_in_step),
	    T(test_view_levels),
	    T(test_route_for_domain),
	    T(test_exact_beats_subdomain),
	    T(test_longest_parent_wins),
	    T(test_parent_does_not_cover_itself),
	    T(test_case_and_final_dot),
	    T(test_default_source),
	    T(test_match_is_copied),
	    T(test_explain_encrypt),
	    T(test_explain_verify),
	    T(test_explain_verify_with_ip_route),
	    T(test_explain_routes),
	    T(test_explain_relayhost),
	    T(test_explain_small_buffers),
	    T(test_name_matches),
	    T(test_peer_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
