#!/usr/bin/python3
"""SIGHUP reload: new certificates are picked up by new connections, sessions
opened before the reload keep working, and a broken certificate is refused
with the old one kept in service."""

import ssl
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import SENDER, make_message, token

# A certificate that cannot be loaded at a reload: the server logs that it
# keeps the one in service (src/lib/tls.c).
RELOAD_FAIL_RE = r"event=certificate-kept name=default reason="


DISPATCHERS = 2  # harness.Server's default


def reload_retiring_old(srv):
    """SIGHUP, then waits until each dispatcher of the old generation has
    stopped accepting (event=retiring): until then a new connection may
    still go to one of them, and get the old certificate, even after
    another connection got the new one from the new generation."""
    mark = srv.log_mark()
    srv.reload()
    harness.wait_for(lambda: len(srv.events("retiring", since=mark)) >= DISPATCHERS,
                     what="every dispatcher of the old generation retiring")


class Reload(harness.ServerTestCase):

    def new_server(self):
        # Each test gets its own certificate so serials are unambiguous.
        first = harness.issue_cert([harness.HOSTNAME], ips=["127.0.0.1"],
                                   cn="%s first" % harness.HOSTNAME, include_ca=True)
        srv = self.server_for(listeners={"mx": "optional", "smtps": "implicit"}, cert=first)
        # A full TLS session on each listener before any SIGHUP: the server is
        # serving, not merely listening (see test_sighup_as_soon_as_listening).
        for listener in ("mx", "smtps"):
            self.assertEqual(self.serial_seen(srv, listener), (first.serial, first.cn))
        return srv, first

    def serial_seen(self, srv, listener):
        ctx = harness.client_context()
        with srv.dialog(listener, context=ctx) as d:
            if listener == "mx":
                d.ehlo()
                d.starttls(context=ctx)
            serial, cn, sans = harness.peer_cert_info(d.sock)
            d.ehlo()
            d.quit()
        return serial, cn

    def test_reload_new_certificate_and_open_session_survives(self):
        srv, first = self.new_server()

        # Sessions opened before the reload: one mid-transaction after
        # STARTTLS, one on the implicit listener, one still in plaintext.
        tok_a, tok_b, tok_c = token(), token(), token()
        a = srv.dialog("mx")
        self.addCleanup(a.close)
        a.ehlo()
        a.starttls()
        a.ehlo()
        a.expect("MAIL FROM:<%s>" % SENDER, 250)
        b = srv.dialog("smtps")
        self.addCleanup(b.close)
        b.ehlo()
        c = srv.dialog("mx")
        self.addCleanup(c.close)
        c.ehlo()

        second = harness.issue_cert([harness.HOSTNAME], ips=["127.0.0.1"],
                                    cn="%s second" % harness.HOSTNAME, include_ca=True)
        self.assertNotEqual(first.serial, second.serial)
        srv.install_cert(second)
        reload_retiring_old(srv)
        for listener in ("mx", "smtps"):
            harness.wait_for(lambda: self.serial_seen(srv, listener)[0] == second.serial,
                             what="the new certificate on %s" % listener)
            self.assertEqual(self.serial_seen(srv, listener), (second.serial, second.cn))
        self.assertTrue(srv.running(), srv.log_tail())

        # The old sessions go on.
        self.assertEqual(harness.peer_cert_info(a.sock)[0], first.serial)
        a.expect("RCPT TO:<bob@local.test>", 250)
        a.expect("DATA", 354)
        a.send(harness.dot_stuff(make_message(tok_a)) + b".\r\n")
        self.assertEqual(a.read_reply().code, 250)
        a.quit()
        b.mail_transaction(SENDER, ["carol@local.test"], make_message(tok_b))
        b.quit()
        # The plaintext session opened before the reload can still upgrade and
        # deliver. It belongs to a dispatcher of the old generation, which
        # finishes its sessions with the certificate it started with.
        c.starttls()
        self.assertEqual(harness.peer_cert_info(c.sock)[0], first.serial)
        c.ehlo()
        c.mail_transaction(SENDER, ["dave@local.test"], make_message(tok_c))
        c.quit()
        for tok in (tok_a, tok_b, tok_c):
            harness.wait_for(lambda: srv.messages_with(tok), what="delivery of %s" % tok)

    def test_reload_sni_certificate(self):
        srv, first = self.new_server()
        new_other = harness.issue_cert([harness.OTHER_TLS_NAME],
                                       cn="%s renewed" % harness.OTHER_TLS_NAME)
        cp, kp = srv.sni[harness.OTHER_TLS_NAME]
        for src, dst in ((new_other.cert, cp), (new_other.key, kp)):
            with open(src, "rb") as f:
                data = f.read()
            with open(dst + ".tmp", "wb") as f:
                f.write(data)
            harness.os.rename(dst + ".tmp", dst)
        srv.reload()

        def other_serial():
            ctx = harness.client_context()
            with srv.dialog("smtps", context=ctx, server_hostname=harness.OTHER_TLS_NAME) as d:
                s = harness.peer_cert_info(d.sock)[0]
                d.quit()
            return s
        harness.wait_for(lambda: other_serial() == new_other.serial,
                         what="renewed SNI certificate")
        self.assertEqual(self.serial_seen(srv, "smtps")[0], first.serial)

    def broken_reload(self, breaker):
        srv, first = self.new_server()
        mark = srv.log_mark()
        breaker(srv)
        srv.reload()
        line = srv.wait_log(RELOAD_FAIL_RE, since=mark)
        self.assertTrue(srv.running(), "sealmail exited after a failed reload:\n%s"
                        % srv.log_tail())
        # New connections still get the old, working certificate.
        for listener in ("mx", "smtps"):
            self.assertEqual(self.serial_seen(srv, listener), (first.serial, first.cn),
                             "after failed reload (%s)" % line)
        tok = token()
        s = harness.smtp_starttls(srv.port("mx"))
        self.assertEqual(s.sendmail(SENDER, ["bob@local.test"], make_message(tok)), {})
        s.quit()
        harness.wait_for(lambda: srv.messages_with(tok), what="delivery after failed reload")
        return srv

    def test_reload_garbage_certificate_keeps_old(self):
        def breaker(srv):
            with open(srv.cert_path, "w") as f:
                f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n"
                        "-----END CERTIFICATE-----\n")
        self.broken_reload(breaker)

    def test_reload_mismatched_key_keeps_old(self):
        def breaker(srv):
            other = harness.issue_cert([harness.HOSTNAME], cn="mismatch")
            with open(other.cert, "rb") as f:
                data = f.read()
            with open(srv.cert_path, "wb") as f:
                f.write(data)       # new certificate, old key: they do not match
        self.broken_reload(breaker)

    def test_reload_missing_key_then_fixed(self):
        srv, first = self.new_server()
        mark = srv.log_mark()
        harness.os.unlink(srv.key_path)
        srv.reload()
        srv.wait_log(RELOAD_FAIL_RE, since=mark)
        self.assertEqual(self.serial_seen(srv, "mx")[0], first.serial)
        # Fixing the files and reloading again works.
        third = harness.issue_cert([harness.HOSTNAME], ips=["127.0.0.1"], cn="third")
        srv.install_cert(third)
        srv.reload()
        harness.wait_for(lambda: self.serial_seen(srv, "mx")[0] == third.serial,
                         what="certificate after the fixed reload")

    def test_two_reloads_then_sigterm(self):
        # Signals keep working after a reload: a second SIGHUP is applied and
        # SIGTERM still stops the server.
        srv, first = self.new_server()
        for n in (2, 3):
            cert = harness.issue_cert([harness.HOSTNAME], ips=["127.0.0.1"],
                                      cn="%s reload %d" % (harness.HOSTNAME, n))
            srv.install_cert(cert)
            srv.reload()
            harness.wait_for(lambda: self.serial_seen(srv, "mx")[0] == cert.serial,
                             what="certificate of reload %d" % (n - 1))
        rc = srv.stop()
        self.assertFalse(srv.running())
        self.assertEqual(rc, 0, srv.log_tail())

    def test_sighup_as_soon_as_listening(self):
        # Once a port is listening, SIGHUP must not kill the daemon (signal
        # handling must be in place, or the signals blocked, before listen()).
        srv = harness.Server(listeners={"mx": "optional"}, start=False)
        self.addCleanup(srv.close)
        srv.start(wait=False)
        port = srv.port("mx")
        deadline = harness.time.monotonic() + harness.TIMEOUT
        while True:     # no sleep: the point is to signal as early as possible
            try:
                harness.socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                pass
            self.assertIsNone(srv.proc.poll(), "sealmail exited:\n%s" % srv.log_tail())
            self.assertLess(harness.time.monotonic(), deadline, "never listened")
        srv.reload()
        # It must still serve (and still be the same process).
        with srv.dialog() as d:
            d.ehlo()
            d.quit()
        self.assertIsNone(srv.proc.poll(), "sealmail died after an early SIGHUP (rc=%s):\n%s"
                          % (srv.proc.returncode, srv.log_tail()))

    def test_verification_against_new_cert_fails_with_other_ca(self):
        # The reloaded certificate is really served and verified: a client
        # trusting only another CA rejects it.
        srv, first = self.new_server()
        other_ca = harness.TestCA()
        foreign = other_ca.issue([harness.HOSTNAME], ips=["127.0.0.1"], cn="foreign")
        srv.install_cert(foreign)
        reload_retiring_old(srv)
        ctx_other = harness.client_context(cafile=other_ca.cert)

        def foreign_ok():
            try:
                with srv.dialog("smtps", context=ctx_other) as d:
                    d.quit()
                return True
            except ssl.SSLCertVerificationError:
                return False
        harness.wait_for(foreign_ok, what="certificate from the other CA")
        with self.assertRaises(ssl.SSLCertVerificationError):
            srv.dialog("smtps", context=harness.client_context())


if __name__ == "__main__":
    harness.main()
