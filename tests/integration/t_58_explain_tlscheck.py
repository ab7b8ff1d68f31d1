#!/usr/bin/python3
"""`sealmail policy explain DOMAIN` with live evidence, and `sealmail
tls-check DOMAIN|HOST:PORT|--self`, against signed test zones (dnssec.py),
an MTA-STS policy server (sts_server.py) and FakeMX peers (outbound.py).

  * explain, field by field: a DANE domain (MX and addresses DNSSEC
    secure, its TLSA records with the usable one marked, decision dane),
    an MTA-STS domain (the TXT id, the policy fetched now and not written
    to the lookup role's cache; then a cached one read from data_dir/sts/,
    with no fetch), an insecure domain (TLSA not looked up, decision as the
    level says), a local rule with testing, a domain in downgrade memory
    (data_dir/policy/seen), and --offline (the configuration's part only).
  * tls-check against a FakeMX whose certificate the TLSA record names
    (DANE ok, the record named, verdict ok) and one whose certificate it
    does not (DANE failed, verdict defer, exit status 1).
  * tls-check --self prints the TLSA records computed independently with
    the openssl command line from the test certificate.

The server is never started: both commands run in their own process with
the configuration. Addresses of this file: 127.58.0.0/16."""

import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import dnssec  # noqa: E402
import harness  # noqa: E402
import outbound  # noqa: E402
import sts_server  # noqa: E402

NET = "127.58.0."
DANE_MX, WRONG_MX, STS_MX, INSECURE_MX, PARTNER_MX = (NET + str(i) for i in range(1, 6))
STS_WEB = NET + "10"
STS_ID = "20261201"
CACHED_ID = "20261130"


def parse(out):
    """(the fields before the first "host:" line, [per-host block fields]);
    a key given twice in one part keeps its first value."""
    head, blocks, cur = {}, [], None
    for line in out.splitlines():
        m = re.match(r"^([a-z][\w .-]*?): (.*)$", line)
        if not m:
            continue
        key, value = m.group(1), m.group(2)
        if key == "host":
            cur = {}
            blocks.append(cur)
        (cur if cur is not None else head).setdefault(key, value)
    return head, blocks


def openssl_tlsa(pem_text):
    """The SHA-256 of a certificate's SubjectPublicKeyInfo, by the openssl CLI."""
    pub = subprocess.run(["openssl", "x509", "-noout", "-pubkey"], input=pem_text.encode(),
                         stdout=subprocess.PIPE, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         stdout=subprocess.PIPE, check=True).stdout
    dgst = subprocess.run(["openssl", "dgst", "-sha256", "-r"], input=der,
                          stdout=subprocess.PIPE, check=True).stdout.decode()
    return dgst.split()[0]


class ExplainTlsCheck(outbound.OutboundTestCase):

    @classmethod
    def setUpClass(cls):
        outbound.need_unbound()
        dnssec.need_ldns()
        harness.need_tool("openssl", "openssl")
        sts_server.need_https_port()
        addrs = [DANE_MX, WRONG_MX, STS_MX, INSECURE_MX, PARTNER_MX]
        cls.port = outbound.common_port(addrs)
        cls.dane_cert = outbound.peer_cert("good", ["mx.dane.test"])
        cls.wrong_cert = outbound.peer_cert("good", ["mx.wrong.test"])
        cls.other_cert = outbound.peer_cert("good", ["mx.wrong.test"])
        cls.dane_tlsa = dnssec.tlsa_data(cls.dane_cert, 3, 1, 1)
        cls.unusable_tlsa = dnssec.tlsa_data(cls.dane_cert, 1, 1, 1)  # PKIX-EE: not for SMTP
        tcp = "_%d._tcp" % cls.port
        zones = [
            dnssec.secure_zone("dane.test", [
                ("@", "MX", "10 mx.dane.test."),
                ("mx", "A", DANE_MX),
                (tcp + ".mx", "TLSA", cls.dane_tlsa),
                (tcp + ".mx", "TLSA", cls.unusable_tlsa),
            ]),
            dnssec.secure_zone("wrong.test", [
                ("@", "MX", "10 mx.wrong.test."),
                ("mx", "A", WRONG_MX),
                # names a certificate the peer does not have
                (tcp + ".mx", "TLSA", dnssec.tlsa_data(cls.other_cert, 3, 1, 1)),
            ]),
            dnssec.insecure_zone("sts.test", [
                ("@", "MX", "10 mx.sts.test."),
                ("mx", "A", STS_MX),
            ] + sts_server.sts_records("sts.test", STS_WEB, STS_ID,
                                       rua="mailto:tlsrpt@sts.test")),
            dnssec.insecure_zone("insecure.test", [
                ("@", "MX", "10 mx.insecure.test."),
                ("mx", "A", INSECURE_MX),
                (tcp + ".mx", "TLSA", "3 1 1 " + "aa" * 32),
            ]),
            dnssec.insecure_zone("partner.test", [
                ("@", "MX", "10 mx.partner.test."),
                ("mx", "A", PARTNER_MX),
            ]),
            dnssec.insecure_zone("remembered.test", [
                ("@", "MX", "10 mx.partner.test."),
            ]),
            dnssec.insecure_zone("cached.test", [
                ("@", "MX", "10 mx.partner.test."),
                ("_mta-sts", "TXT", '"v=STSv1; id=%s"' % CACHED_ID),
            ]),
        ]
        cls.dns = cls.start_test_dns(zones)
        cls.sts = sts_server.StsServer(STS_WEB)
        cls.addClassCleanup(cls.sts.stop)
        cls.sts.set_policy("sts.test", mode="enforce", mx=["mx.sts.test"], max_age=604800)
        cls.dane_mx = cls.fake(DANE_MX, cls.port, name="mx.dane.test", cert=cls.dane_cert)
        cls.wrong_mx = cls.fake(WRONG_MX, cls.port, name="mx.wrong.test", cert=cls.wrong_cert)
        cls.srv = cls.outbound_class_server(
            cls.dns.resolver(), cls.port, tls="dane", trust_anchor=cls.dns.trust_anchor,
            domains=(("partner.test", "verify testing"),),
            outbound_extra=(("sts_ca_file", cls.sts.ca_file),),
            server={"start": False}, check_greeting=False)
        cls.now = int(time.time())
        os.makedirs(os.path.join(cls.srv.data_dir, "policy"), exist_ok=True)
        with open(os.path.join(cls.srv.data_dir, "policy", "seen"), "w") as f:
            f.write("sealmail-tls-seen 1\nremembered.test authenticated %d\n" % (cls.now - 3600))
        os.makedirs(os.path.join(cls.srv.data_dir, "sts"), exist_ok=True)
        with open(os.path.join(cls.srv.data_dir, "sts", "cached.test"), "w") as f:
            f.write("sealmail-sts-cache 1\nid: %s\nfetched: %d\n\nversion: STSv1\n"
                    "mode: testing\nmax_age: 86400\nmx: *.partner.test\n"
                    % (CACHED_ID, cls.now - 600))

    def explain(self, domain, *more):
        return parse(self.srv.ctl_ok("policy", "explain", domain, *more, timeout=90))

    # -- policy explain ----------------------------------------------------

    def test_explain_dane_domain(self):
        head, hosts = self.explain("dane.test")
        self.assertEqual(head["domain"], "dane.test")
        self.assertEqual(head["level"], "dane")
        self.assertEqual(head["dns"], "ok")
        self.assertEqual(head["mx"], "1 records (DNSSEC secure)")
        self.assertEqual(head["mx-record"], "10 mx.dane.test")
        self.assertEqual(head["host mx.dane.test addresses"], "%s (DNSSEC secure)" % DANE_MX)
        self.assertEqual(head["host mx.dane.test tlsa"],
                         "_%d._tcp.mx.dane.test: 2 records (DNSSEC secure)" % self.port)
        out = self.srv.ctl_ok("policy", "explain", "dane.test", timeout=90)
        self.assertIn("host mx.dane.test tlsa-record: %s (DANE-EE, usable)" % self.dane_tlsa,
                      out)
        self.assertIn("host mx.dane.test tlsa-record: %s (PKIX-EE, unusable)"
                      % self.unusable_tlsa, out)
        self.assertEqual(head["mta-sts-txt"], "none")
        self.assertEqual(head["tls-rpt-rua"], "none")
        self.assertEqual(head["downgrade-memory"], "nothing remembered")
        self.assertEqual(head["testing"], "no")
        self.assertEqual(len(hosts), 1, hosts)
        h = hosts[0]
        self.assertEqual(h["host"], "mx.dane.test")
        self.assertEqual(h["decision-level"], "dane")
        self.assertEqual(h["decision-source"], "dane")
        self.assertEqual(h["decision-auth"], "dane")
        self.assertEqual(h["decision-tls-required"], "yes")
        self.assertEqual(h["decision-tlsa"], "1 usable")
        self.assertEqual(h["decision-rpt-policy"], "tlsa")
        self.assertTrue(h["requiretls"].startswith("needs TLS, a peer authenticated by DANE"),
                        h)

    def test_explain_sts_domain_fetched_now_then_not_written(self):
        before = self.sts.fetches("sts.test")
        head, hosts = self.explain("sts.test")
        self.assertEqual(self.sts.fetches("sts.test"), before + 1)
        self.assertEqual(head["mx"], "1 records (DNSSEC insecure)")
        self.assertEqual(head["mta-sts-txt"], "id %s" % STS_ID)
        self.assertRegex(head["mta-sts-policy"],
                         r"^id %s, fetched now, fetched \S+Z \(\d+ s ago\)$" % STS_ID)
        self.assertEqual(head["mta-sts-mode"], "enforce")
        self.assertEqual(head["mta-sts-max-age"], "604800")
        self.assertEqual(head["mta-sts-mx"], "mx.sts.test")
        self.assertEqual(head["tls-rpt-rua"], "mailto:tlsrpt@sts.test")
        self.assertEqual(hosts[0]["decision-source"], "sts")
        self.assertEqual(hosts[0]["decision-auth"], "sts")
        self.assertEqual(hosts[0]["decision-rpt-policy"], "sts")
        # explain looks; it does not fill the lookup role's cache
        self.assertFalse(os.path.exists(os.path.join(self.srv.data_dir, "sts", "sts.test")))

    def test_explain_sts_from_cache(self):
        before = self.sts.fetches("cached.test")
        head, hosts = self.explain("cached.test")
        self.assertEqual(self.sts.fetches("cached.test"), before)
        self.assertEqual(head["mta-sts-txt"], "id %s" % CACHED_ID)
        self.assertRegex(head["mta-sts-policy"], r"^id %s, from the cache, fetched \S+Z "
                         r"\((6\d\d) s ago\)$" % CACHED_ID)
        self.assertEqual(head["mta-sts-mode"], "testing")
        self.assertEqual(head["mta-sts-mx"], "*.partner.test")
        self.assertEqual(head["testing"], "MTA-STS mode testing: failures only recorded")

    def test_explain_insecure_domain(self):
        head, hosts = self.explain("insecure.test")
        self.assertEqual(head["mx"], "1 records (DNSSEC insecure)")
        self.assertEqual(head["host mx.insecure.test tlsa"],
                         "not looked up: the MX or address records are not DNSSEC-secure")
        self.assertEqual(hosts[0]["decision-level"], "dane")
        self.assertEqual(hosts[0]["decision-source"], "default")
        self.assertEqual(hosts[0]["decision-auth"], "none")
        self.assertEqual(hosts[0]["decision-tls-required"], "no")
        self.assertEqual(hosts[0]["decision-rpt-policy"], "no-policy-found")

    def test_explain_local_rule_testing(self):
        head, hosts = self.explain("partner.test")
        self.assertEqual(head["level"], "verify")
        self.assertIn("[outbound.domains] partner.test", head["rule"])
        self.assertIn("testing", head["rule"])
        self.assertEqual(head["testing"],
                         "yes: the rule's failures are recorded, mail leaves as may would")
        h = hosts[0]
        self.assertEqual(h["decision-source"], "local")
        self.assertEqual(h["decision-tls-required"], "no")
        self.assertEqual(h["decision-auth"], "none")
        self.assertIn("verify", h["decision-testing"])
        self.assertIn("checks auth pkix", h["decision-testing"])

    def test_explain_remembered_domain(self):
        head, hosts = self.explain("remembered.test")
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.now - 3600))
        self.assertEqual(head["downgrade-memory"], "authenticated seen %s" % when)
        h = hosts[0]
        # the memory asks more than the default level: it is the source
        self.assertEqual(h["decision-source"], "memory")
        self.assertEqual(h["decision-downgrade-memory"], "at least authenticated (seen %s)"
                         % when[:10])

    def test_explain_offline(self):
        head, hosts = self.explain("dane.test", "--offline")
        self.assertEqual(head["level"], "dane")
        self.assertEqual(head["dns"], "not asked (--offline)")
        self.assertEqual(hosts, [])

    def test_explain_local_domain(self):
        """A domain of local_domains: said to be local, never an MX lookup,
        a level or DNS evidence; a domain that is not local still is."""
        for domain in ("local.test", "LOCAL.test"):
            out = self.srv.ctl_ok("policy", "explain", domain, timeout=90)
            head, hosts = parse(out)
            self.assertEqual(head.get("domain"), "local.test", out)
            self.assertTrue(head.get("local", "").startswith("yes: local.test is in [server] "
                                                             "local_domains; its mail is "
                                                             "delivered into mailboxes here"),
                            out)
            self.assertTrue(head.get("outbound-policy", "").startswith("none applies"), out)
            self.assertIn(self.srv.users_path, head.get("recipients", ""), out)
            for word in ("MX lookup of", "\nmx:", "\nlevel:", "\nroute:", "\ndns:"):
                self.assertNotIn(word, out)
            self.assertEqual(hosts, [], out)
        head, hosts = self.explain("dane.test", "--offline")
        self.assertNotIn("local", head)
        self.assertEqual(head["level"], "dane")

    # -- tls-check ---------------------------------------------------------

    def test_tls_check_dane_match(self):
        rc, out, err = self.srv.ctl("tls-check", "dane.test", timeout=90)
        self.assertEqual(rc, 0, out + err)
        head, hosts = parse(out)
        h = hosts[0]
        self.assertEqual(h["address"], DANE_MX)
        self.assertEqual(h["port"], str(self.port))
        self.assertEqual(h["connect"], "ok")
        self.assertEqual(h["starttls-offered"], "yes")
        self.assertEqual(h["tls"], "ok")
        self.assertEqual(h["protocol"], "TLSv1.3")
        self.assertEqual(h["cipher"], self.dane_mx.all_sessions()[-1].cipher)
        self.assertIn("CN=mx.dane.test", h["certificate-0"])
        self.assertEqual(h["certificate-names"], "mx.dane.test")
        self.assertEqual(h["name-match"], "yes (expected mx.dane.test)")
        self.assertEqual(h["pkix"], "ok")
        self.assertEqual(h["dane"], "ok: TLSA %s matched at depth 0" % self.dane_tlsa)
        self.assertEqual(h["mta-sts"], "not checked: no policy")
        self.assertEqual(h["requiretls-offered"], "no")
        self.assertEqual(h["verdict"], "ok")
        self.assertEqual(h["peer"], "dane")
        self.check_fakes_healthy(self.dane_mx)
        # the probe's QUIT may still be on its way to the fake when the
        # command has printed its result and exited
        try:
            harness.wait_for(lambda: self.dane_mx.saw("QUIT"), what="QUIT at the DANE MX")
        except AssertionError:
            raise AssertionError("tls-check sent no QUIT:\n" + self.dane_mx.describe())

    def test_tls_check_wrong_certificate(self):
        rc, out, err = self.srv.ctl("tls-check", "wrong.test", timeout=90)
        self.assertEqual(rc, 1, out + err)
        head, hosts = parse(out)
        h = hosts[0]
        self.assertEqual(h["decision-auth"], "dane")
        self.assertEqual(h["tls"], "ok")
        self.assertTrue(h["dane"].startswith("failed: "), h)
        self.assertEqual(h["verdict"], "defer")
        self.assertIn("verdict-reason", h)

    def test_tls_check_host_port(self):
        rc, out, err = self.srv.ctl("tls-check", "%s:%d" % (DANE_MX, self.port), timeout=90)
        head, hosts = parse(out)
        self.assertEqual(head["target"], "%s:%d" % (DANE_MX, self.port))
        self.assertEqual(hosts[0]["tls"], "ok", out)
        self.assertEqual(hosts[0]["dane"], "not checked: no usable TLSA records")

    def test_tls_check_self(self):
        out = self.srv.ctl_ok("tls-check", "--self")
        with open(self.srv.cert_path) as f:
            pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                              f.read(), re.S)
        self.assertEqual(len(pems), 2, "the test certificate file holds leaf and CA")
        lines = [ln for ln in out.splitlines() if " IN TLSA " in ln]
        self.assertEqual(lines, [
            "_25._tcp.%s. IN TLSA 3 1 1 %s" % (harness.HOSTNAME, openssl_tlsa(pems[0])),
            "_25._tcp.%s. IN TLSA 2 1 1 %s" % (harness.HOSTNAME, openssl_tlsa(pems[1])),
        ])


if __name__ == "__main__":
    harness.main()
