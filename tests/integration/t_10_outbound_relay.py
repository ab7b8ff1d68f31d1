#!/usr/bin/python3
"""Outbound delivery, part 1: the test peers themselves (controls), relay
control (trusted_networks), and a plain MX delivery: envelope, message and
log line.

Addresses of this file: 127.10.0.0/16."""

import smtplib
import ssl
import sys
import warnings

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import outbound  # noqa: E402
from harness import make_message, token  # noqa: E402
from outbound import FakeMX, a, mx  # noqa: E402

NET = "127.10.0."


class ControlPeers(outbound.OutboundTestCase):
    """The fake peers behave as the other tests assume, checked with
    Python's own clients (no sealmail involved), so a failure elsewhere is
    sealmail's."""

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        cls.port = outbound.common_port([NET + "101", NET + "102", NET + "103", NET + "104",
                                         NET + "105", NET + "106"])
        cls.dns = cls.start_unbound(
            mx("ctl.test", (20, "mx2.ctl.test"), (10, "mx1.ctl.test")) +
            a("mx1.ctl.test", NET + "101") + a("mx2.ctl.test", NET + "102") +
            a("nomx.ctl.test", NET + "103") +
            [("nullmx.ctl.test", "MX", "0 .")])

    def test_unbound_answers(self):
        rcode, ans = self.dns.query("ctl.test", "MX")
        self.assertEqual(rcode, 0)
        self.assertEqual(sorted(d for t, d in ans if t == "MX"),
                         ["10 mx1.ctl.test.", "20 mx2.ctl.test."])
        self.assertEqual(self.dns.query("mx1.ctl.test", "A"), (0, [("A", NET + "101")]))
        self.assertEqual(self.dns.query("mx1.ctl.test", "AAAA"), (0, []))   # NODATA
        self.assertEqual(self.dns.query("nomx.ctl.test", "MX"), (0, []))    # NODATA
        self.assertEqual(self.dns.query("nullmx.ctl.test", "MX"), (0, [("MX", "0 .")]))
        self.assertEqual(self.dns.query("unknown.ctl.test", "A")[0], 3)     # NXDOMAIN
        self.assertEqual(self.dns.query("www.example.com", "A")[0], 3)      # nothing leaves

    def smtp(self, fake, name):
        s = smtplib.SMTP(fake.addr, fake.port, timeout=harness.TIMEOUT)
        s._host = name  # server_hostname for starttls()
        s.ehlo("client.test")
        return s

    def test_fake_mx_starttls_verified_and_recorded(self):
        f = self.fake(NET + "101", self.port, name="mx1.ctl.test")
        s = self.smtp(f, "mx1.ctl.test")
        self.assertTrue(s.has_extn("starttls"))
        self.assertTrue(s.has_extn("pipelining"))
        s.starttls(context=harness.client_context())
        s.ehlo("client.test")
        tok = token()
        body = b"a\r\n.\r\n..b\r\n"
        msg = make_message(tok, body=body)
        self.assertEqual(s.sendmail("x@sender.test", ["y@ctl.test"], msg), {})
        s.quit()
        [tx] = f.wait_message(tok)
        self.assertEqual(tx.sender, "x@sender.test")
        self.assertEqual(tx.rcpt_addresses(), ["y@ctl.test"])
        self.assertEqual(tx.tls, "TLSv1.3")
        self.assertEqual(tx.data, msg)
        self.assertIn(b"\r\n..\r\n...b\r\n.\r\n", tx.data_raw)
        cmds = f.commands()
        self.assertEqual([c.verb for c in cmds[:2]], ["EHLO", "STARTTLS"])
        self.assertIsNone(cmds[0].tls)
        self.assertEqual(cmds[2].verb, "EHLO")
        self.assertEqual(cmds[2].tls, "TLSv1.3")
        self.assertEqual(f.all_sessions()[0].sni, "mx1.ctl.test")
        self.check_fakes_healthy(f)

    def test_fake_mx_bad_certificates_fail_python_verification(self):
        other_ca = harness.TestCA()
        cases = [
            ("wrong name", harness.issue_cert(["mx.evil.test"]), "mx2.ctl.test"),
            ("expired", harness.issue_cert(["mx2.ctl.test"], expired=True), "mx2.ctl.test"),
            ("other CA", other_ca.issue(["mx2.ctl.test"]), "mx2.ctl.test"),
        ]
        for what, cert, name in cases:
            with self.subTest(what):
                f = FakeMX(NET + "102", self.port, name=name, cert=cert)
                try:
                    s = self.smtp(f, name)
                    with self.assertRaises(ssl.SSLCertVerificationError):
                        s.starttls(context=harness.client_context())
                    s.close()
                finally:
                    f.stop()

    def test_fake_mx_tls_versions(self):
        f12 = self.fake(NET + "103", self.port, name="t12.ctl.test",
                        tls_max=ssl.TLSVersion.TLSv1_2)
        s = self.smtp(f12, "t12.ctl.test")
        s.starttls(context=harness.client_context())
        self.assertEqual(s.sock.version(), "TLSv1.2")
        s.close()
        f11 = self.fake(NET + "104", self.port, name="t11.ctl.test",
                        tls_min=ssl.TLSVersion.TLSv1_1, tls_max=ssl.TLSVersion.TLSv1_1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old = harness.client_context(verify=False, minimum=ssl.TLSVersion.TLSv1_1,
                                         maximum=ssl.TLSVersion.TLSv1_1,
                                         ciphers="DEFAULT@SECLEVEL=0")
        s = self.smtp(f11, "t11.ctl.test")
        s.starttls(context=old)
        self.assertEqual(s.sock.version(), "TLSv1.1")
        s.close()
        s = self.smtp(f11, "t11.ctl.test")
        with self.assertRaises((ssl.SSLError, OSError)):
            s.starttls(context=harness.client_context(verify=False))
        s.close()

    def test_fake_mx_454_extra_lines_and_rcpt_failures(self):
        f = self.fake(NET + "105", self.port, name="q.ctl.test",
                      starttls_reply="454 4.7.0 TLS not available",
                      rcpt_reply="451 4.3.0 try later", rcpt_fail_times=1, pipelining=False)
        s = self.smtp(f, "q.ctl.test")
        self.assertFalse(s.has_extn("pipelining"))
        self.assertEqual(s.docmd("STARTTLS")[0], 454)
        s.mail("x@sender.test")
        self.assertEqual(s.rcpt("y@ctl.test")[0], 451)
        self.assertEqual(s.rcpt("y@ctl.test")[0], 250)
        s.quit()
        g = self.fake(NET + "106", self.port, name="inj.ctl.test",
                      starttls_extra=b"250 fake injected\r\n")
        with harness.Dialog(g.port, host=g.addr) as d:
            d.ehlo()
            r = d.cmd("STARTTLS")
            self.assertEqual(r.code, 220)
            # The injected line arrives with the 220, before any handshake.
            while b"250 fake injected\r\n" not in d.buf:
                d._fill()

    def test_smtp_sink_accepts_and_dumps(self):
        sink = outbound.SmtpSink(NET + "107", name="sink.ctl.test")
        self.addCleanup(sink.stop)
        tok = token()
        s = smtplib.SMTP(sink.addr, sink.port, timeout=harness.TIMEOUT)
        s.sendmail("x@sender.test", ["y@ctl.test"], make_message(tok, body=b".\r\n.x\r\n"))
        s.quit()
        [d] = harness.wait_for(lambda: sink.dumps_with(tok), what="smtp-sink dump")
        self.assertIn(b"X-Rcpt-Args: <y@ctl.test>", d)
        self.assertIn(b"\n.\n.x\n", d)


class RelayControl(outbound.OutboundTestCase):
    """Mail for a domain that is not local is relaying: only clients in
    trusted_networks may do it (554 5.7.1 otherwise)."""

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        cls.port = outbound.common_port([NET + "1", NET + "2"])
        cls.dns = cls.start_unbound(mx("remote.test", (10, "mx.remote.test")) +
                                    a("mx.remote.test", NET + "1"))
        cls.mx = cls.fake(NET + "1", cls.port, name="mx.remote.test")
        # 127.0.0.1 (where the tests connect from) is not trusted here.
        cls.closed = cls.outbound_class_server(cls.dns.resolver(), cls.port,
                                               trusted="192.0.2.0/24")
        cls.open = cls.outbound_class_server(cls.dns.resolver(), cls.port)

    def test_untrusted_client_cannot_relay(self):
        for starttls in (False, True):
            with self.closed.dialog() as d:
                d.ehlo()
                if starttls:
                    d.starttls()
                    d.ehlo()
                d.expect("MAIL FROM:<sender1@local.test>", 250)
                r = d.cmd("RCPT TO:<someone@remote.test>")
                self.assertEqual(r.code, 554, str(r))
                self.assertEqual(r.enhanced, "5.7.1", str(r))
                # Local recipients are still accepted in the same transaction.
                d.expect("RCPT TO:<bob@local.test>", 250)
                d.quit()
        self.assertFalse(any("sender1@local.test" in c.line for c in self.mx.commands()),
                         self.mx.describe())

    def test_untrusted_client_cannot_relay_even_from_remote_sender(self):
        with self.closed.dialog() as d:
            d.ehlo()
            d.expect("MAIL FROM:<alice@sender.test>", 250)
            r = d.cmd("RCPT TO:<someone@remote.test>")
            self.assertEqual((r.code, r.enhanced), (554, "5.7.1"), str(r))
            d.quit()

    def test_trusted_client_relays(self):
        tok = token()
        msg = make_message(tok, sender="sender2@local.test", to="someone@remote.test")
        qid = outbound.submit(self.open, "sender2@local.test", ["someone@remote.test"], msg)
        [tx] = self.mx.wait_message(tok, server=self.open)
        self.assertEqual(tx.sender, "sender2@local.test")
        self.assertEqual(tx.rcpt_addresses(), ["someone@remote.test"])
        # The message leaves as it was received, below sealmail's own Received:.
        self.assertTrue(tx.data.endswith(msg), tx.data[-300:])
        head = tx.data[:len(tx.data) - len(msg)]
        self.assertIn(b"Received: ", head)
        self.assertIn(qid.encode(), head)
        ev = outbound.wait_delivered(self.open, qid, "someone@remote.test")
        host, ip, port = outbound.relay_of(ev)
        self.assertEqual((host, ip, port), ("mx.remote.test", NET + "1", self.port), ev["_line"])
        self.assertEqual(ev.get("policy"), "may/default", ev["_line"])
        # The fake MX offers STARTTLS with a certificate from the test CA for
        # its name: at "may" it is used (and the name checked or not: either
        # way the session is encrypted).
        self.assertTrue(ev.get("tls", "").startswith("TLSv1.3/"), ev["_line"])
        self.assertEqual(tx.tls, "TLSv1.3")
        outbound.wait_queue_gone(self.open, qid)
        # A DSN would be logged before the message left the queue.
        self.assertEqual(outbound.events_for(self.open, "dsn", qid), [], "unexpected DSN")
        self.assertEqual(self.open.messages("sender2@local.test"), [], "unexpected DSN")
        self.check_fakes_healthy(self.mx)

    def test_trusted_client_mixed_local_and_remote(self):
        tok = token()
        msg = make_message(tok, sender="sender3@local.test", to="bob@local.test")
        qid = outbound.submit(self.open, "sender3@local.test",
                              ["bob@local.test", "other@remote.test"], msg)
        [tx] = self.mx.wait_message(tok, server=self.open)
        self.assertEqual(tx.rcpt_addresses(), ["other@remote.test"])
        harness.wait_for(lambda: self.open.messages_with(tok), what="local copy")
        outbound.wait_delivered(self.open, qid, "other@remote.test")
        outbound.wait_queue_gone(self.open, qid)


if __name__ == "__main__":
    harness.main()
