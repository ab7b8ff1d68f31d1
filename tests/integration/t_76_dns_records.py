#!/usr/bin/python3
"""`sealmail dns-records DOMAIN`: the zone records a configuration needs,
checked line by line for a configuration written here with certificates of
the harness's test CA. The TLSA data is compared with openssl's own
computation, the MTA-STS id with the SHA-256 of the policy printed, the
whole output is read by another zone parser (ldns-read-zone), and a domain
that is not local is refused."""

import hashlib
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402

HOST = harness.HOSTNAME  # mx.local.test
OTHER = harness.OTHER_TLS_NAME  # mail.other.test


def dns_records(*args):
    p = subprocess.run([harness.SEALMAIL_BIN, "dns-records"] + list(args),
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def openssl_spki_sha256(cert_path):
    """SHA-256 of the leaf's DER SubjectPublicKeyInfo, computed by openssl
    alone: x509 -pubkey | pkey -pubin -outform DER | dgst -sha256."""
    pub = harness.run(["openssl", "x509", "-in", cert_path, "-pubkey", "-noout"]).stdout
    der = harness.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub).stdout
    out = harness.run(["openssl", "dgst", "-sha256"], input=der).stdout.decode()
    return re.search(r"= ?([0-9a-f]{64})\s*$", out).group(1)


def write_config(directory, hostname, listeners, certs):
    """A configuration with HOSTNAME, LISTENERS [(name, address, protocol,
    tls)] and CERTS [(section name or "", Cert)]; returns its path."""
    out = ["[server]", "hostname = %s" % hostname,
           "data_dir = %s" % os.path.join(directory, "data"),
           "local_domains = local.test other.test",
           "users = %s" % os.path.join(directory, "users")]
    for name, c in certs:
        out += ["", "[tls %s]" % name if name else "[tls]",
                "certificate = %s" % c.cert, "key = %s" % c.key]
    for name, address, protocol, tls in listeners:
        out += ["", "[listen %s]" % name, "address = %s" % address,
                "protocol = %s" % protocol, "tls = %s" % tls]
    path = os.path.join(directory, "sealmail.conf")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return path


LISTENERS = [
    ("mx", "203.0.113.25:25", "smtp", "optional"),
    ("mx6", "[2001:db8::25]:25", "smtp", "optional"),
    ("local", "127.0.0.1:2525", "smtp", "optional"),          # loopback: no record
    ("submission", "203.0.113.25:587", "submission", "required"),
    ("submissions", "*:465", "submission", "implicit"),
    ("imaps", "*:993", "imap", "implicit"),
    ("pop3s", "203.0.113.25:1995", "pop3", "implicit"),        # the port as configured
    ("pop3-local", "127.0.0.1:110", "pop3", "required"),      # loopback: not offered
]


def expected_lines(conf, domain, host, spki_default, spki_other, default_cert_path, sts_id):
    return [
        "; DNS records for %s from %s (sealmail dns-records), in zone file syntax with "
        "absolute names" % (domain, conf),
        "; Records under %s belong in its own zone when it is not inside %s" % (host, domain),
        "; Mail for %s goes to %s (RFC 5321 5.1)" % (domain, host),
        "%s. IN MX 10 %s." % (domain, host),
        "; %s's IPv4 address, bound by [listen mx]" % host,
        "%s. IN A 203.0.113.25" % host,
        "; %s's IPv6 address, bound by [listen mx6]" % host,
        "%s. IN AAAA 2001:db8::25" % host,
        "; SPF (RFC 7208): only the MX hosts of %s send its mail; mail from anywhere else "
        "fails" % domain,
        '%s. IN TXT "v=spf1 mx -all"' % domain,
        "; SPF for the host name, which receivers check against our EHLO (RFC 7208 2.3)",
        '%s. IN TXT "v=spf1 a -all"' % host,
        "; DMARC (RFC 7489) starter: p=none only asks receivers for reports, to "
        "dmarc-reports@%s (make it a user or an alias); tighten to p=quarantine once they "
        "are clean" % domain,
        '_dmarc.%s. IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@%s"' % (domain, domain),
        "; MTA-STS (RFC 8461): senders that know it fetch the policy below and check that %s "
        "has TLS with a valid certificate; the id follows the policy's text" % host,
        '_mta-sts.%s. IN TXT "v=STSv1; id=%s"' % (domain, sts_id),
        "; The policy file, to serve at https://mta-sts.%s/.well-known/mta-sts.txt "
        "(mta-sts.%s needs an address and a certificate of its own):" % (domain, domain),
        ";   version: STSv1",
        ";   mode: testing",
        ";   mx: %s" % host,
        ";   max_age: 86400",
        "; mode testing only reports failures: once the TLS reports are clean, write mode: "
        "enforce and max_age: 604800 (the id then changes)",
        "; TLS-RPT (RFC 8460): senders mail daily reports of their TLS connections to "
        "tls-reports@%s (make it a user or an alias)" % domain,
        '_smtp._tls.%s. IN TXT "v=TLSRPTv1; rua=mailto:tls-reports@%s"' % (domain, domain),
        "; DANE (RFC 7672): the SHA-256 of the public key %s serves ([tls] %s); publish only "
        "in a DNSSEC-signed zone, and a new key's record before the key changes"
        % (host, default_cert_path),
        "_25._tcp.%s. IN TLSA 3 1 1 %s" % (host, spki_default),
        "; DANE for %s, which [tls %s] serves: publish it when %s is the MX host of a domain"
        % (OTHER, OTHER, OTHER),
        "_25._tcp.%s. IN TLSA 3 1 1 %s" % (OTHER, spki_other),
        "; Mail submission with STARTTLS (RFC 6186), [listen submission]",
        "_submission._tcp.%s. IN SRV 10 1 587 %s." % (domain, host),
        "; Mail submission over implicit TLS (RFC 8314), [listen submissions]",
        "_submissions._tcp.%s. IN SRV 0 1 465 %s." % (domain, host),
        '; IMAP with STARTTLS (RFC 6186): not offered here (RFC 6186 4: the target ".")',
        "_imap._tcp.%s. IN SRV 0 0 0 ." % domain,
        "; IMAP over implicit TLS (RFC 8314), [listen imaps]",
        "_imaps._tcp.%s. IN SRV 0 1 993 %s." % (domain, host),
        '; POP3 with STLS (RFC 6186): not offered here (RFC 6186 4: the target ".")',
        "_pop3._tcp.%s. IN SRV 0 0 0 ." % domain,
        "; POP3 over implicit TLS (RFC 8314), [listen pop3s]",
        "_pop3s._tcp.%s. IN SRV 0 1 1995 %s." % (domain, host),
        "; Clients that ignore SRV look for https://autoconfig.%s/mail/config-v1.1.xml "
        "(Thunderbird) or autodiscover.%s (Outlook); sealmail serves neither, a web server "
        "can" % (domain, domain),
    ]


def policy_id(lines):
    """The MTA-STS id of the policy block printed in LINES: SHA-256 of the
    policy file as it is served (CRLF lines, RFC 8461 3.2), first 32 hex
    digits."""
    body = [ln[4:] for ln in lines if ln.startswith(";   ")]
    text = "".join(b + "\r\n" for b in body)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class DnsRecords(harness.unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        harness.need_tool("openssl", "openssl")
        harness.need_tool("ldns-read-zone", "ldnsutils")
        cls.dir = harness.new_tmpdir("dns-")
        cls.default = harness.default_cert()
        cls.other = harness.other_cert()
        cls.conf = write_config(cls.dir, HOST, LISTENERS,
                                [("", cls.default), (OTHER, cls.other)])

    def test_records_line_by_line(self):
        rc, out, err = dns_records("local.test", "-c", self.conf)
        self.assertEqual((rc, err), (0, ""), out)
        got = out.split("\n")
        self.assertEqual(got[-1], "", "the output ends with a newline")
        got = got[:-1]
        want = expected_lines(self.conf, "local.test", HOST,
                              openssl_spki_sha256(self.default.cert),
                              openssl_spki_sha256(self.other.cert), self.default.cert,
                              policy_id(got))
        for i, (g, w) in enumerate(zip(got, want)):
            self.assertEqual(g, w, "line %d differs" % (i + 1))
        self.assertEqual(len(got), len(want), "\n".join(got[len(want):] or want[len(got):]))

    def test_domain_written_with_case_and_dot(self):
        rc1, out1, _ = dns_records("local.test", "-c", self.conf)
        rc2, out2, _ = dns_records("Local.TEST.", "-c", self.conf)
        self.assertEqual((rc1, rc2), (0, 0))
        self.assertEqual(out1, out2)

    def test_mta_sts_id(self):
        """Stable across runs for the same configuration, a function of the
        policy (another MX host name, another id), 1 to 32 letters and
        digits (RFC 8461 3.1)."""
        rx = re.compile(r'(?m)^_mta-sts\.local\.test\. IN TXT "v=STSv1; id=([A-Za-z0-9]{1,32})"$')
        ids = [rx.search(dns_records("local.test", "-c", self.conf)[1]).group(1)
               for _ in range(2)]
        self.assertEqual(ids[0], ids[1])
        d = harness.new_tmpdir("dns-other-")
        conf = write_config(d, "mx2.local.test", LISTENERS, [("", self.default)])
        rc, out, err = dns_records("local.test", "-c", conf)
        self.assertEqual(rc, 0, err)
        other_id = rx.search(out).group(1)
        self.assertNotEqual(other_id, ids[0])
        self.assertEqual(other_id, policy_id(out.split("\n")))

    def test_other_domain(self):
        rc, out, err = dns_records("other.test", "-c", self.conf)
        self.assertEqual(rc, 0, err)
        self.assertIn("other.test. IN MX 10 %s.\n" % HOST, out)
        self.assertIn("_submission._tcp.other.test. IN SRV 10 1 587 %s.\n" % HOST, out)
        self.assertNotIn("local.test. IN MX", out)

    def test_zone_parser_reads_every_record(self):
        """Another parser, ldns-read-zone, reads each record line as one
        record and finds the same owner, type and data."""
        rc, out, err = dns_records("local.test", "-c", self.conf)
        self.assertEqual(rc, 0, err)
        records = [ln for ln in out.split("\n") if ln and not ln.startswith(";")]
        zone = os.path.join(self.dir, "local.test.zone")
        with open(zone, "w") as f:
            f.write("$TTL 3600\nlocal.test. IN SOA ns.local.test. hostmaster.local.test. "
                    "1 3600 600 86400 300\n" + out)
        p = harness.run(["ldns-read-zone", zone])
        parsed = [ln.split("\t") for ln in p.stdout.decode().split("\n") if ln]
        parsed = [(r[0], r[3], r[4]) for r in parsed if r[3] != "SOA"]
        mine = []
        for ln in records:
            owner, klass, rtype, data = ln.split(" ", 3)
            self.assertEqual(klass, "IN", ln)
            mine.append((owner, rtype, data))
        self.assertEqual(sorted(parsed), sorted(mine))

    def test_addresses_unknown(self):
        """Only wildcard, loopback and link-local addresses: no A/AAAA, but
        a comment saying how to find them."""
        d = harness.new_tmpdir("dns-wild-")
        conf = write_config(d, HOST, [("mx", "*:25", "smtp", "optional"),
                                      ("mx6", "[::]:25", "smtp", "optional"),
                                      ("ll", "[fe80::1]:2525", "smtp", "optional"),
                                      ("lo", "127.0.0.1:587", "submission", "required")],
                            [("", self.default)])
        rc, out, err = dns_records("local.test", "-c", conf)
        self.assertEqual(rc, 0, err)
        self.assertNotRegex(out, r"(?m)^\S+ IN (A|AAAA) ")
        self.assertIn("; %s's address is not in the configuration (every listener binds a "
                      "wildcard or loopback address): publish %s. IN A (and AAAA) with this "
                      "machine's public addresses, which `ip -brief address` shows\n"
                      % (HOST, HOST), out)
        # the loopback submission listener is no service for other machines
        self.assertIn("_submission._tcp.local.test. IN SRV 0 0 0 .\n", out)
        self.assertNotIn("WARNING", out)

    def test_no_port_25(self):
        d = harness.new_tmpdir("dns-no25-")
        conf = write_config(d, HOST, [("mx", "203.0.113.25:2525", "smtp", "optional")],
                            [("", self.default)])
        rc, out, err = dns_records("local.test", "-c", conf)
        self.assertEqual(rc, 0, err)
        self.assertIn("; WARNING: no smtp listener on port 25, where other servers deliver\n"
                      "local.test. IN MX 10 %s.\n" % HOST, out)

    def test_not_local_domain_refused(self):
        rc, out, err = dns_records("example.org", "-c", self.conf)
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertEqual(err, "sealmail dns-records: example.org is not one of local_domains "
                              "in %s (local.test other.test)\n" % self.conf)

    def test_unreadable_certificate(self):
        """A certificate that does not read: said, exit 1, and no half zone."""
        d = harness.new_tmpdir("dns-badcert-")
        bad = os.path.join(d, "garbage.pem")
        with open(bad, "w") as f:
            f.write("not a certificate\n")
        cert = harness.Cert(bad, self.default.key, 0, "x", [])
        conf = write_config(d, HOST, LISTENERS, [("", cert)])
        rc, out, err = dns_records("local.test", "-c", conf)
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("sealmail dns-records: %s: " % bad, err)

    def test_usage(self):
        rc, out, err = dns_records("-c", self.conf)
        self.assertEqual((rc, out), (2, ""))
        self.assertIn("usage: sealmail dns-records DOMAIN [-c FILE]", err)
        rc, out, err = dns_records("a.test", "b.test", "-c", self.conf)
        self.assertEqual(rc, 2)
        rc, out, err = dns_records("--help")
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("usage: sealmail dns-records DOMAIN [-c FILE]", out)


if __name__ == "__main__":
    harness.main()
