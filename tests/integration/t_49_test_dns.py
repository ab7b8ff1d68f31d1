#!/usr/bin/python3
"""The DNSSEC test peers themselves (dnssec.py): zones signed at test time
are served by unbound with their signatures, and a validating unbound set up
like sealmail's libunbound (forwarder + one trust anchor per signed zone)
sees a signed zone as secure, an unsigned one as insecure (not bogus) and a
zone with broken signatures as bogus, for exactly the RRsets broken. The
TLSA helper's records match the certificate. No sealmail involved.

Addresses of this file: 127.49.0.0/16 (in records only; nothing listens)."""

import base64
import hashlib
import os
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import dnssec  # noqa: E402
import harness  # noqa: E402
import outbound  # noqa: E402

NET = "127.49.0."


def _wire(name):
    return outbound._encode_name(name.lower())


class TestDNS(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.cert = harness.issue_cert(["mx.secure.test"])
        cls.tlsa = dnssec.tlsa_rr("mx.secure.test", cls.cert)
        cls.zones = [
            dnssec.secure_zone("secure.test", [
                ("@", "MX", "10 mx.secure.test."),
                ("mx", "A", NET + "1"),
                ("mx", "AAAA", "::1"),
                cls.tlsa,
                ("_mta-sts", "TXT", '"v=STSv1; id=20261201"'),
                ("_smtp._tls", "TXT", '"v=TLSRPTv1; rua=mailto:rpt@secure.test"'),
                ("alias", "CNAME", "mx.secure.test."),
            ]),
            dnssec.insecure_zone("insecure.test", [
                ("@", "MX", "10 mx.insecure.test."),
                ("mx", "A", NET + "2"),
                ("_25._tcp.mx", "TLSA", "3 1 1 " + "aa" * 32),
            ]),
            dnssec.bogus_zone("bogus.test", [
                ("@", "MX", "10 mx.bogus.test."),
                ("mx", "A", NET + "3"),
                ("_25._tcp.mx", "TLSA", "3 1 1 " + "bb" * 32),
            ]),
            # Signed and sound but for its TLSA: MX and A secure, TLSA bogus.
            dnssec.secure_zone("badtlsa.test", [
                ("@", "MX", "10 mx.badtlsa.test."),
                ("mx", "A", NET + "4"),
                ("_25._tcp.mx", "TLSA", "3 1 1 " + "cc" * 32),
            ], corrupt=["TLSA"]),
            dnssec.secure_zone("split.test", [
                ("@", "MX", "10 mx.split.test."),
                ("mx", "A", NET + "5"),
            ], split_keys=True, nsec3=True),
            dnssec.secure_zone("expired.test", [
                ("@", "MX", "10 mx.expired.test."),
            ], expired=True),
        ]
        cls.dns = dnssec.TestDNS(cls.zones, records=[("plain.test", "MX", "10 mx.plain.test."),
                                                     ("mx.plain.test", "A", NET + "6")])
        cls.addClassCleanup(cls.dns.stop)

    def status(self, name, qtype):
        r = self.dns.validating_query(name, qtype)
        return r.status(), r

    def assertStatus(self, name, qtype, expected, data=None):
        got, r = self.status(name, qtype)
        self.assertEqual(got, expected, "%s %s: %r\nvalidator log:\n%s"
                         % (name, qtype, r, self.dns.validator.log()))
        if data is not None:
            self.assertEqual(r.data(qtype), data, "%s %s: %r" % (name, qtype, r))
        return r

    def test_secure_zone(self):
        self.assertStatus("secure.test", "MX", "secure", ["10 mx.secure.test."])
        self.assertStatus("mx.secure.test", "A", "secure", [NET + "1"])
        self.assertStatus("mx.secure.test", "AAAA", "secure", ["::1"])
        self.assertStatus("_25._tcp.mx.secure.test", "TLSA", "secure", [self.tlsa[2]])
        self.assertStatus("_mta-sts.secure.test", "TXT", "secure", ['"v=STSv1; id=20261201"'])
        self.assertStatus("_smtp._tls.secure.test", "TXT", "secure",
                          ['"v=TLSRPTv1; rua=mailto:rpt@secure.test"'])
        r = self.assertStatus("alias.secure.test", "A", "secure", [NET + "1"])
        self.assertEqual(r.data("CNAME"), ["mx.secure.test."])

    def test_secure_denial(self):
        # No TLSA for another port, no such name: proven absent, securely.
        r = self.assertStatus("_465._tcp.mx.secure.test", "TLSA", "secure", [])
        self.assertEqual(r.rcode_name, "NXDOMAIN")
        r = self.assertStatus("mx.secure.test", "TLSA", "secure", [])
        self.assertEqual(r.rcode_name, "NOERROR")

    def test_insecure_zone(self):
        self.assertStatus("insecure.test", "MX", "insecure", ["10 mx.insecure.test."])
        self.assertStatus("mx.insecure.test", "A", "insecure", [NET + "2"])
        self.assertStatus("_25._tcp.mx.insecure.test", "TLSA", "insecure", ["3 1 1 " + "aa" * 32])
        self.assertStatus("plain.test", "MX", "insecure", ["10 mx.plain.test."])
        r = self.assertStatus("nothing.test", "A", "insecure", [])
        self.assertEqual(r.rcode_name, "NXDOMAIN")

    def test_bogus_zone(self):
        for name, qtype in (("bogus.test", "MX"), ("mx.bogus.test", "A"),
                            ("_25._tcp.mx.bogus.test", "TLSA")):
            self.assertStatus(name, qtype, "bogus", [])
        self.assertIn(("bogus.test.", "MX"), self.dns.zone("bogus.test").broken)

    def test_only_tlsa_bogus(self):
        self.assertStatus("badtlsa.test", "MX", "secure", ["10 mx.badtlsa.test."])
        self.assertStatus("mx.badtlsa.test", "A", "secure", [NET + "4"])
        self.assertStatus("_25._tcp.mx.badtlsa.test", "TLSA", "bogus", [])
        self.assertEqual(self.dns.zone("badtlsa.test").broken,
                         [("_25._tcp.mx.badtlsa.test.", "TLSA")])

    def test_split_keys_nsec3(self):
        self.assertStatus("split.test", "MX", "secure", ["10 mx.split.test."])
        self.assertStatus("mx.split.test", "A", "secure", [NET + "5"])
        r = self.assertStatus("_25._tcp.mx.split.test", "TLSA", "secure", [])
        self.assertIn("NSEC3", [x.type for x in r.authority], r)
        keys = self.dns.query_dnssec("split.test", "DNSKEY").data("DNSKEY")
        self.assertEqual(sorted(k.split()[0] for k in keys), ["256", "257"], keys)

    def test_expired_signatures(self):
        self.assertStatus("expired.test", "MX", "bogus", [])

    def test_served_with_signatures(self):
        """The authoritative server answers DO queries with RRSIGs (what a
        forwarding libunbound needs), and signs nothing in the unsigned zone."""
        r = self.dns.query_dnssec("secure.test", "MX")
        self.assertTrue(r.aa, r)
        self.assertEqual(r.data("MX"), ["10 mx.secure.test."])
        sigs = r.rrsigs("MX")
        self.assertEqual(len(sigs), 1, r)
        f = sigs[0].data.split()
        self.assertEqual((f[1], f[7]), ("13", "secure.test."), sigs[0])  # ECDSAP256SHA256
        r = self.dns.query_dnssec("insecure.test", "MX")
        self.assertEqual(r.data("MX"), ["10 mx.insecure.test."])
        self.assertEqual(r.rrsigs(), [], r)
        # The plain DNS client of outbound.py still reads them.
        rcode, answers = self.dns.query("secure.test", "MX")
        self.assertEqual((rcode, answers), (0, [("MX", "10 mx.secure.test.")]))

    def test_trust_anchor_file(self):
        """One DS per signed zone, in zone-file syntax; each is the digest of
        the KSK the zone serves (RFC 4034 5.1.4)."""
        with open(self.dns.trust_anchor) as f:
            lines = [ln.split() for ln in f.read().splitlines() if ln.strip()]
        signed = sorted(z.name for z in self.zones if z.signed)
        self.assertEqual(sorted(ln[0] for ln in lines), signed)
        for owner, ttl, cls_, rtype, tag, alg, dtype, digest in lines:
            self.assertEqual((cls_, rtype, alg, dtype), ("IN", "DS", "13", "2"))
            self.assertTrue(ttl.isdigit())
            keys = self.dns.query_dnssec(owner, "DNSKEY").data("DNSKEY")
            ksk = [k.split() for k in keys if k.split()[0] == "257"]
            self.assertEqual(len(ksk), 1, keys)
            fl, proto, kalg, pub = ksk[0]
            rdata = struct.pack(">HBB", int(fl), int(proto), int(kalg)) + base64.b64decode(pub)
            self.assertEqual(hashlib.sha256(_wire(owner) + rdata).hexdigest(), digest, owner)

    def test_anchor_makes_it_secure(self):
        """With only bogus.test's anchor, secure.test is insecure; a DNSKEY
        anchor file works like the DS one."""
        only = os.path.join(harness.new_tmpdir("anchor-"), "only-bogus.txt")
        dnssec.write_trust_anchor([self.dns.zone("bogus.test")], only)
        v = dnssec.ValidatingUnbound(self.dns.port, only)
        self.addCleanup(v.stop)
        self.assertEqual(v.query("secure.test", "MX").status(), "insecure")
        self.assertEqual(v.query("bogus.test", "MX").status(), "bogus")
        keys = os.path.join(harness.new_tmpdir("anchor-"), "dnskey.txt")
        dnssec.write_trust_anchor(self.zones, keys, form="dnskey")
        with open(keys) as f:
            self.assertIn(" IN DNSKEY 257 3 13 ", f.read())
        v2 = dnssec.ValidatingUnbound(self.dns.port, keys)
        self.addCleanup(v2.stop)
        self.assertEqual(v2.query("secure.test", "MX").status(), "secure")
        self.assertEqual(v2.query("bogus.test", "MX").status(), "bogus")

    def test_tlsa_helper(self):
        der = dnssec.cert_der(self.cert)
        spki = dnssec.spki_der(self.cert)
        self.assertIn(spki, der)  # the SubjectPublicKeyInfo is inside the certificate
        self.assertEqual(spki[0], 0x30)
        cases = {(3, 1, 1): hashlib.sha256(spki).hexdigest(),
                 (3, 0, 1): hashlib.sha256(der).hexdigest(),
                 (3, 1, 2): hashlib.sha512(spki).hexdigest(),
                 (3, 0, 0): der.hex(),
                 (3, 1, 0): spki.hex()}
        for (u, s, m), hexdata in cases.items():
            self.assertEqual(dnssec.tlsa_data(self.cert, u, s, m), "%d %d %d %s" % (u, s, m, hexdata))
        # Usage 2 names the CA; a chain file's first certificate is the leaf.
        ca_der = dnssec.cert_der(harness.ca().cert)
        self.assertEqual(dnssec.tlsa_data(harness.ca().cert, 2, 0, 1),
                         "2 0 1 " + hashlib.sha256(ca_der).hexdigest())
        chain = harness.issue_cert(["mx.chain.test"], include_ca=True)
        self.assertNotEqual(dnssec.cert_der(chain), ca_der)
        self.assertEqual(dnssec.tlsa_rr("mx.a.test", self.cert, port=587)[:2],
                         ("_587._tcp.mx.a.test.", "TLSA"))

    def test_missing_tool_names_package(self):
        saved = os.environ.get("PATH", "")
        os.environ["PATH"] = harness.new_tmpdir("nopath-")
        try:
            with self.assertRaises(AssertionError) as e:
                dnssec.secure_zone("x.test", [("@", "A", NET + "9")]).make()
        finally:
            os.environ["PATH"] = saved
        self.assertIn("ldnsutils", str(e.exception))

    def test_zone_spec_errors(self):
        with self.assertRaises(ValueError):
            dnssec.Zone("a.test", kind="signed")
        with self.assertRaises(ValueError):
            dnssec.insecure_zone("a.test", [("@", "MX", "0 .")], corrupt=["MX"])
        with self.assertRaises(ValueError):
            dnssec.secure_zone("a.test", [("mx.b.test.", "A", NET + "9")])
        with self.assertRaises(AssertionError):  # nothing to corrupt: not silently sound
            dnssec.secure_zone("a.test", [("@", "A", NET + "9")], corrupt=["TLSA"]).make()


if __name__ == "__main__":
    harness.main()
