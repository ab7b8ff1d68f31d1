#!/usr/bin/python3
"""The test peers of the TLS-policy tests themselves, no sealmail involved:

  * dnssec.py: zones signed at test time are served by unbound with their
    signatures, and both a validating unbound and libunbound itself set up
    like sealmail's (forwarder + one trust anchor per signed zone) see a
    signed zone as
    secure, an unsigned one as insecure (not bogus) and a zone with broken
    signatures as bogus, for exactly the RRsets broken. The TLSA helper's
    records match the certificate.
  * outbound.FakeMX's SMTPUTF8, CHUNKING (BDAT bytes recorded exactly),
    REQUIRETLS (after STARTTLS only), MAIL parameters and per-SNI
    certificates of each kind (good, wrong name, expired, self-signed,
    another CA).
  * sts_server.StsServer: the policy per domain behind an SNI-chosen
    certificate, the status, type, redirect, size and stall options, the
    fetch counts; on port 443 (as root) fetched with curl the way sealmail's
    libcurl does (the address given, not resolved).

Addresses of this file: 127.49.0.0/16."""

import base64
import hashlib
import http.client
import os
import shutil
import smtplib
import socket
import ssl
import struct
import subprocess
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import dnssec  # noqa: E402
import harness  # noqa: E402
import outbound  # noqa: E402
import sts_server  # noqa: E402

NET = "127.49.0."


def _wire(name):
    return outbound._encode_name(name.lower())


class TestZones(harness.ServerTestCase):

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
            dnssec.secure_zone("change.test", sts_server.sts_records("change.test", NET + "7", "1"),
                               ttl=1),
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
        # libunbound itself, set up as sealmail sets it up, agrees.
        lu = self.dns.libunbound_status(name, qtype)
        self.assertEqual(lu[0], expected, "%s %s from libunbound: %r" % (name, qtype, lu))
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

    def test_update_while_served(self):
        """A new MTA-STS id while the zone is served: same keys, same anchor,
        still secure."""
        with open(self.dns.trust_anchor) as f:
            anchor = f.read()
        self.assertStatus("_mta-sts.change.test", "TXT", "secure", ['"v=STSv1; id=1"'])
        self.dns.update("change.test", sts_server.sts_records("change.test", NET + "7", "2"))
        self.assertStatus("_mta-sts.change.test", "TXT", "secure", ['"v=STSv1; id=2"'])
        self.assertStatus("mta-sts.change.test", "A", "secure", [NET + "7"])
        with open(self.dns.trust_anchor) as f:
            self.assertEqual(f.read(), anchor)

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



class TestFakeMX(harness.ServerTestCase):

    def start_fake(self, **kw):
        f = outbound.FakeMX(NET + "10", 0, name="mx.peers.test", **kw)
        self.addCleanup(f.stop)
        return f

    def client(self, f):
        c = smtplib.SMTP(f.addr, f.port, timeout=harness.TIMEOUT)
        self.addCleanup(c.close)
        c.ehlo("client.test")
        return c

    def starttls(self, c, name="mx.peers.test"):
        """STARTTLS sending NAME as SNI and checking the certificate for it
        (smtplib would check the address it connected to)."""
        self.assertEqual(c.docmd("STARTTLS")[0], 220)
        c.sock = harness.client_context().wrap_socket(c.sock, server_hostname=name)
        c.file = None
        c.helo_resp = c.ehlo_resp = None
        c.esmtp_features = {}
        c.does_esmtp = False

    def test_defaults_unchanged(self):
        f = self.start_fake()
        c = self.client(f)
        for ext in ("smtputf8", "chunking", "requiretls"):
            self.assertFalse(c.has_extn(ext), ext)
        self.assertEqual(c.docmd("BDAT 3 LAST")[0], 500)

    def test_extensions_and_bdat(self):
        f = self.start_fake(smtputf8=True, chunking=True, requiretls=True)
        c = self.client(f)
        self.assertTrue(c.has_extn("smtputf8") and c.has_extn("chunking"))
        self.assertFalse(c.has_extn("requiretls"))  # RFC 8689 4.1: only after STARTTLS
        self.starttls(c)
        c.ehlo("client.test")
        self.assertTrue(c.has_extn("requiretls"))
        self.assertEqual(c.mail("j\u00f6rg@peers.test", ["SMTPUTF8", "REQUIRETLS",
                                                         "BODY=8BITMIME"])[0], 250)
        self.assertEqual(c.rcpt("r@peers.test")[0], 250)
        chunks = [b"Subject: x\r\n\r\n.line\r\n", b"bare\nlf\r.\r\n", b"end"]
        replies = []
        for i, chunk in enumerate(chunks):
            last = " LAST" if i == len(chunks) - 1 else ""
            c.send(b"BDAT %d%s\r\n" % (len(chunk), last.encode()) + chunk)
            replies.append(c.getreply()[0])
        self.assertEqual(replies, [250, 250, 250])
        c.quit()
        tx = f.wait_message(b"bare\nlf")[0]
        self.assertTrue(tx.bdat)
        self.assertEqual(tx.bdat_chunks, chunks)
        self.assertEqual(tx.data, b"".join(chunks))
        self.assertEqual(tx.mail_params, {"SMTPUTF8": None, "REQUIRETLS": None,
                                          "BODY": "8BITMIME"})
        self.assertEqual(tx.sender, "j\u00f6rg@peers.test")
        self.assertIsNotNone(tx.tls)
        self.assertEqual(f.errors, [])

    def test_requiretls_always(self):
        f = self.start_fake(requiretls="always")
        self.assertTrue(self.client(f).has_extn("requiretls"))

    def test_certificate_kinds(self):
        names = {k: "%s.peers.test" % k for k in outbound.CERT_KINDS}
        certs = {n: outbound.peer_cert(k, [n]) for k, n in names.items()}
        f = self.start_fake(certs=certs)
        outcome = {}
        for kind, name in names.items():
            c = self.client(f)
            try:
                self.starttls(c, name)
                outcome[kind] = "verified"
            except ssl.SSLCertVerificationError as e:
                outcome[kind] = e.verify_message
            except (ssl.SSLError, OSError) as e:
                outcome[kind] = repr(e)
            # The server's side of the handshake may finish after ours.
            harness.wait_for(lambda: [s for s in f.all_sessions() if s.sni == name
                                      and (s.tls_version or s.tls_error)],
                             what="the fake's session with SNI %s:\n%s" % (name, f.describe()))
        self.assertEqual(outcome["good"], "verified")
        self.assertIn("Hostname mismatch", outcome["wrong-name"])
        self.assertIn("expired", outcome["expired"])
        self.assertIn("self-signed", outcome["self-signed"])
        self.assertIn("local issuer", outcome["other-ca"])
        # A name not in CERTS: the default certificate.
        c = self.client(f)
        self.starttls(c, "mx.peers.test")
        harness.wait_for(lambda: f.all_sessions()[-1].tls_version, what="the handshake")
        self.assertEqual(f.all_sessions()[-1].sni, "mx.peers.test")


class TestStsServer(harness.ServerTestCase):

    def fetch(self, srv, domain, path=sts_server.POLICY_PATH, verify=True):
        name = "mta-sts." + domain
        ctx = harness.client_context(verify=verify)
        raw = socket.create_connection((srv.addr, srv.port), timeout=harness.TIMEOUT)
        tls = ctx.wrap_socket(raw, server_hostname=name)
        conn = http.client.HTTPSConnection(name, srv.port, timeout=harness.TIMEOUT)
        conn.sock = tls
        self.addCleanup(conn.close)
        conn.request("GET", path)
        return conn.getresponse()

    def start(self, addr=NET + "20", port=0):
        srv = sts_server.StsServer(addr, port)
        self.addCleanup(srv.stop)
        return srv

    def test_policies_per_domain(self):
        srv = self.start()
        srv.set_policy("a.test", mx=["mx1.a.test", "*.a.test"], max_age=604800)
        srv.set_policy("b.test", mode="testing")
        r = self.fetch(srv, "a.test")
        self.assertEqual((r.status, r.getheader("Content-Type")), (200, "text/plain"))
        self.assertEqual(r.read(), b"version: STSv1\r\nmode: enforce\r\nmx: mx1.a.test\r\n"
                         b"mx: *.a.test\r\nmax_age: 604800\r\n")
        self.assertIn(b"mode: testing\r\nmx: mx.b.test\r\n", self.fetch(srv, "b.test").read())
        self.assertIn(b"mode: enforce", self.fetch(srv, "a.test").read())
        self.assertEqual((srv.fetches("a.test"), srv.fetches("b.test")), (2, 1))
        self.assertEqual(self.fetch(srv, "a.test", path="/other").status, 404)
        self.assertEqual(srv.fetches("a.test"), 2)
        self.assertEqual(self.fetch(srv, "c.test", verify=False).status, 404)
        srv.reset_counts()
        self.assertEqual(srv.fetches("a.test"), 0)

    def test_sni_certificate(self):
        srv = self.start()
        srv.set_policy("a.test")
        srv.set_policy("bad.test", cert="wrong-name")
        srv.set_policy("old.test", cert="expired")
        self.fetch(srv, "a.test").read()
        for domain, why in (("bad.test", "Hostname mismatch"), ("old.test", "expired")):
            with self.assertRaises(ssl.SSLCertVerificationError) as e:
                self.fetch(srv, domain)
            self.assertIn(why, e.exception.verify_message)
        # No SNI: the default certificate, not a.test's.
        raw = socket.create_connection((srv.addr, srv.port), timeout=harness.TIMEOUT)
        with harness.client_context(verify=False).wrap_socket(raw) as tls:
            self.assertEqual(harness.peer_cert_info(tls)[1], "mta-sts.invalid")

    def test_response_options(self):
        srv = self.start()
        srv.set_policy("r.test", status=301, location="https://mta-sts.r.test/moved")
        srv.set_policy("t.test", content_type="text/html")
        srv.set_policy("e.test", status=500)
        srv.oversized("big.test")
        r = self.fetch(srv, "r.test")
        self.assertEqual((r.status, r.getheader("Location")),
                         (301, "https://mta-sts.r.test/moved"))
        self.assertEqual(self.fetch(srv, "t.test").getheader("Content-Type"), "text/html")
        self.assertEqual(self.fetch(srv, "e.test").status, 500)
        body = self.fetch(srv, "big.test").read()
        self.assertEqual(len(body), sts_server.MAX_POLICY + 1)
        self.assertTrue(body.startswith(b"version: STSv1\r\n") and body.endswith(b"a\r\n"))

    def test_stall_and_slow(self):
        srv = self.start()
        srv.set_policy("stall.test", stall=10)
        srv.set_policy("slow.test", chunk=7, chunk_delay=0.01)
        self.assertIn(b"max_age: 86400", self.fetch(srv, "slow.test").read())
        r = self.fetch(srv, "stall.test")
        got = r.read(10)
        self.assertEqual(got, b"version: S")
        done = []
        t = threading.Thread(target=lambda: done.append(r.read()), daemon=True)
        t.start()
        t.join(0.2)
        self.assertEqual(done, [])  # still held
        srv.release()
        t.join(harness.TIMEOUT)
        self.assertEqual(done, [b"TSv1\r\nmode: enforce\r\nmx: mx.stall.test\r\n"
                                b"max_age: 86400\r\n"])

    def test_port_443_with_curl(self):
        """As root (CI): on 443 at a 127.x address, fetched the way
        sealmail's libcurl is told to (the address given, SNI and Host the
        policy host, the test CA)."""
        if os.geteuid() != 0:
            sts_server.need_https_port()
        curl = harness.need_tool("curl", "curl")
        srv = self.start(NET + "21", sts_server.HTTPS_PORT)
        srv.set_policy("c.test")
        p = subprocess.run([curl, "-sS", "--fail", "--max-redirs", "0", "--resolve",
                            "mta-sts.c.test:443:%s" % srv.addr, "--cacert", srv.ca_file,
                            "https://mta-sts.c.test/.well-known/mta-sts.txt"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"mx: mx.c.test\r\n", p.stdout)
        self.assertEqual(srv.fetches("c.test"), 1)
        self.assertEqual(srv.requests("c.test")[0].sni, "mta-sts.c.test")
        self.assertTrue(shutil.which("curl"))

    def test_records(self):
        self.assertEqual(sts_server.sts_records("d.test", NET + "22", "2026120101",
                                                rua="mailto:r@d.test"),
                         [("_mta-sts.d.test", "TXT", '"v=STSv1; id=2026120101"'),
                          ("mta-sts.d.test", "A", NET + "22"),
                          ("_smtp._tls.d.test", "TXT", '"v=TLSRPTv1; rua=mailto:r@d.test"')])
        # Served as they are by the plain (local-data) unbound too.
        u = outbound.Unbound(sts_server.sts_records("d.test", NET + "22", "7", rua="mailto:r@d.test"))
        self.addCleanup(u.stop)
        q = lambda n, t: dnssec.query("127.0.0.1", u.port, n, t)  # noqa: E731
        self.assertEqual(q("_mta-sts.d.test", "TXT").data("TXT"), ['"v=STSv1; id=7"'])
        self.assertEqual(q("_smtp._tls.d.test", "TXT").data("TXT"),
                         ['"v=TLSRPTv1; rua=mailto:r@d.test"'])
        self.assertEqual(q("mta-sts.d.test", "A").data("A"), [NET + "22"])


if __name__ == "__main__":
    harness.main()
