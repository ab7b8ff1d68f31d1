#!/usr/bin/python3
"""TLS: verified STARTTLS, protocol versions, ciphers, SNI, tls=required,
tls=none, implicit TLS, STARTTLS command injection and state reset."""

import socket
import ssl
import subprocess
import sys
import warnings

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import SENDER, make_message, split_delivered, token

warnings.filterwarnings("ignore", category=DeprecationWarning)

OLD_PROTOCOLS = (("tls1_1", ssl.TLSVersion.TLSv1_1), ("tls1", ssl.TLSVersion.TLSv1))


def s_client(args, port, timeout=20):
    """Runs openssl s_client against 127.0.0.1:PORT; returns (rc, output)."""
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port] + args
    p = subprocess.run(argv, input=b"QUIT\r\n", stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace")


def handshake_ok(output, version):
    return ("Protocol  : %s" % version) in output and "Cipher is (NONE)" not in output


class ControlOldTLS(harness.unittest.TestCase):
    """Checks that this machine's openssl/python clients CAN speak TLS 1.0/1.1
    with the flags used below, so the refusals in TLS tests are the server's.
    The control server is `openssl s_server` (not sealmail)."""

    def test_clients_can_speak_old_tls(self):
        cert = harness.default_cert()
        for flag, ver in OLD_PROTOCOLS:
            port = harness.free_port()
            srv = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port,
                                    "-cert", cert.cert, "-key", cert.key, "-" + flag,
                                    "-cipher", "DEFAULT@SECLEVEL=0", "-naccept", "2", "-quiet"],
                                   stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
            try:
                def up():
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=1).close()
                        return True
                    except OSError:
                        return False
                # s_server counts the probe as one of its -naccept 2 connections.
                harness.wait_for(up, what="openssl s_server")
                rc, out = s_client(["-" + flag, "-cipher", "DEFAULT@SECLEVEL=0"], port)
                self.assertTrue(handshake_ok(out, {"tls1": "TLSv1", "tls1_1": "TLSv1.1"}[flag]),
                                "control: openssl s_client -%s failed against s_server:\n%s"
                                % (flag, out))
            finally:
                srv.kill()
                srv.wait()


class ControlTestCA(harness.unittest.TestCase):
    """The harness CA: issued certificates verify, expired ones do not."""

    def test_issue_and_expired(self):
        good = harness.issue_cert(["good.local.test"])
        bad = harness.issue_cert(["old.local.test"], expired=True)
        ok = subprocess.run(["openssl", "verify", "-CAfile", harness.ca().cert, good.cert],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(ok.returncode, 0, ok.stdout)
        ko = subprocess.run(["openssl", "verify", "-CAfile", harness.ca().cert, bad.cert],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertNotEqual(ko.returncode, 0, ko.stdout)
        self.assertIn(b"expired", ko.stdout)


class TLS(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(listeners={"mx": "optional", "smtps": "implicit",
                                              "sub": "required", "plain": "none"})

    # -- STARTTLS basics --
    def test_ehlo_keywords_before_and_after_starttls(self):
        with self.srv.dialog("mx") as d:
            self.assertEqual(d.greeting.code, 220)
            kw = d.ehlo().keywords
            for k in ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES", "STARTTLS",
                      "HELP"):
                self.assertIn(k, kw)
            r = d.starttls()
            self.assertEqual(r.enhanced, "2.0.0", str(r))
            kw2 = d.ehlo().keywords
            self.assertNotIn("STARTTLS", kw2)
            for k in ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES"):
                self.assertIn(k, kw2)
            d.expect("STARTTLS", 503)
            d.expect("NOOP", 250)
            d.quit()

    def test_starttls_verified_tls13(self):
        s = harness.smtp_starttls(self.srv.port("mx"))
        self.assertEqual(s.sock.version(), "TLSv1.3")
        serial, cn, sans = harness.peer_cert_info(s.sock)
        self.assertEqual(serial, harness.default_cert().serial)
        self.assertIn(harness.HOSTNAME, sans)
        tok = token()
        self.assertEqual(s.sendmail(SENDER, ["bob@local.test"], make_message(tok)), {})
        s.quit()
        harness.wait_for(lambda: self.srv.messages_with(tok), what="delivery")

    def test_untrusted_ca_fails_verification(self):
        # Sanity check of the client side: a CA that did not sign the server
        # certificate makes the handshake fail, so "verified" above means it.
        other = harness.TestCA()
        ctx = harness.client_context(cafile=other.cert)
        with self.srv.dialog("mx") as d:
            d.ehlo()
            with self.assertRaises(ssl.SSLCertVerificationError):
                d.starttls(context=ctx)

    def test_tls12_ecdhe_aead(self):
        ctx = harness.client_context(maximum=ssl.TLSVersion.TLSv1_2)
        s = harness.smtp_starttls(self.srv.port("mx"), context=ctx)
        self.assertEqual(s.sock.version(), "TLSv1.2")
        cipher = s.sock.cipher()[0]
        # The server's preference: the first of its default list that fits
        # its ECDSA key (an ECDHE AEAD suite).
        self.assertEqual(cipher, "ECDHE-ECDSA-AES256-GCM-SHA384")
        tok = token()
        s.sendmail(SENDER, ["bob@local.test"], make_message(tok))
        s.quit()
        harness.wait_for(lambda: self.srv.messages_with(tok), what="delivery")
        [data] = self.srv.messages_with(tok)
        _, _, received, _ = split_delivered(data)
        self.assertIn("version=TLSv1.2", received)
        self.assertIn("cipher=%s" % cipher, received)

    def test_openssl_tls12_works(self):
        rc, out = s_client(["-starttls", "smtp", "-tls1_2", "-CAfile", harness.ca().cert,
                            "-servername", harness.HOSTNAME, "-verify_return_error"],
                           self.srv.port("mx"))
        self.assertTrue(handshake_ok(out, "TLSv1.2"), out)
        self.assertIn("Verify return code: 0 (ok)", out)

    # -- old protocols refused --
    def test_old_tls_refused_openssl_starttls(self):
        for flag, _ in OLD_PROTOCOLS:
            rc, out = s_client(["-starttls", "smtp", "-" + flag, "-cipher",
                                "DEFAULT@SECLEVEL=0"], self.srv.port("mx"))
            self.assertNotEqual(rc, 0, "-%s handshake succeeded:\n%s" % (flag, out))
            self.assertFalse(handshake_ok(out, {"tls1": "TLSv1", "tls1_1": "TLSv1.1"}[flag]),
                             out)

    def test_old_tls_refused_python_starttls(self):
        for _, ver in OLD_PROTOCOLS:
            ctx = harness.client_context(verify=False, minimum=ver, maximum=ver,
                                         ciphers="DEFAULT@SECLEVEL=0")
            with self.srv.dialog("mx") as d:
                d.ehlo()
                # The server's protocol_version alert, not a refusal of our own.
                with self.assertRaises(ssl.SSLError) as cm:
                    d.starttls(context=ctx)
                    # If the handshake "worked", prove it is usable (it must not be).
                    d.ehlo()
                self.assertEqual(cm.exception.reason, "TLSV1_ALERT_PROTOCOL_VERSION",
                                 cm.exception)

    def test_old_tls_refused_implicit(self):
        for flag, ver in OLD_PROTOCOLS:
            ctx = harness.client_context(verify=False, minimum=ver, maximum=ver,
                                         ciphers="DEFAULT@SECLEVEL=0")
            with self.assertRaises(ssl.SSLError) as cm:
                d = self.srv.dialog("smtps", context=ctx)
                d.close()
            self.assertEqual(cm.exception.reason, "TLSV1_ALERT_PROTOCOL_VERSION", cm.exception)
            rc, out = s_client(["-" + flag, "-cipher", "DEFAULT@SECLEVEL=0"],
                               self.srv.port("smtps"))
            self.assertNotEqual(rc, 0, out)

    # -- SNI --
    def test_sni_selects_certificate(self):
        for listener in ("mx", "smtps"):
            # The [tls mail.other.test] certificate, verified for that name.
            ctx = harness.client_context()
            with self.srv.dialog(listener, context=ctx,
                                 server_hostname=harness.OTHER_TLS_NAME) as d:
                if listener == "mx":
                    d.ehlo()
                    d.starttls(context=ctx, server_hostname=harness.OTHER_TLS_NAME)
                serial, cn, sans = harness.peer_cert_info(d.sock)
                self.assertEqual(serial, harness.other_cert().serial, listener)
                self.assertIn(harness.OTHER_TLS_NAME, sans)
                d.ehlo()
                d.quit()
            # Another name, or no SNI at all: the default certificate.
            for name in (harness.HOSTNAME, "unknown.example.test", None):
                ctx = harness.client_context(verify=False)
                with self.srv.dialog(listener, context=ctx, server_hostname=name) as d:
                    if listener == "mx":
                        d.ehlo()
                        d.starttls(context=ctx, server_hostname=name)
                    serial, cn, sans = harness.peer_cert_info(d.sock)
                    self.assertEqual(serial, harness.default_cert().serial,
                                     "%s with SNI %r" % (listener, name))
                    self.assertIn(harness.HOSTNAME, sans)
                    d.ehlo()
                    d.quit()

    def test_sni_with_openssl(self):
        rc, out = s_client(["-starttls", "smtp", "-servername", harness.OTHER_TLS_NAME,
                            "-CAfile", harness.ca().cert, "-verify_return_error",
                            "-verify_hostname", harness.OTHER_TLS_NAME],
                           self.srv.port("mx"))
        self.assertIn("Verify return code: 0 (ok)", out)
        self.assertRegex(out, r"subject=.*CN ?= ?%s" % harness.OTHER_TLS_NAME.replace(".", r"\."))

    # -- tls = required / none --
    def test_required_refuses_mail_before_starttls(self):
        with self.srv.dialog("sub") as d:
            self.assertIn("STARTTLS", d.ehlo().keywords)
            for line in ("MAIL FROM:<%s>" % SENDER, "RCPT TO:<bob@local.test>", "DATA"):
                r = d.expect(line, 530, "5.7.0")
                self.assertIn("Must issue a STARTTLS command first", r.text)
            d.expect("NOOP", 250)
            d.starttls()
            d.ehlo()
            tok = token()
            d.mail_transaction(SENDER, ["bob@local.test"], make_message(tok))
            d.quit()
        harness.wait_for(lambda: self.srv.messages_with(tok), what="delivery")

    def test_required_smtplib(self):
        s = harness.SMTP(self.srv.port("sub"))
        s.ehlo("client.test")
        code, _ = s.mail(SENDER)
        self.assertEqual(code, 530)
        s.close()

    def test_none_does_not_offer_starttls(self):
        with self.srv.dialog("plain") as d:
            self.assertNotIn("STARTTLS", d.ehlo().keywords)
            d.expect("STARTTLS", 502, "5.5.1")
            tok = token()
            d.mail_transaction(SENDER, ["bob@local.test"], make_message(tok))
            d.quit()
        harness.wait_for(lambda: self.srv.messages_with(tok), what="delivery")

    # -- implicit TLS --
    def test_implicit_tls_smtplib(self):
        s = harness.SMTP_SSL(self.srv.port("smtps"))
        code, _ = s.ehlo("client.test")
        self.assertEqual(code, 250)
        self.assertFalse(s.has_extn("starttls"))
        version, cipher = s.sock.version(), s.sock.cipher()[0]
        self.assertEqual(version, "TLSv1.3")
        tok = token()
        self.assertEqual(s.sendmail(SENDER, ["carol@local.test"], make_message(tok)), {})
        s.quit()
        harness.wait_for(lambda: self.srv.messages_with(tok), what="delivery")
        [data] = self.srv.messages_with(tok)
        _, _, received, _ = split_delivered(data)
        self.assertRegex(received, r"\bwith ESMTPS\b")
        self.assertIn("version=TLSv1.3", received)
        self.assertIn("cipher=%s" % cipher, received)

    def test_implicit_tls_refuses_plaintext(self):
        # A plaintext client on the implicit listener must not get an SMTP
        # greeting: the server takes its bytes for a broken handshake and
        # drops the connection (a server that never closes fails here).
        sock = socket.create_connection(("127.0.0.1", self.srv.port("smtps")),
                                        timeout=harness.TIMEOUT)
        try:
            sock.sendall(b"EHLO client.test\r\n")
            data = b""
            try:
                while True:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except ConnectionResetError:
                pass
            except socket.timeout:
                self.fail("the implicit TLS listener kept a plaintext client open: %r" % data)
            self.assertFalse(data.startswith(b"220"), data)
            self.assertNotIn(b"250", data)
        finally:
            sock.close()

    # -- STARTTLS injection and state reset --
    def test_plaintext_after_starttls_not_executed(self):
        tok = token()
        with self.srv.dialog("mx") as d:
            d.ehlo()
            # One write: STARTTLS plus injected commands (CVE-2011-0411 class).
            d.send(b"STARTTLS\r\nMAIL FROM:<evil@injected.test>\r\n"
                   b"RCPT TO:<bob@local.test>\r\n")
            r = d.read_reply()
            self.assertEqual(r.code, 220, str(r))
            self.assertEqual(d.buf, b"", "plaintext reply after the 220: %r" % d.buf)
            d.sock = harness.client_context().wrap_socket(d.sock,
                                                          server_hostname=harness.HOSTNAME)
            # The first reply inside TLS must answer our first command: had
            # the injected MAIL/RCPT run, their 250s would come first.
            r = d.cmd("HELP")
            self.assertEqual(r.code, 214, "injected commands answered: %s" % r)
            r = d.cmd("RCPT TO:<bob@local.test>")
            self.assertEqual(r.code, 503, "injected MAIL was executed: %s" % r)
            d.ehlo()
            r = d.cmd("RCPT TO:<bob@local.test>")
            self.assertEqual((r.code, r.enhanced), (503, "5.5.1"),
                             "injected MAIL was executed: %s" % r)
            d.expect("DATA", 503, "5.5.1")
            d.mail_transaction(SENDER, ["bob@local.test"], make_message(tok))
            d.quit()
        harness.wait_for(lambda: self.srv.messages_with(tok), what="delivery")
        self.srv.wait_queue_empty()
        self.assertEqual(self.srv.messages_with("evil@injected.test"), [])

    def test_starttls_forgets_mail(self):
        # MAIL before STARTTLS, then RCPT straight after the handshake (an
        # EHLO would reset the transaction by itself and hide the bug).
        with self.srv.dialog("mx") as d:
            d.ehlo()
            d.expect("MAIL FROM:<%s>" % SENDER, 250)
            d.starttls()
            r = d.cmd("RCPT TO:<bob@local.test>")
            self.assertEqual((r.code, r.enhanced), (503, "5.5.1"),
                             "MAIL from before STARTTLS survived: %s" % r)
            d.ehlo()
            r = d.cmd("RCPT TO:<bob@local.test>")
            self.assertEqual((r.code, r.enhanced), (503, "5.5.1"), str(r))
            tok = token()
            d.mail_transaction(SENDER, ["bob@local.test"], make_message(tok))
            d.quit()
        harness.wait_for(lambda: self.srv.messages_with(tok), what="delivery")

    def test_starttls_requires_new_ehlo(self):
        with self.srv.dialog("mx") as d:
            d.ehlo()
            d.starttls()
            r = d.cmd("MAIL FROM:<%s>" % SENDER)
            self.assertEqual(r.code, 503, "MAIL accepted without EHLO after STARTTLS: %s" % r)
            d.ehlo()
            d.expect("MAIL FROM:<%s>" % SENDER, 250)
            d.expect("RCPT TO:<bob@local.test>", 250)

    def test_help_after_starttls_does_not_offer_it(self):
        with self.srv.dialog("mx") as d:
            d.ehlo()
            d.starttls()
            d.ehlo()
            r = d.expect("HELP", 214, "2.0.0")
            self.assertNotIn("STARTTLS", r.text)

    def test_second_starttls_refused_smtplib(self):
        s = harness.smtp_starttls(self.srv.port("mx"))
        self.assertFalse(s.has_extn("starttls"))
        code, _ = s.docmd("STARTTLS")
        self.assertEqual(code, 503)
        code, _ = s.noop()
        self.assertEqual(code, 250)
        s.quit()


class TLSClose(harness.ServerTestCase):
    """sealmail ends TLS with a close_notify alert after 221 (RFC 8446 6.1;
    without it a peer such as Exim logs a TLS error, and OpenSSL drops the
    session from its cache), so a TLS 1.2 session-ID resumption works."""

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(listeners={"mx": "optional", "smtps": "implicit"},
                                   dispatchers=1)

    def quit_and_read_to_end(self, sslsock):
        """Sends QUIT, reads the 221 and then to the end of the stream: b""
        after a close_notify; an EOF without one raises SSLEOFError."""
        sslsock.sendall(b"QUIT\r\n")
        data = b""
        while True:
            chunk = sslsock.recv(4096)
            if not chunk:
                break
            data += chunk
        self.assertTrue(data.startswith(b"221 "), data)

    @staticmethod
    def strict(ctx):
        """CTX made to report an EOF without close_notify (Python sets
        OP_IGNORE_UNEXPECTED_EOF by default, which would hide it)."""
        ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
        return ctx

    def implicit(self, ctx, session=None):
        raw = socket.create_connection(("127.0.0.1", self.srv.port("smtps")),
                                       timeout=harness.TIMEOUT)
        # suppress_ragged_eofs=False: an EOF without close_notify is an error
        s = ctx.wrap_socket(raw, server_hostname=harness.HOSTNAME, session=session,
                            suppress_ragged_eofs=False)
        banner = s.recv(4096)
        self.assertTrue(banner.startswith(b"220 "), banner)
        return s

    def test_close_notify_after_quit_implicit(self):
        s = self.implicit(self.strict(harness.client_context()))
        self.quit_and_read_to_end(s)  # raises ssl.SSLEOFError without close_notify
        s.close()

    def test_close_notify_after_quit_starttls(self):
        raw = socket.create_connection(("127.0.0.1", self.srv.port("mx")),
                                       timeout=harness.TIMEOUT)
        f = raw.makefile("rb")
        self.assertTrue(f.readline().startswith(b"220 "))
        raw.sendall(b"EHLO client.test\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        raw.sendall(b"STARTTLS\r\n")
        self.assertTrue(f.readline().startswith(b"220 "))
        s = self.strict(harness.client_context()).wrap_socket(
            raw, server_hostname=harness.HOSTNAME, suppress_ragged_eofs=False)
        self.quit_and_read_to_end(s)
        s.close()

    def test_tls12_session_id_resumption(self):
        ctx = self.strict(harness.client_context(maximum=ssl.TLSVersion.TLSv1_2))
        ctx.options |= ssl.OP_NO_TICKET  # session IDs, not tickets
        s = self.implicit(ctx)
        self.assertFalse(s.session_reused)
        session = s.session
        self.quit_and_read_to_end(s)
        s.close()
        s = self.implicit(ctx, session=session)
        self.assertTrue(s.session_reused, "TLS 1.2 session was not resumed")
        self.quit_and_read_to_end(s)
        s.close()


class KeysWhereTLSHappens(harness.ServerTestCase):
    """The private key is read after the queue and lookup roles are forked, so
    they never hold it: each role reports the keys it holds when it starts
    (event=role-keys). The dispatcher's report shows the count is real: it
    inherits the key (inherited=1) and wipes its copy once its TLS contexts
    are made (private_keys=0). Loading the keys before the forks again makes
    the queue and lookup report 1, and this test fail."""

    def test_queue_and_lookup_hold_no_key(self):
        srv = self.server_for(listeners={"mx": "optional"})
        srv.wait_log(r"role=dispatcher .*event=role-keys ")
        seen = {}
        for e in srv.events("role-keys"):
            seen.setdefault(e["role"], []).append(e)
        self.assertEqual([e["private_keys"] for e in seen.get("queue", [])], ["0"], seen)
        self.assertEqual([e["private_keys"] for e in seen.get("lookup", [])], ["0"], seen)
        self.assertTrue(seen.get("dispatcher"), seen)
        for e in seen["dispatcher"]:
            self.assertGreaterEqual(int(e["inherited"]), 1, e["_line"])
            self.assertEqual(e["private_keys"], "0", e["_line"])
        # and TLS still works with the key the dispatcher wiped
        s = harness.smtp_starttls(srv.port("mx"))
        self.assertEqual(s.noop()[0], 250)
        s.quit()


if __name__ == "__main__":
    harness.main()
