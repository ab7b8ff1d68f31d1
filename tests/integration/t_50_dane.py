#!/usr/bin/python3
"""DNSSEC and DANE for outbound SMTP (RFC 7672, RFC 7671, RFC 6698), end to
end: zones signed at test time (dnssec.py: secure, insecure, bogus) served
by unbound, sealmail validating with their trust anchors, fake MX servers
with certificates from the test CA or self-signed.

  * DANE-EE (3 1 1) matching the MX's certificate delivers with peer=dane,
    whatever the certificate's names and dates (RFC 7672 3.1.1);
  * DANE-TA (2 0 1, the test CA) delivers when the certificate names the MX
    host, and defers when it does not (RFC 7672 3.2.2);
  * a TLSA mismatch defers ("TLSA mismatch for mx...") and sends no MAIL;
  * an insecure zone's TLSA records are ignored: the level "dane" is then
    "may";
  * bogus DNSSEC (MX and addresses, or only the TLSA records) defers and
    never reaches the host; a signed zone's TLSA records are not a fallback;
  * dane-only without TLSA records defers without connecting;
  * a secure TLSA set with no usable record (only PKIX-TA/EE) means TLS
    without authentication, mandatory (RFC 7672 2.2);
  * the TLSA records looked up are those of the [outbound] port;
  * a testing rule delivers and logs what it would have refused;
  * an unreadable [dns] trust_anchor stops the server at start-up.

Addresses of this file: 127.50.0.0/16."""

import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import dnssec  # noqa: E402
import harness  # noqa: E402
import outbound  # noqa: E402
from harness import make_message, token  # noqa: E402

NET = "127.50.0."


class DANE(outbound.OutboundTestCase):

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        dnssec.need_ldns()
        # domain -> last octet of its MX's address
        cls.octet = {"ee.sec.test": 1, "eeodd.sec.test": 2, "ta.sec.test": 3,
                     "taname.sec.test": 4, "mismatch.sec.test": 5, "notlsa.sec.test": 6,
                     "pkix.sec.test": 7, "pkixplain.sec.test": 8, "port.sec.test": 9,
                     "insec.test": 10, "testing.insec.test": 11, "bog.test": 12,
                     "tb.test": 13}
        cls.port = outbound.common_port([NET + str(n) for n in cls.octet.values()])
        port = cls.port
        self_signed = outbound.self_signed_cert(["mx.ee.sec.test"])
        # expired, and naming another host: DANE-EE does not care
        odd = harness.issue_cert(["not-the-mx.invalid"], expired=True)
        other = outbound.self_signed_cert(["mx.mismatch.sec.test"])
        ca_cert = harness.ca().cert
        certs = {
            "ee.sec.test": self_signed,
            "eeodd.sec.test": odd,
            "ta.sec.test": harness.issue_cert(["mx.ta.sec.test"], include_ca=True),
            "taname.sec.test": harness.issue_cert(["mx.elsewhere.test"], include_ca=True),
            "mismatch.sec.test": outbound.self_signed_cert(["mx.mismatch.sec.test"]),
            "notlsa.sec.test": harness.issue_cert(["mx.notlsa.sec.test"]),
            "pkix.sec.test": outbound.self_signed_cert(["mx.pkix.sec.test"]),
            "pkixplain.sec.test": None,
            "port.sec.test": outbound.self_signed_cert(["mx.port.sec.test"]),
            "insec.test": outbound.self_signed_cert(["mx.insec.test"]),
            "testing.insec.test": None,
            "bog.test": harness.issue_cert(["mx.bog.test"]),
            "tb.test": outbound.self_signed_cert(["mx.tb.test"]),
        }
        cls.certs = certs

        def host_records(domain):
            host = "mx." + domain
            return [(domain, "MX", "10 %s." % host), (host, "A", NET + str(cls.octet[domain]))]

        sec = []
        for d in ("ee", "eeodd", "ta", "taname", "mismatch", "notlsa", "pkix", "pkixplain",
                  "port"):
            sec += host_records(d + ".sec.test")
        sec += [dnssec.tlsa_rr("mx.ee.sec.test", self_signed, port, 3, 1, 1),
                dnssec.tlsa_rr("mx.eeodd.sec.test", odd, port, 3, 1, 1),
                dnssec.tlsa_rr("mx.ta.sec.test", ca_cert, port, 2, 0, 1),
                dnssec.tlsa_rr("mx.taname.sec.test", ca_cert, port, 2, 0, 1),
                # the record of another certificate than the one served
                dnssec.tlsa_rr("mx.mismatch.sec.test", other, port, 3, 1, 1),
                # PKIX-EE and PKIX-TA only: not usable for SMTP (RFC 7672 3.1.3)
                dnssec.tlsa_rr("mx.pkix.sec.test", certs["pkix.sec.test"], port, 1, 1, 1),
                dnssec.tlsa_rr("mx.pkix.sec.test", ca_cert, port, 0, 0, 1),
                dnssec.tlsa_rr("mx.pkixplain.sec.test", ca_cert, port, 0, 0, 1),
                # a matching record, at port 25 only: not the port used
                dnssec.tlsa_rr("mx.port.sec.test", certs["port.sec.test"], 25, 3, 1, 1)]
        insec = host_records("insec.test") + host_records("testing.insec.test") + [
            # unsigned, and not matching: must be ignored
            dnssec.tlsa_rr("mx.insec.test", other, port, 3, 1, 1)]
        bog = host_records("bog.test") + [
            dnssec.tlsa_rr("mx.bog.test", certs["bog.test"], port, 3, 1, 1)]
        tb = host_records("tb.test") + [
            dnssec.tlsa_rr("mx.tb.test", certs["tb.test"], port, 3, 1, 1)]
        zones = [dnssec.secure_zone("sec.test", sec),
                 dnssec.insecure_zone("insec.test", insec),
                 dnssec.bogus_zone("bog.test", bog),
                 dnssec.secure_zone("tb.test", tb, corrupt=["TLSA"])]
        cls.dns = cls.start_test_dns(zones)
        cls.mx = {}
        for domain, n in cls.octet.items():
            cert = certs[domain]
            cls.mx[domain] = cls.fake(NET + str(n), port, name="mx." + domain,
                                      starttls=cert is not None, cert=cert)
        cls.srv = cls.outbound_class_server(
            cls.dns.resolver(), port, tls="dane", trust_anchor=cls.dns.trust_anchor,
            domains=(("notlsa.sec.test", "dane-only"),
                     ("testing.insec.test", "encrypt testing")))
        cls.sender_n = 0

    @classmethod
    def next_sender(cls):
        cls.sender_n += 1
        return outbound.LOCAL_SENDERS[cls.sender_n % len(outbound.LOCAL_SENDERS)]

    def send(self, domain):
        tok = token()
        sender = self.next_sender()
        rcpt = "user-%s@%s" % (tok[:6], domain)
        qid = outbound.submit(self.srv, sender, [rcpt], make_message(tok, sender=sender, to=rcpt))
        return tok, qid, rcpt

    def delivered(self, domain, peer, policy="dane/dane", tls=True):
        tok, qid, rcpt = self.send(domain)
        f = self.mx[domain]
        [tx] = f.wait_message(tok, server=self.srv)
        ev = outbound.wait_delivered(self.srv, qid, rcpt)
        line = ev["_line"]
        self.assertEqual(outbound.relay_of(ev), ("mx." + domain, f.addr, self.port), line)
        self.assertEqual(ev.get("peer"), peer, line)
        self.assertEqual(ev.get("policy"), policy, line)
        if tls:
            self.assertIsNotNone(tx.tls, f.describe())
        else:
            self.assertIsNone(tx.tls, f.describe())
        self.check_fakes_healthy(f)
        return ev

    def deferred(self, domain, *phrases, connected=True):
        """Sends to DOMAIN, which must defer with PHRASES in the reason (the
        log's and the queue's), no MAIL sent; CONNECTED: whether the MX was
        reached at all."""
        tok, qid, rcpt = self.send(domain)
        ev = outbound.wait_deferred(self.srv, qid, rcpt)
        line = ev["_line"]
        f = self.mx[domain]
        self.assertFalse(f.saw("MAIL"), "MAIL was sent to %r:\n%s" % (f, f.describe()))
        self.assertEqual(bool(f.all_sessions()), connected, f.describe())
        blocks = outbound.queue_list(self.srv)
        self.assertIn(qid, blocks, blocks)
        m = re.search(r'last_error="([^"]*)"', blocks[qid])
        self.assertTrue(m, blocks[qid])
        for p in phrases:
            self.assertIn(p, ev.get("reason", ""), line)
            self.assertIn(p, m.group(1), blocks[qid])
        self.assertEqual(outbound.events_for(self.srv, "delivered", qid), [])
        self.check_fakes_healthy(f)
        return ev

    # -- the zones are what the tests think they are --
    def test_zones_validate_as_intended(self):
        self.assertEqual(self.dns.validate("mx.ee.sec.test", "A"), "secure")
        self.assertEqual(self.dns.validate("_%d._tcp.mx.ee.sec.test" % self.port, "TLSA"),
                         "secure")
        self.assertEqual(self.dns.validate("insec.test", "MX"), "insecure")
        self.assertEqual(self.dns.validate("bog.test", "MX"), "bogus")
        self.assertEqual(self.dns.validate("_%d._tcp.mx.tb.test" % self.port, "TLSA"), "bogus")
        self.assertEqual(self.dns.validate("mx.tb.test", "A"), "secure")

    # -- DANE authenticates --
    def test_dane_ee_match_delivers(self):
        ev = self.delivered("ee.sec.test", "dane")
        tls = self.srv.wait_event("mta-tls", domain="ee.sec.test")[-1]
        self.assertEqual(tls.get("peer"), "dane", tls["_line"])
        self.assertEqual(tls.get("policy"), "dane/dane", tls["_line"])
        self.assertEqual(tls.get("dane_match"), "3/1/1", tls["_line"])
        # the version and cipher the peer negotiated (both ends offer TLS 1.3)
        sess = self.mx["ee.sec.test"].all_sessions()[-1]
        self.assertEqual(sess.tls_version, "TLSv1.3")
        self.assertEqual(tls.get("tls"), "TLSv1.3/" + sess.cipher, tls["_line"])
        self.assertEqual(ev.get("tls"), "TLSv1.3/" + sess.cipher, ev["_line"])
        # SNI names the MX host (RFC 7672 8.1)
        self.assertEqual(sess.sni, "mx.ee.sec.test")

    def test_dane_ee_ignores_names_and_dates(self):
        self.delivered("eeodd.sec.test", "dane")

    def test_dane_ta_with_mx_name_delivers(self):
        self.delivered("ta.sec.test", "dane")
        tls = self.srv.wait_event("mta-tls", domain="ta.sec.test")[-1]
        self.assertEqual(tls.get("dane_match"), "2/0/1", tls["_line"])
        self.assertEqual(tls.get("depth"), "1", tls["_line"])

    def test_dane_ta_without_mx_name_defers(self):
        self.deferred("taname.sec.test", "4.7.5", "TLSA mismatch for mx.taname.sec.test",
                      "certificate name mismatch")

    def test_tlsa_mismatch_defers(self):
        ev = self.deferred("mismatch.sec.test", "4.7.5", "TLSA mismatch for mx.mismatch.sec.test")
        self.assertEqual(ev.get("policy"), "dane/dane", ev["_line"])
        # QUIT over TLS after the failed check, no transaction. The QUIT is
        # flushed by the dispatcher while the queue logs event=deferred: the
        # fake may not have read it yet.
        f = self.mx["mismatch.sec.test"]
        try:
            harness.wait_for(lambda: f.saw("QUIT"), what="QUIT at %r" % f)
        except AssertionError:
            raise AssertionError("no QUIT after the TLSA mismatch:\n" + f.describe())

    # -- what does not authenticate --
    def test_insecure_zone_is_may(self):
        # the unsigned TLSA record would not match: it is not even looked at
        self.delivered("insec.test", "unchecked", "dane/default")

    def test_bogus_zone_defers_without_connecting(self):
        self.deferred("bog.test", "DNSSEC validation failed for", connected=False)

    def test_bogus_tlsa_defers_without_connecting(self):
        self.deferred("tb.test", "4.7.5", "DNSSEC validation failed (bogus)",
                      "TLSA records of mx.tb.test", connected=False)

    def test_dane_only_without_tlsa_defers(self):
        ev = self.deferred("notlsa.sec.test", "4.7.5", "dane-only",
                           "no DNSSEC-secure TLSA records for mx.notlsa.sec.test",
                           connected=False)
        self.assertEqual(ev.get("policy"), "dane-only/local", ev["_line"])

    def test_unusable_tlsa_is_mandatory_tls_without_authentication(self):
        self.delivered("pkix.sec.test", "unchecked", "dane/dane")
        self.deferred("pkixplain.sec.test", "4.7.5", "no STARTTLS offered")

    def test_tlsa_at_the_port_used(self):
        # the only matching record is at _25._tcp: no DANE at this port
        self.delivered("port.sec.test", "unchecked", "dane/default")

    def test_testing_rule_delivers_and_logs(self):
        self.delivered("testing.insec.test", "none", policy="may/local", tls=False)
        [ev] = self.srv.wait_event("tls-testing", domain="testing.insec.test")
        self.assertIn("would have failed", ev["_line"])
        self.assertIn("no STARTTLS offered", ev["_line"])


class TrustAnchor(harness.unittest.TestCase):

    def test_unreadable_trust_anchor_stops_the_server(self):
        missing = os.path.join(harness.new_tmpdir("anchor-"), "no-such-anchor.ds")
        srv = harness.Server(extra_config=outbound.outbound_config(
            "127.0.0.1:9", 25, trust_anchor=missing), start=False)
        try:
            p = subprocess.run([harness.SEALMAIL_BIN, "serve", "-c", srv.conf, "-f"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=harness.TIMEOUT,
                               start_new_session=True, cwd=srv.dir)
        finally:
            srv.close()
        out = p.stdout.decode(errors="replace")
        self.assertNotEqual(p.returncode, 0, out)
        self.assertRegex(out, r"event=fatal reason=\"\[dns\] trust_anchor %s: No such file"
                         % re.escape(missing), out)


if __name__ == "__main__":
    harness.main()
