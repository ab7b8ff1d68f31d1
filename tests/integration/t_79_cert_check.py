#!/usr/bin/python3
"""Certificates, as `sealmail config check` and the server's log see them.

`config check` reads and matches certificates and keys with the code serve
uses (src/lib/tls.c) and then looks at them (src/lib/cert_info.c):

  * a certificate file holding garbage: an error naming the config file,
    the line of its section, the key and the certificate file; exit 1
    (and serve refuses it with the same words);
  * a key that is not the certificate's: an error naming both files;
  * a leaf without the CA that issued it: a warning on stderr saying what
    clients then fail with ("unable to verify the first certificate"),
    exit 0;
  * a certificate made for 29 days (openssl -days 29, at test time): a
    warning "expires in 29 days"; one made for 31 days: none;
  * a [tls] certificate that does not name [server] hostname, or a
    [tls NAME] one that does not name NAME: a warning, exit 0;
  * an expired certificate: an error; an expired certificate in a
    listener's client_ca: an error naming [listen NAME] client_ca; a
    client_ca holding no certificate: an error;
  * a full chain (leaf and CA): "ok" on stdout, a line naming its subject,
    issuer, chain length and expiry, and nothing on stderr; no [tls] and
    no listener with TLS: "ok" alone.

The server's log: at start-up one event=certificate-loaded per
certificate with file, subject, issuer, chain and not_after (compared with
openssl's own reading of the file), a certificate-warning for a lone leaf
or a near expiry; after a reload whose certificate does not load,
certificate-kept, certificate-unchanged naming the old certificate, and a
reloaded line at level warning with certificates_kept=1, and no line that
reads like a load (no certificate-loaded for it, no plain reloaded).
"""

import datetime
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402


class LongCA(harness.TestCA):
    """A test CA valid for ten years: the harness's lives 3 days, and its
    expiry is a warning of its own."""

    def __init__(self):
        self.dir = harness.new_tmpdir("ca-")
        self.key = os.path.join(self.dir, "ca.key")
        self.cert = os.path.join(self.dir, "ca.pem")
        self._serial = int.from_bytes(os.urandom(4), "big") << 16
        harness.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                     "ec_paramgen_curve:P-256", "-out", self.key])
        harness.run(["openssl", "req", "-x509", "-new", "-key", self.key, "-sha256",
                     "-subj", "/O=sealmail tests/CN=long test CA %s" % harness.token(),
                     "-days", "3650", "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", self.cert])


_long_ca = []


def long_ca():
    if not _long_ca:
        _long_ca.append(LongCA())
    return _long_ca[0]


def issue_days(days, include_ca=True):
    """A server certificate for HOSTNAME from the long-lived test CA valid
    for DAYS days from now (openssl x509 -days), with the CA appended when
    INCLUDE_CA."""
    ca = long_ca()
    d = harness.new_tmpdir("days-")
    key, csr, ext, pem = (os.path.join(d, n) for n in ("k.pem", "r.csr", "x.ext", "c.pem"))
    harness.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-out", key])
    harness.run(["openssl", "req", "-new", "-key", key, "-subj",
                 "/O=sealmail tests/CN=%s %d days" % (harness.HOSTNAME, days), "-out", csr])
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n"
                "subjectAltName=DNS:%s,IP:127.0.0.1\n" % harness.HOSTNAME)
    serial = ca.next_serial()
    harness.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key,
                 "-set_serial", str(serial), "-sha256", "-days", str(days), "-extfile", ext,
                 "-out", pem])
    if include_ca:
        with open(ca.cert) as src, open(pem, "a") as dst:
            dst.write(src.read())
    os.chmod(key, 0o644)
    return harness.Cert(pem, key, serial, "%s %d days" % (harness.HOSTNAME, days),
                        [harness.HOSTNAME])


def openssl_leaf(path):
    """(subject, issuer, notAfter as 2026-01-01T00:00:00Z) of the first
    certificate of PATH, read by the openssl command line."""
    out = harness.run(["openssl", "x509", "-in", path, "-noout", "-subject", "-issuer",
                       "-enddate", "-nameopt", "compat"]).stdout
    out = out.decode() if isinstance(out, bytes) else out
    f = dict(line.split("=", 1) for line in out.splitlines())
    end = datetime.datetime.strptime(f["notAfter"].replace("  ", " "), "%b %d %H:%M:%S %Y GMT")
    return f["subject"], f["issuer"], end.strftime("%Y-%m-%dT%H:%M:%SZ")


def full_chain():
    return issue_days(365)


def leaf_only():
    return issue_days(365, include_ca=False)


class ConfigCheck(harness.unittest.TestCase):

    def server(self, cert, **kw):
        """A configuration (not started) with CERT as its only certificate."""
        kw.setdefault("sni_certs", {})
        return harness.Server(cert=cert, start=False, **kw)

    def check(self, srv):
        p = subprocess.run([harness.SEALMAIL_BIN, "config", "check", "-c", srv.conf],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    def where(self, srv):
        """FILE:LINE: [tls] certificate: CERTFILE: , as errors start."""
        return "%s:%d: [tls] certificate: %s: " % (srv.conf, srv.config_line(r"^\[tls\]$"),
                                                    srv.cert_path)

    def test_full_chain_is_ok_without_warning(self):
        srv = self.server(full_chain())
        rc, out, err = self.check(srv)
        self.assertEqual((rc, err), (0, ""), out)
        self.assertIn("%s: ok\n" % srv.conf, out)
        subject, issuer, not_after = openssl_leaf(srv.cert_path)
        self.assertIn("[tls] %s: subject %s, issuer %s, 2 in the chain, expires %s\n"
                      % (srv.cert_path, subject, issuer, not_after), out)

    def test_garbage_certificate(self):
        srv = self.server(full_chain())
        with open(srv.cert_path, "w") as f:
            f.write("this is not a certificate\n")
        rc, out, err = self.check(srv)
        self.assertEqual(rc, 1, out + err)
        self.assertEqual(err, self.where(srv) + "no certificate found in the PEM file\n")
        self.assertNotIn("ok", out)
        # serve says the same and does not start
        p = subprocess.run([harness.SEALMAIL_BIN, "serve", "-f", "-c", srv.conf],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn(srv.cert_path + ": no certificate found in the PEM file", p.stderr.decode())

    def test_key_of_another_certificate(self):
        srv = self.server(full_chain())
        other = full_chain()
        with open(other.key) as src, open(srv.key_path, "w") as dst:
            dst.write(src.read())
        rc, out, err = self.check(srv)
        self.assertEqual(rc, 1, out + err)
        self.assertEqual(err, self.where(srv) + "the private key in %s does not match the "
                         "certificate\n" % srv.key_path)

    def test_leaf_only_warns(self):
        srv = self.server(leaf_only())
        rc, out, err = self.check(srv)
        self.assertEqual(rc, 0, err)
        self.assertIn("%s: ok\n" % srv.conf, out)
        self.assertRegex(err, r"^%swarning: the file holds only the leaf certificate .*CN=%s 365 days, "
                         r"issued by .*long test CA.*'unable to verify the first "
                         r"certificate'" % (re.escape(self.where(srv)),
                                            re.escape(harness.HOSTNAME)))
        self.assertEqual(len(err.splitlines()), 1, err)

    def test_certificate_for_another_name_warns(self):
        # [server] hostname is not a name of the [tls] certificate: serve
        # runs, clients that check the MX name refuse it
        srv = self.server(full_chain(), server_options={"hostname": "mx.elsewhere.test"})
        srv.config_text = srv.config_text.replace("hostname = %s\n" % harness.HOSTNAME, "", 1)
        with open(srv.conf, "w") as f:
            f.write(srv.config_text)
        rc, out, err = self.check(srv)
        self.assertEqual(rc, 0, err)
        self.assertIn("%s: ok\n" % srv.conf, out)
        self.assertEqual(err, self.where(srv) + "warning: the certificate does not name "
                         "mx.elsewhere.test ([server] hostname): clients and MTA-STS senders "
                         "that check the name will refuse it\n")

    def test_sni_certificate_for_another_name_warns(self):
        srv = self.server(full_chain(), sni_certs={"mail.other.test": full_chain()})
        rc, out, err = self.check(srv)
        self.assertEqual(rc, 0, err)
        line = srv.config_line(r"^\[tls mail\.other\.test\]$")
        self.assertEqual(err, "%s:%d: [tls mail.other.test] certificate: %s: warning: the "
                         "certificate does not name mail.other.test (the name of its "
                         "section): clients and MTA-STS senders that check the name will "
                         "refuse it\n" % (srv.conf, line, srv.sni["mail.other.test"][0]))

    def test_expires_within_30_days_warns(self):
        srv = self.server(issue_days(29))
        rc, out, err = self.check(srv)
        self.assertEqual(rc, 0, err)
        self.assertIn("%s: ok\n" % srv.conf, out)
        not_after = openssl_leaf(srv.cert_path)[2]
        self.assertRegex(err, r"^%swarning: certificate .*CN=%s 29 days expires in 29 days, "
                         r"on %s; renew it\n$" % (re.escape(self.where(srv)),
                                                  re.escape(harness.HOSTNAME), not_after))

    def test_31_days_is_quiet(self):
        rc, out, err = self.check(self.server(issue_days(31)))
        self.assertEqual((rc, err), (0, ""), out)

    def test_expired_is_an_error(self):
        srv = self.server(long_ca().issue([harness.HOSTNAME], expired=True, include_ca=True))
        rc, out, err = self.check(srv)
        self.assertEqual(rc, 1, out + err)
        self.assertRegex(err, r"^%scertificate .* expired on %s\n$"
                         % (re.escape(self.where(srv)), openssl_leaf(srv.cert_path)[2]))

    def test_no_tls_at_all_is_ok(self):
        srv = self.server(full_chain(), listeners={"mx": "none"})
        text = re.sub(r"(?ms)^\[tls\]\n.*?\n\n", "", srv.config_text)
        self.assertNotIn("[tls]", text)
        with open(srv.conf, "w") as f:
            f.write(text)
        rc, out, err = self.check(srv)
        self.assertEqual((rc, out, err), (0, "%s: ok\n" % srv.conf, ""))

    def client_ca_server(self, ca_file):
        return self.server(full_chain(), listeners={
            "mx": "optional",
            "certs": {"protocol": "submission", "tls": "implicit", "auth": "certificate",
                      "client_ca": ca_file}})

    def test_client_ca_expired(self):
        expired = long_ca().issue_client(email="a@local.test", expired=True)
        srv = self.client_ca_server(expired.cert)
        rc, out, err = self.check(srv)
        self.assertEqual(rc, 1, out + err)
        self.assertRegex(err, r"^%s:%d: \[listen certs\] client_ca: %s: certificate .* expired "
                         r"on " % (re.escape(srv.conf), srv.config_line(r"^\[listen certs\]$"),
                                   re.escape(expired.cert)))

    def test_client_ca_garbage(self):
        d = harness.new_tmpdir("ca-")
        path = os.path.join(d, "garbage.pem")
        with open(path, "w") as f:
            f.write("garbage\n")
        srv = self.client_ca_server(path)
        rc, out, err = self.check(srv)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("[listen certs] client_ca: %s: holds no certificate\n" % path, err)

    def test_client_ca_good(self):
        srv = self.client_ca_server(long_ca().cert)
        rc, out, err = self.check(srv)
        self.assertEqual((rc, err), (0, ""), out)


class StartupLog(harness.ServerTestCase):

    def started(self, **kw):
        """A server, once it logged event=started (after its certificates)."""
        srv = self.server_for(**kw)
        srv.wait_event("started")
        return srv

    def loaded(self, srv, since=0):
        return [e for e in srv.events("certificate-loaded", since) if e.get("name") == "default"]

    def test_full_chain_logged(self):
        srv = self.started(cert=full_chain(), sni_certs={})
        events = self.loaded(srv)
        self.assertEqual(len(events), 1, srv.log_tail())
        e = events[0]
        subject, issuer, not_after = openssl_leaf(srv.cert_path)
        self.assertEqual((e["file"], e["subject"], e["issuer"], e["chain"], e["not_after"]),
                         (srv.cert_path, subject, issuer, "2", not_after), e["_line"])
        self.assertIn("level=info", e["_line"])
        self.assertEqual(srv.events("certificate-warning"), [], srv.log_tail())

    def test_leaf_only_and_sni_logged_with_warnings(self):
        near = issue_days(29, include_ca=False)
        srv = self.started(cert=near, sni_certs={"mail.other.test": full_chain()})
        e = self.loaded(srv)[0]
        self.assertEqual(e["chain"], "1", e["_line"])
        sni = [x for x in srv.events("certificate-loaded") if x.get("name") == "mail.other.test"]
        self.assertEqual([x["chain"] for x in sni], ["2"], srv.log_tail())
        warnings = [w for w in srv.events("certificate-warning") if w.get("name") == "default"]
        reasons = sorted(w["reason"] for w in warnings)
        self.assertEqual(len(reasons), 2, srv.log_tail())
        self.assertRegex(reasons[0], r"^certificate .* expires in 29 days")
        self.assertRegex(reasons[1], r"^the file holds only the leaf certificate")
        for w in warnings:
            self.assertIn("level=warning", w["_line"])
            self.assertEqual(w["file"], srv.cert_path)

    def test_certificate_for_another_name_logged(self):
        # what config check warns about, the start-up log says too
        srv = self.started(cert=full_chain(), sni_certs={"mail.other.test": full_chain()})
        sni = [w for w in srv.events("certificate-warning") if w.get("name") == "mail.other.test"]
        self.assertEqual([w["reason"] for w in sni],
                         ["the certificate does not name mail.other.test: clients and MTA-STS "
                          "senders that check the name will refuse it"], srv.log_tail())
        self.assertEqual([w for w in srv.events("certificate-warning")
                          if w.get("name") == "default"], [], srv.log_tail())

    def test_reload_with_broken_certificate(self):
        srv = self.started(cert=full_chain(), sni_certs={})
        old_subject = openssl_leaf(srv.cert_path)[0]
        mark = srv.log_mark()
        with open(srv.cert_path, "w") as f:
            f.write("garbage\n")
        srv.reload()
        reloaded = srv.wait_event("reloaded", since=mark)[0]
        self.assertIn("level=warning", reloaded["_line"])
        self.assertEqual(reloaded.get("certificates_kept"), "1", reloaded["_line"])
        self.assertEqual(len(srv.events("certificate-kept", mark)), 1, srv.log_tail())
        unchanged = srv.events("certificate-unchanged", mark)
        self.assertEqual([(u["name"], u["subject"]) for u in unchanged],
                         [("default", old_subject)], srv.log_tail())
        self.assertEqual(self.loaded(srv, mark), [], srv.log_tail())
        # Nothing after the failure reads like a load: no "loaded", no
        # plain reloaded at level info.
        tail = srv.log()[mark:]
        self.assertNotRegex(tail, r"event=certificate-loaded|level=info event=reloaded")
        # A good certificate again: loaded, and a plain reload.
        srv.install_cert(full_chain())
        mark = srv.log_mark()
        srv.reload()
        reloaded = srv.wait_event("reloaded", since=mark)[0]
        self.assertIn("level=info", reloaded["_line"])
        self.assertEqual(reloaded.get("certificates_kept"), "0", reloaded["_line"])
        self.assertEqual(len(self.loaded(srv, mark)), 1, srv.log_tail())
        self.assertEqual(srv.events("certificate-unchanged", mark), [])


if __name__ == "__main__":
    harness.main()
